//! The exchange interface v2 on the paper exchange: sizes in base or quote, time in force and
//! post-only, expiry, sell-only and cancel-only, maximums and price bands, fees in a third asset,
//! lookups that answer "not found yet" or "unknown" and how they are settled, the server time and
//! the clock offset.

mod common;

use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_exchange::paper::{Fault, MemoryPaperPersistence, PaperConfig, PaperExchange};
use smartfolio_exchange::settle::{Settled, settle};
use smartfolio_exchange::{
    ClockOffset, Exchange, ExchangeError, FeePaid, InstrumentStatus, LookupPolicy, OrderLimits,
    OrderLookup, OrderRequest, OrderSize, OrderStatus, PriceBand, PriceTick, Side, TimeInForce,
    reject,
};
use std::sync::Arc;

async fn funded_with(config: PaperConfig, p: &Arc<MemoryPaperPersistence>) -> PaperExchange {
    let ex = open_with(config, p).await;
    ex.deposit_all(&[("USDT".into(), dec!(100000)), ("BTC".into(), dec!(1))])
        .await
        .unwrap();
    ex.update_prices(&tick(1_000, dec!(60000), dec!(3000)))
        .await
        .unwrap();
    ex
}

async fn balance(ex: &PaperExchange, asset: &str) -> (Decimal, Decimal) {
    ex.account()
        .await
        .balances
        .iter()
        .find(|b| b.asset == asset)
        .map_or((Decimal::ZERO, Decimal::ZERO), |b| (b.free, b.locked))
}

fn quote_buy(cid: &str, amount: Decimal) -> OrderRequest {
    OrderRequest::market(cid, "BTC", "USDT", Side::Buy, OrderSize::Quote(amount))
}

/// A market buy sized in quote spends at most the amount: the quantity is what it buys at the
/// execution price, rounded down to the lot step (Binance `quoteOrderQty`). A sell can be sized
/// in quote too; a limit order cannot.
#[tokio::test]
async fn quote_sized_market_orders_trade_what_the_amount_buys() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = funded_with(config(), &p).await;
    let o = place(&ex, &quote_buy("q1", dec!(1000))).await.unwrap();
    // 1000 / 60000 = 0.016666… → 0.0166 at lot step 0.0001.
    assert_eq!(o.size, OrderSize::Quote(dec!(1000)));
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(o.filled_quantity, dec!(0.0166));
    assert_eq!(o.filled_quote, dec!(996));
    assert_eq!(o.average_price, Some(dec!(60000)));
    assert_eq!(
        o.fees,
        vec![FeePaid {
            asset: "BTC".into(),
            amount: dec!(0.0000166)
        }]
    );
    assert_eq!(balance(&ex, "USDT").await.0, dec!(99004));
    assert_eq!(balance(&ex, "BTC").await.0, dec!(1.0165834));

    let s = place(
        &ex,
        &OrderRequest::market("q2", "BTC", "USDT", Side::Sell, OrderSize::Quote(dec!(600))),
    )
    .await
    .unwrap();
    assert_eq!(s.filled_quantity, dec!(0.01));
    assert_eq!(s.filled_quote, dec!(600));

    // A quote amount that buys less than a lot, or a limit sized in quote, is refused.
    let (code, msg) = rejection(place(&ex, &quote_buy("q3", dec!(5))).await);
    assert_eq!(code, reject::MIN_SIZE);
    assert!(msg.contains("quote amount 5"), "{msg}");
    let limit_in_quote = OrderRequest {
        kind: smartfolio_exchange::OrderKind::Limit { price: dec!(59000) },
        ..quote_buy("q4", dec!(1000))
    };
    let (code, msg) = rejection(place(&ex, &limit_in_quote).await);
    assert_eq!(code, reject::INVALID);
    assert!(msg.contains("market orders only"), "{msg}");
    // What was persisted is what is in memory.
    assert_eq!(p.account("main").unwrap(), ex.account().await);
}

