//! The HTTP client for Binance spot's REST API.
//!
//! - reqwest with rustls (no OpenSSL), one connection pool reused by every call, a connect
//!   timeout and a whole-request timeout.
//! - Keys are [`secrecy`] secrets: exposed only to sign and to fill `X-MBX-APIKEY`, never in a
//!   `Debug`, a log line or an error.
//! - Signed calls carry `timestamp` = local clock + the offset measured from `/api/v3/time`. A
//!   `-1021` refreshes the offset and signs the request again, once (it was refused, so nothing
//!   was done: this is the one resend allowed, for orders too).
//! - Every call first takes its weight from the [`RateLimiter`] (budgets from
//!   `exchangeInfo.rateLimits`, raised by the used-weight headers); a 429 or 418 bans all calls
//!   for `Retry-After`. A call that may not be sent now fails at once with a rate-limited error
//!   saying how long to wait; it never sleeps.
//! - Failures are classified ([`ErrorClass`]): a placement or cancel that timed out after
//!   sending, or got a 5xx, `-1006` or `-1007`, is `UnknownOutcome`, never retried here.

use crate::error::{BinanceError, ErrorClass};
use crate::limits::{Cost, RateLimiter};
use crate::model::{
    Account, ApiRestrictions, BookTicker, ErrorBody, ExchangeInfo, Kline, MyTrade, OrderResponse,
    RateLimitType, ServerTime, Ticker24h, TickerPrice,
};
use crate::order::NewOrder;
use crate::sign;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use smartfolio_exchange::ClockOffset;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

/// The production REST base.
pub const DEFAULT_BASE_URL: &str = "https://api.binance.com";

/// An API key and its secret. `Debug` shows neither.
#[derive(Clone)]
pub struct Credentials {
    api_key: SecretString,
    secret: SecretString,
}

impl Credentials {
    pub fn new(api_key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            api_key: SecretString::from(api_key.into()),
            secret: SecretString::from(secret.into()),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials { api_key: [REDACTED], secret: [REDACTED] }")
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://api.binance.com`, a testnet, or the local simulator.
    pub base_url: String,
    /// `recvWindow` of signed calls (Binance: default 5000, at most 60000).
    pub recv_window_ms: u64,
    /// The whole request, from connecting to the last byte of the answer.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_string(),
            recv_window_ms: 5_000,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// The local clock, shared by every connector.
pub use smartfolio_exchange::time::{LocalClock, system_clock};

/// What a `myTrades` query asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TradesQuery {
    pub symbol: String,
    /// Only this order's trades.
    pub order_id: Option<i64>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    /// Trades with an id ≥ this one.
    pub from_id: Option<i64>,
    /// At most this many (Binance: default 500, at most 1000).
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
    Delete,
}

struct Call<'a> {
    method: Method,
    path: &'a str,
    params: Vec<(&'static str, String)>,
    signed: bool,
    cost: Cost,
}

impl Call<'_> {
    /// Placing and canceling change the account; everything else only reads.
    fn mutating(&self) -> bool {
        self.method != Method::Get
    }
}

struct State {
    /// Server time − local time: the median of the last `/api/v3/time` readings.
    offset: ClockOffset,
    limiter: RateLimiter,
}

/// A Binance spot REST client for one account (or none, for public data).
pub struct BinanceClient {
    http: reqwest::Client,
    config: ClientConfig,
    credentials: Option<Credentials>,
    clock: LocalClock,
    state: Mutex<State>,
}

impl fmt::Debug for BinanceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BinanceClient")
            .field("base_url", &self.config.base_url)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// A client that could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the Binance HTTP client: {0}")]
pub struct BuildError(String);

