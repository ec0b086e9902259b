//! A bot's rebalances, orders and fills as CSV, for the `from`/`to` range the pages take:
//! `GET /api/bots/{bot}/rebalances.csv`, `/orders.csv` and `/fills.csv` (the dashboard's
//! download of its filtered view). Newest first, as the pages; a header row, then one row per
//! item, times as ISO-8601 UTC beside their epoch ms, amounts as the store's decimal strings.
//!
//! The answer streams: the rows are read a page of [`CHUNK`] at a time from the store's read
//! handle by the same keyset as the pages, so neither the server nor the store holds the whole
//! history, and no job runs on the driver's loop. Each page is read in one transaction, and the
//! keyset never repeats or skips a row that existed when the download began; a row recorded
//! during the download is in it only if it sorts after the rows already sent. The query is
//! checked, and the first page read, before the status is sent: a refused query or a store that
//! fails at once is an error answer; a store failure after that aborts the body, so a cut
//! download is never a complete-looking file.

use crate::api::{AppState, BotParam};
use crate::error::ApiError;
use crate::pages::{range_query, store_err};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use smartfolio_bot::RebalanceView;
use smartfolio_store::{BotId, FillRecord, OrderRecord, Page, PageQuery, RebalanceRecord, Store};
use std::collections::HashMap;
use tokio::sync::mpsc;
use utoipa::IntoParams;

/// The rows read per page of a download.
pub const CHUNK: u32 = 500;

/// `from` and `to` of a download (documentation; the handler parses).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeParams {
    /// Items at or after this time (ms).
    #[param(minimum = 0, maximum = 253_402_300_799_999_i64)]
    pub from: Option<i64>,
    /// Items before this time (ms); not before `from`.
    #[param(minimum = 0, maximum = 253_402_300_799_999_i64)]
    pub to: Option<i64>,
}

/// What a download lists: its header, a row per item, and a page of items.
#[async_trait::async_trait]
trait Rows: Sized + Send + 'static {
    const NAME: &'static str;
    const HEADER: &'static [&'static str];
    fn row(self) -> Vec<String>;
    async fn page(store: &dyn Store, bot: BotId, q: &PageQuery) -> Result<Page<Self>, ApiError>;
}

/// An ISO-8601 UTC time with milliseconds.
fn iso(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => String::new(),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

#[async_trait::async_trait]
impl Rows for RebalanceRecord {
    const NAME: &'static str = "rebalances";
    const HEADER: &'static [&'static str] = &[
        "started",
        "started_ms",
        "finished_ms",
        "id",
        "seq",
        "kind",
        "reason",
        "status",
        "value_before",
        "value_after",
        "fees",
        "legs_planned",
        "legs_filled",
    ];
    fn row(self) -> Vec<String> {
        let v = RebalanceView::from(self);
        let s = v.summary.as_ref();
        vec![
            iso(v.started_ms),
            v.started_ms.to_string(),
            opt(v.finished_ms),
            v.id.to_string(),
            v.seq.to_string(),
            v.kind,
            v.reason,
            v.status,
            opt(s.map(|s| s.value_before)),
            opt(s.and_then(|s| s.value_after)),
            opt(s.map(|s| s.fees)),
            opt(s.map(|s| s.legs_planned)),
            opt(s.map(|s| s.legs_filled)),
        ]
    }
    async fn page(store: &dyn Store, bot: BotId, q: &PageQuery) -> Result<Page<Self>, ApiError> {
        store.rebalance_page(bot, q).await.map_err(store_err)
    }
}

#[async_trait::async_trait]
impl Rows for OrderRecord {
    const NAME: &'static str = "orders";
    const HEADER: &'static [&'static str] = &[
        "created",
        "created_ms",
        "client_id",
        "rebalance_id",
        "leg",
        "side",
        "base",
        "quote",
        "kind",
        "quantity",
        "limit_price",
        "filled_quantity",
        "status",
        "venue_order_id",
        "error",
        "updated_ms",
    ];
    fn row(self) -> Vec<String> {
        vec![
            iso(self.created_ms),
            self.created_ms.to_string(),
            self.client_id,
            self.rebalance_id.to_string(),
            self.leg.to_string(),
            self.side,
            self.base,
            self.quote,
            self.kind,
            self.quantity.to_string(),
            opt(self.limit_price),
            self.filled_quantity.to_string(),
            self.status.to_string(),
            opt(self.venue_order_id),
            opt(self.error),
            self.updated_ms.to_string(),
        ]
    }
    async fn page(store: &dyn Store, bot: BotId, q: &PageQuery) -> Result<Page<Self>, ApiError> {
        store.order_page(bot, q).await.map_err(store_err)
    }
}