/// With a depth limit, GTC keeps the rest of a marketable limit resting (partially filled, the
/// rest locked) and fills it on later ticks; IOC and market orders expire their rest; FOK
/// expires unfilled unless it fills whole; a non-marketable IOC expires at once.
#[tokio::test]
async fn time_in_force_gtc_ioc_fok_and_expiry() {
    let p = Arc::new(MemoryPaperPersistence::new());
    // 1200 USDT per price event: 0.02 BTC at 60000.
    let ex = funded_with(config().with_depth(dec!(1200)), &p).await;
    let gtc = place(&ex, &limit("g", "BTC", Side::Buy, dec!(0.05), dec!(60000)))
        .await
        .unwrap();
    assert_eq!(gtc.status, OrderStatus::PartiallyFilled);
    assert_eq!(gtc.filled_quantity, dec!(0.02));
    assert_eq!(balance(&ex, "USDT").await.1, dec!(1800));
    ex.update_prices(&tick(2_000, dec!(60000), dec!(3000)))
        .await
        .unwrap();
    let g = ex.order("BTC", "USDT", "g").await.unwrap().found().unwrap();
    assert_eq!(
        (g.status, g.filled_quantity),
        (OrderStatus::PartiallyFilled, dec!(0.04))
    );
    ex.update_prices(&tick(3_000, dec!(59000), dec!(3000)))
        .await
        .unwrap();
    let g = ex.order("BTC", "USDT", "g").await.unwrap().found().unwrap();
    assert_eq!(
        (g.status, g.filled_quantity, g.filled_quote),
        (OrderStatus::Filled, dec!(0.05), dec!(3000))
    );
    assert_eq!(ex.fills("BTC", "USDT", "g").await.unwrap().len(), 3);
    assert_eq!(balance(&ex, "USDT").await, (dec!(97000), dec!(0)));

    let ioc =
        limit("i", "BTC", Side::Buy, dec!(0.05), dec!(60000)).with_time_in_force(TimeInForce::Ioc);
    let i = place(&ex, &ioc).await.unwrap();
    assert_eq!(
        (i.status, i.filled_quantity),
        (OrderStatus::Expired, dec!(0.02))
    );
    assert!(i.status.is_final());
    assert_eq!(balance(&ex, "USDT").await, (dec!(95800), dec!(0)));
    let (code, _) = rejection(ex.cancel_order("BTC", "USDT", "i").await);
    assert_eq!(code, reject::ORDER_NOT_OPEN);

    let before = balance(&ex, "USDT").await;
    let fok =
        limit("f", "BTC", Side::Buy, dec!(0.05), dec!(60000)).with_time_in_force(TimeInForce::Fok);
    let f = place(&ex, &fok).await.unwrap();
    assert_eq!(
        (f.status, f.filled_quantity),
        (OrderStatus::Expired, Decimal::ZERO)
    );
    assert_eq!(balance(&ex, "USDT").await, before);
    assert!(ex.fills("BTC", "USDT", "f").await.unwrap().is_empty());
    let whole =
        limit("f2", "BTC", Side::Buy, dec!(0.02), dec!(60000)).with_time_in_force(TimeInForce::Fok);
    assert_eq!(
        place(&ex, &whole).await.unwrap().status,
        OrderStatus::Filled
    );

    let far = limit("far", "BTC", Side::Buy, dec!(0.01), dec!(50000))
        .with_time_in_force(TimeInForce::Ioc);
    let o = place(&ex, &far).await.unwrap();
    assert_eq!(
        (o.status, o.filled_quantity),
        (OrderStatus::Expired, Decimal::ZERO)
    );
    assert!(ex.open_orders().await.unwrap().is_empty());

    // A market order never rests: its rest expires. At the last price 59000, 1200 USDT of
    // depth is 0.0203 BTC at lot step 0.0001.
    let m = place(&ex, &market("m", "BTC", Side::Sell, dec!(0.05)))
        .await
        .unwrap();
    assert_eq!(
        (m.status, m.filled_quantity),
        (OrderStatus::Expired, dec!(0.0203))
    );
    assert_eq!(balance(&ex, "BTC").await.1, Decimal::ZERO);
    assert_eq!(p.account("main").unwrap(), ex.account().await);
}

