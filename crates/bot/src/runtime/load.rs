//! Loading the bots of this venue and account from the store, and reconciliation on startup
//! and from the tick (step 4 of the crash-safety protocol in the [module documentation](super)):
//! orders whose outcome is not known are settled by client id, never re-sent, and open
//! rebalances whose orders are all final are closed as `interrupted`. From the tick, the
//! lookups run as a round on their own task ([`Runtime::start_reconcile`]), like placements.

use super::place::Looked;
use super::{BotError, BotResult, Runtime};
use crate::config::{BotConfig, BotState, BotStatus};
use crate::engine::{Engine, LiveBot};
use crate::events::EventKind;
use crate::views::{LegReport, RebalanceSummary};
use rust_decimal::Decimal;
use smartfolio_exchange::settle::Settled;
use smartfolio_exchange::{ExchangeError, OrderSize};
use smartfolio_store::{BotId, OrderRecord, OrderState, StoredBot};
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::oneshot;

impl Runtime {
    /// Load every bot of this venue and account from the store, and the venue's instruments.
    pub async fn load(&mut self) -> BotResult<()> {
        self.refresh_instruments().await?;
        // Just read: the first tick need not read them again.
        self.next_instrument_refresh_ms = self
            .clock
            .now_ms()
            .saturating_add(self.instrument_refresh_ms);
        self.load_bots().await?;
        self.apply_instrument_status();
        Ok(())
    }

    /// Load every bot of this venue and account as the store has it, without the venue (no
    /// instruments, no prices), with each bot's latest value snapshot, which its summary and
    /// view show in place of a value at market prices (`BotSummary::valued_at_ms` says so):
    /// the view of a reader of the store (`smartfolio serve`), which never trades. Loading
    /// again replaces what was loaded.
    pub async fn load_stored(&mut self) -> BotResult<()> {
        let own = [(self.venue.clone(), self.account.clone())];
        self.load_stored_of(&own).await
    }

    /// [`Runtime::load_stored`] for the bots of every `(venue, account)` given: a reader of a
    /// store that several accounts trade (`run --http` with `[accounts]`), whose reads list
    /// them all. Never trades them: no venue, no market.
    pub async fn load_stored_of(&mut self, accounts: &[(String, String)]) -> BotResult<()> {
        self.load_bots_of(accounts).await?;
        self.stored_values.clear();
        for b in &self.engine.bots {
            if let Some(s) = self.store.snapshot_at_or_before(b.id, i64::MAX).await? {
                self.stored_values.insert(b.id, s);
            }
        }
        Ok(())
    }

    async fn load_bots(&mut self) -> BotResult<()> {
        let own = [(self.venue.clone(), self.account.clone())];
        self.load_bots_of(&own).await
    }

    async fn load_bots_of(&mut self, accounts: &[(String, String)]) -> BotResult<()> {
        self.engine = Engine::new();
        self.names.clear();
        // Rounds still running answer into the void: their orders are pending in the store and
        // settled by recovery.
        self.executions.clear();
        self.lookups.clear();
        // The account's bots in a few statements, not three per bot: a worker taking an
        // account over loads them all before its first tick.
        for (venue, account) in accounts {
            for b in self.store.account_bots(venue, account).await? {
                self.load_bot(b)?;
            }
        }
        Ok(())
    }

    fn load_bot(&mut self, b: StoredBot) -> BotResult<usize> {
        let rec = &b.record;
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
        if let Some(last) = b.last_seq {
            state.next_seq = state.next_seq.max(last + 1);
        }
        let targets = config
            .parsed_targets()
            .map_err(|e| corrupt(format!("targets: {e}")))?;
        let holdings: BTreeMap<String, Decimal> = b.balances.into_iter().collect();
        let bot = LiveBot::new(
            rec.id,
            config,
            targets,
            state,
            holdings,
            b.net_invested,
            &mut self.engine.market,
        );
        self.names.insert(rec.name.clone(), rec.id);
        Ok(self.engine.add(bot))
    }

    /// Load, then reconcile every order whose outcome is not known and close half-done
    /// rebalances (see the module documentation).
    /// The unfinished orders and open rebalances are read once for every bot; a bot with
    /// neither has nothing to reconcile and is not written.
    pub async fn recover(&mut self) -> BotResult<usize> {
        self.load().await?;
        let mut unfinished: BTreeMap<BotId, Vec<OrderRecord>> = BTreeMap::new();
        for o in self.store.unfinished_orders().await? {
            unfinished.entry(o.bot_id).or_default().push(o);
        }
        let open: BTreeSet<BotId> = self
            .store
            .open_rebalances()
            .await?
            .iter()
            .map(|r| r.bot_id)
            .collect();
        let mut fixed = 0;
        let ids: Vec<BotId> = self.engine.bots.iter().map(|b| b.id).collect();
        for id in ids {
            let orders = unfinished.remove(&id).unwrap_or_default();
            if orders.is_empty() && !open.contains(&id) {
                continue;
            }
            let looked = self.io.look_up(&orders).await;
            fixed += self.apply_lookups(id, &orders, looked).await?;
        }
        Ok(fixed)
    }

