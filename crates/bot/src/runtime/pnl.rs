//! Views of the bots: summaries, one bot in detail with its P&L (total, today's, against
//! holding), the fees it paid, and the isolation check of the account's ledgers.
//!
//! Reads only: never writes to the store and never sends an order.

use super::{BotResult, Runtime};
use crate::config::BotStatus;
use crate::views::{BotSummary, BotView, HoldingView, IsolationLine, IsolationReport, PnlView};
use rust_decimal::Decimal;
use smartfolio_store::{BotId, PageQuery};
use std::collections::BTreeMap;

impl Runtime {
    /// A fill's fee valued in its quote: as is in the quote, at the fill's `price` in the base,
    /// and in a third asset (BNB, OKB, GT) at that asset's price: the market's, else the
    /// venue's ticker. An unpriced third asset (Gate POINT) counts 0, with a warning.
    pub(super) async fn fee_value(
        &self,
        fill_id: &str,
        fee: Decimal,
        fee_asset: &str,
        base: &str,
        quote: &str,
        price: Decimal,
    ) -> Decimal {
        if fee.is_zero() || fee_asset == quote {
            return fee;
        }
        if fee_asset == base {
            return fee * price;
        }
        let third = match self.price(fee_asset, quote) {
            Ok(p) => Some(p),
            Err(_) => self
                .exchange
                .tickers(&[fee_asset.to_string()], quote)
                .await
                .ok()
                .and_then(|t| t.first().map(|t| t.last)),
        };
        match third {
            Some(p) => fee * p,
            None => {
                tracing::warn!(
                    fill = fill_id,
                    "fee of {fee} {fee_asset} has no price in {quote}: counted as 0"
                );
                Decimal::ZERO
            }
        }
    }

    pub(super) async fn fees_paid(&self, id: BotId) -> BotResult<Decimal> {
        let mut total = Decimal::ZERO;
        for f in self.store.fills(id).await? {
            total += self
                .fee_value(&f.fill_id, f.fee, &f.fee_asset, &f.base, &f.quote, f.price)
                .await;
        }
        Ok(total)
    }

    pub(super) fn hold_value(&self, bi: usize) -> Option<Decimal> {
        let b = &self.engine.bots[bi];
        let mut v = Decimal::ZERO;
        for (a, q) in &b.state.hold {
            v += *q * self.price(a, &b.config.quote).ok()?;
        }
        Some(v)
    }

    pub(super) fn weights(&self, bi: usize) -> (Decimal, Vec<(String, Decimal)>) {
        let b = &self.engine.bots[bi];
        let v = b.value_exact(&self.engine.market).unwrap_or_default();
        let w = b
            .holdings
            .iter()
            .filter(|(_, q)| !q.is_zero())
            .map(|(a, q)| {
                let p = self.price(a, &b.config.quote).unwrap_or_default();
                (
                    a.clone(),
                    if v > Decimal::ZERO {
                        (*q * p / v).round_dp(8)
                    } else {
                        Decimal::ZERO
                    },
                )
            })
            .collect();
        (v, w)
    }

    fn summary(&self, bi: usize) -> BotSummary {
        let b = &self.engine.bots[bi];
        let value = b.value_exact(&self.engine.market);
        let reason = match &b.state.status {
            BotStatus::Suspended { reason, .. } => Some(reason.clone()),
            BotStatus::Stopped { report } => Some(report.reason.clone()),
            BotStatus::Stopping { reason, .. } => Some(reason.clone()),
            _ => b.state.idle.clone(),
        };
        let mut valued_at_ms = None;
        let (value, pnl) = match (&b.state.status, value, self.stored_values.get(&b.id)) {
            (BotStatus::Stopped { report }, _, _) => (Some(report.final_value), Some(report.pnl)),
            (_, Some(v), _) => (Some(v), Some(v - b.net_invested)),
            // No market (a reader of the store): the latest stored snapshot, and says so.
            (_, None, Some(s)) => {
                valued_at_ms = Some(s.time_ms);
                (Some(s.value), Some(s.value - s.net_invested))
            }
            (_, None, None) => (None, None),
        };
        BotSummary {
            id: b.id,
            name: b.config.name.clone(),
            status: b.state.status.word().into(),
            reason,
            venue: b.config.venue.clone(),
            account: b.config.account.clone(),
            quote: b.config.quote.clone(),
            targets: b.config.targets.clone(),
            trigger: b.config.trigger.to_string(),
            value,
            net_invested: b.net_invested,
            pnl,
            valued_at_ms,
        }
    }

    /// One bot's summary (what [`Runtime::list`] shows of it).
    pub fn summary_of(&self, id: BotId) -> BotResult<BotSummary> {
        Ok(self.summary(self.idx(id)?))
    }

    /// Every bot of this venue and account.
    pub fn list(&self) -> Vec<BotSummary> {
        (0..self.engine.bots.len())
            .map(|i| self.summary(i))
            .collect()
    }

