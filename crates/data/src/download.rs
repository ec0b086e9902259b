//! Downloading candle history from a venue into the `<SYM><QUOTE>-<interval>.csv` layout that
//! [`crate::load`] reads (`open_time,open,high,low,close,volume`, `open_time` as
//! `YYYY-MM-DDTHH:MM:SSZ`).
//!
//! The venue is a [`CandleSource`] (Binance's is `smartfolio_binance::history`): it answers one
//! page of closed candles at a time and waits out its own rate limits. [`download`] pages through
//! `[from, to)` per asset and appends to the asset's file:
//! - **Resume:** an existing file is validated (the loader's own checks) and only candles after
//!   its last row are fetched and appended; nothing is ever written twice. Candles wanted before
//!   its first row are fetched into a new file followed by the old rows, renamed into place.
//! - **Crash safety:** a new file is written to a hidden temporary file and renamed into place
//!   with its header and first page; each later page is appended as whole lines in one write and
//!   flushed to disk (`fsync`). A line cut by a crash mid-write is the only thing an interrupted
//!   run can leave behind: the next run removes it (it was never complete) and fetches it again.
//! - **Gaps:** a candle missing at the venue stays missing (no row is made up) and is reported as
//!   a [`Gap`]; candles still forming (not closed at the venue's `now`) are never written.

use crate::{DataError, load_asset_file};
use chrono::DateTime;
use rust_decimal::Decimal;
use smartfolio_core::limits;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The header of a candle file.
pub const CANDLE_HEADER: &str = "open_time,open,high,low,close,volume";

/// The hidden file locked while a download writes into a folder.
pub const LOCK_FILE: &str = ".smartfolio-download.lock";

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// The candle intervals of fixed length, as venues spell them (a month has no fixed length, so
/// `1M` is not among them).
const INTERVALS: [(&str, i64); 14] = [
    ("1m", MINUTE),
    ("3m", 3 * MINUTE),
    ("5m", 5 * MINUTE),
    ("15m", 15 * MINUTE),
    ("30m", 30 * MINUTE),
    ("1h", HOUR),
    ("2h", 2 * HOUR),
    ("4h", 4 * HOUR),
    ("6h", 6 * HOUR),
    ("8h", 8 * HOUR),
    ("12h", 12 * HOUR),
    ("1d", DAY),
    ("3d", 3 * DAY),
    ("1w", 7 * DAY),
];

/// A candle interval of fixed length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    name: &'static str,
    ms: i64,
}

