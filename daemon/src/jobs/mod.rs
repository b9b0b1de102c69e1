//! Download, update and delete jobs that write the Hugging Face cache.
//!
//! A job is planned from the Hub's tree, then its files are fetched with a few in flight,
//! each resumable and verified (see `fetch`). Two queues run jobs: downloads
//! (`jobs.download_jobs` at once) and maintenance (updates and deletes); two jobs never work
//! on the same dataset at once. Records live in their own sled database, so a restart finds
//! queued jobs still queued and running ones queued again, to resume from their partial files.
//! Progress goes out as [`EventKind::Job`] events and `/metrics` counters.

mod config;
mod disk;
mod error;
mod fetch;
mod filter;
mod hash;
mod kinds;
mod progress;
mod ranges;
mod retry;
mod state;
mod store;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use hubdex_core::DatasetId;
use hubdex_core::cache::{RefName, RepoCache, is_commit_hash, resolve_cache_root};
use hubdex_hub::{HubClient, HubConfig, RetryPolicy};
use hubdex_ipc::{
    ApiError, Downloaded, EventKind, Job, JobEvent, JobId, JobKind, JobParams, JobState,
};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use config::JobsConfig;
pub use store::{JobStore, JobStoreError};

use crate::events::EventLog;
use crate::metrics::{JobLabels, JobMetrics};
use error::JobError;
use fetch::Ctx;
use filter::FileFilter;
use progress::Tracker;
use state::Outcome;

/// How often a running job's progress is published.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);
/// Every this many publications, the progress is also written to the job database.
const PERSIST_EVERY: u32 = 20;
/// How long `cancel` waits for a running job to stop before answering.
const CANCEL_WAIT: Duration = Duration::from_secs(10);

/// What the jobs need from the outside world, opened before the daemon starts serving.
pub struct JobsSetup {
    pub(crate) store: JobStore,
    pub(crate) cache_root: Option<PathBuf>,
    pub(crate) hub: HubClient,
}

impl JobsSetup {
    /// Opens the job database under `data_dir/jobs`, finds the Hugging Face cache the way
    /// `huggingface_hub` does (`HF_HUB_CACHE`, `HF_HOME`, …) and builds a Hub client whose
    /// retries follow `config`.
    pub async fn open(
        data_dir: &Path,
        config: &JobsConfig,
    ) -> Result<JobsSetup, crate::DaemonError> {
        let dir = data_dir.join("jobs");
        let store = tokio::task::spawn_blocking(move || JobStore::open(&dir))
            .await
            .map_err(|e| crate::DaemonError::Task(e.to_string()))??;
        let cache_root = resolve_cache_root(
            |key| std::env::var(key).ok(),
            std::env::home_dir().as_deref(),
        );
        match &cache_root {
            Some(root) => {
                tracing::info!(cache = %root.display(), "downloads go to the Hugging Face cache")
            }
            None => tracing::warn!(
                "no home directory and no HF_HUB_CACHE or HF_HOME: download jobs will fail until the daemon is started with one"
            ),
        }
        let hub = HubClient::new(hub_config(HubConfig::from_env(), config))?;
        Ok(JobsSetup {
            store,
            cache_root,
            hub,
        })
    }
}

/// `base` with the retry policy of the jobs: `jobs.retries` retries, growing to
/// `jobs.retry_delay` apart.
pub(crate) fn hub_config(base: HubConfig, config: &JobsConfig) -> HubConfig {
    HubConfig {
        retry: RetryPolicy {
            max_retries: config.retries,
            base_delay: config.retry_delay / 16,
            max_delay: config.retry_delay,
        },
        ..base
    }
}

/// The job system: submit, list, cancel, and the scheduler that runs them.
#[derive(Clone)]
pub struct Jobs {
    shared: Arc<Shared>,
}

struct Shared {
    store: JobStore,
    hub: HubClient,
    cache_root: Option<PathBuf>,
    config: JobsConfig,
    events: Arc<EventLog>,
    metrics: JobMetrics,
    table: Mutex<BTreeMap<JobId, Entry>>,
    wake: Notify,
}

