//! smartfolio-store: where bots, orders, fills, ledgers, rebalances and snapshots live.
//!
//! [`Store`] is the persistence interface of the bot runtime. It is designed so that **every
//! state change of the runtime is one method call, and one method call is one transaction**:
//!
//! | change | method |
//! |---|---|
//! | a new bot (config + initial state) | [`Store::create_bot`] |
//! | a bot's status/state/config | [`Store::update_bot`] |
//! | a rebalance and its first orders, status `pending`, *before any order is sent* | [`Store::begin_rebalance`] |
//! | further orders of that rebalance (buys sized after the sells filled), before they are sent | [`Store::add_orders`] |
//! | an order accepted, rejected, not sent | [`Store::update_order`] |
//! | fills of an order + the ledger entries they imply + the order's new status | [`Store::apply_fills`] |
//! | a rebalance closed, with its summary (and the bot's state) | [`Store::finish_rebalance`] |
//! | deposits / withdrawals (ledger entries + flows, hence net invested) | [`Store::record_flow`] |
//! | a stopped bot's ledger closed, holdings released | [`Store::close_ledger`] |
//! | value snapshots | [`Store::insert_snapshots`] |
//!
//! Reads that show a bot's history cost what they show: [`Store::rebalance_page`],
//! [`Store::order_page`] and [`Store::fill_page`] read one page (keyset on `(time, id)`, newest
//! first, optional time range) and its total; [`Store::snapshot_series`] thins the value history
//! to at most N points in the query (time buckets, the last snapshot of each). The statements are
//! shared by both backends (`paging`).
//!
//! Fills are keyed by `(venue, account, fill_id)`: applying the same fill twice is a no-op, and
//! so are its ledger entries, which are written only together with a newly inserted fill.
//!
//! The daemon's command queue is [`CommandQueue`] (a supertrait of [`Store`]: one backend holds
//! both), with an atomic claim. `conformance` (cargo feature `conformance`) is the behaviour
//! every backend must show, written against `&dyn Store`; the tests run it on both backends.
//!
//! The backends are [`SqliteStore`] (the default: one file in the data directory) and
//! `PgStore` (cargo feature `postgres`: a `postgres://` URL). [`open_store`] opens the one a
//! configuration names, as a [`Backend`] (the store, the paper account and the owner's memory).

mod account;
mod codec;
#[cfg(feature = "conformance")]
pub mod conformance;
mod open;
mod paging;
pub use paging::Keyed;
pub mod lease;
#[cfg(feature = "postgres")]
mod postgres;
pub mod queue;
mod sqlite;

pub use account::StoredBot;
pub use lease::{Fence, Lease, LeaseClock, LeaseRecord, Leases, Renewal, Session};
pub use open::{Backend, is_postgres_url, mask_url, open_store};
#[cfg(feature = "postgres")]
pub use postgres::{PG_SCHEMA_VERSION, PgStore};
pub use queue::{AccountKey, CommandQueue, CommandRecord, CommandStatus};
pub use sqlite::{DB_FILE, SCHEMA_VERSION, SqliteStore, create_data_dir};

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use smartfolio_exchange::{Fill, OrderKind, Side};
use std::fmt;
use std::path::PathBuf;

/// A bot's id in the store.
pub type BotId = i64;

