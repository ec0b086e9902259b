//! Candle history from OKX's public `GET /api/v5/market/history-candles` (no key), as a
//! [`smartfolio_data::download::CandleSource`].
//!
//! OKX answers newest first, at most 100 candles, between `before` and `after` (both excluded).
//! A page from `start` asks for the window `(start − 1, start + 100 bars)`, so the answer is the
//! oldest 100 candles of the range and is turned oldest first. Bars of 6 hours and more are
//! asked as OKX's UTC bars (`1Dutc`): its plain `1D` opens at 16:00 UTC (Hong Kong midnight),
//! which is not the `1d` that `backtest` reads. OKX has no 8-hour bar.
//!
//! The waiting (rate limits `50011`/429, transient failures) is the shared
//! [`smartfolio_exchange::history::Reader`]'s. `51001` ("Instrument ID does not exist") means
//! the venue does not list the pair.

use crate::client::{BuildError, ClientConfig, OkxClient, system_clock};
use crate::error::OkxError;
use crate::model::CandleRow;
use smartfolio_data::download::{Candle, CandleSource, Interval, SourceError, page_by_windows};
pub use smartfolio_exchange::history::{HistoryPolicy, Sleep, tokio_sleep};
use smartfolio_exchange::history::{ReadFailure, Reader};
use std::time::Duration;

/// The most candles one `history-candles` request returns.
pub const CANDLES_LIMIT: u32 = 100;

/// OKX's name of a candle interval (`1h` is `1H`, `1d` is `1Dutc`); `None` when OKX has no
/// such bar.
pub fn bar(interval: Interval) -> Option<&'static str> {
    Some(match interval.name() {
        "1m" => "1m",
        "3m" => "3m",
        "5m" => "5m",
        "15m" => "15m",
        "30m" => "30m",
        "1h" => "1H",
        "2h" => "2H",
        "4h" => "4H",
        "6h" => "6Hutc",
        "12h" => "12Hutc",
        "1d" => "1Dutc",
        "3d" => "3Dutc",
        "1w" => "1Wutc",
        _ => return None,
    })
}

/// The intervals OKX has, for messages.
pub fn allowed_intervals() -> String {
    Interval::allowed_where(|i| bar(i).is_some())
}

/// OKX's history candles as a candle source.
pub struct OkxHistory {
    client: OkxClient,
    reader: Reader,
}

impl OkxHistory {
    /// `sleep` waits out both the retries and the client's endpoint budget.
    pub fn new(client: OkxClient, sleep: Sleep, policy: HistoryPolicy) -> Self {
        Self {
            client: client.with_sleep(sleep.clone()),
            reader: Reader::new("okx", sleep, policy),
        }
    }

    /// Public data from `base_url` (no key), on the system clock and tokio's timer.
    pub fn public(base_url: &str) -> Result<Self, BuildError> {
        let client = OkxClient::new(
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

fn describe(e: &OkxError) -> String {
    match (e.status, &e.code) {
        (Some(s), Some(c)) => format!("okx answered {s} {c} {}", e.msg),
        (Some(s), None) => format!("okx answered {s}: {}", e.msg),
        _ => e.msg.clone(),
    }
}

fn candle(c: CandleRow) -> Candle {
    Candle {
        open_time_ms: c.ts,
        open: c.open,
        high: c.high,
        low: c.low,
        close: c.close,
        volume: c.volume,
    }
}

impl CandleSource for OkxHistory {
    fn venue(&self) -> &str {
        "okx"
    }

    fn symbol(&self, base: &str, quote: &str) -> String {
        format!(
            "{}-{}",
            base.to_ascii_uppercase(),
            quote.to_ascii_uppercase()
        )
    }

    fn page_limit(&self) -> usize {
        CANDLES_LIMIT as usize
    }

    /// Measures the clock offset from `GET /api/v5/public/time` first: a local clock ahead of
    /// OKX's must not take a candle still forming for a closed one.
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
        let Some(bar) = bar(interval) else {
            return Err(SourceError::Failed(format!(
                "okx has no {interval} candles; allowed: {}",
                allowed_intervals()
            )));
        };
        // OKX pages by time window, not by count: each window holds at most the bars still
        // wanted, so its newest-first answer is all of it.
        page_by_windows(
            interval,
            start_ms,
            end_ms,
            CANDLES_LIMIT as usize,
            |from, last| async move {
                let rows = self.window(symbol, bar, from, last).await?;
                Ok(rows.into_iter().map(candle).collect())
            },
        )
        .await
    }
}

impl OkxHistory {
    /// The candles opening in `[from, last]`, newest first, as OKX answers them.
    async fn window(
        &self,
        symbol: &str,
        bar: &str,
        from: i64,
        last: i64,
    ) -> Result<Vec<CandleRow>, SourceError> {
        self.reader
            .read_page(symbol, || async {
                self.client
                    .history_candles(symbol, bar, last + 1, from - 1, CANDLES_LIMIT)
                    .await
                    .map_err(|e| ReadFailure {
                        // A request held back by the client's ban was never sent.
                        sent: e.status.is_some()
                            || !matches!(e.class, crate::ErrorClass::RateLimited { .. }),
                        banned: false,
                        not_listed: e.code.as_deref() == Some("51001"),
                        message: describe(&e),
                        class: e.class,
                    })
            })
            .await
    }
}
