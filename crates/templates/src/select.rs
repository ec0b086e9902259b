//! The recommended trigger, chosen by walk-forward (SPEC §9).
//!
//! - **Folds.** With training length `L` and test length `S` (calendar time), fold `k` tests the
//!   bars whose time is in `[t0 + L + kS, t0 + L + (k+1)S)` and trains on the bars in the `L`
//!   before its first test bar (`t0` is the first bar's time). The last fold may be shorter; a
//!   test window needs at least 2 bars.
//! - **Choice.** On each training window every rule of the grid is run from cash (the engine,
//!   SPEC §4, with the targets in force there); the rule with the best Sharpe wins, ties and NaN
//!   going to the earlier rule. The training result is never reported.
//! - **Out of sample.** One continuous run over the joined test windows, the rule of each fold
//!   in force from its first test bar (the engine's rule-change hook: holdings carry over, no
//!   trade because the rule changed). Compared over the same bars and costs with equal weight
//!   under the same rules, and with buy-and-hold of the targets in force at the first test bar.
//! - **Today.** The rule recommended now is the best on the latest training window (the `L`
//!   before and including the last bar), as the next fold would choose it.

use crate::spec::Rule;
use rayon::prelude::*;
use smartfolio_backtest::engine::{
    self, Config, Outcome, Prices, Record, RuleChange, TargetChange,
};
use smartfolio_backtest::metrics::{Metrics, Summary};
use smartfolio_core::ValidationError;

/// Targets over a price matrix: those in force at bar 0 and later changes (bar indices into
/// the same matrix).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetPath {
    pub initial: Vec<f64>,
    pub changes: Vec<TargetChange>,
}

impl TargetPath {
    pub fn fixed(weights: Vec<f64>) -> Self {
        Self {
            initial: weights,
            changes: Vec::new(),
        }
    }

    /// The targets in force at `from` and the changes inside `[from, to)`, re-based on `from`.
    fn slice(&self, from: usize, to: usize) -> (Vec<f64>, Vec<TargetChange>) {
        let mut initial = &self.initial;
        let mut changes = Vec::new();
        for c in &self.changes {
            if c.bar <= from {
                initial = &c.weights;
            } else if c.bar < to {
                changes.push(TargetChange {
                    bar: c.bar - from,
                    weights: c.weights.clone(),
                });
            }
        }
        (initial.clone(), changes)
    }
}

/// One fold: bar indices into the matrix given to [`walk_forward`] (`*_to` exclusive) and the
/// rule its training window chose.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    pub train_from: usize,
    pub train_to: usize,
    pub test_from: usize,
    pub test_to: usize,
    /// Index into the grid.
    pub rule: usize,
    /// The winner's training Sharpe (shown as the reason for the choice, never as a result).
    pub train_sharpe: f64,
}

/// The out-of-sample result over the joined test windows.
#[derive(Debug, Clone)]
pub struct OutOfSample {
    /// First and last bar (inclusive) of the joined test windows.
    pub from: usize,
    pub to: usize,
    /// The walk-forward rules on the template's targets, against buy-and-hold
    /// (`rebalancing_gain`).
    pub summary: Summary,
    /// Equal weight under the same rules.
    pub equal_weight: Metrics,
    /// Post-trade equity of the strategy at every bar of the joined windows.
    pub equity: Vec<f64>,
}

/// A walk-forward choice and its out-of-sample result.
#[derive(Debug, Clone)]
pub struct WalkForwardChoice {
    pub folds: Vec<Fold>,
    pub out_of_sample: OutOfSample,
    /// The rule to use now: the best on the latest training window.
    pub today: usize,
    /// That window, bar indices (inclusive).
    pub today_window: (usize, usize),
}

/// Costs and capital of every run (`targets` is ignored: the path gives them).
#[derive(Debug, Clone)]
pub struct Setup<'a> {
    pub grid: &'a [Rule],
    pub train_ms: i64,
    pub test_ms: i64,
    pub cfg: &'a Config,
    pub periods_per_year: f64,
}

/// Why no choice could be made.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectError {
    /// The history is shorter than one training window plus a test window of 2 bars.
    TooShort {
        needed_ms: i64,
        have_ms: i64,
    },
    Invalid(ValidationError),
}

impl From<ValidationError> for SelectError {
    fn from(v: ValidationError) -> Self {
        SelectError::Invalid(v)
    }
}

