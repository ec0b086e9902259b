//! `smartfolio sim`: serves Binance spot REST on a free loopback port, stops on SIGINT, and
//! rejects bad flags and a missing key with exit code 2.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};

fn sim() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smartfolio"));
    c.arg("sim")
        .env("SMARTFOLIO_API_KEY", "cli-key")
        .env("SMARTFOLIO_API_SECRET", "cli-secret");
    c
}

/// `smartfolio sim --port 0 ARGS`, its standard output to read.
fn spawn(args: &[&str]) -> (Child, BufReader<ChildStdout>) {
    let mut child = sim()
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = BufReader::new(child.stdout.take().unwrap());
    (child, out)
}

#[test]
fn sim_serves_exchange_info_and_the_account_refuses_an_unsigned_request() {
    let (mut child, mut out) = spawn(&["--balances", "USDT=500,BTC=0.5"]);
    let mut line = String::new();
    out.read_line(&mut line).expect("stdout");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    let ask = |path: &str| {
        let mut conn = TcpStream::connect(&addr).expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        conn.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).expect("answer");
        answer
    };
    let info = ask("/api/v3/exchangeInfo?symbol=BTCUSDT");
    assert!(info.starts_with("HTTP/1.1 200"), "{info}");
    assert!(
        info.contains("\"symbol\":\"BTCUSDT\"") && info.contains("LOT_SIZE"),
        "{info}"
    );
    let account = ask("/api/v3/account?timestamp=1");
    assert!(account.starts_with("HTTP/1.1 401"), "{account}");
    assert!(account.contains("-2014"), "{account}");
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "sim exit {status:?}");
}

#[test]
fn sim_rejects_bad_flags_and_a_missing_key_with_exit_2() {
    for (args, needle) in [
        (vec!["--venue", "okx"], "--venue \"okx\""),
        (vec!["--balances", "USDT=lots"], "--balances \"USDT=lots\""),
        (vec!["--faults", "flood=1"], "\"flood\" is not a fault"),
        (vec!["--faults", "halt=DOGE"], "halt DOGE is not allowed"),
        (vec!["--data-dir", "/dev/null"], "--data-dir"),
        (vec!["--replay", "/nonexistent/prices.csv"], "--replay"),
        (vec!["--assets", "BTC,DOGE"], "--assets \"DOGE\""),
    ] {
        let out = sim().args(["--port", "0"]).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_smartfolio"))
        .args(["sim", "--port", "0"])
        .env_remove("SMARTFOLIO_API_KEY")
        .env_remove("SMARTFOLIO_API_SECRET")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("SMARTFOLIO_API_KEY is not set"), "{err}");
}

/// Start `smartfolio sim` with `args`, read the lines it prints on start (two when it resumes
/// an account), then stop it with SIGINT; returns those lines.
fn start_and_stop(args: &[&str], lines: usize) -> Vec<String> {
    let (mut child, mut out) = spawn(args);
    let mut got = Vec::new();
    for _ in 0..lines {
        let mut line = String::new();
        out.read_line(&mut line).expect("stdout");
        got.push(line);
    }
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "sim exit {status:?}");
    got
}

#[test]
fn sim_with_a_data_dir_resumes_its_account_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sim");
    let data = data.to_str().unwrap();
    let first = start_and_stop(&["--data-dir", data, "--balances", "USDT=500"], 1);
    assert!(
        first[0].starts_with("smartfolio sim: Binance spot on http://"),
        "{first:?}"
    );
    assert!(dir.path().join("sim/smartfolio.db").is_file());
    let second = start_and_stop(&["--data-dir", data, "--balances", "USDT=500"], 2);
    assert!(second[1].contains("account resumed"), "{second:?}");
}
