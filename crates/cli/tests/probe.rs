//! The command-line cases of issue 9 (an outside probe), end to end on the real binary: cron
//! lines that never fire, documented ranges of capital, amounts and prices quoted as typed,
//! negative numbers reaching our validation, and storage errors that name the path. Bad input
//! exits 2 with the field, the value as given and what is allowed.

use serde_json::Value;
use std::path::Path;
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

/// A temporary folder with a wide CSV of two assets with hourly bars over 2023 and 2024
/// (17,544 bars), and that file's path.
fn hourly_data() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
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
    let path = dir.path().join("hourly.csv");
    std::fs::write(&path, text).unwrap();
    let data = path.display().to_string();
    (dir, data)
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

/// `bot create` of a BTC/ETH bot named `name` with `trigger`, investing 1000.
fn create_bot<'a>(name: &'a str, trigger: &'a str) -> [&'a str; 10] {
    [
        "bot",
        "create",
        "--name",
        name,
        "--assets",
        "BTC,ETH",
        "--trigger",
        trigger,
        "--invest",
        "1000",
    ]
}

// ------------------------------------------------------------------------------ item 4: cron

#[test]
fn a_cron_line_that_never_fires_is_refused_by_backtest_sweep_and_bot() {
    // Before the fix, the backtest accepted 30 February and searched up to the year 5000 for
    // its next tick on every one of these 17,544 hourly bars (83.6 s for a release build on a
    // year of bars); now the line is refused before any bar is read.
    let (dir, data) = hourly_data();
    let (d, data) = (dir.path(), data.as_str());
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
    let create = in_dir(b.path(), &create_bot("feb30", "cron:0 0 30 2 *"));
    expect(b.path(), &create, 2, &needles);
    let list = json(b.path(), &in_dir(b.path(), &["bot", "list"]));
    assert_eq!(list.as_array().unwrap().len(), 0);
}

#[test]
fn a_legal_but_rare_cron_still_backtests_and_runs_a_bot() {
    let (dir, data) = hourly_data();
    let (d, data) = (dir.path(), data.as_str());
    // 29 February 2024 00:00 is the only tick in 2023-2024: the initial buy and that one.
    // Six fields put seconds first.
    for line in ["cron:0 0 29 2 *", "cron:0 0 0 29 2 *"] {
        let v = json(d, &["backtest", "--data", data, "--trigger", line]);
        assert_eq!(v["trigger"], line);
        assert_eq!(v["n_rebalances"], 2, "{v}");
        assert_eq!(v["range"]["bars"], 17_544);
    }
    let b = bot_dir();
    let created = json(
        b.path(),
        &in_dir(b.path(), &create_bot("leap", "cron:0 0 29 2 *")),
    );
    assert_eq!(created["bot"]["summary"]["status"], "running", "{created}");
    let summary = json(b.path(), &in_dir(b.path(), &["run", "--max-ticks", "200"]));
    assert_eq!(summary["ticks"], 200, "{summary}");
}

// --------------------------------------------------------------------------- item 5: ranges

const MAX: &str = "≤ 1000000000000000 (1e15)";

#[test]
fn backtest_and_sweep_check_capital_and_minimum_trade_quoting_the_input() {
    // Before: `--capital 1e308` exited 0 with a final value of "n/a" and fees of 9.99e304,
    // `--capital 1e400` was echoed as "inf", and `--capital -5` was clap's "unexpected
    // argument '-5'".
    let (dir, data) = hourly_data();
    let (d, data) = (dir.path(), data.as_str());
    for cmd in ["backtest", "sweep"] {
        for (flag, raw, says) in [
            ("--capital", "1e308", "no exponent"),
            ("--capital", "1e400", "no exponent"),
            ("--capital", "inf", "no exponent"),
            ("--capital", "-5", "> 0"),
            ("--capital", "0", "> 0"),
            ("--capital", "1000000000000000.5", MAX),
            ("--min-trade", "1e400", "no exponent"),
            ("--min-trade", "-1", "≥ 0"),
        ] {
            let field = flag.trim_start_matches("--");
            expect(
                d,
                &[cmd, "--data", data, "--trigger", "threshold:5", flag, raw],
                2,
                &[
                    &format!("invalid {field}: \"{raw}\""),
                    "an amount of quote",
                    MAX,
                    says,
                ],
            );
        }
    }
    // The largest capital runs and reports finite numbers.
    let v = json(
        d,
        &["backtest", "--data", data, "--capital", "1000000000000000"],
    );
    assert_eq!(v["config"]["capital"], 1e15);
    let final_value = v["final_value"].as_f64().unwrap();
    assert!(final_value.is_finite() && final_value > 0.0, "{v}");
}

