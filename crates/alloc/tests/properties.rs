//! Properties of every method on random well-conditioned return windows, plus hand-computed
//! cases. No external data needed.

use proptest::prelude::*;
use smartfolio_alloc::{AllocError, CovEstimator, Method, Options, Returns, allocate};

/// A deterministic random return window: a common factor plus idiosyncratic noise with
/// per-asset scales, asset 0 with a clear positive drift (so max-sharpe has an asset beating
/// a zero risk-free rate).
fn window(seed: u64, n: usize, t: usize) -> Returns {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let beta: Vec<f64> = (0..n).map(|_| 0.5 + next()).collect();
    let scale: Vec<f64> = (0..n).map(|_| 0.01 + 0.04 * (next() + 0.5)).collect();
    let mut data = Vec::with_capacity(n * t);
    for _ in 0..t {
        let f = 0.02 * next();
        for i in 0..n {
            let drift = if i == 0 { 0.01 } else { 0.0 };
            data.push(drift + beta[i] * f + scale[i] * next());
        }
    }
    Returns::from_rows((0..n).map(|i| format!("A{i}")).collect(), data).unwrap()
}

fn caps(seed: u64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 1e6 * (1.0 + ((seed >> (i % 60)) % 997) as f64))
        .collect()
}

fn variance(a: &smartfolio_alloc::Allocation, r: &Returns, ppy: f64) -> f64 {
    let c = smartfolio_alloc::sample_cov(r) * ppy;
    let w = nalgebra::DVector::from_column_slice(&a.weights);
    w.dot(&(&c * &w))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn weights_are_non_negative_and_sum_to_one(seed in any::<u64>(), n in 2usize..9, t in 40usize..200) {
        let r = window(seed, n, t);
        for m in Method::ALL {
            let opts = Options { market_caps: Some(caps(seed, n)), ..Options::default() };
            let a = allocate(m, &r, &opts).unwrap_or_else(|e| panic!("{m}: {e}"));
            let sum: f64 = a.weights.iter().sum();
            prop_assert!((sum - 1.0).abs() < 1e-12, "{} sums to {}", m, sum);
            for &w in &a.weights {
                prop_assert!(w.is_finite() && w >= 0.0, "{} weight {}", m, w);
            }
            let rc: f64 = a.risk_contributions.iter().sum();
            prop_assert!((rc - 1.0).abs() < 1e-9, "{} risk contributions sum to {}", m, rc);
            prop_assert!(a.portfolio_volatility > 0.0);
            prop_assert_eq!(a.n_returns, t);
        }
    }

    #[test]
    fn risk_parity_equalises_risk_contributions(seed in any::<u64>(), n in 2usize..12, lw in any::<bool>()) {
        let r = window(seed, n, 150);
        let cov = if lw { CovEstimator::LedoitWolf } else { CovEstimator::Sample };
        let a = allocate(Method::RiskParity, &r, &Options { cov, ..Options::default() }).unwrap();
        let target = 1.0 / n as f64;
        for &c in &a.risk_contributions {
            prop_assert!((c - target).abs() < 1e-12, "{:?}", a.risk_contributions);
        }
    }

    #[test]
    fn bounds_are_honoured(seed in any::<u64>(), n in 2usize..9, lo_f in 0.0f64..1.0, hi_f in 0.0f64..1.0) {
        let r = window(seed, n, 120);
        let nf = n as f64;
        let lo = lo_f / nf;                 // 0 ≤ lo ≤ 1/n
        let hi = 1.0 / nf + hi_f * (1.0 - 1.0 / nf); // 1/n ≤ hi ≤ 1
        let opts = Options {
            min_weight: Some(lo),
            max_weight: Some(hi),
            market_caps: Some(caps(seed, n)),
            ..Options::default()
        };
        let mut min_var = f64::INFINITY;
        let mut other_var = f64::INFINITY;
        for m in Method::ALL {
            match allocate(m, &r, &opts) {
                Ok(a) => {
                    for &w in &a.weights {
                        prop_assert!(w >= lo - 1e-9 && w <= hi + 1e-9, "{}: {} outside [{}, {}]", m, w, lo, hi);
                    }
                    let sum: f64 = a.weights.iter().sum();
                    prop_assert!((sum - 1.0).abs() < 1e-12);
                    let v = variance(&a, &r, 365.0);
                    if m == Method::MinVariance { min_var = v } else { other_var = other_var.min(v) }
                }
                // Risk parity cannot move its weights: a clear bound error is the allowed outcome.
                Err(AllocError::Invalid(e)) if m == Method::RiskParity => {
                    prop_assert!(e.field == "min-weight" || e.field == "max-weight", "{}", e);
                }
                Err(e) => prop_assert!(false, "{}: {}", m, e),
            }
        }
        // Every other method's weights are feasible, so none beats min-variance.
        prop_assert!(min_var <= other_var * (1.0 + 1e-7), "min-var {} > {}", min_var, other_var);
    }

    #[test]
    fn max_sharpe_beats_every_other_method(seed in any::<u64>(), n in 2usize..8) {
        let r = window(seed, n, 160);
        let opts = Options { market_caps: Some(caps(seed, n)), ..Options::default() };
        let sharpe = |a: &smartfolio_alloc::Allocation| {
            let mu: f64 = a.weights.iter().zip(&a.returns).map(|(w, m)| w * m).sum();
            mu / a.portfolio_volatility
        };
        let best = sharpe(&allocate(Method::MaxSharpe, &r, &opts).unwrap());
        for m in Method::ALL {
            let s = sharpe(&allocate(m, &r, &opts).unwrap());
            prop_assert!(s <= best + 1e-7 * best.abs().max(1.0), "{} Sharpe {} > max-sharpe {}", m, s, best);
        }
    }
}

