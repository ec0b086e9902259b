//! Printing for the commands that serve HTTP (`run --http`, `demo`): `smartfolio_server::Server`
//! does the work; this parses `--bind`, prints the URL and the token, and the end.

use crate::InputError;
use crate::common;
use smartfolio_node::NodeConfig;
use smartfolio_server::{ServeOptions, Server};
use std::io::Write as _;
use std::net::IpAddr;
use std::time::Duration;

/// Parse `--bind`.
pub fn parse_bind(text: &str) -> Result<IpAddr, InputError> {
    text.trim().parse().map_err(|_| {
        InputError(format!(
            "invalid --bind: `{text}`; allowed: an IP address such as 127.0.0.1 or 0.0.0.0"
        ))
    })
}

/// Serve until interrupted (or `max_seconds`), printing the URL and, on the first start, the
/// token.
pub fn serve(cfg: NodeConfig, opts: ServeOptions, max_seconds: Option<f64>) -> anyhow::Result<()> {
    let demo = opts.demo.is_some();
    let ip = opts.ip;
    let venue = cfg.venue.kind;
    let trading = match cfg.trading_mode() {
        smartfolio_node::TradingMode::Paper => "paper orders",
        smartfolio_node::TradingMode::DryRun => "dry run: paper orders at live prices",
        smartfolio_node::TradingMode::Live => "LIVE orders",
    };
    common::tokio_runtime(true)?.block_on(async move {
        let server = Server::start(cfg, opts).await?;
        if !ip.is_loopback() {
            eprintln!(
                "warning: binding {ip}: the dashboard and API are reachable from other machines"
            );
        }
        {
            let mut out = std::io::stdout().lock();
            let what = if demo {
                "smartfolio demo"
            } else {
                "smartfolio run"
            };
            writeln!(out, "{what}: {}", server.url)?;
            writeln!(
                out,
                "data directory: {} (venue {venue}: {trading})",
                server.data_dir.display()
            )?;
            match &server.new_token {
                Some(t) => {
                    writeln!(
                        out,
                        "API token (shown once; stored hashed in {}): {t}",
                        server.token_path.display()
                    )?;
                    writeln!(out, "sign in the dashboard: {}#token={t}", server.url)?;
                }
                None => writeln!(
                    out,
                    "API token: the one printed on the first start (`--new-token` makes a new one)"
                )?,
            }
            out.flush()?;
        }
        let shutdown = async move {
            match max_seconds {
                Some(s) => {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs_f64(s)) => {}
                        _ = common::interrupted() => {}
                    }
                }
                None => common::interrupted().await,
            }
        };
        let stopped = server.run(shutdown).await?;
        println!(
            "{} stopped: {} ticks, {} bots",
            if demo { "demo" } else { "daemon" },
            stopped.ticks,
            stopped.bots
        );
        Ok(())
    })
}
