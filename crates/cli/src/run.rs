//! `smartfolio run`: the daemon that runs every bot, and the single owner of a data directory.
//!
//! ## Single writer
//! The paper exchange keeps its account in memory (persisted change by change), so two processes
//! trading the same account would diverge. Whoever trades or changes bots holds an exclusive
//! lock on `data_dir/daemon.lock` (an OS file lock, released when the process dies, even by
//! SIGKILL):
//! - `smartfolio run` takes it for its whole life: it opens the store and the paper exchange,
//!   recovers (reconciles in-flight orders by client id, closes half-done rebalances), then
//!   drives every bot from the market feed, whose tick time is the clock. Between ticks it
//!   executes the commands queued in the store.
//! - `smartfolio bot ...` takes it when it can (no daemon): it does the same opening and runs its
//!   one command in-process at the market's current tick. When a daemon holds it, the command
//!   is queued in the store and the daemon executes it (see [`crate::bot`]).
//!
//! ## Market time across restarts
//! A restarted feed resumes after the latest time any stored change carries
//! ([`SqliteStore::latest_time_ms`], and the daemon's own note of the last tick), so market time
//! never runs backwards: the synthetic market is re-generated from its seed and fast-forwarded
//! (the same seed gives the same prices), a replay starts after that time.

use crate::InputError;
use crate::bot;
use crate::config::{self, Config, MarketKind};
use anyhow::Context;
use rust_decimal::Decimal;
use smartfolio_bot::{ManualClock, Runtime, TickReport};
use smartfolio_exchange::feed::{ReplayFeed, ReplayOptions, SyntheticConfig, SyntheticMarket};
use smartfolio_exchange::paper::{PaperExchange, PaperPersistence};
use smartfolio_exchange::{PriceFeed, PriceTick};
use smartfolio_store::{SqliteStore, StoreError};
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The lock file inside the data directory.
pub const LOCK_FILE: &str = "daemon.lock";
/// The daemon's note of the last tick it processed (market time).
const META_MARKET_MS: &str = "market_ms";

/// Flags shared by `bot` and `run`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// The configuration file (default: $SMARTFOLIO_CONFIG, else ./smartfolio.toml if present).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// The data directory (overrides the config's data_dir and $SMARTFOLIO_DATA_DIR).
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Log format on stderr: pretty or json (RUST_LOG filters).
    #[arg(long, value_name = "FORMAT", global = true)]
    pub log_format: Option<String>,
}

impl CommonArgs {
    pub fn load(&self) -> anyhow::Result<Config> {
        let mut cfg = config::load(self.config.as_deref())?;
        if let Some(d) = &self.data_dir {
            cfg.data_dir = d.clone();
        }
        match self.log_format.as_deref() {
            None => {}
            Some("json") => cfg.log_format = config::LogFormat::Json,
            Some("pretty") => cfg.log_format = config::LogFormat::Pretty,
            Some(other) => {
                return Err(InputError(format!(
                    "invalid --log-format: `{other}`; allowed: pretty, json"
                ))
                .into());
            }
        }
        Ok(cfg)
    }
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  smartfolio run                          # the configured market, paced\n  smartfolio run --speed max --max-ticks 1000\n  smartfolio run --market replay --speed 3600 --until 2024-06-01"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Market feed: synthetic or replay (default: the config's market.kind).
    #[arg(long, value_name = "KIND")]
    pub market: Option<String>,
    /// Market ms per wall ms (3600: one hour per second), or `max` for as fast as possible.
    #[arg(long, value_name = "X|max")]
    pub speed: Option<String>,
    /// Stop after this many ticks.
    #[arg(long, value_name = "N")]
    pub max_ticks: Option<u64>,
    /// Stop before the first tick later than this market time (date, RFC3339 or epoch ms).
    #[arg(long, value_name = "TIME", alias = "until-ms")]
    pub until: Option<String>,
    /// Print the run's summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also serve the dashboard and HTTP API on this port (runs until interrupted; the
    /// token is printed on the first start).
    #[arg(long, value_name = "PORT")]
    pub http: Option<u16>,
    /// Address for --http: 127.0.0.1, or explicitly another one such as 0.0.0.0 (a warning).
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub bind: String,
    /// With --http: generate a new API token (the old one stops working).
    #[arg(long)]
    pub new_token: bool,
}