#[test]
fn inverse_vol_hand_computed() {
    // Asset 0 alternates ±1 %, asset 1 ±2 %, asset 2 ±4 %: σ ratio 1:2:4, w ∝ (4, 2, 1)/7.
    let mut data = Vec::new();
    for k in 0..10 {
        let s = if k % 2 == 0 { 1.0 } else { -1.0 };
        data.extend([0.01 * s, 0.02 * s, -0.04 * s]);
    }
    let r = Returns::from_rows(vec!["A".into(), "B".into(), "C".into()], data).unwrap();
    let a = allocate(Method::InverseVol, &r, &Options::default()).unwrap();
    for (g, e) in a.weights.iter().zip([4.0 / 7.0, 2.0 / 7.0, 1.0 / 7.0]) {
        assert!((g - e).abs() < 1e-14, "{:?}", a.weights);
    }
    // Annualised volatility: per-bar sample std × √365; the ±1 % series has mean 0 and
    // sample variance 10·1e-4/9.
    let sd = (10.0 * 1e-4 / 9.0f64).sqrt() * 365f64.sqrt();
    assert!((a.volatilities[0] - sd).abs() < 1e-14);
}

#[test]
fn two_asset_min_variance_closed_form_from_returns() {
    let r = window(7, 2, 300);
    let c = smartfolio_alloc::sample_cov(&r);
    let (v1, v2, k) = (c[(0, 0)], c[(1, 1)], c[(0, 1)]);
    let w1 = ((v2 - k) / (v1 + v2 - 2.0 * k)).clamp(0.0, 1.0);
    let a = allocate(Method::MinVariance, &r, &Options::default()).unwrap();
    assert!((a.weights[0] - w1).abs() < 1e-12, "{:?} vs {w1}", a.weights);
}

#[test]
fn clear_errors() {
    let r = window(1, 5, 50);
    let e = allocate(
        Method::MinVariance,
        &r,
        &Options {
            min_weight: Some(0.3),
            ..Options::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("min-weight 30% × 5 assets = 150% > 100%")
            || e.contains("30% × 5 assets = 150% > 100%"),
        "{e}"
    );

    // Every asset losing money: max-sharpe names rf and the best asset.
    let mut data = Vec::new();
    for k in 0..20 {
        let up = k % 2 == 0;
        data.extend([
            if up { 0.01 } else { -0.03 },
            if up { 0.005 } else { -0.02 },
        ]);
    }
    let r = Returns::from_rows(vec!["X".into(), "Y".into()], data).unwrap();
    let e = allocate(Method::MaxSharpe, &r, &Options::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("risk-free") && e.contains("best: Y"), "{e}");

    let e = allocate(Method::MarketCap, &window(1, 3, 30), &Options::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("market-caps"), "{e}");

    let e = allocate(
        Method::Hrp,
        &window(1, 3, 30),
        &Options {
            cov: CovEstimator::LedoitWolf,
            ..Options::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("ledoit-wolf") && e.contains("hrp"), "{e}");
}
