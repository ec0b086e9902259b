//! `smartfolio.toml`: where the bot keeps its data, the paper exchange, the market feed, logging.
//!
//! Precedence, lowest first: built-in defaults, the file (`--config PATH`, else `$SMARTFOLIO_CONFIG`,
//! else `./smartfolio.toml` when present), the `SMARTFOLIO_*` environment overrides listed in
//! [`ENV_OVERRIDES`], then command-line flags. A file that does not parse, or that has an unknown
//! key or a bad value, is an [`InputError`] naming the file, the line and the key; nothing is
//! opened or written before the configuration is valid.
//!
//! ```toml
//! data_dir = "./smartfolio-data"
//! # store = "postgres://user:password@127.0.0.1:5432/smartfolio"  # default: SQLite in data_dir
//! quote = "USDT"
//! account = "main"
//! snapshot_interval = "1h"     # durations: 500ms, 10s, 30m, 4h, 1d, 2w, or integer ms
//! cooldown = "1h"
//! log_format = "pretty"        # or "json"
//!
//! [paper]
//! fee_rate = "0.001"
//! slippage_bps = "5"
//! balances = { USDT = "100000" }   # credited once, when the paper account is new
//! [paper.instruments.BTC]          # rules per asset (default: lot_step 1e-8, min_notional 5)
//! lot_step = "0.00001"
//! min_notional = "5"
//!
//! [market]
//! kind = "synthetic"               # or "replay"
//! seed = 42
//! assets = ["BTC", "ETH", "SOL"]
//! step = "1m"                      # market time between synthetic ticks
//! start = "2024-01-01"
//! ticks_per_second = 1             # synthetic pacing; `speed` overrides it
//! # replay: path = "../shared/data/hourly", interval = "1h", from = "2024-01-01", to = "..."
//! # speed = 3600                   # market ms per wall ms (3600: one hour per second), or "max"
//! ```

use crate::InputError;
use rust_decimal::Decimal;
use serde::Deserialize;
use smartfolio_core::{InstrumentRules, limits};
use smartfolio_exchange::InstrumentStatus;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The environment variables that override the file, and the key each one sets.
pub const ENV_OVERRIDES: [(&str, &str); 15] = [
    ("SMARTFOLIO_DATA_DIR", "data_dir"),
    ("SMARTFOLIO_STORE", "store"),
    ("SMARTFOLIO_QUOTE", "quote"),
    ("SMARTFOLIO_ACCOUNT", "account"),
    ("SMARTFOLIO_SNAPSHOT_INTERVAL", "snapshot_interval"),
    ("SMARTFOLIO_COOLDOWN", "cooldown"),
    ("SMARTFOLIO_LOG_FORMAT", "log_format"),
    ("SMARTFOLIO_PAPER_FEE_RATE", "paper.fee_rate"),
    ("SMARTFOLIO_PAPER_SLIPPAGE_BPS", "paper.slippage_bps"),
    ("SMARTFOLIO_MARKET", "market.kind"),
    ("SMARTFOLIO_MARKET_SEED", "market.seed"),
    ("SMARTFOLIO_MARKET_ASSETS", "market.assets"),
    ("SMARTFOLIO_MARKET_STEP", "market.step"),
    ("SMARTFOLIO_MARKET_SPEED", "market.speed"),
    ("SMARTFOLIO_REPLAY_PATH", "market.path"),
];

/// A number written as a TOML string (exact) or number.
#[derive(Deserialize, Clone, Debug)]
#[serde(untagged)]
enum Num {
    Text(String),
    Int(i64),
    Float(f64),
}

