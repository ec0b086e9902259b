//! smartfolio-core: the pure rebalancing domain.
//!
//! No IO, no async, no clock reads: every function here is a pure function of its arguments,
//! so the planner, the backtester and the live bot share one set of semantics (SPEC.md).

pub mod error;
pub mod fee;
pub mod num;
pub mod plan;
pub mod portfolio;
pub mod risk;
pub mod rules;
pub mod targets;
pub mod trigger;

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
