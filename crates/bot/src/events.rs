//! Typed audit events: what happened to a bot, recorded by the runtime where it happens (a bot
//! created, a change of state with its reason, a rebalance started and finished, an order's
//! outcome, a fill applied to the ledger), in the order it happened.
//!
//! The runtime keeps them in its [`EventLog`] (memory only, no IO); whoever drives the runtime
//! takes them with [`crate::Runtime::take_events`] (the node's driver, after each tick, job,
//! batch of commands and recorded answer) and hands them on (the server's live events and
//! metrics). An event is recorded once its change is made in memory and, where the change is
//! stored, after the store accepted it; a change refused by the store records nothing. A
//! rebalance a tick only starts records its orders, its end and the bot's new state when their
//! answers are recorded ([`crate::Runtime::advance_executions`]), once each.

use rust_decimal::Decimal;
use smartfolio_core::Side;
use smartfolio_exchange::Fill;
use smartfolio_store::BotId;
use std::collections::VecDeque;

/// One thing that happened to a bot.
#[derive(Debug, Clone, PartialEq)]
pub struct BotEvent {
    pub bot: BotId,
    /// The runtime's clock when it happened (market time in paper and replay modes).
    pub time_ms: i64,
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A bot was created (status `created`).
    Created { name: String },
    /// The bot's status changed (status words, as `BotStatus::word`). `reason` is the one the
    /// new status carries (a suspension's, a stop's), if any.
    StateChanged {
        from: &'static str,
        to: &'static str,
        reason: Option<String>,
    },
    /// A rebalance and its first orders were stored; its orders are about to be sent.
    RebalanceStarted {
        seq: i64,
        kind: String,
        reason: String,
    },
    /// An order left as execution left it. `outcome`: `filled`, `partial`, `skipped` (accepted
    /// but nothing filled, or stored and never sent after an earlier failure), `rejected`,
    /// `failed` (not sent) or `unknown` (followed on reconciliation).
    Order {
        seq: i64,
        client_id: String,
        asset: String,
        side: Side,
        quantity: Decimal,
        filled_quantity: Decimal,
        outcome: String,
    },
    /// A venue fill applied to the bot's ledger (once per venue fill id; its fee is in its
    /// `fee_asset`, which may be a third asset).
    Fill(Fill),
    /// A rebalance was closed with its status (`completed`, `partial`, `aborted`,
    /// `interrupted`) and the fees of its orders, valued in the bot's quote.
    RebalanceFinished {
        seq: i64,
        kind: String,
        reason: String,
        status: String,
        fees: Decimal,
    },
}

impl EventKind {
    /// The event's name, one snake-case word per variant.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Created { .. } => "created",
            EventKind::StateChanged { .. } => "state_changed",
            EventKind::RebalanceStarted { .. } => "rebalance_started",
            EventKind::Order { .. } => "order",
            EventKind::Fill(_) => "fill",
            EventKind::RebalanceFinished { .. } => "rebalance_finished",
        }
    }
}

/// The runtime's events not yet taken. Bounded: with no one taking them (a one-shot command
/// run in-process), the oldest are dropped past [`EventLog::CAPACITY`] and counted.
#[derive(Debug, Default)]
pub struct EventLog {
    events: VecDeque<BotEvent>,
    dropped: u64,
}

impl EventLog {
    /// The most events kept before the oldest are dropped.
    pub const CAPACITY: usize = 10_000;

    pub fn push(&mut self, event: BotEvent) {
        if self.events.len() == Self::CAPACITY {
            self.events.pop_front();
            self.dropped += 1;
        }
        self.events.push_back(event);
    }

    /// Every event kept, oldest first, leaving the log empty.
    pub fn take(&mut self) -> Vec<BotEvent> {
        self.events.drain(..).collect()
    }

    /// How many events were dropped unread since the log was made.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(bot: BotId) -> BotEvent {
        BotEvent {
            bot,
            time_ms: 0,
            kind: EventKind::Created { name: "x".into() },
        }
    }

    #[test]
    fn the_log_keeps_order_and_drops_the_oldest_past_its_capacity() {
        let mut log = EventLog::default();
        for i in 0..(EventLog::CAPACITY as i64 + 2) {
            log.push(ev(i));
        }
        assert_eq!(log.dropped(), 2);
        let all = log.take();
        assert_eq!(all.len(), EventLog::CAPACITY);
        assert_eq!(all[0].bot, 2);
        assert_eq!(all.last().unwrap().bot, EventLog::CAPACITY as i64 + 1);
        assert!(log.is_empty());
    }
}
