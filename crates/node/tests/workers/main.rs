//! Workers on one PostgreSQL database (issue 16), against the paper venue that the database
//! itself holds (shared by every worker). Run by scripts/postgres-tests.sh.
//!
//! - partition: a worker whose heartbeats stop but which keeps running is fenced out by the
//!   worker that takes its account; its late writes are refused and change nothing; it comes
//!   back at a new epoch once it holds the lease again;
//! - failover: workers killed one after another (the task dropped where it is, nothing
//!   released); a live worker holds the account again at a new epoch each time, recovers and
//!   trades; at the end every ledger is its flows plus its fills, no client id was sent twice,
//!   no venue fill was lost;
//! - two workers with the same name: the second is refused, nothing changed;
//! - commands: each is executed by the worker holding its bot's account, whichever account
//!   the submitting process is configured for; a command for an account nobody holds waits in
//!   the queue until a worker takes the account;
//! - fenced claims: a partitioned worker's claim takes nothing once another worker holds its
//!   account, and the account's next holder runs the command.

mod common;

use common::*;
use rust_decimal::Decimal;
use smartfolio_exchange::paper::PaperChange;
use smartfolio_exchange::{OrderKind, Side};
use smartfolio_node::command::wall_ms;
use smartfolio_node::worker::{Beats, WORKER_VENUE, WorkerState};
use smartfolio_node::{Request, SubmitOptions, Submitted};
use smartfolio_store::{
    AccountKey, BotUpdate, CommandStatus, Fence, FlowItem, FlowKind, LeaseClock, NewBot, NewFlow,
    NewOrder, NewRebalance, OrderState, OrderUpdate, Snapshot, StoreError, open_store,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

const T0: i64 = 1_000_000_000_000;
const TTL: Duration = Duration::from_secs(10);

fn fenced<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) -> String {
    match r {
        Err(e @ StoreError::Fenced { .. }) => e.to_string(),
        other => panic!("{what}: expected a fenced refusal, got {other:?}"),
    }
}

/// Worker A on account `acct`, on a lease clock the test holds still at T0, heartbeats only
/// when the test says (the returned notify); once it trades its `bots` bots: it, its clock,
/// its beats and its epoch.
async fn worker_a(url: &str, bots: usize) -> (Running, LeaseClock, Arc<Notify>, i64) {
    let (a, clock, beats, epoch, _t) = worker_a_timed(url, bots).await;
    (a, clock, beats, epoch)
}

/// [`worker_a`], and the hand on its clock.
async fn worker_a_timed(
    url: &str,
    bots: usize,
) -> (Running, LeaseClock, Arc<Notify>, i64, Arc<AtomicI64>) {
    let (t, clock) = manual_clock(T0);
    let beats = Arc::new(Notify::new());
    let manual = Beats::Manual(beats.clone());
    let mut a = spawn_worker(url, "acct", "a", clock.clone(), manual, TTL).await;
    let state = a.until(|s| matches!(s, WorkerState::Trading { .. })).await;
    let WorkerState::Trading { epoch, bots: n } = state else {
        unreachable!()
    };
    assert_eq!(n, bots);
    (a, clock, beats, epoch, t)
}

