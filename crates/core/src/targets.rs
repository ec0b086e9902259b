//! Target weights of a basket (SPEC §1): 2..=20 distinct assets, each weight ≥ 0, summing to 1.
//!
//! Targets are entered in percent on command lines (`BTC=50,ETH=30,SOL=20`, summing to 100 within
//! 1e-9) and as fractions in the JSON that `smartfolio allocate --json` prints
//! (`{"weights": {"BTC": "0.5", ...}}`, summing to 1 within 1e-9). Either way they are stored as
//! exact `Decimal` fractions in the order given. Symbols are upper-cased, and two symbols that
//! differ only in case are the same asset. The quote (or a stablecoin) may be one of the assets:
//! `USDT=20` means "hold 20% cash".
//!
//! Weights are kept exactly as entered: when they sum to 1 only within the tolerance, the tiny
//! remainder `1 − Σ t_i` is simply held as quote.

use crate::error::ValidationError;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::fmt;
use std::str::FromStr;

/// Fewest assets in a basket.
pub const MIN_ASSETS: usize = 2;
/// Most assets in a basket.
pub const MAX_ASSETS: usize = 20;
/// Longest asset symbol.
pub const MAX_SYMBOL_LEN: usize = 20;

/// Validated target weights: assets in the order given, with their fractions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    assets: Vec<String>,
    weights: Vec<Decimal>,
}

const PERCENT_FORM: &str = "comma-separated ASSET=PERCENT pairs such as BTC=50,ETH=30,SOL=20";

/// Tolerance on the sum of weights, as a fraction (SPEC §1: 1e-9).
fn fraction_tolerance() -> Decimal {
    Decimal::new(1, 9)
}

/// Tolerance on the sum of percents (the issue: "summing to 100 (±1e-9)").
fn percent_tolerance() -> Decimal {
    Decimal::new(1, 9)
}

/// Upper-case and check an asset symbol: 1..=20 ASCII letters, digits, `_` or `-`.
pub fn normalize_symbol(field: &str, raw: &str) -> Result<String, ValidationError> {
    let s = raw.trim();
    let ok = !s.is_empty()
        && s.len() <= MAX_SYMBOL_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return Err(ValidationError::new(
            field,
            raw,
            format!(
                "an asset symbol of 1..={MAX_SYMBOL_LEN} ASCII letters, digits, `_` or `-` (e.g. BTC)"
            ),
        ));
    }
    Ok(s.to_ascii_uppercase())
}

/// Parse a plain decimal number (no exponent, no NaN/inf); `what` is used in the error.
pub fn parse_decimal(field: &str, raw: &str, what: &str) -> Result<Decimal, ValidationError> {
    let s = raw.trim();
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+');
    match plain.then(|| Decimal::from_str(s)).and_then(Result::ok) {
        Some(d) => Ok(d),
        None => Err(ValidationError::new(
            field,
            raw,
            format!("{what} (a plain decimal number such as 12.5)"),
        )),
    }
}

/// Parse a decimal number that must be ≥ 0.
pub fn parse_non_negative(field: &str, raw: &str, what: &str) -> Result<Decimal, ValidationError> {
    let d = parse_decimal(field, raw, what)?;
    if d.is_sign_negative() && !d.is_zero() {
        return Err(ValidationError::new(field, raw, format!("{what} ≥ 0")));
    }
    Ok(d)
}

/// Split `A=1,B=2` into trimmed `(symbol, number)` text pairs; empty text is an error.
pub fn split_pairs<'a>(
    field: &str,
    text: &'a str,
    form: &str,
) -> Result<Vec<(&'a str, &'a str)>, ValidationError> {
    if text.trim().is_empty() {
        return Err(ValidationError::new(field, text, form));
    }
    text.split(',')
        .map(|item| {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| ValidationError::new(field, item, form))?;
            let (k, v) = (k.trim(), v.trim());
            if k.is_empty() || v.is_empty() {
                return Err(ValidationError::new(field, item, form));
            }
            Ok((k, v))
        })
        .collect()
}

