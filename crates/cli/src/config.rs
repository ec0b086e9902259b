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
//! [venue]
//! kind = "paper"                   # paper (default) | binance | okx | gate
//! base_url = "https://api.binance.com"   # optional: a testnet, the local simulator
//! demo = false                     # okx: a demo-trading key (x-simulated-trading: 1)
//! prices = "binance"               # the dry run's public prices: binance (default) | okx | gate
//! key_file = "keys.toml"           # api_key, api_secret (and api_passphrase); mode 0600 only
//! allow_withdrawal_keys = false    # a key that can withdraw is refused for trading
//! timeout = "10s"                  # a request's whole time (100ms to 5m); a placement that
//!                                  # times out is settled by lookup, never sent again
//! connect_timeout = "5s"           # opening a connection (100ms to the timeout)
//!                                  # (SMARTFOLIO_VENUE_TIMEOUT, _CONNECT_TIMEOUT)
//!
//! [market]
//! kind = "synthetic"               # or "replay", or "live" (the venue's public prices)
//! seed = 42
//! assets = ["BTC", "ETH", "SOL"]
//! step = "1m"                      # market time between synthetic ticks
//! start = "2024-01-01"
//! ticks_per_second = 1             # synthetic pacing; `speed` overrides it
//! # replay: path = "../shared/data/hourly", interval = "1h", from = "2024-01-01", to = "..."
//! # speed = 3600                   # market ms per wall ms (3600: one hour per second), or "max"
//! # live: poll = "2s"              # how often live prices are read
//!
//! [execution]                      # how new bots place orders (each bot may override it)
//! style = "market"                 # or "limit" (at the touch), "maker" (post-only)
//! limit_timeout = "60s"            # a limit order rests this long, then is re-priced
//! reprices = 3                     # re-prices before the fallback (0 to 20)
//! fallback = "market"              # the rest after the last re-price: "market" or "none"
//! # max_slippage_bps = 50          # a price this far from the plan's stops new orders
//! # max_slice = "1000"             # the largest order of a leg, in quote
//! # max_volume_share = "0.05"      # and at most this share, in (0, 1], of the venue's 24 h
//! #                                # quote volume over one slice_interval (the smaller wins)
//! # slice_interval = "60s"         # between one slice of a leg and the next
//! ```
//!
//! The keys come from `SMARTFOLIO_API_KEY`, `SMARTFOLIO_API_SECRET` (and
//! `SMARTFOLIO_API_PASSPHRASE`), else from `venue.key_file`; never from `smartfolio.toml`
//! itself.
//!
//! Venue accounts beside the default one (`account` on `[venue]`), each traded by the same
//! daemon (`smartfolio run`) on a host of its own; `bot create --account NAME` puts a bot on
//! one (default: the default account):
//!
//! ```toml
//! [accounts.okx-main]
//! venue = { kind = "okx", base_url = "https://www.okx.com", key_file = "okx-keys.toml", demo = false }
//! [accounts.gate-1.venue]          # the same keys as [venue], each its own
//! kind = "gate"
//! timeout = "10s"
//! ```
//!
//! A name is 1 to 64 letters, digits, `-`, `_` or `.`; no two accounts, the default one
//! included, share one, ignoring case and punctuation. An account's keys come from
//! `SMARTFOLIO_<NAME>_API_KEY`, `_API_SECRET` and `_API_PASSPHRASE` (the name in capitals,
//! every other character `_`: `okx-main` reads `SMARTFOLIO_OKX_MAIN_API_KEY`), else from its
//! own `key_file` (mode 0600, relative to this file); never from the default account's
//! variables. A real venue's account reads its own prices (a live market of `[market]`'s
//! assets and poll); a paper one trades on `[market]` as the default account does, in a paper
//! account of its own name. They are secrets from the moment they are read (`secrecy`): no `Debug`, error or
//! log shows them.

use crate::InputError;
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde::Deserialize;
use smartfolio_core::{InstrumentRules, limits};
use smartfolio_exchange::InstrumentStatus;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The environment variables that override the file, and the key each one sets.
pub const ENV_OVERRIDES: [(&str, &str); 23] = [
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
    ("SMARTFOLIO_VENUE", "venue.kind"),
    ("SMARTFOLIO_VENUE_URL", "venue.base_url"),
    ("SMARTFOLIO_VENUE_PRICES", "venue.prices"),
    ("SMARTFOLIO_VENUE_TIMEOUT", "venue.timeout"),
    ("SMARTFOLIO_VENUE_CONNECT_TIMEOUT", "venue.connect_timeout"),
    ("SMARTFOLIO_API_KEY", "venue.api_key"),
    ("SMARTFOLIO_API_SECRET", "venue.api_secret"),
    ("SMARTFOLIO_API_PASSPHRASE", "venue.api_passphrase"),
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
    #[serde(default)]
    venue: RawVenue,
    #[serde(default)]
    execution: RawExecution,
    /// Venue accounts beside the default one, by name.
    #[serde(default)]
    accounts: BTreeMap<String, RawAccount>,
}

