//! `smartfolio serve` (issue 16): the dashboard and the API over a store that other processes
//! trade, run in process ([`Server::start_reader`]) beside them. On both backends: the bot list
//! and a bot's pages come from what the trading process wrote (values from the latest stored
//! snapshot, saying so); a command posted to serve is executed by the trading process (the
//! SQLite data directory's daemon, or PostgreSQL's worker holding the account) and its result
//! shows through serve; serve asks the venue nothing, takes no lock and no lease. A store that
//! cannot be opened is named with its password masked.
//!
//! The same reader serves `run --http` with `[accounts]` ([`Server::start_beside_accounts`],
//! beside the daemon of several accounts): its price history is the default account's ticks,
//! so the allocation and backtest previews answer, still without a venue call.
//!
//! The PostgreSQL tests need `--features postgres` and `SMARTFOLIO_TEST_POSTGRES`
//! (`scripts/postgres-tests.sh` starts a throwaway server and runs them); they never skip.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use served::Served;
use smartfolio_core::InstrumentRules;
use smartfolio_exchange::paper::PaperConfig;
use smartfolio_node::driver::{self, DriveOptions};
use smartfolio_node::reader::NoVenue;
use smartfolio_node::{
    CreateSpec, Host, Lease, MarketConfig, MarketKind, NodeConfig, Request, SubmitOptions,
    Submitted,
};
use smartfolio_server::{ReaderOptions, Server};
use smartfolio_store::{Backend, PageQuery, open_store};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, oneshot};

mod served;

const HOUR: i64 = 3_600_000;

