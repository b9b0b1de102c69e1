//! The Card, Files and Commits tabs: a dataset's README, file tree and history, fetched from
//! the Hub on demand and kept in their own sled database (`<data dir>/preview`), so they come
//! back at once when nothing changed and are still served, marked stale with the reason,
//! while the Hub cannot be reached.
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `cards` | dataset id | the [`Card`] as JSON |
//! | `files` | dataset id `\0` revision | the [`FileList`] as JSON (downloaded marks are not kept: they are read from the cache at each answer) |
//! | `commits` | dataset id `\0` revision | the [`CommitList`] as JSON |
//!
//! A copy is reused without asking the Hub when its revision is a commit (it never changes),
//! when it is of `main` and its commit is the head commit the catalog knows, or else when it
//! is younger than [`PreviewCache::max_age`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use hubdex_core::cache::{Commit, RefName, RepoCache, RepoPath, is_commit_hash};
use hubdex_core::{Dataset, DatasetId};
use hubdex_hub::{EntryKind, HubError};
use hubdex_ipc::{ApiError, Card, CommitEntry, CommitList, DEFAULT_REVISION, FileEntry, FileList};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::metrics::PreviewLabels;
use crate::service::Daemon;

/// The most of a README kept: longer cards are cut here, with a note saying so.
pub const CARD_LIMIT: usize = 1 << 20;
/// How long a copy of a branch other than a known `main` is reused without asking the Hub.
const MAX_AGE: Duration = Duration::from_secs(10 * 60);
/// How long one preview waits for the Hub before serving its stored copy instead.
const HUB_WAIT: Duration = Duration::from_secs(20);
/// Commits asked for: the Hub's first page.
const COMMITS_PAGE: usize = 100;
/// sled's page cache for the preview and follow databases.
const DB_CACHE_BYTES: u64 = 4 * 1024 * 1024;

