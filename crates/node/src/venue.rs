//! The venue the bots trade on: its settings ([`VenueConfig`]: kind, base URL, keys, OKX's demo
//! trading, the dry run's price source), building its connector ([`Connector`]: Binance,
//! OKX or Gate, one interface for what the node asks of a real venue beyond the exchange interface:
//! the clock offset and the key's permissions), and [`check`] (what `smartfolio venue check`
//! prints).
//!
//! Keys are [`secrecy`] secrets from the moment they are read: they are exposed only to the
//! connector's signing, and every `Debug` of what holds them shows `[REDACTED]`.

use crate::error::{NodeError, NodeResult};
use secrecy::{ExposeSecret, SecretString};
use smartfolio_binance::client::{
    ClientConfig, Credentials, DEFAULT_BASE_URL, LocalClock, system_clock,
};
use smartfolio_binance::{BinanceClient, BinanceExchange};
use smartfolio_exchange::{Balance, Exchange, InstrumentStatus};
use smartfolio_gate::{GateClient, GateExchange};
use smartfolio_okx::{OkxClient, OkxExchange};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Which venue the bots trade on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VenueKind {
    /// The paper exchange (fills simulated, persisted in the data directory).
    #[default]
    Paper,
    /// Binance spot, through the real connector (`base_url` may point at a testnet or the
    /// local simulator).
    Binance,
    /// OKX v5 spot, through the real connector (the key's passphrase too; `demo` for OKX's
    /// demo trading).
    Okx,
    /// Gate v4 spot, through the real connector.
    Gate,
}

impl VenueKind {
    /// The venue's name in bot configs and the ledger (`paper`, `binance`, `okx`, `gate`).
    pub fn name(self) -> &'static str {
        match self {
            VenueKind::Paper => "paper",
            VenueKind::Binance => "binance",
            VenueKind::Okx => "okx",
            VenueKind::Gate => "gate",
        }
    }

    /// Whether orders go to a real venue.
    pub fn is_remote(self) -> bool {
        self != VenueKind::Paper
    }
}

impl fmt::Display for VenueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the bots' orders do, from the venue and the market: `paper` (the paper exchange on a
/// synthetic or replayed market), `dry_run` (the paper exchange on a venue's live prices) or
/// `live` (real orders at a real venue). The dashboard and the API show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradingMode {
    Paper,
    DryRun,
    Live,
}

impl TradingMode {
    pub fn of(venue: VenueKind, market: crate::market::MarketKind) -> Self {
        match (venue, market) {
            (VenueKind::Binance | VenueKind::Okx | VenueKind::Gate, _) => TradingMode::Live,
            (VenueKind::Paper, crate::market::MarketKind::Live) => TradingMode::DryRun,
            (VenueKind::Paper, _) => TradingMode::Paper,
        }
    }

    /// `paper`, `dry_run` or `live`.
    pub fn name(self) -> &'static str {
        match self {
            TradingMode::Paper => "paper",
            TradingMode::DryRun => "dry_run",
            TradingMode::Live => "live",
        }
    }
}

/// An API key, its secret and (OKX) passphrase. `Debug` shows none of them.
#[derive(Clone)]
pub struct ApiKeys {
    pub api_key: SecretString,
    pub api_secret: SecretString,
    pub passphrase: Option<SecretString>,
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeys { api_key: [REDACTED], api_secret: [REDACTED], passphrase: ")?;
        f.write_str(if self.passphrase.is_some() {
            "[REDACTED] }"
        } else {
            "None }"
        })
    }
}

/// How long a request to the venue may take (`[venue] timeout`, `connect_timeout`). A placement
/// that times out after it was sent is an unknown outcome, settled by lookup, never re-sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The whole request, from connecting to the last byte of the answer, ms.
    pub request_ms: u64,
    /// Opening the connection, ms (at most `request_ms`).
    pub connect_ms: u64,
}