/// A store failure. Every message names what it concerns.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database was written by a newer smartfolio; nothing was touched. `path` is the
    /// SQLite file, or the PostgreSQL URL with its password masked.
    #[error(
        "the database {path} was written by a newer smartfolio (database schema {db_schema}{db_app}); \
         this smartfolio {app_version} understands schema {known_schema} at most. \
         Upgrade smartfolio, or point it at another database (--data-dir, or store); the database \
         was not changed"
    )]
    NewerVersion {
        path: PathBuf,
        db_schema: i64,
        db_app: String,
        known_schema: i64,
        app_version: String,
    },
    /// The file is not a smartfolio database (or is damaged).
    #[error("{path} is not a readable smartfolio database: {message}")]
    Corrupt { path: PathBuf, message: String },
    /// The data directory cannot be one: a file is in its place or on its path, or it cannot
    /// be created. The caller's input (`--data-dir`, `data_dir`, `SMARTFOLIO_DATA_DIR`).
    #[error(
        "invalid data-dir: \"{}\"; allowed: a directory, or a path where one can be created ({reason})",
        path.display()
    )]
    DataDir { path: PathBuf, reason: String },
    /// The `store` setting is not one: the value as given (password masked) and why.
    #[error(
        "invalid store: \"{given}\"; allowed: a postgres://user:password@host:port/database URL, \
         or none for SQLite in the data directory ({reason})"
    )]
    Location { given: String, reason: String },
    /// The PostgreSQL database cannot be reached or refuses the login (the URL, password
    /// masked, and the server's or driver's reason).
    #[error("cannot open the PostgreSQL store {location}: {message}")]
    Connect { location: String, message: String },
    /// A row that must exist does not.
    #[error("not found: {0}")]
    NotFound(String),
    /// A uniqueness or consistency rule would break (e.g. a bot name already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored value could not be read back (bad decimal text, unknown status).
    #[error("bad stored value: {0}")]
    BadValue(String),
    #[error("data directory {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("database error: {0}")]
    Db(String),
    /// An argument is not one the store accepts: the field, the value given, what is allowed.
    #[error("invalid {field}: \"{value}\"; allowed: {allowed}")]
    Invalid {
        field: &'static str,
        value: String,
        allowed: &'static str,
    },
    /// A fenced write whose lease is no longer the writer's (see [`lease`]): the account's
    /// lease epoch as stored (none: never leased) and the epoch the write carried. Nothing was
    /// written.
    #[error(
        "fenced: the write for {venue} account {account} carries lease epoch {given_epoch}, the \
         account's lease is at epoch {held} ({why}); nothing was written",
        held = lease::epoch_text(.held_epoch)
    )]
    Fenced {
        venue: String,
        account: String,
        held_epoch: Option<i64>,
        given_epoch: i64,
        why: String,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Conflict(db.message().to_string());
        }
        StoreError::Db(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A bot to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBot {
    pub name: String,
    pub venue: String,
    pub account: String,
    pub quote: String,
    pub status: String,
    /// JSON, owned by the runtime.
    pub config: String,
    /// JSON, owned by the runtime.
    pub state: String,
    pub time_ms: i64,
    /// What the bot is funded with, deposited in the same transaction.
    pub deposit: Vec<FlowItem>,
}

/// A stored bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BotRecord {
    pub id: BotId,
    pub name: String,
    pub venue: String,
    pub account: String,
    pub quote: String,
    pub status: String,
    pub config: String,
    pub state: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A new status/state (and optionally config) of a bot, written with another change or alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotUpdate {
    pub id: BotId,
    pub status: String,
    pub state: String,
    pub config: Option<String>,
    pub time_ms: i64,
}

/// An order of a rebalance, written `pending` before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub client_id: String,
    pub leg: i64,
    pub base: String,
    pub quote: String,
    pub side: Side,
    /// The base quantity planned. For an order sized in quote it is what the plan expected
    /// the quote amount to buy; what it buys is the fills'.
    pub quantity: Decimal,
    pub kind: OrderKind,
    /// A market buy sized in quote: the most quote it spends (sent as Binance
    /// `quoteOrderQty`, OKX `tgtCcy=quote_ccy`, a Gate market buy's `amount`). None: sized
    /// in base (`quantity`).
    pub quote_amount: Option<Decimal>,
}

/// A rebalance (deploy, invest, withdraw, stop ...) with all its orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRebalance {
    pub bot_id: BotId,
    /// The bot's own sequence number; `(bot_id, seq)` is unique, so a rebalance is never begun twice.
    pub seq: i64,
    pub kind: String,
    pub reason: String,
    pub time_ms: i64,
    /// JSON report of the plan.
    pub plan: String,
    pub orders: Vec<NewOrder>,
    /// The bot's state as of this rebalance (e.g. its next sequence number), in the same transaction.
    pub bot: Option<BotUpdate>,
}

