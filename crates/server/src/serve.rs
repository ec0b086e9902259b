//! Serving a data directory: `smartfolio run --http` and `smartfolio demo`. The node owns and
//! drives the data directory (the same lease, startup and driver loop as `smartfolio run`); this
//! adds the server's state ([`Core`]), the API token and the HTTP listener. `smartfolio serve`
//! ([`Server::start_reader`]) serves a store's bots without driving them ([`crate::reader`]).

use crate::actor::{Core, RuntimeHandle, spawn_driver};
use crate::api::{AppState, NodeInfo, router};
use crate::auth::{self, TokenCheck};
use crate::reader::{Queue, ReaderOptions};
use smartfolio_bot::BotError;
use smartfolio_exchange::PriceTick;
use smartfolio_node::driver::{self, DriveOptions, Driven};
use smartfolio_node::reader::{NoVenue, Reader};
use smartfolio_node::{
    CreateSpec, Host, Lease, Market, MarketKind, NodeConfig, NodeError, VenueKind,
};
use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, oneshot};

/// The demo's extras on a fresh data directory.
pub struct DemoSetup {
    /// Ticks observed before anything else (history for the previews).
    pub warmup_ticks: usize,
    /// Created and deployed when there is no bot (with the node's defaults).
    pub sample: CreateSpec,
}

/// How [`Server::start`] serves.
pub struct ServeOptions {
    pub ip: IpAddr,
    pub port: u16,
    /// Generate a new API token (the old one stops working).
    pub new_token: bool,
    /// `Some` for the demo.
    pub demo: Option<DemoSetup>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("the API token in {}: {source}", dir.display())]
    Token {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {ip}:{port}: {source}")]
    Bind {
        ip: IpAddr,
        port: u16,
        source: std::io::Error,
    },
    #[error("{context}: {source}")]
    Sample {
        context: &'static str,
        source: BotError,
    },
    #[error("serving HTTP: {0}")]
    Http(std::io::Error),
    #[error("the bot driver task failed: {0}")]
    Task(String),
}

impl ServeError {
    /// Whether the error is the user's input (see [`NodeError::is_input`]).
    pub fn is_input(&self) -> bool {
        matches!(self, ServeError::Node(e) if e.is_input())
    }
}

/// A started server: the data directory owned and recovered, bots driven, the port bound.
pub struct Server {
    pub url: String,
    pub data_dir: PathBuf,
    /// The API token, when a new one was generated (shown once; stored hashed).
    pub new_token: Option<String>,
    pub token_path: PathBuf,
    listener: tokio::net::TcpListener,
    app: axum::Router,
    handle: RuntimeHandle,
    /// `smartfolio serve`'s venue, which refuses every call.
    venue: Option<Arc<NoVenue>>,
    stop: oneshot::Sender<()>,
    ended: oneshot::Receiver<()>,
    /// Ends the live event streams when serving stops.
    closing: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Driven<Core>>,
}

/// How a server ended.
#[derive(Debug, Clone, Copy)]
pub struct Stopped {
    pub ticks: u64,
    pub bots: usize,
}

