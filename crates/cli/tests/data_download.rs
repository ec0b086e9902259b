//! `smartfolio data download` against a loopback mock of Binance's public klines and time,
//! found through `SMARTFOLIO_VENUE_URL`: the files written, the gap printed, a second run that
//! only resumes, `backtest` reading the folder, and bad input exiting 2 with the value named.
//! OKX and Gate answer the same candles in their own words and write the same files; Gate's
//! download is also run against `smartfolio sim --venue gate`, over more than one page.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const H: i64 = 3_600_000;
/// 2024-01-01T00:00:00Z.
const JAN1: i64 = 1_704_067_200_000;

/// BTCUSDT and ETHUSDT hourly for 2024-01-01 and 2024-01-02; BTC lacks 05:00 and 06:00 of
/// January 1st. Anything else is `-1121`.
async fn klines(counter: Arc<AtomicUsize>, q: HashMap<String, String>) -> axum::response::Response {
    counter.fetch_add(1, Ordering::SeqCst);
    let int = |k: &str| q.get(k).and_then(|s| s.parse::<i64>().ok());
    let symbol = q.get("symbol").map(String::as_str).unwrap_or("");
    let holes: &[i64] = match symbol {
        "BTCUSDT" => &[5, 6],
        "ETHUSDT" => &[],
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                r#"{"code":-1121,"msg":"Invalid symbol."}"#,
            )
                .into_response();
        }
    };
    let (start, end, limit) = (
        int("startTime").unwrap_or(0),
        int("endTime").unwrap_or(i64::MAX),
        int("limit").unwrap_or(500) as usize,
    );
    let rows: Vec<serde_json::Value> = (0..48)
        .filter(|i| !holes.contains(i))
        .map(|i| (JAN1 + i * H, i))
        .filter(|(t, _)| *t >= start && *t <= end)
        .take(limit)
        .map(|(t, i)| {
            let p = 42_000 + i;
            serde_json::json!([
                t,
                format!("{p}.10"),
                format!("{}.00", p + 5),
                format!("{}.5", p - 5),
                format!("{p}.20000000"),
                "12.5",
                t + H - 1,
                "1",
                10,
                "1",
                "1",
                "0"
            ])
        })
        .collect();
    (
        [("content-type", "application/json")],
        serde_json::to_string(&rows).unwrap(),
    )
        .into_response()
}

/// The same candles as OKX's `history-candles` answers them: newest first, between `before` and
/// `after` (both excluded), every value a string, `51001` for an unknown pair.
async fn okx_candles(q: HashMap<String, String>) -> axum::response::Response {
    let int = |k: &str| q.get(k).and_then(|s| s.parse::<i64>().ok());
    let holes: &[i64] = match q.get("instId").map(String::as_str).unwrap_or("") {
        "BTC-USDT" => &[5, 6],
        "ETH-USDT" => &[],
        _ => {
            return (
                [("content-type", "application/json")],
                r#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#,
            )
                .into_response();
        }
    };
    let (after, before) = (int("after").unwrap_or(i64::MAX), int("before").unwrap_or(0));
    let limit = int("limit").unwrap_or(100).min(100) as usize;
    let rows: Vec<serde_json::Value> = (0..48)
        .rev()
        .filter(|i| !holes.contains(i))
        .map(|i| (JAN1 + i * H, i))
        .filter(|(t, _)| *t < after && *t > before)
        .take(limit)
        .map(|(t, i)| {
            let p = 42_000 + i;
            serde_json::json!([
                t.to_string(),
                format!("{p}.10"),
                format!("{}.00", p + 5),
                format!("{}.5", p - 5),
                format!("{p}.20000000"),
                "12.5",
                "525000",
                "525000",
                "1"
            ])
        })
        .collect();
    (
        [("content-type", "application/json")],
        serde_json::json!({"code": "0", "msg": "", "data": rows}).to_string(),
    )
        .into_response()
}