impl Interval {
    /// `1h`, `15m`, `1d`, … (see [`Interval::allowed`]); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        INTERVALS
            .iter()
            .find(|(n, _)| *n == s.trim())
            .map(|&(name, ms)| Self { name, ms })
    }

    /// The intervals accepted, for messages: `1m, 3m, …, 1w`.
    pub fn allowed() -> String {
        Self::allowed_where(|_| true)
    }

    /// The intervals for which `has` holds, for messages: a venue's own list (`1m, 5m, 1h`).
    pub fn allowed_where(has: impl Fn(Interval) -> bool) -> String {
        INTERVALS
            .iter()
            .map(|&(name, ms)| Self { name, ms })
            .filter(|i| has(*i))
            .map(|i| i.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn ms(&self) -> i64 {
        self.ms
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// One closed candle, prices in the quote, volume in the base asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candle {
    pub open_time_ms: i64,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
}

/// Why a page could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// The venue does not list this symbol.
    NotListed,
    /// Anything else, as the venue or the transport said it (after the source's own retries).
    Failed(String),
}

/// A venue's candle history: pages of closed candles, oldest first. The source waits out its
/// rate limits and retries what may be retried; an error it returns is final for this run.
pub trait CandleSource {
    /// The venue's name, for messages (`binance`).
    fn venue(&self) -> &str;
    /// The venue's symbol of `base` against `quote` (`BTCUSDT`).
    fn symbol(&self, base: &str, quote: &str) -> String;
    /// The most candles one page holds; a shorter page is the last of a range.
    fn page_limit(&self) -> usize;
    /// The venue's time now (epoch ms), read from the venue once per download: a candle is
    /// closed once `open + interval <= now`, and only closed candles are written.
    fn now_ms(&self) -> impl Future<Output = Result<i64, SourceError>> + Send;
    /// Up to [`Self::page_limit`] candles of `symbol` opening in `[start_ms, end_ms]` (both
    /// included), oldest first.
    fn page(
        &self,
        symbol: &str,
        interval: Interval,
        start_ms: i64,
        end_ms: i64,
    ) -> impl Future<Output = Result<Vec<Candle>, SourceError>> + Send;
}

/// One [`CandleSource::page`] from a venue that answers by time window (the candles opening
/// in `[from, last]`, both included) rather than by count: windows of at most the candles still
/// wanted are asked one after another until the page holds `limit` candles or reaches
/// `end_ms`. An empty window (a gap, or a range before the pair's history starts) moves on to
/// the next one, so a short page is the end of the range, as the download expects. Candles a
/// venue answers outside the window asked are dropped; the page is oldest first, each open
/// time once.
pub async fn page_by_windows<F, Fut>(
    interval: Interval,
    start_ms: i64,
    end_ms: i64,
    limit: usize,
    mut window: F,
) -> Result<Vec<Candle>, SourceError>
where
    F: FnMut(i64, i64) -> Fut,
    Fut: Future<Output = Result<Vec<Candle>, SourceError>>,
{
    let limit = limit.max(1);
    let mut candles: Vec<Candle> = Vec::new();
    let mut from = start_ms;
    while from <= end_ms && candles.len() < limit {
        let wanted = (limit - candles.len()) as i64;
        let last = end_ms.min(from.saturating_add((wanted - 1) * interval.ms));
        let rows = window(from, last).await?;
        candles.extend(
            rows.into_iter()
                .filter(|c| c.open_time_ms >= from && c.open_time_ms <= last),
        );
        from = last + interval.ms;
    }
    candles.sort_by_key(|c| c.open_time_ms);
    candles.dedup_by_key(|c| c.open_time_ms);
    Ok(candles)
}

/// What to download.
#[derive(Debug, Clone)]
pub struct DownloadRequest {
    /// Base assets (`BTC`), in the order wanted.
    pub assets: Vec<String>,
    /// The quote (`USDT`): files are named `<ASSET><QUOTE>-<interval>.csv`.
    pub quote: String,
    pub interval: Interval,
    /// The first candle's open time wanted (included).
    pub from_ms: i64,
    /// Candles opening at or after this are not wanted (excluded).
    pub to_ms: i64,
    /// The folder written (created if missing).
    pub out: PathBuf,
}

/// Missing candles: `missing` candles opening from `from_ms` up to, not including, `until_ms`
/// (the next candle the venue has, or the end of the range for a gap at the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub symbol: String,
    pub interval: Interval,
    pub from_ms: i64,
    pub until_ms: i64,
    pub missing: i64,
    /// The venue had nothing more up to the end of the range.
    pub at_end: bool,
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: gap {}..{} ({} candle{}{})",
            self.symbol,
            self.interval,
            short_time(self.from_ms),
            short_time(self.until_ms),
            self.missing,
            if self.missing == 1 { "" } else { "s" },
            if self.at_end {
                ", none since up to the end of the range"
            } else {
                ""
            }
        )
    }
}

/// What happens as the download goes, for the caller to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An existing file is continued after its last row.
    Resumed {
        symbol: String,
        file: PathBuf,
        last_ms: i64,
    },
    /// `candles` were added before the existing file's first row; it now starts at `first_ms`.
    Prepended {
        symbol: String,
        file: PathBuf,
        candles: usize,
        first_ms: i64,
    },
    /// A line cut by an interrupted write was removed from the end of the file.
    DroppedPartialLine { file: PathBuf, bytes: u64 },
    /// The venue's history of the symbol begins after `from`.
    HistoryStarts { symbol: String, first_ms: i64 },
    /// Missing candles at the venue.
    Gap(Gap),
}

