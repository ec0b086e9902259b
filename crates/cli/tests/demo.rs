//! `smartfolio demo`: serves the dashboard and API on a free port, creates the sample bot once,
//! shows the token once, resumes on restart, and rejects bad flags with exit code 2.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

mod common;

fn http_get(addr: &str, path: &str) -> (u16, String) {
    common::http(addr, "GET", path, None, "")
}

/// Start a demo, wait for its URL, run `f` with `host:port`, then stop it with SIGINT (the
/// test decides when it is done; no wall-clock budget for `f`).
fn with_demo(dir: &std::path::Path, f: impl FnOnce(&str, &[String])) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smartfolio"))
        .args(["demo", "--port", "0", "--speed", "200"])
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let mut addr = None;
    while addr.is_none() {
        let mut line = String::new();
        if out.read_line(&mut line).expect("stdout") == 0 {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).ok();
            panic!("the demo ended before printing its URL: {lines:?}\n{err}");
        }
        if let Some(url) = line.trim().strip_prefix("smartfolio demo: http://") {
            addr = Some(url.trim_end_matches('/').to_string());
        }
        lines.push(line.trim().to_string());
    }
    // The next lines (data directory, token) are printed before serving.
    for _ in 0..2 {
        let mut line = String::new();
        out.read_line(&mut line).expect("stdout");
        lines.push(line.trim().to_string());
    }
    f(addr.as_deref().unwrap(), &lines);
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let mut rest = String::new();
    out.read_to_string(&mut rest).expect("stdout");
    let status = child.wait().expect("wait");
    assert!(status.success(), "demo exit {status:?}: {rest}");
    rest
}

#[test]
fn demo_serves_the_dashboard_with_a_sample_bot_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let mut token = String::new();
    let rest = with_demo(dir.path(), |addr, lines| {
        assert!(
            addr.starts_with("127.0.0.1:"),
            "loopback by default: {addr}"
        );
        let t = lines
            .iter()
            .find_map(|l| l.split("): ").nth(1).filter(|_| l.starts_with("API token")))
            .expect("the token is shown on the first start");
        assert_eq!(t.len(), 64);
        token = t.to_string();
        let (status, page) = http_get(addr, "/");
        assert_eq!(status, 200);
        assert!(page.contains("<title>smartfolio</title>"));
        let (status, bots) = http_get(addr, "/api/bots");
        assert_eq!(status, 200, "{bots}");
        let v: serde_json::Value = serde_json::from_str(&bots).unwrap();
        let list = v["bots"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["name"], "sample");
        assert_eq!(list[0]["targets"], "BTC=50,ETH=30,SOL=20");
        assert_eq!(list[0]["trigger"], "threshold:5");
        let (status, _) = http_get(addr, "/api/openapi.json");
        assert_eq!(status, 200);
    });
    assert!(rest.contains("demo stopped:"), "{rest}");
    let stored = std::fs::read_to_string(dir.path().join("api-token.sha256")).unwrap();
    assert!(!stored.contains(&token), "the token is stored hashed");

    // A second start: no new token shown, the same single bot, market time goes on.
    let mut first_time = None;
    with_demo(dir.path(), |addr, lines| {
        assert!(
            !lines.iter().any(|l| l.contains(&token)),
            "the token is shown only once: {lines:?}"
        );
        let (_, bots) = http_get(addr, "/api/bots");
        let v: serde_json::Value = serde_json::from_str(&bots).unwrap();
        assert_eq!(v["bots"].as_array().unwrap().len(), 1);
        first_time = v["market_time_ms"].as_i64();
        let (_, h) = http_get(addr, "/api/bots/sample/history");
        let h: serde_json::Value = serde_json::from_str(&h).unwrap();
        let snaps = h["snapshots"].as_array().unwrap();
        let times: Vec<i64> = snaps
            .iter()
            .map(|s| s["time_ms"].as_i64().unwrap())
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] < w[1]),
            "market time never runs backwards"
        );
    });
    assert!(first_time.is_some());
}

#[test]
fn demo_with_max_seconds_ends_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_smartfolio"))
        .args(["demo", "--port", "0", "--max-seconds", "1"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("demo stopped:"), "{text}");
}

#[test]
fn demo_rejects_bad_flags_with_exit_2() {
    for args in [
        vec!["demo", "--speed", "0"],
        vec!["demo", "--speed=-3"],
        vec!["demo", "--max-seconds", "0"],
        vec!["demo", "--bind", "localhost:80"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_smartfolio"))
            .args(&args)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("invalid --"), "{args:?}: {err}");
    }
}

#[test]
fn run_with_http_serves_the_daemon_and_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_smartfolio"))
        .args(["run", "--http", "0", "--speed", "max"])
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).expect("stdout");
    let addr = line
        .trim()
        .strip_prefix("smartfolio run: http://")
        .unwrap_or_else(|| panic!("no URL: {line}"))
        .trim_end_matches('/')
        .to_string();
    let (status, body) = http_get(&addr, "/api/status");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["mode"], "daemon");
    let (_, bots) = http_get(&addr, "/api/bots");
    let v: serde_json::Value = serde_json::from_str(&bots).unwrap();
    assert!(
        v["bots"].as_array().unwrap().is_empty(),
        "no sample bot outside the demo"
    );
    // The lock is held: a second owner is refused.
    let second = Command::new(env!("CARGO_BIN_EXE_smartfolio"))
        .args(["demo", "--port", "0", "--max-seconds", "1"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("owned by"));
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let mut rest = String::new();
    out.read_to_string(&mut rest).expect("stdout");
    assert!(child.wait().expect("wait").success());
    assert!(rest.contains("daemon stopped:"), "{rest}");
}
