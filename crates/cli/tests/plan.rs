//! `smartfolio plan` end to end: the SPEC §7 worked examples to the cent, the JSON contract,
//! rules files, and every validation case of issue 2 (exit code 2, message naming the field,
//! the value and what is allowed).

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn smartfolio(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smartfolio"))
        .arg("plan")
        .args(args)
        .output()
        .expect("run smartfolio")
}

fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = smartfolio(&all);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

/// A decimal string of the JSON, as f64 for comparisons to the cent, after checking that it
/// is a string (decimal numbers are strings in the contract).
fn num(v: &Value) -> f64 {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is not a decimal string"))
        .parse()
        .unwrap()
}

fn cents(v: &Value) -> i64 {
    (num(v) * 100.0).round() as i64
}

/// (asset, side, notional in cents) of each trade, in order.
fn trades(v: &Value) -> Vec<(String, String, i64)> {
    v["trades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["asset"].as_str().unwrap().to_string(),
                t["side"].as_str().unwrap().to_string(),
                cents(&t["notional"]),
            )
        })
        .collect()
}

fn leg(asset: &str, side: &str, cents: i64) -> (String, String, i64) {
    (asset.to_string(), side.to_string(), cents)
}

fn fails(args: &[&str]) -> String {
    let out = smartfolio(args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?} should exit 2; stdout {} stderr {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "nothing on stdout for {args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_names(err: &str, parts: &[&str]) {
    for p in parts {
        assert!(err.contains(p), "error {err:?} should mention {p:?}");
    }
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smartfolio-plan-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const EX1: [&str; 8] = [
    "--targets",
    "BTC=50,ETH=30,SOL=20",
    "--holdings",
    "BTC=0.11,ETH=1.14,SOL=14",
    "--cash",
    "0",
    "--prices",
    "BTC=50000,ETH=2500,SOL=150",
];

#[test]
fn spec_example_1_json_to_the_cent() {
    let v = json(&EX1);
    assert_eq!(cents(&v["value"]), 1_045_000);
    assert_eq!(
        trades(&v),
        vec![
            leg("BTC", "sell", 27_500),
            leg("SOL", "sell", 1_000),
            leg("ETH", "buy", 28_500),
        ]
    );
    assert_eq!(v["trades"][0]["quantity"], "0.0055");
    assert_eq!(v["trades"][2]["quantity"], "0.114");
    // Every weight is back on target, exactly.
    assert_eq!(v["weights_after"]["BTC"], "0.5");
    assert_eq!(v["weights_after"]["ETH"], "0.3");
    assert_eq!(v["weights_after"]["SOL"], "0.2");
    assert_eq!(v["value_after"], "10450");
    assert_eq!(v["fees"], "0");
    assert_eq!(v["skipped"], Value::Array(vec![]));
    // ETH is furthest off: 2850/10450 = 27.27% against 30%; the default threshold is 3 pp.
    assert!((num(&v["max_deviation_pp"]) - 300.0 / 110.0).abs() < 1e-12);
    assert_eq!(v["triggered"], false);
    assert!((num(&v["weights_before"]["BTC"]) - 5500.0 / 10450.0).abs() < 1e-15);
}

#[test]
fn spec_example_1_table() {
    let out = smartfolio(&EX1);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("value: 10450.00 USDT"), "{text}");
    let row = |side: &str, asset: &str| {
        text.lines()
            .find(|l| l.starts_with(side) && l.split_whitespace().nth(1) == Some(asset))
            .unwrap_or_else(|| panic!("no {side} {asset} row in\n{text}"))
            .to_string()
    };
    assert!(row("sell", "BTC").contains(" 275.00 "));
    assert!(row("sell", "SOL").contains(" 10.00 "));
    assert!(row("buy", "ETH").contains(" 285.00 "));
    assert!(text.contains("weights after: BTC 50.00%, ETH 30.00%, SOL 20.00%"));
    assert!(text.contains("-2.73 pp"), "ETH deviation shown: {text}");
    assert!(text.contains("does not fire"));
    assert!(text.contains("skipped legs: none"));
}

#[test]
fn spec_example_2() {
    // 50 USDT each at the start; ETH's holding rises to 80, BTC's to 60.
    let v = json(&[
        "--targets",
        "BTC=50,ETH=50",
        "--holdings",
        "BTC=1,ETH=1",
        "--prices",
        "BTC=60,ETH=80",
    ]);
    assert_eq!(
        trades(&v),
        vec![leg("ETH", "sell", 1_000), leg("BTC", "buy", 1_000)]
    );
    assert_eq!(v["value_after"], "140");
    assert_eq!(v["weights_after"]["BTC"], "0.5");
    assert_eq!(v["weights_after"]["ETH"], "0.5");
}

#[test]
fn spec_example_3_schedule_and_threshold() {
    let at = |btc: &str, eth: &str, trigger: &[&str]| {
        let prices = format!("BTC={btc},ETH={eth}");
        let mut args = vec![
            "--targets",
            "BTC=50,ETH=50",
            "--holdings",
            "BTC=1,ETH=1",
            "--prices",
            prices.as_str(),
        ];
        args.extend_from_slice(trigger);
        json(&args)
    };
    // Daily schedule without a minimum deviation: plan sells 20 BTC and buys 20 ETH.
    let v = at("520", "480", &["--trigger", "daily@00:00"]);
    assert_eq!(
        trades(&v),
        vec![leg("BTC", "sell", 2_000), leg("ETH", "buy", 2_000)]
    );
    assert_eq!(v["triggered"], false);
    assert!(
        v["trigger_notes"][0]
            .as_str()
            .unwrap()
            .contains("evaluated by the bot")
    );
    // A 3 pp threshold: 52% is 2 pp off, nothing fires; at 53% it does (a tie is reached).
    assert_eq!(at("520", "480", &["--threshold", "3"])["triggered"], false);
    assert_eq!(at("530", "470", &["--threshold", "3"])["triggered"], true);
    assert_eq!(at("470", "530", &["--threshold", "3"])["triggered"], true);
    assert_eq!(
        at("530", "470", &["--trigger", "every:1d|threshold:3"])["triggered"],
        true
    );
    assert_eq!(
        at("520", "480", &["--rel-threshold", "4"])["triggered"],
        true
    );
    assert_eq!(
        at("520", "480", &["--rel-threshold", "5"])["triggered"],
        false
    );
}

#[test]
fn fees_follow_the_exact_model() {
    let mut args = EX1.to_vec();
    args.extend_from_slice(&["--fee-rate", "0.001"]);
    let v = json(&args);
    // All three legs keep their signs: V' = (V + f(h_ETH − h_BTC − h_SOL)) / (1 − 0.4 f).
    let vp = (10_450.0 + 0.001 * (2_850.0 - 5_500.0 - 2_100.0)) / (1.0 - 0.4 * 0.001);
    assert!((num(&v["value_after"]) - vp).abs() < 1e-9);
    assert!((num(&v["fees"]) - (10_450.0 - vp)).abs() < 1e-9);
    for (a, t) in [("BTC", 0.5), ("ETH", 0.3), ("SOL", 0.2)] {
        assert!((num(&v["weights_after"][a]) - t).abs() < 1e-15);
    }
}

#[test]
fn rules_round_skip_and_report() {
    let rules = temp_file(
        "rules.toml",
        "[BTC]\nlot_step = \"0.0001\"\nmin_notional = \"5\"\ntick_size = \"0.01\"\n\n\
         [ETH]\nlot_step = \"0.01\"\nmin_notional = 5\n\n[sol]\nlot_step = 0.01\nmin_notional = \"20\"\n",
    );
    let mut args = EX1.to_vec();
    args.extend_from_slice(&["--rules", rules.to_str().unwrap()]);
    let v = json(&args);
    // ETH 0.114 → 0.11 at its lot step; SOL's $10 sell (0.06 after rounding, $9) is under $20.
    assert_eq!(
        trades(&v),
        vec![leg("BTC", "sell", 27_500), leg("ETH", "buy", 27_500)]
    );
    assert_eq!(v["trades"][1]["quantity"], "0.11");
    let skipped = &v["skipped"][0];
    assert_eq!(skipped["asset"], "SOL");
    assert_eq!(skipped["side"], "sell");
    assert_eq!(cents(&skipped["notional"]), 1_000);
    assert!(
        skipped["reason"]
            .as_str()
            .unwrap()
            .contains("below the minimum notional 20")
    );
    // Weights after are those of the rounded plan.
    assert!((num(&v["weights_after"]["ETH"]) - 3_125.0 / 10_450.0).abs() < 1e-15);
    assert!((num(&v["weights_after"]["SOL"]) - 2_100.0 / 10_450.0).abs() < 1e-15);

    let out = smartfolio(&args);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("skipped legs:"));
    assert!(text.contains("sell SOL 10.00 USDT: notional 9 is below the minimum notional 20"));
}