/// Post-only is a GTC limit that must rest: one that would trade at once is refused.
#[tokio::test]
async fn post_only_refuses_to_take() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = funded_with(config(), &p).await;
    let applied = p.applied();
    let take = limit("p1", "BTC", Side::Buy, dec!(0.01), dec!(61000)).post_only();
    let (code, msg) = rejection(place(&ex, &take).await);
    assert_eq!(code, reject::WOULD_TAKE);
    assert!(msg.contains("61000") && msg.contains("60000"), "{msg}");
    let market_po = market("p2", "BTC", Side::Buy, dec!(0.01)).post_only();
    assert_eq!(rejection(place(&ex, &market_po).await).0, reject::INVALID);
    let ioc_po = limit("p3", "BTC", Side::Buy, dec!(0.01), dec!(59000))
        .with_time_in_force(TimeInForce::Ioc)
        .post_only();
    assert_eq!(rejection(place(&ex, &ioc_po).await).0, reject::INVALID);
    assert_eq!(p.applied(), applied, "refused orders store nothing");
    let rest = limit("p4", "BTC", Side::Sell, dec!(0.01), dec!(61000)).post_only();
    let o = place(&ex, &rest).await.unwrap();
    assert_eq!(o.status, OrderStatus::Open);
    assert!(o.post_only);
}

/// Sell-only accepts sells and fills resting sells only; cancel-only accepts no order and fills
/// nothing, but cancels work.
#[tokio::test]
async fn sell_only_and_cancel_only() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = funded_with(config(), &p).await;
    place(&ex, &limit("rb", "BTC", Side::Buy, dec!(0.01), dec!(59000)))
        .await
        .unwrap();
    place(
        &ex,
        &limit("rs", "BTC", Side::Sell, dec!(0.01), dec!(61000)),
    )
    .await
    .unwrap();
    ex.set_status("BTC", InstrumentStatus::SellOnly).unwrap();
    let (code, msg) = rejection(place(&ex, &market("b", "BTC", Side::Buy, dec!(0.01))).await);
    assert_eq!(code, reject::NOT_TRADING);
    assert!(msg.contains("sell-only"), "{msg}");
    place(&ex, &market("s", "BTC", Side::Sell, dec!(0.01)))
        .await
        .unwrap();
    // Both resting orders cross; only the sell fills.
    ex.update_prices(&tick(2_000, dec!(58000), dec!(3000)))
        .await
        .unwrap();
    ex.update_prices(&tick(3_000, dec!(62000), dec!(3000)))
        .await
        .unwrap();
    let status = |cid: &'static str| {
        let ex = &ex;
        async move {
            ex.order("BTC", "USDT", cid)
                .await
                .unwrap()
                .found()
                .unwrap()
                .status
        }
    };
    assert_eq!(status("rb").await, OrderStatus::Open);
    assert_eq!(status("rs").await, OrderStatus::Filled);

    ex.set_status("BTC", InstrumentStatus::CancelOnly).unwrap();
    for side in [Side::Buy, Side::Sell] {
        let (code, msg) = rejection(place(&ex, &market("c", "BTC", side, dec!(0.01))).await);
        assert_eq!(code, reject::NOT_TRADING);
        assert!(msg.contains("cancel-only"), "{msg}");
    }
    ex.update_prices(&tick(4_000, dec!(58000), dec!(3000)))
        .await
        .unwrap();
    assert_eq!(status("rb").await, OrderStatus::Open);
    let c = ex.cancel_order("BTC", "USDT", "rb").await.unwrap();
    assert_eq!(c.status, OrderStatus::Canceled);
    assert_eq!(balance(&ex, "USDT").await.1, Decimal::ZERO);
}

