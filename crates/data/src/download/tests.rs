use super::*;
use crate::{LoadOptions, load, parse_time_ms};
use std::collections::BTreeSet;
use std::future::ready;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

const H: i64 = HOUR;

fn t(s: &str) -> i64 {
    parse_time_ms(s).unwrap()
}

/// Run a future whose every await is ready at once (the fake source answers synchronously).
fn now<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the fake source never waits"),
    }
}

fn candle(open_time_ms: i64, close: i64) -> Candle {
    let d = Decimal::from;
    Candle {
        open_time_ms,
        open: d(close - 1),
        high: d(close + 2),
        low: d(close - 2),
        close: Decimal::new(close * 100 + 50, 2),
        volume: Decimal::new(12_345, 3),
    }
}

/// Hourly candles from `from` for `n` hours, leaving out the hours in `holes`.
fn series(from: i64, n: i64, holes: &[i64]) -> Vec<Candle> {
    (0..n)
        .filter(|i| !holes.contains(i))
        .map(|i| candle(from + i * H, 100 + i))
        .collect()
}

/// A venue in memory: pages of `limit`, failing every page after `fail_after` pages.
struct Fake {
    candles: Vec<Candle>,
    limit: usize,
    now_ms: i64,
    listed: BTreeSet<String>,
    fail_after: Option<usize>,
    pages: Mutex<usize>,
}

impl Fake {
    fn new(candles: Vec<Candle>, limit: usize) -> Self {
        Self {
            candles,
            limit,
            now_ms: t("2030-01-01"),
            listed: ["BTCUSDT".to_string()].into(),
            fail_after: None,
            pages: Mutex::new(0),
        }
    }
}

impl CandleSource for Fake {
    fn venue(&self) -> &str {
        "fake"
    }
    fn symbol(&self, base: &str, quote: &str) -> String {
        format!("{base}{quote}")
    }
    fn page_limit(&self) -> usize {
        self.limit
    }
    fn now_ms(&self) -> impl Future<Output = Result<i64, SourceError>> + Send {
        ready(Ok(self.now_ms))
    }
    fn page(
        &self,
        symbol: &str,
        _interval: Interval,
        start_ms: i64,
        end_ms: i64,
    ) -> impl Future<Output = Result<Vec<Candle>, SourceError>> + Send {
        if !self.listed.contains(symbol) {
            return ready(Err(SourceError::NotListed));
        }
        let mut pages = self.pages.lock().unwrap();
        if self.fail_after.is_some_and(|n| *pages >= n) {
            return ready(Err(SourceError::Failed("503 Service Unavailable".into())));
        }
        *pages += 1;
        ready(Ok(self
            .candles
            .iter()
            .filter(|c| c.open_time_ms >= start_ms && c.open_time_ms <= end_ms)
            .take(self.limit)
            .cloned()
            .collect()))
    }
}

fn request(out: &Path, assets: &[&str], from: &str, to: &str) -> DownloadRequest {
    DownloadRequest {
        assets: assets.iter().map(|s| s.to_string()).collect(),
        quote: "USDT".into(),
        interval: Interval::parse("1h").unwrap(),
        from_ms: t(from),
        to_ms: t(to),
        out: out.to_path_buf(),
    }
}

fn run(source: &Fake, req: &DownloadRequest) -> (DownloadReport, Vec<Event>) {
    let mut events = Vec::new();
    let report = now(download(source, req, &mut |e: &Event| {
        events.push(e.clone())
    }))
    .unwrap();
    (report, events)
}

