//! The client's per-endpoint budgets, Gate's documented limits (`smartfolio_gate::limits`):
//! placing 10 a second per pair, every other spot endpoint 200 per 10 s. A burst is paced
//! (each window counted `ARRIVAL_MARGIN_MS` longer, as Gate counts by arrival), another pair
//! or endpoint is not held. The client waits through the mock's clock, so nothing sleeps.

mod common;

use common::{Mock, T, fixture, ok};
use rust_decimal_macros::dec;
use smartfolio_exchange::{Exchange, OrderRequest, OrderSize, Side};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// One second and the client's margin for a request's time to arrive.
const SECOND: Duration = Duration::from_millis(1_250);

/// Order `n`: a market buy of 10 USDT of `base`.
fn buy(n: usize, base: &str) -> OrderRequest {
    let spend = OrderSize::Quote(dec!(10));
    OrderRequest::market(format!("g{n}"), base, "USDT", Side::Buy, spend)
}

fn placements(m: &Mock, n: usize) {
    for _ in 0..n {
        m.push(ok(&fixture("order_market_buy.json")));
    }
}

#[tokio::test]
async fn a_burst_of_placements_on_one_pair_is_paced_ten_a_second_and_holds_no_other_pair() {
    let m = Mock::start(vec![]).await;
    placements(&m, 26);
    for n in 0..25 {
        m.exchange
            .place_order(&buy(n, "BTC"))
            .await
            .unwrap_or_else(|e| panic!("placement {n}: {e}"));
    }
    // 10 at once, then each further 10 one window later.
    assert_eq!(m.waits(), [SECOND, SECOND]);
    let now = m.clock.load(Ordering::SeqCst);
    assert_eq!(now, T + 2 * SECOND.as_millis() as i64);
    // BTC_USDT has 5 of its 10 in this window; ETH_USDT has all of its own.
    m.exchange.place_order(&buy(25, "ETH")).await.unwrap();
    assert_eq!(m.waits().len(), 2, "{:?}", m.waits());
    let pairs: Vec<bool> = m
        .seen()
        .iter()
        .map(|s| s.body.contains("\"currency_pair\":\"BTC_USDT\""))
        .collect();
    assert_eq!(pairs.iter().filter(|btc| **btc).count(), 25);
    assert_eq!(pairs.len(), 26);
}

#[tokio::test]
async fn reads_are_paced_at_200_per_10_s_each_and_lookups_share_one_budget_across_orders() {
    let m = Mock::start(vec![]).await;
    for _ in 0..201 {
        m.push(ok(&fixture("order_market_buy.json")));
    }
    // 201 lookups of different orders: one endpoint, one budget.
    for n in 0..201 {
        m.exchange
            .order("BTC", "USDT", &format!("sf{n}"))
            .await
            .unwrap_or_else(|e| panic!("lookup {n}: {e}"));
    }
    assert_eq!(m.waits(), [Duration::from_millis(10_250)]);
    // Another endpoint (the balances) is not held.
    m.push(ok(&fixture("accounts.json")));
    m.exchange.balances().await.unwrap();
    assert_eq!(m.waits().len(), 1);
}
