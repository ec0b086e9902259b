//! What `smartfolio sim` runs: a simulator of one venue on a synthetic market, from the
//! command's options (the command line only parses them and calls [`run`]).

use crate::{Faults, SimConfig, SimError, SimMarket, Simulator, Wire};
use rust_decimal::Decimal;
use smartfolio_data::LoadOptions;
use smartfolio_exchange::InstrumentRules;
use smartfolio_exchange::feed::{PriceFeed, ReplayFeed, ReplayOptions, SyntheticConfig};
use smartfolio_exchange::paper::PaperConfig;
use smartfolio_store::{SqliteStore, StoreError};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// The quote of every simulated instrument.
pub const QUOTE: &str = "USDT";

/// The instruments the command lists, with Binance-like rules (lot step, minimum size, minimum
/// notional, tick).
pub const INSTRUMENTS: [(&str, &str, &str, &str, &str); 4] = [
    ("BTC", "0.00001", "0.00001", "5", "0.01"),
    ("ETH", "0.0001", "0.0001", "5", "0.01"),
    ("SOL", "0.001", "0.001", "5", "0.01"),
    ("BNB", "0.001", "0.001", "5", "0.1"),
];

/// The market moves one synthetic step per this many milliseconds of the simulator's clock.
pub const STEP_MS: i64 = 1_000;

/// The made-up history before the start: a day of one-minute prices (for `klines` and
/// `ticker/24hr`).
pub const HISTORY_MS: i64 = 86_400_000;

/// The options of `smartfolio sim`, as given.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// `binance`, `okx` or `gate`.
    pub venue: String,
    /// The loopback port (0: any free port).
    pub port: u16,
    /// `USDT=10000,BTC=0.1`.
    pub balances: String,
    /// A fault spec ([`Faults::parse`]).
    pub faults: Option<String>,
    /// Seed of the synthetic market.
    pub seed: u64,
    /// The account's key and secret.
    pub api_key: String,
    pub api_secret: String,
    /// The key's passphrase (OKX; `SMARTFOLIO_API_PASSPHRASE`).
    pub api_passphrase: Option<String>,
    /// OKX: the key is a demo-trading key (requests carry `x-simulated-trading: 1`).
    pub demo: bool,
    /// Where the account is kept across restarts (`smartfolio.db` in it); `None`: in memory.
    pub data_dir: Option<PathBuf>,
    /// Which of [`INSTRUMENTS`] to list, `BTC,ETH` (`None`: all of them).
    pub assets: Option<String>,
    /// Replay this history (a folder or a wide CSV, as `backtest --data` reads) one bar per
    /// step instead of the synthetic market.
    pub replay: Option<PathBuf>,
    /// The candle interval of a replay folder (`1h`); `None`: the finest every asset has.
    pub interval: Option<String>,
    /// How much faster than the clock the synthetic market moves: each step (one per
    /// [`STEP_MS`] of the clock) covers `speed` × [`STEP_MS`] of the model's time. 1: real
    /// time; 3600: an hour a second, prices that cross tight thresholds every few steps (crash
    /// tests, benches).
    pub speed: u32,
}

/// The largest `--speed`: a year of market moves per second of the clock.
pub const MAX_SPEED: u32 = 31_536_000;

/// The bases `--assets` lists (all of [`INSTRUMENTS`] when `None`), each once, in the order
/// given; the error names the value and what is allowed.
pub fn parse_assets(spec: Option<&str>) -> Result<Vec<&'static str>, SimError> {
    let known: Vec<&'static str> = INSTRUMENTS.iter().map(|i| i.0).collect();
    let Some(spec) = spec else {
        return Ok(known);
    };
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let base = known
            .iter()
            .find(|k| k.eq_ignore_ascii_case(part))
            .ok_or_else(|| {
                SimError::Config(format!(
                    "--assets \"{part}\" is not allowed: one of {}",
                    known.join(", ")
                ))
            })?;
        if !out.contains(base) {
            out.push(*base);
        }
    }
    if out.is_empty() {
        return Err(SimError::Config(format!(
            "--assets \"{spec}\" is not allowed: at least one of {}",
            known.join(", ")
        )));
    }
    Ok(out)
}

