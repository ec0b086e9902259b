//! Hand-computed cases for each lot method (the arithmetic is in the comments).

use super::*;
use rust_decimal_macros::dec;

/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200_000;

fn day(n: i64) -> i64 {
    T0 + n * DAY_MS
}

fn trade(
    n: i64,
    side: TradeSide,
    base: &str,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal,
    fee_asset: &str,
) -> Movement {
    Movement {
        time_ms: day(n),
        reference: format!("fill-{base}-{n}"),
        kind: MovementKind::Trade(Trade {
            base: base.into(),
            quote: "USDT".into(),
            side,
            quantity,
            price,
            fee,
            fee_asset: fee_asset.into(),
            fee_value: None,
            fee_from_bot: false,
        }),
    }
}

fn buy(n: i64, base: &str, q: Decimal, p: Decimal) -> Movement {
    trade(n, TradeSide::Buy, base, q, p, Decimal::ZERO, "USDT")
}

fn sell(n: i64, base: &str, q: Decimal, p: Decimal) -> Movement {
    trade(n, TradeSide::Sell, base, q, p, Decimal::ZERO, "USDT")
}

/// A trade paying `fee` of BNB worth `value`, from the bot's own BNB.
fn with_bnb_fee(mut m: Movement, fee: Decimal, value: Option<Decimal>, from_bot: bool) -> Movement {
    if let MovementKind::Trade(t) = &mut m.kind {
        t.fee = fee;
        t.fee_asset = "BNB".into();
        t.fee_value = value;
        t.fee_from_bot = from_bot;
    }
    m
}

fn deposit(n: i64, asset: &str, q: Decimal, unit: Decimal, source: BasisSource) -> Movement {
    Movement {
        time_ms: day(n),
        reference: format!("flow-{n}"),
        kind: MovementKind::Deposit {
            asset: asset.into(),
            quantity: q,
            unit_basis: unit,
            source,
        },
    }
}

fn release(n: i64, asset: &str, q: Decimal) -> Movement {
    Movement {
        time_ms: day(n),
        reference: "stop".into(),
        kind: MovementKind::TransferOut {
            asset: asset.into(),
            quantity: q,
            kind: TransferKind::Release,
        },
    }
}

fn run(method: Method, ms: &[Movement]) -> Realized {
    realize("USDT", ms, Options::new(method, 365).unwrap())
}

/// (quantity, cost, proceeds, held days, term) of each lot a disposal consumed.
fn lots(d: &Disposal) -> Vec<(Decimal, Decimal, Decimal, i64, Term)> {
    d.lots
        .iter()
        .map(|l| (l.quantity, l.cost, l.proceeds, l.held_days, l.term))
        .collect()
}

/// Three BTC lots: 1 @100 (day 0), 1 @300 (day 10), 1 @200 (day 20); sell 1.5 @400 on day 370
/// (2025-01-05: the first lot is long-term, the others short) and 1 @500 on day 740 (2026).
fn three_lots() -> Vec<Movement> {
    vec![
        buy(0, "BTC", dec!(1), dec!(100)),
        buy(10, "BTC", dec!(1), dec!(300)),
        buy(20, "BTC", dec!(1), dec!(200)),
        sell(370, "BTC", dec!(1.5), dec!(400)),
        sell(740, "BTC", dec!(1), dec!(500)),
    ]
}

