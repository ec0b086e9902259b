//! The routes of OKX v5's REST over the paper engine: what `smartfolio-okx` and ccxt's `okx`
//! call.
//!
//! - public: `GET /api/v5/public/time`, `/public/instruments` (SPOT; other types list
//!   nothing), `/market/tickers`, `/market/ticker`, `/market/candles`,
//!   `/market/history-candles`;
//! - signed: `GET /api/v5/account/balance`, `/account/config` (`perm`), `/asset/currencies`,
//!   `POST /api/v5/trade/order`, `/trade/batch-orders`, `/trade/cancel-order`,
//!   `/trade/cancel-batch-orders`, `GET /api/v5/trade/order` (by `ordId` or `clOrdId`),
//!   `/trade/orders-pending`, `/trade/fills` and `/trade/fills-history`.
//!
//! Signed requests are checked as OKX checks them: `OK-ACCESS-KEY` (`50103` missing, `50111`
//! unknown), `OK-ACCESS-PASSPHRASE` (`50104`, `50105`), `OK-ACCESS-TIMESTAMP` (`50107`,
//! `50112` unreadable, `50102` more than 30 s from the server's clock), `OK-ACCESS-SIGN`
//! (`50106`, `50113`: verified with the connector's own [`smartfolio_okx::sign`] over the
//! timestamp, method, path with query and body), and the environment (`x-simulated-trading: 1` on a demo
//! simulator only, `50101` otherwise). The faults are the Binance simulator's in OKX's words:
//! a rate limit is HTTP 429 `50011`, a 5xx is `50001` (nothing done), an unknown outcome after
//! a placement took effect is `50004`, a lookup "not found yet" is `51603`, a halt is the
//! instrument's `suspend` and refuses orders with `51009`, an injected reject is `51010`.

use crate::okx_wire::{self as w, OkxError};
use crate::wire::Params;
use crate::{Sim, body_field as field, same};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use smartfolio_exchange::{
    Exchange, ExchangeError, Fill, Instrument, Order, OrderKind, OrderLookup, OrderRequest,
    OrderSize, Side, TimeInForce, reject,
};
use std::sync::Arc;

/// How far a request's timestamp may be from the server's clock.
const TIMESTAMP_WINDOW_MS: i64 = 30_000;

/// What an OKX simulator adds to the shared account: the key's passphrase, and whether the
/// key is a demo-trading key.
pub(crate) struct Okx {
    pub sim: Arc<Sim>,
    pub passphrase: SecretString,
    pub demo: bool,
}

pub(crate) fn router(okx: Arc<Okx>) -> Router {
    Router::new().fallback(handle).with_state(okx)
}

type Answer = Result<Vec<Value>, OkxError>;

async fn handle(
    State(okx): State<Arc<Okx>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let endpoint = format!("{method} {}", uri.path());
    let api = uri.path().starts_with("/api/");
    let body = String::from_utf8_lossy(&body).into_owned();
    crate::serve_request::<OkxError>(okx.sim.clone(), endpoint, api, async move {
        answer(&okx, &method, &uri, &headers, &body).await
    })
    .await
}

impl crate::FaultWords for OkxError {
    fn rate_limited(retry_after_s: Option<u64>) -> Response {
        OkxError::rate_limited(retry_after_s).into_response()
    }

    fn unavailable(status: u16) -> Response {
        OkxError::unavailable(status).into_response()
    }

    fn unknown_outcome() -> Response {
        OkxError::endpoint_timeout().into_response()
    }
}

async fn answer(
    okx: &Okx,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &str,
) -> Response {
    let sim = &okx.sim;
    if uri.path().starts_with("/api/") && !within_limits(sim, method, uri, body) {
        return OkxError::rate_limited(None).into_response();
    }
    let placing = method == Method::POST && uri.path() == "/api/v5/trade/order";
    let answer = route(okx, method, uri, headers, body).await;
    if placing
        && answer.is_ok()
        && let Some(fault) = crate::placement_fault::<OkxError>(sim).await
    {
        return fault;
    }
    match answer {
        Ok(data) => w::ok(data),
        Err(e) => e.into_response(),
    }
}

