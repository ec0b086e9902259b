#![cfg(feature = "shared-data")]
//! The engine against the peers' numpy oracle (`ref_rebalance.py`), on generated and real data.
//!
//! Fixtures: `tests/fixtures/oracle_cases.json`, written by `scripts/peers/backtest_fixtures.py`
//! (numbers only). Inputs are read here with `smartfolio_data`, so the test also checks that our
//! loader aligns and windows the real data exactly as the fixture script did (same bar count,
//! same first and last bar).
//!
//! Needs `$PEERS_HOME/data/*.csv` (default `~/.cache/smartfolio-peers`, made by the peers'
//! `setup.sh`) and `$SMARTFOLIO_DATA` (default `../shared/data` next to the workspace).

use serde_json::Value;
use smartfolio_backtest::engine::{self, Config, FeeModel, Prices, Record};
use smartfolio_core::Trigger;
use smartfolio_data::{LoadOptions, load, parse_time_ms};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared_data() -> PathBuf {
    std::env::var_os("SMARTFOLIO_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/data"))
}

fn peers_home() -> PathBuf {
    std::env::var_os("PEERS_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is not set"))
                .join(".cache/smartfolio-peers")
        })
}

fn need(path: &Path, var: &str) {
    if !path.exists() {
        panic!(
            "missing test input {}: set {var} (or run ../shared/peers/setup.sh for the generated data)",
            path.display()
        );
    }
}

#[test]
fn engine_matches_the_numpy_oracle_on_every_fixture_case() {
    let text = include_str!("fixtures/oracle_cases.json");
    let doc: Value = serde_json::from_str(text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 50, "fixture file has {} cases", cases.len());
    let mut worst = 0.0_f64;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let src = &case["source"];
        let assets: Vec<String> = case["assets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let table = match src["kind"].as_str().unwrap() {
            "peers_csv" => {
                let path = peers_home()
                    .join("data")
                    .join(src["file"].as_str().unwrap());
                need(&path, "PEERS_HOME");
                load(&path, &LoadOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
            }
            "shared_folder" => {
                let dir = shared_data().join(src["folder"].as_str().unwrap());
                need(&dir, "SMARTFOLIO_DATA");
                let opts = LoadOptions {
                    assets: assets.clone(),
                    interval: src["interval"].as_str().map(str::to_string),
                    from_ms: src["from"].as_str().map(|s| parse_time_ms(s).unwrap()),
                    to_ms: src["to"].as_str().map(|s| parse_time_ms(s).unwrap()),
                };
                load(&dir, &opts).unwrap_or_else(|e| panic!("{name}: {e}"))
            }
            other => panic!("{name}: unknown source kind {other}"),
        };
        assert_eq!(table.assets, assets, "{name}: asset order");
        assert_eq!(
            table.n_bars() as u64,
            case["bars"].as_u64().unwrap(),
            "{name}: bar count"
        );
        assert_eq!(
            Some(table.times_ms[0]),
            parse_time_ms(case["first"].as_str().unwrap()),
            "{name}: first bar"
        );
        assert_eq!(
            table.times_ms.last().copied(),
            parse_time_ms(case["last"].as_str().unwrap()),
            "{name}: last bar"
        );

        let mut cfg = Config::new(
            case["weights"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_f64().unwrap())
                .collect(),
        );
        cfg.capital = case["capital"].as_f64().unwrap();
        cfg.fee_rate = case["fee"].as_f64().unwrap();
        cfg.fee_model = case["fee_model"]
            .as_str()
            .unwrap()
            .parse::<FeeModel>()
            .unwrap();
        let trigger: Trigger = match case["mode"].as_str().unwrap() {
            "periodic" => format!("every:{}", case["every"].as_u64().unwrap()),
            _ => format!("threshold:{}", case["band"].as_f64().unwrap()),
        }
        .parse()
        .unwrap();
        let prices = Prices::try_from(&table).unwrap();
        let o = engine::run(prices, &trigger, &cfg, Record::NONE).unwrap();

        let fv = case["final_value"].as_f64().unwrap();
        let rel = (o.final_value - fv).abs() / fv.abs();
        worst = worst.max(rel);
        assert!(
            rel <= 1e-9,
            "{name}: final value {} vs oracle {fv} (rel {rel:e})",
            o.final_value
        );
        assert_eq!(
            o.n_rebalances as u64,
            case["n_rebalances"].as_u64().unwrap(),
            "{name}: rebalances"
        );
        let fees = case["total_fees"].as_f64().unwrap();
        assert!(
            (o.total_fees - fees).abs() <= 1e-9 * cfg.capital + 1e-7 * fees,
            "{name}: fees {} vs oracle {fees}",
            o.total_fees
        );
    }
    eprintln!(
        "{} cases, worst relative final-value difference {worst:e}",
        cases.len()
    );
}

#[test]
fn the_fixture_file_was_cross_checked_against_bt_and_vectorbt() {
    let doc: Value = serde_json::from_str(include_str!("fixtures/oracle_cases.json")).unwrap();
    let spots = doc["spot_checks"].as_array().unwrap();
    assert!(spots.len() >= 2);
    for s in spots {
        assert_eq!(s["agree"], Value::Bool(true), "{s}");
        assert!(s["rel_diff"].as_f64().unwrap() <= 1e-9, "{s}");
    }
}
