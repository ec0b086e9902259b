//! Submitting a [`Request`] to a data directory, as `smartfolio bot ...` does: run it here when
//! no process owns the directory, or queue it for the owner once the owner is ready and wait
//! for its [`Outcome`].

use crate::command::{self, Outcome, Request};
use crate::error::{NodeError, NodeResult};
use crate::host::{Host, NodeConfig};
use crate::lease::{self, Lease};
use smartfolio_store::{CommandStatus, open_store};
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

/// No owner: run the request here, at the market's current tick.
async fn in_process(cfg: NodeConfig, lease: Lease, req: &Request) -> NodeResult<Outcome> {
    let defaults = cfg.defaults();
    let (host, mut bots) = Host::open(cfg, lease).await?;
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
    Ok(command::execute(&mut bots.rt, req, &defaults, true).await)
}

/// An owner runs: queue the request and wait for its outcome.
async fn via_owner(cfg: &NodeConfig, req: &Request, opts: SubmitOptions) -> NodeResult<Submitted> {
    let store = open_store(cfg.store.as_deref(), &cfg.data_dir).await?;
    let text = serde_json::to_string(req)
        .map_err(|e| NodeError::Queue(format!("encoding the command: {e}")))?;
    let id = store.enqueue_command(&text, command::wall_ms()).await?;
    if opts.no_wait {
        return Ok(Submitted::Queued(id));
    }
    let deadline = Instant::now() + opts.timeout;
    let secs = opts.timeout.as_secs_f64();
    loop {
        if let Some(c) = store.command(id).await? {
            match c.status {
                CommandStatus::Done | CommandStatus::Failed => {
                    let text = c.result.unwrap_or_default();
                    let outcome: Outcome = serde_json::from_str(&text).map_err(|e| {
                        NodeError::Queue(format!("reading the result of command #{id}: {e}"))
                    })?;
                    return Ok(Submitted::Done(outcome));
                }
                CommandStatus::Canceled => {
                    return Err(NodeError::Queue(format!("command #{id} was canceled")));
                }
                CommandStatus::Queued | CommandStatus::Running => {}
            }
        }
        if Instant::now() >= deadline {
            let holder = lease::holder(&cfg.data_dir);
            return Err(NodeError::Queue(
                if store.cancel_command(id, command::wall_ms()).await? {
                    format!(
                        "the daemon ({holder}) did not take command #{id} within {secs} s; it \
                         was canceled and nothing changed"
                    )
                } else {
                    format!(
                        "the daemon ({holder}) is still running command #{id} after {secs} s; \
                         see `smartfolio bot show` for its effect"
                    )
                },
            ));
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}