impl Timeouts {
    /// The default request timeout: 10 s.
    pub const DEFAULT_REQUEST_MS: u64 = 10_000;
    /// The default connect timeout: 5 s (or the request timeout, when shorter).
    pub const DEFAULT_CONNECT_MS: u64 = 5_000;
    /// The shortest timeout allowed: 100 ms.
    pub const MIN_MS: u64 = 100;
    /// The longest timeout allowed: 5 minutes.
    pub const MAX_MS: u64 = 300_000;
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            request_ms: Self::DEFAULT_REQUEST_MS,
            connect_ms: Self::DEFAULT_CONNECT_MS,
        }
    }
}

/// The venue's settings.
#[derive(Debug, Clone, Default)]
pub struct VenueConfig {
    pub kind: VenueKind,
    /// The REST base (`None`: the venue's production URL).
    pub base_url: Option<String>,
    /// The account's keys (`None`: public data only).
    pub keys: Option<ApiKeys>,
    /// Trade with a key that can withdraw (refused otherwise).
    pub allow_withdrawal_keys: bool,
    /// The client's request and connect timeouts.
    pub timeouts: Timeouts,
    /// OKX: the key is a demo-trading key; every request carries `x-simulated-trading: 1`.
    pub demo: bool,
    /// Whose public prices a dry run reads (`[venue] prices`; `None`: Binance's).
    pub prices: Option<VenueKind>,
}

impl VenueConfig {
    /// The paper venue.
    pub fn paper() -> Self {
        Self::default()
    }

    /// The base URL of the venue's REST API in use (`kind`'s production URL unless overridden).
    pub fn url_of(&self, kind: VenueKind) -> String {
        self.base_url.clone().unwrap_or_else(|| {
            match kind {
                VenueKind::Okx => smartfolio_okx::client::DEFAULT_BASE_URL,
                VenueKind::Gate => smartfolio_gate::client::DEFAULT_BASE_URL,
                _ => DEFAULT_BASE_URL,
            }
            .to_string()
        })
    }

    /// The base URL of Binance's REST API in use.
    pub fn binance_url(&self) -> String {
        self.url_of(VenueKind::Binance)
    }

    fn binance_client(
        &self,
        keys: Option<&ApiKeys>,
        clock: LocalClock,
    ) -> NodeResult<BinanceClient> {
        let credentials = keys.map(|k| {
            Credentials::new(
                k.api_key.expose_secret().to_string(),
                k.api_secret.expose_secret().to_string(),
            )
        });
        BinanceClient::new(
            ClientConfig {
                base_url: self.binance_url(),
                timeout: Duration::from_millis(self.timeouts.request_ms),
                connect_timeout: Duration::from_millis(self.timeouts.connect_ms),
                ..ClientConfig::default()
            },
            credentials,
            clock,
        )
        .map_err(NodeError::exchange("binance"))
    }

    /// The account's keys, or an error naming what to set for `kind`.
    fn keys_for(&self, kind: VenueKind) -> NodeResult<&ApiKeys> {
        let keys = self.keys.as_ref().ok_or_else(|| {
            let (what, file) = match kind {
                VenueKind::Okx => (
                    "API key, secret and passphrase; allowed: SMARTFOLIO_API_KEY, \
                     SMARTFOLIO_API_SECRET and SMARTFOLIO_API_PASSPHRASE",
                    "api_key, api_secret and api_passphrase",
                ),
                _ => (
                    "API key and secret; allowed: SMARTFOLIO_API_KEY and SMARTFOLIO_API_SECRET",
                    "api_key and api_secret",
                ),
            };
            NodeError::Input(format!(
                "venue.kind = {kind} needs the account's {what} in the environment, or \
                 venue.key_file naming a TOML file (mode 0600) with {file}"
            ))
        })?;
        if kind == VenueKind::Okx
            && keys
                .passphrase
                .as_ref()
                .is_none_or(|p| p.expose_secret().trim().is_empty())
        {
            return Err(NodeError::Input(
                "venue.kind = okx needs the API key's passphrase: SMARTFOLIO_API_PASSPHRASE is \
                 not set; allowed: SMARTFOLIO_API_PASSPHRASE in the environment, or \
                 api_passphrase in venue.key_file"
                    .into(),
            ));
        }
        Ok(keys)
    }

