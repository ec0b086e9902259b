//! The plan of SPEC §3: from holdings to trades.
//!
//! 1. **Exact plan.** The post-fee value `V'` solves `V' = V − f Σ|t_i V' − h_i|` over the
//!    non-quote assets ([`crate::fee::post_fee_value`], on `Decimal`); every asset goes to
//!    `t_i V'`, so leg `i` trades `Δ_i = t_i V' − h_i` of quote (a sell when negative). With
//!    `f = 0`, `V' = V` and the plan is the fee-free one of the worked examples.
//! 2. **Exchange rules.** Quantities are rounded down to the lot step (a sell never exceeds the
//!    holding); limit prices are rounded to the tick (buys down, sells up); a leg under the
//!    minimum size or notional is skipped and reported with its reason.
//! 3. **Cash.** Sells execute first. If rounding, skipped sells or fees leave the buys short of
//!    cash, the buys are scaled down pro rata (then rounded again), so a plan never spends more
//!    than the cash it has. Fees are paid in quote on every leg's notional.
//! 4. **Report.** The value before and after, the fees, each leg, each skipped leg, the weights
//!    and the maximum deviation before and after. The "after" figures are those the rounded plan
//!    produces at the marks, not those of the exact plan.
//!
//! A leg with `Δ_i = 0` is not a trade. Without a lot step the quote amount of a leg is exact
//! (`|Δ_i|`) and its quantity is `|Δ_i| / p_i`; with one, the notional is `quantity × p_i`.

use crate::error::ValidationError;
use crate::fee::post_fee_value;
use crate::portfolio::{Portfolio, max_abs_deviation};
use crate::rules::{RuleBook, SkipReason, round_down_to_step};
use rust_decimal::Decimal;
use std::fmt;

/// Highest accepted proportional fee rate (10%).
pub fn max_fee_rate() -> Decimal {
    Decimal::new(1, 1)
}

/// What the planner needs besides the portfolio.
#[derive(Debug, Clone, Copy)]
pub struct PlanOptions<'a> {
    /// Proportional fee on traded notional, paid in quote (0.001 is 0.1%).
    pub fee_rate: Decimal,
    /// Instrument rules per asset; assets without rules are not rounded.
    pub rules: &'a RuleBook,
    /// Entry prices of assets whose initial buy is still pending: the buy waits until the price
    /// is at or below its entry price (SPEC §6). Pass only assets not yet bought.
    pub entry_prices: &'a [(String, Decimal)],
}

static NO_RULES: RuleBook = RuleBook::new();

impl Default for PlanOptions<'_> {
    fn default() -> Self {
        Self {
            fee_rate: Decimal::ZERO,
            rules: &NO_RULES,
            entry_prices: &[],
        }
    }
}

/// A buy or a sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One trade of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub asset: String,
    pub side: Side,
    /// Units to trade (a multiple of the lot step when there is one).
    pub quantity: Decimal,
    /// Quote amount at the mark.
    pub notional: Decimal,
    /// Fee estimate in quote: `fee_rate × notional`.
    pub fee: Decimal,
    /// The mark used for valuation.
    pub price: Decimal,
    /// The limit price, rounded to the tick size (buys down, sells up); the mark without one.
    pub limit_price: Decimal,
    /// The leg of the exact plan, `|Δ_i|`, before rounding and scaling.
    pub exact_notional: Decimal,
    /// Why this leg, and what rounding or scaling changed.
    pub reason: String,
}

/// A leg of the exact plan that is not traded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLeg {
    pub asset: String,
    pub side: Side,
    /// The quantity that was considered (after rounding and scaling).
    pub quantity: Decimal,
    /// The exact plan's notional `|Δ_i|`.
    pub notional: Decimal,
    pub reason: SkipReason,
}

