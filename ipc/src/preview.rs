//! What the explorer previews of one dataset (card, files, commits, first rows) and what a
//! user follows. Every type here is part of the protocol: change one and bump
//! [`crate::PROTOCOL`].

use chrono::{DateTime, Utc};
use hubdex_core::Dataset;
use serde::{Deserialize, Serialize};

/// A dataset card, for the Card tab and `hubdex card`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// The dataset.
    pub dataset: String,
    /// The commit the README was read at, when the Hub said.
    pub commit: Option<String>,
    /// The README's markdown with its YAML front matter removed (the front matter is the
    /// record's `cardData`, shown as properties). Empty when the dataset has no README.
    pub markdown: String,
    /// When the daemon fetched it from the Hub.
    pub fetched_at: DateTime<Utc>,
    /// Set when this is an older copy served because the Hub could not be reached: why.
    pub stale: Option<String>,
}

/// The files of one revision, for the Files tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileList {
    /// The dataset.
    pub dataset: String,
    /// The revision asked for (`main` unless said).
    pub revision: String,
    /// The commit that revision resolved to.
    pub commit: String,
    /// Every file, recursively, sorted by path.
    pub files: Vec<FileEntry>,
    /// Sum of the files' sizes.
    pub total_size: u64,
    /// Sum of the sizes of the files present in the Hugging Face cache at this commit.
    pub downloaded_size: u64,
    /// When the daemon fetched the list from the Hub.
    pub fetched_at: DateTime<Utc>,
    /// Set when this is an older copy served because the Hub could not be reached: why.
    pub stale: Option<String>,
}

/// One file in a [`FileList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path inside the repo, `/`-separated.
    pub path: String,
    /// Size in bytes (the real size for LFS files, not the pointer's).
    pub size: u64,
    /// True when the file is stored with Git LFS (large data files usually are).
    pub lfs: bool,
    /// True when this file at this commit is in the Hugging Face cache.
    pub downloaded: bool,
}

/// The commit history of one revision, newest first, for the Commits tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitList {
    /// The dataset.
    pub dataset: String,
    /// The revision asked for (`main` unless said).
    pub revision: String,
    /// The commits, newest first (the Hub's first page).
    pub commits: Vec<CommitEntry>,
    /// When the daemon fetched them from the Hub.
    pub fetched_at: DateTime<Utc>,
    /// Set when this is an older copy served because the Hub could not be reached: why.
    pub stale: Option<String>,
}

/// One commit in a [`CommitList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitEntry {
    /// The full commit hash.
    pub id: String,
    /// The first line of the message.
    pub title: String,
    /// The Hub user names of the authors.
    pub authors: Vec<String>,
    /// When it was committed.
    pub date: DateTime<Utc>,
}

/// A request for the first rows of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowsRequest {
    /// The dataset.
    pub dataset: String,
    /// The config (subset); `None` picks the default one (`default`, else the first).
    pub config: Option<String>,
    /// The split; `None` picks `train`, else the first.
    pub split: Option<String>,
    /// How many rows at most.
    pub limit: usize,
}

/// The first rows of one split of a dataset, for the Rows tab and `hubdex rows`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rows {
    /// The dataset.
    pub dataset: String,
    /// The config the rows come from.
    pub config: String,
    /// The split the rows come from.
    pub split: String,
    /// Where they were read from.
    pub source: RowsSource,
    /// The columns, in order, with their types.
    pub columns: Vec<Column>,
    /// The rows, each with one value per column.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// True when the split has more rows than returned.
    pub truncated: bool,
    /// Every config and split the source knows of, so a client can offer the others.
    pub splits: Vec<SplitRef>,
}

/// Where [`Rows`] were read from, best first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RowsSource {
    /// A file of the dataset in the Hugging Face cache.
    LocalCache {
        /// The file's path on disk.
        path: String,
    },
    /// The dataset-viewer API (`/first-rows`).
    DatasetViewer {
        /// The endpoint asked.
        endpoint: String,
    },
    /// A parquet file on the Hub, read with range requests (footer and first row group).
    RemoteParquet {
        /// The file's path in the repo.
        path: String,
        /// Bytes fetched to read it.
        bytes_read: u64,
    },
}

/// One column of [`Rows`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The column name.
    pub name: String,
    /// Its type in words (`string`, `int64`, `list<float32>`, `struct<…>`, `image`).
    pub dtype: String,
}

/// A config and split of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitRef {
    /// The config (subset).
    pub config: String,
    /// The split.
    pub split: String,
}

/// A followed dataset and what changed since the user last looked at it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Follow {
    /// The dataset.
    pub dataset: String,
    /// When it was followed.
    pub followed_at: DateTime<Utc>,
    /// When the user last marked it seen (following counts as seeing it).
    pub seen_at: DateTime<Utc>,
    /// The record as it is now in the local catalog; `None` when the Hub no longer lists it.
    pub current: Option<Dataset>,
    /// What differs between the record seen then and the record now; empty when nothing.
    pub changes: Vec<Change>,
}

/// One difference in a followed dataset since it was last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// What changed.
    pub what: ChangeKind,
    /// The value then, in words (`1,204`, `2026-10-01`, `mit`).
    pub before: Option<String>,
    /// The value now, in words.
    pub after: Option<String>,
}

/// The kinds of [`Change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// New commits: the head commit differs.
    Commit,
    /// The last-modified time moved.
    Modified,
    /// Downloads went up or down.
    Downloads,
    /// Likes went up or down.
    Likes,
    /// The licence changed.
    License,
    /// Gating was switched on or off.
    Gated,
    /// The Hub no longer lists the dataset.
    Removed,
}
