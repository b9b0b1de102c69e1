//! The disk side of the Hugging Face cache: blob locks, partial blobs that resume, snapshot
//! links, refs, and reading and pruning what is there. Everything here is blocking except
//! [`lock_blob`]; callers run the rest in `spawn_blocking`.
//!
//! Every path comes from [`RepoCache`] with validated names, and removals never leave the
//! dataset's own folder (`datasets--ns--name/`); `remove_dir_all` does not follow links.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hubdex_core::DatasetId;
use hubdex_core::cache::{
    Commit, Etag, RefName, RepoCache, RepoPath, blob_of_link, symlink_target,
};
use hubdex_ipc::{Downloaded, DownloadedRevision};
use tokio_util::sync::CancellationToken;

use super::hash::{ContentHasher, HashKind};

/// How often a held blob lock is tried again.
const LOCK_POLL: Duration = Duration::from_millis(50);
/// The read buffer used to re-hash a partial file.
const REHASH_BUFFER: usize = 1 << 20;
/// Batches waiting for the hashing thread of an in-order append.
const HASH_QUEUE: usize = 2;
/// Most buffers handed to one `writev` (Linux's `IOV_MAX`).
const MAX_IOVECS: usize = 1024;
/// The block a range write always ends on (except at the end of the file), and the unit of
/// the zeros that end the bytes trusted in a reopened partial.
pub(crate) const ZERO_BLOCK: u64 = 4096;

/// An I/O failure with the path it concerns.
#[derive(Debug, thiserror::Error)]
#[error("cannot {what} {}: {source}", path.display())]
pub(crate) struct DiskError {
    /// What was being done, e.g. `write`.
    pub(crate) what: &'static str,
    /// The path.
    pub(crate) path: PathBuf,
    /// The OS error.
    pub(crate) source: io::Error,
}

fn err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> DiskError + 'a {
    move |source| DiskError {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Why a blob lock was not taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    /// The lock file could not be opened.
    #[error(transparent)]
    Disk(#[from] DiskError),
    /// Another program held it for longer than the timeout.
    #[error(
        "another program has held {} for over {} s (a huggingface_hub download of the same file?); let it finish, or raise jobs.lock_timeout",
        path.display(),
        waited.as_secs()
    )]
    Timeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
    /// The job was cancelled while waiting.
    #[error("cancelled while waiting for a lock")]
    Cancelled,
}

/// An advisory lock on `.locks/<repo>/<etag>.lock`, the one `huggingface_hub` takes around
/// writing a blob and linking it; released when dropped.
pub(crate) struct BlobLock {
    _file: File,
}

/// Takes the lock of `etag`, polling while another program holds it, for at most `timeout`.
pub(crate) async fn lock_blob(
    repo: &RepoCache,
    etag: &Etag,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<BlobLock, LockError> {
    let path = repo.lock(etag);
    let opened = {
        let target = path.clone();
        tokio::task::spawn_blocking(move || open_lock_file(&target))
            .await
            .map_err(|e| DiskError {
                what: "open",
                path: path.clone(),
                source: io::Error::other(e.to_string()),
            })??
    };
    let started = Instant::now();
    loop {
        match opened.try_lock() {
            Ok(()) => return Ok(BlobLock { _file: opened }),
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(source)) => {
                return Err(DiskError {
                    what: "lock",
                    path,
                    source,
                }
                .into());
            }
        }
        if started.elapsed() >= timeout {
            return Err(LockError::Timeout {
                path,
                waited: started.elapsed(),
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(LOCK_POLL) => {}
            _ = cancel.cancelled() => return Err(LockError::Cancelled),
        }
    }
}

fn open_lock_file(path: &Path) -> Result<File, DiskError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(err("create", dir))?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(err("open", path))
}

/// True when nobody holds the lock of the blob named `etag` (a missing lock file counts).
fn lock_is_free(repo: &RepoCache, etag: &Etag) -> bool {
    let path = repo.lock(etag);
    match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(file) => file.try_lock().is_ok(),
        Err(e) => e.kind() == io::ErrorKind::NotFound,
    }
}

