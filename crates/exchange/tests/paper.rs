//! The paper exchange behaves like a spot venue: validation, fills, fees, persistence.

mod common;

use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_exchange::paper::{
    Fault, MemoryPaperPersistence, PaperConfig, PaperExchange, PaperPersistence,
};
use smartfolio_exchange::{
    Exchange, ExchangeError, InstrumentStatus, OrderKind, OrderStatus, Side, reject,
};
use std::sync::Arc;

async fn funded(p: &Arc<MemoryPaperPersistence>) -> PaperExchange {
    let ex = open(p).await;
    ex.deposit("USDT", dec!(10000)).await.unwrap();
    ex.deposit("BTC", dec!(0.5)).await.unwrap();
    ex.update_prices(&tick(1_000, dec!(60000), dec!(3000)))
        .await
        .unwrap();
    ex
}

async fn free(ex: &PaperExchange, asset: &str) -> Decimal {
    ex.account()
        .await
        .balances
        .iter()
        .find(|b| b.asset == asset)
        .map_or(Decimal::ZERO, |b| b.free)
}

async fn locked(ex: &PaperExchange, asset: &str) -> Decimal {
    ex.account()
        .await
        .balances
        .iter()
        .find(|b| b.asset == asset)
        .map_or(Decimal::ZERO, |b| b.locked)
}

/// Every reject names the offending value and the rule, and changes nothing (in memory or stored).
#[tokio::test]
async fn every_reject_names_value_and_rule_and_changes_nothing() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = funded(&p).await;
    place(&ex, &market("taken", "BTC", Side::Buy, dec!(0.01)))
        .await
        .unwrap();
    let before = ex.account().await;
    let stored_before = p.account("main").unwrap();
    let applied = p.applied();

    let cases: Vec<(smartfolio_exchange::OrderRequest, &str, Vec<&str>)> = vec![
        (
            market("a1", "FOO", Side::Buy, dec!(1)),
            reject::UNKNOWN_INSTRUMENT,
            vec!["FOO-USDT", "BTC-USDT", "ETH-USDT"],
        ),
        (
            smartfolio_exchange::OrderRequest {
                quote: "EUR".into(),
                ..market("a2", "BTC", Side::Buy, dec!(0.01))
            },
            reject::UNKNOWN_INSTRUMENT,
            vec!["BTC-EUR"],
        ),
        (
            market("a3", "BTC", Side::Buy, dec!(0.00015)),
            reject::LOT_STEP,
            vec!["0.00015", "lot step 0.0001"],
        ),
        (
            market("a4", "BTC", Side::Buy, dec!(0.0005)),
            reject::MIN_SIZE,
            vec!["0.0005", "minimum size 0.001"],
        ),
        (
            // 0.003 ETH × 3000 = 9 < 10.
            market("a5", "ETH", Side::Buy, dec!(0.003)),
            reject::MIN_NOTIONAL,
            vec!["notional 9", "minimum notional 10"],
        ),
        (
            // A limit's notional is at its limit price: 0.001 × 9000 = 9.
            limit("a6", "BTC", Side::Buy, dec!(0.001), dec!(9000)),
            reject::MIN_NOTIONAL,
            vec!["notional 9", "price 9000", "minimum notional 10"],
        ),
        (
            limit("a7", "BTC", Side::Buy, dec!(0.01), dec!(59000.005)),
            reject::TICK_SIZE,
            vec!["59000.005", "tick size 0.01"],
        ),
        (
            market("a8", "BTC", Side::Buy, dec!(0)),
            reject::INVALID,
            vec!["quantity 0", "> 0"],
        ),
        (
            market("a9", "BTC", Side::Sell, dec!(-1)),
            reject::INVALID,
            vec!["quantity -1", "> 0"],
        ),
        (
            limit("a10", "BTC", Side::Buy, dec!(0.01), dec!(0)),
            reject::INVALID,
            vec!["limit price 0", "> 0"],
        ),
        (
            limit("a11", "BTC", Side::Buy, dec!(0.01), dec!(-5)),
            reject::INVALID,
            vec!["limit price -5"],
        ),
        (
            // 0.2 BTC × 60000 = 12000 USDT > 9400 free.
            market("a12", "BTC", Side::Buy, dec!(0.2)),
            reject::INSUFFICIENT_BALANCE,
            vec!["12000 USDT", "9400 USDT free"],
        ),
        (
            limit("a13", "BTC", Side::Buy, dec!(0.2), dec!(50000)),
            reject::INSUFFICIENT_BALANCE,
            vec!["10000 USDT", "9400 USDT free"],
        ),
        (
            // Holds 0.5 + 0.01 × 0.999 = 0.50999 BTC.
            market("a14", "BTC", Side::Sell, dec!(0.6)),
            reject::INSUFFICIENT_BALANCE,
            vec!["0.6 BTC", "0.50999 BTC free"],
        ),
        (
            market("a15", "ETH", Side::Sell, dec!(0.01)),
            reject::INSUFFICIENT_BALANCE,
            vec!["0.01 ETH", "0 ETH free"],
        ),
        (
            market("taken", "BTC", Side::Buy, dec!(0.01)),
            reject::DUPLICATE_CLIENT_ID,
            vec!["taken", "already used", "filled"],
        ),
        (
            market("", "BTC", Side::Buy, dec!(0.01)),
            reject::INVALID,
            vec!["client order id"],
        ),
        (
            market("has space", "BTC", Side::Buy, dec!(0.01)),
            reject::INVALID,
            vec!["client order id \"has space\""],
        ),
    ];
    for (req, code, needles) in cases {
        let (got, message) = rejection(place(&ex, &req).await);
        assert_eq!(got, code, "{req:?}: {message}");
        for needle in needles {
            assert!(
                message.contains(needle),
                "{req:?}: message {message:?} lacks {needle:?}"
            );
        }
        if req.client_id != "taken" && !req.client_id.is_empty() {
            assert_eq!(
                ex.order(&req.base, &req.quote, &req.client_id)
                    .await
                    .unwrap()
                    .found(),
                None,
                "a rejected order is not stored"
            );
        }
    }
    assert_eq!(ex.account().await, before);
    assert_eq!(p.account("main").unwrap(), stored_before);
    assert_eq!(p.applied(), applied);
}

