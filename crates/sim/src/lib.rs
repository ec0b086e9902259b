//! smartfolio-sim: a local venue simulator.
//!
//! [`Simulator`] is a loopback HTTP server (axum, bound to `127.0.0.1`) that speaks a venue's
//! REST over the paper matching engine ([`smartfolio_exchange::paper::PaperExchange`]), so
//! the real connector (and ccxt) can be driven end to end without a network. What the venues
//! share is written once here: the account (the engine, its persistence), the market and its
//! candles, the faults ([`Faults`], taken by [`Sim::take_request_faults`] and
//! [`Sim::after_placement`]) and the request counts. Each venue's wire layer is its own module:
//! Binance's spot REST in `api` and `wire` ([`Wire::Binance`], below), OKX v5 in `okx` and
//! `okx_wire` ([`Wire::Okx`], see that module), Gate v4 in `gate` and `gate_wire`
//! ([`Wire::Gate`], see that module). Binance's routes:
//! - public: `GET /api/v3/ping`, `/time`, `/exchangeInfo` (filters and rate limits built from
//!   the paper instruments' rules and limits), `/ticker/price`, `/ticker/bookTicker`,
//!   `/ticker/24hr`, `/klines`;
//! - signed: `GET /api/v3/account`, `POST/GET/DELETE /api/v3/order`, `GET /api/v3/openOrders`,
//!   `GET /api/v3/myTrades`, `GET /sapi/v1/account/apiRestrictions` and
//!   `GET /sapi/v1/capital/config/getall` (what ccxt's `load_markets` reads with a key).
//!
//! Every `/api/` answer carries `X-MBX-USED-WEIGHT-1M` (request weights from Binance's table,
//! in fixed one-minute windows of the simulator's clock) and an accepted order
//! `X-MBX-ORDER-COUNT-10S` and `-1D`; the counts are reported, not enforced. Every request is
//! also counted by endpoint ([`Simulator::take_calls`]).
//!
//! Signed requests are checked as Binance checks them: the `X-MBX-APIKEY` header (`-2014`
//! missing or malformed, `-2015` unknown), the HMAC-SHA256 signature over the query string and
//! body as sent (`-1022`, verified with the connector's own [`smartfolio_binance::sign`]), and
//! the timestamp against `recvWindow` (`-1021`). Answers have the shapes of Binance's docs
//! (the connector's fixtures); amounts are strings with at least 8 decimals (more when the paper
//! engine's exact amount has more, so nothing is rounded away).
//!
//! Prices come from a [`SyntheticMarket`] or a replay of history ([`SimMarket`]) stepped on the
//! simulator's own clock, or are set directly ([`Simulator::set_prices`]).
//! Order ids are the paper engine's sequence numbers (`P12` is `orderId` 12, `T13` trade id 13).

mod api;
pub mod command;
mod faults;
mod gate;
mod gate_wire;
mod okx;
mod okx_wire;
mod usage;
mod wire;

pub use faults::{FaultSpecError, Faults, GRAMMAR as FAULT_GRAMMAR, RateLimitFault};
pub use gate::TEXT_LOOKUP_MS as GATE_TEXT_LOOKUP_MS;
pub use usage::Calls;

