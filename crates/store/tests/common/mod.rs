//! A fresh, empty database of either backend for each test: SQLite in a temporary directory,
//! PostgreSQL in a new schema of the database `SMARTFOLIO_TEST_POSTGRES` names (built with the
//! `postgres` feature, that variable is required: a run without it fails, it never skips).

#![allow(dead_code)]

use smartfolio_store::{Backend, SCHEMA_VERSION, SqliteStore};
use std::path::PathBuf;
use std::sync::Arc;

pub enum Db {
    Sqlite {
        _dir: tempfile::TempDir,
        data: PathBuf,
    },
    #[cfg(feature = "postgres")]
    Postgres { url: String, schema: String },
}

impl Db {
    pub async fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested/data");
        Db::Sqlite { _dir: dir, data }
    }

    /// A new schema on the test server, dropped by [`Db::finish`].
    #[cfg(feature = "postgres")]
    pub async fn postgres() -> Db {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let url = postgres_url();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let schema = format!(
            "sf_test_{}_{}_{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let db = Db::Postgres { url, schema };
        db.exec_admin(&format!("CREATE SCHEMA {}", db.schema()))
            .await;
        db
    }

    #[cfg(feature = "postgres")]
    fn schema(&self) -> &str {
        match self {
            Db::Postgres { schema, .. } => schema,
            Db::Sqlite { .. } => unreachable!("a SQLite database has no schema"),
        }
    }

    #[cfg(feature = "postgres")]
    fn pg_options(&self) -> sqlx::postgres::PgConnectOptions {
        use std::str::FromStr;
        match self {
            Db::Postgres { url, schema } => sqlx::postgres::PgConnectOptions::from_str(url)
                .expect("SMARTFOLIO_TEST_POSTGRES parses as a PostgreSQL URL")
                .options([("search_path", schema.as_str())]),
            Db::Sqlite { .. } => unreachable!(),
        }
    }

    #[cfg(feature = "postgres")]
    async fn exec_admin(&self, sql: &str) {
        use sqlx::{ConnectOptions, Connection};
        let Db::Postgres { url, .. } = self else {
            unreachable!()
        };
        let mut c = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(url)
            .unwrap_or_else(|e| panic!("SMARTFOLIO_TEST_POSTGRES does not parse: {e}"))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connecting to SMARTFOLIO_TEST_POSTGRES: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }

    /// A new handle on the database (two handles are two processes' stores).
    pub async fn open(&self) -> Arc<dyn Backend> {
        self.try_open().await.expect("the store opens")
    }

    pub async fn try_open(&self) -> smartfolio_store::StoreResult<Arc<dyn Backend>> {
        Ok(match self {
            Db::Sqlite { data, .. } => Arc::new(SqliteStore::open(data).await?),
            #[cfg(feature = "postgres")]
            Db::Postgres { schema, .. } => Arc::new(
                smartfolio_store::PgStore::open_with(self.pg_options(), format!("schema {schema}"))
                    .await?,
            ),
        })
    }

    /// The newest schema this build knows for the backend.
    pub fn known_schema(&self) -> i64 {
        match self {
            Db::Sqlite { .. } => SCHEMA_VERSION,
            #[cfg(feature = "postgres")]
            Db::Postgres { .. } => smartfolio_store::PG_SCHEMA_VERSION,
        }
    }

    /// The SQLite file (None on PostgreSQL).
    pub fn file(&self) -> Option<PathBuf> {
        match self {
            Db::Sqlite { data, .. } => Some(data.join(smartfolio_store::DB_FILE)),
            #[cfg(feature = "postgres")]
            Db::Postgres { .. } => None,
        }
    }

    /// Run SQL on the database, without the store (statements separated by `;`).
    pub async fn exec(&self, sql: &str) {
        use sqlx::{ConnectOptions, Connection};
        match self {
            Db::Sqlite { data, .. } => {
                let mut c = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(data.join(smartfolio_store::DB_FILE))
                    .connect()
                    .await
                    .unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&mut c)
                    .await
                    .unwrap();
                c.close().await.unwrap();
            }
            #[cfg(feature = "postgres")]
            Db::Postgres { .. } => {
                let mut c = self.pg_options().connect().await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&mut c)
                    .await
                    .unwrap();
                c.close().await.unwrap();
            }
        }
    }

    /// Everything stored, as bytes to compare: the SQLite file (its WAL folded in), or every
    /// table of the PostgreSQL schema dumped as text.
    pub async fn fingerprint(&self) -> Vec<u8> {
        match self {
            Db::Sqlite { data, .. } => {
                self.exec("PRAGMA wal_checkpoint(TRUNCATE)").await;
                std::fs::read(data.join(smartfolio_store::DB_FILE)).unwrap()
            }
            #[cfg(feature = "postgres")]
            Db::Postgres { .. } => {
                use sqlx::{ConnectOptions, Connection};
                let mut c = self.pg_options().connect().await.unwrap();
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() ORDER BY table_name",
                )
                .fetch_all(&mut c)
                .await
                .unwrap();
                let mut out = String::new();
                for t in tables {
                    let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT t::text FROM \"{t}\" t ORDER BY 1"
                    )))
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
                    out.push_str(&format!("{t}: {}\n", rows.join(" | ")));
                }
                c.close().await.unwrap();
                out.into_bytes()
            }
        }
    }

    /// Drop what the test made on a shared server (nothing to do for a temporary directory).
    pub async fn finish(self) {
        #[cfg(feature = "postgres")]
        if let Db::Postgres { .. } = &self {
            self.exec_admin(&format!("DROP SCHEMA {} CASCADE", self.schema()))
                .await;
        }
    }
}

/// `SMARTFOLIO_TEST_POSTGRES`, or a loud failure.
#[cfg(feature = "postgres")]
pub fn postgres_url() -> String {
    match std::env::var("SMARTFOLIO_TEST_POSTGRES") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "SMARTFOLIO_TEST_POSTGRES is not set: the `postgres` feature's tests need a \
             PostgreSQL URL (postgres://user:password@127.0.0.1:port/db). \
             scripts/postgres-tests.sh starts a throwaway server and sets it; without the \
             feature, `cargo test` runs the SQLite tests only"
        ),
    }
}
