//! The routes of Gate v4's spot REST (under `/api/v4`) over the paper engine: what a Gate
//! connector and ccxt's `gate` call.
//!
//! - public: `GET /spot/time`, `/spot/currency_pairs` (and `/{pair}`), `/spot/currencies` (and
//!   `/{currency}`), `/spot/tickers`, `/spot/candlesticks`, `/spot/order_book`, and
//!   `/margin/currency_pairs` (empty: nothing is lent; ccxt reads it for `load_markets`);
//! - signed: `GET /account/detail` (a classic account, `key.mode` 1), `/spot/accounts`,
//!   `POST /spot/orders`, `GET /spot/orders` (`status=open|finished`), `GET` and `DELETE
//!   /spot/orders/{order_id}` (the id, or the order's `text` while it is open and for an hour
//!   after it finished), `GET /spot/open_orders`, `/spot/my_trades`.
//!
//! Signed requests are checked as Gate checks them: `KEY` (`MISSING_REQUIRED_HEADER`,
//! `INVALID_KEY`), `Timestamp` in unix seconds (`REQUEST_EXPIRED` beyond 60 s of the server's
//! clock), `SIGN` = hex HMAC-SHA512 of `METHOD\n/api/v4/path\nquery\nhex(SHA512(body))\n
//! Timestamp` (`INVALID_SIGNATURE`); the labels are those of Gate's label list
//! (<https://www.gate.io/docs/developers/apiv4/en/#label-list>, read in a third-party copy; the
//! 60 s window is unverified). The query signed is the one sent; ccxt signs it unencoded and
//! sends it encoded, so a signature over the decoded query is taken too (the two differ only for
//! characters a `t-` text or a pair never has).
//!
//! Gate's rules the simulator keeps: a market buy's `amount` is quote, a sell's base; `text` is
//! `t-` and at most 28 more letters, digits, `_`, `-` or `.`; `time_in_force` `poc` is
//! post-only and refused (`POC_FILL_IMMEDIATELY`) when it would take. A `text` used again is
//! **not refused**: Gate takes the second order and the `text` then names it ("the latter one
//! will override", gateapi-go#41). The engine keeps the later order as `text#n` ([`w::TEXT_REUSE`],
//! shown on the wire as the bare `text`), so [`crate::Simulator::client_ids`] still reports the
//! `text` as sent twice: a client that reuses one is caught, not silently corrected. Fees are
//! paid in the asset received (GT or POINT if the engine's fee asset is set to one: then in
//! `gt_fee`/`point_fee`).
//!
//! The faults in Gate's words: a rate limit is HTTP 429 `TOO_MANY_REQUESTS`, a 5xx is
//! `SERVER_ERROR` (nothing done), an unknown outcome after a placement took effect is a 504
//! `SERVER_ERROR` (Gate has no label for "unknown"), a lookup "not found yet" is
//! `ORDER_NOT_FOUND` (`CLIENT_ID_NOT_FOUND` by `text`), a halt is `trade_status` `untradable`
//! and refuses orders (`TRADE_RESTRICTED`, unverified which label Gate gives;
//! `INVALID_CURRENCY_PAIR` is for a pair Gate does not list, and the connector reads it so),
//! an injected reject is `ORDER_BOOK_NOT_FOUND` (insufficient liquidity: a venue refusal).

use crate::gate_wire::{self as w, GateError};
use crate::wire::Params;
use crate::{Sim, body_field as field, same};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use smartfolio_exchange::{
    Exchange, ExchangeError, Instrument, Order, OrderKind, OrderLookup, OrderRequest, OrderSize,
    OrderStatus, Side, TimeInForce, reject,
};
use std::sync::Arc;

/// Where Gate's REST lives.
pub const PREFIX: &str = "/api/v4";

/// How far a request's `Timestamp` may be from the server's clock (seconds; unverified).
const TIMESTAMP_WINDOW_S: i64 = 60;

/// How long after it finished an order is still found by its `text`.
pub const TEXT_LOOKUP_MS: i64 = 3_600_000;

