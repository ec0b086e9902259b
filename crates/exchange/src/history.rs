//! Reading public history (candles) from a venue, with the waiting every connector does the same
//! way: a rate limit is waited out (its `Retry-After`, or a second) unless the wait is longer
//! than the policy allows; a transient failure is asked again after a doubling pause, a few
//! times; anything else is final. Reading changes nothing, so asking again is always safe.
//!
//! Each connector's history source sends one page request per attempt and says what a failure
//! means ([`ReadFailure`]: the shared [`Class`], whether the request was sent, and the venue's
//! own words); [`Reader::read`] does the waiting and counts requests and time waited for the
//! download's report.

use crate::failure::Class;
use smartfolio_data::download::SourceError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Waits `Duration`: tokio's timer, or a test's fake clock.
pub type Sleep = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// tokio's timer.
pub fn tokio_sleep() -> Sleep {
    Arc::new(|d| Box::pin(tokio::time::sleep(d)))
}

/// How long and how often to wait before giving up.
#[derive(Debug, Clone)]
pub struct HistoryPolicy {
    /// The longest ban (`Retry-After`) waited out; a longer one (an IP ban) is an error.
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

/// One failed attempt, as the connector understood it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFailure {
    pub class: Class,
    /// Whether the request left this process: one the client's own budget held back was never
    /// sent and does not count as a request.
    pub sent: bool,
    /// A rate limit that is a ban (Binance's 418).
    pub banned: bool,
    /// The venue said it lists no such symbol (final).
    pub not_listed: bool,
    /// The venue's answer as a message shows it (`binance answered 400 -1121 Invalid symbol.`).
    pub message: String,
}

/// The last failure of a page, after the waiting the policy allows: the caller decides what it
/// means (a venue's "no such symbol" code is "not listed").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub failure: ReadFailure,
    /// The whole message: the venue's answer, why the waiting stopped, the retries made.
    pub message: String,
}

/// The waiting policy of one venue's history reads, with their counts.
pub struct Reader {
    venue: &'static str,
    sleep: Sleep,
    policy: HistoryPolicy,
    requests: AtomicU64,
    waited_ms: AtomicU64,
}

impl Reader {
    pub fn new(venue: &'static str, sleep: Sleep, policy: HistoryPolicy) -> Self {
        Self {
            venue,
            sleep,
            policy,
            requests: AtomicU64::new(0),
            waited_ms: AtomicU64::new(0),
        }
    }

    /// Requests sent so far (every attempt, retries included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Counts a request made outside [`Self::read`] (the clock read).
    pub fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Time spent waiting on rate limits and retries so far.
    pub fn waited(&self) -> Duration {
        Duration::from_millis(self.waited_ms.load(Ordering::Relaxed))
    }

    async fn wait(&self, ms: u64) {
        self.waited_ms.fetch_add(ms, Ordering::Relaxed);
        (self.sleep)(Duration::from_millis(ms)).await;
    }

    /// Runs `attempt` until it succeeds, waiting out rate limits and retrying transient
    /// failures as the policy allows. `what` names the read in logs (`BTCUSDT`).
    pub async fn read<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, ReadError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ReadFailure>>,
    {
        let (mut failures, mut limited) = (0u32, 0u32);
        loop {
            let failure = match attempt().await {
                Ok(v) => {
                    self.count_request();
                    return Ok(v);
                }
                Err(f) => f,
            };
            if failure.sent {
                self.count_request();
            }
            match failure.class {
                Class::RateLimited { retry_after_ms } => {
                    limited += 1;
                    let wait = retry_after_ms.unwrap_or(1_000).max(1);
                    if wait > self.policy.max_wait.as_millis() as u64
                        || limited > self.policy.max_rate_limited
                    {
                        let venue = self.venue;
                        let why = if failure.banned {
                            format!("{venue} banned this IP")
                        } else {
                            format!("{venue}'s rate limit")
                        };
                        let message = format!(
                            "{why}: asked to wait {} s ({}); run again later to resume",
                            wait.div_ceil(1_000),
                            failure.message
                        );
                        return Err(ReadError { failure, message });
                    }
                    tracing::info!(what, wait_ms = wait, "rate limited: {}", failure.message);
                    self.wait(wait).await;
                }
                Class::Transient if failures < self.policy.retries => {
                    let pause = self.policy.backoff.as_millis() as u64 * (1 << failures.min(16));
                    failures += 1;
                    tracing::warn!(
                        what,
                        pause_ms = pause,
                        "history read failed, asking again: {}",
                        failure.message
                    );
                    self.wait(pause).await;
                }
                _ => {
                    let message = if failures > 0 {
                        format!("{} (after {failures} retries)", failure.message)
                    } else {
                        failure.message.clone()
                    };
                    return Err(ReadError { failure, message });
                }
            }
        }
    }
}

