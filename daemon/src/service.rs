//! The daemon's shared state and the one set of handlers behind both doors (RPC and HTTP).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hubdex_core::{Dataset, DatasetId, Query, SortKey};
use hubdex_hub::HubClient;
use hubdex_ipc::{
    ApiError, Downloaded, EventBatch, Job, JobId, JobParams, SearchRequest, SearchResponse, Status,
    SyncProgress, SyncReport,
};
use hubdex_store::Catalog;
use tokio::sync::Notify;

use crate::config::Config;
use crate::events::EventLog;
use crate::jobs::{Jobs, JobsSetup};
use crate::metrics::Metrics;

/// How many values of each facet a search with facets returns.
const FACET_LIMIT: usize = 10;

/// The most hits one search may return.
pub const MAX_LIMIT: usize = 1000;

/// The longest long-poll a client may ask for.
const MAX_EVENT_WAIT: Duration = Duration::from_secs(60);

/// What the syncer has done and is doing, as shown by `status`.
#[derive(Debug, Default, Clone)]
pub struct SyncState {
    /// The sync running now.
    pub running: Option<SyncProgress>,
    /// The last finished sync.
    pub last: Option<SyncReport>,
    /// When a sync last succeeded.
    pub last_success: Option<DateTime<Utc>>,
    /// Why the Hub cannot be reached, while it cannot.
    pub offline: Option<String>,
    /// When the next sync is due.
    pub next: Option<DateTime<Utc>>,
    /// True while the search index is compacted after a walk of the whole catalog.
    pub compacting: bool,
}

/// Everything the handlers share: the catalog, the Hub client, sync state, events, metrics.
pub struct Daemon {
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) hub: HubClient,
    pub(crate) config: Config,
    pub(crate) events: Arc<EventLog>,
    pub(crate) metrics: Metrics,
    pub(crate) jobs: Jobs,
    pub(crate) sync: Mutex<SyncState>,
    pub(crate) sync_requested: Notify,
    pub(crate) http_addr: OnceLock<String>,
    /// The syncer's state shared with status and webhooks.
    pub(crate) sync_runtime: crate::sync::SyncRuntime,
    /// Webhook deliveries waiting to be carried out.
    pub(crate) webhooks: crate::webhook::WebhookQueue,
    /// Stored cards, file lists and commit lists.
    pub(crate) previews: Arc<crate::preview::PreviewCache>,
    /// Followed datasets.
    pub(crate) follows: Arc<crate::follows::FollowStore>,
    /// The datasets in the Hugging Face cache, for `downloaded:`.
    pub(crate) downloaded_ids: Arc<crate::follows::DownloadedIds>,
    /// The clients the rows preview uses (see `rows.rs`).
    pub(crate) previewer: crate::rows::Previewer,
}

impl Daemon {
    /// Bundles the parts into the shared state.
    pub fn new(
        catalog: Arc<Catalog>,
        hub: HubClient,
        config: Config,
        jobs: JobsSetup,
        local: crate::preview::LocalSetup,
    ) -> Self {
        let events = Arc::new(EventLog::new());
        let metrics = Metrics::new();
        let jobs = Jobs::new(
            jobs,
            config.jobs.clone(),
            events.clone(),
            metrics.jobs.clone(),
        );
        let previewer = crate::rows::Previewer::new(&config, hub.endpoint());
        let daemon = Self {
            previewer,
            catalog,
            hub,
            config,
            events,
            metrics,
            jobs,
            sync: Mutex::new(SyncState::default()),
            sync_requested: Notify::new(),
            http_addr: OnceLock::new(),
            sync_runtime: crate::sync::SyncRuntime::default(),
            webhooks: crate::webhook::WebhookQueue::new(),
            previews: Arc::new(local.previews),
            follows: Arc::new(local.follows),
            downloaded_ids: Arc::default(),
        };
        daemon.refresh_record_gauge();
        daemon
    }

    /// Locks the sync state; a panic elsewhere never makes it unreadable.
    pub(crate) fn sync_state(&self) -> std::sync::MutexGuard<'_, SyncState> {
        self.sync.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn refresh_record_gauge(&self) {
        self.metrics
            .catalog_records
            .set(i64::try_from(self.catalog.len()).unwrap_or(i64::MAX));
    }

