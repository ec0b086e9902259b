//! The server's state over the node's driver: [`Core`] is the [`Station`] the one driver loop
//! (`smartfolio_node::driver`) drives, adding what only the server keeps (price history for the
//! previews, metrics, live events); [`RuntimeHandle`] is the driver's handle, whose jobs run in
//! order with the ticks (the single writer).
//!
//! Live events and metrics follow the runtime's audit events ([`BotEvent`]): the driver hands
//! them over after each tick and batch of queued commands, and a job publishes its own before it
//! answers, so a reply is never seen before what it did.
//!
//! What readers get without a job ([`Reads`]: bots' summaries, the resolution of `{bot}`) is
//! published after every step that may change a bot, before that step's live events and before
//! a job's answer.

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::reads::Reads;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use serde_json::{Value, json};
use smartfolio_bot::{BotEvent, BotStatus, EventKind, ManualClock, Runtime, TickReport};
use smartfolio_exchange::feed::Watch;
use smartfolio_exchange::paper::PaperExchange;
use smartfolio_exchange::{Exchange, PriceFeed, PriceTick};
use smartfolio_node::driver::{self, DriveOptions, Driven, Handle};
use smartfolio_node::host::watch_bots;
use smartfolio_node::{Bots, Host, Market, Station};
use smartfolio_store::BotId;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

pub use smartfolio_node::driver::BoxFut;

/// A live update for the dashboard (server-sent event `kind` with `data` as JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub kind: &'static str,
    pub data: Value,
}

/// The market prices the server has seen (for allocation and backtest previews).
#[derive(Debug, Clone, Default)]
pub struct PriceHistory {
    pub assets: Vec<String>,
    pub times_ms: VecDeque<i64>,
    /// One row per time, in `assets` order.
    pub rows: VecDeque<Vec<f64>>,
    pub capacity: usize,
}

impl PriceHistory {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(2),
            ..Default::default()
        }
    }

    /// Add a tick (ticks that do not price every known asset are skipped).
    pub fn push(&mut self, tick: &PriceTick) {
        if self.assets.is_empty() {
            self.assets = tick.prices.iter().map(|(a, _)| a.clone()).collect();
        }
        let mut row = Vec::with_capacity(self.assets.len());
        for a in &self.assets {
            match tick.price(a).and_then(|p| p.to_f64()) {
                Some(p) if p.is_finite() && p > 0.0 => row.push(p),
                _ => return,
            }
        }
        if self.times_ms.back().is_some_and(|t| *t >= tick.time_ms) {
            return;
        }
        if self.rows.len() == self.capacity {
            self.rows.pop_front();
            self.times_ms.pop_front();
        }
        self.rows.push_back(row);
        self.times_ms.push_back(tick.time_ms);
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The last `bars` rows of `assets` (row-major) and their times.
    pub fn window(&self, assets: &[String], bars: usize) -> Result<(Vec<i64>, Vec<f64>), ApiError> {
        if self.assets.is_empty() {
            // No tick yet: which assets the market has is not known either.
            return Err(ApiError {
                status: 409,
                field: Some("assets".into()),
                value: Some(assets.join(",")),
                allowed: Some(
                    "assets of the market, once it has given prices: wait for its first ticks \
                     (`history_bars` in /api/status)"
                        .into(),
                ),
                message: "no price history yet: the server has seen no market prices (a `run \
                          --http` daemon records its market's ticks, the default account's \
                          with several accounts; `smartfolio serve` has no market and never \
                          does)"
                    .into(),
            });
        }
        let mut cols = Vec::with_capacity(assets.len());
        for a in assets {
            match self.assets.iter().position(|x| x == a) {
                Some(i) => cols.push(i),
                None => {
                    // Which assets have history is the server's state: a conflict, not a
                    // malformed request.
                    let mut e = ApiError::invalid(
                        "assets",
                        a.clone(),
                        format!("assets of the market: {}", self.assets.join(", ")),
                    );
                    e.status = 409;
                    return Err(e);
                }
            }
        }
        let n = bars.min(self.rows.len());
        let start = self.rows.len() - n;
        let times: Vec<i64> = self.times_ms.iter().skip(start).copied().collect();
        let mut prices = Vec::with_capacity(n * cols.len());
        for row in self.rows.iter().skip(start) {
            for &c in &cols {
                prices.push(row[c]);
            }
        }
        Ok((times, prices))
    }

    /// Median bar spacing in ms (0 with fewer than two bars).
    pub fn bar_ms(&self) -> i64 {
        let mut d: Vec<i64> = self
            .times_ms
            .iter()
            .zip(self.times_ms.iter().skip(1))
            .map(|(a, b)| b - a)
            .collect();
        if d.is_empty() {
            return 0;
        }
        d.sort_unstable();
        d[d.len() / 2]
    }
}

