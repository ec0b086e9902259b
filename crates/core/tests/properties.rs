//! Property tests of the planner (issue 2): weights sum to 1; a fee-free plan puts every weight
//! exactly on target; a plan never sells more than held nor spends more than its cash; the V'
//! solver agrees with a brute-force root search; rounding keeps lot steps and minimums.

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use smartfolio_core::fee::post_fee_value;
use smartfolio_core::{InstrumentRules, PlanOptions, Portfolio, RuleBook, Side, Targets, plan};

/// Integer percents summing to exactly 100, 2..=8 assets, each may be 0.
fn percents() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(0u32..=100, 2..=8).prop_filter_map("needs a positive sum", |raw| {
        let sum: u32 = raw.iter().sum();
        if sum == 0 {
            return None;
        }
        let mut p: Vec<u32> = raw.iter().map(|r| r * 100 / sum).collect();
        let rest = 100 - p.iter().sum::<u32>();
        p[0] += rest;
        Some(p)
    })
}

/// A decimal with `dp` decimal places from an integer mantissa.
fn dec(mantissa: u64, dp: u32) -> Decimal {
    Decimal::new(mantissa as i64, dp)
}

#[derive(Debug, Clone)]
struct Case {
    percents: Vec<u32>,
    /// Units with 8 decimals.
    quantities: Vec<Decimal>,
    /// Prices with 2 decimals, > 0.
    prices: Vec<Decimal>,
    cash: Decimal,
    /// Whether the first asset is the quote (USDT), whose holding is the cash.
    quote_in_basket: bool,
}

fn cases() -> impl Strategy<Value = Case> {
    percents().prop_flat_map(|p| {
        let n = p.len();
        (
            Just(p),
            prop::collection::vec(0u64..=10_000_000_000, n),
            prop::collection::vec(1u64..=10_000_000, n),
            0u64..=1_000_000,
            any::<bool>(),
        )
            .prop_filter_map("portfolio worth something", |(p, q, px, cash, qib)| {
                let quantities: Vec<Decimal> = q.iter().map(|&m| dec(m, 8)).collect();
                let prices: Vec<Decimal> = px.iter().map(|&m| dec(m, 2)).collect();
                let cash = dec(cash, 2);
                let skip = usize::from(qib);
                let value: Decimal = cash
                    + quantities
                        .iter()
                        .zip(&prices)
                        .skip(skip)
                        .map(|(q, p)| q * p)
                        .sum::<Decimal>();
                (value > Decimal::ONE).then_some(Case {
                    percents: p,
                    quantities,
                    prices,
                    cash,
                    quote_in_basket: qib,
                })
            })
    })
}

fn names(n: usize, quote_in_basket: bool) -> Vec<String> {
    (0..n)
        .map(|i| {
            if i == 0 && quote_in_basket {
                "USDT".to_string()
            } else {
                format!("A{i}")
            }
        })
        .collect()
}

fn portfolio(c: &Case) -> Portfolio {
    let assets = names(c.percents.len(), c.quote_in_basket);
    let pct: Vec<Decimal> = c.percents.iter().map(|&p| Decimal::from(p)).collect();
    let targets = Targets::from_pairs(&assets, &pct).unwrap();
    let skip = usize::from(c.quote_in_basket);
    let holdings: Vec<(String, Decimal)> = assets
        .iter()
        .cloned()
        .zip(c.quantities.iter().copied())
        .skip(skip)
        .collect();
    let prices: Vec<(String, Decimal)> = assets
        .iter()
        .cloned()
        .zip(c.prices.iter().copied())
        .skip(skip)
        .collect();
    Portfolio::new(&targets, "USDT", c.cash, &holdings, &prices).unwrap()
}

/// Rules per asset: lot step 10^-k (k in 0..=6), a minimum notional 0..=20 and a minimum size.
fn rulebooks(n: usize) -> impl Strategy<Value = RuleBook> {
    prop::collection::vec((0u32..=6, 0u64..=20, 0u32..=3, any::<bool>()), n).prop_map(
        move |specs| {
            let mut book = RuleBook::new();
            for (i, (k, min_notional, size_dp, has)) in specs.into_iter().enumerate() {
                if !has {
                    continue;
                }
                let step = Decimal::new(1, k);
                book.insert(
                    &format!("A{i}"),
                    InstrumentRules {
                        lot_step: Some(step),
                        min_size: Some(step * Decimal::from(size_dp)),
                        min_notional: Some(Decimal::from(min_notional)),
                        tick_size: Some(Decimal::new(1, 2)),
                    },
                )
                .unwrap();
            }
            book
        },
    )
}