/// A blob being written to `blobs/<etag>.incomplete`, with its checksum kept up to date, so
/// it can resume from its last byte in this or a later process.
///
/// Bytes arrive in order ([`Partial::append_from`]) or, for large files, as ranges written
/// at their offsets and hashed back in order ([`Partial::hash_written`]). Ranges leave
/// unwritten gaps that read as zeros if the process dies, so when a partial is reopened its
/// first 4 KiB-aligned block of zeros ends the bytes trusted (range writes always end on such
/// a boundary); a file whose content really holds such a block only costs a re-fetch.
pub(crate) struct Partial {
    file: Arc<File>,
    path: PathBuf,
    hasher: ContentHasher,
    kind: HashKind,
    size: u64,
    len: u64,
}

/// Whether `block` holds only zeros.
fn all_zero(block: &[u8]) -> bool {
    block
        .chunks(16)
        .all(|c| c.iter().fold(0u8, |acc, b| acc | b) == 0)
}

/// How many of `data` (which starts at `offset` of the file) come before the first
/// `ZERO_BLOCK`-aligned block of zeros lying wholly inside it; all of it when there is none.
fn before_zero_block(data: &[u8], offset: u64) -> usize {
    let first = offset.next_multiple_of(ZERO_BLOCK) - offset;
    let mut at = usize::try_from(first).unwrap_or(usize::MAX);
    let block = ZERO_BLOCK as usize;
    while at.saturating_add(block) <= data.len() {
        if all_zero(&data[at..at + block]) {
            return at;
        }
        at += block;
    }
    data.len()
}

impl Partial {
    /// Opens (or creates) the partial file of a blob of `size` bytes, re-hashing the bytes
    /// already there so the checksum covers them. `fresh` (or a partial longer than the
    /// file) starts from zero.
    pub(crate) fn open(
        path: &Path,
        kind: HashKind,
        size: u64,
        fresh: bool,
    ) -> Result<Partial, DiskError> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(err("create", dir))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(err("open", path))?;
        let on_disk = file.metadata().map_err(err("read", path))?.len();
        let len = if fresh || on_disk > size { 0 } else { on_disk };
        let mut hasher = ContentHasher::new(kind, size);
        let mut trusted = 0;
        if len > 0 {
            file.seek(SeekFrom::Start(0)).map_err(err("read", path))?;
            let mut buffer = vec![0; REHASH_BUFFER];
            while trusted < len {
                let want = usize::try_from((len - trusted).min(REHASH_BUFFER as u64)).unwrap_or(0);
                let data = &mut buffer[..want];
                if file.read_exact(data).is_err() {
                    break;
                }
                let keep = before_zero_block(data, trusted);
                hasher.update(&data[..keep]);
                trusted += keep as u64;
                if keep < want {
                    break;
                }
            }
        }
        let len = trusted;
        file.seek(SeekFrom::Start(len)).map_err(err("seek", path))?;
        // Only a file that really is longer is cut: on ext4, cutting a file to zero bytes
        // (even an empty one) makes its close write back every page (`auto_da_alloc`), a
        // synchronous pass over the whole blob at the end of every download.
        if on_disk != len {
            file.set_len(len).map_err(err("truncate", path))?;
        }
        Ok(Partial {
            file: Arc::new(file),
            path: path.to_path_buf(),
            hasher,
            kind,
            size,
            len,
        })
    }

    /// The partial file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes on disk so far (in order from the start, and hashed).
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends bytes and hashes them.
    #[cfg(test)]
    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result<(), DiskError> {
        (&*self.file)
            .write_all(bytes)
            .map_err(err("write", &self.path))?;
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Appends every batch `next` gives until it gives `None`: each batch is written with
    /// one `writev` while a second thread hashes the batches in order, so a large file costs
    /// the slower of the two rather than their sum. After an error the partial must not be
    /// used further (a new [`Partial::open`] re-hashes what is on disk).
    pub(crate) fn append_from<B: AsRef<[u8]> + Clone + Send + 'static>(
        &mut self,
        mut next: impl FnMut() -> Option<Vec<B>>,
    ) -> Result<(), DiskError> {
        let (file, path) = (&*self.file, &self.path);
        let hasher = &mut self.hasher;
        let len = &mut self.len;
        std::thread::scope(|scope| {
            let (to_hasher, batches) = std::sync::mpsc::sync_channel::<Vec<B>>(HASH_QUEUE);
            let hashing = scope.spawn(move || {
                for batch in batches {
                    for chunk in &batch {
                        hasher.update(chunk.as_ref());
                    }
                }
            });
            let mut written = Ok(());
            while let Some(batch) = next() {
                let total: u64 = batch.iter().map(|c| c.as_ref().len() as u64).sum();
                if to_hasher.send(batch.clone()).is_err() {
                    written = Err(io::Error::other("the hashing thread stopped"));
                    break;
                }
                if let Err(e) = write_all_vectored(file, &batch) {
                    written = Err(e);
                    break;
                }
                *len += total;
            }
            drop(to_hasher);
            let hashed = hashing
                .join()
                .map_err(|_| io::Error::other("the hashing thread panicked"));
            written.and(hashed)
        })
        .map_err(err("write", path))
    }

    /// The file, for writing ranges at their offsets ([`write_range`]) while this partial
    /// hashes them back in order.
    pub(crate) fn shared_file(&self) -> Arc<File> {
        self.file.clone()
    }

    /// Reads back bytes `len..upto`, written by [`write_range`], and hashes them: the
    /// partial then holds `upto` bytes.
    pub(crate) fn hash_written(&mut self, upto: u64, buffer: &mut [u8]) -> Result<(), DiskError> {
        while self.len < upto && !buffer.is_empty() {
            let want = usize::try_from((upto - self.len).min(buffer.len() as u64)).unwrap_or(0);
            let data = &mut buffer[..want];
            self.file
                .read_exact_at(data, self.len)
                .map_err(err("read", &self.path))?;
            self.hasher.update(data);
            self.len += want as u64;
        }
        Ok(())
    }

    /// Cuts the file after the bytes hashed (dropping ranges written past a gap) and puts
    /// the write position there, for an in-order append to go on.
    pub(crate) fn settle(&mut self) -> Result<(), DiskError> {
        self.file
            .set_len(self.len)
            .map_err(err("truncate", &self.path))?;
        (&*self.file)
            .seek(SeekFrom::Start(self.len))
            .map_err(err("seek", &self.path))?;
        Ok(())
    }

    /// Throws the bytes away to start again from zero.
    pub(crate) fn restart(&mut self) -> Result<(), DiskError> {
        self.file.set_len(0).map_err(err("truncate", &self.path))?;
        (&*self.file)
            .seek(SeekFrom::Start(0))
            .map_err(err("seek", &self.path))?;
        self.hasher = ContentHasher::new(self.kind, self.size);
        self.len = 0;
        Ok(())
    }

    /// The checksum of the bytes so far, in lowercase hex.
    pub(crate) fn digest(&self) -> String {
        self.hasher.clone().finish()
    }

    /// Moves the finished file to `blob` (same folder, so the rename is atomic).
    pub(crate) fn land(self, blob: &Path) -> Result<(), DiskError> {
        drop(self.file);
        fs::rename(&self.path, blob).map_err(err("move into place", blob))
    }
}

