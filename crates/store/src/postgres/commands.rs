//! The command queue and the owner's key/value memory, on the PostgreSQL store. The same
//! contract as the SQLite queue; a claim picks the oldest queued command of the accounts the
//! claimer holds (bound as two arrays, `UNNEST`ed) with `FOR UPDATE SKIP LOCKED`, so concurrent
//! claimers (one pool, or several processes) never wait on each other and never get the same
//! command. On a worker's fenced handle ([`PgStore::fenced`]) a claim takes only the fence's
//! account's commands, and only while its lease holds (held, at the fence's epoch, unexpired at
//! the worker's lease clock), checked in the claim's own statement.

use super::PgStore;
use crate::StoreResult;
use crate::queue::{AccountKey, COLUMNS, CommandQueue, CommandRecord, CommandStatus, Row, record};
use async_trait::async_trait;

/// The rows of `held`, as a statement's `(venue, account) IN (...)` reads them from `$1`, `$2`.
const HELD: &str = "SELECT * FROM UNNEST($1::text[], $2::text[])";

#[async_trait]
impl CommandQueue for PgStore {
    async fn enqueue_command(
        &self,
        command: &str,
        account: &AccountKey,
        now_ms: i64,
    ) -> StoreResult<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO commands (command, status, created_ms, venue, account) \
             VALUES ($1, 'queued', $2, $3, $4) RETURNING id",
        )
        .bind(command)
        .bind(now_ms)
        .bind(&account.venue)
        .bind(&account.account)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    async fn claim_command(&self, held: &[AccountKey]) -> StoreResult<Option<CommandRecord>> {
        // A worker's handle (fenced): only its account's commands, and only while its lease
        // holds at its lease clock's now, checked in the claim's own statement. The lease row
        // is read `FOR SHARE`, as a fenced write reads it, so a takeover waits for the claim
        // and a claim after a takeover takes nothing: the command waits for the new holder.
        let fence = self.session.as_deref().map(|s| (&s.fence, (s.now)()));
        let held: Vec<AccountKey> = match fence {
            Some((f, _)) => held
                .iter()
                .filter(|k| k.venue == f.venue && k.account == f.account)
                .cloned()
                .collect(),
            None => held.to_vec(),
        };
        let (venues, accounts) = AccountKey::columns(&held);
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE commands SET status = 'running' \
             WHERE id = (SELECT id FROM commands WHERE status = 'queued' \
                           AND (venue IS NULL OR (venue, account) IN ({HELD})) \
                         ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) \
             AND status = 'queued' \
             AND ($3::bigint IS NULL OR EXISTS (SELECT 1 FROM leases \
                   WHERE venue = $4 AND account = $5 AND holder IS NOT NULL \
                   AND epoch = $3 AND expires_ms > $6 FOR SHARE)) \
             RETURNING {COLUMNS}"
        )))
        .bind(venues)
        .bind(accounts)
        .bind(fence.map(|(f, _)| f.epoch))
        .bind(fence.map(|(f, _)| f.venue.clone()))
        .bind(fence.map(|(f, _)| f.account.clone()))
        .bind(fence.map(|(_, now)| now))
        .fetch_optional(&self.pool)
        .await?;
        row.map(record).transpose()
    }

    async fn finish_command(
        &self,
        id: i64,
        ok: bool,
        result: &str,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let status = if ok {
            CommandStatus::Done
        } else {
            CommandStatus::Failed
        };
        let n = sqlx::query(
            "UPDATE commands SET status = $1, result = $2, finished_ms = $3 \
             WHERE id = $4 AND status = 'running'",
        )
        .bind(status.as_str())
        .bind(result)
        .bind(now_ms)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn cancel_command(&self, id: i64, now_ms: i64) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE commands SET status = 'canceled', finished_ms = $1 \
             WHERE id = $2 AND status = 'queued'",
        )
        .bind(now_ms)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn command(&self, id: i64) -> StoreResult<Option<CommandRecord>> {
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM commands WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(record).transpose()
    }

    async fn interrupt_running_commands(
        &self,
        held: Option<&[AccountKey]>,
        result: &str,
        now_ms: i64,
    ) -> StoreResult<u64> {
        let (venues, accounts) = AccountKey::columns(held.unwrap_or_default());
        let n = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE commands SET status = 'failed', result = $3, finished_ms = $4 \
             WHERE status = 'running' AND ($5 OR (venue, account) IN ({HELD}))"
        )))
        .bind(venues)
        .bind(accounts)
        .bind(result)
        .bind(now_ms)
        .bind(held.is_none())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n)
    }
}

impl PgStore {
    /// A value of the owner's memory.
    pub async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM daemon_meta WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO daemon_meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The latest time (epoch ms) any stored change carries (see the SQLite store's).
    pub async fn latest_time_ms(&self) -> StoreResult<Option<i64>> {
        let t: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(t) FROM ( \
               SELECT MAX(updated_ms) AS t FROM bots \
               UNION ALL SELECT MAX(updated_ms) FROM orders \
               UNION ALL SELECT MAX(COALESCE(finished_ms, started_ms)) FROM rebalances \
               UNION ALL SELECT MAX(started_ms) FROM rebalances \
               UNION ALL SELECT MAX(time_ms) FROM fills \
               UNION ALL SELECT MAX(time_ms) FROM ledger \
               UNION ALL SELECT MAX(time_ms) FROM flows \
               UNION ALL SELECT MAX(time_ms) FROM snapshots \
               UNION ALL SELECT MAX(updated_ms) FROM paper_orders \
               UNION ALL SELECT MAX(time_ms) FROM paper_fills \
             ) AS latest",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(t)
    }
}