fn fee_rates() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        Just(Decimal::ZERO),
        (0u64..=100).prop_map(|bp| Decimal::new(bp as i64, 4))
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn weights_sum_to_one(c in cases()) {
        let p = portfolio(&c);
        let sum: Decimal = p.weights().iter().copied().sum::<Decimal>()
            + p.loose_cash_weight().unwrap_or(Decimal::ZERO);
        prop_assert!((sum - Decimal::ONE).abs() < Decimal::new(1, 24), "sum {}", sum);
        let t: Decimal = p.targets().iter().copied().sum();
        prop_assert_eq!(t, Decimal::ONE);
    }

    #[test]
    fn fee_free_plan_lands_exactly_on_target(c in cases()) {
        let p = portfolio(&c);
        let plan = plan(&p, &PlanOptions::default()).unwrap();
        prop_assert_eq!(&plan.weights_after, &plan.targets);
        prop_assert_eq!(plan.value_after, plan.value);
        prop_assert_eq!(plan.fees, Decimal::ZERO);
        // Cash ends at the quote's target share (0 when the quote is not in the basket).
        let cash_target = p.quote_index().map_or(Decimal::ZERO, |q| p.targets()[q]);
        prop_assert_eq!(plan.cash_after, cash_target * plan.value);
        prop_assert_eq!(plan.max_deviation_after_pp, Decimal::ZERO);
        prop_assert!(plan.skipped.is_empty());
        prop_assert_eq!(plan.buy_scale, None);
        // Sells come before buys, and no leg is empty.
        let first_buy = plan.trades.iter().position(|l| l.side == Side::Buy).unwrap_or(plan.trades.len());
        prop_assert!(plan.trades[first_buy..].iter().all(|l| l.side == Side::Buy));
        prop_assert!(plan.trades.iter().all(|l| l.notional > Decimal::ZERO));
    }

    #[test]
    fn without_rules_no_leg_is_skipped_and_the_exact_plan_is_kept(
        (c, f) in cases().prop_flat_map(|c| (Just(c), fee_rates()))
    ) {
        // With no instrument rules nothing can make a leg untradeable: Decimal rounding in the
        // last digit must be absorbed by trimming dust, never by dropping a whole buy.
        let p = portfolio(&c);
        let plan = plan(&p, &PlanOptions { fee_rate: f, ..Default::default() }).unwrap();
        prop_assert!(plan.skipped.is_empty(), "skipped {:?}", plan.skipped);
        prop_assert!(plan.cash_after >= Decimal::ZERO);
        for (w, t) in plan.weights_after.iter().zip(&plan.targets) {
            prop_assert!((*w - *t).abs() < Decimal::new(1, 18), "weight {} vs target {}", w, t);
        }
    }

    #[test]
    fn never_sells_more_than_held_nor_spends_more_than_cash(
        (c, book, f) in cases().prop_flat_map(|c| {
            let n = c.percents.len();
            (Just(c), rulebooks(n), fee_rates())
        })
    ) {
        let p = portfolio(&c);
        let plan = plan(&p, &PlanOptions { fee_rate: f, rules: &book, ..Default::default() }).unwrap();
        let mut cash = p.cash();
        for leg in &plan.trades {
            let i = p.assets().iter().position(|a| *a == leg.asset).unwrap();
            match leg.side {
                Side::Sell => {
                    prop_assert!(leg.quantity <= p.quantities()[i], "{} sells {} of {}", leg.asset, leg.quantity, p.quantities()[i]);
                    cash += leg.notional - leg.notional * f;
                }
                Side::Buy => {
                    cash -= leg.notional + leg.notional * f;
                    // Sells come first, so every buy is funded when it executes.
                    prop_assert!(cash >= Decimal::ZERO, "overspent: cash {} after buying {}", cash, leg.asset);
                }
            }
        }
        prop_assert_eq!(cash, plan.cash_after);
        prop_assert!(plan.quantities_after.iter().all(|q| *q >= Decimal::ZERO));
        // Fees are the rate times traded notional, and value only falls by them.
        let traded: Decimal = plan.trades.iter().map(|l| l.notional).sum();
        prop_assert_eq!(plan.fees, plan.trades.iter().map(|l| l.fee).sum::<Decimal>());
        prop_assert!((plan.fees - traded * f).abs() < Decimal::new(1, 20));
        prop_assert!(plan.trades.iter().all(|l| l.fee == l.notional * f));
        prop_assert!((plan.value_after - (plan.value - plan.fees)).abs() < Decimal::new(1, 18));
    }

    #[test]
    fn rounding_keeps_lot_steps_and_minimums(
        (c, book, f) in cases().prop_flat_map(|c| {
            let n = c.percents.len();
            (Just(c), rulebooks(n), fee_rates())
        })
    ) {
        let p = portfolio(&c);
        let plan = plan(&p, &PlanOptions { fee_rate: f, rules: &book, ..Default::default() }).unwrap();
        for leg in &plan.trades {
            let r = book.get(&leg.asset);
            prop_assert!(r.on_lot_step(leg.quantity), "{} qty {} step {:?}", leg.asset, leg.quantity, r.lot_step);
            if let Some(m) = r.min_notional {
                prop_assert!(leg.notional >= m, "{} notional {} < {}", leg.asset, leg.notional, m);
            }
            if let Some(m) = r.min_size {
                prop_assert!(leg.quantity >= m);
            }
            if let Some(tick) = r.tick_size {
                prop_assert!((leg.limit_price % tick).is_zero());
                match leg.side {
                    Side::Buy => prop_assert!(leg.limit_price <= leg.price),
                    Side::Sell => prop_assert!(leg.limit_price >= leg.price),
                }
            }
            prop_assert!(leg.quantity > Decimal::ZERO);
        }
        // Every leg of the exact plan is either traded or reported as skipped.
        for (i, a) in p.assets().iter().enumerate() {
            if Some(i) == p.quote_index() {
                prop_assert!(plan.trades.iter().all(|l| l.asset != *a), "the quote is traded");
                continue;
            }
            let exact = p.targets()[i] * plan.exact_value_after - p.holding_value(i);
            if !exact.is_zero() {
                let found = plan.trades.iter().any(|l| l.asset == *a)
                    || plan.skipped.iter().any(|s| s.asset == *a);
                prop_assert!(found, "leg of {} lost", a);
            }
        }
    }

    #[test]
    fn fee_solver_agrees_with_bisection(
        (c, bp) in cases().prop_flat_map(|c| (Just(c), 1u64..=200))
    ) {
        let p = portfolio(&c);
        // Only non-quote assets trade (and pay fees); the quote's share is cash.
        let traded: Vec<usize> = (0..p.assets().len()).filter(|&i| Some(i) != p.quote_index()).collect();
        let td: Vec<Decimal> = traded.iter().map(|&i| p.targets()[i]).collect();
        let hd: Vec<Decimal> = traded.iter().map(|&i| p.holding_value(i)).collect();
        let t: Vec<f64> = td.iter().map(|x| x.to_f64().unwrap()).collect();
        let h: Vec<f64> = hd.iter().map(|x| x.to_f64().unwrap()).collect();
        let v = p.value().to_f64().unwrap();
        let f = bp as f64 / 10_000.0;
        // g(V') = V' + f Σ|t_i V' − h_i| − V is increasing with g(0) = fΣh − V ≤ 0 ≤ g(V):
        // bisect [0, V] to the last bit.
        let g = |x: f64| x + f * t.iter().zip(&h).map(|(t, h)| (t * x - h).abs()).sum::<f64>() - v;
        let (mut lo, mut hi) = (0.0_f64, v);
        prop_assert!(g(lo) <= 0.0 && g(hi) >= 0.0);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if g(mid) < 0.0 { lo = mid } else { hi = mid }
        }
        let brute = 0.5 * (lo + hi);
        let tol = 1e-9 * v.max(1.0);
        let solved_f64 = post_fee_value(v, f, &t, &h);
        prop_assert!((solved_f64 - brute).abs() <= tol, "f64 {} vs bisection {}", solved_f64, brute);
        let fd = Decimal::new(bp as i64, 4);
        let solved_dec = post_fee_value(p.value(), fd, &td, &hd);
        prop_assert!((solved_dec.to_f64().unwrap() - brute).abs() <= tol, "decimal {} vs bisection {}", solved_dec, brute);
        // And the Decimal root satisfies the fee equation to 1e-18 of the value.
        let resid = solved_dec + fd * td.iter().zip(&hd).map(|(t, h)| (*t * solved_dec - *h).abs()).sum::<Decimal>() - p.value();
        prop_assert!(resid.abs() <= p.value() * Decimal::new(1, 18), "residual {}", resid);
    }
}

