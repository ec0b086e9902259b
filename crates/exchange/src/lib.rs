//! smartfolio-exchange: how the bot talks to a venue.
//!
//! - [`Exchange`]: the async interface every venue implements (the paper exchange now; Binance,
//!   OKX and Gate connectors later, one folder each). It speaks domain types only: a venue's JSON
//!   never leaves its connector.
//! - [`ExchangeError`]: every failure is classified, so the runtime knows what it may retry.
//! - [`settle`]: the one policy for an order whose client id the venue does not find (yet):
//!   look again within a window, then read open orders and fills; never re-send.
//! - [`time`]: the venue's clock offset from its server time.
//! - [`ban`]: a venue's rate-limit ban, shared by the connectors' clients.
//! - [`budget`]: client-side request budgets per endpoint ("N requests in any window"), so a
//!   connector paces a burst instead of being refused.
//! - [`num`]: serde readers of the numbers venues send as strings or JSON numbers.
//! - [`failure`]: what a connector's failed call means ([`failure::Class`]) and its one
//!   mapping onto [`ExchangeError`].
//! - [`paper`]: a paper exchange that obeys a venue's rules and persists its account through
//!   [`paper::PaperPersistence`] so it survives restarts.
//! - [`feed`]: price feeds ([`PriceFeed`]): replay of history files and a seeded synthetic market.
//!
//! ## The order life cycle (interface v2)
//!
//! 1. The runtime stores an order's client id, then sends an [`OrderRequest`]: sized in base
//!    **or** quote units ([`OrderSize`]), market or limit ([`OrderKind`]), with a
//!    [`TimeInForce`] and `post_only`.
//! 2. [`Exchange::place_order`] answers with an [`OrderAck`] (the venue took it) or an error. An
//!    ack says nothing about fills: the runtime follows the order by client id
//!    ([`Exchange::order`]) until its [`OrderStatus`] is final.
//! 3. [`Exchange::order`] answers [`OrderLookup::Found`], [`OrderLookup::NotFoundYet`] or
//!    [`OrderLookup::Unknown`]. A not-found is *not* "never sent" while the venue may still be
//!    indexing the order: [`settle::settle`] decides.
//! 4. Each [`Fill`] names the asset its fee was paid in, which may be a third asset (BNB, OKB,
//!    GT); [`Fill::fee_value`] values it in the quote.
//!
//! Money is `rust_decimal::Decimal` throughout. Orders carry *our* client order id, which the
//! runtime stores before it sends the order, and which is never reused.

pub mod ban;
pub mod budget;
pub mod failure;
pub mod feed;
pub mod history;
pub mod num;
pub mod paper;
pub mod settle;
pub mod time;

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

pub use ban::Ban;
pub use budget::{Budgets, Limit};
pub use feed::{PriceFeed, PriceTick};
pub use settle::{LookupPolicy, Settled};
pub use smartfolio_core::plan::Side;
pub use smartfolio_core::rules::InstrumentRules;
pub use time::{ClockOffset, LocalClock, system_clock};

/// An instrument's key: `base` traded against `quote` (upper-case asset symbols). Venues spell
/// the symbol their own way (`BTCUSDT`, `BTC-USDT`, `BTC_USDT`); the key is the same everywhere.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Pair {
    pub base: String,
    pub quote: String,
}

impl Pair {
    /// The pair with both symbols trimmed and upper-cased.
    pub fn new(base: &str, quote: &str) -> Self {
        Self {
            base: base.trim().to_ascii_uppercase(),
            quote: quote.trim().to_ascii_uppercase(),
        }
    }
}

impl fmt::Display for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.quote)
    }
}

/// Whether an instrument can be traded now, and in which direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstrumentStatus {
    Trading,
    /// Only sells are accepted (Gate `sellable`; a venue winding an asset down).
    SellOnly,
    /// No new orders; resting orders can only be canceled and do not fill.
    CancelOnly,
    /// Trading is suspended for now (Binance `HALT`/`BREAK`, OKX `suspend`): the bot waits.
    Halted,
    /// The instrument is gone for good.
    Delisted,
}

impl InstrumentStatus {
    /// Whether a new order on this side is accepted.
    pub fn accepts(self, side: Side) -> bool {
        match self {
            InstrumentStatus::Trading => true,
            InstrumentStatus::SellOnly => side == Side::Sell,
            _ => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InstrumentStatus::Trading => "trading",
            InstrumentStatus::SellOnly => "sell-only",
            InstrumentStatus::CancelOnly => "cancel-only",
            InstrumentStatus::Halted => "halted",
            InstrumentStatus::Delisted => "delisted",
        }
    }
}

