//! The dataset repositories the fake serves files from: a file tree per commit with git and
//! LFS object ids, branches and history, and where the trees come from (files given in
//! process, a `--repos` directory that is read again when it changes, and generated
//! benchmark files whose bytes are computed on the fly).
//!
//! Everything is content-addressed: a file's bytes are one [`Blob`] however many paths,
//! commits or repos hold them, and the CDN route finds blobs by their sha256.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use chrono::Utc;
use hubdex_core::{DatasetId, Gated};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::catalog::hex;
use crate::{FakeHub, FakeHubError};

/// Files above this size are stored in LFS whatever their extension (the Hub's limit for
/// plain git files is 10 MiB).
pub(crate) const LFS_SIZE_THRESHOLD: u64 = 10 * 1024 * 1024;

/// Extensions the Hub's default `.gitattributes` sends to LFS.
const LFS_EXTENSIONS: [&str; 45] = [
    "7z",
    "arrow",
    "avro",
    "bin",
    "bz2",
    "ckpt",
    "flac",
    "ftz",
    "gif",
    "gz",
    "h5",
    "jpeg",
    "jpg",
    "joblib",
    "lz4",
    "mlmodel",
    "model",
    "mp3",
    "mp4",
    "msgpack",
    "npy",
    "npz",
    "ogg",
    "onnx",
    "ot",
    "parquet",
    "pb",
    "pickle",
    "pkl",
    "png",
    "pt",
    "pth",
    "rar",
    "safetensors",
    "tar",
    "tfrecord",
    "tflite",
    "tgz",
    "wasm",
    "wav",
    "webm",
    "webp",
    "xz",
    "zip",
    "zst",
];

/// The file in a `--repos` directory that sets repos' access rules (it is not a repo file).
pub(crate) const ACCESS_FILE: &str = "fakehub-access.json";

/// Id of the generated benchmark repo holding one 1 GiB file.
pub const BENCH_LARGE_FILE_REPO: &str = "hubdex-bench/one-gib";
/// Id of the generated benchmark repo holding 200 files of 200,000 bytes (40 MB).
pub const BENCH_MANY_FILES_REPO: &str = "hubdex-bench/two-hundred-files";

/// Who may read a repo, as the Hub decides it.
///
/// A repo without explicit rules takes `gated`, `private` and `disabled` from its catalog
/// record, if it has one, and is public otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoAccess {
    /// Gated repos keep their info readable but refuse files, trees and paths-info to
    /// anonymous callers (401 `GatedRepo`) and to tokens not in `approved_tokens` (403).
    #[serde(default)]
    pub gated: Gated,
    /// Private repos behave as missing (401/404 `RepoNotFound`) except for approved tokens.
    #[serde(default)]
    pub private: bool,
    /// Disabled repos answer 403 `Access to this resource is disabled.` for files.
    #[serde(default)]
    pub disabled: bool,
    /// Tokens (without `Bearer `) that were granted access to a gated or private repo.
    #[serde(default)]
    pub approved_tokens: Vec<String>,
}

/// Why a caller may not read a repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denial {
    /// Private and not approved: it must look missing.
    NotFound,
    /// Gated and not approved.
    Gated,
    /// Disabled by the Hub.
    Disabled,
}

impl RepoAccess {
    /// Whether a caller with `token` may read the repo's info (`files == false`) or its
    /// files, tree and paths-info (`files == true`).
    pub(crate) fn check(&self, token: Option<&str>, files: bool) -> Result<(), Denial> {
        let approved = token.is_some_and(|t| self.approved_tokens.iter().any(|a| a == t));
        if self.private && !approved {
            return Err(Denial::NotFound);
        }
        if files && self.disabled {
            return Err(Denial::Disabled);
        }
        if files && self.gated.is_gated() && !approved {
            return Err(Denial::Gated);
        }
        Ok(())
    }
}

/// A change to a repo's files, made as one new commit on a branch with
/// [`RunningFakeHub::commit`](crate::RunningFakeHub::commit) or
/// `POST /_fakehub/repos/{ns}/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoCommit {
    /// Files to add or overwrite: path (with `/` separators) and content.
    pub files: Vec<(String, Vec<u8>)>,
    /// Paths to remove; a path that is not there is ignored.
    pub delete: Vec<String>,
    /// The commit title; empty means `Update files`.
    pub title: String,
    /// The branch to commit on; empty means `main`. A new branch starts without history.
    pub branch: String,
}

/// The bytes of one file, stored once however many paths hold them.
pub(crate) struct Blob {
    content: Content,
    /// Length in bytes.
    pub size: u64,
    /// sha256 of the content: the LFS object id and the CDN's key.
    pub sha256: [u8; 32],
    /// The git blob id of the content (`sha1("blob <len>\0" + bytes)`), for blobs small
    /// enough to be stored in git.
    pub git_sha1: Option<[u8; 20]>,
}

enum Content {
    Memory(Bytes),
    /// Pseudo-random bytes computed from a seed and the offset.
    Generated {
        seed: u64,
    },
}

