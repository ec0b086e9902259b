//! Cards of the built-in templates from `$SMARTFOLIO_DATA/daily` (default `../shared/data`
//! next to the workspace). Behind the `shared-data` feature, as the other suites that read
//! ../shared.
#![cfg(feature = "shared-data")]

use smartfolio_templates::{builtin, cards};
use std::path::PathBuf;

fn daily() -> PathBuf {
    let root = std::env::var_os("SMARTFOLIO_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    );
    let dir = root.join("daily");
    assert!(
        dir.join("BTC.csv").is_file(),
        "shared market data not found at {} (set SMARTFOLIO_DATA to the folder holding daily/)",
        dir.display()
    );
    dir
}

const DAY: i64 = 86_400_000;

#[test]
fn every_builtin_template_gets_a_walk_forward_card_from_the_shared_daily_history() {
    let all = builtin();
    let got = cards(&all, &daily());
    for c in &got {
        let name = &c.template.name;
        assert!(c.missing.is_empty(), "{name}: {:?}", c.missing);
        let w = c.weights.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!((w.weights.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{name}");
        let r = c
            .recommendation
            .as_ref()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let h = c.history.as_ref().unwrap();
        // Never the in-sample best: each fold trains strictly before its test window.
        for f in &r.folds {
            assert!(f.train_to_ms < f.test_from_ms, "{name}");
            assert!(f.test_from_ms - f.train_from_ms <= r.train_ms, "{name}");
        }
        assert_eq!(r.out_of_sample_to_ms, h.to_ms, "{name}");
        assert!(r.out_of_sample_from_ms >= h.from_ms + r.train_ms, "{name}");
        let s = &r.summary;
        assert!(s.strategy.final_value > 0.0 && s.buy_and_hold.final_value > 0.0);
        assert_eq!(s.buy_and_hold.turnover, 0.0, "{name}");
        assert!(
            (s.rebalancing_gain - (s.strategy.final_value / s.buy_and_hold.final_value - 1.0))
                .abs()
                < 1e-12
        );
        assert!(c.bot_settings().is_some(), "{name}");
    }
    // The long-lived baskets have at least three years out of sample.
    let majors = got.iter().find(|c| c.template.name == "majors").unwrap();
    let r = majors.recommendation.as_ref().unwrap();
    assert!(r.out_of_sample_to_ms - r.out_of_sample_from_ms >= 3 * 365 * DAY);
    // Market caps are dated: each asset's latest known on or before the last bar.
    let w = majors.weights.as_ref().unwrap();
    let dates: Vec<(&str, String)> = w
        .market_caps_as_of
        .iter()
        .map(|(a, t)| (a.as_str(), smartfolio_data::format_time_ms(*t)))
        .collect();
    assert_eq!(
        dates,
        [
            ("BTC", "2024-12-17".to_string()),
            ("ETH", "2024-10-08".to_string()),
            ("SOL", "2024-12-17".to_string()),
            ("XRP", "2022-09-13".to_string()),
        ]
    );
    // Pepe's short history gives the meme basket only its own span.
    let meme = got.iter().find(|c| c.template.name == "meme").unwrap();
    let h = meme.history.as_ref().unwrap();
    assert_eq!(smartfolio_data::format_time_ms(h.from_ms), "2023-04-19");
}
