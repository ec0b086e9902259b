//! smartfolio-core: the pure rebalancing domain.
//!
//! No IO, no async, no clock reads: every function here is a pure function of its arguments,
//! so the planner, the backtester and the live bot share one set of semantics (SPEC.md).
//!
//! | module | what it owns |
//! |---|---|
//! | [`limits`] | the documented ranges of capital, amounts, quantities and prices; the number grammar |
//! | [`targets`] | target weights: parsing (`BTC=50,ETH=30`), fractions, allocation JSON, validation |
//! | [`rules`] | instrument rules (lot step, minimum size and notional, tick size) and rounding |
//! | [`portfolio`] | holdings, cash and marks; value, weights, deviations, exact drift |
//! | [`fee`] | the exact post-fee value `V'` of SPEC §3, generic over `f64` and `Decimal` |
//! | [`gains`] | realized gains by lot method (SPEC §10): disposals, lots consumed, yearly totals |
//! | [`plan`](mod@plan) | the plan of SPEC §3: exact legs, rounding, skips, pro-rata buys, report |
//! | [`trigger`] | thresholds, schedules, gates, any-of, cooldown, as pure functions of time |
//! | [`risk`] | portfolio stop-loss and take-profit, the entry-price gate |
//! | [`withdraw`] | the sells of a withdrawal: pro rata or from the overweights first |
//! | [`num`] | the numeric trait shared by the `f64` backtest path and the `Decimal` live path |
//! | [`error`] | `ValidationError`: field, value, what is allowed |

pub mod error;
pub mod fee;
pub mod gains;
pub mod limits;
pub mod num;
pub mod plan;
pub mod portfolio;
pub mod risk;
pub mod rules;
pub mod targets;
pub mod trigger;
pub mod withdraw;

pub use error::ValidationError;
pub use num::Num;
pub use plan::{Leg, Plan, PlanOptions, Side, SkippedLeg, plan};
pub use portfolio::Portfolio;
pub use risk::{RiskLimits, RiskVerdict};
pub use rules::{InstrumentRules, RuleBook, SkipReason};
pub use targets::Targets;
pub use trigger::{
    DeviationCheck, Drift, FireReason, Interval, Schedule, Tick, Trigger, TriggerState,
};
