//! `smartfolio gains` end to end on the real binary: a bot funded with quote and coins (no basis
//! given) trades on the seeded synthetic market, stops keeping its coins, and its realized
//! gains by every lot method add up against its orders and deposits; bad input.

use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

const CONFIG: &str = r#"
quote = "USDT"
cooldown = "0"
snapshot_interval = "1d"
[paper]
fee_rate = "0.001"
balances = { USDT = "100000", BTC = "1" }
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

/// The synthetic market starts on 2024-01-01 (market time).
const YEAR: &str = "2024";

/// The binary on the data directory of `dir`, without `SMARTFOLIO_*` from the environment.
fn run(dir: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smartfolio"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SMARTFOLIO_") {
            c.env_remove(k);
        }
    }
    c.current_dir(dir)
        .args(args)
        .arg("--config")
        .arg(dir.join("smartfolio.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .output()
        .unwrap()
}

fn json_of(dir: &Path, args: &[&str]) -> Value {
    let out = run(dir, &[args, &["--json"]].concat());
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("a decimal string: {v}"))
        .parse()
        .unwrap()
}

/// A bot `core` with 10000 USDT and 0.1 BTC brought in, 300 hours of trading at a 1 pp
/// threshold, then stopped keeping its coins.
fn traded_and_kept() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("smartfolio.toml"), CONFIG).unwrap();
    let create = [
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
        "--coins",
        "BTC=0.1",
    ];
    json_of(d, &create);
    let ran = json_of(d, &["run", "--max-ticks", "300"]);
    assert!(ran["rebalanced"].as_u64().unwrap() > 2, "{ran}");
    json_of(d, &["bot", "stop", "core", "--keep-coins"]);
    dir
}

/// Per asset: a sum over `items` of `field`.
fn by_asset(items: &Value, field: &str) -> BTreeMap<String, Decimal> {
    let mut m = BTreeMap::new();
    for i in items.as_array().unwrap() {
        *m.entry(i["asset"].as_str().unwrap().to_string())
            .or_default() += dec(&i[field]);
    }
    m
}