/// The same candles as Gate's `spot/candlesticks` answers them: oldest first, `from` and `to`
/// in seconds (both included), at most 1000 points, every value a string,
/// `INVALID_CURRENCY_PAIR` for an unknown pair.
async fn gate_candles(q: HashMap<String, String>) -> axum::response::Response {
    let int = |k: &str| q.get(k).and_then(|s| s.parse::<i64>().ok());
    let holes: &[i64] = match q.get("currency_pair").map(String::as_str).unwrap_or("") {
        "BTC_USDT" => &[5, 6],
        "ETH_USDT" => &[],
        pair => {
            return (
                StatusCode::BAD_REQUEST,
                [("content-type", "application/json")],
                format!(
                    r#"{{"label":"INVALID_CURRENCY_PAIR","message":"Invalid currency pair {pair}"}}"#
                ),
            )
                .into_response();
        }
    };
    let (from, to) = (int("from").unwrap_or(0), int("to").unwrap_or(i64::MAX));
    let rows: Vec<serde_json::Value> = (0..48)
        .filter(|i| !holes.contains(i))
        .map(|i| (JAN1 + i * H, i))
        .filter(|(t, _)| t / 1_000 >= from && t / 1_000 <= to)
        .take(1_000)
        .map(|(t, i)| {
            let p = 42_000 + i;
            serde_json::json!([
                (t / 1_000).to_string(),
                "525000",
                format!("{p}.20000000"),
                format!("{}.00", p + 5),
                format!("{}.5", p - 5),
                format!("{p}.10"),
                "12.5",
                "true"
            ])
        })
        .collect();
    (
        [("content-type", "application/json")],
        serde_json::Value::Array(rows).to_string(),
    )
        .into_response()
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

struct Mock {
    rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    klines: Arc<AtomicUsize>,
}

fn mock() -> Mock {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let app = axum::Router::new()
        .route(
            "/api/v3/klines",
            axum::routing::get(move |Query(q): Query<HashMap<String, String>>| {
                klines(c.clone(), q)
            }),
        )
        .route(
            "/api/v3/time",
            axum::routing::get(|| async {
                (
                    [("content-type", "application/json")],
                    format!("{{\"serverTime\":{}}}", now_ms()),
                )
            }),
        )
        .route(
            "/api/v5/market/history-candles",
            axum::routing::get(|Query(q): Query<HashMap<String, String>>| okx_candles(q)),
        )
        .route(
            "/api/v4/spot/candlesticks",
            axum::routing::get(|Query(q): Query<HashMap<String, String>>| gate_candles(q)),
        )
        .route(
            "/api/v4/spot/time",
            axum::routing::get(|| async {
                (
                    [("content-type", "application/json")],
                    format!("{{\"server_time\":{}}}", now_ms()),
                )
            }),
        )
        .route(
            "/api/v5/public/time",
            axum::routing::get(|| async {
                (
                    [("content-type", "application/json")],
                    format!(
                        "{{\"code\":\"0\",\"msg\":\"\",\"data\":[{{\"ts\":\"{}\"}}]}}",
                        now_ms()
                    ),
                )
            }),
        );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    Mock {
        rt,
        addr,
        klines: counter,
    }
}

fn smartfolio(args: &[&str], url: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smartfolio"));
    c.args(args).env_remove("SMARTFOLIO_VENUE_URL");
    if let Some(u) = url {
        c.env("SMARTFOLIO_VENUE_URL", u);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

#[test]
fn downloads_reports_the_gap_resumes_and_backtest_reads_the_folder() {
    let m = mock();
    let url = format!("http://{}", m.addr);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let args = [
        "data",
        "download",
        "--venue",
        "binance",
        "--assets",
        "BTC,ETH",
        "--interval",
        "1h",
        "--from",
        "2024-01-01",
        "--to",
        "2024-01-03",
        "--out",
        dir,
    ];
    let o = smartfolio(&args, Some(&url));
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("BTCUSDT 1h: gap 2024-01-01T05:00Z..2024-01-01T07:00Z (2 candles)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 of 2 assets complete: 94 candles written in 3 requests; 1 gap, 2 candles missing at the venue"),
        "{stdout}"
    );
    let btc = std::fs::read_to_string(out.path().join("BTCUSDT-1h.csv")).unwrap();
    assert!(
        btc.starts_with(
            "open_time,open,high,low,close,volume\n2024-01-01T00:00:00Z,42000.1,42005,41995.5,42000.2,12.5\n"
        ),
        "{btc}"
    );
    assert_eq!(btc.lines().count(), 47);
    assert_eq!(m.klines.load(Ordering::SeqCst), 2);

    // A second run has nothing to fetch: no klines request, nothing appended.
    let o = smartfolio(&args, Some(&url));
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("resuming"), "{stdout}");
    assert!(
        stdout.contains("0 candles written in 1 request;"),
        "{stdout}"
    );
    assert_eq!(m.klines.load(Ordering::SeqCst), 2);
    assert_eq!(
        std::fs::read_to_string(out.path().join("BTCUSDT-1h.csv")).unwrap(),
        btc
    );

    // backtest reads the folder.
    let o = smartfolio(
        &[
            "backtest",
            "--data",
            dir,
            "--assets",
            "BTC,ETH",
            "--targets",
            "50,50",
        ],
        None,
    );
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("2024-01-02T23:00:00Z"), "{stdout}");
    drop(m.rt);
}