/// `USDT=10000,BTC=0.1` as `(asset, amount)`; the error names the part, the value and what is
/// allowed.
pub fn parse_balances(spec: &str) -> Result<Vec<(String, Decimal)>, SimError> {
    let mut out: Vec<(String, Decimal)> = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = |why: &str| {
            SimError::Config(format!(
                "--balances \"{part}\" is not allowed: {why} (e.g. USDT=10000,BTC=0.1)"
            ))
        };
        let (asset, amount) = part.split_once('=').ok_or_else(|| bad("ASSET=AMOUNT"))?;
        let asset = asset.trim().to_ascii_uppercase();
        if asset.is_empty() || !asset.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad("the asset is letters and digits"));
        }
        let amount: Decimal = amount
            .trim()
            .parse()
            .map_err(|_| bad("the amount is a decimal number"))?;
        if amount <= Decimal::ZERO {
            return Err(bad("the amount is above zero"));
        }
        if out.iter().any(|(a, _)| *a == asset) {
            return Err(bad("each asset once"));
        }
        out.push((asset, amount));
    }
    Ok(out)
}

/// The venue's REST that `options` ask for, with its keys; the error names the option or
/// variable, the value and what is allowed.
pub fn wire(options: &SimOptions) -> Result<Wire, SimError> {
    match options.venue.trim() {
        "binance" | "gate" if options.demo => Err(SimError::Config(
            "--demo is only for --venue okx (OKX's demo trading)".into(),
        )),
        "binance" => Ok(Wire::Binance),
        "okx" => match options.api_passphrase.as_deref().map(str::trim) {
            Some(p) if !p.is_empty() => Ok(Wire::Okx {
                passphrase: p.to_string().into(),
                demo: options.demo,
            }),
            _ => Err(SimError::Config(
                "SMARTFOLIO_API_PASSPHRASE is not set: an OKX key has a passphrase (any \
                 string; clients send it with the key)"
                    .into(),
            )),
        },
        "gate" => Ok(Wire::Gate),
        other => Err(SimError::Config(format!(
            "--venue \"{other}\" is not allowed: binance, okx or gate"
        ))),
    }
}

/// The simulator's configuration for `options`, starting its market at `now_ms`.
pub fn config(options: &SimOptions, now_ms: i64) -> Result<SimConfig, SimError> {
    wire(options)?;
    if options.api_secret.is_empty() {
        return Err(SimError::Config(
            "SMARTFOLIO_API_SECRET is empty: the simulator needs the secret its clients sign with"
                .into(),
        ));
    }
    let bases = parse_assets(options.assets.as_deref())?;
    let mut paper = PaperConfig::new("sim", QUOTE);
    for (base, step, min, notional, tick) in
        INSTRUMENTS.into_iter().filter(|i| bases.contains(&i.0))
    {
        let d = |s: &str| s.parse::<Decimal>().ok();
        paper = paper.with_instrument(
            base,
            InstrumentRules {
                lot_step: d(step),
                min_size: d(min),
                min_notional: d(notional),
                tick_size: d(tick),
            },
        );
    }
    let (market, history_ms) = match &options.replay {
        Some(_) if options.speed != 1 => {
            return Err(SimError::Config(format!(
                "--speed {} is only for the synthetic market (a replay plays one bar a second)",
                options.speed
            )));
        }
        Some(path) => {
            let load = LoadOptions {
                assets: bases.iter().map(|b| b.to_string()).collect(),
                interval: options.interval.clone(),
                from_ms: None,
                to_ms: None,
            };
            let feed = ReplayFeed::load(path, &load, QUOTE, ReplayOptions::default())
                .map_err(|e| SimError::Config(format!("--replay {}: {e}", path.display())))?;
            let missing: Vec<&str> = bases
                .iter()
                .filter(|b| !feed.assets().iter().any(|a| a == *b))
                .copied()
                .collect();
            if !missing.is_empty() {
                return Err(SimError::Config(format!(
                    "--replay {} has no prices of {}: replay a file that has them, or list \
                     only those it has with --assets",
                    path.display(),
                    missing.join(", ")
                )));
            }
            let step_ms = STEP_MS;
            (SimMarket::Replay { feed, step_ms }, 0)
        }
        None => {
            if options.interval.is_some() {
                return Err(SimError::Config(
                    "--interval is only for --replay (the synthetic market steps every second)"
                        .into(),
                ));
            }
            if !(1..=MAX_SPEED).contains(&options.speed) {
                return Err(SimError::Config(format!(
                    "--speed {} is not allowed: a whole number from 1 (real time) to {MAX_SPEED} \
                     (a year a second)",
                    options.speed
                )));
            }
            let mut market = SyntheticConfig::new(&bases, options.seed);
            market.quote = QUOTE.into();
            market.start_ms = now_ms;
            // Each step covers `speed` × STEP_MS of the model's time; the server takes one
            // every STEP_MS of its clock (`ticks_per_second`).
            market.step_ms = STEP_MS * i64::from(options.speed);
            market.ticks_per_second = Some(1_000.0 / STEP_MS as f64);
            (SimMarket::Synthetic(market), HISTORY_MS)
        }
    };
    Ok(SimConfig {
        api_key: options.api_key.clone(),
        api_secret: options.api_secret.clone().into(),
        paper,
        balances: parse_balances(&options.balances)?,
        market: Some(market),
        history_ms,
        persistence: None,
        faults: match &options.faults {
            Some(spec) => Faults::parse(spec).map_err(|e| SimError::Config(e.to_string()))?,
            None => Faults::default(),
        },
    })
}

