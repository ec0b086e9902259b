//! Several venue accounts in one daemon (issue 12): `smartfolio run` with `[accounts.NAME]`
//! beside the default account trades each account's bots on a host of its own, in one process,
//! over one store.
//!
//! - **A host per account**, as a worker has one per leased account ([`crate::worker`]): its
//!   own venue client (connector, rate limits, clock offset, bans), its own market (a real
//!   venue's own prices), its own [`Runtime`](smartfolio_bot::Runtime) with the account's bots
//!   and its own recovery. Each is driven by the one driver loop's code ([`driver::drive`]) on
//!   a task of its own, so a venue that is down (its price reads and recovery wait out their
//!   timeouts inline) holds only its own account: its prices age and its bots are suspended
//!   as on a one-account daemon, while the other accounts tick. An account whose venue does
//!   not answer at the start is started again every [`RESTART_EVERY`] until it answers; the
//!   others trade meanwhile.
//! - **Commands are routed** ([`route`]): one task claims the store's queued commands (the
//!   loops claim none: [`DriveOptions::routed`]) and runs each on the loop of its account, in
//!   order with that loop's ticks, through the loop's job queue ([`driver::Handle`]). A create
//!   goes to the account it names (`CreateSpec::account`, else the default), a command on a bot
//!   to the bot's account as the store has it, a list to every account (one list, by id).
//! - The data directory's lock (`daemon.lock`) is held by the daemon, not by a host: the
//!   commands a dead owner left `running` are failed once, before anything is claimed.
//! - **The default account's prices are published** ([`DaemonOptions::prices`]): after each of
//!   its ticks the default account's loop sends the tick on a broadcast channel, for the API
//!   server of `run --http` beside the daemon (its price history, which the allocation and
//!   backtest previews read). Sending never waits: a receiver that lags loses the oldest ticks.

use crate::command::{self, Defaults, Outcome, Reply, Request};
use crate::driver::{self, DriveOptions, Handle, RunSummary, Station};
use crate::error::{NodeError, NodeResult};
use crate::host::{Bots, Host, NodeConfig};
use crate::lease::Lease;
use async_trait::async_trait;
use smartfolio_bot::{BotError, BotEvent, ManualClock, Runtime, TickReport};
use smartfolio_exchange::PriceTick;
use smartfolio_exchange::feed::WallClock;
use smartfolio_exchange::paper::PaperExchange;
use smartfolio_store::{AccountKey, Backend, Store, open_store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// How long after a failed start an account's host is started again.
pub const RESTART_EVERY: Duration = Duration::from_secs(5);
/// How long a routed command waits for its account's first prices before it fails (nothing
/// done).
pub const PRICED_WAIT: Duration = Duration::from_secs(30);

/// One account's station: its bots, and whether its market has given prices yet (a routed
/// command waits for them, as the one-account loop runs commands only once priced).
pub struct Account {
    pub name: String,
    pub bots: Bots,
    priced: watch::Sender<bool>,
    /// Where the account's ticks are published (the default account's, when asked for).
    prices: Option<broadcast::Sender<PriceTick>>,
}

impl Account {
    /// Publish `tick` (never waits; no receiver is fine).
    fn publish(&self, tick: &PriceTick) {
        if let Some(p) = &self.prices {
            let _ = p.send(tick.clone());
        }
    }
}

#[async_trait]
impl Station for Account {
    fn parts(&mut self) -> (&mut Runtime, Option<&PaperExchange>, &ManualClock) {
        self.bots.parts()
    }

    async fn ticked(&mut self, tick: &PriceTick, report: Option<&TickReport>, took: Duration) {
        self.bots.ticked(tick, report, took).await;
        self.priced.send_replace(true);
        self.publish(tick);
    }

    async fn observed(&mut self, tick: &PriceTick) {
        self.publish(tick);
    }

    async fn changed(&mut self) {
        self.bots.changed().await;
    }

    async fn events(&mut self, events: Vec<BotEvent>) {
        let span = tracing::info_span!("account", name = %self.name);
        let _entered = span.enter();
        self.bots.events(events).await;
    }
}

/// A running account's loop, as the router reaches it.
#[derive(Clone)]
struct Route {
    name: String,
    defaults: Defaults,
    handle: Handle<Account>,
    priced: watch::Receiver<bool>,
    /// The account's host has started (recovered) and its loop runs.
    started: watch::Receiver<bool>,
}

/// What a daemon of several accounts did: each account's run, the default first.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct DaemonSummary {
    pub accounts: Vec<(String, RunSummary)>,
    /// Queued commands the router ran.
    pub commands: u64,
    pub interrupted_commands: u64,
}

