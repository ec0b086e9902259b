//! Gate's payload fixtures (written from the documented shapes: venue-facts.md §Gate v4 and
//! ccxt's `gate` fixtures) parse into the models and convert onto the interface.

mod common;

use common::fixture;
use rust_decimal_macros::dec;
use smartfolio_exchange::{FeePaid, InstrumentStatus, OrderKind, OrderSize, OrderStatus, Side};
use smartfolio_gate::convert;
use smartfolio_gate::model::{
    AccountDetail, Candle, CurrencyPair, ErrorBody, Order, PairOrders, ServerTime, SpotAccount,
    Ticker, Trade,
};

fn parse<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn currency_pairs_read_precisions_as_numbers_or_strings_and_map_statuses() {
    let pairs: Vec<CurrencyPair> = parse("currency_pairs.json");
    let inst: Vec<_> = pairs.iter().map(convert::instrument).collect();
    let btc = &inst[0];
    assert_eq!(
        (btc.symbol.as_str(), btc.base.as_str()),
        ("BTC_USDT", "BTC")
    );
    assert_eq!(btc.rules.lot_step, Some(dec!(0.000001)));
    assert_eq!(btc.rules.tick_size, Some(dec!(0.1)));
    assert_eq!(btc.rules.min_size, Some(dec!(0.00001)));
    assert_eq!(btc.rules.min_notional, Some(dec!(3)));
    assert_eq!(btc.limits.max_quantity, Some(dec!(100)));
    assert_eq!(btc.limits.max_market_quantity, Some(dec!(20)));
    assert_eq!(btc.limits.max_notional, Some(dec!(5000000)));
    assert!(btc.post_only);
    // Precisions as strings (the fixtures' spelling), and no max_base_amount.
    let eth = &inst[1];
    assert_eq!(eth.rules.lot_step, Some(dec!(0.0001)));
    assert_eq!(eth.rules.tick_size, Some(dec!(0.01)));
    assert_eq!(eth.limits.max_quantity, None);
    assert_eq!(inst[2].rules.lot_step, Some(dec!(1)));
    let st: Vec<_> = inst.iter().map(|i| i.status).collect();
    assert_eq!(
        st,
        [
            InstrumentStatus::Trading,
            InstrumentStatus::Trading,
            InstrumentStatus::SellOnly,
            InstrumentStatus::Halted,
            InstrumentStatus::Halted,
        ]
    );
    assert!(inst[2].status.accepts(Side::Sell) && !inst[2].status.accepts(Side::Buy));
    // No min_base_amount: no minimum size.
    assert_eq!(inst[4].rules.min_size, None);
}