#[test]
fn fifo_consumes_the_oldest_lots_first_across_partial_sells() {
    let r = run(Method::Fifo, &three_lots());
    let [a, b] = &r.disposals[..] else {
        panic!("two disposals")
    };
    // 1 of lot 1 (cost 100, held 370 d: long) + 0.5 of lot 2 (cost 150, held 360 d: short).
    assert_eq!(
        lots(a),
        vec![
            (dec!(1), dec!(100), dec!(400), 370, Term::Long),
            (dec!(0.5), dec!(150), dec!(200), 360, Term::Short),
        ]
    );
    assert_eq!(
        (a.proceeds, a.cost, a.gain),
        (dec!(600), dec!(250), dec!(350))
    );
    assert_eq!(
        (a.term, a.held_days_min, a.held_days_max),
        (Term::Mixed, 360, 370)
    );
    // The other 0.5 of lot 2 (cost 150) + 0.5 of lot 3 (cost 100): cost 250 for 500.
    assert_eq!(
        lots(b),
        vec![
            (dec!(0.5), dec!(150), dec!(250), 730, Term::Long),
            (dec!(0.5), dec!(100), dec!(250), 720, Term::Long),
        ]
    );
    assert_eq!((b.cost, b.gain, b.year), (dec!(250), dec!(250), 2026));
    assert_eq!(
        r.holdings,
        vec![Holding {
            asset: "BTC".into(),
            quantity: dec!(0.5),
            cost: dec!(100)
        }]
    );
    let t2025 = r.totals(2025);
    assert_eq!(t2025[0].asset, "BTC");
    assert_eq!(
        t2025[0].long_term,
        Amounts {
            proceeds: dec!(400),
            cost: dec!(100),
            gain: dec!(300)
        }
    );
    assert_eq!(
        t2025[0].short_term,
        Amounts {
            proceeds: dec!(200),
            cost: dec!(150),
            gain: dec!(50)
        }
    );
    assert_eq!(t2025[1].asset, "*");
    assert_eq!(t2025[1].total.gain, dec!(350));
    assert_eq!(r.totals(2026)[0].long_term.gain, dec!(250));
    assert!(r.totals(2024).is_empty(), "a year without disposals");
}

#[test]
fn lifo_consumes_the_newest_lots_first() {
    let r = run(Method::Lifo, &three_lots());
    // Lot 3 (1 @200, 350 d) + 0.5 of lot 2 (150, 360 d): cost 350, all short.
    assert_eq!(
        lots(&r.disposals[0]),
        vec![
            (dec!(1), dec!(200), dec!(400), 350, Term::Short),
            (dec!(0.5), dec!(150), dec!(200), 360, Term::Short),
        ]
    );
    assert_eq!(r.disposals[0].gain, dec!(250));
    assert_eq!(r.disposals[0].term, Term::Short);
    // Left: 0.5 of lot 2 (150) and lot 1 (100). LIFO: lot 2's 0.5, then 0.5 of lot 1 (50).
    assert_eq!(
        lots(&r.disposals[1]),
        vec![
            (dec!(0.5), dec!(150), dec!(250), 730, Term::Long),
            (dec!(0.5), dec!(50), dec!(250), 740, Term::Long),
        ]
    );
    assert_eq!(r.disposals[1].gain, dec!(300));
    assert_eq!(r.holdings[0].cost, dec!(50));
}

#[test]
fn hifo_consumes_the_highest_unit_cost_first() {
    let r = run(Method::Hifo, &three_lots());
    // Lot 2 (1 @300) + 0.5 of lot 3 (@200: 100): cost 400.
    assert_eq!(
        lots(&r.disposals[0]),
        vec![
            (dec!(1), dec!(300), dec!(400), 360, Term::Short),
            (dec!(0.5), dec!(100), dec!(200), 350, Term::Short),
        ]
    );
    assert_eq!(r.disposals[0].gain, dec!(200));
    // Left: lot 1 (1 @100) and 0.5 of lot 3 (@200). The @200 half, then 0.5 @100.
    assert_eq!(
        lots(&r.disposals[1]),
        vec![
            (dec!(0.5), dec!(100), dec!(250), 720, Term::Long),
            (dec!(0.5), dec!(50), dec!(250), 740, Term::Long),
        ]
    );
    assert_eq!(r.disposals[1].gain, dec!(350));
}

