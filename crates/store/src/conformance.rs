//! The behaviour every [`Store`] backend must show, written against `&dyn Store` (cargo feature
//! `conformance`). Each function takes a fresh, empty store (or, for the queue, two handles on
//! one database, as two processes hold) and panics, as a test does, on the first difference.
//! The SQLite tests run every function here; the PostgreSQL backend runs the same ones.

use crate::*;
use rust_decimal::Decimal;
use smartfolio_exchange::{Fill, OrderKind, Side};
use std::collections::BTreeSet;
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).expect("a decimal literal")
}

pub fn new_bot(name: &str) -> NewBot {
    NewBot {
        name: name.into(),
        venue: "paper".into(),
        account: "main".into(),
        quote: "USDT".into(),
        status: "created".into(),
        config: "{}".into(),
        state: "{\"n\":0}".into(),
        time_ms: 1000,
        deposit: vec![],
    }
}

pub fn order(client_id: &str, leg: i64, side: Side) -> NewOrder {
    NewOrder {
        client_id: client_id.into(),
        leg,
        base: "BTC".into(),
        quote: "USDT".into(),
        side,
        quantity: d("0.5"),
        kind: OrderKind::Market,
    }
}

pub fn fill(
    id: &str,
    client_id: &str,
    side: Side,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
) -> Fill {
    Fill {
        fill_id: id.into(),
        client_id: client_id.into(),
        venue_order_id: "V1".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        side,
        quantity: qty,
        price,
        fee,
        fee_asset: if side == Side::Buy {
            "BTC".into()
        } else {
            "USDT".into()
        },
        time_ms: 2000,
    }
}

pub fn filled(client_id: &str, qty: Decimal) -> OrderUpdate {
    OrderUpdate {
        client_id: client_id.into(),
        status: OrderState::Filled,
        venue_order_id: Some("V1".into()),
        filled_quantity: qty,
        error: None,
        time_ms: 2000,
    }
}

pub async fn funded_bot(store: &dyn Store) -> BotId {
    let id = store.create_bot(&new_bot("alpha")).await.unwrap();
    store
        .record_flow(&NewFlow {
            bot_id: id,
            kind: FlowKind::Deposit,
            items: vec![FlowItem {
                asset: "USDT".into(),
                amount: d("1000"),
                value: d("1000"),
            }],
            time_ms: 1000,
            bot: None,
        })
        .await
        .unwrap();
    id
}

pub async fn duplicate_bot_names_conflict(store: &dyn Store) {
    store.create_bot(&new_bot("alpha")).await.unwrap();
    let e = store.create_bot(&new_bot("alpha")).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    assert!(e.to_string().contains("alpha"));
    assert_eq!(store.list_bots().await.unwrap().len(), 1);
}