impl Blob {
    fn from_bytes(bytes: Bytes) -> Blob {
        let size = bytes.len() as u64;
        let git_sha1 = (size <= LFS_SIZE_THRESHOLD).then(|| git_blob_id(&bytes));
        Blob {
            sha256: Sha256::digest(&bytes).into(),
            content: Content::Memory(bytes),
            size,
            git_sha1,
        }
    }

    /// A generated blob; hashing it reads every byte once (about 3 s per GiB).
    fn generated(seed: u64, size: u64) -> Blob {
        const STEP: u64 = 1 << 20;
        let mut sha256 = Sha256::new();
        let small = size <= LFS_SIZE_THRESHOLD;
        let mut sha1 = small.then(|| {
            let mut h = Sha1::new();
            h.update(format!("blob {size}\0").as_bytes());
            h
        });
        let mut offset = 0;
        while offset < size {
            let len = STEP.min(size - offset);
            let chunk = generated_bytes(seed, offset, len as usize);
            sha256.update(&chunk);
            if let Some(h) = sha1.as_mut() {
                h.update(&chunk);
            }
            offset += len;
        }
        Blob {
            content: Content::Generated { seed },
            size,
            sha256: sha256.finalize().into(),
            git_sha1: sha1.map(|h| h.finalize().into()),
        }
    }

    /// `len` bytes from `offset` (the caller keeps within the blob).
    pub(crate) fn chunk(&self, offset: u64, len: usize) -> Bytes {
        match &self.content {
            Content::Memory(bytes) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let end = start.saturating_add(len).min(bytes.len());
                bytes.slice(start..end)
            }
            Content::Generated { seed } => Bytes::from(generated_bytes(*seed, offset, len)),
        }
    }
}

/// The git blob id of some bytes.
fn git_blob_id(bytes: &[u8]) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    h.finalize().into()
}

/// Generated content: byte `i` of a blob is byte `i % 8` of `splitmix64(seed + (i / 8) * φ)`,
/// so any range can be produced without the bytes before it.
fn generated_bytes(seed: u64, offset: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let word = |index: u64| {
        splitmix64(seed.wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15))).to_le_bytes()
    };
    let mut index = offset / 8;
    let skip = (offset % 8) as usize;
    let mut filled = 0;
    if skip != 0 {
        let w = word(index);
        let take = (8 - skip).min(len);
        out[..take].copy_from_slice(&w[skip..skip + take]);
        filled = take;
        index += 1;
    }
    let mut words = out[filled..].chunks_exact_mut(8);
    for slot in &mut words {
        slot.copy_from_slice(&word(index));
        index += 1;
    }
    let tail = words.into_remainder();
    let n = tail.len();
    tail.copy_from_slice(&word(index)[..n]);
    out
}

fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Whether the Hub would store this file in LFS: over 10 MiB, or a binary extension.
fn is_lfs(path: &str, size: u64) -> bool {
    if size > LFS_SIZE_THRESHOLD {
        return true;
    }
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    name.contains("tfevents")
        || name
            .rsplit_once('.')
            .is_some_and(|(_, ext)| LFS_EXTENSIONS.contains(&ext))
}

/// One file of a tree.
#[derive(Clone)]
pub(crate) struct FileEntry {
    pub blob: Arc<Blob>,
    /// Stored in LFS: the tree carries an `lfs` block and resolve redirects to the CDN.
    pub lfs: bool,
    /// The git object id: of the content for git files, of the pointer text for LFS files.
    pub oid: [u8; 20],
}

impl FileEntry {
    fn new(path: &str, blob: Arc<Blob>) -> FileEntry {
        let lfs = is_lfs(path, blob.size) || blob.git_sha1.is_none();
        let oid = match blob.git_sha1 {
            Some(id) if !lfs => id,
            _ => git_blob_id(lfs_pointer(&blob).as_bytes()),
        };
        FileEntry { blob, lfs, oid }
    }

    /// Length of the LFS pointer text (`lfs.pointerSize`).
    pub(crate) fn pointer_size(&self) -> usize {
        lfs_pointer(&self.blob).len()
    }

    /// The ETag clients store the file under: sha256 for LFS files, the git id otherwise.
    pub(crate) fn etag(&self) -> String {
        if self.lfs {
            hex(&self.blob.sha256)
        } else {
            hex(&self.oid)
        }
    }
}

/// The text git stores in place of an LFS file.
fn lfs_pointer(blob: &Blob) -> String {
    format!(
        "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize {}\n",
        hex(&blob.sha256),
        blob.size
    )
}

/// The files of one commit, with the git ids of every folder.
pub(crate) struct Tree {
    /// Files by path (`data/train.csv`), in path order.
    pub files: BTreeMap<String, FileEntry>,
    /// Every folder below the root by path, with its git tree id.
    pub dirs: BTreeMap<String, [u8; 20]>,
    /// The root folder's git tree id.
    pub root: [u8; 20],
}

