//! The commands that serve HTTP: `smartfolio serve` (the dashboard and the API over a store,
//! running no bots), and the printing shared with `run --http` and `demo`.
//! `smartfolio_server::Server` does the work; this parses the flags (`--bind`, `--store`, the
//! waits), prints the URL and the token, and the end.

use crate::InputError;
use crate::common::{self, CommonArgs};
use crate::config;
use smartfolio_node::NodeConfig;
use smartfolio_server::{ReaderOptions, ServeOptions, Server};
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

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  smartfolio serve --store postgres://sf:PASSWORD@db:5432/smartfolio --port 8080\n  SMARTFOLIO_STORE=postgres://... smartfolio serve --bind 0.0.0.0   # reachable from other machines (a warning)\n  smartfolio serve --data-dir ./smartfolio-data   # SQLite: beside the `run` daemon of that directory"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The store to serve (default: $SMARTFOLIO_STORE, else the config's `store`, else SQLite in
    /// the data directory): a postgres://user:password@host:port/database URL.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// TCP port (0: any free port; the URL printed says which).
    #[arg(long, default_value_t = 8080, allow_negative_numbers = true)]
    pub port: u16,
    /// Address to bind: 127.0.0.1 (default) or, explicitly, another one such as 0.0.0.0.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub bind: String,
    /// Stop after this many seconds.
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    pub max_seconds: Option<String>,
    /// How long a command's request waits for the worker's result (default 30): not taken by
    /// then, it is canceled (503); taken and still running, the answer is 504 naming its id.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub wait: Option<String>,
    /// How often the bots are read again from the store (default 2; also after each command).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub refresh: Option<String>,
    /// Generate a new API token (the old one stops working); stored hashed in the data
    /// directory.
    #[arg(long)]
    pub new_token: bool,
}

/// `smartfolio serve`: the store's bots, read; their commands queued for the worker.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut cfg = args.common.load()?;
    if let Some(url) = &args.store {
        cfg.store = config::parse_store("--store", Some(url))?;
    }
    let seconds = |flag: &str, v: &Option<String>| {
        v.as_deref()
            .map(|s| config::parse_seconds(flag, s))
            .transpose()
    };
    let max_seconds = seconds("--max-seconds", &args.max_seconds)?.map(|d| d.as_secs_f64());
    let defaults = ReaderOptions::default();
    let reading = ReaderOptions {
        wait: seconds("--wait", &args.wait)?.unwrap_or(defaults.wait),
        refresh: seconds("--refresh", &args.refresh)?.unwrap_or(defaults.refresh),
    };
    let opts = ServeOptions {
        ip: parse_bind(&args.bind)?,
        port: args.port,
        new_token: args.new_token,
        demo: None,
    };
    config::init_logging(cfg.log_format, "info");
    serve_as(
        common::node_config(&cfg),
        opts,
        max_seconds,
        Serving::Read(reading),
    )
}

/// What a server process does besides serving.
pub enum Serving {
    /// `run --http` and `demo`: it drives the data directory's bots (one account).
    Run,
    /// `smartfolio serve`: it reads the store's bots, never running them.
    Read(ReaderOptions),
    /// `run --http` with `[accounts]`: the daemon of several accounts runs beside the API,
    /// which reads the store's bots of every account and queues each command for the
    /// daemon's router.
    Accounts,
}

/// Serve until interrupted (or `max_seconds`), printing the URL and, on the first start, the
/// token.
pub fn serve(
    cfg: NodeConfig,
    opts: ServeOptions,
    max_seconds: Option<f64>,
    serving: Serving,
) -> anyhow::Result<()> {
    serve_as(cfg, opts, max_seconds, serving)
}

