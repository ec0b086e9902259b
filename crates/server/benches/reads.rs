//! Dashboard readers against the bots' ticks (issue 15: 50 concurrent readers at ≥ 2,000
//! requests/s while the ticks keep their pace). Run by `scripts/bench-reads.sh`, or
//! `cargo bench -p smartfolio-server --bench reads` with `wrk` on the PATH.
//!
//! The store is the history bench's (`crates/bot/benches/common`): bot 1, `long`, with a year
//! of hourly snapshots and 1,000 rebalances. Three more bots (threshold 1 %) run on a synthetic
//! hourly market paced as the demo's (48 ticks a second), on the server's own driver loop, and
//! the server listens on loopback. Phases, each `BENCH_SECONDS` (default 15):
//!
//! 1. `idle`: no reader: the pace the ticks keep alone;
//! 2. `wrk -c50` on each read route in turn: `summary` (`GET /api/bots/1`), `page`
//!    (`/api/bots/1/rebalances?limit=50`), `list` (`/api/bots`), `status` (`/api/status`),
//!    `metrics` (`/metrics`), `history` (`/api/bots/1/history?last=50&points=200`); then the
//!    page and the history again with a query that differs per request (`page/each`: the
//!    same page with a random `from` before the first rebalance; `history/each`: `last` 45 to
//!    55, `points` 150 to 250, by a wrk script), so no two readers share an answer
//!    (`Reads::shared`): what each read costs;
//! 3. `idle` again.
//!
//! For each: the ticks run per second against the ticks due (the pace), the mean time of a
//! tick, how far the last tick ran behind its due time, and wrk's requests/s and latency.
//!
//! `BENCH_DRIVER=own` (the default: how the server runs it) puts the driver's loop on a thread
//! and a tokio runtime of its own; `BENCH_DRIVER=caller` runs it as a task of the runtime that
//! serves HTTP, beside the readers' tasks (how it ran before): the script runs both.

#[path = "../../bot/benches/common/mod.rs"]
mod common;

use rust_decimal::Decimal;
use smartfolio_bot::{BotConfig, Clock};
use smartfolio_exchange::feed::{SyntheticConfig, SyntheticMarket};
use smartfolio_node::Market;
use smartfolio_node::driver::DriveOptions;
use smartfolio_server::actor::{DriverThread, spawn_driver_on};
use smartfolio_server::{AppState, Core, RuntimeHandle, TokenCheck};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The demo's pace: an hour of market time per tick, 48 ticks per wall second.
const STEP_MS: i64 = 3_600_000;
const TICKS_PER_SECOND: f64 = 48.0;

/// What the loop has done so far.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    ticks: u64,
    /// Sum of the ticks' durations (s).
    tick_seconds: f64,
    market_ms: i64,
}

async fn sample(h: &RuntimeHandle) -> Sample {
    h.read(|c| {
        Box::pin(async move {
            Sample {
                at: Instant::now(),
                ticks: c.ticks,
                tick_seconds: c.metrics.tick_seconds_sum(),
                market_ms: c.last_tick.as_ref().map_or(0, |t| t.time_ms),
            }
        })
    })
    .await
    .expect("the loop answers")
}

/// One phase's line: the pace and the readers' figures.
fn report(name: &str, a: Sample, b: Sample, start: (Instant, i64), wrk: Option<&str>) {
    let wall = (b.at - a.at).as_secs_f64();
    let ticks = (b.ticks - a.ticks) as f64;
    let mean_ms = if ticks > 0.0 {
        (b.tick_seconds - a.tick_seconds) / ticks * 1e3
    } else {
        0.0
    };
    // Where the market should be by now at the pace, against where it is.
    let due_ms = start.1 + ((b.at - start.0).as_secs_f64() * TICKS_PER_SECOND) as i64 * STEP_MS;
    let behind_ticks = (due_ms - b.market_ms) as f64 / STEP_MS as f64;
    println!(
        "{name:8} ticks {:.1}/s (due {TICKS_PER_SECOND:.1}/s, {:.1} %), tick {mean_ms:.3} ms mean, \
         {behind_ticks:.0} ticks behind at the end",
        ticks / wall,
        100.0 * ticks / wall / TICKS_PER_SECOND
    );
    if let Some(out) = wrk {
        let keep = |l: &&str| {
            let l = l.trim_start();
            l.starts_with("Latency")
                || l.starts_with("Requests/sec")
                || l.starts_with("50%")
                || l.starts_with("90%")
                || l.starts_with("99%")
                || l.contains("requests in")
                || l.starts_with("Non-2xx")
                || l.starts_with("Socket errors")
        };
        for l in out.lines().filter(keep) {
            println!("         {}", l.trim());
        }
    }
}