#[tokio::test]
async fn no_price_and_not_trading_are_rejected() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = open(&p).await;
    ex.deposit("USDT", dec!(1000)).await.unwrap();
    let (code, msg) = rejection(place(&ex, &market("m1", "BTC", Side::Buy, dec!(0.01))).await);
    assert_eq!(code, reject::NO_PRICE);
    assert!(msg.contains("BTC-USDT"), "{msg}");
    let (code, _) = rejection(ex.tickers(&["BTC".into()], "USDT").await);
    assert_eq!(code, reject::NO_PRICE);

    ex.update_prices(&tick(1, dec!(60000), dec!(3000)))
        .await
        .unwrap();
    ex.set_status("btc", InstrumentStatus::Halted).unwrap();
    let (code, msg) = rejection(place(&ex, &market("m2", "BTC", Side::Buy, dec!(0.01))).await);
    assert_eq!(code, reject::NOT_TRADING);
    assert!(msg.contains("BTC-USDT is halted"), "{msg}");
    ex.set_status("BTC", InstrumentStatus::Delisted).unwrap();
    let (code, msg) =
        rejection(place(&ex, &limit("m3", "BTC", Side::Buy, dec!(0.01), dec!(50000))).await);
    assert_eq!(code, reject::NOT_TRADING);
    assert!(msg.contains("delisted"), "{msg}");
    let listed = ex.instruments().await.unwrap();
    let btc = listed.iter().find(|i| i.base == "BTC").unwrap();
    assert_eq!(btc.status, InstrumentStatus::Delisted);
    assert_eq!(btc.symbol, "BTC-USDT");
    let (code, _) = rejection(ex.set_status("XYZ", InstrumentStatus::Halted));
    assert_eq!(code, reject::UNKNOWN_INSTRUMENT);

    ex.set_status("BTC", InstrumentStatus::Trading).unwrap();
    place(&ex, &market("m4", "BTC", Side::Buy, dec!(0.01)))
        .await
        .unwrap();
}