impl Server {
    /// Own `cfg.data_dir` (refused when another process does), open and recover it as `run`
    /// does (on any venue and market `run` takes: paper, the dry run, Binance; the demo only on
    /// paper offline), and start driving the bots; then bind `ip:port`.
    pub async fn start(cfg: NodeConfig, opts: ServeOptions) -> Result<Server, ServeError> {
        if opts.demo.is_some()
            && (cfg.venue.kind != VenueKind::Paper || cfg.market.kind == MarketKind::Live)
        {
            return Err(NodeError::Input(format!(
                "the demo runs the paper venue on a synthetic market, offline (found venue.kind \
                 = {}, market.kind = {}); allowed: venue.kind = paper with market.kind = \
                 synthetic or replay; a live venue or market is served by `smartfolio run --http`",
                cfg.venue.kind,
                cfg.market.kind.name()
            ))
            .into());
        }
        let node = NodeInfo::of(&cfg);
        let lease = Lease::take(&cfg.data_dir, Duration::ZERO).await?;
        let (mut host, mut bots) = Host::open(cfg, lease).await?;
        let started = host.start(&mut bots).await?;
        let mut core = Core::hosted(bots, host.cfg.defaults());
        let mut market = started.market;
        let live = host.cfg.market.kind == MarketKind::Live;
        match started.resume_ms {
            // A live market has no past to replay: its first read prices the API before it
            // serves (a create or a preview right away has prices), without deciding anything.
            _ if live => {
                if let Some(t) = market.next().await {
                    driver::observe(&mut core, &t).await?;
                }
            }
            // The history the previews use: the same feed regenerated up to where we resume.
            Some(after) => {
                let mut past = Market::open(&host.cfg.market, &host.cfg.quote, None)?;
                let mut last = None;
                while let Some(t) = past.next().await {
                    if t.time_ms > after {
                        break;
                    }
                    core.history.push(&t);
                    last = Some(t);
                }
                if let Some(t) = last {
                    driver::observe(&mut core, &t).await?;
                }
            }
            None => {
                if let Some(demo) = &opts.demo {
                    for _ in 0..demo.warmup_ticks {
                        let Some(t) = market.next().await else { break };
                        driver::observe(&mut core, &t).await?;
                    }
                    if let Some(t) = &core.last_tick {
                        host.note_market_ms(t.time_ms).await?;
                    }
                }
            }
        }
        if let Some(demo) = opts.demo.as_ref()
            && core.rt.list().is_empty()
        {
            let sample = demo
                .sample
                .config(&core.defaults)
                .map_err(|e| ServeError::Sample {
                    context: "building the sample bot",
                    source: e.into(),
                })?;
            let id = core
                .rt
                .create(sample)
                .await
                .map_err(|source| ServeError::Sample {
                    context: "creating the sample bot",
                    source,
                })?;
            core.rt
                .deploy(id)
                .await
                .map_err(|source| ServeError::Sample {
                    context: "deploying the sample bot",
                    source,
                })?;
        }
        host.mark_ready();
        let drive_opts = DriveOptions {
            priced: core.last_tick.is_some(),
            ..Default::default()
        };
        let mode = if opts.demo.is_some() {
            "demo"
        } else {
            "daemon"
        };
        let data_dir = host.cfg.data_dir.clone();
        Self::listen(
            core,
            (Some(host), Some(market), drive_opts),
            (mode, node, data_dir),
            &opts,
            None,
        )
        .await
    }

    /// `smartfolio serve`: the dashboard and the API over `cfg`'s store, beside the processes
    /// that trade its bots (see [`crate::reader`]): no market, no venue call, no lock, no
    /// lease; commands are queued for the process trading the account. Having no market, it
    /// has no price history: the allocation and backtest previews (and a create with an
    /// allocation method) answer 409 naming it; `run --http` serves them.
    pub async fn start_reader(
        cfg: NodeConfig,
        opts: ServeOptions,
        reading: ReaderOptions,
    ) -> Result<Server, ServeError> {
        Self::read_store(cfg, opts, reading, "serve", None).await
    }

    /// `smartfolio run --http` with `[accounts]`: the same API over the store as
    /// [`Server::start_reader`], beside the daemon of several accounts in this process
    /// (`smartfolio_node::accounts::run`, which the caller runs and which holds the data
    /// directory's lock): the reads list every account's bots as stored, and each command is
    /// queued for the daemon's router, which runs it on the loop of the bot's account (a
    /// create on the account it names); `serve`'s default waits. `/api/status` says `daemon`.
    ///
    /// `prices` are the default account's ticks as its loop processes them
    /// (`smartfolio_node::accounts::DaemonOptions::prices`): each is added to the server's
    /// price history on its loop (and is `/api/status`'s market time and prices), so the
    /// allocation and backtest previews, and a create with an allocation method, run over the
    /// default account's market as in a one-account `run --http`. Nothing calls a venue for
    /// them. Until the first tick, those previews answer 409 naming the missing history.
    pub async fn start_beside_accounts(
        cfg: NodeConfig,
        opts: ServeOptions,
        prices: broadcast::Receiver<PriceTick>,
    ) -> Result<Server, ServeError> {
        Self::read_store(cfg, opts, ReaderOptions::default(), "daemon", Some(prices)).await
    }