    /// Searches the local catalog.
    pub async fn search(&self, request: SearchRequest) -> Result<SearchResponse, ApiError> {
        if request.limit > MAX_LIMIT {
            return Err(ApiError::bad_request(format!(
                "limit {} is too large; ask for at most {MAX_LIMIT} and page with offset",
                request.limit
            )));
        }
        let started = Instant::now();
        let query = Query::parse_strict(&request.query)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let sort = request.sort.unwrap_or_default();
        let catalog = self.catalog.clone();
        let marks = self.marks().await;
        let (results, facets) = tokio::task::spawn_blocking(move || {
            let page = (request.limit, request.offset);
            if request.facets {
                let (results, facets) =
                    catalog.search_with_facets(&query, sort, page, &marks, FACET_LIMIT)?;
                return Ok((results, Some(facets)));
            }
            let results = catalog.search_marked(&query, sort, page.0, page.1, &marks)?;
            Ok::<_, hubdex_store::StoreError>((results, None))
        })
        .await
        .map_err(|e| ApiError::internal(format!("the search task failed: {e}")))?
        .map_err(|e| ApiError::internal(format!("search failed: {e}")))?;
        let hits = results
            .hits
            .into_iter()
            .map(|mut d| {
                d.card_data = None;
                d
            })
            .collect();
        Ok(SearchResponse {
            total: results.total,
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
            hits,
            facets,
        })
    }

    /// One dataset's full record.
    pub async fn dataset(&self, id: &str) -> Result<Dataset, ApiError> {
        let id = DatasetId::new(id).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let catalog = self.catalog.clone();
        let lookup = id.clone();
        tokio::task::spawn_blocking(move || catalog.get(&lookup))
            .await
            .map_err(|e| ApiError::internal(format!("the lookup task failed: {e}")))?
            .map_err(|e| ApiError::internal(format!("lookup failed: {e}")))?
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "no dataset `{id}` in the local catalog; check the id, or run `hubdex sync` if it is new on the Hub"
                ))
            })
    }

    /// The catalog and sync state.
    pub fn status(&self) -> Status {
        let sync = self.sync_state().clone();
        Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            records: self.catalog.len(),
            endpoint: self.hub.endpoint().to_string(),
            syncing: sync.running,
            last_sync: sync.last,
            last_success: sync.last_success,
            offline: sync.offline,
            next_sync: sync.next,
            http: self.http_addr.get().cloned(),
            catalog_sync: self.sync_runtime.catalog_sync(),
            compacting: sync.compacting,
        }
    }

    /// Asks the syncer to sync now; `false` when a sync is already running.
    pub fn sync_now(&self) -> bool {
        if self.sync_state().running.is_some() {
            return false;
        }
        self.sync_requested.notify_one();
        true
    }

    /// Makes the next new sync a sweep (a walk of the whole catalog that removes what the Hub
    /// deleted) and asks for it now; `false` when a sync is already running (the sweep then
    /// comes next).
    pub fn sweep_now(&self) -> bool {
        self.sync_runtime
            .sweep_requested
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.sync_now()
    }

    /// Events since `since`, waiting up to `wait` (capped at a minute) for the first one.
    pub async fn events(&self, since: u64, wait: Duration) -> EventBatch {
        self.events.since(since, wait.min(MAX_EVENT_WAIT)).await
    }

    /// A page of the Hub-compatible listing: `(records, next offset)` for `/api/datasets`.
    pub async fn hub_listing(
        &self,
        query: Query,
        sort: SortKey,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<Dataset>, Option<usize>), ApiError> {
        let catalog = self.catalog.clone();
        let results =
            tokio::task::spawn_blocking(move || catalog.search(&query, sort, limit, offset))
                .await
                .map_err(|e| ApiError::internal(format!("the listing task failed: {e}")))?
                .map_err(|e| ApiError::internal(format!("listing failed: {e}")))?;
        let end = offset + results.hits.len();
        let next = (!results.hits.is_empty() && (end as u64) < results.total).then_some(end);
        Ok((results.hits, next))
    }

    /// Queues a download, update or delete job.
    pub async fn submit_job(&self, params: JobParams) -> Result<Job, ApiError> {
        self.jobs.submit(params).await
    }

    /// Every job the daemon remembers, oldest first.
    pub fn jobs(&self) -> Vec<Job> {
        self.jobs.list()
    }

    /// One job.
    pub fn job(&self, id: JobId) -> Result<Job, ApiError> {
        self.jobs.get(id)
    }

    /// Cancels a queued or running job.
    pub async fn cancel_job(&self, id: JobId) -> Result<Job, ApiError> {
        self.jobs.cancel(id).await
    }

    /// What of a dataset is in the Hugging Face cache: its revisions and size on disk.
    pub async fn downloaded(&self, id: &str) -> Result<Option<Downloaded>, ApiError> {
        let id = DatasetId::new(id).map_err(|e| ApiError::bad_request(e.to_string()))?;
        self.jobs.downloaded(&id).await
    }
}