/// Market orders fill at last × (1 ± slippage); the fee is taken from what is received.
#[tokio::test]
async fn market_buy_and_sell_arithmetic_with_fees_in_received_currency() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let cfg = config()
        .with_fee_rate(dec!(0.001))
        .with_slippage_bps(dec!(10));
    let ex = open_with(cfg, &p).await;
    ex.deposit("USDT", dec!(10000)).await.unwrap();
    ex.update_prices(&tick(5_000, dec!(60000), dec!(3000)))
        .await
        .unwrap();

    // Buy 0.1 BTC at 60000 × 1.001 = 60060: pays 6006 USDT, receives 0.1 × 0.999 BTC.
    let o = place(&ex, &market("b1", "BTC", Side::Buy, dec!(0.1)))
        .await
        .unwrap();
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(o.filled_quantity, dec!(0.1));
    assert_eq!(o.average_price, Some(dec!(60060)));
    assert_eq!(o.created_ms, 5_000);
    assert_eq!(free(&ex, "USDT").await, dec!(3994));
    assert_eq!(free(&ex, "BTC").await, dec!(0.0999));
    let fills = ex.fills("BTC", "USDT", "b1").await.unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].quantity, dec!(0.1));
    assert_eq!(fills[0].price, dec!(60060));
    assert_eq!(fills[0].fee, dec!(0.0001));
    assert_eq!(fills[0].fee_asset, "BTC");
    assert_eq!(fills[0].venue_order_id, o.venue_id);

    // Sell 0.05 BTC at 60000 × 0.999 = 59940: 2997 USDT less a 2.997 USDT fee.
    let o = place(&ex, &market("s1", "BTC", Side::Sell, dec!(0.05)))
        .await
        .unwrap();
    assert_eq!(o.average_price, Some(dec!(59940)));
    assert_eq!(free(&ex, "USDT").await, dec!(6988.003));
    assert_eq!(free(&ex, "BTC").await, dec!(0.0499));
    let fills = ex.fills("BTC", "USDT", "s1").await.unwrap();
    assert_eq!(fills[0].fee, dec!(2.997));
    assert_eq!(fills[0].fee_asset, "USDT");

    // A buy needs quantity × execution price (slippage included) of quote: 0.1164 × 60000 =
    // 6984 would fit in 6988.003, but 0.1164 × 60060 = 6990.984 does not.
    let (code, msg) = rejection(place(&ex, &market("b2", "BTC", Side::Buy, dec!(0.1164))).await);
    assert_eq!(code, reject::INSUFFICIENT_BALANCE);
    assert!(msg.contains("6990.984 USDT"), "{msg}");

    // Ids are distinct and the balances listing shows both assets.
    let bal = ex.balances().await.unwrap();
    assert_eq!(
        bal.iter().map(|b| b.asset.as_str()).collect::<Vec<_>>(),
        ["BTC", "USDT"]
    );
    let t = ex
        .tickers(&["BTC".into(), "eth".into()], "usdt")
        .await
        .unwrap();
    assert_eq!((t[0].last, t[0].time_ms), (dec!(60000), 5_000));
    assert_eq!((t[1].base.as_str(), t[1].last), ("ETH", dec!(3000)));
    let (code, _) = rejection(ex.tickers(&["DOT".into()], "USDT").await);
    assert_eq!(code, reject::UNKNOWN_INSTRUMENT);
}

