//! The router: JSON API, previews, OpenAPI document, metrics, live events and the dashboard.
//!
//! Every route is listed once in [`ROUTES`]; the router is built from that table and so is the
//! OpenAPI document, and a test checks that each documented route answers.

use crate::actor::{Core, RuntimeHandle};
use crate::auth::TokenCheck;
use crate::error::ApiError;
use crate::preview::{
    self, AllocationRequest, BacktestRequest, ControlRequest, CreateRequest, InvestRequest,
    ModifyRequest, StopRequest, WithdrawRequest,
};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use smartfolio_exchange::Exchange;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;

/// Largest request body accepted (bigger ones get 413).
pub const BODY_LIMIT: usize = 64 * 1024;

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub handle: RuntimeHandle,
    pub token: Arc<TokenCheck>,
    /// `demo`, `daemon`, `test`: shown on the dashboard.
    pub mode: Arc<str>,
}

/// One route: method, path (axum syntax), whether it needs the bearer token, a summary, the
/// request body schema (a name in the OpenAPI components) and the success status.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub auth: bool,
    pub summary: &'static str,
    pub body: Option<&'static str>,
    pub ok: u16,
    pub content: &'static str,
}

const fn r(
    method: &'static str,
    path: &'static str,
    auth: bool,
    summary: &'static str,
    body: Option<&'static str>,
    ok: u16,
    content: &'static str,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        auth,
        summary,
        body,
        ok,
        content,
    }
}

const JSON: &str = "application/json";

/// Every route of the server.
pub const ROUTES: &[RouteSpec] = &[
    r(
        "GET",
        "/",
        false,
        "The dashboard (single page).",
        None,
        200,
        "text/html",
    ),
    r(
        "GET",
        "/assets/app.js",
        false,
        "The dashboard's script.",
        None,
        200,
        "text/javascript",
    ),
    r(
        "GET",
        "/assets/app.css",
        false,
        "The dashboard's style sheet.",
        None,
        200,
        "text/css",
    ),
    r(
        "GET",
        "/api/openapi.json",
        false,
        "This document.",
        None,
        200,
        JSON,
    ),
    r(
        "GET",
        "/metrics",
        false,
        "Prometheus metrics.",
        None,
        200,
        "text/plain",
    ),
    r(
        "GET",
        "/api/events",
        false,
        "Live updates (server-sent events: tick, state, rebalance).",
        None,
        200,
        "text/event-stream",
    ),
    r(
        "GET",
        "/api/status",
        false,
        "Market time, assets and prices, account balances, allocation methods.",
        None,
        200,
        JSON,
    ),
    r(
        "GET",
        "/api/bots",
        false,
        "All bots with state, value and P&L; the total value.",
        None,
        200,
        JSON,
    ),
    r(
        "POST",
        "/api/bots",
        true,
        "Create a bot and deploy it (the initial buys).",
        Some("CreateRequest"),
        201,
        JSON,
    ),
    r(
        "GET",
        "/api/bots/{bot}",
        false,
        "One bot: holdings against targets, P&L, config.",
        None,
        200,
        JSON,
    ),
    r(
        "GET",
        "/api/bots/{bot}/history",
        false,
        "Rebalances, orders, fills, flows and value snapshots of a bot.",
        None,
        200,
        JSON,
    ),
    r(
        "POST",
        "/api/bots/{bot}/invest",
        true,
        "Invest more quote; a running bot then rebalances.",
        Some("InvestRequest"),
        200,
        JSON,
    ),
    r(
        "POST",
        "/api/bots/{bot}/withdraw",
        true,
        "Withdraw quote (selling pro rata or from overweights).",
        Some("WithdrawRequest"),
        200,
        JSON,
    ),
    r(
        "POST",
        "/api/bots/{bot}/modify",
        true,
        "Change targets, trigger or cooldown (nothing trades now).",
        Some("ModifyRequest"),
        200,
        JSON,
    ),
    r(
        "POST",
        "/api/bots/{bot}/pause",
        true,
        "Pause a running or suspended bot.",
        None,
        200,
        JSON,
    ),
    r(
        "POST",
        "/api/bots/{bot}/resume",
        true,
        "Resume a paused or suspended bot.",
        None,
        200,
        JSON,
    ),
    r(
        "POST",
        "/api/bots/{bot}/stop",
        true,
        "Stop: sell everything to quote or keep the coins; the ledger is closed.",
        Some("StopRequest"),
        200,
        JSON,
    ),
    r(
        "POST",
        "/api/bots/{bot}/preview",
        false,
        "What a control will do, before it acts (changes nothing).",
        Some("ControlRequest"),
        200,
        JSON,
    ),
    r(
        "POST",
        "/api/preview/create",
        false,
        "Validate a new bot and show its initial orders (changes nothing).",
        Some("CreateRequest"),
        200,
        JSON,
    ),
    r(
        "POST",
        "/api/preview/allocation",
        false,
        "Weights of an allocation method over the server's price history.",
        Some("AllocationRequest"),
        200,
        JSON,
    ),
    r(
        "POST",
        "/api/preview/backtest",
        false,
        "Backtest targets and a trigger over the server's price history, against holding.",
        Some("BacktestRequest"),
        200,
        JSON,
    ),
];

