//! Numbers that Binance sends either as JSON numbers or as strings.
//!
//! Prices and quantities come as strings (`"0.00100000"`), precisions and times as numbers, but
//! third-party copies and simulators stringify everything, so every numeric field accepts both.
//! A JSON number with a fraction is read through its shortest round-trip text (Rust's `f64`
//! `Display`), which gives back the decimal digits that were sent for any value with at most 15
//! significant digits; money is never computed in `f64`.

use rust_decimal::Decimal;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::str::FromStr;

fn parse_decimal<E: de::Error>(s: &str) -> Result<Decimal, E> {
    let t = s.trim();
    Decimal::from_str(t)
        .or_else(|_| Decimal::from_scientific(t))
        .map_err(|_| E::custom(format!("\"{s}\" is not a decimal number")))
}

struct DecimalVisitor;

impl<'de> Visitor<'de> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a decimal number, as a JSON number or a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        parse_decimal(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        if !v.is_finite() {
            return Err(E::custom(format!("{v} is not a decimal number")));
        }
        parse_decimal(&v.to_string())
    }
}

/// A `Decimal` from a JSON number or string.
pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    d.deserialize_any(DecimalVisitor)
}

/// An optional `Decimal` from a JSON number, string, or `null`.
pub fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    #[derive(Deserialize)]
    struct Dec(#[serde(deserialize_with = "decimal")] Decimal);
    Ok(Option::<Dec>::deserialize(d)?.map(|x| x.0))
}

struct IntVisitor;

impl<'de> Visitor<'de> for IntVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer, as a JSON number or a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        v.trim()
            .parse()
            .map_err(|_| E::custom(format!("\"{v}\" is not an integer")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom(format!("{v} is too large")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            Ok(v as i64)
        } else {
            Err(E::custom(format!("{v} is not an integer")))
        }
    }
}

/// An `i64` from a JSON number or string (ids, times in ms, precisions).
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(IntVisitor)
}

/// An optional `i64` from a JSON number, string, or `null`.
pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Int(#[serde(deserialize_with = "int")] i64);
    Ok(Option::<Int>::deserialize(d)?.map(|x| x.0))
}

/// A `bool` from JSON `true`/`false` or the strings `"true"`/`"false"`.
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct B;
    impl<'de> Visitor<'de> for B {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a boolean, as JSON or a string")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            match v {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(E::custom(format!("\"{v}\" is not true or false"))),
            }
        }
    }
    d.deserialize_any(B)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[derive(Deserialize)]
    struct T {
        #[serde(deserialize_with = "decimal")]
        d: Decimal,
        #[serde(deserialize_with = "int")]
        i: i64,
        #[serde(default, deserialize_with = "opt_decimal")]
        o: Option<Decimal>,
    }

    fn parse(s: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn numbers_and_strings_read_the_same() {
        for s in [
            r#"{"d":"0.10000000","i":"8"}"#,
            r#"{"d":0.1,"i":8}"#,
            r#"{"d":"1e-1","i":8.0}"#,
        ] {
            let t = parse(s).unwrap();
            assert_eq!(t.d, dec!(0.1), "{s}");
            assert_eq!(t.i, 8, "{s}");
            assert_eq!(t.o, None);
        }
        // Up to 15 significant digits, a JSON number reads as the digits sent.
        let t = parse(r#"{"d":1234567890.12345,"i":1,"o":null}"#).unwrap();
        assert_eq!(t.d, dec!(1234567890.12345));
        let t = parse(r#"{"d":5,"i":1,"o":"2.5"}"#).unwrap();
        assert_eq!(t.o, Some(dec!(2.5)));
    }

    #[test]
    fn a_bad_number_names_the_value() {
        let e = parse(r#"{"d":"abc","i":1}"#).err().unwrap().to_string();
        assert!(e.contains("\"abc\" is not a decimal number"), "{e}");
        let e = parse(r#"{"d":"1","i":"1.5"}"#).err().unwrap().to_string();
        assert!(e.contains("\"1.5\" is not an integer"), "{e}");
    }
}
