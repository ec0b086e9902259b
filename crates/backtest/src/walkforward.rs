//! Walk-forward allocation: target weights recomputed from trailing history only, on a
//! reallocation schedule, and traded through the engine's target-change hook
//! ([`run_with_targets`]).
//!
//! Semantics (documented in the CLI help and the report):
//! - **Window.** The targets decided at bar `t` use the prices of bars `[s, t]`, both ends
//!   inclusive: the window *ends at the decision bar*, whose close is known when the
//!   reallocation trades at that same close (the information the trigger already uses). Nothing
//!   after `t` is read. With [`Lookback::Bars`]`(L)`, `s = t − L` (L returns); with
//!   [`Lookback::Millis`]`(D)`, `s` is the first bar at or after `time(t) − D` (365d on daily bars:
//!   365 returns). Returns are SPEC §5's simple per-bar returns of that window.
//! - **Full windows only.** A window is full when the data reaches back to its start: `t ≥ L`
//!   bars, or `time(0) ≤ time(t) − D`. Windows are never truncated.
//! - **Start (deferred).** The run starts at the first bar at or after the requested first bar
//!   (`from`) whose window is full; history before `from` feeds the first window. If that bar is
//!   later than `from`, the start is *deferred* (and reported); if no bar has a full window the
//!   plan fails with an error naming `lookback`. The start bar is the first reallocation and the
//!   bar-0 allocation of the run.
//! - **Reallocation dates.** The `reallocate` rule is a core schedule ([`Trigger`]) evaluated on
//!   the bars of the run as the engine evaluates triggers: anchored at the start bar, bar counts
//!   from the start bar (`every:K` fires on bars start, start+K, …), time schedules on their ticks
//!   (`every:90d`, `daily@…`, `weekly@…`, `cron:…`). Drift rules (thresholds) are rejected: a
//!   reallocation date must not depend on the portfolio.
//! - **Between reallocations** the normal trigger keeps the basket on the targets in force.
//! - **Benchmarks** over the same bars and costs: `equal_weight` (same trigger, equal targets)
//!   and `buy_and_hold` (SPEC §4: the run's bar-0 allocation, i.e. the first walk-forward
//!   targets, never rebalanced).

use crate::engine::{
    self, Config, Outcome, Prices, Record, TargetChange, buy_and_hold, run_with_targets,
};
use smartfolio_alloc::{AllocError, Method, Options, Returns, allocate, latest_known};
use smartfolio_core::trigger::parse_duration_ms;
use smartfolio_core::{Drift, Interval, Schedule, Tick, Trigger, TriggerState, ValidationError};
use smartfolio_data::format_time_ms;
use std::fmt;
use std::str::FromStr;

/// How much trailing history each reallocation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookback {
    /// `L` returns: the bars `[t − L, t]`.
    Bars(usize),
    /// A duration: the bars in `[time(t) − D, time(t)]`.
    Millis(i64),
}

const LOOKBACK_FORMS: &str =
    "a duration such as 365d, 12w or 720h, or a number of bars (>= 2) such as 90";

impl FromStr for Lookback {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return match text.parse::<usize>() {
                Ok(k) if k >= 2 => Ok(Lookback::Bars(k)),
                _ => Err(ValidationError::new("lookback", s, LOOKBACK_FORMS)),
            };
        }
        match parse_duration_ms(text) {
            Some(ms) if ms > 0 => Ok(Lookback::Millis(ms)),
            _ => Err(ValidationError::new("lookback", s, LOOKBACK_FORMS)),
        }
    }
}

impl fmt::Display for Lookback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const H: i64 = 3_600_000;
        match *self {
            Lookback::Bars(k) => write!(f, "{k} bars"),
            Lookback::Millis(ms) if ms % (24 * H) == 0 => write!(f, "{}d", ms / (24 * H)),
            Lookback::Millis(ms) if ms % H == 0 => write!(f, "{}h", ms / H),
            Lookback::Millis(ms) if ms % 60_000 == 0 => write!(f, "{}m", ms / 60_000),
            Lookback::Millis(ms) => write!(f, "{}s", ms as f64 / 1e3),
        }
    }
}

const REALLOCATE_FORMS: &str = "a schedule that does not look at the portfolio: every:90d (any \
     duration from 30m to 3650d, unit m, h, d or w), every:K (bars), daily@HH:MM, \
     weekly@mon/HH:MM, cron:LINE, or RULE|RULE of these";

