//! Performance metrics of a run, accumulated while the engine runs (no second pass, no stored
//! curve needed).
//!
//! Definitions (all documented in the CLI's `--help` and the JSON keys):
//! - The equity curve is the post-trade portfolio value at every bar close (bar 0 included,
//!   after the initial allocation and its fees).
//! - `total_return = final_value / capital − 1`.
//! - `cagr = (final_value / capital)^(1 / years) − 1` with `years` = calendar time between the
//!   first and the last bar in days / 365.25 (so a leap year is 366 / 365.25 years). NaN when the
//!   range has no length.
//! - Per-bar simple returns `r_t = E_t / E_{t−1} − 1` (T − 1 of them). `volatility` is their
//!   sample standard deviation (ddof 1) × √ppy; `sharpe = mean / std × √ppy` (risk-free rate 0);
//!   `sortino = mean / dd × √ppy` with the downside deviation `dd = √(Σ min(r, 0)² / (T − 1))`.
//!   `ppy` (periods per year) comes from the bar spacing: 8760 hourly, 365 daily.
//! - `max_drawdown = max_t (1 − E_t / max_{s ≤ t} E_s)`, a positive fraction (0.25 is a 25 %
//!   fall), with the dates of its peak, its trough and its recovery (the first bar after the
//!   trough back at or above the peak; none when it never recovered).
//! - `calmar = cagr / max_drawdown` (NaN without a drawdown).
//! - `turnover = Σ |traded notional| after bar 0 / mean equity` over the whole run (not
//!   annualised; the initial allocation is not turnover, so buy-and-hold has 0).
//! - `rebalancing_gain = strategy final value / buy-and-hold final value − 1`.
//!
//! Undefined ratios are NaN (and `null` in JSON).

use crate::engine::Outcome;

/// Streaming statistics of an equity curve: one `push` per bar, no allocation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EquityStats {
    n: usize,
    first: f64,
    prev: f64,
    sum_equity: f64,
    // Returns, shifted by the first one for a stable variance.
    n_ret: usize,
    shift: f64,
    sum_d: f64,
    sum_d2: f64,
    down2: f64,
    // Drawdown.
    peak_v: f64,
    peak_i: usize,
    mdd: f64,
    mdd_peak_v: f64,
    mdd_peak_i: usize,
    mdd_trough_i: usize,
    mdd_recovery_i: Option<usize>,
}

impl EquityStats {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add the next bar's equity.
    #[inline]
    pub fn push(&mut self, v: f64) {
        let i = self.n;
        if i == 0 {
            self.first = v;
            self.peak_v = v;
        } else {
            let r = v / self.prev - 1.0;
            if self.n_ret == 0 {
                self.shift = r;
            }
            let d = r - self.shift;
            self.sum_d += d;
            self.sum_d2 += d * d;
            let neg = r.min(0.0);
            self.down2 += neg * neg;
            self.n_ret += 1;
            if v >= self.peak_v {
                self.peak_v = v;
                self.peak_i = i;
                if self.mdd_recovery_i.is_none() && self.mdd > 0.0 && v >= self.mdd_peak_v {
                    self.mdd_recovery_i = Some(i);
                }
            } else if self.peak_v - v > self.mdd * self.peak_v {
                self.mdd = (self.peak_v - v) / self.peak_v;
                self.mdd_peak_v = self.peak_v;
                self.mdd_peak_i = self.peak_i;
                self.mdd_trough_i = i;
                self.mdd_recovery_i = None;
            }
        }
        self.prev = v;
        self.sum_equity += v;
        self.n += 1;
    }

    /// Bars pushed.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn mean_equity(&self) -> f64 {
        self.sum_equity / self.n as f64
    }

    /// Mean per-bar return.
    pub fn mean_return(&self) -> f64 {
        if self.n_ret == 0 {
            return f64::NAN;
        }
        self.shift + self.sum_d / self.n_ret as f64
    }

    /// Sample standard deviation (ddof 1) of per-bar returns.
    pub fn std_return(&self) -> f64 {
        if self.n_ret < 2 {
            return f64::NAN;
        }
        let n = self.n_ret as f64;
        ((self.sum_d2 - self.sum_d * self.sum_d / n) / (n - 1.0))
            .max(0.0)
            .sqrt()
    }

    /// `√(Σ min(r, 0)² / n)`.
    pub fn downside_deviation(&self) -> f64 {
        if self.n_ret == 0 {
            return f64::NAN;
        }
        (self.down2 / self.n_ret as f64).sqrt()
    }

    /// Maximum drawdown as a positive fraction, with (peak, trough, recovery) bar indices.
    pub fn max_drawdown(&self) -> (f64, Option<(usize, usize, Option<usize>)>) {
        if self.mdd > 0.0 {
            (
                self.mdd,
                Some((self.mdd_peak_i, self.mdd_trough_i, self.mdd_recovery_i)),
            )
        } else {
            (0.0, None)
        }
    }
}

