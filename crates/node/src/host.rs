//! The owner of a data directory: its lease, the store, the venue (the paper exchange, or a
//! real venue's connector) and the clock, and the one [`Runtime`] over them ([`Bots`]). `run`,
//! `run --http`, `demo` and a `bot` command run without a daemon all open it the same way
//! ([`Host::open`]); the long-running owners then [`Host::start`] (the same recovery for all of
//! them) before they drive the bots.
//!
//! ## Modes
//! - paper venue, synthetic or replay market: market time drives the clock;
//! - paper venue, live market (the dry run): a venue's public prices (`[venue] prices`:
//!   Binance's or OKX's, no key), fills on the paper exchange;
//! - Binance or OKX: orders through the real connector ([`venue::Connector`]), prices from its
//!   tickers (the market must be live). The key must not be able to withdraw unless allowed;
//!   the clock follows the reads' wall time and its waits really wait.

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
use smartfolio_bot::{BotError, BotEvent, Clock, ManualClock, Runtime, TickReport};
use smartfolio_exchange::feed::{LiveFeed, WallClock, Watch, system_wall_clock};
use smartfolio_exchange::paper::{PaperConfig, PaperExchange};
use smartfolio_exchange::{Exchange, ExchangeError, PriceTick};
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
    /// How new bots place their orders (`[execution]`; a create may give its own).
    pub execution: smartfolio_bot::ExecutionConfig,
    /// The venue accounts beside the default one (`account` on `venue`), each traded by a
    /// host of its own in the same daemon ([`crate::accounts`]); empty: one account.
    pub accounts: Vec<AccountConfig>,
}

/// A venue account beside the default one (`[accounts.NAME]` in the config).
#[derive(Debug, Clone)]
pub struct AccountConfig {
    /// The account's name: bots are stored under it, `bot create --account` names it.
    pub name: String,
    /// Its venue (kind, URL, its own keys).
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

    /// Every configured account's name with its venue, the default account first.
    pub fn account_venues(&self) -> Vec<(String, String)> {
        let mut out = vec![(self.account.clone(), self.venue.kind.name().to_string())];
        for a in &self.accounts {
            out.push((a.name.clone(), a.venue.kind.name().to_string()));
        }
        out
    }

    /// The configuration of one account's host: this one for the default account; for
    /// another, the same data directory, store and defaults on its own venue (a paper
    /// account of its own name; a real venue read at its own prices, a live market of
    /// `[market]`'s assets and poll), and no other accounts. None: not configured.
    pub fn for_account(&self, name: &str) -> Option<NodeConfig> {
        if name == self.account {
            return Some(self.clone());
        }
        let a = self.accounts.iter().find(|a| a.name == name)?;
        let mut cfg = self.clone();
        cfg.account = a.name.clone();
        cfg.venue = a.venue.clone();
        cfg.accounts = vec![];
        cfg.paper.account = a.name.clone();
        if a.venue.kind.is_remote() && cfg.market.kind != MarketKind::Live {
            let assets: Vec<&str> = cfg.market.assets.iter().map(String::as_str).collect();
            cfg.market = MarketConfig::live(&assets, cfg.market.poll_ms);
        }
        Some(cfg)
    }

