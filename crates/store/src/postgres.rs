//! The PostgreSQL backend (cargo feature `postgres`): the same [`Store`], [`CommandQueue`] and
//! paper account as the SQLite backend, on a pool of connections to one database, with its own
//! migrations (`migrations/postgres`). Selected by `store = "postgres://..."`.
//!
//! Money is NUMERIC, read back as rust_decimal (normalized, as the SQLite backend's canonical
//! text is), never a float; times are BIGINT epoch ms. Several processes share one database, so
//! every transaction that writes a bot's ledger first locks the bot's row (`FOR UPDATE`): the
//! balance checks of a withdrawal and of a fee in a third asset see every earlier entry of that
//! bot. A command is claimed with `FOR UPDATE SKIP LOCKED`.
//!
//! [`CommandQueue`]: crate::CommandQueue

mod commands;
mod leases;
mod paging {
    //! The paged reads on PostgreSQL ([`crate::paging`]).
    crate::paging::backend_reads!(
        sqlx::Postgres,
        sqlx::postgres::PgPool,
        sqlx::postgres::PgRow,
        sqlx::postgres::PgArguments,
        shared::Dialect::Postgres,
        super::snapshot_row
    );
}

use crate::codec::{
    fees_json, kind_parts, parse_fees, parse_kind, parse_side, parse_size, parse_time_in_force,
    parse_venue_status, side_text, venue_status_text,
};
use crate::mask_url;
use crate::{
    AppliedFills, BotId, BotRecord, BotUpdate, Fence, FillRecord, FlowItem, FlowKind, FlowRecord,
    LeaseClock, LedgerEntry, NewBot, NewFlow, NewOrder, NewRebalance, OrderRecord, OrderState,
    OrderUpdate, Page, PageQuery, RebalanceRecord, SeriesQuery, Session, Snapshot, Store,
    StoreError, StoreResult, StoredBot, fill_ledger_entries_held,
};
use async_trait::async_trait;
use rust_decimal::Decimal;
use smartfolio_exchange::paper::{PaperAccount, PaperChange, PaperPersistence};
use smartfolio_exchange::{Balance, Fill, Order};
use sqlx::postgres::PgConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Postgres, Row, Transaction};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The newest PostgreSQL schema this build knows (the number of the last migration in
/// `migrations/postgres`).
pub const PG_SCHEMA_VERSION: i64 = 6;
const APP_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Connections per process: the runtime has one writer, the HTTP reads and the queue the rest.
const POOL_SIZE: u32 = 8;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The URL with its password masked: what messages name.
    location: String,
    /// A worker's handle: the fence every write of a bot carries ([`PgStore::fenced`]).
    session: Option<Arc<Session>>,
}

/// A connection that failed: the server's own message when it answered (without the line of
/// its source file that sqlx appends), with what to check for a refused login or a missing
/// database; else the driver's reason.
fn unreachable(location: &str, e: sqlx::Error) -> StoreError {
    let message = match e.as_database_error() {
        Some(db) => {
            let what = match db.code().as_deref() {
                Some("28P01" | "28000") => "; check the user and password in the store URL",
                Some("3D000") => "; create the database first, or name another in the store URL",
                _ => "",
            };
            format!("the server refused: {}{what}", db.message())
        }
        None => e.to_string(),
    };
    StoreError::Connect {
        location: location.to_string(),
        message,
    }
}

