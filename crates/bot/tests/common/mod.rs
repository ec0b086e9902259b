#![allow(dead_code)]

use rust_decimal::Decimal;
use smartfolio_bot::{BotConfig, ManualClock, Runtime};
use smartfolio_core::InstrumentRules;
use smartfolio_exchange::paper::{PaperConfig, PaperExchange};
use smartfolio_exchange::{Exchange, PriceTick};
use smartfolio_store::{SqliteStore, Store};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const T0: i64 = 1_700_000_000_000;
pub const MIN: i64 = 60_000;

pub struct Env {
    pub dir: tempfile::TempDir,
    pub store: Arc<SqliteStore>,
    pub ex: Arc<PaperExchange>,
    pub clock: Arc<ManualClock>,
    pub rt: Runtime,
    pub paper: PaperConfig,
}

pub fn paper_config(fee: Decimal, rules: Option<InstrumentRules>) -> PaperConfig {
    let r = rules.unwrap_or_default();
    PaperConfig::new("main", "USDT")
        .with_fee_rate(fee)
        .with_instrument("BTC", r.clone())
        .with_instrument("ETH", r.clone())
        .with_instrument("SOL", r)
}

impl Env {
    pub async fn new(fee: Decimal, rules: Option<InstrumentRules>, usdt: Decimal) -> Env {
        let dir = tempfile::tempdir().unwrap();
        Self::open(dir, paper_config(fee, rules), Some(usdt)).await
    }

    /// Open (or reopen, after a "crash") the store, the paper exchange and a runtime.
    pub async fn open(dir: tempfile::TempDir, paper: PaperConfig, deposit: Option<Decimal>) -> Env {
        let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let ex = Arc::new(
            PaperExchange::open(paper.clone(), store.clone())
                .await
                .unwrap(),
        );
        if let Some(d) = deposit {
            ex.deposit("USDT", d).await.unwrap();
        }
        let clock = Arc::new(ManualClock::new(T0));
        let mut rt = Runtime::new(store.clone(), ex.clone(), clock.clone(), "main");
        rt.instrument_refresh_ms = 1;
        rt.load().await.unwrap();
        Env {
            dir,
            store,
            ex,
            clock,
            rt,
            paper,
        }
    }

    /// Simulate a crash: drop everything but the data directory, then reopen and recover.
    pub async fn restart(self, at_ms: i64) -> Env {
        let Env {
            dir, store, paper, ..
        } = self;
        store.close().await;
        drop(store);
        let env = Env::open(dir, paper, None).await;
        env.clock.set(at_ms);
        env
    }

    pub async fn tick(&mut self, t: i64, prices: &[(&str, Decimal)]) -> smartfolio_bot::TickReport {
        let report = self.tick_only(t, prices).await;
        // The tick only starts its rebalances: wait for their orders' answers, as a replay does.
        self.rt.settle_executions().await.unwrap();
        report
    }

    /// A tick whose rebalances are left under way (their answers not waited for).
    pub async fn tick_only(
        &mut self,
        t: i64,
        prices: &[(&str, Decimal)],
    ) -> smartfolio_bot::TickReport {
        self.clock.set(t);
        let tick = PriceTick {
            time_ms: t,
            prices: prices.iter().map(|(a, p)| (a.to_string(), *p)).collect(),
        };
        self.ex.update_prices(&tick).await.unwrap();
        self.rt.on_tick(&tick).await.unwrap()
    }

    /// Feed prices to the venue and the runtime without deciding anything.
    pub async fn prices(&mut self, t: i64, prices: &[(&str, Decimal)]) {
        self.clock.set(t);
        let tick = PriceTick {
            time_ms: t,
            prices: prices.iter().map(|(a, p)| (a.to_string(), *p)).collect(),
        };
        self.ex.update_prices(&tick).await.unwrap();
        self.rt.observe_prices(&tick);
    }

    pub async fn ledger(&self, id: i64) -> BTreeMap<String, Decimal> {
        self.store.balances(id).await.unwrap().into_iter().collect()
    }

    pub async fn account(&self) -> BTreeMap<String, Decimal> {
        self.ex
            .balances()
            .await
            .unwrap()
            .into_iter()
            .filter(|b| !b.total().is_zero())
            .map(|b| (b.asset.clone(), b.total()))
            .collect()
    }

    /// The account's totals without `asset` (held outside the bots).
    pub async fn account_without(&self, asset: &str) -> BTreeMap<String, Decimal> {
        let mut a = self.account().await;
        a.remove(asset);
        a
    }

    /// Every client id the venue ever received, and whether any repeats.
    pub async fn venue_client_ids(&self) -> Vec<String> {
        self.ex
            .account()
            .await
            .orders
            .iter()
            .map(|o| o.client_id.clone())
            .collect()
    }
}

pub fn cfg(name: &str, targets: &str, trigger: &str, quote: Decimal) -> BotConfig {
    let mut c = BotConfig::new(name, targets, trigger, quote).unwrap();
    c.price_margin = Decimal::ZERO;
    c.retry_backoff_ms = 1;
    c.fee_rate = Decimal::ZERO;
    c
}

pub fn assert_unique(ids: &[String]) {
    let mut v = ids.to_vec();
    v.sort();
    let n = v.len();
    v.dedup();
    assert_eq!(v.len(), n, "duplicate client ids at the venue: {ids:?}");
}
