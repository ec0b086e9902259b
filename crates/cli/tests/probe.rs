//! The command-line cases of issue 9 (an outside probe), end to end on the real binary: cron
//! lines that never fire, documented ranges of capital, amounts and prices quoted as typed,
//! negative numbers reaching our validation, and storage errors that name the path. Bad input
//! exits 2 with the field, the value as given and what is allowed.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the binary (without the caller's `SMARTFOLIO_*` variables) in `dir`, asserts its exit
/// code and that stderr holds every needle, and returns stdout.
fn expect<S: AsRef<std::ffi::OsStr>>(
    dir: &Path,
    args: &[S],
    code: i32,
    needles: &[&str],
) -> Vec<u8> {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smartfolio"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SMARTFOLIO_")) {
        c.env_remove(k);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = c.current_dir(dir).args(args).output().unwrap();
    let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
    let err = String::from_utf8_lossy(&stderr);
    assert_eq!(status.code(), Some(code), "{shown:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{shown:?}: `{n}` not in: {err}");
    }
    stdout
}

/// `args` and `--json` succeed; their output as JSON.
fn json<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Value {
    let mut a: Vec<&std::ffi::OsStr> = args.iter().map(AsRef::as_ref).collect();
    a.push("--json".as_ref());
    let out = expect(dir, &a, 0, &[]);
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
}

/// A wide CSV of two assets with hourly bars over 2023 and 2024 (17,544 bars).
fn hourly_csv(dir: &Path) -> PathBuf {
    let start_s: i64 = 1_672_531_200; // 2023-01-01T00:00:00Z
    let mut text = String::from("timestamp,AAA,BBB\n");
    for h in 0..(2 * 365 + 1) * 24 {
        let t = start_s + h * 3600;
        // Prices that wander apart and back, always positive.
        let x = h as f64 / 500.0;
        text.push_str(&format!(
            "{t},{:.4},{:.4}\n",
            100.0 + 30.0 * x.sin(),
            50.0 + 20.0 * (1.3 * x).cos()
        ));
    }
    let path = dir.join("hourly.csv");
    std::fs::write(&path, text).unwrap();
    path
}

const BOT_CONFIG: &str = r#"
quote = "USDT"
cooldown = "0"
[paper]
fee_rate = "0.001"
balances = { USDT = "100000" }
[market]
kind = "synthetic"
seed = 7
assets = ["BTC", "ETH"]
step = "1h"
speed = "max"
"#;

/// A temporary folder with `smartfolio.toml`; `bot` commands get `--config` and `--data-dir`.
fn bot_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("smartfolio.toml"), BOT_CONFIG).unwrap();
    dir
}

/// `args`, then `--config` and `--data-dir` of the folder `dir`.
fn in_dir(dir: &Path, args: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    a.push("--config".into());
    a.push(dir.join("smartfolio.toml").display().to_string());
    a.push("--data-dir".into());
    a.push(dir.join("data").display().to_string());
    a
}

// ------------------------------------------------------------------------------ item 4: cron

#[test]
fn a_cron_line_that_never_fires_is_refused_by_backtest_sweep_and_bot() {
    // Before the fix, the backtest accepted 30 February and searched up to the year 5000 for
    // its next tick on every one of these 17,544 hourly bars (83.6 s for a release build on a
    // year of bars); now the line is refused before any bar is read.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let csv = hourly_csv(d);
    let data = csv.to_str().unwrap();
    let needles = [
        "invalid trigger",
        "\"cron:0 0 30 2 *\"",
        "day-of-month `30`",
        "month `2`",
        "no date",
    ];
    for cmd in ["backtest", "sweep"] {
        expect(
            d,
            &[cmd, "--data", data, "--trigger", "cron:0 0 30 2 *"],
            2,
            &needles,
        );
    }
    // The message's rule: 5 or 6 fields; a 7th (a year) is refused.
    expect(
        d,
        &[
            "backtest",
            "--data",
            data,
            "--trigger",
            "cron:0 0 0 1 1 * 2030",
        ],
        2,
        &[
            "\"cron:0 0 0 1 1 * 2030\"",
            "5 fields",
            "or 6",
            "has 7 fields",
        ],
    );
    let b = bot_dir();
    let create = [
        "bot",
        "create",
        "--name",
        "feb30",
        "--assets",
        "BTC,ETH",
        "--trigger",
        "cron:0 0 30 2 *",
        "--invest",
        "1000",
    ];
    expect(b.path(), &in_dir(b.path(), &create), 2, &needles);
    let list = json(b.path(), &in_dir(b.path(), &["bot", "list"]));
    assert_eq!(list.as_array().unwrap().len(), 0);
}

#[test]
fn a_legal_but_rare_cron_still_backtests_and_runs_a_bot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let csv = hourly_csv(d);
    let data = csv.to_str().unwrap();
    // 29 February 2024 00:00 is the only tick in 2023-2024: the initial buy and that one.
    // Six fields put seconds first.
    for line in ["cron:0 0 29 2 *", "cron:0 0 0 29 2 *"] {
        let v = json(d, &["backtest", "--data", data, "--trigger", line]);
        assert_eq!(v["trigger"], line);
        assert_eq!(v["n_rebalances"], 2, "{v}");
        assert_eq!(v["range"]["bars"], 17_544);
    }
    let b = bot_dir();
    let create = [
        "bot",
        "create",
        "--name",
        "leap",
        "--assets",
        "BTC,ETH",
        "--trigger",
        "cron:0 0 29 2 *",
        "--invest",
        "1000",
    ];
    let created = json(b.path(), &in_dir(b.path(), &create));
    assert_eq!(created["bot"]["summary"]["status"], "running", "{created}");
    let summary = json(b.path(), &in_dir(b.path(), &["run", "--max-ticks", "200"]));
    assert_eq!(summary["ticks"], 200, "{summary}");
}