#[test]
fn gains_by_every_method_add_up_against_the_orders_and_deposits() {
    let dir = traded_and_kept();
    let d = dir.path();
    let history = json_of(d, &["bot", "history", "core", "--orders", "--limit", "500"]);
    assert!(history["next"].is_null(), "one page holds every order");
    // What the ledger says, from the orders (the paper venue takes a buy's fee from the base
    // received and a sell's from the quote) and the coins brought in.
    let mut sold: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut acquired: BTreeMap<String, Decimal> = BTreeMap::new();
    let fee = Decimal::new(1, 3);
    for o in history["items"].as_array().unwrap() {
        let q = dec(&o["filled_quantity"]);
        let base = o["base"].as_str().unwrap().to_string();
        if o["side"] == "sell" {
            *sold.entry(base).or_default() += q;
        } else {
            *acquired.entry(base).or_default() += q * (Decimal::ONE - fee);
        }
    }
    for f in history["flows"].as_array().unwrap() {
        if f["asset"] != "USDT" {
            *acquired
                .entry(f["asset"].as_str().unwrap().into())
                .or_default() += dec(&f["amount"]);
        }
    }
    assert!(!sold.is_empty(), "the bot sold something: {history}");

    let mut basis_by_method = Vec::new();
    for method in ["fifo", "lifo", "hifo", "average"] {
        let r = json_of(
            d,
            &["gains", "--bot", "core", "--method", method, "--year", YEAR],
        );
        assert_eq!(r["method"], method);
        assert_eq!(r["long_term_days"], 365);
        let b = &r["bots"][0];
        assert_eq!(b["name"], "core");
        let disposals = &b["disposals"];
        for x in disposals.as_array().unwrap() {
            assert_eq!(x["kind"], "sell", "{x}");
            assert_eq!(dec(&x["proceeds"]) - dec(&x["cost"]), dec(&x["gain"]));
            let lots = &x["lots"];
            for field in ["quantity", "cost", "proceeds"] {
                assert_eq!(
                    sum_of(lots, field),
                    dec(&x[field]),
                    "{method}: lots' {field} of {x}"
                );
            }
            // 300 hours: everything is short-term.
            assert_eq!(x["term"], "short");
        }
        // Every unit sold is a disposal; every unit acquired was sold or released.
        assert_eq!(by_asset(disposals, "quantity"), sold, "{method}");
        let released = by_asset(&b["transfers_out"], "quantity");
        for (asset, q) in &acquired {
            let out = sold.get(asset).copied().unwrap_or_default()
                + released.get(asset).copied().unwrap_or_default();
            assert_eq!(out, *q, "{method}: {asset}");
        }
        assert!(
            b["transfers_out"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["kind"] == "release")
        );
        // Totals: per asset, then all (`*`), short + long = total.
        let totals = b["totals"].as_array().unwrap();
        let all = totals.last().unwrap();
        assert_eq!(all["asset"], "*");
        let gains: Decimal = disposals
            .as_array()
            .unwrap()
            .iter()
            .map(|x| dec(&x["gain"]))
            .sum();
        assert_eq!(dec(&all["total"]["gain"]), gains);
        for t in totals {
            assert_eq!(
                dec(&t["short_term"]["gain"]) + dec(&t["long_term"]["gain"]),
                dec(&t["total"]["gain"])
            );
        }
        // Whatever the method, the basis sold plus the basis released is all that was paid.
        let mut basis = by_asset(disposals, "cost");
        for (a, c) in by_asset(&b["transfers_out"], "cost") {
            *basis.entry(a).or_default() += c;
        }
        let proceeds = by_asset(disposals, "proceeds");
        basis_by_method.push((basis, proceeds));
        if method == "fifo" {
            // The coins brought in are BTC's oldest lot: its first sell uses their market price.
            let first_btc = disposals
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["asset"] == "BTC")
                .unwrap();
            assert_eq!(first_btc["flags"][0], "basis_from_market", "{first_btc}");
            assert_eq!(first_btc["lots"][0]["basis"], "market");
        }
    }
    for (basis, proceeds) in &basis_by_method[1..] {
        for (a, c) in basis {
            let diff = (*c - basis_by_method[0].0[a]).abs();
            assert!(
                diff < Decimal::new(1, 12),
                "{a}: {c} against {}",
                basis_by_method[0].0[a]
            );
        }
        assert_eq!(*proceeds, basis_by_method[0].1);
    }

    // The human table names the disposals and the lots.
    let out = run(d, &["gains", "--bot", "core", "--year", YEAR]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("realized gains 2024 by fifo"), "{text}");
    assert!(text.contains("lot of 2024-01-01"), "{text}");
    assert!(text.contains("left the bot (release)"), "{text}");
}

/// `bot create --coins BTC=0.1@50000` and `invest --coins ETH=0.5@3000` store each unit's cost
/// with the coins' flow (none without `@`); a cost that is not a price is refused naming the
/// coin, the value and what is allowed, and nothing is created.
#[test]
fn coins_brought_in_carry_the_basis_given() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("smartfolio.toml"), CONFIG).unwrap();
    let create = [
        "bot",
        "create",
        "--name",
        "c",
        "--targets",
        "BTC=50,ETH=50",
        "--trigger",
        "threshold:5",
        "--invest",
        "1000",
    ];
    for (coins, value) in [
        ("BTC=0.1@-5", "-5"),
        ("BTC=0.1@abc", "abc"),
        ("BTC=0.1@", ""),
        ("BTC=0.1@0", "0"),
    ] {
        let out = run(d, &[&create[..], &["--coins", coins]].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{coins}: {err}");
        assert!(
            err.contains(&format!("invalid coins.BTC.basis: \"{value}\""))
                && err.contains("a price in quote"),
            "{coins}: {err}"
        );
    }
    // Nothing was created: the name is free.
    json_of(d, &[&create[..], &["--coins", "BTC=0.1@50000"]].concat());
    json_of(d, &["bot", "invest", "c", "--coins", "BTC=0.2@40000.5"]);
    json_of(d, &["bot", "invest", "c", "--coins", "BTC=0.05"]);
    let h = json_of(d, &["bot", "history", "c"]);
    let basis: Vec<(String, Value)> = h["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["asset"].as_str().unwrap().to_string(), f["basis"].clone()))
        .collect();
    assert_eq!(
        basis,
        [
            ("USDT".to_string(), Value::Null),
            ("BTC".to_string(), Value::from("50000")),
            ("BTC".to_string(), Value::from("40000.5")),
            ("BTC".to_string(), Value::Null),
        ]
    );
}

/// `field` summed over `items`, whatever their asset.
fn sum_of(items: &Value, field: &str) -> Decimal {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| dec(&i[field]))
        .sum()
}