impl Num {
    fn text(&self) -> String {
        match self {
            Num::Text(s) => s.trim().to_string(),
            Num::Int(i) => i.to_string(),
            Num::Float(f) => f.to_string(),
        }
    }
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: Option<PathBuf>,
    store: Option<String>,
    quote: Option<String>,
    account: Option<String>,
    snapshot_interval: Option<Num>,
    cooldown: Option<Num>,
    log_format: Option<String>,
    #[serde(default)]
    paper: RawPaper,
    #[serde(default)]
    market: RawMarket,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct RawPaper {
    fee_rate: Option<Num>,
    slippage_bps: Option<Num>,
    balances: Option<BTreeMap<String, Num>>,
    #[serde(default)]
    instruments: BTreeMap<String, RawRules>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct RawRules {
    lot_step: Option<Num>,
    min_size: Option<Num>,
    min_notional: Option<Num>,
    tick_size: Option<Num>,
    status: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct RawMarket {
    kind: Option<String>,
    seed: Option<u64>,
    assets: Option<Vec<String>>,
    step: Option<Num>,
    start: Option<Num>,
    ticks_per_second: Option<f64>,
    correlation: Option<f64>,
    path: Option<PathBuf>,
    interval: Option<String>,
    from: Option<Num>,
    to: Option<Num>,
    speed: Option<Num>,
}

/// How logs are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

pub use smartfolio_node::{MarketConfig, MarketKind};

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file read, if any.
    pub source: Option<PathBuf>,
    pub data_dir: PathBuf,
    /// A `postgres://` URL (needs the `postgres` feature), or None: SQLite in `data_dir`.
    pub store: Option<String>,
    pub quote: String,
    pub account: String,
    pub snapshot_interval_ms: i64,
    pub cooldown_ms: i64,
    pub log_format: LogFormat,
    pub fee_rate: Decimal,
    pub slippage_bps: Decimal,
    /// Credited once, when the paper account is new.
    pub balances: Vec<(String, Decimal)>,
    /// Rules per asset (assets of the market without an entry get [`Config::default_rules`]).
    pub rules: BTreeMap<String, (InstrumentRules, InstrumentStatus)>,
    pub market: MarketConfig,
}

impl Config {
    /// Rules of an asset without a `[paper.instruments.X]` table.
    pub fn default_rules() -> InstrumentRules {
        InstrumentRules {
            lot_step: Some(Decimal::new(1, 8)),
            min_size: None,
            min_notional: Some(Decimal::from(5)),
            tick_size: None,
        }
    }

    /// The paper exchange's configuration: one instrument per market asset.
    pub fn paper(&self) -> smartfolio_exchange::paper::PaperConfig {
        let mut p = smartfolio_exchange::paper::PaperConfig::new(&self.account, &self.quote)
            .with_fee_rate(self.fee_rate)
            .with_slippage_bps(self.slippage_bps);
        let mut assets: Vec<String> = self.market.assets.clone();
        for a in self.rules.keys() {
            if !assets.contains(a) {
                assets.push(a.clone());
            }
        }
        for a in assets {
            let (rules, status) = self
                .rules
                .get(&a)
                .cloned()
                .unwrap_or((Self::default_rules(), InstrumentStatus::Trading));
            p.instruments
                .push(smartfolio_exchange::paper::PaperInstrument {
                    base: a,
                    rules,
                    limits: Default::default(),
                    status,
                });
        }
        p
    }
}

/// The longest a flag in seconds (`--timeout`, `--max-seconds`) may ask for: 30 days.
pub const MAX_SECONDS: f64 = 30.0 * 86_400.0;

/// A number of seconds from a flag: a number > 0 and at most [`MAX_SECONDS`]. The error quotes
/// the text as given (a huge or infinite number was a panic when made a `Duration`).
pub fn parse_seconds(flag: &str, text: &str) -> Result<std::time::Duration, InputError> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= MAX_SECONDS => {
            Ok(std::time::Duration::from_secs_f64(s))
        }
        _ => Err(InputError(format!(
            "invalid {flag}: \"{text}\"; allowed: a number of seconds > 0 and ≤ {MAX_SECONDS} \
             (30 days)"
        ))),
    }
}

