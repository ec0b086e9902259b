//! Rebalancing triggers (SPEC §2) as pure functions of (state, time, drift).
//!
//! One implementation serves the live bot and the backtest engine: the caller measures the drift
//! (in `Decimal` or `f64`, see [`Drift`]) and the clock (epoch milliseconds, UTC), and this module
//! decides. Nothing here reads a clock.
//!
//! The text form, shared by every command line and stored in configs:
//!
//! | form | meaning |
//! |---|---|
//! | `threshold:3` | fires when `max_i |w_i − t_i| ≥ 3 pp` |
//! | `rel-threshold:20` | fires when `max_i |w_i / t_i − 1| ≥ 20 %` |
//! | `every:24` | every 24 bars (backtest) or ticks, anchored at bar 0 |
//! | `every:4h`, `every:30m`, `every:1d`, `every:2w` | fixed interval (30 min ..= 28 days) anchored at the start |
//! | `daily@08:00` | every day at 08:00 UTC |
//! | `weekly@mon/08:00` | every Monday at 08:00 UTC |
//! | `cron:0 */4 * * *` | a cron line (UTC) of 5 fields, or 6 with seconds first; one that never fires is refused |
//! | `every:1d+threshold:3` | a schedule gated by a minimum deviation |
//! | `every:1d|threshold:5` | any-of: either one fires |

use crate::error::ValidationError;
use chrono::{DateTime, Utc};
use std::fmt;
use std::str::FromStr;

/// Ties count as reached: deviations are compared with this tolerance (SPEC §2).
pub const TIE_EPS: f64 = 1e-12;
/// Default live cooldown after a rebalance (SPEC §2).
pub const DEFAULT_COOLDOWN_MS: i64 = 5 * 60 * 1000;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;
pub const WEEK_MS: i64 = 7 * DAY_MS;
/// Shortest and longest fixed schedule interval (SPEC §2).
pub const MIN_INTERVAL_MS: i64 = 30 * MINUTE_MS;
pub const MAX_INTERVAL_MS: i64 = 28 * DAY_MS;

/// The drift of a portfolio, as fractions (0.03 is 3 pp), measured by the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drift {
    /// `max_i |w_i − t_i|` over basket assets (and cash only when it has an explicit target).
    pub max_abs: f64,
    /// `max_i |w_i / t_i − 1|`; infinite when an asset with target 0 is held.
    pub max_rel: f64,
}

impl Drift {
    pub const ZERO: Drift = Drift {
        max_abs: 0.0,
        max_rel: 0.0,
    };

    /// Drift of f64 weights against targets (the backtest's form; the live path converts its
    /// `Decimal` deviations to f64 only for this comparison).
    pub fn of(weights: &[f64], targets: &[f64]) -> Drift {
        let mut d = Drift::ZERO;
        for (&w, &t) in weights.iter().zip(targets) {
            d.include(w, t);
        }
        d
    }

    /// Widen the drift by one asset's weight `w` against its target `t`.
    #[inline]
    pub fn include(&mut self, w: f64, t: f64) {
        self.max_abs = self.max_abs.max((w - t).abs());
        self.max_rel = self.max_rel.max(relative_deviation(w, t));
    }
}

/// `|w / t − 1|`, the relative deviation of SPEC §2; for a target of 0, any holding is an
/// infinite deviation and none is 0.
#[inline]
pub fn relative_deviation(w: f64, t: f64) -> f64 {
    if t == 0.0 {
        if w > 0.0 { f64::INFINITY } else { 0.0 }
    } else {
        (w / t - 1.0).abs()
    }
}

/// A schedule interval: a number of bars (ticks), or a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Bars(u64),
    Millis(i64),
}

/// When a schedule ticks. Calendar rules are in UTC.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Anchored at the bot's start (or the first bar).
    Every(Interval),
    /// Every day at `minute_of_day` (0..1440) UTC.
    Daily { minute_of_day: u32 },
    /// Every week on `weekday` (0 = Monday .. 6 = Sunday) at `minute_of_day` UTC.
    Weekly { weekday: u32, minute_of_day: u32 },
    /// A cron line, evaluated in UTC.
    Cron(CronRule),
}

/// A parsed cron line that keeps its source text.
///
/// Only lines that fire are accepted: the Gregorian calendar repeats (dates and weekdays alike)
/// every 400 years, so a line that matches no day in one such cycle never fires, and is refused
/// when it is parsed. Every accepted line therefore ticks at least once in any 400-year span,
/// which bounds the search for its next tick (see [`CronRule::next_after`]).
///
/// A line stored before that rule (read back with [`Trigger::parse_stored`]) is kept as it is
/// and never ticks, without any search; [`Trigger::check_fires`] refuses it where a config is
/// checked (create, modify).
#[derive(Debug, Clone)]
pub struct CronRule {
    source: String,
    cron: Box<croner::Cron>,
    /// Whether the line matches any date (false only for a stored line read leniently).
    fires: bool,
}

impl PartialEq for CronRule {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// Days in one cycle of the Gregorian calendar (400 years), after which dates and weekdays repeat.
pub const CALENDAR_CYCLE_DAYS: i64 = 146_097;
/// Days from 0001-01-01 (chrono's day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_DAY_CE: i64 = 719_163;

const CRON_FORM: &str = "a cron line (UTC) of 5 fields `minute hour day-of-month month \
day-of-week`, or 6 with a seconds field first, such as `cron:0 */4 * * *`";

impl CronRule {
    /// Parse a line, refusing one that never fires.
    pub fn parse(source: &str) -> Result<Self, ValidationError> {
        let rule = Self::read(source)?;
        match rule.never_fires() {
            Some(e) => Err(e),
            None => Ok(rule),
        }
    }