/// Where one of our orders stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Stored, maybe sent: its outcome must be looked up at the venue by client id.
    Pending,
    Open,
    PartiallyFilled,
    Filled,
    Canceled,
    Rejected,
    /// The venue never received it (looked up, or the request failed before acceptance).
    NotSent,
}

impl OrderState {
    pub const ALL: [OrderState; 7] = [
        OrderState::Pending,
        OrderState::Open,
        OrderState::PartiallyFilled,
        OrderState::Filled,
        OrderState::Canceled,
        OrderState::Rejected,
        OrderState::NotSent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Pending => "pending",
            OrderState::Open => "open",
            OrderState::PartiallyFilled => "partially_filled",
            OrderState::Filled => "filled",
            OrderState::Canceled => "canceled",
            OrderState::Rejected => "rejected",
            OrderState::NotSent => "not_sent",
        }
    }

    pub fn parse(s: &str) -> StoreResult<Self> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| StoreError::BadValue(format!("order status `{s}`")))
    }

    /// No further fills can come.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderState::Filled | OrderState::Canceled | OrderState::Rejected | OrderState::NotSent
        )
    }

    pub fn from_venue(s: smartfolio_exchange::OrderStatus) -> Self {
        use smartfolio_exchange::OrderStatus as V;
        match s {
            V::Open => OrderState::Open,
            V::PartiallyFilled => OrderState::PartiallyFilled,
            V::Filled => OrderState::Filled,
            V::Canceled => OrderState::Canceled,
            V::Rejected => OrderState::Rejected,
            // Ended by its time in force, maybe after a partial fill: for the bot's books the
            // same as a cancel.
            V::Expired => OrderState::Canceled,
        }
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderRecord {
    pub client_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub bot_id: BotId,
    pub rebalance_id: i64,
    pub leg: i64,
    pub venue: String,
    pub account: String,
    pub base: String,
    pub quote: String,
    pub side: String,
    pub quantity: Decimal,
    pub kind: String,
    pub limit_price: Option<Decimal>,
    /// A market buy sized in quote: the most quote it spends (`quantity` is then the base it
    /// was planned to buy). Absent for an order sized in base.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote_amount: Option<Decimal>,
    pub status: OrderState,
    pub venue_order_id: Option<String>,
    pub filled_quantity: Decimal,
    pub error: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// An order's new status as the venue (or the runtime) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderUpdate {
    pub client_id: String,
    pub status: OrderState,
    pub venue_order_id: Option<String>,
    pub filled_quantity: Decimal,
    pub error: Option<String>,
    pub time_ms: i64,
}

/// A stored fill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FillRecord {
    pub venue: String,
    pub account: String,
    pub fill_id: String,
    pub client_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub bot_id: BotId,
    pub base: String,
    pub quote: String,
    pub side: String,
    pub quantity: Decimal,
    pub price: Decimal,
    pub fee: Decimal,
    pub fee_asset: String,
    pub time_ms: i64,
}

/// What [`Store::apply_fills`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppliedFills {
    /// Fills newly recorded (already known ones are skipped).
    pub new_fills: Vec<Fill>,
    /// The ledger changes written, per asset, summed.
    pub ledger: Vec<(String, Decimal)>,
}

/// The ledger entries a spot fill implies: the base and quote legs, and the fee in its currency.
pub fn fill_ledger_entries(fill: &Fill) -> Vec<(String, Decimal, &'static str)> {
    let notional = fill.quantity * fill.price;
    let mut out = match fill.side {
        Side::Buy => vec![
            (fill.base.clone(), fill.quantity, "trade"),
            (fill.quote.clone(), -notional, "trade"),
        ],
        Side::Sell => vec![
            (fill.base.clone(), -fill.quantity, "trade"),
            (fill.quote.clone(), notional, "trade"),
        ],
    };
    if !fill.fee.is_zero() {
        out.push((fill.fee_asset.clone(), -fill.fee, "fee"));
    }
    out
}

