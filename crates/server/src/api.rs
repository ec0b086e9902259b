//! The router: JSON API, previews, OpenAPI document, metrics, live events and the dashboard.
//!
//! Every handler carries its OpenAPI operation (`#[utoipa::path]`: path, request body, success
//! response type, security); [`api_router`] registers each once, and both the axum router and
//! the OpenAPI document ([`crate::openapi`]) come from that one registration, so a route cannot
//! be served undocumented or documented unserved.

use crate::actor::{Core, RuntimeHandle};
use crate::auth::TokenCheck;
use crate::error::ApiError;
use crate::pages::{int_param, only_params};
use crate::preview::{
    self, AllocationPreview, AllocationRequest, BacktestPreview, BacktestRequest, ControlRequest,
    CreateRequest, InvestRequest, ModifyRequest, PlanPreview, RebalanceRequest, StopRequest,
    WithdrawRequest,
};
use crate::reads::{Board, json_answer, json_bytes, market_state};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use rust_decimal::Decimal;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use smartfolio_bot::{
    BotSummary, BotView, RebalanceSummary, RebalanceView, StopReport, WithdrawView,
};
use smartfolio_node::{Reply, Request as NodeRequest};
use smartfolio_store::{
    BotId, FillRecord, FlowRecord, OrderRecord, PageQuery, SeriesQuery, Snapshot,
};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::{BroadcastStream, WatchStream};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest request body accepted (bigger ones get 413).
pub const BODY_LIMIT: usize = 64 * 1024;

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub handle: RuntimeHandle,
    pub token: Arc<TokenCheck>,
    /// `demo`, `daemon`, `test`: shown on the dashboard.
    pub mode: Arc<str>,
    /// The node's venue, market and trading mode: shown on the dashboard.
    pub node: Arc<NodeInfo>,
    /// Turns true when the server stops: the live event streams end then, so a stop is not
    /// held by an open dashboard.
    pub closing: tokio::sync::watch::Receiver<bool>,
    /// `smartfolio serve`: the bots are the store's, read without a market or a venue, and the
    /// commands are queued for the process that trades them (`None`: they run on the loop).
    pub queue: Option<Arc<crate::reader::Queue>>,
}

/// What the node's bots trade on, as `GET /api/status` and the dashboard show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// `paper` or `binance`.
    pub venue: String,
    /// `synthetic`, `replay` or `live`.
    pub market: String,
    /// `paper`, `dry_run` or `live`.
    pub trading: String,
}

impl NodeInfo {
    pub fn of(cfg: &smartfolio_node::NodeConfig) -> Self {
        Self {
            venue: cfg.venue.kind.name().into(),
            market: cfg.market.kind.name().into(),
            trading: cfg.trading_mode().name().into(),
        }
    }
}

impl Default for NodeInfo {
    /// The paper exchange on a synthetic market.
    fn default() -> Self {
        Self {
            venue: "paper".into(),
            market: "synthetic".into(),
            trading: "paper".into(),
        }
    }
}

/// Every operation, registered once: the router and the OpenAPI document both come from here.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::base())
        .routes(routes!(index))
        .routes(routes!(app_js))
        .routes(routes!(app_css))
        .routes(routes!(openapi))
        .routes(routes!(metrics))
        .routes(routes!(events))
        .routes(routes!(status))
        .routes(routes!(list, create))
        .routes(routes!(show))
        .routes(routes!(history))
        .routes(routes!(crate::profile::export))
        .routes(routes!(crate::pages::rebalances))
        .routes(routes!(crate::pages::orders))
        .routes(routes!(crate::pages::fills))
        .routes(routes!(crate::export::export))
        .routes(routes!(crate::download::rebalances_csv))
        .routes(routes!(crate::download::orders_csv))
        .routes(routes!(crate::download::fills_csv))
        .routes(routes!(invest))
        .routes(routes!(withdraw))
        .routes(routes!(modify))
        .routes(routes!(rebalance))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(stop))
        .routes(routes!(preview_control))
        .routes(routes!(preview_create))
        .routes(routes!(preview_allocation))
        .routes(routes!(preview_backtest))
        .routes(routes!(crate::profile::preview))
        .routes(routes!(templates))
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let (app, _doc) = api_router().split_for_parts();
    app.fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route {method} {}: see /api/openapi.json",
        uri.path()
    ))
    .with_field("path")
}

async fn wrong_method(method: Method, uri: Uri) -> Response {
    let allowed = crate::openapi::methods_of(uri.path()).join(", ");
    let err = ApiError {
        status: 405,
        field: Some("method".into()),
        value: Some(method.to_string()),
        allowed: Some(allowed.clone()),
        message: format!("{method} is not allowed on {}", uri.path()),
    };
    match HeaderValue::from_str(&allowed) {
        Ok(v) => ([(header::ALLOW, v)], err).into_response(),
        Err(_) => err.into_response(),
    }
}

// ------------------------------------------------------------------------------ extractors

/// The bearer token of mutating routes.
pub struct Auth;

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(h) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "missing bearer token: send `Authorization: Bearer <token>` (the token was \
                 printed when the server first started)",
            ));
        };
        let text = h.to_str().unwrap_or("");
        let token = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "));
        match token {
            Some(t) if state.token.verify(t) => Ok(Auth),
            Some(_) => Err(ApiError::unauthorized("invalid bearer token")),
            None => Err(ApiError::unauthorized(
                "the authorization header must be `Bearer <token>`",
            )),
        }
    }
}

/// A JSON request body decoded into `T`, with every error as an [`ApiError`]: 400 malformed,
/// 413 too large, 415 not JSON, 422 a field of the wrong type, unknown, missing or out of the
/// grammar, naming the field (its path), the value as given and what is allowed.
pub struct ApiJson<T>(pub T);

/// A request body type: how it is decoded from the body's JSON.
pub trait Decode: Sized {
    fn decode(body: &Value) -> Result<Self, ApiError>;
}

