//! Submitting a [`Request`] to a data directory, as `smartfolio bot ...` does: run it here when
//! no process owns the directory, or queue it for the owner once the owner is ready and wait
//! for its [`Outcome`].
//!
//! On a PostgreSQL store the owner is whichever worker holds the venue account's lease: the
//! request is queued for it while the lease is held; when no worker holds it, this process
//! takes the lease for the moment it runs the request here (its writes fenced like a
//! worker's), so it never interleaves with a worker that takes the account meanwhile. The
//! account is the one of the bot the request names ([`command_account`]), else this process's.

use crate::accounts::Target;
use crate::command::{self, Outcome, Request};
use crate::error::{NodeError, NodeResult};
use crate::host::{Host, NodeConfig};
use crate::lease::{self, Lease};
use smartfolio_exchange::feed::system_wall_clock;
use smartfolio_store::{AccountKey, CommandStatus, Store, is_postgres_url, open_store};
use std::time::{Duration, Instant};

/// What became of a submitted request.
#[derive(Debug)]
pub enum Submitted {
    /// Executed (here, or by the owner): its outcome.
    Done(Outcome),
    /// Queued for the owner, not waited for (`no_wait`).
    Queued(i64),
}

/// How a request is submitted.
#[derive(Debug, Clone, Copy)]
pub struct SubmitOptions {
    /// How long to wait for the owner to become ready and to execute the request.
    pub timeout: Duration,
    /// Queue and return at once when an owner runs.
    pub no_wait: bool,
}

/// How often the lock and the queued command are looked at while waiting.
const LOOK_EVERY: Duration = Duration::from_millis(20);

