//! OKX's request limits end to end: the simulator in strict mode (`okx-limits=strict`) refuses,
//! as OKX does with HTTP 429 `50011`, any request beyond its endpoint's count in the last 2 s.
//! Many bots on one account rebalance in one tick, which asks for more than those counts
//! allow in one window; the OKX client's budgets pace the burst, so no refusal comes and no
//! rate limit reaches the runtime: every order is filled, every rebalance completed.

use crate::common::*;
use smartfolio_store::OrderState;

/// Bots on the one account: two placements, two lookups and two fills reads each per
/// rebalance, so `/trade/fills` (60 per 2 s for the account) is asked 64 times in one tick;
/// their deploys read the balance (10 per 2 s) 32 times.
const BOTS: usize = 32;

#[tokio::test]
async fn many_bots_on_one_account_rebalance_at_once_within_okxs_limits() {
    let (sim, server) = simulator_with(Faults::parse("okx-limits=strict").unwrap()).await;
    let (mut n, _) = open_node(&server, tempfile::tempdir().unwrap()).await;
    n.tick().await;
    for i in 0..BOTS {
        n.run(Request::Create {
            spec: Box::new(CreateSpec {
                name: format!("bot{i}"),
                investment: Some(dec!(200)),
                ..spec()
            }),
        })
        .await;
    }
    n.tick().await;
    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    sim.take_calls();
    let r = n.tick().await;
    assert_eq!(r.rebalanced, BOTS, "{r:?}");

    let calls = sim.take_calls();
    let [_, _, fills] = VENUE.order_endpoints();
    let asked = calls.get(fills).map_or(0, |c| c.0);
    assert_eq!(asked, 2 * BOTS as u64, "{calls:?}");
    assert!(asked > 60, "the tick asks more than one window allows");
    assert_eq!(sim.limit_refusals(), 0, "no request was refused with 50011");

    let bots = &n.bots.rt.engine.bots;
    assert_eq!(bots.len(), BOTS);
    for bot in bots {
        assert_eq!(bot.state.status.word(), "running", "bot {}", bot.id);
        assert_eq!(bot.state.consecutive_failures, 0, "bot {}", bot.id);
        let orders = n.host.store.orders(bot.id).await.unwrap();
        assert_eq!(orders.len(), 4, "a deploy's two buys, a sell and a buy");
        for o in &orders {
            assert_eq!(
                (o.status, o.error.as_deref()),
                (OrderState::Filled, None),
                "bot {} leg {}: {o:?}",
                bot.id,
                o.client_id
            );
        }
        for rb in n.host.store.rebalances(bot.id).await.unwrap() {
            assert_eq!(rb.status, "completed", "bot {}: {rb:?}", bot.id);
        }
    }
    assert_client_ids_unique(&sim).await;
    server.shutdown().await;
}
