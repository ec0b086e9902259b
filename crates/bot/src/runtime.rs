//! The runtime: commands (create, invest, withdraw, modify, pause, resume, stop, list, show,
//! history), the tick loop and reconciliation, over a [`Store`] and an [`Exchange`].
//!
//! ## Crash-safety protocol
//!
//! 1. A rebalance and its sell orders are written (status `pending`, with their client ids) in
//!    one transaction *before* any order is sent; the buys are written the same way once the
//!    sells have filled and the bot's own cash is known ([`Store::add_orders`]).
//! 2. An order is sent under its stored client id. Errors the venue classifies as retryable
//!    before acceptance (`Transient`, `RateLimited`) are retried with the *same* client id a
//!    bounded number of times, waiting through the [`Clock`] (the backoff, or the venue's
//!    `retry_after`; one longer than [`MAX_INLINE_WAIT_MS`] is not waited out, and nothing is
//!    sent before it lifts). The venue's acknowledgement is followed by a lookup of the order.
//!    An `UnknownOutcome` is never re-sent: it is settled by `smartfolio_exchange::settle`.
//! 3. The venue's answer and the order's fills go to the store in one transaction
//!    ([`Store::apply_fills`]): fills are unique per venue, so a fill applied twice changes
//!    nothing, and the ledger entries are written with the fill that implies them.
//! 4. On startup ([`Runtime::recover`]) every order not known to be final is settled by client
//!    id: found → its fills are applied (idempotently); not found yet inside the venue's lookup
//!    window → it stays pending and is looked up again; closed (found only among the fills) →
//!    its fills are applied; absent → `not_sent`. Each open
//!    rebalance whose orders are then all final is closed as `interrupted` with what happened,
//!    and the bot owes a fresh rebalance, planned from its ledger (so nothing is applied twice
//!    and no order is duplicated: new orders get new client ids).

use crate::clock::Clock;
use crate::config::{BotConfig, BotState, BotStatus, CoinAmount, StopMode, StopReport};
use crate::engine::{Decision, Engine, LiveBot};
use crate::views::*;
use rust_decimal::Decimal;
use smartfolio_core::plan::{PlanOptions, minimum_investment, plan};
use smartfolio_core::rules::RuleBook;
use smartfolio_core::withdraw::{Holding, Withdrawal, withdrawal_sells};
use smartfolio_core::{Plan, Portfolio, Side, Targets, Trigger, ValidationError};
use smartfolio_exchange::settle::{Settled, settle};
use smartfolio_exchange::{
    Exchange, ExchangeError, Fill, Instrument, Order, OrderKind, OrderRequest, OrderSize,
    PriceTick, reject,
};
use smartfolio_store::{
    BotId, BotRecord, BotUpdate, FlowItem, FlowKind, NewBot, NewFlow, NewOrder, NewRebalance,
    OrderState, OrderUpdate, Store, StoreError,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A command or runtime failure; every message names the bot and the values involved.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("unknown bot `{0}` (see `smartfolio bot list`)")]
    UnknownBot(String),
    #[error("bot `{name}` is {status}: cannot {action}")]
    WrongState {
        name: String,
        status: String,
        action: String,
    },
    #[error(
        "investment of {value} {quote} is below the minimum of {minimum} {quote} for {targets}: \
         every initial leg must clear the venue's minimum size and notional"
    )]
    BelowMinimum {
        value: Decimal,
        minimum: Decimal,
        quote: String,
        targets: String,
    },
    /// Refused before anything trades: the sells the venue accepts cannot raise the amount.
    #[error(transparent)]
    OverWithdrawal(Box<Refusal>),
    /// Trading started and the venue delivered less than asked: what was raised left the bot,
    /// the rest did not. Never a success.
    #[error(transparent)]
    WithdrawShortfall(Box<Shortfall>),
    #[error("the account has {available} {asset} not held by other bots, {needed} {asset} needed")]
    InsufficientFunds {
        asset: String,
        available: Decimal,
        needed: Decimal,
    },
    #[error("no price for {0}: the venue has not priced it yet")]
    NoPrice(String),
    #[error("the venue does not list {asset} against {quote}")]
    UnknownInstrument { asset: String, quote: String },
    #[error("bot `{name}` has a corrupt stored config or state: {message}")]
    Corrupt { name: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("venue: {0}")]
    Exchange(#[from] ExchangeError),
}

pub type BotResult<T> = Result<T, BotError>;

/// A withdrawal refused before anything traded ([`BotError::OverWithdrawal`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bot `{name}` cannot deliver a withdrawal of {amount} {quote}: {reason}; the largest \
     withdrawal it can deliver now is {largest} {quote}"
)]
pub struct Refusal {
    pub name: String,
    pub amount: Decimal,
    /// The largest amount a withdrawal can deliver now.
    pub largest: Decimal,
    pub quote: String,
    pub reason: String,
}

/// A withdrawal the venue under-delivered once its sells started ([`BotError::WithdrawShortfall`]):
/// `withdrawn` left the bot, not `requested`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bot `{name}` withdrew only {withdrawn} of the {requested} {quote} asked: {detail}; nothing \
     more left the bot (see `smartfolio bot history {name}`)"
)]
pub struct Shortfall {
    pub name: String,
    pub requested: Decimal,
    pub withdrawn: Decimal,
    pub quote: String,
    pub detail: String,
}

/// The engine, its store and its venue. Also the command service of the CLI
/// (see [`BotService`]).
pub struct Runtime {
    store: Arc<dyn Store>,
    exchange: Arc<dyn Exchange>,
    clock: Arc<dyn Clock>,
    venue: String,
    account: String,
    pub engine: Engine,
    rules: RuleBook,
    instruments: HashMap<String, Instrument>,
    next_instrument_refresh_ms: i64,
    /// How often (market time) instrument statuses are refreshed.
    pub instrument_refresh_ms: i64,
    names: HashMap<String, BotId>,
    /// Clock time before which nothing is sent to the venue: it rate-limited us until then.
    venue_quiet_until_ms: AtomicI64,
}

/// The longest wait for a venue's `retry_after` inside one placement; a longer one is not
/// waited out: the order is not sent, and nothing is sent before the time has passed.
pub const MAX_INLINE_WAIT_MS: u64 = 2_000;

/// The command API of the CLI: the same type as [`Runtime`].
pub type BotService = Runtime;

// One per order placed, never stored: not worth a box.
#[allow(clippy::large_enum_variant)]
enum Placement {
    Placed(Order),
    /// The venue no longer finds the order by id and it is not open, but it ran: its fills.
    Closed(Vec<Fill>),
    Rejected(String),
    NotSent(String),
    Unknown(String),
    /// Acknowledged by the venue but not visible to a lookup yet: followed on later ticks.
    Acknowledged(String),
}

#[derive(Debug, Clone)]
struct PlannedLeg {
    asset: String,
    side: Side,
    quantity: Decimal,
    price: Decimal,
}

/// A coin a stop cannot sell (its sell breaks the venue's rules).
struct KeptCoin {
    asset: String,
    quantity: Decimal,
    rounded: Decimal,
    price: Decimal,
    reason: String,
}

/// A plan's trades as the legs execution sends.
fn planned_legs(p: &Plan) -> Vec<PlannedLeg> {
    p.trades
        .iter()
        .map(|l| PlannedLeg {
            asset: l.asset.clone(),
            side: l.side,
            quantity: l.quantity,
            price: l.price,
        })
        .collect()
}

/// A leg with its fee estimate.
fn leg_preview(l: &PlannedLeg, fee_rate: Decimal, reason: &str) -> PreviewLeg {
    let notional = l.quantity * l.price;
    PreviewLeg {
        asset: l.asset.clone(),
        side: l.side.as_str().into(),
        quantity: l.quantity,
        price: l.price,
        notional,
        fee: notional * fee_rate,
        reason: reason.into(),
    }
}

fn no_trade(action: &str, summary: String, value: Option<Decimal>) -> PlanPreview {
    PlanPreview {
        action: action.into(),
        summary,
        value_before: value,
        value_after: value,
        fees: Decimal::ZERO,
        legs: vec![],
        skipped: vec![],
        notes: vec![],
    }
}

/// `1000 USDT + 0.5 ETH`.
fn items_text(items: &[FlowItem]) -> String {
    if items.is_empty() {
        return "nothing".into();
    }
    items
        .iter()
        .map(|i| format!("{} {}", i.amount.normalize(), i.asset))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn state_json(s: &BotState) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "{}".into())
}

fn config_json(c: &BotConfig) -> String {
    serde_json::to_string(c).unwrap_or_else(|_| "{}".into())
}