pub async fn rebalance_orders_fills_and_ledger_round_trip(store: &dyn Store) {
    let id = funded_bot(store).await;
    let rb = store
        .begin_rebalance(&NewRebalance {
            bot_id: id,
            seq: 1,
            kind: "deploy".into(),
            reason: "deploy".into(),
            time_ms: 1500,
            plan: "{}".into(),
            orders: vec![order("c1", 0, Side::Buy)],
            bot: Some(BotUpdate {
                id,
                status: "deploying".into(),
                state: "{\"n\":1}".into(),
                config: None,
                time_ms: 1500,
            }),
        })
        .await
        .unwrap();
    let o = store.order("c1").await.unwrap().unwrap();
    assert_eq!(o.status, OrderState::Pending);
    assert_eq!(o.rebalance_id, rb);
    assert_eq!(o.quantity, d("0.5"));
    assert_eq!(store.unfinished_orders().await.unwrap().len(), 1);
    assert_eq!(store.bot(id).await.unwrap().unwrap().status, "deploying");

    // Buy 0.5 BTC at 1000 with a 0.001 BTC fee.
    let f = fill("F1", "c1", Side::Buy, d("0.5"), d("1000"), d("0.001"));
    let applied = store
        .apply_fills(&filled("c1", d("0.5")), std::slice::from_ref(&f))
        .await
        .unwrap();
    assert_eq!(applied.new_fills.len(), 1);
    assert_eq!(
        store.balances(id).await.unwrap(),
        vec![("BTC".into(), d("0.499")), ("USDT".into(), d("500"))]
    );
    assert_eq!(
        store.order("c1").await.unwrap().unwrap().status,
        OrderState::Filled
    );
    assert!(store.unfinished_orders().await.unwrap().is_empty());
    let fills = store.fills(id).await.unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].fee, d("0.001"));
    assert_eq!(fills[0].venue, "paper");
    // The ledger, in the order written: the deposit, then the fill's legs and its fee.
    let ledger: Vec<_> = store
        .ledger(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.asset, e.amount, e.kind, e.reference, e.time_ms))
        .collect();
    let flow = format!("flow:{}", store.flows(id).await.unwrap()[0].id);
    assert_eq!(
        ledger,
        vec![
            ("USDT".into(), d("1000"), "deposit".into(), flow, 1000),
            ("BTC".into(), d("0.5"), "trade".into(), "F1".into(), 2000),
            ("USDT".into(), d("-500"), "trade".into(), "F1".into(), 2000),
            ("BTC".into(), d("-0.001"), "fee".into(), "F1".into(), 2000),
        ]
    );

    store
        .finish_rebalance(rb, "completed", "{\"ok\":true}", 2100, None)
        .await
        .unwrap();
    let rbs = store.rebalances(id).await.unwrap();
    assert_eq!(rbs[0].status, "completed");
    assert_eq!(rbs[0].finished_ms, Some(2100));
    assert!(store.open_rebalances().await.unwrap().is_empty());
}

pub async fn applying_the_same_fill_twice_is_a_no_op(store: &dyn Store) {
    let id = funded_bot(store).await;
    store
        .begin_rebalance(&NewRebalance {
            bot_id: id,
            seq: 1,
            kind: "rebalance".into(),
            reason: "r".into(),
            time_ms: 1500,
            plan: "{}".into(),
            orders: vec![order("c1", 0, Side::Buy)],
            bot: None,
        })
        .await
        .unwrap();
    let f1 = fill("F1", "c1", Side::Buy, d("0.2"), d("1000"), Decimal::ZERO);
    let f2 = fill("F2", "c1", Side::Buy, d("0.3"), d("1000"), Decimal::ZERO);
    let mut partial = filled("c1", d("0.2"));
    partial.status = OrderState::PartiallyFilled;
    store
        .apply_fills(&partial, std::slice::from_ref(&f1))
        .await
        .unwrap();
    // The venue reports both fills on the next look-up: only F2 is new.
    let again = store
        .apply_fills(&filled("c1", d("0.5")), &[f1.clone(), f2.clone()])
        .await
        .unwrap();
    assert_eq!(again.new_fills, vec![f2.clone()]);
    let third = store
        .apply_fills(&filled("c1", d("0.5")), &[f1, f2])
        .await
        .unwrap();
    assert!(third.new_fills.is_empty());
    assert!(third.ledger.is_empty());
    assert_eq!(
        store.balances(id).await.unwrap(),
        vec![("BTC".into(), d("0.5")), ("USDT".into(), d("500"))]
    );
    assert_eq!(store.fills(id).await.unwrap().len(), 2);
}

