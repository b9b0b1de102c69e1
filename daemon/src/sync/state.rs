//! What the syncer remembers: across restarts in the catalog's meta values (how complete the
//! catalog is, the watermark, the walk in progress and its cursor), and in memory for the
//! walk running now (the ids it has seen, for de-duplication and mark-and-sweep).

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use hubdex_ipc::{CatalogSync, SyncKind, SyncProgress};
use hubdex_store::{Catalog, StoreError};
use serde::{Deserialize, Serialize};

/// Meta key of [`SyncMeta`].
const META_STATE: &str = "sync.state";
/// Meta key of the [`WalkState`] in progress (empty when none is).
const META_WALK: &str = "sync.walk";

/// How complete the catalog is, kept across restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SyncMeta {
    /// The Hub these values are about; another endpoint starts over with a full walk.
    pub endpoint: String,
    /// A walk of the whole catalog has completed.
    pub complete: bool,
    /// Records modified after this are what an incremental sync fetches.
    pub watermark: Option<DateTime<Utc>>,
    /// When a walk of the whole catalog last completed.
    pub last_full: Option<DateTime<Utc>>,
    /// When a walk last removed the records the Hub no longer lists.
    pub last_sweep: Option<DateTime<Utc>>,
}

impl SyncMeta {
    /// True when a walk of the whole catalog completed from `endpoint`.
    pub(crate) fn complete_for(&self, endpoint: &str) -> bool {
        self.complete && self.endpoint == endpoint
    }

    /// The endpoint a complete walk came from, when it is not `endpoint` (`HF_ENDPOINT`
    /// changed since): the catalog is then incomplete for `endpoint`.
    pub(crate) fn completed_elsewhere(&self, endpoint: &str) -> Option<&str> {
        Some(self.endpoint.as_str()).filter(|synced| self.complete && *synced != endpoint)
    }
}

/// A walk in progress, saved after every stored page so a restart continues from the next
/// one: nothing stored is fetched again and nothing is skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WalkState {
    /// Identifies the walk (its kind and start), to match it with the in-memory marks.
    pub id: String,
    /// The Hub walked.
    pub endpoint: String,
    pub kind: SyncKind,
    pub started_at: DateTime<Utc>,
    /// The `Link` URL of the next page; `None` once the last page is stored.
    pub next_url: Option<String>,
    pub pages: u64,
    pub records: u64,
    /// The latest `lastModified` among the records stored by this walk.
    pub max_last_modified: Option<DateTime<Utc>>,
    /// Incremental walks stop at the first record modified at or before this.
    pub stop_at: Option<DateTime<Utc>>,
    /// Incremental walks: the `lastModified` of their first record, for the ETA.
    pub newest: Option<DateTime<Utc>>,
    /// Full walks: how many records the walk should see, for the ETA.
    pub expected: Option<u64>,
    pub rate_limit_waits: u64,
    pub rate_limit_wait_seconds: u64,
}

impl WalkState {
    /// A fresh walk of `kind` from `first_url`.
    pub fn new(
        kind: SyncKind,
        endpoint: &str,
        first_url: String,
        started_at: DateTime<Utc>,
    ) -> WalkState {
        let kind_name = match kind {
            SyncKind::Full => "full",
            SyncKind::Incremental => "incremental",
            SyncKind::Sweep => "sweep",
        };
        WalkState {
            id: format!("{kind_name}-{}", started_at.timestamp_millis()),
            endpoint: endpoint.to_string(),
            kind,
            started_at,
            next_url: Some(first_url),
            pages: 0,
            records: 0,
            max_last_modified: None,
            stop_at: None,
            newest: None,
            expected: None,
            rate_limit_waits: 0,
            rate_limit_wait_seconds: 0,
        }
    }

    /// True for walks of the whole catalog (by creation date), which mark what they see.
    pub fn marks(&self) -> bool {
        matches!(self.kind, SyncKind::Full | SyncKind::Sweep)
    }

