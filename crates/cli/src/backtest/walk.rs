//! `smartfolio backtest --allocation METHOD`: the walk-forward allocation of
//! [`smartfolio_backtest::walkforward`] reported beside equal weight and buy-and-hold.

use super::{
    RunArgs, Setup, Timer, WalkArgs, bad, describe_costs, metric_lines, metrics_json, range_json,
    range_line, setup,
};
use serde_json::{Map, Value, json};
use smartfolio_alloc::{CovEstimator, Method, Options};
use smartfolio_backtest::engine::{Prices, Record};
use smartfolio_backtest::metrics::Metrics;
use smartfolio_backtest::walkforward::{
    Lookback, WalkForward, WalkForwardError, WalkForwardRun, parse_reallocate,
};
use smartfolio_core::{Trigger, ValidationError};
use smartfolio_data::format_time_ms;
use std::str::FromStr;
use std::time::Instant;

const DEFAULT_REALLOCATE: &str = "every:90d";
const DEFAULT_LOOKBACK: &str = "365d";

impl WalkArgs {
    /// The walk-forward flags mean nothing without `--allocation`.
    pub(super) fn reject_without_allocation(&self) -> anyhow::Result<()> {
        let given = [
            ("reallocate", self.reallocate.as_deref()),
            ("lookback", self.lookback.as_deref()),
            ("cov", self.cov.as_deref()),
            ("risk-free", self.risk_free.as_deref()),
            ("min-weight", self.min_weight.as_deref()),
            ("max-weight", self.max_weight.as_deref()),
        ];
        if let Some((flag, Some(v))) = given.iter().find(|g| g.1.is_some()) {
            return Err(bad(format!(
                "invalid --{flag}: {v:?} without --allocation; allowed: only together with \
                 --allocation METHOD (a walk-forward)"
            )));
        }
        Ok(())
    }

    /// Parse the flags into the engine's settings; every error names its flag.
    fn settings(&self, periods_per_year: f64) -> anyhow::Result<WalkForward> {
        let rename = |field: &str| {
            let field = field.to_string();
            move |e: ValidationError| ValidationError::new(field.clone(), e.value, e.allowed)
        };
        let method = Method::from_str(self.allocation.as_deref().unwrap_or_default())
            .map_err(rename("allocation"))?;
        let reallocate =
            parse_reallocate(self.reallocate.as_deref().unwrap_or(DEFAULT_REALLOCATE))?;
        let lookback: Lookback = self
            .lookback
            .as_deref()
            .unwrap_or(DEFAULT_LOOKBACK)
            .parse()?;
        let cov = match &self.cov {
            Some(c) => CovEstimator::from_str(c)?,
            None => CovEstimator::default(),
        };
        let risk_free = match &self.risk_free {
            Some(r) => crate::allocate::parse_rate(r)?,
            None => 0.0,
        };
        let options = Options {
            cov,
            risk_free,
            min_weight: crate::allocate::percent_bound("min-weight", self.min_weight.as_deref())?,
            max_weight: crate::allocate::percent_bound("max-weight", self.max_weight.as_deref())?,
            periods_per_year,
            market_caps: None,
        };
        let wf = WalkForward {
            method,
            options,
            reallocate,
            lookback,
        };
        wf.validate()?;
        Ok(wf)
    }
}

fn weights_json(assets: &[String], w: &[f64]) -> Value {
    Value::Object(
        assets
            .iter()
            .zip(w)
            .map(|(a, x)| (a.clone(), json!(x)))
            .collect::<Map<_, _>>(),
    )
}

fn percents(w: &[f64]) -> Vec<String> {
    w.iter().map(|x| format!("{:.2}%", x * 100.0)).collect()
}