/// Try to take the exclusive lock of `data_dir`; `None` when another process holds it.
pub fn try_lock(data_dir: &Path) -> anyhow::Result<Option<File>> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let path = data_dir.join(LOCK_FILE);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match f.try_lock() {
        Ok(()) => {
            f.set_len(0).ok();
            let _ = writeln!(f, "{}", std::process::id());
            Ok(Some(f))
        }
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Whether the lock's holder has opened the store (see [`Host::mark_ready`]).
pub fn holder_ready(data_dir: &Path) -> bool {
    std::fs::read_to_string(data_dir.join(LOCK_FILE))
        .is_ok_and(|s| s.lines().any(|l| l.trim() == "ready"))
}

/// The pid written in the lock file (for messages).
pub fn lock_holder(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join(LOCK_FILE))
        .ok()
        .and_then(|s| s.lines().next().map(|l| l.trim().to_string()))
        .filter(|s| !s.is_empty())
        .map_or_else(|| "another process".into(), |p| format!("process {p}"))
}

/// The store's errors that are the user's input (a database from a newer smartfolio, a file
/// that is not a database) exit 2.
pub fn store_error(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::NewerVersion { .. } | StoreError::Corrupt { .. } => {
            InputError(e.to_string()).into()
        }
        other => anyhow::Error::new(other),
    }
}

/// Everything the owner of a data directory holds.
pub struct Host {
    pub cfg: Config,
    pub store: Arc<SqliteStore>,
    pub ex: Arc<PaperExchange>,
    pub clock: Arc<ManualClock>,
    pub rt: Runtime,
    _lock: File,
}

impl Host {
    /// Open the store and the paper exchange (funding a new paper account with the configured
    /// balances), and a runtime (nothing loaded yet).
    pub async fn open(cfg: Config, lock: File) -> anyhow::Result<Host> {
        let store = Arc::new(
            SqliteStore::open(&cfg.data_dir)
                .await
                .map_err(store_error)?,
        );
        let paper = cfg.paper();
        let is_new = store
            .load_paper(&paper.account)
            .await
            .map_err(|e| anyhow::anyhow!("loading the paper account: {e}"))?
            .is_none();
        let ex = Arc::new(
            PaperExchange::open(paper, store.clone())
                .await
                .context("opening the paper exchange")?,
        );
        if is_new {
            // One persisted change: a kill can never leave the account half funded.
            let funds: Vec<(String, Decimal)> = cfg
                .balances
                .iter()
                .filter(|(_, amount)| *amount > Decimal::ZERO)
                .map(|(asset, amount)| (asset.clone(), *amount))
                .collect();
            ex.deposit_all(&funds)
                .await
                .context("funding the new paper account")?;
        }
        let clock = Arc::new(ManualClock::new(0));
        let rt = Runtime::new(store.clone(), ex.clone(), clock.clone(), &cfg.account);
        Ok(Host {
            cfg,
            store,
            ex,
            clock,
            rt,
            _lock: lock,
        })
    }

