//! The SQL of the paged reads, shared by both backends: a page of a bot's rebalances, orders or
//! fills (and flows) by keyset on `(time, id)` newest first with its total, and a bot's value snapshots
//! thinned to at most N points by time buckets formed in the query. Each backend binds the
//! [`Arg`]s in order and reads the rows with its own row reader.

use crate::{BotId, Cursor, Page, PageQuery, SeriesQuery, StoreError, StoreResult};

/// A bound value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
}

/// Placeholders: SQLite's `?N`, PostgreSQL's `$N` (integers cast, so their type is never left
/// to inference).
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A table paged by `(time, id)`.
pub(crate) struct Keyset {
    table: &'static str,
    time: &'static str,
    id: &'static str,
    /// The id is an integer (the cursor's text is its digits).
    int_id: bool,
}

pub(crate) const REBALANCES: Keyset = Keyset {
    table: "rebalances",
    time: "started_ms",
    id: "id",
    int_id: true,
};
pub(crate) const ORDERS: Keyset = Keyset {
    table: "orders",
    time: "created_ms",
    id: "client_id",
    int_id: false,
};
pub(crate) const FLOWS: Keyset = Keyset {
    table: "flows",
    time: "time_ms",
    id: "id",
    int_id: true,
};
pub(crate) const FILLS: Keyset = Keyset {
    table: "fills",
    time: "time_ms",
    id: "fill_id",
    int_id: false,
};

/// A statement and its arguments.
pub(crate) struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    fn new() -> Self {
        Sql {
            text: String::new(),
            args: Vec::new(),
        }
    }

    /// The placeholder of a new argument.
    fn push(&mut self, d: Dialect, arg: Arg) -> String {
        let n = self.args.len() + 1;
        let p = match (d, &arg) {
            (Dialect::Sqlite, _) => format!("?{n}"),
            (Dialect::Postgres, Arg::Int(_)) => format!("${n}::BIGINT"),
            (Dialect::Postgres, Arg::Text(_)) => format!("${n}"),
        };
        self.args.push(arg);
        p
    }
}

impl Dialect {
    /// A text id compared bytewise: SQLite's default, PostgreSQL's `COLLATE "C"`.
    fn id(self, k: &Keyset) -> String {
        match (self, k.int_id) {
            (Dialect::Postgres, false) => format!("{} COLLATE \"C\"", k.id),
            _ => k.id.to_string(),
        }
    }
}

/// ` WHERE bot_id = ? [AND time >= from] [AND time < to]`, its arguments pushed to `sql`.
fn range(
    sql: &mut Sql,
    d: Dialect,
    time: &str,
    bot_id: BotId,
    from: Option<i64>,
    to: Option<i64>,
) -> String {
    let p = sql.push(d, Arg::Int(bot_id));
    let mut w = format!(" WHERE bot_id = {p}");
    if let Some(f) = from {
        let p = sql.push(d, Arg::Int(f));
        w += &format!(" AND {time} >= {p}");
    }
    if let Some(t) = to {
        let p = sql.push(d, Arg::Int(t));
        w += &format!(" AND {time} < {p}");
    }
    w
}

/// The total of the filtered range.
pub(crate) fn count(k: &Keyset, d: Dialect, bot_id: BotId, q: &PageQuery) -> Sql {
    let mut sql = Sql::new();
    let w = range(&mut sql, d, k.time, bot_id, q.from_ms, q.to_ms);
    sql.text = format!("SELECT COUNT(*) FROM {}{w}", k.table);
    sql
}

