//! smartfolio-server: the HTTP API and the dashboard, served from the process that runs the bots.
//!
//! - [`actor`]: [`Core`], the server's state as the node's driver drives it (the bot
//!   [`Runtime`] plus price history, metrics and events), and [`RuntimeHandle`], the driver's
//!   handle: HTTP handlers send it jobs and wait for the reply, in order with the ticks and the
//!   queued commands (the same single writer and the same loop as `smartfolio run`).
//! - [`serve`]: `run --http` and `demo`: the node's startup, the API token and the listener.
//! - [`api`]: the axum [`router`]: JSON routes for every bot operation of the CLI, previews
//!   (plan of a control, allocation, backtest), `/api/openapi.json`, `/metrics`, server-sent
//!   events at `/api/events`, and the dashboard's embedded page and assets.
//! - [`pages`]: a bot's rebalances, orders and fills by page (`/api/bots/{bot}/rebalances` ...),
//!   newest first with their total, read from the store outside the actor.
//! - [`export`]: a bot's ledger as a CSV download (`/api/bots/{bot}/export?format=generic|koinly|cointracker`),
//!   the files `smartfolio export` writes.
//! - [`download`]: the same lists as CSV for a time range (`/api/bots/{bot}/rebalances.csv`
//!   ...), streamed a page at a time from the store's read handle.
//! - [`reads`]: what readers get without a job on the loop: bots' summaries and the bots'
//!   names as the loop last published them, and the store's read handle (SQLite: read-only
//!   connections beside the writer).
//! - [`reader`]: `smartfolio serve`: the same API over the store without a market, a venue or
//!   a lease; commands queued for the process that trades the account.
//! - [`auth`]: the bearer token of mutating routes (generated once, stored as its SHA-256).
//! - [`gallery`]: the template gallery's cards (`GET /api/templates`), cached, computed off the
//!   driver loop.
//! - [`preview`]: what a control will do before it acts, allocation and backtest previews.
//! - [`profile`]: bot profiles (the TOML of `bot export`): a bot's exported, an upload checked,
//!   a create filled from one.
//! - [`metrics`]: Prometheus metrics (`prometheus-client`), text exposition 0.0.4.
//! - [`openapi`]: the OpenAPI 3.1 document, derived from the handlers and their types (utoipa).
//!
//! [`Runtime`]: smartfolio_bot::Runtime

pub mod actor;
pub mod api;
pub mod auth;
pub mod download;
pub mod error;
pub mod export;
pub mod gallery;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod preview;
pub mod profile;
pub mod reader;
pub mod reads;
pub mod serve;

pub use actor::{Core, Event, MarketFeed, PriceHistory, RuntimeHandle, spawn};
pub use api::{AppState, BODY_LIMIT, NodeInfo, router};
pub use auth::TokenCheck;
pub use error::ApiError;
pub use reader::ReaderOptions;
pub use serve::{DemoSetup, ServeError, ServeOptions, Server, Stopped};
