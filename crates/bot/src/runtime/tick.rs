//! The tick: prices in, the placement answers that have arrived recorded, the engine's
//! decisions acted on (deploy, suspend, resume, risk stop, rebalance, reconcile, finish a stop),
//! instrument statuses refreshed and snapshots written when due. A deploy, rebalance or
//! reconciliation is only started here ([`super::execute`], [`super::load`]): the tick never
//! waits for a venue's answer about an order.

use super::{BotError, BotResult, Runtime};
use crate::config::{BotStatus, StopMode};
use crate::engine::Decision;
use crate::views::TickReport;
use rust_decimal::Decimal;
use smartfolio_exchange::PriceTick;

impl Runtime {
    /// Take a tick's prices without deciding anything.
    pub fn observe_prices(&mut self, tick: &PriceTick) {
        self.engine.market.update(tick);
    }

    /// Drive every bot from a tick (its time is market time): suspend checks, risk, trigger,
    /// then plan and execution for the few bots that act, and snapshots when due. A bot whose
    /// rebalance is still being executed decides nothing; the rebalances started here are
    /// counted in the report and end as their orders' answers arrive
    /// ([`Runtime::advance_executions`]).
    pub async fn on_tick(&mut self, tick: &PriceTick) -> BotResult<TickReport> {
        let now = tick.time_ms;
        self.engine.market.update(tick);
        self.advance_executions().await?;
        if now >= self.next_instrument_refresh_ms {
            match self.refresh_instruments().await {
                Ok(()) => self.apply_instrument_status(),
                Err(e) => tracing::warn!("instrument refresh failed: {e}"),
            }
            self.next_instrument_refresh_ms = now + self.instrument_refresh_ms;
        }
        let mut report = TickReport {
            time_ms: now,
            ..Default::default()
        };
        let decisions = self.engine.decide(now);
        report.bots = self.engine.bots.len();
        for (bi, d) in decisions {
            if self.busy(self.engine.bots[bi].id) {
                continue;
            }
            if let Err(e) = self.act(bi, d, now, &mut report).await {
                match e {
                    BotError::Store(e) => return Err(BotError::Store(e)),
                    other => tracing::warn!(bot = self.engine.bots[bi].id, "{other}"),
                }
            }
        }
        let mut snaps = Vec::new();
        for b in &mut self.engine.bots {
            if !matches!(
                b.state.status,
                BotStatus::Running | BotStatus::Suspended { .. } | BotStatus::Paused
            ) || now < b.next_snapshot_ms
            {
                continue;
            }
            let iv = b.config.snapshot_interval_ms;
            b.next_snapshot_ms = (now.div_euclid(iv) + 1) * iv;
            let Some(value) = b.value_exact(&self.engine.market) else {
                continue;
            };
            let mut hold = Decimal::ZERO;
            for (a, q) in &b.state.hold {
                hold += *q
                    * if *a == b.config.quote {
                        Decimal::ONE
                    } else {
                        self.engine.market.price_of(a).unwrap_or_default()
                    };
            }
            snaps.push(smartfolio_store::Snapshot {
                bot_id: b.id,
                time_ms: now,
                value,
                net_invested: b.net_invested,
                hold_value: hold,
            });
        }
        if !snaps.is_empty() {
            report.snapshots = snaps.len();
            self.store.insert_snapshots(&snaps).await?;
        }
        Ok(report)
    }

    async fn act(
        &mut self,
        bi: usize,
        d: Decision,
        now: i64,
        report: &mut TickReport,
    ) -> BotResult<()> {
        let id = self.engine.bots[bi].id;
        match d {
            Decision::Deploy => {
                self.deploy_with(id, false).await?;
                report.deployed += 1;
            }
            Decision::Suspend { reason, breaker } => {
                tracing::info!(bot = id, "suspended: {reason}");
                let from = self.engine.bots[bi].state.status.word();
                self.engine.bots[bi].state.status = BotStatus::Suspended {
                    reason,
                    since_ms: now,
                    breaker,
                };
                self.save(bi).await?;
                self.state_changed(bi, from);
                report.suspended += 1;
            }
            Decision::Resume => {
                let from = self.engine.bots[bi].state.status.word();
                let bot = &mut self.engine.bots[bi];
                if let BotStatus::Suspended { breaker: true, .. } = bot.state.status {
                    // Half-open: one more failure opens the breaker again.
                    bot.state.consecutive_failures = bot.config.breaker_failures.saturating_sub(1);
                }
                bot.state.status = BotStatus::Running;
                self.save(bi).await?;
                self.state_changed(bi, from);
                report.resumed += 1;
            }
            Decision::Risk(verdict) => {
                let reason = verdict.to_string();
                tracing::info!(bot = id, "{reason}: selling to quote and stopping");
                self.stop_from_tick(id, StopMode::SellAll, &reason).await?;
                report.stopped += 1;
            }
            Decision::Rebalance(reason) => {
                if let Some(until) = self.io.held_back_until(now) {
                    // The venue's rate limit holds every order back for longer than a placement
                    // waits: nothing would be sent. The rebalance is kept for when it lifts.
                    let bot = &mut self.engine.bots[bi];
                    if bot.state.pending_rebalance.as_deref() != Some(reason.as_str()) {
                        tracing::info!(
                            bot = id,
                            "rebalance ({reason}) held back: the venue rate-limited orders until {until} (ms)"
                        );
                        bot.state.pending_rebalance = Some(reason);
                        self.save(bi).await?;
                    }
                    return Ok(());
                }
                if self
                    .plan_and_execute(bi, "rebalance", reason, now, false)
                    .await?
                    .is_some()
                {
                    report.rebalanced += 1;
                }
            }
            Decision::Reconcile => {
                self.start_reconcile(id).await?;
            }
            Decision::FinishStop => {
                self.finish_stop_with(bi, now, false).await?;
                report.stopped += 1;
            }
        }
        Ok(())
    }
}
