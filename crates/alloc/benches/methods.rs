//! Each allocation method on 25 assets × 3 years of daily returns (1095 rows), end to end from
//! the return matrix (covariance, CAGR, the method, risk contributions). The returns are a
//! deterministic synthetic factor model; when `$SMARTFOLIO_DATA` (or ../shared/data) exists, the
//! methods also run on a real 11-asset daily basket (2019–2024).
//!
//! `cargo bench -p smartfolio-alloc --bench methods`

use criterion::{Criterion, criterion_group, criterion_main};
use smartfolio_alloc::{CovEstimator, Method, Options, Returns, allocate};
use std::hint::black_box;
use std::path::{Path, PathBuf};

const N: usize = 25;
const T: usize = 3 * 365;

/// Correlated daily returns: three sector factors plus idiosyncratic noise, annual vols of
/// roughly 40–120 %, drifts of −20…+60 % a year.
fn synthetic() -> Returns {
    let mut s: u64 = 0x5EED_2024_0BAD_CAFE;
    let mut uniform = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    // Box–Muller normals from the xorshift uniforms.
    let mut normal = move || {
        let (u1, u2) = (uniform().max(1e-300), uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let load: Vec<[f64; 3]> = (0..N)
        .map(|i| {
            let mut l = [0.2; 3];
            l[i % 3] = 0.8;
            l
        })
        .collect();
    let vol: Vec<f64> = (0..N).map(|i| 0.4 + 0.8 * (i as f64 / N as f64)).collect();
    let drift: Vec<f64> = (0..N)
        .map(|i| -0.2 + 0.8 * ((i * 7 % N) as f64 / N as f64))
        .collect();
    let dt = 1.0 / 365.0;
    let mut data = Vec::with_capacity(N * T);
    for _ in 0..T {
        let f = [normal(), normal(), normal()];
        for i in 0..N {
            let common: f64 = (0..3).map(|k| load[i][k] * f[k]).sum::<f64>() / 0.8775;
            let z = 0.8 * common + 0.6 * normal();
            data.push(drift[i] * dt + vol[i] * dt.sqrt() * z);
        }
    }
    Returns::from_rows((0..N).map(|i| format!("S{i}")).collect(), data).unwrap()
}

fn real() -> Option<Returns> {
    let root = std::env::var_os("SMARTFOLIO_DATA").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    );
    let assets = [
        "BTC", "ETH", "ADA", "LINK", "XRP", "LTC", "TRX", "XLM", "DOGE", "BNB", "USDC",
    ];
    let opts = smartfolio_data::LoadOptions {
        assets: assets.iter().map(|s| s.to_string()).collect(),
        interval: None,
        from_ms: smartfolio_data::parse_time_ms("2019-01-01"),
        to_ms: smartfolio_data::parse_time_ms("2024-12-31"),
    };
    let t = smartfolio_data::load(&root.join("daily"), &opts).ok()?;
    Returns::from_prices(t.assets.clone(), &t.prices).ok()
}

fn cases(n: usize) -> Vec<(String, Method, Options)> {
    let caps = Some((0..n).map(|i| 1e9 * (1.0 + i as f64)).collect::<Vec<_>>());
    let mut out = Vec::new();
    for m in Method::ALL {
        out.push((
            m.name().to_string(),
            m,
            Options {
                market_caps: caps.clone(),
                ..Options::default()
            },
        ));
    }
    for m in [Method::MinVariance, Method::MaxSharpe] {
        out.push((
            format!("{}-ledoit-wolf", m.name()),
            m,
            Options {
                cov: CovEstimator::LedoitWolf,
                ..Options::default()
            },
        ));
        out.push((
            format!("{}-bounded-2..20", m.name()),
            m,
            Options {
                min_weight: Some(0.02),
                max_weight: Some(0.2),
                ..Options::default()
            },
        ));
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut sets = vec![("25x1095-synthetic", synthetic())];
    if let Some(r) = real() {
        sets.push(("11x2191-real-daily", r));
    }
    for (label, r) in &sets {
        let mut g = c.benchmark_group(*label);
        for (name, m, opts) in cases(r.n_assets()) {
            // Methods that cannot run on this window (e.g. max-sharpe with every return ≤ rf)
            // are reported and skipped.
            if let Err(e) = allocate(m, r, &opts) {
                eprintln!("{label} {name}: skipped: {e}");
                continue;
            }
            g.bench_function(&name, |b| {
                b.iter(|| allocate(m, black_box(r), &opts).unwrap())
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
