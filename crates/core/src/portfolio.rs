//! A bot's portfolio valued at marks (SPEC §1): holdings in units, cash in quote, prices in quote;
//! value, weights and deviations in exact `Decimal`, and the drift the triggers compare.
//!
//! The quote (USDT unless configured) may be a basket asset ("hold 20% cash", `USDT=20`): its
//! holding is the cash and its price is 1. A held asset that has no target is part of the
//! portfolio with target 0 (the next plan sells it). Deviations of the basket assets are checked;
//! the cash weight only when the quote has an explicit target (SPEC §2).

use crate::error::ValidationError;
use crate::limits;
use crate::targets::{Targets, normalize_symbol};
use crate::trigger::Drift;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// The default quote currency.
pub const DEFAULT_QUOTE: &str = "USDT";

/// A valued portfolio, aligned asset by asset with its targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Portfolio {
    quote: String,
    /// Target assets in the order given, then held assets without a target.
    assets: Vec<String>,
    targets: Vec<Decimal>,
    /// Units held; the quote's entry (if any) equals `cash`.
    quantities: Vec<Decimal>,
    /// Marks in quote; the quote's entry is 1.
    prices: Vec<Decimal>,
    cash: Decimal,
    quote_index: Option<usize>,
    /// Number of assets that came from the targets (the rest are held without a target).
    n_targeted: usize,
}

fn find(pairs: &[(String, Decimal)], sym: &str) -> Option<Decimal> {
    pairs
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(sym))
        .map(|(_, v)| *v)
}

fn normalize_pairs(
    field: &str,
    pairs: &[(String, Decimal)],
) -> Result<Vec<(String, Decimal)>, ValidationError> {
    let mut out: Vec<(String, Decimal)> = Vec::with_capacity(pairs.len());
    for (raw, v) in pairs {
        let sym = normalize_symbol(field, raw)?;
        if out.iter().any(|(a, _)| *a == sym) {
            return Err(ValidationError::new(
                field,
                raw,
                format!("each asset once; {sym} appears more than once (symbols ignore case)"),
            ));
        }
        out.push((sym, *v));
    }
    Ok(out)
}

impl Portfolio {
    /// Value `holdings` (units) and `cash` (quote units) at `prices` (quote per unit) against
    /// `targets`.
    ///
    /// Errors name the field and value: a negative holding or cash, a zero or negative price, a
    /// target or holding with no price, the quote listed among the holdings (its units are the
    /// cash), a quote price other than 1, duplicate symbols, or a portfolio worth nothing.
    pub fn new(
        targets: &Targets,
        quote: &str,
        cash: Decimal,
        holdings: &[(String, Decimal)],
        prices: &[(String, Decimal)],
    ) -> Result<Self, ValidationError> {
        let quote = normalize_symbol("quote", quote)?;
        limits::AMOUNT_OR_ZERO.check("cash", cash)?;
        let holdings = normalize_pairs("holdings", holdings)?;
        let prices = normalize_pairs("prices", prices)?;
        for (sym, q) in &holdings {
            limits::QUANTITY_OR_ZERO.check(&format!("holdings.{sym}"), *q)?;
            if *sym == quote {
                return Err(ValidationError::new(
                    format!("holdings.{sym}"),
                    q.to_string(),
                    format!(
                        "holdings of assets other than the quote {quote}; quote units are the cash"
                    ),
                ));
            }
        }
        for (sym, p) in &prices {
            limits::PRICE.check(&format!("prices.{sym}"), *p)?;
            if *sym == quote && *p != Decimal::ONE {
                return Err(ValidationError::new(
                    format!("prices.{sym}"),
                    p.to_string(),
                    format!("1 (the quote {quote} is the unit of account), or no price"),
                ));
            }
        }

        let mut assets: Vec<String> = targets.assets().to_vec();
        let mut weights: Vec<Decimal> = targets.weights().to_vec();
        let n_targeted = assets.len();
        for (sym, _) in &holdings {
            if !assets.contains(sym) {
                assets.push(sym.clone());
                weights.push(Decimal::ZERO);
            }
        }
        let quote_index = assets.iter().position(|a| *a == quote);
        let mut quantities = Vec::with_capacity(assets.len());
        let mut marks = Vec::with_capacity(assets.len());
        for (i, sym) in assets.iter().enumerate() {
            if Some(i) == quote_index {
                quantities.push(cash);
                marks.push(Decimal::ONE);
                continue;
            }
            let q = find(&holdings, sym).unwrap_or(Decimal::ZERO);
            let kind = if i < n_targeted { "target" } else { "holding" };
            let p = find(&prices, sym).ok_or_else(|| {
                ValidationError::new(
                    "prices",
                    sym,
                    format!("a price > 0 for every target and holding; {kind} {sym} has none"),
                )
            })?;
            quantities.push(q);
            marks.push(p);
        }
        Self::from_parts(quote, assets, weights, quantities, marks, cash, n_targeted)
    }