    /// Parse a line's syntax; a line that never fires is kept, with `fires` false.
    fn read(source: &str) -> Result<Self, ValidationError> {
        let text = source.trim();
        let value = format!("cron:{source}");
        let fields = text.split_whitespace().count();
        if !text.starts_with('@') && !(5..=6).contains(&fields) {
            return Err(ValidationError::new(
                "trigger",
                value,
                format!("{CRON_FORM}; this line has {fields} fields"),
            ));
        }
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .year(croner::parser::Year::Disallowed)
            .build()
            .parse(text)
            .map_err(|e| {
                ValidationError::new("trigger", value.clone(), format!("{CRON_FORM} ({e})"))
            })?;
        let mut rule = Self {
            source: text.to_string(),
            cron: Box::new(cron),
            fires: true,
        };
        // Any cycle will do: the one that starts on 2000-01-01 (day 10957 after 1970-01-01).
        const CYCLE_START: i64 = 10_957;
        rule.fires = rule
            .first_day_with_ticks(CYCLE_START, CYCLE_START + CALENDAR_CYCLE_DAYS - 1)
            .is_some();
        Ok(rule)
    }

    /// Whether the line matches any date, so that it ever ticks.
    pub fn fires(&self) -> bool {
        self.fires
    }

    /// The refusal of a line that never fires, naming its date fields.
    fn never_fires(&self) -> Option<ValidationError> {
        if self.fires {
            return None;
        }
        let f: Vec<&str> = self.source.split_whitespace().collect();
        let (dom, month, dow) = match f.len() {
            6 => (f[3], f[4], f[5]),
            5 => (f[2], f[3], f[4]),
            _ => ("?", "?", "?"),
        };
        Some(ValidationError::new(
            "trigger",
            format!("cron:{}", self.source),
            format!(
                "a cron line that fires: its day-of-month `{dom}`, month `{month}` and \
                 day-of-week `{dow}` match no date in any year"
            ),
        ))
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether this line ticks on `date` (UTC).
    fn day_has_ticks(&self, date: chrono::NaiveDate) -> bool {
        use chrono::Datelike;
        let p = &self.cron.pattern;
        let weekday =
            croner::time::Weekday::from_days_from_sunday(date.weekday().num_days_from_sunday());
        p.month_match(date.month()).unwrap_or(false)
            && p.day_match(date.year(), date.month(), date.day(), weekday)
                .unwrap_or(false)
    }

    /// The first day in `from..=to` (days since 1970-01-01) with ticks of this line. Looks at
    /// `to − from + 1` days at most, and skips whole months the month field excludes.
    fn first_day_with_ticks(&self, from: i64, to: i64) -> Option<i64> {
        use chrono::Datelike;
        let mut day = from;
        while day <= to {
            let date = date_of_day(day)?;
            if !self.cron.pattern.month_match(date.month()).unwrap_or(false) {
                // Jump to the first of the next month.
                let days_left = i64::from(croner::time::days_in_month(date.year(), date.month()))
                    - i64::from(date.day())
                    + 1;
                day += days_left;
                continue;
            }
            if self.day_has_ticks(date) {
                return Some(day);
            }
            day += 1;
        }
        None
    }

    /// The first occurrence strictly after `after_ms`, if any (none only past the year 5000).
    ///
    /// Bounded: an accepted line ticks in every 400-year span, so the search ends within one
    /// calendar cycle.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        if !self.fires {
            return None;
        }
        let start = DateTime::<Utc>::from_timestamp_millis(after_ms)?;
        self.cron
            .find_next_occurrence(&start, false)
            .ok()
            .map(|t| t.timestamp_millis())
    }

    /// Whether a tick falls in `(prev_ms, now_ms]`. The days of that window are looked at
    /// first (at most one calendar cycle of them), so a window with no day of this line costs no
    /// search at all, however rare the line.
    pub fn ticks_between(&self, prev_ms: i64, now_ms: i64) -> bool {
        if !self.fires || now_ms <= prev_ms {
            return false;
        }
        let (first, last) = (prev_ms.div_euclid(DAY_MS), now_ms.div_euclid(DAY_MS));
        if last - first >= CALENDAR_CYCLE_DAYS {
            return true;
        }
        match self.first_day_with_ticks(first, last) {
            None => false,
            Some(_) => self.next_after(prev_ms).is_some_and(|next| next <= now_ms),
        }
    }
}

/// The UTC date of a day number (days since 1970-01-01).
fn date_of_day(day: i64) -> Option<chrono::NaiveDate> {
    i32::try_from(day + UNIX_EPOCH_DAY_CE)
        .ok()
        .and_then(chrono::NaiveDate::from_num_days_from_ce_opt)
}

/// A trigger rule (SPEC §2).
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// Absolute threshold in percentage points.
    Threshold { pp: f64 },
    /// Relative threshold in percent of each target.
    RelThreshold { pct: f64 },
    /// A schedule, optionally gated: on a tick, rebalance only when `max |d_i| ≥ min_deviation_pp`.
    Schedule {
        schedule: Schedule,
        min_deviation_pp: Option<f64>,
    },
    /// Any of these fires.
    AnyOf(Vec<Trigger>),
}

/// What a trigger needs to remember between evaluations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TriggerState {
    /// Anchor of `every:` schedules: the bot's start or the first bar.
    pub anchor_ms: i64,
    /// Time of the previous evaluation; schedule ticks in `(last_eval_ms, now]` are due.
    pub last_eval_ms: Option<i64>,
    /// Time of the last rebalance, for the cooldown.
    pub last_rebalance_ms: Option<i64>,
    /// Cooldown after a rebalance; 0 in backtests.
    pub cooldown_ms: i64,
}

impl TriggerState {
    pub fn new(anchor_ms: i64, cooldown_ms: i64) -> Self {
        Self {
            anchor_ms,
            last_eval_ms: None,
            last_rebalance_ms: None,
            cooldown_ms,
        }
    }