/// A limit order locks its balance, rests, fills at its limit price when crossed.
#[tokio::test]
async fn limit_orders_rest_lock_fill_on_cross_and_cancel_unlocks() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = funded(&p).await; // 10000 USDT, 0.5 BTC, last 60000 / 3000

    let o = place(&ex, &limit("lb", "BTC", Side::Buy, dec!(0.1), dec!(59000)))
        .await
        .unwrap();
    assert_eq!(o.status, OrderStatus::Open);
    assert_eq!(free(&ex, "USDT").await, dec!(4100));
    assert_eq!(locked(&ex, "USDT").await, dec!(5900));
    let ls = place(&ex, &limit("ls", "BTC", Side::Sell, dec!(0.2), dec!(61000)))
        .await
        .unwrap();
    assert_eq!(ls.status, OrderStatus::Open);
    assert_eq!(free(&ex, "BTC").await, dec!(0.3));
    assert_eq!(locked(&ex, "BTC").await, dec!(0.2));
    let open: Vec<String> = ex
        .open_orders()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.client_id)
        .collect();
    assert_eq!(open, ["lb", "ls"]);

    // Not crossed: 59000.01 > 59000 and < 61000.
    let fills = ex
        .update_prices(&tick(2_000, dec!(59000.01), dec!(3000)))
        .await
        .unwrap();
    assert!(fills.is_empty());
    // Crossed from above: fills at the limit, not at the last price.
    let fills = ex
        .update_prices(&tick(3_000, dec!(58000), dec!(3000)))
        .await
        .unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].client_id, "lb");
    assert_eq!(fills[0].price, dec!(59000));
    assert_eq!(fills[0].fee, dec!(0.0001));
    assert_eq!(fills[0].time_ms, 3_000);
    assert_eq!(free(&ex, "USDT").await, dec!(4100));
    assert_eq!(locked(&ex, "USDT").await, dec!(0));
    assert_eq!(free(&ex, "BTC").await, dec!(0.3999));
    let lb = ex
        .order("BTC", "USDT", "lb")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(lb.status, OrderStatus::Filled);
    assert_eq!(lb.average_price, Some(dec!(59000)));
    assert_eq!(lb.updated_ms, 3_000);

    // The sell crosses at last ≥ limit: 0.2 × 61000 = 12200 less 12.2 fee.
    let fills = ex
        .update_prices(&tick(4_000, dec!(61000), dec!(3000)))
        .await
        .unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(free(&ex, "USDT").await, dec!(16287.8));
    assert_eq!(locked(&ex, "BTC").await, dec!(0));
    assert!(ex.open_orders().await.unwrap().is_empty());

    // Cancel unlocks the whole remaining amount.
    place(&ex, &limit("c1", "BTC", Side::Buy, dec!(0.1), dec!(50000)))
        .await
        .unwrap();
    assert_eq!(locked(&ex, "USDT").await, dec!(5000));
    let c = ex.cancel_order("BTC", "USDT", "c1").await.unwrap();
    assert_eq!(c.status, OrderStatus::Canceled);
    assert_eq!(c.filled_quantity, dec!(0));
    assert_eq!(free(&ex, "USDT").await, dec!(16287.8));
    assert_eq!(locked(&ex, "USDT").await, dec!(0));
    place(&ex, &limit("c2", "BTC", Side::Sell, dec!(0.1), dec!(70000)))
        .await
        .unwrap();
    ex.cancel_order("BTC", "USDT", "c2").await.unwrap();
    assert_eq!(free(&ex, "BTC").await, dec!(0.3999));
    assert_eq!(locked(&ex, "BTC").await, dec!(0));
    // A canceled order does not fill on a later cross.
    assert!(
        ex.update_prices(&tick(5_000, dec!(40000), dec!(3000)))
            .await
            .unwrap()
            .is_empty()
    );

    let (code, msg) = rejection(ex.cancel_order("BTC", "USDT", "c1").await);
    assert_eq!(code, reject::ORDER_NOT_OPEN);
    assert!(msg.contains("canceled"), "{msg}");
    let (code, msg) = rejection(ex.cancel_order("BTC", "USDT", "lb").await);
    assert_eq!(code, reject::ORDER_NOT_OPEN);
    assert!(msg.contains("filled"), "{msg}");
    let (code, msg) = rejection(ex.cancel_order("BTC", "USDT", "nope").await);
    assert_eq!(code, reject::UNKNOWN_ORDER);
    assert!(msg.contains("nope"), "{msg}");
    // Looked up under the wrong instrument, an order is not found.
    assert_eq!(ex.order("ETH", "USDT", "lb").await.unwrap().found(), None);
    assert!(ex.fills("ETH", "USDT", "lb").await.unwrap().is_empty());
}