#[test]
fn plan_checks_cash_holdings_and_prices_quoting_the_input() {
    let d = std::env::temp_dir();
    let base = ["plan", "--targets", "BTC=50,ETH=50"];
    for (extra, needles) in [
        (
            vec!["--prices", "BTC=1e400,ETH=1", "--cash", "10"],
            vec![
                "invalid prices.BTC: \"1e400\"",
                "a price in quote",
                "no exponent",
            ],
        ),
        (
            vec!["--prices", "BTC=0.0000000000001,ETH=1", "--cash", "10"],
            vec![
                "invalid prices.BTC: \"0.0000000000001\"",
                "≥ 0.000000000001 (1e-12)",
            ],
        ),
        (
            vec!["--prices", "BTC=2000000000000000,ETH=1", "--cash", "10"],
            vec!["invalid prices.BTC: \"2000000000000000\"", MAX],
        ),
        (
            vec!["--prices", "BTC=1,ETH=1", "--cash", "1e400"],
            vec!["invalid cash: \"1e400\"", "an amount of quote"],
        ),
        (
            vec!["--prices", "BTC=1,ETH=1", "--cash", "-5"],
            vec!["invalid cash: \"-5\"", "≥ 0"],
        ),
        (
            vec!["--prices", "BTC=1,ETH=1", "--holdings", "BTC=-0.5"],
            vec!["invalid holdings.BTC: \"-0.5\"", "a quantity in units ≥ 0"],
        ),
    ] {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(extra);
        expect(&d, &args, 2, &needles);
    }
}

#[test]
fn bot_commands_check_amounts_quantities_and_prices_and_take_negative_numbers() {
    // Before: `--invest -5` was clap's "unexpected argument '-5'", and amounts had no upper
    // bound on the command line.
    let b = bot_dir();
    let d = b.path();
    let create = |extra: &[&'static str]| {
        let mut a = vec!["bot", "create", "--name", "r", "--assets", "BTC,ETH"];
        a.extend_from_slice(extra);
        a
    };
    for (extra, needles) in [
        (
            create(&["--invest", "-5"]),
            vec!["invalid invest: \"-5\"", "an amount of quote ≥ 0", MAX],
        ),
        (
            create(&["--invest", "1e400"]),
            vec!["invalid invest: \"1e400\"", "no exponent"],
        ),
        (
            create(&["--invest", "2000000000000000"]),
            vec!["invalid invest: \"2000000000000000\"", MAX],
        ),
        (
            create(&["--invest", "100", "--entry", "BTC=0"]),
            vec![
                "invalid entry.BTC: \"0\"",
                "a price in quote ≥ 0.000000000001",
            ],
        ),
        (
            create(&["--coins", "ETH=-1"]),
            vec!["invalid coins.ETH: \"-1\"", "a quantity in units > 0"],
        ),
        (
            create(&["--threshold", "-3"]),
            vec!["invalid trigger: \"threshold:-3\""],
        ),
        (
            vec!["bot", "invest", "r", "--amount", "-5"],
            vec!["invalid amount: \"-5\"", "an amount of quote > 0", MAX],
        ),
        (
            vec!["bot", "withdraw", "r", "--amount", "1e308"],
            vec!["invalid amount: \"1e308\"", "no exponent"],
        ),
        (
            vec!["bot", "withdraw", "r", "--amount", "-0.01"],
            vec!["invalid amount: \"-0.01\"", "> 0"],
        ),
    ] {
        expect(d, &in_dir(d, &extra), 2, &needles);
    }
    let list = json(d, &in_dir(d, &["bot", "list"]));
    assert_eq!(list.as_array().unwrap().len(), 0);
}