impl Runtime {
    /// A runtime for the bots of `account` on `exchange` (nothing is loaded yet: call
    /// [`Runtime::load`] or [`Runtime::recover`]).
    pub fn new(
        store: Arc<dyn Store>,
        exchange: Arc<dyn Exchange>,
        clock: Arc<dyn Clock>,
        account: &str,
    ) -> Self {
        Self {
            venue: exchange.name().to_string(),
            account: account.to_string(),
            store,
            exchange,
            clock,
            engine: Engine::new(),
            rules: RuleBook::new(),
            instruments: HashMap::new(),
            next_instrument_refresh_ms: i64::MIN,
            instrument_refresh_ms: 60_000,
            names: HashMap::new(),
            venue_quiet_until_ms: AtomicI64::new(i64::MIN),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn exchange(&self) -> &Arc<dyn Exchange> {
        &self.exchange
    }

    // ------------------------------------------------------------------------- loading

    /// Load every bot of this venue and account from the store, and the venue's instruments.
    pub async fn load(&mut self) -> BotResult<()> {
        self.refresh_instruments().await?;
        self.engine = Engine::new();
        self.names.clear();
        for rec in self.store.list_bots().await? {
            if rec.venue != self.venue || rec.account != self.account {
                continue;
            }
            self.load_bot(&rec).await?;
        }
        self.apply_instrument_status();
        Ok(())
    }

    async fn load_bot(&mut self, rec: &BotRecord) -> BotResult<usize> {
        let corrupt = |e: String| BotError::Corrupt {
            name: rec.name.clone(),
            message: e,
        };
        let config: BotConfig =
            serde_json::from_str(&rec.config).map_err(|e| corrupt(format!("config: {e}")))?;
        let mut state: BotState =
            serde_json::from_str(&rec.state).map_err(|e| corrupt(format!("state: {e}")))?;
        // The sequence number is written with each rebalance; never reuse one even if a state
        // write was lost.
        if let Some(last) = self.store.rebalances(rec.id).await?.last() {
            state.next_seq = state.next_seq.max(last.seq + 1);
        }
        let targets = config
            .parsed_targets()
            .map_err(|e| corrupt(format!("targets: {e}")))?;
        let holdings: BTreeMap<String, Decimal> =
            self.store.balances(rec.id).await?.into_iter().collect();
        let net_invested = self.net_invested_of(rec.id).await?;
        let bot = LiveBot::new(
            rec.id,
            config,
            targets,
            state,
            holdings,
            net_invested,
            &mut self.engine.market,
        );
        self.names.insert(rec.name.clone(), rec.id);
        Ok(self.engine.add(bot))
    }

    async fn net_invested_of(&self, id: BotId) -> BotResult<Decimal> {
        Ok(self
            .store
            .flows(id)
            .await?
            .iter()
            .map(|f| {
                if f.kind == "deposit" {
                    f.value
                } else {
                    -f.value
                }
            })
            .sum())
    }

    async fn refresh_instruments(&mut self) -> BotResult<()> {
        let list = self.exchange.instruments().await?;
        self.instruments.clear();
        self.rules = RuleBook::new();
        for inst in list {
            self.rules.insert(&inst.base, inst.rules.clone())?;
            self.instruments.insert(inst.base.clone(), inst);
        }
        Ok(())
    }

    fn apply_instrument_status(&mut self) {
        let m = &mut self.engine.market;
        for i in 0..m.names.len() {
            m.status[i] = self.instruments.get(&m.names[i]).map(|x| x.status);
        }
    }

    /// Load, then reconcile every order whose outcome is not known and close half-done
    /// rebalances (see the module documentation).
    pub async fn recover(&mut self) -> BotResult<usize> {
        self.load().await?;
        let mut fixed = 0;
        let ids: Vec<BotId> = self.engine.bots.iter().map(|b| b.id).collect();
        for id in ids {
            fixed += self.reconcile(id).await?;
        }
        Ok(fixed)
    }

    /// Look up this bot's unfinished orders at the venue, apply what happened, and close its
    /// open rebalances whose orders are all final. Returns the number of orders resolved.
    async fn reconcile(&mut self, id: BotId) -> BotResult<usize> {
        let bi = self.idx(id)?;
        let now = self.clock.now_ms();
        let orders: Vec<_> = self
            .store
            .unfinished_orders()
            .await?
            .into_iter()
            .filter(|o| o.bot_id == id)
            .collect();
        let mut resolved = 0;
        let mut still_open = false;
        for o in &orders {
            match self
                .settle_order(&o.base, &o.quote, &o.client_id, o.created_ms)
                .await
            {
                Ok(Settled::Found(order)) => {
                    if self.record_venue_order(bi, &order, now).await? {
                        resolved += 1;
                    } else {
                        still_open = true;
                    }
                }
                Ok(Settled::Closed { fills }) => {
                    self.record_closed_order(bi, &o.client_id, o.quantity, &fills, now)
                        .await?;
                    resolved += 1;
                }
                Ok(Settled::Wait { .. }) => still_open = true,
                Ok(Settled::Absent) => {
                    self.store
                        .update_order(&OrderUpdate {
                            client_id: o.client_id.clone(),
                            status: OrderState::NotSent,
                            venue_order_id: None,
                            filled_quantity: Decimal::ZERO,
                            error: Some(
                                "not found at the venue on reconciliation, by client id nor among \
                                 its open orders and fills"
                                    .into(),
                            ),
                            time_ms: now,
                        })
                        .await?;
                    resolved += 1;
                }
                Err(e) => {
                    tracing::warn!(bot = id, client_id = %o.client_id, "lookup failed: {e}");
                    self.venue_failed(bi, &format!("looking up {}: {e}", o.client_id));
                    still_open = true;
                }
            }
        }
        self.engine.bots[bi].unresolved = still_open;
        if still_open {
            self.save(bi).await?;
            return Ok(resolved);
        }
        if !orders.is_empty() {
            self.venue_ok(bi);
        }
        for rb in self.store.open_rebalances().await? {
            if rb.bot_id != id {
                continue;
            }
            let bot = &mut self.engine.bots[bi];
            if matches!(bot.state.status, BotStatus::Deploying) {
                bot.state.status = BotStatus::Running;
                if bot.state.hold.is_empty() {
                    bot.state.hold = bot.holdings.iter().map(|(a, q)| (a.clone(), *q)).collect();
                }
            }
            for (a, q) in &bot.holdings {
                if q > &Decimal::ZERO && *a != bot.config.quote && !bot.state.bought.contains(a) {
                    bot.state.bought.push(a.clone());
                }
            }
            if !matches!(bot.state.status, BotStatus::Stopping { .. }) {
                bot.state.pending_rebalance =
                    Some(format!("resume after interrupted {} #{}", rb.kind, rb.seq));
            }
            let summary = self.interrupted_summary(bi, &rb, now).await?;
            let json = serde_json::to_string(&summary).unwrap_or_default();
            let upd = self.bot_update(bi, None);
            self.store
                .finish_rebalance(rb.id, "interrupted", &json, now, Some(&upd))
                .await?;
        }
        let m = &mut self.engine.market;
        self.engine.bots[bi].rebuild(m);
        self.save(bi).await?;
        Ok(resolved)
    }

    /// The summary of an open rebalance closed on reconciliation: each stored order with what
    /// it filled and its fees (every order is final by then), the value the plan started from,
    /// and the value and weights now.
    async fn interrupted_summary(
        &self,
        bi: usize,
        rb: &smartfolio_store::RebalanceRecord,
        now: i64,
    ) -> BotResult<RebalanceSummary> {
        let id = self.engine.bots[bi].id;
        let fills = self.store.fills(id).await?;
        let mut legs = Vec::new();
        for o in self.store.orders(id).await? {
            if o.rebalance_id != rb.id {
                continue;
            }
            let mut fees = Decimal::ZERO;
            for f in fills.iter().filter(|f| f.client_id == o.client_id) {
                fees += self
                    .fee_value(&f.fill_id, f.fee, &f.fee_asset, &f.base, &f.quote, f.price)
                    .await;
            }
            let outcome = match o.status {
                OrderState::Filled => "filled",
                _ if o.filled_quantity > Decimal::ZERO => "partial",
                OrderState::Rejected => "rejected",
                OrderState::NotSent => "skipped",
                _ => "unknown",
            };
            legs.push(LegReport {
                asset: o.base.clone(),
                side: o.side.clone(),
                planned_quantity: o.quantity,
                filled_quantity: o.filled_quantity,
                outcome: outcome.into(),
                detail: match &o.error {
                    Some(e) => format!("{}: {e}", o.status),
                    None => o.status.to_string(),
                },
                client_id: Some(o.client_id),
                fees,
            });
        }
        // After a restart the market may not be priced yet: then no value or weights now.
        let priced = self.engine.bots[bi].value_exact(&self.engine.market);
        let (value_now, weights_now) = match priced {
            Some(_) => self.weights(bi),
            None => (Decimal::ZERO, vec![]),
        };
        let value_before = serde_json::from_str::<serde_json::Value>(&rb.plan)
            .ok()
            .and_then(|p| p["value"].as_str().and_then(|v| v.parse().ok()))
            .unwrap_or(value_now);
        let mut summary = RebalanceSummary {
            kind: rb.kind.clone(),
            reason: rb.reason.clone(),
            time_ms: now,
            status: "interrupted".into(),
            value_before,
            value_after: priced.map(|_| value_now),
            fees: Decimal::ZERO,
            weights_before: vec![],
            weights_after: weights_now,
            legs,
            legs_planned: 0,
            legs_filled: 0,
            legs_skipped: 0,
            note: Some(
                "closed on reconciliation after a restart: the legs are what the stored orders \
                 did (their fills are in the ledger); the rest is re-planned from the ledger"
                    .into(),
            ),
        };
        summary.fees = summary.legs.iter().map(|l| l.fees).sum();
        summary.count_legs();
        Ok(summary)
    }

    fn idx(&self, id: BotId) -> BotResult<usize> {
        self.engine
            .index_of(id)
            .ok_or_else(|| BotError::UnknownBot(id.to_string()))
    }

    /// A bot by id (digits) or name.
    pub fn resolve(&self, key: &str) -> BotResult<BotId> {
        let k = key.trim();
        // All digits is an id, never a name (names may not be all digits), so a bot's name
        // cannot take over another bot's id.
        let found = if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) {
            k.parse::<BotId>()
                .ok()
                .filter(|id| self.engine.index_of(*id).is_some())
        } else {
            self.names.get(k).copied()
        };
        found.ok_or_else(|| BotError::UnknownBot(key.to_string()))
    }

    fn bot_update(&self, bi: usize, config: Option<String>) -> BotUpdate {
        let b = &self.engine.bots[bi];
        BotUpdate {
            id: b.id,
            status: b.state.status.word().to_string(),
            state: state_json(&b.state),
            config,
            time_ms: self.clock.now_ms(),
        }
    }

    async fn save(&self, bi: usize) -> BotResult<()> {
        self.store.update_bot(&self.bot_update(bi, None)).await?;
        Ok(())
    }

    // --------------------------------------------------------------------------- prices

    /// Make sure `assets` are priced: the market's last tick, else the venue's tickers.
    async fn ensure_prices(&mut self, assets: &[String], quote: &str) -> BotResult<()> {
        let missing: Vec<String> = assets
            .iter()
            .filter(|a| *a != quote && self.engine.market.price_of(a).is_none())
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let tickers = self
            .exchange
            .tickers(&missing, quote)
            .await
            .map_err(|e| match e {
                ExchangeError::Rejected { code, .. } if code == reject::NO_PRICE => {
                    BotError::NoPrice(missing.join(", "))
                }
                ExchangeError::Rejected { code, .. } if code == reject::UNKNOWN_INSTRUMENT => {
                    BotError::UnknownInstrument {
                        asset: missing.join(", "),
                        quote: quote.to_string(),
                    }
                }
                other => BotError::Exchange(other),
            })?;
        for t in tickers {
            self.engine.market.set_price(&t.base, t.last, t.time_ms);
        }
        self.apply_instrument_status();
        Ok(())
    }

    fn price(&self, asset: &str, quote: &str) -> BotResult<Decimal> {
        if asset == quote {
            return Ok(Decimal::ONE);
        }
        self.engine
            .market
            .price_of(asset)
            .ok_or_else(|| BotError::NoPrice(asset.to_string()))
    }

    fn check_listed(&self, targets: &Targets, quote: &str) -> BotResult<()> {
        for a in targets.assets() {
            if a != quote && !self.instruments.contains_key(a) {
                return Err(BotError::UnknownInstrument {
                    asset: a.clone(),
                    quote: quote.to_string(),
                });
            }
        }
        Ok(())
    }

    /// What the account holds of `asset` beyond every bot's ledger.
    async fn unallocated(&self, asset: &str) -> BotResult<Decimal> {
        let account: Decimal = self
            .exchange
            .balances()
            .await?
            .iter()
            .filter(|b| b.asset == asset)
            .map(|b| b.total())
            .sum();
        let held: Decimal = self
            .engine
            .bots
            .iter()
            .filter(|b| b.state.status.is_active())
            .map(|b| b.holdings.get(asset).copied().unwrap_or_default())
            .sum();
        Ok(account - held)
    }

    async fn check_funds(&self, items: &[(String, Decimal)]) -> BotResult<()> {
        for (asset, needed) in items {
            let available = self.unallocated(asset).await?;
            if available < *needed {
                return Err(BotError::InsufficientFunds {
                    asset: asset.clone(),
                    available,
                    needed: *needed,
                });
            }
        }
        Ok(())
    }

    /// The smallest investment in quote for `targets` at current prices (SPEC §6): every
    /// initial leg clears its minimums, with a margin of one lot step per asset.
    fn minimum_for(&self, targets: &Targets, quote: &str) -> BotResult<Decimal> {
        let assets = targets.assets().to_vec();
        let prices: Vec<Decimal> = assets
            .iter()
            .map(|a| self.price(a, quote))
            .collect::<BotResult<_>>()?;
        let p = Portfolio::from_parts(
            quote.to_string(),
            assets.clone(),
            targets.weights().to_vec(),
            vec![Decimal::ZERO; assets.len()],
            prices.clone(),
            Decimal::ONE,
            assets.len(),
        )?;
        let mut min = minimum_investment(&p, &self.rules);
        // Lot rounding can shave a leg below its minimum: add one lot of each asset, scaled.
        let mut lot_margin = Decimal::ZERO;
        for (i, a) in assets.iter().enumerate() {
            let t = targets.weights()[i];
            if a == quote || t.is_zero() {
                continue;
            }
            if let Some(step) = self.rules.get(a).lot_step {
                lot_margin = lot_margin.max(step * prices[i] / t);
            }
        }
        if !min.is_zero() {
            min += lot_margin;
        }
        Ok(min.round_dp_with_strategy(8, rust_decimal::RoundingStrategy::AwayFromZero))
    }

    /// Value in quote of quote + coins at current prices.
    fn value_of(
        &self,
        quote_amount: Decimal,
        coins: &[CoinAmount],
        quote: &str,
    ) -> BotResult<Decimal> {
        let mut v = quote_amount;
        for c in coins {
            v += c.quantity * self.price(&c.asset, quote)?;
        }
        Ok(v)
    }

    fn flow_items(
        &self,
        quote_amount: Decimal,
        coins: &[CoinAmount],
        quote: &str,
    ) -> BotResult<Vec<FlowItem>> {
        let mut items = Vec::new();
        if quote_amount > Decimal::ZERO {
            items.push(FlowItem {
                asset: quote.to_string(),
                amount: quote_amount,
                value: quote_amount,
            });
        }
        for c in coins {
            items.push(FlowItem {
                asset: c.asset.clone(),
                amount: c.quantity,
                value: c.quantity * self.price(&c.asset, quote)?,
            });
        }
        Ok(items)
    }

    // ------------------------------------------------------------------------- commands

    /// Everything [`Runtime::create`] checks before it writes: the config, the venue, a free
    /// name, listed assets, prices, the minimum investment and the account's unallocated
    /// funds. Normalizes `config` in place; returns the targets and the deposit.
    async fn admit_create(
        &mut self,
        config: &mut BotConfig,
    ) -> BotResult<(Targets, Vec<FlowItem>)> {
        let targets = config.validate()?;
        if config.venue != self.venue || config.account != self.account {
            return Err(ValidationError::new(
                "venue/account",
                format!("{}/{}", config.venue, config.account),
                format!(
                    "{}/{} (the venue this runtime trades)",
                    self.venue, self.account
                ),
            )
            .into());
        }
        if self.store.bot_by_name(&config.name).await?.is_some() {
            return Err(ValidationError::new(
                "name",
                &config.name,
                "a name no other bot has (see `smartfolio bot list`)",
            )
            .into());
        }
        let quote = config.quote.clone();
        self.check_listed(&targets, &quote)?;
        let mut assets: Vec<String> = targets.assets().to_vec();
        assets.extend(config.investment.coins.iter().map(|c| c.asset.clone()));
        self.ensure_prices(&assets, &quote).await?;
        let items = self
            .admit_deposit(
                &targets,
                config.investment.quote,
                &config.investment.coins,
                &quote,
            )
            .await?;
        Ok((targets, items))
    }

    /// A deposit of quote and coins into a basket of `targets`: at least the minimum
    /// investment, and no more than the account holds beyond the bots' ledgers.
    async fn admit_deposit(
        &self,
        targets: &Targets,
        quote_amount: Decimal,
        coins: &[CoinAmount],
        quote: &str,
    ) -> BotResult<Vec<FlowItem>> {
        let value = self.value_of(quote_amount, coins, quote)?;
        let minimum = self.minimum_for(targets, quote)?;
        if value < minimum || value <= Decimal::ZERO {
            return Err(BotError::BelowMinimum {
                value,
                minimum,
                quote: quote.to_string(),
                targets: targets.to_string(),
            });
        }
        let items = self.flow_items(quote_amount, coins, quote)?;
        self.check_funds(
            &items
                .iter()
                .map(|i| (i.asset.clone(), i.amount))
                .collect::<Vec<_>>(),
        )
        .await?;
        Ok(items)
    }

    /// Create a bot: validated, funded from the account's unallocated balances, stored with
    /// its deposit in one transaction. It deploys on the next tick (or [`Runtime::deploy`]).
    pub async fn create(&mut self, mut config: BotConfig) -> BotResult<BotId> {
        let (targets, items) = self.admit_create(&mut config).await?;
        let quote = config.quote.clone();
        let now = self.clock.now_ms();
        let state = BotState::new(now);
        let id = self
            .store
            .create_bot(&NewBot {
                name: config.name.clone(),
                venue: config.venue.clone(),
                account: config.account.clone(),
                quote: quote.clone(),
                status: state.status.word().into(),
                config: config_json(&config),
                state: state_json(&state),
                time_ms: now,
                deposit: items.clone(),
            })
            .await?;
        let holdings: BTreeMap<String, Decimal> =
            items.iter().map(|i| (i.asset.clone(), i.amount)).collect();
        let net: Decimal = items.iter().map(|i| i.value).sum();
        self.names.insert(config.name.clone(), id);
        let bot = LiveBot::new(
            id,
            config,
            targets,
            state,
            holdings,
            net,
            &mut self.engine.market,
        );
        self.engine.add(bot);
        self.apply_instrument_status();
        Ok(id)
    }

    /// Make the initial buys of a created bot now (at the last prices).
    pub async fn deploy(&mut self, id: BotId) -> BotResult<Option<RebalanceSummary>> {
        let bi = self.idx(id)?;
        if !matches!(self.engine.bots[bi].state.status, BotStatus::Created) {
            return Err(self.wrong_state(bi, "deploy (only a created bot deploys)"));
        }
        let assets = self.engine.bots[bi].targets.assets().to_vec();
        let quote = self.engine.bots[bi].config.quote.clone();
        self.ensure_prices(&assets, &quote).await?;
        self.engine.bots[bi].state.status = BotStatus::Deploying;
        let now = self.clock.now_ms();
        let out = self
            .plan_and_execute(bi, "deploy", "initial allocation".into(), now)
            .await?;
        let bot = &mut self.engine.bots[bi];
        if matches!(bot.state.status, BotStatus::Deploying) && !bot.unresolved {
            bot.state.status = BotStatus::Running;
            bot.state.hold = bot.holdings.iter().map(|(a, q)| (a.clone(), *q)).collect();
            self.save(bi).await?;
        }
        Ok(out)
    }

    fn wrong_state(&self, bi: usize, action: &str) -> BotError {
        let b = &self.engine.bots[bi];
        BotError::WrongState {
            name: b.config.name.clone(),
            status: b.state.status.word().into(),
            action: action.into(),
        }
    }

    fn require_active(&self, bi: usize, action: &str) -> BotResult<()> {
        match self.engine.bots[bi].state.status {
            BotStatus::Stopped { .. } | BotStatus::Stopping { .. } => {
                Err(self.wrong_state(bi, action))
            }
            _ => Ok(()),
        }
    }

    /// Everything [`Runtime::invest`] checks before it writes (the bot is not stopped):
    /// normalized coins and the deposit.
    async fn admit_invest(
        &mut self,
        bi: usize,
        quote_amount: Decimal,
        coins: Vec<CoinAmount>,
    ) -> BotResult<(Vec<CoinAmount>, Vec<FlowItem>)> {
        self.require_active(bi, "invest")?;
        if quote_amount < Decimal::ZERO {
            return Err(
                ValidationError::new("amount", quote_amount.to_string(), "an amount ≥ 0").into(),
            );
        }
        let mut coins = coins;
        for c in &mut coins {
            c.asset = smartfolio_core::targets::normalize_symbol("coins", &c.asset)?;
            if c.quantity <= Decimal::ZERO {
                return Err(ValidationError::new(
                    format!("coins.{}", c.asset),
                    c.quantity.to_string(),
                    "a quantity > 0",
                )
                .into());
            }
        }
        let quote = self.engine.bots[bi].config.quote.clone();
        let targets = self.engine.bots[bi].targets.clone();
        let mut assets: Vec<String> = targets.assets().to_vec();
        assets.extend(coins.iter().map(|c| c.asset.clone()));
        assets.extend(self.engine.bots[bi].holdings.keys().cloned());
        self.ensure_prices(&assets, &quote).await?;
        let items = self
            .admit_deposit(&targets, quote_amount, &coins, &quote)
            .await?;
        Ok((coins, items))
    }

    /// Bring more quote and/or coins into a bot; a running bot then rebalances.
    pub async fn invest(
        &mut self,
        id: BotId,
        quote_amount: Decimal,
        coins: Vec<CoinAmount>,
    ) -> BotResult<Option<RebalanceSummary>> {
        let bi = self.idx(id)?;
        let (_, items) = self.admit_invest(bi, quote_amount, coins).await?;
        let value: Decimal = items.iter().map(|i| i.value).sum();
        let now = self.clock.now_ms();
        let hold_before = self.hold_value(bi);
        let bot = &mut self.engine.bots[bi];
        let old_state = bot.state.clone();
        if let Some(hv) = hold_before
            && hv > Decimal::ZERO
        {
            let k = Decimal::ONE + value / hv;
            for (_, q) in bot.state.hold.iter_mut() {
                *q *= k;
            }
        }
        if matches!(
            bot.state.status,
            BotStatus::Paused | BotStatus::Suspended { .. }
        ) {
            bot.state.pending_rebalance = Some("invest".into());
        }
        let upd = self.bot_update(bi, None);
        let res = self
            .store
            .record_flow(&NewFlow {
                bot_id: id,
                kind: FlowKind::Deposit,
                items: items.clone(),
                time_ms: now,
                bot: Some(upd),
            })
            .await;
        let bot = &mut self.engine.bots[bi];
        if let Err(e) = res {
            bot.state = old_state;
            return Err(e.into());
        }
        for i in &items {
            *bot.holdings.entry(i.asset.clone()).or_default() += i.amount;
        }
        bot.net_invested += value;
        bot.rebuild(&mut self.engine.market);
        if matches!(self.engine.bots[bi].state.status, BotStatus::Running) {
            return self
                .plan_and_execute(
                    bi,
                    "invest",
                    format!("invest {value} {}", self.engine.bots[bi].config.quote),
                    now,
                )
                .await;
        }
        Ok(None)
    }

    /// Everything [`Runtime::withdraw`] checks before it trades: the bot is not stopped, the
    /// amount is > 0, and sells the venue accepts can raise it (else
    /// [`BotError::OverWithdrawal`] with the largest amount that can be delivered). Returns the
    /// bot's value at the last prices and the withdrawal's sells.
    async fn admit_withdraw(
        &mut self,
        bi: usize,
        amount: Decimal,
        from_overweights: bool,
    ) -> BotResult<(Decimal, Withdrawal)> {
        self.require_active(bi, "withdraw")?;
        if amount <= Decimal::ZERO {
            return Err(ValidationError::new("amount", amount.to_string(), "an amount > 0").into());
        }
        let quote = self.engine.bots[bi].config.quote.clone();
        let assets: Vec<String> = self.engine.bots[bi].holdings.keys().cloned().collect();
        self.ensure_prices(&assets, &quote).await?;
        let value = self.engine.bots[bi]
            .value_exact(&self.engine.market)
            .ok_or_else(|| BotError::NoPrice(assets.join(", ")))?;
        let w = self.withdraw_legs(bi, amount, value, from_overweights)?;
        Ok((value, w))
    }

    /// Take `amount` of quote out of a bot: selling pro rata (`from_overweights = false`) or
    /// from the assets above their targets first. The quote leaves the bot's ledger and becomes
    /// unallocated on the account.
    ///
    /// Either the whole amount leaves the bot, or: refused before anything trades
    /// ([`BotError::OverWithdrawal`]), or, when the venue under-delivers once trading started,
    /// what was raised leaves the bot, the sells' record is `partial`, and the answer is
    /// [`BotError::WithdrawShortfall`] (never a success).
    pub async fn withdraw(
        &mut self,
        id: BotId,
        amount: Decimal,
        from_overweights: bool,
    ) -> BotResult<WithdrawView> {
        let bi = self.idx(id)?;
        let (value, w) = self.admit_withdraw(bi, amount, from_overweights).await?;
        let quote = self.engine.bots[bi].config.quote.clone();
        let now = self.clock.now_ms();
        let mut summary = None;
        if !w.sells.is_empty() {
            let legs = w
                .sells
                .iter()
                .map(|s| PlannedLeg {
                    asset: s.asset.clone(),
                    side: Side::Sell,
                    quantity: s.quantity,
                    price: s.price,
                })
                .collect();
            let skipped = w
                .skipped
                .iter()
                .map(|s| LegReport {
                    asset: s.asset.clone(),
                    side: Side::Sell.as_str().into(),
                    planned_quantity: s.quantity,
                    filled_quantity: Decimal::ZERO,
                    outcome: "skipped".into(),
                    detail: s.reason.clone(),
                    client_id: None,
                    fees: Decimal::ZERO,
                })
                .collect();
            let plan_json = serde_json::json!({
                "value": value.to_string(),
                "withdraw": amount.to_string(),
                "from_overweights": from_overweights,
                "sells": w.sells.iter().map(|s| serde_json::json!({
                    "asset": s.asset, "quantity": s.quantity.to_string(), "reason": s.reason,
                })).collect::<Vec<_>>(),
                "skipped": w.skipped.iter().map(|s| serde_json::json!({
                    "asset": s.asset, "reason": s.reason,
                })).collect::<Vec<_>>(),
            });
            summary = Some(
                self.execute_with(
                    bi,
                    "withdraw",
                    format!("withdraw {amount} {quote}"),
                    legs,
                    skipped,
                    plan_json.to_string(),
                    now,
                    Some(amount),
                )
                .await?,
            );
        }
        let cash = self.engine.bots[bi].cash();
        let withdrawn = amount.min(cash).max(Decimal::ZERO);
        if withdrawn > Decimal::ZERO {
            let hv = self.hold_value(bi);
            let bot = &mut self.engine.bots[bi];
            let old = bot.state.clone();
            if let Some(hv) = hv
                && hv > Decimal::ZERO
            {
                let k = (Decimal::ONE - withdrawn / hv).max(Decimal::ZERO);
                for (_, q) in bot.state.hold.iter_mut() {
                    *q *= k;
                }
            }
            let upd = self.bot_update(bi, None);
            let res = self
                .store
                .record_flow(&NewFlow {
                    bot_id: id,
                    kind: FlowKind::Withdraw,
                    items: vec![FlowItem {
                        asset: quote.clone(),
                        amount: withdrawn,
                        value: withdrawn,
                    }],
                    time_ms: now,
                    bot: Some(upd),
                })
                .await;
            let bot = &mut self.engine.bots[bi];
            if let Err(e) = res {
                bot.state = old;
                return Err(e.into());
            }
            *bot.holdings.entry(quote.clone()).or_default() -= withdrawn;
            bot.net_invested -= withdrawn;
            bot.rebuild(&mut self.engine.market);
        }
        if withdrawn < amount {
            let detail = match &summary {
                Some(s) => {
                    let short: Vec<String> = s
                        .legs
                        .iter()
                        .filter(|l| l.client_id.is_some() && l.outcome != "filled")
                        .map(|l| format!("the {} sell {} ({})", l.asset, l.outcome, l.detail))
                        .collect();
                    if short.is_empty() {
                        format!(
                            "the sells filled but raised {} {quote} less than planned (prices \
                             moved beyond the price margin)",
                            (amount - withdrawn).round_dp(8).normalize()
                        )
                    } else {
                        short.join("; ")
                    }
                }
                None => "the bot's cash changed before the withdrawal".into(),
            };
            return Err(BotError::WithdrawShortfall(Box::new(Shortfall {
                name: self.engine.bots[bi].config.name.clone(),
                requested: amount,
                withdrawn,
                quote,
                detail,
            })));
        }
        Ok(WithdrawView {
            requested: amount,
            withdrawn,
            rebalance: summary,
        })
    }

    /// The sells that raise `amount` of quote beyond the bot's cash (none when its cash
    /// covers it), at the last prices: [`withdrawal_sells`] of the bot's ledger, with its fee
    /// rate and price margin as the cost of selling; refused when they cannot raise it.
    fn withdraw_legs(
        &self,
        bi: usize,
        amount: Decimal,
        value: Decimal,
        from_overweights: bool,
    ) -> BotResult<Withdrawal> {
        let bot = &self.engine.bots[bi];
        let quote = &bot.config.quote;
        let mut held = Vec::new();
        for (a, q) in &bot.holdings {
            if a == quote || *q <= Decimal::ZERO {
                continue;
            }
            held.push(Holding {
                asset: a.clone(),
                quantity: *q,
                price: self.price(a, quote)?,
                target: bot.targets.weight_of(a).unwrap_or_default(),
            });
        }
        withdrawal_sells(
            &held,
            bot.cash(),
            amount,
            value,
            bot.config.fee_rate + bot.config.price_margin,
            from_overweights,
            &self.rules,
        )
        .map_err(|e| {
            BotError::OverWithdrawal(Box::new(Refusal {
                name: bot.config.name.clone(),
                amount,
                largest: e.largest,
                quote: quote.clone(),
                reason: if amount > value {
                    format!(
                        "it holds {} {quote} at the last prices",
                        value.round_dp(8).normalize()
                    )
                } else {
                    e.reason
                },
            }))
        })
    }

    /// The config [`Runtime::modify`] would store (validated, its assets listed) and its targets.
    fn modified_config(
        &self,
        bi: usize,
        targets: Option<&str>,
        trigger: Option<Trigger>,
        cooldown_ms: Option<i64>,
    ) -> BotResult<(BotConfig, Targets)> {
        self.require_active(bi, "modify")?;
        let mut cfg = self.engine.bots[bi].config.clone();
        if let Some(t) = targets {
            cfg.targets = t.to_string();
        }
        if let Some(t) = trigger {
            cfg.trigger = t;
        }
        if let Some(c) = cooldown_ms {
            cfg.cooldown_ms = c;
        }
        let new_targets = cfg.validate()?;
        self.check_listed(&new_targets, &cfg.quote)?;
        Ok((cfg, new_targets))
    }

    /// Change targets (and so assets), trigger or cooldown of a bot that is not stopped. Nothing
    /// is traded now: the next plan uses the new targets.
    pub async fn modify(
        &mut self,
        id: BotId,
        targets: Option<&str>,
        trigger: Option<Trigger>,
        cooldown_ms: Option<i64>,
    ) -> BotResult<BotView> {
        let bi = self.idx(id)?;
        let (cfg, new_targets) = self.modified_config(bi, targets, trigger, cooldown_ms)?;
        let now = self.clock.now_ms();
        let bot = &self.engine.bots[bi];
        self.store
            .update_bot(&BotUpdate {
                id,
                status: bot.state.status.word().into(),
                state: state_json(&bot.state),
                config: Some(config_json(&cfg)),
                time_ms: now,
            })
            .await?;
        let bot = &mut self.engine.bots[bi];
        bot.config = cfg;
        bot.targets = new_targets;
        bot.rebuild(&mut self.engine.market);
        self.apply_instrument_status();
        self.show(id).await
    }

    fn check_pause(&self, bi: usize) -> BotResult<()> {
        match self.engine.bots[bi].state.status {
            BotStatus::Running | BotStatus::Suspended { .. } | BotStatus::Created => Ok(()),
            _ => Err(self.wrong_state(bi, "pause")),
        }
    }

    fn check_resume(&self, bi: usize) -> BotResult<()> {
        match self.engine.bots[bi].state.status {
            BotStatus::Paused | BotStatus::Suspended { .. } => Ok(()),
            _ => Err(self.wrong_state(bi, "resume (only a paused or suspended bot resumes)")),
        }
    }

    /// Pause a running or suspended bot.
    pub async fn pause(&mut self, id: BotId) -> BotResult<()> {
        let bi = self.idx(id)?;
        self.check_pause(bi)?;
        let old = self.engine.bots[bi].state.status.clone();
        self.engine.bots[bi].state.status = BotStatus::Paused;
        if let Err(e) = self.save(bi).await {
            self.engine.bots[bi].state.status = old;
            return Err(e);
        }
        Ok(())
    }

    /// Resume a paused or suspended bot (this also resets the circuit breaker).
    pub async fn resume(&mut self, id: BotId) -> BotResult<()> {
        let bi = self.idx(id)?;
        self.check_resume(bi)?;
        let old = self.engine.bots[bi].state.clone();
        let bot = &mut self.engine.bots[bi];
        bot.state.status = if bot.state.hold.is_empty() && bot.state.next_seq == 1 {
            BotStatus::Created
        } else {
            BotStatus::Running
        };
        bot.state.consecutive_failures = 0;
        if let Err(e) = self.save(bi).await {
            self.engine.bots[bi].state = old;
            return Err(e);
        }
        Ok(())
    }

    /// Stop a bot: sell everything to quote or keep the coins; either way its ledger is closed
    /// and its holdings released to the account. Returns the final report.
    pub async fn stop(&mut self, id: BotId, mode: StopMode, reason: &str) -> BotResult<StopReport> {
        let bi = self.idx(id)?;
        self.check_stop(bi)?;
        let now = self.clock.now_ms();
        self.engine.bots[bi].state.status = BotStatus::Stopping {
            mode,
            reason: reason.to_string(),
        };
        self.save(bi).await?;
        self.finish_stop(bi, now).await
    }

    fn check_stop(&self, bi: usize) -> BotResult<()> {
        if matches!(self.engine.bots[bi].state.status, BotStatus::Stopped { .. }) {
            return Err(self.wrong_state(bi, "stop"));
        }
        Ok(())
    }

    /// A stop's sells: every coin the bot holds, rounded to its lot step; the coins whose sell
    /// would break the venue's rules are kept (and released as coins).
    fn sell_all_legs(&self, bi: usize) -> BotResult<(Vec<PlannedLeg>, Vec<KeptCoin>)> {
        let bot = &self.engine.bots[bi];
        let quote = &bot.config.quote;
        let mut legs = Vec::new();
        let mut kept = Vec::new();
        for (a, q) in &bot.holdings {
            if a == quote || *q <= Decimal::ZERO {
                continue;
            }
            let p = self.price(a, quote)?;
            let rules = self.rules.get(a);
            let qty = rules.round_quantity(*q);
            match rules.check(qty, p) {
                None => legs.push(PlannedLeg {
                    asset: a.clone(),
                    side: Side::Sell,
                    quantity: qty,
                    price: p,
                }),
                Some(r) => kept.push(KeptCoin {
                    asset: a.clone(),
                    quantity: *q,
                    rounded: qty,
                    price: p,
                    reason: r.to_string(),
                }),
            }
        }
        Ok((legs, kept))
    }

    async fn finish_stop(&mut self, bi: usize, now: i64) -> BotResult<StopReport> {
        let (mode, reason) = match &self.engine.bots[bi].state.status {
            BotStatus::Stopping { mode, reason } => (*mode, reason.clone()),
            _ => return Err(self.wrong_state(bi, "finish a stop")),
        };
        let quote = self.engine.bots[bi].config.quote.clone();
        let assets: Vec<String> = self.engine.bots[bi].holdings.keys().cloned().collect();
        let mut unsold = Vec::new();
        if mode == StopMode::SellAll {
            self.ensure_prices(&assets, &quote).await?;
            let (legs, kept) = self.sell_all_legs(bi)?;
            unsold.extend(kept.into_iter().map(|k| (k.asset, k.quantity, k.reason)));
            if !legs.is_empty() {
                let s = self
                    .execute(
                        bi,
                        "stop",
                        reason.clone(),
                        legs,
                        "{\"sell_all\":true}".into(),
                        now,
                    )
                    .await?;
                for l in &s.legs {
                    if l.outcome != "filled" {
                        unsold.push((
                            l.asset.clone(),
                            l.planned_quantity - l.filled_quantity,
                            l.detail.clone(),
                        ));
                    }
                }
                if self.engine.bots[bi].unresolved {
                    return Err(BotError::WrongState {
                        name: self.engine.bots[bi].config.name.clone(),
                        status: "stopping".into(),
                        action: "finish the stop while a sell's outcome is unknown; it completes after reconciliation".into(),
                    });
                }
            }
        }
        let final_value = self.engine.bots[bi]
            .value_exact(&self.engine.market)
            .unwrap_or_else(|| self.engine.bots[bi].cash());
        let fees = self.fees_paid(self.engine.bots[bi].id).await?;
        let rebalances = self.store.rebalances(self.engine.bots[bi].id).await?.len();
        let bot = &self.engine.bots[bi];
        let ni = bot.net_invested;
        let mut report = StopReport {
            time_ms: now,
            reason,
            mode,
            final_value,
            net_invested: ni,
            pnl: final_value - ni,
            pnl_pct: smartfolio_core::risk::pnl_pct(final_value, ni),
            fees_paid: fees,
            rebalances,
            released: bot
                .holdings
                .iter()
                .filter(|(_, q)| !q.is_zero())
                .map(|(a, q)| (a.clone(), *q))
                .collect(),
            unsold,
        };
        let mut state = bot.state.clone();
        state.status = BotStatus::Stopped {
            report: Box::new(report.clone()),
        };
        let released = self
            .store
            .close_ledger(&BotUpdate {
                id: bot.id,
                status: "stopped".into(),
                state: state_json(&state),
                config: None,
                time_ms: now,
            })
            .await?;
        report.released = released;
        let bot = &mut self.engine.bots[bi];
        bot.state = state;
        bot.holdings.clear();
        bot.rebuild(&mut self.engine.market);
        Ok(report)
    }

    // ------------------------------------------------------------------------- previews
    //
    // Each preview runs the checks and the leg calculations of its action (the same
    // functions), stores nothing and sends no order. The only state it may change is the
    // market's price cache, filled from the venue's tickers as the action itself would.

    /// What [`Runtime::create`] then [`Runtime::deploy`] would do with `config`: its initial
    /// orders at the last prices.
    pub async fn preview_create(&mut self, config: &BotConfig) -> BotResult<PlanPreview> {
        let mut config = config.clone();
        let (targets, items) = self.admit_create(&mut config).await?;
        let holdings: BTreeMap<String, Decimal> =
            items.iter().map(|i| (i.asset.clone(), i.amount)).collect();
        let p = self.ledger_portfolio(&config.quote, &targets, &holdings)?;
        let state = BotState::new(self.clock.now_ms());
        let plan = self.plan_for(&config, &state, &p)?;
        let mut pv = self.plan_preview("create", &config, &plan);
        pv.summary = format!(
            "create bot `{}` with {}, targets {}, trigger {}: {}",
            config.name,
            items_text(&items),
            config.targets,
            config.trigger,
            pv.legs_text()
        );
        Ok(pv)
    }

    /// What [`Runtime::invest`] would do: the rebalance after the deposit (a bot that is not
    /// running trades it when it runs again).
    pub async fn preview_invest(
        &mut self,
        id: BotId,
        quote_amount: Decimal,
        coins: Vec<CoinAmount>,
    ) -> BotResult<PlanPreview> {
        let bi = self.idx(id)?;
        let (_, items) = self.admit_invest(bi, quote_amount, coins).await?;
        let b = &self.engine.bots[bi];
        let mut holdings = b.holdings.clone();
        for i in &items {
            *holdings.entry(i.asset.clone()).or_default() += i.amount;
        }
        let p = self.ledger_portfolio(&b.config.quote, &b.targets, &holdings)?;
        let plan = self.plan_for(&b.config, &b.state, &p)?;
        let mut pv = self.plan_preview("invest", &b.config, &plan);
        let status = b.state.status.word();
        if !matches!(b.state.status, BotStatus::Running) {
            pv.notes.push(format!(
                "the bot is {status}: the {} join its ledger now, the trades wait until it runs",
                items_text(&items)
            ));
        }
        pv.summary = format!(
            "invest {} into `{}`, then rebalance: {}",
            items_text(&items),
            b.config.name,
            pv.legs_text()
        );
        Ok(pv)
    }

    /// What [`Runtime::withdraw`] would sell to pay `amount` of quote: exactly its sells, and
    /// every asset that does not sell with the reason.
    pub async fn preview_withdraw(
        &mut self,
        id: BotId,
        amount: Decimal,
        from_overweights: bool,
    ) -> BotResult<PlanPreview> {
        let bi = self.idx(id)?;
        let (value, w) = self.admit_withdraw(bi, amount, from_overweights).await?;
        let b = &self.engine.bots[bi];
        let mode = if from_overweights {
            "sell from the assets above target first"
        } else {
            "sell pro rata"
        };
        let legs: Vec<PreviewLeg> = w
            .sells
            .iter()
            .map(|s| {
                let l = PlannedLeg {
                    asset: s.asset.clone(),
                    side: Side::Sell,
                    quantity: s.quantity,
                    price: s.price,
                };
                leg_preview(&l, b.config.fee_rate, &format!("{mode}: {}", s.reason))
            })
            .collect();
        let skipped = w
            .skipped
            .iter()
            .map(|s| PreviewLeg {
                asset: s.asset.clone(),
                side: Side::Sell.as_str().into(),
                quantity: s.quantity,
                price: s.price,
                notional: s.quantity * s.price,
                fee: Decimal::ZERO,
                reason: s.reason.clone(),
            })
            .collect();
        let fees: Decimal = legs.iter().map(|l| l.fee).sum();
        let mut pv = PlanPreview {
            action: "withdraw".into(),
            summary: String::new(),
            value_before: Some(value),
            value_after: Some(value - amount - fees),
            fees,
            legs,
            skipped,
            notes: vec![],
        };
        let cash = b.cash();
        let raised: Decimal = pv.legs.iter().map(|l| l.notional - l.fee).sum();
        if !pv.legs.is_empty() && cash + raised > amount {
            pv.notes.push(format!(
                "the sells raise about {} {} at the last prices; what is left after the {} \
                 withdrawn stays in the bot as cash",
                (cash.max(Decimal::ZERO) + raised).round_dp(8).normalize(),
                b.config.quote,
                amount.normalize()
            ));
        }
        pv.summary = format!(
            "withdraw {} {} from `{}`: {}",
            amount.normalize(),
            b.config.quote,
            b.config.name,
            if pv.legs.is_empty() {
                format!(
                    "paid from its cash ({} {}), no trade",
                    cash.round_dp(8).normalize(),
                    b.config.quote
                )
            } else {
                pv.legs_text()
            }
        );
        Ok(pv)
    }

    /// What [`Runtime::modify`] would change: nothing is traded by the modification; the legs
    /// are what the next rebalance would trade at the last prices.
    pub async fn preview_modify(
        &mut self,
        id: BotId,
        targets: Option<&str>,
        trigger: Option<Trigger>,
        cooldown_ms: Option<i64>,
    ) -> BotResult<PlanPreview> {
        let bi = self.idx(id)?;
        let (cfg, new_targets) = self.modified_config(bi, targets, trigger, cooldown_ms)?;
        let mut assets: Vec<String> = new_targets.assets().to_vec();
        assets.extend(self.engine.bots[bi].holdings.keys().cloned());
        self.ensure_prices(&assets, &cfg.quote).await?;
        let b = &self.engine.bots[bi];
        let p = self.ledger_portfolio(&cfg.quote, &new_targets, &b.holdings)?;
        let plan = self.plan_for(&cfg, &b.state, &p)?;
        let mut pv = self.plan_preview("modify", &cfg, &plan);
        pv.notes.push(
            "nothing is traded now: the next rebalance (when the trigger fires) plans against \
             the new targets; the legs are what it would trade at the last prices"
                .into(),
        );
        pv.summary = format!(
            "modify `{}`: targets {}, trigger {}{}; at the next rebalance: {}",
            cfg.name,
            cfg.targets,
            cfg.trigger,
            cooldown_ms.map_or(String::new(), |c| format!(", cooldown {c} ms")),
            pv.legs_text()
        );
        Ok(pv)
    }

    /// What [`Runtime::pause`] would do (no trade).
    pub fn preview_pause(&self, id: BotId) -> BotResult<PlanPreview> {
        let bi = self.idx(id)?;
        self.check_pause(bi)?;
        let b = &self.engine.bots[bi];
        Ok(no_trade(
            "pause",
            format!(
                "pause `{}`: no trade; its holdings stay as they are",
                b.config.name
            ),
            b.value_exact(&self.engine.market),
        ))
    }

    /// What [`Runtime::resume`] would do (no trade now).
    pub fn preview_resume(&self, id: BotId) -> BotResult<PlanPreview> {
        let bi = self.idx(id)?;
        self.check_resume(bi)?;
        let b = &self.engine.bots[bi];
        Ok(no_trade(
            "resume",
            format!(
                "resume `{}`: its trigger is checked again from the next tick{}",
                b.config.name,
                if b.state.pending_rebalance.is_some() {
                    " and the rebalance it owes runs"
                } else {
                    ""
                }
            ),
            b.value_exact(&self.engine.market),
        ))
    }

    /// What [`Runtime::stop`] would sell (`SellAll`) or release (`KeepCoins`).
    pub async fn preview_stop(&mut self, id: BotId, mode: StopMode) -> BotResult<PlanPreview> {
        let bi = self.idx(id)?;
        self.check_stop(bi)?;
        let quote = self.engine.bots[bi].config.quote.clone();
        let mut legs = Vec::new();
        let mut skipped = Vec::new();
        let mut notes = Vec::new();
        match mode {
            StopMode::SellAll => {
                let assets: Vec<String> = self.engine.bots[bi].holdings.keys().cloned().collect();
                self.ensure_prices(&assets, &quote).await?;
                let (planned, kept) = self.sell_all_legs(bi)?;
                let fee_rate = self.engine.bots[bi].config.fee_rate;
                legs = planned
                    .iter()
                    .map(|l| leg_preview(l, fee_rate, "stop: sell everything to quote"))
                    .collect();
                skipped = kept
                    .into_iter()
                    .map(|k| PreviewLeg {
                        asset: k.asset,
                        side: Side::Sell.as_str().into(),
                        quantity: k.quantity,
                        price: k.price,
                        notional: k.rounded * k.price,
                        fee: Decimal::ZERO,
                        reason: format!("kept as coins: {}", k.reason),
                    })
                    .collect();
            }
            StopMode::KeepCoins => {
                for (a, q) in &self.engine.bots[bi].holdings {
                    if *a != quote && *q > Decimal::ZERO {
                        notes.push(format!("released to the account: {} {a}", q.normalize()));
                    }
                }
            }
        }
        let b = &self.engine.bots[bi];
        notes.push(format!(
            "the ledger is closed; {} {quote} of cash (plus any sale proceeds) is released to \
             the account",
            b.cash().round_dp(8).normalize()
        ));
        let fees: Decimal = legs.iter().map(|l: &PreviewLeg| l.fee).sum();
        let value = b.value_exact(&self.engine.market);
        let mut pv = PlanPreview {
            action: "stop".into(),
            summary: String::new(),
            value_before: value,
            value_after: value.map(|v| v - fees),
            fees,
            legs,
            skipped,
            notes,
        };
        pv.summary = match mode {
            StopMode::SellAll => format!(
                "stop `{}` selling everything to {quote}: {}",
                b.config.name,
                pv.legs_text()
            ),
            StopMode::KeepCoins => format!(
                "stop `{}` keeping the coins: no trade, the holdings are released",
                b.config.name
            ),
        };
        Ok(pv)
    }

    async fn fees_paid(&self, id: BotId) -> BotResult<Decimal> {
        let mut total = Decimal::ZERO;
        for f in self.store.fills(id).await? {
            total += self
                .fee_value(&f.fill_id, f.fee, &f.fee_asset, &f.base, &f.quote, f.price)
                .await;
        }
        Ok(total)
    }

    // -------------------------------------------------------------------------- views

    fn hold_value(&self, bi: usize) -> Option<Decimal> {
        let b = &self.engine.bots[bi];
        let mut v = Decimal::ZERO;
        for (a, q) in &b.state.hold {
            v += *q * self.price(a, &b.config.quote).ok()?;
        }
        Some(v)
    }

    fn summary(&self, bi: usize) -> BotSummary {
        let b = &self.engine.bots[bi];
        let value = b.value_exact(&self.engine.market);
        let reason = match &b.state.status {
            BotStatus::Suspended { reason, .. } => Some(reason.clone()),
            BotStatus::Stopped { report } => Some(report.reason.clone()),
            BotStatus::Stopping { reason, .. } => Some(reason.clone()),
            _ => b.state.idle.clone(),
        };
        let (value, pnl) = match &b.state.status {
            BotStatus::Stopped { report } => (Some(report.final_value), Some(report.pnl)),
            _ => (value, value.map(|v| v - b.net_invested)),
        };
        BotSummary {
            id: b.id,
            name: b.config.name.clone(),
            status: b.state.status.word().into(),
            reason,
            quote: b.config.quote.clone(),
            targets: b.config.targets.clone(),
            trigger: b.config.trigger.to_string(),
            value,
            net_invested: b.net_invested,
            pnl,
        }
    }

    /// Every bot of this venue and account.
    pub fn list(&self) -> Vec<BotSummary> {
        (0..self.engine.bots.len())
            .map(|i| self.summary(i))
            .collect()
    }

    /// One bot in detail: holdings against targets and P&L at the last prices.
    pub async fn show(&self, id: BotId) -> BotResult<BotView> {
        let bi = self.idx(id)?;
        let b = &self.engine.bots[bi];
        let quote = &b.config.quote;
        let value = b.value_exact(&self.engine.market);
        let mut assets: Vec<String> = b.targets.assets().to_vec();
        for a in b.holdings.keys() {
            if !assets.contains(a) {
                assets.push(a.clone());
            }
        }
        let hundred = Decimal::ONE_HUNDRED;
        let holdings = assets
            .iter()
            .map(|a| {
                let q = b.holdings.get(a).copied().unwrap_or_default();
                let p = self.price(a, quote).ok();
                let v = p.map(|p| q * p);
                let w = match (v, value) {
                    (Some(v), Some(tv)) if tv > Decimal::ZERO => Some(v / tv * hundred),
                    _ => None,
                };
                let t = b.targets.weight_of(a).unwrap_or_default() * hundred;
                HoldingView {
                    asset: a.clone(),
                    quantity: q,
                    price: p,
                    value: v.map(|v| v.round_dp(8)),
                    weight_pct: w.map(|w| w.round_dp(6)),
                    target_pct: t,
                    deviation_pp: w.map(|w| (w - t).round_dp(6)),
                }
            })
            .collect();
        let pnl = match value {
            Some(v) => {
                let hold = self.hold_value(bi).unwrap_or_default();
                let today = self.today_pnl(id, v).await?;
                Some(PnlView {
                    value: v,
                    net_invested: b.net_invested,
                    total: v - b.net_invested,
                    total_pct: smartfolio_core::risk::pnl_pct(v, b.net_invested)
                        .map(|x| x.round_dp(6)),
                    today,
                    hold_value: hold,
                    rebalancing_gain: v - hold,
                })
            }
            None => None,
        };
        let rebalances = self.store.rebalances(id).await?.len();
        Ok(BotView {
            summary: self.summary(bi),
            config: b.config.clone(),
            holdings,
            pnl,
            last_rebalance_ms: b.state.last_rebalance_ms,
            rebalances,
            consecutive_failures: b.state.consecutive_failures,
            stop_report: match &b.state.status {
                BotStatus::Stopped { report } => Some((**report).clone()),
                _ => None,
            },
        })
    }

    /// Today's P&L: value now minus the value at 00:00 UTC (the last snapshot at or before it,
    /// else the first of the day), net of the day's flows.
    async fn today_pnl(&self, id: BotId, value: Decimal) -> BotResult<Option<Decimal>> {
        let now = self.clock.now_ms();
        let day = now.div_euclid(86_400_000) * 86_400_000;
        let snaps = self.store.snapshots(id).await?;
        let start = snaps
            .iter()
            .rev()
            .find(|s| s.time_ms <= day)
            .or_else(|| snaps.iter().find(|s| s.time_ms > day && s.time_ms <= now));
        let Some(start) = start else {
            return Ok(None);
        };
        let flows: Decimal = self
            .store
            .flows(id)
            .await?
            .iter()
            .filter(|f| f.time_ms > start.time_ms && f.time_ms <= now)
            .map(|f| {
                if f.kind == "deposit" {
                    f.value
                } else {
                    -f.value
                }
            })
            .sum();
        Ok(Some(value - start.value - flows))
    }

    /// Rebalances, orders, flows and snapshots of a bot.
    pub async fn history(&self, id: BotId) -> BotResult<HistoryView> {
        let bi = self.idx(id)?;
        let rebalances = self
            .store
            .rebalances(id)
            .await?
            .into_iter()
            .map(|r| RebalanceView {
                id: r.id,
                seq: r.seq,
                kind: r.kind,
                reason: r.reason,
                status: r.status,
                started_ms: r.started_ms,
                finished_ms: r.finished_ms,
                summary: r.summary.and_then(|s| serde_json::from_str(&s).ok()),
            })
            .collect();
        Ok(HistoryView {
            bot: self.summary(bi),
            rebalances,
            orders: self.store.orders(id).await?,
            flows: self.store.flows(id).await?,
            snapshots: self.store.snapshots(id).await?,
        })
    }

    /// Prove `Σ ledgers ≤ account` per asset for the bots of this account.
    pub async fn check_isolation(&self) -> BotResult<IsolationReport> {
        let balances = self.exchange.balances().await?;
        let ours: std::collections::HashSet<BotId> =
            self.engine.bots.iter().map(|b| b.id).collect();
        let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
        for (bot, asset, v) in self.store.all_balances().await? {
            if ours.contains(&bot) {
                *sums.entry(asset).or_default() += v;
            }
        }
        let mut lines = Vec::new();
        for (asset, ledgers) in sums {
            let account: Decimal = balances
                .iter()
                .filter(|b| b.asset == asset)
                .map(|b| b.total())
                .sum();
            lines.push(IsolationLine {
                ok: ledgers <= account && ledgers >= Decimal::ZERO,
                asset,
                account,
                ledgers,
            });
        }
        Ok(IsolationReport {
            ok: lines.iter().all(|l| l.ok),
            lines,
        })
    }

    // ---------------------------------------------------------------------------- ticks

    /// Take a tick's prices without deciding anything.
    pub fn observe_prices(&mut self, tick: &PriceTick) {
        self.engine.market.update(tick);
    }

    /// Drive every bot from a tick (its time is market time): suspend checks, risk, trigger,
    /// then plan and execution for the few bots that act, and snapshots when due.
    pub async fn on_tick(&mut self, tick: &PriceTick) -> BotResult<TickReport> {
        let now = tick.time_ms;
        self.engine.market.update(tick);
        if now >= self.next_instrument_refresh_ms {
            match self.refresh_instruments().await {
                Ok(()) => self.apply_instrument_status(),
                Err(e) => tracing::warn!("instrument refresh failed: {e}"),
            }
            self.next_instrument_refresh_ms = now + self.instrument_refresh_ms;
        }
        let mut report = TickReport {
            time_ms: now,
            ..Default::default()
        };
        let decisions = self.engine.decide(now);
        report.bots = self.engine.bots.len();
        for (bi, d) in decisions {
            if let Err(e) = self.act(bi, d, now, &mut report).await {
                match e {
                    BotError::Store(e) => return Err(BotError::Store(e)),
                    other => tracing::warn!(bot = self.engine.bots[bi].id, "{other}"),
                }
            }
        }
        let mut snaps = Vec::new();
        for b in &mut self.engine.bots {
            if !matches!(
                b.state.status,
                BotStatus::Running | BotStatus::Suspended { .. } | BotStatus::Paused
            ) || now < b.next_snapshot_ms
            {
                continue;
            }
            let iv = b.config.snapshot_interval_ms;
            b.next_snapshot_ms = (now.div_euclid(iv) + 1) * iv;
            let Some(value) = b.value_exact(&self.engine.market) else {
                continue;
            };
            let mut hold = Decimal::ZERO;
            for (a, q) in &b.state.hold {
                hold += *q
                    * if *a == b.config.quote {
                        Decimal::ONE
                    } else {
                        self.engine.market.price_of(a).unwrap_or_default()
                    };
            }
            snaps.push(smartfolio_store::Snapshot {
                bot_id: b.id,
                time_ms: now,
                value,
                net_invested: b.net_invested,
                hold_value: hold,
            });
        }
        if !snaps.is_empty() {
            report.snapshots = snaps.len();
            self.store.insert_snapshots(&snaps).await?;
        }
        Ok(report)
    }

    async fn act(
        &mut self,
        bi: usize,
        d: Decision,
        now: i64,
        report: &mut TickReport,
    ) -> BotResult<()> {
        let id = self.engine.bots[bi].id;
        match d {
            Decision::Deploy => {
                self.deploy(id).await?;
                report.deployed += 1;
            }
            Decision::Suspend { reason, breaker } => {
                tracing::info!(bot = id, "suspended: {reason}");
                self.engine.bots[bi].state.status = BotStatus::Suspended {
                    reason,
                    since_ms: now,
                    breaker,
                };
                self.save(bi).await?;
                report.suspended += 1;
            }
            Decision::Resume => {
                let bot = &mut self.engine.bots[bi];
                if let BotStatus::Suspended { breaker: true, .. } = bot.state.status {
                    // Half-open: one more failure opens the breaker again.
                    bot.state.consecutive_failures = bot.config.breaker_failures.saturating_sub(1);
                }
                bot.state.status = BotStatus::Running;
                self.save(bi).await?;
                report.resumed += 1;
            }
            Decision::Risk(verdict) => {
                let reason = verdict.to_string();
                tracing::info!(bot = id, "{reason}: selling to quote and stopping");
                self.stop(id, StopMode::SellAll, &reason).await?;
                report.stopped += 1;
            }
            Decision::Rebalance(reason) => {
                if self
                    .plan_and_execute(bi, "rebalance", reason, now)
                    .await?
                    .is_some()
                {
                    report.rebalanced += 1;
                }
            }
            Decision::Reconcile => {
                self.reconcile(id).await?;
            }
            Decision::FinishStop => {
                self.finish_stop(bi, now).await?;
                report.stopped += 1;
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------------ execution

    /// The bot's ledger as a portfolio at the market's prices.
    fn portfolio_of(&self, bi: usize) -> BotResult<Portfolio> {
        let b = &self.engine.bots[bi];
        self.ledger_portfolio(&b.config.quote, &b.targets, &b.holdings)
    }

    /// A ledger (`holdings`, the quote's entry being the cash) as a portfolio for `targets` at
    /// the market's prices: the targeted assets in order, then held assets without a target.
    fn ledger_portfolio(
        &self,
        quote: &str,
        targets: &Targets,
        holdings: &BTreeMap<String, Decimal>,
    ) -> BotResult<Portfolio> {
        let mut assets: Vec<String> = targets.assets().to_vec();
        let mut weights: Vec<Decimal> = targets.weights().to_vec();
        let n_targeted = assets.len();
        for (a, q) in holdings {
            if a != quote && !q.is_zero() && !assets.contains(a) {
                assets.push(a.clone());
                weights.push(Decimal::ZERO);
            }
        }
        let held = |a: &str| {
            holdings
                .get(a)
                .copied()
                .unwrap_or_default()
                .max(Decimal::ZERO)
        };
        let quantities: Vec<Decimal> = assets.iter().map(|a| held(a)).collect();
        let prices: Vec<Decimal> = assets
            .iter()
            .map(|a| self.price(a, quote))
            .collect::<BotResult<_>>()?;
        Ok(Portfolio::from_parts(
            quote.to_string(),
            assets,
            weights,
            quantities,
            prices,
            held(quote),
            n_targeted,
        )?)
    }

    /// The plan (SPEC §3) of a portfolio for a bot with `config` and `state`: its fee rate, the
    /// venue's rules, and the entry prices of the assets it has not bought yet.
    fn plan_for(&self, config: &BotConfig, state: &BotState, p: &Portfolio) -> BotResult<Plan> {
        let entries: Vec<(String, Decimal)> = config
            .entry_prices
            .iter()
            .filter(|e| !state.bought.contains(&e.asset))
            .map(|e| (e.asset.clone(), e.price))
            .collect();
        let opts = PlanOptions {
            fee_rate: config.fee_rate,
            rules: &self.rules,
            entry_prices: &entries,
        };
        Ok(plan(p, &opts)?)
    }

    /// Why a plan can send no order, if it can send none: no sell, and no buy survives
    /// sizing to the bot's cash (the check [`Self::execute_with`] makes before its buys). None
    /// when an order would be sent, or when nothing needs trading.
    fn nothing_to_send(&self, bi: usize, p: &Plan) -> Option<String> {
        if p.trades.iter().any(|l| l.side == Side::Sell) {
            return None;
        }
        let b = &self.engine.bots[bi];
        let cash = b.cash().max(Decimal::ZERO);
        let (sized, dropped) = self.size_buys(&b.config, cash, &planned_legs(p));
        if !sized.is_empty() {
            return None;
        }
        let mut why: Vec<String> = p
            .skipped
            .iter()
            .map(|s| format!("{} {}: {}", s.side, s.asset, s.reason))
            .collect();
        why.extend(dropped.iter().map(|(l, r)| {
            format!(
                "{} {}: sized to the bot's cash {}: {r}",
                l.side,
                l.asset,
                cash.round_dp(8).normalize()
            )
        }));
        if why.is_empty() {
            return None;
        }
        Some(format!(
            "too small to trade: no order can be sent ({}); no rebalance is recorded until one \
             can",
            why.join("; ")
        ))
    }

    /// Plan from the ledger (SPEC §3) and execute. None when no order could be sent: nothing
    /// is recorded then, and the reason (if a leg was wanted) is kept in the bot's state and
    /// shown with its summary, logged once when it changes.
    async fn plan_and_execute(
        &mut self,
        bi: usize,
        kind: &str,
        reason: String,
        now: i64,
    ) -> BotResult<Option<RebalanceSummary>> {
        let b = &self.engine.bots[bi];
        let p = self.plan_for(&b.config, &b.state, &self.portfolio_of(bi)?)?;
        let idle = self.nothing_to_send(bi, &p);
        if p.trades.is_empty() || idle.is_some() {
            let bot = &mut self.engine.bots[bi];
            bot.trig.last_rebalance_ms = Some(now);
            bot.state.last_rebalance_ms = Some(now);
            let mut changed = bot.state.pending_rebalance.take().is_some();
            if bot.state.idle != idle {
                if let Some(why) = &idle {
                    tracing::info!(bot = bot.id, "{kind} ({reason}) sends nothing: {why}");
                }
                bot.state.idle = idle;
                changed = true;
            }
            if changed {
                self.save(bi).await?;
            }
            return Ok(None);
        }
        let legs = planned_legs(&p);
        let plan_json = serde_json::json!({
            "value": p.value.to_string(),
            "fees_estimate": p.fees.to_string(),
            "max_deviation_before_pp": p.max_deviation_before_pp.round_dp(6).to_string(),
            "max_deviation_after_pp": p.max_deviation_after_pp.round_dp(6).to_string(),
            "trades": p.trades.iter().map(|l| serde_json::json!({
                "asset": l.asset, "side": l.side.as_str(), "quantity": l.quantity.to_string(),
                "notional": l.notional.round_dp(8).to_string(), "reason": l.reason,
            })).collect::<Vec<_>>(),
            "skipped": p.skipped.iter().map(|s| serde_json::json!({
                "asset": s.asset, "side": s.side.as_str(), "reason": s.reason.to_string(),
            })).collect::<Vec<_>>(),
        });
        let skipped: Vec<LegReport> = p
            .skipped
            .iter()
            .map(|s| LegReport {
                asset: s.asset.clone(),
                side: s.side.as_str().into(),
                planned_quantity: s.quantity,
                filled_quantity: Decimal::ZERO,
                outcome: "skipped".into(),
                detail: s.reason.to_string(),
                client_id: None,
                fees: Decimal::ZERO,
            })
            .collect();
        let summary = self
            .execute_with(
                bi,
                kind,
                reason,
                legs,
                skipped,
                plan_json.to_string(),
                now,
                None,
            )
            .await?;
        Ok(Some(summary))
    }

    fn weights(&self, bi: usize) -> (Decimal, Vec<(String, Decimal)>) {
        let b = &self.engine.bots[bi];
        let v = b.value_exact(&self.engine.market).unwrap_or_default();
        let w = b
            .holdings
            .iter()
            .filter(|(_, q)| !q.is_zero())
            .map(|(a, q)| {
                let p = self.price(a, &b.config.quote).unwrap_or_default();
                (
                    a.clone(),
                    if v > Decimal::ZERO {
                        (*q * p / v).round_dp(8)
                    } else {
                        Decimal::ZERO
                    },
                )
            })
            .collect();
        (v, w)
    }

    fn client_id(&self, bi: usize, seq: i64, leg: usize) -> String {
        format!("sf{}r{}l{}", self.engine.bots[bi].id, seq, leg)
    }

    /// Store the rebalance and its sells, send the sells, size and store the buys from the
    /// bot's own cash, send the buys, and close the rebalance with its summary.
    async fn execute(
        &mut self,
        bi: usize,
        kind: &str,
        reason: String,
        legs: Vec<PlannedLeg>,
        plan_json: String,
        now: i64,
    ) -> BotResult<RebalanceSummary> {
        self.execute_with(bi, kind, reason, legs, vec![], plan_json, now, None)
            .await
    }

    /// [`Self::execute`], with the plan's skipped legs reported in the summary. With a `goal`
    /// (a withdrawal), the record is `completed` only when every order sent filled and the
    /// bot's cash reached the goal, whatever the plan skipped; without one, any leg not filled
    /// makes it `partial`.
    #[allow(clippy::too_many_arguments)]
    async fn execute_with(
        &mut self,
        bi: usize,
        kind: &str,
        reason: String,
        legs: Vec<PlannedLeg>,
        skipped: Vec<LegReport>,
        plan_json: String,
        now: i64,
        goal: Option<Decimal>,
    ) -> BotResult<RebalanceSummary> {
        let (value_before, weights_before) = self.weights(bi);
        let quote = self.engine.bots[bi].config.quote.clone();
        let seq = self.engine.bots[bi].state.next_seq;
        let mut summary = RebalanceSummary {
            kind: kind.into(),
            reason: reason.clone(),
            time_ms: now,
            status: "open".into(),
            value_before,
            value_after: None,
            fees: Decimal::ZERO,
            weights_before,
            weights_after: vec![],
            legs: skipped,
            legs_planned: 0,
            legs_filled: 0,
            legs_skipped: 0,
            note: None,
        };
        let (sells, buys): (Vec<_>, Vec<_>) = legs.into_iter().partition(|l| l.side == Side::Sell);
        let mut leg_no = 0usize;
        let mut to_order = |l: &PlannedLeg, this: &Self| {
            let o = NewOrder {
                client_id: this.client_id(bi, seq, leg_no),
                leg: leg_no as i64,
                base: l.asset.clone(),
                quote: quote.clone(),
                side: l.side,
                quantity: l.quantity,
                kind: OrderKind::Market,
            };
            leg_no += 1;
            o
        };
        let sell_orders: Vec<NewOrder> = sells.iter().map(|l| to_order(l, self)).collect();
        let old_state = self.engine.bots[bi].state.clone();
        self.engine.bots[bi].state.next_seq += 1;
        let upd = self.bot_update(bi, None);
        let rb_id = match self
            .store
            .begin_rebalance(&NewRebalance {
                bot_id: self.engine.bots[bi].id,
                seq,
                kind: kind.into(),
                reason,
                time_ms: now,
                plan: plan_json,
                orders: sell_orders.clone(),
                bot: Some(upd),
            })
            .await
        {
            Ok(id) => id,
            Err(e) => {
                self.engine.bots[bi].state = old_state;
                return Err(e.into());
            }
        };
        let mut aborted = false;
        let mut unsent: Vec<NewOrder> = Vec::new();
        for (k, o) in sell_orders.iter().enumerate() {
            let leg = self.send_leg(bi, o, now).await?;
            let failed = matches!(leg.outcome.as_str(), "failed" | "unknown");
            summary.legs.push(leg);
            if failed {
                aborted = true;
                unsent.extend_from_slice(&sell_orders[k + 1..]);
                break;
            }
        }
        if !aborted && !buys.is_empty() {
            // Size the buys from the bot's own cash (never the account's).
            let b = &self.engine.bots[bi];
            let cash = b.cash().max(Decimal::ZERO);
            let (sized, dropped) = self.size_buys(&b.config, cash, &buys);
            for (l, r) in dropped {
                summary.legs.push(LegReport {
                    asset: l.asset.clone(),
                    side: "buy".into(),
                    planned_quantity: l.quantity,
                    filled_quantity: Decimal::ZERO,
                    outcome: "skipped".into(),
                    detail: format!("sized to the bot's cash {}: {r}", cash.round_dp(8)),
                    client_id: None,
                    fees: Decimal::ZERO,
                });
            }
            let buy_orders: Vec<NewOrder> = sized.iter().map(|l| to_order(l, self)).collect();
            if !buy_orders.is_empty() {
                self.store.add_orders(rb_id, &buy_orders, now).await?;
            }
            for (k, o) in buy_orders.iter().enumerate() {
                let leg = self.send_leg(bi, o, now).await?;
                let failed = matches!(leg.outcome.as_str(), "failed" | "unknown");
                summary.legs.push(leg);
                if failed {
                    aborted = true;
                    unsent.extend_from_slice(&buy_orders[k + 1..]);
                    break;
                }
            }
        }
        // Stored orders that were never sent: say so now rather than on reconciliation.
        for o in &unsent {
            self.store
                .update_order(&OrderUpdate {
                    client_id: o.client_id.clone(),
                    status: OrderState::NotSent,
                    venue_order_id: None,
                    filled_quantity: Decimal::ZERO,
                    error: Some("not sent: the rebalance stopped after a venue failure".into()),
                    time_ms: now,
                })
                .await?;
            summary.legs.push(LegReport {
                asset: o.base.clone(),
                side: o.side.as_str().into(),
                planned_quantity: o.quantity,
                filled_quantity: Decimal::ZERO,
                outcome: "skipped".into(),
                detail: "not sent: the rebalance stopped after a venue failure".into(),
                client_id: Some(o.client_id.clone()),
                fees: Decimal::ZERO,
            });
        }
        summary.count_legs();
        summary.fees = summary.legs.iter().map(|l| l.fees).sum();
        let (va, wa) = self.weights(bi);
        summary.value_after = Some(va);
        summary.weights_after = wa;
        let unresolved = self.engine.bots[bi].unresolved;
        summary.status = if unresolved {
            "open".into()
        } else if aborted {
            "aborted".into()
        } else if match goal {
            Some(g) => {
                self.engine.bots[bi].cash() < g
                    || summary
                        .legs
                        .iter()
                        .any(|l| l.client_id.is_some() && l.outcome != "filled")
            }
            None => summary.legs_skipped > 0,
        } {
            "partial".into()
        } else {
            "completed".into()
        };
        let bot = &mut self.engine.bots[bi];
        bot.trig.last_rebalance_ms = Some(now);
        bot.state.last_rebalance_ms = Some(now);
        bot.state.pending_rebalance = None;
        bot.state.idle = None;
        for l in &summary.legs {
            if l.side == "buy"
                && l.filled_quantity > Decimal::ZERO
                && !bot.state.bought.contains(&l.asset)
            {
                bot.state.bought.push(l.asset.clone());
            }
        }
        if matches!(bot.state.status, BotStatus::Deploying) && !unresolved {
            bot.state.status = BotStatus::Running;
            bot.state.hold = bot.holdings.iter().map(|(a, q)| (a.clone(), *q)).collect();
        }
        if let Some((reason, true)) = bot.suspend_cause(&self.engine.market, now)
            && matches!(bot.state.status, BotStatus::Running)
        {
            bot.state.status = BotStatus::Suspended {
                reason,
                since_ms: now,
                breaker: true,
            };
        }
        let upd = self.bot_update(bi, None);
        if unresolved {
            self.store.update_bot(&upd).await?;
        } else {
            let json = serde_json::to_string(&summary).unwrap_or_default();
            self.store
                .finish_rebalance(rb_id, &summary.status, &json, now, Some(&upd))
                .await?;
        }
        Ok(summary)
    }

    /// The buys of a rebalance sized from the bot's own `cash` (after its sells): when they cost
    /// more than that at `1 + price_margin + fee_rate` per unit of notional, every buy is scaled
    /// down by the same factor and rounded to its lot step; a buy that then breaks the venue's
    /// rules is dropped, with the reason.
    fn size_buys(
        &self,
        config: &BotConfig,
        cash: Decimal,
        buys: &[PlannedLeg],
    ) -> (Vec<PlannedLeg>, Vec<(PlannedLeg, String)>) {
        let k1 = Decimal::ONE + config.price_margin + config.fee_rate;
        let cost: Decimal = buys.iter().map(|l| l.quantity * l.price * k1).sum();
        let scale = if cost > cash && cost > Decimal::ZERO {
            Some(cash / cost)
        } else {
            None
        };
        let mut sized = Vec::new();
        let mut dropped = Vec::new();
        for l in buys {
            let rules = self.rules.get(&l.asset);
            let qty = match scale {
                Some(k) => rules.round_quantity(l.quantity * k),
                None => l.quantity,
            };
            match rules.check(qty, l.price) {
                Some(r) => dropped.push((l.clone(), r.to_string())),
                None => sized.push(PlannedLeg {
                    quantity: qty,
                    ..l.clone()
                }),
            }
        }
        (sized, dropped)
    }

    /// A plan as a preview of what its execution sends: the sells as planned, then the buys
    /// sized by [`Self::size_buys`] from the cash the sells leave at the marks, net of fees.
    fn plan_preview(&self, action: &str, config: &BotConfig, p: &Plan) -> PlanPreview {
        let f = config.fee_rate;
        let legs = planned_legs(p);
        let reason_of = |asset: &str, side: Side| {
            p.trades
                .iter()
                .find(|l| l.asset == asset && l.side == side)
                .map(|l| l.reason.clone())
                .unwrap_or_default()
        };
        let (sells, buys): (Vec<_>, Vec<_>) = legs.into_iter().partition(|l| l.side == Side::Sell);
        let proceeds: Decimal = sells
            .iter()
            .map(|l| l.quantity * l.price * (Decimal::ONE - f))
            .sum();
        let cash = (p.cash_before + proceeds).max(Decimal::ZERO);
        let (sized, dropped) = self.size_buys(config, cash, &buys);
        let out: Vec<PreviewLeg> = sells
            .iter()
            .chain(sized.iter())
            .map(|l| leg_preview(l, f, &reason_of(&l.asset, l.side)))
            .collect();
        let mut skipped: Vec<PreviewLeg> = p
            .skipped
            .iter()
            .map(|s| PreviewLeg {
                asset: s.asset.clone(),
                side: s.side.as_str().into(),
                quantity: s.quantity,
                price: Decimal::ZERO,
                notional: s.notional,
                fee: Decimal::ZERO,
                reason: s.reason.to_string(),
            })
            .collect();
        skipped.extend(dropped.iter().map(|(l, r)| PreviewLeg {
            fee: Decimal::ZERO,
            reason: format!("sized to the bot's cash {}: {r}", cash.round_dp(8)),
            ..leg_preview(l, f, "")
        }));
        let fees: Decimal = out.iter().map(|l| l.fee).sum();
        PlanPreview {
            action: action.into(),
            summary: String::new(),
            value_before: Some(p.value),
            value_after: Some(p.value - fees),
            fees,
            legs: out,
            skipped,
            notes: vec![],
        }
    }

    /// Send one stored order and record what happened.
    async fn send_leg(&mut self, bi: usize, o: &NewOrder, now: i64) -> BotResult<LegReport> {
        let req = OrderRequest {
            kind: o.kind,
            ..OrderRequest::market(
                o.client_id.clone(),
                o.base.clone(),
                o.quote.clone(),
                o.side,
                OrderSize::Base(o.quantity),
            )
        };
        let mut leg = LegReport {
            asset: o.base.clone(),
            side: o.side.as_str().into(),
            planned_quantity: o.quantity,
            filled_quantity: Decimal::ZERO,
            outcome: String::new(),
            detail: String::new(),
            client_id: Some(o.client_id.clone()),
            fees: Decimal::ZERO,
        };
        let (retries, backoff) = {
            let c = &self.engine.bots[bi].config;
            (c.max_retries, c.retry_backoff_ms)
        };
        match self.place(&req, retries, backoff).await {
            Placement::Placed(order) => {
                self.venue_ok(bi);
                let (final_, fills) = self.record_venue_order_fills(bi, &order, now).await?;
                leg.filled_quantity = order.filled_quantity;
                leg.fees = self.fees_value(&fills).await;
                leg.outcome = if !final_ {
                    "unknown".into()
                } else if order.fully_filled() {
                    "filled".into()
                } else if order.filled_quantity > Decimal::ZERO {
                    "partial".into()
                } else {
                    "skipped".into()
                };
                leg.detail = format!("venue order {} {:?}", order.venue_id, order.status);
            }
            Placement::Closed(fills) => {
                self.venue_ok(bi);
                let filled = self
                    .record_closed_order(bi, &o.client_id, o.quantity, &fills, now)
                    .await?;
                leg.filled_quantity = filled;
                leg.fees = self.fees_value(&fills).await;
                leg.outcome = if filled >= o.quantity {
                    "filled".into()
                } else {
                    "partial".into()
                };
                leg.detail = "closed at the venue; settled from its fills".into();
            }
            Placement::Rejected(msg) => {
                self.venue_ok(bi);
                self.store
                    .update_order(&OrderUpdate {
                        client_id: o.client_id.clone(),
                        status: OrderState::Rejected,
                        venue_order_id: None,
                        filled_quantity: Decimal::ZERO,
                        error: Some(msg.clone()),
                        time_ms: now,
                    })
                    .await?;
                leg.outcome = "rejected".into();
                leg.detail = msg;
            }
            Placement::NotSent(msg) => {
                self.venue_failed(bi, &msg);
                self.store
                    .update_order(&OrderUpdate {
                        client_id: o.client_id.clone(),
                        status: OrderState::NotSent,
                        venue_order_id: None,
                        filled_quantity: Decimal::ZERO,
                        error: Some(msg.clone()),
                        time_ms: now,
                    })
                    .await?;
                leg.outcome = "failed".into();
                leg.detail = msg;
            }
            Placement::Unknown(msg) => {
                self.venue_failed(bi, &msg);
                self.engine.bots[bi].unresolved = true;
                leg.outcome = "unknown".into();
                leg.detail = format!("{msg}; looked up again on reconciliation");
            }
            Placement::Acknowledged(msg) => {
                // The venue took it: no failure, just not visible yet.
                self.venue_ok(bi);
                self.engine.bots[bi].unresolved = true;
                leg.outcome = "unknown".into();
                leg.detail = format!("{msg}; followed on reconciliation");
            }
        }
        Ok(leg)
    }

    fn venue_ok(&mut self, bi: usize) {
        let s = &mut self.engine.bots[bi].state;
        s.consecutive_failures = 0;
    }

    fn venue_failed(&mut self, bi: usize, msg: &str) {
        let s = &mut self.engine.bots[bi].state;
        s.consecutive_failures += 1;
        s.last_failure = Some(msg.to_string());
    }

    async fn record_venue_order(&mut self, bi: usize, order: &Order, now: i64) -> BotResult<bool> {
        Ok(self.record_venue_order_fills(bi, order, now).await?.0)
    }

    /// Fetch the order's fills and apply them with its status (one store transaction).
    /// Returns whether the order is final, and the newly applied fills.
    async fn record_venue_order_fills(
        &mut self,
        bi: usize,
        order: &Order,
        now: i64,
    ) -> BotResult<(bool, Vec<Fill>)> {
        let mut fills = None;
        for _ in 0..3 {
            match self
                .exchange
                .fills(&order.base, &order.quote, &order.client_id)
                .await
            {
                Ok(f) => {
                    fills = Some(f);
                    break;
                }
                Err(e) if e.is_retryable() => continue,
                Err(e) => {
                    tracing::warn!(client_id = %order.client_id, "fills: {e}");
                    break;
                }
            }
        }
        let Some(fills) = fills else {
            // Leave the order pending: reconciliation looks it up again.
            self.engine.bots[bi].unresolved = true;
            return Ok((false, vec![]));
        };
        let update = OrderUpdate {
            client_id: order.client_id.clone(),
            status: OrderState::from_venue(order.status),
            venue_order_id: Some(order.venue_id.clone()),
            filled_quantity: order.filled_quantity,
            error: None,
            time_ms: now,
        };
        self.apply_order_fills(bi, &update, &fills).await
    }

    /// Record an order the venue settled from its fills only ([`Settled::Closed`]): it is over,
    /// filled if the fills reach its `quantity`, else canceled with what filled. Returns the
    /// quantity filled.
    async fn record_closed_order(
        &mut self,
        bi: usize,
        client_id: &str,
        quantity: Decimal,
        fills: &[Fill],
        now: i64,
    ) -> BotResult<Decimal> {
        let filled: Decimal = fills.iter().map(|f| f.quantity).sum();
        let update = OrderUpdate {
            client_id: client_id.to_string(),
            status: if filled >= quantity {
                OrderState::Filled
            } else {
                OrderState::Canceled
            },
            venue_order_id: fills.first().map(|f| f.venue_order_id.clone()),
            filled_quantity: filled,
            error: None,
            time_ms: now,
        };
        self.apply_order_fills(bi, &update, fills).await?;
        Ok(filled)
    }

    /// Apply an order's status and fills in one store transaction, and the ledger they imply to
    /// the bot in memory. Returns whether the order is final, and the newly applied fills.
    async fn apply_order_fills(
        &mut self,
        bi: usize,
        update: &OrderUpdate,
        fills: &[Fill],
    ) -> BotResult<(bool, Vec<Fill>)> {
        let applied = self.store.apply_fills(update, fills).await?;
        let bot = &mut self.engine.bots[bi];
        for (asset, delta) in &applied.ledger {
            *bot.holdings.entry(asset.clone()).or_default() += *delta;
        }
        bot.holdings
            .retain(|a, q| !q.is_zero() || *a == bot.config.quote);
        if !update.status.is_final() {
            bot.unresolved = true;
        }
        bot.rebuild(&mut self.engine.market);
        Ok((update.status.is_final(), applied.new_fills))
    }

    /// The fees of `fills` valued in their quote (see [`Self::fee_value`]).
    async fn fees_value(&self, fills: &[Fill]) -> Decimal {
        let mut total = Decimal::ZERO;
        for f in fills {
            total += self
                .fee_value(&f.fill_id, f.fee, &f.fee_asset, &f.base, &f.quote, f.price)
                .await;
        }
        total
    }

    /// A fill's fee valued in its quote: as is in the quote, at the fill's `price` in the base,
    /// and in a third asset (BNB, OKB, GT) at that asset's price: the market's, else the
    /// venue's ticker. An unpriced third asset (Gate POINT) counts 0, with a warning.
    async fn fee_value(
        &self,
        fill_id: &str,
        fee: Decimal,
        fee_asset: &str,
        base: &str,
        quote: &str,
        price: Decimal,
    ) -> Decimal {
        if fee.is_zero() || fee_asset == quote {
            return fee;
        }
        if fee_asset == base {
            return fee * price;
        }
        let third = match self.price(fee_asset, quote) {
            Ok(p) => Some(p),
            Err(_) => self
                .exchange
                .tickers(&[fee_asset.to_string()], quote)
                .await
                .ok()
                .and_then(|t| t.first().map(|t| t.last)),
        };
        match third {
            Some(p) => fee * p,
            None => {
                tracing::warn!(
                    fill = fill_id,
                    "fee of {fee} {fee_asset} has no price in {quote}: counted as 0"
                );
                Decimal::ZERO
            }
        }
    }

    /// Settle an order by client id through the venue's lookup policy
    /// ([`smartfolio_exchange::settle`]), trying a failed read up to three times. `sent_ms` is
    /// when it was stored (it was sent after that).
    async fn settle_order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
        sent_ms: i64,
    ) -> Result<Settled, ExchangeError> {
        let mut last = None;
        for _ in 0..3 {
            let now = self.clock.now_ms();
            match settle(self.exchange.as_ref(), base, quote, client_id, sent_ms, now).await {
                Ok(s) => return Ok(s),
                Err(e) if e.is_retryable() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| ExchangeError::Transient("lookup failed".into())))
    }

    /// Wait until the venue's rate limit allows a request: through the clock when the wait is
    /// short, else not at all (`Err` with the time it lifts).
    async fn wait_for_venue(&self) -> Result<(), i64> {
        let until = self.venue_quiet_until_ms.load(Ordering::SeqCst);
        let now = self.clock.now_ms();
        if now >= until {
            return Ok(());
        }
        let wait = u64::try_from(until - now).unwrap_or(u64::MAX);
        if wait > MAX_INLINE_WAIT_MS {
            return Err(until);
        }
        self.clock.sleep(wait).await;
        Ok(())
    }

    /// Place with bounded retries of the same client id for failures before acceptance
    /// (`Transient`, `RateLimited`), waiting through the clock: the backoff, or the venue's
    /// `retry_after`. The venue's acknowledgement is followed by a lookup of the order. An
    /// order whose outcome is unknown is settled by [`Self::settle_order`], never re-sent.
    async fn place(&self, req: &OrderRequest, retries: u32, backoff_ms: u64) -> Placement {
        let mut delay = backoff_ms;
        let mut last = String::new();
        let mut first_sent = None;
        let mut backoff = false;
        for _ in 0..=retries {
            if backoff {
                self.clock.sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
            if let Err(until) = self.wait_for_venue().await {
                let why = format!(
                    "the venue rate-limited requests until {until} (ms); not sent before then"
                );
                return match first_sent {
                    None => Placement::NotSent(why),
                    Some(sent) => self.settle_refused(req, sent, &why).await,
                };
            }
            let sent = self.clock.now_ms();
            first_sent.get_or_insert(sent);
            match self.exchange.place_order(req).await {
                Ok(ack) => {
                    return match self
                        .settle_order(&req.base, &req.quote, &req.client_id, sent)
                        .await
                    {
                        Ok(Settled::Found(o)) => Placement::Placed(o),
                        Ok(Settled::Closed { fills }) => Placement::Closed(fills),
                        Ok(Settled::Wait { .. } | Settled::Absent) => {
                            Placement::Acknowledged(format!(
                                "acknowledged as venue order {} but not found yet",
                                ack.venue_id
                            ))
                        }
                        Err(e) => Placement::Unknown(format!(
                            "acknowledged as venue order {}; lookup failed: {e}",
                            ack.venue_id
                        )),
                    };
                }
                Err(ExchangeError::Rejected { code, message }) => {
                    if code == reject::DUPLICATE_CLIENT_ID {
                        // An earlier attempt got through after all: take that order.
                        return match self
                            .settle_order(&req.base, &req.quote, &req.client_id, sent)
                            .await
                        {
                            Ok(Settled::Found(o)) => Placement::Placed(o),
                            Ok(Settled::Closed { fills }) => Placement::Closed(fills),
                            Ok(_) => Placement::Unknown(format!(
                                "{code}: {message}; the venue has the id but does not show the order yet"
                            )),
                            Err(e) => Placement::Unknown(e.to_string()),
                        };
                    }
                    return Placement::Rejected(format!("{code}: {message}"));
                }
                Err(ExchangeError::RateLimited { retry_after_ms }) => {
                    last = format!("rate limited (retry after {retry_after_ms} ms)");
                    let until =
                        sent.saturating_add(i64::try_from(retry_after_ms).unwrap_or(i64::MAX));
                    self.venue_quiet_until_ms.fetch_max(until, Ordering::SeqCst);
                    backoff = false;
                }
                Err(e @ ExchangeError::Transient(_)) => {
                    last = e.to_string();
                    backoff = true;
                }
                Err(e @ ExchangeError::UnknownOutcome(_)) => {
                    return match self
                        .settle_order(&req.base, &req.quote, &req.client_id, sent)
                        .await
                    {
                        Ok(Settled::Found(o)) => Placement::Placed(o),
                        Ok(Settled::Closed { fills }) => Placement::Closed(fills),
                        Ok(Settled::Absent) => Placement::NotSent(format!(
                            "{e}; the venue has no such order, open or filled"
                        )),
                        Ok(Settled::Wait { until_ms }) => Placement::Unknown(format!(
                            "{e}; not found yet, looked up again after {until_ms}"
                        )),
                        Err(e2) => Placement::Unknown(format!("{e}; lookup failed: {e2}")),
                    };
                }
            }
        }
        let why = format!("gave up after {} attempts: {last}", retries + 1);
        match first_sent {
            Some(sent) => self.settle_refused(req, sent, &why).await,
            None => Placement::NotSent(why),
        }
    }

    /// Every attempt was refused before acceptance: make sure the venue really does not have
    /// the order before calling it not sent.
    async fn settle_refused(&self, req: &OrderRequest, sent: i64, why: &str) -> Placement {
        match self
            .settle_order(&req.base, &req.quote, &req.client_id, sent)
            .await
        {
            Ok(Settled::Found(o)) => Placement::Placed(o),
            Ok(Settled::Closed { fills }) => Placement::Closed(fills),
            Ok(Settled::Wait { .. } | Settled::Absent) => Placement::NotSent(why.to_string()),
            Err(e) => Placement::Unknown(format!("{why}; lookup failed: {e}")),
        }
    }
}
