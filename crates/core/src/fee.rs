//! The exact fee model of SPEC §3: the post-fee portfolio value `V'`.
//!
//! Every asset ends at exactly `t_i V'`, where `V' = V - f Σ_i |t_i V' - h_i|`.
//! `g(V') = V' + f Σ|t_i V' - h_i| - V` is convex, piecewise linear and increasing, so Newton
//! steps from `V' = V` walk down to the root, one linear piece at a time. On the piece with
//! signs `s_i = sign(t_i V' - h_i)` (a tie counts as −1) the root is
//! `V' = (V + f Σ s_i h_i) / (1 + f Σ s_i t_i)`.
//!
//! This single generic function is what both the live planner (`Decimal`) and the backtest
//! engine (`f64`) call.

use crate::num::Num;

/// Solve the post-fee value `V'` for pre-trade value `value`, proportional `fee_rate`,
/// target weights `targets` and current holding values `holdings` (same order, same length).
///
/// With `fee_rate == 0` this returns `value` unchanged. The iteration stops when a step no
/// longer changes `V'` (exact for f64; for Decimal the step is repeated until the sign
/// pattern, and hence the piece, is stable), and is bounded by `2n + 4` steps.
pub fn post_fee_value<N: Num>(value: N, fee_rate: N, targets: &[N], holdings: &[N]) -> N {
    debug_assert_eq!(targets.len(), holdings.len());
    if fee_rate == N::zero() {
        return value;
    }
    let mut v = value;
    for _ in 0..(2 * targets.len() + 4) {
        let mut num = value;
        let mut den = N::one();
        for (&t, &h) in targets.iter().zip(holdings) {
            if t * v - h > N::zero() {
                num = num + fee_rate * h;
                den = den + fee_rate * t;
            } else {
                num = num - fee_rate * h;
                den = den - fee_rate * t;
            }
        }
        let next = num / den;
        if next == v {
            break;
        }
        v = next;
    }
    v
}

/// Fees implied by a post-fee value: `V - V'`.
pub fn fees_paid<N: Num>(value: N, post_fee_value: N) -> N {
    value - post_fee_value
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn zero_fee_is_identity() {
        assert_eq!(
            post_fee_value(100.0, 0.0, &[0.5, 0.5], &[60.0, 40.0]),
            100.0
        );
    }

    #[test]
    fn root_satisfies_the_fee_equation_f64() {
        let (v, f) = (10_450.0_f64, 0.001);
        let t = [0.5, 0.3, 0.2];
        let h = [5_500.0, 2_850.0, 2_100.0];
        let vp = post_fee_value(v, f, &t, &h);
        let fees: f64 = t
            .iter()
            .zip(&h)
            .map(|(t, h)| (t * vp - h).abs())
            .sum::<f64>()
            * f;
        assert!((vp - (v - fees)).abs() < 1e-9, "{vp} vs {}", v - fees);
        assert!(vp < v);
    }

    #[test]
    fn root_satisfies_the_fee_equation_decimal() {
        let (v, f) = (d("10450"), d("0.001"));
        let t = [d("0.5"), d("0.3"), d("0.2")];
        let h = [d("5500"), d("2850"), d("2100")];
        let vp = post_fee_value(v, f, &t, &h);
        let fees: Decimal = t
            .iter()
            .zip(&h)
            .map(|(t, h)| (*t * vp - *h).abs())
            .sum::<Decimal>()
            * f;
        assert!((vp - (v - fees)).abs() < d("0.000000000001"), "{vp}");
    }

    #[test]
    fn initial_allocation_from_cash_pays_fee_on_every_buy() {
        // All cash, no holdings: V' = V / (1 + f Σ t) with Σ t = 1.
        let vp = post_fee_value(1000.0, 0.01, &[0.5, 0.5], &[0.0, 0.0]);
        assert!((vp - 1000.0 / 1.01).abs() < 1e-9);
    }
}
