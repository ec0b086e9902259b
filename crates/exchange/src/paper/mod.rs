//! The paper exchange: a venue in-process that obeys a venue's rules.
//!
//! [`PaperExchange`] implements [`crate::Exchange`] against an in-memory account that is
//! persisted, one operation at a time, through [`PaperPersistence`] (the SQLite store in the
//! product, [`MemoryPaperPersistence`] in tests).
//!
//! Behaviour, as a spot venue:
//! - **Validation.** An order is rejected ([`crate::ExchangeError::Rejected`] with a
//!   [`crate::reject`] code and a message naming the value and the rule) for an unknown
//!   instrument, an instrument not trading, a non-positive quantity or limit price, a quantity off
//!   the lot step, a limit price off the tick, a quantity below the minimum size, a notional below
//!   the minimum notional (market orders: at the last price; limit orders: at the limit price), a
//!   market order without a last price, a reused client id, or too little free balance.
//! - **Balances.** A buy needs `quantity × execution price` of the quote free (the fee is taken
//!   from the base received, so nothing more is needed); a sell needs `quantity` of the base free.
//!   Limit orders lock exactly that amount until they fill or are canceled.
//! - **Fills.** Market orders fill at once and fully at `last × (1 ± slippage)`. Limit orders rest
//!   and fill fully at their limit price when a tick crosses them (buy: last ≤ limit; sell:
//!   last ≥ limit); a limit order that is marketable when placed fills at once at its limit price.
//! - **Fees** are charged in the currency received, at the configured rate: a buy of `q` yields
//!   `q × (1 − fee)` base; a sell of `q` at `p` yields `q × p × (1 − fee)` quote. Amounts are exact
//!   decimals (no rounding to an asset precision).
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

pub use config::{PaperConfig, PaperInstrument};
pub use exchange::{Fault, MAX_AMOUNT, MAX_CLIENT_ID_LEN, PaperExchange};
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
