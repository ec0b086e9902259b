//! Binance's wire formats on the server side: parameters in, JSON answers and errors out.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use smartfolio_exchange::{
    Fill, Instrument, InstrumentStatus, Order, OrderKind, OrderSize, OrderStatus, Side, TimeInForce,
};

/// The quantity a book ticker shows on each side when the engine has no depth limit.
pub const DEFAULT_BOOK_QTY: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// A Binance error answer: an HTTP status and `{"code": …, "msg": …}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: i64,
    pub msg: String,
    /// Seconds for `Retry-After` (429/418).
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: i64, msg: impl Into<String>) -> Self {
        Self {
            status,
            code,
            msg: msg.into(),
            retry_after_s: None,
        }
    }

    pub fn bad(code: i64, msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, msg)
    }

    pub fn mandatory(name: &str) -> Self {
        Self::bad(
            -1102,
            format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
        )
    }

    pub fn illegal(name: &str, legal: &str) -> Self {
        Self::bad(
            -1100,
            format!("Illegal characters found in parameter '{name}'; legal range is '{legal}'."),
        )
    }

    pub fn invalid_symbol() -> Self {
        Self::bad(-1121, "Invalid symbol.")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"code": self.code, "msg": self.msg}).to_string();
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json;charset=UTF-8"),
        );
        if let Some(s) = self.retry_after_s {
            h.insert(axum::http::header::RETRY_AFTER, s.into());
        }
        resp
    }
}

/// A request's parameters in the order sent (query string, then form body), decoded.
#[derive(Debug, Default)]
pub struct Params {
    pub pairs: Vec<(String, String)>,
}

fn decode(s: &str) -> String {
    let spaced = s.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

impl Params {
    /// Parse `k=v&k=v` (percent-encoded, `+` as space); a parameter sent twice is `-1101`.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let (k, v) = (decode(k), decode(v));
            if pairs.iter().any(|(seen, _)| *seen == k) {
                return Err(ApiError::bad(
                    -1101,
                    format!("Duplicate values for parameter '{k}'."),
                ));
            }
            pairs.push((k, v));
        }
        Ok(Self { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::mandatory(name))
    }

    pub fn decimal(&self, name: &str) -> Result<Option<Decimal>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let ok = !v.is_empty()
            && v.chars().all(|c| c.is_ascii_digit() || c == '.')
            && v.matches('.').count() <= 1;
        match v.parse::<Decimal>() {
            Ok(d) if ok => Ok(Some(d)),
            _ => Err(ApiError::illegal(name, "^([0-9]{1,20})(\\.[0-9]{1,20})?$")),
        }
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::illegal(name, "^-?[0-9]{1,20}$")),
        }
    }

    /// `symbols=["BTCUSDT","ETHUSDT"]` or `symbol=BTCUSDT`; `None` when neither is sent.
    pub fn symbols(&self) -> Result<Option<Vec<String>>, ApiError> {
        if let Some(s) = self.get("symbol") {
            return Ok(Some(vec![s.to_string()]));
        }
        let Some(list) = self.get("symbols") else {
            return Ok(None);
        };
        let parsed: Vec<String> = serde_json::from_str(list).map_err(|_| {
            ApiError::illegal(
                "symbols",
                "a JSON list of symbols, like [\"BTCUSDT\",\"ETHUSDT\"]",
            )
        })?;
        Ok(Some(parsed))
    }
}

/// An amount as Binance writes it: a string with 8 decimals, or more when the exact amount has
/// more (the engine's amounts are exact; nothing is rounded away).
pub fn amount(d: Decimal) -> String {
    let mut d = d.normalize();
    if d.scale() < 8 {
        d.rescale(8);
    }
    d.to_string()
}

pub fn symbol(base: &str, quote: &str) -> String {
    format!("{base}{quote}")
}

/// The venue id of a paper order or fill (`P12`, `T13`) as Binance's integer id.
pub fn seq_id(venue_id: &str) -> Option<i64> {
    venue_id
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .ok()
}

pub fn status_name(s: InstrumentStatus) -> &'static str {
    match s {
        InstrumentStatus::Trading | InstrumentStatus::SellOnly => "TRADING",
        InstrumentStatus::CancelOnly => "CANCEL_ONLY",
        InstrumentStatus::Halted => "HALT",
        InstrumentStatus::Delisted => "BREAK",
    }
}

pub fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

fn order_status(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Open => "NEW",
        OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
        OrderStatus::Filled => "FILLED",
        OrderStatus::Canceled => "CANCELED",
        OrderStatus::Rejected => "REJECTED",
        OrderStatus::Expired => "EXPIRED",
    }
}

