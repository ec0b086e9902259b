//! Pacing: when, on the wall clock, a tick of market time is due. The one implementation used by
//! the paced feeds here and by the node's driver loop.

use tokio::time::{Duration, Instant};

/// Plays market time at `speed` market milliseconds per wall millisecond, anchored at the first
/// tick asked about (due at once). Without a speed every tick is due at once.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    speed: Option<f64>,
    anchor: Option<(Instant, i64)>,
}

impl Pacer {
    /// `speed`: market ms per wall ms (3600: one hour per second); `None`, or a value that is
    /// not finite and > 0: as fast as possible.
    pub fn new(speed: Option<f64>) -> Self {
        Self {
            speed: speed.filter(|s| s.is_finite() && *s > 0.0),
            anchor: None,
        }
    }

    /// The speed, if paced.
    pub fn speed(&self) -> Option<f64> {
        self.speed
    }

    /// The wall instant at which the tick at market time `time_ms` is due. A tick before the
    /// anchor is due at once.
    pub fn due(&mut self, time_ms: i64) -> Instant {
        let Some(speed) = self.speed else {
            return Instant::now();
        };
        let (wall0, t0) = *self.anchor.get_or_insert((Instant::now(), time_ms));
        let nanos = (time_ms.saturating_sub(t0) as f64 * 1e6 / speed).round();
        let nanos = if nanos.is_finite() && nanos > 0.0 {
            nanos.min(u64::MAX as f64) as u64
        } else {
            0
        };
        wall0
            .checked_add(Duration::from_nanos(nanos))
            .unwrap_or(wall0)
    }

    /// Wait until the tick at `time_ms` is due.
    pub async fn wait(&mut self, time_ms: i64) {
        let at = self.due(time_ms);
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn due_follows_market_time_from_the_first_tick() {
        let mut p = Pacer::new(Some(3600.0));
        let start = Instant::now();
        assert_eq!(p.due(1_000_000), start);
        assert_eq!(p.due(1_000_000 + 3_600_000), start + Duration::from_secs(1));
        assert_eq!(
            p.due(1_000_000 + 900_000),
            start + Duration::from_millis(250)
        );
        // Before the anchor: at once (never in the past of the anchor).
        assert_eq!(p.due(0), start);
        p.wait(1_000_000 + 7_200_000).await;
        assert_eq!(Instant::now(), start + Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn unpaced_is_always_due() {
        for speed in [None, Some(0.0), Some(-1.0), Some(f64::NAN)] {
            let mut p = Pacer::new(speed);
            let start = Instant::now();
            p.wait(0).await;
            p.wait(1_000_000_000).await;
            assert_eq!(Instant::now(), start, "{speed:?}");
        }
    }
}