/// `[accounts.NAME]`: an account beside the default one.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    #[serde(default)]
    venue: RawVenue,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct RawVenue {
    kind: Option<String>,
    base_url: Option<String>,
    key_file: Option<PathBuf>,
    allow_withdrawal_keys: Option<bool>,
    timeout: Option<Num>,
    connect_timeout: Option<Num>,
    demo: Option<bool>,
    prices: Option<String>,
    /// The variables that set `timeout` and `connect_timeout`, when one did (its errors name
    /// it).
    #[serde(skip)]
    timeout_env: Option<&'static str>,
    #[serde(skip)]
    connect_timeout_env: Option<&'static str>,
    /// From the environment only, never the file.
    #[serde(skip)]
    api_key: Option<SecretString>,
    #[serde(skip)]
    api_secret: Option<SecretString>,
    #[serde(skip)]
    api_passphrase: Option<SecretString>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct RawExecution {
    style: Option<String>,
    limit_timeout: Option<Num>,
    reprices: Option<u32>,
    fallback: Option<String>,
    max_slippage_bps: Option<Num>,
    max_slice: Option<Num>,
    max_volume_share: Option<Num>,
    slice_interval: Option<Num>,
}

/// A key file: the account's keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    api_key: Option<String>,
    api_secret: Option<String>,
    api_passphrase: Option<String>,
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
    poll: Option<Num>,
}

/// How logs are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

pub use smartfolio_node::{
    AccountConfig, ApiKeys, MarketConfig, MarketKind, Timeouts, VenueConfig, VenueKind,
};

/// How new bots' orders are placed (`[execution]`; a bot's own settings override it).
pub use smartfolio_bot::ExecutionConfig;

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
    /// The venue (and its keys: `Debug` shows `[REDACTED]`).
    pub venue: VenueConfig,
    /// The accounts beside the default one (`[accounts.NAME]`), each on its own venue.
    pub accounts: Vec<AccountConfig>,
    pub execution: ExecutionConfig,
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
                    post_only: true,
                    book: None,
                });
        }
        p
    }
}

/// The longest a flag in seconds (`--timeout`, `--max-seconds`) may ask for: 30 days.
pub const MAX_SECONDS: f64 = 30.0 * 86_400.0;

/// The store's location (`what` names where it was given): a `postgres://` URL, or none (empty)
/// for SQLite in the data directory; anything else is refused, its password masked.
pub fn parse_store(what: &str, text: Option<&str>) -> Result<Option<String>, InputError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(url) if smartfolio_store::is_postgres_url(url) => Ok(Some(url.to_string())),
        Some(other) => Err(InputError(format!(
            "invalid {what}: `{}`; allowed: a postgres://user:password@host:port/database URL, \
             or empty for SQLite in data_dir",
            smartfolio_store::mask_url(other)
        ))),
    }
}

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

/// `[execution]`: each key over the default; the error names the key, the value and the range.
fn resolve_execution(raw: RawExecution) -> Result<ExecutionConfig, InputError> {
    let err = |e: smartfolio_core::ValidationError| InputError(e.to_string());
    let mut c = ExecutionConfig::default();
    if let Some(s) = &raw.style {
        c.style = s.parse().map_err(err)?;
    }
    if let Some(t) = &raw.limit_timeout {
        c.limit_timeout_ms = parse_duration("execution.limit_timeout", &t.text())?;
    }
    if let Some(n) = raw.reprices {
        c.reprices = n;
    }
    if let Some(f) = &raw.fallback {
        c.fallback = f.parse().map_err(err)?;
    }
    if let Some(b) = &raw.max_slippage_bps {
        c.max_slippage_bps = Some(parse_dec(
            "execution.max_slippage_bps",
            &b.text(),
            ExecutionConfig::SLIPPAGE_ALLOWED,
        )?);
    }
    if let Some(b) = &raw.max_slice {
        c.max_slice = Some(parse_dec(
            "execution.max_slice",
            &b.text(),
            ExecutionConfig::SLICE_ALLOWED,
        )?);
    }
    if let Some(b) = &raw.max_volume_share {
        c.max_volume_share = Some(parse_dec(
            "execution.max_volume_share",
            &b.text(),
            ExecutionConfig::VOLUME_SHARE_ALLOWED,
        )?);
    }
    if let Some(t) = &raw.slice_interval {
        c.slice_interval_ms = parse_duration("execution.slice_interval", &t.text())?;
    }
    c.validate().map_err(err)?;
    Ok(c)
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
    account_keys_from_env(&mut raw, |var| std::env::var(var).ok());
    resolve(raw, source)
}

/// Each extra account's keys from `SMARTFOLIO_<NAME>_API_KEY`, `_API_SECRET` and
/// `_API_PASSPHRASE` ([`account_env`]), over its key file's; an empty variable is unset.
fn account_keys_from_env(raw: &mut RawConfig, var: impl Fn(&str) -> Option<String>) {
    for (name, a) in raw.accounts.iter_mut() {
        let env = account_env(name);
        let read = |suffix: &str| {
            var(&format!("{env}_{suffix}"))
                .filter(|v| !v.trim().is_empty())
                .map(|v| SecretString::from(v.trim().to_string()))
        };
        if let Some(k) = read("API_KEY") {
            a.venue.api_key = Some(k);
        }
        if let Some(s) = read("API_SECRET") {
            a.venue.api_secret = Some(s);
        }
        if let Some(p) = read("API_PASSPHRASE") {
            a.venue.api_passphrase = Some(p);
        }
    }
}