    /// Reconciliation from a tick (as [`Self::recover`] does one bot's): the lookups run as a round on their own task, and what
    /// they found is applied when it arrives ([`Self::advance_lookups`]).
    pub(super) async fn start_reconcile(&mut self, id: BotId) -> BotResult<()> {
        let orders = self.unfinished_of(id).await?;
        if orders.is_empty() {
            self.apply_lookups(id, &orders, vec![]).await?;
            return Ok(());
        }
        let io = self.io.clone();
        let signal = self.exec_signal.clone();
        let (tx, rx) = oneshot::channel();
        let asked = orders.clone();
        tokio::spawn(async move {
            let _ = tx.send(io.look_up(&asked).await);
            signal.notify_one();
        });
        self.lookups.insert(id, (orders, rx));
        Ok(())
    }

    /// Apply the lookup rounds that have answered (with `wait`, every one, waiting for them).
    pub(super) async fn advance_lookups(&mut self, wait: bool) -> BotResult<()> {
        let ids: Vec<BotId> = self.lookups.keys().copied().collect();
        for id in ids {
            self.run_lookup(id, wait).await?;
        }
        Ok(())
    }

    /// Apply bot `id`'s lookup round if it has answered (with `wait`, once it has).
    pub(super) async fn run_lookup(&mut self, id: BotId, wait: bool) -> BotResult<()> {
        let Some((orders, mut rx)) = self.lookups.remove(&id) else {
            return Ok(());
        };
        let looked = if wait {
            rx.await.ok()
        } else {
            match rx.try_recv() {
                Ok(l) => Some(l),
                Err(oneshot::error::TryRecvError::Empty) => {
                    self.lookups.insert(id, (orders, rx));
                    return Ok(());
                }
                Err(oneshot::error::TryRecvError::Closed) => None,
            }
        };
        // A round that ended without answering: every lookup failed, look again later.
        let looked = looked.unwrap_or_else(|| {
            orders
                .iter()
                .map(|_| Looked {
                    settled: Err(ExchangeError::Transient(
                        "the lookup ended without an answer".into(),
                    )),
                    fills: None,
                })
                .collect()
        });
        self.apply_lookups(id, &orders, looked).await?;
        Ok(())
    }

    async fn unfinished_of(&self, id: BotId) -> BotResult<Vec<OrderRecord>> {
        Ok(self
            .store
            .unfinished_orders()
            .await?
            .into_iter()
            .filter(|o| o.bot_id == id)
            .collect())
    }

    /// Apply what the lookups of `orders` found (one [`Looked`] each, in order), and close the
    /// bot's open rebalances once its orders are all final. Returns the number resolved.
    async fn apply_lookups(
        &mut self,
        id: BotId,
        orders: &[OrderRecord],
        looked: Vec<Looked>,
    ) -> BotResult<usize> {
        let bi = self.idx(id)?;
        let now = self.clock.now_ms();
        let mut resolved = 0;
        let mut still_open = false;
        // The earliest time a "not found yet" can become an answer, and whether an order needs
        // looking up sooner.
        let mut wait_until = None::<i64>;
        let mut again = false;
        // Until when the venue rate-limited the lookups (no lookup before then).
        let mut quiet_until = None::<i64>;
        // The orders settled here, with what they filled and their outcome (as execution
        // names it), for their final order event.
        let mut settled_now: Vec<(&OrderRecord, Decimal, &'static str)> = Vec::new();
        for (o, Looked { settled, fills }) in orders.iter().zip(looked) {
            match settled {
                Ok(Settled::Found(order)) => {
                    if self.record_venue_order(bi, &order, fills, now).await? {
                        resolved += 1;
                        let outcome = if order.fully_filled()
                            || order.status == smartfolio_exchange::OrderStatus::Filled
                        {
                            "filled"
                        } else if order.filled_quantity > Decimal::ZERO {
                            "partial"
                        } else {
                            "skipped"
                        };
                        settled_now.push((o, order.filled_quantity, outcome));
                    } else {
                        still_open = true;
                        again = true;
                    }
                }
                Ok(Settled::Closed { fills }) => {
                    let size = match (o.kind.as_str(), o.side.as_str(), o.quote_amount) {
                        ("market", "buy", Some(a)) => OrderSize::Quote(a),
                        _ => OrderSize::Base(o.quantity),
                    };
                    let (filled, done) = self
                        .record_closed_order(bi, &o.client_id, size, &fills, now)
                        .await?;
                    resolved += 1;
                    settled_now.push((o, filled, if done { "filled" } else { "partial" }));
                }
                Ok(Settled::Wait { until_ms }) => {
                    still_open = true;
                    wait_until = Some(wait_until.map_or(until_ms, |w| w.min(until_ms)));
                }
                Ok(Settled::Absent) => {
                    self.mark_not_sent(
                        &o.client_id,
                        "not found at the venue on reconciliation, by client id nor among its \
                         open orders and fills",
                        now,
                    )
                    .await?;
                    resolved += 1;
                    settled_now.push((o, Decimal::ZERO, "failed"));
                }
                Err(ExchangeError::RateLimited { retry_after_ms }) => {
                    // Not a failure of the venue: it asked us to wait. Not counted towards the
                    // breaker; looked up again once the wait is over.
                    tracing::info!(
                        bot = id,
                        client_id = %o.client_id,
                        "lookup rate-limited by the venue: looked up again in {retry_after_ms} ms"
                    );
                    let until =
                        now.saturating_add(i64::try_from(retry_after_ms).unwrap_or(i64::MAX));
                    quiet_until = Some(quiet_until.map_or(until, |q| q.max(until)));
                    still_open = true;
                }
                Err(e) => {
                    tracing::warn!(bot = id, client_id = %o.client_id, "lookup failed: {e}");
                    self.venue_failed(bi, &format!("looking up {}: {e}", o.client_id));
                    still_open = true;
                    again = true;
                }
            }
        }
        self.settled_events(bi, &settled_now).await?;
        self.engine.bots[bi].unresolved = still_open;
        // Only when every order still open waits for its lookup window is the next lookup put
        // off; an order found open, or a failed lookup, is looked up again at the next tick.
        match wait_until {
            Some(until) if !again => self.engine.bots[bi].lookup_later(now, until),
            _ => self.engine.bots[bi].lookup_now(),
        }
        if let Some(q) = quiet_until {
            let b = &mut self.engine.bots[bi];
            b.lookup_after_ms = b.lookup_after_ms.max(q);
        }
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
            let from = self.engine.bots[bi].state.status.word();
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
            let finished = EventKind::RebalanceFinished {
                seq: rb.seq,
                kind: rb.kind.clone(),
                reason: rb.reason.clone(),
                status: "interrupted".into(),
                fees: summary.fees,
            };
            self.record(bi, finished);
            self.state_changed(bi, from);
        }
        let m = &mut self.engine.market;
        self.engine.bots[bi].rebuild(m);
        self.save(bi).await?;
        Ok(resolved)
    }