#[test]
fn gains_bad_input_and_empty_years() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("smartfolio.toml"), CONFIG).unwrap();
    // No database yet: no bots, and nothing is created.
    let r = json_of(d, &["gains", "--all", "--year", YEAR]);
    assert_eq!(r["bots"], serde_json::json!([]));
    assert!(!d.join("data").exists());
    let create = ["bot", "create", "--name", "a", "--targets", "BTC=50,ETH=50"];
    json_of(
        d,
        &[
            &create[..],
            &["--trigger", "threshold:5", "--invest", "1000"],
        ]
        .concat(),
    );
    let create_b = ["bot", "create", "--name", "b", "--targets", "SOL=60,ETH=40"];
    json_of(
        d,
        &[
            &create_b[..],
            &["--trigger", "threshold:5", "--invest", "500"],
        ]
        .concat(),
    );

    // A year without activity is an empty report.
    let r = json_of(d, &["gains", "--all", "--year", "2019", "--method", "hifo"]);
    assert_eq!(r["bots"].as_array().unwrap().len(), 2);
    for b in r["bots"].as_array().unwrap() {
        assert_eq!(b["disposals"], serde_json::json!([]));
        assert_eq!(b["totals"], serde_json::json!([]));
    }
    assert_eq!(r["all"][0]["quote"], "USDT");
    assert_eq!(r["all"][0]["totals"], serde_json::json!([]));
    let out = run(d, &["gains", "--bot", "2", "--year", "2019"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("bot b (2)"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no disposals in 2019"));

    let cases: [(&[&str], &[&str]); 7] = [
        (
            &["gains", "--bot", "nope", "--year", YEAR],
            &["invalid bot: \"nope\"", "the id or name of an existing bot"],
        ),
        (
            &["gains", "--bot", "9", "--year", YEAR],
            &["invalid bot: \"9\""],
        ),
        (
            &["gains", "--all", "--method", "lofi", "--year", YEAR],
            &["invalid method: \"lofi\"", "fifo, lifo, hifo or average"],
        ),
        (
            &["gains", "--all", "--year", "24"],
            &["invalid year: \"24\"", "1970 to 9999"],
        ),
        (
            &["gains", "--all", "--year", YEAR, "--long-term-days", "0"],
            &["invalid long-term-days: \"0\""],
        ),
        (&["gains", "--year", YEAR], &["--bot", "--all"]),
        (
            &["gains", "--bot", "a", "--all", "--year", YEAR],
            &["cannot be used with"],
        ),
    ];
    for (args, needles) in cases {
        let out = run(d, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: {err}");
        }
    }
    // --json failures name the field, the value and what is allowed.
    let out = run(d, &["gains", "--bot", "nope", "--year", YEAR, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&v["ok"], &v["field"], &v["value"]),
        (
            &Value::Bool(false),
            &Value::from("bot"),
            &Value::from("nope")
        )
    );
}

/// The ledger as stored: `(id, bot name, asset, amount text, kind)`, in id order.
fn stored_ledger(dir: &Path) -> Vec<(i64, String, String, String, String)> {
    let db = dir.join("data").join("smartfolio.db");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            use sqlx::ConnectOptions;
            let mut c = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&db)
                .read_only(true)
                .connect()
                .await
                .unwrap();
            sqlx::query_as(
                "SELECT ledger.id, bots.name, asset, amount, kind FROM ledger \
                 JOIN bots ON bots.id = ledger.bot_id ORDER BY ledger.id",
            )
            .fetch_all(&mut c)
            .await
            .unwrap()
        })
}

