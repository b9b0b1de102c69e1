//! An in-process stand-in for the daemon, serving the real IPC protocol on a real Unix socket
//! from its own runtime, so tests can stop it the way a crash would (every connection drops).
//! It answers from the fixture hits: previews of any of them, follows and downloads kept in
//! memory (a finished download job adds to the downloads).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use hubdex_core::Dataset;
use hubdex_ipc::{
    ApiError, Card, Column, CommitEntry, CommitList, Downloaded, DownloadedRevision, Event,
    EventBatch, EventKind, FileEntry, FileList, Follow, Hello, Hubdex, Job, JobEvent, JobId,
    JobParams, JobProgress, JobState, PROTOCOL, Rows, RowsRequest, RowsSource, SearchRequest,
    SearchResponse, SplitRef, Status, SyncProgress, SyncReport,
};
use tarpc::context::Context;
use tarpc::server::{BaseChannel, Channel};
use tokio::sync::Notify;

use crate::ui::testdata;

/// A daemon serving the fixture hits.
#[derive(Clone)]
pub struct FakeDaemon {
    protocol: u32,
    search_delay: Duration,
    sync_error: Option<String>,
    job_error: Option<String>,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    searches: Mutex<Vec<String>>,
    events: Mutex<Vec<Event>>,
    jobs: Mutex<Vec<Job>>,
    follows: Mutex<Vec<Follow>>,
    downloads: Mutex<Vec<Downloaded>>,
    news: Notify,
}

