//! The one driver loop: feed → pacing → tick → commands → housekeeping. `run` drives a
//! [`Bots`](crate::Bots) with it directly; `run --http` and `demo` drive the server's state through
//! [`spawn`], whose [`Handle`] lets HTTP handlers run jobs in order with the ticks (the single
//! writer).
//!
//! - **Feed and pacing**: the next tick is taken from the (unpaced) feed and is due at the wall
//!   time the [`Pacer`] gives; while waiting, jobs and queued commands are served, so a slow
//!   market delays neither.
//! - **Tick**: prices to the clock, the paper exchange and the runtime, then every bot decides.
//!   A rebalance is only *started* by the tick: its orders are placed on their own tasks, and
//!   the loop records their answers when the runtime's execution signal says they have arrived
//!   (**executions**), so one bot's slow venue call holds neither the other bots' ticks nor the
//!   command queue. A replay played as fast as possible ([`crate::market::Pacing::Unpaced`]) steps its next
//!   tick once the rebalances under way have ended, so it trades as it would have; a paced
//!   market and a live feed ([`crate::market::Pacing::Live`]) never wait for them: the market says which
//!   ([`crate::market::Market::pacing`]), never its speed.
//!   [`step`] is the tick for callers outside the loop: it waits for the tick's rebalances. A
//!   tick error (the runtime's store failed mid-tick) ends the loop in every mode:
//!   the runtime's memory may then disagree with what is stored, and only a restart's recovery
//!   rebuilds it from the store; carrying on would trade on state nothing recorded.
//! - **Commands**: after each tick and every [`COMMAND_POLL`], the commands queued in the store
//!   are claimed and executed (once the market has prices).
//! - **Housekeeping**: the market time is noted about every second, and at the end, so a
//!   restart resumes after it. A loop that ends by itself (not interrupted) first waits for the
//!   rebalances under way; an interrupted one leaves their orders pending in the store, for
//!   recovery to settle by client id.
//! - **Events**: what the runtime recorded ([`smartfolio_bot::events`]) is taken after each
//!   tick (before [`Station::ticked`]), job, batch of commands and recorded answer, and handed
//!   to [`Station::events`] in the order it happened.

use crate::command;
use crate::error::{NodeError, NodeResult};
use crate::host::Host;
use crate::market::Market;
use async_trait::async_trait;
use smartfolio_bot::{BotEvent, ManualClock, Runtime, TickReport};
use smartfolio_exchange::PriceTick;
use smartfolio_exchange::feed::Pacer;
use smartfolio_exchange::paper::PaperExchange;
use std::future::Future;
use std::pin::Pin;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Duration, Instant, MissedTickBehavior};

/// How often the store's command queue is looked at between ticks.
pub const COMMAND_POLL: Duration = Duration::from_millis(100);
/// How often the market time is noted.
const NOTE_EVERY: Duration = Duration::from_secs(1);

/// What the driver drives: the runtime with its exchange and clock, and hooks for an observer
/// (the server's metrics, price history and events).
#[async_trait]
pub trait Station: Send + 'static {
    /// The runtime, the paper exchange when the bots trade on paper (it takes each tick's
    /// prices), and the clock.
    fn parts(&mut self) -> (&mut Runtime, Option<&PaperExchange>, &ManualClock);
    /// A tick's prices were observed (pre-history, no decisions).
    async fn observed(&mut self, _tick: &PriceTick) {}
    /// A tick was processed; `report` is `None` when the tick failed.
    async fn ticked(&mut self, _tick: &PriceTick, _report: Option<&TickReport>, _took: Duration) {}
    /// The paper exchange refused a tick's prices.
    fn venue_error(&mut self) {}
    /// What the runtime recorded since the last call, oldest first (never empty).
    async fn events(&mut self, _events: Vec<BotEvent>) {}
    /// A job, commands or recorded answers ran: state may have changed (after [`Self::events`]).
    async fn changed(&mut self) {}
}

/// Hand the runtime's recorded events to the station.
async fn hand_on<S: Station>(s: &mut S) {
    let events = s.parts().0.take_events();
    if !events.is_empty() {
        s.events(events).await;
    }
}

/// After a job, commands or recorded answers: the events, then [`Station::changed`].
async fn after<S: Station>(s: &mut S) {
    hand_on(s).await;
    s.changed().await;
}

