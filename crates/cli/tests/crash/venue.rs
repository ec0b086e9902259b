//! The crash test of issue 11, against a venue's simulator: `smartfolio sim` runs as its own
//! process for the whole test (it is the venue: it stays up, its account in its `--data-dir`),
//! on a synthetic market that moves an hour a second (`--speed 3600`) with every answer
//! delayed a few milliseconds (`--faults latency=MS`, so a rebalance's orders take a while).
//! `smartfolio run` trades on it through the venue's real connector (`[venue] kind`, the
//! simulator's URL, the key from the environment, `market.kind = "live"`: the venue's prices),
//! with bots on tight thresholds; fresh bots are created as the kills go on.
//!
//! Each round starts the daemon, waits for the first or second line its log prints when
//! something is in flight (a rebalance started, or an order answered while others may not be),
//! then SIGKILLs it after a random delay in [`KILL_WINDOW_MS`]; the random delay is the chaos, never what the checks
//! depend on. After a last clean run the simulator is stopped and its account (read from its
//! data directory, as the venue keeps it) is checked against the daemon's store
//! ([`check`](super::check::check)).
//!
//! Written for any simulated venue: [`Venue`] says how to start its simulator and configure the
//! daemon for it. Binance ([`BINANCE`], 50 kills), OKX ([`OKX`], 30 kills) and Gate ([`GATE`],
//! 30 kills) run it. Binance also runs it with limit orders (`[execution]
//! style = "limit"`, [`RESTING`], half the kills), and OKX with maker orders (post-only,
//! `style = "maker"`, half the kills): a kill then often finds an order
//! resting at the venue, which the restart finds by its client id and cancels (or takes as it
//! ended); besides the shared checks, nothing is left open at the venue and at least one
//! order of an interrupted rebalance was canceled by a recovery.

use super::{block_on, check, cmd, env_num, ok};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use smartfolio_exchange::LookupPolicy;
use smartfolio_exchange::paper::{PaperAccount, PaperPersistence};
use smartfolio_store::{SqliteStore, Store};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const KEY: &str = "crash-venue-key-4k2d";
const SECRET: &str = "crash-venue-secret-9s7q1x";
/// The key's passphrase (OKX's; Binance has none and ignores it).
const PASSPHRASE: &str = "crash-venue-pass-3m8w";

/// Bots created as the kills go on (one every third round), beside the first three: enough
/// deploys under kills, few enough that the account's request weight stays within the venue's
/// limit over a few minutes of restarts.
const FRESH_BOTS: usize = 5;
/// The request weight a minute the simulator lets the account use (Binance: 6000). Dozens of
/// restarts a minute, each reading the venue's rules and account and looking up the orders a
/// kill left, use far more than a daemon that stays up; the connector would rightly wait for
/// the next minute, and its bots' circuit breakers trip.
const WEIGHT_LIMIT: u64 = 60_000;
/// The kill comes this many ms (uniform) after the line that triggers it.
const KILL_WINDOW_MS: std::ops::Range<u64> = 0..150;
/// How long a round waits for its trigger line before the test fails (the market moves an
/// hour a second and the thresholds are a fraction of a point: a rebalance starts every second
/// or two).
const ROUND_LIMIT: Duration = Duration::from_secs(60);

/// A simulated venue.
struct Venue {
    /// `smartfolio sim --venue` and `[venue] kind`.
    kind: &'static str,
    /// The account's name in the simulator's data directory.
    account: &'static str,
    quote: &'static str,
    /// What the simulator's account starts with.
    start: &'static [(&'static str, u64)],
    /// Every answer delayed this many ms.
    latency_ms: u64,
    /// How long after an order is sent a "not found" proves nothing (its connector's
    /// `lookup_policy().window_ms`).
    lookup_window_ms: i64,
    /// The id of a fill of the simulator's engine (`T12`) on the wire.
    fill_id: fn(&str) -> String,
    /// Our client id of an order of the simulator's engine (its client id is what the wire
    /// carried).
    client_id: fn(&str) -> String,
    /// How many kills unless `SMARTFOLIO_CRASH_KILLS` says.
    kills: u64,
    /// The simulator's market speed (market ms per wall ms).
    speed: u32,
}

const BINANCE: Venue = Venue {
    kind: "binance",
    account: "sim",
    quote: "USDT",
    start: &[("USDT", 1_000_000)],
    latency_ms: 10,
    lookup_window_ms: LookupPolicy::DEFAULT_WINDOW_MS,
    // Binance's trade ids are numbers.
    fill_id: |id| id.trim_start_matches('T').to_string(),
    client_id: str::to_string,
    kills: 50,
    speed: 3600,
};