    /// What a new bot gets from this owner (the one source of its defaults).
    pub fn defaults(&self) -> Defaults {
        Defaults {
            accounts: self.account_venues(),
            venue: self.venue.kind.name().to_string(),
            account: self.account.clone(),
            quote: self.quote.clone(),
            fee_rate: self.paper.fee_rate,
            cooldown_ms: self.cooldown_ms,
            snapshot_interval_ms: self.snapshot_interval_ms,
            data_dir: Some(self.data_dir.clone()),
            execution: self.execution.clone(),
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
    /// The real venue's connector (Binance or OKX), when the venue is not paper.
    pub connector: Option<venue::Connector>,
    pub clock: Arc<ManualClock>,
    /// A live market: where its prices are read, the assets read, the wall clock.
    live: Option<(Arc<dyn Exchange>, Watch)>,
    wall: WallClock,
    /// The data directory's lock; none for a worker's host (the worker holds it, and its
    /// account's lease in the store says who trades).
    lease: Option<Lease>,
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
        let store = open_store(cfg.store.as_deref(), &cfg.data_dir).await?;
        Self::open_on(cfg, Some(lease), wall, store).await
    }

    /// [`Host::open_with_clock`] on a store already open: a worker's, whose handle fences every
    /// write (`lease` none: see [`crate::worker`]).
    pub async fn open_on(
        cfg: NodeConfig,
        lease: Option<Lease>,
        wall: WallClock,
        store: Arc<dyn Backend>,
    ) -> NodeResult<(Host, Bots)> {
        let live = cfg.market.kind == MarketKind::Live;
        let (exchange, paper, connector): (Arc<dyn Exchange>, _, _) = match cfg.venue.kind {
            VenueKind::Binance | VenueKind::Okx | VenueKind::Gate => {
                if !live {
                    return Err(NodeError::Input(format!(
                        "venue.kind = {} trades at the venue's own prices: market.kind = \
                         `{}` is not allowed with it; allowed: market.kind = live",
                        cfg.venue.kind,
                        cfg.market.kind.name()
                    )));
                }
                let c = cfg.venue.connector_at(wall.clone())?.ok_or_else(|| {
                    NodeError::Input(format!("venue.kind = {} has no connector", cfg.venue.kind))
                })?;
                (c.exchange(), None, Some(c))
            }
            VenueKind::Paper => {
                let p = Self::open_paper(&cfg, store.clone()).await?;
                (p.clone(), Some(p), None)
            }
        };
        let binance = match &connector {
            Some(venue::Connector::Binance(b)) => Some(b.clone()),
            _ => None,
        };
        let live = if live {
            // The dry run reads a venue's public prices (no key); a real venue its own.
            let prices: Arc<dyn Exchange> = match &connector {
                Some(c) => c.exchange(),
                None => cfg.venue.dry_run_prices_at(wall.clone())?,
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
                connector,
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
    /// time. A read of the venue refused for a rate limit is waited out and asked again
    /// ([`Host::wait_out`]): a start never gives up, sells or re-sends for one. Not ready
    /// yet: the caller
    /// [`mark_ready`](Host::mark_ready)s when it executes queued commands.
    pub async fn start(&self, bots: &mut Bots) -> NodeResult<Started> {
        // A worker's host does not: the other workers' commands are running, not dead.
        let interrupted_commands = match &self.lease {
            Some(_) => command::fail_interrupted(&*self.store, None, command::wall_ms()).await?,
            None => 0,
        };
        let resume_ms = self.resume_ms().await?;
        self.check_venue().await?;
        self.set_clock(resume_ms);
        let recovered_orders = loop {
            let e = match bots.rt.recover().await {
                Ok(n) => break n,
                Err(e) => e,
            };
            self.wait_out("recovery", bot_wait(&e), e)
                .await
                .map_err(NodeError::bot("recovery"))?;
        };
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
        if self.connector.is_none() {
            return Ok(vec![]);
        }
        loop {
            let e = match bots.rt.hold_unbacked().await {
                Ok(held) => return Ok(held),
                Err(e) => e,
            };
            self.wait_out("reading the account", bot_wait(&e), e)
                .await
                .map_err(NodeError::bot("reconciling the ledgers with the account"))?;
        }
    }

    /// After a read of the venue (nothing placed) failed with `e`: when `wait` says it was a
    /// rate limit, wait that long on the clock (the venue's `Retry-After`, or the client's own
    /// wait) and return `Ok` to read again; else `Err(e)`.
    async fn wait_out<E: std::fmt::Display>(
        &self,
        what: &str,
        wait: Option<u64>,
        e: E,
    ) -> Result<(), E> {
        let Some(ms) = wait else {
            return Err(e);
        };
        tracing::warn!("{what}: the venue rate-limited us ({e}); asking again in {ms} ms");
        self.clock.sleep(ms.max(1)).await;
        Ok(())
    }

    /// A real venue, before anything trades: its clock offset measured, and a key that can
    /// withdraw refused unless allowed. Its rate limits are read with its instruments
    /// (`exchangeInfo`, by the recovery that follows, [`Runtime::recover`]) before any lookup or
    /// order: the calls here weigh 1 (the time) and 0 (the key's permissions, SAPI), so the
    /// connector's default budgets are never what a weighty call is counted against, and the
    /// start reads `exchangeInfo` (weight 20) once, not twice.
    pub async fn check_venue(&self) -> NodeResult<()> {
        let Some(c) = &self.connector else {
            return Ok(());
        };
        loop {
            let e = match c.sync_clock().await {
                Ok(_) => break,
                Err(e) => e,
            };
            self.wait_out("reading the venue's time", node_wait(&e), e)
                .await?;
        }
        let p = loop {
            let e = match c.key_permissions().await {
                Ok(p) => break p,
                Err(e) => e,
            };
            self.wait_out("reading the key's permissions", node_wait(&e), e)
                .await?;
        };
        venue::refuse_withdrawal_key(&p, self.cfg.venue.allow_withdrawal_keys)
    }

    /// Tell waiting processes that queued commands are executed from now on.
    pub fn mark_ready(&mut self) {
        if let Some(l) = &mut self.lease {
            l.mark_ready();
        }
    }

    /// Note the market time (a restart resumes after it).
    pub async fn note_market_ms(&self, t: i64) -> NodeResult<()> {
        self.store.set_meta(META_MARKET_MS, &t.to_string()).await?;
        Ok(())
    }
}

/// How long a bot-level failure asks to wait, if it is the venue's rate limit.
fn bot_wait(e: &BotError) -> Option<u64> {
    match e {
        BotError::Exchange(ExchangeError::RateLimited { retry_after_ms }) => Some(*retry_after_ms),
        _ => None,
    }
}

/// How long a node-level failure asks to wait, if it is the venue's rate limit.
fn node_wait(e: &NodeError) -> Option<u64> {
    match e {
        NodeError::RateLimited { retry_after_ms, .. } => Some(*retry_after_ms),
        _ => None,
    }
}