#[test]
fn a_bad_precision_is_named() {
    let e = serde_json::from_str::<CurrencyPair>(r#"{"id":"A_B","amount_precision":"1.5"}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("1.5 is not a number of decimal places"), "{e}");
    let e = serde_json::from_str::<CurrencyPair>(r#"{"id":"A_B","precision":"x"}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"x\" is not a decimal number"), "{e}");
}

#[test]
fn time_tickers_accounts_and_the_key_detail() {
    assert_eq!(
        parse::<ServerTime>("time.json").server_time,
        1_700_000_023_000
    );
    let s: ServerTime = serde_json::from_str(r#"{"server_time":"1700000023000"}"#).unwrap();
    assert_eq!(s.server_time, 1_700_000_023_000);
    let t: Vec<Ticker> = parse("tickers.json");
    assert_eq!(
        (t[0].last, t[0].highest_bid, t[0].lowest_ask),
        (
            Some(dec!(37000.1)),
            Some(dec!(37000.1)),
            Some(dec!(37000.2))
        )
    );
    assert_eq!(t[2].currency_pair, "ETH_BTC");
    // The 24 hours' quote volume, as a string or a number; absent: none.
    assert_eq!(
        (t[0].quote_volume, t[1].quote_volume, t[2].quote_volume),
        (Some(dec!(44400000)), Some(dec!(18000000)), None)
    );
    let n: Ticker =
        serde_json::from_str(r#"{"currency_pair":"BTC_USDT","quote_volume":1234.5}"#).unwrap();
    assert_eq!(n.quote_volume, Some(dec!(1234.5)));
    let a: Vec<SpotAccount> = parse("accounts.json");
    assert_eq!(
        (a[0].available, a[0].locked),
        (Some(dec!(3900.5)), Some(dec!(100)))
    );
    // Numbers as JSON numbers.
    assert_eq!(a[2].available, Some(dec!(1.5)));
    let d: AccountDetail = parse("account_detail.json");
    assert!(d.ip_restricted());
    assert_eq!(d.key.and_then(|k| k.mode), Some(1));
    let e: ErrorBody = parse("error_balance.json");
    assert_eq!(e.label, "BALANCE_NOT_ENOUGH");
}

#[test]
fn a_market_buy_is_in_quote_with_its_fee_in_gt() {
    let o = convert::order(&parse::<Order>("order_market_buy.json")).unwrap();
    assert_eq!(o.kind, OrderKind::Market);
    assert_eq!(o.size, OrderSize::Quote(dec!(100)));
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(
        (o.filled_quantity, o.filled_quote),
        (dec!(0.0027), dec!(99.9999))
    );
    assert_eq!(o.average_price, Some(dec!(37037)));
    assert_eq!(
        o.fees,
        vec![FeePaid {
            asset: "GT".into(),
            amount: dec!(0.0081)
        }]
    );
    assert_eq!(
        (o.client_id.as_str(), o.venue_id.as_str()),
        ("sf1", "412345678901")
    );
    assert_eq!(
        (o.created_ms, o.updated_ms),
        (1_700_000_020_100, 1_700_000_020_200)
    );
}

#[test]
fn a_market_sell_is_in_base_and_a_canceled_limit_keeps_its_partial_fill() {
    let s = convert::order(&parse::<Order>("order_market_sell.json")).unwrap();
    assert_eq!((s.side, s.size), (Side::Sell, OrderSize::Base(dec!(0.5))));
    assert_eq!(
        (s.filled_quantity, s.filled_quote, s.status),
        (dec!(0.5), dec!(18500), OrderStatus::Filled)
    );
    assert_eq!(
        s.fees,
        vec![FeePaid {
            asset: "USDT".into(),
            amount: dec!(37)
        }]
    );
    assert_eq!(s.created_ms, 1_700_000_021_100);
    let open = convert::order(&parse::<Order>("order_limit_open.json")).unwrap();
    assert_eq!(open.status, OrderStatus::Open);
    assert_eq!(
        open.kind,
        OrderKind::Limit {
            price: dec!(30000.5)
        }
    );
    assert!(open.fees.is_empty() && open.average_price.is_none());
    let c = convert::order(&parse::<Order>("order_limit_cancelled.json")).unwrap();
    assert_eq!(c.status, OrderStatus::Canceled);
    assert_eq!(
        (c.filled_quantity, c.filled_quote),
        (dec!(0.004), dec!(120.002))
    );
    assert_eq!(
        c.fees,
        vec![FeePaid {
            asset: "POINT".into(),
            amount: dec!(0.024)
        }]
    );
}

#[test]
fn open_orders_group_by_pair_and_foreign_texts_are_not_ours() {
    let g: Vec<PairOrders> = parse("open_orders.json");
    assert_eq!(g.len(), 2);
    let web = convert::order(&g[1].orders[0]).unwrap();
    assert_eq!(web.client_id, "");
    assert!(web.post_only);
    assert_eq!(convert::order(&g[0].orders[0]).unwrap().client_id, "sf3");
}

#[test]
fn trades_carry_fees_in_gt_point_or_the_traded_asset() {
    let t: Vec<Trade> = parse("my_trades.json");
    let f: Vec<_> = t.iter().map(|t| convert::fill(t).unwrap()).collect();
    assert_eq!((f[0].fee, f[0].fee_asset.as_str()), (dec!(0.05), "POINT"));
    assert_eq!((f[1].fee, f[1].fee_asset.as_str()), (dec!(0.0081), "GT"));
    assert!(f[0].fee_in_third_asset() && f[1].fee_in_third_asset());
    // POINT has no price: its value is unknown, not zero.
    assert_eq!(f[0].fee_value(None), None);
    assert_eq!(
        (f[2].fee, f[2].fee_asset.as_str(), f[2].client_id.as_str()),
        (dec!(3.6), "USDT", "")
    );
    // The fraction of create_time_ms is dropped.
    assert_eq!(f[0].time_ms, 1_700_000_020_300);
    assert_eq!(
        (f[1].client_id.as_str(), f[1].venue_order_id.as_str()),
        ("sf1", "412345678901")
    );
    assert_eq!(f[1].quantity * f[1].price, dec!(0.0017) * dec!(37037));
    // Charged in two assets at once: refused rather than losing one.
    let mut two = t[1].clone();
    two.fee = Some(dec!(0.0001));
    let e = convert::fill(&two).unwrap_err();
    assert!(e.contains("9002") && e.contains("one asset"), "{e}");
}

#[test]
fn candles_are_read_in_gates_column_order() {
    let c: Vec<Candle> = parse("candlesticks.json");
    assert_eq!(
        c[0],
        Candle {
            time_s: 1_699_920_000,
            open: dec!(36800.2),
            high: dec!(37500),
            low: dec!(36500),
            close: dec!(37000.1),
            base_volume: dec!(1200.5),
            quote_volume: dec!(44400000.5),
            closed: true,
        }
    );
    assert!(!c[1].closed);
    let e = serde_json::from_str::<Vec<Candle>>(r#"[["1","2","3"]]"#)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("at least 7 fields") && e.contains("got 3"),
        "{e}"
    );
    let e = serde_json::from_str::<Vec<Candle>>(r#"[["1","2","x","4","5","6","7"]]"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("candle close"), "{e}");
}
