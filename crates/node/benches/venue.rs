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
use smartfolio_sim::{Calls, Faults, RunningSim, SimConfig, Simulator};
use std::path::Path;
use std::time::{Duration, Instant};

const KEY: &str = "bench-key";
const SECRET: &str = "bench-secret";
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

async fn simulator() -> (Simulator, RunningSim) {
    let sim = Simulator::new(SimConfig {
        api_key: KEY.into(),
        api_secret: SECRET.to_string().into(),
        paper: instruments(PaperConfig::new("sim", "USDT")),
        balances: vec![("USDT".into(), Decimal::from(100_000_000))],
        market: None,
        history_ms: 0,
        // A hundred bots deployed in a few seconds use more than Binance's 6000 a minute.
        faults: Faults {
            weight_limit: Some(1_000_000),
            ..Faults::default()
        },
        persistence: None,
    })
    .await
    .unwrap();
    set(&sim, 40_000).await;
    let server = sim.serve(([127, 0, 0, 1], 0).into()).await.unwrap();
    (sim, server)
}

async fn set(sim: &Simulator, btc: i64) {
    let p = prices(btc);
    let p: Vec<(&str, Decimal)> = p.iter().map(|(a, v)| (a.as_str(), *v)).collect();
    sim.set_prices(&p).await.unwrap();
}

