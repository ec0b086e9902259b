//! `smartfolio bot create NAME --template T` end to end on the real binary: the template's
//! weights and recommended rule (the same as `template show` prints), flags overriding one
//! setting each, missing history named with the fallbacks, unknown templates listing the known
//! ones; on price files and user templates the test writes (no shared data).

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const CONFIG: &str = r#"
quote = "USDT"
cooldown = "0"
snapshot_interval = "1d"
[paper]
fee_rate = "0.001"
balances = { USDT = "100000" }
[market]
kind = "synthetic"
seed = 7
assets = ["BTC", "ETH", "SOL"]
step = "1h"
speed = "max"
"#;

/// User templates: history exists for BTC and ETH only.
const MINE: &str = r#"
[[template]]
name = "pair"
sector = "Test"
assets = ["BTC", "ETH"]
weights = [70, 30]
triggers = ["threshold:1..10:1", "every:1d,7d"]
cooldowns = ["0", "3d"]
train = "120d"
test = "60d"

[[template]]
name = "trio"
sector = "Test"
assets = ["BTC", "ETH", "SOL"]
method = "equal"
triggers = ["threshold:5"]
train = "120d"
test = "60d"

[[template]]
name = "vol"
sector = "Test"
assets = ["BTC", "SOL"]
method = "inverse-vol"
window = "30d"
reallocate = "every:30d"
triggers = ["threshold:5"]
train = "120d"
test = "60d"
"#;

fn write_daily(dir: &Path, sym: &str, seed: f64) {
    let mut s = String::from("date,close\n");
    for d in 0..300 {
        let x = 50.0 * (1.0 + 0.4 * ((d as f64) * 0.07 * seed).sin() + 0.002 * d as f64);
        let date = smartfolio_data::format_time_ms(1_609_459_200_000 + d * 86_400_000);
        s += &format!("{date},{x}\n");
    }
    std::fs::write(dir.join(format!("{sym}.csv")), s).unwrap();
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("smartfolio.toml"), CONFIG).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("history")).unwrap();
    std::fs::write(data.join("templates.toml"), MINE).unwrap();
    write_daily(&data.join("history"), "BTC", 1.0);
    write_daily(&data.join("history"), "ETH", 2.3);
    dir
}

fn sf(dir: &Path, args: &[&str]) -> Output {
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

fn fails(dir: &Path, args: &[&str], needles: &[&str]) -> String {
    let out = sf(dir, args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: `{n}` not in: {err}");
    }
    err
}

#[test]
fn a_bot_from_a_template_takes_its_weights_and_recommended_rule() {
    let dir = setup();
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
    let dir = setup();
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
    let dir = setup();
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
        &["template", "nope", "majors", "pair", "trio", "vol"],
    );
    // Neither targets nor a template.
    fails(
        dir.path(),
        &["bot", "create", "x", "--invest", "500"],
        &["--template"],
    );
    let list = ok_json(dir.path(), &["bot", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
}
