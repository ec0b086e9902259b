//! The f64 rebalancing engine (SPEC §4).
//!
//! Semantics, shared with the peers in `../shared/peers` (`ref_rebalance.py` is the oracle):
//! - A bar has one price, its close; valuation and trading both use it.
//! - Bar 0 is the initial allocation from cash; it counts as a rebalance.
//! - At each later bar close, before trading, the trigger is evaluated with
//!   [`Trigger::evaluate`] (the same code the live bot runs), with a [`TriggerState`] whose
//!   cooldown is 0, `Tick { now_ms: times_ms[t], bar: t }` and the drift of the pre-trade weights.
//! - A triggered bar trades at its close, sells first, then buys (each group in column order,
//!   except the `vbt` model, which follows vectorbt's `call_seq='auto'` order).
//! - Final value = `cash + Σ q_i p_{T−1}` after any trade on the last bar; nothing is liquidated.
//! - Targets may change during a run ([`run_with_targets`], the walk-forward hook): at a
//!   change's bar the basket is rebalanced to the new targets at the close, and the trigger
//!   measures drift from them afterwards. Every other entry point runs with no changes.
//!
//! Costs:
//! - [`FeeModel::Exact`] (default): every asset goes to exactly `t_i V'`, with `V'` from
//!   `smartfolio_core::fee::post_fee_value` (SPEC §3). With slippage `s > 0` buys cost
//!   `(1+s)(1+f) − 1` and sells `1 − (1−s)(1−f)` of their mark notional; `V'` then solves the same
//!   convex piecewise-linear equation with these two rates ([`post_cost_value`]), so the
//!   post-trade weights are still exactly the targets (valued at the close).
//! - [`FeeModel::Bt`]: bt's native `Rebalance`: `a_i = t_i V − h_i` is the cash flowing into or out
//!   of asset i, fee included.
//! - [`FeeModel::Vbt`]: vectorbt's native `targetpercent`: trade to `t_i V / p_i` units, orders
//!   sorted by `t_i V − h_i` (stable), each buy cut to the cash available.
//! - Slippage (bps) moves the execution price: buys at `p(1+s)`, sells at `p(1−s)`. The fee is
//!   a fraction of the executed notional. With `s = 0` the arithmetic is the oracle's.
//! - A leg whose executed notional is below `min_trade` is skipped and counted in
//!   `skipped_legs`. If skipped sells leave the buys short of cash, the buys are scaled down pro
//!   rata (SPEC §3); a triggered bar counts as a rebalance even when every leg was skipped.
//!
//! Speed: a plain `threshold:X` run ([`run`]) does not call a closure per bar. Between two
//! rebalances nothing but the prices changes, so the fixed-size loops scan the held bars with
//! the quantities and targets in registers, the pre-trade value and the drift in the same
//! operations and order as the per-bar path, and the division `m / V` only when `m` comes
//! within `1e-9` (relative) of `limit · V` (see `hold_until`); where the CPU has AVX2 that scan
//! is compiled for it (same operations, same bits), chosen at run time.

// Index loops walk several same-length slices together (holdings, quantities, prices, targets);
// with the basket size a constant they unroll fully, which is the point of `simulate_n`.
#![allow(clippy::needless_range_loop)]

use crate::metrics::EquityStats;
use smartfolio_core::fee::post_fee_value;
use smartfolio_core::trigger::TIE_EPS;
use smartfolio_core::{Drift, Tick, Trigger, TriggerState, ValidationError, limits};
use std::fmt;
use std::str::FromStr;

/// A borrowed, row-major `T × N` close-price matrix and its bar times. The engine and the
/// sweep only ever read through this view, so a sweep shares one matrix between all its runs.
#[derive(Debug, Clone, Copy)]
pub struct Prices<'a> {
    times_ms: &'a [i64],
    prices: &'a [f64],
    n_assets: usize,
}

impl<'a> Prices<'a> {
    /// Checks the shape (`prices.len() == times_ms.len() * n_assets`, at least one bar and one
    /// asset) and that every price is finite and positive.
    pub fn new(
        times_ms: &'a [i64],
        prices: &'a [f64],
        n_assets: usize,
    ) -> Result<Self, ValidationError> {
        if n_assets == 0 || times_ms.is_empty() {
            return Err(ValidationError::new(
                "prices",
                format!("{} bars x {n_assets} assets", times_ms.len()),
                "at least one bar and one asset",
            ));
        }
        if prices.len() != times_ms.len() * n_assets {
            return Err(ValidationError::new(
                "prices",
                format!(
                    "{} values for {} bars x {n_assets} assets",
                    prices.len(),
                    times_ms.len()
                ),
                "a row-major matrix of bars x assets",
            ));
        }
        if let Some(k) = prices.iter().position(|p| !(p.is_finite() && *p > 0.0)) {
            return Err(ValidationError::new(
                "prices",
                format!(
                    "{} at bar {}, asset {}",
                    prices[k],
                    k / n_assets,
                    k % n_assets
                ),
                "finite prices > 0",
            ));
        }
        Ok(Self {
            times_ms,
            prices,
            n_assets,
        })
    }

    pub fn n_bars(&self) -> usize {
        self.times_ms.len()
    }

    pub fn n_assets(&self) -> usize {
        self.n_assets
    }

    pub fn times_ms(&self) -> &'a [i64] {
        self.times_ms
    }

    /// Row-major `T × N` prices.
    pub fn values(&self) -> &'a [f64] {
        self.prices
    }

    #[inline]
    pub fn row(&self, t: usize) -> &'a [f64] {
        &self.prices[t * self.n_assets..(t + 1) * self.n_assets]
    }
}

impl<'a> TryFrom<&'a smartfolio_data::PriceTable> for Prices<'a> {
    type Error = ValidationError;
    fn try_from(t: &'a smartfolio_data::PriceTable) -> Result<Self, ValidationError> {
        Prices::new(&t.times_ms, &t.prices, t.n_assets())
    }
}

/// How fees interact with the target at a rebalance (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeeModel {
    #[default]
    Exact,
    Bt,
    Vbt,
}

impl FromStr for FeeModel {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "exact" => Ok(FeeModel::Exact),
            "bt" => Ok(FeeModel::Bt),
            "vbt" | "vectorbt" => Ok(FeeModel::Vbt),
            _ => Err(ValidationError::new("fee-model", s, "exact, bt or vbt")),
        }
    }
}

impl fmt::Display for FeeModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FeeModel::Exact => "exact",
            FeeModel::Bt => "bt",
            FeeModel::Vbt => "vbt",
        })
    }
}

/// Everything about a run except the trigger and the prices.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Target weights in price-column order, as fractions; `Σ ≤ 1`, the rest stays cash.
    pub targets: Vec<f64>,
    /// Starting cash, in quote.
    pub capital: f64,
    pub fee_model: FeeModel,
    /// Fee as a fraction of traded notional (0.001 = 0.1 %).
    pub fee_rate: f64,
    /// Slippage in basis points of the price: buys at `p(1+s)`, sells at `p(1−s)`.
    pub slippage_bps: f64,
    /// Legs whose executed notional is below this are skipped (0 = no minimum).
    pub min_trade: f64,
}

impl Config {
    /// Targets with the defaults: capital 10,000, exact fees at 0.1 %, no slippage, no minimum.
    pub fn new(targets: Vec<f64>) -> Self {
        Self {
            targets,
            capital: 10_000.0,
            fee_model: FeeModel::Exact,
            fee_rate: 0.001,
            slippage_bps: 0.0,
            min_trade: 0.0,
        }
    }

    /// Rejects values the engine cannot run with, naming the field, the value and what is allowed.
    pub fn validate(&self, n_assets: usize) -> Result<(), ValidationError> {
        if self.targets.len() != n_assets {
            return Err(ValidationError::new(
                "targets",
                format!("{} weights", self.targets.len()),
                format!("one weight per asset ({n_assets})"),
            ));
        }
        if let Some(w) = self.targets.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return Err(ValidationError::new(
                "targets",
                w.to_string(),
                "weights >= 0",
            ));
        }
        let sum: f64 = self.targets.iter().sum();
        if sum > 1.0 + 1e-9 {
            return Err(ValidationError::new(
                "targets",
                format!("sum {sum}"),
                "weights summing to at most 1 (the rest stays cash)",
            ));
        }
        limits::AMOUNT.check_f64("capital", self.capital)?;
        if !(self.fee_rate.is_finite() && (0.0..0.5).contains(&self.fee_rate)) {
            return Err(ValidationError::new(
                "fee-rate",
                self.fee_rate.to_string(),
                "a fraction of notional in [0, 0.5), e.g. 0.001 for 0.1 %",
            ));
        }
        if !(self.slippage_bps.is_finite() && (0.0..5000.0).contains(&self.slippage_bps)) {
            return Err(ValidationError::new(
                "slippage-bps",
                self.slippage_bps.to_string(),
                "basis points in [0, 5000)",
            ));
        }
        limits::AMOUNT_OR_ZERO.check_f64("min-trade", self.min_trade)?;
        Ok(())
    }
}