/// With OKX's limits enforced ([`crate::Faults::okx_strict_limits`]), whether the request
/// stays within its endpoint's count in the last 2 s: the counts and what shares one are the
/// connector's own table ([`smartfolio_okx::limits`], OKX's documented limits), the instrument
/// read from the query or the body's `instId`.
fn within_limits(sim: &Sim, method: &Method, uri: &Uri, body: &str) -> bool {
    if !sim.faults().okx_strict_limits {
        return true;
    }
    let query = Params::parse(uri.query().unwrap_or("")).ok();
    let from_body = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|b| b.get("instId").and_then(Value::as_str).map(str::to_string));
    let inst = query
        .as_ref()
        .and_then(|q| q.get("instId").map(str::to_string))
        .or(from_body);
    let (key, limit) =
        smartfolio_okx::limits::budget_key(method.as_str(), uri.path(), inst.as_deref());
    sim.within_limit(&key, limit)
}

async fn route(okx: &Okx, method: &Method, uri: &Uri, headers: &HeaderMap, body: &str) -> Answer {
    let sim = &*okx.sim;
    let path = uri.path();
    let q = Params::parse(uri.query().unwrap_or(""))
        .map_err(|e| OkxError::new(axum::http::StatusCode::BAD_REQUEST, "50000", e.msg))?;
    match (method.as_str(), path) {
        ("GET", "/api/v5/public/time") => return Ok(vec![json!({"ts": sim.now_ms().to_string()})]),
        ("GET", "/api/v5/public/instruments") => return instruments(sim, &q).await,
        ("GET", "/api/v5/market/tickers") => {
            if q.get("instType")
                .ok_or_else(|| OkxError::missing("instType"))?
                != "SPOT"
            {
                return Ok(vec![]);
            }
            return tickers(sim, None).await;
        }
        ("GET", "/api/v5/market/ticker") => {
            let inst = q.get("instId").ok_or_else(|| OkxError::missing("instId"))?;
            return tickers(sim, Some(inst)).await;
        }
        ("GET", "/api/v5/market/candles") => return candles(sim, &q, 300).await,
        ("GET", "/api/v5/market/history-candles") => return candles(sim, &q, 100).await,
        _ => {}
    }
    let signed = matches!(
        (method.as_str(), path),
        (
            "GET",
            "/api/v5/account/balance"
                | "/api/v5/account/config"
                | "/api/v5/asset/currencies"
                | "/api/v5/trade/order"
                | "/api/v5/trade/orders-pending"
                | "/api/v5/trade/fills"
                | "/api/v5/trade/fills-history"
        ) | (
            "POST",
            "/api/v5/trade/order"
                | "/api/v5/trade/batch-orders"
                | "/api/v5/trade/cancel-order"
                | "/api/v5/trade/cancel-batch-orders"
        )
    );
    if !signed {
        return Err(OkxError::new(
            axum::http::StatusCode::NOT_FOUND,
            "50000",
            format!("The simulator does not serve {method} {path}."),
        ));
    }
    verify(okx, method, uri, headers, body)?;
    match (method.as_str(), path) {
        ("GET", "/api/v5/account/balance") => balance(sim, &q).await,
        ("GET", "/api/v5/account/config") => Ok(vec![account_config(okx)]),
        ("GET", "/api/v5/asset/currencies") => currencies(sim).await,
        ("GET", "/api/v5/trade/order") => {
            let inst = instrument(
                sim,
                q.get("instId").ok_or_else(|| OkxError::missing("instId"))?,
            )
            .await?;
            let o = lookup(sim, &inst, q.get("ordId"), q.get("clOrdId")).await?;
            Ok(vec![order_json(sim, &o).await])
        }
        ("GET", "/api/v5/trade/orders-pending") => orders_pending(sim, &q).await,
        ("GET", _) => fills(sim, &q).await,
        ("POST", "/api/v5/trade/order") => {
            let req = object(body)?;
            place(sim, &req).await.map(|item| vec![item])
        }
        ("POST", "/api/v5/trade/cancel-order") => {
            let req = object(body)?;
            cancel(sim, &req).await.map(|item| vec![item])
        }
        // A batch is taken one order at a time and stops at the first refused.
        ("POST", "/api/v5/trade/batch-orders") => {
            let items = array(body)?;
            let mut out = Vec::new();
            for req in &items {
                out.push(place(sim, req).await?);
            }
            Ok(out)
        }
        _ => {
            let items = array(body)?;
            let mut out = Vec::new();
            for req in &items {
                out.push(cancel(sim, req).await?);
            }
            Ok(out)
        }
    }
}