macro_rules! decode_with_serde {
    ($($t:ty),*) => {$(
        impl Decode for $t {
            fn decode(body: &Value) -> Result<Self, ApiError> {
                decode(body)
            }
        }
    )*};
}

decode_with_serde!(
    CreateRequest,
    InvestRequest,
    WithdrawRequest,
    ModifyRequest,
    RebalanceRequest,
    StopRequest,
    AllocationRequest,
    BacktestRequest,
    preview::NoFields,
    crate::profile::ProfileUpload
);

impl Decode for ControlRequest {
    fn decode(body: &Value) -> Result<Self, ApiError> {
        const ACTIONS: &str = "one of invest, withdraw, modify, rebalance, pause, resume, stop";
        let Value::Object(map) = body else {
            return Err(ApiError::invalid(
                "body",
                as_given(body),
                "a JSON object (the ControlRequest schema in /api/openapi.json)",
            ));
        };
        let action = match map.get("action") {
            Some(Value::String(a)) => a.as_str(),
            Some(other) => return Err(ApiError::invalid("action", other.to_string(), ACTIONS)),
            None => return Err(ApiError::invalid("action", "", ACTIONS)),
        };
        let mut rest = map.clone();
        rest.remove("action");
        let rest = Value::Object(rest);
        Ok(match action {
            "invest" => ControlRequest::Invest(decode(&rest)?),
            "withdraw" => ControlRequest::Withdraw(decode(&rest)?),
            "modify" => ControlRequest::Modify(decode(&rest)?),
            "rebalance" => ControlRequest::Rebalance(decode(&rest)?),
            "stop" => ControlRequest::Stop(decode(&rest)?),
            "pause" | "resume" => {
                decode::<preview::NoFields>(&rest)?;
                if action == "pause" {
                    ControlRequest::Pause
                } else {
                    ControlRequest::Resume
                }
            }
            other => return Err(ApiError::invalid("action", other, ACTIONS)),
        })
    }
}

impl<T: Decode, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Json(body) = Json::<Value>::from_request(req, state)
            .await
            .map_err(json_error)?;
        T::decode(&body).map(ApiJson)
    }
}

/// `T` from `body` (a JSON object) through serde, an error naming the field's path. Every
/// body is an object: serde would also read a struct from an array, by position.
pub fn decode<T: DeserializeOwned>(body: &Value) -> Result<T, ApiError> {
    if !body.is_object() {
        return Err(ApiError::invalid(
            "body",
            as_given(body),
            format!(
                "a JSON object (the {} schema in /api/openapi.json)",
                std::any::type_name::<T>()
                    .rsplit("::")
                    .next()
                    .unwrap_or("request")
            ),
        ));
    }
    serde_path_to_error::deserialize(body).map_err(|e| data_error(body, &e))
}

/// The field path (`a.b[2]`) of an error and the JSON found there.
fn locate<'a>(
    body: &'a Value,
    path: &serde_path_to_error::Path,
) -> (Vec<String>, Option<&'a Value>) {
    use serde_path_to_error::Segment;
    let mut names = Vec::new();
    let mut at = Some(body);
    for seg in path.iter() {
        match seg {
            Segment::Map { key } => {
                at = at.and_then(|v| v.get(key));
                names.push(key.clone());
            }
            Segment::Seq { index } => {
                at = at.and_then(|v| v.get(index));
                match names.last_mut() {
                    Some(last) => last.push_str(&format!("[{index}]")),
                    None => names.push(format!("[{index}]")),
                }
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    (names, at)
}

/// A value as the client wrote it: a string's text, any other JSON as JSON.
fn as_given(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What serde expected, in the API's words.
fn plain_expected(expected: &str) -> String {
    let e = expected.trim();
    match e {
        "usize" | "u64" | "u32" | "u16" | "u8" => "an integer ≥ 0".into(),
        "i64" | "i32" => "an integer".into(),
        "a string" => "a JSON string".into(),
        "a sequence" => "a JSON array".into(),
        "a boolean" => "true or false".into(),
        _ => match e.strip_prefix("struct ") {
            Some(name) => format!("a JSON object (the {name} schema in /api/openapi.json)"),
            None => e.to_string(),
        },
    }
}

fn backticked(s: &str) -> Option<&str> {
    let start = s.find('`')? + 1;
    let len = s[start..].find('`')?;
    Some(&s[start..start + len])
}

fn data_error(body: &Value, e: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let message = e.inner().to_string();
    let (mut names, at) = locate(body, e.path());
    let (field, value, allowed);
    if let Some(rest) = message.strip_prefix("missing field ") {
        names.push(backticked(rest).unwrap_or(rest).to_string());
        field = names.join(".");
        value = String::new();
        allowed = format!("a value: `{field}` is required");
    } else if let Some(rest) = message.strip_prefix("unknown field ") {
        let key = backticked(rest).unwrap_or(rest).to_string();
        if names.last() != Some(&key) {
            names.push(key.clone());
        }
        field = names.join(".");
        let given = at.and_then(|v| v.get(&key)).or(at);
        value = given.map(as_given).unwrap_or_default();
        allowed = match rest.split_once(", expected ") {
            Some((_, fields)) => format!("only the fields {fields}"),
            None => "no fields".into(),
        };
    } else {
        field = if names.is_empty() {
            "body".into()
        } else {
            names.join(".")
        };
        value = at.map(as_given).unwrap_or_default();
        allowed = match message.rsplit_once(", expected ") {
            Some((_, exp)) => plain_expected(exp),
            None => message.clone(),
        };
    }
    ApiError {
        status: 422,
        field: Some(field.clone()),
        value: Some(value),
        allowed: Some(allowed),
        message: format!("invalid {field}: {message}"),
    }
}

fn json_error(rej: JsonRejection) -> ApiError {
    let status = rej.status();
    let text = rej.body_text();
    let detail = text
        .split_once(": ")
        .map(|(_, d)| d.to_string())
        .unwrap_or_else(|| text.clone());
    match rej {
        JsonRejection::JsonSyntaxError(_) | JsonRejection::JsonDataError(_) => ApiError {
            status: 400,
            field: Some("body".into()),
            value: None,
            allowed: Some("a JSON document".into()),
            message: format!("malformed JSON: {detail}"),
        },
        JsonRejection::MissingJsonContentType(_) => ApiError {
            status: 415,
            field: Some("content-type".into()),
            value: None,
            allowed: Some("application/json".into()),
            message: "send the body as JSON with `Content-Type: application/json`".into(),
        },
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => ApiError {
            status: 413,
            field: Some("body".into()),
            value: None,
            allowed: Some(format!("at most {BODY_LIMIT} bytes")),
            message: format!("request body too large (limit {BODY_LIMIT} bytes)"),
        },
        _ => ApiError {
            status: if status.is_client_error() {
                status.as_u16()
            } else {
                400
            },
            field: Some("body".into()),
            value: None,
            allowed: None,
            message: text,
        },
    }
}

// -------------------------------------------------------------------------------- helpers

pub(crate) async fn call<R, F>(state: &AppState, f: F) -> Result<R, ApiError>
where
    R: Send + 'static,
    F: for<'a> FnOnce(&'a mut Core) -> crate::actor::BoxFut<'a, Result<R, ApiError>>
        + Send
        + 'static,
{
    state.handle.call(f).await?
}

/// [`call`] for a job that changes no bot (`RuntimeHandle::read`).
pub(crate) async fn read<R, F>(state: &AppState, f: F) -> Result<R, ApiError>
where
    R: Send + 'static,
    F: for<'a> FnOnce(&'a mut Core) -> crate::actor::BoxFut<'a, Result<R, ApiError>>
        + Send
        + 'static,
{
    state.handle.read(f).await?
}

fn json_ok<T: serde::Serialize>(v: T) -> Response {
    Json(v).into_response()
}

// ------------------------------------------------------------------------ response bodies

/// A price of the last tick.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PriceView {
    pub asset: String,
    pub price: Decimal,
}

/// A balance of the venue account (all bots and the unallocated rest).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BalanceView {
    pub asset: String,
    pub free: Decimal,
    pub locked: Decimal,
}

