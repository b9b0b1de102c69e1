//! Followed datasets and what changed in them, and the list of what is downloaded.
//!
//! Follows live in their own sled database (`<data dir>/follows`), flushed after every
//! change so a crash loses none. Each keeps the catalog record as it was when the user last
//! looked (following counts as looking); `follows` compares it with the record the catalog
//! holds now.
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `follows` | dataset id, lower-cased | a [`FollowRecord`] as JSON |

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hubdex_core::cache::dataset_of_folder;
use hubdex_core::{Dataset, DatasetId, Gated};
use hubdex_ipc::{ApiError, Change, ChangeKind, Downloaded, EventKind, Follow};
use hubdex_store::Marks;
use serde::{Deserialize, Serialize};

use crate::events::EventLog;
use crate::preview::{LocalStoreError, open_db, parse_id};
use crate::service::Daemon;

/// The longest the job watcher waits for events before checking its daemon still exists.
const WATCH_WAIT: Duration = Duration::from_secs(30);

/// The follow database.
pub struct FollowStore {
    db: sled::Db,
    follows: sled::Tree,
    /// The followed ids as the catalog spells them, kept in memory for searches.
    ids: Mutex<HashSet<String>>,
}

/// One follow as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FollowRecord {
    /// The dataset's id as the catalog spells it.
    dataset: String,
    followed_at: DateTime<Utc>,
    seen_at: DateTime<Utc>,
    /// The record when last seen (without card data); `None` when it was not listed then.
    seen: Option<Dataset>,
}

impl FollowStore {
    /// Opens (or creates) the database in `dir`. Blocking: call it off the async threads.
    pub fn open(dir: &Path) -> Result<FollowStore, LocalStoreError> {
        let db = open_db(dir)?;
        let follows = db
            .open_tree("follows")
            .map_err(|source| LocalStoreError::Open {
                path: dir.to_path_buf(),
                source,
            })?;
        let store = FollowStore {
            db,
            follows,
            ids: Mutex::new(HashSet::new()),
        };
        let ids = store.all().into_iter().map(|r| r.dataset).collect();
        *store.ids_lock() = ids;
        Ok(store)
    }

    fn ids_lock(&self) -> MutexGuard<'_, HashSet<String>> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn key(id: &str) -> Vec<u8> {
        id.to_lowercase().into_bytes()
    }

    fn get(&self, id: &str) -> Result<Option<FollowRecord>, LocalStoreError> {
        Ok(match self.follows.get(Self::key(id))? {
            Some(bytes) => Some(serde_json::from_slice(&bytes)?),
            None => None,
        })
    }

    fn put(&self, record: &FollowRecord) -> Result<(), LocalStoreError> {
        self.follows
            .insert(Self::key(&record.dataset), serde_json::to_vec(record)?)?;
        self.db.flush()?;
        self.ids_lock().insert(record.dataset.clone());
        Ok(())
    }

    fn remove(&self, id: &str) -> Result<bool, LocalStoreError> {
        let removed = self.follows.remove(Self::key(id))?;
        self.db.flush()?;
        if let Some(bytes) = &removed
            && let Ok(record) = serde_json::from_slice::<FollowRecord>(bytes)
        {
            self.ids_lock().remove(&record.dataset);
        }
        Ok(removed.is_some())
    }

    /// Every follow; unreadable entries are skipped with a warning.
    fn all(&self) -> Vec<FollowRecord> {
        self.follows
            .iter()
            .filter_map(|entry| {
                let (_, bytes) = entry.ok()?;
                serde_json::from_slice(&bytes)
                    .inspect_err(|e| tracing::warn!("skipped an unreadable follow: {e}"))
                    .ok()
            })
            .collect()
    }

    /// The ids of the followed datasets, as the catalog spells them.
    pub(crate) fn ids(&self) -> HashSet<String> {
        self.ids_lock().clone()
    }
}

/// The ids of the datasets with a folder in the Hugging Face cache, for `downloaded:`:
/// scanned when first needed and again after each job ends.
#[derive(Default)]
pub struct DownloadedIds {
    scanned: Mutex<Option<HashSet<String>>>,
    watching: AtomicBool,
}

impl DownloadedIds {
    fn lock(&self) -> MutexGuard<'_, Option<HashSet<String>>> {
        self.scanned.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Forgets the scanned ids whenever a job ends (or events were missed), until the daemon
/// that owns them is gone.
async fn watch_jobs(ids: Weak<DownloadedIds>, events: Arc<EventLog>, mut since: u64) {
    loop {
        let batch = events.since(since, WATCH_WAIT).await;
        since = batch.next;
        let Some(ids) = ids.upgrade() else {
            return;
        };
        let job_ended = batch
            .events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Job(job) if job.state.is_finished()));
        if job_ended || batch.missed {
            *ids.lock() = None;
        }
    }
}