/// Maximum quantity (all orders, and market orders), maximum notional and the price bands of
/// each side refuse an order, naming the value and the limit.
#[tokio::test]
async fn maximums_and_price_bands() {
    let limits = OrderLimits {
        max_quantity: Some(dec!(2)),
        max_market_quantity: Some(dec!(0.5)),
        max_notional: Some(dec!(90000)),
        buy_band: Some(PriceBand {
            down: dec!(0.8),
            up: dec!(1.05),
        }),
        sell_band: Some(PriceBand {
            down: dec!(0.95),
            up: dec!(1.2),
        }),
    };
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = funded_with(config().with_limits("btc", limits.clone()), &p).await;
    let inst = ex
        .instruments()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.base == "BTC")
        .unwrap();
    assert_eq!(inst.limits, limits);
    assert_eq!(inst.pair().to_string(), "BTC/USDT");
    let cases = [
        (
            limit("a", "BTC", Side::Buy, dec!(2.5), dec!(50000)),
            reject::MAX_SIZE,
            "maximum quantity 2",
        ),
        (
            market("b", "BTC", Side::Buy, dec!(0.6)),
            reject::MAX_SIZE,
            "maximum market quantity 0.5",
        ),
        (
            limit("c", "BTC", Side::Buy, dec!(1.9), dec!(50000)),
            reject::MAX_NOTIONAL,
            "maximum notional 90000",
        ),
        (
            limit("d", "BTC", Side::Buy, dec!(0.01), dec!(63000.01)),
            reject::PRICE_BAND,
            "48000..63000",
        ),
        (
            limit("e", "BTC", Side::Buy, dec!(0.01), dec!(47999.99)),
            reject::PRICE_BAND,
            "48000..63000",
        ),
        (
            limit("f", "BTC", Side::Sell, dec!(0.01), dec!(56999.99)),
            reject::PRICE_BAND,
            "57000..72000",
        ),
    ];
    for (req, code, needle) in cases {
        let (got, msg) = rejection(place(&ex, &req).await);
        assert_eq!(got, code, "{req:?}: {msg}");
        assert!(msg.contains(needle), "{msg} lacks {needle}");
    }
    // Inside every limit: a limit order above the market maximum is fine.
    place(&ex, &limit("ok", "BTC", Side::Buy, dec!(1), dec!(48000)))
        .await
        .unwrap();
    // A band that is not a band is refused when the exchange opens.
    let bad = config().with_limits(
        "BTC",
        OrderLimits {
            buy_band: Some(PriceBand {
                down: dec!(1.1),
                up: dec!(1.2),
            }),
            ..OrderLimits::default()
        },
    );
    let e = bad.validate().unwrap_err();
    assert_eq!(e.field, "paper.instruments.BTC.buy_band");
}

fn bnb_tick(time_ms: i64, bnb: Decimal) -> PriceTick {
    PriceTick {
        time_ms,
        prices: vec![
            ("BTC".into(), dec!(60000)),
            ("ETH".into(), dec!(3000)),
            ("BNB".into(), bnb),
        ],
    }
}