/// Writes every chunk at the file's position with as few `writev` calls as possible.
fn write_all_vectored<B: AsRef<[u8]>>(mut file: &File, chunks: &[B]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = chunks
        .iter()
        .map(|c| c.as_ref())
        .filter(|c| !c.is_empty())
        .map(IoSlice::new)
        .collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        let upto = rest.len().min(MAX_IOVECS);
        let n = file.write_vectored(&rest[..upto])?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut rest, n);
    }
    Ok(())
}

/// Writes `chunks` at `offset` of a partial's file (see [`Partial::shared_file`]).
pub(crate) fn write_range<B: AsRef<[u8]>>(
    file: &File,
    path: &Path,
    mut offset: u64,
    chunks: &[B],
) -> Result<(), DiskError> {
    for chunk in chunks {
        let chunk = chunk.as_ref();
        file.write_all_at(chunk, offset)
            .map_err(err("write", path))?;
        offset += chunk.len() as u64;
    }
    Ok(())
}

/// True when `blobs/<etag>` is a complete file of `size` bytes.
pub(crate) fn blob_present(repo: &RepoCache, etag: &Etag, size: u64) -> bool {
    fs::metadata(repo.blob(etag)).is_ok_and(|m| m.is_file() && m.len() == size)
}

/// A name for a temporary file next to `path`, unique in this process.
fn temp_sibling(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}-{n}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// Makes `snapshots/<commit>/<path>` a relative symlink to `blobs/<etag>`, replacing
/// whatever was there in one rename.
pub(crate) fn link(
    repo: &RepoCache,
    commit: &Commit,
    path: &RepoPath,
    etag: &Etag,
) -> Result<(), DiskError> {
    let link = repo.snapshot_file(commit, path);
    let target = symlink_target(path, etag);
    if fs::read_link(&link).is_ok_and(|current| current == target) {
        return Ok(());
    }
    if let Some(dir) = link.parent() {
        fs::create_dir_all(dir).map_err(err("create", dir))?;
    }
    let temp = temp_sibling(&link);
    std::os::unix::fs::symlink(&target, &temp).map_err(err("create the link", &temp))?;
    fs::rename(&temp, &link).map_err(|source| {
        let _ = fs::remove_file(&temp);
        DiskError {
            what: "create the link",
            path: link.clone(),
            source,
        }
    })
}