/// Give a tick's prices to the clock, the exchange and the runtime without deciding anything.
pub async fn observe<S: Station>(s: &mut S, tick: &PriceTick) -> NodeResult<()> {
    {
        let (rt, ex, clock) = s.parts();
        clock.set(tick.time_ms);
        if let Some(ex) = ex {
            ex.update_prices(tick)
                .await
                .map_err(NodeError::exchange("paper exchange prices"))?;
        }
        rt.observe_prices(tick);
    }
    s.observed(tick).await;
    Ok(())
}

/// Drive every bot from a tick, and wait for the rebalances it started to end (for callers
/// outside the loop, which want the tick's whole outcome).
pub async fn step<S: Station>(s: &mut S, tick: &PriceTick) -> NodeResult<TickReport> {
    turn(s, tick, true).await
}

/// Drive every bot from a tick; with `settle`, wait for the rebalances it started to end.
async fn turn<S: Station>(s: &mut S, tick: &PriceTick, settle: bool) -> NodeResult<TickReport> {
    let priced = {
        let (_, ex, clock) = s.parts();
        clock.set(tick.time_ms);
        match ex {
            Some(ex) => ex.update_prices(tick).await.map(|_| ()),
            None => Ok(()),
        }
    };
    if let Err(e) = priced {
        s.venue_error();
        return Err(NodeError::exchange("paper exchange prices")(e));
    }
    let t0 = Instant::now();
    let rt = s.parts().0;
    let res = match rt.on_tick(tick).await {
        Ok(r) if settle => rt.settle_executions().await.map(|()| r),
        other => other,
    };
    hand_on(s).await;
    s.ticked(tick, res.as_ref().ok(), t0.elapsed()).await;
    res.map_err(NodeError::bot("tick"))
}

/// When the loop stops by itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct DriveOptions {
    /// Stop after this many ticks.
    pub max_ticks: Option<u64>,
    /// Stop before the first tick later than this market time.
    pub until_ms: Option<i64>,
    /// The market already has prices (observed pre-history): queued commands may run before
    /// the first tick.
    pub priced: bool,
    /// The store's queued commands are claimed elsewhere (a daemon of several accounts routes
    /// each to its account's loop, [`crate::accounts`]): this loop claims none; its host only
    /// notes the market time.
    pub routed: bool,
}

/// What a run did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct RunSummary {
    pub ticks: u64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub recovered_orders: usize,
    pub interrupted_commands: u64,
    pub commands: u64,
    pub bots: usize,
    pub deployed: usize,
    pub rebalanced: usize,
    pub suspended: usize,
    pub resumed: usize,
    pub stopped: usize,
    pub snapshots: usize,
    pub ended: String,
}

impl RunSummary {
    fn add(&mut self, r: &TickReport, time_ms: i64) {
        self.ticks += 1;
        self.first_ms.get_or_insert(time_ms);
        self.last_ms = Some(time_ms);
        self.bots = r.bots;
        self.deployed += r.deployed;
        self.rebalanced += r.rebalanced;
        self.suspended += r.suspended;
        self.resumed += r.resumed;
        self.stopped += r.stopped;
        self.snapshots += r.snapshots;
    }
}

/// A boxed future borrowing the station.
pub type BoxFut<'a, R> = Pin<Box<dyn Future<Output = R> + Send + 'a>>;
/// Work run on the station, in order with the ticks.
pub type Job<S> = Box<dyn for<'a> FnOnce(&'a mut S) -> BoxFut<'a, ()> + Send>;

/// The driver is gone (its loop ended), before or while answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Gone {
    #[error("the bot runtime has stopped")]
    Before,
    #[error("the bot runtime stopped while answering")]
    During,
}

/// A cheap, cloneable handle to a spawned driver.
pub struct Handle<S> {
    tx: mpsc::Sender<Job<S>>,
}

impl<S> Clone for Handle<S> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<S: Station> Handle<S> {
    /// Run `f` on the station, in order with the ticks and other jobs, and return its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R, Gone>
    where
        R: Send + 'static,
        F: for<'a> FnOnce(&'a mut S) -> BoxFut<'a, R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job<S> = Box::new(move |s: &mut S| {
            Box::pin(async move {
                let r = f(s).await;
                let _ = tx.send(r);
            })
        });
        self.tx.send(job).await.map_err(|_| Gone::Before)?;
        rx.await.map_err(|_| Gone::During)
    }
}

