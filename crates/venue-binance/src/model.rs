//! Binance spot payloads as Binance sends them (serde), and nothing else: the connector maps
//! them onto the exchange interface's types, and they never leave the crate's callers' hands.
//!
//! Every numeric field accepts a JSON number or a string ([`crate::num`]); money and quantities
//! are `Decimal`. Unknown fields are ignored, unknown enum values are kept as `Other` so a new
//! status or filter from Binance does not break parsing.

use crate::num;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};

/// `GET /api/v3/time`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerTime {
    #[serde(deserialize_with = "num::int")]
    pub server_time: i64,
}

/// An error body: `{"code":-1121,"msg":"Invalid symbol."}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ErrorBody {
    #[serde(deserialize_with = "num::int")]
    pub code: i64,
    #[serde(default)]
    pub msg: String,
}

/// `GET /api/v3/exchangeInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeInfo {
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default, deserialize_with = "num::opt_int")]
    pub server_time: Option<i64>,
    #[serde(default)]
    pub rate_limits: Vec<RateLimit>,
    #[serde(default)]
    pub symbols: Vec<SymbolInfo>,
}

impl ExchangeInfo {
    /// The symbol named `symbol`.
    pub fn symbol(&self, symbol: &str) -> Option<&SymbolInfo> {
        self.symbols.iter().find(|s| s.symbol == symbol)
    }
}

/// What a rate limit counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateLimitType {
    /// Request weight per IP (`X-MBX-USED-WEIGHT-…`).
    RequestWeight,
    /// New orders per account (`X-MBX-ORDER-COUNT-…`).
    Orders,
    /// Raw requests per IP, whatever their weight.
    RawRequests,
    Other(String),
}

impl<'de> Deserialize<'de> for RateLimitType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "REQUEST_WEIGHT" => RateLimitType::RequestWeight,
            "ORDERS" => RateLimitType::Orders,
            "RAW_REQUESTS" => RateLimitType::RawRequests,
            _ => RateLimitType::Other(s),
        })
    }
}

/// The unit of a rate limit's interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IntervalUnit {
    Second,
    Minute,
    Hour,
    Day,
}

impl IntervalUnit {
    pub fn millis(self) -> i64 {
        match self {
            IntervalUnit::Second => 1_000,
            IntervalUnit::Minute => 60_000,
            IntervalUnit::Hour => 3_600_000,
            IntervalUnit::Day => 86_400_000,
        }
    }

    /// The letter Binance uses in its headers (`X-MBX-USED-WEIGHT-1M`).
    pub fn from_letter(c: char) -> Option<Self> {
        match c.to_ascii_uppercase() {
            'S' => Some(IntervalUnit::Second),
            'M' => Some(IntervalUnit::Minute),
            'H' => Some(IntervalUnit::Hour),
            'D' => Some(IntervalUnit::Day),
            _ => None,
        }
    }
}

/// One entry of `exchangeInfo.rateLimits`: at most `limit` per `interval_num` × `interval`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    pub rate_limit_type: RateLimitType,
    pub interval: IntervalUnit,
    #[serde(deserialize_with = "num::int")]
    pub interval_num: i64,
    #[serde(deserialize_with = "num::int")]
    pub limit: i64,
}

impl RateLimit {
    /// The window length in milliseconds.
    pub fn window_ms(&self) -> i64 {
        self.interval.millis() * self.interval_num.max(1)
    }
}

/// A symbol's trading status. Binance's current list is `TRADING`, `END_OF_DAY`, `HALT`,
/// `BREAK` and `CANCEL_ONLY`; orders can be canceled, not placed, under `HALT` and `BREAK`. The
/// older `PRE_TRADING`, `POST_TRADING` and `AUCTION_MATCH` are still read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SymbolStatus {
    PreTrading,
    Trading,
    PostTrading,
    EndOfDay,
    Halt,
    AuctionMatch,
    Break,
    CancelOnly,
    Other(String),
}

impl<'de> Deserialize<'de> for SymbolStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "PRE_TRADING" => SymbolStatus::PreTrading,
            "TRADING" => SymbolStatus::Trading,
            "POST_TRADING" => SymbolStatus::PostTrading,
            "END_OF_DAY" => SymbolStatus::EndOfDay,
            "HALT" => SymbolStatus::Halt,
            "AUCTION_MATCH" => SymbolStatus::AuctionMatch,
            "BREAK" => SymbolStatus::Break,
            "CANCEL_ONLY" => SymbolStatus::CancelOnly,
            _ => SymbolStatus::Other(s),
        })
    }
}

