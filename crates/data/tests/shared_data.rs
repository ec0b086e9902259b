#![cfg(feature = "shared-data")]
//! Loads the real files of `../shared/data` (set SMARTFOLIO_DATA to move it).

use smartfolio_data::{LoadOptions, load, parse_time_ms};
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    let dir = std::env::var_os("SMARTFOLIO_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    assert!(
        dir.join("daily/BTC.csv").is_file(),
        "shared data not found at {} (set SMARTFOLIO_DATA to the folder holding daily/, hourly/, marketcap/)",
        dir.display()
    );
    dir
}

fn assets(list: &str) -> Vec<String> {
    list.split(',').map(str::to_string).collect()
}

#[test]
fn every_daily_file_loads_and_is_gap_free() {
    let dir = data_dir().join("daily");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(sym) = name.strip_suffix(".csv") else {
            continue;
        };
        let t = load(
            &dir,
            &LoadOptions {
                assets: vec![sym.into()],
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.bar_ms, 86_400_000, "{sym}");
        // SOURCES.md: every daily file has every calendar day between its first and last date.
        assert!(
            t.times_ms.windows(2).all(|w| w[1] - w[0] == 86_400_000),
            "{sym}"
        );
        n += 1;
    }
    assert_eq!(n, 27);
}

#[test]
fn majors_align_from_the_latest_start() {
    let dir = data_dir().join("daily");
    let t = load(
        &dir,
        &LoadOptions {
            assets: assets("BTC,ETH,SOL"),
            ..Default::default()
        },
    )
    .unwrap();
    let sol = load(
        &dir,
        &LoadOptions {
            assets: assets("SOL"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(t.times_ms[0], sol.times_ms[0]);
    assert!(t.market_caps.is_some());
    let w = load(
        &dir,
        &LoadOptions {
            assets: assets("BTC,ETH,SOL"),
            from_ms: parse_time_ms("2021-01-01"),
            to_ms: parse_time_ms("2024-12-31"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(w.n_bars(), 1461);
}

#[test]
fn hourly_candles_keep_their_gaps() {
    let dir = data_dir().join("hourly");
    let t = load(
        &dir,
        &LoadOptions {
            assets: assets("BTC,ETH,SOL,XRP,AAVE"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(t.bar_ms, 3_600_000);
    assert_eq!(t.periods_per_year(), 8760.0);
    assert!(t.times_ms.windows(2).all(|w| w[1] > w[0]));
    assert!(t.n_bars() > 10_000);
}
