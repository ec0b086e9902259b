//! `smartfolio demo`: the dashboard and API over the paper exchange on a synthetic market, with
//! the embedded SQLite store in the data directory. No setup: a sample bot (BTC 50 / ETH 30 /
//! SOL 20, threshold 5 pp) is created when there is none, and the market runs fast enough (one
//! synthetic hour per tick, many ticks a second) that rebalances show within a minute.
//!
//! The demo owns the data directory like `smartfolio run` (the same lease, startup and driver
//! loop, in `smartfolio_node`); `smartfolio bot ...` commands queued meanwhile are executed by
//! it. This module only parses the flags and builds the demo's settings and sample bot.

use crate::InputError;
use crate::common;
use crate::config::{self, MarketKind};
use crate::serve;
use rust_decimal::Decimal;
use smartfolio_node::CreateSpec;
use smartfolio_server::{DemoSetup, ServeOptions};
use std::path::PathBuf;

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
    #[arg(long, default_value_t = 8080, allow_negative_numbers = true)]
    pub port: u16,
    /// Address to bind: 127.0.0.1 (default) or, explicitly, another one such as 0.0.0.0.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub bind: String,
    /// The data directory (SQLite store, paper account, API token hash).
    #[arg(long, value_name = "DIR", default_value = "./smartfolio-demo")]
    pub data_dir: PathBuf,
    /// Seed of the synthetic market (the same seed gives the same prices).
    #[arg(long, default_value_t = 42, allow_negative_numbers = true)]
    pub seed: u64,
    /// Synthetic market hours per wall-clock second (more than 0, at most 1000000).
    #[arg(long, default_value = "48", allow_negative_numbers = true)]
    pub speed: String,
    /// Stop after this many seconds (bounded runs, tests; at most 30 days).
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    pub max_seconds: Option<String>,
    /// Generate a new API token (the old one stops working).
    #[arg(long)]
    pub new_token: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let speed = match args.speed.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= 1e6 => x,
        _ => {
            return Err(InputError(format!(
                "invalid --speed: \"{}\"; allowed: synthetic hours per second, > 0 and ≤ 1000000",
                args.speed
            ))
            .into());
        }
    };
    let max_seconds = args
        .max_seconds
        .as_deref()
        .map(|s| config::parse_seconds("--max-seconds", s))
        .transpose()?
        .map(|d| d.as_secs_f64());
    let ip = serve::parse_bind(&args.bind)?;
    let mut cfg = config::load(None)?;
    cfg.data_dir = args.data_dir.clone();
    cfg.market.kind = MarketKind::Synthetic;
    // The demo needs no network: the paper venue whatever the configuration says.
    cfg.venue = config::VenueConfig::paper();
    // One paper account: the config's `[accounts]` (real venues) are not the demo's.
    cfg.accounts.clear();
    cfg.market.seed = args.seed;
    cfg.market.assets = DEMO_ASSETS.iter().map(|s| s.to_string()).collect();
    cfg.market.step_ms = STEP_MS;
    cfg.market.speed = Some(speed * STEP_MS as f64 / 1000.0);
    config::init_logging(cfg.log_format, "warn");
    cfg.snapshot_interval_ms = cfg.snapshot_interval_ms.max(STEP_MS);
    let sample = CreateSpec {
        name: "sample".into(),
        targets: "BTC=50,ETH=30,SOL=20".into(),
        trigger: Some("threshold:5".into()),
        investment: Some(Decimal::from(10_000)),
        ..CreateSpec::default()
    };
    let opts = ServeOptions {
        ip,
        port: args.port,
        new_token: args.new_token,
        demo: Some(DemoSetup {
            warmup_ticks: WARMUP_TICKS,
            sample,
        }),
    };
    serve::serve(
        common::node_config(&cfg),
        opts,
        max_seconds,
        serve::Serving::Run,
    )
}
