//! The body of `POST /spot/orders`, built and checked before anything is sent.
//!
//! - `text` is `t-` + our client id ([`crate::client_id`]).
//! - A market order's `amount` unit is fixed by its side: a **buy** spends `amount` quote, a
//!   **sell** sells `amount` base (venue-facts.md §Gate v4). So a market buy sized in base, or
//!   a market sell sized in quote, is refused before sending, never sent in the wrong unit.
//!   Market orders go as `time_in_force=ioc` (what ccxt and hummingbot send).
//! - Limit orders: `gtc`, `ioc`, `fok`; post-only is `poc`.
//! - `account` is `spot` (classic spot accounts; Gate serves unified accounts on the same
//!   endpoints with `account=unified`, not supported here yet).

use crate::client_id;
use rust_decimal::{Decimal, RoundingStrategy};
use smartfolio_exchange::Side;

/// How much an order trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Base(Decimal),
    /// What a market buy spends.
    Quote(Decimal),
}

/// Gate's `time_in_force`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeInForce {
    Gtc,
    Ioc,
    Fok,
    /// Pending-or-cancel: post-only.
    Poc,
}

impl TimeInForce {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "gtc",
            TimeInForce::Ioc => "ioc",
            TimeInForce::Fok => "fok",
            TimeInForce::Poc => "poc",
        }
    }
}

/// Market, or limit at a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderType {
    Market,
    Limit {
        price: Decimal,
        time_in_force: TimeInForce,
    },
}

/// An order to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// `BTC_USDT`.
    pub currency_pair: String,
    pub side: Side,
    pub size: Size,
    pub order_type: OrderType,
    /// Our client id (sent as `text` = `t-<id>`): stored by the caller before sending.
    pub client_id: String,
}

/// An order Gate would refuse for its shape, found before sending.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} \"{value}\" is not allowed: {allowed}")]
pub struct OrderParamError {
    pub field: &'static str,
    pub value: String,
    pub allowed: String,
}

fn positive(field: &'static str, v: Decimal) -> Result<String, OrderParamError> {
    if v <= Decimal::ZERO {
        return Err(OrderParamError {
            field,
            value: v.to_string(),
            allowed: "a number above zero".into(),
        });
    }
    Ok(v.normalize().to_string())
}

/// `v` with at most `places` decimals, rounded in direction `dir` (as is without a precision).
fn to_places(v: Decimal, places: Option<u32>, dir: RoundingStrategy) -> Decimal {
    match places {
        Some(p) => v.round_dp_with_strategy(p, dir).normalize(),
        None => v,
    }
}