/// What the driver drives for the server.
pub struct Core {
    pub rt: Runtime,
    /// The venue the bots trade on (the account's balances for `/api/status`).
    pub venue: Arc<dyn Exchange>,
    /// The paper exchange, when the bots trade on paper (it takes each tick's prices).
    pub paper: Option<Arc<PaperExchange>>,
    /// A live market's assets: every bot's assets are added after each tick and job.
    pub watch: Option<Watch>,
    pub clock: Arc<ManualClock>,
    pub history: PriceHistory,
    pub last_tick: Option<PriceTick>,
    pub metrics: Arc<Metrics>,
    pub events: broadcast::Sender<Event>,
    /// Ticks processed by this actor.
    pub ticks: u64,
    /// What new bots get (`Server::start` sets the node's; else the exchange's quote, account,
    /// venue and fee with the bot defaults).
    pub defaults: smartfolio_node::Defaults,
    /// The template gallery's cards, kept until the history or a template changes (computed
    /// off the loop: `crate::gallery`).
    pub cards: Arc<smartfolio_templates::CardCache>,
    /// What readers get without queueing behind the loop (published by [`Core::refresh_reads`]).
    pub reads: Arc<Reads>,
    /// A job published the readers' state itself: the driver's `changed` after it skips it.
    job_published: bool,
    last_tick_event: Option<Instant>,
}

impl Core {
    /// The server over bots trading on the paper exchange `ex`, with its quote, account, venue
    /// and fee as the defaults of new bots.
    pub fn new(rt: Runtime, ex: Arc<PaperExchange>, clock: Arc<ManualClock>) -> Self {
        let defaults = smartfolio_node::Defaults {
            venue: ex.name().to_string(),
            account: ex.config().account.clone(),
            quote: ex.config().quote.clone(),
            fee_rate: ex.config().fee_rate,
            ..Default::default()
        };
        let bots = Bots {
            rt,
            ex: Some(ex),
            clock,
            watch: None,
        };
        Self::hosted(bots, defaults)
    }

    /// The server over a host's bots, on whatever venue and market they trade (the paper
    /// exchange, a dry run's, or a real venue's connector), with the owner's defaults.
    pub fn hosted(bots: Bots, defaults: smartfolio_node::Defaults) -> Self {
        let (events, _) = broadcast::channel(512);
        let Bots {
            rt,
            ex: paper,
            clock,
            watch,
        } = bots;
        let reads = Arc::new(Reads::new(&rt));
        Self {
            defaults,
            venue: rt.exchange().clone(),
            rt,
            paper,
            watch,
            clock,
            history: PriceHistory::new(20_000),
            last_tick: None,
            metrics: Arc::new(Metrics::default()),
            events,
            ticks: 0,
            cards: Arc::default(),
            reads,
            job_published: false,
            last_tick_event: None,
        }
    }

    /// Publish the readers' state (the bots, the summaries read since the last publication).
    pub async fn refresh_reads(&mut self) {
        let reads = self.reads.clone();
        reads.refresh(self).await;
    }

    /// The end of a job: with `changed` (a job that may change a bot, or any job that recorded
    /// events) the readers' state is published before the events and the answer.
    async fn end_job(&mut self, changed: bool) {
        let events = self.rt.take_events();
        if changed || !events.is_empty() {
            self.refresh_reads().await;
        }
        self.publish_events(&events);
        self.job_published = true;
    }

    fn emit(&self, kind: &'static str, data: Value) {
        // No subscriber is fine.
        let _ = self.events.send(Event { kind, data });
    }

    /// Give a tick's prices to the exchange and the runtime without deciding anything, and
    /// record them in the history (a market's pre-history).
    pub async fn observe(&mut self, tick: &PriceTick) -> Result<(), ApiError> {
        driver::observe(self, tick)
            .await
            .map_err(|e| ApiError::internal(e.to_string()))
    }

    /// Drive every bot from a tick (the driver's step); record metrics and send events.
    pub async fn tick(&mut self, tick: &PriceTick) -> Result<(), ApiError> {
        driver::step(self, tick)
            .await
            .map(|_| ())
            .map_err(|e| ApiError::internal(e.to_string()))
    }

