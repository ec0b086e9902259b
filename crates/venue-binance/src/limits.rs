//! Client-side rate budgets that follow Binance's own accounting.
//!
//! Binance counts request weight, raw requests and new orders in **fixed windows** aligned on
//! its clock (the weight of the current minute resets at the minute), per IP for weight and per
//! account for orders, and reports what is used in every answer (`X-MBX-USED-WEIGHT-1M`,
//! `X-MBX-ORDER-COUNT-10S`, …). So the budget here is a fixed-window counter per
//! `exchangeInfo.rateLimits` entry: it counts what this client sends, and takes the venue's
//! count when the headers report more (other processes behind the same IP). A GCRA limiter such as
//! `governor` could not take that count back from the headers, and its smooth refill does not
//! match Binance's windows; this counter is simpler and agrees with the venue by construction.
//!
//! A 429 or 418 sets a ban until `Retry-After` has passed. [`RateLimiter::acquire`] never sleeps:
//! it says how long to wait, and the caller waits through its own clock. Times are the venue's
//! (local clock plus the offset), in epoch milliseconds.

use crate::model::{IntervalUnit, RateLimit, RateLimitType};
use smartfolio_exchange::Ban;

/// What a request costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Request weight.
    pub weight: u32,
    /// Whether it places an order (counts against `ORDERS`).
    pub order: bool,
}

impl Cost {
    pub const fn weight(weight: u32) -> Self {
        Self {
            weight,
            order: false,
        }
    }

    pub const fn order(weight: u32) -> Self {
        Self {
            weight,
            order: true,
        }
    }
}

#[derive(Debug, Clone)]
struct Window {
    kind: RateLimitType,
    window_ms: i64,
    limit: u64,
    start_ms: i64,
    used: u64,
}

impl Window {
    fn roll(&mut self, now_ms: i64) {
        let start = now_ms - now_ms.rem_euclid(self.window_ms);
        if start != self.start_ms {
            self.start_ms = start;
            self.used = 0;
        }
    }

    fn cost(&self, cost: Cost) -> u64 {
        match self.kind {
            RateLimitType::RequestWeight => u64::from(cost.weight),
            RateLimitType::RawRequests => 1,
            RateLimitType::Orders => u64::from(cost.order),
            RateLimitType::Other(_) => 0,
        }
    }
}

/// Why a request may not be sent now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    /// How long to wait, in ms (at least 1).
    pub wait_ms: u64,
    /// What is exhausted (`REQUEST_WEIGHT 6000/60000ms`, `ban`).
    pub reason: String,
}

/// The budgets of one Binance account and IP.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    windows: Vec<Window>,
    ban: Ban,
}

impl Default for RateLimiter {
    /// Binance's documented spot limits, used until `exchangeInfo` has been read: 6000 weight per
    /// minute, 61000 raw requests per 5 minutes, 50 orders per 10 s and 160000 per day.
    fn default() -> Self {
        let l = |kind, unit, num, limit| RateLimit {
            rate_limit_type: kind,
            interval: unit,
            interval_num: num,
            limit,
        };
        Self::from_rate_limits(&[
            l(RateLimitType::RequestWeight, IntervalUnit::Minute, 1, 6000),
            l(RateLimitType::RawRequests, IntervalUnit::Minute, 5, 61000),
            l(RateLimitType::Orders, IntervalUnit::Second, 10, 50),
            l(RateLimitType::Orders, IntervalUnit::Day, 1, 160_000),
        ])
    }
}

impl RateLimiter {
    /// Budgets from `exchangeInfo.rateLimits` (entries of unknown type are ignored).
    pub fn from_rate_limits(limits: &[RateLimit]) -> Self {
        let windows = limits
            .iter()
            .filter(|l| !matches!(l.rate_limit_type, RateLimitType::Other(_)))
            .map(|l| Window {
                kind: l.rate_limit_type.clone(),
                window_ms: l.window_ms(),
                limit: l.limit.max(0) as u64,
                start_ms: i64::MIN,
                used: 0,
            })
            .collect();
        Self {
            windows,
            ban: Ban::default(),
        }
    }

    /// Replace the budgets (after reading `exchangeInfo`), keeping what is used in windows of
    /// the same type and length, and any ban.
    pub fn set_limits(&mut self, limits: &[RateLimit]) {
        let mut next = Self::from_rate_limits(limits);
        for w in &mut next.windows {
            if let Some(old) = self
                .windows
                .iter()
                .find(|o| o.kind == w.kind && o.window_ms == w.window_ms)
            {
                w.start_ms = old.start_ms;
                w.used = old.used;
            }
        }
        next.ban = self.ban.clone();
        *self = next;
    }