#[test]
fn allocate_quotes_its_weight_bounds_as_given() {
    let (dir, data) = hourly_data();
    let (d, data) = (dir.path(), data.as_str());
    for (flag, raw) in [("--min-weight", "1e400"), ("--max-weight", "-5")] {
        let field = flag.trim_start_matches("--");
        expect(
            d,
            &[
                "allocate", "--data", data, "--assets", "AAA,BBB", "--method", "equal", flag, raw,
            ],
            2,
            &[
                &format!("invalid {field}: \"{raw}\""),
                "a percent from 0 to 100",
            ],
        );
    }
}

// ------------------------------------------------------------------ item 7: the error contract

#[test]
fn a_data_dir_that_is_a_file_is_named_as_bad_input() {
    // Before: exit 1 with "cannot create the data directory …: File exists (os error 17)".
    let b = bot_dir();
    let d = b.path();
    let file = d.join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let shown = file.display().to_string();
    let under = file.join("sub").display().to_string();
    let config = d.join("smartfolio.toml").display().to_string();
    for (args, needles) in [
        (
            vec!["bot", "list", "--data-dir", &shown],
            vec![
                format!("invalid data-dir: \"{shown}\""),
                "it is a file".into(),
            ],
        ),
        (
            vec!["run", "--max-ticks", "1", "--data-dir", &shown],
            vec![
                format!("invalid data-dir: \"{shown}\""),
                "it is a file".into(),
            ],
        ),
        (
            vec!["bot", "list", "--data-dir", &under],
            vec![
                format!("invalid data-dir: \"{under}\""),
                format!("{shown} is a file"),
            ],
        ),
    ] {
        let mut a = args.clone();
        a.extend(["--config", &config]);
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        let mut all = needles.clone();
        all.push("allowed: a directory, or a path where one can be created");
        expect(d, &a, 2, &all);
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

/// `f` on a connection to the SQLite file `db`; then every page is moved from the write-ahead
/// log into the file, so that the file alone holds the database.
fn with_db<T>(db: &Path, f: impl AsyncFnOnce(&mut sqlx::SqliteConnection) -> T) -> T {
    use sqlx::{ConnectOptions, Connection};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db)
            .connect()
            .await
            .unwrap();
        let out = f(&mut c).await;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
        out
    })
}

/// The page number (1-based) of the root page of `table` in the SQLite file `db`.
fn root_page(db: &Path, table: &'static str) -> u64 {
    with_db(db, async |c| {
        let page: i64 = sqlx::query_scalar("SELECT rootpage FROM sqlite_master WHERE name = ?")
            .bind(table)
            .fetch_one(c)
            .await
            .unwrap();
        page as u64
    })
}

#[test]
fn a_damaged_table_page_is_reported_with_the_database_file() {
    // Before: exit 1 with "database error: error returned from database: (code: 11) database
    // disk image is malformed", naming no file.
    let b = bot_dir();
    let d = b.path();
    json(d, &in_dir(d, &create_bot("a", "threshold:5")));
    let db = d.join("data").join("smartfolio.db");
    let page = root_page(&db, "rebalances");
    // Damage the b-tree header and cells of that one page (4096 bytes a page); the schema on
    // page 1 and the tables read when a file is first checked stay readable.
    let mut bytes = std::fs::read(&db).unwrap();
    let start = (page as usize - 1) * 4096;
    bytes[start..start + 7].copy_from_slice(&[0x0d, 0, 0, 0, 0x99, 0x0f, 0xff]);
    for b in &mut bytes[start + 7..start + 2000] {
        *b = 0xa5;
    }
    std::fs::write(&db, &bytes).unwrap();
    let shown = db.display().to_string();
    for args in [vec!["bot", "list"], vec!["bot", "show", "a"]] {
        expect(
            d,
            &in_dir(d, &args),
            2,
            &[
                &format!("{shown} is not a readable smartfolio database"),
                &format!("page {page}: free space corruption"),
                "nothing was changed",
            ],
        );
    }
    // Nothing was written: the file is byte for byte as damaged.
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
}