/// Parse a `--reallocate` rule: the core trigger forms, except that `every:<duration>` may be
/// longer than the live bot's 28 days (reallocations are typically quarterly: `every:90d`).
/// Drift rules are rejected by [`WalkForward::validate`]. Errors name `reallocate`.
pub fn parse_reallocate(text: &str) -> Result<Trigger, ValidationError> {
    let t = text.trim();
    if let Some(d) = t.strip_prefix("every:")
        && !d.bytes().all(|b| b.is_ascii_digit())
        && !d.contains(['+', '|'])
    {
        return match parse_duration_ms(d) {
            Some(ms) if (30 * 60_000..=3650 * 86_400_000).contains(&ms) => Ok(Trigger::Schedule {
                schedule: Schedule::Every(Interval::Millis(ms)),
                min_deviation_pp: None,
            }),
            _ => Err(ValidationError::new("reallocate", text, REALLOCATE_FORMS)),
        };
    }
    t.parse::<Trigger>().map_err(|e| {
        ValidationError::new(
            "reallocate",
            text,
            format!("{REALLOCATE_FORMS} ({})", e.allowed),
        )
    })
}

/// A walk-forward allocation: which method, on how much trailing history, how often.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkForward {
    pub method: Method,
    /// The method's options; `periods_per_year` must be the data's. `market_caps` is ignored:
    /// market-cap methods read the caps at each decision bar from the table passed to
    /// [`WalkForward::plan`].
    pub options: Options,
    /// When to recompute the targets: a schedule (no drift rule).
    pub reallocate: Trigger,
    pub lookback: Lookback,
}

/// One reallocation: the decision bar, its window and the targets it produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Reallocation {
    /// Bar index in the full price matrix (the decision bar; the window ends here).
    pub bar: usize,
    pub time_ms: i64,
    /// First bar of the window (inclusive).
    pub window_from: usize,
    /// Returns used: `bar − window_from`.
    pub n_returns: usize,
    /// Fractions in price-column order, summing to 1.
    pub weights: Vec<f64>,
}

/// The reallocation dates and targets, before any trading.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkForwardPlan {
    /// The first bar of the run (the first reallocation), index into the full price matrix.
    pub start: usize,
    /// The first bar that was asked for; `start > requested` when the start was deferred.
    pub requested: usize,
    pub reallocations: Vec<Reallocation>,
}

/// A walk-forward run and its two benchmarks, all over the bars `[plan.start, T)`.
#[derive(Debug, Clone)]
pub struct WalkForwardRun {
    pub plan: WalkForwardPlan,
    pub walk_forward: Outcome,
    /// Same trigger and costs, equal targets.
    pub equal_weight: Outcome,
    /// The first walk-forward targets bought at the start bar and held.
    pub buy_and_hold: Outcome,
}

/// Why a walk-forward could not run.
#[derive(Debug, Clone, PartialEq)]
pub enum WalkForwardError {
    /// Bad input (names the field, the value and what is allowed).
    Invalid(ValidationError),
    /// The method failed on one window.
    Allocation { time_ms: i64, error: AllocError },
}

impl fmt::Display for WalkForwardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalkForwardError::Invalid(v) => write!(f, "{v}"),
            WalkForwardError::Allocation { time_ms, error } => {
                write!(
                    f,
                    "walk-forward allocation for the window ending {}",
                    format_time_ms(*time_ms)
                )?;
                // A validation error is this error's source (shown by `{:#}` chains).
                match error {
                    AllocError::Invalid(_) => Ok(()),
                    other => write!(f, ": {other}"),
                }
            }
        }
    }
}

impl std::error::Error for WalkForwardError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WalkForwardError::Invalid(v) => Some(v),
            WalkForwardError::Allocation {
                error: AllocError::Invalid(v),
                ..
            } => Some(v),
            WalkForwardError::Allocation { .. } => None,
        }
    }
}

impl From<ValidationError> for WalkForwardError {
    fn from(v: ValidationError) -> Self {
        WalkForwardError::Invalid(v)
    }
}