fn rows(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn pages_through_the_range_keeps_gaps_and_writes_the_loader_layout() {
    let d = tempfile::tempdir().unwrap();
    // 60 hours with hours 5..=7 missing, pages of 7.
    let src = Fake::new(series(t("2024-01-05"), 60, &[5, 6, 7]), 7);
    let req = request(d.path(), &["BTC"], "2024-01-05", "2024-01-07T12:00:00Z");
    let (report, events) = run(&src, &req);
    let a = &report.assets[0];
    assert_eq!(a.outcome, Ok(()));
    assert_eq!(a.written, 57);
    assert_eq!(a.pages, 57usize.div_ceil(7));
    assert_eq!(a.file, d.path().join("BTCUSDT-1h.csv"));
    let gap = Gap {
        symbol: "BTCUSDT".into(),
        interval: req.interval,
        from_ms: t("2024-01-05T05:00:00Z"),
        until_ms: t("2024-01-05T08:00:00Z"),
        missing: 3,
        at_end: false,
    };
    assert_eq!(a.gaps, vec![gap.clone()]);
    assert_eq!(events, vec![Event::Gap(gap.clone())]);
    assert_eq!(
        gap.to_string(),
        "BTCUSDT 1h: gap 2024-01-05T05:00Z..2024-01-05T08:00Z (3 candles)"
    );
    let lines = rows(&a.file);
    assert_eq!(lines[0], CANDLE_HEADER);
    assert_eq!(lines[1], "2024-01-05T00:00:00Z,99,102,98,100.5,12.345");
    assert_eq!(lines.len(), 58);
    // No temporary file is left (only the folder's lock), and the loader reads the file back.
    let mut names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names, [LOCK_FILE, "BTCUSDT-1h.csv"]);
    let table = load(
        d.path(),
        &LoadOptions {
            assets: vec!["BTC".into()],
            interval: Some("1h".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(table.n_bars(), 57);
    assert_eq!(table.times_ms[5], t("2024-01-05T08:00:00Z"));
    assert_eq!(table.row(0), &[100.5]);
}

#[test]
fn an_interrupted_run_leaves_a_valid_file_and_the_next_run_only_appends() {
    let d = tempfile::tempdir().unwrap();
    let all = series(t("2024-01-01"), 100, &[40, 41]);
    let req = request(d.path(), &["BTC"], "2024-01-01", "2024-01-05T04:00:00Z");

    let mut first = Fake::new(all.clone(), 10);
    first.fail_after = Some(3);
    let (report, _) = run(&first, &req);
    let a = &report.assets[0];
    assert_eq!(
        a.outcome,
        Err(DownloadError::Venue {
            symbol: "BTCUSDT".into(),
            message: "503 Service Unavailable".into()
        })
    );
    assert_eq!(a.written, 30);
    assert_eq!(rows(&a.file).len(), 31);
    assert_eq!(a.last_ms, Some(t("2024-01-02T05:00:00Z")));

    let second = Fake::new(all.clone(), 10);
    let (report, events) = run(&second, &req);
    let b = &report.assets[0];
    assert_eq!(b.outcome, Ok(()));
    assert_eq!(b.written, 68);
    assert_eq!(b.first_ms, Some(t("2024-01-01")));
    assert_eq!(b.last_ms, Some(t("2024-01-05T03:00:00Z")));
    assert_eq!(
        events[0],
        Event::Resumed {
            symbol: "BTCUSDT".into(),
            file: b.file.clone(),
            last_ms: t("2024-01-02T05:00:00Z")
        }
    );
    assert_eq!(b.gaps.len(), 1);

    // Byte for byte what one uninterrupted run writes.
    let fresh = tempfile::tempdir().unwrap();
    run(
        &Fake::new(all, 10),
        &request(fresh.path(), &["BTC"], "2024-01-01", "2024-01-05T04:00:00Z"),
    );
    assert_eq!(
        std::fs::read(&b.file).unwrap(),
        std::fs::read(fresh.path().join("BTCUSDT-1h.csv")).unwrap()
    );

    // A third run finds nothing new and asks only for what is after the file.
    let third = Fake::new(series(t("2024-01-01"), 100, &[40, 41]), 10);
    let (report, _) = run(&third, &req);
    assert_eq!(report.assets[0].written, 0);
    assert_eq!(report.assets[0].pages, 0);
}

#[test]
fn a_line_cut_by_a_crash_is_removed_and_downloaded_again() {
    let d = tempfile::tempdir().unwrap();
    let all = series(t("2024-01-01"), 10, &[]);
    let file = d.path().join("BTCUSDT-1h.csv");
    let whole: String = all[..4].iter().map(candle_line).collect();
    let cut = candle_line(&all[4]);
    std::fs::write(
        &file,
        format!("{CANDLE_HEADER}\n{whole}{}", &cut[..cut.len() / 2]),
    )
    .unwrap();
    let (report, events) = run(
        &Fake::new(all.clone(), 1000),
        &request(d.path(), &["BTC"], "2024-01-01", "2024-01-01T10:00:00Z"),
    );
    assert_eq!(report.assets[0].outcome, Ok(()));
    assert_eq!(report.assets[0].written, 6);
    assert!(
        matches!(events[0], Event::DroppedPartialLine { bytes, .. } if bytes as usize == cut.len() / 2)
    );
    let expected: String = all.iter().map(candle_line).collect();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{CANDLE_HEADER}\n{expected}")
    );
}

#[test]
fn candles_still_forming_are_not_written() {
    let d = tempfile::tempdir().unwrap();
    let mut src = Fake::new(series(t("2024-01-01"), 48, &[]), 1000);
    // 10:30: the 10:00 candle is still open; 09:00 is the last closed one.
    src.now_ms = t("2024-01-01T10:30:00Z");
    let (report, _) = run(
        &src,
        &request(d.path(), &["BTC"], "2024-01-01", "2024-01-03"),
    );
    let a = &report.assets[0];
    assert_eq!(a.written, 10);
    assert_eq!(a.last_ms, Some(t("2024-01-01T09:00:00Z")));
    assert!(a.gaps.is_empty(), "{:?}", a.gaps);
}

#[test]
fn history_starting_late_is_told_and_a_silent_end_is_a_gap() {
    let d = tempfile::tempdir().unwrap();
    // The venue has hours 5 to 19 of the 24 asked.
    let src = Fake::new(series(t("2024-01-01T05:00:00Z"), 15, &[]), 1000);
    let (report, events) = run(
        &src,
        &request(d.path(), &["BTC"], "2024-01-01", "2024-01-02"),
    );
    let a = &report.assets[0];
    assert_eq!(
        events[0],
        Event::HistoryStarts {
            symbol: "BTCUSDT".into(),
            first_ms: t("2024-01-01T05:00:00Z")
        }
    );
    assert_eq!(a.gaps.len(), 1);
    let g = &a.gaps[0];
    assert!(g.at_end);
    assert_eq!(
        (g.from_ms, g.until_ms, g.missing),
        (t("2024-01-01T20:00:00Z"), t("2024-01-02"), 4)
    );
    assert_eq!(report.missing(), 4);
}

#[test]
fn an_asset_not_listed_is_named_and_the_others_still_download() {
    let d = tempfile::tempdir().unwrap();
    let src = Fake::new(series(t("2024-01-01"), 5, &[]), 1000);
    let (report, _) = run(
        &src,
        &request(
            d.path(),
            &["XYZ", "BTC"],
            "2024-01-01",
            "2024-01-01T05:00:00Z",
        ),
    );
    let (a, e) = report.failures().next().unwrap();
    assert_eq!(a.asset, "XYZ");
    assert_eq!(e.to_string(), "asset XYZ is not listed on fake as XYZUSDT");
    assert!(e.is_input());
    assert!(!d.path().join("XYZUSDT-1h.csv").exists());
    assert_eq!(report.assets[1].written, 5);
    assert_eq!(report.failures().count(), 1);
}

#[test]
fn a_file_of_another_layout_is_refused_and_left_alone() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("BTCUSDT-1h.csv");
    std::fs::write(&file, "date,close\n2024-01-01,1\n").unwrap();
    let (report, _) = run(
        &Fake::new(series(t("2024-01-01"), 5, &[]), 1000),
        &request(d.path(), &["BTC"], "2024-01-01", "2024-01-02"),
    );
    let e = report.assets[0].outcome.clone().unwrap_err();
    assert!(e.is_input());
    assert!(e.to_string().contains("header \"date,close\""), "{e}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "date,close\n2024-01-01,1\n"
    );
}

#[test]
fn a_price_the_loader_would_refuse_stops_the_asset_after_what_was_stored() {
    let d = tempfile::tempdir().unwrap();
    let mut all = series(t("2024-01-01"), 10, &[]);
    all[6].close = Decimal::ZERO;
    let (report, _) = run(
        &Fake::new(all, 3),
        &request(d.path(), &["BTC"], "2024-01-01", "2024-01-02"),
    );
    let a = &report.assets[0];
    let e = a.outcome.clone().unwrap_err();
    assert!(
        e.to_string().contains("2024-01-01T06:00:00Z has close 0"),
        "{e}"
    );
    assert_eq!(a.written, 6);
    assert_eq!(rows(&a.file).len(), 7);
}

#[test]
fn requests_that_cannot_be_served_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let src = Fake::new(vec![], 1000);
    let mut events = Vec::new();
    let e = now(download(
        &src,
        &request(d.path(), &["BTC"], "2024-01-02", "2024-01-02"),
        &mut |e: &Event| events.push(e.clone()),
    ))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the range is empty: from 2024-01-02T00:00:00Z is not before to 2024-01-02T00:00:00Z"
    );
    assert!(e.is_input());
}

