//! The SQLite backend: one file `smartfolio.db` in the data directory, WAL mode, migrations
//! from `migrations/sqlite`.
//!
//! The pool holds a single connection: SQLite serialises writers anyway, and one connection
//! rules out the `SQLITE_BUSY` that a deferred transaction gets when it upgrades to a writer
//! while another connection writes. Readers beside the writer (the HTTP API's summaries and
//! pages) get [`SqliteStore::read_only`]: a pool of read-only connections on the same file,
//! which WAL mode lets read while the writer writes, each read transaction seeing the database
//! as the last commit before it began.

pub mod commands;
mod leases;
mod paging {
    //! The paged reads on SQLite ([`crate::paging`]).
    crate::paging::backend_reads!(
        sqlx::Sqlite,
        sqlx::sqlite::SqlitePool,
        sqlx::sqlite::SqliteRow,
        sqlx::sqlite::SqliteArguments,
        shared::Dialect::Sqlite,
        super::snapshot_row
    );
}

use crate::codec::{
    fees_json, kind_parts, parse_fees, parse_kind, parse_side, parse_size, parse_time_in_force,
    parse_venue_status, side_text, venue_status_text,
};
use crate::{
    AppliedFills, BotId, BotRecord, BotUpdate, Fence, FillRecord, FlowRecord, LedgerEntry, NewBot,
    NewFlow, NewOrder, NewRebalance, OrderRecord, OrderState, OrderUpdate, Page, PageQuery,
    RebalanceRecord, SeriesQuery, Snapshot, Store, StoreError, StoreResult, StoredBot, dec_text,
    fill_ledger_entries_held, parse_dec,
};
use async_trait::async_trait;
use rust_decimal::Decimal;
use smartfolio_exchange::paper::{PaperAccount, PaperChange, PaperPersistence};
use smartfolio_exchange::{Balance, FeePaid, Fill, Order};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Row, Sqlite, Transaction};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The database file inside the data directory.
pub const DB_FILE: &str = "smartfolio.db";
/// The connections of a read-only pool ([`SqliteStore::read_only`]).
pub const READ_CONNECTIONS: u32 = 4;
/// The newest schema this build knows (the number of the last migration).
pub const SCHEMA_VERSION: i64 = 8;
const APP_VERSION: &str = env!("CARGO_PKG_VERSION");
/// How a transaction that writes begins: it takes the write lock at once, waiting for it (the
/// busy timeout). A deferred `BEGIN` that reads first and then writes fails at once with
/// "database is locked" if another process (a CLI queueing a command) wrote meanwhile: SQLite
/// cannot wait there, as the snapshot already read is stale. The owner's tick died of it.
const WRITE_TX: &str = "BEGIN IMMEDIATE";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

fn corrupt(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl SqliteStore {
    /// Open (or create) `data_dir/smartfolio.db`, refuse a database of a newer smartfolio
    /// without touching it, then migrate.
    pub async fn open(data_dir: &Path) -> StoreResult<Self> {
        create_data_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        if path.exists() {
            check_existing(&path).await?;
        }
        let opts = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .map_err(|e| corrupt(&path, e))?;
        MIGRATOR.run(&pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(inner) => corrupt(&path, inner),
            other => corrupt(&path, other),
        })?;
        sqlx::query(
            "INSERT INTO app_meta (key, value) VALUES ('app_version', ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(APP_VERSION)
        .execute(&pool)
        .await?;
        Ok(Self { pool, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A read-only handle on the same file: its own pool of up to [`READ_CONNECTIONS`]
    /// connections opened read-only (connected when first used), so reads run beside the
    /// writer's connection instead of queueing on it. WAL mode (set by [`SqliteStore::open`])
    /// lets them read while the writer writes. Its writes fail: the file is read-only to it.
    pub fn read_only(&self) -> SqliteStore {
        let opts = SqliteConnectOptions::new()
            .filename(&self.path)
            .read_only(true)
            .busy_timeout(Duration::from_secs(10));
        // No ping before each use: a connection to a local file has no peer to lose, and the
        // ping is a round trip to the connection's thread on every read.
        let pool = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .test_before_acquire(false)
            .connect_lazy_with(opts);
        Self {
            pool,
            path: self.path.clone(),
        }
    }

    /// Close the pool (tests reopen the same file).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Create the data directory (and its parents) unless it is there. A file in its place or on its
/// path, or a directory that cannot be created, is [`StoreError::DataDir`]: the caller's input.
pub fn create_data_dir(dir: &Path) -> StoreResult<()> {
    let bad = |reason: String| StoreError::DataDir {
        path: dir.to_path_buf(),
        reason,
    };
    let file = dir
        .ancestors()
        .find(|a| !a.as_os_str().is_empty() && a.exists() && !a.is_dir());
    if let Some(file) = file {
        return Err(bad(if file == dir {
            "it is a file".to_string()
        } else {
            format!("{} is a file", file.display())
        }));
    }
    std::fs::create_dir_all(dir).map_err(|e| bad(format!("it cannot be created: {e}")))
}

/// Read-only look at an existing file: is it a database, is it from a newer smartfolio, and are
/// its pages sound?
async fn check_existing(path: &Path) -> StoreResult<()> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| corrupt(path, e))?;
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut conn)
            .await
            .map_err(|e| corrupt(path, e))?;
    let mut db_schema: i64 = 0;
    let mut db_app = String::new();
    if tables.iter().any(|t| t == "app_meta") {
        let rows = sqlx::query("SELECT key, value FROM app_meta")
            .fetch_all(&mut conn)
            .await
            .map_err(|e| corrupt(path, e))?;
        for r in rows {
            let k: String = r.try_get(0).map_err(|e| corrupt(path, e))?;
            let v: String = r.try_get(1).map_err(|e| corrupt(path, e))?;
            match k.as_str() {
                "schema_version" => {
                    db_schema = v
                        .trim()
                        .parse()
                        .map_err(|_| corrupt(path, format!("app_meta.schema_version is `{v}`")))?
                }
                "app_version" => db_app = v,
                _ => {}
            }
        }
    }
    if tables.iter().any(|t| t == "_sqlx_migrations") {
        let max: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| corrupt(path, e))?;
        db_schema = db_schema.max(max.unwrap_or(0));
    } else if !tables.is_empty() && !tables.iter().any(|t| t == "app_meta") {
        return Err(corrupt(
            path,
            format!(
                "it has tables ({}) but none of smartfolio's",
                tables.join(", ")
            ),
        ));
    }
    // A damaged page in any table or index is found here, with the file named, rather than by
    // whichever later query first reads it. `quick_check` reads every page once (about 0.15 s
    // for 75 MB); it does not compare indexes with their tables.
    let problems: Vec<String> = sqlx::query_scalar("PRAGMA quick_check(5)")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| corrupt(path, e))?;
    if problems != ["ok"] {
        return Err(corrupt(
            path,
            format!(
                "damaged pages ({}); nothing was changed: restore the data directory from a \
                 backup",
                problems.join("; ").replace('\n', " ")
            ),
        ));
    }
    conn.close().await.ok();
    if db_schema > SCHEMA_VERSION {
        return Err(StoreError::NewerVersion {
            path: path.to_path_buf(),
            db_schema,
            db_app: if db_app.is_empty() {
                String::new()
            } else {
                format!(", smartfolio {db_app}")
            },
            known_schema: SCHEMA_VERSION,
            app_version: APP_VERSION.to_string(),
        });
    }
    Ok(())
}

