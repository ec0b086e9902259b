//! The documented ranges of money inputs, and the one number grammar they are written in.
//!
//! Capital, amounts of quote, quantities and prices are read through a [`Range`] wherever they
//! come in (command-line flags, config files, price history), so each limit is stated once here,
//! and every refusal names the field, quotes the input exactly as given and says what is allowed.
//!
//! | range | allowed | for |
//! |---|---|---|
//! | [`AMOUNT`] | 0 < x ≤ 1e15 quote | backtest capital, an investment or withdrawal |
//! | [`AMOUNT_OR_ZERO`] | 0 ≤ x ≤ 1e15 quote | a bot's initial quote, cash held, a minimum trade |
//! | [`PRICE`] | 1e-12 ≤ x ≤ 1e15 quote | marks, entry prices, price history |
//! | [`QUANTITY`] | 0 < x ≤ 1e27 units | coins brought into a bot |
//! | [`QUANTITY_OR_ZERO`] | 0 ≤ x ≤ 1e27 units | holdings, paper balances |
//!
//! 1e15 quote at prices down to 1e-12 keeps every value and quantity the planner computes inside
//! `Decimal`'s 28 digits (1e27 units is 1e15 quote at the lowest price). A holding's worth, the
//! cash and a portfolio's total are held to [`MAX_AMOUNT`] as well (`Portfolio::new`).
//!
//! The grammar: a plain decimal number, an optional sign, digits and at most one decimal point
//! (`12.5`, `0.001`, `-3`), with at most 28 significant digits; no exponent, no `inf` or `NaN`.

use crate::error::ValidationError;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// The largest amount of quote anywhere: 1e15.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0xa4c6_8000, 0x0003_8d7e, 0, false, 0);
/// The smallest price: 1e-12 quote.
pub const MIN_PRICE: Decimal = Decimal::from_parts(1, 0, 0, false, 12);
/// The largest price: 1e15 quote.
pub const MAX_PRICE: Decimal = MAX_AMOUNT;
/// The largest quantity: 1e27 units (1e15 quote at the lowest price).
pub const MAX_QUANTITY: Decimal =
    Decimal::from_parts(0xe800_0000, 0x9fd0_803c, 0x033b_2e3c, false, 0);

/// A range of money input: what it is, and its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// What the number is, for messages: "an amount of quote".
    pub what: &'static str,
    pub min: Decimal,
    /// Whether `min` itself is allowed (`false`: only numbers above it).
    pub min_included: bool,
    pub max: Decimal,
}

pub const AMOUNT: Range = Range {
    what: "an amount of quote",
    min: Decimal::ZERO,
    min_included: false,
    max: MAX_AMOUNT,
};
pub const AMOUNT_OR_ZERO: Range = Range {
    min_included: true,
    ..AMOUNT
};
pub const PRICE: Range = Range {
    what: "a price in quote",
    min: MIN_PRICE,
    min_included: true,
    max: MAX_PRICE,
};
pub const QUANTITY: Range = Range {
    what: "a quantity in units",
    min: Decimal::ZERO,
    min_included: false,
    max: MAX_QUANTITY,
};
pub const QUANTITY_OR_ZERO: Range = Range {
    min_included: true,
    ..QUANTITY
};

/// `d` as plain digits, with the power of ten beside it when that is shorter to read.
fn show(d: Decimal) -> String {
    let plain = d.normalize().to_string();
    let exp = match plain.strip_prefix("0.") {
        Some(frac)
            if frac.ends_with('1') && frac.trim_end_matches('1').bytes().all(|b| b == b'0') =>
        {
            Some(-(frac.len() as i64))
        }
        Some(_) => None,
        None if plain.starts_with('1') && plain[1..].bytes().all(|b| b == b'0') => {
            Some(plain.len() as i64 - 1)
        }
        None => None,
    };
    match exp {
        Some(e) if e.abs() >= 6 => format!("{plain} (1e{e})"),
        _ => plain,
    }
}

