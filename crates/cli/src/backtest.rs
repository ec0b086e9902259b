//! `smartfolio backtest` and `smartfolio sweep`: run rebalancing triggers over price history
//! (SPEC §4) and report the metrics against buy-and-hold.

use crate::InputError;
use anyhow::Context;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use smartfolio_backtest::engine::{self, Config, FeeModel, Outcome, Prices, Record};
use smartfolio_backtest::metrics::{Metrics, Summary};
use smartfolio_backtest::sweep::{self, SweepRow};
use smartfolio_core::{Targets, Trigger, limits};
use smartfolio_data::{LoadOptions, PriceTable, format_time_ms, parse_time_ms};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

mod walk;

/// Set to print a timing breakdown (load, engine, benchmark, output) on stderr.
const TIMING_ENV: &str = "SMARTFOLIO_TIMING";

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Price history: a folder of `<SYM>.csv` / `<SYM>USDT-<interval>.csv` files, or one wide
    /// CSV `timestamp,ASSET1,ASSET2,...`. Assets are aligned on common timestamps.
    #[arg(long, value_name = "PATH")]
    data: PathBuf,
    /// Assets, comma-separated (e.g. BTC,ETH,SOL). Alone: equal weights. With `--targets
    /// 50,30,20`: the assets those percents belong to.
    #[arg(long, value_name = "A,B,C")]
    assets: Option<String>,
    /// Target weights in percent: `BTC=50,ETH=30,SOL=20`, or `50,30,20` with `--assets`.
    #[arg(long, value_name = "TARGETS")]
    targets: Option<String>,
    /// Take the targets from `smartfolio allocate --json` output.
    #[arg(long, value_name = "FILE", conflicts_with = "targets")]
    targets_from: Option<PathBuf>,
    /// First bar to use (inclusive): a date `2021-01-01`, an RFC 3339 time, or epoch s/ms.
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Last bar to use (inclusive). A plain date means the end of that day (UTC).
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Candle interval for folders of `<SYM>USDT-<interval>.csv` files (1h, 4h, 1d); default:
    /// the finest one every asset has.
    #[arg(long, value_name = "INTERVAL")]
    interval: Option<String>,
    /// Starting cash, in quote: more than 0 and at most 1e15, a plain decimal.
    #[arg(
        long,
        default_value = "10000",
        value_name = "AMOUNT",
        allow_negative_numbers = true
    )]
    capital: String,
    /// Fee as a fraction of traded notional (0.001 = 0.1 %).
    #[arg(
        long,
        default_value_t = 0.001,
        value_name = "RATE",
        allow_negative_numbers = true
    )]
    fee_rate: f64,
    /// How fees interact with the target: exact (SPEC §3), bt (bt's native Rebalance) or vbt
    /// (vectorbt's native targetpercent).
    #[arg(long, default_value = "exact", value_name = "MODEL")]
    fee_model: String,
    /// Slippage in basis points: buys fill at close × (1 + s), sells at close × (1 − s).
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "BPS",
        allow_negative_numbers = true
    )]
    slippage_bps: f64,
    /// Skip (and count) legs whose notional is below this, in quote (0 to 1e15).
    #[arg(
        long,
        default_value = "0",
        value_name = "NOTIONAL",
        allow_negative_numbers = true
    )]
    min_trade: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Write charts, an HTML page and CSV files into this folder.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct BacktestArgs {
    #[command(flatten)]
    run: RunArgs,
    /// When to rebalance: threshold:PP, rel-threshold:PCT, every:K (bars) or every:4h/1d/7d,
    /// daily@HH:MM, weekly@mon/HH:MM, cron:LINE, SCHEDULE+threshold:PP (gated), RULE|RULE (any-of).
    #[arg(long, default_value = "threshold:5", value_name = "RULE")]
    trigger: String,
    #[command(flatten)]
    walk: WalkArgs,
}