/// The CSV's header and rows, split on commas (the generic export has no quoted fields here).
fn csv(text: &str) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells.len(), header.len(), "{l}");
            header
                .iter()
                .cloned()
                .zip(cells.into_iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

#[test]
fn the_generic_export_reconciles_with_the_ledger_to_the_unit() {
    let dir = traded_and_kept();
    let d = dir.path();
    let create = [
        "bot",
        "create",
        "--name",
        "side",
        "--targets",
        "ETH=50,SOL=50",
    ];
    json_of(
        d,
        &[
            &create[..],
            &["--trigger", "threshold:5", "--invest", "800"],
        ]
        .concat(),
    );
    let ledger = stored_ledger(d);

    let out = run(d, &["export", "--all", "--format", "generic"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (header, rows) = csv(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(
        header.join(","),
        "ledger_id,time,time_ms,bot,venue,kind,asset,quantity,price,quote_value,fee,fee_asset,order_id,fill_id,reference"
    );
    // One row per ledger entry, each with the amount exactly as stored.
    assert_eq!(rows.len(), ledger.len());
    let mut exported: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    let mut stored: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    for (row, (id, bot, asset, amount, kind)) in rows.iter().zip(&ledger) {
        assert_eq!(row["ledger_id"], id.to_string());
        assert_eq!(
            (&row["bot"], &row["asset"], &row["kind"]),
            (bot, asset, kind)
        );
        assert_eq!(row["quantity"], *amount, "ledger entry {id}");
        *exported.entry((bot.clone(), asset.clone())).or_default() +=
            row["quantity"].parse::<Decimal>().unwrap();
        *stored.entry((bot.clone(), asset.clone())).or_default() +=
            amount.parse::<Decimal>().unwrap();
        if kind == "trade" {
            assert!(
                !row["price"].is_empty() && !row["fill_id"].is_empty(),
                "{row:?}"
            );
            assert!(row["order_id"].starts_with("sf"), "{row:?}");
        }
    }
    // Every asset of every bot adds up to the unit; `core` released everything.
    assert_eq!(exported, stored);
    for ((bot, asset), sum) in &exported {
        if bot == "core" {
            assert_eq!(*sum, Decimal::ZERO, "{asset}");
        }
    }
    assert!(rows.iter().any(|r| r["kind"] == "release"));
    assert!(rows.iter().any(|r| r["kind"] == "fee"));
    assert!(
        rows.iter()
            .filter(|r| r["kind"] == "deposit")
            .all(|r| !r["quote_value"].is_empty() && r["reference"].starts_with("flow:"))
    );

    // Koinly's and CoinTracker's files: one row per fill, deposit, withdrawal and release,
    // whose quantities add up to the ledger per asset, to the unit.
    let mut ledger_sum: BTreeMap<String, Decimal> = BTreeMap::new();
    for (_, _, asset, amount, _) in &ledger {
        *ledger_sum.entry(asset.clone()).or_default() += amount.parse::<Decimal>().unwrap();
    }
    let fills: std::collections::BTreeSet<&String> = rows
        .iter()
        .filter_map(|r| r.get("fill_id"))
        .filter(|f| !f.is_empty())
        .collect();
    let moves = rows.iter().filter(|r| r["fill_id"].is_empty()).count();
    for (format, header, sides) in [
        (
            "koinly",
            "Date,Sent Amount,Sent Currency,Received Amount,Received Currency,Fee Amount,Fee Currency,Net Worth Amount,Net Worth Currency,Label,Description,TxHash",
            [
                ("Received Amount", "Received Currency"),
                ("Sent Amount", "Sent Currency"),
                ("Fee Amount", "Fee Currency"),
            ],
        ),
        (
            "cointracker",
            "Date,Received Quantity,Received Currency,Sent Quantity,Sent Currency,Fee Amount,Fee Currency,Tag",
            [
                ("Received Quantity", "Received Currency"),
                ("Sent Quantity", "Sent Currency"),
                ("Fee Amount", "Fee Currency"),
            ],
        ),
    ] {
        let out = run(d, &["export", "--all", "--format", format]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (h, txs) = csv(&String::from_utf8(out.stdout).unwrap());
        assert_eq!(h.join(","), header);
        // A fill is one row; every other ledger entry (a flow, one asset's release) is one.
        assert_eq!(txs.len(), fills.len() + moves, "{format}");
        let mut sum: BTreeMap<String, Decimal> = BTreeMap::new();
        for (t, (q, c)) in txs.iter().flat_map(|t| sides.iter().map(move |s| (t, *s))) {
            if !t[q].is_empty() {
                let sign = if q.starts_with("Received") {
                    Decimal::ONE
                } else {
                    -Decimal::ONE
                };
                *sum.entry(t[c].clone()).or_default() += t[q].parse::<Decimal>().unwrap() * sign;
            }
        }
        assert_eq!(sum, ledger_sum, "{format}: per asset, to the unit");
        let label = if format == "koinly" { "Label" } else { "Tag" };
        assert!(txs.iter().all(|t| t[label].is_empty()), "{format}");
    }

    // A year without activity is the header alone.
    let out = run(
        d,
        &[
            "export",
            "--all",
            "--format",
            "koinly",
            "--from",
            "2019-01-01",
            "--to",
            "2019-12-31",
        ],
    );
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);

    // One bot, a window of time, a file.
    let file = d.join("core.csv");
    let f = file.to_str().unwrap();
    let window = ["--from", "2024-01-02", "--to", "2024-01-04"];
    let args = [
        &["export", "--bot", "core", "--format", "generic", "--out", f][..],
        &window,
    ]
    .concat();
    let out = run(d, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, some) = csv(&std::fs::read_to_string(&file).unwrap());
    assert!(!some.is_empty());
    let (lo, hi) = (1_704_153_600_000_i64, 1_704_412_800_000_i64); // 2024-01-02, 2024-01-05
    for r in &some {
        let t: i64 = r["time_ms"].parse().unwrap();
        assert!(lo <= t && t < hi && r["bot"] == "core", "{r:?}");
    }
    let inside = rows
        .iter()
        .filter(|r| r["bot"] == "core")
        .filter(|r| (lo..hi).contains(&r["time_ms"].parse::<i64>().unwrap()))
        .count();
    assert_eq!(some.len(), inside);

    // An existing file is refused unless --force, and left as it was.
    let before = std::fs::read(&file).unwrap();
    let out = run(
        d,
        &["export", "--bot", "core", "--format", "generic", "--out", f],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid out") && err.contains("exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
    let out = run(
        d,
        &[
            "export", "--bot", "core", "--format", "generic", "--out", f, "--force",
        ],
    );
    assert!(out.status.success());
    let (_, all_core) = csv(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(
        all_core.len(),
        rows.iter().filter(|r| r["bot"] == "core").count()
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{} rows written to ", all_core.len())),
        "{err}"
    );

    // The count told is the file's rows: in a tax format one per transaction, fewer than the
    // ledger's movements.
    let tax = d.join("core-koinly.csv");
    let t = tax.to_str().unwrap();
    let out = run(
        d,
        &["export", "--bot", "core", "--format", "koinly", "--out", t],
    );
    assert!(out.status.success());
    let written = std::fs::read_to_string(&tax).unwrap().lines().count() - 1;
    assert!(written > 0 && written < all_core.len(), "{written}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{written} rows written to {t}")),
        "{err}"
    );

    for (args, needle) in [
        (
            &["export", "--all", "--format", "turbotax"][..],
            "invalid format: \"turbotax\"; allowed: generic, koinly, cointracker",
        ),
        (
            &["export", "--bot", "nope", "--format", "generic"][..],
            "invalid bot: \"nope\"",
        ),
        (
            &[
                "export",
                "--all",
                "--format",
                "generic",
                "--from",
                "yesterday",
            ][..],
            "invalid from: \"yesterday\"",
        ),
        (
            &[
                "export",
                "--all",
                "--format",
                "generic",
                "--from",
                "2024-02-01",
                "--to",
                "2024-01-01",
            ][..],
            "invalid to: \"2024-01-01\"",
        ),
    ] {
        let out = run(d, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
