//! Fetching a revision's files into the cache: plan from the tree, skip what the cache has,
//! probe the rest, then stream each into `blobs/<etag>.incomplete` under the blob's lock,
//! resuming from the bytes already there, verify, rename into place and link the snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use hubdex_core::DatasetId;
use hubdex_core::cache::{Commit, Etag, RepoCache, RepoPath};
use hubdex_hub::{EntryKind, FileMetadata, HubClient, HubError, TreeEntry};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::config::JobsConfig;
use super::disk::{self, DiskError, Partial};
use super::error::{JobError, transient};
use super::hash::HashKind;
use super::progress::Tracker;
use super::{ranges, retry};
use crate::metrics::JobMetrics;

/// Batches queued between the network and the disk writer of one file.
const WRITE_QUEUE: usize = 2;
/// Bytes gathered into one batch for the disk writer: fewer hand-overs between threads, and
/// with [`WRITE_QUEUE`] at most about 3 MiB of a file in memory (queues of 4, here and in
/// the hasher's, added 7 MiB to the daemon's peak during a 1 GiB download, and no speed).
const BATCH_BYTES: usize = 1 << 20;
/// A batch not yet full is written anyway after this long without a new chunk.
const FLUSH_AFTER: Duration = Duration::from_millis(100);
/// How long one connection's rate is watched, from its first byte, before deciding whether
/// a large file widens to parallel ranges (`jobs.range_below_mib_per_sec`).
#[cfg(not(test))]
const RATE_PROBE: Duration = Duration::from_secs(1);
#[cfg(test)]
const RATE_PROBE: Duration = Duration::from_millis(150);

/// What a running job needs to fetch files.
pub(crate) struct Ctx {
    /// The Hub client for job requests (its retry policy follows the jobs config).
    pub(crate) hub: HubClient,
    /// The dataset.
    pub(crate) id: DatasetId,
    /// The dataset's folder in the cache.
    pub(crate) repo: RepoCache,
    /// Retries and time limits.
    pub(crate) config: JobsConfig,
    /// Where progress is reported.
    pub(crate) tracker: Arc<Tracker>,
    /// Counters for `/metrics`.
    pub(crate) metrics: JobMetrics,
    /// Fires when the job is cancelled.
    pub(crate) cancel: CancellationToken,
    /// Fetch even what the cache has.
    pub(crate) force: bool,
}

impl Ctx {
    /// Runs blocking disk work off the async threads.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, JobError> {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| JobError::Task(e.to_string()))
    }
}

/// One blob to put in place and the paths that show it (identical files share a blob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileTask {
    /// The paths, sorted; the first names the file in progress reports.
    pub(crate) paths: Vec<RepoPath>,
    /// Bytes of the content.
    pub(crate) size: u64,
    /// The blob's name as the tree predicts it (`lfs.oid` or the git oid).
    pub(crate) etag: Option<Etag>,
    /// Whether the tree says the file is in LFS (its etag is then a sha256).
    pub(crate) lfs: bool,
}

