//! Time as the bot sees it ([`SteppedClock`]: one a replay steps itself). The runtime never reads the system clock directly: commands read a
//! [`Clock`], and ticks carry their own (market) time, so the same code runs on replayed history.
//! Waits (a venue's `retry_after`, a retry's backoff) also go through the clock, never through a
//! wall-clock sleep: on a [`ManualClock`] they move its time on at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};

/// A future that completes once a wait is over.
pub type Wait<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A source of "now", in UTC epoch milliseconds, and of waits measured on it.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;

    /// Wait `ms` milliseconds of this clock's time (asynchronously: the thread is free).
    fn sleep(&self, ms: u64) -> Wait<'_>;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    fn sleep(&self, ms: u64) -> Wait<'_> {
        Box::pin(tokio::time::sleep(std::time::Duration::from_millis(ms)))
    }
}

/// A clock set by hand (tests, replays; live markets set it to each read's wall time).
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
    /// Waits take that long on the wall clock (a live venue), not no time at all.
    real_waits: bool,
}

impl ManualClock {
    pub fn new(now_ms: i64) -> Self {
        Self {
            now: AtomicI64::new(now_ms),
            real_waits: false,
        }
    }
    /// A clock set by hand whose waits really wait (tokio's timer), then move it on: for a live
    /// venue, where a wait for a rate limit or a lookup window must let real time pass.
    pub fn with_real_waits(now_ms: i64) -> Self {
        Self {
            now: AtomicI64::new(now_ms),
            real_waits: true,
        }
    }
    pub fn set(&self, now_ms: i64) {
        self.now.store(now_ms, Ordering::SeqCst);
    }
    pub fn advance(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    /// Time set by hand does not pass by itself: the wait moves it on by `ms` (at once, or
    /// after `ms` of real time with [`ManualClock::with_real_waits`]). A real wait ends at
    /// least `ms` after it began, so waits that overlap (many bots waiting on one rate limit)
    /// end together rather than moving the clock on by their sum.
    fn sleep(&self, ms: u64) -> Wait<'_> {
        let step = i64::try_from(ms).unwrap_or(i64::MAX);
        if self.real_waits {
            let end = self.now_ms().saturating_add(step);
            return Box::pin(async move {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                self.now.fetch_max(end, Ordering::SeqCst);
            });
        }
        self.advance(step);
        Box::pin(std::future::ready(()))
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now_ms(&self) -> i64 {
        (**self).now_ms()
    }

    fn sleep(&self, ms: u64) -> Wait<'_> {
        (**self).sleep(ms)
    }
}

/// A clock a driver steps itself (a replay that fills resting orders bar by bar, tests): waits
/// end when [`SteppedClock::set`] moves the time past them, and [`SteppedClock::parked`] says
/// how many are still waiting, so the driver knows when every placement round has either
/// answered or is resting until a later time.
#[derive(Debug)]
pub struct SteppedClock {
    now: tokio::sync::watch::Sender<i64>,
    /// The ends of the waits not over yet.
    waits: std::sync::Mutex<Vec<i64>>,
    parked_signal: tokio::sync::Notify,
}

impl SteppedClock {
    pub fn new(now_ms: i64) -> Self {
        Self {
            now: tokio::sync::watch::channel(now_ms).0,
            waits: std::sync::Mutex::new(Vec::new()),
            parked_signal: tokio::sync::Notify::new(),
        }
    }

    /// Move the time to `now_ms`: the waits that end by then end.
    pub fn set(&self, now_ms: i64) {
        self.now.send_replace(now_ms);
    }

    /// How many waits end after now.
    pub fn parked(&self) -> usize {
        let now = self.now_ms();
        self.waits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|u| **u > now)
            .count()
    }

    /// Notified whenever a wait begins.
    pub fn parked_signal(&self) -> &tokio::sync::Notify {
        &self.parked_signal
    }
}

impl Clock for SteppedClock {
    fn now_ms(&self) -> i64 {
        *self.now.borrow()
    }

    fn sleep(&self, ms: u64) -> Wait<'_> {
        let until = self
            .now_ms()
            .saturating_add(i64::try_from(ms).unwrap_or(i64::MAX));
        let mut rx = self.now.subscribe();
        self.waits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(until);
        self.parked_signal.notify_one();
        Box::pin(async move {
            // The sender lives as long as the clock: the wait ends when the time passes.
            let _ = rx.wait_for(|t| *t >= until).await;
            let mut w = self.waits.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = w.iter().position(|u| *u == until) {
                w.swap_remove(i);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::{Duration, Instant};

    #[tokio::test(start_paused = true)]
    async fn a_manual_clock_waits_no_time_unless_its_waits_are_real() {
        let start = Instant::now();
        let c = ManualClock::new(1_000);
        c.sleep(5_000).await;
        assert_eq!((c.now_ms(), Instant::now()), (6_000, start));

        let c = ManualClock::with_real_waits(1_000);
        c.sleep(5_000).await;
        assert_eq!(c.now_ms(), 6_000);
        assert_eq!(Instant::now(), start + Duration::from_millis(5_000));
    }

    #[tokio::test(start_paused = true)]
    async fn overlapping_real_waits_end_together_not_after_their_sum() {
        let start = Instant::now();
        let c = std::sync::Arc::new(ManualClock::with_real_waits(1_000));
        let mut waits = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let c = c.clone();
            waits.spawn(async move { c.sleep(5_000).await });
        }
        waits.join_all().await;
        assert_eq!(c.now_ms(), 6_000);
        assert_eq!(Instant::now(), start + Duration::from_millis(5_000));
        // A wait begun later ends later; a later time set by hand meanwhile is kept.
        let (a, b) = (c.clone(), c.clone());
        let first = tokio::spawn(async move { a.sleep(1_000).await });
        tokio::task::yield_now().await;
        c.set(6_500);
        let second = tokio::spawn(async move { b.sleep(1_000).await });
        first.await.unwrap();
        second.await.unwrap();
        assert_eq!(c.now_ms(), 7_500);
        c.set(20_000);
        c.sleep(1_000).await;
        assert_eq!(c.now_ms(), 21_000);
    }
}