/// Walk-forward allocation (`--allocation`): the targets are recomputed from trailing history
/// only and the basket is rebalanced to them; reported beside equal weight and buy-and-hold.
#[derive(clap::Args, Debug, Default)]
pub struct WalkArgs {
    /// Walk-forward: recompute the targets with this `smartfolio allocate` method (equal,
    /// market-cap, sqrt-market-cap, inverse-vol, min-variance, max-sharpe, risk-parity, hrp) at
    /// the first bar with a full --lookback window and on every --reallocate date, from the
    /// window ENDING AT that bar (its close; nothing later), and rebalance to them at that close.
    /// History before --from feeds the first window; if there is not enough, the start is
    /// deferred to the first bar with a full window. Between reallocations --trigger keeps the
    /// basket on the current targets.
    #[arg(long, value_name = "METHOD")]
    allocation: Option<String>,
    /// When to recompute the targets (with --allocation): a schedule such as every:90d,
    /// every:K (bars, counted from the first reallocation), daily@HH:MM, weekly@mon/HH:MM,
    /// cron:LINE. Default every:90d.
    #[arg(long, value_name = "RULE")]
    reallocate: Option<String>,
    /// Trailing window of each reallocation (with --allocation): a duration (365d, 12w, 720h)
    /// or a number of bars (90 = 90 returns). Default 365d.
    #[arg(long, value_name = "DURATION|BARS")]
    lookback: Option<String>,
    /// Covariance estimator for min-variance, max-sharpe and risk-parity (with --allocation):
    /// sample or ledoit-wolf.
    #[arg(long, value_name = "ESTIMATOR")]
    cov: Option<String>,
    /// Annualised risk-free rate for max-sharpe (with --allocation): 0.04 or 4%.
    #[arg(long, value_name = "RATE", allow_hyphen_values = true)]
    risk_free: Option<String>,
    /// Lowest weight per asset in percent (with --allocation).
    #[arg(long, value_name = "PERCENT", allow_hyphen_values = true)]
    min_weight: Option<String>,
    /// Highest weight per asset in percent (with --allocation).
    #[arg(long, value_name = "PERCENT", allow_hyphen_values = true)]
    max_weight: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Triggers to compare (repeatable): a range KIND:LO..HI:STEP (threshold:1..10:0.5), an
    /// evenly spaced range KIND:LO..HI/COUNT (threshold:1..10/100), a list (every:1h,4h,1d,7d)
    /// or any single rule.
    #[arg(long, required = true, value_name = "SPEC")]
    trigger: Vec<String>,
    /// Show only the best N rows in the table (JSON always has every row).
    #[arg(long, value_name = "N")]
    top: Option<usize>,
}

fn bad(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(InputError(msg.into()))
}

struct Timer {
    on: bool,
    start: Instant,
    last: Instant,
}

impl Timer {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            on: std::env::var_os(TIMING_ENV).is_some(),
            start: now,
            last: now,
        }
    }

    fn lap(&mut self, what: &str) {
        let now = Instant::now();
        if self.on {
            eprintln!(
                "timing: {what:<12} {:>9.3} ms (total {:>9.3} ms)",
                (now - self.last).as_secs_f64() * 1e3,
                (now - self.start).as_secs_f64() * 1e3
            );
        }
        self.last = now;
    }
}

/// Everything shared by `backtest` and `sweep` once the inputs are read.
struct Setup {
    table: PriceTable,
    cfg: Config,
    /// First bar at or after `--from` (0 unless the history before `--from` was kept).
    from_bar: usize,
}

fn parse_percents(field: &str, text: &str) -> Result<Vec<Decimal>, anyhow::Error> {
    text.split(',')
        .map(|p| {
            let p = p.trim();
            let num = p.strip_suffix('%').unwrap_or(p);
            Decimal::from_str(num).map_err(|_| {
                bad(format!(
                    "invalid {field}: {p:?}; allowed: a percent such as 50 (or ASSET=PERCENT pairs)"
                ))
            })
        })
        .collect()
}

fn split_assets(text: &str) -> Vec<String> {
    text.split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect()
}

/// Targets from `--targets`, `--assets`, `--targets-from` (see the flags' help).
fn resolve_targets(a: &RunArgs) -> anyhow::Result<Option<Targets>> {
    if let Some(file) = &a.targets_from {
        let text = std::fs::read_to_string(file).map_err(|e| {
            bad(format!(
                "{}: cannot read --targets-from: {e}",
                file.display()
            ))
        })?;
        let t = Targets::from_allocation_json(&text)
            .with_context(|| format!("{}: --targets-from", file.display()))?;
        if let Some(list) = &a.assets {
            check_same_assets(&t, &split_assets(list))?;
        }
        return Ok(Some(t));
    }
    match (&a.targets, &a.assets) {
        (Some(t), assets) if t.contains('=') => {
            let t = Targets::parse(t)?;
            if let Some(list) = assets {
                check_same_assets(&t, &split_assets(list))?;
            }
            Ok(Some(t))
        }
        (Some(t), Some(assets)) => {
            let percents = parse_percents("targets", t)?;
            Ok(Some(Targets::from_pairs(&split_assets(assets), &percents)?))
        }
        (Some(t), None) => Err(bad(format!(
            "invalid targets: {t:?}; allowed: ASSET=PERCENT pairs (BTC=50,ETH=50), or percents \
             together with --assets"
        ))),
        (None, Some(assets)) => Ok(Some(Targets::equal(&split_assets(assets))?)),
        (None, None) => Ok(None),
    }
}

