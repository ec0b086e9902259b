//! The command queue: how processes hand commands to the owner of a venue account's bots.
//!
//! Any process [enqueues](CommandQueue::enqueue_command) a command (JSON owned by the caller)
//! for a venue account ([`AccountKey`]: the account of the bot it names, or the account a new
//! bot goes to); only an owner holding that account [claims](CommandQueue::claim_command) it,
//! oldest first, and [finishes](CommandQueue::finish_command) it with its result. A command for
//! an account nobody holds waits in the queue. Claiming is atomic: a command is handed to
//! exactly one claimer, even with several claimers on the same database, and it is `running`
//! (stored) before it is executed. A command a dead owner left `running` is failed by the next
//! owner of its account ([`CommandQueue::interrupt_running_commands`]), never run twice.
//!
//! Commands queued before the queue knew accounts (before SQLite schema 8, PostgreSQL 6) have none:
//! any owner claims them, as every owner did then.

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

/// A venue account: what a command is for, and what an owner holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct AccountKey {
    pub venue: String,
    pub account: String,
}

impl AccountKey {
    pub fn new(venue: impl Into<String>, account: impl Into<String>) -> Self {
        Self {
            venue: venue.into(),
            account: account.into(),
        }
    }

    /// `held` as the two parallel lists the claim statements bind (venues, accounts).
    #[cfg(feature = "postgres")]
    pub(crate) fn columns(held: &[AccountKey]) -> (Vec<String>, Vec<String>) {
        held.iter()
            .map(|k| (k.venue.clone(), k.account.clone()))
            .unzip()
    }
}

impl std::fmt::Display for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} account {}", self.venue, self.account)
    }
}

/// One queued command and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandRecord {
    pub id: i64,
    /// JSON, owned by the caller.
    pub command: String,
    /// The account it is for (none: queued before the queue knew accounts).
    pub account: Option<AccountKey>,
    pub status: CommandStatus,
    /// JSON, owned by the caller.
    pub result: Option<String>,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
}

/// A command's row as both backends select it ([`COLUMNS`]).
pub(crate) type Row = (
    i64,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// The columns of a [`Row`], in order.
pub(crate) const COLUMNS: &str =
    "id, command, status, result, created_ms, finished_ms, venue, account";

pub(crate) fn record(r: Row) -> StoreResult<CommandRecord> {
    Ok(CommandRecord {
        id: r.0,
        command: r.1,
        status: CommandStatus::parse(&r.2)?,
        result: r.3,
        created_ms: r.4,
        finished_ms: r.5,
        account: r.6.zip(r.7).map(|(v, a)| AccountKey::new(v, a)),
    })
}

/// The queue. Each method is one transaction.
#[async_trait]
pub trait CommandQueue: Send + Sync {
    /// Queue a command for `account` (status `queued`); returns its id.
    async fn enqueue_command(
        &self,
        command: &str,
        account: &AccountKey,
        now_ms: i64,
    ) -> StoreResult<i64>;
    /// Claim the oldest queued command for one of the accounts `held` (or for none, see the
    /// module documentation), `queued` → `running`, atomically: no two claims ever get the
    /// same command. Commands for other accounts are left queued. A worker's fenced handle
    /// (PostgreSQL, [`crate::Backend::fenced`]) claims only while its lease holds, in the same
    /// statement: a worker that lost its lease takes nothing, and the command waits for the
    /// account's new holder.
    async fn claim_command(&self, held: &[AccountKey]) -> StoreResult<Option<CommandRecord>>;
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
    /// how many. `held`: only those of these accounts (a worker taking an account over: the
    /// other accounts' commands run on other workers); None: every one (the single owner of a
    /// data directory).
    async fn interrupt_running_commands(
        &self,
        held: Option<&[AccountKey]>,
        result: &str,
        now_ms: i64,
    ) -> StoreResult<u64>;
}
