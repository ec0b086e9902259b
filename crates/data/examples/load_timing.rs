//! Prints how long loading a data path takes: `cargo run --release -p smartfolio-data --example
//! load_timing -- PATH [ASSET,...]`.

use smartfolio_data::{LoadOptions, load};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: load_timing PATH [ASSET,...]");
        std::process::exit(2);
    };
    let assets = args
        .next()
        .map(|a| a.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let t0 = Instant::now();
    match load(
        std::path::Path::new(&path),
        &LoadOptions {
            assets,
            ..Default::default()
        },
    ) {
        Ok(t) => println!(
            "{} bars x {} assets in {:.2} ms",
            t.n_bars(),
            t.n_assets(),
            t0.elapsed().as_secs_f64() * 1e3
        ),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}
