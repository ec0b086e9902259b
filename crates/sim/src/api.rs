//! The routes: Binance spot REST over the paper engine.

use crate::wire::{self, ApiError, Params};
use crate::{AfterPlacement, Sim, usage};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use smartfolio_exchange::{
    Exchange, ExchangeError, Instrument, Order, OrderKind, OrderLookup, OrderRequest, OrderSize,
    Side, TimeInForce, reject,
};
use std::sync::Arc;

/// The largest `recvWindow` Binance accepts.
const MAX_RECV_WINDOW: i64 = 60_000;
/// How far ahead of the server's clock a timestamp may be.
const AHEAD_MS: i64 = 1_000;

pub(crate) fn router(sim: Arc<Sim>) -> Router {
    Router::new().fallback(handle).with_state(sim)
}

type Answer = Result<Value, ApiError>;

async fn handle(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = uri.query().unwrap_or("");
    let body = String::from_utf8_lossy(&body);
    // Every `/api/` request counts its weight, whatever its answer (as on Binance); every
    // request is counted by endpoint.
    let endpoint = format!("{method} {}", uri.path());
    let used_weight = if uri.path().starts_with("/api/") {
        let params = Params::parse(&joined(query, &body)).unwrap_or_default();
        let w = usage::weight(method.as_str(), uri.path(), &params);
        Some(sim.usage().request(&endpoint, sim.now_ms(), w))
    } else {
        sim.usage().request(&endpoint, sim.now_ms(), 0);
        None
    };
    // The answer is worked out on its own task: a client that goes away (a timeout, a killed
    // process) does not stop the venue half-way through an order, as it does not stop Binance.
    // Dropped with the connection, the engine could be cut between writing an order to its
    // account store and taking it in memory (its next order then reused the id).
    let owned = (sim.clone(), query.to_string(), body.to_string());
    let task = tokio::spawn(async move {
        let (sim, query, body) = owned;
        answer(&sim, &method, &uri, &query, &body, &headers).await
    });
    let mut resp = match task.await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("simulator request failed: {e}");
            refused(500, None).into_response()
        }
    };
    if let Some(w) = used_weight {
        resp.headers_mut()
            .insert("x-mbx-used-weight-1m", HeaderValue::from(w));
    }
    resp
}

/// The query string and the form body as one parameter string (Binance reads both).
fn joined(query: &str, body: &str) -> String {
    match (query.is_empty(), body.is_empty()) {
        (_, true) => query.to_string(),
        (true, false) => body.to_string(),
        (false, false) => format!("{query}&{body}"),
    }
}

async fn answer(
    sim: &Sim,
    method: &Method,
    uri: &Uri,
    query: &str,
    body: &str,
    headers: &HeaderMap,
) -> Response {
    let api = uri.path().starts_with("/api/") || uri.path().starts_with("/sapi/");
    if api && let Some((status, retry_after_s)) = sim.take_request_faults().await {
        return refused(status, retry_after_s).into_response();
    }
    let placing = method == Method::POST && uri.path() == "/api/v3/order";
    let answer = route(sim, method, uri.path(), query, body, headers).await;
    let orders = (placing && answer.is_ok()).then(|| sim.usage().order(sim.now_ms()));
    if placing && answer.is_ok() {
        match sim.after_placement().await {
            AfterPlacement::Answer => {}
            // The order stands; its answer never came.
            AfterPlacement::Dropped => return refused(503, None).into_response(),
            AfterPlacement::Unknown => {
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    -1007,
                    "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
                )
                .into_response();
            }
        }
    }
    let mut resp = match answer {
        Ok(v) => {
            let mut resp = (StatusCode::OK, v.to_string()).into_response();
            resp.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json;charset=UTF-8"),
            );
            resp
        }
        Err(e) => e.into_response(),
    };
    if let Some((ten_s, day)) = orders {
        let h = resp.headers_mut();
        h.insert("x-mbx-order-count-10s", HeaderValue::from(ten_s));
        h.insert("x-mbx-order-count-1d", HeaderValue::from(day));
    }
    resp
}