struct Entry {
    job: Job,
    cancel: CancellationToken,
    /// Set while the job runs.
    tracker: Option<Arc<Tracker>>,
}

impl Jobs {
    /// Loads the remembered jobs (running ones go back to the queue) and forgets the oldest
    /// finished ones beyond `jobs.keep_finished`. Nothing runs until [`Jobs::run`].
    pub fn new(
        setup: JobsSetup,
        config: JobsConfig,
        events: Arc<EventLog>,
        metrics: JobMetrics,
    ) -> Jobs {
        let retries = metrics.retries.clone();
        let hub = setup.hub.with_retry_observer(move |_| {
            retries.inc();
        });
        let mut jobs = setup.store.load_all();
        let mut changed = Vec::new();
        for job in &mut jobs {
            if job.state == JobState::Running {
                state::recover(job);
                changed.push(job.clone());
            }
        }
        let finished: Vec<JobId> = jobs
            .iter()
            .filter(|j| j.state.is_finished())
            .map(|j| j.id)
            .collect();
        let forget: HashSet<JobId> = finished
            .iter()
            .take(finished.len().saturating_sub(config.keep_finished))
            .copied()
            .collect();
        for job in &changed {
            if let Err(e) = setup.store.put(job) {
                tracing::warn!("cannot requeue job {}: {e}", job.id);
            }
        }
        for id in &forget {
            if let Err(e) = setup.store.remove(*id) {
                tracing::warn!("cannot forget job {id}: {e}");
            }
        }
        let table = jobs
            .into_iter()
            .filter(|j| !forget.contains(&j.id))
            .map(|job| {
                (
                    job.id,
                    Entry {
                        job,
                        cancel: CancellationToken::new(),
                        tracker: None,
                    },
                )
            })
            .collect();
        let jobs = Jobs {
            shared: Arc::new(Shared {
                store: setup.store,
                hub,
                cache_root: setup.cache_root,
                config,
                events,
                metrics,
                table: Mutex::new(table),
                wake: Notify::new(),
            }),
        };
        jobs.shared.refresh_gauge(&jobs.shared.table());
        jobs
    }

    /// Sweeps partial files nobody will resume, then runs queued jobs as queues free up,
    /// until `shutdown` fires. Jobs running then stay `running` in the database and resume at
    /// the next start.
    pub async fn run(&self, shutdown: CancellationToken) {
        self.sweep().await;
        let mut running = JoinSet::new();
        loop {
            let wake = self.shared.wake.notified();
            self.dispatch(&mut running);
            tokio::select! {
                _ = wake => {}
                Some(_) = running.join_next() => {}
                _ = shutdown.cancelled() => break,
            }
        }
        running.abort_all();
        if let Err(e) = self.shared.store.flush().await {
            tracing::warn!("cannot flush the job database: {e}");
        }
    }

    /// Removes the partial files of datasets hubdex has jobs for, except those a queued job
    /// will resume and those another program is writing (their lock is held).
    async fn sweep(&self) {
        let Some(root) = self.shared.cache_root.clone() else {
            return;
        };
        let (mut all, mut pending) = (HashSet::new(), HashSet::new());
        for entry in self.shared.table().values() {
            let dataset = entry.job.params.dataset().clone();
            if !entry.job.state.is_finished() {
                pending.insert(dataset.clone());
            }
            all.insert(dataset);
        }
        let idle: Vec<DatasetId> = all.difference(&pending).cloned().collect();
        let swept = tokio::task::spawn_blocking(move || {
            idle.iter()
                .map(|id| disk::sweep_incomplete(&RepoCache::new(&root, id)))
                .sum::<usize>()
        })
        .await
        .unwrap_or(0);
        if swept > 0 {
            tracing::info!(files = swept, "removed partial downloads nobody resumes");
        }
    }