#[async_trait::async_trait]
impl Rows for FillRecord {
    const NAME: &'static str = "fills";
    const HEADER: &'static [&'static str] = &[
        "time",
        "time_ms",
        "fill_id",
        "client_id",
        "side",
        "base",
        "quote",
        "quantity",
        "price",
        "quote_value",
        "fee",
        "fee_asset",
    ];
    fn row(self) -> Vec<String> {
        let value: Decimal = self.quantity * self.price;
        vec![
            iso(self.time_ms),
            self.time_ms.to_string(),
            self.fill_id,
            self.client_id,
            self.side,
            self.base,
            self.quote,
            self.quantity.to_string(),
            self.price.to_string(),
            value.normalize().to_string(),
            self.fee.to_string(),
            self.fee_asset,
        ]
    }
    async fn page(store: &dyn Store, bot: BotId, q: &PageQuery) -> Result<Page<Self>, ApiError> {
        store.fill_page(bot, q).await.map_err(store_err)
    }
}

/// Rows as CSV text (fields quoted where they need it).
fn csv_text(rows: impl IntoIterator<Item = Vec<String>>) -> Result<Bytes, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r)
            .map_err(|e| ApiError::internal(format!("CSV: {e}")))?;
    }
    let out = w
        .into_inner()
        .map_err(|e| ApiError::internal(format!("CSV: {e}")))?;
    Ok(Bytes::from(out))
}

/// The download of `T` for the query `q`: checked, the first page read, then streamed.
async fn download<T: Rows>(
    s: AppState,
    bot: String,
    q: HashMap<String, String>,
) -> Result<Response, ApiError> {
    let (from_ms, to_ms) = range_query(&q, &["from", "to"])?;
    let reads = &s.handle.reads;
    let id = reads.resolve(&bot)?;
    let store = reads.store.clone();
    let mut query = PageQuery {
        limit: CHUNK,
        before: None,
        from_ms,
        to_ms,
    };
    let first = T::page(&*store, id, &query).await?;
    let head = csv_text(std::iter::once(
        T::HEADER.iter().map(|h| h.to_string()).collect(),
    ))?;
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::spawn(async move {
        if tx.send(Ok(head)).await.is_err() {
            return;
        }
        let mut page = first;
        loop {
            let next = page.next.take();
            let chunk = csv_text(page.items.into_iter().map(T::row));
            let sent = match chunk {
                Ok(b) => tx.send(Ok(b)).await,
                Err(e) => tx.send(Err(std::io::Error::other(e.message))).await,
            };
            // The client went away, or the body was aborted.
            if sent.is_err() {
                return;
            }
            let Some(before) = next else { return };
            query.before = Some(before);
            page = match T::page(&*store, id, &query).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(bot = id, "CSV download of {}: {}", T::NAME, e.message);
                    let _ = tx.send(Err(std::io::Error::other(e.message))).await;
                    return;
                }
            };
        }
    });
    let file = format!("bot-{id}-{}.csv", T::NAME);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)),
    )
        .into_response())
}

/// The bot's rebalances of the range as CSV, newest first.
#[utoipa::path(get, path = "/api/bots/{bot}/rebalances.csv", tag = "bots",
    operation_id = "bot_rebalances_csv",
    params(BotParam, RangeParams),
    responses((status = 200, description = "the rebalances of the range, newest first: a header row, then one row per rebalance", content_type = "text/csv", body = String)))]
pub async fn rebalances_csv(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    download::<RebalanceRecord>(s, bot, q).await
}

/// The bot's orders of the range as CSV, newest first.
#[utoipa::path(get, path = "/api/bots/{bot}/orders.csv", tag = "bots",
    operation_id = "bot_orders_csv",
    params(BotParam, RangeParams),
    responses((status = 200, description = "the orders of the range, newest first: a header row, then one row per order", content_type = "text/csv", body = String)))]
pub async fn orders_csv(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    download::<OrderRecord>(s, bot, q).await
}

/// The bot's fills of the range as CSV, newest first.
#[utoipa::path(get, path = "/api/bots/{bot}/fills.csv", tag = "bots",
    operation_id = "bot_fills_csv",
    params(BotParam, RangeParams),
    responses((status = 200, description = "the fills of the range, newest first: a header row, then one row per fill", content_type = "text/csv", body = String)))]
pub async fn fills_csv(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    download::<FillRecord>(s, bot, q).await
}