    fn tick_event(&mut self, tick: &PriceTick, report: &TickReport) {
        let due = self
            .last_tick_event
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(250));
        if due {
            self.last_tick_event = Some(Instant::now());
            let bots: Vec<Value> = self
                .rt
                .list()
                .into_iter()
                .map(|b| {
                    json!({"id": b.id, "name": b.name, "status": b.status, "value": b.value,
                           "pnl": b.pnl})
                })
                .collect();
            self.emit(
                "tick",
                json!({"time_ms": tick.time_ms, "prices": tick.prices, "report": report,
                       "bots": bots}),
            );
        }
    }

    fn publish_events(&self, events: &[BotEvent]) {
        for e in events {
            self.metrics.record(e);
            let (kind, data) = live(e);
            self.emit(kind, data);
        }
    }

    /// Bots by status word (for the metrics).
    pub fn bots_by_state(&self) -> Vec<(&'static str, u64)> {
        let mut counts: Vec<(&'static str, u64)> =
            crate::metrics::BOT_STATES.iter().map(|s| (*s, 0)).collect();
        for b in &self.rt.engine.bots {
            let w = b.state.status.word();
            if let Some(c) = counts.iter_mut().find(|(s, _)| *s == w) {
                c.1 += 1;
            }
        }
        counts
    }

    /// Whether the bot is stopped.
    pub fn is_stopped(&self, id: BotId) -> bool {
        self.rt
            .engine
            .bots
            .iter()
            .any(|b| b.id == id && matches!(b.state.status, BotStatus::Stopped { .. }))
    }
}

#[async_trait::async_trait]
impl Station for Core {
    fn parts(&mut self) -> (&mut Runtime, Option<&PaperExchange>, &ManualClock) {
        (&mut self.rt, self.paper.as_deref(), &self.clock)
    }

    async fn observed(&mut self, tick: &PriceTick) {
        self.history.push(tick);
        self.last_tick = Some(tick.clone());
        self.refresh_reads().await;
    }

    async fn ticked(&mut self, tick: &PriceTick, report: Option<&TickReport>, took: Duration) {
        self.metrics.tick(tick.time_ms, took.as_secs_f64());
        self.history.push(tick);
        self.last_tick = Some(tick.clone());
        self.ticks += 1;
        self.refresh_reads().await;
        if let Some(report) = report {
            self.tick_event(tick, report);
        }
        watch_bots(self.watch.as_ref(), &self.rt);
    }

    fn venue_error(&mut self) {
        self.metrics.venue_error();
    }

    async fn events(&mut self, events: Vec<BotEvent>) {
        // Readers first: a client an event tells of a change reads it.
        self.refresh_reads().await;
        self.publish_events(&events);
    }

    async fn changed(&mut self) {
        watch_bots(self.watch.as_ref(), &self.rt);
        // After a job, which published what it changed itself (`RuntimeHandle::call`).
        if std::mem::take(&mut self.job_published) {
            return;
        }
        self.refresh_reads().await;
    }
}

/// An audit event as a live update: `state` (a bot created or changing state), `rebalance`
/// (started, status `open`, then closed with its status), `order` (an order's outcome) and
/// `fill` (a fill applied to the bot's ledger).
fn live(e: &BotEvent) -> (&'static str, Value) {
    let (bot, time_ms) = (e.bot, e.time_ms);
    match &e.kind {
        EventKind::Created { name } => (
            "state",
            json!({"bot": bot, "time_ms": time_ms, "name": name, "status": "created",
                   "previous": null, "reason": null}),
        ),
        EventKind::StateChanged { from, to, reason } => (
            "state",
            json!({"bot": bot, "time_ms": time_ms, "status": to, "previous": from,
                   "reason": reason}),
        ),
        EventKind::RebalanceStarted { seq, kind, reason } => (
            "rebalance",
            json!({"bot": bot, "time_ms": time_ms, "seq": seq, "kind": kind, "reason": reason,
                   "status": "open", "fees": null}),
        ),
        EventKind::RebalanceFinished {
            seq,
            kind,
            reason,
            status,
            fees,
        } => (
            "rebalance",
            json!({"bot": bot, "time_ms": time_ms, "seq": seq, "kind": kind, "reason": reason,
                   "status": status, "fees": fees}),
        ),
        EventKind::Order {
            seq,
            client_id,
            asset,
            side,
            quantity,
            filled_quantity,
            outcome,
        } => (
            "order",
            json!({"bot": bot, "time_ms": time_ms, "seq": seq, "client_id": client_id,
                   "asset": asset, "side": side.as_str(), "quantity": quantity,
                   "filled_quantity": filled_quantity, "outcome": outcome}),
        ),
        EventKind::Fill(f) => (
            "fill",
            json!({"bot": bot, "time_ms": time_ms, "client_id": f.client_id,
                   "fill_id": f.fill_id, "asset": f.base, "quote": f.quote,
                   "side": f.side.as_str(), "quantity": f.quantity, "price": f.price,
                   "fee": f.fee, "fee_asset": f.fee_asset}),
        ),
    }
}

