//! The daemon's command queue (schema 2) and its key/value memory, on the SQLite store.
//!
//! Only the process that owns the data directory (the daemon) executes commands; other
//! processes enqueue them and poll for the result. A command is claimed (`queued` → `running`)
//! in its own transaction before it runs, so a daemon that dies while running one leaves it
//! `running`, and the next daemon marks it `failed` instead of running it twice
//! ([`SqliteStore::interrupt_running_commands`]). A command is for a venue account (schema 7):
//! a claim takes only those of the accounts the claimer holds, matched by one
//! `(venue = ? AND account = ?)` term per account.

use super::SqliteStore;
use crate::StoreResult;
use crate::queue::{AccountKey, COLUMNS, CommandQueue, CommandRecord, CommandStatus, Row, record};
use async_trait::async_trait;

/// A condition true for a command of one of `held`'s accounts (`0` for none), with the
/// values it binds, in order.
fn of_accounts(held: &[AccountKey]) -> (String, Vec<&str>) {
    if held.is_empty() {
        return ("0".into(), vec![]);
    }
    let terms: Vec<&str> = held.iter().map(|_| "(venue = ? AND account = ?)").collect();
    let binds = held
        .iter()
        .flat_map(|k| [k.venue.as_str(), k.account.as_str()])
        .collect();
    (format!("({})", terms.join(" OR ")), binds)
}

#[async_trait]
impl CommandQueue for SqliteStore {
    async fn enqueue_command(
        &self,
        command: &str,
        account: &AccountKey,
        now_ms: i64,
    ) -> StoreResult<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO commands (command, status, created_ms, venue, account) \
             VALUES (?, 'queued', ?, ?, ?) RETURNING id",
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
        let (cond, binds) = of_accounts(held);
        let sql = format!(
            "UPDATE commands SET status = 'running' \
             WHERE id = (SELECT MIN(id) FROM commands WHERE status = 'queued' \
                           AND (venue IS NULL OR {cond})) \
             RETURNING {COLUMNS}"
        );
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        let row: Option<Row> = q.fetch_optional(&self.pool).await?;
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
            "UPDATE commands SET status = ?, result = ?, finished_ms = ? \
             WHERE id = ? AND status = 'running'",
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
            "UPDATE commands SET status = 'canceled', finished_ms = ? \
             WHERE id = ? AND status = 'queued'",
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
            "SELECT {COLUMNS} FROM commands WHERE id = ?"
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
        let (cond, binds) = match held {
            Some(h) => of_accounts(h),
            None => ("1".into(), vec![]),
        };
        let sql = format!(
            "UPDATE commands SET status = 'failed', result = ?, finished_ms = ? \
             WHERE status = 'running' AND {cond}"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(result)
            .bind(now_ms);
        for b in binds {
            q = q.bind(b);
        }
        let n = q.execute(&self.pool).await?.rows_affected();
        Ok(n)
    }
}

impl SqliteStore {
    /// A value of the daemon's memory.
    pub async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM daemon_meta WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO daemon_meta (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The latest time (epoch ms) any stored change carries: bots, orders, rebalances, fills,
    /// ledger, flows, snapshots and the paper account. A market feed resumed after a restart
    /// starts after it, so market time never runs backwards across restarts.
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
             )",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(t)
    }
}
