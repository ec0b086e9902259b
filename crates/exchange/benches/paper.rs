//! Paper exchange and synthetic market costs (in-memory persistence).
//!
//! `cargo bench -p smartfolio-exchange --bench paper`

use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;
use smartfolio_exchange::feed::{SyntheticConfig, SyntheticMarket};
use smartfolio_exchange::paper::{MemoryPaperPersistence, PaperConfig, PaperExchange};
use smartfolio_exchange::{
    Exchange, InstrumentRules, OrderKind, OrderRequest, OrderSize, PriceTick, Side,
};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn rules() -> InstrumentRules {
    InstrumentRules {
        lot_step: Some(Decimal::new(1, 4)),
        min_size: Some(Decimal::new(1, 3)),
        min_notional: Some(Decimal::from(5)),
        tick_size: Some(Decimal::new(1, 2)),
    }
}

const ASSETS: [&str; 10] = [
    "BTC", "ETH", "SOL", "BNB", "XRP", "ADA", "DOGE", "AVAX", "LINK", "DOT",
];

async fn exchange() -> PaperExchange {
    let mut cfg = PaperConfig::new("bench", "USDT");
    for a in ASSETS {
        cfg = cfg.with_instrument(a, rules());
    }
    let ex = PaperExchange::open(cfg, Arc::new(MemoryPaperPersistence::new()))
        .await
        .unwrap();
    ex.deposit("USDT", Decimal::from(1_000_000_000))
        .await
        .unwrap();
    ex.deposit("BTC", Decimal::from(100_000)).await.unwrap();
    let mut market = SyntheticMarket::new(SyntheticConfig::new(&ASSETS, 1)).unwrap();
    ex.update_prices(&market.step()).await.unwrap();
    ex
}

fn order(cid: String, side: Side, kind: OrderKind) -> OrderRequest {
    OrderRequest {
        kind,
        ..OrderRequest::market(
            cid,
            "BTC",
            "USDT",
            side,
            OrderSize::Base(Decimal::new(1, 2)),
        )
    }
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    // One market buy then one market sell of 0.01 BTC (validation, fill, fee, persist).
    c.bench_function("paper_market_buy_sell_round_trip", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let ex = exchange().await;
                let start = Instant::now();
                for i in 0..iters {
                    let buy = order(format!("b{i}"), Side::Buy, OrderKind::Market);
                    black_box(ex.place_order(&buy).await.unwrap());
                    let sell = order(format!("s{i}"), Side::Sell, OrderKind::Market);
                    black_box(ex.place_order(&sell).await.unwrap());
                }
                start.elapsed()
            })
        })
    });

    // A 10-asset tick against 100 resting limit orders that it does not cross.
    c.bench_function("paper_tick_10_assets_100_resting", |b| {
        let ex = rt.block_on(async {
            let ex = exchange().await;
            for i in 0..100 {
                let req = order(
                    format!("r{i}"),
                    Side::Buy,
                    OrderKind::Limit {
                        price: Decimal::from(1000 + i),
                    },
                );
                ex.place_order(&req).await.unwrap();
            }
            ex
        });
        let tick = PriceTick {
            time_ms: 1,
            prices: ASSETS
                .iter()
                .map(|a| (a.to_string(), SyntheticConfig::default_start_price(a)))
                .collect(),
        };
        b.iter(|| rt.block_on(async { black_box(ex.update_prices(&tick).await.unwrap()) }))
    });

    c.bench_function("synthetic_step_10_assets", |b| {
        let mut m = SyntheticMarket::new(SyntheticConfig::new(&ASSETS, 7)).unwrap();
        b.iter(|| black_box(m.step()))
    });
}

criterion_group! {
    name = group;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(group);
