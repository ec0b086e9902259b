//! `smartfolio venue check`, bots on Binance and OKX and the dry run, against `smartfolio sim`
//! (`--venue binance` or `okx`) on a loopback port: all well exits 0, a wrong secret or
//! passphrase exits 1 with the venue's answer, a missing passphrase exits 2 naming
//! `SMARTFOLIO_API_PASSPHRASE`; a bot created on `venue.kind = binance` or `okx` deploys with
//! real orders and `run --max-ticks N` stops after N price reads; the dry run reads either
//! venue's prices (`SMARTFOLIO_VENUE_PRICES`); the key, secret and passphrase never appear in
//! any output or in the data directory.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

const KEY: &str = "cli-venue-key-83hd";
const SECRET: &str = "cli-venue-secret-q9w2e7";
const PASSPHRASE: &str = "cli-venue-pass-7hx3";

struct Sim {
    child: Child,
    url: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn sim() -> Sim {
    sim_of("binance")
}

/// `smartfolio sim --venue VENUE` (the OKX key's passphrase is [`PASSPHRASE`]).
fn sim_of(venue: &str) -> Sim {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smartfolio"))
        .args([
            "sim",
            "--venue",
            venue,
            "--port",
            "0",
            "--balances",
            "USDT=10000",
        ])
        .env("SMARTFOLIO_API_KEY", KEY)
        .env("SMARTFOLIO_API_SECRET", SECRET)
        .env("SMARTFOLIO_API_PASSPHRASE", PASSPHRASE)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("stdout");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    Sim { child, url }
}

/// `smartfolio ARGS` on the simulator, with `venue` and the keys in the environment.
fn smartfolio(
    sim: &Sim,
    dir: &std::path::Path,
    venue: &str,
    secret: Option<&str>,
    args: &[&str],
) -> Output {
    smartfolio_with(sim, dir, venue, secret, &[], args)
}

/// [`smartfolio`] with more `SMARTFOLIO_*` variables (`env`).
fn smartfolio_with(
    sim: &Sim,
    dir: &std::path::Path,
    venue: &str,
    secret: Option<&str>,
    env: &[(&str, &str)],
    args: &[&str],
) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smartfolio"));
    c.env_remove("SMARTFOLIO_API_PASSPHRASE")
        .env_remove("SMARTFOLIO_VENUE_PRICES");
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("SMARTFOLIO_CONFIG")
        .env("SMARTFOLIO_VENUE", venue)
        .env("SMARTFOLIO_VENUE_URL", &sim.url)
        .env("SMARTFOLIO_MARKET", "live")
        .env("SMARTFOLIO_MARKET_ASSETS", "BTC,ETH")
        .env("RUST_LOG", "debug")
        .current_dir(dir);
    match secret {
        Some(s) => c
            .env("SMARTFOLIO_API_KEY", KEY)
            .env("SMARTFOLIO_API_SECRET", s),
        None => c
            .env_remove("SMARTFOLIO_API_KEY")
            .env_remove("SMARTFOLIO_API_SECRET"),
    };
    let out = c.output().expect("run smartfolio");
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(!text.contains(SECRET), "the secret was printed: {text}");
        assert!(!text.contains(KEY), "the key was printed: {text}");
        assert!(
            !text.contains(PASSPHRASE),
            "the passphrase was printed: {text}"
        );
    }
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_no_key_in(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        for s in [KEY, SECRET, PASSPHRASE] {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{s} found in the data directory"
            );
        }
    }
}

#[test]
fn venue_check_exits_0_when_all_is_well_and_1_with_the_venues_answer() {
    let sim = sim();
    let dir = tempfile::tempdir().unwrap();
    let out = smartfolio(
        &sim,
        dir.path(),
        "binance",
        Some(SECRET),
        &["venue", "check"],
    );
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    assert!(
        o.contains("reachable: yes") && o.contains("clock offset"),
        "{o}"
    );
    assert!(o.contains("withdrawals no") && o.contains("USDT"), "{o}");
    assert!(o.contains("all checks passed"), "{o}");

    let out = smartfolio(
        &sim,
        dir.path(),
        "binance",
        Some("wrong-secret"),
        &["venue", "check"],
    );
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{o}{e}");
    assert!(e.contains("-1022") && e.contains("Signature"), "{e}");

    let out = smartfolio(&sim, dir.path(), "binance", None, &["venue", "check"]);
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("SMARTFOLIO_API_KEY"), "{e}");
}