/// A record as kept for comparison: without its card data, which is large.
fn slim(mut dataset: Dataset) -> Dataset {
    dataset.card_data = None;
    dataset
}

impl FollowRecord {
    /// The follow with what changed between the record seen and `current`.
    fn view(&self, current: Option<Dataset>) -> Follow {
        let current = current.map(slim);
        Follow {
            dataset: self.dataset.clone(),
            followed_at: self.followed_at,
            seen_at: self.seen_at,
            changes: changes(self.seen.as_ref(), current.as_ref()),
            current,
        }
    }
}

impl Daemon {
    /// Follows a dataset of the catalog, marking it seen now; following it again changes
    /// nothing.
    pub async fn follow(&self, id: &str) -> Result<Follow, ApiError> {
        let id = parse_id(id)?;
        let Some(record) = self.record(&id).await? else {
            return Err(ApiError::not_found(format!(
                "no dataset `{id}` in the local catalog, so it cannot be followed; check the id, or run `hubdex sync` if it is new on the Hub"
            )));
        };
        let follows = self.follows.clone();
        blocking(move || {
            if let Some(existing) = follows.get(record.id.as_str())? {
                return Ok(existing.view(Some(record)));
            }
            let now = Utc::now();
            let follow = FollowRecord {
                dataset: record.id.to_string(),
                followed_at: now,
                seen_at: now,
                seen: Some(slim(record.clone())),
            };
            follows.put(&follow)?;
            Ok(follow.view(Some(record)))
        })
        .await
    }

    /// Stops following a dataset; `false` when it was not followed.
    pub async fn unfollow(&self, id: &str) -> Result<bool, ApiError> {
        let id = parse_id(id)?;
        let follows = self.follows.clone();
        blocking(move || Ok(follows.remove(id.as_str())?)).await
    }

    /// Every follow with what changed since last seen: changed ones first, then by id.
    pub async fn follows(&self) -> Result<Vec<Follow>, ApiError> {
        let follows = self.follows.clone();
        let catalog = self.catalog.clone();
        let mut list = blocking(move || {
            follows
                .all()
                .into_iter()
                .map(|record| {
                    let id = DatasetId::new(record.dataset.as_str())
                        .map_err(|e| ApiError::internal(format!("a stored follow: {e}")))?;
                    let current = catalog
                        .get(&id)
                        .map_err(|e| ApiError::internal(format!("lookup failed: {e}")))?;
                    Ok(record.view(current))
                })
                .collect::<Result<Vec<Follow>, ApiError>>()
        })
        .await?;
        list.sort_by(|a, b| {
            a.changes
                .is_empty()
                .cmp(&b.changes.is_empty())
                .then_with(|| a.dataset.cmp(&b.dataset))
        });
        Ok(list)
    }

    /// Marks a followed dataset seen now: the record now becomes the one compared with.
    pub async fn mark_seen(&self, id: &str) -> Result<Follow, ApiError> {
        let id = parse_id(id)?;
        let current = self.record(&id).await?;
        let follows = self.follows.clone();
        blocking(move || {
            let Some(mut follow) = follows.get(id.as_str())? else {
                return Err(ApiError::not_found(format!(
                    "`{id}` is not followed; follow it first with `hubdex follow {id}`"
                )));
            };
            follow.seen_at = Utc::now();
            follow.seen = current.clone().map(slim);
            follows.put(&follow)?;
            Ok(follow.view(current))
        })
        .await
    }

    /// What `followed:` and `downloaded:` filter by: the followed ids and the datasets with a
    /// folder in the Hugging Face cache.
    pub(crate) async fn marks(&self) -> Marks {
        let followed = self.follows.ids();
        if !self.downloaded_ids.watching.swap(true, Ordering::SeqCst) {
            let since = self.events.since(0, Duration::ZERO).await.next;
            tokio::spawn(watch_jobs(
                Arc::downgrade(&self.downloaded_ids),
                self.events.clone(),
                since,
            ));
        }
        if let Some(ids) = self.downloaded_ids.lock().clone() {
            return Marks {
                followed,
                downloaded: ids,
            };
        }
        let root = self.jobs.cache_root().map(Path::to_path_buf);
        let scan = tokio::task::spawn_blocking(move || {
            root.map(|root| {
                cached_datasets(&root)
                    .into_iter()
                    .map(|id| id.to_string())
                    .collect::<HashSet<String>>()
            })
            .unwrap_or_default()
        })
        .await;
        let downloaded = match scan {
            Ok(ids) => {
                *self.downloaded_ids.lock() = Some(ids.clone());
                ids
            }
            Err(e) => {
                tracing::warn!("cannot scan the Hugging Face cache for `downloaded:`: {e}");
                HashSet::new()
            }
        };
        Marks {
            followed,
            downloaded,
        }
    }

