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
//! - [`reader`]: `serve`'s view of the store: the bots as stored, valued at their latest
//!   snapshot, on a venue that refuses every call ([`reader::NoVenue`]); no lock, no lease.
//! - [`worker`]: `run` against PostgreSQL: a named worker that trades the bots of the venue
//!   account whose lease it holds, renewed by heartbeat, every write fenced by its epoch.
//! - [`accounts`]: several venue accounts in one daemon: a host per account, each driven by
//!   the driver's loop on its own task, the queued commands routed to each bot's account.
//! - [`driver`]: the one loop, feed → pacing → tick → commands → housekeeping, for `run`,
//!   `run --http` and `demo`.

pub mod accounts;
pub mod client;
pub mod command;
pub mod driver;
pub mod error;
pub mod history;
pub mod host;
pub mod lease;
pub mod market;
pub mod profile;
pub mod reader;
pub mod record;
pub mod template;
pub mod venue;
pub mod worker;

pub use client::{SubmitOptions, Submitted, submit};
pub use command::{CreateSpec, Defaults, Outcome, Reply, Request};
pub use driver::{DriveOptions, Driven, Gone, Handle, RunSummary, Station};
pub use error::{NodeError, NodeResult};
pub use host::{AccountConfig, Bots, Host, NodeConfig, Started};
pub use lease::Lease;
pub use market::{Market, MarketConfig, MarketKind, Pacing};
pub use venue::{ApiKeys, Timeouts, TradingMode, VenueConfig, VenueKind};