/// Writes `refs/<name>` = the commit, without a newline, atomically (temp file + rename),
/// creating the snapshot folder it names if need be.
pub(crate) fn write_ref(
    repo: &RepoCache,
    name: &RefName,
    commit: &Commit,
) -> Result<(), DiskError> {
    // A ref to a missing snapshot folder makes `scan_cache_dir` call the repo corrupted,
    // and a revision with no files (or none selected) has no links to create it.
    let snapshot = repo.snapshot_dir(commit);
    fs::create_dir_all(&snapshot).map_err(err("create", &snapshot))?;
    let path = repo.ref_file(name);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(err("create", dir))?;
    }
    let temp = temp_sibling(&path);
    fs::write(&temp, commit.as_str()).map_err(err("write", &temp))?;
    fs::rename(&temp, &path).map_err(|source| {
        let _ = fs::remove_file(&temp);
        DiskError {
            what: "write",
            path: path.clone(),
            source,
        }
    })
}

/// The commit `refs/<name>` holds, if it exists and holds one.
pub(crate) fn read_ref(repo: &RepoCache, name: &RefName) -> Option<Commit> {
    let text = fs::read_to_string(repo.ref_file(name)).ok()?;
    Commit::new(text.trim()).ok()
}

/// Every ref and the text it holds (trimmed), by name (`main`, `refs/convert/parquet`).
pub(crate) fn refs(repo: &RepoCache) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (rel, path) in walk_files(&repo.refs_dir()) {
        if let Ok(text) = fs::read_to_string(&path) {
            out.insert(rel, text.trim().to_string());
        }
    }
    out
}

/// One entry of a snapshot folder.
pub(crate) enum Entry {
    /// A link to `blobs/<etag>`.
    Blob(Etag),
    /// A plain file (what `huggingface_hub` writes where links are impossible), with its size.
    File(u64),
    /// A link somewhere else.
    Other,
}

/// The files of `snapshots/<commit>` by repository path.
pub(crate) fn snapshot_entries(repo: &RepoCache, commit: &str) -> BTreeMap<String, Entry> {
    let dir = repo.snapshots_dir().join(commit);
    walk_files(&dir)
        .into_iter()
        .map(|(rel, path)| {
            let entry = match fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => fs::read_link(&path)
                    .ok()
                    .and_then(|t| blob_of_link(&t))
                    .map_or(Entry::Other, Entry::Blob),
                Ok(m) => Entry::File(m.len()),
                Err(_) => Entry::Other,
            };
            (rel, entry)
        })
        .collect()
}

/// The snapshot folders (commit names).
fn snapshot_commits(repo: &RepoCache) -> Vec<String> {
    let Ok(dir) = fs::read_dir(repo.snapshots_dir()) else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// Files (and links) below `root`, as `/`-separated relative paths, never following links.
fn walk_files(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), root.to_path_buf())];
    while let Some((prefix, dir)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push((rel, entry.path())),
                Ok(_) => out.push((rel, entry.path())),
                Err(_) => {}
            }
        }
    }
    out.sort();
    out
}

/// Complete blobs by etag, with their sizes (partial files left out).
fn blob_sizes(repo: &RepoCache) -> HashMap<String, u64> {
    let Ok(dir) = fs::read_dir(repo.blobs_dir()) else {
        return HashMap::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let meta = e.metadata().ok()?;
            (meta.is_file() && Etag::new(&name).is_ok()).then_some((name, meta.len()))
        })
        .collect()
}

