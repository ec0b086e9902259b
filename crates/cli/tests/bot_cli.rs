//! `smartfolio bot ...` and `smartfolio run` end to end, on the real binary, in temporary data
//! directories with a fast seeded synthetic market: the whole lifecycle (create and deploy,
//! run, invest, withdraw, modify, pause, resume, stop), commands executed by a running daemon
//! through the store's queue, every bad input of issue 5 (exit 2, clear message, nothing
//! stored changes), and a create from a template or a profile (issue 14): the template's
//! weights and recommended rule with flags overriding one each and missing history named;
//! `export` then `create --from` giving the same settings, and a bad profile refused naming the
//! file, the line, the key and the value.

use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

// The command protocol's table, which `crates/server/tests/protocol.rs` runs through the API.
include!("../../node/tests/protocol/table.rs");

const CONFIG: &str = r#"
quote = "USDT"
cooldown = "0"
snapshot_interval = "1d"
[paper]
fee_rate = "0.001"
balances = { USDT = "100000" }
[paper.instruments.BTC]
lot_step = "0.00001"
min_notional = "10"
[market]
kind = "synthetic"
seed = 7
assets = ["BTC", "ETH", "SOL"]
step = "1h"
speed = "max"
"#;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("smartfolio.toml"), CONFIG).unwrap();
    dir
}

/// The binary with `args`, then the config and data dir of `dir` (global flags follow the
/// subcommand); `--config` only when `args` has none.
fn cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smartfolio"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SMARTFOLIO_") {
            c.env_remove(k);
        }
    }
    c.current_dir(dir).args(args);
    if !args.contains(&"--config") {
        c.arg("--config").arg(dir.join("smartfolio.toml"));
    }
    c.arg("--data-dir").arg(dir.join("data"));
    c
}

fn sf(dir: &Path, args: &[&str]) -> Output {
    cmd(dir, args).output().unwrap()
}