    /// Record an evaluation at `now_ms` and whether it led to a rebalance.
    pub fn observe(&mut self, now_ms: i64, rebalanced: bool) {
        self.last_eval_ms = Some(now_ms);
        if rebalanced {
            self.last_rebalance_ms = Some(now_ms);
        }
    }

    /// Whether `now_ms` is inside the cooldown that follows the last rebalance.
    pub fn in_cooldown(&self, now_ms: i64) -> bool {
        match self.last_rebalance_ms {
            Some(r) => self.cooldown_ms > 0 && now_ms >= r && now_ms < r + self.cooldown_ms,
            None => false,
        }
    }
}

/// The moment an evaluation happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// UTC epoch milliseconds.
    pub now_ms: i64,
    /// Bar (or tick) index since the anchor, 0-based; used by `every:K` bar schedules.
    pub bar: u64,
}

/// Why a trigger fired.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FireReason {
    Threshold { max_deviation_pp: f64 },
    RelThreshold { max_relative_pct: f64 },
    Schedule,
}

impl fmt::Display for FireReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FireReason::Threshold { max_deviation_pp } => {
                write!(f, "threshold: max deviation {max_deviation_pp:.4} pp")
            }
            FireReason::RelThreshold { max_relative_pct } => {
                write!(
                    f,
                    "relative threshold: max relative deviation {max_relative_pct:.4} %"
                )
            }
            FireReason::Schedule => write!(f, "schedule"),
        }
    }
}

#[inline]
fn reached(measured: f64, limit: f64) -> bool {
    measured >= limit - TIE_EPS
}

#[inline]
fn floor_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b)
}

impl Schedule {
    /// Whether a tick of this schedule falls in `(prev_ms, now_ms]` (for bar schedules: whether
    /// `bar` is a multiple of K).
    pub fn due(&self, prev_ms: i64, now_ms: i64, anchor_ms: i64, bar: u64) -> bool {
        // Count of schedule instants at or before t, up to a constant: due iff it grew.
        let grew = |offset: i64, period: i64| {
            floor_div(now_ms - offset, period) > floor_div(prev_ms - offset, period)
        };
        match self {
            Schedule::Every(Interval::Bars(k)) => bar.is_multiple_of(*k),
            Schedule::Every(Interval::Millis(iv)) => now_ms >= anchor_ms && grew(anchor_ms, *iv),
            Schedule::Daily { minute_of_day } => {
                grew(i64::from(*minute_of_day) * MINUTE_MS, DAY_MS)
            }
            Schedule::Weekly {
                weekday,
                minute_of_day,
            } => {
                // 1970-01-01 was a Thursday; the first Monday is 1970-01-05.
                let offset = 4 * DAY_MS
                    + i64::from(*weekday) * DAY_MS
                    + i64::from(*minute_of_day) * MINUTE_MS;
                grew(offset, WEEK_MS)
            }
            Schedule::Cron(rule) => rule.ticks_between(prev_ms, now_ms),
        }
    }

    /// The first tick strictly after `after_ms` (None for bar schedules, which have no clock time).
    pub fn next_after(&self, after_ms: i64, anchor_ms: i64) -> Option<i64> {
        let next =
            |offset: i64, period: i64| offset + (floor_div(after_ms - offset, period) + 1) * period;
        match self {
            Schedule::Every(Interval::Bars(_)) => None,
            Schedule::Every(Interval::Millis(iv)) => Some(if after_ms < anchor_ms {
                anchor_ms
            } else {
                next(anchor_ms, *iv)
            }),
            Schedule::Daily { minute_of_day } => {
                Some(next(i64::from(*minute_of_day) * MINUTE_MS, DAY_MS))
            }
            Schedule::Weekly {
                weekday,
                minute_of_day,
            } => Some(next(
                4 * DAY_MS + i64::from(*weekday) * DAY_MS + i64::from(*minute_of_day) * MINUTE_MS,
                WEEK_MS,
            )),
            Schedule::Cron(rule) => rule.next_after(after_ms),
        }
    }
}

impl Trigger {
    /// Decide whether to rebalance now. `drift` is called at most once, and only when a rule
    /// needs it, so schedule-only rules never pay for measuring the portfolio.
    ///
    /// Inside the cooldown nothing fires, schedule ticks included (the basket was just put on
    /// target). The caller then records the evaluation with [`TriggerState::observe`].
    #[inline]
    pub fn evaluate<F: FnMut() -> Drift>(
        &self,
        state: &TriggerState,
        tick: Tick,
        drift: F,
    ) -> Option<FireReason> {
        if state.in_cooldown(tick.now_ms) {
            return None;
        }
        let prev_ms = state.last_eval_ms.unwrap_or(tick.now_ms - 1);
        let mut lazy = LazyDrift {
            measure: drift,
            value: None,
        };
        self.eval_inner(state, tick, prev_ms, &mut lazy)
    }

    #[inline]
    fn eval_inner<F: FnMut() -> Drift>(
        &self,
        state: &TriggerState,
        tick: Tick,
        prev_ms: i64,
        drift: &mut LazyDrift<F>,
    ) -> Option<FireReason> {
        match self {
            Trigger::Threshold { pp } => {
                let d = drift.get().max_abs;
                reached(d, pp / 100.0).then_some(FireReason::Threshold {
                    max_deviation_pp: d * 100.0,
                })
            }
            Trigger::RelThreshold { pct } => {
                let d = drift.get().max_rel;
                reached(d, pct / 100.0).then_some(FireReason::RelThreshold {
                    max_relative_pct: d * 100.0,
                })
            }
            Trigger::Schedule {
                schedule,
                min_deviation_pp,
            } => {
                if !schedule.due(prev_ms, tick.now_ms, state.anchor_ms, tick.bar) {
                    return None;
                }
                match min_deviation_pp {
                    Some(pp) => reached(drift.get().max_abs, pp / 100.0),
                    None => true,
                }
                .then_some(FireReason::Schedule)
            }
            Trigger::AnyOf(rules) => rules
                .iter()
                .find_map(|r| r.eval_inner(state, tick, prev_ms, drift)),
        }
    }

