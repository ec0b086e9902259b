//! The process the crash harness kills (`tests/crash_kill.rs`): three bots on one paper account
//! in `DATA_DIR`, driven by a seeded, volatile price path as fast as it can go, so that deploys
//! and rebalances are in flight most of the time. Every start recovers first, then resumes the
//! price path where the last run left it.
//!
//! Usage: `smartfolio_crash_worker DATA_DIR MAX_TICKS SEED`; with `MAX_TICKS` = 0 it only
//! recovers and checks the invariants (printing `OK ...` or `FAIL ...`, exit code 1 on failure):
//! no client id sent twice, every venue fill recorded once, each asset's ledgers summing to what
//! the account holds (the three bots own the whole account), no rebalance left open and no
//! order left unresolved.

use rust_decimal::Decimal;
use smartfolio_bot::{BotConfig, ManualClock, Runtime};
use smartfolio_core::InstrumentRules;
use smartfolio_exchange::PriceTick;
use smartfolio_exchange::paper::{PaperConfig, PaperExchange, PaperPersistence};
use smartfolio_store::SqliteStore;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

pub const ACCOUNT: &str = "crash";
pub const T0: i64 = 1_700_000_000_000;
const ASSETS: [&str; 3] = ["BTC", "ETH", "SOL"];
const BASE: [i64; 3] = [50_000, 2_500, 100];

fn paper() -> PaperConfig {
    let rules = |lot: &str| InstrumentRules {
        lot_step: Some(lot.parse().unwrap_or(Decimal::ONE)),
        min_notional: Some(Decimal::ONE),
        ..Default::default()
    };
    PaperConfig::new(ACCOUNT, "USDT")
        .with_fee_rate(Decimal::new(1, 3))
        .with_slippage_bps(Decimal::new(5, 0))
        .with_instrument("BTC", rules("0.00001"))
        .with_instrument("ETH", rules("0.0001"))
        .with_instrument("SOL", rules("0.001"))
}

/// A deterministic random walk: ±(0..4)% per tick per asset.
struct Path3 {
    state: u64,
    log: [f64; 3],
}

impl Path3 {
    fn new(seed: u64) -> Self {
        Self {
            state: seed ^ 0x9E37_79B9_7F4A_7C15,
            log: [0.0; 3],
        }
    }
    fn step(&mut self) -> [Decimal; 3] {
        let mut out = [Decimal::ZERO; 3];
        for (i, o) in out.iter_mut().enumerate() {
            self.state = self
                .state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = ((self.state >> 11) as f64) / ((1u64 << 53) as f64);
            self.log[i] = (self.log[i] + (u - 0.5) * 0.08).clamp(-1.5, 1.5);
            let p = BASE[i] as f64 * self.log[i].exp();
            *o = Decimal::from_f64_retain(p)
                .unwrap_or(Decimal::ONE)
                .round_dp(2)
                .max(Decimal::new(1, 2));
        }
        out
    }
}

fn tick_file(dir: &Path) -> PathBuf {
    dir.join("crash-worker-tick.txt")
}

fn bots() -> Vec<BotConfig> {
    let mk = |name: &str, targets: &str, trigger: &str| {
        let mut c =
            BotConfig::new(name, targets, trigger, Decimal::new(10_000, 0)).expect("valid config");
        c.account = ACCOUNT.into();
        c.cooldown_ms = 0;
        c.max_tick_age_ms = i64::MAX / 4;
        c.retry_backoff_ms = 1;
        c.snapshot_interval_ms = 3_600_000;
        c
    };
    vec![
        mk("b0", "BTC=50,ETH=50", "threshold:1"),
        mk("b1", "BTC=40,ETH=30,SOL=30", "threshold:2"),
        mk("b2", "ETH=50,SOL=50", "rel-threshold:3"),
    ]
}

