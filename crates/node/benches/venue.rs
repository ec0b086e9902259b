//! What trading on a venue costs, against the venue simulator on loopback (`smartfolio-sim`,
//! no latency injected), with the paper exchange in process as the peer measured in the same
//! run:
//! - the calls (and request weight) of one deploy and one threshold rebalance of a 3-asset
//!   bot, by endpoint (the simulator counts every request it serves);
//! - the time from the tick that decides a rebalance to its close (every order placed,
//!   acknowledged, looked up and its fills recorded): `driver::step` on a tick whose prices
//!   moved enough to cross the threshold;
//! - the cost of reconciliation on start for 100 bots (`Host::open` + `Host::start`): time and
//!   calls, with nothing in flight, and with one order per bot left in flight by a dead daemon
//!   (orders the venue took but never answered; the next start settles each by client id).
//!
//! Each simulated venue (Binance, OKX, Gate) is measured in the same run, through its own connector
//! against the simulator speaking its REST, beside the paper exchange.
//!
//! `cargo bench -p smartfolio-node --bench venue` (`SMARTFOLIO_BENCH_ROUNDS`, default 40:
//! timed rebalances per venue). Prints tables; nothing is asserted beyond the run being sane.

use rust_decimal::Decimal;
use secrecy::SecretString;
use smartfolio_core::InstrumentRules;
use smartfolio_exchange::PriceTick;
use smartfolio_exchange::paper::PaperConfig;
use smartfolio_node::driver;
use smartfolio_node::venue::{VenueConfig, VenueKind};
use smartfolio_node::{
    ApiKeys, Bots, CreateSpec, Host, Lease, MarketConfig, MarketKind, NodeConfig, Request,
};
use smartfolio_sim::{Calls, Faults, RunningSim, SimConfig, Simulator, Wire};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const KEY: &str = "bench-key";
const SECRET: &str = "bench-secret";
const PASSPHRASE: &str = "bench-passphrase";

/// The simulated venues measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Venue {
    Binance,
    Okx,
    Gate,
}

impl Venue {
    const ALL: [Venue; 3] = [Venue::Binance, Venue::Okx, Venue::Gate];

    fn name(self) -> &'static str {
        match self {
            Venue::Binance => "binance",
            Venue::Okx => "okx",
            Venue::Gate => "gate",
        }
    }

    fn kind(self) -> VenueKind {
        match self {
            Venue::Binance => VenueKind::Binance,
            Venue::Okx => VenueKind::Okx,
            Venue::Gate => VenueKind::Gate,
        }
    }

    fn wire(self) -> Wire {
        match self {
            Venue::Binance => Wire::Binance,
            Venue::Okx => Wire::Okx {
                passphrase: SecretString::from(PASSPHRASE.to_string()),
                demo: false,
            },
            Venue::Gate => Wire::Gate,
        }
    }

    fn passphrase(self) -> Option<SecretString> {
        (self == Venue::Okx).then(|| SecretString::from(PASSPHRASE.to_string()))
    }
}

/// A simulator speaking one venue's REST.
type Sim = (Simulator, RunningSim, Venue);
const ASSETS: [(&str, &str, i64); 3] = [
    ("BTC", "0.00001", 40_000),
    ("ETH", "0.0001", 2_000),
    ("SOL", "0.001", 150),
];

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn rules(lot: &str) -> InstrumentRules {
    InstrumentRules {
        lot_step: Some(d(lot)),
        min_size: Some(d(lot)),
        min_notional: Some(d("5")),
        tick_size: Some(d("0.01")),
    }
}

fn instruments(mut p: PaperConfig) -> PaperConfig {
    for (a, lot, _) in ASSETS {
        p = p.with_instrument(a, rules(lot));
    }
    p
}

/// Prices with BTC at `btc`.
fn prices(btc: i64) -> Vec<(String, Decimal)> {
    ASSETS
        .iter()
        .map(|(a, _, p)| {
            (
                a.to_string(),
                Decimal::from(if *a == "BTC" { btc } else { *p }),
            )
        })
        .collect()
}