#[tokio::test]
async fn marketable_limit_fills_at_once_at_its_limit() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = funded(&p).await;
    let o = place(&ex, &limit("mb", "BTC", Side::Buy, dec!(0.1), dec!(61000)))
        .await
        .unwrap();
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(o.average_price, Some(dec!(61000)));
    assert_eq!(free(&ex, "USDT").await, dec!(3900));
    assert_eq!(locked(&ex, "USDT").await, dec!(0));
    let o = place(&ex, &limit("ms", "BTC", Side::Sell, dec!(0.1), dec!(60000)))
        .await
        .unwrap();
    assert_eq!(o.status, OrderStatus::Filled);
    // 6000 less 6 fee.
    assert_eq!(free(&ex, "USDT").await, dec!(9894));
}

#[tokio::test]
async fn halted_instrument_does_not_fill_resting_orders_until_it_trades() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = funded(&p).await;
    place(&ex, &limit("h", "BTC", Side::Buy, dec!(0.1), dec!(59000)))
        .await
        .unwrap();
    ex.set_status("BTC", InstrumentStatus::Halted).unwrap();
    assert!(
        ex.update_prices(&tick(2, dec!(50000), dec!(3000)))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ex.order("BTC", "USDT", "h")
            .await
            .unwrap()
            .found()
            .unwrap()
            .status,
        OrderStatus::Open
    );
    ex.set_status("BTC", InstrumentStatus::Trading).unwrap();
    let fills = ex
        .update_prices(&tick(3, dec!(50000), dec!(3000)))
        .await
        .unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].price, dec!(59000));
}

#[tokio::test]
async fn duplicate_client_id_changes_nothing() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = funded(&p).await;
    place(&ex, &limit("d", "BTC", Side::Buy, dec!(0.1), dec!(50000)))
        .await
        .unwrap();
    let before = ex.account().await;
    let applied = p.applied();
    // Same id, different everything else: still a duplicate, on any instrument and kind.
    for req in [
        limit("d", "BTC", Side::Buy, dec!(0.1), dec!(50000)),
        market("d", "ETH", Side::Buy, dec!(1)),
        market("d", "BTC", Side::Sell, dec!(0.01)),
    ] {
        let (code, msg) = rejection(place(&ex, &req).await);
        assert_eq!(code, reject::DUPLICATE_CLIENT_ID);
        assert!(msg.contains("P"), "{msg}");
    }
    assert_eq!(ex.account().await, before);
    assert_eq!(p.applied(), applied);
}

/// Re-opening from the same persistence gives the same account; ids keep counting.
#[tokio::test]
async fn restart_restores_balances_orders_fills_and_sequence() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let (account, balances, open_orders, fills);
    {
        let ex = funded(&p).await;
        place(&ex, &market("r1", "BTC", Side::Buy, dec!(0.05)))
            .await
            .unwrap();
        place(&ex, &limit("r2", "BTC", Side::Sell, dec!(0.1), dec!(65000)))
            .await
            .unwrap();
        place(&ex, &limit("r3", "ETH", Side::Buy, dec!(0.5), dec!(2900)))
            .await
            .unwrap();
        ex.update_prices(&tick(2, dec!(60000), dec!(2800)))
            .await
            .unwrap();
        place(&ex, &limit("r4", "BTC", Side::Buy, dec!(0.01), dec!(55000)))
            .await
            .unwrap();
        ex.cancel_order("BTC", "USDT", "r4").await.unwrap();
        account = ex.account().await;
        balances = ex.balances().await.unwrap();
        open_orders = ex.open_orders().await.unwrap();
        fills = ex.fills("ETH", "USDT", "r3").await.unwrap();
    }
    assert_eq!(p.account("main").unwrap(), account);
    // A store may return rows in another order; the exchange restores creation order.
    let shuffled = {
        let mut a = account.clone();
        a.orders.reverse();
        a.fills.reverse();
        a.balances.reverse();
        a
    };
    let other = Arc::new(MemoryPaperPersistence::new());
    other
        .apply_paper(
            "main",
            &smartfolio_exchange::paper::PaperChange {
                orders: shuffled.orders,
                fills: shuffled.fills,
                balances: shuffled.balances,
                next_seq: shuffled.next_seq,
            },
        )
        .await
        .unwrap();
    assert_eq!(open(&other).await.account().await, account);
    let ex = open(&p).await;
    assert_eq!(ex.account().await, account);
    assert_eq!(ex.balances().await.unwrap(), balances);
    assert_eq!(ex.open_orders().await.unwrap(), open_orders);
    assert_eq!(open_orders.len(), 1);
    assert_eq!(ex.fills("ETH", "USDT", "r3").await.unwrap(), fills);
    assert_eq!(fills.len(), 1);
    // The client ids survive the restart, so a resend is caught.
    let (code, _) = rejection(place(&ex, &market("r1", "BTC", Side::Buy, dec!(0.05))).await);
    assert_eq!(code, reject::DUPLICATE_CLIENT_ID);
    // Prices are not persisted: the exchange waits for the next tick.
    let (code, _) = rejection(place(&ex, &market("r5", "BTC", Side::Buy, dec!(0.01))).await);
    assert_eq!(code, reject::NO_PRICE);
    // The resting sell still fills after the restart, and new ids never collide.
    let f = ex
        .update_prices(&tick(3, dec!(65000), dec!(2800)))
        .await
        .unwrap();
    assert_eq!(f.len(), 1);
    let acc = ex.account().await;
    let mut ids: Vec<&str> = acc.orders.iter().map(|o| o.venue_id.as_str()).collect();
    ids.extend(acc.fills.iter().map(|f| f.fill_id.as_str()));
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "venue and fill ids are unique");
}