/// One `SMARTFOLIO_*` override.
fn apply_env(
    raw: &mut RawConfig,
    var: &'static str,
    key: &str,
    v: String,
) -> Result<(), InputError> {
    let secret = |v: &str| (!v.trim().is_empty()).then(|| SecretString::from(v.trim().to_string()));
    let slot = match key {
        "venue.api_key" => Some(&mut raw.venue.api_key),
        "venue.api_secret" => Some(&mut raw.venue.api_secret),
        "venue.api_passphrase" => Some(&mut raw.venue.api_passphrase),
        _ => None,
    };
    if let Some(slot) = slot {
        // An empty variable is unset.
        if let Some(s) = secret(&v) {
            *slot = Some(s);
        }
        return Ok(());
    }
    let text = Some(Num::Text(v.clone()));
    match key {
        "venue.kind" => raw.venue.kind = Some(v),
        "venue.base_url" => raw.venue.base_url = Some(v),
        "venue.prices" => raw.venue.prices = Some(v),
        "venue.timeout" => {
            raw.venue.timeout = text;
            raw.venue.timeout_env = Some(var);
        }
        "venue.connect_timeout" => {
            raw.venue.connect_timeout = text;
            raw.venue.connect_timeout_env = Some(var);
        }
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

/// The mode bits of a key file that are allowed: none for the group or others.
#[cfg(unix)]
fn check_key_file_mode(
    field: &str,
    path: &Path,
    meta: &std::fs::Metadata,
) -> Result<(), InputError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(InputError(format!(
            "invalid {field}.key_file: {} has mode {mode:04o}; allowed: 0600 (or 0400), readable \
             by its owner only (chmod 600 {})",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_key_file_mode(_: &str, _: &Path, _: &std::fs::Metadata) -> Result<(), InputError> {
    Ok(())
}

/// Read a key file (refused unless only its owner can read it). Errors never quote its text.
fn read_key_file(field: &str, path: &Path) -> Result<KeyFile, InputError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        InputError(format!(
            "invalid {field}.key_file: cannot read {}: {e}",
            path.display()
        ))
    })?;
    check_key_file_mode(field, path, &meta)?;
    let text = std::fs::read_to_string(path).map_err(|e| {
        InputError(format!(
            "invalid {field}.key_file: cannot read {}: {e}",
            path.display()
        ))
    })?;
    toml::from_str::<KeyFile>(&text).map_err(|e| {
        // The parser's message may quote the text (a secret): say only where.
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        InputError(format!(
            "invalid {field}.key_file: {}{} is not a TOML file of api_key, api_secret and \
             optionally api_passphrase, each a string",
            path.display(),
            line.map_or(String::new(), |l| format!(" (line {l})"))
        ))
    })
}

/// Where a venue's settings come from, as its errors name them: the table (`venue`, or
/// `accounts.NAME.venue`) and the prefix of its key variables (`SMARTFOLIO`, or
/// `SMARTFOLIO_<NAME>`).
struct VenueScope {
    field: String,
    env: String,
}

impl VenueScope {
    fn default_account() -> Self {
        Self {
            field: "venue".into(),
            env: "SMARTFOLIO".into(),
        }
    }

    fn account(name: &str) -> Self {
        Self {
            field: format!("accounts.{name}.venue"),
            env: account_env(name),
        }
    }
}

/// The prefix of an extra account's key variables: `SMARTFOLIO_` and its name in capitals,
/// every character but a letter or digit as `_` (`okx-main`: `SMARTFOLIO_OKX_MAIN`, read as
/// `SMARTFOLIO_OKX_MAIN_API_KEY`, `_API_SECRET`, `_API_PASSPHRASE`).
pub fn account_env(name: &str) -> String {
    let up: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("SMARTFOLIO_{up}")
}

/// The venue's settings: kind, URL, and the keys (the environment's over the key file's).
fn resolve_venue(
    v: RawVenue,
    source: Option<&Path>,
    scope: &VenueScope,
) -> Result<VenueConfig, InputError> {
    let f = scope.field.as_str();
    let env = scope.env.as_str();
    let kind = match v.kind.as_deref().map(|k| k.trim().to_ascii_lowercase()) {
        None => VenueKind::Paper,
        Some(k) if k == "paper" => VenueKind::Paper,
        Some(k) if k == "binance" => VenueKind::Binance,
        Some(k) if k == "okx" => VenueKind::Okx,
        Some(k) if k == "gate" => VenueKind::Gate,
        Some(k) => {
            return Err(InputError(format!(
                "invalid {f}.kind: `{k}`; allowed: paper, binance, okx, gate"
            )));
        }
    };
    let prices = match v.prices.as_deref().map(|p| p.trim().to_ascii_lowercase()) {
        None => None,
        Some(p) if p == "binance" => Some(VenueKind::Binance),
        Some(p) if p == "okx" => Some(VenueKind::Okx),
        Some(p) if p == "gate" => Some(VenueKind::Gate),
        Some(p) => {
            return Err(InputError(format!(
                "invalid {f}.prices: `{p}`; allowed: binance, okx, gate (whose public prices a \
                 dry run reads)"
            )));
        }
    };
    if let Some(p) = prices
        && kind.is_remote()
        && p != kind
    {
        return Err(InputError(format!(
            "invalid {f}.prices: `{p}` with {f}.kind = {kind}; allowed: {kind} (a real \
             venue trades at its own prices), or leave it out"
        )));
    }
    let demo = v.demo.unwrap_or(false);
    if demo && kind != VenueKind::Okx {
        return Err(InputError(format!(
            "invalid {f}.demo: `true` with {f}.kind = {kind}; allowed: demo = true only \
             with kind = \"okx\" (OKX's demo trading)"
        )));
    }
    let base_url = match v.base_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
            Some(u.trim_end_matches('/').to_string())
        }
        Some(u) => {
            return Err(InputError(format!(
                "invalid {f}.base_url: `{u}`; allowed: an http:// or https:// URL such as \
                 https://api.binance.com"
            )));
        }
    };
    let mut file = KeyFile {
        api_key: None,
        api_secret: None,
        api_passphrase: None,
    };
    if let Some(p) = &v.key_file {
        // Relative to the configuration file's folder.
        let path = match source.and_then(Path::parent) {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.clone(),
        };
        file = read_key_file(f, &path)?;
    }
    let wrap = |s: Option<String>| s.filter(|s| !s.trim().is_empty()).map(SecretString::from);
    let api_key = v.api_key.or(wrap(file.api_key));
    let api_secret = v.api_secret.or(wrap(file.api_secret));
    let passphrase = v.api_passphrase.or(wrap(file.api_passphrase));
    let keys = match (api_key, api_secret) {
        (Some(api_key), Some(api_secret)) => Some(ApiKeys {
            api_key,
            api_secret,
            passphrase,
        }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(InputError(format!(
                "invalid {f} keys: an API key without its secret; allowed: both \
                 {env}_API_KEY and {env}_API_SECRET (or api_key and api_secret in {f}.key_file)"
            )));
        }
        (None, Some(_)) => {
            return Err(InputError(format!(
                "invalid {f} keys: an API secret without its key; allowed: both \
                 {env}_API_KEY and {env}_API_SECRET (or api_key and api_secret in {f}.key_file)"
            )));
        }
    };
    Ok(VenueConfig {
        kind,
        base_url,
        keys,
        allow_withdrawal_keys: v.allow_withdrawal_keys.unwrap_or(false),
        timeouts: venue_timeouts(
            f,
            v.timeout.as_ref().map(|n| (n, v.timeout_env)),
            v.connect_timeout
                .as_ref()
                .map(|n| (n, v.connect_timeout_env)),
        )?,
        demo,
        prices,
    })
}