fn check_same_assets(t: &Targets, listed: &[String]) -> anyhow::Result<()> {
    let mut a: Vec<String> = t.assets().to_vec();
    let mut b: Vec<String> = listed.iter().map(|s| s.to_ascii_uppercase()).collect();
    a.sort();
    b.sort();
    if a != b {
        return Err(bad(format!(
            "invalid assets: {:?}; allowed: the assets of the targets ({})",
            listed.join(","),
            t.assets().join(",")
        )));
    }
    Ok(())
}

fn parse_bound(flag: &str, text: &str, end_of_day: bool) -> anyhow::Result<i64> {
    let ms = parse_time_ms(text).ok_or_else(|| {
        bad(format!(
            "invalid --{flag}: {text:?}; allowed: a date (2021-01-01), an RFC 3339 time \
             (2024-01-21T07:00:00Z) or epoch seconds/milliseconds"
        ))
    })?;
    let plain_date = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
    Ok(if end_of_day && plain_date {
        ms + 86_400_000 - 1
    } else {
        ms
    })
}

/// Read the inputs. With `keep_history` the bars before `--from` are loaded too (a walk-forward
/// window may reach back before the run) and `from_bar` is the first bar at or after `--from`.
fn setup(a: &RunArgs, keep_history: bool) -> anyhow::Result<Setup> {
    let fee_model = FeeModel::from_str(&a.fee_model)?;
    let capital = limits::AMOUNT.parse_f64("capital", &a.capital)?;
    let min_trade = limits::AMOUNT_OR_ZERO.parse_f64("min-trade", &a.min_trade)?;
    let from_ms = a
        .from
        .as_deref()
        .map(|s| parse_bound("from", s, false))
        .transpose()?;
    let to_ms =
        a.to.as_deref()
            .map(|s| parse_bound("to", s, true))
            .transpose()?;
    if let (Some(f), Some(t)) = (from_ms, to_ms)
        && f > t
    {
        return Err(bad(format!(
            "invalid --from/--to: {} is after {}; allowed: from <= to",
            a.from.as_deref().unwrap_or_default(),
            a.to.as_deref().unwrap_or_default()
        )));
    }
    let targets = resolve_targets(a)?;
    let opts = LoadOptions {
        assets: targets
            .as_ref()
            .map(|t| t.assets().to_vec())
            .unwrap_or_default(),
        interval: a.interval.clone(),
        from_ms: if keep_history { None } else { from_ms },
        to_ms,
    };
    let table = smartfolio_data::load(&a.data, &opts).map_err(|e| bad(e.to_string()))?;
    let from_bar = match from_ms {
        Some(f) if keep_history => table.times_ms.partition_point(|&t| t < f),
        _ => 0,
    };
    if from_bar >= table.n_bars() {
        return Err(bad(format!(
            "invalid --from: {}; allowed: a time at or before the last bar of the data ({})",
            a.from.as_deref().unwrap_or_default(),
            format_time_ms(*table.times_ms.last().unwrap_or(&0))
        )));
    }
    let targets = match targets {
        Some(t) => t,
        None => Targets::equal(&table.assets)
            .context("no --assets or --targets: every column of the data, equal weights")?,
    };
    // The loader returns the requested assets in order; map targets onto its columns anyway.
    let mut weights = vec![0.0; table.n_assets()];
    let tw = targets.weights_f64();
    for (k, asset) in targets.assets().iter().enumerate() {
        let i = table
            .assets
            .iter()
            .position(|c| c.eq_ignore_ascii_case(asset))
            .ok_or_else(|| {
                bad(format!(
                    "unknown asset {asset}: the data ({}) has {}",
                    a.data.display(),
                    table.assets.join(",")
                ))
            })?;
        weights[i] = tw[k];
    }
    let cfg = Config {
        targets: weights,
        capital,
        fee_model,
        fee_rate: a.fee_rate,
        slippage_bps: a.slippage_bps,
        min_trade,
    };
    cfg.validate(table.n_assets())?;
    Ok(Setup {
        table,
        cfg,
        from_bar,
    })
}

