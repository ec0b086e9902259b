//! Replay and synthetic feeds.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_data::{LoadOptions, PriceTable};
use smartfolio_exchange::PriceFeed;
use smartfolio_exchange::feed::{ReplayFeed, ReplayOptions, SyntheticConfig, SyntheticMarket};
use std::io::Write;
use tokio::time::{Duration, Instant};

const HOUR: i64 = 3_600_000;
const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z

fn table() -> PriceTable {
    PriceTable {
        assets: vec!["BTC".into(), "ETH".into(), "DOGE".into()],
        times_ms: vec![T0, T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR],
        prices: vec![
            42283.58, 2281.87, 0.08946, //
            42475.23, 2289.42, 0.0901, //
            42613.56, 2295.1, 0.1, //
            42581.1, 2293.99, 0.09, //
        ],
        market_caps: None,
        bar_ms: HOUR,
        files: vec![],
    }
}

/// The rows of the table, as the decimals they were written as.
fn expected_rows() -> Vec<(i64, [Decimal; 3])> {
    vec![
        (T0, [dec!(42283.58), dec!(2281.87), dec!(0.08946)]),
        (T0 + HOUR, [dec!(42475.23), dec!(2289.42), dec!(0.0901)]),
        (T0 + 2 * HOUR, [dec!(42613.56), dec!(2295.1), dec!(0.1)]),
        (T0 + 3 * HOUR, [dec!(42581.1), dec!(2293.99), dec!(0.09)]),
    ]
}

#[tokio::test]
async fn replay_yields_exactly_the_rows_in_order() {
    let mut feed = ReplayFeed::new(&table(), "usdt", ReplayOptions::default()).unwrap();
    assert_eq!(feed.assets(), ["BTC", "ETH", "DOGE"]);
    assert_eq!(feed.quote(), "USDT");
    assert_eq!(feed.len(), 4);
    for (time, prices) in expected_rows() {
        let tick = feed.next_tick().await.expect("a tick per row");
        assert_eq!(tick.time_ms, time);
        let names: Vec<&str> = tick.prices.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(names, ["BTC", "ETH", "DOGE"]);
        let got: Vec<Decimal> = tick.prices.iter().map(|(_, p)| *p).collect();
        assert_eq!(got, prices);
        // Shortest representation: 0.1 is exactly 0.1, not 0.1000000000000000055…
        for p in got {
            assert!(p.scale() <= 5, "{p}");
        }
    }
    assert_eq!(feed.remaining(), 0);
    assert!(feed.next_tick().await.is_none());
    assert!(feed.next_tick().await.is_none());
}

#[tokio::test]
async fn replay_starts_at_the_offset() {
    let opts = ReplayOptions {
        start_ms: Some(T0 + HOUR + 1),
        ..Default::default()
    };
    let mut feed = ReplayFeed::new(&table(), "USDT", opts).unwrap();
    assert_eq!(feed.len(), 2);
    let t = feed.next_tick().await.unwrap();
    assert_eq!(t.time_ms, T0 + 2 * HOUR);
    assert_eq!(t.price("eth"), Some(dec!(2295.1)));
    let opts = ReplayOptions {
        start_ms: Some(T0 + 10 * HOUR),
        ..Default::default()
    };
    let mut feed = ReplayFeed::new(&table(), "USDT", opts).unwrap();
    assert!(feed.is_empty());
    assert!(feed.next_tick().await.is_none());
}

/// Speed 3600 = one hour of history per second: hourly bars come one second apart.
#[tokio::test(start_paused = true)]
async fn replay_paces_by_speed() {
    let opts = ReplayOptions {
        speed: Some(3600.0),
        start_ms: None,
    };
    let mut feed = ReplayFeed::new(&table(), "USDT", opts).unwrap();
    let start = Instant::now();
    let mut seen = Vec::new();
    while let Some(t) = feed.next_tick().await {
        seen.push((t.time_ms, start.elapsed()));
    }
    let expected: Vec<(i64, Duration)> = (0..4)
        .map(|k| (T0 + k * HOUR, Duration::from_secs(k as u64)))
        .collect();
    assert_eq!(seen, expected);

    // Twice as fast: half a second per bar.
    let opts = ReplayOptions {
        speed: Some(7200.0),
        start_ms: None,
    };
    let mut feed = ReplayFeed::new(&table(), "USDT", opts).unwrap();
    let start = Instant::now();
    while feed.next_tick().await.is_some() {}
    assert_eq!(start.elapsed(), Duration::from_millis(1500));
}

