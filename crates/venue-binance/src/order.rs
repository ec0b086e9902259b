//! The parameters of `POST /api/v3/order`, built and checked before anything is sent.

use crate::client_id;
use rust_decimal::Decimal;
use smartfolio_exchange::Side;

/// How much an order trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// `quantity`, in base.
    Base(Decimal),
    /// `quoteOrderQty`, in quote: what a market buy spends (a market sell receives). Market
    /// orders only.
    Quote(Decimal),
}

/// How long a limit order may rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeInForce {
    Gtc,
    Ioc,
    Fok,
}

impl TimeInForce {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "GTC",
            TimeInForce::Ioc => "IOC",
            TimeInForce::Fok => "FOK",
        }
    }
}

/// Market, limit, or post-only limit (`LIMIT_MAKER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderType {
    Market,
    Limit {
        price: Decimal,
        time_in_force: TimeInForce,
    },
    /// A limit order refused if it would trade at once.
    LimitMaker {
        price: Decimal,
    },
}

/// The answer type asked for (`newOrderRespType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespType {
    Ack,
    Result,
    Full,
}

impl RespType {
    pub fn as_str(self) -> &'static str {
        match self {
            RespType::Ack => "ACK",
            RespType::Result => "RESULT",
            RespType::Full => "FULL",
        }
    }
}

/// An order to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub symbol: String,
    pub side: Side,
    pub size: Size,
    pub order_type: OrderType,
    /// `newClientOrderId`: stored by the caller before the request is sent.
    pub client_order_id: String,
    pub resp_type: RespType,
}

/// An order Binance would refuse for its shape, found before sending.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} \"{value}\" is not allowed: {allowed}")]
pub struct OrderParamError {
    pub field: &'static str,
    pub value: String,
    pub allowed: &'static str,
}

fn positive(field: &'static str, v: Decimal) -> Result<String, OrderParamError> {
    if v <= Decimal::ZERO {
        return Err(OrderParamError {
            field,
            value: v.to_string(),
            allowed: "a number above zero",
        });
    }
    Ok(v.normalize().to_string())
}

impl NewOrder {
    /// The request's parameters, in the order sent (before `timestamp`/`recvWindow`).
    pub fn params(&self) -> Result<Vec<(&'static str, String)>, OrderParamError> {
        client_id::validate(&self.client_order_id).map_err(|e| OrderParamError {
            field: "newClientOrderId",
            value: e.value,
            allowed: "1 to 36 characters among A-Z a-z 0-9 - _",
        })?;
        if self.symbol.is_empty() || !self.symbol.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(OrderParamError {
                field: "symbol",
                value: self.symbol.clone(),
                allowed: "letters and digits, such as BTCUSDT",
            });
        }
        let mut p: Vec<(&'static str, String)> = vec![
            ("symbol", self.symbol.clone()),
            (
                "side",
                match self.side {
                    Side::Buy => "BUY",
                    Side::Sell => "SELL",
                }
                .to_string(),
            ),
        ];
        let (kind, price, tif) = match self.order_type {
            OrderType::Market => ("MARKET", None, None),
            OrderType::Limit {
                price,
                time_in_force,
            } => ("LIMIT", Some(price), Some(time_in_force)),
            OrderType::LimitMaker { price } => ("LIMIT_MAKER", Some(price), None),
        };
        p.push(("type", kind.to_string()));
        if let Some(tif) = tif {
            p.push(("timeInForce", tif.as_str().to_string()));
        }
        match (self.size, price) {
            (Size::Base(q), _) => p.push(("quantity", positive("quantity", q)?)),
            (Size::Quote(q), None) => p.push(("quoteOrderQty", positive("quoteOrderQty", q)?)),
            (Size::Quote(q), Some(_)) => {
                return Err(OrderParamError {
                    field: "quoteOrderQty",
                    value: q.to_string(),
                    allowed: "on market orders only; a limit order is sized in base",
                });
            }
        }
        if let Some(price) = price {
            p.push(("price", positive("price", price)?));
        }
        p.push(("newClientOrderId", self.client_order_id.clone()));
        p.push(("newOrderRespType", self.resp_type.as_str().to_string()));
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn order(size: Size, order_type: OrderType) -> NewOrder {
        NewOrder {
            symbol: "BTCUSDT".into(),
            side: Side::Buy,
            size,
            order_type,
            client_order_id: "sf-abc".into(),
            resp_type: RespType::Full,
        }
    }

    fn text(p: &[(&'static str, String)]) -> String {
        crate::sign::encode_params(p)
    }

    #[test]
    fn a_market_buy_by_quote_sends_quote_order_qty() {
        let p = order(Size::Quote(dec!(25.500)), OrderType::Market)
            .params()
            .unwrap();
        assert_eq!(
            text(&p),
            "symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=25.5&newClientOrderId=sf-abc&newOrderRespType=FULL"
        );
    }

    #[test]
    fn limit_and_post_only_orders() {
        let limit = OrderType::Limit {
            price: dec!(30000.50),
            time_in_force: TimeInForce::Ioc,
        };
        let p = order(Size::Base(dec!(0.0100)), limit).params().unwrap();
        assert_eq!(
            text(&p),
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.01&price=30000.5&newClientOrderId=sf-abc&newOrderRespType=FULL"
        );
        let maker = OrderType::LimitMaker { price: dec!(1) };
        let p = order(Size::Base(dec!(2)), maker).params().unwrap();
        assert_eq!(
            text(&p),
            "symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=2&price=1&newClientOrderId=sf-abc&newOrderRespType=FULL"
        );
    }

    #[test]
    fn bad_orders_are_refused_naming_the_field() {
        let e = order(Size::Base(dec!(0)), OrderType::Market)
            .params()
            .unwrap_err();
        assert_eq!((e.field, e.value.as_str()), ("quantity", "0"));
        let limit = OrderType::LimitMaker { price: dec!(1) };
        let e = order(Size::Quote(dec!(5)), limit).params().unwrap_err();
        assert_eq!(e.field, "quoteOrderQty");
        let mut o = order(Size::Base(dec!(1)), OrderType::Market);
        o.client_order_id = "bad id".into();
        assert_eq!(o.params().unwrap_err().field, "newClientOrderId");
        o.client_order_id = "ok".into();
        o.symbol = "BTC/USDT".into();
        let e = o.params().unwrap_err().to_string();
        assert!(e.contains("symbol \"BTC/USDT\""), "{e}");
    }
}
