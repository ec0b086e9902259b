//! Bots on Binance end to end, against the simulator speaking Binance: the tests shared with
//! OKX (`tests/venues`: `lifecycle`, `faults`, the rig in `common`) on `VENUE = Binance`.

#[path = "../venues/common.rs"]
mod common;
#[path = "../venues/faults.rs"]
mod faults;
#[path = "../venues/lifecycle.rs"]
mod lifecycle;

pub const VENUE: common::Venue = common::Venue::Binance;

use common::*;

/// Binance's weights: a restart's reads of the venue (see `Host::check_venue`).
#[tokio::test]
async fn a_restart_with_nothing_in_flight_reads_the_venue_once_not_per_bot() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    for name in ["second", "third"] {
        n.run(Request::Create {
            spec: Box::new(CreateSpec {
                name: name.into(),
                ..spec()
            }),
        })
        .await;
    }
    assert_eq!(n.bots.rt.list().len(), 3);
    let dir = n.close();
    sim.take_calls();

    let (n, held) = open_node(&server, dir).await;
    assert!(held.is_empty(), "{held:?}");
    assert_eq!(n.bots.rt.list().len(), 3);
    // The rules and rate limits once, the account once (for every bot's ledger), the time and
    // the key's permissions; no lookup: nothing was in flight.
    let calls = sim.take_calls();
    let count = |endpoint: &str| calls.get(endpoint).map_or(0, |c| c.0);
    assert_eq!(count("GET /api/v3/exchangeInfo"), 1, "{calls:?}");
    assert_eq!(count("GET /api/v3/account"), 1, "{calls:?}");
    assert_eq!(count("GET /api/v3/order"), 0, "{calls:?}");
    let weight: u64 = calls.values().map(|c| c.1).sum();
    assert_eq!(weight, 41, "{calls:?}");
    server.shutdown().await;
}
