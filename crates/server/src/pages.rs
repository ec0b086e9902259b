//! A bot's history by page: `GET /api/bots/{bot}/rebalances`, `/orders` and `/fills`, newest
//! first, with the total of the filtered range and the cursor of the next (older) page. Each
//! answer reads one page from the store's read handle (`Store::rebalance_page` ...), never the
//! whole history, and never as a job of the driver's loop: the bot is resolved from what the
//! loop published (`crate::reads`).
//!
//! Query: `limit` (1 to [`PAGE_LIMIT`], default [`PAGE_DEFAULT`]), `before` (the `next` of the
//! page before: `TIME:ID`), `from` (ms, inclusive), `to` (ms, exclusive, not before `from`).
//! Anything else, and any value out of its range, is refused naming the parameter, the value
//! and what is allowed.

use crate::api::{AppState, BotParam};
use crate::error::ApiError;
use crate::reads::{json_answer, json_bytes};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Serialize;
use smartfolio_bot::{BotError, RebalanceView};
use smartfolio_store::{BotId, Cursor, CursorId, FillRecord, OrderRecord, Page, PageQuery, Store};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// The largest page.
pub const PAGE_LIMIT: u32 = 500;
/// The page size when `limit` is not given.
pub const PAGE_DEFAULT: u32 = 50;
/// The largest time a query names (ms: the end of year 9999 UTC).
pub const MAX_TIME_MS: i64 = 253_402_300_799_999;

/// An integer query parameter from `min` to `max`, as JSON Schema reads integers (digits, or
/// digits with a zero fraction such as `5.0`); none when absent.
pub fn int_param(
    q: &HashMap<String, String>,
    key: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, ApiError> {
    let Some(v) = q.get(key) else {
        return Ok(None);
    };
    let digits = match v.split_once('.') {
        Some((int, frac)) if !frac.is_empty() && frac.bytes().all(|b| b == b'0') => int,
        _ => v.as_str(),
    };
    match digits.parse::<i64>() {
        Ok(n) if digits.bytes().all(|b| b.is_ascii_digit()) && (min..=max).contains(&n) => {
            Ok(Some(n))
        }
        _ => Err(ApiError::invalid(
            key,
            v.clone(),
            format!("an integer from {min} to {max}"),
        )),
    }
}

/// Refuse a parameter not in `known`, naming it and listing the known ones.
pub fn only_params(q: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match q.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ApiError::invalid(
            k.clone(),
            q[k].clone(),
            format!("the query parameters {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// `from` and `to` (ms) of a query whose parameters are `known`: each from 0 to
/// [`MAX_TIME_MS`], and `to` not before `from`.
pub(crate) fn range_query(
    q: &HashMap<String, String>,
    known: &[&str],
) -> Result<(Option<i64>, Option<i64>), ApiError> {
    only_params(q, known)?;
    let from_ms = int_param(q, "from", 0, MAX_TIME_MS)?;
    let to_ms = int_param(q, "to", 0, MAX_TIME_MS)?;
    if let (Some(f), Some(t)) = (from_ms, to_ms)
        && t < f
    {
        return Err(ApiError::invalid(
            "to",
            q["to"].clone(),
            format!("a time (ms) at or after `from` ({f}), up to {MAX_TIME_MS}"),
        ));
    }
    Ok((from_ms, to_ms))
}

/// The page a query asks for.
fn page_query(q: &HashMap<String, String>, ids: CursorId) -> Result<PageQuery, ApiError> {
    let (from_ms, to_ms) = range_query(q, &["limit", "before", "from", "to"])?;
    let limit = int_param(q, "limit", 1, i64::from(PAGE_LIMIT))?.map_or(PAGE_DEFAULT, |n| n as u32);
    let before = match q.get("before") {
        None => None,
        Some(v) => Some(Cursor::parse(v, ids).ok_or_else(|| {
            let id = match ids {
                CursorId::Integer => "the rebalance's id",
                CursorId::Text => "the item's id (1 to 200 characters)",
            };
            ApiError::invalid(
                "before",
                v.clone(),
                format!(
                    "the `next` of the page before: TIME:ID, TIME in ms (1 to 15 digits), ID {id}"
                ),
            )
        })?),
    };
    Ok(PageQuery {
        limit,
        before,
        from_ms,
        to_ms,
    })
}

/// The `next` of an answer: `TIME:ID`.
fn next_text(c: Option<Cursor>) -> Option<String> {
    c.map(|c| c.to_string())
}

/// A page read from the store as the answers show it: its items, its total and the `before`
/// of the next page.
fn parts<T>(
    read: Result<Page<T>, smartfolio_store::StoreError>,
) -> Result<(Vec<T>, u64, Option<String>), ApiError> {
    let p = read.map_err(store_err)?;
    Ok((p.items, p.total, next_text(p.next)))
}

/// `limit`, `before`, `from`, `to` of the rebalance pages (documentation; the handler parses).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RebalancePageParams {
    /// At most this many rebalances (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next` of the page before (`TIME:ID`): the rebalances strictly older.
    #[param(pattern = r"^[0-9]{1,15}:[0-9]{1,18}$")]
    pub before: Option<String>,
    /// Rebalances started at or after this time (ms).
    #[param(minimum = 0, maximum = 253_402_300_799_999_i64)]
    pub from: Option<i64>,
    /// Rebalances started before this time (ms); not before `from`.
    #[param(minimum = 0, maximum = 253_402_300_799_999_i64)]
    pub to: Option<i64>,
}

/// `limit`, `before`, `from`, `to` of the order and fill pages (documentation).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// At most this many items (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next` of the page before (`TIME:ID`): the items strictly older.
    #[param(pattern = r"^[0-9]{1,15}:.{1,200}$")]
    pub before: Option<String>,
    /// Items at or after this time (ms).
    #[param(minimum = 0, maximum = 253_402_300_799_999_i64)]
    pub from: Option<i64>,
    /// Items before this time (ms); not before `from`.
    #[param(minimum = 0, maximum = 253_402_300_799_999_i64)]
    pub to: Option<i64>,
}

/// `GET /api/bots/{bot}/rebalances`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RebalancePage {
    /// Newest first by start time (then id).
    pub items: Vec<RebalanceView>,
    /// The rebalances of the `from`/`to` range, all pages together.
    pub total: u64,
    /// `before` of the next (older) page; none on the last.
    pub next: Option<String>,
}

/// `GET /api/bots/{bot}/orders`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    /// Newest first by creation time (then client id).
    pub items: Vec<OrderRecord>,
    /// The orders of the `from`/`to` range, all pages together.
    pub total: u64,
    /// `before` of the next (older) page; none on the last.
    pub next: Option<String>,
}