use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use smartfolio_exchange::feed::{ReplayFeed, SyntheticConfig, SyntheticMarket};
use smartfolio_exchange::paper::{
    MemoryPaperPersistence, PaperAccount, PaperChange, PaperConfig, PaperExchange, PaperPersistence,
};
use smartfolio_exchange::{
    ExchangeError, Instrument, InstrumentStatus, Order, OrderLimits, PriceTick,
};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The clock of the simulator, epoch milliseconds (the connector's clock type: the simulator
/// is the server side of the same protocol).
pub type SimClock = smartfolio_binance::client::LocalClock;

pub use smartfolio_binance::client::system_clock;

/// The largest quantity and notional the simulator advertises (and enforces) for an instrument
/// whose paper limits leave them open: what `exchangeInfo` lists is what the engine applies.
pub const DEFAULT_MAX_QUANTITY: Decimal = Decimal::from_parts(9_000_000, 0, 0, false, 0);
pub const DEFAULT_MAX_NOTIONAL: Decimal = Decimal::from_parts(900_000_000, 0, 0, false, 0);

/// What the simulator serves.
pub struct SimConfig {
    /// The account's API key (`X-MBX-APIKEY`).
    pub api_key: String,
    /// The account's API secret (HMAC key).
    pub api_secret: SecretString,
    /// The matching engine: quote, fees, slippage, depth, instruments with their rules.
    pub paper: PaperConfig,
    /// Starting balances.
    pub balances: Vec<(String, Decimal)>,
    /// The market stepped on the simulator's clock; `None`: prices are only those set by
    /// [`Simulator::set_prices`].
    pub market: Option<SimMarket>,
    /// With a synthetic market (not a replay): this many milliseconds of one-minute prices before its start
    /// are made up (the same model, another seed) and kept as candles, so `klines` and
    /// `ticker/24hr` have a history; the market then starts where the history ends. 0: none.
    pub history_ms: i64,
    /// Faults injected from the start ([`Simulator::set_faults`] replaces them).
    pub faults: Faults,
    /// Where the account (balances, orders, fills) is kept across restarts; `None`: in memory.
    /// An account found there is resumed as it was, and `balances` are not deposited again.
    pub persistence: Option<Arc<dyn PaperPersistence>>,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("api_key", &"[REDACTED]")
            .field("api_secret", &"[REDACTED]")
            .field("paper", &self.paper)
            .field("balances", &self.balances)
            .field("market", &self.market.is_some())
            .field("persistence", &self.persistence.is_some())
            .finish()
    }
}

/// Where the simulator's prices come from.
#[derive(Debug)]
pub enum SimMarket {
    /// A synthetic market, one step every `step_ms` of its configuration, or every
    /// `1 / ticks_per_second` s when that is set (each step then covers `step_ms` of the
    /// model's time whatever the clock: a market faster or slower than real time).
    Synthetic(SyntheticConfig),
    /// History played one bar every `step_ms` of the simulator's clock, each bar's prices taken
    /// at the simulator's time (the bars' own times are not used). When the bars run out, the
    /// prices stay at the last one.
    Replay { feed: ReplayFeed, step_ms: i64 },
}

/// A market being played.
enum Market {
    Synthetic(Box<SyntheticMarket>),
    Replay(ReplayFeed),
}

/// A simulator that could not start; the message names the field or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Bad input: the options or configuration.
    #[error("simulator configuration: {0}")]
    Config(String),
    #[error("simulator: {0}")]
    Engine(#[from] ExchangeError),
    /// The account's persistence failed.
    #[error("simulator account store: {0}")]
    Store(String),
    #[error("simulator cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl SimError {
    /// Whether the error is the caller's input (options, configuration), not the machine.
    pub fn is_input(&self) -> bool {
        matches!(self, SimError::Config(_))
    }
}

/// Which venue's REST a simulator speaks ([`Simulator::serve_wire`]).
#[derive(Clone)]
pub enum Wire {
    /// Binance spot (`X-MBX-APIKEY`, HMAC-SHA256 hex over the query and body).
    Binance,
    /// OKX v5 (`OK-ACCESS-*` headers, base64 HMAC-SHA256; the key's `passphrase`). A `demo`
    /// key answers only requests with `x-simulated-trading: 1`, a live key only those without.
    Okx {
        passphrase: SecretString,
        demo: bool,
    },
    /// Gate v4 spot under `/api/v4` (`KEY`, `Timestamp`, `SIGN`: hex HMAC-SHA512 over the
    /// method, path, query, body hash and timestamp), see the `gate` module.
    Gate,
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wire::Binance => f.write_str("Binance"),
            Wire::Okx { demo, .. } => write!(f, "Okx {{ passphrase: [REDACTED], demo: {demo} }}"),
            Wire::Gate => f.write_str("Gate"),
        }
    }
}

impl Wire {
    /// The venue's name (`binance`, `okx`, `gate`).
    pub fn venue(&self) -> &'static str {
        match self {
            Wire::Binance => "binance",
            Wire::Okx { .. } => "okx",
            Wire::Gate => "gate",
        }
    }

    /// What the simulator prints of itself (`Binance spot`, `OKX v5 spot (demo trading)`).
    pub fn title(&self) -> &'static str {
        match self {
            Wire::Binance => "Binance spot",
            Wire::Okx { demo: false, .. } => "OKX v5 spot",
            Wire::Okx { demo: true, .. } => "OKX v5 spot (demo trading)",
            Wire::Gate => "Gate v4 spot",
        }
    }
}

