//! Backtest and sweep reports written to a folder (`smartfolio backtest --report DIR`, `sweep --report DIR`).
//!
//! [`write_backtest_report`] writes:
//! - `equity.svg` / `equity.png`: strategy equity against buy-and-hold over time (dates on the x axis);
//! - `weights.svg` / `weights.png`: post-trade weights over time as a stacked area, one colour per asset;
//! - `drawdown.svg` / `drawdown.png`: strategy and buy-and-hold drawdown from the running peak, in %;
//! - `trades.csv`: the full trade log (`time,asset,side,quantity,price,notional,fee`, ISO-8601 UTC times,
//!   numbers in Rust's shortest round-trip form so they parse back to the same `f64`);
//! - `index.html`: a self-contained page (inline CSS, no scripts, no network) with the title, the metrics
//!   table (strategy against buy-and-hold), the three SVG charts referenced by relative path, a link to
//!   `trades.csv` and the first [`MAX_TRADES_IN_HTML`] trades.
//!
//! [`write_sweep_report`] writes `heatmap.svg` / `heatmap.png` (the x × y grid coloured by value, with a
//! colour scale), `sweep.csv` (the ranked table) and `sweep.html` (the map and the table).
//!
//! Charts plot at most [`MAX_POINTS_PER_LINE`] points per line: long series are reduced to the minimum and
//! the maximum of equal-width buckets (weights use bucket means, so the stack still sums to the
//! invested fraction). The CSV files are never reduced. PNG text is rendered with the embedded
//! DejaVu Sans font (`assets/DejaVuSans.ttf`, licence in `assets/LICENSE-DejaVu.txt`), so no system
//! font library is needed at run time; SVG text names the `sans-serif` family and is drawn by the viewer.
//!
//! Inputs are checked before anything is written: mismatched lengths, empty series, non-finite or
//! out-of-range values and unsorted times give an `InvalidInput` error naming the field, the value
//! and what is allowed.

use std::error::Error;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Most points drawn per line in a chart.
pub const MAX_POINTS_PER_LINE: usize = 2_000;
/// Most trades listed in `index.html` (all of them are in `trades.csv`).
pub const MAX_TRADES_IN_HTML: usize = 200;

const FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FONT: &str = "sans-serif";
const CHART_SIZE: (u32, u32) = (1200, 560);
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// Largest magnitude accepted for equity and weight values (keeps chart ranges finite).
pub const MAX_ABS: f64 = 1e300;
/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: the range ISO-8601 dates cover with 4 digits.
const MIN_TIME_MS: i64 = -62_167_219_200_000;
const MAX_TIME_MS: i64 = 253_402_300_799_999;

/// The time series of one backtest run, as the engine produced them.
pub struct Series<'a> {
    /// UTC epoch milliseconds of each bar, strictly increasing.
    pub times_ms: &'a [i64],
    /// Strategy portfolio value per bar.
    pub strategy_equity: &'a [f64],
    /// Buy-and-hold portfolio value per bar.
    pub benchmark_equity: &'a [f64],
    /// Asset names, in the column order of `weights`.
    pub assets: &'a [String],
    /// Post-trade weights per bar, row-major `times_ms.len() × assets.len()`.
    pub weights: &'a [f64],
}

/// One executed trade leg for `trades.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeRow {
    pub time_ms: i64,
    pub asset: String,
    pub side: &'static str,
    pub quantity: f64,
    pub price: f64,
    pub notional: f64,
    pub fee: f64,
}

type DrawResult = Result<(), Box<dyn Error + Send + Sync>>;

/// Writes the backtest report into `dir` (created with its parents) and returns the files written.
///
/// `metrics` rows are `(name, strategy value, buy-and-hold value)`, shown as given.
/// Errors: `InvalidInput` when the series lengths disagree, a series is empty, times are not strictly
/// increasing or a value is not finite; other kinds for file-system and drawing failures.
pub fn write_backtest_report(
    dir: &Path,
    title: &str,
    series: &Series,
    metrics: &[(String, String, String)],
    trades: &[TradeRow],
) -> io::Result<Vec<PathBuf>> {
    validate_series(series)?;
    create_dir(dir)?;
    let mut written = Vec::new();

    let equity = EquityChart { series };
    render_chart(dir, "equity", &equity, &mut written)?;
    let weights = WeightsChart { series };
    render_chart(dir, "weights", &weights, &mut written)?;
    let drawdown = DrawdownChart::new(series);
    render_chart(dir, "drawdown", &drawdown, &mut written)?;

    let csv_path = dir.join("trades.csv");
    fs::write(&csv_path, trades_csv(trades)).map_err(|e| with_path(e, &csv_path))?;
    written.push(csv_path);

    let html_path = dir.join("index.html");
    let html = backtest_html(title, series, metrics, trades, &drawdown);
    fs::write(&html_path, html).map_err(|e| with_path(e, &html_path))?;
    written.push(html_path);
    Ok(written)
}

