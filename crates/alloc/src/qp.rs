//! The two quadratic programs, solved with clarabel and polished on the active set.
//!
//! Generic form: `min ½ x'Px + q'x  s.t.  E x = f,  G x ≤ h`. clarabel (interior point) gives a
//! solution to about 1e-9; the polish then takes the constraints clarabel reports as active
//! (dual > slack), solves the equality-constrained KKT system
//! `[P E' G_A'; E 0 0; G_A 0 0] [x; ν; λ] = [−q; f; h_A]` with nalgebra's LU, and keeps that
//! exact solution only if it is primal feasible and every active multiplier `λ ≥ 0`, i.e. it
//! satisfies all KKT conditions of the convex problem and is therefore optimal.

use crate::AllocError;
use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, NonnegativeConeT, SolverStatus, ZeroConeT,
};
use nalgebra::{DMatrix, DVector};

struct Qp {
    p: DMatrix<f64>,
    q: DVector<f64>,
    e: DMatrix<f64>,
    f: DVector<f64>,
    g: DMatrix<f64>,
    h: DVector<f64>,
}

fn csc(m: &DMatrix<f64>, upper_only: bool) -> CscMatrix<f64> {
    let (rows, cols) = m.shape();
    let mut colptr = Vec::with_capacity(cols + 1);
    let mut rowval = Vec::new();
    let mut nzval = Vec::new();
    colptr.push(0);
    for j in 0..cols {
        let last = if upper_only { (j + 1).min(rows) } else { rows };
        for i in 0..last {
            let v = m[(i, j)];
            if v != 0.0 {
                rowval.push(i);
                nzval.push(v);
            }
        }
        colptr.push(rowval.len());
    }
    CscMatrix::new(rows, cols, colptr, rowval, nzval)
}

fn solve(qp: &Qp, what: &str) -> Result<DVector<f64>, AllocError> {
    let n = qp.p.nrows();
    let (me, mi) = (qp.e.nrows(), qp.g.nrows());
    let mut a = DMatrix::zeros(me + mi, n);
    a.rows_mut(0, me).copy_from(&qp.e);
    a.rows_mut(me, mi).copy_from(&qp.g);
    let b: Vec<f64> = qp.f.iter().chain(qp.h.iter()).copied().collect();
    let cones = [ZeroConeT(me), NonnegativeConeT(mi)];
    let settings = DefaultSettingsBuilder::default()
        .verbose(false)
        .tol_gap_abs(1e-10)
        .tol_gap_rel(1e-10)
        .tol_feas(1e-10)
        .max_iter(200)
        .build()
        .map_err(|e| AllocError::Numerical(format!("{what}: solver settings: {e:?}")))?;
    let q: Vec<f64> = qp.q.iter().copied().collect();
    let mut solver =
        DefaultSolver::new(&csc(&qp.p, true), &q, &csc(&a, false), &b, &cones, settings)
            .map_err(|e| AllocError::Numerical(format!("{what}: solver setup: {e:?}")))?;
    solver.solve();
    let sol = &solver.solution;
    match sol.status {
        SolverStatus::Solved | SolverStatus::AlmostSolved => {}
        other => {
            return Err(AllocError::Numerical(format!(
                "{what}: the QP solver stopped with status {other:?}"
            )));
        }
    }
    let x = DVector::from_column_slice(&sol.x);
    let active: Vec<usize> = (0..mi).filter(|&k| sol.z[me + k] > sol.s[me + k]).collect();
    Ok(polish(qp, &active).unwrap_or(x))
}

