//! Each injected fault, through the real connector: the connector classifies it as the runtime
//! needs, and the account shows no duplicate order and no lost fill.

mod common;

use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_exchange::settle::settle;
use smartfolio_exchange::{
    Exchange, ExchangeError, InstrumentStatus, LookupPolicy, OrderLookup, OrderRequest, OrderSize,
    OrderStatus, Settled, Side, reject,
};
use smartfolio_sim::{Faults, RateLimitFault};
use std::time::Duration;

fn buy(id: &str) -> OrderRequest {
    OrderRequest::market(id, "BTC", "USDT", Side::Buy, OrderSize::Quote(dec!(1000)))
}

#[tokio::test]
async fn latency_beyond_the_client_timeout_is_a_transient_read_and_below_it_is_served() {
    let rig = Rig::start_with(Duration::from_millis(200)).await;
    rig.sim
        .set_faults(Faults {
            latency_ms: 5_000,
            ..Faults::default()
        })
        .unwrap();
    let e = rig.ex.balances().await.unwrap_err();
    assert!(
        matches!(&e, ExchangeError::Transient(m) if m.contains("timed out")),
        "{e:?}"
    );
    rig.sim
        .set_faults(Faults {
            latency_ms: 20,
            ..Faults::default()
        })
        .unwrap();
    assert_eq!(rig.balance("USDT").await.free, dec!(10000));
    rig.server.shutdown().await;
}

#[tokio::test]
async fn a_5xx_on_placement_is_an_unknown_outcome_settled_as_absent_without_a_resend() {
    let rig = Rig::start().await;
    rig.sim
        .set_faults(Faults {
            server_errors: 1,
            ..Faults::default()
        })
        .unwrap();
    let e = rig.ex.place_order(&buy("five-1")).await.unwrap_err();
    assert!(matches!(e, ExchangeError::UnknownOutcome(_)), "{e:?}");
    // Past Binance's lookup window, the product's settle reads the order, the open orders and
    // the fills: nothing happened.
    let window = LookupPolicy::default().window_ms;
    let settled = settle(&rig.ex, "BTC", "USDT", "five-1", T0, T0 + window + 1)
        .await
        .unwrap();
    assert_eq!(settled, Settled::Absent);
    let acct = rig.sim.paper().account().await;
    assert!(acct.orders.is_empty() && acct.fills.is_empty());
    assert_eq!(rig.balance("USDT").await.free, dec!(10000));
    // The venue is back: a new order under a new id goes through, once.
    rig.ex.place_order(&buy("five-2")).await.unwrap();
    assert_eq!(rig.sim.paper().account().await.orders.len(), 1);
    rig.server.shutdown().await;
}

#[tokio::test]
async fn a_429_or_418_is_rate_limited_for_its_retry_after_and_nothing_is_sent_meanwhile() {
    for (status, retry_after_s) in [(429u16, 2u64), (418, 60)] {
        let rig = Rig::start().await;
        rig.sim
            .set_faults(Faults {
                rate_limited: Some(RateLimitFault {
                    status,
                    times: 1,
                    retry_after_s,
                }),
                ..Faults::default()
            })
            .unwrap();
        let e = rig.ex.balances().await.unwrap_err();
        assert_eq!(
            e,
            ExchangeError::RateLimited {
                retry_after_ms: retry_after_s * 1_000
            },
            "HTTP {status}"
        );
        assert_eq!(
            rig.sim.faults(),
            Faults::default(),
            "HTTP {status}: taken once"
        );
        // Banned: the connector refuses to send before Retry-After has passed, and the order
        // never reaches the venue.
        let e = rig.ex.place_order(&buy("wait-1")).await.unwrap_err();
        assert!(matches!(e, ExchangeError::RateLimited { .. }), "{e:?}");
        assert!(rig.sim.paper().account().await.orders.is_empty());
        rig.advance(retry_after_s as i64 * 1_000);
        rig.ex.place_order(&buy("wait-2")).await.unwrap();
        let orders = rig.sim.paper().account().await.orders;
        assert_eq!(orders.len(), 1);
        assert_eq!(orders[0].client_id, "wait-2");
        rig.server.shutdown().await;
    }
}