fn handler_for(spec: &RouteSpec) -> MethodRouter<AppState> {
    match (spec.method, spec.path) {
        ("GET", "/") => get(index),
        ("GET", "/assets/app.js") => get(app_js),
        ("GET", "/assets/app.css") => get(app_css),
        ("GET", "/api/openapi.json") => get(openapi),
        ("GET", "/metrics") => get(metrics),
        ("GET", "/api/events") => get(events),
        ("GET", "/api/status") => get(status),
        ("GET", "/api/bots") => get(list),
        ("POST", "/api/bots") => post(create),
        ("GET", "/api/bots/{bot}") => get(show),
        ("GET", "/api/bots/{bot}/history") => get(history),
        ("POST", "/api/bots/{bot}/invest") => post(invest),
        ("POST", "/api/bots/{bot}/withdraw") => post(withdraw),
        ("POST", "/api/bots/{bot}/modify") => post(modify),
        ("POST", "/api/bots/{bot}/pause") => post(pause),
        ("POST", "/api/bots/{bot}/resume") => post(resume),
        ("POST", "/api/bots/{bot}/stop") => post(stop),
        ("POST", "/api/bots/{bot}/preview") => post(preview_control),
        ("POST", "/api/preview/create") => post(preview_create),
        ("POST", "/api/preview/allocation") => post(preview_allocation),
        ("POST", "/api/preview/backtest") => post(preview_backtest),
        (m, p) => panic!("route {m} {p} is in ROUTES but has no handler"),
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let mut by_path: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for spec in ROUTES {
        let h = handler_for(spec);
        match by_path.iter_mut().find(|(p, _)| *p == spec.path) {
            Some((_, mr)) => *mr = std::mem::take(mr).merge(h),
            None => by_path.push((spec.path, h)),
        }
    }
    let mut app = Router::new();
    for (path, mr) in by_path {
        app = app.route(path, mr);
    }
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

async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    let allowed: Vec<&str> = ROUTES
        .iter()
        .filter(|r| path_matches(r.path, uri.path()))
        .map(|r| r.method)
        .collect();
    ApiError {
        status: 405,
        field: Some("method".into()),
        value: Some(method.to_string()),
        allowed: Some(allowed.join(", ")),
        message: format!("{method} is not allowed on {}", uri.path()),
    }
}

/// Whether a concrete path matches a route pattern (`{x}` matches one segment).
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let a: Vec<&str> = pattern.split('/').collect();
    let b: Vec<&str> = path.split('/').collect();
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(x, y)| (x.starts_with('{') && !y.is_empty()) || x == y)
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
    StopRequest,
    AllocationRequest,
    BacktestRequest,
    preview::NoFields
);

