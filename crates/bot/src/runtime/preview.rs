//! Previews: what each command would do, computed with the same checks ([`super::admit`]) and
//! leg builders ([`super::legs`]) as the command itself.
//!
//! A preview takes `&self`: it stores nothing, sends no order and changes no state. It reads the
//! market's last prices; the caller fetches the ones it needs first, with the matching
//! `Runtime::price_*` ([`super::admit`]), as the action itself does.

use super::legs::{PlannedLeg, planned_legs, sell_all_legs, size_buys};
use super::{BotResult, Runtime};
use crate::config::{BotConfig, BotState, BotStatus, CoinAmount, StopMode};
use crate::views::{PlanPreview, PreviewLeg};
use rust_decimal::Decimal;
use smartfolio_core::{Plan, Side, Trigger};
use smartfolio_store::{BotId, FlowItem};
use std::collections::BTreeMap;

/// A leg with its fee estimate.
fn leg_preview(l: &PlannedLeg, fee_rate: Decimal, reason: &str) -> PreviewLeg {
    let notional = l.quantity * l.price;
    PreviewLeg {
        asset: l.asset.clone(),
        side: l.side.as_str().into(),
        quantity: l.quantity,
        price: l.price,
        notional,
        fee: notional * fee_rate,
        reason: reason.into(),
    }
}

fn no_trade(action: &str, summary: String, value: Option<Decimal>) -> PlanPreview {
    PlanPreview {
        action: action.into(),
        summary,
        value_before: value,
        value_after: value,
        fees: Decimal::ZERO,
        legs: vec![],
        skipped: vec![],
        notes: vec![],
    }
}

/// `1000 USDT + 0.5 ETH`.
fn items_text(items: &[FlowItem]) -> String {
    if items.is_empty() {
        return "nothing".into();
    }
    items
        .iter()
        .map(|i| format!("{} {}", i.amount.normalize(), i.asset))
        .collect::<Vec<_>>()
        .join(" + ")
}

impl Runtime {
    /// What [`Runtime::create`] then [`Runtime::deploy`] would do with `config`: its initial
    /// orders at the last prices.
    pub async fn preview_create(&self, config: &BotConfig) -> BotResult<PlanPreview> {
        let mut config = config.clone();
        let (targets, items) = self.admit_create(&mut config).await?;
        let holdings: BTreeMap<String, Decimal> =
            items.iter().map(|i| (i.asset.clone(), i.amount)).collect();
        let p = self.ledger_portfolio(&config.quote, &targets, &holdings)?;
        let state = BotState::new(self.clock.now_ms());
        let plan = self.plan_for(&config, &state, &p)?;
        let mut pv = self.plan_preview("create", &config, &plan);
        pv.summary = format!(
            "create bot `{}` with {}, targets {}, trigger {}: {}",
            config.name,
            items_text(&items),
            config.targets,
            config.trigger,
            pv.legs_text()
        );
        Ok(pv)
    }

    /// What [`Runtime::invest`] would do: the rebalance after the deposit (a bot that is not
    /// running trades it when it runs again).
    pub async fn preview_invest(
        &self,
        id: BotId,
        quote_amount: Decimal,
        coins: Vec<CoinAmount>,
    ) -> BotResult<PlanPreview> {
        let bi = self.idx(id)?;
        let (_, items) = self.admit_invest(bi, quote_amount, &coins).await?;
        let b = &self.engine.bots[bi];
        let mut holdings = b.holdings.clone();
        for i in &items {
            *holdings.entry(i.asset.clone()).or_default() += i.amount;
        }
        let p = self.ledger_portfolio(&b.config.quote, &b.targets, &holdings)?;
        let plan = self.plan_for(&b.config, &b.state, &p)?;
        let mut pv = self.plan_preview("invest", &b.config, &plan);
        let status = b.state.status.word();
        if !matches!(b.state.status, BotStatus::Running) {
            pv.notes.push(format!(
                "the bot is {status}: the {} join its ledger now, the trades wait until it runs",
                items_text(&items)
            ));
        }
        pv.summary = format!(
            "invest {} into `{}`, then rebalance: {}",
            items_text(&items),
            b.config.name,
            pv.legs_text()
        );
        Ok(pv)
    }

