//! The node's errors, classified: bad input (the caller's to fix) or a runtime failure.

use smartfolio_bot::BotError;
use smartfolio_store::StoreError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Bad input: market settings that do not build a feed, a missing replay path. The message
    /// names the field, the value and what is allowed.
    #[error("{0}")]
    Input(String),
    /// Bad input that names its field, value and what is allowed (an unknown bot in a report).
    #[error(transparent)]
    Invalid(#[from] smartfolio_core::ValidationError),
    /// Another process owns the data directory.
    #[error(
        "the data directory {} is owned by {holder} (a running `smartfolio run` or demo); only \
         one process may trade it",
        dir.display()
    )]
    Owned { dir: PathBuf, holder: String },
    /// A queued command was not executed as asked (the owner is not ready, did not take it in
    /// time, canceled it).
    #[error("{0}")]
    Queue(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{context}: {source}")]
    Bot {
        context: &'static str,
        source: BotError,
    },
    #[error("{context}: {message}")]
    Exchange {
        context: &'static str,
        message: String,
    },
    /// The venue refused a read for its rate limit: asked again after `retry_after_ms`.
    #[error("{context}: {message}")]
    RateLimited {
        context: &'static str,
        message: String,
        retry_after_ms: u64,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl NodeError {
    /// Whether the error is the user's input (exit code 2 on the command line): bad settings,
    /// a database from a newer smartfolio / a file that is not a database, a data directory
    /// that cannot be one, or a `store` that is not a usable PostgreSQL URL.
    pub fn is_input(&self) -> bool {
        match self {
            NodeError::Input(_) | NodeError::Invalid(_) => true,
            NodeError::Store(e)
            | NodeError::Bot {
                source: BotError::Store(e),
                ..
            } => matches!(
                e,
                StoreError::NewerVersion { .. }
                    | StoreError::Corrupt { .. }
                    | StoreError::DataDir { .. }
                    | StoreError::Location { .. }
            ),
            _ => false,
        }
    }

    pub(crate) fn bot(context: &'static str) -> impl FnOnce(BotError) -> NodeError {
        move |source| NodeError::Bot { context, source }
    }

    pub(crate) fn exchange<E: std::fmt::Display>(
        context: &'static str,
    ) -> impl FnOnce(E) -> NodeError {
        move |e| NodeError::Exchange {
            context,
            message: e.to_string(),
        }
    }
}

pub type NodeResult<T> = Result<T, NodeError>;