impl fmt::Display for InstrumentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A band a limit price must lie in, as multipliers of the reference (last) price: the price
/// must be within `[reference × down, reference × up]` (Binance `PERCENT_PRICE_BY_SIDE`, OKX's
/// price limits, Gate's `up_rate`/`down_rate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceBand {
    /// Lowest multiplier, in (0, 1].
    pub down: Decimal,
    /// Highest multiplier, ≥ 1.
    pub up: Decimal,
}

impl PriceBand {
    /// The lowest and highest price allowed around `reference`.
    pub fn range(&self, reference: Decimal) -> (Decimal, Decimal) {
        (reference * self.down, reference * self.up)
    }
}

/// The venue's upper limits on an order, beside the rounding rules in [`InstrumentRules`]. A
/// missing limit does not constrain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLimits {
    /// Largest base quantity of any order (Binance `LOT_SIZE.maxQty`, OKX `maxLmtSz`, Gate
    /// `max_base_amount`).
    pub max_quantity: Option<Decimal>,
    /// Largest base quantity of a market order (Binance `MARKET_LOT_SIZE.maxQty`, OKX `maxMktSz`).
    pub max_market_quantity: Option<Decimal>,
    /// Largest notional in quote (Binance `NOTIONAL.maxNotional`, Gate `max_quote_amount`).
    pub max_notional: Option<Decimal>,
    /// The band of a buy's limit price around the last price.
    pub buy_band: Option<PriceBand>,
    /// The band of a sell's limit price around the last price.
    pub sell_band: Option<PriceBand>,
}

/// A spot instrument: `base` traded against `quote`, with the venue's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrument {
    /// The venue's own symbol (`BTC-USDT` on OKX, `BTCUSDT` on Binance).
    pub symbol: String,
    pub base: String,
    pub quote: String,
    /// Rounding and minimums (the plan rounds to these).
    pub rules: InstrumentRules,
    /// Maximums and price bands (an order beyond them is refused).
    pub limits: OrderLimits,
    pub status: InstrumentStatus,
    /// Whether the venue takes post-only limit orders on it (Binance `LIMIT_MAKER` among the
    /// symbol's `orderTypes`, OKX `post_only`, Gate `poc`).
    pub post_only: bool,
}

impl Instrument {
    /// The instrument's key.
    pub fn pair(&self) -> Pair {
        Pair::new(&self.base, &self.quote)
    }
}

/// An account balance of one asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub asset: String,
    /// Available to trade.
    pub free: Decimal,
    /// Reserved by open orders.
    pub locked: Decimal,
}

impl Balance {
    pub fn total(&self) -> Decimal {
        self.free + self.locked
    }
}

/// The last trade price of an instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticker {
    pub base: String,
    pub quote: String,
    pub last: Decimal,
    /// When the venue saw that price (UTC epoch ms).
    pub time_ms: i64,
}

/// Market or limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderKind {
    Market,
    Limit { price: Decimal },
}

/// How much an order trades: a base quantity, or a quote amount (a market buy spending that
/// much quote: Binance `quoteOrderQty`, OKX `tgtCcy=quote_ccy`, a Gate market buy's `amount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "unit", content = "amount", rename_all = "snake_case")]
pub enum OrderSize {
    Base(Decimal),
    Quote(Decimal),
}

impl OrderSize {
    /// The amount, in its unit.
    pub fn amount(self) -> Decimal {
        match self {
            OrderSize::Base(q) | OrderSize::Quote(q) => q,
        }
    }

    /// The base quantity, when the size is in base.
    pub fn base(self) -> Option<Decimal> {
        match self {
            OrderSize::Base(q) => Some(q),
            OrderSize::Quote(_) => None,
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            OrderSize::Base(_) => "base",
            OrderSize::Quote(_) => "quote",
        }
    }
}

impl fmt::Display for OrderSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderSize::Base(q) => write!(f, "{}", q.normalize()),
            OrderSize::Quote(q) => write!(f, "{} (quote)", q.normalize()),
        }
    }
}

/// How long an order may rest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    /// Good till canceled: the rest of a limit order rests on the book.
    #[default]
    Gtc,
    /// Immediate or cancel: what does not fill at once expires.
    Ioc,
    /// Fill or kill: fills completely at once, or expires with nothing filled.
    Fok,
}

impl TimeInForce {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "gtc",
            TimeInForce::Ioc => "ioc",
            TimeInForce::Fok => "fok",
        }
    }
}