/// Writes the sweep report (`heatmap.svg/png`, `sweep.csv`, `sweep.html`) into `dir` and returns the
/// files written.
///
/// `values[j * x.len() + i]` is the value at `x[i]`, `y[j]`; non-finite values are drawn as grey "n/a"
/// cells. `table` is the ranked table, its first row the header; every row must have the header's width.
// The flat argument list is the interface the CLI codes against (x/y labels, axes, values, table).
#[allow(clippy::too_many_arguments)]
pub fn write_sweep_report(
    dir: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    x: &[String],
    y: &[String],
    values: &[f64],
    table: &[Vec<String>],
) -> io::Result<Vec<PathBuf>> {
    if x.is_empty() {
        return Err(invalid("x", "0 labels", "at least 1 x label"));
    }
    if y.is_empty() {
        return Err(invalid(
            "y",
            "0 labels",
            "at least 1 y label (use one row for a 1-D sweep)",
        ));
    }
    let cells = x.len().checked_mul(y.len());
    if cells != Some(values.len()) {
        return Err(invalid(
            "values",
            &format!("{} values", values.len()),
            &format!(
                "x.len() × y.len() = {} × {} values, y-major",
                x.len(),
                y.len()
            ),
        ));
    }
    let Some(header) = table.first() else {
        return Err(invalid("table", "0 rows", "a header row first"));
    };
    if let Some((k, row)) = table
        .iter()
        .enumerate()
        .find(|(_, r)| r.len() != header.len())
    {
        return Err(invalid(
            &format!("table[{k}]"),
            &format!("{} cells", row.len()),
            &format!("{} cells like the header", header.len()),
        ));
    }
    create_dir(dir)?;
    let mut written = Vec::new();
    let heat = HeatMap {
        title,
        x_label,
        y_label,
        x,
        y,
        values,
    };
    render_chart(dir, "heatmap", &heat, &mut written)?;

    let csv_path = dir.join("sweep.csv");
    let mut csv = String::new();
    for row in table {
        push_csv_row(&mut csv, row.iter().map(String::as_str));
    }
    fs::write(&csv_path, csv).map_err(|e| with_path(e, &csv_path))?;
    written.push(csv_path);

    let html_path = dir.join("sweep.html");
    fs::write(&html_path, sweep_html(title, table)).map_err(|e| with_path(e, &html_path))?;
    written.push(html_path);
    Ok(written)
}

// ---------------------------------------------------------------------------------------------
// validation and files

fn invalid(field: &str, value: &str, allowed: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("report input {field}: got {value}; expected {allowed}"),
    )
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn create_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir).map_err(|e| with_path(e, dir))
}

/// Finite and of magnitude at most [`MAX_ABS`].
fn in_bounds(x: f64) -> bool {
    x.is_finite() && x.abs() <= MAX_ABS
}

