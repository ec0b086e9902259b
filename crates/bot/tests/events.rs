//! The runtime's audit events: recorded where things happen, in order, with their fields.

mod common;

use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_bot::{BotEvent, EventKind, StopMode};
use smartfolio_core::Side;
use smartfolio_exchange::InstrumentStatus;

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