impl BinanceClient {
    /// A client on `config`, signing with `credentials` (None: public data only), reading time
    /// from `clock`.
    pub fn new(
        config: ClientConfig,
        credentials: Option<Credentials>,
        clock: LocalClock,
    ) -> Result<Self, BuildError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("smartfolio/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BuildError(e.to_string()))?;
        Ok(Self {
            http,
            config: ClientConfig {
                base_url: config.base_url.trim_end_matches('/').to_string(),
                ..config
            },
            credentials,
            clock,
            state: Mutex::new(State {
                offset: ClockOffset::new(),
                limiter: RateLimiter::default(),
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-written (every update
        // is one assignment), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where and how it connects (the base URL, `recvWindow`, the timeouts).
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The offset (server − local, ms) in use, once measured.
    pub fn clock_offset_ms(&self) -> Option<i64> {
        self.state().offset.offset_ms()
    }

    /// The venue's time now, as this client reckons it.
    pub fn venue_now_ms(&self) -> i64 {
        self.state().offset.venue_time((self.clock)())
    }

    /// `GET /api/v3/time`.
    pub async fn server_time(&self) -> Result<i64, BinanceError> {
        let t: ServerTime = self
            .call(public(Method::Get, "/api/v3/time", vec![], 1))
            .await?;
        Ok(t.server_time)
    }

    /// Read the server time once and record a sample of the clock offset (server time − the
    /// local midpoint of the round trip). Returns the offset now in use (the median of the last
    /// samples).
    pub async fn sync_clock(&self) -> Result<i64, BinanceError> {
        let call = public(Method::Get, "/api/v3/time", vec![], 1);
        let sent = (self.clock)();
        // Straight to `send`: `call` itself measures the offset on a -1021.
        let body = self.send(&call).await?;
        let received = (self.clock)();
        let server = parse::<ServerTime>(&call, &body)?.server_time;
        let mut st = self.state();
        st.offset.record(sent, server, received);
        Ok(st.offset.offset_ms().unwrap_or(0))
    }

    /// `GET /api/v3/exchangeInfo` (all symbols, or `symbols`). Its `rateLimits` become this
    /// client's budgets.
    pub async fn exchange_info(&self, symbols: &[&str]) -> Result<ExchangeInfo, BinanceError> {
        let params = match symbols {
            [] => vec![],
            [one] => vec![("symbol", one.to_string())],
            many => vec![("symbols", json_list(many))],
        };
        let info: ExchangeInfo = self
            .call(public(Method::Get, "/api/v3/exchangeInfo", params, 20))
            .await?;
        if !info.rate_limits.is_empty() {
            self.state().limiter.set_limits(&info.rate_limits);
        }
        Ok(info)
    }

    /// `GET /api/v3/account`, zero balances left out.
    pub async fn account(&self) -> Result<Account, BinanceError> {
        let params = vec![("omitZeroBalances", "true".to_string())];
        self.call(signed(
            Method::Get,
            "/api/v3/account",
            params,
            Cost::weight(20),
        ))
        .await
    }

    /// `GET /sapi/v1/account/apiRestrictions`: what the key may do (withdraw, trade, …).
    pub async fn api_restrictions(&self) -> Result<ApiRestrictions, BinanceError> {
        // SAPI weights are counted apart from the spot API's.
        let cost = Cost::weight(0);
        self.call(signed(
            Method::Get,
            "/sapi/v1/account/apiRestrictions",
            vec![],
            cost,
        ))
        .await
    }

    /// `GET /api/v3/ticker/price` for `symbols` (all symbols when empty).
    pub async fn ticker_prices(&self, symbols: &[&str]) -> Result<Vec<TickerPrice>, BinanceError> {
        self.per_symbol("/api/v3/ticker/price", symbols).await
    }

    /// `GET /api/v3/ticker/bookTicker` for `symbols` (all symbols when empty).
    pub async fn book_tickers(&self, symbols: &[&str]) -> Result<Vec<BookTicker>, BinanceError> {
        self.per_symbol("/api/v3/ticker/bookTicker", symbols).await
    }

    /// `GET /api/v3/ticker/24hr?symbol=..&type=MINI` (weight 2 for one symbol).
    pub async fn ticker_24h(&self, symbol: &str) -> Result<Ticker24h, BinanceError> {
        let params = vec![("symbol", symbol.to_string()), ("type", "MINI".to_string())];
        self.call(public(Method::Get, "/api/v3/ticker/24hr", params, 2))
            .await
    }

    /// One symbol answers an object, several or all an array.
    async fn per_symbol<T: DeserializeOwned>(
        &self,
        path: &str,
        symbols: &[&str],
    ) -> Result<Vec<T>, BinanceError> {
        match symbols {
            [one] => {
                let params = vec![("symbol", one.to_string())];
                Ok(vec![self.call(public(Method::Get, path, params, 2)).await?])
            }
            [] => self.call(public(Method::Get, path, vec![], 4)).await,
            many => {
                let params = vec![("symbols", json_list(many))];
                self.call(public(Method::Get, path, params, 4)).await
            }
        }
    }

    /// `POST /api/v3/order`. The caller has stored `order.client_order_id` first.
    pub async fn new_order(&self, order: &NewOrder) -> Result<OrderResponse, BinanceError> {
        let params = order
            .params()
            .map_err(|e| BinanceError::local(ErrorClass::Rejected, format!("not sent: {e}")))?;
        self.call(signed(
            Method::Post,
            "/api/v3/order",
            params,
            Cost::order(1),
        ))
        .await
    }

    /// `GET /api/v3/order` by our client id. A `NotFound` error right after placing is not
    /// proof the order was never received.
    pub async fn order(
        &self,
        symbol: &str,
        client_order_id: &str,
    ) -> Result<OrderResponse, BinanceError> {
        self.by_client_id(Method::Get, symbol, client_order_id, 4)
            .await
    }

    /// `DELETE /api/v3/order` by our client id; the answer is the order as it ended.
    pub async fn cancel_order(
        &self,
        symbol: &str,
        client_order_id: &str,
    ) -> Result<OrderResponse, BinanceError> {
        self.by_client_id(Method::Delete, symbol, client_order_id, 1)
            .await
    }

    /// `GET /api/v3/order` by Binance's order id (to learn an order's client id from a trade).
    pub async fn order_by_id(
        &self,
        symbol: &str,
        order_id: i64,
    ) -> Result<OrderResponse, BinanceError> {
        let params = vec![
            ("symbol", symbol.to_string()),
            ("orderId", order_id.to_string()),
        ];
        self.call(signed(
            Method::Get,
            "/api/v3/order",
            params,
            Cost::weight(4),
        ))
        .await
    }

    async fn by_client_id(
        &self,
        method: Method,
        symbol: &str,
        client_order_id: &str,
        weight: u32,
    ) -> Result<OrderResponse, BinanceError> {
        let params = vec![
            ("symbol", symbol.to_string()),
            ("origClientOrderId", client_order_id.to_string()),
        ];
        let cost = Cost::weight(weight);
        self.call(signed(method, "/api/v3/order", params, cost))
            .await
    }

    /// `GET /api/v3/openOrders`, of one symbol or of all.
    pub async fn open_orders(
        &self,
        symbol: Option<&str>,
    ) -> Result<Vec<OrderResponse>, BinanceError> {
        let (params, weight) = match symbol {
            Some(s) => (vec![("symbol", s.to_string())], 6),
            None => (vec![], 80),
        };
        self.call(signed(
            Method::Get,
            "/api/v3/openOrders",
            params,
            Cost::weight(weight),
        ))
        .await
    }

    /// `GET /api/v3/myTrades`.
    pub async fn my_trades(&self, q: &TradesQuery) -> Result<Vec<MyTrade>, BinanceError> {
        let mut params = vec![("symbol", q.symbol.clone())];
        let mut opt = |k: &'static str, v: Option<i64>| {
            if let Some(v) = v {
                params.push((k, v.to_string()));
            }
        };
        opt("orderId", q.order_id);
        opt("startTime", q.start_time);
        opt("endTime", q.end_time);
        opt("fromId", q.from_id);
        opt("limit", q.limit.map(i64::from));
        let weight = if q.order_id.is_some() { 5 } else { 20 };
        self.call(signed(
            Method::Get,
            "/api/v3/myTrades",
            params,
            Cost::weight(weight),
        ))
        .await
    }

    /// `GET /api/v3/klines` (public): `interval` as Binance spells it (`1h`, `1d`).
    pub async fn klines(
        &self,
        symbol: &str,
        interval: &str,
        start_time: Option<i64>,
        end_time: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Vec<Kline>, BinanceError> {
        let mut params = vec![
            ("symbol", symbol.to_string()),
            ("interval", interval.to_string()),
        ];
        if let Some(t) = start_time {
            params.push(("startTime", t.to_string()));
        }
        if let Some(t) = end_time {
            params.push(("endTime", t.to_string()));
        }
        if let Some(l) = limit {
            params.push(("limit", l.to_string()));
        }
        self.call(public(Method::Get, "/api/v3/klines", params, 2))
            .await
    }

    /// Send `call`; on `-1021`, measure the clock offset again and send it once more.
    async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, BinanceError> {
        let body = match self.send(&call).await {
            Err(e) if e.class == ErrorClass::Timestamp && call.signed => {
                tracing::warn!(
                    path = call.path,
                    "binance refused the timestamp (-1021): measuring the clock offset and signing again"
                );
                // The samples so far led to a refused timestamp: start again from a new one.
                self.state().offset.reset();
                self.sync_clock().await?;
                self.send(&call).await?
            }
            other => other?,
        };
        parse(&call, &body)
    }

    /// One request: budget, sign, send, read the limits headers, classify a failure.
    async fn send(&self, call: &Call<'_>) -> Result<String, BinanceError> {
        let now = self.venue_now_ms();
        self.state().limiter.acquire(now, call.cost).map_err(|w| {
            BinanceError::local(
                ErrorClass::RateLimited {
                    retry_after_ms: Some(w.wait_ms),
                    banned: false,
                },
                format!("not sent: {}", w.reason),
            )
        })?;
        let mut payload = sign::encode_params(&call.params);
        let mut api_key = None;
        if call.signed {
            let creds = self.credentials.as_ref().ok_or_else(|| {
                BinanceError::local(ErrorClass::BadKey, "no API key and secret are configured")
            })?;
            if !payload.is_empty() {
                payload.push('&');
            }
            payload.push_str(&format!(
                "recvWindow={}&timestamp={now}",
                self.config.recv_window_ms
            ));
            payload = sign::signed(creds.secret.expose_secret(), &payload);
            api_key = Some(creds.api_key.expose_secret());
        }
        let url = format!("{}{}", self.config.base_url, call.path);
        let mut req = match call.method {
            Method::Get => self.http.get(with_query(url, &payload)),
            Method::Delete => self.http.delete(with_query(url, &payload)),
            Method::Post => self
                .http
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(payload),
        };
        if let Some(key) = api_key {
            req = req.header("X-MBX-APIKEY", key);
        }
        let resp = req.send().await.map_err(|e| transport(call, e))?;
        let status = resp.status().as_u16();
        let retry_after_ms = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| s * 1_000);
        {
            let mut st = self.state();
            let now = st.offset.venue_time((self.clock)());
            st.limiter.observe(
                now,
                resp.headers()
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))),
            );
        }
        let body = resp.text().await.map_err(|e| transport(call, e))?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let parsed: Option<ErrorBody> = serde_json::from_str(&body).ok();
        let mut err = BinanceError::from_answer(
            status,
            parsed.as_ref(),
            &body,
            retry_after_ms,
            call.mutating(),
        );
        if let ErrorClass::RateLimited {
            retry_after_ms: wait,
            banned,
        } = &mut err.class
        {
            let mut st = self.state();
            let now = st.offset.venue_time((self.clock)());
            match *wait {
                Some(ms) => st.limiter.ban(now, ms),
                // A 418 always bans, for 2 minutes at least.
                None if *banned => {
                    st.limiter.ban(now, 120_000);
                    *wait = Some(120_000);
                }
                // No Retry-After (the order-count limit answers so, `-1015`): the budget is
                // used up for its window; wait for the window's end.
                None => {
                    let kind = if call.cost.order || err.code == Some(-1015) {
                        RateLimitType::Orders
                    } else {
                        RateLimitType::RequestWeight
                    };
                    st.limiter.exhaust(now, &kind);
                    *wait = st.limiter.acquire_wait(now, call.cost);
                }
            }
        }
        tracing::debug!(path = call.path, status, code = ?err.code, "binance error: {}", err.msg);
        Err(err)
    }
}

fn public<'a>(
    method: Method,
    path: &'a str,
    params: Vec<(&'static str, String)>,
    weight: u32,
) -> Call<'a> {
    Call {
        method,
        path,
        params,
        signed: false,
        cost: Cost::weight(weight),
    }
}

fn signed<'a>(
    method: Method,
    path: &'a str,
    params: Vec<(&'static str, String)>,
    cost: Cost,
) -> Call<'a> {
    Call {
        method,
        path,
        params,
        signed: true,
        cost,
    }
}