/// `GET /api/status`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusView {
    /// `demo`, `daemon` or `test`.
    pub mode: String,
    /// The venue the bots trade on: `paper` or `binance`.
    pub venue: String,
    /// The market that prices them: `synthetic`, `replay` or `live` (the venue's prices).
    pub market: String,
    /// What their orders do: `paper` (the paper exchange on a synthetic or replayed market),
    /// `dry_run` (the paper exchange on a venue's live prices) or `live` (real orders).
    pub trading: String,
    pub account: String,
    pub quote: String,
    pub fee_rate: Decimal,
    /// Market time of the last tick (none before the first).
    pub market_time_ms: Option<i64>,
    pub ticks: u64,
    /// The assets the market prices (and allocation methods and backtests may use).
    pub assets: Vec<String>,
    pub prices: Vec<PriceView>,
    pub history_bars: usize,
    pub bar_ms: i64,
    pub balances: Vec<BalanceView>,
    pub methods: Vec<String>,
    pub version: String,
}

/// `GET /api/bots`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BotList {
    pub bots: Vec<BotSummary>,
    /// Sum of the values of the bots that are not stopped.
    pub total_value: Decimal,
    pub total_pnl: Decimal,
    /// The same sums by venue and account, in the order the bots list them.
    pub by_venue: Vec<VenueTotal>,
    pub quote: String,
    pub market_time_ms: Option<i64>,
}

/// The bots of one venue account that are not stopped, summed (`GET /api/bots`' `by_venue`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct VenueTotal {
    pub venue: String,
    pub account: String,
    /// How many of the account's bots are not stopped.
    pub bots: u64,
    pub value: Decimal,
    pub pnl: Decimal,
}

impl VenueTotal {
    /// Each venue account's totals over the bots that are not stopped, in the bots' order.
    pub fn of(bots: &[BotSummary]) -> Vec<VenueTotal> {
        let mut out: Vec<VenueTotal> = Vec::new();
        for b in bots.iter().filter(|b| b.status != "stopped") {
            let i = match out
                .iter()
                .position(|t| t.venue == b.venue && t.account == b.account)
            {
                Some(i) => i,
                None => {
                    out.push(VenueTotal {
                        venue: b.venue.clone(),
                        account: b.account.clone(),
                        bots: 0,
                        value: Decimal::ZERO,
                        pnl: Decimal::ZERO,
                    });
                    out.len() - 1
                }
            };
            let t = &mut out[i];
            t.bots += 1;
            t.value += b.value.unwrap_or_default();
            t.pnl += b.pnl.unwrap_or_default();
        }
        out
    }
}

/// `POST /api/bots`: the bot, and its deploy (or why the deploy did not run yet).
#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub bot: BotView,
    pub deploy: Option<RebalanceSummary>,
    pub deploy_error: Option<String>,
}

/// `POST /api/bots/{bot}/invest`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invested {
    /// The rebalance a running bot made with the new cash.
    pub rebalance: Option<RebalanceSummary>,
    pub bot: BotView,
}

/// `POST /api/bots/{bot}/withdraw`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Withdrawn {
    pub withdrawal: WithdrawView,
    pub bot: BotView,
}

/// `POST /api/bots/{bot}/rebalance`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rebalanced {
    /// The rebalance made now (none when nothing could trade: nothing was recorded).
    pub rebalance: Option<RebalanceSummary>,
    /// Why nothing traded, when `rebalance` is none (on target, or every leg below the venue's
    /// minimums or the bot's cash).
    pub note: Option<String>,
    pub bot: BotView,
}

/// `POST /api/bots/{bot}/stop`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stopped {
    pub report: StopReport,
    pub bot: BotView,
}

/// `GET /api/bots/{bot}/history`.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub bot: BotSummary,
    pub rebalances: Vec<smartfolio_bot::RebalanceView>,
    pub orders: Vec<OrderRecord>,
    pub fills: Vec<FillRecord>,
    pub flows: Vec<FlowRecord>,
    pub snapshots: Vec<Snapshot>,
}