/// Open the account store in `dir` (created if missing); a path that cannot be a data
/// directory is the caller's input.
async fn open_store(dir: &std::path::Path) -> Result<SqliteStore, SimError> {
    SqliteStore::open(dir).await.map_err(|e| match e {
        StoreError::DataDir { .. } => SimError::Config(format!("--data-dir: {e}")),
        e => SimError::Store(e.to_string()),
    })
}

/// Start the simulator on `127.0.0.1:port`; `ready` is told the address, whether the
/// account was resumed from `--data-dir`, and the venue spoken ([`Wire::title`]), once it
/// listens and `stop` has been polled once. It serves until `stop` completes; then the requests
/// it served, by endpoint.
pub async fn run(
    options: SimOptions,
    ready: impl FnOnce(SocketAddr, bool, &'static str),
    stop: impl std::future::Future<Output = ()>,
) -> Result<crate::Calls, SimError> {
    let clock = crate::system_clock();
    let mut config = config(&options, clock())?;
    let wire = wire(&options)?;
    let title = wire.title();
    if let Some(dir) = &options.data_dir {
        config.persistence = Some(Arc::new(open_store(dir).await?));
    }
    let sim = Simulator::with_clock(config, clock).await?;
    let resumed = sim.resumed();
    let server = sim
        .serve_wire(SocketAddr::from((Ipv4Addr::LOCALHOST, options.port)), wire)
        .await?;
    // Poll `stop` once before announcing the address: a stop that installs signal handlers
    // (Ctrl-C) has them in place before anyone who read the address can signal.
    let mut stop = std::pin::pin!(stop);
    let stopped = tokio::select! {
        biased;
        () = &mut stop => true,
        () = std::future::ready(()) => false,
    };
    if !stopped {
        ready(server.addr, resumed, title);
        stop.await;
    }
    server.shutdown().await;
    Ok(sim.take_calls())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn options() -> SimOptions {
        SimOptions {
            venue: "binance".into(),
            port: 0,
            balances: "USDT=10000,btc=0.1".into(),
            faults: Some("5xx=1".into()),
            seed: 7,
            api_key: "k".into(),
            api_secret: "s".into(),
            api_passphrase: None,
            demo: false,
            data_dir: None,
            assets: None,
            replay: None,
            interval: None,
            speed: 1,
        }
    }

    #[test]
    fn balances_read_and_bad_ones_name_the_part() {
        let b = parse_balances(" USDT=10000, btc=0.1 ").unwrap();
        assert_eq!(
            b,
            [
                ("USDT".to_string(), Decimal::from(10_000)),
                ("BTC".to_string(), "0.1".parse().unwrap())
            ]
        );
        for (spec, why) in [
            ("USDT", "ASSET=AMOUNT"),
            ("USDT=ten", "decimal number"),
            ("USDT=-1", "above zero"),
            ("US-DT=1", "letters and digits"),
            ("BTC=1,btc=2", "each asset once"),
        ] {
            let e = parse_balances(spec).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains("--balances"), "{spec}: {e}");
        }
    }

    #[test]
    fn the_command_config_lists_the_instruments_market_and_faults() {
        let c = config(&options(), 1_700_000_000_000).unwrap();
        assert_eq!(c.paper.instruments.len(), INSTRUMENTS.len());
        assert_eq!(c.balances.len(), 2);
        assert_eq!(c.faults.server_errors, 1);
        let Some(SimMarket::Synthetic(m)) = c.market else {
            panic!("a synthetic market: {:?}", c.market)
        };
        assert_eq!(
            (m.start_ms, m.step_ms, m.seed, m.ticks_per_second),
            (1_700_000_000_000, STEP_MS, 7, Some(1.0))
        );
        assert_eq!(c.history_ms, HISTORY_MS);
        let e = config(
            &SimOptions {
                venue: "kraken".into(),
                ..options()
            },
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--venue \"kraken\"") && e.contains("binance, okx or gate"),
            "{e}"
        );
        // Gate needs no passphrase, and has no demo trading.
        let gate = SimOptions {
            venue: "gate".into(),
            ..options()
        };
        assert!(config(&gate, 0).is_ok());
        assert_eq!(wire(&gate).unwrap().title(), "Gate v4 spot");
        let e = config(&SimOptions { demo: true, ..gate }, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--demo is only for --venue okx"), "{e}");
        // OKX needs the key's passphrase, and names where it comes from.
        let okx = SimOptions {
            venue: "okx".into(),
            ..options()
        };
        let e = config(&okx, 0).unwrap_err().to_string();
        assert!(e.contains("SMARTFOLIO_API_PASSPHRASE"), "{e}");
        let okx = SimOptions {
            api_passphrase: Some("p".into()),
            demo: true,
            ..okx
        };
        assert!(config(&okx, 0).is_ok());
        assert_eq!(wire(&okx).unwrap().title(), "OKX v5 spot (demo trading)");
        let e = config(
            &SimOptions {
                demo: true,
                ..options()
            },
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--demo"), "{e}");
        let e = config(
            &SimOptions {
                faults: Some("flood=1".into()),
                ..options()
            },
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("flood"), "{e}");
    }

    #[test]
    fn speed_makes_each_step_cover_more_market_time_and_a_bad_one_is_named() {
        let c = config(
            &SimOptions {
                speed: 3600,
                ..options()
            },
            0,
        )
        .unwrap();
        let Some(SimMarket::Synthetic(m)) = &c.market else {
            panic!("a synthetic market")
        };
        // Still one step a second of the clock, each an hour of the model's.
        assert_eq!(m.step_ms, 3_600 * STEP_MS);
        assert_eq!(m.ticks_per_second, Some(1.0));
        let sim = block_on(Simulator::with_clock(c, Arc::new(|| 1_700_000_000_000)));
        assert!(sim.is_ok(), "{:?}", sim.err());
        for speed in [0, MAX_SPEED + 1] {
            let e = config(&SimOptions { speed, ..options() }, 0)
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("--speed {speed}")), "{e}");
        }
    }
}