/// The figures reported for one strategy (or for buy-and-hold).
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub final_value: f64,
    pub total_return: f64,
    pub cagr: f64,
    pub volatility: f64,
    pub sharpe: f64,
    pub sortino: f64,
    pub max_drawdown: f64,
    pub max_drawdown_peak_ms: Option<i64>,
    pub max_drawdown_trough_ms: Option<i64>,
    pub max_drawdown_recovery_ms: Option<i64>,
    pub calmar: f64,
    pub n_rebalances: usize,
    pub total_fees: f64,
    pub total_slippage: f64,
    pub turnover: f64,
    pub skipped_legs: usize,
}

/// Calendar years between two instants: days / 365.25.
pub fn years_between(first_ms: i64, last_ms: i64) -> f64 {
    (last_ms - first_ms) as f64 / (365.25 * 86_400_000.0)
}

impl Metrics {
    /// Metrics of `o`, a run over bars at `times_ms` that started with `capital`;
    /// `periods_per_year` annualises per-bar figures.
    pub fn compute(o: &Outcome, times_ms: &[i64], capital: f64, periods_per_year: f64) -> Metrics {
        let s = &o.stats;
        let growth = o.final_value / capital;
        let (first, last) = match (times_ms.first(), times_ms.last()) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (0, 0),
        };
        let years = years_between(first, last);
        let cagr = if years > 0.0 {
            growth.powf(1.0 / years) - 1.0
        } else {
            f64::NAN
        };
        let sq = periods_per_year.sqrt();
        let mean = s.mean_return();
        let std = s.std_return();
        let dd = s.downside_deviation();
        let ratio = |num: f64, den: f64| if den > 0.0 { num / den * sq } else { f64::NAN };
        let (mdd, idx) = s.max_drawdown();
        let at = |i: usize| times_ms.get(i).copied();
        Metrics {
            final_value: o.final_value,
            total_return: growth - 1.0,
            cagr,
            volatility: std * sq,
            sharpe: ratio(mean, std),
            sortino: ratio(mean, dd),
            max_drawdown: mdd,
            max_drawdown_peak_ms: idx.and_then(|(p, _, _)| at(p)),
            max_drawdown_trough_ms: idx.and_then(|(_, t, _)| at(t)),
            max_drawdown_recovery_ms: idx.and_then(|(_, _, r)| r.and_then(at)),
            calmar: if mdd > 0.0 { cagr / mdd } else { f64::NAN },
            n_rebalances: o.n_rebalances,
            total_fees: o.total_fees,
            total_slippage: o.total_slippage,
            turnover: if s.is_empty() {
                f64::NAN
            } else {
                o.traded_notional / s.mean_equity()
            },
            skipped_legs: o.skipped_legs,
        }
    }
}

/// Strategy against buy-and-hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub strategy: Metrics,
    pub buy_and_hold: Metrics,
    /// `strategy.final_value / buy_and_hold.final_value − 1`.
    pub rebalancing_gain: f64,
}