fn validate_series(s: &Series) -> io::Result<()> {
    let t = s.times_ms.len();
    if t == 0 {
        return Err(invalid("series.times_ms", "0 bars", "at least 1 bar"));
    }
    for (name, v) in [
        ("series.strategy_equity", s.strategy_equity),
        ("series.benchmark_equity", s.benchmark_equity),
    ] {
        if v.len() != t {
            return Err(invalid(
                name,
                &format!("{} values", v.len()),
                &format!("{t} (one per bar)"),
            ));
        }
        if let Some((k, x)) = v.iter().enumerate().find(|(_, x)| !in_bounds(**x)) {
            return Err(invalid(
                &format!("{name}[{k}]"),
                &x.to_string(),
                "a finite number of magnitude at most 1e300",
            ));
        }
    }
    if s.assets.is_empty() {
        return Err(invalid("series.assets", "0 assets", "at least 1 asset"));
    }
    let n = s.assets.len();
    if t.checked_mul(n) != Some(s.weights.len()) {
        return Err(invalid(
            "series.weights",
            &format!("{} values", s.weights.len()),
            &format!("{t} bars × {n} assets = {} values", t.saturating_mul(n)),
        ));
    }
    if let Some((k, x)) = s.weights.iter().enumerate().find(|(_, x)| !in_bounds(**x)) {
        return Err(invalid(
            &format!("series.weights[{}][{}]", k / n, k % n),
            &x.to_string(),
            "a finite number of magnitude at most 1e300",
        ));
    }
    if let Some((k, t)) = s
        .times_ms
        .iter()
        .enumerate()
        .find(|(_, t)| !(MIN_TIME_MS..=MAX_TIME_MS).contains(*t))
    {
        return Err(invalid(
            &format!("series.times_ms[{k}]"),
            &t.to_string(),
            &format!(
                "UTC epoch milliseconds from {MIN_TIME_MS} (0000-01-01) to {MAX_TIME_MS} (9999-12-31)"
            ),
        ));
    }
    if let Some(k) = s.times_ms.windows(2).position(|w| w[1] <= w[0]) {
        return Err(invalid(
            &format!("series.times_ms[{}]", k + 1),
            &format!("{} after {}", s.times_ms[k + 1], s.times_ms[k]),
            "strictly increasing times",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// chart rendering (one drawing routine, two backends)

trait Chart {
    fn size(&self) -> (u32, u32) {
        CHART_SIZE
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

fn register_fonts() -> io::Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            for family in ["sans-serif", "serif", "monospace"] {
                plotters::style::register_font(family, FontStyle::Normal, FONT_BYTES)
                    .map_err(|_| "the embedded DejaVuSans.ttf is not a valid font".to_string())?;
            }
            Ok(())
        })
        .clone()
        .map_err(io::Error::other)
}

fn render_chart<C: Chart>(
    dir: &Path,
    stem: &str,
    chart: &C,
    written: &mut Vec<PathBuf>,
) -> io::Result<()> {
    register_fonts()?;
    let size = chart.size();
    let draw_err = |path: &Path, e: Box<dyn Error + Send + Sync>| {
        io::Error::other(format!("drawing {}: {e}", path.display()))
    };

    let svg_path = dir.join(format!("{stem}.svg"));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        chart.draw(&root).map_err(|e| draw_err(&svg_path, e))?;
        root.present().map_err(|e| draw_err(&svg_path, e.into()))?;
    }
    fs::write(&svg_path, svg).map_err(|e| with_path(e, &svg_path))?;
    written.push(svg_path);

    let png_path = dir.join(format!("{stem}.png"));
    {
        let root = BitMapBackend::new(&png_path, size).into_drawing_area();
        chart.draw(&root).map_err(|e| draw_err(&png_path, e))?;
        root.present().map_err(|e| draw_err(&png_path, e.into()))?;
    }
    written.push(png_path);
    Ok(())
}

fn font(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

const STRATEGY_COLOR: RGBColor = RGBColor(31, 119, 180);
const BENCHMARK_COLOR: RGBColor = RGBColor(255, 127, 14);
const GRID_COLOR: RGBColor = RGBColor(225, 225, 225);

fn asset_color(i: usize) -> RGBColor {
    const TAB10: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    if let Some(&(r, g, b)) = TAB10.get(i) {
        return RGBColor(r, g, b);
    }
    // Further assets: hues spread by the golden angle, alternating lightness.
    let h = ((i as f64) * 0.618_033_988_75).fract();
    let l = if i.is_multiple_of(2) { 0.45 } else { 0.6 };
    hsl_to_rgb(h, 0.65, l)
}

fn hsl_to_rgb(h: f64, s: f64, l: f64) -> RGBColor {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h * 6.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let to8 = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    RGBColor(to8(r), to8(g), to8(b))
}

/// Indices of the points to draw: all of them when there are at most `max_points`, otherwise the first,
/// the last, and the minimum and maximum of each of `(max_points - 2) / 2` equal buckets, in order.
fn minmax_indices(v: &[f64], max_points: usize) -> Vec<usize> {
    let n = v.len();
    if n <= max_points || max_points < 4 {
        return (0..n).collect();
    }
    let buckets = (max_points - 2) / 2;
    let mut out = Vec::with_capacity(max_points);
    out.push(0);
    for b in 0..buckets {
        let lo = 1 + b * (n - 2) / buckets;
        let hi = 1 + (b + 1) * (n - 2) / buckets;
        if lo >= hi {
            continue;
        }
        let (mut imin, mut imax) = (lo, lo);
        for i in lo..hi {
            if v[i] < v[imin] {
                imin = i;
            }
            if v[i] > v[imax] {
                imax = i;
            }
        }
        let (a, c) = if imin <= imax {
            (imin, imax)
        } else {
            (imax, imin)
        };
        out.push(a);
        if c != a {
            out.push(c);
        }
    }
    out.push(n - 1);
    out
}

/// Line width for a series: thick lines on dense zig-zag data get miter spikes past the data, so
/// lines with more points than the chart has pixels across are drawn 1 px wide.
fn line_width(points: usize) -> u32 {
    if points > 600 { 1 } else { 2 }
}

fn downsample_line(times: &[i64], v: &[f64]) -> Vec<(i64, f64)> {
    minmax_indices(v, MAX_POINTS_PER_LINE)
        .into_iter()
        .map(|i| (times[i], v[i]))
        .collect()
}

fn value_range<'a>(lines: impl IntoIterator<Item = &'a [(i64, f64)]>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for line in lines {
        for &(_, y) in line {
            lo = lo.min(y);
            hi = hi.max(y);
        }
    }
    padded(lo, hi)
}

fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span <= f64::EPSILON * hi.abs().max(1.0) {
        let d = (hi.abs() * 0.05)
            .max(1e-9)
            .max(if hi == 0.0 { 1.0 } else { 0.0 });
        return ensure_span(lo - d, hi + d);
    }
    ensure_span(lo - span * 0.05, hi + span * 0.05)
}

/// Widens `lo..hi` around its middle to at least a millionth of its magnitude (and 1e-9), and
/// keeps it finite. plotters' tick search loops forever on an infinite span and is slow on spans
/// far below the values' magnitude; inputs are bounded by [`MAX_ABS`], so the span stays finite.
fn ensure_span(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = (
        lo.clamp(-2.0 * MAX_ABS, 2.0 * MAX_ABS),
        hi.clamp(-2.0 * MAX_ABS, 2.0 * MAX_ABS),
    );
    let min_span = (lo.abs().max(hi.abs()) * 1e-6).max(1e-9);
    if hi - lo >= min_span {
        return (lo, hi);
    }
    let mid = lo / 2.0 + hi / 2.0;
    (mid - min_span / 2.0, mid + min_span / 2.0)
}

fn time_range(times: &[i64]) -> (i64, i64) {
    let (t0, t1) = (times[0], times[times.len() - 1]);
    if t1 > t0 {
        (t0, t1)
    } else {
        (t0 - DAY_MS / 2, t0 + DAY_MS / 2)
    }
}

/// Tick positions at calendar-aligned steps (hours, days, weeks, months or years), at most about 10.
fn date_ticks(t0: i64, t1: i64) -> (Vec<i64>, bool) {
    let span = t1 - t0;
    const FIXED: [i64; 9] = [
        HOUR_MS,
        2 * HOUR_MS,
        3 * HOUR_MS,
        6 * HOUR_MS,
        12 * HOUR_MS,
        DAY_MS,
        2 * DAY_MS,
        7 * DAY_MS,
        14 * DAY_MS,
    ];
    for step in FIXED {
        if span / step <= 10 {
            let first =
                t0.div_euclid(step) * step + if t0.rem_euclid(step) == 0 { 0 } else { step };
            let ticks = (0..)
                .map(|k| first + k * step)
                .take_while(|&t| t <= t1)
                .collect();
            return (ticks, step < DAY_MS);
        }
    }
    // Month steps: ticks at the first of a month whose index is a multiple of the step.
    for months in [1i64, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200] {
        if span / (months * 30 * DAY_MS) > 10 {
            continue;
        }
        let (y, m, _) = civil_from_days(t0.div_euclid(DAY_MS));
        let mut idx = y * 12 + (m as i64 - 1);
        idx = idx.div_euclid(months) * months;
        let mut ticks = Vec::new();
        loop {
            let t =
                days_from_civil(idx.div_euclid(12), (idx.rem_euclid(12) + 1) as u32, 1) * DAY_MS;
            if t > t1 {
                break;
            }
            if t >= t0 {
                ticks.push(t);
            }
            idx += months;
        }
        return (ticks, false);
    }
    (vec![t0, t1], false)
}

fn date_label(ms: i64, with_time: bool) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    if with_time {
        let s = ms.rem_euclid(DAY_MS) / 1000;
        format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", s / 3600, s / 60 % 60)
    } else {
        format!("{y:04}-{m:02}-{d:02}")
    }
}

fn axis_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

struct EquityChart<'s, 'a> {
    series: &'s Series<'a>,
}

