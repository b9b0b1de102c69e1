//! Live progress of a running job: files and bytes done, files in flight, a recent rate and
//! an ETA. Transfers report into a [`Tracker`]; readers take [`JobProgress`] snapshots.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hubdex_ipc::{FileProgress, JobProgress};

/// How far back the transfer rate looks.
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// Counters shared by a job's transfers.
#[derive(Default)]
pub(crate) struct Tracker {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    files_total: u64,
    files_done: u64,
    files_cached: u64,
    bytes_total: u64,
    /// Bytes of finished files.
    bytes_completed: u64,
    bytes_fetched: u64,
    retries: u64,
    /// Files in flight: bytes in place and size.
    active: BTreeMap<String, (u64, u64)>,
    /// `(when, bytes_fetched)` samples for the rate.
    samples: VecDeque<(Instant, u64)>,
    /// The commit the job works on, once resolved.
    commit: Option<String>,
}

impl Tracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets what the job will handle in all.
    pub(crate) fn plan(&self, files: u64, bytes: u64) {
        let mut inner = self.lock();
        inner.files_total = files;
        inner.bytes_total = bytes;
    }

    /// A file starts transferring with `in_place` bytes already on disk (a resumed partial).
    pub(crate) fn file_started(&self, path: &str, in_place: u64, size: u64) {
        self.lock()
            .active
            .insert(path.to_string(), (in_place, size));
    }

    /// `n` bytes of `path` arrived.
    pub(crate) fn received(&self, path: &str, n: u64) {
        let mut inner = self.lock();
        inner.bytes_fetched += n;
        if let Some((done, _)) = inner.active.get_mut(path) {
            *done += n;
        }
    }

    /// The bytes of `path` on disk were thrown away (the server ignored the range, or the
    /// file failed verification); it starts again from zero.
    pub(crate) fn restarted(&self, path: &str) {
        if let Some((done, _)) = self.lock().active.get_mut(path) {
            *done = 0;
        }
    }

    /// The bytes of `path` kept on disk are now `to` (parallel ranges past a gap were
    /// dropped when a try ended).
    pub(crate) fn rewound(&self, path: &str, to: u64) {
        if let Some((done, _)) = self.lock().active.get_mut(path) {
            *done = to;
        }
    }

    /// A file is in place; `cached` when nothing had to be fetched for it.
    pub(crate) fn file_done(&self, path: &str, size: u64, cached: bool) {
        let mut inner = self.lock();
        inner.active.remove(path);
        inner.files_done += 1;
        inner.bytes_completed += size;
        if cached {
            inner.files_cached += 1;
        }
    }

    /// A file stopped transferring without being in place (it failed).
    pub(crate) fn file_abandoned(&self, path: &str) {
        self.lock().active.remove(path);
    }

    /// Records the commit the revision resolved to.
    pub(crate) fn set_commit(&self, commit: &str) {
        self.lock().commit = Some(commit.to_string());
    }

    /// The commit the job works on, once resolved.
    pub(crate) fn commit(&self) -> Option<String> {
        self.lock().commit.clone()
    }

    /// One more retry was made.
    pub(crate) fn retried(&self) {
        self.lock().retries += 1;
    }

    /// The progress now, with the rate over the last few seconds.
    pub(crate) fn snapshot(&self, now: Instant) -> JobProgress {
        let mut inner = self.lock();
        let fetched = inner.bytes_fetched;
        inner.samples.push_back((now, fetched));
        while inner
            .samples
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > RATE_WINDOW)
            && inner.samples.len() > 2
        {
            inner.samples.pop_front();
        }
        let rate = match (inner.samples.front(), inner.samples.back()) {
            (Some((t0, b0)), Some((t1, b1))) if t1 > t0 => {
                (b1 - b0) as f64 / t1.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        };
        let in_flight: u64 = inner.active.values().map(|(done, _)| done).sum();
        let bytes_done = (inner.bytes_completed + in_flight).min(inner.bytes_total);
        let remaining = inner.bytes_total.saturating_sub(bytes_done);
        let eta_secs = (rate >= 1.0).then(|| (remaining as f64 / rate).ceil() as u64);
        JobProgress {
            files_total: inner.files_total,
            files_done: inner.files_done,
            files_cached: inner.files_cached,
            bytes_total: inner.bytes_total,
            bytes_done,
            bytes_fetched: fetched,
            rate,
            eta_secs,
            retries: inner.retries,
            active: inner
                .active
                .iter()
                .map(|(path, (done, total))| FileProgress {
                    path: path.clone(),
                    bytes_done: *done,
                    bytes_total: *total,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_files_bytes_and_resumed_parts() {
        let t = Tracker::default();
        t.plan(3, 300);
        t.file_done("cached.csv", 100, true);
        t.file_started("a.csv", 40, 100);
        t.received("a.csv", 10);
        let now = Instant::now();
        let p = t.snapshot(now);
        assert_eq!((p.files_done, p.files_cached, p.files_total), (1, 1, 3));
        assert_eq!(p.bytes_done, 150, "cached + resumed + received");
        assert_eq!(p.bytes_fetched, 10);
        assert_eq!(p.active.len(), 1);
        assert_eq!(p.active[0].bytes_done, 50);
        t.restarted("a.csv");
        assert_eq!(t.snapshot(now).bytes_done, 100);
        t.received("a.csv", 100);
        t.file_done("a.csv", 100, false);
        let p = t.snapshot(now);
        assert_eq!((p.files_done, p.files_cached), (2, 1));
        assert_eq!(p.bytes_done, 200);
        assert!(p.active.is_empty());
    }

    #[test]
    fn rate_and_eta_come_from_recent_samples() {
        let t = Tracker::default();
        t.plan(1, 10_000);
        t.file_started("big", 0, 10_000);
        let start = Instant::now();
        assert_eq!(t.snapshot(start).rate, 0.0);
        t.received("big", 1000);
        let p = t.snapshot(start + Duration::from_secs(1));
        assert!((p.rate - 1000.0).abs() < 1e-6, "{}", p.rate);
        assert_eq!(p.eta_secs, Some(9));
        // A stalled transfer's rate falls to zero once the window has passed.
        let later = t.snapshot(start + Duration::from_secs(30));
        let stalled = t.snapshot(start + Duration::from_secs(31));
        assert!(later.rate < 1000.0);
        assert_eq!(stalled.rate, 0.0);
        assert_eq!(stalled.eta_secs, None);
    }
}
