//! `OkxHistory` against a loopback mock of OKX's public `history-candles` and `time`, answering
//! as OKX does: newest first, at most 100, between `before` and `after` (both excluded),
//! `51001` for a pair it does not list and `50011` (HTTP 429) when asked too fast. The download
//! runs through `smartfolio_data::download` into a folder the loader reads.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use smartfolio_data::download::{DownloadReport, DownloadRequest, Event, Interval, download};
use smartfolio_data::{LoadOptions, load, parse_time_ms};
use smartfolio_okx::client::{ClientConfig, OkxClient};
use smartfolio_okx::history::{HistoryPolicy, OkxHistory, Sleep, allowed_intervals, bar};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const H: i64 = 3_600_000;

fn t(s: &str) -> i64 {
    parse_time_ms(s).unwrap()
}

/// A candles request as the mock saw it: (instId, bar, after, before, limit).
type Seen = (String, String, i64, i64, usize);

#[derive(Default)]
struct Venue {
    /// instId → the open times it has, oldest first.
    series: HashMap<String, Vec<i64>>,
    /// The candles request (counted from 1) answered 429 `50011`.
    throttle_at: Option<usize>,
    /// Every candles request: (instId, bar, after, before, limit).
    seen: Mutex<Vec<Seen>>,
    clock: Arc<AtomicI64>,
}

impl Venue {
    fn list(&mut self, inst: &str, first: i64, hours: i64, holes: std::ops::Range<i64>) {
        let times = (0..hours)
            .filter(|i| !holes.contains(i))
            .map(|i| first + i * H)
            .collect();
        self.series.insert(inst.to_string(), times);
    }
}

fn envelope(code: &str, msg: &str, data: serde_json::Value) -> String {
    serde_json::json!({"code": code, "msg": msg, "data": data}).to_string()
}

async fn candles(
    State(v): State<Arc<Venue>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let int = |k: &str| q.get(k).and_then(|s| s.parse::<i64>().ok());
    let inst = q.get("instId").cloned().unwrap_or_default();
    let (after, before) = (int("after").unwrap_or(i64::MAX), int("before").unwrap_or(0));
    let limit = int("limit").unwrap_or(100) as usize;
    let n = {
        let mut seen = v.seen.lock().unwrap();
        seen.push((
            inst.clone(),
            q.get("bar").cloned().unwrap_or_default(),
            after,
            before,
            limit,
        ));
        seen.len()
    };
    if v.throttle_at == Some(n) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            envelope("50011", "Too Many Requests", serde_json::json!([])),
        )
            .into_response();
    }
    let Some(times) = v.series.get(&inst) else {
        return envelope(
            "51001",
            "Instrument ID does not exist",
            serde_json::json!([]),
        )
        .into_response();
    };
    let rows: Vec<serde_json::Value> = times
        .iter()
        .rev()
        .filter(|&&ts| ts < after && ts > before)
        .take(limit.min(100))
        .map(|&ts| {
            let p = 40_000 + (ts - t("2024-01-01")) / H;
            serde_json::json!([
                ts.to_string(),
                format!("{p}.1"),
                format!("{}", p + 5),
                format!("{}.5", p - 5),
                format!("{p}.2"),
                "12.5",
                "500000",
                "500000",
                "1"
            ])
        })
        .collect();
    envelope("0", "", serde_json::Value::Array(rows)).into_response()
}

async fn serve(venue: Venue) -> (SocketAddr, Arc<Venue>) {
    let venue = Arc::new(venue);
    let clock = venue.clock.clone();
    let app = axum::Router::new()
        .route(
            "/api/v5/public/time",
            axum::routing::get(move || {
                let now = clock.load(Ordering::SeqCst);
                async move { envelope("0", "", serde_json::json!([{"ts": now.to_string()}])) }
            }),
        )
        .route(
            "/api/v5/market/history-candles",
            axum::routing::get(candles),
        )
        .with_state(venue.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, venue)
}

