//! Withdrawals (SPEC §6): which sells raise an amount of quote from a basket, pro rata or from
//! the assets above their targets first. The bot's `withdraw` and its preview both call
//! [`withdrawal_sells`], so the preview lists exactly the sells the withdrawal sends.
//!
//! A withdrawal either delivers the amount asked or is refused before anything trades, with the
//! largest amount it could deliver. A share too small for the venue's minimums is never dropped
//! silently: it moves to the other sells (and is reported as skipped with its reason), or, when
//! no other sell can take it, the sell is raised to the venue's minimum and the surplus stays
//! in the bot as cash.

use crate::rules::{InstrumentRules, RuleBook, round_up_to_step};
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
    /// Why this quantity: its share, or what changed it (a share taken over, a minimum).
    pub reason: String,
}

/// An asset that does not sell although the withdrawal needs sells, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub asset: String,
    /// The quantity that was considered (its share, rounded; or the whole holding).
    pub quantity: Decimal,
    pub price: Decimal,
    pub reason: String,
}

/// The sells of a withdrawal and the assets left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Withdrawal {
    /// The sells to send, in asset order.
    pub sells: Vec<Sell>,
    pub skipped: Vec<Skipped>,
}

/// A withdrawal that cannot be delivered: the largest amount that can, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undeliverable {
    /// The largest amount of quote a withdrawal can deliver now (cash + what every sellable
    /// holding raises after costs), rounded down to 8 decimals.
    pub largest: Decimal,
    pub reason: String,
}

/// A holding that can sell: the most it can sell (rounded down to its lot step) and its excess
/// over its target after the withdrawal.
struct Candidate<'a> {
    h: &'a Holding,
    rules: &'a InstrumentRules,
    cap_quantity: Decimal,
    cap_value: Decimal,
    value: Decimal,
    excess: Decimal,
}

/// The quantity that raises `value` at `price`: rounded up to the lot step (without one, up in
/// its last digit when the division rounded down), at most `cap`.
fn quantity_for(rules: &InstrumentRules, value: Decimal, price: Decimal, cap: Decimal) -> Decimal {
    let mut q = value / price;
    match rules.lot_step {
        Some(step) => q = round_up_to_step(q, step),
        None => {
            if q * price < value {
                q += Decimal::new(1, q.scale());
            }
        }
    }
    q.min(cap)
}

/// The smallest quantity ≥ `q` the venue accepts (minimum size and notional, on the lot step),
/// at most `cap` (which the venue accepts).
fn raised_to_minimum(rules: &InstrumentRules, q: Decimal, price: Decimal, cap: Decimal) -> Decimal {
    let mut q = q;
    if let Some(m) = rules.min_size {
        q = q.max(m);
    }
    if let Some(m) = rules.min_notional {
        q = q.max(quantity_for(rules, m, price, cap));
    }
    if let Some(step) = rules.lot_step {
        q = round_up_to_step(q, step);
    }
    q.min(cap)
}