pub async fn a_failing_statement_rolls_back_the_whole_rebalance(store: &dyn Store) {
    let id = funded_bot(store).await;
    // The second order reuses a client id: its insert fails after the rebalance row and the
    // first order were written.
    let e = store
        .begin_rebalance(&NewRebalance {
            bot_id: id,
            seq: 1,
            kind: "rebalance".into(),
            reason: "r".into(),
            time_ms: 1500,
            plan: "{}".into(),
            orders: vec![order("dup", 0, Side::Sell), order("dup", 1, Side::Buy)],
            bot: Some(BotUpdate {
                id,
                status: "running".into(),
                state: "{\"n\":9}".into(),
                config: None,
                time_ms: 1500,
            }),
        })
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    assert!(store.rebalances(id).await.unwrap().is_empty());
    assert!(store.orders(id).await.unwrap().is_empty());
    let bot = store.bot(id).await.unwrap().unwrap();
    assert_eq!(bot.state, "{\"n\":0}");
    assert_eq!(bot.status, "created");

    // A withdrawal that would leave a negative balance is refused as a whole.
    let e = store
        .record_flow(&NewFlow {
            bot_id: id,
            kind: FlowKind::Withdraw,
            items: vec![FlowItem {
                asset: "USDT".into(),
                amount: d("1000.01"),
                value: d("1000.01"),
            }],
            time_ms: 3000,
            bot: None,
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("-0.01"), "{e}");
    assert_eq!(
        store.balances(id).await.unwrap(),
        vec![("USDT".into(), d("1000"))]
    );
    assert_eq!(store.flows(id).await.unwrap().len(), 1);

    // Fills of an unknown order change nothing.
    let f = fill("F9", "nope", Side::Buy, d("1"), d("1"), Decimal::ZERO);
    assert!(matches!(
        store.apply_fills(&filled("nope", d("1")), &[f]).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.fills(id).await.unwrap().is_empty());

    // A rebalance sequence number is used once.
    let rb = NewRebalance {
        bot_id: id,
        seq: 7,
        kind: "rebalance".into(),
        reason: "r".into(),
        time_ms: 1500,
        plan: "{}".into(),
        orders: vec![],
        bot: None,
    };
    store.begin_rebalance(&rb).await.unwrap();
    assert!(matches!(
        store.begin_rebalance(&rb).await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn flows_close_ledger_and_snapshots(store: &dyn Store) {
    let id = funded_bot(store).await;
    store
        .record_flow(&NewFlow {
            bot_id: id,
            kind: FlowKind::Withdraw,
            items: vec![FlowItem {
                asset: "USDT".into(),
                amount: d("250"),
                value: d("250"),
            }],
            time_ms: 3000,
            bot: None,
        })
        .await
        .unwrap();
    assert_eq!(
        store.balances(id).await.unwrap(),
        vec![("USDT".into(), d("750"))]
    );
    let flows = store.flows(id).await.unwrap();
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[1].kind, "withdraw");
    store
        .insert_snapshots(&[
            Snapshot {
                bot_id: id,
                time_ms: 10,
                value: d("750"),
                net_invested: d("750"),
                hold_value: d("750"),
            },
            Snapshot {
                bot_id: id,
                time_ms: 20,
                value: d("760.5"),
                net_invested: d("750"),
                hold_value: d("755"),
            },
        ])
        .await
        .unwrap();
    let snaps = store.snapshots(id).await.unwrap();
    assert_eq!(snaps.len(), 2);
    assert_eq!(snaps[1].value, d("760.5"));
    let released = store
        .close_ledger(&BotUpdate {
            id,
            status: "stopped".into(),
            state: "{}".into(),
            config: None,
            time_ms: 4000,
        })
        .await
        .unwrap();
    assert_eq!(released, vec![("USDT".into(), d("750"))]);
    let ledger = store.ledger(id).await.unwrap();
    let kinds: Vec<_> = ledger
        .iter()
        .map(|e| (e.kind.as_str(), e.amount, e.reference.as_str(), e.time_ms))
        .collect();
    let withdraw = format!("flow:{}", flows[1].id);
    assert_eq!(
        kinds[1..],
        [
            ("withdraw", d("-250"), withdraw.as_str(), 3000),
            ("release", d("-750"), "stop", 4000)
        ]
    );
    assert!(ledger.windows(2).all(|w| w[0].id < w[1].id));
    assert!(store.balances(id).await.unwrap().is_empty());
    assert!(store.all_balances().await.unwrap().is_empty());
    assert_eq!(store.bot(id).await.unwrap().unwrap().status, "stopped");
}

async fn drain(store: &dyn Store) -> Vec<i64> {
    let mut got = Vec::new();
    while let Some(c) = store.claim_command().await.expect("claim") {
        got.push(c.id);
    }
    got
}

/// The command queue. `a` and `b` are two handles on the same empty database, as the daemon
/// and a `smartfolio bot` process hold.
pub async fn command_queue(a: &dyn Store, b: &dyn Store) {
    use CommandStatus::*;
    assert!(a.claim_command().await.unwrap().is_none(), "an empty queue");
    assert!(a.command(999_999).await.unwrap().is_none());
    let c1 = a.enqueue_command(r#"{"n":1}"#, 10).await.unwrap();
    let c2 = b.enqueue_command(r#"{"n":2}"#, 11).await.unwrap();
    let c3 = a.enqueue_command(r#"{"n":3}"#, 12).await.unwrap();
    assert!(c1 < c2 && c2 < c3, "{c1} {c2} {c3}");
    assert_eq!(
        b.command(c1).await.unwrap().unwrap(),
        CommandRecord {
            id: c1,
            command: r#"{"n":1}"#.into(),
            status: Queued,
            result: None,
            created_ms: 10,
            finished_ms: None,
        }
    );

    // The oldest first, stored as running before it is handed out.
    let got = b.claim_command().await.unwrap().unwrap();
    assert_eq!((got.id, got.status), (c1, Running));
    assert_eq!(got.command, r#"{"n":1}"#);
    assert_eq!(a.command(c1).await.unwrap().unwrap().status, Running);

    // A claimed command can no longer be canceled; a queued one can, and is never claimed.
    assert!(!a.cancel_command(c1, 20).await.unwrap());
    assert!(a.cancel_command(c2, 20).await.unwrap());
    let r2 = a.command(c2).await.unwrap().unwrap();
    assert_eq!((r2.status, r2.finished_ms), (Canceled, Some(20)));
    assert!(!a.cancel_command(c2, 21).await.unwrap());
    assert_eq!(a.claim_command().await.unwrap().unwrap().id, c3);

    // Finishing: only a running command, once.
    assert!(
        b.finish_command(c1, true, r#"{"ok":true}"#, 30)
            .await
            .unwrap()
    );
    let r1 = a.command(c1).await.unwrap().unwrap();
    assert_eq!(
        (r1.status, r1.result.as_deref(), r1.finished_ms),
        (Done, Some(r#"{"ok":true}"#), Some(30))
    );
    assert!(!b.finish_command(c1, false, "{}", 31).await.unwrap());
    assert_eq!(
        a.command(c1).await.unwrap().unwrap(),
        r1,
        "a done command stays done"
    );
    assert!(!a.finish_command(c2, true, "{}", 31).await.unwrap());
    assert_eq!(a.command(c2).await.unwrap().unwrap().status, Canceled);

    // The owner died while running c3: the next owner fails it, and only it.
    assert_eq!(
        a.interrupt_running_commands(r#"{"ok":false}"#, 40)
            .await
            .unwrap(),
        1
    );
    let r3 = a.command(c3).await.unwrap().unwrap();
    assert_eq!(
        (r3.status, r3.result.as_deref(), r3.finished_ms),
        (Failed, Some(r#"{"ok":false}"#), Some(40))
    );
    assert_eq!(a.interrupt_running_commands("{}", 41).await.unwrap(), 0);
    assert_eq!(a.command(c1).await.unwrap().unwrap().status, Done);
    assert!(a.claim_command().await.unwrap().is_none());

    // Claiming is atomic: both handles claim at once, every command goes to exactly one.
    let mut queued = Vec::new();
    for k in 0..40 {
        queued.push(
            a.enqueue_command(&format!("{{\"k\":{k}}}"), 50)
                .await
                .unwrap(),
        );
    }
    let (x, y) = tokio::join!(drain(a), drain(b));
    let mut all: Vec<i64> = x.iter().chain(&y).copied().collect();
    all.sort_unstable();
    assert_eq!(all, queued, "each command claimed exactly once");
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(distinct.len(), queued.len());
}
