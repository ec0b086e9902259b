//! The HTTP client for OKX v5's REST API.
//!
//! - reqwest with rustls (no OpenSSL), one connection pool reused by every call, a connect
//!   timeout and a whole-request timeout.
//! - Keys are [`secrecy`] secrets: exposed only to sign and to fill the `OK-ACCESS-*` headers,
//!   never in a `Debug`, a log line or an error. `demo` sends `x-simulated-trading: 1`.
//! - Signed calls carry `OK-ACCESS-TIMESTAMP` = local clock + the offset measured from
//!   `/api/v5/public/time`. A `50102`/`50112` (timestamp refused) measures the offset again and
//!   signs the request once more (it was refused, so nothing was done: the one resend allowed,
//!   for orders too).
//! - Each endpoint has its own budget, OKX's documented count per 2 s ([`crate::limits`]),
//!   per instrument for placing, canceling and looking up an order: a call that would exceed
//!   it waits (through the injected [`Sleep`], tokio's timer by default) until the window has
//!   room, so a burst is paced rather than refused; an endpoint whose budget is used up never
//!   holds another. Each window is counted [`smartfolio_exchange::budget::ARRIVAL_MARGIN_MS`]
//!   longer than OKX's 2 s, since OKX counts a request when it arrives and the time to arrive
//!   varies.
//! - A rate limit that still comes (`50011`, `50061`, HTTP 429: another process on the key or
//!   IP) bans every call for `Retry-After` when OKX sends one, else for OKX's 2-second window
//!   ([`smartfolio_exchange::Ban`]); a call during the ban fails at once with a rate-limited
//!   error saying how long to wait: the client never sleeps on a ban.
//! - An answer is failed when its envelope `code` is not `"0"` *or* any order item's `sCode`
//!   is not `"0"` (an HTTP 200 can carry a refused order); a placement or cancel that timed
//!   out after sending, or got `50004` or a 5xx, is `UnknownOutcome`, never retried here.

use crate::error::{DEFAULT_RETRY_AFTER_MS, ErrorClass, OkxError, classify_transport};
use crate::limits;
use crate::model::{
    AccountBalance, AccountConfig, CandleRow, Envelope, InstrumentInfo, OrderAck, OrderDetail,
    ServerTime, TickerInfo, TradeFill,
};
use crate::order::{NewOrder, json_object};
use crate::sign;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use smartfolio_exchange::history::{Sleep, tokio_sleep};
use smartfolio_exchange::{Ban, Budgets, ClockOffset};
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

/// The production REST base.
pub const DEFAULT_BASE_URL: &str = "https://www.okx.com";

/// An API key, its secret and its passphrase. `Debug` shows none of them.
#[derive(Clone)]
pub struct Credentials {
    api_key: SecretString,
    secret: SecretString,
    passphrase: SecretString,
}