/// Why an asset could not be downloaded (entirely).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownloadError {
    /// The venue does not list the asset against the quote.
    NotListed {
        asset: String,
        venue: String,
        symbol: String,
    },
    /// The venue failed (after the source's retries).
    Venue { symbol: String, message: String },
    /// The venue answered something that cannot be stored as it is.
    BadAnswer { symbol: String, message: String },
    /// The existing file cannot be continued.
    BadFile(DataError),
    /// Reading or writing a file failed.
    Io { file: PathBuf, message: String },
    /// The request itself is wrong.
    Request(String),
}

impl DownloadError {
    /// Bad input (the asset, the request, an existing file) rather than a failure of the venue
    /// or the disk.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            Self::NotListed { .. } | Self::BadFile(_) | Self::Request(_)
        )
    }

    fn io(file: &Path, what: &str, e: std::io::Error) -> Self {
        Self::Io {
            file: file.to_path_buf(),
            message: format!("cannot {what}: {e}"),
        }
    }
}

impl fmt::Display for DownloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotListed {
                asset,
                venue,
                symbol,
            } => write!(f, "asset {asset} is not listed on {venue} as {symbol}"),
            Self::Venue { symbol, message } => write!(f, "{symbol}: {message}"),
            Self::BadAnswer { symbol, message } => write!(f, "{symbol}: {message}"),
            Self::BadFile(e) => write!(f, "{e}"),
            Self::Io { file, message } => write!(f, "{}: {message}", file.display()),
            Self::Request(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DownloadError {}

/// One asset's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetReport {
    pub asset: String,
    pub symbol: String,
    pub file: PathBuf,
    /// Candles appended by this run.
    pub written: usize,
    /// The file's first and last open times after this run (`None`: no file).
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    /// Pages asked of the source.
    pub pages: usize,
    pub gaps: Vec<Gap>,
    /// `Err`: the file holds what was written before the failure (valid, and a next run resumes
    /// after it), not the whole range.
    pub outcome: Result<(), DownloadError>,
}

impl AssetReport {
    /// Candles missing at the venue.
    pub fn missing(&self) -> i64 {
        self.gaps.iter().map(|g| g.missing).sum()
    }
}

/// Every asset's outcome, in the order asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadReport {
    pub assets: Vec<AssetReport>,
}

impl DownloadReport {
    pub fn failures(&self) -> impl Iterator<Item = (&AssetReport, &DownloadError)> {
        self.assets
            .iter()
            .filter_map(|a| a.outcome.as_ref().err().map(|e| (a, e)))
    }

    pub fn written(&self) -> usize {
        self.assets.iter().map(|a| a.written).sum()
    }

    pub fn pages(&self) -> usize {
        self.assets.iter().map(|a| a.pages).sum()
    }

    pub fn gaps(&self) -> usize {
        self.assets.iter().map(|a| a.gaps.len()).sum()
    }

    pub fn missing(&self) -> i64 {
        self.assets.iter().map(AssetReport::missing).sum()
    }
}

/// The file of `asset` against `quote` at `interval` in `out`: `BTCUSDT-1h.csv`, whatever the
/// venue calls the pair (`BTC-USDT` on OKX): the layout the loader reads.
pub fn candle_file(out: &Path, asset: &str, quote: &str, interval: Interval) -> PathBuf {
    out.join(format!("{asset}{quote}-{}.csv", interval.name))
}

