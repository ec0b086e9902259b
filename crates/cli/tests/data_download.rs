//! `smartfolio data download` against a loopback mock of Binance's public klines and time,
//! found through `SMARTFOLIO_VENUE_URL`: the files written, the gap printed, a second run that
//! only resumes, `backtest` reading the folder, and bad input exiting 2 with the value named.

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
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis();
                (
                    [("content-type", "application/json")],
                    format!("{{\"serverTime\":{now}}}"),
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
            vec!["--venue", "okx"],
            "--venue \"okx\" is not supported yet; allowed: binance",
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