fn opt_dec(s: Option<String>) -> StoreResult<Option<Decimal>> {
    s.map(|s| parse_dec(&s)).transpose()
}

const BOT_COLS: &str =
    "id, name, venue, account, quote, status, config, state, created_ms, updated_ms";

fn bot_row(r: &SqliteRow) -> StoreResult<BotRecord> {
    Ok(BotRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        venue: r.try_get("venue")?,
        account: r.try_get("account")?,
        quote: r.try_get("quote")?,
        status: r.try_get("status")?,
        config: r.try_get("config")?,
        state: r.try_get("state")?,
        created_ms: r.try_get("created_ms")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

fn flow_row(r: &SqliteRow) -> StoreResult<FlowRecord> {
    Ok(FlowRecord {
        id: r.try_get("id")?,
        bot_id: r.try_get("bot_id")?,
        kind: r.try_get("kind")?,
        asset: r.try_get("asset")?,
        amount: parse_dec(&r.try_get::<String, _>("amount")?)?,
        value: parse_dec(&r.try_get::<String, _>("value")?)?,
        basis: r
            .try_get::<Option<String>, _>("basis")?
            .map(|b| parse_dec(&b))
            .transpose()?,
        time_ms: r.try_get("time_ms")?,
    })
}

fn order_row(r: &SqliteRow) -> StoreResult<OrderRecord> {
    Ok(OrderRecord {
        client_id: r.try_get("client_id")?,
        bot_id: r.try_get("bot_id")?,
        rebalance_id: r.try_get("rebalance_id")?,
        leg: r.try_get("leg")?,
        venue: r.try_get("venue")?,
        account: r.try_get("account")?,
        base: r.try_get("base")?,
        quote: r.try_get("quote")?,
        side: r.try_get("side")?,
        quantity: parse_dec(&r.try_get::<String, _>("quantity")?)?,
        kind: r.try_get("kind")?,
        limit_price: opt_dec(r.try_get("limit_price")?)?,
        quote_amount: opt_dec(r.try_get("quote_amount")?)?,
        status: OrderState::parse(&r.try_get::<String, _>("status")?)?,
        venue_order_id: r.try_get("venue_order_id")?,
        filled_quantity: parse_dec(&r.try_get::<String, _>("filled_quantity")?)?,
        error: r.try_get("error")?,
        created_ms: r.try_get("created_ms")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

fn rebalance_row(r: &SqliteRow) -> StoreResult<RebalanceRecord> {
    Ok(RebalanceRecord {
        id: r.try_get("id")?,
        bot_id: r.try_get("bot_id")?,
        seq: r.try_get("seq")?,
        kind: r.try_get("kind")?,
        reason: r.try_get("reason")?,
        status: r.try_get("status")?,
        started_ms: r.try_get("started_ms")?,
        finished_ms: r.try_get("finished_ms")?,
        plan: r.try_get("plan")?,
        summary: r.try_get("summary")?,
    })
}

fn fill_row(r: &SqliteRow) -> StoreResult<FillRecord> {
    Ok(FillRecord {
        venue: r.try_get("venue")?,
        account: r.try_get("account")?,
        fill_id: r.try_get("fill_id")?,
        client_id: r.try_get("client_id")?,
        bot_id: r.try_get("bot_id")?,
        base: r.try_get("base")?,
        quote: r.try_get("quote")?,
        side: r.try_get("side")?,
        quantity: parse_dec(&r.try_get::<String, _>("quantity")?)?,
        price: parse_dec(&r.try_get::<String, _>("price")?)?,
        fee: parse_dec(&r.try_get::<String, _>("fee")?)?,
        fee_asset: r.try_get("fee_asset")?,
        time_ms: r.try_get("time_ms")?,
    })
}

fn snapshot_row(r: &SqliteRow) -> StoreResult<Snapshot> {
    Ok(Snapshot {
        bot_id: r.try_get("bot_id")?,
        time_ms: r.try_get("time_ms")?,
        value: parse_dec(&r.try_get::<String, _>("value")?)?,
        net_invested: parse_dec(&r.try_get::<String, _>("net_invested")?)?,
        hold_value: parse_dec(&r.try_get::<String, _>("hold_value")?)?,
    })
}

async fn write_bot(tx: &mut Transaction<'_, Sqlite>, u: &BotUpdate) -> StoreResult<()> {
    let res =
        match &u.config {
            Some(cfg) => sqlx::query(
                "UPDATE bots SET status = ?, state = ?, config = ?, updated_ms = ? WHERE id = ?",
            )
            .bind(&u.status)
            .bind(&u.state)
            .bind(cfg)
            .bind(u.time_ms)
            .bind(u.id)
            .execute(&mut **tx)
            .await?,
            None => {
                sqlx::query("UPDATE bots SET status = ?, state = ?, updated_ms = ? WHERE id = ?")
                    .bind(&u.status)
                    .bind(&u.state)
                    .bind(u.time_ms)
                    .bind(u.id)
                    .execute(&mut **tx)
                    .await?
            }
        };
    if res.rows_affected() != 1 {
        return Err(StoreError::NotFound(format!("bot {}", u.id)));
    }
    Ok(())
}

async fn insert_ledger(
    tx: &mut Transaction<'_, Sqlite>,
    bot_id: BotId,
    asset: &str,
    amount: Decimal,
    kind: &str,
    reference: &str,
    time_ms: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO ledger (bot_id, asset, amount, kind, ref, time_ms) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(bot_id)
    .bind(asset)
    .bind(dec_text(amount))
    .bind(kind)
    .bind(reference)
    .bind(time_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn sum_by_asset(rows: Vec<(String, String)>) -> StoreResult<Vec<(String, Decimal)>> {
    let mut m: BTreeMap<String, Decimal> = BTreeMap::new();
    for (a, v) in rows {
        *m.entry(a).or_default() += parse_dec(&v)?;
    }
    Ok(m.into_iter().filter(|(_, v)| !v.is_zero()).collect())
}

async fn balances_tx(
    tx: &mut Transaction<'_, Sqlite>,
    bot_id: BotId,
) -> StoreResult<Vec<(String, Decimal)>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT asset, amount FROM ledger WHERE bot_id = ?")
            .bind(bot_id)
            .fetch_all(&mut **tx)
            .await?;
    sum_by_asset(rows)
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_bot(&self, bot: &NewBot) -> StoreResult<BotId> {
        let mut tx = self.pool.begin_with(WRITE_TX).await?;
        let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM bots WHERE name = ?")
            .bind(&bot.name)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(id) = taken {
            return Err(StoreError::Conflict(format!(
                "a bot named `{}` already exists (id {id})",
                bot.name
            )));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO bots (name, venue, account, quote, status, config, state, created_ms, updated_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&bot.name)
        .bind(&bot.venue)
        .bind(&bot.account)
        .bind(&bot.quote)
        .bind(&bot.status)
        .bind(&bot.config)
        .bind(&bot.state)
        .bind(bot.time_ms)
        .bind(bot.time_ms)
        .fetch_one(&mut *tx)
        .await?;
        insert_flow_items(
            &mut tx,
            id,
            crate::FlowKind::Deposit,
            &bot.deposit,
            bot.time_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn update_bot(&self, update: &BotUpdate) -> StoreResult<()> {
        let mut tx = self.pool.begin_with(WRITE_TX).await?;
        write_bot(&mut tx, update).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn begin_rebalance_fenced(
        &self,
        rb: &NewRebalance,
        fence: Option<&Fence>,
    ) -> StoreResult<i64> {
        let mut tx = self.pool.begin_with(WRITE_TX).await?;
        let bot: Option<(String, String)> =
            sqlx::query_as("SELECT venue, account FROM bots WHERE id = ?")
                .bind(rb.bot_id)
                .fetch_optional(&mut *tx)
                .await?;
        let (venue, account) =
            bot.ok_or_else(|| StoreError::NotFound(format!("bot {}", rb.bot_id)))?;
        leases::fence_tx(&mut tx, fence, (&venue, &account), rb.time_ms).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO rebalances (bot_id, seq, kind, reason, status, started_ms, plan) \
             VALUES (?, ?, ?, ?, 'open', ?, ?) RETURNING id",
        )
        .bind(rb.bot_id)
        .bind(rb.seq)
        .bind(&rb.kind)
        .bind(&rb.reason)
        .bind(rb.time_ms)
        .bind(&rb.plan)
        .fetch_one(&mut *tx)
        .await?;
        insert_orders(
            &mut tx, rb.bot_id, id, &venue, &account, &rb.orders, rb.time_ms,
        )
        .await?;
        if let Some(u) = &rb.bot {
            write_bot(&mut tx, u).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn add_orders_fenced(
        &self,
        rebalance_id: i64,
        orders: &[NewOrder],
        time_ms: i64,
        fence: Option<&Fence>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin_with(WRITE_TX).await?;
        let row: Option<(i64, String, String, String)> = sqlx::query_as(
            "SELECT r.bot_id, b.venue, b.account, r.status FROM rebalances r JOIN bots b ON b.id = r.bot_id \
             WHERE r.id = ?",
        )
        .bind(rebalance_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (bot_id, venue, account, status) =
            row.ok_or_else(|| StoreError::NotFound(format!("rebalance {rebalance_id}")))?;
        leases::fence_tx(&mut tx, fence, (&venue, &account), time_ms).await?;
        if status != "open" {
            return Err(StoreError::Conflict(format!(
                "rebalance {rebalance_id} is {status}, orders can only be added to an open one"
            )));
        }
        insert_orders(
            &mut tx,
            bot_id,
            rebalance_id,
            &venue,
            &account,
            orders,
            time_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_order(&self, u: &OrderUpdate) -> StoreResult<()> {
        let mut tx = self.pool.begin_with(WRITE_TX).await?;
        update_order_tx(&mut tx, u).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn apply_fills_fenced(
        &self,
        u: &OrderUpdate,
        fills: &[Fill],
        fence: Option<&Fence>,
    ) -> StoreResult<AppliedFills> {
        let mut tx = self.pool.begin_with(WRITE_TX).await?;
        let row: Option<(i64, String, String)> =
            sqlx::query_as("SELECT bot_id, venue, account FROM orders WHERE client_id = ?")
                .bind(&u.client_id)
                .fetch_optional(&mut *tx)
                .await?;
        let (bot_id, venue, account) =
            row.ok_or_else(|| StoreError::NotFound(format!("order {}", u.client_id)))?;
        leases::fence_tx(&mut tx, fence, (&venue, &account), u.time_ms).await?;
        let mut out = AppliedFills::default();
        let mut ledger: BTreeMap<String, Decimal> = BTreeMap::new();
        for f in fills {
            if f.client_id != u.client_id {
                return Err(StoreError::Conflict(format!(
                    "fill {} belongs to order {}, not {}",
                    f.fill_id, f.client_id, u.client_id
                )));
            }
            let res = sqlx::query(
                "INSERT INTO fills (venue, account, fill_id, client_id, bot_id, base, quote, side, quantity, \
                 price, fee, fee_asset, time_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (venue, account, fill_id) DO NOTHING",
            )
            .bind(&venue)
            .bind(&account)
            .bind(&f.fill_id)
            .bind(&f.client_id)
            .bind(bot_id)
            .bind(&f.base)
            .bind(&f.quote)
            .bind(side_text(f.side))
            .bind(dec_text(f.quantity))
            .bind(dec_text(f.price))
            .bind(dec_text(f.fee))
            .bind(&f.fee_asset)
            .bind(f.time_ms)
            .execute(&mut *tx)
            .await?;
            if res.rows_affected() == 0 {
                continue;
            }
            let held = if f.fee_in_third_asset() {
                balances_tx(&mut tx, bot_id)
                    .await?
                    .into_iter()
                    .find(|(a, _)| *a == f.fee_asset)
                    .map_or(Decimal::ZERO, |(_, q)| q)
            } else {
                Decimal::ZERO
            };
            for (asset, amount, kind) in fill_ledger_entries_held(f, held) {
                insert_ledger(&mut tx, bot_id, &asset, amount, kind, &f.fill_id, f.time_ms).await?;
                *ledger.entry(asset).or_default() += amount;
            }
            out.new_fills.push(f.clone());
        }
        update_order_tx(&mut tx, u).await?;
        tx.commit().await?;
        out.ledger = ledger.into_iter().collect();
        Ok(out)
    }

    async fn finish_rebalance(
        &self,
        id: i64,
        status: &str,
        summary: &str,
        time_ms: i64,
        bot: Option<&BotUpdate>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin_with(WRITE_TX).await?;
        let res = sqlx::query(
            "UPDATE rebalances SET status = ?, summary = ?, finished_ms = ? WHERE id = ?",
        )
        .bind(status)
        .bind(summary)
        .bind(time_ms)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() != 1 {
            return Err(StoreError::NotFound(format!("rebalance {id}")));
        }
        if let Some(u) = bot {
            write_bot(&mut tx, u).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_flow(&self, flow: &NewFlow) -> StoreResult<()> {
        let mut tx = self.pool.begin_with(WRITE_TX).await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM bots WHERE id = ?")
            .bind(flow.bot_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("bot {}", flow.bot_id)));
        }
        insert_flow_items(&mut tx, flow.bot_id, flow.kind, &flow.items, flow.time_ms).await?;
        if flow.kind == crate::FlowKind::Withdraw {
            for (asset, bal) in balances_tx(&mut tx, flow.bot_id).await? {
                if bal < Decimal::ZERO {
                    return Err(StoreError::Conflict(format!(
                        "withdrawal would leave bot {} with {} {asset}",
                        flow.bot_id, bal
                    )));
                }
            }
        }
        if let Some(u) = &flow.bot {
            write_bot(&mut tx, u).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn close_ledger(&self, bot: &BotUpdate) -> StoreResult<Vec<(String, Decimal)>> {
        let mut tx = self.pool.begin_with(WRITE_TX).await?;
        let held = balances_tx(&mut tx, bot.id).await?;
        for (asset, bal) in &held {
            insert_ledger(
                &mut tx,
                bot.id,
                asset,
                -*bal,
                "release",
                "stop",
                bot.time_ms,
            )
            .await?;
        }
        write_bot(&mut tx, bot).await?;
        tx.commit().await?;
        Ok(held)
    }

    async fn insert_snapshots(&self, snapshots: &[Snapshot]) -> StoreResult<()> {
        let mut tx = self.pool.begin_with(WRITE_TX).await?;
        for s in snapshots {
            sqlx::query(
                "INSERT INTO snapshots (bot_id, time_ms, value, net_invested, hold_value) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (bot_id, time_ms) DO UPDATE SET value = excluded.value, \
                 net_invested = excluded.net_invested, hold_value = excluded.hold_value",
            )
            .bind(s.bot_id)
            .bind(s.time_ms)
            .bind(dec_text(s.value))
            .bind(dec_text(s.net_invested))
            .bind(dec_text(s.hold_value))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_bots(&self) -> StoreResult<Vec<BotRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {BOT_COLS} FROM bots ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(bot_row).collect()
    }

    async fn account_bots(&self, venue: &str, account: &str) -> StoreResult<Vec<StoredBot>> {
        // Text amounts: summed as decimals here, never in SQL (floats).
        let [bots, seqs, ledger, flows] = crate::account::statements(BOT_COLS, ["?1", "?2"], false);
        let bots = sqlx::query(sqlx::AssertSqlSafe(bots))
            .bind(venue)
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
        let bots = bots.iter().map(bot_row).collect::<StoreResult<Vec<_>>>()?;
        let seqs: Vec<(BotId, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(seqs))
            .bind(venue)
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
        let rows: Vec<(BotId, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(ledger))
            .bind(venue)
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
        let balances = crate::account::per_bot(rows, sum_by_asset)?;
        let flows = sqlx::query(sqlx::AssertSqlSafe(flows))
            .bind(venue)
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
        let flows = flows
            .iter()
            .map(flow_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(crate::account::assemble(bots, seqs, balances, flows))
    }

    async fn bot(&self, id: BotId) -> StoreResult<Option<BotRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {BOT_COLS} FROM bots WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(bot_row).transpose()
    }

    async fn bot_by_name(&self, name: &str) -> StoreResult<Option<BotRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {BOT_COLS} FROM bots WHERE name = ?"
        )))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(bot_row).transpose()
    }

    async fn order(&self, client_id: &str) -> StoreResult<Option<OrderRecord>> {
        let row = sqlx::query("SELECT * FROM orders WHERE client_id = ?")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(order_row).transpose()
    }

    async fn orders(&self, bot_id: BotId) -> StoreResult<Vec<OrderRecord>> {
        let rows = sqlx::query("SELECT * FROM orders WHERE bot_id = ? ORDER BY rebalance_id, leg")
            .bind(bot_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(order_row).collect()
    }

    async fn unfinished_orders(&self) -> StoreResult<Vec<OrderRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM orders WHERE status IN ('pending', 'open', 'partially_filled') \
             ORDER BY rebalance_id, leg",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(order_row).collect()
    }

    async fn fills(&self, bot_id: BotId) -> StoreResult<Vec<FillRecord>> {
        let rows = sqlx::query("SELECT * FROM fills WHERE bot_id = ? ORDER BY time_ms, fill_id")
            .bind(bot_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(fill_row).collect()
    }

    async fn rebalances(&self, bot_id: BotId) -> StoreResult<Vec<RebalanceRecord>> {
        let rows = sqlx::query("SELECT * FROM rebalances WHERE bot_id = ? ORDER BY seq")
            .bind(bot_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rebalance_row).collect()
    }

    async fn rebalance_page(
        &self,
        bot_id: BotId,
        page: &PageQuery,
    ) -> StoreResult<Page<RebalanceRecord>> {
        paging::page(
            &self.pool,
            &crate::paging::REBALANCES,
            bot_id,
            page,
            rebalance_row,
        )
        .await
    }

    async fn order_page(&self, bot_id: BotId, page: &PageQuery) -> StoreResult<Page<OrderRecord>> {
        paging::page(&self.pool, &crate::paging::ORDERS, bot_id, page, order_row).await
    }

    async fn fill_page(&self, bot_id: BotId, page: &PageQuery) -> StoreResult<Page<FillRecord>> {
        paging::page(&self.pool, &crate::paging::FILLS, bot_id, page, fill_row).await
    }

    async fn snapshot_series(
        &self,
        bot_id: BotId,
        series: &SeriesQuery,
    ) -> StoreResult<Vec<Snapshot>> {
        paging::series(&self.pool, bot_id, series).await
    }

    async fn snapshot_at_or_before(
        &self,
        bot_id: BotId,
        time_ms: i64,
    ) -> StoreResult<Option<Snapshot>> {
        paging::snapshot_near(&self.pool, bot_id, time_ms, true).await
    }

    async fn snapshot_after(&self, bot_id: BotId, time_ms: i64) -> StoreResult<Option<Snapshot>> {
        paging::snapshot_near(&self.pool, bot_id, time_ms, false).await
    }

    async fn open_rebalances(&self) -> StoreResult<Vec<RebalanceRecord>> {
        let rows = sqlx::query("SELECT * FROM rebalances WHERE status = 'open' ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rebalance_row).collect()
    }

    async fn balances(&self, bot_id: BotId) -> StoreResult<Vec<(String, Decimal)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT asset, amount FROM ledger WHERE bot_id = ?")
                .bind(bot_id)
                .fetch_all(&self.pool)
                .await?;
        sum_by_asset(rows)
    }

    async fn all_balances(&self) -> StoreResult<Vec<(BotId, String, Decimal)>> {
        let rows: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT bot_id, asset, amount FROM ledger")
                .fetch_all(&self.pool)
                .await?;
        let mut m: BTreeMap<(i64, String), Decimal> = BTreeMap::new();
        for (b, a, v) in rows {
            *m.entry((b, a)).or_default() += parse_dec(&v)?;
        }
        Ok(m.into_iter()
            .filter(|(_, v)| !v.is_zero())
            .map(|((b, a), v)| (b, a, v))
            .collect())
    }

    async fn flows(&self, bot_id: BotId) -> StoreResult<Vec<FlowRecord>> {
        let rows = sqlx::query("SELECT * FROM flows WHERE bot_id = ? ORDER BY id")
            .bind(bot_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(flow_row).collect()
    }

    async fn flow_page(&self, bot_id: BotId, page: &PageQuery) -> StoreResult<Page<FlowRecord>> {
        paging::page(&self.pool, &crate::paging::FLOWS, bot_id, page, flow_row).await
    }

    async fn ledger(&self, bot_id: BotId) -> StoreResult<Vec<LedgerEntry>> {
        let rows = sqlx::query("SELECT * FROM ledger WHERE bot_id = ? ORDER BY id")
            .bind(bot_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(LedgerEntry {
                    id: r.try_get("id")?,
                    bot_id: r.try_get("bot_id")?,
                    asset: r.try_get("asset")?,
                    amount: parse_dec(&r.try_get::<String, _>("amount")?)?,
                    kind: r.try_get("kind")?,
                    reference: r.try_get("ref")?,
                    time_ms: r.try_get("time_ms")?,
                })
            })
            .collect()
    }

    async fn snapshots(&self, bot_id: BotId) -> StoreResult<Vec<Snapshot>> {
        let rows = sqlx::query("SELECT * FROM snapshots WHERE bot_id = ? ORDER BY time_ms")
            .bind(bot_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(snapshot_row).collect()
    }

    fn reader(&self) -> Option<std::sync::Arc<dyn Store>> {
        Some(std::sync::Arc::new(self.read_only()))
    }
}

async fn insert_flow_items(
    tx: &mut Transaction<'_, Sqlite>,
    bot_id: BotId,
    kind: crate::FlowKind,
    items: &[crate::FlowItem],
    time_ms: i64,
) -> StoreResult<()> {
    for item in items {
        if item.amount <= Decimal::ZERO {
            return Err(StoreError::BadValue(format!(
                "flow amount of {} must be > 0, got {}",
                item.asset, item.amount
            )));
        }
        if let Some(b) = item.basis.filter(|b| *b <= Decimal::ZERO) {
            return Err(StoreError::BadValue(format!(
                "flow basis of {} must be > 0 when given, got {b}",
                item.asset
            )));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO flows (bot_id, kind, asset, amount, value, basis, time_ms) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(bot_id)
        .bind(kind.as_str())
        .bind(&item.asset)
        .bind(dec_text(item.amount))
        .bind(dec_text(item.value))
        .bind(item.basis.map(dec_text))
        .bind(time_ms)
        .fetch_one(&mut **tx)
        .await?;
        let signed = match kind {
            crate::FlowKind::Deposit => item.amount,
            crate::FlowKind::Withdraw => -item.amount,
        };
        insert_ledger(
            tx,
            bot_id,
            &item.asset,
            signed,
            kind.as_str(),
            &format!("flow:{id}"),
            time_ms,
        )
        .await?;
    }
    Ok(())
}

async fn insert_orders(
    tx: &mut Transaction<'_, Sqlite>,
    bot_id: BotId,
    rebalance_id: i64,
    venue: &str,
    account: &str,
    orders: &[NewOrder],
    time_ms: i64,
) -> StoreResult<()> {
    for o in orders {
        let (kind, price) = kind_parts(&o.kind);
        sqlx::query(
            "INSERT INTO orders (client_id, bot_id, rebalance_id, leg, venue, account, base, quote, side, \
             quantity, kind, limit_price, quote_amount, status, filled_quantity, created_ms, \
             updated_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', '0', ?, ?)",
        )
        .bind(&o.client_id)
        .bind(bot_id)
        .bind(rebalance_id)
        .bind(o.leg)
        .bind(venue)
        .bind(account)
        .bind(&o.base)
        .bind(&o.quote)
        .bind(side_text(o.side))
        .bind(dec_text(o.quantity))
        .bind(kind)
        .bind(price.map(dec_text))
        .bind(o.quote_amount.map(dec_text))
        .bind(time_ms)
        .bind(time_ms)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn update_order_tx(tx: &mut Transaction<'_, Sqlite>, u: &OrderUpdate) -> StoreResult<()> {
    let res = sqlx::query(
        "UPDATE orders SET status = ?, venue_order_id = COALESCE(?, venue_order_id), \
         filled_quantity = ?, error = COALESCE(?, error), updated_ms = ? WHERE client_id = ?",
    )
    .bind(u.status.as_str())
    .bind(&u.venue_order_id)
    .bind(dec_text(u.filled_quantity))
    .bind(&u.error)
    .bind(u.time_ms)
    .bind(&u.client_id)
    .execute(&mut **tx)
    .await?;
    if res.rows_affected() != 1 {
        return Err(StoreError::NotFound(format!("order {}", u.client_id)));
    }
    Ok(())
}

// ------------------------------------------------------------------------------- paper account

fn paper_err(e: StoreError) -> String {
    e.to_string()
}

#[async_trait]
impl PaperPersistence for SqliteStore {
    async fn load_paper(&self, account: &str) -> Result<Option<PaperAccount>, String> {
        load_paper(&self.pool, account).await.map_err(paper_err)
    }

    async fn apply_paper(&self, account: &str, change: &PaperChange) -> Result<(), String> {
        apply_paper(&self.pool, account, change)
            .await
            .map_err(paper_err)
    }
}

async fn load_paper(pool: &SqlitePool, account: &str) -> StoreResult<Option<PaperAccount>> {
    let seq: Option<i64> =
        sqlx::query_scalar("SELECT next_seq FROM paper_accounts WHERE account = ?")
            .bind(account)
            .fetch_optional(pool)
            .await?;
    let Some(next_seq) = seq else {
        return Ok(None);
    };
    let mut acc = PaperAccount {
        next_seq: u64::try_from(next_seq)
            .map_err(|_| StoreError::BadValue(format!("paper next_seq {next_seq}")))?,
        ..Default::default()
    };
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT asset, free, locked FROM paper_balances WHERE account = ? ORDER BY asset",
    )
    .bind(account)
    .fetch_all(pool)
    .await?;
    for (asset, free, locked) in rows {
        acc.balances.push(Balance {
            asset,
            free: parse_dec(&free)?,
            locked: parse_dec(&locked)?,
        });
    }
    let rows =
        sqlx::query("SELECT * FROM paper_orders WHERE account = ? ORDER BY created_ms, client_id")
            .bind(account)
            .fetch_all(pool)
            .await?;
    // Orders stored before schema 3 have no quote filled or fees: derived from their fills.
    let mut derive = Vec::new();
    for r in &rows {
        let amount = parse_dec(&r.try_get::<String, _>("quantity")?)?;
        let size = parse_size(&r.try_get::<String, _>("size_unit")?, amount)?;
        let time_in_force = parse_time_in_force(&r.try_get::<String, _>("time_in_force")?)?;
        let filled_quote = opt_dec(r.try_get("filled_quote")?)?;
        let fees: Option<String> = r.try_get("fees")?;
        let fees = match fees {
            Some(json) => parse_fees(&json)?,
            None => Vec::new(),
        };
        if filled_quote.is_none() {
            derive.push(acc.orders.len());
        }
        acc.orders.push(Order {
            client_id: r.try_get("client_id")?,
            venue_id: r.try_get("venue_id")?,
            base: r.try_get("base")?,
            quote: r.try_get("quote")?,
            side: parse_side(&r.try_get::<String, _>("side")?)?,
            kind: parse_kind(
                &r.try_get::<String, _>("kind")?,
                opt_dec(r.try_get("limit_price")?)?,
            )?,
            size,
            time_in_force,
            post_only: r.try_get::<i64, _>("post_only")? != 0,
            filled_quantity: parse_dec(&r.try_get::<String, _>("filled_quantity")?)?,
            filled_quote: filled_quote.unwrap_or_default(),
            fees,
            average_price: opt_dec(r.try_get("average_price")?)?,
            status: parse_venue_status(&r.try_get::<String, _>("status")?)?,
            created_ms: r.try_get("created_ms")?,
            updated_ms: r.try_get("updated_ms")?,
        });
    }
    let rows = sqlx::query("SELECT * FROM paper_fills WHERE account = ? ORDER BY seq")
        .bind(account)
        .fetch_all(pool)
        .await?;
    for r in &rows {
        acc.fills.push(Fill {
            fill_id: r.try_get("fill_id")?,
            client_id: r.try_get("client_id")?,
            venue_order_id: r.try_get("venue_order_id")?,
            base: r.try_get("base")?,
            quote: r.try_get("quote")?,
            side: parse_side(&r.try_get::<String, _>("side")?)?,
            quantity: parse_dec(&r.try_get::<String, _>("quantity")?)?,
            price: parse_dec(&r.try_get::<String, _>("price")?)?,
            fee: parse_dec(&r.try_get::<String, _>("fee")?)?,
            fee_asset: r.try_get("fee_asset")?,
            time_ms: r.try_get("time_ms")?,
        });
    }
    for i in derive {
        let o = &mut acc.orders[i];
        o.filled_quote = Decimal::ZERO;
        o.fees.clear();
        for f in acc.fills.iter().filter(|f| f.client_id == o.client_id) {
            o.filled_quote += f.quantity * f.price;
            match o.fees.binary_search_by(|x| x.asset.cmp(&f.fee_asset)) {
                Ok(k) => o.fees[k].amount += f.fee,
                Err(k) if !f.fee.is_zero() => o.fees.insert(
                    k,
                    FeePaid {
                        asset: f.fee_asset.clone(),
                        amount: f.fee,
                    },
                ),
                Err(_) => {}
            }
        }
    }
    Ok(Some(acc))
}

async fn apply_paper(pool: &SqlitePool, account: &str, ch: &PaperChange) -> StoreResult<()> {
    let mut tx = pool.begin_with(WRITE_TX).await?;
    let next_seq = i64::try_from(ch.next_seq)
        .map_err(|_| StoreError::BadValue(format!("paper next_seq {}", ch.next_seq)))?;
    sqlx::query(
        "INSERT INTO paper_accounts (account, next_seq) VALUES (?, ?) \
         ON CONFLICT (account) DO UPDATE SET next_seq = excluded.next_seq",
    )
    .bind(account)
    .bind(next_seq)
    .execute(&mut *tx)
    .await?;
    for b in &ch.balances {
        sqlx::query(
            "INSERT INTO paper_balances (account, asset, free, locked) VALUES (?, ?, ?, ?) \
             ON CONFLICT (account, asset) DO UPDATE SET free = excluded.free, locked = excluded.locked",
        )
        .bind(account)
        .bind(&b.asset)
        .bind(dec_text(b.free))
        .bind(dec_text(b.locked))
        .execute(&mut *tx)
        .await?;
    }
    for o in &ch.orders {
        let (kind, price) = kind_parts(&o.kind);
        sqlx::query(
            "INSERT INTO paper_orders (account, client_id, venue_id, base, quote, side, kind, limit_price, \
             quantity, filled_quantity, average_price, status, created_ms, updated_ms, size_unit, \
             time_in_force, post_only, filled_quote, fees) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (account, client_id) DO UPDATE SET venue_id = excluded.venue_id, \
             filled_quantity = excluded.filled_quantity, average_price = excluded.average_price, \
             status = excluded.status, updated_ms = excluded.updated_ms, \
             filled_quote = excluded.filled_quote, fees = excluded.fees",
        )
        .bind(account)
        .bind(&o.client_id)
        .bind(&o.venue_id)
        .bind(&o.base)
        .bind(&o.quote)
        .bind(side_text(o.side))
        .bind(kind)
        .bind(price.map(dec_text))
        .bind(dec_text(o.size.amount()))
        .bind(dec_text(o.filled_quantity))
        .bind(o.average_price.map(dec_text))
        .bind(venue_status_text(o.status))
        .bind(o.created_ms)
        .bind(o.updated_ms)
        .bind(o.size.unit())
        .bind(o.time_in_force.as_str())
        .bind(i64::from(o.post_only))
        .bind(dec_text(o.filled_quote))
        .bind(fees_json(&o.fees)?)
        .execute(&mut *tx)
        .await?;
    }
    let mut seq: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM paper_fills WHERE account = ?")
            .bind(account)
            .fetch_one(&mut *tx)
            .await?;
    for f in &ch.fills {
        seq += 1;
        sqlx::query(
            "INSERT INTO paper_fills (account, fill_id, seq, client_id, venue_order_id, base, quote, side, \
             quantity, price, fee, fee_asset, time_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (account, fill_id) DO NOTHING",
        )
        .bind(account)
        .bind(&f.fill_id)
        .bind(seq)
        .bind(&f.client_id)
        .bind(&f.venue_order_id)
        .bind(&f.base)
        .bind(&f.quote)
        .bind(side_text(f.side))
        .bind(dec_text(f.quantity))
        .bind(dec_text(f.price))
        .bind(dec_text(f.fee))
        .bind(&f.fee_asset)
        .bind(f.time_ms)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