/// How the daemon runs.
#[derive(Clone)]
pub struct DaemonOptions {
    /// Each account's loop's limits (`routed` is set by the daemon).
    pub drive: DriveOptions,
    /// The wall clock of the live markets and the connectors.
    pub wall: WallClock,
    /// An account's own wall clock instead of `wall`, by account name (tests age one
    /// account's prices).
    pub walls: Vec<(String, WallClock)>,
    /// How long after a failed start an account's host is started again.
    pub restart_every: Duration,
    /// Where the default account's loop publishes each tick it processed (its market's
    /// prices), e.g. for the price history of the API server beside the daemon. A send never
    /// waits: a receiver that lags loses the oldest ticks (`RecvError::Lagged`).
    pub prices: Option<broadcast::Sender<PriceTick>>,
}

impl DaemonOptions {
    /// The daemon's wall clock, with the drive's limits.
    pub fn new(drive: DriveOptions, wall: WallClock) -> Self {
        Self {
            drive,
            wall,
            walls: vec![],
            restart_every: RESTART_EVERY,
            prices: None,
        }
    }

    fn wall_of(&self, account: &str) -> WallClock {
        self.walls
            .iter()
            .find(|(a, _)| a == account)
            .map_or_else(|| self.wall.clone(), |(_, w)| w.clone())
    }
}

