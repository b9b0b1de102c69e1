//! A large file fetched as several byte ranges at once, for links where one connection is
//! slower than the disk (CDNs often cap each connection).
//!
//! What is left of the file is cut into segments of [`SEGMENT`] bytes on absolute
//! boundaries; `jobs.range_connections` workers take them in order, each streaming its
//! segment straight to its offset in the partial file (never a whole segment in memory:
//! batches of [`BATCH_BYTES`], written as they fill). A hashing thread follows the in-order
//! prefix that is complete, reading it back from the page cache, so the checksum is still
//! computed over the file in order. A worker never runs more than [`WINDOW`] segments ahead
//! of the oldest unfinished one, which bounds what is thrown away when a try ends: the
//! partial is cut back to its complete prefix, and the usual retry resumes from there.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use futures::StreamExt;
use hubdex_hub::{Bytes, FileMetadata, HubError};
use tokio::sync::Notify;

use super::disk::{self, DiskError, Partial, ZERO_BLOCK};
use super::error::JobError;
use super::fetch::{Ctx, Interrupted};

/// Bytes per segment (a multiple of [`ZERO_BLOCK`]); small in tests, so small files
/// have several.
#[cfg(not(test))]
pub(crate) const SEGMENT: u64 = 16 << 20;
#[cfg(test)]
pub(crate) const SEGMENT: u64 = 256 << 10;
/// Bytes a worker gathers before writing them. Smaller than the one-connection path's
/// batches: with several connections each holds one batch (and the network buffers it
/// pins), and a positioned write costs the same whatever the batch size.
const BATCH_BYTES: usize = 256 << 10;
/// Segments a worker may run ahead of the oldest unfinished one, per connection.
const WINDOW: usize = 2;
/// Read-back buffer of the hashing thread.
const HASH_BUFFER: usize = 1 << 20;
/// How long the hashing thread sleeps when it has caught up and nobody wakes it.
const HASH_POLL: Duration = Duration::from_millis(50);

/// The segments `start..size` is cut into: the first ends on a [`SEGMENT`] boundary.
pub(crate) fn segments(start: u64, size: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut at = start;
    while at < size {
        let end = ((at / SEGMENT) + 1).saturating_mul(SEGMENT).min(size);
        out.push((at, end));
        at = end;
    }
    out
}

/// What the workers and the hashing thread share.
struct Progress {
    segments: Vec<(u64, u64)>,
    /// Per segment: the offset up to which it is on disk.
    written: Vec<AtomicU64>,
    /// The next segment to hand out.
    next: AtomicUsize,
    /// Set when a worker failed or the try is over: everybody stops.
    stop: AtomicBool,
    /// Wakes workers waiting for the window to move.
    moved: Notify,
    /// Wakes the hashing thread.
    hashable: (Mutex<()>, Condvar),
    /// The first reason a worker stopped early.
    failure: Mutex<Option<Interrupted>>,
}

impl Progress {
    fn new(segments: Vec<(u64, u64)>) -> Progress {
        let written = segments.iter().map(|(s, _)| AtomicU64::new(*s)).collect();
        Progress {
            segments,
            written,
            next: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            moved: Notify::new(),
            hashable: (Mutex::new(()), Condvar::new()),
            failure: Mutex::new(None),
        }
    }

    /// The index of the oldest unfinished segment (`len` when all are done).
    fn oldest_unfinished(&self) -> usize {
        self.segments
            .iter()
            .zip(&self.written)
            .position(|((_, end), written)| written.load(Ordering::Acquire) < *end)
            .unwrap_or(self.segments.len())
    }

    /// The end of the in-order prefix on disk.
    fn contiguous(&self) -> u64 {
        for ((_, end), written) in self.segments.iter().zip(&self.written) {
            let w = written.load(Ordering::Acquire);
            if w < *end {
                return w;
            }
        }
        self.segments.last().map_or(0, |(_, end)| *end)
    }

    fn wake_hasher(&self) {
        self.hashable.1.notify_all();
    }

    fn fail(&self, why: Interrupted) {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        if failure.is_none() {
            *failure = Some(why);
        }
        drop(failure);
        self.halt();
    }

