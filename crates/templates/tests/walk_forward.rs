//! The recommendation is chosen on the training window and reported on the test window that
//! follows, never the in-sample best.

use smartfolio_backtest::engine::{self, Config, Prices, Record, RuleChange};
use smartfolio_backtest::metrics::Metrics;
use smartfolio_core::Trigger;
use smartfolio_templates::Rule;
use smartfolio_templates::select::{Setup, TargetPath, folds, walk_forward};

const DAY: i64 = 86_400_000;

/// 150 daily bars of two assets: for 100 days the first climbs and the second wanders, both
/// as random walks (holding the winner has the better Sharpe), then 50 days of anti-correlated
/// swings around a flat level (rebalancing often has the better Sharpe).
fn market() -> (Vec<i64>, Vec<f64>) {
    let mut s: u64 = 99;
    let mut unif = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
    };
    let (mut a, mut b) = (100.0, 100.0);
    let mut p = Vec::new();
    for t in 0..150 {
        if t < 100 {
            a *= 1.0 + 0.02 + 0.04 * unif();
            b *= 1.0 + 0.08 * unif();
            p.push(a);
            p.push(b);
        } else {
            let x = ((t - 100) as f64 * 1.3).sin() * 0.25;
            p.push(a * (1.0 + x));
            p.push(b * (1.0 - x));
        }
    }
    (
        (0..150)
            .map(|t| 1_600_000_000_000 / DAY * DAY + t * DAY)
            .collect(),
        p,
    )
}

fn rule(text: &str) -> Rule {
    Rule {
        trigger: text.parse::<Trigger>().unwrap(),
        cooldown_ms: 0,
    }
}

fn sharpe(px: Prices<'_>, cfg: &Config, r: &Rule, from: usize, to: usize) -> (f64, f64) {
    let n = px.n_assets();
    let times = &px.times_ms()[from..to];
    let slice = Prices::new(times, &px.values()[from * n..to * n], n).unwrap();
    let o = engine::run_with_rules(
        slice,
        cfg,
        &[],
        &[RuleChange {
            bar: 0,
            trigger: r.trigger.clone(),
            cooldown_ms: r.cooldown_ms,
        }],
        Record::NONE,
    )
    .unwrap();
    let m = Metrics::compute(&o, times, cfg.capital, 365.0);
    (m.sharpe, m.final_value)
}

/// Daily bars, training 100 days, testing 50.
fn daily_100_50<'a>(grid: &'a [Rule], cfg: &'a Config) -> Setup<'a> {
    Setup {
        grid,
        train_ms: 100 * DAY,
        test_ms: 50 * DAY,
        cfg,
        periods_per_year: 365.0,
    }
}