/// A plan and its report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub quote: String,
    /// The portfolio's assets (targets in order, then held assets without a target).
    pub assets: Vec<String>,
    pub targets: Vec<Decimal>,
    pub fee_rate: Decimal,
    /// `V` before trading.
    pub value: Decimal,
    /// `V'` of the exact plan.
    pub exact_value_after: Decimal,
    /// Value after the rounded plan at the marks: `value − fees`.
    pub value_after: Decimal,
    /// Fees of the rounded plan, in quote.
    pub fees: Decimal,
    pub cash_before: Decimal,
    pub cash_after: Decimal,
    pub quantities_after: Vec<Decimal>,
    /// `w_i` per asset before and after (the quote's entry, if it has a target, is its cash).
    pub weights_before: Vec<Decimal>,
    pub weights_after: Vec<Decimal>,
    /// Weight of cash held outside the basket (when the quote has no target), before and after.
    pub loose_cash_weight_before: Option<Decimal>,
    pub loose_cash_weight_after: Option<Decimal>,
    /// `max_i |w_i − t_i|` in pp, before and after.
    pub max_deviation_before_pp: Decimal,
    pub max_deviation_after_pp: Decimal,
    /// Sells first, then buys, each in asset order.
    pub trades: Vec<Leg>,
    pub skipped: Vec<SkippedLeg>,
    /// The factor buys were scaled by for lack of cash, if they were.
    pub buy_scale: Option<Decimal>,
}

/// A leg being worked on.
struct Draft {
    i: usize,
    side: Side,
    exact: Decimal,
    quantity: Decimal,
    notional: Decimal,
    notes: Vec<String>,
    skip: Option<SkipReason>,
}

fn fmt_pct(x: Decimal) -> String {
    (x * Decimal::ONE_HUNDRED)
        .round_dp(6)
        .normalize()
        .to_string()
}

/// Size a leg of `target_notional` quote at `price`: rounded down to the lot step when there
/// is one (the notional is then `quantity × price`), exact otherwise.
fn size(
    rules: &crate::rules::InstrumentRules,
    target_notional: Decimal,
    price: Decimal,
    cap_quantity: Option<Decimal>,
) -> (Decimal, Decimal) {
    let mut qty = target_notional / price;
    if let Some(cap) = cap_quantity {
        qty = qty.min(cap);
    }
    match rules.lot_step {
        Some(step) => {
            let q = round_down_to_step(qty, step);
            (q, q * price)
        }
        None => {
            // The quotient is rounded in its 28th digit; never let it buy or sell more than
            // the notional (or the cap) allows.
            if qty * price > target_notional && !qty.is_zero() {
                qty -= Decimal::new(1, qty.scale());
            }
            (qty, target_notional)
        }
    }
}