    /// Whether any rule looks at the drift (threshold rules, or a gated schedule).
    pub fn needs_drift(&self) -> bool {
        match self {
            Trigger::Threshold { .. } | Trigger::RelThreshold { .. } => true,
            Trigger::Schedule {
                min_deviation_pp, ..
            } => min_deviation_pp.is_some(),
            Trigger::AnyOf(rules) => rules.iter().any(Trigger::needs_drift),
        }
    }

    /// Whether any rule is a schedule counted in bars (only meaningful on bar series).
    pub fn uses_bars(&self) -> bool {
        match self {
            Trigger::Schedule {
                schedule: Schedule::Every(Interval::Bars(_)),
                ..
            } => true,
            Trigger::AnyOf(rules) => rules.iter().any(Trigger::uses_bars),
            _ => false,
        }
    }
}

/// What a one-off check of a portfolio's drift says (see [`Trigger::check_deviation`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviationCheck {
    /// The first deviation rule that is reached, if any.
    pub fired: Option<FireReason>,
    /// Each schedule rule (text form) with whether its minimum deviation, if it has one, is met;
    /// when it ticks is for the bot to decide.
    pub schedules: Vec<(String, Option<bool>)>,
}

impl Trigger {
    /// Evaluate only the deviation rules (absolute and relative thresholds) against `drift`,
    /// outside any clock: what `smartfolio plan` reports. Schedule rules are listed, not
    /// evaluated, with whether their minimum-deviation gate would pass.
    pub fn check_deviation(&self, drift: Drift) -> DeviationCheck {
        let mut out = DeviationCheck {
            fired: None,
            schedules: Vec::new(),
        };
        self.check_deviation_into(drift, &mut out);
        out
    }

    fn check_deviation_into(&self, drift: Drift, out: &mut DeviationCheck) {
        let state = TriggerState::new(0, 0);
        let tick = Tick { now_ms: 0, bar: 1 };
        match self {
            Trigger::Threshold { .. } | Trigger::RelThreshold { .. } => {
                if out.fired.is_none() {
                    out.fired = self.evaluate(&state, tick, || drift);
                }
            }
            Trigger::Schedule {
                min_deviation_pp, ..
            } => out.schedules.push((
                self.to_string(),
                min_deviation_pp.map(|pp| reached(drift.max_abs, pp / 100.0)),
            )),
            Trigger::AnyOf(rules) => {
                for r in rules {
                    r.check_deviation_into(drift, out);
                }
            }
        }
    }
}

struct LazyDrift<F> {
    measure: F,
    value: Option<Drift>,
}

impl<F: FnMut() -> Drift> LazyDrift<F> {
    #[inline]
    fn get(&mut self) -> Drift {
        match self.value {
            Some(d) => d,
            None => {
                let d = (self.measure)();
                self.value = Some(d);
                d
            }
        }
    }
}

// ---------------------------------------------------------------------------------- text form

const TRIGGER_FORMS: &str = "threshold:PP, rel-threshold:PCT, every:K (bars), every:N[m|h|d|w] \
(30m..=28d), daily@HH:MM, weekly@DAY/HH:MM, cron:LINE; a schedule may be gated as \
SCHEDULE+threshold:PP, and rules combined as RULE|RULE";

fn bad(value: &str, allowed: impl Into<String>) -> ValidationError {
    ValidationError::new("trigger", value, allowed)
}

fn parse_positive(value: &str, number: &str, what: &str, max: f64) -> Result<f64, ValidationError> {
    match number.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= max => Ok(x),
        _ => Err(bad(value, format!("{what} must be a number in (0, {max}]"))),
    }
}

