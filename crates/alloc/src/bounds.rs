//! Per-asset weight bounds: validation, proportional clipping for closed-form methods, checks.

use crate::{AllocError, pct};
use smartfolio_core::ValidationError;

/// Slack allowed when comparing bound sums with 1.
const EPS: f64 = 1e-12;

/// The bounds as fractions `(lo, hi)`, checked: `0 ≤ lo ≤ hi ≤ 1`, `n·lo ≤ 1 ≤ n·hi`.
pub(crate) fn resolve(
    n: usize,
    min: Option<f64>,
    max: Option<f64>,
) -> Result<(f64, f64), AllocError> {
    let lo = min.unwrap_or(0.0);
    let hi = max.unwrap_or(1.0);
    if !(lo.is_finite() && (0.0..=1.0).contains(&lo)) {
        return Err(ValidationError::new("min-weight", pct(lo), "0% to 100%").into());
    }
    if !(hi.is_finite() && (0.0..=1.0).contains(&hi)) {
        return Err(ValidationError::new("max-weight", pct(hi), "0% to 100%").into());
    }
    if lo > hi {
        return Err(ValidationError::new(
            "min-weight",
            format!("{} > max-weight {}", pct(lo), pct(hi)),
            "min-weight ≤ max-weight",
        )
        .into());
    }
    let nf = n as f64;
    if lo * nf > 1.0 + EPS {
        return Err(ValidationError::new(
            "min-weight",
            format!("{} × {n} assets = {} > 100%", pct(lo), pct(lo * nf)),
            format!("at most {} for {n} assets", pct(1.0 / nf)),
        )
        .into());
    }
    if hi * nf < 1.0 - EPS {
        return Err(ValidationError::new(
            "max-weight",
            format!("{} × {n} assets = {} < 100%", pct(hi), pct(hi * nf)),
            format!("at least {} for {n} assets", pct(1.0 / nf)),
        )
        .into());
    }
    Ok((lo, hi))
}

/// `clip(λ·w_i, lo, hi)` with the λ that makes the weights sum to 1: the fixed point of
/// "clip to the bounds, hand the excess or shortfall to the unclipped assets in proportion to
/// their weights", computed exactly. `w` must be non-negative and sum to 1; `(lo, hi)` feasible.
pub(crate) fn clip_proportional(w: &[f64], lo: f64, hi: f64) -> Vec<f64> {
    if w.iter().all(|&x| x >= lo && x <= hi) {
        return w.to_vec();
    }
    let f = |lam: f64| -> f64 { w.iter().map(|&x| (lam * x).clamp(lo, hi)).sum() };
    // f is continuous, non-decreasing and piecewise linear in λ ≥ 0, with kinks at lo/w_i and
    // hi/w_i; f(0) = n·lo ≤ 1 ≤ n·hi = f(∞) (for w_i > 0).
    let mut kinks: Vec<f64> = w
        .iter()
        .filter(|&&x| x > 0.0)
        .flat_map(|&x| [lo / x, hi / x])
        .collect();
    kinks.push(0.0);
    kinks.sort_by(f64::total_cmp);
    kinks.dedup();
    // First kink where f ≥ 1; the root lies in the segment ending there.
    let k = kinks.partition_point(|&l| f(l) < 1.0);
    if k == 0 {
        return w.iter().map(|&x| (0.0 * x).clamp(lo, hi)).collect();
    }
    if k == kinks.len() {
        // Assets with w_i = 0 stay at lo; the others all reach hi.
        return w.iter().map(|&x| if x > 0.0 { hi } else { lo }).collect();
    }
    let (a, b) = (kinks[k - 1], kinks[k]);
    let mid = 0.5 * (a + b);
    // On (a, b) each asset is either clipped (constant) or free (λ·w_i).
    let mut fixed = 0.0;
    let mut free = 0.0;
    for &x in w {
        let v = mid * x;
        if v <= lo {
            fixed += lo;
        } else if v >= hi {
            fixed += hi;
        } else {
            free += x;
        }
    }
    let lam = if free > 0.0 { (1.0 - fixed) / free } else { b };
    let mut out: Vec<f64> = w.iter().map(|&x| (lam * x).clamp(lo, hi)).collect();
    // Remove the last rounding residue from the free assets.
    let s: f64 = out.iter().sum();
    if free > 0.0 && (s - 1.0).abs() > 0.0 {
        let adj = (1.0 - s) / free;
        for (o, &x) in out.iter_mut().zip(w) {
            let v = mid * x;
            if v > lo && v < hi {
                *o += adj * x;
            }
        }
    }
    out
}