impl Targets {
    /// Parse the percent form `BTC=50,ETH=30,SOL=20` (a trailing `%` on a number is allowed).
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let pairs = split_pairs("targets", text, PERCENT_FORM)?;
        let mut assets = Vec::with_capacity(pairs.len());
        let mut percents = Vec::with_capacity(pairs.len());
        for (sym, num) in pairs {
            let num = num.strip_suffix('%').unwrap_or(num);
            assets.push(sym.to_string());
            percents.push(parse_target_number("targets", sym, num, "a percent")?);
        }
        Self::from_pairs(&assets, &percents)
    }

    /// Build from assets and percents (summing to 100 within 1e-9).
    pub fn from_pairs<S: AsRef<str>>(
        assets: &[S],
        percents: &[Decimal],
    ) -> Result<Self, ValidationError> {
        let hundred = Decimal::ONE_HUNDRED;
        let fractions: Vec<Decimal> = percents.iter().map(|p| *p / hundred).collect();
        Self::build(assets, percents, fractions, Unit::Percent)
    }

    /// Build from assets and fractions (summing to 1 within 1e-9).
    pub fn from_fractions<S: AsRef<str>>(
        assets: &[S],
        fractions: &[Decimal],
    ) -> Result<Self, ValidationError> {
        Self::build(assets, fractions, fractions.to_vec(), Unit::Fraction)
    }

    /// Build from f64 fractions (an optimiser's output), summing to 1 within 1e-9. Each number
    /// is taken at its shortest round-trip decimal form (0.3 is 0.3, not 0.2999…).
    pub fn from_fractions_f64<S: AsRef<str>>(
        assets: &[S],
        fractions: &[f64],
    ) -> Result<Self, ValidationError> {
        let mut exact = Vec::with_capacity(fractions.len());
        for (i, &x) in fractions.iter().enumerate() {
            let name = assets.get(i).map(|a| a.as_ref()).unwrap_or("?");
            exact.push(decimal_from_f64(x).ok_or_else(|| {
                ValidationError::new(
                    format!("weight of {name}"),
                    x.to_string(),
                    "a finite number ≥ 0",
                )
            })?);
        }
        Self::from_fractions(assets, &exact)
    }

    /// Equal weights `1/n` for each asset. With `n` not dividing a power of ten exactly, the
    /// last asset takes the rounding remainder so that the weights sum to exactly 1.
    pub fn equal<S: AsRef<str>>(assets: &[S]) -> Result<Self, ValidationError> {
        let n = assets.len();
        check_count(assets.iter().map(|a| a.as_ref()), n)?;
        let each = Decimal::ONE / Decimal::from(n as u64);
        let mut fractions = vec![each; n];
        let rest = Decimal::ONE - each * Decimal::from((n - 1) as u64);
        fractions[n - 1] = rest;
        Self::from_fractions(assets, &fractions)
    }

    /// Read the `--json` output of `smartfolio allocate`: an object whose `weights` member maps
    /// each asset to its fraction, as a JSON number or a decimal string, in document order.
    /// Other members are ignored.
    pub fn from_allocation_json(text: &str) -> Result<Self, ValidationError> {
        let doc: AllocationDoc = serde_json::from_str(text).map_err(|e| {
            ValidationError::new(
                "allocation JSON",
                truncate(text, 80),
                format!(
                    "a JSON object with a \"weights\" object of ASSET: fraction, \
                     e.g. {{\"weights\": {{\"BTC\": \"0.5\", \"ETH\": \"0.5\"}}}} ({e})"
                ),
            )
        })?;
        let mut assets = Vec::with_capacity(doc.weights.0.len());
        let mut fractions = Vec::with_capacity(doc.weights.0.len());
        for (sym, raw) in doc.weights.0 {
            let value = match raw {
                JsonNumber::Text(s) => parse_target_number("weights", &sym, &s, "a fraction")?,
                JsonNumber::Float(x) => decimal_from_f64(x)
                    .filter(|d| !d.is_sign_negative() || d.is_zero())
                    .ok_or_else(|| {
                        ValidationError::new(
                            format!("weights.{sym}"),
                            x.to_string(),
                            "a fraction ≥ 0",
                        )
                    })?,
            };
            assets.push(sym);
            fractions.push(value);
        }
        Self::from_fractions(&assets, &fractions)
    }

    fn build<S: AsRef<str>>(
        assets: &[S],
        entered: &[Decimal],
        fractions: Vec<Decimal>,
        unit: Unit,
    ) -> Result<Self, ValidationError> {
        let field = unit.field();
        if assets.len() != entered.len() {
            return Err(ValidationError::new(
                field,
                format!("{} assets, {} weights", assets.len(), entered.len()),
                "one weight per asset",
            ));
        }
        check_count(assets.iter().map(|a| a.as_ref()), assets.len())?;
        let mut names: Vec<String> = Vec::with_capacity(assets.len());
        for (raw, &w) in assets.iter().zip(entered) {
            let sym = normalize_symbol(field, raw.as_ref())?;
            if names.contains(&sym) {
                return Err(ValidationError::new(
                    field,
                    raw.as_ref(),
                    format!("each asset once; {sym} appears more than once (symbols ignore case)"),
                ));
            }
            let whole = match unit {
                Unit::Percent => Decimal::ONE_HUNDRED,
                Unit::Fraction => Decimal::ONE,
            };
            if (w.is_sign_negative() && !w.is_zero()) || w > whole {
                return Err(ValidationError::new(
                    format!("{field}.{sym}"),
                    w.to_string(),
                    format!("a {} in [0, {whole}]", unit.noun()),
                ));
            }
            names.push(sym);
        }
        let sum: Decimal = entered.iter().sum();
        let (whole, tol) = match unit {
            Unit::Percent => (Decimal::ONE_HUNDRED, percent_tolerance()),
            Unit::Fraction => (Decimal::ONE, fraction_tolerance()),
        };
        if (sum - whole).abs() > tol {
            let shown = names
                .iter()
                .zip(entered)
                .map(|(a, w)| format!("{a}={}", w.normalize()))
                .collect::<Vec<_>>()
                .join(",");
            return Err(ValidationError::new(
                field,
                shown,
                format!(
                    "{}s summing to {whole} (±1e-9); these sum to {}",
                    unit.noun(),
                    sum.normalize()
                ),
            ));
        }
        Ok(Self {
            assets: names,
            weights: fractions,
        })
    }

    /// The assets, upper-cased, in the order given.
    pub fn assets(&self) -> &[String] {
        &self.assets
    }

    /// The target fractions, in asset order (summing to 1 within 1e-9).
    pub fn weights(&self) -> &[Decimal] {
        &self.weights
    }

    /// The target fractions as f64 (for the backtest engine and the trigger comparison).
    pub fn weights_f64(&self) -> Vec<f64> {
        self.weights
            .iter()
            .map(|w| w.to_f64().unwrap_or(f64::NAN))
            .collect()
    }

    /// The target of `asset` (any case), if it is in the basket.
    pub fn weight_of(&self, asset: &str) -> Option<Decimal> {
        self.index_of(asset).map(|i| self.weights[i])
    }

    /// Position of `asset` (any case) in the basket.
    pub fn index_of(&self, asset: &str) -> Option<usize> {
        self.assets
            .iter()
            .position(|a| a.eq_ignore_ascii_case(asset.trim()))
    }

    /// Number of assets.
    pub fn len(&self) -> usize {
        self.assets.len()
    }

    /// Always false: a basket has at least two assets.
    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// `(asset, fraction)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Decimal)> + '_ {
        self.assets
            .iter()
            .map(String::as_str)
            .zip(self.weights.iter().copied())
    }

    /// `1 − Σ t_i`: the part held in quote when the weights sum to 1 only within tolerance.
    pub fn remainder(&self) -> Decimal {
        Decimal::ONE - self.weights.iter().copied().sum::<Decimal>()
    }
}

