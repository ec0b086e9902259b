//! smartfolio-backtest: the fast f64 rebalancing backtester (SPEC §4).
//!
//! - [`engine`]: one run of a trigger over a price matrix, with the exact, bt or vbt fee model,
//!   slippage and a minimum trade notional; the trigger decision is `smartfolio_core`'s
//!   [`Trigger::evaluate`](smartfolio_core::Trigger::evaluate), the code the live bot runs.
//! - [`metrics`]: CAGR, volatility, Sharpe, Sortino, drawdown with dates, Calmar, turnover,
//!   accumulated while the engine runs.
//! - [`sweep`]: many triggers over one shared matrix, in parallel, ranked.
//! - [`walkforward`]: targets recomputed from trailing history only (`smartfolio_alloc`) on a
//!   reallocation schedule, run through the engine's target-change hook.
//! - [`report`]: charts (SVG, PNG), an HTML page and CSV files for a run or a sweep.

pub mod engine;
pub mod metrics;
pub mod report;
pub mod sweep;
pub mod walkforward;

pub use engine::{
    Config, FeeModel, Outcome, Prices, Record, RuleChange, TargetChange, Trade, buy_and_hold, run,
    run_with_rules, run_with_targets,
};
pub use metrics::{EquityStats, Metrics, Summary};
pub use sweep::{SweepRow, expand_spec, rank, sweep};
pub use walkforward::{
    Lookback, Reallocation, WalkForward, WalkForwardError, WalkForwardPlan, WalkForwardRun,
    parse_reallocate,
};
