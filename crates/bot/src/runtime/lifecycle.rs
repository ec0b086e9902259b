//! The commands that change a bot: create, deploy, invest, withdraw, modify, rebalance now,
//! pause, resume and stop (with its final report). Each runs its admission checks ([`super::admit`]) first, writes
//! its state change in one store transaction, and restores the bot in memory when that write
//! fails. A stop the tick decides only starts its sells ([`Runtime::close_stop`] ends it when
//! they have ended).

use super::legs::{PlannedLeg, sell_all_legs};
use super::{BotError, BotResult, Runtime, Shortfall, config_json, state_json};
use crate::config::{BotConfig, BotState, BotStatus, CoinAmount, StopMode, StopReport};
use crate::engine::LiveBot;
use crate::events::EventKind;
use crate::views::{BotView, LegReport, RebalanceNowView, RebalanceSummary, WithdrawView};
use rust_decimal::Decimal;
use smartfolio_core::{Side, Trigger};
use smartfolio_store::{BotId, BotUpdate, FlowItem, FlowKind, NewBot, NewFlow};
use std::collections::BTreeMap;

/// The stored plan of a stop's sells.
pub(super) const STOP_PLAN: &str = "{\"sell_all\":true}";

impl Runtime {
    /// Create a bot: validated, funded from the account's unallocated balances, stored with
    /// its deposit in one transaction. It deploys on the next tick (or [`Runtime::deploy`]).
    pub async fn create(&mut self, mut config: BotConfig) -> BotResult<BotId> {
        self.price_create(&config).await?;
        let (targets, items) = self.admit_create(&mut config).await?;
        let quote = config.quote.clone();
        let now = self.clock.now_ms();
        let state = BotState::new(now);
        let id = self
            .store
            .create_bot(&NewBot {
                name: config.name.clone(),
                venue: config.venue.clone(),
                account: config.account.clone(),
                quote: quote.clone(),
                status: state.status.word().into(),
                config: config_json(&config),
                state: state_json(&state),
                time_ms: now,
                deposit: items.clone(),
            })
            .await?;
        let holdings: BTreeMap<String, Decimal> =
            items.iter().map(|i| (i.asset.clone(), i.amount)).collect();
        let net: Decimal = items.iter().map(|i| i.value).sum();
        self.names.insert(config.name.clone(), id);
        let name = config.name.clone();
        let bot = LiveBot::new(
            id,
            config,
            targets,
            state,
            holdings,
            net,
            &mut self.engine.market,
        );
        let bi = self.engine.add(bot);
        self.apply_instrument_status();
        self.record(bi, EventKind::Created { name });
        Ok(id)
    }

    /// Make the initial buys of a created bot now (at the last prices).
    pub async fn deploy(&mut self, id: BotId) -> BotResult<Option<RebalanceSummary>> {
        self.deploy_with(id, true).await
    }

    /// [`Self::deploy`]; without `wait` (a tick) the buys are only started.
    pub(super) async fn deploy_with(
        &mut self,
        id: BotId,
        wait: bool,
    ) -> BotResult<Option<RebalanceSummary>> {
        let bi = self.idx(id)?;
        if !matches!(self.engine.bots[bi].state.status, BotStatus::Created) {
            return Err(self.wrong_state(bi, "deploy (only a created bot deploys)"));
        }
        let assets = self.engine.bots[bi].targets.assets().to_vec();
        let quote = self.engine.bots[bi].config.quote.clone();
        self.ensure_prices(&assets, &quote).await?;
        self.engine.bots[bi].state.status = BotStatus::Deploying;
        self.state_changed(bi, "created");
        let now = self.clock.now_ms();
        let out = self
            .plan_and_execute(bi, "deploy", "initial allocation".into(), now, wait)
            .await?;
        let bot = &mut self.engine.bots[bi];
        if matches!(bot.state.status, BotStatus::Deploying)
            && !bot.unresolved
            && !self.executions.contains_key(&id)
        {
            bot.state.status = BotStatus::Running;
            bot.state.hold = bot.holdings.iter().map(|(a, q)| (a.clone(), *q)).collect();
            self.save(bi).await?;
            self.state_changed(bi, "deploying");
        }
        Ok(out)
    }

