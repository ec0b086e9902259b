//! Gate v4's wire formats on the server side: errors as `{"label", "message"}` with their HTTP
//! status, and the JSON shapes of currency pairs, currencies, tickers, candlesticks, balances,
//! orders and trades as Gate's docs and ccxt's `gate` fixtures show them: amounts and prices are
//! strings, precisions and `*_time_ms` integers, the candlestick rows all strings.

use crate::wire::{Candle, base_volume};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use smartfolio_exchange::{
    Fill, Instrument, InstrumentStatus, Order, OrderKind, OrderSize, OrderStatus, Side, TimeInForce,
};

/// The `text` Gate shows on an order placed without one.
pub const NO_TEXT: &str = "apiv4";

/// Between the client's `text` and the engine's order number when a `text` is used again: the
/// engine keeps one client id per order, Gate does not refuse a second order under a `text`
/// (see `gate`). `#` cannot appear in a valid `text`, so the part before it is the `text`.
pub const TEXT_REUSE: char = '#';

/// A Gate error answer. The labels are those of Gate's label list
/// (<https://www.gate.io/docs/developers/apiv4/en/#label-list>, read through a third-party copy;
/// `TOO_MANY_REQUESTS` as ccxt's `gate` maps it).
#[derive(Debug)]
pub struct GateError {
    pub status: StatusCode,
    pub label: &'static str,
    pub message: String,
    /// Seconds for `Retry-After` (a rate limit).
    pub retry_after_s: Option<u64>,
}

impl GateError {
    pub fn new(status: StatusCode, label: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            label,
            message: message.into(),
            retry_after_s: None,
        }
    }

    /// A refusal of the request's content (HTTP 400).
    pub fn bad(label: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, label, message)
    }

    /// `INVALID_PARAM_VALUE`, naming the parameter and the value given.
    pub fn param(name: &str, value: &str) -> Self {
        Self::bad(
            "INVALID_PARAM_VALUE",
            format!("invalid argument: {name} {value:?}"),
        )
    }

    /// `MISSING_REQUIRED_PARAM`.
    pub fn missing(name: &str) -> Self {
        Self::bad(
            "MISSING_REQUIRED_PARAM",
            format!("Missing required parameter: {name}"),
        )
    }

    /// An authentication failure (HTTP 401).
    pub fn auth(label: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, label, message)
    }

    pub fn invalid_pair(pair: &str) -> Self {
        Self::bad(
            "INVALID_CURRENCY_PAIR",
            format!("Invalid currency pair {pair}"),
        )
    }

    /// `TOO_MANY_REQUESTS` (HTTP 429).
    pub fn rate_limited(retry_after_s: Option<u64>) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_REQUESTS",
            "Request Rate limit Exceeded",
        );
        e.retry_after_s = retry_after_s;
        e
    }

    /// Gate's own trouble (HTTP `status`, `SERVER_ERROR`). Gate has no label that says "the
    /// outcome is unknown": any 5xx on a placement may have taken effect.
    pub fn server_error(status: u16) -> Self {
        Self::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "SERVER_ERROR",
            "Internal server error",
        )
    }
}

impl IntoResponse for GateError {
    fn into_response(self) -> Response {
        let body = json!({"label": self.label, "message": self.message}).to_string();
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(s) = self.retry_after_s {
            h.insert(axum::http::header::RETRY_AFTER, s.into());
        }
        resp
    }
}

/// A success: `status` (200, 201 for a created order) and the JSON.
pub fn ok(status: StatusCode, v: Value) -> Response {
    let mut resp = (status, v.to_string()).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An amount as Gate writes it: a string, without trailing zeros.
pub fn amount(d: Decimal) -> String {
    d.normalize().to_string()
}

/// `BTC_USDT`.
pub fn pair_id(base: &str, quote: &str) -> String {
    format!("{base}_{quote}")
}

/// The number of a paper order or fill id (`P12`, `T13`) as Gate's decimal string id.
pub fn id(venue_id: &str) -> String {
    crate::wire::seq_id(venue_id).map_or_else(|| venue_id.to_string(), |n| n.to_string())
}

/// The `text` of an engine order: its client id up to [`TEXT_REUSE`], or `apiv4` for an order
/// sent without a `text` (its client id is the simulator's own).
pub fn text_of(client_id: &str) -> &str {
    let text = client_id.split(TEXT_REUSE).next().unwrap_or(client_id);
    if text.starts_with("t-") {
        text
    } else {
        NO_TEXT
    }
}

/// `trade_status`: `sellable` is the engine's sell-only; a halt (or any status that takes no
/// new orders) is `untradable`.
pub fn trade_status(s: InstrumentStatus) -> &'static str {
    match s {
        InstrumentStatus::Trading => "tradable",
        InstrumentStatus::SellOnly => "sellable",
        _ => "untradable",
    }
}

/// The decimal places of a step (`0.00001` → 5): Gate lists precisions, not steps.
pub fn places(step: Option<Decimal>) -> u32 {
    step.map_or(8, |s| s.normalize().scale())
}

