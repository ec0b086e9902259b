//! Report writer: files, image formats, CSV round trip, HTML content and escaping, input errors.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use smartfolio_backtest::report::{
    MAX_POINTS_PER_LINE, MAX_TRADES_IN_HTML, Series, TradeRow, write_backtest_report,
    write_sweep_report,
};

const T0: i64 = 1_609_459_200_000; // 2021-01-01T00:00:00Z
const HOUR: i64 = 3_600_000;

struct Owned {
    times: Vec<i64>,
    strategy: Vec<f64>,
    benchmark: Vec<f64>,
    assets: Vec<String>,
    weights: Vec<f64>,
}

impl Owned {
    /// A deterministic drifting series: prices follow sines, the strategy holds fixed weights
    /// that drift between resets every 24 bars.
    fn new(bars: usize, assets: &[&str]) -> Owned {
        let n = assets.len();
        let mut weights = Vec::with_capacity(bars * n);
        let (mut strategy, mut benchmark) = (Vec::new(), Vec::new());
        for t in 0..bars {
            let x = t as f64;
            strategy.push(10_000.0 * (1.0 + 0.3 * (x / 50.0).sin() + x / 2_000.0));
            benchmark.push(10_000.0 * (1.0 + 0.4 * (x / 70.0).cos() - 0.4 + x / 3_000.0));
            let raw: Vec<f64> = (0..n)
                .map(|i| {
                    1.0 + 0.5 * ((t % 24) as f64 / 24.0) * ((i as f64) - (n as f64 - 1.0) / 2.0)
                })
                .collect();
            let sum: f64 = raw.iter().sum();
            weights.extend(raw.iter().map(|w| w / sum));
        }
        Owned {
            times: (0..bars as i64).map(|k| T0 + k * HOUR).collect(),
            strategy,
            benchmark,
            assets: assets.iter().map(|s| s.to_string()).collect(),
            weights,
        }
    }

    fn series(&self) -> Series<'_> {
        Series {
            times_ms: &self.times,
            strategy_equity: &self.strategy,
            benchmark_equity: &self.benchmark,
            assets: &self.assets,
            weights: &self.weights,
        }
    }
}

fn metrics() -> Vec<(String, String, String)> {
    vec![
        ("Final value".into(), "12345.67".into(), "11111.11".into()),
        ("Sharpe".into(), "1.234".into(), "0.987".into()),
        (
            "Max drawdown".into(),
            "-12.5% (2021-01-02 → 2021-01-05)".into(),
            "-20.1%".into(),
        ),
        (
            "Fees <paid> & \"rounded\"".into(),
            "3.50".into(),
            "0".into(),
        ),
    ]
}

fn trades(count: usize) -> Vec<TradeRow> {
    // Values chosen so that a lossy formatter would not round-trip them.
    let awkward = [
        0.1 + 0.2,
        1.0 / 3.0,
        123_456_789.123_456_78,
        1e-17,
        2.0f64.sqrt() * 1e6,
    ];
    (0..count)
        .map(|k| TradeRow {
            time_ms: T0 + (k as i64) * HOUR + if k % 2 == 1 { 250 } else { 0 },
            asset: ["BTC", "ETH", "SOL"][k % 3].to_string(),
            side: if k % 2 == 0 { "buy" } else { "sell" },
            quantity: awkward[k % 5] * (k + 1) as f64,
            price: awkward[(k + 1) % 5] + k as f64,
            notional: awkward[(k + 2) % 5],
            fee: awkward[(k + 3) % 5] / 1000.0,
        })
        .collect()
}

fn unique_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("smartfolio-report-{name}-"))
        .tempdir()
        .unwrap()
}

