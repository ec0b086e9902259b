//! Parameter sweeps: many triggers over one shared price matrix.
//!
//! Every run reads the same borrowed [`Prices`]; each keeps only its O(N) book and streaming
//! statistics, so memory does not grow with the number of parameter sets (beyond one result row
//! each). Runs are spread over the rayon thread pool.

use crate::engine::{self, Config, Prices, Record};
use crate::metrics::Metrics;
use rayon::prelude::*;
use smartfolio_core::{Trigger, ValidationError};

/// One run of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRow {
    /// Position of the trigger in the input.
    pub index: usize,
    pub trigger: Trigger,
    pub metrics: Metrics,
}

/// Run every trigger over `prices` with the same `cfg`, in parallel. Rows come back in input
/// order; see [`rank`].
pub fn sweep(
    prices: Prices<'_>,
    triggers: &[Trigger],
    cfg: &Config,
    periods_per_year: f64,
) -> Result<Vec<SweepRow>, ValidationError> {
    cfg.validate(prices.n_assets())?;
    triggers
        .par_iter()
        .enumerate()
        .map(|(index, trigger)| {
            let o = engine::run(prices, trigger, cfg, Record::NONE)?;
            Ok(SweepRow {
                index,
                trigger: trigger.clone(),
                metrics: Metrics::compute(&o, prices.times_ms(), cfg.capital, periods_per_year),
            })
        })
        .collect()
}

/// Best first: by final value (descending), ties by input order.
pub fn rank(rows: &mut [SweepRow]) {
    rows.sort_by(|a, b| {
        b.metrics
            .final_value
            .total_cmp(&a.metrics.final_value)
            .then(a.index.cmp(&b.index))
    });
}

/// Most values one sweep spec may expand to.
pub const MAX_SWEEP_VALUES: usize = 100_000;

const SWEEP_FORMS: &str = "a trigger (e.g. threshold:5), a range KIND:LO..HI:STEP (threshold:1..10:0.5), \
an evenly spaced range KIND:LO..HI/COUNT (threshold:1..10/100), or a list KIND:A,B,C \
(every:1h,4h,1d,7d); KIND is threshold, rel-threshold or every";

/// Expand one `--trigger` sweep spec into triggers.
///
/// - `threshold:1..10:0.5`: LO, LO+STEP, … up to HI (inclusive, within 1e-9 of a step);
/// - `threshold:1..10/100`: COUNT values evenly spaced from LO to HI inclusive (like `linspace`);
/// - `every:1h,4h,1d,7d` or `threshold:1,2,5`: one trigger per item;
/// - anything else (including combinations with `+` or `|`, calendar and cron rules) is one
///   trigger in the text form of [`Trigger`].
pub fn expand_spec(spec: &str) -> Result<Vec<Trigger>, ValidationError> {
    let bad = |allowed: &str| ValidationError::new("trigger", spec, allowed);
    let s = spec.trim();
    let simple = ["threshold:", "rel-threshold:", "every:"]
        .iter()
        .find(|k| s.starts_with(**k));
    let Some(kind) = simple.filter(|_| !s.contains('+') && !s.contains('|')) else {
        return Ok(vec![s.parse()?]);
    };
    let body = &s[kind.len()..];
    let values: Vec<String> = if let Some((lo, rest)) = body.split_once("..") {
        if *kind == "every:" && !lo.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(
                "ranges of every: are in bars (every:24..168:24); list durations instead",
            ));
        }
        let num = |x: &str| -> Result<f64, ValidationError> {
            x.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(SWEEP_FORMS))
        };
        let lo = num(lo)?;
        let grid: Vec<f64> = if let Some((hi, count)) = rest.split_once('/') {
            let hi = num(hi)?;
            let count: usize = count
                .trim()
                .parse()
                .ok()
                .filter(|c| (1..=MAX_SWEEP_VALUES).contains(c))
                .ok_or_else(|| bad(&format!("a COUNT in 1..={MAX_SWEEP_VALUES} after /")))?;
            if hi < lo {
                return Err(bad("LO <= HI"));
            }
            if count == 1 {
                vec![lo]
            } else {
                let step = (hi - lo) / (count - 1) as f64;
                (0..count)
                    .map(|k| {
                        if k == count - 1 {
                            hi
                        } else {
                            lo + k as f64 * step
                        }
                    })
                    .collect()
            }
        } else {
            let (hi, step) = rest.split_once(':').ok_or_else(|| bad(SWEEP_FORMS))?;
            let (hi, step) = (num(hi)?, num(step)?);
            if step <= 0.0 || hi < lo {
                return Err(bad("LO <= HI and a STEP > 0"));
            }
            let count = ((hi - lo) / step + 1e-9).floor() + 1.0;
            if count > MAX_SWEEP_VALUES as f64 {
                return Err(bad(&format!("at most {MAX_SWEEP_VALUES} values per range")));
            }
            (0..count as usize)
                .map(|k| round10(lo + k as f64 * step))
                .collect()
        };
        grid.iter().map(|v| format!("{v}")).collect()
    } else {
        body.split(',').map(|x| x.trim().to_string()).collect()
    };
    values
        .iter()
        .map(|v| {
            format!("{kind}{v}").parse::<Trigger>().map_err(|e| {
                ValidationError::new("trigger", spec, format!("{} (item {v:?})", e.allowed))
            })
        })
        .collect()
}