#[tokio::test]
async fn a_timeout_after_the_order_was_accepted_is_settled_from_the_venue_with_its_fill() {
    let rig = Rig::start_with(Duration::from_millis(300)).await;
    rig.sim
        .set_faults(Faults {
            hang_after_order: 1,
            ..Faults::default()
        })
        .unwrap();
    let e = rig.ex.place_order(&buy("hang-1")).await.unwrap_err();
    assert!(matches!(e, ExchangeError::UnknownOutcome(_)), "{e:?}");
    let settled = settle(&rig.ex, "BTC", "USDT", "hang-1", T0, T0)
        .await
        .unwrap();
    let Settled::Found(order) = settled else {
        panic!("{settled:?}")
    };
    assert_eq!(order.status, OrderStatus::Filled);
    let fills = rig.ex.fills("BTC", "USDT", "hang-1").await.unwrap();
    let qty: Decimal = fills.iter().map(|f| f.quantity).sum();
    let quote: Decimal = fills.iter().map(|f| f.quantity * f.price).sum();
    assert_eq!(qty, order.filled_quantity);
    // One order, and the balances moved exactly by its fills.
    assert_eq!(rig.sim.paper().account().await.orders.len(), 1);
    assert_eq!(rig.balance("USDT").await.free, dec!(10000) - quote);
    assert_eq!(
        rig.balance("BTC").await.free,
        dec!(0.1) + qty - sum_fees(&fills, "BTC")
    );
    rig.server.shutdown().await;
}

#[tokio::test]
async fn lookups_answer_minus_2013_for_a_while_after_placement_then_find_the_order() {
    let rig = Rig::start().await;
    rig.sim
        .set_faults(Faults {
            not_found_after_order: 2,
            ..Faults::default()
        })
        .unwrap();
    rig.ex.place_order(&buy("idx-1")).await.unwrap();
    // Inside the window, settle waits: it neither re-sends nor writes the order off.
    let settled = settle(&rig.ex, "BTC", "USDT", "idx-1", T0, T0)
        .await
        .unwrap();
    assert!(matches!(settled, Settled::Wait { .. }), "{settled:?}");
    assert_eq!(
        rig.ex.order("BTC", "USDT", "idx-1").await.unwrap(),
        OrderLookup::NotFoundYet
    );
    let order = rig
        .ex
        .order("BTC", "USDT", "idx-1")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(order.status, OrderStatus::Filled);
    let fills = rig.ex.fills_since("BTC", "USDT", T0).await.unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].client_id, "idx-1");
    assert_eq!(rig.sim.paper().account().await.orders.len(), 1);
    rig.server.shutdown().await;
}

#[tokio::test]
async fn a_skewed_server_clock_is_met_by_one_resync_on_minus_1021() {
    for skew in [30_000i64, -30_000] {
        let rig = Rig::start().await;
        rig.sim
            .set_faults(Faults {
                clock_skew_ms: skew,
                ..Faults::default()
            })
            .unwrap();
        assert_eq!(rig.ex.client().clock_offset_ms(), None);
        assert_eq!(rig.balance("USDT").await.free, dec!(10000), "skew {skew}");
        assert_eq!(rig.ex.client().clock_offset_ms(), Some(skew));
        rig.server.shutdown().await;
    }
}

#[tokio::test]
async fn a_reject_fault_refuses_the_next_placements_with_minus_2010_and_leaves_nothing() {
    let rig = Rig::start().await;
    rig.sim
        .set_faults(Faults {
            rejects: 1,
            ..Faults::default()
        })
        .unwrap();
    let e = rig.ex.place_order(&buy("rej-1")).await.unwrap_err();
    assert!(
        matches!(&e, ExchangeError::Rejected { code, .. } if code == "binance-2010"),
        "{e:?}"
    );
    let acct = rig.sim.paper().account().await;
    assert!(acct.orders.is_empty() && acct.fills.is_empty());
    assert_eq!(rig.balance("USDT").await.free, dec!(10000));
    // One reject only: the next order (a new id) fills. An order a halt refuses anyway does
    // not take a reject.
    rig.sim
        .set_faults(Faults {
            rejects: 1,
            halted: vec!["ETH".into()],
            ..Faults::default()
        })
        .unwrap();
    let eth = OrderRequest::market(
        "rej-eth",
        "ETH",
        "USDT",
        Side::Buy,
        OrderSize::Quote(dec!(100)),
    );
    let e = rig.ex.place_order(&eth).await.unwrap_err();
    assert!(
        matches!(&e, ExchangeError::Rejected { code, .. } if code == reject::NOT_TRADING),
        "{e:?}"
    );
    assert_eq!(rig.sim.faults().rejects, 1);
    rig.sim.set_faults(Faults::default()).unwrap();
    rig.ex.place_order(&buy("rej-2")).await.unwrap();
    let o = rig.ex.order("BTC", "USDT", "rej-2").await.unwrap();
    assert_eq!(o.found().unwrap().status, OrderStatus::Filled);
    rig.server.shutdown().await;
}

