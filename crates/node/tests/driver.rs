//! The driver loop on a real host (SQLite store, paper exchange) in a temporary directory.

use rust_decimal::Decimal;
use smartfolio_bot::{BotConfig, BotEvent, EventKind, ManualClock, Runtime, TickReport};
use smartfolio_core::InstrumentRules;
use smartfolio_exchange::paper::{PaperConfig, PaperExchange};
use smartfolio_exchange::{
    Balance, Exchange, ExchangeError, Fill, Instrument, LookupPolicy, Order, OrderAck, OrderLookup,
    OrderRequest, PriceTick, Ticker,
};
use smartfolio_node::driver::{self, DriveOptions};
use smartfolio_node::{
    Bots, Host, Lease, Market, MarketConfig, MarketKind, NodeConfig, NodeError, Request,
    RunSummary, Station, SubmitOptions, Submitted,
};
use smartfolio_store::{AccountKey, Backend};
use std::sync::Arc;
use std::time::Duration;

const HOUR: i64 = 3_600_000;

fn config(dir: &std::path::Path, speed: Option<f64>) -> NodeConfig {
    let rules = InstrumentRules {
        lot_step: Some(Decimal::new(1, 8)),
        min_size: None,
        min_notional: Some(Decimal::from(5)),
        tick_size: None,
    };
    NodeConfig {
        accounts: vec![],
        execution: Default::default(),
        data_dir: dir.to_path_buf(),
        store: None,
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
            correlation: 0.5,
            speed,
            replay_path: None,
            interval: None,
            from_ms: None,
            to_ms: None,
            poll_ms: smartfolio_node::market::DEFAULT_POLL_MS,
        },
        venue: smartfolio_node::VenueConfig::paper(),
    }
}

/// Bots that count the ticks they were driven by.
struct Counting {
    bots: Bots,
    ticks: u64,
}

#[async_trait::async_trait]
impl Station for Counting {
    fn parts(&mut self) -> (&mut Runtime, Option<&PaperExchange>, &ManualClock) {
        self.bots.parts()
    }
    async fn ticked(&mut self, _: &PriceTick, _: Option<&TickReport>, _: Duration) {
        self.ticks += 1;
    }
}

/// One market hour per wall hour: the second tick is an hour away, yet a job is answered at
/// once (while the loop waits for the tick), and a queued command is executed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_and_queued_commands_are_served_while_the_next_tick_is_not_due() {
    let dir = tempfile::tempdir().unwrap();
    let lease = Lease::take(dir.path(), Duration::ZERO).await.unwrap();
    let (mut host, mut bots) = Host::open(config(dir.path(), Some(1.0)), lease)
        .await
        .unwrap();
    let started = host.start(&mut bots).await.unwrap();
    host.mark_ready();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (handle, task) = driver::spawn(
        Counting { bots, ticks: 0 },
        Some(host),
        Some(started.market),
        DriveOptions::default(),
        async {
            let _ = stop_rx.await;
        },
    );
    let seen = handle
        .call(|s: &mut Counting| Box::pin(async move { s.ticks }))
        .await
        .unwrap();
    assert!(seen <= 1, "the job waited for a later tick: {seen} ticks");

    // A command submitted as `smartfolio bot` does: the owner is ready, so it is queued, and
    // executed between ticks once the first tick has priced the market.
    let submitted = smartfolio_node::submit(
        config(dir.path(), Some(1.0)),
        &Request::List,
        SubmitOptions {
            timeout: Duration::from_secs(60),
            no_wait: false,
        },
    )
    .await
    .unwrap();
    match submitted {
        Submitted::Done(outcome) => assert!(outcome.ok, "{outcome:?}"),
        other => panic!("{other:?}"),
    }
    let ticks = handle
        .call(|s: &mut Counting| Box::pin(async move { s.ticks }))
        .await
        .unwrap();
    assert_eq!(ticks, 1, "served before the second tick");

    stop_tx.send(()).unwrap();
    let driven = task.await.unwrap();
    let summary = driven.summary.unwrap();
    assert_eq!(summary.ended, "interrupted");
    assert_eq!((summary.ticks, summary.commands), (1, 1));
}