impl Credentials {
    pub fn new(
        api_key: impl Into<String>,
        secret: impl Into<String>,
        passphrase: impl Into<String>,
    ) -> Self {
        Self {
            api_key: SecretString::from(api_key.into()),
            secret: SecretString::from(secret.into()),
            passphrase: SecretString::from(passphrase.into()),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "Credentials { api_key: [REDACTED], secret: [REDACTED], passphrase: [REDACTED] }",
        )
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://www.okx.com`, or a local simulator or mock.
    pub base_url: String,
    /// Demo trading: every request carries `x-simulated-trading: 1`.
    pub demo: bool,
    /// The whole request, from connecting to the last byte of the answer.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_string(),
            demo: false,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// The local clock, shared by every connector.
pub use smartfolio_exchange::time::{LocalClock, system_clock};

/// What a `/trade/fills` query asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FillsQuery {
    pub inst_id: String,
    /// Only this order's fills.
    pub ord_id: Option<String>,
    /// Fills at or after this time (ms).
    pub begin_ms: Option<i64>,
    /// Fills older than this `billId` (the next page).
    pub after_bill_id: Option<String>,
    /// At most this many (OKX: default and most 100).
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

struct Call<'a> {
    method: Method,
    path: &'a str,
    query: Vec<(&'static str, String)>,
    body: String,
    signed: bool,
    /// The instrument, for the endpoints OKX budgets per instrument.
    inst: Option<&'a str>,
}

impl Call<'_> {
    /// Placing and canceling change the account; every GET only reads.
    fn mutating(&self) -> bool {
        self.method == Method::Post
    }
}

fn get<'a>(path: &'a str, query: Vec<(&'static str, String)>, signed: bool) -> Call<'a> {
    Call {
        method: Method::Get,
        path,
        query,
        body: String::new(),
        signed,
        inst: None,
    }
}

struct State {
    /// Server time − local time: the median of the last `/api/v5/public/time` readings.
    offset: ClockOffset,
    ban: Ban,
    /// What each endpoint sent in its last window (local clock).
    budgets: Budgets,
}

/// An OKX v5 REST client for one account (or none, for public data).
pub struct OkxClient {
    http: reqwest::Client,
    config: ClientConfig,
    credentials: Option<Credentials>,
    clock: LocalClock,
    /// Waits for an endpoint's budget.
    sleep: Sleep,
    state: Mutex<State>,
}

impl fmt::Debug for OkxClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OkxClient")
            .field("base_url", &self.config.base_url)
            .field("demo", &self.config.demo)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// A client that could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the OKX HTTP client: {0}")]
pub struct BuildError(String);

impl OkxClient {
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
                budgets: Budgets::with_margin(smartfolio_exchange::budget::ARRIVAL_MARGIN_MS),
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

    /// `GET /api/v5/public/time`.
    pub async fn server_time(&self) -> Result<i64, OkxError> {
        let t: ServerTime = self.one(get("/api/v5/public/time", vec![], false)).await?;
        Ok(t.ts)
    }

    /// Read the server time once and record a sample of the clock offset. Returns the offset
    /// now in use (the median of the last samples).
    pub async fn sync_clock(&self) -> Result<i64, OkxError> {
        let call = get("/api/v5/public/time", vec![], false);
        let sent = (self.clock)();
        let data = self.send(&call).await?;
        let received = (self.clock)();
        let t: ServerTime = first(&call, data)?;
        let mut st = self.state();
        st.offset.record(sent, t.ts, received);
        Ok(st.offset.offset_ms().unwrap_or(0))
    }

    /// `GET /api/v5/public/instruments?instType=SPOT`.
    pub async fn instruments(&self) -> Result<Vec<InstrumentInfo>, OkxError> {
        let q = vec![("instType", "SPOT".to_string())];
        self.call(get("/api/v5/public/instruments", q, false)).await
    }

    /// `GET /api/v5/market/tickers?instType=SPOT`: every spot ticker.
    pub async fn tickers(&self) -> Result<Vec<TickerInfo>, OkxError> {
        let q = vec![("instType", "SPOT".to_string())];
        self.call(get("/api/v5/market/tickers", q, false)).await
    }

    /// `GET /api/v5/market/ticker?instId=..`: one instrument's ticker.
    pub async fn ticker(&self, inst_id: &str) -> Result<TickerInfo, OkxError> {
        let q = vec![("instId", inst_id.to_string())];
        self.one(get("/api/v5/market/ticker", q, false)).await
    }

    /// `GET /api/v5/market/history-candles` (public): up to `limit` (at most 100) candles of
    /// `inst_id` on `bar` (OKX's name: `1H`, `1Dutc`) opening after `before_ms` and before
    /// `after_ms` (both excluded), newest first.
    pub async fn history_candles(
        &self,
        inst_id: &str,
        bar: &str,
        after_ms: i64,
        before_ms: i64,
        limit: u32,
    ) -> Result<Vec<CandleRow>, OkxError> {
        let q = vec![
            ("instId", inst_id.to_string()),
            ("bar", bar.to_string()),
            ("after", after_ms.to_string()),
            ("before", before_ms.to_string()),
            ("limit", limit.to_string()),
        ];
        self.call(get("/api/v5/market/history-candles", q, false))
            .await
    }

    /// `GET /api/v5/account/balance`: the trading account's currencies.
    pub async fn balance(&self) -> Result<AccountBalance, OkxError> {
        self.one(get("/api/v5/account/balance", vec![], true)).await
    }

    /// `GET /api/v5/account/config`: the account and what the key may do (`perm`).
    pub async fn account_config(&self) -> Result<AccountConfig, OkxError> {
        self.one(get("/api/v5/account/config", vec![], true)).await
    }

    /// `POST /api/v5/trade/order`. The caller has stored `order.cl_ord_id` first. An HTTP 200
    /// whose item carries an `sCode` other than `"0"` is that refusal.
    pub async fn place_order(&self, order: &NewOrder) -> Result<OrderAck, OkxError> {
        let body = order
            .body()
            .map_err(|e| OkxError::local(ErrorClass::Rejected, format!("not sent: {e}")))?;
        self.one(Call {
            method: Method::Post,
            path: "/api/v5/trade/order",
            query: vec![],
            body,
            signed: true,
            inst: Some(&order.inst_id),
        })
        .await
    }

    /// `POST /api/v5/trade/cancel-order` by our client id.
    pub async fn cancel_order(&self, inst_id: &str, cl_ord_id: &str) -> Result<OrderAck, OkxError> {
        let body = json_object(&[
            ("instId", inst_id.to_string()),
            ("clOrdId", cl_ord_id.to_string()),
        ]);
        self.one(Call {
            method: Method::Post,
            path: "/api/v5/trade/cancel-order",
            query: vec![],
            body,
            signed: true,
            inst: Some(inst_id),
        })
        .await
    }

    /// `GET /api/v5/trade/order` by our client id. A `NotFound` (`51603`) right after placing
    /// is not proof the order was never received.
    pub async fn order(&self, inst_id: &str, cl_ord_id: &str) -> Result<OrderDetail, OkxError> {
        let q = vec![
            ("instId", inst_id.to_string()),
            ("clOrdId", cl_ord_id.to_string()),
        ];
        self.one(Call {
            inst: Some(inst_id),
            ..get("/api/v5/trade/order", q, true)
        })
        .await
    }

    /// `GET /api/v5/trade/orders-pending?instType=SPOT`, one page of at most 100, orders older
    /// than `after_ord_id` when given.
    pub async fn orders_pending(
        &self,
        after_ord_id: Option<&str>,
    ) -> Result<Vec<OrderDetail>, OkxError> {
        let mut q = vec![("instType", "SPOT".to_string())];
        if let Some(a) = after_ord_id {
            q.push(("after", a.to_string()));
        }
        q.push(("limit", PAGE.to_string()));
        self.call(get("/api/v5/trade/orders-pending", q, true))
            .await
    }

    /// `GET /api/v5/trade/fills` (the last 3 days), newest first.
    pub async fn fills(&self, f: &FillsQuery) -> Result<Vec<TradeFill>, OkxError> {
        let mut q = vec![
            ("instType", "SPOT".to_string()),
            ("instId", f.inst_id.clone()),
        ];
        if let Some(o) = &f.ord_id {
            q.push(("ordId", o.clone()));
        }
        if let Some(a) = &f.after_bill_id {
            q.push(("after", a.clone()));
        }
        if let Some(b) = f.begin_ms {
            q.push(("begin", b.to_string()));
        }
        if let Some(l) = f.limit {
            q.push(("limit", l.to_string()));
        }
        self.call(get("/api/v5/trade/fills", q, true)).await
    }

    /// The one item of an answer that has exactly one.
    async fn one<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, OkxError> {
        let data = self.send_retimed(&call).await?;
        first(&call, data)
    }

    /// Every item of an answer.
    async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<Vec<T>, OkxError> {
        let data = self.send_retimed(&call).await?;
        serde_json::from_value(data).map_err(|e| unreadable(&call, e))
    }

    /// Send `call`; when OKX refuses the timestamp, measure the clock offset again and send it
    /// once more.
    async fn send_retimed(&self, call: &Call<'_>) -> Result<serde_json::Value, OkxError> {
        match self.send(call).await {
            Err(e) if e.class == ErrorClass::Timestamp && call.signed => {
                tracing::warn!(
                    path = call.path,
                    "okx refused the timestamp: measuring the clock offset and signing again"
                );
                self.state().offset.reset();
                self.sync_clock().await?;
                self.send(call).await
            }
            other => other,
        }
    }

    /// Wait until `call`'s endpoint budget has room ([`crate::limits`]); the reservation is
    /// taken, so concurrent calls queue one behind another.
    async fn pace(&self, call: &Call<'_>) {
        let method = call.method.as_str();
        let (key, limit) = limits::budget_key(method, call.path, call.inst);
        let now = (self.clock)();
        let at = self.state().budgets.reserve(&key, limit, now);
        if at > now {
            let wait = (at - now) as u64;
            tracing::debug!(endpoint = %key, wait_ms = wait, "okx budget used up: waiting");
            (self.sleep)(Duration::from_millis(wait)).await;
        }
    }

    /// One request: its endpoint's budget, the ban, sign, send, read the envelope and every
    /// order item's verdict.
    async fn send(&self, call: &Call<'_>) -> Result<serde_json::Value, OkxError> {
        self.pace(call).await;
        let now = self.venue_now_ms();
        if let Some(wait) = self.state().ban.wait_ms(now) {
            return Err(OkxError::local(
                ErrorClass::RateLimited {
                    retry_after_ms: Some(wait),
                },
                format!("not sent: okx rate limit, {wait} ms to wait"),
            ));
        }
        let query = sign::query(&call.query);
        let request_path = sign::request_path(call.path, &query);
        let url = format!("{}{request_path}", self.config.base_url);
        let mut req = match call.method {
            Method::Get => self.http.get(url),
            Method::Post => self
                .http
                .post(url)
                .header("Content-Type", "application/json")
                .body(call.body.clone()),
        };
        if call.signed {
            let creds = self.credentials.as_ref().ok_or_else(|| {
                OkxError::local(
                    ErrorClass::BadKey,
                    "no API key, secret and passphrase are configured",
                )
            })?;
            let ts = sign::timestamp(now).ok_or_else(|| {
                OkxError::local(
                    ErrorClass::Transient,
                    format!("the time {now} ms is out of range"),
                )
            })?;
            let keys = sign::Keys {
                api_key: creds.api_key.expose_secret(),
                secret: creds.secret.expose_secret(),
                passphrase: creds.passphrase.expose_secret(),
            };
            let method = call.method.as_str();
            for (k, v) in sign::headers(keys, &ts, method, &request_path, &call.body, false) {
                req = req.header(k, v);
            }
        }
        if self.config.demo {
            req = req.header(sign::DEMO_HEADER, "1");
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
        let err = match serde_json::from_str::<Envelope>(&text) {
            Ok(env) => match refusal(&env) {
                None if (200..300).contains(&status) => return Ok(env.data),
                None => OkxError::from_answer(
                    status,
                    Some(&env.code),
                    &env.msg,
                    retry_after_ms,
                    call.mutating(),
                ),
                Some((code, msg)) => OkxError::from_answer(
                    status,
                    Some(&code),
                    &msg,
                    retry_after_ms,
                    call.mutating(),
                ),
            },
            Err(_) if (200..300).contains(&status) => {
                return Err(unreadable(call, "not OKX's {code,msg,data} envelope"));
            }
            Err(_) => OkxError::from_answer(status, None, &text, retry_after_ms, call.mutating()),
        };
        if let ErrorClass::RateLimited { retry_after_ms } = err.class {
            let mut st = self.state();
            let now = st.offset.venue_time((self.clock)());
            st.ban
                .ban(now, retry_after_ms.unwrap_or(DEFAULT_RETRY_AFTER_MS));
        }
        tracing::debug!(path = call.path, status, code = ?err.code, "okx error: {}", err.msg);
        Err(err)
    }
}

/// The most items one page of OKX's lists holds.
pub const PAGE: u32 = 100;

/// What OKX refused in an answer: the first order item whose `sCode` is not `"0"` (its own
/// code and message), else the envelope's code when it is not `"0"`.
fn refusal(env: &Envelope) -> Option<(String, String)> {
    let items = env.data.as_array().map(Vec::as_slice).unwrap_or_default();
    for item in items {
        let code = match item.get("sCode") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        if code != "0" {
            let msg = item.get("sMsg").and_then(|m| m.as_str()).unwrap_or("");
            return Some((code, msg.to_string()));
        }
    }
    (!env.is_ok()).then(|| (env.code.clone(), env.msg.clone()))
}

/// The first item of `data`.
fn first<T: DeserializeOwned>(call: &Call<'_>, data: serde_json::Value) -> Result<T, OkxError> {
    let mut items: Vec<T> = serde_json::from_value(data).map_err(|e| unreadable(call, e))?;
    if items.is_empty() {
        return Err(unreadable(call, "no item in data"));
    }
    Ok(items.swap_remove(0))
}

/// An answer we cannot read leaves a placement's or cancel's outcome unknown.
fn unreadable(call: &Call<'_>, e: impl fmt::Display) -> OkxError {
    let class = if call.mutating() {
        ErrorClass::UnknownOutcome
    } else {
        ErrorClass::Transient
    };
    OkxError::local(class, format!("unreadable answer from {}: {e}", call.path))
}

/// A request that failed without an answer. A connection that never opened sent nothing; any
/// other failure (timeout, reset) may have reached OKX.
fn transport(call: &Call<'_>, e: reqwest::Error) -> OkxError {
    let sent = !(e.is_connect() || e.is_builder());
    let timed_out = e.is_timeout();
    let e = e.without_url();
    let mut msg = format!("{} {}: {e}", call.method.as_str(), call.path);
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    if timed_out {
        msg.push_str(" (timed out)");
    }
    OkxError::local(classify_transport(sent, call.mutating()), msg)
}
