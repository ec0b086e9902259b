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
use smartfolio_bot::BotConfig;
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
    let ip = serve::parse_bind(&args.bind)?;
    let mut cfg = config::load(None)?;
    cfg.data_dir = args.data_dir.clone();
    cfg.market.kind = MarketKind::Synthetic;
    cfg.market.seed = args.seed;
    cfg.market.assets = DEMO_ASSETS.iter().map(|s| s.to_string()).collect();
    cfg.market.step_ms = STEP_MS;
    cfg.market.speed = Some(args.speed * STEP_MS as f64 / 1000.0);
    config::init_logging(cfg.log_format, "warn");
    let mut sample = BotConfig::new("sample", "BTC=50,ETH=30,SOL=20", "threshold:5", {
        Decimal::from(10_000)
    })?;
    sample.quote = cfg.quote.clone();
    sample.account = cfg.account.clone();
    sample.fee_rate = cfg.fee_rate;
    sample.snapshot_interval_ms = cfg.snapshot_interval_ms.max(STEP_MS);
    let opts = ServeOptions {
        ip,
        port: args.port,
        new_token: args.new_token,
        demo: Some(DemoSetup {
            warmup_ticks: WARMUP_TICKS,
            sample,
        }),
    };
    serve::serve(common::node_config(&cfg), opts, args.max_seconds)
}
