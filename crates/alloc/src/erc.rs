//! Equal risk contribution (risk parity), long-only.
//!
//! Spinu (2013): the minimiser of the strictly convex `f(x) = ½ x'Σx − (1/N) Σ log x_i` over
//! `x > 0` satisfies `x_i (Σx)_i = 1/N` for every i, so `w = x / Σx` has equal risk
//! contributions `w_i (Σw)_i`. Damped Newton (nalgebra Cholesky of `Σ + diag(1/(N x²))`) with a
//! fraction-to-boundary step and Armijo backtracking converges quadratically; it stops when the
//! Newton decrement is at rounding level.

use crate::AllocError;
use nalgebra::{DMatrix, DVector};

pub(crate) fn equal_risk_contribution(cov: &DMatrix<f64>) -> Result<Vec<f64>, AllocError> {
    let n = cov.nrows();
    if n == 1 {
        return Ok(vec![1.0]);
    }
    // Scale to unit mean variance for conditioning; weights are scale-free.
    let scale = cov.diagonal().sum() / n as f64;
    let s = cov / scale;
    let b = 1.0 / n as f64;
    let f = |x: &DVector<f64>| -> f64 {
        0.5 * x.dot(&(&s * x)) - b * x.iter().map(|v| v.ln()).sum::<f64>()
    };
    // Start on the inverse-volatility ray at its optimal scale t² = Σb / x'Σx = 1 / x'Σx.
    let mut x = DVector::from_fn(n, |i, _| 1.0 / s[(i, i)].sqrt());
    let q = x.dot(&(&s * &x));
    x /= q.sqrt();
    let mut fx = f(&x);
    for _ in 0..100 {
        let sx = &s * &x;
        let g = DVector::from_fn(n, |i, _| sx[i] - b / x[i]);
        let mut h = s.clone();
        for i in 0..n {
            h[(i, i)] += b / (x[i] * x[i]);
        }
        let Some(chol) = h.cholesky() else {
            return Err(AllocError::Numerical(
                "risk-parity: Newton system is not positive definite (covariance singular?)".into(),
            ));
        };
        let d = -chol.solve(&g);
        let decrement = -g.dot(&d);
        if decrement.is_nan() || decrement <= 1e-30 {
            break;
        }
        // Largest step keeping x > 0.
        let mut t: f64 = 1.0;
        for i in 0..n {
            if d[i] < 0.0 {
                t = t.min(-0.99 * x[i] / d[i]);
            }
        }
        if decrement < 1e-8 && t == 1.0 {
            // Quadratic convergence region: full Newton steps. f can no longer resolve the
            // decrease (rounding), so no line search; stop once the step is at rounding level.
            let rel = (0..n).map(|i| (d[i] / x[i]).abs()).fold(0.0, f64::max);
            x += &d;
            if rel < 1e-15 {
                break;
            }
            fx = f(&x);
            continue;
        }
        let mut accepted = false;
        for _ in 0..60 {
            let xn = &x + &d * t;
            let fnew = f(&xn);
            if fnew <= fx - 1e-4 * t * decrement {
                x = xn;
                fx = fnew;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted {
            break;
        }
    }
    let total = x.sum();
    let w: Vec<f64> = x.iter().map(|v| v / total).collect();
    // Verify: risk contributions equal to 1e-10 relative.
    let wv = DVector::from_column_slice(&w);
    let sw = &s * &wv;
    let rc: Vec<f64> = (0..n).map(|i| w[i] * sw[i]).collect();
    let mean = rc.iter().sum::<f64>() / n as f64;
    let spread = rc.iter().map(|r| (r - mean).abs()).fold(0.0, f64::max) / mean;
    if spread.is_nan() || spread >= 1e-10 || w.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(AllocError::Numerical(format!(
            "risk-parity did not converge: relative spread of risk contributions {spread:.3e}"
        )));
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncorrelated_assets_get_inverse_volatility() {
        // With zero correlations ERC is w ∝ 1/σ.
        let cov = DMatrix::from_diagonal(&DVector::from_vec(vec![0.04, 0.09, 0.25]));
        let w = equal_risk_contribution(&cov).unwrap();
        let inv = [1.0 / 0.2, 1.0 / 0.3, 1.0 / 0.5];
        let s: f64 = inv.iter().sum();
        for (g, e) in w.iter().zip(inv) {
            assert!((g - e / s).abs() < 1e-14, "{w:?}");
        }
    }

    #[test]
    fn two_assets_are_inverse_vol_whatever_the_correlation() {
        // For N = 2, w1 (Σw)_1 = w2 (Σw)_2 gives w1 σ1 = w2 σ2.
        let cov = DMatrix::from_row_slice(2, 2, &[0.04, 0.042, 0.042, 0.09]);
        let w = equal_risk_contribution(&cov).unwrap();
        assert!(
            (w[0] - 0.6).abs() < 1e-14 && (w[1] - 0.4).abs() < 1e-14,
            "{w:?}"
        );
    }
}
