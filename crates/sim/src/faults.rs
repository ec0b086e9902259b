//! Fault injection: what a real venue does to a client on a bad day.

use rust_decimal::Decimal;
use std::fmt;

/// Refusals for a rate limit: HTTP 429 (too many requests) or 418 (an IP ban), with
/// `Retry-After` in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitFault {
    /// 429 or 418.
    pub status: u16,
    /// How many requests are refused.
    pub times: u32,
    pub retry_after_s: u64,
}

/// Faults the simulator injects, counted down as requests take them. Every fault is taken by
/// requests to `/api/…` and `/sapi/…` only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Every answer is delayed this long.
    pub latency_ms: u64,
    /// The next this-many requests answer HTTP 500 `-1000` ("unknown error") without doing
    /// anything: a client cannot tell whether an order was taken.
    pub server_errors: u32,
    /// The next requests are refused for a rate limit, without doing anything.
    pub rate_limited: Option<RateLimitFault>,
    /// The next this-many placements take full effect, then never answer: the client times
    /// out on an order the venue accepted.
    pub hang_after_order: u32,
    /// The next this-many placements take full effect, then are answered "outcome unknown"
    /// (Binance `-1007`, OKX `50004`): the client must find out by lookup.
    pub unknown_after_order: u32,
    /// After each placement, this many lookups of an order answer `-2013` (Binance indexing a
    /// fresh order).
    pub not_found_after_order: u32,
    /// The server's clock runs this far ahead of the simulator's (negative: behind).
    pub clock_skew_ms: i64,
    /// The next this-many placements are refused with `-2010` (NEW_ORDER_REJECTED), without
    /// effect.
    pub rejects: u32,
    /// Partial fills: an order fills at most this much quote per price event (its placement,
    /// then each price step); the rest of a GTC limit order rests, the rest of a market or IOC
    /// order expires. It is the matching engine's depth, so it is fixed when the simulator
    /// starts.
    pub partial_fill_quote: Option<Decimal>,
    /// Base assets whose symbol is halted: `exchangeInfo` shows `HALT` and new orders are
    /// refused (`-2010 Market is closed.`); resting orders stay and can be canceled.
    pub halted: Vec<String>,
    /// The request weight a minute `exchangeInfo` lists (`None`: Binance's 6000), which a
    /// client budgets by: smaller to make a client meet its own limit sooner, larger for a test
    /// that restarts its client far more often than anyone would.
    pub weight_limit: Option<u64>,
    /// The orders per 10 seconds `exchangeInfo` lists (`None`: Binance's 100), which a client
    /// budgets by: larger for a benchmark that deploys a hundred bots in a few seconds.
    pub order_limit: Option<u64>,
    /// OKX's request limits enforced (`okx-limits=strict`): a request beyond its endpoint's
    /// documented count in the last 2 s (per instrument for placing, canceling and looking up
    /// an order; `smartfolio_okx::limits`) is refused with HTTP 429 `50011`, without effect, and
    /// counted ([`crate::Simulator::limit_refusals`]). Off by default: the simulator counts
    /// requests and refuses none. Only the OKX wire reads it.
    pub okx_strict_limits: bool,
}

/// A fault specification that cannot be read; the message names the part, the value and what
/// is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("faults: {0}")]
pub struct FaultSpecError(String);

/// The fault spec's grammar, as `--faults` documents it.
pub const GRAMMAR: &str = "comma-separated faults: latency=MS, 5xx=N, 429=N:SECONDS, \
418=N:SECONDS, hang-after-order=N, unknown-after-order=N, not-found-after-order=N, skew=MS, reject=N, partial=QUOTE, \
halt=ASSET (once per asset), weight-limit=N, order-limit=N, okx-limits=strict|off (e.g. latency=50,5xx=2,429=1:3,halt=ETH)";

