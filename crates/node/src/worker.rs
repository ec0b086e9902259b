//! A worker (issue 16): `smartfolio run` against a PostgreSQL store. Any number of workers may
//! run on one database; each trades the bots of the venue account it holds the lease of.
//!
//! - **Name**: `--worker` / `SMARTFOLIO_WORKER`, default `host-pid`. A worker registers its name
//!   as a lease of its own (venue [`WORKER_VENUE`], account = the name, holder = this process's
//!   instance id), renewed with its heartbeat: a second live process with the same name is
//!   refused at start, naming the holder, and changes nothing.
//! - **Lease per venue account** (see ARCHITECTURE.md): in standby the worker tries to take the
//!   account's lease at every heartbeat (one conditional upsert: of several workers exactly one
//!   gets it, at the next epoch). Once it holds it, it opens the host on a store handle fenced
//!   by that epoch ([`smartfolio_store::Backend::fenced`]): every write its bots make (and the
//!   paper account's changes) is refused once the lease is gone. It then recovers (in-flight
//!   orders reconciled by client id, half-done rebalances closed; the account's commands its
//!   last holder left running failed) before the first tick, and drives the account's bots,
//!   executing the commands queued for the account (and only those: another account's wait
//!   for its holder), until it stops or loses the lease.
//! - **Heartbeat**: each beat renews the lease ([`Beats`]: every `ttl / 3`, or by hand in
//!   tests). A renewal that finds the lease lost, or a store that cannot renew it before its
//!   expiry, drops the bots at once (the drive is abandoned where it is, as a kill would leave
//!   it: orders are stored before they are sent, so the next holder's recovery settles them).
//!   A write refused as fenced, or any store failure of a tick, drops them too. The worker
//!   then says why, gives the lease back when it can, and goes back to standby: when the
//!   database returns it takes a lease again at a new epoch, recovers and trades.
//!
//! The lease clock ([`WorkerOptions::clock`], the wall clock in production) is what expiries
//! and fenced writes are judged by; tests inject one.

use crate::command;
use crate::driver::{self, DriveOptions};
use crate::error::{NodeError, NodeResult};
use crate::host::{Host, NodeConfig};
use serde::Serialize;
use smartfolio_exchange::feed::WallClock;
use smartfolio_store::{Backend, Fence, Lease, LeaseClock, Renewal, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// A lease's default time to live: a dead worker's bots run again within it plus a beat.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15);
/// The venue of a worker's name registration in the leases table.
pub const WORKER_VENUE: &str = "worker";

/// The default worker name: this host's name and the process id.
pub fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into());
    format!("{host}-{}", std::process::id())
}

/// When the worker's heartbeat beats.
#[derive(Clone)]
pub enum Beats {
    /// Every this long (production: `ttl / 3`).
    Every(Duration),
    /// Each time the test notifies (one stored permit at most): heartbeats that stop when the
    /// test stops calling.
    Manual(Arc<Notify>),
}

impl Beats {
    async fn next(&self) {
        self.next_or_at(None).await;
    }

    /// The next beat, or sooner when `in_ms` (ms from now) comes first: a standby wakes when
    /// the holder's lease expires, not a beat later. Manual beats wait for the test.
    async fn next_or_at(&self, in_ms: Option<i64>) {
        match self {
            Beats::Every(d) => {
                let soon = in_ms.map_or(*d, |ms| {
                    (*d).min(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
                });
                tokio::time::sleep(soon).await;
            }
            Beats::Manual(n) => n.notified().await,
        }
    }
}

/// How a worker runs.
#[derive(Clone)]
pub struct WorkerOptions {
    pub name: String,
    /// How long a lease lasts after each renewal.
    pub ttl: Duration,
    pub beats: Beats,
    /// The lease clock (ms).
    pub clock: LeaseClock,
    /// The host's wall clock (a live market's ticks).
    pub wall: WallClock,
    /// When the drive stops by itself (each time the worker trades).
    pub drive: DriveOptions,
}

/// What a worker is doing, as it tells its watchers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WorkerState {
    Starting,
    /// Waiting for the account's lease.
    Standby,
    /// Holding the lease at `epoch`, recovered, trading `bots` bots.
    Trading {
        epoch: i64,
        bots: usize,
    },
    /// Stopped trading at `epoch`, and why (lease lost, write fenced, store failed).
    Dropped {
        epoch: i64,
        why: String,
    },
    Stopped,
}