/// What to keep besides the totals and the streaming statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Record {
    /// Post-trade portfolio value at every bar.
    pub equity: bool,
    /// Post-trade weights at every bar, row-major `T × N`.
    pub weights: bool,
    /// Every executed leg.
    pub trades: bool,
}

impl Record {
    pub const NONE: Record = Record {
        equity: false,
        weights: false,
        trades: false,
    };
    pub const ALL: Record = Record {
        equity: true,
        weights: true,
        trades: true,
    };
}

/// One executed leg.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trade {
    pub bar: usize,
    pub time_ms: i64,
    pub asset: usize,
    /// Units, signed: positive buys, negative sells.
    pub quantity: f64,
    /// Execution price (the close, moved by slippage).
    pub price: f64,
    /// `quantity × price`, signed.
    pub notional: f64,
    pub fee: f64,
}

/// The result of one run.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// `cash + Σ q_i p_{T−1}`.
    pub final_value: f64,
    pub final_cash: f64,
    pub final_quantities: Vec<f64>,
    /// Triggered bars, including bar 0.
    pub n_rebalances: usize,
    pub total_fees: f64,
    /// Cost of slippage: `Σ |q| · p · s` over executed legs.
    pub total_slippage: f64,
    /// `Σ |notional|` of the bar-0 allocation.
    pub initial_notional: f64,
    /// `Σ |notional|` of every leg after bar 0 (the turnover numerator).
    pub traded_notional: f64,
    /// Legs below `min_trade` (and buys scaled to nothing for lack of cash).
    pub skipped_legs: usize,
    /// Streaming statistics of the post-trade equity curve (always kept).
    pub stats: EquityStats,
    /// Post-trade equity per bar, when recorded.
    pub equity: Vec<f64>,
    /// Post-trade weights per bar (row-major `T × N`), when recorded.
    pub weights: Vec<f64>,
    /// Executed legs, when recorded.
    pub trades: Vec<Trade>,
}

/// Run `trigger` over `prices` (SPEC §4). `cfg` must pass [`Config::validate`] for
/// `prices.n_assets()`; this is checked and reported as an error.
///
/// A plain `threshold:X` rule takes a fast path that skips the generic evaluation but makes the
/// same comparison as `Trigger::evaluate` (`max_abs ≥ X/100 − TIE_EPS`, with the same `max_abs`);
/// [`run_evaluate`] always goes through `Trigger::evaluate`, and the tests check that both give
/// identical trade logs.
pub fn run(
    prices: Prices<'_>,
    trigger: &Trigger,
    cfg: &Config,
    record: Record,
) -> Result<Outcome, ValidationError> {
    match trigger {
        Trigger::Threshold { pp } => {
            cfg.validate(prices.n_assets())?;
            let targets = &cfg.targets[..];
            let limit = pp / 100.0 - TIE_EPS;
            Ok(simulate_scan(
                prices,
                cfg,
                &[],
                record,
                Scan::Threshold(limit),
                |t, h, v, _, _| t == 0 || max_abs_deviation(h, v, targets) / v >= limit,
            ))
        }
        _ => run_evaluate(prices, trigger, cfg, record),
    }
}

/// [`run`] with every bar's decision made by [`Trigger::evaluate`] (no fast path).
pub fn run_evaluate(
    prices: Prices<'_>,
    trigger: &Trigger,
    cfg: &Config,
    record: Record,
) -> Result<Outcome, ValidationError> {
    cfg.validate(prices.n_assets())?;
    Ok(evaluate_with(prices, trigger, cfg, &[], record))
}

/// New target weights that take effect at the close of `bar`: the engine rebalances to them
/// there (whatever the trigger says) and the trigger measures drift from them afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetChange {
    pub bar: usize,
    /// Fractions in price-column order, `Σ ≤ 1` (as [`Config::targets`]).
    pub weights: Vec<f64>,
}

/// [`run_evaluate`] with a schedule of target changes (the walk-forward hook): `cfg.targets`
/// is in force until the first change; at each change's bar the basket is rebalanced to the new
/// weights at the close (a rebalance, counted as one, even if the trigger would not fire); in
/// between the trigger keeps the basket on the targets in force. The trigger is evaluated at
/// every bar as in [`run_evaluate`] and sees a forced rebalance as a rebalance. With no changes
/// the result is [`run_evaluate`]'s, bit for bit.
///
/// Changes must be at strictly increasing bars inside the series, each with one valid weight per
/// asset; otherwise the error names `targets_at`.
pub fn run_with_targets(
    prices: Prices<'_>,
    trigger: &Trigger,
    cfg: &Config,
    changes: &[TargetChange],
    record: Record,
) -> Result<Outcome, ValidationError> {
    check_changes(prices, cfg, changes)?;
    Ok(evaluate_with(prices, trigger, cfg, changes, record))
}

/// `cfg` and the target changes of [`run_with_targets`] checked: strictly increasing bars inside
/// the series, each with one valid weight per asset.
fn check_changes(
    prices: Prices<'_>,
    cfg: &Config,
    changes: &[TargetChange],
) -> Result<(), ValidationError> {
    cfg.validate(prices.n_assets())?;
    let mut prev: Option<usize> = None;
    for c in changes {
        if c.bar >= prices.n_bars() || prev.is_some_and(|p| c.bar <= p) {
            return Err(ValidationError::new(
                "targets_at",
                format!("a change at bar {}", c.bar),
                format!(
                    "strictly increasing bars below the series length ({})",
                    prices.n_bars()
                ),
            ));
        }
        prev = Some(c.bar);
        Config {
            targets: c.weights.clone(),
            ..cfg.clone()
        }
        .validate(prices.n_assets())
        .map_err(|e| {
            ValidationError::new(
                "targets_at",
                format!("bar {}: {}", c.bar, e.value),
                e.allowed,
            )
        })?;
    }
    Ok(())
}

/// A trigger and its cooldown, in force from the close of `bar` on (a rule change: the
/// walk-forward recommendation's hook, as [`TargetChange`] is the allocation's).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleChange {
    pub bar: usize,
    pub trigger: Trigger,
    /// After a rebalance nothing fires for this long (schedule ticks included), as in the bot.
    pub cooldown_ms: i64,
}

/// [`run_with_targets`] where the trigger itself may change: `rules[0]` (at bar 0) is in force
/// first, each later rule from its bar on. A new rule starts as a bot whose trigger was modified
/// at that bar: its `every:` schedules are anchored there (bar schedules count from it, time
/// schedules tick from its time, so both fire on that bar), while the previous evaluation and
/// the last rebalance carry over (the new rule's cooldown counts from it). A change forces no
/// trade of its own: a threshold rule trades when the drift reaches it. With one rule at bar 0
/// and cooldown 0 the result is [`run_with_targets`]'s.
///
/// Rules must start at bar 0 and be at strictly increasing bars inside the series, each
/// cooldown in `0..=MAX_INTERVAL_MS`; otherwise the error names `rules`.
pub fn run_with_rules(
    prices: Prices<'_>,
    cfg: &Config,
    changes: &[TargetChange],
    rules: &[RuleChange],
    record: Record,
) -> Result<Outcome, ValidationError> {
    let bad = |value: String| {
        ValidationError::new(
            "rules",
            value,
            format!(
                "rules at strictly increasing bars starting at 0 and below the series length \
                 ({}), cooldowns from 0 to 28 days",
                prices.n_bars()
            ),
        )
    };
    if rules.first().is_none_or(|r| r.bar != 0) {
        return Err(bad("no rule at bar 0".into()));
    }
    for w in rules.windows(2) {
        if w[1].bar <= w[0].bar || w[1].bar >= prices.n_bars() {
            return Err(bad(format!("a rule at bar {}", w[1].bar)));
        }
    }
    if let Some(r) = rules
        .iter()
        .find(|r| !(0..=smartfolio_core::trigger::MAX_INTERVAL_MS).contains(&r.cooldown_ms))
    {
        return Err(bad(format!("cooldown {} ms", r.cooldown_ms)));
    }
    check_changes(prices, cfg, changes)?;
    let times = prices.times_ms();
    let needs_rel = rules.iter().any(|r| trigger_needs_rel(&r.trigger));
    let mut k = 0usize;
    let mut state = TriggerState::new(times[0], rules[0].cooldown_ms);
    Ok(simulate(
        prices,
        cfg,
        changes,
        record,
        |t, h, v, targets, forced| {
            let now_ms = times[t];
            if k + 1 < rules.len() && rules[k + 1].bar == t {
                k += 1;
                state.anchor_ms = now_ms;
                state.cooldown_ms = rules[k].cooldown_ms;
            }
            let rule = &rules[k];
            let fired = t == 0
                || rule
                    .trigger
                    .evaluate(
                        &state,
                        Tick {
                            now_ms,
                            bar: (t - rule.bar) as u64,
                        },
                        || drift(h, v, targets, needs_rel),
                    )
                    .is_some();
            state.observe(now_ms, fired || forced);
            fired
        },
    ))
}

