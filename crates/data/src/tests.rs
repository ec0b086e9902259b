use super::*;
use std::fs;

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, body) in files {
        fs::write(d.path().join(name), body).unwrap();
    }
    d
}

fn opts(assets: &[&str]) -> LoadOptions {
    LoadOptions {
        assets: assets.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[test]
fn folder_assets_starting_on_different_dates_are_inner_joined() {
    let d = dir_with(&[
        (
            "BTC.csv",
            "date,close,market_cap\n2024-01-01,100,1000\n2024-01-02,110,\n2024-01-03,120,1200\n2024-01-04,130,1300\n",
        ),
        // ETH starts a day later and misses 2024-01-04: only 01-02 and 01-03 are common.
        (
            "ETH.csv",
            "date,close\n2024-01-02,10\n2024-01-03,11\n2024-01-05,12\n",
        ),
    ]);
    let t = load(d.path(), &opts(&["BTC", "ETH"])).unwrap();
    assert_eq!(t.assets, vec!["BTC", "ETH"]);
    assert_eq!(
        t.times_ms,
        vec![
            parse_time_ms("2024-01-02").unwrap(),
            parse_time_ms("2024-01-03").unwrap()
        ]
    );
    assert_eq!(t.prices, vec![110.0, 10.0, 120.0, 11.0]);
    let caps = t.market_caps.as_ref().unwrap();
    assert!(caps[0].is_nan() && caps[1].is_nan());
    assert_eq!(caps[2], 1200.0);
    assert_eq!(t.bar_ms, DAY_MS);
    assert_eq!(t.periods_per_year(), 365.0);
    assert_eq!(t.column(1), vec![10.0, 11.0]);
    assert_eq!(t.row(1), &[120.0, 11.0]);
}

#[test]
fn candle_files_pick_the_finest_common_interval() {
    let h = "open_time,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,1,1,5,1\n2024-01-01T01:00:00Z,1,1,1,6,1\n2024-01-01T02:00:00Z,1,1,1,7,1\n";
    let h4 = "open_time,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,1,1,50,1\n";
    let d = dir_with(&[
        ("BTCUSDT-1h.csv", h),
        ("BTCUSDT-4h.csv", h4),
        ("ETHUSDT-1h.csv", h),
    ]);
    let t = load(d.path(), &opts(&["BTC", "ETH"])).unwrap();
    assert_eq!(t.n_bars(), 3);
    assert_eq!(t.periods_per_year(), 8760.0);
    assert_eq!(t.row(2), &[7.0, 7.0]);
    let mut o = opts(&["BTC"]);
    o.interval = Some("4h".into());
    assert_eq!(load(d.path(), &o).unwrap().prices, vec![50.0]);
    o.assets.push("ETH".into());
    let e = load(d.path(), &o).unwrap_err();
    assert!(e.message.contains("no 4h file for ETH"), "{e}");
}

#[test]
fn wide_csv_selects_columns_in_the_order_asked() {
    let d = dir_with(&[(
        "w.csv",
        "timestamp,A,B,C\n2020-01-01T00:00:00Z,1,2,3\n2020-01-01T01:00:00Z,4,5,6\n",
    )]);
    let p = d.path().join("w.csv");
    let all = load(&p, &LoadOptions::default()).unwrap();
    assert_eq!(all.assets, vec!["A", "B", "C"]);
    let t = load(&p, &opts(&["C", "A"])).unwrap();
    assert_eq!(t.prices, vec![3.0, 1.0, 6.0, 4.0]);
    let e = load(&p, &opts(&["Z"])).unwrap_err();
    assert_eq!(e.line, Some(1));
    assert!(
        e.message.contains("unknown asset Z") && e.message.contains("A,B,C"),
        "{e}"
    );
}

#[test]
fn window_is_inclusive_and_empty_windows_are_errors() {
    let d = dir_with(&[(
        "BTC.csv",
        "date,close\n2024-01-01,1\n2024-01-02,2\n2024-01-03,3\n2024-01-04,4\n",
    )]);
    let mut o = opts(&["BTC"]);
    o.from_ms = parse_time_ms("2024-01-02");
    o.to_ms = parse_time_ms("2024-01-03");
    assert_eq!(load(d.path(), &o).unwrap().prices, vec![2.0, 3.0]);
    o.from_ms = parse_time_ms("2025-01-01");
    o.to_ms = None;
    let e = load(d.path(), &o).unwrap_err();
    assert!(e.message.contains("no common bars"), "{e}");
}

#[test]
fn bad_input_names_the_file_and_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "date,close\n2024-01-01,1\n2024-01-02,nan\n",
            3,
            "close is nan; allowed: a price in quote ≥ 0.000000000001 (1e-12)",
        ),
        (
            "date,close\n2024-01-01,1\n2024-01-02,0\n",
            3,
            "close is 0; allowed: a price",
        ),
        (
            "date,close\n2024-01-01,1\n2024-01-02,-5\n",
            3,
            "close is -5; allowed",
        ),
        (
            "date,close\n2024-01-01,1\n2024-01-02,1e400\n",
            3,
            "close is 1e400; allowed",
        ),
        (
            "date,close\n2024-01-01,1\n2024-01-02,2e15\n",
            3,
            "≤ 1000000000000000 (1e15)",
        ),
        (
            "date,close\n2024-01-01,1\n2024-01-02,0.0000000000001\n",
            3,
            "close is 0.0000000000001; allowed",
        ),
        (
            "date,close\n2024-01-01,1\n2024-01-02,abc\n",
            3,
            "not a number",
        ),
        ("date,close\n2024-01-01,1\n2024-01-02,\n", 3, "never filled"),
        (
            "date,close\n2024-01-02,1\n2024-01-01,2\n",
            3,
            "increasing time order",
        ),
        (
            "date,close\n2024-01-01,1\n2024-01-01,2\n",
            3,
            "duplicate timestamp",
        ),
        ("date,close\n2024-01-01,1\nyesterday,2\n", 3, "not a date"),
        ("date,close\n2024-01-01,1\n2024-01-02,2,3\n", 3, "fields"),
    ];
    for (body, line, needle) in cases {
        let d = dir_with(&[("BTC.csv", body)]);
        let e = load(d.path(), &opts(&["BTC"])).unwrap_err();
        assert_eq!(
            e.file.as_deref(),
            Some(d.path().join("BTC.csv").as_path()),
            "{body}"
        );
        assert_eq!(e.line, Some(*line), "{body}: {e}");
        assert!(e.message.contains(needle), "{body}: {e}");
        assert!(e.to_string().contains(&format!("BTC.csv:{line}:")), "{e}");
    }
}