/// Why one of the daemon's own small databases (previews, follows) could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LocalStoreError {
    /// The database could not be opened.
    #[error(
        "cannot open the database {path}: {source}; if another hubdex daemon uses this home, stop it; if the files are damaged, move the folder away (what it holds is then forgotten)"
    )]
    Open {
        /// The database folder.
        path: PathBuf,
        /// What failed.
        source: sled::Error,
    },
    /// A record could not be written.
    #[error("cannot write to the database: {0}; check the free disk space")]
    Write(#[from] sled::Error),
    /// A record could not be encoded.
    #[error("cannot encode a record: {0}; this is a bug in hubdex, please report it")]
    Encode(#[from] serde_json::Error),
}

/// Opens (or creates) a small sled database in `dir`. Blocking.
pub(crate) fn open_db(dir: &Path) -> Result<sled::Db, LocalStoreError> {
    sled::Config::new()
        .path(dir)
        .cache_capacity(DB_CACHE_BYTES)
        .open()
        .map_err(|source| LocalStoreError::Open {
            path: dir.to_path_buf(),
            source,
        })
}

/// The daemon's own small databases, opened before it starts serving: stored previews
/// (`<data dir>/preview`) and follows (`<data dir>/follows`).
pub struct LocalSetup {
    pub(crate) previews: PreviewCache,
    pub(crate) follows: crate::follows::FollowStore,
}

impl LocalSetup {
    /// Opens (or creates) both databases under `data_dir`.
    pub async fn open(data_dir: &Path) -> Result<LocalSetup, crate::DaemonError> {
        let dir = data_dir.to_path_buf();
        let opened = tokio::task::spawn_blocking(move || {
            Ok::<_, LocalStoreError>(LocalSetup {
                previews: PreviewCache::open(&dir.join("preview"))?,
                follows: crate::follows::FollowStore::open(&dir.join("follows"))?,
            })
        })
        .await
        .map_err(|e| crate::DaemonError::Task(e.to_string()))??;
        Ok(opened)
    }
}

/// The stored copies of cards, file lists and commit lists.
pub struct PreviewCache {
    db: sled::Db,
    /// How long a copy of a moving revision is reused without asking the Hub.
    pub(crate) max_age: Duration,
}

impl PreviewCache {
    /// Opens (or creates) the database in `dir`. Blocking: call it off the async threads.
    pub fn open(dir: &Path) -> Result<PreviewCache, LocalStoreError> {
        Ok(PreviewCache {
            db: open_db(dir)?,
            max_age: MAX_AGE,
        })
    }

    fn load<T: DeserializeOwned>(&self, tree: &str, key: &str) -> Option<T> {
        let bytes = self.db.open_tree(tree).ok()?.get(key.as_bytes()).ok()??;
        match serde_json::from_slice(&bytes) {
            Ok(value) => Some(value),
            Err(e) => {
                tracing::warn!(tree, key, "ignored an unreadable stored preview: {e}");
                None
            }
        }
    }

    fn store<T: Serialize>(&self, tree: &str, key: &str, value: &T) -> Result<(), LocalStoreError> {
        let bytes = serde_json::to_vec(value)?;
        self.db.open_tree(tree)?.insert(key.as_bytes(), bytes)?;
        Ok(())
    }

    /// Whether a copy can be served without asking the Hub.
    fn is_fresh(
        &self,
        revision: &str,
        commit: Option<&str>,
        head: Option<&str>,
        fetched_at: DateTime<Utc>,
    ) -> bool {
        if is_commit_hash(revision) {
            return true;
        }
        if revision == DEFAULT_REVISION
            && let Some(head) = head
        {
            return commit.is_some_and(|c| c.eq_ignore_ascii_case(head));
        }
        (Utc::now() - fetched_at)
            .to_std()
            .is_ok_and(|age| age < self.max_age)
    }
}

/// What the three previews have in common: where they are stored and how they go stale.
trait Preview: Serialize + DeserializeOwned + Clone + Send + 'static {
    /// The sled tree, also the `kind` label of the metrics.
    const TREE: &'static str;
    /// The commit the copy shows, when known.
    fn commit(&self) -> Option<&str>;
    /// When it was fetched.
    fn fetched_at(&self) -> DateTime<Utc>;
    /// Says why an older copy is served.
    fn set_stale(&mut self, why: Option<String>);
}

impl Preview for Card {
    const TREE: &'static str = "cards";
    fn commit(&self) -> Option<&str> {
        self.commit.as_deref()
    }
    fn fetched_at(&self) -> DateTime<Utc> {
        self.fetched_at
    }
    fn set_stale(&mut self, why: Option<String>) {
        self.stale = why;
    }
}

impl Preview for FileList {
    const TREE: &'static str = "files";
    fn commit(&self) -> Option<&str> {
        Some(&self.commit)
    }
    fn fetched_at(&self) -> DateTime<Utc> {
        self.fetched_at
    }
    fn set_stale(&mut self, why: Option<String>) {
        self.stale = why;
    }
}

impl Preview for CommitList {
    const TREE: &'static str = "commits";
    fn commit(&self) -> Option<&str> {
        self.commits.first().map(|c| c.id.as_str())
    }
    fn fetched_at(&self) -> DateTime<Utc> {
        self.fetched_at
    }
    fn set_stale(&mut self, why: Option<String>) {
        self.stale = why;
    }
}

/// Why a fetch from the Hub did not give a fresh copy.
enum FetchError {
    Hub(HubError),
    Timeout,
}

impl Daemon {
    /// A dataset's README without its YAML front matter (empty when it has none), from the
    /// stored copy when it is current, else from the Hub.
    pub async fn card(&self, id: &str) -> Result<Card, ApiError> {
        let id = parse_id(id)?;
        let head = self.head_commit(&id).await?;
        let key = id.as_str().to_string();
        self.preview(key, DEFAULT_REVISION, head, |cached: Option<Card>| {
            self.fetch_card(id.clone(), cached)
        })
        .await
    }

