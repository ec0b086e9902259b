//! OKX v5's payloads, as serde types. Every answer is the envelope `{"code","msg","data"}`:
//! `code` `"0"` is success, and `data` is always an array. Numbers are strings, an empty string
//! standing for "none" ([`crate::num`]); money is `Decimal`. Fields this connector does not
//! use are not modelled, and a missing optional field is `None` or empty.

use crate::num;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};

/// An envelope's `code`, a string in OKX's answers (`"0"`), read from a number too.
fn code<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Code {
        S(String),
        N(i64),
    }
    Ok(match Code::deserialize(d)? {
        Code::S(s) => s,
        Code::N(n) => n.to_string(),
    })
}

/// The envelope of every answer, with `data` left as JSON until the code says it is a result.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    #[serde(deserialize_with = "code")]
    pub code: String,
    #[serde(default)]
    pub msg: String,
    #[serde(default)]
    pub data: serde_json::Value,
}

impl Envelope {
    /// Whether OKX says the request succeeded (`code` `"0"`).
    pub fn is_ok(&self) -> bool {
        self.code == "0"
    }
}

/// `GET /api/v5/public/time`.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerTime {
    #[serde(deserialize_with = "num::ms")]
    pub ts: i64,
}

/// One instrument of `GET /api/v5/public/instruments?instType=SPOT`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstrumentInfo {
    pub inst_id: String,
    #[serde(default)]
    pub inst_type: String,
    #[serde(default)]
    pub base_ccy: String,
    #[serde(default)]
    pub quote_ccy: String,
    /// The size step, in base.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub lot_sz: Option<Decimal>,
    /// The smallest order, in base.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub min_sz: Option<Decimal>,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub tick_sz: Option<Decimal>,
    /// The largest market order, in base (a market buy by quote is bounded by `maxMktAmt`).
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub max_mkt_sz: Option<Decimal>,
    /// The largest limit order, in base.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub max_lmt_sz: Option<Decimal>,
    /// The largest market order, in quote.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub max_mkt_amt: Option<Decimal>,
    /// The largest limit order, in quote.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub max_lmt_amt: Option<Decimal>,
    /// `live`, `suspend`, `preopen`, `test`.
    #[serde(default)]
    pub state: String,
}

/// One ticker of `GET /api/v5/market/tickers?instType=SPOT` or `/market/ticker`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickerInfo {
    pub inst_id: String,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub last: Option<Decimal>,
    #[serde(default, deserialize_with = "num::opt_ms")]
    pub ts: Option<i64>,
    /// The 24 hours' volume in the currency (for SPOT: the quote currency).
    #[serde(rename = "volCcy24h", default, deserialize_with = "num::opt_decimal")]
    pub vol_ccy_24h: Option<Decimal>,
}

/// One candle of `GET /api/v5/market/history-candles`, sent as an array of strings:
/// `[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]`. `vol` is in the base currency for
/// spot; `confirm` is `"1"` once the candle has closed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CandleRow {
    #[serde(deserialize_with = "num::ms")]
    pub ts: i64,
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
    /// `volCcy`, `volCcyQuote` and `confirm`, unused: the download decides what has closed
    /// from the venue's time.
    #[serde(default)]
    pub vol_ccy: serde_json::Value,
    #[serde(default)]
    pub vol_ccy_quote: serde_json::Value,
    #[serde(default)]
    pub confirm: serde_json::Value,
}

/// `GET /api/v5/account/balance`: one entry for the trading account.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountBalance {
    #[serde(default)]
    pub details: Vec<BalanceDetail>,
}

/// One currency of the trading account.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceDetail {
    pub ccy: String,
    /// Available to trade.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub avail_bal: Option<Decimal>,
    /// Held by open orders.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub frozen_bal: Option<Decimal>,
    /// The whole balance.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub cash_bal: Option<Decimal>,
}