/// An injected refusal: 503 (the venue's own trouble), 429 or 418 (rate limits).
fn refused(status: u16, retry_after_s: Option<u64>) -> ApiError {
    let mut e = match status {
        429 => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            -1003,
            "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
        ),
        418 => ApiError::new(
            StatusCode::IM_A_TEAPOT,
            -1003,
            "Way too much request weight used; IP banned until later. Please use WebSocket Streams for live updates to avoid bans.",
        ),
        // Binance's own words for a 5xx whose outcome it does not know.
        _ => ApiError::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            -1000,
            "An unknown error occurred while processing the request.",
        ),
    };
    e.retry_after_s = retry_after_s;
    e
}

async fn route(
    sim: &Sim,
    method: &Method,
    path: &str,
    query: &str,
    body: &str,
    headers: &HeaderMap,
) -> Answer {
    // Binance reads the parameters from the query string and the form body together.
    let params = Params::parse(&joined(query, body))?;
    match (method.as_str(), path) {
        ("GET", "/api/v3/ping") => return Ok(json!({})),
        ("GET", "/api/v3/time") => return Ok(json!({"serverTime": sim.now_ms()})),
        ("GET", "/api/v3/exchangeInfo") => return exchange_info(sim, &params).await,
        ("GET", "/api/v3/ticker/price") => return tickers(sim, &params, Ticker::Price).await,
        ("GET", "/api/v3/ticker/bookTicker") => return tickers(sim, &params, Ticker::Book).await,
        ("GET", "/api/v3/ticker/24hr") => {
            let kind = match params.get("type").unwrap_or("FULL") {
                "FULL" => Ticker::Day { mini: false },
                "MINI" => Ticker::Day { mini: true },
                _ => return Err(ApiError::illegal("type", "FULL or MINI")),
            };
            return tickers(sim, &params, kind).await;
        }
        ("GET", "/api/v3/klines") => return klines(sim, &params).await,
        _ => {}
    }
    let signed = matches!(
        (method.as_str(), path),
        ("GET", "/api/v3/account")
            | ("POST" | "GET" | "DELETE", "/api/v3/order")
            | ("GET", "/api/v3/openOrders" | "/api/v3/myTrades")
            | (
                "GET",
                "/sapi/v1/account/apiRestrictions" | "/sapi/v1/capital/config/getall"
            )
    );
    if !signed {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            -1000,
            format!("The simulator does not serve {method} {path}."),
        ));
    }
    verify(sim, headers, query, body, &params)?;
    match (method.as_str(), path) {
        ("GET", "/api/v3/account") => account(sim, &params).await,
        ("GET", "/sapi/v1/account/apiRestrictions") => Ok(api_restrictions(sim)),
        ("GET", "/sapi/v1/capital/config/getall") => coins(sim).await,
        ("POST", "/api/v3/order") => new_order(sim, &params).await,
        ("DELETE", "/api/v3/order") => cancel_order(sim, &params).await,
        ("GET", "/api/v3/order") => query_order(sim, &params).await,
        ("GET", "/api/v3/openOrders") => open_orders(sim, &params).await,
        _ => my_trades(sim, &params).await,
    }
}

/// `payload` without its `signature=…` part, and that signature.
fn split_signature(payload: &str) -> (String, Option<String>) {
    let mut kept = Vec::new();
    let mut signature = None;
    for part in payload.split('&').filter(|p| !p.is_empty()) {
        match part.strip_prefix("signature=") {
            Some(s) => signature = Some(s.to_string()),
            None => kept.push(part),
        }
    }
    (kept.join("&"), signature)
}

