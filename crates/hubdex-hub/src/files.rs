//! A dataset's files: resolving a revision, listing its tree and commits, the `HEAD` probe
//! of one file, and ranged, streamed downloads (hub-api.md §2.1–2.5 and §3).
//!
//! Downloads follow `huggingface_hub`: the probe does not follow absolute redirects (the
//! LFS redirect's `Location` becomes the download URL) but follows relative ones (renamed
//! repos); the token only goes to the endpoint's own origin, never to a CDN.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use hubdex_core::{DatasetId, Gated};
use reqwest::header::{
    ACCEPT, ACCEPT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, ETAG, HeaderMap, LINK, LOCATION, RANGE,
};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::client::{Failure, HubClient};
use crate::error::{ErrorContext, HubError, from_response, snippet};
use crate::link::next_link;
use crate::retry::{is_retryable, server_wait};

/// A file body as it arrives, chunk by chunk; nothing is buffered beyond one chunk.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, HubError>> + Send>>;

/// Most pages of one tree or commit listing followed before giving up (a million entries
/// at the Hub's 1,000 per page; a longer walk means the server's `Link`s loop).
const MAX_PAGES: usize = 10_000;
/// Commits asked for per page (huggingface.js asks for 100).
const COMMITS_PAGE: usize = 100;
/// Relative redirects followed by the probe, and redirects followed by a download.
const MAX_REDIRECTS: usize = 5;

/// What a revision (branch, tag or commit) resolves to, from
/// `GET /api/datasets/{id}/revision/{rev}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionInfo {
    /// The commit the revision resolved to (40 hex digits): download under this commit.
    pub sha: String,
    /// Every file path at that commit (`rfilename`).
    pub siblings: Vec<String>,
    /// Whether files need an approved access request.
    pub gated: Gated,
    /// Whether the dataset is private.
    pub private: bool,
}

/// Whether a tree entry is a file or a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    /// A file.
    File,
    /// A folder.
    Directory,
}

/// One entry of a dataset's tree (`GET /api/datasets/{id}/tree/{rev}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeEntry {
    /// Path from the repo's root, with `/` separators.
    pub path: String,
    /// File or folder.
    pub kind: EntryKind,
    /// The git object id: for a plain file the git blob sha1 of its content (and so its
    /// cache name and checksum), for an LFS file the id of its pointer.
    pub oid: String,
    /// Size in bytes (the real size for LFS files, 0 for folders).
    pub size: u64,
    /// For files stored in LFS: their sha256, which is the cache name and checksum.
    pub lfs: Option<LfsInfo>,
}

/// The LFS block of a tree entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LfsInfo {
    /// sha256 of the content (64 hex digits).
    pub sha256: String,
    /// Size of the content in bytes.
    pub size: u64,
    /// Size of the pointer file git stores instead.
    pub pointer_size: u64,
}

impl TreeEntry {
    /// The name the file is stored under in the Hugging Face cache (`blobs/<etag>`) and the
    /// checksum to verify: the sha256 for LFS files, the git blob id otherwise.
    pub fn etag(&self) -> &str {
        self.lfs.as_ref().map_or(&self.oid, |lfs| &lfs.sha256)
    }
}

/// What the `HEAD` probe of a file says (hub-api.md §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMetadata {
    /// The commit the revision resolved to (`X-Repo-Commit`).
    pub commit: String,
    /// The file's ETag without `W/` or quotes: sha256 for LFS files, git blob sha1
    /// otherwise. It names the cached blob and is the checksum to verify.
    pub etag: String,
    /// Size in bytes (`X-Linked-Size`, else `Content-Length` of a non-redirect).
    pub size: u64,
    /// Where to `GET` the bytes: the CDN URL of an LFS redirect (signed and expiring: probe
    /// again after an hour or on a 403), else the resolve URL.
    pub url: String,
    /// True for LFS files (the probe carried `X-Linked-Etag`).
    pub is_lfs: bool,
}