/// A tick that fails (here: the store is closed under a running bot, so its snapshot cannot be
/// written) ends the loop with the error, in every mode, instead of trading on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_error_ends_the_loop() {
    let dir = tempfile::tempdir().unwrap();
    let lease = Lease::take(dir.path(), Duration::ZERO).await.unwrap();
    let (host, mut bots) = Host::open(config(dir.path(), None), lease).await.unwrap();
    let mut started = host.start(&mut bots).await.unwrap();
    let first = started.market.next().await.unwrap();
    driver::observe(&mut bots, &first).await.unwrap();
    let cfg = BotConfig::new("b", "BTC=50,ETH=50", "threshold:1", Decimal::from(1000)).unwrap();
    let id = bots.rt.create(cfg).await.unwrap();
    bots.rt.deploy(id).await.unwrap();
    host.store.close().await;
    let opts = DriveOptions {
        until_ms: Some(first.time_ms + 48 * HOUR),
        ..Default::default()
    };
    let r = driver::drive(
        &mut bots,
        Some(&host),
        Some(started.market),
        None,
        std::future::pending(),
        opts,
    )
    .await;
    match r {
        Err(
            NodeError::Bot {
                context: "tick", ..
            }
            | NodeError::Exchange { .. },
        ) => {}
        other => panic!("expected the tick's error, got {other:?}"),
    }
}

/// A venue whose calls for one bot misbehave until the test releases them; everything else goes
/// straight to the paper exchange. Each rule is a client-id prefix.
struct Stalling {
    inner: Arc<PaperExchange>,
    /// Placements held at the gate.
    stalled: std::sync::Mutex<Option<String>>,
    /// Placements lost in transit: an unknown outcome, nothing placed.
    lost: std::sync::Mutex<Option<String>>,
    /// Lookups held at the gate, after an id's first lookup.
    held_lookups: std::sync::Mutex<Option<String>>,
    looked: std::sync::Mutex<std::collections::HashSet<String>>,
    /// A command queued (once) when a lookup is held, and its id.
    queue_on_hold: std::sync::Mutex<Option<(Arc<dyn Backend>, String)>>,
    queued: std::sync::Mutex<Option<i64>>,
    gate: tokio::sync::Semaphore,
}

fn matches(rule: &std::sync::Mutex<Option<String>>, client_id: &str) -> bool {
    let prefix = rule.lock().unwrap();
    prefix.as_deref().is_some_and(|p| client_id.starts_with(p))
}

impl Stalling {
    fn new(inner: Arc<PaperExchange>) -> Self {
        Self {
            inner,
            stalled: Default::default(),
            lost: Default::default(),
            held_lookups: Default::default(),
            looked: Default::default(),
            queue_on_hold: Default::default(),
            queued: Default::default(),
            gate: tokio::sync::Semaphore::new(0),
        }
    }

    fn stalls(&self, client_id: &str) -> bool {
        matches(&self.stalled, client_id)
    }

    /// Open the gate and stop misbehaving.
    fn release(&self) {
        for rule in [&self.stalled, &self.lost, &self.held_lookups] {
            *rule.lock().unwrap() = None;
        }
        self.gate.add_permits(1_000);
    }
}

