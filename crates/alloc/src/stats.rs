//! Moment estimates on a window of returns: sample and Ledoit–Wolf covariance, CAGR.

use crate::Returns;
use nalgebra::{DMatrix, SymmetricEigen};

/// The returns as a `T × N` matrix, each column de-meaned.
fn centred(r: &Returns) -> DMatrix<f64> {
    let (t, n) = (r.n_obs(), r.n_assets());
    let mut x = DMatrix::from_row_slice(t, n, r.data());
    for mut col in x.column_iter_mut() {
        let mean = col.sum() / t as f64;
        col.add_scalar_mut(-mean);
    }
    x
}

/// Per-bar sample covariance, `ddof = 1` (pandas `DataFrame.cov()`). Needs at least 2 returns.
pub fn sample_cov(r: &Returns) -> DMatrix<f64> {
    let x = centred(r);
    let denom = (r.n_obs() as f64 - 1.0).max(1.0);
    symmetrise(x.tr_mul(&x) / denom)
}

/// Per-bar Ledoit–Wolf covariance, as sklearn's `ledoit_wolf(X)`: the MLE covariance
/// `S = X'X / T` of the de-meaned returns shrunk towards `m·I`, `m = tr(S)/N`, with the
/// Ledoit–Wolf (2004) intensity
/// `δ = min(β, d) / d`, `d = ‖S − m·I‖²_F / N`, `β = (Σ_t ‖x_t‖⁴ / T − ‖S‖²_F) / (N·T)`.
pub fn ledoit_wolf_cov(r: &Returns) -> DMatrix<f64> {
    let (t, n) = (r.n_obs() as f64, r.n_assets());
    let x = centred(r);
    let emp = symmetrise(x.tr_mul(&x) / t);
    if n == 1 {
        return emp;
    }
    let trace: f64 = emp.diagonal().sum();
    let m = trace / n as f64;
    // Σ_ij Σ_t x_ti² x_tj² = Σ_t (Σ_i x_ti²)²
    let beta_sum: f64 = x
        .row_iter()
        .map(|row| {
            let s: f64 = row.iter().map(|v| v * v).sum();
            s * s
        })
        .sum();
    let frob2: f64 = emp.iter().map(|v| v * v).sum();
    let beta = (beta_sum / t - frob2) / (n as f64 * t);
    let delta = (frob2 - 2.0 * m * trace + n as f64 * m * m) / n as f64;
    let beta = beta.min(delta);
    let shrinkage = if beta == 0.0 { 0.0 } else { beta / delta };
    let mut out = emp * (1.0 - shrinkage);
    for i in 0..n {
        out[(i, i)] += shrinkage * m;
    }
    out
}

/// Annualised compounded return per asset: `Π(1 + r)^(ppy / n) − 1`.
pub fn cagr(r: &Returns, ppy: f64) -> Vec<f64> {
    let (t, n) = (r.n_obs(), r.n_assets());
    let mut growth = vec![1.0f64; n];
    for row in r.data().chunks_exact(n) {
        for (g, v) in growth.iter_mut().zip(row) {
            *g *= 1.0 + v;
        }
    }
    growth
        .into_iter()
        .map(|g| g.powf(ppy / t as f64) - 1.0)
        .collect()
}

fn symmetrise(m: DMatrix<f64>) -> DMatrix<f64> {
    (&m + m.transpose()) * 0.5
}

/// PyPortfolioOpt's spectral fix: a matrix that is not positive definite (Cholesky of
/// `S + 1e-16·I` fails) gets its negative eigenvalues set to zero. A no-op otherwise.
pub(crate) fn fix_nonpositive_semidefinite(s: DMatrix<f64>) -> DMatrix<f64> {
    let n = s.nrows();
    let probe = &s + DMatrix::<f64>::identity(n, n) * 1e-16;
    if probe.cholesky().is_some() {
        return s;
    }
    let eig = SymmetricEigen::new(s);
    let vals = eig.eigenvalues.map(|v| v.max(0.0));
    let v = &eig.eigenvectors;
    symmetrise(v * DMatrix::from_diagonal(&vals) * v.transpose())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(data: Vec<f64>, n: usize) -> Returns {
        Returns::from_rows((0..n).map(|i| format!("A{i}")).collect(), data).unwrap()
    }

    #[test]
    fn sample_cov_matches_hand_computation() {
        // x = [0.1, -0.1, 0.2], y = [0.0, 0.1, -0.1]
        let ret = r(vec![0.1, 0.0, -0.1, 0.1, 0.2, -0.1], 2);
        let c = sample_cov(&ret);
        // means 0.0666.., 0.0; var_x = ((1/30)^2+(−1/6)^2+(2/15)^2)/2
        let mx = 0.2 / 3.0;
        let dx = [0.1 - mx, -0.1 - mx, 0.2 - mx];
        let dy = [0.0, 0.1, -0.1];
        let vx: f64 = dx.iter().map(|d| d * d).sum::<f64>() / 2.0;
        let cxy: f64 = dx.iter().zip(dy).map(|(a, b)| a * b).sum::<f64>() / 2.0;
        assert!((c[(0, 0)] - vx).abs() < 1e-15);
        assert!((c[(0, 1)] - cxy).abs() < 1e-15);
        assert!((c[(1, 0)] - cxy).abs() < 1e-15);
        assert!((c[(1, 1)] - 0.01).abs() < 1e-15);
    }

    #[test]
    fn ledoit_wolf_keeps_trace_and_shrinks_off_diagonal() {
        let data: Vec<f64> = (0..60)
            .map(|k| {
                let t = k / 3;
                let i = k % 3;
                ((t * 7 + i * 13) % 11) as f64 / 100.0 - 0.05
                    + if i == 1 { (t % 2) as f64 * 0.01 } else { 0.0 }
            })
            .collect();
        let ret = r(data, 3);
        let lw = ledoit_wolf_cov(&ret);
        let mle = sample_cov(&ret) * (19.0 / 20.0);
        let tr_lw: f64 = lw.diagonal().sum();
        let tr_mle: f64 = mle.diagonal().sum();
        assert!((tr_lw - tr_mle).abs() < 1e-15);
        // Same shrinkage factor on every off-diagonal entry, in [0, 1].
        let f01 = lw[(0, 1)] / mle[(0, 1)];
        let f02 = lw[(0, 2)] / mle[(0, 2)];
        assert!((f01 - f02).abs() < 1e-12);
        assert!((0.0..=1.0).contains(&f01));
    }

    #[test]
    fn cagr_compounds() {
        // +10 % then −10 %: growth 0.99 over 2 bars; ppy 2 gives −1 %.
        let ret = r(vec![0.1, -0.1], 1);
        let mu = cagr(&ret, 2.0);
        assert!((mu[0] - (0.99f64 - 1.0)).abs() < 1e-15);
    }
}
