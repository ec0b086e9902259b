//! [`LiveFeed`]: a venue's public last prices, read every `poll`.
//!
//! One tick is one read: the tick's time is the wall clock when the read came back, and it
//! carries the prices the venue gave. A read that fails (the venue is down, rate-limited, or
//! sent something unreadable) still makes a tick, with the time and no prices: the prices held
//! from earlier reads then age, and a bot whose price is older than its stale limit suspends
//! (see the bot engine) instead of trading on it. A price of zero or below is rejected: left
//! out of the tick, with a warning, so it never reaches a bot.
//!
//! The assets read are a [`Watch`]: the ones configured plus whatever the host adds (every
//! bot's assets), so a bot created while the feed runs is priced from the next read on.

use super::{PriceFeed, PriceTick};
use crate::Exchange;
use async_trait::async_trait;
use rust_decimal::Decimal;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use tokio::time::{Duration, Instant};

/// The wall clock, UTC epoch milliseconds (injectable for tests).
pub type WallClock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock in UTC epoch milliseconds.
pub fn system_wall_clock() -> WallClock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    })
}

/// The set of assets a live feed reads, shared with whoever adds to it.
#[derive(Debug, Clone, Default)]
pub struct Watch(Arc<Mutex<BTreeSet<String>>>);

impl Watch {
    /// A watch over `assets` (upper-cased).
    pub fn new<S: AsRef<str>>(assets: &[S]) -> Self {
        let w = Watch::default();
        w.add(assets.iter().map(|a| a.as_ref()));
        w
    }

    /// Read these assets too from the next read on.
    pub fn add<'a>(&self, assets: impl IntoIterator<Item = &'a str>) {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for a in assets {
            let a = a.trim().to_ascii_uppercase();
            if !a.is_empty() && !set.contains(&a) {
                set.insert(a);
            }
        }
    }

    /// The assets now, sorted.
    pub fn assets(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// Live public prices from a venue, one read per tick, every `poll`.
pub struct LiveFeed {
    exchange: Arc<dyn Exchange>,
    quote: String,
    watch: Watch,
    /// The assets of the last read (what [`PriceFeed::assets`] shows).
    assets: Vec<String>,
    poll: Duration,
    clock: WallClock,
    next_read: Option<Instant>,
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed")
            .field("venue", &self.exchange.name())
            .field("quote", &self.quote)
            .field("assets", &self.watch.assets())
            .field("poll", &self.poll)
            .finish()
    }
}

impl LiveFeed {
    /// A feed of `watch`'s assets against `quote` from `exchange`'s tickers, read every `poll`
    /// (the first read at once), its ticks timed by `clock`.
    pub fn new(
        exchange: Arc<dyn Exchange>,
        quote: &str,
        watch: Watch,
        poll: Duration,
        clock: WallClock,
    ) -> Self {
        Self {
            exchange,
            quote: quote.trim().to_ascii_uppercase(),
            assets: watch.assets(),
            watch,
            poll,
            clock,
            next_read: None,
        }
    }

    /// The assets this feed reads.
    pub fn watch(&self) -> &Watch {
        &self.watch
    }

    /// Read the prices once, now: a tick with what the venue priced (nothing when the read
    /// failed; prices ≤ 0 left out).
    pub async fn read(&mut self) -> PriceTick {
        self.assets = self
            .watch
            .assets()
            .into_iter()
            .filter(|a| *a != self.quote)
            .collect();
        let answer = if self.assets.is_empty() {
            Ok(vec![])
        } else {
            self.exchange.tickers(&self.assets, &self.quote).await
        };
        let time_ms = (self.clock)();
        let mut prices = Vec::with_capacity(self.assets.len());
        match answer {
            Ok(tickers) => {
                for t in tickers {
                    if t.last <= Decimal::ZERO {
                        tracing::warn!(
                            venue = self.exchange.name(),
                            "rejected the price {} for {}/{}: a price must be above zero",
                            t.last,
                            t.base,
                            t.quote
                        );
                        continue;
                    }
                    prices.push((t.base, t.last));
                }
            }
            Err(e) => tracing::warn!(
                venue = self.exchange.name(),
                "reading prices of {} failed: {e}; no prices this tick",
                self.assets.join(", ")
            ),
        }
        PriceTick { time_ms, prices }
    }
}

#[async_trait]
impl PriceFeed for LiveFeed {
    fn assets(&self) -> &[String] {
        &self.assets
    }

    fn quote(&self) -> &str {
        &self.quote
    }