#[async_trait::async_trait]
impl Exchange for Stalling {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn lookup_policy(&self) -> LookupPolicy {
        self.inner.lookup_policy()
    }
    async fn server_time_ms(&self) -> Result<i64, ExchangeError> {
        self.inner.server_time_ms().await
    }
    async fn instruments(&self) -> Result<Vec<Instrument>, ExchangeError> {
        self.inner.instruments().await
    }
    async fn balances(&self) -> Result<Vec<Balance>, ExchangeError> {
        self.inner.balances().await
    }
    async fn tickers(&self, bases: &[String], quote: &str) -> Result<Vec<Ticker>, ExchangeError> {
        self.inner.tickers(bases, quote).await
    }
    async fn place_order(&self, request: &OrderRequest) -> Result<OrderAck, ExchangeError> {
        if self.stalls(&request.client_id) {
            // Held until the test adds permits; the permit goes back at once.
            let _permit = self.gate.acquire().await.unwrap();
        }
        if matches(&self.lost, &request.client_id) {
            return Err(ExchangeError::UnknownOutcome(
                "timeout after sending".into(),
            ));
        }
        self.inner.place_order(request).await
    }
    async fn cancel_order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<Order, ExchangeError> {
        self.inner.cancel_order(base, quote, client_id).await
    }
    async fn order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<OrderLookup, ExchangeError> {
        let again = !self.looked.lock().unwrap().insert(client_id.to_string());
        if again && matches(&self.held_lookups, client_id) {
            let queue = self.queue_on_hold.lock().unwrap().take();
            if let Some((store, command)) = queue {
                let id = store
                    .enqueue_command(&command, &AccountKey::new("paper", "main"), 0)
                    .await
                    .unwrap();
                *self.queued.lock().unwrap() = Some(id);
            }
            let _permit = self.gate.acquire().await.unwrap();
        }
        self.inner.order(base, quote, client_id).await
    }
    async fn open_orders(&self) -> Result<Vec<Order>, ExchangeError> {
        self.inner.open_orders().await
    }
    async fn fills(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<Vec<Fill>, ExchangeError> {
        self.inner.fills(base, quote, client_id).await
    }
    async fn fills_since(
        &self,
        base: &str,
        quote: &str,
        since_ms: i64,
    ) -> Result<Vec<Fill>, ExchangeError> {
        self.inner.fills_since(base, quote, since_ms).await
    }
}

/// What the station saw while bot `a`'s order was held by the venue.
#[derive(Debug, Default, Clone, PartialEq)]
struct Held {
    /// `b`'s rebalance of the same tick had ended.
    b_ended: bool,
    /// `a`'s rebalance was still open (its order unanswered).
    a_open: bool,
    /// The command queued in that tick's turn had been executed.
    command_done: bool,
}

/// Two bots with the same config on one venue; the venue holds `a`'s orders. Once the tick
/// that rebalances both has been stepped, a command is queued; when `b`'s rebalance has ended
/// and the command has run, the station notes it and releases `a`'s orders. It keeps the
/// events the driver hands it, and how many it had when it released `a`'s orders, with the
/// sequence number of `a`'s rebalance then open.
struct TwoBots {
    p: Parts,
    a: i64,
    b: i64,
    command: Option<i64>,
    held: Option<Held>,
    events: Vec<BotEvent>,
    released: Option<(usize, i64)>,
}

impl TwoBots {
    async fn rebalances(&self, id: i64) -> Vec<smartfolio_store::RebalanceRecord> {
        self.p.store.rebalances(id).await.unwrap()
    }
}

#[async_trait::async_trait]
impl Station for TwoBots {
    fn parts(&mut self) -> (&mut Runtime, Option<&PaperExchange>, &ManualClock) {
        (&mut self.p.rt, Some(&self.p.ex), &self.p.clock)
    }
    async fn ticked(&mut self, _: &PriceTick, report: Option<&TickReport>, _: Duration) {
        if self.command.is_none() && report.is_some_and(|r| r.rebalanced > 0) {
            let list = serde_json::to_string(&Request::List).unwrap();
            let main = AccountKey::new("paper", "main");
            self.command = Some(self.p.store.enqueue_command(&list, &main, 0).await.unwrap());
        }
    }
    async fn changed(&mut self) {
        let Some(cmd) = self.command else { return };
        if self.held.is_some() {
            return;
        }
        let command_done = self
            .p
            .store
            .command(cmd)
            .await
            .unwrap()
            .is_some_and(|c| c.status.is_final());
        let b = self.rebalances(self.b).await;
        let b_ended = b.len() >= 2 && b.last().unwrap().status != "open";
        if !(command_done && b_ended) {
            return;
        }
        let a = self.rebalances(self.a).await;
        let a_open = a.len() >= 2 && a.last().unwrap().status == "open";
        self.held = Some(Held {
            b_ended,
            a_open,
            command_done,
        });
        self.released = Some((self.events.len(), a.last().unwrap().seq));
        self.p.venue.release();
    }
    async fn events(&mut self, events: Vec<BotEvent>) {
        self.events.extend(events);
    }
}

/// Where bot `id`'s rebalance `seq` finished among `events`, if it did.
fn finished_at(events: &[BotEvent], id: i64, seq: i64) -> Option<usize> {
    events.iter().position(|e| {
        e.bot == id && matches!(&e.kind, EventKind::RebalanceFinished { seq: s, .. } if *s == seq)
    })
}

/// The events handed over for bot `id` agree with its store: each rebalance started and
/// finished once (with its stored status), each of its orders recorded once in between, and
/// each fill once.
async fn events_agree(store: &dyn Backend, events: &[BotEvent], id: i64) {
    let mine: Vec<&BotEvent> = events.iter().filter(|e| e.bot == id).collect();
    let orders = store.orders(id).await.unwrap();
    for r in store.rebalances(id).await.unwrap() {
        let at = |started: bool| -> Vec<usize> {
            (0..mine.len())
                .filter(|&i| match &mine[i].kind {
                    EventKind::RebalanceStarted { seq, .. } => started && *seq == r.seq,
                    EventKind::RebalanceFinished { seq, status, .. } => {
                        !started && *seq == r.seq && *status == r.status
                    }
                    _ => false,
                })
                .collect()
        };
        let (started, finished) = (at(true), at(false));
        assert_eq!((started.len(), finished.len()), (1, 1), "{r:?}: {mine:?}");
        let mut sent: Vec<String> = (started[0]..finished[0])
            .filter_map(|i| match &mine[i].kind {
                EventKind::Order { client_id, .. } => Some(client_id.clone()),
                _ => None,
            })
            .collect();
        let mut want: Vec<String> = orders
            .iter()
            .filter(|o| o.rebalance_id == r.id)
            .map(|o| o.client_id.clone())
            .collect();
        sent.sort();
        want.sort();
        assert_eq!(sent, want, "rebalance #{}", r.seq);
    }
    let orders_seen = mine.iter().filter(|e| e.kind.name() == "order").count();
    assert_eq!(orders_seen, orders.len());
    let mut fills: Vec<String> = mine
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Fill(f) => Some(f.fill_id.clone()),
            _ => None,
        })
        .collect();
    let mut want: Vec<String> = store
        .fills(id)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.fill_id)
        .collect();
    fills.sort();
    want.sort();
    assert_eq!(fills, want);
}

