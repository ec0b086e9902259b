//! Withdrawals (SPEC §6): which sells raise an amount of quote from a basket, pro rata or from
//! the assets above their targets first. The bot's `withdraw` and its preview both call
//! [`withdrawal_sells`].

use crate::rules::{RuleBook, round_up_to_step};
use rust_decimal::Decimal;

/// An asset a bot holds: quantity, mark and target weight (a fraction; 0 without a target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub asset: String,
    pub quantity: Decimal,
    pub price: Decimal,
    pub target: Decimal,
}

/// One sell of a withdrawal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sell {
    pub asset: String,
    pub quantity: Decimal,
    pub price: Decimal,
}

/// The sells that raise `amount` of quote beyond `cash` from `held` (none when the cash covers
/// it). `value` is the bot's value before the withdrawal; `cost_rate` is what a unit of
/// notional costs on top of itself (fee rate + price margin), so the sells aim at
/// `(amount − cash) × (1 + cost_rate)`.
///
/// - Pro rata: each asset sells the same fraction of its holding value.
/// - From overweights: the excess of each asset over its target at the value after the
///   withdrawal sells first (shared in proportion to the excesses when they cover the amount);
///   the rest comes pro rata from what is left of every holding.
///
/// Each quantity is rounded up to its lot step, capped at the holding; a sell that then breaks
/// the venue's rules (minimum size or notional) is left out. Holdings ≤ 0 never sell.
pub fn withdrawal_sells(
    held: &[Holding],
    cash: Decimal,
    amount: Decimal,
    value: Decimal,
    cost_rate: Decimal,
    from_overweights: bool,
    rules: &RuleBook,
) -> Vec<Sell> {
    if amount <= cash {
        return Vec::new();
    }
    let gross = (amount - cash) * (Decimal::ONE + cost_rate);
    let after = value - amount;
    let held: Vec<(&Holding, Decimal)> = held
        .iter()
        .filter(|h| h.quantity > Decimal::ZERO)
        .map(|h| {
            let excess = (h.quantity * h.price - h.target * after).max(Decimal::ZERO);
            (h, excess)
        })
        .collect();
    let total: Decimal = held.iter().map(|(h, _)| h.quantity * h.price).sum();
    let excess: Decimal = held.iter().map(|(_, e)| *e).sum();
    let mut sells = Vec::new();
    for (h, ex) in held {
        let v = h.quantity * h.price;
        let sell_value = if from_overweights && excess > Decimal::ZERO {
            if excess >= gross {
                ex * gross / excess
            } else {
                let rest = total - excess;
                ex + if rest > Decimal::ZERO {
                    (v - ex) * (gross - excess) / rest
                } else {
                    Decimal::ZERO
                }
            }
        } else if total > Decimal::ZERO {
            v * gross / total
        } else {
            Decimal::ZERO
        };
        let r = rules.get(&h.asset);
        let mut qty = sell_value / h.price;
        if let Some(step) = r.lot_step {
            qty = round_up_to_step(qty, step);
        }
        let qty = qty.min(h.quantity);
        if qty <= Decimal::ZERO || r.check(qty, h.price).is_some() {
            continue;
        }
        sells.push(Sell {
            asset: h.asset.clone(),
            quantity: qty,
            price: h.price,
        });
    }
    sells
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::InstrumentRules;
    use rust_decimal_macros::dec;

    fn h(asset: &str, quantity: Decimal, price: Decimal, target: Decimal) -> Holding {
        Holding {
            asset: asset.into(),
            quantity,
            price,
            target,
        }
    }

    /// The sells of [`basket`]'s withdrawal.
    fn sells(
        cash: Decimal,
        amount: Decimal,
        value: Decimal,
        cost_rate: Decimal,
        from_overweights: bool,
        rules: &RuleBook,
    ) -> Vec<Sell> {
        withdrawal_sells(
            &basket(),
            cash,
            amount,
            value,
            cost_rate,
            from_overweights,
            rules,
        )
    }

    fn q(sells: &[Sell]) -> Vec<(&str, Decimal)> {
        sells
            .iter()
            .map(|s| (s.asset.as_str(), s.quantity))
            .collect()
    }

    /// BTC 60 (target 50%), ETH 40 (target 50%), no cash: value 100.
    fn basket() -> Vec<Holding> {
        vec![
            h("BTC", dec!(0.6), dec!(100), dec!(0.5)),
            h("ETH", dec!(4), dec!(10), dec!(0.5)),
        ]
    }

    #[test]
    fn cash_that_covers_the_amount_sells_nothing() {
        let s = sells(
            dec!(20),
            dec!(20),
            dec!(120),
            dec!(0.001),
            false,
            &RuleBook::new(),
        );
        assert!(s.is_empty());
    }

    #[test]
    fn pro_rata_sells_the_same_fraction_of_every_holding() {
        // 10 of 100: 10% of each holding, 6 of BTC and 4 of ETH.
        let s = sells(
            dec!(0),
            dec!(10),
            dec!(100),
            dec!(0),
            false,
            &RuleBook::new(),
        );
        assert_eq!(q(&s), [("BTC", dec!(0.06)), ("ETH", dec!(0.4))]);
        // The cost rate scales the gross: 10 × 1.01 = 10.1.
        let s = sells(
            dec!(0),
            dec!(10),
            dec!(100),
            dec!(0.01),
            false,
            &RuleBook::new(),
        );
        assert_eq!(q(&s), [("BTC", dec!(0.0606)), ("ETH", dec!(0.404))]);
    }

    #[test]
    fn from_overweights_sells_the_excess_first() {
        // After 10: value 90, targets 45 each; BTC's excess is 15 ≥ 10: only BTC sells.
        let s = sells(
            dec!(0),
            dec!(10),
            dec!(100),
            dec!(0),
            true,
            &RuleBook::new(),
        );
        assert_eq!(q(&s), [("BTC", dec!(0.1))]);
        // After 40: value 60, targets 30 each; excess BTC 30, ETH 10 = 40 ≥ 40: each its excess.
        let s = sells(
            dec!(0),
            dec!(40),
            dec!(100),
            dec!(0),
            true,
            &RuleBook::new(),
        );
        assert_eq!(q(&s), [("BTC", dec!(0.3)), ("ETH", dec!(1))]);
    }

    #[test]
    fn from_overweights_takes_the_rest_pro_rata() {
        // 40 out at a cost rate of 1%: gross 40.4. After: value 60, targets 30 each; excess
        // BTC 30, ETH 10 = 40 < 40.4. Each sells its excess, and the 0.4 left comes pro rata
        // from the 60 beyond the excesses: BTC 30 + 30 × 0.4 / 60 = 30.2, ETH 10 + 30 × 0.4 /
        // 60 = 10.2.
        let s = sells(
            dec!(0),
            dec!(40),
            dec!(100),
            dec!(0.01),
            true,
            &RuleBook::new(),
        );
        assert_eq!(q(&s), [("BTC", dec!(0.302)), ("ETH", dec!(1.02))]);
    }

    #[test]
    fn lot_steps_round_up_within_the_holding_and_minimums_drop_a_sell() {
        let mut rules = RuleBook::new();
        rules
            .insert(
                "BTC",
                InstrumentRules {
                    lot_step: Some(dec!(0.1)),
                    ..Default::default()
                },
            )
            .unwrap();
        rules
            .insert(
                "ETH",
                InstrumentRules {
                    min_notional: Some(dec!(5)),
                    ..Default::default()
                },
            )
            .unwrap();
        // Pro rata 10: BTC 0.06 → 0.1 (one lot up); ETH 0.4 × 10 = 4 < 5: dropped.
        let s = sells(dec!(0), dec!(10), dec!(100), dec!(0), false, &rules);
        assert_eq!(q(&s), [("BTC", dec!(0.1))]);
        // Everything, with a cost rate: capped at the holdings.
        let s = sells(dec!(0), dec!(100), dec!(100), dec!(0.01), false, &rules);
        assert_eq!(q(&s), [("BTC", dec!(0.6)), ("ETH", dec!(4))]);
    }
}