/// The page's rows, one more than the limit (whether an older page exists).
pub(crate) fn page(k: &Keyset, d: Dialect, bot_id: BotId, q: &PageQuery) -> StoreResult<Sql> {
    let mut sql = Sql::new();
    let w = range(&mut sql, d, k.time, bot_id, q.from_ms, q.to_ms);
    sql.text = format!("SELECT * FROM {}{w}", k.table);
    let id = d.id(k);
    if let Some(c) = &q.before {
        let key = if k.int_id {
            Arg::Int(c.id.parse().map_err(|_| {
                StoreError::BadValue(format!(
                    "cursor id `{}` of {}: an integer is expected",
                    c.id, k.table
                ))
            })?)
        } else {
            Arg::Text(c.id.clone())
        };
        let t = sql.push(d, Arg::Int(c.time_ms));
        let i = sql.push(d, key);
        sql.text += &format!(
            " AND ({time} < {t} OR ({time} = {t} AND {id} < {i}))",
            time = k.time
        );
    }
    let lim = sql.push(d, Arg::Int(i64::from(q.limit) + 1));
    sql.text += &format!(" ORDER BY {} DESC, {id} DESC LIMIT {lim}", k.time);
    Ok(sql)
}

/// A page from the rows [`page`] read (one more than the limit when an older page exists).
pub(crate) fn finish<T: Keyed>(mut items: Vec<T>, total: i64, limit: u32) -> Page<T> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next = if more {
        items.last().map(Keyed::cursor)
    } else {
        None
    };
    Page {
        items,
        total: u64::try_from(total).unwrap_or(0),
        next,
    }
}

/// The first and last time and the number of snapshots of the series' range.
pub(crate) fn series_bounds(d: Dialect, bot_id: BotId, q: &SeriesQuery) -> Sql {
    let mut sql = Sql::new();
    let w = range(&mut sql, d, "time_ms", bot_id, q.from_ms, q.to_ms);
    sql.text = format!("SELECT MIN(time_ms), MAX(time_ms), COUNT(*) FROM snapshots{w}");
    sql
}

/// The last snapshot at or before a time (`before`), or the first after it.
pub(crate) fn neighbour(d: Dialect, bot_id: BotId, time_ms: i64, before: bool) -> Sql {
    let mut sql = Sql::new();
    let b = sql.push(d, Arg::Int(bot_id));
    let t = sql.push(d, Arg::Int(time_ms));
    sql.text = if before {
        format!(
            "SELECT * FROM snapshots WHERE bot_id = {b} AND time_ms <= {t} \
             ORDER BY time_ms DESC LIMIT 1"
        )
    } else {
        format!(
            "SELECT * FROM snapshots WHERE bot_id = {b} AND time_ms > {t} ORDER BY time_ms LIMIT 1"
        )
    };
    sql
}

/// The bot id's placeholder: the first argument of every statement here.
fn sql_bot(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "?1",
        Dialect::Postgres => "$1::BIGINT",
    }
}

/// The series' snapshots, oldest first: all of the range when `bounds` (first, last, count)
/// hold no more than `points`, else the last of each of at most `points` equal time buckets
/// from the first.
pub(crate) fn series(d: Dialect, bot_id: BotId, q: &SeriesQuery, bounds: (i64, i64, i64)) -> Sql {
    let (first, last, n) = bounds;
    let points = i64::from(q.points.max(1));
    let mut sql = Sql::new();
    let w = range(&mut sql, d, "time_ms", bot_id, q.from_ms, q.to_ms);
    sql.text = format!("SELECT * FROM snapshots{w}");
    if n > points {
        // width > span / points, so floor(span / width) < points: at most `points` buckets.
        // Bucket k is [first + k * width, first + (k + 1) * width); its last snapshot is one
        // index seek, so the query costs the points it returns, not the rows of the range. The
        // range's numbered placeholders serve the seeks too.
        let width = (last - first) / points + 1;
        let buckets = (last - first) / width + 1;
        let lo = sql.push(d, Arg::Int(first));
        let wd = sql.push(d, Arg::Int(width));
        let nb = sql.push(d, Arg::Int(buckets));
        sql.text = format!(
            "WITH RECURSIVE buckets (k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM buckets \
             WHERE k + 1 < {nb}), \
             picks (t) AS (SELECT (SELECT MAX(time_ms) FROM snapshots{w} \
             AND time_ms >= {lo} + k * {wd} AND time_ms < {lo} + (k + 1) * {wd}) FROM buckets) \
             SELECT * FROM snapshots WHERE bot_id = {b} \
             AND time_ms IN (SELECT t FROM picks WHERE t IS NOT NULL) ORDER BY time_ms",
            b = sql_bot(d)
        );
        return sql;
    }
    sql.text += " ORDER BY time_ms";
    sql
}