/// [`serve`], for what `serving` says.
fn serve_as(
    cfg: NodeConfig,
    opts: ServeOptions,
    max_seconds: Option<f64>,
    serving: Serving,
) -> anyhow::Result<()> {
    let reading = match &serving {
        Serving::Read(r) => Some(*r),
        _ => None,
    };
    let demo = opts.demo.is_some();
    let store = match &cfg.store {
        Some(url) => smartfolio_store::mask_url(url),
        None => cfg.data_dir.join("smartfolio.db").display().to_string(),
    };
    let account = cfg.account.clone();
    let ip = opts.ip;
    let venue = cfg.venue.kind;
    let trading = match cfg.trading_mode() {
        smartfolio_node::TradingMode::Paper => "paper orders",
        smartfolio_node::TradingMode::DryRun => "dry run: paper orders at live prices",
        smartfolio_node::TradingMode::Live => "LIVE orders",
    };
    common::tokio_runtime(true)?.block_on(async move {
        let accounts = cfg.account_venues();
        let (server, daemon) = match serving {
            Serving::Read(r) => (Server::start_reader(cfg, opts, r).await?, None),
            Serving::Run => (Server::start(cfg, opts).await?, None),
            Serving::Accounts => {
                let (server, daemon) = beside_accounts(cfg, opts).await?;
                (server, Some(daemon))
            }
        };
        if !ip.is_loopback() {
            eprintln!(
                "warning: binding {ip}: the dashboard and API are reachable from other machines"
            );
        }
        {
            let mut out = std::io::stdout().lock();
            let what = match (demo, reading.is_some()) {
                (true, _) => "smartfolio demo",
                (_, true) => "smartfolio serve",
                _ => "smartfolio run",
            };
            writeln!(out, "{what}: {}", server.url)?;
            if reading.is_some() {
                writeln!(
                    out,
                    "store: {store} (venue {venue}, account {account}): the bots are read, \
                     never run here; commands are queued for the process that trades them"
                )?;
            } else {
                writeln!(
                    out,
                    "data directory: {} (venue {venue}: {trading})",
                    server.data_dir.display()
                )?;
            }
            if daemon.is_some() {
                let list: Vec<String> =
                    accounts.iter().map(|(a, v)| format!("{a} ({v})")).collect();
                writeln!(out, "accounts: {}", list.join(", "))?;
            }
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
        let (daemon_ended, daemon) = match daemon {
            Some(d) => (Some(d.ended), Some((d.stop, d.task))),
            None => (None, None),
        };
        let shutdown = async move {
            let ended = async move {
                match daemon_ended {
                    Some(e) => {
                        let _ = e.await;
                    }
                    None => std::future::pending().await,
                }
            };
            match max_seconds {
                Some(s) => {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs_f64(s)) => {}
                        _ = common::interrupted() => {}
                        _ = ended => {}
                    }
                }
                None => {
                    tokio::select! {
                        _ = common::interrupted() => {}
                        _ = ended => {}
                    }
                }
            }
        };
        let stopped = server.run(shutdown).await?;
        if let Some((stop, task)) = daemon {
            let _ = stop.send(());
            let summary = task.await??;
            let mut text = format!("daemon stopped: {} bots", stopped.bots);
            for (name, s) in &summary.accounts {
                text += &format!(
                    "; account {name}: ran {} ticks, ended: {}",
                    s.ticks, s.ended
                );
            }
            println!("{text}; {} commands", summary.commands);
            return Ok(());
        }
        match (demo, reading.is_some()) {
            (_, true) => println!("serve stopped: {} bots", stopped.bots),
            (d, _) => println!(
                "{} stopped: {} ticks, {} bots",
                if d { "demo" } else { "daemon" },
                stopped.ticks,
                stopped.bots
            ),
        }
        Ok(())
    })
}

/// The daemon of several accounts running beside [`Server::start_beside_accounts`].
struct AccountsDaemon {
    /// Stops the daemon (after its loops' current ticks).
    stop: tokio::sync::oneshot::Sender<()>,
    /// Completes when the daemon has ended by itself (a failed loop, or every feed ended).
    ended: tokio::sync::oneshot::Receiver<()>,
    task: tokio::task::JoinHandle<anyhow::Result<smartfolio_node::accounts::DaemonSummary>>,
}

/// How many of the default account's ticks wait for the API's price history at most.
const PRICES_BUFFER: usize = 1024;

/// Own the data directory (refused when another process does), start the API over the store
/// and then the daemon of every configured account, whose router runs the API's commands; the
/// default account's ticks fill the API's price history.
async fn beside_accounts(
    cfg: NodeConfig,
    opts: ServeOptions,
) -> anyhow::Result<(Server, AccountsDaemon)> {
    use smartfolio_node::accounts::{self, DaemonOptions};
    let lease = smartfolio_node::Lease::take(&cfg.data_dir, Duration::ZERO).await?;
    // The default account's ticks fill the API's price history (the previews'); a lagging
    // server loses the oldest, the loop never waits for it.
    let (prices, prices_rx) = tokio::sync::broadcast::channel(PRICES_BUFFER);
    let server = Server::start_beside_accounts(cfg.clone(), opts, prices_rx).await?;
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (ended_tx, ended) = tokio::sync::oneshot::channel::<()>();
    let mut daemon_opts = DaemonOptions::new(
        smartfolio_node::driver::DriveOptions::default(),
        smartfolio_exchange::feed::system_wall_clock(),
    );
    daemon_opts.prices = Some(prices);
    let task = tokio::spawn(async move {
        let run = accounts::run(cfg, lease, daemon_opts, async {
            let _ = stop_rx.await;
        })
        .await;
        let _ = ended_tx.send(());
        Ok(run?)
    });
    Ok((server, AccountsDaemon { stop, ended, task }))
}