#[tokio::test]
async fn a_halt_shows_halt_refuses_orders_as_not_trading_and_lifting_it_trades_again() {
    let rig = Rig::start().await;
    rig.sim
        .set_faults(Faults {
            halted: vec!["BTC".into()],
            ..Faults::default()
        })
        .unwrap();
    let status = |all: Vec<smartfolio_exchange::Instrument>, base: &str| {
        all.into_iter().find(|i| i.base == base).unwrap().status
    };
    let all = rig.ex.instruments().await.unwrap();
    assert_eq!(status(all.clone(), "BTC"), InstrumentStatus::Halted);
    assert_eq!(status(all, "ETH"), InstrumentStatus::Trading);
    let e = rig.ex.place_order(&buy("halt-1")).await.unwrap_err();
    assert!(
        matches!(&e, ExchangeError::Rejected { code, .. } if code == reject::NOT_TRADING),
        "{e:?}"
    );
    assert!(rig.sim.paper().account().await.orders.is_empty());

    rig.sim.set_faults(Faults::default()).unwrap();
    let all = rig.ex.instruments().await.unwrap();
    assert_eq!(status(all, "BTC"), InstrumentStatus::Trading);
    rig.ex.place_order(&buy("halt-2")).await.unwrap();

    // A halt of an asset the simulator does not list is refused, naming what it lists, and
    // the faults stay as they were.
    let e = rig
        .sim
        .set_faults(Faults {
            halted: vec!["DOGE".into()],
            rejects: 3,
            ..Faults::default()
        })
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("halt DOGE") && e.contains("BTCUSDT, ETHUSDT"),
        "{e}"
    );
    assert_eq!(rig.sim.faults(), Faults::default());
    rig.server.shutdown().await;
}

#[tokio::test]
async fn partial_fills_fill_a_market_order_up_to_the_amount_and_expire_the_rest() {
    let rig = Rig::start_faulted(Faults {
        partial_fill_quote: Some(dec!(400)),
        ..Faults::default()
    })
    .await;
    rig.ex.place_order(&buy("part-1")).await.unwrap();
    let o = rig
        .ex
        .order("BTC", "USDT", "part-1")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(o.status, OrderStatus::Expired);
    // 400 USDT at 40000 is 0.01 BTC, of the 1000 USDT asked.
    assert_eq!(o.filled_quantity, dec!(0.01));
    assert_eq!(o.filled_quote, dec!(400));
    let fills = rig.ex.fills("BTC", "USDT", "part-1").await.unwrap();
    let qty: Decimal = fills.iter().map(|f| f.quantity).sum();
    assert_eq!(qty, dec!(0.01));
    assert_eq!(rig.balance("USDT").await.free, dec!(9600));

    // A resting limit order fills by parts, one per price step.
    let limit = OrderRequest::limit("part-2", "BTC", "USDT", Side::Buy, dec!(0.015), dec!(39000));
    rig.ex.place_order(&limit).await.unwrap();
    rig.advance(1_000);
    rig.sim.set_prices(&[("BTC", dec!(38000))]).await.unwrap();
    let o = rig
        .ex
        .order("BTC", "USDT", "part-2")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(o.status, OrderStatus::PartiallyFilled);
    assert!(o.filled_quantity > Decimal::ZERO && o.filled_quantity < dec!(0.015));

    // Partial fills are the engine's depth: they cannot change while the simulator runs.
    let e = rig
        .sim
        .set_faults(Faults::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("partial") && e.contains("400"), "{e}");
    rig.server.shutdown().await;
}