impl Chart for EquityChart<'_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let s = self.series;
        root.fill(&WHITE)?;
        let strat = downsample_line(s.times_ms, s.strategy_equity);
        let bench = downsample_line(s.times_ms, s.benchmark_equity);
        let (lo, hi) = value_range([strat.as_slice(), bench.as_slice()]);
        let (t0, t1) = time_range(s.times_ms);
        let (ticks, with_time) = date_ticks(t0, t1);
        let mut chart = ChartBuilder::on(root)
            .caption("Equity: strategy vs buy-and-hold", font(24))
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(80)
            .build_cartesian_2d((t0..t1).with_key_points(ticks), lo..hi)?;
        let fmt_x = |t: &i64| date_label(*t, with_time);
        let fmt_y = |v: &f64| axis_number(*v);
        chart
            .configure_mesh()
            .max_light_lines(0)
            .bold_line_style(GRID_COLOR)
            .label_style(font(14))
            .axis_desc_style(font(16))
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&fmt_y)
            .x_desc("Date (UTC)")
            .y_desc("Portfolio value")
            .draw()?;
        let last = |v: &[f64]| v.last().map(|x| axis_number(*x)).unwrap_or_default();
        let (ws, wb) = (line_width(strat.len()), line_width(bench.len()));
        chart
            .draw_series(LineSeries::new(bench, BENCHMARK_COLOR.stroke_width(wb)))?
            .label(format!("Buy-and-hold (final {})", last(s.benchmark_equity)))
            .legend(|(x, y)| {
                PathElement::new([(x, y), (x + 24, y)], BENCHMARK_COLOR.stroke_width(3))
            });
        chart
            .draw_series(LineSeries::new(strat, STRATEGY_COLOR.stroke_width(ws)))?
            .label(format!("Strategy (final {})", last(s.strategy_equity)))
            .legend(|(x, y)| {
                PathElement::new([(x, y), (x + 24, y)], STRATEGY_COLOR.stroke_width(3))
            });
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(font(15))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()?;
        Ok(())
    }
}

/// Drawdown from the running peak, in percent (0 at a new high, negative below it).
fn drawdown_pct(equity: &[f64]) -> Vec<f64> {
    let mut peak = f64::NEG_INFINITY;
    equity
        .iter()
        .map(|&v| {
            peak = peak.max(v);
            // Clamped so that a negative value after a tiny peak stays plottable.
            if peak > 0.0 {
                ((v / peak - 1.0) * 100.0).max(-1e6)
            } else {
                0.0
            }
        })
        .collect()
}

struct DrawdownChart<'s, 'a> {
    series: &'s Series<'a>,
    strategy: Vec<f64>,
    benchmark: Vec<f64>,
}

impl<'s, 'a> DrawdownChart<'s, 'a> {
    fn new(series: &'s Series<'a>) -> Self {
        DrawdownChart {
            series,
            strategy: drawdown_pct(series.strategy_equity),
            benchmark: drawdown_pct(series.benchmark_equity),
        }
    }
    fn worst(v: &[f64]) -> f64 {
        v.iter().copied().fold(0.0, f64::min)
    }
}

impl Chart for DrawdownChart<'_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let times = self.series.times_ms;
        root.fill(&WHITE)?;
        let strat = downsample_line(times, &self.strategy);
        let bench = downsample_line(times, &self.benchmark);
        let worst = Self::worst(&self.strategy).min(Self::worst(&self.benchmark));
        let lo = if worst < 0.0 { worst * 1.08 } else { -1.0 };
        let (lo, hi) = ensure_span(lo, -lo * 0.03);
        let (t0, t1) = time_range(times);
        let (ticks, with_time) = date_ticks(t0, t1);
        let mut chart = ChartBuilder::on(root)
            .caption("Drawdown from running peak", font(24))
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(80)
            .build_cartesian_2d((t0..t1).with_key_points(ticks), lo..hi)?;
        let fmt_x = |t: &i64| date_label(*t, with_time);
        let fmt_y = |v: &f64| format!("{v:.0}%");
        chart
            .configure_mesh()
            .max_light_lines(0)
            .bold_line_style(GRID_COLOR)
            .label_style(font(14))
            .axis_desc_style(font(16))
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&fmt_y)
            .x_desc("Date (UTC)")
            .y_desc("Drawdown (%)")
            .draw()?;
        let (ws, wb) = (line_width(strat.len()), line_width(bench.len()));
        chart
            .draw_series(
                AreaSeries::new(strat.iter().copied(), 0.0, STRATEGY_COLOR.mix(0.25))
                    .border_style(STRATEGY_COLOR.stroke_width(ws)),
            )?
            .label(format!(
                "Strategy (max {:.2}%)",
                Self::worst(&self.strategy)
            ))
            .legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 6), (x + 24, y + 6)],
                    STRATEGY_COLOR.mix(0.6).filled(),
                )
            });
        chart
            .draw_series(LineSeries::new(bench, BENCHMARK_COLOR.stroke_width(wb)))?
            .label(format!(
                "Buy-and-hold (max {:.2}%)",
                Self::worst(&self.benchmark)
            ))
            .legend(|(x, y)| {
                PathElement::new([(x, y), (x + 24, y)], BENCHMARK_COLOR.stroke_width(3))
            });
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .label_font(font(15))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()?;
        Ok(())
    }
}

struct WeightsChart<'s, 'a> {
    series: &'s Series<'a>,
}

impl WeightsChart<'_, '_> {
    /// Bucket means of the weights: `(time of the bucket's first bar, mean weight per asset)`.
    fn buckets(&self) -> Vec<(i64, Vec<f64>)> {
        let s = self.series;
        let (t, n) = (s.times_ms.len(), s.assets.len());
        let b = t.min(MAX_POINTS_PER_LINE);
        let mut out = Vec::with_capacity(b + 1);
        for k in 0..b {
            let (lo, hi) = (k * t / b, (k + 1) * t / b);
            let mut mean = vec![0.0; n];
            for row in s.weights[lo * n..hi * n].chunks_exact(n) {
                for (m, w) in mean.iter_mut().zip(row) {
                    *m += w;
                }
            }
            let count = (hi - lo) as f64;
            mean.iter_mut().for_each(|m| *m /= count);
            out.push((s.times_ms[lo], mean));
        }
        if t > b {
            // Close the stack at the last bar so the area spans the whole period.
            let row = s.weights[(t - 1) * n..].to_vec();
            out.push((s.times_ms[t - 1], row));
        }
        out
    }
}

