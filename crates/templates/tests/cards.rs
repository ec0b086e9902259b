//! Cards from a folder of price files written here: missing history is named and the weights
//! that need none are still given; a full card names its windows.

use smartfolio_templates::{card, parse};
use std::path::Path;

const DAY: i64 = 86_400_000;

/// `<SYM>.csv` with `days` daily closes from 2021-01-01 (a deterministic wiggle).
fn write_daily(dir: &Path, sym: &str, days: usize, seed: f64) {
    let mut s = String::from("date,close,market_cap\n");
    let t0 = 1_609_459_200_000i64; // 2021-01-01
    for d in 0..days {
        let x = 100.0 * (1.0 + 0.3 * ((d as f64) * 0.05 * seed).sin() + 0.001 * d as f64 * seed);
        let date = smartfolio_data::format_time_ms(t0 + d as i64 * DAY);
        s += &format!("{date},{x},{}\n", x * 1e6);
    }
    std::fs::write(dir.join(format!("{sym}.csv")), s).unwrap();
}

const TEMPLATES: &str = r#"
[[template]]
name = "eq"
assets = ["AAA", "BBB", "ZZZ"]
method = "equal"
triggers = ["threshold:1..10:1"]
cooldowns = ["0", "3d"]
train = "200d"
test = "50d"

[[template]]
name = "vol"
assets = ["AAA", "BBB", "ZZZ"]
method = "inverse-vol"
window = "60d"
reallocate = "every:30d"
triggers = ["threshold:1..10:1"]
train = "200d"
test = "50d"

[[template]]
name = "two"
assets = ["AAA", "BBB"]
method = "inverse-vol"
window = "60d"
reallocate = "every:30d"
triggers = ["threshold:2..10:2", "every:7d"]
cooldowns = ["0", "7d"]
train = "200d"
test = "50d"

[[template]]
name = "short"
assets = ["AAA", "CCC"]
triggers = ["threshold:5"]
train = "200d"
test = "50d"
"#;

#[test]
fn a_template_whose_assets_lack_history_says_which_and_keeps_the_weights_it_can_compute() {
    let dir = tempfile::tempdir().unwrap();
    write_daily(dir.path(), "AAA", 400, 1.0);
    write_daily(dir.path(), "BBB", 400, 2.0);
    let t = parse("t.toml", TEMPLATES).unwrap();

    let c = card(&t[0], dir.path());
    assert_eq!(c.missing.len(), 1, "{:?}", c.missing);
    assert!(
        c.missing[0].starts_with("ZZZ: no ZZZ.csv"),
        "{:?}",
        c.missing
    );
    let e = c.recommendation.as_ref().unwrap_err();
    assert!(e.contains("no price history for ZZZ"), "{e}");
    // Equal weight needs no history.
    let w = c.weights.as_ref().unwrap();
    assert_eq!(w.weights, vec![1.0 / 3.0; 3]);
    assert!(c.bot_settings().is_none());

    // Inverse volatility does: the reason is given instead of weights.
    let c = card(&t[1], dir.path());
    let e = c.weights.as_ref().unwrap_err();
    assert!(e.contains("inverse-vol") && e.contains("ZZZ"), "{e}");

    // A folder that does not exist.
    let c = card(&t[0], &dir.path().join("nowhere"));
    let e = c.recommendation.as_ref().unwrap_err();
    assert!(
        e.contains("no price history at") && e.contains("nowhere"),
        "{e}"
    );
    assert!(c.weights.is_ok());
}

#[test]
fn too_short_a_common_history_names_the_asset_that_limits_it() {
    let dir = tempfile::tempdir().unwrap();
    write_daily(dir.path(), "AAA", 400, 1.0);
    write_daily(dir.path(), "CCC", 120, 3.0);
    let t = parse("t.toml", TEMPLATES).unwrap();
    let c = card(&t[3], dir.path());
    let e = c.recommendation.as_ref().unwrap_err();
    assert!(e.contains("too little common history"), "{e}");
    assert!(e.contains("CCC from 2021-01-01 to 2021-04-30"), "{e}");
    assert!(!e.contains("AAA from"), "{e}");
    assert_eq!(c.history.as_ref().unwrap().n_bars, 120);
}

