//! smartfolio-exchange: how the bot talks to a venue.
//!
//! - [`Exchange`]: the async interface every venue implements (the paper exchange now; OKX,
//!   Binance and Gate connectors later, one folder each). It speaks domain types only: a
//!   venue's JSON never leaves its connector.
//! - [`ExchangeError`]: every failure is classified, so the runtime knows what it may retry.
//! - [`paper`]: a paper exchange that obeys a venue's rules (lot step, minimum notional and size,
//!   balances, fees in the received currency) and persists its account through
//!   [`paper::PaperPersistence`] so it survives restarts.
//! - [`feed`]: price feeds ([`PriceFeed`]): replay of history files and a seeded synthetic market.
//!
//! Money is `rust_decimal::Decimal` throughout. Orders carry *our* client order id, which the
//! runtime stores before it sends the order; [`Exchange::order`] looks an order up by that id, so
//! an order whose outcome is unknown is found again instead of being re-sent.

pub mod feed;
pub mod paper;

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

pub use feed::{PriceFeed, PriceTick};
pub use smartfolio_core::plan::Side;
pub use smartfolio_core::rules::InstrumentRules;

/// Whether an instrument can be traded now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstrumentStatus {
    Trading,
    /// Trading is suspended for now (the bot suspends and waits).
    Halted,
    /// The instrument is gone for good.
    Delisted,
}

/// A spot instrument: `base` traded against `quote`, with the venue's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrument {
    /// The venue's own symbol (`BTC-USDT` on OKX, `BTCUSDT` on Binance).
    pub symbol: String,
    pub base: String,
    pub quote: String,
    pub rules: InstrumentRules,
    pub status: InstrumentStatus,
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

/// An order to place. `quantity` is in base units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    /// Our id, unique per venue account, stored before the request is sent.
    pub client_id: String,
    pub base: String,
    pub quote: String,
    pub side: Side,
    pub quantity: Decimal,
    pub kind: OrderKind,
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
}

impl OrderStatus {
    /// No further fills can come.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled | OrderStatus::Canceled | OrderStatus::Rejected
        )
    }
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
    pub quantity: Decimal,
    pub filled_quantity: Decimal,
    /// Average fill price, once something filled.
    pub average_price: Option<Decimal>,
    pub status: OrderStatus,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// One execution. Spot venues charge the fee in the currency received: the base for a buy,
/// the quote for a sell.
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

/// A classified venue failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    /// A network or server hiccup; the same request may be tried again (never a placement whose
    /// outcome is unknown: see `UnknownOutcome`).
    #[error("transient venue error: {0}")]
    Transient(String),
    /// Too many requests; wait at least `retry_after_ms`.
    #[error("rate limited: retry after {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u64 },
    /// The venue refused the request; retrying the same request fails the same way.
    #[error("rejected by the venue ({code}): {message}")]
    Rejected { code: String, message: String },
    /// The request may or may not have taken effect (a timeout after sending, a dropped
    /// connection). The order must be looked up by client id before anything else is done.
    #[error("unknown outcome: {0}")]
    UnknownOutcome(String),
}

impl ExchangeError {
    /// Whether the same request may simply be sent again.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ExchangeError::Transient(_) | ExchangeError::RateLimited { .. }
        )
    }
}

/// Reject codes shared by the paper exchange and the connectors' mapping of venue codes.
pub mod reject {
    pub const LOT_STEP: &str = "lot_step";
    pub const MIN_SIZE: &str = "min_size";
    pub const MIN_NOTIONAL: &str = "min_notional";
    pub const TICK_SIZE: &str = "tick_size";
    pub const INSUFFICIENT_BALANCE: &str = "insufficient_balance";
    pub const UNKNOWN_INSTRUMENT: &str = "unknown_instrument";
    pub const NOT_TRADING: &str = "not_trading";
    pub const DUPLICATE_CLIENT_ID: &str = "duplicate_client_id";
    pub const UNKNOWN_ORDER: &str = "unknown_order";
    /// A cancel of an order that is already filled, canceled or rejected.
    pub const ORDER_NOT_OPEN: &str = "order_not_open";
    pub const NO_PRICE: &str = "no_price";
    pub const INVALID: &str = "invalid_request";
}

/// A spot venue account.
#[async_trait]
pub trait Exchange: Send + Sync {
    /// A short name for logs and the ledger (`paper`, `okx`, `binance`).
    fn name(&self) -> &str;

    /// Every spot instrument with its rules and status.
    async fn instruments(&self) -> Result<Vec<Instrument>, ExchangeError>;

    /// The whole account's balances (the bot's own share is in its ledger, never this).
    async fn balances(&self) -> Result<Vec<Balance>, ExchangeError>;

    /// Last prices of `bases` against `quote`. An unknown instrument is `Rejected`.
    async fn tickers(&self, bases: &[String], quote: &str) -> Result<Vec<Ticker>, ExchangeError>;

    /// Place an order under `request.client_id`. A duplicate client id is `Rejected` with
    /// [`reject::DUPLICATE_CLIENT_ID`] and changes nothing.
    async fn place_order(&self, request: &OrderRequest) -> Result<Order, ExchangeError>;

    /// Cancel an open order by client id; returns the order as it ended.
    async fn cancel_order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<Order, ExchangeError>;

    /// Look an order up by client id; `None` when the venue never received it.
    async fn order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<Option<Order>, ExchangeError>;

    /// Every open order of the account.
    async fn open_orders(&self) -> Result<Vec<Order>, ExchangeError>;

    /// The fills of one order, oldest first.
    async fn fills(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
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