/// Read an answer. One we cannot read leaves a placement's or cancel's outcome unknown.
fn parse<T: DeserializeOwned>(call: &Call<'_>, body: &str) -> Result<T, BinanceError> {
    serde_json::from_str(body).map_err(|e| {
        let class = if call.mutating() {
            ErrorClass::UnknownOutcome
        } else {
            ErrorClass::Transient
        };
        BinanceError::local(class, format!("unreadable answer from {}: {e}", call.path))
    })
}

fn with_query(url: String, payload: &str) -> String {
    if payload.is_empty() {
        url
    } else {
        format!("{url}?{payload}")
    }
}

/// `["BTCUSDT","ETHUSDT"]`, as the `symbols` parameter wants it (percent-encoded later).
fn json_list(symbols: &[&str]) -> String {
    let quoted: Vec<String> = symbols.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(","))
}

/// A request that failed without an answer. A connection that never opened sent nothing; any
/// other failure (timeout, reset) may have reached Binance.
fn transport(call: &Call<'_>, e: reqwest::Error) -> BinanceError {
    let sent = !(e.is_connect() || e.is_builder());
    let timed_out = e.is_timeout();
    // The URL holds the signed query: left out of the message (it holds no key, but it is noise).
    let e = e.without_url();
    let mut msg = format!("{} {}: {e}", method_name(call.method), call.path);
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    if timed_out {
        msg.push_str(" (timed out)");
    }
    BinanceError::local(crate::error::classify_transport(sent, call.mutating()), msg)
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Delete => "DELETE",
    }
}