const OKX: Venue = Venue {
    kind: "okx",
    account: "sim",
    quote: "USDT",
    start: &[("USDT", 1_000_000)],
    latency_ms: 10,
    // The OKX connector gives its lookups the default window too.
    lookup_window_ms: LookupPolicy::DEFAULT_WINDOW_MS,
    // OKX's tradeIds are decimal strings of the same numbers.
    fill_id: |id| id.trim_start_matches('T').to_string(),
    client_id: str::to_string,
    kills: 30,
    // As Binance's. (It was 900 while market buys were sized in base: OKX's longer round trips
    // let an hour-a-second market move past the price margin before a buy filled, and the bot
    // paid more than its cash. They are sent by quote amount now.)
    speed: 3600,
};

/// As OKX (the default lookup window, a not-found with fills under the text settled at once;
/// trade ids the engine's numbers as decimal strings).
const GATE: Venue = Venue {
    kind: "gate",
    // The engine keeps the `text`, `t-` and our id (a reused text would read `t-id#2`, no
    // bot's, and fail the check).
    client_id: |text| text.strip_prefix("t-").unwrap_or(text).to_string(),
    ..OKX
};

/// The `[execution]` of the limit runs: orders rest 2 s (an hour of the simulator's market a
/// second), are re-priced once, then go at market.
const RESTING: &str = "limit_timeout = \"2s\"\nreprices = 1\nfallback = \"market\"\n";

/// The simulator, stopped (SIGINT) when dropped.
struct Sim {
    child: Option<Child>,
    url: String,
}

impl Sim {
    fn start(v: &Venue, data: &Path) -> Sim {
        let balances: Vec<String> = v.start.iter().map(|(a, n)| format!("{a}={n}")).collect();
        let mut child = Command::new(env!("CARGO_BIN_EXE_smartfolio"))
            .args(["sim", "--venue", v.kind, "--port", "0", "--speed"])
            .arg(v.speed.to_string())
            .arg("--balances")
            .arg(balances.join(","))
            .arg("--faults")
            .arg(format!(
                "latency={},weight-limit={}",
                v.latency_ms, WEIGHT_LIMIT
            ))
            .arg("--data-dir")
            .arg(data)
            .env("SMARTFOLIO_API_KEY", KEY)
            .env("SMARTFOLIO_API_SECRET", SECRET)
            .env("SMARTFOLIO_API_PASSPHRASE", PASSPHRASE)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the simulator");
        // Read byte by byte up to the first line's end, leaving the rest in the pipe.
        let mut line = String::new();
        let mut out = child.stdout.take().unwrap();
        let mut b = [0u8; 1];
        while std::io::Read::read(&mut out, &mut b).unwrap_or(0) == 1 && b[0] != b'\n' {
            line.push(b[0] as char);
        }
        child.stdout = Some(out);
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_string();
        Sim {
            child: Some(child),
            url,
        }
    }

    /// SIGINT, and wait for it to end (its account is then all on disk): what it printed on
    /// its way out (the requests it served).
    fn stop(mut self) -> String {
        let mut out = self.child.as_mut().and_then(|c| c.stdout.take());
        self.interrupt();
        let mut text = String::new();
        if let Some(o) = out.as_mut() {
            let _ = std::io::Read::read_to_string(o, &mut text);
        }
        text
    }

    fn interrupt(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.interrupt();
    }
}

