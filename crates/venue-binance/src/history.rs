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
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The most klines one request returns.
pub const KLINES_LIMIT: u32 = 1000;

/// Waits `Duration`: tokio's timer, or a test's fake clock.
pub type Sleep = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// tokio's timer.
pub fn tokio_sleep() -> Sleep {
    Arc::new(|d| Box::pin(tokio::time::sleep(d)))
}

/// How long and how often to wait before giving up.
#[derive(Debug, Clone)]
pub struct HistoryPolicy {
    /// The longest ban (`Retry-After`) waited out; a longer one (a 418 IP ban) is an error.
    pub max_wait: Duration,
    /// Transient failures of one page asked again before giving up.
    pub retries: u32,
    /// The first pause after a transient failure, doubled after each.
    pub backoff: Duration,
    /// Rate-limited answers of one page waited out before giving up.
    pub max_rate_limited: u32,
}

impl Default for HistoryPolicy {
    fn default() -> Self {
        Self {
            max_wait: Duration::from_secs(300),
            retries: 4,
            backoff: Duration::from_secs(1),
            max_rate_limited: 10,
        }
    }
}

/// Binance's klines as a candle source.
pub struct BinanceHistory {
    client: BinanceClient,
    sleep: Sleep,
    policy: HistoryPolicy,
    requests: AtomicU64,
    waited_ms: AtomicU64,
}

impl BinanceHistory {
    pub fn new(client: BinanceClient, sleep: Sleep, policy: HistoryPolicy) -> Self {
        Self {
            client,
            sleep,
            policy,
            requests: AtomicU64::new(0),
            waited_ms: AtomicU64::new(0),
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
        self.requests.load(Ordering::Relaxed)
    }

    /// Time spent waiting on rate limits and retries so far.
    pub fn waited(&self) -> Duration {
        Duration::from_millis(self.waited_ms.load(Ordering::Relaxed))
    }

    async fn wait(&self, ms: u64) {
        self.waited_ms.fetch_add(ms, Ordering::Relaxed);
        (self.sleep)(Duration::from_millis(ms)).await;
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
        self.requests.fetch_add(1, Ordering::Relaxed);
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
        let (mut failures, mut limited) = (0u32, 0u32);
        loop {
            let answer = self
                .client
                .klines(
                    symbol,
                    interval.name(),
                    Some(start_ms),
                    Some(end_ms),
                    Some(KLINES_LIMIT),
                )
                .await;
            let e = match answer {
                Ok(k) => {
                    self.requests.fetch_add(1, Ordering::Relaxed);
                    return Ok(k.into_iter().map(candle).collect());
                }
                Err(e) => e,
            };
            // A request the client's own budget held back was never sent.
            let held_back = e.status.is_none() && matches!(e.class, ErrorClass::RateLimited { .. });
            if !held_back {
                self.requests.fetch_add(1, Ordering::Relaxed);
            }
            match e.class {
                ErrorClass::RateLimited {
                    retry_after_ms,
                    banned,
                } => {
                    limited += 1;
                    let wait = retry_after_ms.unwrap_or(1_000).max(1);
                    if wait > self.policy.max_wait.as_millis() as u64
                        || limited > self.policy.max_rate_limited
                    {
                        let what = if banned {
                            "binance banned this IP (418)"
                        } else {
                            "binance's rate limit"
                        };
                        return Err(SourceError::Failed(format!(
                            "{what}: asked to wait {} s ({}); run again later to resume",
                            wait.div_ceil(1_000),
                            describe(&e)
                        )));
                    }
                    tracing::info!(symbol, wait_ms = wait, "rate limited: {}", e.msg);
                    self.wait(wait).await;
                }
                ErrorClass::Rejected if e.code == Some(-1121) => {
                    return Err(SourceError::NotListed);
                }
                ErrorClass::Transient if failures < self.policy.retries => {
                    let pause = self.policy.backoff.as_millis() as u64 * (1 << failures.min(16));
                    failures += 1;
                    tracing::warn!(
                        symbol,
                        pause_ms = pause,
                        "klines failed, asking again: {}",
                        e.msg
                    );
                    self.wait(pause).await;
                }
                _ => {
                    return Err(SourceError::Failed(format!(
                        "{}{}",
                        describe(&e),
                        if failures > 0 {
                            format!(" (after {failures} retries)")
                        } else {
                            String::new()
                        }
                    )));
                }
            }
        }
    }
}