/// Check a SIGNED request as Binance does: the key, then the signature over the query string
/// concatenated with the body (as sent), then the timestamp against `recvWindow`.
fn verify(
    sim: &Sim,
    headers: &HeaderMap,
    query: &str,
    body: &str,
    params: &Params,
) -> Result<(), ApiError> {
    let key = headers.get("x-mbx-apikey").and_then(|v| v.to_str().ok());
    let key = match key {
        Some(k) if !k.is_empty() => k,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                -2014,
                "API-key format invalid.",
            ));
        }
    };
    if !crate::same(key, &sim.api_key) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        ));
    }
    let (q, q_sig) = split_signature(query);
    let (b, b_sig) = split_signature(body);
    let Some(sent) = q_sig.or(b_sig) else {
        return Err(ApiError::mandatory("signature"));
    };
    let payload = format!("{q}{b}");
    let expected = smartfolio_binance::sign::sign(sim.api_secret.expose_secret(), &payload);
    if !crate::same(&sent, &expected) {
        return Err(ApiError::bad(
            -1022,
            "Signature for this request is not valid.",
        ));
    }
    let timestamp = params
        .int("timestamp")?
        .ok_or_else(|| ApiError::mandatory("timestamp"))?;
    let window = params.int("recvWindow")?.unwrap_or(5_000);
    if !(0..=MAX_RECV_WINDOW).contains(&window) {
        return Err(ApiError::bad(
            -1131,
            format!("recvWindow must be less than {MAX_RECV_WINDOW}."),
        ));
    }
    let now = sim.now_ms();
    if timestamp > now + AHEAD_MS {
        return Err(ApiError::bad(
            -1021,
            format!("Timestamp for this request was {AHEAD_MS}ms ahead of the server's time."),
        ));
    }
    if now - timestamp > window {
        return Err(ApiError::bad(
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(())
}

/// Binance's answer for an engine error.
fn engine_error(e: ExchangeError) -> ApiError {
    match e {
        ExchangeError::Rejected { code, message } => {
            let (code, msg) = match code.as_str() {
                reject::LOT_STEP | reject::MIN_SIZE | reject::MAX_SIZE => {
                    (-1013, format!("Filter failure: LOT_SIZE ({message})"))
                }
                reject::MIN_NOTIONAL | reject::MAX_NOTIONAL => {
                    (-1013, format!("Filter failure: NOTIONAL ({message})"))
                }
                reject::TICK_SIZE => (-1013, format!("Filter failure: PRICE_FILTER ({message})")),
                reject::PRICE_BAND => (
                    -1013,
                    format!("Filter failure: PERCENT_PRICE_BY_SIDE ({message})"),
                ),
                reject::WOULD_TAKE => (-2010, "Order would immediately match and take.".into()),
                reject::INSUFFICIENT_BALANCE => (
                    -2010,
                    "Account has insufficient balance for requested action.".into(),
                ),
                reject::UNKNOWN_INSTRUMENT => (-1121, "Invalid symbol.".into()),
                reject::NOT_TRADING => (-2010, "Market is closed.".into()),
                reject::DUPLICATE_CLIENT_ID => (-2010, "Duplicate order sent.".into()),
                reject::UNKNOWN_ORDER => (-2013, "Order does not exist.".into()),
                reject::ORDER_NOT_OPEN => (-2011, "Unknown order sent.".into()),
                reject::NO_PRICE => (-2010, format!("No price yet: {message}")),
                _ => (-1013, message),
            };
            ApiError::bad(code, msg)
        }
        ExchangeError::RateLimited { retry_after_ms } => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                -1003,
                "Too much request weight used; please use WebSocket Streams for live updates to avoid polling the API.",
            );
            e.retry_after_s = Some(retry_after_ms.div_ceil(1_000));
            e
        }
        ExchangeError::Transient(m) | ExchangeError::UnknownOutcome(m) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            -1000,
            format!("An unknown error occurred while processing the request. ({m})"),
        ),
    }
}

/// The engine's instruments (statuses as they are now), under Binance's symbols.
async fn instruments(sim: &Sim) -> Result<Vec<Instrument>, ApiError> {
    let mut all = sim.paper.instruments().await.map_err(engine_error)?;
    for i in &mut all {
        i.symbol = wire::symbol(&i.base, &i.quote);
    }
    Ok(all)
}

async fn instrument(sim: &Sim, symbol: &str) -> Result<Instrument, ApiError> {
    instruments(sim)
        .await?
        .into_iter()
        .find(|i| i.symbol == symbol)
        .ok_or_else(ApiError::invalid_symbol)
}

