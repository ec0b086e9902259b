//! Candle history downloads (`smartfolio_data::download` over `history::BinanceHistory`) against
//! a loopback mock of `GET /api/v3/klines` that follows Binance's rules: `startTime`/`endTime`
//! both included, at most `limit` (≤ 1000) klines, 12-element arrays with prices as strings,
//! `-1121 Invalid symbol.` for a symbol it does not list, `X-MBX-USED-WEIGHT-1M`. It can answer
//! one 429 with `Retry-After`, and stop answering (503) after N pages. Waits go through a fake
//! clock: no test sleeps.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use smartfolio_binance::client::{BinanceClient, ClientConfig};
use smartfolio_binance::history::{BinanceHistory, HistoryPolicy, Sleep};
use smartfolio_data::download::{
    DownloadError, DownloadReport, DownloadRequest, Event, Interval, download,
};
use smartfolio_data::{LoadOptions, load, parse_time_ms};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const H: i64 = 3_600_000;

fn t(s: &str) -> i64 {
    parse_time_ms(s).unwrap()
}

/// One kline as Binance sends it.
fn kline(open: i64, i: i64) -> serde_json::Value {
    let close = 42_000 + (i * 37) % 900;
    serde_json::json!([
        open,
        format!("{}.{:02}000000", close - 10, i % 100),
        format!("{}.00000000", close + 25),
        format!("{}.50000000", close - 30),
        format!("{close}.{:02}000000", (i * 7) % 100),
        format!("{}.{:05}000", 1000 + i % 300, i % 99_999),
        open + H - 1,
        "53957248.97378950",
        47134,
        "682.57581000",
        "28957416.81969510",
        "0"
    ])
}

#[derive(Default)]
struct Venue {
    /// Symbol → open time → kline.
    klines: BTreeMap<String, BTreeMap<i64, serde_json::Value>>,
    /// Answer 429 with `Retry-After: 1` to the request of this number (1-based), once.
    throttle_at: Option<usize>,
    /// Answer 503 to every klines request after this many pages were served.
    stop_after: Option<usize>,
    requests: AtomicUsize,
    served: AtomicUsize,
    /// The venue's clock (epoch ms), shared with the client's local clock: it moves only when
    /// the source waits.
    clock: Arc<AtomicI64>,
    /// `(symbol, startTime, endTime, limit)` of every request.
    seen: Mutex<Vec<(String, i64, i64, i64)>>,
}

impl Venue {
    /// Hourly klines of `symbol` for `hours` hours from `from`, leaving out the hours in `holes`.
    fn list(&mut self, symbol: &str, from: i64, hours: i64, holes: &[i64]) {
        let series = (0..hours)
            .filter(|i| !holes.contains(i))
            .map(|i| (from + i * H, kline(from + i * H, i)))
            .collect();
        self.klines.insert(symbol.to_string(), series);
    }
}

async fn klines(State(v): State<Arc<Venue>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let n = v.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let int = |k: &str| q.get(k).and_then(|s| s.parse::<i64>().ok());
    let symbol = q.get("symbol").cloned().unwrap_or_default();
    let (start, end, limit) = (
        int("startTime").unwrap_or(0),
        int("endTime").unwrap_or(i64::MAX),
        int("limit").unwrap_or(500),
    );
    v.seen
        .lock()
        .unwrap()
        .push((symbol.clone(), start, end, limit));
    let weight = [("x-mbx-used-weight-1m", (2 * n).to_string())];
    if v.throttle_at == Some(n) {
        let body = r#"{"code":-1003,"msg":"Too many requests; current limit of IP is 6000 requests per minute."}"#;
        let mut r = (StatusCode::TOO_MANY_REQUESTS, weight, body).into_response();
        r.headers_mut().insert("retry-after", "1".parse().unwrap());
        return r;
    }
    if v.stop_after
        .is_some_and(|s| v.served.load(Ordering::SeqCst) >= s)
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "<html>503 Service Unavailable</html>",
        )
            .into_response();
    }
    if q.get("interval").map(String::as_str) != Some("1h") || !(1..=1000).contains(&limit) {
        return (
            StatusCode::BAD_REQUEST,
            r#"{"code":-1100,"msg":"Illegal characters found in parameter."}"#,
        )
            .into_response();
    }
    let Some(series) = v.klines.get(&symbol) else {
        return (
            StatusCode::BAD_REQUEST,
            weight,
            r#"{"code":-1121,"msg":"Invalid symbol."}"#,
        )
            .into_response();
    };
    v.served.fetch_add(1, Ordering::SeqCst);
    let page: Vec<&serde_json::Value> = series
        .range(start..=end)
        .take(limit as usize)
        .map(|(_, k)| k)
        .collect();
    (
        StatusCode::OK,
        weight,
        [("content-type", "application/json")],
        serde_json::to_string(&page).unwrap(),
    )
        .into_response()
}