impl WalkForward {
    /// The reallocation rule must be a schedule without a drift gate.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.reallocate.needs_drift() {
            return Err(ValidationError::new(
                "reallocate",
                self.reallocate.to_string(),
                REALLOCATE_FORMS,
            ));
        }
        Ok(())
    }

    /// The first bar of the full window ending at bar `t`, or `None` when the data does not
    /// reach back far enough (or the window has fewer than 2 returns).
    pub fn window_start(&self, times_ms: &[i64], t: usize) -> Option<usize> {
        let s = match self.lookback {
            Lookback::Bars(k) => t.checked_sub(k)?,
            Lookback::Millis(d) => {
                let from = times_ms[t].checked_sub(d)?;
                if times_ms[0] > from {
                    return None;
                }
                times_ms[..=t].partition_point(|&x| x < from)
            }
        };
        (t - s >= 2).then_some(s)
    }

    /// Reallocation dates and targets for a run starting at or after bar `from` (deferred to
    /// the first full window). `assets` names the price columns; `market_caps` (row-major
    /// `T × N`, NaN where unknown) is needed by the market-cap methods, read at each decision
    /// bar (latest known value at or before it).
    pub fn plan(
        &self,
        prices: Prices<'_>,
        assets: &[String],
        market_caps: Option<&[f64]>,
        from: usize,
    ) -> Result<WalkForwardPlan, WalkForwardError> {
        self.validate()?;
        let n = prices.n_assets();
        let times = prices.times_ms();
        let t_len = prices.n_bars();
        if assets.len() != n {
            return Err(ValidationError::new(
                "assets",
                format!("{} names", assets.len()),
                format!("one name per price column ({n})"),
            )
            .into());
        }
        if from >= t_len {
            return Err(ValidationError::new(
                "from",
                format!("bar {from}"),
                format!("a bar of the data (0..{t_len})"),
            )
            .into());
        }
        let start = (from..t_len)
            .find(|&t| self.window_start(times, t).is_some())
            .ok_or_else(|| {
                ValidationError::new(
                    "lookback",
                    self.lookback.to_string(),
                    format!(
                        "a window that fits in the data before the last bar: the data has {} \
                         bars from {} to {}, and the run may start from {}",
                        t_len,
                        format_time_ms(times[0]),
                        format_time_ms(times[t_len - 1]),
                        format_time_ms(times[from])
                    ),
                )
            })?;

        let mut state = TriggerState::new(times[start], 0);
        let mut reallocations = Vec::new();
        for (t, &now_ms) in times.iter().enumerate().skip(start) {
            let fired = t == start
                || self
                    .reallocate
                    .evaluate(
                        &state,
                        Tick {
                            now_ms,
                            bar: (t - start) as u64,
                        },
                        || Drift::ZERO,
                    )
                    .is_some();
            state.observe(now_ms, fired);
            if fired {
                reallocations.push(self.decide(prices, assets, market_caps, t)?);
            }
        }
        Ok(WalkForwardPlan {
            start,
            requested: from,
            reallocations,
        })
    }

    /// The targets decided at bar `t` from the window ending at `t`.
    fn decide(
        &self,
        prices: Prices<'_>,
        assets: &[String],
        market_caps: Option<&[f64]>,
        t: usize,
    ) -> Result<Reallocation, WalkForwardError> {
        let n = prices.n_assets();
        let times = prices.times_ms();
        let s = self
            .window_start(times, t)
            .expect("decision bars have full windows");
        let window = &prices.values()[s * n..(t + 1) * n];
        let fail = |error| WalkForwardError::Allocation {
            time_ms: times[t],
            error,
        };
        let returns = Returns::from_prices(assets.to_vec(), window).map_err(fail)?;
        let mut opts = self.options.clone();
        opts.market_caps = None;
        if self.method.needs_market_caps() {
            let Some(caps) = market_caps else {
                return Err(ValidationError::new(
                    "market_caps",
                    "none in the data",
                    format!("a market_cap column for every asset ({})", self.method),
                )
                .into());
            };
            let known = latest_known(caps, n, t);
            let mut values = Vec::with_capacity(n);
            for (k, c) in known.iter().enumerate() {
                match c {
                    Some((_, v)) => values.push(*v),
                    None => {
                        return Err(ValidationError::new(
                            "market_caps",
                            format!(
                                "none for {} on or before {}",
                                assets[k],
                                format_time_ms(times[t])
                            ),
                            "a known market cap for every asset at each reallocation",
                        )
                        .into());
                    }
                }
            }
            opts.market_caps = Some(values);
        }
        let alloc = allocate(self.method, &returns, &opts).map_err(fail)?;
        Ok(Reallocation {
            bar: t,
            time_ms: times[t],
            window_from: s,
            n_returns: t - s,
            weights: alloc.weights,
        })
    }

    /// Plan, then run the walk-forward, equal weight and buy-and-hold over the bars
    /// `[plan.start, T)` with `trigger` and `cfg`'s costs (`cfg.targets` is not used).
    /// Bar indices in the outcomes (trades, equity) are relative to `plan.start`.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        prices: Prices<'_>,
        assets: &[String],
        market_caps: Option<&[f64]>,
        from: usize,
        trigger: &Trigger,
        cfg: &Config,
        record: Record,
    ) -> Result<WalkForwardRun, WalkForwardError> {
        let plan = self.plan(prices, assets, market_caps, from)?;
        let n = prices.n_assets();
        let s = plan.start;
        let slice = Prices::new(&prices.times_ms()[s..], &prices.values()[s * n..], n)?;
        let changes: Vec<TargetChange> = plan
            .reallocations
            .iter()
            .map(|r| TargetChange {
                bar: r.bar - s,
                weights: r.weights.clone(),
            })
            .collect();
        let first = Config {
            targets: plan.reallocations[0].weights.clone(),
            ..cfg.clone()
        };
        let equal = Config {
            targets: vec![1.0 / n as f64; n],
            ..cfg.clone()
        };
        let walk_forward = run_with_targets(slice, trigger, &first, &changes, record)?;
        let equal_weight = engine::run(slice, trigger, &equal, record)?;
        let buy_and_hold = buy_and_hold(slice, &first, record)?;
        Ok(WalkForwardRun {
            plan,
            walk_forward,
            equal_weight,
            buy_and_hold,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic correlated random walk with assets of different volatilities.
    fn walk(n: usize, bars: usize, bar_ms: i64, seed: u64) -> (Vec<i64>, Vec<f64>) {
        let mut rng = Lcg(seed);
        let mut p: Vec<f64> = (0..n).map(|i| 10.0 + 5.0 * i as f64).collect();
        let mut out = Vec::with_capacity(n * bars);
        for _ in 0..bars {
            let common = rng.unif();
            for (i, x) in p.iter_mut().enumerate() {
                *x *= 1.0 + 0.01 * common + 0.01 * (1 + i) as f64 * rng.unif();
                out.push(*x);
            }
        }
        let start = 1_600_000_000_000 / bar_ms * bar_ms;
        ((0..bars as i64).map(|t| start + t * bar_ms).collect(), out)
    }

    struct Lcg(u64);
    impl Lcg {
        /// Uniform in [−0.5, 0.5).
        fn unif(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
        }
    }

    const DAY: i64 = 86_400_000;
    const HOUR: i64 = 3_600_000;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("A{i}")).collect()
    }

    fn wf(method: Method, reallocate: &str, lookback: &str) -> WalkForward {
        WalkForward {
            method,
            options: Options::default(),
            reallocate: parse_reallocate(reallocate).unwrap(),
            lookback: lookback.parse().unwrap(),
        }
    }

    #[test]
    fn no_look_ahead_altering_every_later_price_changes_nothing_up_to_t() {
        let cases = [
            (Method::Hrp, "every:50", "100", DAY, "threshold:5"),
            (Method::MinVariance, "every:3d", "120h", HOUR, "every:24"),
            (Method::RiskParity, "every:40d", "30d", DAY, "every:7d"),
            (
                Method::InverseVol,
                "weekly@mon/00:00",
                "14d",
                HOUR,
                "threshold:2",
            ),
        ];
        for (method, realloc, lookback, bar_ms, trig) in cases {
            let n = 4;
            let (times, p) = walk(n, 700, bar_ms, 42);
            let w = wf(method, realloc, lookback);
            let trigger: Trigger = trig.parse().unwrap();
            let cfg = Config::new(vec![0.25; 4]);
            let px = Prices::new(&times, &p, n).unwrap();
            let base = w
                .run(px, &names(n), None, 0, &trigger, &cfg, Record::ALL)
                .unwrap();
            assert!(base.plan.reallocations.len() >= 4, "{method}");
            let mut rng = Lcg(7);
            let s = base.plan.start;
            for cut in [s, s + 1, s + (700 - s) / 3, s + (700 - s) * 2 / 3, 698] {
                let mut q = p.clone();
                for x in &mut q[(cut + 1) * n..] {
                    // A random factor in [0.5, 1.5) on every price after the cut.
                    *x *= 1.0 + rng.unif();
                }
                let alt = w
                    .run(
                        Prices::new(&times, &q, n).unwrap(),
                        &names(n),
                        None,
                        0,
                        &trigger,
                        &cfg,
                        Record::ALL,
                    )
                    .unwrap();
                assert_eq!(alt.plan.start, base.plan.start);
                let upto = |r: &WalkForwardRun| -> Vec<Reallocation> {
                    r.plan
                        .reallocations
                        .iter()
                        .filter(|x| x.bar <= cut)
                        .cloned()
                        .collect()
                };
                assert!(!upto(&base).is_empty());
                assert_eq!(upto(&base), upto(&alt), "{method} cut {cut}");
                let k = cut - base.plan.start + 1;
                assert_eq!(
                    base.walk_forward.equity[..k],
                    alt.walk_forward.equity[..k],
                    "{method} cut {cut}"
                );
                assert_eq!(base.equal_weight.equity[..k], alt.equal_weight.equity[..k]);
                assert_eq!(base.buy_and_hold.equity[..k], alt.buy_and_hold.equity[..k]);
                // The alteration is real: later targets (if any) and the final value move.
                let later_base: Vec<_> = base
                    .plan
                    .reallocations
                    .iter()
                    .filter(|x| x.bar > cut)
                    .collect();
                let later_alt: Vec<_> = alt
                    .plan
                    .reallocations
                    .iter()
                    .filter(|x| x.bar > cut)
                    .collect();
                if later_base.iter().any(|r| r.bar >= cut + 3) {
                    assert_ne!(later_base, later_alt, "{method} cut {cut}");
                }
                assert_ne!(base.walk_forward.final_value, alt.walk_forward.final_value);
            }
        }
    }

    #[test]
    fn targets_are_the_method_on_the_window_ending_at_the_decision_bar() {
        let n = 5;
        let (times, p) = walk(n, 400, DAY, 3);
        let px = Prices::new(&times, &p, n).unwrap();
        let w = wf(Method::Hrp, "every:30", "60");
        let plan = w.plan(px, &names(n), None, 0).unwrap();
        assert_eq!(plan.start, 60);
        let bars: Vec<usize> = plan.reallocations.iter().map(|r| r.bar).collect();
        let want: Vec<usize> = (60..400).step_by(30).collect();
        assert_eq!(bars, want);
        for r in &plan.reallocations {
            assert_eq!((r.window_from, r.n_returns), (r.bar - 60, 60));
            let window = &p[(r.bar - 60) * n..(r.bar + 1) * n];
            let ret = Returns::from_prices(names(n), window).unwrap();
            let direct = allocate(Method::Hrp, &ret, &Options::default()).unwrap();
            assert_eq!(r.weights, direct.weights);
            assert_eq!(r.time_ms, times[r.bar]);
            assert!((r.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        // The run trades to each set of targets at its decision bar's close.
        let run = w
            .run(
                px,
                &names(n),
                None,
                0,
                &"threshold:50".parse().unwrap(),
                &Config::new(vec![0.2; 5]),
                Record::ALL,
            )
            .unwrap();
        assert_eq!(run.walk_forward.n_rebalances, plan.reallocations.len());
        for r in &plan.reallocations {
            let k = r.bar - plan.start;
            for i in 0..n {
                assert!((run.walk_forward.weights[k * n + i] - r.weights[i]).abs() < 1e-12);
            }
        }
        assert_eq!(run.buy_and_hold.n_rebalances, 1);
        assert_eq!(run.walk_forward.equity.len(), 400 - 60);
    }

    #[test]
    fn duration_lookback_counts_bars_by_time() {
        let n = 3;
        let (times, p) = walk(n, 300, HOUR, 9);
        let px = Prices::new(&times, &p, n).unwrap();
        let w = wf(Method::InverseVol, "every:1d", "4d");
        let plan = w.plan(px, &names(n), None, 0).unwrap();
        assert_eq!(plan.start, 96);
        assert_eq!(plan.reallocations[0].window_from, 0);
        assert_eq!(plan.reallocations[0].n_returns, 96);
        // every:1d is anchored at the start bar: one reallocation every 24 bars.
        for (k, r) in plan.reallocations.iter().enumerate() {
            assert_eq!(r.bar, 96 + 24 * k);
            assert_eq!(times[r.bar] - times[r.window_from], 4 * DAY);
        }
    }

    #[test]
    fn a_lookback_longer_than_the_history_defers_the_start_or_fails_naming_lookback() {
        let n = 3;
        let (times, p) = walk(n, 200, DAY, 1);
        let px = Prices::new(&times, &p, n).unwrap();
        // From bar 0 with 100 bars of lookback: deferred to bar 100.
        let w = wf(Method::Hrp, "every:10", "100");
        let plan = w.plan(px, &names(n), None, 0).unwrap();
        assert_eq!((plan.requested, plan.start), (0, 100));
        // From bar 150, history before it feeds the window: no deferral.
        let plan = w.plan(px, &names(n), None, 150).unwrap();
        assert_eq!((plan.requested, plan.start), (150, 150));
        assert_eq!(plan.reallocations[0].window_from, 50);
        // Longer than the whole history: an error naming the lookback.
        for lb in ["200", "365d"] {
            let w = wf(Method::Hrp, "every:10", lb);
            let e = w.plan(px, &names(n), None, 0).unwrap_err();
            match &e {
                WalkForwardError::Invalid(v) => assert_eq!(v.field, "lookback", "{e}"),
                other => panic!("{other}"),
            }
            assert!(e.to_string().contains("lookback"), "{e}");
        }
        // 199 bars fit exactly: the run is the last bar only.
        let w = wf(Method::Hrp, "every:10", "199");
        let plan = w.plan(px, &names(n), None, 0).unwrap();
        assert_eq!(plan.start, 199);
    }

    #[test]
    fn bad_settings_name_the_field() {
        for bad in ["0", "1", "abc", "-5d", "0d", ""] {
            assert_eq!(
                bad.parse::<Lookback>().unwrap_err().field,
                "lookback",
                "{bad}"
            );
        }
        assert_eq!("90".parse::<Lookback>().unwrap(), Lookback::Bars(90));
        assert_eq!(
            "365d".parse::<Lookback>().unwrap(),
            Lookback::Millis(365 * DAY)
        );
        assert_eq!(Lookback::Millis(365 * DAY).to_string(), "365d");
        for (text, shown) in [
            ("every:90d", "every:90d"),
            ("every:12w", "every:12w"),
            ("every:30", "every:30"),
            ("weekly@mon/00:00", "weekly@mon/00:00"),
        ] {
            assert_eq!(parse_reallocate(text).unwrap().to_string(), shown);
        }
        for bad in ["every:0d", "every:5000d", "every:", "sometimes", "every:1x"] {
            assert_eq!(
                parse_reallocate(bad).unwrap_err().field,
                "reallocate",
                "{bad}"
            );
        }
        let n = 2;
        let (times, p) = walk(n, 50, DAY, 1);
        let px = Prices::new(&times, &p, n).unwrap();
        let w = wf(Method::Hrp, "threshold:5", "10");
        match w.plan(px, &names(n), None, 0).unwrap_err() {
            WalkForwardError::Invalid(v) => assert_eq!(v.field, "reallocate"),
            other => panic!("{other}"),
        }
        let w = wf(Method::MarketCap, "every:10", "10");
        match w.plan(px, &names(n), None, 0).unwrap_err() {
            WalkForwardError::Invalid(v) => assert_eq!(v.field, "market_caps"),
            other => panic!("{other}"),
        }
        // Bounds that no weights can meet fail on the first window, with the date.
        let mut w = wf(Method::Hrp, "every:10", "10");
        w.options.max_weight = Some(0.3);
        let e = w.plan(px, &names(n), None, 0).unwrap_err();
        assert!(matches!(e, WalkForwardError::Allocation { .. }), "{e}");
        assert!(std::error::Error::source(&e).is_some(), "{e}");
        assert!(e.to_string().contains(&format_time_ms(times[10])), "{e}");
    }

    #[test]
    fn market_cap_targets_use_caps_known_at_the_decision_bar() {
        let n = 2;
        let (times, p) = walk(n, 60, DAY, 1);
        let px = Prices::new(&times, &p, n).unwrap();
        // Caps: asset 0 always 3, asset 1 is 1 until bar 30, then 3 (NaN gaps in between).
        let mut caps = vec![f64::NAN; 60 * n];
        for t in 0..60 {
            if t % 7 == 0 {
                caps[t * n] = 3.0;
                caps[t * n + 1] = if t < 30 { 1.0 } else { 3.0 };
            }
        }
        let w = wf(Method::MarketCap, "every:10", "10");
        let plan = w.plan(px, &names(n), Some(&caps), 0).unwrap();
        for r in &plan.reallocations {
            // Latest cap at or before the bar: the change at bar 35 is seen from bar 35 on.
            let want = if r.bar >= 35 {
                [0.5, 0.5]
            } else {
                [0.75, 0.25]
            };
            assert!((r.weights[0] - want[0]).abs() < 1e-12, "{r:?}");
            assert!((r.weights[1] - want[1]).abs() < 1e-12, "{r:?}");
        }
    }
}