    /// A revision's files with what the Hugging Face cache holds of them marked.
    pub async fn files(&self, id: &str, revision: Option<String>) -> Result<FileList, ApiError> {
        let id = parse_id(id)?;
        let revision = parse_revision(revision)?;
        let head = match revision == DEFAULT_REVISION {
            true => self.head_commit(&id).await?,
            false => None,
        };
        let key = format!("{id}\0{revision}");
        let list = self
            .preview(key, &revision, head, |cached: Option<FileList>| {
                self.fetch_files(id.clone(), revision.clone(), cached)
            })
            .await?;
        let root = self.jobs.cache_root().map(Path::to_path_buf);
        tokio::task::spawn_blocking(move || mark_downloaded(list, &id, root.as_deref()))
            .await
            .map_err(|e| ApiError::internal(format!("the cache scan failed: {e}")))
    }

    /// A revision's newest commits (the Hub's first page).
    pub async fn commits(
        &self,
        id: &str,
        revision: Option<String>,
    ) -> Result<CommitList, ApiError> {
        let id = parse_id(id)?;
        let revision = parse_revision(revision)?;
        let head = match revision == DEFAULT_REVISION {
            true => self.head_commit(&id).await?,
            false => None,
        };
        let key = format!("{id}\0{revision}");
        self.preview(key, &revision, head, |_: Option<CommitList>| {
            self.fetch_commits(id.clone(), revision.clone())
        })
        .await
    }

    /// One dataset's catalog record, `None` when the catalog does not have it.
    pub(crate) async fn record(&self, id: &DatasetId) -> Result<Option<Dataset>, ApiError> {
        let catalog = self.catalog.clone();
        let id = id.clone();
        tokio::task::spawn_blocking(move || catalog.get(&id))
            .await
            .map_err(|e| ApiError::internal(format!("the lookup task failed: {e}")))?
            .map_err(|e| ApiError::internal(format!("lookup failed: {e}")))
    }

    /// The head commit of `main` as the catalog knows it.
    async fn head_commit(&self, id: &DatasetId) -> Result<Option<String>, ApiError> {
        Ok(self.record(id).await?.and_then(|d| d.sha))
    }

    /// The stored copy when it is current; else a fresh one from the Hub, stored; else,
    /// when the Hub cannot be reached, the stored copy marked stale.
    async fn preview<T, F, Fut>(
        &self,
        key: String,
        revision: &str,
        head: Option<String>,
        fetch: F,
    ) -> Result<T, ApiError>
    where
        T: Preview,
        F: FnOnce(Option<T>) -> Fut,
        Fut: Future<Output = Result<T, HubError>>,
    {
        let cache = self.previews.clone();
        let lookup = key.clone();
        let cached: Option<T> = tokio::task::spawn_blocking(move || cache.load(T::TREE, &lookup))
            .await
            .map_err(|e| ApiError::internal(format!("the preview lookup failed: {e}")))?;
        if let Some(copy) = &cached
            && self
                .previews
                .is_fresh(revision, copy.commit(), head.as_deref(), copy.fetched_at())
        {
            self.count_preview(T::TREE, "cache");
            return Ok(copy.clone());
        }
        let offline = self.sync_state().offline.clone();
        if let (Some(copy), Some(reason)) = (&cached, offline) {
            return Ok(self.stale(copy.clone(), reason));
        }
        let outcome = tokio::time::timeout(HUB_WAIT, fetch(cached.clone()))
            .await
            .map_err(|_| FetchError::Timeout)
            .and_then(|r| r.map_err(FetchError::Hub));
        match outcome {
            Ok(fresh) => {
                let cache = self.previews.clone();
                let copy = fresh.clone();
                let stored = tokio::task::spawn_blocking(move || cache.store(T::TREE, &key, &copy))
                    .await
                    .map_err(|e| ApiError::internal(format!("the preview store failed: {e}")))?;
                if let Err(e) = stored {
                    tracing::warn!("cannot keep a copy of the {}: {e}", T::TREE);
                }
                self.count_preview(T::TREE, "hub");
                Ok(fresh)
            }
            Err(FetchError::Timeout) => {
                let reason = format!(
                    "the Hub did not answer within {} s; try again later",
                    HUB_WAIT.as_secs()
                );
                match cached {
                    Some(copy) => Ok(self.stale(copy, reason)),
                    None => Err(ApiError::unavailable(reason)),
                }
            }
            Err(FetchError::Hub(error)) => match cached {
                Some(copy) if is_transient(&error) => Ok(self.stale(copy, error.to_string())),
                _ => Err(api_error(error)),
            },
        }
    }

