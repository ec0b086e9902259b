//! Client-side request budgets per endpoint: "at most `count` requests in any `window_ms`", as
//! OKX and Gate state their limits (OKX: place order 60 per 2 s per instrument, balance 10 per
//! 2 s, …), each endpoint counted on its own. A connector's client asks [`Budgets::reserve`]
//! before each request and waits until the time it answers, so it paces a burst instead of
//! being refused; an endpoint whose budget is used up never slows another one.
//!
//! The count is a sliding log of send times, not a token bucket (GCRA, as in `governor`): a
//! bucket that allows a burst of `count` and refills one per `window / count` lets almost twice
//! `count` through in one window (the burst, then the refill), which a venue that counts per
//! window refuses. The log keeps every window of `window_ms` at or under `count`, whether the
//! venue's windows slide or are fixed. Reservations are handed out in order, so concurrent
//! callers queue behind one another rather than all waking at the same moment.
//!
//! It never sleeps: it says when to send, and the caller waits through its own sleep. Times
//! are epoch milliseconds on the caller's clock. Binance, which counts weight in fixed windows
//! and reports the venue's count in headers, keeps its own limiter (`venue-binance::limits`);
//! the rate-limit ban every venue imposes is [`crate::Ban`].

use std::collections::{HashMap, VecDeque};

/// At most `count` requests in any window of `window_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub count: u32,
    pub window_ms: i64,
}

impl Limit {
    pub const fn new(count: u32, window_ms: i64) -> Self {
        Self { count, window_ms }
    }
}

/// One endpoint's send times within the last window (and those reserved ahead), oldest first.
#[derive(Debug, Clone, Default)]
struct Log {
    sent: VecDeque<i64>,
}

impl Log {
    /// Forget what left the window ending at `now_ms`.
    fn prune(&mut self, now_ms: i64, limit: Limit) {
        while self
            .sent
            .front()
            .is_some_and(|t| *t <= now_ms.saturating_sub(limit.window_ms))
        {
            self.sent.pop_front();
        }
    }

    /// The earliest time at or after `now_ms` (and after every earlier reservation) at which one
    /// more request keeps each window within `limit`; taken.
    fn reserve(&mut self, now_ms: i64, limit: Limit) -> i64 {
        self.prune(now_ms, limit);
        let count = limit.count.max(1) as usize;
        let mut at = now_ms.max(self.sent.back().copied().unwrap_or(now_ms));
        if self.sent.len() >= count {
            // The request `count` back must have left the window.
            at = at.max(self.sent[self.sent.len() - count].saturating_add(limit.window_ms));
        }
        self.sent.push_back(at);
        at
    }
}

/// What a client adds to each window of a venue's limit ([`Budgets::with_margin`]). The venue
/// counts a request when it arrives, the client when it reserves it; between the two lie the
/// wait for the lock, signing, maybe a connection to open, and the network, and that time
/// varies. When the request that opened a window took longer to arrive than the one a window
/// later, the later one lands inside the venue's window and is refused: seen against the OKX
/// simulator's strict limits on loopback, where the two differ by a few milliseconds. Counting
/// each window this much longer keeps every venue window within its count while that
/// difference stays under it. Our choice (a quarter of a second covers a connection opened
/// over the internet), not a venue's figure; it costs an eighth of a 2 s window's throughput.
pub const ARRIVAL_MARGIN_MS: i64 = 250;

/// The budgets of one client, by endpoint key (`"GET /api/v5/trade/order BTC-USDT"`: the
/// caller decides what shares a budget).
#[derive(Debug, Clone, Default)]
pub struct Budgets {
    logs: HashMap<String, (Limit, Log)>,
    /// Added to every limit's window.
    margin_ms: i64,
}

/// Keys kept before idle ones are dropped (an endpoint per instrument adds one per pair).
const KEYS_KEPT: usize = 1_024;

impl Budgets {
    /// Budgets that count each window exactly as the limit states it (a venue's own count).
    pub fn new() -> Self {
        Self::default()
    }

    /// Budgets that count each window `margin_ms` longer than the limit states it: a client's,
    /// with [`ARRIVAL_MARGIN_MS`].
    pub fn with_margin(margin_ms: i64) -> Self {
        Self {
            margin_ms: margin_ms.max(0),
            ..Self::default()
        }
    }

    fn widened(&self, limit: Limit) -> Limit {
        Limit::new(limit.count, limit.window_ms.saturating_add(self.margin_ms))
    }