/// One symbol of `exchangeInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolInfo {
    pub symbol: String,
    pub status: SymbolStatus,
    pub base_asset: String,
    pub quote_asset: String,
    #[serde(default, deserialize_with = "num::opt_int")]
    pub base_asset_precision: Option<i64>,
    #[serde(default, deserialize_with = "num::opt_int")]
    pub quote_asset_precision: Option<i64>,
    #[serde(default)]
    pub order_types: Vec<String>,
    #[serde(default)]
    pub quote_order_qty_market_allowed: Option<bool>,
    #[serde(default)]
    pub is_spot_trading_allowed: Option<bool>,
    #[serde(default)]
    pub filters: Vec<Filter>,
}

/// `PRICE_FILTER`: limit prices within `[min_price, max_price]` (0 disables a bound), on a
/// multiple of `tick_size` (0 disables it) above `min_price`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceFilter {
    #[serde(deserialize_with = "num::decimal")]
    pub min_price: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub max_price: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub tick_size: Decimal,
}

/// `LOT_SIZE` and `MARKET_LOT_SIZE`: quantities within `[min_qty, max_qty]`, on a multiple of
/// `step_size` above `min_qty`. In `MARKET_LOT_SIZE`, a zero disables that rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LotSize {
    #[serde(deserialize_with = "num::decimal")]
    pub min_qty: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub max_qty: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub step_size: Decimal,
}

/// `NOTIONAL` (current): notional within `[min_notional, max_notional]`; each bound applies to
/// market orders only when its `apply_*_to_market` says so.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotionalFilter {
    #[serde(deserialize_with = "num::decimal")]
    pub min_notional: Decimal,
    #[serde(default = "yes", deserialize_with = "num::boolean")]
    pub apply_min_to_market: bool,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub max_notional: Option<Decimal>,
    #[serde(default, deserialize_with = "num::boolean")]
    pub apply_max_to_market: bool,
    #[serde(default, deserialize_with = "num::opt_int")]
    pub avg_price_mins: Option<i64>,
}

/// `MIN_NOTIONAL` (older payloads): notional ≥ `min_notional`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MinNotionalFilter {
    #[serde(deserialize_with = "num::decimal")]
    pub min_notional: Decimal,
    #[serde(default = "yes", deserialize_with = "num::boolean")]
    pub apply_to_market: bool,
    #[serde(default, deserialize_with = "num::opt_int")]
    pub avg_price_mins: Option<i64>,
}

/// `PERCENT_PRICE_BY_SIDE`: a buy's price within `[avg × bid_down, avg × bid_up]`, a sell's
/// within `[avg × ask_down, avg × ask_up]`, around the average price of `avg_price_mins`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PercentPriceBySide {
    #[serde(deserialize_with = "num::decimal")]
    pub bid_multiplier_up: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub bid_multiplier_down: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub ask_multiplier_up: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub ask_multiplier_down: Decimal,
    #[serde(default, deserialize_with = "num::opt_int")]
    pub avg_price_mins: Option<i64>,
}

/// `PERCENT_PRICE` (older payloads): one band for both sides.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PercentPrice {
    #[serde(deserialize_with = "num::decimal")]
    pub multiplier_up: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub multiplier_down: Decimal,
    #[serde(default, deserialize_with = "num::opt_int")]
    pub avg_price_mins: Option<i64>,
}

fn yes() -> bool {
    true
}

/// A symbol filter. Filters the connector does not use (`ICEBERG_PARTS`, `TRAILING_DELTA`,
/// `MAX_NUM_ORDERS`, …) are kept as `Other`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "filterType", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Filter {
    PriceFilter(PriceFilter),
    LotSize(LotSize),
    MarketLotSize(LotSize),
    Notional(NotionalFilter),
    MinNotional(MinNotionalFilter),
    PercentPriceBySide(PercentPriceBySide),
    PercentPrice(PercentPrice),
    #[serde(other)]
    Other,
}

impl SymbolInfo {
    pub fn price_filter(&self) -> Option<&PriceFilter> {
        self.filters.iter().find_map(|f| match f {
            Filter::PriceFilter(p) => Some(p),
            _ => None,
        })
    }

