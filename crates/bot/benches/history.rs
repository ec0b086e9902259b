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

mod common;

use common::{REBALANCES, setup};
use criterion::{Criterion, criterion_group, criterion_main};
use smartfolio_store::{PageQuery, SeriesQuery, Store};
use std::hint::black_box;

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