fn order_type(o: &Order) -> &'static str {
    match (o.kind, o.post_only) {
        (OrderKind::Market, _) => "MARKET",
        (OrderKind::Limit { .. }, true) => "LIMIT_MAKER",
        (OrderKind::Limit { .. }, false) => "LIMIT",
    }
}

fn tif(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Gtc => "GTC",
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
    }
}

/// The fields every order answer shares (`RESULT` placement, query, cancel, open orders).
fn order_fields(o: &Order, order_id: i64) -> serde_json::Map<String, Value> {
    let price = match o.kind {
        OrderKind::Limit { price } => price,
        OrderKind::Market => Decimal::ZERO,
    };
    let (orig_qty, orig_quote) = match o.size {
        OrderSize::Base(q) => (q, Decimal::ZERO),
        // Binance reports what a quote-sized market order bought as its quantity.
        OrderSize::Quote(q) => (o.filled_quantity, q),
    };
    let mut m = serde_json::Map::new();
    m.insert("symbol".into(), json!(symbol(&o.base, &o.quote)));
    m.insert("orderId".into(), json!(order_id));
    m.insert("orderListId".into(), json!(-1));
    m.insert("clientOrderId".into(), json!(o.client_id));
    m.insert("price".into(), json!(amount(price)));
    m.insert("origQty".into(), json!(amount(orig_qty)));
    m.insert("executedQty".into(), json!(amount(o.filled_quantity)));
    m.insert("cummulativeQuoteQty".into(), json!(amount(o.filled_quote)));
    m.insert("status".into(), json!(order_status(o.status)));
    m.insert("timeInForce".into(), json!(tif(o.time_in_force)));
    m.insert("type".into(), json!(order_type(o)));
    m.insert("side".into(), json!(side_name(o.side)));
    m.insert("origQuoteOrderQty".into(), json!(amount(orig_quote)));
    m.insert("selfTradePreventionMode".into(), json!("NONE"));
    m
}

/// `GET /api/v3/order` and `openOrders` entries.
pub fn order_query(o: &Order, order_id: i64) -> Value {
    let mut m = order_fields(o, order_id);
    m.insert("stopPrice".into(), json!(amount(Decimal::ZERO)));
    m.insert("icebergQty".into(), json!(amount(Decimal::ZERO)));
    m.insert("time".into(), json!(o.created_ms));
    m.insert("updateTime".into(), json!(o.updated_ms));
    m.insert("isWorking".into(), json!(!o.status.is_final()));
    m.insert("workingTime".into(), json!(o.created_ms));
    Value::Object(m)
}

/// `DELETE /api/v3/order`.
pub fn order_cancel(o: &Order, order_id: i64, cancel_id: &str, time_ms: i64) -> Value {
    let mut m = order_fields(o, order_id);
    m.insert("origClientOrderId".into(), json!(o.client_id));
    m.insert("clientOrderId".into(), json!(cancel_id));
    m.insert("transactTime".into(), json!(time_ms));
    m.remove("origQuoteOrderQty");
    Value::Object(m)
}

/// The answer to `POST /api/v3/order` for `newOrderRespType` `ACK`, `RESULT` or `FULL`.
pub fn order_placed(o: &Order, order_id: i64, resp: &str, fills: &[Fill]) -> Value {
    let mut m = match resp {
        "ACK" => {
            let mut m = serde_json::Map::new();
            m.insert("symbol".into(), json!(symbol(&o.base, &o.quote)));
            m.insert("orderId".into(), json!(order_id));
            m.insert("orderListId".into(), json!(-1));
            m.insert("clientOrderId".into(), json!(o.client_id));
            m
        }
        _ => order_fields(o, order_id),
    };
    m.insert("transactTime".into(), json!(o.created_ms));
    if resp != "ACK" {
        m.insert("workingTime".into(), json!(o.created_ms));
    }
    if resp == "FULL" {
        let fills: Vec<Value> = fills
            .iter()
            .map(|f| {
                json!({
                    "price": amount(f.price),
                    "qty": amount(f.quantity),
                    "commission": amount(f.fee),
                    "commissionAsset": f.fee_asset,
                    "tradeId": seq_id(&f.fill_id).unwrap_or(-1),
                })
            })
            .collect();
        m.insert("fills".into(), Value::Array(fills));
    }
    Value::Object(m)
}

