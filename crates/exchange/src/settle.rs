//! The one policy for an order the venue does not find by client id — shared by the paper
//! exchange and every venue connector, and used by the runtime after an unknown outcome and on
//! reconciliation.
//!
//! A not-found right after placement is **not** "never sent": Binance answers `-2013` for a
//! fresh order for several seconds, and Gate forgets a client id about an hour after the order
//! ended. So [`settle`]:
//!
//! 1. looks the order up by client id: found → [`Settled::Found`];
//! 2. "not found yet" while the venue's window ([`LookupPolicy::window_ms`], counted from when
//!    the order was sent) is still running → [`Settled::Wait`]: look again later;
//! 3. otherwise (the window is over, or the venue cannot answer by id) it reads the open orders
//!    (found there → [`Settled::Found`]) and then the pair's fills since the order was sent:
//!    fills under the client id → [`Settled::Closed`] with them (the order ran and is over);
//!    none → [`Settled::Absent`]: nothing happened at the venue.
//!
//! It never sends anything. Whatever it answers, the client id is never used again: an order
//! that must still be traded is sent under a new id.
//!
//! The function is one step, not a loop: it never waits. The caller looks again at or after
//! the time [`Settled::Wait`] names, on its own clock (the runtime's next tick or
//! reconciliation), so one slow venue never holds a thread.

use crate::{Exchange, ExchangeError, Fill, Order, OrderLookup};

/// How a venue's lookups by client id behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupPolicy {
    /// How long after sending a "not found yet" proves nothing (ms). 0: the venue finds an order
    /// as soon as it has taken it (the paper exchange).
    pub window_ms: i64,
    /// Fills are read from this long before the send time, for clock skew between us and the
    /// venue (ms).
    pub fills_slack_ms: i64,
}

impl LookupPolicy {
    /// The default for a real venue: 30 s (freqtrade waits 35 s over five retries, hummingbot
    /// three polls, nautilus 5 s plus a targeted query) and 60 s of slack.
    pub const DEFAULT_WINDOW_MS: i64 = 30_000;
    pub const DEFAULT_SLACK_MS: i64 = 60_000;

    /// A venue whose lookups are immediately consistent.
    pub const IMMEDIATE: LookupPolicy = LookupPolicy {
        window_ms: 0,
        fills_slack_ms: 0,
    };
}

impl Default for LookupPolicy {
    fn default() -> Self {
        Self {
            window_ms: Self::DEFAULT_WINDOW_MS,
            fills_slack_ms: Self::DEFAULT_SLACK_MS,
        }
    }
}

/// What a lookup settled.
#[derive(Debug, Clone, PartialEq, Eq)]
// One answer per lookup, never stored in bulk: not worth a box.
#[allow(clippy::large_enum_variant)]
pub enum Settled {
    /// The order, by client id or among the open orders.
    Found(Order),
    /// Not found yet, and the venue may still be indexing it: look again at or after
    /// `until_ms`. It is neither sent again nor written off.
    Wait { until_ms: i64 },
    /// The venue no longer finds the order by id and it is not open, but it filled: these are
    /// its fills, oldest first. It is over.
    Closed { fills: Vec<Fill> },
    /// Not found by id, not open, and no fill since it was sent: nothing happened at the venue.
    Absent,
}

/// Settle the order `client_id` on `base`/`quote`, sent at `sent_ms`, as of `now_ms` (both on
/// the caller's clock; see the module documentation).
pub async fn settle(
    exchange: &dyn Exchange,
    base: &str,
    quote: &str,
    client_id: &str,
    sent_ms: i64,
    now_ms: i64,
) -> Result<Settled, ExchangeError> {
    let policy = exchange.lookup_policy();
    match exchange.order(base, quote, client_id).await? {
        OrderLookup::Found(order) => return Ok(Settled::Found(order)),
        OrderLookup::NotFoundYet
            if policy.window_ms > 0 && now_ms < sent_ms.saturating_add(policy.window_ms) =>
        {
            return Ok(Settled::Wait {
                until_ms: sent_ms.saturating_add(policy.window_ms),
            });
        }
        OrderLookup::NotFoundYet | OrderLookup::Unknown => {}
    }
    if let Some(order) = exchange
        .open_orders()
        .await?
        .into_iter()
        .find(|o| o.client_id == client_id)
    {
        return Ok(Settled::Found(order));
    }
    let since = sent_ms.saturating_sub(policy.fills_slack_ms);
    let fills: Vec<Fill> = exchange
        .fills_since(base, quote, since)
        .await?
        .into_iter()
        .filter(|f| f.client_id == client_id)
        .collect();
    Ok(if fills.is_empty() {
        Settled::Absent
    } else {
        Settled::Closed { fills }
    })
}