/// Error when weights a method cannot change violate the bounds.
pub(crate) fn check_honoured(
    w: &[f64],
    lo: f64,
    hi: f64,
    assets: &[String],
    method: &str,
) -> Result<(), AllocError> {
    let tol = 1e-12;
    for (a, &x) in assets.iter().zip(w) {
        if x < lo - tol {
            return Err(ValidationError::new(
                "min-weight",
                format!(
                    "{} but {method} gives {a} {} (equal risk contributions fix the weights)",
                    pct(lo),
                    pct(x)
                ),
                format!("a min-weight of at most {} for this window", pct(min(w))),
            )
            .into());
        }
        if x > hi + tol {
            return Err(ValidationError::new(
                "max-weight",
                format!(
                    "{} but {method} gives {a} {} (equal risk contributions fix the weights)",
                    pct(hi),
                    pct(x)
                ),
                format!("a max-weight of at least {} for this window", pct(max(w))),
            )
            .into());
        }
    }
    Ok(())
}

fn min(w: &[f64]) -> f64 {
    w.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(w: &[f64]) -> f64 {
    w.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// `max μ'w` over `{lo ≤ w ≤ hi, Σw = 1}`: everything at lo, the rest poured into the best
/// assets first.
pub(crate) fn max_linear(mu: &[f64], lo: f64, hi: f64) -> f64 {
    let mut order: Vec<usize> = (0..mu.len()).collect();
    order.sort_by(|&a, &b| mu[b].total_cmp(&mu[a]));
    let mut left = 1.0 - lo * mu.len() as f64;
    let mut value: f64 = mu.iter().map(|m| m * lo).sum();
    for i in order {
        if left <= 0.0 {
            break;
        }
        let add = left.min(hi - lo);
        value += add * mu[i];
        left -= add;
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infeasible_bounds_name_the_numbers() {
        let e = resolve(5, Some(0.3), None).unwrap_err().to_string();
        assert!(
            e.contains("min-weight") && e.contains("30% × 5 assets = 150% > 100%"),
            "{e}"
        );
        let e = resolve(4, None, Some(0.2)).unwrap_err().to_string();
        assert!(
            e.contains("max-weight") && e.contains("20% × 4 assets = 80% < 100%"),
            "{e}"
        );
        let e = resolve(4, Some(0.3), Some(0.2)).unwrap_err().to_string();
        assert!(e.contains("30% > max-weight 20%"), "{e}");
        assert!(resolve(4, Some(-0.1), None).is_err());
        assert!(resolve(4, None, Some(1.5)).is_err());
        assert_eq!(resolve(4, Some(0.25), Some(0.25)).unwrap(), (0.25, 0.25));
    }

    #[test]
    fn clipping_redistributes_in_proportion() {
        // 0.7 capped at 0.5; the 0.2 excess goes to the others 2:1.
        let w = clip_proportional(&[0.7, 0.2, 0.1], 0.0, 0.5);
        assert!((w[0] - 0.5).abs() < 1e-15);
        assert!((w[1] - 0.5 * 2.0 / 3.0).abs() < 1e-15);
        assert!((w[2] - 0.5 / 3.0).abs() < 1e-15);
        // Floor at 0.15 lifts the smallest; the others shrink in proportion 7:2.
        let w = clip_proportional(&[0.7, 0.2, 0.1], 0.15, 1.0);
        assert!((w[2] - 0.15).abs() < 1e-15);
        assert!((w[0] - 0.85 * 7.0 / 9.0).abs() < 1e-15, "{w:?}");
        assert!((w[1] - 0.85 * 2.0 / 9.0).abs() < 1e-15, "{w:?}");
        // Floor at 0.2: shrinking 0.2 by 0.8/0.9 drops it under the floor too.
        let w = clip_proportional(&[0.7, 0.2, 0.1], 0.2, 1.0);
        assert!(
            (w[0] - 0.6).abs() < 1e-15 && (w[1] - 0.2).abs() < 1e-15,
            "{w:?}"
        );
    }

    #[test]
    fn clipping_cascades() {
        // Capping the first at 0.4 pushes the second over 0.4 too.
        let w = clip_proportional(&[0.5, 0.35, 0.1, 0.05], 0.0, 0.4);
        assert!((w[0] - 0.4).abs() < 1e-15 && (w[1] - 0.4).abs() < 1e-15);
        assert!((w[2] - 0.2 * 2.0 / 3.0).abs() < 1e-15);
        assert!((w[3] - 0.2 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn best_linear_value_under_bounds() {
        let mu = [0.1, 0.5, -0.2];
        assert!((max_linear(&mu, 0.0, 1.0) - 0.5).abs() < 1e-15);
        // lo 0.2 each (sum 0.6), the remaining 0.4 to the best up to hi 0.5 (+0.3), then 0.1 more.
        let v = 0.2 * (0.1 + 0.5 - 0.2) + 0.3 * 0.5 + 0.1 * 0.1;
        assert!((max_linear(&mu, 0.2, 0.5) - v).abs() < 1e-15);
    }
}