fn interval_label(bar_ms: i64) -> String {
    const H: i64 = 3_600_000;
    if bar_ms % (24 * H) == 0 {
        format!("{}d", bar_ms / (24 * H))
    } else if bar_ms % H == 0 {
        format!("{}h", bar_ms / H)
    } else {
        format!("{}m", bar_ms / 60_000)
    }
}

fn range_json(t: &PriceTable) -> Value {
    json!({
        "from": format_time_ms(t.times_ms[0]),
        "to": format_time_ms(*t.times_ms.last().unwrap_or(&t.times_ms[0])),
        "bars": t.n_bars(),
        "interval": interval_label(t.bar_ms),
        "periods_per_year": t.periods_per_year(),
        "assets": t.assets,
    })
}

fn range_line(t: &PriceTable) -> String {
    format!(
        "range: {} .. {}, {} bars of {}, assets {}",
        format_time_ms(t.times_ms[0]),
        format_time_ms(*t.times_ms.last().unwrap_or(&t.times_ms[0])),
        t.n_bars(),
        interval_label(t.bar_ms),
        t.assets.join(",")
    )
}

fn opt_time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |t| Value::String(format_time_ms(t)))
}

fn metrics_json(m: &Metrics) -> serde_json::Map<String, Value> {
    let v = json!({
        "final_value": m.final_value,
        "total_return": m.total_return,
        "cagr": m.cagr,
        "volatility": m.volatility,
        "sharpe": m.sharpe,
        "sortino": m.sortino,
        "max_drawdown": m.max_drawdown,
        "max_drawdown_peak": opt_time(m.max_drawdown_peak_ms),
        "max_drawdown_trough": opt_time(m.max_drawdown_trough_ms),
        "max_drawdown_recovery": opt_time(m.max_drawdown_recovery_ms),
        "calmar": m.calmar,
        "n_rebalances": m.n_rebalances,
        "total_fees": m.total_fees,
        "total_slippage": m.total_slippage,
        "turnover": m.turnover,
        "skipped_legs": m.skipped_legs,
    });
    match v {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.2}%", x * 100.0)
    } else {
        "n/a".into()
    }
}

fn num(x: f64, decimals: usize) -> String {
    if x.is_finite() {
        format!("{x:.decimals$}")
    } else {
        "n/a".into()
    }
}

fn day(ms: Option<i64>) -> String {
    ms.map_or("-".into(), format_time_ms)
}

/// One row per metric, one cell per run in `ms`.
fn metric_lines(ms: &[&Metrics]) -> Vec<(String, Vec<String>)> {
    let row = |name: &str, f: &dyn Fn(&Metrics) -> String| {
        (name.to_string(), ms.iter().map(|m| f(m)).collect())
    };
    vec![
        row("final value", &|m| num(m.final_value, 2)),
        row("total return", &|m| pct(m.total_return)),
        row("CAGR", &|m| pct(m.cagr)),
        row("volatility (ann.)", &|m| pct(m.volatility)),
        row("Sharpe", &|m| num(m.sharpe, 3)),
        row("Sortino", &|m| num(m.sortino, 3)),
        row("max drawdown", &|m| pct(m.max_drawdown)),
        row("  peak", &|m| day(m.max_drawdown_peak_ms)),
        row("  trough", &|m| day(m.max_drawdown_trough_ms)),
        row("  recovery", &|m| day(m.max_drawdown_recovery_ms)),
        row("Calmar", &|m| num(m.calmar, 3)),
        row("rebalances", &|m| m.n_rebalances.to_string()),
        row("turnover", &|m| num(m.turnover, 3)),
        row("fees", &|m| num(m.total_fees, 2)),
        row("slippage", &|m| num(m.total_slippage, 2)),
        row("skipped legs", &|m| m.skipped_legs.to_string()),
    ]
}

/// `(name, strategy, buy & hold)` rows shared by the table and the report.
fn metric_rows(s: &Summary) -> Vec<(String, String, String)> {
    let mut rows: Vec<(String, String, String)> = metric_lines(&[&s.strategy, &s.buy_and_hold])
        .into_iter()
        .map(|(name, mut cells)| {
            let b = cells.pop().unwrap_or_default();
            let a = cells.pop().unwrap_or_default();
            (name, a, b)
        })
        .collect();
    rows.push((
        "rebalancing gain".into(),
        pct(s.rebalancing_gain),
        "".into(),
    ));
    rows
}

