//! Opening the store a configuration names: SQLite in the data directory (the default), or
//! PostgreSQL at a `postgres://` URL (`store = "postgres://..."`, `SMARTFOLIO_STORE`).

use crate::{SqliteStore, Store, StoreError, StoreResult};
use async_trait::async_trait;
use smartfolio_exchange::paper::PaperPersistence;
use std::path::Path;
use std::sync::Arc;

/// Everything a node needs of its store: the [`Store`] (with its command queue), the paper
/// account, the owner's key/value memory and the latest stored time. Both backends are one.
#[async_trait]
pub trait Backend: Store + PaperPersistence {
    /// Where the data is, for messages: the database file, or the URL with its password masked.
    fn location(&self) -> String;
    /// A value of the owner's memory.
    async fn meta(&self, key: &str) -> StoreResult<Option<String>>;
    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()>;
    /// The latest time (epoch ms) any stored change carries.
    async fn latest_time_ms(&self) -> StoreResult<Option<i64>>;
    /// Close its connections (a handle is not used after this).
    async fn close(&self);
    /// A handle on the same database whose every write of a bot is fenced by `fence`, judged
    /// at `now` (see [`crate::lease`]): a worker's. None when the backend has no workers
    /// (SQLite: one process owns the data directory).
    fn fenced(&self, _fence: crate::Fence, _now: crate::LeaseClock) -> Option<Arc<dyn Backend>> {
        None
    }
}

#[async_trait]
impl Backend for SqliteStore {
    fn location(&self) -> String {
        self.path().display().to_string()
    }
    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        SqliteStore::meta(self, key).await
    }
    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        SqliteStore::set_meta(self, key, value).await
    }
    async fn latest_time_ms(&self) -> StoreResult<Option<i64>> {
        SqliteStore::latest_time_ms(self).await
    }
    async fn close(&self) {
        SqliteStore::close(self).await
    }
}

#[cfg(feature = "postgres")]
#[async_trait]
impl Backend for crate::PgStore {
    fn location(&self) -> String {
        crate::PgStore::location(self).to_string()
    }
    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        crate::PgStore::meta(self, key).await
    }
    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        crate::PgStore::set_meta(self, key, value).await
    }
    async fn latest_time_ms(&self) -> StoreResult<Option<i64>> {
        crate::PgStore::latest_time_ms(self).await
    }
    async fn close(&self) {
        crate::PgStore::close(self).await
    }
    fn fenced(&self, fence: crate::Fence, now: crate::LeaseClock) -> Option<Arc<dyn Backend>> {
        Some(Arc::new(crate::PgStore::fenced(self, fence, now)))
    }
}

/// `url` with the password (in the user part, or a `password=` parameter) replaced by `***`,
/// fit for a message or a log line.
pub fn mask_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest = scheme_end + 3;
        let auth_end = out[rest..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| rest + i);
        if let Some(at) = out[rest..auth_end].rfind('@') {
            let userinfo = &out[rest..rest + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest + colon + 1..rest + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

/// Whether `store` names a PostgreSQL database.
pub fn is_postgres_url(store: &str) -> bool {
    let s = store.trim_start().to_ascii_lowercase();
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// Open the store: PostgreSQL when `store` is a `postgres://` (or `postgresql://`) URL, else
/// SQLite in `data_dir` (`store` unset or empty). Anything else in `store`, or a URL given to a
/// build without the `postgres` feature, is [`StoreError::Location`] (the password masked).
pub async fn open_store(store: Option<&str>, data_dir: &Path) -> StoreResult<Arc<dyn Backend>> {
    let store = store.map(str::trim).filter(|s| !s.is_empty());
    match store {
        None => Ok(Arc::new(SqliteStore::open(data_dir).await?)),
        Some(url) if is_postgres_url(url) => open_postgres(url).await,
        Some(other) => Err(StoreError::Location {
            given: mask_url(other),
            reason: "it is not a postgres:// URL".into(),
        }),
    }
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> StoreResult<Arc<dyn Backend>> {
    Ok(Arc::new(crate::PgStore::open(url).await?))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(url: &str) -> StoreResult<Arc<dyn Backend>> {
    Err(StoreError::Location {
        given: mask_url(url),
        reason: "this smartfolio was built without PostgreSQL support; build it with \
                 `--features postgres`"
            .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::mask_url;

    #[test]
    fn passwords_are_masked_wherever_the_url_holds_them() {
        assert_eq!(
            mask_url("postgres://alice:s3cr%40t@db.example:5433/sf"),
            "postgres://alice:***@db.example:5433/sf"
        );
        assert_eq!(
            mask_url("postgresql://bob@localhost/sf?sslmode=require&password=hunter2"),
            "postgresql://bob@localhost/sf?sslmode=require&password=***"
        );
        assert_eq!(
            mask_url("postgres://localhost/sf"),
            "postgres://localhost/sf"
        );
        assert_eq!(mask_url("postgres://a:b:c@h/d"), "postgres://a:***@h/d");
    }
}