/// What becomes of the answer to a placement the engine accepted.
pub(crate) enum AfterPlacement {
    /// It is answered.
    Answer,
    /// It never comes (until the server stops): the client times out on an accepted order.
    Dropped,
    /// The venue answers that it does not know the outcome (Binance `-1007`, OKX `50004`).
    Unknown,
}

/// One-minute candles of one base asset, by open time.
type Candles = BTreeMap<i64, wire::Candle>;

pub(crate) struct Sim {
    pub(crate) paper: PaperExchange,
    pub(crate) api_key: String,
    pub(crate) api_secret: SecretString,
    pub(crate) clock: SimClock,
    /// When the simulator started (its key's creation time).
    pub(crate) started_ms: i64,
    /// Whether the account was found in the persistence (and the balances not deposited).
    resumed: bool,
    /// Candles per base asset, from every price the engine took.
    pub(crate) candles: Mutex<HashMap<String, Candles>>,
    /// Client ids the simulator made up for orders sent without `newClientOrderId`.
    pub(crate) generated_ids: std::sync::atomic::AtomicU64,
    pub(crate) faults: Mutex<Faults>,
    /// Request weight and order counts, reported in the answers' headers.
    usage: Mutex<usage::Usage>,
    /// Set when the server stops: answers held back by a fault give up.
    pub(crate) stopping: tokio::sync::watch::Sender<bool>,
    /// What `apiRestrictions` answers for `enableWithdrawals`.
    pub(crate) key_can_withdraw: std::sync::atomic::AtomicBool,
    /// Requests to `/api/…` and `/sapi/…` received, whatever their answer.
    pub(crate) requests: std::sync::atomic::AtomicU64,
    /// The requests each limited endpoint took in its last window, when a venue's limits are
    /// enforced (`okx-limits=strict`), on the simulator's clock.
    windows: Mutex<smartfolio_exchange::Budgets>,
    /// Requests refused for going beyond an enforced limit.
    limit_refusals: std::sync::atomic::AtomicU64,
    market: tokio::sync::Mutex<Option<Market>>,
    step_ms: i64,
}

impl Sim {
    /// The server's clock: the simulator's clock with the injected skew.
    pub(crate) fn now_ms(&self) -> i64 {
        (self.clock)() + self.faults().clock_skew_ms
    }

    pub(crate) fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn usage(&self) -> std::sync::MutexGuard<'_, usage::Usage> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Take `prices` at the simulator's time now: the engine fills what they cross, and the
    /// candles record them.
    pub(crate) async fn apply_prices(
        &self,
        prices: Vec<(String, Decimal)>,
    ) -> Result<(), ExchangeError> {
        let tick = PriceTick {
            time_ms: self.now_ms(),
            prices,
        };
        self.paper.update_prices(&tick).await?;
        self.record(&tick);
        Ok(())
    }