/// An order to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    /// Our id, unique per venue account for ever, stored before the request is sent.
    pub client_id: String,
    pub base: String,
    pub quote: String,
    pub side: Side,
    pub size: OrderSize,
    pub kind: OrderKind,
    /// Market orders never rest whatever this says: venues treat them as immediate.
    pub time_in_force: TimeInForce,
    /// A limit order that must add liquidity: refused if it would trade at once (Binance
    /// `LIMIT_MAKER`, OKX `post_only`, Gate `poc`).
    pub post_only: bool,
}

impl OrderRequest {
    /// A market order of `size`.
    pub fn market(
        client_id: impl Into<String>,
        base: impl Into<String>,
        quote: impl Into<String>,
        side: Side,
        size: OrderSize,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            base: base.into(),
            quote: quote.into(),
            side,
            size,
            kind: OrderKind::Market,
            time_in_force: TimeInForce::Gtc,
            post_only: false,
        }
    }

    /// A good-till-canceled limit order of `quantity` base at `price`.
    pub fn limit(
        client_id: impl Into<String>,
        base: impl Into<String>,
        quote: impl Into<String>,
        side: Side,
        quantity: Decimal,
        price: Decimal,
    ) -> Self {
        Self {
            kind: OrderKind::Limit { price },
            ..Self::market(client_id, base, quote, side, OrderSize::Base(quantity))
        }
    }

    pub fn with_time_in_force(mut self, tif: TimeInForce) -> Self {
        self.time_in_force = tif;
        self
    }

    pub fn post_only(mut self) -> Self {
        self.post_only = true;
        self
    }

    pub fn pair(&self) -> Pair {
        Pair::new(&self.base, &self.quote)
    }
}

/// The venue's answer to a placement: it took the order. Nothing about fills: follow the order
/// with [`Exchange::order`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderAck {
    pub client_id: String,
    pub venue_id: String,
    /// The venue's time of acceptance (UTC epoch ms).
    pub time_ms: i64,
}

/// Where an order stands at the venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Accepted and resting, nothing filled yet.
    Open,
    PartiallyFilled,
    Filled,
    /// Canceled, possibly after a partial fill.
    Canceled,
    Rejected,
    /// Ended by its time in force (IOC/FOK, a market order the book could not fill), possibly
    /// after a partial fill (Binance `EXPIRED`, `EXPIRED_IN_MATCH`).
    Expired,
}

impl OrderStatus {
    /// No further fills can come.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Canceled
                | OrderStatus::Rejected
                | OrderStatus::Expired
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::PartiallyFilled => "partially filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Canceled => "canceled",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Expired => "expired",
        }
    }
}

/// An amount of one asset paid as fees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeePaid {
    pub asset: String,
    pub amount: Decimal,
}

/// An order as the venue reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub client_id: String,
    pub venue_id: String,
    pub base: String,
    pub quote: String,
    pub side: Side,
    pub kind: OrderKind,
    /// As requested.
    pub size: OrderSize,
    pub time_in_force: TimeInForce,
    pub post_only: bool,
    /// Base filled so far.
    pub filled_quantity: Decimal,
    /// Quote filled so far (Σ quantity × price of the fills, before fees).
    pub filled_quote: Decimal,
    /// Fees paid so far, one entry per asset (sorted by asset).
    pub fees: Vec<FeePaid>,
    /// Average fill price, once something filled.
    pub average_price: Option<Decimal>,
    pub status: OrderStatus,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl Order {
    pub fn pair(&self) -> Pair {
        Pair::new(&self.base, &self.quote)
    }

    /// Whether everything the order asked for has filled (its size in its own unit).
    pub fn fully_filled(&self) -> bool {
        match self.size {
            OrderSize::Base(q) => self.filled_quantity >= q,
            OrderSize::Quote(q) => self.filled_quote >= q,
        }
    }

    /// Add a fill's quantities and fee to the order's cumulative figures (the status is left to
    /// the caller).
    pub fn add_fill(&mut self, fill: &Fill) {
        let notional = fill.quantity * fill.price;
        let before = self.filled_quantity;
        self.average_price = Some(match self.average_price {
            Some(_) if before > Decimal::ZERO => {
                (self.filled_quote + notional) / (before + fill.quantity)
            }
            _ => fill.price,
        });
        self.filled_quantity += fill.quantity;
        self.filled_quote += notional;
        if !fill.fee.is_zero() {
            match self.fees.binary_search_by(|f| f.asset.cmp(&fill.fee_asset)) {
                Ok(i) => self.fees[i].amount += fill.fee,
                Err(i) => self.fees.insert(
                    i,
                    FeePaid {
                        asset: fill.fee_asset.clone(),
                        amount: fill.fee,
                    },
                ),
            }
        }
        self.updated_ms = self.updated_ms.max(fill.time_ms);
    }
}