/// What a Gate simulator adds to the shared account: placements one at a time, so a `text`
/// used again always gets its own engine id.
pub(crate) struct Gate {
    pub sim: Arc<Sim>,
    pub placing: tokio::sync::Mutex<()>,
    /// Client ids of the orders the last lookup did not find yet (the engine's "not found
    /// yet" fault): Gate does not show them anywhere yet, so `my_trades` hides their trades
    /// too until a lookup finds them.
    pub unseen: std::sync::Mutex<std::collections::HashSet<String>>,
}

pub(crate) fn router(gate: Arc<Gate>) -> Router {
    Router::new().fallback(handle).with_state(gate)
}

type Answer = Result<Value, GateError>;

/// The hex SHA-512 of a body (of `""` when there is none).
fn body_hash(body: &str) -> String {
    hex::encode(Sha512::digest(body.as_bytes()))
}

/// What Gate signs: method, `/api/v4` path, query, body hash and timestamp, one a line.
fn prehash(method: &str, path: &str, query: &str, body: &str, timestamp: &str) -> String {
    format!(
        "{method}\n{path}\n{query}\n{}\n{timestamp}",
        body_hash(body)
    )
}

/// `SIGN`: the hex HMAC-SHA512 of `prehash` keyed by the secret.
fn sign(secret: &str, prehash: &str) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(prehash.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The endpoint a request is counted under: ids in the path as their placeholder.
fn endpoint(method: &Method, path: &str) -> String {
    let templated = if path.starts_with("/api/v4/spot/orders/") {
        "/api/v4/spot/orders/{order_id}"
    } else if path.starts_with("/api/v4/spot/currency_pairs/") {
        "/api/v4/spot/currency_pairs/{currency_pair}"
    } else if path.starts_with("/api/v4/spot/currencies/") {
        "/api/v4/spot/currencies/{currency}"
    } else {
        path
    };
    format!("{method} {templated}")
}

async fn handle(
    State(gate): State<Arc<Gate>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let endpoint = endpoint(&method, uri.path());
    let api = uri.path().starts_with("/api/");
    let body = String::from_utf8_lossy(&body).into_owned();
    crate::serve_request::<GateError>(gate.sim.clone(), endpoint, api, async move {
        answer(&gate, &method, &uri, &headers, &body).await
    })
    .await
}

impl crate::FaultWords for GateError {
    fn rate_limited(retry_after_s: Option<u64>) -> Response {
        GateError::rate_limited(retry_after_s).into_response()
    }

    fn unavailable(status: u16) -> Response {
        GateError::server_error(status).into_response()
    }

    /// Gate has no label for "unknown": a 504 `SERVER_ERROR`, which a client must read as
    /// possibly taken (as any 5xx on a placement).
    fn unknown_outcome() -> Response {
        GateError::server_error(504).into_response()
    }
}

async fn answer(
    gate: &Gate,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &str,
) -> Response {
    let sim = &gate.sim;
    let placing = method == Method::POST && uri.path() == "/api/v4/spot/orders";
    let answer = route(gate, method, uri, headers, body).await;
    if placing
        && answer.is_ok()
        && let Some(fault) = crate::placement_fault::<GateError>(sim).await
    {
        return fault;
    }
    match answer {
        // A created order is 201, as Gate answers it.
        Ok(v) if placing => w::ok(StatusCode::CREATED, v),
        Ok(v) => w::ok(StatusCode::OK, v),
        Err(e) => e.into_response(),
    }
}

async fn route(gate: &Gate, method: &Method, uri: &Uri, headers: &HeaderMap, body: &str) -> Answer {
    let sim = &*gate.sim;
    let not_found = || {
        GateError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("Request URL not exists: {method} {}", uri.path()),
        )
    };
    let path = uri.path().strip_prefix(PREFIX).ok_or_else(not_found)?;
    let q = Params::parse(uri.query().unwrap_or(""))
        .map_err(|e| GateError::bad("INVALID_PARAM_VALUE", e.msg))?;
    match (method.as_str(), path) {
        ("GET", "/spot/time") => return Ok(json!({"server_time": sim.now_ms()})),
        ("GET", "/spot/currency_pairs") => {
            let all = instruments(sim).await?;
            return Ok(all.iter().map(|i| pair_json(sim, i)).collect());
        }
        ("GET", p) if p.starts_with("/spot/currency_pairs/") => {
            let inst = instrument(sim, &p["/spot/currency_pairs/".len()..]).await?;
            return Ok(pair_json(sim, &inst));
        }
        ("GET", "/margin/currency_pairs") => return Ok(json!([])),
        ("GET", "/spot/currencies") => {
            return Ok(assets(sim).await?.iter().map(|a| w::currency(a)).collect());
        }
        ("GET", p) if p.starts_with("/spot/currencies/") => {
            let asked = &p["/spot/currencies/".len()..];
            return assets(sim)
                .await?
                .iter()
                .find(|a| a.as_str() == asked)
                .map(|a| w::currency(a))
                .ok_or_else(|| {
                    GateError::bad("INVALID_CURRENCY", format!("Invalid currency {asked}"))
                });
        }
        ("GET", "/spot/tickers") => return tickers(sim, q.get("currency_pair")).await,
        ("GET", "/spot/candlesticks") => return candlesticks(sim, &q).await,
        ("GET", "/spot/order_book") => return order_book(sim, &q).await,
        _ => {}
    }
    let signed = matches!(
        (method.as_str(), path),
        (
            "GET",
            "/account/detail"
                | "/spot/accounts"
                | "/spot/orders"
                | "/spot/open_orders"
                | "/spot/my_trades"
        ) | ("POST", "/spot/orders")
    ) || (matches!(method.as_str(), "GET" | "DELETE")
        && path.starts_with("/spot/orders/"));
    if !signed {
        return Err(not_found());
    }
    verify(sim, method, uri, headers, body)?;
    match (method.as_str(), path) {
        ("GET", "/account/detail") => Ok(json!({
            "user_id": 1,
            "ip_whitelist": [],
            "currency_pairs": [],
            "key": {"mode": 1},
            "tier": 0,
            "tier_expire_time": "0001-01-01T00:00:00Z",
            "copy_trading_role": 0,
        })),
        ("GET", "/spot/accounts") => accounts(sim, q.get("currency")).await,
        ("POST", "/spot/orders") => {
            let _one_at_a_time = gate.placing.lock().await;
            place(sim, &object(body)?).await
        }
        ("GET", "/spot/orders") => list_orders(sim, &q).await,
        ("GET", "/spot/open_orders") => open_orders(sim, &q).await,
        ("GET", "/spot/my_trades") => my_trades(gate, &q).await,
        ("GET", p) => {
            let inst = pair_param(sim, &q).await?;
            let o = find(gate, &inst, &p["/spot/orders/".len()..]).await?;
            Ok(w::order(&o))
        }
        (_, p) => {
            let inst = pair_param(sim, &q).await?;
            cancel(gate, &inst, &p["/spot/orders/".len()..]).await
        }
    }
}

