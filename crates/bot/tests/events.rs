//! The runtime's audit events: recorded where things happen, in order, with their fields.

mod common;

use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_bot::{BotEvent, EventKind, StopMode};
use smartfolio_core::Side;
use smartfolio_exchange::InstrumentStatus;
use smartfolio_exchange::paper::Fault;

/// A change of state, a rebalance of two filled orders, another change of state.
const TWO_LEGS_AND_A_STATE: [&str; 8] = [
    "state_changed",
    "rebalance_started",
    "fill",
    "order",
    "fill",
    "order",
    "rebalance_finished",
    "state_changed",
];

fn names(events: &[BotEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind.name()).collect()
}

fn state(from: &'static str, to: &'static str, reason: Option<&str>) -> EventKind {
    EventKind::StateChanged {
        from,
        to,
        reason: reason.map(str::to_string),
    }
}

/// The orders of a rebalance's events as (asset, side, filled), each checked against the fill
/// recorded just before it (same client id, side, asset and quantity).
fn orders(events: &[BotEvent], seq: i64) -> Vec<(String, Side, Decimal)> {
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if let EventKind::Order {
            seq: s,
            client_id,
            asset,
            side,
            quantity,
            filled_quantity,
            outcome,
        } = &e.kind
        {
            assert_eq!(*s, seq);
            assert_eq!(outcome, "filled");
            assert_eq!(quantity, filled_quantity);
            let EventKind::Fill(f) = &events[i - 1].kind else {
                panic!("no fill before {e:?}");
            };
            assert_eq!(
                (&f.client_id, &f.base, f.side, f.quantity),
                (client_id, asset, *side, *filled_quantity)
            );
            out.push((asset.clone(), *side, *filled_quantity));
        }
    }
    out
}