/// Download `req` from `source`, asset after asset, telling `on_event` what happens. An asset
/// that fails does not stop the others; its error is in its [`AssetReport`]. Only a request that
/// cannot be served at all (an empty asset list, `from >= to`, an output folder that cannot be
/// made) is an `Err`.
pub async fn download<S: CandleSource>(
    source: &S,
    req: &DownloadRequest,
    on_event: &mut (dyn FnMut(&Event) + Send),
) -> Result<DownloadReport, DownloadError> {
    if req.assets.is_empty() {
        return Err(DownloadError::Request("no assets to download".into()));
    }
    if req.from_ms >= req.to_ms {
        return Err(DownloadError::Request(format!(
            "the range is empty: from {} is not before to {}",
            long_time(req.from_ms),
            long_time(req.to_ms)
        )));
    }
    std::fs::create_dir_all(&req.out)
        .map_err(|e| DownloadError::io(&req.out, "create the output folder", e))?;
    let _lock = lock_folder(&req.out)?;
    let now_ms = source.now_ms().await.map_err(|e| DownloadError::Venue {
        symbol: source.venue().to_string(),
        message: match e {
            SourceError::NotListed => "cannot read the venue's time".to_string(),
            SourceError::Failed(m) => format!("cannot read the venue's time: {m}"),
        },
    })?;
    let mut assets = Vec::with_capacity(req.assets.len());
    for asset in &req.assets {
        let symbol = source.symbol(asset, &req.quote);
        let file = candle_file(&req.out, asset, &req.quote, req.interval);
        let mut report = AssetReport {
            asset: asset.clone(),
            symbol,
            file,
            written: 0,
            first_ms: None,
            last_ms: None,
            pages: 0,
            gaps: Vec::new(),
            outcome: Ok(()),
        };
        report.outcome = download_asset(source, req, now_ms, &mut report, on_event).await;
        assets.push(report);
    }
    Ok(DownloadReport { assets })
}

async fn download_asset<S: CandleSource>(
    source: &S,
    req: &DownloadRequest,
    now_ms: i64,
    report: &mut AssetReport,
    on_event: &mut (dyn FnMut(&Event) + Send),
) -> Result<(), DownloadError> {
    let step = req.interval.ms;
    let path = report.file.clone();
    let mut file = CandleFile::open(&path, on_event)?;
    report.first_ms = file.first_ms;
    report.last_ms = file.last_ms;
    let mut pager = Pager {
        source,
        req,
        report,
        on_event,
    };
    // Candles before the file's first row: written with the file's rows to a new file, which
    // then replaces it (an interruption leaves the file as it was).
    if let Some(first) = file.first_ms
        && first > req.from_ms
    {
        let mut part = PartFile::create(&path)?;
        let last = pager
            .fetch(req.from_ms, first, None, Some(first), &mut |c| {
                part.write(c)
            })
            .await?;
        match last {
            Some(_) => {
                let before = pager.report.written;
                part.finish(&file.rows()?)?;
                file = CandleFile::open(&path, pager.on_event)?;
                pager.report.first_ms = file.first_ms;
                (pager.on_event)(&Event::Prepended {
                    symbol: pager.report.symbol.clone(),
                    file: path.clone(),
                    candles: before,
                    first_ms: file.first_ms.unwrap_or(first),
                });
            }
            None if first >= req.from_ms + step => {
                (pager.on_event)(&Event::HistoryStarts {
                    symbol: pager.report.symbol.clone(),
                    first_ms: first,
                });
            }
            None => {}
        }
    }
    if let Some(last) = file.last_ms {
        (pager.on_event)(&Event::Resumed {
            symbol: pager.report.symbol.clone(),
            file: path.clone(),
            last_ms: last,
        });
    }
    // Only closed candles: open + step <= now, so open < now - step + 1.
    let end = req.to_ms.min(now_ms.saturating_sub(step - 1));
    // A file is continued from its last row, even when that is before `from`: the file stays
    // whole, with no hole that is not the venue's.
    let start = file.last_ms.map_or(req.from_ms, |l| l + step);
    pager
        .fetch(start, end, file.last_ms, None, &mut |c| file.append(c))
        .await?;
    Ok(())
}

/// The open times of a stored range: its first and last row.
type Stored = (Option<i64>, Option<i64>);

/// Pages one asset's candles from the source, checking and reporting as it goes.
struct Pager<'a, S> {
    source: &'a S,
    req: &'a DownloadRequest,
    report: &'a mut AssetReport,
    on_event: &'a mut (dyn FnMut(&Event) + Send),
}