/// Check a signed request's headers as Gate does.
fn verify(
    sim: &Sim,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &str,
) -> Result<(), GateError> {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
    };
    let missing = |n: &str| {
        GateError::auth(
            "MISSING_REQUIRED_HEADER",
            format!("Missing required authentication header: {n}"),
        )
    };
    let key = h("KEY").ok_or_else(|| missing("KEY"))?;
    if !same(key, &sim.api_key) {
        return Err(GateError::auth("INVALID_KEY", "Invalid API Key"));
    }
    let ts = h("Timestamp").ok_or_else(|| missing("Timestamp"))?;
    let ts_ms: i64 = ts
        .parse::<Decimal>()
        .ok()
        .and_then(|s| s.checked_mul(Decimal::from(1_000)))
        .and_then(|ms| i64::try_from(ms.trunc()).ok())
        .ok_or_else(|| {
            GateError::auth(
                "REQUEST_EXPIRED",
                format!("Timestamp {ts:?} is not unix seconds"),
            )
        })?;
    let now = sim.now_ms();
    let off = ts_ms.saturating_sub(now);
    if off.abs() > TIMESTAMP_WINDOW_S * 1_000 {
        return Err(GateError::auth(
            "REQUEST_EXPIRED",
            format!(
                "Request Timestamp is far from the server time: {ts} is {} s from {} (at most {TIMESTAMP_WINDOW_S} s)",
                off / 1_000,
                now / 1_000
            ),
        ));
    }
    let sent = h("SIGN").ok_or_else(|| missing("SIGN"))?;
    let secret = sim.api_secret.expose_secret();
    let raw = uri.query().unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    let signed_over = |query: &str| {
        same(
            sent,
            &sign(
                secret,
                &prehash(method.as_str(), uri.path(), query, body, ts),
            ),
        )
    };
    if !signed_over(raw) && !signed_over(&decoded) {
        return Err(GateError::auth("INVALID_SIGNATURE", "Signature mismatch"));
    }
    Ok(())
}

