//! The crash test of issue 5: `smartfolio run` is SIGKILLed at random points while several bots
//! with tight thresholds rebalance on every few ticks of a fast synthetic market and freshly
//! created bots deploy, then restarted, again and again. After a last clean run, the store and
//! the paper account (read directly, not through the runtime) must show:
//! - no client id sent twice: the venue's orders are unique by client id, every one of them is
//!   a stored order of one bot, and no order was refused as a duplicate;
//! - each bot's ledger equals, exactly, its flows plus the venue's fills of its client ids
//!   (fees included), and the ledgers never exceed the account;
//! - every rebalance completed or was closed (none `open`, no order without a final status);
//! - nothing applied twice: every venue fill is recorded once, and its ledger entries once.
//!
//! `SMARTFOLIO_CRASH_KILLS` sets the number of kills (default 50; `scripts/crash-soak.sh N`),
//! `SMARTFOLIO_CRASH_SEED` the seed of the random delays.
//!
//! Also: a kill during `smartfolio run --http` with a command claimed — the restart fails that
//! command (never left `running`, never run a second time), exactly as `smartfolio run` does.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use smartfolio_exchange::paper::PaperPersistence;
use smartfolio_store::{CommandQueue, CommandStatus, SqliteStore, Store, fill_ledger_entries};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CONFIG: &str = r#"
quote = "USDT"
cooldown = "0"
snapshot_interval = "1d"
[paper]
fee_rate = "0.001"
slippage_bps = "5"
balances = { USDT = "1000000000" }
[paper.instruments.BTC]
lot_step = "0.00001"
min_notional = "5"
[market]
kind = "synthetic"
seed = 11
assets = ["BTC", "ETH", "SOL", "BNB"]
step = "1h"
speed = "max"
"#;