    pub fn lot_size(&self) -> Option<&LotSize> {
        self.filters.iter().find_map(|f| match f {
            Filter::LotSize(l) => Some(l),
            _ => None,
        })
    }

    pub fn market_lot_size(&self) -> Option<&LotSize> {
        self.filters.iter().find_map(|f| match f {
            Filter::MarketLotSize(l) => Some(l),
            _ => None,
        })
    }

    /// The minimum notional of `NOTIONAL`, or of the older `MIN_NOTIONAL`.
    pub fn min_notional(&self) -> Option<Decimal> {
        self.filters.iter().find_map(|f| match f {
            Filter::Notional(n) => Some(n.min_notional),
            Filter::MinNotional(n) => Some(n.min_notional),
            _ => None,
        })
    }

    /// The maximum notional of `NOTIONAL`, when set (a zero or absent value does not limit).
    pub fn max_notional(&self) -> Option<Decimal> {
        self.filters.iter().find_map(|f| match f {
            Filter::Notional(n) => n.max_notional.filter(|m| !m.is_zero()),
            _ => None,
        })
    }

    /// The price bands as (buy down, buy up, sell down, sell up) multipliers, from
    /// `PERCENT_PRICE_BY_SIDE` or the older `PERCENT_PRICE`.
    pub fn price_bands(&self) -> Option<(Decimal, Decimal, Decimal, Decimal)> {
        self.filters.iter().find_map(|f| match f {
            Filter::PercentPriceBySide(p) => Some((
                p.bid_multiplier_down,
                p.bid_multiplier_up,
                p.ask_multiplier_down,
                p.ask_multiplier_up,
            )),
            Filter::PercentPrice(p) => Some((
                p.multiplier_down,
                p.multiplier_up,
                p.multiplier_down,
                p.multiplier_up,
            )),
            _ => None,
        })
    }
}

/// `GET /api/v3/account`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(default)]
    pub can_trade: Option<bool>,
    #[serde(default)]
    pub can_withdraw: Option<bool>,
    #[serde(default)]
    pub can_deposit: Option<bool>,
    #[serde(default)]
    pub account_type: Option<String>,
    #[serde(default, deserialize_with = "num::opt_int")]
    pub update_time: Option<i64>,
    pub balances: Vec<AssetBalance>,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub commission_rates: Option<CommissionRates>,
}

/// One asset of the account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AssetBalance {
    pub asset: String,
    #[serde(deserialize_with = "num::decimal")]
    pub free: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub locked: Decimal,
}

/// The account's commission rates (fractions).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CommissionRates {
    #[serde(deserialize_with = "num::decimal")]
    pub maker: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub taker: Decimal,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub buyer: Option<Decimal>,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub seller: Option<Decimal>,
}

/// `GET /api/v3/ticker/price`, one symbol.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TickerPrice {
    pub symbol: String,
    #[serde(deserialize_with = "num::decimal")]
    pub price: Decimal,
}

/// `GET /api/v3/ticker/24hr?type=MINI`, one symbol: what the connector reads of it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticker24h {
    pub symbol: String,
    /// The quote volume traded over the last 24 hours.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub quote_volume: Option<Decimal>,
}

/// `GET /api/v3/ticker/bookTicker`, one symbol.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookTicker {
    pub symbol: String,
    #[serde(deserialize_with = "num::decimal")]
    pub bid_price: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub bid_qty: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub ask_price: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub ask_qty: Decimal,
}

/// An order's status at Binance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderStatus {
    New,
    PendingNew,
    PartiallyFilled,
    Filled,
    Canceled,
    PendingCancel,
    Rejected,
    Expired,
    /// Expired by self-trade prevention.
    ExpiredInMatch,
    Other(String),
}

impl<'de> Deserialize<'de> for OrderStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "NEW" => OrderStatus::New,
            "PENDING_NEW" => OrderStatus::PendingNew,
            "PARTIALLY_FILLED" => OrderStatus::PartiallyFilled,
            "FILLED" => OrderStatus::Filled,
            "CANCELED" => OrderStatus::Canceled,
            "PENDING_CANCEL" => OrderStatus::PendingCancel,
            "REJECTED" => OrderStatus::Rejected,
            "EXPIRED" => OrderStatus::Expired,
            "EXPIRED_IN_MATCH" => OrderStatus::ExpiredInMatch,
            _ => OrderStatus::Other(s),
        })
    }
}