impl<S: CandleSource> Pager<'_, S> {
    fn gap(&mut self, from_ms: i64, until_ms: i64, at_end: bool) {
        let step = self.req.interval.ms;
        let gap = Gap {
            symbol: self.report.symbol.clone(),
            interval: self.req.interval,
            from_ms,
            until_ms,
            missing: (until_ms - from_ms + step - 1) / step,
            at_end,
        };
        (self.on_event)(&Event::Gap(gap.clone()));
        self.report.gaps.push(gap);
    }

    /// Page through the candles opening in `[start, end)`, after `prev` (the last candle stored
    /// before them) and before `next` (the first stored after them), handing each page to
    /// `store`, which says what the file now holds. Candles missing between them are reported
    /// as gaps; with no `next`, so are those missing up to `end` when the venue has no more.
    /// Returns the last candle's open time.
    async fn fetch(
        &mut self,
        mut start: i64,
        end: i64,
        mut prev: Option<i64>,
        next: Option<i64>,
        store: &mut dyn FnMut(&[Candle]) -> Result<Stored, DownloadError>,
    ) -> Result<Option<i64>, DownloadError> {
        let step = self.req.interval.ms;
        let symbol = self.report.symbol.clone();
        let limit = self.source.page_limit().max(1);
        let mut fetched = None;
        let mut exhausted = false;
        while start < end {
            let page = self
                .source
                .page(&symbol, self.req.interval, start, end - 1)
                .await
                .map_err(|e| match e {
                    SourceError::NotListed => DownloadError::NotListed {
                        asset: self.report.asset.clone(),
                        venue: self.source.venue().to_string(),
                        symbol: symbol.clone(),
                    },
                    SourceError::Failed(message) => DownloadError::Venue {
                        symbol: symbol.clone(),
                        message,
                    },
                })?;
            self.report.pages += 1;
            let full = page.len() >= limit;
            let mut kept = Vec::with_capacity(page.len());
            for c in page {
                // Outside what was asked (a venue may answer the candle holding `start`).
                if c.open_time_ms < start || c.open_time_ms >= end {
                    continue;
                }
                check_candle(&symbol, &c, prev)?;
                match prev {
                    Some(p) if c.open_time_ms - p > step => {
                        self.gap(p + step, c.open_time_ms, false);
                    }
                    None if c.open_time_ms >= self.req.from_ms + step => {
                        (self.on_event)(&Event::HistoryStarts {
                            symbol: symbol.clone(),
                            first_ms: c.open_time_ms,
                        });
                    }
                    _ => {}
                }
                prev = Some(c.open_time_ms);
                kept.push(c);
            }
            let Some(last) = kept.last().map(|c| c.open_time_ms) else {
                // Nothing (more) in range at the venue.
                exhausted = true;
                break;
            };
            let (first_ms, last_ms) = store(&kept)?;
            self.report.written += kept.len();
            self.report.first_ms = first_ms.or(self.report.first_ms);
            self.report.last_ms = last_ms.or(self.report.last_ms);
            fetched = Some(last);
            start = last + step;
            if !full {
                exhausted = true;
                break;
            }
        }
        match (prev, next) {
            (Some(p), Some(n)) if fetched.is_some() && n - p > step => self.gap(p + step, n, false),
            // The venue has nothing after `p` up to the end of the range.
            (Some(p), None) if exhausted => {
                let missing = (end - 1 - p) / step;
                if missing > 0 {
                    self.gap(p + step, p + (missing + 1) * step, true);
                }
            }
            _ => {}
        }
        Ok(fetched)
    }
}

