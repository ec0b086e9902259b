//! The venue's clock offset. Signed requests carry a timestamp the venue checks against its own
//! clock (Binance `-1021` outside `recvWindow`, OKX `50102`, Gate `REQUEST_EXPIRED`), so a
//! connector sends `local time + offset`.
//!
//! One sample is `server time − the midpoint of the request's round trip`. A single slow round
//! trip overshoots, so [`ClockOffset`] keeps the last few samples and answers their median.

use crate::{Exchange, ExchangeError};
use std::collections::VecDeque;
use std::sync::Arc;

/// The local clock, epoch milliseconds (the system clock unless a test injects one); every
/// connector's client reads time through one.
pub type LocalClock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock in epoch milliseconds.
pub fn system_clock() -> LocalClock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    })
}

/// The last samples of a venue's clock offset.
#[derive(Debug, Clone, Default)]
pub struct ClockOffset {
    samples: VecDeque<i64>,
}

impl ClockOffset {
    /// How many samples are kept.
    pub const SAMPLES: usize = 5;

    pub fn new() -> Self {
        Self::default()
    }

    /// Record one reading: the request left at `sent_ms` and its answer, saying `server_ms`,
    /// came back at `received_ms` (local clock). A reading whose answer came back before it
    /// was sent is ignored (the local clock jumped).
    pub fn record(&mut self, sent_ms: i64, server_ms: i64, received_ms: i64) {
        if received_ms < sent_ms {
            return;
        }
        let midpoint = sent_ms + (received_ms - sent_ms) / 2;
        if self.samples.len() == Self::SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(server_ms - midpoint);
    }

    /// The median offset (server − local, ms), once a sample is in; with an even count, the
    /// mean of the two middle ones rounded toward zero.
    pub fn offset_ms(&self) -> Option<i64> {
        if self.samples.is_empty() {
            return None;
        }
        let mut s: Vec<i64> = self.samples.iter().copied().collect();
        s.sort_unstable();
        let m = s.len() / 2;
        Some(if s.len() % 2 == 1 {
            s[m]
        } else {
            (s[m - 1] + s[m]) / 2
        })
    }

    /// The venue's time now, given the local time (the local time itself before any sample).
    pub fn venue_time(&self, local_ms: i64) -> i64 {
        local_ms + self.offset_ms().unwrap_or(0)
    }

    /// Forget every sample (after the venue refused a timestamp, before measuring again).
    pub fn reset(&mut self) {
        self.samples.clear();
    }

    /// Read the venue's server time once and record it; `local_ms` reads the local clock.
    pub async fn sample(
        &mut self,
        exchange: &dyn Exchange,
        local_ms: &(dyn Fn() -> i64 + Send + Sync),
    ) -> Result<i64, ExchangeError> {
        let sent = local_ms();
        let server = exchange.server_time_ms().await?;
        let received = local_ms();
        self.record(sent, server, received);
        Ok(self.offset_ms().unwrap_or(0))
    }
}