    /// What [`Runtime::withdraw`] would sell to pay `amount` of quote: exactly its sells, and
    /// every asset that does not sell with the reason.
    pub async fn preview_withdraw(
        &self,
        id: BotId,
        amount: Decimal,
        from_overweights: bool,
    ) -> BotResult<PlanPreview> {
        let bi = self.idx(id)?;
        let (value, w) = self.admit_withdraw(bi, amount, from_overweights)?;
        let b = &self.engine.bots[bi];
        let mode = if from_overweights {
            "sell from the assets above target first"
        } else {
            "sell pro rata"
        };
        let legs: Vec<PreviewLeg> = w
            .sells
            .iter()
            .map(|s| {
                let l = PlannedLeg {
                    asset: s.asset.clone(),
                    side: Side::Sell,
                    quantity: s.quantity,
                    price: s.price,
                };
                leg_preview(&l, b.config.fee_rate, &format!("{mode}: {}", s.reason))
            })
            .collect();
        let skipped = w
            .skipped
            .iter()
            .map(|s| PreviewLeg {
                asset: s.asset.clone(),
                side: Side::Sell.as_str().into(),
                quantity: s.quantity,
                price: s.price,
                notional: s.quantity * s.price,
                fee: Decimal::ZERO,
                reason: s.reason.clone(),
            })
            .collect();
        let fees: Decimal = legs.iter().map(|l| l.fee).sum();
        let mut pv = PlanPreview {
            action: "withdraw".into(),
            summary: String::new(),
            value_before: Some(value),
            value_after: Some(value - amount - fees),
            fees,
            legs,
            skipped,
            notes: vec![],
        };
        let cash = b.cash();
        let raised: Decimal = pv.legs.iter().map(|l| l.notional - l.fee).sum();
        if !pv.legs.is_empty() && cash + raised > amount {
            pv.notes.push(format!(
                "the sells raise about {} {} at the last prices; what is left after the {} \
                 withdrawn stays in the bot as cash",
                (cash.max(Decimal::ZERO) + raised).round_dp(8).normalize(),
                b.config.quote,
                amount.normalize()
            ));
        }
        pv.summary = format!(
            "withdraw {} {} from `{}`: {}",
            amount.normalize(),
            b.config.quote,
            b.config.name,
            if pv.legs.is_empty() {
                format!(
                    "paid from its cash ({} {}), no trade",
                    cash.round_dp(8).normalize(),
                    b.config.quote
                )
            } else {
                pv.legs_text()
            }
        );
        Ok(pv)
    }

    /// What [`Runtime::modify`] would change: nothing is traded by the modification; the legs
    /// are what the next rebalance would trade at the last prices.
    pub async fn preview_modify(
        &self,
        id: BotId,
        targets: Option<&str>,
        trigger: Option<Trigger>,
        cooldown_ms: Option<i64>,
    ) -> BotResult<PlanPreview> {
        let bi = self.idx(id)?;
        let (cfg, new_targets) = self.modified_config(bi, targets, trigger, cooldown_ms)?;
        let b = &self.engine.bots[bi];
        let p = self.ledger_portfolio(&cfg.quote, &new_targets, &b.holdings)?;
        let plan = self.plan_for(&cfg, &b.state, &p)?;
        let mut pv = self.plan_preview("modify", &cfg, &plan);
        pv.notes.push(
            "nothing is traded now: the next rebalance (when the trigger fires) plans against \
             the new targets; the legs are what it would trade at the last prices"
                .into(),
        );
        pv.summary = format!(
            "modify `{}`: targets {}, trigger {}{}; at the next rebalance: {}",
            cfg.name,
            cfg.targets,
            cfg.trigger,
            cooldown_ms.map_or(String::new(), |c| format!(", cooldown {c} ms")),
            pv.legs_text()
        );
        Ok(pv)
    }

    /// What [`Runtime::rebalance_now`] would trade at the last prices (same checks), and why
    /// nothing when it would trade nothing.
    pub fn preview_rebalance(&self, id: BotId, force: bool) -> BotResult<PlanPreview> {
        let bi = self.idx(id)?;
        self.check_rebalance_now(bi, force)?;
        let b = &self.engine.bots[bi];
        let plan = self.plan_for(&b.config, &b.state, &self.portfolio_of(bi)?)?;
        let mut pv = self.plan_preview("rebalance", &b.config, &plan);
        if let Some(why) = self.why_nothing(bi, &plan) {
            pv.notes.push(why);
        }
        if force {
            pv.notes
                .push("forced: the cooldown is not consulted, nor the trigger".into());
        }
        pv.summary = format!(
            "rebalance `{}` now (the trigger is not consulted): {}",
            b.config.name,
            pv.legs_text()
        );
        Ok(pv)
    }

    /// What [`Runtime::pause`] would do (no trade).
    pub fn preview_pause(&self, id: BotId) -> BotResult<PlanPreview> {
        let bi = self.idx(id)?;
        self.check_pause(bi)?;
        let b = &self.engine.bots[bi];
        Ok(no_trade(
            "pause",
            format!(
                "pause `{}`: no trade; its holdings stay as they are",
                b.config.name
            ),
            b.value_exact(&self.engine.market),
        ))
    }

    /// What [`Runtime::resume`] would do (no trade now).
    pub fn preview_resume(&self, id: BotId) -> BotResult<PlanPreview> {
        let bi = self.idx(id)?;
        self.check_resume(bi)?;
        let b = &self.engine.bots[bi];
        Ok(no_trade(
            "resume",
            format!(
                "resume `{}`: its trigger is checked again from the next tick{}",
                b.config.name,
                if b.state.pending_rebalance.is_some() {
                    " and the rebalance it owes runs"
                } else {
                    ""
                }
            ),
            b.value_exact(&self.engine.market),
        ))
    }