#[test]
fn missing_and_unknown_inputs() {
    let d = dir_with(&[("BTC.csv", "date,close\n2024-01-01,1\n")]);
    let e = load(&d.path().join("nope"), &opts(&["BTC"])).unwrap_err();
    assert!(
        e.to_string().contains("nope") && e.message.contains("no such file"),
        "{e}"
    );
    let e = load(d.path(), &opts(&["BTC", "DOGE"])).unwrap_err();
    assert!(
        e.message.contains("unknown asset DOGE") && e.message.contains("BTC"),
        "{e}"
    );
    let e = load(d.path(), &opts(&[])).unwrap_err();
    assert!(e.message.contains("--assets"), "{e}");
    let d2 = dir_with(&[
        ("BTC.csv", "date,close\n2024-01-01,1\n"),
        ("ETH.csv", "date,close\n2024-02-01,1\n"),
    ]);
    let e = load(d2.path(), &opts(&["BTC", "ETH"])).unwrap_err();
    assert!(e.message.contains("no timestamp in common"), "{e}");
}

#[test]
fn cmc_takes_the_latest_value_on_or_before_the_date() {
    let d = dir_with(&[(
        "cmc.csv",
        "date,symbol,name,rank,market_cap,price,circulating_supply\n\
         2024-01-01,BTC,Bitcoin,1,100,1,1\n2024-02-01,BTC,Bitcoin,1,200,1,1\n\
         2024-03-01,BTC,Bitcoin,1,300,1,1\n2024-02-01,ETH,Ethereum,2,50,1,1\n",
    )]);
    let p = d.path().join("cmc.csv");
    let at = parse_time_ms("2024-02-15").unwrap();
    let caps = cmc_market_caps(&p, &["BTC".into(), "ETH".into()], at).unwrap();
    assert_eq!(caps, vec![200.0, 50.0]);
    let e = cmc_market_caps(&p, &["ETH".into()], parse_time_ms("2024-01-15").unwrap()).unwrap_err();
    assert!(
        e.message.contains("ETH") && e.message.contains("2024-01-15"),
        "{e}"
    );
}

