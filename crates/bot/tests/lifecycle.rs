mod common;

use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_bot::{BotError, BotStatus, CoinAmount, EntryPrice, StopMode};
use smartfolio_core::InstrumentRules;
use smartfolio_exchange::InstrumentStatus;
use smartfolio_exchange::paper::Fault;
use smartfolio_exchange::{ExchangeError, Side};
use smartfolio_store::Store;
use std::collections::BTreeMap;

/// A bot's rebalances (as the views show them) and orders, read from the store.
#[derive(Debug, serde::Serialize)]
struct History {
    rebalances: Vec<smartfolio_bot::RebalanceView>,
    orders: Vec<smartfolio_store::OrderRecord>,
}

async fn history(env: &Env, id: i64) -> History {
    let store = env.rt.store();
    History {
        rebalances: store
            .rebalances(id)
            .await
            .unwrap()
            .into_iter()
            .map(Into::into)
            .collect(),
        orders: store.orders(id).await.unwrap(),
    }
}

fn status(env: &Env, id: i64) -> BotStatus {
    let bi = env.rt.engine.index_of(id).unwrap();
    env.rt.engine.bots[bi].state.status.clone()
}

#[tokio::test]
async fn full_lifecycle_with_exact_ledgers() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(10000)).await;
    env.prices(T0, &[("BTC", dec!(100)), ("ETH", dec!(100))])
        .await;
    let id = env
        .rt
        .create(cfg("alpha", "BTC=50,ETH=50", "threshold:3", dec!(100)))
        .await
        .unwrap();
    assert_eq!(status(&env, id), BotStatus::Created);
    assert_eq!(
        env.ledger(id).await,
        [("USDT".to_string(), dec!(100))].into()
    );

    // The first tick deploys: 50 USDT each.
    let r = env
        .tick(T0, &[("BTC", dec!(100)), ("ETH", dec!(100))])
        .await;
    assert_eq!(r.deployed, 1);
    assert_eq!(status(&env, id), BotStatus::Running);
    assert_eq!(
        env.ledger(id).await,
        [
            ("BTC".to_string(), dec!(0.5)),
            ("ETH".to_string(), dec!(0.5))
        ]
        .into()
    );

    // SPEC §7 example 2: BTC's holding rises to 60, ETH's to 80 → sell 10 of ETH, buy 10 of BTC.
    let t1 = T0 + 10 * MIN;
    let r = env
        .tick(t1, &[("BTC", dec!(120)), ("ETH", dec!(160))])
        .await;
    assert_eq!(r.rebalanced, 1);
    let l = env.ledger(id).await;
    assert_eq!(l["ETH"], dec!(0.5) - dec!(10) / dec!(160));
    assert_eq!(l["BTC"], dec!(0.5) + dec!(10) / dec!(120));
    let btc_value = l["BTC"] * dec!(120);
    let eth_value = l["ETH"] * dec!(160);
    assert!((btc_value - dec!(70)).abs() < dec!(1e-20), "{btc_value}");
    assert_eq!(eth_value, dec!(70));
    let hist = history(&env, id).await;
    assert_eq!(hist.rebalances.len(), 2);
    let s = hist.rebalances[1].summary.clone().unwrap();
    assert_eq!(s.status, "completed");
    assert_eq!(s.legs_planned, 2);
    assert_eq!(s.legs_filled, 2);
    assert_eq!(s.legs[0].side, "sell");
    assert_eq!(s.legs[0].asset, "ETH");

    // Invest 40 more: the plan buys 20 of each.
    let l0 = env.ledger(id).await;
    env.clock.set(t1 + 20 * MIN);
    env.rt.invest(id, dec!(40), vec![]).await.unwrap();
    let l = env.ledger(id).await;
    assert_eq!(l["BTC"], l0["BTC"] + dec!(20) / dec!(120));
    assert_eq!(l["ETH"], l0["ETH"] + dec!(20) / dec!(160));
    let view = env.rt.show(id).await.unwrap();
    assert_eq!(view.summary.net_invested, dec!(140));

    // Withdraw 30, pro rata: sells 15 of each, the bot's ledger loses 30 USDT worth.
    let w = env.rt.withdraw(id, dec!(30), false).await.unwrap();
    assert_eq!(w.withdrawn, dec!(30));
    let l = env.ledger(id).await;
    let v: Decimal = l.get("BTC").unwrap() * dec!(120)
        + l.get("ETH").unwrap() * dec!(160)
        + l.get("USDT").copied().unwrap_or_default();
    assert!(
        (v - dec!(150)).abs() < dec!(1e-18),
        "value after withdrawal {v}"
    );
    assert_eq!(
        env.rt.show(id).await.unwrap().summary.net_invested,
        dec!(110)
    );

    // Modify: the change trades nothing now; the next tick plans with the new targets.
    let orders_before = env.store.orders(id).await.unwrap().len();
    env.rt
        .modify(id, Some("BTC=50,SOL=50"), None, Some(0))
        .await
        .unwrap();
    assert_eq!(env.store.orders(id).await.unwrap().len(), orders_before);
    let t2 = t1 + 60 * MIN;
    let r = env
        .tick(
            t2,
            &[("BTC", dec!(120)), ("ETH", dec!(160)), ("SOL", dec!(10))],
        )
        .await;
    assert_eq!(r.rebalanced, 1);
    let l = env.ledger(id).await;
    assert!(!l.contains_key("ETH"), "ETH sold out: {l:?}");
    assert!(l["SOL"] > Decimal::ZERO);

    // Pause: drift does nothing; resume: the next tick rebalances.
    env.rt.pause(id).await.unwrap();
    let t3 = t2 + 60 * MIN;
    let r = env
        .tick(
            t3,
            &[("BTC", dec!(200)), ("ETH", dec!(160)), ("SOL", dec!(10))],
        )
        .await;
    assert_eq!(r.rebalanced, 0);
    assert_eq!(status(&env, id), BotStatus::Paused);
    env.rt.resume(id).await.unwrap();
    let r = env
        .tick(
            t3 + MIN,
            &[("BTC", dec!(200)), ("ETH", dec!(160)), ("SOL", dec!(10))],
        )
        .await;
    assert_eq!(r.rebalanced, 1);

    // Stop, selling everything: the ledger is closed, the account holds only USDT.
    let report = env.rt.stop(id, StopMode::SellAll, "done").await.unwrap();
    assert!(env.ledger(id).await.is_empty());
    assert_eq!(report.released.len(), 1);
    assert_eq!(report.released[0].0, "USDT");
    assert_eq!(report.net_invested, dec!(110));
    assert_eq!(report.pnl, report.final_value - dec!(110));
    let account = env.account().await;
    assert_eq!(account.keys().collect::<Vec<_>>(), vec!["USDT"]);
    // Everything the bot made went back to the account: 10000 − 100 − 40 + 30 + final value.
    assert_eq!(account["USDT"], dec!(9890) + report.final_value);
    assert!(matches!(status(&env, id), BotStatus::Stopped { .. }));

    // A stopped bot cannot be changed, and the refusal changes nothing.
    let e = env
        .rt
        .modify(id, Some("BTC=100"), None, None)
        .await
        .unwrap_err();
    assert!(matches!(e, BotError::WrongState { .. }), "{e}");
    assert!(e.to_string().contains("stopped"), "{e}");
    let e = env.rt.invest(id, dec!(100), vec![]).await.unwrap_err();
    assert!(matches!(e, BotError::WrongState { .. }), "{e}");
    assert!(env.ledger(id).await.is_empty());
    assert_unique(&env.venue_client_ids().await);
}