/// The JSON object of a POST body.
fn object(body: &str) -> Result<serde_json::Map<String, Value>, GateError> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(GateError::bad(
            "INVALID_REQUEST_BODY",
            "Invalid request body: a JSON object",
        )),
    }
}

/// Gate's label and message for an engine's refusal of an order or a cancel.
fn refusal(e: &ExchangeError) -> GateError {
    match e {
        ExchangeError::Rejected { code, message } => {
            let (label, meaning) = match code.as_str() {
                reject::LOT_STEP | reject::TICK_SIZE => ("INVALID_PRECISION", "Invalid precision"),
                reject::MIN_SIZE | reject::MIN_NOTIONAL => (
                    "AMOUNT_TOO_LITTLE",
                    "Amount does not reach minimum required",
                ),
                reject::MAX_SIZE | reject::MAX_NOTIONAL => {
                    ("AMOUNT_TOO_MUCH", "Amount exceeds maximum allowed")
                }
                reject::INSUFFICIENT_BALANCE => ("BALANCE_NOT_ENOUGH", "Balance is not enough"),
                reject::UNKNOWN_INSTRUMENT => ("INVALID_CURRENCY_PAIR", "Invalid currency pair"),
                // A listed pair that does not trade now (untradable): not an invalid pair.
                reject::NOT_TRADING => ("TRADE_RESTRICTED", "Trading is restricted"),
                reject::WOULD_TAKE => (
                    "POC_FILL_IMMEDIATELY",
                    "Order would match and take immediately so it's cancelled",
                ),
                reject::UNKNOWN_ORDER => ("ORDER_NOT_FOUND", "Order not found"),
                reject::ORDER_NOT_OPEN => ("ORDER_CLOSED", "Order already closed"),
                _ => ("INVALID_PARAM_VALUE", "Invalid parameter value"),
            };
            GateError::bad(label, format!("{meaning}: {message}"))
        }
        ExchangeError::RateLimited { retry_after_ms } => {
            GateError::rate_limited(Some(retry_after_ms.div_ceil(1_000)))
        }
        ExchangeError::Transient(_) | ExchangeError::UnknownOutcome(_) => {
            GateError::server_error(500)
        }
    }
}

/// The engine's instruments, statuses as they are now, by pair.
async fn instruments(sim: &Sim) -> Result<Vec<Instrument>, GateError> {
    let mut all = sim.paper.instruments().await.map_err(|e| refusal(&e))?;
    all.sort_by(|a, b| (&a.base, &a.quote).cmp(&(&b.base, &b.quote)));
    Ok(all)
}

async fn instrument(sim: &Sim, pair: &str) -> Result<Instrument, GateError> {
    instruments(sim)
        .await?
        .into_iter()
        .find(|i| w::pair_id(&i.base, &i.quote) == pair)
        .ok_or_else(|| GateError::invalid_pair(pair))
}

/// The instrument of the required `currency_pair` parameter.
async fn pair_param(sim: &Sim, q: &Params) -> Result<Instrument, GateError> {
    let pair = q
        .get("currency_pair")
        .ok_or_else(|| GateError::missing("currency_pair"))?;
    instrument(sim, pair).await
}