#[test]
fn wide_plain_and_quoted_files_read_the_same() {
    let plain = "timestamp,A,B\n2020-01-01,1.5,2\r\n2020-01-02,3,4.25\n\n";
    let quoted = "\"timestamp\",\"A\",\"B\"\n2020-01-01,\"1.5\",2\n2020-01-02,3,4.25\n";
    let d = dir_with(&[("p.csv", plain), ("q.csv", quoted)]);
    let p = load(&d.path().join("p.csv"), &LoadOptions::default()).unwrap();
    let q = load(&d.path().join("q.csv"), &LoadOptions::default()).unwrap();
    assert_eq!(p.prices, vec![1.5, 2.0, 3.0, 4.25]);
    assert_eq!(p.prices, q.prices);
    assert_eq!(p.times_ms, q.times_ms);
    assert_eq!(p.assets, q.assets);
}

#[test]
fn wide_bad_rows_name_the_line_on_both_paths() {
    for quote in ["", "\""] {
        for (body, needle) in [
            ("2020-01-01,1,2\n2020-01-02,1\n", "expected 3 fields"),
            (
                "2020-01-01,1,2\n2020-01-02,1,NaN\n",
                "B is NaN; allowed: a price in quote",
            ),
            ("2020-01-02,1,2\n2020-01-01,1,2\n", "increasing time order"),
        ] {
            let text = format!("{quote}timestamp{quote},A,B\n{body}");
            let d = dir_with(&[("w.csv", &text)]);
            let e = load(&d.path().join("w.csv"), &LoadOptions::default()).unwrap_err();
            assert_eq!(e.line, Some(3), "{text}: {e}");
            assert!(e.message.contains(needle), "{text}: {e}");
        }
    }
}

#[test]
fn large_wide_files_parse_in_chunks_with_absolute_line_numbers() {
    // Over 1 MiB so the parallel path runs; every row distinct so chunk joins are checked.
    let mut body = String::from("timestamp,A,B\n");
    let rows = 40_000;
    for r in 0..rows {
        body.push_str(&format!(
            "{},{}.5,{}\n",
            1_600_000_000 + r * 3600,
            r + 1,
            2 * r + 1
        ));
    }
    let d = dir_with(&[("big.csv", &body)]);
    let t = load(&d.path().join("big.csv"), &LoadOptions::default()).unwrap();
    assert_eq!(t.n_bars(), rows as usize);
    assert_eq!(t.row(12_345), &[12_346.5, 24_691.0]);
    assert!(t.times_ms.windows(2).all(|w| w[1] - w[0] == 3_600_000));
    // A bad value deep in the file, and a disorder exactly at a row boundary anywhere.
    // The rows around the middle byte are where two chunks meet on a 2-core machine.
    let header_len = body.find('\n').unwrap() + 1;
    let mid_byte = header_len + (body.len() - header_len) / 2;
    let mid_row = body[header_len..mid_byte].matches('\n').count();
    for bad_row in [
        0usize,
        mid_row - 1,
        mid_row,
        mid_row + 1,
        mid_row + 2,
        39_999,
    ] {
        let mut lines: Vec<String> = body.lines().map(str::to_string).collect();
        lines[bad_row + 1] = format!("{},-1,1", 1_600_000_000 + bad_row as i64 * 3600);
        let d = dir_with(&[("bad.csv", &(lines.join("\n") + "\n"))]);
        let Err(e) = load(&d.path().join("bad.csv"), &LoadOptions::default()) else {
            panic!("negative price at row {bad_row} accepted");
        };
        assert_eq!(e.line, Some(bad_row + 2), "{e}");
        if bad_row == 0 {
            continue;
        }
        // The row repeats the previous row's time: a duplicate, possibly across a chunk join.
        let mut lines: Vec<String> = body.lines().map(str::to_string).collect();
        lines[bad_row + 1] = format!("{},1,1", 1_600_000_000 + (bad_row as i64 - 1) * 3600);
        let d = dir_with(&[("dis.csv", &(lines.join("\n") + "\n"))]);
        let Err(e) = load(&d.path().join("dis.csv"), &LoadOptions::default()) else {
            panic!("duplicate at row {bad_row} accepted");
        };
        assert_eq!(e.line, Some(bad_row + 2), "{e}");
        assert!(e.message.contains("duplicate timestamp"), "{e}");
    }
}
