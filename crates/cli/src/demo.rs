//! `smartfolio demo`: the dashboard and API over the paper exchange on a synthetic market, with
//! the embedded SQLite store in the data directory. No setup: a sample bot (BTC 50 / ETH 30 /
//! SOL 20, threshold 5 pp) is created when there is none, and the market runs fast enough (one
//! synthetic hour per tick, many ticks a second) that rebalances show within a minute.
//!
//! The demo owns the data directory like `smartfolio run` (the same lock); `smartfolio bot ...`
//! commands queued meanwhile are executed by it.

use crate::InputError;
use crate::bot;
use crate::config::{self, MarketKind};
use crate::run::{self, Host, Market};
use anyhow::Context;
use rust_decimal::Decimal;
use smartfolio_bot::{BotConfig, Runtime};
use smartfolio_exchange::{PriceFeed, PriceTick};
use smartfolio_server::{AppState, Core, MarketFeed, TokenCheck};
use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Assets of the demo market.
pub const DEMO_ASSETS: [&str; 6] = ["BTC", "ETH", "SOL", "BNB", "XRP", "ADA"];
/// Market time between ticks.
const STEP_MS: i64 = 3_600_000;
/// Ticks observed before the first bot on a fresh data directory (30 days of history for the
/// allocation and backtest previews).
const WARMUP_TICKS: usize = 720;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  smartfolio demo                      # http://127.0.0.1:8080/\n  smartfolio demo --port 0 --max-seconds 60 --data-dir /tmp/demo\n  smartfolio demo --bind 0.0.0.0       # reachable from other machines (a warning is logged)"
)]
pub struct Args {
    /// TCP port (0: any free port; the URL printed says which).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to bind: 127.0.0.1 (default) or, explicitly, another one such as 0.0.0.0.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub bind: String,
    /// The data directory (SQLite store, paper account, API token hash).
    #[arg(long, value_name = "DIR", default_value = "./smartfolio-demo")]
    pub data_dir: PathBuf,
    /// Seed of the synthetic market (the same seed gives the same prices).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Synthetic market hours per wall-clock second.
    #[arg(long, default_value_t = 48.0)]
    pub speed: f64,
    /// Stop after this many seconds (bounded runs, tests).
    #[arg(long, value_name = "S")]
    pub max_seconds: Option<f64>,
    /// Generate a new API token (the old one stops working).
    #[arg(long)]
    pub new_token: bool,
}

/// The cli's market as a feed the server's actor drives.
struct DemoFeed {
    market: Market,
    assets: Vec<String>,
    quote: String,
}