/// One download at a time writes into a folder: two would append the same candles twice. The
/// lock is the operating system's on a hidden file, so it goes with the process, however it ends.
fn lock_folder(out: &Path) -> Result<File, DownloadError> {
    let path = out.join(LOCK_FILE);
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| DownloadError::io(&path, "open the folder's lock", e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(DownloadError::Io {
            file: out.to_path_buf(),
            message: "another download is writing into this folder; run again when it is done"
                .into(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(DownloadError::io(&path, "lock", e)),
    }
}

/// A candle is stored only if it comes after the last one and its prices are within
/// `core::limits::PRICE` (the loader refuses anything else).
fn check_candle(symbol: &str, c: &Candle, prev: Option<i64>) -> Result<(), DownloadError> {
    let bad = |message: String| DownloadError::BadAnswer {
        symbol: symbol.to_string(),
        message,
    };
    if let Some(p) = prev
        && c.open_time_ms <= p
    {
        return Err(bad(format!(
            "the venue answered a candle at {} after one at {}; candles must come in increasing time order (nothing after {} was written)",
            long_time(c.open_time_ms),
            long_time(p),
            long_time(p)
        )));
    }
    for (name, v) in [
        ("open", c.open),
        ("high", c.high),
        ("low", c.low),
        ("close", c.close),
    ] {
        if !limits::PRICE.contains(v) {
            return Err(bad(format!(
                "the candle at {} has {name} {v}; allowed: {} (nothing from it on was written)",
                long_time(c.open_time_ms),
                limits::PRICE.allowed()
            )));
        }
    }
    if c.volume.is_sign_negative() {
        return Err(bad(format!(
            "the candle at {} has volume {}; allowed: ≥ 0 (nothing from it on was written)",
            long_time(c.open_time_ms),
            c.volume
        )));
    }
    Ok(())
}

/// `2024-01-05T03:00:00Z`, as the candle files write `open_time`.
pub fn long_time(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map_or(ms.to_string(), |t| {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    })
}

/// `2024-01-05T03:00Z`, for gap reports.
fn short_time(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map_or(ms.to_string(), |t| t.format("%Y-%m-%dT%H:%MZ").to_string())
}

/// One line of a candle file, with its newline.
fn candle_line(c: &Candle) -> String {
    format!(
        "{},{},{},{},{},{}\n",
        long_time(c.open_time_ms),
        c.open.normalize(),
        c.high.normalize(),
        c.low.normalize(),
        c.close.normalize(),
        c.volume.normalize()
    )
}

/// A candle file being continued.
struct CandleFile {
    path: PathBuf,
    /// Open for appending once the file exists with its header.
    append: Option<File>,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
}

impl CandleFile {
    /// Open `path` to continue it: check its header, remove a line cut by an interrupted write,
    /// validate its rows as the loader does, and learn its first and last open times.
    fn open(path: &Path, on_event: &mut (dyn FnMut(&Event) + Send)) -> Result<Self, DownloadError> {
        let mut f = match OpenOptions::new().read(true).append(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    path: path.to_path_buf(),
                    append: None,
                    first_ms: None,
                    last_ms: None,
                });
            }
            Err(e) => return Err(DownloadError::io(path, "open", e)),
        };
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)
            .map_err(|e| DownloadError::io(path, "read", e))?;
        if bytes.is_empty() {
            // An empty file: written from scratch (header first).
            return Ok(Self {
                path: path.to_path_buf(),
                append: None,
                first_ms: None,
                last_ms: None,
            });
        }
        let header_end = bytes.iter().position(|&b| b == b'\n');
        let header = String::from_utf8_lossy(&bytes[..header_end.unwrap_or(bytes.len())]);
        if header_end.is_none() || header.trim() != CANDLE_HEADER {
            return Err(DownloadError::BadFile(DataError::new(
                Some(path),
                Some(1),
                format!(
                    "header {:?} is not {CANDLE_HEADER:?}: this file is not a candle file this command wrote; move it away to download into this folder",
                    header.trim()
                ),
            )));
        }
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete < bytes.len() {
            let cut = (bytes.len() - complete) as u64;
            f.set_len(complete as u64)
                .and_then(|_| f.sync_data())
                .map_err(|e| DownloadError::io(path, "remove a partial last line", e))?;
            f.seek(SeekFrom::End(0))
                .map_err(|e| DownloadError::io(path, "seek", e))?;
            on_event(&Event::DroppedPartialLine {
                file: path.to_path_buf(),
                bytes: cut,
            });
        }
        let has_rows = bytes[..complete]
            .split(|&b| b == b'\n')
            .skip(1)
            .any(|l| !l.trim_ascii().is_empty());
        let (first_ms, last_ms) = if has_rows {
            let s = load_asset_file(path).map_err(DownloadError::BadFile)?;
            (s.times.first().copied(), s.times.last().copied())
        } else {
            (None, None)
        };
        Ok(Self {
            path: path.to_path_buf(),
            append: Some(f),
            first_ms,
            last_ms,
        })
    }

    /// Append `candles` as whole lines in one write, flushed to disk. A file that does not exist
    /// yet is written whole to a temporary file and renamed into place. Returns what the file
    /// now holds.
    fn append(&mut self, candles: &[Candle]) -> Result<Stored, DownloadError> {
        let Some((first, last)) = candles.first().zip(candles.last()) else {
            return Ok((self.first_ms, self.last_ms));
        };
        match &mut self.append {
            Some(f) => {
                f.write_all(lines(candles).as_bytes())
                    .and_then(|_| f.sync_data())
                    .map_err(|e| DownloadError::io(&self.path, "append", e))?;
            }
            None => {
                let mut part = PartFile::create(&self.path)?;
                part.write(candles)?;
                part.finish(&[])?;
                let f = OpenOptions::new()
                    .append(true)
                    .open(&self.path)
                    .map_err(|e| DownloadError::io(&self.path, "open for appending", e))?;
                self.append = Some(f);
            }
        }
        self.first_ms.get_or_insert(first.open_time_ms);
        self.last_ms = Some(last.open_time_ms);
        Ok((self.first_ms, self.last_ms))
    }

    /// The file's rows, without the header.
    fn rows(&self) -> Result<Vec<u8>, DownloadError> {
        let bytes =
            std::fs::read(&self.path).map_err(|e| DownloadError::io(&self.path, "read", e))?;
        let body = bytes
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| i + 1);
        Ok(bytes[body..].to_vec())
    }
}

