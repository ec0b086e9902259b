//! Candle history from Binance's public `GET /api/v3/klines` (no key), as a
//! [`smartfolio_data::download::CandleSource`]: pages of up to 1000 klines.
//!
//! The client's rate budget and its 429/418 `Retry-After` bans say how long to wait; this module
//! waits that long through an injected [`Sleep`] (tokio's timer in the command, a fake clock in
//! tests) and asks again. A transient failure (5xx, a dropped connection, an unreadable answer)
//! is asked again after a doubling pause, a few times. `-1121 Invalid symbol` means the venue
//! does not list the symbol. Reading klines changes nothing, so asking again is always safe.

use crate::client::{BinanceClient, BuildError, ClientConfig, system_clock};
use crate::error::{BinanceError, ErrorClass};
use crate::model::Kline;
use smartfolio_data::download::{Candle, CandleSource, Interval, SourceError};
pub use smartfolio_exchange::history::{HistoryPolicy, Sleep, tokio_sleep};
use smartfolio_exchange::history::{ReadFailure, Reader};
use std::time::Duration;

/// The most klines one request returns.
pub const KLINES_LIMIT: u32 = 1000;

/// Binance's klines as a candle source.
pub struct BinanceHistory {
    client: BinanceClient,
    reader: Reader,
}

impl BinanceHistory {
    pub fn new(client: BinanceClient, sleep: Sleep, policy: HistoryPolicy) -> Self {
        Self {
            client,
            reader: Reader::new("binance", sleep, policy),
        }
    }

    /// Public data from `base_url` (no key), on the system clock and tokio's timer.
    pub fn public(base_url: &str) -> Result<Self, BuildError> {
        let client = BinanceClient::new(
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

fn candle(k: Kline) -> Candle {
    Candle {
        open_time_ms: k.open_time,
        open: k.open,
        high: k.high,
        low: k.low,
        close: k.close,
        volume: k.volume,
    }
}

fn describe(e: &BinanceError) -> String {
    match (e.status, e.code) {
        (Some(s), Some(c)) => format!("binance answered {s} {c} {}", e.msg),
        (Some(s), None) => format!("binance answered {s}: {}", e.msg),
        _ => e.msg.clone(),
    }
}

impl CandleSource for BinanceHistory {
    fn venue(&self) -> &str {
        "binance"
    }

    fn symbol(&self, base: &str, quote: &str) -> String {
        format!(
            "{}{}",
            base.to_ascii_uppercase(),
            quote.to_ascii_uppercase()
        )
    }

    fn page_limit(&self) -> usize {
        KLINES_LIMIT as usize
    }

    /// Measures the clock offset from `GET /api/v3/time` first: a local clock ahead of Binance's
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
        let klines = self
            .reader
            .read_page(symbol, || async {
                self.client
                    .klines(
                        symbol,
                        interval.name(),
                        Some(start_ms),
                        Some(end_ms),
                        Some(KLINES_LIMIT),
                    )
                    .await
                    .map_err(|e| ReadFailure {
                        // A request the client's own budget held back was never sent.
                        sent: !(e.status.is_none()
                            && matches!(e.class, ErrorClass::RateLimited { .. })),
                        banned: matches!(e.class, ErrorClass::RateLimited { banned: true, .. }),
                        not_listed: e.code == Some(-1121),
                        message: describe(&e),
                        class: e.class.shared(),
                    })
            })
            .await?;
        Ok(klines.into_iter().map(candle).collect())
    }
}