/// Parse a duration such as `30m`, `4h`, `1d`, `2w` into milliseconds.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: i64 = n.parse().ok()?;
    let unit_ms = match unit {
        "m" | "min" => MINUTE_MS,
        "h" => HOUR_MS,
        "d" => DAY_MS,
        "w" => WEEK_MS,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

fn format_duration_ms(ms: i64) -> String {
    for (unit, len) in [
        ("w", WEEK_MS),
        ("d", DAY_MS),
        ("h", HOUR_MS),
        ("m", MINUTE_MS),
    ] {
        if ms % len == 0 {
            return format!("{}{unit}", ms / len);
        }
    }
    format!("{}m", ms as f64 / MINUTE_MS as f64)
}

fn parse_hhmm(value: &str, text: &str) -> Result<u32, ValidationError> {
    let err = || {
        bad(
            value,
            "a UTC time HH:MM with HH in 00..=23 and MM in 00..=59",
        )
    };
    let (h, m) = text.split_once(':').ok_or_else(err)?;
    let h: u32 = h.parse().map_err(|_| err())?;
    let m: u32 = m.parse().map_err(|_| err())?;
    if h > 23 || m > 59 || text.len() != 5 {
        return Err(err());
    }
    Ok(h * 60 + m)
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn parse_schedule(value: &str, term: &str, strict: bool) -> Result<Schedule, ValidationError> {
    if let Some(k) = term.strip_prefix("every:") {
        if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) {
            return match k.parse::<u64>() {
                Ok(n) if n >= 1 => Ok(Schedule::Every(Interval::Bars(n))),
                _ => Err(bad(value, "every:K needs a whole number of bars K ≥ 1")),
            };
        }
        return match parse_duration_ms(k) {
            Some(ms) if (MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&ms) => {
                Ok(Schedule::Every(Interval::Millis(ms)))
            }
            _ => Err(bad(
                value,
                "every:N with a unit m, h, d or w, between 30m and 28d (e.g. every:4h), or every:K bars",
            )),
        };
    }
    if let Some(t) = term.strip_prefix("daily@") {
        return Ok(Schedule::Daily {
            minute_of_day: parse_hhmm(value, t)?,
        });
    }
    if let Some(rest) = term.strip_prefix("weekly@") {
        let (day, t) = rest
            .split_once('/')
            .ok_or_else(|| bad(value, "weekly@DAY/HH:MM, e.g. weekly@mon/08:00"))?;
        let weekday = WEEKDAYS
            .iter()
            .position(|d| d.eq_ignore_ascii_case(day) || day.to_ascii_lowercase().starts_with(d))
            .ok_or_else(|| bad(value, "a weekday among mon, tue, wed, thu, fri, sat, sun"))?;
        return Ok(Schedule::Weekly {
            weekday: weekday as u32,
            minute_of_day: parse_hhmm(value, t)?,
        });
    }
    if let Some(line) = term.strip_prefix("cron:") {
        // Quote the whole trigger text, as every other trigger error does.
        let rule = if strict {
            CronRule::parse(line)
        } else {
            CronRule::read(line)
        };
        return rule.map(Schedule::Cron).map_err(|e| bad(value, e.allowed));
    }
    Err(bad(value, TRIGGER_FORMS))
}

fn parse_gate(value: &str, term: &str) -> Result<f64, ValidationError> {
    match term.trim().strip_prefix("threshold:") {
        Some(n) => parse_positive(value, n, "the minimum deviation in pp", 100.0),
        None => Err(bad(
            value,
            "a schedule may only be gated by a minimum deviation, as SCHEDULE+threshold:PP",
        )),
    }
}

fn parse_rule(value: &str, rule: &str, strict: bool) -> Result<Trigger, ValidationError> {
    let rule = rule.trim();
    if rule.is_empty() {
        return Err(bad(value, TRIGGER_FORMS));
    }
    if let Some(n) = rule.strip_prefix("threshold:") {
        return Ok(Trigger::Threshold {
            pp: parse_positive(value, n, "the threshold in pp", 100.0)?,
        });
    }
    if let Some(n) = rule.strip_prefix("rel-threshold:") {
        return Ok(Trigger::RelThreshold {
            pct: parse_positive(value, n, "the relative threshold in %", 1e6)?,
        });
    }
    // A cron line may contain no '+', so the gate split is safe for every schedule form.
    let (sched, gate) = match rule.split_once('+') {
        Some((s, g)) => (s.trim(), Some(parse_gate(value, g)?)),
        None => (rule, None),
    };
    Ok(Trigger::Schedule {
        schedule: parse_schedule(value, sched, strict)?,
        min_deviation_pp: gate,
    })
}

impl Trigger {
    fn parse_with(s: &str, strict: bool) -> Result<Self, ValidationError> {
        let mut rules = s
            .split('|')
            .map(|r| parse_rule(s, r, strict))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if rules.len() == 1 {
            rules.remove(0)
        } else {
            Trigger::AnyOf(rules)
        })
    }

    /// Read a trigger that was stored (a bot's config): as [`FromStr`], except that a cron line
    /// that never fires, accepted before such lines were refused, is kept (it never ticks) so
    /// the bot still loads; [`Trigger::check_fires`] refuses it where a config is checked.
    pub fn parse_stored(s: &str) -> Result<Self, ValidationError> {
        Self::parse_with(s, false)
    }

    /// Refuse a trigger with a cron line that never fires (one read by
    /// [`Trigger::parse_stored`]), with the message parsing it would give.
    pub fn check_fires(&self) -> Result<(), ValidationError> {
        let never = |t: &Trigger| match t {
            Trigger::Schedule {
                schedule: Schedule::Cron(rule),
                ..
            } => rule.never_fires(),
            _ => None,
        };
        let found = match self {
            Trigger::AnyOf(rules) => rules.iter().find_map(never),
            t => never(t),
        };
        match found {
            Some(e) => Err(bad(&self.to_string(), e.allowed)),
            None => Ok(()),
        }
    }
}

impl FromStr for Trigger {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_with(s, true)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every(Interval::Bars(k)) => write!(f, "every:{k}"),
            Schedule::Every(Interval::Millis(ms)) => write!(f, "every:{}", format_duration_ms(*ms)),
            Schedule::Daily { minute_of_day } => {
                write!(
                    f,
                    "daily@{:02}:{:02}",
                    minute_of_day / 60,
                    minute_of_day % 60
                )
            }
            Schedule::Weekly {
                weekday,
                minute_of_day,
            } => write!(
                f,
                "weekly@{}/{:02}:{:02}",
                WEEKDAYS[*weekday as usize],
                minute_of_day / 60,
                minute_of_day % 60
            ),
            Schedule::Cron(rule) => write!(f, "cron:{}", rule.source),
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Threshold { pp } => write!(f, "threshold:{pp}"),
            Trigger::RelThreshold { pct } => write!(f, "rel-threshold:{pct}"),
            Trigger::Schedule {
                schedule,
                min_deviation_pp,
            } => {
                write!(f, "{schedule}")?;
                if let Some(pp) = min_deviation_pp {
                    write!(f, "+threshold:{pp}")?;
                }
                Ok(())
            }
            Trigger::AnyOf(rules) => {
                for (i, r) in rules.iter().enumerate() {
                    if i > 0 {
                        f.write_str("|")?;
                    }
                    write!(f, "{r}")?;
                }
                Ok(())
            }
        }
    }
}

impl serde::Serialize for Trigger {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Trigger {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Stored configs are read with this: see [`Trigger::parse_stored`].
        let s = String::deserialize(d)?;
        Trigger::parse_stored(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .timestamp_millis()
    }

    fn drift(max_abs: f64) -> Drift {
        Drift {
            max_abs,
            max_rel: 0.0,
        }
    }

    fn fires(t: &Trigger, st: &TriggerState, now_ms: i64, d: Drift) -> bool {
        t.evaluate(st, Tick { now_ms, bar: 1 }, || d).is_some()
    }