    /// Every dataset with something in the Hugging Face cache, by id.
    pub async fn downloads(&self) -> Result<Vec<Downloaded>, ApiError> {
        let Some(root) = self.jobs.cache_root().map(Path::to_path_buf) else {
            return Err(ApiError::unavailable(
                "cannot find the Hugging Face cache folder; set HF_HUB_CACHE (or HF_HOME) for the daemon",
            ));
        };
        let ids = blocking(move || Ok(cached_datasets(&root))).await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(summary) = self.jobs.downloaded(&id).await? {
                out.push(summary);
            }
        }
        out.sort_by(|a, b| a.dataset.as_str().cmp(b.dataset.as_str()));
        Ok(out)
    }
}

/// The datasets with a folder in the cache at `root` (none when it does not exist).
fn cached_datasets(root: &Path) -> Vec<DatasetId> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| dataset_of_folder(e.file_name().to_str()?))
        .collect()
}

/// Runs sled and catalog work off the async threads.
async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("a background task failed: {e}")))?
}

impl From<LocalStoreError> for ApiError {
    fn from(e: LocalStoreError) -> ApiError {
        ApiError::internal(e.to_string())
    }
}

/// What differs between the record seen and the record now.
fn changes(seen: Option<&Dataset>, now: Option<&Dataset>) -> Vec<Change> {
    let (seen, now) = match (seen, now) {
        (None, None) => return Vec::new(),
        (Some(_), None) => {
            return vec![Change {
                what: ChangeKind::Removed,
                before: Some("listed".to_string()),
                after: Some("no longer listed on the Hub".to_string()),
            }];
        }
        (None, Some(_)) => {
            return vec![Change {
                what: ChangeKind::Removed,
                before: Some("no longer listed on the Hub".to_string()),
                after: Some("listed again".to_string()),
            }];
        }
        (Some(seen), Some(now)) => (seen, now),
    };
    let mut out = Vec::new();
    let mut push = |what, before: Option<String>, after: Option<String>| {
        if before != after {
            out.push(Change {
                what,
                before,
                after,
            });
        }
    };
    let short = |sha: &Option<String>| sha.as_ref().map(|s| s.chars().take(12).collect());
    if seen.sha.is_some() || now.sha.is_some() {
        push(ChangeKind::Commit, short(&seen.sha), short(&now.sha));
    }
    let date = |d: &Option<DateTime<Utc>>| d.map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string());
    push(
        ChangeKind::Modified,
        date(&seen.last_modified),
        date(&now.last_modified),
    );
    push(
        ChangeKind::Downloads,
        Some(thousands(seen.downloads)),
        Some(thousands(now.downloads)),
    );
    push(
        ChangeKind::Likes,
        Some(thousands(seen.likes)),
        Some(thousands(now.likes)),
    );
    push(
        ChangeKind::License,
        seen.license().map(str::to_string),
        now.license().map(str::to_string),
    );
    push(
        ChangeKind::Gated,
        Some(gating(seen.gated)),
        Some(gating(now.gated)),
    );
    out
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Gating in words.
fn gating(gated: Gated) -> String {
    match gated {
        Gated::Flag(false) => "off".to_string(),
        Gated::Flag(true) => "on".to_string(),
        Gated::Mode(mode) => match mode {
            hubdex_core::GateMode::Auto => "auto".to_string(),
            hubdex_core::GateMode::Manual => "manual".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> Dataset {
        let mut d = Dataset::new(DatasetId::new(id).unwrap());
        d.sha = Some("a".repeat(40));
        d.downloads = 1000;
        d.likes = 3;
        d.tags = vec!["license:mit".to_string()];
        d
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn an_unchanged_record_has_no_changes() {
        let d = record("acme/x");
        assert!(changes(Some(&d), Some(&d)).is_empty());
        assert!(changes(None, None).is_empty());
    }

    #[test]
    fn each_difference_is_named_in_words() {
        let before = record("acme/x");
        let mut after = before.clone();
        after.sha = Some("b".repeat(40));
        after.downloads = 1204;
        after.tags = vec!["license:apache-2.0".to_string()];
        after.gated = Gated::Mode(hubdex_core::GateMode::Manual);
        let found = changes(Some(&before), Some(&after));
        let kinds: Vec<ChangeKind> = found.iter().map(|c| c.what).collect();
        assert_eq!(
            kinds,
            [
                ChangeKind::Commit,
                ChangeKind::Downloads,
                ChangeKind::License,
                ChangeKind::Gated
            ]
        );
        assert_eq!(found[1].before.as_deref(), Some("1,000"));
        assert_eq!(found[1].after.as_deref(), Some("1,204"));
        assert_eq!(found[2].after.as_deref(), Some("apache-2.0"));
        assert_eq!(found[3].before.as_deref(), Some("off"));
        assert_eq!(found[3].after.as_deref(), Some("manual"));
    }

    #[test]
    fn a_dataset_the_hub_no_longer_lists_is_removed() {
        let before = record("acme/x");
        let found = changes(Some(&before), None);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].what, ChangeKind::Removed);
    }
}