/// `GET /api/bots/{bot}/fills`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FillPage {
    /// Newest first by time (then fill id).
    pub items: Vec<FillRecord>,
    /// The fills of the `from`/`to` range, all pages together.
    pub total: u64,
    /// `before` of the next (older) page; none on the last.
    pub next: Option<String>,
}

/// The bot's id and the store's read handle, from what the loop published (`crate::reads`):
/// the page is read without a job on the loop.
pub(crate) fn bot_and_store(s: &AppState, bot: &str) -> Result<(BotId, Arc<dyn Store>), ApiError> {
    let reads = &s.handle.reads;
    Ok((reads.resolve(bot)?, reads.store.clone()))
}

pub(crate) fn store_err(e: smartfolio_store::StoreError) -> ApiError {
    ApiError::from(BotError::from(e))
}

/// The page of `route` asked for, read by `read` off the loop and shared by the readers of one
/// publication (`Reads::shared`), as JSON.
async fn shared_page<T, F, Fut>(
    route: &str,
    (s, bot, q, ids): (&AppState, String, &HashMap<String, String>, CursorId),
    read: F,
) -> Result<Response, ApiError>
where
    T: Serialize,
    F: FnOnce(Arc<dyn Store>, BotId, PageQuery) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let (page, id, store) = ask(s, bot, q, ids).await?;
    let key = format!("{route}:{id}:{page:?}");
    let body = s
        .handle
        .reads
        .shared(
            key,
            || async move { json_bytes(&read(store, id, page).await?) },
        )
        .await?;
    Ok(json_answer(body))
}

/// The page asked for, the bot's id and the store.
async fn ask(
    s: &AppState,
    bot: String,
    q: &HashMap<String, String>,
    ids: CursorId,
) -> Result<(PageQuery, BotId, Arc<dyn Store>), ApiError> {
    let page = page_query(q, ids)?;
    let (id, store) = bot_and_store(s, &bot)?;
    Ok((page, id, store))
}

/// A page of the bot's rebalances, newest first, with their total.
#[utoipa::path(get, path = "/api/bots/{bot}/rebalances", tag = "bots",
    operation_id = "bot_rebalances",
    params(BotParam, RebalancePageParams),
    responses((status = 200, description = "a page of rebalances, newest first", body = RebalancePage)))]
pub async fn rebalances(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let ask = (&s, bot, &q, CursorId::Integer);
    shared_page("rebalances", ask, |store, id, page| async move {
        let (items, total, next) = parts(store.rebalance_page(id, &page).await)?;
        let items = items.into_iter().map(RebalanceView::from).collect();
        Ok(RebalancePage { items, total, next })
    })
    .await
}

/// A page of the bot's orders, newest first, with their total.
#[utoipa::path(get, path = "/api/bots/{bot}/orders", tag = "bots", operation_id = "bot_orders",
    params(BotParam, PageParams),
    responses((status = 200, description = "a page of orders, newest first", body = OrderPage)))]
pub async fn orders(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let ask = (&s, bot, &q, CursorId::Text);
    shared_page("orders", ask, |store, id, page| async move {
        let (items, total, next) = parts(store.order_page(id, &page).await)?;
        Ok(OrderPage { items, total, next })
    })
    .await
}

/// A page of the bot's fills, newest first, with their total.
#[utoipa::path(get, path = "/api/bots/{bot}/fills", tag = "bots", operation_id = "bot_fills",
    params(BotParam, PageParams),
    responses((status = 200, description = "a page of fills, newest first", body = FillPage)))]
pub async fn fills(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let ask = (&s, bot, &q, CursorId::Text);
    shared_page("fills", ask, |store, id, page| async move {
        let (items, total, next) = parts(store.fill_page(id, &page).await)?;
        Ok(FillPage { items, total, next })
    })
    .await
}
