//! Several venue accounts in one daemon (issue 12, `node::accounts`), end to end: one daemon
//! over one store trades an account on a Binance simulator (the default account), one on an
//! OKX simulator and one on a Gate simulator, each speaking its venue's wire with its own key,
//! on loopback. A bot is created on each account through the store's command queue (as
//! `smartfolio bot create --account` queues it); each deploys and rebalances on its own venue
//! only: every order a simulator received is one of its account's bot's stored orders, and each
//! simulator's account is what its bot's ledger says. A venue that fails (every answer an
//! error, its prices aged past the stale limit) suspends its account's bot only: the other
//! accounts keep answering commands and trading.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use secrecy::SecretString;
use smartfolio_core::InstrumentRules;
use smartfolio_exchange::feed::WallClock;
use smartfolio_exchange::paper::PaperConfig;
use smartfolio_node::accounts::{self, DaemonOptions, DaemonSummary};
use smartfolio_node::driver::DriveOptions;
use smartfolio_node::venue::{Timeouts, VenueConfig, VenueKind};
use smartfolio_node::{
    AccountConfig, ApiKeys, CreateSpec, Lease, MarketConfig, NodeConfig, NodeResult, Outcome,
    Request, SubmitOptions, Submitted,
};
use smartfolio_sim::{Faults, RunningSim, SimConfig, Simulator, Wire};
use smartfolio_store::{Backend, Store, open_store};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

const START_USDT: Decimal = dec!(10000);
const PASSPHRASE: &str = "multi-pass-31";

/// One account's venue: its simulator, its account name and the bot created on it.
struct Venue {
    account: &'static str,
    kind: VenueKind,
    bot: &'static str,
    sim: Simulator,
    server: RunningSim,
}

impl Venue {
    /// A simulator speaking `kind`'s wire, with a key of its own and BTC at `btc`.
    async fn start(
        account: &'static str,
        kind: VenueKind,
        bot: &'static str,
        btc: Decimal,
    ) -> Self {
        let rules = |lot| InstrumentRules {
            lot_step: Some(lot),
            min_size: Some(lot),
            min_notional: Some(dec!(5)),
            tick_size: Some(dec!(0.01)),
        };
        let sim = Simulator::new(SimConfig {
            api_key: key(kind),
            api_secret: SecretString::from(secret(kind)),
            paper: PaperConfig::new("sim", "USDT")
                .with_instrument("BTC", rules(dec!(0.00001)))
                .with_instrument("ETH", rules(dec!(0.0001))),
            balances: vec![("USDT".into(), START_USDT)],
            market: None,
            history_ms: 0,
            faults: Faults::default(),
            persistence: None,
        })
        .await
        .unwrap();
        sim.set_prices(&[("BTC", btc), ("ETH", dec!(2000))])
            .await
            .unwrap();
        let wire = match kind {
            VenueKind::Okx => Wire::Okx {
                passphrase: SecretString::from(PASSPHRASE.to_string()),
                demo: false,
            },
            VenueKind::Gate => Wire::Gate,
            _ => Wire::Binance,
        };
        let server = sim
            .serve_wire(([127, 0, 0, 1], 0).into(), wire)
            .await
            .unwrap();
        Venue {
            account,
            kind,
            bot,
            sim,
            server,
        }
    }

    fn config(&self) -> VenueConfig {
        VenueConfig {
            kind: self.kind,
            base_url: Some(self.server.base_url()),
            keys: Some(ApiKeys {
                api_key: SecretString::from(key(self.kind)),
                api_secret: SecretString::from(secret(self.kind)),
                passphrase: (self.kind == VenueKind::Okx)
                    .then(|| SecretString::from(PASSPHRASE.to_string())),
            }),
            allow_withdrawal_keys: false,
            timeouts: Timeouts {
                request_ms: 2_000,
                connect_ms: 1_000,
            },
            demo: false,
            prices: None,
        }
    }

    /// The client id of our order `id` as the venue keeps it (Gate's `text`: `t-` and the id).
    fn at_venue(&self, id: &str) -> String {
        match self.kind {
            VenueKind::Gate => format!("t-{id}"),
            _ => id.to_string(),
        }
    }
}

/// Each venue's key and secret differ: a request signed for one is refused by the others.
fn key(kind: VenueKind) -> String {
    format!("key-of-{kind}")
}

fn secret(kind: VenueKind) -> String {
    format!("secret-of-{kind}-8c1f")
}