    /// What the faults do to one request to the venue's API before it is served: it is
    /// counted, delayed by the latency, and maybe refused `(HTTP status, Retry-After seconds)`
    /// without doing anything (a 5xx, a rate limit); each venue words the refusal.
    pub(crate) async fn take_request_faults(&self) -> Option<(u16, Option<u64>)> {
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let taken = self.faults().take();
        if taken.latency_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(taken.latency_ms)).await;
        }
        taken.refuse
    }

    /// Whether one more request on `key` stays within `limit` at the simulator's time (arrival
    /// counts, as at the venue): taken when it does; otherwise a refusal is counted and nothing
    /// is taken.
    pub(crate) fn within_limit(&self, key: &str, limit: smartfolio_exchange::Limit) -> bool {
        let now = (self.clock)();
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.used(key, now) >= limit.count as usize {
            tracing::warn!(endpoint = %key, count = limit.count, window_ms = limit.window_ms, "simulator: refused beyond the venue's request limit");
            self.limit_refusals
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return false;
        }
        windows.reserve(key, limit, now);
        true
    }

    /// After a placement the engine accepted: the lookups that answer "not found yet" for a
    /// while start, and the answer is given, dropped (held until the server stops) or replaced
    /// by "outcome unknown".
    pub(crate) async fn after_placement(&self) -> AfterPlacement {
        let (not_found, hang, unknown) = {
            let mut f = self.faults();
            (f.not_found_after_order, f.take_hang(), f.take_unknown())
        };
        if not_found > 0 {
            self.paper
                .set_fault(smartfolio_exchange::paper::Fault::LookupNotFound(not_found));
        }
        if hang {
            let mut stopping = self.stopping.subscribe();
            let _ = stopping.wait_for(|s| *s).await;
            return AfterPlacement::Dropped;
        }
        if unknown {
            return AfterPlacement::Unknown;
        }
        AfterPlacement::Answer
    }

    /// Whether an order on `inst` to `side` takes an injected reject (counted down). An order
    /// the instrument refuses anyway (a halt) does not take one.
    pub(crate) fn takes_reject(&self, inst: &Instrument, side: smartfolio_exchange::Side) -> bool {
        let accepts = match inst.status {
            InstrumentStatus::Trading => true,
            InstrumentStatus::SellOnly => side == smartfolio_exchange::Side::Sell,
            _ => false,
        };
        accepts && self.faults().take_reject()
    }

    /// The book the engine trades against: market orders fill at last × (1 ± slippage), up to
    /// its depth. `(bid, ask, quantity on each side)`.
    pub(crate) fn book(&self, inst: &Instrument, last: Decimal) -> (Decimal, Decimal, Decimal) {
        let slip = self.paper.config().slippage_bps / Decimal::from(10_000);
        let qty = match self.paper.config().depth {
            Some(d) => d / last,
            None => wire::DEFAULT_BOOK_QTY,
        };
        let qty = match inst.rules.lot_step {
            Some(step) => (qty / step).floor() * step,
            None => qty.round_dp(8),
        };
        (
            last * (Decimal::ONE - slip),
            last * (Decimal::ONE + slip),
            qty,
        )
    }

    /// The quote volume the other traders trade on `base` in 24 hours: its book model's
    /// `daily_volume`, 0 where it has none (the simulated market has no other traders).
    pub(crate) fn daily_volume(&self, base: &str) -> Decimal {
        self.paper
            .config()
            .instruments
            .iter()
            .find(|i| i.base.eq_ignore_ascii_case(base))
            .and_then(|i| i.book)
            .and_then(|b| b.daily_volume)
            .unwrap_or(Decimal::ZERO)
    }

    /// The prices of `base` over the 24 hours before `now` (from its one-minute candles).
    pub(crate) fn day_stats(&self, base: &str, now: i64) -> wire::DayStats {
        let from = now - 86_400_000;
        let candles = self.candles.lock().unwrap_or_else(|p| p.into_inner());
        let mut stats = wire::DayStats {
            open_ms: from,
            close_ms: now,
            ..Default::default()
        };
        let Some(minutes) = candles.get(base) else {
            return stats;
        };
        stats.prev_close = minutes
            .range(..from - from.rem_euclid(60_000))
            .next_back()
            .map(|(_, c)| c.close);
        let mut day: Option<wire::Candle> = None;
        for (_, c) in minutes.range(from - from.rem_euclid(60_000)..=now) {
            match &mut day {
                Some(d) => d.merge(c),
                None => day = Some(*c),
            }
        }
        stats.day = day;
        stats
    }

    /// `base`'s candles of `step_ms`, oldest first, each opening on a multiple of the step
    /// shifted by `offset_ms` (OKX's Hong Kong days: 8 h).
    pub(crate) fn bars(
        &self,
        base: &str,
        step_ms: i64,
        offset_ms: i64,
    ) -> Vec<(i64, wire::Candle)> {
        let candles = self.candles.lock().unwrap_or_else(|p| p.into_inner());
        let mut rows: Vec<(i64, wire::Candle)> = Vec::new();
        if let Some(minutes) = candles.get(base) {
            for (minute, c) in minutes {
                let open = minute - (minute + offset_ms).rem_euclid(step_ms);
                match rows.last_mut() {
                    Some((t, agg)) if *t == open => agg.merge(c),
                    _ => rows.push((open, *c)),
                }
            }
        }
        rows
    }

    /// Keep `tick`'s prices in the candles of its minute.
    fn record(&self, tick: &PriceTick) {
        let minute = tick.time_ms - tick.time_ms.rem_euclid(60_000);
        let mut candles = self.candles.lock().unwrap_or_else(|p| p.into_inner());
        for (asset, price) in &tick.prices {
            candles
                .entry(asset.to_ascii_uppercase())
                .or_default()
                .entry(minute)
                .and_modify(|c| c.take(*price))
                .or_insert_with(|| wire::Candle::new(*price));
        }
    }

    /// One step of the market, priced at the simulator's time now; `false` when there is no
    /// market or its replay has ended.
    async fn step_market(&self) -> Result<bool, ExchangeError> {
        let tick = match self.market.lock().await.as_mut() {
            Some(Market::Synthetic(m)) => m.step(),
            Some(Market::Replay(r)) => match r.next_now() {
                Some(t) => t,
                None => return Ok(false),
            },
            None => return Ok(false),
        };
        self.apply_prices(tick.prices).await?;
        Ok(true)
    }
}

