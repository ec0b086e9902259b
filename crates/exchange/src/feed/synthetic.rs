//! A seeded synthetic market: correlated geometric Brownian motions.

use super::{FeedError, Pacer, PriceFeed, PriceTick};
use async_trait::async_trait;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use smartfolio_core::targets::normalize_symbol;

const YEAR_MS: f64 = 365.0 * 86_400_000.0;
/// Log prices are kept within [1e-12, 1e15] so they stay representable as decimals.
const MIN_LN: f64 = -27.631_021_115_928_547; // ln(1e-12)
const MAX_LN: f64 = 34.538_776_394_910_684; // ln(1e15)

/// How a [`SyntheticMarket`] moves. Every asset follows a geometric Brownian motion
/// `dS/S = μ dt + σ dW`, the `W` pairwise correlated.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticConfig {
    pub assets: Vec<String>,
    pub quote: String,
    /// The same seed gives the same ticks.
    pub seed: u64,
    /// Market time of the first tick (UTC epoch ms; default 2024-01-01T00:00:00Z).
    pub start_ms: i64,
    /// Market time between ticks (default 60 000 = one minute).
    pub step_ms: i64,
    /// Annualised volatilities `(asset, σ)` overriding [`SyntheticConfig::default_vol`].
    pub vols: Vec<(String, f64)>,
    /// Annualised drift μ of every asset (default 0).
    pub drift: f64,
    /// Pairwise correlation of the assets' shocks (default 0.6).
    pub correlation: f64,
    /// Start prices `(asset, price)` overriding [`SyntheticConfig::default_start_price`].
    pub start_prices: Vec<(String, Decimal)>,
    /// Wall pacing: ticks per second, or `None` for as fast as the consumer takes them.
    pub ticks_per_second: Option<f64>,
    /// Prices are rounded to this many significant digits, 1 to 15 (default 8).
    pub significant_digits: u32,
    /// The feed ends after this many ticks (`None`: never).
    pub max_ticks: Option<u64>,
}

impl SyntheticConfig {
    /// 2024-01-01T00:00:00Z.
    pub const DEFAULT_START_MS: i64 = 1_704_067_200_000;

    /// Defaults for `assets` priced in USDT.
    pub fn new<S: AsRef<str>>(assets: &[S], seed: u64) -> Self {
        Self {
            assets: assets.iter().map(|a| a.as_ref().to_string()).collect(),
            quote: "USDT".into(),
            seed,
            start_ms: Self::DEFAULT_START_MS,
            step_ms: 60_000,
            vols: Vec::new(),
            drift: 0.0,
            correlation: 0.6,
            start_prices: Vec::new(),
            ticks_per_second: None,
            significant_digits: 8,
            max_ticks: None,
        }
    }

    /// Annualised volatility typical of an asset: BTC 0.6, ETH 0.75, SOL 1.0, others 0.9.
    pub fn default_vol(asset: &str) -> f64 {
        match asset.to_ascii_uppercase().as_str() {
            "BTC" => 0.6,
            "ETH" => 0.75,
            "SOL" => 1.0,
            _ => 0.9,
        }
    }

    /// A realistic start price: BTC 60000, ETH 3000, SOL 150, BNB 500, XRP 0.5, ADA 0.4,
    /// DOGE 0.1, others 10.
    pub fn default_start_price(asset: &str) -> Decimal {
        let (m, scale) = match asset.to_ascii_uppercase().as_str() {
            "BTC" => (60_000, 0),
            "ETH" => (3_000, 0),
            "SOL" => (150, 0),
            "BNB" => (500, 0),
            "XRP" => (5, 1),
            "ADA" => (4, 1),
            "DOGE" => (1, 1),
            _ => (10, 0),
        };
        Decimal::new(m, scale)
    }
}

/// A seeded market of correlated random walks (ChaCha8), for the demo, tests and benchmarks.
#[derive(Debug, Clone)]
pub struct SyntheticMarket {
    assets: Vec<String>,
    quote: String,
    rng: ChaCha8Rng,
    /// Lower-triangular Cholesky factor of the correlation matrix, row-major n×n.
    chol: Vec<f64>,
    /// Per-step log drift `(μ − σ²/2) dt` and shock scale `σ √dt`.
    drift_dt: Vec<f64>,
    vol_sqrt_dt: Vec<f64>,
    ln_prices: Vec<f64>,
    time_ms: i64,
    step_ms: i64,
    digits: u32,
    ticks: u64,
    max_ticks: Option<u64>,
    /// Paced at `ticks_per_second` (as market ms per wall ms).
    pacer: Pacer,
    spare_normal: Option<f64>,
    shocks: Vec<f64>,
}