/// What a station on the stalling venue drives: a runtime trading on it, the paper exchange
/// behind it, the clock and the store.
struct Parts {
    rt: Runtime,
    ex: Arc<PaperExchange>,
    clock: Arc<ManualClock>,
    store: Arc<dyn Backend>,
    venue: Arc<Stalling>,
}

/// A host whose one runtime trades on a [`Stalling`] venue, with the market's first tick
/// observed by nobody yet.
struct OnStalling {
    _dir: tempfile::TempDir,
    host: Host,
    market: Market,
    first: PriceTick,
    parts: Parts,
}

async fn on_stalling(lookup_window_ms: i64) -> OnStalling {
    let dir = tempfile::tempdir().unwrap();
    let lease = Lease::take(dir.path(), Duration::ZERO).await.unwrap();
    let mut cfg = config(dir.path(), None);
    cfg.paper = cfg.paper.with_lookup_window_ms(lookup_window_ms);
    let (host, mut bots) = Host::open(cfg, lease).await.unwrap();
    let mut started = host.start(&mut bots).await.unwrap();
    let first = started.market.next().await.unwrap();
    let venue = Arc::new(Stalling::new(host.paper.clone().unwrap()));
    let mut rt = Runtime::new(
        host.store.clone(),
        venue.clone(),
        host.clock.clone(),
        &host.cfg.account,
    );
    rt.load().await.unwrap();
    let parts = Parts {
        rt,
        ex: host.paper.clone().unwrap(),
        clock: host.clock.clone(),
        store: host.store.clone(),
        venue,
    };
    OnStalling {
        _dir: dir,
        host,
        market: started.market,
        first,
        parts,
    }
}