/// How a venue's wire layer words what the shared faults do to a request.
pub(crate) trait FaultWords {
    /// A rate limit (HTTP 429, or Binance's 418 ban), with `Retry-After` seconds.
    fn rate_limited(retry_after_s: Option<u64>) -> axum::response::Response;
    /// The venue's own trouble, nothing done (HTTP `status`).
    fn unavailable(status: u16) -> axum::response::Response;
    /// A placement that took effect, answered "outcome unknown".
    fn unknown_outcome() -> axum::response::Response;
}

/// After a placement the engine accepted, what a fault answers in its place (after holding it
/// until the server stops, for a dropped answer); `None`: the venue's own answer goes out.
pub(crate) async fn placement_fault<W: FaultWords>(sim: &Sim) -> Option<axum::response::Response> {
    match sim.after_placement().await {
        AfterPlacement::Answer => None,
        AfterPlacement::Dropped => Some(W::unavailable(503)),
        AfterPlacement::Unknown => Some(W::unknown_outcome()),
    }
}

/// One request to a venue's REST (OKX, Gate): counted under `endpoint`, then worked out on a
/// task of its own (a client that goes away does not stop an order half-way), a request to the
/// API (`api`) taking the shared faults first and refused in `W`'s words.
pub(crate) async fn serve_request<W: FaultWords>(
    sim: Arc<Sim>,
    endpoint: String,
    api: bool,
    work: impl std::future::Future<Output = axum::response::Response> + Send + 'static,
) -> axum::response::Response {
    sim.usage().request(&endpoint, sim.now_ms(), 0);
    let task = tokio::spawn(async move {
        if api {
            match sim.take_request_faults().await {
                Some((429 | 418, retry_after_s)) => return W::rate_limited(retry_after_s),
                Some((status, _)) => return W::unavailable(status),
                None => {}
            }
        }
        work.await
    });
    match task.await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("simulator request failed: {e}");
            W::unavailable(500)
        }
    }
}