/// An order as Binance answers it: the placement's `ACK`, `RESULT` or `FULL` answer, a query
/// (`GET /api/v3/order`, `openOrders`) or a cancel (`DELETE /api/v3/order`). Fields an answer
/// type does not carry are `None` (an `ACK` has only the ids and `transactTime`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderResponse {
    pub symbol: String,
    #[serde(deserialize_with = "num::int")]
    pub order_id: i64,
    /// The order's client id; on a cancel, the id of the cancel itself (see
    /// `orig_client_order_id`).
    pub client_order_id: String,
    /// On a cancel: the canceled order's client id.
    #[serde(default)]
    pub orig_client_order_id: Option<String>,
    #[serde(default, deserialize_with = "num::opt_int")]
    pub transact_time: Option<i64>,
    /// Creation time (queries).
    #[serde(default, deserialize_with = "num::opt_int")]
    pub time: Option<i64>,
    #[serde(default, deserialize_with = "num::opt_int")]
    pub update_time: Option<i64>,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub price: Option<Decimal>,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub orig_qty: Option<Decimal>,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub executed_qty: Option<Decimal>,
    /// Quote filled (Binance's spelling).
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub cummulative_quote_qty: Option<Decimal>,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub orig_quote_order_qty: Option<Decimal>,
    #[serde(default)]
    pub status: Option<OrderStatus>,
    #[serde(default)]
    pub time_in_force: Option<String>,
    #[serde(default, rename = "type")]
    pub order_type: Option<String>,
    #[serde(default)]
    pub side: Option<String>,
    /// The executions of a `FULL` answer.
    #[serde(default)]
    pub fills: Vec<OrderFill>,
}

/// One execution in a `FULL` placement answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFill {
    #[serde(deserialize_with = "num::decimal")]
    pub price: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub qty: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub commission: Decimal,
    pub commission_asset: String,
    #[serde(default, deserialize_with = "num::opt_int")]
    pub trade_id: Option<i64>,
}

/// One of the account's trades (`GET /api/v3/myTrades`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MyTrade {
    pub symbol: String,
    #[serde(deserialize_with = "num::int")]
    pub id: i64,
    #[serde(deserialize_with = "num::int")]
    pub order_id: i64,
    #[serde(deserialize_with = "num::decimal")]
    pub price: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub qty: Decimal,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub quote_qty: Option<Decimal>,
    #[serde(deserialize_with = "num::decimal")]
    pub commission: Decimal,
    pub commission_asset: String,
    #[serde(deserialize_with = "num::int")]
    pub time: i64,
    #[serde(deserialize_with = "num::boolean")]
    pub is_buyer: bool,
    #[serde(deserialize_with = "num::boolean")]
    pub is_maker: bool,
}

/// One kline (`GET /api/v3/klines`), sent as a 12-element array.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Kline {
    #[serde(deserialize_with = "num::int")]
    pub open_time: i64,
    #[serde(deserialize_with = "num::decimal")]
    pub open: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub high: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub low: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub close: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub volume: Decimal,
    #[serde(deserialize_with = "num::int")]
    pub close_time: i64,
    #[serde(deserialize_with = "num::decimal")]
    pub quote_volume: Decimal,
    #[serde(deserialize_with = "num::int")]
    pub trades: i64,
    #[serde(deserialize_with = "num::decimal")]
    pub taker_buy_base_volume: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub taker_buy_quote_volume: Decimal,
    /// The twelfth element, unused.
    #[serde(default)]
    pub ignore: serde_json::Value,
}

/// `GET /sapi/v1/account/apiRestrictions`: what an API key may do.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiRestrictions {
    #[serde(default)]
    pub ip_restrict: bool,
    #[serde(default)]
    pub enable_reading: bool,
    #[serde(default)]
    pub enable_withdrawals: bool,
    #[serde(default)]
    pub enable_internal_transfer: bool,
    #[serde(default)]
    pub enable_spot_and_margin_trading: bool,
    #[serde(default)]
    pub enable_margin: bool,
    #[serde(default)]
    pub enable_futures: bool,
    #[serde(default)]
    pub permits_universal_transfer: bool,
}
