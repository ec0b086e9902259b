//! smartfolio-data: price history for the backtester, the allocator and the replay feed.
//!
//! Two layouts are read (those of `../shared/data` and of the peers' generator):
//! - a **folder** of per-asset files: `<SYM>.csv` (`date,close[,market_cap]`, daily) or
//!   `<SYM>USDT-<interval>.csv` (`open_time,open,high,low,close,volume`, Binance candles);
//! - one **wide CSV**: `timestamp,ASSET1,ASSET2,...`.
//!
//! Every file is validated as it is read: timestamps strictly increasing (no duplicates, no
//! disorder), prices within `core::limits::PRICE` (1e-12 to 1e15). A bad value is an error naming the file and the line;
//! nothing is dropped or filled. Assets are then aligned on the timestamps present in every one of
//! them (an inner join, SPEC §4), and an optional `[from, to]` window (both ends inclusive) is cut.
//!
//! [`download`] fetches candle history from a venue (a [`download::CandleSource`]) into the
//! `<SYM>USDT-<interval>.csv` layout, resuming after an existing file's last row.

pub mod download;
mod time;

pub use time::{format_time_ms, parse_time_ms};

use smartfolio_core::limits;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

const DAY_MS: i64 = 86_400_000;

/// A load or validation failure, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub message: String,
}