fn pair_json(sim: &Sim, i: &Instrument) -> Value {
    let fee_percent = sim.paper.config().fee_rate * Decimal::from(100);
    w::currency_pair(i, fee_percent, sim.started_ms / 1_000)
}

/// Every asset listed: the quote and each base.
async fn assets(sim: &Sim) -> Result<Vec<String>, GateError> {
    let mut out = vec![sim.paper.config().quote.clone()];
    for i in instruments(sim).await? {
        if !out.contains(&i.base) {
            out.push(i.base);
        }
    }
    Ok(out)
}

async fn tickers(sim: &Sim, only: Option<&str>) -> Answer {
    let now = sim.now_ms();
    let mut out = Vec::new();
    for i in instruments(sim).await? {
        let pair = w::pair_id(&i.base, &i.quote);
        if only.is_some_and(|o| o != pair) {
            continue;
        }
        let Some(last) = sim.paper.last_price(&i.base).await else {
            continue;
        };
        let day = sim
            .day_stats(&i.base, now)
            .day
            .unwrap_or(crate::wire::Candle::new(last));
        let volume = sim.daily_volume(&i.base);
        out.push(w::ticker(&pair, last, sim.book(&i, last), &day, volume));
    }
    if let Some(pair) = only
        && out.is_empty()
    {
        return Err(GateError::invalid_pair(pair));
    }
    Ok(Value::Array(out))
}

/// An optional integer parameter.
fn int(q: &Params, name: &str) -> Result<Option<i64>, GateError> {
    q.get(name)
        .map(|v| v.parse::<i64>().map_err(|_| GateError::param(name, v)))
        .transpose()
}

/// `limit` within `1..=max` (`default` when not sent).
fn limit(q: &Params, default: usize, max: usize) -> Result<usize, GateError> {
    match q.get("limit") {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(GateError::param("limit", v)),
        },
    }
}

/// The `page` (from 1) of `limit` items: how many to skip.
fn skip(q: &Params, limit: usize) -> Result<usize, GateError> {
    match q.get("page") {
        None => Ok(0),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok((n - 1).saturating_mul(limit)),
            _ => Err(GateError::param("page", v)),
        },
    }
}

/// `/spot/candlesticks`: oldest first. With `from` (seconds) the bars from it up to `to` (now
/// by default, both included), at most 1000 (or `limit`); without, the last `limit` (default
/// 100, at most 1000) up to `to`. `limit` with both `from` and `to` is refused, as Gate does.
async fn candlesticks(sim: &Sim, q: &Params) -> Answer {
    let inst = pair_param(sim, q).await?;
    let interval = q.get("interval").unwrap_or("30m");
    let step = w::interval_ms(interval).ok_or_else(|| GateError::param("interval", interval))?;
    let (from, to) = (int(q, "from")?, int(q, "to")?);
    if q.get("limit").is_some() && from.is_some() && to.is_some() {
        return Err(GateError::bad(
            "INVALID_PARAM_VALUE",
            "limit is conflicted with from and to",
        ));
    }
    let limit = limit(q, if from.is_some() { 1000 } else { 100 }, 1000)?;
    let now = sim.now_ms();
    let bars = sim.bars(&inst.base, step, 0);
    let within = bars.iter().filter(|(t, _)| {
        from.is_none_or(|f| *t >= f * 1_000) && to.is_none_or(|e| *t <= e * 1_000)
    });
    let picked: Vec<_> = if from.is_some() {
        within.take(limit).collect()
    } else {
        let all: Vec<_> = within.collect();
        all[all.len().saturating_sub(limit)..].to_vec()
    };
    Ok(picked
        .into_iter()
        .map(|(t, c)| w::candle(*t, c, t + step <= now))
        .collect())
}

/// `/spot/order_book`: the engine's book, one level each side.
async fn order_book(sim: &Sim, q: &Params) -> Answer {
    let inst = pair_param(sim, q).await?;
    let now = sim.now_ms();
    let (asks, bids) = match sim.paper.last_price(&inst.base).await {
        Some(last) => {
            let (bid, ask, qty) = sim.book(&inst, last);
            (
                json!([[w::amount(ask), w::amount(qty)]]),
                json!([[w::amount(bid), w::amount(qty)]]),
            )
        }
        None => (json!([]), json!([])),
    };
    Ok(json!({"id": now, "current": now, "update": now, "asks": asks, "bids": bids}))
}