/// What of `id` is in the cache; `None` when its folder does not exist.
pub(crate) fn summary(repo: &RepoCache, id: &DatasetId) -> Option<Downloaded> {
    let dir = repo.dir();
    if !dir.is_dir() {
        return None;
    }
    let sizes = blob_sizes(repo);
    let size_on_disk = fs::read_dir(repo.blobs_dir())
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    let refs = refs(repo);
    let mut revisions: Vec<DownloadedRevision> = snapshot_commits(repo)
        .into_iter()
        .map(|commit| {
            let (mut files, mut size) = (0, 0);
            for entry in snapshot_entries(repo, &commit).into_values() {
                match entry {
                    Entry::Blob(etag) => {
                        if let Some(bytes) = sizes.get(etag.as_str()) {
                            files += 1;
                            size += bytes;
                        }
                    }
                    Entry::File(bytes) => {
                        files += 1;
                        size += bytes;
                    }
                    Entry::Other => {}
                }
            }
            let modified_at = fs::metadata(repo.snapshots_dir().join(&commit))
                .and_then(|m| m.modified())
                .ok()
                .map(DateTime::<Utc>::from);
            DownloadedRevision {
                refs: refs
                    .iter()
                    .filter(|(_, target)| **target == commit)
                    .map(|(name, _)| name.clone())
                    .collect(),
                commit,
                files,
                size,
                modified_at,
            }
        })
        .collect();
    revisions.sort_by(|a, b| {
        b.modified_at
            .cmp(&a.modified_at)
            .then(a.commit.cmp(&b.commit))
    });
    Some(Downloaded {
        dataset: id.clone(),
        path: dir.display().to_string(),
        size_on_disk,
        revisions,
    })
}

/// What a removal freed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Freed {
    /// Snapshot folders removed.
    pub(crate) snapshots: u64,
    /// Blobs removed.
    pub(crate) blobs: u64,
    /// Bytes of those blobs.
    pub(crate) bytes: u64,
}

impl Freed {
    fn add(&mut self, other: Freed) {
        self.snapshots += other.snapshots;
        self.blobs += other.blobs;
        self.bytes += other.bytes;
    }
}

/// Removes blobs no snapshot links to, skipping partial files and blobs whose lock another
/// program holds (it may be about to link them).
pub(crate) fn remove_unused_blobs(repo: &RepoCache) -> Result<Freed, DiskError> {
    let used: HashSet<String> = snapshot_commits(repo)
        .iter()
        .flat_map(|commit| snapshot_entries(repo, commit).into_values())
        .filter_map(|entry| match entry {
            Entry::Blob(etag) => Some(etag.as_str().to_string()),
            _ => None,
        })
        .collect();
    let mut freed = Freed::default();
    for (name, size) in blob_sizes(repo) {
        if used.contains(&name) {
            continue;
        }
        let Ok(etag) = Etag::new(&name) else { continue };
        if !lock_is_free(repo, &etag) {
            continue;
        }
        let path = repo.blob(&etag);
        fs::remove_file(&path).map_err(err("remove", &path))?;
        freed.blobs += 1;
        freed.bytes += size;
    }
    Ok(freed)
}

/// Removes `snapshots/<commit>`, its `.no_exist/<commit>` and every ref pointing at it, then
/// the blobs nothing links to any more. The whole folder goes when no snapshot is left and
/// nothing is being downloaded into it.
pub(crate) fn remove_revision(repo: &RepoCache, commit: &Commit) -> Result<Freed, DiskError> {
    let mut freed = Freed::default();
    let snapshot = repo.snapshot_dir(commit);
    if fs::symlink_metadata(&snapshot).is_ok() {
        fs::remove_dir_all(&snapshot).map_err(err("remove", &snapshot))?;
        freed.snapshots += 1;
    }
    let no_exist = repo.dir().join(".no_exist").join(commit.as_str());
    if fs::symlink_metadata(&no_exist).is_ok() {
        fs::remove_dir_all(&no_exist).map_err(err("remove", &no_exist))?;
    }
    for (name, target) in refs(repo) {
        if target == commit.as_str() {
            let Ok(name) = RefName::new(&name) else {
                continue;
            };
            let path = repo.ref_file(&name);
            fs::remove_file(&path).map_err(err("remove", &path))?;
            remove_empty_parents(&path, &repo.refs_dir());
        }
    }
    freed.add(remove_unused_blobs(repo)?);
    let nothing_left = snapshot_commits(repo).is_empty()
        && fs::read_dir(repo.blobs_dir()).map_or(true, |mut d| d.next().is_none());
    if nothing_left {
        let dir = repo.dir();
        fs::remove_dir_all(&dir).map_err(err("remove", &dir))?;
    }
    Ok(freed)
}

