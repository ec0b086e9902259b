//! smartfolio-alloc: transparent allocation methods (SPEC §5).
//!
//! Every method is a pure function of a window of simple per-bar returns plus [`Options`]:
//! `equal`, `market-cap`, `sqrt-market-cap`, `inverse-vol`, `min-variance`, `max-sharpe`,
//! `risk-parity` (equal risk contribution) and `hrp` (hierarchical risk parity). The conventions
//! are those of `../shared/peers/pypfopt_weights.py` (PyPortfolioOpt), so the weights can be checked
//! against it:
//!
//! - returns `r_t = p_t / p_{t-1} - 1`, the first row dropped;
//! - sample covariance with `ddof = 1`, Ledoit–Wolf shrinkage of the MLE covariance towards
//!   `mean(diag) · I` (sklearn's `ledoit_wolf`), both annualised by `periods_per_year`;
//! - expected return `μ = Π(1 + r)^(ppy / n) − 1` (annualised CAGR);
//! - long-only, `Σ w = 1`, optional per-asset `[min_weight, max_weight]`.
//!
//! Bounds (`min_weight`, `max_weight`) are checked for feasibility (`n·min ≤ 1 ≤ n·max`) and
//! then honoured by every method: the QPs take them as constraints (max-sharpe scales them by κ
//! in the transformed problem); equal weights always satisfy feasible bounds; market-cap,
//! sqrt-market-cap, inverse-vol and hrp weights are clipped to the bounds and the excess or
//! shortfall is spread over the unclipped assets in proportion to their weights (computed
//! exactly, see `bounds::clip_proportional`); risk-parity weights are fixed by the
//! equal-risk condition, so bounds they violate are an error naming the asset and the weight.
//!
//! min-variance and max-sharpe are quadratic programs solved with clarabel (an interior-point
//! solver), then polished on the detected active set by solving the KKT system exactly with
//! nalgebra (the polish is kept only when it satisfies every KKT condition). Risk parity is a
//! damped Newton method on Spinu's strictly convex formulation (nalgebra Cholesky), converged to
//! machine precision. HRP is closed form.

mod bounds;
mod erc;
mod hrp;
mod qp;
mod stats;

use smartfolio_core::ValidationError;
use std::fmt;
use std::str::FromStr;

pub use stats::{cagr, ledoit_wolf_cov, sample_cov};

/// An allocation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Equal,
    MarketCap,
    SqrtMarketCap,
    InverseVol,
    MinVariance,
    MaxSharpe,
    RiskParity,
    Hrp,
}

impl Method {
    pub const ALL: [Method; 8] = [
        Method::Equal,
        Method::MarketCap,
        Method::SqrtMarketCap,
        Method::InverseVol,
        Method::MinVariance,
        Method::MaxSharpe,
        Method::RiskParity,
        Method::Hrp,
    ];

    /// The kebab-case name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Method::Equal => "equal",
            Method::MarketCap => "market-cap",
            Method::SqrtMarketCap => "sqrt-market-cap",
            Method::InverseVol => "inverse-vol",
            Method::MinVariance => "min-variance",
            Method::MaxSharpe => "max-sharpe",
            Method::RiskParity => "risk-parity",
            Method::Hrp => "hrp",
        }
    }

    /// Whether the method estimates a covariance matrix that `--cov` can choose. HRP and
    /// inverse volatility use the per-bar sample estimates by definition (SPEC §5).
    pub fn uses_cov_estimator(self) -> bool {
        matches!(
            self,
            Method::MinVariance | Method::MaxSharpe | Method::RiskParity
        )
    }

    /// Whether the method needs market capitalisations in [`Options::market_caps`].
    pub fn needs_market_caps(self) -> bool {
        matches!(self, Method::MarketCap | Method::SqrtMarketCap)
    }

    fn names_list() -> String {
        Method::ALL
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = s.trim().to_ascii_lowercase().replace('_', "-");
        Method::ALL
            .into_iter()
            .find(|m| m.name() == key)
            .ok_or_else(|| ValidationError::new("method", s, Method::names_list()))
    }
}

