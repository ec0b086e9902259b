//! Fuzz of the JSON routes: 100 000 generated bodies in total (random JSON built from the
//! routes' own field names and near-valid values, and raw bytes), sent in-process with the
//! token. No input may panic the server or get a 5xx; every error is a JSON error body.

mod common;

use common::{TOKEN, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value};

const KEYS: &[&str] = &[
    "name",
    "targets",
    "assets",
    "method",
    "window",
    "trigger",
    "investment",
    "stop_loss_pct",
    "take_profit_pct",
    "cooldown_ms",
    "amount",
    "mode",
    "action",
    "bars",
    "x",
    "",
];

const STRINGS: &[&str] = &[
    "",
    " ",
    "BTC=50,ETH=30,SOL=20",
    "BTC=100",
    "BTC=60,ETH=60",
    "FOO=100",
    "BTC=-5,ETH=105",
    "threshold:5",
    "threshold:0",
    "threshold:-1",
    "threshold:1e308",
    "relative:20",
    "interval:1d",
    "daily",
    "threshold:5|interval:1h",
    "cron:* * * *",
    "sell_all",
    "keep_coins",
    "pro_rata",
    "overweights",
    "invest",
    "withdraw",
    "modify",
    "pause",
    "resume",
    "stop",
    "inverse-vol",
    "min-variance",
    "max-sharpe",
    "risk-parity",
    "hrp",
    "equal",
    "manual",
    "market-cap",
    "1000",
    "0",
    "-1",
    "1e30",
    "1e-30",
    "0.00000001",
    "NaN",
    "inf",
    "79228162514264337593543950335",
    "99999999999999999999999999999999",
    "BTC",
    "btc",
    "ÉTH",
    "sample",
    "a.b-c_d",
    "\u{0000}",
    "💥",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        prop_oneof![Just(1e300), Just(-1e300), Just(5e-324), Just(0.0)].prop_map(Value::from),
        (0..STRINGS.len()).prop_map(|i| Value::String(STRINGS[i].into())),
        "[ -~]{0,12}".prop_map(Value::String),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        (0..KEYS.len()).prop_map(|i| KEYS[i].to_string()),
                        "[a-z_]{0,8}"
                    ],
                    inner
                ),
                0..7
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An object with mostly the routes' own keys (closer to valid input).
fn near_valid() -> impl Strategy<Value = Value> {
    prop::collection::vec(((0..KEYS.len()), leaf()), 0..8).prop_map(|kv| {
        Value::Object(
            kv.into_iter()
                .map(|(k, v)| (KEYS[k].to_string(), v))
                .collect::<Map<_, _>>(),
        )
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => near_valid().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        3 => json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => near_valid().prop_map(|v| {
            // Truncated JSON.
            let mut b = serde_json::to_vec(&v).unwrap();
            b.truncate(b.len() / 2);
            b
        }),
    ]
}

fn paths(id: i64) -> Vec<String> {
    vec![
        "/api/bots".into(),
        format!("/api/bots/{id}/invest"),
        format!("/api/bots/{id}/withdraw"),
        format!("/api/bots/{id}/modify"),
        format!("/api/bots/{id}/pause"),
        format!("/api/bots/{id}/resume"),
        format!("/api/bots/{id}/stop"),
        format!("/api/bots/{id}/preview"),
        "/api/bots/nobody/preview".into(),
        "/api/preview/create".into(),
        "/api/preview/allocation".into(),
        "/api/preview/backtest".into(),
    ]
}

fn fuzz(cases: u32, only: Option<&str>) {
    let t = TestApp::new();
    let all = paths(t.sample_id);
    let routes: Vec<String> = match only {
        Some(p) => all.into_iter().filter(|x| x.ends_with(p)).collect(),
        None => all,
    };
    let n = routes.len();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&((0..n), body()), |(i, b)| {
            let a = t.send("POST", &routes[i], Some(&b), Some(TOKEN));
            prop_assert!(
                a.status < 500,
                "{} {} → {} {}",
                routes[i],
                String::from_utf8_lossy(&b),
                a.status,
                a.text
            );
            if a.status >= 400 {
                let v: Value = serde_json::from_str(&a.text)
                    .map_err(|e| TestCaseError::fail(format!("error body is not JSON: {e}")))?;
                prop_assert!(v["error"]["message"].is_string(), "{}", a.text);
                if a.status == 422 {
                    // Every refused value names its field, the value as given and what is allowed.
                    for k in ["field", "value", "allowed"] {
                        prop_assert!(v["error"][k].is_string(), "{k}: {}", a.text);
                    }
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn fuzz_every_json_route() {
    fuzz(40_000, None);
}

#[test]
fn fuzz_create_and_its_preview() {
    fuzz(20_000, Some("/api/bots"));
    fuzz(10_000, Some("/api/preview/create"));
}

#[test]
fn fuzz_controls_and_their_previews() {
    fuzz(15_000, Some("/preview"));
}

#[test]
fn fuzz_allocation_and_backtest_previews() {
    fuzz(8_000, Some("/api/preview/allocation"));
    fuzz(7_000, Some("/api/preview/backtest"));
}
