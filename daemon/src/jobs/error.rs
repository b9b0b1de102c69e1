//! Why a job failed. Each message says what went wrong and what to do; it becomes the job's
//! `error`.

use std::time::Duration;

use hubdex_core::cache::CacheNameError;
use hubdex_hub::HubError;

use super::disk::{DiskError, LockError};
use super::store::JobStoreError;

/// A job's failure.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JobError {
    /// The Hub refused or failed a request; `context` says which.
    #[error("{context}: {source}")]
    Hub {
        /// What was asked, e.g. "file `a.csv` of `acme/tiny` at `main`".
        context: String,
        /// The Hub's error (its message names the fix: HF_TOKEN, the access page, …).
        source: HubError,
    },
    /// Writing or reading the cache failed.
    #[error("{0}; check that the cache folder is writable and the disk has free space")]
    Disk(#[from] DiskError),
    /// A blob lock could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A file's bytes never matched its checksum or size.
    #[error(
        "file `{path}` failed verification {tries} times: {detail}; the Hub or a proxy corrupts it, so try again later, and report it if it persists"
    )]
    Verification {
        /// The file.
        path: String,
        /// How many downloads of it failed the check.
        tries: u32,
        /// The last mismatch.
        detail: String,
    },
    /// A transfer kept failing.
    #[error("file `{path}` could not be fetched after {tries} tries: {last}")]
    GaveUp {
        /// The file.
        path: String,
        /// Tries made.
        tries: u32,
        /// The last failure.
        last: String,
    },
    /// A name from the Hub or the request cannot be a cache path.
    #[error(transparent)]
    Name(#[from] CacheNameError),
    /// The request cannot be carried out as asked (nothing matches, nothing downloaded, …).
    #[error("{0}")]
    Refused(String),
    /// The job ran longer than allowed.
    #[error(
        "the job ran longer than jobs.job_timeout ({}); it resumes from its partial files if you submit it again, and the limit can be raised in config.toml",
        humantime::format_duration(*.0)
    )]
    Timeout(Duration),
    /// A background task failed.
    #[error("a background task failed: {0}; this is a bug in hubdex, please report it")]
    Task(String),
    /// The job database failed.
    #[error(transparent)]
    Store(#[from] JobStoreError),
}

impl JobError {
    /// A Hub error with what was being asked.
    pub(crate) fn hub(context: impl Into<String>, source: HubError) -> JobError {
        JobError::Hub {
            context: context.into(),
            source,
        }
    }
}

/// Whether a Hub error may pass if the request is tried again, and how long the Hub asked to
/// wait first.
pub(crate) fn transient(error: &HubError) -> Option<Option<Duration>> {
    match error {
        HubError::RateLimited { retry_after, .. } => Some(*retry_after),
        HubError::Status {
            status: 408 | 429 | 500..=599,
            ..
        } => Some(None),
        HubError::Unreachable { .. }
        | HubError::Transport { .. }
        | HubError::InvalidBody { .. }
        | HubError::BodySize { .. } => Some(None),
        _ => None,
    }
}