    /// Waits until the next read is due (`poll` after the previous one began), then reads.
    /// A live feed never ends.
    async fn next_tick(&mut self) -> Option<PriceTick> {
        if let Some(at) = self.next_read {
            tokio::time::sleep_until(at).await;
        }
        let started = Instant::now();
        let due = self.next_read.map_or(started, |at| at.max(started));
        self.next_read = Some(due + self.poll);
        Some(self.read().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Balance, ExchangeError, Fill, Instrument, Order, OrderAck, OrderLookup, OrderRequest,
        Ticker,
    };
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

    /// One scripted answer to a tickers read.
    type Answer = Result<Vec<(String, Decimal)>, ExchangeError>;

    /// A venue that answers tickers from a script and refuses everything else.
    struct Scripted {
        answers: Mutex<Vec<Answer>>,
        asked: Mutex<Vec<Vec<String>>>,
        reads: AtomicUsize,
    }

    fn no() -> ExchangeError {
        ExchangeError::Rejected {
            code: "test".into(),
            message: "not used by the feed".into(),
        }
    }

    #[async_trait]
    impl Exchange for Scripted {
        fn name(&self) -> &str {
            "scripted"
        }
        async fn server_time_ms(&self) -> Result<i64, ExchangeError> {
            Err(no())
        }
        async fn instruments(&self) -> Result<Vec<Instrument>, ExchangeError> {
            Err(no())
        }
        async fn balances(&self) -> Result<Vec<Balance>, ExchangeError> {
            Err(no())
        }
        async fn tickers(
            &self,
            bases: &[String],
            quote: &str,
        ) -> Result<Vec<Ticker>, ExchangeError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.asked.lock().unwrap().push(bases.to_vec());
            let next = self.answers.lock().unwrap().remove(0);
            next.map(|ps| {
                ps.into_iter()
                    .map(|(base, last)| Ticker {
                        base,
                        quote: quote.to_string(),
                        last,
                        time_ms: 0,
                    })
                    .collect()
            })
        }
        async fn place_order(&self, _: &OrderRequest) -> Result<OrderAck, ExchangeError> {
            Err(no())
        }
        async fn cancel_order(&self, _: &str, _: &str, _: &str) -> Result<Order, ExchangeError> {
            Err(no())
        }
        async fn order(&self, _: &str, _: &str, _: &str) -> Result<OrderLookup, ExchangeError> {
            Err(no())
        }
        async fn open_orders(&self) -> Result<Vec<Order>, ExchangeError> {
            Err(no())
        }
        async fn fills(&self, _: &str, _: &str, _: &str) -> Result<Vec<Fill>, ExchangeError> {
            Err(no())
        }
        async fn fills_since(&self, _: &str, _: &str, _: i64) -> Result<Vec<Fill>, ExchangeError> {
            Err(no())
        }
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn one_tick_per_read_every_poll_zero_rejected_failures_give_empty_ticks() {
        let venue = Arc::new(Scripted {
            answers: Mutex::new(vec![
                Ok(vec![("BTC".into(), d("60000")), ("ETH".into(), d("3000"))]),
                Ok(vec![("BTC".into(), d("0")), ("ETH".into(), d("3100"))]),
                Err(ExchangeError::Transient("connection refused".into())),
                Ok(vec![
                    ("BTC".into(), d("61000")),
                    ("ETH".into(), d("3200")),
                    ("SOL".into(), d("150")),
                ]),
            ]),
            asked: Mutex::new(vec![]),
            reads: AtomicUsize::new(0),
        });
        let wall = Arc::new(AtomicI64::new(1_000));
        let w = wall.clone();
        let watch = Watch::new(&["eth", "BTC", "USDT"]);
        let mut feed = LiveFeed::new(
            venue.clone(),
            "usdt",
            watch.clone(),
            Duration::from_secs(2),
            Arc::new(move || w.load(Ordering::SeqCst)),
        );
        let start = Instant::now();
        let t1 = feed.next_tick().await.unwrap();
        assert_eq!(Instant::now(), start, "the first read is at once");
        assert_eq!(t1.time_ms, 1_000);
        assert_eq!(
            t1.prices,
            vec![("BTC".into(), d("60000")), ("ETH".into(), d("3000"))]
        );
        assert_eq!(feed.assets(), ["BTC", "ETH"], "the quote is never read");

        wall.store(3_000, Ordering::SeqCst);
        let t2 = feed.next_tick().await.unwrap();
        assert_eq!(Instant::now(), start + Duration::from_secs(2));
        assert_eq!(
            t2.prices,
            vec![("ETH".into(), d("3100"))],
            "a zero price is left out"
        );

        wall.store(5_000, Ordering::SeqCst);
        let t3 = feed.next_tick().await.unwrap();
        assert_eq!(Instant::now(), start + Duration::from_secs(4));
        assert_eq!(
            (t3.time_ms, t3.prices.len()),
            (5_000, 0),
            "a failed read: no prices"
        );

        watch.add(["sol"]);
        let t4 = feed.next_tick().await.unwrap();
        assert_eq!(t4.price("SOL"), Some(d("150")));
        assert_eq!(venue.reads.load(Ordering::SeqCst), 4, "one read per tick");
        assert_eq!(
            venue.asked.lock().unwrap().last().unwrap(),
            &vec!["BTC".to_string(), "ETH".into(), "SOL".into()]
        );
    }
}