impl DataError {
    fn new(file: Option<&Path>, line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            file: file.map(Path::to_path_buf),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{}: {}", file.display(), line, self.message),
            (Some(file), None) => write!(f, "{}: {}", file.display(), self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DataError {}

/// Aligned close prices of several assets.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    pub assets: Vec<String>,
    /// Strictly increasing UTC epoch milliseconds, present in every asset.
    pub times_ms: Vec<i64>,
    /// Row-major `T × N`: `prices[t * n_assets + i]`.
    pub prices: Vec<f64>,
    /// Row-major `T × N`, NaN where unknown; `None` when no file had a market cap column.
    pub market_caps: Option<Vec<f64>>,
    /// Median spacing between bars.
    pub bar_ms: i64,
    /// The files read, one per asset for a folder.
    pub files: Vec<PathBuf>,
}

impl PriceTable {
    pub fn n_assets(&self) -> usize {
        self.assets.len()
    }

    pub fn n_bars(&self) -> usize {
        self.times_ms.len()
    }

    pub fn row(&self, t: usize) -> &[f64] {
        let n = self.n_assets();
        &self.prices[t * n..(t + 1) * n]
    }

    pub fn column(&self, i: usize) -> Vec<f64> {
        self.prices
            .iter()
            .skip(i)
            .step_by(self.n_assets())
            .copied()
            .collect()
    }

    /// Periods per year from the median bar spacing: 365 for daily bars, 8760 for hourly (crypto
    /// trades every day of the year).
    pub fn periods_per_year(&self) -> f64 {
        (365.0 * DAY_MS as f64 / self.bar_ms.max(1) as f64).round()
    }

    /// The bars with `from_ms <= time <= to_ms`; an error when none is left.
    pub fn window(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> Result<PriceTable, DataError> {
        let lo = from_ms.map_or(0, |f| self.times_ms.partition_point(|&t| t < f));
        let hi = to_ms.map_or(self.n_bars(), |t| {
            self.times_ms.partition_point(|&x| x <= t)
        });
        if lo >= hi {
            return Err(DataError::new(
                None,
                None,
                format!(
                    "no common bars of {} between {} and {}: the data ({}) covers {} to {}",
                    self.assets.join(","),
                    from_ms.map_or("the start".into(), format_time_ms),
                    to_ms.map_or("the end".into(), format_time_ms),
                    self.files_label(),
                    self.times_ms
                        .first()
                        .map_or("-".into(), |&t| format_time_ms(t)),
                    self.times_ms
                        .last()
                        .map_or("-".into(), |&t| format_time_ms(t)),
                ),
            ));
        }
        let n = self.n_assets();
        let times_ms = self.times_ms[lo..hi].to_vec();
        Ok(PriceTable {
            assets: self.assets.clone(),
            bar_ms: median_spacing(&times_ms).unwrap_or(self.bar_ms),
            times_ms,
            prices: self.prices[lo * n..hi * n].to_vec(),
            market_caps: self
                .market_caps
                .as_ref()
                .map(|m| m[lo * n..hi * n].to_vec()),
            files: self.files.clone(),
        })
    }

    fn files_label(&self) -> String {
        self.files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Assets in the order wanted. Required for a folder; for a wide CSV, empty means every column.
    pub assets: Vec<String>,
    /// Candle interval for folders holding `<SYM>USDT-<interval>.csv` files (`1h`, `4h`, `1d`);
    /// by default the finest interval every asset has.
    pub interval: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

/// Load, validate, align and window price history from a folder or a wide CSV.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<PriceTable, DataError> {
    let table = if path.is_dir() {
        load_folder(path, opts)?
    } else if path.is_file() {
        load_wide(path, &opts.assets)?
    } else {
        return Err(DataError::new(
            Some(path),
            None,
            "no such file or folder; expected a folder of <SYM>.csv / <SYM>USDT-<interval>.csv files or a wide CSV timestamp,ASSET1,...",
        ));
    };
    if opts.from_ms.is_some() || opts.to_ms.is_some() {
        table.window(opts.from_ms, opts.to_ms)
    } else {
        Ok(table)
    }
}

fn median_spacing(times: &[i64]) -> Option<i64> {
    if times.len() < 2 {
        return None;
    }
    let mut d: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let mid = d.len() / 2;
    let (_, m, _) = d.select_nth_unstable(mid);
    Some(*m)
}

fn open_csv(path: &Path) -> Result<csv::Reader<std::fs::File>, DataError> {
    let file = std::fs::File::open(path)
        .map_err(|e| DataError::new(Some(path), None, format!("cannot open: {e}")))?;
    Ok(csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .buffer_capacity(1 << 20)
        .from_reader(file))
}

fn csv_error(path: &Path, e: csv::Error) -> DataError {
    let line = e.position().map(|p| p.line() as usize);
    let msg = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("expected {expected_len} fields, found {len}"),
        _ => e.to_string(),
    };
    DataError::new(Some(path), line, msg)
}

fn parse_price(path: &Path, line: usize, column: &str, raw: &[u8]) -> Result<f64, DataError> {
    let text = std::str::from_utf8(raw).unwrap_or("");
    match text.parse::<f64>() {
        Ok(v) if limits::PRICE.check_f64(column, v).is_ok() => Ok(v),
        Ok(_) => Err(DataError::new(
            Some(path),
            Some(line),
            format!(
                "{column} is {text}; allowed: {} (prices are never filled or clamped)",
                limits::PRICE.allowed()
            ),
        )),
        Err(_) if text.is_empty() => Err(DataError::new(
            Some(path),
            Some(line),
            format!("{column} is empty; gaps are never filled, remove the row or the asset"),
        )),
        Err(_) => Err(DataError::new(
            Some(path),
            Some(line),
            format!("{column} is {text:?}, not a number"),
        )),
    }
}

fn parse_stamp(path: &Path, line: usize, raw: &[u8], prev: Option<i64>) -> Result<i64, DataError> {
    let text = std::str::from_utf8(raw).unwrap_or("");
    let t = parse_time_ms(text).ok_or_else(|| {
        DataError::new(
            Some(path),
            Some(line),
            format!("timestamp {text:?} is not a date (YYYY-MM-DD), an ISO-8601 time or epoch seconds/ms"),
        )
    })?;
    if let Some(p) = prev {
        if t == p {
            return Err(DataError::new(
                Some(path),
                Some(line),
                format!("duplicate timestamp {text}"),
            ));
        }
        if t < p {
            return Err(DataError::new(
                Some(path),
                Some(line),
                format!(
                    "timestamp {text} is before the previous row's {}; rows must be in increasing time order",
                    format_time_ms(p)
                ),
            ));
        }
    }
    Ok(t)
}

/// One asset's validated series.
struct Series {
    times: Vec<i64>,
    close: Vec<f64>,
    caps: Option<Vec<f64>>,
}

fn load_asset_file(path: &Path) -> Result<Series, DataError> {
    let mut rdr = open_csv(path)?;
    let headers = rdr.headers().map_err(|e| csv_error(path, e))?.clone();
    let find = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let close_col = find("close").ok_or_else(|| {
        DataError::new(
            Some(path),
            Some(1),
            format!(
                "header {:?} has no `close` column; expected date,close[,market_cap] or open_time,open,high,low,close,volume",
                headers.iter().collect::<Vec<_>>().join(",")
            ),
        )
    })?;
    let cap_col = find("market_cap");
    let mut s = Series {
        times: Vec::new(),
        close: Vec::new(),
        caps: cap_col.map(|_| Vec::new()),
    };
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, e)),
        }
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let t = parse_stamp(path, line, &rec[0], s.times.last().copied())?;
        s.times.push(t);
        s.close
            .push(parse_price(path, line, "close", &rec[close_col])?);
        if let (Some(c), Some(caps)) = (cap_col, s.caps.as_mut()) {
            let raw = std::str::from_utf8(&rec[c]).unwrap_or("");
            let v = if raw.is_empty() {
                f64::NAN
            } else {
                match raw.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => v,
                    _ => {
                        return Err(DataError::new(
                            Some(path),
                            Some(line),
                            format!("market_cap is {raw:?}; expected empty or a number ≥ 0"),
                        ));
                    }
                }
            };
            caps.push(v);
        }
    }
    if s.times.is_empty() {
        return Err(DataError::new(Some(path), None, "no rows after the header"));
    }
    Ok(s)
}

