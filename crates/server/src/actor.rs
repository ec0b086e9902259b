//! The single writer: one task owns the [`Runtime`] (with its paper exchange and store) and the
//! market feed; everyone else sends it jobs and waits for the reply.

use crate::error::ApiError;
use crate::metrics::Metrics;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use serde_json::{Value, json};
use smartfolio_bot::{BotStatus, ManualClock, Runtime};
use smartfolio_exchange::paper::PaperExchange;
use smartfolio_exchange::{PriceFeed, PriceTick};
use smartfolio_store::BotId;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, oneshot};

/// A boxed future borrowing the core.
pub type BoxFut<'a, R> = Pin<Box<dyn Future<Output = R> + Send + 'a>>;
type Job = Box<dyn for<'a> FnOnce(&'a mut Core) -> BoxFut<'a, ()> + Send>;

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
        let mut cols = Vec::with_capacity(assets.len());
        for a in assets {
            match self.assets.iter().position(|x| x == a) {
                Some(i) => cols.push(i),
                None => {
                    return Err(ApiError::invalid(
                        "assets",
                        a.clone(),
                        format!("assets of the market: {}", self.assets.join(", ")),
                    ));
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

/// A market feed and its pacing.
pub struct MarketFeed {
    pub feed: Box<dyn PriceFeed>,
    /// Market ms per wall ms; None: as fast as possible.
    pub speed: Option<f64>,
}

/// What the actor owns.
pub struct Core {
    pub rt: Runtime,
    pub ex: Arc<PaperExchange>,
    pub clock: Arc<ManualClock>,
    pub history: PriceHistory,
    pub last_tick: Option<PriceTick>,
    pub metrics: Arc<Metrics>,
    pub events: broadcast::Sender<Event>,
    /// Ticks processed by this actor.
    pub ticks: u64,
    seen: HashMap<BotId, (String, i64)>,
    last_tick_event: Option<Instant>,
}

impl Core {
    pub fn new(rt: Runtime, ex: Arc<PaperExchange>, clock: Arc<ManualClock>) -> Self {
        let (events, _) = broadcast::channel(512);
        Self {
            rt,
            ex,
            clock,
            history: PriceHistory::new(20_000),
            last_tick: None,
            metrics: Arc::new(Metrics::default()),
            events,
            ticks: 0,
            seen: HashMap::new(),
            last_tick_event: None,
        }
    }

    fn emit(&self, kind: &'static str, data: Value) {
        // No subscriber is fine.
        let _ = self.events.send(Event { kind, data });
    }

    /// Give a tick's prices to the exchange and the runtime without deciding anything, and
    /// record them in the history (a market's pre-history).
    pub async fn observe(&mut self, tick: &PriceTick) -> Result<(), ApiError> {
        self.clock.set(tick.time_ms);
        self.ex
            .update_prices(tick)
            .await
            .map_err(|e| ApiError::internal(format!("paper exchange prices: {e}")))?;
        self.rt.observe_prices(tick);
        self.history.push(tick);
        self.last_tick = Some(tick.clone());
        Ok(())
    }

    /// Drive every bot from a tick; record metrics and send events.
    pub async fn tick(&mut self, tick: &PriceTick) -> Result<(), ApiError> {
        self.clock.set(tick.time_ms);
        if let Err(e) = self.ex.update_prices(tick).await {
            self.metrics.venue_errors.inc();
            return Err(ApiError::internal(format!("paper exchange prices: {e}")));
        }
        let t0 = Instant::now();
        let res = self.rt.on_tick(tick).await;
        self.metrics
            .tick_latency
            .observe(t0.elapsed().as_secs_f64());
        self.history.push(tick);
        self.last_tick = Some(tick.clone());
        self.ticks += 1;
        self.metrics.ticks.inc();
        let report = res.map_err(ApiError::from)?;
        self.after_change().await;
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
        Ok(())
    }

    /// Compare every bot with what was last seen: state changes and new rebalances become
    /// events and metrics.
    pub async fn after_change(&mut self) {
        let mut changes = Vec::new();
        for b in &self.engine_bots() {
            let prev = self.seen.get(&b.0).cloned();
            match prev {
                None => changes.push((b.0, b.1.clone(), None, b.2, b.2)),
                Some((st, seq)) if st != b.1 || seq != b.2 => {
                    changes.push((b.0, b.1.clone(), Some(st), seq, b.2))
                }
                _ => {}
            }
            self.seen.insert(b.0, (b.1.clone(), b.2));
        }
        for (id, status, before, seq_before, seq_now) in changes {
            if before.as_deref() != Some(status.as_str()) {
                self.emit(
                    "state",
                    json!({"bot": id, "status": status, "previous": before}),
                );
            }
            if before.is_some() && seq_now > seq_before {
                self.count_rebalances(id, seq_before).await;
            }
        }
    }

    fn engine_bots(&self) -> Vec<(BotId, String, i64)> {
        self.rt
            .engine
            .bots
            .iter()
            .map(|b| (b.id, b.state.status.word().to_string(), b.state.next_seq))
            .collect()
    }

    async fn count_rebalances(&mut self, id: BotId, from_seq: i64) {
        let Ok(list) = self.rt.store().rebalances(id).await else {
            return;
        };
        for r in list.iter().filter(|r| r.seq >= from_seq) {
            self.metrics.rebalances.inc(&r.kind);
            let summary: Option<smartfolio_bot::RebalanceSummary> = r
                .summary
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok());
            if let Some(s) = &summary {
                let sent = s.legs.iter().filter(|l| l.outcome != "skipped").count() as u64;
                let filled = s
                    .legs
                    .iter()
                    .filter(|l| l.outcome == "filled" || l.outcome == "partial")
                    .count() as u64;
                let errors = s
                    .legs
                    .iter()
                    .filter(|l| matches!(l.outcome.as_str(), "rejected" | "failed" | "unknown"))
                    .count() as u64;
                self.metrics.orders.add(sent);
                self.metrics.fills.add(filled);
                self.metrics.venue_errors.add(errors);
            }
            self.emit(
                "rebalance",
                json!({"bot": id, "seq": r.seq, "kind": r.kind, "reason": r.reason,
                       "status": r.status, "time_ms": r.started_ms,
                       "fees": summary.as_ref().map(|s| s.fees)}),
            );
        }
    }

    /// Bots by status word (for the metrics).
    pub fn bots_by_state(&self) -> Vec<(&'static str, u64)> {
        let mut counts: Vec<(&'static str, u64)> = [
            "created",
            "deploying",
            "running",
            "paused",
            "suspended",
            "stopping",
            "stopped",
        ]
        .iter()
        .map(|s| (*s, 0))
        .collect();
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

/// A cheap, cloneable handle to the actor.
#[derive(Clone)]
pub struct RuntimeHandle {
    tx: mpsc::Sender<Job>,
    pub metrics: Arc<Metrics>,
    pub events: broadcast::Sender<Event>,
}

impl RuntimeHandle {
    /// Run `f` on the core, in order with the ticks and other jobs, and return its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: for<'a> FnOnce(&'a mut Core) -> BoxFut<'a, R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |core: &mut Core| {
            Box::pin(async move {
                let r = f(core).await;
                let _ = tx.send(r);
            })
        });
        self.tx
            .send(job)
            .await
            .map_err(|_| ApiError::unavailable("the bot runtime has stopped"))?;
        rx.await
            .map_err(|_| ApiError::unavailable("the bot runtime stopped while answering"))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}

/// Start the actor on the current tokio runtime. With a feed, it also drives the bots from
/// the market (paced by `speed`); the task ends when every handle is dropped or the feed ends
/// (then it keeps answering jobs).
pub fn spawn(
    core: Core,
    feed: Option<MarketFeed>,
) -> (RuntimeHandle, tokio::task::JoinHandle<Core>) {
    let (tx, rx) = mpsc::channel::<Job>(256);
    let handle = RuntimeHandle {
        tx,
        metrics: core.metrics.clone(),
        events: core.events.clone(),
    };
    let task = tokio::spawn(run(core, rx, feed));
    (handle, task)
}

async fn run(mut core: Core, mut rx: mpsc::Receiver<Job>, mut feed: Option<MarketFeed>) -> Core {
    core.after_change().await;
    let mut pending: Option<(PriceTick, tokio::time::Instant)> = None;
    let mut anchor: Option<(tokio::time::Instant, i64)> = None;
    loop {
        if pending.is_none()
            && let Some(f) = feed.as_mut()
        {
            match f.feed.next_tick().await {
                Some(t) => {
                    let at = match f.speed {
                        Some(speed) if speed > 0.0 => {
                            let (w0, m0) =
                                *anchor.get_or_insert((tokio::time::Instant::now(), t.time_ms));
                            let wait = (t.time_ms - m0).max(0) as f64 / speed / 1000.0;
                            Duration::try_from_secs_f64(wait)
                                .ok()
                                .and_then(|d| w0.checked_add(d))
                                .unwrap_or_else(tokio::time::Instant::now)
                        }
                        _ => tokio::time::Instant::now(),
                    };
                    pending = Some((t, at));
                }
                None => {
                    tracing::info!("market feed ended");
                    feed = None;
                }
            }
        }
        let deadline = pending.as_ref().map(|p| p.1);
        tokio::select! {
            biased;
            job = rx.recv() => match job {
                Some(job) => {
                    job(&mut core).await;
                    core.after_change().await;
                }
                None => break,
            },
            _ = sleep_opt(deadline), if deadline.is_some() => {
                if let Some((tick, _)) = pending.take()
                    && let Err(e) = core.tick(&tick).await {
                        tracing::warn!("tick {}: {e}", tick.time_ms);
                }
            }
        }
    }
    core
}

async fn sleep_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