#[test]
fn targets_from_allocation_json_and_quote_as_cash() {
    let file = temp_file(
        "alloc.json",
        r#"{"method":"min-variance","weights":{"BTC":"0.6","USDT":0.4}}"#,
    );
    let v = json(&[
        "--targets-from",
        file.to_str().unwrap(),
        "--holdings",
        "BTC=0.01",
        "--cash",
        "1000",
        "--prices",
        "BTC=60000",
    ]);
    assert_eq!(trades(&v), vec![leg("BTC", "buy", 36_000)]);
    assert_eq!(v["weights_after"]["USDT"], "0.4");
    assert_eq!(v["triggered"], true);
}

#[test]
fn validation_errors_exit_2_and_name_field_value_and_allowed() {
    fn with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut a = extra.to_vec();
        a.extend_from_slice(&["--prices", "BTC=1,ETH=1"]);
        a
    }
    // Targets not summing to 100.
    let e = fails(&with(&["--targets", "BTC=50,ETH=30"]));
    assert_names(
        &e,
        &["targets", "BTC=50,ETH=30", "summing to 100", "sum to 80"],
    );
    // Negative or unparseable numbers.
    let e = fails(&with(&["--targets", "BTC=-50,ETH=150"]));
    assert_names(&e, &["targets.BTC", "-50", "≥ 0"]);
    let e = fails(&with(&["--targets", "BTC=fifty,ETH=50"]));
    assert_names(&e, &["targets.BTC", "fifty", "decimal number"]);
    let e = fails(&with(&[
        "--targets",
        "BTC=50,ETH=50",
        "--holdings",
        "BTC=-1",
    ]));
    assert_names(&e, &["holdings.BTC", "-1", "≥ 0"]);
    let e = fails(&with(&["--targets", "BTC=50,ETH=50", "--cash", "-5"]));
    assert_names(&e, &["cash", "-5", "≥ 0"]);
    let e = fails(&with(&["--targets", "BTC=50,ETH=50", "--cash", "lots"]));
    assert_names(&e, &["cash", "lots", "decimal number"]);
    // Duplicate assets.
    let e = fails(&with(&["--targets", "BTC=50,btc=50"]));
    assert_names(&e, &["targets", "btc", "BTC appears more than once"]);
    // Fewer than 2 or more than 20 assets.
    let e = fails(&with(&["--targets", "BTC=100"]));
    assert_names(&e, &["targets", "BTC", "between 2 and 20 assets"]);
    let many: Vec<String> = (0..21).map(|i| format!("A{i}=1")).collect();
    let mut many = many.join(",");
    many.push_str(",Z=79");
    let e = fails(&with(&["--targets", &many]));
    assert_names(&e, &["targets", "between 2 and 20 assets", "got 22"]);
    // A zero or negative price.
    let e = fails(&[
        "--targets",
        "BTC=50,ETH=50",
        "--holdings",
        "BTC=1",
        "--prices",
        "BTC=0,ETH=1",
    ]);
    assert_names(
        &e,
        &["prices.BTC", "\"0\"", "a price in quote ≥ 0.000000000001"],
    );
    let e = fails(&[
        "--targets",
        "BTC=50,ETH=50",
        "--holdings",
        "BTC=1",
        "--prices",
        "BTC=-3,ETH=1",
    ]);
    assert_names(
        &e,
        &["prices.BTC", "-3", "a price in quote ≥ 0.000000000001"],
    );
    // A target or holding with no price.
    let e = fails(&[
        "--targets",
        "BTC=50,ETH=50",
        "--holdings",
        "BTC=1",
        "--prices",
        "BTC=3",
    ]);
    assert_names(&e, &["prices", "ETH", "target ETH has none"]);
    let e = fails(&with(&[
        "--targets",
        "BTC=50,ETH=50",
        "--holdings",
        "BTC=1,XRP=2",
    ]));
    assert_names(&e, &["prices", "XRP", "holding XRP has none"]);
    // Malformed flags.
    let e = fails(&with(&["--targets", "BTC:50,ETH:50"]));
    assert_names(&e, &["targets", "BTC:50", "ASSET=PERCENT"]);
    let e = fails(&with(&["--targets", "BTC=50,ETH=50", "--holdings", "BTC"]));
    assert_names(&e, &["holdings", "BTC", "ASSET=UNITS"]);
    let e = fails(&with(&["--targets", "BTC=50,ETH=50", "--threshold", "x"]));
    assert_names(&e, &["threshold", "\"x\"", "(0, 100]"]);
    let e = fails(&with(&[
        "--targets",
        "BTC=50,ETH=50",
        "--trigger",
        "sometimes",
    ]));
    assert_names(&e, &["trigger", "sometimes", "threshold:PP"]);
    let e = fails(&with(&[
        "--targets",
        "BTC=50,ETH=50",
        "--holdings",
        "BTC=1",
        "--fee-rate",
        "0.5",
    ]));
    assert_names(&e, &["fee-rate", "0.5", "[0, 0.1]"]);
    let e = fails(&with(&["--targets", "BTC=50,ETH=50"]));
    assert_names(&e, &["holdings", "worth more than 0"]);
    let e = fails(&with(&["--targets", "BTC=50,ETH=50", "--bogus"]));
    assert_names(&e, &["--bogus"]);
    let e = fails(&["--targets", "BTC=50,ETH=50"]);
    assert_names(&e, &["--prices"]);
    // An unknown rules key.
    let rules = temp_file(
        "bad.toml",
        "[BTC]\nlot_step = \"0.1\"\nlot_size = \"0.1\"\n",
    );
    let e = fails(&with(&[
        "--targets",
        "BTC=50,ETH=50",
        "--holdings",
        "BTC=1",
        "--rules",
        rules.to_str().unwrap(),
    ]));
    assert_names(
        &e,
        &[
            "rules.BTC",
            "lot_size",
            "lot_step, min_size, min_notional, tick_size",
            "bad.toml",
        ],
    );
    let rules = temp_file("bad2.toml", "[BTC]\nlot_step = \"-1\"\n");
    let e = fails(&with(&[
        "--targets",
        "BTC=50,ETH=50",
        "--holdings",
        "BTC=1",
        "--rules",
        rules.to_str().unwrap(),
    ]));
    assert_names(&e, &["rules.BTC.lot_step", "-1", "> 0"]);
    let rules = temp_file("bad3.toml", "[BTC\nlot_step = 1\n");
    let e = fails(&with(&[
        "--targets",
        "BTC=50,ETH=50",
        "--holdings",
        "BTC=1",
        "--rules",
        rules.to_str().unwrap(),
    ]));
    assert_names(&e, &["rules file", "bad3.toml", "line 1"]);
    // Unreadable and malformed targets files.
    let e = fails(&with(&["--targets-from", "/nonexistent/alloc.json"]));
    assert_names(
        &e,
        &["targets-from", "/nonexistent/alloc.json", "readable file"],
    );
    let file = temp_file("bad.json", r#"{"weights":{"BTC":0.5,"ETH":0.4}}"#);
    let e = fails(&with(&["--targets-from", file.to_str().unwrap()]));
    assert_names(&e, &["weights", "summing to 1", "bad.json"]);
}
