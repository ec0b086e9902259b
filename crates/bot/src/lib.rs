//! smartfolio-bot: the bot runtime (SPEC §6).
//!
//! - [`config`]: a bot's configuration ([`BotConfig`]) and persisted state ([`BotState`],
//!   [`BotStatus`]: created → deploying → running ⇄ paused; running → suspended → running;
//!   → stopping → stopped).
//! - [`engine`]: the decision path (pure, synchronous): prices in, per-bot decisions out.
//! - [`runtime`]: [`Runtime`] (alias [`BotService`]): the commands and their previews, the tick
//!   loop, execution with the crash-safety protocol, reconciliation on startup, P&L and the
//!   isolation check; one module per responsibility (`market`, `load`,
//!   `admit`, `lifecycle`, `legs`, `preview`, `pnl`, `tick`, `execute`, `place`, `work`).
//! - [`events`]: typed audit events ([`BotEvent`]) the runtime records where things happen, for
//!   its driver to take and hand on (live events, metrics).
//! - [`style`]: how a bot's orders are placed ([`ExecutionConfig`]: market, limit, maker).
//! - [`clock`]: [`Clock`], [`SystemClock`], [`ManualClock`].
//! - [`views`]: the serializable answers of the commands, and [`PlanPreview`]: what an action
//!   would do, computed by the runtime's `preview_*` methods with the functions that execute it.

pub mod clock;
pub mod config;
pub mod engine;
pub mod events;
pub mod runtime;
pub mod style;
pub mod views;

pub use clock::{Clock, ManualClock, SteppedClock, SystemClock};
pub use config::{
    BotConfig, BotState, BotStatus, CoinAmount, EntryPrice, Investment, MAX_COOLDOWN_MS, StopMode,
    StopReport,
};
pub use engine::{Decision, Engine, LiveBot, Market};
pub use events::{BotEvent, EventKind};
pub use runtime::{BotError, BotResult, BotService, Refusal, Runtime, Shortfall, resolve_key};
pub use style::{ExecStyle, ExecutionConfig, Fallback};
pub use views::*;