#[test]
fn okx_and_gate_write_the_same_files_as_binance() {
    let m = mock();
    let url = format!("http://{}", m.addr);
    let (binance, okx, gate) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    for (venue, dir) in [("binance", &binance), ("okx", &okx), ("gate", &gate)] {
        let o = smartfolio(
            &[
                "data",
                "download",
                "--venue",
                venue,
                "--assets",
                "BTC,ETH",
                "--interval",
                "1h",
                "--from",
                "2024-01-01",
                "--to",
                "2024-01-03",
                "--out",
                dir.path().to_str().unwrap(),
            ],
            Some(&url),
        );
        let (stdout, stderr) = text(&o);
        assert!(o.status.success(), "{venue}: {stdout}\n{stderr}");
        if venue == "okx" {
            assert!(
                stdout
                    .contains("BTC-USDT 1h: gap 2024-01-01T05:00Z..2024-01-01T07:00Z (2 candles)"),
                "{stdout}"
            );
            // The clock, then BTC's window of 48 bars (46 there) and ETH's (48 there).
            assert!(
                stdout.contains("2 of 2 assets complete: 94 candles written in 3 requests; 1 gap, 2 candles missing at the venue"),
                "{stdout}"
            );
        }
        if venue == "gate" {
            assert!(
                stdout
                    .contains("BTC_USDT 1h: gap 2024-01-01T05:00Z..2024-01-01T07:00Z (2 candles)"),
                "{stdout}"
            );
            // The clock, then one window of up to 1000 candles for each.
            assert!(
                stdout.contains("2 of 2 assets complete: 94 candles written in 3 requests; 1 gap, 2 candles missing at the venue"),
                "{stdout}"
            );
        }
    }
    for file in ["BTCUSDT-1h.csv", "ETHUSDT-1h.csv"] {
        let b = std::fs::read_to_string(binance.path().join(file)).unwrap();
        let o = std::fs::read_to_string(okx.path().join(file)).unwrap();
        let g = std::fs::read_to_string(gate.path().join(file)).unwrap();
        assert_eq!(o, b, "okx {file}");
        assert_eq!(g, b, "gate {file}");
    }
    drop(m.rt);
}