/// `500ms`, `10s`, `30m`, `4h`, `1d`, `2w` or an integer of milliseconds.
pub fn parse_duration(field: &str, text: &str) -> Result<i64, InputError> {
    let t = text.trim();
    let bad = || {
        InputError(format!(
            "invalid {field}: `{text}`; allowed: a duration such as 500ms, 10s, 30m, 4h, 1d, 2w, \
             or an integer number of milliseconds ≥ 0"
        ))
    };
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let k = match unit {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(bad()),
    };
    n.checked_mul(k).ok_or_else(bad)
}

fn parse_dec(field: &str, text: &str, allowed: &str) -> Result<Decimal, InputError> {
    let t = text.trim();
    t.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(t))
        .map_err(|_| InputError(format!("invalid {field}: `{text}`; allowed: {allowed}")))
}

fn parse_time(field: &str, text: &str) -> Result<i64, InputError> {
    smartfolio_data::parse_time_ms(text.trim()).ok_or_else(|| {
        InputError(format!(
            "invalid {field}: `{text}`; allowed: a date or time such as 2024-01-01, \
             2024-01-21T07:00:00Z, or epoch seconds/milliseconds"
        ))
    })
}

/// `--speed`: market ms per wall ms, or `max` for no pacing.
pub fn parse_speed(field: &str, text: &str) -> Result<Option<f64>, InputError> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("max") {
        return Ok(None);
    }
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(Some(x)),
        _ => Err(InputError(format!(
            "invalid {field}: `{text}`; allowed: market milliseconds per wall millisecond > 0 \
             (3600 = one hour per second), or `max` for as fast as possible"
        ))),
    }
}

/// Where the configuration file is: the flag, `$SMARTFOLIO_CONFIG`, or `./smartfolio.toml`.
fn locate(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = flag {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("SMARTFOLIO_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from("smartfolio.toml");
    p.is_file().then_some(p)
}

/// Load, apply environment overrides, validate.
pub fn load(flag: Option<&Path>) -> Result<Config, InputError> {
    let source = locate(flag);
    let mut raw: RawConfig = match &source {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                InputError(format!(
                    "cannot read the config file {}: {e}",
                    path.display()
                ))
            })?;
            toml::from_str(&text)
                .map_err(|e| InputError(format!("config file {}: {e}", path.display())))?
        }
        None => RawConfig::default(),
    };
    for (var, key) in ENV_OVERRIDES {
        if let Ok(v) = std::env::var(var) {
            apply_env(&mut raw, var, key, v)?;
        }
    }
    resolve(raw, source)
}

/// One `SMARTFOLIO_*` override.
fn apply_env(raw: &mut RawConfig, var: &str, key: &str, v: String) -> Result<(), InputError> {
    let text = Some(Num::Text(v.clone()));
    match key {
        "data_dir" => raw.data_dir = Some(PathBuf::from(v)),
        "store" => raw.store = Some(v),
        "quote" => raw.quote = Some(v),
        "account" => raw.account = Some(v),
        "snapshot_interval" => raw.snapshot_interval = text,
        "cooldown" => raw.cooldown = text,
        "log_format" => raw.log_format = Some(v),
        "paper.fee_rate" => raw.paper.fee_rate = text,
        "paper.slippage_bps" => raw.paper.slippage_bps = text,
        "market.kind" => raw.market.kind = Some(v),
        "market.seed" => {
            raw.market.seed = Some(v.trim().parse().map_err(|_| {
                InputError(format!(
                    "invalid {var} (market.seed): `{v}`; allowed: an integer ≥ 0"
                ))
            })?)
        }
        "market.assets" => {
            raw.market.assets = Some(v.split(',').map(|s| s.trim().to_string()).collect())
        }
        "market.step" => raw.market.step = text,
        "market.speed" => raw.market.speed = text,
        _ => raw.market.path = Some(PathBuf::from(v)),
    }
    Ok(())
}