/// The files of a tree listing that `keep` takes, one task per distinct content.
pub(crate) fn plan(
    entries: &[TreeEntry],
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<FileTask>, JobError> {
    let mut by_blob: BTreeMap<String, FileTask> = BTreeMap::new();
    for entry in entries {
        if entry.kind != EntryKind::File || !keep(&entry.path) {
            continue;
        }
        let path = RepoPath::new(&entry.path)?;
        let (predicted, size) = match &entry.lfs {
            Some(lfs) => (lfs.sha256.as_str(), lfs.size),
            None => (entry.oid.as_str(), entry.size),
        };
        let etag = Etag::new(predicted).ok();
        let key = match &etag {
            Some(e) => e.as_str().to_string(),
            None => format!("/{}", path.as_str()),
        };
        by_blob
            .entry(key)
            .or_insert_with(|| FileTask {
                paths: Vec::new(),
                size,
                etag,
                lfs: entry.lfs.is_some(),
            })
            .paths
            .push(path);
    }
    let mut tasks: Vec<FileTask> = by_blob.into_values().collect();
    for task in &mut tasks {
        task.paths.sort();
    }
    tasks.sort_by(|a, b| a.paths.cmp(&b.paths));
    Ok(tasks)
}

/// Puts every task's blob in place and links its paths into `snapshots/<commit>/`, with
/// `jobs.files_per_job` files in flight. Stops at the first file that fails.
pub(crate) async fn fetch_all(
    ctx: &Ctx,
    commit: &Commit,
    tasks: Vec<FileTask>,
) -> Result<(), JobError> {
    let files = tasks.iter().map(|t| t.paths.len() as u64).sum();
    let bytes = tasks.iter().map(|t| t.size).sum();
    ctx.tracker.plan(files, bytes);
    futures::stream::iter(tasks.into_iter().map(Ok))
        .try_for_each_concurrent(ctx.config.files_per_job, |task| {
            fetch_task(ctx, commit, task)
        })
        .await
}

/// Links every path of `task` to `etag` if the blob is in place (and the job does not force
/// a new download). Returns whether it was.
async fn link_if_present(
    ctx: &Ctx,
    commit: &Commit,
    task: &FileTask,
    etag: &Etag,
    size: u64,
) -> Result<bool, JobError> {
    if ctx.force {
        return Ok(false);
    }
    let (repo, commit, paths, etag) = (
        ctx.repo.clone(),
        commit.clone(),
        task.paths.clone(),
        etag.clone(),
    );
    ctx.blocking(move || -> Result<bool, DiskError> {
        if !disk::blob_present(&repo, &etag, size) {
            return Ok(false);
        }
        for path in &paths {
            disk::link(&repo, &commit, path, &etag)?;
        }
        Ok(true)
    })
    .await?
    .map_err(JobError::from)
}

fn done(ctx: &Ctx, task: &FileTask, cached: bool) {
    for (i, path) in task.paths.iter().enumerate() {
        let size = if i == 0 { task.size } else { 0 };
        ctx.tracker.file_done(path.as_str(), size, cached);
    }
}

async fn fetch_task(ctx: &Ctx, commit: &Commit, task: FileTask) -> Result<(), JobError> {
    let Some(first) = task.paths.first().cloned() else {
        return Ok(());
    };
    if let Some(etag) = &task.etag
        && link_if_present(ctx, commit, &task, etag, task.size).await?
    {
        done(ctx, &task, true);
        return Ok(());
    }
    let context = || {
        format!(
            "file `{first}` of `{}` at {}",
            ctx.id,
            &commit.as_str()[..8]
        )
    };
    // The tree of the commit already gave the etag and size: no HEAD probe is needed,
    // the GET of the resolve URL is redirected to the CDN as the probe would have said.
    let meta = match task.etag.as_ref().filter(|e| is_content_hash(e, task.lfs)) {
        Some(etag) => ctx.hub.file_at_commit(
            &ctx.id,
            commit.as_str(),
            first.as_str(),
            etag.as_str(),
            task.size,
            task.lfs,
        ),
        None => {
            let meta = ctx
                .hub
                .file_metadata(&ctx.id, commit.as_str(), first.as_str())
                .await
                .map_err(|e| JobError::hub(context(), e))?;
            if link_if_present(ctx, commit, &task, &Etag::new(&meta.etag)?, meta.size).await? {
                done(ctx, &task, true);
                return Ok(());
            }
            meta
        }
    };
    let etag = Etag::new(&meta.etag)?;
    let lock = disk::lock_blob(&ctx.repo, &etag, ctx.config.lock_timeout, &ctx.cancel).await?;
    // Another program may have finished the blob while we waited for its lock.
    if link_if_present(ctx, commit, &task, &etag, meta.size).await? {
        drop(lock);
        done(ctx, &task, true);
        return Ok(());
    }
    let transferred = transfer(ctx, commit, meta, &etag, first.as_str()).await;
    if transferred.is_err() {
        ctx.tracker.file_abandoned(first.as_str());
    }
    transferred?;
    let (repo, commit, paths, etag) = (ctx.repo.clone(), commit.clone(), task.paths.clone(), etag);
    ctx.blocking(move || -> Result<(), DiskError> {
        for path in &paths {
            disk::link(&repo, &commit, path, &etag)?;
        }
        Ok(())
    })
    .await??;
    drop(lock);
    done(ctx, &task, false);
    Ok(())
}

/// Whether a tree's etag is a real content hash (sha256 for LFS files, the git blob sha1
/// otherwise) that a download can be verified against without a HEAD probe.
fn is_content_hash(etag: &Etag, lfs: bool) -> bool {
    let digits = if lfs { 64 } else { 40 };
    etag.as_str().len() == digits && etag.as_str().bytes().all(|b| b.is_ascii_hexdigit())
}

/// Why one try at a file's bytes ended early.
pub(crate) enum Interrupted {
    /// The request for the bytes failed after the client's own retries.
    Refused(HubError),
    /// The connection broke mid-body.
    Broken(HubError),
    /// No byte came for `jobs.stall_timeout`.
    Stalled,
    /// The server sent more bytes than the file has, or resumed at another offset.
    Garbled(String),
    /// The disk writer failed.
    Disk(DiskError),
    /// The server answered a range with the whole file: fetch over one connection.
    NoRanges,
    /// One connection was slower than `jobs.range_below_mib_per_sec`: fetch the rest as
    /// parallel ranges.
    Widen,
}

/// True for the refusals a fresh probe can cure: the signed CDN URL expired (403, or a 401
/// from a CDN that wants a new signature).
fn url_expired(error: &HubError) -> bool {
    matches!(
        error,
        HubError::Status {
            status: 401 | 403,
            ..
        }
    )
}

/// Downloads one blob into place: resume, stream, verify (size and checksum), rename. Must
/// be called with the blob's lock held. `meta` is probed again when its download URL stops
/// working (signed CDN URLs expire after an hour).
async fn transfer(
    ctx: &Ctx,
    commit: &Commit,
    mut meta: FileMetadata,
    etag: &Etag,
    label: &str,
) -> Result<(), JobError> {
    let kind = if meta.is_lfs {
        HashKind::Sha256
    } else {
        HashKind::GitBlobSha1
    };
    let size = meta.size;
    let incomplete = ctx.repo.incomplete(etag);
    let force = ctx.force;
    let mut partial = ctx
        .blocking(move || Partial::open(&incomplete, kind, size, force))
        .await??;
    ctx.tracker.file_started(label, partial.len(), size);
    let expected = etag.as_str().to_ascii_lowercase();
    let context = || format!("file `{label}` of `{}`", ctx.id);
    let (mut stuck, mut corrupt, mut reprobed) = (0u32, 0u32, 0u32);
    let mut ranges_work = ctx.config.range_connections > 1;
    let mut widened = ctx.config.range_below_mib_per_sec == 0;
    loop {
        let before = partial.len();
        let large = ranges_work && size.saturating_sub(partial.len()) >= ctx.config.range_min_size;
        let (back, ended) = if large && widened {
            ranges::attempt(ctx, &meta, partial, label).await?
        } else {
            let widen_below =
                large.then_some(ctx.config.range_below_mib_per_sec.saturating_mul(1 << 20));
            attempt(ctx, &meta, partial, label, widen_below).await?
        };
        partial = back;
        let server_wait = match ended {
            None => {
                let digest = partial.digest();
                if partial.len() == size && digest == expected {
                    let blob = ctx.repo.blob(etag);
                    ctx.blocking(move || partial.land(&blob)).await??;
                    return Ok(());
                }
                ctx.metrics.verification_failures.inc();
                corrupt += 1;
                let detail = if partial.len() == size {
                    format!("its {} is {digest}, not {expected}", kind.name())
                } else {
                    format!("{} bytes arrived, not {size}", partial.len())
                };
                tracing::warn!(file = label, detail, "a download failed verification");
                partial = restart(ctx, partial, label).await?;
                if corrupt > ctx.config.retries {
                    return Err(JobError::Verification {
                        path: label.to_string(),
                        tries: corrupt,
                        detail,
                    });
                }
                None
            }
            Some(Interrupted::Disk(e)) => return Err(e.into()),
            Some(Interrupted::NoRanges) => {
                tracing::info!(
                    file = label,
                    "the server does not serve ranges; fetching over one connection"
                );
                ranges_work = false;
                continue;
            }
            Some(Interrupted::Widen) => {
                tracing::info!(
                    file = label,
                    connections = ctx.config.range_connections,
                    "one connection is slow; fetching the rest as parallel ranges"
                );
                widened = true;
                continue;
            }
            Some(Interrupted::Refused(e)) if url_expired(&e) && reprobed < ctx.config.retries => {
                reprobed += 1;
                tracing::info!(
                    file = label,
                    "the download URL stopped working; probing again"
                );
                meta = ctx
                    .hub
                    .file_metadata(&ctx.id, commit.as_str(), label)
                    .await
                    .map_err(|e| JobError::hub(context(), e))?;
                if meta.size != size || !meta.etag.eq_ignore_ascii_case(etag.as_str()) {
                    return Err(JobError::Refused(format!(
                        "{} changed on the Hub while it was being downloaded; download it again",
                        context()
                    )));
                }
                continue;
            }
            // The client has already retried the request itself (statuses, network).
            Some(Interrupted::Refused(e)) => return Err(JobError::hub(context(), e)),
            Some(Interrupted::Broken(e)) => {
                stuck = if partial.len() > before { 1 } else { stuck + 1 };
                if stuck > ctx.config.retries {
                    return Err(JobError::GaveUp {
                        path: label.to_string(),
                        tries: stuck,
                        last: e.to_string(),
                    });
                }
                tracing::info!(file = label, error = %e, "a transfer broke off; resuming");
                transient(&e).flatten()
            }
            Some(Interrupted::Stalled) => {
                stuck = if partial.len() > before { 1 } else { stuck + 1 };
                if stuck > ctx.config.retries {
                    return Err(JobError::GaveUp {
                        path: label.to_string(),
                        tries: stuck,
                        last: format!(
                            "no byte arrived for {}",
                            humantime::format_duration(ctx.config.stall_timeout)
                        ),
                    });
                }
                tracing::info!(file = label, "the transfer stalled; resuming");
                None
            }
            Some(Interrupted::Garbled(why)) => {
                ctx.metrics.verification_failures.inc();
                corrupt += 1;
                partial = restart(ctx, partial, label).await?;
                if corrupt > ctx.config.retries {
                    return Err(JobError::Verification {
                        path: label.to_string(),
                        tries: corrupt,
                        detail: why,
                    });
                }
                None
            }
        };
        ctx.tracker.retried();
        ctx.metrics.retries.inc();
        let retry = stuck.max(corrupt).saturating_sub(1);
        let wait = retry::delay(retry, ctx.config.retry_delay, server_wait);
        tokio::time::sleep(wait).await;
    }
}

async fn restart(ctx: &Ctx, mut partial: Partial, label: &str) -> Result<Partial, JobError> {
    let partial = ctx
        .blocking(move || partial.restart().map(|()| partial))
        .await??;
    ctx.tracker.restarted(label);
    Ok(partial)
}

/// One GET from the partial's end to the end of the file. Returns the partial (with what
/// arrived appended) and why the try ended early, if it did. With `widen_below` (bytes per
/// second), a connection slower than that over its first [`RATE_PROBE`] ends the try with
/// [`Interrupted::Widen`] while enough of the file is left for parallel ranges.
async fn attempt(
    ctx: &Ctx,
    meta: &FileMetadata,
    mut partial: Partial,
    label: &str,
    mut widen_below: Option<u64>,
) -> Result<(Partial, Option<Interrupted>), JobError> {
    let start = partial.len();
    if start >= meta.size {
        return Ok((partial, None));
    }
    // No stall watchdog here: the client bounds each wait for an answer, and retries (and
    // waits out a `Retry-After`) by itself.
    let download = match ctx.hub.download(meta, start).await {
        Err(HubError::RangeNotSatisfiable { .. }) => {
            let why = format!("the server has fewer than the {start} bytes already here");
            return Ok((partial, Some(Interrupted::Garbled(why))));
        }
        Err(e) => return Ok((partial, Some(Interrupted::Refused(e)))),
        Ok(download) => download,
    };
    if download.start != start {
        if download.start != 0 {
            let why = format!(
                "the server resumed at byte {} when asked for byte {start}",
                download.start
            );
            return Ok((partial, Some(Interrupted::Garbled(why))));
        }
        partial = restart(ctx, partial, label).await?;
    }
    let stall = ctx.config.stall_timeout;
    let (tx, rx) = mpsc::channel(WRITE_QUEUE);
    let writer = spawn_writer(partial, rx);
    let mut body = download.body;
    let mut received = download.start;
    let mut ended = None;
    let (mut batch, mut batched) = (Vec::new(), 0usize);
    let mut last_byte = tokio::time::Instant::now();
    let mut first_byte: Option<tokio::time::Instant> = None;
    loop {
        let silence = last_byte.elapsed();
        if silence >= stall {
            ended = Some(Interrupted::Stalled);
            break;
        }
        if let (Some(rate), Some(first)) = (widen_below, first_byte) {
            let watched: Duration = tokio::time::Instant::now() - first;
            if watched >= RATE_PROBE {
                widen_below = None;
                let got = received - download.start;
                let left = meta.size - received;
                if (got as f64) < rate as f64 * watched.as_secs_f64()
                    && left >= ctx.config.range_min_size
                {
                    ended = Some(Interrupted::Widen);
                    break;
                }
            }
        }
        // A pause flushes what is gathered, so the partial file holds every byte received.
        let mut wait = if batch.is_empty() {
            stall - silence
        } else {
            FLUSH_AFTER.min(stall - silence)
        };
        if let (Some(_), Some(first)) = (widen_below, first_byte) {
            wait = wait
                .min((first + RATE_PROBE).saturating_duration_since(tokio::time::Instant::now()));
        }
        match tokio::time::timeout(wait, body.next()).await {
            Err(_) => {
                if !batch.is_empty() {
                    if tx.send(std::mem::take(&mut batch)).await.is_err() {
                        break;
                    }
                    ctx.tracker.received(label, batched as u64);
                    ctx.metrics.bytes_downloaded.inc_by(batched as u64);
                    batched = 0;
                }
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                ended = Some(Interrupted::Broken(e));
                break;
            }
            Ok(Some(Ok(chunk))) => {
                let n = chunk.len() as u64;
                if received + n > meta.size {
                    ended = Some(Interrupted::Garbled(format!(
                        "the server sent more than the {} bytes the file has",
                        meta.size
                    )));
                    break;
                }
                received += n;
                last_byte = tokio::time::Instant::now();
                first_byte.get_or_insert(last_byte);
                batched += chunk.len();
                batch.push(chunk);
                if batched >= BATCH_BYTES {
                    if tx.send(std::mem::take(&mut batch)).await.is_err() {
                        break;
                    }
                    ctx.tracker.received(label, batched as u64);
                    ctx.metrics.bytes_downloaded.inc_by(batched as u64);
                    batched = 0;
                }
            }
        }
    }
    // What arrived before the end (or the failure) is kept, so a retry resumes after it.
    if !batch.is_empty() && tx.send(batch).await.is_ok() {
        ctx.tracker.received(label, batched as u64);
        ctx.metrics.bytes_downloaded.inc_by(batched as u64);
    }
    drop(tx);
    drop(body);
    let (partial, written) = writer.await.map_err(|e| JobError::Task(e.to_string()))?;
    Ok(match written {
        Err(e) => (partial, Some(Interrupted::Disk(e))),
        Ok(()) => (partial, ended),
    })
}

/// Appends every batch of chunks received to the partial file (and its checksum) on a
/// blocking thread, until the sender is dropped or a write fails.
fn spawn_writer<B: AsRef<[u8]> + Clone + Send + 'static>(
    mut partial: Partial,
    mut rx: mpsc::Receiver<Vec<B>>,
) -> tokio::task::JoinHandle<(Partial, Result<(), DiskError>)> {
    tokio::task::spawn_blocking(move || {
        let written = partial.append_from(|| rx.blocking_recv());
        (partial, written)
    })
}
