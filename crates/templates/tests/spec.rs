//! Template files: the built-in set, and errors that name the file, the line and the value.

use smartfolio_templates::spec::{BUILTIN_NAME, Weighting};
use smartfolio_templates::{builtin, find, load_all, parse};

#[test]
fn the_builtin_templates_cover_the_sectors_with_grids_of_at_least_40_rules() {
    let all = builtin();
    assert!(all.len() >= 6, "{}", all.len());
    let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
    for want in [
        "majors",
        "layer-1",
        "defi",
        "meme",
        "old-guard",
        "cushioned",
    ] {
        assert!(names.contains(&want), "{names:?}");
    }
    for t in &all {
        assert!(t.grid.len() >= 40, "{}: {} rules", t.name, t.grid.len());
        assert!(t.grid.iter().any(|r| r.cooldown_ms > 0), "{}", t.name);
        assert_eq!(t.source.file, BUILTIN_NAME);
    }
    let cushion = find(&all, "cushioned").unwrap();
    let Weighting::Fixed(w) = &cushion.weighting else {
        panic!("{:?}", cushion.weighting)
    };
    let usdc = cushion.assets.iter().position(|a| a == "USDC").unwrap();
    assert_eq!(w[usdc], 0.2);
}

const GOOD: &str = r#"
[[template]]
name = "mine"
assets = ["BTC", "ETH"]
weights = [60, 40]
triggers = ["threshold:1..5:1"]
"#;

fn error(text: &str) -> String {
    parse("user.toml", text).unwrap_err().to_string()
}

#[test]
fn an_asset_listed_twice_is_named_with_its_file_and_line() {
    let text = GOOD.replace(
        r#"["BTC", "ETH"]"#,
        "[\n  \"BTC\",\n  \"ETH\",\n  \"btc\",\n]",
    );
    let text = text.replace("[60, 40]", "[60, 30, 10]");
    let e = error(&text);
    assert!(e.starts_with("user.toml:7: "), "{e}");
    assert!(e.contains("\"btc\" is listed twice"), "{e}");
    assert!(e.contains("template \"mine\""), "{e}");
}

#[test]
fn weights_that_do_not_sum_to_100_are_named_with_their_line_and_values() {
    let e = error(&GOOD.replace("[60, 40]", "[60, 30]"));
    assert!(e.starts_with("user.toml:5: "), "{e}");
    assert!(e.contains("weights [60, 30] sum to 90"), "{e}");
    assert!(e.contains("must sum to 100"), "{e}");
}

#[test]
fn an_unknown_method_is_named_with_its_line_and_the_allowed_ones() {
    let text = GOOD.replace("weights = [60, 40]", "method = \"moon-weighted\"");
    let e = error(&text);
    assert!(e.starts_with("user.toml:5: "), "{e}");
    assert!(e.contains("unknown method \"moon-weighted\""), "{e}");
    assert!(e.contains("hrp"), "{e}");
    assert!(e.contains("fixed"), "{e}");
}

#[test]
fn other_mistakes_name_the_line_and_value() {
    let cases = [
        // An unknown key (toml's own message, located).
        (GOOD.replace("triggers", "trigers"), 6, "trigers"),
        (
            GOOD.replace("threshold:1..5:1", "sometimes"),
            6,
            "sometimes",
        ),
        (
            GOOD.replace("weights = [60, 40]", "weights = [60, 40]\nmethod = \"hrp\""),
            5,
            "method \"hrp\"",
        ),
        (
            format!("{GOOD}cooldowns = [\"0\", \"forever\"]\n"),
            7,
            "\"forever\"",
        ),
        (GOOD.replace("\"mine\"", "\"Mine Two\""), 3, "\"Mine Two\""),
        (format!("{GOOD}{GOOD}"), 8, "\"mine\" is used twice"),
    ];
    for (text, line, needle) in cases {
        let e = error(&text);
        assert!(e.starts_with(&format!("user.toml:{line}: ")), "{e}");
        assert!(e.contains(needle), "{e}");
    }
}

#[test]
fn user_templates_come_from_the_data_directory_after_the_builtin_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("templates.toml"), GOOD).unwrap();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(
        dir.path().join("templates/more.toml"),
        GOOD.replace("\"mine\"", "\"theirs\""),
    )
    .unwrap();
    let all = load_all(Some(dir.path())).unwrap();
    let n = builtin().len();
    assert_eq!(all.len(), n + 2);
    assert_eq!(all[n].name, "mine");
    assert_eq!(all[n + 1].name, "theirs");
    assert!(all[n + 1].source.file.ends_with("more.toml"));

    // A built-in name is refused, naming the user's file and line.
    std::fs::write(
        dir.path().join("templates/more.toml"),
        GOOD.replace("\"mine\"", "\"majors\""),
    )
    .unwrap();
    let e = load_all(Some(dir.path())).unwrap_err().to_string();
    assert!(e.contains("more.toml:2: "), "{e}");
    assert!(e.contains("\"majors\" is already defined"), "{e}");
}

#[test]
fn an_unknown_template_name_lists_the_known_ones() {
    let all = builtin();
    let e = find(&all, "moonshots").unwrap_err();
    assert!(e.contains("unknown template \"moonshots\""), "{e}");
    for t in &all {
        assert!(e.contains(&t.name), "{e}");
    }
    assert_eq!(find(&all, "MAJORS").unwrap().name, "majors");
}
