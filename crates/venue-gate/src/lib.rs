//! smartfolio-gate: the Gate v4 spot connector, in the shape of `smartfolio-okx`.
//!
//! - [`sign`]: signing as pure functions (hex HMAC-SHA512 over method, `/api/v4` path, query,
//!   hex SHA-512 of the body and the timestamp in seconds, one per line), tested with golden
//!   vectors;
//! - [`model`]: Gate's payloads (serde) and its `{label,message}` error body; numbers come as
//!   strings or JSON numbers and are read as `Decimal` ([`smartfolio_exchange::num`]);
//! - [`error`]: Gate's labels and HTTP statuses classified, and mapped onto
//!   [`smartfolio_exchange::ExchangeError`];
//! - [`client_id`]: our client id as the order's `text` (`t-…`, at most 28 characters), unique
//!   for ever since Gate lets a duplicate override;
//! - [`order`]: the body of a new order, checked before sending (a market buy spends quote, a
//!   market sell sells base; post-only is `poc`);
//! - [`convert`]: Gate's payloads onto the exchange interface's types (pure);
//! - [`client`]: the HTTP client (reqwest + rustls), clock offset, one re-sign on
//!   `REQUEST_EXPIRED`, each endpoint paced within Gate's documented limits ([`limits`]);
//! - [`exchange`]: [`GateExchange`], the exchange interface on Gate spot, with the lookup by
//!   `text` falling back to the fills;
//! - [`history`]: public candlesticks as a candle source for `data download --venue gate`;
//! - payload fixtures under `tests/fixtures`.
//!
//! Gate's JSON never leaves this crate: the exchange interface speaks domain types only.

pub mod client;
pub mod client_id;
pub mod convert;
pub mod error;
pub mod exchange;
pub mod history;
pub mod limits;
pub mod model;
pub mod order;
pub mod sign;

pub use client::{ClientConfig, Credentials, GateClient, TradesQuery};
pub use client_id::ClientIdGenerator;
pub use error::{ErrorClass, GateError};
pub use exchange::GateExchange;