impl Summary {
    pub fn new(strategy: Metrics, buy_and_hold: Metrics) -> Self {
        let rebalancing_gain = strategy.final_value / buy_and_hold.final_value - 1.0;
        Self {
            strategy,
            buy_and_hold,
            rebalancing_gain,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn outcome(curve: &[f64]) -> Outcome {
        let mut o = Outcome::default();
        for &v in curve {
            o.stats.push(v);
        }
        o.final_value = *curve.last().unwrap();
        o
    }

    fn days(n: usize) -> Vec<i64> {
        (0..n as i64).map(|d| 1_704_067_200_000 + d * DAY).collect()
    }

    #[test]
    fn drawdown_dates_peak_trough_recovery() {
        // Peak 120 on day 1, trough 90 on day 2 (−25 %), back to 120+ on day 4 (130).
        // The later 130 → 125 dip is smaller and does not replace it.
        let curve = [100.0, 120.0, 90.0, 110.0, 130.0, 125.0];
        let t = days(curve.len());
        let m = Metrics::compute(&outcome(&curve), &t, 100.0, 365.0);
        assert!((m.max_drawdown - 0.25).abs() < 1e-15);
        assert_eq!(m.max_drawdown_peak_ms, Some(t[1]));
        assert_eq!(m.max_drawdown_trough_ms, Some(t[2]));
        assert_eq!(m.max_drawdown_recovery_ms, Some(t[4]));
    }

    #[test]
    fn drawdown_without_recovery_and_a_deeper_second_fall() {
        // First dip 100 → 80 (−20 %) recovers on day 3; then 150 → 90 (−40 %) never recovers.
        let curve = [100.0, 80.0, 95.0, 100.0, 150.0, 120.0, 90.0, 140.0];
        let t = days(curve.len());
        let m = Metrics::compute(&outcome(&curve), &t, 100.0, 365.0);
        assert!((m.max_drawdown - 0.4).abs() < 1e-15);
        assert_eq!(m.max_drawdown_peak_ms, Some(t[4]));
        assert_eq!(m.max_drawdown_trough_ms, Some(t[6]));
        assert_eq!(m.max_drawdown_recovery_ms, None);
        // A rising curve has no drawdown and no Calmar.
        let m = Metrics::compute(&outcome(&[1.0, 2.0, 3.0]), &days(3), 1.0, 365.0);
        assert_eq!(m.max_drawdown, 0.0);
        assert_eq!(m.max_drawdown_peak_ms, None);
        assert!(m.calmar.is_nan());
    }

    #[test]
    fn sharpe_sortino_volatility_on_a_known_series() {
        // Returns +1 %, −0.5 %, +1 %: mean 0.005, sample variance
        // (0.005² + 0.01² + 0.005²) / 2 = 7.5e-5; downside Σ min(r,0)² / 3 = 0.005² / 3.
        let curve = [100.0, 101.0, 101.0 * 0.995, 101.0 * 0.995 * 1.01];
        let t = days(curve.len());
        let m = Metrics::compute(&outcome(&curve), &t, 100.0, 365.0);
        let sq = 365.0_f64.sqrt();
        let std = 7.5e-5_f64.sqrt();
        assert!((m.volatility - std * sq).abs() < 1e-12, "{}", m.volatility);
        assert!((m.sharpe - 0.005 / std * sq).abs() < 1e-9, "{}", m.sharpe);
        let dd = (0.005_f64 * 0.005 / 3.0).sqrt();
        assert!((m.sortino - 0.005 / dd * sq).abs() < 1e-9, "{}", m.sortino);
        // A constant-growth curve has zero volatility, so no Sharpe.
        let flat = [1.0, 1.01, 1.0201, 1.030301];
        let m = Metrics::compute(&outcome(&flat), &days(4), 1.0, 365.0);
        assert!(m.volatility.abs() < 1e-12);
    }

    #[test]
    fn cagr_over_a_leap_year_uses_365_25_day_years() {
        // 2024-01-01 → 2025-01-01 is 366 days: doubling gives 2^(365.25/366) − 1, a bit under 100 %.
        let t = [1_704_067_200_000, 1_735_689_600_000];
        assert_eq!(t[1] - t[0], 366 * DAY);
        let m = Metrics::compute(&outcome(&[100.0, 200.0]), &t, 100.0, 365.0);
        let expect = 2.0_f64.powf(365.25 / 366.0) - 1.0;
        assert!((m.cagr - expect).abs() < 1e-15, "{}", m.cagr);
        assert!(m.cagr < 1.0);
        assert!((m.total_return - 1.0).abs() < 1e-15);
        // Four calendar years including one leap day: exactly 4 years of 365.25 days.
        let t4 = [1_577_836_800_000, 1_577_836_800_000 + 1461 * DAY]; // 2020-01-01 → 2024-01-01
        let m = Metrics::compute(&outcome(&[100.0, 1600.0]), &t4, 100.0, 365.0);
        assert!((m.cagr - 1.0).abs() < 1e-12, "{}", m.cagr);
    }

    #[test]
    fn turnover_is_traded_notional_over_mean_equity() {
        let mut o = outcome(&[100.0, 110.0, 90.0]);
        o.traded_notional = 50.0;
        let m = Metrics::compute(&o, &days(3), 100.0, 365.0);
        assert!((m.turnover - 0.5).abs() < 1e-15);
        let s = Summary::new(
            m.clone(),
            Metrics {
                final_value: 80.0,
                ..m
            },
        );
        assert!((s.rebalancing_gain - (90.0 / 80.0 - 1.0)).abs() < 1e-15);
    }
}