    fn stale<T: Preview>(&self, mut copy: T, reason: String) -> T {
        self.count_preview(T::TREE, "stale");
        copy.set_stale(Some(reason));
        copy
    }

    fn count_preview(&self, kind: &'static str, source: &'static str) {
        self.metrics
            .previews
            .get_or_create(&PreviewLabels { kind, source })
            .inc();
    }

    async fn fetch_card(&self, id: DatasetId, cached: Option<Card>) -> Result<Card, HubError> {
        let now = Utc::now();
        let meta = match self
            .hub
            .file_metadata(&id, DEFAULT_REVISION, "README.md")
            .await
        {
            Ok(meta) => meta,
            Err(HubError::EntryNotFound { commit, .. }) => {
                return Ok(Card {
                    dataset: id.to_string(),
                    commit,
                    markdown: String::new(),
                    fetched_at: now,
                    stale: None,
                });
            }
            Err(e) => return Err(e),
        };
        if let Some(card) = cached
            && card.commit.as_deref() == Some(meta.commit.as_str())
        {
            return Ok(Card {
                fetched_at: now,
                stale: None,
                ..card
            });
        }
        let mut download = self.hub.download(&meta, 0).await?;
        let mut bytes = Vec::new();
        let mut cut = false;
        while let Some(chunk) = download.body.next().await {
            let chunk = chunk?;
            let room = CARD_LIMIT - bytes.len();
            if chunk.len() > room {
                bytes.extend_from_slice(&chunk[..room]);
                cut = true;
                break;
            }
            bytes.extend_from_slice(&chunk);
        }
        let page = id.web_url(self.hub.endpoint());
        Ok(Card {
            dataset: id.to_string(),
            commit: Some(meta.commit),
            markdown: card_markdown(&bytes, cut, &page),
            fetched_at: now,
            stale: None,
        })
    }