#[tokio::test]
async fn a_scripted_run_records_its_events_in_order() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    let p0 = [("BTC", dec!(100)), ("ETH", dec!(100))];
    env.prices(T0, &p0).await;
    let id = env
        .rt
        .create(cfg("ev", "BTC=50,ETH=50", "threshold:3", dec!(100)))
        .await
        .unwrap();
    let ev = env.rt.take_events();
    assert_eq!(
        ev,
        vec![BotEvent {
            bot: id,
            time_ms: T0,
            kind: EventKind::Created { name: "ev".into() },
        }]
    );
    assert!(env.rt.take_events().is_empty(), "taken once");

    // The first tick deploys: two buys of 0.5.
    env.tick(T0, &p0).await;
    let ev = env.rt.take_events();
    assert_eq!(names(&ev), TWO_LEGS_AND_A_STATE);
    assert!(ev.iter().all(|e| e.bot == id && e.time_ms == T0));
    assert_eq!(ev[0].kind, state("created", "deploying", None));
    assert_eq!(
        ev[1].kind,
        EventKind::RebalanceStarted {
            seq: 1,
            kind: "deploy".into(),
            reason: "initial allocation".into(),
        }
    );
    let mut legs = orders(&ev, 1);
    legs.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        legs,
        [
            ("BTC".to_string(), Side::Buy, dec!(0.5)),
            ("ETH".to_string(), Side::Buy, dec!(0.5))
        ]
    );
    assert_eq!(
        ev[6].kind,
        EventKind::RebalanceFinished {
            seq: 1,
            kind: "deploy".into(),
            reason: "initial allocation".into(),
            status: "completed".into(),
            fees: Decimal::ZERO,
        }
    );
    assert_eq!(ev[7].kind, state("deploying", "running", None));

    // SPEC §7 example 2: sell 10 USDT of ETH, then buy 10 USDT of BTC.
    let t1 = T0 + 10 * MIN;
    env.tick(t1, &[("BTC", dec!(120)), ("ETH", dec!(160))])
        .await;
    let ev = env.rt.take_events();
    assert_eq!(
        names(&ev),
        [
            "rebalance_started",
            "fill",
            "order",
            "fill",
            "order",
            "rebalance_finished"
        ]
    );
    assert!(ev.iter().all(|e| e.time_ms == t1));
    assert!(
        matches!(&ev[0].kind, EventKind::RebalanceStarted { seq: 2, kind, .. } if kind == "rebalance")
    );
    assert_eq!(
        orders(&ev, 2),
        [
            ("ETH".to_string(), Side::Sell, dec!(10) / dec!(160)),
            ("BTC".to_string(), Side::Buy, dec!(10) / dec!(120))
        ]
    );
    assert!(matches!(&ev[5].kind,
        EventKind::RebalanceFinished { seq: 2, status, .. } if status == "completed"));

    // Commands: pause and resume; a refused command records nothing.
    env.rt.pause(id).await.unwrap();
    assert_eq!(
        env.rt.take_events()[..],
        [BotEvent {
            bot: id,
            time_ms: t1,
            kind: state("running", "paused", None),
        }]
    );
    assert!(env.rt.pause(id).await.is_err());
    assert!(
        env.rt.take_events().is_empty(),
        "a refused pause changed nothing"
    );
    env.rt.resume(id).await.unwrap();
    let ev = env.rt.take_events();
    assert_eq!(names(&ev), ["state_changed"]);
    assert_eq!(ev[0].kind, state("paused", "running", None));

    // A halted asset suspends the bot with its reason; trading again resumes it.
    let p1 = [("BTC", dec!(120)), ("ETH", dec!(160))];
    env.ex.set_status("ETH", InstrumentStatus::Halted).unwrap();
    env.tick(t1 + MIN, &p1).await;
    let ev = env.rt.take_events();
    assert_eq!(names(&ev), ["state_changed"]);
    match &ev[0].kind {
        EventKind::StateChanged {
            from: "running",
            to: "suspended",
            reason: Some(r),
        } => assert!(r.contains("ETH is halted"), "{r}"),
        other => panic!("{other:?}"),
    }
    env.ex.set_status("ETH", InstrumentStatus::Trading).unwrap();
    env.tick(t1 + 2 * MIN, &p1).await;
    let ev = env.rt.take_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind, state("suspended", "running", None));

    // Stop, selling everything: stopping, the stop's sells, stopped, each with the reason.
    env.rt.stop(id, StopMode::SellAll, "user").await.unwrap();
    let ev = env.rt.take_events();
    assert_eq!(names(&ev), TWO_LEGS_AND_A_STATE);
    assert_eq!(ev[0].kind, state("running", "stopping", Some("user")));
    assert_eq!(
        ev[1].kind,
        EventKind::RebalanceStarted {
            seq: 3,
            kind: "stop".into(),
            reason: "user".into(),
        }
    );
    let sold = orders(&ev, 3);
    assert!(
        sold.iter().all(|(_, side, _)| *side == Side::Sell),
        "{sold:?}"
    );
    assert_eq!(sold.len(), 2);
    assert!(matches!(&ev[6].kind,
        EventKind::RebalanceFinished { seq: 3, status, .. } if status == "completed"));
    assert_eq!(ev[7].kind, state("stopping", "stopped", Some("user")));
    assert_eq!(env.rt.events_dropped(), 0);
}

/// Record the placement and lookup answers as they arrive, as the node's driver does (on the
/// runtime's execution signal), until nothing is under way: the events taken after each step.
async fn drive_answers(env: &mut Env) -> Vec<Vec<BotEvent>> {
    let signal = env.rt.execution_signal();
    let mut steps = Vec::new();
    while env.rt.executing() {
        signal.notified().await;
        env.rt.advance_executions().await.unwrap();
        steps.push(env.rt.take_events());
    }
    steps
}

/// Every event is bot `id`'s, every order event names a distinct client id and every fill a
/// distinct venue fill id.
fn each_once(events: &[BotEvent], id: i64) {
    let mut ids = Vec::new();
    let mut fills = Vec::new();
    for e in events {
        assert_eq!(e.bot, id, "{e:?}");
        match &e.kind {
            EventKind::Order { client_id, .. } => ids.push(client_id.clone()),
            EventKind::Fill(f) => fills.push(f.fill_id.clone()),
            _ => {}
        }
    }
    assert_unique(&ids);
    assert_unique(&fills);
}