/// The ledger entries of a fill for a bot that holds `fee_asset_held` of the fill's fee asset.
/// A fee paid in a third asset (BNB, OKB, GT) is debited from the bot only when the bot holds
/// at least that much of it; otherwise the account paid it from outside the bot, and the ledger
/// gets no fee entry (the stored fill keeps the fee in its asset, and reports value it at its
/// price). A fee in the pair's own assets is always debited, as [`fill_ledger_entries`] does.
pub fn fill_ledger_entries_held(
    fill: &Fill,
    fee_asset_held: Decimal,
) -> Vec<(String, Decimal, &'static str)> {
    let mut out = fill_ledger_entries(fill);
    if fill.fee_in_third_asset() && fee_asset_held < fill.fee {
        out.retain(|(_, _, kind)| *kind != "fee");
    }
    out
}

/// A stored rebalance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RebalanceRecord {
    pub id: i64,
    pub bot_id: BotId,
    pub seq: i64,
    pub kind: String,
    pub reason: String,
    pub status: String,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    pub plan: String,
    pub summary: Option<String>,
}

/// Money moving into or out of a bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    Deposit,
    Withdraw,
}

impl FlowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::Deposit => "deposit",
            FlowKind::Withdraw => "withdraw",
        }
    }
}

/// One asset of a flow: `amount` units (> 0), worth `value` in quote when it moved, and for
/// coins brought in, the cost `basis` of one unit in quote when the user gave one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowItem {
    pub asset: String,
    pub amount: Decimal,
    pub value: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<Decimal>,
}

/// A deposit or withdrawal of one or more assets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFlow {
    pub bot_id: BotId,
    pub kind: FlowKind,
    pub items: Vec<FlowItem>,
    pub time_ms: i64,
    pub bot: Option<BotUpdate>,
}

/// A stored flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowRecord {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub bot_id: BotId,
    pub kind: String,
    pub asset: String,
    pub amount: Decimal,
    pub value: Decimal,
    /// The cost of one unit in quote as given at the transfer; none when not given (the
    /// market's, `value / amount`, stands in).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub basis: Option<Decimal>,
    pub time_ms: i64,
}

/// One row of a bot's ledger: a signed change of one asset, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    /// Its place in the ledger: entries are written in this order.
    pub id: i64,
    pub bot_id: BotId,
    pub asset: String,
    /// Signed: what the bot gained (> 0) or gave up (< 0).
    pub amount: Decimal,
    /// `deposit`, `withdraw`, `trade`, `fee` or `release`.
    pub kind: String,
    /// The fill id of a trade or fee, `flow:<id>` of a deposit or withdrawal, `stop` of a release.
    pub reference: String,
    pub time_ms: i64,
}

/// A point of a bot's value chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Snapshot {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub bot_id: BotId,
    pub time_ms: i64,
    pub value: Decimal,
    pub net_invested: Decimal,
    /// Value of the buy-and-hold basket from the deploy.
    pub hold_value: Decimal,
}

/// Where a page of a bot's history starts: the `(time, id)` of the last item of the page before
/// (a rebalance's start and id, an order's creation and client id, a fill's time and fill id).
/// The page holds the items strictly older, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub time_ms: i64,
    /// The item's id as text (a rebalance's id is its decimal digits).
    pub id: String,
}

/// What a cursor's id is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorId {
    /// An integer id (a rebalance's, a flow's): 1 to 18 digits.
    Integer,
    /// A text id (an order's client id, a fill's id): 1 to 200 characters.
    Text,
}

impl Cursor {
    /// The largest number of digits of a cursor's time.
    pub const TIME_DIGITS: usize = 15;
    /// The largest number of digits of an integer id.
    pub const INTEGER_DIGITS: usize = 18;
    /// The largest number of characters of a text id.
    pub const TEXT_CHARS: usize = 200;