/// Constant-time equality of two secrets or signatures.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A field of a JSON request body as a string (OKX and Gate take numbers as strings; a JSON
/// number is read too); `None` when missing or empty.
pub(crate) fn body_field<'a>(
    m: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<std::borrow::Cow<'a, str>> {
    match m.get(name)? {
        serde_json::Value::String(s) if !s.is_empty() => {
            Some(std::borrow::Cow::Borrowed(s.as_str()))
        }
        serde_json::Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// A client id for an order sent without one (the venues make one up too).
pub(crate) fn generated_id(sim: &Sim) -> String {
    format!(
        "sim{}x{}",
        sim.now_ms(),
        sim.generated_ids
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// The order the engine just took under `client_id` (no lookup fault applies).
pub(crate) async fn placed(
    sim: &Sim,
    inst: &Instrument,
    client_id: &str,
) -> Result<Order, ExchangeError> {
    sim.paper
        .account()
        .await
        .orders
        .into_iter()
        .rev()
        .find(|o| o.client_id == client_id && o.base == inst.base && o.quote == inst.quote)
        .ok_or_else(|| ExchangeError::Rejected {
            code: smartfolio_exchange::reject::UNKNOWN_ORDER.into(),
            message: format!("the engine has no order {client_id}"),
        })
}

/// A persistence whose new accounts number their first order 1 (Binance's ids start at 1; a
/// client may read 0 as "none").
struct NumberedFromOne(Arc<dyn PaperPersistence>);

#[async_trait::async_trait]
impl PaperPersistence for NumberedFromOne {
    async fn load_paper(&self, account: &str) -> Result<Option<PaperAccount>, String> {
        Ok(Some(self.0.load_paper(account).await?.unwrap_or(
            PaperAccount {
                next_seq: 1,
                ..PaperAccount::default()
            },
        )))
    }

    async fn apply_paper(&self, account: &str, change: &PaperChange) -> Result<(), String> {
        self.0.apply_paper(account, change).await
    }
}

/// Halt the instruments of `now` that `before` did not halt, and let those `before` halted and
/// `now` does not trade again. Every asset is checked before any status changes.
fn apply_halts(paper: &PaperExchange, before: &[String], now: &[String]) -> Result<(), SimError> {
    let quote = &paper.config().quote;
    let listed: Vec<String> = paper
        .config()
        .instruments
        .iter()
        .map(|i| i.base.clone())
        .collect();
    if let Some(unknown) = now.iter().find(|a| !listed.contains(a)) {
        return Err(SimError::Config(format!(
            "faults.halt {unknown} is not allowed: the simulator lists {}",
            listed
                .iter()
                .map(|b| format!("{b}{quote}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for asset in now.iter().filter(|a| !before.contains(a)) {
        paper.set_status(asset, InstrumentStatus::Halted)?;
    }
    for asset in before.iter().filter(|a| !now.contains(a)) {
        paper.set_status(asset, InstrumentStatus::Trading)?;
    }
    Ok(())
}

/// One-minute ticks of `market`'s model over the `history_ms` before its start (another seed,
/// so the history is not the market's own future), the last one a minute before the start.
fn made_up_history(market: &SyntheticConfig, history_ms: i64) -> Result<Vec<PriceTick>, SimError> {
    const MINUTE: i64 = 60_000;
    let minutes = (history_ms / MINUTE).max(1);
    let mut h = market.clone();
    h.seed = market.seed.wrapping_add(0x5eed);
    h.step_ms = MINUTE;
    h.start_ms = market.start_ms - market.start_ms.rem_euclid(MINUTE) - minutes * MINUTE;
    h.ticks_per_second = None;
    h.max_ticks = None;
    let mut m = SyntheticMarket::new(h).map_err(|e| SimError::Config(format!("market: {e}")))?;
    Ok((0..minutes).map(|_| m.step()).collect())
}

/// The simulator: a paper account behind Binance's spot REST.
#[derive(Clone)]
pub struct Simulator {
    sim: Arc<Sim>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("paper", &self.sim.paper)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// A simulator on the system clock.
    pub async fn new(config: SimConfig) -> Result<Self, SimError> {
        Self::with_clock(config, system_clock()).await
    }

    /// A simulator reading time from `clock`. Every instrument's open maximums are closed at
    /// [`DEFAULT_MAX_QUANTITY`] and [`DEFAULT_MAX_NOTIONAL`], the starting balances are
    /// deposited, and the synthetic market (if any) takes its first step.
    pub async fn with_clock(config: SimConfig, clock: SimClock) -> Result<Self, SimError> {
        if config.api_key.trim().is_empty() {
            return Err(SimError::Config(
                "api_key \"\" is not allowed: a non-empty API key (SMARTFOLIO_API_KEY)".into(),
            ));
        }
        let mut paper_config = config.paper;
        if let Some(q) = config.faults.partial_fill_quote {
            paper_config.depth = Some(q);
        }
        for inst in &mut paper_config.instruments {
            let l: &mut OrderLimits = &mut inst.limits;
            l.max_quantity.get_or_insert(DEFAULT_MAX_QUANTITY);
            l.max_notional.get_or_insert(DEFAULT_MAX_NOTIONAL);
        }
        let store = config
            .persistence
            .unwrap_or_else(|| Arc::new(MemoryPaperPersistence::new()));
        let store = Arc::new(NumberedFromOne(store));
        let paper = PaperExchange::open(paper_config, store)
            .await
            .map_err(|e| match e {
                ExchangeError::Transient(m) => SimError::Store(m),
                e => SimError::Config(e.to_string()),
            })?;
        apply_halts(&paper, &[], &config.faults.halted)?;
        let resumed = {
            let acct = paper.account().await;
            !(acct.balances.is_empty() && acct.orders.is_empty() && acct.fills.is_empty())
        };
        let balances: Vec<(String, Decimal)> = config
            .balances
            .into_iter()
            .filter(|(_, amount)| !amount.is_zero())
            .collect();
        if !resumed && !balances.is_empty() {
            paper
                .deposit_all(&balances)
                .await
                .map_err(|e| SimError::Config(format!("balances: {e}")))?;
        }
        if config.history_ms < 0 {
            return Err(SimError::Config(format!(
                "history_ms {} is not allowed: milliseconds >= 0",
                config.history_ms
            )));
        }
        let mut history = Vec::new();
        let (market, step_ms) = match config.market {
            Some(SimMarket::Replay { feed, step_ms }) => {
                if step_ms <= 0 {
                    return Err(SimError::Config(format!(
                        "market.step_ms {step_ms} is not allowed: milliseconds > 0"
                    )));
                }
                if feed.remaining() == 0 {
                    return Err(SimError::Config(
                        "market replay has no bars: at least one is needed".into(),
                    ));
                }
                (Some(Market::Replay(feed)), step_ms)
            }
            Some(SimMarket::Synthetic(mut m)) => {
                if m.step_ms <= 0 {
                    return Err(SimError::Config(format!(
                        "market.step_ms {} is not allowed: milliseconds > 0",
                        m.step_ms
                    )));
                }
                if config.history_ms > 0 {
                    history = made_up_history(&m, config.history_ms)?;
                    if let Some(last) = history.last() {
                        m.start_prices = last.prices.clone();
                    }
                }
                let step = match m.ticks_per_second {
                    Some(r) if r.is_finite() && r > 0.0 => ((1_000.0 / r).round() as i64).max(1),
                    _ => m.step_ms,
                };
                let market = SyntheticMarket::new(m)
                    .map_err(|e| SimError::Config(format!("market: {e}")))?;
                (Some(Market::Synthetic(Box::new(market))), step)
            }
            None => (None, 0),
        };
        let sim = Arc::new(Sim {
            paper,
            api_key: config.api_key,
            api_secret: config.api_secret,
            started_ms: clock(),
            resumed,
            clock,
            candles: Mutex::new(HashMap::new()),
            generated_ids: std::sync::atomic::AtomicU64::new(0),
            faults: Mutex::new(config.faults),
            usage: Mutex::new(usage::Usage::default()),
            stopping: tokio::sync::watch::Sender::new(false),
            key_can_withdraw: std::sync::atomic::AtomicBool::new(false),
            requests: std::sync::atomic::AtomicU64::new(0),
            windows: Mutex::new(smartfolio_exchange::Budgets::new()),
            limit_refusals: std::sync::atomic::AtomicU64::new(0),
            market: tokio::sync::Mutex::new(market),
            step_ms,
        });
        for tick in &history {
            sim.record(tick);
        }
        sim.step_market().await?;
        Ok(Self { sim })
    }

    /// Whether the account was resumed from [`SimConfig::persistence`] (its starting balances
    /// were then not deposited again).
    pub fn resumed(&self) -> bool {
        self.sim.resumed
    }

    /// The matching engine behind the simulator (balances, orders and fills as it keeps them;
    /// its faults; instrument statuses).
    pub fn paper(&self) -> &PaperExchange {
        &self.sim.paper
    }

    /// How many requests to `/api/…` and `/sapi/…` the simulator has received, whatever their
    /// answer (refused by a fault too).
    pub fn requests(&self) -> u64 {
        self.sim.requests.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many requests were refused for going beyond a venue's request limits, when they are
    /// enforced ([`Faults::okx_strict_limits`]); 0 for a client that keeps within them.
    pub fn limit_refusals(&self) -> u64 {
        self.sim
            .limit_refusals
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The account's total (free and locked) of each asset it holds.
    pub async fn totals(&self) -> BTreeMap<String, Decimal> {
        self.sim
            .paper
            .account()
            .await
            .balances
            .iter()
            .map(|b| (b.asset.clone(), b.total()))
            .collect()
    }

    /// How many orders the account received, and the client ids among them received more than
    /// once (none for a client that never sends an order twice). A Gate `text` sent again is
    /// kept by the engine as `text#n`, and counted here as the `text`.
    pub async fn client_ids(&self) -> (usize, Vec<String>) {
        let orders = self.sim.paper.account().await.orders;
        let mut ids: Vec<&str> = orders
            .iter()
            .map(|o| {
                o.client_id
                    .split(gate_wire::TEXT_REUSE)
                    .next()
                    .unwrap_or(&o.client_id)
            })
            .collect();
        ids.sort_unstable();
        let twice: Vec<String> = ids
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0].to_string())
            .collect();
        (orders.len(), twice)
    }

    /// Whether the account's key may withdraw (`apiRestrictions.enableWithdrawals`; false
    /// unless set).
    pub fn set_key_can_withdraw(&self, can: bool) {
        self.sim
            .key_can_withdraw
            .store(can, std::sync::atomic::Ordering::SeqCst);
    }

    /// Take the market's next step now (what the server does every step): `false` when there
    /// is no market or its replay has ended.
    pub async fn step(&self) -> Result<bool, ExchangeError> {
        self.sim.step_market().await
    }

    /// Replace the injected faults: halts take effect (and lifted halts trade again) at once.
    /// A partial-fill amount other than the one the simulator started with is refused (it is
    /// the engine's depth), as is a halt of an asset the simulator does not list; either way
    /// the faults stay as they were.
    pub fn set_faults(&self, faults: Faults) -> Result<(), SimError> {
        let mut current = self.sim.faults();
        if faults.partial_fill_quote != self.sim.paper.config().depth {
            return Err(SimError::Config(format!(
                "faults.partial {} is not allowed: partial fills are fixed when the simulator starts ({})",
                faults
                    .partial_fill_quote
                    .map_or("none".to_string(), |q| q.to_string()),
                self.sim
                    .paper
                    .config()
                    .depth
                    .map_or("none".to_string(), |q| q.to_string()),
            )));
        }
        apply_halts(&self.sim.paper, &current.halted, &faults.halted)?;
        *current = faults;
        Ok(())
    }

    /// The requests served since the start or the last call, by endpoint
    /// (`"POST /api/v3/order"`): how many, and their total request weight (0 off `/api/`).
    /// Counting starts again from here.
    pub fn take_calls(&self) -> Calls {
        self.sim.usage().take_calls()
    }

    /// The faults not taken yet.
    pub fn faults(&self) -> Faults {
        self.sim.faults().clone()
    }

    /// Set last prices `(base, price)` now: resting orders they cross fill.
    pub async fn set_prices(&self, prices: &[(&str, Decimal)]) -> Result<(), ExchangeError> {
        self.sim
            .apply_prices(
                prices
                    .iter()
                    .map(|(a, p)| (a.to_ascii_uppercase(), *p))
                    .collect(),
            )
            .await
    }

    /// Listen on `addr` (the port may be 0) and serve Binance's REST until the returned server
    /// is dropped or [`RunningSim::shutdown`]; with a synthetic market, it steps every
    /// `step_ms`.
    pub async fn serve(&self, addr: SocketAddr) -> Result<RunningSim, SimError> {
        self.serve_wire(addr, Wire::Binance).await
    }

    /// [`Self::serve`], speaking `wire`'s REST.
    pub async fn serve_wire(&self, addr: SocketAddr, wire: Wire) -> Result<RunningSim, SimError> {
        if let Wire::Okx { passphrase, .. } = &wire
            && passphrase.expose_secret().trim().is_empty()
        {
            return Err(SimError::Config(
                "passphrase \"\" is not allowed: OKX keys have a non-empty passphrase \
                 (SMARTFOLIO_API_PASSPHRASE)"
                    .into(),
            ));
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| SimError::Bind { addr, source })?;
        let app = match wire {
            Wire::Binance => api::router(self.sim.clone()),
            Wire::Okx { passphrase, demo } => okx::router(Arc::new(okx::Okx {
                sim: self.sim.clone(),
                passphrase,
                demo,
            })),
            Wire::Gate => gate::router(Arc::new(gate::Gate {
                sim: self.sim.clone(),
                placing: tokio::sync::Mutex::new(()),
                unseen: Default::default(),
            })),
        };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let shutdown = async {
                let _ = stop_rx.await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!("simulator server stopped: {e}");
            }
        });
        let ticker = (self.sim.step_ms > 0).then(|| {
            let sim = self.sim.clone();
            tokio::spawn(async move {
                let period = std::time::Duration::from_millis(sim.step_ms as u64);
                let mut every = tokio::time::interval(period);
                every.tick().await;
                loop {
                    every.tick().await;
                    if let Err(e) = sim.step_market().await {
                        tracing::warn!("simulator market step refused: {e}");
                    }
                }
            })
        });
        Ok(RunningSim {
            sim: self.sim.clone(),
            addr: local,
            stop: Some(stop_tx),
            server,
            ticker,
        })
    }
}

/// A simulator listening on [`RunningSim::addr`].
pub struct RunningSim {
    sim: Arc<Sim>,
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for RunningSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSim")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningSim {
    /// `http://127.0.0.1:PORT`, the base URL a client is pointed at.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop listening and wait for the server to finish the requests in flight.
    pub async fn shutdown(mut self) {
        self.sim.stopping.send_replace(true);
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.server).await;
    }

    /// Serve until the server ends (the command's foreground mode).
    pub async fn wait(mut self) {
        let _ = (&mut self.server).await;
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.sim.stopping.send_replace(true);
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