    /// The market time the feed resumes after (None on a fresh data directory).
    pub async fn resume_ms(&self) -> anyhow::Result<Option<i64>> {
        let stored = self.store.latest_time_ms().await?;
        let noted = self
            .store
            .meta(META_MARKET_MS)
            .await?
            .and_then(|s| s.parse::<i64>().ok());
        Ok(match (stored, noted) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        })
    }

    /// Tell processes waiting on the lock file that the store is open and recovered (they may
    /// queue commands now).
    pub fn mark_ready(&mut self) {
        let _ = writeln!(self._lock, "ready");
        let _ = self._lock.flush();
    }

    pub async fn note_market_ms(&self, t: i64) -> anyhow::Result<()> {
        self.store.set_meta(META_MARKET_MS, &t.to_string()).await?;
        Ok(())
    }

    /// Give the paper exchange and the runtime a tick's prices (no decisions).
    pub async fn observe(&mut self, tick: &PriceTick) -> anyhow::Result<()> {
        self.clock.set(tick.time_ms);
        self.ex
            .update_prices(tick)
            .await
            .context("paper exchange prices")?;
        self.rt.observe_prices(tick);
        Ok(())
    }
}

/// A market feed positioned in time.
pub struct Market {
    feed: Box<dyn PriceFeed>,
    /// Market ms per wall ms; None: unpaced.
    pub speed: Option<f64>,
}

fn synthetic(cfg: &Config) -> anyhow::Result<SyntheticMarket> {
    let m = &cfg.market;
    let mut sc = SyntheticConfig::new(m.assets.as_slice(), m.seed);
    sc.quote = cfg.quote.clone();
    sc.step_ms = m.step_ms;
    sc.start_ms = m.start_ms;
    sc.correlation = m.correlation;
    SyntheticMarket::new(sc).map_err(|e| InputError(format!("market: {e}")).into())
}

fn replay(cfg: &Config, start_ms: Option<i64>) -> anyhow::Result<ReplayFeed> {
    let m = &cfg.market;
    let path = m.replay_path.clone().ok_or_else(|| {
        InputError(
            "market.path is missing; allowed: a folder of <SYM>.csv / <SYM>USDT-<interval>.csv \
             files or one wide CSV (set market.path or $SMARTFOLIO_REPLAY_PATH)"
                .into(),
        )
    })?;
    let load = smartfolio_data::LoadOptions {
        assets: m.assets.clone(),
        interval: m.interval.clone(),
        from_ms: m.from_ms,
        to_ms: m.to_ms,
    };
    ReplayFeed::load(
        &path,
        &load,
        &cfg.quote,
        ReplayOptions {
            speed: None,
            start_ms,
        },
    )
    .map_err(|e| InputError(format!("market replay {}: {e}", path.display())).into())
}

/// The tick at `at` (the last one at or before it), else the feed's first tick: the prices of
/// "now" for a command run in-process.
pub fn current_tick(cfg: &Config, at: Option<i64>) -> anyhow::Result<Option<PriceTick>> {
    match cfg.market.kind {
        MarketKind::Synthetic => {
            let mut s = synthetic(cfg)?;
            let mut cur = s.step();
            if let Some(at) = at {
                // Ticks are start + k·step: jump there by stepping.
                while cur.time_ms + cfg.market.step_ms <= at {
                    cur = s.step();
                }
            }
            Ok(Some(cur))
        }
        MarketKind::Replay => {
            let mut r = replay(cfg, None)?;
            let mut cur = r.next_now();
            if let Some(at) = at {
                while let Some(next) = r.next_now() {
                    if next.time_ms > at {
                        break;
                    }
                    cur = Some(next);
                }
            }
            Ok(cur)
        }
    }
}

impl Market {
    /// The feed, positioned at its first tick after `after`.
    pub fn open(cfg: &Config, after: Option<i64>) -> anyhow::Result<Market> {
        let feed: Box<dyn PriceFeed> = match cfg.market.kind {
            MarketKind::Synthetic => {
                let mut s = synthetic(cfg)?;
                if let Some(after) = after {
                    // Skip every tick at or before `after`; the next `step` is the one after.
                    let mut t = cfg.market.start_ms;
                    if t <= after {
                        s.step();
                        while t + cfg.market.step_ms <= after {
                            s.step();
                            t += cfg.market.step_ms;
                        }
                    }
                }
                Box::new(s)
            }
            MarketKind::Replay => Box::new(replay(cfg, after.map(|a| a.saturating_add(1)))?),
        };
        Ok(Market {
            feed,
            speed: cfg.market.speed,
        })
    }