#[cfg(test)]
mod replay_tests {
    use super::*;

    fn options(replay: &std::path::Path, assets: Option<&str>) -> SimOptions {
        SimOptions {
            venue: "binance".into(),
            port: 0,
            balances: "USDT=100".into(),
            faults: None,
            seed: 1,
            api_key: "k".into(),
            api_secret: "s".into(),
            api_passphrase: None,
            demo: false,
            data_dir: None,
            assets: assets.map(String::from),
            replay: Some(replay.to_path_buf()),
            interval: None,
            speed: 1,
        }
    }

    #[test]
    fn a_replay_lists_the_assets_asked_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("prices.csv");
        std::fs::write(
            &csv,
            "timestamp,BTC,ETH\n2024-01-01T00:00:00Z,42000,2300\n2024-01-01T01:00:00Z,42100,2310\n",
        )
        .unwrap();
        let c = config(&options(&csv, Some("btc,ETH")), 0).unwrap();
        let bases: Vec<&str> = c
            .paper
            .instruments
            .iter()
            .map(|i| i.base.as_str())
            .collect();
        assert_eq!(bases, ["BTC", "ETH"]);
        assert_eq!(c.history_ms, 0);
        match c.market {
            Some(SimMarket::Replay { feed, step_ms }) => {
                assert_eq!((feed.len(), step_ms), (2, STEP_MS));
            }
            other => panic!("a replay: {other:?}"),
        }
        // All four by default: the file has no SOL or BNB.
        let e = config(&options(&csv, None), 0).unwrap_err().to_string();
        assert!(e.contains("--replay") && e.contains("SOL"), "{e}");
        let e = config(&options(&csv, Some("BTC,DOGE")), 0)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--assets \"DOGE\"") && e.contains("BTC, ETH, SOL, BNB"),
            "{e}"
        );
        let e = config(&options(&dir.path().join("none.csv"), Some("BTC")), 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--replay") && e.contains("none.csv"), "{e}");
        let synthetic = SimOptions {
            replay: None,
            interval: Some("1h".into()),
            ..options(&csv, None)
        };
        let e = config(&synthetic, 0).unwrap_err().to_string();
        assert!(e.contains("--interval"), "{e}");
        let fast = SimOptions {
            speed: 60,
            ..options(&csv, Some("BTC"))
        };
        let e = config(&fast, 0).unwrap_err().to_string();
        assert!(e.contains("--speed 60"), "{e}");
    }
}
