//! `smartfolio backtest --allocation` (walk-forward) end to end, and `allocate --json` output
//! piped into `plan --targets-from` and `backtest --targets-from`. Every input is a small wide
//! CSV written by the test (no shared data).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn smartfolio(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smartfolio"))
        .args(args)
        .output()
        .expect("run smartfolio")
}

fn ok_json(args: &[&str]) -> Value {
    let out = smartfolio(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smartfolio-wf-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A wide CSV of four assets over `days` daily bars from 2022-01-01: a deterministic
/// correlated random walk with different volatilities.
fn wide_csv(dir: &Path, days: usize) -> PathBuf {
    let mut s: u64 = 12345;
    let mut unif = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
    };
    let mut p = [100.0, 50.0, 20.0, 5.0];
    let mut text = String::from("timestamp,AAA,BBB,CCC,DDD\n");
    let day0 = 1_640_995_200_i64; // 2022-01-01T00:00:00Z
    for t in 0..days {
        let common = unif();
        for (i, x) in p.iter_mut().enumerate() {
            *x *= 1.0 + 0.02 * common + 0.02 * (i + 1) as f64 * unif();
        }
        text.push_str(&format!(
            "{},{:.6},{:.6},{:.6},{:.6}\n",
            day0 + 86_400 * t as i64,
            p[0],
            p[1],
            p[2],
            p[3]
        ));
    }
    let path = dir.join("wide.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn weights(v: &Value) -> Vec<(String, f64)> {
    v.as_object()
        .unwrap_or_else(|| panic!("{v} is not an object"))
        .iter()
        .map(|(k, x)| (k.clone(), x.as_f64().expect("a number")))
        .collect()
}

#[test]
fn walk_forward_reports_targets_history_beside_equal_weight_and_buy_and_hold() {
    let dir = temp_dir("run");
    let csv = wide_csv(&dir, 200);
    let data = csv.to_str().unwrap();
    let v = ok_json(&[
        "backtest",
        "--data",
        data,
        "--assets",
        "AAA,BBB,CCC,DDD",
        "--allocation",
        "inverse-vol",
        "--reallocate",
        "every:30",
        "--lookback",
        "60",
        "--trigger",
        "threshold:5",
        "--json",
    ]);
    let wf = &v["walk_forward"];
    assert_eq!(wf["method"], "inverse-vol");
    // 60 returns need bars 0..=60: the run starts (deferred) at bar 60 = 2022-03-02.
    assert_eq!(wf["start"], "2022-03-02");
    assert_eq!(wf["start_deferred"], true);
    assert_eq!(v["range"]["from"], "2022-03-02");
    assert_eq!(v["range"]["bars"], 140);
    let history = wf["targets_history"].as_array().unwrap();
    // Bars 60, 90, ..., 180.
    assert_eq!(history.len(), 5);
    assert_eq!(wf["reallocations"], 5);
    for h in history {
        // Each window ends at its decision bar and holds 60 returns.
        assert_eq!(h["window"]["to"], h["time"]);
        assert_eq!(h["window"]["n_returns"], 60);
        let w = weights(&h["weights"]);
        let sum: f64 = w.iter().map(|x| x.1).sum();
        assert!((sum - 1.0).abs() < 1e-12, "{h}");
        // The same window through `smartfolio allocate` gives the same weights.
        let a = ok_json(&[
            "allocate",
            "--data",
            data,
            "--assets",
            "AAA,BBB,CCC,DDD",
            "--method",
            "inverse-vol",
            "--from",
            h["window"]["from"].as_str().unwrap(),
            "--to",
            h["window"]["to"].as_str().unwrap(),
            "--json",
        ]);
        assert_eq!(weights(&a["weights"]), w, "{h}");
        assert_eq!(a["window"]["n_returns"], 60);
    }
    // Targets change between reallocations (the method really is re-run).
    assert_ne!(history[0]["weights"], history[4]["weights"]);
    // Equal weight: same trigger, equal targets; buy & hold: the first targets, held.
    for (_, x) in weights(&v["equal_weight"]["targets"]) {
        assert_eq!(x, 0.25);
    }
    assert_eq!(v["buy_and_hold"]["targets"], history[0]["weights"]);
    assert_eq!(v["buy_and_hold"]["n_rebalances"], 1);
    let n_wf = wf["n_rebalances"].as_u64().unwrap();
    assert!(n_wf >= 5, "every reallocation is a rebalance: {n_wf}");
    for k in ["walk_forward", "equal_weight", "buy_and_hold"] {
        assert!(v[k]["final_value"].as_f64().unwrap() > 0.0, "{k}");
    }
    // The table form runs too and names the three columns.
    let out = smartfolio(&[
        "backtest",
        "--data",
        data,
        "--allocation",
        "hrp",
        "--reallocate",
        "every:30d",
        "--lookback",
        "45d",
        "--from",
        "2022-03-01",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "walk-forward",
        "equal weight",
        "buy & hold",
        "targets history",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    // History before --from feeds the first window: no deferral.
    assert!(
        text.contains("start: 2022-03-01 (history from 2022-01-01"),
        "{text}"
    );
}

#[test]
fn bad_walk_forward_flags_exit_2_naming_the_field() {
    let dir = temp_dir("bad");
    let csv = wide_csv(&dir, 120);
    let data = csv.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--allocation", "nope"], "allocation"),
        (&["--allocation", "hrp", "--lookback", "abc"], "lookback"),
        (&["--allocation", "hrp", "--lookback", "1"], "lookback"),
        // Longer than the whole history: a clear error, not an empty run.
        (&["--allocation", "hrp", "--lookback", "365d"], "lookback"),
        (&["--allocation", "hrp", "--lookback", "500"], "lookback"),
        (
            &["--allocation", "hrp", "--reallocate", "threshold:5"],
            "reallocate",
        ),
        (
            &["--allocation", "hrp", "--reallocate", "every:0d"],
            "reallocate",
        ),
        (
            &["--allocation", "hrp", "--reallocate", "soon"],
            "reallocate",
        ),
        (
            &["--allocation", "hrp", "--min-weight", "abc"],
            "min-weight",
        ),
        (
            &["--allocation", "hrp", "--max-weight", "120"],
            "max-weight",
        ),
        (
            &[
                "--allocation",
                "hrp",
                "--lookback",
                "30",
                "--max-weight",
                "10",
            ],
            "max-weight",
        ),
        (&["--allocation", "min-variance", "--cov", "x"], "cov"),
        (
            &["--allocation", "max-sharpe", "--risk-free", "2"],
            "risk-free",
        ),
        (
            &["--allocation", "market-cap", "--lookback", "30"],
            "market_caps",
        ),
        (
            &["--allocation", "hrp", "--targets", "AAA=50,BBB=50"],
            "targets",
        ),
        (&["--lookback", "30"], "lookback"),
        (&["--reallocate", "every:90d"], "reallocate"),
        (&["--allocation", "hrp", "--from", "2030-01-01"], "from"),
    ];
    for (extra, field) in cases {
        let mut args = vec!["backtest", "--data", data];
        args.extend_from_slice(extra);
        let out = smartfolio(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(field), "{extra:?} should name {field}: {err}");
    }
}

#[test]
fn allocate_json_feeds_plan_and_backtest_targets_from() {
    let dir = temp_dir("pipe");
    let csv = wide_csv(&dir, 90);
    let data = csv.to_str().unwrap();
    let out = smartfolio(&[
        "allocate",
        "--data",
        data,
        "--assets",
        "AAA,BBB,CCC,DDD",
        "--method",
        "hrp",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.join("allocation.json");
    std::fs::write(&file, &out.stdout).unwrap();
    let alloc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = weights(&alloc["weights"]);
    assert_eq!(want.len(), 4);
    let f = file.to_str().unwrap();

    // plan: from cash only, the post-trade weights are the allocation's.
    let plan = ok_json(&[
        "plan",
        "--targets-from",
        f,
        "--cash",
        "10000",
        "--prices",
        "AAA=100,BBB=50,CCC=20,DDD=5",
        "--json",
    ]);
    for (asset, w) in &want {
        let after: f64 = plan["weights_after"][asset]
            .as_str()
            .unwrap_or_else(|| panic!("{asset}: {plan}"))
            .parse()
            .unwrap();
        assert!((after - w).abs() < 1e-12, "{asset}: {after} vs {w}");
    }

    // backtest: the run's targets are the allocation's.
    let bt = ok_json(&[
        "backtest",
        "--data",
        data,
        "--targets-from",
        f,
        "--trigger",
        "every:7d",
        "--json",
    ]);
    let got = weights(&bt["config"]["targets"]);
    assert_eq!(got.len(), 4);
    for ((a, x), (b, y)) in got.iter().zip(&want) {
        assert_eq!(a, b);
        assert!((x - y).abs() < 1e-15, "{a}: {x} vs {y}");
    }
    assert!(bt["n_rebalances"].as_u64().unwrap() > 1);
}
