//! Gate v4's payloads, as serde types. Answers are bare JSON (no envelope); an error is
//! `{"label":"…","message":"…"}` with a 4xx/5xx status. Numbers come as strings or JSON
//! numbers (`amount_precision` and `server_time` are numbers in the live API, strings in
//! ccxt's fixtures): both are read ([`smartfolio_exchange::num`]); money is `Decimal`. Fields
//! this connector does not use are not modelled, and a missing optional field is `None` or
//! empty. Shapes: venue-facts.md §Gate v4 and Gate's API v4 reference
//! (<https://www.gate.com/docs/developers/apiv4/en/>).

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use smartfolio_exchange::num;

/// Epoch milliseconds as Gate sends them: a number, or a string that may carry a fraction
/// (`my_trades` `create_time_ms` `"1700000020100.123"`); the fraction is dropped.
fn opt_time_ms<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match num::opt_decimal(d)? {
        None => Ok(None),
        Some(v) => v
            .floor()
            .to_i64()
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("{v} is not a time in ms"))),
    }
}

/// A count of decimal places (`amount_precision`, `precision`): a number or a string.
fn opt_places<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match num::opt_decimal(d)? {
        None => Ok(None),
        Some(v) => match v.to_u32() {
            Some(p) if v.fract().is_zero() && p <= 28 => Ok(Some(p)),
            _ => Err(de::Error::custom(format!(
                "{v} is not a number of decimal places (0 to 28)"
            ))),
        },
    }
}

/// The body of every error answer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub label: String,
    #[serde(default)]
    pub message: String,
}

/// `GET /spot/time`.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerTime {
    #[serde(deserialize_with = "num::ms")]
    pub server_time: i64,
}

/// One pair of `GET /spot/currency_pairs`.
#[derive(Debug, Clone, Deserialize)]
pub struct CurrencyPair {
    /// `BTC_USDT`.
    pub id: String,
    #[serde(default)]
    pub base: String,
    #[serde(default)]
    pub quote: String,
    /// The smallest order, in base.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub min_base_amount: Option<Decimal>,
    /// The smallest order, in quote.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub min_quote_amount: Option<Decimal>,
    /// The largest order, in base (absent on many pairs).
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub max_base_amount: Option<Decimal>,
    /// The largest order, in quote.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub max_quote_amount: Option<Decimal>,
    /// The largest market order, in base.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub market_order_max_stock: Option<Decimal>,
    /// Decimal places of an amount (base).
    #[serde(default, deserialize_with = "opt_places")]
    pub amount_precision: Option<u32>,
    /// Decimal places of a price.
    #[serde(default, deserialize_with = "opt_places")]
    pub precision: Option<u32>,
    /// `untradable`, `buyable`, `sellable`, `tradable`.
    #[serde(default)]
    pub trade_status: String,
}

/// One ticker of `GET /spot/tickers`.
#[derive(Debug, Clone, Deserialize)]
pub struct Ticker {
    pub currency_pair: String,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub last: Option<Decimal>,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub lowest_ask: Option<Decimal>,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub highest_bid: Option<Decimal>,
    /// The quote volume of the last 24 hours.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub quote_volume: Option<Decimal>,
}

/// One currency of `GET /spot/accounts`.
#[derive(Debug, Clone, Deserialize)]
pub struct SpotAccount {
    pub currency: String,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub available: Option<Decimal>,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub locked: Option<Decimal>,
}

/// An order as `POST /spot/orders`, `GET /spot/orders/{id}`, `DELETE /spot/orders/{id}` and
/// `/spot/open_orders` report it.
#[derive(Debug, Clone, Deserialize)]
pub struct Order {
    pub id: String,
    /// Our client id as `t-…`, or `apiv4`/`web`/… for an order placed without one.
    #[serde(default)]
    pub text: String,
    pub currency_pair: String,
    /// `open`, `closed`, `cancelled`.
    #[serde(default)]
    pub status: String,
    /// `limit` or `market`.
    #[serde(rename = "type", default)]
    pub order_type: String,
    /// `buy` or `sell`.
    #[serde(default)]
    pub side: String,
    /// In base, except a market buy's: in quote.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub amount: Option<Decimal>,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub price: Option<Decimal>,
    /// `gtc`, `ioc`, `poc` (post-only), `fok`.
    #[serde(default)]
    pub time_in_force: String,
    /// What is left, in the unit of `amount`.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub left: Option<Decimal>,
    /// Base filled (newer answers; older ones only give `filled_total`).
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub filled_amount: Option<Decimal>,
    /// Quote filled.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub filled_total: Option<Decimal>,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub avg_deal_price: Option<Decimal>,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub fee: Option<Decimal>,
    #[serde(default)]
    pub fee_currency: String,
    /// Fees paid in POINT.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub point_fee: Option<Decimal>,
    /// Fees paid in GT.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub gt_fee: Option<Decimal>,
    /// How a closed order ended: `open`, `filled`, `cancelled`, `ioc`, `fok`, `poc`, `stp`,
    /// `small`, `depth_not_enough`, `trader_not_enough`, `liquidate_cancelled`, `unknown`.
    #[serde(default)]
    pub finish_as: String,
    #[serde(default, deserialize_with = "opt_time_ms")]
    pub create_time_ms: Option<i64>,
    #[serde(default, deserialize_with = "opt_time_ms")]
    pub update_time_ms: Option<i64>,
}

