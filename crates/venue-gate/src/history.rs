//! Candle history from Gate's public `GET /spot/candlesticks` (no key), as a
//! [`smartfolio_data::download::CandleSource`].
//!
//! Gate answers oldest first the candles opening in `[from, to]` (unix **seconds**, both
//! included), at most 1000 points a query; `limit` may not be sent with `from`/`to`. A page is
//! asked as windows of at most the candles still wanted ([`page_by_windows`]), so a gap at the
//! venue does not end the range early. Gate's intervals are `10s`, `1m`, `5m`, `15m`, `30m`,
//! `1h`, `4h`, `8h`, `1d`, `7d` and `30d`: of ours it has `1m` to `30m` (no `3m`), `1h`,
//! `4h`, `8h` and `1d` (its `7d` counts weeks from 1970-01-01, a Thursday, so it is not the
//! Monday week `1w` is elsewhere; `30d` is a calendar month).
//!
//! Gate keeps only the last 10,000 candles of an interval: asking further back is refused with
//! `INVALID_PARAM_VALUE` "Candlestick too long ago" (reported by several clients of the live
//! API, not in Gate's reference); the error says so and what to change.
//!
//! The waiting (rate limits `TOO_MANY_REQUESTS`/429, transient failures) is the shared
//! [`smartfolio_exchange::history::Reader`]'s. `INVALID_CURRENCY_PAIR` means the venue does not
//! list the pair. A candle Gate marks as not closed yet is never returned.

use crate::client::{BuildError, ClientConfig, GateClient};
use crate::error::{ErrorClass, GateError};
use crate::model::Candle as GateCandle;
use smartfolio_data::download::{Candle, CandleSource, Interval, SourceError, page_by_windows};
pub use smartfolio_exchange::history::{HistoryPolicy, Sleep, tokio_sleep};
use smartfolio_exchange::history::{ReadFailure, Reader};
use smartfolio_exchange::system_clock;
use std::time::Duration;

/// The most candles one `candlesticks` query returns.
pub const CANDLES_LIMIT: u32 = 1000;

/// How far back Gate serves an interval, in candles from now.
pub const HISTORY_POINTS: u32 = 10_000;

/// Gate's name of a candle interval; `None` when Gate has no such candles.
pub fn interval_name(interval: Interval) -> Option<&'static str> {
    match interval.name() {
        n @ ("1m" | "5m" | "15m" | "30m" | "1h" | "4h" | "8h" | "1d") => Some(n),
        _ => None,
    }
}

/// The intervals Gate has, for messages.
pub fn allowed_intervals() -> String {
    Interval::allowed_where(|i| interval_name(i).is_some())
}

/// Gate's candlesticks as a candle source.
pub struct GateHistory {
    client: GateClient,
    reader: Reader,
}

impl GateHistory {
    pub fn new(client: GateClient, sleep: Sleep, policy: HistoryPolicy) -> Self {
        Self {
            client,
            reader: Reader::new("gate", sleep, policy),
        }
    }

    /// Public data from `base_url` (no key), on the system clock and tokio's timer.
    pub fn public(base_url: &str) -> Result<Self, BuildError> {
        let client = GateClient::new(
            ClientConfig {
                base_url: base_url.to_string(),
                ..ClientConfig::default()
            },
            None,
            system_clock(),
        )?;
        Ok(Self::new(client, tokio_sleep(), HistoryPolicy::default()))
    }

    /// Requests sent so far (every attempt, retries included).
    pub fn requests(&self) -> u64 {
        self.reader.requests()
    }

    /// Time spent waiting on rate limits and retries so far.
    pub fn waited(&self) -> Duration {
        self.reader.waited()
    }
}

/// Gate's answer in a message, with what to change when it is the history limit.
fn describe(e: &GateError) -> String {
    let text = e.to_string();
    if e.label.as_deref() == Some("INVALID_PARAM_VALUE") && e.msg.contains("too long ago") {
        format!(
            "{text} (gate serves only the last {HISTORY_POINTS} candles of an interval: use a later --from or a longer --interval)"
        )
    } else {
        text
    }
}

fn candle(c: GateCandle) -> Candle {
    Candle {
        open_time_ms: c.time_s * 1_000,
        open: c.open,
        high: c.high,
        low: c.low,
        close: c.close,
        volume: c.base_volume,
    }
}

impl CandleSource for GateHistory {
    fn venue(&self) -> &str {
        "gate"
    }

    fn symbol(&self, base: &str, quote: &str) -> String {
        format!(
            "{}_{}",
            base.to_ascii_uppercase(),
            quote.to_ascii_uppercase()
        )
    }

    fn page_limit(&self) -> usize {
        CANDLES_LIMIT as usize
    }

    /// Measures the clock offset from `GET /spot/time` first: a local clock ahead of Gate's
    /// must not take a candle still forming for a closed one.
    async fn now_ms(&self) -> Result<i64, SourceError> {
        self.reader.count_request();
        self.client
            .sync_clock()
            .await
            .map_err(|e| SourceError::Failed(describe(&e)))?;
        Ok(self.client.venue_now_ms())
    }

    async fn page(
        &self,
        symbol: &str,
        interval: Interval,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Candle>, SourceError> {
        let Some(name) = interval_name(interval) else {
            return Err(SourceError::Failed(format!(
                "gate has no {interval} candles; allowed: {}",
                allowed_intervals()
            )));
        };
        page_by_windows(
            interval,
            start_ms,
            end_ms,
            CANDLES_LIMIT as usize,
            |from, last| async move {
                let rows = self.window(symbol, name, from, last).await?;
                Ok(rows.into_iter().filter(|c| c.closed).map(candle).collect())
            },
        )
        .await
    }
}

impl GateHistory {
    /// The candles opening in `[from, last]` (ms), as Gate answers them: `from` rounded up and
    /// `last` down to Gate's seconds.
    async fn window(
        &self,
        symbol: &str,
        interval: &str,
        from: i64,
        last: i64,
    ) -> Result<Vec<GateCandle>, SourceError> {
        let (from_s, to_s) = ((from + 999).div_euclid(1_000), last.div_euclid(1_000));
        self.reader
            .read_page(symbol, || async {
                self.client
                    .candlesticks(symbol, interval, from_s, to_s)
                    .await
                    .map_err(|e| ReadFailure {
                        // A request held back by the client's ban was never sent.
                        sent: e.status.is_some()
                            || !matches!(e.class, ErrorClass::RateLimited { .. }),
                        banned: false,
                        not_listed: e.label.as_deref() == Some("INVALID_CURRENCY_PAIR"),
                        message: describe(&e),
                        class: e.class,
                    })
            })
            .await
    }
}