    /// The trading connector: Binance with the account's keys (an error naming what to set when
    /// there are none).
    pub fn binance(&self) -> NodeResult<Arc<BinanceExchange>> {
        self.binance_at(system_clock())
    }

    /// [`Self::binance`] on the local clock `clock` (the host's wall clock: its signed
    /// timestamps and rate-limit bans follow the same time as the market and the runtime).
    pub fn binance_at(&self, clock: LocalClock) -> NodeResult<Arc<BinanceExchange>> {
        let keys = self.keys_for(VenueKind::Binance)?;
        Ok(Arc::new(BinanceExchange::new(
            self.binance_client(Some(keys), clock)?,
        )))
    }

    /// Binance's public data only (no key): the prices of a dry run.
    pub fn binance_public(&self) -> NodeResult<Arc<BinanceExchange>> {
        self.binance_public_at(system_clock())
    }

    /// [`Self::binance_public`] on the local clock `clock`.
    pub fn binance_public_at(&self, clock: LocalClock) -> NodeResult<Arc<BinanceExchange>> {
        Ok(Arc::new(BinanceExchange::new(
            self.binance_client(None, clock)?,
        )))
    }

    fn okx_client(&self, keys: Option<&ApiKeys>, clock: LocalClock) -> NodeResult<OkxClient> {
        let credentials = keys.map(|k| {
            smartfolio_okx::Credentials::new(
                k.api_key.expose_secret().to_string(),
                k.api_secret.expose_secret().to_string(),
                k.passphrase
                    .as_ref()
                    .map(|p| p.expose_secret().to_string())
                    .unwrap_or_default(),
            )
        });
        OkxClient::new(
            smartfolio_okx::ClientConfig {
                base_url: self.url_of(VenueKind::Okx),
                demo: self.demo,
                timeout: Duration::from_millis(self.timeouts.request_ms),
                connect_timeout: Duration::from_millis(self.timeouts.connect_ms),
            },
            credentials,
            clock,
        )
        .map_err(NodeError::exchange("okx"))
    }

    /// The OKX connector with the account's key, secret and passphrase (an error naming what
    /// to set when one is missing), on the local clock `clock`.
    pub fn okx_at(&self, clock: LocalClock) -> NodeResult<Arc<OkxExchange>> {
        let keys = self.keys_for(VenueKind::Okx)?;
        Ok(Arc::new(OkxExchange::new(
            self.okx_client(Some(keys), clock)?,
        )))
    }

    fn gate_client(&self, keys: Option<&ApiKeys>, clock: LocalClock) -> NodeResult<GateClient> {
        let credentials = keys.map(|k| {
            smartfolio_gate::Credentials::new(
                k.api_key.expose_secret().to_string(),
                k.api_secret.expose_secret().to_string(),
            )
        });
        GateClient::new(
            smartfolio_gate::ClientConfig {
                base_url: self.url_of(VenueKind::Gate),
                timeout: Duration::from_millis(self.timeouts.request_ms),
                connect_timeout: Duration::from_millis(self.timeouts.connect_ms),
            },
            credentials,
            clock,
        )
        .map_err(NodeError::exchange("gate"))
    }

    /// The Gate connector with the account's key and secret (an error naming what to set when
    /// one is missing), on the local clock `clock`.
    pub fn gate_at(&self, clock: LocalClock) -> NodeResult<Arc<GateExchange>> {
        let keys = self.keys_for(VenueKind::Gate)?;
        Ok(Arc::new(GateExchange::new(
            self.gate_client(Some(keys), clock)?,
        )))
    }

    /// The connector of the configured real venue, on the local clock `clock`; `None` on paper.
    pub fn connector_at(&self, clock: LocalClock) -> NodeResult<Option<Connector>> {
        Ok(match self.kind {
            VenueKind::Paper => None,
            VenueKind::Binance => Some(Connector::Binance(self.binance_at(clock)?)),
            VenueKind::Okx => Some(Connector::Okx(self.okx_at(clock)?)),
            VenueKind::Gate => Some(Connector::Gate(self.gate_at(clock)?)),
        })
    }

