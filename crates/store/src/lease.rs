//! Leases and fencing (issue 16): which worker may trade a venue account's bots, and the check
//! that keeps a worker that lost its lease from writing.
//!
//! A lease is per venue account (`venue`, `account`), not per bot: the bots of one account share
//! its balances and its rate limits, so two workers must never trade one account's bots in an
//! interleaved way. A lease has a holder (the worker's name), an expiry (ms, the caller's clock:
//! the store never reads one) and an epoch, the fencing token: it grows by one every time the
//! lease changes hands (taken when free, expired or released), never when it is renewed.
//!
//! A worker carries its [`Fence`] (account and epoch) into the writes of the bots it trades;
//! [`crate::Store::begin_rebalance_fenced`], [`crate::Store::add_orders_fenced`] and
//! [`crate::Store::apply_fills_fenced`] check it inside their transaction (the lease row is
//! read there, on PostgreSQL `FOR SHARE`, so a takeover waits for the write or the write sees
//! the takeover) and refuse a stale or expired one with [`StoreError::Fenced`], writing nothing.
//! `None` is single-process mode: no lease is looked at.
//!
//! A worker's whole handle can carry its fence: [`crate::Backend::fenced`] gives a handle
//! (PostgreSQL) whose every write of a bot — bots created and updated, rebalances begun and
//! finished, orders added and updated, fills, flows, ledger closes, snapshots, the paper
//! account's changes — checks a [`Session`] in its transaction the same way, at the time the
//! worker's own lease clock gives (the clock its leases are taken and renewed by, not the
//! write's market time). A write given an explicit fence is checked against that one.

use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use serde::Serialize;
use std::sync::Arc;

/// A worker's lease clock (ms): the one its leases' expiries are on. Tests inject one.
pub type LeaseClock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The fence every write of a handle carries (see [`crate::Backend::fenced`]), and the clock
/// its expiry is judged by.
#[derive(Clone)]
pub struct Session {
    pub fence: Fence,
    pub now: LeaseClock,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("fence", &self.fence)
            .finish()
    }
}

impl Session {
    /// The fence and the time a write is checked at: an explicit fence at the write's own time,
    /// else this session's at its clock's now.
    #[cfg(feature = "postgres")]
    pub(crate) fn pick<'a>(
        session: Option<&'a Session>,
        explicit: Option<&'a Fence>,
        time_ms: i64,
    ) -> Option<(&'a Fence, i64)> {
        match (explicit, session) {
            (Some(f), _) => Some((f, time_ms)),
            (None, Some(s)) => Some((&s.fence, (s.now)())),
            (None, None) => None,
        }
    }
}

/// The lease a worker holds on a venue account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    pub venue: String,
    pub account: String,
    pub holder: String,
    /// The fencing token: strictly greater than every earlier holder's.
    pub epoch: i64,
    /// Held until this time (ms, exclusive).
    pub expires_ms: i64,
}

impl Lease {
    /// What the holder's writes carry.
    pub fn fence(&self) -> Fence {
        Fence {
            venue: self.venue.clone(),
            account: self.account.clone(),
            epoch: self.epoch,
        }
    }
}

/// A stored lease row: `holder` is none once released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseRecord {
    pub venue: String,
    pub account: String,
    pub holder: Option<String>,
    pub epoch: i64,
    pub expires_ms: i64,
}

/// What a fenced write carries: the account it writes for and the epoch of its lease.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fence {
    pub venue: String,
    pub account: String,
    pub epoch: i64,
}

/// What [`Leases::renew_lease`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    /// Still held, until the new expiry.
    Held(Lease),
    /// Not held any more (expired, released or taken over): the row as it stands, if any.
    Lost { current: Option<LeaseRecord> },
}

/// The lease table of a store. Each method is one statement, atomic on both backends.
#[async_trait]
pub trait Leases: Send + Sync {
    /// Take the account's lease for `worker` until `now_ms + ttl_ms`, if nobody holds it (never
    /// taken, released, or expired at `now_ms`); the epoch is one more than the last. None when
    /// it is held, by another worker or by `worker` itself (a holder renews).
    async fn acquire_lease(
        &self,
        venue: &str,
        account: &str,
        worker: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> StoreResult<Option<Lease>>;
    /// Extend the lease `fence` names to `now_ms + ttl_ms` if `worker` still holds it at that
    /// epoch and it has not expired at `now_ms`; else [`Renewal::Lost`] (a lost lease is taken
    /// again with [`Leases::acquire_lease`], at a new epoch).
    async fn renew_lease(
        &self,
        fence: &Fence,
        worker: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> StoreResult<Renewal>;
    /// Give the lease up (the epoch stays, the next holder gets one more); false when `worker`
    /// did not hold it at that epoch.
    async fn release_lease(&self, fence: &Fence, worker: &str) -> StoreResult<bool>;
    /// Every lease row, by venue and account.
    async fn leases(&self) -> StoreResult<Vec<LeaseRecord>>;
}

/// The new expiry, after checking the arguments a caller gives.
pub(crate) fn expiry(worker: &str, now_ms: i64, ttl_ms: i64) -> StoreResult<i64> {
    if worker.trim().is_empty() {
        return Err(StoreError::Invalid {
            field: "worker",
            value: worker.to_string(),
            allowed: "a non-empty worker name",
        });
    }
    if ttl_ms <= 0 {
        return Err(StoreError::Invalid {
            field: "ttl_ms",
            value: ttl_ms.to_string(),
            allowed: "a positive number of milliseconds",
        });
    }
    now_ms.checked_add(ttl_ms).ok_or(StoreError::Invalid {
        field: "ttl_ms",
        value: ttl_ms.to_string(),
        allowed: "a duration that keeps now_ms + ttl_ms within i64",
    })
}

/// The verdict on a fenced write for the bot trading on (`venue`, `account`) at `time_ms`,
/// given the account's lease row `(holder, epoch, expires_ms)` read in the write's transaction.
pub(crate) fn check_fence(
    fence: &Fence,
    venue: &str,
    account: &str,
    row: Option<(Option<String>, i64, i64)>,
    time_ms: i64,
) -> StoreResult<()> {
    let fenced = |held_epoch: Option<i64>, why: String| StoreError::Fenced {
        venue: venue.to_string(),
        account: account.to_string(),
        held_epoch,
        given_epoch: fence.epoch,
        why,
    };
    if fence.venue != venue || fence.account != account {
        return Err(fenced(
            row.map(|r| r.1),
            format!(
                "the fence is for {} account {}, the bot trades on {venue} account {account}",
                fence.venue, fence.account
            ),
        ));
    }
    match row {
        None => Err(fenced(None, "the account has never been leased".into())),
        Some((None, epoch, _)) => Err(fenced(Some(epoch), "the lease was released".into())),
        Some((Some(_), epoch, _)) if epoch != fence.epoch => Err(fenced(
            Some(epoch),
            "the lease changed hands since this epoch".into(),
        )),
        Some((Some(_), epoch, expires)) if expires <= time_ms => Err(fenced(
            Some(epoch),
            format!("the lease expired at {expires} ms, the write is at {time_ms} ms"),
        )),
        Some(_) => Ok(()),
    }
}

pub(crate) fn epoch_text(e: &Option<i64>) -> String {
    e.map_or_else(|| "none".to_string(), |e| e.to_string())
}