/// The folds' bar ranges (without choices).
pub fn folds(times: &[i64], train_ms: i64, test_ms: i64) -> Vec<(usize, usize, usize, usize)> {
    let mut out = Vec::new();
    let Some(&t0) = times.first() else { return out };
    let at = |ms: i64| times.partition_point(|&x| x < ms);
    let mut k = 0i64;
    loop {
        let from_ms = t0 + train_ms + k * test_ms;
        let test_from = at(from_ms);
        let test_to = at(from_ms + test_ms);
        if test_to < test_from + 2 {
            break;
        }
        let train_from = at(times[test_from] - train_ms);
        out.push((train_from, test_from, test_from, test_to));
        k += 1;
    }
    out
}

/// Sharpe of every rule over bars `[from, to)`, in grid order.
fn score(
    prices: Prices<'_>,
    path: &TargetPath,
    setup: &Setup<'_>,
    from: usize,
    to: usize,
) -> Result<Vec<f64>, ValidationError> {
    let n = prices.n_assets();
    let times = &prices.times_ms()[from..to];
    let slice = Prices::new(times, &prices.values()[from * n..to * n], n)?;
    let (initial, changes) = path.slice(from, to);
    let cfg = Config {
        targets: initial,
        ..setup.cfg.clone()
    };
    setup
        .grid
        .par_iter()
        .map(|rule| {
            let rules = [RuleChange {
                bar: 0,
                trigger: rule.trigger.clone(),
                cooldown_ms: rule.cooldown_ms,
            }];
            let o = engine::run_with_rules(slice, &cfg, &changes, &rules, Record::NONE)?;
            Ok(Metrics::compute(&o, times, cfg.capital, setup.periods_per_year).sharpe)
        })
        .collect()
}

/// The best index: highest score, NaN lowest, ties to the earlier rule.
fn best(scores: &[f64]) -> (usize, f64) {
    let mut b = (0usize, f64::NAN);
    for (i, &s) in scores.iter().enumerate() {
        if !s.is_nan() && (b.1.is_nan() || s > b.1) {
            b = (i, s);
        }
    }
    b
}

/// Choose by walk-forward and report out of sample (see the module docs).
pub fn walk_forward(
    prices: Prices<'_>,
    path: &TargetPath,
    setup: &Setup<'_>,
) -> Result<WalkForwardChoice, SelectError> {
    if setup.grid.is_empty() {
        return Err(ValidationError::new("triggers", "none", "at least one rule").into());
    }
    let times = prices.times_ms();
    let t_len = prices.n_bars();
    let ranges = folds(times, setup.train_ms, setup.test_ms);
    if ranges.is_empty() {
        return Err(SelectError::TooShort {
            needed_ms: setup.train_ms,
            have_ms: times[t_len - 1] - times[0],
        });
    }
    let mut folds = Vec::with_capacity(ranges.len());
    for &(train_from, train_to, test_from, test_to) in &ranges {
        let (rule, train_sharpe) = best(&score(prices, path, setup, train_from, train_to)?);
        folds.push(Fold {
            train_from,
            train_to,
            test_from,
            test_to,
            rule,
            train_sharpe,
        });
    }

    // Out of sample: the joined test windows, one continuous run.
    let n = prices.n_assets();
    let from = folds[0].test_from;
    let to = folds[folds.len() - 1].test_to;
    let oos_times = &times[from..to];
    let slice = Prices::new(oos_times, &prices.values()[from * n..to * n], n)?;
    let (initial, changes) = path.slice(from, to);
    let rules: Vec<RuleChange> = folds
        .iter()
        .map(|f| RuleChange {
            bar: f.test_from - from,
            trigger: setup.grid[f.rule].trigger.clone(),
            cooldown_ms: setup.grid[f.rule].cooldown_ms,
        })
        .collect();
    let cfg = Config {
        targets: initial,
        ..setup.cfg.clone()
    };
    let equal = Config {
        targets: vec![1.0 / n as f64; n],
        ..setup.cfg.clone()
    };
    let record = Record {
        equity: true,
        ..Record::NONE
    };
    let strategy = engine::run_with_rules(slice, &cfg, &changes, &rules, record)?;
    let equal_weight = engine::run_with_rules(slice, &equal, &[], &rules, Record::NONE)?;
    let held = engine::buy_and_hold(slice, &cfg, Record::NONE)?;
    let metrics = |o: &Outcome| Metrics::compute(o, oos_times, cfg.capital, setup.periods_per_year);
    let out_of_sample = OutOfSample {
        from,
        to: to - 1,
        summary: Summary::new(metrics(&strategy), metrics(&held)),
        equal_weight: metrics(&equal_weight),
        equity: strategy.equity,
    };

    // Today's rule: the latest training window, ending at the last bar.
    let last = t_len - 1;
    let today_from = times.partition_point(|&x| x < times[last] - setup.train_ms);
    let (today, _) = best(&score(prices, path, setup, today_from, t_len)?);
    Ok(WalkForwardChoice {
        folds,
        out_of_sample,
        today,
        today_window: (today_from, last),
    })
}
