//! `smartfolio allocate`: target weights from price history with a transparent method
//! (SPEC §5). Prints the weights with what they are based on: the window and the number of
//! returns, each asset's annualised volatility, return and risk contribution, and the
//! portfolio's volatility. `--json` prints the same as one object that `plan --targets-from`
//! and `backtest --targets-from` read.

use crate::InputError;
use smartfolio_alloc::{
    AllocError, Allocation, CovEstimator, Method, Options, Returns, allocate, latest_known,
};
use smartfolio_core::ValidationError;
use smartfolio_core::targets::normalize_symbol;
use smartfolio_data::{LoadOptions, PriceTable, format_time_ms, parse_time_ms};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

const CMC_FILE: &str = "marketcap/cmc_top200_monthly.csv";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Price history: a folder of `<SYM>.csv` / `<SYM>USDT-<interval>.csv` files, or one wide
    /// CSV `timestamp,ASSET1,ASSET2,...`. Assets are aligned on common timestamps.
    #[arg(long, value_name = "PATH")]
    data: PathBuf,
    /// Assets, comma-separated (e.g. BTC,ETH,SOL,ADA,LINK).
    #[arg(long, value_name = "A,B,C")]
    assets: String,
    /// equal, market-cap, sqrt-market-cap, inverse-vol, min-variance, max-sharpe, risk-parity
    /// or hrp.
    #[arg(long, value_name = "METHOD")]
    method: String,
    /// First bar of the window (inclusive): a date `2022-01-01`, an RFC 3339 time, or epoch
    /// s/ms. Default: the first common bar.
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Last bar of the window (inclusive); a plain date means the end of that day (UTC).
    /// Market caps are taken at this date. Default: the last common bar.
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Candle interval for folders of `<SYM>USDT-<interval>.csv` files (1h, 4h, 1d).
    #[arg(long, value_name = "INTERVAL")]
    interval: Option<String>,
    /// Covariance estimator for min-variance, max-sharpe and risk-parity: sample or
    /// ledoit-wolf.
    #[arg(long, default_value = "sample", value_name = "ESTIMATOR")]
    cov: String,
    /// Annualised risk-free rate for max-sharpe: a fraction (0.04) or a percent (4%).
    #[arg(
        long,
        default_value = "0",
        value_name = "RATE",
        allow_hyphen_values = true
    )]
    risk_free: String,
    /// Lowest weight per asset, in percent.
    #[arg(long, value_name = "PERCENT", allow_hyphen_values = true)]
    min_weight: Option<String>,
    /// Highest weight per asset, in percent.
    #[arg(long, value_name = "PERCENT", allow_hyphen_values = true)]
    max_weight: Option<String>,
    /// CoinMarketCap monthly snapshots used by the market-cap methods when the price files have
    /// no market cap for every asset. Default: `marketcap/cmc_top200_monthly.csv` next to the
    /// data folder, under $SMARTFOLIO_DATA, or under ../shared/data.
    #[arg(long, value_name = "FILE")]
    market_caps: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

fn bad(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(InputError(msg.into()))
}

fn alloc_err(e: AllocError) -> anyhow::Error {
    match e {
        AllocError::Invalid(v) => anyhow::Error::new(v),
        AllocError::Numerical(m) => anyhow::anyhow!(m),
    }
}

fn parse_bound(flag: &str, text: &str, end_of_day: bool) -> anyhow::Result<i64> {
    let ms = parse_time_ms(text).ok_or_else(|| {
        bad(format!(
            "invalid --{flag}: {text:?}; allowed: a date (2021-01-01), an RFC 3339 time \
             (2024-01-21T07:00:00Z) or epoch seconds/milliseconds"
        ))
    })?;
    let b = text.trim().as_bytes();
    let plain_date = b.len() == 10 && b[4] == b'-' && b[7] == b'-';
    Ok(if end_of_day && plain_date {
        ms + 86_400_000 - 1
    } else {
        ms
    })
}

pub(crate) fn parse_rate(text: &str) -> anyhow::Result<f64> {
    let t = text.trim();
    let (num, scale) = match t.strip_suffix('%') {
        Some(p) => (p.trim(), 0.01),
        None => (t, 1.0),
    };
    let v = num
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|v| v * scale);
    match v {
        Some(v) if v.abs() < 1.0 => Ok(v),
        _ => Err(ValidationError::new(
            "risk-free",
            text,
            "an annualised rate as a fraction above -1 and below 1 (0.04) or a percent (4%)",
        )
        .into()),
    }
}

/// A per-asset weight bound given in percent (`5` or `5%`), as a fraction; the error quotes
/// the text as given.
pub(crate) fn percent_bound(field: &str, text: Option<&str>) -> anyhow::Result<Option<f64>> {
    let Some(t) = text else { return Ok(None) };
    match t.trim().trim_end_matches('%').trim().parse::<f64>() {
        Ok(p) if p.is_finite() && (0.0..=100.0).contains(&p) => Ok(Some(p / 100.0)),
        _ => Err(ValidationError::new(field, t, "a percent from 0 to 100").into()),
    }
}

