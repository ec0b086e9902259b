//! The venue the bots trade on: its settings ([`VenueConfig`]: kind, base URL, keys), building
//! its connector, the key's permissions, and [`check`] (what `smartfolio venue check` prints).
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
}

impl VenueKind {
    /// The venue's name in bot configs and the ledger (`paper`, `binance`).
    pub fn name(self) -> &'static str {
        match self {
            VenueKind::Paper => "paper",
            VenueKind::Binance => "binance",
        }
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
            (VenueKind::Binance, _) => TradingMode::Live,
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
}

impl VenueConfig {
    /// The paper venue.
    pub fn paper() -> Self {
        Self::default()
    }

    /// The base URL of Binance's REST API in use.
    pub fn binance_url(&self) -> String {
        self.base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
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

    /// The trading connector: Binance with the account's keys (an error naming what to set when
    /// there are none).
    pub fn binance(&self) -> NodeResult<Arc<BinanceExchange>> {
        self.binance_at(system_clock())
    }

    /// [`Self::binance`] on the local clock `clock` (the host's wall clock: its signed
    /// timestamps and rate-limit bans follow the same time as the market and the runtime).
    pub fn binance_at(&self, clock: LocalClock) -> NodeResult<Arc<BinanceExchange>> {
        let keys = self.keys.as_ref().ok_or_else(|| {
            NodeError::Input(
                "venue.kind = binance needs the account's API key and secret; allowed: \
                 SMARTFOLIO_API_KEY and SMARTFOLIO_API_SECRET in the environment, or \
                 venue.key_file naming a TOML file (mode 0600) with api_key and api_secret"
                    .into(),
            )
        })?;
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
        .map_err(NodeError::exchange("reading the key's permissions"))?;
    Ok(KeyPermissions {
        reading: r.enable_reading,
        spot_trading: r.enable_spot_and_margin_trading,
        withdrawals: r.enable_withdrawals,
        ip_restricted: r.ip_restrict,
    })
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
    if venue.kind != VenueKind::Binance {
        return Err(NodeError::Input(format!(
            "venue.kind = {}: there is no remote venue to check; allowed: venue.kind = binance \
             (or SMARTFOLIO_VENUE=binance)",
            venue.kind
        )));
    }
    let ex = venue.binance()?;
    let mut report = VenueReport {
        venue: venue.kind.to_string(),
        base_url: venue.binance_url(),
        server_time_ms: None,
        clock_offset_ms: None,
        permissions: None,
        balances: vec![],
        instruments: vec![],
        problems: vec![],
        ok: false,
    };
    match ex.client().sync_clock().await {
        Ok(offset) => {
            report.clock_offset_ms = Some(offset);
            report.server_time_ms = Some(ex.client().venue_now_ms());
        }
        Err(e) => {
            report
                .problems
                .push(format!("the venue is not reachable: {e}"));
            return Ok(report);
        }
    }
    match key_permissions(&ex).await {
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
    fn the_trading_mode_is_paper_dry_run_or_live() {
        use crate::market::MarketKind;
        for (venue, market, mode) in [
            (VenueKind::Paper, MarketKind::Synthetic, "paper"),
            (VenueKind::Paper, MarketKind::Replay, "paper"),
            (VenueKind::Paper, MarketKind::Live, "dry_run"),
            (VenueKind::Binance, MarketKind::Live, "live"),
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