#[test]
fn bad_input_exits_2_naming_the_flag_and_the_value() {
    let m = mock();
    let url = format!("http://{}", m.addr);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    // The flags of a good request, with `extra`'s replacing those of the same name.
    let base = |extra: &[&str]| {
        let mut flags = vec![
            ("--assets", "BTC"),
            ("--from", "2024-01-01"),
            ("--to", "2024-01-02"),
            ("--out", dir),
        ];
        for pair in extra.chunks(2) {
            flags.retain(|(k, _)| *k != pair[0]);
            flags.push((pair[0], pair[1]));
        }
        let mut a = vec!["data".to_string(), "download".to_string()];
        for (k, v) in flags {
            a.push(k.to_string());
            a.push(v.to_string());
        }
        a
    };
    for (extra, needle) in [
        (
            vec!["--venue", "kraken"],
            "--venue \"kraken\" is not a venue; allowed: binance, okx, gate",
        ),
        (
            vec!["--venue", "gate", "--interval", "3m"],
            "--interval \"3m\": gate has no such candles; allowed: 1m, 5m, 15m, 30m, 1h, 4h, 8h, 1d",
        ),
        (
            vec!["--venue", "gate", "--assets", "XYZ"],
            "asset XYZ is not listed on gate as XYZ_USDT",
        ),
        (
            vec!["--quote", "USDC"],
            "--quote \"USDC\": backtest, allocate and replays read only <ASSET>USDT-<interval>.csv files; allowed: USDT",
        ),
        (
            vec!["--venue", "okx", "--interval", "8h"],
            "--interval \"8h\": okx has no such candles; allowed: 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 12h, 1d, 3d, 1w",
        ),
        (
            vec!["--venue", "okx", "--assets", "XYZ"],
            "asset XYZ is not listed on okx as XYZ-USDT",
        ),
        (
            vec!["--interval", "2d"],
            "--interval \"2d\" is not a candle interval; allowed: 1m,",
        ),
        (
            vec!["--from", "2024-02-30"],
            "--from \"2024-02-30\" is not a time",
        ),
        (
            vec!["--to", "2023-12-01"],
            "--from \"2024-01-01\" is not before --to 2023-12-01",
        ),
        (
            vec!["--assets", "XYZ"],
            "asset XYZ is not listed on binance as XYZUSDT",
        ),
        (
            vec!["--base-url", "localhost"],
            "--base-url \"localhost\" is not a URL",
        ),
    ] {
        let args = base(&extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = smartfolio(&args, Some(&url));
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {stdout}\n{stderr}");
        assert!(stderr.contains(needle), "{extra:?}: {stderr}");
    }
    assert!(!out.path().join("XYZUSDT-1h.csv").exists());
}

/// `smartfolio sim --venue gate` on a free loopback port; its base URL.
fn gate_sim() -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_smartfolio"))
        .args([
            "sim", "--venue", "gate", "--port", "0", "--assets", "BTC,ETH",
        ])
        .env("SMARTFOLIO_API_KEY", "download-key")
        .env("SMARTFOLIO_API_SECRET", "download-secret")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|host| format!("http://{host}"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"));
    (child, url)
}

#[test]
fn gate_downloads_from_the_simulator_over_two_pages_and_the_loader_reads_it() {
    let (mut sim, url) = gate_sim();
    let out = tempfile::tempdir().unwrap();
    // 20 hours of the simulator's day of one-minute history: 1200 candles, two pages each.
    let from = (now_ms() / 60_000 * 60_000 - 20 * 3_600_000).to_string();
    let o = smartfolio(
        &[
            "data",
            "download",
            "--venue",
            "gate",
            "--assets",
            "BTC,ETH",
            "--interval",
            "1m",
            "--from",
            &from,
            "--out",
            out.path().to_str().unwrap(),
            "--base-url",
            &url,
        ],
        None,
    );
    let _ = Command::new("kill")
        .args(["-INT", &sim.id().to_string()])
        .status();
    let _ = sim.wait();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    // The clock, then two windows per asset; no gap in the simulator's minutes.
    assert!(
        stdout.contains("2 of 2 assets complete:")
            && stdout.contains("written in 5 requests; 0 gaps"),
        "{stdout}"
    );
    let table = smartfolio_data::load(
        out.path(),
        &smartfolio_data::LoadOptions {
            assets: vec!["BTC".into(), "ETH".into()],
            interval: Some("1m".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let from: i64 = from.parse().unwrap();
    let n = table.times_ms.len();
    assert!((1_190..=1_200).contains(&n), "{n} candles");
    assert_eq!(table.times_ms[0], from);
    assert!(
        table.times_ms.windows(2).all(|w| w[1] - w[0] == 60_000),
        "one minute apart"
    );
    // The last candle written is closed: it opened at least a minute before the download.
    assert!(i64::try_from(now_ms()).unwrap() - table.times_ms[n - 1] >= 60_000);
}