    /// A cursor from its text, `TIME:ID` as [`Cursor`]'s `Display` writes it (the `next` of a
    /// page): TIME 1 to [`Cursor::TIME_DIGITS`] digits (ms; a time later than every item starts
    /// at the newest), ID as `id` says; none when the text is not one.
    pub fn parse(text: &str, id: CursorId) -> Option<Cursor> {
        let (time, key) = text.split_once(':')?;
        let digits = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
        };
        let key_ok = match id {
            CursorId::Integer => digits(key, Self::INTEGER_DIGITS),
            CursorId::Text => !key.is_empty() && key.chars().count() <= Self::TEXT_CHARS,
        };
        if !(digits(time, Self::TIME_DIGITS) && key_ok) {
            return None;
        }
        Some(Cursor {
            time_ms: time.parse().ok()?,
            id: key.to_string(),
        })
    }
}

/// `TIME:ID`, what [`Cursor::parse`] reads.
impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.time_ms, self.id)
    }
}

/// One page of a bot's rebalances, orders or fills, newest first by `(time, id)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageQuery {
    /// At most this many items; 0 reads only the total.
    pub limit: u32,
    /// Items strictly older than this one (the `next` of the page before); none: the newest.
    pub before: Option<Cursor>,
    /// Items at or after this time (ms).
    pub from_ms: Option<i64>,
    /// Items before this time (ms, exclusive).
    pub to_ms: Option<i64>,
}

/// A page and how many items the filters (`from_ms`, `to_ms`, not the cursor) select in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    /// The cursor of the next (older) page; none when this page holds the oldest item.
    pub next: Option<Cursor>,
}

/// The value snapshots of a time range, at most `points` of them: the range is cut into equal
/// time buckets and the last snapshot of each is kept (so the newest is always there). The
/// buckets are formed in the store's query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesQuery {
    /// At or after (ms).
    pub from_ms: Option<i64>,
    /// Before (ms, exclusive).
    pub to_ms: Option<i64>,
    /// At most this many snapshots (at least 1).
    pub points: u32,
}

/// The persistence interface of the runtime (and, through [`CommandQueue`], of the daemon's
/// command queue, through [`Leases`] of the workers' leases). Each method is one transaction.
///
/// The writes of a bot's orders and fills come in two forms: `*_fenced`, which take the
/// writer's [`Fence`] and refuse the write ([`StoreError::Fenced`], nothing written) unless the
/// bot's venue account is leased at that epoch and not expired at the write's time, and the
/// plain form, single-process mode, which is the fenced one with no fence.
#[async_trait]
pub trait Store: CommandQueue + Leases + Send + Sync {
    /// Insert a bot; a taken name is [`StoreError::Conflict`].
    async fn create_bot(&self, bot: &NewBot) -> StoreResult<BotId>;
    async fn update_bot(&self, update: &BotUpdate) -> StoreResult<()>;
    /// The rebalance, its orders (`pending`) and the bot update, all or nothing. Returns its id.
    async fn begin_rebalance(&self, rebalance: &NewRebalance) -> StoreResult<i64> {
        self.begin_rebalance_fenced(rebalance, None).await
    }
    /// [`Store::begin_rebalance`], checked against `fence` at `rebalance.time_ms`.
    async fn begin_rebalance_fenced(
        &self,
        rebalance: &NewRebalance,
        fence: Option<&Fence>,
    ) -> StoreResult<i64>;
    /// More orders of an open rebalance (the buys, sized once the sells have filled), `pending`,
    /// before they are sent.
    async fn add_orders(
        &self,
        rebalance_id: i64,
        orders: &[NewOrder],
        time_ms: i64,
    ) -> StoreResult<()> {
        self.add_orders_fenced(rebalance_id, orders, time_ms, None)
            .await
    }
    /// [`Store::add_orders`], checked against `fence` at `time_ms`.
    async fn add_orders_fenced(
        &self,
        rebalance_id: i64,
        orders: &[NewOrder],
        time_ms: i64,
        fence: Option<&Fence>,
    ) -> StoreResult<()>;
    /// An order's status without fills (accepted/open, rejected, not sent).
    async fn update_order(&self, update: &OrderUpdate) -> StoreResult<()>;
    /// Record fills of one order, the ledger entries of each *new* fill, and the order's status.
    async fn apply_fills(&self, update: &OrderUpdate, fills: &[Fill]) -> StoreResult<AppliedFills> {
        self.apply_fills_fenced(update, fills, None).await
    }
    /// [`Store::apply_fills`], checked against `fence` at `update.time_ms`.
    async fn apply_fills_fenced(
        &self,
        update: &OrderUpdate,
        fills: &[Fill],
        fence: Option<&Fence>,
    ) -> StoreResult<AppliedFills>;
    async fn finish_rebalance(
        &self,
        id: i64,
        status: &str,
        summary: &str,
        time_ms: i64,
        bot: Option<&BotUpdate>,
    ) -> StoreResult<()>;
    /// Ledger entries and flow rows of a deposit or withdrawal (and the bot update).
    async fn record_flow(&self, flow: &NewFlow) -> StoreResult<()>;
    /// Release every holding of the bot's ledger (entries of kind `release` that bring each
    /// balance to zero) and write the bot's final state. Returns what was released.
    async fn close_ledger(&self, bot: &BotUpdate) -> StoreResult<Vec<(String, Decimal)>>;
    async fn insert_snapshots(&self, snapshots: &[Snapshot]) -> StoreResult<()>;

