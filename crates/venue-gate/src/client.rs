//! The HTTP client for Gate v4's REST API.
//!
//! - reqwest with rustls, one connection pool reused by every call, a connect timeout and a
//!   whole-request timeout.
//! - Keys are [`secrecy`] secrets: exposed only to sign and to fill the `KEY` header, never in
//!   a `Debug`, a log line or an error.
//! - Signed calls carry `Timestamp` = (local clock + the offset measured from `/spot/time`) in
//!   seconds. A `REQUEST_EXPIRED` measures the offset again and signs the request once more (it
//!   was refused, so nothing was done: the one resend allowed, for orders too).
//! - Each endpoint has its own budget, Gate's documented limit ([`crate::limits`]: placing 10
//!   per second per pair, canceling 200 per second, every other endpoint 200 per 10 s): a call
//!   that would exceed it waits (through the injected [`Sleep`], tokio's timer by default)
//!   until there is room, each window counted
//!   [`smartfolio_exchange::budget::ARRIVAL_MARGIN_MS`] longer, as Gate counts a request when
//!   it arrives.
//! - A rate limit that still comes (`TOO_MANY_REQUESTS`, HTTP 429) bans every call for `Retry-After` when Gate
//!   sends one, else for [`DEFAULT_RETRY_AFTER_MS`] ([`smartfolio_exchange::Ban`]); a call
//!   during the ban fails at once with a rate-limited error saying how long to wait. The client
//!   never sleeps on a ban.
//! - A placement or cancel that timed out after sending, or got a 5xx (`SERVER_ERROR`), is
//!   `UnknownOutcome`, never retried here.

use crate::error::{DEFAULT_RETRY_AFTER_MS, ErrorClass, GateError, classify_transport};
use crate::model::{
    AccountDetail, Candle, CurrencyPair, ErrorBody, Order, PairOrders, ServerTime, SpotAccount,
    Ticker, Trade,
};
use crate::order::NewOrder;
use crate::{limits, sign};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use smartfolio_exchange::budget::ARRIVAL_MARGIN_MS;
use smartfolio_exchange::failure::chain;
use smartfolio_exchange::history::{Sleep, tokio_sleep};
use smartfolio_exchange::{Ban, Budgets, ClockOffset, LocalClock};
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

/// The production REST base (paths add `/api/v4`).
pub const DEFAULT_BASE_URL: &str = "https://api.gateio.ws";

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
    /// `https://api.gateio.ws`, or a local simulator or mock (without `/api/v4`).
    pub base_url: String,
    /// The whole request, from connecting to the last byte of the answer.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_string(),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// What a `/spot/my_trades` query asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TradesQuery {
    pub currency_pair: String,
    /// Only this order's fills (Gate's order id).
    pub order_id: Option<String>,
    /// Fills at or after this time (unix seconds).
    pub from_s: Option<i64>,
    /// Page number, from 1.
    pub page: Option<u32>,
    /// At most this many (Gate: at most 1000).
    pub limit: Option<u32>,
}

/// The most fills one `my_trades` page holds here.
pub const TRADES_PAGE: u32 = 1_000;
/// The most orders per pair one `open_orders` page holds.
pub const ORDERS_PAGE: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