impl Faults {
    /// Read `latency=50,5xx=2,429=1:3,hang-after-order=1,not-found-after-order=2,skew=-1500,
    /// reject=1,partial=100,halt=ETH,halt=SOL`.
    pub fn parse(spec: &str) -> Result<Self, FaultSpecError> {
        let mut f = Faults::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                FaultSpecError(format!("\"{part}\" is not key=value; allowed: {GRAMMAR}"))
            })?;
            let bad = |what: &str| FaultSpecError(format!("{k} \"{v}\" is not {what}"));
            let count = || v.trim().parse::<u32>().map_err(|_| bad("a count ≥ 0"));
            match k.trim() {
                "latency" => {
                    f.latency_ms = v.trim().parse().map_err(|_| bad("milliseconds ≥ 0"))?;
                }
                "5xx" => f.server_errors = count()?,
                "429" | "418" => {
                    let (n, s) = v
                        .split_once(':')
                        .ok_or_else(|| bad("N:SECONDS, e.g. 2:5"))?;
                    let times = n.trim().parse().map_err(|_| bad("N:SECONDS, e.g. 2:5"))?;
                    let retry_after_s = s.trim().parse().map_err(|_| bad("N:SECONDS, e.g. 2:5"))?;
                    f.rate_limited = Some(RateLimitFault {
                        status: if k.trim() == "429" { 429 } else { 418 },
                        times,
                        retry_after_s,
                    });
                }
                "hang-after-order" => f.hang_after_order = count()?,
                "unknown-after-order" => f.unknown_after_order = count()?,
                "not-found-after-order" => f.not_found_after_order = count()?,
                "skew" => {
                    f.clock_skew_ms = v
                        .trim()
                        .parse()
                        .map_err(|_| bad("milliseconds (may be negative)"))?;
                }
                "reject" => f.rejects = count()?,
                "weight-limit" => {
                    let n: u64 = v.trim().parse().map_err(|_| bad("a weight a minute ≥ 1"))?;
                    if n == 0 {
                        return Err(bad("a weight a minute ≥ 1"));
                    }
                    f.weight_limit = Some(n);
                }
                "order-limit" => {
                    let n: u64 = v.trim().parse().map_err(|_| bad("orders per 10 s ≥ 1"))?;
                    if n == 0 {
                        return Err(bad("orders per 10 s ≥ 1"));
                    }
                    f.order_limit = Some(n);
                }
                "okx-limits" => {
                    f.okx_strict_limits = match v.trim() {
                        "strict" => true,
                        "off" => false,
                        _ => return Err(bad("strict or off")),
                    };
                }
                "partial" => {
                    let q: Decimal = v
                        .trim()
                        .parse()
                        .map_err(|_| bad("a quote amount > 0, e.g. 100"))?;
                    if q <= Decimal::ZERO {
                        return Err(bad("a quote amount > 0, e.g. 100"));
                    }
                    f.partial_fill_quote = Some(q);
                }
                "halt" => {
                    let asset = v.trim().to_ascii_uppercase();
                    if asset.is_empty() || !asset.chars().all(|c| c.is_ascii_alphanumeric()) {
                        return Err(bad("an asset (letters and digits), e.g. ETH"));
                    }
                    if !f.halted.contains(&asset) {
                        f.halted.push(asset);
                    }
                }
                other => {
                    return Err(FaultSpecError(format!(
                        "\"{other}\" is not a fault; allowed: {GRAMMAR}"
                    )));
                }
            }
        }
        Ok(f)
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "latency {} ms, {} server errors, hang after {} orders, -2013 for {} lookups after each order, clock skew {} ms",
            self.latency_ms,
            self.server_errors,
            self.hang_after_order,
            self.not_found_after_order,
            self.clock_skew_ms
        )?;
        if self.unknown_after_order > 0 {
            write!(
                f,
                ", {} orders answered outcome unknown",
                self.unknown_after_order
            )?;
        }
        if self.rejects > 0 {
            write!(f, ", {} orders rejected", self.rejects)?;
        }
        if let Some(q) = self.partial_fill_quote {
            write!(f, ", fills of at most {q} quote per price")?;
        }
        if !self.halted.is_empty() {
            write!(f, ", halted: {}", self.halted.join(" "))?;
        }
        if self.okx_strict_limits {
            write!(f, ", OKX's request limits enforced")?;
        }
        if let Some(r) = self.rate_limited {
            write!(
                f,
                ", {} × HTTP {} (Retry-After {} s)",
                r.times, r.status, r.retry_after_s
            )?;
        }
        Ok(())
    }
}

/// What one request takes from the faults.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    pub latency_ms: u64,
    /// Refuse the request: (status, retry-after seconds).
    pub refuse: Option<(u16, Option<u64>)>,
}

impl Faults {
    /// The faults one request takes (counted down).
    pub(crate) fn take(&mut self) -> Taken {
        let mut t = Taken {
            latency_ms: self.latency_ms,
            refuse: None,
        };
        if self.server_errors > 0 {
            self.server_errors -= 1;
            t.refuse = Some((500, None));
        } else if let Some(r) = &mut self.rate_limited {
            // `times: 0` refuses nothing.
            if r.times > 0 {
                t.refuse = Some((r.status, Some(r.retry_after_s)));
                r.times -= 1;
            }
            if r.times == 0 {
                self.rate_limited = None;
            }
        }
        t
    }

    /// Whether the next placement must be rejected (counted down).
    pub(crate) fn take_reject(&mut self) -> bool {
        let reject = self.rejects > 0;
        self.rejects = self.rejects.saturating_sub(1);
        reject
    }

    /// Whether the placement that just took effect must be answered "outcome unknown"
    /// (counted down).
    pub(crate) fn take_unknown(&mut self) -> bool {
        let unknown = self.unknown_after_order > 0;
        self.unknown_after_order = self.unknown_after_order.saturating_sub(1);
        unknown
    }

