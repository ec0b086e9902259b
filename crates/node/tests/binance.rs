//! Bots on Binance through the real connector, against the local simulator on 127.0.0.1: the
//! host built for `venue.kind = binance` with a live market, a bot deployed with real orders,
//! a threshold rebalance, invest, withdraw and a stop that sells all; the bot's ledger equals
//! the simulator's account at each step and no client id is used twice. A venue that is down
//! suspends the bot (nothing is sold); a wrong key is refused with the venue's answer; the key
//! never reaches the database. Under the simulator's faults, a rebalance's orders: a 5xx on a
//! placement is settled by lookup (not sent, past Binance's lookup window) and never re-sent; a
//! 429's Retry-After is waited out through the clock, then the same client id sent once; a
//! skewed venue clock (-1021) is met by one resync; an order Binance does not find yet (-2013)
//! is looked up again until found, its fill applied; a rejected placement leaves nothing and
//! the next plan trades under new ids. Each ends with unique client ids and the ledger equal
//! to the account.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use secrecy::SecretString;
use smartfolio_bot::events::EventKind;
use smartfolio_bot::{Clock, StopMode};
use smartfolio_core::InstrumentRules;
use smartfolio_exchange::paper::PaperConfig;
use smartfolio_node::driver;
use smartfolio_node::venue::{self, VenueConfig, VenueKind};
use smartfolio_node::{
    ApiKeys, Bots, CreateSpec, Host, Lease, Market, MarketConfig, NodeConfig, Request, Station,
};
use smartfolio_sim::{Faults, RunningSim, SimConfig, Simulator};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

const KEY: &str = "e2e-key-7f3a9c";
const SECRET: &str = "e2e-secret-5b8d2e41c6";
const START_USDT: Decimal = dec!(10000);

fn rules(lot: Decimal) -> InstrumentRules {
    InstrumentRules {
        lot_step: Some(lot),
        min_size: Some(lot),
        min_notional: Some(dec!(5)),
        tick_size: Some(dec!(0.01)),
    }
}