/// One entry of `/spot/currency_pairs`: the engine's lot step and tick as `amount_precision`
/// and `precision` (integers), its minimums as `min_base_amount`/`min_quote_amount`, its limits
/// as the maximums, the taker fee in percent.
pub fn currency_pair(i: &Instrument, fee_percent: Decimal, listed_s: i64) -> Value {
    let r = &i.rules;
    let l = &i.limits;
    let opt = |d: Option<Decimal>| d.map(amount).unwrap_or_default();
    let id = pair_id(&i.base, &i.quote);
    json!({
        "id": id,
        "base": i.base,
        "base_name": i.base,
        "quote": i.quote,
        "quote_name": i.quote,
        "fee": amount(fee_percent),
        "min_base_amount": opt(r.min_size.or(r.lot_step)),
        "min_quote_amount": opt(r.min_notional),
        "max_base_amount": opt(l.max_quantity),
        "max_quote_amount": opt(l.max_notional),
        "amount_precision": places(r.lot_step),
        "precision": places(r.tick_size),
        "trade_status": trade_status(i.status),
        "sell_start": listed_s,
        "buy_start": listed_s,
        "delisting_time": 0,
        "type": "normal",
        "trade_url": format!("https://www.gate.io/trade/{id}"),
        "st_tag": false,
    })
}

/// One entry of `/spot/currencies`: the simulator has no chains, so deposits and withdrawals
/// are off.
pub fn currency(asset: &str) -> Value {
    json!({
        "currency": asset,
        "name": asset,
        "delisted": false,
        "withdraw_disabled": true,
        "withdraw_delayed": false,
        "deposit_disabled": true,
        "trade_disabled": false,
        "fixed_rate": "",
        "chain": asset,
        "chains": [],
    })
}

/// A `/spot/tickers` entry: the last price, the engine's book `(bid, ask, size)` and the
/// 24 hours' candle; the simulated market has no other traders, so the volumes are the book
/// model's modelled quote `volume` (0 without one; the base volume that much at the last price).
pub fn ticker(
    pair: &str,
    last: Decimal,
    book: (Decimal, Decimal, Decimal),
    day: &Candle,
    volume: Decimal,
) -> Value {
    let (bid, ask, qty) = book;
    let change = if day.open.is_zero() {
        Decimal::ZERO
    } else {
        ((last - day.open) / day.open * Decimal::from(100)).round_dp(2)
    };
    json!({
        "currency_pair": pair,
        "last": amount(last),
        "lowest_ask": amount(ask),
        "lowest_size": amount(qty),
        "highest_bid": amount(bid),
        "highest_size": amount(qty),
        "change_percentage": amount(change),
        "change_utc0": amount(change),
        "change_utc8": amount(change),
        "base_volume": volume_text(base_volume(volume, last)),
        "quote_volume": volume_text(volume),
        "high_24h": amount(day.high.max(last)),
        "low_24h": amount(day.low.min(last)),
        "etf_net_value": "",
        "etf_pre_net_value": "",
        "etf_pre_timestamp": 0,
        "etf_leverage": "",
    })
}

/// A 24-hour volume as the ticker shows it: `"0"` without one (the simulated market has no
/// other traders), else the amount (8 decimals at most).
fn volume_text(v: Decimal) -> String {
    if v.is_zero() {
        "0".into()
    } else {
        amount(v.round_dp(8))
    }
}

/// A candlestick row: `[t (seconds), quote_volume, close, high, low, open, base_volume,
/// window_closed]`, all strings.
pub fn candle(open_ms: i64, c: &Candle, closed: bool) -> Value {
    json!([
        (open_ms / 1_000).to_string(),
        "0",
        amount(c.close),
        amount(c.high),
        amount(c.low),
        amount(c.open),
        "0",
        closed.to_string(),
    ])
}

/// Gate's candlestick `interval` in milliseconds. `10s` (finer than the simulator's minutes) and
/// `7d`/`30d` (calendar-aligned) are not offered.
pub fn interval_ms(s: &str) -> Option<i64> {
    const M: i64 = 60_000;
    Some(match s {
        "1m" => M,
        "5m" => 5 * M,
        "15m" => 15 * M,
        "30m" => 30 * M,
        "1h" => 60 * M,
        "4h" => 240 * M,
        "8h" => 480 * M,
        "1d" => 1_440 * M,
        _ => return None,
    })
}

/// One currency of `/spot/accounts`.
pub fn account(asset: &str, free: Decimal, locked: Decimal, update_id: i64) -> Value {
    json!({
        "currency": asset,
        "available": amount(free),
        "locked": amount(locked),
        "update_id": update_id,
    })
}