/// Check a signed request's headers as OKX does.
fn verify(
    okx: &Okx,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &str,
) -> Result<(), OkxError> {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
    };
    let key = h("ok-access-key")
        .ok_or_else(|| OkxError::auth("50103", "Request header OK-ACCESS-KEY cannot be empty."))?;
    if !same(key, &okx.sim.api_key) {
        return Err(OkxError::auth("50111", "Invalid OK-ACCESS-KEY."));
    }
    let passphrase = h("ok-access-passphrase").ok_or_else(|| {
        OkxError::auth(
            "50104",
            "Request header OK-ACCESS-PASSPHRASE cannot be empty.",
        )
    })?;
    if !same(passphrase, okx.passphrase.expose_secret()) {
        return Err(OkxError::auth(
            "50105",
            "Request header OK-ACCESS-PASSPHRASE incorrect.",
        ));
    }
    let demo = h(smartfolio_okx::sign::DEMO_HEADER) == Some("1");
    if demo != okx.demo {
        return Err(OkxError::auth(
            "50101",
            "APIKey does not match current environment.",
        ));
    }
    let ts = h("ok-access-timestamp").ok_or_else(|| {
        OkxError::auth(
            "50107",
            "Request header OK-ACCESS-TIMESTAMP cannot be empty.",
        )
    })?;
    let ts_ms = chrono::DateTime::parse_from_rfc3339(ts)
        .map(|t| t.timestamp_millis())
        .map_err(|_| OkxError::auth("50112", "Invalid OK-ACCESS-TIMESTAMP."))?;
    if (ts_ms - okx.sim.now_ms()).abs() > TIMESTAMP_WINDOW_MS {
        return Err(OkxError::auth("50102", "Timestamp request expired."));
    }
    let sent = h("ok-access-sign")
        .ok_or_else(|| OkxError::auth("50106", "Request header OK-ACCESS-SIGN cannot be empty."))?;
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let expected = smartfolio_okx::sign::sign(
        okx.sim.api_secret.expose_secret(),
        &smartfolio_okx::sign::prehash(ts, method.as_str(), path, body),
    );
    if !same(sent, &expected) {
        return Err(OkxError::auth("50113", "Invalid Sign."));
    }
    Ok(())
}

/// The JSON object of a POST body.
fn object(body: &str) -> Result<serde_json::Map<String, Value>, OkxError> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(OkxError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "50002",
            "JSON syntax error",
        )),
    }
}