/// Plan the trades that put `portfolio` back on its targets (SPEC §3).
pub fn plan(portfolio: &Portfolio, opts: &PlanOptions<'_>) -> Result<Plan, ValidationError> {
    let f = opts.fee_rate;
    if f < Decimal::ZERO || f > max_fee_rate() {
        return Err(ValidationError::new(
            "fee-rate",
            f.to_string(),
            "a proportional fee rate in [0, 0.1] (0.001 is 0.1%)",
        ));
    }
    let n = portfolio.assets().len();
    let quote_index = portfolio.quote_index();
    let prices = portfolio.prices();
    let quantities = portfolio.quantities();
    let targets = portfolio.targets();
    let traded: Vec<usize> = (0..n).filter(|&i| Some(i) != quote_index).collect();

    let value = portfolio.value();
    let t_nq: Vec<Decimal> = traded.iter().map(|&i| targets[i]).collect();
    let h_nq: Vec<Decimal> = traded.iter().map(|&i| portfolio.holding_value(i)).collect();
    let v_exact = post_fee_value(value, f, &t_nq, &h_nq);

    // 1-2. Exact legs, then rounding and minimums.
    let mut drafts: Vec<Draft> = Vec::new();
    for &i in &traded {
        let h = portfolio.holding_value(i);
        let delta = targets[i] * v_exact - h;
        if delta.is_zero() {
            continue;
        }
        let asset = &portfolio.assets()[i];
        let rules = opts.rules.get(asset);
        let p = prices[i];
        let target_note = format!("to target {}%", fmt_pct(targets[i]));
        let mut d = if delta < Decimal::ZERO {
            let exact = -delta;
            // Selling all of it: the whole holding, not a quotient that might exceed it.
            let (mut qty, mut notional) = size(rules, exact, p, Some(quantities[i]));
            if exact >= h && rules.lot_step.is_none() {
                qty = quantities[i];
                notional = h;
            }
            Draft {
                i,
                side: Side::Sell,
                exact,
                quantity: qty,
                notional,
                notes: vec![target_note],
                skip: None,
            }
        } else {
            let (qty, notional) = size(rules, delta, p, None);
            Draft {
                i,
                side: Side::Buy,
                exact: delta,
                quantity: qty,
                notional,
                notes: vec![target_note],
                skip: None,
            }
        };
        if let Some(step) = rules.lot_step {
            let raw = match d.side {
                Side::Sell => (d.exact / p).min(quantities[i]),
                Side::Buy => d.exact / p,
            };
            if raw != d.quantity {
                d.notes.push(format!(
                    "quantity {} rounded down to lot step {}",
                    raw.round_dp(10).normalize(),
                    step.normalize()
                ));
            }
        }
        if d.side == Side::Buy
            && let Some((_, entry)) = opts
                .entry_prices
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(asset))
            && !crate::risk::entry_allowed(p, Some(*entry))
        {
            d.skip = Some(SkipReason::AwaitingEntryPrice {
                price: p,
                entry_price: *entry,
            });
        }
        if d.skip.is_none() {
            d.skip = rules.check(d.quantity, p);
        }
        drafts.push(d);
    }

    // 3. Cash: sells fund the buys; scale buys down if they would overspend. The cash is
    // followed leg by leg in execution order, exactly as the report (and an executor) does.
    let cash = portfolio.cash();
    let available = drafts
        .iter()
        .filter(|d| d.skip.is_none() && d.side == Side::Sell)
        .fold(cash, |c, d| c + (d.notional - d.notional * f));
    let cash_left = |drafts: &[Draft]| -> Decimal {
        drafts
            .iter()
            .filter(|d| d.skip.is_none() && d.side == Side::Buy)
            .fold(available, |c, d| c - (d.notional + d.notional * f))
    };
    let mut buy_scale = None;
    if cash_left(&drafts) < Decimal::ZERO {
        let total: Decimal = drafts
            .iter()
            .filter(|d| d.skip.is_none() && d.side == Side::Buy)
            .map(|d| d.notional + d.notional * f)
            .sum();
        if available <= Decimal::ZERO {
            for d in drafts.iter_mut().filter(|d| d.side == Side::Buy) {
                if d.skip.is_none() {
                    d.skip = Some(SkipReason::NoCash);
                }
            }
        } else {
            let k = available / total;
            buy_scale = Some(k);
            for d in drafts.iter_mut().filter(|d| d.side == Side::Buy) {
                if d.skip.is_some() {
                    continue;
                }
                let rules = opts.rules.get(&portfolio.assets()[d.i]);
                let (q, notional) = size(rules, d.notional * k, prices[d.i], None);
                d.quantity = q;
                d.notional = notional;
                d.notes.push(format!(
                    "scaled by {} for lack of cash",
                    k.round_dp(8).normalize()
                ));
                if let Some(reason) = rules.check(q, prices[d.i]) {
                    d.skip = Some(SkipReason::ScaledBelowMinimum {
                        scale: k,
                        detail: Box::new(reason),
                    });
                }
            }
        }
        // Decimal rounding in the 28th digit may leave a dust overspend: trim the largest buy,
        // and as a last resort drop buys, until the cash never goes below zero.
        let n_drafts = drafts.len();
        for round in 0..(2 * n_drafts + 4) {
            let over = -cash_left(&drafts);
            if over <= Decimal::ZERO {
                break;
            }
            let Some(j) = (0..drafts.len())
                .filter(|&j| drafts[j].skip.is_none() && drafts[j].side == Side::Buy)
                .max_by_key(|&j| drafts[j].notional)
            else {
                break;
            };
            let d = &mut drafts[j];
            let rules = opts.rules.get(&portfolio.assets()[d.i]);
            // Trim at least one unit in the notional's last digit: an overspend below that
            // would otherwise leave the notional unchanged. Re-sizing (quantity = notional /
            // price, notional = quantity × price) can round back up by a few units of that
            // digit, so each round trims ten times more (still dust: at most 10^12 units of the
            // 28th significant digit) before a buy is ever dropped.
            let ulp = Decimal::new(1, d.notional.scale());
            let trim = over.max(ulp) * Decimal::from(10u64.pow(round.min(12) as u32));
            let (q, notional) = size(rules, d.notional - trim, prices[d.i], None);
            if round > n_drafts || q <= Decimal::ZERO || notional <= Decimal::ZERO {
                d.skip = Some(SkipReason::NoCash);
                continue;
            }
            d.quantity = q;
            d.notional = notional;
            if let Some(reason) = rules.check(q, prices[d.i]) {
                d.skip = Some(SkipReason::ScaledBelowMinimum {
                    scale: buy_scale.unwrap_or(Decimal::ONE),
                    detail: Box::new(reason),
                });
            }
        }
    }

    // 4. The report, from what the rounded plan actually does.
    let mut values_after: Vec<Decimal> = (0..n).map(|i| portfolio.holding_value(i)).collect();
    let mut quantities_after = quantities.to_vec();
    let mut cash_after = portfolio.cash();
    let mut fees = Decimal::ZERO;
    let mut trades = Vec::new();
    let mut skipped = Vec::new();
    // Execution order: sells first, then buys (the sort is stable, so asset order within each).
    drafts.sort_by_key(|d| d.side == Side::Buy);
    for d in drafts {
        let asset = portfolio.assets()[d.i].clone();
        if let Some(reason) = d.skip {
            skipped.push(SkippedLeg {
                asset,
                side: d.side,
                quantity: d.quantity,
                notional: d.exact,
                reason,
            });
            continue;
        }
        let rules = opts.rules.get(&asset);
        let fee = d.notional * f;
        fees += fee;
        let p = prices[d.i];
        let leg = match d.side {
            Side::Sell => {
                values_after[d.i] -= d.notional;
                quantities_after[d.i] -= d.quantity;
                cash_after += d.notional - fee;
                Leg {
                    limit_price: rules.sell_price(p),
                    ..leg(asset, d, fee, p)
                }
            }
            Side::Buy => {
                values_after[d.i] += d.notional;
                quantities_after[d.i] += d.quantity;
                cash_after -= d.notional + fee;
                Leg {
                    limit_price: rules.buy_price(p),
                    ..leg(asset, d, fee, p)
                }
            }
        };
        trades.push(leg);
    }
    if let Some(q) = quote_index {
        values_after[q] = cash_after;
        quantities_after[q] = cash_after;
    }
    let value_after = cash_after + traded.iter().map(|&i| values_after[i]).sum::<Decimal>();
    let weights_before = portfolio.weights();
    let weights_after: Vec<Decimal> = if value_after > Decimal::ZERO {
        values_after.iter().map(|v| *v / value_after).collect()
    } else {
        vec![Decimal::ZERO; n]
    };
    let loose_cash_weight_after = match quote_index {
        Some(_) => None,
        None if value_after > Decimal::ZERO => Some(cash_after / value_after),
        None => Some(Decimal::ZERO),
    };
    Ok(Plan {
        quote: portfolio.quote().to_string(),
        assets: portfolio.assets().to_vec(),
        targets: targets.to_vec(),
        fee_rate: f,
        value,
        exact_value_after: v_exact,
        value_after,
        fees,
        cash_before: portfolio.cash(),
        cash_after,
        quantities_after,
        max_deviation_before_pp: max_abs_deviation(&weights_before, targets) * Decimal::ONE_HUNDRED,
        max_deviation_after_pp: max_abs_deviation(&weights_after, targets) * Decimal::ONE_HUNDRED,
        weights_before,
        weights_after,
        loose_cash_weight_before: portfolio.loose_cash_weight(),
        loose_cash_weight_after,
        trades,
        skipped,
        buy_scale,
    })
}

