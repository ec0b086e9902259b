//! Workers' leases (schema 6) on the SQLite store ([`crate::lease`]). SQLite has one writer
//! (and this store one connection), so each conditional statement below is atomic as it stands.

use super::SqliteStore;
use crate::StoreResult;
use crate::lease::{Fence, Lease, LeaseRecord, Leases, Renewal, check_fence, expiry};
use async_trait::async_trait;
use sqlx::{Sqlite, Transaction};

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

async fn row(
    pool: &sqlx::SqlitePool,
    venue: &str,
    account: &str,
) -> StoreResult<Option<LeaseRecord>> {
    let r: Option<Row> = sqlx::query_as(
        "SELECT venue, account, holder, epoch, expires_ms FROM leases \
         WHERE venue = ? AND account = ?",
    )
    .bind(venue)
    .bind(account)
    .fetch_optional(pool)
    .await?;
    Ok(r.map(record))
}

/// Refuse the write unless `fence` holds for the bot's (`venue`, `account`) at `time_ms`.
pub(super) async fn fence_tx(
    tx: &mut Transaction<'_, Sqlite>,
    fence: Option<&Fence>,
    (venue, account): (&str, &str),
    time_ms: i64,
) -> StoreResult<()> {
    let Some(fence) = fence else { return Ok(()) };
    let r: Option<(Option<String>, i64, i64)> = sqlx::query_as(
        "SELECT holder, epoch, expires_ms FROM leases WHERE venue = ? AND account = ?",
    )
    .bind(venue)
    .bind(account)
    .fetch_optional(&mut **tx)
    .await?;
    check_fence(fence, venue, account, r, time_ms)
}

#[async_trait]
impl Leases for SqliteStore {
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
            "INSERT INTO leases (venue, account, holder, epoch, expires_ms) VALUES (?, ?, ?, 1, ?) \
             ON CONFLICT (venue, account) DO UPDATE SET holder = excluded.holder, \
             epoch = leases.epoch + 1, expires_ms = excluded.expires_ms \
             WHERE leases.holder IS NULL OR leases.expires_ms <= ? \
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
            "UPDATE leases SET expires_ms = ? WHERE venue = ? AND account = ? AND holder = ? \
             AND epoch = ? AND expires_ms > ?",
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
        Ok(Renewal::Lost {
            current: row(&self.pool, &fence.venue, &fence.account).await?,
        })
    }

    async fn release_lease(&self, fence: &Fence, worker: &str) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE leases SET holder = NULL, expires_ms = 0 \
             WHERE venue = ? AND account = ? AND holder = ? AND epoch = ?",
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