#[test]
fn candles_before_the_file_are_added_by_rewriting_it_whole() {
    let d = tempfile::tempdir().unwrap();
    let all = series(t("2024-01-01"), 30, &[8, 9]);
    let req = request(
        d.path(),
        &["BTC"],
        "2024-01-01T12:00:00Z",
        "2024-01-02T06:00:00Z",
    );
    let (report, _) = run(&Fake::new(all.clone(), 5), &req);
    assert_eq!(report.assets[0].written, 18);
    let file = report.assets[0].file.clone();

    // Asked from earlier: the venue is cut off while the earlier candles are fetched.
    let earlier = request(d.path(), &["BTC"], "2024-01-01", "2024-01-02T06:00:00Z");
    let mut cut = Fake::new(all.clone(), 5);
    cut.fail_after = Some(1);
    let before = std::fs::read(&file).unwrap();
    let (report, _) = run(&cut, &earlier);
    assert!(report.assets[0].outcome.is_err());
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the file is left as it was"
    );
    assert!(
        !d.path().join(".BTCUSDT-1h.csv.part").exists(),
        "no temporary file is left"
    );

    // Then it answers: the earlier candles come first, the gap before them is told, nothing is
    // fetched twice, and the file is what one run of the whole range writes.
    let (report, events) = run(&Fake::new(all.clone(), 5), &earlier);
    let a = &report.assets[0];
    assert_eq!(a.outcome, Ok(()));
    assert_eq!(a.written, 10);
    assert_eq!(a.first_ms, Some(t("2024-01-01")));
    assert_eq!(
        a.gaps
            .iter()
            .map(|g| (g.from_ms, g.missing))
            .collect::<Vec<_>>(),
        vec![(t("2024-01-01T08:00:00Z"), 2)]
    );
    assert_eq!(events[0], Event::Gap(a.gaps[0].clone()));
    assert_eq!(
        events[1],
        Event::Prepended {
            symbol: "BTCUSDT".into(),
            file: file.clone(),
            candles: 10,
            first_ms: t("2024-01-01")
        }
    );
    let fresh = tempfile::tempdir().unwrap();
    run(
        &Fake::new(all, 5),
        &request(fresh.path(), &["BTC"], "2024-01-01", "2024-01-02T06:00:00Z"),
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        std::fs::read(fresh.path().join("BTCUSDT-1h.csv")).unwrap()
    );
}