impl Decode for ControlRequest {
    fn decode(body: &Value) -> Result<Self, ApiError> {
        const ACTIONS: &str = "one of invest, withdraw, modify, pause, resume, stop";
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

async fn call<R, F>(state: &AppState, f: F) -> Result<R, ApiError>
where
    R: Send + 'static,
    F: for<'a> FnOnce(&'a mut Core) -> crate::actor::BoxFut<'a, Result<R, ApiError>>
        + Send
        + 'static,
{
    state.handle.call(f).await?
}

fn json_ok<T: serde::Serialize>(v: T) -> Response {
    Json(v).into_response()
}

// ------------------------------------------------------------------------------- handlers

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

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

async fn openapi() -> Response {
    json_ok(crate::openapi::document())
}

async fn metrics(State(s): State<AppState>) -> Result<Response, ApiError> {
    let bots = call(&s, |c| Box::pin(async move { Ok(c.bots_by_state()) })).await?;
    let text = s.handle.metrics.render(&bots);
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}

async fn events(
    State(s): State<AppState>,
) -> Sse<impl tokio_stream::Stream<Item = Result<SseEvent, Infallible>>> {
    let stream = BroadcastStream::new(s.handle.subscribe()).filter_map(|e| {
        e.ok().map(|e| {
            Ok(SseEvent::default()
                .event(e.kind)
                .data(serde_json::to_string(&e.data).unwrap_or_else(|_| "null".into())))
        })
    });
    let hello = tokio_stream::once(Ok(SseEvent::default().event("hello").data("{}")));
    Sse::new(hello.chain(stream)).keep_alive(KeepAlive::default())
}

async fn status(State(s): State<AppState>) -> Result<Response, ApiError> {
    let mode = s.mode.to_string();
    let v = call(&s, move |c| {
        Box::pin(async move {
            let cfg = c.ex.config();
            let balances = c.ex.balances().await.map_err(|e| ApiError::internal(e.to_string()))?;
            let prices: Vec<Value> = c
                .last_tick
                .as_ref()
                .map(|t| {
                    t.prices
                        .iter()
                        .map(|(a, p)| json!({"asset": a, "price": p}))
                        .collect()
                })
                .unwrap_or_default();
            Ok(json!({
                "mode": mode,
                "venue": c.ex.name(),
                "account": cfg.account,
                "quote": cfg.quote,
                "fee_rate": cfg.fee_rate,
                "market_time_ms": c.last_tick.as_ref().map(|t| t.time_ms),
                "ticks": c.ticks,
                "assets": c.history.assets,
                "prices": prices,
                "history_bars": c.history.len(),
                "bar_ms": c.history.bar_ms(),
                "balances": balances.iter().map(|b| json!({"asset": b.asset, "free": b.free, "locked": b.locked})).collect::<Vec<_>>(),
                "methods": ["manual", "equal", "inverse-vol", "min-variance", "max-sharpe", "risk-parity", "hrp"],
                "version": env!("CARGO_PKG_VERSION"),
            }))
        })
    })
    .await?;
    Ok(json_ok(v))
}

async fn list(State(s): State<AppState>) -> Result<Response, ApiError> {
    let v = call(&s, |c| {
        Box::pin(async move {
            let bots = c.rt.list();
            let total: Decimal = bots
                .iter()
                .filter(|b| b.status != "stopped")
                .filter_map(|b| b.value)
                .sum();
            let pnl: Decimal = bots
                .iter()
                .filter(|b| b.status != "stopped")
                .filter_map(|b| b.pnl)
                .sum();
            Ok(json!({
                "bots": bots,
                "total_value": total,
                "total_pnl": pnl,
                "quote": c.ex.config().quote,
                "market_time_ms": c.last_tick.as_ref().map(|t| t.time_ms),
            }))
        })
    })
    .await?;
    Ok(json_ok(v))
}

async fn show(State(s): State<AppState>, Path(bot): Path<String>) -> Result<Response, ApiError> {
    let v = call(&s, move |c| {
        Box::pin(async move {
            let id = c.rt.resolve(&bot)?;
            Ok(c.rt.show(id).await?)
        })
    })
    .await?;
    Ok(json_ok(v))
}

/// `?last=N` keeps the last N rebalances, orders, fills and flows; `?points=N` thins the value
/// snapshots to N evenly spaced ones (the first and the last kept).
fn history_limits(q: &HashMap<String, String>) -> Result<(Option<usize>, Option<usize>), ApiError> {
    let mut out = [None, None];
    for (k, key) in ["last", "points"].iter().enumerate() {
        if let Some(v) = q.get(*key) {
            match v.trim().parse::<usize>() {
                Ok(n) if n >= 1 => out[k] = Some(n),
                _ => {
                    return Err(ApiError::invalid(*key, v.clone(), "an integer ≥ 1"));
                }
            }
        }
    }
    if let Some(k) = q.keys().find(|k| *k != "last" && *k != "points") {
        return Err(ApiError::invalid(
            k.clone(),
            q[k].clone(),
            "query parameters last, points",
        ));
    }
    Ok((out[0], out[1]))
}

fn keep_last(v: &mut Value, key: &str, n: Option<usize>) {
    if let (Some(n), Some(a)) = (n, v.get_mut(key).and_then(Value::as_array_mut))
        && a.len() > n
    {
        a.drain(..a.len() - n);
    }
}

fn thin(v: &mut Value, key: &str, n: Option<usize>) {
    if let (Some(n), Some(a)) = (n, v.get_mut(key).and_then(Value::as_array_mut))
        && a.len() > n
    {
        let len = a.len();
        let kept: Vec<Value> = if n == 1 {
            vec![a[len - 1].clone()]
        } else {
            (0..n).map(|k| a[k * (len - 1) / (n - 1)].clone()).collect()
        };
        *a = kept;
    }
}

async fn history(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (last, points) = history_limits(&q)?;
    let v = call(&s, move |c| {
        Box::pin(async move {
            let id = c.rt.resolve(&bot)?;
            let h = c.rt.history(id).await?;
            let fills =
                c.rt.store()
                    .fills(id)
                    .await
                    .map_err(smartfolio_bot::BotError::from)?;
            let mut v = serde_json::to_value(&h).map_err(|e| ApiError::internal(e.to_string()))?;
            v["fills"] = serde_json::to_value(&fills).unwrap_or(Value::Null);
            for key in ["rebalances", "orders", "fills", "flows"] {
                keep_last(&mut v, key, last);
            }
            thin(&mut v, "snapshots", points);
            Ok(v)
        })
    })
    .await?;
    Ok(json_ok(v))
}

async fn create(
    State(s): State<AppState>,
    _auth: Auth,
    ApiJson(req): ApiJson<CreateRequest>,
) -> Result<Response, ApiError> {
    let v = call(&s, move |c| {
        Box::pin(async move {
            let cfg = preview::create_config(c, &req)?;
            let id = c.rt.create(cfg).await?;
            let deploy = c.rt.deploy(id).await;
            let view = c.rt.show(id).await?;
            Ok(json!({
                "bot": view,
                "deploy": deploy.as_ref().ok(),
                "deploy_error": deploy.as_ref().err().map(|e| e.to_string()),
            }))
        })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn invest(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    _auth: Auth,
    ApiJson(req): ApiJson<InvestRequest>,
) -> Result<Response, ApiError> {
    let v = call(&s, move |c| {
        Box::pin(async move {
            let id = c.rt.resolve(&bot)?;
            if req.amount <= Decimal::ZERO {
                return Err(ApiError::invalid(
                    "amount",
                    req.amount.to_string(),
                    "an amount of quote > 0",
                ));
            }
            let r = c.rt.invest(id, req.amount, vec![]).await?;
            Ok(json!({"rebalance": r, "bot": c.rt.show(id).await?}))
        })
    })
    .await?;
    Ok(json_ok(v))
}

async fn withdraw(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    _auth: Auth,
    ApiJson(req): ApiJson<WithdrawRequest>,
) -> Result<Response, ApiError> {
    let v = call(&s, move |c| {
        Box::pin(async move {
            let id = c.rt.resolve(&bot)?;
            let over = preview::parse_withdraw_mode(req.mode.as_deref())?;
            let r = c.rt.withdraw(id, req.amount, over).await?;
            Ok(json!({"withdrawal": r, "bot": c.rt.show(id).await?}))
        })
    })
    .await?;
    Ok(json_ok(v))
}

async fn modify(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    _auth: Auth,
    ApiJson(req): ApiJson<ModifyRequest>,
) -> Result<Response, ApiError> {
    let v = call(&s, move |c| {
        Box::pin(async move {
            let id = c.rt.resolve(&bot)?;
            if req.targets.is_none() && req.trigger.is_none() && req.cooldown_ms.is_none() {
                return Err(ApiError::invalid(
                    "targets",
                    "",
                    "at least one of targets, trigger, cooldown_ms",
                ));
            }
            if let Some(cd) = req.cooldown_ms
                && !(0..=366 * 86_400_000).contains(&cd)
            {
                return Err(ApiError::invalid(
                    "cooldown_ms",
                    cd.to_string(),
                    "0 to 31622400000 (366 days)",
                ));
            }
            let trigger = match req.trigger.as_deref() {
                Some(t) => Some(preview::parse_trigger(t)?),
                None => None,
            };
            Ok(c.rt
                .modify(id, req.targets.as_deref(), trigger, req.cooldown_ms)
                .await?)
        })
    })
    .await?;
    Ok(json_ok(v))
}

async fn pause(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    _auth: Auth,
) -> Result<Response, ApiError> {
    let v = call(&s, move |c| {
        Box::pin(async move {
            let id = c.rt.resolve(&bot)?;
            c.rt.pause(id).await?;
            Ok(c.rt.show(id).await?)
        })
    })
    .await?;
    Ok(json_ok(v))
}

async fn resume(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    _auth: Auth,
) -> Result<Response, ApiError> {
    let v = call(&s, move |c| {
        Box::pin(async move {
            let id = c.rt.resolve(&bot)?;
            c.rt.resume(id).await?;
            Ok(c.rt.show(id).await?)
        })
    })
    .await?;
    Ok(json_ok(v))
}

async fn stop(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    _auth: Auth,
    ApiJson(req): ApiJson<StopRequest>,
) -> Result<Response, ApiError> {
    let v = call(&s, move |c| {
        Box::pin(async move {
            let id = c.rt.resolve(&bot)?;
            let mode = preview::parse_stop_mode(&req.mode)?;
            let report = c.rt.stop(id, mode, "stopped from the API").await?;
            Ok(json!({"report": report, "bot": c.rt.show(id).await?}))
        })
    })
    .await?;
    Ok(json_ok(v))
}

async fn preview_control(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    ApiJson(req): ApiJson<ControlRequest>,
) -> Result<Response, ApiError> {
    let v = call(&s, move |c| {
        Box::pin(async move { preview::control_preview(c, &bot, &req).await })
    })
    .await?;
    Ok(json_ok(v))
}

async fn preview_create(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<CreateRequest>,
) -> Result<Response, ApiError> {
    let v = call(&s, move |c| {
        Box::pin(async move { preview::create_preview(c, &req).await })
    })
    .await?;
    Ok(json_ok(v))
}

async fn preview_allocation(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<AllocationRequest>,
) -> Result<Response, ApiError> {
    let v = call(&s, move |c| {
        Box::pin(async move { preview::allocation(c, &req) })
    })
    .await?;
    Ok(json_ok(v))
}

async fn preview_backtest(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<BacktestRequest>,
) -> Result<Response, ApiError> {
    // The backtest is CPU work on at most the history's bars: done on the actor (it owns the
    // history), bounded by the history's capacity.
    let v = call(&s, move |c| {
        Box::pin(async move { preview::backtest(c, &req) })
    })
    .await?;
    Ok(json_ok(v))
}