/// A deployed bot trading on any 1% drift, without cooldown.
async fn deployed(rt: &mut Runtime, name: &str) -> i64 {
    let mut cfg =
        BotConfig::new(name, "BTC=50,ETH=50", "threshold:1", Decimal::from(1000)).unwrap();
    cfg.cooldown_ms = 0;
    let id = rt.create(cfg).await.unwrap();
    rt.deploy(id).await.unwrap();
    id
}

/// Drive 24 ticks of the unpaced market with the host's command queue. The timeout only
/// bounds the defect: a driver held by the venue never ends.
async fn drive_held<S: Station>(
    station: &mut S,
    host: &Host,
    market: Market,
    by: &str,
) -> RunSummary {
    let opts = DriveOptions {
        max_ticks: Some(24),
        priced: true,
        ..Default::default()
    };
    let run = driver::drive(
        station,
        Some(host),
        Some(market),
        None,
        std::future::pending(),
        opts,
    );
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .unwrap_or_else(|_| panic!("the driver was held by {by}"))
        .unwrap()
}

/// One bot's venue call that does not answer holds neither another bot's rebalance nor the
/// command queue: while bot `a`'s order is unanswered, bot `b`'s rebalance of the same tick
/// ends and a command queued in that turn is executed; `a`'s rebalance then ends once the
/// venue answers. (Before the execution layer, the tick waited for `a`'s order and this test
/// never got past it: the timeout only bounds that failure.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_venue_call_holds_neither_other_bots_nor_commands() {
    let env = on_stalling(0).await;
    let (host, venue) = (&env.host, env.parts.venue.clone());
    let mut station = TwoBots {
        p: env.parts,
        a: 0,
        b: 0,
        command: None,
        held: None,
        events: vec![],
        released: None,
    };
    driver::observe(&mut station, &env.first).await.unwrap();
    station.a = deployed(&mut station.p.rt, "a").await;
    station.b = deployed(&mut station.p.rt, "b").await;
    *venue.stalled.lock().unwrap() = Some(format!("sf{}r", station.a));
    let summary = drive_held(&mut station, host, env.market, "bot a's unanswered order").await;
    assert_eq!(
        station.held,
        Some(Held {
            b_ended: true,
            a_open: true,
            command_done: true,
        })
    );
    assert_eq!(summary.commands, 1);
    // Once the venue answered, `a`'s rebalance ended too, and nothing is left pending.
    let a = station.rebalances(station.a).await;
    assert!(
        a.len() >= 2 && a.iter().all(|r| r.status != "open"),
        "{a:?}"
    );
    assert!(host.store.open_rebalances().await.unwrap().is_empty());
    assert!(host.store.unfinished_orders().await.unwrap().is_empty());
    // The driver handed over every event once, as it happened: `a`'s held rebalance finished
    // after the station had seen `b`'s of the same tick.
    let events = &station.events;
    events_agree(&*host.store, events, station.a).await;
    events_agree(&*host.store, events, station.b).await;
    let (n, seq) = station.released.unwrap();
    assert!(finished_at(&events[..n], station.b, seq).is_some());
    assert!(finished_at(&events[..n], station.a, seq).is_none());
    assert!(finished_at(&events[n..], station.a, seq).is_some());
}

/// Bots driven on the stalling venue, noting what they saw while a lookup was held.
struct Looking {
    p: Parts,
    a: i64,
    /// `a`'s rebalance was open and the queued command had run while the lookup was held.
    held: Option<(bool, bool)>,
}

#[async_trait::async_trait]
impl Station for Looking {
    fn parts(&mut self) -> (&mut Runtime, Option<&PaperExchange>, &ManualClock) {
        (&mut self.p.rt, Some(&self.p.ex), &self.p.clock)
    }
    async fn changed(&mut self) {
        let queued = *self.p.venue.queued.lock().unwrap();
        let Some(cmd) = queued else { return };
        if self.held.is_some() {
            return;
        }
        let record = self.p.store.command(cmd).await.unwrap();
        if !record.is_some_and(|c| c.status.is_final()) {
            return;
        }
        let a = self.p.store.rebalances(self.a).await.unwrap();
        self.held = Some((a.last().is_some_and(|r| r.status == "open"), true));
        self.p.venue.release();
    }
}