#[test]
fn a_full_card_names_its_windows_and_the_rule_a_bot_would_start_with() {
    let dir = tempfile::tempdir().unwrap();
    write_daily(dir.path(), "AAA", 400, 1.0);
    write_daily(dir.path(), "BBB", 400, 2.0);
    let t = parse("t.toml", TEMPLATES).unwrap();
    let c = card(&t[2], dir.path());
    let h = c.history.as_ref().unwrap();
    assert_eq!(h.n_bars, 400);
    let r = c.recommendation.as_ref().unwrap();
    // The method's first full window is 60 days in; training 200 days; tests of 50 days.
    let start = h.from_ms + 60 * DAY;
    assert_eq!(r.folds[0].train_from_ms, start);
    assert_eq!(r.folds[0].test_from_ms, start + 200 * DAY);
    assert_eq!(r.out_of_sample_from_ms, start + 200 * DAY);
    assert_eq!(r.out_of_sample_to_ms, h.to_ms);
    for w in r.folds.windows(2) {
        assert_eq!(w[1].test_from_ms, w[0].test_to_ms + DAY);
        assert_eq!(w[1].train_from_ms, w[0].train_from_ms + 50 * DAY);
    }
    assert_eq!(r.grid_size, 12);
    assert_eq!(r.chosen_on.1, h.to_ms);
    assert_eq!(r.chosen_on.0, h.to_ms - 200 * DAY);
    assert!(r.sparkline.len() <= 60 && r.sparkline.len() > 10);
    let w = c.weights.as_ref().unwrap();
    assert_eq!(w.window, Some((h.to_ms - 60 * DAY, h.to_ms)));
    assert!((w.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    let s = c.bot_settings().unwrap();
    assert_eq!(s.assets, ["AAA", "BBB"]);
    assert_eq!(s.weights, w.weights);
    assert_eq!(s.trigger, r.rule.trigger);
    assert_eq!(s.cooldown_ms, r.rule.cooldown_ms);
}

#[test]
fn the_cache_keeps_cards_until_a_history_file_or_the_template_changes() {
    let dir = tempfile::tempdir().unwrap();
    write_daily(dir.path(), "AAA", 400, 1.0);
    write_daily(dir.path(), "BBB", 400, 2.0);
    let t = parse("t.toml", TEMPLATES).unwrap();
    let two = &t[2..3];
    let cache = smartfolio_templates::CardCache::new();
    let first = cache.cards(two, dir.path());
    let again = cache.cards(two, dir.path());
    assert!(std::sync::Arc::ptr_eq(&first[0], &again[0]));

    // A longer file (a download appended days): computed again, from the new history.
    write_daily(dir.path(), "BBB", 420, 2.0);
    write_daily(dir.path(), "AAA", 420, 1.0);
    let after = cache.cards(two, dir.path());
    assert!(!std::sync::Arc::ptr_eq(&first[0], &after[0]));
    assert_eq!(after[0].history.as_ref().unwrap().n_bars, 420);

    // The same name with another grid is another template.
    let mut changed = two.to_vec();
    changed[0].grid.truncate(3);
    let other = cache.cards(&changed, dir.path());
    assert_eq!(other[0].recommendation.as_ref().unwrap().grid_size, 3);
    assert!(std::sync::Arc::ptr_eq(
        &cache.cards(&changed, dir.path())[0],
        &other[0]
    ));
}

#[test]
fn the_cache_sees_a_same_length_edit_and_a_removed_file() {
    let dir = tempfile::tempdir().unwrap();
    write_daily(dir.path(), "AAA", 400, 1.0);
    write_daily(dir.path(), "BBB", 400, 2.0);
    let t = parse("t.toml", TEMPLATES).unwrap();
    let two = &t[2..3];
    let cache = smartfolio_templates::CardCache::new();
    let first = cache.cards(two, dir.path());
    let ret = |c: &smartfolio_templates::Card| {
        c.recommendation
            .as_ref()
            .unwrap()
            .summary
            .strategy
            .total_return
    };

    // A price corrected in place: the file keeps its length; its modification time moves on
    // (set one second later, so the test does not depend on the clock's resolution).
    let path = dir.path().join("AAA.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let last = text.trim_end().rsplit_once('\n').unwrap().1;
    let close = last.split(',').nth(1).unwrap();
    let digit = close.chars().next().unwrap();
    let other = if digit == '9' { '8' } else { '9' };
    let edited = format!("{other}{}", &close[1..]);
    let text2 = text.replacen(&format!(",{close},"), &format!(",{edited},"), 1);
    assert_eq!(text2.len(), text.len());
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::fs::write(&path, &text2).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(modified + std::time::Duration::from_secs(1))
        .unwrap();
    let after = cache.cards(two, dir.path());
    assert!(!std::sync::Arc::ptr_eq(&first[0], &after[0]));
    let fresh = card(&two[0], dir.path());
    assert_eq!(ret(&after[0]), ret(&fresh));
    assert_ne!(ret(&after[0]), ret(&first[0]));

    // A file removed: the card names the asset without history.
    std::fs::remove_file(dir.path().join("BBB.csv")).unwrap();
    let gone = cache.cards(two, dir.path());
    assert_eq!(gone[0].missing.len(), 1, "{:?}", gone[0].missing);
    assert!(gone[0].missing[0].starts_with("BBB"));
    assert!(gone[0].recommendation.is_err());
}
