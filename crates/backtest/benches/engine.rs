//! Engine and sweep benchmarks on the issue-3 workload: 10 assets × 43,800 hourly bars
//! (`gbm_10x43800_1h_s42.csv` from the peers' generator), threshold 5 pp, exact fees.
//!
//! `cargo bench -p smartfolio-backtest --bench engine`
//!
//! Input: `$PEERS_HOME/data/gbm_10x43800_1h_s42.csv` (default `~/.cache/smartfolio-peers`). When
//! the file is absent, a deterministic in-Rust correlated GBM of the same shape is used instead
//! (printed on stderr), so the bench always runs.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use smartfolio_backtest::engine::{self, Config, Prices, Record};
use smartfolio_backtest::sweep::{expand_spec, sweep};
use smartfolio_core::Trigger;
use std::hint::black_box;
use std::path::PathBuf;

const N_ASSETS: usize = 10;
const N_BARS: usize = 43_800;
const HOUR_MS: i64 = 3_600_000;

struct Data {
    times: Vec<i64>,
    prices: Vec<f64>,
    n: usize,
}

fn peers_file() -> PathBuf {
    std::env::var_os("PEERS_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/smartfolio-peers")
        })
        .join("data/gbm_10x43800_1h_s42.csv")
}

/// SplitMix64 → uniform → Box–Muller normals; equicorrelated (ρ = 0.5) GBM.
fn synthetic() -> Data {
    let mut s: u64 = 42;
    let mut uniform = move || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut normal = move || {
        let (u1, u2) = (uniform().max(1e-300), uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let dt = 1.0 / 8760.0;
    let rho: f64 = 0.5;
    let params: Vec<(f64, f64, f64)> = (0..N_ASSETS)
        .map(|i| {
            (
                0.1 + 0.05 * i as f64,
                0.5 + 0.07 * i as f64,
                10f64.powf(i as f64 * 0.4 - 1.0),
            )
        })
        .collect();
    let mut last: Vec<f64> = params.iter().map(|p| p.2).collect();
    let mut prices = Vec::with_capacity(N_ASSETS * N_BARS);
    for t in 0..N_BARS {
        let common = normal();
        for (i, &(mu, sigma, _)) in params.iter().enumerate() {
            if t > 0 {
                let z = rho.sqrt() * common + (1.0 - rho).sqrt() * normal();
                last[i] *= ((mu - 0.5 * sigma * sigma) * dt + sigma * dt.sqrt() * z).exp();
            }
            prices.push(last[i]);
        }
    }
    Data {
        times: (0..N_BARS as i64)
            .map(|t| 1_577_836_800_000 + t * HOUR_MS)
            .collect(),
        prices,
        n: N_ASSETS,
    }
}

fn data() -> Data {
    let path = peers_file();
    match smartfolio_data::load(&path, &smartfolio_data::LoadOptions::default()) {
        Ok(t) => {
            eprintln!(
                "bench data: {} ({} bars x {} assets)",
                path.display(),
                t.n_bars(),
                t.n_assets()
            );
            let n = t.n_assets();
            Data {
                times: t.times_ms,
                prices: t.prices,
                n,
            }
        }
        Err(e) => {
            eprintln!(
                "bench data: {e}; using a synthetic GBM of {N_BARS} bars x {N_ASSETS} assets"
            );
            synthetic()
        }
    }
}

/// The first `bars` rows and `assets` columns, as a new contiguous matrix.
fn sub(d: &Data, bars: usize, assets: usize) -> (Vec<i64>, Vec<f64>) {
    let mut p = Vec::with_capacity(bars * assets);
    for t in 0..bars {
        p.extend_from_slice(&d.prices[t * d.n..t * d.n + assets]);
    }
    (d.times[..bars].to_vec(), p)
}

fn benches(c: &mut Criterion) {
    let d = data();
    let px = Prices::new(&d.times, &d.prices, d.n).unwrap();
    let cfg = Config::new(vec![1.0 / d.n as f64; d.n]);
    let th5: Trigger = "threshold:5".parse().unwrap();

    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements((d.n * d.times.len()) as u64));
    g.bench_function("threshold5_exact_10x43800", |b| {
        b.iter(|| {
            engine::run(black_box(px), &th5, &cfg, Record::NONE)
                .unwrap()
                .final_value
        })
    });
    let every24: Trigger = "every:24".parse().unwrap();
    g.bench_function("every24_exact_10x43800", |b| {
        b.iter(|| {
            engine::run(black_box(px), &every24, &cfg, Record::NONE)
                .unwrap()
                .final_value
        })
    });
    g.bench_function("threshold5_exact_10x43800_record_all", |b| {
        b.iter(|| {
            engine::run(black_box(px), &th5, &cfg, Record::ALL)
                .unwrap()
                .final_value
        })
    });
    g.bench_function("buy_and_hold_10x43800", |b| {
        b.iter(|| {
            engine::buy_and_hold(black_box(px), &cfg, Record::NONE)
                .unwrap()
                .final_value
        })
    });
    g.finish();

    let grid = expand_spec("threshold:1..10/100").unwrap();
    let mut g = c.benchmark_group("sweep");
    g.sample_size(20);
    g.bench_function("100_thresholds_linspace_1_10", |b| {
        b.iter(|| sweep(black_box(px), &grid, &cfg, 8760.0).unwrap().len())
    });
    g.finish();

    let mut g = c.benchmark_group("scaling");
    for &(bars, assets) in &[
        (10_950, 10),
        (21_900, 10),
        (43_800, 10),
        (43_800, 5),
        (43_800, 2),
    ] {
        let bars = bars.min(d.times.len());
        let assets = assets.min(d.n);
        let (t, p) = sub(&d, bars, assets);
        let px = Prices::new(&t, &p, assets).unwrap();
        let cfg = Config::new(vec![1.0 / assets as f64; assets]);
        g.throughput(Throughput::Elements((bars * assets) as u64));
        g.bench_with_input(
            BenchmarkId::new("threshold5", format!("{bars}x{assets}")),
            &px,
            |b, px| {
                b.iter(|| {
                    engine::run(black_box(*px), &th5, &cfg, Record::NONE)
                        .unwrap()
                        .final_value
                })
            },
        );
    }
    g.finish();
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