/// The daemon's configuration on `v`'s simulator at `url`: live prices read every 500 ms,
/// no cooldown.
/// With `style` (limit or maker), new bots work their legs with resting orders ([`RESTING`]).
fn config(v: &Venue, url: &str, style: Option<&str>) -> String {
    let execution = style
        .map(|s| format!("[execution]\nstyle = \"{s}\"\n{RESTING}"))
        .unwrap_or_default();
    format!(
        "quote = \"{quote}\"\ncooldown = \"0\"\nsnapshot_interval = \"1d\"\n\
         [venue]\nkind = \"{kind}\"\nbase_url = \"{url}\"\n\
         [market]\nkind = \"live\"\npoll = \"500ms\"\nassets = [\"BTC\", \"ETH\", \"SOL\", \"BNB\"]\n\
         {execution}",
        quote = v.quote,
        kind = v.kind,
    )
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `smartfolio ARGS` on the venue: the key in the environment.
fn on_venue(dir: &Path, args: &[&str]) -> Command {
    let mut c = cmd(dir, args);
    c.env("SMARTFOLIO_API_KEY", KEY)
        .env("SMARTFOLIO_API_SECRET", SECRET)
        .env("SMARTFOLIO_API_PASSPHRASE", PASSPHRASE);
    c
}

/// `smartfolio run`, its log lines (the events at `info`) sent on the returned channel.
fn daemon(dir: &Path) -> (Child, mpsc::Receiver<String>) {
    let mut child = on_venue(dir, &["run"])
        .env("RUST_LOG", "error,smartfolio_node::host=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the daemon");
    let err = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

/// Wait for a log line that says something is in flight: a rebalance started (its orders are
/// being sent), or, with `on_order`, an order answered (the rebalance's next ones follow).
/// Errors the daemon logged fail the test; so does its end, or no such line in
/// [`ROUND_LIMIT`].
fn wait_for_flight(rx: &mpsc::Receiver<String>, on_order: bool, round: u64) -> String {
    let deadline = Instant::now() + ROUND_LIMIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let hit = line.contains("rebalance started")
                    || (on_order && line.contains(" order ") && line.contains("outcome"));
                assert!(
                    !line.contains("ERROR"),
                    "round {round}: the daemon logged an error: {line}\n{}",
                    seen.join("\n")
                );
                if hit {
                    return line;
                }
                seen.push(line);
            }
            Err(e) => panic!(
                "round {round}: no rebalance or order in flight ({e:?}); the daemon said:\n{}",
                seen.join("\n")
            ),
        }
    }
}