#[test]
fn average_cost_spreads_the_pool_and_dates_lots_oldest_first() {
    let r = run(Method::Average, &three_lots());
    // Pool: 3 BTC for 600, 200 a unit. 1.5 BTC costs 300; the dates are lot 1's and lot 2's.
    assert_eq!(
        lots(&r.disposals[0]),
        vec![
            (dec!(1), dec!(200), dec!(400), 370, Term::Long),
            (dec!(0.5), dec!(100), dec!(200), 360, Term::Short),
        ]
    );
    assert_eq!(r.disposals[0].gain, dec!(300));
    // 1.5 left for 300: 1 BTC costs 200.
    assert_eq!(r.disposals[1].cost, dec!(200));
    assert_eq!(r.disposals[1].gain, dec!(300));
    assert_eq!(r.holdings[0].cost, dec!(100));
}

#[test]
fn average_cost_is_re_spread_after_each_buy() {
    // 1 @100, sell 0.5 (cost 50), buy 1 @250: pool 1.5 for 300, 200 a unit; sell 1 → 200.
    let ms = vec![
        buy(0, "ETH", dec!(1), dec!(100)),
        sell(1, "ETH", dec!(0.5), dec!(120)),
        buy(2, "ETH", dec!(1), dec!(250)),
        sell(3, "ETH", dec!(1), dec!(300)),
    ];
    let r = run(Method::Average, &ms);
    assert_eq!(r.disposals[0].cost, dec!(50));
    assert_eq!(r.disposals[1].cost, dec!(200));
    assert_eq!(r.holdings[0].cost, dec!(100));
}

#[test]
fn fees_in_the_received_asset_the_quote_and_bnb() {
    let ms = vec![
        // 1.001 BNB @300, fee 0.001 BNB: a lot of 1 BNB costing 300.3.
        trade(
            0,
            TradeSide::Buy,
            "BNB",
            dec!(1.001),
            dec!(300),
            dec!(0.001),
            "BNB",
        ),
        // 0.1 BTC @40000 with 0.01 BNB worth 3.5: a BNB disposal (0.01 costing 3.003, gain
        // 0.497), and a BTC lot costing 4000 + 3.5.
        with_bnb_fee(
            buy(30, "BTC", dec!(0.1), dec!(40000)),
            dec!(0.01),
            Some(dec!(3.5)),
            true,
        ),
        // 0.05 BTC @50000 with 0.005 BNB worth 2: BNB disposal (cost 1.5015, gain 0.4985);
        // BTC: proceeds 2500 - 2 = 2498, cost half of 4003.5 = 2001.75, gain 496.25.
        with_bnb_fee(
            sell(60, "BTC", dec!(0.05), dec!(50000)),
            dec!(0.005),
            Some(dec!(2)),
            true,
        ),
        // 0.05 BTC @50000, fee 2.5 USDT: proceeds 2497.5, cost 2001.75, gain 495.75.
        trade(
            61,
            TradeSide::Sell,
            "BTC",
            dec!(0.05),
            dec!(50000),
            dec!(2.5),
            "USDT",
        ),
        // 1 ETH @2000, fee 2 USDT: a lot costing 2002.
        trade(
            62,
            TradeSide::Buy,
            "ETH",
            dec!(1),
            dec!(2000),
            dec!(2),
            "USDT",
        ),
        // 0.5 ETH @2100 with a fee of 0.0005 ETH: 0.5005 ETH disposed of (cost 1002.001) for 1050.
        trade(
            63,
            TradeSide::Sell,
            "ETH",
            dec!(0.5),
            dec!(2100),
            dec!(0.0005),
            "ETH",
        ),
    ];
    let r = run(Method::Fifo, &ms);
    let got: Vec<_> = r
        .disposals
        .iter()
        .map(|d| {
            (
                d.kind,
                d.asset.as_str(),
                d.quantity,
                d.proceeds,
                d.cost,
                d.gain,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                DisposalKind::Fee,
                "BNB",
                dec!(0.01),
                dec!(3.5),
                dec!(3.003),
                dec!(0.497)
            ),
            (
                DisposalKind::Fee,
                "BNB",
                dec!(0.005),
                dec!(2),
                dec!(1.5015),
                dec!(0.4985)
            ),
            (
                DisposalKind::Sell,
                "BTC",
                dec!(0.05),
                dec!(2498),
                dec!(2001.75),
                dec!(496.25)
            ),
            (
                DisposalKind::Sell,
                "BTC",
                dec!(0.05),
                dec!(2497.5),
                dec!(2001.75),
                dec!(495.75)
            ),
            (
                DisposalKind::Sell,
                "ETH",
                dec!(0.5005),
                dec!(1050),
                dec!(1002.001),
                dec!(47.999)
            ),
        ]
    );
    assert!(r.disposals.iter().all(|d| d.flags.is_empty()));
    // BNB left: 1 - 0.015 = 0.985 costing 300.3 - 4.5045; ETH: 0.4995 costing 999.999.
    let held: Vec<_> = r
        .holdings
        .iter()
        .map(|h| (h.asset.as_str(), h.quantity, h.cost))
        .collect();
    assert_eq!(
        held,
        vec![
            ("BNB", dec!(0.985), dec!(295.7955)),
            ("ETH", dec!(0.4995), dec!(999.999))
        ]
    );
    let t = r.totals(2024);
    let bnb = t.iter().find(|t| t.asset == "BNB").unwrap();
    assert_eq!((bnb.disposals, bnb.short_term.gain), (2, dec!(0.9955)));
}

