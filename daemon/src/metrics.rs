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
        Self {
            registry,
            catalog_records,
            sync_runs,
            sync_records,
            sync_duration,
            syncing,
            offline,
            http_requests,
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
