//! `smartfolio serve`: the dashboard and the API over the store, beside the processes that
//! trade (PostgreSQL's workers, or a SQLite data directory's `run`), never trading itself.
//!
//! The server's state is the same [`Core`](crate::Core) on the same loop, over the node's
//! reader ([`smartfolio_node::reader`]): the bots as stored, loaded again after every command
//! this server queued has answered and every [`ReaderOptions::refresh`]; no market (a bot is
//! valued at its latest stored snapshot, which its summary's `valued_at_ms` names), no venue (a
//! venue that refuses every call), no lock and no lease. The reads answer as in `run --http`,
//! from the loop's publication and the store's read handle. A command is queued in the store's
//! command queue for the process that trades the bot's account, as `smartfolio bot` queues it
//! ([`smartfolio_node::client::enqueue_and_wait`]), and its outcome is waited for up to
//! [`ReaderOptions::wait`]: its reply's JSON is the answer, as when it runs in `run --http`;
//! not taken by then, it is canceled (503, nothing changed); taken but still running, the
//! answer is 504 naming the command's id.

use crate::actor::RuntimeHandle;
use crate::error::ApiError;
use serde_json::Value;
use smartfolio_node::Request;
use smartfolio_node::client::{SubmitOptions, Waited, enqueue_and_wait};
use smartfolio_node::reader::Reader;
use std::sync::Arc;
use std::time::Duration;

/// How `smartfolio serve` waits and refreshes.
#[derive(Debug, Clone, Copy)]
pub struct ReaderOptions {
    /// How long a command's request waits for its outcome.
    pub wait: Duration,
    /// How often the bots are loaded again from the store (besides after each command).
    pub refresh: Duration,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        Self {
            wait: Duration::from_secs(30),
            refresh: Duration::from_secs(2),
        }
    }
}

/// Where `smartfolio serve`'s commands go: the store's command queue.
pub struct Queue {
    pub reader: Arc<Reader>,
    pub wait: Duration,
}

/// What became of a queued command.
pub enum Queued {
    /// Its reply, as the process that ran it wrote it.
    Done(Value),
    /// Taken, still running after the wait: its id.
    Running(i64),
}

impl Queue {
    /// Queue `req` for the process trading its bot's account and wait for its outcome; then
    /// load the bots again, so that the answer and every read after it show what it did.
    pub async fn submit(&self, handle: &RuntimeHandle, req: &Request) -> Result<Queued, ApiError> {
        let opts = SubmitOptions {
            timeout: self.wait,
            no_wait: false,
        };
        let waited = enqueue_and_wait(&*self.reader.store, req, &self.reader.account, opts)
            .await
            .map_err(|e| ApiError::unavailable(format!("queueing the command: {e}")))?;
        match waited {
            Waited::Done(outcome) => {
                self.reload(handle).await?;
                if outcome.ok {
                    Ok(Queued::Done(outcome.output))
                } else {
                    Err(ApiError::from(&outcome))
                }
            }
            Waited::Queued(id) | Waited::StillRunning(id) => Ok(Queued::Running(id)),
            Waited::NotTaken(id) => Err(ApiError::unavailable(format!(
                "no process trading the account took command #{id} within {} s (is a worker \
                 running? `smartfolio run` against this store): it was canceled and nothing \
                 changed",
                self.wait.as_secs_f64()
            ))),
        }
    }

    /// Load the bots again from the store, on the loop (the readers' state is published
    /// before this returns).
    pub async fn reload(&self, handle: &RuntimeHandle) -> Result<(), ApiError> {
        let reader = self.reader.clone();
        handle
            .call(move |c| {
                Box::pin(async move {
                    reader
                        .reload(&mut c.rt, &c.clock)
                        .await
                        .map_err(|e| ApiError::unavailable(e.to_string()))
                })
            })
            .await?
    }
}
