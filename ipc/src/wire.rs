//! The values that cross the socket. Every type here is part of the protocol: change one and
//! bump [`crate::PROTOCOL`].

use chrono::{DateTime, Utc};
use hubdex_core::{Dataset, Facets, Sort};
use serde::{Deserialize, Serialize};

use crate::JobEvent;

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
    /// The query in hubdex's query language (README, "Query language"). A mistake in it
    /// (`lisense:mit`) is a bad-request error that says where and how to fix it.
    pub query: String,
    /// The order (`downloads`, `likes-asc`, …); `None` means relevance with text, downloads
    /// without. A `sort:` in the query wins.
    pub sort: Option<Sort>,
    /// How many hits to return.
    pub limit: usize,
    /// How many hits to skip (for paging).
    pub offset: usize,
    /// Also count the matches by task, language, licence, modality and size
    /// ([`SearchResponse::facets`]); it costs one more pass over the matches.
    #[serde(default)]
    pub facets: bool,
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
    /// The top values of each facet among all matches, when the request asked for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facets: Option<Facets>,
}

/// What a sync walks, so progress and reports can say what they mean.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncKind {
    /// The first walk of the whole catalog, oldest-created last. When it completes in one
    /// go, records the Hub did not list are removed (the embedded snapshot's included).
    #[default]
    Full,
    /// Only what changed since the last sync: newest-modified first, down to the watermark.
    Incremental,
    /// A periodic walk of the whole catalog that also removes the records the Hub no longer
    /// lists (mark and sweep).
    Sweep,
}

/// Why the syncer is waiting instead of fetching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// The Hub's rate-limit quota is spent (or nearly, for anonymous walks, which leave some
    /// of it for the user's other tools) until its window resets.
    RateLimit,
    /// A request failed and is retried after a pause.
    Retry,
}

/// A wait the syncer is in, so a slow sync explains itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncWait {
    /// Why it waits.
    pub reason: WaitReason,
    /// When the wait ends.
    pub until: DateTime<Utc>,
    /// How long the wait is, in whole seconds, rounded up.
    pub seconds: u64,
    /// The wait in words, e.g. `waiting for the Hub's rate limit, 42 s`.
    pub message: String,
}

/// Progress of a running sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncProgress {
    /// When this sync started (a resumed walk: when the walk first started).
    pub started_at: DateTime<Utc>,
    /// Catalog pages received so far.
    pub pages: u64,
    /// Records received so far.
    pub records: u64,
    /// What the sync walks.
    #[serde(default)]
    pub kind: SyncKind,
    /// True when the sync continues a walk that a restart or a failure interrupted.
    #[serde(default)]
    pub resumed: bool,
    /// How many records the walk should see in all, when that can be estimated: the local
    /// catalog's size for a sweep. A first walk has none (the Hub does not say its size).
    #[serde(default)]
    pub expected: Option<u64>,
    /// Estimated seconds until the walk ends, once there is a rate to go by.
    #[serde(default)]
    pub eta_seconds: Option<u64>,
    /// How many times the walk has waited for the Hub's rate limit.
    #[serde(default)]
    pub rate_limit_waits: u64,
    /// The wait the sync is in now, if any.
    #[serde(default)]
    pub waiting: Option<SyncWait>,
}

/// How a finished sync went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// What the sync walked.
    #[serde(default)]
    pub kind: SyncKind,
    /// True when it continued a walk that a restart or a failure interrupted.
    #[serde(default)]
    pub resumed: bool,
    /// Records removed because the Hub no longer lists them (full walks and sweeps).
    #[serde(default)]
    pub removed: u64,
    /// How many times it waited for the Hub's rate limit.
    #[serde(default)]
    pub rate_limit_waits: u64,
    /// Seconds spent waiting for the Hub's rate limit, rounded up.
    #[serde(default)]
    pub rate_limit_wait_seconds: u64,
}

/// What the syncer knows about how complete the local catalog is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogSync {
    /// True once a walk of the Hub's whole catalog has completed; until then the catalog
    /// may lack datasets (it holds the embedded snapshot and what was synced so far).
    pub complete: bool,
    /// The next incremental sync fetches the records modified after this time.
    pub watermark: Option<DateTime<Utc>>,
    /// When a walk of the whole catalog last completed.
    pub last_full: Option<DateTime<Utc>>,
    /// When a walk last removed the records the Hub no longer lists.
    pub last_sweep: Option<DateTime<Utc>>,
    /// What the next sync will walk.
    pub next_kind: SyncKind,
    /// A walk that stopped part-way (restart, crash, failure) and that the next sync
    /// continues from its last stored page.
    pub interrupted: Option<Box<SyncProgress>>,
    /// Webhook deliveries accepted since the daemon started.
    pub webhooks: u64,
    /// The endpoint the catalog was last walked in full from, when it is not the endpoint
    /// used now (`HF_ENDPOINT` changed): why the catalog counts as incomplete and the next
    /// sync walks the whole catalog again.
    #[serde(default)]
    pub synced_endpoint: Option<String>,
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
    /// How complete the local catalog is and what the next sync does.
    #[serde(default)]
    pub catalog_sync: CatalogSync,
    /// True while the search index merges the segments a walk of the whole catalog left
    /// into one: every record is already searchable, searches are slower until it ends.
    #[serde(default)]
    pub compacting: bool,
}

/// Something that happened in the daemon, numbered so clients can ask for what they missed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Sequence number, increasing by one per event.
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of [`Event`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The search index finished compacting after a walk of the whole catalog (see
    /// [`Status::compacting`]).
    IndexCompacted,
    /// A job was queued, started, progressed or finished.
    Job(JobEvent),
}

/// A batch of events answered to `events(since)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The Hub refuses this client the thing (a gated dataset without granted access, a
    /// disabled one); the message says where to request access and to set HF_TOKEN.
    Forbidden,
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

    /// A [`ErrorKind::Forbidden`] error.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Forbidden,
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