/// Rebalances a tick only starts (deploy, a rebalance, a stop-loss's sells): the tick records
/// the change of state and the start; each order, its fill and the end arrive with the answers
/// the driver records later, once each and in order, as a rebalance run to its end records them.
#[tokio::test]
async fn a_rebalance_whose_orders_answer_later_records_each_event_once_in_order() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    let p0 = [("BTC", dec!(100)), ("ETH", dec!(100))];
    env.prices(T0, &p0).await;
    let mut c = cfg("async", "BTC=50,ETH=50", "threshold:3", dec!(100));
    c.stop_loss_pct = Some(dec!(20));
    let id = env.rt.create(c).await.unwrap();
    assert_eq!(names(&env.rt.take_events()), ["created"]);

    // Deploy: the tick stores the rebalance and starts its first buy, and records no order.
    assert_eq!(env.tick_only(T0, &p0).await.deployed, 1);
    assert!(env.rt.executing(), "the tick only started the deploy");
    let ev = env.rt.take_events();
    assert_eq!(names(&ev), ["state_changed", "rebalance_started"]);
    assert_eq!(ev[0].kind, state("created", "deploying", None));
    let steps = drive_answers(&mut env).await;
    assert!(steps.len() >= 2, "one order at a time: {steps:?}");
    let ev: Vec<BotEvent> = steps.concat();
    assert_eq!(names(&ev), TWO_LEGS_AND_A_STATE[2..]);
    each_once(&ev, id);
    assert_eq!(orders(&ev, 1).len(), 2);
    assert!(matches!(&ev[4].kind,
        EventKind::RebalanceFinished { seq: 1, status, .. } if status == "completed"));
    assert_eq!(ev[5].kind, state("deploying", "running", None));

    // A rebalance: the sell's answer, then the buy (sized and stored after it), then the end.
    let t1 = T0 + 10 * MIN;
    let p1 = [("BTC", dec!(120)), ("ETH", dec!(160))];
    assert_eq!(env.tick_only(t1, &p1).await.rebalanced, 1);
    let ev = env.rt.take_events();
    assert_eq!(names(&ev), ["rebalance_started"]);
    assert!(
        matches!(&ev[0].kind, EventKind::RebalanceStarted { seq: 2, kind, .. } if kind == "rebalance")
    );
    let ev = drive_answers(&mut env).await.concat();
    assert_eq!(names(&ev), TWO_LEGS_AND_A_STATE[2..7]);
    each_once(&ev, id);
    assert_eq!(
        orders(&ev, 2),
        [
            ("ETH".to_string(), Side::Sell, dec!(10) / dec!(160)),
            ("BTC".to_string(), Side::Buy, dec!(10) / dec!(120))
        ]
    );
    assert!(matches!(&ev[4].kind,
        EventKind::RebalanceFinished { seq: 2, status, .. } if status == "completed"));

    // A stop-loss: the tick marks the bot stopping and starts its sells; the execution closes
    // the stop when they have ended, and records it then.
    let fallen = [("BTC", dec!(50)), ("ETH", dec!(60))];
    assert_eq!(env.tick_only(t1 + MIN, &fallen).await.stopped, 1);
    let ev = env.rt.take_events();
    assert_eq!(names(&ev), ["state_changed", "rebalance_started"]);
    let reason = match &ev[0].kind {
        EventKind::StateChanged {
            from: "running",
            to: "stopping",
            reason: Some(r),
        } => r.clone(),
        other => panic!("{other:?}"),
    };
    assert!(reason.contains("stop-loss"), "{reason}");
    assert!(
        matches!(&ev[1].kind, EventKind::RebalanceStarted { seq: 3, kind, .. } if kind == "stop")
    );
    let ev = drive_answers(&mut env).await.concat();
    assert_eq!(names(&ev), TWO_LEGS_AND_A_STATE[2..]);
    each_once(&ev, id);
    assert!(
        orders(&ev, 3)
            .iter()
            .all(|(_, side, _)| *side == Side::Sell)
    );
    assert!(matches!(&ev[4].kind,
        EventKind::RebalanceFinished { seq: 3, status, .. } if status == "completed"));
    assert_eq!(ev[5].kind, state("stopping", "stopped", Some(&reason)));

    // Nothing is recorded twice: settling and another tick add nothing.
    env.rt.settle_executions().await.unwrap();
    env.tick_only(t1 + 2 * MIN, &fallen).await;
    assert!(env.rt.take_events().is_empty());
    assert_eq!(env.rt.events_dropped(), 0);
}

