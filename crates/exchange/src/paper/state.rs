//! The paper account in memory, and the copy-on-write transaction every operation runs in.

use super::{PaperAccount, PaperChange};
use crate::{Balance, Fill, Order};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The account, indexed for lookups.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub balances: BTreeMap<String, Balance>,
    pub orders: Vec<Order>,
    /// client id → index in `orders`.
    pub order_index: HashMap<String, usize>,
    /// Indices of open orders, oldest first.
    pub open: BTreeSet<usize>,
    pub fills: Vec<Fill>,
    /// client id → indices in `fills`, oldest first.
    pub fill_index: HashMap<String, Vec<usize>>,
    pub next_seq: u64,
}

impl State {
    /// Index a loaded account. Orders and fills are put in the order they were created (by the
    /// sequence number in their ids), whatever order the persistence returned them in.
    pub fn from_account(mut account: PaperAccount) -> Self {
        fn seq(id: &str) -> u64 {
            id.get(1..).and_then(|s| s.parse().ok()).unwrap_or(u64::MAX)
        }
        account.orders.sort_by_key(|o| seq(&o.venue_id));
        account.fills.sort_by_key(|f| seq(&f.fill_id));
        let mut state = State {
            next_seq: account.next_seq,
            ..State::default()
        };
        let change = PaperChange {
            orders: account.orders,
            fills: account.fills,
            balances: account.balances,
            next_seq: account.next_seq,
        };
        state.apply(change);
        state
    }

    pub fn to_account(&self) -> PaperAccount {
        PaperAccount {
            balances: self.balances.values().cloned().collect(),
            orders: self.orders.clone(),
            fills: self.fills.clone(),
            next_seq: self.next_seq,
        }
    }

    pub fn balance(&self, asset: &str) -> Balance {
        self.balances
            .get(asset)
            .cloned()
            .unwrap_or_else(|| Balance {
                asset: asset.to_string(),
                free: Decimal::ZERO,
                locked: Decimal::ZERO,
            })
    }

    pub fn order(&self, client_id: &str) -> Option<&Order> {
        self.order_index.get(client_id).map(|&i| &self.orders[i])
    }

    /// Apply a change that has been persisted.
    pub fn apply(&mut self, change: PaperChange) {
        for order in change.orders {
            let open = !order.status.is_final();
            let i = match self.order_index.get(&order.client_id) {
                Some(&i) => {
                    self.orders[i] = order;
                    i
                }
                None => {
                    let i = self.orders.len();
                    self.order_index.insert(order.client_id.clone(), i);
                    self.orders.push(order);
                    i
                }
            };
            if open {
                self.open.insert(i);
            } else {
                self.open.remove(&i);
            }
        }
        for fill in change.fills {
            let i = self.fills.len();
            self.fill_index
                .entry(fill.client_id.clone())
                .or_default()
                .push(i);
            self.fills.push(fill);
        }
        for balance in change.balances {
            self.balances.insert(balance.asset.clone(), balance);
        }
        self.next_seq = change.next_seq;
    }
}

/// The effect of one operation, built on top of an unchanged [`State`].
pub(crate) struct Txn<'a> {
    state: &'a State,
    balances: BTreeMap<String, Balance>,
    orders: Vec<Order>,
    fills: Vec<Fill>,
    next_seq: u64,
}

impl<'a> Txn<'a> {
    pub fn new(state: &'a State) -> Self {
        Self {
            state,
            balances: BTreeMap::new(),
            orders: Vec::new(),
            fills: Vec::new(),
            next_seq: state.next_seq,
        }
    }

    pub fn balance(&self, asset: &str) -> Balance {
        match self.balances.get(asset) {
            Some(b) => b.clone(),
            None => self.state.balance(asset),
        }
    }

    pub fn set_balance(&mut self, balance: Balance) {
        self.balances.insert(balance.asset.clone(), balance);
    }

    /// Change an asset's free and locked amounts by these deltas.
    pub fn adjust(&mut self, asset: &str, free: Decimal, locked: Decimal) {
        let mut b = self.balance(asset);
        b.free += free;
        b.locked += locked;
        self.set_balance(b);
    }

    pub fn upsert_order(&mut self, order: Order) {
        match self
            .orders
            .iter_mut()
            .find(|o| o.client_id == order.client_id)
        {
            Some(slot) => *slot = order,
            None => self.orders.push(order),
        }
    }

    pub fn push_fill(&mut self, fill: Fill) {
        self.fills.push(fill);
    }

    /// The next sequence number (venue order ids and fill ids).
    pub fn seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    pub fn into_change(self) -> PaperChange {
        PaperChange {
            orders: self.orders,
            fills: self.fills,
            balances: self.balances.into_values().collect(),
            next_seq: self.next_seq,
        }
    }
}
