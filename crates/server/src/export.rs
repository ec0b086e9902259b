//! A bot's ledger as a CSV download: `GET /api/bots/{bot}/export?format=…`, the file
//! `smartfolio export --bot B --format …` writes (`smartfolio_node::record`: the generic rows,
//! Koinly's universal CSV, CoinTracker's CSV), from the store's read handle, never as a job of
//! the driver's loop (`crate::reads`).
//!
//! Query: `format` (`generic`, `koinly` or `cointracker`, required), `from` (ms, inclusive),
//! `to` (ms, exclusive, not before `from`). Anything else, and any value out of its range, is refused naming the
//! parameter, the value and what is allowed.

use crate::api::{AppState, BotParam};
use crate::error::ApiError;
use crate::pages::{bot_and_store, range_query};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use smartfolio_node::record::{self, EXPORT_FORMATS, ExportFormat, Which};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

/// The file formats of an export.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // documentation: the handler parses the query itself
pub enum FormatParam {
    /// One row per ledger entry, decimals as stored.
    Generic,
    /// Koinly's universal CSV, one row per transaction.
    Koinly,
    /// CoinTracker's CSV, one row per transaction.
    Cointracker,
}

/// `format`, `from`, `to` of an export (documentation; the handler parses).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// The file format.
    #[param(inline)]
    pub format: FormatParam,
    /// Movements at or after this time (ms).
    #[param(minimum = 0, maximum = 253_402_300_799_999_i64)]
    pub from: Option<i64>,
    /// Movements before this time (ms); not before `from`.
    #[param(minimum = 0, maximum = 253_402_300_799_999_i64)]
    pub to: Option<i64>,
}

/// The bot's ledger movements in `format` (a CSV file, header first; a range without
/// movements is the header alone).
#[utoipa::path(get, path = "/api/bots/{bot}/export", tag = "bots", operation_id = "bot_export",
    params(BotParam, ExportParams),
    responses((status = 200, description = "the CSV file", content_type = "text/csv", body = String)))]
pub async fn export(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    // The bot first: an unknown bot is a 404 whatever the query.
    let (id, store) = bot_and_store(&s, &bot)?;
    let (from_ms, to_ms) = range_query(&q, &["format", "from", "to"])?;
    let format = match q.get("format") {
        Some(f) => ExportFormat::parse(f)?,
        None => return Err(ApiError::invalid("format", "", EXPORT_FORMATS)),
    };
    let rows = record::export_rows(
        Some(store.as_ref()),
        &Which::Bot(id.to_string()),
        from_ms,
        to_ms,
    )
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let text = format.csv(&rows);
    let disposition = format!(
        "attachment; filename=\"smartfolio-bot-{id}-{}.csv\"",
        format.word()
    );
    let mut res = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        )],
        text,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