/// Whether `id` is a currency pair id Gate could know: `BASE_QUOTE`, letters and digits.
pub fn valid_pair_id(id: &str) -> bool {
    let mut parts = id.split('_');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

impl NewOrder {
    /// The order with a base amount rounded down to `amount_precision` decimals, a market
    /// buy's quote amount rounded down to `precision` decimals (spending at most what was
    /// asked), and a price rounded to `precision` decimals (down for a buy, up for a sell:
    /// never a worse price than asked).
    pub fn rounded(mut self, amount_precision: Option<u32>, precision: Option<u32>) -> Self {
        self.size = match self.size {
            Size::Base(q) => Size::Base(to_places(q, amount_precision, RoundingStrategy::ToZero)),
            Size::Quote(q) => Size::Quote(to_places(q, precision, RoundingStrategy::ToZero)),
        };
        if let OrderType::Limit {
            price,
            time_in_force,
        } = self.order_type
        {
            let dir = match self.side {
                Side::Buy => RoundingStrategy::ToZero,
                Side::Sell => RoundingStrategy::AwayFromZero,
            };
            self.order_type = OrderType::Limit {
                price: to_places(price, precision, dir),
                time_in_force,
            };
        }
        self
    }

    /// The request's fields, in the order sent.
    pub fn fields(&self) -> Result<Vec<(&'static str, String)>, OrderParamError> {
        let text = client_id::text_of(&self.client_id).map_err(|e| OrderParamError {
            field: "text",
            value: e.value,
            allowed: e.allowed,
        })?;
        if !valid_pair_id(&self.currency_pair) {
            return Err(OrderParamError {
                field: "currency_pair",
                value: self.currency_pair.clone(),
                allowed: "BASE_QUOTE in letters and digits, such as BTC_USDT".into(),
            });
        }
        let side = match self.side {
            Side::Buy => "buy",
            Side::Sell => "sell",
        };
        let amount = match (self.order_type, self.side, self.size) {
            (OrderType::Market, Side::Buy, Size::Quote(q))
            | (OrderType::Market, Side::Sell, Size::Base(q))
            | (OrderType::Limit { .. }, _, Size::Base(q)) => positive("amount", q)?,
            (OrderType::Market, Side::Buy, Size::Base(q)) => {
                return Err(OrderParamError {
                    field: "amount",
                    value: format!("{} (base)", q.normalize()),
                    allowed: "a Gate market buy spends an amount of quote; size it in quote".into(),
                });
            }
            (_, _, Size::Quote(q)) => {
                return Err(OrderParamError {
                    field: "amount",
                    value: format!("{} (quote)", q.normalize()),
                    allowed: "a size in quote on market buys only; sells and limit orders are sized in base".into(),
                });
            }
        };
        let mut f: Vec<(&'static str, String)> = vec![
            ("text", text),
            ("currency_pair", self.currency_pair.clone()),
        ];
        match self.order_type {
            OrderType::Market => {
                f.push(("type", "market".into()));
                f.push(("account", "spot".into()));
                f.push(("side", side.into()));
                f.push(("amount", amount));
                f.push(("time_in_force", TimeInForce::Ioc.as_str().into()));
            }
            OrderType::Limit {
                price,
                time_in_force,
            } => {
                f.push(("type", "limit".into()));
                f.push(("account", "spot".into()));
                f.push(("side", side.into()));
                f.push(("amount", amount));
                f.push(("price", positive("price", price)?));
                f.push(("time_in_force", time_in_force.as_str().into()));
            }
        }
        Ok(f)
    }

    /// The JSON body, fields in the order of [`NewOrder::fields`], every value a string.
    pub fn body(&self) -> Result<String, OrderParamError> {
        let mut body = String::from("{");
        for (i, (k, v)) in self.fields()?.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            // A JSON string of a `str` cannot fail to serialise.
            body.push_str(&serde_json::Value::from(*k).to_string());
            body.push(':');
            body.push_str(&serde_json::Value::from(v.as_str()).to_string());
        }
        body.push('}');
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn order(side: Side, size: Size, order_type: OrderType) -> NewOrder {
        NewOrder {
            currency_pair: "BTC_USDT".into(),
            side,
            size,
            order_type,
            client_id: "sf1".into(),
        }
    }

    fn limit(price: Decimal, tif: TimeInForce) -> OrderType {
        OrderType::Limit {
            price,
            time_in_force: tif,
        }
    }

    #[test]
    fn market_buys_spend_quote_and_market_sells_sell_base() {
        let buy = order(Side::Buy, Size::Quote(dec!(100.00)), OrderType::Market);
        assert_eq!(
            buy.body().unwrap(),
            r#"{"text":"t-sf1","currency_pair":"BTC_USDT","type":"market","account":"spot","side":"buy","amount":"100","time_in_force":"ioc"}"#
        );
        let sell = order(Side::Sell, Size::Base(dec!(0.50)), OrderType::Market);
        assert!(
            sell.body()
                .unwrap()
                .contains(r#""side":"sell","amount":"0.5","time_in_force":"ioc""#)
        );
        let e = order(Side::Buy, Size::Base(dec!(1)), OrderType::Market)
            .body()
            .unwrap_err();
        assert_eq!((e.field, e.value.as_str()), ("amount", "1 (base)"));
        let e = order(Side::Sell, Size::Quote(dec!(5)), OrderType::Market)
            .body()
            .unwrap_err();
        assert_eq!((e.field, e.value.as_str()), ("amount", "5 (quote)"));
    }

    #[test]
    fn limit_orders_carry_price_and_time_in_force_and_post_only_is_poc() {
        let b = order(
            Side::Buy,
            Size::Base(dec!(0.01)),
            limit(dec!(30000.5), TimeInForce::Gtc),
        )
        .body()
        .unwrap();
        assert_eq!(
            b,
            r#"{"text":"t-sf1","currency_pair":"BTC_USDT","type":"limit","account":"spot","side":"buy","amount":"0.01","price":"30000.5","time_in_force":"gtc"}"#
        );
        for tif in [TimeInForce::Ioc, TimeInForce::Fok, TimeInForce::Poc] {
            let b = order(Side::Sell, Size::Base(dec!(1)), limit(dec!(2), tif))
                .body()
                .unwrap();
            assert!(
                b.ends_with(&format!(r#""time_in_force":"{}"}}"#, tif.as_str())),
                "{b}"
            );
        }
        let e = order(
            Side::Buy,
            Size::Quote(dec!(5)),
            limit(dec!(1), TimeInForce::Gtc),
        )
        .body()
        .unwrap_err();
        assert_eq!(e.field, "amount");
    }

    #[test]
    fn amounts_and_prices_are_rounded_to_the_precisions() {
        let o = order(
            Side::Buy,
            Size::Base(dec!(0.123456)),
            limit(dec!(100.19), TimeInForce::Gtc),
        )
        .rounded(Some(4), Some(1));
        assert_eq!(o.size, Size::Base(dec!(0.1234)));
        assert_eq!(o.order_type, limit(dec!(100.1), TimeInForce::Gtc));
        let o = order(
            Side::Sell,
            Size::Base(dec!(1)),
            limit(dec!(100.11), TimeInForce::Gtc),
        )
        .rounded(Some(4), Some(1));
        assert_eq!(o.order_type, limit(dec!(100.2), TimeInForce::Gtc));
        let q = order(Side::Buy, Size::Quote(dec!(10.129)), OrderType::Market)
            .rounded(Some(4), Some(2));
        assert_eq!(q.size, Size::Quote(dec!(10.12)));
        // Rounded to nothing: refused before sending, naming the field.
        let z = order(Side::Sell, Size::Base(dec!(0.00001)), OrderType::Market)
            .rounded(Some(4), Some(1));
        assert_eq!(z.body().unwrap_err().field, "amount");
    }

    #[test]
    fn bad_orders_are_refused_naming_the_field() {
        let mut o = order(Side::Sell, Size::Base(dec!(1)), OrderType::Market);
        o.client_id = "sf 1".into();
        let e = o.body().unwrap_err();
        assert_eq!((e.field, e.value.as_str()), ("text", "sf 1"));
        o.client_id = "x".repeat(27);
        assert_eq!(o.body().unwrap_err().field, "text");
        o.client_id = "ok".into();
        o.currency_pair = "BTC-USDT".into();
        let e = o.body().unwrap_err().to_string();
        assert!(e.contains("currency_pair \"BTC-USDT\""), "{e}");
        let e = order(Side::Sell, Size::Base(dec!(-1)), OrderType::Market)
            .body()
            .unwrap_err();
        assert_eq!((e.field, e.value.as_str()), ("amount", "-1"));
        assert!(valid_pair_id("PEPE_USDT") && !valid_pair_id("A_B_C") && !valid_pair_id("_USDT"));
    }
}