/// wrk's output after `seconds` on `url`, its requests' paths made by the Lua `script` if any.
fn wrk(url: &str, seconds: u64, script: Option<&str>) -> String {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c50", &format!("-d{seconds}s"), "--latency"]);
    // Kept until wrk has run.
    let file = script.map(|lua| {
        let f = tempfile::Builder::new().suffix(".lua").tempfile().unwrap();
        std::fs::write(f.path(), lua).unwrap();
        f
    });
    if let Some(f) = &file {
        cmd.arg("-s").arg(f.path());
    }
    let out = cmd
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("wrk could not run ({e}): apt-get install -y wrk"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("Non-2xx"), "answers other than 200: {text}");
    text
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would run this without it.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let thread = match std::env::var("BENCH_DRIVER").as_deref() {
        Ok("caller") => DriverThread::Caller,
        Ok("own") | Err(_) => DriverThread::Own,
        Ok(other) => panic!("BENCH_DRIVER={other}: allowed: own, caller"),
    };
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(async move {
        let built = Instant::now();
        let s = common::setup().await;
        let common::Setup {
            dir: _dir,
            store,
            ex,
            clock,
            rt,
            id,
        } = s;
        assert_eq!(id, 1);
        // The history was written into the store behind the setup's runtime (its rebalances'
        // sequence numbers among them): the bench's runtime loads the store as `run` would.
        drop(rt);
        let mut rt = smartfolio_bot::Runtime::new(store, ex.clone(), clock.clone(), "main");
        rt.load().await.unwrap();
        rt.observe_prices(&common::prices(clock.now_ms()));
        for (k, targets) in ["BTC=50,ETH=50", "BTC=40,ETH=30,SOL=30", "ETH=60,SOL=40"]
            .iter()
            .enumerate()
        {
            let cfg = BotConfig::new(
                &format!("ticking-{k}"),
                targets,
                "threshold:1",
                Decimal::from(5_000),
            )
            .unwrap();
            let b = rt.create(cfg).await.unwrap();
            rt.deploy(b).await.unwrap();
        }
        println!(
            "store: a year of hourly snapshots and {} rebalances of bot 1, built in {:.1} s",
            common::REBALANCES,
            built.elapsed().as_secs_f64()
        );
        let end = clock.now_ms();
        let mut cfg = SyntheticConfig::new(&["BTC", "ETH", "SOL"], 11);
        cfg.start_ms = end + STEP_MS;
        cfg.step_ms = STEP_MS;
        let market = Market::from_feed(
            Box::new(SyntheticMarket::new(cfg).unwrap()),
            Some(TICKS_PER_SECOND * STEP_MS as f64 / 1000.0),
        );
        let core = Core::new(rt, ex, clock);
        let (handle, task) = spawn_driver_on(
            thread,
            core,
            None,
            Some(market),
            DriveOptions::default(),
            std::future::pending(),
        );
        let app = smartfolio_server::router(AppState {
            handle: handle.clone(),
            token: Arc::new(TokenCheck::for_token(&"0".repeat(64))),
            mode: Arc::from("bench"),
            node: Arc::default(),
            closing: tokio::sync::watch::channel(false).1,
            queue: None,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let base = format!("http://{addr}");

        // The pace is measured from the first tick on.
        tokio::time::sleep(Duration::from_secs(2)).await;
        if task.is_finished() {
            let driven = task.await.expect("the driver task");
            panic!(
                "the driver loop ended before the readers: {:?}",
                driven.summary.err()
            );
        }
        let first = sample(&handle).await;
        let start = (first.at, first.market_ms);
        println!(
            "server {base}: 3 bots ticking at {TICKS_PER_SECOND} ticks/s, phases of {seconds} s, \
             the driver's loop on {}",
            match thread {
                DriverThread::Own => "its own thread (BENCH_DRIVER=own)",
                DriverThread::Caller => "the HTTP runtime (BENCH_DRIVER=caller)",
            }
        );

        let idle = |name: &'static str| {
            let h = handle.clone();
            async move {
                let a = sample(&h).await;
                tokio::time::sleep(Duration::from_secs(seconds)).await;
                let b = sample(&h).await;
                report(name, a, b, start, None);
            }
        };
        idle("idle").await;
        // A path per request: the same answers as `page` and `history`, never shared.
        const PAGE_EACH: &str = "request = function() return wrk.format(nil, \
            '/api/bots/1/rebalances?limit=50&from=' .. math.random(0, 1000000000)) end";
        const HISTORY_EACH: &str = "request = function() return wrk.format(nil, \
            '/api/bots/1/history?last=' .. math.random(45, 55) .. '&points=' .. \
            math.random(150, 250)) end";
        for (name, path, script) in [
            ("summary", "/api/bots/1", None),
            ("page", "/api/bots/1/rebalances?limit=50", None),
            ("list", "/api/bots", None),
            ("status", "/api/status", None),
            ("metrics", "/metrics", None),
            ("history", "/api/bots/1/history?last=50&points=200", None),
            (
                "page/each",
                "/api/bots/1/rebalances?limit=50&from=RANDOM",
                Some(PAGE_EACH),
            ),
            (
                "history/each",
                "/api/bots/1/history?last=45..55&points=150..250",
                Some(HISTORY_EACH),
            ),
        ] {
            let a = sample(&handle).await;
            // A script makes the paths (wrk takes the host from the URL).
            let url = match script {
                Some(_) => base.clone(),
                None => format!("{base}{path}"),
            };
            let out = tokio::task::spawn_blocking(move || wrk(&url, seconds, script))
                .await
                .unwrap();
            let b = sample(&handle).await;
            println!("{name:8} wrk -t2 -c50 {path}");
            report(name, a, b, start, Some(&out));
        }
        idle("idle").await;
    });
}