async fn exchange_info(sim: &Sim, params: &Params) -> Answer {
    let all = instruments(sim).await?;
    let listed: Vec<&Instrument> = match params.symbols()? {
        None => all.iter().collect(),
        Some(wanted) => wanted
            .iter()
            .map(|s| all.iter().find(|i| &i.symbol == s))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(ApiError::invalid_symbol)?,
    };
    let limits = {
        let f = sim.faults();
        wire::rate_limits(
            f.weight_limit.unwrap_or(6_000),
            f.order_limit.unwrap_or(100),
        )
    };
    Ok(json!({
        "timezone": "UTC",
        "serverTime": sim.now_ms(),
        "rateLimits": limits,
        "exchangeFilters": [],
        "symbols": listed.into_iter().map(wire::symbol_info).collect::<Vec<_>>(),
    }))
}

/// Which ticker an endpoint answers.
#[derive(Clone, Copy)]
enum Ticker {
    /// `ticker/price`.
    Price,
    /// `ticker/bookTicker`.
    Book,
    /// `ticker/24hr`, `FULL` or `MINI`.
    Day { mini: bool },
}

async fn tickers(sim: &Sim, params: &Params, kind: Ticker) -> Answer {
    let wanted = params.symbols()?;
    let all = instruments(sim).await?;
    let chosen: Vec<&Instrument> = match &wanted {
        None => all.iter().collect(),
        Some(w) => w
            .iter()
            .map(|s| all.iter().find(|i| &i.symbol == s))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(ApiError::invalid_symbol)?,
    };
    let now = sim.now_ms();
    let mut out = Vec::with_capacity(chosen.len());
    for i in chosen {
        let Some(last) = sim.paper.last_price(&i.base).await else {
            if wanted.is_some() {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    -1000,
                    format!("No price yet for {}.", i.symbol),
                ));
            }
            continue;
        };
        out.push(match kind {
            Ticker::Price => json!({"symbol": i.symbol, "price": wire::amount(last)}),
            Ticker::Book => {
                let (bid, ask, qty) = sim.book(i, last);
                json!({
                    "symbol": i.symbol,
                    "bidPrice": wire::amount(bid),
                    "bidQty": wire::amount(qty),
                    "askPrice": wire::amount(ask),
                    "askQty": wire::amount(qty),
                })
            }
            Ticker::Day { mini } => {
                let stats = sim.day_stats(&i.base, now);
                let book = (!mini).then(|| sim.book(i, last));
                let volume = sim.daily_volume(&i.base);
                wire::day_ticker(&i.symbol, last, &stats, book, volume)
            }
        });
    }
    match wanted {
        Some(w) if w.len() == 1 && params.get("symbol").is_some() => {
            Ok(out.into_iter().next().unwrap_or(Value::Null))
        }
        _ => Ok(Value::Array(out)),
    }
}

async fn klines(sim: &Sim, params: &Params) -> Answer {
    let inst = instrument(sim, params.required("symbol")?).await?;
    let interval = params.required("interval")?;
    let step =
        wire::interval_ms(interval).ok_or_else(|| ApiError::bad(-1120, "Invalid interval."))?;
    let start = params.int("startTime")?;
    let end = params.int("endTime")?;
    let limit = params.int("limit")?.unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::illegal("limit", "1 to 1000"));
    }
    let mut rows = sim.bars(&inst.base, step, 0);
    rows.retain(|(t, _)| start.is_none_or(|s| t + step > s) && end.is_none_or(|e| *t <= e));
    let limit = limit as usize;
    let rows: Vec<&(i64, wire::Candle)> = if start.is_some() {
        rows.iter().take(limit).collect()
    } else {
        rows.iter().skip(rows.len().saturating_sub(limit)).collect()
    };
    Ok(Value::Array(
        rows.into_iter()
            .map(|(t, c)| wire::kline(*t, step, c))
            .collect(),
    ))
}

