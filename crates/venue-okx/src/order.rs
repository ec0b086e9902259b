//! The body of `POST /api/v5/trade/order`, built and checked before anything is sent.
//!
//! Spot orders trade the cash account (`tdMode=cash`). A market order always says in which
//! unit its `sz` is (`tgtCcy`): OKX reads a market buy's `sz` as quote when it is left out,
//! so a base quantity sent without it would spend that many USDT. Limit orders map the time in
//! force onto OKX's order types: GTC `limit`, IOC `ioc`, FOK `fok`, post-only `post_only`.

use crate::client_id;
use rust_decimal::{Decimal, RoundingStrategy};
use smartfolio_exchange::Side;

/// How much an order trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// In base (`tgtCcy=base_ccy` on a market order).
    Base(Decimal),
    /// In quote (`tgtCcy=quote_ccy`): what a market buy spends. Market orders only.
    Quote(Decimal),
}

/// How long a limit order may rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeInForce {
    Gtc,
    Ioc,
    Fok,
}

/// Market, limit (with its time in force), or post-only limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderType {
    Market,
    Limit {
        price: Decimal,
        time_in_force: TimeInForce,
    },
    /// A limit order that must add liquidity.
    PostOnly {
        price: Decimal,
    },
}

impl OrderType {
    /// OKX's `ordType`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Market => "market",
            OrderType::Limit {
                time_in_force: TimeInForce::Gtc,
                ..
            } => "limit",
            OrderType::Limit {
                time_in_force: TimeInForce::Ioc,
                ..
            } => "ioc",
            OrderType::Limit {
                time_in_force: TimeInForce::Fok,
                ..
            } => "fok",
            OrderType::PostOnly { .. } => "post_only",
        }
    }

    fn price(self) -> Option<Decimal> {
        match self {
            OrderType::Market => None,
            OrderType::Limit { price, .. } | OrderType::PostOnly { price } => Some(price),
        }
    }
}

/// An order to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// `BTC-USDT`.
    pub inst_id: String,
    pub side: Side,
    pub size: Size,
    pub order_type: OrderType,
    /// `clOrdId`: stored by the caller before the request is sent.
    pub cl_ord_id: String,
}

/// An order OKX would refuse for its shape, found before sending.
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

/// `v` rounded to a multiple of `step` in direction `dir` (as is without a step).
fn to_step(v: Decimal, step: Option<Decimal>, dir: RoundingStrategy) -> Decimal {
    match step {
        Some(s) if s > Decimal::ZERO => ((v / s).round_dp_with_strategy(0, dir) * s).normalize(),
        _ => v,
    }
}

impl NewOrder {
    /// The order with a base size rounded down to `lot_sz` and a price rounded to `tick_sz`
    /// (down for a buy, up for a sell: never a worse price than asked). A quote size is left
    /// as is: OKX spends at most that much.
    pub fn rounded(mut self, lot_sz: Option<Decimal>, tick_sz: Option<Decimal>) -> Self {
        if let Size::Base(q) = self.size {
            self.size = Size::Base(to_step(q, lot_sz, RoundingStrategy::ToZero));
        }
        let dir = match self.side {
            Side::Buy => RoundingStrategy::ToZero,
            Side::Sell => RoundingStrategy::AwayFromZero,
        };
        self.order_type = match self.order_type {
            OrderType::Market => OrderType::Market,
            OrderType::Limit {
                price,
                time_in_force,
            } => OrderType::Limit {
                price: to_step(price, tick_sz, dir),
                time_in_force,
            },
            OrderType::PostOnly { price } => OrderType::PostOnly {
                price: to_step(price, tick_sz, dir),
            },
        };
        self
    }

    /// The request's fields, in the order sent.
    pub fn fields(&self) -> Result<Vec<(&'static str, String)>, OrderParamError> {
        client_id::validate(&self.cl_ord_id).map_err(|e| OrderParamError {
            field: "clOrdId",
            value: e.value,
            allowed: "1 to 32 characters among A-Z a-z 0-9",
        })?;
        let parts: Vec<&str> = self.inst_id.split('-').collect();
        if parts.len() != 2
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(OrderParamError {
                field: "instId",
                value: self.inst_id.clone(),
                allowed: "BASE-QUOTE in letters and digits, such as BTC-USDT",
            });
        }
        let side = match self.side {
            Side::Buy => "buy",
            Side::Sell => "sell",
        };
        let mut f: Vec<(&'static str, String)> = vec![
            ("instId", self.inst_id.clone()),
            ("tdMode", "cash".into()),
            ("side", side.into()),
            ("ordType", self.order_type.as_str().into()),
        ];
        if let Some(price) = self.order_type.price() {
            f.push(("px", positive("px", price)?));
        }
        let (sz, unit) = match (self.size, self.order_type) {
            (Size::Base(q), _) => (positive("sz", q)?, "base_ccy"),
            (Size::Quote(q), OrderType::Market) => (positive("sz", q)?, "quote_ccy"),
            (Size::Quote(q), _) => {
                return Err(OrderParamError {
                    field: "sz",
                    value: format!("{} (quote)", q.normalize()),
                    allowed: "a size in quote on market orders only; a limit order is sized in base",
                });
            }
        };
        f.push(("sz", sz));
        if self.order_type == OrderType::Market {
            f.push(("tgtCcy", unit.into()));
        }
        f.push(("clOrdId", self.cl_ord_id.clone()));
        Ok(f)
    }

    /// The JSON body, fields in the order of [`NewOrder::fields`], every value a string.
    pub fn body(&self) -> Result<String, OrderParamError> {
        Ok(json_object(&self.fields()?))
    }
}

