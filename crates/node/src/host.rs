//! The owner of a data directory: its lease, the store, the venue (the paper exchange, or a
//! real venue's connector) and the clock, and the one [`Runtime`] over them ([`Bots`]). `run`,
//! `run --http`, `demo` and a `bot` command run without a daemon all open it the same way
//! ([`Host::open`]); the long-running owners then [`Host::start`] (the same recovery for all of
//! them) before they drive the bots.
//!
//! ## Modes
//! - paper venue, synthetic or replay market: market time drives the clock;
//! - paper venue, live market (the dry run): the venue's public prices (Binance's, no key),
//!   fills on the paper exchange;
//! - Binance: orders through the real connector, prices from its tickers (the market must be
//!   live). The key must not be able to withdraw unless allowed; the clock follows the reads'
//!   wall time and its waits really wait.

use crate::command::{self, Defaults};
use crate::driver::Station;
use crate::error::{NodeError, NodeResult};
use crate::lease::Lease;
use crate::market::{Market, MarketConfig, MarketKind};
use crate::venue::{self, VenueConfig, VenueKind};
use async_trait::async_trait;
use rust_decimal::Decimal;
use smartfolio_binance::BinanceExchange;
use smartfolio_bot::events::EventKind;
use smartfolio_bot::{BotEvent, ManualClock, Runtime, TickReport};
use smartfolio_exchange::feed::{LiveFeed, WallClock, Watch, system_wall_clock};
use smartfolio_exchange::paper::{PaperConfig, PaperExchange};
use smartfolio_exchange::{Exchange, PriceTick};
use smartfolio_store::{Backend, open_store};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
    /// The account's name (the paper account's, or the label of the venue's account).
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
    /// The venue the bots trade on.
    pub venue: VenueConfig,
}

impl NodeConfig {
    /// The assets the venue lists, the quote first (what a profile's assets are checked
    /// against): the paper venue's instruments; `None` for a real venue, whose listing only it
    /// knows (`venue check` and the deploy name an asset it does not list).
    pub fn listed_assets(&self) -> Option<Vec<String>> {
        if self.venue.kind != VenueKind::Paper {
            return None;
        }
        let mut out = vec![self.quote.clone()];
        for i in &self.paper.instruments {
            if !out.contains(&i.base) {
                out.push(i.base.clone());
            }
        }
        Some(out)
    }

    /// Whether the bots' orders are paper ones, a dry run's or real ones.
    pub fn trading_mode(&self) -> venue::TradingMode {
        venue::TradingMode::of(self.venue.kind, self.market.kind)
    }