    /// Starts the queued jobs that fit: free slots in their queue, and no other job running
    /// on their dataset.
    fn dispatch(&self, running: &mut JoinSet<()>) {
        let now = Utc::now();
        let mut started = Vec::new();
        {
            let mut table = self.shared.table();
            let mut busy: HashSet<DatasetId> = HashSet::new();
            let (mut downloads, mut maintenance) = (0, 0);
            for entry in table.values().filter(|e| e.job.state == JobState::Running) {
                busy.insert(entry.job.params.dataset().clone());
                match entry.job.params.kind() {
                    JobKind::Download => downloads += 1,
                    JobKind::Update | JobKind::Delete => maintenance += 1,
                }
            }
            for entry in table.values_mut() {
                if entry.job.state != JobState::Queued || busy.contains(entry.job.params.dataset())
                {
                    continue;
                }
                let (count, cap) = match entry.job.params.kind() {
                    JobKind::Download => (&mut downloads, self.shared.config.download_jobs),
                    JobKind::Update | JobKind::Delete => {
                        (&mut maintenance, self.shared.config.maintenance_jobs)
                    }
                };
                if *count >= cap {
                    continue;
                }
                if let Err(e) = state::start(&mut entry.job, now) {
                    tracing::error!("{e}");
                    continue;
                }
                *count += 1;
                busy.insert(entry.job.params.dataset().clone());
                let tracker = Arc::new(Tracker::default());
                entry.tracker = Some(tracker.clone());
                entry.cancel = CancellationToken::new();
                entry.job.progress = Default::default();
                started.push((entry.job.clone(), tracker, entry.cancel.clone()));
            }
            self.shared.refresh_gauge(&table);
        }
        for (job, tracker, cancel) in started {
            tracing::info!(job = job.id, kind = %job.params.kind(), dataset = %job.params.dataset(), "job started");
            self.shared.save(&job);
            self.shared.announce(&job);
            running.spawn(run_job(self.shared.clone(), job, tracker, cancel));
        }
    }

    /// Queues a job after checking its parameters.
    pub async fn submit(&self, params: JobParams) -> Result<Job, ApiError> {
        validate(&params)?;
        if self.shared.cache_root.is_none() {
            return Err(ApiError::unavailable(
                "cannot find the Hugging Face cache folder: no home directory is known; set HF_HUB_CACHE (or HF_HOME) for the daemon",
            ));
        }
        let id = self
            .shared
            .store
            .next_id()
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let job = state::new_job(id, params, Utc::now());
        self.shared
            .store
            .put(&job)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        self.shared
            .store
            .flush()
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        {
            let mut table = self.shared.table();
            table.insert(
                id,
                Entry {
                    job: job.clone(),
                    cancel: CancellationToken::new(),
                    tracker: None,
                },
            );
            self.shared.refresh_gauge(&table);
        }
        tracing::info!(job = id, kind = %job.params.kind(), dataset = %job.params.dataset(), "job queued");
        self.shared.announce(&job);
        self.shared.wake.notify_one();
        Ok(job)
    }

    /// Every job, oldest first, with live progress for running ones.
    pub fn list(&self) -> Vec<Job> {
        let now = Instant::now();
        self.shared.table().values().map(|e| view(e, now)).collect()
    }

    /// One job.
    pub fn get(&self, id: JobId) -> Result<Job, ApiError> {
        self.shared
            .table()
            .get(&id)
            .map(|e| view(e, Instant::now()))
            .ok_or_else(|| unknown(id))
    }