fn config(dir: &Path, sim: Option<&RunningSim>) -> NodeConfig {
    let venue = match sim {
        Some(s) => VenueConfig {
            kind: VenueKind::Binance,
            base_url: Some(s.base_url()),
            keys: Some(ApiKeys {
                api_key: SecretString::from(KEY.to_string()),
                api_secret: SecretString::from(SECRET.to_string()),
                passphrase: None,
            }),
            allow_withdrawal_keys: false,
            timeouts: Default::default(),
        },
        None => VenueConfig {
            kind: VenueKind::Paper,
            base_url: None,
            keys: None,
            allow_withdrawal_keys: false,
            timeouts: Default::default(),
        },
    };
    NodeConfig {
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
            start_ms: 0,
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
async fn open(dir: &Path, sim: Option<&RunningSim>) -> (Host, Bots) {
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

/// Deploy a 3-asset bot, then `rounds` threshold rebalances (BTC ±15 % in turn, 3.6 points of
/// drift against a 1-point threshold), each timed from the tick to its close. The calls of the
/// deploy and of the first rebalance, on the simulator.
async fn rebalances(sim: Option<&(Simulator, RunningSim)>, rounds: usize) -> Vec<Duration> {
    let dir = tempfile::tempdir().unwrap();
    let (host, mut bots) = open(dir.path(), sim.map(|s| &s.1)).await;
    driver::step(&mut bots, &tick(40_000)).await.unwrap();
    if let Some((s, _)) = sim {
        s.take_calls();
    }
    run(&host, &mut bots, create("b")).await;
    if let Some((s, _)) = sim {
        print_calls("deploy of a 3-asset bot (binance sim)", &s.take_calls());
    }
    let mut took = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let btc = if i % 2 == 0 { 46_000 } else { 40_000 };
        if let Some((s, _)) = sim {
            set(s, btc).await;
            s.take_calls();
        }
        let t = tick(btc);
        let t0 = Instant::now();
        let r = driver::step(&mut bots, &t).await.unwrap();
        took.push(t0.elapsed());
        assert_eq!(r.rebalanced, 1, "round {i}: {r:?}");
        if let (Some((s, _)), 0) = (sim, i) {
            print_calls(
                "one threshold rebalance of the 3-asset bot (binance sim)",
                &s.take_calls(),
            );
        }
    }
    took
}

/// 100 bots deployed, then the daemon gone: with `in_flight`, after a tick that left one order
/// of each bot taken by the venue and never answered. The time and calls of the next start.
async fn reconciliation(
    sim: Option<&(Simulator, RunningSim)>,
    in_flight: bool,
) -> (Duration, Option<Calls>, usize) {
    const BOTS: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    {
        let (host, mut bots) = open(dir.path(), sim.map(|s| &s.1)).await;
        driver::step(&mut bots, &tick(40_000)).await.unwrap();
        for i in 0..BOTS {
            run(&host, &mut bots, create(&format!("b{i}"))).await;
        }
        if in_flight {
            let (s, _) = sim.expect("in flight on the simulator");
            let before = s.paper().account().await.orders.len();
            s.set_faults(Faults {
                hang_after_order: BOTS as u32,
                ..s.faults()
            })
            .unwrap();
            set(s, 46_000).await;
            // Only started: each bot's first order is sent on its own task.
            let t = tick(46_000);
            bots.clock.set(t.time_ms);
            bots.rt.on_tick(&t).await.unwrap();
            // Until the venue has taken them all (a bench may wait on the venue's state).
            while s.paper().account().await.orders.len() < before + BOTS {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            s.set_faults(Faults {
                hang_after_order: 0,
                ..s.faults()
            })
            .unwrap();
        }
        drop(bots);
        drop(host);
    }
    if let Some((s, _)) = sim {
        s.take_calls();
    }
    let t0 = Instant::now();
    let lease = Lease::take(dir.path(), Duration::ZERO).await.unwrap();
    let (host, mut bots) = Host::open(config(dir.path(), sim.map(|s| &s.1)), lease)
        .await
        .unwrap();
    let started = host.start(&mut bots).await.unwrap();
    let took = t0.elapsed();
    assert_eq!(bots.rt.list().len(), BOTS);
    (
        took,
        sim.map(|(s, _)| s.take_calls()),
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
        let sim = simulator().await;
        println!("## calls (binance sim, no latency injected)\n");
        let mut on_sim = rebalances(Some(&sim), rounds).await;
        let mut on_paper = rebalances(None, rounds).await;
        let (s_min, s_med, s_max) = spread(&mut on_sim);
        let (p_min, p_med, p_max) = spread(&mut on_paper);
        println!("\n## tick → rebalance closed ({rounds} rebalances of a 3-asset bot each)\n");
        println!("venue              min ms   median ms   max ms");
        println!("paper (in process) {p_min:>6.2} {p_med:>11.2} {p_max:>8.2}");
        println!("binance sim        {s_min:>6.2} {s_med:>11.2} {s_max:>8.2}");
        println!("ratio sim / paper (median): {:.1}", s_med / p_med);

        println!("\n## reconciliation on start, 100 bots\n");
        let (paper, _, _) = reconciliation(None, false).await;
        let (idle, idle_calls, _) = reconciliation(Some(&sim), false).await;
        let (busy, busy_calls, recovered) = reconciliation(Some(&sim), true).await;
        let total = |c: &Option<Calls>| {
            c.as_ref()
                .unwrap()
                .values()
                .fold((0, 0), |(n, w), c| (n + c.0, w + c.1))
        };
        println!("case                                   ms     calls  weight");
        println!(
            "paper, nothing in flight           {:>7.1}         -       -",
            paper.as_secs_f64() * 1e3
        );
        let (n, w) = total(&idle_calls);
        println!(
            "binance sim, nothing in flight     {:>7.1} {n:>9} {w:>7}",
            idle.as_secs_f64() * 1e3
        );
        let (n, w) = total(&busy_calls);
        println!(
            "binance sim, 1 order/bot in flight {:>7.1} {n:>9} {w:>7}  ({recovered} orders recovered)",
            busy.as_secs_f64() * 1e3
        );
        println!(
            "ratio sim / paper, nothing in flight: {:.1}",
            idle.as_secs_f64() / paper.as_secs_f64()
        );
        println!();
        print_calls("start, nothing in flight", idle_calls.as_ref().unwrap());
        print_calls("start, 1 order/bot in flight", busy_calls.as_ref().unwrap());
    });
}