impl Reader {
    /// [`Self::read`] for a candle source: the venue's "no such symbol" is
    /// [`SourceError::NotListed`], any other final failure [`SourceError::Failed`] with the
    /// whole message.
    pub async fn read_page<T, F, Fut>(&self, what: &str, attempt: F) -> Result<T, SourceError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ReadFailure>>,
    {
        self.read(what, attempt).await.map_err(|e| {
            if e.failure.not_listed {
                SourceError::NotListed
            } else {
                SourceError::Failed(e.message)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn recorder() -> (Sleep, Arc<Mutex<Vec<u64>>>) {
        let waits = Arc::new(Mutex::new(Vec::new()));
        let w = waits.clone();
        let sleep: Sleep = Arc::new(move |d| {
            w.lock().unwrap().push(d.as_millis() as u64);
            Box::pin(async {})
        });
        (sleep, waits)
    }

    fn fail(class: Class, sent: bool) -> ReadFailure {
        ReadFailure {
            class,
            sent,
            banned: false,
            not_listed: false,
            message: "venue answered".into(),
        }
    }

    #[tokio::test]
    async fn waits_out_limits_and_retries_transients_then_succeeds() {
        let (sleep, waits) = recorder();
        let reader = Reader::new("okx", sleep, HistoryPolicy::default());
        let mut answers = vec![
            Err(fail(
                Class::RateLimited {
                    retry_after_ms: Some(2_000),
                },
                true,
            )),
            Err(fail(
                Class::RateLimited {
                    retry_after_ms: None,
                },
                false,
            )),
            Err(fail(Class::Transient, true)),
            Err(fail(Class::Transient, true)),
            Ok(7),
        ]
        .into_iter();
        let got = reader
            .read("BTC-USDT", || std::future::ready(answers.next().unwrap()))
            .await
            .unwrap();
        assert_eq!(got, 7);
        // The held-back attempt was never sent.
        assert_eq!(reader.requests(), 4);
        assert_eq!(*waits.lock().unwrap(), vec![2_000, 1_000, 1_000, 2_000]);
        assert_eq!(reader.waited(), Duration::from_millis(6_000));
    }

    #[tokio::test]
    async fn a_rejection_is_final_and_a_long_ban_is_not_waited() {
        let (sleep, waits) = recorder();
        let reader = Reader::new("binance", sleep, HistoryPolicy::default());
        let e = reader
            .read("BTCUSDT", || {
                std::future::ready(Err::<(), _>(fail(Class::Rejected, true)))
            })
            .await
            .unwrap_err();
        assert_eq!(e.failure.class, Class::Rejected);
        assert_eq!(e.message, "venue answered");
        let mut ban = fail(
            Class::RateLimited {
                retry_after_ms: Some(3_600_000),
            },
            true,
        );
        ban.banned = true;
        let e = reader
            .read("BTCUSDT", || std::future::ready(Err::<(), _>(ban.clone())))
            .await
            .unwrap_err();
        assert_eq!(
            e.message,
            "binance banned this IP: asked to wait 3600 s (venue answered); run again later to resume"
        );
        assert!(waits.lock().unwrap().is_empty());
        assert_eq!(reader.requests(), 2);
        // As a candle source says it: "not listed", else the whole message.
        let mut unknown = fail(Class::Rejected, true);
        unknown.not_listed = true;
        let page = reader.read_page("XYZUSDT", || {
            std::future::ready(Err::<(), _>(unknown.clone()))
        });
        assert_eq!(page.await, Err(SourceError::NotListed));
        let page = reader.read_page("BTCUSDT", || std::future::ready(Err::<(), _>(ban.clone())));
        assert_eq!(
            page.await,
            Err(SourceError::Failed(
                "binance banned this IP: asked to wait 3600 s (venue answered); run again later to resume".into()
            ))
        );
    }

    #[tokio::test]
    async fn transient_failures_stop_after_the_policys_retries() {
        let (sleep, waits) = recorder();
        let policy = HistoryPolicy {
            retries: 2,
            ..HistoryPolicy::default()
        };
        let reader = Reader::new("okx", sleep, policy);
        let e = reader
            .read("BTC-USDT", || {
                std::future::ready(Err::<(), _>(fail(Class::Transient, true)))
            })
            .await
            .unwrap_err();
        assert_eq!(e.message, "venue answered (after 2 retries)");
        assert_eq!(*waits.lock().unwrap(), vec![1_000, 2_000]);
        assert_eq!(reader.requests(), 3);
    }
}