fn interval_ms(interval: &str) -> Option<i64> {
    let split = interval.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = interval.split_at(split);
    let n: i64 = n.parse().ok()?;
    let unit = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => DAY_MS,
        "w" => 7 * DAY_MS,
        "M" => 30 * DAY_MS,
        _ => return None,
    };
    Some(n * unit)
}

/// Candidate files of one asset in a folder, keyed by interval (`<SYM>.csv` counts as `1d`).
fn candidates(listing: &[String], asset: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for name in listing {
        let Some(stem) = name.strip_suffix(".csv") else {
            continue;
        };
        if stem.eq_ignore_ascii_case(asset) {
            out.insert("1d".to_string(), name.clone());
        } else if let Some((pair, interval)) = stem.rsplit_once('-') {
            let base = pair
                .strip_suffix("USDT")
                .or_else(|| pair.strip_suffix("usdt"))
                .unwrap_or(pair);
            if base.eq_ignore_ascii_case(asset) && interval_ms(interval).is_some() {
                out.entry(interval.to_string())
                    .or_insert_with(|| name.clone());
            }
        }
    }
    out
}

fn load_folder(dir: &Path, opts: &LoadOptions) -> Result<PriceTable, DataError> {
    let mut listing: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| DataError::new(Some(dir), None, format!("cannot list folder: {e}")))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    listing.sort();
    if opts.assets.is_empty() {
        return Err(DataError::new(
            Some(dir),
            None,
            format!(
                "name the assets to load (--assets); this folder has {}",
                available_assets(&listing).join(",")
            ),
        ));
    }
    let per_asset: Vec<BTreeMap<String, String>> = opts
        .assets
        .iter()
        .map(|a| candidates(&listing, a))
        .collect();
    for (asset, c) in opts.assets.iter().zip(&per_asset) {
        if c.is_empty() {
            return Err(DataError::new(
                Some(dir),
                None,
                format!(
                    "unknown asset {asset}: no {asset}.csv or {asset}USDT-<interval>.csv here; available: {}",
                    available_assets(&listing).join(",")
                ),
            ));
        }
    }
    let interval = match &opts.interval {
        Some(i) => {
            for (asset, c) in opts.assets.iter().zip(&per_asset) {
                if !c.contains_key(i) {
                    return Err(DataError::new(
                        Some(dir),
                        None,
                        format!(
                            "no {i} file for {asset}; its intervals here: {}",
                            c.keys().cloned().collect::<Vec<_>>().join(",")
                        ),
                    ));
                }
            }
            i.clone()
        }
        None => {
            let mut common: Vec<&String> = per_asset[0]
                .keys()
                .filter(|k| per_asset.iter().all(|c| c.contains_key(*k)))
                .collect();
            common.sort_by_key(|k| interval_ms(k).unwrap_or(i64::MAX));
            match common.first() {
                Some(k) => (*k).clone(),
                None => {
                    let have = opts
                        .assets
                        .iter()
                        .zip(&per_asset)
                        .map(|(a, c)| {
                            format!("{a}: {}", c.keys().cloned().collect::<Vec<_>>().join("/"))
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    return Err(DataError::new(
                        Some(dir),
                        None,
                        format!("the assets share no candle interval ({have})"),
                    ));
                }
            }
        }
    };
    let files: Vec<PathBuf> = per_asset.iter().map(|c| dir.join(&c[&interval])).collect();
    let series = files
        .iter()
        .map(|f| load_asset_file(f))
        .collect::<Result<Vec<_>, _>>()?;
    align(opts.assets.clone(), files, series)
}

fn available_assets(listing: &[String]) -> Vec<String> {
    let mut out: Vec<String> = listing
        .iter()
        .filter_map(|n| n.strip_suffix(".csv"))
        .map(|stem| match stem.rsplit_once('-') {
            Some((pair, i)) if interval_ms(i).is_some() => {
                pair.strip_suffix("USDT").unwrap_or(pair).to_string()
            }
            _ => stem.to_string(),
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Inner join of every series on their common timestamps.
fn align(
    assets: Vec<String>,
    files: Vec<PathBuf>,
    series: Vec<Series>,
) -> Result<PriceTable, DataError> {
    let n = series.len();
    let mut idx = vec![0usize; n];
    let mut times = Vec::new();
    let mut prices = Vec::new();
    let any_caps = series.iter().any(|s| s.caps.is_some());
    let mut caps = Vec::new();
    'outer: loop {
        // The candidate time is the largest current head; advance the others up to it.
        let mut t = i64::MIN;
        for (s, &i) in series.iter().zip(&idx) {
            match s.times.get(i) {
                Some(&x) => t = t.max(x),
                None => break 'outer,
            }
        }
        let mut all = true;
        for (s, i) in series.iter().zip(idx.iter_mut()) {
            *i += s.times[*i..].partition_point(|&x| x < t);
            match s.times.get(*i) {
                Some(&x) if x == t => {}
                Some(_) => all = false,
                None => break 'outer,
            }
        }
        if all {
            times.push(t);
            for (s, i) in series.iter().zip(idx.iter_mut()) {
                prices.push(s.close[*i]);
                if any_caps {
                    caps.push(s.caps.as_ref().map_or(f64::NAN, |c| c[*i]));
                }
                *i += 1;
            }
        }
    }
    if times.is_empty() {
        let spans = assets
            .iter()
            .zip(&series)
            .map(|(a, s)| {
                format!(
                    "{a} {}..{}",
                    format_time_ms(s.times[0]),
                    format_time_ms(*s.times.last().unwrap_or(&s.times[0]))
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        return Err(DataError::new(
            None,
            None,
            format!("the assets have no timestamp in common ({spans})"),
        ));
    }
    debug_assert_eq!(prices.len(), times.len() * n);
    Ok(PriceTable {
        assets,
        bar_ms: median_spacing(&times).unwrap_or(DAY_MS),
        times_ms: times,
        prices,
        market_caps: any_caps.then_some(caps),
        files,
    })
}

/// Resolve the wanted assets to column indices of a wide CSV header (column 0 is the time).
fn wide_columns(
    path: &Path,
    columns: &[String],
    wanted: &[String],
) -> Result<(Vec<String>, Vec<usize>), DataError> {
    if wanted.is_empty() {
        return Ok((columns.to_vec(), (1..=columns.len()).collect()));
    }
    let mut cols = Vec::with_capacity(wanted.len());
    for a in wanted {
        match columns.iter().position(|c| c.eq_ignore_ascii_case(a)) {
            Some(i) => cols.push(i + 1),
            None => {
                return Err(DataError::new(
                    Some(path),
                    Some(1),
                    format!("unknown asset {a}: the columns are {}", columns.join(",")),
                ));
            }
        }
    }
    Ok((wanted.to_vec(), cols))
}

fn load_wide(path: &Path, wanted: &[String]) -> Result<PriceTable, DataError> {
    let bytes = std::fs::read(path)
        .map_err(|e| DataError::new(Some(path), None, format!("cannot open: {e}")))?;
    // Plain files (no quoting) take a hand-split fast path; anything else goes through `csv`.
    if !bytes.contains(&b'"') {
        return load_wide_plain(path, &bytes, wanted);
    }
    load_wide_csv(path, wanted)
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

fn load_wide_plain(path: &Path, bytes: &[u8], wanted: &[String]) -> Result<PriceTable, DataError> {
    let mut lines = bytes.split(|&b| b == b'\n').enumerate();
    let header = lines.next().map(|(_, l)| l).unwrap_or_default();
    let header = std::str::from_utf8(trim_ascii(header))
        .map_err(|_| DataError::new(Some(path), Some(1), "the header is not UTF-8 text"))?;
    let columns: Vec<String> = header.split(',').map(|c| c.trim().to_string()).collect();
    if columns.len() < 2 {
        return Err(DataError::new(
            Some(path),
            Some(1),
            "a wide CSV needs a header timestamp,ASSET1,ASSET2,...",
        ));
    }
    let width = columns.len();
    let (assets, cols) = wide_columns(path, &columns[1..], wanted)?;
    let body_start = bytes
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| i + 1);
    let body = &bytes[body_start..];
    // Large files are parsed in parallel chunks cut at line ends; line numbers stay absolute.
    let threads = if body.len() < (1 << 20) {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
    };
    let mut chunks: Vec<(&[u8], usize)> = Vec::with_capacity(threads);
    let (mut from, mut first_line) = (0usize, 2usize);
    for k in 1..=threads {
        let mut to = body.len() * k / threads;
        if k < threads {
            to = body[to..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(body.len(), |i| to + i + 1);
        }
        to = to.max(from);
        let chunk = &body[from..to];
        chunks.push((chunk, first_line));
        first_line += chunk.iter().filter(|&&b| b == b'\n').count();
        from = to;
    }
    let parse = |(chunk, first_line): (&[u8], usize)| {
        parse_wide_rows(path, chunk, first_line, width, &cols, &assets)
    };
    let parts: Vec<Result<WideRows, DataError>> = if threads == 1 {
        chunks.into_iter().map(parse).collect()
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|c| s.spawn(move || parse(c)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a parser thread panicked"))
                .collect()
        })
    };
    let mut times: Vec<i64> = Vec::new();
    let mut prices = Vec::new();
    for part in parts {
        let part = part?;
        if let (Some(&prev), Some(&(first, line))) = (times.last(), part.first.as_ref())
            && first <= prev
        {
            let what = if first == prev {
                "duplicate timestamp"
            } else {
                "timestamp before the previous row's"
            };
            return Err(DataError::new(
                Some(path),
                Some(line),
                format!(
                    "{what} {}; rows must be in increasing time order",
                    format_time_ms(first)
                ),
            ));
        }
        times.extend_from_slice(&part.times);
        prices.extend_from_slice(&part.prices);
    }
    finish_wide(path, assets, times, prices)
}

struct WideRows {
    times: Vec<i64>,
    prices: Vec<f64>,
    /// The first row's time and line.
    first: Option<(i64, usize)>,
}

fn parse_wide_rows(
    path: &Path,
    chunk: &[u8],
    first_line: usize,
    width: usize,
    cols: &[usize],
    assets: &[String],
) -> Result<WideRows, DataError> {
    let rows = chunk.len() / (width * 12) + 1;
    let mut out = WideRows {
        times: Vec::with_capacity(rows),
        prices: Vec::with_capacity(rows * cols.len()),
        first: None,
    };
    let mut fields: Vec<&[u8]> = Vec::with_capacity(width);
    for (i, raw) in chunk.split(|&b| b == b'\n').enumerate() {
        let line = first_line + i;
        let raw = trim_ascii(raw);
        if raw.is_empty() {
            continue;
        }
        fields.clear();
        fields.extend(raw.split(|&b| b == b',').map(trim_ascii));
        if fields.len() != width {
            return Err(DataError::new(
                Some(path),
                Some(line),
                format!("expected {width} fields, found {}", fields.len()),
            ));
        }
        let t = parse_stamp(path, line, fields[0], out.times.last().copied())?;
        if out.first.is_none() {
            out.first = Some((t, line));
        }
        out.times.push(t);
        for (&c, a) in cols.iter().zip(assets) {
            out.prices.push(parse_price(path, line, a, fields[c])?);
        }
    }
    Ok(out)
}

fn finish_wide(
    path: &Path,
    assets: Vec<String>,
    times: Vec<i64>,
    prices: Vec<f64>,
) -> Result<PriceTable, DataError> {
    if times.is_empty() {
        return Err(DataError::new(Some(path), None, "no rows after the header"));
    }
    Ok(PriceTable {
        assets,
        bar_ms: median_spacing(&times).unwrap_or(DAY_MS),
        times_ms: times,
        prices,
        market_caps: None,
        files: vec![path.to_path_buf()],
    })
}

fn load_wide_csv(path: &Path, wanted: &[String]) -> Result<PriceTable, DataError> {
    let mut rdr = open_csv(path)?;
    let headers = rdr.headers().map_err(|e| csv_error(path, e))?.clone();
    if headers.len() < 2 {
        return Err(DataError::new(
            Some(path),
            Some(1),
            "a wide CSV needs a header timestamp,ASSET1,ASSET2,...",
        ));
    }
    let columns: Vec<String> = headers.iter().skip(1).map(str::to_string).collect();
    let (assets, cols) = wide_columns(path, &columns, wanted)?;
    let mut times: Vec<i64> = Vec::new();
    let mut prices = Vec::new();
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, e)),
        }
        let line = rec.position().map_or(0, |p| p.line() as usize);
        times.push(parse_stamp(path, line, &rec[0], times.last().copied())?);
        for (&c, a) in cols.iter().zip(&assets) {
            prices.push(parse_price(path, line, a, &rec[c])?);
        }
    }
    finish_wide(path, assets, times, prices)
}

/// Market caps from a CoinMarketCap monthly snapshot file
/// (`date,symbol,name,rank,market_cap,price,circulating_supply`): for each asset, the latest value
/// on or before `at_ms`.
pub fn cmc_market_caps(path: &Path, assets: &[String], at_ms: i64) -> Result<Vec<f64>, DataError> {
    let mut rdr = open_csv(path)?;
    let headers = rdr.headers().map_err(|e| csv_error(path, e))?.clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            DataError::new(
                Some(path),
                Some(1),
                format!("no `{name}` column; expected date,symbol,...,market_cap,..."),
            )
        })
    };
    let (dc, sc, mc) = (col("date")?, col("symbol")?, col("market_cap")?);
    let mut best: Vec<Option<(i64, f64)>> = vec![None; assets.len()];
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, e)),
        }
        let Some(i) = assets.iter().position(|a| a.eq_ignore_ascii_case(&rec[sc])) else {
            continue;
        };
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let t = parse_time_ms(&rec[dc]).ok_or_else(|| {
            DataError::new(
                Some(path),
                Some(line),
                format!("date {:?} is not a date", &rec[dc]),
            )
        })?;
        if t > at_ms {
            continue;
        }
        let cap: f64 = match rec[mc].parse() {
            Ok(v) if f64::is_finite(v) && v > 0.0 => v,
            _ => continue,
        };
        if best[i].is_none_or(|(bt, _)| t >= bt) {
            best[i] = Some((t, cap));
        }
    }
    assets
        .iter()
        .zip(best)
        .map(|(a, b)| {
            b.map(|(_, c)| c).ok_or_else(|| {
                DataError::new(
                    Some(path),
                    None,
                    format!(
                        "no market cap known for {a} on or before {}",
                        format_time_ms(at_ms)
                    ),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