/// The percent form, `BTC=50,ETH=30,SOL=20`, which [`Targets::parse`] reads back.
impl fmt::Display for Targets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (a, w)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{a}={}", (w * Decimal::ONE_HUNDRED).normalize())?;
        }
        Ok(())
    }
}

impl FromStr for Targets {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Targets::parse(s)
    }
}

#[derive(Clone, Copy)]
enum Unit {
    Percent,
    Fraction,
}

impl Unit {
    fn field(self) -> &'static str {
        match self {
            Unit::Percent => "targets",
            Unit::Fraction => "weights",
        }
    }
    fn noun(self) -> &'static str {
        match self {
            Unit::Percent => "percent",
            Unit::Fraction => "fraction",
        }
    }
}

fn check_count<'a>(
    mut assets: impl Iterator<Item = &'a str>,
    n: usize,
) -> Result<(), ValidationError> {
    if !(MIN_ASSETS..=MAX_ASSETS).contains(&n) {
        let mut shown = String::new();
        for (i, a) in assets.by_ref().enumerate() {
            if i > 0 {
                shown.push(',');
            }
            shown.push_str(a);
        }
        return Err(ValidationError::new(
            "targets",
            shown,
            format!("between {MIN_ASSETS} and {MAX_ASSETS} assets; got {n}"),
        ));
    }
    Ok(())
}