async fn simulator(venue: Venue) -> Sim {
    let sim = Simulator::new(SimConfig {
        api_key: KEY.into(),
        api_secret: SECRET.to_string().into(),
        paper: instruments(PaperConfig::new("sim", "USDT")),
        balances: vec![("USDT".into(), Decimal::from(100_000_000))],
        market: None,
        history_ms: 0,
        // A hundred bots deployed in a few seconds use more than Binance's 6000 a minute and
        // its 100 orders per 10 s: the bench measures the calls, not the client's waits.
        faults: Faults {
            weight_limit: Some(1_000_000),
            order_limit: Some(1_000_000),
            ..Faults::default()
        },
        persistence: None,
    })
    .await
    .unwrap();
    set(&sim, 40_000).await;
    let server = sim
        .serve_wire(([127, 0, 0, 1], 0).into(), venue.wire())
        .await
        .unwrap();
    (sim, server, venue)
}

async fn set(sim: &Simulator, btc: i64) {
    let p = prices(btc);
    let p: Vec<(&str, Decimal)> = p.iter().map(|(a, v)| (a.as_str(), *v)).collect();
    sim.set_prices(&p).await.unwrap();
}

/// When the bench started: the paper runs' synthetic market starts there, so that a restart,
/// which resumes the market after the last stored time (the ticks are wall time), skips a few
/// steps, not the 30 million one-minute steps since 1970.
fn start_ms() -> i64 {
    static START: OnceLock<i64> = OnceLock::new();
    *START.get_or_init(wall_ms)
}

/// The node on `dir`: on the simulated venue at `sim` (its base URL), else on paper.
fn config(dir: &Path, sim: Option<(&str, Venue)>) -> NodeConfig {
    let venue = match sim {
        Some((url, v)) => VenueConfig {
            kind: v.kind(),
            base_url: Some(url.to_string()),
            keys: Some(ApiKeys {
                api_key: SecretString::from(KEY.to_string()),
                api_secret: SecretString::from(SECRET.to_string()),
                passphrase: v.passphrase(),
            }),
            allow_withdrawal_keys: false,
            timeouts: Default::default(),
            demo: false,
            prices: None,
        },
        None => VenueConfig {
            kind: VenueKind::Paper,
            base_url: None,
            keys: None,
            allow_withdrawal_keys: false,
            timeouts: Default::default(),
            demo: false,
            prices: None,
        },
    };
    NodeConfig {
        accounts: vec![],
        execution: Default::default(),
        data_dir: dir.to_path_buf(),
        store: None,
        quote: "USDT".into(),
        account: "main".into(),
        paper: instruments(PaperConfig::new("main", "USDT")),
        balances: vec![("USDT".into(), Decimal::from(100_000_000))],
        market: MarketConfig {
            kind: if sim.is_some() {
                MarketKind::Live
            } else {
                MarketKind::Synthetic
            },
            seed: 0,
            assets: ASSETS.iter().map(|a| a.0.to_string()).collect(),
            step_ms: 60_000,
            start_ms: start_ms(),
            correlation: 0.0,
            speed: None,
            replay_path: None,
            interval: None,
            from_ms: None,
            to_ms: None,
            poll_ms: 1_000,
        },
        cooldown_ms: 0,
        snapshot_interval_ms: 86_400_000,
        venue,
    }
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A tick now with BTC at `btc`.
fn tick(btc: i64) -> PriceTick {
    PriceTick {
        time_ms: wall_ms(),
        prices: prices(btc),
    }
}

/// Open and start the node on `dir`: the host (keep it: it holds the lease) and its bots.
async fn open(dir: &Path, sim: Option<(&str, Venue)>) -> (Host, Bots) {
    let lease = Lease::take(dir, Duration::ZERO).await.unwrap();
    let (host, mut bots) = Host::open(config(dir, sim), lease).await.unwrap();
    host.start(&mut bots).await.unwrap();
    (host, bots)
}

async fn run(host: &Host, bots: &mut Bots, req: Request) {
    let out =
        smartfolio_node::command::execute(&mut bots.rt, &req, &host.cfg.defaults(), true).await;
    assert!(out.ok, "{req:?}: {:?}", out.error);
}

fn create(name: &str) -> Request {
    Request::Create {
        spec: Box::new(CreateSpec {
            name: name.into(),
            targets: "BTC=40,ETH=30,SOL=30".into(),
            trigger: Some("threshold:1".into()),
            investment: Some(Decimal::from(10_000)),
            cooldown_ms: Some(0),
            ..CreateSpec::default()
        }),
    }
}

fn print_calls(title: &str, calls: &Calls) {
    let (n, w): (u64, u64) = calls.values().fold((0, 0), |(n, w), c| (n + c.0, w + c.1));
    println!("{title}: {n} calls, weight {w}");
    for (endpoint, (count, weight)) in calls {
        println!("  {endpoint:<40} {count:>5} {weight:>7}");
    }
}

/// (min, median, max) of `xs`, in ms.
fn spread(xs: &mut [Duration]) -> (f64, f64, f64) {
    xs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (ms(xs[0]), ms(xs[xs.len() / 2]), ms(xs[xs.len() - 1]))
}

/// The calls of a deploy and of one rebalance, and each rebalance's time.
struct Rounds {
    deploy: Option<Calls>,
    rebalance: Option<Calls>,
    took: Vec<Duration>,
}

/// Deploy a 3-asset bot, then `rounds` threshold rebalances (BTC ±15 % in turn, 3.6 points of
/// drift against a 1-point threshold), each timed from the tick to its close. The calls of the
/// deploy and of the first rebalance, on the simulator.
async fn rebalances(sim: Option<&Sim>, rounds: usize) -> Rounds {
    let dir = tempfile::tempdir().unwrap();
    let url = sim.map(|s| (s.1.base_url(), s.2));
    let (host, mut bots) = open(dir.path(), url.as_ref().map(|(u, v)| (u.as_str(), *v))).await;
    driver::step(&mut bots, &tick(40_000)).await.unwrap();
    if let Some((s, _, _)) = sim {
        s.take_calls();
    }
    run(&host, &mut bots, create("b")).await;
    let deploy = sim.map(|(s, _, _)| s.take_calls());
    let mut rebalance = None;
    let mut took = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let btc = if i % 2 == 0 { 46_000 } else { 40_000 };
        if let Some((s, _, _)) = sim {
            set(s, btc).await;
            s.take_calls();
        }
        let t = tick(btc);
        let t0 = Instant::now();
        let r = driver::step(&mut bots, &t).await.unwrap();
        took.push(t0.elapsed());
        assert_eq!(r.rebalanced, 1, "round {i}: {r:?}");
        if let (Some((s, _, _)), 0) = (sim, i) {
            rebalance = Some(s.take_calls());
        }
    }
    Rounds {
        deploy,
        rebalance,
        took,
    }
}

