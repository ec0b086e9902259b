//! What the end-to-end tests on a real venue share, for Binance, OKX and Gate alike (the test
//! binary's `VENUE`: `tests/binance`, `tests/okx` and `tests/gate` run the same tests, `lifecycle`
//! and `faults`): the simulator speaking that venue, a node on it (the host built for `venue.kind`
//! = that venue with a live market), ticks, and the checks each test ends with: the ledger equal to
//! the account, every client id at the venue once.
#![allow(unused_imports)]

pub use rust_decimal::Decimal;
pub use rust_decimal_macros::dec;
pub use secrecy::SecretString;
pub use smartfolio_bot::events::EventKind;
pub use smartfolio_bot::{Clock, StopMode};
pub use smartfolio_core::InstrumentRules;
pub use smartfolio_exchange::paper::PaperConfig;
pub use smartfolio_node::driver;
pub use smartfolio_node::venue::{self, Timeouts, VenueConfig, VenueKind};
pub use smartfolio_node::{
    ApiKeys, Bots, CreateSpec, Host, Lease, Market, MarketConfig, NodeConfig, Request, Station,
};
pub use smartfolio_sim::{Faults, RunningSim, SimConfig, Simulator};
pub use std::collections::BTreeMap;
pub use std::sync::Arc;
pub use std::sync::atomic::{AtomicI64, Ordering};
pub use std::time::Duration;

pub use crate::VENUE;

pub const KEY: &str = "e2e-key-7f3a9c";
pub const SECRET: &str = "e2e-secret-5b8d2e41c6";
pub const PASSPHRASE: &str = "e2e-pass-94kq";

/// The venue a test binary runs its tests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Venue {
    Binance,
    Okx,
    Gate,
}

impl Venue {
    pub fn kind(self) -> VenueKind {
        match self {
            Venue::Binance => VenueKind::Binance,
            Venue::Okx => VenueKind::Okx,
            Venue::Gate => VenueKind::Gate,
        }
    }

    /// What the simulator speaks for it.
    pub fn wire(self) -> smartfolio_sim::Wire {
        match self {
            Venue::Binance => smartfolio_sim::Wire::Binance,
            Venue::Okx => smartfolio_sim::Wire::Okx {
                passphrase: PASSPHRASE.to_string().into(),
                demo: false,
            },
            Venue::Gate => smartfolio_sim::Wire::Gate,
        }
    }

    /// The venue's codes for an unknown key and for a wrong secret (a bad signature).
    pub fn bad_key_codes(self) -> (&'static str, &'static str) {
        match self {
            Venue::Binance => ("-2015", "-1022"),
            Venue::Okx => ("50111", "50113"),
            Venue::Gate => ("INVALID_KEY", "INVALID_SIGNATURE"),
        }
    }

    /// The client id of our order `id` as the simulator's engine keeps it: what the wire
    /// carried (Gate's `text`, `t-` and the id).
    pub fn at_venue(self, id: &str) -> String {
        match self {
            Venue::Binance | Venue::Okx => id.to_string(),
            Venue::Gate => format!("t-{id}"),
        }
    }

    /// A jump of the venue's clock beyond the window in which it takes a signed request's
    /// timestamp (Binance's recvWindow, OKX's 30 s, Gate's 60 s).
    pub fn skew_beyond_window_ms(self) -> i64 {
        match self {
            Venue::Binance | Venue::Okx => 45_000,
            Venue::Gate => 90_000,
        }
    }

    /// The endpoints (as the simulator counts them) that place an order, look one up by
    /// client id, and read fills.
    pub fn order_endpoints(self) -> [&'static str; 3] {
        match self {
            Venue::Binance => [
                "POST /api/v3/order",
                "GET /api/v3/order",
                "GET /api/v3/myTrades",
            ],
            Venue::Okx => [
                "POST /api/v5/trade/order",
                "GET /api/v5/trade/order",
                "GET /api/v5/trade/fills",
            ],
            Venue::Gate => [
                "POST /api/v4/spot/orders",
                "GET /api/v4/spot/orders/{order_id}",
                "GET /api/v4/spot/my_trades",
            ],
        }
    }