impl Chart for WeightsChart<'_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let s = self.series;
        root.fill(&WHITE)?;
        let (plot_area, legend_area) = root.split_horizontally(root.dim_in_pixel().0 as i32 - 170);
        let buckets = self.buckets();
        let n = s.assets.len();
        // cum[k][i] = sum of weights of assets 0..i at bucket k (i = 0..=n).
        let cum: Vec<Vec<f64>> = buckets
            .iter()
            .map(|(_, w)| {
                let mut c = Vec::with_capacity(n + 1);
                c.push(0.0);
                let mut acc = 0.0;
                for x in w {
                    acc += x;
                    c.push(acc);
                }
                c
            })
            .collect();
        let lo = cum.iter().flatten().copied().fold(0.0, f64::min);
        let hi = cum.iter().flatten().copied().fold(1.0, f64::max);
        let (lo, hi) = ensure_span(lo, hi + (hi - lo) * 0.02);
        let (t0, t1) = time_range(s.times_ms);
        let single = buckets.len() == 1;
        let (ticks, with_time) = date_ticks(t0, t1);
        let mut chart = ChartBuilder::on(&plot_area)
            .caption("Portfolio weights after trading", font(24))
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(80)
            .build_cartesian_2d((t0..t1).with_key_points(ticks), lo..hi)?;
        let fmt_x = |t: &i64| date_label(*t, with_time);
        let fmt_y = |v: &f64| format!("{:.0}%", v * 100.0);
        chart
            .configure_mesh()
            .max_light_lines(0)
            .bold_line_style(GRID_COLOR)
            .label_style(font(14))
            .axis_desc_style(font(16))
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&fmt_y)
            .x_desc("Date (UTC)")
            .y_desc("Weight (stacked)")
            .draw()?;
        let x_of = |k: usize| -> Vec<i64> {
            if single {
                vec![t0, t1]
            } else {
                vec![buckets[k].0]
            }
        };
        for i in 0..n {
            let mut poly: Vec<(i64, f64)> = Vec::with_capacity(2 * buckets.len() + 2);
            for (k, c) in cum.iter().enumerate() {
                poly.extend(x_of(k).into_iter().map(|x| (x, c[i + 1])));
            }
            for (k, c) in cum.iter().enumerate().rev() {
                poly.extend(x_of(k).into_iter().rev().map(|x| (x, c[i])));
            }
            chart.draw_series(std::iter::once(Polygon::new(poly, asset_color(i).filled())))?;
        }

        // Legend in its own column, in asset order from the top of the stack down.
        let (_, lh) = legend_area.dim_in_pixel();
        let row_h = (((lh as usize).saturating_sub(80)) / n.max(1)).clamp(6, 26) as i32;
        let text_size = (row_h - 6).clamp(6, 16) as u32;
        legend_area.draw(&Text::new("Assets", (8, 46), font(16)))?;
        for (rank, i) in (0..n).rev().enumerate() {
            let y = 72 + rank as i32 * row_h;
            let box_h = (row_h - 6).max(4);
            legend_area.draw(&Rectangle::new(
                [(8, y), (26, y + box_h)],
                asset_color(i).filled(),
            ))?;
            let last = s.weights[(s.times_ms.len() - 1) * n + i] * 100.0;
            let label = format!("{} ({last:.1}%)", s.assets[i]);
            legend_area.draw(&Text::new(label, (32, y), font(text_size)))?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// heat map

struct HeatMap<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    x: &'a [String],
    y: &'a [String],
    values: &'a [f64],
}