fn cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smartfolio"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SMARTFOLIO_") {
            c.env_remove(k);
        }
    }
    c.current_dir(dir)
        .args(args)
        .arg("--config")
        .arg(dir.join("smartfolio.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("RUST_LOG", "error");
    c
}

fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = cmd(dir, args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    cmd(dir, args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

#[test]
fn sigkill_at_random_points_loses_nothing_and_repeats_nothing() {
    let kills = env_num("SMARTFOLIO_CRASH_KILLS", 50);
    let seed = env_num("SMARTFOLIO_CRASH_SEED", 1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("smartfolio.toml"), CONFIG).unwrap();
    let started = Instant::now();
    for (name, targets, trigger) in [
        ("tight", "BTC=40,ETH=30,SOL=20,BNB=10", "threshold:0.2"),
        ("pair", "BTC=50,SOL=50", "threshold:0.3"),
        ("cash", "ETH=40,BNB=40,USDT=20", "threshold:0.25"),
    ] {
        run_ok(
            d,
            &[
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
            ],
        );
    }
    let mut created = 0;
    for k in 0..kills {
        let mut daemon = spawn(d, &["run", "--speed", "max"]);
        if k % 3 == 1 {
            // A fresh bot: queued for the daemon (or run here if the daemon has not taken the
            // lock yet); either way it deploys under the kills that follow.
            std::thread::sleep(Duration::from_millis(rng.random_range(0..40)));
            created += 1;
            let name = format!("fresh{created}");
            let targets = [
                "BTC=30,ETH=30,SOL=40",
                "SOL=50,BNB=50",
                "BTC=60,ETH=20,BNB=20",
            ][created % 3];
            let out = cmd(
                d,
                &[
                    "bot",
                    "create",
                    "--name",
                    &name,
                    "--targets",
                    targets,
                    "--trigger",
                    "threshold:0.3",
                    "--invest",
                    "5000",
                    "--no-wait",
                ],
            )
            .output()
            .unwrap();
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let delay = rng.random_range(5..300);
        std::thread::sleep(Duration::from_millis(delay));
        // Child::kill is SIGKILL on Unix.
        daemon.kill().unwrap();
        daemon.wait().unwrap();
    }
    // A last clean run: recovery, the queued commands, a few ticks.
    let summary = run_ok(d, &["run", "--speed", "max", "--max-ticks", "30", "--json"]);
    let elapsed = started.elapsed();
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stats = rt.block_on(check(&d.join("data")));
    eprintln!(
        "crash test: {kills} kills (seed {seed}) in {:.1} s; {} bots, {} rebalances ({} interrupted by a kill, {} of them deploys), {} venue \
         orders, {} fills; last run: {summary}",
        elapsed.as_secs_f64(),
        stats.bots,
        stats.rebalances,
        stats.interrupted,
        stats.interrupted_deploys,
        stats.orders,
        stats.fills
    );
    assert!(stats.bots >= 3);
    assert!(
        stats.interrupted > 0,
        "no kill landed inside a rebalance: the test did not exercise recovery"
    );
    assert!(
        stats.rebalances > stats.bots,
        "the bots hardly traded: the test did not exercise rebalances"
    );
}

struct Stats {
    bots: usize,
    rebalances: usize,
    /// Rebalances a kill interrupted, closed by a recovery.
    interrupted: usize,
    /// Of which deploys.
    interrupted_deploys: usize,
    orders: usize,
    fills: usize,
}

async fn check(data: &Path) -> Stats {
    let store = SqliteStore::open(data).await.unwrap();
    let paper = store
        .load_paper("main")
        .await
        .unwrap()
        .expect("the paper account exists");

    // No client id sent twice; every venue order is one of ours.
    let mut venue_ids = HashSet::new();
    for o in &paper.orders {
        assert!(
            venue_ids.insert(o.client_id.clone()),
            "client id {} twice at the venue",
            o.client_id
        );
    }
    let bots = store.list_bots().await.unwrap();
    let mut owner: HashMap<String, i64> = HashMap::new();
    let mut rebalances = 0;
    let mut interrupted = 0;
    let mut interrupted_deploys = 0;
    for b in &bots {
        for o in store.orders(b.id).await.unwrap() {
            assert!(
                !o.error
                    .as_deref()
                    .unwrap_or_default()
                    .contains("duplicate_client_id"),
                "{o:?}"
            );
            assert!(o.status.is_final(), "order not final: {o:?}");
            assert!(owner.insert(o.client_id.clone(), b.id).is_none());
        }
        let rbs = store.rebalances(b.id).await.unwrap();
        for r in &rbs {
            assert_ne!(r.status, "open", "bot {}: {r:?}", b.name);
        }
        rebalances += rbs.len();
        interrupted += rbs.iter().filter(|r| r.status == "interrupted").count();
        interrupted_deploys += rbs
            .iter()
            .filter(|r| r.status == "interrupted" && r.kind == "deploy")
            .count();
        assert_eq!(
            b.status, "running",
            "bot {} is {}: every bot deploys and keeps running",
            b.name, b.status
        );
    }
    for o in &paper.orders {
        assert!(
            owner.contains_key(&o.client_id),
            "venue order {} is no bot's",
            o.client_id
        );
    }
    assert!(store.open_rebalances().await.unwrap().is_empty());
    assert!(store.unfinished_orders().await.unwrap().is_empty());

    // Each ledger = its flows + the venue's fills of its client ids, exactly.
    let mut expected: BTreeMap<i64, BTreeMap<String, Decimal>> = BTreeMap::new();
    for b in &bots {
        let e = expected.entry(b.id).or_default();
        for f in store.flows(b.id).await.unwrap() {
            let sign = if f.kind == "deposit" {
                Decimal::ONE
            } else {
                -Decimal::ONE
            };
            *e.entry(f.asset.clone()).or_default() += sign * f.amount;
        }
    }
    let mut venue_fills_of: HashMap<i64, HashSet<String>> = HashMap::new();
    for f in &paper.fills {
        let bot = owner[&f.client_id];
        venue_fills_of
            .entry(bot)
            .or_default()
            .insert(f.fill_id.clone());
        let e = expected.entry(bot).or_default();
        for (asset, amount, _) in fill_ledger_entries(f) {
            *e.entry(asset).or_default() += amount;
        }
    }
    let mut ledgers: BTreeMap<String, Decimal> = BTreeMap::new();
    for b in &bots {
        let got: BTreeMap<String, Decimal> = store
            .balances(b.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|(_, v)| !v.is_zero())
            .collect();
        let want: BTreeMap<String, Decimal> = expected[&b.id]
            .iter()
            .filter(|(_, v)| !v.is_zero())
            .map(|(a, v)| (a.clone(), v.normalize()))
            .collect();
        let got_n: BTreeMap<String, Decimal> = got
            .iter()
            .map(|(a, v)| (a.clone(), v.normalize()))
            .collect();
        assert_eq!(got_n, want, "bot {}: ledger vs flows + venue fills", b.name);
        for (a, v) in got {
            assert!(v >= Decimal::ZERO, "bot {} holds {v} {a}", b.name);
            *ledgers.entry(a).or_default() += v;
        }
        // Every venue fill recorded once.
        let stored: Vec<String> = store
            .fills(b.id)
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.fill_id)
            .collect();
        let set: HashSet<String> = stored.iter().cloned().collect();
        assert_eq!(
            set.len(),
            stored.len(),
            "bot {}: a fill stored twice",
            b.name
        );
        assert_eq!(
            set,
            venue_fills_of.remove(&b.id).unwrap_or_default(),
            "bot {}: stored fills vs venue fills",
            b.name
        );
    }
    // Isolation: Σ ledgers ≤ account.
    for (asset, sum) in &ledgers {
        let account: Decimal = paper
            .balances
            .iter()
            .filter(|b| &b.asset == asset)
            .map(|b| b.total())
            .sum();
        assert!(
            *sum <= account,
            "{asset}: ledgers {sum} > account {account}"
        );
    }
    // The paper account survived the kills whole: its balances are the starting deposit plus
    // the effect of each of its fills, exactly.
    let mut account: BTreeMap<String, Decimal> = BTreeMap::new();
    account.insert("USDT".into(), Decimal::from(1_000_000_000));
    for f in &paper.fills {
        for (asset, amount, _) in fill_ledger_entries(f) {
            *account.entry(asset).or_default() += amount;
        }
    }
    let account: BTreeMap<String, Decimal> = account
        .into_iter()
        .filter(|(_, v)| !v.is_zero())
        .map(|(a, v)| (a, v.normalize()))
        .collect();
    let held: BTreeMap<String, Decimal> = paper
        .balances
        .iter()
        .filter(|b| !b.total().is_zero())
        .map(|b| (b.asset.clone(), b.total().normalize()))
        .collect();
    assert_eq!(held, account, "paper balances vs deposit + fills");
    assert!(paper.balances.iter().all(|b| b.locked.is_zero()));

    // Ledger entries of a fill are written once.
    use sqlx::ConnectOptions;
    let mut c = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(data.join("smartfolio.db"))
        .read_only(true)
        .connect()
        .await
        .unwrap();
    let dups: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
        "SELECT bot_id, ref, asset, kind, COUNT(*) FROM ledger WHERE kind IN ('trade', 'fee') \
         GROUP BY bot_id, ref, asset, kind HAVING COUNT(*) > 1",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert!(dups.is_empty(), "ledger entries applied twice: {dups:?}");
    Stats {
        bots: bots.len(),
        rebalances,
        interrupted,
        interrupted_deploys,
        orders: paper.orders.len(),
        fills: paper.fills.len(),
    }
}

/// `run --http 0`, returned once it printed its URL: by then it owns the data directory, has
/// recovered it and serves.
fn serve(dir: &Path) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = cmd(dir, &["run", "--http", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).expect("stdout");
    assert!(
        line.starts_with("smartfolio run: http://"),
        "no URL: {line:?}"
    );
    (child, out)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_command_claimed_when_run_http_is_killed_is_failed_by_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("smartfolio.toml"), CONFIG).unwrap();
    let out = cmd(
        d,
        &[
            "bot", "create", "--name", "h", "--assets", "BTC,ETH", "--invest", "1000",
        ],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (mut daemon, _) = serve(d);
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    // What the kill left: a command the daemon had claimed (`queued` → `running`, in its own
    // transaction, as the driver claims) and not finished. The claim is made here, with the
    // daemon dead, because a kill cannot be aimed inside a command's few milliseconds.
    let db = d.join("data");
    let id = block_on(async {
        let store = SqliteStore::open(&db).await.unwrap();
        let id = store
            .enqueue_command(r#"{"cmd":"pause","bot":"h"}"#, 1)
            .await
            .unwrap();
        let claimed = store.claim_command().await.unwrap().expect("claimed");
        assert_eq!((claimed.id, claimed.status), (id, CommandStatus::Running));
        id
    });

    let (mut daemon, mut out) = serve(d);
    let record = block_on(async {
        let store = SqliteStore::open(&db).await.unwrap();
        store.command(id).await.unwrap().unwrap()
    });
    assert_eq!(record.status, CommandStatus::Failed, "{record:?}");
    let result: serde_json::Value =
        serde_json::from_str(record.result.as_deref().unwrap()).unwrap();
    assert_eq!(result["ok"], false);
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("stopped while running"),
        "{result}"
    );
    // It was not run by the restart either: the bot is still running (this `show` goes through
    // the queue to the restarted daemon).
    let show = cmd(d, &["bot", "show", "h", "--json"]).output().unwrap();
    assert!(
        show.status.success(),
        "{}",
        String::from_utf8_lossy(&show.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(v["summary"]["status"], "running", "{v}");

    let _ = Command::new("kill")
        .args(["-INT", &daemon.id().to_string()])
        .status();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(daemon.wait().unwrap().success(), "{rest}");
    assert!(rest.contains("daemon stopped:"), "{rest}");
}