/// The JSON array of objects of a batch's body.
fn array(body: &str) -> Result<Vec<serde_json::Map<String, Value>>, OkxError> {
    let bad = || {
        OkxError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "50002",
            "JSON syntax error",
        )
    };
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Array(items)) if !items.is_empty() => items
            .into_iter()
            .map(|i| match i {
                Value::Object(m) => Ok(m),
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

fn decimal(m: &serde_json::Map<String, Value>, name: &str) -> Result<Option<Decimal>, OkxError> {
    match field(m, name) {
        None => Ok(None),
        Some(v) => match v.parse::<Decimal>() {
            Ok(d) if d > Decimal::ZERO => Ok(Some(d)),
            _ => Err(OkxError::param(name)),
        },
    }
}

/// OKX's code and message for an engine's refusal of an order or a cancel.
fn refusal(e: &ExchangeError, quote: &str) -> (&'static str, String) {
    match e {
        ExchangeError::Rejected { code, message } => match code.as_str() {
            reject::LOT_STEP => (
                "51121",
                format!("Order quantity must be a multiple of the lot size. ({message})"),
            ),
            reject::MIN_SIZE | reject::MIN_NOTIONAL => (
                "51020",
                format!("Your order should meet or exceed the minimum order amount. ({message})"),
            ),
            reject::MAX_SIZE => (
                "51202",
                format!("Market order amount exceeds the maximum amount. ({message})"),
            ),
            reject::MAX_NOTIONAL => (
                "51201",
                format!("Value of per market order cannot exceed the maximum. ({message})"),
            ),
            reject::PRICE_BAND => (
                "51006",
                format!("Order price is not within the price limit. ({message})"),
            ),
            reject::INSUFFICIENT_BALANCE => (
                "51008",
                format!("Order failed. Insufficient {quote} balance in account. ({message})"),
            ),
            reject::UNKNOWN_INSTRUMENT => ("51001", "Instrument ID does not exist.".into()),
            reject::NOT_TRADING => (
                "51009",
                "Order placement function is blocked by the platform.".into(),
            ),
            reject::DUPLICATE_CLIENT_ID => ("51016", "Duplicated clOrdId".into()),
            reject::UNKNOWN_ORDER => ("51603", "Order does not exist".into()),
            reject::ORDER_NOT_OPEN => (
                "51401",
                "Cancellation failed as the order is already canceled or filled.".into(),
            ),
            _ => ("51000", format!("Parameter error: {message}")),
        },
        ExchangeError::RateLimited { .. } => ("50011", "Too Many Requests".into()),
        ExchangeError::Transient(m) | ExchangeError::UnknownOutcome(m) => {
            ("50026", format!("System error. ({m})"))
        }
    }
}

/// An engine's failure outside an order item: a rate limit, OKX's system error, or a refusal
/// with its code.
fn engine_error(e: ExchangeError) -> OkxError {
    match &e {
        ExchangeError::RateLimited { retry_after_ms } => {
            OkxError::rate_limited(Some(retry_after_ms.div_ceil(1_000)))
        }
        ExchangeError::Transient(_) | ExchangeError::UnknownOutcome(_) => {
            let (code, msg) = refusal(&e, "");
            OkxError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, code, msg)
        }
        ExchangeError::Rejected { .. } => {
            let (code, msg) = refusal(&e, "");
            OkxError::business(code, msg)
        }
    }
}

/// The engine's instruments, statuses as they are now.
async fn all_instruments(sim: &Sim) -> Result<Vec<Instrument>, OkxError> {
    sim.paper.instruments().await.map_err(engine_error)
}

async fn instrument(sim: &Sim, inst_id: &str) -> Result<Instrument, OkxError> {
    all_instruments(sim)
        .await?
        .into_iter()
        .find(|i| w::inst_id(&i.base, &i.quote) == inst_id)
        .ok_or_else(|| OkxError::business("51001", "Instrument ID does not exist."))
}

async fn instruments(sim: &Sim, q: &Params) -> Answer {
    let kind = q
        .get("instType")
        .ok_or_else(|| OkxError::missing("instType"))?;
    if kind != "SPOT" {
        return Ok(vec![]);
    }
    let all = all_instruments(sim).await?;
    let wanted = q.get("instId");
    let out: Vec<Value> = all
        .iter()
        .filter(|i| wanted.is_none_or(|id| w::inst_id(&i.base, &i.quote) == id))
        .map(|i| w::instrument(i, sim.started_ms))
        .collect();
    if wanted.is_some() && out.is_empty() {
        return Err(OkxError::business("51001", "Instrument ID does not exist."));
    }
    Ok(out)
}

async fn tickers(sim: &Sim, only: Option<&str>) -> Answer {
    let all = all_instruments(sim).await?;
    let now = sim.now_ms();
    let mut out = Vec::new();
    for i in &all {
        let id = w::inst_id(&i.base, &i.quote);
        if only.is_some_and(|o| o != id) {
            continue;
        }
        let Some(last) = sim.paper.last_price(&i.base).await else {
            continue;
        };
        let day = sim.day_stats(&i.base, now).day;
        let volume = sim.daily_volume(&i.base);
        out.push(w::ticker(
            &id,
            last,
            sim.book(i, last),
            day.as_ref(),
            now,
            volume,
        ));
    }
    if only.is_some() && out.is_empty() {
        return Err(OkxError::business("51001", "Instrument ID does not exist."));
    }
    Ok(out)
}

async fn candles(sim: &Sim, q: &Params, max_limit: i64) -> Answer {
    let inst = instrument(
        sim,
        q.get("instId").ok_or_else(|| OkxError::missing("instId"))?,
    )
    .await?;
    let (step, offset) =
        w::bar(q.get("bar").unwrap_or("1m")).ok_or_else(|| OkxError::param("bar"))?;
    let int = |name: &str| -> Result<Option<i64>, OkxError> {
        q.get(name)
            .map(|v| v.parse::<i64>().map_err(|_| OkxError::param(name)))
            .transpose()
    };
    let (after, before) = (int("after")?, int("before")?);
    let limit = int("limit")?.unwrap_or(100);
    if !(1..=max_limit).contains(&limit) {
        return Err(OkxError::param("limit"));
    }
    let now = sim.now_ms();
    let bars = sim.bars(&inst.base, step, offset);
    // Newest first: `after` asks for bars older than it, `before` for newer.
    Ok(bars
        .iter()
        .rev()
        .filter(|(t, _)| after.is_none_or(|a| *t < a) && before.is_none_or(|b| *t > b))
        .take(limit as usize)
        .map(|(t, c)| w::candle(*t, c, t + step <= now))
        .collect())
}

async fn balance(sim: &Sim, q: &Params) -> Answer {
    let only: Option<Vec<&str>> = q.get("ccy").map(|c| c.split(',').collect());
    let acct = sim.paper.account().await;
    let now = sim.now_ms();
    let details: Vec<Value> = acct
        .balances
        .iter()
        .filter(|b| only.as_ref().is_none_or(|o| o.contains(&b.asset.as_str())))
        .map(|b| w::balance_detail(&b.asset, b.free, b.locked, now))
        .collect();
    Ok(vec![json!({
        "adjEq": "",
        "details": details,
        "imr": "",
        "isoEq": "0",
        "mgnRatio": "",
        "mmr": "",
        "notionalUsd": "",
        "ordFroz": "",
        "totalEq": "",
        "uTime": now.to_string(),
    })])
}

/// `/account/config`: the key reads and trades (and withdraws when the simulator is told so:
/// a key to refuse).
fn account_config(okx: &Okx) -> Value {
    let mut perm = "read_only,trade".to_string();
    if okx
        .sim
        .key_can_withdraw
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        perm.push_str(",withdraw");
    }
    json!({
        "uid": "1",
        "mainUid": "1",
        "acctLv": "1",
        "posMode": "net_mode",
        "autoLoan": false,
        "greeksType": "PA",
        "level": "Lv1",
        "levelTmp": "",
        "ctIsoMode": "automatic",
        "mgnIsoMode": "automatic",
        "spotOffsetType": "",
        "roleType": "0",
        "traderInsts": [],
        "spotRoleType": "0",
        "spotTraderInsts": [],
        "opAuth": "0",
        "kycLv": "1",
        "label": "smartfolio-sim",
        "ip": "",
        "perm": perm,
        "liquidationGear": "-1",
        "enableSpotBorrow": false,
        "spotBorrowAutoRepay": false,
        "type": "0",
    })
}