fn file_names(files: &[PathBuf]) -> BTreeSet<String> {
    files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Checks the PNG signature and IHDR, then decodes the whole image; returns (width, height, distinct
/// pixel colours seen).
fn png_info(path: &Path) -> (u32, u32, usize) {
    let bytes = fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{}: not a PNG",
        path.display()
    );
    assert_eq!(
        &bytes[12..16],
        b"IHDR",
        "{}: first chunk is not IHDR",
        path.display()
    );
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    let decoder = png::Decoder::new(io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (w, h));
    let channels = info.color_type.samples();
    let colours: BTreeSet<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    (w, h, colours.len())
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn assert_svg(path: &Path) -> String {
    let text = read(path);
    let head = text.trim_start();
    assert!(
        head.starts_with("<svg") || head.starts_with("<?xml"),
        "{}: {}",
        path.display(),
        &head[..40]
    );
    assert!(
        text.trim_end().ends_with("</svg>"),
        "{}: not closed",
        path.display()
    );
    text
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[test]
fn backtest_report_writes_every_file_with_valid_content() {
    let tmp = unique_dir("all");
    let dir = tmp.path().join("nested/out");
    let owned = Owned::new(500, &["BTC", "ETH", "SOL"]);
    let trades = trades(7);
    let title = "Report <b>& more";
    let files = write_backtest_report(&dir, title, &owned.series(), &metrics(), &trades).unwrap();

    let want: BTreeSet<String> = [
        "equity.svg",
        "equity.png",
        "weights.svg",
        "weights.png",
        "drawdown.svg",
        "drawdown.png",
        "trades.csv",
        "index.html",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(file_names(&files), want);
    for f in &files {
        assert!(
            f.starts_with(&dir),
            "{} outside the report dir",
            f.display()
        );
        assert!(
            fs::metadata(f).unwrap().len() > 0,
            "{} is empty",
            f.display()
        );
    }

    for stem in ["equity", "weights", "drawdown"] {
        let (w, h, colours) = png_info(&dir.join(format!("{stem}.png")));
        assert_eq!((w, h), (1200, 560), "{stem}.png size");
        assert!(colours > 5, "{stem}.png looks blank ({colours} colours)");
        assert_svg(&dir.join(format!("{stem}.svg")));
    }
    let weights_svg = assert_svg(&dir.join("weights.svg"));
    for a in &owned.assets {
        assert!(
            weights_svg.contains(a.as_str()),
            "weights.svg legend lacks {a}"
        );
    }
    let equity_svg = assert_svg(&dir.join("equity.svg"));
    assert!(equity_svg.contains("Buy-and-hold") && equity_svg.contains("Strategy"));
    assert!(
        equity_svg.contains("2021-01-"),
        "equity.svg has no date labels"
    );
    assert!(assert_svg(&dir.join("drawdown.svg")).contains("Drawdown"));
}

#[test]
fn trades_csv_has_one_line_per_trade_and_round_trips_exactly() {
    let tmp = unique_dir("csv");
    let owned = Owned::new(50, &["BTC", "ETH", "SOL"]);
    let mut trades = trades(11);
    trades[3].asset = "WEIRD,\"NAME\"".into();
    write_backtest_report(tmp.path(), "csv", &owned.series(), &metrics(), &trades).unwrap();
    let csv = read(&tmp.path().join("trades.csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "time,asset,side,quantity,price,notional,fee");
    assert_eq!(lines.len(), trades.len() + 1);
    assert_eq!(lines[1].split(',').next(), Some("2021-01-01T00:00:00Z"));
    assert_eq!(lines[2].split(',').next(), Some("2021-01-01T01:00:00.250Z"));
    assert_eq!(
        lines[4],
        format!(
            "2021-01-01T03:00:00.250Z,\"WEIRD,\"\"NAME\"\"\",sell,{},{},{},{}",
            trades[3].quantity, trades[3].price, trades[3].notional, trades[3].fee
        )
    );
    for (line, t) in lines[1..].iter().zip(&trades) {
        if t.asset.contains(',') {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 7, "{line}");
        assert_eq!(f[1], t.asset);
        assert_eq!(f[2], t.side);
        let nums: Vec<f64> = f[3..].iter().map(|x| x.parse().unwrap()).collect();
        assert_eq!(nums, vec![t.quantity, t.price, t.notional, t.fee], "{line}");
        let hour = (t.time_ms - T0) / HOUR;
        assert!(
            f[0].starts_with(&format!("2021-01-01T{hour:02}:00:00")),
            "{line}"
        );
    }
}

#[test]
fn index_html_shows_metrics_charts_and_escapes_text() {
    let tmp = unique_dir("html");
    let owned = Owned::new(100, &["BTC", "ETH", "SOL"]);
    let trades = trades(5);
    write_backtest_report(
        tmp.path(),
        "<b>& Co's \"test\"",
        &owned.series(),
        &metrics(),
        &trades,
    )
    .unwrap();
    let html = read(&tmp.path().join("index.html"));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<title>&lt;b&gt;&amp; Co&#39;s &quot;test&quot;</title>"));
    assert!(html.contains("<h1>&lt;b&gt;&amp; Co&#39;s &quot;test&quot;</h1>"));
    assert!(!html.contains("<b>&"), "title not escaped");
    for (name, strat, bench) in metrics() {
        for text in [name, strat, bench] {
            assert!(
                html.contains(&html_escape(&text)),
                "index.html lacks {text:?}"
            );
        }
    }
    assert!(!html.contains("Fees <paid>"), "metric name not escaped");
    for href in ["equity.svg", "weights.svg", "drawdown.svg", "trades.csv"] {
        assert!(
            html.contains(&format!("\"{href}\"")),
            "index.html does not reference {href}"
        );
        assert!(tmp.path().join(href).is_file());
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "index.html refers to the network"
    );
    assert!(!html.contains("<script"), "index.html has scripts");
    for t in &trades {
        assert!(
            html.contains(&t.quantity.to_string()),
            "trade quantity {} not listed",
            t.quantity
        );
    }
}

#[test]
fn html_lists_at_most_the_first_trades_while_csv_keeps_all() {
    let tmp = unique_dir("many-trades");
    let owned = Owned::new(100, &["BTC", "ETH", "SOL"]);
    let trades = trades(MAX_TRADES_IN_HTML + 57);
    write_backtest_report(tmp.path(), "many", &owned.series(), &metrics(), &trades).unwrap();
    let html = read(&tmp.path().join("index.html"));
    let table = &html[html.find("<table class=\"trades\">").expect("trades table")..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(
        table.matches("<tr>").count(),
        MAX_TRADES_IN_HTML + 1,
        "header + listed rows"
    );
    assert!(table.contains(&trades[MAX_TRADES_IN_HTML - 1].quantity.to_string()));
    assert!(!table.contains(&trades[MAX_TRADES_IN_HTML].quantity.to_string()));
    assert!(html.contains(&format!("{} trade legs", trades.len())));
    assert_eq!(
        read(&tmp.path().join("trades.csv")).lines().count(),
        trades.len() + 1
    );
}

/// Number of points in every `<polyline>` and `<polygon>` of an SVG.
fn svg_shape_sizes(svg: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in svg.split("points=\"").skip(1) {
        let pts = &part[..part.find('"').unwrap()];
        out.push(pts.split_whitespace().count());
    }
    out
}

#[test]
fn long_series_are_downsampled_in_charts_but_not_in_csv() {
    let tmp = unique_dir("long");
    let names: Vec<String> = (1..=10).map(|i| format!("ASSET{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let owned = Owned::new(43_800, &refs);
    let trades = trades(3_000);
    write_backtest_report(tmp.path(), "long", &owned.series(), &metrics(), &trades).unwrap();
    for stem in ["equity", "drawdown", "weights"] {
        let svg = read(&tmp.path().join(format!("{stem}.svg")));
        let sizes = svg_shape_sizes(&svg);
        assert!(!sizes.is_empty(), "{stem}.svg has no lines");
        // A weights polygon is an upper and a lower edge of at most MAX_POINTS_PER_LINE + 1 points each.
        let limit = if stem == "weights" {
            2 * (MAX_POINTS_PER_LINE + 1)
        } else {
            MAX_POINTS_PER_LINE + 2
        };
        assert!(
            sizes.iter().all(|&n| n <= limit),
            "{stem}.svg: shape sizes {sizes:?}"
        );
        assert!(
            sizes.iter().any(|&n| n > 500),
            "{stem}.svg: the series was thinned too much: {sizes:?}"
        );
    }
    assert_eq!(read(&tmp.path().join("trades.csv")).lines().count(), 3_001);
}

#[test]
fn single_bar_and_many_assets_render() {
    let tmp = unique_dir("edge");
    let one = Owned::new(1, &["BTC"]);
    write_backtest_report(&tmp.path().join("one"), "one bar", &one.series(), &[], &[]).unwrap();
    let (w, h, _) = png_info(&tmp.path().join("one/weights.png"));
    assert_eq!((w, h), (1200, 560));

    let names: Vec<String> = (0..25).map(|i| format!("A{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let many = Owned::new(300, &refs);
    write_backtest_report(
        &tmp.path().join("many"),
        "many",
        &many.series(),
        &metrics(),
        &[],
    )
    .unwrap();
    let svg = read(&tmp.path().join("many/weights.svg"));
    for n in &names {
        assert!(svg.contains(n.as_str()), "legend lacks {n}");
    }
}

#[test]
fn extreme_but_valid_values_render_without_panicking() {
    let tmp = unique_dir("extreme");
    let mut o = Owned::new(4, &["BTC", "ETH"]);
    o.strategy = vec![1e300, -1e300, 0.0, 5e-324];
    o.benchmark = vec![0.0, 0.0, 0.0, 0.0];
    o.weights = vec![1e300, -1e300, 0.0, 0.0, 2.0, -1.0, 0.5, 0.5];
    o.times = vec![-62_167_219_200_000, 0, 1, 253_402_300_799_999]; // 0000-01-01 .. 9999-12-31
    let mut t = trades(2);
    t[0].time_ms = i64::MIN;
    t[1].time_ms = i64::MAX;
    let files = write_backtest_report(tmp.path(), "extreme", &o.series(), &metrics(), &t).unwrap();
    assert_eq!(files.len(), 8);
    assert_eq!(read(&tmp.path().join("trades.csv")).lines().count(), 3);

    let sdir = tmp.path().join("sweep");
    let x: Vec<String> = vec!["a".into(), "b".into()];
    let y: Vec<String> = vec!["c".into()];
    write_sweep_report(
        &sdir,
        "s",
        "x",
        "y",
        &x,
        &y,
        &[f64::MAX, -f64::MAX],
        &sweep_table(1),
    )
    .unwrap();
    write_sweep_report(
        &sdir,
        "s",
        "x",
        "y",
        &x,
        &y,
        &[f64::NAN, f64::INFINITY],
        &sweep_table(1),
    )
    .unwrap();
    assert!(read(&sdir.join("heatmap.svg")).contains("n/a"));

    let bad = tmp.path().join("bad");
    let mut o = Owned::new(3, &["BTC"]);
    o.times[2] = 253_402_300_800_000; // 10000-01-01
    assert_invalid(
        write_backtest_report(&bad, "t", &o.series(), &[], &[]),
        "series.times_ms[2]",
        &bad,
    );
    let mut o = Owned::new(3, &["BTC"]);
    o.benchmark[1] = 1e301;
    assert_invalid(
        write_backtest_report(&bad, "t", &o.series(), &[], &[]),
        "series.benchmark_equity[1]",
        &bad,
    );
    let mut o = Owned::new(3, &["BTC"]);
    o.weights[2] = f64::INFINITY;
    assert_invalid(
        write_backtest_report(&bad, "t", &o.series(), &[], &[]),
        "series.weights[2][0]",
        &bad,
    );
}

fn sweep_table(rows: usize) -> Vec<Vec<String>> {
    let mut t = vec![vec![
        "rank".to_string(),
        "trigger".into(),
        "sharpe <x>".into(),
    ]];
    for k in 0..rows {
        t.push(vec![
            (k + 1).to_string(),
            format!("threshold:{}", k + 1),
            format!("{:.3}", 2.0 - k as f64 * 0.1),
        ]);
    }
    t
}

#[test]
fn sweep_report_grid_and_single_row() {
    let tmp = unique_dir("sweep");
    let x: Vec<String> = ["1", "2.5", "5", "10"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let y: Vec<String> = ["every:1h", "every:1d", "every:7d"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let values: Vec<f64> = (0..12)
        .map(|k| {
            if k == 7 {
                f64::NAN
            } else {
                k as f64 * 0.25 - 1.0
            }
        })
        .collect();
    let table = sweep_table(12);
    let dir = tmp.path().join("grid");
    let files = write_sweep_report(
        &dir,
        "Sweep & <grid>",
        "threshold (pp)",
        "period",
        &x,
        &y,
        &values,
        &table,
    )
    .unwrap();
    let want: BTreeSet<String> = ["heatmap.svg", "heatmap.png", "sweep.csv", "sweep.html"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(file_names(&files), want);
    for f in &files {
        assert!(
            fs::metadata(f).unwrap().len() > 0,
            "{} is empty",
            f.display()
        );
    }
    let (w, h_grid, colours) = png_info(&dir.join("heatmap.png"));
    assert_eq!(w, 1200);
    assert!(colours > 20, "heat map looks blank");
    let svg = assert_svg(&dir.join("heatmap.svg"));
    for label in x.iter().chain(&y) {
        assert!(
            svg.contains(label.as_str()),
            "heatmap.svg lacks label {label}"
        );
    }
    assert!(svg.contains("threshold (pp)") && svg.contains("period"));
    assert!(svg.contains("n/a"), "the NaN cell is not marked");

    let csv = read(&dir.join("sweep.csv"));
    let expected: String = table.iter().map(|r| r.join(",") + "\n").collect();
    assert_eq!(csv, expected);

    let html = read(&dir.join("sweep.html"));
    assert!(html.contains("<h1>Sweep &amp; &lt;grid&gt;</h1>"));
    assert!(html.contains("sharpe &lt;x&gt;"));
    assert!(html.contains("\"heatmap.svg\"") && html.contains("\"sweep.csv\""));
    let positions: Vec<usize> = table[1..]
        .iter()
        .map(|r| html.find(&format!(">{}<", r[1])).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|p| p[0] < p[1]),
        "ranked order not kept"
    );

    // One row: thresholds only.
    let x1: Vec<String> = (1..=40)
        .map(|k| format!("{:.1}", k as f64 * 0.25))
        .collect();
    let v1: Vec<f64> = (0..40).map(|k| (k as f64 / 7.0).sin()).collect();
    let dir1 = tmp.path().join("row");
    write_sweep_report(
        &dir1,
        "thresholds",
        "threshold (pp)",
        "",
        &x1,
        &["threshold".to_string()],
        &v1,
        &table,
    )
    .unwrap();
    let (w1, h1, colours1) = png_info(&dir1.join("heatmap.png"));
    assert_eq!(w1, 1200);
    assert!(h1 > 0 && h1 <= h_grid);
    assert!(colours1 > 20);
    let svg1 = assert_svg(&dir1.join("heatmap.svg"));
    assert!(svg1.contains(x1[0].as_str()) && svg1.contains("threshold"));

    // A constant grid still renders (degenerate colour scale).
    write_sweep_report(
        &tmp.path().join("flat"),
        "flat",
        "x",
        "y",
        &x,
        &y,
        &[1.5; 12],
        &table,
    )
    .unwrap();
    png_info(&tmp.path().join("flat/heatmap.png"));
}

fn assert_invalid(r: io::Result<Vec<PathBuf>>, field: &str, dir: &Path) {
    let e = r.expect_err("bad input was accepted");
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    assert!(
        e.to_string().contains(field),
        "error {e:?} does not name {field}"
    );
    assert!(!dir.exists(), "files were written for bad input");
}

#[test]
fn mismatched_or_bad_input_is_an_error_not_a_panic() {
    let tmp = unique_dir("bad");
    let dir = tmp.path().join("out");
    let good = Owned::new(10, &["BTC", "ETH"]);
    let m = metrics();

    let mut o = Owned::new(10, &["BTC", "ETH"]);
    o.strategy.pop();
    assert_invalid(
        write_backtest_report(&dir, "t", &o.series(), &m, &[]),
        "series.strategy_equity",
        &dir,
    );
    let mut o = Owned::new(10, &["BTC", "ETH"]);
    o.benchmark.push(1.0);
    assert_invalid(
        write_backtest_report(&dir, "t", &o.series(), &m, &[]),
        "series.benchmark_equity",
        &dir,
    );
    let mut o = Owned::new(10, &["BTC", "ETH"]);
    o.weights.pop();
    assert_invalid(
        write_backtest_report(&dir, "t", &o.series(), &m, &[]),
        "series.weights",
        &dir,
    );
    let mut o = Owned::new(10, &["BTC", "ETH"]);
    o.assets.push("SOL".into());
    assert_invalid(
        write_backtest_report(&dir, "t", &o.series(), &m, &[]),
        "series.weights",
        &dir,
    );
    let o = Owned::new(0, &["BTC"]);
    assert_invalid(
        write_backtest_report(&dir, "t", &o.series(), &m, &[]),
        "series.times_ms",
        &dir,
    );
    let mut o = Owned::new(10, &["BTC", "ETH"]);
    o.strategy[4] = f64::NAN;
    assert_invalid(
        write_backtest_report(&dir, "t", &o.series(), &m, &[]),
        "series.strategy_equity[4]",
        &dir,
    );
    let mut o = Owned::new(10, &["BTC", "ETH"]);
    o.times.swap(2, 3);
    assert_invalid(
        write_backtest_report(&dir, "t", &o.series(), &m, &[]),
        "series.times_ms[3]",
        &dir,
    );
    let mut o = Owned::new(10, &["BTC", "ETH"]);
    o.assets.clear();
    o.weights.clear();
    assert_invalid(
        write_backtest_report(&dir, "t", &o.series(), &m, &[]),
        "series.assets",
        &dir,
    );
    assert!(write_backtest_report(&dir, "t", &good.series(), &m, &[]).is_ok());

    let sdir = tmp.path().join("sweep");
    let x: Vec<String> = vec!["1".into(), "2".into()];
    let y: Vec<String> = vec!["a".into(), "b".into(), "c".into()];
    let t = sweep_table(2);
    assert_invalid(
        write_sweep_report(&sdir, "s", "x", "y", &x, &y, &[0.0; 5], &t),
        "values",
        &sdir,
    );
    assert_invalid(
        write_sweep_report(&sdir, "s", "x", "y", &x, &y, &[0.0; 7], &t),
        "values",
        &sdir,
    );
    assert_invalid(
        write_sweep_report(&sdir, "s", "x", "y", &[], &y, &[], &t),
        "x",
        &sdir,
    );
    assert_invalid(
        write_sweep_report(&sdir, "s", "x", "y", &x, &[], &[], &t),
        "y",
        &sdir,
    );
    assert_invalid(
        write_sweep_report(&sdir, "s", "x", "y", &x, &y, &[0.0; 6], &[]),
        "table",
        &sdir,
    );
    let mut ragged = sweep_table(3);
    ragged[2].pop();
    assert_invalid(
        write_sweep_report(&sdir, "s", "x", "y", &x, &y, &[0.0; 6], &ragged),
        "table[2]",
        &sdir,
    );
    assert!(write_sweep_report(&sdir, "s", "x", "y", &x, &y, &[0.0; 6], &t).is_ok());
}
