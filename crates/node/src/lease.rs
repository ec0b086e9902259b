//! The data directory's lease: one owner per data directory.
//!
//! The paper exchange keeps its account in memory (persisted change by change), so two processes
//! trading the same account would diverge. Whoever trades or changes bots holds an exclusive OS
//! lock on `data_dir/daemon.lock`, released when the process dies, even by SIGKILL. The file
//! says who holds it and when the holder is ready:
//! - line 1: the holder's pid, written when the lock is taken;
//! - a later line `ready`: the holder has opened the store and recovered, and executes queued
//!   commands from now on ([`Lease::mark_ready`]). Other processes queue commands only once they
//!   see it ([`holder_ready`]); before that they wait.

use crate::error::{NodeError, NodeResult};
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock file inside the data directory.
pub const LOCK_FILE: &str = "daemon.lock";

/// The exclusive lock of a data directory, held for this value's life.
#[derive(Debug)]
pub struct Lease {
    file: File,
    dir: PathBuf,
}

impl Lease {
    /// Take the lock of `data_dir` (creating the directory), or `None` when another process
    /// holds it.
    pub fn try_take(data_dir: &Path) -> NodeResult<Option<Lease>> {
        smartfolio_store::create_data_dir(data_dir)?;
        let path = data_dir.join(LOCK_FILE);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| NodeError::Io {
                context: format!("cannot open the lock file {}", path.display()),
                source,
            })?;
        match f.try_lock() {
            Ok(()) => {
                f.set_len(0).ok();
                let _ = writeln!(f, "{}", std::process::id());
                let _ = f.flush();
                Ok(Some(Lease {
                    file: f,
                    dir: data_dir.to_path_buf(),
                }))
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(source)) => Err(NodeError::Io {
                context: format!("cannot lock {}", path.display()),
                source,
            }),
        }
    }

    /// Take the lock, waiting up to `wait` for a holder that is not a long-running owner (a
    /// `smartfolio bot` command runs in-process for a moment). After `wait`: [`NodeError::Owned`].
    pub async fn take(data_dir: &Path, wait: Duration) -> NodeResult<Lease> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(l) = Lease::try_take(data_dir)? {
                return Ok(l);
            }
            if Instant::now() >= deadline {
                return Err(NodeError::Owned {
                    dir: data_dir.to_path_buf(),
                    holder: holder(data_dir),
                });
            }
            // The OS lock has no waiting queue that a try-lock can join: look again shortly.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Tell processes waiting on the lock file that the store is open and recovered: they may
    /// queue commands now.
    pub fn mark_ready(&mut self) {
        let _ = writeln!(self.file, "ready");
        let _ = self.file.flush();
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Whether the lock's holder is ready (see [`Lease::mark_ready`]).
pub fn holder_ready(data_dir: &Path) -> bool {
    std::fs::read_to_string(data_dir.join(LOCK_FILE))
        .is_ok_and(|s| s.lines().skip(1).any(|l| l.trim() == "ready"))
}

/// Who holds the lock, for messages: `process PID`, or `another process`.
pub fn holder(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join(LOCK_FILE))
        .ok()
        .and_then(|s| s.lines().next().map(|l| l.trim().to_string()))
        .filter(|s| !s.is_empty())
        .map_or_else(|| "another process".into(), |p| format!("process {p}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_and_its_readiness() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Lease::try_take(dir.path()).unwrap().expect("free");
        assert!(Lease::try_take(dir.path()).unwrap().is_none(), "held");
        assert_eq!(
            holder(dir.path()),
            format!("process {}", std::process::id())
        );
        assert!(!holder_ready(dir.path()), "not ready before mark_ready");
        a.mark_ready();
        assert!(holder_ready(dir.path()));
        drop(a);
        let b = Lease::try_take(dir.path()).unwrap().expect("released");
        assert!(!holder_ready(dir.path()), "a new holder starts not ready");
        drop(b);
    }
}