    /// Whether the venue tells a key's withdrawal permission (Gate exposes no key
    /// permissions: a key that can withdraw cannot be seen, so cannot be refused).
    pub fn shows_withdrawal_permission(self) -> bool {
        self != Venue::Gate
    }
}
pub const START_USDT: Decimal = dec!(10000);

pub fn rules(lot: Decimal) -> InstrumentRules {
    InstrumentRules {
        lot_step: Some(lot),
        min_size: Some(lot),
        min_notional: Some(dec!(5)),
        tick_size: Some(dec!(0.01)),
    }
}

pub async fn simulator() -> (Simulator, RunningSim) {
    simulator_with(Faults::default()).await
}

/// A simulator injecting `faults` from the start (partial fills can only be set so).
pub async fn simulator_with(faults: Faults) -> (Simulator, RunningSim) {
    let sim = Simulator::new(SimConfig {
        api_key: KEY.into(),
        api_secret: SECRET.to_string().into(),
        paper: PaperConfig::new("sim", "USDT")
            .with_instrument("BTC", rules(dec!(0.00001)))
            .with_instrument("ETH", rules(dec!(0.0001))),
        balances: vec![("USDT".into(), START_USDT)],
        market: None,
        history_ms: 0,
        faults,
        persistence: None,
    })
    .await
    .unwrap();
    sim.set_prices(&[("BTC", dec!(40000)), ("ETH", dec!(2000))])
        .await
        .unwrap();
    let server = sim
        .serve_wire(([127, 0, 0, 1], 0).into(), VENUE.wire())
        .await
        .unwrap();
    (sim, server)
}

pub fn keys(key: &str, secret: &str) -> ApiKeys {
    ApiKeys {
        api_key: SecretString::from(key.to_string()),
        api_secret: SecretString::from(secret.to_string()),
        passphrase: (VENUE == Venue::Okx).then(|| SecretString::from(PASSPHRASE.to_string())),
    }
}

pub fn venue_config(server: &RunningSim, keys: ApiKeys) -> VenueConfig {
    VenueConfig {
        kind: VENUE.kind(),
        base_url: Some(server.base_url()),
        keys: Some(keys),
        allow_withdrawal_keys: false,
        timeouts: Default::default(),
        demo: false,
        prices: None,
    }
}

