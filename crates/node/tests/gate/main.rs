//! Bots on Gate end to end, against the simulator speaking Gate v4: the tests shared with
//! Binance and OKX (`tests/venues`: `lifecycle`, `faults`, the rig in `common`) on
//! `VENUE = Gate`, each fault in Gate's words (TOO_MANY_REQUESTS, SERVER_ERROR,
//! ORDER_NOT_FOUND, ORDER_BOOK_NOT_FOUND, REQUEST_EXPIRED, `untradable`).

#[path = "../venues/common.rs"]
mod common;
#[path = "../venues/faults.rs"]
mod faults;
#[path = "../venues/lifecycle.rs"]
mod lifecycle;

pub const VENUE: common::Venue = common::Venue::Gate;