    #[test]
    fn threshold_fires_exactly_at_the_limit_and_not_below() {
        let t: Trigger = "threshold:3".parse().unwrap();
        let st = TriggerState::new(0, 0);
        // 53% against 50% in f64 arithmetic: 0.53 - 0.5 is 0.030000000000000027.
        assert!(fires(&t, &st, 1, drift(0.53 - 0.5)));
        assert!(fires(&t, &st, 1, drift(0.03)));
        // A tie computed with rounding error just below the limit still counts.
        assert!(fires(&t, &st, 1, drift(0.03 - 1e-13)));
        assert!(!fires(&t, &st, 1, drift(0.0299999)));
        assert!(!fires(&t, &st, 1, drift(0.02)));
    }

    #[test]
    fn relative_threshold_and_zero_targets() {
        let t: Trigger = "rel-threshold:20".parse().unwrap();
        let st = TriggerState::new(0, 0);
        let d = Drift::of(&[0.6, 0.4], &[0.5, 0.5]);
        assert!((d.max_rel - 0.2).abs() < 1e-12);
        assert!(t.evaluate(&st, Tick { now_ms: 0, bar: 1 }, || d).is_some());
        let d = Drift::of(&[0.55, 0.45], &[0.5, 0.5]);
        assert!(t.evaluate(&st, Tick { now_ms: 0, bar: 1 }, || d).is_none());
        // Any holding of a zero-target asset fires.
        let d = Drift::of(&[0.5, 0.5, 0.000001], &[0.5, 0.5, 0.0]);
        assert!(d.max_rel.is_infinite());
        assert!(t.evaluate(&st, Tick { now_ms: 0, bar: 1 }, || d).is_some());
    }

    #[test]
    fn cooldown_suppresses_everything_until_it_ends() {
        let t: Trigger = "threshold:3|every:1h".parse().unwrap();
        let mut st = TriggerState::new(0, DEFAULT_COOLDOWN_MS);
        st.observe(1_000, true);
        let end = 1_000 + DEFAULT_COOLDOWN_MS;
        assert!(!fires(&t, &st, 1_001, drift(0.5)));
        assert!(!fires(&t, &st, end - 1, drift(0.5)));
        assert!(fires(&t, &st, end, drift(0.5)));
    }

    #[test]
    fn interval_tick_boundary() {
        let t: Trigger = "every:4h".parse().unwrap();
        let anchor = ms(2024, 3, 1, 10, 0);
        let mut st = TriggerState::new(anchor, 0);
        // First evaluation at the anchor: a tick.
        assert!(fires(&t, &st, anchor, Drift::ZERO));
        st.observe(anchor, true);
        st.observe(anchor + 4 * HOUR_MS - 1, false);
        assert!(!fires(&t, &st, anchor + 4 * HOUR_MS - 1, Drift::ZERO));
        assert!(fires(&t, &st, anchor + 4 * HOUR_MS, Drift::ZERO));
        // A late evaluation still catches the tick it slept through, once.
        assert!(fires(&t, &st, anchor + 5 * HOUR_MS, Drift::ZERO));
        st.observe(anchor + 5 * HOUR_MS, true);
        assert!(!fires(&t, &st, anchor + 6 * HOUR_MS, Drift::ZERO));
    }

    #[test]
    fn gated_schedule_needs_the_minimum_deviation() {
        let t: Trigger = "daily@00:00+threshold:3".parse().unwrap();
        let mut st = TriggerState::new(0, 0);
        st.observe(ms(2024, 1, 1, 23, 0), false);
        let midnight = ms(2024, 1, 2, 0, 0);
        assert!(!fires(&t, &st, midnight, drift(0.02)));
        assert!(fires(&t, &st, midnight, drift(0.03)));
        // Not a tick: even a big deviation does not fire a schedule-only rule.
        st.observe(midnight, false);
        assert!(!fires(&t, &st, midnight + HOUR_MS, drift(0.5)));
    }

    #[test]
    fn weekly_rule_across_a_month_end() {
        // Monday 2024-07-01 08:00 UTC follows Sunday 2024-06-30.
        let t: Trigger = "weekly@mon/08:00".parse().unwrap();
        let mut st = TriggerState::new(0, 0);
        st.observe(ms(2024, 6, 30, 23, 0), false);
        assert!(!fires(&t, &st, ms(2024, 7, 1, 7, 59), Drift::ZERO));
        st.observe(ms(2024, 7, 1, 7, 59), false);
        assert!(fires(&t, &st, ms(2024, 7, 1, 8, 0), Drift::ZERO));
        // A daily evaluation that skips from Sunday to Tuesday still catches Monday's tick.
        let mut st = TriggerState::new(0, 0);
        st.observe(ms(2024, 6, 30, 12, 0), false);
        assert!(fires(&t, &st, ms(2024, 7, 2, 12, 0), Drift::ZERO));
        // Next tick after Monday 08:00 is the Monday after.
        let s = Schedule::Weekly {
            weekday: 0,
            minute_of_day: 8 * 60,
        };
        assert_eq!(
            s.next_after(ms(2024, 7, 1, 8, 0), 0),
            Some(ms(2024, 7, 8, 8, 0))
        );
        assert_eq!(
            s.next_after(ms(2024, 6, 29, 0, 0), 0),
            Some(ms(2024, 7, 1, 8, 0))
        );
    }

    #[test]
    fn cron_and_calendar_rules_agree() {
        let cron: Trigger = "cron:0 8 * * 1".parse().unwrap();
        let weekly: Trigger = "weekly@mon/08:00".parse().unwrap();
        let start = ms(2024, 1, 1, 0, 0);
        let mut st = TriggerState::new(start, 0);
        let mut fired = (0, 0);
        for h in 0..(24 * 60) {
            let now = start + h * HOUR_MS;
            let a = fires(&cron, &st, now, Drift::ZERO);
            let b = fires(&weekly, &st, now, Drift::ZERO);
            assert_eq!(a, b, "at hour {h}");
            fired.0 += a as u32;
            fired.1 += b as u32;
            st.observe(now, false);
        }
        // 2024-01-01 was a Monday; 60 days span 9 Mondays at 08:00.
        assert_eq!(fired, (9, 9));
    }

