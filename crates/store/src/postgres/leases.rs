//! Workers' leases (schema 4) on the PostgreSQL store ([`crate::lease`]). A take is one
//! conditional upsert (`INSERT … ON CONFLICT DO UPDATE … WHERE free or expired RETURNING`): of
//! several workers taking one account at once, the row lock lets exactly one through, and the
//! others see its new expiry and get nothing. A fenced write reads the lease row `FOR SHARE`,
//! so a takeover waits until the write has committed, and a write after a takeover sees it.

use super::{PgStore, Tx};
use crate::StoreResult;
use crate::lease::{Fence, Lease, LeaseRecord, Leases, Renewal, check_fence, expiry};
use async_trait::async_trait;

type Row = (String, String, Option<String>, i64, i64);

fn record(r: Row) -> LeaseRecord {
    LeaseRecord {
        venue: r.0,
        account: r.1,
        holder: r.2,
        epoch: r.3,
        expires_ms: r.4,
    }
}

/// Refuse the write unless `fence` holds for the bot's (`venue`, `account`) at `time_ms`; the
/// lease row stays share-locked until the write's transaction ends.
pub(super) async fn fence_tx(
    tx: &mut Tx<'_>,
    fence: Option<&Fence>,
    (venue, account): (&str, &str),
    time_ms: i64,
) -> StoreResult<()> {
    let Some(fence) = fence else { return Ok(()) };
    let r: Option<(Option<String>, i64, i64)> = sqlx::query_as(
        "SELECT holder, epoch, expires_ms FROM leases WHERE venue = $1 AND account = $2 \
         FOR SHARE",
    )
    .bind(venue)
    .bind(account)
    .fetch_optional(&mut **tx)
    .await?;
    check_fence(fence, venue, account, r, time_ms)
}

#[async_trait]
impl Leases for PgStore {
    async fn acquire_lease(
        &self,
        venue: &str,
        account: &str,
        worker: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> StoreResult<Option<Lease>> {
        let expires = expiry(worker, now_ms, ttl_ms)?;
        let r: Option<(i64, i64)> = sqlx::query_as(
            "INSERT INTO leases (venue, account, holder, epoch, expires_ms) \
             VALUES ($1, $2, $3, 1, $4) \
             ON CONFLICT (venue, account) DO UPDATE SET holder = excluded.holder, \
             epoch = leases.epoch + 1, expires_ms = excluded.expires_ms \
             WHERE leases.holder IS NULL OR leases.expires_ms <= $5 \
             RETURNING epoch, expires_ms",
        )
        .bind(venue)
        .bind(account)
        .bind(worker)
        .bind(expires)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.map(|(epoch, expires_ms)| Lease {
            venue: venue.to_string(),
            account: account.to_string(),
            holder: worker.to_string(),
            epoch,
            expires_ms,
        }))
    }

    async fn renew_lease(
        &self,
        fence: &Fence,
        worker: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> StoreResult<Renewal> {
        let expires = expiry(worker, now_ms, ttl_ms)?;
        let n = sqlx::query(
            "UPDATE leases SET expires_ms = $1 WHERE venue = $2 AND account = $3 AND holder = $4 \
             AND epoch = $5 AND expires_ms > $6",
        )
        .bind(expires)
        .bind(&fence.venue)
        .bind(&fence.account)
        .bind(worker)
        .bind(fence.epoch)
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n == 1 {
            return Ok(Renewal::Held(Lease {
                venue: fence.venue.clone(),
                account: fence.account.clone(),
                holder: worker.to_string(),
                epoch: fence.epoch,
                expires_ms: expires,
            }));
        }
        let current: Option<Row> = sqlx::query_as(
            "SELECT venue, account, holder, epoch, expires_ms FROM leases \
             WHERE venue = $1 AND account = $2",
        )
        .bind(&fence.venue)
        .bind(&fence.account)
        .fetch_optional(&self.pool)
        .await?;
        Ok(Renewal::Lost {
            current: current.map(record),
        })
    }

    async fn release_lease(&self, fence: &Fence, worker: &str) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE leases SET holder = NULL, expires_ms = 0 \
             WHERE venue = $1 AND account = $2 AND holder = $3 AND epoch = $4",
        )
        .bind(&fence.venue)
        .bind(&fence.account)
        .bind(worker)
        .bind(fence.epoch)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn leases(&self) -> StoreResult<Vec<LeaseRecord>> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT venue, account, holder, epoch, expires_ms FROM leases ORDER BY venue, account",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(record).collect())
    }
}