    /// Where a dry run reads its public prices (no key): `[venue] prices`, Binance by default.
    pub fn dry_run_prices_at(&self, clock: LocalClock) -> NodeResult<Arc<dyn Exchange>> {
        Ok(match self.prices.unwrap_or(VenueKind::Binance) {
            VenueKind::Okx => Arc::new(OkxExchange::new(self.okx_client(None, clock)?)),
            VenueKind::Gate => Arc::new(GateExchange::new(self.gate_client(None, clock)?)),
            _ => self.binance_public_at(clock)?,
        })
    }
}

/// A real venue's connector: the exchange interface, and what the node reads of the venue
/// besides (its rate limits, the clock offset, the key's permissions).
#[derive(Debug, Clone)]
pub enum Connector {
    Binance(Arc<BinanceExchange>),
    Okx(Arc<OkxExchange>),
    Gate(Arc<GateExchange>),
}

impl Connector {
    /// The exchange interface on it.
    pub fn exchange(&self) -> Arc<dyn Exchange> {
        match self {
            Connector::Binance(b) => b.clone(),
            Connector::Okx(o) => o.clone(),
            Connector::Gate(g) => g.clone(),
        }
    }

    /// The venue's name (`binance`, `okx`, `gate`).
    pub fn name(&self) -> &'static str {
        match self {
            Connector::Binance(_) => "binance",
            Connector::Okx(_) => "okx",
            Connector::Gate(_) => "gate",
        }
    }

    /// Before anything trades: Binance's rate limits read (`exchangeInfo`: the connector
    /// budgets by the venue's own limits from its first signed call); OKX and Gate have nothing
    /// to read.
    pub async fn read_limits(&self) -> NodeResult<()> {
        if let Connector::Binance(b) = self {
            b.client()
                .exchange_info(&[])
                .await
                .map_err(NodeError::exchange("binance: reading the rate limits"))?;
        }
        Ok(())
    }

    /// Read the venue's time once: the clock offset (venue − local, ms) now in use.
    pub async fn sync_clock(&self) -> NodeResult<i64> {
        match self {
            Connector::Binance(b) => b
                .client()
                .sync_clock()
                .await
                .map_err(binance_failure("binance: reading the server time")),
            Connector::Okx(o) => o
                .client()
                .sync_clock()
                .await
                .map_err(okx_failure("okx: reading the server time")),
            Connector::Gate(g) => g
                .client()
                .sync_clock()
                .await
                .map_err(gate_failure("gate: reading the server time")),
        }
    }

    /// The venue's time now, as the connector reckons it.
    pub fn venue_now_ms(&self) -> i64 {
        match self {
            Connector::Binance(b) => b.client().venue_now_ms(),
            Connector::Okx(o) => o.client().venue_now_ms(),
            Connector::Gate(g) => g.client().venue_now_ms(),
        }
    }

    /// The offset in use (venue − local, ms), once measured.
    pub fn clock_offset_ms(&self) -> Option<i64> {
        match self {
            Connector::Binance(b) => b.client().clock_offset_ms(),
            Connector::Okx(o) => o.client().clock_offset_ms(),
            Connector::Gate(g) => g.client().clock_offset_ms(),
        }
    }

    /// The key's permissions, as the venue states them (Binance `apiRestrictions`, OKX
    /// `/account/config` `perm`). Gate's `/account/detail` proves the key signs and gives its
    /// IP whitelist, but Gate exposes no key permissions: reading and spot trading are taken
    /// as granted (the first order says otherwise, `READ_ONLY`), and a key that can withdraw
    /// cannot be seen, so it cannot be refused (logged as a warning).
    pub async fn key_permissions(&self) -> NodeResult<KeyPermissions> {
        match self {
            Connector::Binance(b) => key_permissions(b).await,
            Connector::Okx(o) => {
                let c = o
                    .key_config()
                    .await
                    .map_err(okx_failure("reading the key's permissions"))?;
                Ok(KeyPermissions {
                    reading: c.permissions().any(|p| p == "read_only") || c.can_trade(),
                    spot_trading: c.can_trade(),
                    withdrawals: c.can_withdraw(),
                    ip_restricted: c.ip_restricted(),
                })
            }
            Connector::Gate(g) => {
                let d = g
                    .key_detail()
                    .await
                    .map_err(gate_failure("reading the key's detail"))?;
                tracing::warn!(
                    "gate does not show whether an API key can withdraw: turn withdrawals off \
                     for this key at Gate yourself"
                );
                Ok(KeyPermissions {
                    reading: true,
                    spot_trading: true,
                    withdrawals: false,
                    ip_restricted: d.ip_restricted(),
                })
            }
        }
    }
}

