//! The one numeric abstraction shared by the exact (Decimal) live path and the fast (f64)
//! backtest path. Algorithms that both paths run (the post-fee value solver, drift) are written
//! once, generic over [`Num`], so the backtester and the bot can never drift apart.

use rust_decimal::Decimal;
use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A number the planner can run on: `f64` in the backtest engine, `Decimal` everywhere money
/// touches a venue or the ledger.
pub trait Num:
    Copy
    + PartialOrd
    + Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    fn zero() -> Self;
    fn one() -> Self;
    fn abs(self) -> Self;
    /// Lossy conversion used only for reporting and for trigger comparisons.
    fn to_f64(self) -> f64;
}

impl Num for f64 {
    #[inline(always)]
    fn zero() -> Self {
        0.0
    }
    #[inline(always)]
    fn one() -> Self {
        1.0
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f64::abs(self)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

impl Num for Decimal {
    fn zero() -> Self {
        Decimal::ZERO
    }
    fn one() -> Self {
        Decimal::ONE
    }
    fn abs(self) -> Self {
        Decimal::abs(&self)
    }
    fn to_f64(self) -> f64 {
        use rust_decimal::prelude::ToPrimitive;
        ToPrimitive::to_f64(&self).unwrap_or(f64::NAN)
    }
}