    /// The final order event of each order a lookup round settled (its first said `unknown`),
    /// under its rebalance's number.
    async fn settled_events(
        &mut self,
        bi: usize,
        settled: &[(&OrderRecord, Decimal, &'static str)],
    ) -> BotResult<()> {
        if settled.is_empty() {
            return Ok(());
        }
        let seqs: BTreeMap<i64, i64> = self
            .store
            .open_rebalances()
            .await?
            .into_iter()
            .map(|rb| (rb.id, rb.seq))
            .collect();
        for (o, filled, outcome) in settled {
            let side = if o.side == "sell" {
                smartfolio_core::Side::Sell
            } else {
                smartfolio_core::Side::Buy
            };
            let order = EventKind::Order {
                seq: seqs.get(&o.rebalance_id).copied().unwrap_or_default(),
                client_id: o.client_id.clone(),
                asset: o.base.clone(),
                side,
                quantity: o.quantity,
                filled_quantity: *filled,
                outcome: (*outcome).into(),
            };
            self.record(bi, order);
        }
        Ok(())
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
                execution: None,
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

    /// After recovery, before trading: every asset whose bots' ledgers sum to more than the
    /// account holds suspends the active bots holding it, with the reason, until a user resumes
    /// them (nothing is sold: a ledger the account does not back must not trade), each change
    /// of status recorded as an event. Returns the bots held and why.
    pub async fn hold_unbacked(&mut self) -> BotResult<Vec<(BotId, String)>> {
        let report = self.check_isolation().await?;
        let now = self.clock.now_ms();
        let mut held = Vec::new();
        for line in report.lines.iter().filter(|l| l.ledgers > l.account) {
            let reason = format!(
                "reconciliation: the bots' ledgers hold {} {} but the account has {} {}; \
                 nothing trades until the account is fixed and the bot resumed",
                line.ledgers.normalize(),
                line.asset,
                line.account.normalize(),
                line.asset
            );
            for bi in 0..self.engine.bots.len() {
                let b = &self.engine.bots[bi];
                let holds = b
                    .holdings
                    .get(&line.asset)
                    .is_some_and(|q| *q > Decimal::ZERO);
                let stopping = matches!(
                    b.state.status,
                    BotStatus::Stopping { .. } | BotStatus::Stopped { .. }
                );
                if !holds || stopping || b.state.held.is_some() {
                    continue;
                }
                let id = b.id;
                tracing::warn!(bot = id, "{reason}");
                let bot = &mut self.engine.bots[bi];
                let old = bot.state.clone();
                bot.state.held = Some(reason.clone());
                bot.state.status = BotStatus::Suspended {
                    reason: reason.clone(),
                    since_ms: now,
                    breaker: false,
                };
                if let Err(e) = self.save(bi).await {
                    self.engine.bots[bi].state = old;
                    return Err(e);
                }
                self.state_changed(bi, old.status.word());
                held.push((id, reason.clone()));
            }
        }
        Ok(held)
    }
}