/// What the venue lets a key do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyPermissions {
    pub reading: bool,
    pub spot_trading: bool,
    pub withdrawals: bool,
    pub ip_restricted: bool,
}

/// The key's permissions, as the venue states them.
pub async fn key_permissions(ex: &BinanceExchange) -> NodeResult<KeyPermissions> {
    let r = ex
        .client()
        .api_restrictions()
        .await
        .map_err(binance_failure("reading the key's permissions"))?;
    Ok(KeyPermissions::from(&r))
}

/// A failed Binance read: a rate limit kept as one ([`NodeError::RateLimited`], waited out by
/// a start; a 418 without `Retry-After`: two minutes, as the client bans itself), else its
/// message.
fn binance_failure(
    context: &'static str,
) -> impl FnOnce(smartfolio_binance::BinanceError) -> NodeError {
    move |e| match e.class {
        smartfolio_binance::ErrorClass::RateLimited { retry_after_ms, .. } => {
            NodeError::RateLimited {
                context,
                message: e.to_string(),
                retry_after_ms: retry_after_ms.unwrap_or(120_000),
            }
        }
        _ => NodeError::exchange(context)(e),
    }
}

/// A failed OKX read: as [`binance_failure`] (without `Retry-After`: OKX's 2 s window, as the
/// client bans itself).
fn okx_failure(context: &'static str) -> impl FnOnce(smartfolio_okx::OkxError) -> NodeError {
    move |e| match e.class {
        smartfolio_okx::ErrorClass::RateLimited { retry_after_ms } => NodeError::RateLimited {
            context,
            message: e.to_string(),
            retry_after_ms: retry_after_ms.unwrap_or(smartfolio_okx::error::DEFAULT_RETRY_AFTER_MS),
        },
        _ => NodeError::exchange(context)(e),
    }
}

/// A failed Gate read: as [`binance_failure`] (without `Retry-After`: Gate's 10 s window).
fn gate_failure(context: &'static str) -> impl FnOnce(smartfolio_gate::GateError) -> NodeError {
    move |e| match e.class {
        smartfolio_gate::ErrorClass::RateLimited { retry_after_ms } => NodeError::RateLimited {
            context,
            message: e.to_string(),
            retry_after_ms: retry_after_ms
                .unwrap_or(smartfolio_gate::error::DEFAULT_RETRY_AFTER_MS),
        },
        _ => NodeError::exchange(context)(e),
    }
}

impl From<&smartfolio_binance::model::ApiRestrictions> for KeyPermissions {
    fn from(r: &smartfolio_binance::model::ApiRestrictions) -> Self {
        KeyPermissions {
            reading: r.enable_reading,
            spot_trading: r.enable_spot_and_margin_trading,
            withdrawals: r.enable_withdrawals,
            ip_restricted: r.ip_restrict,
        }
    }
}

/// Refuse a key that can withdraw, unless allowed: a trading bot never needs it, and a leaked
/// key that can withdraw empties the account.
pub fn refuse_withdrawal_key(p: &KeyPermissions, allowed: bool) -> NodeResult<()> {
    if p.withdrawals && !allowed {
        return Err(NodeError::Input(
            "the API key can withdraw funds: refused for trading; allowed: a key without the \
             withdrawal permission (turn it off at the venue), or --allow-withdrawal-keys / \
             venue.allow_withdrawal_keys = true to accept the risk"
                .into(),
        ));
    }
    Ok(())
}