/// A download under way: where the server started and the body still to read.
pub struct Download {
    /// The offset of the body's first byte. It is the asked-for start after a `206`, and 0
    /// when the server ignored the range (`200`): the caller must then discard what it had.
    pub start: u64,
    /// The offset just past the body's last byte: the end asked for after a `206`, the
    /// file's size after a `200`.
    pub end: u64,
    /// The whole file's size.
    pub total: u64,
    /// The bytes from `start`. The stream fails if the connection breaks, and with
    /// [`HubError::BodySize`] when it ends before (or goes past) the length announced; it
    /// has no stall timeout of its own beyond the client's read timeout.
    pub body: ByteStream,
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("start", &self.start)
            .field("end", &self.end)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

/// One commit of a revision's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// The commit id (40 hex digits).
    pub id: String,
    /// The first line of the commit message.
    pub title: String,
    /// The rest of the message (often empty).
    pub message: String,
    /// When it was made.
    pub date: DateTime<Utc>,
    /// The user names of its authors.
    pub authors: Vec<String>,
}

#[derive(Deserialize)]
struct WireRevision {
    sha: Option<String>,
    #[serde(default)]
    siblings: Vec<WireSibling>,
    #[serde(default)]
    gated: Gated,
    #[serde(default)]
    private: bool,
}

#[derive(Deserialize)]
struct WireSibling {
    rfilename: String,
}

#[derive(Deserialize)]
struct WireEntry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    oid: String,
    #[serde(default)]
    size: u64,
    path: String,
    lfs: Option<WireLfs>,
}

#[derive(Deserialize)]
struct WireLfs {
    oid: String,
    size: u64,
    #[serde(rename = "pointerSize", default)]
    pointer_size: u64,
}

#[derive(Deserialize)]
struct WireCommit {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    message: String,
    date: DateTime<Utc>,
    #[serde(default)]
    authors: Vec<WireAuthor>,
}

#[derive(Deserialize)]
struct WireAuthor {
    #[serde(default)]
    user: Option<String>,
}

/// A 40-hex commit id.
fn is_commit(sha: &str) -> bool {
    sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit())
}

fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("{e} (body starts `{}`)", snippet(body)))
}

fn parse_revision(body: &[u8]) -> Result<RevisionInfo, String> {
    let wire: WireRevision = parse_json(body)?;
    let sha = wire
        .sha
        .filter(|s| is_commit(s))
        .ok_or_else(|| "it has no 40-hex `sha`".to_string())?;
    Ok(RevisionInfo {
        sha: sha.to_ascii_lowercase(),
        siblings: wire.siblings.into_iter().map(|s| s.rfilename).collect(),
        gated: wire.gated,
        private: wire.private,
    })
}

fn parse_tree(body: &[u8]) -> Result<Vec<TreeEntry>, String> {
    let wire: Vec<WireEntry> = parse_json(body)?;
    Ok(wire
        .into_iter()
        .filter_map(|e| {
            let kind = match e.kind.as_str() {
                "file" => EntryKind::File,
                "directory" => EntryKind::Directory,
                other => {
                    tracing::debug!(
                        path = e.path,
                        kind = other,
                        "skipped a tree entry of an unknown type"
                    );
                    return None;
                }
            };
            Some(TreeEntry {
                path: e.path,
                kind,
                oid: e.oid,
                size: e.size,
                lfs: e.lfs.map(|l| LfsInfo {
                    sha256: l.oid,
                    size: l.size,
                    pointer_size: l.pointer_size,
                }),
            })
        })
        .collect())
}

fn parse_commits(body: &[u8]) -> Result<Vec<Commit>, String> {
    let wire: Vec<WireCommit> = parse_json(body)?;
    Ok(wire
        .into_iter()
        .map(|c| Commit {
            id: c.id,
            title: c.title,
            message: c.message,
            date: c.date,
            authors: c.authors.into_iter().filter_map(|a| a.user).collect(),
        })
        .collect())
}

/// The next page's URL from `Link: <…>; rel="next"`, resolved against the current page;
/// `None` on the last page. A link back to the same page is an error, not a loop.
fn next_page(current: &Url, headers: &HeaderMap) -> Result<Option<Url>, HubError> {
    let Some(target) = headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(next_link)
    else {
        return Ok(None);
    };
    let invalid = |reason: String| HubError::InvalidBody {
        url: current.to_string(),
        expected: "a page with a usable Link header",
        reason,
    };
    let next = current.join(target).map_err(|e| {
        invalid(format!(
            "its rel=\"next\" target `{target}` is not a URL: {e}"
        ))
    })?;
    if next == *current {
        return Err(invalid(
            "its rel=\"next\" link points to the same page".to_string(),
        ));
    }
    Ok(Some(next))
}

/// An `ETag` value without `W/` or quotes.
fn normalize_etag(value: &str) -> String {
    value
        .trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_string()
}

