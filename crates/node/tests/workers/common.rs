//! The rig of the workers' tests: a fresh schema on the PostgreSQL server
//! `SMARTFOLIO_TEST_POSTGRES` names (scripts/postgres-tests.sh starts one), a paper account's
//! configuration, bots created as `smartfolio bot create` does, workers run as tasks, and the
//! checks every test ends with.

#![allow(dead_code)]

use rust_decimal::Decimal;
use smartfolio_core::InstrumentRules;
use smartfolio_exchange::paper::PaperConfig;
use smartfolio_node::worker::{self, Beats, WorkerOptions, WorkerState, WorkerSummary};
use smartfolio_node::{
    CreateSpec, MarketConfig, MarketKind, NodeConfig, NodeResult, Request, SubmitOptions, Submitted,
};
use smartfolio_store::{Backend, LeaseClock, PgStore, open_store};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{oneshot, watch};

pub const HOUR: i64 = 3_600_000;

/// A new schema of its own on the test server, as a store URL.
pub async fn database(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let url = std::env::var("SMARTFOLIO_TEST_POSTGRES").expect(
        "SMARTFOLIO_TEST_POSTGRES names the test server (run scripts/postgres-tests.sh): the \
         workers' tests never skip",
    );
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!(
        "wk_{tag}_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    PgStore::schema_url(&url, &schema).await.unwrap()
}

/// A paper account on a synthetic market, one hour a tick, a tick about every 10 ms.
pub fn config(dir: &Path, url: &str, account: &str) -> NodeConfig {
    let rules = InstrumentRules {
        lot_step: Some(Decimal::new(1, 8)),
        min_size: None,
        min_notional: Some(Decimal::from(5)),
        tick_size: None,
    };
    NodeConfig {
        accounts: vec![],
        data_dir: dir.to_path_buf(),
        store: Some(url.to_string()),
        quote: "USDT".into(),
        account: account.into(),
        paper: PaperConfig::new(account, "USDT")
            .with_instrument("BTC", rules.clone())
            .with_instrument("ETH", rules),
        balances: vec![("USDT".into(), Decimal::from(1_000_000))],
        cooldown_ms: 0,
        snapshot_interval_ms: HOUR,
        market: MarketConfig {
            kind: MarketKind::Synthetic,
            seed: 11,
            assets: vec!["BTC".into(), "ETH".into()],
            step_ms: HOUR,
            start_ms: 1_700_000_000_000,
            correlation: 0.3,
            speed: Some(360_000.0),
            replay_path: None,
            interval: None,
            from_ms: None,
            to_ms: None,
            poll_ms: smartfolio_node::market::DEFAULT_POLL_MS,
        },
        venue: smartfolio_node::VenueConfig::paper(),
        execution: Default::default(),
    }
}

/// Create `n` bots on `account` the way `smartfolio bot create` does (no worker holds the
/// account: the command takes its lease for the moment it runs).
pub async fn create_bots(url: &str, account: &str, prefix: &str, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..n {
        let spec = CreateSpec {
            name: format!("{prefix}{i}"),
            targets: "BTC=50,ETH=50".into(),
            trigger: Some("threshold:2".into()),
            investment: Some(Decimal::from(1000 + 10 * i as i64)),
            ..CreateSpec::default()
        };
        let out = smartfolio_node::submit(
            config(dir.path(), url, account),
            &Request::Create {
                spec: Box::new(spec),
            },
            SubmitOptions {
                timeout: Duration::from_secs(60),
                no_wait: false,
            },
        )
        .await
        .unwrap();
        match out {
            Submitted::Done(o) => assert!(o.ok, "{o:?}"),
            other => panic!("{other:?}"),
        }
    }
}

/// A lease clock a test moves by hand.
pub fn manual_clock(start: i64) -> (Arc<std::sync::atomic::AtomicI64>, LeaseClock) {
    let t = Arc::new(std::sync::atomic::AtomicI64::new(start));
    let read = t.clone();
    (t, Arc::new(move || read.load(Ordering::SeqCst)))
}

pub fn wall_clock() -> LeaseClock {
    Arc::new(smartfolio_node::command::wall_ms)
}

/// A worker running as a task; aborting it is a kill (nothing released, nothing finished).
pub struct Running {
    pub name: String,
    pub state: watch::Receiver<WorkerState>,
    pub task: tokio::task::JoinHandle<NodeResult<WorkerSummary>>,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

pub async fn spawn_worker(
    url: &str,
    account: &str,
    name: &str,
    clock: LeaseClock,
    beats: Beats,
    ttl: Duration,
) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), url, account);
    let store = open_store(cfg.store.as_deref(), &cfg.data_dir)
        .await
        .unwrap();
    let (tx, state) = watch::channel(WorkerState::Starting);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let opts = WorkerOptions {
        name: name.into(),
        ttl,
        beats,
        clock,
        wall: smartfolio_exchange::feed::system_wall_clock(),
        drive: Default::default(),
    };
    let task = tokio::spawn(worker::run(
        cfg,
        store,
        opts,
        async move {
            let _ = stop_rx.await;
        },
        tx,
    ));
    Running {
        name: name.into(),
        state,
        task,
        stop: Some(stop_tx),
        _dir: dir,
    }
}

impl Running {
    /// Wait until the worker says `f` of its state.
    pub async fn until(&mut self, f: impl Fn(&WorkerState) -> bool) -> WorkerState {
        let mut rx = self.state.clone();
        let w = tokio::time::timeout(Duration::from_secs(60), rx.wait_for(|s| f(s))).await;
        match w {
            Ok(Ok(s)) => s.clone(),
            _ => panic!("worker {}: state {:?}", self.name, *self.state.borrow()),
        }
    }