/// `{"k":"v",…}` with the keys in the order given (what is signed is what is sent).
pub fn json_object(fields: &[(&str, String)]) -> String {
    let items: Vec<String> = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}:{}",
                serde_json::Value::from(*k),
                serde_json::Value::from(v.as_str())
            )
        })
        .collect();
    format!("{{{}}}", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn order(side: Side, size: Size, order_type: OrderType) -> NewOrder {
        NewOrder {
            inst_id: "BTC-USDT".into(),
            side,
            size,
            order_type,
            cl_ord_id: "sf1".into(),
        }
    }

    #[test]
    fn market_orders_say_their_unit() {
        let buy = order(Side::Buy, Size::Quote(dec!(25.50)), OrderType::Market);
        assert_eq!(
            buy.body().unwrap(),
            r#"{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"market","sz":"25.5","tgtCcy":"quote_ccy","clOrdId":"sf1"}"#
        );
        let buy = order(Side::Buy, Size::Base(dec!(0.010)), OrderType::Market);
        assert!(
            buy.body()
                .unwrap()
                .contains(r#""sz":"0.01","tgtCcy":"base_ccy""#)
        );
        let sell = order(Side::Sell, Size::Base(dec!(0.5)), OrderType::Market);
        assert!(sell.body().unwrap().contains(r#""tgtCcy":"base_ccy""#));
    }

    #[test]
    fn limit_orders_map_time_in_force_onto_the_order_type() {
        let limit = |tif| OrderType::Limit {
            price: dec!(30000.50),
            time_in_force: tif,
        };
        // The ccxt signing vector's body, byte for byte.
        assert_eq!(
            NewOrder {
                cl_ord_id: "rb1".into(),
                ..order(Side::Buy, Size::Base(dec!(0.01)), limit(TimeInForce::Gtc))
            }
            .body()
            .unwrap(),
            r#"{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","px":"30000.5","sz":"0.01","clOrdId":"rb1"}"#
        );
        for (tif, t) in [(TimeInForce::Ioc, "ioc"), (TimeInForce::Fok, "fok")] {
            let b = order(Side::Buy, Size::Base(dec!(1)), limit(tif))
                .body()
                .unwrap();
            assert!(b.contains(&format!(r#""ordType":"{t}""#)), "{b}");
            assert!(!b.contains("tgtCcy"), "{b}");
        }
        let p = order(
            Side::Sell,
            Size::Base(dec!(1)),
            OrderType::PostOnly { price: dec!(2) },
        );
        assert!(
            p.body()
                .unwrap()
                .contains(r#""ordType":"post_only","px":"2""#)
        );
    }

    #[test]
    fn sizes_and_prices_are_rounded_to_the_steps() {
        let lot = Some(dec!(0.0001));
        let tick = Some(dec!(0.1));
        let limit = |price| OrderType::Limit {
            price,
            time_in_force: TimeInForce::Gtc,
        };
        let o =
            order(Side::Buy, Size::Base(dec!(0.123456)), limit(dec!(100.19))).rounded(lot, tick);
        assert_eq!(o.size, Size::Base(dec!(0.1234)));
        assert_eq!(o.order_type, limit(dec!(100.1)));
        let o = order(Side::Sell, Size::Base(dec!(1)), limit(dec!(100.11))).rounded(lot, tick);
        assert_eq!(o.order_type, limit(dec!(100.2)));
        let q = order(Side::Buy, Size::Quote(dec!(10.123)), OrderType::Market).rounded(lot, tick);
        assert_eq!(q.size, Size::Quote(dec!(10.123)));
        // Rounded to nothing: refused before sending, naming the field.
        let z = order(Side::Buy, Size::Base(dec!(0.00001)), OrderType::Market).rounded(lot, tick);
        assert_eq!(z.body().unwrap_err().field, "sz");
    }

    #[test]
    fn bad_orders_are_refused_naming_the_field() {
        let mut o = order(Side::Buy, Size::Base(dec!(1)), OrderType::Market);
        o.cl_ord_id = "sf-1".into();
        assert_eq!(o.body().unwrap_err().field, "clOrdId");
        o.cl_ord_id = "ok".into();
        o.inst_id = "BTCUSDT".into();
        let e = o.body().unwrap_err().to_string();
        assert!(e.contains("instId \"BTCUSDT\""), "{e}");
        let limit = OrderType::PostOnly { price: dec!(1) };
        let e = order(Side::Buy, Size::Quote(dec!(5)), limit)
            .body()
            .unwrap_err();
        assert_eq!(e.field, "sz");
        let e = order(Side::Buy, Size::Base(dec!(-1)), OrderType::Market)
            .body()
            .unwrap_err();
        assert_eq!((e.field, e.value.as_str()), ("sz", "-1"));
    }
}