    /// What a new bot gets from this owner (the one source of its defaults).
    pub fn defaults(&self) -> Defaults {
        Defaults {
            venue: self.venue.kind.name().to_string(),
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
    /// The paper exchange, when the bots trade on paper (it takes each tick's prices).
    pub ex: Option<Arc<PaperExchange>>,
    pub clock: Arc<ManualClock>,
    /// A live market's assets: every bot's assets are added after each tick and command.
    pub watch: Option<Watch>,
}

impl Bots {
    /// Read every bot's assets from the next live read on.
    pub fn watch_bots(&self) {
        watch_bots(self.watch.as_ref(), &self.rt);
    }
}

/// A live market reads every bot's assets of `rt` from its next read on (nothing without a
/// live market). Every station over a live market calls it after each tick and command.
pub fn watch_bots(watch: Option<&Watch>, rt: &Runtime) {
    if let Some(w) = watch {
        w.add(rt.engine.market.names.iter().map(String::as_str));
    }
}

#[async_trait]
impl Station for Bots {
    fn parts(&mut self) -> (&mut Runtime, Option<&PaperExchange>, &ManualClock) {
        (&mut self.rt, self.ex.as_deref(), &self.clock)
    }

    async fn ticked(&mut self, _tick: &PriceTick, _report: Option<&TickReport>, _took: Duration) {
        self.watch_bots();
    }

    async fn changed(&mut self) {
        self.watch_bots();
    }

    /// `run` logs what its bots did, one line an event at `info` (the daemon's record of its
    /// trading; `bot history` and the store have the details).
    async fn events(&mut self, events: Vec<BotEvent>) {
        for e in &events {
            log_event(e);
        }
    }
}

/// One log line for `e`.
fn log_event(e: &BotEvent) {
    let bot = e.bot;
    match &e.kind {
        EventKind::Created { name } => tracing::info!(bot, %name, "bot created"),
        EventKind::StateChanged { from, to, reason } => {
            tracing::info!(
                bot,
                from,
                to,
                reason = reason.as_deref().unwrap_or("-"),
                "bot state changed"
            )
        }
        EventKind::RebalanceStarted { seq, kind, reason } => {
            tracing::info!(bot, seq, %kind, %reason, "rebalance started")
        }
        EventKind::Order {
            seq,
            client_id,
            asset,
            side,
            quantity,
            filled_quantity,
            outcome,
        } => tracing::info!(
            bot,
            seq,
            %client_id,
            %asset,
            side = side.as_str(),
            %quantity,
            filled = %filled_quantity,
            %outcome,
            "order"
        ),
        EventKind::Fill(f) => tracing::info!(
            bot,
            fill_id = %f.fill_id,
            client_id = %f.client_id,
            quantity = %f.quantity,
            price = %f.price,
            fee = %f.fee,
            fee_asset = %f.fee_asset,
            "fill"
        ),
        EventKind::RebalanceFinished {
            seq,
            kind,
            status,
            fees,
            ..
        } => tracing::info!(bot, seq, %kind, %status, %fees, "rebalance finished"),
    }
}

/// The data directory's owner.
pub struct Host {
    pub cfg: NodeConfig,
    pub store: Arc<dyn Backend>,
    /// The venue the bots trade on.
    pub exchange: Arc<dyn Exchange>,
    /// The paper exchange, when that is the venue.
    pub paper: Option<Arc<PaperExchange>>,
    /// The Binance connector, when that is the venue.
    pub binance: Option<Arc<BinanceExchange>>,
    pub clock: Arc<ManualClock>,
    /// A live market: where its prices are read, the assets read, the wall clock.
    live: Option<(Arc<dyn Exchange>, Watch)>,
    wall: WallClock,
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
    /// Bots suspended because the account does not back their ledgers (a real venue), and why.
    pub held: Vec<(smartfolio_store::BotId, String)>,
    /// The feed, positioned after `resume_ms`.
    pub market: Market,
}

impl Host {
    /// Open the store and the venue (a paper exchange: funding a new paper account with the
    /// configured balances, in one stored change), and the one runtime over them (nothing
    /// loaded yet).
    pub async fn open(cfg: NodeConfig, lease: Lease) -> NodeResult<(Host, Bots)> {
        Self::open_with_clock(cfg, lease, system_wall_clock()).await
    }

    /// [`Host::open`] with the wall clock a live market's ticks are timed by, which the venue's
    /// connector also signs and counts its rate limits by (tests).
    pub async fn open_with_clock(
        cfg: NodeConfig,
        lease: Lease,
        wall: WallClock,
    ) -> NodeResult<(Host, Bots)> {
        let live = cfg.market.kind == MarketKind::Live;
        let store = open_store(cfg.store.as_deref(), &cfg.data_dir).await?;
        let (exchange, paper, binance): (Arc<dyn Exchange>, _, _) = match cfg.venue.kind {
            VenueKind::Binance => {
                if !live {
                    return Err(NodeError::Input(format!(
                        "venue.kind = binance trades at the venue's own prices: market.kind = \
                         `{}` is not allowed with it; allowed: market.kind = live",
                        cfg.market.kind.name()
                    )));
                }
                let b = cfg.venue.binance_at(wall.clone())?;
                (b.clone(), None, Some(b))
            }
            VenueKind::Paper => {
                let p = Self::open_paper(&cfg, store.clone()).await?;
                (p.clone(), Some(p), None)
            }
        };
        let live = if live {
            // The dry run reads Binance's public prices (no key); a real venue its own.
            let prices: Arc<dyn Exchange> = match &binance {
                Some(b) => b.clone(),
                None => cfg.venue.binance_public_at(wall.clone())?,
            };
            Some((prices, Watch::new(&cfg.market.assets)))
        } else {
            None
        };
        let clock = Arc::new(if live.is_some() {
            ManualClock::with_real_waits(wall())
        } else {
            ManualClock::new(0)
        });
        let rt = Runtime::new(store.clone(), exchange.clone(), clock.clone(), &cfg.account);
        let bots = Bots {
            rt,
            ex: paper.clone(),
            clock: clock.clone(),
            watch: live.as_ref().map(|(_, w)| w.clone()),
        };
        Ok((
            Host {
                cfg,
                store,
                exchange,
                paper,
                binance,
                clock,
                live,
                wall,
                lease,
            },
            bots,
        ))
    }

    /// The paper exchange over the store, a new account funded in one stored change.
    async fn open_paper(
        cfg: &NodeConfig,
        store: Arc<dyn Backend>,
    ) -> NodeResult<Arc<PaperExchange>> {
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
        Ok(ex)
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
    /// commands a dead owner left `running` (never run twice), check a real venue (its clock
    /// offset; a key that can withdraw refused unless allowed), set the clock where the market
    /// resumes, recover the bots (in-flight orders reconciled by client id from the venue's
    /// orders, open orders and fills; half-done rebalances closed), on a real venue hold the
    /// bots whose ledgers the account's balances do not back, and open the market after that
    /// time. Not ready yet: the caller
    /// [`mark_ready`](Host::mark_ready)s when it executes queued commands.
    pub async fn start(&self, bots: &mut Bots) -> NodeResult<Started> {
        let interrupted_commands =
            command::fail_interrupted(&*self.store, command::wall_ms()).await?;
        let resume_ms = self.resume_ms().await?;
        self.check_venue().await?;
        self.set_clock(resume_ms);
        let recovered_orders = bots
            .rt
            .recover()
            .await
            .map_err(NodeError::bot("recovery"))?;
        let held = self.hold_unbacked(bots).await?;
        bots.watch_bots();
        let market = match &self.live {
            Some((prices, watch)) => Market::live(
                &self.cfg.market,
                &self.cfg.quote,
                prices.clone(),
                watch.clone(),
                self.wall.clone(),
            ),
            None => Market::open(&self.cfg.market, &self.cfg.quote, resume_ms)?,
        };
        Ok(Started {
            resume_ms,
            interrupted_commands,
            recovered_orders,
            held,
            market,
        })
    }

    /// The prices of "now" for a command run without a daemon: the market's tick at the resume
    /// time (else its first). Sets the clock to the resume time, as [`Host::start`] does.
    /// A live market reads the venue's prices once, now.
    pub async fn current_tick(&self) -> NodeResult<Option<PriceTick>> {
        let resume = self.resume_ms().await?;
        self.set_clock(resume);
        match &self.live {
            Some((prices, watch)) => {
                let mut feed = LiveFeed::new(
                    prices.clone(),
                    &self.cfg.quote,
                    watch.clone(),
                    std::time::Duration::ZERO,
                    self.wall.clone(),
                );
                Ok(Some(feed.read().await))
            }
            None => crate::market::current_tick(&self.cfg.market, &self.cfg.quote, resume),
        }
    }

    /// Market time where the market resumes; a live market's is the wall clock.
    fn set_clock(&self, resume_ms: Option<i64>) {
        match &self.live {
            Some(_) => self.clock.set((self.wall)()),
            None => self
                .clock
                .set(resume_ms.unwrap_or(self.cfg.market.start_ms)),
        }
    }

    /// A real venue's account may have moved under the bots (a manual trade, a transfer): after
    /// recovery, the bots whose ledgers its balances do not back are held (suspended with the
    /// reason until resumed), before anything trades. Nothing on paper, whose account only the
    /// bots move.
    pub async fn hold_unbacked(
        &self,
        bots: &mut Bots,
    ) -> NodeResult<Vec<(smartfolio_store::BotId, String)>> {
        if self.binance.is_none() {
            return Ok(vec![]);
        }
        bots.rt
            .hold_unbacked()
            .await
            .map_err(NodeError::bot("reconciling the ledgers with the account"))
    }

    /// A real venue, before anything trades: its rate limits read (`exchangeInfo`, public: the
    /// connector budgets by the venue's own limits from its first signed call, not by the
    /// defaults it assumes until then), its clock offset measured, and a key that can withdraw
    /// refused unless allowed.
    pub async fn check_venue(&self) -> NodeResult<()> {
        let Some(b) = &self.binance else {
            return Ok(());
        };
        b.client()
            .exchange_info(&[])
            .await
            .map_err(NodeError::exchange("binance: reading the rate limits"))?;
        b.client()
            .sync_clock()
            .await
            .map_err(NodeError::exchange("binance: reading the server time"))?;
        let p = venue::key_permissions(b).await?;
        venue::refuse_withdrawal_key(&p, self.cfg.venue.allow_withdrawal_keys)
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