    /// Bring more quote and/or coins into a bot; a running bot then rebalances.
    pub async fn invest(
        &mut self,
        id: BotId,
        quote_amount: Decimal,
        coins: Vec<CoinAmount>,
    ) -> BotResult<Option<RebalanceSummary>> {
        let bi = self.idx(id)?;
        self.end_execution(id).await?;
        self.price_invest(id, quote_amount, &coins).await?;
        let (_, items) = self.admit_invest(bi, quote_amount, &coins).await?;
        let value: Decimal = items.iter().map(|i| i.value).sum();
        let now = self.clock.now_ms();
        let hold_before = self.hold_value(bi);
        let bot = &mut self.engine.bots[bi];
        let old_state = bot.state.clone();
        if let Some(hv) = hold_before
            && hv > Decimal::ZERO
        {
            let k = Decimal::ONE + value / hv;
            for (_, q) in bot.state.hold.iter_mut() {
                *q *= k;
            }
        }
        if matches!(
            bot.state.status,
            BotStatus::Paused | BotStatus::Suspended { .. }
        ) {
            bot.state.pending_rebalance = Some("invest".into());
        }
        let upd = self.bot_update(bi, None);
        let res = self
            .store
            .record_flow(&NewFlow {
                bot_id: id,
                kind: FlowKind::Deposit,
                items: items.clone(),
                time_ms: now,
                bot: Some(upd),
            })
            .await;
        let bot = &mut self.engine.bots[bi];
        if let Err(e) = res {
            bot.state = old_state;
            return Err(e.into());
        }
        for i in &items {
            *bot.holdings.entry(i.asset.clone()).or_default() += i.amount;
        }
        bot.net_invested += value;
        bot.rebuild(&mut self.engine.market);
        if matches!(self.engine.bots[bi].state.status, BotStatus::Running) {
            return self
                .plan_and_execute(
                    bi,
                    "invest",
                    format!("invest {value} {}", self.engine.bots[bi].config.quote),
                    now,
                    true,
                )
                .await;
        }
        Ok(None)
    }