/// `venue.timeout` (the whole request) and `venue.connect_timeout` (at most the timeout), each
/// from 100ms to 5m; each with the variable that set it, if one did (an error names it).
fn venue_timeouts(
    table: &str,
    timeout: Option<(&Num, Option<&str>)>,
    connect: Option<(&Num, Option<&str>)>,
) -> Result<Timeouts, InputError> {
    let timeout_field = format!("{table}.timeout");
    let connect_field = format!("{table}.connect_timeout");
    let read = |key: &str, (n, var): (&Num, Option<&str>), max_ms: u64, max: &str| {
        let field = match var {
            Some(var) => format!("{var} ({key})"),
            None => key.to_string(),
        };
        let field = field.as_str();
        let text = n.text();
        let ms = parse_duration(field, &text)?;
        u64::try_from(ms)
            .ok()
            .filter(|ms| (Timeouts::MIN_MS..=max_ms).contains(ms))
            .ok_or_else(|| {
                InputError(format!(
                    "invalid {field}: `{text}`; allowed: a duration from 100ms to {max}, e.g. 10s"
                ))
            })
    };
    let timeout_key = match timeout.and_then(|t| t.1) {
        Some(var) => format!("{var} ({timeout_field})"),
        None => timeout_field.clone(),
    };
    let request_ms = match timeout {
        Some(n) => read(&timeout_field, n, Timeouts::MAX_MS, "5m")?,
        None => Timeouts::DEFAULT_REQUEST_MS,
    };
    let connect_ms = match connect {
        Some(n) => read(
            &connect_field,
            n,
            request_ms,
            &format!("{timeout_key} ({request_ms} ms)"),
        )?,
        None => Timeouts::DEFAULT_CONNECT_MS.min(request_ms),
    };
    Ok(Timeouts {
        request_ms,
        connect_ms,
    })
}

/// `[accounts.NAME]`: each extra account's name and venue. A name is 1 to 64 letters, digits,
/// `-`, `_` or `.`, and no two accounts (the default one included) share it, ignoring case
/// and punctuation (their key variables would be the same).
fn resolve_accounts(
    raw: BTreeMap<String, RawAccount>,
    default: &str,
    source: Option<&Path>,
) -> Result<Vec<AccountConfig>, InputError> {
    let mut out: Vec<AccountConfig> = Vec::new();
    for (name, a) in raw {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(InputError(format!(
                "invalid accounts.{name}: `{name}`; allowed: an account name of 1 to 64 \
                 letters, digits, `-`, `_` or `.`"
            )));
        }
        let same = |other: &str| account_env(other) == account_env(&name);
        if let Some(other) = std::iter::once(default)
            .chain(out.iter().map(|a| a.name.as_str()))
            .find(|o| same(o))
        {
            let which = if other == default {
                format!("the default account (`account = \"{default}\"`)")
            } else {
                format!("accounts.{other}")
            };
            return Err(InputError(format!(
                "invalid accounts.{name}: `{name}` names the same account as {which}; \
                 allowed: a name no other account has (names are compared ignoring case and \
                 punctuation, as their key variables {} are)",
                account_env(&name)
            )));
        }
        let venue = resolve_venue(a.venue, source, &VenueScope::account(&name))?;
        out.push(AccountConfig { name, venue });
    }
    Ok(out)
}