async fn simulator() -> (Simulator, RunningSim) {
    let sim = Simulator::new(SimConfig {
        api_key: KEY.into(),
        api_secret: SECRET.to_string().into(),
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
    sim.set_prices(&[("BTC", dec!(40000)), ("ETH", dec!(2000))])
        .await
        .unwrap();
    let server = sim.serve(([127, 0, 0, 1], 0).into()).await.unwrap();
    (sim, server)
}

fn keys(key: &str, secret: &str) -> ApiKeys {
    ApiKeys {
        api_key: SecretString::from(key.to_string()),
        api_secret: SecretString::from(secret.to_string()),
        passphrase: None,
    }
}

fn venue_config(server: &RunningSim, keys: ApiKeys) -> VenueConfig {
    VenueConfig {
        kind: VenueKind::Binance,
        base_url: Some(server.base_url()),
        keys: Some(keys),
        allow_withdrawal_keys: false,
    }
}

fn node_config(dir: &std::path::Path, venue: VenueConfig) -> NodeConfig {
    NodeConfig {
        data_dir: dir.to_path_buf(),
        store: None,
        quote: "USDT".into(),
        account: "main".into(),
        paper: PaperConfig::new("main", "USDT"),
        balances: vec![],
        market: MarketConfig::live(&["BTC"], 20),
        cooldown_ms: 0,
        snapshot_interval_ms: 3_600_000,
        venue,
    }
}

/// The wall clock of the live feed: the system's, plus `ahead` ms (to age prices).
fn wall(ahead: Arc<AtomicI64>) -> smartfolio_exchange::feed::WallClock {
    let system = smartfolio_exchange::feed::system_wall_clock();
    Arc::new(move || system() + ahead.load(Ordering::SeqCst))
}

struct Node {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    host: Host,
    bots: Bots,
    market: Market,
    ahead: Arc<AtomicI64>,
}

async fn node(server: &RunningSim) -> Node {
    let dir = tempfile::tempdir().unwrap();
    open_node(server, dir).await.0
}

/// A host on `dir` (a restart when it was used before), started: what the start held.
async fn open_node(
    server: &RunningSim,
    dir: tempfile::TempDir,
) -> (Node, Vec<(smartfolio_store::BotId, String)>) {
    let path = dir.path().to_path_buf();
    let lease = Lease::take(&path, Duration::ZERO).await.unwrap();
    let ahead = Arc::new(AtomicI64::new(0));
    let cfg = node_config(&path, venue_config(server, keys(KEY, SECRET)));
    let (host, mut bots) = Host::open_with_clock(cfg, lease, wall(ahead.clone()))
        .await
        .unwrap();
    let started = host.start(&mut bots).await.unwrap();
    let node = Node {
        _dir: dir,
        dir: path,
        host,
        bots,
        market: started.market,
        ahead,
    };
    (node, started.held)
}

impl Node {
    /// One read of the live market, and every bot driven by it.
    async fn tick(&mut self) -> smartfolio_bot::TickReport {
        let t = self.market.next().await.unwrap();
        driver::step(&mut self.bots, &t).await.unwrap()
    }

    async fn run(&mut self, req: Request) -> serde_json::Value {
        let defaults = self.host.cfg.defaults();
        let out = smartfolio_node::command::execute(&mut self.bots.rt, &req, &defaults, true).await;
        // As the driver does after commands.
        self.bots.changed().await;
        assert!(out.ok, "{req:?}: {:?}", out.error);
        out.output
    }

    /// Let go of the data directory (as a stopped daemon does), keeping it.
    fn close(self) -> tempfile::TempDir {
        let Node { _dir, .. } = self;
        _dir
    }

    fn bot(&self) -> &smartfolio_bot::engine::LiveBot {
        &self.bots.rt.engine.bots[0]
    }
}

/// A node with one bot, deployed with real orders.
async fn deployed(server: &RunningSim) -> Node {
    let mut n = node(server).await;
    n.tick().await;
    n.run(Request::Create {
        spec: Box::new(spec()),
    })
    .await;
    assert_eq!(n.bot().state.status.word(), "running");
    n
}

/// Why the bot is suspended (it must be).
fn suspended_reason(n: &Node) -> String {
    match &n.bot().state.status {
        smartfolio_bot::BotStatus::Suspended { reason, .. } => reason.clone(),
        other => panic!("not suspended: {other:?}"),
    }
}

fn spec() -> CreateSpec {
    CreateSpec {
        name: "live".into(),
        targets: "BTC=50,ETH=50".into(),
        trigger: Some("threshold:5".into()),
        investment: Some(dec!(1000)),
        coins: vec![],
        entry_prices: vec![],
        stop_loss_pct: None,
        take_profit_pct: None,
        cooldown_ms: Some(0),
        ..CreateSpec::default()
    }
}

async fn account(sim: &Simulator) -> BTreeMap<String, Decimal> {
    sim.totals().await
}

/// The bot's ledger is the account's holdings beyond what it never had: every coin in the
/// account is the bot's, and the account's cash is the start minus the net invested plus the
/// bot's cash.
async fn assert_ledger_is_account(n: &Node, sim: &Simulator, net_invested: Decimal) {
    assert_account_is(sim, &n.bot().holdings, net_invested).await;
}

/// The account holds `ledger`'s coins, and the start minus `net_invested` plus its cash.
async fn assert_account_is(
    sim: &Simulator,
    ledger: &BTreeMap<String, Decimal>,
    net_invested: Decimal,
) {
    let acct = account(sim).await;
    for asset in ["BTC", "ETH"] {
        assert_eq!(
            acct.get(asset).copied().unwrap_or_default(),
            ledger.get(asset).copied().unwrap_or_default(),
            "{asset}: account {acct:?}, ledger {ledger:?}"
        );
    }
    assert_eq!(
        acct["USDT"],
        START_USDT - net_invested + ledger.get("USDT").copied().unwrap_or_default(),
        "USDT: account {acct:?}, ledger {ledger:?}"
    );
}

async fn assert_client_ids_unique(sim: &Simulator) -> usize {
    let (n, twice) = sim.client_ids().await;
    assert!(twice.is_empty(), "a client id was sent twice: {twice:?}");
    n
}

#[tokio::test]
async fn a_bot_lives_its_whole_life_on_binance_through_the_connector() {
    let (sim, server) = simulator().await;
    let mut n = node(&server).await;
    let t = n.tick().await;
    assert_eq!(t.bots, 0);

    // Deploy with real orders.
    n.run(Request::Create {
        spec: Box::new(spec()),
    })
    .await;
    assert_eq!(n.bot().state.status.word(), "running");
    assert!(
        n.bot()
            .holdings
            .get("BTC")
            .is_some_and(|q| *q > Decimal::ZERO)
    );
    assert!(
        n.bot()
            .holdings
            .get("ETH")
            .is_some_and(|q| *q > Decimal::ZERO)
    );
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;
    let deployed_orders = assert_client_ids_unique(&sim).await;
    assert_eq!(deployed_orders, 2, "one buy per asset");
    // The bot's assets are read from the next tick on, beside market.assets.
    let t = n.market.next().await.unwrap();
    assert!(
        t.price("ETH").is_some() && t.price("BTC").is_some(),
        "{t:?}"
    );
    driver::step(&mut n.bots, &t).await.unwrap();

    // A threshold rebalance: BTC +30% is 6.5 points of drift, above 5.
    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    let r = n.tick().await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;

    // Invest, withdraw.
    n.run(Request::Invest {
        bot: "live".into(),
        amount: Some(dec!(500)),
        coins: vec![],
    })
    .await;
    assert_ledger_is_account(&n, &sim, dec!(1500)).await;
    n.run(Request::Withdraw {
        bot: "live".into(),
        amount: dec!(300),
        overweights: false,
    })
    .await;
    assert_ledger_is_account(&n, &sim, dec!(1200)).await;

    // Stop, selling everything: what the ledger released is what the account holds beyond
    // the start minus the net invested.
    let id = n.bot().id;
    let report = n
        .bots
        .rt
        .stop(id, StopMode::SellAll, "end of the test")
        .await
        .unwrap();
    assert_eq!(n.bot().state.status.word(), "stopped");
    let released: BTreeMap<String, Decimal> = report.released.iter().cloned().collect();
    assert_account_is(&sim, &released, dec!(1200)).await;
    assert!(report.unsold.is_empty(), "{:?}", report.unsold);
    assert_client_ids_unique(&sim).await;

    // The key and the secret are nowhere in the data directory.
    drop(n.host);
    for entry in std::fs::read_dir(&n.dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        for s in [KEY, SECRET] {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{s} found in the data directory"
            );
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_venue_that_is_down_suspends_the_bot_and_nothing_is_sold() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    let orders = sim.paper().account().await.orders.len();
    let before = account(&sim).await;

    // The venue answers nothing but errors; prices age past the bot's stale limit.
    sim.set_faults(Faults {
        server_errors: 1_000_000,
        ..Faults::default()
    })
    .unwrap();
    let r = n.tick().await;
    assert_eq!(r.suspended, 0, "a fresh price is still fresh");
    n.ahead
        .store(n.bot().config.max_tick_age_ms + 1_000, Ordering::SeqCst);
    let r = n.tick().await;
    assert_eq!(r.suspended, 1, "{r:?}");
    let reason = suspended_reason(&n);
    assert!(reason.contains("stale price"), "{reason}");
    // It stays suspended, and nothing was sent.
    n.tick().await;
    assert_eq!(n.bot().state.status.word(), "suspended");
    sim.set_faults(Faults::default()).unwrap();
    assert_eq!(sim.paper().account().await.orders.len(), orders);
    assert_eq!(account(&sim).await, before);

    // The venue is back: fresh prices resume the bot.
    n.tick().await;
    assert_eq!(n.bot().state.status.word(), "running");
    server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_key_or_secret_is_refused_with_the_venues_answer() {
    let (sim, server) = simulator().await;
    for (key, secret, code) in [
        ("not-the-key", SECRET, "-2015"),
        (KEY, "not-the-secret", "-1022"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let lease = Lease::take(dir.path(), Duration::ZERO).await.unwrap();
        let cfg = node_config(dir.path(), venue_config(&server, keys(key, secret)));
        let (host, mut bots) = Host::open(cfg, lease).await.unwrap();
        let e = host.start(&mut bots).await.err().unwrap().to_string();
        assert!(e.contains(code), "{e}");
        assert!(!e.contains(secret) && !e.contains(SECRET), "{e}");

        let report = venue::check(&venue_config(&server, keys(key, secret)), &[])
            .await
            .unwrap();
        assert!(!report.ok);
        let problems = report.problems.join("; ");
        assert!(problems.contains(code), "{problems}");
        assert!(!problems.contains(SECRET), "{problems}");
    }

    // The right key: all is well, with the bots' instruments and their rules.
    let bots = vec![(
        "b".to_string(),
        "USDT".to_string(),
        vec!["BTC".to_string(), "ETH".to_string()],
    )];
    let good = venue_config(&server, keys(KEY, SECRET));
    let report = venue::check(&good, &bots).await.unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert!(report.clock_offset_ms.is_some());
    assert_eq!(
        report.permissions.as_ref().map(|p| p.withdrawals),
        Some(false)
    );
    assert!(
        report
            .balances
            .iter()
            .any(|b| b.asset == "USDT" && b.free == START_USDT)
    );
    let btc = report.instruments.iter().find(|i| i.base == "BTC").unwrap();
    assert_eq!(btc.lot_step.as_deref(), Some("0.00001"));
    assert_eq!(btc.status.as_deref(), Some("trading"));
    let unlisted = vec![(
        "c".to_string(),
        "USDT".to_string(),
        vec!["DOGE".to_string()],
    )];
    let report = venue::check(&good, &unlisted).await.unwrap();
    assert!(
        !report.ok && report.problems[0].contains("DOGE"),
        "{:?}",
        report.problems
    );

    // A key that can withdraw: refused for trading unless allowed.
    sim.set_key_can_withdraw(true);
    let report = venue::check(&good, &[]).await.unwrap();
    assert!(
        !report.ok && report.problems[0].contains("withdraw"),
        "{:?}",
        report.problems
    );
    let allowed = VenueConfig {
        allow_withdrawal_keys: true,
        ..good.clone()
    };
    assert!(venue::check(&allowed, &[]).await.unwrap().ok);
    let dir = tempfile::tempdir().unwrap();
    let lease = Lease::take(dir.path(), Duration::ZERO).await.unwrap();
    let (host, mut bots) = Host::open(node_config(dir.path(), good.clone()), lease)
        .await
        .unwrap();
    let e = host.start(&mut bots).await.err().unwrap().to_string();
    assert!(e.contains("can withdraw"), "{e}");
    drop((host, bots));
    // A command run without a daemon checks the key the same way, before it trades.
    let dir = tempfile::tempdir().unwrap();
    let create = Request::Create {
        spec: Box::new(spec()),
    };
    let opts = smartfolio_node::SubmitOptions {
        timeout: Duration::from_secs(5),
        no_wait: false,
    };
    let e = smartfolio_node::submit(node_config(dir.path(), good), &create, opts)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("can withdraw"), "{e}");
    assert!(sim.paper().account().await.orders.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn on_start_ledgers_the_account_does_not_back_hold_their_bots_and_nothing_is_sold() {
    let (sim, server) = simulator().await;
    let n = deployed(&server).await;
    let btc = n.bot().holdings["BTC"];

    // While no daemon runs, someone sells part of the account's BTC by hand.
    let dir = n.close();
    sim.paper().withdraw("BTC", btc / dec!(2)).await.unwrap();
    let orders = sim.paper().account().await.orders.len();
    let before = account(&sim).await;

    let (mut n, held) = open_node(&server, dir).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(
        held[0].1.contains("BTC") && held[0].1.contains("account"),
        "{held:?}"
    );
    let reason = suspended_reason(&n);
    assert!(reason.contains("reconciliation"), "{reason}");
    // The hold is an event, as every change of status is (the server's live events).
    let events = n.bots.rt.take_events();
    assert!(
        events.iter().any(|e| matches!(
            &e.kind,
            EventKind::StateChanged { from: "running", to: "suspended", reason: Some(r) }
                if r.contains("reconciliation")
        )),
        "{events:?}"
    );
    // Fresh prices and a drift that would trigger a rebalance: still nothing trades.
    sim.set_prices(&[("BTC", dec!(60000))]).await.unwrap();
    for _ in 0..3 {
        let r = n.tick().await;
        assert_eq!((r.resumed, r.rebalanced), (0, 0), "{r:?}");
    }
    assert_eq!(n.bot().state.status.word(), "suspended");
    assert_eq!(sim.paper().account().await.orders.len(), orders);
    assert_eq!(account(&sim).await, before);

    // A restart keeps the hold (it is stored), without holding the bot twice.
    let dir = n.close();
    let (mut n, held) = open_node(&server, dir).await;
    assert!(held.is_empty(), "{held:?}");
    n.tick().await;
    assert_eq!(n.bot().state.status.word(), "suspended");
    // The user resumes it: the hold is lifted.
    n.run(Request::Resume { bot: "live".into() }).await;
    assert!(n.bot().state.held.is_none());
    server.shutdown().await;
}

/// One read of the live market, then `faults` set at the simulator, then every bot driven by
/// the read (so the faults meet the tick's orders, not the price read).
async fn tick_with(n: &mut Node, sim: &Simulator, faults: Faults) -> smartfolio_bot::TickReport {
    let t = n.market.next().await.unwrap();
    sim.set_faults(faults).unwrap();
    let r = driver::step(&mut n.bots, &t).await.unwrap();
    assert_eq!(sim.faults(), Faults::default(), "every fault was taken");
    r
}

/// A rebalance's sell and buy reached the venue once each after the `before` orders, every
/// client id is unique, and the ledger is the account.
async fn assert_one_sell_and_buy(n: &Node, sim: &Simulator, before: usize) {
    let orders = sim.paper().account().await.orders;
    assert_eq!(
        orders.len(),
        before + 2,
        "a sell and a buy, once each: {orders:?}"
    );
    assert_client_ids_unique(sim).await;
    assert_ledger_is_account(n, sim, dec!(1000)).await;
}

async fn stored_orders(n: &Node) -> Vec<smartfolio_store::OrderRecord> {
    n.host.store.orders(n.bot().id).await.unwrap()
}

#[tokio::test]
async fn a_5xx_on_a_placement_is_settled_by_lookup_as_not_sent_and_never_re_sent() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    let deployed_orders = sim.paper().account().await.orders.len();

    // BTC +30%: the rebalance's sell meets an HTTP 500 (-1000): the venue took nothing, but the
    // connector cannot know; the order is unknown, not re-sent.
    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    let r = tick_with(
        &mut n,
        &sim,
        Faults {
            server_errors: 1,
            ..Faults::default()
        },
    )
    .await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    let lost: Vec<_> = stored_orders(&n)
        .await
        .into_iter()
        .filter(|o| o.status == smartfolio_store::OrderState::Pending)
        .collect();
    assert_eq!(lost.len(), 1, "{lost:?}");
    let lost = lost[0].client_id.clone();
    assert_eq!(sim.paper().account().await.orders.len(), deployed_orders);

    // Inside Binance's lookup window "not found" proves nothing: it stays pending.
    n.tick().await;
    assert_eq!(
        n.host.store.order(&lost).await.unwrap().unwrap().status,
        smartfolio_store::OrderState::Pending
    );
    // Past the window, the lookup (order, open orders, fills) settles it as never sent; the
    // bot plans afresh under new client ids.
    n.ahead.store(
        smartfolio_exchange::LookupPolicy::DEFAULT_WINDOW_MS + 1_000,
        Ordering::SeqCst,
    );
    n.tick().await;
    assert_eq!(
        n.host.store.order(&lost).await.unwrap().unwrap().status,
        smartfolio_store::OrderState::NotSent
    );
    n.tick().await;
    let orders = sim.paper().account().await.orders;
    assert!(orders.iter().all(|o| o.client_id != lost), "{orders:?}");
    assert!(orders.len() > deployed_orders, "the fresh rebalance traded");
    assert_client_ids_unique(&sim).await;
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;
    assert!(
        stored_orders(&n)
            .await
            .iter()
            .all(|o| o.status != smartfolio_store::OrderState::Pending)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_429_on_a_placement_is_waited_out_through_the_clock_then_sent_once() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    let deployed_orders = sim.paper().account().await.orders.len();

    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    let t = n.market.next().await.unwrap();
    sim.set_faults(Faults {
        rate_limited: Some(smartfolio_sim::RateLimitFault {
            status: 429,
            times: 1,
            retry_after_s: 1,
        }),
        ..Faults::default()
    })
    .unwrap();
    let r = driver::step(&mut n.bots, &t).await.unwrap();
    assert_eq!(r.rebalanced, 1, "{r:?}");
    assert_eq!(sim.faults(), Faults::default(), "the 429 was taken");
    // The placement round waited Retry-After on the clock before sending the same client id
    // again: the clock moved past the tick by at least that.
    assert!(
        n.bots.clock.now_ms() >= t.time_ms + 1_000,
        "{} < {} + 1000",
        n.bots.clock.now_ms(),
        t.time_ms
    );
    assert_one_sell_and_buy(&n, &sim, deployed_orders).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_skewed_venue_clock_is_met_by_one_resync_and_the_rebalance_goes_through() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    let deployed_orders = sim.paper().account().await.orders.len();
    let offset = n.host.binance.as_ref().unwrap().client().clock_offset_ms();

    // The venue's clock jumps 30 s ahead: the next signed request is refused with -1021, the
    // connector measures the offset again and signs once more.
    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    let t = n.market.next().await.unwrap();
    sim.set_faults(Faults {
        clock_skew_ms: 30_000,
        ..Faults::default()
    })
    .unwrap();
    let r = driver::step(&mut n.bots, &t).await.unwrap();
    assert_eq!(r.rebalanced, 1, "{r:?}");
    let now = n.host.binance.as_ref().unwrap().client().clock_offset_ms();
    assert!(
        now.is_some_and(|o| o >= 29_000) && now != offset,
        "{offset:?} → {now:?}"
    );
    assert_one_sell_and_buy(&n, &sim, deployed_orders).await;
    server.shutdown().await;
}

async fn pending_orders(n: &Node) -> usize {
    stored_orders(n)
        .await
        .iter()
        .filter(|o| o.status == smartfolio_store::OrderState::Pending)
        .count()
}

#[tokio::test]
async fn orders_binance_does_not_find_yet_are_looked_up_again_and_their_fills_applied() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    let deployed_orders = sim.paper().account().await.orders.len();

    // Every placement is taken, but the next two lookups of it answer -2013: not found yet
    // is not "never sent".
    sim.set_faults(Faults {
        not_found_after_order: 2,
        ..Faults::default()
    })
    .unwrap();
    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    let r = n.tick().await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    assert_eq!(pending_orders(&n).await, 1, "the sell waits for its lookup");
    let mut ticks = 1;
    while pending_orders(&n).await > 0 {
        assert!(ticks < 10, "still pending after {ticks} ticks");
        n.tick().await;
        ticks += 1;
    }
    // Found on a later lookup: its fill is applied (the ledger is the account again), and the
    // rebalance, whose sell the tick could not see filled, is closed as interrupted.
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;
    let rebalances = n.host.store.rebalances(n.bot().id).await.unwrap();
    assert_eq!(rebalances.last().unwrap().status, "interrupted");
    // The bot owes a fresh rebalance, planned from its ledger: the buy, under a new id.
    sim.set_faults(Faults::default()).unwrap();
    let r = n.tick().await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    assert_one_sell_and_buy(&n, &sim, deployed_orders).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_rejected_placement_leaves_nothing_and_the_next_plan_trades_under_new_ids() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    let deployed_orders = sim.paper().account().await.orders.len();

    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    tick_with(
        &mut n,
        &sim,
        Faults {
            rejects: 1,
            ..Faults::default()
        },
    )
    .await;
    let rejected: Vec<_> = stored_orders(&n)
        .await
        .into_iter()
        .filter(|o| o.status == smartfolio_store::OrderState::Rejected)
        .collect();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(sim.paper().account().await.orders.len(), deployed_orders);
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;

    // The drift is still there: the next plan trades, under new client ids.
    let r = n.tick().await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    let orders = sim.paper().account().await.orders;
    assert_eq!(orders.len(), deployed_orders + 2, "{orders:?}");
    assert!(orders.iter().all(|o| o.client_id != rejected[0].client_id));
    assert_client_ids_unique(&sim).await;
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;
    server.shutdown().await;
}
