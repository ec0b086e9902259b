//! The long history the read benchmarks share (`benches/history.rs` here, the server's
//! `benches/reads.rs`): one bot, `long` (BTC 50 / ETH 30 / SOL 20, created, not deployed), on
//! a SQLite store holding a year of hourly value snapshots (8,760) and 1,000 rebalances, each
//! with an order and a fill; the paper exchange (100,000 USDT) and the clock at the year's end.

#![allow(dead_code)]

use rust_decimal::Decimal;
use smartfolio_bot::{BotConfig, ManualClock, Runtime};
use smartfolio_exchange::PriceTick;
use smartfolio_exchange::paper::{PaperConfig, PaperExchange};
use smartfolio_store::conformance::write_history;
use smartfolio_store::{Snapshot, SqliteStore, Store};
use std::sync::Arc;

pub const T0: i64 = 1_700_000_000_000;
pub const HOUR: i64 = 3_600_000;
pub const YEAR_HOURS: i64 = 365 * 24;
pub const REBALANCES: i64 = 1_000;

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub store: Arc<SqliteStore>,
    pub ex: Arc<PaperExchange>,
    pub clock: Arc<ManualClock>,
    pub rt: Runtime,
    pub id: i64,
}

pub fn prices(t: i64) -> PriceTick {
    PriceTick {
        time_ms: t,
        prices: [("BTC", 60_000), ("ETH", 3_000), ("SOL", 150)]
            .iter()
            .map(|(a, p)| (a.to_string(), Decimal::from(*p)))
            .collect(),
    }
}

pub async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let paper = PaperConfig::new("main", "USDT")
        .with_instrument("BTC", Default::default())
        .with_instrument("ETH", Default::default())
        .with_instrument("SOL", Default::default());
    let ex = Arc::new(PaperExchange::open(paper, store.clone()).await.unwrap());
    ex.deposit("USDT", Decimal::from(100_000)).await.unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let mut rt = Runtime::new(store.clone(), ex.clone(), clock.clone(), "main");
    rt.load().await.unwrap();
    let tick = prices(T0);
    ex.update_prices(&tick).await.unwrap();
    rt.observe_prices(&tick);
    let cfg = BotConfig::new(
        "long",
        "BTC=50,ETH=30,SOL=20",
        "threshold:5",
        Decimal::from(10_000),
    )
    .unwrap();
    let id = rt.create(cfg).await.unwrap();

    // A year: a snapshot every hour, a rebalance about every 8.76 hours.
    let snaps: Vec<Snapshot> = (0..YEAR_HOURS)
        .map(|h| Snapshot {
            bot_id: id,
            time_ms: T0 + h * HOUR,
            value: Decimal::from(10_000 + h % 500),
            net_invested: Decimal::from(10_000),
            hold_value: Decimal::from(9_900 + h % 300),
        })
        .collect();
    store.insert_snapshots(&snaps).await.unwrap();
    let times: Vec<i64> = (0..REBALANCES)
        .map(|k| T0 + k * YEAR_HOURS * HOUR / REBALANCES)
        .collect();
    write_history(&*store, id, "h", 1, &times).await;

    let end = T0 + YEAR_HOURS * HOUR;
    clock.set(end);
    let tick = prices(end);
    ex.update_prices(&tick).await.unwrap();
    rt.observe_prices(&tick);
    Setup {
        dir,
        store,
        ex,
        clock,
        rt,
        id,
    }
}