/// `/asset/currencies`: every asset listed, one chain each, deposits and withdrawals off (the
/// simulator has no chains).
async fn currencies(sim: &Sim) -> Answer {
    let mut assets = vec![sim.paper.config().quote.clone()];
    for i in all_instruments(sim).await? {
        if !assets.contains(&i.base) {
            assets.push(i.base);
        }
    }
    Ok(assets
        .iter()
        .map(|a| {
            json!({
                "ccy": a, "name": a, "chain": format!("{a}-{a}"), "logoLink": "",
                "canDep": false, "canWd": false, "canInternal": false,
                "minDep": "0", "minWd": "0", "maxWd": "0", "wdTickSz": "8", "wdQuota": "0",
                "usedWdQuota": "0", "fee": "0", "minFee": "0", "maxFee": "0", "mainNet": true,
                "needTag": false, "minDepArrivalConfirm": "1", "minWdUnlockConfirm": "1",
                "depQuotaFixed": "", "usedDepQuotaFixed": "", "depQuoteDailyLayer2": "",
                "burningFeeRate": "", "ctAddr": "", "depEstOpenTime": "", "wdEstOpenTime": "",
            })
        })
        .collect())
}

/// `clOrdId`: 1 to 32 letters and digits.
fn valid_cl_ord_id(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// `POST /trade/order`: one order, refused in its item (`sCode`) as OKX refuses it.
async fn place(sim: &Sim, m: &serde_json::Map<String, Value>) -> Result<Value, OkxError> {
    let now = sim.now_ms();
    let cl = field(m, "clOrdId").map(|c| c.into_owned());
    let refused = |code: &str, msg: &str| {
        OkxError::order_refused(cl.as_deref().unwrap_or(""), "", code, msg, now)
    };
    if let Some(c) = &cl
        && !valid_cl_ord_id(c)
    {
        return Err(refused("51000", "Parameter clOrdId error"));
    }
    let inst_id = field(m, "instId").ok_or_else(|| OkxError::missing("instId"))?;
    let inst = match instrument(sim, &inst_id).await {
        Ok(i) => i,
        Err(e) => return Err(refused(&e.code, &e.msg)),
    };
    match field(m, "tdMode").as_deref() {
        Some("cash") => {}
        None => return Err(OkxError::missing("tdMode")),
        Some(_) => return Err(refused("51000", "Parameter tdMode error")),
    }
    let side = match field(m, "side").as_deref() {
        Some("buy") => Side::Buy,
        Some("sell") => Side::Sell,
        None => return Err(OkxError::missing("side")),
        Some(_) => return Err(refused("51000", "Parameter side error")),
    };
    let sz = decimal(m, "sz")
        .map_err(|_| refused("51000", "Parameter sz error"))?
        .ok_or_else(|| OkxError::missing("sz"))?;
    let px = decimal(m, "px").map_err(|_| refused("51000", "Parameter px error"))?;
    let ord_type = field(m, "ordType").ok_or_else(|| OkxError::missing("ordType"))?;
    let (kind, tif, post_only) = match ord_type.as_ref() {
        "market" => (OrderKind::Market, TimeInForce::Gtc, false),
        "limit" | "post_only" | "ioc" | "fok" => {
            let price = px.ok_or_else(|| refused("51000", "Parameter px error"))?;
            let tif = match ord_type.as_ref() {
                "ioc" => TimeInForce::Ioc,
                "fok" => TimeInForce::Fok,
                _ => TimeInForce::Gtc,
            };
            (
                OrderKind::Limit { price },
                tif,
                ord_type.as_ref() == "post_only",
            )
        }
        _ => return Err(refused("51000", "Parameter ordType error")),
    };
    let size = match (kind, field(m, "tgtCcy").as_deref()) {
        (OrderKind::Market, Some("quote_ccy")) => OrderSize::Quote(sz),
        (OrderKind::Market, Some("base_ccy")) => OrderSize::Base(sz),
        // OKX's default: a market buy's `sz` is quote, a sell's base.
        (OrderKind::Market, None) if side == Side::Buy => OrderSize::Quote(sz),
        (OrderKind::Market, None) => OrderSize::Base(sz),
        (OrderKind::Market, Some(_)) => return Err(refused("51000", "Parameter tgtCcy error")),
        (OrderKind::Limit { .. }, _) => OrderSize::Base(sz),
    };
    let client_id = cl.clone().unwrap_or_else(|| crate::generated_id(sim));
    let request = OrderRequest {
        client_id: client_id.clone(),
        base: inst.base.clone(),
        quote: inst.quote.clone(),
        side,
        size,
        kind,
        time_in_force: tif,
        post_only,
    };
    if sim.takes_reject(&inst, side) {
        // A code of OKX's that means no shared class (as Binance's -2010): the venue's refusal.
        return Err(refused(
            "51010",
            "Order rejected by the simulator (an injected reject fault).",
        ));
    }
    if let Err(e) = sim.paper.place_order(&request).await {
        if let ExchangeError::RateLimited { .. } = e {
            return Err(engine_error(e));
        }
        let (code, msg) = refusal(&e, &inst.quote);
        return Err(refused(code, &msg));
    }
    let o = crate::placed(sim, &inst, &client_id)
        .await
        .map_err(engine_error)?;
    Ok(w::order_item(
        &client_id,
        &w::id(&o.venue_id),
        "0",
        "Order placed",
        now,
    ))
}

/// The order named by `ordId` (which wins) or `clOrdId`, through the engine's lookup (its
/// lookup faults apply: a "not found yet" is `51603`, as right after placement).
async fn lookup(
    sim: &Sim,
    inst: &Instrument,
    ord_id: Option<&str>,
    cl_ord_id: Option<&str>,
) -> Result<Order, OkxError> {
    let not_found = || OkxError::business("51603", "Order does not exist");
    let client_id = match (ord_id, cl_ord_id) {
        (Some(id), _) => {
            let acct = sim.paper.account().await;
            acct.orders
                .iter()
                .find(|o| w::id(&o.venue_id) == id && o.base == inst.base && o.quote == inst.quote)
                .map(|o| o.client_id.clone())
                .ok_or_else(not_found)?
        }
        (None, Some(c)) => c.to_string(),
        (None, None) => return Err(OkxError::missing("ordId or clOrdId")),
    };
    match sim
        .paper
        .order(&inst.base, &inst.quote, &client_id)
        .await
        .map_err(engine_error)?
    {
        OrderLookup::Found(o) => Ok(o),
        OrderLookup::NotFoundYet | OrderLookup::Unknown => Err(not_found()),
    }
}

/// An order with its last fill.
async fn order_json(sim: &Sim, o: &Order) -> Value {
    let acct = sim.paper.account().await;
    let last: Option<&Fill> = acct
        .fills
        .iter()
        .filter(|f| f.venue_order_id == o.venue_id)
        .max_by_key(|f| crate::wire::seq_id(&f.fill_id));
    w::order(o, last)
}

/// `POST /trade/cancel-order`: cancel one open order by `ordId` or `clOrdId`.
async fn cancel(sim: &Sim, m: &serde_json::Map<String, Value>) -> Result<Value, OkxError> {
    let now = sim.now_ms();
    let ord_id = field(m, "ordId").map(|c| c.into_owned());
    let cl = field(m, "clOrdId").map(|c| c.into_owned());
    let refused = |code: &str, msg: &str| {
        OkxError::order_refused(
            cl.as_deref().unwrap_or(""),
            ord_id.as_deref().unwrap_or(""),
            code,
            msg,
            now,
        )
    };
    let inst_id = field(m, "instId").ok_or_else(|| OkxError::missing("instId"))?;
    let inst = match instrument(sim, &inst_id).await {
        Ok(i) => i,
        Err(e) => return Err(refused(&e.code, &e.msg)),
    };
    let o = match lookup(sim, &inst, ord_id.as_deref(), cl.as_deref()).await {
        Ok(o) => o,
        Err(e) if e.code == "51603" => {
            return Err(refused(
                "51400",
                "Order cancellation failed as the order has been filled, canceled or does not exist.",
            ));
        }
        Err(e) => return Err(e),
    };
    if let Err(e) = sim
        .paper
        .cancel_order(&inst.base, &inst.quote, &o.client_id)
        .await
    {
        let (code, msg) = match (&e, o.status) {
            (ExchangeError::Rejected { code, .. }, smartfolio_exchange::OrderStatus::Filled)
                if code == reject::ORDER_NOT_OPEN =>
            {
                (
                    "51402",
                    "Cancellation failed as the order has been filled.".to_string(),
                )
            }
            _ => refusal(&e, &inst.quote),
        };
        return Err(refused(code, &msg));
    }
    Ok(w::order_item(
        &o.client_id,
        &w::id(&o.venue_id),
        "0",
        "",
        now,
    ))
}

/// Ids compared as numbers (OKX's are decimal strings).
fn num(id: &str) -> i64 {
    id.parse().unwrap_or(0)
}

fn page_limit(q: &Params) -> Result<usize, OkxError> {
    match q.get("limit") {
        None => Ok(100),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err(OkxError::param("limit")),
        },
    }
}