    async fn read_store(
        cfg: NodeConfig,
        opts: ServeOptions,
        reading: ReaderOptions,
        mode: &'static str,
        prices: Option<broadcast::Receiver<PriceTick>>,
    ) -> Result<Server, ServeError> {
        if opts.demo.is_some() {
            return Err(NodeError::Input(
                "`smartfolio serve` serves a store's bots and runs none: no demo; allowed: \
                 `smartfolio demo`"
                    .into(),
            )
            .into());
        }
        let node = NodeInfo::of(&cfg);
        let (reader, bots) = Reader::open(&cfg).await?;
        let reader = Arc::new(reader);
        let core = Core::hosted(bots, cfg.defaults());
        let queue = Arc::new(Queue {
            reader: reader.clone(),
            wait: reading.wait,
        });
        let mut server = Self::listen(
            core,
            (None, None, DriveOptions::default()),
            (mode, node, cfg.data_dir.clone()),
            &opts,
            Some(queue.clone()),
        )
        .await?;
        server.venue = Some(reader.venue.clone());
        if let Some(prices) = prices {
            tokio::spawn(record_prices(
                prices,
                server.handle.clone(),
                server.closing.subscribe(),
            ));
        }
        // The bots loaded again every `refresh`, until the server stops.
        let handle = server.handle.clone();
        let mut closing = server.closing.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = closing.wait_for(|c| *c) => break,
                    _ = tokio::time::sleep(reading.refresh) => {}
                }
                if let Err(e) = queue.reload(&handle).await {
                    tracing::warn!("reading the bots from the store again: {e}");
                }
            }
        });
        Ok(server)
    }

    /// `smartfolio serve`'s venue, which refuses and counts every call (`None` when the server
    /// drives the bots).
    pub fn no_venue(&self) -> Option<Arc<NoVenue>> {
        self.venue.clone()
    }

    /// The token, the listener, the driver over `core` and the router.
    async fn listen(
        core: Core,
        (host, market, drive_opts): (Option<Host>, Option<Market>, DriveOptions),
        (mode, node, data_dir): (&'static str, NodeInfo, PathBuf),
        opts: &ServeOptions,
        queue: Option<Arc<Queue>>,
    ) -> Result<Server, ServeError> {
        let (token, new_token) =
            TokenCheck::load_or_create(&data_dir, opts.new_token).map_err(|source| {
                ServeError::Token {
                    dir: data_dir.clone(),
                    source,
                }
            })?;
        let ip = opts.ip;
        if !ip.is_loopback() {
            tracing::warn!(
                "binding {ip}: the dashboard and API are reachable from other machines; reads \
                 are open, writes need the bearer token"
            );
        }
        let listener = tokio::net::TcpListener::bind((ip, opts.port))
            .await
            .map_err(|source| ServeError::Bind {
                ip,
                port: opts.port,
                source,
            })?;
        let addr = listener.local_addr().map_err(ServeError::Http)?;
        let host_part = if ip.is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        let url = format!("http://{host_part}:{}/", addr.port());
        let (stop, stop_rx) = oneshot::channel::<()>();
        let (handle, inner) = spawn_driver(core, host, market, drive_opts, async {
            let _ = stop_rx.await;
        });
        // Know when the driver ends by itself (a failed tick): the server then stops too.
        let (ended_tx, ended) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let driven = inner.await;
            let _ = ended_tx.send(());
            match driven {
                Ok(d) => d,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        });
        let (closing, closing_rx) = tokio::sync::watch::channel(false);
        let app = router(AppState {
            handle: handle.clone(),
            token: Arc::new(token),
            mode: Arc::from(mode),
            node: Arc::new(node),
            closing: closing_rx,
            queue,
        });
        Ok(Server {
            url,
            token_path: auth::token_path(&data_dir),
            data_dir,
            new_token,
            listener,
            app,
            handle,
            venue: None,
            stop,
            ended,
            closing,
            task,
        })
    }

    /// Serve until `shutdown` completes or the driver ends by itself (then its error is
    /// returned); then stop the driver and note the market time.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Stopped, ServeError> {
        let ended = self.ended;
        let closing = self.closing;
        axum::serve(self.listener, self.app)
            .with_graceful_shutdown(async move {
                tokio::select! {
                    _ = shutdown => {}
                    _ = ended => {}
                }
                // The connections still open are waited for: end the endless ones.
                closing.send_replace(true);
            })
            .await
            .map_err(ServeError::Http)?;
        let _ = self.stop.send(());
        let driven = self
            .task
            .await
            .map_err(|e| ServeError::Task(e.to_string()))?;
        let summary = driven.summary?;
        Ok(Stopped {
            ticks: driven.station.ticks,
            bots: summary.bots,
        })
    }
}

/// Add the ticks `prices` receives to the server's price history, on its loop, until the
/// server closes or the sender is gone: the ticks waiting are taken together (one job), and the
/// latest is the market time and prices `/api/status` shows. Only the history and the readers'
/// state change: no runtime, clock or venue is touched. Ticks lost to lag are skipped.
async fn record_prices(
    mut prices: broadcast::Receiver<PriceTick>,
    handle: RuntimeHandle,
    mut closing: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let first = tokio::select! {
            _ = closing.wait_for(|c| *c) => return,
            r = prices.recv() => r,
        };
        let mut ticks = Vec::new();
        match first {
            Ok(t) => ticks.push(t),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::debug!(
                    lost = n,
                    "the price history lagged the market: ticks skipped"
                );
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
        while let Ok(t) = prices.try_recv() {
            ticks.push(t);
        }
        let recorded = handle
            .call(move |c| {
                Box::pin(async move {
                    for t in &ticks {
                        c.history.push(t);
                    }
                    c.last_tick = ticks.pop();
                })
            })
            .await;
        if recorded.is_err() {
            // The loop has ended: the server is stopping.
            return;
        }
    }
}