/// `GET /sapi/v1/account/apiRestrictions`: the simulator's key reads and trades spot, and
/// cannot withdraw (the simulator has no withdrawals) unless
/// [`crate::Simulator::set_key_can_withdraw`] says it can (a key to refuse).
fn api_restrictions(sim: &Sim) -> Value {
    json!({
        "ipRestrict": true,
        "createTime": sim.started_ms,
        "enableReading": true,
        "enableSpotAndMarginTrading": true,
        "enableWithdrawals": sim.key_can_withdraw.load(std::sync::atomic::Ordering::SeqCst),
        "enableInternalTransfer": false,
        "enableMargin": false,
        "enableFutures": false,
        "permitsUniversalTransfer": false,
        "enableVanillaOptions": false,
        "enableFixApiTrade": false,
        "enableFixReadOnly": false,
        "enablePortfolioMarginTrading": false,
    })
}

/// `GET /sapi/v1/capital/config/getall`: every asset the simulator lists (the quote and each
/// instrument's base) with the account's balance of it. The simulator has no chains: no
/// networks, and deposits and withdrawals are off.
async fn coins(sim: &Sim) -> Answer {
    let acct = sim.paper.account().await;
    let mut assets: Vec<String> = vec![sim.paper.config().quote.clone()];
    for i in instruments(sim).await? {
        if !assets.contains(&i.base) {
            assets.push(i.base);
        }
    }
    for b in &acct.balances {
        if !assets.contains(&b.asset) {
            assets.push(b.asset.clone());
        }
    }
    Ok(Value::Array(
        assets
            .iter()
            .map(|a| {
                let b = acct.balances.iter().find(|b| &b.asset == a);
                let free = b.map_or(Decimal::ZERO, |b| b.free);
                let locked = b.map_or(Decimal::ZERO, |b| b.locked);
                wire::coin(a, free, locked)
            })
            .collect(),
    ))
}

async fn account(sim: &Sim, p: &Params) -> Answer {
    let omit_zero = match p.get("omitZeroBalances") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::illegal("omitZeroBalances", "true or false")),
    };
    let acct = sim.paper.account().await;
    let fee = sim.paper.config().fee_rate;
    let bps = (fee * Decimal::from(10_000)).round();
    let balances: Vec<Value> = acct
        .balances
        .iter()
        .filter(|b| !omit_zero || !(b.free + b.locked).is_zero())
        .map(|b| {
            json!({"asset": b.asset, "free": wire::amount(b.free), "locked": wire::amount(b.locked)})
        })
        .collect();
    Ok(json!({
        "makerCommission": bps,
        "takerCommission": bps,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": wire::amount(fee),
            "taker": wire::amount(fee),
            "buyer": wire::amount(Decimal::ZERO),
            "seller": wire::amount(Decimal::ZERO),
        },
        "canTrade": true,
        "canWithdraw": false,
        "canDeposit": true,
        "brokered": false,
        "requireSelfTradePrevention": false,
        "preventSor": false,
        "updateTime": sim.paper.now_ms().await,
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": 1,
    }))
}

/// Binance's pattern for client order ids.
fn valid_client_id(s: &str) -> bool {
    (1..=36).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '/' | '_' | '-'))
}

const CLIENT_ID_PATTERN: &str = "^[\\.A-Z\\:/a-z0-9_-]{1,36}$";

fn order_id(o: &Order) -> Result<i64, ApiError> {
    wire::seq_id(&o.venue_id).ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            -1000,
            format!("The engine's order id {} is not numbered.", o.venue_id),
        )
    })
}