fn lines(candles: &[Candle]) -> String {
    let mut buf = String::with_capacity(candles.len() * 64);
    for c in candles {
        buf.push_str(&candle_line(c));
    }
    buf
}

/// A candle file being written whole beside its place (hidden, and not ending in `.csv`, so the
/// loader never picks it up), then renamed into place. Dropped unfinished, it is removed.
struct PartFile {
    tmp: PathBuf,
    target: PathBuf,
    file: Option<std::io::BufWriter<File>>,
}

impl PartFile {
    /// Start the file with its header.
    fn create(target: &Path) -> Result<Self, DownloadError> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let tmp = target.with_file_name(format!(".{name}.part"));
        let mut f = File::create(&tmp)
            .map(std::io::BufWriter::new)
            .map_err(|e| DownloadError::io(&tmp, "create", e))?;
        f.write_all(format!("{CANDLE_HEADER}\n").as_bytes())
            .map_err(|e| DownloadError::io(&tmp, "write", e))?;
        Ok(Self {
            tmp,
            target: target.to_path_buf(),
            file: Some(f),
        })
    }

    /// Add rows (they reach the disk when the file is finished).
    fn write(&mut self, candles: &[Candle]) -> Result<Stored, DownloadError> {
        if let Some(f) = self.file.as_mut() {
            f.write_all(lines(candles).as_bytes())
                .map_err(|e| DownloadError::io(&self.tmp, "write", e))?;
        }
        Ok((None, None))
    }

    /// Add `tail` (rows as they are), flush the file to disk and rename it into place.
    fn finish(mut self, tail: &[u8]) -> Result<(), DownloadError> {
        let Some(mut f) = self.file.take() else {
            return Ok(());
        };
        let dir = self.target.parent().unwrap_or(Path::new("."));
        let done = (|| -> std::io::Result<()> {
            f.write_all(tail)?;
            f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&self.tmp, &self.target)?;
            // The rename itself is durable once the folder is flushed.
            #[cfg(unix)]
            File::open(dir)?.sync_all()?;
            Ok(())
        })();
        done.map_err(|e| {
            let _ = std::fs::remove_file(&self.tmp);
            DownloadError::io(&self.target, "write", e)
        })
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests;