#[test]
fn a_bot_on_binance_deploys_with_real_orders_and_run_stops_after_n_reads() {
    let sim = sim();
    let dir = tempfile::tempdir().unwrap();
    let create = [
        "bot",
        "create",
        "--name",
        "live",
        "--targets",
        "BTC=50,ETH=50",
        "--invest",
        "1000",
    ];
    let out = smartfolio(&sim, dir.path(), "binance", Some(SECRET), &create);
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    let out = smartfolio(
        &sim,
        dir.path(),
        "binance",
        Some(SECRET),
        &["bot", "show", "live", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["status"], "running", "{v}");
    let out = smartfolio(
        &sim,
        dir.path(),
        "binance",
        Some(SECRET),
        &["run", "--max-ticks", "3", "--json"],
    );
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    let v: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(v["ticks"], 3, "{v}");
    assert_eq!(v["ended"], "max ticks", "{v}");
    assert_no_key_in(dir.path());

    // The dry run: the same prices, paper fills, no key.
    let dry = tempfile::tempdir().unwrap();
    let out = smartfolio(&sim, dry.path(), "paper", None, &create);
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    let out = smartfolio(
        &sim,
        dry.path(),
        "paper",
        None,
        &["run", "--max-ticks", "2", "--json"],
    );
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    let v: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(v["ticks"], 2, "{v}");
}

#[test]
fn okx_venue_check_a_bot_on_okx_and_the_dry_run_at_okxs_prices() {
    let sim = sim_of("okx");
    let dir = tempfile::tempdir().unwrap();
    let pass = [("SMARTFOLIO_API_PASSPHRASE", PASSPHRASE)];
    let out = smartfolio_with(
        &sim,
        dir.path(),
        "okx",
        Some(SECRET),
        &pass,
        &["venue", "check"],
    );
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    assert!(
        o.contains("reachable: yes") && o.contains("clock offset"),
        "{o}"
    );
    assert!(o.contains("withdrawals no") && o.contains("USDT"), "{o}");

    // A wrong passphrase: OKX's own answer; none at all: the variable to set, named.
    let wrong = [("SMARTFOLIO_API_PASSPHRASE", "not-it")];
    let out = smartfolio_with(
        &sim,
        dir.path(),
        "okx",
        Some(SECRET),
        &wrong,
        &["venue", "check"],
    );
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{o}{e}");
    assert!(e.contains("50105"), "{e}");
    let out = smartfolio(&sim, dir.path(), "okx", Some(SECRET), &["venue", "check"]);
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("SMARTFOLIO_API_PASSPHRASE"), "{e}");

    let create = [
        "bot",
        "create",
        "--name",
        "okx",
        "--targets",
        "BTC=50,ETH=50",
        "--invest",
        "1000",
    ];
    let out = smartfolio_with(&sim, dir.path(), "okx", Some(SECRET), &pass, &create);
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    let run = ["run", "--max-ticks", "2", "--json"];
    let out = smartfolio_with(&sim, dir.path(), "okx", Some(SECRET), &pass, &run);
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    let v: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(v["ticks"], 2, "{v}");
    let out = smartfolio_with(
        &sim,
        dir.path(),
        "okx",
        Some(SECRET),
        &pass,
        &["bot", "show", "okx", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["status"], "running", "{v}");
    assert_no_key_in(dir.path());

    // The dry run at OKX's public prices: no key.
    let dry = tempfile::tempdir().unwrap();
    let prices = [("SMARTFOLIO_VENUE_PRICES", "okx")];
    let out = smartfolio_with(&sim, dry.path(), "paper", None, &prices, &create);
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    let out = smartfolio_with(&sim, dry.path(), "paper", None, &prices, &run);
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    let v: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(v["ticks"], 2, "{v}");
}