    /// Reserve one request on `key` under `limit` at `now_ms`: when to send it (`now_ms`, or
    /// later when the budget is used up). The reservation counts from then on, sent or not.
    pub fn reserve(&mut self, key: &str, limit: Limit, now_ms: i64) -> i64 {
        let limit = self.widened(limit);
        if self.logs.len() >= KEYS_KEPT && !self.logs.contains_key(key) {
            self.logs.retain(|_, (l, log)| {
                log.prune(now_ms, *l);
                !log.sent.is_empty()
            });
        }
        let (l, log) = self
            .logs
            .entry(key.to_string())
            .or_insert_with(|| (limit, Log::default()));
        *l = limit;
        log.reserve(now_ms, limit)
    }

    /// How many requests on `key` fall in the window ending at `now_ms` (reservations ahead of
    /// it included).
    pub fn used(&mut self, key: &str, now_ms: i64) -> usize {
        self.logs.get_mut(key).map_or(0, |(l, log)| {
            log.prune(now_ms, *l);
            log.sent.len()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;
    const TWO_S: Limit = Limit::new(3, 2_000);

    #[test]
    fn a_burst_beyond_the_budget_is_spread_one_window_apart() {
        let mut b = Budgets::new();
        let at: Vec<i64> = (0..7).map(|_| b.reserve("order", TWO_S, T0) - T0).collect();
        assert_eq!(at, [0, 0, 0, 2_000, 2_000, 2_000, 4_000]);
    }

    #[test]
    fn every_window_holds_at_most_the_count_whatever_the_arrivals() {
        let mut b = Budgets::new();
        let mut sent = Vec::new();
        // Arrivals at uneven times, some far apart, some in bursts.
        for (i, dt) in [
            0, 10, 1_990, 1_995, 2_000, 2_001, 2_002, 5_000, 5_000, 5_001, 5_002,
        ]
        .iter()
        .enumerate()
        {
            let at = b.reserve("k", TWO_S, T0 + dt);
            assert!(at >= T0 + dt, "request {i} sent before it came");
            sent.push(at);
        }
        assert!(sent.windows(2).all(|w| w[0] <= w[1]), "{sent:?}");
        for &end in &sent {
            let inside = sent
                .iter()
                .filter(|t| **t > end - 2_000 && **t <= end)
                .count();
            assert!(inside <= 3, "{inside} in the window ending {end}: {sent:?}");
        }
    }

    #[test]
    fn one_endpoint_used_up_does_not_slow_another() {
        let mut b = Budgets::new();
        for _ in 0..3 {
            assert_eq!(b.reserve("order BTC-USDT", TWO_S, T0), T0);
        }
        assert_eq!(b.reserve("order BTC-USDT", TWO_S, T0), T0 + 2_000);
        assert_eq!(b.reserve("order ETH-USDT", TWO_S, T0), T0);
        assert_eq!(b.reserve("balance", Limit::new(1, 2_000), T0), T0);
        assert_eq!(b.used("order BTC-USDT", T0), 4);
        assert_eq!(b.used("order ETH-USDT", T0), 1);
    }

    #[test]
    fn a_window_that_passed_frees_its_budget() {
        let mut b = Budgets::new();
        for _ in 0..3 {
            b.reserve("k", TWO_S, T0);
        }
        assert_eq!(b.used("k", T0 + 1_999), 3);
        assert_eq!(b.used("k", T0 + 2_000), 0);
        assert_eq!(b.reserve("k", TWO_S, T0 + 2_000), T0 + 2_000);
    }

    #[test]
    fn idle_keys_are_dropped_once_many_are_kept() {
        let mut b = Budgets::new();
        for i in 0..KEYS_KEPT {
            b.reserve(&format!("k{i}"), TWO_S, T0);
        }
        assert_eq!(b.logs.len(), KEYS_KEPT);
        b.reserve("busy", TWO_S, T0 + 10_000);
        assert_eq!(b.logs.len(), 1);
        // A zero count is taken as one.
        assert_eq!(b.reserve("z", Limit::new(0, 100), T0), T0);
        assert_eq!(b.reserve("z", Limit::new(0, 100), T0), T0 + 100);
    }

    #[test]
    fn a_margin_counts_each_window_that_much_longer() {
        let mut b = Budgets::with_margin(250);
        let at: Vec<i64> = (0..7).map(|_| b.reserve("k", TWO_S, T0) - T0).collect();
        assert_eq!(at, [0, 0, 0, 2_250, 2_250, 2_250, 4_500]);
        assert_eq!(b.used("k", T0 + 2_249), 7);
        assert_eq!(b.used("k", T0 + 2_250), 4);
        // A negative margin is none.
        let mut b = Budgets::with_margin(-5);
        let at: Vec<i64> = (0..4).map(|_| b.reserve("k", TWO_S, T0) - T0).collect();
        assert_eq!(at, [0, 0, 0, 2_000]);
    }
}