    /// Take `cost` from every budget if all can pay it now; otherwise take nothing and say how
    /// long to wait (the end of the exhausted window, or of the ban).
    pub fn acquire(&mut self, now_ms: i64, cost: Cost) -> Result<(), Wait> {
        self.check(now_ms, cost)?;
        for w in &mut self.windows {
            w.used += w.cost(cost);
        }
        Ok(())
    }

    /// How long until `cost` could be paid (`None`: now), taking nothing.
    pub fn acquire_wait(&mut self, now_ms: i64, cost: Cost) -> Option<u64> {
        self.check(now_ms, cost).err().map(|w| w.wait_ms)
    }

    fn check(&mut self, now_ms: i64, cost: Cost) -> Result<(), Wait> {
        if let Some(wait_ms) = self.ban.wait_ms(now_ms) {
            return Err(Wait {
                wait_ms,
                reason: "banned by the venue (429/418 Retry-After)".into(),
            });
        }
        let mut wait: Option<Wait> = None;
        for w in &mut self.windows {
            w.roll(now_ms);
            let c = w.cost(cost);
            if c > 0 && w.used + c > w.limit {
                let ms = (w.start_ms + w.window_ms - now_ms).max(1) as u64;
                if wait.as_ref().is_none_or(|x| ms > x.wait_ms) {
                    wait = Some(Wait {
                        wait_ms: ms,
                        reason: format!(
                            "{:?} budget {}/{} ms used up ({} used)",
                            w.kind, w.limit, w.window_ms, w.used
                        ),
                    });
                }
            }
        }
        wait.map_or(Ok(()), Err)
    }

    /// The venue says a budget of `kind` is used up without saying which window (an order-count
    /// 429 comes without `Retry-After`): mark the shortest window of that kind full. A longer one
    /// that is also full shows in the order-count headers.
    pub fn exhaust(&mut self, now_ms: i64, kind: &RateLimitType) {
        if let Some(w) = self
            .windows
            .iter_mut()
            .filter(|w| &w.kind == kind)
            .min_by_key(|w| w.window_ms)
        {
            w.roll(now_ms);
            w.used = w.used.max(w.limit);
        }
    }

    /// Take the venue's count from an answer's headers (`(name, value)` pairs, any case): a
    /// used-weight or order-count header raises this window's count to the venue's.
    pub fn observe<'a>(
        &mut self,
        now_ms: i64,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        for (name, value) in headers {
            let lower = name.to_ascii_lowercase();
            let (kind, spec) = if let Some(s) = lower.strip_prefix("x-mbx-used-weight-") {
                (RateLimitType::RequestWeight, s)
            } else if let Some(s) = lower.strip_prefix("x-mbx-order-count-") {
                (RateLimitType::Orders, s)
            } else {
                continue;
            };
            let (Some(window_ms), Ok(used)) = (parse_interval(spec), value.trim().parse::<u64>())
            else {
                continue;
            };
            for w in &mut self.windows {
                if w.kind == kind && w.window_ms == window_ms {
                    w.roll(now_ms);
                    w.used = w.used.max(used);
                }
            }
        }
    }

    /// Nothing may be sent for `retry_after_ms` from `now_ms` (a 429 or 418).
    pub fn ban(&mut self, now_ms: i64, retry_after_ms: u64) {
        self.ban.ban(now_ms, retry_after_ms);
    }

    /// What is used in the window of `kind` and length `window_ms`, as of `now_ms`.
    pub fn used(&self, now_ms: i64, kind: &RateLimitType, window_ms: i64) -> Option<u64> {
        self.windows
            .iter()
            .find(|w| &w.kind == kind && w.window_ms == window_ms)
            .map(|w| {
                if now_ms - now_ms.rem_euclid(w.window_ms) == w.start_ms {
                    w.used
                } else {
                    0
                }
            })
    }
}