/// Each candidate's share of `gross`: pro rata to its holding value, or its excess first and
/// the rest pro rata to what is left of every holding. No share exceeds what the candidate can
/// sell: an overflow moves to the others in proportion to their headroom.
fn split(cands: &[&Candidate<'_>], gross: Decimal, from_overweights: bool) -> Vec<Decimal> {
    let total: Decimal = cands.iter().map(|c| c.value).sum();
    let excess: Decimal = cands.iter().map(|c| c.excess).sum();
    let mut shares: Vec<Decimal> = cands
        .iter()
        .map(|c| {
            if from_overweights && excess > Decimal::ZERO {
                if excess >= gross {
                    c.excess * gross / excess
                } else {
                    let rest = total - excess;
                    c.excess
                        + if rest > Decimal::ZERO {
                            (c.value - c.excess) * (gross - excess) / rest
                        } else {
                            Decimal::ZERO
                        }
                }
            } else if total > Decimal::ZERO {
                c.value * gross / total
            } else {
                Decimal::ZERO
            }
        })
        .collect();
    let overflow: Decimal = cands
        .iter()
        .zip(&shares)
        .map(|(c, s)| (*s - c.cap_value).max(Decimal::ZERO))
        .sum();
    if overflow > Decimal::ZERO {
        let headroom: Decimal = cands
            .iter()
            .zip(&shares)
            .map(|(c, s)| (c.cap_value - *s).max(Decimal::ZERO))
            .sum();
        for (c, s) in cands.iter().zip(shares.iter_mut()) {
            let room = (c.cap_value - *s).max(Decimal::ZERO);
            *s = if *s >= c.cap_value {
                c.cap_value
            } else if headroom > Decimal::ZERO {
                (*s + overflow * room / headroom).min(c.cap_value)
            } else {
                *s
            };
        }
    }
    shares
}

/// The sells that raise `amount` of quote beyond `cash` from `held` (none when the cash covers
/// it). `value` is the bot's value before the withdrawal; `cost_rate` is what a unit of
/// notional costs on top of itself (fee rate + price margin), so the sells raise at least
/// `gross = (amount − cash) × (1 + cost_rate)` at the marks.
///
/// - Pro rata: each asset sells the same fraction of its holding value.
/// - From overweights: the excess of each asset over its target at the value after the
///   withdrawal sells first (shared in proportion to the excesses when they cover the amount);
///   the rest comes pro rata from what is left of every holding.
///
/// Each quantity is rounded up to its lot step, and never exceeds the holding rounded down to
/// the lot step. A holding whose whole sellable quantity breaks the venue's rules cannot sell
/// (skipped). A share whose sell breaks the rules is moved to the other sells (skipped, with the
/// reason) when they can raise it; otherwise that sell is raised to the venue's minimum.
///
/// Refused ([`Undeliverable`]) when selling everything that can be sold raises less than
/// `gross`.
pub fn withdrawal_sells(
    held: &[Holding],
    cash: Decimal,
    amount: Decimal,
    value: Decimal,
    cost_rate: Decimal,
    from_overweights: bool,
    rules: &RuleBook,
) -> Result<Withdrawal, Undeliverable> {
    let mut out = Withdrawal::default();
    if amount <= cash {
        return Ok(out);
    }
    let cash = cash.max(Decimal::ZERO);
    let k = Decimal::ONE + cost_rate;
    let gross = (amount - cash) * k;
    let after = value - amount;
    let mut cands = Vec::new();
    for h in held.iter().filter(|h| h.quantity > Decimal::ZERO) {
        let r = rules.get(&h.asset);
        let cap_quantity = r.round_quantity(h.quantity);
        if let Some(why) = r.check(cap_quantity, h.price) {
            out.skipped.push(Skipped {
                asset: h.asset.clone(),
                quantity: h.quantity,
                price: h.price,
                reason: format!(
                    "cannot be sold: all of it, {}, {why}",
                    cap_quantity.normalize()
                ),
            });
            continue;
        }
        let v = h.quantity * h.price;
        cands.push(Candidate {
            h,
            rules: r,
            cap_quantity,
            cap_value: cap_quantity * h.price,
            value: v,
            excess: (v - h.target * after).max(Decimal::ZERO),
        });
    }
    let capacity: Decimal = cands.iter().map(|c| c.cap_value).sum();
    if gross > capacity {
        let largest = (cash + capacity / k)
            .round_dp_with_strategy(8, rust_decimal::RoundingStrategy::ToZero)
            .max(cash)
            .normalize();
        let mut reason = format!(
            "selling everything the venue's rules allow raises {} at the last prices, {} after \
             fees and the price margin",
            capacity.round_dp(8).normalize(),
            (capacity / k).round_dp(8).normalize()
        );
        for s in &out.skipped {
            reason.push_str(&format!("; {} {}", s.asset, s.reason));
        }
        return Err(Undeliverable { largest, reason });
    }
    let mut active: Vec<usize> = (0..cands.len()).collect();
    let mut raised: Vec<(usize, Decimal, String)> = Vec::new();
    let mut remaining = gross;
    let mut moved: Vec<String> = Vec::new();
    while remaining > Decimal::ZERO && !active.is_empty() {
        let set: Vec<&Candidate<'_>> = active.iter().map(|&i| &cands[i]).collect();
        let shares = split(&set, remaining, from_overweights);
        let legs: Vec<(usize, Decimal, Decimal)> = active
            .iter()
            .zip(&shares)
            .filter(|(_, s)| **s > Decimal::ZERO)
            .map(|(&i, s)| {
                let c = &cands[i];
                (i, *s, quantity_for(c.rules, *s, c.h.price, c.cap_quantity))
            })
            .collect();
        // The smallest share whose sell the venue refuses, if any.
        let refused = legs
            .iter()
            .filter_map(|&(i, s, q)| {
                let c = &cands[i];
                c.rules.check(q, c.h.price).map(|why| (i, s, q, why))
            })
            .min_by(|a, b| a.1.cmp(&b.1));
        let Some((j, share, q, why)) = refused else {
            for (i, s, q) in legs {
                let reason = if moved.is_empty() {
                    format!("its share {}", s.round_dp(8).normalize())
                } else {
                    format!(
                        "its share {}, with the shares of {} moved to it",
                        s.round_dp(8).normalize(),
                        moved.join(", ")
                    )
                };
                raised.push((i, q, reason));
            }
            break;
        };
        let rest: Decimal = active
            .iter()
            .filter(|&&i| i != j)
            .map(|&i| cands[i].cap_value)
            .sum();
        let c = &cands[j];
        active.retain(|&i| i != j);
        if rest >= remaining {
            out.skipped.push(Skipped {
                asset: c.h.asset.clone(),
                quantity: q,
                price: c.h.price,
                reason: format!(
                    "its share {} does not sell: {why}; the other sells raise it instead",
                    share.round_dp(8).normalize()
                ),
            });
            moved.push(c.h.asset.clone());
        } else {
            let q_min = raised_to_minimum(c.rules, q, c.h.price, c.cap_quantity);
            remaining -= q_min * c.h.price;
            raised.push((
                j,
                q_min,
                format!(
                    "its share {} {why}: raised to the venue's minimum, the surplus stays in the \
                     bot as cash",
                    share.round_dp(8).normalize()
                ),
            ));
        }
    }
    raised.sort_by_key(|(i, _, _)| *i);
    out.sells = raised
        .into_iter()
        .map(|(i, q, reason)| Sell {
            asset: cands[i].h.asset.clone(),
            quantity: q,
            price: cands[i].h.price,
            reason,
        })
        .collect();
    Ok(out)
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

    /// [`basket`]'s withdrawal.
    fn plan(
        cash: Decimal,
        amount: Decimal,
        value: Decimal,
        cost_rate: Decimal,
        from_overweights: bool,
        rules: &RuleBook,
    ) -> Result<Withdrawal, Undeliverable> {
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
        let s = plan(
            dec!(20),
            dec!(20),
            dec!(120),
            dec!(0.001),
            false,
            &RuleBook::new(),
        )
        .unwrap()
        .sells;
        assert!(s.is_empty());
    }

    #[test]
    fn pro_rata_sells_the_same_fraction_of_every_holding() {
        // 10 of 100: 10% of each holding, 6 of BTC and 4 of ETH.
        let s = plan(
            dec!(0),
            dec!(10),
            dec!(100),
            dec!(0),
            false,
            &RuleBook::new(),
        )
        .unwrap()
        .sells;
        assert_eq!(q(&s), [("BTC", dec!(0.06)), ("ETH", dec!(0.4))]);
        // The cost rate scales the gross: 10 × 1.01 = 10.1.
        let s = plan(
            dec!(0),
            dec!(10),
            dec!(100),
            dec!(0.01),
            false,
            &RuleBook::new(),
        )
        .unwrap()
        .sells;
        assert_eq!(q(&s), [("BTC", dec!(0.0606)), ("ETH", dec!(0.404))]);
    }

    #[test]
    fn from_overweights_sells_the_excess_first() {
        // After 10: value 90, targets 45 each; BTC's excess is 15 ≥ 10: only BTC sells.
        let s = plan(
            dec!(0),
            dec!(10),
            dec!(100),
            dec!(0),
            true,
            &RuleBook::new(),
        )
        .unwrap()
        .sells;
        assert_eq!(q(&s), [("BTC", dec!(0.1))]);
        // After 40: value 60, targets 30 each; excess BTC 30, ETH 10 = 40 ≥ 40: each its excess.
        let s = plan(
            dec!(0),
            dec!(40),
            dec!(100),
            dec!(0),
            true,
            &RuleBook::new(),
        )
        .unwrap()
        .sells;
        assert_eq!(q(&s), [("BTC", dec!(0.3)), ("ETH", dec!(1))]);
    }

    #[test]
    fn from_overweights_takes_the_rest_pro_rata() {
        // 40 out at a cost rate of 1%: gross 40.4. After: value 60, targets 30 each; excess
        // BTC 30, ETH 10 = 40 < 40.4. Each sells its excess, and the 0.4 left comes pro rata
        // from the 60 beyond the excesses: BTC 30 + 30 × 0.4 / 60 = 30.2, ETH 10 + 30 × 0.4 /
        // 60 = 10.2.
        let s = plan(
            dec!(0),
            dec!(40),
            dec!(100),
            dec!(0.01),
            true,
            &RuleBook::new(),
        )
        .unwrap()
        .sells;
        assert_eq!(q(&s), [("BTC", dec!(0.302)), ("ETH", dec!(1.02))]);
    }

    fn rules(entries: &[(&str, InstrumentRules)]) -> RuleBook {
        let mut book = RuleBook::new();
        for (a, r) in entries {
            book.insert(a, r.clone()).unwrap();
        }
        book
    }

    fn min_notional(m: Decimal) -> InstrumentRules {
        InstrumentRules {
            min_notional: Some(m),
            ..Default::default()
        }
    }

    #[test]
    fn lot_steps_round_up_and_a_share_below_a_minimum_moves_to_the_other_sells() {
        let book = rules(&[
            (
                "BTC",
                InstrumentRules {
                    lot_step: Some(dec!(0.1)),
                    ..Default::default()
                },
            ),
            ("ETH", min_notional(dec!(5))),
        ]);
        // Pro rata 10: ETH's share 4 < 5 does not sell; BTC raises all 10: 0.1 (one lot).
        let w = plan(dec!(0), dec!(10), dec!(100), dec!(0), false, &book).unwrap();
        assert_eq!(q(&w.sells), [("BTC", dec!(0.1))]);
        assert_eq!(w.skipped.len(), 1);
        assert_eq!(w.skipped[0].asset, "ETH");
        assert!(
            w.skipped[0].reason.contains("minimum notional 5")
                && w.skipped[0].reason.contains("other sells raise it"),
            "{}",
            w.skipped[0].reason
        );
        // 20: BTC's share 12 rounds up to 0.2 (20); ETH's 8 sells.
        let w = plan(dec!(0), dec!(20), dec!(100), dec!(0), false, &book).unwrap();
        assert_eq!(q(&w.sells), [("BTC", dec!(0.2)), ("ETH", dec!(0.8))]);
        assert!(w.skipped.is_empty());
    }

    #[test]
    fn the_sells_always_raise_the_amount() {
        // Both below the minimum of 5 on their own (the issue's `withdraw 7` from no cash):
        // the smaller share moves, the larger sell raises everything.
        let book = rules(&[
            ("BTC", min_notional(dec!(5))),
            ("ETH", min_notional(dec!(5))),
        ]);
        let w = plan(dec!(0), dec!(7), dec!(100), dec!(0.003), false, &book).unwrap();
        let raised: Decimal = w.sells.iter().map(|s| s.quantity * s.price).sum();
        assert!(raised >= dec!(7) * dec!(1.003), "{w:?}");
        assert_eq!(q(&w.sells), [("BTC", dec!(0.07021))]);
        assert_eq!(w.skipped[0].asset, "ETH");
        // 3 is below every minimum: one sell at the minimum; the surplus stays as cash.
        let w = plan(dec!(0), dec!(3), dec!(100), dec!(0), false, &book).unwrap();
        assert_eq!(q(&w.sells), [("BTC", dec!(0.05))]);
        assert!(w.sells[0].reason.contains("minimum"), "{w:?}");
    }

    #[test]
    fn more_than_the_sells_can_raise_is_refused_with_the_largest_amount() {
        // Everything, with a cost rate of 1%: the holdings raise 100, so at most 100 / 1.01.
        let e = plan(
            dec!(0),
            dec!(100),
            dec!(100),
            dec!(0.01),
            false,
            &RuleBook::new(),
        )
        .unwrap_err();
        assert_eq!(e.largest, dec!(99.00990099));
        assert!(
            plan(
                dec!(0),
                e.largest,
                dec!(100),
                dec!(0.01),
                false,
                &RuleBook::new()
            )
            .is_ok()
        );
        // A holding too small to sell at all counts for nothing, and is named.
        let book = rules(&[("ETH", min_notional(dec!(50)))]);
        let e = plan(dec!(5), dec!(80), dec!(105), dec!(0), false, &book).unwrap_err();
        assert_eq!(e.largest, dec!(65));
        assert!(e.reason.contains("ETH cannot be sold"), "{}", e.reason);
    }
}
