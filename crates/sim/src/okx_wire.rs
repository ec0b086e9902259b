//! OKX v5's wire formats on the server side: the `{code,msg,data}` envelope, errors with their
//! HTTP status, and the JSON shapes of instruments, tickers, candles, balances, orders and fills
//! (as OKX's docs and ccxt's fixtures show them: every number a string, an empty string for
//! "none").

use crate::wire::{Candle, base_volume};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use smartfolio_exchange::{
    Fill, Instrument, InstrumentStatus, Order, OrderKind, OrderSize, OrderStatus, Side, TimeInForce,
};

/// An OKX answer that is not a plain success: an HTTP status and the envelope's `code`, `msg`
/// and `data` (an order endpoint's refusal carries its items, each with its `sCode`).
#[derive(Debug)]
pub struct OkxError {
    pub status: StatusCode,
    pub code: String,
    pub msg: String,
    pub data: Vec<Value>,
    /// Seconds for `Retry-After` (a rate limit).
    pub retry_after_s: Option<u64>,
}

impl OkxError {
    pub fn new(status: StatusCode, code: &str, msg: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            msg: msg.into(),
            data: Vec::new(),
            retry_after_s: None,
        }
    }

    /// A refusal OKX answers with HTTP 200 and its code.
    pub fn business(code: &str, msg: impl Into<String>) -> Self {
        Self::new(StatusCode::OK, code, msg)
    }

    /// `51000 Parameter {name} error`.
    pub fn param(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "51000",
            format!("Parameter {name} error"),
        )
    }

    /// `50014 Parameter {name} can not be empty.`
    pub fn missing(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "50014",
            format!("Parameter {name} can not be empty."),
        )
    }

    /// An authentication failure (HTTP 401).
    pub fn auth(code: &str, msg: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, msg)
    }

    /// An order endpoint's refusal of its one order: HTTP 200, envelope `1`, the item's
    /// `sCode`/`sMsg`.
    pub fn order_refused(
        cl_ord_id: &str,
        ord_id: &str,
        s_code: &str,
        s_msg: &str,
        ts: i64,
    ) -> Self {
        Self {
            status: StatusCode::OK,
            code: "1".into(),
            msg: "All operations failed".into(),
            data: vec![order_item(cl_ord_id, ord_id, s_code, s_msg, ts)],
            retry_after_s: None,
        }
    }

    /// `50011 Too Many Requests` (HTTP 429).
    pub fn rate_limited(retry_after_s: Option<u64>) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "50011", "Too Many Requests");
        e.retry_after_s = retry_after_s;
        e
    }

    /// OKX's own trouble: the service is unavailable, nothing was done (HTTP `status`, 50001).
    pub fn unavailable(status: u16) -> Self {
        Self::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            "50001",
            "Service temporarily unavailable. Please try again later.",
        )
    }

    /// `50004 Endpoint request timeout (does not mean that the request was successful or
    /// failed, please check the request result)`.
    pub fn endpoint_timeout() -> Self {
        Self::business(
            "50004",
            "Endpoint request timeout (does not mean that the request was successful or failed, please check the request result)",
        )
    }
}

