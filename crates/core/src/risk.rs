//! Portfolio stop-loss and take-profit (SPEC §6), and the entry-price gate of an initial buy.
//!
//! Both limits compare the total value with the net invested (quote and coins brought in, at
//! their value when brought in, minus what was taken out): a stop-loss of 20 fires when the
//! value has fallen 20% or more below it, a take-profit of 50 when it is 50% or more above it.
//! Ties count as reached.

use crate::error::ValidationError;
use rust_decimal::Decimal;
use std::fmt;

/// Stop-loss and take-profit limits, in percent of the net invested.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RiskLimits {
    /// Fires when `value ≤ net_invested × (1 − pct/100)`; in (0, 100).
    pub stop_loss_pct: Option<Decimal>,
    /// Fires when `value ≥ net_invested × (1 + pct/100)`; > 0.
    pub take_profit_pct: Option<Decimal>,
}

/// The outcome of a risk check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskVerdict {
    /// Keep running.
    Hold,
    /// The value fell to or below the stop-loss level.
    StopLoss { pnl_pct: Decimal },
    /// The value rose to or above the take-profit level.
    TakeProfit { pnl_pct: Decimal },
}

impl fmt::Display for RiskVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RiskVerdict::Hold => f.write_str("hold"),
            RiskVerdict::StopLoss { pnl_pct } => {
                write!(f, "stop-loss: P&L {}%", pnl_pct.round_dp(4).normalize())
            }
            RiskVerdict::TakeProfit { pnl_pct } => {
                write!(f, "take-profit: P&L {}%", pnl_pct.round_dp(4).normalize())
            }
        }
    }
}

impl RiskLimits {
    /// Checked limits. `stop_loss_pct` is a positive percent below 100 (20 means −20%), and
    /// `take_profit_pct` a positive percent (50 means +50%).
    pub fn new(
        stop_loss_pct: Option<Decimal>,
        take_profit_pct: Option<Decimal>,
    ) -> Result<Self, ValidationError> {
        if let Some(sl) = stop_loss_pct
            && (sl <= Decimal::ZERO || sl >= Decimal::ONE_HUNDRED)
        {
            return Err(ValidationError::new(
                "stop-loss",
                sl.to_string(),
                "a percent loss in (0, 100), e.g. 20 for −20%",
            ));
        }
        if let Some(tp) = take_profit_pct
            && tp <= Decimal::ZERO
        {
            return Err(ValidationError::new(
                "take-profit",
                tp.to_string(),
                "a percent gain > 0, e.g. 50 for +50%",
            ));
        }
        Ok(Self {
            stop_loss_pct,
            take_profit_pct,
        })
    }

    /// Compare `value` with `net_invested`. With nothing (or less than nothing) invested the
    /// P&L percent is undefined and the verdict is `Hold`.
    pub fn check(&self, value: Decimal, net_invested: Decimal) -> RiskVerdict {
        let Some(pnl_pct) = pnl_pct(value, net_invested) else {
            return RiskVerdict::Hold;
        };
        if let Some(sl) = self.stop_loss_pct
            && pnl_pct <= -sl
        {
            return RiskVerdict::StopLoss { pnl_pct };
        }
        if let Some(tp) = self.take_profit_pct
            && pnl_pct >= tp
        {
            return RiskVerdict::TakeProfit { pnl_pct };
        }
        RiskVerdict::Hold
    }
}

/// `(value / net_invested − 1) × 100`, or None when `net_invested ≤ 0`.
pub fn pnl_pct(value: Decimal, net_invested: Decimal) -> Option<Decimal> {
    (net_invested > Decimal::ZERO)
        .then(|| (value / net_invested - Decimal::ONE) * Decimal::ONE_HUNDRED)
}

/// Whether an asset's initial buy may go ahead: always without an entry price, otherwise only
/// when the price is at or below it (SPEC §6).
pub fn entry_allowed(price: Decimal, entry_price: Option<Decimal>) -> bool {
    entry_price.is_none_or(|e| price <= e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn stop_loss_and_take_profit_at_their_edges() {
        let l = RiskLimits::new(Some(dec!(20)), Some(dec!(50))).unwrap();
        assert_eq!(l.check(dec!(1000), dec!(1000)), RiskVerdict::Hold);
        assert_eq!(l.check(dec!(800.01), dec!(1000)), RiskVerdict::Hold);
        assert_eq!(
            l.check(dec!(800), dec!(1000)),
            RiskVerdict::StopLoss { pnl_pct: dec!(-20) }
        );
        assert!(matches!(
            l.check(dec!(10), dec!(1000)),
            RiskVerdict::StopLoss { .. }
        ));
        assert_eq!(l.check(dec!(1499.99), dec!(1000)), RiskVerdict::Hold);
        assert_eq!(
            l.check(dec!(1500), dec!(1000)),
            RiskVerdict::TakeProfit { pnl_pct: dec!(50) }
        );
        assert_eq!(l.check(dec!(1500), Decimal::ZERO), RiskVerdict::Hold);
        assert_eq!(
            RiskLimits::default().check(dec!(1), dec!(1000)),
            RiskVerdict::Hold
        );
    }

    #[test]
    fn limits_are_validated() {
        assert_eq!(
            RiskLimits::new(Some(dec!(0)), None).unwrap_err().field,
            "stop-loss"
        );
        assert!(RiskLimits::new(Some(dec!(100)), None).is_err());
        assert!(RiskLimits::new(Some(dec!(-20)), None).is_err());
        assert_eq!(
            RiskLimits::new(None, Some(dec!(-5))).unwrap_err().field,
            "take-profit"
        );
    }

    #[test]
    fn entry_gate() {
        assert!(entry_allowed(dec!(100), None));
        assert!(entry_allowed(dec!(100), Some(dec!(100))));
        assert!(entry_allowed(dec!(99), Some(dec!(100))));
        assert!(!entry_allowed(dec!(100.01), Some(dec!(100))));
    }
}
