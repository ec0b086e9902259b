//! `smartfolio template list|show` end to end on price files written by the test (no shared
//! data), with a user template in the data directory.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn smartfolio(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smartfolio"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SMARTFOLIO_CONFIG")
        .env_remove("SMARTFOLIO_DATA_DIR")
        .output()
        .expect("run smartfolio")
}

/// `<SYM>.csv`, 500 daily closes from 2021-01-01.
fn write_daily(dir: &Path, sym: &str, seed: f64) {
    let mut s = String::from("date,close\n");
    for d in 0..500 {
        let x = 50.0 * (1.0 + 0.4 * ((d as f64) * 0.07 * seed).sin() + 0.002 * d as f64);
        let date = smartfolio_data::format_time_ms(1_609_459_200_000 + d * 86_400_000);
        s += &format!("{date},{x}\n");
    }
    std::fs::write(dir.join(format!("{sym}.csv")), s).unwrap();
}

const MINE: &str = r#"[[template]]
name = "mine"
sector = "Mine"
assets = ["AAA", "BBB"]
weights = [70, 30]
triggers = ["threshold:1..20:1", "every:1d,7d,14d"]
cooldowns = ["0", "3d"]
train = "180d"
test = "60d"
"#;

#[test]
fn list_and_show_print_cards_with_their_windows_and_user_templates() {
    let home = tempfile::tempdir().unwrap();
    let history = home.path().join("history");
    std::fs::create_dir(&history).unwrap();
    write_daily(&history, "AAA", 1.0);
    write_daily(&history, "BBB", 2.3);
    std::fs::write(home.path().join("templates.toml"), MINE).unwrap();

    // The default history is <data-dir>/history.
    let out = smartfolio(home.path(), &["template", "show", "mine", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let card: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(card["name"], "mine");
    assert_eq!(card["weights_today"]["weights"]["AAA"], 0.7);
    let r = &card["recommendation"];
    assert_eq!(r["grid_size"], 46);
    assert_eq!(r["out_of_sample"]["window"]["from"], "2021-06-30");
    assert_eq!(r["out_of_sample"]["window"]["to"], "2022-05-15");
    assert_eq!(r["folds"][0]["train"]["from"], "2021-01-01");
    assert_eq!(r["folds"][0]["test"]["from"], "2021-06-30");
    for side in ["strategy", "equal_weight", "buy_and_hold"] {
        assert!(r["out_of_sample"][side]["cagr"].is_number(), "{side}");
    }
    assert_eq!(r["out_of_sample"]["buy_and_hold"]["turnover"], 0.0);

    // The list has the built-in templates too; their assets are not in this folder.
    let out = smartfolio(
        home.path(),
        &["template", "list", "--data", history.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("mine (Mine): fixed"), "{text}");
    assert!(text.contains("recommended: "), "{text}");
    assert!(text.contains("majors (Majors)"), "{text}");
    assert!(
        text.contains("no recommendation: no price history for BTC, ETH, SOL, XRP"),
        "{text}"
    );
    // Equal weight needs no history.
    assert!(
        text.contains("weights today: DOGE 33.3%, SHIB 33.3%, PEPE 33.3%"),
        "{text}"
    );
}

#[test]
fn bad_names_and_bad_template_files_exit_2_naming_what_is_wrong() {
    let home = tempfile::tempdir().unwrap();
    let out = smartfolio(home.path(), &["template", "show", "moonshots"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown template \"moonshots\""), "{err}");
    assert!(err.contains("majors, layer-1, defi, meme"), "{err}");

    std::fs::write(
        home.path().join("templates.toml"),
        MINE.replace("[70, 30]", "[70, 20]"),
    )
    .unwrap();
    let out = smartfolio(home.path(), &["template", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = home.path().join("templates.toml");
    assert!(err.contains(&format!("{}:5: ", file.display())), "{err}");
    assert!(err.contains("weights [70, 20] sum to 90"), "{err}");
}