/// The answer to a lookup by client id.
#[derive(Debug, Clone, PartialEq, Eq)]
// One answer per lookup, never stored in bulk: not worth a box.
#[allow(clippy::large_enum_variant)]
pub enum OrderLookup {
    Found(Order),
    /// The venue has no order under this id *now*. Right after a placement this is not proof
    /// that it was never sent (Binance `-2013` for a few seconds): see [`settle::settle`].
    NotFoundYet,
    /// The venue cannot answer by client id (Gate forgets a `text` about an hour after the
    /// order ends): settle from open orders and fills.
    Unknown,
}

impl OrderLookup {
    /// The order, if found.
    pub fn found(self) -> Option<Order> {
        match self {
            OrderLookup::Found(o) => Some(o),
            _ => None,
        }
    }
}

/// One execution. The fee is in `fee_asset`: the received currency (the base of a buy, the
/// quote of a sell), or a third asset the account pays fees in (BNB, OKB, GT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    /// The venue's id of this execution; unique per account.
    pub fill_id: String,
    pub client_id: String,
    pub venue_order_id: String,
    pub base: String,
    pub quote: String,
    pub side: Side,
    pub quantity: Decimal,
    pub price: Decimal,
    pub fee: Decimal,
    pub fee_asset: String,
    pub time_ms: i64,
}

impl Fill {
    /// Whether the fee was paid in an asset other than the pair's two.
    pub fn fee_in_third_asset(&self) -> bool {
        self.fee_asset != self.base && self.fee_asset != self.quote
    }

    /// The fee valued in the quote: as is in the quote, at the fill's price in the base, and at
    /// `third_price` (the fee asset's price in the quote) in a third asset; `None` when a third
    /// asset has no price (Gate POINT).
    pub fn fee_value(&self, third_price: Option<Decimal>) -> Option<Decimal> {
        if self.fee_asset == self.quote {
            Some(self.fee)
        } else if self.fee_asset == self.base {
            Some(self.fee * self.price)
        } else {
            third_price.map(|p| self.fee * p)
        }
    }
}

/// A classified venue failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    /// A network or server hiccup before the venue took the request; the same request may be
    /// tried again (never a placement whose outcome is unknown: see `UnknownOutcome`).
    #[error("transient venue error: {0}")]
    Transient(String),
    /// Too many requests (HTTP 429/418, Binance `-1003`, OKX `50011`, Gate
    /// `TOO_MANY_REQUESTS`): nothing may be sent before `retry_after_ms` has passed.
    #[error("rate limited: retry after {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u64 },
    /// The venue refused the request; retrying the same request fails the same way.
    #[error("rejected by the venue ({code}): {message}")]
    Rejected { code: String, message: String },
    /// The request may or may not have taken effect (a timeout after sending, a 5xx, Binance
    /// `-1006`/`-1007`, OKX `50004`). The order is settled by [`settle::settle`], never re-sent.
    #[error("unknown outcome: {0}")]
    UnknownOutcome(String),
}

impl ExchangeError {
    /// Whether the same request may simply be sent again (after waiting, for `RateLimited`).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ExchangeError::Transient(_) | ExchangeError::RateLimited { .. }
        )
    }

    /// How long to wait before the next request, for a rate limit.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            ExchangeError::RateLimited { retry_after_ms } => Some(*retry_after_ms),
            _ => None,
        }
    }
}

/// Reject codes shared by the paper exchange and the connectors' mapping of venue codes.
pub mod reject {
    pub const LOT_STEP: &str = "lot_step";
    pub const MIN_SIZE: &str = "min_size";
    pub const MIN_NOTIONAL: &str = "min_notional";
    /// Above [`crate::OrderLimits::max_quantity`] or `max_market_quantity`.
    pub const MAX_SIZE: &str = "max_size";
    /// Above [`crate::OrderLimits::max_notional`].
    pub const MAX_NOTIONAL: &str = "max_notional";
    pub const TICK_SIZE: &str = "tick_size";
    /// A limit price outside the instrument's [`crate::PriceBand`].
    pub const PRICE_BAND: &str = "price_band";
    /// A post-only order that would trade at once.
    pub const WOULD_TAKE: &str = "post_only_would_take";
    pub const INSUFFICIENT_BALANCE: &str = "insufficient_balance";
    pub const UNKNOWN_INSTRUMENT: &str = "unknown_instrument";
    /// The instrument's status refuses this order (halted, delisted, cancel-only, or a buy on a
    /// sell-only instrument).
    pub const NOT_TRADING: &str = "not_trading";
    pub const DUPLICATE_CLIENT_ID: &str = "duplicate_client_id";
    pub const UNKNOWN_ORDER: &str = "unknown_order";
    /// A cancel of an order that is already final.
    pub const ORDER_NOT_OPEN: &str = "order_not_open";
    pub const NO_PRICE: &str = "no_price";
    pub const INVALID: &str = "invalid_request";
    /// A request signed with the wrong secret.
    pub const BAD_SIGNATURE: &str = "bad_signature";
    /// A wrong, malformed or unauthorised API key (or passphrase, IP, permission).
    pub const BAD_KEY: &str = "bad_key";
}