#[tokio::test(start_paused = true)]
async fn replay_without_speed_does_not_wait() {
    let mut feed = ReplayFeed::new(&table(), "USDT", ReplayOptions::default()).unwrap();
    let start = Instant::now();
    while feed.next_tick().await.is_some() {}
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[test]
fn replay_rejects_bad_prices_and_speeds() {
    let mut t = table();
    t.prices[4] = f64::NAN;
    let e = ReplayFeed::new(&t, "USDT", ReplayOptions::default()).unwrap_err();
    assert!(e.0.contains("ETH") && e.0.contains("NaN"), "{e}");
    assert!(e.0.contains("2024-01-01T01:00:00"), "{e}");
    let mut t = table();
    t.prices[2] = -1.0;
    let e = ReplayFeed::new(&t, "USDT", ReplayOptions::default()).unwrap_err();
    assert!(e.0.contains("DOGE") && e.0.contains("-1"), "{e}");
    for speed in [0.0, -3.0, f64::INFINITY] {
        let opts = ReplayOptions {
            speed: Some(speed),
            start_ms: None,
        };
        let e = ReplayFeed::new(&table(), "USDT", opts).unwrap_err();
        assert!(e.0.contains("replay.speed"), "{e}");
    }
    let e = ReplayFeed::new(&table(), "US DT", ReplayOptions::default()).unwrap_err();
    assert!(e.0.contains("replay.quote"), "{e}");
}

#[tokio::test]
async fn replay_loads_a_wide_csv() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prices.csv");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "timestamp,BTC,ETH").unwrap();
    writeln!(f, "2024-01-01,42283.58,2281.87").unwrap();
    writeln!(f, "2024-01-02,44950.1,2354.5").unwrap();
    drop(f);
    let mut feed = ReplayFeed::load(
        &path,
        &LoadOptions::default(),
        "USDT",
        ReplayOptions::default(),
    )
    .unwrap();
    let a = feed.next_tick().await.unwrap();
    let b = feed.next_tick().await.unwrap();
    assert!(feed.next_tick().await.is_none());
    assert_eq!(a.time_ms, T0);
    assert_eq!(b.time_ms, T0 + 24 * HOUR);
    assert_eq!(b.price("BTC"), Some(dec!(44950.1)));
    assert_eq!(a.price("ETH"), Some(dec!(2281.87)));

    let missing = dir.path().join("nope.csv");
    let e = ReplayFeed::load(
        &missing,
        &LoadOptions::default(),
        "USDT",
        ReplayOptions::default(),
    )
    .unwrap_err();
    assert!(e.0.contains("nope.csv"), "{e}");
}

fn ticks(cfg: SyntheticConfig, n: usize) -> Vec<smartfolio_exchange::PriceTick> {
    let mut m = SyntheticMarket::new(cfg).unwrap();
    (0..n).map(|_| m.step()).collect()
}

#[test]
fn synthetic_is_deterministic_per_seed() {
    let assets = ["BTC", "ETH", "SOL", "DOGE"];
    let a = ticks(SyntheticConfig::new(&assets, 7), 2000);
    let b = ticks(SyntheticConfig::new(&assets, 7), 2000);
    let c = ticks(SyntheticConfig::new(&assets, 8), 2000);
    assert_eq!(a, b);
    assert_ne!(a[1..], c[1..]);
    // The first tick is the start prices at the start time; then one minute per tick.
    assert_eq!(a[0].time_ms, SyntheticConfig::DEFAULT_START_MS);
    assert_eq!(
        a[0].prices,
        vec![
            ("BTC".to_string(), dec!(60000)),
            ("ETH".to_string(), dec!(3000)),
            ("SOL".to_string(), dec!(150)),
            ("DOGE".to_string(), dec!(0.1)),
        ]
    );
    assert_eq!(a[1].time_ms - a[0].time_ms, 60_000);
    assert_eq!(a[1999].time_ms - a[0].time_ms, 1999 * 60_000);
    assert_ne!(a[1].prices, a[0].prices);
    // Prices are positive with at most 8 significant digits.
    for t in &a {
        for (_, p) in &t.prices {
            assert!(*p > Decimal::ZERO);
            let digits = p.mantissa().abs().to_string().trim_end_matches('0').len();
            assert!(digits <= 8, "{p} has {digits} significant digits");
        }
    }
    assert_eq!(SyntheticConfig::default_start_price("XRP"), dec!(0.5));
    assert_eq!(SyntheticConfig::default_start_price("ADA"), dec!(0.4));
    assert_eq!(SyntheticConfig::default_start_price("BNB"), dec!(500));
    assert_eq!(SyntheticConfig::default_start_price("LINK"), dec!(10));
}