#[tokio::test]
async fn stop_keeping_coins_releases_them() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    env.prices(T0, &[("BTC", dec!(100)), ("ETH", dec!(50))])
        .await;
    let id = env
        .rt
        .create(cfg("keep", "BTC=50,ETH=50", "threshold:3", dec!(200)))
        .await
        .unwrap();
    env.rt.deploy(id).await.unwrap();
    let report = env.rt.stop(id, StopMode::KeepCoins, "user").await.unwrap();
    assert_eq!(
        report.released,
        vec![("BTC".to_string(), dec!(1)), ("ETH".to_string(), dec!(2))]
    );
    assert!(env.ledger(id).await.is_empty());
    let account = env.account().await;
    assert_eq!(account["BTC"], dec!(1));
    assert_eq!(account["ETH"], dec!(2));
    assert_eq!(account["USDT"], dec!(800));
    // Released coins are unallocated: a new bot may take them in.
    let mut c = cfg("heir", "BTC=50,ETH=50", "threshold:3", Decimal::ZERO);
    c.investment.coins = vec![
        CoinAmount {
            asset: "BTC".into(),
            quantity: dec!(1),
            basis: None,
        },
        CoinAmount {
            asset: "ETH".into(),
            quantity: dec!(2),
            basis: None,
        },
    ];
    let heir = env.rt.create(c).await.unwrap();
    // Coins already on target: the deploy trades nothing.
    assert!(env.rt.deploy(heir).await.unwrap().is_none());
    assert_eq!(env.ledger(heir).await["BTC"], dec!(1));
    assert!(env.store.orders(heir).await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_changes() {
    let rules = InstrumentRules {
        lot_step: Some(dec!(0.001)),
        min_notional: Some(dec!(10)),
        ..Default::default()
    };
    let mut env = Env::new(dec!(0.001), Some(rules), dec!(1000)).await;
    env.prices(T0, &[("BTC", dec!(100)), ("ETH", dec!(100))])
        .await;
    // Minimum: 10 / 0.5 = 20, plus one lot (0.001 × 100 / 0.5 = 0.2).
    let e = env
        .rt
        .create(cfg("tiny", "BTC=50,ETH=50", "threshold:3", dec!(19)))
        .await
        .unwrap_err();
    match &e {
        BotError::BelowMinimum { minimum, value, .. } => {
            assert_eq!(*minimum, dec!(20.2));
            assert_eq!(*value, dec!(19));
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("20.2"), "{e}");
    assert!(env.store.list_bots().await.unwrap().is_empty());

    let id = env
        .rt
        .create(cfg("ok", "BTC=50,ETH=50", "threshold:3", dec!(100)))
        .await
        .unwrap();
    env.rt.deploy(id).await.unwrap();
    let before = env.ledger(id).await;
    let flows = env.store.flows(id).await.unwrap().len();

    let e = env.rt.invest(id, dec!(5), vec![]).await.unwrap_err();
    assert!(matches!(e, BotError::BelowMinimum { .. }), "{e}");
    let e = env.rt.withdraw(id, dec!(1000), false).await.unwrap_err();
    assert!(matches!(e, BotError::OverWithdrawal { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("bot `ok` cannot deliver a withdrawal of 1000 USDT: it holds"),
        "{e}"
    );
    let e = env.rt.invest(id, dec!(5000), vec![]).await.unwrap_err();
    assert!(matches!(e, BotError::InsufficientFunds { .. }), "{e}");
    let e = env
        .rt
        .modify(id, Some("BTC=60,ETH=30"), None, None)
        .await
        .unwrap_err();
    assert!(matches!(e, BotError::Invalid(_)), "{e}");
    let e = env
        .rt
        .modify(id, Some("BTC=50,DOGE=50"), None, None)
        .await
        .unwrap_err();
    assert!(matches!(e, BotError::UnknownInstrument { .. }), "{e}");
    assert!(matches!(
        env.rt.resolve("nobody"),
        Err(BotError::UnknownBot(_))
    ));
    assert!(matches!(
        env.rt.show(999).await,
        Err(BotError::UnknownBot(_))
    ));
    let e = env
        .rt
        .create(cfg("ok", "BTC=50,ETH=50", "threshold:3", dec!(100)))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("name"), "{e}");

    assert_eq!(env.ledger(id).await, before);
    assert_eq!(env.store.flows(id).await.unwrap().len(), flows);
    assert_eq!(
        env.rt.show(id).await.unwrap().config.targets,
        "BTC=50,ETH=50"
    );
}

#[tokio::test]
async fn spec_example_1_through_the_runtime() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(20000)).await;
    let p0 = [
        ("BTC", dec!(50000)),
        ("ETH", dec!(2500)),
        ("SOL", dec!(100)),
    ];
    env.prices(T0, &p0).await;
    let id = env
        .rt
        .create(cfg(
            "ex1",
            "BTC=50,ETH=30,SOL=20",
            "threshold:2",
            dec!(10000),
        ))
        .await
        .unwrap();
    env.rt.deploy(id).await.unwrap();
    let l = env.ledger(id).await;
    assert_eq!(l["BTC"], dec!(0.1));
    assert_eq!(l["ETH"], dec!(1.2));
    assert_eq!(l["SOL"], dec!(20));
    // BTC's holding is worth 5,500, ETH's 2,850, SOL's 2,100 (total 10,450).
    let t1 = T0 + 10 * MIN;
    env.tick(
        t1,
        &[
            ("BTC", dec!(55000)),
            ("ETH", dec!(2375)),
            ("SOL", dec!(105)),
        ],
    )
    .await;
    let s = history(&env, id).await.rebalances[1]
        .summary
        .clone()
        .unwrap();
    let legs: Vec<(String, String, Decimal)> = s
        .legs
        .iter()
        .map(|l| (l.asset.clone(), l.side.clone(), l.filled_quantity))
        .collect();
    assert_eq!(
        legs,
        vec![
            ("BTC".into(), "sell".into(), dec!(275) / dec!(55000)),
            ("SOL".into(), "sell".into(), dec!(10) / dec!(105)),
            ("ETH".into(), "buy".into(), dec!(285) / dec!(2375)),
        ]
    );
    let l = env.ledger(id).await;
    assert_eq!(l["BTC"] * dec!(55000), dec!(5225));
    assert_eq!(l["ETH"] * dec!(2375), dec!(3135));
    assert!((l["SOL"] * dec!(105) - dec!(2090)).abs() < dec!(1e-20));
}

#[tokio::test]
async fn spec_example_3_threshold_and_cooldown() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(2000)).await;
    env.prices(T0, &[("BTC", dec!(1)), ("ETH", dec!(1))]).await;
    let mut c = cfg("ex3", "BTC=50,ETH=50", "threshold:3", dec!(1000));
    c.cooldown_ms = 5 * MIN;
    let id = env.rt.create(c).await.unwrap();
    env.tick(T0, &[("BTC", dec!(1)), ("ETH", dec!(1))]).await;
    // 52% is 2 pp off: nothing.
    let r = env
        .tick(T0 + 10 * MIN, &[("BTC", dec!(1.04)), ("ETH", dec!(0.96))])
        .await;
    assert_eq!(r.rebalanced, 0);
    // 53%: rebalances.
    let r = env
        .tick(T0 + 11 * MIN, &[("BTC", dec!(1.06)), ("ETH", dec!(0.94))])
        .await;
    assert_eq!(r.rebalanced, 1);
    // Inside the cooldown a bigger drift waits...
    let r = env
        .tick(T0 + 12 * MIN, &[("BTC", dec!(1.5)), ("ETH", dec!(0.94))])
        .await;
    assert_eq!(r.rebalanced, 0);
    // ... and fires once it is over.
    let r = env
        .tick(T0 + 16 * MIN, &[("BTC", dec!(1.5)), ("ETH", dec!(0.94))])
        .await;
    assert_eq!(r.rebalanced, 1);
    assert_eq!(history(&env, id).await.rebalances.len(), 3);
}