fn evaluate_with(
    prices: Prices<'_>,
    trigger: &Trigger,
    cfg: &Config,
    changes: &[TargetChange],
    record: Record,
) -> Outcome {
    let times = prices.times_ms();
    let needs_rel = trigger_needs_rel(trigger);
    let mut state = TriggerState::new(times[0], 0);
    simulate(prices, cfg, changes, record, |t, h, v, targets, forced| {
        let now_ms = times[t];
        let fired = t == 0
            || trigger
                .evaluate(
                    &state,
                    Tick {
                        now_ms,
                        bar: t as u64,
                    },
                    || drift(h, v, targets, needs_rel),
                )
                .is_some();
        state.observe(now_ms, fired || forced);
        fired
    })
}

/// The buy-and-hold benchmark: the bar-0 allocation (same costs), never rebalanced.
pub fn buy_and_hold(
    prices: Prices<'_>,
    cfg: &Config,
    record: Record,
) -> Result<Outcome, ValidationError> {
    cfg.validate(prices.n_assets())?;
    Ok(simulate(prices, cfg, &[], record, |t, _, _, _, _| t == 0))
}

/// The drift of the pre-trade weights `h_i / V` from `targets`.
///
/// `max_abs` is computed without a division per asset: `max_i |h_i − t_i V| / V`. The
/// relative drift (only measured when a rule needs it) is `max_i |h_i / (t_i V) − 1|`, infinite
/// for a held asset whose target is 0 (as [`Drift::of`]).
#[inline]
pub fn drift(h: &[f64], v: f64, targets: &[f64], with_rel: bool) -> Drift {
    let m = max_abs_deviation(h, v, targets);
    let max_rel = if with_rel {
        let mut r = 0.0_f64;
        for (&hi, &ti) in h.iter().zip(targets) {
            let x = if ti == 0.0 {
                if hi > 0.0 { f64::INFINITY } else { 0.0 }
            } else {
                (hi / (ti * v) - 1.0).abs()
            };
            if x > r {
                r = x;
            }
        }
        r
    } else {
        0.0
    };
    Drift {
        max_abs: m / v,
        max_rel,
    }
}

/// `max_i |h_i − t_i V|` (the absolute drift times `V`).
///
/// Four independent running maxima keep the dependency chain short (max is exact, so the
/// order does not matter), and the `if d > m` form compiles to a plain `maxpd` (no NaN fix-ups:
/// holdings and targets are finite).
#[inline(always)]
pub fn max_abs_deviation(h: &[f64], v: f64, targets: &[f64]) -> f64 {
    let targets = &targets[..h.len()];
    let mut m = [0.0_f64; 4];
    let (h, targets) = if h.len() >= 4 {
        // Seed the four maxima with the first four deviations (no compare with 0 needed).
        for k in 0..4 {
            m[k] = (h[k] - targets[k] * v).abs();
        }
        (&h[4..], &targets[4..])
    } else {
        (h, targets)
    };
    let mut hc = h.chunks_exact(4);
    let mut tc = targets.chunks_exact(4);
    for (hs, ts) in (&mut hc).zip(&mut tc) {
        for k in 0..4 {
            let d = (hs[k] - ts[k] * v).abs();
            m[k] = if d > m[k] { d } else { m[k] };
        }
    }
    for (k, (&hi, &ti)) in hc.remainder().iter().zip(tc.remainder()).enumerate() {
        let d = (hi - ti * v).abs();
        m[k] = if d > m[k] { d } else { m[k] };
    }
    let a = if m[1] > m[0] { m[1] } else { m[0] };
    let b = if m[3] > m[2] { m[3] } else { m[2] };
    if b > a { b } else { a }
}

fn trigger_needs_rel(t: &Trigger) -> bool {
    match t {
        Trigger::RelThreshold { .. } => true,
        Trigger::AnyOf(rules) => rules.iter().any(trigger_needs_rel),
        _ => false,
    }
}

/// Sum in numpy's order (`np.sum` pairwise: 8 partial sums for 8 ≤ n ≤ 128), so the pre-trade
/// value the trigger sees is the oracle's to the last bit for baskets of up to 128 assets.
#[inline(always)]
fn np_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut s = 0.0;
        for &x in a {
            s += x;
        }
        return s;
    }
    let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
    let full = n - n % 8;
    let mut i = 8;
    while i < full {
        for j in 0..8 {
            r[j] += a[i + j];
        }
        i += 8;
    }
    let mut s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    while i < n {
        s += a[i];
        i += 1;
    }
    s
}

/// The portfolio and scratch space of one run. Nothing is allocated per bar.
struct Book<'c> {
    cfg: &'c Config,
    /// The targets in force: `cfg.targets`, replaced at each [`TargetChange`].
    targets: Vec<f64>,
    slip: f64,
    q: Vec<f64>,
    cash: f64,
    h: Vec<f64>,
    dq: Vec<f64>,
    order: Vec<usize>,
    key: Vec<f64>,
    total_fees: f64,
    total_slippage: f64,
    notional_sum: f64,
    skipped: usize,
    trades: Option<Vec<Trade>>,
}