    pub async fn stop(mut self) -> WorkerSummary {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap()
    }

    /// SIGKILL's equivalent in-process: the task is dropped where it is.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Everything stored about `account`'s bots and its paper venue, as text.
pub async fn dump(s: &dyn Backend, account: &str) -> String {
    let mut out = String::new();
    for b in s.list_bots().await.unwrap() {
        if b.account != account {
            continue;
        }
        writeln!(out, "{b:?}").unwrap();
        writeln!(out, "{:?}", s.rebalances(b.id).await.unwrap()).unwrap();
        writeln!(out, "{:?}", s.orders(b.id).await.unwrap()).unwrap();
        writeln!(out, "{:?}", s.fills(b.id).await.unwrap()).unwrap();
        writeln!(out, "{:?}", s.ledger(b.id).await.unwrap()).unwrap();
        writeln!(out, "{:?}", s.flows(b.id).await.unwrap()).unwrap();
        writeln!(out, "{:?}", s.snapshots(b.id).await.unwrap()).unwrap();
    }
    writeln!(out, "{:?}", s.load_paper(account).await.unwrap()).unwrap();
    out
}

/// The checks of a run on `account`: each ledger is its flows plus its fills; every fill the
/// venue made for a stored order is stored once, and every stored fill is the venue's; no
/// client id was sent twice; no order is filled beyond its quantity; each bot's rebalances
/// have distinct sequence numbers. Returns (bots, stored fills).
pub async fn check_account(s: &dyn Backend, account: &str) -> (usize, usize) {
    let venue = s.load_paper(account).await.unwrap().unwrap_or_default();
    let mut venue_fills: BTreeMap<String, smartfolio_exchange::Fill> = BTreeMap::new();
    for f in &venue.fills {
        assert!(
            venue_fills.insert(f.fill_id.clone(), f.clone()).is_none(),
            "venue fill {} twice",
            f.fill_id
        );
    }
    let mut client_ids = std::collections::BTreeSet::new();
    for o in &venue.orders {
        assert!(
            client_ids.insert(o.client_id.clone()),
            "client id {} sent twice",
            o.client_id
        );
    }
    let (mut bots, mut stored) = (0, 0);
    let mut seen = std::collections::BTreeSet::new();
    for b in s.list_bots().await.unwrap() {
        if b.account != account {
            continue;
        }
        bots += 1;
        let mut expect: BTreeMap<String, Decimal> = BTreeMap::new();
        for f in s.flows(b.id).await.unwrap() {
            let sign = if f.kind == "deposit" {
                Decimal::ONE
            } else {
                -Decimal::ONE
            };
            *expect.entry(f.asset).or_default() += sign * f.amount;
        }
        let orders = s.orders(b.id).await.unwrap();
        let fills = s.fills(b.id).await.unwrap();
        for f in &fills {
            stored += 1;
            assert!(
                seen.insert(f.fill_id.clone()),
                "fill {} stored twice",
                f.fill_id
            );
            let v = venue_fills
                .get(&f.fill_id)
                .unwrap_or_else(|| panic!("stored fill {} is not the venue's", f.fill_id));
            assert_eq!(
                (v.quantity, v.price),
                (f.quantity, f.price),
                "{}",
                f.fill_id
            );
            let notional = f.quantity * f.price;
            let (base, quote) = if f.side == "buy" {
                (f.quantity, -notional)
            } else {
                (-f.quantity, notional)
            };
            *expect.entry(f.base.clone()).or_default() += base;
            *expect.entry(f.quote.clone()).or_default() += quote;
            *expect.entry(f.fee_asset.clone()).or_default() -= f.fee;
        }
        for o in &orders {
            let of_order = || fills.iter().filter(|f| f.client_id == o.client_id);
            // A market buy sized in quote may buy more base than planned when the price fell;
            // what it may never do is spend more than its amount.
            if let Some(amount) = o.quote_amount {
                let spent: Decimal = of_order().map(|f| f.quantity * f.price).sum();
                assert!(
                    spent <= amount,
                    "order {} spent {spent} > its amount {amount}",
                    o.client_id
                );
            } else {
                let filled: Decimal = of_order().map(|f| f.quantity).sum();
                assert!(
                    filled <= o.quantity,
                    "order {} filled {filled} > {}",
                    o.client_id,
                    o.quantity
                );
            }
        }
        let mut ledger: BTreeMap<String, Decimal> = BTreeMap::new();
        let mut released = false;
        for e in s.ledger(b.id).await.unwrap() {
            released |= e.kind == "release";
            *ledger.entry(e.asset).or_default() += e.amount;
        }
        if !released {
            expect.retain(|_, v| !v.is_zero());
            ledger.retain(|_, v| !v.is_zero());
            assert_eq!(ledger, expect, "bot {}: ledger != flows + fills", b.name);
        }
        let rbs = s.rebalances(b.id).await.unwrap();
        let seqs: std::collections::BTreeSet<i64> = rbs.iter().map(|r| r.seq).collect();
        assert_eq!(
            seqs.len(),
            rbs.len(),
            "bot {}: a rebalance sequence twice",
            b.name
        );
    }
    // Every venue fill of a stored order is stored (none lost).
    let ours: std::collections::BTreeSet<String> = {
        let mut v = std::collections::BTreeSet::new();
        for b in s.list_bots().await.unwrap() {
            for o in s.orders(b.id).await.unwrap() {
                v.insert(o.client_id);
            }
        }
        v
    };
    for f in venue_fills.values() {
        if ours.contains(&f.client_id) {
            assert!(
                seen.contains(&f.fill_id),
                "venue fill {} was lost",
                f.fill_id
            );
        }
    }
    (bots, stored)
}
