//! The client's per-endpoint budgets against a mock that refuses, as OKX does with `50011`, a
//! request beyond an endpoint's count in any 2 s (per instrument for orders): a burst is paced,
//! never refused, and an endpoint whose budget is used up holds no other. The client waits
//! through the mock's clock (its injected sleep), so the counts are exact and nothing sleeps.

mod common;

use common::{Mock, T, fixture, ok};
use rust_decimal_macros::dec;
use smartfolio_exchange::{Exchange, OrderLookup, OrderRequest, OrderSize, Side};
use std::time::Duration;

const PLACE: &str = "POST /api/v5/trade/order";
const LOOKUP: &str = "GET /api/v5/trade/order";
const BALANCE: &str = "GET /api/v5/account/balance";
/// What the client waits for a used-up budget: OKX's 2 s and the margin it keeps for a
/// request's time to arrive.
const WINDOW: Duration = Duration::from_millis(2_250);

fn buy(n: usize, base: &str) -> OrderRequest {
    OrderRequest::market(
        format!("sf{n}"),
        base,
        "USDT",
        Side::Buy,
        OrderSize::Quote(dec!(10)),
    )
}

/// A mock taking OKX's counts: 60 placements and 60 lookups per instrument, 10 balance reads.
async fn strict_okx() -> Mock {
    let m = Mock::start(vec![]).await;
    m.always(PLACE, ok(&fixture("order_placed.json")));
    m.always(LOOKUP, ok(&fixture("order_filled.json")));
    m.always(BALANCE, ok(&fixture("balance.json")));
    m.limit(PLACE, 60);
    m.limit(LOOKUP, 60);
    m.limit(BALANCE, 10);
    m
}

#[tokio::test]
async fn a_burst_beyond_an_endpoints_budget_is_paced_and_never_refused() {
    let m = strict_okx().await;
    for n in 0..150 {
        m.exchange
            .place_order(&buy(n, "BTC"))
            .await
            .unwrap_or_else(|e| panic!("placement {n}: {e}"));
    }
    assert_eq!(m.refused(), 0, "no 50011 reached the caller");
    // 60 at once, then each further 60 one window (and the client's arrival margin) later.
    assert_eq!(m.waits(), [WINDOW, WINDOW], "waits");
    assert_eq!(
        m.clock.load(std::sync::atomic::Ordering::SeqCst),
        T + 2 * WINDOW.as_millis() as i64
    );
    assert_eq!(m.seen().len(), 150);

    // The same burst of balance reads, on its budget of 10.
    for _ in 0..25 {
        m.exchange.balances().await.unwrap();
    }
    assert_eq!(m.refused(), 0);
    assert_eq!(m.waits().len(), 4, "two more windows: {:?}", m.waits());
}

#[tokio::test]
async fn an_endpoint_whose_budget_is_used_up_holds_no_other() {
    let m = strict_okx().await;
    for n in 0..60 {
        m.exchange.place_order(&buy(n, "BTC")).await.unwrap();
    }
    // BTC-USDT's placements are used up for this window: another pair, a lookup on the same
    // pair and the account are not held.
    m.exchange.place_order(&buy(60, "ETH")).await.unwrap();
    let found = m.exchange.order("BTC", "USDT", "sf1").await.unwrap();
    assert!(matches!(found, OrderLookup::Found(_)), "{found:?}");
    m.exchange.balances().await.unwrap();
    assert!(m.waits().is_empty(), "{:?}", m.waits());
    // The next BTC-USDT placement waits for the window.
    m.exchange.place_order(&buy(61, "BTC")).await.unwrap();
    assert_eq!(m.waits(), [WINDOW]);
    assert_eq!(m.refused(), 0);
}

#[tokio::test]
async fn without_budgets_the_strict_mock_refuses_the_61st_placement() {
    // The mock's own check, so the tests above prove pacing: the 61st placement in one window
    // sent straight (through a second client with an empty budget) is refused with 50011.
    let m = strict_okx().await;
    for n in 0..60 {
        m.exchange.place_order(&buy(n, "BTC")).await.unwrap();
    }
    let fresh = m.second_exchange();
    let e = fresh.place_order(&buy(60, "BTC")).await.unwrap_err();
    assert!(
        matches!(e, smartfolio_exchange::ExchangeError::RateLimited { .. }),
        "{e:?}"
    );
    assert_eq!(m.refused(), 1);
}