impl Tree {
    fn new(files: BTreeMap<String, FileEntry>) -> Tree {
        /// One entry of a git tree object: name, whether it is a folder, object id.
        type GitEntry = (String, bool, [u8; 20]);
        let mut children: BTreeMap<String, Vec<GitEntry>> = BTreeMap::new();
        let mut all_dirs: BTreeSet<String> = BTreeSet::new();
        for (path, entry) in &files {
            let (parent, name) = split_parent(path);
            children.entry(parent.to_string()).or_default().push((
                name.to_string(),
                false,
                entry.oid,
            ));
            let mut dir = parent;
            while !dir.is_empty() {
                all_dirs.insert(dir.to_string());
                dir = split_parent(dir).0;
            }
        }
        let mut by_depth: Vec<&String> = all_dirs.iter().collect();
        by_depth.sort_by_key(|d| std::cmp::Reverse(d.matches('/').count()));
        let mut dirs = BTreeMap::new();
        for dir in by_depth {
            let oid = git_tree_id(children.remove(dir.as_str()).unwrap_or_default());
            let (parent, name) = split_parent(dir);
            children
                .entry(parent.to_string())
                .or_default()
                .push((name.to_string(), true, oid));
            dirs.insert(dir.clone(), oid);
        }
        let root = git_tree_id(children.remove("").unwrap_or_default());
        Tree { files, dirs, root }
    }

    /// Total size of the files (LFS files count their real size).
    pub(crate) fn size(&self) -> u64 {
        self.files.values().map(|f| f.blob.size).sum()
    }
}

/// `data/x/y.csv` → (`data/x`, `y.csv`); a top-level name has the parent `""`.
pub(crate) fn split_parent(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// The git id of a tree object with these entries (sorted as git sorts them: a folder's
/// name compares as if it ended with `/`).
fn git_tree_id(mut entries: Vec<(String, bool, [u8; 20])>) -> [u8; 20] {
    let key = |(name, dir, _): &(String, bool, [u8; 20])| {
        let mut k = name.as_bytes().to_vec();
        if *dir {
            k.push(b'/');
        }
        k
    };
    entries.sort_by_key(key);
    let mut body = Vec::new();
    for (name, dir, oid) in &entries {
        body.extend_from_slice(if *dir { b"40000 " } else { b"100644 " });
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.extend_from_slice(oid);
    }
    let mut h = Sha1::new();
    h.update(format!("tree {}\0", body.len()).as_bytes());
    h.update(&body);
    h.finalize().into()
}

/// One commit of a repo.
#[derive(Clone)]
pub(crate) struct Commit {
    pub id: [u8; 20],
    /// Index of the parent in [`Repo::commits`].
    pub parent: Option<usize>,
    pub title: String,
    pub date_ms: i64,
    pub author: String,
    pub tree: Arc<Tree>,
}

/// A directory a branch of a repo is read from, and what it held when last read.
#[derive(Clone)]
struct DirSource {
    /// Full ref name, e.g. `refs/heads/main`.
    reference: String,
    signature: Signature,
}

/// Each file's path, length and modification time: enough to notice a change cheaply.
type Signature = Vec<(String, u64, Option<SystemTime>)>;

/// One dataset repo: its commits (oldest first) and refs.
#[derive(Clone)]
pub(crate) struct Repo {
    pub id: DatasetId,
    pub commits: Vec<Commit>,
    /// Full ref name (`refs/heads/main`, `refs/convert/parquet`, `refs/tags/v1`) → commit.
    pub refs: BTreeMap<String, usize>,
    /// Explicit access rules; `None` takes them from the catalog record.
    pub access: Option<RepoAccess>,
    sources: Vec<DirSource>,
}

impl Repo {
    fn new(id: DatasetId) -> Repo {
        Repo {
            id,
            commits: Vec::new(),
            refs: BTreeMap::new(),
            access: None,
            sources: Vec::new(),
        }
    }

    /// The commit a revision names: a branch or tag name, a full ref, `HEAD`, or a full
    /// commit id from the history.
    pub(crate) fn resolve(&self, revision: &str) -> Option<usize> {
        if revision == "HEAD" {
            return self.refs.get("refs/heads/main").copied();
        }
        if let Some(&i) = self.refs.get(revision) {
            return Some(i);
        }
        for prefix in ["refs/heads/", "refs/tags/"] {
            if let Some(&i) = self.refs.get(&format!("{prefix}{revision}")) {
                return Some(i);
            }
        }
        if revision.len() == 40 {
            let wanted = revision.to_ascii_lowercase();
            return self.commits.iter().position(|c| hex(&c.id) == wanted);
        }
        None
    }

    /// The head of `main`, if the repo has that branch.
    pub(crate) fn main(&self) -> Option<&Commit> {
        self.refs.get("refs/heads/main").map(|&i| &self.commits[i])
    }

    /// Commits from `head` back to the first, newest first.
    pub(crate) fn history(&self, head: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut next = Some(head);
        while let Some(i) = next {
            if out.len() > self.commits.len() {
                break;
            }
            out.push(i);
            next = self.commits[i].parent;
        }
        out
    }

    /// The newest commit, from `head` back, that changed `path` (a file, or a folder when
    /// `dir`), with the commit before it not holding the same object.
    pub(crate) fn last_change(&self, head: usize, path: &str, dir: bool) -> usize {
        let oid = |commit: usize| {
            let tree = &self.commits[commit].tree;
            if dir {
                tree.dirs.get(path).copied()
            } else {
                tree.files.get(path).map(|f| f.oid)
            }
        };
        let mut current = head;
        let here = oid(head);
        for _ in 0..self.commits.len() {
            match self.commits[current].parent {
                Some(parent) if oid(parent) == here => current = parent,
                _ => break,
            }
        }
        current
    }

    /// Bytes stored for every revision (each blob once).
    pub(crate) fn used_storage(&self) -> u64 {
        let mut seen = BTreeSet::new();
        self.commits
            .iter()
            .flat_map(|c| c.tree.files.values())
            .filter(|f| seen.insert(f.blob.sha256))
            .map(|f| f.blob.size)
            .sum()
    }

    /// Makes `tree` the new head of `reference` unless it already is; returns the head.
    fn commit(&mut self, reference: &str, tree: Tree, title: &str) -> usize {
        let parent = self.refs.get(reference).copied();
        if let Some(p) = parent
            && self.commits[p].tree.root == tree.root
        {
            return p;
        }
        let mut h = Sha1::new();
        h.update(format!("tree {}\n", hex(&tree.root)).as_bytes());
        if let Some(p) = parent {
            h.update(format!("parent {}\n", hex(&self.commits[p].id)).as_bytes());
        }
        h.update(format!("ref {reference}\n\n{title}\n").as_bytes());
        let newest = self.commits.iter().map(|c| c.date_ms).max().unwrap_or(0);
        let commit = Commit {
            id: h.finalize().into(),
            parent,
            title: title.to_string(),
            date_ms: Utc::now().timestamp_millis().max(newest + 1),
            author: self.id.namespace().unwrap_or("hubdex-fakehub").to_string(),
            tree: Arc::new(tree),
        };
        self.commits.push(commit);
        let index = self.commits.len() - 1;
        self.refs.insert(reference.to_string(), index);
        index
    }
}

/// The full ref a branch name stands for: `main` → `refs/heads/main`; full refs stay.
fn branch_ref(branch: &str) -> String {
    let branch = if branch.is_empty() { "main" } else { branch };
    if branch.starts_with("refs/") {
        branch.to_string()
    } else {
        format!("refs/heads/{branch}")
    }
}

/// Every repo of a fake Hub, and the blobs they share.
#[derive(Clone, Default)]
pub(crate) struct Repos {
    /// Repos by lower-cased id (the Hub matches ids ignoring case).
    repos: HashMap<String, Repo>,
    /// Blobs by sha256, for the CDN route.
    blobs: HashMap<[u8; 32], Arc<Blob>>,
    /// The `--repos` directory, where repos created later are found too.
    dir: Option<PathBuf>,
}

/// A repo id as the fake accepts it for a repo with files: `namespace/name`.
fn repo_id(id: &str) -> Result<DatasetId, FakeHubError> {
    let invalid = |reason: String| FakeHubError::InvalidRepo {
        id: id.to_string(),
        reason,
    };
    let parsed = DatasetId::new(id).map_err(|e| invalid(e.to_string()))?;
    if parsed.namespace().is_none() {
        return Err(invalid(
            "repos with files need a `namespace/name` id".to_string(),
        ));
    }
    Ok(parsed)
}

/// Checks a file path the way git and the Hub would accept it.
fn check_path(id: &str, path: &str) -> Result<(), FakeHubError> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.ends_with('/')
        || path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == ".." || p == ".git");
    if bad {
        return Err(FakeHubError::InvalidRepo {
            id: id.to_string(),
            reason: format!(
                "`{path}` is not a file path; use relative paths with `/` separators, without `.`, `..` or `.git` parts"
            ),
        });
    }
    Ok(())
}