/// Names the missing file in an `EntryNotFound` error.
fn with_path(error: HubError, path: &str) -> HubError {
    match error {
        HubError::EntryNotFound {
            message,
            path: None,
            commit,
            request_id,
        } => HubError::EntryNotFound {
            message,
            path: Some(path.to_string()),
            commit,
            request_id,
        },
        other => other,
    }
}

fn failure_with_path(failure: Failure, path: &str) -> Failure {
    match failure {
        Failure::Fatal(error) => Failure::Fatal(with_path(error, path)),
        Failure::Transient { error, wait } => Failure::Transient {
            error: with_path(error, path),
            wait,
        },
    }
}

/// What one probe attempt found.
enum Probe {
    /// A relative redirect to follow (a renamed repo).
    Relative(Url),
    Done(FileMetadata),
}

/// What one download attempt found.
enum Fetch {
    Redirect(Url),
    Body(reqwest::Response),
}

impl HubClient {
    /// `{endpoint}/api/datasets/{ns}/{name}/{segments…}`, each segment percent-encoded with
    /// no safe characters (so `refs/convert/parquet` travels as `refs%2Fconvert%2Fparquet`).
    fn repo_api_url(&self, id: &DatasetId, segments: &[&str]) -> Url {
        let mut all = vec!["datasets"];
        all.extend(id.as_str().split('/'));
        all.extend_from_slice(segments);
        self.api_url(&all)
    }