fn describe_costs(cfg: &Config) -> String {
    format!(
        "fees {} {}%, slippage {} bps, min trade {}",
        cfg.fee_model,
        cfg.fee_rate * 100.0,
        cfg.slippage_bps,
        cfg.min_trade
    )
}

fn describe_targets(t: &PriceTable, cfg: &Config) -> String {
    t.assets
        .iter()
        .zip(&cfg.targets)
        .map(|(a, w)| format!("{a} {}%", (w * 100.0 * 1e9).round() / 1e9))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn run_backtest(args: BacktestArgs) -> anyhow::Result<()> {
    let mut timer = Timer::new();
    let trigger: Trigger = args.trigger.parse()?;
    if args.walk.allocation.is_some() {
        return walk::run(&args.run, &args.walk, &trigger, timer);
    }
    args.walk.reject_without_allocation()?;
    let Setup { table, cfg, .. } = setup(&args.run, false)?;
    timer.lap("load");
    let prices = Prices::try_from(&table)?;
    let ppy = table.periods_per_year();
    let want_report = args.run.report.is_some();
    let record = if want_report {
        Record::ALL
    } else {
        Record::NONE
    };

    let t0 = Instant::now();
    let strat = engine::run(prices, &trigger, &cfg, record)?;
    let elapsed_engine = t0.elapsed().as_secs_f64();
    timer.lap("engine");
    let bench = engine::buy_and_hold(
        prices,
        &cfg,
        Record {
            equity: want_report,
            ..Record::NONE
        },
    )?;
    timer.lap("buy&hold");
    let summary = Summary::new(
        Metrics::compute(&strat, &table.times_ms, cfg.capital, ppy),
        Metrics::compute(&bench, &table.times_ms, cfg.capital, ppy),
    );

    let mut report_files = Vec::new();
    if let Some(dir) = &args.run.report {
        report_files = write_report(dir, &args.trigger, &table, &cfg, &strat, &bench, &summary)?;
        timer.lap("report");
    }

    if args.run.json {
        let mut out = metrics_json(&summary.strategy);
        out.insert(
            "buy_and_hold".into(),
            Value::Object(metrics_json(&summary.buy_and_hold)),
        );
        out.insert("rebalancing_gain".into(), json!(summary.rebalancing_gain));
        out.insert("elapsed_engine_s".into(), json!(elapsed_engine));
        out.insert("range".into(), range_json(&table));
        out.insert("trigger".into(), json!(trigger.to_string()));
        out.insert(
            "config".into(),
            json!({
                "data": args.run.data.display().to_string(),
                "targets": table.assets.iter().zip(&cfg.targets)
                    .map(|(a, w)| (a.clone(), json!(w))).collect::<serde_json::Map<_, _>>(),
                "capital": cfg.capital,
                "fee_model": cfg.fee_model.to_string(),
                "fee_rate": cfg.fee_rate,
                "slippage_bps": cfg.slippage_bps,
                "min_trade": cfg.min_trade,
            }),
        );
        if !report_files.is_empty() {
            out.insert(
                "report_files".into(),
                json!(
                    report_files
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                ),
            );
        }
        println!("{}", serde_json::to_string_pretty(&Value::Object(out))?);
    } else {
        println!("data:    {}", args.run.data.display());
        println!("{}", range_line(&table));
        println!("targets: {}", describe_targets(&table, &cfg));
        println!(
            "trigger: {trigger}; {}; capital {}",
            describe_costs(&cfg),
            cfg.capital
        );
        println!();
        let rows = metric_rows(&summary);
        let w0 = rows
            .iter()
            .map(|r| r.0.chars().count())
            .max()
            .unwrap_or(0)
            .max(6);
        let w1 = rows
            .iter()
            .map(|r| r.1.chars().count())
            .max()
            .unwrap_or(0)
            .max(8);
        println!("{:<w0$}  {:>w1$}  buy & hold", "metric", "strategy");
        for (name, s, b) in &rows {
            println!("{name:<w0$}  {s:>w1$}  {b}");
        }
        println!();
        println!("engine time: {:.3} ms", elapsed_engine * 1e3);
        for f in &report_files {
            println!("wrote {}", f.display());
        }
    }
    timer.lap("output");
    Ok(())
}

fn write_report(
    dir: &Path,
    trigger_text: &str,
    table: &PriceTable,
    cfg: &Config,
    strat: &Outcome,
    bench: &Outcome,
    summary: &Summary,
) -> anyhow::Result<Vec<PathBuf>> {
    use smartfolio_backtest::report::{self, Series, TradeRow};
    let series = Series {
        times_ms: &table.times_ms,
        strategy_equity: &strat.equity,
        benchmark_equity: &bench.equity,
        assets: &table.assets,
        weights: &strat.weights,
    };
    let trades: Vec<TradeRow> = strat
        .trades
        .iter()
        .map(|t| TradeRow {
            time_ms: t.time_ms,
            asset: table.assets[t.asset].clone(),
            side: if t.quantity > 0.0 { "buy" } else { "sell" },
            quantity: t.quantity.abs(),
            price: t.price,
            notional: t.notional.abs(),
            fee: t.fee,
        })
        .collect();
    let title = format!(
        "{} | {} | {}",
        describe_targets(table, cfg),
        trigger_text,
        describe_costs(cfg)
    );
    report::write_backtest_report(dir, &title, &series, &metric_rows(summary), &trades)
        .with_context(|| format!("writing the report into {}", dir.display()))
}

pub fn run_sweep(args: SweepArgs) -> anyhow::Result<()> {
    let mut timer = Timer::new();
    let mut groups: Vec<(String, Vec<Trigger>)> = Vec::new();
    for spec in &args.trigger {
        groups.push((spec.clone(), sweep::expand_spec(spec)?));
    }
    let triggers: Vec<Trigger> = groups.iter().flat_map(|g| g.1.iter().cloned()).collect();
    let Setup { table, cfg, .. } = setup(&args.run, false)?;
    timer.lap("load");
    let prices = Prices::try_from(&table)?;
    let ppy = table.periods_per_year();

    let t0 = Instant::now();
    let mut rows = sweep::sweep(prices, &triggers, &cfg, ppy)?;
    let elapsed = t0.elapsed().as_secs_f64();
    timer.lap("sweep");
    let bench = engine::buy_and_hold(prices, &cfg, Record::NONE)?;
    let bh = Metrics::compute(&bench, &table.times_ms, cfg.capital, ppy);
    let by_input = rows.clone();
    sweep::rank(&mut rows);

    let header = [
        "rank",
        "trigger",
        "final value",
        "return",
        "CAGR",
        "Sharpe",
        "max DD",
        "rebalances",
        "fees",
        "turnover",
        "gain vs B&H",
    ];
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let m = &r.metrics;
            vec![
                (k + 1).to_string(),
                r.trigger.to_string(),
                num(m.final_value, 2),
                pct(m.total_return),
                pct(m.cagr),
                num(m.sharpe, 3),
                pct(m.max_drawdown),
                m.n_rebalances.to_string(),
                num(m.total_fees, 2),
                num(m.turnover, 2),
                pct(m.final_value / bh.final_value - 1.0),
            ]
        })
        .collect();

    let mut report_files = Vec::new();
    if let Some(dir) = &args.run.report {
        let mut full = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
        full.extend(table_rows.iter().cloned());
        report_files = write_sweep_report(dir, &groups, &by_input, &full, &table, &cfg)?;
        timer.lap("report");
    }

    if args.run.json {
        eprintln!("{}", range_line(&table));
        let out: Vec<Value> = rows
            .iter()
            .enumerate()
            .map(|(k, r)| {
                let mut m = metrics_json(&r.metrics);
                m.insert("rank".into(), json!(k + 1));
                m.insert("trigger".into(), json!(r.trigger.to_string()));
                m.insert(
                    "rebalancing_gain".into(),
                    json!(r.metrics.final_value / bh.final_value - 1.0),
                );
                Value::Object(m)
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("data:    {}", args.run.data.display());
        println!("{}", range_line(&table));
        println!("targets: {}", describe_targets(&table, &cfg));
        println!(
            "{} triggers; {}; capital {}; buy & hold final value {}",
            triggers.len(),
            describe_costs(&cfg),
            cfg.capital,
            num(bh.final_value, 2)
        );
        println!();
        let shown = args.top.unwrap_or(table_rows.len()).min(table_rows.len());
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for r in &table_rows[..shown] {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            cells
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(k, (c, &w))| {
                    if k == 1 {
                        format!("{c:<w$}")
                    } else {
                        format!("{c:>w$}")
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
        };
        println!("{}", line(header.to_vec()));
        for r in &table_rows[..shown] {
            println!("{}", line(r.iter().map(String::as_str).collect()));
        }
        if shown < table_rows.len() {
            println!(
                "({} more rows; drop --top to see them)",
                table_rows.len() - shown
            );
        }
        println!();
        println!(
            "sweep time: {:.3} ms for {} runs",
            elapsed * 1e3,
            triggers.len()
        );
        for f in &report_files {
            println!("wrote {}", f.display());
        }
    }
    timer.lap("output");
    Ok(())
}

/// Heat map: one row per `--trigger` spec, one column per value of that spec; each cell is that
/// run's final value (n/a where a shorter spec has no value).
fn write_sweep_report(
    dir: &Path,
    groups: &[(String, Vec<Trigger>)],
    by_input: &[SweepRow],
    table: &[Vec<String>],
    prices: &PriceTable,
    cfg: &Config,
) -> anyhow::Result<Vec<PathBuf>> {
    use smartfolio_backtest::report;
    let width = groups.iter().map(|g| g.1.len()).max().unwrap_or(0);
    let single = groups.len() == 1;
    let x: Vec<String> = if single {
        groups[0].1.iter().map(value_label).collect()
    } else {
        (1..=width).map(|k| k.to_string()).collect()
    };
    let y: Vec<String> = groups.iter().map(|g| g.0.clone()).collect();
    let mut values = vec![f64::NAN; width * groups.len()];
    let mut k = 0;
    for (j, g) in groups.iter().enumerate() {
        for i in 0..g.1.len() {
            values[j * width + i] = by_input[k].metrics.final_value;
            k += 1;
        }
    }
    let title = format!(
        "final value by trigger | {} | {}",
        describe_targets(prices, cfg),
        describe_costs(cfg)
    );
    let x_label = if single {
        "trigger value"
    } else {
        "position in the spec"
    };
    report::write_sweep_report(
        dir,
        &title,
        x_label,
        "--trigger spec",
        &x,
        &y,
        &values,
        table,
    )
    .with_context(|| format!("writing the report into {}", dir.display()))
}

/// The varying part of a trigger's text (`threshold:2.5` → `2.5`).
fn value_label(t: &Trigger) -> String {
    let s = t.to_string();
    match s.split_once(':') {
        Some((_, v)) if !s.contains('+') && !s.contains('|') => v.to_string(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Bt {
        #[command(flatten)]
        args: BacktestArgs,
    }

    #[derive(Parser)]
    struct Sw {
        #[command(flatten)]
        args: SweepArgs,
    }

    /// A folder with a wide CSV of three assets over five daily bars.
    fn wide_csv(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("smartfolio-cli-bt-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wide.csv");
        std::fs::write(
            &path,
            "timestamp,BTC,ETH,SOL\n\
             2024-01-01,100,10,1\n2024-01-02,110,10,1\n2024-01-03,120,9,1.2\n\
             2024-01-04,90,11,1.1\n2024-01-05,100,12,1\n",
        )
        .unwrap();
        path
    }

    fn backtest(argv: &[&str]) -> anyhow::Result<()> {
        let mut full = vec!["smartfolio-backtest"];
        full.extend_from_slice(argv);
        run_backtest(Bt::try_parse_from(full).unwrap().args)
    }

    fn run_args(argv: &[&str]) -> RunArgs {
        let mut full = vec!["x", "--data", "unused.csv"];
        full.extend_from_slice(argv);
        Bt::try_parse_from(full).unwrap().args.run
    }

    #[test]
    fn targets_forms_resolve_to_the_same_basket() {
        let pairs = resolve_targets(&run_args(&["--targets", "BTC=50,ETH=30,SOL=20"]))
            .unwrap()
            .unwrap();
        let listed = resolve_targets(&run_args(&[
            "--assets",
            "BTC,ETH,SOL",
            "--targets",
            "50,30,20",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(pairs, listed);
        assert_eq!(pairs.weights_f64(), vec![0.5, 0.3, 0.2]);
        let equal = resolve_targets(&run_args(&["--assets", "btc,eth"]))
            .unwrap()
            .unwrap();
        assert_eq!(equal.assets(), ["BTC", "ETH"]);
        assert_eq!(equal.weights_f64(), vec![0.5, 0.5]);
        assert!(resolve_targets(&run_args(&[])).unwrap().is_none());
    }

    #[test]
    fn targets_from_an_allocation_file() {
        let dir = wide_csv("alloc").parent().unwrap().to_path_buf();
        let f = dir.join("alloc.json");
        std::fs::write(
            &f,
            r#"{"method":"equal","weights":{"BTC":"0.25","ETH":0.75}}"#,
        )
        .unwrap();
        let t = resolve_targets(&run_args(&["--targets-from", f.to_str().unwrap()]))
            .unwrap()
            .unwrap();
        assert_eq!(t.assets(), ["BTC", "ETH"]);
        assert_eq!(t.weights_f64(), vec![0.25, 0.75]);
    }

    #[test]
    fn bad_targets_are_input_errors() {
        for argv in [
            &["--targets", "50,50"][..],
            &["--assets", "BTC,ETH", "--targets", "50,40"],
            &["--assets", "BTC,ETH", "--targets", "50,x"],
            &["--assets", "BTC,SOL", "--targets", "BTC=50,ETH=50"],
        ] {
            let e = resolve_targets(&run_args(argv)).expect_err(&format!("{argv:?}"));
            assert_eq!(crate::error::exit_code(&e), 2, "{argv:?}: {e:#}");
        }
    }

    #[test]
    fn a_plain_to_date_means_the_end_of_that_day() {
        let from = parse_bound("from", "2024-01-02", false).unwrap();
        let to = parse_bound("to", "2024-01-02", true).unwrap();
        assert_eq!(to - from, 86_400_000 - 1);
        let exact = parse_bound("to", "2024-01-02T05:00:00Z", true).unwrap();
        assert_eq!(exact - from, 5 * 3_600_000);
        assert!(parse_bound("to", "yesterday", true).is_err());
    }

    #[test]
    fn backtest_and_sweep_run_on_a_wide_csv() {
        let f = wide_csv("ok");
        let f = f.to_str().unwrap();
        backtest(&[
            "--data",
            f,
            "--targets",
            "BTC=50,ETH=30,SOL=20",
            "--trigger",
            "every:1d",
            "--json",
        ])
        .unwrap();
        backtest(&[
            "--data",
            f,
            "--from",
            "2024-01-02",
            "--to",
            "2024-01-04",
            "--slippage-bps",
            "5",
        ])
        .unwrap();
        let sw = Sw::try_parse_from([
            "x",
            "--data",
            f,
            "--trigger",
            "threshold:1..5:1",
            "--trigger",
            "every:1d,2d",
            "--json",
        ])
        .unwrap();
        run_sweep(sw.args).unwrap();
    }

    #[test]
    fn bad_input_exits_2_and_names_the_culprit() {
        let f = wide_csv("bad");
        let fs = f.to_str().unwrap();
        let cases: Vec<(Vec<&str>, &str)> = vec![
            (
                vec!["--data", "/nonexistent/prices.csv"],
                "/nonexistent/prices.csv",
            ),
            (vec!["--data", fs, "--assets", "BTC,DOGE"], "DOGE"),
            (vec!["--data", fs, "--from", "2025-01-01"], "2025"),
            (
                vec!["--data", fs, "--trigger", "threshold:abc"],
                "threshold:abc",
            ),
            (vec!["--data", fs, "--fee-model", "cheap"], "cheap"),
            (vec!["--data", fs, "--fee-rate=-0.1"], "fee-rate"),
            (
                vec!["--data", fs, "--from", "2024-01-04", "--to", "2024-01-02"],
                "from",
            ),
        ];
        for (argv, needle) in cases {
            let e = backtest(&argv).expect_err(&format!("{argv:?}"));
            let msg = format!("{e:#}");
            assert_eq!(crate::error::exit_code(&e), 2, "{argv:?}: {msg}");
            assert!(msg.contains(needle), "{argv:?}: {msg}");
        }
        // A malformed line names the file and the line.
        let dir = f.parent().unwrap();
        let broken = dir.join("broken.csv");
        std::fs::write(
            &broken,
            "timestamp,BTC,ETH\n2024-01-01,1,2\n2024-01-02,-1,2\n",
        )
        .unwrap();
        let e = backtest(&["--data", broken.to_str().unwrap()]).unwrap_err();
        let msg = format!("{e:#}");
        assert_eq!(crate::error::exit_code(&e), 2);
        assert!(msg.contains("broken.csv") && msg.contains(":3"), "{msg}");
        let sw = Sw::try_parse_from(["x", "--data", fs, "--trigger", "threshold:5..1:1"]).unwrap();
        let e = run_sweep(sw.args).unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 2, "{e:#}");
    }

    #[test]
    fn labels() {
        assert_eq!(interval_label(3_600_000), "1h");
        assert_eq!(interval_label(86_400_000), "1d");
        assert_eq!(interval_label(4 * 3_600_000), "4h");
        assert_eq!(value_label(&"threshold:2.5".parse().unwrap()), "2.5");
        assert_eq!(
            value_label(&"every:1d+threshold:3".parse().unwrap()),
            "every:1d+threshold:3"
        );
    }
}