async fn run(dir: &Path, max_ticks: u64, seed: u64) -> Result<(), String> {
    let store = Arc::new(SqliteStore::open(dir).await.map_err(|e| e.to_string())?);
    let fresh = store.load_paper(ACCOUNT).await?.is_none();
    let ex = Arc::new(
        PaperExchange::open(paper(), store.clone())
            .await
            .map_err(|e| e.to_string())?,
    );
    if fresh {
        ex.deposit("USDT", Decimal::new(30_000, 0))
            .await
            .map_err(|e| e.to_string())?;
    }
    let clock = Arc::new(ManualClock::new(T0));
    let mut rt = Runtime::new(store.clone(), ex.clone(), clock.clone(), ACCOUNT);
    rt.instrument_refresh_ms = 3_600_000;
    rt.recover().await.map_err(|e| e.to_string())?;
    if max_ticks == 0 {
        return check(&rt, &store, &ex).await;
    }
    let start: u64 = std::fs::read_to_string(tick_file(dir))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let mut path = Path3::new(seed);
    for _ in 0..start {
        path.step();
    }
    for i in start..max_ticks {
        std::fs::write(tick_file(dir), (i + 1).to_string()).map_err(|e| e.to_string())?;
        let p = path.step();
        let t = T0 + i as i64 * 60_000;
        clock.set(t);
        let tick = PriceTick {
            time_ms: t,
            prices: ASSETS
                .iter()
                .zip(p)
                .map(|(a, p)| (a.to_string(), p))
                .collect(),
        };
        ex.update_prices(&tick).await.map_err(|e| e.to_string())?;
        rt.observe_prices(&tick);
        for cfg in bots() {
            if rt.resolve(&cfg.name).is_err() {
                rt.create(cfg).await.map_err(|e| e.to_string())?;
            }
        }
        rt.on_tick(&tick).await.map_err(|e| e.to_string())?;
        // A replay: the tick's rebalances end before the next tick.
        rt.settle_executions().await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

async fn check(rt: &Runtime, store: &SqliteStore, ex: &PaperExchange) -> Result<(), String> {
    use smartfolio_exchange::Exchange;
    use smartfolio_store::Store;
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let venue = ex.account().await;
    let mut ids: Vec<&str> = venue.orders.iter().map(|o| o.client_id.as_str()).collect();
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    if ids.len() != n {
        return Err(format!(
            "FAIL duplicate client ids at the venue ({n} orders, {} distinct)",
            ids.len()
        ));
    }
    let bots = store.list_bots().await.map_err(|x| e(&x))?;
    let mut fills = 0;
    let mut rebalances = 0;
    let mut interrupted = 0;
    for b in &bots {
        fills += store.fills(b.id).await.map_err(|x| e(&x))?.len();
        for r in store.rebalances(b.id).await.map_err(|x| e(&x))? {
            rebalances += 1;
            if r.status == "interrupted" {
                interrupted += 1;
            }
        }
    }
    if fills != venue.fills.len() {
        return Err(format!(
            "FAIL {} venue fills, {fills} recorded",
            venue.fills.len()
        ));
    }
    let open = store.open_rebalances().await.map_err(|x| e(&x))?.len();
    let unfinished = store.unfinished_orders().await.map_err(|x| e(&x))?.len();
    if open > 0 || unfinished > 0 {
        return Err(format!(
            "FAIL {open} open rebalances, {unfinished} unresolved orders after recovery"
        ));
    }
    let iso = rt.check_isolation().await.map_err(|x| e(&x))?;
    if !iso.ok {
        return Err(format!("FAIL isolation {iso:?}"));
    }
    if bots.len() == 3 {
        for bal in ex.balances().await.map_err(|x| e(&x))? {
            let ledgers = iso
                .lines
                .iter()
                .find(|l| l.asset == bal.asset)
                .map(|l| l.ledgers)
                .unwrap_or_default();
            if ledgers != bal.total() {
                return Err(format!(
                    "FAIL {}: ledgers {ledgers} != account {}",
                    bal.asset,
                    bal.total()
                ));
            }
        }
    }
    println!(
        "OK bots={} orders={n} fills={fills} rebalances={rebalances} interrupted={interrupted}",
        bots.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: smartfolio_crash_worker DATA_DIR MAX_TICKS SEED");
        return ExitCode::from(2);
    }
    let (Ok(max_ticks), Ok(seed)) = (args[2].parse::<u64>(), args[3].parse::<u64>()) else {
        eprintln!("MAX_TICKS and SEED must be non-negative integers");
        return ExitCode::from(2);
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(Path::new(&args[1]), max_ticks, seed)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash worker: {e}");
            ExitCode::FAILURE
        }
    }
}