/// Removes the dataset's whole cache folder. Refuses a folder that is a symbolic link (its
/// contents live somewhere hubdex should not reach into).
pub(crate) fn remove_all(repo: &RepoCache) -> Result<Freed, DiskError> {
    let dir = repo.dir();
    let meta = fs::symlink_metadata(&dir).map_err(err("read", &dir))?;
    if meta.file_type().is_symlink() {
        return Err(DiskError {
            what: "remove",
            path: dir,
            source: io::Error::other(
                "it is a symbolic link; hubdex only removes real cache folders, remove it yourself",
            ),
        });
    }
    let freed = Freed {
        snapshots: snapshot_commits(repo).len() as u64,
        blobs: blob_sizes(repo).len() as u64,
        bytes: blob_sizes(repo).values().sum(),
    };
    fs::remove_dir_all(&dir).map_err(err("remove", &dir))?;
    Ok(freed)
}

/// Removes a snapshot folder no ref points at any more (an update's old commit).
pub(crate) fn remove_snapshot_if_unreferenced(
    repo: &RepoCache,
    commit: &Commit,
) -> Result<bool, DiskError> {
    if refs(repo).values().any(|target| target == commit.as_str()) {
        return Ok(false);
    }
    let snapshot = repo.snapshot_dir(commit);
    if fs::symlink_metadata(&snapshot).is_err() {
        return Ok(false);
    }
    fs::remove_dir_all(&snapshot).map_err(err("remove", &snapshot))?;
    let no_exist = repo.dir().join(".no_exist").join(commit.as_str());
    let _ = fs::remove_dir_all(no_exist);
    Ok(true)
}