/// Run every configured account of `cfg` (the default one and `cfg.accounts`) until `stop`
/// completes, or every loop has ended by its limits, or one fails (then all stop, and its
/// error is returned). `lease` is the data directory's lock.
pub async fn run(
    cfg: NodeConfig,
    mut lease: Lease,
    opts: DaemonOptions,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> NodeResult<DaemonSummary> {
    let store = open_store(cfg.store.as_deref(), &cfg.data_dir).await?;
    // One process owns the data directory and every account in it: every command left running
    // by a dead daemon is failed.
    let interrupted_commands = command::fail_interrupted(&*store, None, command::wall_ms()).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let stopping = stop_tx.clone();
    let stopper = tokio::spawn(async move {
        stop.await;
        stopping.send_replace(true);
    });
    let mut routes = Vec::new();
    let mut loops = Vec::new();
    let default_account = cfg.account.clone();
    for (name, _) in cfg.account_venues() {
        let acfg = cfg
            .for_account(&name)
            .ok_or_else(|| NodeError::Input(format!("account `{name}` is not configured")))?;
        let defaults = acfg.defaults();
        let (host, bots) = Host::open_on(acfg, None, opts.wall_of(&name), store.clone()).await?;
        let (priced_tx, priced_rx) = watch::channel(false);
        let (handle, jobs) = driver::channel::<Account>();
        let (started_tx, started_rx) = watch::channel(false);
        let station = Account {
            name: name.clone(),
            bots,
            priced: priced_tx,
            prices: opts.prices.clone().filter(|_| name == default_account),
        };
        routes.push(Route {
            name: name.clone(),
            defaults,
            handle,
            priced: priced_rx,
            started: started_rx,
        });
        let drive = DriveOptions {
            routed: true,
            ..opts.drive
        };
        loops.push(tokio::spawn(account_loop(
            host,
            station,
            jobs,
            (drive, opts.restart_every),
            (stop_rx.clone(), started_tx),
        )));
    }
    let router = tokio::spawn(router(
        store.clone(),
        cfg.defaults(),
        routes,
        stop_rx.clone(),
    ));
    lease.mark_ready();
    tracing::info!(
        accounts = cfg.accounts.len() + 1,
        data_dir = %cfg.data_dir.display(),
        interrupted_commands,
        "daemon of several accounts started"
    );
    let mut summary = DaemonSummary {
        interrupted_commands,
        ..Default::default()
    };
    let mut failed = None;
    for (l, (name, _)) in loops.into_iter().zip(cfg.account_venues()) {
        match l.await {
            Ok(Ok(s)) => summary.accounts.push((name, s)),
            Ok(Err(e)) => {
                tracing::error!(account = %name, error = %e, "the account's loop failed: stopping");
                stop_tx.send_replace(true);
                failed.get_or_insert(e);
            }
            Err(e) => {
                stop_tx.send_replace(true);
                failed.get_or_insert(NodeError::Input(format!(
                    "the loop of {name} panicked: {e}"
                )));
            }
        }
    }
    // Every loop has ended: the router too.
    stop_tx.send_replace(true);
    stopper.abort();
    match router.await {
        Ok(Ok(n)) => summary.commands = n,
        Ok(Err(e)) => {
            failed.get_or_insert(e);
        }
        Err(_) => {}
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// One account: start its host (again every `restart_every` while its venue does not
/// answer), then drive its bots until stopped or the drive's limits.
async fn account_loop(
    host: Host,
    mut station: Account,
    mut jobs: tokio::sync::mpsc::Receiver<driver::Job<Account>>,
    (opts, restart_every): (DriveOptions, Duration),
    (stop, started_tx): (watch::Receiver<bool>, watch::Sender<bool>),
) -> NodeResult<RunSummary> {
    let started = loop {
        if *stop.borrow() {
            return Ok(RunSummary {
                ended: "interrupted".into(),
                ..Default::default()
            });
        }
        match host.start(&mut station.bots).await {
            Ok(s) => break s,
            Err(e @ NodeError::Input(_)) => return Err(e),
            Err(e) => {
                tracing::warn!(
                    account = %station.name,
                    error = %e,
                    "the account's venue did not answer at the start: its bots wait; the \
                     other accounts trade"
                );
                let mut rx = stop.clone();
                tokio::select! {
                    _ = rx.wait_for(|v| *v) => {}
                    _ = tokio::time::sleep(restart_every) => {}
                }
            }
        }
    };
    tracing::info!(
        account = %station.name,
        venue = %host.cfg.venue.kind,
        bots = station.bots.rt.list().len(),
        recovered_orders = started.recovered_orders,
        held_bots = started.held.len(),
        "account started"
    );
    started_tx.send_replace(true);
    let mut rx = stop.clone();
    let mut summary = driver::drive(
        &mut station,
        Some(&host),
        Some(started.market),
        Some(&mut jobs),
        async move {
            let _ = rx.wait_for(|v| *v).await;
        },
        opts,
    )
    .await?;
    summary.recovered_orders = started.recovered_orders;
    Ok(summary)
}

/// Claim the queued commands every [`driver::COMMAND_POLL`] and run each on its account's
/// loop; returns how many ran.
async fn router(
    store: Arc<dyn Backend>,
    defaults: Defaults,
    routes: Vec<Route>,
    mut stop: watch::Receiver<bool>,
) -> NodeResult<u64> {
    let mut n = 0;
    // The router owns every configured account: it claims the commands of them all.
    let held: Vec<AccountKey> = routes
        .iter()
        .map(|r| AccountKey::new(&r.defaults.venue, &r.defaults.account))
        .collect();
    loop {
        tokio::select! {
            _ = stop.wait_for(|v| *v) => return Ok(n),
            _ = tokio::time::sleep(driver::COMMAND_POLL) => {}
        }
        while let Some(cmd) = store.claim_command(&held).await? {
            n += 1;
            let outcome = match serde_json::from_str::<Request>(&cmd.command) {
                Ok(req) => {
                    tracing::info!(command = cmd.id, request = %cmd.command, "routing command");
                    route(&*store, &defaults, &routes, req).await
                }
                Err(e) => Outcome::failed(2, format!("unreadable command #{}: {e}", cmd.id)),
            };
            let text = serde_json::to_string(&outcome).unwrap_or_else(|_| "{}".into());
            store
                .finish_command(cmd.id, outcome.ok, &text, command::wall_ms())
                .await?;
        }
    }
}

/// Which account a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One account's bots (its name).
    Account(String),
    /// Every account's (a list).
    All,
}

/// The account `req` is for: a create's named account (else the default), a bot's account
/// as the store has it (an unknown bot: the default account, whose runtime names it), every
/// account for a list. An account that is not configured is refused, naming the configured
/// ones.
pub async fn target(store: &dyn Store, d: &Defaults, req: &Request) -> Result<Target, BotError> {
    let bot = match req {
        Request::List => return Ok(Target::All),
        Request::Create { spec } => {
            return Ok(Target::Account(d.account_of(spec.account.as_deref())?.0));
        }
        Request::Preview { of } => return Box::pin(target(store, d, of)).await,
        Request::Show { bot }
        | Request::History { bot, .. }
        | Request::Export { bot }
        | Request::Invest { bot, .. }
        | Request::Withdraw { bot, .. }
        | Request::Modify { bot, .. }
        | Request::Rebalance { bot, .. }
        | Request::Pause { bot }
        | Request::Resume { bot }
        | Request::Stop { bot, .. } => bot.trim(),
    };
    let record = match bot.parse::<i64>() {
        Ok(id) if !bot.is_empty() && bot.bytes().all(|b| b.is_ascii_digit()) => {
            store.bot(id).await?
        }
        _ => store.bot_by_name(bot).await?,
    };
    match record {
        None => Ok(Target::Account(d.account.clone())),
        Some(r) => Ok(Target::Account(d.account_of(Some(&r.account))?.0)),
    }
}

/// Run `req` on its account's loop (a list on every account's), once that loop has prices.
async fn route(store: &dyn Store, d: &Defaults, routes: &[Route], req: Request) -> Outcome {
    let target = match target(store, d, &req).await {
        Ok(t) => t,
        Err(e) => return Outcome::of_error(&e),
    };
    match target {
        Target::Account(name) => match routes.iter().find(|r| r.name == name) {
            Some(r) => on(r, req).await,
            None => Outcome::failed(2, format!("account `{name}` is not configured")),
        },
        Target::All => {
            let mut all = Vec::new();
            for r in routes {
                if !*r.started.borrow() {
                    tracing::warn!(
                        account = %r.name,
                        "the account has not started (its venue has not answered): its bots \
                         are left out of the list"
                    );
                    continue;
                }
                let listed = tokio::time::timeout(
                    PRICED_WAIT,
                    r.handle.call(|a: &mut Account| {
                        Box::pin(async move { a.bots.rt.list() })
                            as driver::BoxFut<'_, Vec<smartfolio_bot::BotSummary>>
                    }),
                )
                .await;
                match listed {
                    Ok(Ok(bots)) => all.extend(bots),
                    _ => tracing::warn!(
                        account = %r.name,
                        "the account's loop did not answer the list: its bots are left out"
                    ),
                }
            }
            all.sort_by_key(|b| b.id);
            match serde_json::to_value(Reply::List(all)) {
                Ok(v) => Outcome::ok(v),
                Err(e) => Outcome::failed(1, format!("encoding the reply: {e}")),
            }
        }
    }
}

/// Run `req` on `r`'s loop once it has prices (at most [`PRICED_WAIT`]).
async fn on(r: &Route, req: Request) -> Outcome {
    let mut priced = r.priced.clone();
    if tokio::time::timeout(PRICED_WAIT, priced.wait_for(|p| *p))
        .await
        .is_err()
    {
        return Outcome::failed(
            1,
            format!(
                "account `{}` has no prices yet (its venue, {}, has not answered within {} s); \
                 nothing was done",
                r.name,
                r.defaults.venue,
                PRICED_WAIT.as_secs()
            ),
        );
    }
    let d = r.defaults.clone();
    let ran = r
        .handle
        .call(move |a: &mut Account| {
            Box::pin(async move { command::execute(&mut a.bots.rt, &req, &d, true).await })
                as driver::BoxFut<'_, Outcome>
        })
        .await;
    ran.unwrap_or_else(|e| Outcome::failed(1, format!("account `{}`: {e}", r.name)))
}