#[async_trait::async_trait]
impl PriceFeed for DemoFeed {
    fn assets(&self) -> &[String] {
        &self.assets
    }
    fn quote(&self) -> &str {
        &self.quote
    }
    async fn next_tick(&mut self) -> Option<PriceTick> {
        self.market.next().await
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !(args.speed.is_finite() && args.speed > 0.0 && args.speed <= 1e6) {
        return Err(InputError(format!(
            "invalid --speed: `{}`; allowed: synthetic hours per second, > 0 and ≤ 1000000",
            args.speed
        ))
        .into());
    }
    if let Some(s) = args.max_seconds
        && !(s.is_finite() && s > 0.0)
    {
        return Err(InputError(format!(
            "invalid --max-seconds: `{s}`; allowed: a number of seconds > 0"
        ))
        .into());
    }
    let ip = parse_bind(&args.bind)?;
    let mut cfg = config::load(None)?;
    cfg.data_dir = args.data_dir.clone();
    cfg.market.kind = MarketKind::Synthetic;
    cfg.market.seed = args.seed;
    cfg.market.assets = DEMO_ASSETS.iter().map(|s| s.to_string()).collect();
    cfg.market.step_ms = STEP_MS;
    cfg.market.speed = Some(args.speed * STEP_MS as f64 / 1000.0);
    config::init_logging(cfg.log_format, "warn");
    let opts = ServeOptions {
        ip,
        port: args.port,
        new_token: args.new_token,
        max_seconds: args.max_seconds,
        demo: true,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(serve(cfg, opts))
}

/// How [`serve`] runs.
pub struct ServeOptions {
    pub ip: IpAddr,
    pub port: u16,
    pub new_token: bool,
    pub max_seconds: Option<f64>,
    /// The demo: market pre-history on a fresh data directory and the sample bot.
    pub demo: bool,
}

/// Parse `--bind`.
pub fn parse_bind(text: &str) -> Result<IpAddr, InputError> {
    text.trim().parse().map_err(|_| {
        InputError(format!(
            "invalid --bind: `{text}`; allowed: an IP address such as 127.0.0.1 or 0.0.0.0"
        ))
    })
}

/// `smartfolio run --http PORT`: the daemon with the dashboard and API (the market paced as
/// configured, bots driven by the server's runtime task; runs until interrupted).
pub fn serve_daemon(
    cfg: config::Config,
    port: u16,
    bind: &str,
    new_token: bool,
) -> anyhow::Result<()> {
    let ip = parse_bind(bind)?;
    config::init_logging(cfg.log_format, "info");
    let opts = ServeOptions {
        ip,
        port,
        new_token,
        max_seconds: None,
        demo: false,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(serve(cfg, opts))
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Own the data directory, run the bots on the market from the server's runtime task and serve
/// HTTP until interrupted (or `max_seconds`).
pub async fn serve(cfg: config::Config, opts: ServeOptions) -> anyhow::Result<()> {
    let ip = opts.ip;
    let lock = run::try_lock(&cfg.data_dir)?.ok_or_else(|| {
        anyhow::anyhow!(
            "the data directory {} is owned by {} (a running `smartfolio run` or demo); \
             use another --data-dir",
            cfg.data_dir.display(),
            run::lock_holder(&cfg.data_dir)
        )
    })?;
    let mut host = Host::open(cfg, lock).await?;
    let resume = host.resume_ms().await?;
    host.clock.set(resume.unwrap_or(host.cfg.market.start_ms));
    let mut rt = Runtime::new(
        host.store.clone(),
        host.ex.clone(),
        host.clock.clone(),
        &host.cfg.account,
    );
    rt.recover().await.context("recovery")?;
    let mut core = Core::new(rt, host.ex.clone(), host.clock.clone());
    let mut market = Market::open(&host.cfg, resume)?;
    match resume {
        // The history the previews use: the same seed regenerated up to where we resume.
        Some(after) => {
            let mut past = Market::open(&host.cfg, None)?;
            past.speed = None;
            while let Some(t) = past.next().await {
                if t.time_ms > after {
                    break;
                }
                core.history.push(&t);
            }
            if let Some(t) = past_last(&core) {
                core.observe(&t).await?;
            }
        }
        None if opts.demo => {
            for _ in 0..WARMUP_TICKS {
                let Some(t) = market.next().await else { break };
                core.observe(&t).await?;
            }
            if let Some(t) = &core.last_tick {
                host.note_market_ms(t.time_ms).await?;
            }
        }
        None => {}
    }
    if opts.demo && core.rt.list().is_empty() {
        let mut sample = BotConfig::new("sample", "BTC=50,ETH=30,SOL=20", "threshold:5", {
            Decimal::from(10_000)
        })?;
        sample.quote = host.cfg.quote.clone();
        sample.account = host.cfg.account.clone();
        sample.fee_rate = host.cfg.fee_rate;
        sample.snapshot_interval_ms = host.cfg.snapshot_interval_ms.max(STEP_MS);
        let id = core
            .rt
            .create(sample)
            .await
            .context("creating the sample bot")?;
        core.rt
            .deploy(id)
            .await
            .context("deploying the sample bot")?;
    }
    host.mark_ready();
    let feed = DemoFeed {
        assets: host.cfg.market.assets.clone(),
        quote: host.cfg.quote.clone(),
        market,
    };
    let (handle, task) = smartfolio_server::spawn(
        core,
        Some(MarketFeed {
            feed: Box::new(feed),
            speed: host.cfg.market.speed,
        }),
    );
    let (token_check, new_token) =
        TokenCheck::load_or_create(&host.cfg.data_dir, opts.new_token)
            .with_context(|| format!("the API token in {}", host.cfg.data_dir.display()))?;
    if !ip.is_loopback() {
        tracing::warn!(
            "binding {ip}: the dashboard and API are reachable from other machines; reads are \
             open, writes need the bearer token"
        );
        eprintln!("warning: binding {ip}: the dashboard and API are reachable from other machines");
    }
    let listener = tokio::net::TcpListener::bind((ip, opts.port))
        .await
        .with_context(|| format!("cannot listen on {ip}:{}", opts.port))?;
    let addr = listener.local_addr()?;
    let host_part = if ip.is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let url = format!("http://{host_part}:{}/", addr.port());
    {
        let mut out = std::io::stdout().lock();
        let what = if opts.demo {
            "smartfolio demo"
        } else {
            "smartfolio run"
        };
        writeln!(out, "{what}: {url}")?;
        writeln!(
            out,
            "data directory: {} (SQLite store, paper account)",
            host.cfg.data_dir.display()
        )?;
        match &new_token {
            Some(t) => {
                writeln!(
                    out,
                    "API token (shown once; stored hashed in {}): {t}",
                    smartfolio_server::auth::token_path(&host.cfg.data_dir).display()
                )?;
                writeln!(out, "sign in the dashboard: {url}#token={t}")?;
            }
            None => writeln!(
                out,
                "API token: the one printed on the first start (`--new-token` makes a new one)"
            )?,
        }
        out.flush()?;
    }
    let state = AppState {
        handle: handle.clone(),
        token: Arc::new(token_check),
        mode: Arc::from(if opts.demo { "demo" } else { "daemon" }),
    };
    let app = smartfolio_server::router(state);
    let store = host.store.clone();
    let housekeeping = {
        let handle = handle.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let store = store.clone();
                let r = handle
                    .call(move |c| Box::pin(async move { housekeeping(c, &store).await }))
                    .await;
                if r.is_err() {
                    break;
                }
            }
        })
    };
    drop(handle);
    let max = opts.max_seconds;
    let shutdown = async move {
        match max {
            Some(s) => {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs_f64(s)) => {}
                    _ = interrupted() => {}
                }
            }
            None => interrupted().await,
        }
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")?;
    housekeeping.abort();
    let _ = housekeeping.await;
    let core = task.await.context("the runtime task")?;
    if let Some(t) = &core.last_tick {
        host.note_market_ms(t.time_ms).await?;
    }
    println!(
        "{} stopped: {} ticks, {} bots",
        if opts.demo { "demo" } else { "daemon" },
        core.ticks,
        core.rt.list().len()
    );
    Ok(())
}

