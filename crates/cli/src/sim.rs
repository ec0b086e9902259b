//! `smartfolio sim`: a local venue simulator on loopback (see `smartfolio_sim`). This module
//! only parses the flags and the key from the environment, and calls the sim crate.

use crate::InputError;
use crate::common;
use smartfolio_sim::command::{self, SimOptions};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "The account's key and secret come from SMARTFOLIO_API_KEY and SMARTFOLIO_API_SECRET, and an OKX key's passphrase from SMARTFOLIO_API_PASSPHRASE.\n\nExamples:\n  smartfolio sim --venue binance --port 9100 --balances USDT=10000,BTC=0.1\n  smartfolio sim --venue okx --port 9200 --faults 429=1:2,unknown-after-order=1\n  smartfolio sim --venue gate --port 9300 --balances USDT=10000,BTC=0.1\n  smartfolio sim --port 0 --faults latency=50,5xx=1,429=1:3,not-found-after-order=2\n  smartfolio sim --port 0 --faults reject=1,partial=100,halt=ETH\n  smartfolio sim --replay ../shared/data/hourly --interval 1h --assets BTC,ETH,SOL\n  smartfolio sim --port 0 --speed 3600 --data-dir sim-account"
)]
pub struct Args {
    /// The venue spoken: binance, okx or gate (OKX v5: its faults in OKX's words, a rate limit
    /// 50011, a 5xx 50001, an unknown outcome 50004, a lookup not found yet 51603; Gate v4
    /// under /api/v4: a rate limit TOO_MANY_REQUESTS, a 5xx or an unknown outcome
    /// SERVER_ERROR, a lookup not found yet ORDER_NOT_FOUND, a halt trade_status untradable).
    #[arg(long, default_value = "binance")]
    pub venue: String,
    /// OKX: the key is a demo-trading key (requests must carry x-simulated-trading: 1, as a
    /// client with [venue] demo = true sends).
    #[arg(long)]
    pub demo: bool,
    /// TCP port on 127.0.0.1 (0: any free port; the URL printed says which).
    #[arg(long, default_value_t = 9100)]
    pub port: u16,
    /// Starting balances, ASSET=AMOUNT separated by commas.
    #[arg(long, default_value = "USDT=10000")]
    pub balances: String,
    /// Injected faults, comma-separated: latency=MS (every answer delayed), 5xx=N (the next N
    /// requests answer 500 without effect), 429=N:SECONDS and 418=N:SECONDS (rate-limit
    /// refusals with Retry-After), hang-after-order=N (orders taken, never answered),
    /// unknown-after-order=N (orders taken, answered "outcome unknown": -1007, OKX 50004),
    /// not-found-after-order=N (-2013 for N lookups after each order), skew=MS (the server's
    /// clock ahead, negative: behind), reject=N (the next N orders refused, -2010),
    /// partial=QUOTE (each order fills at most QUOTE of notional per price step), halt=ASSET
    /// (the symbol shows HALT and refuses orders; once per asset), weight-limit=N (the request
    /// weight a minute exchangeInfo lists, which clients budget by; default 6000), order-limit=N
    /// (the orders per 10 s it lists; default 100).
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
    /// Seed of the synthetic market (the same seed gives the same prices).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Keep the account (balances, orders, fills) in DIR/smartfolio.db across restarts; a
    /// restart resumes it and does not deposit --balances again. Default: in memory.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// The symbols listed, against USDT: some of BTC,ETH,SOL,BNB (default: all four).
    #[arg(long, value_name = "LIST")]
    pub assets: Option<String>,
    /// Play this history instead of the synthetic market, one bar per second: a folder of
    /// <SYM>.csv / <SYM>USDT-<interval>.csv files or one wide CSV (as backtest --data reads).
    #[arg(long, value_name = "PATH")]
    pub replay: Option<std::path::PathBuf>,
    /// The candle interval of a --replay folder (1h, 4h, 1d; default: the finest every asset
    /// has).
    #[arg(long)]
    pub interval: Option<String>,
    /// The synthetic market moves this many seconds' worth each second (3600: an hour a
    /// second, so tight thresholds trade every few seconds); 1 is real time.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub speed: u32,
}

fn env(name: &str) -> anyhow::Result<String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(InputError(format!(
            "{name} is not set: the simulator's account needs a key and a secret (any strings; clients sign with them)"
        ))
        .into()),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let options = SimOptions {
        venue: args.venue,
        port: args.port,
        balances: args.balances,
        faults: args.faults,
        seed: args.seed,
        api_key: env("SMARTFOLIO_API_KEY")?,
        api_secret: env("SMARTFOLIO_API_SECRET")?,
        api_passphrase: std::env::var("SMARTFOLIO_API_PASSPHRASE").ok(),
        demo: args.demo,
        data_dir: args.data_dir,
        assets: args.assets,
        replay: args.replay,
        interval: args.interval,
        speed: args.speed,
    };
    let rt = common::tokio_runtime(true)?;
    let calls = rt.block_on(command::run(
        options,
        |addr, resumed, title| {
            println!("smartfolio sim: {title} on http://{addr} (Ctrl-C stops)");
            if resumed {
                println!("account resumed from --data-dir (--balances not deposited again)");
            }
        },
        common::interrupted(),
    ))?;
    let (n, w) = calls
        .values()
        .fold((0, 0), |(n, w), (cn, cw)| (n + cn, w + cw));
    println!("served {n} requests (request weight {w}):");
    for (endpoint, (count, weight)) in &calls {
        println!("  {endpoint:<40} {count:>7} {weight:>9}");
    }
    Ok(())
}