fn polish(qp: &Qp, active: &[usize]) -> Option<DVector<f64>> {
    let n = qp.p.nrows();
    let me = qp.e.nrows();
    let ma = active.len();
    let m = n + me + ma;
    let mut k = DMatrix::zeros(m, m);
    let mut rhs = DVector::zeros(m);
    k.view_mut((0, 0), (n, n)).copy_from(&qp.p);
    for i in 0..n {
        rhs[i] = -qp.q[i];
    }
    for r in 0..me {
        for j in 0..n {
            k[(n + r, j)] = qp.e[(r, j)];
            k[(j, n + r)] = qp.e[(r, j)];
        }
        rhs[n + r] = qp.f[r];
    }
    for (r, &row) in active.iter().enumerate() {
        for j in 0..n {
            k[(n + me + r, j)] = qp.g[(row, j)];
            k[(j, n + me + r)] = qp.g[(row, j)];
        }
        rhs[n + me + r] = qp.h[row];
    }
    let sol = k.clone().lu().solve(&rhs)?;
    if sol.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let resid = (&k * &sol - &rhs).amax();
    let x = sol.rows(0, n).into_owned();
    let scale = 1.0 + x.amax();
    if resid > 1e-9 * (1.0 + rhs.amax()) * scale {
        return None;
    }
    // Primal feasibility of the inactive inequalities.
    let gx = &qp.g * &x;
    for row in 0..qp.g.nrows() {
        if gx[row] > qp.h[row] + 1e-12 * scale {
            return None;
        }
    }
    // Dual feasibility: active multipliers non-negative.
    let lam = sol.rows(n + me, ma);
    let lam_scale = 1.0 + (&qp.p * &x).amax() + qp.q.amax();
    if lam.iter().any(|&l| l < -1e-9 * lam_scale) {
        return None;
    }
    Some(x)
}

fn bound_rows(
    n: usize,
    nvars: usize,
    lo: f64,
    hi: f64,
    kappa: Option<usize>,
) -> (DMatrix<f64>, DVector<f64>) {
    // −x_i (+ lo·κ) ≤ −lo (or 0), and x_i (− hi·κ) ≤ hi (or 0) when hi < 1.
    let upper = hi < 1.0;
    let rows = n + if upper { n } else { 0 } + usize::from(kappa.is_some());
    let mut g = DMatrix::zeros(rows, nvars);
    let mut h = DVector::zeros(rows);
    for i in 0..n {
        g[(i, i)] = -1.0;
        match kappa {
            Some(k) => g[(i, k)] = lo,
            None => h[i] = -lo,
        }
    }
    if upper {
        for i in 0..n {
            g[(n + i, i)] = 1.0;
            match kappa {
                Some(k) => g[(n + i, k)] = -hi,
                None => h[n + i] = hi,
            }
        }
    }
    if let Some(k) = kappa {
        g[(rows - 1, k)] = -1.0;
    }
    (g, h)
}

fn finish(w: Vec<f64>, lo: f64, hi: f64) -> Vec<f64> {
    // Clear rounding residue (|w_i − bound| < 1e-13 snaps) and renormalise.
    // `+ 0.0` turns a −0.0 into 0.0.
    let mut w: Vec<f64> = w.into_iter().map(|x| x.clamp(lo, hi) + 0.0).collect();
    let s: f64 = w.iter().sum();
    for x in &mut w {
        *x /= s;
    }
    w
}

/// `argmin w'Σw` s.t. `Σw = 1`, `lo ≤ w ≤ hi`.
pub(crate) fn min_variance(cov: &DMatrix<f64>, lo: f64, hi: f64) -> Result<Vec<f64>, AllocError> {
    let n = cov.nrows();
    let (g, h) = bound_rows(n, n, lo, hi, None);
    let qp = Qp {
        p: cov.clone(),
        q: DVector::zeros(n),
        e: DMatrix::from_element(1, n, 1.0),
        f: DVector::from_element(1, 1.0),
        g,
        h,
    };
    let x = solve(&qp, "min-variance")?;
    Ok(finish(x.iter().copied().collect(), lo, hi))
}