    #[test]
    fn bar_schedule_fires_on_multiples() {
        let t: Trigger = "every:24".parse().unwrap();
        let st = TriggerState::new(0, 0);
        let fired: Vec<u64> = (0..100)
            .filter(|&bar| {
                t.evaluate(&st, Tick { now_ms: 0, bar }, || Drift::ZERO)
                    .is_some()
            })
            .collect();
        assert_eq!(fired, vec![0, 24, 48, 72, 96]);
        assert!(t.uses_bars());
    }

    #[test]
    fn drift_is_measured_lazily() {
        let t: Trigger = "every:1d".parse().unwrap();
        let st = TriggerState::new(0, 0);
        let mut calls = 0;
        t.evaluate(&st, Tick { now_ms: 5, bar: 0 }, || {
            calls += 1;
            Drift::ZERO
        });
        assert_eq!(calls, 0);
        let t: Trigger = "threshold:9|rel-threshold:50|every:1d+threshold:2"
            .parse()
            .unwrap();
        t.evaluate(
            &st,
            Tick {
                now_ms: DAY_MS,
                bar: 0,
            },
            || {
                calls += 1;
                Drift::ZERO
            },
        );
        assert_eq!(calls, 1);
    }

    #[test]
    fn deviation_check_evaluates_thresholds_and_lists_schedules() {
        let t: Trigger = "every:1d+threshold:2|threshold:5|weekly@mon/08:00"
            .parse()
            .unwrap();
        let c = t.check_deviation(drift(0.03));
        assert_eq!(c.fired, None);
        assert_eq!(
            c.schedules,
            vec![
                ("every:1d+threshold:2".to_string(), Some(true)),
                ("weekly@mon/08:00".to_string(), None),
            ]
        );
        let c = t.check_deviation(drift(0.05));
        assert!(matches!(c.fired, Some(FireReason::Threshold { .. })));
        let c: DeviationCheck = "rel-threshold:20"
            .parse::<Trigger>()
            .unwrap()
            .check_deviation(Drift {
                max_abs: 0.0,
                max_rel: 0.2,
            });
        assert!(matches!(c.fired, Some(FireReason::RelThreshold { .. })));
    }

    #[test]
    fn daily_tick_boundary_across_a_year_end() {
        let t: Trigger = "daily@00:00".parse().unwrap();
        let mut st = TriggerState::new(0, 0);
        let midnight = ms(2025, 1, 1, 0, 0);
        st.observe(midnight - 2, false);
        // One millisecond before the tick: nothing; at the tick: fires; after it: no repeat.
        assert!(!fires(&t, &st, midnight - 1, Drift::ZERO));
        st.observe(midnight - 1, false);
        assert!(fires(&t, &st, midnight, Drift::ZERO));
        st.observe(midnight, true);
        assert!(!fires(&t, &st, midnight + 1, Drift::ZERO));
        assert!(!fires(&t, &st, midnight + DAY_MS - 1, Drift::ZERO));
        assert!(fires(&t, &st, midnight + DAY_MS, Drift::ZERO));
        let s = Schedule::Daily { minute_of_day: 0 };
        assert_eq!(s.next_after(ms(2024, 12, 31, 12, 0), 0), Some(midnight));
    }

    #[test]
    fn schedule_tick_inside_the_cooldown_is_suppressed() {
        let t: Trigger = "every:1h".parse().unwrap();
        let anchor = ms(2024, 3, 1, 0, 0);
        let mut st = TriggerState::new(anchor, 10 * MINUTE_MS);
        // A threshold rebalance 5 minutes before the hourly tick puts the tick in the cooldown.
        st.observe(anchor + 55 * MINUTE_MS, true);
        assert!(!fires(&t, &st, anchor + HOUR_MS, Drift::ZERO));
    }

    #[test]
    fn text_form_round_trips() {
        for s in [
            "threshold:3",
            "threshold:2.5",
            "rel-threshold:20",
            "every:24",
            "every:4h",
            "every:30m",
            "every:1d",
            "every:2w",
            "daily@08:30",
            "weekly@fri/23:59",
            "cron:0 */4 * * *",
            "every:1d+threshold:3",
            "every:1d|threshold:5",
        ] {
            let t: Trigger = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(t.to_string(), s);
        }
    }

    #[test]
    fn a_cron_line_that_never_fires_is_refused_naming_its_fields() {
        for (s, needles) in [
            ("cron:0 0 30 2 *", ["`30`", "`2`", "no date"]),
            ("cron:0 0 31 4,6,9,11 *", ["`31`", "`4,6,9,11`", "no date"]),
            ("cron:15 0 0 30 2 *", ["`30`", "`2`", "no date"]),
        ] {
            let e = s.parse::<Trigger>().expect_err(s);
            assert_eq!((e.field.as_str(), e.value.as_str()), ("trigger", s));
            for n in needles {
                assert!(e.allowed.contains(n), "{s}: {n} not in {}", e.allowed);
            }
        }
        // Inside an any-of, the whole text is quoted.
        let e = "threshold:5|cron:0 0 30 2 *"
            .parse::<Trigger>()
            .unwrap_err();
        assert_eq!(e.value, "threshold:5|cron:0 0 30 2 *");
    }

