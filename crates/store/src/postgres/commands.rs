//! The command queue and the owner's key/value memory, on the PostgreSQL store. The same
//! contract as the SQLite queue; a claim picks the oldest queued command with
//! `FOR UPDATE SKIP LOCKED`, so concurrent claimers (one pool, or several processes) never
//! wait on each other and never get the same command.

use super::PgStore;
use crate::StoreResult;
use crate::queue::{CommandQueue, CommandRecord, CommandStatus};
use async_trait::async_trait;

type Row = (i64, String, String, Option<String>, i64, Option<i64>);

fn record(r: Row) -> StoreResult<CommandRecord> {
    Ok(CommandRecord {
        id: r.0,
        command: r.1,
        status: CommandStatus::parse(&r.2)?,
        result: r.3,
        created_ms: r.4,
        finished_ms: r.5,
    })
}

#[async_trait]
impl CommandQueue for PgStore {
    async fn enqueue_command(&self, command: &str, now_ms: i64) -> StoreResult<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO commands (command, status, created_ms) VALUES ($1, 'queued', $2) \
             RETURNING id",
        )
        .bind(command)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    async fn claim_command(&self) -> StoreResult<Option<CommandRecord>> {
        let row: Option<Row> = sqlx::query_as(
            "UPDATE commands SET status = 'running' \
             WHERE id = (SELECT id FROM commands WHERE status = 'queued' ORDER BY id LIMIT 1 \
                         FOR UPDATE SKIP LOCKED) \
             AND status = 'queued' \
             RETURNING id, command, status, result, created_ms, finished_ms",
        )
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
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, command, status, result, created_ms, finished_ms FROM commands \
             WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(record).transpose()
    }

    async fn interrupt_running_commands(&self, result: &str, now_ms: i64) -> StoreResult<u64> {
        let n = sqlx::query(
            "UPDATE commands SET status = 'failed', result = $1, finished_ms = $2 \
             WHERE status = 'running'",
        )
        .bind(result)
        .bind(now_ms)
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