/// The largest `last` and `points` of the history.
pub const HISTORY_LIMIT: usize = 10_000;
/// `last` and `points` when not given: the history is never read whole.
pub const HISTORY_DEFAULT: usize = 1_000;

/// `?last=N` keeps the last N rebalances, orders, fills and flows (default 1,000); `?points=N`
/// thins the value snapshots to at most N (default 1,000), one per equal time span (the newest
/// kept), in the store's query. Nothing else is accepted.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Keep the last N rebalances, orders, fills and flows (default 1,000).
    #[param(minimum = 1, maximum = 10_000)]
    pub last: Option<usize>,
    /// Thin the value snapshots to at most N (default 1,000): the range cut into N equal time
    /// spans, the last snapshot of each (so the newest is kept).
    #[param(minimum = 1, maximum = 10_000)]
    pub points: Option<usize>,
}

// -------------------------------------------------------------------------------- handlers

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// The dashboard (single page).
#[utoipa::path(get, path = "/", tag = "dashboard", operation_id = "dashboard",
    responses((status = 200, description = "the page", content_type = "text/html", body = String)))]
async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// The dashboard's script.
#[utoipa::path(get, path = "/assets/app.js", tag = "dashboard", operation_id = "dashboard_script",
    responses((status = 200, description = "the script", content_type = "text/javascript", body = String)))]
async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// The dashboard's style sheet.
#[utoipa::path(get, path = "/assets/app.css", tag = "dashboard", operation_id = "dashboard_style",
    responses((status = 200, description = "the style sheet", content_type = "text/css", body = String)))]
async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta", operation_id = "openapi",
    responses((status = 200, description = "the OpenAPI 3.1 document", body = Value)))]
async fn openapi() -> Response {
    json_ok(crate::openapi::document())
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "meta", operation_id = "metrics",
    responses((status = 200, description = "Prometheus text exposition 0.0.4", content_type = "text/plain", body = String)))]
async fn metrics(State(s): State<AppState>) -> Result<Response, ApiError> {
    let board = board(&s).await?;
    let text = s.handle.metrics.render(&board.by_state);
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}

/// The name of a server-sent event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventName {
    /// First, on connecting (data `{}`).
    Hello,
    /// A market tick: prices and every bot's value.
    Tick,
    /// A bot was created or changed state (`status`, `previous`, `reason`).
    State,
    /// A rebalance started (`status` `open`) or was closed (its final `status`, `fees`).
    Rebalance,
    /// An order's outcome as execution left it.
    Order,
    /// A venue fill applied to a bot's ledger.
    Fill,
}

/// One server-sent event: its name and its data, one JSON object.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventItem {
    pub event: EventName,
    #[schema(content_media_type = "application/json")]
    pub data: String,
}

/// Live updates: server-sent events `hello`, then `tick`, `state`, `rebalance`, `order` and
/// `fill` as they happen (each `data:` is one JSON object). The stream does not end.
#[utoipa::path(get, path = "/api/events", tag = "meta", operation_id = "events",
    responses((status = 200, description = "an endless event stream", content_type = "text/event-stream", body = EventItem)))]
async fn events(
    State(s): State<AppState>,
) -> Sse<impl tokio_stream::Stream<Item = Result<SseEvent, Infallible>>> {
    // The events, ended by the server's stop (a `None`).
    let closing = WatchStream::new(s.closing.clone()).filter_map(|c| c.then_some(None));
    let stream = BroadcastStream::new(s.handle.subscribe())
        .filter_map(|e| e.ok().map(Some))
        .merge(closing)
        .take_while(Option::is_some)
        .filter_map(|e| {
            e.map(|e| {
                Ok(SseEvent::default()
                    .event(e.kind)
                    .data(serde_json::to_string(&e.data).unwrap_or_else(|_| "null".into())))
            })
        });
    let hello = tokio_stream::once(Ok(SseEvent::default().event("hello").data("{}")));
    Sse::new(hello.chain(stream)).keep_alive(KeepAlive::default())
}

/// Market time, assets and prices, account balances, allocation methods.
#[utoipa::path(get, path = "/api/status", tag = "meta", operation_id = "status",
    responses((status = 200, description = "the server's market and account", body = StatusView)))]
async fn status(State(s): State<AppState>) -> Result<Json<StatusView>, ApiError> {
    // The market as the loop last published it (computed by a job when it has not since it
    // was last read); the balances read here, off the loop (`Reads::balances`).
    let reads = &s.handle.reads;
    let m = match reads.market() {
        Some(m) => m,
        None => {
            read(&s, |c| {
                Box::pin(async move {
                    let m = Arc::new(market_state(c));
                    c.reads.put_market(m.clone());
                    Ok(m)
                })
            })
            .await?
        }
    };
    // Serving the store: no venue is asked (the account's balances are the worker's to read).
    let balances = match s.queue {
        Some(_) => Arc::default(),
        None => reads
            .balances()
            .await
            .map_err(|e| ApiError::unavailable(format!("reading the venue's balances: {e}")))?,
    };
    Ok(Json(StatusView {
        mode: s.mode.to_string(),
        venue: s.node.venue.clone(),
        market: s.node.market.clone(),
        trading: s.node.trading.clone(),
        balances: balances
            .iter()
            .map(|b| BalanceView {
                asset: b.asset.clone(),
                free: b.free,
                locked: b.locked,
            })
            .collect(),
        ..StatusView::clone(&m)
    }))
}

/// The board as the loop last published it, or computed by a job when it has not published
/// it since it was last read.
async fn board(s: &AppState) -> Result<Arc<Board>, ApiError> {
    if let Some(b) = s.handle.reads.board() {
        return Ok(b);
    }
    read(s, |c| {
        Box::pin(async move {
            let b = Arc::new(Board::of(c));
            c.reads.put_board(b.clone());
            Ok(b)
        })
    })
    .await
}

