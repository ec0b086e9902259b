//! `smartfolio run`: the daemon that runs every bot, and the single owner of a data directory.
//! It parses its flags, then the node does the work: it takes the data directory's lease,
//! opens and recovers it, and drives every bot from the market feed, executing the commands
//! `smartfolio bot ...` queues meanwhile (`smartfolio_node::driver`). `--http` serves the
//! dashboard and API beside the same loop (`smartfolio_server::serve`).

use crate::InputError;
use crate::common::{self, CommonArgs};
use crate::config::{self, Config, MarketKind};
use crate::serve;
use smartfolio_node::driver::{self, DriveOptions, RunSummary};
use smartfolio_node::{Host, Lease};
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
        return serve::serve(common::node_config(&cfg), opts, None);
    }
    config::init_logging(cfg.log_format, "info");
    let opts = DriveOptions {
        max_ticks: args.max_ticks,
        until_ms,
        priced: false,
    };
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
