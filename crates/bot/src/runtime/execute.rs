//! Rebalance execution (steps 1 and 3 of the crash-safety protocol in the
//! [module documentation](super)): the rebalance and its sells are stored before any order is
//! sent, the buys are sized from the bot's own cash once the sells are done and stored before
//! they are sent, and the rebalance is closed with its summary.

use super::legs::{PlannedLeg, planned_legs, size_buys};
use super::{BotResult, Runtime};
use crate::config::BotStatus;
use crate::views::{LegReport, RebalanceSummary};
use rust_decimal::Decimal;
use smartfolio_core::Side;
use smartfolio_exchange::OrderKind;
use smartfolio_store::{NewOrder, NewRebalance};

impl Runtime {
    /// Plan from the ledger (SPEC §3) and execute. None when no order could be sent: nothing
    /// is recorded then, and the reason (if a leg was wanted) is kept in the bot's state and
    /// shown with its summary, logged once when it changes.
    pub(super) async fn plan_and_execute(
        &mut self,
        bi: usize,
        kind: &str,
        reason: String,
        now: i64,
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
            })
            .collect();
        let summary = self
            .execute_with(
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
        Ok(Some(summary))
    }

    fn client_id(&self, bi: usize, seq: i64, leg: usize) -> String {
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
    /// makes it `partial`.
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
        let (value_before, weights_before) = self.weights(bi);
        let quote = self.engine.bots[bi].config.quote.clone();
        let seq = self.engine.bots[bi].state.next_seq;
        let mut summary = RebalanceSummary {
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
        let mut leg_no = 0usize;
        let mut to_order = |l: &PlannedLeg, this: &Self| {
            let o = NewOrder {
                client_id: this.client_id(bi, seq, leg_no),
                leg: leg_no as i64,
                base: l.asset.clone(),
                quote: quote.clone(),
                side: l.side,
                quantity: l.quantity,
                kind: OrderKind::Market,
            };
            leg_no += 1;
            o
        };
        let sell_orders: Vec<NewOrder> = sells.iter().map(|l| to_order(l, self)).collect();
        let old_state = self.engine.bots[bi].state.clone();
        self.engine.bots[bi].state.next_seq += 1;
        let upd = self.bot_update(bi, None);
        let rb_id = match self
            .store
            .begin_rebalance(&NewRebalance {
                bot_id: self.engine.bots[bi].id,
                seq,
                kind: kind.into(),
                reason,
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
        let mut aborted = false;
        let mut unsent: Vec<NewOrder> = Vec::new();
        for (k, o) in sell_orders.iter().enumerate() {
            let leg = self.send_leg(bi, o, now).await?;
            let failed = matches!(leg.outcome.as_str(), "failed" | "unknown");
            summary.legs.push(leg);
            if failed {
                aborted = true;
                unsent.extend_from_slice(&sell_orders[k + 1..]);
                break;
            }
        }
        if !aborted && !buys.is_empty() {
            // Size the buys from the bot's own cash (never the account's).
            let b = &self.engine.bots[bi];
            let cash = b.cash().max(Decimal::ZERO);
            let cost_rate = b.config.price_margin + b.config.fee_rate;
            let (sized, dropped) = size_buys(&self.rules, cost_rate, cash, &buys);
            for (l, r) in dropped {
                summary.legs.push(LegReport {
                    asset: l.asset.clone(),
                    side: "buy".into(),
                    planned_quantity: l.quantity,
                    filled_quantity: Decimal::ZERO,
                    outcome: "skipped".into(),
                    detail: format!("sized to the bot's cash {}: {r}", cash.round_dp(8)),
                    client_id: None,
                    fees: Decimal::ZERO,
                });
            }
            let buy_orders: Vec<NewOrder> = sized.iter().map(|l| to_order(l, self)).collect();
            if !buy_orders.is_empty() {
                self.store.add_orders(rb_id, &buy_orders, now).await?;
            }
            for (k, o) in buy_orders.iter().enumerate() {
                let leg = self.send_leg(bi, o, now).await?;
                let failed = matches!(leg.outcome.as_str(), "failed" | "unknown");
                summary.legs.push(leg);
                if failed {
                    aborted = true;
                    unsent.extend_from_slice(&buy_orders[k + 1..]);
                    break;
                }
            }
        }
        // Stored orders that were never sent: say so now rather than on reconciliation.
        for o in &unsent {
            self.mark_not_sent(
                &o.client_id,
                "not sent: the rebalance stopped after a venue failure",
                now,
            )
            .await?;
            summary.legs.push(LegReport {
                asset: o.base.clone(),
                side: o.side.as_str().into(),
                planned_quantity: o.quantity,
                filled_quantity: Decimal::ZERO,
                outcome: "skipped".into(),
                detail: "not sent: the rebalance stopped after a venue failure".into(),
                client_id: Some(o.client_id.clone()),
                fees: Decimal::ZERO,
            });
        }
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
        if let Some((reason, true)) = bot.suspend_cause(&self.engine.market, now)
            && matches!(bot.state.status, BotStatus::Running)
        {
            bot.state.status = BotStatus::Suspended {
                reason,
                since_ms: now,
                breaker: true,
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
        }
        Ok(summary)
    }
}