    /// Take `amount` of quote out of a bot: selling pro rata (`from_overweights = false`) or
    /// from the assets above their targets first. The quote leaves the bot's ledger and becomes
    /// unallocated on the account.
    ///
    /// Either the whole amount leaves the bot, or: refused before anything trades
    /// ([`BotError::OverWithdrawal`]), or, when the venue under-delivers once trading started,
    /// what was raised leaves the bot, the sells' record is `partial`, and the answer is
    /// [`BotError::WithdrawShortfall`] (never a success).
    pub async fn withdraw(
        &mut self,
        id: BotId,
        amount: Decimal,
        from_overweights: bool,
    ) -> BotResult<WithdrawView> {
        let bi = self.idx(id)?;
        self.end_execution(id).await?;
        self.price_withdraw(id, amount).await?;
        let (value, w) = self.admit_withdraw(bi, amount, from_overweights)?;
        let quote = self.engine.bots[bi].config.quote.clone();
        let now = self.clock.now_ms();
        let mut summary = None;
        if !w.sells.is_empty() {
            let legs = w
                .sells
                .iter()
                .map(|s| PlannedLeg {
                    asset: s.asset.clone(),
                    side: Side::Sell,
                    quantity: s.quantity,
                    price: s.price,
                })
                .collect();
            let skipped = w
                .skipped
                .iter()
                .map(|s| LegReport {
                    asset: s.asset.clone(),
                    side: Side::Sell.as_str().into(),
                    planned_quantity: s.quantity,
                    filled_quantity: Decimal::ZERO,
                    outcome: "skipped".into(),
                    detail: s.reason.clone(),
                    client_id: None,
                    fees: Decimal::ZERO,
                    execution: None,
                })
                .collect();
            let plan_json = serde_json::json!({
                "value": value.to_string(),
                "withdraw": amount.to_string(),
                "from_overweights": from_overweights,
                "sells": w.sells.iter().map(|s| serde_json::json!({
                    "asset": s.asset, "quantity": s.quantity.to_string(), "reason": s.reason,
                })).collect::<Vec<_>>(),
                "skipped": w.skipped.iter().map(|s| serde_json::json!({
                    "asset": s.asset, "reason": s.reason,
                })).collect::<Vec<_>>(),
            });
            summary = Some(
                self.execute_with(
                    bi,
                    "withdraw",
                    format!("withdraw {amount} {quote}"),
                    legs,
                    skipped,
                    plan_json.to_string(),
                    now,
                    Some(amount),
                )
                .await?,
            );
        }
        let cash = self.engine.bots[bi].cash();
        let withdrawn = amount.min(cash).max(Decimal::ZERO);
        if withdrawn > Decimal::ZERO {
            let hv = self.hold_value(bi);
            let bot = &mut self.engine.bots[bi];
            let old = bot.state.clone();
            if let Some(hv) = hv
                && hv > Decimal::ZERO
            {
                let k = (Decimal::ONE - withdrawn / hv).max(Decimal::ZERO);
                for (_, q) in bot.state.hold.iter_mut() {
                    *q *= k;
                }
            }
            let upd = self.bot_update(bi, None);
            let res = self
                .store
                .record_flow(&NewFlow {
                    bot_id: id,
                    kind: FlowKind::Withdraw,
                    items: vec![FlowItem {
                        asset: quote.clone(),
                        amount: withdrawn,
                        value: withdrawn,
                        basis: None,
                    }],
                    time_ms: now,
                    bot: Some(upd),
                })
                .await;
            let bot = &mut self.engine.bots[bi];
            if let Err(e) = res {
                bot.state = old;
                return Err(e.into());
            }
            *bot.holdings.entry(quote.clone()).or_default() -= withdrawn;
            bot.net_invested -= withdrawn;
            bot.rebuild(&mut self.engine.market);
        }
        if withdrawn < amount {
            let detail = match &summary {
                Some(s) => {
                    let short: Vec<String> = s
                        .legs
                        .iter()
                        .filter(|l| l.client_id.is_some() && l.outcome != "filled")
                        .map(|l| format!("the {} sell {} ({})", l.asset, l.outcome, l.detail))
                        .collect();
                    if short.is_empty() {
                        format!(
                            "the sells filled but raised {} {quote} less than planned (prices \
                             moved beyond the price margin)",
                            (amount - withdrawn).round_dp(8).normalize()
                        )
                    } else {
                        short.join("; ")
                    }
                }
                None => "the bot's cash changed before the withdrawal".into(),
            };
            return Err(BotError::WithdrawShortfall(Box::new(Shortfall {
                name: self.engine.bots[bi].config.name.clone(),
                requested: amount,
                withdrawn,
                quote,
                detail,
            })));
        }
        Ok(WithdrawView {
            requested: amount,
            withdrawn,
            rebalance: summary,
        })
    }

    /// Change targets (and so assets), trigger or cooldown of a bot that is not stopped. Nothing
    /// is traded now: the next plan uses the new targets.
    pub async fn modify(
        &mut self,
        id: BotId,
        targets: Option<&str>,
        trigger: Option<Trigger>,
        cooldown_ms: Option<i64>,
    ) -> BotResult<BotView> {
        let bi = self.idx(id)?;
        let (cfg, new_targets) = self.modified_config(bi, targets, trigger, cooldown_ms)?;
        let now = self.clock.now_ms();
        let bot = &self.engine.bots[bi];
        self.store
            .update_bot(&BotUpdate {
                id,
                status: bot.state.status.word().into(),
                state: state_json(&bot.state),
                config: Some(config_json(&cfg)),
                time_ms: now,
            })
            .await?;
        let bot = &mut self.engine.bots[bi];
        bot.config = cfg;
        bot.targets = new_targets;
        bot.rebuild(&mut self.engine.market);
        self.apply_instrument_status();
        self.show(id).await
    }