    /// What [`Runtime::stop`] would sell (`SellAll`) or release (`KeepCoins`).
    pub async fn preview_stop(&self, id: BotId, mode: StopMode) -> BotResult<PlanPreview> {
        let bi = self.idx(id)?;
        self.check_stop(bi)?;
        let quote = self.engine.bots[bi].config.quote.clone();
        let mut legs = Vec::new();
        let mut skipped = Vec::new();
        let mut notes = Vec::new();
        match mode {
            StopMode::SellAll => {
                let b = &self.engine.bots[bi];
                let (planned, kept) =
                    sell_all_legs(&b.holdings, &quote, &self.rules, |a| self.price(a, &quote))?;
                let fee_rate = self.engine.bots[bi].config.fee_rate;
                legs = planned
                    .iter()
                    .map(|l| leg_preview(l, fee_rate, "stop: sell everything to quote"))
                    .collect();
                skipped = kept
                    .into_iter()
                    .map(|k| PreviewLeg {
                        asset: k.asset,
                        side: Side::Sell.as_str().into(),
                        quantity: k.quantity,
                        price: k.price,
                        notional: k.rounded * k.price,
                        fee: Decimal::ZERO,
                        reason: format!("kept as coins: {}", k.reason),
                    })
                    .collect();
            }
            StopMode::KeepCoins => {
                for (a, q) in &self.engine.bots[bi].holdings {
                    if *a != quote && *q > Decimal::ZERO {
                        notes.push(format!("released to the account: {} {a}", q.normalize()));
                    }
                }
            }
        }
        let b = &self.engine.bots[bi];
        notes.push(format!(
            "the ledger is closed; {} {quote} of cash (plus any sale proceeds) is released to \
             the account",
            b.cash().round_dp(8).normalize()
        ));
        let fees: Decimal = legs.iter().map(|l: &PreviewLeg| l.fee).sum();
        let value = b.value_exact(&self.engine.market);
        let mut pv = PlanPreview {
            action: "stop".into(),
            summary: String::new(),
            value_before: value,
            value_after: value.map(|v| v - fees),
            fees,
            legs,
            skipped,
            notes,
        };
        pv.summary = match mode {
            StopMode::SellAll => format!(
                "stop `{}` selling everything to {quote}: {}",
                b.config.name,
                pv.legs_text()
            ),
            StopMode::KeepCoins => format!(
                "stop `{}` keeping the coins: no trade, the holdings are released",
                b.config.name
            ),
        };
        Ok(pv)
    }

    /// A plan as a preview of what its execution sends: the sells as planned, then the buys
    /// sized by [`size_buys`] from the cash the sells leave at the marks, net of fees.
    fn plan_preview(&self, action: &str, config: &BotConfig, p: &Plan) -> PlanPreview {
        let f = config.fee_rate;
        let legs = planned_legs(p);
        let reason_of = |asset: &str, side: Side| {
            p.trades
                .iter()
                .find(|l| l.asset == asset && l.side == side)
                .map(|l| l.reason.clone())
                .unwrap_or_default()
        };
        let (sells, buys): (Vec<_>, Vec<_>) = legs.into_iter().partition(|l| l.side == Side::Sell);
        let proceeds: Decimal = sells
            .iter()
            .map(|l| l.quantity * l.price * (Decimal::ONE - f))
            .sum();
        let cash = (p.cash_before + proceeds).max(Decimal::ZERO);
        let cost_rate = config.price_margin + config.fee_rate;
        let (sized, dropped) = size_buys(&self.rules, cost_rate, cash, &buys);
        let out: Vec<PreviewLeg> = sells
            .iter()
            .chain(sized.iter())
            .map(|l| leg_preview(l, f, &reason_of(&l.asset, l.side)))
            .collect();
        let mut skipped: Vec<PreviewLeg> = p
            .skipped
            .iter()
            .map(|s| PreviewLeg {
                asset: s.asset.clone(),
                side: s.side.as_str().into(),
                quantity: s.quantity,
                price: Decimal::ZERO,
                notional: s.notional,
                fee: Decimal::ZERO,
                reason: s.reason.to_string(),
            })
            .collect();
        skipped.extend(dropped.iter().map(|(l, r)| PreviewLeg {
            fee: Decimal::ZERO,
            reason: format!("sized to the bot's cash {}: {r}", cash.round_dp(8)),
            ..leg_preview(l, f, "")
        }));
        let fees: Decimal = out.iter().map(|l| l.fee).sum();
        PlanPreview {
            action: action.into(),
            summary: String::new(),
            value_before: Some(p.value),
            value_after: Some(p.value - fees),
            fees,
            legs: out,
            skipped,
            notes: vec![],
        }
    }
}