/// The covariance estimator used by min-variance, max-sharpe and risk-parity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CovEstimator {
    /// Sample covariance, `ddof = 1`.
    #[default]
    Sample,
    /// Ledoit–Wolf (2004) shrinkage of the MLE covariance towards `mean(diag) · I`.
    LedoitWolf,
}

impl CovEstimator {
    pub fn name(self) -> &'static str {
        match self {
            CovEstimator::Sample => "sample",
            CovEstimator::LedoitWolf => "ledoit-wolf",
        }
    }
}

impl fmt::Display for CovEstimator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CovEstimator {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "sample" => Ok(CovEstimator::Sample),
            "ledoit-wolf" => Ok(CovEstimator::LedoitWolf),
            _ => Err(ValidationError::new("cov", s, "sample, ledoit-wolf")),
        }
    }
}

/// Everything a method may use besides the returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub cov: CovEstimator,
    /// Annualised risk-free rate for max-sharpe (a fraction: 0.02 = 2 %).
    pub risk_free: f64,
    /// Per-asset lower bound on the weight, a fraction in `[0, 1]`.
    pub min_weight: Option<f64>,
    /// Per-asset upper bound on the weight, a fraction in `[0, 1]`.
    pub max_weight: Option<f64>,
    /// Periods per year used to annualise: 365 for daily bars, 8760 for hourly.
    pub periods_per_year: f64,
    /// Market capitalisations at the allocation date, one per asset (market-cap methods only).
    pub market_caps: Option<Vec<f64>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cov: CovEstimator::Sample,
            risk_free: 0.0,
            min_weight: None,
            max_weight: None,
            periods_per_year: 365.0,
            market_caps: None,
        }
    }
}

/// Simple per-bar returns, row-major `n_obs × n_assets`.
#[derive(Debug, Clone, PartialEq)]
pub struct Returns {
    assets: Vec<String>,
    n_obs: usize,
    data: Vec<f64>,
}

impl Returns {
    /// Returns from a row-major `T × n_assets` price matrix: `p_t / p_{t-1} − 1`, first row
    /// dropped. Prices must be finite and positive.
    pub fn from_prices(assets: Vec<String>, prices: &[f64]) -> Result<Self, AllocError> {
        let n = assets.len();
        if n == 0 {
            return Err(invalid("assets", "none", "at least one asset").into());
        }
        if !prices.len().is_multiple_of(n) {
            return Err(invalid(
                "prices",
                format!("{} values", prices.len()),
                format!("a multiple of the {n} assets (row-major T × N)"),
            )
            .into());
        }
        let t = prices.len() / n;
        for (k, &p) in prices.iter().enumerate() {
            if !(p.is_finite() && p > 0.0) {
                return Err(invalid(
                    "prices",
                    format!("{p} for {} at row {}", assets[k % n], k / n),
                    "finite positive prices",
                )
                .into());
            }
        }
        let n_obs = t.saturating_sub(1);
        let mut data = Vec::with_capacity(n_obs * n);
        for row in 1..t {
            for i in 0..n {
                data.push(prices[row * n + i] / prices[(row - 1) * n + i] - 1.0);
            }
        }
        Ok(Self {
            assets,
            n_obs,
            data,
        })
    }

    /// Returns given directly, row-major `n_obs × n_assets`. They must be finite and `> −1`.
    pub fn from_rows(assets: Vec<String>, data: Vec<f64>) -> Result<Self, AllocError> {
        let n = assets.len();
        if n == 0 {
            return Err(invalid("assets", "none", "at least one asset").into());
        }
        if !data.len().is_multiple_of(n) {
            return Err(invalid(
                "returns",
                format!("{} values", data.len()),
                format!("a multiple of the {n} assets (row-major T × N)"),
            )
            .into());
        }
        for (k, &r) in data.iter().enumerate() {
            if !(r.is_finite() && r > -1.0) {
                return Err(invalid(
                    "returns",
                    format!("{r} for {} at row {}", assets[k % n], k / n),
                    "finite returns greater than -1",
                )
                .into());
            }
        }
        Ok(Self {
            assets,
            n_obs: data.len() / n,
            data,
        })
    }