/// Round to 10 decimals, so `0.1 + 2 × 0.2` prints as `0.5`.
fn round10(v: f64) -> f64 {
    (v * 1e10).round() / 1e10
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Config;

    fn texts(spec: &str) -> Vec<String> {
        expand_spec(spec)
            .unwrap()
            .iter()
            .map(|t| t.to_string())
            .collect()
    }

    #[test]
    fn ranges_lists_and_single_rules_expand() {
        assert_eq!(
            texts("threshold:1..3:0.5"),
            [
                "threshold:1",
                "threshold:1.5",
                "threshold:2",
                "threshold:2.5",
                "threshold:3"
            ]
        );
        assert_eq!(
            texts("threshold:0.1..0.5:0.2"),
            ["threshold:0.1", "threshold:0.3", "threshold:0.5"]
        );
        assert_eq!(
            texts("every:1h,4h,1d,7d"),
            ["every:1h", "every:4h", "every:1d", "every:1w"]
        );
        assert_eq!(
            texts("every:24..72:24"),
            ["every:24", "every:48", "every:72"]
        );
        assert_eq!(texts("every:1d+threshold:3"), ["every:1d+threshold:3"]);
        assert_eq!(texts("cron:0 8 * * 1,3"), ["cron:0 8 * * 1,3"]);
        let lin = expand_spec("threshold:1..10/100").unwrap();
        assert_eq!(lin.len(), 100);
        assert_eq!(lin[0].to_string(), "threshold:1");
        assert_eq!(lin[99].to_string(), "threshold:10");
        assert_eq!(lin[11].to_string(), "threshold:2");
    }

    #[test]
    fn malformed_specs_name_the_spec() {
        for s in [
            "threshold:5..1:1",
            "threshold:1..5:0",
            "threshold:1..5",
            "threshold:a..5:1",
            "every:1h..1d:1h",
            "threshold:1,x",
            "every:3x",
            "threshold:1..5/0",
            "bogus",
        ] {
            let e = expand_spec(s).expect_err(s);
            assert_eq!(e.field, "trigger");
            assert_eq!(e.value, s, "{s}");
        }
    }

    #[test]
    fn sweep_matches_single_runs_and_ranks_best_first() {
        // Two anti-correlated assets: rebalancing more often earns more here (fee 0).
        let n_bars = 200;
        let times: Vec<i64> = (0..n_bars).map(|t| t as i64 * 3_600_000).collect();
        let mut p = Vec::new();
        for t in 0..n_bars {
            let x = (t as f64 * 0.7).sin() * 0.2;
            p.push(100.0 * (1.0 + x));
            p.push(50.0 * (1.0 - x));
        }
        let px = Prices::new(&times, &p, 2).unwrap();
        let mut cfg = Config::new(vec![0.5, 0.5]);
        cfg.fee_rate = 0.0;
        let triggers = expand_spec("threshold:1..20:1").unwrap();
        let mut rows = sweep(px, &triggers, &cfg, 8760.0).unwrap();
        for r in &rows {
            let o = engine::run(px, &triggers[r.index], &cfg, Record::NONE).unwrap();
            assert_eq!(r.metrics.final_value, o.final_value);
            assert_eq!(r.metrics.n_rebalances, o.n_rebalances);
        }
        rank(&mut rows);
        for w in rows.windows(2) {
            assert!(w[0].metrics.final_value >= w[1].metrics.final_value);
        }
        assert!(rows[0].metrics.n_rebalances > rows[rows.len() - 1].metrics.n_rebalances);
    }
}
