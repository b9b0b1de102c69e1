//! Tells a client waiting for the socket what the daemon does before it binds it (see
//! [`hubdex_ipc::StartupProgress`]): the catalog reports its slow steps into a shared slot,
//! and a task rewrites the progress file from it every half second until the daemon answers.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::Utc;
use hubdex_ipc::{STARTUP_REWRITE_EVERY, StartupProgress, StartupStep};
use hubdex_store::Opening;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The progress file, kept fresh while the daemon starts.
pub(crate) struct StartupReport {
    path: PathBuf,
    current: Arc<Mutex<Option<StartupProgress>>>,
    stop: CancellationToken,
    writer: JoinHandle<()>,
}

impl StartupReport {
    /// Starts rewriting `path` as steps are reported; nothing is written before the first.
    pub(crate) async fn start(path: PathBuf) -> StartupReport {
        // A file left by a daemon that died starting is not this one's progress.
        remove(&path).await;
        let current: Arc<Mutex<Option<StartupProgress>>> = Arc::default();
        let stop = CancellationToken::new();
        let writer = tokio::spawn({
            let (path, current, stop) = (path.clone(), current.clone(), stop.clone());
            async move {
                let mut every = tokio::time::interval(STARTUP_REWRITE_EVERY);
                loop {
                    // Stops between writes only, so no write lands after `finish` removed
                    // the file.
                    tokio::select! {
                        () = stop.cancelled() => break,
                        _ = every.tick() => {}
                    }
                    let progress = current
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone();
                    if let Some(progress) = progress {
                        let path = path.clone();
                        let written =
                            tokio::task::spawn_blocking(move || progress.write(&path)).await;
                        if let Ok(Err(e)) = written {
                            tracing::debug!(error = %e, "cannot write the start-up progress");
                        }
                    }
                }
            }
        });
        StartupReport {
            path,
            current,
            stop,
            writer,
        }
    }

    /// What the catalog calls with each step while it opens.
    pub(crate) fn reporter(&self) -> impl FnMut(Opening) + Send + 'static {
        let current = self.current.clone();
        move |opening| {
            let step = match opening {
                Opening::Rebuilding { read, of } => StartupStep::RebuildingIndex { read, of },
                Opening::CatchingUp { read, of } => StartupStep::CatchingUpIndex { read, of },
                Opening::Compacting => StartupStep::CompactingIndex,
            };
            set(&current, step);
        }
    }

    /// A step of the daemon's own, after the catalog opened.
    pub(crate) fn step(&self, step: StartupStep) {
        set(&self.current, step);
    }

    /// Stops rewriting and removes the file: the daemon answers now.
    pub(crate) async fn finish(self) {
        self.stop.cancel();
        let _ = self.writer.await;
        remove(&self.path).await;
    }
}

/// Makes `step` the current one; a step that goes on (only its count changed) keeps its start.
fn set(current: &Mutex<Option<StartupProgress>>, step: StartupStep) {
    let mut current = current.lock().unwrap_or_else(PoisonError::into_inner);
    let since = match current.as_ref() {
        Some(progress) if same_step(&progress.step, &step) => progress.since,
        _ => Utc::now(),
    };
    *current = Some(StartupProgress { step, since });
}

/// True when both are the same step, whatever their counts.
fn same_step(a: &StartupStep, b: &StartupStep) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

async fn remove(path: &std::path::Path) {
    match tokio::fs::remove_file(path).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove the start-up progress file")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn steps_reach_the_file_until_the_daemon_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("starting.json");
        std::fs::write(&path, "left by a daemon that died").unwrap();
        let report = StartupReport::start(path.clone()).await;
        assert!(!path.exists(), "a stale file was kept");
        let mut progress = report.reporter();
        progress(Opening::Rebuilding { read: 0, of: 50 });
        let first = wait_for(&path, |p| {
            p.step == StartupStep::RebuildingIndex { read: 0, of: 50 }
        })
        .await;
        progress(Opening::Rebuilding { read: 40, of: 50 });
        let later = wait_for(&path, |p| {
            p.step == StartupStep::RebuildingIndex { read: 40, of: 50 }
        })
        .await;
        assert_eq!(later.since, first.since, "the same step began again");
        progress(Opening::Compacting);
        let compacting = wait_for(&path, |p| p.step == StartupStep::CompactingIndex).await;
        assert!(compacting.since >= first.since);
        report.step(StartupStep::ImportingSnapshot);
        wait_for(&path, |p| p.step == StartupStep::ImportingSnapshot).await;
        report.finish().await;
        assert!(!path.exists());
    }

    async fn wait_for(
        path: &std::path::Path,
        reached: impl Fn(&StartupProgress) -> bool,
    ) -> StartupProgress {
        for _ in 0..100 {
            if let Some(progress) = StartupProgress::read_fresh(path)
                && reached(&progress)
            {
                return progress;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the progress file never showed the step");
    }
}