#[test]
fn a_file_ending_before_from_is_continued_from_its_end_without_a_hole() {
    let d = tempfile::tempdir().unwrap();
    let all = series(t("2024-01-01"), 48, &[]);
    run(
        &Fake::new(all.clone(), 1000),
        &request(d.path(), &["BTC"], "2024-01-01", "2024-01-01T06:00:00Z"),
    );
    let (report, _) = run(
        &Fake::new(all, 1000),
        &request(d.path(), &["BTC"], "2024-01-02", "2024-01-02T06:00:00Z"),
    );
    let a = &report.assets[0];
    assert_eq!(a.written, 24);
    assert!(a.gaps.is_empty(), "{:?}", a.gaps);
    assert_eq!(rows(&a.file).len(), 31);
}

#[test]
fn a_second_download_into_the_same_folder_is_refused_while_one_runs() {
    let d = tempfile::tempdir().unwrap();
    let held = lock_folder(d.path()).unwrap();
    let src = Fake::new(series(t("2024-01-01"), 5, &[]), 1000);
    let req = request(d.path(), &["BTC"], "2024-01-01", "2024-01-02");
    let e = now(download(&src, &req, &mut |_: &Event| {})).unwrap_err();
    assert!(
        e.to_string()
            .contains("another download is writing into this folder"),
        "{e}"
    );
    assert_eq!(*src.pages.lock().unwrap(), 0);
    drop(held);
    let (report, _) = run(&src, &req);
    assert_eq!(report.assets[0].written, 5);
}