async fn accounts(sim: &Sim, only: Option<&str>) -> Answer {
    let acct = sim.paper.account().await;
    let update_id = (acct.orders.len() + acct.fills.len()) as i64;
    Ok(acct
        .balances
        .iter()
        .filter(|b| only.is_none_or(|o| o == b.asset))
        .map(|b| w::account(&b.asset, b.free, b.locked, update_id))
        .collect())
}

/// `text`: `t-` then 1 to 28 letters, digits, `_`, `-` or `.`.
fn valid_text(t: &str) -> bool {
    t.strip_prefix("t-").is_some_and(|rest| {
        (1..=28).contains(&rest.len())
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    })
}

fn decimal(m: &serde_json::Map<String, Value>, name: &str) -> Result<Option<Decimal>, GateError> {
    match field(m, name) {
        None => Ok(None),
        Some(v) => match v.parse::<Decimal>() {
            Ok(d) if d > Decimal::ZERO => Ok(Some(d)),
            _ => Err(GateError::param(name, &v)),
        },
    }
}

/// The engine's client id for an order under `text`: the text itself the first time, then
/// `text#2`, `text#3`… (Gate takes a reused `text`; see the module's notes).
async fn engine_id(sim: &Sim, text: &str) -> String {
    let used = sim
        .paper
        .account()
        .await
        .orders
        .iter()
        .filter(|o| w::text_of(&o.client_id) == text)
        .count();
    if used == 0 {
        text.to_string()
    } else {
        format!("{text}{}{}", w::TEXT_REUSE, used + 1)
    }
}

/// `POST /spot/orders`: one order; the answer is the order as it stands after its placement.
async fn place(sim: &Sim, m: &serde_json::Map<String, Value>) -> Answer {
    let text = field(m, "text").map(|t| t.into_owned());
    if let Some(t) = &text
        && !valid_text(t)
    {
        return Err(GateError::bad(
            "INVALID_PARAM_VALUE",
            format!(
                "invalid argument: text {t:?} (t- then at most 28 letters, digits, '_', '-' or '.')"
            ),
        ));
    }
    let pair = field(m, "currency_pair").ok_or_else(|| GateError::missing("currency_pair"))?;
    let inst = instrument(sim, &pair).await?;
    match field(m, "account").as_deref() {
        None | Some("spot") => {}
        Some(other) => return Err(GateError::param("account", other)),
    }
    let side = match field(m, "side").as_deref() {
        Some("buy") => Side::Buy,
        Some("sell") => Side::Sell,
        None => return Err(GateError::missing("side")),
        Some(other) => return Err(GateError::param("side", other)),
    };
    let amount = decimal(m, "amount")?.ok_or_else(|| GateError::missing("amount"))?;
    let market = match field(m, "type").as_deref() {
        None | Some("limit") => false,
        Some("market") => true,
        Some(other) => return Err(GateError::param("type", other)),
    };
    let tif = field(m, "time_in_force");
    let (kind, time_in_force, post_only) = if market {
        let tif = match tif.as_deref() {
            None | Some("ioc") => TimeInForce::Gtc,
            Some("fok") => TimeInForce::Fok,
            Some(other) => {
                return Err(GateError::bad(
                    "INVALID_PARAM_VALUE",
                    format!(
                        "invalid argument: time_in_force {other:?} (a market order is ioc or fok)"
                    ),
                ));
            }
        };
        (OrderKind::Market, tif, false)
    } else {
        let price = decimal(m, "price")?.ok_or_else(|| GateError::missing("price"))?;
        let (tif, post_only) = match tif.as_deref() {
            None | Some("gtc") => (TimeInForce::Gtc, false),
            Some("ioc") => (TimeInForce::Ioc, false),
            Some("fok") => (TimeInForce::Fok, false),
            Some("poc") => (TimeInForce::Gtc, true),
            Some(other) => return Err(GateError::param("time_in_force", other)),
        };
        (OrderKind::Limit { price }, tif, post_only)
    };
    // Gate's rule: a market buy's amount is what it spends, in quote.
    let size = if market && side == Side::Buy {
        OrderSize::Quote(amount)
    } else {
        OrderSize::Base(amount)
    };
    let client_id = match &text {
        Some(t) => engine_id(sim, t).await,
        None => crate::generated_id(sim),
    };
    if sim.takes_reject(&inst, side) {
        return Err(GateError::bad(
            "ORDER_BOOK_NOT_FOUND",
            "Insufficient liquidity (an injected reject fault)",
        ));
    }
    let request = OrderRequest {
        client_id: client_id.clone(),
        base: inst.base.clone(),
        quote: inst.quote.clone(),
        side,
        size,
        kind,
        time_in_force,
        post_only,
    };
    sim.paper
        .place_order(&request)
        .await
        .map_err(|e| refusal(&e))?;
    let o = crate::placed(sim, &inst, &client_id)
        .await
        .map_err(|e| refusal(&e))?;
    Ok(w::order(&o))
}