/// Binance (the default account), OKX and Gate, BTC at a different price on each.
async fn three_venues() -> Vec<Venue> {
    vec![
        Venue::start("bin", VenueKind::Binance, "on-binance", dec!(40000)).await,
        Venue::start("okx-main", VenueKind::Okx, "on-okx", dec!(41000)).await,
        Venue::start("gate-1", VenueKind::Gate, "on-gate", dec!(39000)).await,
    ]
}

/// The daemon's configuration: the first venue the default account, the others
/// `[accounts.NAME]`; a live market of BTC and ETH read every 20 ms.
fn config(dir: &std::path::Path, venues: &[Venue]) -> NodeConfig {
    NodeConfig {
        execution: Default::default(),
        data_dir: dir.to_path_buf(),
        store: None,
        quote: "USDT".into(),
        account: venues[0].account.into(),
        paper: PaperConfig::new(venues[0].account, "USDT"),
        balances: vec![],
        market: MarketConfig::live(&["BTC", "ETH"], 20),
        cooldown_ms: 0,
        snapshot_interval_ms: 3_600_000,
        venue: venues[0].config(),
        accounts: venues[1..]
            .iter()
            .map(|v| AccountConfig {
                name: v.account.into(),
                venue: v.config(),
            })
            .collect(),
    }
}

/// A running daemon, the store beside it (as `smartfolio bot` opens it) and how to stop it.
struct Daemon {
    _dir: tempfile::TempDir,
    cfg: NodeConfig,
    store: Arc<dyn Backend>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<NodeResult<DaemonSummary>>,
}

/// Start the daemon over `venues`, with `walls` as some accounts' own wall clocks.
async fn daemon(venues: &[Venue], walls: Vec<(String, WallClock)>) -> Daemon {
    daemon_with(venues, walls, accounts::RESTART_EVERY).await
}

/// [`daemon`], an account whose start failed started again every `restart_every`.
async fn daemon_with(
    venues: &[Venue],
    walls: Vec<(String, WallClock)>,
    restart_every: Duration,
) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), venues);
    let lease = Lease::take(dir.path(), Duration::ZERO).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut opts = DaemonOptions::new(
        DriveOptions::default(),
        smartfolio_exchange::feed::system_wall_clock(),
    );
    opts.walls = walls;
    opts.restart_every = restart_every;
    let task = tokio::spawn(accounts::run(cfg.clone(), lease, opts, async move {
        let _ = stopped.await;
    }));
    // As `smartfolio bot list` reaches it: queued once the daemon is ready.
    let out = submit(cfg.clone(), &Request::List).await;
    assert!(out.ok, "{:?}", out.error);
    let store = open_store(None, dir.path()).await.unwrap();
    Daemon {
        _dir: dir,
        cfg,
        store,
        stop,
        task,
    }
}

/// Submit `req` as `smartfolio bot` does (queued for the daemon once it is ready) and wait for
/// its outcome.
async fn submit(cfg: NodeConfig, req: &Request) -> Outcome {
    let opts = SubmitOptions {
        timeout: Duration::from_secs(60),
        no_wait: false,
    };
    match smartfolio_node::submit(cfg, req, opts).await.unwrap() {
        Submitted::Done(o) => o,
        other => panic!("{req:?}: {other:?}"),
    }
}

impl Daemon {
    async fn command(&self, req: Request) -> Outcome {
        submit(self.cfg.clone(), &req).await
    }

    async fn create(&self, v: &Venue) -> serde_json::Value {
        let out = self
            .command(Request::Create {
                spec: Box::new(CreateSpec {
                    name: v.bot.into(),
                    targets: "BTC=50,ETH=50".into(),
                    trigger: Some("threshold:5".into()),
                    investment: Some(dec!(1000)),
                    cooldown_ms: Some(0),
                    account: Some(v.account.into()),
                    ..CreateSpec::default()
                }),
            })
            .await;
        assert!(out.ok, "{}: {:?}", v.bot, out.error);
        out.output
    }

    async fn stop(self) -> DaemonSummary {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap()
    }
}

/// The stored record of `v`'s bot.
async fn bot(store: &dyn Store, v: &Venue) -> smartfolio_store::BotRecord {
    store.bot_by_name(v.bot).await.unwrap().expect("the bot")
}