    /// `{endpoint}/datasets/{ns}/{name}/resolve/{rev}/{path}`: the revision encoded with no
    /// safe characters, the path keeping its `/`.
    fn resolve_url(&self, id: &DatasetId, revision: &str, path: &str) -> Url {
        let mut url = self.base().clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .push("datasets")
                .extend(id.as_str().split('/'))
                .push("resolve")
                .push(revision)
                .extend(path.split('/'));
        }
        url
    }

    /// The dataset a resolve URL on this endpoint names, for typed errors of downloads.
    fn dataset_of(&self, url: &Url) -> Option<DatasetId> {
        if url.origin() != self.base().origin() {
            return None;
        }
        let segments: Vec<&str> = url.path_segments()?.collect();
        let at = segments.iter().position(|s| *s == "resolve")?;
        let id = match segments.get(..at)? {
            [.., "datasets", ns, name] => format!("{ns}/{name}"),
            [.., "datasets", name] => (*name).to_string(),
            _ => return None,
        };
        DatasetId::new(id).ok()
    }

    /// Types an error status the way the catalog requests do; retryable statuses are
    /// transient, with the wait the server asked for.
    fn failure(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        id: Option<&DatasetId>,
        url: &Url,
    ) -> Failure {
        let ctx = ErrorContext {
            id,
            endpoint: self.endpoint(),
            url: url.as_str(),
        };
        let error = from_response(status, headers, body, &ctx);
        if is_retryable(status) {
            Failure::Transient {
                wait: server_wait(status, headers),
                error,
            }
        } else {
            Failure::Fatal(error)
        }
    }

    /// Resolves a revision (branch, tag or commit) to its commit and lists its files.
    ///
    /// Gated datasets answer this without access (their files do not); a revision that does
    /// not exist is [`HubError::RevisionNotFound`].
    pub async fn revision_info(
        &self,
        id: &DatasetId,
        revision: &str,
    ) -> Result<RevisionInfo, HubError> {
        let url = self.repo_api_url(id, &["revision", revision]);
        let fetched = self
            .get(&url, Some(id), "dataset info with a commit", parse_revision)
            .await?;
        Ok(fetched.value)
    }

    /// Every file under `path` (None = root) at `revision`, following tree pagination.
    ///
    /// Without `recursive` only the direct children (files and folders) are listed; with it,
    /// every file and folder below. A folder that does not exist is
    /// [`HubError::EntryNotFound`] naming it.
    pub async fn list_files(
        &self,
        id: &DatasetId,
        revision: &str,
        path: Option<&str>,
        recursive: bool,
    ) -> Result<Vec<TreeEntry>, HubError> {
        let folder = path.map(|p| p.trim_matches('/')).filter(|p| !p.is_empty());
        let mut segments = vec!["tree", revision];
        segments.extend(folder);
        let mut url = self.repo_api_url(id, &segments);
        if recursive {
            url.query_pairs_mut().append_pair("recursive", "true");
        }
        let mut entries = Vec::new();
        for _ in 0..MAX_PAGES {
            let fetched = self
                .get(&url, Some(id), "a JSON array of tree entries", parse_tree)
                .await
                .map_err(|e| with_path(e, folder.unwrap_or("/")))?;
            entries.extend(fetched.value);
            match next_page(&url, &fetched.headers)? {
                Some(next) => url = next,
                None => return Ok(entries),
            }
        }
        Err(too_many_pages(&url))
    }

    /// Commits of a revision, newest first (all pages up to `limit`).
    pub async fn list_commits(
        &self,
        id: &DatasetId,
        revision: &str,
        limit: usize,
    ) -> Result<Vec<Commit>, HubError> {
        let mut commits = Vec::new();
        if limit == 0 {
            return Ok(commits);
        }
        let mut url = self.repo_api_url(id, &["commits", revision]);
        url.query_pairs_mut()
            .append_pair("limit", &limit.min(COMMITS_PAGE).to_string());
        for _ in 0..MAX_PAGES {
            let fetched = self
                .get(&url, Some(id), "a JSON array of commits", parse_commits)
                .await?;
            commits.extend(fetched.value);
            if commits.len() >= limit {
                commits.truncate(limit);
                return Ok(commits);
            }
            match next_page(&url, &fetched.headers)? {
                Some(next) => url = next,
                None => return Ok(commits),
            }
        }
        Err(too_many_pages(&url))
    }

    /// The HEAD probe of §3.1: commit, normalised etag, size, download URL (not following
    /// absolute redirects).
    ///
    /// Relative redirects (a renamed repo) are followed. An answer without `X-Repo-Commit`
    /// or without any ETag is [`HubError::NotAHubFile`]; a missing file is
    /// [`HubError::EntryNotFound`] naming the path and carrying the commit; retryable
    /// statuses are retried as every request is (a 429's `Retry-After` honoured).
    pub async fn file_metadata(
        &self,
        id: &DatasetId,
        revision: &str,
        path: &str,
    ) -> Result<FileMetadata, HubError> {
        let mut url = self.resolve_url(id, revision, path);
        for _ in 0..=MAX_REDIRECTS {
            let probe = self
                .retrying(&url, || self.probe_once(&url, id, path))
                .await?;
            match probe {
                Probe::Relative(next) => url = next,
                Probe::Done(meta) => return Ok(meta),
            }
        }
        Err(HubError::InvalidUrl {
            url: url.to_string(),
            reason: format!("it redirects more than {MAX_REDIRECTS} times"),
        })
    }

    async fn probe_once(&self, url: &Url, id: &DatasetId, path: &str) -> Result<Probe, Failure> {
        let request = self
            .authorize(self.files_http().head(url.clone()), url)
            .header(ACCEPT, "*/*")
            .header(ACCEPT_ENCODING, "identity");
        let response = request
            .send()
            .await
            .map_err(|e| self.network_failure(url, e))?;
        let status = response.status();
        let headers = response.headers();
        if status.is_client_error() || status.is_server_error() {
            return Err(failure_with_path(
                self.failure(status, headers, &[], Some(id), url),
                path,
            ));
        }
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let missing = |header: &'static str| {
            Failure::Fatal(HubError::NotAHubFile {
                url: url.to_string(),
                header,
            })
        };
        let redirect = status.is_redirection();
        let mut download = url.clone();
        if redirect {
            let location = header(LOCATION.as_str()).ok_or_else(|| missing("Location"))?;
            match Url::parse(location) {
                Ok(absolute) => download = absolute,
                Err(_) => {
                    let next = url.join(location).map_err(|e| {
                        Failure::Fatal(HubError::InvalidUrl {
                            url: location.to_string(),
                            reason: e.to_string(),
                        })
                    })?;
                    return Ok(Probe::Relative(next));
                }
            }
        }
        let commit = header("x-repo-commit").ok_or_else(|| missing("X-Repo-Commit"))?;
        let linked = header("x-linked-etag");
        let etag = linked
            .or_else(|| header(ETAG.as_str()))
            .map(normalize_etag)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| missing("ETag"))?;
        let size = header("x-linked-size")
            .or_else(|| {
                (!redirect)
                    .then(|| header(CONTENT_LENGTH.as_str()))
                    .flatten()
            })
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| missing("X-Linked-Size"))?;
        Ok(Probe::Done(FileMetadata {
            commit: commit.to_string(),
            etag,
            size,
            url: download.to_string(),
            is_lfs: linked.is_some(),
        }))
    }

    /// What the `HEAD` probe would say of a file whose commit, etag and size are already
    /// known from the tree listing of that commit, without sending it: the download URL is
    /// the resolve URL, which redirects LFS files to their CDN (followed by
    /// [`HubClient::download`] without the token). Saves one request per file.
    pub fn file_at_commit(
        &self,
        id: &DatasetId,
        commit: &str,
        path: &str,
        etag: &str,
        size: u64,
        is_lfs: bool,
    ) -> FileMetadata {
        FileMetadata {
            commit: commit.to_string(),
            etag: etag.to_string(),
            size,
            url: self.resolve_url(id, commit, path).to_string(),
            is_lfs,
        }
    }

    /// GET the file from `start` (`Range: bytes=start-`), dropping Authorization when the
    /// URL's host differs from the endpoint's.
    ///
    /// Redirects are followed here (at most 5), each hop with the token only when it goes to
    /// the endpoint's own origin. The body is streamed, never buffered. A start at or past
    /// the end is [`HubError::RangeNotSatisfiable`]; a server that ignores the range answers
    /// the whole file with [`Download::start`] 0.
    pub async fn download(&self, meta: &FileMetadata, start: u64) -> Result<Download, HubError> {
        self.download_range(meta, start, None).await
    }

    /// GET bytes `start..end` of the file (`Range: bytes=start-(end-1)`; to the end of the
    /// file when `end` is `None`), as [`HubClient::download`] does. The body holds exactly
    /// the bytes asked for after a `206`; a server that ignores the range answers the whole
    /// file with [`Download::start`] 0, which the caller must handle.
    pub async fn download_range(
        &self,
        meta: &FileMetadata,
        start: u64,
        end: Option<u64>,
    ) -> Result<Download, HubError> {
        let mut url = Url::parse(&meta.url).map_err(|e| HubError::InvalidUrl {
            url: meta.url.clone(),
            reason: e.to_string(),
        })?;
        let end = end.filter(|end| *end < meta.size);
        if end.is_some_and(|end| end <= start) {
            return Err(HubError::RangeNotSatisfiable {
                url: url.to_string(),
                start,
                size: Some(meta.size),
            });
        }
        for _ in 0..=MAX_REDIRECTS {
            let id = self.dataset_of(&url);
            let fetched = self
                .retrying(&url, || self.fetch_once(&url, id.as_ref(), start, end))
                .await?;
            match fetched {
                Fetch::Redirect(next) => url = next,
                Fetch::Body(response) => return body(url, response, start, meta.size),
            }
        }
        Err(HubError::InvalidUrl {
            url: url.to_string(),
            reason: format!("it redirects more than {MAX_REDIRECTS} times"),
        })
    }

    async fn fetch_once(
        &self,
        url: &Url,
        id: Option<&DatasetId>,
        start: u64,
        end: Option<u64>,
    ) -> Result<Fetch, Failure> {
        let mut request = self
            .authorize(self.files_http().get(url.clone()), url)
            .header(ACCEPT, "*/*")
            .header(ACCEPT_ENCODING, "identity");
        match end {
            Some(end) => request = request.header(RANGE, format!("bytes={start}-{}", end - 1)),
            None if start > 0 => request = request.header(RANGE, format!("bytes={start}-")),
            None => {}
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.network_failure(url, e))?;
        let status = response.status();
        if status == StatusCode::RANGE_NOT_SATISFIABLE {
            let size = response
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit_once('/'))
                .and_then(|(_, total)| total.trim().parse().ok());
            return Err(Failure::Fatal(HubError::RangeNotSatisfiable {
                url: url.to_string(),
                start,
                size,
            }));
        }
        if status.is_client_error() || status.is_server_error() {
            let headers = response.headers().clone();
            let body = response.bytes().await.unwrap_or_default();
            return Err(self.failure(status, &headers, &body, id, url));
        }
        if status.is_redirection() {
            let next = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|location| url.join(location).ok())
                .ok_or_else(|| {
                    Failure::Fatal(HubError::NotAHubFile {
                        url: url.to_string(),
                        header: "Location",
                    })
                })?;
            return Ok(Fetch::Redirect(next));
        }
        Ok(Fetch::Body(response))
    }
}