impl PgStore {
    /// Connect to the database at `url` (`postgres://user:password@host:port/db`), refuse a
    /// database of a newer smartfolio without touching it, then migrate. A URL that does not
    /// parse, a server that does not answer or a refused login is [`StoreError::Connect`],
    /// naming the URL with its password masked.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let location = mask_url(url);
        let opts = PgConnectOptions::from_str(url).map_err(|e| unreachable(&location, e))?;
        Self::open_with(opts, location).await
    }

    /// [`PgStore::open`] with options already built (the tests give each store its own
    /// `search_path`). `location` is what messages name.
    pub async fn open_with(opts: PgConnectOptions, location: String) -> StoreResult<Self> {
        // The server's notices ("relation ... already exists, skipping" on every migration
        // check) are not for the log; warnings and errors still come back.
        let opts = opts.options([("client_min_messages", "warning")]);
        // One connection first: a refused login or a server that is not there is told at once
        // (the pool would retry until its acquire timeout).
        let first = PgConnection::connect_with(&opts)
            .await
            .map_err(|e| unreachable(&location, e))?;
        first.close().await.ok();
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(|e| unreachable(&location, e))?;
        check_schema(&pool, &location).await?;
        MIGRATOR.run(&pool).await.map_err(|e| StoreError::Corrupt {
            path: PathBuf::from(&location),
            message: format!("migrating it failed: {e}"),
        })?;
        sqlx::query(
            "INSERT INTO app_meta (key, value) VALUES ('app_version', $1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(APP_VERSION)
        .execute(&pool)
        .await?;
        Ok(Self {
            pool,
            location,
            session: None,
        })
    }

    /// The URL, password masked.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Close the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Create the schema `name` on the database at `url` when it is missing, and return `url`
    /// with its connections' `search_path` set to it: tests and soak runs give each run its own
    /// tables on one server. `name`: lowercase ASCII letters, digits and `_`.
    pub async fn schema_url(url: &str, name: &str) -> StoreResult<String> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(StoreError::Invalid {
                field: "schema",
                value: name.to_string(),
                allowed: "lowercase ASCII letters, digits and _",
            });
        }
        let location = mask_url(url);
        let opts = PgConnectOptions::from_str(url).map_err(|e| unreachable(&location, e))?;
        let mut c = PgConnection::connect_with(&opts)
            .await
            .map_err(|e| unreachable(&location, e))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{name}\""
        )))
        .execute(&mut c)
        .await?;
        c.close().await.ok();
        let sep = if url.contains('?') { '&' } else { '?' };
        Ok(format!("{url}{sep}options[search_path]={name}"))
    }

    /// A handle on the same pool whose every write of a bot (and of the paper account) is
    /// refused with [`StoreError::Fenced`] unless `fence` still holds at `now()` (see
    /// [`crate::lease`]): a worker trades through it, so once its lease is gone nothing it
    /// writes lands.
    pub fn fenced(&self, fence: Fence, now: LeaseClock) -> PgStore {
        PgStore {
            pool: self.pool.clone(),
            location: self.location.clone(),
            session: Some(Arc::new(Session { fence, now })),
        }
    }

    /// The fence check of a write for (`venue`, `account`): `explicit` at `time_ms`, else the
    /// handle's session at its clock, else none.
    async fn guard(
        &self,
        tx: &mut Tx<'_>,
        explicit: Option<&Fence>,
        va: (&str, &str),
        time_ms: i64,
    ) -> StoreResult<()> {
        match Session::pick(self.session.as_deref(), explicit, time_ms) {
            Some((f, at)) => leases::fence_tx(tx, Some(f), va, at).await,
            None => Ok(()),
        }
    }
}

/// Refuse a database written by a newer smartfolio, before any migration touches it.
async fn check_schema(pool: &PgPool, location: &str) -> StoreResult<()> {
    let (has_meta, has_migrations): (bool, bool) = sqlx::query_as(
        "SELECT to_regclass('app_meta') IS NOT NULL, to_regclass('_sqlx_migrations') IS NOT NULL",
    )
    .fetch_one(pool)
    .await?;
    let mut db_schema: i64 = 0;
    let mut db_app = String::new();
    if has_meta {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM app_meta")
            .fetch_all(pool)
            .await?;
        for (k, v) in rows {
            match k.as_str() {
                "schema_version" => {
                    db_schema = v.trim().parse().map_err(|_| StoreError::Corrupt {
                        path: PathBuf::from(location),
                        message: format!("app_meta.schema_version is `{v}`"),
                    })?
                }
                "app_version" => db_app = v,
                _ => {}
            }
        }
    }
    if has_migrations {
        let max: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(pool)
            .await?;
        db_schema = db_schema.max(max.unwrap_or(0));
    }
    if db_schema > PG_SCHEMA_VERSION {
        return Err(StoreError::NewerVersion {
            path: PathBuf::from(location),
            db_schema,
            db_app: if db_app.is_empty() {
                String::new()
            } else {
                format!(", smartfolio {db_app}")
            },
            known_schema: PG_SCHEMA_VERSION,
            app_version: APP_VERSION.to_string(),
        });
    }
    Ok(())
}

