//! The owner of a data directory: its lease, the store, the paper exchange and the clock, and
//! the one [`Runtime`] over them ([`Bots`]). `run`, `run --http`, `demo` and a `bot` command
//! run without a daemon all open it the same way ([`Host::open`]); the long-running owners then
//! [`Host::start`] (the same recovery for all of them) before they drive the bots.

use crate::command::{self, Defaults};
use crate::driver::Station;
use crate::error::{NodeError, NodeResult};
use crate::lease::Lease;
use crate::market::{Market, MarketConfig};
use rust_decimal::Decimal;
use smartfolio_bot::{ManualClock, Runtime};
use smartfolio_exchange::PriceTick;
use smartfolio_exchange::paper::{PaperConfig, PaperExchange};
use smartfolio_store::{Backend, open_store};
use std::path::PathBuf;
use std::sync::Arc;

/// The owner's note of the last tick it processed (market time).
const META_MARKET_MS: &str = "market_ms";

/// What a node is built from.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The lease, and the SQLite database unless `store` names another.
    pub data_dir: PathBuf,
    /// A `postgres://` URL for the store (`store` in the config, `SMARTFOLIO_STORE`), or None for
    /// SQLite in `data_dir`.
    pub store: Option<String>,
    /// The quote currency of the market and of new bots.
    pub quote: String,
    /// The paper account's name.
    pub account: String,
    /// The paper venue: fees, slippage, one instrument per asset.
    pub paper: PaperConfig,
    /// Credited once, when the paper account is new.
    pub balances: Vec<(String, Decimal)>,
    pub market: MarketConfig,
    /// New bots' cooldown when the command gives none.
    pub cooldown_ms: i64,
    /// New bots' value snapshot interval.
    pub snapshot_interval_ms: i64,
}

impl NodeConfig {
    /// The assets the venue lists, the quote first (what a profile's assets are checked
    /// against).
    pub fn listed_assets(&self) -> Vec<String> {
        let mut out = vec![self.quote.clone()];
        for i in &self.paper.instruments {
            if !out.contains(&i.base) {
                out.push(i.base.clone());
            }
        }
        out
    }

    /// What a new bot gets from this owner (the one source of its defaults).
    pub fn defaults(&self) -> Defaults {
        Defaults {
            venue: Defaults::default().venue,
            account: self.account.clone(),
            quote: self.quote.clone(),
            fee_rate: self.paper.fee_rate,
            cooldown_ms: self.cooldown_ms,
            snapshot_interval_ms: self.snapshot_interval_ms,
            data_dir: Some(self.data_dir.clone()),
        }
    }
}

/// The bots and what drives them: the runtime, its exchange and its clock.
pub struct Bots {
    pub rt: Runtime,
    pub ex: Arc<PaperExchange>,
    pub clock: Arc<ManualClock>,
}

impl Station for Bots {
    fn parts(&mut self) -> (&mut Runtime, &PaperExchange, &ManualClock) {
        (&mut self.rt, &self.ex, &self.clock)
    }
}

/// The data directory's owner.
pub struct Host {
    pub cfg: NodeConfig,
    pub store: Arc<dyn Backend>,
    pub ex: Arc<PaperExchange>,
    pub clock: Arc<ManualClock>,
    lease: Lease,
}

/// What [`Host::start`] found and did.
pub struct Started {
    /// The market time the feed resumes after (None on a fresh data directory).
    pub resume_ms: Option<i64>,
    /// Commands a dead owner left `running`, now failed.
    pub interrupted_commands: u64,
    /// In-flight orders reconciled by recovery.
    pub recovered_orders: usize,
    /// The feed, positioned after `resume_ms`.
    pub market: Market,
}

impl Host {
    /// Open the store and the paper exchange (funding a new paper account with the configured
    /// balances, in one stored change), and the one runtime over them (nothing loaded yet).
    pub async fn open(cfg: NodeConfig, lease: Lease) -> NodeResult<(Host, Bots)> {
        let store = open_store(cfg.store.as_deref(), &cfg.data_dir).await?;
        let is_new = store
            .load_paper(&cfg.paper.account)
            .await
            .map_err(NodeError::exchange("loading the paper account"))?
            .is_none();
        let ex = Arc::new(
            PaperExchange::open(cfg.paper.clone(), store.clone())
                .await
                .map_err(NodeError::exchange("opening the paper exchange"))?,
        );
        if is_new {
            // One persisted change: a kill can never leave the account half funded.
            let funds: Vec<(String, Decimal)> = cfg
                .balances
                .iter()
                .filter(|(_, amount)| *amount > Decimal::ZERO)
                .cloned()
                .collect();
            ex.deposit_all(&funds)
                .await
                .map_err(NodeError::exchange("funding the new paper account"))?;
        }
        let clock = Arc::new(ManualClock::new(0));
        let rt = Runtime::new(store.clone(), ex.clone(), clock.clone(), &cfg.account);
        let bots = Bots {
            rt,
            ex: ex.clone(),
            clock: clock.clone(),
        };
        Ok((
            Host {
                cfg,
                store,
                ex,
                clock,
                lease,
            },
            bots,
        ))
    }

    /// The market time the feed resumes after (None on a fresh data directory): the latest of
    /// any stored change and the owner's own note.
    pub async fn resume_ms(&self) -> NodeResult<Option<i64>> {
        let stored = self.store.latest_time_ms().await?;
        let noted = self
            .store
            .meta(META_MARKET_MS)
            .await?
            .and_then(|s| s.parse::<i64>().ok());
        Ok(match (stored, noted) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        })
    }

    /// Become the running owner, the same way for `run`, `run --http` and `demo`: fail the
    /// commands a dead owner left `running` (never run twice), set the clock where the market
    /// resumes, recover the bots (in-flight orders reconciled by client id, half-done
    /// rebalances closed), and open the market after that time. Not ready yet: the caller
    /// [`mark_ready`](Host::mark_ready)s when it executes queued commands.
    pub async fn start(&self, bots: &mut Bots) -> NodeResult<Started> {
        let interrupted_commands =
            command::fail_interrupted(&*self.store, command::wall_ms()).await?;
        let resume_ms = self.resume_ms().await?;
        self.clock
            .set(resume_ms.unwrap_or(self.cfg.market.start_ms));
        let recovered_orders = bots
            .rt
            .recover()
            .await
            .map_err(NodeError::bot("recovery"))?;
        let market = Market::open(&self.cfg.market, &self.cfg.quote, resume_ms)?;
        Ok(Started {
            resume_ms,
            interrupted_commands,
            recovered_orders,
            market,
        })
    }

    /// The prices of "now" for a command run without a daemon: the market's tick at the resume
    /// time (else its first). Sets the clock to the resume time, as [`Host::start`] does.
    pub async fn current_tick(&self) -> NodeResult<Option<PriceTick>> {
        let resume = self.resume_ms().await?;
        self.clock.set(resume.unwrap_or(self.cfg.market.start_ms));
        crate::market::current_tick(&self.cfg.market, &self.cfg.quote, resume)
    }

    /// Tell waiting processes that queued commands are executed from now on.
    pub fn mark_ready(&mut self) {
        self.lease.mark_ready();
    }

    /// Note the market time (a restart resumes after it).
    pub async fn note_market_ms(&self, t: i64) -> NodeResult<()> {
        self.store.set_meta(META_MARKET_MS, &t.to_string()).await?;
        Ok(())
    }
}