    /// Whether the placement that just took effect must never be answered (counted down).
    pub(crate) fn take_hang(&mut self) -> bool {
        let hang = self.hang_after_order > 0;
        self.hang_after_order = self.hang_after_order.saturating_sub(1);
        hang
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_reads_every_fault_and_a_bad_one_names_the_part() {
        let f = Faults::parse(
            "latency=50, 5xx=2,418=1:60,hang-after-order=1,not-found-after-order=3,skew=-1500",
        )
        .unwrap();
        assert_eq!(
            f,
            Faults {
                latency_ms: 50,
                server_errors: 2,
                rate_limited: Some(RateLimitFault {
                    status: 418,
                    times: 1,
                    retry_after_s: 60
                }),
                hang_after_order: 1,
                not_found_after_order: 3,
                clock_skew_ms: -1500,
                ..Faults::default()
            }
        );
        assert_eq!(Faults::parse("").unwrap(), Faults::default());
        let e = Faults::parse("429=3").unwrap_err().to_string();
        assert!(e.contains("429 \"3\"") && e.contains("N:SECONDS"), "{e}");
        let e = Faults::parse("flood=1").unwrap_err().to_string();
        assert!(e.contains("\"flood\" is not a fault"), "{e}");
        let e = Faults::parse("5xx").unwrap_err().to_string();
        assert!(e.contains("\"5xx\" is not key=value"), "{e}");
    }

    #[test]
    fn rejects_partial_fills_and_halts_are_read_and_bad_values_name_the_key() {
        let f = Faults::parse(
            "reject=2, partial=100.5, halt=eth, halt=SOL, halt=ETH, weight-limit=9000, unknown-after-order=3, order-limit=5000",
        )
        .unwrap();
        assert_eq!(f.unknown_after_order, 3);
        assert_eq!(f.weight_limit, Some(9000));
        assert_eq!(f.order_limit, Some(5000));
        assert!(!f.okx_strict_limits);
        assert!(
            Faults::parse("okx-limits=strict")
                .unwrap()
                .okx_strict_limits
        );
        assert!(!Faults::parse("okx-limits=off").unwrap().okx_strict_limits);
        assert_eq!(f.rejects, 2);
        assert_eq!(f.partial_fill_quote, Some(Decimal::new(1005, 1)));
        assert_eq!(f.halted, ["ETH", "SOL"]);
        for (spec, want) in [
            ("reject=-1", "reject \"-1\" is not a count"),
            ("partial=0", "partial \"0\" is not a quote amount > 0"),
            ("partial=lots", "partial \"lots\" is not a quote amount > 0"),
            ("halt=", "halt \"\" is not an asset"),
            ("halt=ET-H", "halt \"ET-H\" is not an asset"),
            (
                "weight-limit=0",
                "weight-limit \"0\" is not a weight a minute",
            ),
            ("order-limit=0", "order-limit \"0\" is not orders per 10 s"),
            ("order-limit=x", "order-limit \"x\" is not orders per 10 s"),
            ("okx-limits=on", "okx-limits \"on\" is not strict or off"),
        ] {
            let e = Faults::parse(spec).unwrap_err().to_string();
            assert!(e.contains(want), "{spec}: {e}");
        }
    }

    #[test]
    fn rejects_count_down_one_per_placement() {
        let mut f = Faults::parse("reject=2").unwrap();
        assert!(f.take_reject());
        assert!(f.take_reject());
        assert!(!f.take_reject());
        assert_eq!(f, Faults::default());
    }

    #[test]
    fn a_rate_limit_of_zero_times_refuses_nothing() {
        for mut f in [
            Faults::parse("429=0:3").unwrap(),
            Faults::parse("418=0:60").unwrap(),
            Faults {
                rate_limited: Some(RateLimitFault {
                    status: 429,
                    times: 0,
                    retry_after_s: 1,
                }),
                ..Faults::default()
            },
        ] {
            assert_eq!(f.take().refuse, None, "{f:?}");
            assert_eq!(f, Faults::default());
            assert_eq!(f.take().refuse, None);
        }
        // One time is one refusal.
        let mut f = Faults::parse("429=1:3").unwrap();
        assert_eq!(f.take().refuse, Some((429, Some(3))));
        assert_eq!(f.take().refuse, None);
    }

    #[test]
    fn server_errors_come_before_rate_limits_and_both_count_down() {
        let mut f = Faults::parse("5xx=1,429=2:3").unwrap();
        assert_eq!(f.take().refuse, Some((500, None)));
        assert_eq!(f.take().refuse, Some((429, Some(3))));
        assert_eq!(f.take().refuse, Some((429, Some(3))));
        assert_eq!(f.take().refuse, None);
        assert_eq!(f, Faults::default());
    }
}