impl Book<'_> {
    #[inline]
    fn exec_price(&self, p: f64, dq: f64) -> f64 {
        if self.slip == 0.0 {
            p
        } else if dq > 0.0 {
            p * (1.0 + self.slip)
        } else {
            p * (1.0 - self.slip)
        }
    }

    /// Execute `dq_i` units of asset `i` at the close `p` (moved by slippage).
    #[inline]
    fn fill(&mut self, bar: usize, time_ms: i64, i: usize, dq: f64, p: f64) {
        let pe = self.exec_price(p, dq);
        let notional = dq * pe;
        let fee = self.cfg.fee_rate * dq.abs() * pe;
        self.q[i] += dq;
        self.cash -= notional + fee;
        self.total_fees += fee;
        self.total_slippage += dq.abs() * (pe - p).abs();
        self.notional_sum += notional.abs();
        if let Some(tr) = self.trades.as_mut() {
            tr.push(Trade {
                bar,
                time_ms,
                asset: i,
                quantity: dq,
                price: pe,
                notional,
                fee,
            });
        }
    }

    /// Whether a planned leg is below the minimum notional (and so skipped).
    #[inline]
    fn too_small(&self, dq: f64, p: f64) -> bool {
        self.cfg.min_trade > 0.0 && (dq * self.exec_price(p, dq)).abs() < self.cfg.min_trade
    }

    /// Execute the planned `self.dq`: sells, then buys, each in column order; legs under the
    /// minimum are skipped; buys are scaled down pro rata when the cash does not cover them.
    fn execute_planned(&mut self, bar: usize, time_ms: i64, p: &[f64], v: f64) {
        let n = p.len();
        for i in 0..n {
            let dq = self.dq[i];
            if dq != 0.0 && self.too_small(dq, p[i]) {
                self.skipped += 1;
                self.dq[i] = 0.0;
            }
        }
        for i in 0..n {
            let dq = self.dq[i];
            if dq < 0.0 {
                self.fill(bar, time_ms, i, dq, p[i]);
            }
        }
        let mut need = 0.0;
        for i in 0..n {
            let dq = self.dq[i];
            if dq > 0.0 {
                need += dq * self.exec_price(p[i], dq) * (1.0 + self.cfg.fee_rate);
            }
        }
        let scale = if need > self.cash && need - self.cash > 1e-12 * v {
            if self.cash > 0.0 {
                self.cash / need
            } else {
                0.0
            }
        } else {
            1.0
        };
        for i in 0..n {
            let dq = self.dq[i];
            if dq > 0.0 {
                let dq = dq * scale;
                if dq > 0.0 {
                    self.fill(bar, time_ms, i, dq, p[i]);
                } else {
                    self.skipped += 1;
                }
            }
        }
    }

    /// Trade to target at bar `bar` with pre-trade holdings `self.h` and value `v`.
    fn rebalance(&mut self, bar: usize, time_ms: i64, p: &[f64], v: f64) {
        let w = &self.targets;
        let fee = self.cfg.fee_rate;
        let n = p.len();
        match self.cfg.fee_model {
            FeeModel::Exact => {
                let vp = if self.slip == 0.0 {
                    post_fee_value::<f64>(v, fee, w, &self.h)
                } else {
                    let buy = (1.0 + self.slip) * (1.0 + fee) - 1.0;
                    let sell = 1.0 - (1.0 - self.slip) * (1.0 - fee);
                    post_cost_value(v, buy, sell, w, &self.h)
                };
                for i in 0..n {
                    self.dq[i] = (w[i] * vp - self.h[i]) / p[i];
                }
                self.execute_planned(bar, time_ms, p, v);
            }
            FeeModel::Bt => {
                for i in 0..n {
                    let a = w[i] * v - self.h[i];
                    self.dq[i] = if a == 0.0 {
                        0.0
                    } else if w[i] == 0.0 {
                        -self.q[i]
                    } else if a > 0.0 {
                        a / (self.exec_price(p[i], 1.0) * (1.0 + fee))
                    } else {
                        a / (self.exec_price(p[i], -1.0) * (1.0 - fee))
                    };
                }
                self.execute_planned(bar, time_ms, p, v);
            }
            FeeModel::Vbt => {
                for i in 0..n {
                    self.dq[i] = w[i] * v / p[i] - self.q[i];
                    self.key[i] = w[i] * v - self.h[i];
                    self.order[i] = i;
                }
                // Stable insertion sort on the order value (vectorbt's call_seq='auto').
                for a in 1..n {
                    let mut b = a;
                    while b > 0 && self.key[self.order[b - 1]] > self.key[self.order[b]] {
                        self.order.swap(b - 1, b);
                        b -= 1;
                    }
                }
                for k in 0..n {
                    let i = self.order[k];
                    let mut dq = self.dq[i];
                    if dq == 0.0 {
                        continue;
                    }
                    if dq > 0.0 {
                        let pe = self.exec_price(p[i], dq);
                        if dq * pe * (1.0 + fee) > self.cash {
                            if self.cash <= 0.0 {
                                continue;
                            }
                            dq = self.cash / (1.0 + fee) / pe;
                        }
                    }
                    if self.too_small(dq, p[i]) {
                        self.skipped += 1;
                        continue;
                    }
                    self.fill(bar, time_ms, i, dq, p[i]);
                }
            }
        }
    }
}

/// The exact model with different cost rates for buys and sells (slippage included): the root
/// `V'` of `V' + Σ_{buys} b (t_i V' − h_i) + Σ_{sells} a (h_i − t_i V') = V`. Convex, piecewise
/// linear and increasing like SPEC §3's `g`; Newton from `V' = V`; on a piece
/// `V' = (V + b Σ_buy h − a Σ_sell h) / (1 + b Σ_buy t − a Σ_sell t)`. With `a = b = f` this is
/// `post_fee_value` (which is what the engine calls when there is no slippage).
pub fn post_cost_value(
    value: f64,
    buy_rate: f64,
    sell_rate: f64,
    targets: &[f64],
    h: &[f64],
) -> f64 {
    let mut v = value;
    for _ in 0..(2 * targets.len() + 4) {
        let mut num = value;
        let mut den = 1.0;
        for (&t, &hi) in targets.iter().zip(h) {
            if t * v - hi > 0.0 {
                num += buy_rate * hi;
                den += buy_rate * t;
            } else {
                num -= sell_rate * hi;
                den -= sell_rate * t;
            }
        }
        let next = num / den;
        if next == v {
            break;
        }
        v = next;
    }
    v
}

/// What the loop may assume about `decide` between rebalances.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scan {
    /// Ask `decide` at every bar.
    EveryBar,
    /// After bar 0 `decide` is exactly `max_abs_deviation(h, v, targets) / v >= limit` (no state,
    /// no target changes): the fixed-size loops scan the held bars with [`hold_until`] instead
    /// of calling it, with the same values and the same comparison.
    Threshold(f64),
}

/// The loop shared by every run: value at the close, ask `decide`, trade, record.
///
/// `decide(t, h, v, targets, forced)` sees the bar, the pre-trade holdings and value, the
/// targets in force at this bar and whether a [`TargetChange`] forces a rebalance here; the bar
/// trades when it returns true or when `forced`. With no `changes` this is the plain engine.
#[inline]
fn simulate<D>(
    prices: Prices<'_>,
    cfg: &Config,
    changes: &[TargetChange],
    record: Record,
    decide: D,
) -> Outcome
where
    D: FnMut(usize, &[f64], f64, &[f64], bool) -> bool,
{
    simulate_scan(prices, cfg, changes, record, Scan::EveryBar, decide)
}

/// [`simulate`] with what `scan` lets the loop assume about `decide`.
#[inline]
fn simulate_scan<D>(
    prices: Prices<'_>,
    cfg: &Config,
    changes: &[TargetChange],
    record: Record,
    scan: Scan,
    decide: D,
) -> Outcome
where
    D: FnMut(usize, &[f64], f64, &[f64], bool) -> bool,
{
    debug_assert!(scan == Scan::EveryBar || changes.is_empty());
    // One copy of the loop per basket size up to 20 (SPEC's maximum), so the per-asset loops
    // have a constant trip count and unroll; other sizes share a generic copy.
    macro_rules! by_n {
        ($($k:literal)*) => {
            match prices.n_assets() {
                $($k => simulate_n::<$k, D>(prices, cfg, changes, record, scan, decide),)*
                _ => simulate_n::<0, D>(prices, cfg, changes, record, scan, decide),
            }
        };
    }
    by_n!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20)
}

/// What a run keeps per bar besides the book: the streaming statistics and what `record` asks.
struct Tape {
    record: Record,
    stats: EquityStats,
    equity: Vec<f64>,
    weights: Vec<f64>,
}

impl Tape {
    /// Record bar's post-trade value `v` and holdings `h`.
    #[inline(always)]
    fn push(&mut self, h: &[f64], v: f64) {
        self.stats.push(v);
        self.push_recorded(h, v);
    }

    /// What `record` asks of a bar (the statistics apart).
    #[inline(always)]
    fn push_recorded(&mut self, h: &[f64], v: f64) {
        if self.record.equity {
            self.equity.push(v);
        }
        if self.record.weights {
            self.weights.extend(h.iter().map(|h| h / v));
        }
    }
}

/// A basket held from some bar on: `rows` are the prices from that bar (row-major, `N` a bar).
struct Held<'a, const N: usize> {
    rows: &'a [f64],
    q: [f64; N],
    cash: f64,
    targets: [f64; N],
    limit: f64,
}