/// If storing fails, nothing changes in memory and the call is Transient; a retry works.
#[tokio::test]
async fn persistence_failure_leaves_state_unchanged() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = funded(&p).await;
    place(
        &ex,
        &limit("rest", "BTC", Side::Buy, dec!(0.1), dec!(59000)),
    )
    .await
    .unwrap();
    let before = ex.account().await;

    p.fail_next(1);
    let e = place(&ex, &market("pf", "BTC", Side::Buy, dec!(0.01)))
        .await
        .unwrap_err();
    assert!(matches!(e, ExchangeError::Transient(_)), "{e:?}");
    assert!(e.is_retryable());
    assert_eq!(ex.account().await, before);
    assert_eq!(ex.order("BTC", "USDT", "pf").await.unwrap().found(), None);

    p.fail_next(1);
    assert!(matches!(
        ex.cancel_order("BTC", "USDT", "rest").await,
        Err(ExchangeError::Transient(_))
    ));
    p.fail_next(1);
    assert!(matches!(
        ex.deposit("USDT", dec!(5)).await,
        Err(ExchangeError::Transient(_))
    ));
    p.fail_next(1);
    assert!(matches!(
        ex.withdraw("USDT", dec!(5)).await,
        Err(ExchangeError::Transient(_))
    ));
    // A crossing tick that cannot be stored fills nothing and does not move the price.
    p.fail_next(1);
    assert!(matches!(
        ex.update_prices(&tick(9, dec!(50000), dec!(3000))).await,
        Err(ExchangeError::Transient(_))
    ));
    assert_eq!(ex.last_price("BTC").await, Some(dec!(60000)));
    assert_eq!(ex.account().await, before);
    assert_eq!(p.account("main").unwrap(), before);

    // Retries succeed once storage works again.
    place(&ex, &market("pf", "BTC", Side::Buy, dec!(0.01)))
        .await
        .unwrap();
    let f = ex
        .update_prices(&tick(9, dec!(50000), dec!(3000)))
        .await
        .unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(p.account("main").unwrap(), ex.account().await);
}