    /// Rebalance a running bot now, whatever its trigger says; inside its cooldown only with
    /// `force`. When the plan can send no order nothing is written (no rebalance row, the
    /// cooldown is not restarted) and the view says why.
    /// A rebalance under way (started by a tick) ends first; its cooldown then applies.
    pub async fn rebalance_now(&mut self, id: BotId, force: bool) -> BotResult<RebalanceNowView> {
        self.end_execution(id).await?;
        self.price_rebalance(id, force).await?;
        let bi = self.idx(id)?;
        let b = &self.engine.bots[bi];
        let p = self.plan_for(&b.config, &b.state, &self.portfolio_of(bi)?)?;
        if let Some(why) = self.why_nothing(bi, &p) {
            return Ok(RebalanceNowView {
                rebalance: None,
                note: Some(why),
            });
        }
        let reason = if force {
            "rebalance now (forced through the cooldown)"
        } else {
            "rebalance now"
        };
        let now = self.clock.now_ms();
        let rebalance = self
            .plan_and_execute(bi, "rebalance", reason.into(), now, true)
            .await?;
        let note = match rebalance {
            Some(_) => None,
            None => Some(
                self.engine.bots[bi]
                    .state
                    .idle
                    .clone()
                    .unwrap_or_else(|| "nothing to trade".into()),
            ),
        };
        Ok(RebalanceNowView { rebalance, note })
    }

    /// Pause a running or suspended bot.
    pub async fn pause(&mut self, id: BotId) -> BotResult<()> {
        let bi = self.idx(id)?;
        self.check_pause(bi)?;
        let old = self.engine.bots[bi].state.status.clone();
        self.engine.bots[bi].state.status = BotStatus::Paused;
        if let Err(e) = self.save(bi).await {
            self.engine.bots[bi].state.status = old;
            return Err(e);
        }
        self.state_changed(bi, old.word());
        Ok(())
    }

    /// Resume a paused or suspended bot (this also resets the circuit breaker and lifts a
    /// reconciliation hold: the user has looked at the account).
    pub async fn resume(&mut self, id: BotId) -> BotResult<()> {
        let bi = self.idx(id)?;
        self.check_resume(bi)?;
        let old = self.engine.bots[bi].state.clone();
        let bot = &mut self.engine.bots[bi];
        bot.state.status = if bot.state.hold.is_empty() && bot.state.next_seq == 1 {
            BotStatus::Created
        } else {
            BotStatus::Running
        };
        bot.state.consecutive_failures = 0;
        bot.state.held = None;
        if let Err(e) = self.save(bi).await {
            self.engine.bots[bi].state = old;
            return Err(e);
        }
        self.state_changed(bi, old.status.word());
        Ok(())
    }

    /// Stop a bot: sell everything to quote or keep the coins; either way its ledger is closed
    /// and its holdings released to the account. Returns the final report.
    pub async fn stop(&mut self, id: BotId, mode: StopMode, reason: &str) -> BotResult<StopReport> {
        self.end_execution(id).await?;
        let (bi, now) = self.begin_stop(id, mode, reason).await?;
        self.finish_stop(bi, now).await
    }

    /// A stop the tick decided (a risk limit): its sells are only started, and the stop is
    /// closed when they have ended ([`super::execute`]).
    pub(super) async fn stop_from_tick(
        &mut self,
        id: BotId,
        mode: StopMode,
        reason: &str,
    ) -> BotResult<()> {
        let (bi, now) = self.begin_stop(id, mode, reason).await?;
        self.finish_stop_with(bi, now, false).await.map(|_| ())
    }

    /// Mark the bot stopping (stored), after the stop's checks.
    async fn begin_stop(
        &mut self,
        id: BotId,
        mode: StopMode,
        reason: &str,
    ) -> BotResult<(usize, i64)> {
        let bi = self.idx(id)?;
        self.check_stop(bi)?;
        let now = self.clock.now_ms();
        let from = self.engine.bots[bi].state.status.word();
        self.engine.bots[bi].state.status = BotStatus::Stopping {
            mode,
            reason: reason.to_string(),
        };
        self.save(bi).await?;
        self.state_changed(bi, from);
        Ok((bi, now))
    }

    pub(super) async fn finish_stop(&mut self, bi: usize, now: i64) -> BotResult<StopReport> {
        match self.finish_stop_with(bi, now, true).await? {
            Some(report) => Ok(report),
            None => Err(self.wrong_state(bi, "finish the stop: its sells are under way")),
        }
    }