#[test]
fn numeric_flags_of_the_data_directory_commands_refuse_bad_numbers_without_a_panic() {
    // Before: `bot --timeout 1e300` and `demo --max-seconds 1e300` panicked making a Duration
    // ("can not convert float seconds to Duration"), and `run --max-ticks -5` / `demo --port
    // -5` were clap's "unexpected argument '-5'".
    let b = bot_dir();
    let d = b.path();
    let data = d.join("data").display().to_string();
    for (args, needles) in [
        (
            vec!["bot", "list", "--timeout", "1e300"],
            vec!["invalid --timeout: \"1e300\"", "a number of seconds > 0"],
        ),
        (
            vec!["bot", "list", "--timeout", "-5"],
            vec!["invalid --timeout: \"-5\"", "≤ 2592000 (30 days)"],
        ),
        (
            vec!["demo", "--port", "0", "--max-seconds", "1e300"],
            vec![
                "invalid --max-seconds: \"1e300\"",
                "a number of seconds > 0",
            ],
        ),
        (
            vec!["demo", "--port", "0", "--speed", "1e400"],
            vec!["invalid --speed: \"1e400\"", "hours per second"],
        ),
        (
            vec!["demo", "--port", "-5"],
            vec!["invalid value '-5' for '--port <PORT>'"],
        ),
        (
            vec!["run", "--max-ticks", "-5"],
            vec!["invalid value '-5' for '--max-ticks <N>'"],
        ),
    ] {
        let mut a = args.clone();
        a.extend(["--data-dir", &data]);
        // Exit 2, not a panic's 101.
        expect(d, &a, 2, &needles);
    }
    // Nothing was created for the refused commands.
    assert!(!d.join("data").exists());
}

#[test]
fn a_stored_bot_whose_cron_never_fires_still_loads_and_can_be_fixed() {
    // A bot stored before such lines were refused: its data directory stays usable (nothing
    // stored is lost), it never ticks, and a change must give it a trigger that fires.
    let b = bot_dir();
    let d = b.path();
    json(d, &in_dir(d, &create_bot("old", "cron:0 0 29 2 *")));
    let db = d.join("data").join("smartfolio.db");
    with_db(&db, async |c| {
        sqlx::query(
            "UPDATE bots SET config = replace(config, 'cron:0 0 29 2 *', 'cron:0 0 30 2 *')",
        )
        .execute(c)
        .await
        .unwrap()
    });
    let list = json(d, &in_dir(d, &["bot", "list"]));
    assert_eq!(list[0]["trigger"], "cron:0 0 30 2 *", "{list}");
    let summary = json(d, &in_dir(d, &["run", "--max-ticks", "50"]));
    assert_eq!(summary["ticks"], 50, "{summary}");
    expect(
        d,
        &in_dir(d, &["bot", "modify", "old", "--targets", "BTC=60,ETH=40"]),
        2,
        &["invalid trigger: \"cron:0 0 30 2 *\"", "no date"],
    );
    let fixed = json(
        d,
        &in_dir(d, &["bot", "modify", "old", "--trigger", "cron:0 0 1 3 *"]),
    );
    assert_eq!(fixed["summary"]["trigger"], "cron:0 0 1 3 *", "{fixed}");
}
