//! The values that cross the socket. Every type here is part of the protocol: change one and
//! bump [`crate::PROTOCOL`].

use chrono::{DateTime, Utc};
use hubdex_core::{Dataset, SortKey};
use serde::{Deserialize, Serialize};

/// What a daemon says about itself when a client connects, so an old daemon can be replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The daemon's crate version.
    pub version: String,
    /// The daemon's [`crate::PROTOCOL`].
    pub protocol: u32,
    /// The daemon's process id, so a client can stop an outdated daemon.
    pub pid: u32,
}

/// A search, as typed in the TUI or given to `hubdex search`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRequest {
    /// The query in hubdex's query language (free text, `author:NAME`).
    pub query: String,
    /// The order; `None` means relevance with text, downloads without.
    pub sort: Option<SortKey>,
    /// How many hits to return.
    pub limit: usize,
    /// How many hits to skip (for paging).
    pub offset: usize,
}

/// The answer to a [`SearchRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResponse {
    /// How many records match in all.
    pub total: u64,
    /// Time the daemon spent answering, in milliseconds.
    pub took_ms: f64,
    /// The requested page of matches, best first. `cardData` is left out; ask for the
    /// dataset itself to get it.
    pub hits: Vec<Dataset>,
}

/// Progress of a running sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncProgress {
    /// When this sync started.
    pub started_at: DateTime<Utc>,
    /// Catalog pages received so far.
    pub pages: u64,
    /// Records received so far.
    pub records: u64,
}

/// How a finished sync went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// Pages received.
    pub pages: u64,
    /// Records received and stored.
    pub records: u64,
    /// Why it failed; `None` when it succeeded.
    pub error: Option<String>,
}

impl SyncReport {
    /// True when the sync walked the whole catalog.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// The daemon's view of the Hub and the catalog, for status lines and `hubdex status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The daemon's version.
    pub version: String,
    /// Datasets in the local catalog.
    pub records: u64,
    /// The Hub endpoint the daemon syncs from.
    pub endpoint: String,
    /// The sync running now, if any.
    pub syncing: Option<SyncProgress>,
    /// The last finished sync, if any.
    pub last_sync: Option<SyncReport>,
    /// The last successful sync's finish time, if any.
    pub last_success: Option<DateTime<Utc>>,
    /// Why the Hub cannot be reached, while it cannot; search still works from local data.
    pub offline: Option<String>,
    /// When the next sync is due.
    pub next_sync: Option<DateTime<Utc>>,
    /// The HTTP address the daemon listens on, if any.
    pub http: Option<String>,
}

/// Something that happened in the daemon, numbered so clients can ask for what they missed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Sequence number, increasing by one per event.
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of [`Event`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A sync began.
    SyncStarted,
    /// A sync received another page.
    SyncProgress(SyncProgress),
    /// A sync ended, well or not.
    SyncFinished(SyncReport),
    /// The Hub could not be reached; the reason says why.
    Offline {
        /// What failed, in words.
        reason: String,
    },
    /// The Hub answered again after being offline.
    Online,
}

/// A batch of events answered to `events(since)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBatch {
    /// Events with `seq >= since`, oldest first.
    pub events: Vec<Event>,
    /// The `since` to ask with next time.
    pub next: u64,
    /// True when events between `since` and the first one returned were dropped from the
    /// daemon's buffer: the client should refresh its whole view.
    pub missed: bool,
}

/// What kind of failure an [`ApiError`] is; HTTP maps it to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request itself is wrong (bad id, bad sort, bad limit).
    BadRequest,
    /// The thing asked for does not exist.
    NotFound,
    /// The daemon cannot do it right now (busy, Hub offline); trying later may work.
    Unavailable,
    /// The daemon failed; its log says more.
    Internal,
}

/// An error the daemon reports to a client. The message says what went wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The kind, for status codes and exit codes.
    pub kind: ErrorKind,
    /// The message for humans.
    pub message: String,
}

impl ApiError {
    /// A [`ErrorKind::BadRequest`] error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::BadRequest,
            message: message.into(),
        }
    }

    /// A [`ErrorKind::NotFound`] error.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::NotFound,
            message: message.into(),
        }
    }

    /// An [`ErrorKind::Unavailable`] error.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Unavailable,
            message: message.into(),
        }
    }

    /// An [`ErrorKind::Internal`] error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Internal,
            message: message.into(),
        }
    }
}
