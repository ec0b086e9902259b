//! smartfolio-binance: the Binance spot connector.
//!
//! Every venue connector has this shape:
//! - [`sign`]: signing as pure functions (percent-encoded payload, HMAC-SHA256 hex), tested
//!   with golden vectors;
//! - [`model`]: Binance's payloads (serde), numbers accepted as JSON numbers or strings
//!   ([`num`]), money as `Decimal`;
//! - [`error`]: Binance's error codes and HTTP statuses classified, and mapped onto
//!   [`smartfolio_exchange::ExchangeError`];
//! - [`limits`]: rate budgets from `exchangeInfo.rateLimits`, the used-weight headers and
//!   `Retry-After`;
//! - [`client_id`]: `newClientOrderId`s within Binance's pattern, unique per account for ever;
//! - [`order`]: the parameters of a new order, checked before sending;
//! - [`client`]: the HTTP client (reqwest + rustls), clock offset, budgets, retry of `-1021`;
//! - [`convert`]: Binance's payloads onto the exchange interface's types (pure);
//! - [`exchange`]: [`BinanceExchange`], the exchange interface on Binance spot;
//! - [`history`]: candle history from the public klines, as a `smartfolio_data` candle source;
//! - payload fixtures under `tests/fixtures`.
//!
//! Binance's JSON never leaves this crate's callers' connector code: the exchange interface
//! speaks domain types only.

pub mod client;
pub mod client_id;
pub mod convert;
pub mod error;
pub mod exchange;
pub mod history;
pub mod limits;
pub mod model;
pub mod num;
pub mod order;
pub mod sign;

pub use client::{BinanceClient, ClientConfig, Credentials, TradesQuery};
pub use client_id::ClientIdGenerator;
pub use error::{BinanceError, ErrorClass};
pub use exchange::BinanceExchange;
pub use limits::{Cost, RateLimiter};