fn leg(asset: String, d: Draft, fee: Decimal, price: Decimal) -> Leg {
    Leg {
        asset,
        side: d.side,
        quantity: d.quantity,
        notional: d.notional,
        fee,
        price,
        limit_price: price,
        exact_notional: d.exact,
        reason: d.notes.join("; "),
    }
}

impl Plan {
    /// Whether the plan trades anything.
    pub fn is_empty(&self) -> bool {
        self.trades.is_empty()
    }

    /// The trade of `asset`, if any.
    pub fn trade(&self, asset: &str) -> Option<&Leg> {
        self.trades
            .iter()
            .find(|l| l.asset.eq_ignore_ascii_case(asset))
    }
}

/// The smallest investment from cash whose initial plan (fee-free) keeps every leg at or above
/// its instrument's minimum notional and minimum size (SPEC §6 "Create"): the largest of
/// `min_notional_i / t_i` and `min_size_i × p_i / t_i` over assets with a target > 0. Lot-step
/// rounding can still shave a leg below its minimum, so callers should add a margin of one lot.
pub fn minimum_investment(portfolio: &Portfolio, rules: &RuleBook) -> Decimal {
    let mut need = Decimal::ZERO;
    for (i, asset) in portfolio.assets().iter().enumerate() {
        let t = portfolio.targets()[i];
        if Some(i) == portfolio.quote_index() || t <= Decimal::ZERO {
            continue;
        }
        let r = rules.get(asset);
        if let Some(m) = r.min_notional {
            need = need.max(m / t);
        }
        if let Some(m) = r.min_size {
            need = need.max(m * portfolio.prices()[i] / t);
        }
    }
    need
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::InstrumentRules;
    use crate::targets::Targets;
    use rust_decimal_macros::dec;

    fn pairs(items: &[(&str, Decimal)]) -> Vec<(String, Decimal)> {
        items.iter().map(|(a, v)| (a.to_string(), *v)).collect()
    }

    fn portfolio(
        targets: &str,
        cash: Decimal,
        holdings: &[(&str, Decimal)],
        prices: &[(&str, Decimal)],
    ) -> Portfolio {
        Portfolio::new(
            &Targets::parse(targets).unwrap(),
            "USDT",
            cash,
            &pairs(holdings),
            &pairs(prices),
        )
        .unwrap()
    }

    fn legs(p: &Plan) -> Vec<(String, Side, Decimal)> {
        p.trades
            .iter()
            .map(|l| (l.asset.clone(), l.side, l.notional))
            .collect()
    }

    fn leg_of(a: &str, s: Side, n: Decimal) -> (String, Side, Decimal) {
        (a.to_string(), s, n)
    }

    #[test]
    fn spec_example_1_to_the_cent() {
        // $5,500 of BTC, $2,850 of ETH, $2,100 of SOL against 50/30/20.
        let p = portfolio(
            "BTC=50,ETH=30,SOL=20",
            Decimal::ZERO,
            &[("BTC", dec!(0.11)), ("ETH", dec!(1.14)), ("SOL", dec!(14))],
            &[
                ("BTC", dec!(50000)),
                ("ETH", dec!(2500)),
                ("SOL", dec!(150)),
            ],
        );
        let plan = plan(&p, &PlanOptions::default()).unwrap();
        assert_eq!(plan.value, dec!(10450));
        assert_eq!(
            legs(&plan),
            vec![
                leg_of("BTC", Side::Sell, dec!(275)),
                leg_of("SOL", Side::Sell, dec!(10)),
                leg_of("ETH", Side::Buy, dec!(285)),
            ]
        );
        assert_eq!(plan.trade("BTC").unwrap().quantity, dec!(0.0055));
        assert_eq!(plan.trade("ETH").unwrap().quantity, dec!(0.114));
        assert_eq!(plan.weights_after, vec![dec!(0.5), dec!(0.3), dec!(0.2)]);
        assert_eq!(plan.value_after, dec!(10450));
        assert_eq!(plan.fees, Decimal::ZERO);
        assert_eq!(plan.cash_after, Decimal::ZERO);
        assert_eq!(plan.max_deviation_after_pp, Decimal::ZERO);
        assert!(plan.skipped.is_empty());
    }

    #[test]
    fn spec_example_2() {
        let p = portfolio(
            "BTC=50,ETH=50",
            Decimal::ZERO,
            &[("BTC", dec!(60)), ("ETH", dec!(80))],
            &[("BTC", dec!(1)), ("ETH", dec!(1))],
        );
        let plan = plan(&p, &PlanOptions::default()).unwrap();
        assert_eq!(
            legs(&plan),
            vec![
                leg_of("ETH", Side::Sell, dec!(10)),
                leg_of("BTC", Side::Buy, dec!(10)),
            ]
        );
        assert_eq!(plan.quantities_after, vec![dec!(70), dec!(70)]);
        assert_eq!(plan.value_after, dec!(140));
    }

    #[test]
    fn spec_example_3() {
        let p = portfolio(
            "BTC=50,ETH=50",
            Decimal::ZERO,
            &[("BTC", dec!(520)), ("ETH", dec!(480))],
            &[("BTC", dec!(1)), ("ETH", dec!(1))],
        );
        let plan = plan(&p, &PlanOptions::default()).unwrap();
        assert_eq!(
            legs(&plan),
            vec![
                leg_of("BTC", Side::Sell, dec!(20)),
                leg_of("ETH", Side::Buy, dec!(20)),
            ]
        );
        assert_eq!(plan.max_deviation_before_pp, dec!(2));
    }

    #[test]
    fn on_target_is_no_trade() {
        let p = portfolio(
            "BTC=50,ETH=50",
            Decimal::ZERO,
            &[("BTC", dec!(1)), ("ETH", dec!(20))],
            &[("BTC", dec!(100)), ("ETH", dec!(5))],
        );
        let plan = plan(&p, &PlanOptions::default()).unwrap();
        assert!(plan.is_empty());
        assert!(plan.skipped.is_empty());
    }

    #[test]
    fn fees_solve_the_exact_model() {
        let p = portfolio(
            "BTC=50,ETH=30,SOL=20",
            Decimal::ZERO,
            &[("BTC", dec!(0.11)), ("ETH", dec!(1.14)), ("SOL", dec!(14))],
            &[
                ("BTC", dec!(50000)),
                ("ETH", dec!(2500)),
                ("SOL", dec!(150)),
            ],
        );
        let f = dec!(0.001);
        let plan = plan(
            &p,
            &PlanOptions {
                fee_rate: f,
                ..Default::default()
            },
        )
        .unwrap();
        let vp = plan.exact_value_after;
        // V' = V − f Σ|t_i V' − h_i|, by hand: all three legs keep their signs, so
        // V' = (V + f(h_ETH − h_BTC − h_SOL)) / (1 + f(t_ETH − t_BTC − t_SOL)).
        let by_hand = (dec!(10450) + f * (dec!(2850) - dec!(5500) - dec!(2100)))
            / (Decimal::ONE + f * (dec!(0.3) - dec!(0.5) - dec!(0.2)));
        assert_eq!(vp, by_hand);
        assert!((plan.fees - (dec!(10450) - vp)).abs() < dec!(1e-20));
        assert!((plan.value_after - vp).abs() < dec!(1e-20));
        assert!(plan.cash_after >= Decimal::ZERO);
        assert!(plan.cash_after < dec!(1e-20));
        for (w, t) in plan.weights_after.iter().zip(&plan.targets) {
            assert!((*w - *t).abs() < dec!(1e-20), "{w} vs {t}");
        }
    }

    fn rules(lot: &str, min_notional: &str) -> InstrumentRules {
        InstrumentRules {
            lot_step: Some(lot.parse().unwrap()),
            min_notional: Some(min_notional.parse().unwrap()),
            ..Default::default()
        }
    }

    #[test]
    fn rounding_skipping_and_reporting() {
        let p = portfolio(
            "BTC=50,ETH=30,SOL=20",
            Decimal::ZERO,
            &[("BTC", dec!(0.11)), ("ETH", dec!(1.14)), ("SOL", dec!(14))],
            &[
                ("BTC", dec!(50000)),
                ("ETH", dec!(2500)),
                ("SOL", dec!(150)),
            ],
        );
        let mut book = RuleBook::new();
        book.insert("BTC", rules("0.0001", "5")).unwrap();
        book.insert("ETH", rules("0.01", "5")).unwrap();
        book.insert("SOL", rules("0.01", "20")).unwrap();
        let plan = plan(
            &p,
            &PlanOptions {
                rules: &book,
                ..Default::default()
            },
        )
        .unwrap();
        // BTC: 0.0055 is on the step; ETH: 0.114 → 0.11 (275 of quote); SOL: 0.0666… → 0.06, $9 < $20, skipped.
        assert_eq!(
            legs(&plan),
            vec![
                leg_of("BTC", Side::Sell, dec!(275)),
                leg_of("ETH", Side::Buy, dec!(275)),
            ]
        );
        assert_eq!(plan.trade("ETH").unwrap().quantity, dec!(0.11));
        assert!(plan.trade("ETH").unwrap().reason.contains("lot step 0.01"));
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].asset, "SOL");
        assert_eq!(plan.skipped[0].notional, dec!(10));
        assert_eq!(
            plan.skipped[0].reason,
            SkipReason::BelowMinNotional {
                notional: dec!(9),
                min_notional: dec!(20)
            }
        );
        assert_eq!(plan.cash_after, dec!(0));
        assert_eq!(plan.weights_after[1], dec!(3125) / dec!(10450));
        assert_eq!(plan.buy_scale, None);
    }

    #[test]
    fn buys_are_scaled_when_a_sell_is_skipped() {
        // ETH must sell 10 but its minimum notional is 20: the two buys share what cash there is.
        let p = portfolio(
            "BTC=25,ETH=25,SOL=50",
            dec!(5),
            &[("BTC", dec!(20)), ("ETH", dec!(35)), ("SOL", dec!(40))],
            &[("BTC", dec!(1)), ("ETH", dec!(1)), ("SOL", dec!(1))],
        );
        let mut book = RuleBook::new();
        book.insert("ETH", rules("1", "20")).unwrap();
        let plan = plan(
            &p,
            &PlanOptions {
                rules: &book,
                ..Default::default()
            },
        )
        .unwrap();
        // Exact plan: BTC +5, ETH −10, SOL +10. Without the ETH sell only 5 of cash remains.
        assert_eq!(plan.skipped[0].asset, "ETH");
        let k = plan.buy_scale.expect("scaled");
        assert_eq!(k, dec!(5) / dec!(15));
        let spent: Decimal = plan.trades.iter().map(|l| l.notional).sum();
        assert!(spent <= dec!(5));
        assert!(plan.cash_after >= Decimal::ZERO);
    }

    #[test]
    fn entry_price_defers_a_buy() {
        let p = portfolio(
            "BTC=50,ETH=50",
            dec!(1000),
            &[],
            &[("BTC", dec!(50000)), ("ETH", dec!(2500))],
        );
        let entries = pairs(&[("ETH", dec!(2400))]);
        let plan = plan(
            &p,
            &PlanOptions {
                entry_prices: &entries,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(legs(&plan), vec![leg_of("BTC", Side::Buy, dec!(500))]);
        assert!(matches!(
            plan.skipped[0].reason,
            SkipReason::AwaitingEntryPrice { .. }
        ));
        assert_eq!(plan.cash_after, dec!(500));
    }

    #[test]
    fn selling_out_of_an_untargeted_holding_sells_all_of_it() {
        let p = portfolio(
            "BTC=50,ETH=50",
            Decimal::ZERO,
            &[("BTC", dec!(1)), ("ETH", dec!(1)), ("DOGE", dec!(333.333))],
            &[("BTC", dec!(7)), ("ETH", dec!(3)), ("DOGE", dec!(0.03))],
        );
        let plan = plan(&p, &PlanOptions::default()).unwrap();
        let doge = plan.trade("DOGE").unwrap();
        assert_eq!(doge.side, Side::Sell);
        assert_eq!(doge.quantity, dec!(333.333));
        assert_eq!(plan.quantities_after[2], Decimal::ZERO);
    }

    #[test]
    fn tick_size_rounds_limit_prices_away_from_the_trader() {
        let p = portfolio(
            "BTC=50,ETH=50",
            Decimal::ZERO,
            &[("BTC", dec!(1)), ("ETH", dec!(1))],
            &[("BTC", dec!(101.37)), ("ETH", dec!(90.33))],
        );
        let mut book = RuleBook::new();
        let tick = InstrumentRules {
            tick_size: Some(dec!(0.1)),
            ..Default::default()
        };
        book.insert("BTC", tick.clone()).unwrap();
        book.insert("ETH", tick).unwrap();
        let plan = plan(
            &p,
            &PlanOptions {
                rules: &book,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(plan.trade("BTC").unwrap().limit_price, dec!(101.4));
        assert_eq!(plan.trade("ETH").unwrap().limit_price, dec!(90.3));
    }

    #[test]
    fn bad_fee_rate_is_rejected() {
        let p = portfolio(
            "BTC=50,ETH=50",
            dec!(10),
            &[],
            &[("BTC", dec!(1)), ("ETH", dec!(1))],
        );
        let e = plan(
            &p,
            &PlanOptions {
                fee_rate: dec!(-0.001),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.field, "fee-rate");
    }

    #[test]
    fn minimum_investment_covers_every_minimum() {
        let p = portfolio(
            "BTC=50,ETH=30,SOL=20",
            dec!(1),
            &[],
            &[
                ("BTC", dec!(50000)),
                ("ETH", dec!(2500)),
                ("SOL", dec!(150)),
            ],
        );
        let mut book = RuleBook::new();
        book.insert("SOL", rules("0.01", "5")).unwrap();
        book.insert("BTC", rules("0.00001", "5")).unwrap();
        assert_eq!(minimum_investment(&p, &book), dec!(25));
    }
}
