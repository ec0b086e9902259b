//! Bots on OKX end to end, against the simulator speaking OKX v5: the tests shared with
//! Binance (`tests/venues`: `lifecycle`, `faults`, the rig in `common`) on `VENUE = Okx`, each
//! fault in OKX's words (50011, 50001, 50004, 51603, 50102, `suspend`); and `limits`, OKX's own:
//! many bots on one account within its request limits, enforced by the simulator.

#[path = "../venues/common.rs"]
mod common;
#[path = "../venues/faults.rs"]
mod faults;
#[path = "../venues/lifecycle.rs"]
mod lifecycle;
mod limits;

pub const VENUE: common::Venue = common::Venue::Okx;