/// Removes partial blob files (hubdex's `<etag>.incomplete` and `huggingface_hub`'s
/// `<etag>.<hex>.incomplete`) whose lock nobody holds. Returns how many went.
pub(crate) fn sweep_incomplete(repo: &RepoCache) -> usize {
    let Ok(dir) = fs::read_dir(repo.blobs_dir()) else {
        return 0;
    };
    let mut removed = 0;
    for entry in dir.filter_map(Result::ok) {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".incomplete") else {
            continue;
        };
        let etag_text = stem.split('.').next().unwrap_or(stem);
        let Ok(etag) = Etag::new(etag_text) else {
            continue;
        };
        if lock_is_free(repo, &etag) && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Removes the now-empty folders between `path` and `stop` (exclusive).
fn remove_empty_parents(path: &Path, stop: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == stop || !d.starts_with(stop) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C1: &str = "1111111111111111111111111111111111111111";
    const C2: &str = "2222222222222222222222222222222222222222";

    fn repo(root: &Path) -> RepoCache {
        RepoCache::new(root, &"acme/tiny".parse().unwrap())
    }

    fn put_blob(r: &RepoCache, etag: &str, bytes: &[u8]) -> Etag {
        let etag = Etag::new(etag).unwrap();
        fs::create_dir_all(r.blobs_dir()).unwrap();
        fs::write(r.blob(&etag), bytes).unwrap();
        etag
    }

    fn snapshot(r: &RepoCache, commit: &str, files: &[(&str, &Etag)]) {
        let c = Commit::new(commit).unwrap();
        for (path, etag) in files {
            link(r, &c, &RepoPath::new(path).unwrap(), etag).unwrap();
        }
    }

    #[test]
    fn partial_files_resume_with_the_same_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blobs/x.incomplete");
        let content = b"hello world, resumed";
        let mut whole = ContentHasher::new(HashKind::Sha256, content.len() as u64);
        whole.update(content);
        let expected = whole.finish();
        {
            let mut p =
                Partial::open(&path, HashKind::Sha256, content.len() as u64, false).unwrap();
            p.append(&content[..7]).unwrap();
        }
        let mut p = Partial::open(&path, HashKind::Sha256, content.len() as u64, false).unwrap();
        assert_eq!(p.len(), 7, "the bytes of the first process are kept");
        p.append(&content[7..]).unwrap();
        assert_eq!(p.digest(), expected);
        let blob = dir.path().join("blobs/x");
        p.land(&blob).unwrap();
        assert_eq!(fs::read(&blob).unwrap(), content);
        assert!(!path.exists());
    }

    #[test]
    fn big_batches_are_hashed_alongside_the_write_to_the_same_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.incomplete");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let mut whole = ContentHasher::new(HashKind::GitBlobSha1, data.len() as u64);
        whole.update(&data);
        let size = data.len() as u64;
        let mut p = Partial::open(&path, HashKind::GitBlobSha1, size, false).unwrap();
        let mut batches: Vec<Vec<Vec<u8>>> = vec![vec![data[..1000].to_vec()]];
        batches.extend(
            data[1000..]
                .chunks(700_000)
                .map(|b| b.chunks(100_000).map(<[u8]>::to_vec).collect()),
        );
        let mut batches = batches.into_iter();
        p.append_from(|| batches.next()).unwrap();
        assert_eq!(p.len(), size);
        assert_eq!(p.digest(), whole.finish());
        drop(p);
        assert_eq!(fs::read(&path).unwrap(), data);
    }

    #[test]
    fn a_reopened_partial_trusts_its_bytes_up_to_the_first_block_of_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.incomplete");
        // What parallel ranges leave after a crash: a prefix, a gap, a later range.
        let prefix: Vec<u8> = (0..3 * ZERO_BLOCK).map(|i| (i % 251) as u8 | 1).collect();
        {
            let file = File::create(&path).unwrap();
            file.write_all_at(&prefix, 0).unwrap();
            file.write_all_at(&[7u8; 5000], 6 * ZERO_BLOCK).unwrap();
        }
        let size = 10 * ZERO_BLOCK;
        let p = Partial::open(&path, HashKind::Sha256, size, false).unwrap();
        assert_eq!(p.len(), prefix.len() as u64);
        let mut expected = ContentHasher::new(HashKind::Sha256, size);
        expected.update(&prefix);
        assert_eq!(p.digest(), expected.finish());
        assert_eq!(fs::metadata(&path).unwrap().len(), prefix.len() as u64);
        // Without a block of zeros every byte is kept, whatever the length.
        fs::write(&path, [5u8; 9999]).unwrap();
        let p = Partial::open(&path, HashKind::Sha256, size, false).unwrap();
        assert_eq!(p.len(), 9999);
    }

    #[test]
    fn ranges_written_out_of_order_are_hashed_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.incomplete");
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
        let size = data.len() as u64;
        let mut p = Partial::open(&path, HashKind::GitBlobSha1, size, false).unwrap();
        let file = p.shared_file();
        write_range(&file, &path, 20_000, &[&data[20_000..]]).unwrap();
        write_range(&file, &path, 0, &[&data[..8192], &data[8192..20_000]]).unwrap();
        let mut buffer = vec![0; 4096];
        p.hash_written(12_000, &mut buffer).unwrap();
        assert_eq!(p.len(), 12_000);
        p.hash_written(size, &mut buffer).unwrap();
        let mut whole = ContentHasher::new(HashKind::GitBlobSha1, size);
        whole.update(&data);
        assert_eq!(p.digest(), whole.finish());
        p.settle().unwrap();
        p.land(&dir.path().join("o")).unwrap();
        assert_eq!(fs::read(dir.path().join("o")).unwrap(), data);
    }

    #[test]
    fn a_partial_longer_than_the_file_or_a_forced_one_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.incomplete");
        fs::write(&path, b"0123456789").unwrap();
        assert_eq!(
            Partial::open(&path, HashKind::Sha256, 5, false)
                .unwrap()
                .len(),
            0
        );
        fs::write(&path, b"0123").unwrap();
        assert_eq!(
            Partial::open(&path, HashKind::Sha256, 5, true)
                .unwrap()
                .len(),
            0
        );
        fs::write(&path, b"0123").unwrap();
        let mut p = Partial::open(&path, HashKind::Sha256, 5, false).unwrap();
        assert_eq!(p.len(), 4);
        p.restart().unwrap();
        assert_eq!(p.len(), 0);
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
    }

    #[test]
    fn links_are_relative_and_refs_have_no_newline() {
        let dir = tempfile::tempdir().unwrap();
        let r = repo(dir.path());
        let e = put_blob(&r, "aaaa", b"x");
        snapshot(&r, C1, &[("data/a.csv", &e), ("README.md", &e)]);
        let c1 = Commit::new(C1).unwrap();
        let nested = r.snapshot_file(&c1, &RepoPath::new("data/a.csv").unwrap());
        assert_eq!(
            fs::read_link(&nested).unwrap(),
            Path::new("../../../blobs/aaaa")
        );
        assert_eq!(fs::read(&nested).unwrap(), b"x", "the link resolves");
        // Linking again (or over a wrong entry) leaves one correct link.
        let top = r.snapshot_file(&c1, &RepoPath::new("README.md").unwrap());
        fs::remove_file(&top).unwrap();
        fs::write(&top, b"stale").unwrap();
        snapshot(&r, C1, &[("README.md", &e)]);
        assert_eq!(fs::read_link(&top).unwrap(), Path::new("../../blobs/aaaa"));
        let main = RefName::new("main").unwrap();
        write_ref(&r, &main, &c1).unwrap();
        assert_eq!(fs::read(r.ref_file(&main)).unwrap(), C1.as_bytes());
        assert_eq!(read_ref(&r, &main), Some(c1));
        let leftovers: Vec<_> = fs::read_dir(r.refs_dir()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file is left behind");
        // A ref never names a missing snapshot folder, even for a revision with no files.
        let empty = Commit::new(C2).unwrap();
        write_ref(&r, &RefName::new("empty").unwrap(), &empty).unwrap();
        assert!(r.snapshot_dir(&empty).is_dir());
    }

    #[test]
    fn removing_a_revision_keeps_blobs_other_revisions_use() {
        let dir = tempfile::tempdir().unwrap();
        let r = repo(dir.path());
        let shared = put_blob(&r, "5a5a", b"shared");
        let old_only = put_blob(&r, "01d0", b"old!");
        let new_only = put_blob(&r, "0e0e", b"new");
        snapshot(&r, C1, &[("a", &shared), ("b", &old_only)]);
        snapshot(&r, C2, &[("a", &shared), ("b", &new_only)]);
        write_ref(&r, &RefName::new("v1").unwrap(), &Commit::new(C1).unwrap()).unwrap();
        write_ref(
            &r,
            &RefName::new("main").unwrap(),
            &Commit::new(C2).unwrap(),
        )
        .unwrap();
        let outside = dir.path().join("outside.txt");
        fs::write(&outside, b"keep me").unwrap();

        let freed = remove_revision(&r, &Commit::new(C1).unwrap()).unwrap();
        assert_eq!(
            freed,
            Freed {
                snapshots: 1,
                blobs: 1,
                bytes: 4
            }
        );
        assert!(r.blob(&shared).exists());
        assert!(r.blob(&new_only).exists());
        assert!(!r.blob(&old_only).exists());
        assert!(!r.ref_file(&RefName::new("v1").unwrap()).exists());
        let left = summary(&r, &"acme/tiny".parse().unwrap()).unwrap();
        assert_eq!(left.revisions.len(), 1);
        assert_eq!(left.revisions[0].refs, ["main"]);
        assert_eq!((left.revisions[0].files, left.revisions[0].size), (2, 9));

        remove_revision(&r, &Commit::new(C2).unwrap()).unwrap();
        assert!(!r.dir().exists(), "nothing left: the folder goes");
        assert!(
            outside.exists(),
            "nothing outside the dataset's folder is touched"
        );
    }

    #[test]
    fn sweeping_spares_partials_someone_is_writing() {
        let dir = tempfile::tempdir().unwrap();
        let r = repo(dir.path());
        fs::create_dir_all(r.blobs_dir()).unwrap();
        let busy = Etag::new("b0b0").unwrap();
        let idle = Etag::new("1d1e").unwrap();
        fs::write(r.incomplete(&busy), b"..").unwrap();
        fs::write(r.incomplete(&idle), b"..").unwrap();
        fs::write(r.blobs_dir().join("1d1e.3f2a9b1c.incomplete"), b"..").unwrap();
        let held = open_lock_file(&r.lock(&busy)).unwrap();
        held.lock().unwrap();
        assert_eq!(sweep_incomplete(&r), 2);
        assert!(r.incomplete(&busy).exists());
        assert!(!r.incomplete(&idle).exists());
    }

    #[tokio::test]
    async fn a_held_blob_lock_times_out_and_a_free_one_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let r = repo(dir.path());
        let etag = Etag::new("abcd").unwrap();
        let cancel = CancellationToken::new();
        let first = lock_blob(&r, &etag, Duration::from_secs(1), &cancel)
            .await
            .unwrap();
        let second = lock_blob(&r, &etag, Duration::from_millis(120), &cancel).await;
        assert!(matches!(second, Err(LockError::Timeout { .. })));
        drop(first);
        assert!(
            lock_blob(&r, &etag, Duration::from_millis(120), &cancel)
                .await
                .is_ok()
        );
    }
}
