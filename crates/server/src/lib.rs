//! smartfolio-server: the HTTP API and the dashboard, served from the process that runs the bots.
//!
//! - [`actor`]: [`RuntimeHandle`], the single writer. One task owns the bot [`Runtime`]
//!   (and through it the paper exchange and the store) and, optionally, the market feed; HTTP
//!   handlers send it jobs over a channel and wait for the reply. Ticks and commands are thus
//!   serialized exactly as in the daemon.
//! - [`api`]: the axum [`router`]: JSON routes for every bot operation of the CLI, previews
//!   (plan of a control, allocation, backtest), `/api/openapi.json`, `/metrics`, server-sent
//!   events at `/api/events`, and the dashboard's embedded page and assets.
//! - [`auth`]: the bearer token of mutating routes (generated once, stored as its SHA-256).
//! - [`preview`]: what a control will do before it acts, allocation and backtest previews.
//! - [`metrics`]: Prometheus text exposition.
//! - [`openapi`]: the hand-written OpenAPI 3.1 document.
//!
//! [`Runtime`]: smartfolio_bot::Runtime

pub mod actor;
pub mod api;
pub mod auth;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod preview;

pub use actor::{Core, Event, MarketFeed, PriceHistory, RuntimeHandle, spawn};
pub use api::{AppState, BODY_LIMIT, router};
pub use auth::TokenCheck;
pub use error::ApiError;