/// A spot venue account.
#[async_trait]
pub trait Exchange: Send + Sync {
    /// A short name for logs and the ledger (`paper`, `okx`, `binance`).
    fn name(&self) -> &str;

    /// How a not-found right after placement is settled on this venue (see [`settle`]).
    fn lookup_policy(&self) -> LookupPolicy {
        LookupPolicy::default()
    }

    /// The venue's clock (UTC epoch ms), for the clock offset ([`ClockOffset`]).
    async fn server_time_ms(&self) -> Result<i64, ExchangeError>;

    /// Every spot instrument with its rules, limits and status.
    async fn instruments(&self) -> Result<Vec<Instrument>, ExchangeError>;

    /// The whole account's balances (the bot's own share is in its ledger, never this).
    async fn balances(&self) -> Result<Vec<Balance>, ExchangeError>;

    /// Last prices of `bases` against `quote`. An unknown instrument is `Rejected`.
    async fn tickers(&self, bases: &[String], quote: &str) -> Result<Vec<Ticker>, ExchangeError>;

    /// The best bid and ask of `base`/`quote`, when the venue shows them (Binance
    /// `bookTicker`, OKX `bidPx`/`askPx`); `None` (the default) where it does not: a limit
    /// order is then priced at the last price.
    async fn touch(
        &self,
        _base: &str,
        _quote: &str,
    ) -> Result<Option<(Decimal, Decimal)>, ExchangeError> {
        Ok(None)
    }

    /// The quote volume of `base`/`quote` traded over the venue's last 24 hours (Binance
    /// `ticker/24hr` `quoteVolume`, OKX `volCcy24h`, Gate `quote_volume`); `None` (the
    /// default) where the venue does not say. The runtime caps a worked leg's slices at a
    /// share of it (`max_volume_share`).
    async fn volume_24h(
        &self,
        _base: &str,
        _quote: &str,
    ) -> Result<Option<Decimal>, ExchangeError> {
        Ok(None)
    }

    /// Place an order under `request.client_id`. `Ok` is the venue's acknowledgement only; a
    /// duplicate client id is `Rejected` with [`reject::DUPLICATE_CLIENT_ID`] and changes
    /// nothing.
    async fn place_order(&self, request: &OrderRequest) -> Result<OrderAck, ExchangeError>;

    /// Cancel an open order by client id; returns the order as it ended.
    async fn cancel_order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<Order, ExchangeError>;

    /// Look an order up by client id.
    async fn order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<OrderLookup, ExchangeError>;

    /// Every open order of the account.
    async fn open_orders(&self) -> Result<Vec<Order>, ExchangeError>;

    /// The fills of one order, oldest first.
    async fn fills(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<Vec<Fill>, ExchangeError>;

    /// The fills of `order` as a lookup just found it, oldest first. A venue that reads fills
    /// by its own order id (OKX `ordId`, Gate `order_id`) takes it from `order.venue_id`
    /// instead of looking the order up again; the default reads them by client id
    /// ([`Exchange::fills`]).
    async fn fills_of_order(&self, order: &Order) -> Result<Vec<Fill>, ExchangeError> {
        self.fills(&order.base, &order.quote, &order.client_id)
            .await
    }

    /// Every fill on `base`/`quote` at or after `since_ms`, oldest first (Binance `myTrades`
    /// with `startTime`, OKX `/trade/fills`, Gate `/spot/my_trades` with `from`).
    async fn fills_since(
        &self,
        base: &str,
        quote: &str,
        since_ms: i64,
    ) -> Result<Vec<Fill>, ExchangeError>;
}

impl fmt::Display for OrderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderKind::Market => f.write_str("market"),
            OrderKind::Limit { price } => write!(f, "limit {}", price.normalize()),
        }
    }
}
