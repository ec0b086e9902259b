//! The paper exchange: a venue in-process that obeys a venue's rules.
//!
//! [`PaperExchange`] implements [`crate::Exchange`] against an in-memory account that is
//! persisted, one operation at a time, through [`PaperPersistence`] (the SQLite store in the
//! product, [`MemoryPaperPersistence`] in tests).
//!
//! Behaviour, as a spot venue:
//! - **Validation.** An order is rejected ([`crate::ExchangeError::Rejected`] with a
//!   [`crate::reject`] code and a message naming the value and the rule) for an unknown
//!   instrument, a status that refuses it (halted, delisted, cancel-only, a buy on a sell-only
//!   instrument), a non-positive size or limit price, a quote-sized limit order, a post-only order
//!   that is not a GTC limit or that would trade at once, a quantity off the lot step, a limit
//!   price off the tick or outside the side's price band, a quantity below the minimum size or
//!   above the maximum (or the market maximum), a notional outside the minimum and maximum
//!   notional (market orders: at the last price; limit orders: at the limit price), a market order
//!   without a last price, a reused client id, or too little free balance.
//! - **Sizes.** A quote-sized market order trades what the amount buys (sells) at the execution
//!   price, rounded down to the lot step (Binance `quoteOrderQty`).
//! - **Balances.** A buy needs `quantity × execution price` of the quote free; a sell needs
//!   `quantity` of the base free. Resting limit orders lock exactly that until they fill or are
//!   canceled.
//! - **Fills.** A marketable order fills at once: a market order at `last × (1 ± slippage)`, a
//!   limit order at its limit price. Resting limit orders fill at their limit price when a tick
//!   crosses them (buy: last ≤ limit; sell: last ≥ limit) and the instrument's status accepts their
//!   side. With a depth limit ([`PaperConfig::depth`]) one price event fills at most that notional
//!   of an order: a GTC limit keeps the rest resting (`PartiallyFilled`), a market or IOC order's
//!   rest expires (`Expired`), and an FOK order that cannot fill whole expires unfilled. A
//!   non-marketable IOC or FOK limit expires at once.
//! - **Fees** are charged at the configured rate in the currency received (a buy of `q` yields
//!   `q × (1 − fee)` base; a sell of `q` at `p` yields `q × p × (1 − fee)` quote), unless a fee
//!   asset is configured ([`PaperConfig::fee_asset`], BNB-style): then the fee's value at the last
//!   prices is taken from that asset when the account has enough of it free, and the whole amount
//!   received is credited. Amounts are exact decimals (no rounding to an asset precision).
//! - **Lookups** find an order as soon as it is taken, unless a lookup window is configured;
//!   faults can make lookups answer "not found yet" or "unknown" ([`Fault`]).
//! - **Atomicity.** Every operation computes its whole effect as one [`PaperChange`] without
//!   touching the in-memory account, hands it to [`PaperPersistence::apply_paper`], and only
//!   after that succeeds applies it in memory. A persistence failure leaves everything as it was
//!   and returns [`crate::ExchangeError::Transient`].
//! - **Ids.** Venue order ids (`P<seq>`) and fill ids (`T<seq>`) come from the persisted
//!   sequence [`PaperAccount::next_seq`]. A client id is never accepted twice (stricter than
//!   Binance, which accepts a reused id once the earlier order is closed). A rejected order is not
//!   stored: [`crate::Exchange::order`] finds nothing under its client id.

mod config;
mod exchange;
mod memory;
mod state;

use crate::{Balance, Fill, Order};
use async_trait::async_trait;

pub use config::{BookModel, PaperConfig, PaperInstrument};
pub use exchange::{Candle, Fault, MAX_AMOUNT, MAX_CLIENT_ID_LEN, PaperExchange};
pub use memory::MemoryPaperPersistence;

/// Everything the paper exchange must remember across restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaperAccount {
    /// Sorted by asset.
    pub balances: Vec<Balance>,
    pub orders: Vec<Order>,
    pub fills: Vec<Fill>,
    /// Next sequence number for venue order and fill ids.
    pub next_seq: u64,
}

impl PaperAccount {
    /// Apply a change the way [`PaperPersistence::apply_paper`] must: orders upserted by client
    /// id (new ones appended in order), fills appended, balances set by asset (kept sorted by
    /// asset, as [`PaperExchange::account`] reports them), `next_seq` set.
    pub fn apply(&mut self, change: &PaperChange) {
        for order in &change.orders {
            // Updates are mostly of recent orders: search from the end.
            match self
                .orders
                .iter()
                .rposition(|o| o.client_id == order.client_id)
            {
                Some(i) => self.orders[i] = order.clone(),
                None => self.orders.push(order.clone()),
            }
        }
        self.fills.extend(change.fills.iter().cloned());
        for balance in &change.balances {
            match self
                .balances
                .binary_search_by(|b| b.asset.as_str().cmp(&balance.asset))
            {
                Ok(i) => self.balances[i] = balance.clone(),
                Err(i) => self.balances.insert(i, balance.clone()),
            }
        }
        self.next_seq = change.next_seq;
    }
}

/// The effect of one paper-exchange operation, applied atomically.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaperChange {
    /// Orders inserted or updated (by client id).
    pub orders: Vec<Order>,
    /// Fills appended.
    pub fills: Vec<Fill>,
    /// Balances set to these values.
    pub balances: Vec<Balance>,
    pub next_seq: u64,
}

impl PaperChange {
    /// Whether the change has no orders, fills or balances (only `next_seq`).
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty() && self.fills.is_empty() && self.balances.is_empty()
    }
}

/// Where a paper account lives (the SQLite store in the product, memory in tests).
#[async_trait]
pub trait PaperPersistence: Send + Sync {
    /// The account's state, or `None` for a new account.
    async fn load_paper(&self, account: &str) -> Result<Option<PaperAccount>, String>;
    /// Apply one change in a single transaction: all of it or none of it.
    async fn apply_paper(&self, account: &str, change: &PaperChange) -> Result<(), String>;
}