/// Nothing crossed: every order `v`'s simulator received is one of its bot's stored orders
/// (and the other way round), each once; and its account holds what the bot's ledger says.
async fn assert_venue_is_its_bots(store: &dyn Store, v: &Venue) -> usize {
    let b = bot(store, v).await;
    assert_eq!(
        (b.account.as_str(), b.venue.as_str()),
        (v.account, v.kind.name())
    );
    let stored: BTreeSet<String> = store
        .orders(b.id)
        .await
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(
                (o.account.as_str(), o.venue.as_str()),
                (v.account, v.kind.name())
            );
            v.at_venue(&o.client_id)
        })
        .collect();
    let at_venue: Vec<String> = v
        .sim
        .paper()
        .account()
        .await
        .orders
        .iter()
        .map(|o| o.client_id.clone())
        .collect();
    let (_, twice) = v.sim.client_ids().await;
    assert!(twice.is_empty(), "{}: a client id twice: {twice:?}", v.bot);
    assert_eq!(
        at_venue.iter().cloned().collect::<BTreeSet<_>>(),
        stored,
        "{}: the venue's orders are the bot's",
        v.bot
    );
    let ledger: BTreeMap<String, Decimal> =
        store.balances(b.id).await.unwrap().into_iter().collect();
    let acct = v.sim.totals().await;
    for asset in ["BTC", "ETH"] {
        assert_eq!(
            acct.get(asset).copied().unwrap_or_default(),
            ledger.get(asset).copied().unwrap_or_default(),
            "{} {asset}: account {acct:?}, ledger {ledger:?}",
            v.bot
        );
    }
    assert_eq!(
        acct["USDT"],
        START_USDT - dec!(1000) + ledger.get("USDT").copied().unwrap_or_default(),
        "{} USDT: account {acct:?}, ledger {ledger:?}",
        v.bot
    );
    at_venue.len()
}

/// The bot's finished rebalances, as the store has them.
async fn finished_rebalances(store: &dyn Store, v: &Venue) -> usize {
    let b = bot(store, v).await;
    store
        .rebalances(b.id)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.finished_ms.is_some())
        .count()
}

/// Look at the store every 20 ms (as `smartfolio bot` looks at a queued command) until
/// `done` holds of what it reads, at most 30 s: a state the daemon records and keeps.
async fn until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "not within 30 s: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_daemon_trades_binance_okx_and_gate_accounts_and_nothing_crosses() {
    let venues = three_venues().await;
    let d = daemon(&venues, vec![]).await;

    // A bot on each account, deployed on its own venue: a buy per asset there, nowhere else.
    for v in &venues {
        let out = d.create(v).await;
        let summary = &out["bot"]["summary"];
        assert_eq!(summary["status"], "running", "{out}");
        assert_eq!(summary["venue"], v.kind.name(), "{out}");
    }
    for v in &venues {
        assert_eq!(assert_venue_is_its_bots(&*d.store, v).await, 2, "{}", v.bot);
    }
    // A list covers every account, by id.
    let out = d.command(Request::List).await;
    assert!(out.ok, "{:?}", out.error);
    let names: Vec<&str> = out
        .output
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["on-binance", "on-okx", "on-gate"]);

    // BTC +30 % on one venue at a time: that venue's bot rebalances there (a threshold of 5
    // points), the others, whose venues did not move, do not.
    for (i, v) in venues.iter().enumerate() {
        let before = rebalance_counts(&d, &venues).await;
        let price = [dec!(52000), dec!(53300), dec!(50700)][i];
        v.sim.set_prices(&[("BTC", price)]).await.unwrap();
        until(&format!("{} rebalances", v.bot), || async {
            finished_rebalances(&*d.store, v).await > before[i]
        })
        .await;
        let after = rebalance_counts(&d, &venues).await;
        for (j, w) in venues.iter().enumerate() {
            if j != i {
                assert_eq!(after[j], before[j], "{} moved with {}", w.bot, v.bot);
            }
        }
        assert_eq!(
            assert_venue_is_its_bots(&*d.store, v).await,
            4,
            "a sell and a buy on {}",
            v.bot
        );
    }
    for v in &venues {
        assert_venue_is_its_bots(&*d.store, v).await;
    }

    // A create for an account that is not configured is refused, naming the ones that are.
    let out = d
        .command(Request::Create {
            spec: Box::new(CreateSpec {
                name: "nowhere".into(),
                targets: "BTC=100".into(),
                investment: Some(dec!(100)),
                account: Some("kraken-1".into()),
                ..CreateSpec::default()
            }),
        })
        .await;
    assert!(!out.ok);
    assert_eq!(out.named.field.as_deref(), Some("account"));
    assert_eq!(out.named.value.as_deref(), Some("kraken-1"));
    assert_eq!(
        out.named.allowed.as_deref(),
        Some("a configured account: bin (binance), okx-main (okx), gate-1 (gate)")
    );

    let summary = d.stop().await;
    let names: Vec<&str> = summary.accounts.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(names, ["bin", "okx-main", "gate-1"]);
    assert!(
        summary
            .accounts
            .iter()
            .all(|(_, s)| s.ticks > 0 && s.ended == "interrupted")
    );
    for v in venues {
        v.server.shutdown().await;
    }
}

