//! What the data-directory commands (`bot`, `run`, `demo`) share: the global flags, and the
//! node's configuration from ours.

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

/// The node's configuration: the data directory, the paper venue and the market.
pub fn node_config(cfg: &Config) -> NodeConfig {
    NodeConfig {
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
