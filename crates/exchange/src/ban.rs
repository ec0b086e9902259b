//! A venue's rate-limit ban: after a rate limit (Binance 429/418 with `Retry-After`, OKX
//! `50011`, Gate `TOO_MANY_REQUESTS`) nothing may be sent to the venue before a time. Shared by
//! the connectors' clients, which refuse a call during the ban at once (saying how long to
//! wait) instead of sending it or sleeping. Times are the venue's, in epoch milliseconds.

/// When sending may resume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ban {
    until_ms: Option<i64>,
}

impl Ban {
    /// Nothing may be sent for `for_ms` from `now_ms`. A ban already running longer is kept.
    pub fn ban(&mut self, now_ms: i64, for_ms: u64) {
        let until = now_ms.saturating_add(i64::try_from(for_ms).unwrap_or(i64::MAX));
        self.until_ms = Some(self.until_ms.map_or(until, |u| u.max(until)));
    }

    /// How long the ban still runs at `now_ms` (ms, at least 1), or `None` once it is over.
    pub fn wait_ms(&mut self, now_ms: i64) -> Option<u64> {
        match self.until_ms {
            Some(until) if now_ms < until => Some((until - now_ms) as u64),
            Some(_) => {
                self.until_ms = None;
                None
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ban_runs_its_time_and_is_never_shortened() {
        let mut b = Ban::default();
        assert_eq!(b.wait_ms(0), None);
        b.ban(1_000, 2_000);
        assert_eq!(b.wait_ms(1_000), Some(2_000));
        assert_eq!(b.wait_ms(2_999), Some(1));
        b.ban(1_500, 100);
        assert_eq!(b.wait_ms(2_000), Some(1_000));
        assert_eq!(b.wait_ms(3_000), None);
        b.ban(i64::MAX - 1, u64::MAX);
        assert_eq!(b.wait_ms(i64::MAX - 1), Some(1));
    }
}