    /// Cancels a queued job at once, or a running one as soon as it notices (waiting up to a
    /// few seconds for it); partial files stay for a later download to resume.
    pub async fn cancel(&self, id: JobId) -> Result<Job, ApiError> {
        let queued = {
            let mut table = self.shared.table();
            let entry = table.get_mut(&id).ok_or_else(|| unknown(id))?;
            match entry.job.state {
                JobState::Queued => {
                    state::finish(&mut entry.job, Outcome::Cancelled, Utc::now())
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    let job = entry.job.clone();
                    self.shared.refresh_gauge(&table);
                    Some(job)
                }
                JobState::Running => {
                    entry.cancel.cancel();
                    None
                }
                done => {
                    return Err(ApiError::bad_request(format!(
                        "job {id} already {done}; there is nothing to cancel"
                    )));
                }
            }
        };
        if let Some(job) = queued {
            self.shared.save(&job);
            self.shared.announce(&job);
            return Ok(job);
        }
        let deadline = Instant::now() + CANCEL_WAIT;
        loop {
            let job = self.get(id)?;
            if job.state.is_finished() || Instant::now() >= deadline {
                return Ok(job);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The Hugging Face cache folder jobs write to; `None` when none could be found.
    pub fn cache_root(&self) -> Option<&Path> {
        self.shared.cache_root.as_deref()
    }

    /// What of a dataset is in the cache; `None` when nothing is.
    pub async fn downloaded(&self, id: &DatasetId) -> Result<Option<Downloaded>, ApiError> {
        let Some(root) = self.shared.cache_root.clone() else {
            return Err(ApiError::unavailable(
                "cannot find the Hugging Face cache folder; set HF_HUB_CACHE (or HF_HOME) for the daemon",
            ));
        };
        let id = id.clone();
        tokio::task::spawn_blocking(move || disk::summary(&RepoCache::new(root, &id), &id))
            .await
            .map_err(|e| ApiError::internal(format!("the cache scan failed: {e}")))
    }
}

/// A job as readers see it: live progress while it runs.
fn view(entry: &Entry, now: Instant) -> Job {
    let mut job = entry.job.clone();
    if let Some(tracker) = &entry.tracker {
        job.progress = tracker.snapshot(now);
        job.commit = tracker.commit().or(job.commit);
    }
    job
}

fn unknown(id: JobId) -> ApiError {
    ApiError::not_found(format!(
        "no job {id}; `hubdex jobs` lists the jobs the daemon remembers"
    ))
}

/// Checks what can be checked before a job runs, so mistakes are answered at once.
fn validate(params: &JobParams) -> Result<(), ApiError> {
    let revision_ok = |revision: &str| -> Result<(), ApiError> {
        if is_commit_hash(revision) {
            return Ok(());
        }
        RefName::new(revision)
            .map(|_| ())
            .map_err(|e| ApiError::bad_request(e.to_string()))
    };
    match params {
        JobParams::Download(p) => {
            revision_ok(&p.revision)?;
            FileFilter::new(&p.include, &p.exclude).map_err(ApiError::bad_request)?;
        }
        JobParams::Update(p) => {
            if is_commit_hash(&p.revision) {
                return Err(ApiError::bad_request(format!(
                    "`{}` is a commit, which never changes; update takes a branch or tag such as `main`",
                    p.revision
                )));
            }
            revision_ok(&p.revision)?;
        }
        JobParams::Delete(p) => match (&p.revision, p.all) {
            (Some(revision), false) => revision_ok(revision)?,
            (None, true) => {}
            _ => {
                return Err(ApiError::bad_request(
                    "a delete job takes either `revision` or `all: true`, not both and not neither",
                ));
            }
        },
    }
    Ok(())
}

impl Shared {
    fn table(&self) -> MutexGuard<'_, BTreeMap<JobId, Entry>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes a job record; a failure is logged (the job goes on, the record may lag).
    fn save(&self, job: &Job) {
        if let Err(e) = self.store.put(job) {
            tracing::warn!("cannot save job {}: {e}", job.id);
        }
    }

    /// Sends a job event.
    fn announce(&self, job: &Job) {
        self.events.push(EventKind::Job(JobEvent::from(job)));
    }

    /// Sets the jobs-by-kind-and-state gauge from the table.
    fn refresh_gauge(&self, table: &BTreeMap<JobId, Entry>) {
        for kind in [JobKind::Download, JobKind::Update, JobKind::Delete] {
            for state in JobState::ALL {
                let n = table
                    .values()
                    .filter(|e| e.job.params.kind() == kind && e.job.state == state)
                    .count();
                self.metrics
                    .jobs
                    .get_or_create(&JobLabels {
                        kind: kind.as_str(),
                        state: state.as_str(),
                    })
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
    }

    /// Publishes a running job's progress when it changed; `persist` also saves it.
    fn publish(&self, id: JobId, persist: bool) {
        let job = {
            let mut table = self.table();
            let Some(entry) = table.get_mut(&id) else {
                return;
            };
            let Some(tracker) = &entry.tracker else {
                return;
            };
            let progress = tracker.snapshot(Instant::now());
            let commit = tracker.commit();
            if progress == entry.job.progress && commit == entry.job.commit && !persist {
                return;
            }
            entry.job.progress = progress;
            entry.job.commit = commit;
            entry.job.clone()
        };
        if persist {
            self.save(&job);
        }
        self.announce(&job);
    }

    /// Records how a run ended.
    async fn finish(&self, id: JobId, outcome: Outcome) {
        let job = {
            let mut table = self.table();
            let Some(entry) = table.get_mut(&id) else {
                return;
            };
            if let Some(tracker) = entry.tracker.take() {
                entry.job.progress = tracker.snapshot(Instant::now());
                entry.job.commit = tracker.commit().or(entry.job.commit.take());
            }
            if let Err(e) = state::finish(&mut entry.job, outcome, Utc::now()) {
                tracing::error!("{e}");
            }
            let job = entry.job.clone();
            self.refresh_gauge(&table);
            job
        };
        match (&job.error, &job.summary) {
            (Some(error), _) => tracing::warn!(job = id, "job failed: {error}"),
            (None, Some(summary)) => tracing::info!(job = id, state = %job.state, "{summary}"),
            (None, None) => {}
        }
        self.save(&job);
        if let Err(e) = self.store.flush().await {
            tracing::warn!("cannot flush the job database: {e}");
        }
        self.announce(&job);
        self.wake.notify_one();
    }
}

/// Runs one job to its end, publishing progress as it goes; stops at once when cancelled
/// or past `jobs.job_timeout`.
async fn run_job(shared: Arc<Shared>, job: Job, tracker: Arc<Tracker>, cancel: CancellationToken) {
    if let Err(e) = shared.store.flush().await {
        tracing::warn!("cannot flush the job database: {e}");
    }
    let timeout = shared.config.job_timeout;
    let work = tokio::time::timeout(timeout, execute(&shared, &job, tracker, cancel.clone()));
    tokio::pin!(work);
    let mut tick = tokio::time::interval(PUBLISH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut ticks = 0u32;
    let outcome = loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break Outcome::Cancelled,
            result = &mut work => break match result {
                Ok(Ok(summary)) => Outcome::Succeeded(summary),
                Ok(Err(e)) => Outcome::Failed(e.to_string()),
                Err(_) => Outcome::Failed(JobError::Timeout(timeout).to_string()),
            },
            _ = tick.tick() => {
                ticks = ticks.wrapping_add(1);
                shared.publish(job.id, ticks.is_multiple_of(PERSIST_EVERY));
            }
        }
    };
    shared.finish(job.id, outcome).await;
}

async fn execute(
    shared: &Shared,
    job: &Job,
    tracker: Arc<Tracker>,
    cancel: CancellationToken,
) -> Result<String, JobError> {
    let root = shared.cache_root.clone().ok_or_else(|| {
        JobError::Refused(
            "cannot find the Hugging Face cache folder; set HF_HUB_CACHE (or HF_HOME) for the daemon"
                .to_string(),
        )
    })?;
    let id = job.params.dataset().clone();
    let ctx = Ctx {
        hub: shared.hub.clone(),
        repo: RepoCache::new(root, &id),
        id,
        config: shared.config.clone(),
        tracker,
        metrics: shared.metrics.clone(),
        cancel,
        force: matches!(&job.params, JobParams::Download(p) if p.force),
    };
    match &job.params {
        JobParams::Download(p) => kinds::download(&ctx, &shared.store, p).await,
        JobParams::Update(p) => kinds::update(&ctx, &shared.store, p).await,
        JobParams::Delete(p) => kinds::delete(&ctx, p).await,
    }
}
