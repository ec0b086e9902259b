//! All cards: every built-in template (grids of 52 rules, walk-forward folds), computed from the
//! files (load included), on
//! - `daily`: the shared daily history (`$SMARTFOLIO_DATA/daily`, each basket's common history,
//!   printed when the bench starts);
//! - `hourly_2y`: two and a half years of hourly bars (21,900) for every asset of every
//!   template, a deterministic correlated random walk written to a temporary folder (with
//!   market caps), as the shared data has hourly history for five assets only. Two years leave
//!   the three templates with a 365-day method window and 365-day training no test window; the
//!   half year more gives them two folds (the others get more);
//! - `cached_daily`: the dashboard's [`CardCache`] when the history has not changed (the
//!   folder's fingerprint is read and the kept cards returned).
//!
//! `cargo bench -p smartfolio-templates --bench cards` (the `daily` cases need
//! `$SMARTFOLIO_DATA` or ../shared/data and print a note without it). Limit the threads with
//! `RAYON_NUM_THREADS=2` to measure on 2 cores.

use criterion::{Criterion, criterion_group, criterion_main};
use smartfolio_templates::{CardCache, Template, builtin, cards};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const HOUR_MS: i64 = 3_600_000;
/// Two and a half years of hourly bars.
const HOURLY_BARS: usize = 5 * 8_760 / 2;

/// Every asset of `templates`, each a `<SYM>.csv` of `date,close,market_cap` hourly rows from
/// 2023-01-01: log returns with a common factor (ρ ≈ 0.5) and 80 % annual volatility; the
/// stablecoins stay at 1.
fn write_hourly(dir: &Path, templates: &[Template]) {
    let assets: BTreeSet<&str> = templates
        .iter()
        .flat_map(|t| t.assets.iter().map(String::as_str))
        .collect();
    let mut s: u64 = 7;
    // Stablecoins (USDC) stay at 1.
    let mut uniform = move || {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((s >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
    };
    // A uniform on [-0.5, 0.5) has standard deviation 1/√12; scale to 0.8/√8760 per hour.
    let sigma = 0.8 / 8_760f64.sqrt() * 12f64.sqrt();
    let common: Vec<f64> = (0..HOURLY_BARS).map(|_| uniform()).collect();
    let start = 1_672_531_200_000; // 2023-01-01
    for (k, a) in assets.iter().enumerate() {
        let mut price = 1.0 + 10.0 * k as f64;
        let supply = 1e9 / (1.0 + k as f64);
        let mut csv = String::from("date,close,market_cap\n");
        for (t, c) in common.iter().enumerate() {
            let z = (c + uniform()) * std::f64::consts::FRAC_1_SQRT_2;
            if !a.starts_with("USD") {
                price *= (sigma * z).exp();
            }
            let time = smartfolio_data::format_time_ms(start + t as i64 * HOUR_MS);
            writeln!(csv, "{time},{price},{}", price * supply).unwrap();
        }
        std::fs::write(dir.join(format!("{a}.csv")), csv).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let templates = builtin();
    let mut g = c.benchmark_group("templates");
    g.sample_size(10);

    let hourly = tempfile::tempdir().unwrap();
    write_hourly(hourly.path(), &templates);
    let got = cards(&templates, hourly.path());
    for card in &got {
        let r = card.recommendation.as_ref();
        let r = r.unwrap_or_else(|e| panic!("{}: {e}", card.template.name));
        assert!(
            r.grid_size >= 40,
            "{}: {} rules",
            card.template.name,
            r.grid_size
        );
        assert_eq!(card.history.as_ref().unwrap().n_bars, HOURLY_BARS);
    }
    g.bench_function(format!("all_{}_cards_hourly_2y", templates.len()), |b| {
        b.iter(|| cards(&templates, hourly.path()))
    });

    let root = std::env::var_os("SMARTFOLIO_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    );
    let daily = root.join("daily");
    if !daily.join("BTC.csv").is_file() {
        eprintln!(
            "no shared data at {}: daily cards not measured",
            daily.display()
        );
        g.finish();
        return;
    }
    g.bench_function(format!("all_{}_cards_daily", templates.len()), |b| {
        b.iter(|| {
            let got = cards(&templates, &daily);
            assert!(got.iter().all(|c| c.recommendation.is_ok()));
            got
        })
    });
    let cache = CardCache::new();
    let first = cache.cards(&templates, &daily);
    for card in &first {
        let h = card.history.as_ref().unwrap();
        eprintln!(
            "daily {}: {} bars ({:.1} years)",
            card.template.name,
            h.n_bars,
            h.n_bars as f64 / 365.25
        );
    }
    g.bench_function(format!("cached_{}_cards_daily", templates.len()), |b| {
        b.iter(|| {
            let kept = cache.cards(&templates, &daily);
            assert!(std::sync::Arc::ptr_eq(&kept[0], &first[0]));
            kept
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