impl Repos {
    /// The repo with this id, ignoring case.
    pub(crate) fn get(&self, id: &str) -> Option<&Repo> {
        self.repos.get(&id.to_lowercase())
    }

    /// The blob with this sha256.
    pub(crate) fn blob(&self, sha256: &[u8; 32]) -> Option<Arc<Blob>> {
        self.blobs.get(sha256).cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.repos.len()
    }

    /// Ids of the repos, sorted.
    pub(crate) fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.repos.values().map(|r| r.id.to_string()).collect();
        ids.sort();
        ids
    }

    /// A blob for these bytes, shared with any identical one.
    fn intern(&mut self, blob: Blob) -> Arc<Blob> {
        self.blobs
            .entry(blob.sha256)
            .or_insert_with(|| Arc::new(blob))
            .clone()
    }

    fn repo_mut(&mut self, id: DatasetId) -> &mut Repo {
        self.repos
            .entry(id.as_str().to_lowercase())
            .or_insert_with(|| Repo::new(id))
    }

    /// Commits a change; creates the repo (and the branch) when needed. Returns the commit id
    /// of the branch's head and whether a new commit was made.
    pub(crate) fn commit(
        &mut self,
        id: &str,
        change: RepoCommit,
    ) -> Result<(String, bool), FakeHubError> {
        let parsed = repo_id(id)?;
        for (path, _) in &change.files {
            check_path(id, path)?;
        }
        let reference = branch_ref(&change.branch);
        let mut files = self
            .get(id)
            .and_then(|r| {
                r.refs
                    .get(&reference)
                    .map(|&i| r.commits[i].tree.files.clone())
            })
            .unwrap_or_default();
        for path in &change.delete {
            files.remove(path);
        }
        for (path, bytes) in change.files {
            let blob = self.intern(Blob::from_bytes(Bytes::from(bytes)));
            files.insert(path.clone(), FileEntry::new(&path, blob));
        }
        let title = if change.title.is_empty() {
            "Update files".to_string()
        } else {
            change.title
        };
        let repo = self.repo_mut(parsed);
        let before = repo.commits.len();
        let head = repo.commit(&reference, Tree::new(files), &title);
        Ok((hex(&repo.commits[head].id), repo.commits.len() > before))
    }

    /// Sets a repo's access rules.
    pub(crate) fn set_access(&mut self, id: &str, access: RepoAccess) -> Result<(), FakeHubError> {
        let key = id.to_lowercase();
        let repo = self
            .repos
            .get_mut(&key)
            .ok_or_else(|| FakeHubError::InvalidRepo {
                id: id.to_string(),
                reason: "no repo with files has this id; add it first".to_string(),
            })?;
        repo.access = Some(access);
        Ok(())
    }

    /// Sets access rules from the catalog on repos that have none of their own.
    pub(crate) fn default_access(&mut self, from_catalog: impl Fn(&str) -> Option<RepoAccess>) {
        for repo in self.repos.values_mut() {
            if repo.access.is_none() {
                repo.access = from_catalog(repo.id.as_str());
            }
        }
    }

    /// Adds a repo of `files` generated files of `file_size` bytes each (LFS `.bin` files
    /// when over 10 MiB or when there are several, named `data/part-00000-of-NNNNN.bin`;
    /// `data/blob.bin` alone otherwise). Hashing reads every byte once.
    pub(crate) fn add_generated(
        &mut self,
        id: &str,
        files: usize,
        file_size: u64,
        seed: u64,
    ) -> Result<(), FakeHubError> {
        let parsed = repo_id(id)?;
        let blobs: Vec<Blob> = std::thread::scope(|scope| {
            let workers = std::thread::available_parallelism().map_or(1, usize::from);
            let handles: Vec<_> = (0..workers.min(files.max(1)))
                .map(|worker| {
                    scope.spawn(move || {
                        (worker..files)
                            .step_by(workers)
                            .map(|i| (i, Blob::generated(splitmix64(seed ^ i as u64), file_size)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut all: Vec<(usize, Blob)> = handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect();
            all.sort_by_key(|(i, _)| *i);
            all.into_iter().map(|(_, b)| b).collect()
        });
        if blobs.len() != files {
            return Err(FakeHubError::InvalidRepo {
                id: id.to_string(),
                reason: "generating its files failed".to_string(),
            });
        }
        let mut tree = BTreeMap::new();
        for (i, blob) in blobs.into_iter().enumerate() {
            let path = if files == 1 {
                "data/blob.bin".to_string()
            } else {
                format!("data/part-{i:05}-of-{files:05}.bin")
            };
            let blob = self.intern(blob);
            tree.insert(path.clone(), FileEntry::new(&path, blob));
        }
        let repo = self.repo_mut(parsed);
        repo.commit("refs/heads/main", Tree::new(tree), "Initial commit");
        Ok(())
    }

    /// Reads every repo of a `--repos` directory (`DIR/ns/name/…` is `main` of `ns/name`,
    /// `DIR/ns/name@REF/…` another branch, e.g. `name@refs%2Fconvert%2Fparquet`) and its
    /// access file. Returns how many repos it holds.
    pub(crate) fn load_dir(&mut self, dir: &Path) -> Result<usize, FakeHubError> {
        let error = |cause| FakeHubError::ReposDir {
            path: dir.to_path_buf(),
            cause,
        };
        let mut found = Vec::new();
        for ns in fs::read_dir(dir).map_err(error)? {
            let ns = ns.map_err(error)?;
            if !ns.file_type().map_err(error)?.is_dir() {
                continue;
            }
            for name in fs::read_dir(ns.path()).map_err(error)? {
                let name = name.map_err(error)?;
                if !name.file_type().map_err(error)?.is_dir() {
                    continue;
                }
                let (ns, name) = (ns.file_name(), name.file_name());
                let (Some(ns), Some(name)) = (ns.to_str(), name.to_str()) else {
                    continue;
                };
                let repo = name.split_once('@').map_or(name, |(repo, _)| repo);
                found.push(format!("{ns}/{repo}"));
            }
        }
        found.sort();
        found.dedup();
        self.dir = Some(dir.to_path_buf());
        for id in &found {
            if repo_id(id).is_err() {
                tracing::warn!(id, dir = %dir.display(), "skipped a folder whose name is not a dataset id");
                continue;
            }
            self.refresh_from_disk(id).map_err(error)?;
        }
        let access_file = dir.join(ACCESS_FILE);
        match fs::read(&access_file) {
            Ok(bytes) => {
                let rules: BTreeMap<String, RepoAccess> = serde_json::from_slice(&bytes)
                    .map_err(|e| error(io::Error::new(io::ErrorKind::InvalidData, format!("{ACCESS_FILE} must map repo ids to access rules such as {{\"acme/x\": {{\"gated\": \"manual\", \"approved_tokens\": [\"hf_ok\"]}}}}: {e}"))))?;
                for (id, access) in rules {
                    self.set_access(&id, access)?;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(error(e)),
        }
        Ok(self.len())
    }

    /// Whether [`Repos::refresh_from_disk`] could change anything for this id.
    pub(crate) fn reads_disk(&self, id: &str) -> bool {
        match self.get(id) {
            Some(repo) => !repo.sources.is_empty(),
            None => self.dir.is_some(),
        }
    }

    /// What [`Repos::refresh_from_disk`] needs to look at, taken under a read lock.
    pub(crate) fn disk_plan(&self, id: &str) -> Option<DiskPlan> {
        let dir = self.dir.clone()?;
        let repo = self.get(id);
        Some(DiskPlan {
            id: repo.map_or_else(|| id.to_string(), |r| r.id.to_string()),
            dir,
            known: repo.map(|r| r.sources.clone()).unwrap_or_default(),
        })
    }

    /// Reads the folders of one repo again and commits what changed (a folder that appeared
    /// becomes a branch; the repo itself appears when its folder does). Does file I/O: call
    /// it off the async runtime, and without holding a lock (see [`DiskPlan`]).
    fn refresh_from_disk(&mut self, id: &str) -> io::Result<()> {
        if let Some(plan) = self.disk_plan(id) {
            let scanned = plan.scan()?;
            self.apply(scanned);
        }
        Ok(())
    }

    /// Commits what a [`DiskPlan::scan`] found.
    pub(crate) fn apply(&mut self, scanned: Scanned) {
        for branch in scanned.branches {
            let Some(files) = branch.files else {
                if let Some(repo) = self.repos.get_mut(&scanned.id.to_lowercase())
                    && let Some(source) = repo
                        .sources
                        .iter_mut()
                        .find(|s| s.reference == branch.reference)
                {
                    source.signature = branch.signature;
                }
                continue;
            };
            let Ok(parsed) = repo_id(&scanned.id) else {
                continue;
            };
            let mut tree = BTreeMap::new();
            for (path, blob) in files {
                let blob = self.intern(blob);
                tree.insert(path.clone(), FileEntry::new(&path, blob));
            }
            let repo = self.repo_mut(parsed);
            let title = if repo.refs.contains_key(&branch.reference) {
                "Update files"
            } else {
                "Initial commit"
            };
            repo.commit(&branch.reference, Tree::new(tree), title);
            match repo
                .sources
                .iter_mut()
                .find(|s| s.reference == branch.reference)
            {
                Some(source) => source.signature = branch.signature,
                None => repo.sources.push(DirSource {
                    reference: branch.reference,
                    signature: branch.signature,
                }),
            }
        }
    }
}

/// The folders one repo is read from and what they held last time; scanning it needs no lock.
pub(crate) struct DiskPlan {
    id: String,
    dir: PathBuf,
    known: Vec<DirSource>,
}

/// What a scan found: for each branch folder, its signature, and its files when they changed.
pub(crate) struct Scanned {
    id: String,
    branches: Vec<ScannedBranch>,
}

struct ScannedBranch {
    reference: String,
    signature: Signature,
    /// `None` when nothing changed since the last scan.
    files: Option<Vec<(String, Blob)>>,
}

impl DiskPlan {
    /// Lists the repo's branch folders, and reads (and hashes) those whose files changed.
    pub(crate) fn scan(&self) -> io::Result<Scanned> {
        let mut branches = Vec::new();
        let Some((ns, name)) = self.id.split_once('/') else {
            return Ok(Scanned {
                id: self.id.clone(),
                branches,
            });
        };
        let ns_dir = self.dir.join(ns);
        let entries = match fs::read_dir(&ns_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Scanned {
                    id: self.id.clone(),
                    branches,
                });
            }
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let Some(folder) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let reference = match folder.split_once('@') {
                None if folder == name => "refs/heads/main".to_string(),
                Some((repo, encoded)) if repo == name && !encoded.is_empty() => {
                    branch_ref(&crate::query::decode_path_segment(encoded))
                }
                _ => continue,
            };
            let path = entry.path();
            let signature = signature(&path)?;
            let unchanged = self
                .known
                .iter()
                .any(|s| s.reference == reference && s.signature == signature);
            let files = if unchanged {
                None
            } else {
                Some(
                    read_files(&path)?
                        .into_iter()
                        .map(|(p, bytes)| (p, Blob::from_bytes(Bytes::from(bytes))))
                        .collect(),
                )
            };
            branches.push(ScannedBranch {
                reference,
                signature,
                files,
            });
        }
        branches.sort_by(|a, b| a.reference.cmp(&b.reference));
        Ok(Scanned {
            id: self.id.clone(),
            branches,
        })
    }
}

/// The deepest folder nesting read from a repo folder.
const MAX_DEPTH: usize = 32;

/// Every file under `root` (not following symlinked folders, skipping `.git`), by relative
/// path with `/` separators, calling `visit` with each file's path and metadata.
fn walk(root: &Path, mut visit: impl FnMut(String, &Path, fs::Metadata)) -> io::Result<()> {
    let mut stack = vec![(root.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                tracing::warn!(path = %entry.path().display(), "skipped a file whose name is not UTF-8");
                continue;
            };
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if name != ".git" && depth < MAX_DEPTH {
                    stack.push((entry.path(), rel, depth + 1));
                }
            } else {
                let path = entry.path();
                let meta = fs::metadata(&path)?;
                if meta.is_file() {
                    visit(rel, &path, meta);
                }
            }
        }
    }
    Ok(())
}

fn signature(root: &Path) -> io::Result<Signature> {
    let mut out = Vec::new();
    walk(root, |rel, _, meta| {
        out.push((rel, meta.len(), meta.modified().ok()));
    })?;
    out.sort();
    Ok(out)
}

fn read_files(root: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut paths = Vec::new();
    walk(root, |rel, path, _| paths.push((rel, path.to_path_buf())))?;
    paths
        .into_iter()
        .map(|(rel, path)| Ok((rel, fs::read(path)?)))
        .collect()
}

impl FakeHub {
    /// Adds a dataset repo whose `main` branch holds these files (path with `/` separators,
    /// content), or commits them as a new revision of an existing repo's `main`. Files over
    /// 10 MiB or with a binary extension (`.parquet`, `.arrow`, `.gz`, `.zst`, …) are LFS
    /// files; the others are plain git files.
    pub fn add_repo(
        &mut self,
        id: &str,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<(), FakeHubError> {
        self.repos
            .commit(
                id,
                RepoCommit {
                    files,
                    title: "Initial commit".to_string(),
                    ..RepoCommit::default()
                },
            )
            .map(|_| ())
    }

    /// Serves the repos of a directory: each `DIR/ns/name/` is the `main` branch of
    /// `ns/name`, and `DIR/ns/name@REF/` (REF percent-encoded, e.g.
    /// `name@refs%2Fconvert%2Fparquet`) another branch. `DIR/fakehub-access.json` may map
    /// repo ids to [`RepoAccess`] rules. The files are read into memory; when they change on
    /// disk the next request for the repo finds a new commit (the old one stays in the
    /// history), and repos added to the directory later are found too. Returns the number
    /// of repos.
    ///
    /// This reads and hashes every file synchronously: from async code, call it in
    /// `tokio::task::spawn_blocking`.
    pub fn add_repos_dir(&mut self, dir: &Path) -> Result<usize, FakeHubError> {
        self.repos.load_dir(dir)
    }

    /// Adds a repo of `files` generated files of `file_size` bytes each, whose bytes are
    /// computed from `seed` when served (nothing is stored). They are LFS files named
    /// `data/part-00000-of-NNNNN.bin` (`data/blob.bin` when there is one). Hashing reads
    /// every byte once, about 3 s per GiB in a release build: call it in `spawn_blocking`.
    pub fn add_generated_repo(
        &mut self,
        id: &str,
        files: usize,
        file_size: u64,
        seed: u64,
    ) -> Result<(), FakeHubError> {
        self.repos.add_generated(id, files, file_size, seed)
    }

    /// Adds the two benchmark repos: [`BENCH_LARGE_FILE_REPO`] (one 1 GiB file) and
    /// [`BENCH_MANY_FILES_REPO`] (200 files of 200,000 bytes). Takes a few seconds.
    pub fn add_benchmark_repos(&mut self) -> Result<(), FakeHubError> {
        self.repos
            .add_generated(BENCH_LARGE_FILE_REPO, 1, 1 << 30, 1)?;
        self.repos
            .add_generated(BENCH_MANY_FILES_REPO, 200, 200_000, 2)
    }

    /// Sets who may read a repo added before (gated, private, disabled, approved tokens).
    pub fn set_repo_access(&mut self, id: &str, access: RepoAccess) -> Result<(), FakeHubError> {
        self.repos.set_access(id, access)
    }

    /// Ids of the repos with files, sorted.
    pub fn repo_ids(&self) -> Vec<String> {
        self.repos.ids()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, bytes: &[u8]) -> FileEntry {
        FileEntry::new(
            path,
            Arc::new(Blob::from_bytes(Bytes::copy_from_slice(bytes))),
        )
    }

    #[test]
    fn git_files_are_named_by_their_git_blob_id() {
        // `git hash-object` of "hello\n".
        let e = entry("hello.txt", b"hello\n");
        assert!(!e.lfs);
        assert_eq!(hex(&e.oid), "ce013625030ba8dba906f756967f9e9ca394464a");
        assert_eq!(e.etag(), "ce013625030ba8dba906f756967f9e9ca394464a");
    }

    #[test]
    fn binary_extensions_and_big_files_are_lfs_files_named_by_their_pointer() {
        let e = entry("data/train.parquet", b"PAR1");
        assert!(e.lfs);
        let pointer = format!(
            "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize 4\n",
            hex(&Sha256::digest(b"PAR1"))
        );
        assert_eq!(e.oid, git_blob_id(pointer.as_bytes()));
        assert_eq!(e.pointer_size(), pointer.len());
        assert_eq!(e.etag(), hex(&Sha256::digest(b"PAR1")));
        assert!(entry("x.jsonl.gz", b"").lfs && entry("x.ZST", b"").lfs);
        assert!(!entry("x.jsonl", b"").lfs && !entry("README.md", b"").lfs);
        assert!(is_lfs("big.csv", LFS_SIZE_THRESHOLD + 1));
    }

    #[test]
    fn a_nine_digit_size_makes_a_134_byte_pointer() {
        let blob = Blob {
            content: Content::Generated { seed: 0 },
            size: 285_632_877,
            sha256: [0; 32],
            git_sha1: None,
        };
        assert_eq!(lfs_pointer(&blob).len(), 134);
    }

    #[test]
    fn tree_ids_match_git() {
        // `printf 'hello\n' > hello.txt && git add . && git write-tree` gives this root.
        let mut files = BTreeMap::new();
        files.insert("hello.txt".to_string(), entry("hello.txt", b"hello\n"));
        let tree = Tree::new(files);
        assert_eq!(hex(&tree.root), "aaa96ced2d9a1c8e72c56b253a0e2fe78393feb7");
        // The same file one folder down: the folder's tree is the old root.
        let mut files = BTreeMap::new();
        files.insert("d/hello.txt".to_string(), entry("d/hello.txt", b"hello\n"));
        let tree = Tree::new(files);
        assert_eq!(
            hex(&tree.dirs["d"]),
            "aaa96ced2d9a1c8e72c56b253a0e2fe78393feb7"
        );
        assert_eq!(hex(&tree.root), "1917e838d7f5723de678f74cefeb77e0d748618d");
    }

    #[test]
    fn generated_bytes_are_the_same_from_any_offset() {
        let whole = generated_bytes(7, 0, 1000);
        for (offset, len) in [(0, 1000), (3, 17), (8, 64), (13, 987), (999, 1)] {
            assert_eq!(
                generated_bytes(7, offset as u64, len),
                whole[offset..offset + len]
            );
        }
        assert_ne!(generated_bytes(8, 0, 64), whole[..64]);
        let blob = Blob::generated(7, 1000);
        assert_eq!(blob.sha256, <[u8; 32]>::from(Sha256::digest(&whole)));
        assert_eq!(blob.git_sha1, Some(git_blob_id(&whole)));
        assert_eq!(&blob.chunk(10, 20)[..], &whole[10..30]);
    }

    #[test]
    fn commits_keep_history_and_resolve_by_name_ref_or_id() {
        let mut repos = Repos::default();
        let change = |files: Vec<(&str, &str)>| RepoCommit {
            files: files
                .into_iter()
                .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
                .collect(),
            ..RepoCommit::default()
        };
        let (first, made) = repos
            .commit("acme/x", change(vec![("a.txt", "1"), ("d/b.txt", "2")]))
            .unwrap();
        assert!(made);
        let (same, made) = repos
            .commit("acme/x", change(vec![("a.txt", "1")]))
            .unwrap();
        assert_eq!((same.as_str(), made), (first.as_str(), false));
        let (second, made) = repos
            .commit("acme/x", change(vec![("a.txt", "3")]))
            .unwrap();
        assert!(made && second != first);
        let repo = repos.get("ACME/X").unwrap();
        let head = repo.resolve("main").unwrap();
        assert_eq!(Some(head), repo.resolve("refs/heads/main"));
        assert_eq!(Some(head), repo.resolve("HEAD"));
        let old = repo.resolve(&first.to_uppercase()).unwrap();
        assert_eq!(repo.history(head), vec![head, old]);
        assert_eq!(repo.resolve("v1"), None);
        assert_eq!(repo.last_change(head, "a.txt", false), head);
        assert_eq!(repo.last_change(head, "d/b.txt", false), old);
        assert_eq!(repo.last_change(head, "d", true), old);
        assert!(
            repos
                .commit("acme/x", change(vec![("../etc", "x")]))
                .is_err()
        );
        assert!(repos.commit("glue", change(vec![("a", "x")])).is_err());
    }

    #[test]
    fn access_rules() {
        let gated = RepoAccess {
            gated: Gated::Mode(hubdex_core::GateMode::Manual),
            approved_tokens: vec!["ok".into()],
            ..RepoAccess::default()
        };
        assert_eq!(gated.check(None, false), Ok(()));
        assert_eq!(gated.check(None, true), Err(Denial::Gated));
        assert_eq!(gated.check(Some("other"), true), Err(Denial::Gated));
        assert_eq!(gated.check(Some("ok"), true), Ok(()));
        let private = RepoAccess {
            private: true,
            ..gated.clone()
        };
        assert_eq!(private.check(Some("other"), false), Err(Denial::NotFound));
        let disabled = RepoAccess {
            disabled: true,
            ..RepoAccess::default()
        };
        assert_eq!(disabled.check(None, false), Ok(()));
        assert_eq!(disabled.check(None, true), Err(Denial::Disabled));
    }
}