    /// Build from aligned vectors (the live bot's ledger form). `quantities[i]` of the quote (if
    /// it is among `assets`) is ignored and set to `cash`.
    pub fn from_parts(
        quote: String,
        assets: Vec<String>,
        targets: Vec<Decimal>,
        mut quantities: Vec<Decimal>,
        mut prices: Vec<Decimal>,
        cash: Decimal,
        n_targeted: usize,
    ) -> Result<Self, ValidationError> {
        let n = assets.len();
        if targets.len() != n || quantities.len() != n || prices.len() != n || n_targeted > n {
            return Err(ValidationError::new(
                "portfolio",
                format!(
                    "{n} assets, {} targets, {} quantities, {} prices",
                    targets.len(),
                    quantities.len(),
                    prices.len()
                ),
                "one target, quantity and price per asset",
            ));
        }
        let quote_index = assets.iter().position(|a| a.eq_ignore_ascii_case(&quote));
        if let Some(q) = quote_index {
            quantities[q] = cash;
            prices[q] = Decimal::ONE;
        }
        limits::AMOUNT_OR_ZERO.check("cash", cash)?;
        for (i, a) in assets.iter().enumerate() {
            limits::PRICE.check(&format!("prices.{a}"), prices[i])?;
            limits::QUANTITY_OR_ZERO.check(&format!("holdings.{a}"), quantities[i])?;
            let worth = quantities[i].checked_mul(prices[i]);
            if worth.is_none_or(|w| w > limits::MAX_AMOUNT) {
                return Err(ValidationError::new(
                    format!("holdings.{a}"),
                    quantities[i].to_string(),
                    format!(
                        "a holding worth at most {} quote",
                        limits::AMOUNT.allowed_max()
                    ),
                ));
            }
        }
        let total = (0..n)
            .filter(|&i| Some(i) != quote_index)
            .map(|i| quantities[i] * prices[i])
            .fold(cash, |a, b| a + b);
        if total > limits::MAX_AMOUNT {
            return Err(ValidationError::new(
                "holdings",
                total.to_string(),
                format!(
                    "a portfolio worth at most {} quote",
                    limits::AMOUNT.allowed_max()
                ),
            ));
        }
        let p = Self {
            quote,
            assets,
            targets,
            quantities,
            prices,
            cash,
            quote_index,
            n_targeted,
        };
        if p.value() <= Decimal::ZERO {
            return Err(ValidationError::new(
                "holdings",
                "a portfolio worth 0",
                "holdings or cash worth more than 0 at the given prices",
            ));
        }
        Ok(p)
    }

    pub fn quote(&self) -> &str {
        &self.quote
    }
    /// All assets: the targets in order, then holdings without a target.
    pub fn assets(&self) -> &[String] {
        &self.assets
    }
    /// Target fractions per asset (0 for holdings without a target).
    pub fn targets(&self) -> &[Decimal] {
        &self.targets
    }
    /// Units held per asset (the quote's entry is the cash).
    pub fn quantities(&self) -> &[Decimal] {
        &self.quantities
    }
    /// Marks per asset (the quote's is 1).
    pub fn prices(&self) -> &[Decimal] {
        &self.prices
    }
    pub fn cash(&self) -> Decimal {
        self.cash
    }
    /// Position of the quote among the assets, when it has a target.
    pub fn quote_index(&self) -> Option<usize> {
        self.quote_index
    }
    /// Whether asset `i` came from the targets (false for a holding without a target).
    pub fn is_targeted(&self, i: usize) -> bool {
        i < self.n_targeted
    }
    pub fn n_targeted(&self) -> usize {
        self.n_targeted
    }