    pub fn assets(&self) -> &[String] {
        &self.assets
    }

    pub fn n_assets(&self) -> usize {
        self.assets.len()
    }

    pub fn n_obs(&self) -> usize {
        self.n_obs
    }

    /// Row-major `n_obs × n_assets`.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    pub fn get(&self, t: usize, i: usize) -> f64 {
        self.data[t * self.n_assets() + i]
    }
}

/// Returns of a row-major `T × n` price matrix, with assets named `#1`, `#2`, ….
pub fn returns(prices: &[f64], n: usize) -> Result<Returns, AllocError> {
    Returns::from_prices((1..=n).map(|i| format!("#{i}")).collect(), prices)
}

/// For each asset, the latest finite positive value in column `i` of the row-major `T × n`
/// matrix `values` at or before row `upto` (inclusive): `(row, value)`, or `None` when there is
/// none. Used to read market caps "at the allocation date" from a price table.
pub fn latest_known(values: &[f64], n: usize, upto: usize) -> Vec<Option<(usize, f64)>> {
    (0..n)
        .map(|i| {
            (0..=upto)
                .rev()
                .filter_map(|t| values.get(t * n + i).map(|&v| (t, v)))
                .find(|&(_, v)| v.is_finite() && v > 0.0)
        })
        .collect()
}

/// The result of a method, with what it used.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    pub method: Method,
    /// Fractions, non-negative, summing to 1, in the order of [`Returns::assets`].
    pub weights: Vec<f64>,
    /// Annualised volatility of each asset: sample standard deviation (`ddof = 1`) × √ppy.
    pub volatilities: Vec<f64>,
    /// Annualised return of each asset (CAGR over the window).
    pub returns: Vec<f64>,
    /// `w_i (Σw)_i / w'Σw`: fractions of the portfolio variance, summing to 1. Σ is the
    /// covariance the method's estimator gives (the sample covariance for methods without one).
    pub risk_contributions: Vec<f64>,
    /// `√(w'Σw)`, annualised.
    pub portfolio_volatility: f64,
    pub n_returns: usize,
    pub periods_per_year: f64,
    /// The estimator behind `risk_contributions` and `portfolio_volatility`.
    pub cov: CovEstimator,
}

/// Why a method gave no weights.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AllocError {
    /// Bad or unusable input: names the field, the value and what is allowed.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A numerical failure on valid input (solver did not converge).
    #[error("{0}")]
    Numerical(String),
}

fn invalid(
    field: impl Into<String>,
    value: impl Into<String>,
    allowed: impl Into<String>,
) -> ValidationError {
    ValidationError::new(field, value, allowed)
}