#[test]
fn a_bnb_fee_the_bot_did_not_hold_or_could_not_price_is_flagged() {
    let ms = vec![
        buy(0, "BTC", dec!(1), dec!(100)),
        // Paid from the account outside the bot: no BNB disposal; still a cost of the sell.
        with_bnb_fee(
            sell(1, "BTC", dec!(0.5), dec!(200)),
            dec!(0.01),
            Some(dec!(3)),
            false,
        ),
        // Held but unpriced: a BNB disposal for 0 (no lots: zero basis), flagged.
        with_bnb_fee(sell(2, "BTC", dec!(0.5), dec!(200)), dec!(0.01), None, true),
    ];
    let r = run(Method::Fifo, &ms);
    assert_eq!(r.disposals.len(), 3);
    assert_eq!(r.disposals[0].asset, "BTC");
    assert_eq!(r.disposals[0].proceeds, dec!(97));
    assert_eq!(r.disposals[0].flags, vec![Flag::FeeOutsideBot]);
    assert_eq!(r.disposals[1].asset, "BNB");
    assert_eq!(
        r.disposals[1].flags,
        vec![Flag::UnpricedFee, Flag::MissingLots]
    );
    assert_eq!(r.disposals[2].proceeds, dec!(100));
    assert_eq!(r.disposals[2].flags, vec![Flag::UnpricedFee]);
}

#[test]
fn coins_brought_in_with_and_without_a_basis() {
    let ms = vec![
        deposit(0, "BTC", dec!(1), dec!(30000), BasisSource::Given),
        deposit(100, "BTC", dec!(1), dec!(40000), BasisSource::Market),
        deposit(100, "USDT", dec!(500), dec!(1), BasisSource::Market),
        sell(200, "BTC", dec!(1.5), dec!(50000)),
    ];
    // FIFO: the given lot (30000) + half the market-priced one (20000): gain 25000, flagged.
    let f = run(Method::Fifo, &ms);
    let d = &f.disposals[0];
    assert_eq!((d.cost, d.gain), (dec!(50000), dec!(25000)));
    assert_eq!(d.lots[0].basis, BasisSource::Given);
    assert_eq!(d.lots[1].basis, BasisSource::Market);
    assert_eq!(d.flags, vec![Flag::BasisFromMarket]);
    // LIFO: the market-priced lot (40000) + half the given one (15000): gain 20000.
    let l = run(Method::Lifo, &ms);
    assert_eq!(l.disposals[0].gain, dec!(20000));
    // HIFO takes the 40000 lot first as well; average: 1.5 × 35000 = 52500.
    assert_eq!(run(Method::Hifo, &ms).disposals[0].cost, dec!(55000));
    assert_eq!(run(Method::Average, &ms).disposals[0].cost, dec!(52500));
    // Only the given lot consumed: no flag.
    let only_given = run(
        Method::Fifo,
        &[
            ms[0].clone(),
            ms[1].clone(),
            sell(200, "BTC", dec!(1), dec!(1)),
        ],
    );
    assert!(only_given.disposals[0].flags.is_empty());
    // The quote carries no lots.
    assert!(f.holdings.iter().all(|h| h.asset == "BTC"));
}