/// The lookups of a reconciliation the tick decides run off the loop too: bot `a`'s order is
/// lost in transit (outcome unknown, not found yet inside the venue's lookup window), so a
/// later tick reconciles it; while the venue holds that lookup, a queued command is executed;
/// once the venue answers, the order is settled as not sent (never re-sent) and the rebalance is
/// closed as interrupted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reconciliation_lookup_holds_neither_ticks_nor_commands() {
    let env = on_stalling(30_000).await;
    let (host, venue) = (&env.host, env.parts.venue.clone());
    let mut station = Looking {
        p: env.parts,
        a: 0,
        held: None,
    };
    driver::observe(&mut station, &env.first).await.unwrap();
    let a = deployed(&mut station.p.rt, "a").await;
    station.a = a;
    let prefix = format!("sf{a}r");
    *venue.lost.lock().unwrap() = Some(prefix.clone());
    *venue.held_lookups.lock().unwrap() = Some(prefix);
    let list = serde_json::to_string(&Request::List).unwrap();
    *venue.queue_on_hold.lock().unwrap() = Some((host.store.clone(), list));
    let summary = drive_held(&mut station, host, env.market, "bot a's lookup").await;
    assert_eq!(station.held, Some((true, true)));
    assert_eq!(summary.commands, 1);
    let rbs = host.store.rebalances(a).await.unwrap();
    assert!(rbs.iter().any(|r| r.status == "interrupted"), "{rbs:?}");
    assert!(host.store.open_rebalances().await.unwrap().is_empty());
    assert!(host.store.unfinished_orders().await.unwrap().is_empty());
    let lost: Vec<_> = host
        .store
        .orders(a)
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.status == smartfolio_store::OrderState::NotSent)
        .collect();
    assert!(!lost.is_empty());
    let placed: Vec<String> = host
        .paper
        .as_ref()
        .unwrap()
        .account()
        .await
        .orders
        .iter()
        .map(|o| o.client_id.clone())
        .collect();
    assert!(lost.iter().all(|o| !placed.contains(&o.client_id)));
}

/// Bots `a` and `b` on the stalling venue under a live market, noting the ticks that reached
/// `b` while `a`'s rebalance was held by the venue.
struct LiveTwo {
    p: Parts,
    a: i64,
    b: i64,
    /// Ticks stepped while `a`'s rebalance was open, and how many of them `b` was valued at.
    while_held: u32,
    b_valued: u32,
    released: bool,
}

/// Ticks that reach `b` while `a`'s rebalance is held before the venue is released.
const HELD_TICKS: u32 = 3;

#[async_trait::async_trait]
impl Station for LiveTwo {
    fn parts(&mut self) -> (&mut Runtime, Option<&PaperExchange>, &ManualClock) {
        (&mut self.p.rt, Some(&self.p.ex), &self.p.clock)
    }
    async fn ticked(&mut self, tick: &PriceTick, _: Option<&TickReport>, _: Duration) {
        if self.released {
            return;
        }
        let a = self.p.store.rebalances(self.a).await.unwrap();
        if !(a.len() >= 2 && a.last().unwrap().status == "open") {
            return;
        }
        // A later tick than the one that started `a`'s rebalance, and `b` took it: its value
        // at this tick's time is stored.
        if a.last().unwrap().started_ms < tick.time_ms {
            self.while_held += 1;
            let snaps = self.p.store.snapshots(self.b).await.unwrap();
            if snaps.iter().any(|s| s.time_ms == tick.time_ms) {
                self.b_valued += 1;
            }
        }
        if self.while_held >= HELD_TICKS {
            self.released = true;
            self.p.venue.release();
        }
    }
}