/// With a fee asset, the fee's value is taken from that asset at its price and the whole
/// amount received is credited; without enough of it the fee falls back to the currency
/// received, never overdrawing the fee asset.
#[tokio::test]
async fn fees_in_a_third_asset_are_charged_in_it_at_its_price() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = open_with(config().with_fee_asset("BNB"), &p).await;
    ex.deposit_all(&[
        ("USDT".into(), dec!(10000)),
        ("BTC".into(), dec!(1)),
        ("BNB".into(), dec!(0.015)),
    ])
    .await
    .unwrap();
    ex.update_prices(&bnb_tick(1_000, dec!(600))).await.unwrap();

    // A buy of 0.1 BTC costs 6000 USDT and a fee of 6 USDT = 0.01 BNB.
    let o = place(&ex, &market("b", "BTC", Side::Buy, dec!(0.1)))
        .await
        .unwrap();
    assert_eq!(
        o.fees,
        vec![FeePaid {
            asset: "BNB".into(),
            amount: dec!(0.01)
        }]
    );
    let fills = ex.fills("BTC", "USDT", "b").await.unwrap();
    assert_eq!(fills[0].fee_asset, "BNB");
    assert!(fills[0].fee_in_third_asset());
    assert_eq!(fills[0].fee_value(Some(dec!(600))), Some(dec!(6)));
    assert_eq!(fills[0].fee_value(None), None);
    assert_eq!(balance(&ex, "BTC").await.0, dec!(1.1));
    assert_eq!(balance(&ex, "USDT").await.0, dec!(4000));
    assert_eq!(balance(&ex, "BNB").await.0, dec!(0.005));

    // 0.005 BNB left cannot pay the next 0.01 BNB: the fee is taken in the quote received.
    let s = place(&ex, &market("s", "BTC", Side::Sell, dec!(0.1)))
        .await
        .unwrap();
    assert_eq!(
        s.fees,
        vec![FeePaid {
            asset: "USDT".into(),
            amount: dec!(6)
        }]
    );
    assert_eq!(balance(&ex, "BNB").await.0, dec!(0.005));
    assert_eq!(balance(&ex, "USDT").await.0, dec!(9994));

    // Without a price for the fee asset, the fee is in the currency received.
    let q = PaperConfig {
        account: "nobnbprice".into(),
        ..config().with_fee_asset("BNB")
    };
    let ex2 = open_with(q, &p).await;
    ex2.deposit_all(&[("USDT".into(), dec!(1000)), ("BNB".into(), dec!(10))])
        .await
        .unwrap();
    ex2.update_prices(&tick(1, dec!(60000), dec!(3000)))
        .await
        .unwrap();
    let o = place(&ex2, &market("x", "BTC", Side::Buy, dec!(0.01)))
        .await
        .unwrap();
    assert_eq!(o.fees[0].asset, "BTC");
    assert_eq!(p.account("main").unwrap(), ex.account().await);
}

/// Lookups can answer "not found yet" and "unknown"; [`settle`] waits out the venue's window,
/// then finds the order among the open orders or settles it from its fills, and never sends
/// anything.
#[tokio::test]
async fn lookups_and_the_settle_policy() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = funded_with(config().with_lookup_window_ms(5_000), &p).await;
    assert_eq!(
        ex.lookup_policy(),
        LookupPolicy {
            window_ms: 5_000,
            fills_slack_ms: 0
        }
    );
    ex.place_order(&market("m", "BTC", Side::Buy, dec!(0.01)))
        .await
        .unwrap();
    ex.place_order(&limit("l", "BTC", Side::Buy, dec!(0.01), dec!(50000)))
        .await
        .unwrap();
    let applied = p.applied();

    // Not found yet within the window: wait, and look again later.
    ex.set_fault(Fault::LookupNotFound(1));
    let s = settle(&ex, "BTC", "USDT", "m", 1_000, 2_000).await.unwrap();
    assert_eq!(s, Settled::Wait { until_ms: 6_000 });
    let s = settle(&ex, "BTC", "USDT", "m", 1_000, 2_500).await.unwrap();
    assert!(matches!(s, Settled::Found(o) if o.client_id == "m"));

    // The venue cannot answer by id: the filled market order is settled from its fills, the
    // resting limit from the open orders.
    ex.set_fault(Fault::LookupUnknown);
    assert_eq!(
        ex.order("BTC", "USDT", "m").await.unwrap(),
        OrderLookup::Unknown
    );
    let s = settle(&ex, "BTC", "USDT", "m", 1_000, 2_000).await.unwrap();
    assert_eq!(
        s,
        Settled::Closed {
            fills: ex.fills("BTC", "USDT", "m").await.unwrap()
        }
    );
    let s = settle(&ex, "BTC", "USDT", "l", 1_000, 2_000).await.unwrap();
    assert!(matches!(s, Settled::Found(o) if o.status == OrderStatus::Open));
    ex.set_fault(Fault::None);

    // An id the venue never took: wait within the window, absent after it.
    let s = settle(&ex, "BTC", "USDT", "never", 1_000, 5_999)
        .await
        .unwrap();
    assert_eq!(s, Settled::Wait { until_ms: 6_000 });
    let s = settle(&ex, "BTC", "USDT", "never", 1_000, 6_000)
        .await
        .unwrap();
    assert_eq!(s, Settled::Absent);
    // Fills before the send time are not the order's.
    assert!(
        ex.fills_since("BTC", "USDT", 1_001)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(ex.fills_since("BTC", "USDT", 1_000).await.unwrap().len(), 1);
    assert!(ex.fills_since("ETH", "USDT", 0).await.unwrap().is_empty());
    assert_eq!(
        p.applied(),
        applied,
        "settling never sends or changes anything"
    );
    // A failing venue is an error, not a verdict.
    ex.set_fault(Fault::FailNext(ExchangeError::Transient("down".into())));
    assert!(
        settle(&ex, "BTC", "USDT", "never", 1_000, 9_000)
            .await
            .is_err()
    );
}