    pub async fn next(&mut self) -> Option<PriceTick> {
        self.feed.next_tick().await
    }
}

/// What a run did.
#[derive(Debug, Default, serde::Serialize)]
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
    fn add(&mut self, r: &TickReport) {
        self.bots = r.bots;
        self.deployed += r.deployed;
        self.rebalanced += r.rebalanced;
        self.suspended += r.suspended;
        self.resumed += r.resumed;
        self.stopped += r.stopped;
        self.snapshots += r.snapshots;
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut cfg = args.common.load()?;
    if let Some(m) = &args.market {
        cfg.market.kind = match m.trim() {
            "synthetic" => MarketKind::Synthetic,
            "replay" => MarketKind::Replay,
            other => {
                return Err(InputError(format!(
                    "invalid --market: `{other}`; allowed: synthetic, replay"
                ))
                .into());
            }
        };
    }
    if let Some(s) = &args.speed {
        cfg.market.speed = config::parse_speed("--speed", s)?;
    }
    let until_ms = match &args.until {
        Some(u) => Some(smartfolio_data::parse_time_ms(u.trim()).ok_or_else(|| {
            InputError(format!(
                "invalid --until: `{u}`; allowed: a date or time such as 2024-01-01, \
                 2024-01-21T07:00:00Z, or epoch seconds/milliseconds"
            ))
        })?),
        None => None,
    };
    if let Some(port) = args.http {
        if args.max_ticks.is_some() || until_ms.is_some() {
            return Err(InputError(
                "--http serves until interrupted; allowed: --http without --max-ticks and --until"
                    .into(),
            )
            .into());
        }
        return crate::demo::serve_daemon(cfg, port, &args.bind, args.new_token);
    }
    config::init_logging(cfg.log_format, "info");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let summary = rt.block_on(daemon(cfg, args.max_ticks, until_ms))?;
    let text = if args.json {
        serde_json::to_string_pretty(&summary)? + "\n"
    } else {
        format!(
            "ran {} ticks ({} → {}), {} bots: {} deployed, {} rebalances, {} suspended, {} resumed, \
             {} stopped, {} snapshots; {} commands; recovered {} orders; ended: {}\n",
            summary.ticks,
            summary
                .first_ms
                .map_or("-".into(), smartfolio_data::format_time_ms),
            summary
                .last_ms
                .map_or("-".into(), smartfolio_data::format_time_ms),
            summary.bots,
            summary.deployed,
            summary.rebalanced,
            summary.suspended,
            summary.resumed,
            summary.stopped,
            summary.snapshots,
            summary.commands,
            summary.recovered_orders,
            summary.ended
        )
    };
    print!("{text}");
    Ok(())
}