/// A spawned driver's end: the station back, and how the loop ended.
pub struct Driven<S> {
    pub station: S,
    pub host: Option<Host>,
    pub summary: NodeResult<RunSummary>,
}

/// A handle and the job queue it feeds, for a loop run with [`drive`] later (a daemon of
/// several accounts routes commands to each account's loop before the loop has started:
/// they wait in the queue).
pub fn channel<S: Station>() -> (Handle<S>, mpsc::Receiver<Job<S>>) {
    let (tx, rx) = mpsc::channel::<Job<S>>(256);
    (Handle { tx }, rx)
}

/// Run the driver on a task of the current tokio runtime. It serves jobs from the returned
/// handle; with a host it executes the queued commands, with a market it drives the bots. It
/// ends when `stop` completes, every handle is dropped, the options' limits are reached, or a
/// tick fails.
pub fn spawn<S: Station>(
    station: S,
    host: Option<Host>,
    market: Option<Market>,
    opts: DriveOptions,
    stop: impl Future<Output = ()> + Send + 'static,
) -> (Handle<S>, tokio::task::JoinHandle<Driven<S>>) {
    let (handle, run) = prepare(station, host, market, opts, stop);
    (handle, tokio::spawn(run))
}

/// [`spawn`] on a thread of its own with a tokio runtime of its own (current-thread): the
/// loop's wake-ups (a tick due, a store answer, a job) never wait in the run queue of the
/// caller's runtime behind its other tasks (an HTTP server's connections), and those tasks
/// never run on the loop's thread. What the loop spawns (orders under way) runs on its runtime,
/// which ends with the loop. Jobs reach it through the handle as with [`spawn`]; the returned
/// task (on the caller's runtime) ends with the loop and carries its panic, if any. Should the
/// thread or its runtime not start, the loop runs on the caller's runtime as [`spawn`] runs it.
pub fn spawn_dedicated<S: Station>(
    station: S,
    host: Option<Host>,
    market: Option<Market>,
    opts: DriveOptions,
    stop: impl Future<Output = ()> + Send + 'static,
) -> (Handle<S>, tokio::task::JoinHandle<Driven<S>>) {
    let (handle, run) = prepare(station, host, market, opts, stop);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::warn!(
                "the driver's runtime did not start ({e}): the loop shares the caller's"
            );
            return (handle, tokio::spawn(run));
        }
    };
    // Taken by the thread; taken back when the thread does not start.
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some((rt, run))));
    let (done, ended) = oneshot::channel::<std::thread::Result<Driven<S>>>();
    let taken = slot.clone();
    let started = std::thread::Builder::new()
        .name("smartfolio-driver".into())
        .spawn(move || {
            let Some((rt, run)) = taken.lock().unwrap_or_else(|p| p.into_inner()).take() else {
                return;
            };
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(run)));
            // The loop's runtime ends here, off any async context.
            drop(rt);
            let _ = done.send(out);
        });
    if let Err(e) = started {
        tracing::warn!("the driver's thread did not start ({e}): the loop shares the caller's");
        if let Some((rt, run)) = slot.lock().unwrap_or_else(|p| p.into_inner()).take() {
            rt.shutdown_background();
            return (handle, tokio::spawn(run));
        }
    }
    let task = tokio::spawn(async move {
        match ended.await {
            Ok(Ok(driven)) => driven,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => panic!("the driver's thread ended without handing back the loop"),
        }
    });
    (handle, task)
}

/// The handle and the loop's future (with its job queue), not yet running.
fn prepare<S: Station>(
    mut station: S,
    host: Option<Host>,
    market: Option<Market>,
    opts: DriveOptions,
    stop: impl Future<Output = ()> + Send + 'static,
) -> (Handle<S>, impl Future<Output = Driven<S>> + Send + 'static) {
    let (handle, mut rx) = channel::<S>();
    let run = async move {
        let summary = drive(
            &mut station,
            host.as_ref(),
            market,
            Some(&mut rx),
            stop,
            opts,
        )
        .await;
        Driven {
            station,
            host,
            summary,
        }
    };
    (handle, run)
}

