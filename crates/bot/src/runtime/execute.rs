//! Rebalance execution (steps 1 and 3 of the crash-safety protocol in the
//! [module documentation](super)): the rebalance and its sells are stored before any order is
//! sent, the buys are sized from the bot's own cash once the sells are done and stored before
//! they are sent, and the rebalance is closed with its summary.
//!
//! An execution is a state machine ([`Execution`], one per bot at most) advanced one order at a
//! time: each order's placement runs as a round on its own task ([`super::place`]), and the
//! runtime records its answer when it arrives. A command waits for its own execution to end (it
//! answers with what traded); a tick only starts one ([`Runtime::advance_executions`] records
//! the answers as they come, on the driver's next turn), so one slow venue call never holds
//! another bot's tick or the command queue. A bot with an execution under way takes no other
//! decision, and a command that would trade on it first waits for it to end
//! ([`Runtime::end_execution`]).

use super::legs::{PlannedLeg, buy_quote_amounts, planned_legs, size_buys};
use super::lifecycle::STOP_PLAN;
use super::place::{Answer, Placement};
use super::work::Work;
use super::{BotError, BotResult, Runtime};
use crate::config::BotStatus;
use crate::events::EventKind;
use crate::views::{LegReport, RebalanceSummary};
use rust_decimal::Decimal;
use smartfolio_core::Side;
use smartfolio_exchange::OrderKind;
use smartfolio_store::{BotId, NewOrder, NewRebalance};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::{Notify, oneshot};

/// One order's placement round under way: the stored order, where its answer arrives, and for
/// a worked leg, the leg.
pub(super) struct Round {
    pub(super) order: NewOrder,
    pub(super) rx: oneshot::Receiver<Answer>,
    pub(super) work: Option<Work>,
}

/// A rebalance whose orders are being placed: stored, with its orders still to send, the one
/// in flight, and its summary so far.
pub(super) struct Execution {
    pub(super) rb_id: i64,
    pub(super) seq: i64,
    /// The rebalance's time (its records are written at it).
    pub(super) now: i64,
    pub(super) goal: Option<Decimal>,
    pub(super) summary: RebalanceSummary,
    /// Stored orders not sent yet, in order.
    pub(super) queue: VecDeque<NewOrder>,
    /// The planned buys, sized and stored once the sells are done.
    pub(super) buys: Vec<PlannedLeg>,
    pub(super) next_leg: usize,
    pub(super) aborted: bool,
    /// An order was refused because its instrument does not trade now (a halt begun since the
    /// last read of the statuses): nothing more is sent, and the bot suspends at the end.
    pub(super) halted: bool,
    /// The orders whose placement rounds are running: a market leg's (one at a time, in
    /// order) or the worked legs' (one per leg, all of a side at once).
    pub(super) in_flight: Vec<Round>,
    /// A stop's sells started by a tick: once they end, the stop is closed
    /// ([`Runtime::close_stop`]) with these already known to stay unsold.
    pub(super) then_close_stop: Option<Vec<(String, Decimal, String)>>,
    /// Limit and maker styles: the legs with no order in flight, to work next (the sells,
    /// then the buys once sized; see [`super::work`]).
    pub(super) work: VecDeque<Work>,
    pub(super) worked: bool,
    /// Worked legs waiting `slice_interval` before their next slice; each wait's end arrives
    /// on its receiver.
    pub(super) pauses: Vec<(Work, oneshot::Receiver<()>)>,
    /// Why the rebalance stopped placing new orders (the slippage guard).
    pub(super) stopped: Option<String>,
}