/// All bots with state, value and P&L; the total value.
#[utoipa::path(get, path = "/api/bots", tag = "bots", operation_id = "list_bots",
    responses((status = 200, description = "every bot, stopped ones included", body = BotList)))]
async fn list(State(s): State<AppState>) -> Result<Response, ApiError> {
    Ok(json_ok(&board(&s).await?.list))
}

/// One bot: holdings against targets, P&L, config.
#[utoipa::path(get, path = "/api/bots/{bot}", tag = "bots", operation_id = "show_bot",
    params(BotParam),
    responses((status = 200, description = "the bot", body = BotView)))]
async fn show(State(s): State<AppState>, Path(bot): Path<String>) -> Result<Response, ApiError> {
    // What the loop published after its last step (`crate::reads`); computed by a job on the
    // loop only when it has not published this bot's summary since it was last read.
    let reads = &s.handle.reads;
    let id = reads.resolve(&bot)?;
    if let Some(v) = reads.view(id) {
        return Ok(json_ok(&*v));
    }
    let v = read(&s, move |c| {
        Box::pin(async move {
            let v = std::sync::Arc::new(c.rt.show(id).await?);
            c.reads.put(id, v.clone());
            Ok(v)
        })
    })
    .await?;
    Ok(json_ok(&*v))
}

/// The `{bot}` of a path: a bot's id (all digits) or its name (never all digits).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct BotParam {
    /// The bot's id (all digits) or its name (which is never all digits).
    #[param(pattern = r"^(?!\.\.?$)[A-Za-z0-9._-]{1,64}$")]
    pub bot: String,
}

fn history_limits(q: &HashMap<String, String>) -> Result<HistoryQuery, ApiError> {
    only_params(q, &["last", "points"])?;
    let get = |key: &str| -> Result<Option<usize>, ApiError> {
        Ok(int_param(q, key, 1, HISTORY_LIMIT as i64)?.map(|n| n as usize))
    };
    Ok(HistoryQuery {
        last: get("last")?,
        points: get("points")?,
    })
}

fn oldest_first<T>(mut v: Vec<T>) -> Vec<T> {
    v.reverse();
    v
}

/// Rebalances, orders, fills, flows and value snapshots of a bot.
#[utoipa::path(get, path = "/api/bots/{bot}/history", tag = "bots", operation_id = "bot_history",
    params(BotParam, HistoryQuery),
    responses((status = 200, description = "the bot's history, oldest first", body = History)))]
async fn history(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let limits = history_limits(&q)?;
    let id = s.handle.reads.resolve(&bot)?;
    // Shared by the readers of one publication of the loop (`Reads::shared`).
    let key = format!("history:{id}:{:?}:{:?}", limits.last, limits.points);
    let body = s
        .handle
        .reads
        .shared(key, || async {
            json_bytes(&read_history(&s, id, &limits).await?)
        })
        .await?;
    Ok(json_answer(body))
}

/// The history `limits` asks for, read off the loop: the bot as the loop last published it,
/// the last `last` of each list by page, the snapshots thinned in the store's query.
async fn read_history(s: &AppState, id: BotId, limits: &HistoryQuery) -> Result<History, ApiError> {
    let bot = match s.handle.reads.board() {
        Some(b) => b.list.bots.iter().find(|b| b.id == id).cloned(),
        None => None,
    };
    let bot = match bot {
        Some(b) => b,
        None => {
            read(s, move |c| {
                Box::pin(async move { Ok(c.rt.summary_of(id)?) })
            })
            .await?
        }
    };
    let store = s.handle.reads.store.clone();
    let e = |e: smartfolio_store::StoreError| ApiError::from(smartfolio_bot::BotError::from(e));
    let page = PageQuery {
        limit: u32::try_from(limits.last.unwrap_or(HISTORY_DEFAULT)).unwrap_or(u32::MAX),
        ..PageQuery::default()
    };
    let series = SeriesQuery {
        from_ms: None,
        to_ms: None,
        points: u32::try_from(limits.points.unwrap_or(HISTORY_DEFAULT)).unwrap_or(u32::MAX),
    };
    Ok(History {
        bot,
        rebalances: oldest_first(store.rebalance_page(id, &page).await.map_err(e)?.items)
            .into_iter()
            .map(RebalanceView::from)
            .collect(),
        orders: oldest_first(store.order_page(id, &page).await.map_err(e)?.items),
        fills: oldest_first(store.fill_page(id, &page).await.map_err(e)?.items),
        flows: oldest_first(store.flow_page(id, &page).await.map_err(e)?.items),
        snapshots: store.snapshot_series(id, &series).await.map_err(e)?,
    })
}

/// What a command answered: its reply when it ran on this server's loop, or, queued
/// (`smartfolio serve`), the JSON of the same reply as the process that ran it wrote it.
enum Answer {
    Here(Box<Reply>),
    Queued(Value),
    /// Queued, taken, and still running after the wait: 504 naming its id.
    Running(i64),
}

impl From<crate::reader::Queued> for Answer {
    fn from(q: crate::reader::Queued) -> Self {
        match q {
            crate::reader::Queued::Done(v) => Answer::Queued(v),
            crate::reader::Queued::Running(id) => Answer::Running(id),
        }
    }
}

/// 504: a queued command taken and still running after the wait (its id is the value).
fn running(id: i64) -> ApiError {
    ApiError {
        status: 504,
        field: Some("command".into()),
        value: Some(id.to_string()),
        allowed: None,
        message: format!(
            "command #{id} was taken by the process trading the account and is still running \
             after the wait; its effect shows in the bot's page when it ends"
        ),
    }
}

impl Answer {
    /// The response: the body `body` makes of a reply here, the worker's JSON of the same
    /// reply when queued (the API's bodies are the replies' JSON).
    fn respond<T: Serialize>(
        self,
        body: impl FnOnce(Reply) -> Result<T, ApiError>,
    ) -> Result<Response, ApiError> {
        match self {
            Answer::Here(r) => Ok(json_ok(body(*r)?)),
            Answer::Queued(v) => Ok(json_ok(v)),
            Answer::Running(id) => Err(running(id)),
        }
    }
}

