//! How long the live path takes to value a portfolio and plan a rebalance on `Decimal`:
//! `cargo bench -p smartfolio-core --bench plan`.

use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;
use smartfolio_core::{InstrumentRules, PlanOptions, Portfolio, RuleBook, Targets, plan};
use std::hint::black_box;

type Pairs = Vec<(String, Decimal)>;

fn basket(n: usize) -> (Targets, Pairs, Pairs, RuleBook) {
    let assets: Vec<String> = (0..n).map(|i| format!("A{i}")).collect();
    let targets = Targets::equal(&assets).unwrap();
    let mut book = RuleBook::new();
    let mut holdings = Vec::new();
    let mut prices = Vec::new();
    for (i, a) in assets.iter().enumerate() {
        // Prices from 0.5 to ~50,000 and holdings worth 400..=1,350 quote: every leg trades.
        let price = Decimal::new(50 + 7_919 * (i as i64 + 1).pow(3) % 5_000_000, 2);
        let worth = Decimal::from(400 + 50 * i as i64);
        holdings.push((a.clone(), (worth / price).round_dp(8)));
        prices.push((a.clone(), price));
        book.insert(
            a,
            InstrumentRules {
                lot_step: Some(Decimal::new(1, 6)),
                min_size: None,
                min_notional: Some(Decimal::from(5)),
                tick_size: Some(Decimal::new(1, 2)),
            },
        )
        .unwrap();
    }
    (targets, holdings, prices, book)
}

fn bench(c: &mut Criterion) {
    for n in [3, 20] {
        let (targets, holdings, prices, book) = basket(n);
        let p = Portfolio::new(&targets, "USDT", Decimal::from(100), &holdings, &prices).unwrap();
        let opts = PlanOptions {
            fee_rate: Decimal::new(1, 3),
            rules: &book,
            ..Default::default()
        };
        assert!(!plan(&p, &opts).unwrap().trades.is_empty());
        c.bench_function(&format!("plan {n} assets, fee 0.1%, lot-step rules"), |b| {
            b.iter(|| plan(black_box(&p), black_box(&opts)).unwrap())
        });
        c.bench_function(&format!("value + drift {n} assets"), |b| {
            b.iter(|| black_box(&p).drift())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
