//! Assets that start (and end) on different dates: the loader keeps only the common bars and
//! the engine starts on the first of them. Uses small CSV files written by the test.

use smartfolio_backtest::engine::{self, Config, Prices, Record};
use smartfolio_backtest::metrics::Metrics;
use smartfolio_core::Trigger;
use smartfolio_data::{LoadOptions, load, parse_time_ms};
use std::fs;

#[test]
fn assets_starting_on_different_dates_are_inner_joined() {
    let dir = std::env::temp_dir().join(format!("smartfolio-bt-align-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    // AAA trades from Jan 1, BBB only from Jan 3 and AAA stops after Jan 5.
    fs::write(
        dir.join("AAA.csv"),
        "date,close\n2024-01-01,1\n2024-01-02,2\n2024-01-03,10\n2024-01-04,12\n2024-01-05,15\n",
    )
    .unwrap();
    fs::write(
        dir.join("BBB.csv"),
        "date,close\n2024-01-03,100\n2024-01-04,100\n2024-01-05,80\n2024-01-06,90\n",
    )
    .unwrap();
    let opts = LoadOptions {
        assets: vec!["AAA".into(), "BBB".into()],
        ..LoadOptions::default()
    };
    let table = load(&dir, &opts).unwrap();
    fs::remove_dir_all(&dir).ok();
    assert_eq!(table.n_bars(), 3);
    assert_eq!(table.times_ms[0], parse_time_ms("2024-01-03").unwrap());
    assert_eq!(table.times_ms[2], parse_time_ms("2024-01-05").unwrap());
    assert_eq!(table.prices, vec![10.0, 100.0, 12.0, 100.0, 15.0, 80.0]);

    // 50/50 of 1,000, no fees, never rebalanced after bar 0 (threshold far away):
    // 50 AAA and 5 BBB; Jan 4: 600 + 500 = 1,100; Jan 5: 750 + 400 = 1,150.
    let mut cfg = Config::new(vec![0.5, 0.5]);
    cfg.capital = 1_000.0;
    cfg.fee_rate = 0.0;
    let t: Trigger = "threshold:50".parse().unwrap();
    let o = engine::run(Prices::try_from(&table).unwrap(), &t, &cfg, Record::ALL).unwrap();
    assert_eq!(o.n_rebalances, 1);
    assert_eq!(o.equity, vec![1_000.0, 1_100.0, 1_150.0]);
    assert_eq!(o.final_quantities, vec![50.0, 5.0]);
    let m = Metrics::compute(&o, &table.times_ms, cfg.capital, table.periods_per_year());
    assert!((m.total_return - 0.15).abs() < 1e-12);
    assert_eq!(m.max_drawdown, 0.0);

    // Daily rebalancing: Jan 4 back to 550/550 (45.8333 AAA, 5.5 BBB); Jan 5 worth
    // 45.8333·15 + 5.5·80 = 687.5 + 440 = 1,127.5.
    let t: Trigger = "every:1d".parse().unwrap();
    let o = engine::run(Prices::try_from(&table).unwrap(), &t, &cfg, Record::ALL).unwrap();
    assert_eq!(o.n_rebalances, 3);
    assert!((o.equity[2] - 1_127.5).abs() < 1e-9, "{:?}", o.equity);
}