/// Lower-triangular `L` with `L Lᵀ = m` (row-major n×n), or `None` if `m` is not positive definite.
fn cholesky(m: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = m[i * n + i] - s;
                if d <= 1e-12 || !d.is_finite() {
                    return None;
                }
                l[i * n + j] = d.sqrt();
            } else {
                l[i * n + j] = (m[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// `x > 0` rounded to `digits` (≤ 15) significant digits, as a normalized decimal.
fn round_sig(x: f64, digits: u32) -> Decimal {
    let exp = x.log10().floor() as i32;
    let mut dp = digits as i32 - 1 - exp;
    let mut scaled = (x * 10f64.powi(dp)).round();
    // log10 can land just under an integer at a power of ten: one digit too many.
    if scaled >= 10f64.powi(digits as i32) {
        dp -= 1;
        scaled = (x * 10f64.powi(dp)).round();
    }
    // `scaled` has at most `digits` (+1 after rounding up) digits: it fits an i64.
    let m = scaled as i64;
    let d = if dp >= 0 {
        Decimal::new(m, dp as u32)
    } else {
        Decimal::from(m) * Decimal::from(10i64.pow((-dp) as u32))
    };
    d.normalize()
}

impl SyntheticMarket {
    /// A market as configured; a bad field is an error naming it, its value and what is allowed.
    pub fn new(config: SyntheticConfig) -> Result<Self, FeedError> {
        let bad = |field: &str, value: String, allowed: &str| {
            FeedError(format!(
                "invalid synthetic.{field}: {value}; allowed: {allowed}"
            ))
        };
        let assets = config
            .assets
            .iter()
            .map(|a| normalize_symbol("synthetic.assets", a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| FeedError(e.to_string()))?;
        if assets.is_empty() {
            return Err(bad("assets", "[]".into(), "at least one asset"));
        }
        let quote = normalize_symbol("synthetic.quote", &config.quote)
            .map_err(|e| FeedError(e.to_string()))?;
        if config.step_ms <= 0 {
            return Err(bad(
                "step_ms",
                config.step_ms.to_string(),
                "milliseconds > 0",
            ));
        }
        if !config.drift.is_finite() || config.drift.abs() > 10.0 {
            return Err(bad(
                "drift",
                config.drift.to_string(),
                "an annual rate in [-10, 10]",
            ));
        }
        if let Some(r) = config.ticks_per_second
            && !(r.is_finite() && r > 0.0)
        {
            return Err(bad(
                "ticks_per_second",
                r.to_string(),
                "a number > 0, or none for as fast as possible",
            ));
        }
        if !(1..=15).contains(&config.significant_digits) {
            return Err(bad(
                "significant_digits",
                config.significant_digits.to_string(),
                "1 to 15 (an f64 carries no more)",
            ));
        }
        let n = assets.len();
        let rho = config.correlation;
        let lower = if n > 1 { -1.0 / (n as f64 - 1.0) } else { -1.0 };
        if !(rho.is_finite() && rho > lower && rho < 1.0) {
            return Err(bad(
                "correlation",
                rho.to_string(),
                &format!(
                    "a number in ({lower}, 1) for {n} assets (the matrix must be positive definite)"
                ),
            ));
        }
        let mut corr = vec![rho; n * n];
        for i in 0..n {
            corr[i * n + i] = 1.0;
        }
        let chol = cholesky(&corr, n).ok_or_else(|| {
            bad(
                "correlation",
                rho.to_string(),
                "a positive definite correlation matrix",
            )
        })?;
        for (a, _) in &config.vols {
            if !assets.contains(&a.trim().to_ascii_uppercase()) {
                return Err(bad("vols", a.clone(), "assets of the market"));
            }
        }
        for (a, _) in &config.start_prices {
            if !assets.contains(&a.trim().to_ascii_uppercase()) {
                return Err(bad("start_prices", a.clone(), "assets of the market"));
            }
        }
        let dt = config.step_ms as f64 / YEAR_MS;
        let mut drift_dt = Vec::with_capacity(n);
        let mut vol_sqrt_dt = Vec::with_capacity(n);
        let mut ln_prices = Vec::with_capacity(n);
        for a in &assets {
            let vol = config
                .vols
                .iter()
                .rev()
                .find(|(x, _)| x.trim().eq_ignore_ascii_case(a))
                .map_or_else(|| SyntheticConfig::default_vol(a), |(_, v)| *v);
            if !(vol.is_finite() && (0.0..=10.0).contains(&vol)) {
                return Err(bad(
                    &format!("vols.{a}"),
                    vol.to_string(),
                    "an annualised volatility in [0, 10]",
                ));
            }
            let price = config
                .start_prices
                .iter()
                .rev()
                .find(|(x, _)| x.trim().eq_ignore_ascii_case(a))
                .map_or_else(|| SyntheticConfig::default_start_price(a), |(_, p)| *p);
            let ln = price.to_f64().filter(|p| *p > 0.0).map(f64::ln);
            let ln = ln
                .filter(|l| (MIN_LN..=MAX_LN).contains(l))
                .ok_or_else(|| {
                    bad(
                        &format!("start_prices.{a}"),
                        price.to_string(),
                        "a price in [1e-12, 1e15]",
                    )
                })?;
            drift_dt.push((config.drift - 0.5 * vol * vol) * dt);
            vol_sqrt_dt.push(vol * dt.sqrt());
            ln_prices.push(ln);
        }
        Ok(Self {
            assets,
            quote,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            chol,
            drift_dt,
            vol_sqrt_dt,
            ln_prices,
            time_ms: config.start_ms,
            step_ms: config.step_ms,
            digits: config.significant_digits,
            ticks: 0,
            max_ticks: config.max_ticks,
            pacer: Pacer::new(
                config
                    .ticks_per_second
                    .map(|r| config.step_ms as f64 * r / 1000.0),
            ),
            spare_normal: None,
            shocks: vec![0.0; n],
        })
    }

    /// How many ticks were handed out.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        // Box–Muller on (0, 1] × [0, 1).
        let u1 = 1.0 - self.rng.random::<f64>();
        let u2: f64 = self.rng.random();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        self.spare_normal = Some(r * s);
        r * c
    }

    fn tick(&self) -> PriceTick {
        PriceTick {
            time_ms: self.time_ms,
            prices: self
                .assets
                .iter()
                .zip(&self.ln_prices)
                .map(|(a, ln)| (a.clone(), round_sig(ln.exp(), self.digits)))
                .collect(),
        }
    }

    /// The next tick, without pacing. The first is the start prices at the start time; each
    /// later one is one step of market time on.
    pub fn step(&mut self) -> PriceTick {
        if self.ticks > 0 {
            let n = self.assets.len();
            let eps: Vec<f64> = (0..n).map(|_| self.normal()).collect();
            for i in 0..n {
                let z: f64 = (0..=i).map(|k| self.chol[i * n + k] * eps[k]).sum();
                self.shocks[i] = z;
            }
            for i in 0..n {
                let next =
                    self.ln_prices[i] + self.drift_dt[i] + self.vol_sqrt_dt[i] * self.shocks[i];
                self.ln_prices[i] = next.clamp(MIN_LN, MAX_LN);
            }
            self.time_ms += self.step_ms;
        }
        self.ticks += 1;
        self.tick()
    }
}

#[async_trait]
impl PriceFeed for SyntheticMarket {
    fn assets(&self) -> &[String] {
        &self.assets
    }

    fn quote(&self) -> &str {
        &self.quote
    }

    async fn next_tick(&mut self) -> Option<PriceTick> {
        if self.max_ticks.is_some_and(|m| self.ticks >= m) {
            return None;
        }
        // The tick `step` hands out next: the current time, or one step later.
        let next_ms = self.time_ms + if self.ticks > 0 { self.step_ms } else { 0 };
        self.pacer.wait(next_ms).await;
        Some(self.step())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn rounds_to_significant_digits() {
        assert_eq!(round_sig(60000.123456789, 8), dec("60000.123"));
        assert_eq!(round_sig(0.123456789123, 8), dec("0.12345679"));
        assert_eq!(round_sig(123456789012.0, 8), dec("123456790000"));
        assert_eq!(round_sig(1000.0, 8), dec("1000"));
        assert_eq!(round_sig(0.001, 8), dec("0.001"));
        assert_eq!(round_sig(9.999999999, 8), dec("10"));
        assert_eq!(round_sig(1e-12, 15), dec("0.000000000001"));
        assert_eq!(round_sig(1e15, 1), dec("1000000000000000"));
    }

    #[test]
    fn cholesky_reproduces_the_matrix() {
        let m = [1.0, 0.6, 0.6, 0.6, 1.0, 0.6, 0.6, 0.6, 1.0];
        let l = cholesky(&m, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((v - m[i * 3 + j]).abs() < 1e-12);
            }
        }
        assert!(cholesky(&[1.0, 1.0, 1.0, 1.0], 2).is_none());
    }
}
