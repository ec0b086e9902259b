//! smartfolio-node: assembles and drives bots. Below the command line and the HTTP server,
//! above the runtime.
//!
//! - [`lease`]: one owner per data directory (`daemon.lock`, its `ready` marker).
//! - [`host`]: the owner ([`Host`]): store, paper exchange, clock, and the one runtime
//!   ([`Bots`]); opening, the shared startup and recovery ([`Host::start`]).
//! - [`market`]: the feed's settings and opening it positioned in market time (or live).
//! - [`venue`]: the venue's settings (kind, URL, keys), its connector, and `venue check`.
//! - [`command`]: the one command protocol, for the CLI and the HTTP API: a typed command
//!   ([`Request`], [`CreateSpec`]) validated once with the owner's [`Defaults`], and its typed
//!   reply ([`Reply`]; queued commands answer an [`Outcome`]); [`client`]
//!   submits a request (in-process without an owner, else queued for it).
//! - [`profile`]: a bot's settings as a TOML profile (export), and a new bot from one.
//! - [`template`]: a new bot's settings from a template (its weights today and recommended
//!   trigger), each one the command gives overriding the template's.
//! - [`record`]: what bots' ledgers add up to, read from the store: realized gains by lot
//!   method (`smartfolio gains`) and the exports (`smartfolio export`: generic, Koinly,
//!   CoinTracker).
//! - [`history`]: a bot's history by page (`bot history`): rebalances, orders or fills,
//!   newest first, from the store's paged queries.
//! - [`driver`]: the one loop, feed → pacing → tick → commands → housekeeping, for `run`,
//!   `run --http` and `demo`.

pub mod client;
pub mod command;
pub mod driver;
pub mod error;
pub mod history;
pub mod host;
pub mod lease;
pub mod market;
pub mod profile;
pub mod record;
pub mod template;
pub mod venue;

pub use client::{SubmitOptions, Submitted, submit};
pub use command::{CreateSpec, Defaults, Outcome, Reply, Request};
pub use driver::{DriveOptions, Driven, Gone, Handle, RunSummary, Station};
pub use error::{NodeError, NodeResult};
pub use host::{Bots, Host, NodeConfig, Started};
pub use lease::Lease;
pub use market::{Market, MarketConfig, MarketKind};
pub use venue::{ApiKeys, Timeouts, TradingMode, VenueConfig, VenueKind};