/// One instrument a bot trades, as the venue lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InstrumentLine {
    /// The bots that trade it.
    pub bots: Vec<String>,
    pub base: String,
    pub quote: String,
    /// The venue's symbol; `None`: the venue does not list the pair.
    pub symbol: Option<String>,
    pub status: Option<String>,
    pub lot_step: Option<String>,
    pub min_size: Option<String>,
    pub min_notional: Option<String>,
    pub tick_size: Option<String>,
}

/// What `smartfolio venue check` found. `ok` is true when every check passed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VenueReport {
    pub venue: String,
    pub base_url: String,
    pub server_time_ms: Option<i64>,
    /// Venue time − local time, ms.
    pub clock_offset_ms: Option<i64>,
    pub permissions: Option<KeyPermissions>,
    pub balances: Vec<Balance>,
    pub instruments: Vec<InstrumentLine>,
    /// Each failed check, in words (the venue's own answer where it gave one).
    pub problems: Vec<String>,
    pub ok: bool,
}

/// Check the configured venue: reachable and its clock; the key's permissions (a key that can
/// withdraw is a problem unless allowed); the balances; each bot's instruments (`bots`: name
/// and assets against `quote`) with their rules and status.
pub async fn check(
    venue: &VenueConfig,
    bots: &[(String, String, Vec<String>)],
) -> NodeResult<VenueReport> {
    let Some(conn) = venue.connector_at(system_clock())? else {
        return Err(NodeError::Input(format!(
            "venue.kind = {}: there is no remote venue to check; allowed: venue.kind = binance, \
             okx or gate (or SMARTFOLIO_VENUE=binance, okx or gate)",
            venue.kind
        )));
    };
    let ex = conn.exchange();
    let mut report = VenueReport {
        venue: venue.kind.to_string(),
        base_url: venue.url_of(venue.kind),
        server_time_ms: None,
        clock_offset_ms: None,
        permissions: None,
        balances: vec![],
        instruments: vec![],
        problems: vec![],
        ok: false,
    };
    match conn.sync_clock().await {
        Ok(offset) => {
            report.clock_offset_ms = Some(offset);
            report.server_time_ms = Some(conn.venue_now_ms());
        }
        Err(e) => {
            report
                .problems
                .push(format!("the venue is not reachable: {e}"));
            return Ok(report);
        }
    }
    match conn.key_permissions().await {
        Ok(p) => {
            if let Err(e) = refuse_withdrawal_key(&p, venue.allow_withdrawal_keys) {
                report.problems.push(e.to_string());
            }
            if !p.spot_trading {
                report
                    .problems
                    .push("the API key may not trade spot: enable spot trading for it".into());
            }
            report.permissions = Some(p);
        }
        Err(e) => report.problems.push(e.to_string()),
    }
    match ex.balances().await {
        Ok(b) => report.balances = b.into_iter().filter(|b| !b.total().is_zero()).collect(),
        Err(e) => report.problems.push(format!("reading the balances: {e}")),
    }
    let wanted = instrument_lines(bots);
    if !wanted.is_empty() {
        match ex.instruments().await {
            Ok(list) => {
                for mut line in wanted {
                    match list
                        .iter()
                        .find(|i| i.base == line.base && i.quote == line.quote)
                    {
                        Some(i) => {
                            if i.status != InstrumentStatus::Trading {
                                report.problems.push(format!(
                                    "{}/{} is {} on the venue (bots: {})",
                                    line.base,
                                    line.quote,
                                    i.status,
                                    line.bots.join(", ")
                                ));
                            }
                            let s = |d: Option<rust_decimal::Decimal>| {
                                d.map(|d| d.normalize().to_string())
                            };
                            line.symbol = Some(i.symbol.clone());
                            line.status = Some(i.status.to_string());
                            line.lot_step = s(i.rules.lot_step);
                            line.min_size = s(i.rules.min_size);
                            line.min_notional = s(i.rules.min_notional);
                            line.tick_size = s(i.rules.tick_size);
                        }
                        None => report.problems.push(format!(
                            "the venue does not list {} against {} (bots: {})",
                            line.base,
                            line.quote,
                            line.bots.join(", ")
                        )),
                    }
                    report.instruments.push(line);
                }
            }
            Err(e) => report
                .problems
                .push(format!("reading the instruments: {e}")),
        }
    }
    report.ok = report.problems.is_empty();
    Ok(report)
}

