//! The decision path of the runtime (no store, no venue): tick → drift + trigger per bot.
//!
//! - `tick_to_decision/20_assets`: one price tick of 20 assets into the market, then the
//!   decision of one 20-asset threshold bot (on target, so no action).
//! - `sweep/10k_bots`: one tick of a 50-asset universe, then the decisions of 10,000 bots of
//!   3..=10 assets each (none acts). With one tick per second carrying every asset's price,
//!   this is the per-second work of a 10,000-bot process.

use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;
use smartfolio_bot::{BotConfig, BotState, BotStatus, Engine, LiveBot};
use smartfolio_core::Targets;
use smartfolio_exchange::PriceTick;
use std::collections::BTreeMap;
use std::hint::black_box;

const T0: i64 = 1_700_000_000_000;

fn universe(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("A{i}")).collect()
}

fn price(i: usize, step: u64) -> Decimal {
    // Prices that wiggle by a few basis points from tick to tick.
    Decimal::new(10_000 + (i as i64) * 137 + (step % 7) as i64, 2)
}

fn tick(assets: &[String], step: u64) -> PriceTick {
    PriceTick {
        time_ms: T0 + step as i64 * 1000,
        prices: assets
            .iter()
            .enumerate()
            .map(|(i, a)| (a.clone(), price(i, step)))
            .collect(),
    }
}

fn add_bot(engine: &mut Engine, id: i64, assets: &[String], idx: &[usize]) {
    let names: Vec<&str> = idx.iter().map(|&i| assets[i].as_str()).collect();
    let targets = Targets::equal(&names).unwrap();
    let mut cfg = BotConfig::new(
        &format!("b{id}"),
        &targets.to_string(),
        "threshold:5",
        Decimal::new(1000, 0),
    )
    .unwrap();
    cfg.max_tick_age_ms = i64::MAX / 4;
    let mut state = BotState::new(T0);
    state.status = BotStatus::Running;
    let value = Decimal::new(1000, 0);
    let mut holdings = BTreeMap::new();
    for (k, &i) in idx.iter().enumerate() {
        holdings.insert(
            assets[i].clone(),
            targets.weights()[k] * value / price(i, 0),
        );
    }
    let bot = LiveBot::new(id, cfg, targets, state, holdings, value, &mut engine.market);
    engine.add(bot);
}

fn bench(c: &mut Criterion) {
    // One 20-asset bot.
    let assets = universe(20);
    let mut engine = Engine::new();
    add_bot(&mut engine, 1, &assets, &(0..20).collect::<Vec<_>>());
    let ticks: Vec<PriceTick> = (0..64).map(|s| tick(&assets, s)).collect();
    engine.market.update(&ticks[0]);
    let mut step = 0usize;
    c.bench_function("tick_to_decision/20_assets", |b| {
        b.iter(|| {
            step += 1;
            let t = &ticks[step % ticks.len()];
            engine.market.update(black_box(t));
            let mut acted = 0;
            engine.decide_each(T0 + step as i64 * 1000, |_, _| acted += 1);
            black_box(acted)
        })
    });

    // 10,000 bots of 3..=10 assets over a 50-asset universe.
    let assets = universe(50);
    let mut engine = Engine::new();
    let mut seed: u64 = 42;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    for id in 0..10_000 {
        let n = 3 + next() % 8;
        let mut idx: Vec<usize> = Vec::with_capacity(n);
        while idx.len() < n {
            let i = next() % assets.len();
            if !idx.contains(&i) {
                idx.push(i);
            }
        }
        add_bot(&mut engine, id, &assets, &idx);
    }
    let ticks: Vec<PriceTick> = (0..64).map(|s| tick(&assets, s)).collect();
    engine.market.update(&ticks[0]);
    let mut step = 0usize;
    let mut group = c.benchmark_group("sweep");
    group.sample_size(30);
    group.bench_function("10k_bots", |b| {
        b.iter(|| {
            step += 1;
            let t = &ticks[step % ticks.len()];
            engine.market.update(black_box(t));
            let mut acted = 0;
            engine.decide_each(T0 + step as i64 * 1000, |_, _| acted += 1);
            assert_eq!(
                acted, 0,
                "the sweep measures decisions only, no bot may act"
            );
            black_box(acted)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