pub fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn time_in_force(o: &Order) -> &'static str {
    match (o.kind, o.post_only, o.time_in_force) {
        (_, _, TimeInForce::Fok) => "fok",
        (OrderKind::Market, _, _) => "ioc",
        (_, true, _) => "poc",
        (_, false, TimeInForce::Gtc) => "gtc",
        (_, false, TimeInForce::Ioc) => "ioc",
    }
}

/// `status` and `finish_as` of an order: open, or closed (filled, or its rest expired as an
/// IOC/FOK), or cancelled.
fn status(o: &Order) -> (&'static str, &'static str) {
    match o.status {
        OrderStatus::Open | OrderStatus::PartiallyFilled => ("open", "open"),
        OrderStatus::Filled => ("closed", "filled"),
        OrderStatus::Expired if o.time_in_force == TimeInForce::Fok => ("closed", "fok"),
        OrderStatus::Expired => ("closed", "ioc"),
        OrderStatus::Canceled | OrderStatus::Rejected => ("cancelled", "cancelled"),
    }
}

/// `(fee, fee_currency, gt_fee, point_fee)` of fees paid in `asset`: GT and POINT are Gate's
/// own fee assets, reported in `gt_fee`/`point_fee` with `fee` 0; any other asset in `fee`.
fn fee_fields(asset: &str, paid: Decimal, received: &str) -> (String, String, String, String) {
    let zero = "0".to_string();
    match asset {
        "GT" => (zero.clone(), received.to_string(), amount(paid), zero),
        "POINT" => (zero.clone(), received.to_string(), zero, amount(paid)),
        "" => (zero.clone(), received.to_string(), zero.clone(), zero),
        a => (amount(paid), a.to_string(), zero.clone(), zero),
    }
}

/// An order of `/spot/orders`: a market buy's `amount` and `left` are in quote (Gate's rule),
/// everything else in base.
pub fn order(o: &Order) -> Value {
    let (amount_v, left) = match o.size {
        OrderSize::Quote(q) => (q, (q - o.filled_quote).max(Decimal::ZERO)),
        OrderSize::Base(q) => (q, (q - o.filled_quantity).max(Decimal::ZERO)),
    };
    let price = match o.kind {
        OrderKind::Limit { price } => amount(price),
        OrderKind::Market => "0".into(),
    };
    let (status, finish_as) = status(o);
    let received = match o.side {
        Side::Buy => &o.base,
        Side::Sell => &o.quote,
    };
    let (asset, paid) = o
        .fees
        .first()
        .map_or(("", Decimal::ZERO), |f| (f.asset.as_str(), f.amount));
    let (fee, fee_currency, gt_fee, point_fee) = fee_fields(asset, paid, received);
    let avg = o.average_price.map(amount).unwrap_or_else(|| "0".into());
    json!({
        "id": id(&o.venue_id),
        "text": text_of(&o.client_id),
        "amend_text": "-",
        "create_time": (o.created_ms / 1_000).to_string(),
        "update_time": (o.updated_ms / 1_000).to_string(),
        "create_time_ms": o.created_ms,
        "update_time_ms": o.updated_ms,
        "status": status,
        "currency_pair": pair_id(&o.base, &o.quote),
        "type": match o.kind { OrderKind::Market => "market", OrderKind::Limit { .. } => "limit" },
        "account": "spot",
        "side": side_name(o.side),
        "amount": amount(amount_v),
        "price": price,
        "time_in_force": time_in_force(o),
        "iceberg": "0",
        "left": amount(left),
        "filled_amount": amount(o.filled_quantity),
        "fill_price": amount(o.filled_quote),
        "filled_total": amount(o.filled_quote),
        "avg_deal_price": avg,
        "fee": fee,
        "fee_currency": fee_currency,
        "point_fee": point_fee,
        "gt_fee": gt_fee,
        "gt_maker_fee": "0",
        "gt_taker_fee": "0",
        "gt_discount": false,
        "rebated_fee": "0",
        "rebated_fee_currency": o.quote,
        "stp_id": 0,
        "stp_act": "-",
        "finish_as": finish_as,
    })
}

/// A trade of `/spot/my_trades`: `role` maker for a fill of a post-only order (it rested),
/// taker otherwise.
pub fn my_trade(f: &Fill, maker: bool) -> Value {
    let (fee, fee_currency, gt_fee, point_fee) = fee_fields(&f.fee_asset, f.fee, &f.fee_asset);
    json!({
        "id": id(&f.fill_id),
        "create_time": (f.time_ms / 1_000).to_string(),
        "create_time_ms": format!("{}.000000", f.time_ms),
        "currency_pair": pair_id(&f.base, &f.quote),
        "side": side_name(f.side),
        "role": if maker { "maker" } else { "taker" },
        "amount": amount(f.quantity),
        "price": amount(f.price),
        "order_id": id(&f.venue_order_id),
        "fee": fee,
        "fee_currency": fee_currency,
        "point_fee": point_fee,
        "gt_fee": gt_fee,
        "amend_text": "-",
        "sequence_id": id(&f.fill_id),
        "text": text_of(&f.client_id),
    })
}
