//! Instrument rules of a venue (lot step, minimum size, minimum notional, tick size) and the
//! rounding they impose on a plan (SPEC §3): quantities down to the lot step, limit prices of
//! buys down and of sells up to the tick size, and legs under a minimum skipped with a reason.

use crate::error::ValidationError;
use crate::targets::normalize_symbol;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::fmt;

/// The rules of one instrument (an asset against the quote). A missing rule does not constrain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstrumentRules {
    /// Quantities are multiples of this step (> 0).
    pub lot_step: Option<Decimal>,
    /// Smallest quantity an order may have (≥ 0).
    pub min_size: Option<Decimal>,
    /// Smallest notional (quantity × price, in quote) an order may have (≥ 0).
    pub min_notional: Option<Decimal>,
    /// Limit prices are multiples of this tick (> 0).
    pub tick_size: Option<Decimal>,
}

/// Why a leg of the exact plan is not traded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The quantity rounds down to zero at the lot step.
    RoundsToZero { lot_step: Decimal },
    /// The (rounded) quantity is below the instrument's minimum size.
    BelowMinSize {
        quantity: Decimal,
        min_size: Decimal,
    },
    /// The (rounded) notional is below the instrument's minimum notional.
    BelowMinNotional {
        notional: Decimal,
        min_notional: Decimal,
    },
    /// The buy was scaled down for lack of cash, and what is left is below a minimum.
    ScaledBelowMinimum {
        scale: Decimal,
        detail: Box<SkipReason>,
    },
    /// The asset's initial buy waits until its price is at or below the entry price.
    AwaitingEntryPrice {
        price: Decimal,
        entry_price: Decimal,
    },
    /// Nothing is left to buy with once the sells and fees are accounted for.
    NoCash,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::RoundsToZero { lot_step } if lot_step.is_zero() => {
                write!(f, "quantity rounds to 0")
            }
            SkipReason::RoundsToZero { lot_step } => {
                write!(
                    f,
                    "quantity rounds down to 0 at lot step {}",
                    lot_step.normalize()
                )
            }
            SkipReason::BelowMinSize { quantity, min_size } => write!(
                f,
                "quantity {} is below the minimum size {}",
                quantity.normalize(),
                min_size.normalize()
            ),
            SkipReason::BelowMinNotional {
                notional,
                min_notional,
            } => write!(
                f,
                "notional {} is below the minimum notional {}",
                notional.round_dp(8).normalize(),
                min_notional.normalize()
            ),
            SkipReason::ScaledBelowMinimum { scale, detail } => write!(
                f,
                "buys scaled by {} for lack of cash, then {detail}",
                scale.round_dp(8).normalize()
            ),
            SkipReason::AwaitingEntryPrice { price, entry_price } => write!(
                f,
                "waiting for the entry price: price {} is above {}",
                price.normalize(),
                entry_price.normalize()
            ),
            SkipReason::NoCash => write!(f, "no cash left for this buy after sells and fees"),
        }
    }
}

/// Round `x ≥ 0` down to a multiple of `step > 0` (exactly: `x − (x mod step)`).
pub fn round_down_to_step(x: Decimal, step: Decimal) -> Decimal {
    if step <= Decimal::ZERO {
        return x;
    }
    match x.checked_rem(step) {
        Some(rem) => (x - rem).max(Decimal::ZERO),
        // Out of Decimal's range: a step this small against this quantity cannot matter.
        None => x,
    }
}

/// Round `x ≥ 0` up to a multiple of `step > 0`.
pub fn round_up_to_step(x: Decimal, step: Decimal) -> Decimal {
    if step <= Decimal::ZERO {
        return x;
    }
    match x.checked_rem(step) {
        Some(rem) if rem.is_zero() => x,
        Some(rem) => x - rem + step,
        None => x,
    }
}