/// A worker whose own name registration was re-taken by itself at an epoch it did not learn
/// (a renewal of a lapsed registration that committed while the heartbeat was dropped) keeps
/// its name and trades on; it used to refuse its own name, drop its bots and exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_keeps_its_own_name_registration_taken_at_an_epoch_it_missed() {
    let url = database("selfname").await;
    create_bots(&url, "acct", "s", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let base = open_store(Some(&url), dir.path()).await.unwrap();
    let (a, _clock, beats, epoch, t) = worker_a_timed(&url, 1).await;
    let name = |l: &smartfolio_store::LeaseRecord| l.venue == WORKER_VENUE && l.account == "a";
    let reg = base.leases().await.unwrap().into_iter().find(name).unwrap();
    let instance = reg.holder.clone().unwrap();
    // The registration, released and taken again by the same process at the next epoch.
    let fence = Fence {
        venue: WORKER_VENUE.into(),
        account: "a".into(),
        epoch: reg.epoch,
    };
    assert!(base.release_lease(&fence, &instance).await.unwrap());
    let again = base
        .acquire_lease(WORKER_VENUE, "a", &instance, T0, TTL.as_millis() as i64)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.epoch, reg.epoch + 1);

    // A beat a second later: the name is kept, and the account's lease renewed after it.
    t.store(T0 + 1_000, Ordering::SeqCst);
    beats.notify_one();
    let renewed = T0 + 1_000 + TTL.as_millis() as i64;
    let account = |l: &smartfolio_store::LeaseRecord| l.venue == "paper" && l.account == "acct";
    let mut state = a.state.clone();
    let wait = async {
        loop {
            let l = base.leases().await.unwrap().into_iter().find(account);
            if l.is_some_and(|l| l.expires_ms == renewed) {
                break;
            }
            // Each look waits on the worker's state too: a drop ends the wait at once.
            let changed = tokio::time::timeout(Duration::from_millis(50), state.changed());
            if let Ok(r) = changed.await {
                r.unwrap();
                assert!(
                    matches!(*state.borrow(), WorkerState::Trading { .. }),
                    "{:?}",
                    *state.borrow()
                );
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .expect("the account's lease was not renewed after the beat");
    assert_eq!(*a.state.borrow(), WorkerState::Trading { epoch, bots: 1 });
    let summary = a.stop().await;
    assert_eq!((summary.takeovers, summary.dropped), (1, 0));
}

/// A handle fenced by account `acct`'s lease at `epoch`, judged at `clock`: what a worker of
/// that epoch writes and claims through.
fn stale_handle(
    base: &dyn smartfolio_store::Backend,
    epoch: i64,
    clock: LeaseClock,
) -> Arc<dyn smartfolio_store::Backend> {
    let fence = Fence {
        venue: "paper".into(),
        account: "acct".into(),
        epoch,
    };
    base.fenced(fence, clock).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_heartbeats_stop_is_fenced_out_and_its_late_writes_change_nothing() {
    let url = database("partition").await;
    create_bots(&url, "acct", "p", 2).await;
    let dir = tempfile::tempdir().unwrap();
    let base = open_store(Some(&url), dir.path()).await.unwrap();

    let (mut a, clock_a, beats_a, a_epoch) = worker_a(&url, 2).await;
    // A trades: the deploys' fills are stored.
    let ids: Vec<i64> = base
        .list_bots()
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    for id in &ids {
        while base.fills(*id).await.unwrap().is_empty() {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    // The partition: A's heartbeats stop; at its expiry another worker takes the account.
    let b = base
        .acquire_lease("paper", "acct", "b", T0 + TTL.as_millis() as i64, 10_000)
        .await
        .unwrap()
        .expect("the expired lease is taken");
    assert_eq!(b.epoch, a_epoch + 1);
    let before = dump(&*base, "acct").await;

    // A runs on (its clock says its lease is still good): its next write is refused, and it
    // drops its bots, saying why.
    let WorkerState::Dropped { epoch, why } =
        a.until(|s| matches!(s, WorkerState::Dropped { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(epoch, a_epoch);
    assert!(
        why.contains("fenced")
            && why.contains(&format!("lease epoch {a_epoch}"))
            && why.contains(&format!("at epoch {}", b.epoch)),
        "{why}"
    );
    assert_eq!(
        dump(&*base, "acct").await,
        before,
        "a refused write changed the store"
    );

    // Every kind of write a stale worker could make through its handle is refused.
    let stale = stale_handle(&*base, a_epoch, clock_a.clone());
    let bot = base.list_bots().await.unwrap()[0].clone();
    let order = base.orders(bot.id).await.unwrap()[0].clone();
    let rb = base.rebalances(bot.id).await.unwrap()[0].clone();
    let t = T0 + 1;
    let upd = BotUpdate {
        id: bot.id,
        status: "stopped".into(),
        state: bot.state.clone(),
        config: None,
        time_ms: t,
    };
    let mut refusals = vec![
        fenced(stale.update_bot(&upd).await, "update_bot"),
        fenced(stale.close_ledger(&upd).await, "close_ledger"),
        fenced(
            stale
                .record_flow(&NewFlow {
                    bot_id: bot.id,
                    kind: FlowKind::Deposit,
                    items: vec![FlowItem {
                        asset: "USDT".into(),
                        amount: Decimal::ONE,
                        value: Decimal::ONE,
                        basis: None,
                    }],
                    time_ms: t,
                    bot: None,
                })
                .await,
            "record_flow",
        ),
        fenced(
            stale
                .insert_snapshots(&[Snapshot {
                    bot_id: bot.id,
                    time_ms: t,
                    value: Decimal::ONE,
                    net_invested: Decimal::ONE,
                    hold_value: Decimal::ONE,
                }])
                .await,
            "insert_snapshots",
        ),
        fenced(
            stale.finish_rebalance(rb.id, "done", "{}", t, None).await,
            "finish_rebalance",
        ),
        fenced(
            stale
                .update_order(&OrderUpdate {
                    client_id: order.client_id.clone(),
                    status: OrderState::Rejected,
                    venue_order_id: None,
                    filled_quantity: Decimal::ZERO,
                    error: Some("late".into()),
                    time_ms: t,
                })
                .await,
            "update_order",
        ),
        fenced(
            stale
                .begin_rebalance(&NewRebalance {
                    bot_id: bot.id,
                    seq: 10_000,
                    kind: "rebalance".into(),
                    reason: "late".into(),
                    time_ms: t,
                    plan: "{}".into(),
                    orders: vec![NewOrder {
                        client_id: "late-1".into(),
                        leg: 0,
                        base: "BTC".into(),
                        quote: "USDT".into(),
                        side: Side::Buy,
                        quantity: Decimal::ONE,
                        kind: OrderKind::Market,
                        quote_amount: None,
                    }],
                    bot: None,
                })
                .await,
            "begin_rebalance",
        ),
        fenced(
            stale
                .create_bot(&NewBot {
                    name: "late".into(),
                    venue: "paper".into(),
                    account: "acct".into(),
                    quote: "USDT".into(),
                    status: "running".into(),
                    config: bot.config.clone(),
                    state: bot.state.clone(),
                    time_ms: t,
                    deposit: vec![],
                })
                .await,
            "create_bot",
        ),
    ];
    let paper = stale
        .apply_paper(
            "acct",
            &PaperChange {
                next_seq: 999_999,
                ..PaperChange::default()
            },
        )
        .await
        .expect_err("the paper venue's change is fenced too");
    assert!(paper.contains("fenced"), "{paper}");
    refusals.push(paper);
    for r in &refusals {
        assert!(r.contains(&format!("lease epoch {a_epoch}")), "{r}");
    }
    assert_eq!(
        dump(&*base, "acct").await,
        before,
        "a refused write changed the store"
    );

    // The other holder lets go and A's heartbeat resumes: A takes the account at a new
    // epoch, recovers and trades on.
    assert!(base.release_lease(&b.fence(), "b").await.unwrap());
    beats_a.notify_one();
    let back = a
        .until(|s| matches!(s, WorkerState::Trading { epoch, .. } if *epoch > b.epoch))
        .await;
    assert_eq!(
        back,
        WorkerState::Trading {
            epoch: b.epoch + 1,
            bots: 2
        }
    );
    let summary = a.stop().await;
    assert_eq!((summary.takeovers, summary.dropped), (2, 1));
    let (bots, fills) = check_account(&*base, "acct").await;
    assert_eq!(bots, 2);
    assert!(fills >= 4, "{fills} fills");
    // Stopped: both leases given back.
    for l in base.leases().await.unwrap() {
        assert_eq!(l.holder, None, "{l:?}");
    }
}

/// A partitioned worker (its heartbeats stopped, its own lease clock still inside its lease)
/// claims nothing once another worker holds its account: the command waits in the queue, and
/// the account's next holder runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_workers_claim_takes_nothing_and_the_new_holder_runs_the_command() {
    let url = database("claim").await;
    create_bots(&url, "acct", "c", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let base = open_store(Some(&url), dir.path()).await.unwrap();
    let key = AccountKey::new("paper", "acct");

    let (mut a, clock_a, _beats_a, a_epoch) = worker_a(&url, 1).await;

    // The partition: A's lease expires and another holder takes the account (on the wall
    // clock, so that a client finds it held and queues); then a command for the account is
    // queued.
    let b = base
        .acquire_lease("paper", "acct", "b", wall_ms(), 60_000)
        .await
        .unwrap()
        .expect("the expired lease is taken");
    assert_eq!(b.epoch, a_epoch + 1);
    let Submitted::Queued(id) = submit(&url, "acct", pause("c0"), true).await else {
        panic!("not queued")
    };

    // A's handle (its clock still says T0) claims nothing: the lease is at another epoch.
    let stale = stale_handle(&*base, a_epoch, clock_a.clone());
    assert_eq!(
        stale
            .claim_command(std::slice::from_ref(&key))
            .await
            .unwrap(),
        None
    );
    // A itself drops its bots at its next write, the command untouched.
    a.until(|s| matches!(s, WorkerState::Dropped { .. })).await;
    let queued = base.command(id).await.unwrap().unwrap();
    assert_eq!(queued.status, CommandStatus::Queued, "{queued:?}");
    assert_ne!(
        base.bot_by_name("c0").await.unwrap().unwrap().status,
        "paused"
    );

    // B lets go; worker C takes the account and runs the waiting command, then
    // the next one (a queue runs in order, so the second's answer means the first ran).
    assert!(base.release_lease(&b.fence(), "b").await.unwrap());
    let beats = Beats::Every(Duration::from_millis(200));
    let mut c = spawn_worker(&url, "acct", "c", wall_clock(), beats, TTL).await;
    let WorkerState::Trading { epoch: c_epoch, .. } =
        c.until(|s| matches!(s, WorkerState::Trading { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(c_epoch, b.epoch + 1);
    paused_in_order(&url, "acct", &*base, id, "c0").await;
    assert_eq!(c.stop().await.commands, 2);
    let a = a.stop().await;
    assert_eq!((a.takeovers, a.dropped, a.commands), (1, 1, 0));
}

/// Three workers on one account, the holder killed three times; each time a live worker
/// holds the account again at the next epoch, recovers the in-flight orders and trades.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_workers_hand_their_account_to_a_live_one_and_nothing_is_lost_or_doubled() {
    let url = database("failover").await;
    create_bots(&url, "acct", "f", 6).await;
    let dir = tempfile::tempdir().unwrap();
    let base = open_store(Some(&url), dir.path()).await.unwrap();
    let ttl = Duration::from_millis(600);
    let beats = || Beats::Every(Duration::from_millis(100));
    let mut workers = Vec::new();
    for i in 0..3 {
        workers
            .push(spawn_worker(&url, "acct", &format!("w{i}"), wall_clock(), beats(), ttl).await);
    }
    let mut epoch = 0;
    for kill in 0..3 {
        // Wait for the holder (a live worker trading at a newer epoch).
        let holder = loop {
            let l = base
                .leases()
                .await
                .unwrap()
                .into_iter()
                .find(|l| l.venue == "paper" && l.account == "acct");
            if let Some(l) = l
                && l.epoch > epoch
                && let Some(h) = l.holder.clone()
                && let Some(i) = workers.iter().position(|w| w.name == h)
                && matches!(*workers[i].state.borrow(), WorkerState::Trading { epoch: e, .. } if e == l.epoch)
            {
                epoch = l.epoch;
                break i;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        // Exactly one worker trades; the others wait.
        let trading = workers
            .iter()
            .filter(|w| matches!(*w.state.borrow(), WorkerState::Trading { .. }))
            .count();
        assert_eq!(trading, 1, "kill {kill}");
        // Let it trade a little: a fill newer than the takeover.
        let fills_before: usize = count_fills(&*base).await;
        while count_fills(&*base).await == fills_before && kill == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let w = workers.remove(holder);
        w.kill().await;
        workers.push(
            spawn_worker(
                &url,
                "acct",
                &format!("w{}", 3 + kill),
                wall_clock(),
                beats(),
                ttl,
            )
            .await,
        );
    }
    // After the last kill, a live worker holds the account again.
    loop {
        let l = base
            .leases()
            .await
            .unwrap()
            .into_iter()
            .find(|l| l.venue == "paper" && l.account == "acct")
            .unwrap();
        if l.epoch > epoch
            && l.holder
                .as_ref()
                .is_some_and(|h| workers.iter().any(|w| &w.name == h))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for w in workers {
        w.stop().await;
    }
    let (bots, fills) = check_account(&*base, "acct").await;
    assert_eq!(bots, 6);
    assert!(fills >= 12, "{fills}");
}

async fn count_fills(s: &dyn smartfolio_store::Backend) -> usize {
    let mut n = 0;
    for b in s.list_bots().await.unwrap() {
        n += s.fills(b.id).await.unwrap().len();
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_worker_with_a_live_workers_name_is_refused_and_changes_nothing() {
    let url = database("samename").await;
    create_bots(&url, "acct", "s", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let base = open_store(Some(&url), dir.path()).await.unwrap();
    let (t, clock) = manual_clock(T0);
    let mut a = spawn_worker(
        &url,
        "acct",
        "same",
        clock.clone(),
        Beats::Manual(Arc::new(Notify::new())),
        TTL,
    )
    .await;
    a.until(|s| matches!(s, WorkerState::Trading { .. })).await;
    let leases = base.leases().await.unwrap();
    let twin = spawn_worker(
        &url,
        "acct",
        "same",
        clock.clone(),
        Beats::Manual(Arc::new(Notify::new())),
        TTL,
    )
    .await;
    let err = twin
        .task
        .await
        .unwrap()
        .expect_err("the twin is refused")
        .to_string();
    assert!(
        err.contains("invalid worker name: `same` is in use")
            && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(base.leases().await.unwrap(), leases);
    assert!(
        leases
            .iter()
            .any(|l| l.venue == WORKER_VENUE && l.account == "same")
    );
    let _ = t.load(Ordering::SeqCst);
    a.stop().await;
}

/// Submit `req` as `smartfolio bot` does from a process configured for account `own`.
async fn submit(url: &str, own: &str, req: Request, no_wait: bool) -> Submitted {
    let dir = tempfile::tempdir().unwrap();
    smartfolio_node::submit(
        config(dir.path(), url, own),
        &req,
        SubmitOptions {
            timeout: Duration::from_secs(60),
            no_wait,
        },
    )
    .await
    .unwrap()
}

/// The queued pause `id` of `bot` has run: a `show` of the bot submitted after it (from a
/// process configured for account `own`) is answered, and a queue runs in order; the pause
/// is done and the bot paused.
async fn paused_in_order(
    url: &str,
    own: &str,
    base: &dyn smartfolio_store::Backend,
    id: i64,
    bot: &str,
) {
    let show = Request::Show { bot: bot.into() };
    match submit(url, own, show, false).await {
        Submitted::Done(o) => assert!(o.ok, "{o:?}"),
        other => panic!("{other:?}"),
    }
    let ran = base.command(id).await.unwrap().unwrap();
    assert_eq!(ran.status, CommandStatus::Done, "{ran:?}");
    let status = base.bot_by_name(bot).await.unwrap().unwrap().status;
    assert_eq!(status, "paused", "{bot}");
}

fn pause(bot: &str) -> Request {
    Request::Pause { bot: bot.into() }
}

/// Two accounts, two workers: each command is executed by the holder of its bot's account
/// (a client configured for account `one` submits them all); a third account's command waits
/// in the queue while nobody holds it, and runs once a worker takes the account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_command_is_executed_by_the_worker_holding_its_bots_account() {
    let url = database("route").await;
    for acct in ["one", "two", "three"] {
        create_bots(&url, acct, &format!("{acct}-b"), 1).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = open_store(Some(&url), dir.path()).await.unwrap();
    let beats = || Beats::Every(Duration::from_millis(200));
    let mut w_one = spawn_worker(&url, "one", "w-one", wall_clock(), beats(), TTL).await;
    let mut w_two = spawn_worker(&url, "two", "w-two", wall_clock(), beats(), TTL).await;
    for w in [&mut w_one, &mut w_two] {
        w.until(|s| matches!(s, WorkerState::Trading { bots: 1, .. }))
            .await;
    }

    // Account three's command first: the oldest in the queue, and nobody holds three.
    let Submitted::Queued(waiting) = submit(&url, "one", pause("three-b0"), true).await else {
        panic!("not queued")
    };
    // Then one for each held account's bot, each waited for.
    let mut ids = Vec::new();
    for bot in ["two-b0", "one-b0"] {
        match submit(&url, "one", pause(bot), false).await {
            Submitted::Done(o) => assert!(o.ok, "{bot}: {o:?}"),
            other => panic!("{bot}: {other:?}"),
        }
        assert_eq!(
            base.bot_by_name(bot).await.unwrap().unwrap().status,
            "paused"
        );
    }
    for c in [waiting, waiting + 1, waiting + 2] {
        ids.push(base.command(c).await.unwrap().unwrap());
    }
    let accounts: Vec<_> = ids.iter().map(|c| c.account.clone().unwrap()).collect();
    assert_eq!(
        accounts,
        ["three", "two", "one"].map(|a| AccountKey::new("paper", a))
    );
    // Both later commands are done; the older one for three still waits, untouched.
    assert_eq!(
        ids.iter().map(|c| c.status).collect::<Vec<_>>(),
        [
            CommandStatus::Queued,
            CommandStatus::Done,
            CommandStatus::Done
        ]
    );
    assert_ne!(
        base.bot_by_name("three-b0").await.unwrap().unwrap().status,
        "paused"
    );

    // A worker takes account three: it runs the waiting command, then the next one (a queue
    // runs in order, so the second's answer means the first ran).
    let mut w_three = spawn_worker(&url, "three", "w-three", wall_clock(), beats(), TTL).await;
    w_three
        .until(|s| matches!(s, WorkerState::Trading { bots: 1, .. }))
        .await;
    paused_in_order(&url, "two", &*base, waiting, "three-b0").await;

    // Each worker ran its own account's commands, and only those.
    let mut ran = Vec::new();
    for w in [w_one, w_two, w_three] {
        ran.push(w.stop().await.commands);
    }
    assert_eq!(ran, [1, 1, 2]);
    for acct in ["one", "two", "three"] {
        let (bots, _) = check_account(&*base, acct).await;
        assert_eq!(bots, 1, "{acct}");
    }
}
