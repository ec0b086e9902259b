//! smartfolio-okx: the OKX v5 spot connector, in the shape of `smartfolio-binance`.
//!
//! - [`sign`]: signing as pure functions (base64 HMAC-SHA256 of timestamp + method + request
//!   path with its query + body), tested with golden vectors;
//! - [`model`]: OKX's payloads (serde) and the `{code,msg,data}` envelope; numbers come as
//!   strings (an empty string is "none") and are read as `Decimal` (the shared
//!   [`smartfolio_exchange::num`], re-exported as `num`);
//! - [`error`]: OKX's codes (the envelope's and each order's `sCode`) and HTTP statuses
//!   classified, and mapped onto [`smartfolio_exchange::ExchangeError`];
//! - [`client_id`]: `clOrdId`s (1 to 32 letters and digits), unique per account for ever;
//! - [`order`]: the body of a new order, checked before sending (`tdMode=cash`, `tgtCcy`
//!   always explicit on market orders);
//! - [`convert`]: OKX's payloads onto the exchange interface's types (pure);
//! - [`limits`]: OKX's per-endpoint request budgets (per 2 s, some per instrument);
//! - [`client`]: the HTTP client (reqwest + rustls), clock offset, one re-sign on `50102`,
//!   each endpoint paced within its budget;
//! - [`exchange`]: [`OkxExchange`], the exchange interface on OKX spot;
//! - payload fixtures under `tests/fixtures`.
//!
//! OKX's JSON never leaves this crate: the exchange interface speaks domain types only.

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

pub use smartfolio_exchange::num;

pub use client::{ClientConfig, Credentials, FillsQuery, OkxClient};
pub use client_id::ClientIdGenerator;
pub use error::{ErrorClass, OkxError};
pub use exchange::OkxExchange;