#[tokio::test]
async fn faults_fail_reject_or_hide_the_outcome() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = funded(&p).await;
    let transient = ExchangeError::Transient("injected".into());

    ex.set_fault(Fault::FailNext(transient.clone()));
    assert_eq!(ex.balances().await.unwrap_err(), transient);
    assert!(ex.balances().await.is_ok());

    ex.set_fault(Fault::FailTimes(
        2,
        ExchangeError::RateLimited {
            retry_after_ms: 500,
        },
    ));
    assert!(ex.open_orders().await.is_err());
    assert!(
        place(&ex, &market("f0", "BTC", Side::Buy, dec!(0.01)))
            .await
            .is_err()
    );
    assert_eq!(ex.order("BTC", "USDT", "f0").await.unwrap().found(), None);
    assert_eq!(ex.fault(), Fault::None);

    ex.set_fault(Fault::FailAlways(transient.clone()));
    for _ in 0..5 {
        assert!(ex.instruments().await.is_err());
    }
    ex.set_fault(Fault::None);
    assert!(ex.instruments().await.is_ok());

    // An order-only fault lets reads through.
    ex.set_fault(Fault::FailNextOrder(transient.clone()));
    assert!(ex.balances().await.is_ok());
    assert_eq!(
        place(&ex, &market("f1", "BTC", Side::Buy, dec!(0.01)))
            .await
            .unwrap_err(),
        transient
    );
    assert_eq!(ex.order("BTC", "USDT", "f1").await.unwrap().found(), None);

    ex.set_fault(Fault::RejectNext);
    let (code, _) = rejection(place(&ex, &market("f2", "BTC", Side::Buy, dec!(0.01))).await);
    assert_eq!(code, reject::INVALID);
    assert_eq!(ex.order("BTC", "USDT", "f2").await.unwrap().found(), None);

    // Unknown outcome: the order took effect; looking it up by client id finds it.
    let usdt = free(&ex, "USDT").await;
    ex.set_fault(Fault::UnknownOutcomeAfterApply);
    let e = place(&ex, &market("f3", "BTC", Side::Buy, dec!(0.01)))
        .await
        .unwrap_err();
    assert!(matches!(e, ExchangeError::UnknownOutcome(_)), "{e:?}");
    assert!(!e.is_retryable());
    let o = ex
        .order("BTC", "USDT", "f3")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(free(&ex, "USDT").await, usdt - dec!(600));
    assert_eq!(p.account("main").unwrap(), ex.account().await);
    // Resending blindly is caught.
    let (code, _) = rejection(place(&ex, &market("f3", "BTC", Side::Buy, dec!(0.01))).await);
    assert_eq!(code, reject::DUPLICATE_CLIENT_ID);
}

#[tokio::test]
async fn deposits_withdrawals_and_config_are_validated() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = open(&p).await;
    let (code, msg) = rejection(ex.deposit("USDT", dec!(0)).await);
    assert_eq!(code, reject::INVALID);
    assert!(msg.contains("amount 0"), "{msg}");
    let (code, msg) = rejection(ex.deposit("BAD ASSET", dec!(1)).await);
    assert_eq!(code, reject::INVALID);
    assert!(msg.contains("BAD ASSET"), "{msg}");
    let (code, msg) = rejection(ex.deposit("USDT", dec!(1e21)).await);
    assert_eq!(code, reject::INVALID);
    assert!(msg.contains("limit"), "{msg}");
    ex.update_prices(&tick(1, dec!(60000), dec!(3000)))
        .await
        .unwrap();
    // A value beyond Decimal's range is refused, not a panic.
    let (code, msg) = rejection(
        place(
            &ex,
            &market("huge", "BTC", Side::Buy, dec!(10000000000000000000000000)),
        )
        .await,
    );
    assert_eq!(code, reject::INVALID);
    assert!(msg.contains("too large"), "{msg}");
    let b = ex.deposit("usdt", dec!(100)).await.unwrap();
    assert_eq!((b.asset.as_str(), b.free), ("USDT", dec!(100)));
    let (code, msg) = rejection(ex.withdraw("USDT", dec!(100.5)).await);
    assert_eq!(code, reject::INSUFFICIENT_BALANCE);
    assert!(
        msg.contains("100.5") && msg.contains("free balance 100"),
        "{msg}"
    );
    let b = ex.withdraw("USDT", dec!(40)).await.unwrap();
    assert_eq!(b.free, dec!(60));
    assert_eq!(p.account("main").unwrap().balances[0].free, dec!(60));

    for (cfg, field) in [
        (config().with_fee_rate(dec!(1)), "paper.fee_rate"),
        (config().with_fee_rate(dec!(-0.1)), "paper.fee_rate"),
        (config().with_slippage_bps(dec!(-1)), "paper.slippage_bps"),
        (PaperConfig::new("", "USDT"), "paper.account"),
        (PaperConfig::new("a", "US DT"), "paper.quote"),
        (
            config().with_instrument("btc", btc_rules()),
            "paper.instruments.base",
        ),
        (
            PaperConfig::new("a", "USDT").with_instrument(
                "BTC",
                smartfolio_exchange::InstrumentRules {
                    lot_step: Some(dec!(0)),
                    ..Default::default()
                },
            ),
            "paper.instruments.BTC.lot_step",
        ),
    ] {
        let e = cfg.validate().unwrap_err();
        assert_eq!(e.field, field);
        let (code, msg) = rejection(PaperExchange::open(cfg, p.clone()).await);
        assert_eq!(code, reject::INVALID);
        assert!(msg.contains(field), "{msg}");
    }
    assert_eq!(PaperConfig::new("a", "USDT").fee_rate, dec!(0.001));
}

