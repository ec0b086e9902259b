//! The text codes both backends store for enums (side, order kind, venue status, a paper order's
//! size unit and time in force), and how they are read back.

use crate::{StoreError, StoreResult};
use rust_decimal::Decimal;
use smartfolio_exchange::{OrderKind, OrderSize, OrderStatus, Side, TimeInForce};

pub(crate) fn side_text(s: Side) -> &'static str {
    s.as_str()
}

pub(crate) fn parse_side(s: &str) -> StoreResult<Side> {
    match s {
        "buy" => Ok(Side::Buy),
        "sell" => Ok(Side::Sell),
        _ => Err(StoreError::BadValue(format!("side `{s}`"))),
    }
}

/// The kind's code and its limit price.
pub(crate) fn kind_parts(k: &OrderKind) -> (&'static str, Option<Decimal>) {
    match k {
        OrderKind::Market => ("market", None),
        OrderKind::Limit { price } => ("limit", Some(*price)),
    }
}

pub(crate) fn parse_kind(kind: &str, price: Option<Decimal>) -> StoreResult<OrderKind> {
    match (kind, price) {
        ("market", _) => Ok(OrderKind::Market),
        ("limit", Some(price)) => Ok(OrderKind::Limit { price }),
        (k, _) => Err(StoreError::BadValue(format!("order kind `{k}`"))),
    }
}

pub(crate) fn venue_status_text(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Open => "open",
        OrderStatus::PartiallyFilled => "partially_filled",
        OrderStatus::Filled => "filled",
        OrderStatus::Canceled => "canceled",
        OrderStatus::Rejected => "rejected",
        OrderStatus::Expired => "expired",
    }
}

pub(crate) fn parse_venue_status(s: &str) -> StoreResult<OrderStatus> {
    Ok(match s {
        "open" => OrderStatus::Open,
        "partially_filled" => OrderStatus::PartiallyFilled,
        "filled" => OrderStatus::Filled,
        "canceled" => OrderStatus::Canceled,
        "rejected" => OrderStatus::Rejected,
        "expired" => OrderStatus::Expired,
        _ => return Err(StoreError::BadValue(format!("venue order status `{s}`"))),
    })
}

pub(crate) fn parse_size(unit: &str, amount: Decimal) -> StoreResult<OrderSize> {
    match unit {
        "base" => Ok(OrderSize::Base(amount)),
        "quote" => Ok(OrderSize::Quote(amount)),
        u => Err(StoreError::BadValue(format!("paper order size unit `{u}`"))),
    }
}

pub(crate) fn parse_time_in_force(t: &str) -> StoreResult<TimeInForce> {
    match t {
        "gtc" => Ok(TimeInForce::Gtc),
        "ioc" => Ok(TimeInForce::Ioc),
        "fok" => Ok(TimeInForce::Fok),
        t => Err(StoreError::BadValue(format!(
            "paper order time in force `{t}`"
        ))),
    }
}

/// A paper order's fees as stored (JSON).
pub(crate) fn fees_json(fees: &[smartfolio_exchange::FeePaid]) -> StoreResult<String> {
    serde_json::to_string(fees).map_err(|e| StoreError::BadValue(e.to_string()))
}

pub(crate) fn parse_fees(json: &str) -> StoreResult<Vec<smartfolio_exchange::FeePaid>> {
    serde_json::from_str(json)
        .map_err(|e| StoreError::BadValue(format!("paper order fees `{json}`: {e}")))
}