/// `/trade/orders-pending`: open orders newest first; `after`/`before` page by `ordId`.
async fn orders_pending(sim: &Sim, q: &Params) -> Answer {
    if q.get("instType").is_some_and(|t| t != "SPOT") {
        return Ok(vec![]);
    }
    let only = q.get("instId");
    let (after, before) = (q.get("after").map(num), q.get("before").map(num));
    let limit = page_limit(q)?;
    let mut open = sim.paper.open_orders().await.map_err(engine_error)?;
    open.retain(|o| {
        let n = num(&w::id(&o.venue_id));
        only.is_none_or(|i| w::inst_id(&o.base, &o.quote) == i)
            && after.is_none_or(|a| n < a)
            && before.is_none_or(|b| n > b)
    });
    open.sort_by_key(|o| std::cmp::Reverse(num(&w::id(&o.venue_id))));
    let mut out = Vec::new();
    for o in open.iter().take(limit) {
        out.push(order_json(sim, o).await);
    }
    Ok(out)
}

/// `/trade/fills` and `/trade/fills-history`: fills newest first; `after`/`before` page by
/// `billId`, `begin`/`end` bound the time (ms).
async fn fills(sim: &Sim, q: &Params) -> Answer {
    if q.get("instType").is_some_and(|t| t != "SPOT") {
        return Ok(vec![]);
    }
    let int = |name: &str| -> Result<Option<i64>, OkxError> {
        q.get(name)
            .map(|v| v.parse::<i64>().map_err(|_| OkxError::param(name)))
            .transpose()
    };
    let (after, before, begin, end) = (int("after")?, int("before")?, int("begin")?, int("end")?);
    let limit = page_limit(q)?;
    let (only, ord_id) = (q.get("instId"), q.get("ordId"));
    let acct = sim.paper.account().await;
    let mut out: Vec<(i64, Value)> = acct
        .fills
        .iter()
        .filter(|f| only.is_none_or(|i| w::inst_id(&f.base, &f.quote) == i))
        .filter(|f| ord_id.is_none_or(|o| w::id(&f.venue_order_id) == o))
        .filter(|f| begin.is_none_or(|b| f.time_ms >= b) && end.is_none_or(|e| f.time_ms <= e))
        .filter_map(|f| {
            let n = crate::wire::seq_id(&f.fill_id)?;
            (after.is_none_or(|a| n < a) && before.is_none_or(|b| n > b)).then(|| {
                let maker = acct
                    .orders
                    .iter()
                    .find(|o| o.venue_id == f.venue_order_id)
                    .is_some_and(|o| o.post_only);
                (n, w::fill(f, maker))
            })
        })
        .collect();
    out.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
    Ok(out.into_iter().take(limit).map(|(_, v)| v).collect())
}