/// An order whose outcome is unknown is recorded once as `unknown` (its rebalance stays open);
/// the reconciliation's lookup round, on its own task, records its fill, its final outcome and
/// the rebalance closed as interrupted, once each, when its answer is applied.
#[tokio::test]
async fn an_unknown_order_settled_by_a_lookup_round_records_its_fill_and_end_once() {
    let dir = tempfile::tempdir().unwrap();
    let paper = paper_config(Decimal::ZERO, None).with_lookup_window_ms(30_000);
    let mut env = Env::open(dir, paper, Some(dec!(1000))).await;
    let p0 = [("BTC", dec!(100)), ("ETH", dec!(100))];
    env.prices(T0, &p0).await;
    let id = env
        .rt
        .create(cfg("lost", "BTC=50,ETH=50", "threshold:3", dec!(100)))
        .await
        .unwrap();
    env.rt.take_events();
    // The venue takes the first buy but does not show it yet.
    env.ex.set_fault(Fault::LookupNotFound(1));
    env.tick_only(T0, &p0).await;
    let mut ev = env.rt.take_events();
    ev.extend(drive_answers(&mut env).await.concat());
    assert_eq!(
        names(&ev),
        ["state_changed", "rebalance_started", "order", "order"]
    );
    let outcomes: Vec<&str> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Order { outcome, .. } => Some(outcome.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        outcomes,
        ["unknown", "skipped"],
        "the second buy is never sent"
    );
    let EventKind::Order {
        client_id: lost, ..
    } = &ev[2].kind
    else {
        unreachable!()
    };
    let lost = lost.clone();

    // Ticks decide the reconciliation; its lookups answer later, and the rebalance is closed
    // once the order is found filled.
    let mut ev = Vec::new();
    let mut t = T0;
    while !ev
        .iter()
        .any(|e: &BotEvent| e.kind.name() == "rebalance_finished")
    {
        t += 10_000;
        assert!(t <= T0 + 5 * MIN, "never reconciled: {ev:?}");
        env.tick_only(t, &p0).await;
        ev.extend(env.rt.take_events());
        ev.extend(drive_answers(&mut env).await.concat());
    }
    let at = ev
        .iter()
        .position(|e| e.kind.name() == "rebalance_finished")
        .unwrap();
    assert_eq!(
        names(&ev[at - 2..=at + 1]),
        ["fill", "order", "rebalance_finished", "state_changed"]
    );
    let EventKind::Fill(f) = &ev[at - 2].kind else {
        unreachable!()
    };
    assert_eq!(f.client_id, lost);
    // Its final outcome, under its rebalance's number: what the first event left unknown.
    let EventKind::Order {
        seq,
        client_id,
        filled_quantity,
        quantity,
        outcome,
        ..
    } = &ev[at - 1].kind
    else {
        unreachable!()
    };
    assert_eq!((*seq, client_id, outcome.as_str()), (1, &lost, "filled"));
    assert_eq!((filled_quantity, quantity), (&f.quantity, &f.quantity));
    assert!(matches!(&ev[at].kind,
        EventKind::RebalanceFinished { seq: 1, status, .. } if status == "interrupted"));
    assert_eq!(ev[at + 1].kind, state("deploying", "running", None));
    each_once(&ev, id);
}