    /// `q_i p_i` (the cash for the quote).
    pub fn holding_value(&self, i: usize) -> Decimal {
        if Some(i) == self.quote_index {
            self.cash
        } else {
            self.quantities[i] * self.prices[i]
        }
    }

    /// `V = c + Σ q_i p_i` over non-quote assets.
    pub fn value(&self) -> Decimal {
        let assets: Decimal = (0..self.assets.len())
            .filter(|&i| Some(i) != self.quote_index)
            .map(|i| self.quantities[i] * self.prices[i])
            .sum();
        self.cash + assets
    }

    /// `w_i = q_i p_i / V` per asset.
    pub fn weights(&self) -> Vec<Decimal> {
        let v = self.value();
        (0..self.assets.len())
            .map(|i| self.holding_value(i) / v)
            .collect()
    }

    /// The cash weight `c / V` when the quote is not a basket asset (it is then held with the
    /// implicit target `1 − Σ t_i`), else None (the quote's weight is among [`Self::weights`]).
    pub fn loose_cash_weight(&self) -> Option<Decimal> {
        match self.quote_index {
            Some(_) => None,
            None => Some(self.cash / self.value()),
        }
    }

    /// Deviations `w_i − t_i` in percentage points, per asset.
    pub fn deviations_pp(&self) -> Vec<Decimal> {
        self.weights()
            .iter()
            .zip(&self.targets)
            .map(|(w, t)| (*w - *t) * Decimal::ONE_HUNDRED)
            .collect()
    }

    /// `max_i |w_i − t_i|` in pp over the checked assets.
    pub fn max_deviation_pp(&self) -> Decimal {
        max_abs_deviation(&self.weights(), &self.targets) * Decimal::ONE_HUNDRED
    }

    /// The drift the triggers compare (SPEC §2): basket assets (including the quote when it
    /// has a target, and held assets without one, whose target is 0); computed exactly and
    /// converted to f64 only at the end, so 53% against 50% is exactly 0.03.
    pub fn drift(&self) -> Drift {
        drift_of(&self.weights(), &self.targets)
    }
}

/// `max_i |w_i − t_i|` as a fraction.
pub fn max_abs_deviation(weights: &[Decimal], targets: &[Decimal]) -> Decimal {
    weights
        .iter()
        .zip(targets)
        .map(|(w, t)| (*w - *t).abs())
        .max()
        .unwrap_or(Decimal::ZERO)
}

