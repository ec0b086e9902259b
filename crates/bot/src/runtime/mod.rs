//! The runtime: commands (create, invest, withdraw, modify, pause, resume, stop, list, show,
//! history), the tick loop and reconciliation, over a [`Store`] and an [`Exchange`].
//!
//! ## Crash-safety protocol
//!
//! 1. A rebalance and its sell orders are written (status `pending`, with their client ids) in
//!    one transaction *before* any order is sent; the buys are written the same way once the
//!    sells have filled and the bot's own cash is known ([`Store::add_orders`]).
//! 2. An order is sent under its stored client id, by a placement round on its own task (the
//!    tick and the command queue never wait on it: see `execute`). Errors the venue classifies
//!    as retryable before acceptance (`Transient`, `RateLimited`) are retried with the *same*
//!    client id a bounded number of times, waiting through the [`Clock`] on that task (the
//!    backoff, or the venue's `retry_after`; one longer than [`MAX_INLINE_WAIT_MS`] is not waited
//!    out, and nothing is sent before it lifts). The venue's acknowledgement is followed by a
//!    lookup of the order. An `UnknownOutcome` is never re-sent: it is settled by
//!    `smartfolio_exchange::settle`. The round's answer is recorded by the runtime, the store's
//!    one writer; a kill before that leaves the order `pending`, for step 4.
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

mod admit;
mod execute;
mod legs;
mod lifecycle;
mod load;
mod market;
mod place;
mod pnl;
mod preview;
mod tick;
mod work;

use crate::clock::Clock;
use crate::config::{BotConfig, BotState, BotStatus};
use crate::engine::Engine;
use crate::events::{BotEvent, EventKind, EventLog};
use rust_decimal::Decimal;
use smartfolio_core::ValidationError;
use smartfolio_core::rules::RuleBook;
use smartfolio_exchange::{Exchange, ExchangeError, Instrument};
use smartfolio_store::{BotId, BotUpdate, Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;

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
    /// The venue, the clock and the account's rate limit, as placement rounds use them.
    io: place::VenueIo,
    /// The rebalances whose orders are being placed, by bot (see [`execute`]).
    executions: HashMap<BotId, execute::Execution>,
    /// The lookup rounds of reconciliations started by a tick, by bot: the orders looked up and
    /// where the answer arrives (see [`load`]).
    lookups: HashMap<BotId, Lookup>,
    /// Notified when a placement or lookup round has answered (see [`Runtime::execution_signal`]).
    exec_signal: Arc<Notify>,
    /// What happened, for the driver to take ([`Runtime::take_events`]).
    events: EventLog,
    /// Each bot's latest stored value snapshot, loaded by [`Runtime::load_stored`] only: the
    /// value shown when the market has no price.
    stored_values: HashMap<BotId, smartfolio_store::Snapshot>,
}

/// The longest wait for a venue's `retry_after` inside one placement round (on its own task);
/// a longer one is not waited out: the order is not sent, and nothing is sent before the time
/// has passed.
pub const MAX_INLINE_WAIT_MS: u64 = 2_000;

/// A lookup round under way: the orders asked about, and where its answers arrive.
type Lookup = (
    Vec<smartfolio_store::OrderRecord>,
    tokio::sync::oneshot::Receiver<Vec<place::Looked>>,
);

/// The command API of the CLI: the same type as [`Runtime`].
pub type BotService = Runtime;

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
            exchange: exchange.clone(),
            clock: clock.clone(),
            engine: Engine::new(),
            rules: RuleBook::new(),
            instruments: HashMap::new(),
            next_instrument_refresh_ms: i64::MIN,
            instrument_refresh_ms: 60_000,
            names: HashMap::new(),
            io: place::VenueIo::new(exchange.clone(), clock.clone()),
            executions: HashMap::new(),
            lookups: HashMap::new(),
            exec_signal: Arc::new(Notify::new()),
            events: EventLog::default(),
            stored_values: HashMap::new(),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn exchange(&self) -> &Arc<dyn Exchange> {
        &self.exchange
    }

    fn idx(&self, id: BotId) -> BotResult<usize> {
        self.engine
            .index_of(id)
            .ok_or_else(|| BotError::UnknownBot(id.to_string()))
    }

    /// A bot by id (digits) or name.
    pub fn resolve(&self, key: &str) -> BotResult<BotId> {
        resolve_key(
            key,
            |id| self.engine.index_of(id).is_some(),
            |name| self.names.get(name).copied(),
        )
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

    /// The events recorded since the last call, oldest first (see [`crate::events`]).
    pub fn take_events(&mut self) -> Vec<BotEvent> {
        self.events.take()
    }

    /// How many events were dropped because no one took them in time.
    pub fn events_dropped(&self) -> u64 {
        self.events.dropped()
    }

    /// Record that something happened to bot `bi`, now.
    fn record(&mut self, bi: usize, kind: EventKind) {
        let event = BotEvent {
            bot: self.engine.bots[bi].id,
            time_ms: self.clock.now_ms(),
            kind,
        };
        self.events.push(event);
    }

    /// Record bot `bi`'s change of status from `from`, if it changed.
    fn state_changed(&mut self, bi: usize, from: &'static str) {
        let status = &self.engine.bots[bi].state.status;
        if status.word() == from {
            return;
        }
        let reason = match status {
            BotStatus::Suspended { reason, .. } | BotStatus::Stopping { reason, .. } => {
                Some(reason.clone())
            }
            BotStatus::Stopped { report } => Some(report.reason.clone()),
            _ => None,
        };
        let to = status.word();
        self.record(bi, EventKind::StateChanged { from, to, reason });
    }
}

/// A bot by id or name, given which ids exist (`has_id`) and the id of a name (`by_name`): the
/// rule of [`Runtime::resolve`], for readers holding a copy of the bots' ids and names. All
/// digits is an id, never a name (names may not be all digits), so a bot's name cannot take
/// over another bot's id.
pub fn resolve_key(
    key: &str,
    has_id: impl Fn(BotId) -> bool,
    by_name: impl Fn(&str) -> Option<BotId>,
) -> BotResult<BotId> {
    let k = key.trim();
    let found = if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) {
        k.parse::<BotId>().ok().filter(|id| has_id(*id))
    } else {
        by_name(k)
    };
    found.ok_or_else(|| BotError::UnknownBot(key.to_string()))
}