#[test]
fn intervals_parse_and_list_what_is_allowed() {
    assert_eq!(Interval::parse("4h").unwrap().ms(), 4 * H);
    assert_eq!(Interval::parse("1w").unwrap().ms(), 7 * DAY);
    for bad in ["1M", "2d", "h", "", "1s"] {
        assert_eq!(Interval::parse(bad), None, "{bad}");
    }
    assert!(Interval::allowed().starts_with("1m, 3m, 5m"));
    assert_eq!(
        Interval::allowed_where(|i| i.ms() >= DAY && i.name() != "3d"),
        "1d, 1w"
    );
}

/// A venue that answers by window: the candles of `have` in `[from, last]`, counting windows.
fn windows_of(
    have: &[Candle],
    start: i64,
    end: i64,
    limit: usize,
) -> (Vec<Candle>, Vec<(i64, i64)>) {
    let asked = Mutex::new(Vec::new());
    let page = now(page_by_windows(
        Interval::parse("1h").unwrap(),
        start,
        end,
        limit,
        |from, last| {
            asked.lock().unwrap().push((from, last));
            // A venue may answer a candle outside the window (the one holding `from`).
            ready(Ok(have
                .iter()
                .filter(|c| c.open_time_ms >= from - H && c.open_time_ms <= last)
                .cloned()
                .collect()))
        },
    ))
    .unwrap();
    (page, asked.into_inner().unwrap())
}

#[test]
fn a_page_by_windows_fills_up_across_gaps_and_stops_at_the_end() {
    let jan1 = t("2024-01-01");
    // Hours 0..10 and 30..50: a 20-hour gap.
    let mut have = series(jan1, 10, &[]);
    have.extend(series(jan1 + 30 * H, 20, &[]));
    let (page, asked) = windows_of(&have, jan1, jan1 + 99 * H, 15);
    let times: Vec<i64> = page.iter().map(|c| (c.open_time_ms - jan1) / H).collect();
    assert_eq!(times, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 30, 31, 32, 33, 34]);
    // 15 hours, then the 5 still wanted (empty), again 5 (empty), then 5 from hour 30.
    let hours = |(f, l): (i64, i64)| ((f - jan1) / H, (l - jan1) / H);
    assert_eq!(
        asked.into_iter().map(hours).collect::<Vec<_>>(),
        [(0, 14), (15, 19), (20, 24), (25, 29), (30, 34)]
    );
    // The end of the range stops it, short of the limit: a short page is the last.
    let (page, asked) = windows_of(&have, jan1 + 40 * H, jan1 + 44 * H, 15);
    assert_eq!(page.len(), 5);
    assert_eq!(asked.len(), 1);
    // A range with nothing: every window asked once, an empty page.
    let (page, asked) = windows_of(&have, jan1 + 60 * H, jan1 + 89 * H, 10);
    assert!(page.is_empty());
    assert_eq!(asked.len(), 3);
}