/// One item of an order endpoint's answer (`/trade/order`, `/trade/cancel-order`): the
/// order's own verdict. `sCode` `"0"` is success; anything else is the venue's refusal, even
/// inside an HTTP 200 whose envelope says `"0"`, `"1"` or `"2"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderAck {
    #[serde(default)]
    pub ord_id: String,
    #[serde(default)]
    pub cl_ord_id: String,
    #[serde(default, deserialize_with = "code")]
    pub s_code: String,
    #[serde(default)]
    pub s_msg: String,
    #[serde(default, deserialize_with = "num::opt_ms")]
    pub ts: Option<i64>,
}

impl OrderAck {
    pub fn is_ok(&self) -> bool {
        self.s_code == "0"
    }
}

/// An order as `GET /api/v5/trade/order` and `/trade/orders-pending` report it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderDetail {
    pub inst_id: String,
    #[serde(default)]
    pub ord_id: String,
    #[serde(default)]
    pub cl_ord_id: String,
    /// `buy` or `sell`.
    #[serde(default)]
    pub side: String,
    /// `market`, `limit`, `post_only`, `fok`, `ioc`, `optimal_limit_ioc`, ….
    #[serde(default)]
    pub ord_type: String,
    /// `base_ccy` or `quote_ccy` (spot market orders); empty on others.
    #[serde(default)]
    pub tgt_ccy: String,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub px: Option<Decimal>,
    /// The size asked for, in the unit `tgtCcy` names.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub sz: Option<Decimal>,
    /// Base filled so far.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub acc_fill_sz: Option<Decimal>,
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub avg_px: Option<Decimal>,
    /// Fees so far, signed: negative is a charge, positive a rebate.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub fee: Option<Decimal>,
    #[serde(default)]
    pub fee_ccy: String,
    /// `live`, `partially_filled`, `filled`, `canceled`, `mmp_canceled`.
    #[serde(default)]
    pub state: String,
    #[serde(default, deserialize_with = "num::opt_ms")]
    pub c_time: Option<i64>,
    #[serde(default, deserialize_with = "num::opt_ms")]
    pub u_time: Option<i64>,
}

/// One fill of `GET /api/v5/trade/fills`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TradeFill {
    pub inst_id: String,
    pub trade_id: String,
    #[serde(default)]
    pub ord_id: String,
    #[serde(default)]
    pub cl_ord_id: String,
    /// The page key of `/trade/fills` (`after`/`before`).
    #[serde(default)]
    pub bill_id: String,
    #[serde(default)]
    pub side: String,
    #[serde(deserialize_with = "num::decimal")]
    pub fill_sz: Decimal,
    #[serde(deserialize_with = "num::decimal")]
    pub fill_px: Decimal,
    /// Signed: negative is a charge, positive a rebate.
    #[serde(default, deserialize_with = "num::opt_decimal")]
    pub fee: Option<Decimal>,
    #[serde(default)]
    pub fee_ccy: String,
    #[serde(deserialize_with = "num::ms")]
    pub ts: i64,
}

/// `GET /api/v5/account/config`: the account and what its key may do.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountConfig {
    #[serde(default)]
    pub uid: String,
    /// `read_only`, `trade`, `withdraw`, comma-separated.
    #[serde(default)]
    pub perm: String,
    /// The IPs the key is bound to, comma-separated; empty when unbound.
    #[serde(default)]
    pub ip: String,
    #[serde(default)]
    pub label: String,
}

impl AccountConfig {
    /// The permissions in `perm`, trimmed.
    pub fn permissions(&self) -> impl Iterator<Item = &str> {
        self.perm
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
    }

    pub fn can_trade(&self) -> bool {
        self.permissions().any(|p| p == "trade")
    }

    /// Whether the key can withdraw: such a key is refused for trading unless allowed.
    pub fn can_withdraw(&self) -> bool {
        self.permissions().any(|p| p == "withdraw")
    }

    pub fn ip_restricted(&self) -> bool {
        !self.ip.trim().is_empty()
    }
}