/// The held bars of a threshold rule, for baskets of `N > 0` assets: quantities `q` and `cash`
/// do not change until a bar fires, so each bar is only valued (`h_i = q_i p_i`, `V = cash +
/// np_sum(h)`, as in [`simulate_n`]) and checked. Returns the offset in `rows` of the first bar
/// whose `max_abs_deviation(h, V, targets) / V >= limit` (its holdings left in `h_out`, and its
/// value), after recording every bar before it; `None` when no bar of `rows` fires. `REC` is
/// whether `tape` records equity or weights (without, the loop keeps nothing but the statistics).
///
/// The division is only made when `m ≥ fl(V · limit · (1 − 1e-9))`; below that
/// `m / V < limit (1 − 0.5e-9)` so `fl(m / V) < limit`, and the decision is the same as
/// dividing. The quantities and targets are copied to arrays of `N` so they stay in registers.
#[inline(always)]
fn hold_until<const N: usize, const REC: bool>(
    held: &Held<'_, N>,
    h_out: &mut [f64; N],
    tape: &mut Tape,
) -> Option<(usize, f64)> {
    let (q, targets, cash, limit) = (held.q, held.targets, held.cash, held.limit);
    let below = limit * (1.0 - 1e-9);
    // A local copy of the statistics stays in registers (the tape's vectors may reallocate).
    let mut stats = tape.stats;
    let (rows, _) = held.rows.as_chunks::<N>();
    let mut fired = None;
    for (k, p) in rows.iter().enumerate() {
        let mut h = [0.0; N];
        for i in 0..N {
            h[i] = q[i] * p[i];
        }
        let v = cash + np_sum(&h);
        let m = max_abs_deviation_n(&h, v, &targets);
        if m >= v * below && m / v >= limit {
            fired = Some((k, v));
            break;
        }
        stats.push(v);
        if REC {
            tape.push_recorded(&h, v);
        }
    }
    tape.stats = stats;
    if let Some((k, _)) = fired {
        // Recomputed here rather than kept from the loop (the same products).
        for i in 0..N {
            h_out[i] = q[i] * rows[k][i];
        }
    }
    fired
}

/// [`hold_until`] compiled for AVX2 (four `f64` lanes): the same operations in the same
/// order, so the same bits; only the instruction selection differs. Neither `fma` nor any
/// fast-math flag is enabled, so no multiply-add is contracted.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn hold_until_avx2<const N: usize, const REC: bool>(
    held: &Held<'_, N>,
    h_out: &mut [f64; N],
    tape: &mut Tape,
) -> Option<(usize, f64)> {
    hold_until::<N, REC>(held, h_out, tape)
}

/// [`hold_until`], on AVX2 when the CPU has it (checked at run time).
#[inline(always)]
fn hold<const N: usize, const REC: bool>(
    held: &Held<'_, N>,
    h_out: &mut [f64; N],
    tape: &mut Tape,
) -> Option<(usize, f64)> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU was just found to support AVX2, the only feature the function enables.
        return unsafe { hold_until_avx2::<N, REC>(held, h_out, tape) };
    }
    hold_until::<N, REC>(held, h_out, tape)
}

/// [`max_abs_deviation`] for `N` assets, in four lanes (`i mod 4`) that vectorise, seeded
/// like it with the first four deviations: the same maximum (max is exact, so the order does
/// not matter).
#[inline(always)]
fn max_abs_deviation_n<const N: usize>(h: &[f64; N], v: f64, targets: &[f64; N]) -> f64 {
    let mut m = [0.0_f64; 4];
    let start = if N >= 4 { 4 } else { 0 };
    for i in 0..start {
        m[i] = (h[i] - targets[i] * v).abs();
    }
    for i in start..N {
        let d = (h[i] - targets[i] * v).abs();
        m[i % 4] = if d > m[i % 4] { d } else { m[i % 4] };
    }
    let a = if m[1] > m[0] { m[1] } else { m[0] };
    let b = if m[3] > m[2] { m[3] } else { m[2] };
    if b > a { b } else { a }
}