/// The exact drift of `weights` against `targets`, for the triggers.
pub fn drift_of(weights: &[Decimal], targets: &[Decimal]) -> Drift {
    let max_abs = max_abs_deviation(weights, targets);
    let mut max_rel = 0.0_f64;
    for (w, t) in weights.iter().zip(targets) {
        let rel = if t.is_zero() {
            if *w > Decimal::ZERO {
                f64::INFINITY
            } else {
                0.0
            }
        } else {
            ((*w / *t) - Decimal::ONE)
                .abs()
                .to_f64()
                .unwrap_or(f64::INFINITY)
        };
        max_rel = max_rel.max(rel);
    }
    Drift {
        max_abs: max_abs.to_f64().unwrap_or(f64::INFINITY),
        max_rel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trigger::{Tick, Trigger, TriggerState};
    use rust_decimal_macros::dec;

    fn pairs(items: &[(&str, Decimal)]) -> Vec<(String, Decimal)> {
        items.iter().map(|(a, v)| (a.to_string(), *v)).collect()
    }

    fn example1() -> Portfolio {
        let t = Targets::parse("BTC=50,ETH=30,SOL=20").unwrap();
        Portfolio::new(
            &t,
            "USDT",
            Decimal::ZERO,
            &pairs(&[("BTC", dec!(0.11)), ("ETH", dec!(1.14)), ("SOL", dec!(14))]),
            &pairs(&[
                ("BTC", dec!(50000)),
                ("ETH", dec!(2500)),
                ("SOL", dec!(150)),
            ]),
        )
        .unwrap()
    }

    #[test]
    fn values_weights_and_deviations() {
        let p = example1();
        assert_eq!(p.value(), dec!(10450));
        let w = p.weights();
        assert_eq!(w[0], dec!(5500) / dec!(10450));
        assert_eq!(
            w.iter().copied().sum::<Decimal>().round_dp(20),
            Decimal::ONE
        );
        let d = p.deviations_pp();
        assert_eq!(d[0], (dec!(5500) / dec!(10450) - dec!(0.5)) * dec!(100));
        // ETH is furthest off: 2850/10450 = 27.27% against 30%.
        assert_eq!(p.max_deviation_pp(), d[1].abs());
        assert!(d[1] < Decimal::ZERO);
    }

    #[test]
    fn quote_as_a_basket_asset_is_the_cash() {
        let t = Targets::parse("BTC=80,usdt=20").unwrap();
        let p = Portfolio::new(
            &t,
            "usdt",
            dec!(300),
            &pairs(&[("btc", dec!(0.014))]),
            &pairs(&[("BTC", dec!(50000))]),
        )
        .unwrap();
        assert_eq!(p.value(), dec!(1000));
        assert_eq!(p.weights(), vec![dec!(0.7), dec!(0.3)]);
        assert_eq!(p.quote_index(), Some(1));
        assert_eq!(p.max_deviation_pp(), dec!(10));
        assert_eq!(p.loose_cash_weight(), None);
    }

    #[test]
    fn held_assets_without_target_get_target_zero() {
        let t = Targets::parse("BTC=50,ETH=50").unwrap();
        let p = Portfolio::new(
            &t,
            "USDT",
            Decimal::ZERO,
            &pairs(&[("BTC", dec!(1)), ("ETH", dec!(1)), ("DOGE", dec!(100))]),
            &pairs(&[("BTC", dec!(50)), ("ETH", dec!(40)), ("DOGE", dec!(0.1))]),
        )
        .unwrap();
        assert_eq!(p.assets(), ["BTC", "ETH", "DOGE"]);
        assert_eq!(p.targets()[2], Decimal::ZERO);
        assert!(!p.is_targeted(2));
        assert!(p.drift().max_rel.is_infinite());
    }

    #[test]
    fn validation_errors_name_field_and_value() {
        let t = Targets::parse("BTC=50,ETH=50").unwrap();
        let h = pairs(&[("BTC", dec!(1))]);
        let e = Portfolio::new(&t, "USDT", dec!(0), &h, &pairs(&[("BTC", dec!(1))])).unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("prices", "ETH"));
        assert!(e.allowed.contains("target ETH has none"), "{e}");
        let e = Portfolio::new(
            &t,
            "USDT",
            dec!(0),
            &h,
            &pairs(&[("BTC", dec!(0)), ("ETH", dec!(1))]),
        )
        .unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("prices.BTC", "0"));
        let e = Portfolio::new(
            &t,
            "USDT",
            dec!(0),
            &pairs(&[("XRP", dec!(1))]),
            &pairs(&[("BTC", dec!(1)), ("ETH", dec!(1))]),
        )
        .unwrap_err();
        assert!(e.allowed.contains("holding XRP has none"), "{e}");
        let prices = pairs(&[("BTC", dec!(1)), ("ETH", dec!(1))]);
        let e = Portfolio::new(&t, "USDT", dec!(-1), &h, &prices).unwrap_err();
        assert_eq!(e.field, "cash");
        let e =
            Portfolio::new(&t, "USDT", dec!(0), &pairs(&[("BTC", dec!(-1))]), &prices).unwrap_err();
        assert_eq!(e.field, "holdings.BTC");
        let e =
            Portfolio::new(&t, "USDT", dec!(0), &pairs(&[("USDT", dec!(5))]), &prices).unwrap_err();
        assert!(e.allowed.contains("quote units are the cash"), "{e}");
        let e = Portfolio::new(&t, "USDT", dec!(0), &[], &prices).unwrap_err();
        assert!(e.allowed.contains("worth more than 0"), "{e}");
        let e = Portfolio::new(
            &t,
            "USDT",
            dec!(0),
            &pairs(&[("BTC", dec!(1)), ("btc", dec!(2))]),
            &prices,
        )
        .unwrap_err();
        assert!(e.allowed.contains("more than once"), "{e}");
    }

    #[test]
    fn out_of_range_numbers_are_errors_not_panics() {
        let t = Targets::parse("BTC=50,ETH=50").unwrap();
        let prices = pairs(&[("BTC", dec!(1)), ("ETH", dec!(1))]);
        let huge = Decimal::MAX;
        let e = Portfolio::new(&t, "USDT", dec!(0), &pairs(&[("BTC", huge)]), &prices).unwrap_err();
        assert_eq!(e.field, "holdings.BTC");
        assert!(
            e.allowed.contains("≤ 1000000000000000000000000000 (1e27)"),
            "{e}"
        );
        let e = Portfolio::new(
            &t,
            "USDT",
            dec!(0),
            &pairs(&[("BTC", dec!(1e14))]),
            &pairs(&[("BTC", huge), ("ETH", dec!(1))]),
        )
        .unwrap_err();
        // A price beyond the documented range is the price's fault.
        assert_eq!(e.field, "prices.BTC");
        let e = Portfolio::new(&t, "USDT", huge, &[], &prices).unwrap_err();
        assert_eq!(e.field, "cash");
        let e = Portfolio::new(
            &t,
            "USDT",
            dec!(1),
            &[],
            &pairs(&[("BTC", dec!(1e-13)), ("ETH", dec!(1))]),
        )
        .unwrap_err();
        assert_eq!(e.field, "prices.BTC");
        let e = Portfolio::new(
            &t,
            "USDT",
            dec!(9e14),
            &pairs(&[("BTC", dec!(2e14))]),
            &prices,
        )
        .unwrap_err();
        assert!(e.allowed.contains("portfolio worth at most"), "{e}");
    }

    #[test]
    fn threshold_fires_exactly_at_53_percent_with_decimal_weights() {
        // SPEC §7 example 3: 52% does not fire a 3 pp threshold, 53% does.
        let t = Targets::parse("BTC=50,ETH=50").unwrap();
        let prices = pairs(&[("BTC", dec!(1)), ("ETH", dec!(1))]);
        let trig: Trigger = "threshold:3".parse().unwrap();
        let st = TriggerState::new(0, 0);
        for (btc, eth, fires) in [
            (dec!(520), dec!(480), false),
            (dec!(530), dec!(470), true),
            (dec!(470), dec!(530), true),
            (dec!(529.99), dec!(470.01), false),
        ] {
            let p = Portfolio::new(
                &t,
                "USDT",
                Decimal::ZERO,
                &pairs(&[("BTC", btc), ("ETH", eth)]),
                &prices,
            )
            .unwrap();
            let fired = trig.evaluate(&st, Tick { now_ms: 0, bar: 1 }, || p.drift());
            assert_eq!(fired.is_some(), fires, "BTC {btc} ETH {eth}");
        }
        // Relative threshold: 60% against a 50% target is exactly 20%.
        let rel: Trigger = "rel-threshold:20".parse().unwrap();
        let p = Portfolio::new(
            &t,
            "USDT",
            Decimal::ZERO,
            &pairs(&[("BTC", dec!(600)), ("ETH", dec!(400))]),
            &prices,
        )
        .unwrap();
        assert_eq!(p.drift().max_rel, 0.2);
        assert!(
            rel.evaluate(&st, Tick { now_ms: 0, bar: 1 }, || p.drift())
                .is_some()
        );
    }
}