fn parse_assets(list: &str) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for raw in list.split(',') {
        let s = normalize_symbol("assets", raw)?;
        if out.iter().any(|a| a == &s) {
            return Err(ValidationError::new(
                "assets",
                list,
                format!("each asset once ({s} repeats)"),
            )
            .into());
        }
        out.push(s);
    }
    Ok(out)
}

/// Where the market caps came from, for the report.
struct Caps {
    values: Vec<f64>,
    source: String,
}

fn cmc_path(a: &Args) -> PathBuf {
    if let Some(p) = &a.market_caps {
        return p.clone();
    }
    let mut candidates = Vec::new();
    let dir = if a.data.is_dir() {
        Some(a.data.as_path())
    } else {
        a.data.parent()
    };
    if let Some(d) = dir {
        candidates.push(d.join(CMC_FILE));
        if let Some(up) = d.parent() {
            candidates.push(up.join(CMC_FILE));
        }
    }
    if let Some(root) = std::env::var_os("SMARTFOLIO_DATA") {
        candidates.push(Path::new(&root).join(CMC_FILE));
    }
    candidates.push(Path::new("../shared/data").join(CMC_FILE));
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| candidates[0].clone())
}

/// Market caps at the allocation date: the latest value on or before the last bar in the price
/// files (`market_cap` column, possibly before the window), when every asset has one; otherwise
/// the latest CoinMarketCap monthly snapshot on or before `at_ms` for every asset (one vendor
/// for the whole basket).
fn market_caps(a: &Args, history: &PriceTable, at_ms: i64) -> anyhow::Result<Caps> {
    let n = history.n_assets();
    if let Some(m) = &history.market_caps {
        let found = latest_known(m, n, history.n_bars() - 1);
        if found.iter().all(Option::is_some) {
            let found: Vec<(usize, f64)> = found.into_iter().flatten().collect();
            let dates: Vec<String> = history
                .assets
                .iter()
                .zip(&found)
                .map(|(asset, (t, _))| format!("{asset} {}", day(history.times_ms[*t])))
                .collect();
            return Ok(Caps {
                values: found.iter().map(|(_, v)| *v).collect(),
                source: format!(
                    "market_cap column of the price files ({})",
                    dates.join(", ")
                ),
            });
        }
    }
    let missing: Vec<&str> = match &history.market_caps {
        Some(m) => latest_known(m, n, history.n_bars() - 1)
            .iter()
            .zip(&history.assets)
            .filter(|(c, _)| c.is_none())
            .map(|(_, a)| a.as_str())
            .collect(),
        None => history.assets.iter().map(String::as_str).collect(),
    };
    let path = cmc_path(a);
    let values = smartfolio_data::cmc_market_caps(&path, &history.assets, at_ms).map_err(|e| {
        bad(format!(
            "market caps: the price files have none for {} on or before {}, and the \
             CoinMarketCap snapshots (--market-caps) do not help: {e}",
            missing.join(","),
            day(at_ms)
        ))
    })?;
    Ok(Caps {
        values,
        source: format!(
            "{} (latest snapshot on or before {})",
            path.display(),
            day(at_ms)
        ),
    })
}

fn day(ms: i64) -> String {
    format_time_ms(ms).chars().take(10).collect()
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let method = Method::from_str(&args.method)?;
    let cov = CovEstimator::from_str(&args.cov)?;
    let risk_free = parse_rate(&args.risk_free)?;
    let min_weight = percent_bound("min-weight", args.min_weight.as_deref())?;
    let max_weight = percent_bound("max-weight", args.max_weight.as_deref())?;
    let assets = parse_assets(&args.assets)?;
    let from_ms = args
        .from
        .as_deref()
        .map(|s| parse_bound("from", s, false))
        .transpose()?;
    let to_ms = args
        .to
        .as_deref()
        .map(|s| parse_bound("to", s, true))
        .transpose()?;
    if let (Some(f), Some(t)) = (from_ms, to_ms)
        && f > t
    {
        return Err(bad(format!(
            "invalid --from/--to: {} is after {}; allowed: from <= to",
            args.from.as_deref().unwrap_or_default(),
            args.to.as_deref().unwrap_or_default()
        )));
    }
    // Everything up to `to` (market caps may be older than the window), then the window.
    let history = smartfolio_data::load(
        &args.data,
        &LoadOptions {
            assets: assets.clone(),
            interval: args.interval.clone(),
            from_ms: None,
            to_ms,
        },
    )
    .map_err(|e| bad(e.to_string()))?;
    let table = if from_ms.is_some() {
        history
            .window(from_ms, None)
            .map_err(|e| bad(e.to_string()))?
    } else {
        history.clone()
    };
    if table.n_bars() < 3 {
        return Err(bad(format!(
            "the window {} .. {} has {} common bar(s) of {}; allowed: at least 3 bars (2 returns)",
            args.from.as_deref().unwrap_or("start"),
            args.to.as_deref().unwrap_or("end"),
            table.n_bars(),
            table.assets.join(",")
        )));
    }
    let returns = Returns::from_prices(table.assets.clone(), &table.prices).map_err(alloc_err)?;
    let last_ms = *table.times_ms.last().expect("at least 3 bars");
    let caps = if method.needs_market_caps() {
        Some(market_caps(&args, &history, to_ms.unwrap_or(last_ms))?)
    } else {
        None
    };
    let opts = Options {
        cov,
        risk_free,
        min_weight,
        max_weight,
        periods_per_year: table.periods_per_year(),
        market_caps: caps.as_ref().map(|c| c.values.clone()),
    };
    let alloc = allocate(method, &returns, &opts).map_err(alloc_err)?;
    let out = if args.json {
        json(&table, &alloc)?
    } else {
        human(&table, &alloc, &opts, caps.as_ref())
    };
    print!("{out}");
    Ok(())
}