    async fn list_bots(&self) -> StoreResult<Vec<BotRecord>>;
    /// The bots of one venue account with what loading them reads (last rebalance number,
    /// balances, net invested), in a few statements for the whole account ([`StoredBot`]).
    async fn account_bots(&self, venue: &str, account: &str) -> StoreResult<Vec<StoredBot>>;
    async fn bot(&self, id: BotId) -> StoreResult<Option<BotRecord>>;
    async fn bot_by_name(&self, name: &str) -> StoreResult<Option<BotRecord>>;
    async fn order(&self, client_id: &str) -> StoreResult<Option<OrderRecord>>;
    async fn orders(&self, bot_id: BotId) -> StoreResult<Vec<OrderRecord>>;
    /// Orders whose outcome is not final (pending, open, partially filled), all bots.
    async fn unfinished_orders(&self) -> StoreResult<Vec<OrderRecord>>;
    async fn fills(&self, bot_id: BotId) -> StoreResult<Vec<FillRecord>>;
    async fn rebalances(&self, bot_id: BotId) -> StoreResult<Vec<RebalanceRecord>>;
    /// A page of the bot's rebalances, newest first by `(started_ms, id)`, and their total.
    async fn rebalance_page(
        &self,
        bot_id: BotId,
        page: &PageQuery,
    ) -> StoreResult<Page<RebalanceRecord>>;
    /// A page of the bot's orders, newest first by `(created_ms, client_id)`, and their total.
    async fn order_page(&self, bot_id: BotId, page: &PageQuery) -> StoreResult<Page<OrderRecord>>;
    /// A page of the bot's fills, newest first by `(time_ms, fill_id)`, and their total.
    async fn fill_page(&self, bot_id: BotId, page: &PageQuery) -> StoreResult<Page<FillRecord>>;
    /// The bot's value snapshots of a range, oldest first, thinned in the query to at most
    /// `points` (see [`SeriesQuery`]).
    async fn snapshot_series(
        &self,
        bot_id: BotId,
        series: &SeriesQuery,
    ) -> StoreResult<Vec<Snapshot>>;
    /// The bot's last snapshot at or before `time_ms`.
    async fn snapshot_at_or_before(
        &self,
        bot_id: BotId,
        time_ms: i64,
    ) -> StoreResult<Option<Snapshot>>;
    /// The bot's first snapshot after `time_ms`.
    async fn snapshot_after(&self, bot_id: BotId, time_ms: i64) -> StoreResult<Option<Snapshot>>;
    /// Rebalances still `open`, all bots.
    async fn open_rebalances(&self) -> StoreResult<Vec<RebalanceRecord>>;
    /// The bot's ledger balance per asset (assets with a zero balance are left out).
    async fn balances(&self, bot_id: BotId) -> StoreResult<Vec<(String, Decimal)>>;
    /// Every bot's ledger balances: `(bot, asset, balance)`.
    async fn all_balances(&self) -> StoreResult<Vec<(BotId, String, Decimal)>>;
    async fn flows(&self, bot_id: BotId) -> StoreResult<Vec<FlowRecord>>;
    /// A page of the bot's flows (deposits, withdrawals, coins brought in or released), newest
    /// first by `(time_ms, id)`, and their total.
    async fn flow_page(&self, bot_id: BotId, page: &PageQuery) -> StoreResult<Page<FlowRecord>>;
    /// The bot's ledger entries in the order they were written.
    async fn ledger(&self, bot_id: BotId) -> StoreResult<Vec<LedgerEntry>>;
    async fn snapshots(&self, bot_id: BotId) -> StoreResult<Vec<Snapshot>>;
    /// A handle for readers beside the writer, when the backend needs its own (SQLite: a pool
    /// of read-only connections on the same file, so reads neither wait for the writer's one
    /// connection nor hold it); `None` when this handle already serves concurrent readers
    /// (PostgreSQL's pool). Only its read methods are for use: its writes fail. Each of its
    /// reads is one transaction, so it never sees half of a write transaction.
    fn reader(&self) -> Option<std::sync::Arc<dyn Store>> {
        None
    }
}