/// `argmax (μ'w − rf)/√(w'Σw)` s.t. `Σw = 1`, `lo ≤ w ≤ hi`, via Cornuejols–Tütüncü:
/// `min y'Σy` s.t. `(μ − rf)'y = 1`, `Σy = κ`, `κ ≥ 0`, `κ·lo ≤ y ≤ κ·hi`; then `w = y/κ`.
/// The caller has checked that some feasible portfolio beats `rf`.
pub(crate) fn max_sharpe(
    cov: &DMatrix<f64>,
    mu: &[f64],
    rf: f64,
    lo: f64,
    hi: f64,
) -> Result<Vec<f64>, AllocError> {
    let n = cov.nrows();
    let mut p = DMatrix::zeros(n + 1, n + 1);
    p.view_mut((0, 0), (n, n)).copy_from(cov);
    let mut e = DMatrix::zeros(2, n + 1);
    for i in 0..n {
        e[(0, i)] = mu[i] - rf;
        e[(1, i)] = 1.0;
    }
    e[(1, n)] = -1.0;
    let (g, h) = bound_rows(n, n + 1, lo, hi, Some(n));
    let qp = Qp {
        p,
        q: DVector::zeros(n + 1),
        e,
        f: DVector::from_vec(vec![1.0, 0.0]),
        g,
        h,
    };
    let z = solve(&qp, "max-sharpe")?;
    let kappa = z[n];
    if !(kappa > 0.0 && kappa.is_finite()) {
        return Err(AllocError::Numerical(format!(
            "max-sharpe: the transformed problem returned scale κ = {kappa}"
        )));
    }
    Ok(finish(
        z.rows(0, n).iter().map(|y| y / kappa).collect(),
        lo,
        hi,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_asset_min_variance_closed_form() {
        // w1 = (σ2² − σ12) / (σ1² + σ2² − 2σ12)
        let (v1, v2, c) = (0.04, 0.09, 0.012);
        let cov = DMatrix::from_row_slice(2, 2, &[v1, c, c, v2]);
        let w = min_variance(&cov, 0.0, 1.0).unwrap();
        let w1 = (v2 - c) / (v1 + v2 - 2.0 * c);
        assert!((w[0] - w1).abs() < 1e-14, "{w:?} vs {w1}");
        assert!((w[1] - (1.0 - w1)).abs() < 1e-14);
    }

    #[test]
    fn min_variance_corner_when_one_asset_dominates() {
        // σ12 > σ1²: the unconstrained optimum shorts asset 2, long-only puts all in asset 1.
        let cov = DMatrix::from_row_slice(2, 2, &[0.04, 0.05, 0.05, 0.25]);
        let w = min_variance(&cov, 0.0, 1.0).unwrap();
        assert!((w[0] - 1.0).abs() < 1e-14 && w[1].abs() < 1e-14, "{w:?}");
    }

    #[test]
    fn max_sharpe_tangency_closed_form() {
        // Interior solution: w ∝ Σ⁻¹(μ − rf).
        let cov = DMatrix::from_row_slice(2, 2, &[0.04, 0.01, 0.01, 0.09]);
        let mu = [0.10, 0.15];
        let w = max_sharpe(&cov, &mu, 0.02, 0.0, 1.0).unwrap();
        let inv = cov.clone().try_inverse().unwrap();
        let x = inv * DVector::from_vec(vec![0.08, 0.13]);
        let s = x.sum();
        assert!(
            (w[0] - x[0] / s).abs() < 1e-12 && (w[1] - x[1] / s).abs() < 1e-12,
            "{w:?}"
        );
    }

    #[test]
    fn bounds_bind() {
        let cov = DMatrix::from_row_slice(3, 3, &[0.01, 0.0, 0.0, 0.0, 0.04, 0.0, 0.0, 0.0, 0.09]);
        // Unbounded: w ∝ 1/σ² = (36, 9, 4)/49 ≈ (0.735, 0.184, 0.082).
        // With [0.2, 0.5]: w0 capped at 0.5 (gradient 0.01 below the others), w2 floored at
        // 0.2 (gradient 0.036 ≥ 0.024 of the free w1 = 0.3).
        let w = min_variance(&cov, 0.2, 0.5).unwrap();
        assert!((w[0] - 0.5).abs() < 1e-12, "{w:?}");
        assert!((w[1] - 0.3).abs() < 1e-12, "{w:?}");
        assert!((w[2] - 0.2).abs() < 1e-12, "{w:?}");
        // With [0, 0.5]: w0 = 0.5, the rest split 9:4 (∝ 1/σ²).
        let w = min_variance(&cov, 0.0, 0.5).unwrap();
        assert!((w[1] - 0.5 * 9.0 / 13.0).abs() < 1e-12, "{w:?}");
        assert!((w[2] - 0.5 * 4.0 / 13.0).abs() < 1e-12, "{w:?}");
    }
}