fn too_many_pages(url: &Url) -> HubError {
    HubError::InvalidBody {
        url: url.to_string(),
        expected: "a listing that ends",
        reason: format!("it still had a next page after {MAX_PAGES} pages"),
    }
}

/// Turns a successful answer into a [`Download`]: a `206` must start where asked, a `200`
/// starts at 0.
fn body(
    url: Url,
    response: reqwest::Response,
    start: u64,
    size: u64,
) -> Result<Download, HubError> {
    let invalid = |reason: String| HubError::InvalidBody {
        url: url.to_string(),
        expected: "a file body",
        reason,
    };
    let headers = response.headers();
    let (first, length, total) = match response.status() {
        StatusCode::PARTIAL_CONTENT => {
            let range = headers
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let (first, last, total) = parse_content_range(range)
                .ok_or_else(|| invalid(format!("a 206 with the Content-Range `{range}`")))?;
            if first != start {
                return Err(invalid(format!(
                    "a 206 starting at byte {first} when byte {start} was asked for"
                )));
            }
            (first, last - first + 1, total.unwrap_or(size))
        }
        StatusCode::OK => {
            let total = headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(size);
            (0, total, total)
        }
        other => return Err(invalid(format!("status {other} instead of 200 or 206"))),
    };
    let body = Counted {
        inner: Box::pin(response.bytes_stream()),
        url: url.to_string(),
        expected: length,
        received: 0,
        done: false,
    };
    Ok(Download {
        start: first,
        end: first + length,
        total,
        body: Box::pin(body),
    })
}