fn sigkill_the_daemon_during_rebalances_on(v: &Venue, style: Option<&str>) {
    // The limit runs kill half as often: each of their rebalances rests for seconds.
    let kills = env_num(
        "SMARTFOLIO_CRASH_KILLS",
        if style.is_some() {
            v.kills / 2
        } else {
            v.kills
        },
    );
    let seed = env_num("SMARTFOLIO_CRASH_SEED", 1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    if std::env::var_os("SMARTFOLIO_CRASH_KEEP").is_some() {
        eprintln!("crash test on {}: keeping {}", v.kind, d.display());
        std::mem::forget(dir);
    }
    let d = d.as_path();
    let sim_data = d.join("venue");
    let sim = Sim::start(v, &sim_data);
    std::fs::write(d.join("smartfolio.toml"), config(v, &sim.url, style)).unwrap();
    let started = Instant::now();
    for (name, targets, trigger) in [
        ("tight", "BTC=40,ETH=30,SOL=20,BNB=10", "threshold:0.4"),
        ("pair", "BTC=50,SOL=50", "threshold:0.5"),
        ("cash", "ETH=40,BNB=40,USDT=20", "threshold:0.4"),
    ] {
        let args = [
            "bot",
            "create",
            "--name",
            name,
            "--targets",
            targets,
            "--trigger",
            trigger,
            "--invest",
            "20000",
        ];
        ok(on_venue(d, &args), name);
    }
    let mut created = 0;
    let mut on_orders = 0;
    let mut waited = Duration::ZERO;
    for k in 0..kills {
        let (mut daemon, lines) = daemon(d);
        if k % 3 == 1 && created < FRESH_BOTS {
            // A fresh bot, queued for the daemon (or run here if the daemon has not taken the
            // lock yet); either way it deploys under the kills that follow.
            created += 1;
            let name = format!("fresh{created}");
            let targets = [
                "BTC=30,ETH=30,SOL=40",
                "SOL=50,BNB=50",
                "BTC=60,ETH=20,BNB=20",
            ][created % 3];
            let args = [
                "bot",
                "create",
                "--name",
                &name,
                "--targets",
                targets,
                "--trigger",
                "threshold:0.5",
                "--invest",
                "5000",
                "--no-wait",
            ];
            ok(on_venue(d, &args), &name);
        }
        let on_order = rng.random_bool(0.3);
        on_orders += u64::from(on_order);
        let t0 = Instant::now();
        for _ in 0..rng.random_range(1..=2) {
            wait_for_flight(&lines, on_order, k);
        }
        waited += t0.elapsed();
        std::thread::sleep(Duration::from_millis(rng.random_range(KILL_WINDOW_MS)));
        // Child::kill is SIGKILL on Unix.
        daemon.kill().unwrap();
        daemon.wait().unwrap();
    }
    // A last clean run: recovery, the queued commands, trading; it ends by itself (once the
    // rebalances under way have) after the venue's lookup window of every order the kills
    // left pending: an order stored but never sent is "not found yet" until then, and only
    // then settled as never sent (an order the venue took is settled at once).
    let pending = block_on(async {
        let store = SqliteStore::open(&d.join("data")).await.unwrap();
        store.unfinished_orders().await.unwrap()
    });
    let settled_by = pending
        .iter()
        .map(|o| o.created_ms + v.lookup_window_ms)
        .max()
        .unwrap_or(0);
    let until = settled_by.max(wall_ms()) + 5_000;
    let summary = ok(
        on_venue(d, &["run", "--until", &until.to_string(), "--json"]),
        "the last run",
    );
    let elapsed = started.elapsed();
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    let served = sim.stop();
    eprintln!("the simulator {served}");

    let start: Vec<(&str, Decimal)> = v
        .start
        .iter()
        .map(|(a, n)| (*a, Decimal::from(*n)))
        .collect();
    let stats = block_on(async {
        let venue = SqliteStore::open(&sim_data).await.unwrap();
        let mut account = venue
            .load_paper(v.account)
            .await
            .unwrap()
            .expect("the simulator's account exists");
        for o in &mut account.orders {
            o.client_id = (v.client_id)(&o.client_id);
        }
        for f in &mut account.fills {
            f.client_id = (v.client_id)(&f.client_id);
        }
        if let Some(style) = style {
            resting_orders_followed(&d.join("data"), &account, style).await;
        }
        check::check(&d.join("data"), &account, &start, v.fill_id).await
    });
    stats.report(
        &format!(
            "crash test on {}{}: {kills} kills (seed {seed}, {on_orders} on an order line; {:.1} s \
             from the daemon's start to the line) in {:.1} s",
            v.kind,
            style.map(|s| format!(" ({s} orders)")).unwrap_or_default(),
            waited.as_secs_f64(),
            elapsed.as_secs_f64()
        ),
        &summary,
    );
}

/// The limit runs' own checks: the bots' rebalances sent resting orders (post-only for
/// maker), none is left open at the venue (each was followed to its end or canceled), and a
/// recovery canceled at least one: an order of a rebalance a kill interrupted, canceled at the
/// venue, its stored record final with the venue's filled quantity.
async fn resting_orders_followed(data: &Path, account: &PaperAccount, style: &str) {
    use smartfolio_exchange::{OrderKind, OrderStatus};
    let store = SqliteStore::open(data).await.unwrap();
    let venue: std::collections::HashMap<&str, &smartfolio_exchange::Order> = account
        .orders
        .iter()
        .map(|o| (o.client_id.as_str(), o))
        .collect();
    let open: Vec<&str> = account
        .orders
        .iter()
        .filter(|o| !o.status.is_final())
        .map(|o| o.client_id.as_str())
        .collect();
    assert!(open.is_empty(), "left open at the venue: {open:?}");
    let (mut limits, mut canceled_by_recovery) = (0, 0);
    for b in store.list_bots().await.unwrap() {
        let interrupted: std::collections::HashSet<i64> = store
            .rebalances(b.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.status == "interrupted")
            .map(|r| r.id)
            .collect();
        for o in store.orders(b.id).await.unwrap() {
            let Some(at) = venue.get(o.client_id.as_str()) else {
                continue;
            };
            if let OrderKind::Limit { .. } = at.kind {
                limits += 1;
                assert_eq!(at.post_only, style == "maker", "{at:?}");
                if interrupted.contains(&o.rebalance_id) && at.status == OrderStatus::Canceled {
                    canceled_by_recovery += 1;
                    assert_eq!(o.filled_quantity, at.filled_quantity, "{o:?} {at:?}");
                }
            }
        }
    }
    eprintln!(
        "{limits} {style} orders at the venue, {canceled_by_recovery} found resting after a kill and canceled"
    );
    assert!(limits > 0, "no {style} order was sent");
    assert!(
        canceled_by_recovery > 0,
        "no kill left an order resting: the test did not exercise a resting order's recovery"
    );
}

#[test]
fn sigkill_during_rebalances_on_binance_loses_nothing_and_repeats_nothing() {
    sigkill_the_daemon_during_rebalances_on(&BINANCE, None);
}

#[test]
fn sigkill_during_rebalances_on_okx_loses_nothing_and_repeats_nothing() {
    sigkill_the_daemon_during_rebalances_on(&OKX, None);
}

#[test]
fn sigkill_with_limit_orders_resting_on_binance_loses_nothing_and_repeats_nothing() {
    sigkill_the_daemon_during_rebalances_on(&BINANCE, Some("limit"));
}

#[test]
fn sigkill_with_maker_orders_resting_on_okx_loses_nothing_and_repeats_nothing() {
    sigkill_the_daemon_during_rebalances_on(&OKX, Some("maker"));
}

#[test]
fn sigkill_during_rebalances_on_gate_loses_nothing_and_repeats_nothing() {
    sigkill_the_daemon_during_rebalances_on(&GATE, None);
}
