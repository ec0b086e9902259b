//! An in-memory [`PaperPersistence`] for tests and demos.

use super::{PaperAccount, PaperChange, PaperPersistence};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// An account with its orders indexed by client id.
#[derive(Debug, Default)]
struct Stored {
    account: PaperAccount,
    orders: HashMap<String, usize>,
}

impl Stored {
    fn apply(&mut self, change: &PaperChange) {
        let account = &mut self.account;
        let rest = PaperChange {
            orders: Vec::new(),
            fills: change.fills.clone(),
            balances: change.balances.clone(),
            next_seq: change.next_seq,
        };
        for order in &change.orders {
            match self.orders.get(&order.client_id) {
                Some(&i) => account.orders[i] = order.clone(),
                None => {
                    self.orders
                        .insert(order.client_id.clone(), account.orders.len());
                    account.orders.push(order.clone());
                }
            }
        }
        account.apply(&rest);
    }
}

/// Paper accounts kept in memory. Share it (`Arc`) between a [`super::PaperExchange`] and the
/// one re-opened after it to model a restart; make it fail to test atomicity.
#[derive(Debug, Default)]
pub struct MemoryPaperPersistence {
    accounts: Mutex<HashMap<String, Stored>>,
    /// How many of the next `apply_paper` calls fail (`u32::MAX`: all of them).
    failures: AtomicU32,
    applied: AtomicU64,
}

impl MemoryPaperPersistence {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `n` calls of `apply_paper` fail and store nothing.
    pub fn fail_next(&self, n: u32) {
        self.failures.store(n, Ordering::SeqCst);
    }

    /// Every `apply_paper` fails (`true`) until called again with `false`.
    pub fn set_failing(&self, failing: bool) {
        self.failures
            .store(if failing { u32::MAX } else { 0 }, Ordering::SeqCst);
    }

    /// How many changes were stored.
    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::SeqCst)
    }

    /// A copy of an account as stored.
    pub fn account(&self, name: &str) -> Option<PaperAccount> {
        self.lock().get(name).map(|s| s.account.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Stored>> {
        // A panic elsewhere while holding the lock leaves whole accounts (apply is not
        // interruptible between fields in a way that matters for tests).
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl PaperPersistence for MemoryPaperPersistence {
    async fn load_paper(&self, account: &str) -> Result<Option<PaperAccount>, String> {
        Ok(self.lock().get(account).map(|s| s.account.clone()))
    }

    async fn apply_paper(&self, account: &str, change: &PaperChange) -> Result<(), String> {
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
                0 => None,
                u32::MAX => Some(u32::MAX),
                n => Some(n - 1),
            })
            .is_ok();
        if failing {
            return Err(format!(
                "memory persistence: injected failure storing a change of account {account}"
            ));
        }
        self.lock()
            .entry(account.to_string())
            .or_default()
            .apply(change);
        self.applied.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}
