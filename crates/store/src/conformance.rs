//! The behaviour every [`Store`] backend must show, written against `&dyn Store` (cargo feature
//! `conformance`). Each function takes a fresh, empty store (or, for the queue, two handles on
//! one database, as two processes hold) and panics, as a test does, on the first difference.
//! The SQLite tests run every function here; the PostgreSQL backend runs the same ones.

mod leases;
pub use leases::*;

use crate::*;
use rust_decimal::Decimal;
use smartfolio_exchange::{Fill, OrderKind, Side};
use std::collections::BTreeSet;
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).expect("a decimal literal")
}

fn item(asset: &str, amount: &str, value: &str, basis: Option<&str>) -> FlowItem {
    FlowItem {
        asset: asset.into(),
        amount: d(amount),
        value: d(value),
        basis: basis.map(d),
    }
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
        quote_amount: None,
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
                basis: None,
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
            // A market buy sized in quote: it spends at most 500.5, planned to buy 0.5.
            orders: vec![NewOrder {
                quote_amount: Some(d("500.50")),
                ..order("c1", 0, Side::Buy)
            }],
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
    assert_eq!(o.quote_amount, Some(d("500.5")));
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
    // An order sized in base has no quote amount.
    assert_eq!(store.order("c1").await.unwrap().unwrap().quote_amount, None);
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
                basis: None,
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
                basis: None,
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

/// Coins brought in keep the cost basis given with them (none when not given); a basis ≤ 0 is
/// refused and nothing of its flow is written.
pub async fn coins_brought_in_keep_their_basis(store: &dyn Store) {
    let id = store.create_bot(&new_bot("coins")).await.unwrap();
    let flow = |items| NewFlow {
        bot_id: id,
        kind: FlowKind::Deposit,
        items,
        time_ms: 1000,
        bot: None,
    };
    let given = "40000.123456789012345678";
    store
        .record_flow(&flow(vec![
            item("BTC", "0.1", "5000", Some(given)),
            item("ETH", "2", "6000", None),
        ]))
        .await
        .unwrap();
    let flows = store.flows(id).await.unwrap();
    let got: Vec<_> = flows.iter().map(|f| (f.asset.as_str(), f.basis)).collect();
    assert_eq!(got, [("BTC", Some(d(given))), ("ETH", None)]);
    for bad in ["0", "-5"] {
        let r = store
            .record_flow(&flow(vec![
                item("SOL", "1", "100", None),
                item("BTC", "0.1", "5000", Some(bad)),
            ]))
            .await;
        assert!(matches!(r, Err(StoreError::BadValue(_))), "{bad}: {r:?}");
    }
    assert_eq!(store.flows(id).await.unwrap(), flows);
    assert_eq!(store.ledger(id).await.unwrap().len(), 2);
}

async fn drain(store: &dyn Store, held: &[AccountKey]) -> Vec<i64> {
    let mut got = Vec::new();
    while let Some(c) = store.claim_command(held).await.expect("claim") {
        got.push(c.id);
    }
    got
}

fn main_account() -> AccountKey {
    AccountKey::new("paper", "main")
}

/// The command queue. `a` and `b` are two handles on the same empty database, as the daemon
/// and a `smartfolio bot` process hold.
pub async fn command_queue(a: &dyn Store, b: &dyn Store) {
    use CommandStatus::*;
    let main = main_account();
    let held = std::slice::from_ref(&main);
    assert!(
        a.claim_command(held).await.unwrap().is_none(),
        "an empty queue"
    );
    assert!(a.command(999_999).await.unwrap().is_none());
    let c1 = a.enqueue_command(r#"{"n":1}"#, &main, 10).await.unwrap();
    let c2 = b.enqueue_command(r#"{"n":2}"#, &main, 11).await.unwrap();
    let c3 = a.enqueue_command(r#"{"n":3}"#, &main, 12).await.unwrap();
    assert!(c1 < c2 && c2 < c3, "{c1} {c2} {c3}");
    assert_eq!(
        b.command(c1).await.unwrap().unwrap(),
        CommandRecord {
            id: c1,
            command: r#"{"n":1}"#.into(),
            account: Some(main.clone()),
            status: Queued,
            result: None,
            created_ms: 10,
            finished_ms: None,
        }
    );

    // The oldest first, stored as running before it is handed out.
    let got = b.claim_command(held).await.unwrap().unwrap();
    assert_eq!((got.id, got.status), (c1, Running));
    assert_eq!(got.command, r#"{"n":1}"#);
    assert_eq!(a.command(c1).await.unwrap().unwrap().status, Running);

    // A claimed command can no longer be canceled; a queued one can, and is never claimed.
    assert!(!a.cancel_command(c1, 20).await.unwrap());
    assert!(a.cancel_command(c2, 20).await.unwrap());
    let r2 = a.command(c2).await.unwrap().unwrap();
    assert_eq!((r2.status, r2.finished_ms), (Canceled, Some(20)));
    assert!(!a.cancel_command(c2, 21).await.unwrap());
    assert_eq!(a.claim_command(held).await.unwrap().unwrap().id, c3);

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
        a.interrupt_running_commands(None, r#"{"ok":false}"#, 40)
            .await
            .unwrap(),
        1
    );
    let r3 = a.command(c3).await.unwrap().unwrap();
    assert_eq!(
        (r3.status, r3.result.as_deref(), r3.finished_ms),
        (Failed, Some(r#"{"ok":false}"#), Some(40))
    );
    assert_eq!(
        a.interrupt_running_commands(None, "{}", 41).await.unwrap(),
        0
    );
    assert_eq!(a.command(c1).await.unwrap().unwrap().status, Done);
    assert!(a.claim_command(held).await.unwrap().is_none());

    // Claiming is atomic: both handles claim at once, every command goes to exactly one.
    let mut queued = Vec::new();
    for k in 0..40 {
        queued.push(
            a.enqueue_command(&format!("{{\"k\":{k}}}"), &main, 50)
                .await
                .unwrap(),
        );
    }
    let (x, y) = tokio::join!(drain(a, held), drain(b, held));
    let mut all: Vec<i64> = x.iter().chain(&y).copied().collect();
    all.sort_unstable();
    assert_eq!(all, queued, "each command claimed exactly once");
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(distinct.len(), queued.len());
}

/// Commands go to the owner of their account. `a` and `b` are two handles on the same empty
/// database, as two workers holding different accounts hold.
pub async fn commands_are_claimed_by_their_accounts_owner(a: &dyn Store, b: &dyn Store) {
    use CommandStatus::*;
    let one = AccountKey::new("paper", "one");
    let two = AccountKey::new("paper", "two");
    // Same account name on another venue: another account.
    let other_venue = AccountKey::new("binance", "one");
    let nobodys = AccountKey::new("paper", "three");
    let mut queued: Vec<(i64, &AccountKey)> = Vec::new();
    for (k, acct) in [&two, &nobodys, &one, &other_venue, &two, &one]
        .into_iter()
        .enumerate()
    {
        let id = a
            .enqueue_command(&format!("{{\"k\":{k}}}"), acct, 10 + k as i64)
            .await
            .unwrap();
        queued.push((id, acct));
    }
    let ids_of = |acct: &AccountKey| -> Vec<i64> {
        queued
            .iter()
            .filter(|(_, a)| *a == acct)
            .map(|(id, _)| *id)
            .collect()
    };
    // The account is stored with the command.
    let first = b.command(queued[0].0).await.unwrap().unwrap();
    assert_eq!(first.account.as_ref(), Some(&two));

    // An owner of nothing claims nothing.
    assert!(a.claim_command(&[]).await.unwrap().is_none());
    // Each owner gets its account's commands, oldest first, and only those, though older
    // commands of other accounts wait ahead of them.
    let c = a
        .claim_command(std::slice::from_ref(&one))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c.id, c.account.as_ref()), (ids_of(&one)[0], Some(&one)));
    assert_eq!(c.status, Running);
    let (x, y) = tokio::join!(
        drain(a, std::slice::from_ref(&one)),
        drain(b, std::slice::from_ref(&two))
    );
    assert_eq!(x, ids_of(&one)[1..]);
    assert_eq!(y, ids_of(&two));
    // The accounts nobody claimed for wait in the queue.
    for acct in [&nobodys, &other_venue] {
        for id in ids_of(acct) {
            assert_eq!(
                a.command(id).await.unwrap().unwrap().status,
                Queued,
                "{acct}"
            );
        }
    }
    // An owner of several accounts claims from each of them, oldest first.
    let both = [nobodys.clone(), other_venue.clone()];
    let mut expect = [ids_of(&nobodys), ids_of(&other_venue)].concat();
    expect.sort_unstable();
    assert_eq!(drain(b, &both).await, expect);

    // A worker taking `one` over fails the commands its dead holder left running, and only
    // those: `two`'s are running on its own live holder.
    assert_eq!(
        a.interrupt_running_commands(Some(std::slice::from_ref(&one)), "{}", 40)
            .await
            .unwrap(),
        2
    );
    for (id, acct) in &queued {
        let want = if *acct == &one { Failed } else { Running };
        assert_eq!(
            b.command(*id).await.unwrap().unwrap().status,
            want,
            "{acct}"
        );
    }
    assert_eq!(
        a.interrupt_running_commands(Some(&[]), "{}", 41)
            .await
            .unwrap(),
        0
    );
}

/// [`Store::account_bots`] reads, for one venue account's bots only, what the per-bot reads
/// say: the record, the last rebalance number, the balances, the net invested.
pub async fn account_bots_read_what_the_per_bot_reads_say(store: &dyn Store) {
    let mut made = Vec::new();
    for (name, venue, account) in [
        ("a1", "paper", "main"),
        ("b1", "paper", "other"),
        ("a2", "paper", "main"),
        ("c1", "binance", "main"),
        ("a3", "paper", "main"),
    ] {
        let id = store
            .create_bot(&NewBot {
                venue: venue.into(),
                account: account.into(),
                deposit: vec![item("USDT", "1000.50", "1000.50", None)],
                ..new_bot(name)
            })
            .await
            .unwrap();
        made.push((id, venue, account));
    }
    let (a1, b1, a2) = (made[0].0, made[1].0, made[2].0);
    // a1: rebalances 1..=3 with fills; a withdrawal. a2: rebalances 7, 8 and coins brought in.
    // b1 (another account): a rebalance too.
    write_history(store, a1, "a1", 1, &[2000, 3000, 4000]).await;
    write_history(store, a2, "a2", 7, &[2500, 3500]).await;
    write_history(store, b1, "b1", 1, &[2000]).await;
    for (bot, kind, items) in [
        (
            a1,
            FlowKind::Withdraw,
            vec![item("USDT", "100.25", "100.25", None)],
        ),
        (
            a2,
            FlowKind::Deposit,
            vec![item("ETH", "2", "6000", Some("3000"))],
        ),
    ] {
        store
            .record_flow(&NewFlow {
                bot_id: bot,
                kind,
                items,
                time_ms: 5000,
                bot: None,
            })
            .await
            .unwrap();
    }

    let got = store.account_bots("paper", "main").await.unwrap();
    let ids: Vec<BotId> = got.iter().map(|b| b.record.id).collect();
    assert_eq!(ids, [a1, a2, made[4].0], "the account's bots, in id order");
    for b in &got {
        let id = b.record.id;
        assert_eq!(Some(&b.record), store.bot(id).await.unwrap().as_ref());
        let last = store.rebalances(id).await.unwrap().last().map(|r| r.seq);
        assert_eq!(b.last_seq, last, "{}", b.record.name);
        assert_eq!(
            b.balances,
            store.balances(id).await.unwrap(),
            "{}",
            b.record.name
        );
        let net: Decimal = store
            .flows(id)
            .await
            .unwrap()
            .iter()
            .map(|f| {
                if f.kind == "deposit" {
                    f.value
                } else {
                    -f.value
                }
            })
            .sum();
        assert_eq!(b.net_invested, net, "{}", b.record.name);
    }
    assert_eq!(got[0].last_seq, Some(3));
    assert_eq!(got[1].last_seq, Some(8));
    assert_eq!(got[2].last_seq, None);
    assert_eq!(got[0].net_invested, d("900.25"));
    assert_eq!(got[1].net_invested, d("7000.50"));
    assert!(
        got[1]
            .balances
            .iter()
            .any(|(a, v)| a == "ETH" && *v == d("2"))
    );
    assert!(
        store
            .account_bots("paper", "nobody")
            .await
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------- paging

/// A rebalance started at each of `times` (seq from `first_seq`), each with one order
/// `{prefix}o{k}` created then and filled by one fill `{prefix}f{k}` at the same time (k
/// zero-padded, so ids compare as their numbers do). Returns the rebalance ids in the order
/// written.
pub async fn write_history(
    store: &dyn Store,
    bot_id: BotId,
    prefix: &str,
    first_seq: i64,
    times: &[i64],
) -> Vec<i64> {
    let mut ids = Vec::new();
    for (k, &t) in times.iter().enumerate() {
        let client_id = format!("{prefix}o{k:05}");
        let rb = store
            .begin_rebalance(&NewRebalance {
                bot_id,
                seq: first_seq + k as i64,
                kind: "rebalance".into(),
                reason: "threshold".into(),
                time_ms: t,
                plan: "{}".into(),
                orders: vec![order(&client_id, 0, Side::Buy)],
                bot: None,
            })
            .await
            .unwrap();
        let f = Fill {
            time_ms: t,
            ..fill(
                &format!("{prefix}f{k:05}"),
                &client_id,
                Side::Buy,
                d("0.001"),
                d("1000"),
                d("0"),
            )
        };
        store
            .apply_fills(&filled(&client_id, d("0.001")), &[f])
            .await
            .unwrap();
        store
            .finish_rebalance(rb, "completed", "{}", t, None)
            .await
            .unwrap();
        ids.push(rb);
    }
    ids
}

fn q(limit: u32, before: Option<Cursor>, from_ms: Option<i64>, to_ms: Option<i64>) -> PageQuery {
    PageQuery {
        limit,
        before,
        from_ms,
        to_ms,
    }
}

/// Every page from the first, following `next`: the items' keys in order and each page's total.
async fn walk<T, F>(
    limit: u32,
    from: Option<i64>,
    to: Option<i64>,
    read: F,
) -> (Vec<Cursor>, Vec<u64>)
where
    T: Keyed,
    F: AsyncFn(PageQuery) -> Page<T>,
{
    let mut keys = Vec::new();
    let mut totals = Vec::new();
    let mut before = None;
    loop {
        let p = read(q(limit, before, from, to)).await;
        assert!(p.items.len() <= limit as usize);
        keys.extend(p.items.iter().map(|i| i.cursor()));
        totals.push(p.total);
        match p.next {
            Some(c) => {
                assert_eq!(Some(&c), keys.last(), "next is the page's last item");
                before = Some(c);
            }
            None => break,
        }
    }
    (keys, totals)
}

/// Rebalances, orders, fills and flows by page: newest first by (time, id), ties broken by id; pages
/// follow each other without a gap or a repeat; the total counts the filtered range whatever
/// the cursor; `from` is inclusive, `to` exclusive; another bot's rows never appear.
pub async fn pages_of_rebalances_orders_and_fills(store: &dyn Store) {
    let id = funded_bot(store).await;
    let other = store.create_bot(&new_bot("beta")).await.unwrap();
    let times = [1000, 2000, 2000, 3000, 4000, 4000, 4000, 5000];
    let ids = write_history(store, id, "a", 1, &times).await;
    write_history(store, other, "b", 1, &[1500, 2500, 4500]).await;

    // The expected order: newest first, the later-written (greater id) first among equal times.
    let mut expected: Vec<(i64, usize)> = times.iter().copied().zip(0..).collect();
    expected.sort_by(|a, b| b.cmp(a));
    let rb_keys = |range: &dyn Fn(i64) -> bool| -> Vec<Cursor> {
        expected
            .iter()
            .filter(|(t, _)| range(*t))
            .map(|&(t, k)| Cursor {
                time_ms: t,
                id: ids[k].to_string(),
            })
            .collect()
    };
    let named = |prefix: &str, range: &dyn Fn(i64) -> bool| -> Vec<Cursor> {
        expected
            .iter()
            .filter(|(t, _)| range(*t))
            .map(|&(t, k)| Cursor {
                time_ms: t,
                id: format!("{prefix}{k:05}"),
            })
            .collect()
    };
    let all = |_: i64| true;
    let in_range = |t: i64| (2000..4000).contains(&t);

    for limit in [1, 3, 7, 8, 50] {
        let pages = times.len().div_ceil(limit as usize).max(1);
        let (keys, totals) = walk(limit, None, None, async |p| {
            store.rebalance_page(id, &p).await.unwrap()
        })
        .await;
        assert_eq!(keys, rb_keys(&all), "rebalances by {limit}");
        assert_eq!(totals, vec![8; pages], "rebalance totals by {limit}");
        let (keys, totals) = walk(limit, None, None, async |p| {
            store.order_page(id, &p).await.unwrap()
        })
        .await;
        assert_eq!(keys, named("ao", &all), "orders by {limit}");
        assert_eq!(totals, vec![8; pages]);
        let (keys, totals) = walk(limit, None, None, async |p| {
            store.fill_page(id, &p).await.unwrap()
        })
        .await;
        assert_eq!(keys, named("af", &all), "fills by {limit}");
        assert_eq!(totals, vec![8; pages]);
    }

    // [2000, 4000): the three at 2000 and 3000, by pages of 2.
    let (keys, totals) = walk(2, Some(2000), Some(4000), async |p| {
        store.rebalance_page(id, &p).await.unwrap()
    })
    .await;
    assert_eq!(keys, rb_keys(&in_range));
    assert_eq!(totals, vec![3, 3]);
    let (keys, _) = walk(2, Some(2000), Some(4000), async |p| {
        store.order_page(id, &p).await.unwrap()
    })
    .await;
    assert_eq!(keys, named("ao", &in_range));
    let (keys, totals) = walk(2, Some(4000), None, async |p| {
        store.fill_page(id, &p).await.unwrap()
    })
    .await;
    assert_eq!(keys, named("af", &|t| t >= 4000));
    assert_eq!(totals, vec![4, 4]);

    // A limit of 0 reads the total only; an empty range is an empty page.
    let p = store.order_page(id, &q(0, None, None, None)).await.unwrap();
    assert_eq!((p.items.len(), p.total, p.next), (0, 8, None));
    let p = store
        .fill_page(id, &q(10, None, Some(6000), None))
        .await
        .unwrap();
    assert_eq!((p.items.len(), p.total, p.next), (0, 0, None));

    // The items are the stored records.
    let p = store
        .rebalance_page(other, &q(1, None, None, None))
        .await
        .unwrap();
    assert_eq!(p.total, 3);
    assert_eq!(
        p.items,
        vec![store.rebalances(other).await.unwrap()[2].clone()]
    );
    let o = store
        .order_page(other, &q(1, None, None, None))
        .await
        .unwrap();
    assert_eq!(
        o.items,
        vec![store.order("bo00002").await.unwrap().unwrap()]
    );
    let f = store
        .fill_page(other, &q(1, None, None, None))
        .await
        .unwrap();
    assert_eq!(f.items[0].fill_id, "bf00002");
    assert_eq!(f.items[0].time_ms, 4500);

    // A rebalance cursor's id is an integer.
    let bad = Cursor {
        time_ms: 3000,
        id: "x".into(),
    };
    let e = store
        .rebalance_page(id, &q(5, Some(bad), None, None))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::BadValue(_)), "{e}");
    assert!(e.to_string().contains("`x`"), "{e}");

    // Flows by page the same way: newest first by (time, id), the later-recorded first among
    // equal times, the range's total, another bot's never.
    let deposit = |bot_id: BotId, time_ms: i64| NewFlow {
        bot_id,
        kind: FlowKind::Deposit,
        items: vec![FlowItem {
            asset: "USDT".into(),
            amount: d("10"),
            value: d("10"),
            basis: None,
        }],
        time_ms,
        bot: None,
    };
    for t in [2000, 2000, 3000] {
        store.record_flow(&deposit(id, t)).await.unwrap();
    }
    store.record_flow(&deposit(other, 2500)).await.unwrap();
    let mut flows = store.flows(id).await.unwrap();
    flows.sort_by_key(|f| std::cmp::Reverse((f.time_ms, f.id)));
    let flow_keys = |range: &dyn Fn(i64) -> bool| -> Vec<Cursor> {
        flows
            .iter()
            .filter(|f| range(f.time_ms))
            .map(Keyed::cursor)
            .collect()
    };
    let n = flows.len() as u64;
    assert!(n >= 4, "the deposits above and the funding");
    for limit in [1, 2, 50] {
        let (keys, totals) = walk(limit, None, None, async |p| {
            store.flow_page(id, &p).await.unwrap()
        })
        .await;
        assert_eq!(keys, flow_keys(&all), "flows by {limit}");
        assert_eq!(totals, vec![n; (n as usize).div_ceil(limit as usize)]);
    }
    let (keys, totals) = walk(1, Some(2000), Some(3000), async |p| {
        store.flow_page(id, &p).await.unwrap()
    })
    .await;
    assert_eq!(keys, flow_keys(&|t| (2000..3000).contains(&t)));
    assert_eq!(keys.len(), 2, "the two at 2000");
    assert_eq!(totals, vec![2, 2]);
    let p = store.flow_page(id, &q(1, None, None, None)).await.unwrap();
    assert_eq!(p.items, vec![flows[0].clone()]);
    let p = store
        .flow_page(other, &q(10, None, None, None))
        .await
        .unwrap();
    assert_eq!((p.items.len(), p.total), (1, 1));
    assert_eq!(p.items[0].time_ms, 2500);
}

fn snap(bot_id: BotId, time_ms: i64, value: i64) -> Snapshot {
    Snapshot {
        bot_id,
        time_ms,
        value: Decimal::from(value),
        net_invested: d("1000"),
        hold_value: d("990.5"),
    }
}

/// Value history thinned in the query: at most `points`, oldest first, the range's last always
/// kept, each the last of its time bucket; a range with no more than `points` comes whole; the
/// snapshot at or before a time and the first after it.
pub async fn snapshot_series_and_neighbours(store: &dyn Store) {
    let id = funded_bot(store).await;
    let other = store.create_bot(&new_bot("beta")).await.unwrap();
    // 100 hourly snapshots from t = 0, value = the hour.
    let hour = 3_600_000;
    let snaps: Vec<Snapshot> = (0..100).map(|h| snap(id, h * hour, h)).collect();
    store.insert_snapshots(&snaps).await.unwrap();
    store
        .insert_snapshots(&[snap(other, 5 * hour + 1, 7)])
        .await
        .unwrap();
    let series = |from_ms, to_ms, points| SeriesQuery {
        from_ms,
        to_ms,
        points,
    };

    let all = store
        .snapshot_series(id, &series(None, None, 1000))
        .await
        .unwrap();
    assert_eq!(all, snaps);
    assert_eq!(
        store
            .snapshot_series(id, &series(None, None, 100))
            .await
            .unwrap(),
        snaps
    );

    // 10 points over hours 0..=99: buckets of 99 h / 10 + 1 ms, the last hour of each.
    let ten = store
        .snapshot_series(id, &series(None, None, 10))
        .await
        .unwrap();
    let hours: Vec<i64> = ten.iter().map(|s| s.time_ms / hour).collect();
    assert_eq!(hours, vec![9, 19, 29, 39, 49, 59, 69, 79, 89, 99]);
    assert_eq!(ten[3], snaps[39]);

    // 7 points: buckets of 99 h / 7 + 1 ms (14.14 h): 7 of them, the last hour kept.
    let seven = store
        .snapshot_series(id, &series(None, None, 7))
        .await
        .unwrap();
    let hours: Vec<i64> = seven.iter().map(|s| s.time_ms / hour).collect();
    assert_eq!(hours, vec![14, 28, 42, 56, 70, 84, 99]);

    // One point: the newest of the range.
    let one = store
        .snapshot_series(id, &series(Some(10 * hour), Some(20 * hour), 1))
        .await
        .unwrap();
    assert_eq!(one, vec![snaps[19].clone()]);
    // A range: from inclusive, to exclusive.
    let range = store
        .snapshot_series(id, &series(Some(10 * hour), Some(20 * hour), 50))
        .await
        .unwrap();
    assert_eq!(range, snaps[10..20].to_vec());
    let thin = store
        .snapshot_series(id, &series(Some(10 * hour), Some(20 * hour), 3))
        .await
        .unwrap();
    let hours: Vec<i64> = thin.iter().map(|s| s.time_ms / hour).collect();
    assert_eq!(hours, vec![13, 16, 19]);
    assert!(
        store
            .snapshot_series(id, &series(Some(200 * hour), None, 5))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .snapshot_series(other, &series(None, None, 5))
            .await
            .unwrap()
            .len(),
        1
    );

    assert_eq!(
        store.snapshot_at_or_before(id, 5 * hour).await.unwrap(),
        Some(snaps[5].clone())
    );
    assert_eq!(
        store.snapshot_at_or_before(id, 5 * hour + 1).await.unwrap(),
        Some(snaps[5].clone())
    );
    assert_eq!(store.snapshot_at_or_before(id, -1).await.unwrap(), None);
    assert_eq!(
        store.snapshot_after(id, 5 * hour).await.unwrap(),
        Some(snaps[6].clone())
    );
    assert_eq!(store.snapshot_after(id, 99 * hour).await.unwrap(), None);
}