struct Call {
    method: Method,
    /// The path after `/api/v4` (`/spot/orders`).
    path: String,
    query: Vec<(&'static str, String)>,
    body: String,
    signed: bool,
    /// The pair, for the endpoints Gate budgets per pair.
    pair: Option<String>,
}

impl Call {
    fn get(path: impl Into<String>, query: Vec<(&'static str, String)>, signed: bool) -> Self {
        Call {
            method: Method::Get,
            path: path.into(),
            query,
            body: String::new(),
            signed,
            pair: None,
        }
    }

    /// Placing and canceling change the account; every GET only reads.
    fn mutating(&self) -> bool {
        self.method != Method::Get
    }
}

struct State {
    /// Server time − local time: the median of the last `/spot/time` readings.
    offset: ClockOffset,
    ban: Ban,
    /// What each endpoint sent in its last window (local clock).
    budgets: Budgets,
}

/// A Gate v4 REST client for one account (or none, for public data).
pub struct GateClient {
    http: reqwest::Client,
    config: ClientConfig,
    credentials: Option<Credentials>,
    clock: LocalClock,
    /// Waits for an endpoint's budget.
    sleep: Sleep,
    state: Mutex<State>,
}

impl fmt::Debug for GateClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GateClient")
            .field("base_url", &self.config.base_url)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// A client that could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the Gate HTTP client: {0}")]
pub struct BuildError(String);

impl GateClient {
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
            sleep: tokio_sleep(),
            state: Mutex::new(State {
                offset: ClockOffset::new(),
                ban: Ban::default(),
                budgets: Budgets::with_margin(ARRIVAL_MARGIN_MS),
            }),
        })
    }

    /// Wait for an endpoint's budget through `sleep` (a test's, moving its clock) instead of
    /// tokio's timer.
    pub fn with_sleep(mut self, sleep: Sleep) -> Self {
        self.sleep = sleep;
        self
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update is one assignment: a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The offset (server − local, ms) in use, once measured.
    pub fn clock_offset_ms(&self) -> Option<i64> {
        self.state().offset.offset_ms()
    }

    /// The venue's time now, as this client reckons it.
    pub fn venue_now_ms(&self) -> i64 {
        self.state().offset.venue_time((self.clock)())
    }

    /// `GET /spot/time` (ms).
    pub async fn server_time(&self) -> Result<i64, GateError> {
        let t: ServerTime = self.call(Call::get("/spot/time", vec![], false)).await?;
        Ok(t.server_time)
    }

    /// Read the server time once and record a sample of the clock offset. Returns the offset
    /// now in use (the median of the last samples).
    pub async fn sync_clock(&self) -> Result<i64, GateError> {
        let call = Call::get("/spot/time", vec![], false);
        let sent = (self.clock)();
        let text = self.send(&call).await?;
        let received = (self.clock)();
        let t: ServerTime = parse(&call, &text)?;
        let mut st = self.state();
        st.offset.record(sent, t.server_time, received);
        Ok(st.offset.offset_ms().unwrap_or(0))
    }

    /// `GET /spot/currency_pairs`: every spot pair.
    pub async fn currency_pairs(&self) -> Result<Vec<CurrencyPair>, GateError> {
        self.call(Call::get("/spot/currency_pairs", vec![], false))
            .await
    }

    /// `GET /spot/tickers`: every pair's ticker, or one pair's.
    pub async fn tickers(&self, currency_pair: Option<&str>) -> Result<Vec<Ticker>, GateError> {
        let q = currency_pair
            .map(|p| vec![("currency_pair", p.to_string())])
            .unwrap_or_default();
        self.call(Call::get("/spot/tickers", q, false)).await
    }

    /// `GET /spot/accounts`: the spot account's currencies.
    pub async fn accounts(&self) -> Result<Vec<SpotAccount>, GateError> {
        self.call(Call::get("/spot/accounts", vec![], true)).await
    }

    /// `GET /account/detail`: the account, the key's IP whitelist and mode (not whether it may
    /// withdraw: Gate does not say).
    pub async fn account_detail(&self) -> Result<AccountDetail, GateError> {
        self.call(Call::get("/account/detail", vec![], true)).await
    }

    /// `POST /spot/orders`. The caller has stored `order.client_id` first.
    pub async fn place_order(&self, order: &NewOrder) -> Result<Order, GateError> {
        let body = order
            .body()
            .map_err(|e| GateError::local(ErrorClass::Rejected, format!("not sent: {e}")))?;
        self.call(Call {
            method: Method::Post,
            path: "/spot/orders".into(),
            query: vec![],
            body,
            signed: true,
            pair: Some(order.currency_pair.clone()),
        })
        .await
    }

    /// `DELETE /spot/orders/{id}?currency_pair=…`, `id` being Gate's order id or our `text`.
    /// Answers the order as it ended.
    pub async fn cancel_order(&self, currency_pair: &str, id: &str) -> Result<Order, GateError> {
        self.call(Call {
            method: Method::Delete,
            path: format!("/spot/orders/{}", sign::path_segment(id)),
            query: vec![("currency_pair", currency_pair.to_string())],
            body: String::new(),
            signed: true,
            pair: Some(currency_pair.to_string()),
        })
        .await
    }

    /// `GET /spot/orders/{id}?currency_pair=…`, `id` being Gate's order id or our `text`. By
    /// `text`, Gate finds an order only while it is open and for about an hour after it ended:
    /// a `NotFound` is not proof the order was never received.
    pub async fn order(&self, currency_pair: &str, id: &str) -> Result<Order, GateError> {
        let q = vec![("currency_pair", currency_pair.to_string())];
        self.call(Call::get(
            format!("/spot/orders/{}", sign::path_segment(id)),
            q,
            true,
        ))
        .await
    }

    /// `GET /spot/open_orders?page=…&limit=…`: open orders grouped by pair, at most `limit` per
    /// pair on a page.
    pub async fn open_orders(&self, page: u32, limit: u32) -> Result<Vec<PairOrders>, GateError> {
        let q = vec![("page", page.to_string()), ("limit", limit.to_string())];
        self.call(Call::get("/spot/open_orders", q, true)).await
    }

    /// `GET /spot/my_trades`, newest first.
    pub async fn my_trades(&self, t: &TradesQuery) -> Result<Vec<Trade>, GateError> {
        let mut q = vec![("currency_pair", t.currency_pair.clone())];
        if let Some(o) = &t.order_id {
            q.push(("order_id", o.clone()));
        }
        if let Some(f) = t.from_s {
            q.push(("from", f.to_string()));
        }
        if let Some(p) = t.page {
            q.push(("page", p.to_string()));
        }
        if let Some(l) = t.limit {
            q.push(("limit", l.to_string()));
        }
        self.call(Call::get("/spot/my_trades", q, true)).await
    }

    /// `GET /spot/candlesticks` (public): candles of `interval` (`1d`, `1h`, …) from `from_s`
    /// to `to_s` (unix seconds), oldest first.
    pub async fn candlesticks(
        &self,
        currency_pair: &str,
        interval: &str,
        from_s: i64,
        to_s: i64,
    ) -> Result<Vec<Candle>, GateError> {
        let q = vec![
            ("currency_pair", currency_pair.to_string()),
            ("interval", interval.to_string()),
            ("from", from_s.to_string()),
            ("to", to_s.to_string()),
        ];
        self.call(Call::get("/spot/candlesticks", q, false)).await
    }

    /// Send `call` and read its answer as `T`; when Gate refuses the timestamp, measure the
    /// clock offset again and send it once more.
    async fn call<T: DeserializeOwned>(&self, call: Call) -> Result<T, GateError> {
        let text = match self.send(&call).await {
            Err(e) if e.class == ErrorClass::Timestamp && call.signed => {
                tracing::warn!(
                    path = call.path,
                    "gate refused the timestamp: measuring the clock offset and signing again"
                );
                self.state().offset.reset();
                self.sync_clock().await?;
                self.send(&call).await?
            }
            other => other?,
        };
        parse(&call, &text)
    }

    /// Wait until `call`'s endpoint budget has room ([`crate::limits`]); the reservation is
    /// taken, so concurrent calls queue one behind another.
    async fn pace(&self, call: &Call) {
        let (key, limit) =
            limits::budget_key(call.method.as_str(), &call.path, call.pair.as_deref());
        let now = (self.clock)();
        let at = self.state().budgets.reserve(&key, limit, now);
        if at > now {
            let wait = (at - now) as u64;
            tracing::debug!(endpoint = %key, wait_ms = wait, "gate budget used up: waiting");
            (self.sleep)(Duration::from_millis(wait)).await;
        }
    }

    /// One request: its endpoint's budget, the ban, sign, send, read the status and the error
    /// body.
    async fn send(&self, call: &Call) -> Result<String, GateError> {
        self.pace(call).await;
        let now = self.venue_now_ms();
        if let Some(wait) = self.state().ban.wait_ms(now) {
            return Err(GateError::local(
                ErrorClass::RateLimited {
                    retry_after_ms: Some(wait),
                },
                format!("not sent: gate rate limit, {wait} ms to wait"),
            ));
        }
        let query = sign::query(&call.query);
        let path = format!("{}{}", sign::PREFIX, call.path);
        let url = if query.is_empty() {
            format!("{}{path}", self.config.base_url)
        } else {
            format!("{}{path}?{query}", self.config.base_url)
        };
        let mut req = match call.method {
            Method::Get => self.http.get(url),
            Method::Delete => self.http.delete(url),
            Method::Post => self
                .http
                .post(url)
                .header("Content-Type", "application/json")
                .body(call.body.clone()),
        };
        req = req.header("Accept", "application/json");
        if call.signed {
            let creds = self.credentials.as_ref().ok_or_else(|| {
                GateError::local(ErrorClass::BadKey, "no API key and secret are configured")
            })?;
            let ts = sign::timestamp(now);
            let method = call.method.as_str();
            for (k, v) in sign::headers(
                creds.api_key.expose_secret(),
                creds.secret.expose_secret(),
                &ts,
                method,
                &path,
                &query,
                &call.body,
            ) {
                req = req.header(k, v);
            }
        }
        let resp = req.send().await.map_err(|e| transport(call, e))?;
        let status = resp.status().as_u16();
        let retry_after_ms = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| s.saturating_mul(1_000));
        let text = resp.text().await.map_err(|e| transport(call, e))?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        let err = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => GateError::from_answer(
                status,
                Some(&b.label),
                &b.message,
                retry_after_ms,
                call.mutating(),
            ),
            Err(_) => GateError::from_answer(status, None, &text, retry_after_ms, call.mutating()),
        };
        if let ErrorClass::RateLimited { retry_after_ms } = err.class {
            let mut st = self.state();
            let now = st.offset.venue_time((self.clock)());
            st.ban
                .ban(now, retry_after_ms.unwrap_or(DEFAULT_RETRY_AFTER_MS));
        }
        tracing::debug!(path = call.path, status, label = ?err.label, "gate error: {}", err.msg);
        Err(err)
    }
}

/// The answer read as `T`. An answer we cannot read leaves a placement's or cancel's outcome
/// unknown.
fn parse<T: DeserializeOwned>(call: &Call, text: &str) -> Result<T, GateError> {
    serde_json::from_str(text).map_err(|e| {
        let class = if call.mutating() {
            ErrorClass::UnknownOutcome
        } else {
            ErrorClass::Transient
        };
        GateError::local(
            class,
            format!("unreadable answer from {}{}: {e}", sign::PREFIX, call.path),
        )
    })
}

/// A request that failed without an answer. A connection that never opened sent nothing; any
/// other failure (timeout, reset) may have reached Gate.
fn transport(call: &Call, e: reqwest::Error) -> GateError {
    let sent = !(e.is_connect() || e.is_builder());
    let timed_out = e.is_timeout();
    let e = e.without_url();
    let mut msg = format!(
        "{} {}{}: {}",
        call.method.as_str(),
        sign::PREFIX,
        call.path,
        chain(&e)
    );
    if timed_out {
        msg.push_str(" (timed out)");
    }
    GateError::local(classify_transport(sent, call.mutating()), msg)
}