/// Each venue's bot's finished rebalances, in order.
async fn rebalance_counts(d: &Daemon, venues: &[Venue]) -> Vec<usize> {
    let mut out = vec![];
    for v in venues {
        out.push(finished_rebalances(&*d.store, v).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_venue_that_fails_suspends_its_accounts_bot_only_and_the_others_trade() {
    let venues = three_venues().await;
    // The OKX account's clock, which the test moves ahead to age its prices.
    let ahead = Arc::new(AtomicI64::new(0));
    let system = smartfolio_exchange::feed::system_wall_clock();
    let okx_wall: WallClock = {
        let ahead = ahead.clone();
        Arc::new(move || system() + ahead.load(Ordering::SeqCst))
    };
    let d = daemon(&venues, vec![("okx-main".into(), okx_wall)]).await;
    for v in &venues {
        d.create(v).await;
    }
    let okx = &venues[1];
    let okx_orders = okx.sim.paper().account().await.orders.len();
    let okx_before = okx.sim.totals().await;

    // OKX answers nothing but errors from now on, and its account's prices age past the
    // bot's stale limit: its bot is suspended, nothing sold.
    okx.sim
        .set_faults(Faults {
            server_errors: 1_000_000,
            ..Faults::default()
        })
        .unwrap();
    let stale =
        serde_json::from_str::<smartfolio_bot::BotConfig>(&bot(&*d.store, okx).await.config)
            .unwrap()
            .max_tick_age_ms;
    ahead.store(stale + 1_000, Ordering::SeqCst);
    until("the OKX bot is suspended", || async {
        bot(&*d.store, okx).await.status == "suspended"
    })
    .await;

    // The other accounts answer commands and trade meanwhile: a rebalance now on each.
    for v in [&venues[0], &venues[2]] {
        let before = finished_rebalances(&*d.store, v).await;
        v.sim.set_prices(&[("BTC", dec!(60000))]).await.unwrap();
        until(&format!("{} rebalances", v.bot), || async {
            finished_rebalances(&*d.store, v).await > before
        })
        .await;
        assert_eq!(assert_venue_is_its_bots(&*d.store, v).await, 4, "{}", v.bot);
        let out = d.command(Request::Show { bot: v.bot.into() }).await;
        assert!(out.ok, "{:?}", out.error);
        assert_eq!(out.output["summary"]["status"], "running", "{}", v.bot);
    }
    // The OKX bot is still suspended; nothing reached OKX and its account is untouched.
    let b = bot(&*d.store, okx).await;
    assert_eq!(b.status, "suspended");
    assert!(b.state.contains("stale"), "{}", b.state);
    okx.sim.set_faults(Faults::default()).unwrap();
    assert_eq!(okx.sim.paper().account().await.orders.len(), okx_orders);
    assert_eq!(okx.sim.totals().await, okx_before);

    d.stop().await;
    for v in venues {
        v.server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_venue_down_at_the_start_holds_only_its_account_which_starts_when_it_answers() {
    let venues = vec![
        Venue::start("bin", VenueKind::Binance, "on-binance", dec!(40000)).await,
        Venue::start("okx-main", VenueKind::Okx, "on-okx", dec!(41000)).await,
    ];
    let okx = &venues[1];
    okx.sim
        .set_faults(Faults {
            server_errors: 1_000_000,
            ..Faults::default()
        })
        .unwrap();
    let d = daemon_with(&venues, vec![], Duration::from_millis(100)).await;
    // Binance trades while OKX cannot start.
    let out = d.create(&venues[0]).await;
    assert_eq!(out["bot"]["summary"]["status"], "running", "{out}");
    assert_eq!(assert_venue_is_its_bots(&*d.store, &venues[0]).await, 2);
    assert!(okx.sim.paper().account().await.orders.is_empty());
    // OKX answers again: its account starts, and a bot created on it trades there.
    okx.sim.set_faults(Faults::default()).unwrap();
    let out = d.create(okx).await;
    assert_eq!(out["bot"]["summary"]["status"], "running", "{out}");
    assert_eq!(out["bot"]["summary"]["venue"], "okx", "{out}");
    assert_eq!(assert_venue_is_its_bots(&*d.store, okx).await, 2);
    assert_eq!(assert_venue_is_its_bots(&*d.store, &venues[0]).await, 2);
    let summary = d.stop().await;
    assert!(
        summary.accounts.iter().all(|(_, s)| s.ticks > 0),
        "{summary:?}"
    );
    for v in venues {
        v.server.shutdown().await;
    }
}