/// A running [`FakeDaemon`]; dropping or stopping it drops every connection.
pub struct Server {
    /// The socket it listens on.
    pub socket: PathBuf,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeDaemon {
    pub fn new() -> FakeDaemon {
        FakeDaemon {
            protocol: PROTOCOL,
            search_delay: Duration::ZERO,
            sync_error: None,
            job_error: None,
            state: Arc::default(),
        }
    }

    /// Speaks another protocol, like an outdated daemon.
    pub fn with_protocol(mut self, protocol: u32) -> FakeDaemon {
        self.protocol = protocol;
        self
    }

    /// Takes this long to answer each search.
    pub fn with_search_delay(mut self, delay: Duration) -> FakeDaemon {
        self.search_delay = delay;
        self
    }

    /// Every sync fails with this error.
    pub fn with_sync_error(mut self, error: &str) -> FakeDaemon {
        self.sync_error = Some(error.to_string());
        self
    }

    /// Every job fails with this error.
    pub fn with_job_error(mut self, error: &str) -> FakeDaemon {
        self.job_error = Some(error.to_string());
        self
    }

    /// The queries searched so far, in order of arrival.
    pub fn searches(&self) -> Vec<String> {
        self.state.searches.lock().unwrap().clone()
    }

    /// Serves on `dir/hubdex.sock` from a runtime of its own.
    pub async fn start(self, dir: &Path) -> Server {
        let socket = dir.join("hubdex.sock");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (bound, is_bound) = tokio::sync::oneshot::channel();
        let path = socket.clone();
        runtime.spawn(async move {
            let listener = hubdex_ipc::bind(&path).await.unwrap();
            bound.send(()).unwrap();
            while let Ok((stream, _)) = listener.accept().await {
                let channel = BaseChannel::with_defaults(hubdex_ipc::server_transport(stream));
                tokio::spawn(
                    channel
                        .execute(self.clone().serve())
                        .for_each(|call| async move {
                            tokio::spawn(call);
                        }),
                );
            }
        });
        is_bound.await.unwrap();
        Server {
            socket,
            runtime: Some(runtime),
        }
    }

    fn push(&self, kind: EventKind) {
        let mut events = self.state.events.lock().unwrap();
        let seq = events.last().map_or(1, |e| e.seq + 1);
        events.push(Event {
            seq,
            at: Utc::now(),
            kind,
        });
        drop(events);
        self.state.news.notify_waiters();
    }

    fn collect(&self, since: u64) -> EventBatch {
        let events = self.state.events.lock().unwrap();
        EventBatch {
            events: events.iter().filter(|e| e.seq >= since).cloned().collect(),
            next: events
                .last()
                .map_or(since.max(1), |e| (e.seq + 1).max(since)),
            missed: false,
        }
    }
}

impl Server {
    /// Stops serving, as a crash would, and returns once the socket refuses connections.
    pub async fn stop(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        for _ in 0..200 {
            if std::os::unix::net::UnixStream::connect(&self.socket).is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the fake daemon still answers after being stopped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Hubdex for FakeDaemon {
    async fn hello(self, _: Context) -> Hello {
        Hello {
            version: "0.0.0-fake".into(),
            protocol: self.protocol,
            pid: 4_194_304,
        }
    }

    async fn search(self, _: Context, request: SearchRequest) -> Result<SearchResponse, ApiError> {
        self.state
            .searches
            .lock()
            .unwrap()
            .push(request.query.clone());
        tokio::time::sleep(self.search_delay).await;
        let matches: Vec<Dataset> = testdata::hits()
            .into_iter()
            .filter(|d| d.id.as_str().contains(&request.query))
            .collect();
        let total = matches.len() as u64;
        let hits: Vec<Dataset> = matches
            .into_iter()
            .skip(request.offset)
            .take(request.limit)
            .collect();
        let facets = request.facets.then(|| testdata::facets(&hits));
        Ok(SearchResponse {
            total,
            took_ms: 0.5,
            hits,
            facets,
        })
    }

    async fn dataset(self, _: Context, id: String) -> Result<Dataset, ApiError> {
        testdata::hits()
            .into_iter()
            .find(|d| d.id.as_str() == id)
            .ok_or_else(|| ApiError::not_found(format!("no dataset {id} in the local catalog")))
    }

    async fn status(self, _: Context) -> Status {
        testdata::status()
    }

    async fn sync_now(self, _: Context) -> bool {
        let now = Utc::now();
        self.push(EventKind::SyncStarted);
        self.push(EventKind::SyncProgress(SyncProgress {
            started_at: now,
            pages: 1,
            records: 3,
            ..SyncProgress::default()
        }));
        self.push(EventKind::SyncFinished(SyncReport {
            started_at: now,
            finished_at: now,
            pages: 1,
            records: 3,
            error: self.sync_error.clone(),
            ..SyncReport::default()
        }));
        true
    }

    async fn events(self, _: Context, since: u64, wait_ms: u64) -> EventBatch {
        let batch = self.collect(since);
        if !batch.events.is_empty() || wait_ms == 0 {
            return batch;
        }
        let news = self.state.news.notified();
        let _ = tokio::time::timeout(Duration::from_millis(wait_ms), news).await;
        self.collect(since)
    }

    /// Queues the job, then at once reports it running halfway and finished.
    async fn submit_job(self, _: Context, params: JobParams) -> Result<Job, ApiError> {
        let now = Utc::now();
        let mut jobs = self.state.jobs.lock().unwrap();
        let job = Job {
            id: jobs.len() as JobId + 1,
            params,
            state: JobState::Queued,
            progress: JobProgress::default(),
            error: None,
            summary: None,
            commit: None,
            created_at: now,
            started_at: None,
            finished_at: None,
        };
        let mut running = job.clone();
        running.state = JobState::Running;
        running.progress.files_total = 2;
        running.progress.files_done = 1;
        let mut done = running.clone();
        match &self.job_error {
            Some(error) => {
                done.state = JobState::Failed;
                done.error = Some(error.clone());
            }
            None => {
                done.state = JobState::Succeeded;
                done.progress.files_done = 2;
                done.summary = Some(format!("2 files of `{}` fetched", job.params.dataset()));
            }
        }
        jobs.push(done.clone());
        drop(jobs);
        if done.state == JobState::Succeeded
            && let JobParams::Download(params) = &done.params
        {
            self.state.downloads.lock().unwrap().push(Downloaded {
                dataset: params.dataset.clone(),
                path: format!(
                    "/cache/datasets--{}",
                    params.dataset.as_str().replace('/', "--")
                ),
                size_on_disk: 2_307_749,
                revisions: vec![DownloadedRevision {
                    commit: "e53f048856ff4f594e959d75785d2c2d37b678ee".into(),
                    refs: vec![params.revision.clone()],
                    files: 2,
                    size: 2_307_749,
                    modified_at: None,
                }],
            });
        }
        self.push(EventKind::Job(JobEvent::from(&running)));
        self.push(EventKind::Job(JobEvent::from(&done)));
        Ok(job)
    }

    async fn jobs(self, _: Context) -> Vec<Job> {
        self.state.jobs.lock().unwrap().clone()
    }

    async fn job(self, _: Context, id: JobId) -> Result<Job, ApiError> {
        self.state
            .jobs
            .lock()
            .unwrap()
            .iter()
            .find(|j| j.id == id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no job {id}")))
    }

    async fn cancel_job(self, _: Context, id: JobId) -> Result<Job, ApiError> {
        Err(ApiError::bad_request(format!("job {id} already finished")))
    }

    async fn job_schema(self, _: Context) -> serde_json::Value {
        hubdex_ipc::job_params_schema()
    }

    async fn downloaded(self, _: Context, id: String) -> Result<Option<Downloaded>, ApiError> {
        let downloads = self.state.downloads.lock().unwrap();
        Ok(downloads.iter().find(|d| d.dataset.as_str() == id).cloned())
    }

    async fn downloads(self, _: Context) -> Result<Vec<Downloaded>, ApiError> {
        Ok(self.state.downloads.lock().unwrap().clone())
    }

    async fn card(self, _: Context, id: String) -> Result<Card, ApiError> {
        let dataset = known(&id)?;
        Ok(Card {
            markdown: format!(
                "# {}\n\n{}\n",
                dataset.id,
                dataset.description.unwrap_or_default()
            ),
            dataset: id,
            commit: dataset.sha,
            fetched_at: testdata::now(),
            stale: None,
        })
    }

    async fn files(
        self,
        _: Context,
        id: String,
        revision: Option<String>,
    ) -> Result<FileList, ApiError> {
        known(&id)?;
        let files = vec![
            FileEntry {
                path: "README.md".into(),
                size: 1_204,
                lfs: false,
                downloaded: false,
            },
            FileEntry {
                path: "data/train-00000-of-00001.parquet".into(),
                size: 2_306_545,
                lfs: true,
                downloaded: false,
            },
        ];
        Ok(FileList {
            dataset: id,
            revision: revision.unwrap_or_else(|| "main".into()),
            commit: "e53f048856ff4f594e959d75785d2c2d37b678ee".into(),
            total_size: files.iter().map(|f| f.size).sum(),
            downloaded_size: 0,
            files,
            fetched_at: testdata::now(),
            stale: None,
        })
    }

    async fn commits(
        self,
        _: Context,
        id: String,
        revision: Option<String>,
    ) -> Result<CommitList, ApiError> {
        known(&id)?;
        Ok(CommitList {
            dataset: id,
            revision: revision.unwrap_or_else(|| "main".into()),
            commits: vec![CommitEntry {
                id: "e53f048856ff4f594e959d75785d2c2d37b678ee".into(),
                title: "Upload the data".into(),
                authors: vec!["someone".into()],
                date: testdata::now(),
            }],
            fetched_at: testdata::now(),
            stale: None,
        })
    }

    async fn rows(self, _: Context, request: RowsRequest) -> Result<Rows, ApiError> {
        known(&request.dataset)?;
        Ok(Rows {
            dataset: request.dataset,
            config: "main".into(),
            split: "train".into(),
            source: RowsSource::DatasetViewer {
                endpoint: "http://127.0.0.1:1".into(),
            },
            columns: vec![
                Column {
                    name: "question".into(),
                    dtype: "string".into(),
                },
                Column {
                    name: "answer".into(),
                    dtype: "string".into(),
                },
            ],
            rows: vec![vec!["1 + 1?".into(), "2".into()]],
            truncated: false,
            splits: vec![SplitRef {
                config: "main".into(),
                split: "train".into(),
            }],
        })
    }

    async fn follow(self, _: Context, id: String) -> Result<Follow, ApiError> {
        let dataset = known(&id)?;
        let mut follows = self.state.follows.lock().unwrap();
        if let Some(follow) = follows.iter().find(|f| f.dataset == id) {
            return Ok(follow.clone());
        }
        let follow = Follow {
            dataset: id,
            followed_at: testdata::now(),
            seen_at: testdata::now(),
            current: Some(dataset),
            changes: Vec::new(),
        };
        follows.push(follow.clone());
        Ok(follow)
    }

    async fn unfollow(self, _: Context, id: String) -> Result<bool, ApiError> {
        let mut follows = self.state.follows.lock().unwrap();
        let before = follows.len();
        follows.retain(|f| f.dataset != id);
        Ok(follows.len() < before)
    }

    async fn follows(self, _: Context) -> Result<Vec<Follow>, ApiError> {
        Ok(self.state.follows.lock().unwrap().clone())
    }

    async fn mark_seen(self, _: Context, id: String) -> Result<Follow, ApiError> {
        let mut follows = self.state.follows.lock().unwrap();
        let follow = follows
            .iter_mut()
            .find(|f| f.dataset == id)
            .ok_or_else(|| ApiError::not_found(format!("you do not follow {id}")))?;
        follow.changes.clear();
        follow.seen_at = Utc::now();
        Ok(follow.clone())
    }
}

/// The fixture record `id`, or the daemon's not-found error.
fn known(id: &str) -> Result<Dataset, ApiError> {
    testdata::hits()
        .into_iter()
        .find(|d| d.id.as_str() == id)
        .ok_or_else(|| ApiError::not_found(format!("no dataset {id} in the local catalog")))
}
