//! Walk-forward benchmarks: 5 assets × 1,461 daily bars (4 years), lookback 365 days,
//! reallocation every 90 days (12 reallocations after the first year), threshold 5 pp between
//! them, exact fees; and the engine's target-change hook alone.
//!
//! `cargo bench -p smartfolio-backtest --bench walkforward`
//!
//! Input: a deterministic in-Rust correlated random walk (no shared data needed).

use criterion::{Criterion, criterion_group, criterion_main};
use smartfolio_alloc::{Method, Options};
use smartfolio_backtest::engine::{self, Config, Prices, Record, TargetChange};
use smartfolio_backtest::walkforward::{Lookback, WalkForward, parse_reallocate};
use smartfolio_core::Trigger;
use std::hint::black_box;

const N: usize = 5;
const BARS: usize = 1_461;
const DAY_MS: i64 = 86_400_000;

fn data() -> (Vec<i64>, Vec<f64>) {
    let mut s: u64 = 7;
    let mut unif = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
    };
    let mut p: Vec<f64> = (0..N).map(|i| 10.0 + 10.0 * i as f64).collect();
    let mut out = Vec::with_capacity(N * BARS);
    for _ in 0..BARS {
        let common = unif();
        for (i, x) in p.iter_mut().enumerate() {
            *x *= 1.0 + 0.05 * common + 0.02 * (1 + i) as f64 * unif();
            out.push(*x);
        }
    }
    let t0 = 1_609_459_200_000; // 2021-01-01
    ((0..BARS as i64).map(|t| t0 + t * DAY_MS).collect(), out)
}

fn bench(c: &mut Criterion) {
    let (times, prices) = data();
    let px = Prices::new(&times, &prices, N).unwrap();
    let assets: Vec<String> = (0..N).map(|i| format!("A{i}")).collect();
    let trigger: Trigger = "threshold:5".parse().unwrap();
    let cfg = Config::new(vec![1.0 / N as f64; N]);
    let mut g = c.benchmark_group("walkforward");
    for method in [Method::Hrp, Method::MinVariance, Method::RiskParity] {
        let wf = WalkForward {
            method,
            options: Options::default(),
            reallocate: parse_reallocate("every:90d").unwrap(),
            lookback: Lookback::Millis(365 * DAY_MS),
        };
        g.bench_function(format!("{method}_5x1461_every90d_lookback365d"), |b| {
            b.iter(|| {
                wf.run(px, &assets, None, 0, &trigger, &cfg, Record::NONE)
                    .unwrap()
            })
        });
    }
    // The hook alone: 12 target changes vs the plain engine on the same bars.
    let changes: Vec<TargetChange> = (1..=12)
        .map(|k| TargetChange {
            bar: 90 * k,
            weights: (0..N).map(|i| (1 + (i + k) % N) as f64 / 15.0).collect(),
        })
        .collect();
    g.bench_function("engine_plain_5x1461", |b| {
        b.iter(|| engine::run_evaluate(px, &trigger, &cfg, Record::NONE).unwrap())
    });
    g.bench_function("engine_12_target_changes_5x1461", |b| {
        b.iter(|| {
            engine::run_with_targets(px, &trigger, &cfg, black_box(&changes), Record::NONE).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