    /// One bot in detail: holdings against targets and P&L at the last prices.
    pub async fn show(&self, id: BotId) -> BotResult<BotView> {
        let bi = self.idx(id)?;
        let b = &self.engine.bots[bi];
        let quote = &b.config.quote;
        let value = b.value_exact(&self.engine.market);
        let mut assets: Vec<String> = b.targets.assets().to_vec();
        for a in b.holdings.keys() {
            if !assets.contains(a) {
                assets.push(a.clone());
            }
        }
        let hundred = Decimal::ONE_HUNDRED;
        let holdings = assets
            .iter()
            .map(|a| {
                let q = b.holdings.get(a).copied().unwrap_or_default();
                let p = self.price(a, quote).ok();
                let v = p.map(|p| q * p);
                let w = match (v, value) {
                    (Some(v), Some(tv)) if tv > Decimal::ZERO => Some(v / tv * hundred),
                    _ => None,
                };
                let t = b.targets.weight_of(a).unwrap_or_default() * hundred;
                HoldingView {
                    asset: a.clone(),
                    quantity: q,
                    price: p,
                    value: v.map(|v| v.round_dp(8)),
                    weight_pct: w.map(|w| w.round_dp(6)),
                    target_pct: t,
                    deviation_pp: w.map(|w| (w - t).round_dp(6)),
                }
            })
            .collect();
        let pnl = match value {
            Some(v) => {
                let hold = self.hold_value(bi).unwrap_or_default();
                let today = self.today_pnl(id, v).await?;
                Some(PnlView {
                    value: v,
                    net_invested: b.net_invested,
                    total: v - b.net_invested,
                    total_pct: smartfolio_core::risk::pnl_pct(v, b.net_invested)
                        .map(|x| x.round_dp(6)),
                    today,
                    hold_value: hold,
                    rebalancing_gain: v - hold,
                })
            }
            // No market (a reader of the store): the latest stored snapshot's P&L (the
            // summary's `valued_at_ms` says when), nothing of today.
            None => self.stored_values.get(&id).map(|s| PnlView {
                value: s.value,
                net_invested: s.net_invested,
                total: s.value - s.net_invested,
                total_pct: smartfolio_core::risk::pnl_pct(s.value, s.net_invested)
                    .map(|x| x.round_dp(6)),
                today: None,
                hold_value: s.hold_value,
                rebalancing_gain: s.value - s.hold_value,
            }),
        };
        // The count only (a page of none): the summary costs the same after 10 or 10,000.
        let rebalances = self
            .store
            .rebalance_page(id, &PageQuery::default())
            .await?
            .total;
        let rebalances = usize::try_from(rebalances).unwrap_or(usize::MAX);
        Ok(BotView {
            summary: self.summary(bi),
            config: b.config.clone(),
            holdings,
            pnl,
            last_rebalance_ms: b.state.last_rebalance_ms,
            rebalances,
            consecutive_failures: b.state.consecutive_failures,
            stop_report: match &b.state.status {
                BotStatus::Stopped { report } => Some((**report).clone()),
                _ => None,
            },
        })
    }

    /// Today's P&L: value now minus the value at 00:00 UTC (the last snapshot at or before it,
    /// else the first of the day), net of the day's flows.
    async fn today_pnl(&self, id: BotId, value: Decimal) -> BotResult<Option<Decimal>> {
        let now = self.clock.now_ms();
        let day = now.div_euclid(86_400_000) * 86_400_000;
        // Two indexed look-ups, not the whole value history.
        let start = match self.store.snapshot_at_or_before(id, day).await? {
            Some(s) => Some(s),
            None => self
                .store
                .snapshot_after(id, day)
                .await?
                .filter(|s| s.time_ms <= now),
        };
        let Some(start) = start else {
            return Ok(None);
        };
        // The flows since, by page: what the day moved, never the bot's every flow.
        let mut flows = Decimal::ZERO;
        let mut page = PageQuery {
            limit: 500,
            before: None,
            from_ms: Some(start.time_ms.saturating_add(1)),
            to_ms: Some(now.saturating_add(1)),
        };
        loop {
            let p = self.store.flow_page(id, &page).await?;
            for f in &p.items {
                if f.kind == "deposit" {
                    flows += f.value;
                } else {
                    flows -= f.value;
                }
            }
            match p.next {
                Some(next) => page.before = Some(next),
                None => break,
            }
        }
        Ok(Some(value - start.value - flows))
    }

    /// Prove `Σ ledgers ≤ account` per asset for the bots of this account.
    pub async fn check_isolation(&self) -> BotResult<IsolationReport> {
        let balances = self.exchange.balances().await?;
        let ours: std::collections::HashSet<BotId> =
            self.engine.bots.iter().map(|b| b.id).collect();
        let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
        for (bot, asset, v) in self.store.all_balances().await? {
            if ours.contains(&bot) {
                *sums.entry(asset).or_default() += v;
            }
        }
        let mut lines = Vec::new();
        for (asset, ledgers) in sums {
            let account: Decimal = balances
                .iter()
                .filter(|b| b.asset == asset)
                .map(|b| b.total())
                .sum();
            lines.push(IsolationLine {
                ok: ledgers <= account && ledgers >= Decimal::ZERO,
                asset,
                account,
                ledgers,
            });
        }
        Ok(IsolationReport {
            ok: lines.iter().all(|l| l.ok),
            lines,
        })
    }
}
