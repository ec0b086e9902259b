//! All cards: every built-in template (grids of 52 rules, walk-forward folds over the shared
//! daily history: 1 to 5 years per basket), computed from the files (load included).
//!
//! `cargo bench -p smartfolio-templates --bench cards` (needs `$SMARTFOLIO_DATA` or
//! ../shared/data; prints a note and measures nothing without it). Limit the threads with
//! `RAYON_NUM_THREADS=2` to measure on 2 cores.

use criterion::{Criterion, criterion_group, criterion_main};
use smartfolio_templates::{builtin, cards};
use std::path::PathBuf;

fn bench(c: &mut Criterion) {
    let root = std::env::var_os("SMARTFOLIO_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    );
    let daily = root.join("daily");
    if !daily.join("BTC.csv").is_file() {
        eprintln!("no shared data at {}: nothing measured", daily.display());
        return;
    }
    let templates = builtin();
    let mut g = c.benchmark_group("templates");
    g.sample_size(10);
    g.bench_function(format!("all_{}_cards_daily", templates.len()), |b| {
        b.iter(|| {
            let got = cards(&templates, &daily);
            assert!(got.iter().all(|c| c.recommendation.is_ok()));
            got
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