/// Canonical decimal text.
pub fn dec_text(d: Decimal) -> String {
    d.normalize().to_string()
}

/// Read canonical decimal text back.
pub fn parse_dec(s: &str) -> StoreResult<Decimal> {
    s.parse::<Decimal>()
        .map_err(|e| StoreError::BadValue(format!("decimal `{s}`: {e}")))
}

#[cfg(test)]
mod cursor_tests {
    use super::{Cursor, CursorId};

    #[test]
    fn a_cursor_reads_back_what_it_writes_and_refuses_the_rest() {
        let c = Cursor {
            time_ms: 1_700_000_000_000,
            id: "sf-1-2:b".into(),
        };
        assert_eq!(c.to_string(), "1700000000000:sf-1-2:b");
        assert_eq!(Cursor::parse(&c.to_string(), CursorId::Text), Some(c));
        let r = Cursor::parse("5:42", CursorId::Integer).unwrap();
        assert_eq!((r.time_ms, r.id.as_str()), (5, "42"));
        // The longest time and ids accepted, then one more.
        let long_time = "9".repeat(Cursor::TIME_DIGITS);
        assert!(Cursor::parse(&format!("{long_time}:1"), CursorId::Integer).is_some());
        assert!(Cursor::parse(&format!("{long_time}9:1"), CursorId::Integer).is_none());
        let long_int = "1".repeat(Cursor::INTEGER_DIGITS);
        assert!(Cursor::parse(&format!("1:{long_int}"), CursorId::Integer).is_some());
        assert!(Cursor::parse(&format!("1:{long_int}1"), CursorId::Integer).is_none());
        let long_text = "é".repeat(Cursor::TEXT_CHARS);
        assert!(Cursor::parse(&format!("1:{long_text}"), CursorId::Text).is_some());
        assert!(Cursor::parse(&format!("1:{long_text}x"), CursorId::Text).is_none());
        for bad in ["", "5", ":1", "5:", "-5:1", "+5:1", " 5:1", "5.0:1", "x:1"] {
            assert_eq!(Cursor::parse(bad, CursorId::Text), None, "{bad:?}");
        }
        for bad in ["5:x", "5:-1", "5:1.0", "5: 1"] {
            assert_eq!(Cursor::parse(bad, CursorId::Integer), None, "{bad:?}");
        }
    }
}