async fn time(State(v): State<Arc<Venue>>) -> Response {
    let now = v.clock.load(Ordering::SeqCst);
    (
        [("content-type", "application/json")],
        format!("{{\"serverTime\":{now}}}"),
    )
        .into_response()
}

async fn serve(venue: Venue) -> (SocketAddr, Arc<Venue>) {
    let venue = Arc::new(venue);
    let app = axum::Router::new()
        .route("/api/v3/klines", axum::routing::get(klines))
        .route("/api/v3/time", axum::routing::get(time))
        .with_state(venue.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, venue)
}

/// A source on the mock whose clock starts at `now` and moves only when it waits.
struct Source {
    history: BinanceHistory,
    waits: Arc<Mutex<Vec<Duration>>>,
}

fn source(addr: SocketAddr, venue: &Venue, now: i64) -> Source {
    let clock = venue.clock.clone();
    clock.store(now, Ordering::SeqCst);
    let waits = Arc::new(Mutex::new(Vec::new()));
    let client = {
        let clock = clock.clone();
        BinanceClient::new(
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
    Source {
        history: BinanceHistory::new(client, sleep, HistoryPolicy::default()),
        waits,
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

async fn run(src: &Source, req: &DownloadRequest) -> (DownloadReport, Vec<String>) {
    let mut events = Vec::new();
    let report = download(&src.history, req, &mut |e: &Event| {
        if let Event::Gap(g) = e {
            events.push(g.to_string());
        }
    })
    .await
    .unwrap();
    (report, events)
}

fn hourly(dir: &Path, assets: &[&str]) -> smartfolio_data::PriceTable {
    load(
        dir,
        &LoadOptions {
            assets: assets.iter().map(|s| s.to_string()).collect(),
            interval: Some("1h".into()),
            ..Default::default()
        },
    )
    .unwrap()
}

#[tokio::test]
async fn pages_by_start_time_keeps_the_gap_and_waits_out_a_429() {
    let mut venue = Venue::default();
    // January and February 2024: 1440 hours; BTC lacks 2024-01-05T03:00..06:00.
    venue.list(
        "BTCUSDT",
        t("2023-12-01"),
        24 * 120,
        &[24 * 31 + 99, 24 * 31 + 100, 24 * 31 + 101],
    );
    venue.list("ETHUSDT", t("2023-12-01"), 24 * 120, &[]);
    venue.throttle_at = Some(2);
    let (addr, venue) = serve(venue).await;
    let src = source(addr, &venue, t("2024-06-01"));
    let out = tempfile::tempdir().unwrap();
    let req = request(out.path(), &["BTC", "ETH"], "2024-01-01", "2024-03-01");

    let (report, gaps) = run(&src, &req).await;

    assert!(report.failures().next().is_none(), "{report:?}");
    assert_eq!(
        gaps,
        vec!["BTCUSDT 1h: gap 2024-01-05T03:00Z..2024-01-05T06:00Z (3 candles)"]
    );
    assert_eq!(report.missing(), 3);
    assert_eq!(
        report.assets.iter().map(|a| a.written).collect::<Vec<_>>(),
        vec![1437, 1440]
    );
    // Two pages per asset, the second from the hour after the first's last; the 429 asked again
    // once, after the fake clock waited its Retry-After.
    let seen = venue.seen.lock().unwrap().clone();
    let end = t("2024-03-01") - 1;
    let btc_second = t("2024-01-01") + 1003 * H;
    assert_eq!(
        seen,
        vec![
            ("BTCUSDT".into(), t("2024-01-01"), end, 1000),
            ("BTCUSDT".into(), btc_second, end, 1000),
            ("BTCUSDT".into(), btc_second, end, 1000),
            ("ETHUSDT".into(), t("2024-01-01"), end, 1000),
            ("ETHUSDT".into(), t("2024-01-01") + 1000 * H, end, 1000),
        ]
    );
    // One more: the clock read from `/api/v3/time` first.
    assert_eq!(src.history.requests(), 6);
    assert_eq!(*src.waits.lock().unwrap(), vec![Duration::from_secs(1)]);

    // The files are the layout the loader reads, with Binance's strings trimmed of zeros.
    let btc = std::fs::read_to_string(out.path().join("BTCUSDT-1h.csv")).unwrap();
    let mut lines = btc.lines();
    assert_eq!(lines.next(), Some("open_time,open,high,low,close,volume"));
    assert_eq!(
        lines.next(),
        Some("2024-01-01T00:00:00Z,42518.44,42553,42498.5,42528.08,1144.00744")
    );
    let table = hourly(out.path(), &["BTC", "ETH"]);
    assert_eq!(table.n_bars(), 1437);
    assert_eq!(table.times_ms[0], t("2024-01-01"));
    assert_eq!(*table.times_ms.last().unwrap(), t("2024-02-29T23:00:00Z"));
}

#[tokio::test]
async fn a_run_cut_off_by_the_venue_is_resumed_without_duplicates() {
    let mut venue = Venue::default();
    venue.list("BTCUSDT", t("2024-01-01"), 2500, &[1500]);
    venue.stop_after = Some(1);
    let (addr, first) = serve(venue).await;
    let out = tempfile::tempdir().unwrap();
    let req = request(out.path(), &["BTC"], "2024-01-01", "2024-04-01");

    let src = source(addr, &first, t("2024-06-01"));
    let (report, _) = run(&src, &req).await;
    let a = &report.assets[0];
    match &a.outcome {
        Err(DownloadError::Venue { message, .. }) => {
            assert!(message.contains("503"), "{message}");
            assert!(message.contains("after 4 retries"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(a.written, 1000);
    // The pauses between the retries doubled, on the fake clock.
    let secs: Vec<u64> = src
        .waits
        .lock()
        .unwrap()
        .iter()
        .map(Duration::as_secs)
        .collect();
    assert_eq!(secs, vec![1, 2, 4, 8]);
    // What was written is a valid file on its own.
    assert_eq!(hourly(out.path(), &["BTC"]).n_bars(), 1000);

    // The venue answers again: the second run starts after the file's last row.
    let mut venue = Venue::default();
    venue.list("BTCUSDT", t("2024-01-01"), 2500, &[1500]);
    let (addr, second) = serve(venue).await;
    let src = source(addr, &second, t("2024-06-01"));
    let (report, gaps) = run(&src, &req).await;
    let b = &report.assets[0];
    assert_eq!(b.outcome, Ok(()));
    assert_eq!(b.written, 2184 - 1 - 1000);
    assert_eq!(
        gaps,
        vec!["BTCUSDT 1h: gap 2024-03-03T12:00Z..2024-03-03T13:00Z (1 candle)"]
    );
    assert_eq!(second.seen.lock().unwrap()[0].1, t("2024-01-01") + 1000 * H);
    assert_eq!(first.requests.load(Ordering::SeqCst), 6);

    let table = hourly(out.path(), &["BTC"]);
    assert_eq!(table.n_bars(), 2183);
    assert!(table.times_ms.windows(2).all(|w| w[1] > w[0]));
}

#[tokio::test]
async fn an_asset_binance_does_not_list_is_named_with_its_symbol() {
    let mut venue = Venue::default();
    venue.list("BTCUSDT", t("2024-01-01"), 24, &[]);
    let (addr, venue) = serve(venue).await;
    let src = source(addr, &venue, t("2024-06-01"));
    let out = tempfile::tempdir().unwrap();
    let (report, _) = run(
        &src,
        &request(out.path(), &["XYZ", "BTC"], "2024-01-01", "2024-01-02"),
    )
    .await;
    let (a, e) = report.failures().next().unwrap();
    assert_eq!(a.asset, "XYZ");
    assert_eq!(
        e.to_string(),
        "asset XYZ is not listed on binance as XYZUSDT"
    );
    assert!(e.is_input());
    assert_eq!(report.assets[1].written, 24);
    assert!(src.waits.lock().unwrap().is_empty());
}

#[tokio::test]
async fn one_year_of_hourly_klines_takes_nine_pages() {
    let mut venue = Venue::default();
    venue.list("BTCUSDT", t("2024-01-01"), 366 * 24, &[]);
    let (addr, venue) = serve(venue).await;
    let src = source(addr, &venue, t("2025-06-01"));
    let out = tempfile::tempdir().unwrap();
    let (report, gaps) = run(
        &src,
        &request(out.path(), &["BTC"], "2024-01-01", "2025-01-01"),
    )
    .await;
    assert!(gaps.is_empty());
    assert_eq!(report.assets[0].written, 8784);
    assert_eq!(venue.requests.load(Ordering::SeqCst), 9);
    assert_eq!(hourly(out.path(), &["BTC"]).n_bars(), 8784);
}