#[tokio::test]
async fn suspends_on_halt_and_stale_prices_then_resumes() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    let p = [("BTC", dec!(100)), ("ETH", dec!(100))];
    env.prices(T0, &p).await;
    let mut c = cfg("s", "BTC=50,ETH=50", "threshold:3", dec!(100));
    c.max_tick_age_ms = 2 * MIN;
    let id = env.rt.create(c).await.unwrap();
    env.tick(T0, &p).await;
    env.ex.set_status("ETH", InstrumentStatus::Halted).unwrap();
    let r = env
        .tick(T0 + MIN, &[("BTC", dec!(200)), ("ETH", dec!(100))])
        .await;
    assert_eq!(r.suspended, 1, "{r:?} {:?}", status(&env, id));
    assert_eq!(r.rebalanced, 0);
    match status(&env, id) {
        BotStatus::Suspended { reason, .. } => {
            assert!(reason.contains("ETH is halted"), "{reason}")
        }
        s => panic!("{s:?}"),
    }
    let before = env.ledger(id).await;
    env.tick(T0 + 2 * MIN, &[("BTC", dec!(200)), ("ETH", dec!(100))])
        .await;
    assert_eq!(env.ledger(id).await, before, "no trading while suspended");
    env.ex.set_status("ETH", InstrumentStatus::Trading).unwrap();
    let r = env
        .tick(T0 + 3 * MIN, &[("BTC", dec!(200)), ("ETH", dec!(100))])
        .await;
    assert_eq!(r.resumed, 1);
    // (the deploy at T0 started a 5-minute cooldown)
    let r = env
        .tick(T0 + 6 * MIN, &[("BTC", dec!(200)), ("ETH", dec!(100))])
        .await;
    assert_eq!(r.rebalanced, 1);

    // Only BTC is priced for a while: ETH's price goes stale.
    env.tick(T0 + 20 * MIN, &[("BTC", dec!(200))]).await;
    match status(&env, id) {
        BotStatus::Suspended { reason, .. } => {
            assert!(reason.contains("stale price: ETH"), "{reason}")
        }
        s => panic!("{s:?}"),
    }
    let r = env
        .tick(T0 + 21 * MIN, &[("BTC", dec!(200)), ("ETH", dec!(100))])
        .await;
    assert_eq!(r.resumed, 1);
}