/// Any Decimal at all, from tiny to `Decimal::MAX`, either sign.
fn any_decimal() -> impl Strategy<Value = Decimal> {
    (any::<i64>(), any::<u32>(), 0u32..=28).prop_map(|(lo, hi, scale)| {
        Decimal::from_i128_with_scale(
            (i128::from(hi) << 64 | i128::from(lo as u64)) * if lo < 0 { -1 } else { 1 },
            scale,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Bad input is an error, never a panic: arbitrary text for targets, arbitrary numbers for
    /// holdings, prices, cash, fee rate and rules.
    #[test]
    fn arbitrary_input_never_panics(
        text in ".{0,60}",
        q in prop::collection::vec(any_decimal(), 2),
        px in prop::collection::vec(any_decimal(), 2),
        cash in any_decimal(),
        fee in any_decimal(),
        step in any_decimal(),
        min_notional in any_decimal(),
    ) {
        let _ = Targets::parse(&text);
        let _ = Targets::from_allocation_json(&text);
        let targets = Targets::parse("A=60,B=40").unwrap();
        let holdings = vec![("A".to_string(), q[0]), ("B".to_string(), q[1])];
        let prices = vec![("A".to_string(), px[0]), ("B".to_string(), px[1])];
        if let Ok(p) = Portfolio::new(&targets, "USDT", cash, &holdings, &prices) {
            let mut book = RuleBook::new();
            let mut r = InstrumentRules::default();
            if r.set("A", "lot_step", step).is_ok() && r.set("A", "min_notional", min_notional).is_ok() {
                book.insert("A", r).unwrap();
            }
            if let Ok(plan) = plan(&p, &PlanOptions { fee_rate: fee, rules: &book, ..Default::default() }) {
                prop_assert!(plan.cash_after >= Decimal::ZERO);
            }
        }
    }
}