/// Run a command of the node's protocol on the actor: the one path (checks, defaults,
/// execution) the CLI also takes; the handlers only map JSON onto it and its reply back. When
/// serving the store, it is queued for the process that trades the bot instead.
async fn command(state: &AppState, req: NodeRequest) -> Result<Answer, ApiError> {
    if let Some(q) = &state.queue {
        return q.submit(&state.handle, &req).await.map(Answer::from);
    }
    call(state, move |c| {
        Box::pin(async move {
            Ok(smartfolio_node::command::run(&mut c.rt, &req, &c.defaults, true).await?)
        })
    })
    .await
    .map(|r| Answer::Here(Box::new(r)))
}

/// A control on bot `bot`, run as its command.
async fn control(state: &AppState, bot: String, req: ControlRequest) -> Result<Answer, ApiError> {
    // The bot is resolved as the readers see it: an unknown one is refused here, not queued.
    if state.queue.is_some() {
        state.handle.reads.resolve(&bot)?;
    }
    command(state, req.into_request(bot)).await
}

fn unexpected(r: &Reply) -> ApiError {
    ApiError::internal(format!("the command answered an unexpected reply: {r:?}"))
}

/// The bot view of a reply that carries one.
fn bot_of(r: Reply) -> Result<BotView, ApiError> {
    match r {
        Reply::Bot(b) => Ok(*b),
        other => Err(unexpected(&other)),
    }
}

/// A bot's view in response, from a control that answers one.
async fn bot_control(s: &AppState, bot: String, req: ControlRequest) -> Result<Response, ApiError> {
    control(s, bot, req).await?.respond(bot_of)
}

/// Create a bot and deploy it (the initial buys).
#[utoipa::path(post, path = "/api/bots", tag = "bots", operation_id = "create_bot",
    request_body = CreateRequest,
    security(("bearer" = [])),
    responses((status = 201, description = "created; `deploy` is its initial rebalance", body = Created,
        links(
            ("show" = (operation_id = "show_bot", parameters(("bot" = "$response.body#/bot/summary/id")))),
            ("history" = (operation_id = "bot_history", parameters(("bot" = "$response.body#/bot/summary/id")))),
            ("profile" = (operation_id = "export_profile", parameters(("bot" = "$response.body#/bot/summary/id")))),
            ("invest" = (operation_id = "invest", parameters(("bot" = "$response.body#/bot/summary/id")))),
            ("withdraw" = (operation_id = "withdraw", parameters(("bot" = "$response.body#/bot/summary/id")))),
            ("modify" = (operation_id = "modify", parameters(("bot" = "$response.body#/bot/summary/id")))),
            ("pause" = (operation_id = "pause", parameters(("bot" = "$response.body#/bot/summary/id")))),
            ("resume" = (operation_id = "resume", parameters(("bot" = "$response.body#/bot/summary/id")))),
            ("rebalance" = (operation_id = "rebalance", parameters(("bot" = "$response.body#/bot/summary/id")))),
            ("stop" = (operation_id = "stop", parameters(("bot" = "$response.body#/bot/summary/id")))),
            ("preview" = (operation_id = "preview_control", parameters(("bot" = "$response.body#/bot/summary/id")))),
        ))))]
async fn create(
    State(s): State<AppState>,
    _auth: Auth,
    ApiJson(req): ApiJson<CreateRequest>,
) -> Result<(StatusCode, Response), ApiError> {
    let answer = if let Some(q) = s.queue.clone() {
        // The request mapped as here (a template, a profile, the weights of a method), then
        // queued for the process that trades the account.
        let spec = read(&s, move |c| {
            Box::pin(async move { preview::create_spec(c, &req).map(|(spec, _)| spec) })
        })
        .await?;
        let node_req = NodeRequest::Create {
            spec: Box::new(spec),
        };
        Answer::from(q.submit(&s.handle, &node_req).await?)
    } else {
        Answer::Here(Box::new(
            call(&s, move |c| {
                Box::pin(async move {
                    let (spec, _) = preview::create_spec(c, &req)?;
                    let node_req = NodeRequest::Create {
                        spec: Box::new(spec),
                    };
                    smartfolio_node::command::run(&mut c.rt, &node_req, &c.defaults, true)
                        .await
                        .map_err(ApiError::from)
                })
            })
            .await?,
        ))
    };
    let body = match answer {
        Answer::Running(id) => return Err(running(id)),
        // The reply's JSON carries more (its id, name, note, template): the body's fields.
        Answer::Queued(v) => json_ok(serde_json::json!({
            "bot": v["bot"],
            "deploy": v["deploy"],
            "deploy_error": v["deploy_error"],
        })),
        Answer::Here(r) => match *r {
            Reply::Created {
                bot,
                deploy,
                deploy_error,
                ..
            } => json_ok(Created {
                bot: *bot,
                deploy,
                deploy_error,
            }),
            other => return Err(unexpected(&other)),
        },
    };
    Ok((StatusCode::CREATED, body))
}

/// Invest more quote and/or coins; a running bot then rebalances.
#[utoipa::path(post, path = "/api/bots/{bot}/invest", tag = "controls", operation_id = "invest",
    params(BotParam), request_body = InvestRequest, security(("bearer" = [])),
    responses((status = 200, description = "invested", body = Invested)))]
async fn invest(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    _auth: Auth,
    ApiJson(req): ApiJson<InvestRequest>,
) -> Result<Response, ApiError> {
    control(&s, bot, ControlRequest::Invest(req))
        .await?
        .respond(|r| match r {
            Reply::Invested { rebalance, bot } => Ok(Invested {
                rebalance,
                bot: *bot,
            }),
            other => Err(unexpected(&other)),
        })
}

