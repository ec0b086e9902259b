//! The command queue: how processes hand commands to the single owner of a data directory.
//!
//! Any process [enqueues](CommandQueue::enqueue_command) a command (JSON owned by the caller);
//! only the owner [claims](CommandQueue::claim_command) them, oldest first, and
//! [finishes](CommandQueue::finish_command) each with its result. Claiming is atomic: a command
//! is handed to exactly one claimer, even with several claimers on the same database, and it is
//! `running` (stored) before it is executed. A command a dead owner left `running` is failed by
//! the next owner ([`CommandQueue::interrupt_running_commands`]), never run twice.

use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use serde::Serialize;

/// Where a command is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandStatus {
    Queued,
    Running,
    Done,
    Failed,
    Canceled,
}

impl CommandStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandStatus::Queued => "queued",
            CommandStatus::Running => "running",
            CommandStatus::Done => "done",
            CommandStatus::Failed => "failed",
            CommandStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> StoreResult<Self> {
        Ok(match s {
            "queued" => CommandStatus::Queued,
            "running" => CommandStatus::Running,
            "done" => CommandStatus::Done,
            "failed" => CommandStatus::Failed,
            "canceled" => CommandStatus::Canceled,
            other => {
                return Err(StoreError::BadValue(format!(
                    "command status `{other}`; allowed: queued, running, done, failed, canceled"
                )));
            }
        })
    }

    /// Done, failed or canceled: nothing more happens to it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CommandStatus::Done | CommandStatus::Failed | CommandStatus::Canceled
        )
    }
}

/// One queued command and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandRecord {
    pub id: i64,
    /// JSON, owned by the caller.
    pub command: String,
    pub status: CommandStatus,
    /// JSON, owned by the caller.
    pub result: Option<String>,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
}

/// The queue. Each method is one transaction.
#[async_trait]
pub trait CommandQueue: Send + Sync {
    /// Queue a command (status `queued`); returns its id.
    async fn enqueue_command(&self, command: &str, now_ms: i64) -> StoreResult<i64>;
    /// Claim the oldest queued command (`queued` → `running`), atomically: no two claims ever
    /// get the same command.
    async fn claim_command(&self) -> StoreResult<Option<CommandRecord>>;
    /// Write a claimed command's outcome and result. `ok`: done, else failed. A command that is
    /// not `running` is left as it is (`false`).
    async fn finish_command(
        &self,
        id: i64,
        ok: bool,
        result: &str,
        now_ms: i64,
    ) -> StoreResult<bool>;
    /// Cancel a command that is still queued; `false` when it was already claimed.
    async fn cancel_command(&self, id: i64, now_ms: i64) -> StoreResult<bool>;
    async fn command(&self, id: i64) -> StoreResult<Option<CommandRecord>>;
    /// Commands left `running` by an owner that died: marked `failed` with `result`. Returns
    /// how many.
    async fn interrupt_running_commands(&self, result: &str, now_ms: i64) -> StoreResult<u64>;
}