#[test]
fn a_stop_that_keeps_the_coins_moves_lots_out_with_their_basis() {
    let ms = vec![
        buy(0, "BTC", dec!(1), dec!(100)),
        buy(10, "BTC", dec!(1), dec!(200)),
        sell(20, "BTC", dec!(0.5), dec!(300)),
        release(30, "BTC", dec!(1.5)),
        release(30, "USDT", dec!(150)),
    ];
    for (method, sold_cost, released) in [
        (Method::Fifo, dec!(50), dec!(250)),
        (Method::Lifo, dec!(100), dec!(200)),
        (Method::Hifo, dec!(100), dec!(200)),
        (Method::Average, dec!(75), dec!(225)),
    ] {
        let r = run(method, &ms);
        assert_eq!(
            r.disposals.len(),
            1,
            "{method}: only the sell is a disposal"
        );
        assert_eq!(r.disposals[0].cost, sold_cost, "{method}");
        let [t] = &r.transfers_out[..] else {
            panic!("{method}: one transfer")
        };
        assert_eq!(
            (t.kind, t.quantity, t.cost),
            (TransferKind::Release, dec!(1.5), released)
        );
        assert!(
            t.lots
                .iter()
                .all(|l| l.proceeds.is_zero() && l.gain.is_zero())
        );
        assert!(r.holdings.is_empty(), "{method}: nothing left in the bot");
        assert_eq!(r.totals(2024)[0].total.cost, sold_cost);
    }
}

#[test]
fn the_boundary_is_configurable_and_whole_days_count() {
    let ms = vec![
        buy(0, "BTC", dec!(1), dec!(1)),
        sell(30, "BTC", dec!(1), dec!(2)),
    ];
    let at = |days| realize("USDT", &ms, Options::new(Method::Fifo, days).unwrap());
    assert_eq!(at(30).disposals[0].term, Term::Long);
    assert_eq!(at(31).disposals[0].term, Term::Short);
    assert_eq!(at(365).totals(2024)[0].short_term.gain, dec!(1));
    let e = Options::new(Method::Fifo, 0).unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.value.as_str()),
        ("long-term-days", "0")
    );
}

#[test]
fn unknown_methods_name_the_value_and_the_allowed_ones() {
    assert_eq!("hifo".parse::<Method>(), Ok(Method::Hifo));
    let e = "lofi".parse::<Method>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid method: \"lofi\"; allowed: fifo, lifo, hifo or average"
    );
}

#[test]
fn movements_are_taken_in_time_order_keeping_ledger_order_within_a_time() {
    let ms = vec![
        sell(5, "BTC", dec!(1), dec!(300)),
        buy(0, "BTC", dec!(1), dec!(100)),
        buy(5, "BTC", dec!(1), dec!(200)),
    ];
    // Sorted: buy day 0, sell day 5, buy day 5: the sell consumes the day-0 lot, even in LIFO.
    let r = run(Method::Lifo, &ms);
    assert_eq!(r.disposals[0].cost, dec!(100));
}

#[test]
fn years_are_four_digits_from_1970() {
    assert_eq!(parse_year("2025"), Ok(2025));
    for bad in ["25", "1969", "20255", "+202", "year", ""] {
        let e = parse_year(bad).unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("year", bad));
    }
}
