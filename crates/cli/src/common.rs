//! What the data-directory commands (`bot`, `run`, `demo`, `gains`) share: the global flags, the
//! node's configuration from ours, the `--json` failure and the text table.

use crate::InputError;
use crate::config::{self, Config};
use smartfolio_node::NodeConfig;
use std::path::PathBuf;

/// Flags shared by `bot` and `run`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// The configuration file (default: $SMARTFOLIO_CONFIG, else ./smartfolio.toml if present).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// The data directory (overrides the config's data_dir and $SMARTFOLIO_DATA_DIR).
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Log format on stderr: pretty or json (RUST_LOG filters).
    #[arg(long, value_name = "FORMAT", global = true)]
    pub log_format: Option<String>,
}

impl CommonArgs {
    pub fn load(&self) -> anyhow::Result<Config> {
        let mut cfg = config::load(self.config.as_deref())?;
        if let Some(d) = &self.data_dir {
            cfg.data_dir = d.clone();
        }
        match self.log_format.as_deref() {
            None => {}
            Some("json") => cfg.log_format = config::LogFormat::Json,
            Some("pretty") => cfg.log_format = config::LogFormat::Pretty,
            Some(other) => {
                return Err(InputError(format!(
                    "invalid --log-format: `{other}`; allowed: pretty, json"
                ))
                .into());
            }
        }
        Ok(cfg)
    }
}

/// `--bot BOT | --all`, exactly one, for the record's reports (`gains`, `export`).
#[derive(clap::Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct WhichArgs {
    /// The bot's id or name.
    #[arg(long, value_name = "BOT")]
    pub bot: Option<String>,
    /// Every bot of the data directory.
    #[arg(long)]
    pub all: bool,
}

impl WhichArgs {
    pub fn which(&self) -> smartfolio_node::record::Which {
        match &self.bot {
            Some(b) => smartfolio_node::record::Which::Bot(b.clone()),
            None => smartfolio_node::record::Which::All,
        }
    }
}

/// The node's configuration: the data directory, the paper venue and the market.
pub fn node_config(cfg: &Config) -> NodeConfig {
    NodeConfig {
        accounts: cfg.accounts.clone(),
        execution: cfg.execution.clone(),
        data_dir: cfg.data_dir.clone(),
        store: cfg.store.clone(),
        quote: cfg.quote.clone(),
        account: cfg.account.clone(),
        paper: cfg.paper(),
        balances: cfg.balances.clone(),
        market: cfg.market.clone(),
        cooldown_ms: cfg.cooldown_ms,
        snapshot_interval_ms: cfg.snapshot_interval_ms,
        venue: cfg.venue.clone(),
    }
}

/// A tokio runtime for one command: current-thread for `bot` and `run`, two workers when HTTP
/// is served beside the bots.
pub fn tokio_runtime(http: bool) -> std::io::Result<tokio::runtime::Runtime> {
    if http {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
}

/// SIGINT (Ctrl-C) or SIGTERM.
pub async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// With `--json`, a failure is also printed to stdout: `{"ok": false, "exit", "error", "field",
/// "value", "allowed"}` (in the protocol's words, as the HTTP API's error body names them).
pub fn print_failure(
    exit: u8,
    error: &str,
    named: &smartfolio_node::command::Named,
) -> anyhow::Result<()> {
    let v = serde_json::json!({
        "ok": false,
        "exit": exit,
        "error": error,
        "field": named.field,
        "value": named.value,
        "allowed": named.allowed,
    });
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// A text table: text columns left-aligned, numbers right-aligned.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            let pad = w[i] - c.chars().count();
            // Text columns left, numbers right.
            if i == 0 || c.parse::<f64>().is_err() {
                l.push_str(c);
                l.push_str(&" ".repeat(pad));
            } else {
                l.push_str(&" ".repeat(pad));
                l.push_str(c);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut out, headers.to_vec());
    for r in rows {
        line(&mut out, r.iter().map(String::as_str).collect());
    }
    out
}

const DAY_MS: i64 = 86_400_000;

fn time_ms(field: &str, text: &str) -> Result<i64, smartfolio_core::ValidationError> {
    smartfolio_data::parse_time_ms(text).ok_or_else(|| {
        smartfolio_core::ValidationError::new(
            field,
            text,
            "a date (2025-01-31, UTC) or a time (2025-01-31T12:00:00Z)",
        )
    })
}

/// `--from` and `--to` as `[from, to)` in ms: a date is its midnight UTC, and `--to` with a
/// date includes that whole day (a time is included); `--to` must come after `--from`.
pub fn time_range(
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(Option<i64>, Option<i64>), smartfolio_core::ValidationError> {
    let from_ms = from.map(|t| time_ms("from", t)).transpose()?;
    let to_ms = match to {
        Some(t) if t.trim().len() == 10 => Some(time_ms("to", t)? + DAY_MS),
        Some(t) => Some(time_ms("to", t)? + 1),
        None => None,
    };
    if let (Some(f), Some(t)) = (from_ms, to_ms)
        && t <= f
    {
        return Err(smartfolio_core::ValidationError::new(
            "to",
            to.unwrap_or_default(),
            "a time after --from",
        ));
    }
    Ok((from_ms, to_ms))
}