const BOTS: usize = 100;

/// A daemon on `dir` deploys 100 bots; with `in_flight`, a tick then starts a rebalance of
/// each and the venue takes each bot's first order and never answers it. Run on a runtime of
/// its own, which the caller shuts down: the daemon's tasks end where they are, as a killed
/// process's do, so none of them calls the venue while the next start is measured.
async fn deploy(dir: &Path, sim: Option<(Simulator, String, Venue)>, in_flight: bool) {
    let (host, mut bots) = open(dir, sim.as_ref().map(|s| (s.1.as_str(), s.2))).await;
    driver::step(&mut bots, &tick(40_000)).await.unwrap();
    for i in 0..BOTS {
        run(&host, &mut bots, create(&format!("b{i}"))).await;
    }
    if in_flight {
        let (s, _, _) = sim.expect("in flight on the simulator");
        s.set_faults(Faults {
            hang_after_order: BOTS as u32,
            ..s.faults()
        })
        .unwrap();
        set(&s, 46_000).await;
        // Only started: each bot's first order is sent on its own task.
        let t = tick(46_000);
        bots.clock.set(t.time_ms);
        let r = bots.rt.on_tick(&t).await.unwrap();
        assert_eq!(r.rebalanced, BOTS, "{r:?}");
        // Until the venue has taken them all: each placement it takes counts the fault down
        // (a bench may wait on the venue's state). The client's timeout (10 s) is far off.
        let t0 = Instant::now();
        while s.faults().hang_after_order > 0 {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "the venue took {} of the {BOTS} orders in a minute",
                BOTS as u32 - s.faults().hang_after_order
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    drop(bots);
    drop(host);
}

/// 100 bots deployed, then the daemon gone ([`deploy`]). The time and calls of the next start
/// (`Host::open` + `Host::start`), and the orders it recovered.
async fn reconciliation(sim: Option<&Sim>, in_flight: bool) -> (Duration, Option<Calls>, usize) {
    let dir = tempfile::tempdir().unwrap();
    let url = sim.map(|s| (s.1.base_url(), s.2));
    let daemon = (
        dir.path().to_path_buf(),
        sim.map(|s| (s.0.clone(), s.1.base_url(), s.2)),
    );
    tokio::task::spawn_blocking(move || {
        let (dir, sim): (PathBuf, _) = daemon;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(deploy(&dir, sim, in_flight));
        rt.shutdown_background();
    })
    .await
    .unwrap();
    if let Some((s, _, _)) = sim {
        s.set_faults(Faults {
            hang_after_order: 0,
            ..s.faults()
        })
        .unwrap();
        s.take_calls();
    }
    let t0 = Instant::now();
    let lease = Lease::take(dir.path(), Duration::ZERO).await.unwrap();
    let (host, mut bots) = Host::open(
        config(dir.path(), url.as_ref().map(|(u, v)| (u.as_str(), *v))),
        lease,
    )
    .await
    .unwrap();
    let started = host.start(&mut bots).await.unwrap();
    let took = t0.elapsed();
    assert_eq!(bots.rt.list().len(), BOTS);
    if in_flight {
        assert_eq!(started.recovered_orders, BOTS);
    }
    (
        took,
        sim.map(|(s, _, _)| s.take_calls()),
        started.recovered_orders,
    )
}

fn main() {
    let rounds = std::env::var("SMARTFOLIO_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut on_paper = rebalances(None, rounds).await.took;
        let (p_min, p_med, p_max) = spread(&mut on_paper);
        let total = |c: &Calls| c.values().fold((0, 0), |(n, w), c| (n + c.0, w + c.1));
        let mut rows = Vec::new();
        for venue in Venue::ALL {
            let v = venue.name();
            let sim = simulator(venue).await;
            let mut r = rebalances(Some(&sim), rounds).await;
            println!("## calls ({v} sim, no latency injected)\n");
            print_calls(
                &format!("deploy of a 3-asset bot ({v} sim)"),
                r.deploy.as_ref().unwrap(),
            );
            print_calls(
                &format!("one threshold rebalance of the 3-asset bot ({v} sim)"),
                r.rebalance.as_ref().unwrap(),
            );
            println!();
            let (deploy, _) = total(r.deploy.as_ref().unwrap());
            let (rebalance, _) = total(r.rebalance.as_ref().unwrap());
            rows.push((v, deploy, rebalance, spread(&mut r.took)));
        }
        println!("## per venue: calls, and tick → rebalance closed ({rounds} rebalances of a 3-asset bot each)\n");
        println!("venue              calls/deploy  calls/rebalance   min ms   median ms   max ms   median / paper");
        println!(
            "paper (in process) {:>12} {:>16} {p_min:>8.2} {p_med:>11.2} {p_max:>8.2}",
            "-", "-"
        );
        for (v, deploy, rebalance, (min, med, max)) in rows {
            println!(
                "{:<18} {deploy:>12} {rebalance:>16} {min:>8.2} {med:>11.2} {max:>8.2} {:>16.1}",
                format!("{v} sim"),
                med / p_med
            );
        }

        println!("\n## reconciliation on start, 100 bots\n");
        let (paper, _, _) = reconciliation(None, false).await;
        println!("case                                   ms     calls  weight");
        println!(
            "paper, nothing in flight           {:>7.1}         -       -",
            paper.as_secs_f64() * 1e3
        );
        let mut detail = Vec::new();
        for venue in Venue::ALL {
            let v = venue.name();
            // A simulator of its own for each: a new data directory's bots reuse the client
            // ids (`sf1r2l0`) of the runs before on the same account, which the venue refuses
            // as duplicates.
            let (idle, idle_calls, _) = reconciliation(Some(&simulator(venue).await), false).await;
            let (busy, busy_calls, recovered) =
                reconciliation(Some(&simulator(venue).await), true).await;
            let (n, w) = total(idle_calls.as_ref().unwrap());
            println!(
                "{:<34} {:>7.1} {n:>9} {w:>7}  (ratio to paper {:.1})",
                format!("{v} sim, nothing in flight"),
                idle.as_secs_f64() * 1e3,
                idle.as_secs_f64() / paper.as_secs_f64()
            );
            let (n, w) = total(busy_calls.as_ref().unwrap());
            println!(
                "{:<34} {:>7.1} {n:>9} {w:>7}  ({recovered} orders recovered)",
                format!("{v} sim, 1 order/bot in flight"),
                busy.as_secs_f64() * 1e3
            );
            detail.push((v, idle_calls, busy_calls));
        }
        for (v, idle, busy) in detail {
            println!();
            print_calls(&format!("{v}: start, nothing in flight"), idle.as_ref().unwrap());
            print_calls(&format!("{v}: start, 1 order/bot in flight"), busy.as_ref().unwrap());
        }
    });
}