/// A source on the mock whose clock starts at `now` and moves only when it waits.
fn source(addr: SocketAddr, venue: &Venue, now: i64) -> (OkxHistory, Arc<Mutex<Vec<Duration>>>) {
    let clock = venue.clock.clone();
    clock.store(now, Ordering::SeqCst);
    let waits = Arc::new(Mutex::new(Vec::new()));
    let client = {
        let clock = clock.clone();
        OkxClient::new(
            ClientConfig {
                base_url: format!("http://{addr}"),
                ..ClientConfig::default()
            },
            None,
            Arc::new(move || clock.load(Ordering::SeqCst)),
        )
        .unwrap()
    };
    let sleep: Sleep = {
        let waits = waits.clone();
        Arc::new(move |d: Duration| {
            clock.fetch_add(d.as_millis() as i64, Ordering::SeqCst);
            waits.lock().unwrap().push(d);
            Box::pin(std::future::ready(()))
        })
    };
    (
        OkxHistory::new(client, sleep, HistoryPolicy::default()),
        waits,
    )
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

async fn run(src: &OkxHistory, req: &DownloadRequest) -> (DownloadReport, Vec<String>) {
    let mut events = Vec::new();
    let report = download(src, req, &mut |e: &Event| {
        if let Event::Gap(g) = e {
            events.push(g.to_string());
        }
    })
    .await
    .unwrap();
    (report, events)
}

#[tokio::test]
async fn pages_by_time_window_across_a_long_gap_and_waits_out_a_50011() {
    let mut venue = Venue::default();
    // 2024-01-01 to 2024-01-13 hourly (288 bars); BTC lacks hours 20..150, more than a page.
    venue.list("BTC-USDT", t("2024-01-01"), 288, 20..150);
    venue.list("ETH-USDT", t("2024-01-01"), 288, 0..0);
    venue.throttle_at = Some(2);
    let (addr, venue) = serve(venue).await;
    let (src, waits) = source(addr, &venue, t("2024-02-01"));
    let out = tempfile::tempdir().unwrap();
    let req = request(out.path(), &["BTC", "ETH"], "2024-01-01", "2024-01-13");

    let (report, gaps) = run(&src, &req).await;

    assert!(report.failures().next().is_none(), "{report:?}");
    assert_eq!(
        gaps,
        vec!["BTC-USDT 1h: gap 2024-01-01T20:00Z..2024-01-07T06:00Z (130 candles)"]
    );
    assert_eq!(
        report.assets.iter().map(|a| a.written).collect::<Vec<_>>(),
        vec![288 - 130, 288]
    );
    // Windows of at most the bars still wanted in a page of 100, asked as (after, before) both
    // excluded, on OKX's `1H`. BTC's first page: 20 bars, then 30 after the gap (asked again
    // after the 429), then the 50 still wanted; its second page the last 58.
    let seen = venue.seen.lock().unwrap().clone();
    let from = t("2024-01-01");
    let window = |inst: &str, first: i64, bars: i64| {
        (
            inst.to_string(),
            "1H".to_string(),
            first + (bars - 1) * H + 1,
            first - 1,
            100,
        )
    };
    let tail = |inst: &str, first: i64| {
        let w = window(inst, first, 1);
        (w.0, w.1, t("2024-01-13"), w.3, w.4)
    };
    assert_eq!(
        seen,
        vec![
            window("BTC-USDT", from, 100),
            // The 429, asked again after the wait.
            window("BTC-USDT", from + 100 * H, 80),
            window("BTC-USDT", from + 100 * H, 80),
            window("BTC-USDT", from + 180 * H, 50),
            // The last window ends at the range's end (excluded).
            tail("BTC-USDT", from + 230 * H),
            window("ETH-USDT", from, 100),
            window("ETH-USDT", from + 100 * H, 100),
            tail("ETH-USDT", from + 200 * H),
        ]
    );
    // One more: the clock read from `/api/v5/public/time` first.
    assert_eq!(src.requests(), 9);
    // 50011 gives no wait: a second, then the rest of the client's own 2 s ban, during which
    // the request is held back (not sent, not counted).
    assert_eq!(
        *waits.lock().unwrap(),
        vec![Duration::from_secs(1), Duration::from_secs(1)]
    );

    // The files are the layout the loader reads.
    let btc = std::fs::read_to_string(out.path().join("BTCUSDT-1h.csv")).unwrap();
    let mut lines = btc.lines();
    assert_eq!(lines.next(), Some("open_time,open,high,low,close,volume"));
    assert_eq!(
        lines.next(),
        Some("2024-01-01T00:00:00Z,40000.1,40005,39995.5,40000.2,12.5")
    );
    let table = load(
        out.path(),
        &LoadOptions {
            assets: vec!["BTC".into(), "ETH".into()],
            interval: Some("1h".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(table.times_ms.len(), 288 - 130);

    // A second run has nothing to fetch.
    let before = venue.seen.lock().unwrap().len();
    let (report, _) = run(&src, &req).await;
    assert_eq!(report.assets.iter().map(|a| a.written).sum::<usize>(), 0);
    assert_eq!(venue.seen.lock().unwrap().len(), before);
}

#[tokio::test]
async fn an_unlisted_pair_is_named_and_others_still_download() {
    let mut venue = Venue::default();
    venue.list("ETH-USDT", t("2024-01-01"), 48, 0..0);
    let (addr, venue) = serve(venue).await;
    let (src, _) = source(addr, &venue, t("2024-02-01"));
    let out = tempfile::tempdir().unwrap();
    let req = request(out.path(), &["NOPE", "ETH"], "2024-01-01", "2024-01-03");
    let (report, _) = run(&src, &req).await;
    let failed: Vec<String> = report.failures().map(|(a, _)| a.asset.clone()).collect();
    assert_eq!(failed, vec!["NOPE".to_string()]);
    assert_eq!(report.assets[1].written, 48);
}

#[test]
fn intervals_map_to_okx_bars_in_utc() {
    let b = |s: &str| bar(Interval::parse(s).unwrap());
    assert_eq!(b("1h"), Some("1H"));
    assert_eq!(b("1d"), Some("1Dutc"));
    assert_eq!(b("6h"), Some("6Hutc"));
    assert_eq!(b("1w"), Some("1Wutc"));
    assert_eq!(b("8h"), None);
    assert!(!allowed_intervals().contains("8h"));
    assert!(allowed_intervals().starts_with("1m, 3m"));
}
