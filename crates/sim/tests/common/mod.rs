//! The rig: a simulator on 127.0.0.1:0 on a test clock, and the real connector pointed at it.
#![allow(dead_code)]

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_binance::BinanceExchange;
use smartfolio_binance::client::{BinanceClient, ClientConfig, Credentials};
use smartfolio_exchange::paper::PaperConfig;
use smartfolio_exchange::{Balance, Exchange, Fill, InstrumentRules};
use smartfolio_sim::{Faults, RunningSim, SimConfig, Simulator};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

pub const KEY: &str = "sim-key";
pub const SECRET: &str = "sim-secret";
/// 2023-11-14T22:13:00Z, the start of a minute.
pub const T0: i64 = 1_700_000_000_000 - 1_700_000_000_000 % 60_000;

pub fn btc_rules() -> InstrumentRules {
    InstrumentRules {
        lot_step: Some(dec!(0.00001)),
        min_size: Some(dec!(0.0001)),
        min_notional: Some(dec!(5)),
        tick_size: Some(dec!(0.01)),
    }
}

pub fn eth_rules() -> InstrumentRules {
    InstrumentRules {
        lot_step: Some(dec!(0.0001)),
        min_size: Some(dec!(0.001)),
        min_notional: Some(dec!(5)),
        tick_size: Some(dec!(0.01)),
    }
}

/// A configuration of the test account (`KEY`, `SECRET`) over `paper`: no balances, no market,
/// no history, no faults, in memory.
pub fn sim_config(paper: PaperConfig) -> SimConfig {
    SimConfig {
        api_key: KEY.into(),
        api_secret: SECRET.to_string().into(),
        paper,
        balances: vec![],
        market: None,
        history_ms: 0,
        faults: Faults::default(),
        persistence: None,
    }
}

/// The test account (10000 USDT, 0.1 BTC) on BTC and ETH priced 40000 and 2000, starting with
/// `faults`, on a test clock at `T0`.
pub async fn priced_sim(faults: Faults) -> (Simulator, Arc<AtomicI64>) {
    let config = SimConfig {
        balances: vec![("USDT".into(), dec!(10000)), ("BTC".into(), dec!(0.1))],
        faults,
        ..sim_config(
            PaperConfig::new("sim", "USDT")
                .with_instrument("BTC", btc_rules())
                .with_instrument("ETH", eth_rules()),
        )
    };
    priced_sim_of(config).await
}

/// A simulator of `config` on a test clock at `T0`, BTC and ETH priced 40000 and 2000.
pub async fn priced_sim_of(config: SimConfig) -> (Simulator, Arc<AtomicI64>) {
    let clock = Arc::new(AtomicI64::new(T0));
    let c = clock.clone();
    let sim = Simulator::with_clock(config, Arc::new(move || c.load(Ordering::SeqCst)))
        .await
        .unwrap();
    sim.set_prices(&[("BTC", dec!(40000)), ("ETH", dec!(2000))])
        .await
        .unwrap();
    (sim, clock)
}

pub struct Rig {
    pub sim: Simulator,
    pub server: RunningSim,
    pub clock: Arc<AtomicI64>,
    pub ex: BinanceExchange,
}

impl Rig {
    pub async fn start() -> Self {
        Self::start_with(Duration::from_secs(10)).await
    }

    /// A rig whose connector gives up on a request after `timeout`.
    pub async fn start_with(timeout: Duration) -> Self {
        Self::start_full(timeout, Faults::default()).await
    }

    /// A rig whose simulator starts with `faults`.
    pub async fn start_faulted(faults: Faults) -> Self {
        Self::start_full(Duration::from_secs(10), faults).await
    }

    async fn start_full(timeout: Duration, faults: Faults) -> Self {
        let (sim, clock) = priced_sim(faults).await;
        let server = sim.serve(([127, 0, 0, 1], 0).into()).await.unwrap();
        let ex = BinanceExchange::new(client_with(&server, &clock, KEY, SECRET, 0, timeout));
        Self {
            sim,
            server,
            clock,
            ex,
        }
    }

    pub fn advance(&self, ms: i64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }

    pub async fn balance(&self, asset: &str) -> Balance {
        self.ex
            .balances()
            .await
            .unwrap()
            .into_iter()
            .find(|b| b.asset == asset)
            .unwrap_or(Balance {
                asset: asset.into(),
                free: Decimal::ZERO,
                locked: Decimal::ZERO,
            })
    }
}

/// A connector client on the rig's clock shifted by `skew_ms`.
pub fn client(
    server: &RunningSim,
    clock: &Arc<AtomicI64>,
    key: &str,
    secret: &str,
    skew_ms: i64,
) -> BinanceClient {
    client_with(server, clock, key, secret, skew_ms, Duration::from_secs(10))
}

pub fn client_with(
    server: &RunningSim,
    clock: &Arc<AtomicI64>,
    key: &str,
    secret: &str,
    skew_ms: i64,
    timeout: Duration,
) -> BinanceClient {
    let c = clock.clone();
    BinanceClient::new(
        ClientConfig {
            base_url: server.base_url(),
            timeout,
            ..ClientConfig::default()
        },
        Some(Credentials::new(key, secret)),
        Arc::new(move || c.load(Ordering::SeqCst) + skew_ms),
    )
    .unwrap()
}

pub fn sum_fees(fills: &[Fill], asset: &str) -> Decimal {
    fills
        .iter()
        .filter(|f| f.fee_asset == asset)
        .map(|f| f.fee)
        .sum()
}

/// A public GET of a simulator, as JSON.
pub async fn get_json(server: &RunningSim, path_and_query: &str) -> serde_json::Value {
    let body = reqwest::get(format!("{}{path_and_query}", server.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&body).unwrap()
}