fn argmax(v: &[f64]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

#[test]
fn the_rule_chosen_on_training_is_the_one_reported_on_the_following_test_window() {
    let (times, p) = market();
    let px = Prices::new(&times, &p, 2).unwrap();
    let grid = vec![rule("threshold:1"), rule("threshold:45"), rule("every:1d")];
    let cfg = Config::new(vec![0.5, 0.5]);
    let setup = daily_100_50(&grid, &cfg);
    // One fold: train bars [0, 100), test bars [100, 150).
    assert_eq!(
        folds(&times, setup.train_ms, setup.test_ms),
        [(0, 100, 100, 150)]
    );

    let on_train: Vec<f64> = grid.iter().map(|r| sharpe(px, &cfg, r, 0, 100).0).collect();
    let on_test: Vec<f64> = grid
        .iter()
        .map(|r| sharpe(px, &cfg, r, 100, 150).0)
        .collect();
    let (train_best, test_best) = (argmax(&on_train), argmax(&on_test));
    // The case is built so that the in-sample best of the reported window is another rule.
    assert_ne!(train_best, test_best, "train {on_train:?} test {on_test:?}");

    let c = walk_forward(px, &TargetPath::fixed(vec![0.5, 0.5]), &setup).unwrap();
    assert_eq!(c.folds.len(), 1);
    assert_eq!(c.folds[0].rule, train_best);
    assert_eq!(c.folds[0].train_sharpe, on_train[train_best]);
    // Reported: the training choice run on the test window only.
    assert_eq!((c.out_of_sample.from, c.out_of_sample.to), (100, 149));
    let chosen = sharpe(px, &cfg, &grid[train_best], 100, 150);
    let hindsight = sharpe(px, &cfg, &grid[test_best], 100, 150);
    let reported = &c.out_of_sample.summary.strategy;
    assert_eq!(reported.final_value, chosen.1);
    assert_eq!(reported.sharpe, chosen.0);
    assert_ne!(reported.final_value, hindsight.1);
    assert_eq!(c.out_of_sample.equity.len(), 50);
    // Buy-and-hold over the same bars, same first trade.
    let slice = Prices::new(&times[100..], &p[200..], 2).unwrap();
    let held = engine::buy_and_hold(slice, &cfg, Record::NONE).unwrap();
    assert_eq!(
        c.out_of_sample.summary.buy_and_hold.final_value,
        held.final_value
    );
    // Today's rule is chosen on the latest training window: the 100 days up to the last bar.
    assert_eq!(c.today_window, (49, 149));
    let latest: Vec<f64> = grid
        .iter()
        .map(|r| sharpe(px, &cfg, r, 49, 150).0)
        .collect();
    assert_eq!(c.today, argmax(&latest));
}

#[test]
fn each_fold_runs_its_own_choice_from_its_first_test_bar_with_holdings_carried_over() {
    // 300 days: train 100, test 50 -> four folds; the joined run equals one run with the rule
    // changes at the folds' first test bars.
    let mut p = Vec::new();
    for t in 0..300 {
        let x = (t as f64 * 0.37).sin() * 0.2 + t as f64 * 0.001;
        p.push(50.0 * (1.0 + x));
        p.push(80.0 * (1.0 - 0.5 * x));
        p.push(20.0 * (1.0 + 0.3 * (t as f64 * 0.11).cos()));
    }
    let times: Vec<i64> = (0..300).map(|t| t * DAY).collect();
    let px = Prices::new(&times, &p, 3).unwrap();
    let grid: Vec<Rule> = [
        "threshold:2",
        "threshold:8",
        "every:7d",
        "every:28d+threshold:3",
    ]
    .iter()
    .flat_map(|t| {
        [0, 3 * DAY].map(|cooldown_ms| Rule {
            trigger: t.parse().unwrap(),
            cooldown_ms,
        })
    })
    .collect();
    let cfg = Config::new(vec![0.5, 0.3, 0.2]);
    let setup = daily_100_50(&grid, &cfg);
    let c = walk_forward(px, &TargetPath::fixed(vec![0.5, 0.3, 0.2]), &setup).unwrap();
    let starts: Vec<usize> = c.folds.iter().map(|f| f.test_from).collect();
    assert_eq!(starts, [100, 150, 200, 250]);
    for f in &c.folds {
        assert_eq!((f.train_from, f.train_to), (f.test_from - 100, f.test_from));
        let scores: Vec<f64> = grid
            .iter()
            .map(|r| sharpe(px, &cfg, r, f.train_from, f.train_to).0)
            .collect();
        assert_eq!(f.rule, argmax(&scores));
    }
    let rules: Vec<RuleChange> = c
        .folds
        .iter()
        .map(|f| RuleChange {
            bar: f.test_from - 100,
            trigger: grid[f.rule].trigger.clone(),
            cooldown_ms: grid[f.rule].cooldown_ms,
        })
        .collect();
    let slice = Prices::new(&times[100..], &p[300..], 3).unwrap();
    let joined = engine::run_with_rules(slice, &cfg, &[], &rules, Record::NONE).unwrap();
    assert_eq!(
        c.out_of_sample.summary.strategy.final_value,
        joined.final_value
    );
    let equal = Config {
        targets: vec![1.0 / 3.0; 3],
        ..cfg.clone()
    };
    let eq = engine::run_with_rules(slice, &equal, &[], &rules, Record::NONE).unwrap();
    assert_eq!(c.out_of_sample.equal_weight.final_value, eq.final_value);
}