/// Percent with up to 6 significant decimals, for messages.
pub(crate) fn pct(x: f64) -> String {
    let s = format!("{:.6}", x * 100.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

/// Run `method` on the returns.
pub fn allocate(method: Method, r: &Returns, opts: &Options) -> Result<Allocation, AllocError> {
    let n = r.n_assets();
    validate(method, r, opts)?;
    let (lo, hi) = bounds::resolve(n, opts.min_weight, opts.max_weight)?;
    let ppy = opts.periods_per_year;

    let per_bar = stats::sample_cov(r);
    let sample_annual = &per_bar * ppy;
    let risk_cov = match opts.cov {
        CovEstimator::Sample => sample_annual.clone(),
        CovEstimator::LedoitWolf => stats::ledoit_wolf_cov(r) * ppy,
    };
    let mu = stats::cagr(r, ppy);
    let vols: Vec<f64> = (0..n).map(|i| sample_annual[(i, i)].sqrt()).collect();
    let zero_vol = |what: &str| -> Result<(), AllocError> {
        if let Some(i) = (0..n).find(|&i| per_bar[(i, i)] <= 0.0) {
            return Err(invalid(
                "assets",
                format!("{} has zero volatility over the window", r.assets[i]),
                format!("{what} needs every asset's returns to vary"),
            )
            .into());
        }
        Ok(())
    };

    let weights = match method {
        Method::Equal => vec![1.0 / n as f64; n],
        Method::MarketCap | Method::SqrtMarketCap => {
            let caps = market_caps(r, opts)?;
            let raw: Vec<f64> = if method == Method::SqrtMarketCap {
                caps.iter().map(|c| c.sqrt()).collect()
            } else {
                caps
            };
            bounds::clip_proportional(&normalise(&raw), lo, hi)
        }
        Method::InverseVol => {
            zero_vol("inverse-vol")?;
            let inv: Vec<f64> = (0..n).map(|i| 1.0 / per_bar[(i, i)].sqrt()).collect();
            bounds::clip_proportional(&normalise(&inv), lo, hi)
        }
        Method::Hrp => {
            zero_vol("hrp")?;
            let w = hrp::hrp(&per_bar);
            bounds::clip_proportional(&w, lo, hi)
        }
        Method::MinVariance => {
            let cov = stats::fix_nonpositive_semidefinite(risk_cov.clone());
            qp::min_variance(&cov, lo, hi)?
        }
        Method::MaxSharpe => {
            let cov = stats::fix_nonpositive_semidefinite(risk_cov.clone());
            max_sharpe_checks(r, &mu, opts.risk_free, lo, hi)?;
            qp::max_sharpe(&cov, &mu, opts.risk_free, lo, hi)?
        }
        Method::RiskParity => {
            zero_vol("risk-parity")?;
            let w = erc::equal_risk_contribution(&risk_cov)?;
            bounds::check_honoured(&w, lo, hi, r.assets(), "risk-parity")?;
            w
        }
    };

    let wv = nalgebra::DVector::from_column_slice(&weights);
    let sw = &risk_cov * &wv;
    let var = wv.dot(&sw);
    let risk_contributions = (0..n)
        .map(|i| {
            if var > 0.0 {
                weights[i] * sw[i] / var
            } else {
                weights[i]
            }
        })
        .collect();
    Ok(Allocation {
        method,
        weights,
        volatilities: vols,
        returns: mu,
        risk_contributions,
        portfolio_volatility: var.max(0.0).sqrt(),
        n_returns: r.n_obs(),
        periods_per_year: ppy,
        cov: opts.cov,
    })
}

fn normalise(v: &[f64]) -> Vec<f64> {
    let s: f64 = v.iter().sum();
    v.iter().map(|x| x / s).collect()
}

fn validate(method: Method, r: &Returns, opts: &Options) -> Result<(), AllocError> {
    if r.n_obs() < 2 {
        return Err(invalid(
            "window",
            format!("{} returns", r.n_obs()),
            format!("at least 2 returns (3 prices) to estimate volatilities for {method}"),
        )
        .into());
    }
    if !(opts.periods_per_year.is_finite() && opts.periods_per_year > 0.0) {
        return Err(invalid(
            "periods-per-year",
            opts.periods_per_year.to_string(),
            "a positive number (365 for daily bars, 8760 for hourly)",
        )
        .into());
    }
    if !opts.risk_free.is_finite() {
        return Err(invalid(
            "risk-free",
            opts.risk_free.to_string(),
            "a finite annualised rate",
        )
        .into());
    }
    if opts.cov != CovEstimator::Sample && !method.uses_cov_estimator() {
        return Err(invalid(
            "cov",
            format!("{} with method {}", opts.cov, method),
            "ledoit-wolf only with min-variance, max-sharpe or risk-parity (the other methods \
             use the sample estimates by definition, SPEC §5)",
        )
        .into());
    }
    Ok(())
}

fn market_caps(r: &Returns, opts: &Options) -> Result<Vec<f64>, AllocError> {
    let n = r.n_assets();
    let caps = opts.market_caps.as_ref().ok_or_else(|| {
        invalid(
            "market-caps",
            "none",
            "one market capitalisation per asset at the allocation date",
        )
    })?;
    if caps.len() != n {
        return Err(invalid(
            "market-caps",
            format!("{} values", caps.len()),
            format!("one per asset ({n})"),
        )
        .into());
    }
    for (a, &c) in r.assets.iter().zip(caps) {
        if !(c.is_finite() && c > 0.0) {
            return Err(invalid(
                "market-caps",
                format!("{c} for {a}"),
                "finite positive market capitalisations",
            )
            .into());
        }
    }
    Ok(caps.clone())
}

fn max_sharpe_checks(r: &Returns, mu: &[f64], rf: f64, lo: f64, hi: f64) -> Result<(), AllocError> {
    let (best, best_mu) =
        mu.iter().enumerate().fold(
            (0, f64::NEG_INFINITY),
            |acc, (i, &m)| {
                if m > acc.1 { (i, m) } else { acc }
            },
        );
    if best_mu <= rf {
        return Err(invalid(
            "risk-free",
            format!(
                "{} but no asset's annualised return exceeds it (best: {} {})",
                pct(rf),
                r.assets[best],
                pct(best_mu)
            ),
            "max-sharpe needs at least one asset with expected return above the risk-free rate",
        )
        .into());
    }
    // With bounds, the best reachable excess return: start at lo everywhere, then fill the
    // highest returns up to hi.
    let best_excess = bounds::max_linear(mu, lo, hi) - rf;
    if best_excess <= 0.0 {
        return Err(invalid(
            "min-weight",
            format!(
                "{} forces a portfolio whose best annualised return {} is not above the \
                 risk-free rate {}",
                pct(lo),
                pct(best_excess + rf),
                pct(rf)
            ),
            "bounds that leave room for a portfolio beating the risk-free rate",
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_round_trip() {
        for m in Method::ALL {
            assert_eq!(m.name().parse::<Method>().unwrap(), m);
        }
        assert_eq!(
            "min_variance".parse::<Method>().unwrap(),
            Method::MinVariance
        );
        let e = "sharpe".parse::<Method>().unwrap_err();
        assert_eq!(e.field, "method");
        assert!(e.allowed.contains("risk-parity") && e.allowed.contains("hrp"));
    }

    #[test]
    fn cov_names() {
        assert_eq!(
            "ledoit_wolf".parse::<CovEstimator>().unwrap(),
            CovEstimator::LedoitWolf
        );
        assert_eq!(
            "sample".parse::<CovEstimator>().unwrap(),
            CovEstimator::Sample
        );
        assert!("shrunk".parse::<CovEstimator>().is_err());
    }

    #[test]
    fn returns_reject_bad_prices() {
        let e = Returns::from_prices(vec!["A".into(), "B".into()], &[1.0, 2.0, -1.0, 2.0]);
        match e {
            Err(AllocError::Invalid(v)) => {
                assert_eq!(v.field, "prices");
                assert!(v.value.contains("A"), "{v}");
            }
            other => panic!("expected invalid prices, got {other:?}"),
        }
        assert!(Returns::from_prices(vec!["A".into(), "B".into()], &[1.0, 2.0, 3.0]).is_err());
    }

    #[test]
    fn simple_returns_drop_first_row() {
        let r = returns(&[100.0, 10.0, 110.0, 5.0, 99.0, 10.0], 2).unwrap();
        assert_eq!(r.n_obs(), 2);
        assert!((r.get(0, 0) - 0.1).abs() < 1e-15);
        assert!((r.get(0, 1) + 0.5).abs() < 1e-15);
        assert!((r.get(1, 0) - (99.0 / 110.0 - 1.0)).abs() < 1e-15);
        assert!((r.get(1, 1) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn latest_known_skips_gaps() {
        let nan = f64::NAN;
        // 3 rows × 2 assets
        let caps = [1.0, nan, 2.0, 5.0, nan, nan];
        assert_eq!(
            latest_known(&caps, 2, 2),
            vec![Some((1, 2.0)), Some((1, 5.0))]
        );
        assert_eq!(latest_known(&caps, 2, 0), vec![Some((0, 1.0)), None]);
    }

    #[test]
    fn percent_formatting() {
        assert_eq!(pct(0.3), "30%");
        assert_eq!(pct(1.5), "150%");
        assert_eq!(pct(0.0525), "5.25%");
    }
}