/// Withdraw quote (selling pro rata or from overweights): 200 only when the whole amount left
/// the bot; 409 `amount` when refused before anything trades (`allowed` names the largest
/// amount it can deliver now); 502 `amount` when the venue under-delivered once the sells
/// started (what they raised left the bot; the message says how much, the history shows the
/// `partial` record).
#[utoipa::path(post, path = "/api/bots/{bot}/withdraw", tag = "controls", operation_id = "withdraw",
    params(BotParam), request_body = WithdrawRequest, security(("bearer" = [])),
    responses((status = 200, description = "the whole amount left the bot", body = Withdrawn),
        (status = 409, description = "refused before anything traded: the bot's status, or more \
            than its sells can raise (`allowed`: at most the largest amount it can deliver now)",
            body = crate::error::ErrorBody),
        (status = 502, description = "the venue delivered less once the sells started: what \
            they raised left the bot, the rest did not (never a success)", body = crate::error::ErrorBody)))]
async fn withdraw(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    _auth: Auth,
    ApiJson(req): ApiJson<WithdrawRequest>,
) -> Result<Response, ApiError> {
    control(&s, bot, ControlRequest::Withdraw(req))
        .await?
        .respond(|r| match r {
            Reply::Withdrew { withdrawal, bot } => Ok(Withdrawn {
                withdrawal,
                bot: *bot,
            }),
            other => Err(unexpected(&other)),
        })
}

/// Change targets, trigger or cooldown (nothing trades now).
#[utoipa::path(post, path = "/api/bots/{bot}/modify", tag = "controls", operation_id = "modify",
    params(BotParam), request_body = ModifyRequest, security(("bearer" = [])),
    responses((status = 200, description = "the bot as changed", body = BotView)))]
async fn modify(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    _auth: Auth,
    ApiJson(req): ApiJson<ModifyRequest>,
) -> Result<Response, ApiError> {
    bot_control(&s, bot, ControlRequest::Modify(req)).await
}

/// Rebalance a running bot now, whatever its trigger says; inside its cooldown only with
/// `force` (409 otherwise).
#[utoipa::path(post, path = "/api/bots/{bot}/rebalance", tag = "controls", operation_id = "rebalance",
    params(BotParam), request_body = RebalanceRequest, security(("bearer" = [])),
    responses((status = 200, description = "rebalanced (`rebalance` is none when nothing needed trading)", body = Rebalanced)))]
async fn rebalance(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    _auth: Auth,
    ApiJson(req): ApiJson<RebalanceRequest>,
) -> Result<Response, ApiError> {
    control(&s, bot, ControlRequest::Rebalance(req))
        .await?
        .respond(|r| match r {
            Reply::Rebalanced {
                rebalance,
                note,
                bot,
            } => Ok(Rebalanced {
                rebalance,
                note,
                bot: *bot,
            }),
            other => Err(unexpected(&other)),
        })
}

/// Pause a running or suspended bot.
#[utoipa::path(post, path = "/api/bots/{bot}/pause", tag = "controls", operation_id = "pause",
    params(BotParam), security(("bearer" = [])),
    responses((status = 200, description = "paused", body = BotView)))]
async fn pause(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    _auth: Auth,
) -> Result<Response, ApiError> {
    bot_control(&s, bot, ControlRequest::Pause).await
}

/// Resume a paused or suspended bot.
#[utoipa::path(post, path = "/api/bots/{bot}/resume", tag = "controls", operation_id = "resume",
    params(BotParam), security(("bearer" = [])),
    responses((status = 200, description = "running again", body = BotView)))]
async fn resume(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    _auth: Auth,
) -> Result<Response, ApiError> {
    bot_control(&s, bot, ControlRequest::Resume).await
}

/// Stop: sell everything to quote or keep the coins; the ledger is closed.
#[utoipa::path(post, path = "/api/bots/{bot}/stop", tag = "controls", operation_id = "stop",
    params(BotParam), request_body = StopRequest, security(("bearer" = [])),
    responses((status = 200, description = "stopped, with the final report", body = Stopped)))]
async fn stop(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    _auth: Auth,
    ApiJson(req): ApiJson<StopRequest>,
) -> Result<Response, ApiError> {
    control(&s, bot, ControlRequest::Stop(req))
        .await?
        .respond(|r| match r {
            Reply::Stopped { report, bot } => Ok(Stopped {
                report: *report,
                bot: *bot,
            }),
            other => Err(unexpected(&other)),
        })
}

/// What a control will do, before it acts (changes nothing).
#[utoipa::path(post, path = "/api/bots/{bot}/preview", tag = "previews", operation_id = "preview_control",
    params(BotParam), request_body = ControlRequest,
    responses((status = 200, description = "the plan of the control", body = PlanPreview)))]
async fn preview_control(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    ApiJson(req): ApiJson<ControlRequest>,
) -> Result<Json<PlanPreview>, ApiError> {
    if let Some(q) = routed(&s)? {
        s.handle.reads.resolve(&bot)?;
        let of = req.into_request(bot);
        return queued_preview(&s, q, of).await;
    }
    let v = call(&s, move |c| {
        Box::pin(async move { preview::control_preview(c, &bot, &req).await })
    })
    .await?;
    Ok(Json(v))
}

/// Validate a new bot and show its initial orders (changes nothing).
#[utoipa::path(post, path = "/api/preview/create", tag = "previews", operation_id = "preview_create",
    request_body = CreateRequest,
    responses((status = 200, description = "the initial orders", body = PlanPreview)))]
async fn preview_create(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<CreateRequest>,
) -> Result<Json<PlanPreview>, ApiError> {
    if let Some(q) = routed(&s)? {
        let spec = read(&s, move |c| {
            Box::pin(async move { preview::create_spec(c, &req).map(|(spec, _)| spec) })
        })
        .await?;
        let of = NodeRequest::Create {
            spec: Box::new(spec),
        };
        return queued_preview(&s, q, of).await;
    }
    let v = call(&s, move |c| {
        Box::pin(async move { preview::create_preview(c, &req).await })
    })
    .await?;
    Ok(Json(v))
}