fn log_returns(ticks: &[smartfolio_exchange::PriceTick], i: usize) -> Vec<f64> {
    use rust_decimal::prelude::ToPrimitive;
    ticks
        .windows(2)
        .map(|w| (w[1].prices[i].1.to_f64().unwrap() / w[0].prices[i].1.to_f64().unwrap()).ln())
        .collect()
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn stdev(x: &[f64]) -> f64 {
    let m = mean(x);
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
}

/// Annualised volatility of the generated log returns is the configured one (±20%), and the
/// assets are correlated as configured.
#[test]
fn synthetic_volatility_and_correlation_are_as_configured() {
    let assets = ["BTC", "ETH", "SOL", "DOGE"];
    let mut cfg = SyntheticConfig::new(&assets, 42);
    cfg.step_ms = 3_600_000; // hourly
    let t = ticks(cfg, 20_001);
    let periods_per_year = 8760.0_f64;
    for (i, want) in [0.6, 0.75, 1.0, 0.9].into_iter().enumerate() {
        let vol = stdev(&log_returns(&t, i)) * periods_per_year.sqrt();
        assert!(
            (vol / want - 1.0).abs() < 0.2,
            "{}: annualised vol {vol:.4}, configured {want}",
            assets[i]
        );
    }
    let (r0, r1) = (log_returns(&t, 0), log_returns(&t, 1));
    let (m0, m1) = (mean(&r0), mean(&r1));
    let cov = r0
        .iter()
        .zip(&r1)
        .map(|(a, b)| (a - m0) * (b - m1))
        .sum::<f64>()
        / (r0.len() - 1) as f64;
    let corr = cov / (stdev(&r0) * stdev(&r1));
    assert!((corr - 0.6).abs() < 0.05, "correlation {corr:.4}");

    // Overrides: a calm, uncorrelated market.
    let mut cfg = SyntheticConfig::new(&["BTC", "ETH"], 3);
    cfg.vols = vec![("btc".into(), 0.2)];
    cfg.correlation = 0.0;
    cfg.start_prices = vec![("ETH".into(), dec!(2500))];
    cfg.step_ms = 3_600_000;
    let t = ticks(cfg, 20_001);
    assert_eq!(t[0].price("ETH"), Some(dec!(2500)));
    let vol = stdev(&log_returns(&t, 0)) * periods_per_year.sqrt();
    assert!((vol / 0.2 - 1.0).abs() < 0.2, "vol {vol}");
    let (r0, r1) = (log_returns(&t, 0), log_returns(&t, 1));
    let (m0, m1) = (mean(&r0), mean(&r1));
    let cov = r0
        .iter()
        .zip(&r1)
        .map(|(a, b)| (a - m0) * (b - m1))
        .sum::<f64>()
        / (r0.len() - 1) as f64;
    assert!((cov / (stdev(&r0) * stdev(&r1))).abs() < 0.05);
}

#[tokio::test(start_paused = true)]
async fn synthetic_paces_and_ends() {
    let mut cfg = SyntheticConfig::new(&["BTC"], 1);
    cfg.ticks_per_second = Some(4.0);
    cfg.max_ticks = Some(9);
    let mut m = SyntheticMarket::new(cfg).unwrap();
    assert_eq!(m.assets(), ["BTC"]);
    assert_eq!(m.quote(), "USDT");
    let start = Instant::now();
    let mut n = 0;
    while m.next_tick().await.is_some() {
        n += 1;
    }
    assert_eq!(n, 9);
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert!(m.next_tick().await.is_none());
    assert_eq!(m.ticks(), 9);
}

#[test]
fn synthetic_rejects_bad_config() {
    let three = ["BTC", "ETH", "SOL"];
    let cases: Vec<(SyntheticConfig, &str)> = vec![
        (
            SyntheticConfig {
                correlation: 1.0,
                ..SyntheticConfig::new(&three, 1)
            },
            "synthetic.correlation",
        ),
        (
            // With 3 assets an equicorrelation must exceed -1/2.
            SyntheticConfig {
                correlation: -0.6,
                ..SyntheticConfig::new(&three, 1)
            },
            "synthetic.correlation",
        ),
        (
            SyntheticConfig {
                step_ms: 0,
                ..SyntheticConfig::new(&three, 1)
            },
            "synthetic.step_ms",
        ),
        (SyntheticConfig::new::<&str>(&[], 1), "synthetic.assets"),
        (SyntheticConfig::new(&["B T C"], 1), "synthetic.assets"),
        (
            SyntheticConfig {
                vols: vec![("BTC".into(), -0.1)],
                ..SyntheticConfig::new(&three, 1)
            },
            "synthetic.vols.BTC",
        ),
        (
            SyntheticConfig {
                vols: vec![("XRP".into(), 0.5)],
                ..SyntheticConfig::new(&three, 1)
            },
            "synthetic.vols",
        ),
        (
            SyntheticConfig {
                start_prices: vec![("ETH".into(), dec!(0))],
                ..SyntheticConfig::new(&three, 1)
            },
            "synthetic.start_prices.ETH",
        ),
        (
            SyntheticConfig {
                ticks_per_second: Some(0.0),
                ..SyntheticConfig::new(&three, 1)
            },
            "synthetic.ticks_per_second",
        ),
        (
            SyntheticConfig {
                significant_digits: 0,
                ..SyntheticConfig::new(&three, 1)
            },
            "synthetic.significant_digits",
        ),
    ];
    for (cfg, field) in cases {
        let e = SyntheticMarket::new(cfg).unwrap_err();
        assert!(e.0.contains(field), "{e} lacks {field}");
    }
    // Negative correlation above the bound is fine.
    assert!(
        SyntheticMarket::new(SyntheticConfig {
            correlation: -0.4,
            ..SyntheticConfig::new(&three, 1)
        })
        .is_ok()
    );
}