#[tokio::test]
async fn circuit_breaker_suspends_without_selling_and_recovers() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    let p = [("BTC", dec!(100)), ("ETH", dec!(100))];
    env.prices(T0, &p).await;
    let mut c = cfg("cb", "BTC=50,ETH=50", "threshold:3", dec!(100));
    c.breaker_failures = 3;
    c.max_retries = 2;
    c.cooldown_ms = 0;
    c.breaker_cooloff_ms = 10 * MIN;
    c.max_tick_age_ms = 60 * MIN;
    let id = env.rt.create(c).await.unwrap();
    env.tick(T0, &p).await;
    let held = env.ledger(id).await;
    env.ex.set_fault(Fault::FailAlways(ExchangeError::Transient(
        "venue down".into(),
    )));
    let moved = [("BTC", dec!(150)), ("ETH", dec!(100))];
    for k in 1..=5 {
        env.tick(T0 + k * MIN, &moved).await;
    }
    match status(&env, id) {
        BotStatus::Suspended {
            reason, breaker, ..
        } => {
            assert!(breaker);
            assert!(reason.contains("circuit breaker"), "{reason}");
        }
        s => panic!("{s:?}"),
    }
    assert_eq!(env.ledger(id).await, held, "nothing sold during the outage");
    // Venue back; after the cool-off the bot reconciles, resumes and rebalances.
    env.ex.set_fault(Fault::None);
    for k in 20..24 {
        env.tick(T0 + k * MIN, &moved).await;
    }
    assert_eq!(status(&env, id), BotStatus::Running);
    let l = env.ledger(id).await;
    assert!(
        (l["BTC"] * dec!(150) - l["ETH"] * dec!(100)).abs() < dec!(1e-18),
        "{l:?}"
    );
    assert_unique(&env.venue_client_ids().await);
    let orders = env.store.orders(id).await.unwrap();
    assert!(
        orders
            .iter()
            .any(|o| o.status == smartfolio_store::OrderState::NotSent)
    );
}

/// A venue that asks us to wait (429 with a long `Retry-After`) is not failing: placements it
/// holds back are recorded as not sent and planned again once it lets us send, and however
/// many there are the breaker stays closed (the crash test found a bot suspended for 15
/// minutes after five order-rate refusals in a row).
#[tokio::test]
async fn rate_limited_placements_never_trip_the_breaker() {
    let (mut env, id, held) = deployed_with_breaker(3).await;
    // The next placement is refused: the venue's order rate is used up for ten minutes.
    env.ex
        .set_fault(Fault::FailNextOrder(ExchangeError::RateLimited {
            retry_after_ms: 10 * MIN as u64,
        }));
    held_back_ticks(&mut env, id).await;
    assert_eq!(env.ledger(id).await, held, "nothing traded while held back");
    let orders = env.store.orders(id).await.unwrap();
    let not_sent: Vec<_> = orders
        .iter()
        .filter(|o| o.status == smartfolio_store::OrderState::NotSent)
        .collect();
    assert!(
        orders.iter().all(|o| o.status.is_final()),
        "every order held back is settled: {orders:?}"
    );
    // Only the order the venue refused: while the limit holds, the rebalance waits rather than
    // storing orders that could not be sent.
    assert_eq!(not_sent.len(), 1, "{orders:?}");
    assert_eq!(
        env.store.rebalances(id).await.unwrap().len(),
        2,
        "the deploy and one try"
    );
    assert_eq!(env.venue_client_ids().await.len(), 2, "only the deploy's");
    // Once the limit lifts, the next tick rebalances.
    let r = env.tick(T0 + 12 * MIN, &MOVED).await;
    assert_eq!(r.rebalanced, 1);
    assert_eq!(status(&env, id), BotStatus::Running);
    assert_rebalanced(&env, id).await;
}

/// As above with every call rate-limited, lookups too: the orders whose outcome that leaves
/// unknown are followed until the venue answers, and the breaker stays closed.
#[tokio::test]
async fn rate_limited_lookups_leave_orders_pending_not_the_breaker_open() {
    // One failure would open the breaker.
    let (mut env, id, held) = deployed_with_breaker(1).await;
    env.ex
        .set_fault(Fault::FailAlways(ExchangeError::RateLimited {
            retry_after_ms: 10 * MIN as u64,
        }));
    held_back_ticks(&mut env, id).await;
    assert_eq!(env.ledger(id).await, held);
    env.ex.set_fault(Fault::None);
    for k in 12..16 {
        env.tick(T0 + k * MIN, &MOVED).await;
    }
    assert_eq!(status(&env, id), BotStatus::Running);
    let orders = env.store.orders(id).await.unwrap();
    assert!(orders.iter().all(|o| o.status.is_final()), "{orders:?}");
    assert_rebalanced(&env, id).await;
}

/// A 50/50 bot deployed at 100/100 with its breaker opening after `failures` venue failures in
/// a row: the env, the bot and its ledger.
async fn deployed_with_breaker(failures: u32) -> (Env, i64, BTreeMap<String, Decimal>) {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    let p = [("BTC", dec!(100)), ("ETH", dec!(100))];
    env.prices(T0, &p).await;
    let mut c = cfg("rl", "BTC=50,ETH=50", "threshold:3", dec!(100));
    c.breaker_failures = failures;
    c.max_retries = 2;
    c.cooldown_ms = 0;
    c.max_tick_age_ms = 60 * MIN;
    let id = env.rt.create(c).await.unwrap();
    env.tick(T0, &p).await;
    let held = env.ledger(id).await;
    (env, id, held)
}