async fn acquire(data_dir: &Path) -> anyhow::Result<File> {
    // A `bot` command run in-process holds the lock briefly: wait for it.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(f) = try_lock(data_dir)? {
            return Ok(f);
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "the data directory {} is owned by {} (another `smartfolio run`?); \
                 only one process may trade it",
                data_dir.display(),
                lock_holder(data_dir)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn daemon(
    cfg: Config,
    max_ticks: Option<u64>,
    until_ms: Option<i64>,
) -> anyhow::Result<RunSummary> {
    let lock = acquire(&cfg.data_dir).await?;
    let mut host = Host::open(cfg, lock).await?;
    let mut summary = RunSummary::default();
    let interrupted = serde_json::to_string(&bot::Outcome::failed(
        1,
        "the daemon stopped while running this command; check the bot with `smartfolio bot show`"
            .into(),
    ))?;
    summary.interrupted_commands = host
        .store
        .interrupt_running_commands(&interrupted, wall_ms())
        .await?;
    let resume = host.resume_ms().await?;
    host.clock.set(resume.unwrap_or(host.cfg.market.start_ms));
    summary.recovered_orders = host.rt.recover().await.context("recovery")?;
    let mut market = Market::open(&host.cfg, resume)?;
    host.mark_ready();
    tracing::info!(
        data_dir = %host.cfg.data_dir.display(),
        config = ?host.cfg.source,
        resume_ms = resume,
        bots = host.rt.list().len(),
        recovered_orders = summary.recovered_orders,
        "daemon started"
    );
    let mut anchor: Option<(Instant, i64)> = None;
    let mut last_note = Instant::now();
    let mut ctrl_c = Box::pin(shutdown_signal());
    summary.ended = "feed ended".into();
    loop {
        if max_ticks.is_some_and(|m| summary.ticks >= m) {
            summary.ended = "max ticks".into();
            break;
        }
        let tick = tokio::select! {
            t = market.next() => t,
            _ = &mut ctrl_c => { summary.ended = "interrupted".into(); break; }
        };
        let Some(tick) = tick else { break };
        if until_ms.is_some_and(|u| tick.time_ms > u) {
            summary.ended = "until".into();
            break;
        }
        if let Some(speed) = market.speed {
            let (w0, m0) = *anchor.get_or_insert((Instant::now(), tick.time_ms));
            let wait = (tick.time_ms - m0) as f64 / speed / 1000.0;
            if let Some(at) = Duration::try_from_secs_f64(wait)
                .ok()
                .and_then(|d| w0.checked_add(d))
            {
                // Wait for the tick's wall time, executing queued commands meanwhile (a slow
                // market must not delay them).
                let mut stop = false;
                while Instant::now() < at {
                    let chunk = at.min(Instant::now() + Duration::from_millis(100));
                    tokio::select! {
                        _ = tokio::time::sleep_until(chunk.into()) => {}
                        _ = &mut ctrl_c => { stop = true; break; }
                    }
                    if summary.ticks > 0 {
                        summary.commands += run_queued(&mut host).await?;
                    }
                }
                if stop {
                    summary.ended = "interrupted".into();
                    break;
                }
            }
        }
        host.clock.set(tick.time_ms);
        host.ex
            .update_prices(&tick)
            .await
            .context("paper exchange prices")?;
        let report = host.rt.on_tick(&tick).await.context("tick")?;
        summary.add(&report);
        summary.ticks += 1;
        summary.first_ms.get_or_insert(tick.time_ms);
        summary.last_ms = Some(tick.time_ms);
        summary.commands += run_queued(&mut host).await?;
        if last_note.elapsed() >= Duration::from_secs(1) {
            host.note_market_ms(tick.time_ms).await?;
            last_note = Instant::now();
        }
    }
    if let Some(t) = summary.last_ms {
        host.note_market_ms(t).await?;
    }
    summary.bots = host.rt.list().len();
    tracing::info!(ticks = summary.ticks, ended = %summary.ended, "daemon stopped");
    Ok(summary)
}

/// SIGINT (Ctrl-C) or SIGTERM: stop after the current tick.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Execute every queued command (the daemon owns the exchange). Returns how many ran.
async fn run_queued(host: &mut Host) -> anyhow::Result<u64> {
    let mut n = 0;
    while let Some(cmd) = host.store.claim_command().await? {
        n += 1;
        let outcome = match serde_json::from_str::<bot::Request>(&cmd.command) {
            Ok(req) => {
                tracing::info!(command = cmd.id, request = %cmd.command, "executing command");
                bot::execute(&mut host.rt, &req, true).await
            }
            Err(e) => bot::Outcome::failed(2, format!("unreadable command #{}: {e}", cmd.id)),
        };
        let status = if outcome.ok { "done" } else { "failed" };
        host.store
            .finish_command(cmd.id, status, &serde_json::to_string(&outcome)?, wall_ms())
            .await?;
    }
    Ok(n)
}

/// The wall clock (command bookkeeping only; bots run on market time).
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