/// A cheap, cloneable handle to the driver of the [`Core`].
#[derive(Clone)]
pub struct RuntimeHandle {
    inner: Handle<Core>,
    pub metrics: Arc<Metrics>,
    pub events: broadcast::Sender<Event>,
    /// What readers get without a job.
    pub reads: Arc<Reads>,
}

impl RuntimeHandle {
    /// Run `f` on the core, in order with the ticks and other jobs, and return its result once
    /// what it changed is published to the readers and the events it caused are published
    /// (metrics counted, live events sent).
    pub async fn call<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: for<'a> FnOnce(&'a mut Core) -> BoxFut<'a, R> + Send + 'static,
    {
        self.job(f, true).await
    }

    /// [`RuntimeHandle::call`] for a job that changes no bot (a read, a preview): the readers'
    /// state is not recomputed after it (unless it recorded events).
    pub async fn read<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: for<'a> FnOnce(&'a mut Core) -> BoxFut<'a, R> + Send + 'static,
    {
        self.job(f, false).await
    }

    async fn job<R, F>(&self, f: F, changes: bool) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: for<'a> FnOnce(&'a mut Core) -> BoxFut<'a, R> + Send + 'static,
    {
        self.inner
            .call(move |c: &mut Core| -> BoxFut<'_, R> {
                Box::pin(async move {
                    let r = f(c).await;
                    c.end_job(changes).await;
                    r
                })
            })
            .await
            .map_err(|gone| ApiError::unavailable(gone.to_string()))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}

/// A market feed and its pacing.
pub struct MarketFeed {
    pub feed: Box<dyn PriceFeed>,
    /// Market ms per wall ms; None: as fast as possible.
    pub speed: Option<f64>,
}

/// Start the node's driver over `core` (on its own thread, see [`spawn_driver`]), without a
/// data directory (no command queue): it answers jobs and, with a feed, drives the bots from the market. The
/// task ends when every handle is dropped.
pub fn spawn(
    core: Core,
    feed: Option<MarketFeed>,
) -> (RuntimeHandle, tokio::task::JoinHandle<Driven<Core>>) {
    let market = feed.map(|f| Market::from_feed(f.feed, f.speed));
    spawn_driver(
        core,
        None,
        market,
        DriveOptions::default(),
        std::future::pending(),
    )
}

/// Start the node's driver over `core` on a thread and a tokio runtime of its own
/// ([`smartfolio_node::driver::spawn_dedicated`]): the HTTP handlers' tasks stay on the caller's
/// runtime, so the loop's ticks never wait in their run queue (and the readers, answered off
/// the loop, never wait for a tick).
pub fn spawn_driver(
    core: Core,
    host: Option<Host>,
    market: Option<Market>,
    opts: DriveOptions,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> (RuntimeHandle, tokio::task::JoinHandle<Driven<Core>>) {
    spawn_driver_on(DriverThread::Own, core, host, market, opts, stop)
}

/// Where the driver's loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverThread {
    /// A thread and a tokio runtime of its own ([`spawn_driver`]).
    Own,
    /// A task of the caller's runtime, beside the HTTP handlers' tasks (the readers' bench
    /// compares the two).
    Caller,
}

/// [`spawn_driver`] with the loop where `thread` says.
pub fn spawn_driver_on(
    thread: DriverThread,
    core: Core,
    host: Option<Host>,
    market: Option<Market>,
    opts: DriveOptions,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> (RuntimeHandle, tokio::task::JoinHandle<Driven<Core>>) {
    let metrics = core.metrics.clone();
    let events = core.events.clone();
    let reads = core.reads.clone();
    reads.publish_bots(&core);
    let (inner, task) = match thread {
        DriverThread::Own => driver::spawn_dedicated(core, host, market, opts, stop),
        DriverThread::Caller => driver::spawn(core, host, market, opts, stop),
    };
    (
        RuntimeHandle {
            inner,
            metrics,
            events,
            reads,
        },
        task,
    )
}
