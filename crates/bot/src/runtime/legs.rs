//! What to trade: a bot's ledger as a portfolio, its plan (SPEC §3), the buys sized to its own
//! cash, a withdrawal's sells and a stop's sells.
//!
//! Computes only: never writes to the store and never sends an order.

use super::{BotError, BotResult, Refusal, Runtime};
use crate::config::{BotConfig, BotState};
use rust_decimal::Decimal;
use smartfolio_core::plan::{PlanOptions, plan};
use smartfolio_core::withdraw::{Holding, Withdrawal, withdrawal_sells};
use smartfolio_core::{Plan, Portfolio, Side, Targets};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub(super) struct PlannedLeg {
    pub(super) asset: String,
    pub(super) side: Side,
    pub(super) quantity: Decimal,
    pub(super) price: Decimal,
}

/// A coin a stop cannot sell (its sell breaks the venue's rules).
pub(super) struct KeptCoin {
    pub(super) asset: String,
    pub(super) quantity: Decimal,
    pub(super) rounded: Decimal,
    pub(super) price: Decimal,
    pub(super) reason: String,
}

/// A plan's trades as the legs execution sends.
pub(super) fn planned_legs(p: &Plan) -> Vec<PlannedLeg> {
    p.trades
        .iter()
        .map(|l| PlannedLeg {
            asset: l.asset.clone(),
            side: l.side,
            quantity: l.quantity,
            price: l.price,
        })
        .collect()
}

impl Runtime {
    /// The bot's ledger as a portfolio at the market's prices.
    pub(super) fn portfolio_of(&self, bi: usize) -> BotResult<Portfolio> {
        let b = &self.engine.bots[bi];
        self.ledger_portfolio(&b.config.quote, &b.targets, &b.holdings)
    }

    /// A ledger (`holdings`, the quote's entry being the cash) as a portfolio for `targets` at
    /// the market's prices: the targeted assets in order, then held assets without a target.
    pub(super) fn ledger_portfolio(
        &self,
        quote: &str,
        targets: &Targets,
        holdings: &BTreeMap<String, Decimal>,
    ) -> BotResult<Portfolio> {
        let mut assets: Vec<String> = targets.assets().to_vec();
        let mut weights: Vec<Decimal> = targets.weights().to_vec();
        let n_targeted = assets.len();
        for (a, q) in holdings {
            if a != quote && !q.is_zero() && !assets.contains(a) {
                assets.push(a.clone());
                weights.push(Decimal::ZERO);
            }
        }
        let held = |a: &str| {
            holdings
                .get(a)
                .copied()
                .unwrap_or_default()
                .max(Decimal::ZERO)
        };
        let quantities: Vec<Decimal> = assets.iter().map(|a| held(a)).collect();
        let prices: Vec<Decimal> = assets
            .iter()
            .map(|a| self.price(a, quote))
            .collect::<BotResult<_>>()?;
        Ok(Portfolio::from_parts(
            quote.to_string(),
            assets,
            weights,
            quantities,
            prices,
            held(quote),
            n_targeted,
        )?)
    }

    /// The plan (SPEC §3) of a portfolio for a bot with `config` and `state`: its fee rate, the
    /// venue's rules, and the entry prices of the assets it has not bought yet.
    pub(super) fn plan_for(
        &self,
        config: &BotConfig,
        state: &BotState,
        p: &Portfolio,
    ) -> BotResult<Plan> {
        let entries: Vec<(String, Decimal)> = config
            .entry_prices
            .iter()
            .filter(|e| !state.bought.contains(&e.asset))
            .map(|e| (e.asset.clone(), e.price))
            .collect();
        let opts = PlanOptions {
            fee_rate: config.fee_rate,
            rules: &self.rules,
            entry_prices: &entries,
        };
        Ok(plan(p, &opts)?)
    }

    /// The buys of a rebalance sized from the bot's own `cash` (after its sells): when they cost
    /// more than that at `1 + price_margin + fee_rate` per unit of notional, every buy is scaled
    /// down by the same factor and rounded to its lot step; a buy that then breaks the venue's
    /// rules is dropped, with the reason.
    pub(super) fn size_buys(
        &self,
        config: &BotConfig,
        cash: Decimal,
        buys: &[PlannedLeg],
    ) -> (Vec<PlannedLeg>, Vec<(PlannedLeg, String)>) {
        let k1 = Decimal::ONE + config.price_margin + config.fee_rate;
        let cost: Decimal = buys.iter().map(|l| l.quantity * l.price * k1).sum();
        let scale = if cost > cash && cost > Decimal::ZERO {
            Some(cash / cost)
        } else {
            None
        };
        let mut sized = Vec::new();
        let mut dropped = Vec::new();
        for l in buys {
            let rules = self.rules.get(&l.asset);
            let qty = match scale {
                Some(k) => rules.round_quantity(l.quantity * k),
                None => l.quantity,
            };
            match rules.check(qty, l.price) {
                Some(r) => dropped.push((l.clone(), r.to_string())),
                None => sized.push(PlannedLeg {
                    quantity: qty,
                    ..l.clone()
                }),
            }
        }
        (sized, dropped)
    }