/// The order `order_id` names on `inst`: Gate's id, or a `text` (the latest order under it)
/// while the order is open or finished less than [`TEXT_LOOKUP_MS`] ago. Through the engine's
/// lookup, so its "not found yet" fault applies as right after placement (and hides the
/// order's trades until a lookup finds it: [`Gate::unseen`]).
async fn find(gate: &Gate, inst: &Instrument, order_id: &str) -> Result<Order, GateError> {
    let sim = &*gate.sim;
    let by_text = order_id.starts_with("t-");
    let not_found = || {
        if by_text {
            GateError::new(
                StatusCode::NOT_FOUND,
                "CLIENT_ID_NOT_FOUND",
                format!("Order with text {order_id} not found"),
            )
        } else {
            GateError::new(
                StatusCode::NOT_FOUND,
                "ORDER_NOT_FOUND",
                format!("Order {order_id} not found"),
            )
        }
    };
    let now = sim.now_ms();
    let client_id = {
        let acct = sim.paper.account().await;
        let on_pair = acct
            .orders
            .iter()
            .filter(|o| o.base == inst.base && o.quote == inst.quote);
        let found = if by_text {
            on_pair
                .filter(|o| w::text_of(&o.client_id) == order_id)
                .max_by_key(|o| crate::wire::seq_id(&o.venue_id))
                .filter(|o| !o.status.is_final() || now - o.updated_ms < TEXT_LOOKUP_MS)
        } else {
            on_pair.into_iter().find(|o| w::id(&o.venue_id) == order_id)
        };
        found.map(|o| o.client_id.clone()).ok_or_else(not_found)?
    };
    match sim
        .paper
        .order(&inst.base, &inst.quote, &client_id)
        .await
        .map_err(|e| refusal(&e))?
    {
        OrderLookup::Found(o) => {
            gate.unseen().remove(&o.client_id);
            Ok(o)
        }
        OrderLookup::NotFoundYet | OrderLookup::Unknown => {
            gate.unseen().insert(client_id);
            Err(not_found())
        }
    }
}