fn resolve(raw: RawConfig, source: Option<PathBuf>) -> Result<Config, InputError> {
    let sym = |field: &str, s: &str| {
        smartfolio_core::targets::normalize_symbol(field, s).map_err(|e| InputError(e.to_string()))
    };
    let quote = sym("quote", raw.quote.as_deref().unwrap_or("USDT"))?;
    let account = raw.account.unwrap_or_else(|| "main".into());
    let store = match raw.store.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(url) if smartfolio_store::is_postgres_url(url) => Some(url.to_string()),
        Some(other) => {
            return Err(InputError(format!(
                "invalid store (or $SMARTFOLIO_STORE): `{}`; allowed: a \
                 postgres://user:password@host:port/database URL, or empty for SQLite in data_dir",
                smartfolio_store::mask_url(other)
            )));
        }
    };
    if account.trim().is_empty() {
        return Err(InputError(
            "invalid account: ``; allowed: a non-empty account name".into(),
        ));
    }
    let snapshot_interval_ms = match &raw.snapshot_interval {
        Some(n) => parse_duration("snapshot_interval", &n.text())?,
        None => 3_600_000,
    };
    if snapshot_interval_ms <= 0 {
        return Err(InputError(format!(
            "invalid snapshot_interval: `{}`; allowed: a duration > 0",
            snapshot_interval_ms
        )));
    }
    let cooldown_ms = match &raw.cooldown {
        Some(n) => parse_duration("cooldown", &n.text())?,
        None => smartfolio_core::trigger::DEFAULT_COOLDOWN_MS,
    };
    let log_format = match raw.log_format.as_deref().map(str::trim) {
        None | Some("pretty") => LogFormat::Pretty,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(InputError(format!(
                "invalid log_format: `{other}`; allowed: pretty, json"
            )));
        }
    };
    let p = raw.paper;
    let fee_rate = match &p.fee_rate {
        Some(n) => parse_dec(
            "paper.fee_rate",
            &n.text(),
            "a fraction in [0, 0.1], e.g. 0.001",
        )?,
        None => Decimal::new(1, 3),
    };
    if fee_rate < Decimal::ZERO || fee_rate > Decimal::new(1, 1) {
        return Err(InputError(format!(
            "invalid paper.fee_rate: `{fee_rate}`; allowed: a fraction in [0, 0.1], e.g. 0.001"
        )));
    }
    let slippage_bps = match &p.slippage_bps {
        Some(n) => parse_dec("paper.slippage_bps", &n.text(), "basis points in [0, 1000]")?,
        None => Decimal::ZERO,
    };
    if slippage_bps < Decimal::ZERO || slippage_bps > Decimal::from(1000) {
        return Err(InputError(format!(
            "invalid paper.slippage_bps: `{slippage_bps}`; allowed: basis points in [0, 1000]"
        )));
    }
    let balances = match p.balances {
        Some(b) => {
            let mut out = Vec::new();
            for (a, n) in b {
                let field = format!("paper.balances.{a}");
                let asset = sym(&field, &a)?;
                // The quote is an amount of quote; any other asset a quantity of units.
                let range = if asset == quote {
                    limits::AMOUNT_OR_ZERO
                } else {
                    limits::QUANTITY_OR_ZERO
                };
                let v = range
                    .parse(&field, &n.text())
                    .map_err(|e| InputError(e.to_string()))?;
                out.push((asset, v));
            }
            out
        }
        None => vec![(quote.clone(), Decimal::from(100_000))],
    };
    let mut rules = BTreeMap::new();
    for (a, r) in p.instruments {
        let asset = sym(&format!("paper.instruments.{a}"), &a)?;
        let mut ir = Config::default_rules();
        for (key, v) in [
            ("lot_step", &r.lot_step),
            ("min_size", &r.min_size),
            ("min_notional", &r.min_notional),
            ("tick_size", &r.tick_size),
        ] {
            if let Some(v) = v {
                let field = format!("paper.instruments.{asset}.{key}");
                let d = parse_dec(&field, &v.text(), "a number ≥ 0")?;
                match key {
                    "lot_step" => ir.lot_step = Some(d),
                    "min_size" => ir.min_size = Some(d),
                    "min_notional" => ir.min_notional = Some(d),
                    _ => ir.tick_size = Some(d),
                }
            }
        }
        let status = match r.status.as_deref() {
            None | Some("trading") => InstrumentStatus::Trading,
            Some("halted") => InstrumentStatus::Halted,
            Some("delisted") => InstrumentStatus::Delisted,
            Some("sell-only") => InstrumentStatus::SellOnly,
            Some("cancel-only") => InstrumentStatus::CancelOnly,
            Some(other) => {
                return Err(InputError(format!(
                    "invalid paper.instruments.{asset}.status: `{other}`; allowed: trading, \
                     sell-only, cancel-only, halted, delisted"
                )));
            }
        };
        rules.insert(asset, (ir, status));
    }
    let m = raw.market;
    let kind = match m.kind.as_deref().map(str::trim) {
        None | Some("synthetic") => MarketKind::Synthetic,
        Some("replay") => MarketKind::Replay,
        Some(other) => {
            return Err(InputError(format!(
                "invalid market.kind: `{other}`; allowed: synthetic, replay"
            )));
        }
    };
    let assets = match m.assets {
        Some(a) => a
            .iter()
            .map(|x| sym("market.assets", x))
            .collect::<Result<Vec<_>, _>>()?,
        None => vec!["BTC".into(), "ETH".into(), "SOL".into()],
    };
    if assets.is_empty() {
        return Err(InputError(
            "invalid market.assets: `[]`; allowed: at least one asset".into(),
        ));
    }
    let step_ms = match &m.step {
        Some(n) => parse_duration("market.step", &n.text())?,
        None => 60_000,
    };
    if step_ms <= 0 {
        return Err(InputError(format!(
            "invalid market.step: `{step_ms}`; allowed: a duration > 0"
        )));
    }
    let start_ms = match &m.start {
        Some(n) => parse_time("market.start", &n.text())?,
        None => smartfolio_exchange::feed::SyntheticConfig::DEFAULT_START_MS,
    };
    let speed = match (&m.speed, m.ticks_per_second) {
        (Some(s), _) => parse_speed("market.speed", &s.text())?,
        (None, Some(tps)) if tps.is_finite() && tps > 0.0 => Some(step_ms as f64 * tps / 1000.0),
        (None, Some(tps)) => {
            return Err(InputError(format!(
                "invalid market.ticks_per_second: `{tps}`; allowed: a number > 0"
            )));
        }
        (None, None) => match kind {
            MarketKind::Synthetic => Some(step_ms as f64 / 1000.0),
            MarketKind::Replay => Some(3600.0),
        },
    };
    let from_ms = m
        .from
        .as_ref()
        .map(|n| parse_time("market.from", &n.text()))
        .transpose()?;
    let to_ms =
        m.to.as_ref()
            .map(|n| parse_time("market.to", &n.text()))
            .transpose()?;
    Ok(Config {
        source,
        data_dir: raw
            .data_dir
            .unwrap_or_else(|| PathBuf::from("./smartfolio-data")),
        store,
        quote,
        account,
        snapshot_interval_ms,
        cooldown_ms,
        log_format,
        fee_rate,
        slippage_bps,
        balances,
        rules,
        market: MarketConfig {
            kind,
            seed: m.seed.unwrap_or(42),
            assets,
            step_ms,
            start_ms,
            correlation: m.correlation.unwrap_or(0.6),
            speed,
            replay_path: m.path,
            interval: m.interval,
            from_ms,
            to_ms,
        },
    })
}