/// A NUMERIC column, normalized (the canonical form the SQLite backend stores as text).
fn dec(r: &PgRow, col: &str) -> StoreResult<Decimal> {
    Ok(r.try_get::<Decimal, _>(col)?.normalize())
}

fn opt_dec(r: &PgRow, col: &str) -> StoreResult<Option<Decimal>> {
    Ok(r.try_get::<Option<Decimal>, _>(col)?.map(|d| d.normalize()))
}

const BOT_COLS: &str =
    "id, name, venue, account, quote, status, config, state, created_ms, updated_ms";

fn bot_row(r: &PgRow) -> StoreResult<BotRecord> {
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

fn flow_row(r: &PgRow) -> StoreResult<FlowRecord> {
    Ok(FlowRecord {
        id: r.try_get("id")?,
        bot_id: r.try_get("bot_id")?,
        kind: r.try_get("kind")?,
        asset: r.try_get("asset")?,
        amount: dec(r, "amount")?,
        value: dec(r, "value")?,
        basis: opt_dec(r, "basis")?,
        time_ms: r.try_get("time_ms")?,
    })
}

fn order_row(r: &PgRow) -> StoreResult<OrderRecord> {
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
        quantity: dec(r, "quantity")?,
        kind: r.try_get("kind")?,
        limit_price: opt_dec(r, "limit_price")?,
        quote_amount: opt_dec(r, "quote_amount")?,
        status: OrderState::parse(&r.try_get::<String, _>("status")?)?,
        venue_order_id: r.try_get("venue_order_id")?,
        filled_quantity: dec(r, "filled_quantity")?,
        error: r.try_get("error")?,
        created_ms: r.try_get("created_ms")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

fn rebalance_row(r: &PgRow) -> StoreResult<RebalanceRecord> {
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

fn snapshot_row(r: &PgRow) -> StoreResult<Snapshot> {
    Ok(Snapshot {
        bot_id: r.try_get("bot_id")?,
        time_ms: r.try_get("time_ms")?,
        value: dec(r, "value")?,
        net_invested: dec(r, "net_invested")?,
        hold_value: dec(r, "hold_value")?,
    })
}

fn fill_row(r: &PgRow) -> StoreResult<FillRecord> {
    Ok(FillRecord {
        venue: r.try_get("venue")?,
        account: r.try_get("account")?,
        fill_id: r.try_get("fill_id")?,
        client_id: r.try_get("client_id")?,
        bot_id: r.try_get("bot_id")?,
        base: r.try_get("base")?,
        quote: r.try_get("quote")?,
        side: r.try_get("side")?,
        quantity: dec(r, "quantity")?,
        price: dec(r, "price")?,
        fee: dec(r, "fee")?,
        fee_asset: r.try_get("fee_asset")?,
        time_ms: r.try_get("time_ms")?,
    })
}

type Tx<'a> = Transaction<'a, Postgres>;

/// Lock the bot's row for the rest of the transaction; its venue and account.
async fn lock_bot(tx: &mut Tx<'_>, bot_id: BotId) -> StoreResult<(String, String)> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT venue, account FROM bots WHERE id = $1 FOR UPDATE")
            .bind(bot_id)
            .fetch_optional(&mut **tx)
            .await?;
    row.ok_or_else(|| StoreError::NotFound(format!("bot {bot_id}")))
}

async fn write_bot(tx: &mut Tx<'_>, u: &BotUpdate) -> StoreResult<()> {
    let res = sqlx::query(
        "UPDATE bots SET status = $1, state = $2, config = COALESCE($3, config), updated_ms = $4 \
         WHERE id = $5",
    )
    .bind(&u.status)
    .bind(&u.state)
    .bind(&u.config)
    .bind(u.time_ms)
    .bind(u.id)
    .execute(&mut **tx)
    .await?;
    if res.rows_affected() != 1 {
        return Err(StoreError::NotFound(format!("bot {}", u.id)));
    }
    Ok(())
}

async fn insert_ledger(
    tx: &mut Tx<'_>,
    bot_id: BotId,
    asset: &str,
    amount: Decimal,
    kind: &str,
    reference: &str,
    time_ms: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO ledger (bot_id, asset, amount, kind, ref, time_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(bot_id)
    .bind(asset)
    .bind(amount.normalize())
    .bind(kind)
    .bind(reference)
    .bind(time_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Per-asset sums, zero balances left out, in asset order.
fn non_zero(rows: Vec<(String, Decimal)>) -> Vec<(String, Decimal)> {
    let m: BTreeMap<String, Decimal> = rows.into_iter().collect();
    m.into_iter()
        .filter(|(_, v)| !v.is_zero())
        .map(|(a, v)| (a, v.normalize()))
        .collect()
}

const BALANCES: &str = "SELECT asset, SUM(amount) FROM ledger WHERE bot_id = $1 GROUP BY asset";

async fn balances_tx(tx: &mut Tx<'_>, bot_id: BotId) -> StoreResult<Vec<(String, Decimal)>> {
    let rows: Vec<(String, Decimal)> = sqlx::query_as(BALANCES)
        .bind(bot_id)
        .fetch_all(&mut **tx)
        .await?;
    Ok(non_zero(rows))
}

async fn insert_flow_items(
    tx: &mut Tx<'_>,
    bot_id: BotId,
    kind: FlowKind,
    items: &[FlowItem],
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
            "INSERT INTO flows (bot_id, kind, asset, amount, value, basis, time_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(bot_id)
        .bind(kind.as_str())
        .bind(&item.asset)
        .bind(item.amount.normalize())
        .bind(item.value.normalize())
        .bind(item.basis.map(|b| b.normalize()))
        .bind(time_ms)
        .fetch_one(&mut **tx)
        .await?;
        let signed = match kind {
            FlowKind::Deposit => item.amount,
            FlowKind::Withdraw => -item.amount,
        };
        let reference = format!("flow:{id}");
        insert_ledger(
            tx,
            bot_id,
            &item.asset,
            signed,
            kind.as_str(),
            &reference,
            time_ms,
        )
        .await?;
    }
    Ok(())
}

async fn insert_orders(
    tx: &mut Tx<'_>,
    (bot_id, rebalance_id): (BotId, i64),
    (venue, account): (&str, &str),
    orders: &[NewOrder],
    time_ms: i64,
) -> StoreResult<()> {
    for o in orders {
        let (kind, price) = kind_parts(&o.kind);
        sqlx::query(
            "INSERT INTO orders (client_id, bot_id, rebalance_id, leg, venue, account, base, quote, \
             side, quantity, kind, limit_price, quote_amount, status, filled_quantity, created_ms, \
             updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'pending', 0, $14, $14)",
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
        .bind(o.quantity.normalize())
        .bind(kind)
        .bind(price.map(|p| p.normalize()))
        .bind(o.quote_amount.map(|a| a.normalize()))
        .bind(time_ms)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn update_order_tx(tx: &mut Tx<'_>, u: &OrderUpdate) -> StoreResult<()> {
    let res = sqlx::query(
        "UPDATE orders SET status = $1, venue_order_id = COALESCE($2, venue_order_id), \
         filled_quantity = $3, error = COALESCE($4, error), updated_ms = $5 WHERE client_id = $6",
    )
    .bind(u.status.as_str())
    .bind(&u.venue_order_id)
    .bind(u.filled_quantity.normalize())
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

#[async_trait]
impl Store for PgStore {
    async fn create_bot(&self, bot: &NewBot) -> StoreResult<BotId> {
        let mut tx = self.pool.begin().await?;
        let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM bots WHERE name = $1")
            .bind(&bot.name)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(id) = taken {
            return Err(StoreError::Conflict(format!(
                "a bot named `{}` already exists (id {id})",
                bot.name
            )));
        }
        self.guard(&mut tx, None, (&bot.venue, &bot.account), bot.time_ms)
            .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO bots (name, venue, account, quote, status, config, state, created_ms, \
             updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(&bot.name)
        .bind(&bot.venue)
        .bind(&bot.account)
        .bind(&bot.quote)
        .bind(&bot.status)
        .bind(&bot.config)
        .bind(&bot.state)
        .bind(bot.time_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            // Another process took the name between the check and the insert.
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("a bot named `{}` already exists", bot.name))
            }
            other => other,
        })?;
        insert_flow_items(&mut tx, id, FlowKind::Deposit, &bot.deposit, bot.time_ms).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn update_bot(&self, update: &BotUpdate) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        if self.session.is_some() {
            let (venue, account) = lock_bot(&mut tx, update.id).await?;
            self.guard(&mut tx, None, (&venue, &account), update.time_ms)
                .await?;
        }
        write_bot(&mut tx, update).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn begin_rebalance_fenced(
        &self,
        rb: &NewRebalance,
        fence: Option<&Fence>,
    ) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await?;
        let (venue, account) = lock_bot(&mut tx, rb.bot_id).await?;
        self.guard(&mut tx, fence, (&venue, &account), rb.time_ms)
            .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO rebalances (bot_id, seq, kind, reason, status, started_ms, plan) \
             VALUES ($1, $2, $3, $4, 'open', $5, $6) RETURNING id",
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
            &mut tx,
            (rb.bot_id, id),
            (&venue, &account),
            &rb.orders,
            rb.time_ms,
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
        let mut tx = self.pool.begin().await?;
        let row: Option<(i64, String, String, String)> = sqlx::query_as(
            "SELECT r.bot_id, b.venue, b.account, r.status FROM rebalances r \
             JOIN bots b ON b.id = r.bot_id WHERE r.id = $1 FOR UPDATE OF r",
        )
        .bind(rebalance_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (bot_id, venue, account, status) =
            row.ok_or_else(|| StoreError::NotFound(format!("rebalance {rebalance_id}")))?;
        self.guard(&mut tx, fence, (&venue, &account), time_ms)
            .await?;
        if status != "open" {
            return Err(StoreError::Conflict(format!(
                "rebalance {rebalance_id} is {status}, orders can only be added to an open one"
            )));
        }
        insert_orders(
            &mut tx,
            (bot_id, rebalance_id),
            (&venue, &account),
            orders,
            time_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_order(&self, u: &OrderUpdate) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        if self.session.is_some() {
            let row: Option<(String, String)> =
                sqlx::query_as("SELECT venue, account FROM orders WHERE client_id = $1")
                    .bind(&u.client_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let (venue, account) =
                row.ok_or_else(|| StoreError::NotFound(format!("order {}", u.client_id)))?;
            self.guard(&mut tx, None, (&venue, &account), u.time_ms)
                .await?;
        }
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
        let mut tx = self.pool.begin().await?;
        let row: Option<(i64, String, String)> = sqlx::query_as(
            "SELECT o.bot_id, o.venue, o.account FROM orders o JOIN bots b ON b.id = o.bot_id \
             WHERE o.client_id = $1 FOR UPDATE OF b",
        )
        .bind(&u.client_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (bot_id, venue, account) =
            row.ok_or_else(|| StoreError::NotFound(format!("order {}", u.client_id)))?;
        self.guard(&mut tx, fence, (&venue, &account), u.time_ms)
            .await?;
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
                "INSERT INTO fills (venue, account, fill_id, client_id, bot_id, base, quote, side, \
                 quantity, price, fee, fee_asset, time_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
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
            .bind(f.quantity.normalize())
            .bind(f.price.normalize())
            .bind(f.fee.normalize())
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
        let mut tx = self.pool.begin().await?;
        if self.session.is_some() {
            let row: Option<(String, String)> = sqlx::query_as(
                "SELECT b.venue, b.account FROM rebalances r JOIN bots b ON b.id = r.bot_id \
                 WHERE r.id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let (venue, account) =
                row.ok_or_else(|| StoreError::NotFound(format!("rebalance {id}")))?;
            self.guard(&mut tx, None, (&venue, &account), time_ms)
                .await?;
        }
        let res = sqlx::query(
            "UPDATE rebalances SET status = $1, summary = $2, finished_ms = $3 WHERE id = $4",
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
        let mut tx = self.pool.begin().await?;
        let (venue, account) = lock_bot(&mut tx, flow.bot_id).await?;
        self.guard(&mut tx, None, (&venue, &account), flow.time_ms)
            .await?;
        insert_flow_items(&mut tx, flow.bot_id, flow.kind, &flow.items, flow.time_ms).await?;
        if flow.kind == FlowKind::Withdraw {
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
        let mut tx = self.pool.begin().await?;
        let (venue, account) = lock_bot(&mut tx, bot.id).await?;
        self.guard(&mut tx, None, (&venue, &account), bot.time_ms)
            .await?;
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
        let mut tx = self.pool.begin().await?;
        if self.session.is_some() {
            let mut ids: Vec<BotId> = snapshots.iter().map(|s| s.bot_id).collect();
            ids.sort_unstable();
            ids.dedup();
            let rows: Vec<(i64, String, String)> =
                sqlx::query_as("SELECT id, venue, account FROM bots WHERE id = ANY($1)")
                    .bind(&ids)
                    .fetch_all(&mut *tx)
                    .await?;
            if rows.len() != ids.len() {
                return Err(StoreError::NotFound(format!(
                    "a bot of the snapshots (bots {ids:?})"
                )));
            }
            let time = snapshots.iter().map(|s| s.time_ms).max().unwrap_or(0);
            for (_, venue, account) in &rows {
                self.guard(&mut tx, None, (venue, account), time).await?;
            }
        }
        for s in snapshots {
            sqlx::query(
                "INSERT INTO snapshots (bot_id, time_ms, value, net_invested, hold_value) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (bot_id, time_ms) DO UPDATE SET value = excluded.value, \
                 net_invested = excluded.net_invested, hold_value = excluded.hold_value",
            )
            .bind(s.bot_id)
            .bind(s.time_ms)
            .bind(s.value.normalize())
            .bind(s.net_invested.normalize())
            .bind(s.hold_value.normalize())
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
        let [bots, seqs, sums, flows] = crate::account::statements(BOT_COLS, ["$1", "$2"], true);
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
        let sums: Vec<(BotId, String, Decimal)> = sqlx::query_as(sqlx::AssertSqlSafe(sums))
            .bind(venue)
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
        let balances = crate::account::per_bot(sums, |r| Ok(non_zero(r)))?;
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
            "SELECT {BOT_COLS} FROM bots WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(bot_row).transpose()
    }

    async fn bot_by_name(&self, name: &str) -> StoreResult<Option<BotRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {BOT_COLS} FROM bots WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(bot_row).transpose()
    }

    async fn order(&self, client_id: &str) -> StoreResult<Option<OrderRecord>> {
        let row = sqlx::query("SELECT * FROM orders WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(order_row).transpose()
    }

    async fn orders(&self, bot_id: BotId) -> StoreResult<Vec<OrderRecord>> {
        let rows = sqlx::query("SELECT * FROM orders WHERE bot_id = $1 ORDER BY rebalance_id, leg")
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
        let rows = sqlx::query(
            "SELECT * FROM fills WHERE bot_id = $1 ORDER BY time_ms, fill_id COLLATE \"C\"",
        )
        .bind(bot_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(fill_row).collect()
    }

    async fn rebalances(&self, bot_id: BotId) -> StoreResult<Vec<RebalanceRecord>> {
        let rows = sqlx::query("SELECT * FROM rebalances WHERE bot_id = $1 ORDER BY seq")
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
        let rows: Vec<(String, Decimal)> = sqlx::query_as(BALANCES)
            .bind(bot_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(non_zero(rows))
    }

    async fn all_balances(&self) -> StoreResult<Vec<(BotId, String, Decimal)>> {
        let rows: Vec<(i64, String, Decimal)> =
            sqlx::query_as("SELECT bot_id, asset, SUM(amount) FROM ledger GROUP BY bot_id, asset")
                .fetch_all(&self.pool)
                .await?;
        let m: BTreeMap<(i64, String), Decimal> =
            rows.into_iter().map(|(b, a, v)| ((b, a), v)).collect();
        Ok(m.into_iter()
            .filter(|(_, v)| !v.is_zero())
            .map(|((b, a), v)| (b, a, v.normalize()))
            .collect())
    }

    async fn flows(&self, bot_id: BotId) -> StoreResult<Vec<FlowRecord>> {
        let rows = sqlx::query("SELECT * FROM flows WHERE bot_id = $1 ORDER BY id")
            .bind(bot_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(flow_row).collect()
    }

    async fn flow_page(&self, bot_id: BotId, page: &PageQuery) -> StoreResult<Page<FlowRecord>> {
        paging::page(&self.pool, &crate::paging::FLOWS, bot_id, page, flow_row).await
    }

    async fn ledger(&self, bot_id: BotId) -> StoreResult<Vec<LedgerEntry>> {
        let rows = sqlx::query("SELECT * FROM ledger WHERE bot_id = $1 ORDER BY id")
            .bind(bot_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(LedgerEntry {
                    id: r.try_get("id")?,
                    bot_id: r.try_get("bot_id")?,
                    asset: r.try_get("asset")?,
                    amount: dec(r, "amount")?,
                    kind: r.try_get("kind")?,
                    reference: r.try_get("ref")?,
                    time_ms: r.try_get("time_ms")?,
                })
            })
            .collect()
    }

    async fn snapshots(&self, bot_id: BotId) -> StoreResult<Vec<Snapshot>> {
        let rows = sqlx::query("SELECT * FROM snapshots WHERE bot_id = $1 ORDER BY time_ms")
            .bind(bot_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(snapshot_row).collect()
    }
}

// ------------------------------------------------------------------------------- paper account

#[async_trait]
impl PaperPersistence for PgStore {
    async fn load_paper(&self, account: &str) -> Result<Option<PaperAccount>, String> {
        load_paper(&self.pool, account)
            .await
            .map_err(|e| e.to_string())
    }

    async fn apply_paper(&self, account: &str, change: &PaperChange) -> Result<(), String> {
        apply_paper(&self.pool, self.session.as_deref(), account, change)
            .await
            .map_err(|e| e.to_string())
    }
}

fn paper_order_row(r: &PgRow) -> StoreResult<Order> {
    Ok(Order {
        client_id: r.try_get("client_id")?,
        venue_id: r.try_get("venue_id")?,
        base: r.try_get("base")?,
        quote: r.try_get("quote")?,
        side: parse_side(&r.try_get::<String, _>("side")?)?,
        kind: parse_kind(&r.try_get::<String, _>("kind")?, opt_dec(r, "limit_price")?)?,
        size: parse_size(&r.try_get::<String, _>("size_unit")?, dec(r, "quantity")?)?,
        time_in_force: parse_time_in_force(&r.try_get::<String, _>("time_in_force")?)?,
        post_only: r.try_get("post_only")?,
        filled_quantity: dec(r, "filled_quantity")?,
        filled_quote: dec(r, "filled_quote")?,
        fees: parse_fees(&r.try_get::<String, _>("fees")?)?,
        average_price: opt_dec(r, "average_price")?,
        status: parse_venue_status(&r.try_get::<String, _>("status")?)?,
        created_ms: r.try_get("created_ms")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

fn paper_fill_row(r: &PgRow) -> StoreResult<Fill> {
    Ok(Fill {
        fill_id: r.try_get("fill_id")?,
        client_id: r.try_get("client_id")?,
        venue_order_id: r.try_get("venue_order_id")?,
        base: r.try_get("base")?,
        quote: r.try_get("quote")?,
        side: parse_side(&r.try_get::<String, _>("side")?)?,
        quantity: dec(r, "quantity")?,
        price: dec(r, "price")?,
        fee: dec(r, "fee")?,
        fee_asset: r.try_get("fee_asset")?,
        time_ms: r.try_get("time_ms")?,
    })
}

async fn load_paper(pool: &PgPool, account: &str) -> StoreResult<Option<PaperAccount>> {
    let mut tx = pool.begin().await?;
    // One snapshot of the account: a writer in another process cannot interleave.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let seq: Option<i64> =
        sqlx::query_scalar("SELECT next_seq FROM paper_accounts WHERE account = $1")
            .bind(account)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(next_seq) = seq else {
        return Ok(None);
    };
    let mut acc = PaperAccount {
        next_seq: u64::try_from(next_seq)
            .map_err(|_| StoreError::BadValue(format!("paper next_seq {next_seq}")))?,
        ..Default::default()
    };
    let rows: Vec<(String, Decimal, Decimal)> = sqlx::query_as(
        "SELECT asset, free, locked FROM paper_balances WHERE account = $1 \
         ORDER BY asset COLLATE \"C\"",
    )
    .bind(account)
    .fetch_all(&mut *tx)
    .await?;
    for (asset, free, locked) in rows {
        acc.balances.push(Balance {
            asset,
            free: free.normalize(),
            locked: locked.normalize(),
        });
    }
    let rows = sqlx::query(
        "SELECT * FROM paper_orders WHERE account = $1 ORDER BY created_ms, client_id COLLATE \"C\"",
    )
    .bind(account)
    .fetch_all(&mut *tx)
    .await?;
    for r in &rows {
        acc.orders.push(paper_order_row(r)?);
    }
    let rows = sqlx::query("SELECT * FROM paper_fills WHERE account = $1 ORDER BY seq")
        .bind(account)
        .fetch_all(&mut *tx)
        .await?;
    for r in &rows {
        acc.fills.push(paper_fill_row(r)?);
    }
    tx.commit().await?;
    Ok(Some(acc))
}

async fn apply_paper(
    pool: &PgPool,
    session: Option<&Session>,
    account: &str,
    ch: &PaperChange,
) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    // A worker's paper venue is the account it leases: its changes are fenced like its bots'.
    if let Some(s) = session {
        leases::fence_tx(
            &mut tx,
            Some(&s.fence),
            (&s.fence.venue, account),
            (s.now)(),
        )
        .await?;
    }
    let next_seq = i64::try_from(ch.next_seq)
        .map_err(|_| StoreError::BadValue(format!("paper next_seq {}", ch.next_seq)))?;
    // The upsert locks the account's row: changes of one account are applied one at a time.
    sqlx::query(
        "INSERT INTO paper_accounts (account, next_seq) VALUES ($1, $2) \
         ON CONFLICT (account) DO UPDATE SET next_seq = excluded.next_seq",
    )
    .bind(account)
    .bind(next_seq)
    .execute(&mut *tx)
    .await?;
    for b in &ch.balances {
        sqlx::query(
            "INSERT INTO paper_balances (account, asset, free, locked) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account, asset) DO UPDATE SET free = excluded.free, \
             locked = excluded.locked",
        )
        .bind(account)
        .bind(&b.asset)
        .bind(b.free.normalize())
        .bind(b.locked.normalize())
        .execute(&mut *tx)
        .await?;
    }
    for o in &ch.orders {
        let (kind, price) = kind_parts(&o.kind);
        sqlx::query(
            "INSERT INTO paper_orders (account, client_id, venue_id, base, quote, side, kind, \
             limit_price, quantity, filled_quantity, average_price, status, created_ms, \
             updated_ms, size_unit, time_in_force, post_only, filled_quote, fees) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19) \
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
        .bind(price.map(|p| p.normalize()))
        .bind(o.size.amount().normalize())
        .bind(o.filled_quantity.normalize())
        .bind(o.average_price.map(|p| p.normalize()))
        .bind(venue_status_text(o.status))
        .bind(o.created_ms)
        .bind(o.updated_ms)
        .bind(o.size.unit())
        .bind(o.time_in_force.as_str())
        .bind(o.post_only)
        .bind(o.filled_quote.normalize())
        .bind(fees_json(&o.fees)?)
        .execute(&mut *tx)
        .await?;
    }
    let mut seq: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM paper_fills WHERE account = $1")
            .bind(account)
            .fetch_one(&mut *tx)
            .await?;
    for f in &ch.fills {
        seq += 1;
        sqlx::query(
            "INSERT INTO paper_fills (account, fill_id, seq, client_id, venue_order_id, base, \
             quote, side, quantity, price, fee, fee_asset, time_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
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
        .bind(f.quantity.normalize())
        .bind(f.price.normalize())
        .bind(f.fee.normalize())
        .bind(&f.fee_asset)
        .bind(f.time_ms)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