/// `bytes a-b/total` (total may be `*`) → (a, b, total).
fn parse_content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let (range, total) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let (first, last) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    if last < first {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((first, last, total))
}

/// A body that fails when it ends short of, or runs past, the length announced.
struct Counted {
    inner: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    url: String,
    expected: u64,
    received: u64,
    done: bool,
}

impl Stream for Counted {
    type Item = Result<Bytes, HubError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = match self.inner.poll_next_unpin(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(item) => item,
        };
        let size_error = |s: &Counted| HubError::BodySize {
            url: s.url.clone(),
            expected: s.expected,
            received: s.received,
        };
        Poll::Ready(match item {
            Some(Ok(chunk)) => {
                self.received += chunk.len() as u64;
                if self.received > self.expected {
                    self.done = true;
                    Some(Err(size_error(&self)))
                } else {
                    Some(Ok(chunk))
                }
            }
            Some(Err(source)) => {
                self.done = true;
                Some(Err(HubError::Transport {
                    url: self.url.clone(),
                    source,
                }))
            }
            None => {
                self.done = true;
                (self.received < self.expected).then(|| Err(size_error(&self)))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_lose_weak_markers_and_quotes() {
        assert_eq!(normalize_etag("\"abc\""), "abc");
        assert_eq!(normalize_etag("W/\"abc\""), "abc");
        assert_eq!(normalize_etag(" abc "), "abc");
    }

    #[test]
    fn content_ranges_are_read_strictly() {
        assert_eq!(parse_content_range("bytes 5-9/10"), Some((5, 9, Some(10))));
        assert_eq!(parse_content_range("bytes 0-0/*"), Some((0, 0, None)));
        assert_eq!(parse_content_range("bytes */10"), None);
        assert_eq!(parse_content_range("bytes 9-5/10"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }

    #[test]
    fn tree_entries_keep_their_lfs_block_and_skip_unknown_types() {
        let body = br#"[{"type":"directory","oid":"d","size":0,"path":"data"},
            {"type":"file","oid":"p","size":9,"path":"data/x.parquet","lfs":{"oid":"s","size":9,"pointerSize":128}},
            {"type":"unknown","oid":"u","size":0,"path":"weird"}]"#;
        let entries = parse_tree(body).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].kind, EntryKind::Directory);
        assert_eq!(entries[0].etag(), "d");
        assert_eq!(entries[1].etag(), "s");
        assert_eq!(entries[1].lfs.as_ref().unwrap().pointer_size, 128);
    }

    #[test]
    fn a_revision_without_a_commit_is_not_accepted() {
        assert!(parse_revision(br#"{"id":"a/b","siblings":[]}"#).is_err());
        let info = parse_revision(
            br#"{"sha":"ABCDEF0123456789abcdef0123456789abcdef01","gated":"manual","siblings":[{"rfilename":"a.csv"}]}"#,
        )
        .unwrap();
        assert_eq!(info.sha, "abcdef0123456789abcdef0123456789abcdef01");
        assert_eq!(info.siblings, ["a.csv"]);
        assert!(info.gated.is_gated());
        assert!(!info.private);
    }
}