async fn recv_opt<S>(rx: &mut Option<&mut mpsc::Receiver<Job<S>>>) -> Option<Job<S>> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The loop. Without `jobs` it ends with the feed; with `jobs` it keeps answering them after
/// the feed ends. `host` gives the command queue and the market-time notes.
pub async fn drive<S: Station>(
    station: &mut S,
    host: Option<&Host>,
    mut market: Option<Market>,
    mut jobs: Option<&mut mpsc::Receiver<Job<S>>>,
    stop: impl Future<Output = ()>,
    opts: DriveOptions,
) -> NodeResult<RunSummary> {
    let mut summary = RunSummary {
        ended: "feed ended".into(),
        ..Default::default()
    };
    let mut pacer = Pacer::new(market.as_ref().and_then(|m| m.pacing.speed()));
    let mut pending: Option<(PriceTick, Instant)> = None;
    let mut priced = opts.priced;
    let mut poll = tokio::time::interval(COMMAND_POLL);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_note = Instant::now();
    let executed = station.parts().0.execution_signal();
    // Only an unpaced replay waits for the rebalances under way before its next tick; a paced
    // or live market never does (a live feed held so would keep every bot's stops and
    // triggers off the market while one bot's limit-style rebalance is worked for minutes).
    let holds = market
        .as_ref()
        .is_some_and(|m| m.pacing.holds_ticks_while_executing());
    tokio::pin!(stop);
    after(station).await;
    let result: NodeResult<()> = loop {
        if opts.max_ticks.is_some_and(|m| summary.ticks >= m) {
            summary.ended = "max ticks".into();
            break Ok(());
        }
        if pending.is_none()
            && let Some(m) = market.as_mut()
        {
            match m.next().await {
                Some(t) if opts.until_ms.is_some_and(|u| t.time_ms > u) => {
                    summary.ended = "until".into();
                    break Ok(());
                }
                Some(t) => {
                    let at = pacer.due(t.time_ms);
                    pending = Some((t, at));
                }
                None => {
                    market = None;
                    if jobs.is_none() {
                        summary.ended = "feed ended".into();
                        break Ok(());
                    }
                    tracing::info!("market feed ended");
                }
            }
        }
        let due = pending.as_ref().map(|p| p.1);
        let hold = holds && station.parts().0.executing();
        tokio::select! {
            biased;
            _ = &mut stop => {
                summary.ended = "interrupted".into();
                break Ok(());
            }
            _ = executed.notified() => {
                let advanced = station.parts().0.advance_executions().await;
                after(station).await;
                if let Err(e) = advanced {
                    break Err(NodeError::bot("execution")(e));
                }
            }
            job = recv_opt(&mut jobs) => match job {
                Some(job) => {
                    job(station).await;
                    after(station).await;
                }
                None => {
                    summary.ended = "stopped".into();
                    break Ok(());
                }
            },
            _ = sleep_opt(due), if due.is_some() && !hold => {
                let Some((tick, _)) = pending.take() else { continue };
                let report = match turn(station, &tick, false).await {
                    Ok(r) => r,
                    Err(e) => break Err(e),
                };
                summary.add(&report, tick.time_ms);
                priced = true;
                if let Some(h) = host {
                    if !opts.routed
                        && let Err(e) = commands(station, h, &mut summary).await
                    {
                        break Err(e);
                    }
                    if last_note.elapsed() >= NOTE_EVERY {
                        if let Err(e) = h.note_market_ms(tick.time_ms).await {
                            break Err(e);
                        }
                        last_note = Instant::now();
                    }
                }
            }
            _ = poll.tick(), if host.is_some() && priced && !opts.routed => {
                if let Some(h) = host
                    && let Err(e) = commands(station, h, &mut summary).await
                {
                    break Err(e);
                }
            }
        }
    };
    let result = match result {
        Ok(()) if summary.ended != "interrupted" => {
            let settled = station.parts().0.settle_executions().await;
            after(station).await;
            settled.map_err(NodeError::bot("execution"))
        }
        other => other,
    };
    if let (Some(h), Some(t)) = (host, summary.last_ms) {
        h.note_market_ms(t).await?;
    }
    summary.bots = station.parts().0.list().len();
    result.map(|()| summary)
}

async fn commands<S: Station>(
    station: &mut S,
    host: &Host,
    summary: &mut RunSummary,
) -> NodeResult<()> {
    let ran = command::run_queued(&*host.store, station.parts().0, &host.cfg.defaults()).await;
    hand_on(station).await;
    let n = ran?;
    if n > 0 {
        summary.commands += n;
        station.changed().await;
    }
    Ok(())
}