    fn halt(&self) {
        self.stop.store(true, Ordering::Release);
        self.moved.notify_waiters();
        self.wake_hasher();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

/// Stops the hashing thread if the try is dropped (the job was cancelled).
struct HaltOnDrop(Arc<Progress>);

impl Drop for HaltOnDrop {
    fn drop(&mut self) {
        self.0.halt();
    }
}

/// One try at the rest of a file as parallel ranges. Returns the partial (holding the
/// complete in-order prefix, hashed) and why the try ended early, if it did;
/// [`Interrupted::NoRanges`] when the server answered a range with the whole file.
pub(crate) async fn attempt(
    ctx: &Ctx,
    meta: &FileMetadata,
    partial: Partial,
    label: &str,
) -> Result<(Partial, Option<Interrupted>), JobError> {
    let start = partial.len();
    if start >= meta.size {
        return Ok((partial, None));
    }
    let progress = Arc::new(Progress::new(segments(start, meta.size)));
    let _halt = HaltOnDrop(progress.clone());
    let file = partial.shared_file();
    let path = partial.path().to_path_buf();
    let hasher = {
        let progress = progress.clone();
        let mut partial = partial;
        tokio::task::spawn_blocking(move || {
            let hashed = follow(&mut partial, &progress);
            let settled = hashed.and_then(|()| partial.settle());
            (partial, settled)
        })
    };
    let connections = ctx.config.range_connections.max(1);
    let workers = (0..connections).map(|_| worker(ctx, meta, &progress, &file, &path, label));
    futures::future::join_all(workers).await;
    progress.halt();
    let (partial, settled) = hasher.await.map_err(|e| JobError::Task(e.to_string()))?;
    let failure = progress
        .failure
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    ctx.tracker.rewound(label, partial.len());
    match settled {
        Err(e) => Ok((partial, Some(Interrupted::Disk(e)))),
        Ok(()) => Ok((partial, failure)),
    }
}

/// The hashing thread: hashes the in-order prefix as it grows, until the try stops, then
/// whatever is complete.
fn follow(partial: &mut Partial, progress: &Progress) -> Result<(), DiskError> {
    let mut buffer = vec![0u8; HASH_BUFFER];
    loop {
        let upto = progress.contiguous();
        if upto > partial.len() {
            partial.hash_written(upto, &mut buffer)?;
            continue;
        }
        if progress.stopped() {
            let upto = progress.contiguous();
            return partial.hash_written(upto, &mut buffer);
        }
        let (lock, wake) = &progress.hashable;
        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let _ = wake.wait_timeout(guard, HASH_POLL);
    }
}

/// Takes segments in order until none is left or the try stops.
async fn worker(
    ctx: &Ctx,
    meta: &FileMetadata,
    progress: &Progress,
    file: &Arc<File>,
    path: &Path,
    label: &str,
) {
    let window = WINDOW * ctx.config.range_connections.max(1);
    loop {
        if progress.stopped() {
            return;
        }
        let index = progress.next.fetch_add(1, Ordering::AcqRel);
        if index >= progress.segments.len() {
            return;
        }
        loop {
            let moved = progress.moved.notified();
            if progress.stopped() {
                return;
            }
            if index < progress.oldest_unfinished() + window {
                break;
            }
            moved.await;
        }
        if let Err(why) = segment(ctx, meta, progress, index, file, path, label).await {
            progress.fail(why);
            return;
        }
        progress.moved.notify_waiters();
    }
}

/// Streams one segment to its place.
async fn segment(
    ctx: &Ctx,
    meta: &FileMetadata,
    progress: &Progress,
    index: usize,
    file: &Arc<File>,
    path: &Path,
    label: &str,
) -> Result<(), Interrupted> {
    let (start, end) = progress.segments[index];
    let download = match ctx.hub.download_range(meta, start, Some(end)).await {
        Err(HubError::RangeNotSatisfiable { .. }) => {
            return Err(Interrupted::Garbled(format!(
                "the server has no byte {start} of a file it said has {} bytes",
                meta.size
            )));
        }
        Err(e) => return Err(Interrupted::Refused(e)),
        Ok(download) => download,
    };
    if (download.start, download.end) != (start, end) {
        return Err(if download.start == 0 && download.end == meta.size {
            Interrupted::NoRanges
        } else {
            Interrupted::Garbled(format!(
                "the server sent bytes {}..{} when asked for {start}..{end}",
                download.start, download.end
            ))
        });
    }
    let stall = ctx.config.stall_timeout;
    let mut body = download.body;
    let mut at = start;
    let (mut batch, mut batched): (Vec<Bytes>, u64) = (Vec::new(), 0);
    let mut last_byte = tokio::time::Instant::now();
    let ended = loop {
        if progress.stopped() {
            break None;
        }
        let silence = last_byte.elapsed();
        if silence >= stall {
            break Some(Interrupted::Stalled);
        }
        match tokio::time::timeout(stall - silence, body.next()).await {
            Err(_) => break Some(Interrupted::Stalled),
            Ok(None) => break None,
            Ok(Some(Err(e))) => break Some(Interrupted::Broken(e)),
            Ok(Some(Ok(chunk))) => {
                let n = chunk.len() as u64;
                if at + batched + n > end {
                    break Some(Interrupted::Garbled(format!(
                        "the server sent more than the {} bytes asked for",
                        end - start
                    )));
                }
                last_byte = tokio::time::Instant::now();
                batched += n;
                batch.push(chunk);
                if batched >= BATCH_BYTES as u64 {
                    let (ready, rest) = aligned(std::mem::take(&mut batch), at, at + batched, end);
                    let written = ready.iter().map(|c| c.len() as u64).sum::<u64>();
                    at = store(ctx, progress, index, file, path, at, ready, label).await?;
                    batched -= written;
                    batch = rest;
                }
            }
        }
    };
    // What arrived before the end (or the failure) is kept, up to a block boundary.
    if !batch.is_empty() {
        let (ready, _) = aligned(batch, at, at + batched, end);
        at = store(ctx, progress, index, file, path, at, ready, label).await?;
    }
    match ended {
        Some(why) => Err(why),
        None if at == end || progress.stopped() => Ok(()),
        None => Err(Interrupted::Garbled(format!(
            "the server sent {} of the {} bytes asked for",
            at - start,
            end - start
        ))),
    }
}

/// Splits `chunks` (bytes `at..upto` of the file) into what ends on a [`ZERO_BLOCK`]
/// boundary (or at `end`, the segment's end) and the rest.
fn aligned(chunks: Vec<Bytes>, at: u64, upto: u64, end: u64) -> (Vec<Bytes>, Vec<Bytes>) {
    let cut = if upto == end {
        upto
    } else {
        upto / ZERO_BLOCK * ZERO_BLOCK
    };
    let mut keep = cut.saturating_sub(at);
    let (mut ready, mut rest) = (Vec::new(), Vec::new());
    for chunk in chunks {
        let n = chunk.len() as u64;
        if keep >= n {
            keep -= n;
            ready.push(chunk);
        } else if keep > 0 {
            let split = usize::try_from(keep).unwrap_or(chunk.len());
            ready.push(chunk.slice(..split));
            rest.push(chunk.slice(split..));
            keep = 0;
        } else {
            rest.push(chunk);
        }
    }
    (ready, rest)
}

/// Writes `chunks` at `at` on a blocking thread and records them; returns the new end.
#[allow(clippy::too_many_arguments)]
async fn store(
    ctx: &Ctx,
    progress: &Progress,
    index: usize,
    file: &Arc<File>,
    path: &Path,
    at: u64,
    chunks: Vec<Bytes>,
    label: &str,
) -> Result<u64, Interrupted> {
    let n: u64 = chunks.iter().map(|c| c.len() as u64).sum();
    if n == 0 {
        return Ok(at);
    }
    let (file, path) = (file.clone(), path.to_path_buf());
    tokio::task::spawn_blocking(move || disk::write_range(&file, &path, at, &chunks))
        .await
        .map_err(|e| {
            Interrupted::Disk(DiskError {
                what: "write",
                path: PathBuf::new(),
                source: std::io::Error::other(e.to_string()),
            })
        })?
        .map_err(Interrupted::Disk)?;
    progress.written[index].store(at + n, Ordering::Release);
    progress.wake_hasher();
    ctx.tracker.received(label, n);
    ctx.metrics.bytes_downloaded.inc_by(n);
    Ok(at + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_end_on_absolute_boundaries_and_cover_the_rest() {
        assert_eq!(segments(0, 0), []);
        assert_eq!(segments(5, 5), []);
        let s = segments(100, 2 * SEGMENT + 7);
        assert_eq!(
            s,
            [
                (100, SEGMENT),
                (SEGMENT, 2 * SEGMENT),
                (2 * SEGMENT, 2 * SEGMENT + 7)
            ]
        );
        assert_eq!(segments(SEGMENT, SEGMENT + 1), [(SEGMENT, SEGMENT + 1)]);
    }

    #[test]
    fn batches_are_cut_on_block_boundaries_except_at_the_segment_end() {
        let chunks = vec![Bytes::from(vec![1u8; 3000]), Bytes::from(vec![2u8; 3000])];
        // Bytes 1000..7000 of the file: the cut falls at 4096.
        let (ready, rest) = aligned(chunks.clone(), 1000, 7000, 1 << 20);
        let lens = |v: &[Bytes]| v.iter().map(Bytes::len).collect::<Vec<_>>();
        assert_eq!(lens(&ready), [3000, 96]);
        assert_eq!(lens(&rest), [2904]);
        assert_eq!(rest[0][0], 2);
        // At the segment's end everything goes.
        let (ready, rest) = aligned(chunks, 1000, 7000, 7000);
        assert_eq!(lens(&ready), [3000, 3000]);
        assert!(rest.is_empty());
    }

    #[test]
    fn the_prefix_stops_at_the_first_unfinished_segment() {
        let p = Progress::new(segments(0, 3 * SEGMENT));
        assert_eq!((p.contiguous(), p.oldest_unfinished()), (0, 0));
        p.written[1].store(2 * SEGMENT, Ordering::Release);
        assert_eq!(p.contiguous(), 0, "a later segment alone moves nothing");
        p.written[0].store(4096, Ordering::Release);
        assert_eq!(p.contiguous(), 4096);
        p.written[0].store(SEGMENT, Ordering::Release);
        assert_eq!((p.contiguous(), p.oldest_unfinished()), (2 * SEGMENT, 2));
        p.written[2].store(3 * SEGMENT, Ordering::Release);
        assert_eq!((p.contiguous(), p.oldest_unfinished()), (3 * SEGMENT, 3));
    }
}