/// Run `req` here when the data directory is free, else queue it for its owner once the owner
/// is ready (a `bot` command holding the lock for a moment is waited for).
pub async fn submit(cfg: NodeConfig, req: &Request, opts: SubmitOptions) -> NodeResult<Submitted> {
    if cfg.store.as_deref().is_some_and(is_postgres_url) {
        return submit_to_workers(cfg, req, opts).await;
    }
    let deadline = Instant::now() + opts.timeout;
    loop {
        if let Some(lease) = Lease::try_take(&cfg.data_dir)? {
            return in_process(cfg, lease, req).await.map(Submitted::Done);
        }
        if lease::holder_ready(&cfg.data_dir) {
            return via_owner(&cfg, req, opts).await;
        }
        if Instant::now() >= deadline {
            return Err(NodeError::Queue(format!(
                "the data directory {} is owned by {}, which did not finish or become ready \
                 within {} s; nothing was done",
                cfg.data_dir.display(),
                lease::holder(&cfg.data_dir),
                opts.timeout.as_secs_f64()
            )));
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

/// How long this process's lease lasts while it runs one request (it is released after).
const CLI_LEASE_MS: i64 = 60_000;

/// A PostgreSQL store: queue for the worker holding the account, or take the lease and run it
/// here. A request for a bot of another account is queued for that account's holder (and
/// waits there while nobody holds it).
async fn submit_to_workers(
    cfg: NodeConfig,
    req: &Request,
    opts: SubmitOptions,
) -> NodeResult<Submitted> {
    let store = open_store(cfg.store.as_deref(), &cfg.data_dir).await?;
    // A bot of another account than this process's: only that account's holder can run it.
    let own = cfg.defaults().account_key();
    if command_account(&*store, req, &own).await? != own {
        return via_owner(&cfg, req, opts).await;
    }
    let holder = format!("cli-{}", std::process::id());
    let venue = cfg.venue.kind.name();
    let taken = store
        .acquire_lease(
            venue,
            &cfg.account,
            &holder,
            command::wall_ms(),
            CLI_LEASE_MS,
        )
        .await?;
    let Some(lease) = taken else {
        return via_owner(&cfg, req, opts).await;
    };
    let wall: smartfolio_store::LeaseClock = std::sync::Arc::new(command::wall_ms);
    let fenced = store
        .fenced(lease.fence(), wall)
        .ok_or_else(|| NodeError::Input("the store has no workers' leases".into()))?;
    let defaults = cfg.defaults();
    let out = match Host::open_on(cfg, None, system_wall_clock(), fenced).await {
        Ok((host, bots)) => run_here(host, bots, req, &defaults).await,
        Err(e) => Err(e),
    };
    let _ = store.release_lease(&lease.fence(), &holder).await;
    out.map(Submitted::Done)
}

/// No owner: run the request here, at the market's current tick, on the host of its account
/// ([`crate::accounts::target`]; a list on every account's, one list by id).
async fn in_process(cfg: NodeConfig, lease: Lease, req: &Request) -> NodeResult<Outcome> {
    let store = open_store(cfg.store.as_deref(), &cfg.data_dir).await?;
    let target = match crate::accounts::target(&*store, &cfg.defaults(), req).await {
        Ok(t) => t,
        Err(e) => return Ok(Outcome::of_error(&e)),
    };
    let names: Vec<String> = match target {
        Target::Account(name) => vec![name],
        Target::All => cfg.account_venues().into_iter().map(|(a, _)| a).collect(),
    };
    // Held until every account has answered.
    let _lease = lease;
    let mut outcomes = Vec::new();
    for name in &names {
        let acfg = cfg
            .for_account(name)
            .ok_or_else(|| NodeError::Input(format!("account `{name}` is not configured")))?;
        let defaults = acfg.defaults();
        let (host, bots) = Host::open_on(acfg, None, system_wall_clock(), store.clone()).await?;
        outcomes.push(run_here(host, bots, req, &defaults).await?);
    }
    if outcomes.len() == 1 {
        return Ok(outcomes.remove(0));
    }
    // A list of every account: one list, by id (a failed account's outcome is the answer).
    let mut all = Vec::new();
    for o in outcomes {
        match o.output {
            serde_json::Value::Array(items) if o.ok => all.extend(items),
            _ => return Ok(o),
        }
    }
    all.sort_by_key(|b| b.get("id").and_then(serde_json::Value::as_i64));
    Ok(Outcome::ok(serde_json::Value::Array(all)))
}

async fn run_here(
    host: Host,
    mut bots: crate::host::Bots,
    req: &Request,
    defaults: &command::Defaults,
) -> NodeResult<Outcome> {
    let tick = host.current_tick().await?;
    if req.is_read() {
        bots.rt
            .load()
            .await
            .map_err(NodeError::bot("loading the bots"))?;
    } else {
        host.check_venue().await?;
        bots.rt
            .recover()
            .await
            .map_err(NodeError::bot("recovery"))?;
        host.hold_unbacked(&mut bots).await?;
    }
    if let Some(tick) = tick {
        crate::driver::observe(&mut bots, &tick).await?;
    }
    Ok(command::execute(&mut bots.rt, req, defaults, true).await)
}

/// An owner runs: queue the request and wait for its outcome.
async fn via_owner(cfg: &NodeConfig, req: &Request, opts: SubmitOptions) -> NodeResult<Submitted> {
    let store = open_store(cfg.store.as_deref(), &cfg.data_dir).await?;
    let secs = opts.timeout.as_secs_f64();
    let account = cfg.defaults().account_key();
    match enqueue_and_wait(&*store, req, &account, opts).await? {
        Waited::Done(outcome) => Ok(Submitted::Done(outcome)),
        Waited::Queued(id) => Ok(Submitted::Queued(id)),
        Waited::NotTaken(id) => Err(NodeError::Queue(format!(
            "the daemon ({}) did not take command #{id} (for {}) within {secs} s; it was \
             canceled and nothing changed",
            lease::holder(&cfg.data_dir),
            command_account(&*store, req, &account).await?
        ))),
        Waited::StillRunning(id) => Err(NodeError::Queue(format!(
            "the daemon ({}) is still running command #{id} after {secs} s; see `smartfolio \
             bot show` for its effect",
            lease::holder(&cfg.data_dir)
        ))),
    }
}

/// What became of a queued command after the wait.
#[derive(Debug)]
pub enum Waited {
    /// Executed by the owner (a worker, the daemon): its outcome.
    Done(Outcome),
    /// Queued, not waited for (`no_wait`).
    Queued(i64),
    /// No owner took it within the timeout: it was canceled, nothing changed.
    NotTaken(i64),
    /// Taken, and still running at the timeout: its effect shows in the store when it ends.
    StillRunning(i64),
}

/// The venue account `req` is for: the stored account of the bot it names, else (a new bot,
/// the list, a bot that does not exist) the caller's `own`.
pub async fn command_account<S: Store + ?Sized>(
    store: &S,
    req: &Request,
    own: &AccountKey,
) -> NodeResult<AccountKey> {
    if let Some(name) = req.bot()
        && let Some(b) = store.bot_by_name(name).await?
    {
        return Ok(AccountKey::new(b.venue, b.account));
    }
    Ok(own.clone())
}

/// Queue `req` in the store's command queue for the process that executes it, the owner of
/// its venue account ([`command_account`]: the data directory's daemon; on PostgreSQL the
/// worker holding the account's lease), and wait, up to `opts.timeout`, for its outcome: the
/// command's row is looked at every [`LOOK_EVERY`]. Not taken by then, it is canceled
/// (nothing changed). `smartfolio bot` and `smartfolio serve` both queue this way; `own` is
/// their configured account.
pub async fn enqueue_and_wait<S: Store + ?Sized>(
    queue: &S,
    req: &Request,
    own: &AccountKey,
    opts: SubmitOptions,
) -> NodeResult<Waited> {
    let text = serde_json::to_string(req)
        .map_err(|e| NodeError::Queue(format!("encoding the command: {e}")))?;
    let account = command_account(queue, req, own).await?;
    let id = queue
        .enqueue_command(&text, &account, command::wall_ms())
        .await?;
    if opts.no_wait {
        return Ok(Waited::Queued(id));
    }
    let deadline = Instant::now() + opts.timeout;
    loop {
        if let Some(c) = queue.command(id).await? {
            match c.status {
                CommandStatus::Done | CommandStatus::Failed => {
                    let text = c.result.unwrap_or_default();
                    let outcome: Outcome = serde_json::from_str(&text).map_err(|e| {
                        NodeError::Queue(format!("reading the result of command #{id}: {e}"))
                    })?;
                    return Ok(Waited::Done(outcome));
                }
                CommandStatus::Canceled => {
                    return Err(NodeError::Queue(format!("command #{id} was canceled")));
                }
                CommandStatus::Queued | CommandStatus::Running => {}
            }
        }
        if Instant::now() >= deadline {
            return Ok(if queue.cancel_command(id, command::wall_ms()).await? {
                Waited::NotTaken(id)
            } else {
                Waited::StillRunning(id)
            });
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}