/// Viridis colour map, sampled at nine evenly spaced stops.
fn viridis(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 9] = [
        (68.0, 1.0, 84.0),
        (71.0, 45.0, 123.0),
        (59.0, 82.0, 139.0),
        (44.0, 114.0, 142.0),
        (33.0, 145.0, 140.0),
        (40.0, 174.0, 128.0),
        (94.0, 201.0, 98.0),
        (173.0, 220.0, 48.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let p = t * (STOPS.len() - 1) as f64;
    let k = (p.floor() as usize).min(STOPS.len() - 2);
    let f = p - k as f64;
    let (a, b) = (STOPS[k], STOPS[k + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn cell_text(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let a = v.abs();
    if a >= 1e4 {
        axis_number(v)
    } else if a != 0.0 && a < 1e-3 {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// Colour-scale label: as many decimals as the scale's span needs (half-span `half`), so labels
/// near zero read "0.00" rather than "1.77e-5".
fn scale_label(v: f64, half: f64) -> String {
    if v.abs() >= 1e4 || !half.is_finite() || half <= 0.0 {
        return cell_text(v);
    }
    let decimals = (2 - (2.0 * half).log10().floor() as i32).clamp(0, 8) as usize;
    let v = if v.abs() < half * 1e-9 { 0.0 } else { v };
    format!("{v:.decimals$}")
}

/// Largest font size from `max_size` down to 12 at which `text` fits in `width` pixels; at 12 the
/// text is cut and ends with "…".
fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    width: u32,
    max_size: u32,
) -> Result<(String, u32), Box<dyn Error + Send + Sync>>
where
    DB::ErrorType: 'static,
{
    for size in (12..=max_size).rev() {
        if area.estimate_text_size(text, &font(size))?.0 <= width {
            return Ok((text.to_string(), size));
        }
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let cut: String = chars.iter().collect::<String>() + "…";
        if area.estimate_text_size(&cut, &font(12))?.0 <= width {
            return Ok((cut, 12));
        }
    }
    Ok((String::new(), 12))
}

/// Indices of the labels to show so that at most `max_labels` are drawn, evenly spaced.
fn label_indices(count: usize, max_labels: usize) -> Vec<usize> {
    let step = count.div_ceil(max_labels.max(1)).max(1);
    (0..count).step_by(step).collect()
}

impl HeatMap<'_> {
    fn range(&self) -> Option<(f64, f64)> {
        let finite = self.values.iter().copied().filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
        (lo <= hi).then_some((lo, hi))
    }
}

impl Chart for HeatMap<'_> {
    fn size(&self) -> (u32, u32) {
        let h = (220 + 44 * self.y.len()).clamp(320, 900) as u32;
        (1200, h)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let (nx, ny) = (self.x.len(), self.y.len());
        let (w, _) = root.dim_in_pixel();
        let (title, size) = fit_text(root, self.title, w.saturating_sub(24), 24)?;
        let root = root.titled(&title, font(size))?;
        let (main, bar) = root.split_horizontally(w as i32 - 150);
        let y_label_px =
            self.y.iter().map(|s| s.chars().count()).max().unwrap_or(1) as u32 * 8 + 24;
        // Cell (i, j) spans [2i, 2i + 2] × [2j, 2j + 2] so that cell centres are integers.
        let (xn, yn) = (2 * nx as i32, 2 * ny as i32);
        let label_area = y_label_px.clamp(60, 260) + 24;
        let builder = |x_keys: Vec<i32>, y_keys: Vec<i32>| {
            ChartBuilder::on(&main)
                .margin(12)
                .x_label_area_size(60)
                .y_label_area_size(label_area)
                .build_cartesian_2d(
                    (0..xn).with_key_points(x_keys),
                    (0..yn).with_key_points(y_keys),
                )
        };
        let (plot_w, plot_h) = builder(vec![], vec![])?.plotting_area().dim_in_pixel();
        let x_chars = self
            .x
            .iter()
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(1)
            .max(1);
        let max_x_labels = (plot_w as usize / (x_chars * 8 + 12)).max(1);
        let max_y_labels = (plot_h as usize / 18).max(1);
        let centre = |i: usize| 2 * i as i32 + 1;
        let x_keys = label_indices(nx, max_x_labels)
            .into_iter()
            .map(centre)
            .collect();
        let y_keys = label_indices(ny, max_y_labels)
            .into_iter()
            .map(centre)
            .collect();
        let mut chart = builder(x_keys, y_keys)?;
        let label_of = |labels: &[String], v: i32| -> String {
            labels
                .get((v.max(0) / 2) as usize)
                .cloned()
                .unwrap_or_default()
        };
        let fmt_x = |v: &i32| label_of(self.x, *v);
        let fmt_y = |v: &i32| label_of(self.y, *v);
        chart
            .configure_mesh()
            .disable_mesh()
            .label_style(font(14))
            .axis_desc_style(font(16))
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&fmt_y)
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .draw()?;
        let range = self.range();
        // Halved operands keep the arithmetic finite for values near ±f64::MAX.
        let norm = |v: f64| match range {
            Some((lo, hi)) if hi > lo => (v / 2.0 - lo / 2.0) / (hi / 2.0 - lo / 2.0),
            _ => 0.5,
        };
        let missing = RGBColor(200, 200, 200);
        chart.draw_series(
            (0..ny)
                .flat_map(|j| (0..nx).map(move |i| (i, j)))
                .map(|(i, j)| {
                    let v = self.values[j * nx + i];
                    let color = if v.is_finite() {
                        viridis(norm(v))
                    } else {
                        missing
                    };
                    let (x0, y0) = (2 * i as i32, 2 * j as i32);
                    Rectangle::new([(x0, y0), (x0 + 2, y0 + 2)], color.filled())
                }),
        )?;
        // Cell values, when the cells are large enough to hold them.
        let (cell_w, cell_h) = (plot_w as f64 / nx as f64, plot_h as f64 / ny as f64);
        if cell_w >= 24.0 && cell_h >= 16.0 {
            for j in 0..ny {
                for i in 0..nx {
                    let v = self.values[j * nx + i];
                    let text = cell_text(v);
                    // DejaVu Sans digits are about 0.64 em wide.
                    let fit = (cell_w - 6.0) / (text.chars().count() as f64 * 0.64);
                    let size = (cell_h * 0.4).min(16.0).min(fit);
                    if size < 9.0 {
                        continue;
                    }
                    let dark = !v.is_finite() || norm(v) > 0.6;
                    let style = (FONT, size)
                        .into_font()
                        .color(if dark { &BLACK } else { &WHITE })
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    chart.draw_series(std::iter::once(Text::new(
                        text,
                        (centre(i), centre(j)),
                        style,
                    )))?;
                }
            }
        }

        // Colour scale, drawn on a 0..=1000 integer axis (plotters' f64 tick search cannot take
        // spans near f64::MAX); labels show the values at five evenly spaced positions.
        const STEPS: i32 = 1000;
        let value_at = |u: i32| -> f64 {
            let f = f64::from(u) / f64::from(STEPS);
            match range {
                Some((lo, hi)) => lo * (1.0 - f) + hi * f,
                None => f64::NAN,
            }
        };
        let keys: Vec<i32> = if matches!(range, Some((lo, hi)) if hi > lo) {
            (0..=4).map(|k| k * STEPS / 4).collect()
        } else {
            vec![STEPS / 2]
        };
        let mut scale = ChartBuilder::on(&bar)
            .margin_top(12)
            .margin_bottom(72)
            .margin_right(8)
            .y_label_area_size(80)
            .build_cartesian_2d(0..1, (0..STEPS).with_key_points(keys))?;
        let fmt_v = |u: &i32| match range {
            Some((lo, hi)) if hi > lo => scale_label(value_at(*u), hi / 2.0 - lo / 2.0),
            Some((lo, _)) => cell_text(lo),
            None => "n/a".to_string(),
        };
        scale
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .label_style(font(13))
            .y_label_formatter(&fmt_v)
            .draw()?;
        const BANDS: i32 = 125;
        scale.draw_series((0..BANDS).map(|k| {
            let (a, b) = (k * STEPS / BANDS, (k + 1) * STEPS / BANDS);
            let c = match range {
                Some((lo, hi)) if hi > lo => viridis((f64::from(k) + 0.5) / f64::from(BANDS)),
                Some(_) => viridis(0.5),
                None => missing,
            };
            Rectangle::new([(0, a), (1, b)], c.filled())
        }))?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// CSV and HTML

/// ISO-8601 UTC time: `YYYY-MM-DDTHH:MM:SSZ`, with `.mmm` milliseconds when they are not zero.
fn iso_utc(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    let in_day = ms.rem_euclid(DAY_MS);
    let (s, milli) = (in_day / 1000, in_day % 1000);
    let hms = format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    if milli == 0 {
        format!("{y:04}-{m:02}-{d:02}T{hms}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hms}.{milli:03}Z")
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Proleptic Gregorian (year, month 1-12, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn push_csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

fn push_csv_row<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (k, f) in fields.into_iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        push_csv_field(out, f);
    }
    out.push('\n');
}

fn trade_fields(t: &TradeRow) -> [String; 7] {
    [
        iso_utc(t.time_ms),
        t.asset.clone(),
        t.side.to_string(),
        t.quantity.to_string(),
        t.price.to_string(),
        t.notional.to_string(),
        t.fee.to_string(),
    ]
}

const TRADE_HEADER: [&str; 7] = [
    "time", "asset", "side", "quantity", "price", "notional", "fee",
];

fn trades_csv(trades: &[TradeRow]) -> String {
    let mut out = String::with_capacity(64 * (trades.len() + 1));
    push_csv_row(&mut out, TRADE_HEADER);
    for t in trades {
        let f = trade_fields(t);
        push_csv_row(&mut out, f.iter().map(String::as_str));
    }
    out
}

/// Escapes text for HTML element content and quoted attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;\
margin:24px auto;max-width:1240px;padding:0 12px;color:#222}\
h1{font-size:1.6em;margin-bottom:4px}h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}\
.meta{color:#666;margin-top:0}\
table{border-collapse:collapse;font-size:14px}th,td{padding:4px 10px;border-bottom:1px solid #e5e5e5}\
th{background:#f4f4f4;text-align:left}th.sub{padding-left:28px;font-weight:normal}td.num{text-align:right;font-variant-numeric:tabular-nums}\
tbody tr:nth-child(even){background:#fafafa}\
img{max-width:100%;height:auto;border:1px solid #eee}\
.scroll{max-height:640px;overflow:auto}";

fn html_head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(title),
        esc(title)
    );
}

fn looks_numeric(s: &str) -> bool {
    let t = s.trim().trim_end_matches('%');
    !t.is_empty() && t.parse::<f64>().is_ok()
}

fn td(out: &mut String, cell: &str) {
    let class = if looks_numeric(cell) {
        " class=\"num\""
    } else {
        ""
    };
    let _ = write!(out, "<td{class}>{}</td>", esc(cell));
}

fn backtest_html(
    title: &str,
    s: &Series,
    metrics: &[(String, String, String)],
    trades: &[TradeRow],
    drawdown: &DrawdownChart,
) -> String {
    let mut out = String::with_capacity(16_384 + 160 * trades.len().min(MAX_TRADES_IN_HTML));
    html_head(&mut out, title);
    let (first, last) = (s.times_ms[0], s.times_ms[s.times_ms.len() - 1]);
    let _ = writeln!(
        out,
        "<p class=\"meta\">{} to {} · {} bars · assets: {}</p>",
        esc(&iso_utc(first)),
        esc(&iso_utc(last)),
        s.times_ms.len(),
        esc(&s.assets.join(", "))
    );

    out.push_str("<h2>Metrics</h2>\n<table class=\"metrics\">\n<thead><tr><th>Metric</th><th>Strategy</th><th>Buy &amp; hold</th></tr></thead>\n<tbody>\n");
    for (name, strat, bench) in metrics {
        // Leading spaces mark a sub-row (e.g. "  peak" under "max drawdown"): indent it.
        let trimmed = name.trim_start();
        let class = if trimmed.len() < name.len() {
            " class=\"sub\""
        } else {
            ""
        };
        let _ = write!(out, "<tr><th{class}>{}</th>", esc(trimmed));
        td(&mut out, strat);
        td(&mut out, bench);
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");

    for (stem, heading, alt) in [
        (
            "equity",
            "Equity",
            "Equity of the strategy and of buy-and-hold over time",
        ),
        (
            "weights",
            "Weights",
            "Post-trade portfolio weights over time, stacked by asset",
        ),
        (
            "drawdown",
            "Drawdown",
            "Drawdown from the running peak, strategy and buy-and-hold",
        ),
    ] {
        let extra = if stem == "drawdown" {
            format!(
                " <span class=\"meta\">(max: strategy {:.2}%, buy-and-hold {:.2}%)</span>",
                DrawdownChart::worst(&drawdown.strategy),
                DrawdownChart::worst(&drawdown.benchmark)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "<h2>{heading}{extra}</h2>\n<p><a href=\"{stem}.png\"><img src=\"{stem}.svg\" alt=\"{alt}\" width=\"{}\" height=\"{}\"></a></p>",
            CHART_SIZE.0, CHART_SIZE.1
        );
    }

    let shown = trades.len().min(MAX_TRADES_IN_HTML);
    let _ = writeln!(
        out,
        "<h2>Trades</h2>\n<p>{} trade legs. Full log: <a href=\"trades.csv\">trades.csv</a>.{}</p>",
        trades.len(),
        if shown < trades.len() {
            format!(" The first {shown} are listed below.")
        } else {
            String::new()
        }
    );
    if shown > 0 {
        out.push_str("<div class=\"scroll\"><table class=\"trades\">\n<thead><tr>");
        for h in TRADE_HEADER {
            let _ = write!(out, "<th>{h}</th>");
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for t in &trades[..shown] {
            out.push_str("<tr>");
            for f in trade_fields(t) {
                td(&mut out, &f);
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table></div>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn sweep_html(title: &str, table: &[Vec<String>]) -> String {
    let mut out = String::with_capacity(8_192 + 80 * table.len());
    html_head(&mut out, title);
    let _ = writeln!(
        out,
        "<p class=\"meta\">{} parameter sets · full table: <a href=\"sweep.csv\">sweep.csv</a></p>\n\
<h2>Heat map</h2>\n<p><a href=\"heatmap.png\"><img src=\"heatmap.svg\" alt=\"Heat map of the sweep\"></a></p>",
        table.len().saturating_sub(1)
    );
    out.push_str(
        "<h2>Ranked results</h2>\n<div class=\"scroll\"><table class=\"sweep\">\n<thead><tr>",
    );
    if let Some(header) = table.first() {
        for h in header {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in table.iter().skip(1) {
        out.push_str("<tr>");
        for cell in row {
            td(&mut out, cell);
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip_and_match_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for d in -800_000..800_000 {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn time_limits_are_the_four_digit_years() {
        assert_eq!(iso_utc(MIN_TIME_MS), "0000-01-01T00:00:00Z");
        assert_eq!(iso_utc(MAX_TIME_MS), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn iso_utc_formats_seconds_and_milliseconds() {
        assert_eq!(iso_utc(1_609_459_200_000), "2021-01-01T00:00:00Z");
        assert_eq!(
            iso_utc(1_709_164_800_000 + 3_723_456),
            "2024-02-29T01:02:03.456Z"
        );
        assert_eq!(iso_utc(-1_000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn minmax_keeps_extremes_ends_and_bound() {
        let v: Vec<f64> = (0..43_800)
            .map(|i| ((i as f64) * 0.37).sin() * (i as f64))
            .collect();
        let idx = minmax_indices(&v, MAX_POINTS_PER_LINE);
        assert!(idx.len() <= MAX_POINTS_PER_LINE, "{} points", idx.len());
        assert_eq!(idx[0], 0);
        assert_eq!(*idx.last().unwrap(), v.len() - 1);
        assert!(idx.windows(2).all(|w| w[0] < w[1]));
        let argmax = (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap();
        let argmin = (0..v.len()).min_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap();
        assert!(idx.contains(&argmax) && idx.contains(&argmin));
        assert_eq!(
            minmax_indices(&v[..10], MAX_POINTS_PER_LINE),
            (0..10).collect::<Vec<_>>()
        );
    }

    #[test]
    fn date_ticks_are_calendar_aligned_and_few() {
        let t0 = days_from_civil(2021, 1, 1) * DAY_MS + 5 * HOUR_MS;
        let t1 = days_from_civil(2024, 12, 31) * DAY_MS;
        let (ticks, with_time) = date_ticks(t0, t1);
        assert!(!with_time);
        assert!((2..=11).contains(&ticks.len()), "{ticks:?}");
        for t in &ticks {
            let (_, _, d) = civil_from_days(t / DAY_MS);
            assert_eq!((d, t % DAY_MS), (1, 0));
            assert!(*t >= t0 && *t <= t1);
        }
        let (ticks, with_time) = date_ticks(t0, t0 + 20 * HOUR_MS);
        assert!(with_time && ticks.len() <= 11 && !ticks.is_empty());
        assert!(ticks.iter().all(|t| t % HOUR_MS == 0));
    }

    #[test]
    fn drawdown_is_relative_to_running_peak() {
        let dd = drawdown_pct(&[100.0, 120.0, 90.0, 130.0, 65.0]);
        let want = [0.0, 0.0, -25.0, 0.0, -50.0];
        for (a, b) in dd.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{dd:?}");
        }
    }

    #[test]
    fn html_escape_covers_markup_and_quotes() {
        assert_eq!(esc("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
    }

    #[test]
    fn csv_fields_with_separators_are_quoted() {
        let mut s = String::new();
        push_csv_row(&mut s, ["a,b", "say \"hi\"", "plain"]);
        assert_eq!(s, "\"a,b\",\"say \"\"hi\"\"\",plain\n");
    }

    #[test]
    fn long_titles_shrink_then_get_cut() {
        register_fonts().unwrap();
        let mut buf = String::new();
        let root = SVGBackend::with_string(&mut buf, (400, 100)).into_drawing_area();
        let width = |t: &str, size: u32| root.estimate_text_size(t, &font(size)).unwrap().0;
        assert_eq!(
            fit_text(&root, "short", 380, 24).unwrap(),
            ("short".to_string(), 24)
        );
        let medium = "a title of a medium length that needs shrinking";
        assert!(width(medium, 24) > 380 && width(medium, 12) <= 380);
        let (t, size) = fit_text(&root, medium, 380, 24).unwrap();
        assert_eq!(t, medium);
        assert!((12..24).contains(&size) && width(medium, size) <= 380);
        let long = "word ".repeat(40);
        let (t, size) = fit_text(&root, &long, 380, 24).unwrap();
        assert_eq!(size, 12);
        assert!(t.ends_with('…') && long.starts_with(t.trim_end_matches('…')));
        assert!(width(&t, 12) <= 380);
    }

    #[test]
    fn scale_labels_follow_the_span() {
        assert_eq!(scale_label(1.77e-5, 1.0), "0.00");
        assert_eq!(scale_label(-0.5, 1.0), "-0.50");
        assert_eq!(scale_label(0.0123, 0.005), "0.0123");
        assert_eq!(scale_label(1515.2, 200.0), "1515");
        assert_eq!(scale_label(230_700.0, 1e5), "230.7k");
    }

    #[test]
    fn viridis_ends_and_clamps() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(7.0), viridis(1.0));
    }
}