pub fn node_config(dir: &std::path::Path, venue: VenueConfig) -> NodeConfig {
    NodeConfig {
        accounts: vec![],
        execution: Default::default(),
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
pub fn wall(ahead: Arc<AtomicI64>) -> smartfolio_exchange::feed::WallClock {
    let system = smartfolio_exchange::feed::system_wall_clock();
    Arc::new(move || system() + ahead.load(Ordering::SeqCst))
}

pub struct Node {
    pub _dir: tempfile::TempDir,
    pub dir: std::path::PathBuf,
    pub host: Host,
    pub bots: Bots,
    pub market: Market,
    pub ahead: Arc<AtomicI64>,
}

pub async fn node(server: &RunningSim) -> Node {
    let dir = tempfile::tempdir().unwrap();
    open_node(server, dir).await.0
}

/// A host on `dir` (a restart when it was used before), started: what the start held.
pub async fn open_node(
    server: &RunningSim,
    dir: tempfile::TempDir,
) -> (Node, Vec<(smartfolio_store::BotId, String)>) {
    open_node_on(venue_config(server, keys(KEY, SECRET)), dir).await
}

/// [`open_node`] on `venue`.
pub async fn open_node_on(
    venue: VenueConfig,
    dir: tempfile::TempDir,
) -> (Node, Vec<(smartfolio_store::BotId, String)>) {
    let path = dir.path().to_path_buf();
    let lease = Lease::take(&path, Duration::ZERO).await.unwrap();
    let ahead = Arc::new(AtomicI64::new(0));
    let cfg = node_config(&path, venue);
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
    pub async fn tick(&mut self) -> smartfolio_bot::TickReport {
        let t = self.market.next().await.unwrap();
        driver::step(&mut self.bots, &t).await.unwrap()
    }

    pub async fn run(&mut self, req: Request) -> serde_json::Value {
        let defaults = self.host.cfg.defaults();
        let out = smartfolio_node::command::execute(&mut self.bots.rt, &req, &defaults, true).await;
        // As the driver does after commands.
        self.bots.changed().await;
        assert!(out.ok, "{req:?}: {:?}", out.error);
        out.output
    }

    /// Let go of the data directory (as a stopped daemon does), keeping it.
    pub fn close(self) -> tempfile::TempDir {
        let Node { _dir, .. } = self;
        _dir
    }

    pub fn bot(&self) -> &smartfolio_bot::engine::LiveBot {
        &self.bots.rt.engine.bots[0]
    }
}

/// A node with one bot, deployed with real orders.
pub async fn deployed(server: &RunningSim) -> Node {
    deployed_on(venue_config(server, keys(KEY, SECRET))).await
}

/// [`deployed`] on `venue`.
pub async fn deployed_on(venue: VenueConfig) -> Node {
    let (mut n, _) = open_node_on(venue, tempfile::tempdir().unwrap()).await;
    n.tick().await;
    n.run(Request::Create {
        spec: Box::new(spec()),
    })
    .await;
    assert_eq!(n.bot().state.status.word(), "running");
    n
}

/// Why the bot is suspended (it must be).
pub fn suspended_reason(n: &Node) -> String {
    match &n.bot().state.status {
        smartfolio_bot::BotStatus::Suspended { reason, .. } => reason.clone(),
        other => panic!("not suspended: {other:?}"),
    }
}

pub fn spec() -> CreateSpec {
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

pub async fn account(sim: &Simulator) -> BTreeMap<String, Decimal> {
    sim.totals().await
}

/// The bot's ledger is the account's holdings beyond what it never had: every coin in the
/// account is the bot's, and the account's cash is the start minus the net invested plus the
/// bot's cash.
pub async fn assert_ledger_is_account(n: &Node, sim: &Simulator, net_invested: Decimal) {
    assert_account_is(sim, &n.bot().holdings, net_invested).await;
}

/// The account holds `ledger`'s coins, and the start minus `net_invested` plus its cash.
pub async fn assert_account_is(
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

pub async fn assert_client_ids_unique(sim: &Simulator) -> usize {
    let (n, twice) = sim.client_ids().await;
    assert!(twice.is_empty(), "a client id was sent twice: {twice:?}");
    n
}

/// One read of the live market, then `faults` set at the simulator, then every bot driven by
/// the read (so the faults meet the tick's orders, not the price read).
pub async fn tick_with(
    n: &mut Node,
    sim: &Simulator,
    faults: Faults,
) -> smartfolio_bot::TickReport {
    let t = n.market.next().await.unwrap();
    sim.set_faults(faults).unwrap();
    let r = driver::step(&mut n.bots, &t).await.unwrap();
    assert_eq!(sim.faults(), Faults::default(), "every fault was taken");
    r
}

/// A rebalance's sell and buy reached the venue once each after the `before` orders, every
/// client id is unique, and the ledger is the account.
pub async fn assert_one_sell_and_buy(n: &Node, sim: &Simulator, before: usize) {
    let orders = sim.paper().account().await.orders;
    assert_eq!(
        orders.len(),
        before + 2,
        "a sell and a buy, once each: {orders:?}"
    );
    assert_client_ids_unique(sim).await;
    assert_ledger_is_account(n, sim, dec!(1000)).await;
}

pub async fn stored_orders(n: &Node) -> Vec<smartfolio_store::OrderRecord> {
    n.host.store.orders(n.bot().id).await.unwrap()
}

pub async fn pending_orders(n: &Node) -> usize {
    stored_orders(n)
        .await
        .iter()
        .filter(|o| o.status == smartfolio_store::OrderState::Pending)
        .count()
}

/// The side of each order the venue received.
pub async fn venue_sides(sim: &Simulator) -> Vec<smartfolio_exchange::Side> {
    sim.paper()
        .account()
        .await
        .orders
        .iter()
        .map(|o| o.side)
        .collect()
}