/// Every item of a bot's history list (`rebalances`, `orders` or `fills`), oldest first,
/// walked page by page through `bot history` (`--before` the `next` each page prints); each
/// page's total is the same.
fn history_all(dir: &Path, bot: &str, list: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut before: Option<String> = None;
    let mut total = None;
    loop {
        let mut args = vec!["bot", "history", bot, "--limit", "7"];
        let flag = format!("--{list}");
        if list != "rebalances" {
            args.push(&flag);
        }
        if let Some(b) = &before {
            args.extend(["--before", b.as_str()]);
        }
        let page = ok_json(dir, &args);
        assert_eq!(page["list"], list);
        let t = page["total"].as_u64().unwrap();
        assert_eq!(
            *total.get_or_insert(t),
            t,
            "the total is the same on every page"
        );
        let got = page["items"].as_array().unwrap();
        assert!(got.len() <= 7);
        items.extend(got.iter().cloned());
        match page["next"].as_str() {
            Some(n) => before = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(items.len() as u64, total.unwrap_or(0));
    items.reverse();
    items
}

fn ok_json(dir: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = sf(dir, &a);
    assert!(
        out.status.success(),
        "{args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn fails(dir: &Path, args: &[&str], code: i32, needles: &[&str]) -> String {
    let out = sf(dir, args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: `{n}` not in: {err}");
    }
    err
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is not a decimal string"))
        .parse()
        .unwrap()
}

/// A stopped bot's view with its released holdings as `holdings`.
fn before_gone_held(view: &Value) -> Value {
    let released: Vec<Value> = view["stop_report"]["released"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| serde_json::json!({"asset": x[0], "quantity": x[1]}))
        .collect();
    serde_json::json!({ "holdings": released })
}

fn holdings(view: &Value) -> BTreeMap<String, Decimal> {
    view["holdings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["asset"].as_str().unwrap().to_string(),
                dec(&h["quantity"]),
            )
        })
        .collect()
}

#[test]
fn full_lifecycle_on_the_synthetic_market() {
    let dir = setup();
    let d = dir.path();
    let created = ok_json(
        d,
        &[
            "bot",
            "create",
            "--name",
            "core",
            "--targets",
            "BTC=50,ETH=30,SOL=20",
            "--trigger",
            "threshold:1",
            "--invest",
            "10000",
        ],
    );
    let view = &created["bot"];
    assert_eq!(view["summary"]["status"], "running", "{created}");
    assert_eq!(dec(&view["summary"]["net_invested"]), Decimal::from(10_000));
    assert_eq!(created["deploy"]["kind"], "deploy");
    let h = holdings(view);
    for a in ["BTC", "ETH", "SOL"] {
        assert!(h[a] > Decimal::ZERO, "{a} not bought: {h:?}");
    }
    // The deploy's weights are on target within the fee and lot rounding.
    for w in view["holdings"].as_array().unwrap() {
        if w["asset"] != "USDT" {
            assert!(dec(&w["deviation_pp"]).abs() < Decimal::ONE, "{w}");
        }
    }

    let list = ok_json(d, &["bot", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "core");
    assert_eq!(list[0]["targets"], "BTC=50,ETH=30,SOL=20");

    // Run the daemon for a bounded number of ticks: the threshold rebalances happen.
    let out = sf(d, &["run", "--max-ticks", "300", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["ticks"], 300);
    assert_eq!(summary["ended"], "max ticks");
    let rebalanced = summary["rebalanced"].as_u64().unwrap();
    assert!(rebalanced > 0, "{summary}");
    let hist = ok_json(d, &["bot", "history", "core"]);
    let rbs = history_all(d, "core", "rebalances");
    assert!(rbs.len() as u64 > rebalanced, "deploy + rebalances: {hist}");
    assert_eq!(
        hist["totals"]["rebalances"].as_u64(),
        Some(rbs.len() as u64)
    );
    assert_eq!(rbs[0]["kind"], "deploy");
    assert!(rbs.iter().all(|r| r["status"] != "open"));
    assert!(hist["last_snapshot"]["value"].is_string(), "{hist}");
    // Orders and fills page the same way.
    let fills = history_all(d, "core", "fills");
    assert_eq!(hist["totals"]["fills"].as_u64(), Some(fills.len() as u64));
    // A range: the items inside it, with the totals of the range; a range with none is empty.
    let first_day = ok_json(
        d,
        &[
            "bot",
            "history",
            "core",
            "--fills",
            "--to",
            "2024-01-01",
            "--limit",
            "500",
        ],
    );
    let inside = fills
        .iter()
        .filter(|f| f["time_ms"].as_i64().unwrap() < 1_704_153_600_000)
        .count();
    assert_eq!(first_day["items"].as_array().unwrap().len(), inside);
    assert_eq!(first_day["totals"]["fills"].as_u64(), Some(inside as u64));
    let none = ok_json(d, &["bot", "history", "core", "--from", "2030-01-01"]);
    assert_eq!(
        (
            none["total"].as_u64(),
            none["items"].as_array().unwrap().len()
        ),
        (Some(0), 0)
    );
    let text =
        String::from_utf8(sf(d, &["bot", "history", "core", "--limit", "2"]).stdout).unwrap();
    assert!(
        text.contains("2 of ") && text.contains("older: --before "),
        "{text}"
    );
    for (args, needles) in [
        (
            &["--limit", "0"][..],
            &["invalid limit: \"0\"", "1 to 500"][..],
        ),
        (&["--limit", "x"][..], &["invalid limit: \"x\""][..]),
        (
            &["--before", "12"][..],
            &["invalid before: \"12\"", "TIME:ID"][..],
        ),
        (
            &["--from", "2024-02-01", "--to", "2024-01-01"][..],
            &["invalid to"][..],
        ),
    ] {
        fails(
            d,
            &[&["bot", "history", "core"][..], args].concat(),
            2,
            needles,
        );
    }
    fails(d, &["bot", "history", "nope"], 2, &["unknown bot `nope`"]);
    // BTC orders respect its lot step.
    let step: Decimal = "0.00001".parse().unwrap();
    let orders = history_all(d, "core", "orders");
    assert_eq!(hist["totals"]["orders"].as_u64(), Some(orders.len() as u64));
    for o in &orders {
        if o["base"] == "BTC" {
            assert_eq!(dec(&o["quantity"]) % step, Decimal::ZERO, "{o}");
        }
    }
    // A second run continues market time after the first.
    let out = sf(d, &["run", "--max-ticks", "5", "--json"]);
    let s2: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(s2["first_ms"].as_i64().unwrap() > summary["last_ms"].as_i64().unwrap());

    let inv = ok_json(d, &["bot", "invest", "core", "--amount", "500"]);
    assert_eq!(
        dec(&inv["bot"]["summary"]["net_invested"]),
        Decimal::from(10_500)
    );
    assert_eq!(inv["rebalance"]["kind"], "invest");
    let w = ok_json(
        d,
        &[
            "bot",
            "withdraw",
            "core",
            "--amount",
            "300",
            "--mode",
            "overweights",
        ],
    );
    assert_eq!(dec(&w["withdrawal"]["withdrawn"]), Decimal::from(300));
    assert_eq!(
        dec(&w["bot"]["summary"]["net_invested"]),
        Decimal::from(10_200)
    );

    let m = ok_json(
        d,
        &[
            "bot",
            "modify",
            "core",
            "--trigger",
            "threshold:2",
            "--targets",
            "BTC=60,ETH=40",
        ],
    );
    assert_eq!(m["summary"]["trigger"], "threshold:2");
    assert_eq!(m["summary"]["targets"], "BTC=60,ETH=40");
    assert_eq!(
        ok_json(d, &["bot", "pause", "core"])["summary"]["status"],
        "paused"
    );
    assert_eq!(
        ok_json(d, &["bot", "resume", "1"])["summary"]["status"],
        "running"
    );

    let stop = ok_json(d, &["bot", "stop", "core", "--sell-all"]);
    assert_eq!(stop["bot"]["summary"]["status"], "stopped");
    let r = &stop["report"];
    assert_eq!(r["mode"], "sell_all");
    assert_eq!(dec(&r["net_invested"]), Decimal::from(10_200));
    assert_eq!(
        dec(&r["pnl"]),
        dec(&r["final_value"]) - Decimal::from(10_200)
    );
    // Everything was sold: quote is released, and at most dust below a lot step of the rest
    // (fees are taken from the coins bought, so holdings are not whole lots).
    let released = r["released"].as_array().unwrap();
    let usdt = released
        .iter()
        .find(|x| x[0] == "USDT")
        .expect("quote released");
    assert!(dec(&usdt[1]) > Decimal::from(9_000), "{r}");
    for x in released.iter().filter(|x| x[0] != "USDT") {
        assert!(dec(&x[1]) < "0.00001".parse::<Decimal>().unwrap(), "{r}");
    }

    // Human output: a table with the bot.
    let out = sf(d, &["bot", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("NAME") && text.contains("core") && text.contains("stopped"),
        "{text}"
    );
}

#[test]
fn bad_input_is_refused_and_nothing_changes() {
    let dir = setup();
    let d = dir.path();
    ok_json(
        d,
        &[
            "bot",
            "create",
            "--name",
            "a",
            "--assets",
            "BTC,ETH",
            "--threshold",
            "5",
            "--invest",
            "2000",
        ],
    );
    ok_json(
        d,
        &[
            "bot",
            "create",
            "--name",
            "gone",
            "--targets",
            "BTC=50,ETH=50",
            "--invest",
            "1000",
        ],
    );
    ok_json(d, &["bot", "stop", "gone", "--keep-coins"]);
    let before = ok_json(d, &["bot", "show", "a"]);
    let before_gone = ok_json(d, &["bot", "show", "gone"]);

    fails(d, &["bot", "show", "nope"], 2, &["unknown bot `nope`"]);
    fails(
        d,
        &["bot", "invest", "nope", "--amount", "100"],
        2,
        &["unknown bot"],
    );
    fails(
        d,
        &["bot", "modify", "gone", "--threshold", "3"],
        2,
        &["`gone` is stopped", "modify"],
    );
    fails(
        d,
        &["bot", "invest", "gone", "--amount", "100"],
        2,
        &["stopped"],
    );
    let e = fails(
        d,
        &["bot", "invest", "a", "--amount", "1"],
        2,
        &["below the minimum of"],
    );
    assert!(e.contains("USDT"), "{e}");
    fails(
        d,
        &["bot", "withdraw", "a", "--amount", "1000000"],
        2,
        &[
            "cannot deliver a withdrawal of 1000000 USDT",
            "it holds",
            "largest withdrawal it can deliver now is",
        ],
    );
    fails(
        d,
        &[
            "bot",
            "create",
            "--name",
            "x",
            "--targets",
            "BTC=50,ETH=40",
            "--invest",
            "100",
        ],
        2,
        &["targets"],
    );
    fails(
        d,
        &[
            "bot",
            "create",
            "--name",
            "a",
            "--targets",
            "BTC=50,ETH=50",
            "--invest",
            "1000",
        ],
        2,
        &["name"],
    );
    fails(
        d,
        &[
            "bot",
            "create",
            "--name",
            "big",
            "--targets",
            "BTC=50,ETH=50",
            "--invest",
            "1000000000",
        ],
        2,
        &["needed"],
    );
    fails(
        d,
        &["bot", "withdraw", "a", "--amount", "10", "--mode", "x"],
        2,
        &["mode"],
    );
    assert_eq!(ok_json(d, &["bot", "show", "a"]), before);
    assert_eq!(ok_json(d, &["bot", "show", "gone"]), before_gone);
    assert_eq!(ok_json(d, &["bot", "list"]).as_array().unwrap().len(), 2);

    // The coins `gone` kept are the account's again: another bot takes some of them in, and a
    // new bot is funded with coins (only the difference to its targets is traded).
    let eth = holdings(&before_gone_held(&before_gone))["ETH"];
    assert!(eth > Decimal::ZERO);
    let third = (eth / Decimal::from(3)).round_dp(6);
    let inv = ok_json(
        d,
        &["bot", "invest", "a", "--coins", &format!("ETH={third}")],
    );
    let after = holdings(&inv["bot"]);
    assert!(dec(&inv["bot"]["summary"]["net_invested"]) > Decimal::from(2000));
    assert!(after.contains_key("ETH"));
    let c = ok_json(
        d,
        &[
            "bot",
            "create",
            "--name",
            "coins",
            "--targets",
            "ETH=50,USDT=50",
            "--coins",
            &format!("ETH={third}"),
            "--stop-loss",
            "20",
            "--take-profit",
            "50",
            "--entry",
            "ETH=1",
        ],
    );
    assert_eq!(c["bot"]["config"]["stop_loss_pct"], "20");
    assert_eq!(c["bot"]["config"]["take_profit_pct"], "50");
    assert_eq!(c["bot"]["config"]["entry_prices"][0]["asset"], "ETH");
    // Coins only: nothing was bought (ETH is above its entry price), half was sold to quote.
    for o in history_all(d, "coins", "orders") {
        assert_eq!(o["side"], "sell", "{o}");
    }
    let before = ok_json(d, &["bot", "show", "a"]);

    // A corrupt config: the file, the line and the key are named; nothing is opened.
    let bad = d.join("bad.toml");
    std::fs::write(&bad, "quote = \"USDT\"\n[paper]\nfee_rat = \"0.001\"\n").unwrap();
    let out = sf(d, &["bot", "list", "--config", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.toml") && err.contains("line 3") && err.contains("fee_rat"),
        "{err}"
    );
    std::fs::write(&bad, "[market]\nseed = \"x\n").unwrap();
    let out = sf(d, &["bot", "list", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(&bad, "[paper]\nfee_rate = \"lots\"\n").unwrap();
    let out = sf(d, &["bot", "list", "--config", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("paper.fee_rate") && err.contains("lots"),
        "{err}"
    );
    assert_eq!(ok_json(d, &["bot", "show", "a"]), before);

    // A database from a newer smartfolio: refused, untouched.
    let db = d.join("data").join("smartfolio.db");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            use sqlx::ConnectOptions;
            let mut c = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&db)
                .connect()
                .await
                .unwrap();
            sqlx::query("UPDATE app_meta SET value = '99' WHERE key = 'schema_version'")
                .execute(&mut c)
                .await
                .unwrap();
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut c)
                .await
                .unwrap();
        });
    let bytes = std::fs::read(&db).unwrap();
    fails(d, &["bot", "list"], 2, &["newer smartfolio", "schema 99"]);
    fails(d, &["run", "--max-ticks", "1"], 2, &["newer smartfolio"]);
    assert_eq!(
        std::fs::read(&db).unwrap(),
        bytes,
        "the database was changed"
    );
}

#[test]
fn a_running_daemon_executes_the_commands() {
    let dir = setup();
    let d = dir.path();
    // 10 ticks per wall second (one hour of market time each).
    let mut daemon = sf_spawn(d, &["run", "--speed", "36000"]);
    wait_ready(d, &mut daemon);
    let created = ok_json(
        d,
        &[
            "bot",
            "create",
            "--name",
            "q",
            "--targets",
            "BTC=40,ETH=60",
            "--invest",
            "5000",
        ],
    );
    assert_eq!(created["bot"]["summary"]["status"], "running", "{created}");
    fails(d, &["bot", "show", "zzz"], 2, &["unknown bot"]);
    let out = sf(d, &["bot", "pause", "q", "--no-wait"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("queued as command #"));
    // The queue runs in order: the `show` queued after the `pause` sees it done.
    let v = ok_json(d, &["bot", "show", "q"]);
    assert_eq!(v["summary"]["status"], "paused", "{v}");
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    // The queue's record: every command done by the daemon (no in-process fallback while it ran).
    let out = sf(d, &["bot", "show", "q", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["status"], "paused");
}

fn sf_spawn(dir: &Path, args: &[&str]) -> std::process::Child {
    cmd(dir, args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn environment_overrides_and_targets_from_an_allocation() {
    let dir = setup();
    let d = dir.path();
    let alloc = d.join("alloc.json");
    std::fs::write(&alloc, r#"{"weights": {"BTC": "0.6", "ETH": "0.4"}}"#).unwrap();
    let run = |extra_env: &[(&str, &str)], args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_smartfolio"));
        for (k, _) in std::env::vars() {
            if k.starts_with("SMARTFOLIO_") {
                c.env_remove(k);
            }
        }
        c.current_dir(d)
            .env("SMARTFOLIO_DATA_DIR", d.join("envdata"))
            .env("SMARTFOLIO_PAPER_FEE_RATE", "0");
        for (k, v) in extra_env {
            c.env(k, v);
        }
        // ./smartfolio.toml in the working directory is found without --config.
        c.args(args).output().unwrap()
    };
    let out = run(
        &[],
        &[
            "bot",
            "create",
            "--name",
            "al",
            "--targets-from",
            alloc.to_str().unwrap(),
            "--invest",
            "1000",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["bot"]["summary"]["targets"], "BTC=60,ETH=40");
    // The fee override: a deploy without fees, the config's fee rate is the planner's too.
    assert_eq!(dec(&v["deploy"]["fees"]), Decimal::ZERO);
    assert_eq!(dec(&v["bot"]["config"]["fee_rate"]), Decimal::ZERO);
    assert!(d.join("envdata").join("smartfolio.db").is_file());
    assert!(!d.join("data").exists());

    let out = run(&[("SMARTFOLIO_LOG_FORMAT", "xml")], &["bot", "list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("log_format") && err.contains("xml"), "{err}");
    let out = run(&[("SMARTFOLIO_MARKET_SEED", "-3")], &["bot", "list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("SMARTFOLIO_MARKET_SEED"), "{err}");

    // A store that is not a PostgreSQL URL, or one this build cannot open (without the
    // `postgres` feature; with it, nothing listens on port 1): refused, the password masked,
    // the SQLite database in the data directory not created.
    std::fs::remove_dir_all(d.join("envdata")).unwrap();
    let out = run(
        &[("SMARTFOLIO_STORE", "mysql://sf:hunter2@db/sf")],
        &["bot", "list"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("invalid store") && err.contains("`mysql://sf:***@db/sf`"),
        "{err}"
    );
    let url = "postgres://sf:hunter2@127.0.0.1:1/sf";
    let out = run(&[("SMARTFOLIO_STORE", url)], &["bot", "list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("postgres://sf:***@127.0.0.1:1/sf"), "{err}");
    for e in [&err, &String::from_utf8_lossy(&out.stdout)] {
        assert!(!e.contains("hunter2"), "{e}");
    }
    assert!(!d.join("envdata").join("smartfolio.db").exists());
}

#[test]
fn a_slow_market_still_serves_commands_and_sigterm_stops_cleanly() {
    let dir = setup();
    let d = dir.path();
    // One tick per wall minute: the command is served between the first tick and the second
    // (the summary counts one tick), not at the next tick.
    let daemon = cmd(d, &["run", "--speed", "60", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut daemon = daemon;
    wait_ready(d, &mut daemon);
    let v = ok_json(
        d,
        &[
            "bot",
            "create",
            "--name",
            "s",
            "--assets",
            "BTC,SOL",
            "--invest",
            "3000",
            "--timeout",
            "45",
        ],
    );
    assert_eq!(v["bot"]["summary"]["status"], "running", "{v}");
    let status = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = daemon.wait_with_output().unwrap();
    assert!(out.status.success(), "the daemon failed on SIGTERM");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["ended"], "interrupted");
    assert_eq!(summary["commands"], 1);
    assert_eq!(summary["bots"], 1);
    assert_eq!(summary["ticks"], 1, "the command waited for a later tick");
}

/// Wait until the daemon has opened and recovered the data directory and accepts queued
/// commands: the `ready` line it adds to its lock file, the condition `smartfolio bot` itself
/// waits on before queueing (a pid alone means "still opening").
fn wait_ready(dir: &Path, daemon: &mut std::process::Child) {
    let lock = dir.join("data").join("daemon.lock");
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(&lock).unwrap_or_default();
        let mut lines = text.lines().map(str::trim);
        if lines.next() == Some(daemon.id().to_string().as_str()) && lines.any(|l| l == "ready") {
            return;
        }
        if let Some(status) = daemon.try_wait().unwrap() {
            panic!("the daemon exited before it was ready: {status}");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "the daemon did not become ready: {text:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn names_that_look_like_ids_or_paths_are_refused() {
    let dir = setup();
    let d = dir.path();
    for name in ["1", "42", ".", ".."] {
        fails(
            d,
            &[
                "bot",
                "create",
                "--name",
                name,
                "--targets",
                "BTC=50,ETH=50",
                "--invest",
                "1000",
            ],
            2,
            &["name", &format!("{name:?}"), "not all digits"],
        );
    }
    assert_eq!(ok_json(d, &["bot", "list"]).as_array().unwrap().len(), 0);
}

/// Issue 9, case 1: a withdrawal delivers the amount asked or fails. BTC's share of a small
/// withdrawal is below its minimum notional of 10: ETH raises it instead (it used to be dropped,
/// and `withdrew X of Y` exited 0). All of the bot's value (fees on top) is refused before
/// trading with the largest amount it can deliver (it used to withdraw less and exit 0).
#[test]
fn a_withdrawal_delivers_the_amount_or_fails() {
    let dir = setup();
    let d = dir.path();
    let created = ok_json(
        d,
        &[
            "bot",
            "create",
            "--name",
            "w",
            "--targets",
            "BTC=50,ETH=50",
            "--invest",
            "2000",
        ],
    );
    let cash = holdings(&created["bot"])
        .get("USDT")
        .copied()
        .unwrap_or_default();
    let amount = (cash + Decimal::from(7)).to_string();
    let w = ok_json(d, &["bot", "withdraw", "w", "--amount", &amount]);
    assert_eq!(w["withdrawal"]["withdrawn"], amount.as_str(), "{w}");
    let legs = w["withdrawal"]["rebalance"]["legs"].as_array().unwrap();
    assert!(
        legs.iter()
            .any(|l| l["asset"] == "BTC" && l["outcome"] == "skipped"),
        "{w}"
    );
    let value = dec(&w["bot"]["pnl"]["value"]).to_string();
    let before = ok_json(d, &["bot", "history", "w"])["totals"]["orders"].clone();
    fails(
        d,
        &["bot", "withdraw", "w", "--amount", &value],
        2,
        &["cannot deliver", "largest withdrawal it can deliver now is"],
    );
    let after = ok_json(d, &["bot", "history", "w"])["totals"]["orders"].clone();
    assert_eq!(after, before, "refused before trading");
}

/// A data directory with a running bot `sample` (BTC=50,ETH=30,SOL=20, 10000 USDT), as the
/// API's tests start.
fn setup_sample() -> tempfile::TempDir {
    let dir = setup();
    ok_json(
        dir.path(),
        &[
            "bot",
            "create",
            "--name",
            "sample",
            "--targets",
            "BTC=50,ETH=30,SOL=20",
            "--trigger",
            "threshold:5",
            "--invest",
            "10000",
        ],
    );
    dir
}

#[test]
fn the_command_table_has_the_same_outcomes_through_the_cli() {
    let dir = setup_sample();
    for c in CASES {
        let mut args = vec!["bot"];
        args.extend_from_slice(c.cli);
        args.push("--json");
        let out = sf(dir.path(), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match c.refused {
            None => assert!(
                out.status.success(),
                "{}: refused ({:?}): {stderr}",
                c.what,
                out.status.code()
            ),
            Some(field) => {
                assert_eq!(out.status.code(), Some(2), "{}: {stderr}", c.what);
                let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                    panic!("{}: {e}: {}", c.what, String::from_utf8_lossy(&out.stdout))
                });
                assert_eq!(v["ok"], false, "{}: {v}", c.what);
                assert_eq!(v["field"], field, "{}: {v} / {stderr}", c.what);
                if let Some(value) = c.value {
                    assert_eq!(v["value"], value, "{}: {v}", c.what);
                }
            }
        }
    }
    let v = ok_json(dir.path(), &["bot", "show", "coins-only"]);
    assert_eq!(v["summary"]["status"], "running", "{v}");
}

#[test]
fn bot_rebalance_trades_now_and_respects_the_cooldown() {
    let dir = setup_sample();
    ok_json(
        dir.path(),
        &[
            "bot",
            "modify",
            "sample",
            "--targets",
            "BTC=20,ETH=20,SOL=60",
            "--trigger",
            "threshold:99",
            "--cooldown",
            "1d",
        ],
    );
    // The deploy just rebalanced: inside the cooldown, only --force trades.
    fails(
        dir.path(),
        &["bot", "rebalance", "sample"],
        2,
        &["cooldown", "without force"],
    );
    let rows = || {
        ok_json(dir.path(), &["bot", "history", "sample"])["totals"]["rebalances"]
            .as_u64()
            .unwrap()
    };
    // Its preview: the orders it would send, and nothing changes.
    let first = rows();
    let pv = ok_json(
        dir.path(),
        &["bot", "rebalance", "sample", "--force", "--preview"],
    );
    assert_eq!(pv["action"], "rebalance", "{pv}");
    assert!(
        pv["legs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["asset"] == "SOL" && l["side"] == "buy"),
        "{pv}"
    );
    let text = sf(
        dir.path(),
        &["bot", "rebalance", "sample", "--force", "--preview"],
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("preview (nothing changes)") && text.contains("SOL"),
        "{text}"
    );
    assert_eq!(rows(), first, "a preview writes nothing");
    fails(
        dir.path(),
        &["bot", "show", "sample", "--preview"],
        2,
        &["no preview"],
    );
    let v = ok_json(dir.path(), &["bot", "rebalance", "sample", "--force"]);
    assert_eq!(v["rebalance"]["kind"], "rebalance", "{v}");
    let sol = v["bot"]["holdings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["asset"] == "SOL")
        .map(|h| dec(&h["weight_pct"]))
        .unwrap();
    assert!((sol - Decimal::from(60)).abs() < Decimal::from(2), "{v}");
    assert_eq!(rows(), first + 1);
    // Again until nothing can trade: the answer says why, and no rebalance row is written.
    let mut before = rows();
    let note = (0..5)
        .find_map(|_| {
            let v = ok_json(dir.path(), &["bot", "rebalance", "sample", "--force"]);
            let after = rows();
            if v["rebalance"].is_null() {
                assert_eq!(after, before, "nothing traded, nothing written: {v}");
                return Some(v["note"].as_str().unwrap_or_default().to_string());
            }
            before = after;
            None
        })
        .expect("the bot reaches its targets within a few rebalances");
    assert!(
        note.contains("nothing to trade") || note.contains("too small"),
        "{note}"
    );
}

// ------------------------------------------------ bot create --template and --from a profile

include!("../../node/tests/fixtures/templates.rs");

/// [`setup`] with the fixture's user templates and history (BTC and ETH, not SOL) in the data
/// directory.
fn setup_templates() -> tempfile::TempDir {
    let dir = setup();
    write_templates_and_history(&dir.path().join("data"));
    dir
}

/// `bot create NAME --template T`: the template's weights and recommended rule (what
/// `template show` prints), each flag overriding one setting.
#[test]
fn a_bot_from_a_template_takes_its_weights_and_recommended_rule() {
    let dir = setup_templates();
    let card = ok_json(dir.path(), &["template", "show", "pair"]);
    let rec = &card["recommendation"];
    let v = ok_json(
        dir.path(),
        &[
            "bot",
            "create",
            "core",
            "--template",
            "pair",
            "--invest",
            "500",
        ],
    );
    let c = &v["bot"]["config"];
    assert_eq!(v["name"], "core");
    assert_eq!(c["targets"], "BTC=70,ETH=30");
    assert_eq!(c["trigger"], rec["trigger"], "{v}");
    let cooldown_ms = match rec["cooldown"].as_str().unwrap() {
        "0" => 0,
        "3d" => 3 * 86_400_000,
        other => panic!("cooldown {other}"),
    };
    assert_eq!(c["cooldown_ms"], cooldown_ms);
    assert_eq!(v["bot"]["summary"]["status"], "running", "{v}");
    assert_eq!(v["template"]["template"], "pair");
    let notes = v["template"]["notes"].to_string();
    assert!(notes.contains("walk-forward"), "{notes}");

    // Each flag overrides one setting; the rest stay the template's.
    let v = ok_json(
        dir.path(),
        &[
            "bot",
            "create",
            "--name",
            "mine",
            "--template",
            "pair",
            "--trigger",
            "every:1d",
            "--invest",
            "500",
        ],
    );
    let c = &v["bot"]["config"];
    assert_eq!(c["targets"], "BTC=70,ETH=30");
    assert_eq!(c["trigger"], "every:1d");
    assert_eq!(c["cooldown_ms"], cooldown_ms);
    let v = ok_json(
        dir.path(),
        &[
            "bot",
            "create",
            "other",
            "--template",
            "pair",
            "--targets",
            "BTC=50,ETH=30,SOL=20",
            "--cooldown",
            "1h",
            "--invest",
            "500",
        ],
    );
    let c = &v["bot"]["config"];
    assert_eq!(c["targets"], "BTC=50,ETH=30,SOL=20");
    assert_eq!(c["trigger"], rec["trigger"]);
    assert_eq!(c["cooldown_ms"], 3_600_000);

    // A preview of a create from a template changes nothing.
    let out = sf(
        dir.path(),
        &[
            "bot",
            "create",
            "seen",
            "--template",
            "pair",
            "--invest",
            "500",
            "--preview",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("from template `pair`"), "{text}");
    assert!(text.contains("preview (nothing changes)"), "{text}");
    let list = ok_json(dir.path(), &["bot", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
}

#[test]
fn missing_history_is_named_and_the_template_falls_back_as_it_allows() {
    let dir = setup_templates();
    // Equal weight needs no history; without a recommendation the trigger is the default.
    let out = sf(
        dir.path(),
        &[
            "bot",
            "create",
            "eq",
            "--template",
            "trio",
            "--invest",
            "900",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("no price history: SOL"), "{text}");
    assert!(text.contains("no recommended trigger"), "{text}");
    let v = ok_json(dir.path(), &["bot", "show", "eq"]);
    assert_eq!(v["config"]["targets"], "BTC=33.34,ETH=33.33,SOL=33.33");
    assert_eq!(v["config"]["trigger"], "threshold:3");

    // A method that needs history refuses, naming the asset, and works with targets given.
    let out = sf(
        dir.path(),
        &[
            "bot",
            "create",
            "v",
            "--template",
            "vol",
            "--invest",
            "500",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&v["field"], &v["value"]),
        (&"template".into(), &"vol".into())
    );
    assert!(v["allowed"].as_str().unwrap().contains("SOL"), "{v}");
    let v = ok_json(
        dir.path(),
        &[
            "bot",
            "create",
            "v",
            "--template",
            "vol",
            "--assets",
            "BTC,SOL",
            "--invest",
            "500",
        ],
    );
    assert_eq!(v["bot"]["config"]["targets"], "BTC=50,SOL=50");
}

#[test]
fn an_unknown_template_lists_the_known_ones_and_nothing_is_created() {
    let dir = setup_templates();
    fails(
        dir.path(),
        &[
            "bot",
            "create",
            "x",
            "--template",
            "nope",
            "--invest",
            "500",
        ],
        2,
        &["template", "nope", "majors", "pair", "trio", "vol"],
    );
    // Neither targets nor a template.
    fails(
        dir.path(),
        &["bot", "create", "x", "--invest", "500"],
        2,
        &["--template"],
    );
    let list = ok_json(dir.path(), &["bot", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
}

fn config_of(dir: &Path, bot: &str) -> Value {
    ok_json(dir, &["bot", "show", bot])["config"].clone()
}

/// The settings a profile carries.
fn settings(c: &Value) -> Vec<Value> {
    [
        "targets",
        "trigger",
        "cooldown_ms",
        "stop_loss_pct",
        "take_profit_pct",
        "price_margin",
    ]
    .iter()
    .map(|k| c[*k].clone())
    .collect()
}

#[test]
fn an_exported_profile_creates_a_bot_with_the_same_settings() {
    let dir = setup_templates();
    let d = dir.path();
    ok_json(
        d,
        &[
            "bot",
            "create",
            "core",
            "--targets",
            "BTC=50,ETH=30.5,SOL=19.5",
            "--trigger",
            "every:1d+threshold:2",
            "--cooldown",
            "3d",
            "--stop-loss",
            "20",
            "--take-profit",
            "75.5",
            "--invest",
            "1000",
        ],
    );
    let out = sf(d, &["bot", "export", "core"]);
    assert!(out.status.success());
    let profile = String::from_utf8(out.stdout).unwrap();
    assert!(profile.contains("version = 1"), "{profile}");
    assert!(
        !profile.contains("1000"),
        "no money in a profile: {profile}"
    );
    let file = d.join("profile.toml");
    std::fs::write(&file, &profile).unwrap();
    let f = file.to_str().unwrap();

    let v = ok_json(
        d,
        &["bot", "create", "copy", "--from", f, "--invest", "500"],
    );
    assert_eq!(v["bot"]["summary"]["status"], "running", "{v}");
    let (core, copy) = (config_of(d, "core"), config_of(d, "copy"));
    assert_eq!(settings(&copy), settings(&core));
    assert_eq!(copy["cooldown_ms"], 3 * 86_400_000);
    assert_eq!(copy["investment"]["quote"], "500");
    // The copy exports the same profile.
    let again = sf(d, &["bot", "export", "copy"]);
    assert_eq!(String::from_utf8(again.stdout).unwrap(), profile);

    // A flag overrides one setting.
    ok_json(
        d,
        &[
            "bot",
            "create",
            "tweak",
            "--from",
            f,
            "--trigger",
            "every:2d",
            "--invest",
            "500",
        ],
    );
    let tweak = config_of(d, "tweak");
    assert_eq!(tweak["trigger"], "every:2d");
    assert_eq!(tweak["targets"], core["targets"]);
    assert_eq!(tweak["stop_loss_pct"], core["stop_loss_pct"]);

    // --json wraps the profile.
    let v = ok_json(d, &["bot", "export", "core"]);
    assert_eq!(v["profile"], profile.as_str());
}

#[test]
fn a_bad_profile_is_refused_naming_the_file_the_line_the_key_and_the_value() {
    let dir = setup_templates();
    let d = dir.path();
    let good =
        "version = 1\nassets = [\"BTC\", \"ETH\"]\nmethod = \"equal\"\ntrigger = \"threshold:5\"\n";
    let file = d.join("p.toml");
    let f = file.to_str().unwrap();
    let create = ["bot", "create", "x", "--from", f, "--invest", "500"];

    std::fs::write(&file, good).unwrap();
    let v = ok_json(d, &create);
    assert_eq!(v["bot"]["config"]["targets"], "BTC=50,ETH=50");
    assert_eq!(v["bot"]["config"]["trigger"], "threshold:5");
    let mut create = create;
    create[2] = "y";

    std::fs::write(&file, format!("{good}\n[risk]\nstop_loss = \"20\"\n")).unwrap();
    fails(
        d,
        &create,
        2,
        &[&format!("{f}:7: stop_loss"), "unknown field"],
    );
    std::fs::write(&file, good.replace("\"ETH\"]", "\"ETH\", \"DOGE\"]")).unwrap();
    fails(
        d,
        &create,
        2,
        &[&format!("{f}:2: assets"), "\"DOGE\"", "BTC, ETH, SOL"],
    );
    std::fs::write(&file, good.replace("version = 1", "version = 3")).unwrap();
    fails(d, &create, 2, &[&format!("{f}:1: version"), "\"3\""]);
    std::fs::write(&file, good.replace("threshold:5", "threshold:-1")).unwrap();
    fails(d, &create, 2, &[&format!("{f}:4: trigger"), "threshold:-1"]);
    fails(
        d,
        &[
            "bot",
            "create",
            "y",
            "--from",
            "missing.toml",
            "--invest",
            "1",
        ],
        2,
        &["missing.toml"],
    );
    // --json names them as fields.
    std::fs::write(&file, good.replace("version = 1", "version = 3")).unwrap();
    let mut a = create.to_vec();
    a.push("--json");
    let out = sf(d, &a);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["field"], format!("{f}:1: version"));
    assert_eq!(v["value"], "3");

    let list = ok_json(d, &["bot", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}

/// `[execution] max_slice`: a deploy's legs go in slices, and the rebalance record shows each
/// leg's style, orders, slices and fees (by the asset paid) in `create` and in `history`.
#[test]
fn sliced_legs_show_their_orders_and_fees_in_create_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = format!("{CONFIG}[execution]\nmax_slice = \"3000\"\nslice_interval = \"1ms\"\n");
    std::fs::write(d.join("smartfolio.toml"), config).unwrap();
    let args = [
        "bot",
        "create",
        "--name",
        "sliced",
        "--targets",
        "BTC=50,ETH=50",
        "--trigger",
        "threshold:5",
        "--invest",
        "10000",
    ];
    let created = ok_json(d, &args);
    let legs = created["deploy"]["legs"].as_array().unwrap();
    assert_eq!(legs.len(), 2, "{created}");
    for l in legs {
        let x = &l["execution"];
        assert_eq!(
            (x["style"].as_str(), x["slices"].as_u64()),
            (Some("market"), Some(2))
        );
        assert_eq!(x["orders"].as_array().unwrap().len(), 2, "{l}");
        let asset = l["asset"].as_str().unwrap();
        let paid = dec(&x["fees"][asset]);
        // 0.1% of what was bought, paid in the asset bought.
        assert_eq!(paid, dec(&l["filled_quantity"]) * Decimal::new(1, 3), "{l}");
    }
    let text =
        String::from_utf8(sf(d, &["bot", "history", "sliced", "--limit", "1"]).stdout).unwrap();
    assert!(text.contains("legs:"), "{text}");
    for a in ["BTC", "ETH"] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("buy {a} filled")))
            .unwrap_or_else(|| panic!("no {a} leg in {text}"));
        assert!(
            line.contains(&format!(" {a} (value ")) && line.contains("market, 2 order(s)"),
            "{line}"
        );
        assert!(line.contains("2 slice(s)"), "{line}");
    }
}

/// `[execution] max_volume_share` on a venue that reports no 24 h volume (the paper venue
/// without a book model): the legs go in `max_slice`'s slices alone, and the record and
/// `history` say why.
#[test]
fn a_volume_share_without_a_venue_volume_slices_by_max_slice_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = format!(
        "{CONFIG}[execution]\nmax_slice = \"3000\"\nmax_volume_share = \"0.05\"\n\
         slice_interval = \"1ms\"\n"
    );
    std::fs::write(d.join("smartfolio.toml"), config).unwrap();
    let args = [
        "bot",
        "create",
        "--name",
        "vol",
        "--targets",
        "BTC=50,ETH=50",
        "--trigger",
        "threshold:5",
        "--invest",
        "10000",
    ];
    let created = ok_json(d, &args);
    let legs = created["deploy"]["legs"].as_array().unwrap();
    assert_eq!(legs.len(), 2, "{created}");
    for l in legs {
        let x = &l["execution"];
        assert_eq!(x["slices"].as_u64(), Some(2), "{l}");
        let note = x["slicing"].as_str().unwrap();
        assert!(
            note.contains("max_volume_share not applied: the venue does not report a 24 h volume")
                && note.contains("sliced by max_slice 3000 alone"),
            "{note}"
        );
    }
    let text = String::from_utf8(sf(d, &["bot", "history", "vol", "--limit", "1"]).stdout).unwrap();
    for a in ["BTC", "ETH"] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("buy {a} filled")))
            .unwrap_or_else(|| panic!("no {a} leg in {text}"));
        assert!(
            line.contains(&format!(
                "max_volume_share not applied: the venue does not report a 24 h volume of {a}"
            )),
            "{line}"
        );
    }
    // A share outside (0, 1] is refused naming the key, the value and the range.
    std::fs::write(
        d.join("smartfolio.toml"),
        format!("{CONFIG}[execution]\nmax_volume_share = 2\n"),
    )
    .unwrap();
    let out = sf(d, &["bot", "list"]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert!(
        err.contains("execution.max_volume_share")
            && err.contains("\"2\"")
            && err.contains("(0, 1]"),
        "{err}"
    );
}

/// A config of two paper accounts: the default `main` and `side-1`.
fn two_paper_accounts() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("smartfolio.toml"),
        format!("{CONFIG}\n[accounts.side-1]\nvenue = {{ kind = \"paper\" }}\n"),
    )
    .unwrap();
    dir
}

/// Two paper accounts in one data directory (`[accounts.NAME]`, issue 12): `bot create
/// --account` puts a bot on one, in process and through a running daemon, each trading its own
/// paper account; `bot list` lists both; an account that is not configured is refused naming
/// what is allowed; `run` drives every account.
#[test]
fn bots_on_two_accounts_in_one_data_directory() {
    let dir = two_paper_accounts();
    let d = dir.path();
    let create = |name: &str, account: Option<&str>| {
        let mut args = vec![
            "bot",
            "create",
            name,
            "--targets",
            "BTC=50,ETH=50",
            "--invest",
            "1000",
        ];
        if let Some(a) = account {
            args.extend(["--account", a]);
        }
        ok_json(d, &args)
    };
    let v = create("on-side", Some("side-1"));
    assert_eq!(v["bot"]["summary"]["status"], "running", "{v}");
    assert_eq!(v["bot"]["config"]["account"], "side-1", "{v}");
    let v = create("on-main", None);
    assert_eq!(v["bot"]["config"]["account"], "main", "{v}");
    // Commands on a bot reach its account.
    let v = ok_json(d, &["bot", "show", "on-side"]);
    assert_eq!(v["config"]["account"], "side-1", "{v}");
    let list = ok_json(d, &["bot", "list"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["on-side", "on-main"], "{list}");
    fails(
        d,
        &[
            "bot",
            "create",
            "x",
            "--targets",
            "BTC=50,ETH=50",
            "--invest",
            "100",
            "--account",
            "nope",
        ],
        2,
        &["account", "nope", "main (paper), side-1 (paper)"],
    );

    // A daemon of both accounts: a create queued to it lands on the account it names.
    let mut daemon = sf_spawn(d, &["run", "--speed", "36000"]);
    wait_ready(d, &mut daemon);
    let v = create("later", Some("side-1"));
    assert_eq!(v["bot"]["config"]["account"], "side-1", "{v}");
    assert_eq!(v["bot"]["summary"]["status"], "running", "{v}");
    let v = ok_json(d, &["bot", "pause", "on-main"]);
    assert_eq!(v["summary"]["status"], "paused", "{v}");
    let list = ok_json(d, &["bot", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    // `run` drives every account, each its own bots.
    let out = sf(d, &["run", "--speed", "max", "--max-ticks", "5"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("account main: ran 5 ticks, 1 bots")
            && text.contains("account side-1: ran 5 ticks, 2 bots"),
        "{text}"
    );
}

mod common;

/// One HTTP request (see [`common::http`]), its body as JSON.
fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let (status, text) = common::http(addr, method, path, token, body);
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {status} {text}"));
    (status, v)
}

/// `run --http` of [`two_paper_accounts`], started: its stdout after the token's line, the
/// API's address and token.
struct Http2 {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
    addr: String,
    token: String,
}

fn run_http_two_accounts(d: &Path) -> Http2 {
    use std::io::BufRead;
    let mut child = cmd(d, &["run", "--http", "0", "--speed", "36000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let (mut addr, mut token, mut lines) = (None, None, Vec::new());
    while token.is_none() {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "ended: {lines:?}");
        let line = line.trim().to_string();
        if let Some(url) = line.strip_prefix("smartfolio run: http://") {
            addr = Some(url.trim_end_matches('/').to_string());
        }
        if line.starts_with("API token (shown once") {
            token = line.rsplit(' ').next().map(str::to_string);
        }
        lines.push(line);
    }
    assert!(
        lines.contains(&"accounts: main (paper), side-1 (paper)".to_string()),
        "{lines:?}"
    );
    Http2 {
        child,
        out,
        addr: addr.expect("a URL"),
        token: token.unwrap(),
    }
}

/// `run --http` with two paper accounts (issue 12): one daemon trades both and its API serves
/// both. A create with `account` lands on that account and one without on the default; `GET
/// /api/bots` lists the bots of both with their accounts, and `by_venue` has a row each; a
/// control on the second account's bot, and its preview, run on that account's loop (the
/// default account's runtime does not hold the bot: run there, they would be refused as
/// unknown).
#[test]
fn run_http_serves_two_accounts() {
    let dir = two_paper_accounts();
    let d = dir.path();
    let Http2 {
        mut child,
        mut out,
        addr,
        token,
    } = run_http_two_accounts(d);
    let (status, v) = http(&addr, "GET", "/api/status", None, "");
    assert_eq!((status, v["mode"].as_str()), (200, Some("daemon")), "{v}");
    let create = |name: &str, account: &str| {
        let account = match account {
            "" => String::new(),
            a => format!(r#","account":"{a}""#),
        };
        let body = format!(
            r#"{{"name":"{name}","targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":"1000"{account}}}"#
        );
        http(&addr, "POST", "/api/bots", Some(&token), &body)
    };
    let (status, v) = create("on-side", "side-1");
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["bot"]["config"]["account"], "side-1", "{v}");
    assert_eq!(v["bot"]["summary"]["status"], "running", "{v}");
    let (status, v) = create("on-main", "");
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["bot"]["config"]["account"], "main", "{v}");
    let (status, v) = create("nowhere", "nope");
    assert_eq!(status, 422, "{v}");
    assert!(v.to_string().contains("nope"), "{v}");

    let (status, list) = http(&addr, "GET", "/api/bots", None, "");
    assert_eq!(status, 200, "{list}");
    let mut bots: Vec<(String, String)> = list["bots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].to_string(), b["account"].to_string()))
        .collect();
    bots.sort();
    assert_eq!(
        bots,
        [
            (r#""on-main""#.into(), r#""main""#.into()),
            (r#""on-side""#.into(), r#""side-1""#.into())
        ],
        "{list}"
    );
    let mut rows: Vec<String> = list["by_venue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{}/{}:{}", t["venue"], t["account"], t["bots"]))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [r#""paper"/"main":1"#, r#""paper"/"side-1":1"#],
        "{list}"
    );

    // The previews the dashboard shows before it acts are planned on the bot's account.
    let body = r#"{"name":"next","targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":"1000","account":"side-1"}"#;
    let (status, v) = http(&addr, "POST", "/api/preview/create", None, body);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["action"], "create", "{v}");
    assert_eq!(v["legs"].as_array().map(Vec::len), Some(2), "{v}");
    let (status, v) = http(
        &addr,
        "POST",
        "/api/bots/on-side/preview",
        None,
        r#"{"action":"pause"}"#,
    );
    assert_eq!((status, v["action"].as_str()), (200, Some("pause")), "{v}");

    let (status, v) = http(&addr, "POST", "/api/bots/on-side/pause", Some(&token), "{}");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["summary"]["status"], "paused", "{v}");
    let (_, v) = http(&addr, "GET", "/api/bots/on-side", None, "");
    assert_eq!(v["summary"]["status"], "paused", "{v}");
    assert_eq!(v["config"]["account"], "side-1", "{v}");
    let (_, v) = http(&addr, "GET", "/api/bots/on-main", None, "");
    assert_eq!(v["summary"]["status"], "running", "{v}");

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "{rest}");
    assert!(
        rest.contains("daemon stopped: 2 bots")
            && rest.contains("account main: ran")
            && rest.contains("account side-1: ran"),
        "{rest}"
    );
}

/// `run --http` with two paper accounts: the API's price history is the default account's
/// market, as the daemon ticks it, so the allocation and backtest previews (and a create with
/// an allocation method) answer as in a one-account `run --http`, instead of failing for lack
/// of history.
#[test]
fn run_http_with_two_accounts_previews_over_the_default_accounts_prices() {
    let dir = two_paper_accounts();
    let d = dir.path();
    // `_out` keeps the daemon's stdout open to the end: dropped, the daemon's next line would
    // meet a closed pipe and end it.
    let Http2 {
        mut child,
        out: _out,
        addr,
        token,
    } = run_http_two_accounts(d);
    // The history only grows (bars are never dropped below its capacity): wait, bounded, for
    // enough of it; /api/status is the only place the API tells it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let (code, v) = http(&addr, "GET", "/api/status", None, "");
        assert_eq!(code, 200, "{v}");
        if v["history_bars"].as_u64().unwrap_or(0) >= 30 {
            break v;
        }
        assert!(Instant::now() < deadline, "no price history: {v}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status["mode"], "daemon", "{status}");
    assert!(status["market_time_ms"].as_i64().is_some(), "{status}");
    let (code, v) = http(
        &addr,
        "POST",
        "/api/preview/allocation",
        None,
        r#"{"assets":["BTC","ETH"],"method":"inverse-vol"}"#,
    );
    assert_eq!(code, 200, "{v}");
    let w = v["weights_pct"].as_array().expect("weights");
    assert_eq!(w.len(), 2, "{v}");
    let sum: f64 = w.iter().map(|x| x.as_f64().unwrap()).sum();
    assert!(
        (sum - 100.0).abs() < 1e-6 && w.iter().all(|x| x.as_f64().unwrap() > 0.0),
        "{v}"
    );
    let (code, v) = http(
        &addr,
        "POST",
        "/api/preview/backtest",
        None,
        r#"{"assets":["BTC","ETH"],"method":"min-variance","trigger":"threshold:5"}"#,
    );
    assert_eq!(code, 200, "{v}");
    // A create with an allocation method, on the second account.
    let (code, v) = http(
        &addr,
        "POST",
        "/api/bots",
        Some(&token),
        r#"{"name":"by-vol","assets":["BTC","ETH"],"method":"inverse-vol","trigger":"threshold:5","investment":"1000","account":"side-1"}"#,
    );
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["bot"]["config"]["account"], "side-1", "{v}");
    child.kill().unwrap();
    child.wait().unwrap();
}