/// A paper account of BTC and ETH on a synthetic market, an hour a tick, a tick about every
/// 10 ms; `store` none for SQLite in `dir`.
fn config(dir: &Path, store: Option<&str>) -> NodeConfig {
    let rules = InstrumentRules {
        lot_step: Some(Decimal::new(1, 8)),
        min_size: None,
        min_notional: Some(Decimal::from(5)),
        tick_size: None,
    };
    NodeConfig {
        accounts: vec![],
        data_dir: dir.to_path_buf(),
        store: store.map(str::to_string),
        quote: "USDT".into(),
        account: "main".into(),
        paper: PaperConfig::new("main", "USDT")
            .with_instrument("BTC", rules.clone())
            .with_instrument("ETH", rules),
        balances: vec![("USDT".into(), Decimal::from(100_000))],
        cooldown_ms: 0,
        snapshot_interval_ms: HOUR,
        market: MarketConfig {
            kind: MarketKind::Synthetic,
            seed: 5,
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

/// Create bots `a` and `b` as `smartfolio bot create` does with no process trading (it runs
/// the command itself: on PostgreSQL under the account's lease for that moment).
async fn create_bots(cfg: &NodeConfig) {
    for (name, amount) in [("a", 1_000), ("b", 2_000)] {
        let spec = CreateSpec {
            name: name.into(),
            targets: "BTC=50,ETH=50".into(),
            trigger: Some("threshold:2".into()),
            investment: Some(Decimal::from(amount)),
            ..CreateSpec::default()
        };
        let out = smartfolio_node::submit(
            cfg.clone(),
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

/// `smartfolio serve` on `cfg`, in process, and its venue (which counts every call); commands
/// wait up to 60 s, and the bots are read again from the store only after a command (the
/// periodic refresh is an hour away), so what a test sees after a command is that command's
/// doing.
async fn serve(cfg: NodeConfig) -> (Served, Arc<NoVenue>) {
    serve_waiting(cfg, Duration::from_secs(60)).await
}

/// [`serve`] with commands waiting `wait` for their outcome.
async fn serve_waiting(cfg: NodeConfig, wait: Duration) -> (Served, Arc<NoVenue>) {
    let reading = ReaderOptions {
        wait,
        refresh: Duration::from_secs(3600),
    };
    let server = Server::start_reader(cfg, served::options(), reading)
        .await
        .unwrap();
    let venue = server.no_venue().expect("a reader's venue");
    (Served::run(server), venue)
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("a decimal string: {v}"))
        .parse()
        .unwrap()
}

/// The list and a bot's pages through serve are the store's: each bot valued at its latest
/// snapshot (`valued_at_ms` its time), its rebalances page as the store pages them.
async fn reads_match_the_store(s: &Served, store: &dyn Backend) {
    let list = s.get("/api/bots").await;
    let bots = list["bots"].as_array().unwrap();
    let mut names: Vec<&str> = bots.iter().map(|b| b["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["a", "b"], "{list}");
    for b in bots {
        let id = b["id"].as_i64().unwrap();
        let snap = store
            .snapshot_at_or_before(id, i64::MAX)
            .await
            .unwrap()
            .expect("the trading process wrote snapshots");
        assert_eq!(b["valued_at_ms"].as_i64(), Some(snap.time_ms), "{b}");
        assert_eq!(dec(&b["value"]), snap.value, "{b}");
        assert_eq!(dec(&b["pnl"]), snap.value - snap.net_invested, "{b}");
        let name = b["name"].as_str().unwrap();
        let view = s.get(&format!("/api/bots/{name}")).await;
        assert_eq!(view["summary"]["valued_at_ms"].as_i64(), Some(snap.time_ms));
        assert_eq!(dec(&view["pnl"]["hold_value"]), snap.hold_value, "{view}");
        let page = s
            .get(&format!("/api/bots/{name}/rebalances?limit=50"))
            .await;
        let stored = store
            .rebalance_page(
                id,
                &PageQuery {
                    limit: 50,
                    ..PageQuery::default()
                },
            )
            .await
            .unwrap();
        assert!(stored.total >= 1, "the deploy at least");
        assert_eq!(page["total"].as_u64(), Some(stored.total), "{page}");
        let ids: Vec<i64> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        let want: Vec<i64> = stored.items.iter().map(|r| r.id).collect();
        assert_eq!(ids, want);
    }
    let total: Decimal = bots.iter().map(|b| dec(&b["value"])).sum();
    assert_eq!(dec(&list["total_value"]), total);
    let status = s.get("/api/status").await;
    assert_eq!(status["mode"], "serve", "{status}");
    assert_eq!(status["balances"], json!([]), "no venue is asked: {status}");
    let metrics = s
        .http
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("smartfolio_bots"), "{metrics}");
}

/// A command posted to serve, executed by the trading process: its answer is the reply, and
/// serve's reads show it at once. A preview (market prices, the venue's rules) is refused
/// without asking the venue; an unknown bot is refused without queueing.
async fn commands_reach_the_trader(s: &Served, venue: &NoVenue) {
    let (status, body) = s.post("/api/bots/a/pause", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["status"], "paused", "{body}");
    let view = s.get("/api/bots/a").await;
    assert_eq!(view["summary"]["status"], "paused", "{view}");
    // Its value at market prices, as the trader answered it.
    assert_eq!(body["summary"]["valued_at_ms"], Value::Null, "{body}");
    let (status, body) = s.post("/api/bots/a/resume", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(s.get("/api/bots/a").await["summary"]["status"], "running");
    // A refusal keeps the status the API gives it in process: pausing twice is a conflict.
    let (status, body) = s.post("/api/bots/b/pause", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.post("/api/bots/b/pause", json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["field"], "status", "{body}");
    let (status, body) = s.post("/api/bots/zz/pause", json!({})).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = s
        .post(
            "/api/bots",
            json!({"name": "c", "targets": "BTC=60,ETH=40", "trigger": "threshold:3",
                   "investment": "500"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["bot"]["summary"]["name"], "c", "{body}");
    assert!(body["deploy"].is_object(), "deployed by the trader: {body}");
    let list = s.get("/api/bots").await;
    assert_eq!(list["bots"].as_array().unwrap().len(), 3, "{list}");
    let (status, body) = s
        .post(
            "/api/bots/a/preview",
            json!({"action": "invest", "amount": "10"}),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(venue.calls(), 0, "serve asked the venue");
}

/// The daemon of a SQLite data directory, driving its bots (`run`): for `ticks` ticks, or
/// until stopped. Taking the directory's lock at once proves that serve does not hold it.
struct Daemon {
    stop: oneshot::Sender<()>,
    /// Kept: the loop also ends when every handle is dropped.
    _handle: smartfolio_node::Handle<smartfolio_node::Bots>,
    task: tokio::task::JoinHandle<smartfolio_node::Driven<smartfolio_node::Bots>>,
}

async fn daemon(cfg: &NodeConfig, ticks: Option<u64>) -> Daemon {
    let lease = Lease::take(&cfg.data_dir, Duration::ZERO).await.unwrap();
    let (mut host, mut bots) = Host::open(cfg.clone(), lease).await.unwrap();
    let started = host.start(&mut bots).await.unwrap();
    host.mark_ready();
    let (stop, stop_rx) = oneshot::channel::<()>();
    let opts = DriveOptions {
        max_ticks: ticks,
        ..Default::default()
    };
    let (handle, task) = driver::spawn(bots, Some(host), Some(started.market), opts, async {
        let _ = stop_rx.await;
    });
    Daemon {
        stop,
        _handle: handle,
        task,
    }
}

impl Daemon {
    async fn end(self) {
        let _ = self.stop.send(());
        let driven = self.task.await.unwrap();
        driven.summary.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_serve_reads_beside_the_daemon_and_queues_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), None);
    create_bots(&cfg).await;
    // The daemon trades 30 hourly ticks (snapshots every hour), then stops.
    let first = daemon(&cfg, Some(30)).await;
    let driven = first.task.await.unwrap();
    assert_eq!(driven.summary.as_ref().unwrap().ticks, 30);
    drop(driven);
    let (s, venue) = serve(cfg.clone()).await;
    let store = open_store(None, dir.path()).await.unwrap();
    reads_match_the_store(&s, &*store).await;
    // The daemon starts beside serve (serve holds no lock) and executes what serve queues.
    let run = daemon(&cfg, None).await;
    commands_reach_the_trader(&s, &venue).await;
    run.end().await;
    let stopped = s.stop().await;
    assert_eq!(stopped.ticks, 0, "serve drives nothing");
    assert_eq!(stopped.bots, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_no_trader_takes_is_canceled_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), None);
    create_bots(&cfg).await;
    // No daemon runs: the command waits 200 ms for one, then is canceled.
    let (s, _) = serve_waiting(cfg, Duration::from_millis(200)).await;
    let before = s.get("/api/bots/a").await;
    let (status, body) = s.post("/api/bots/a/pause", json!({})).await;
    assert_eq!(status, 503, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("canceled and nothing changed"),
        "{message}"
    );
    let id: i64 = message
        .split_once('#')
        .and_then(|(_, r)| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the command's id");
    let store = open_store(None, dir.path()).await.unwrap();
    let cmd = store.command(id).await.unwrap().expect("queued");
    assert_eq!(cmd.status, smartfolio_store::CommandStatus::Canceled);
    assert_eq!(s.get("/api/bots/a").await, before);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_store_is_named_with_its_password_masked() {
    // Nothing listens on port 1; without the `postgres` feature the URL is refused as such.
    refused_masked("postgres://sf:hunter2@127.0.0.1:1/sf", "hunter2").await;
}

/// Serving `url` is refused, naming it with its password (`password`) masked.
async fn refused_masked(url: &str, password: &str) {
    let dir = tempfile::tempdir().unwrap();
    let e = Server::start_reader(
        config(dir.path(), Some(url)),
        served::options(),
        ReaderOptions::default(),
    )
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(e.contains(&smartfolio_store::mask_url(url)), "{e}");
    assert!(e.contains("***"), "{e}");
    assert!(!e.contains(password), "{e}");
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use smartfolio_node::worker::{self, Beats, WorkerOptions, WorkerState};
    use smartfolio_store::{LeaseRecord, PgStore};
    use tokio::sync::watch;

    /// A schema of its own on the test server, as a store URL.
    async fn database(tag: &str) -> String {
        let url = std::env::var("SMARTFOLIO_TEST_POSTGRES").expect(
            "SMARTFOLIO_TEST_POSTGRES names the test server (run scripts/postgres-tests.sh): \
             serve's PostgreSQL tests never skip",
        );
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let schema = format!("serve_{tag}_{}_{nanos}", std::process::id());
        PgStore::schema_url(&url, &schema).await.unwrap()
    }

    /// Worker `w1` on the account (a heartbeat every 200 ms, TTL 2 s), as a task.
    struct Worker {
        state: watch::Receiver<WorkerState>,
        stop: oneshot::Sender<()>,
        task: tokio::task::JoinHandle<smartfolio_node::NodeResult<worker::WorkerSummary>>,
        _dir: tempfile::TempDir,
    }

    async fn worker(url: &str, ticks: Option<u64>) -> Worker {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), Some(url));
        let store = open_store(cfg.store.as_deref(), &cfg.data_dir)
            .await
            .unwrap();
        let (tx, state) = watch::channel(WorkerState::Starting);
        let (stop, stop_rx) = oneshot::channel::<()>();
        let opts = WorkerOptions {
            name: "w1".into(),
            ttl: Duration::from_secs(2),
            beats: Beats::Every(Duration::from_millis(200)),
            clock: Arc::new(smartfolio_node::command::wall_ms),
            wall: smartfolio_exchange::feed::system_wall_clock(),
            drive: DriveOptions {
                max_ticks: ticks,
                ..Default::default()
            },
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
        Worker {
            state,
            stop,
            task,
            _dir: dir,
        }
    }

    impl Worker {
        /// The epoch it trades at, once it does.
        async fn trading(&mut self) -> i64 {
            let s = tokio::time::timeout(
                Duration::from_secs(60),
                self.state
                    .wait_for(|s| matches!(s, WorkerState::Trading { .. })),
            )
            .await
            .expect("the worker trades within 60 s")
            .unwrap()
            .clone();
            match s {
                WorkerState::Trading { epoch, .. } => epoch,
                other => panic!("{other:?}"),
            }
        }

        async fn end(self) -> worker::WorkerSummary {
            let _ = self.stop.send(());
            self.task.await.unwrap().unwrap()
        }
    }

    fn account_lease(leases: &[LeaseRecord]) -> LeaseRecord {
        leases
            .iter()
            .find(|l| l.venue == "paper" && l.account == "main")
            .cloned()
            .expect("the account's lease row")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serve_reads_what_a_worker_wrote_and_its_commands_run_on_the_worker() {
        let url = database("cmd").await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), Some(&url));
        create_bots(&cfg).await;
        // The worker trades 30 hourly ticks, then ends (giving the lease back).
        let first = worker(&url, Some(30)).await;
        let summary = first.task.await.unwrap().unwrap();
        assert_eq!(summary.ticks, 30);
        let store = open_store(Some(&url), dir.path()).await.unwrap();
        let before = store.leases().await.unwrap();
        let (s, venue) = serve(cfg.clone()).await;
        reads_match_the_store(&s, &*store).await;
        assert_eq!(
            store.leases().await.unwrap(),
            before,
            "serve took no lease while it read"
        );
        // A worker holding the account executes what serve queues.
        let mut w = worker(&url, None).await;
        let epoch = w.trading().await;
        commands_reach_the_trader(&s, &venue).await;
        let held = account_lease(&store.leases().await.unwrap());
        assert_eq!(held.holder.as_deref(), Some("w1"), "{held:?}");
        assert_eq!(held.epoch, epoch, "the worker held it throughout");
        let summary = w.end().await;
        // Pause a, resume a, pause b twice (the second refused), create c; the unknown bot
        // was refused by serve itself, the preview too.
        assert_eq!(
            summary.commands, 5,
            "the worker ran serve's commands: {summary:?}"
        );
        let stopped = s.stop().await;
        assert_eq!(stopped.ticks, 0, "serve drives nothing");
        // Every lease row is a worker's or the commands' run before any worker: none is serve's.
        for l in store.leases().await.unwrap() {
            assert!(
                l.holder.is_none() || l.holder.as_deref().is_some_and(|h| h.starts_with("w1")),
                "{l:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wrong_password_is_named_masked() {
        let url = database("pw").await;
        let (head, tail) = url.split_once('@').unwrap();
        let user = head.rsplit_once(':').unwrap().0;
        let wrong = format!("{user}:not-the-password-9f2@{tail}");
        refused_masked(&wrong, "not-the-password-9f2").await;
    }
}

/// `run --http` with `[accounts]`, in process: the API over the store
/// ([`Server::start_beside_accounts`]) beside the daemon of two paper accounts
/// (`accounts::run`), the default account's ticks given to the API. Before any tick the
/// allocation preview answers 409 naming the missing history; once the daemon has ticked, the
/// allocation and backtest previews (methods over BTC and ETH) and a create with a method on
/// the second account answer as in a one-account `run --http`; the reader's venue is never
/// called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beside_accounts_the_previews_run_over_the_default_accounts_prices() {
    use smartfolio_node::accounts::{self, DaemonOptions};
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), None);
    cfg.accounts = vec![smartfolio_node::AccountConfig {
        name: "side-1".into(),
        venue: smartfolio_node::VenueConfig::paper(),
    }];
    let lease = Lease::take(&cfg.data_dir, Duration::ZERO).await.unwrap();
    let (prices, prices_rx) = broadcast::channel(1024);
    // The test sees each tick the API is given.
    let mut ticks = prices.subscribe();
    let server = Server::start_beside_accounts(cfg.clone(), served::options(), prices_rx)
        .await
        .unwrap();
    let venue = server.no_venue().expect("a reader's venue");
    let s = Served::run(server);
    let alloc = json!({"assets": ["BTC", "ETH"], "method": "inverse-vol"});
    let (status, v) = s.post("/api/preview/allocation", alloc.clone()).await;
    assert_eq!(status, 409, "{v}");
    let text = v.to_string();
    assert!(
        text.contains("no price history yet") && text.contains("history_bars"),
        "{v}"
    );

    let mut opts = DaemonOptions::new(
        DriveOptions::default(),
        smartfolio_exchange::feed::system_wall_clock(),
    );
    opts.prices = Some(prices);
    let (stop, stopped) = oneshot::channel::<()>();
    let daemon = tokio::spawn(accounts::run(cfg.clone(), lease, opts, async move {
        let _ = stopped.await;
    }));
    // After each tick of the default account, the history the API shows (it only grows).
    let status = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match ticks.recv().await {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("the daemon's ticks ended: {e}"),
            }
            let v = s.get("/api/status").await;
            if v["history_bars"].as_u64().unwrap_or(0) >= 30 {
                break v;
            }
        }
    })
    .await
    .expect("30 bars of history within 60 s");
    assert_eq!(status["mode"], "daemon", "{status}");
    assert_eq!(status["assets"], json!(["BTC", "ETH"]), "{status}");
    assert!(status["market_time_ms"].as_i64().is_some(), "{status}");

    let (code, v) = s.post("/api/preview/allocation", alloc).await;
    assert_eq!(code, 200, "{v}");
    let w: Vec<f64> = v["weights_pct"]
        .as_array()
        .expect("weights")
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(w.len(), 2, "{v}");
    assert!(
        w.iter().all(|x| *x > 0.0) && (w.iter().sum::<f64>() - 100.0).abs() < 1e-6,
        "{v}"
    );
    let (code, v) = s
        .post(
            "/api/preview/backtest",
            json!({"assets": ["BTC", "ETH"], "method": "min-variance", "trigger": "threshold:5"}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert!(v["bars"].as_u64().unwrap() >= 30, "{v}");
    let (code, v) = s
        .post(
            "/api/bots",
            json!({"name": "by-vol", "assets": ["BTC", "ETH"], "method": "inverse-vol",
                   "trigger": "threshold:5", "investment": "1000", "account": "side-1"}),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["bot"]["config"]["account"], "side-1", "{v}");
    assert_eq!(venue.calls(), 0, "the API called no venue");

    let _ = stop.send(());
    daemon.await.unwrap().unwrap();
    s.stop().await;
}