impl Runtime {
    /// Plan from the ledger (SPEC §3) and execute. None when no order could be sent: nothing
    /// is recorded then, and the reason (if a leg was wanted) is kept in the bot's state and
    /// shown with its summary, logged once when it changes.
    ///
    /// With `wait`, the rebalance is executed to its end; without, it is started (see the
    /// module documentation) and the summary is what is known so far (status `open`).
    pub(super) async fn plan_and_execute(
        &mut self,
        bi: usize,
        kind: &str,
        reason: String,
        now: i64,
        wait: bool,
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
                execution: None,
            })
            .collect();
        self.start_execution(
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
        let id = self.engine.bots[bi].id;
        let summary = match self.run_execution(id, wait).await? {
            Some(done) => done,
            None => self.executions[&id].summary.clone(),
        };
        Ok(Some(summary))
    }

    pub(super) fn client_id(&self, bi: usize, seq: i64, leg: usize) -> String {
        format!("sf{}r{}l{}", self.engine.bots[bi].id, seq, leg)
    }

    /// Store the rebalance and its sells, send the sells, size and store the buys from the
    /// bot's own cash, send the buys, and close the rebalance with its summary.
    pub(super) async fn execute(
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
    /// makes it `partial`. Waits for the execution to end.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn execute_with(
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
        self.start_execution(bi, kind, reason, legs, skipped, plan_json, now, goal)
            .await?;
        let id = self.engine.bots[bi].id;
        match self.run_execution(id, true).await? {
            Some(summary) => Ok(summary),
            None => Err(BotError::Corrupt {
                name: self.engine.bots[bi].config.name.clone(),
                message: "an execution waited for ended without its summary".into(),
            }),
        }
    }

    /// Whether a rebalance of some bot has orders being placed, or a reconciliation's lookups
    /// are under way.
    pub fn executing(&self) -> bool {
        !self.executions.is_empty() || !self.lookups.is_empty()
    }

    /// How many placement rounds of rebalances are under way (sent and not yet recorded;
    /// a limit order's round rests on the clock until its timeout). A driver that steps the
    /// clock itself (a replay) moves on once each is parked in a clock wait or recorded.
    pub fn rounds_in_flight(&self) -> usize {
        self.executions
            .values()
            .map(|e| e.in_flight.len() + e.pauses.len())
            .sum()
    }

    /// Record the answers of placement rounds until each round under way is either recorded
    /// or parked in a wait on `clock` that ends later (a resting limit order): a driver that
    /// steps market time itself (a replay on a [`crate::SteppedClock`]) moves on then.
    pub async fn settle_rounds(&mut self, clock: &crate::clock::SteppedClock) -> BotResult<()> {
        loop {
            let signal = self.execution_signal();
            let answered = signal.notified();
            let parked = clock.parked_signal().notified();
            self.advance_executions().await?;
            if self.rounds_in_flight() <= clock.parked() {
                return Ok(());
            }
            tokio::select! {
                _ = answered => {}
                _ = parked => {}
            }
        }
    }

    /// Whether bot `id` has a rebalance or a reconciliation under way (it decides nothing else).
    pub(super) fn busy(&self, id: BotId) -> bool {
        self.executions.contains_key(&id) || self.lookups.contains_key(&id)
    }

    /// Notified whenever a placement or lookup round has answered: then
    /// [`Runtime::advance_executions`] has something to record. The driver waits on it.
    pub fn execution_signal(&self) -> Arc<Notify> {
        self.exec_signal.clone()
    }

    /// Record every placement and lookup answer that has arrived, and move those executions on
    /// (the next order, the buys, or the rebalance's end), without waiting for any venue.
    /// Returns how many rebalances ended.
    pub async fn advance_executions(&mut self) -> BotResult<usize> {
        self.advance_lookups(false).await?;
        let ids: Vec<BotId> = self.executions.keys().copied().collect();
        let mut ended = 0;
        for id in ids {
            if self.run_execution(id, false).await?.is_some() {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Wait until every execution under way has ended (replays, tests, and a driver that ends
    /// with its feed).
    pub async fn settle_executions(&mut self) -> BotResult<()> {
        self.advance_lookups(true).await?;
        let ids: Vec<BotId> = self.executions.keys().copied().collect();
        for id in ids {
            self.run_execution(id, true).await?;
        }
        Ok(())
    }

    /// Wait for bot `id`'s rebalance or reconciliation under way, if any, to end: a command that
    /// trades on the bot (invest, withdraw, stop, rebalance now) runs after it, on the ledger it
    /// leaves. It holds the loop only for this bot's own venue calls.
    pub(super) async fn end_execution(&mut self, id: BotId) -> BotResult<()> {
        self.run_lookup(id, true).await?;
        if self.executions.contains_key(&id) {
            self.run_execution(id, true).await?;
        }
        Ok(())
    }

    /// Refuse `action` on a bot whose rebalance is being executed: it would trade beside it.
    pub(super) fn check_not_executing(&self, bi: usize, action: &str) -> BotResult<()> {
        let b = &self.engine.bots[bi];
        if self.executions.contains_key(&b.id) {
            return Err(BotError::WrongState {
                name: b.config.name.clone(),
                status: "rebalancing".into(),
                action: format!(
                    "{action} while a rebalance's orders are being placed; try again when it has ended"
                ),
            });
        }
        Ok(())
    }

    /// Store the rebalance and its sells (nothing is sent yet) and register its execution.
    #[allow(clippy::too_many_arguments)]
    async fn start_execution(
        &mut self,
        bi: usize,
        kind: &str,
        reason: String,
        legs: Vec<PlannedLeg>,
        skipped: Vec<LegReport>,
        plan_json: String,
        now: i64,
        goal: Option<Decimal>,
    ) -> BotResult<()> {
        self.check_not_executing(bi, "start a rebalance")?;
        let (value_before, weights_before) = self.weights(bi);
        let seq = self.engine.bots[bi].state.next_seq;
        let summary = RebalanceSummary {
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
        let mut next_leg = 0usize;
        // Limit and maker legs are worked order by order, each stored just before it is sent;
        // stops and withdrawals stay market orders.
        let worked = self.works(bi, kind, goal);
        let (sell_orders, work) = if worked {
            (vec![], self.start_work(bi, &sells).await.into())
        } else {
            (
                self.new_orders(bi, seq, &mut next_leg, &sells),
                VecDeque::new(),
            )
        };
        let old_state = self.engine.bots[bi].state.clone();
        self.engine.bots[bi].state.next_seq += 1;
        let upd = self.bot_update(bi, None);
        let rb_id = match self
            .store
            .begin_rebalance(&NewRebalance {
                bot_id: self.engine.bots[bi].id,
                seq,
                kind: kind.into(),
                reason: reason.clone(),
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
        let started = EventKind::RebalanceStarted {
            seq,
            kind: kind.into(),
            reason,
        };
        self.record(bi, started);
        self.executions.insert(
            self.engine.bots[bi].id,
            Execution {
                rb_id,
                seq,
                now,
                goal,
                summary,
                queue: sell_orders.into(),
                buys,
                next_leg,
                aborted: false,
                halted: false,
                in_flight: Vec::new(),
                then_close_stop: None,
                worked,
                work,
                pauses: Vec::new(),
                stopped: None,
            },
        );
        Ok(())
    }

    /// Start a stop's sells (a tick's stop): the execution closes the stop when they end.
    pub(super) async fn start_stop_sells(
        &mut self,
        bi: usize,
        reason: String,
        legs: Vec<PlannedLeg>,
        unsold: Vec<(String, Decimal, String)>,
        now: i64,
    ) -> BotResult<()> {
        self.start_execution(
            bi,
            "stop",
            reason,
            legs,
            vec![],
            STOP_PLAN.into(),
            now,
            None,
        )
        .await?;
        let id = self.engine.bots[bi].id;
        if let Some(ex) = self.executions.get_mut(&id) {
            ex.then_close_stop = Some(unsold);
        }
        self.run_execution(id, false).await?;
        Ok(())
    }

    /// The orders of `legs`, numbered on from `next_leg`.
    fn new_orders(
        &self,
        bi: usize,
        seq: i64,
        next_leg: &mut usize,
        legs: &[PlannedLeg],
    ) -> Vec<NewOrder> {
        let quote = &self.engine.bots[bi].config.quote;
        legs.iter()
            .map(|l| {
                let o = NewOrder {
                    client_id: self.client_id(bi, seq, *next_leg),
                    leg: *next_leg as i64,
                    base: l.asset.clone(),
                    quote: quote.clone(),
                    side: l.side,
                    quantity: l.quantity,
                    kind: OrderKind::Market,
                    quote_amount: None,
                };
                *next_leg += 1;
                o
            })
            .collect()
    }

    /// Move bot `id`'s execution on as far as it goes: record an arrived answer, send the next
    /// order, size and store the buys, and close the rebalance. With `wait`, the answers are
    /// waited for and it runs to the end; without, it stops at an answer not arrived yet.
    /// Returns the summary once the rebalance has ended. A store failure drops the execution
    /// (the rebalance stays open in the store: recovery settles it).
    async fn run_execution(
        &mut self,
        id: BotId,
        wait: bool,
    ) -> BotResult<Option<RebalanceSummary>> {
        let r = self.step_execution(id, wait).await;
        if r.is_err() {
            self.executions.remove(&id);
        }
        r
    }

    async fn step_execution(
        &mut self,
        id: BotId,
        wait: bool,
    ) -> BotResult<Option<RebalanceSummary>> {
        let bi = self.idx(id)?;
        loop {
            let Some(ex) = self.executions.get_mut(&id) else {
                return Ok(None);
            };
            // An answer that has arrived, or a round that ended without one.
            let mut arrived = None;
            for (i, r) in ex.in_flight.iter_mut().enumerate() {
                match r.rx.try_recv() {
                    Ok(a) => arrived = Some((i, Some(a))),
                    Err(oneshot::error::TryRecvError::Closed) => arrived = Some((i, None)),
                    Err(oneshot::error::TryRecvError::Empty) => continue,
                }
                break;
            }
            if let Some((i, answer)) = arrived {
                let round = ex.in_flight.remove(i);
                self.on_answer(id, bi, round, answer).await?;
                continue;
            }
            // A slice's wait that has ended: the leg is worked again.
            let ended = ex.pauses.iter_mut().position(|(_, rx)| {
                !matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty))
            });
            if let Some(i) = ended {
                let (w, _) = ex.pauses.remove(i);
                ex.work.push_front(w);
                continue;
            }
            // Market legs one at a time, in order; every worked leg at once.
            let market_in_flight = ex.in_flight.iter().any(|r| r.work.is_none());
            if !market_in_flight && let Some(o) = ex.queue.pop_front() {
                let rx = self.start_leg(bi, &o);
                let ex = self
                    .executions
                    .get_mut(&id)
                    .expect("the execution is registered");
                ex.in_flight.push(Round {
                    order: o,
                    rx,
                    work: None,
                });
                continue;
            }
            if let Some(w) = ex.work.pop_front() {
                self.next_attempt(id, bi, w).await?;
                continue;
            }
            if !ex.in_flight.is_empty() || !ex.pauses.is_empty() || !ex.queue.is_empty() {
                if !wait {
                    return Ok(None);
                }
                // Every round runs on its own task: waiting for the oldest loses no other.
                if !ex.in_flight.is_empty() {
                    let mut round = ex.in_flight.remove(0);
                    let answer = (&mut round.rx).await.ok();
                    self.on_answer(id, bi, round, answer).await?;
                } else if !ex.pauses.is_empty() {
                    let (w, mut rx) = ex.pauses.remove(0);
                    let _ = (&mut rx).await;
                    self.ex_mut(id).work.push_front(w);
                }
                continue;
            }
            if !ex.aborted && !ex.buys.is_empty() {
                let buys = std::mem::take(&mut ex.buys);
                self.store_buys(id, bi, &buys).await?;
                continue;
            }
            let mut ex = self
                .executions
                .remove(&id)
                .expect("the execution is registered");
            let (close_stop, now) = (ex.then_close_stop.take(), ex.now);
            let summary = self.finish_execution(bi, ex).await?;
            if let Some(unsold) = close_stop {
                // A sell whose outcome is unknown keeps the stop open: it completes after
                // reconciliation (the engine decides it again).
                match self.close_stop(bi, now, unsold, Some(&summary)).await {
                    Ok(_) | Err(BotError::WrongState { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(Some(summary));
        }
    }

    /// Record a placement round's answer (None: the round ended without one, its task
    /// cancelled; what it did is unknown and looked up on reconciliation): a worked leg's goes
    /// to its leg; a market leg's is reported, and a failure or a halt stops the orders after it.
    async fn on_answer(
        &mut self,
        id: BotId,
        bi: usize,
        round: Round,
        answer: Option<Answer>,
    ) -> BotResult<()> {
        let Round { order: o, work, .. } = round;
        let answer = answer.unwrap_or_else(|| Answer {
            placement: Placement::Unknown("the placement ended without an answer".into()),
            fills: None,
        });
        if let Some(w) = work {
            return self.work_answer(id, bi, o, answer, w).await;
        }
        let (now, seq) = {
            let ex = &self.executions[&id];
            (ex.now, ex.seq)
        };
        let leg = self.record_leg(bi, &o, answer, now).await?;
        self.order_event(bi, seq, &o, &leg);
        let failed = matches!(leg.outcome.as_str(), "failed" | "unknown");
        // A stop still sells what trades; a rebalance stops at a halt it meets.
        let halted = leg.outcome == "rejected" && !self.trading(&o.base);
        let ex = self.ex_mut(id);
        ex.summary.legs.push(leg);
        let halted = halted && ex.then_close_stop.is_none();
        if failed || halted {
            ex.aborted = true;
            ex.halted |= halted;
            let unsent: Vec<NewOrder> = ex.queue.drain(..).collect();
            let why = if halted {
                format!("not sent: {} does not trade on the venue now", o.base)
            } else {
                "not sent: the rebalance stopped after a venue failure".into()
            };
            self.report_unsent(id, bi, &unsent, &why, now).await?;
        }
        Ok(())
    }

    /// Size the buys from the bot's own cash (never the account's), store them, and queue them.
    /// Market buys are stored and sent with their quote amounts ([`buy_quote_amounts`]).
    async fn store_buys(&mut self, id: BotId, bi: usize, buys: &[PlannedLeg]) -> BotResult<()> {
        let b = &self.engine.bots[bi];
        let cash = b.cash().max(Decimal::ZERO);
        let cost_rate = b.config.price_margin + b.config.fee_rate;
        let (sized, dropped) = size_buys(&self.rules, cost_rate, cash, buys);
        let worked = self.executions[&id].worked;
        let buy_work = if worked {
            self.start_work(bi, &sized).await
        } else {
            vec![]
        };
        let (seq, mut next_leg) = {
            let ex = &self.executions[&id];
            (ex.seq, ex.next_leg)
        };
        let buy_orders = if worked {
            vec![]
        } else {
            // Sent by quote amount: a price that moves before the fill buys less, never more
            // than the bot's cash (sized in base at the plan's price, a rise past the price
            // margin overspent it).
            let fee_rate = self.engine.bots[bi].config.fee_rate;
            let amounts = buy_quote_amounts(&self.rules, fee_rate, cash, &sized);
            let mut orders = self.new_orders(bi, seq, &mut next_leg, &sized);
            for (o, a) in orders.iter_mut().zip(amounts) {
                o.quote_amount = Some(a);
            }
            orders
        };
        let ex = self
            .executions
            .get_mut(&id)
            .expect("the execution is registered");
        ex.next_leg = next_leg;
        for (l, r) in dropped {
            ex.summary.legs.push(LegReport {
                asset: l.asset.clone(),
                side: "buy".into(),
                planned_quantity: l.quantity,
                filled_quantity: Decimal::ZERO,
                outcome: "skipped".into(),
                detail: format!("sized to the bot's cash {}: {r}", cash.round_dp(8)),
                client_id: None,
                fees: Decimal::ZERO,
                execution: None,
            });
        }
        let (rb_id, now) = (ex.rb_id, ex.now);
        if !buy_orders.is_empty() {
            self.store.add_orders(rb_id, &buy_orders, now).await?;
        }
        let ex = self
            .executions
            .get_mut(&id)
            .expect("the execution is registered");
        ex.queue.extend(buy_orders);
        ex.work.extend(buy_work);
        Ok(())
    }

    /// Stored orders that were never sent: say so now rather than on reconciliation.
    pub(super) async fn report_unsent(
        &mut self,
        id: BotId,
        bi: usize,
        unsent: &[NewOrder],
        why: &str,
        now: i64,
    ) -> BotResult<()> {
        for o in unsent {
            self.mark_not_sent(&o.client_id, why, now).await?;
            let leg = LegReport {
                asset: o.base.clone(),
                side: o.side.as_str().into(),
                planned_quantity: o.quantity,
                filled_quantity: Decimal::ZERO,
                outcome: "skipped".into(),
                detail: why.into(),
                client_id: Some(o.client_id.clone()),
                fees: Decimal::ZERO,
                execution: None,
            };
            let seq = self.executions[&id].seq;
            self.order_event(bi, seq, o, &leg);
            let ex = self
                .executions
                .get_mut(&id)
                .expect("the execution is registered");
            ex.summary.legs.push(leg);
        }
        Ok(())
    }

    /// Record an order's outcome as execution left it.
    pub(super) fn order_event(&mut self, bi: usize, seq: i64, o: &NewOrder, leg: &LegReport) {
        let order = EventKind::Order {
            seq,
            client_id: o.client_id.clone(),
            asset: o.base.clone(),
            side: o.side,
            quantity: o.quantity,
            filled_quantity: leg.filled_quantity,
            outcome: leg.outcome.clone(),
        };
        self.record(bi, order);
    }

    /// Close an execution whose orders have all been answered: the summary's status and
    /// figures, the bot's state, and the rebalance record (left open while an order's outcome
    /// is unknown: reconciliation closes it).
    async fn finish_execution(&mut self, bi: usize, ex: Execution) -> BotResult<RebalanceSummary> {
        let Execution {
            rb_id,
            seq,
            now,
            goal,
            mut summary,
            aborted,
            halted,
            ..
        } = ex;
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
        let from = self.engine.bots[bi].state.status.word();
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
        // An open breaker, or a halt met on the way (the instrument is taken as halted until the
        // statuses are read again), suspends the bot now rather than on the next tick.
        if let Some((reason, breaker)) = bot.suspend_cause(&self.engine.market, now)
            && (breaker || halted)
            && matches!(bot.state.status, BotStatus::Running)
        {
            bot.state.status = BotStatus::Suspended {
                reason,
                since_ms: now,
                breaker,
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
            let finished = EventKind::RebalanceFinished {
                seq,
                kind: summary.kind.clone(),
                reason: summary.reason.clone(),
                status: summary.status.clone(),
                fees: summary.fees,
            };
            self.record(bi, finished);
        }
        self.state_changed(bi, from);
        Ok(summary)
    }
}
