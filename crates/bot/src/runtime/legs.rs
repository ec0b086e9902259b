//! What to trade: a bot's ledger as a portfolio, its plan (SPEC §3), the buys sized to its own
//! cash, a withdrawal's sells and a stop's sells.
//!
//! Computes only: never writes to the store and never sends an order.

use super::{BotError, BotResult, Refusal, Runtime};
use crate::config::{BotConfig, BotState};
use rust_decimal::Decimal;
use smartfolio_core::plan::{PlanOptions, plan};
use smartfolio_core::rules::{RuleBook, round_down_to_step};
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

/// The buys of a rebalance sized from the bot's own `cash` (after its sells): when they cost
/// more than that at `1 + cost_rate` (the price margin and the fee rate) per unit of notional,
/// every buy is scaled down by the same factor and rounded to its lot step; a buy that then
/// breaks the venue's rules is dropped, with the reason.
pub(super) fn size_buys(
    rules: &RuleBook,
    cost_rate: Decimal,
    cash: Decimal,
    buys: &[PlannedLeg],
) -> (Vec<PlannedLeg>, Vec<(PlannedLeg, String)>) {
    let k1 = Decimal::ONE + cost_rate;
    let cost: Decimal = buys.iter().map(|l| l.quantity * l.price * k1).sum();
    let scale = if cost > cash && cost > Decimal::ZERO {
        Some(cash / cost)
    } else {
        None
    };
    let mut sized = Vec::new();
    let mut dropped = Vec::new();
    for l in buys {
        let rules = rules.get(&l.asset);
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

/// The quote amounts market buys are sent as (`OrderSize::Quote`), in the order of `buys`:
/// each buy's notional at its planned price, rounded down to its instrument's tick (a venue
/// takes a quote amount at least that precise; the paper venue without a tick takes any), and
/// all together never more than `cash` after `fee_rate` (each is cut to what is left). A venue spends at most that much quote on the buy, whatever the price does before it
/// fills: a price that rose buys less, never more than the bot's cash.
pub(super) fn buy_quote_amounts(
    rules: &RuleBook,
    fee_rate: Decimal,
    cash: Decimal,
    buys: &[PlannedLeg],
) -> Vec<Decimal> {
    let round = |a: Decimal, tick: Option<Decimal>| {
        match tick {
            Some(t) => round_down_to_step(a, t),
            None => a,
        }
        .max(Decimal::ZERO)
    };
    let mut left = cash.max(Decimal::ZERO) / (Decimal::ONE + fee_rate.max(Decimal::ZERO));
    buys.iter()
        .map(|l| {
            let tick = rules.get(&l.asset).tick_size;
            let a = round((l.quantity * l.price).min(left), tick);
            left -= a;
            a
        })
        .collect()
}

/// A stop's sells: every coin in `holdings` but the quote, rounded to its lot step, at
/// `price`; the coins whose sell would break the venue's rules are kept (and released as
/// coins).
pub(super) fn sell_all_legs(
    holdings: &BTreeMap<String, Decimal>,
    quote: &str,
    rules: &RuleBook,
    price: impl Fn(&str) -> BotResult<Decimal>,
) -> BotResult<(Vec<PlannedLeg>, Vec<KeptCoin>)> {
    let mut legs = Vec::new();
    let mut kept = Vec::new();
    for (a, q) in holdings {
        if a == quote || *q <= Decimal::ZERO {
            continue;
        }
        let p = price(a)?;
        let rules = rules.get(a);
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

    /// Why a plan can send no order, if it can send none: no sell, and no buy survives
    /// sizing to the bot's cash (the check [`Self::execute_with`] makes before its buys). None
    /// when an order would be sent, or when nothing needs trading.
    pub(super) fn nothing_to_send(&self, bi: usize, p: &Plan) -> Option<String> {
        if p.trades.iter().any(|l| l.side == Side::Sell) {
            return None;
        }
        let b = &self.engine.bots[bi];
        let cash = b.cash().max(Decimal::ZERO);
        let cost_rate = b.config.price_margin + b.config.fee_rate;
        let (sized, dropped) = size_buys(&self.rules, cost_rate, cash, &planned_legs(p));
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

    /// Why a plan for "rebalance now" sends nothing, if it sends nothing: the bot is on target,
    /// or [`Self::nothing_to_send`]'s reason.
    pub(super) fn why_nothing(&self, bi: usize, p: &Plan) -> Option<String> {
        if p.trades.is_empty() && p.skipped.is_empty() {
            return Some(format!(
                "nothing to trade: the bot is on target (largest deviation {} pp); no \
                 rebalance is recorded",
                p.max_deviation_before_pp.round_dp(4).normalize()
            ));
        }
        self.nothing_to_send(bi, p)
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use smartfolio_core::InstrumentRules;

    fn rules() -> RuleBook {
        let mut r = RuleBook::new();
        r.insert(
            "BTC",
            InstrumentRules {
                lot_step: Some(dec!(0.001)),
                min_size: None,
                min_notional: Some(dec!(10)),
                tick_size: None,
            },
        )
        .unwrap();
        r.insert(
            "SOL",
            InstrumentRules {
                lot_step: Some(dec!(0.1)),
                min_size: None,
                min_notional: Some(dec!(5)),
                tick_size: None,
            },
        )
        .unwrap();
        r
    }

    fn buy(asset: &str, quantity: Decimal, price: Decimal) -> PlannedLeg {
        PlannedLeg {
            asset: asset.into(),
            side: Side::Buy,
            quantity,
            price,
        }
    }

    #[test]
    fn buys_the_cash_covers_are_sent_as_planned() {
        let buys = [
            buy("BTC", dec!(0.01), dec!(30000)),
            buy("SOL", dec!(2), dec!(20)),
        ];
        // Cost at 1 + 0.002: 300.6 + 40.08 = 340.68.
        let (sized, dropped) = size_buys(&rules(), dec!(0.002), dec!(340.68), &buys);
        assert!(dropped.is_empty());
        let q: Vec<Decimal> = sized.iter().map(|l| l.quantity).collect();
        assert_eq!(q, [dec!(0.01), dec!(2)]);
        // Less cash than the cost with the margin: scaled by 340 / 340.68, then rounded down.
        let (sized, _) = size_buys(&rules(), dec!(0.002), dec!(340), &buys);
        let q: Vec<Decimal> = sized.iter().map(|l| l.quantity).collect();
        assert_eq!(q, [dec!(0.009), dec!(1.9)]);
    }

    #[test]
    fn buys_beyond_the_cash_scale_down_together_and_round_to_the_lot() {
        let buys = [
            buy("BTC", dec!(0.01), dec!(30000)),
            buy("SOL", dec!(2), dec!(20)),
        ];
        // Cost 340 at no margin; cash 170 halves both: BTC 0.005, SOL 1.0.
        let (sized, dropped) = size_buys(&rules(), Decimal::ZERO, dec!(170), &buys);
        assert!(dropped.is_empty());
        let q: Vec<(String, Decimal)> = sized
            .iter()
            .map(|l| (l.asset.clone(), l.quantity))
            .collect();
        assert_eq!(
            q,
            [("BTC".to_string(), dec!(0.005)), ("SOL".into(), dec!(1.0))]
        );
        // Cash 51: k = 0.15; BTC 0.0015 rounds to 0.001 (30 ≥ 10), SOL 0.3 (6 ≥ 5).
        let (sized, _) = size_buys(&rules(), Decimal::ZERO, dec!(51), &buys);
        let q: Vec<Decimal> = sized.iter().map(|l| l.quantity).collect();
        assert_eq!(q, [dec!(0.001), dec!(0.3)]);
    }

    #[test]
    fn market_buys_spend_their_planned_notional_and_never_more_than_the_cash_after_fees() {
        let mut r = rules();
        r.insert(
            "ETH",
            InstrumentRules {
                tick_size: Some(dec!(0.01)),
                ..InstrumentRules::default()
            },
        )
        .unwrap();
        let buys = [
            buy("ETH", dec!(0.123456), dec!(2000.5)),
            buy("SOL", dec!(2), dec!(20)),
        ];
        // ETH 246.97339... rounds down to the tick 0.01; SOL has no tick: 40 as it is.
        assert_eq!(
            buy_quote_amounts(&r, dec!(0.001), dec!(1000), &buys),
            [dec!(246.97), dec!(40)]
        );
        // 250.25 of cash after a 0.1 % fee is 250: ETH takes 246.97, SOL what is left.
        assert_eq!(
            buy_quote_amounts(&r, dec!(0.001), dec!(250.25), &buys),
            [dec!(246.97), dec!(3.03)]
        );
        // No cash (or a negative ledger): nothing is spent.
        assert_eq!(
            buy_quote_amounts(&r, dec!(0.001), dec!(-5), &buys),
            [Decimal::ZERO, Decimal::ZERO]
        );
    }

    #[test]
    fn a_buy_scaled_below_the_minimum_is_dropped_with_the_reason() {
        let buys = [
            buy("BTC", dec!(0.01), dec!(30000)),
            buy("SOL", dec!(2), dec!(20)),
        ];
        // Cash 34: k = 0.1; BTC 0.001 (30) is sent, SOL 0.2 (4 < 5) is dropped.
        let (sized, dropped) = size_buys(&rules(), Decimal::ZERO, dec!(34), &buys);
        assert_eq!(sized.len(), 1);
        assert_eq!(sized[0].asset, "BTC");
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].0.asset, "SOL");
        assert!(
            dropped[0].1.contains("minimum notional 5"),
            "{}",
            dropped[0].1
        );
    }

    #[test]
    fn a_stop_sells_every_coin_rounded_and_keeps_what_breaks_the_rules() {
        let holdings: BTreeMap<String, Decimal> = [
            ("BTC".to_string(), dec!(0.0123456)),
            ("SOL".into(), dec!(0.2)),
            ("ETH".into(), Decimal::ZERO),
            ("USDT".into(), dec!(100)),
        ]
        .into();
        let price = |a: &str| match a {
            "BTC" => Ok(dec!(30000)),
            "SOL" => Ok(dec!(20)),
            _ => Err(BotError::NoPrice(a.into())),
        };
        let (legs, kept) = sell_all_legs(&holdings, "USDT", &rules(), price).unwrap();
        assert_eq!(legs.len(), 1);
        assert_eq!(
            (
                legs[0].asset.as_str(),
                legs[0].side,
                legs[0].quantity,
                legs[0].price
            ),
            ("BTC", Side::Sell, dec!(0.012), dec!(30000))
        );
        assert_eq!(kept.len(), 1);
        let k = &kept[0];
        assert_eq!(
            (k.asset.as_str(), k.quantity, k.rounded),
            ("SOL", dec!(0.2), dec!(0.2))
        );
        assert!(k.reason.contains("minimum notional 5"), "{}", k.reason);
    }

    #[test]
    fn a_stop_needs_a_price_for_every_coin_it_holds() {
        let holdings: BTreeMap<String, Decimal> = [("DOGE".to_string(), dec!(5))].into();
        let e = sell_all_legs(&holdings, "USDT", &rules(), |a| {
            Err(BotError::NoPrice(a.into()))
        })
        .err()
        .expect("no price");
        assert_eq!(
            e.to_string(),
            "no price for DOGE: the venue has not priced it yet"
        );
    }
}
