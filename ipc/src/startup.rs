//! What a daemon that does not answer yet is doing, for the client waiting for it.
//!
//! The daemon binds its socket once its catalog is open, and opening can take minutes:
//! rebuilding the search index (after an upgrade that changed its format, or a damaged
//! index) takes about a minute per million records, and a daemon stopped in the middle of a
//! sync first indexes what it stored. Meanwhile the daemon rewrites a small JSON file beside
//! the socket every half second. A client reads it to say why it waits, and keeps waiting
//! while the step moves on; a file no longer rewritten (its daemon died) is ignored.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How often a starting daemon rewrites its progress file.
pub const STARTUP_REWRITE_EVERY: Duration = Duration::from_millis(500);
/// A progress file older than this was left by a daemon that no longer runs.
const STALE_AFTER: Duration = Duration::from_secs(5);

/// Where a starting daemon is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartupProgress {
    /// What it does now.
    pub step: StartupStep,
    /// When that step began.
    pub since: DateTime<Utc>,
}

/// The slow steps of a daemon's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum StartupStep {
    /// Indexing every stored record afresh: `read` of `of`.
    RebuildingIndex {
        /// Records indexed so far.
        read: u64,
        /// Records in the catalog.
        of: u64,
    },
    /// Indexing the records stored since the index's last commit: `read` of `of`.
    CatchingUpIndex {
        /// Changed records indexed so far.
        read: u64,
        /// Changed records in all.
        of: u64,
    },
    /// Merging the index's segments into one (about 20 s per million records).
    CompactingIndex,
    /// Storing and indexing the catalog snapshot embedded in the binary (a first start).
    ImportingSnapshot,
}

impl StartupProgress {
    /// The progress file of the daemon serving `socket`: beside it, so a client that knows
    /// only the socket finds it too.
    pub fn file_beside(socket: &Path) -> PathBuf {
        socket.with_file_name("starting.json")
    }

    /// Writes the progress to `path` whole (a reader never sees half a file).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let json = serde_json::to_vec(self).map_err(io::Error::other)?;
        let partial = path.with_extension("partial");
        std::fs::write(&partial, json)?;
        std::fs::rename(&partial, path)
    }

    /// The progress in `path` when a running daemon wrote it lately; `None` when there is
    /// none, it is unreadable, or it is stale.
    pub fn read_fresh(path: &Path) -> Option<StartupProgress> {
        let modified = std::fs::metadata(path).ok()?.modified().ok()?;
        let age = SystemTime::now()
            .duration_since(modified)
            .unwrap_or_default();
        if age > STALE_AFTER {
            return None;
        }
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_read_back_while_fresh_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("starting.json");
        assert_eq!(StartupProgress::read_fresh(&path), None);
        let progress = StartupProgress {
            step: StartupStep::RebuildingIndex {
                read: 420_000,
                of: 1_000_000,
            },
            since: Utc::now(),
        };
        progress.write(&path).unwrap();
        assert_eq!(StartupProgress::read_fresh(&path), Some(progress));
        let written = std::fs::File::options().write(true).open(&path).unwrap();
        written
            .set_modified(SystemTime::now() - Duration::from_secs(60))
            .unwrap();
        assert_eq!(StartupProgress::read_fresh(&path), None);
    }

    #[test]
    fn a_damaged_file_is_no_progress() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("starting.json");
        std::fs::write(&path, "{\"step\": \"rebuil").unwrap();
        assert_eq!(StartupProgress::read_fresh(&path), None);
    }
}
