//! `smartfolio sim`: serves Binance spot REST on a free loopback port, stops on SIGINT, and
//! rejects bad flags and a missing key with exit code 2.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};

fn sim() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smartfolio"));
    c.arg("sim")
        .env("SMARTFOLIO_API_KEY", "cli-key")
        .env("SMARTFOLIO_API_SECRET", "cli-secret")
        .env_remove("SMARTFOLIO_API_PASSPHRASE");
    c
}

/// The raw HTTP answer of `GET path` at `addr`.
fn get(addr: &str, path: &str) -> String {
    let mut conn = TcpStream::connect(addr).expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("answer");
    answer
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
    let ask = |path: &str| get(&addr, path);
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
        (vec!["--venue", "kraken"], "--venue \"kraken\""),
        (
            vec!["--venue", "gate", "--demo"],
            "--demo is only for --venue okx",
        ),
        (
            vec!["--venue", "okx"],
            "SMARTFOLIO_API_PASSPHRASE is not set",
        ),
        (vec!["--demo"], "--demo is only for --venue okx"),
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

/// A simulator process, its standard output (kept open: it prints its requests when it stops)
/// and the address it listens on.
type Serving = (Child, BufReader<ChildStdout>, String);

/// Start `smartfolio sim` with `args` and `envs` and check the title it prints.
fn serving(args: &[&str], envs: &[(&str, &str)], title: &str) -> Serving {
    let mut child = sim()
        .args(args)
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).expect("stdout");
    assert!(
        line.starts_with(&format!("smartfolio sim: {title} on http://")),
        "{line}"
    );
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    (child, out, addr)
}

fn interrupt((mut child, _out, _): Serving) {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    assert!(child.wait().expect("wait").success());
}

#[test]
fn sim_venue_okx_serves_okx_v5_and_refuses_an_unsigned_request_in_okxs_words() {
    let serving = serving(
        &["--venue", "okx", "--port", "0", "--assets", "BTC,ETH"],
        &[("SMARTFOLIO_API_PASSPHRASE", "cli-pass")],
        "OKX v5 spot",
    );
    let ask = |path: &str| get(&serving.2, path);
    let info = ask("/api/v5/public/instruments?instType=SPOT");
    assert!(info.starts_with("HTTP/1.1 200"), "{info}");
    assert!(
        info.contains("\"instId\":\"BTC-USDT\"") && info.contains("\"lotSz\":\"0.00001\""),
        "{info}"
    );
    assert!(!info.contains("SOL-USDT"), "only --assets: {info}");
    let balance = ask("/api/v5/account/balance");
    assert!(balance.starts_with("HTTP/1.1 401"), "{balance}");
    assert!(balance.contains("\"code\":\"50103\""), "{balance}");
    interrupt(serving);
}

#[test]
fn sim_venue_gate_serves_gate_v4_and_refuses_an_unsigned_request_in_gates_words() {
    let serving = serving(
        &[
            "--venue", "gate", "--port", "0", "--assets", "BTC,ETH", "--faults", "halt=ETH",
        ],
        &[],
        "Gate v4 spot",
    );
    let ask = |path: &str| get(&serving.2, path);
    let pairs = ask("/api/v4/spot/currency_pairs");
    assert!(pairs.starts_with("HTTP/1.1 200"), "{pairs}");
    assert!(
        pairs.contains("\"id\":\"BTC_USDT\"") && pairs.contains("\"amount_precision\":5"),
        "{pairs}"
    );
    assert!(
        pairs.contains("\"trade_status\":\"untradable\""),
        "halt=ETH: {pairs}"
    );
    assert!(!pairs.contains("SOL_USDT"), "only --assets: {pairs}");
    let accounts = ask("/api/v4/spot/accounts");
    assert!(accounts.starts_with("HTTP/1.1 401"), "{accounts}");
    assert!(
        accounts.contains("\"label\":\"MISSING_REQUIRED_HEADER\""),
        "{accounts}"
    );
    interrupt(serving);
}
