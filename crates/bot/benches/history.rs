//! Reads of a long history (issue 15: reads cost what they show, not the whole history).
//!
//! One bot on a SQLite store holding a year of hourly value snapshots (8,760) and 1,000
//! rebalances, each with an order and a fill:
//!
//! - `summary`: `Runtime::show`, what `GET /api/bots/{bot}` answers (holdings, P&L and today's
//!   P&L, the rebalance count). Goal: ≤ 5 ms.
//! - `page/*`: a page of 50 rebalances, orders or fills, the newest and one 500 items back
//!   (by its cursor), with the total; `series_400`: the value history thinned to 400 points in
//!   the query (one index seek per point). Goal: ≤ 10 ms each.
//! - `whole/*`: for comparison, what reading the whole lists costs (what the summary and
//!   `/history` did before).

use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;
use smartfolio_bot::{BotConfig, ManualClock, Runtime};
use smartfolio_exchange::PriceTick;
use smartfolio_exchange::paper::{PaperConfig, PaperExchange};
use smartfolio_store::conformance::write_history;
use smartfolio_store::{PageQuery, SeriesQuery, Snapshot, SqliteStore, Store};
use std::hint::black_box;
use std::sync::Arc;

const T0: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;
const YEAR_HOURS: i64 = 365 * 24;
const REBALANCES: i64 = 1_000;

struct Setup {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    rt: Runtime,
    id: i64,
}

fn prices(t: i64) -> PriceTick {
    PriceTick {
        time_ms: t,
        prices: [("BTC", 60_000), ("ETH", 3_000), ("SOL", 150)]
            .iter()
            .map(|(a, p)| (a.to_string(), Decimal::from(*p)))
            .collect(),
    }
}

async fn setup() -> Setup {
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
        _dir: dir,
        store,
        rt,
        id,
    }
}

fn history(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = tokio.block_on(setup());
    let (store, id) = (&s.store, s.id);
    let first = PageQuery {
        limit: 50,
        ..PageQuery::default()
    };
    // The cursor 500 items back, as a reader paging down gets it.
    let deep = |p: &PageQuery, cursor| PageQuery {
        before: Some(cursor),
        ..p.clone()
    };
    let back = tokio.block_on(async {
        let p = PageQuery {
            limit: 500,
            ..PageQuery::default()
        };
        (
            store.rebalance_page(id, &p).await.unwrap().next.unwrap(),
            store.order_page(id, &p).await.unwrap().next.unwrap(),
            store.fill_page(id, &p).await.unwrap().next.unwrap(),
        )
    });
    let view = tokio.block_on(s.rt.show(id)).unwrap();
    assert_eq!(view.rebalances, REBALANCES as usize);
    assert!(view.pnl.is_some_and(|p| p.today.is_some()));

    let mut g = c.benchmark_group("history");
    g.bench_function("summary", |b| {
        b.iter(|| tokio.block_on(async { black_box(s.rt.show(id).await.unwrap()) }))
    });
    g.bench_function("page/rebalances_newest_50", |b| {
        b.iter(|| tokio.block_on(async { black_box(store.rebalance_page(id, &first).await) }))
    });
    let q = deep(&first, back.0.clone());
    g.bench_function("page/rebalances_50_after_500", |b| {
        b.iter(|| tokio.block_on(async { black_box(store.rebalance_page(id, &q).await) }))
    });
    g.bench_function("page/orders_newest_50", |b| {
        b.iter(|| tokio.block_on(async { black_box(store.order_page(id, &first).await) }))
    });
    let q = deep(&first, back.1.clone());
    g.bench_function("page/orders_50_after_500", |b| {
        b.iter(|| tokio.block_on(async { black_box(store.order_page(id, &q).await) }))
    });
    g.bench_function("page/fills_newest_50", |b| {
        b.iter(|| tokio.block_on(async { black_box(store.fill_page(id, &first).await) }))
    });
    let q = deep(&first, back.2.clone());
    g.bench_function("page/fills_50_after_500", |b| {
        b.iter(|| tokio.block_on(async { black_box(store.fill_page(id, &q).await) }))
    });
    let series = SeriesQuery {
        from_ms: None,
        to_ms: None,
        points: 400,
    };
    g.bench_function("page/series_400", |b| {
        b.iter(|| tokio.block_on(async { black_box(store.snapshot_series(id, &series).await) }))
    });
    g.bench_function("whole/rebalances", |b| {
        b.iter(|| tokio.block_on(async { black_box(store.rebalances(id).await) }))
    });
    g.bench_function("whole/snapshots", |b| {
        b.iter(|| tokio.block_on(async { black_box(store.snapshots(id).await) }))
    });
    g.finish();
}

criterion_group!(benches, history);
criterion_main!(benches);