fn resolve(raw: RawConfig, source: Option<PathBuf>) -> Result<Config, InputError> {
    let venue = resolve_venue(raw.venue, source.as_deref(), &VenueScope::default_account())?;
    let execution = resolve_execution(raw.execution)?;
    let sym = |field: &str, s: &str| {
        smartfolio_core::targets::normalize_symbol(field, s).map_err(|e| InputError(e.to_string()))
    };
    let quote = sym("quote", raw.quote.as_deref().unwrap_or("USDT"))?;
    let account = raw.account.unwrap_or_else(|| "main".into());
    let store = parse_store("store (or $SMARTFOLIO_STORE)", raw.store.as_deref())?;
    if account.trim().is_empty() {
        return Err(InputError(
            "invalid account: ``; allowed: a non-empty account name".into(),
        ));
    }
    let accounts = resolve_accounts(raw.accounts, &account, source.as_deref())?;
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
        Some("live") => MarketKind::Live,
        Some(other) => {
            return Err(InputError(format!(
                "invalid market.kind: `{other}`; allowed: synthetic, replay, live"
            )));
        }
    };
    let poll_ms = match &m.poll {
        Some(n) => parse_duration("market.poll", &n.text())?,
        None => smartfolio_node::market::DEFAULT_POLL_MS,
    };
    if poll_ms < 100 {
        return Err(InputError(format!(
            "invalid market.poll: `{poll_ms}` ms; allowed: a duration ≥ 100ms, e.g. 2s"
        )));
    }
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
            // Read every `poll` by the feed itself: unpaced.
            MarketKind::Live => None,
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
            poll_ms,
        },
        venue,
        accounts,
        execution,
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
            ("[market]\nkind = \"stream\"", "market.kind"),
            ("[market]\npoll = \"10ms\"", "market.poll"),
            ("[venue]\nkind = \"kraken\"", "venue.kind"),
            ("[venue]\nbase_url = \"ftp://x\"", "venue.base_url"),
            ("[execution]\nstyle = \"taker\"", "execution.style"),
            ("[execution]\nlimit_timeout = 0", "execution.limit_timeout"),
            (
                "[execution]\nmax_slippage_bps = -5",
                "execution.max_slippage_bps",
            ),
            ("[execution]\nfallback = \"twap\"", "execution.fallback"),
            ("[execution]\nmax_slice = \"0\"", "execution.max_slice"),
            (
                "[execution]\nmax_volume_share = \"x\"",
                "execution.max_volume_share",
            ),
            (
                "[execution]\nmax_volume_share = 1.5",
                "execution.max_volume_share",
            ),
            (
                "[execution]\nslice_interval = \"0s\"",
                "execution.slice_interval",
            ),
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

    #[test]
    fn venue_timeouts_default_and_bad_values_name_field_value_and_range() {
        let c = resolve_text("").unwrap();
        assert_eq!(c.venue.timeouts, Timeouts::default());
        assert_eq!(
            (c.venue.timeouts.request_ms, c.venue.timeouts.connect_ms),
            (10_000, 5_000)
        );
        let c = resolve_text("[venue]\ntimeout = \"2s\"\nconnect_timeout = 500").unwrap();
        assert_eq!(
            c.venue.timeouts,
            Timeouts {
                request_ms: 2_000,
                connect_ms: 500
            }
        );
        // A request timeout below the default connect timeout bounds it.
        let c = resolve_text("[venue]\ntimeout = \"1s\"").unwrap();
        assert_eq!(c.venue.timeouts.connect_ms, 1_000);
        for (text, want) in [
            (
                "timeout = \"50ms\"",
                "invalid venue.timeout: `50ms`; allowed: a duration from 100ms to 5m",
            ),
            (
                "timeout = \"6m\"",
                "invalid venue.timeout: `6m`; allowed: a duration from 100ms to 5m",
            ),
            ("timeout = \"soon\"", "invalid venue.timeout: `soon`"),
            (
                "timeout = \"2s\"\nconnect_timeout = \"3s\"",
                "invalid venue.connect_timeout: `3s`; allowed: a duration from 100ms to \
                 venue.timeout (2000 ms)",
            ),
        ] {
            let e = resolve_text(&format!("[venue]\n{text}")).unwrap_err().0;
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    /// Resolve `text` with the environment overrides `env` (variable, value) applied.
    fn resolve_env(text: &str, env: &[(&'static str, &str)]) -> Result<Config, InputError> {
        let mut raw: RawConfig = toml::from_str(text).map_err(|e| InputError(e.to_string()))?;
        for (var, v) in env {
            let key = ENV_OVERRIDES
                .iter()
                .find(|(name, _)| name == var)
                .map(|(_, key)| *key)
                .unwrap();
            apply_env(&mut raw, var, key, v.to_string())?;
        }
        resolve(raw, None)
    }

    #[test]
    fn venue_timeouts_from_the_environment_override_the_file_and_bad_ones_name_the_variable() {
        let file = "[venue]\ntimeout = \"20s\"\nconnect_timeout = \"2s\"";
        let c = resolve_env(
            file,
            &[
                ("SMARTFOLIO_VENUE_TIMEOUT", "30s"),
                ("SMARTFOLIO_VENUE_CONNECT_TIMEOUT", "750ms"),
            ],
        )
        .unwrap();
        assert_eq!(
            c.venue.timeouts,
            Timeouts {
                request_ms: 30_000,
                connect_ms: 750
            }
        );
        // One alone overrides its key; the file keeps the other.
        let c = resolve_env(file, &[("SMARTFOLIO_VENUE_TIMEOUT", "4000")]).unwrap();
        assert_eq!(
            (c.venue.timeouts.request_ms, c.venue.timeouts.connect_ms),
            (4_000, 2_000)
        );
        for (env, want) in [
            (
                vec![("SMARTFOLIO_VENUE_TIMEOUT", "50ms")],
                "invalid SMARTFOLIO_VENUE_TIMEOUT (venue.timeout): `50ms`; allowed: a duration \
                 from 100ms to 5m",
            ),
            (
                vec![("SMARTFOLIO_VENUE_TIMEOUT", "later")],
                "invalid SMARTFOLIO_VENUE_TIMEOUT (venue.timeout): `later`",
            ),
            (
                vec![("SMARTFOLIO_VENUE_CONNECT_TIMEOUT", "10m")],
                "invalid SMARTFOLIO_VENUE_CONNECT_TIMEOUT (venue.connect_timeout): `10m`; \
                 allowed: a duration from 100ms to venue.timeout (20000 ms)",
            ),
            (
                vec![
                    ("SMARTFOLIO_VENUE_TIMEOUT", "1s"),
                    ("SMARTFOLIO_VENUE_CONNECT_TIMEOUT", "5s"),
                ],
                "invalid SMARTFOLIO_VENUE_CONNECT_TIMEOUT (venue.connect_timeout): `5s`; \
                 allowed: a duration from 100ms to SMARTFOLIO_VENUE_TIMEOUT (venue.timeout) \
                 (1000 ms)",
            ),
        ] {
            let e = resolve_env(file, &env).unwrap_err().0;
            assert!(e.contains(want), "{env:?}: {e}");
        }
    }

    #[test]
    fn venue_market_and_execution() {
        let c = resolve_text("").unwrap();
        assert_eq!(c.venue.kind, VenueKind::Paper);
        assert!(c.venue.keys.is_none() && c.venue.base_url.is_none());
        assert_eq!(c.execution, ExecutionConfig::default());
        let e = resolve_text("[execution]\nlimit_timeout = \"0s\"")
            .unwrap_err()
            .0;
        assert!(
            e.contains("invalid execution.limit_timeout: \"0 ms\"; allowed: a duration from 1 ms"),
            "{e}"
        );
        let c = resolve_text(
            "[execution]\nstyle = \"maker\"\nlimit_timeout = \"2m\"\nreprices = 5\n\
             fallback = \"none\"\nmax_slippage_bps = 30\nmax_slice = \"500\"\n\
             max_volume_share = \"0.05\"\nslice_interval = \"5m\"\n",
        )
        .unwrap();
        let e = &c.execution;
        assert_eq!(e.style, smartfolio_bot::ExecStyle::Maker);
        assert_eq!((e.limit_timeout_ms, e.reprices), (120_000, 5));
        assert_eq!(e.fallback, smartfolio_bot::Fallback::None);
        assert_eq!(e.max_slippage_bps, Some(Decimal::from(30)));
        assert_eq!(e.max_slice, Some(Decimal::from(500)));
        assert_eq!(e.max_volume_share, Some(Decimal::new(5, 2)));
        assert_eq!(e.slice_interval_ms, 300_000);
        for (text, shown) in [("0", "\"0\""), ("-0.1", "\"-0.1\""), ("1.5", "\"1.5\"")] {
            let e = resolve_text(&format!("[execution]\nmax_volume_share = {text}\n"))
                .unwrap_err()
                .0;
            assert!(
                e.contains(&format!("invalid execution.max_volume_share: {shown}"))
                    && e.contains("a fraction in (0, 1]"),
                "{e}"
            );
        }
        let e = resolve_text("[execution]\nmax_volume_share = \"half\"\n")
            .unwrap_err()
            .0;
        assert!(
            e.contains("invalid execution.max_volume_share: `half`")
                && e.contains("a fraction in (0, 1]"),
            "{e}"
        );
        let c = resolve_text(
            "[venue]\nkind = \"binance\"\nbase_url = \"http://127.0.0.1:9/\"\n\
             allow_withdrawal_keys = true\n[market]\nkind = \"live\"\npoll = \"500ms\"\n\
             assets = [\"btc\"]\n[execution]\nstyle = \"market\"\n",
        )
        .unwrap();
        assert_eq!(c.venue.kind, VenueKind::Binance);
        assert_eq!(c.venue.base_url.as_deref(), Some("http://127.0.0.1:9"));
        assert!(c.venue.allow_withdrawal_keys);
        assert_eq!((c.market.kind, c.market.poll_ms), (MarketKind::Live, 500));
        assert_eq!(c.market.speed, None, "the live feed paces itself");
        let e = resolve_text("[venue]\nkind = \"kraken\"").unwrap_err().0;
        assert!(
            e.contains("venue.kind")
                && e.contains("kraken")
                && e.contains("allowed: paper, binance, okx, gate"),
            "{e}"
        );
        let c = resolve_text("[venue]\nkind = \"Gate\"").unwrap();
        assert_eq!(c.venue.kind, VenueKind::Gate);
        let e = resolve_text("[venue]\nkind = \"gate\"\ndemo = true")
            .unwrap_err()
            .0;
        assert!(e.contains("venue.demo") && e.contains("kind = gate"), "{e}");
        let c = resolve_text("[venue]\nprices = \"gate\"").unwrap();
        assert_eq!(c.venue.prices, Some(VenueKind::Gate));
        let c = resolve_text("[venue]\nkind = \"OKX\"\ndemo = true").unwrap();
        assert_eq!((c.venue.kind, c.venue.demo), (VenueKind::Okx, true));
        let c = resolve_text("[venue]\nprices = \"okx\"").unwrap();
        assert_eq!(
            (c.venue.kind, c.venue.prices),
            (VenueKind::Paper, Some(VenueKind::Okx))
        );
        for (text, want) in [
            (
                "prices = \"kraken\"",
                "invalid venue.prices: `kraken`; allowed: binance, okx, gate",
            ),
            (
                "kind = \"binance\"\nprices = \"okx\"",
                "invalid venue.prices: `okx` with venue.kind = binance; allowed: binance",
            ),
            (
                "kind = \"binance\"\ndemo = true",
                "invalid venue.demo: `true` with venue.kind = binance",
            ),
        ] {
            let e = resolve_text(&format!("[venue]\n{text}")).unwrap_err().0;
            assert!(e.contains(want), "{text}: {e}");
        }
        // Keys never come from smartfolio.toml itself.
        let e = resolve_text("[venue]\napi_secret = \"s\"").unwrap_err().0;
        assert!(e.contains("api_secret"), "{e}");
    }

    fn env_keys(raw: &mut RawConfig, key: Option<&str>, secret: Option<&str>) {
        if let Some(k) = key {
            apply_env(raw, "SMARTFOLIO_API_KEY", "venue.api_key", k.into()).unwrap();
        }
        if let Some(s) = secret {
            apply_env(raw, "SMARTFOLIO_API_SECRET", "venue.api_secret", s.into()).unwrap();
        }
    }

    #[cfg(unix)]
    fn key_file(dir: &Path, mode: u32, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let p = dir.join("keys.toml");
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[cfg(unix)]
    #[test]
    fn keys_from_a_private_key_file_or_the_environment_and_never_shown() {
        use secrecy::ExposeSecret as _;
        let dir = tempfile::tempdir().unwrap();
        let toml_with = |p: &Path| {
            format!(
                "[venue]\nkind = \"binance\"\nkey_file = \"{}\"\n",
                p.display()
            )
        };
        // Loose permissions: refused, naming the path and the mode found.
        let p = key_file(
            dir.path(),
            0o644,
            "api_key = \"K-1\"\napi_secret = \"S-1\"\n",
        );
        let e = resolve_text(&toml_with(&p)).unwrap_err().0;
        assert!(
            e.contains(&p.display().to_string()) && e.contains("0644") && e.contains("0600"),
            "{e}"
        );
        assert!(!e.contains("S-1"), "{e}");
        // 0600: read; relative paths are relative to the config file's folder.
        key_file(
            dir.path(),
            0o600,
            "api_key = \"K-1\"\napi_secret = \"S-1\"\n",
        );
        let raw: RawConfig =
            toml::from_str("[venue]\nkind = \"binance\"\nkey_file = \"keys.toml\"\n").unwrap();
        let c = resolve(raw, Some(dir.path().join("smartfolio.toml"))).unwrap();
        let keys = c.venue.keys.clone().unwrap();
        assert_eq!(keys.api_key.expose_secret(), "K-1");
        assert_eq!(keys.api_secret.expose_secret(), "S-1");
        let shown = format!("{c:?} {c:#?}");
        assert!(!shown.contains("K-1") && !shown.contains("S-1"), "{shown}");
        assert!(shown.contains("[REDACTED]"), "{shown}");
        // The environment overrides the file, key by key; an empty variable is unset.
        let mut raw: RawConfig =
            toml::from_str("[venue]\nkind = \"binance\"\nkey_file = \"keys.toml\"\n").unwrap();
        env_keys(&mut raw, Some(""), Some("S-ENV"));
        let shown = format!("{raw:?}");
        assert!(!shown.contains("S-ENV"), "{shown}");
        let c = resolve(raw, Some(dir.path().join("smartfolio.toml"))).unwrap();
        let keys = c.venue.keys.unwrap();
        assert_eq!(keys.api_key.expose_secret(), "K-1");
        assert_eq!(keys.api_secret.expose_secret(), "S-ENV");
        // A key file that does not parse: the error says where, never what.
        let p = key_file(
            dir.path(),
            0o600,
            "api_key = \"K-1\"\napi_secret = S-2 oops\n",
        );
        let e = resolve_text(&toml_with(&p)).unwrap_err().0;
        assert!(e.contains("line 2") && e.contains("venue.key_file"), "{e}");
        assert!(!e.contains("S-2") && !e.contains("K-1"), "{e}");
        let p = key_file(
            dir.path(),
            0o600,
            "api_key = \"K-1\"\napi_secrt = \"S-3\"\n",
        );
        let e = resolve_text(&toml_with(&p)).unwrap_err().0;
        assert!(!e.contains("S-3"), "{e}");
    }

    #[test]
    fn extra_accounts_each_on_their_venue_with_keys_named_after_them() {
        use secrecy::ExposeSecret as _;
        let text = "account = \"main\"\n[venue]\nkind = \"binance\"\n[market]\nkind = \"live\"\n\
                    [accounts.okx-main]\nvenue = { kind = \"OKX\", base_url = \"http://127.0.0.1:9/\", \
                    demo = true, timeout = \"2s\" }\n[accounts.gate.venue]\nkind = \"gate\"\n";
        let c = resolve_text(text).unwrap();
        assert_eq!(c.account, "main");
        assert_eq!(c.venue.kind, VenueKind::Binance);
        let names: Vec<(&str, VenueKind)> = c
            .accounts
            .iter()
            .map(|a| (a.name.as_str(), a.venue.kind))
            .collect();
        assert_eq!(
            names,
            [("gate", VenueKind::Gate), ("okx-main", VenueKind::Okx)]
        );
        let okx = &c.accounts[1].venue;
        assert_eq!(okx.base_url.as_deref(), Some("http://127.0.0.1:9"));
        assert!(okx.demo);
        assert_eq!(okx.timeouts.request_ms, 2_000);
        assert!(okx.keys.is_none());
        // No [accounts]: none, today's config unchanged.
        assert!(resolve_text("").unwrap().accounts.is_empty());

        // Keys from SMARTFOLIO_<NAME>_API_*, the name in capitals with `_` for the rest.
        assert_eq!(account_env("okx-main"), "SMARTFOLIO_OKX_MAIN");
        let env: BTreeMap<String, String> = [
            ("SMARTFOLIO_OKX_MAIN_API_KEY", "K-OKX"),
            ("SMARTFOLIO_OKX_MAIN_API_SECRET", "S-OKX"),
            ("SMARTFOLIO_OKX_MAIN_API_PASSPHRASE", "P-OKX"),
            ("SMARTFOLIO_GATE_API_KEY", ""),
            ("SMARTFOLIO_API_KEY", "K-DEFAULT"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut raw: RawConfig = toml::from_str(text).unwrap();
        account_keys_from_env(&mut raw, |v| env.get(v).cloned());
        let c = resolve(raw, None).unwrap();
        let keys = c.accounts[1].venue.keys.clone().unwrap();
        assert_eq!(keys.api_key.expose_secret(), "K-OKX");
        assert_eq!(keys.api_secret.expose_secret(), "S-OKX");
        assert_eq!(keys.passphrase.unwrap().expose_secret(), "P-OKX");
        // An empty variable is unset; the default account's variables are not the account's.
        assert!(c.accounts[0].venue.keys.is_none());
        assert!(c.venue.keys.is_none());
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("S-OKX") && !shown.contains("K-OKX"),
            "{shown}"
        );
        // A key without its secret names the account's variables.
        let env: BTreeMap<String, String> =
            [("SMARTFOLIO_GATE_API_KEY".to_string(), "K".to_string())].into();
        let mut raw: RawConfig = toml::from_str(text).unwrap();
        account_keys_from_env(&mut raw, |v| env.get(v).cloned());
        let e = resolve(raw, None).unwrap_err().0;
        assert!(
            e.contains("invalid accounts.gate.venue keys")
                && e.contains("SMARTFOLIO_GATE_API_KEY and SMARTFOLIO_GATE_API_SECRET")
                && e.contains("accounts.gate.venue.key_file"),
            "{e}"
        );
    }

    #[test]
    fn bad_accounts_name_the_field_the_value_and_what_is_allowed() {
        for (text, want) in [
            (
                "[accounts.k]\nvenue = { kind = \"kraken\" }",
                "invalid accounts.k.venue.kind: `kraken`; allowed: paper, binance, okx, gate",
            ),
            (
                "[accounts.k]\nvenue = { kind = \"binance\", demo = true }",
                "invalid accounts.k.venue.demo: `true` with accounts.k.venue.kind = binance",
            ),
            (
                "[accounts.k]\nvenue = { kind = \"okx\", timeout = \"9m\" }",
                "invalid accounts.k.venue.timeout: `9m`; allowed: a duration from 100ms to 5m",
            ),
            (
                "account = \"main\"\n[accounts.MAIN]\nvenue = { kind = \"okx\" }",
                "invalid accounts.MAIN: `MAIN` names the same account as the default account \
                 (`account = \"main\"`)",
            ),
            (
                "[accounts.okx-main]\nvenue = { kind = \"okx\" }\n\
                 [accounts.okx_main]\nvenue = { kind = \"okx\" }",
                "invalid accounts.okx_main: `okx_main` names the same account as \
                 accounts.okx-main",
            ),
            (
                "[accounts.\"a b\"]\nvenue = { kind = \"okx\" }",
                "invalid accounts.a b: `a b`; allowed: an account name of 1 to 64 letters",
            ),
        ] {
            let e = resolve_text(text).unwrap_err().0;
            assert!(e.contains(want), "{text}: {e}");
        }
        // An unknown key in an account's table, and keys in smartfolio.toml, are refused.
        let e = resolve_text("[accounts.k]\nkind = \"okx\"").unwrap_err().0;
        assert!(e.contains("kind"), "{e}");
        let e = resolve_text("[accounts.k.venue]\napi_secret = \"s\"")
            .unwrap_err()
            .0;
        assert!(e.contains("api_secret"), "{e}");
    }

    #[test]
    fn a_key_without_its_secret_is_refused() {
        for (key, secret) in [(Some("K"), None), (None, Some("S"))] {
            let mut raw = RawConfig::default();
            env_keys(&mut raw, key, secret);
            let e = resolve(raw, None).unwrap_err().0;
            assert!(
                e.contains("SMARTFOLIO_API_KEY") && e.contains("SMARTFOLIO_API_SECRET"),
                "{e}"
            );
            assert!(!e.contains("\"S\"") && !e.contains("`S`"), "{e}");
        }
        let mut raw = RawConfig::default();
        env_keys(&mut raw, Some("K"), Some("S"));
        assert!(resolve(raw, None).unwrap().venue.keys.is_some());
    }
}