/// Whether `s` is a plain decimal: `[+-]digits[.digits]` or `[+-].digits`.
fn is_plain(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

impl Range {
    /// What is allowed, for messages: "an amount of quote > 0 and ≤ 1000000000000000 (1e15)".
    pub fn allowed(&self) -> String {
        let low = if self.min_included { "≥" } else { ">" };
        format!(
            "{} {low} {} and ≤ {}",
            self.what,
            show(self.min),
            show(self.max)
        )
    }

    /// The upper bound as messages show it: "1000000000000000 (1e15)".
    pub fn allowed_max(&self) -> String {
        show(self.max)
    }

    pub fn contains(&self, x: Decimal) -> bool {
        let above = if self.min_included {
            x >= self.min
        } else {
            x > self.min
        };
        above && x <= self.max
    }

    /// Read `raw` (a plain decimal) as a number of this range. The error names `field`, quotes
    /// `raw` exactly and says what is allowed.
    pub fn parse(&self, field: &str, raw: &str) -> Result<Decimal, ValidationError> {
        let s = raw.trim();
        if !is_plain(s) {
            return Err(ValidationError::new(
                field,
                raw,
                format!(
                    "{}, written as a plain decimal number such as 12.5 (no exponent)",
                    self.allowed()
                ),
            ));
        }
        match Decimal::from_str_exact(s) {
            Ok(d) if self.contains(d) => Ok(d),
            Ok(_) => Err(ValidationError::new(field, raw, self.allowed())),
            // Too many digits for Decimal: beyond the range, or more than 28 significant digits.
            Err(_) => Err(ValidationError::new(
                field,
                raw,
                format!("{}, with at most 28 significant digits", self.allowed()),
            )),
        }
    }

    /// [`Range::parse`], as `f64` (for the backtest engine); exact for every number in range
    /// up to f64's 15-16 significant digits.
    pub fn parse_f64(&self, field: &str, raw: &str) -> Result<f64, ValidationError> {
        let d = self.parse(field, raw)?;
        d.to_f64()
            .ok_or_else(|| ValidationError::new(field, raw, self.allowed()))
    }

    /// Check a number that arrived already typed (a stored config, a JSON decimal).
    pub fn check(&self, field: &str, x: Decimal) -> Result<Decimal, ValidationError> {
        if self.contains(x) {
            Ok(x)
        } else {
            Err(ValidationError::new(field, x.to_string(), self.allowed()))
        }
    }

    /// Check an `f64` (the backtest engine's configuration): finite and in range.
    pub fn check_f64(&self, field: &str, x: f64) -> Result<f64, ValidationError> {
        let (min, max) = (
            self.min.to_f64().unwrap_or(0.0),
            self.max.to_f64().unwrap_or(f64::MAX),
        );
        let above = if self.min_included { x >= min } else { x > min };
        if x.is_finite() && above && x <= max {
            Ok(x)
        } else {
            Err(ValidationError::new(field, x.to_string(), self.allowed()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn the_constants_are_the_documented_numbers() {
        assert_eq!(MAX_AMOUNT, Decimal::from_str("1000000000000000").unwrap());
        assert_eq!(MIN_PRICE, Decimal::from_str("0.000000000001").unwrap());
        assert_eq!(
            MAX_QUANTITY,
            Decimal::from_str("1000000000000000000000000000").unwrap()
        );
        assert_eq!(
            AMOUNT.allowed(),
            "an amount of quote > 0 and ≤ 1000000000000000 (1e15)"
        );
        assert_eq!(
            PRICE.allowed(),
            "a price in quote ≥ 0.000000000001 (1e-12) and ≤ 1000000000000000 (1e15)"
        );
        assert_eq!(
            QUANTITY_OR_ZERO.allowed(),
            "a quantity in units ≥ 0 and ≤ 1000000000000000000000000000 (1e27)"
        );
    }

    #[test]
    fn numbers_in_range_are_read_exactly() {
        assert_eq!(
            AMOUNT.parse("capital", "10000").unwrap(),
            Decimal::from(10_000)
        );
        assert_eq!(
            AMOUNT.parse("capital", " 0.5 ").unwrap(),
            Decimal::new(5, 1)
        );
        assert_eq!(AMOUNT.parse("capital", "+.5").unwrap(), Decimal::new(5, 1));
        assert_eq!(
            AMOUNT.parse("capital", "1000000000000000").unwrap(),
            MAX_AMOUNT
        );
        assert_eq!(AMOUNT_OR_ZERO.parse("cash", "0").unwrap(), Decimal::ZERO);
        assert_eq!(PRICE.parse("p", "0.000000000001").unwrap(), MIN_PRICE);
        assert_eq!(AMOUNT.parse_f64("capital", "1234.5").unwrap(), 1234.5);
    }

    #[test]
    fn refusals_quote_the_input_as_given() {
        for (range, raw, says) in [
            (AMOUNT, "1e308", "no exponent"),
            (AMOUNT, "1e400", "no exponent"),
            (AMOUNT, "inf", "no exponent"),
            (AMOUNT, "NaN", "plain decimal"),
            (AMOUNT, "", "plain decimal"),
            (AMOUNT, "-", "plain decimal"),
            (AMOUNT, "1.2.3", "plain decimal"),
            (AMOUNT, "0", "> 0"),
            (AMOUNT, "-5", "> 0"),
            (AMOUNT, "-0.0", "> 0"),
            (AMOUNT, "1000000000000000.01", "≤ 1000000000000000"),
            (AMOUNT, &"9".repeat(40), "at most 28 significant digits"),
            (AMOUNT, "0.00000000000000000000000000000001", "at most 28"),
            (AMOUNT_OR_ZERO, "-0.01", "≥ 0"),
            (PRICE, "0.0000000000009", "≥ 0.000000000001"),
            (PRICE, "0", "≥ 0.000000000001"),
            (QUANTITY, "0", "> 0"),
        ] {
            let e = range.parse("capital", raw).expect_err(raw);
            assert_eq!((e.field.as_str(), e.value.as_str()), ("capital", raw));
            assert!(e.allowed.contains(says), "{raw}: {}", e.allowed);
            assert!(e.allowed.contains(range.what), "{raw}: {}", e.allowed);
        }
    }

    #[test]
    fn typed_numbers_are_checked_against_the_same_bounds() {
        assert!(AMOUNT.check("amount", Decimal::ONE).is_ok());
        let e = AMOUNT.check("amount", Decimal::ZERO).unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("amount", "0"));
        assert!(AMOUNT.check_f64("capital", 1e15).is_ok());
        for x in [1e308, f64::INFINITY, f64::NAN, 0.0, -1.0, 1.000001e15] {
            assert!(AMOUNT.check_f64("capital", x).is_err(), "{x}");
        }
    }
}