pub(super) fn run(
    a: &RunArgs,
    w: &WalkArgs,
    trigger: &Trigger,
    mut timer: Timer,
) -> anyhow::Result<()> {
    if a.targets.is_some() || a.targets_from.is_some() {
        return Err(bad(
            "invalid --targets/--targets-from with --allocation: the walk-forward computes the \
             targets; allowed: --assets (or every column of the data) with --allocation",
        ));
    }
    if a.report.is_some() {
        return Err(bad(
            "invalid --report with --allocation: charts are not drawn for walk-forward runs; \
             allowed: --report without --allocation (use --json for the walk-forward)",
        ));
    }
    // The flags are checked before the data is read, so a typo fails fast.
    w.settings(365.0)?;
    let Setup {
        table,
        cfg,
        from_bar,
    } = setup(a, true)?;
    timer.lap("load");
    let ppy = table.periods_per_year();
    let wf = w.settings(ppy)?;
    let prices = Prices::try_from(&table)?;
    let t0 = Instant::now();
    let result = wf
        .run(
            prices,
            &table.assets,
            table.market_caps.as_deref(),
            from_bar,
            trigger,
            &cfg,
            Record::NONE,
        )
        .map_err(|e| match e {
            WalkForwardError::Invalid(v) => anyhow::Error::new(v),
            other => anyhow::Error::new(other),
        })?;
    let elapsed = t0.elapsed().as_secs_f64();
    timer.lap("walk-forward");
    let WalkForwardRun {
        plan,
        walk_forward,
        equal_weight,
        buy_and_hold,
    } = &result;
    let start = plan.start;
    let run_table = table
        .window(Some(table.times_ms[start]), None)
        .map_err(|e| bad(e.to_string()))?;
    let times = &table.times_ms[start..];
    let metrics = |o| Metrics::compute(o, times, cfg.capital, ppy);
    let (m_wf, m_eq, m_bh) = (
        metrics(walk_forward),
        metrics(equal_weight),
        metrics(buy_and_hold),
    );
    let equal: Vec<f64> = vec![1.0 / table.n_assets() as f64; table.n_assets()];
    let first = &plan.reallocations[0].weights;
    let deferred = plan.start > plan.requested;

    if a.json {
        let history: Vec<Value> = plan
            .reallocations
            .iter()
            .map(|r| {
                json!({
                    "time": format_time_ms(r.time_ms),
                    "window": {
                        "from": format_time_ms(table.times_ms[r.window_from]),
                        "to": format_time_ms(r.time_ms),
                        "n_returns": r.n_returns,
                    },
                    "weights": weights_json(&table.assets, &r.weights),
                })
            })
            .collect();
        let mut wf_out = Map::new();
        wf_out.insert("method".into(), json!(wf.method.name()));
        if wf.method.uses_cov_estimator() {
            wf_out.insert("cov".into(), json!(wf.options.cov.name()));
        }
        wf_out.insert("lookback".into(), json!(wf.lookback.to_string()));
        wf_out.insert("reallocate".into(), json!(wf.reallocate.to_string()));
        wf_out.insert("start".into(), json!(format_time_ms(table.times_ms[start])));
        wf_out.insert(
            "requested_start".into(),
            json!(format_time_ms(table.times_ms[plan.requested])),
        );
        wf_out.insert("start_deferred".into(), json!(deferred));
        wf_out.insert("reallocations".into(), json!(plan.reallocations.len()));
        wf_out.insert("targets_history".into(), Value::Array(history));
        wf_out.extend(metrics_json(&m_wf));
        let mut eq_out = Map::new();
        eq_out.insert("targets".into(), weights_json(&table.assets, &equal));
        eq_out.extend(metrics_json(&m_eq));
        let mut bh_out = Map::new();
        bh_out.insert("targets".into(), weights_json(&table.assets, first));
        bh_out.extend(metrics_json(&m_bh));
        let out = json!({
            "walk_forward": Value::Object(wf_out),
            "equal_weight": Value::Object(eq_out),
            "buy_and_hold": Value::Object(bh_out),
            "gain_vs_equal_weight": m_wf.final_value / m_eq.final_value - 1.0,
            "gain_vs_buy_and_hold": m_wf.final_value / m_bh.final_value - 1.0,
            "trigger": trigger.to_string(),
            "range": range_json(&run_table),
            "history_from": format_time_ms(table.times_ms[0]),
            "elapsed_engine_s": elapsed,
            "config": {
                "data": a.data.display().to_string(),
                "capital": cfg.capital,
                "fee_model": cfg.fee_model.to_string(),
                "fee_rate": cfg.fee_rate,
                "slippage_bps": cfg.slippage_bps,
                "min_trade": cfg.min_trade,
                "min_weight": wf.options.min_weight,
                "max_weight": wf.options.max_weight,
                "risk_free": wf.options.risk_free,
            },
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("data:    {}", a.data.display());
        println!("{}", range_line(&run_table));
        let cov = if wf.method.uses_cov_estimator() {
            format!(" ({} covariance)", wf.options.cov)
        } else {
            String::new()
        };
        println!(
            "walk-forward: {}{cov}, lookback {} ending at each decision bar, reallocate {}; \
             between reallocations {trigger}",
            wf.method, wf.lookback, wf.reallocate
        );
        println!(
            "start: {}{} (history from {} feeds the windows); {}; capital {}",
            format_time_ms(table.times_ms[start]),
            if deferred {
                format!(
                    ", deferred from {} to the first full window",
                    format_time_ms(table.times_ms[plan.requested])
                )
            } else {
                String::new()
            },
            format_time_ms(table.times_ms[0]),
            describe_costs(&cfg),
            cfg.capital
        );
        println!();
        println!(
            "targets history ({} reallocations):",
            plan.reallocations.len()
        );
        let width = table
            .assets
            .iter()
            .map(|s| s.len())
            .max()
            .unwrap_or(0)
            .max(7);
        let mut head = format!("  {:<10}  {:>7}", "date", "returns");
        for asset in &table.assets {
            head.push_str(&format!("  {asset:>width$}"));
        }
        println!("{head}");
        for r in &plan.reallocations {
            let mut line = format!(
                "  {:<10}  {:>7}",
                format_time_ms(r.time_ms)
                    .chars()
                    .take(10)
                    .collect::<String>(),
                r.n_returns
            );
            for cell in percents(&r.weights) {
                line.push_str(&format!("  {cell:>width$}"));
            }
            println!("{line}");
        }
        println!();
        let rows = metric_lines(&[&m_wf, &m_eq, &m_bh]);
        let names = ["walk-forward", "equal weight", "buy & hold"];
        let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
        let wc: Vec<usize> = (0..3)
            .map(|k| {
                rows.iter()
                    .map(|r| r.1[k].chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(names[k].len())
            })
            .collect();
        println!(
            "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}",
            "metric",
            names[0],
            names[1],
            names[2],
            w1 = wc[0],
            w2 = wc[1],
            w3 = wc[2]
        );
        for (name, cells) in &rows {
            println!(
                "{name:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}",
                cells[0],
                cells[1],
                cells[2],
                w1 = wc[0],
                w2 = wc[1],
                w3 = wc[2]
            );
        }
        println!();
        println!(
            "walk-forward vs equal weight: {:+.2}%; vs buy & hold: {:+.2}%",
            (m_wf.final_value / m_eq.final_value - 1.0) * 100.0,
            (m_wf.final_value / m_bh.final_value - 1.0) * 100.0
        );
        println!(
            "buy & hold holds the first walk-forward targets ({}) from {}",
            table
                .assets
                .iter()
                .zip(percents(first))
                .map(|(a, p)| format!("{a} {p}"))
                .collect::<Vec<_>>()
                .join(", "),
            format_time_ms(table.times_ms[start])
        );
        println!(
            "engine time: {:.3} ms (allocations and three runs)",
            elapsed * 1e3
        );
    }
    timer.lap("output");
    Ok(())
}