/// One entry of `GET /spot/open_orders`: a pair's open orders.
#[derive(Debug, Clone, Deserialize)]
pub struct PairOrders {
    #[serde(default)]
    pub currency_pair: String,
    #[serde(default)]
    pub total: Option<u64>,
    #[serde(default)]
    pub orders: Vec<Order>,
}

/// One fill of `GET /spot/my_trades`.
#[derive(Debug, Clone, Deserialize)]
pub struct Trade {
    pub id: String,
    pub currency_pair: String,
    #[serde(default)]
    pub side: String,
    /// Base.
    #[serde(deserialize_with = "num::decimal")]
    pub amount: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub price: Decimal,
    #[serde(default)]
    pub order_id: String,
    /// The order's `text`.
    #[serde(default)]
    pub text: String,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub fee: Option<Decimal>,
    #[serde(default)]
    pub fee_currency: String,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub point_fee: Option<Decimal>,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub gt_fee: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_time_ms")]
    pub create_time_ms: Option<i64>,
    /// Unix seconds, when `create_time_ms` is missing.
    #[serde(default, deserialize_with = "opt_time_ms")]
    pub create_time: Option<i64>,
}

/// One candle of `GET /spot/candlesticks`: `[t (s), quote volume, close, high, low, open,
/// base volume, window closed]`, every field a string (venue-facts.md §Gate v4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candle {
    pub time_s: i64,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub base_volume: Decimal,
    pub quote_volume: Decimal,
    /// Whether the window is over (a missing field reads as closed: older answers).
    pub closed: bool,
}

impl<'de> Deserialize<'de> for Candle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let row = Vec::<serde_json::Value>::deserialize(d)?;
        if row.len() < 7 {
            return Err(de::Error::custom(format!(
                "a candle has at least 7 fields [t, quote volume, close, high, low, open, base volume], got {}",
                row.len()
            )));
        }
        let dec = |i: usize, name: &str| -> Result<Decimal, D::Error> {
            num::decimal(&row[i]).map_err(|e| de::Error::custom(format!("candle {name}: {e}")))
        };
        let time = dec(0, "time")?;
        let closed = match row.get(7) {
            None => true,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s == "true",
            Some(other) => {
                return Err(de::Error::custom(format!(
                    "candle window closed: {other} is not true or false"
                )));
            }
        };
        Ok(Candle {
            time_s: time
                .to_i64()
                .filter(|_| time.fract().is_zero())
                .ok_or_else(|| de::Error::custom(format!("candle time {time} is not seconds")))?,
            quote_volume: dec(1, "quote volume")?,
            close: dec(2, "close")?,
            high: dec(3, "high")?,
            low: dec(4, "low")?,
            open: dec(5, "open")?,
            base_volume: dec(6, "base volume")?,
            closed,
        })
    }
}

/// `GET /account/detail`: the account and its key. Gate shows the key's IP whitelist and mode
/// here, but **not** whether it may withdraw: no v4 endpoint reads a key's permissions, so
/// `venue check` cannot refuse a withdrawal-enabled Gate key (failure-modes §Key permissions
/// cites a third-party type with `perms`; Gate's reference does not document them).
#[derive(Debug, Clone, Deserialize)]
pub struct AccountDetail {
    #[serde(default)]
    pub user_id: Option<serde_json::Value>,
    #[serde(default)]
    pub ip_whitelist: Vec<String>,
    #[serde(default)]
    pub key: Option<KeyInfo>,
}

/// The key's mode (1: classic account, 2: unified, per Gate's reference).
#[derive(Debug, Clone, Deserialize)]
pub struct KeyInfo {
    #[serde(default)]
    pub mode: Option<i64>,
}

impl AccountDetail {
    pub fn ip_restricted(&self) -> bool {
        self.ip_whitelist.iter().any(|ip| !ip.trim().is_empty())
    }
}