/// Structured logs on stderr: `RUST_LOG` filters (default `default_level`).
pub fn init_logging(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    use std::io::IsTerminal as _;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_text(text: &str) -> Result<Config, InputError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| InputError(e.to_string()))?;
        resolve(raw, None)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("d", "0").unwrap(), 0);
        assert_eq!(parse_duration("d", "250").unwrap(), 250);
        assert_eq!(parse_duration("d", "500ms").unwrap(), 500);
        assert_eq!(parse_duration("d", "10s").unwrap(), 10_000);
        assert_eq!(parse_duration("d", "30m").unwrap(), 1_800_000);
        assert_eq!(parse_duration("d", "4h").unwrap(), 14_400_000);
        assert_eq!(parse_duration("d", "2w").unwrap(), 1_209_600_000);
        for bad in ["", "h", "-1h", "1.5h", "3y", "99999999999999999999d"] {
            let e = parse_duration("cooldown", bad).unwrap_err().0;
            assert!(
                e.contains("cooldown") && e.contains("allowed"),
                "{bad}: {e}"
            );
        }
        assert_eq!(parse_speed("s", "max").unwrap(), None);
        assert_eq!(parse_speed("s", "3600").unwrap(), Some(3600.0));
        assert!(parse_speed("s", "0").is_err() && parse_speed("s", "fast").is_err());
    }

    #[test]
    fn defaults_and_values() {
        let c = resolve_text("").unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./smartfolio-data"));
        assert_eq!(c.quote, "USDT");
        assert_eq!(
            c.balances,
            vec![("USDT".to_string(), Decimal::from(100_000))]
        );
        assert_eq!(c.market.kind, MarketKind::Synthetic);
        assert_eq!(c.market.assets, ["BTC", "ETH", "SOL"]);
        // One tick per second of one minute each.
        assert_eq!(c.market.speed, Some(60.0));
        assert_eq!(c.paper().instruments.len(), 3);

        let c = resolve_text(
            "quote = \"usdc\"\ncooldown = 0\n[paper]\nfee_rate = 0.002\nslippage_bps = \"5\"\n\
             balances = { USDC = 10, BTC = \"0.5\" }\n[paper.instruments.doge]\nlot_step = \"1\"\n\
             status = \"halted\"\n[market]\nstep = \"1h\"\nticks_per_second = 2\nassets = [\"btc\"]\n",
        )
        .unwrap();
        assert_eq!(c.quote, "USDC");
        assert_eq!(c.cooldown_ms, 0);
        assert_eq!(c.fee_rate, Decimal::new(2, 3));
        assert_eq!(c.slippage_bps, Decimal::from(5));
        assert_eq!(c.market.speed, Some(7_200.0));
        let p = c.paper();
        assert_eq!(p.quote, "USDC");
        let doge = p.instruments.iter().find(|i| i.base == "DOGE").unwrap();
        assert_eq!(doge.rules.lot_step, Some(Decimal::ONE));
        assert_eq!(doge.status, InstrumentStatus::Halted);
        assert!(p.instruments.iter().any(|i| i.base == "BTC"));
    }

    #[test]
    fn bad_values_name_the_key() {
        for (text, key) in [
            ("[paper]\nfee_rate = \"0.5\"", "paper.fee_rate"),
            ("[paper]\nslippage_bps = -1", "paper.slippage_bps"),
            ("[paper.balances]\nUSDT = \"-5\"", "paper.balances.USDT"),
            (
                "[paper.instruments.BTC]\nstatus = \"paused\"",
                "paper.instruments.BTC.status",
            ),
            (
                "[paper.instruments.BTC]\nlot_step = \"x\"",
                "paper.instruments.BTC.lot_step",
            ),
            ("[market]\nkind = \"live\"", "market.kind"),
            ("[market]\nassets = []", "market.assets"),
            ("[market]\nstep = \"0\"", "market.step"),
            ("[market]\nstart = \"someday\"", "market.start"),
            ("log_format = \"xml\"", "log_format"),
            ("snapshot_interval = \"0\"", "snapshot_interval"),
        ] {
            let e = resolve_text(text).unwrap_err().0;
            assert!(e.contains(key), "{text}: {e}");
        }
        let e = resolve_text("store = \"mysql://sf:hunter2@db/sf\"")
            .unwrap_err()
            .0;
        assert!(
            e.contains("invalid store") && e.contains("`mysql://sf:***@db/sf`"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        let e = resolve_text("[paper]\nfees = 1").unwrap_err().0;
        assert!(e.contains("fees") && e.contains("line 2"), "{e}");
    }
}