    /// The walk as progress to show.
    pub fn progress(&self, resumed: bool) -> SyncProgress {
        SyncProgress {
            started_at: self.started_at,
            pages: self.pages,
            records: self.records,
            kind: self.kind,
            resumed,
            expected: self.expected,
            eta_seconds: None,
            rate_limit_waits: self.rate_limit_waits,
            waiting: None,
        }
    }
}

/// Reads the saved state; unreadable values (from another version) count as absent.
pub(crate) fn load(catalog: &Catalog) -> Result<(SyncMeta, Option<WalkState>), StoreError> {
    let meta = catalog
        .meta(META_STATE)?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let walk = catalog
        .meta(META_WALK)?
        .filter(|bytes| !bytes.is_empty())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    Ok((meta, walk))
}

/// Saves the walk in progress, after the page it describes. It is not flushed: sled makes
/// it durable within half a second, in order with the page, so a crash can only make the
/// walk fetch its last pages again (storing a page twice changes nothing).
pub(crate) fn save_walk(catalog: &Catalog, walk: &WalkState) -> Result<(), StoreError> {
    catalog.set_meta(META_WALK, &to_json(walk))
}

/// Saves the catalog's state, forgets the finished walk, and makes both durable.
pub(crate) fn finish_walk(catalog: &Catalog, meta: &SyncMeta) -> Result<(), StoreError> {
    catalog.set_meta(META_STATE, &to_json(meta))?;
    catalog.set_meta(META_WALK, b"")?;
    catalog.flush()
}

fn to_json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// A compact key for a set of ids: a 64-bit hash. A collision can only make a sweep keep a
/// record it could have removed, never remove one it saw.
pub(crate) fn id_hash(id: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish()
}

/// What the running walk has seen, in memory only.
#[derive(Debug)]
pub(crate) struct WalkMemory {
    /// The walk's [`WalkState::id`].
    pub walk: String,
    /// `_id`s (or ids, for records without one) stored by this walk, to de-duplicate.
    pub object_ids: HashSet<u64>,
    /// Ids seen by this walk or refreshed by a webhook during it (mark and sweep).
    pub marks: HashSet<u64>,
    /// True when every page of the walk was marked in this process: only then may its end
    /// remove what it did not see.
    pub complete: bool,
}

/// The syncer's state shared with the rest of the daemon (status, webhooks).
#[derive(Debug, Default)]
pub struct SyncRuntime {
    /// The running walk's memory.
    pub(crate) walk: Mutex<Option<WalkMemory>>,
    /// The next sync should be a sweep whatever the schedule says.
    pub(crate) sweep_requested: AtomicBool,
    /// How complete the catalog is, as `status` shows it.
    pub(crate) catalog: Mutex<CatalogSync>,
    /// Webhook deliveries accepted.
    pub(crate) webhooks: AtomicU64,
    /// Seconds the running walk has waited for the Hub's rate limit.
    pub(crate) rate_limit_wait_seconds: AtomicU64,
}

impl SyncRuntime {
    /// Locks the walk memory; a panic elsewhere never makes it unusable.
    pub(crate) fn walk(&self) -> std::sync::MutexGuard<'_, Option<WalkMemory>> {
        self.walk.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The catalog's sync state for `status`.
    pub(crate) fn catalog_sync(&self) -> CatalogSync {
        let mut state = self
            .catalog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        state.webhooks = self.webhooks.load(Ordering::Relaxed);
        state
    }

    pub(crate) fn set_catalog_sync(&self, state: CatalogSync) {
        *self.catalog.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }

    /// Marks `id` as present for the running walk (a webhook refreshed it), so a sweep
    /// never removes a dataset created or renamed after its walk passed.
    pub(crate) fn mark(&self, id: &str) {
        if let Some(memory) = self.walk().as_mut() {
            memory.marks.insert(id_hash(id));
        }
    }

    /// Forgets a mark (a webhook removed the dataset).
    pub(crate) fn unmark(&self, id: &str) {
        if let Some(memory) = self.walk().as_mut() {
            memory.marks.remove(&id_hash(id));
        }
    }
}