impl InstrumentRules {
    /// The keys a rules table may contain, in the order they are documented.
    pub const KEYS: [&'static str; 4] = ["lot_step", "min_size", "min_notional", "tick_size"];

    /// Set one rule by its key; an unknown key is an error naming the key and the allowed keys.
    pub fn set(&mut self, asset: &str, key: &str, value: Decimal) -> Result<(), ValidationError> {
        let field = format!("rules.{asset}.{key}");
        let positive = |v: Decimal| -> Result<Decimal, ValidationError> {
            if v > Decimal::ZERO {
                Ok(v)
            } else {
                Err(ValidationError::new(&field, v.to_string(), "a number > 0"))
            }
        };
        let non_negative = |v: Decimal| -> Result<Decimal, ValidationError> {
            if v >= Decimal::ZERO {
                Ok(v)
            } else {
                Err(ValidationError::new(&field, v.to_string(), "a number ≥ 0"))
            }
        };
        match key {
            "lot_step" => self.lot_step = Some(positive(value)?),
            "min_size" => self.min_size = Some(non_negative(value)?),
            "min_notional" => self.min_notional = Some(non_negative(value)?),
            "tick_size" => self.tick_size = Some(positive(value)?),
            _ => {
                return Err(ValidationError::new(
                    format!("rules.{asset}"),
                    key,
                    format!("the keys {}", Self::KEYS.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// Whether no rule is set.
    pub fn is_unconstrained(&self) -> bool {
        self == &Self::default()
    }

    /// A quantity rounded down to the lot step (unchanged without one).
    pub fn round_quantity(&self, qty: Decimal) -> Decimal {
        match self.lot_step {
            Some(step) => round_down_to_step(qty, step),
            None => qty,
        }
    }

    /// A buy's limit price, rounded down to the tick size.
    pub fn buy_price(&self, price: Decimal) -> Decimal {
        match self.tick_size {
            Some(tick) => round_down_to_step(price, tick),
            None => price,
        }
    }

    /// A sell's limit price, rounded up to the tick size.
    pub fn sell_price(&self, price: Decimal) -> Decimal {
        match self.tick_size {
            Some(tick) => round_up_to_step(price, tick),
            None => price,
        }
    }

    /// Why an order of `quantity` at `price` may not be placed, if it may not.
    pub fn check(&self, quantity: Decimal, price: Decimal) -> Option<SkipReason> {
        if quantity <= Decimal::ZERO {
            return Some(SkipReason::RoundsToZero {
                lot_step: self.lot_step.unwrap_or(Decimal::ZERO),
            });
        }
        if let Some(min_size) = self.min_size
            && quantity < min_size
        {
            return Some(SkipReason::BelowMinSize { quantity, min_size });
        }
        if let Some(min_notional) = self.min_notional {
            let notional = quantity * price;
            if notional < min_notional {
                return Some(SkipReason::BelowMinNotional {
                    notional,
                    min_notional,
                });
            }
        }
        None
    }

    /// Whether a quantity is a whole number of lot steps (always true without a step).
    pub fn on_lot_step(&self, qty: Decimal) -> bool {
        match self.lot_step {
            Some(step) => (qty % step).is_zero(),
            None => true,
        }
    }
}

/// Instrument rules per asset (symbols upper-cased); assets without an entry are unconstrained.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleBook {
    rules: BTreeMap<String, InstrumentRules>,
}

static UNCONSTRAINED: InstrumentRules = InstrumentRules {
    lot_step: None,
    min_size: None,
    min_notional: None,
    tick_size: None,
};

impl RuleBook {
    pub const fn new() -> Self {
        Self {
            rules: BTreeMap::new(),
        }
    }

    /// Add (or replace) the rules of `asset`.
    pub fn insert(&mut self, asset: &str, rules: InstrumentRules) -> Result<(), ValidationError> {
        let sym = normalize_symbol("rules", asset)?;
        self.rules.insert(sym, rules);
        Ok(())
    }

    /// The rules of `asset` (any case); unconstrained when it has none.
    pub fn get(&self, asset: &str) -> &InstrumentRules {
        self.rules
            .get(&asset.trim().to_ascii_uppercase())
            .unwrap_or(&UNCONSTRAINED)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &InstrumentRules)> + '_ {
        self.rules.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn rounding_to_steps() {
        assert_eq!(round_down_to_step(dec!(0.123456), dec!(0.001)), dec!(0.123));
        assert_eq!(round_down_to_step(dec!(0.123), dec!(0.001)), dec!(0.123));
        assert_eq!(round_down_to_step(dec!(7), dec!(5)), dec!(5));
        assert_eq!(round_down_to_step(dec!(0.3), dec!(0.1)), dec!(0.3));
        assert_eq!(
            round_down_to_step(dec!(123456789012345.123456789), dec!(0.00000001)),
            dec!(123456789012345.12345678)
        );
        assert_eq!(round_up_to_step(dec!(0.3), dec!(0.1)), dec!(0.3));
        assert_eq!(round_up_to_step(dec!(100.001), dec!(0.01)), dec!(100.01));
        assert_eq!(round_up_to_step(dec!(100.00), dec!(0.01)), dec!(100));
        let r = InstrumentRules {
            tick_size: Some(dec!(0.5)),
            ..Default::default()
        };
        assert_eq!(r.buy_price(dec!(101.3)), dec!(101.0));
        assert_eq!(r.sell_price(dec!(101.3)), dec!(101.5));
        assert_eq!(r.sell_price(dec!(101.5)), dec!(101.5));
    }

    #[test]
    fn minimums() {
        let mut r = InstrumentRules::default();
        r.set("BTC", "lot_step", dec!(0.0001)).unwrap();
        r.set("BTC", "min_size", dec!(0.001)).unwrap();
        r.set("BTC", "min_notional", dec!(5)).unwrap();
        assert_eq!(r.check(dec!(0.01), dec!(1000)), None);
        assert!(matches!(
            r.check(dec!(0.0005), dec!(100000)),
            Some(SkipReason::BelowMinSize { .. })
        ));
        assert!(matches!(
            r.check(dec!(0.002), dec!(2000)),
            Some(SkipReason::BelowMinNotional { .. })
        ));
        assert!(matches!(
            r.check(Decimal::ZERO, dec!(2000)),
            Some(SkipReason::RoundsToZero { .. })
        ));
        // Exactly at the minimum is allowed.
        assert_eq!(r.check(dec!(0.0025), dec!(2000)), None);
    }

    #[test]
    fn unknown_and_bad_keys_are_named() {
        let mut r = InstrumentRules::default();
        let e = r.set("BTC", "lot_size", dec!(1)).unwrap_err();
        assert_eq!(e.field, "rules.BTC");
        assert_eq!(e.value, "lot_size");
        assert!(
            e.allowed
                .contains("lot_step, min_size, min_notional, tick_size")
        );
        let e = r.set("BTC", "lot_step", dec!(0)).unwrap_err();
        assert_eq!(e.field, "rules.BTC.lot_step");
        assert!(r.set("BTC", "min_notional", dec!(-1)).is_err());
        assert!(r.set("BTC", "min_notional", dec!(0)).is_ok());
    }

    #[test]
    fn rulebook_lookup_ignores_case() {
        let mut b = RuleBook::new();
        let r = InstrumentRules {
            lot_step: Some(dec!(0.1)),
            ..Default::default()
        };
        b.insert("eth", r.clone()).unwrap();
        assert_eq!(b.get("ETH"), &r);
        assert!(b.get("BTC").is_unconstrained());
    }
}