/// BTC at 150 (a rebalance due) for six ticks a minute apart, the venue holding orders back:
/// the bot keeps running.
async fn held_back_ticks(env: &mut Env, id: i64) {
    for k in 1..=6 {
        env.tick(T0 + k * MIN, &MOVED).await;
        assert_eq!(status(env, id), BotStatus::Running, "tick {k}");
    }
}

const MOVED: [(&str, Decimal); 2] = [("BTC", dec!(150)), ("ETH", dec!(100))];

/// The bot holds BTC and ETH in equal value at [`MOVED`]'s prices, each order under its own id.
async fn assert_rebalanced(env: &Env, id: i64) {
    let l = env.ledger(id).await;
    assert!(
        (l["BTC"] * dec!(150) - l["ETH"] * dec!(100)).abs() < dec!(1e-18),
        "{l:?}"
    );
    assert_unique(&env.venue_client_ids().await);
}

#[tokio::test]
async fn stop_loss_sells_to_quote_and_stops() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    let p = [("BTC", dec!(100)), ("ETH", dec!(100))];
    env.prices(T0, &p).await;
    let mut c = cfg("sl", "BTC=50,ETH=50", "threshold:50", dec!(100));
    c.stop_loss_pct = Some(dec!(20));
    let id = env.rt.create(c).await.unwrap();
    env.tick(T0, &p).await;
    // Value 0.5×70 + 0.5×90 = 80: −20%, a tie, counts.
    let r = env
        .tick(T0 + MIN, &[("BTC", dec!(70)), ("ETH", dec!(90))])
        .await;
    assert_eq!(r.stopped, 1);
    match status(&env, id) {
        BotStatus::Stopped { report } => {
            assert!(report.reason.contains("stop-loss"), "{}", report.reason);
            assert_eq!(report.final_value, dec!(80));
            assert_eq!(report.released, vec![("USDT".to_string(), dec!(80))]);
        }
        s => panic!("{s:?}"),
    }
    assert!(env.ledger(id).await.is_empty());
    assert_eq!(env.account().await["USDT"], dec!(980));
}

#[tokio::test]
async fn entry_price_defers_the_initial_buy() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    env.prices(T0, &[("BTC", dec!(100)), ("ETH", dec!(100))])
        .await;
    let mut c = cfg("entry", "BTC=50,ETH=50", "threshold:3", dec!(100));
    c.entry_prices = vec![EntryPrice {
        asset: "ETH".into(),
        price: dec!(90),
    }];
    c.cooldown_ms = MIN;
    let id = env.rt.create(c).await.unwrap();
    env.tick(T0, &[("BTC", dec!(100)), ("ETH", dec!(100))])
        .await;
    let l = env.ledger(id).await;
    assert_eq!(l["BTC"], dec!(0.5));
    assert!(!l.contains_key("ETH"));
    assert_eq!(l["USDT"], dec!(50));
    env.tick(T0 + 5 * MIN, &[("BTC", dec!(100)), ("ETH", dec!(95))])
        .await;
    assert!(!env.ledger(id).await.contains_key("ETH"));
    env.tick(T0 + 10 * MIN, &[("BTC", dec!(100)), ("ETH", dec!(90))])
        .await;
    let l = env.ledger(id).await;
    assert!(
        (l["ETH"] * dec!(90) - dec!(50)).abs() < dec!(1e-20),
        "{l:?}"
    );
    assert!(l.get("USDT").copied().unwrap_or_default() >= Decimal::ZERO);
}

#[tokio::test]
async fn two_bots_on_one_account_stay_isolated() {
    let mut env = Env::new(dec!(0.001), None, dec!(300)).await;
    let p = [("BTC", dec!(100)), ("ETH", dec!(100)), ("SOL", dec!(10))];
    env.prices(T0, &p).await;
    let mut a = cfg("a", "BTC=50,ETH=50", "threshold:3", dec!(150));
    a.fee_rate = dec!(0.001);
    let mut b = cfg("b", "BTC=50,SOL=50", "threshold:3", dec!(150));
    b.fee_rate = dec!(0.001);
    let ia = env.rt.create(a).await.unwrap();
    let ib = env.rt.create(b).await.unwrap();
    // The account is fully allocated: a third bot is refused.
    let e = env
        .rt
        .create(cfg("c", "BTC=50,ETH=50", "threshold:3", dec!(10)))
        .await
        .unwrap_err();
    assert!(matches!(e, BotError::InsufficientFunds { .. }), "{e}");
    env.tick(T0, &p).await;
    for (k, btc) in [(1, dec!(130)), (10, dec!(90)), (20, dec!(140))] {
        env.tick(
            T0 + k * MIN,
            &[("BTC", btc), ("ETH", dec!(100)), ("SOL", dec!(10))],
        )
        .await;
    }
    let iso = env.rt.check_isolation().await.unwrap();
    assert!(iso.ok, "{iso:?}");
    // With both bots holding the whole account, the ledgers add up to the account exactly.
    let la = env.ledger(ia).await;
    let lb = env.ledger(ib).await;
    let account = env.account().await;
    for (asset, total) in &account {
        let sum =
            la.get(asset).copied().unwrap_or_default() + lb.get(asset).copied().unwrap_or_default();
        assert_eq!(sum, *total, "{asset}");
    }
    assert!(!la.contains_key("SOL"));
    assert!(!lb.contains_key("ETH"));
    let fills = env.store.fills(ia).await.unwrap();
    assert!(fills.iter().all(|f| f.base != "SOL"));
    assert!(
        fills
            .iter()
            .any(|f| f.side == Side::Buy.as_str() && f.fee_asset == "BTC")
    );
}