async fn new_order(sim: &Sim, p: &Params) -> Answer {
    let inst = instrument(sim, p.required("symbol")?).await?;
    let side = match p.required("side")? {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        _ => return Err(ApiError::bad(-1117, "Invalid side.")),
    };
    let order_type = p.required("type")?;
    let quantity = p.decimal("quantity")?;
    let quote_qty = p.decimal("quoteOrderQty")?;
    let price = p.decimal("price")?;
    let resp_default = match order_type {
        "MARKET" | "LIMIT" => "FULL",
        _ => "ACK",
    };
    let resp = p.get("newOrderRespType").unwrap_or(resp_default);
    if !matches!(resp, "ACK" | "RESULT" | "FULL") {
        return Err(ApiError::bad(-1177, "Invalid newOrderRespType."));
    }
    let (kind, size, tif, post_only) = match order_type {
        "MARKET" => {
            let size = match (quantity, quote_qty) {
                (Some(q), None) => OrderSize::Base(q),
                (None, Some(q)) => OrderSize::Quote(q),
                (Some(_), Some(_)) => {
                    return Err(ApiError::bad(
                        -1106,
                        "Parameter 'quoteOrderQty' sent when not required.",
                    ));
                }
                (None, None) => {
                    return Err(ApiError::bad(
                        -1102,
                        "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
                    ));
                }
            };
            (OrderKind::Market, size, TimeInForce::Gtc, false)
        }
        "LIMIT" | "LIMIT_MAKER" => {
            if quote_qty.is_some() {
                return Err(ApiError::bad(
                    -1106,
                    "Parameter 'quoteOrderQty' sent when not required.",
                ));
            }
            let q = quantity.ok_or_else(|| ApiError::mandatory("quantity"))?;
            let price = price.ok_or_else(|| ApiError::mandatory("price"))?;
            if order_type == "LIMIT_MAKER" {
                if p.get("timeInForce").is_some() {
                    return Err(ApiError::bad(
                        -1106,
                        "Parameter 'timeInForce' sent when not required.",
                    ));
                }
                (
                    OrderKind::Limit { price },
                    OrderSize::Base(q),
                    TimeInForce::Gtc,
                    true,
                )
            } else {
                let tif = match p.required("timeInForce")? {
                    "GTC" => TimeInForce::Gtc,
                    "IOC" => TimeInForce::Ioc,
                    "FOK" => TimeInForce::Fok,
                    _ => return Err(ApiError::bad(-1115, "Invalid timeInForce.")),
                };
                (OrderKind::Limit { price }, OrderSize::Base(q), tif, false)
            }
        }
        _ => return Err(ApiError::bad(-1116, "Invalid orderType.")),
    };
    let client_id = match p.get("newClientOrderId") {
        Some(id) if valid_client_id(id) => id.to_string(),
        Some(_) => return Err(ApiError::illegal("newClientOrderId", CLIENT_ID_PATTERN)),
        None => crate::generated_id(sim),
    };
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
        return Err(ApiError::bad(
            -2010,
            "Order rejected by the simulator (an injected reject fault).",
        ));
    }
    sim.paper
        .place_order(&request)
        .await
        .map_err(engine_error)?;
    let order = crate::placed(sim, &inst, &client_id)
        .await
        .map_err(|_| ApiError::bad(-2013, "Order does not exist."))?;
    let id = order_id(&order)?;
    let fills = if resp == "FULL" {
        sim.paper
            .fills(&inst.base, &inst.quote, &client_id)
            .await
            .map_err(engine_error)?
    } else {
        Vec::new()
    };
    Ok(wire::order_placed(&order, id, resp, &fills))
}

/// The order named by `orderId` or `origClientOrderId`, through the engine's lookup (its
/// lookup faults apply: a "not found yet" is `-2013`, as on Binance right after placement).
async fn lookup(sim: &Sim, inst: &Instrument, p: &Params) -> Result<Order, ApiError> {
    let client_id = match (p.int("orderId")?, p.get("origClientOrderId")) {
        (_, Some(c)) => c.to_string(),
        (Some(id), None) => {
            let acct = sim.paper.account().await;
            match acct.orders.iter().find(|o| {
                wire::seq_id(&o.venue_id) == Some(id)
                    && o.base == inst.base
                    && o.quote == inst.quote
            }) {
                Some(o) => o.client_id.clone(),
                None => return Err(ApiError::bad(-2013, "Order does not exist.")),
            }
        }
        (None, None) => {
            return Err(ApiError::bad(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            ));
        }
    };
    match sim
        .paper
        .order(&inst.base, &inst.quote, &client_id)
        .await
        .map_err(engine_error)?
    {
        OrderLookup::Found(o) => {
            if let Some(id) = p.int("orderId")?
                && wire::seq_id(&o.venue_id) != Some(id)
            {
                return Err(ApiError::bad(-2013, "Order does not exist."));
            }
            Ok(o)
        }
        OrderLookup::NotFoundYet | OrderLookup::Unknown => {
            Err(ApiError::bad(-2013, "Order does not exist."))
        }
    }
}