    async fn fetch_files(
        &self,
        id: DatasetId,
        revision: String,
        cached: Option<FileList>,
    ) -> Result<FileList, HubError> {
        let now = Utc::now();
        let info = self.hub.revision_info(&id, &revision).await?;
        if let Some(list) = cached
            && list.commit == info.sha
        {
            return Ok(FileList {
                fetched_at: now,
                stale: None,
                ..list
            });
        }
        let entries = self.hub.list_files(&id, &info.sha, None, true).await?;
        let mut files: Vec<FileEntry> = entries
            .into_iter()
            .filter(|e| e.kind == EntryKind::File)
            .map(|e| FileEntry {
                size: e.size,
                lfs: e.lfs.is_some(),
                downloaded: false,
                path: e.path,
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(FileList {
            dataset: id.to_string(),
            revision,
            commit: info.sha,
            total_size: files.iter().map(|f| f.size).sum(),
            downloaded_size: 0,
            files,
            fetched_at: now,
            stale: None,
        })
    }

    async fn fetch_commits(&self, id: DatasetId, revision: String) -> Result<CommitList, HubError> {
        let commits = self.hub.list_commits(&id, &revision, COMMITS_PAGE).await?;
        Ok(CommitList {
            dataset: id.to_string(),
            revision,
            commits: commits
                .into_iter()
                .map(|c| CommitEntry {
                    id: c.id,
                    title: c.title,
                    authors: c.authors,
                    date: c.date,
                })
                .collect(),
            fetched_at: Utc::now(),
            stale: None,
        })
    }
}

/// A dataset id from a request.
pub(crate) fn parse_id(id: &str) -> Result<DatasetId, ApiError> {
    DatasetId::new(id).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The revision asked for, `main` when none was.
fn parse_revision(revision: Option<String>) -> Result<String, ApiError> {
    let revision = revision
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| DEFAULT_REVISION.to_string());
    if is_commit_hash(&revision) {
        return Ok(revision.to_ascii_lowercase());
    }
    RefName::new(&revision).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(revision)
}

/// Failures that may pass: the stored copy is served instead.
fn is_transient(error: &HubError) -> bool {
    matches!(
        error,
        HubError::Unreachable { .. }
            | HubError::Transport { .. }
            | HubError::RateLimited { .. }
            | HubError::InvalidBody { .. }
            | HubError::BodySize { .. }
            | HubError::Status {
                status: 408 | 429 | 500..=599,
                ..
            }
    )
}

/// A Hub failure as the client sees it; the Hub error's message already says what to do
/// (the access page and HF_TOKEN for a gated dataset, the id for a missing one).
fn api_error(error: HubError) -> ApiError {
    let message = error.to_string();
    match error {
        HubError::RepoNotFound { .. }
        | HubError::RevisionNotFound { .. }
        | HubError::EntryNotFound { .. } => ApiError::not_found(message),
        HubError::GatedRepo { .. } | HubError::Disabled { .. } => ApiError::forbidden(message),
        HubError::BadRequest { .. } => ApiError::bad_request(message),
        _ => ApiError::unavailable(message),
    }
}

/// The README's bytes as markdown: front matter removed, a cut card said to be cut.
fn card_markdown(bytes: &[u8], cut: bool, page: &str) -> String {
    let bytes = match (cut, std::str::from_utf8(bytes)) {
        // A cut through a multi-byte character: drop its first bytes.
        (true, Err(e)) if e.error_len().is_none() => &bytes[..e.valid_up_to()],
        _ => bytes,
    };
    let text = String::from_utf8_lossy(bytes);
    let mut markdown = strip_front_matter(&text).to_string();
    if cut {
        markdown.push_str(&format!(
            "\n\n---\n\n*This card is longer than {} MiB; hubdex shows its beginning. The whole card is at {page}.*\n",
            CARD_LIMIT >> 20
        ));
    }
    markdown
}

/// The text after a leading YAML front matter block (`---` … `---` or `...`); the whole
/// text when there is none or it never ends.
fn strip_front_matter(text: &str) -> &str {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = body.split_inclusive('\n');
    let Some(first) = lines.next() else {
        return body;
    };
    if first.trim_end() != "---" {
        return body;
    }
    let mut offset = first.len();
    for line in lines {
        offset += line.len();
        if matches!(line.trim_end(), "---" | "...") {
            return body[offset..].trim_start_matches(['\r', '\n']);
        }
    }
    body
}

/// Marks the files whose content at the list's commit is in the Hugging Face cache (a
/// snapshot entry that resolves to a file of the listed size), and sums them.
fn mark_downloaded(mut list: FileList, id: &DatasetId, root: Option<&Path>) -> FileList {
    let repo = root.map(|root| RepoCache::new(root, id));
    let commit = Commit::new(&list.commit).ok();
    let present = |path: &str, size: u64| -> bool {
        let (Some(repo), Some(commit)) = (&repo, &commit) else {
            return false;
        };
        RepoPath::new(path).is_ok_and(|p| {
            std::fs::metadata(repo.snapshot_file(commit, &p))
                .is_ok_and(|m| m.is_file() && m.len() == size)
        })
    };
    let snapshot = match (&repo, &commit) {
        (Some(repo), Some(commit)) => repo.snapshot_dir(commit).is_dir(),
        _ => false,
    };
    for file in &mut list.files {
        file.downloaded = snapshot && present(&file.path, file.size);
    }
    list.downloaded_size = list
        .files
        .iter()
        .filter(|f| f.downloaded)
        .map(|f| f.size)
        .sum();
    list
}

#[cfg(test)]
mod tests;