impl IntoResponse for OkxError {
    fn into_response(self) -> Response {
        let body = json!({"code": self.code, "msg": self.msg, "data": self.data}).to_string();
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

/// A success: HTTP 200, `{"code":"0","msg":"","data":[…]}`.
pub fn ok(data: Vec<Value>) -> Response {
    let body = json!({"code": "0", "msg": "", "data": data}).to_string();
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An amount as OKX writes it: a string, without trailing zeros.
pub fn amount(d: Decimal) -> String {
    d.normalize().to_string()
}

/// A fee as OKX writes it: negative for a charge.
fn fee(paid: Decimal) -> String {
    amount(-paid)
}

pub fn inst_id(base: &str, quote: &str) -> String {
    format!("{base}-{quote}")
}

/// The number of a paper order or fill id (`P12`, `T13`) as OKX's decimal string id.
pub fn id(venue_id: &str) -> String {
    crate::wire::seq_id(venue_id).map_or_else(|| venue_id.to_string(), |n| n.to_string())
}

fn state_name(s: InstrumentStatus) -> &'static str {
    match s {
        InstrumentStatus::Trading | InstrumentStatus::SellOnly => "live",
        _ => "suspend",
    }
}

fn opt(d: Option<Decimal>) -> String {
    d.map(amount).unwrap_or_default()
}

/// One SPOT instrument of `/api/v5/public/instruments`: the paper rules as `lotSz`, `minSz`,
/// `tickSz` (OKX has no minimum notional on spot; the engine's, if any, is still enforced),
/// its limits as `maxLmtSz`/`maxMktSz`/`maxLmtAmt`/`maxMktAmt`.
pub fn instrument(i: &Instrument, listed_ms: i64) -> Value {
    let r = &i.rules;
    let l = &i.limits;
    let max_mkt_sz = l.max_market_quantity.or(l.max_quantity);
    json!({
        "instType": "SPOT",
        "instId": inst_id(&i.base, &i.quote),
        "uly": "",
        "instFamily": "",
        "category": "1",
        "baseCcy": i.base,
        "quoteCcy": i.quote,
        "settleCcy": "",
        "ctVal": "",
        "ctMult": "",
        "ctValCcy": "",
        "optType": "",
        "stk": "",
        "listTime": listed_ms.to_string(),
        "expTime": "",
        "lever": "",
        "tickSz": opt(r.tick_size),
        "lotSz": opt(r.lot_step),
        "minSz": opt(r.min_size.or(r.lot_step)),
        "ctType": "",
        "alias": "",
        "state": state_name(i.status),
        "ruleType": "normal",
        "maxLmtSz": opt(l.max_quantity),
        "maxMktSz": opt(max_mkt_sz),
        "maxLmtAmt": opt(l.max_notional),
        "maxMktAmt": opt(l.max_notional),
        "maxTwapSz": opt(l.max_quantity),
        "maxIcebergSz": opt(l.max_quantity),
        "maxTriggerSz": opt(l.max_quantity),
        "maxStopSz": opt(max_mkt_sz),
    })
}

/// A ticker: the last price, the engine's book `(bid, ask, size)`, and the 24 hours' candle
/// (`open` the first price of the window; the simulated market has no other traders, so the
/// volumes are the book model's modelled quote `volume`, 0 without one; `vol24h` in base is
/// that much at the last price).
pub fn ticker(
    inst: &str,
    last: Decimal,
    book: (Decimal, Decimal, Decimal),
    day: Option<&Candle>,
    now_ms: i64,
    volume: Decimal,
) -> Value {
    let (bid, ask, qty) = book;
    let (open, high, low) = day.map_or((last, last, last), |c| (c.open, c.high, c.low));
    json!({
        "instType": "SPOT",
        "instId": inst,
        "last": amount(last),
        "lastSz": "0",
        "askPx": amount(ask),
        "askSz": amount(qty),
        "bidPx": amount(bid),
        "bidSz": amount(qty),
        "open24h": amount(open),
        "high24h": amount(high),
        "low24h": amount(low),
        "volCcy24h": volume_text(volume),
        "vol24h": volume_text(base_volume(volume, last)),
        "ts": now_ms.to_string(),
        "sodUtc0": amount(open),
        "sodUtc8": amount(open),
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

/// A candle row: `[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]`, `confirm` `1` once the
/// bar has closed.
pub fn candle(open_ms: i64, c: &Candle, closed: bool) -> Value {
    json!([
        open_ms.to_string(),
        amount(c.open),
        amount(c.high),
        amount(c.low),
        amount(c.close),
        "0",
        "0",
        "0",
        if closed { "1" } else { "0" },
    ])
}

/// A bar as OKX spells it: its length and the offset of its alignment from UTC (`6H`, `12H`,
/// `1D` and longer align on Hong Kong time, UTC+8, unless suffixed `utc`). Weeks and months are
/// not offered (the candles are kept by the minute and epoch-aligned).
pub fn bar(s: &str) -> Option<(i64, i64)> {
    const H: i64 = 3_600_000;
    Some(match s {
        "1m" => (60_000, 0),
        "3m" => (180_000, 0),
        "5m" => (300_000, 0),
        "15m" => (900_000, 0),
        "30m" => (1_800_000, 0),
        "1H" => (H, 0),
        "2H" => (2 * H, 0),
        "4H" => (4 * H, 0),
        "6H" => (6 * H, 8 * H),
        "12H" => (12 * H, 8 * H),
        "1D" => (24 * H, 8 * H),
        "6Hutc" => (6 * H, 0),
        "12Hutc" => (12 * H, 0),
        "1Dutc" => (24 * H, 0),
        _ => return None,
    })
}

/// One currency of `/api/v5/account/balance`.
pub fn balance_detail(ccy: &str, free: Decimal, locked: Decimal, now_ms: i64) -> Value {
    let total = amount(free + locked);
    json!({
        "ccy": ccy,
        "availBal": amount(free),
        "availEq": amount(free),
        "frozenBal": amount(locked),
        "ordFrozen": amount(locked),
        "cashBal": total,
        "eq": total,
        "disEq": "",
        "eqUsd": "",
        "upl": "0",
        "uTime": now_ms.to_string(),
    })
}

/// An order endpoint's item for one order: `sCode` `0` is success.
pub fn order_item(cl_ord_id: &str, ord_id: &str, s_code: &str, s_msg: &str, ts: i64) -> Value {
    json!({
        "clOrdId": cl_ord_id,
        "ordId": ord_id,
        "tag": "",
        "ts": ts.to_string(),
        "sCode": s_code,
        "sMsg": s_msg,
    })
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

/// OKX's `ordType` of an order.
fn ord_type(o: &Order) -> &'static str {
    match (o.kind, o.post_only, o.time_in_force) {
        (OrderKind::Market, _, _) => "market",
        (OrderKind::Limit { .. }, true, _) => "post_only",
        (OrderKind::Limit { .. }, false, TimeInForce::Gtc) => "limit",
        (OrderKind::Limit { .. }, false, TimeInForce::Ioc) => "ioc",
        (OrderKind::Limit { .. }, false, TimeInForce::Fok) => "fok",
    }
}

fn order_state(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Open => "live",
        OrderStatus::PartiallyFilled => "partially_filled",
        OrderStatus::Filled => "filled",
        OrderStatus::Canceled | OrderStatus::Rejected | OrderStatus::Expired => "canceled",
    }
}

/// An order of `/trade/order` and `/trade/orders-pending`, with its last fill when it has one.
pub fn order(o: &Order, last_fill: Option<&Fill>) -> Value {
    let (sz, tgt) = match (o.kind, o.size) {
        (OrderKind::Market, OrderSize::Quote(q)) => (q, "quote_ccy"),
        (OrderKind::Market, OrderSize::Base(q)) => (q, "base_ccy"),
        (_, OrderSize::Base(q) | OrderSize::Quote(q)) => (q, ""),
    };
    let px = match o.kind {
        OrderKind::Limit { price } => amount(price),
        OrderKind::Market => String::new(),
    };
    // The fee of an order is in one asset at OKX: the engine's first (the asset received).
    let (fee_ccy, fee_paid) = o.fees.first().map_or((String::new(), Decimal::ZERO), |f| {
        (f.asset.clone(), f.amount)
    });
    let fee_ccy = if fee_ccy.is_empty() {
        match o.side {
            Side::Buy => o.base.clone(),
            Side::Sell => o.quote.clone(),
        }
    } else {
        fee_ccy
    };
    let cancel_source = match o.status {
        OrderStatus::Canceled => "1",
        OrderStatus::Expired | OrderStatus::Rejected => "31",
        _ => "",
    };
    let mut main = json!({
        "instType": "SPOT",
        "instId": inst_id(&o.base, &o.quote),
        "ccy": "",
        "ordId": id(&o.venue_id),
        "clOrdId": o.client_id,
        "tag": "",
        "px": px,
        "pxUsd": "",
        "pxVol": "",
        "pxType": "",
        "sz": amount(sz),
        "pnl": "0",
        "ordType": ord_type(o),
        "side": side_name(o.side),
        "posSide": "net",
        "tdMode": "cash",
        "accFillSz": amount(o.filled_quantity),
        "fillPx": last_fill.map(|f| amount(f.price)).unwrap_or_default(),
        "tradeId": last_fill.map(|f| id(&f.fill_id)).unwrap_or_default(),
        "fillSz": last_fill.map(|f| amount(f.quantity)).unwrap_or_default(),
        "fillTime": last_fill.map(|f| f.time_ms.to_string()).unwrap_or_default(),
        "avgPx": o.average_price.map(amount).unwrap_or_default(),
        "state": order_state(o.status),
    });
    let more = json!({
        "lever": "",
        "attachAlgoClOrdId": "",
        "tpTriggerPx": "",
        "tpTriggerPxType": "",
        "tpOrdPx": "",
        "slTriggerPx": "",
        "slTriggerPxType": "",
        "slOrdPx": "",
        "attachAlgoOrds": [],
        "linkedAlgoOrd": {"algoId": ""},
        "stpId": "",
        "stpMode": "cancel_maker",
        "feeCcy": fee_ccy,
        "fee": fee(fee_paid),
        "rebateCcy": o.quote,
        "rebate": "0",
        "source": "",
        "tgtCcy": tgt,
        "category": "normal",
        "reduceOnly": "false",
        "isTpLimit": "false",
        "cancelSource": cancel_source,
        "cancelSourceReason": "",
        "quickMgnType": "",
        "algoClOrdId": "",
        "algoId": "",
        "uTime": o.updated_ms.to_string(),
        "cTime": o.created_ms.to_string(),
    });
    if let (Value::Object(m), Value::Object(more)) = (&mut main, more) {
        m.extend(more);
    }
    main
}

/// A fill of `/trade/fills`: `billId` and `tradeId` both the engine's fill number; a maker
/// fill (a limit order that rested) is `M`, others `T`.
pub fn fill(f: &Fill, maker: bool) -> Value {
    let n = id(&f.fill_id);
    json!({
        "instType": "SPOT",
        "instId": inst_id(&f.base, &f.quote),
        "tradeId": n,
        "ordId": id(&f.venue_order_id),
        "clOrdId": f.client_id,
        "billId": n,
        "subType": if f.side == Side::Buy { "1" } else { "2" },
        "tag": "",
        "fillPx": amount(f.price),
        "fillSz": amount(f.quantity),
        "fillIdxPx": "",
        "fillPnl": "0",
        "fillPxVol": "",
        "fillPxUsd": "",
        "fillMarkVol": "",
        "fillFwdPx": "",
        "fillMarkPx": "",
        "side": side_name(f.side),
        "posSide": "net",
        "execType": if maker { "M" } else { "T" },
        "feeCcy": f.fee_asset,
        "fee": fee(f.fee),
        "ts": f.time_ms.to_string(),
        "fillTime": f.time_ms.to_string(),
    })
}