#[tokio::test]
async fn snapshots_pnl_and_rebalancing_gain() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    let day = 86_400_000;
    let t0 = (T0 / day + 1) * day - 2 * 3_600_000; // 22:00 UTC
    let p = [("BTC", dec!(100)), ("ETH", dec!(100))];
    env.prices(t0, &p).await;
    let mut c = cfg("pnl", "BTC=50,ETH=50", "threshold:10", dec!(200));
    c.snapshot_interval_ms = 3_600_000;
    c.max_tick_age_ms = 10 * 3_600_000;
    let id = env.rt.create(c).await.unwrap();
    env.tick(t0, &p).await; // deploy + snapshot at 22:00
    env.tick(t0 + 30 * MIN, &p).await; // no snapshot: not due
    assert_eq!(env.store.snapshots(id).await.unwrap().len(), 1);
    env.tick(t0 + 2 * 3_600_000, &p).await; // 00:00 UTC: a snapshot starts the day
    // BTC doubles at 01:00: 1 BTC worth 200 and 1 ETH worth 100; the bot rebalances to 150/150.
    env.tick(
        t0 + 3 * 3_600_000,
        &[("BTC", dec!(200)), ("ETH", dec!(100))],
    )
    .await;
    let snaps = env.store.snapshots(id).await.unwrap();
    assert_eq!(snaps.len(), 3);
    assert_eq!(snaps[1].value, dec!(200));
    // Value 300 and hold value 300 at these prices; all of the 100 gained today.
    env.clock.set(t0 + 3 * 3_600_000);
    let v = env.rt.show(id).await.unwrap();
    let pnl = v.pnl.unwrap();
    assert_eq!(pnl.value, dec!(300));
    assert_eq!(pnl.total, dec!(100));
    assert_eq!(pnl.today, Some(dec!(100)));
    assert_eq!(pnl.hold_value, dec!(300));
    assert_eq!(pnl.rebalancing_gain, Decimal::ZERO);
    // BTC falls back: the rebalanced basket (0.75 BTC, 1.5 ETH) beats holding (1 BTC, 1 ETH).
    env.tick(
        t0 + 4 * 3_600_000,
        &[("BTC", dec!(100)), ("ETH", dec!(100))],
    )
    .await;
    let pnl = env.rt.show(id).await.unwrap().pnl.unwrap();
    assert_eq!(pnl.hold_value, dec!(200));
    assert!(pnl.rebalancing_gain > Decimal::ZERO, "{pnl:?}");
    // A deposit today does not count as today's profit.
    env.rt.invest(id, dec!(100), vec![]).await.unwrap();
    let pnl2 = env.rt.show(id).await.unwrap().pnl.unwrap();
    assert_eq!(pnl2.today, pnl.today);
    assert_eq!(pnl2.net_invested, dec!(300));
    // Every view serializes for `--json`.
    let json = serde_json::to_value(env.rt.show(id).await.unwrap()).unwrap();
    assert_eq!(json["summary"]["name"], "pnl");
    assert_eq!(json["config"]["trigger"], "threshold:10");
    assert_eq!(json["pnl"]["net_invested"], "300");
    let json = serde_json::to_value(history(&env, id).await).unwrap();
    assert_eq!(json["rebalances"][0]["kind"], "deploy");
    assert!(
        serde_json::to_string(&env.rt.list())
            .unwrap()
            .contains("\"status\":\"running\"")
    );
}

#[tokio::test]
async fn withdraw_from_overweights_sells_only_the_overweight() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    let p = [("BTC", dec!(100)), ("ETH", dec!(100))];
    env.prices(T0, &p).await;
    let id = env
        .rt
        .create(cfg("w", "BTC=50,ETH=50", "threshold:30", dec!(200)))
        .await
        .unwrap();
    env.rt.deploy(id).await.unwrap();
    // 1 BTC and 1 ETH; BTC rises to 140: BTC is 140 of 240, overweight against 50%.
    env.prices(T0 + MIN, &[("BTC", dec!(140)), ("ETH", dec!(100))])
        .await;
    let w = env.rt.withdraw(id, dec!(20), true).await.unwrap();
    assert_eq!(w.withdrawn, dec!(20));
    let l = env.ledger(id).await;
    assert_eq!(l["ETH"], dec!(1), "ETH is underweight and untouched");
    assert!(l["BTC"] < dec!(1));
    assert!(
        env.store
            .orders(id)
            .await
            .unwrap()
            .iter()
            .all(|o| o.base == "BTC" || o.side == "buy")
    );
}

#[tokio::test]
async fn deploy_with_coins_trades_only_the_difference() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(100)).await;
    env.ex.deposit("BTC", dec!(1)).await.unwrap();
    env.prices(T0, &[("BTC", dec!(100)), ("ETH", dec!(50))])
        .await;
    let mut c = cfg("coins", "BTC=50,ETH=50", "threshold:3", dec!(100));
    c.investment.coins = vec![CoinAmount {
        asset: "btc".into(),
        quantity: dec!(1),
        basis: None,
    }];
    let id = env.rt.create(c).await.unwrap();
    assert_eq!(
        env.rt.show(id).await.unwrap().summary.net_invested,
        dec!(200)
    );
    env.rt.deploy(id).await.unwrap();
    let orders = env.store.orders(id).await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].base, "ETH");
    assert_eq!(orders[0].quantity, dec!(2));
    assert_eq!(env.ledger(id).await, env.account().await);
    // More coins later: the plan sells only what the new coins put over target.
    env.ex.deposit("ETH", dec!(2)).await.unwrap();
    env.rt
        .invest(
            id,
            Decimal::ZERO,
            vec![CoinAmount {
                asset: "ETH".into(),
                quantity: dec!(2),
                basis: None,
            }],
        )
        .await
        .unwrap();
    let l = env.ledger(id).await;
    assert_eq!(l["BTC"] * dec!(100), dec!(150));
    assert_eq!(l["ETH"] * dec!(50), dec!(150));
}