/// `1M` → 60000, `10S` → 10000, `1D` → 86400000 (case-insensitive).
fn parse_interval(spec: &str) -> Option<i64> {
    let unit = IntervalUnit::from_letter(spec.chars().last()?)?;
    let num: i64 = spec[..spec.len() - 1].parse().ok()?;
    (num > 0).then(|| num * unit.millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(weight: i64, orders_10s: i64) -> Vec<RateLimit> {
        vec![
            RateLimit {
                rate_limit_type: RateLimitType::RequestWeight,
                interval: IntervalUnit::Minute,
                interval_num: 1,
                limit: weight,
            },
            RateLimit {
                rate_limit_type: RateLimitType::Orders,
                interval: IntervalUnit::Second,
                interval_num: 10,
                limit: orders_10s,
            },
        ]
    }

    const T0: i64 = 1_700_000_020_000; // 40 s into a minute, 0 s into a 10 s window

    #[test]
    fn weight_is_counted_per_fixed_window_and_resets_at_its_end() {
        let mut r = RateLimiter::from_rate_limits(&limits(10, 100));
        assert!(r.acquire(T0, Cost::weight(6)).is_ok());
        let w = r.acquire(T0 + 1_000, Cost::weight(5)).unwrap_err();
        // The minute ends 20 s after T0.
        assert_eq!(w.wait_ms, 19_000);
        assert!(w.reason.contains("RequestWeight"), "{}", w.reason);
        // Refused requests take nothing: a smaller one still fits.
        assert!(r.acquire(T0 + 1_000, Cost::weight(4)).is_ok());
        assert!(r.acquire(T0 + 20_000, Cost::weight(10)).is_ok());
    }

    #[test]
    fn orders_count_only_placements() {
        let mut r = RateLimiter::from_rate_limits(&limits(1000, 2));
        assert!(r.acquire(T0, Cost::order(1)).is_ok());
        assert!(r.acquire(T0, Cost::weight(20)).is_ok());
        assert!(r.acquire(T0, Cost::order(1)).is_ok());
        assert_eq!(
            r.acquire(T0 + 2_500, Cost::order(1)).unwrap_err().wait_ms,
            7_500
        );
        assert!(r.acquire(T0 + 2_500, Cost::weight(1)).is_ok());
    }

    #[test]
    fn the_venue_count_from_headers_raises_ours() {
        let mut r = RateLimiter::from_rate_limits(&limits(100, 10));
        assert!(r.acquire(T0, Cost::weight(1)).is_ok());
        r.observe(
            T0,
            [
                ("X-MBX-USED-WEIGHT-1M", "95"),
                ("x-mbx-order-count-10s", "10"),
                ("x-other", "1"),
            ],
        );
        assert_eq!(r.used(T0, &RateLimitType::RequestWeight, 60_000), Some(95));
        assert!(r.acquire(T0, Cost::weight(6)).is_err());
        assert!(r.acquire(T0, Cost::weight(5)).is_ok());
        assert!(r.acquire(T0, Cost::order(1)).is_err());
        // A lower count from the venue never lowers ours.
        r.observe(T0, [("X-MBX-USED-WEIGHT-1M", "3")]);
        assert_eq!(r.used(T0, &RateLimitType::RequestWeight, 60_000), Some(100));
    }

    #[test]
    fn a_ban_refuses_everything_until_it_ends() {
        let mut r = RateLimiter::from_rate_limits(&limits(100, 10));
        r.ban(T0, 2_000);
        assert_eq!(
            r.acquire(T0 + 500, Cost::weight(1)).unwrap_err().wait_ms,
            1_500
        );
        // A shorter ban does not shorten a longer one.
        r.ban(T0, 1_000);
        assert!(r.acquire(T0 + 1_999, Cost::weight(1)).is_err());
        assert!(r.acquire(T0 + 2_000, Cost::weight(1)).is_ok());
    }

    #[test]
    fn new_limits_keep_what_is_used() {
        let mut r = RateLimiter::default();
        assert!(r.acquire(T0, Cost::weight(50)).is_ok());
        r.set_limits(&limits(60, 10));
        assert!(r.acquire(T0, Cost::weight(11)).is_err());
        assert!(r.acquire(T0, Cost::weight(10)).is_ok());
    }

    #[test]
    fn an_exhausted_kind_waits_for_its_window() {
        let mut l = limits(100, 10);
        l.push(RateLimit {
            rate_limit_type: RateLimitType::Orders,
            interval: IntervalUnit::Day,
            interval_num: 1,
            limit: 1000,
        });
        let mut r = RateLimiter::from_rate_limits(&l);
        r.exhaust(T0 + 2_000, &RateLimitType::Orders);
        assert_eq!(r.acquire_wait(T0 + 2_000, Cost::order(1)), Some(8_000));
        assert_eq!(r.acquire_wait(T0 + 2_000, Cost::weight(1)), None);
        assert!(r.acquire(T0 + 10_000, Cost::order(1)).is_ok());
    }

    #[test]
    fn header_intervals_parse() {
        assert_eq!(parse_interval("1m"), Some(60_000));
        assert_eq!(parse_interval("10S"), Some(10_000));
        assert_eq!(parse_interval("1d"), Some(86_400_000));
        assert_eq!(parse_interval("x"), None);
        assert_eq!(parse_interval("0m"), None);
    }
}