impl Gate {
    fn unseen(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.unseen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `DELETE /spot/orders/{order_id}`: the canceled order.
async fn cancel(gate: &Gate, inst: &Instrument, order_id: &str) -> Answer {
    let o = find(gate, inst, order_id).await?;
    match gate
        .sim
        .paper
        .cancel_order(&inst.base, &inst.quote, &o.client_id)
        .await
    {
        Ok(canceled) => Ok(w::order(&canceled)),
        Err(ExchangeError::Rejected { code, .. })
            if code == reject::ORDER_NOT_OPEN && o.status == OrderStatus::Canceled =>
        {
            Err(GateError::bad("ORDER_CANCELLED", "Order already cancelled"))
        }
        Err(e) => Err(refusal(&e)),
    }
}

/// Newest first.
fn newest_first(orders: &mut [Order]) {
    orders.sort_by_key(|o| std::cmp::Reverse(crate::wire::seq_id(&o.venue_id)));
}

/// `GET /spot/orders?currency_pair=&status=open|finished`: the pair's orders, newest first, by
/// page; finished ones within `from`/`to` (seconds) and of `side` when sent.
async fn list_orders(sim: &Sim, q: &Params) -> Answer {
    let inst = pair_param(sim, q).await?;
    let status = q
        .get("status")
        .ok_or_else(|| GateError::missing("status"))?;
    let open = match status {
        "open" => true,
        "finished" => false,
        other => return Err(GateError::param("status", other)),
    };
    let limit = limit(q, 100, if open { 100 } else { 1000 })?;
    let skip = skip(q, limit)?;
    let (from, to) = (int(q, "from")?, int(q, "to")?);
    let side = q.get("side");
    let mut orders: Vec<Order> = sim
        .paper
        .account()
        .await
        .orders
        .into_iter()
        .filter(|o| o.base == inst.base && o.quote == inst.quote)
        .filter(|o| o.status.is_final() != open)
        .filter(|o| {
            from.is_none_or(|f| o.created_ms >= f * 1_000)
                && to.is_none_or(|t| o.created_ms <= t * 1_000)
        })
        .filter(|o| side.is_none_or(|s| s == w::side_name(o.side)))
        .collect();
    newest_first(&mut orders);
    Ok(orders.iter().skip(skip).take(limit).map(w::order).collect())
}

/// `GET /spot/open_orders`: open orders grouped by pair, each group newest first and at most
/// `limit` long.
async fn open_orders(sim: &Sim, q: &Params) -> Answer {
    let limit = limit(q, 100, 100)?;
    let skip = skip(q, limit)?;
    let mut open = sim.paper.open_orders().await.map_err(|e| refusal(&e))?;
    newest_first(&mut open);
    let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
    for o in &open {
        let pair = w::pair_id(&o.base, &o.quote);
        match groups.iter_mut().find(|(p, _)| *p == pair) {
            Some((_, list)) => list.push(w::order(o)),
            None => groups.push((pair, vec![w::order(o)])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(groups
        .into_iter()
        .map(|(pair, list)| {
            let total = list.len();
            let page: Vec<Value> = list.into_iter().skip(skip).take(limit).collect();
            json!({"currency_pair": pair, "total": total, "orders": page})
        })
        .collect())
}

/// `GET /spot/my_trades`: fills newest first, of a pair and an order when asked, within
/// `from`/`to` (seconds), by page.
async fn my_trades(gate: &Gate, q: &Params) -> Answer {
    let sim = &*gate.sim;
    let pair = match q.get("currency_pair") {
        Some(p) => Some(instrument(sim, p).await?),
        None => None,
    };
    let order_id = q.get("order_id");
    let limit = limit(q, 100, 1000)?;
    let skip = skip(q, limit)?;
    let (from, to) = (int(q, "from")?, int(q, "to")?);
    let acct = sim.paper.account().await;
    let unseen = gate.unseen().clone();
    let mut fills: Vec<_> = acct
        .fills
        .iter()
        .filter(|f| !unseen.contains(&f.client_id))
        .filter(|f| {
            pair.as_ref()
                .is_none_or(|i| f.base == i.base && f.quote == i.quote)
        })
        .filter(|f| order_id.is_none_or(|o| w::id(&f.venue_order_id) == o))
        .filter(|f| {
            from.is_none_or(|s| f.time_ms >= s * 1_000) && to.is_none_or(|e| f.time_ms <= e * 1_000)
        })
        .collect();
    fills.sort_by_key(|f| std::cmp::Reverse(crate::wire::seq_id(&f.fill_id)));
    Ok(fills
        .into_iter()
        .skip(skip)
        .take(limit)
        .map(|f| {
            let maker = acct
                .orders
                .iter()
                .find(|o| o.venue_id == f.venue_order_id)
                .is_some_and(|o| o.post_only);
            w::my_trade(f, maker)
        })
        .collect())
}