#[tokio::test]
async fn a_corrupt_stored_config_is_a_clear_error() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    env.prices(T0, &[("BTC", dec!(100)), ("ETH", dec!(100))])
        .await;
    let id = env
        .rt
        .create(cfg("broken", "BTC=50,ETH=50", "threshold:3", dec!(100)))
        .await
        .unwrap();
    let rec = env.store.bot(id).await.unwrap().unwrap();
    env.store
        .update_bot(&smartfolio_store::BotUpdate {
            id,
            status: rec.status.clone(),
            state: rec.state.clone(),
            config: Some("{\"name\": 42".into()),
            time_ms: T0,
        })
        .await
        .unwrap();
    let e = env.rt.load().await.unwrap_err();
    assert!(matches!(e, BotError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("`broken`"), "{e}");
    assert!(e.to_string().contains("config"), "{e}");
}

#[tokio::test]
async fn rate_limits_are_retried_and_rejections_skip_the_leg() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(100)).await;
    let p = [("BTC", dec!(100)), ("ETH", dec!(100)), ("SOL", dec!(10))];
    env.prices(T0, &p).await;
    let id = env
        .rt
        .create(cfg("rl", "BTC=40,ETH=30,SOL=30", "threshold:3", dec!(100)))
        .await
        .unwrap();
    // The first placement is rate limited: retried under the same client id, it fills.
    env.ex
        .set_fault(Fault::FailNextOrder(ExchangeError::RateLimited {
            retry_after_ms: 1,
        }));
    env.rt.deploy(id).await.unwrap();
    let orders = env.store.orders(id).await.unwrap();
    assert_eq!(orders.len(), 3);
    assert!(
        orders
            .iter()
            .all(|o| o.status == smartfolio_store::OrderState::Filled)
    );
    assert_eq!(env.venue_client_ids().await.len(), 3);
    // A rejected sell is recorded and skipped; the buys it was to fund are sized to the bot's
    // own cash (none), never to the account's.
    env.ex.set_fault(Fault::RejectNext);
    let r = env
        .tick(
            T0 + 10 * MIN,
            &[("BTC", dec!(150)), ("ETH", dec!(100)), ("SOL", dec!(10))],
        )
        .await;
    assert_eq!(r.rebalanced, 1);
    let s = history(&env, id).await.rebalances[1]
        .summary
        .clone()
        .unwrap();
    assert_eq!(s.status, "partial");
    assert_eq!(s.legs[0].outcome, "rejected");
    assert_eq!(s.legs[0].asset, "BTC");
    assert!(
        s.legs[1..]
            .iter()
            .all(|l| l.outcome == "skipped" && l.detail.contains("bot's cash 0")),
        "{s:?}"
    );
    let rejected = env
        .store
        .orders(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.status == smartfolio_store::OrderState::Rejected)
        .count();
    assert_eq!(rejected, 1);
    assert_eq!(env.ledger(id).await, env.account().await);
    let bi = env.rt.engine.index_of(id).unwrap();
    assert_eq!(env.rt.engine.bots[bi].state.consecutive_failures, 0);
    // After the cooldown the drift is still there and the next rebalance goes through.
    let r = env
        .tick(
            T0 + 20 * MIN,
            &[("BTC", dec!(150)), ("ETH", dec!(100)), ("SOL", dec!(10))],
        )
        .await;
    assert_eq!(r.rebalanced, 1);
    let s = history(&env, id).await.rebalances[2]
        .summary
        .clone()
        .unwrap();
    assert_eq!(s.status, "completed", "{s:?}");
    assert_eq!(env.ledger(id).await, env.account().await);
}

/// A schedule tick that falls while the process is down fires once at the first tick after the
/// restart, not a day late.
#[tokio::test]
async fn a_schedule_tick_missed_while_down_fires_once_after_restart() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(2000)).await;
    let p0 = [("BTC", dec!(1)), ("ETH", dec!(1))];
    env.prices(T0, &p0).await;
    let id = env
        .rt
        .create(cfg("d", "BTC=50,ETH=50", "daily@00:00", dec!(1000)))
        .await
        .unwrap();
    env.tick(T0, &p0).await;
    let day = 86_400_000;
    let midnight = (T0.div_euclid(day) + 1) * day;
    // Down across the next midnight; back 30 minutes later.
    let mut env = env.restart(midnight + 30 * MIN).await;
    env.rt.recover().await.unwrap();
    let before = history(&env, id).await.rebalances.len();
    let r = env
        .tick(
            midnight + 30 * MIN,
            &[("BTC", dec!(1.02)), ("ETH", dec!(0.98))],
        )
        .await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    // Once: later that day nothing is due.
    let r = env
        .tick(
            midnight + 90 * MIN,
            &[("BTC", dec!(1.05)), ("ETH", dec!(0.95))],
        )
        .await;
    assert_eq!(r.rebalanced, 0, "{r:?}");
    assert_eq!(history(&env, id).await.rebalances.len(), before + 1);
}