    #[test]
    fn a_stored_cron_line_that_never_fires_still_loads_and_never_ticks() {
        // Stored before such lines were refused: the bot must still load.
        let t: Trigger = serde_json::from_str("\"threshold:5|cron:0 0 30 2 *\"").unwrap();
        assert_eq!(t.to_string(), "threshold:5|cron:0 0 30 2 *");
        let e = t.check_fires().unwrap_err();
        let parsed = "threshold:5|cron:0 0 30 2 *"
            .parse::<Trigger>()
            .unwrap_err();
        assert_eq!(e, parsed);
        let Trigger::AnyOf(rules) = &t else {
            panic!("{t:?}")
        };
        let Trigger::Schedule { schedule, .. } = &rules[1] else {
            panic!("{t:?}")
        };
        assert_eq!(schedule.next_after(ms(2024, 1, 1, 0, 0), 0), None);
        assert!(!schedule.due(0, (CALENDAR_CYCLE_DAYS + 1) * DAY_MS, 0, 0));
        let cron = Trigger::parse_stored("cron:0 0 30 2 *").unwrap();
        assert!(hourly_fires(&cron, ms(2024, 1, 1, 0, 0), ms(2025, 1, 1, 0, 0)).is_empty());
        // A line that fires passes the check; a malformed one is refused even when stored.
        assert!(
            "cron:0 0 29 2 *"
                .parse::<Trigger>()
                .unwrap()
                .check_fires()
                .is_ok()
        );
        assert!(Trigger::parse_stored("cron:0 0 0 1 1 * 2030").is_err());
    }

    #[test]
    fn cron_lines_have_5_or_6_fields_as_the_message_says() {
        for (s, n) in [
            ("cron:0 0 0 1 1 * 2030", 7),
            ("cron:0 0 1 1", 4),
            ("cron:0 0 0 0 1 1 * 2030", 8),
        ] {
            let e = s.parse::<Trigger>().expect_err(s);
            assert_eq!(e.value, s);
            assert!(e.allowed.contains("5 fields"), "{}", e.allowed);
            assert!(e.allowed.contains("or 6"), "{}", e.allowed);
            assert!(
                e.allowed.contains(&format!("has {n} fields")),
                "{}",
                e.allowed
            );
        }
        // 6 fields: a seconds field first.
        let t: Trigger = "cron:30 0 8 * * 1".parse().unwrap();
        let Trigger::Schedule { schedule, .. } = &t else {
            panic!("{t:?}")
        };
        assert_eq!(
            schedule.next_after(ms(2024, 1, 1, 0, 0), 0),
            Some(ms(2024, 1, 1, 8, 0) + 30_000)
        );
        assert!("cron:@daily".parse::<Trigger>().is_ok());
    }

    #[test]
    fn rare_cron_lines_are_accepted_and_their_next_tick_is_found() {
        let t: Trigger = "cron:0 0 29 2 *".parse().unwrap();
        let Trigger::Schedule { schedule, .. } = &t else {
            panic!("{t:?}")
        };
        // 2100 is not a leap year: after 2096-02-29 the next 29 February is eight years away.
        assert_eq!(
            schedule.next_after(ms(2096, 3, 1, 0, 0), 0),
            Some(ms(2104, 2, 29, 0, 0))
        );
        for s in ["cron:0 0 L 2 *", "cron:0 12 * 2 1#5", "cron:0 0 31 * *"] {
            assert!(s.parse::<Trigger>().is_ok(), "{s}");
        }
    }

    /// The ticks at which `t` fires when evaluated every hour in `[start, end)`.
    fn hourly_fires(t: &Trigger, start: i64, end: i64) -> Vec<i64> {
        let mut st = TriggerState::new(0, 0);
        let mut fired = Vec::new();
        let mut now = start;
        while now < end {
            if fires(t, &st, now, Drift::ZERO) {
                fired.push(now);
            }
            st.observe(now, false);
            now += HOUR_MS;
        }
        fired
    }

    #[test]
    fn a_rare_cron_on_hourly_ticks_fires_exactly_on_its_days() {
        // Every tick used to search for the line's next occurrence from scratch, decades ahead
        // for these lines; a tick now looks at its own day only, so these 87,672 evaluations
        // each cost a day's check.
        let t: Trigger = "cron:0 0 29 2 *".parse().unwrap();
        assert_eq!(
            hourly_fires(&t, ms(2095, 1, 1, 0, 0), ms(2105, 1, 1, 0, 0)),
            vec![ms(2096, 2, 29, 0, 0), ms(2104, 2, 29, 0, 0)]
        );
        // The fifth Monday of February: 2044, then 2072 (28 years on).
        let t: Trigger = "cron:0 12 * 2 1#5".parse().unwrap();
        assert_eq!(
            hourly_fires(&t, ms(2040, 1, 1, 0, 0), ms(2050, 1, 1, 0, 0)),
            vec![ms(2044, 2, 29, 12, 0)]
        );
        // A window longer than a calendar cycle always holds a tick.
        let Trigger::Schedule { schedule, .. } = &t else {
            panic!("{t:?}")
        };
        assert!(schedule.due(0, (CALENDAR_CYCLE_DAYS + 1) * DAY_MS, 0, 0));
        assert!(!schedule.due(ms(2045, 1, 1, 0, 0), ms(2071, 12, 31, 0, 0), 0, 0));
        assert!(schedule.due(ms(2045, 1, 1, 0, 0), ms(2072, 12, 31, 0, 0), 0, 0));
    }

    #[test]
    fn malformed_triggers_name_the_value_and_what_is_allowed() {
        for s in [
            "",
            "threshold:",
            "threshold:-1",
            "threshold:abc",
            "threshold:101",
            "every:0",
            "every:10m",
            "every:29d",
            "every:5x",
            "daily@25:00",
            "daily@8:00",
            "weekly@xyz/08:00",
            "weekly@mon",
            "cron:not a cron",
            "every:1d+rel-threshold:3",
            "sometimes",
            "threshold:3|",
        ] {
            let e = s.parse::<Trigger>().expect_err(s);
            assert_eq!(e.field, "trigger");
            assert_eq!(e.value, s);
            assert!(!e.allowed.is_empty());
        }
    }
}