/// One `myTrades` entry. A fill is the maker's when it came after the order's placement (a
/// resting limit order crossed by a later price); fills at placement took liquidity.
pub fn my_trade(f: &Fill, order: Option<&Order>) -> Value {
    let is_maker = order
        .is_some_and(|o| matches!(o.kind, OrderKind::Limit { .. }) && f.time_ms > o.created_ms);
    json!({
        "symbol": symbol(&f.base, &f.quote),
        "id": seq_id(&f.fill_id).unwrap_or(-1),
        "orderId": seq_id(&f.venue_order_id).unwrap_or(-1),
        "orderListId": -1,
        "price": amount(f.price),
        "qty": amount(f.quantity),
        "quoteQty": amount(f.quantity * f.price),
        "commission": amount(f.fee),
        "commissionAsset": f.fee_asset,
        "time": f.time_ms,
        "isBuyer": f.side == Side::Buy,
        "isMaker": is_maker,
        "isBestMatch": true,
    })
}

/// An instrument's `exchangeInfo` entry: filters from its rules and limits (a rule the
/// instrument does not have is 0, which Binance documents as "disabled").
pub fn symbol_info(i: &Instrument) -> Value {
    let r = &i.rules;
    let l = &i.limits;
    let zero = Decimal::ZERO;
    let mut filters = vec![
        json!({
            "filterType": "PRICE_FILTER",
            "minPrice": amount(r.tick_size.unwrap_or(zero)),
            "maxPrice": amount(zero),
            "tickSize": amount(r.tick_size.unwrap_or(zero)),
        }),
        json!({
            "filterType": "LOT_SIZE",
            "minQty": amount(r.min_size.unwrap_or(zero)),
            "maxQty": amount(l.max_quantity.unwrap_or(zero)),
            "stepSize": amount(r.lot_step.unwrap_or(zero)),
        }),
        json!({
            "filterType": "MARKET_LOT_SIZE",
            "minQty": amount(zero),
            "maxQty": amount(l.max_market_quantity.or(l.max_quantity).unwrap_or(zero)),
            "stepSize": amount(zero),
        }),
        json!({
            "filterType": "NOTIONAL",
            "minNotional": amount(r.min_notional.unwrap_or(zero)),
            "applyMinToMarket": true,
            "maxNotional": amount(l.max_notional.unwrap_or(zero)),
            "applyMaxToMarket": l.max_notional.is_some(),
            "avgPriceMins": 0,
        }),
    ];
    if let (Some(buy), Some(sell)) = (l.buy_band, l.sell_band) {
        filters.push(json!({
            "filterType": "PERCENT_PRICE_BY_SIDE",
            "bidMultiplierUp": amount(buy.up),
            "bidMultiplierDown": amount(buy.down),
            "askMultiplierUp": amount(sell.up),
            "askMultiplierDown": amount(sell.down),
            "avgPriceMins": 0,
        }));
    }
    json!({
        "symbol": symbol(&i.base, &i.quote),
        "status": status_name(i.status),
        "baseAsset": i.base,
        "baseAssetPrecision": 8,
        "quoteAsset": i.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": false,
        "ocoAllowed": false,
        "otoAllowed": false,
        "quoteOrderQtyMarketAllowed": true,
        "allowTrailingStop": false,
        "cancelReplaceAllowed": false,
        "isSpotTradingAllowed": i.status != InstrumentStatus::Delisted,
        "isMarginTradingAllowed": false,
        "filters": filters,
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"],
    })
}

/// The rate limits `exchangeInfo` lists (Binance's spot defaults, the request weight a minute
/// and the orders per 10 s as given). The simulator does not count requests against them
/// unless a fault says so.
pub fn rate_limits(weight_limit: u64, order_limit: u64) -> Value {
    json!([
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": weight_limit},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": order_limit},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
    ])
}

/// One minute of prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candle {
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub prices: i64,
}

impl Candle {
    pub fn new(p: Decimal) -> Self {
        Self {
            open: p,
            high: p,
            low: p,
            close: p,
            prices: 1,
        }
    }

    pub fn take(&mut self, p: Decimal) {
        self.high = self.high.max(p);
        self.low = self.low.min(p);
        self.close = p;
        self.prices += 1;
    }

    /// Fold a later candle into this one.
    pub fn merge(&mut self, later: &Candle) {
        self.high = self.high.max(later.high);
        self.low = self.low.min(later.low);
        self.close = later.close;
        self.prices += later.prices;
    }
}

/// What `ticker/24hr` reports of one symbol's last 24 hours.
#[derive(Debug, Clone, Copy, Default)]
pub struct DayStats {
    pub open_ms: i64,
    pub close_ms: i64,
    /// The last price before the window (none: the symbol had no price before it).
    pub prev_close: Option<Decimal>,
    /// The prices in the window, as one candle (none: no price in the window).
    pub day: Option<Candle>,
}