fn num(x: f64) -> anyhow::Result<String> {
    if !x.is_finite() {
        anyhow::bail!("non-finite number {x} in the allocation output");
    }
    Ok(serde_json::to_string(&x)?)
}

/// `{"method","weights":{ASSET: fraction},"assets":[...],"portfolio_volatility","window":{...}}`
/// with the assets in the order given.
fn json(table: &PriceTable, a: &Allocation) -> anyhow::Result<String> {
    let s = |v: &str| serde_json::to_string(v).expect("strings serialise");
    let mut o = String::new();
    write!(o, "{{\"method\":{},\"weights\":{{", s(a.method.name()))?;
    for (k, (asset, w)) in table.assets.iter().zip(&a.weights).enumerate() {
        let sep = if k == 0 { "" } else { "," };
        write!(o, "{sep}{}:{}", s(asset), num(*w)?)?;
    }
    o.push_str("},\"assets\":[");
    for (k, asset) in table.assets.iter().enumerate() {
        let sep = if k == 0 { "" } else { "," };
        write!(
            o,
            "{sep}{{\"asset\":{},\"volatility\":{},\"return\":{},\"risk_contribution\":{}}}",
            s(asset),
            num(a.volatilities[k])?,
            num(a.returns[k])?,
            num(a.risk_contributions[k])?
        )?;
    }
    write!(
        o,
        "],\"portfolio_volatility\":{},\"window\":{{\"from\":{},\"to\":{},\"n_returns\":{},\"periods_per_year\":{}}}}}",
        num(a.portfolio_volatility)?,
        s(&format_time_ms(table.times_ms[0])),
        s(&format_time_ms(*table.times_ms.last().expect("non-empty"))),
        a.n_returns,
        if a.periods_per_year.fract() == 0.0 && a.periods_per_year.abs() < 1e15 {
            format!("{}", a.periods_per_year as i64)
        } else {
            num(a.periods_per_year)?
        }
    )?;
    o.push('\n');
    Ok(o)
}

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

