//! Prometheus metrics served on `GET /metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of the HTTP request counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct HttpLabels {
    /// The matched route pattern, e.g. `/v1/search` (never the raw path, to bound cardinality).
    pub route: String,
    /// The response status code.
    pub status: u16,
}

/// Labels of the sync-run counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct SyncLabels {
    /// `ok` or `error`.
    pub result: &'static str,
}

/// Labels of the jobs gauge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct JobLabels {
    /// `download`, `update` or `delete`.
    pub kind: &'static str,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub state: &'static str,
}

/// The job system's metrics; cheap to clone (clones share the values).
#[derive(Clone, Default)]
pub struct JobMetrics {
    /// Jobs the daemon remembers, by kind and state.
    pub jobs: Family<JobLabels, Gauge>,
    /// Bytes of dataset files received.
    pub bytes_downloaded: Counter,
    /// Retries of Hub requests and file transfers made by jobs.
    pub retries: Counter,
    /// Downloaded files whose size or checksum did not match.
    pub verification_failures: Counter,
}

/// Labels of the preview counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct PreviewLabels {
    /// `cards`, `files` or `commits`.
    pub kind: &'static str,
    /// Where the answer came from: `hub`, `cache` (a current stored copy) or `stale` (a
    /// stored copy served while the Hub could not be reached).
    pub source: &'static str,
}

/// Labels of the webhook counters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct WebhookLabels {
    /// Deliveries: `accepted`, `ignored`, `unauthorized`, `invalid` or `busy`; updates:
    /// `refreshed`, `removed` or `failed`.
    pub outcome: &'static str,
}

/// The syncer's and the webhook's metrics; cheap to clone (clones share the values).
#[derive(Clone, Default)]
pub struct SyncMetrics {
    /// Catalog pages received.
    pub pages: Counter,
    /// Records received by the walk running now (0 when none runs).
    pub walk_records: Gauge,
    /// Estimated seconds until the running walk ends (-1 when unknown or idle).
    pub eta_seconds: Gauge,
    /// Records removed because the Hub no longer lists them.
    pub removed: Counter,
    /// Waits for the Hub's rate limit.
    pub rate_limit_waits: Counter,
    /// Seconds spent waiting for the Hub's rate limit.
    pub rate_limit_wait_seconds: Counter,
    /// 1 once a walk of the Hub's whole catalog has completed.
    pub catalog_complete: Gauge,
    /// Webhook deliveries by outcome.
    pub webhook_deliveries: Family<WebhookLabels, Counter>,
    /// Catalog changes made for webhooks, by outcome.
    pub webhook_updates: Family<WebhookLabels, Counter>,
}

impl SyncMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "sync_pages",
            "Catalog pages received from the Hub",
            self.pages.clone(),
        );
        registry.register(
            "sync_walk_records",
            "Records received by the catalog walk running now",
            self.walk_records.clone(),
        );
        registry.register(
            "sync_eta_seconds",
            "Estimated seconds until the running catalog walk ends (-1: unknown or idle)",
            self.eta_seconds.clone(),
        );
        registry.register(
            "sync_removed_records",
            "Records removed because the Hub no longer lists them",
            self.removed.clone(),
        );
        registry.register(
            "sync_rate_limit_waits",
            "Waits for the Hub's rate limit",
            self.rate_limit_waits.clone(),
        );
        registry.register(
            "sync_rate_limit_wait_seconds",
            "Seconds spent waiting for the Hub's rate limit",
            self.rate_limit_wait_seconds.clone(),
        );
        registry.register(
            "sync_catalog_complete",
            "1 once a walk of the Hub's whole catalog has completed",
            self.catalog_complete.clone(),
        );
        registry.register(
            "webhook_deliveries",
            "Hub webhook deliveries received, by outcome",
            self.webhook_deliveries.clone(),
        );
        registry.register(
            "webhook_updates",
            "Catalog changes made for webhooks, by outcome",
            self.webhook_updates.clone(),
        );
    }
}

/// Every metric the daemon exports, registered once.
pub struct Metrics {
    registry: Registry,
    /// Datasets in the local catalog.
    pub catalog_records: Gauge,
    /// Finished syncs by result.
    pub sync_runs: Family<SyncLabels, Counter>,
    /// Records received from the Hub.
    pub sync_records: Counter,
    /// Duration of finished syncs.
    pub sync_duration: Histogram,
    /// 1 while a sync runs.
    pub syncing: Gauge,
    /// 1 while the Hub cannot be reached.
    pub offline: Gauge,
    /// HTTP requests by route and status.
    pub http_requests: Family<HttpLabels, Counter>,
    /// Download, update and delete jobs.
    pub jobs: JobMetrics,
    /// Sync progress, rate-limit waits, removals and webhooks.
    pub sync: SyncMetrics,
    /// Cards, file lists and commit lists served, by where they came from.
    pub previews: Family<PreviewLabels, Counter>,
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("hubdex");
        let catalog_records = Gauge::default();
        let sync_runs = Family::<SyncLabels, Counter>::default();
        let sync_records = Counter::default();
        let sync_duration =
            Histogram::new([1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0]);
        let syncing = Gauge::default();
        let offline = Gauge::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "catalog_records",
            "Datasets in the local catalog",
            catalog_records.clone(),
        );
        registry.register(
            "sync_runs",
            "Finished catalog syncs by result",
            sync_runs.clone(),
        );
        registry.register(
            "sync_records",
            "Records received from the Hub by syncs",
            sync_records.clone(),
        );
        registry.register(
            "sync_duration_seconds",
            "Duration of finished catalog syncs",
            sync_duration.clone(),
        );
        registry.register("syncing", "1 while a catalog sync runs", syncing.clone());
        registry.register(
            "offline",
            "1 while the Hub cannot be reached",
            offline.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            http_requests.clone(),
        );
        let jobs = JobMetrics::default();
        registry.register("jobs", "Jobs by kind and state", jobs.jobs.clone());
        registry.register(
            "job_bytes_downloaded",
            "Bytes of dataset files received by jobs",
            jobs.bytes_downloaded.clone(),
        );
        registry.register(
            "job_retries",
            "Retries of Hub requests and file transfers made by jobs",
            jobs.retries.clone(),
        );
        registry.register(
            "job_verification_failures",
            "Downloaded files whose size or checksum did not match",
            jobs.verification_failures.clone(),
        );
        let sync = SyncMetrics::default();
        sync.eta_seconds.set(-1);
        sync.register(&mut registry);
        let previews = Family::<PreviewLabels, Counter>::default();
        registry.register(
            "previews",
            "Cards, file lists and commit lists served, by kind and source (hub, cache, stale)",
            previews.clone(),
        );
        Self {
            registry,
            catalog_records,
            sync_runs,
            sync_records,
            sync_duration,
            syncing,
            offline,
            http_requests,
            jobs,
            sync,
            previews,
        }
    }

    /// The metrics in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!("cannot encode metrics: {e}");
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