/// The loop for baskets of `N` assets (`N == 0`: any size).
fn simulate_n<const N: usize, D>(
    prices: Prices<'_>,
    cfg: &Config,
    changes: &[TargetChange],
    record: Record,
    scan: Scan,
    mut decide: D,
) -> Outcome
where
    D: FnMut(usize, &[f64], f64, &[f64], bool) -> bool,
{
    let n = if N == 0 { prices.n_assets() } else { N };
    debug_assert_eq!(n, prices.n_assets());
    let t_len = prices.n_bars();
    let times = prices.times_ms();
    let mut book = Book {
        cfg,
        targets: cfg.targets.clone(),
        slip: cfg.slippage_bps * 1e-4,
        q: vec![0.0; n],
        cash: cfg.capital,
        h: vec![0.0; n],
        dq: vec![0.0; n],
        order: (0..n).collect(),
        key: vec![0.0; n],
        total_fees: 0.0,
        total_slippage: 0.0,
        notional_sum: 0.0,
        skipped: 0,
        trades: record.trades.then(Vec::new),
    };
    let mut tape = Tape {
        record,
        stats: EquityStats::new(),
        equity: Vec::with_capacity(if record.equity { t_len } else { 0 }),
        weights: Vec::with_capacity(if record.weights { t_len * n } else { 0 }),
    };
    let mut n_reb = 0usize;
    let mut initial_notional = 0.0;
    let mut next_change = 0usize;
    let values = prices.values();

    let mut t = 0;
    while t < t_len {
        let mut v;
        let fire;
        match scan {
            Scan::Threshold(limit) if N > 0 && t > 0 => {
                let held = Held::<N> {
                    rows: &values[t * N..],
                    q: book.q[..N].try_into().expect("N assets"),
                    cash: book.cash,
                    targets: book.targets[..N].try_into().expect("N targets"),
                    limit,
                };
                let h = (&mut book.h[..N]).try_into().expect("N holdings");
                let held = if record.equity || record.weights {
                    hold::<N, true>(&held, h, &mut tape)
                } else {
                    hold::<N, false>(&held, h, &mut tape)
                };
                match held {
                    Some((k, vk)) => {
                        t += k;
                        v = vk;
                        fire = true;
                    }
                    None => break,
                }
            }
            _ => {
                let p = &values[t * n..(t + 1) * n];
                let (h, q) = (&mut book.h[..n], &book.q[..n]);
                for i in 0..n {
                    h[i] = q[i] * p[i];
                }
                v = book.cash + np_sum(&book.h[..n]);
                let forced = changes.get(next_change).is_some_and(|c| c.bar == t);
                if forced {
                    book.targets.copy_from_slice(&changes[next_change].weights);
                    next_change += 1;
                }
                fire = decide(t, &book.h[..n], v, &book.targets, forced) || forced;
            }
        }
        if fire {
            let p = &values[t * n..(t + 1) * n];
            n_reb += 1;
            book.rebalance(t, times[t], p, v);
            let (h, q) = (&mut book.h[..n], &book.q[..n]);
            for i in 0..n {
                h[i] = q[i] * p[i];
            }
            v = book.cash + np_sum(&book.h[..n]);
            if t == 0 {
                initial_notional = book.notional_sum;
                book.notional_sum = 0.0;
            }
        }
        tape.push(&book.h[..n], v);
        t += 1;
    }

    let last = prices.row(t_len - 1);
    let mut held = 0.0;
    for i in 0..n {
        held += book.q[i] * last[i];
    }
    Outcome {
        final_value: book.cash + held,
        final_cash: book.cash,
        final_quantities: book.q,
        n_rebalances: n_reb,
        total_fees: book.total_fees,
        total_slippage: book.total_slippage,
        initial_notional,
        traded_notional: book.notional_sum,
        skipped_legs: book.skipped,
        stats: tape.stats,
        equity: tape.equity,
        weights: tape.weights,
        trades: book.trades.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px<'a>(times: &'a [i64], p: &'a [f64], n: usize) -> Prices<'a> {
        Prices::new(times, p, n).unwrap()
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn spec_example_3_daily_schedule_rebalances_20_each_way() {
        // BTC 50 / ETH 50 of 1,000; after a day BTC's holding is 520 and ETH's 480.
        let times = [0, 86_400_000];
        let p = [100.0, 10.0, 104.0, 9.6];
        let mut cfg = Config::new(vec![0.5, 0.5]);
        cfg.capital = 1_000.0;
        cfg.fee_rate = 0.0;
        let every: Trigger = "every:1d".parse().unwrap();
        let o = run(px(&times, &p, 2), &every, &cfg, Record::ALL).unwrap();
        assert_eq!(o.n_rebalances, 2);
        let day1: Vec<&Trade> = o.trades.iter().filter(|t| t.bar == 1).collect();
        assert_eq!(day1.len(), 2);
        // Sells first: 20 of BTC, then 20 of ETH bought.
        assert_eq!(day1[0].asset, 0);
        assert!(close(day1[0].notional, -20.0, 1e-12), "{:?}", day1[0]);
        assert_eq!(day1[1].asset, 1);
        assert!(close(day1[1].notional, 20.0, 1e-12), "{:?}", day1[1]);
        assert!(close(o.final_value, 1_000.0, 1e-12));
        assert!(close(o.weights[2], 0.5, 1e-12) && close(o.weights[3], 0.5, 1e-12));

        // With a 3 pp threshold nothing happens at 52 %; at 53 % it rebalances.
        let th: Trigger = "threshold:3".parse().unwrap();
        let o = run(px(&times, &p, 2), &th, &cfg, Record::NONE).unwrap();
        assert_eq!(o.n_rebalances, 1);
        let p53 = [100.0, 10.0, 106.0, 9.4];
        let o = run(px(&times, &p53, 2), &th, &cfg, Record::ALL).unwrap();
        assert_eq!(o.n_rebalances, 2);
        assert!(close(o.trades[2].notional, -30.0, 1e-12));
    }

    #[test]
    fn initial_allocation_pays_the_exact_fee_and_lands_on_target() {
        let times = [0];
        let p = [50.0, 20.0];
        let mut cfg = Config::new(vec![0.6, 0.3]);
        cfg.capital = 1_000.0;
        cfg.fee_rate = 0.01;
        let o = buy_and_hold(px(&times, &p, 2), &cfg, Record::ALL).unwrap();
        // V' = V / (1 + f Σt) = 1000 / 1.009; both buys, no holdings.
        let vp = 1_000.0 / 1.009;
        assert!(close(o.final_value, vp, 1e-12));
        assert!(close(o.total_fees, 1_000.0 - vp, 1e-12));
        assert!(close(o.final_quantities[0], 0.6 * vp / 50.0, 1e-12));
        assert!(close(o.final_cash, 0.1 * vp, 1e-12));
        assert!(close(o.initial_notional, 0.9 * vp, 1e-12));
        assert_eq!(o.traded_notional, 0.0);
    }

    #[test]
    fn bt_model_moves_fee_inclusive_cash_amounts() {
        // Bar 0: all cash 1000, fee 1 %: each buy is a_i / (1 + f) of notional.
        let times = [0];
        let p = [10.0, 4.0];
        let mut cfg = Config::new(vec![0.5, 0.5]);
        cfg.capital = 1_000.0;
        cfg.fee_rate = 0.01;
        cfg.fee_model = FeeModel::Bt;
        let o = buy_and_hold(px(&times, &p, 2), &cfg, Record::ALL).unwrap();
        assert!(close(o.trades[0].notional, 500.0 / 1.01, 1e-12));
        assert!(close(o.trades[0].fee, 5.0 / 1.01, 1e-12));
        assert!(o.final_cash.abs() < 1e-9);
    }

    #[test]
    fn vbt_model_cuts_the_last_buy_to_the_cash() {
        // Bar 0, weights 0.7 / 0.3: the bigger buy (asset 0) goes last and absorbs the fees.
        let times = [0];
        let p = [1.0, 1.0];
        let mut cfg = Config::new(vec![0.7, 0.3]);
        cfg.capital = 1_000.0;
        cfg.fee_rate = 0.01;
        cfg.fee_model = FeeModel::Vbt;
        let o = buy_and_hold(px(&times, &p, 2), &cfg, Record::ALL).unwrap();
        assert_eq!(o.trades[0].asset, 1);
        assert!(close(o.trades[0].quantity, 300.0, 1e-12));
        // Cash left after the first buy: 1000 − 303 = 697, so the second buys 697 / 1.01.
        assert_eq!(o.trades[1].asset, 0);
        assert!(close(o.trades[1].quantity, 697.0 / 1.01, 1e-12));
        assert!(o.final_cash.abs() < 1e-9);
    }

    #[test]
    fn slippage_moves_the_execution_price_and_keeps_weights_on_target() {
        let times = [0, 1, 2];
        let p = [10.0, 10.0, 12.0, 9.0, 11.0, 10.0];
        let mut cfg = Config::new(vec![0.5, 0.5]);
        cfg.capital = 1_000.0;
        cfg.fee_rate = 0.001;
        cfg.slippage_bps = 10.0;
        let every: Trigger = "every:1".parse().unwrap();
        let o = run(px(&times, &p, 2), &every, &cfg, Record::ALL).unwrap();
        for tr in &o.trades {
            let close_px = p[tr.bar * 2 + tr.asset];
            let expect = if tr.quantity > 0.0 {
                close_px * 1.001
            } else {
                close_px * 0.999
            };
            assert!(close(tr.price, expect, 1e-15), "{tr:?}");
            assert!(close(tr.fee, 0.001 * tr.notional.abs(), 1e-12));
        }
        // Post-trade weights are exactly the targets, and the cash is never negative.
        for w in &o.weights {
            assert!(close(*w, 0.5, 1e-12), "{w}");
        }
        assert!(o.final_cash >= -1e-9);
        // Costs are dearer than without slippage.
        cfg.slippage_bps = 0.0;
        let o0 = run(px(&times, &p, 2), &every, &cfg, Record::NONE).unwrap();
        assert!(o.final_value < o0.final_value);
        assert!(o.total_slippage > 0.0 && o0.total_slippage == 0.0);
    }

    #[test]
    fn post_cost_value_equals_post_fee_value_with_equal_rates() {
        let w = [0.5, 0.3, 0.2];
        let h = [5_500.0, 2_850.0, 2_100.0];
        let a = post_cost_value(10_450.0, 0.001, 0.001, &w, &h);
        let b = post_fee_value(10_450.0, 0.001, &w, &h);
        assert_eq!(a, b);
    }

    #[test]
    fn small_legs_are_skipped_counted_and_buys_stay_funded() {
        // Asset 1's leg is tiny; asset 0's sell is skipped too when min_trade is large.
        let times = [0, 1];
        let p = [10.0, 10.0, 10.0, 11.0, 10.0, 10.0];
        let mut cfg = Config::new(vec![0.4, 0.3, 0.3]);
        cfg.capital = 1_000.0;
        cfg.fee_rate = 0.0;
        cfg.min_trade = 20.0;
        let every: Trigger = "every:1".parse().unwrap();
        let o = run(px(&times, &p, 3), &every, &cfg, Record::ALL).unwrap();
        // Bar 1: V = 440 + 300 + 300 = 1040; legs: sell 24 of asset 0, buy 12 of each other.
        // The two buys are below 20 and are skipped; the sell goes through.
        assert_eq!(o.skipped_legs, 2);
        let bar1: Vec<&Trade> = o.trades.iter().filter(|t| t.bar == 1).collect();
        assert_eq!(bar1.len(), 1);
        assert!(close(bar1[0].notional, -24.0, 1e-12));
        assert!(close(o.final_cash, 24.0, 1e-12));
        assert_eq!(o.n_rebalances, 2);

        // Legs at or above the minimum all go through; with a larger minimum none does.
        cfg.min_trade = 25.0;
        let p2 = [10.0, 10.0, 10.0, 12.5, 9.5, 9.5];
        let o = run(px(&times, &p2, 3), &every, &cfg, Record::ALL).unwrap();
        // Bar 1: h = 500, 285, 285, V = 1070; sell 72 of asset 0 (kept), buys 36 each (kept).
        assert_eq!(o.skipped_legs, 0);
        cfg.min_trade = 80.0;
        let o = run(px(&times, &p2, 3), &every, &cfg, Record::ALL).unwrap();
        assert_eq!(o.skipped_legs, 3);
        assert!(o.final_cash.abs() < 1e-12);
    }

    #[test]
    fn a_skipped_sell_scales_the_buys_down_pro_rata() {
        // Bar 0 buys 40/30/30 units at 10. Bar 1 at V = 1000: buy 40 of asset 0, sell 15 of
        // asset 1 (below the minimum of 20: skipped) and 25 of asset 2. The buy only gets the
        // 25 the sell raised.
        let times = [0, 1];
        let p = [10.0, 10.0, 10.0, 9.0, 10.5, 325.0 / 30.0];
        let mut cfg = Config::new(vec![0.4, 0.3, 0.3]);
        cfg.capital = 1_000.0;
        cfg.fee_rate = 0.0;
        cfg.min_trade = 20.0;
        let every: Trigger = "every:1".parse().unwrap();
        let o = run(px(&times, &p, 3), &every, &cfg, Record::ALL).unwrap();
        assert_eq!(o.skipped_legs, 1);
        let bar1: Vec<&Trade> = o.trades.iter().filter(|t| t.bar == 1).collect();
        assert_eq!(bar1.len(), 2);
        assert_eq!(bar1[0].asset, 2);
        assert!(close(bar1[0].notional, -25.0, 1e-12));
        assert_eq!(bar1[1].asset, 0);
        assert!(close(bar1[1].notional, 25.0, 1e-12));
        assert!(o.final_cash.abs() < 1e-9);
    }

    /// Deterministic correlated random walk: `n` assets × `bars` bars.
    fn walk(n: usize, bars: usize, seed: u64) -> (Vec<i64>, Vec<f64>) {
        let mut s = seed;
        let mut unif = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
        };
        let mut p: Vec<f64> = (0..n).map(|i| 1.0 + 10.0 * i as f64).collect();
        let mut out = Vec::with_capacity(n * bars);
        for _ in 0..bars {
            let common = unif();
            for x in p.iter_mut() {
                *x *= 1.0 + 0.02 * common + 0.03 * unif();
                out.push(*x);
            }
        }
        ((0..bars as i64).map(|t| t * 3_600_000).collect(), out)
    }

    #[test]
    fn threshold_fast_path_makes_the_same_decisions_as_trigger_evaluate() {
        for &(n, fee, model) in &[
            (2, 0.0, FeeModel::Exact),
            (3, 0.001, FeeModel::Exact),
            (4, 0.001, FeeModel::Exact),
            (7, 0.001, FeeModel::Bt),
            (16, 0.001, FeeModel::Exact),
            (10, 0.001, FeeModel::Exact),
            (10, 0.002, FeeModel::Vbt),
            (23, 0.001, FeeModel::Exact),
        ] {
            let (times, p) = walk(n, 3_000, n as u64);
            let px = px(&times, &p, n);
            let mut cfg = Config::new(vec![1.0 / n as f64; n]);
            cfg.fee_rate = fee;
            cfg.fee_model = model;
            for k in 1..=40 {
                let t: Trigger = format!("threshold:{}", k as f64 * 0.25).parse().unwrap();
                let a = run(px, &t, &cfg, Record::ALL).unwrap();
                let b = run_evaluate(px, &t, &cfg, Record::ALL).unwrap();
                assert_eq!(a.trades, b.trades, "n {n}, {t}");
                assert_eq!(a.equity, b.equity, "n {n}, {t}");
                assert_eq!(a.weights, b.weights, "n {n}, {t}");
                assert_eq!(a.stats, b.stats, "n {n}, {t}");
                assert_eq!(a.final_value, b.final_value);
                assert_eq!(a.n_rebalances, b.n_rebalances);
                // Without recording, the held bars take the statistics-only loop.
                let c = run(px, &t, &cfg, Record::NONE).unwrap();
                assert_eq!(c.stats, b.stats, "n {n}, {t}");
                assert_eq!(c.final_value, b.final_value, "n {n}, {t}");
                assert_eq!(c.final_quantities, b.final_quantities, "n {n}, {t}");
                assert_eq!(c.total_fees, b.total_fees, "n {n}, {t}");
                assert_eq!(c.n_rebalances, b.n_rebalances, "n {n}, {t}");
            }
        }
    }

    /// The held-bar scan, portable and (where the CPU has it) AVX2, against the per-bar test.
    fn scan_case<const N: usize>() {
        let (times, p) = walk(N, 2_000, 3 + N as u64);
        let q: [f64; N] = std::array::from_fn(|i| 10.0 / p[i]);
        let targets = [0.9 / N as f64; N];
        let cash = 1.0;
        for limit in [0.004, 0.01, 0.03, 0.08] {
            let mut expect = None;
            let mut stats = EquityStats::new();
            for (t, row) in p.chunks_exact(N).enumerate() {
                let h: Vec<f64> = (0..N).map(|i| q[i] * row[i]).collect();
                let v = cash + np_sum(&h);
                if max_abs_deviation(&h, v, &targets) / v >= limit {
                    expect = Some((t, v, h));
                    break;
                }
                stats.push(v);
            }
            let tape = || Tape {
                record: Record::NONE,
                stats: EquityStats::new(),
                equity: vec![],
                weights: vec![],
            };
            let (mut ta, mut tb) = (tape(), tape());
            let (mut ha, mut hb) = ([0.0; N], [0.0; N]);
            let held = Held::<N> {
                rows: &p,
                q,
                cash,
                targets,
                limit,
            };
            let a = hold_until::<N, false>(&held, &mut ha, &mut ta);
            let b = hold::<N, false>(&held, &mut hb, &mut tb);
            assert_eq!(a, b, "N {N}, limit {limit}");
            assert_eq!(
                a,
                expect.as_ref().map(|e| (e.0, e.1)),
                "N {N}, limit {limit}"
            );
            if let Some(e) = &expect {
                assert_eq!(ha[..], e.2[..]);
                assert_eq!(hb[..], e.2[..]);
            }
            assert_eq!(ta.stats, stats);
            assert_eq!(tb.stats, stats);
        }
        assert_eq!(times.len(), 2_000);
    }

    #[test]
    fn held_bar_scan_equals_the_per_bar_test() {
        scan_case::<1>();
        scan_case::<2>();
        scan_case::<3>();
        scan_case::<5>();
        scan_case::<8>();
        scan_case::<10>();
        scan_case::<13>();
        scan_case::<20>();
    }

    #[test]
    fn fixed_size_loops_equal_the_generic_loop() {
        for n in [2, 5, 10, 20] {
            let (times, p) = walk(n, 2_000, 7 + n as u64);
            let px = px(&times, &p, n);
            let cfg = Config::new(vec![1.0 / n as f64; n]);
            let targets = cfg.targets.clone();
            let decide = |t: usize, h: &[f64], v: f64, _: &[f64], _: bool| {
                t == 0 || max_abs_deviation(h, v, &targets) / v >= 0.02
            };
            let fixed = simulate(px, &cfg, &[], Record::ALL, decide);
            let generic = simulate_n::<0, _>(px, &cfg, &[], Record::ALL, Scan::EveryBar, decide);
            assert!(fixed.n_rebalances > 1);
            assert_eq!(fixed.trades, generic.trades, "n {n}");
            assert_eq!(fixed.equity, generic.equity, "n {n}");
            assert_eq!(fixed.weights, generic.weights, "n {n}");
            assert_eq!(fixed.stats, generic.stats, "n {n}");
        }
    }

    #[test]
    fn target_changes_hook_leaves_the_normal_path_unchanged() {
        // No changes: bit-for-bit run_evaluate (and run) for every kind of trigger.
        let (times, p) = walk(5, 1_500, 11);
        let px = px(&times, &p, 5);
        let cfg = Config::new(vec![0.3, 0.25, 0.2, 0.15, 0.1]);
        for rule in [
            "threshold:2",
            "rel-threshold:20",
            "every:24",
            "every:1d",
            "every:7d+threshold:1",
        ] {
            let t: Trigger = rule.parse().unwrap();
            let a = run_with_targets(px, &t, &cfg, &[], Record::ALL).unwrap();
            let b = run_evaluate(px, &t, &cfg, Record::ALL).unwrap();
            let c = run(px, &t, &cfg, Record::ALL).unwrap();
            assert!(a.n_rebalances > 1, "{rule}");
            assert_eq!(a.trades, b.trades, "{rule}");
            assert_eq!(a.equity, b.equity, "{rule}");
            assert_eq!(a.weights, b.weights, "{rule}");
            assert_eq!(a.stats, b.stats, "{rule}");
            assert_eq!(a.trades, c.trades, "{rule}");
        }
    }

    #[test]
    fn a_target_change_rebalances_to_the_new_weights_at_that_close() {
        let (times, p) = walk(3, 400, 5);
        let px = px(&times, &p, 3);
        let mut cfg = Config::new(vec![1.0 / 3.0; 3]);
        cfg.fee_rate = 0.001;
        // A trigger that never fires after bar 0 on its own: only the changes trade.
        let never: Trigger = "threshold:99".parse().unwrap();
        let changes = [
            TargetChange {
                bar: 100,
                weights: vec![0.6, 0.3, 0.1],
            },
            TargetChange {
                bar: 250,
                weights: vec![0.0, 0.5, 0.5],
            },
        ];
        let o = run_with_targets(px, &never, &cfg, &changes, Record::ALL).unwrap();
        assert_eq!(o.n_rebalances, 3);
        let bars: Vec<usize> = o.trades.iter().map(|t| t.bar).collect();
        assert!(bars.iter().all(|b| [0, 100, 250].contains(b)), "{bars:?}");
        for c in &changes {
            let w = &o.weights[c.bar * 3..c.bar * 3 + 3];
            for (a, b) in w.iter().zip(&c.weights) {
                assert!((a - b).abs() < 1e-12, "bar {}: {w:?}", c.bar);
            }
        }
        // Before the first change the run is the plain one.
        let plain = run_evaluate(px, &never, &cfg, Record::ALL).unwrap();
        assert_eq!(o.equity[..100], plain.equity[..100]);
        // A threshold after a change measures drift from the new targets: with every:1 bars
        // each bar lands exactly on the targets in force.
        let every: Trigger = "every:1".parse().unwrap();
        let o = run_with_targets(px, &every, &cfg, &changes, Record::ALL).unwrap();
        for t in [150, 399] {
            let want = if t < 250 {
                [0.6, 0.3, 0.1]
            } else {
                [0.0, 0.5, 0.5]
            };
            for i in 0..3 {
                assert!((o.weights[t * 3 + i] - want[i]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn bad_target_changes_are_rejected() {
        let (times, p) = walk(2, 10, 1);
        let px = px(&times, &p, 2);
        let cfg = Config::new(vec![0.5, 0.5]);
        let t: Trigger = "threshold:5".parse().unwrap();
        let ch = |bar, weights: Vec<f64>| TargetChange { bar, weights };
        for bad in [
            vec![ch(10, vec![0.5, 0.5])],
            vec![ch(3, vec![0.5, 0.5]), ch(3, vec![0.5, 0.5])],
            vec![ch(2, vec![0.9, 0.5])],
            vec![ch(2, vec![1.0])],
        ] {
            let e = run_with_targets(px, &t, &cfg, &bad, Record::NONE).unwrap_err();
            assert_eq!(e.field, "targets_at", "{bad:?}");
        }
    }

    #[test]
    fn drift_matches_the_core_definition() {
        let h = [520.0, 480.0, 0.0];
        let t = [0.5, 0.4, 0.1];
        let v = 1_000.0;
        let d = drift(&h, v, &t, true);
        let w: Vec<f64> = h.iter().map(|x| x / v).collect();
        let c = Drift::of(&w, &t);
        assert!((d.max_abs - c.max_abs).abs() < 1e-15);
        assert!((d.max_rel - c.max_rel).abs() < 1e-15);
    }

    #[test]
    fn np_sum_uses_numpys_pairwise_order() {
        let a: Vec<f64> = (0..11).map(|i| 0.1 * (i as f64 + 1.0)).collect();
        let r: Vec<f64> = (0..8).map(|j| a[j]).collect();
        let expect =
            ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7])) + a[8] + a[9] + a[10];
        assert_eq!(np_sum(&a), expect);
        assert_eq!(np_sum(&a[..3]), 0.1 + 0.2 + 0.30000000000000004);
    }

    #[test]
    fn bad_config_is_rejected_with_the_field() {
        let times = [0];
        let p = [1.0, 1.0];
        let t: Trigger = "threshold:5".parse().unwrap();
        let mut cfg = Config::new(vec![0.7, 0.7]);
        assert_eq!(
            run(px(&times, &p, 2), &t, &cfg, Record::NONE)
                .unwrap_err()
                .field,
            "targets"
        );
        cfg.targets = vec![0.5];
        assert_eq!(
            run(px(&times, &p, 2), &t, &cfg, Record::NONE)
                .unwrap_err()
                .field,
            "targets"
        );
        cfg.targets = vec![0.5, 0.5];
        cfg.fee_rate = -0.1;
        assert_eq!(
            run(px(&times, &p, 2), &t, &cfg, Record::NONE)
                .unwrap_err()
                .field,
            "fee-rate"
        );
        cfg.fee_rate = 0.0;
        cfg.capital = 0.0;
        assert_eq!(
            run(px(&times, &p, 2), &t, &cfg, Record::NONE)
                .unwrap_err()
                .field,
            "capital"
        );
        assert_eq!(
            Prices::new(&times, &[1.0, -1.0], 2).unwrap_err().field,
            "prices"
        );
        assert_eq!(Prices::new(&times, &[1.0], 2).unwrap_err().field, "prices");
        assert_eq!("nope".parse::<FeeModel>().unwrap_err().field, "fee-model");
    }

    fn rule(bar: usize, text: &str, cooldown_ms: i64) -> RuleChange {
        RuleChange {
            bar,
            trigger: text.parse().unwrap(),
            cooldown_ms,
        }
    }

    fn swinging(n_bars: usize) -> (Vec<i64>, Vec<f64>) {
        let times: Vec<i64> = (0..n_bars as i64).map(|t| t * 86_400_000).collect();
        let mut p = Vec::new();
        for t in 0..n_bars {
            let x = (t as f64 * 0.9).sin() * 0.3;
            p.push(100.0 * (1.0 + x));
            p.push(40.0 * (1.0 - x));
        }
        (times, p)
    }

    #[test]
    fn one_rule_without_cooldown_is_run_with_targets_and_a_cooldown_holds_rebalances_back() {
        let (times, p) = swinging(120);
        let prices = px(&times, &p, 2);
        let cfg = Config::new(vec![0.6, 0.4]);
        let changes = [TargetChange {
            bar: 40,
            weights: vec![0.3, 0.7],
        }];
        for text in [
            "threshold:3",
            "every:2d",
            "every:7d+threshold:1",
            "rel-threshold:5",
        ] {
            let t: Trigger = text.parse().unwrap();
            let a = run_with_targets(prices, &t, &cfg, &changes, Record::ALL).unwrap();
            let b =
                run_with_rules(prices, &cfg, &changes, &[rule(0, text, 0)], Record::ALL).unwrap();
            assert_eq!(a.trades, b.trades, "{text}");
            assert_eq!(a.final_value, b.final_value, "{text}");
        }
        // threshold:1 fires on most days here; a 5-day cooldown leaves at least 5 days between.
        let o = run_with_rules(
            prices,
            &cfg,
            &[],
            &[rule(0, "threshold:1", 5 * 86_400_000)],
            Record::ALL,
        )
        .unwrap();
        let free = run_with_rules(
            prices,
            &cfg,
            &[],
            &[rule(0, "threshold:1", 0)],
            Record::NONE,
        )
        .unwrap();
        assert!(o.n_rebalances < free.n_rebalances);
        let mut bars: Vec<usize> = o.trades.iter().map(|t| t.bar).collect();
        bars.dedup();
        assert!(bars.windows(2).all(|w| w[1] - w[0] >= 5), "{bars:?}");
    }

    #[test]
    fn a_rule_change_takes_over_at_its_bar_without_a_trade_of_its_own() {
        let (times, p) = swinging(100);
        let prices = px(&times, &p, 2);
        let cfg = Config::new(vec![0.5, 0.5]);
        // Never before bar 50 (a threshold no swing reaches), every 10 bars from bar 50.
        let rules = [rule(0, "threshold:90", 0), rule(50, "every:10", 0)];
        let o = run_with_rules(prices, &cfg, &[], &rules, Record::ALL).unwrap();
        let mut bars: Vec<usize> = o.trades.iter().map(|t| t.bar).collect();
        bars.dedup();
        assert_eq!(bars, [0, 50, 60, 70, 80, 90]);
        // The first 50 bars are those of the first rule alone.
        let first = run(
            px(&times[..50], &p[..100], 2),
            &"threshold:90".parse().unwrap(),
            &cfg,
            Record::ALL,
        )
        .unwrap();
        assert_eq!(o.equity[..50], first.equity[..]);
        // Rules must start at bar 0, increase and fit; cooldowns within 28 days.
        for bad in [
            vec![rule(1, "every:10", 0)],
            vec![rule(0, "every:10", 0), rule(0, "every:5", 0)],
            vec![rule(0, "every:10", 0), rule(100, "every:5", 0)],
            vec![rule(0, "every:10", -1)],
        ] {
            let e = run_with_rules(prices, &cfg, &[], &bad, Record::NONE).unwrap_err();
            assert_eq!(e.field, "rules");
        }
    }
}