/// A plan's preview needs the market's prices and the venue's rules, which a reader of the
/// store does not have (it asks no venue).
/// `smartfolio serve` refuses it before anything is asked. `run --http` with `[accounts]`
/// (the store's reader beside the daemon, mode `daemon`) queues the preview for the daemon,
/// which plans it on the loop of the bot's account: the queue is returned. `None`: the
/// preview runs here.
fn routed(s: &AppState) -> Result<Option<Arc<crate::reader::Queue>>, ApiError> {
    match &s.queue {
        Some(q) if &*s.mode == "daemon" => Ok(Some(q.clone())),
        Some(_) => Err(ApiError::unavailable(
            "a preview plans at the market's prices with the venue's rules: `smartfolio serve` \
             reads the store and asks no venue; preview on a server that runs the bots \
             (`smartfolio run --http`), or send the command (its answer says what it did)",
        )),
        None => Ok(None),
    }
}

/// The preview of `of`, planned by the account's loop that would run it (nothing changes).
async fn queued_preview(
    s: &AppState,
    q: Arc<crate::reader::Queue>,
    of: NodeRequest,
) -> Result<Json<PlanPreview>, ApiError> {
    let req = NodeRequest::Preview { of: Box::new(of) };
    match q.submit(&s.handle, &req).await? {
        crate::reader::Queued::Done(v) => serde_json::from_value::<smartfolio_bot::PlanPreview>(v)
            .map(|p| Json(p.into()))
            .map_err(|e| ApiError::internal(format!("the preview's reply: {e}"))),
        crate::reader::Queued::Running(id) => Err(running(id)),
    }
}

/// Weights of an allocation method over the server's price history.
#[utoipa::path(post, path = "/api/preview/allocation", tag = "previews", operation_id = "preview_allocation",
    request_body = AllocationRequest,
    responses((status = 200, description = "the weights", body = AllocationPreview)))]
async fn preview_allocation(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<AllocationRequest>,
) -> Result<Json<AllocationPreview>, ApiError> {
    // The history as the loop published it; the weights are CPU work, off the loop.
    let p = preview_prices(&s).await?;
    off_loop(move || preview::allocation(&p.history, &req)).await
}

/// The previews' prices as the loop last published them, or copied by a job when it has not
/// published them since they were last read.
async fn preview_prices(s: &AppState) -> Result<Arc<preview::PreviewPrices>, ApiError> {
    if let Some(p) = s.handle.reads.prices() {
        return Ok(p);
    }
    read(s, |c| {
        Box::pin(async move {
            let p = Arc::new(preview::PreviewPrices::of(c));
            c.reads.put_prices(p.clone());
            Ok(p)
        })
    })
    .await
}

/// A preview's computation on the blocking pool (neither on the loop nor on an HTTP worker).
async fn off_loop<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<Json<T>, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("the preview's computation failed: {e}")))?
        .map(Json)
}

/// Every template's card: sector, assets, the weights today, the trigger recommended by
/// walk-forward with its out-of-sample return and drawdown against buy-and-hold and equal
/// weight, a small equity series, and what history is missing. Computed from the history a
/// create from a template reads (`<data-dir>/history`), kept until it or a template changes.
#[utoipa::path(get, path = "/api/templates", tag = "templates", operation_id = "list_templates",
    responses((status = 200, description = "the template gallery", body = crate::gallery::TemplateList)))]
async fn templates(
    State(s): State<AppState>,
) -> Result<Json<crate::gallery::TemplateList>, ApiError> {
    // Where the data directory is, as the loop published it; the cards are CPU work, off the
    // loop.
    let (data_dir, cache) = s.handle.reads.gallery();
    tokio::task::spawn_blocking(move || crate::gallery::cards(data_dir, &cache))
        .await
        .map_err(|e| ApiError::internal(format!("the cards' computation failed: {e}")))?
        .map(Json)
}

/// Backtest targets and a trigger over the server's price history, against holding.
#[utoipa::path(post, path = "/api/preview/backtest", tag = "previews", operation_id = "preview_backtest",
    request_body = BacktestRequest,
    responses((status = 200, description = "the backtest and holding", body = BacktestPreview)))]
async fn preview_backtest(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<BacktestRequest>,
) -> Result<Json<BacktestPreview>, ApiError> {
    // The history as the loop published it; the backtest, CPU work on at most the history's
    // bars, off the loop.
    let p = preview_prices(&s).await?;
    off_loop(move || preview::backtest(&p, &req)).await
}

#[cfg(test)]
mod venue_totals {
    use super::*;

    fn bot(id: i64, venue: &str, account: &str, status: &str, value: i64) -> BotSummary {
        BotSummary {
            id,
            name: format!("b{id}"),
            status: status.into(),
            reason: None,
            venue: venue.into(),
            account: account.into(),
            quote: "USDT".into(),
            targets: "BTC=50,ETH=50".into(),
            trigger: "threshold:5".into(),
            value: Some(Decimal::from(value)),
            net_invested: Decimal::from(1000),
            pnl: Some(Decimal::from(value - 1000)),
            valued_at_ms: None,
        }
    }

    #[test]
    fn totals_by_venue_account_leave_stopped_bots_out() {
        let bots = [
            bot(1, "binance", "main", "running", 1100),
            bot(2, "okx", "okx-main", "running", 900),
            bot(3, "binance", "main", "suspended", 1000),
            bot(4, "okx", "okx-main", "stopped", 5000),
            bot(5, "binance", "side", "paused", 1200),
        ];
        let t = VenueTotal::of(&bots);
        let rows: Vec<(&str, &str, u64, Decimal, Decimal)> = t
            .iter()
            .map(|t| (t.venue.as_str(), t.account.as_str(), t.bots, t.value, t.pnl))
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "binance",
                    "main",
                    2,
                    Decimal::from(2100),
                    Decimal::from(100)
                ),
                (
                    "okx",
                    "okx-main",
                    1,
                    Decimal::from(900),
                    Decimal::from(-100)
                ),
                (
                    "binance",
                    "side",
                    1,
                    Decimal::from(1200),
                    Decimal::from(200)
                ),
            ]
        );
    }
}
