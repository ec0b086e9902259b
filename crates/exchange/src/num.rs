//! Numbers as venues send them, for the connectors' serde models: a string (`"0.00001"`), where
//! an empty string means "none" (OKX's `"px":""` on a market order, `"avgPx":""` before a
//! fill), or a JSON number (Gate's `amount_precision` and `server_time` in the live API;
//! simulators and copies send numbers too). Money is read as `Decimal`, never through `f64`.
//! Shared by the OKX and Gate connectors (Binance keeps its own non-optional readers).

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;
use std::str::FromStr;

struct OptDecimal;

impl<'de> Visitor<'de> for OptDecimal {
    type Value = Option<Decimal>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a decimal number as a string (empty for none)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(None);
        }
        Decimal::from_str(t)
            .or_else(|_| Decimal::from_scientific(t))
            .map(Some)
            .map_err(|_| E::custom(format!("\"{v}\" is not a decimal number")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Decimal::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Decimal::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if !v.is_finite() {
            return Err(E::custom(format!("{v} is not a decimal number")));
        }
        self.visit_str(&v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// An optional `Decimal`: a string, a number, `""` or `null` (none).
pub fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    d.deserialize_any(OptDecimal)
}

/// A `Decimal` that must be there: an empty string is an error.
pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    opt_decimal(d)?.ok_or_else(|| de::Error::custom("a number is required here, got \"\""))
}

/// Epoch milliseconds as a venue sends them (`"1597026383085"`); `""` or `null` is none.
pub fn opt_ms<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match opt_decimal(d)? {
        None => Ok(None),
        Some(v) if v.fract().is_zero() => i64::try_from(v)
            .map(Some)
            .map_err(|_| de::Error::custom(format!("{v} is not a time in ms"))),
        Some(v) => Err(de::Error::custom(format!("{v} is not a time in ms"))),
    }
}

/// Epoch milliseconds that must be there.
pub fn ms<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    opt_ms(d)?.ok_or_else(|| de::Error::custom("a time in ms is required here, got \"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "opt_decimal")]
        a: Option<Decimal>,
        #[serde(default, deserialize_with = "opt_ms")]
        t: Option<i64>,
    }

    fn parse(s: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn strings_empty_strings_and_numbers() {
        let v = parse(r#"{"a":"0.00100000","t":"1597026383085"}"#).unwrap();
        assert_eq!(v.a, Some(dec!(0.001)));
        assert_eq!(v.t, Some(1_597_026_383_085));
        let v = parse(r#"{"a":"","t":""}"#).unwrap();
        assert_eq!((v.a, v.t), (None, None));
        let v = parse(r#"{"a":null}"#).unwrap();
        assert_eq!(v.a, None);
        assert_eq!(parse(r#"{"a":1.5}"#).unwrap().a, Some(dec!(1.5)));
        let e = parse(r#"{"a":"1,5"}"#).err().unwrap().to_string();
        assert!(e.contains("\"1,5\" is not a decimal number"), "{e}");
        assert!(parse(r#"{"t":"1.5"}"#).is_err());
    }
}