fn parse_target_number(
    field: &str,
    sym: &str,
    raw: &str,
    what: &str,
) -> Result<Decimal, ValidationError> {
    let sym_up = sym.trim().to_ascii_uppercase();
    parse_non_negative(&format!("{field}.{sym_up}"), raw, what)
}

/// Exact decimal of an f64 at its shortest round-trip form; None for NaN or ±inf.
pub fn decimal_from_f64(x: f64) -> Option<Decimal> {
    if !x.is_finite() {
        return None;
    }
    let text = format!("{x}");
    Decimal::from_str(&text)
        .ok()
        .or_else(|| Decimal::from_f64_retain(x))
}

fn truncate(text: &str, n: usize) -> String {
    let t = text.trim();
    match t.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

// ------------------------------------------------------------------------- allocation JSON

#[derive(serde::Deserialize)]
struct AllocationDoc {
    weights: OrderedWeights,
}

/// An object's members in document order (serde_json's map would sort them).
struct OrderedWeights(Vec<(String, JsonNumber)>);

enum JsonNumber {
    Text(String),
    Float(f64),
}

impl<'de> serde::Deserialize<'de> for OrderedWeights {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedWeights;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object mapping each asset to its weight")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, JsonNumber>()? {
                    out.push((k, v));
                }
                Ok(OrderedWeights(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> serde::Deserialize<'de> for JsonNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = JsonNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a decimal string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<JsonNumber, E> {
                Ok(JsonNumber::Text(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<JsonNumber, E> {
                Ok(JsonNumber::Float(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<JsonNumber, E> {
                Ok(JsonNumber::Text(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<JsonNumber, E> {
                Ok(JsonNumber::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_percents_into_exact_fractions() {
        let t = Targets::parse("btc=50, ETH=30,Sol=20").unwrap();
        assert_eq!(t.assets(), ["BTC", "ETH", "SOL"]);
        assert_eq!(t.weights(), [dec!(0.5), dec!(0.3), dec!(0.2)]);
        assert_eq!(t.weights_f64(), vec![0.5, 0.3, 0.2]);
        assert_eq!(t.weight_of("sol"), Some(dec!(0.2)));
        assert_eq!(t.to_string(), "BTC=50,ETH=30,SOL=20");
        assert_eq!(t.remainder(), Decimal::ZERO);
        let t = Targets::parse("BTC=40%,USDT=60%").unwrap();
        assert_eq!(t.weights(), [dec!(0.4), dec!(0.6)]);
    }

    #[test]
    fn sum_tolerance_is_1e9_percent() {
        assert!(Targets::parse("A=33.3333333333,B=33.3333333333,C=33.3333333334").is_ok());
        assert!(Targets::parse("A=50,B=49.9999999995").is_ok());
        let e = Targets::parse("A=50,B=49.99999999").unwrap_err();
        assert_eq!(e.field, "targets");
        assert!(e.allowed.contains("summing to 100"), "{e}");
        let e = Targets::parse("BTC=50,ETH=30").unwrap_err();
        assert_eq!(e.value, "BTC=50,ETH=30");
        assert!(e.allowed.contains("sum to 80"), "{e}");
        assert!(Targets::parse("BTC=60,ETH=50").is_err());
        let e = Targets::parse("BTC=150,ETH=0").unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("targets.BTC", "150"));
        assert!(e.allowed.contains("[0, 100]"), "{e}");
        // Numbers too large for a Decimal are unparseable, never a panic.
        let e = Targets::parse("BTC=99999999999999999999999999999999,ETH=0").unwrap_err();
        assert_eq!(e.field, "targets.BTC");
    }

    #[test]
    fn rejects_bad_numbers_duplicates_and_counts() {
        let e = Targets::parse("BTC=-10,ETH=110").unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("targets.BTC", "-10"));
        assert!(e.allowed.contains("≥ 0"));
        for bad in [
            "BTC=abc,ETH=50",
            "BTC=1e2,ETH=0",
            "BTC=NaN,ETH=50",
            "BTC=,ETH=100",
        ] {
            let e = Targets::parse(bad).unwrap_err();
            assert!(e.field.starts_with("targets"), "{bad}: {e}");
        }
        let e = Targets::parse("BTC=50,btc=50").unwrap_err();
        assert!(e.allowed.contains("BTC appears more than once"), "{e}");
        let e = Targets::parse("BTC=100").unwrap_err();
        assert!(e.allowed.contains("between 2 and 20"), "{e}");
        let many: Vec<String> = (0..21).map(|i| format!("A{i}=0")).collect();
        let mut text = many.join(",");
        text.push_str(",Z=100");
        let e = Targets::parse(&text).unwrap_err();
        assert!(e.allowed.contains("got 22"), "{e}");
        for bad in [
            "",
            "BTC",
            "BTC=50;ETH=50",
            "=50,ETH=50",
            "B TC=50,ETH=50",
            "BTC=50,,ETH=50",
        ] {
            let e = Targets::parse(bad).unwrap_err();
            assert!(e.field.starts_with("targets"), "{bad}: {e}");
            assert!(!e.allowed.is_empty());
        }
    }

    #[test]
    fn zero_targets_are_allowed() {
        let t = Targets::parse("BTC=100,DOGE=0").unwrap();
        assert_eq!(t.weights(), [Decimal::ONE, Decimal::ZERO]);
    }

    #[test]
    fn equal_weights_sum_to_exactly_one() {
        let t = Targets::equal(&["a", "b", "c"]).unwrap();
        assert_eq!(t.weights().iter().copied().sum::<Decimal>(), Decimal::ONE);
        assert_eq!(t.assets(), ["A", "B", "C"]);
        assert!(Targets::equal(&["a"]).is_err());
        assert!(Targets::equal(&["a", "A"]).is_err());
    }

    #[test]
    fn fractions_from_f64_use_the_short_form() {
        let t = Targets::from_fractions_f64(&["BTC", "ETH", "SOL"], &[0.5, 0.3, 0.2]).unwrap();
        assert_eq!(t.weights(), [dec!(0.5), dec!(0.3), dec!(0.2)]);
        assert!(Targets::from_fractions_f64(&["A", "B"], &[0.5, f64::NAN]).is_err());
        assert!(Targets::from_fractions_f64(&["A", "B"], &[0.5, 0.4]).is_err());
    }

    #[test]
    fn reads_allocation_json_in_document_order() {
        let t = Targets::from_allocation_json(
            r#"{"method":"hrp","weights":{"SOL":"0.2","btc":0.5,"ETH":0.3},"window":{}}"#,
        )
        .unwrap();
        assert_eq!(t.assets(), ["SOL", "BTC", "ETH"]);
        assert_eq!(t.weights(), [dec!(0.2), dec!(0.5), dec!(0.3)]);
        let t = Targets::from_allocation_json(r#"{"weights":{"A":1,"B":0}}"#).unwrap();
        assert_eq!(t.weights(), [Decimal::ONE, Decimal::ZERO]);
    }

    #[test]
    fn allocation_json_errors_name_the_problem() {
        let e = Targets::from_allocation_json(r#"{"weights":{"A":0.5,"B":0.4}}"#).unwrap_err();
        assert_eq!(e.field, "weights");
        assert!(e.allowed.contains("summing to 1"), "{e}");
        let e = Targets::from_allocation_json(r#"{"weights":{"A":-0.5,"B":1.5}}"#).unwrap_err();
        assert_eq!(e.field, "weights.A");
        let e = Targets::from_allocation_json(r#"{"weights":{"A":"x","B":"1"}}"#).unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("weights.A", "x"));
        let e = Targets::from_allocation_json(r#"{"w":{}}"#).unwrap_err();
        assert_eq!(e.field, "allocation JSON");
        assert!(e.allowed.contains("weights"), "{e}");
        assert!(Targets::from_allocation_json("not json").is_err());
        assert!(Targets::from_allocation_json(r#"{"weights":{"A":1,"a":0}}"#).is_err());
    }
}