    /// Why a plan can send no order, if it can send none: no sell, and no buy survives
    /// sizing to the bot's cash (the check [`Self::execute_with`] makes before its buys). None
    /// when an order would be sent, or when nothing needs trading.
    pub(super) fn nothing_to_send(&self, bi: usize, p: &Plan) -> Option<String> {
        if p.trades.iter().any(|l| l.side == Side::Sell) {
            return None;
        }
        let b = &self.engine.bots[bi];
        let cash = b.cash().max(Decimal::ZERO);
        let (sized, dropped) = self.size_buys(&b.config, cash, &planned_legs(p));
        if !sized.is_empty() {
            return None;
        }
        let mut why: Vec<String> = p
            .skipped
            .iter()
            .map(|s| format!("{} {}: {}", s.side, s.asset, s.reason))
            .collect();
        why.extend(dropped.iter().map(|(l, r)| {
            format!(
                "{} {}: sized to the bot's cash {}: {r}",
                l.side,
                l.asset,
                cash.round_dp(8).normalize()
            )
        }));
        if why.is_empty() {
            return None;
        }
        Some(format!(
            "too small to trade: no order can be sent ({}); no rebalance is recorded until one \
             can",
            why.join("; ")
        ))
    }

    /// The sells that raise `amount` of quote beyond the bot's cash (none when its cash
    /// covers it), at the last prices: [`withdrawal_sells`] of the bot's ledger, with its fee
    /// rate and price margin as the cost of selling; refused when they cannot raise it.
    pub(super) fn withdraw_legs(
        &self,
        bi: usize,
        amount: Decimal,
        value: Decimal,
        from_overweights: bool,
    ) -> BotResult<Withdrawal> {
        let bot = &self.engine.bots[bi];
        let quote = &bot.config.quote;
        let mut held = Vec::new();
        for (a, q) in &bot.holdings {
            if a == quote || *q <= Decimal::ZERO {
                continue;
            }
            held.push(Holding {
                asset: a.clone(),
                quantity: *q,
                price: self.price(a, quote)?,
                target: bot.targets.weight_of(a).unwrap_or_default(),
            });
        }
        withdrawal_sells(
            &held,
            bot.cash(),
            amount,
            value,
            bot.config.fee_rate + bot.config.price_margin,
            from_overweights,
            &self.rules,
        )
        .map_err(|e| {
            BotError::OverWithdrawal(Box::new(Refusal {
                name: bot.config.name.clone(),
                amount,
                largest: e.largest,
                quote: quote.clone(),
                reason: if amount > value {
                    format!(
                        "it holds {} {quote} at the last prices",
                        value.round_dp(8).normalize()
                    )
                } else {
                    e.reason
                },
            }))
        })
    }

    /// A stop's sells: every coin the bot holds, rounded to its lot step; the coins whose sell
    /// would break the venue's rules are kept (and released as coins).
    pub(super) fn sell_all_legs(&self, bi: usize) -> BotResult<(Vec<PlannedLeg>, Vec<KeptCoin>)> {
        let bot = &self.engine.bots[bi];
        let quote = &bot.config.quote;
        let mut legs = Vec::new();
        let mut kept = Vec::new();
        for (a, q) in &bot.holdings {
            if a == quote || *q <= Decimal::ZERO {
                continue;
            }
            let p = self.price(a, quote)?;
            let rules = self.rules.get(a);
            let qty = rules.round_quantity(*q);
            match rules.check(qty, p) {
                None => legs.push(PlannedLeg {
                    asset: a.clone(),
                    side: Side::Sell,
                    quantity: qty,
                    price: p,
                }),
                Some(r) => kept.push(KeptCoin {
                    asset: a.clone(),
                    quantity: *q,
                    rounded: qty,
                    price: p,
                    reason: r.to_string(),
                }),
            }
        }
        Ok((legs, kept))
    }
}
