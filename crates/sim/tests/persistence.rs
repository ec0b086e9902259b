//! The simulator's account across a restart: with a store, a second simulator resumes the
//! balances, orders and fills as they were (the starting balances are not deposited again), and
//! order ids go on from where they were, starting at 1.

mod common;

use common::*;
use rust_decimal_macros::dec;
use smartfolio_exchange::paper::{PaperConfig, PaperPersistence};
use smartfolio_exchange::{Exchange, OrderRequest, OrderSize, OrderStatus, Side};
use smartfolio_sim::{RunningSim, SimConfig, Simulator};
use smartfolio_store::SqliteStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

async fn start(
    dir: &std::path::Path,
    clock: &Arc<AtomicI64>,
) -> (Simulator, RunningSim, SqliteStore) {
    let store = SqliteStore::open(dir).await.unwrap();
    let c = clock.clone();
    let sim = Simulator::with_clock(
        SimConfig {
            balances: vec![("USDT".into(), dec!(10000))],
            persistence: Some(Arc::new(store.clone()) as Arc<dyn PaperPersistence>),
            ..sim_config(PaperConfig::new("sim", "USDT").with_instrument("BTC", btc_rules()))
        },
        Arc::new(move || c.load(Ordering::SeqCst)),
    )
    .await
    .unwrap();
    sim.set_prices(&[("BTC", dec!(40000))]).await.unwrap();
    let server = sim.serve(([127, 0, 0, 1], 0).into()).await.unwrap();
    (sim, server, store)
}

#[tokio::test]
async fn a_restart_with_the_same_store_resumes_the_account_and_numbers_on() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(T0));
    let (sim, server, store) = start(dir.path(), &clock).await;
    assert!(!sim.resumed());
    let ex = smartfolio_binance::BinanceExchange::new(client(&server, &clock, KEY, SECRET, 0));
    let buy = OrderRequest::market(
        "p-1",
        "BTC",
        "USDT",
        Side::Buy,
        OrderSize::Quote(dec!(1000)),
    );
    let ack = ex.place_order(&buy).await.unwrap();
    // Binance's ids start at 1.
    assert_eq!(ack.venue_id, "1");
    let rest = OrderRequest::limit("p-2", "BTC", "USDT", Side::Buy, dec!(0.01), dec!(30000));
    ex.place_order(&rest).await.unwrap();
    let before = sim.paper().account().await;
    server.shutdown().await;
    drop(sim);
    store.close().await;

    let (sim, server, _store) = start(dir.path(), &clock).await;
    assert!(sim.resumed());
    let after = sim.paper().account().await;
    // The same balances (10000 USDT was not deposited again), orders and fills.
    assert_eq!(after, before);
    let ex = smartfolio_binance::BinanceExchange::new(client_with(
        &server,
        &clock,
        KEY,
        SECRET,
        0,
        Duration::from_secs(10),
    ));
    let open = ex.open_orders().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].client_id, "p-2");
    let ended = ex.cancel_order("BTC", "USDT", "p-2").await.unwrap();
    assert_eq!(ended.status, OrderStatus::Canceled);
    // A new order takes the next id, never one already given.
    let again = OrderRequest::market("p-3", "BTC", "USDT", Side::Buy, OrderSize::Quote(dec!(100)));
    let ack = ex.place_order(&again).await.unwrap();
    // The engine numbers orders and fills from one sequence.
    let seq = |id: &str| {
        id.trim_start_matches(char::is_alphabetic)
            .parse::<u64>()
            .unwrap()
    };
    let last = before
        .orders
        .iter()
        .map(|o| seq(&o.venue_id))
        .chain(before.fills.iter().map(|f| seq(&f.fill_id)))
        .max()
        .unwrap();
    assert!(seq(&ack.venue_id) > last, "{} after {last}", ack.venue_id);
    server.shutdown().await;
}