/// A live market never holds its ticks while a rebalance is under way (only an unpaced replay
/// does, to trade as it would have): while the venue holds bot `a`'s order, the feed's ticks
/// keep reaching bot `b` (it is valued at each), and `a`'s rebalance ends once the venue
/// answers. Before the market said it was live, a live feed was taken for an unpaced replay
/// and no tick came while `a`'s order was held: the station never released it, and the
/// timeout only bounds that failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_market_keeps_ticking_other_bots_while_a_rebalance_is_under_way() {
    let env = on_stalling(0).await;
    let (host, venue) = (&env.host, env.parts.venue.clone());
    // The same ticks as the host's market, played as a live feed plays them.
    let m = &host.cfg.market;
    let mut sc = smartfolio_exchange::feed::SyntheticConfig::new(m.assets.as_slice(), m.seed);
    sc.quote = host.cfg.quote.clone();
    sc.step_ms = m.step_ms;
    sc.start_ms = m.start_ms;
    sc.correlation = m.correlation;
    let mut market = Market::from_live_feed(Box::new(
        smartfolio_exchange::feed::SyntheticMarket::new(sc).unwrap(),
    ));
    assert_eq!(market.pacing, smartfolio_node::Pacing::Live);
    assert_eq!(market.next().await.unwrap(), env.first);
    let mut station = LiveTwo {
        p: env.parts,
        a: 0,
        b: 0,
        while_held: 0,
        b_valued: 0,
        released: false,
    };
    driver::observe(&mut station, &env.first).await.unwrap();
    station.a = deployed(&mut station.p.rt, "a").await;
    station.b = deployed(&mut station.p.rt, "b").await;
    *venue.stalled.lock().unwrap() = Some(format!("sf{}r", station.a));
    let opts = DriveOptions {
        max_ticks: Some(24),
        priced: true,
        ..Default::default()
    };
    let run = driver::drive(
        &mut station,
        Some(host),
        Some(market),
        None,
        std::future::pending(),
        opts,
    );
    let summary = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the live market held its ticks while bot a's order was unanswered")
        .unwrap();
    assert!(
        station.released,
        "a's rebalance was never held: {summary:?}"
    );
    assert_eq!(
        (station.while_held, station.b_valued),
        (HELD_TICKS, HELD_TICKS)
    );
    let a = station.p.store.rebalances(station.a).await.unwrap();
    assert!(
        a.len() >= 2 && a.iter().all(|r| r.status != "open"),
        "{a:?}"
    );
    assert!(host.store.open_rebalances().await.unwrap().is_empty());
    assert!(host.store.unfinished_orders().await.unwrap().is_empty());
}

/// `spawn_dedicated`: the loop runs on a thread of its own (a job sees that thread, not the
/// caller's), answers jobs as `spawn`'s does, and a panic on the loop reaches the caller through
/// the returned task, as a panic with its message.
#[tokio::test]
async fn a_dedicated_driver_runs_on_its_own_thread_and_hands_back_its_panic() {
    let dir = tempfile::tempdir().unwrap();
    let lease = Lease::take(dir.path(), Duration::ZERO).await.unwrap();
    let (mut host, mut bots) = Host::open(config(dir.path(), None), lease).await.unwrap();
    host.start(&mut bots).await.unwrap();
    host.mark_ready();
    let caller = std::thread::current().id();
    let (handle, task) = driver::spawn_dedicated(
        Counting { bots, ticks: 0 },
        Some(host),
        None,
        DriveOptions::default(),
        std::future::pending(),
    );
    let (id, name) = handle
        .call(|_: &mut Counting| {
            Box::pin(async move {
                let t = std::thread::current();
                (t.id(), t.name().map(str::to_string))
            })
        })
        .await
        .unwrap();
    assert_ne!(id, caller);
    assert_eq!(name.as_deref(), Some("smartfolio-driver"));
    let listed = handle
        .call(|s: &mut Counting| Box::pin(async move { s.parts().0.list().len() }))
        .await
        .unwrap();
    assert_eq!(listed, 0);

    let answer = handle
        .call(|_: &mut Counting| -> driver::BoxFut<'_, ()> {
            Box::pin(async move { panic!("a job's bug") })
        })
        .await;
    assert!(answer.is_err(), "the loop died answering");
    let Err(e) = task.await else {
        panic!("the loop's panic was not handed back")
    };
    assert!(e.is_panic(), "{e}");
    let payload = e.into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"a job's bug"));
}
