//! The syncer: walks the Hub's catalog into the local store at start, on schedule and on
//! request, and keeps retrying with backoff while the Hub cannot be reached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use hubdex_core::SortKey;
use hubdex_hub::ListParams;
use hubdex_ipc::{EventKind, SyncProgress, SyncReport};
use tokio_util::sync::CancellationToken;

use crate::metrics::SyncLabels;
use crate::service::Daemon;

/// The fields a sync asks for: everything hubdex indexes or shows, nothing more.
pub const EXPAND: [&str; 13] = [
    "author",
    "cardData",
    "createdAt",
    "description",
    "disabled",
    "downloads",
    "gated",
    "lastModified",
    "likes",
    "private",
    "sha",
    "tags",
    "trendingScore",
];

/// The first wait after a failed sync; it doubles up to the config's `offline_retry_max`.
const FIRST_RETRY: Duration = Duration::from_secs(15);

/// Runs syncs until `shutdown` fires.
pub async fn run(daemon: Arc<Daemon>, shutdown: CancellationToken) {
    let mut retry = FIRST_RETRY;
    let mut wait = if daemon.config.sync_on_start {
        Duration::ZERO
    } else {
        daemon.config.sync_interval
    };
    loop {
        daemon.sync_state().next = chrono::Duration::from_std(wait)
            .ok()
            .map(|d| Utc::now() + d);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = daemon.sync_requested.notified() => {}
            _ = shutdown.cancelled() => return,
        }
        let report = tokio::select! {
            report = sync_once(&daemon) => report,
            _ = shutdown.cancelled() => return,
        };
        wait = match report {
            Ok(()) => {
                retry = FIRST_RETRY;
                daemon.config.sync_interval
            }
            Err(()) => {
                let this = retry;
                retry = (retry * 2).min(daemon.config.offline_retry_max);
                this.min(daemon.config.sync_interval)
            }
        };
    }
}

/// One full walk of the catalog. Errors are recorded in the state, events and metrics.
async fn sync_once(daemon: &Daemon) -> Result<(), ()> {
    let started_at = Utc::now();
    let started = Instant::now();
    let mut progress = SyncProgress {
        started_at,
        pages: 0,
        records: 0,
    };
    daemon.sync_state().running = Some(progress.clone());
    daemon.metrics.syncing.set(1);
    daemon.events.push(EventKind::SyncStarted);
    tracing::info!(endpoint = daemon.hub.endpoint(), "sync started");

    let result = walk(daemon, &mut progress).await;

    let report = SyncReport {
        started_at,
        finished_at: Utc::now(),
        pages: progress.pages,
        records: progress.records,
        error: result.as_ref().err().map(|(message, _)| message.clone()),
    };
    daemon
        .metrics
        .sync_duration
        .observe(started.elapsed().as_secs_f64());
    daemon.metrics.syncing.set(0);
    daemon
        .metrics
        .sync_runs
        .get_or_create(&SyncLabels {
            result: if result.is_ok() { "ok" } else { "error" },
        })
        .inc();
    daemon.refresh_record_gauge();
    let was_offline;
    {
        let mut state = daemon.sync_state();
        was_offline = state.offline.is_some();
        state.running = None;
        state.last = Some(report.clone());
        match &result {
            Ok(()) => {
                state.last_success = Some(report.finished_at);
                state.offline = None;
            }
            Err((message, true)) => state.offline = Some(message.clone()),
            Err((_, false)) => state.offline = None,
        }
    }
    match &result {
        Ok(()) => {
            tracing::info!(
                pages = report.pages,
                records = report.records,
                "sync finished"
            );
            daemon.metrics.offline.set(0);
            if was_offline {
                daemon.events.push(EventKind::Online);
            }
        }
        Err((message, offline)) => {
            tracing::warn!("sync failed: {message}");
            daemon.metrics.offline.set(i64::from(*offline));
            if *offline {
                daemon.events.push(EventKind::Offline {
                    reason: message.clone(),
                });
            }
        }
    }
    daemon.events.push(EventKind::SyncFinished(report));
    result.map_err(|_| ())
}

/// Pages through the listing, storing each page. The error carries whether the Hub was
/// unreachable (offline) rather than failing.
async fn walk(daemon: &Daemon, progress: &mut SyncProgress) -> Result<(), (String, bool)> {
    let params = ListParams {
        sort: Some(SortKey::CreatedAt),
        limit: Some(daemon.config.page_size),
        expand: EXPAND.iter().map(|s| s.to_string()).collect(),
        ..ListParams::default()
    };
    let mut pager = daemon.hub.list_datasets(&params);
    loop {
        let page = match pager.next_page().await {
            Ok(Some(page)) => page,
            Ok(None) => return Ok(()),
            Err(e) => return Err((e.to_string(), e.is_offline())),
        };
        if page.skipped > 0 {
            tracing::warn!(
                url = page.url,
                skipped = page.skipped,
                "records the Hub sent that hubdex cannot read were skipped"
            );
        }
        let count = page.records.len() as u64;
        let catalog = daemon.catalog.clone();
        tokio::task::spawn_blocking(move || catalog.upsert_batch(&page.records))
            .await
            .map_err(|e| (format!("the store task failed: {e}"), false))?
            .map_err(|e| (format!("cannot store the catalog page: {e}"), false))?;
        progress.pages += 1;
        progress.records += count;
        daemon.metrics.sync_records.inc_by(count);
        daemon.refresh_record_gauge();
        daemon.sync_state().running = Some(progress.clone());
        daemon
            .events
            .push(EventKind::SyncProgress(progress.clone()));
    }
}