/// The venue's server time (the paper exchange's market time) and the offset measured from it:
/// the median of the last samples, so one slow round trip does not skew it.
#[tokio::test]
async fn server_time_and_clock_offset() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = funded_with(config(), &p).await;
    assert_eq!(ex.server_time_ms().await.unwrap(), 1_000);
    let mut off = ClockOffset::new();
    assert_eq!(off.offset_ms(), None);
    assert_eq!(off.venue_time(500), 500);
    // Local clock 400 behind the venue's 1000, a 0 ms round trip.
    let local = || 600_i64;
    assert_eq!(off.sample(&ex, &local).await.unwrap(), 400);
    // Server 3000 at the midpoint of (1000, 1200): +1900; then a slow outlier.
    off.record(1_000, 3_000, 1_200);
    off.record(1_000, 2_000, 9_000);
    off.record(1_000, 2_500, 1_000);
    // Samples 400, 1900, -3000, 1500: median of 4 = (400 + 1500) / 2.
    assert_eq!(off.offset_ms(), Some(950));
    off.record(2_000, 5_000, 1_000); // answered before it was sent: ignored
    assert_eq!(off.offset_ms(), Some(950));
    for _ in 0..ClockOffset::SAMPLES {
        off.record(0, 100, 0);
    }
    assert_eq!(off.offset_ms(), Some(100), "only the last samples count");
    assert_eq!(off.venue_time(1), 101);
    off.reset();
    assert_eq!(off.offset_ms(), None);
    let e = ExchangeError::RateLimited {
        retry_after_ms: 2_000,
    };
    assert_eq!(e.retry_after_ms(), Some(2_000));
    assert!(e.is_retryable());
    assert_eq!(ExchangeError::Transient("x".into()).retry_after_ms(), None);
}

/// Every v2 field survives a restart through the persistence.
#[tokio::test]
async fn v2_orders_survive_a_restart() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let cfg = config().with_depth(dec!(1200)).with_fee_asset("BNB");
    let ex = funded_with(cfg.clone(), &p).await;
    ex.deposit("BNB", dec!(1)).await.unwrap();
    ex.update_prices(&bnb_tick(2_000, dec!(600))).await.unwrap();
    place(&ex, &quote_buy("q", dec!(6000))).await.unwrap();
    let ioc =
        limit("i", "BTC", Side::Sell, dec!(0.05), dec!(60000)).with_time_in_force(TimeInForce::Ioc);
    place(&ex, &ioc).await.unwrap();
    place(
        &ex,
        &limit("po", "BTC", Side::Buy, dec!(0.01), dec!(59000)).post_only(),
    )
    .await
    .unwrap();
    let before = ex.account().await;
    drop(ex);
    let ex = open_with(cfg, &p).await;
    assert_eq!(ex.account().await, before);
    let q = ex.order("BTC", "USDT", "q").await.unwrap().found().unwrap();
    assert_eq!(q.size, OrderSize::Quote(dec!(6000)));
    assert_eq!(q.status, OrderStatus::Expired);
    assert_eq!(q.fees[0].asset, "BNB");
}