    /// Sell everything (in `SellAll` mode) and close the stop. Without `wait` (a tick) the sells
    /// are only started, the answer is None, and the execution closes the stop when they end.
    pub(super) async fn finish_stop_with(
        &mut self,
        bi: usize,
        now: i64,
        wait: bool,
    ) -> BotResult<Option<StopReport>> {
        let (mode, reason) = match &self.engine.bots[bi].state.status {
            BotStatus::Stopping { mode, reason } => (*mode, reason.clone()),
            _ => return Err(self.wrong_state(bi, "finish a stop")),
        };
        let quote = self.engine.bots[bi].config.quote.clone();
        let assets: Vec<String> = self.engine.bots[bi].holdings.keys().cloned().collect();
        let mut unsold = Vec::new();
        let mut sells = None;
        if mode == StopMode::SellAll {
            self.ensure_prices(&assets, &quote).await?;
            let b = &self.engine.bots[bi];
            let (legs, kept) =
                sell_all_legs(&b.holdings, &quote, &self.rules, |a| self.price(a, &quote))?;
            unsold.extend(kept.into_iter().map(|k| (k.asset, k.quantity, k.reason)));
            if !legs.is_empty() && !wait {
                self.start_stop_sells(bi, reason, legs, unsold, now).await?;
                return Ok(None);
            }
            if !legs.is_empty() {
                sells = Some(
                    self.execute(bi, "stop", reason.clone(), legs, STOP_PLAN.into(), now)
                        .await?,
                );
            }
        }
        self.close_stop(bi, now, unsold, sells.as_ref())
            .await
            .map(Some)
    }

    /// Close a stop whose sells (`sells`, if it had any) have ended: what did not sell is
    /// reported unsold, and the ledger is closed with the final report. While a sell's outcome
    /// is unknown the stop stays open: it completes after reconciliation.
    pub(super) async fn close_stop(
        &mut self,
        bi: usize,
        now: i64,
        mut unsold: Vec<(String, Decimal, String)>,
        sells: Option<&RebalanceSummary>,
    ) -> BotResult<StopReport> {
        let (mode, reason) = match &self.engine.bots[bi].state.status {
            BotStatus::Stopping { mode, reason } => (*mode, reason.clone()),
            _ => return Err(self.wrong_state(bi, "finish a stop")),
        };
        if let Some(s) = sells {
            for l in &s.legs {
                if l.outcome != "filled" {
                    unsold.push((
                        l.asset.clone(),
                        l.planned_quantity - l.filled_quantity,
                        l.detail.clone(),
                    ));
                }
            }
            if self.engine.bots[bi].unresolved {
                return Err(BotError::WrongState {
                    name: self.engine.bots[bi].config.name.clone(),
                    status: "stopping".into(),
                    action: "finish the stop while a sell's outcome is unknown; it completes after reconciliation".into(),
                });
            }
        }
        let final_value = self.engine.bots[bi]
            .value_exact(&self.engine.market)
            .unwrap_or_else(|| self.engine.bots[bi].cash());
        let fees = self.fees_paid(self.engine.bots[bi].id).await?;
        let rebalances = self.store.rebalances(self.engine.bots[bi].id).await?.len();
        let bot = &self.engine.bots[bi];
        let ni = bot.net_invested;
        let mut report = StopReport {
            time_ms: now,
            reason,
            mode,
            final_value,
            net_invested: ni,
            pnl: final_value - ni,
            pnl_pct: smartfolio_core::risk::pnl_pct(final_value, ni),
            fees_paid: fees,
            rebalances,
            released: bot
                .holdings
                .iter()
                .filter(|(_, q)| !q.is_zero())
                .map(|(a, q)| (a.clone(), *q))
                .collect(),
            unsold,
        };
        let mut state = bot.state.clone();
        state.status = BotStatus::Stopped {
            report: Box::new(report.clone()),
        };
        let released = self
            .store
            .close_ledger(&BotUpdate {
                id: bot.id,
                status: "stopped".into(),
                state: state_json(&state),
                config: None,
                time_ms: now,
            })
            .await?;
        report.released = released;
        let bot = &mut self.engine.bots[bi];
        bot.state = state;
        bot.holdings.clear();
        bot.rebuild(&mut self.engine.market);
        self.state_changed(bi, "stopping");
        Ok(report)
    }
}