/// The base volume of a quote `volume` at the `last` price (0 without a price).
pub fn base_volume(volume: Decimal, last: Decimal) -> Decimal {
    if last > Decimal::ZERO {
        volume / last
    } else {
        Decimal::ZERO
    }
}

/// A `ticker/24hr` entry: `FULL` with the book `(bid, ask, quantity)`, `MINI` without. The
/// simulated market has no other traders: volumes are the book model's modelled quote
/// `volume` (0 without one; the base volume that much at the last price), there are no trade
/// ids (`-1`) and the volume-weighted average is 0, as Binance shows for a symbol nobody traded.
pub fn day_ticker(
    symbol: &str,
    last: Decimal,
    s: &DayStats,
    book: Option<(Decimal, Decimal, Decimal)>,
    volume: Decimal,
) -> Value {
    let day = s.day.unwrap_or(Candle::new(last));
    let zero = amount(Decimal::ZERO);
    let mut m = serde_json::Map::new();
    m.insert("symbol".into(), json!(symbol));
    if let Some((bid, ask, qty)) = book {
        let change = last - day.open;
        let percent = if day.open.is_zero() {
            Decimal::ZERO
        } else {
            (change / day.open * Decimal::ONE_HUNDRED).round_dp(3)
        };
        let mut percent = percent.normalize();
        percent.rescale(3);
        m.insert("priceChange".into(), json!(amount(change)));
        m.insert("priceChangePercent".into(), json!(percent.to_string()));
        m.insert("weightedAvgPrice".into(), json!(zero));
        m.insert(
            "prevClosePrice".into(),
            json!(amount(s.prev_close.unwrap_or(Decimal::ZERO))),
        );
        m.insert("lastPrice".into(), json!(amount(last)));
        m.insert("lastQty".into(), json!(zero));
        m.insert("bidPrice".into(), json!(amount(bid)));
        m.insert("bidQty".into(), json!(amount(qty)));
        m.insert("askPrice".into(), json!(amount(ask)));
        m.insert("askQty".into(), json!(amount(qty)));
    }
    m.insert("openPrice".into(), json!(amount(day.open)));
    m.insert("highPrice".into(), json!(amount(day.high.max(last))));
    m.insert("lowPrice".into(), json!(amount(day.low.min(last))));
    if book.is_none() {
        m.insert("lastPrice".into(), json!(amount(last)));
    }
    m.insert(
        "volume".into(),
        json!(amount(base_volume(volume, last).round_dp(8))),
    );
    m.insert("quoteVolume".into(), json!(amount(volume)));
    m.insert("openTime".into(), json!(s.open_ms));
    m.insert("closeTime".into(), json!(s.close_ms));
    m.insert("firstId".into(), json!(-1));
    m.insert("lastId".into(), json!(-1));
    m.insert("count".into(), json!(0));
    Value::Object(m)
}

/// A `capital/config/getall` entry: an asset the simulator holds or lists, with no networks
/// (no deposits or withdrawals).
pub fn coin(asset: &str, free: Decimal, locked: Decimal) -> Value {
    let zero = amount(Decimal::ZERO);
    json!({
        "coin": asset,
        "depositAllEnable": false,
        "withdrawAllEnable": false,
        "name": asset,
        "free": amount(free),
        "locked": amount(locked),
        "freeze": zero,
        "withdrawing": zero,
        "ipoing": zero,
        "ipoable": zero,
        "storage": zero,
        "isLegalMoney": false,
        "trading": true,
        "networkList": [],
    })
}

/// A kline row. The simulated market has no other traders: volumes are 0, and `trades`
/// counts the prices taken in the interval.
pub fn kline(open_ms: i64, interval_ms: i64, c: &Candle) -> Value {
    let zero = amount(Decimal::ZERO);
    json!([
        open_ms,
        amount(c.open),
        amount(c.high),
        amount(c.low),
        amount(c.close),
        zero,
        open_ms + interval_ms - 1,
        zero,
        c.prices,
        zero,
        zero,
        "0",
    ])
}

/// The length of a kline interval as Binance spells it, `1m` to `1d` (the candles are kept by
/// the minute, so `1s` is not offered; `3d`, `1w` and `1M` are not aligned on epoch multiples).
pub fn interval_ms(s: &str) -> Option<i64> {
    Some(match s {
        "1m" => 60_000,
        "3m" => 180_000,
        "5m" => 300_000,
        "15m" => 900_000,
        "30m" => 1_800_000,
        "1h" => 3_600_000,
        "2h" => 7_200_000,
        "4h" => 14_400_000,
        "6h" => 21_600_000,
        "8h" => 28_800_000,
        "12h" => 43_200_000,
        "1d" => 86_400_000,
        _ => return None,
    })
}