async fn query_order(sim: &Sim, p: &Params) -> Answer {
    let inst = instrument(sim, p.required("symbol")?).await?;
    let o = lookup(sim, &inst, p).await?;
    Ok(wire::order_query(&o, order_id(&o)?))
}

async fn cancel_order(sim: &Sim, p: &Params) -> Answer {
    let inst = instrument(sim, p.required("symbol")?).await?;
    let o = match lookup(sim, &inst, p).await {
        Ok(o) => o,
        // A cancel of an order Binance does not know says so in its own words.
        Err(e) if e.code == -2013 => return Err(ApiError::bad(-2011, "Unknown order sent.")),
        Err(e) => return Err(e),
    };
    let ended = sim
        .paper
        .cancel_order(&inst.base, &inst.quote, &o.client_id)
        .await
        .map_err(engine_error)?;
    let cancel_id = match p.get("newClientOrderId") {
        Some(id) if valid_client_id(id) => id.to_string(),
        Some(_) => return Err(ApiError::illegal("newClientOrderId", CLIENT_ID_PATTERN)),
        None => crate::generated_id(sim),
    };
    Ok(wire::order_cancel(
        &ended,
        order_id(&ended)?,
        &cancel_id,
        sim.now_ms(),
    ))
}

async fn open_orders(sim: &Sim, p: &Params) -> Answer {
    let only = match p.get("symbol") {
        Some(s) => Some(instrument(sim, s).await?),
        None => None,
    };
    let orders = sim.paper.open_orders().await.map_err(engine_error)?;
    let mut out = Vec::with_capacity(orders.len());
    for o in orders.iter().filter(|o| {
        only.as_ref()
            .is_none_or(|i| i.base == o.base && i.quote == o.quote)
    }) {
        out.push(wire::order_query(o, order_id(o)?));
    }
    Ok(Value::Array(out))
}

async fn my_trades(sim: &Sim, p: &Params) -> Answer {
    let inst = instrument(sim, p.required("symbol")?).await?;
    let order_id = p.int("orderId")?;
    let start = p.int("startTime")?;
    let end = p.int("endTime")?;
    let from_id = p.int("fromId")?;
    let limit = p.int("limit")?.unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::illegal("limit", "1 to 1000"));
    }
    if let (Some(s), Some(e)) = (start, end)
        && (e < s || e - s > 86_400_000)
    {
        return Err(ApiError::bad(
            -1127,
            "More than 24 hours between startTime and endTime.",
        ));
    }
    let acct = sim.paper.account().await;
    let mut trades: Vec<_> = acct
        .fills
        .iter()
        .filter(|f| f.base == inst.base && f.quote == inst.quote)
        .filter(|f| order_id.is_none_or(|id| wire::seq_id(&f.venue_order_id) == Some(id)))
        .filter(|f| start.is_none_or(|s| f.time_ms >= s) && end.is_none_or(|e| f.time_ms <= e))
        .filter(|f| from_id.is_none_or(|id| wire::seq_id(&f.fill_id).is_some_and(|t| t >= id)))
        .collect();
    trades.sort_by_key(|f| wire::seq_id(&f.fill_id));
    let limit = limit as usize;
    // From a start (time or id), the oldest first; otherwise the most recent.
    let trades: Vec<_> = if start.is_some() || from_id.is_some() {
        trades.into_iter().take(limit).collect()
    } else {
        let skip = trades.len().saturating_sub(limit);
        trades.into_iter().skip(skip).collect()
    };
    Ok(Value::Array(
        trades
            .into_iter()
            .map(|f| {
                let order = acct.orders.iter().find(|o| o.venue_id == f.venue_order_id);
                wire::my_trade(f, order)
            })
            .collect(),
    ))
}