/// The cursor of an item: its `(time, id)`.
pub trait Keyed {
    fn cursor(&self) -> Cursor;
}

impl Keyed for crate::RebalanceRecord {
    fn cursor(&self) -> Cursor {
        Cursor {
            time_ms: self.started_ms,
            id: self.id.to_string(),
        }
    }
}

impl Keyed for crate::OrderRecord {
    fn cursor(&self) -> Cursor {
        Cursor {
            time_ms: self.created_ms,
            id: self.client_id.clone(),
        }
    }
}

impl Keyed for crate::FlowRecord {
    fn cursor(&self) -> Cursor {
        Cursor {
            time_ms: self.time_ms,
            id: self.id.to_string(),
        }
    }
}

impl Keyed for crate::FillRecord {
    fn cursor(&self) -> Cursor {
        Cursor {
            time_ms: self.time_ms,
            id: self.fill_id.clone(),
        }
    }
}

/// The paged reads of one backend (`$db`: the sqlx database, `$dialect`), as a module's
/// functions `page` and `series` taking its pool; the rows are read by the backend's readers
/// (`$snapshot_row` for the series). Each reads its total and its rows in one transaction, so
/// both see the same rows.
macro_rules! backend_reads {
    ($db:ty, $pool:ty, $row:ty, $args:ty, $dialect:expr, $snapshot_row:path) => {
        use sqlx::Row;
        use $crate::paging::{self as shared, Arg, Keyed, Keyset, Sql};
        use $crate::{BotId, Page, PageQuery, SeriesQuery, Snapshot, StoreResult};

        fn bind(sql: &Sql) -> sqlx::query::Query<'_, $db, $args> {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.text.as_str()));
            for a in &sql.args {
                q = match a {
                    Arg::Int(i) => q.bind(*i),
                    Arg::Text(s) => q.bind(s.as_str()),
                };
            }
            q
        }

        pub(super) async fn page<T: Keyed>(
            pool: &$pool,
            k: &Keyset,
            bot_id: BotId,
            q: &PageQuery,
            row: fn(&$row) -> StoreResult<T>,
        ) -> StoreResult<Page<T>> {
            let mut tx = pool.begin().await?;
            let count = shared::count(k, $dialect, bot_id, q);
            let total: i64 = bind(&count).fetch_one(&mut *tx).await?.try_get(0)?;
            let items = if q.limit == 0 {
                Vec::new()
            } else {
                let sql = shared::page(k, $dialect, bot_id, q)?;
                let rows = bind(&sql).fetch_all(&mut *tx).await?;
                rows.iter().map(row).collect::<StoreResult<Vec<T>>>()?
            };
            tx.commit().await?;
            Ok(shared::finish(items, total, q.limit))
        }

        /// The bot's last snapshot at or before `time_ms` (`before`), or its first after it.
        pub(super) async fn snapshot_near(
            pool: &$pool,
            bot_id: BotId,
            time_ms: i64,
            before: bool,
        ) -> StoreResult<Option<Snapshot>> {
            let sql = shared::neighbour($dialect, bot_id, time_ms, before);
            let row = bind(&sql).fetch_optional(pool).await?;
            row.as_ref().map($snapshot_row).transpose()
        }

        pub(super) async fn series(
            pool: &$pool,
            bot_id: BotId,
            q: &SeriesQuery,
        ) -> StoreResult<Vec<Snapshot>> {
            let mut tx = pool.begin().await?;
            let b = shared::series_bounds($dialect, bot_id, q);
            let r = bind(&b).fetch_one(&mut *tx).await?;
            let (first, last, n): (Option<i64>, Option<i64>, i64) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            let (Some(first), Some(last)) = (first, last) else {
                return Ok(Vec::new());
            };
            let sql = shared::series($dialect, bot_id, q, (first, last, n));
            let rows = bind(&sql).fetch_all(&mut *tx).await?;
            tx.commit().await?;
            rows.iter().map($snapshot_row).collect()
        }
    };
}
pub(crate) use backend_reads;
