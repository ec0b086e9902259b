//! `smartfolio run`: the daemon that runs every bot, and the single owner of a data directory.
//! It parses its flags, then the node does the work: it takes the data directory's lease,
//! opens and recovers it, and drives every bot from the market feed, executing the commands
//! `smartfolio bot ...` queues meanwhile (`smartfolio_node::driver`). `--http` serves the
//! dashboard and API beside the same loop (`smartfolio_server::serve`).
//!
//! Against a PostgreSQL store (`store = "postgres://…"`), `run` is a worker
//! (`smartfolio_node::worker`): named by `--worker` / `SMARTFOLIO_WORKER` (default host-pid), it
//! trades the configured venue account's bots while it holds that account's lease, renewed
//! every `--lease-ttl` / 3, and waits in standby otherwise.

use crate::InputError;
use crate::common::{self, CommonArgs};
use crate::config::{self, Config, MarketKind};
use crate::serve;
use smartfolio_node::driver::{self, DriveOptions, RunSummary};
use smartfolio_node::{Host, Lease, worker};
use smartfolio_server::ServeOptions;
use std::time::Duration;

/// How long `run` waits for a `bot` command that holds the lock for a moment.
const TAKE_WAIT: Duration = Duration::from_secs(15);

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  smartfolio run                          # the configured market, paced\n  smartfolio run --speed max --max-ticks 1000\n  smartfolio run --market replay --speed 3600 --until 2024-06-01"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Market feed: synthetic, replay or live (default: the config's market.kind).
    #[arg(long, value_name = "KIND")]
    pub market: Option<String>,
    /// Market ms per wall ms (3600: one hour per second), or `max` for as fast as possible.
    #[arg(long, value_name = "X|max")]
    pub speed: Option<String>,
    /// Stop after this many ticks.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub max_ticks: Option<u64>,
    /// Stop before the first tick later than this market time (date, RFC3339 or epoch ms).
    #[arg(long, value_name = "TIME", alias = "until-ms")]
    pub until: Option<String>,
    /// Print the run's summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also serve the dashboard and HTTP API on this port (runs until interrupted; the
    /// token is printed on the first start).
    #[arg(long, value_name = "PORT", allow_negative_numbers = true)]
    pub http: Option<u16>,
    /// Address for --http: 127.0.0.1, or explicitly another one such as 0.0.0.0 (a warning).
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub bind: String,
    /// With --http: generate a new API token (the old one stops working).
    #[arg(long)]
    pub new_token: bool,
    /// With a PostgreSQL store: this worker's name (default: SMARTFOLIO_WORKER, else host-pid).
    #[arg(long, value_name = "NAME")]
    pub worker: Option<String>,
    /// With a PostgreSQL store: seconds a lease lasts without a heartbeat (default 15; the
    /// heartbeat renews it every third of that).
    #[arg(long, value_name = "SECONDS")]
    pub lease_ttl: Option<f64>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut cfg = args.common.load()?;
    if let Some(m) = &args.market {
        cfg.market.kind = match m.trim() {
            "synthetic" => MarketKind::Synthetic,
            "replay" => MarketKind::Replay,
            "live" => MarketKind::Live,
            other => {
                return Err(InputError(format!(
                    "invalid --market: `{other}`; allowed: synthetic, replay, live"
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
    if !cfg.accounts.is_empty() {
        refuse_accounts_with(&cfg)?;
    }
    if let Some(port) = args.http {
        if args.max_ticks.is_some() || until_ms.is_some() {
            return Err(InputError(
                "--http serves until interrupted; allowed: --http without --max-ticks and --until"
                    .into(),
            )
            .into());
        }
        let opts = ServeOptions {
            ip: serve::parse_bind(&args.bind)?,
            port,
            new_token: args.new_token,
            demo: None,
        };
        config::init_logging(cfg.log_format, "info");
        let serving = if cfg.accounts.is_empty() {
            serve::Serving::Run
        } else {
            serve::Serving::Accounts
        };
        return serve::serve(common::node_config(&cfg), opts, None, serving);
    }
    config::init_logging(cfg.log_format, "info");
    let opts = DriveOptions {
        max_ticks: args.max_ticks,
        until_ms,
        ..DriveOptions::default()
    };
    if cfg
        .store
        .as_deref()
        .is_some_and(smartfolio_store::is_postgres_url)
    {
        let w = worker_options(&args, opts)?;
        let summary = common::tokio_runtime(false)?.block_on(worker(&cfg, w))?;
        let text = if args.json {
            serde_json::to_string_pretty(&summary)? + "\n"
        } else {
            format!(
                "worker {}: ran {} ticks, took the lease {} times, dropped the bots {} times, \
                 recovered {} orders, {} commands; ended: {}\n",
                summary.name,
                summary.ticks,
                summary.takeovers,
                summary.dropped,
                summary.recovered_orders,
                summary.commands,
                summary.ended
            )
        };
        print!("{text}");
        return Ok(());
    }
    if !cfg.accounts.is_empty() {
        let summary = common::tokio_runtime(false)?.block_on(accounts_daemon(&cfg, opts))?;
        let text = if args.json {
            serde_json::to_string_pretty(&summary)? + "\n"
        } else {
            let mut t = String::new();
            for (name, s) in &summary.accounts {
                t += &format!(
                    "account {name}: ran {} ticks, {} bots: {} deployed, {} rebalances, {} \
                     suspended, {} resumed, {} stopped; recovered {} orders; ended: {}\n",
                    s.ticks,
                    s.bots,
                    s.deployed,
                    s.rebalanced,
                    s.suspended,
                    s.resumed,
                    s.stopped,
                    s.recovered_orders,
                    s.ended
                );
            }
            t + &format!("{} commands\n", summary.commands)
        };
        print!("{text}");
        return Ok(());
    }
    let summary = common::tokio_runtime(false)?.block_on(daemon(&cfg, opts))?;
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

/// Own the data directory, recover it and drive the bots until the feed ends, a limit is
/// reached, or SIGINT/SIGTERM (then after the current tick).
async fn daemon(cfg: &Config, opts: DriveOptions) -> anyhow::Result<RunSummary> {
    let lease = Lease::take(&cfg.data_dir, TAKE_WAIT).await?;
    let (mut host, mut bots) = Host::open(common::node_config(cfg), lease).await?;
    let started = host.start(&mut bots).await?;
    host.mark_ready();
    tracing::info!(
        data_dir = %host.cfg.data_dir.display(),
        config = ?cfg.source,
        venue = %cfg.venue.kind,
        market = cfg.market.kind.name(),
        trading = host.cfg.trading_mode().name(),
        execution = ?cfg.execution,
        resume_ms = started.resume_ms,
        bots = bots.rt.list().len(),
        recovered_orders = started.recovered_orders,
        interrupted_commands = started.interrupted_commands,
        held_bots = started.held.len(),
        "daemon started"
    );
    let mut summary = driver::drive(
        &mut bots,
        Some(&host),
        Some(started.market),
        None,
        common::interrupted(),
        opts,
    )
    .await?;
    summary.recovered_orders = started.recovered_orders;
    summary.interrupted_commands = started.interrupted_commands;
    tracing::info!(ticks = summary.ticks, ended = %summary.ended, "daemon stopped");
    Ok(summary)
}

/// `[accounts.NAME]` are run by `run` on SQLite (with `--http` too): a PostgreSQL store is
/// refused, saying what is allowed.
fn refuse_accounts_with(cfg: &Config) -> Result<(), InputError> {
    let names: Vec<&str> = cfg.accounts.iter().map(|a| a.name.as_str()).collect();
    let names = names.join(", ");
    if cfg
        .store
        .as_deref()
        .is_some_and(smartfolio_store::is_postgres_url)
    {
        return Err(InputError(format!(
            "invalid store with [accounts] ({names}): a PostgreSQL store runs workers, one \
             account each; allowed: one worker per account (a config each, its `account` and \
             [venue]), or SQLite for one daemon of several accounts"
        )));
    }
    Ok(())
}

/// Several accounts: the data directory's lock, then a host per account and the router of
/// queued commands (`smartfolio_node::accounts`).
async fn accounts_daemon(
    cfg: &Config,
    opts: DriveOptions,
) -> anyhow::Result<smartfolio_node::accounts::DaemonSummary> {
    let lease = Lease::take(&cfg.data_dir, TAKE_WAIT).await?;
    let node = common::node_config(cfg);
    tracing::info!(
        data_dir = %node.data_dir.display(),
        config = ?cfg.source,
        accounts = ?node.account_venues(),
        "daemon starting"
    );
    let summary = smartfolio_node::accounts::run(
        node,
        lease,
        smartfolio_node::accounts::DaemonOptions::new(
            opts,
            smartfolio_exchange::feed::system_wall_clock(),
        ),
        common::interrupted(),
    )
    .await?;
    tracing::info!(commands = summary.commands, "daemon stopped");
    Ok(summary)
}

/// The worker's name, lease TTL and heartbeat from the flags and the environment.
fn worker_options(args: &Args, drive: DriveOptions) -> anyhow::Result<worker::WorkerOptions> {
    let name = match args
        .worker
        .clone()
        .or_else(|| std::env::var("SMARTFOLIO_WORKER").ok())
    {
        Some(n) if n.trim().is_empty() || n.chars().any(char::is_control) => {
            return Err(InputError(format!(
                "invalid worker: `{n}`; allowed: a non-empty name without control characters \
                 (--worker, SMARTFOLIO_WORKER)"
            ))
            .into());
        }
        Some(n) => n.trim().to_string(),
        None => worker::default_name(),
    };
    let ttl = match args.lease_ttl {
        None => worker::DEFAULT_TTL,
        Some(t) if t.is_finite() && (0.3..=3600.0).contains(&t) => Duration::from_secs_f64(t),
        Some(t) => {
            return Err(InputError(format!(
                "invalid --lease-ttl: `{t}`; allowed: seconds from 0.3 to 3600"
            ))
            .into());
        }
    };
    let wall = smartfolio_exchange::feed::system_wall_clock();
    Ok(worker::WorkerOptions {
        name,
        ttl,
        beats: worker::Beats::Every(ttl / 3),
        clock: wall.clone(),
        wall,
        drive,
    })
}

/// A worker: the data directory's lock (its own files), the PostgreSQL store, then leases.
async fn worker(
    cfg: &Config,
    opts: worker::WorkerOptions,
) -> anyhow::Result<worker::WorkerSummary> {
    let mut lock = Lease::take(&cfg.data_dir, TAKE_WAIT).await?;
    let node = common::node_config(cfg);
    let store = smartfolio_store::open_store(node.store.as_deref(), &node.data_dir).await?;
    lock.mark_ready();
    let (state, _watch) = tokio::sync::watch::channel(worker::WorkerState::Starting);
    let summary = worker::run(node, store.clone(), opts, common::interrupted(), state).await;
    store.close().await;
    Ok(summary?)
}