/// The bots of `venue` and `account` stored in `data_dir` (none when it has no database; it
/// is never created here): name, quote and the assets of the targets.
pub async fn stored_bots(
    data_dir: &std::path::Path,
    venue: VenueKind,
    account: &str,
) -> NodeResult<Vec<(String, String, Vec<String>)>> {
    use smartfolio_store::Store as _;
    if !data_dir.join(smartfolio_store::DB_FILE).is_file() {
        return Ok(vec![]);
    }
    let store = smartfolio_store::SqliteStore::open(data_dir).await?;
    let mut out = Vec::new();
    for rec in store.list_bots().await? {
        if rec.venue != venue.name() || rec.account != account || rec.status == "stopped" {
            continue;
        }
        let config: smartfolio_bot::BotConfig = serde_json::from_str(&rec.config).map_err(|e| {
            NodeError::Input(format!(
                "bot `{}` has a corrupt stored config: {e}",
                rec.name
            ))
        })?;
        let assets = config
            .parsed_targets()
            .map_err(|e| NodeError::Input(format!("bot `{}`: {e}", rec.name)))?
            .assets()
            .to_vec();
        out.push((rec.name, rec.quote, assets));
    }
    Ok(out)
}

/// One line per (base, quote) the bots trade, naming the bots.
fn instrument_lines(bots: &[(String, String, Vec<String>)]) -> Vec<InstrumentLine> {
    let mut out: Vec<InstrumentLine> = Vec::new();
    for (name, quote, assets) in bots {
        for a in assets.iter().filter(|a| *a != quote) {
            match out.iter_mut().find(|l| &l.base == a && &l.quote == quote) {
                Some(l) => l.bots.push(name.clone()),
                None => out.push(InstrumentLine {
                    bots: vec![name.clone()],
                    base: a.clone(),
                    quote: quote.clone(),
                    symbol: None,
                    status: None,
                    lot_step: None,
                    min_size: None,
                    min_notional: None,
                    tick_size: None,
                }),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_okx_rate_limit_without_retry_after_waits_as_long_as_the_client_bans_itself() {
        let e = smartfolio_okx::OkxError::from_answer(429, Some("50011"), "too many", None, false);
        match okx_failure("reading")(e) {
            NodeError::RateLimited { retry_after_ms, .. } => assert_eq!(
                retry_after_ms,
                smartfolio_okx::limits::WINDOW_MS as u64,
                "OKX's 2 s window"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_trading_mode_is_paper_dry_run_or_live() {
        use crate::market::MarketKind;
        for (venue, market, mode) in [
            (VenueKind::Paper, MarketKind::Synthetic, "paper"),
            (VenueKind::Paper, MarketKind::Replay, "paper"),
            (VenueKind::Paper, MarketKind::Live, "dry_run"),
            (VenueKind::Binance, MarketKind::Live, "live"),
            (VenueKind::Okx, MarketKind::Live, "live"),
            (VenueKind::Gate, MarketKind::Live, "live"),
        ] {
            assert_eq!(
                TradingMode::of(venue, market).name(),
                mode,
                "{venue} {market:?}"
            );
        }
    }

    #[test]
    fn keys_never_show_in_debug() {
        let keys = ApiKeys {
            api_key: SecretString::from("key-AAAA".to_string()),
            api_secret: SecretString::from("secret-BBBB".to_string()),
            passphrase: Some(SecretString::from("pass-CCCC".to_string())),
        };
        let cfg = VenueConfig {
            kind: VenueKind::Binance,
            keys: Some(keys),
            ..VenueConfig::default()
        };
        let shown = format!("{cfg:?} {cfg:#?}");
        for s in ["key-AAAA", "secret-BBBB", "pass-CCCC"] {
            assert!(!shown.contains(s), "{shown}");
        }
        assert!(shown.contains("[REDACTED]"));
        let ex = cfg.binance().unwrap();
        let shown = format!("{ex:?}");
        assert!(
            !shown.contains("key-AAAA") && !shown.contains("secret-BBBB"),
            "{shown}"
        );
    }

    #[test]
    fn binance_without_keys_says_what_to_set() {
        let e = VenueConfig {
            kind: VenueKind::Binance,
            ..VenueConfig::default()
        }
        .binance()
        .unwrap_err();
        assert!(e.is_input());
        let m = e.to_string();
        assert!(
            m.contains("SMARTFOLIO_API_KEY") && m.contains("key_file"),
            "{m}"
        );
    }

    #[test]
    fn okx_without_a_passphrase_names_smartfolio_api_passphrase() {
        let mut cfg = VenueConfig {
            kind: VenueKind::Okx,
            ..VenueConfig::default()
        };
        let e = cfg.okx_at(system_clock()).unwrap_err();
        assert!(e.is_input());
        assert!(e.to_string().contains("SMARTFOLIO_API_PASSPHRASE"), "{e}");
        cfg.keys = Some(ApiKeys {
            api_key: SecretString::from("k".to_string()),
            api_secret: SecretString::from("s".to_string()),
            passphrase: None,
        });
        let e = cfg.okx_at(system_clock()).unwrap_err();
        assert!(e.is_input());
        let m = e.to_string();
        assert!(
            m.contains("passphrase") && m.contains("SMARTFOLIO_API_PASSPHRASE"),
            "{m}"
        );
        cfg.keys.as_mut().unwrap().passphrase = Some(SecretString::from("p".to_string()));
        assert!(cfg.okx_at(system_clock()).is_ok());
        assert_eq!(cfg.url_of(VenueKind::Okx), "https://www.okx.com");
    }

    #[test]
    fn gate_is_wired_with_a_key_and_secret_and_its_own_url() {
        let mut cfg = VenueConfig {
            kind: VenueKind::Gate,
            ..VenueConfig::default()
        };
        let e = cfg.connector_at(system_clock()).unwrap_err();
        assert!(e.is_input());
        let m = e.to_string();
        assert!(
            m.contains("venue.kind = gate") && m.contains("SMARTFOLIO_API_SECRET"),
            "{m}"
        );
        assert_eq!(cfg.url_of(VenueKind::Gate), "https://api.gateio.ws");
        cfg.keys = Some(ApiKeys {
            api_key: SecretString::from("key-AAAA".to_string()),
            api_secret: SecretString::from("secret-BBBB".to_string()),
            passphrase: None,
        });
        let c = cfg.connector_at(system_clock()).unwrap().unwrap();
        assert_eq!((c.name(), c.exchange().name()), ("gate", "gate"));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("key-AAAA") && !shown.contains("secret-BBBB"),
            "{shown}"
        );
        cfg.kind = VenueKind::Paper;
        cfg.prices = Some(VenueKind::Gate);
        assert_eq!(
            cfg.dry_run_prices_at(system_clock()).unwrap().name(),
            "gate"
        );
    }

    #[test]
    fn a_withdrawal_key_is_refused_unless_allowed() {
        let p = KeyPermissions {
            reading: true,
            spot_trading: true,
            withdrawals: true,
            ip_restricted: false,
        };
        let e = refuse_withdrawal_key(&p, false).unwrap_err().to_string();
        assert!(
            e.contains("withdraw") && e.contains("--allow-withdrawal-keys"),
            "{e}"
        );
        assert!(refuse_withdrawal_key(&p, true).is_ok());
        let safe = KeyPermissions {
            withdrawals: false,
            ..p
        };
        assert!(refuse_withdrawal_key(&safe, false).is_ok());
    }
}