#[tokio::test]
async fn kinds_display_and_accounts_are_separate() {
    assert_eq!(
        OrderKind::Limit {
            price: dec!(100.50)
        }
        .to_string(),
        "limit 100.5"
    );
    let p = Arc::new(MemoryPaperPersistence::new());
    let a = open(&p).await;
    let b = open_with(
        PaperConfig {
            account: "other".into(),
            ..config()
        },
        &p,
    )
    .await;
    a.deposit("USDT", dec!(1)).await.unwrap();
    assert!(b.balances().await.unwrap().is_empty());
    assert_eq!(a.name(), "paper");
}

/// The runtime spawns these futures on a multi-threaded runtime: they must be `Send`.
#[tokio::test]
async fn futures_are_send() {
    fn assert_send<T: Send>(t: T) -> T {
        t
    }
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = Arc::new(
        assert_send(PaperExchange::open(config(), p.clone()))
            .await
            .unwrap(),
    );
    assert_send(ex.deposit("USDT", dec!(1))).await.unwrap();
    assert_send(ex.update_prices(&tick(1, dec!(1), dec!(1))))
        .await
        .unwrap();
    let shared: Arc<dyn Exchange> = ex.clone();
    let handle = tokio::spawn(async move { shared.balances().await });
    assert_eq!(handle.await.unwrap().unwrap().len(), 1);
}

/// Funding several assets is one stored change: all of it, or (on a bad amount or a failed
/// write) none of it.
#[tokio::test]
async fn deposit_all_is_one_change_all_or_nothing() {
    let p = Arc::new(MemoryPaperPersistence::new());
    let ex = open(&p).await;
    let before = p.applied();
    ex.deposit_all(&[("USDT".into(), dec!(1000)), ("BTC".into(), dec!(0.25))])
        .await
        .unwrap();
    assert_eq!(p.applied(), before + 1);
    assert_eq!(free(&ex, "USDT").await, dec!(1000));
    assert_eq!(free(&ex, "BTC").await, dec!(0.25));

    // A bad amount anywhere rejects the whole deposit.
    let e = ex
        .deposit_all(&[("ETH".into(), dec!(5)), ("SOL".into(), dec!(-1))])
        .await
        .unwrap_err();
    assert!(matches!(e, ExchangeError::Rejected { .. }), "{e}");
    assert_eq!(free(&ex, "ETH").await, Decimal::ZERO);

    // A failed write changes nothing, in memory or stored.
    p.fail_next(1);
    let e = ex
        .deposit_all(&[("ETH".into(), dec!(5)), ("SOL".into(), dec!(7))])
        .await
        .unwrap_err();
    assert!(matches!(e, ExchangeError::Transient(_)), "{e}");
    assert_eq!(free(&ex, "ETH").await, Decimal::ZERO);
    let stored = p.load_paper("main").await.unwrap().unwrap();
    assert!(
        stored
            .balances
            .iter()
            .all(|b| b.asset != "ETH" && b.asset != "SOL")
    );
}