/// Issue 9, case 3: a bot whose every leg is below the venue's minimums (here a sell of 4.995
/// skipped by the plan, and a buy of 5.005 that the price margin then sizes below 5) sends no
/// order and records no rebalance, tick after tick; it says why in its summary. Once it can
/// trade, its rebalance's counts agree with its legs and the reason is gone.
#[tokio::test]
async fn a_bot_too_small_to_trade_records_nothing_and_says_why() {
    let rules = InstrumentRules {
        min_notional: Some(dec!(5)),
        ..Default::default()
    };
    let mut env = Env::new(Decimal::ZERO, Some(rules), dec!(100)).await;
    env.ex.deposit("BTC", dec!(0.14995)).await.unwrap();
    let p = [("BTC", dec!(100)), ("ETH", dec!(100))];
    env.prices(T0, &p).await;
    let mut c = cfg("tiny", "BTC=50,ETH=50", "threshold:3", dec!(5.005));
    c.price_margin = dec!(0.002);
    c.cooldown_ms = 0;
    c.investment.coins = vec![CoinAmount {
        asset: "BTC".into(),
        quantity: dec!(0.14995),
        basis: None,
    }];
    let id = env.rt.create(c).await.unwrap();
    for k in 0..10 {
        let r = env.tick(T0 + k * MIN, &p).await;
        assert_eq!(r.rebalanced, 0, "{r:?}");
    }
    let h = history(&env, id).await;
    assert!(h.rebalances.is_empty(), "{:#?}", h.rebalances);
    assert!(h.orders.is_empty());
    let s = env.rt.show(id).await.unwrap().summary;
    assert_eq!(s.status, "running");
    let why = s.reason.expect("a reason");
    assert!(
        why.contains("too small to trade") && why.contains("minimum notional 5"),
        "{why}"
    );
    // The reason is in the stored state: a restart still shows it.
    let mut env = env.restart(T0 + 10 * MIN).await;
    env.rt.recover().await.unwrap();
    assert_eq!(env.rt.list()[0].reason.as_deref(), Some(why.as_str()));

    // 10 more: BTC's buy of 0.01 is still below the minimum, ETH's buy of about 15 trades.
    env.prices(T0 + 11 * MIN, &p).await;
    let s = env
        .rt
        .invest(id, dec!(10), vec![])
        .await
        .unwrap()
        .expect("a rebalance");
    assert_eq!(s.legs_planned, s.legs.len(), "{s:#?}");
    assert_eq!(s.legs_filled + s.legs_skipped, s.legs_planned);
    assert_eq!((s.legs_filled, s.legs_skipped), (1, 1), "{s:#?}");
    assert_eq!(env.rt.show(id).await.unwrap().summary.reason, None);
}

/// Rebalance now: the trigger is not consulted, the cooldown is (unless forced); its preview
/// shows the orders it then sends; with nothing to trade nothing is written and the cooldown is
/// not restarted.
#[tokio::test]
async fn rebalance_now_ignores_the_trigger_not_the_cooldown() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(10000)).await;
    let flat = [("BTC", dec!(100)), ("ETH", dec!(100))];
    env.prices(T0, &flat).await;
    let mut c = cfg("now", "BTC=50,ETH=50", "threshold:50", dec!(100));
    c.cooldown_ms = 60 * MIN;
    let id = env.rt.create(c).await.unwrap();
    env.tick(T0, &flat).await;
    assert_eq!(status(&env, id), BotStatus::Running);
    let deployed = env.rt.store().rebalances(id).await.unwrap().len();

    // 10 pp of drift, far under the trigger's 50: only a rebalance now trades it.
    let t1 = T0 + 10 * MIN;
    let moved = [("BTC", dec!(150)), ("ETH", dec!(100))];
    let r = env.tick(t1, &moved).await;
    assert_eq!(r.rebalanced, 0);
    match env.rt.rebalance_now(id, false).await {
        Err(BotError::WrongState { status, .. }) => {
            assert!(status.contains("cooldown"), "{status}")
        }
        other => panic!("inside the cooldown: {other:?}"),
    }
    env.rt.price_rebalance(id, true).await.unwrap();
    let pv = env.rt.preview_rebalance(id, true).unwrap();
    assert_eq!(pv.action, "rebalance");
    assert_eq!(
        env.rt.store().rebalances(id).await.unwrap().len(),
        deployed,
        "a preview writes nothing"
    );
    let done = env.rt.rebalance_now(id, true).await.unwrap();
    let s = done.rebalance.expect("forced through the cooldown");
    assert_eq!(done.note, None);
    let sent: Vec<(String, String, Decimal)> = s
        .legs
        .iter()
        .map(|l| (l.side.clone(), l.asset.clone(), l.planned_quantity))
        .collect();
    let previewed: Vec<(String, String, Decimal)> = pv
        .legs
        .iter()
        .map(|l| (l.side.clone(), l.asset.clone(), l.quantity))
        .collect();
    assert_eq!(sent, previewed);
    let l = env.ledger(id).await;
    let gap = l["BTC"] * dec!(150) - l["ETH"] * dec!(100);
    // The buy spends at most the cash its sell delivered, which falls 1e-19 short of the
    // plan's notional in the 28th digit.
    assert!(gap.abs() < dec!(1e-18), "{l:?}");

    // After the cooldown, on target (but for dust): nothing is written, the answer says why, and the cooldown
    // is not restarted (a rebalance now a minute later, after a move, is not refused).
    let t2 = t1 + 61 * MIN;
    env.prices(t2, &moved).await;
    let rows_before = env.rt.store().rebalances(id).await.unwrap().len();
    let idle = env.rt.rebalance_now(id, false).await.unwrap();
    assert!(idle.rebalance.is_none());
    let note = idle.note.expect("the answer says why");
    assert!(
        note.contains("on target") || note.contains("too small"),
        "{note}"
    );
    assert_eq!(
        env.rt.store().rebalances(id).await.unwrap().len(),
        rows_before
    );
    env.prices(t2 + MIN, &[("BTC", dec!(180)), ("ETH", dec!(100))])
        .await;
    let again = env.rt.rebalance_now(id, false).await.unwrap();
    assert!(again.rebalance.is_some(), "{:?}", again.note);
}