/// What a worker did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct WorkerSummary {
    pub name: String,
    pub ticks: u64,
    /// Times it took the account's lease.
    pub takeovers: u64,
    /// Times it dropped the bots (lease lost, fenced, store failure).
    pub dropped: u64,
    pub recovered_orders: usize,
    pub commands: u64,
    pub ended: String,
}

/// Why a trading period ended.
enum Ended {
    /// Stopped (interrupted) or the drive's own limits: the worker ends.
    Done(String),
    /// Lost, fenced or failed: back to standby.
    Dropped(String),
}

/// A worker over `store` (an open PostgreSQL store), trading `cfg.account`'s bots whenever it
/// holds the account's lease, until `stop` completes or a drive ends by its own limits.
/// `state` is told every change.
pub async fn run(
    cfg: NodeConfig,
    store: Arc<dyn Backend>,
    opts: WorkerOptions,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
    state: watch::Sender<WorkerState>,
) -> NodeResult<WorkerSummary> {
    let ttl_ms = i64::try_from(opts.ttl.as_millis()).unwrap_or(i64::MAX);
    let venue = cfg.venue.kind.name().to_string();
    let account = cfg.account.clone();
    if store
        .fenced(
            Fence {
                venue: venue.clone(),
                account: account.clone(),
                epoch: 0,
            },
            opts.clock.clone(),
        )
        .is_none()
    {
        return Err(NodeError::Input(format!(
            "invalid store for a worker: {}; allowed: a postgres:// store (workers share one \
             PostgreSQL database; SQLite is one process's)",
            store.location()
        )));
    }
    // Unique per worker, not just per process: tests run several workers in one process on
    // one clock, and a registration held by this instance is taken as this worker's own.
    static STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let instance = format!(
        "{}#{}-{}-{}",
        opts.name,
        std::process::id(),
        (opts.clock)().rem_euclid(1_000_000_007),
        STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut reg = Some(register(&*store, &opts, &instance, ttl_ms).await?);
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopper = tokio::spawn(async move {
        stop.await;
        let _ = stop_tx.send(true);
    });
    let mut summary = WorkerSummary {
        name: opts.name.clone(),
        ..Default::default()
    };
    let stopped = |rx: &watch::Receiver<bool>| *rx.borrow();
    tracing::info!(worker = %opts.name, %venue, %account, ttl_ms, "worker started");
    let end = loop {
        let _ = state.send(WorkerState::Standby);
        // Standby: the account's lease at each beat, or as soon as the holder's expires (a
        // dead holder's bots wait the TTL, not the TTL and a beat); the name's registration
        // kept alive.
        let lease = loop {
            if stopped(&stop_rx) {
                break None;
            }
            let now = (opts.clock)();
            reg = keep_registered(&*store, &opts, &instance, reg, ttl_ms).await?;
            let expires_in = match store
                .acquire_lease(&venue, &account, &opts.name, now, ttl_ms)
                .await
            {
                Ok(Some(l)) => break Some(l),
                Ok(None) => held_until(&*store, &venue, &account)
                    .await
                    .map(|until| (until - (opts.clock)() + 1).max(1)),
                Err(e) => {
                    tracing::warn!(
                        worker = %opts.name,
                        error = %e,
                        "cannot reach the store to take the lease: not trading"
                    );
                    None
                }
            };
            let mut rx = stop_rx.clone();
            tokio::select! {
                _ = rx.wait_for(|v| *v) => {}
                _ = opts.beats.next_or_at(expires_in) => {}
            }
        };
        let Some(lease) = lease else {
            break "interrupted".to_string();
        };
        summary.takeovers += 1;
        tracing::info!(worker = %opts.name, %venue, %account, epoch = lease.epoch, "lease taken");
        let ended = trade(
            &cfg,
            &store,
            &opts,
            (&lease, &instance, &mut reg),
            &stop_rx,
            &state,
            &mut summary,
        )
        .await;
        let fence = lease.fence();
        match ended {
            Ended::Done(why) => {
                let _ = store.release_lease(&fence, &opts.name).await;
                break why;
            }
            Ended::Dropped(why) => {
                summary.dropped += 1;
                tracing::warn!(
                    worker = %opts.name,
                    %venue,
                    %account,
                    epoch = lease.epoch,
                    %why,
                    "stopped trading: the bots are dropped until the lease is held again"
                );
                let _ = state.send(WorkerState::Dropped {
                    epoch: lease.epoch,
                    why,
                });
                // Give it back when it is still ours (a store failure): the next holder,
                // this worker or another, recovers at a new epoch.
                let _ = store.release_lease(&fence, &opts.name).await;
                let mut rx = stop_rx.clone();
                tokio::select! {
                    _ = rx.wait_for(|v| *v) => {}
                    _ = opts.beats.next() => {}
                }
            }
        }
    };
    stopper.abort();
    if let Some(r) = &reg {
        let _ = store.release_lease(&r.fence(), &instance).await;
    }
    summary.ended = end;
    let _ = state.send(WorkerState::Stopped);
    tracing::info!(worker = %opts.name, ended = %summary.ended, "worker stopped");
    Ok(summary)
}

/// When the account's lease held by another worker expires (lease clock ms); None when nobody
/// holds it or the store does not answer (the next beat tries again).
async fn held_until(store: &dyn Backend, venue: &str, account: &str) -> Option<i64> {
    let rows = store.leases().await.ok()?;
    rows.into_iter()
        .find(|r| r.venue == venue && r.account == account && r.holder.is_some())
        .map(|r| r.expires_ms)
}

/// Take the name: refused, changing nothing, while another live process holds it. Held by
/// this very process (`instance`) at an epoch it does not know, it is this process's: a
/// renewal that re-took a lapsed registration can commit and still be lost to the caller (the
/// heartbeat is dropped mid-renewal when the drive ends first), and refusing it then made the
/// worker refuse its own name and exit.
async fn register(
    store: &dyn Backend,
    opts: &WorkerOptions,
    instance: &str,
    ttl_ms: i64,
) -> NodeResult<Lease> {
    let now = (opts.clock)();
    match store
        .acquire_lease(WORKER_VENUE, &opts.name, instance, now, ttl_ms)
        .await?
    {
        Some(l) => Ok(l),
        None => {
            let held = store
                .leases()
                .await?
                .into_iter()
                .find(|r| r.venue == WORKER_VENUE && r.account == opts.name);
            if let Some(r) = held
                .as_ref()
                .filter(|r| r.holder.as_deref() == Some(instance))
            {
                return Ok(Lease {
                    venue: r.venue.clone(),
                    account: r.account.clone(),
                    holder: instance.to_string(),
                    epoch: r.epoch,
                    expires_ms: r.expires_ms,
                });
            }
            let (holder, until) = held.map_or(("?".to_string(), 0), |r| {
                (r.holder.unwrap_or_default(), r.expires_ms)
            });
            Err(NodeError::Input(format!(
                "invalid worker name: `{}` is in use by a live worker ({holder}, registered \
                 until {}); allowed: a name no running worker has (--worker, \
                 SMARTFOLIO_WORKER), or this one once that worker has stopped (a killed \
                 worker's name is free {} s after its last heartbeat); nothing was changed",
                opts.name,
                smartfolio_data::format_time_ms(until),
                opts.ttl.as_secs()
            )))
        }
    }
}

/// Renew the name's registration; a lapsed one (the store was away) is taken again, unless
/// another process took the name meanwhile.
async fn keep_registered(
    store: &dyn Backend,
    opts: &WorkerOptions,
    instance: &str,
    reg: Option<Lease>,
    ttl_ms: i64,
) -> NodeResult<Option<Lease>> {
    let now = (opts.clock)();
    let renewed = match &reg {
        Some(r) => store.renew_lease(&r.fence(), instance, now, ttl_ms).await,
        None => Ok(Renewal::Lost { current: None }),
    };
    match renewed {
        Ok(Renewal::Held(l)) => Ok(Some(l)),
        Ok(Renewal::Lost { .. }) => match register(store, opts, instance, ttl_ms).await {
            Ok(l) => Ok(Some(l)),
            // The name is another live process's now.
            Err(e @ NodeError::Input(_)) => Err(e),
            // The store is away: registered again once it answers.
            Err(_) => Ok(None),
        },
        // The store is away: keep what we had; the standby loop says so.
        Err(_) => Ok(reg),
    }
}

/// One trading period: open the host on the fenced handle, recover, drive until stopped, the
/// drive's limits, or the lease or the store is lost.
async fn trade(
    cfg: &NodeConfig,
    store: &Arc<dyn Backend>,
    opts: &WorkerOptions,
    (lease, instance, reg): (&Lease, &str, &mut Option<Lease>),
    stop_rx: &watch::Receiver<bool>,
    state: &watch::Sender<WorkerState>,
    summary: &mut WorkerSummary,
) -> Ended {
    let fence = lease.fence();
    let Some(fenced) = store.fenced(fence.clone(), opts.clock.clone()) else {
        return Ended::Done("the store has no workers".into());
    };
    let opened = async {
        // Commands the account's last holder left running die with it: failed, never run
        // again (the other accounts' run on their own holders).
        let held = [cfg.defaults().account_key()];
        let failed = command::fail_interrupted(&**store, Some(&held), command::wall_ms()).await?;
        if failed > 0 {
            tracing::warn!(
                worker = %opts.name,
                commands = failed,
                "commands the account's last holder left running were failed"
            );
        }
        let (host, mut bots) = Host::open_on(cfg.clone(), None, opts.wall.clone(), fenced).await?;
        let started = host.start(&mut bots).await?;
        NodeResult::Ok((host, bots, started))
    };
    // The heartbeat runs from the takeover on: opening and recovering a thousand bots can
    // outlast a short TTL, and a lease left to lapse meanwhile is taken by a standby, whose
    // own start then outlasts it in turn.
    let heartbeat = heartbeat(&**store, opts, fence, lease.expires_ms, (instance, reg));
    tokio::pin!(heartbeat);
    let (host, mut bots, started) = tokio::select! {
        r = opened => match r {
            Ok(x) => x,
            Err(e) => return Ended::Dropped(describe(&e)),
        },
        why = &mut heartbeat => return Ended::Dropped(why),
    };
    summary.recovered_orders += started.recovered_orders;
    let _ = state.send(WorkerState::Trading {
        epoch: lease.epoch,
        bots: bots.rt.list().len(),
    });
    tracing::info!(
        worker = %opts.name,
        epoch = lease.epoch,
        bots = bots.rt.list().len(),
        recovered_orders = started.recovered_orders,
        "trading"
    );
    let mut rx = stop_rx.clone();
    let drive = driver::drive(
        &mut bots,
        Some(&host),
        Some(started.market),
        None,
        async move {
            let _ = rx.wait_for(|v| *v).await;
        },
        opts.drive,
    );
    tokio::select! {
        r = drive => match r {
            Ok(s) => {
                summary.ticks += s.ticks;
                summary.commands += s.commands;
                if s.ended == "interrupted" || opts.drive.max_ticks.is_some() || opts.drive.until_ms.is_some() {
                    Ended::Done(s.ended)
                } else {
                    Ended::Dropped(format!("the drive ended ({})", s.ended))
                }
            }
            Err(e) => Ended::Dropped(describe(&e)),
        },
        why = &mut heartbeat => Ended::Dropped(why),
    }
}

/// Renew at each beat; returns why the lease is lost.
async fn heartbeat(
    store: &dyn Backend,
    opts: &WorkerOptions,
    fence: Fence,
    mut expires_ms: i64,
    (instance, reg): (&str, &mut Option<Lease>),
) -> String {
    let ttl_ms = i64::try_from(opts.ttl.as_millis()).unwrap_or(i64::MAX);
    loop {
        opts.beats.next().await;
        let now = (opts.clock)();
        // Cloned, not taken: this future may be dropped mid-renewal (the drive ended first).
        match keep_registered(store, opts, instance, reg.clone(), ttl_ms).await {
            Ok(r) => *reg = r,
            Err(e) => return format!("the worker's name was taken: {e}"),
        }
        match store.renew_lease(&fence, &opts.name, now, ttl_ms).await {
            Ok(Renewal::Held(l)) => expires_ms = l.expires_ms,
            Ok(Renewal::Lost { current }) => {
                return match current {
                    Some(c) => format!(
                        "the lease was lost: the account's lease is at epoch {} held by {}",
                        c.epoch,
                        c.holder.as_deref().unwrap_or("nobody")
                    ),
                    None => "the lease was lost: the account has no lease row".into(),
                };
            }
            Err(e) if now >= expires_ms => {
                return format!(
                    "the lease expired at {expires_ms} ms without a renewal: the store is \
                     unreachable ({e})"
                );
            }
            Err(e) => tracing::warn!(
                worker = %opts.name,
                error = %e,
                expires_ms,
                "cannot renew the lease: trading on until it expires"
            ),
        }
    }
}

/// A trading period's failure, for the log and the state: a fenced write says so.
fn describe(e: &NodeError) -> String {
    let text = e.to_string();
    if text.contains("fenced:") {
        format!("a write was fenced out (another worker holds the account): {text}")
    } else {
        format!("the store or venue failed: {text}")
    }
}

/// Whether `e` is a fenced write's refusal.
pub fn is_fenced(e: &StoreError) -> bool {
    matches!(e, StoreError::Fenced { .. })
}