fn human(table: &PriceTable, a: &Allocation, opts: &Options, caps: Option<&Caps>) -> String {
    let mut o = String::new();
    let bars = match a.periods_per_year as i64 {
        365 => "daily bars".to_string(),
        8760 => "hourly bars".to_string(),
        p => format!("bars of {} per year", p),
    };
    let _ = writeln!(
        o,
        "method {} on {} assets; window {} .. {}: {} returns ({}, annualised × {})",
        a.method,
        table.n_assets(),
        format_time_ms(table.times_ms[0]),
        format_time_ms(*table.times_ms.last().expect("non-empty")),
        a.n_returns,
        bars,
        a.periods_per_year
    );
    let mut used = Vec::new();
    if a.method.uses_cov_estimator() {
        used.push(format!("covariance {}", opts.cov));
    }
    if a.method == Method::MaxSharpe {
        used.push(format!("risk-free rate {}", pct(opts.risk_free)));
    }
    if opts.min_weight.is_some() || opts.max_weight.is_some() {
        used.push(format!(
            "bounds {} .. {} per asset",
            pct(opts.min_weight.unwrap_or(0.0)),
            pct(opts.max_weight.unwrap_or(1.0))
        ));
    }
    if let Some(c) = caps {
        used.push(format!("market caps from {}", c.source));
    }
    if !used.is_empty() {
        let _ = writeln!(o, "using {}", used.join("; "));
    }
    let w = table
        .assets
        .iter()
        .map(|s| s.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        o,
        "\n{:<w$}  {:>8}  {:>10}  {:>10}  {:>9}",
        "asset", "weight", "volatility", "return", "risk"
    );
    for (k, asset) in table.assets.iter().enumerate() {
        let _ = writeln!(
            o,
            "{:<w$}  {:>8}  {:>10}  {:>10}  {:>9}",
            asset,
            pct(a.weights[k]),
            pct(a.volatilities[k]),
            pct(a.returns[k]),
            pct(a.risk_contributions[k])
        );
    }
    let _ = writeln!(
        o,
        "\nportfolio volatility {} (annualised; risk = share of the portfolio variance{})",
        pct(a.portfolio_volatility),
        if a.cov == CovEstimator::LedoitWolf {
            ", Ledoit-Wolf covariance"
        } else {
            ", sample covariance"
        }
    );
    let _ = writeln!(
        o,
        "volatility: sample std of per-bar returns × √{}; return: compounded annual growth over the window",
        a.periods_per_year
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_accept_fractions_and_percents() {
        assert_eq!(parse_rate("0.04").unwrap(), 0.04);
        assert!((parse_rate("4%").unwrap() - 0.04).abs() < 1e-15);
        assert_eq!(parse_rate("0").unwrap(), 0.0);
        let e = parse_rate("4").unwrap_err().to_string();
        assert!(e.contains("risk-free") && e.contains("4%"), "{e}");
        assert!(parse_rate("abc").is_err());
    }

    #[test]
    fn bounds_are_percent() {
        assert_eq!(percent_bound("min-weight", Some("5")).unwrap(), Some(0.05));
        assert_eq!(percent_bound("min-weight", Some("5%")).unwrap(), Some(0.05));
        assert!(percent_bound("max-weight", Some("120")).is_err());
        assert_eq!(percent_bound("max-weight", None).unwrap(), None);
    }

    #[test]
    fn plain_date_to_means_end_of_day() {
        let t = parse_bound("to", "2024-12-31", true).unwrap();
        assert_eq!(t, parse_time_ms("2025-01-01").unwrap() - 1);
        let f = parse_bound("from", "2024-12-31", false).unwrap();
        assert_eq!(f, parse_time_ms("2024-12-31").unwrap());
    }

    fn table() -> PriceTable {
        // 3 assets × 6 daily bars.
        let prices = vec![
            100.0, 10.0, 1.0, 101.0, 10.5, 1.0, 99.0, 10.2, 1.01, 102.0, 10.9, 0.99, 104.0, 10.4,
            1.0, 103.0, 11.0, 1.02,
        ];
        PriceTable {
            assets: vec!["BTC".into(), "ETH".into(), "USDC".into()],
            times_ms: (0..6).map(|d| 1_700_000_000_000 + d * 86_400_000).collect(),
            prices,
            market_caps: None,
            bar_ms: 86_400_000,
            files: vec![],
        }
    }

    #[test]
    fn json_has_the_documented_shape_and_feeds_targets_from() {
        let t = table();
        let r = Returns::from_prices(t.assets.clone(), &t.prices).unwrap();
        let opts = Options {
            periods_per_year: t.periods_per_year(),
            ..Options::default()
        };
        let a = allocate(Method::InverseVol, &r, &opts).unwrap();
        let text = json(&t, &a).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["method"], "inverse-vol");
        let w = v["weights"].as_object().unwrap();
        assert_eq!(w.len(), 3);
        let sum: f64 = w.values().map(|x| x.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-12);
        assert_eq!(v["weights"]["USDC"].as_f64().unwrap(), a.weights[2]);
        let assets = v["assets"].as_array().unwrap();
        assert_eq!(assets.len(), 3);
        assert_eq!(assets[1]["asset"], "ETH");
        for key in ["volatility", "return", "risk_contribution"] {
            assert!(assets[0][key].is_f64(), "{key}");
        }
        assert!(v["portfolio_volatility"].as_f64().unwrap() > 0.0);
        assert_eq!(v["window"]["n_returns"], 5);
        assert_eq!(v["window"]["periods_per_year"], 365);
        assert_eq!(v["window"]["from"], format_time_ms(t.times_ms[0]));
        assert_eq!(v["window"]["to"], format_time_ms(t.times_ms[5]));
        // Keys in document order: weights follow the assets' order.
        assert!(text.find("\"BTC\"").unwrap() < text.find("\"USDC\"").unwrap());
        let targets = smartfolio_core::Targets::from_allocation_json(&text).unwrap();
        assert_eq!(targets.assets(), ["BTC", "ETH", "USDC"]);
    }

    #[test]
    fn repeated_assets_are_rejected() {
        assert!(parse_assets("BTC,ETH,BTC").is_err());
        assert_eq!(parse_assets("btc, eth").unwrap(), ["BTC", "ETH"]);
    }
}
