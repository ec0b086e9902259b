//! The paper exchange: a venue in-process that obeys a venue's rules.

use crate::{Balance, Fill, Order};
use async_trait::async_trait;

/// Everything the paper exchange must remember across restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaperAccount {
    pub balances: Vec<Balance>,
    pub orders: Vec<Order>,
    pub fills: Vec<Fill>,
    /// Next sequence number for venue order and fill ids.
    pub next_seq: u64,
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

/// Where a paper account lives (the SQLite store in the product, memory in tests).
#[async_trait]
pub trait PaperPersistence: Send + Sync {
    /// The account's state, or `None` for a new account.
    async fn load_paper(&self, account: &str) -> Result<Option<PaperAccount>, String>;
    /// Apply one change in a single transaction: all of it or none of it.
    async fn apply_paper(&self, account: &str, change: &PaperChange) -> Result<(), String>;
}