fn past_last(core: &Core) -> Option<PriceTick> {
    let t = *core.history.times_ms.back()?;
    let row = core.history.rows.back()?;
    let prices = core
        .history
        .assets
        .iter()
        .zip(row)
        .map(|(a, p)| {
            (
                a.clone(),
                Decimal::from_f64_retain(*p).unwrap_or_default().normalize(),
            )
        })
        .collect();
    Some(PriceTick { time_ms: t, prices })
}

/// Note the market time (so a restart resumes after it) and run the `smartfolio bot` commands
/// queued in the store.
async fn housekeeping(c: &mut Core, store: &smartfolio_store::SqliteStore) {
    if let Some(t) = &c.last_tick
        && let Err(e) = store.set_meta("market_ms", &t.time_ms.to_string()).await
    {
        tracing::warn!("noting the market time: {e}");
    }
    loop {
        let cmd = match store.claim_command().await {
            Ok(Some(cmd)) => cmd,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!("reading queued commands: {e}");
                break;
            }
        };
        let outcome = match serde_json::from_str::<bot::Request>(&cmd.command) {
            Ok(req) => bot::execute(&mut c.rt, &req, true).await,
            Err(e) => bot::Outcome::failed(2, format!("unreadable command #{}: {e}", cmd.id)),
        };
        let status = if outcome.ok { "done" } else { "failed" };
        let text = serde_json::to_string(&outcome).unwrap_or_else(|_| "{}".into());
        if let Err(e) = store
            .finish_command(cmd.id, status, &text, run::wall_ms())
            .await
        {
            tracing::warn!("finishing command #{}: {e}", cmd.id);
        }
    }
}
