//! The syncer: keeps the local catalog in step with the Hub's, at the Hub's scale (1.5 M
//! datasets, 1,500 pages), politely, and without losing work to a restart.
//!
//! * **Full walk.** The first sync walks `GET /api/datasets?sort=createdAt` (creation dates
//!   never change, so a walk neither skips nor repeats records that change meanwhile), asks
//!   only for the fields hubdex uses (`expand`), de-duplicates by `_id`, and stores each page
//!   while it fetches the next. Walks of the whole catalog are bulk loads: the search index
//!   commits every few hundred thousand records and at the end, not every page. After every
//!   stored page the `Link` URL of the next one is saved with the walk's counts (in the
//!   catalog's meta values, durable within half a second, in order with the pages), so a
//!   daemon killed mid-walk continues from about the next page on restart. A completed walk
//!   records a watermark, the latest modification
//!   time it saw but never later than ten minutes before it started, so an update made while
//!   it ran is fetched by the next incremental walk.
//! * **Incremental walk.** Later syncs walk `sort=lastModified` from the newest down to the
//!   watermark and stop there: a handful of pages instead of 1,500.
//! * **Deletions (mark and sweep).** A walk of the whole catalog remembers every id it sees;
//!   when it completes, the stored records it did not see are removed. The first full walk
//!   does this too, so records that only came from the embedded snapshot and that the Hub no
//!   longer lists go away: once the Hub has answered a complete walk it is the truth. A walk
//!   interrupted by a restart has lost its marks and removes nothing; the next sync is then
//!   a sweep. After that, a sweep runs every `sweep_interval` (or on request).
//! * **Rate limits.** Every page's `RateLimit` headers are honoured: with the quota spent the
//!   walk waits for the window to reset, and an anonymous walk stops at a reserve of a fifth
//!   of the quota (see [`pace`]). A 429 is waited out by the Hub client. Waits show in the
//!   progress events and `status`.

mod pace;
mod state;
mod sweep;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use hubdex_core::{Dataset, SortKey};
use hubdex_hub::{
    CatalogPage, CatalogPager, HubClient, HubError, ListParams, RateLimit, RetryWait,
};
use hubdex_ipc::{
    CatalogSync, EventKind, SyncKind, SyncProgress, SyncReport, SyncWait, WaitReason,
};
use tokio_util::sync::CancellationToken;

use crate::metrics::SyncLabels;
use crate::service::Daemon;
use pace::Pacer;
pub use state::SyncRuntime;
use state::{SyncMeta, WalkMemory, WalkState, id_hash};

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

/// How far the Hub's clock and ours may disagree: a full walk's watermark is at least this
/// much before the walk started, and a sweep never removes records created this close to it.
const CLOCK_MARGIN: TimeDelta = TimeDelta::minutes(10);

/// Why a sync stopped early: what to tell the user, and whether the Hub was unreachable.
type Failure = (String, bool);

/// Runs syncs until `shutdown` fires.
pub async fn run(daemon: Arc<Daemon>, shutdown: CancellationToken) {
    refresh_catalog_sync(&daemon).await;
    if compaction_due(&daemon).await {
        daemon.sync_state().compacting = true;
        tokio::select! {
            () = compact(&daemon) => {}
            _ = shutdown.cancelled() => return,
        }
    }
    let mut retry = daemon.config.offline_retry_min;
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
        wait = if report.succeeded() {
            retry = daemon.config.offline_retry_min;
            daemon.config.sync_interval
        } else {
            let this = retry;
            retry = (retry * 2).min(daemon.config.offline_retry_max);
            this.min(daemon.config.sync_interval)
        };
    }
}

/// One sync: continues the saved walk if there is one, else starts the walk the catalog's
/// state calls for. Errors are recorded in the state, events and metrics, and in the report.
pub(crate) async fn sync_once(daemon: &Arc<Daemon>) -> SyncReport {
    let started_at = Utc::now();
    let started = Instant::now();
    let endpoint = daemon.hub.endpoint().to_string();
    daemon.sync_state().running = Some(SyncProgress {
        started_at,
        ..SyncProgress::default()
    });
    daemon.metrics.syncing.set(1);
    daemon.events.push(EventKind::SyncStarted);

    let mut walk = None;
    let mut resumed = false;
    let outcome = match load(daemon).await {
        Ok((meta, saved)) => {
            let current = match saved.filter(|w| w.endpoint == endpoint) {
                Some(saved) => {
                    resumed = true;
                    saved
                }
                None => {
                    if let Some(previous) = meta.completed_elsewhere(&endpoint) {
                        tracing::info!(
                            previous,
                            endpoint,
                            "the Hub endpoint changed since the catalog was synced; walking the whole catalog from the new one"
                        );
                    }
                    new_walk(daemon, &meta, started_at)
                }
            };
            tracing::info!(
                endpoint,
                kind = ?current.kind,
                resumed,
                pages = current.pages,
                "sync started"
            );
            let current = walk.insert(current);
            run_walk(daemon, &meta, current, resumed, started).await
        }
        Err(e) => Err(e),
    };

    let progress = daemon.sync_state().running.take();
    let progress = progress.unwrap_or_default();
    let (removed, error) = match &outcome {
        Ok(removed) => (*removed, None),
        Err((message, _)) => (0, Some(message.clone())),
    };
    let report = SyncReport {
        started_at,
        finished_at: Utc::now(),
        pages: walk.as_ref().map_or(0, |w| w.pages),
        records: walk.as_ref().map_or(0, |w| w.records),
        error,
        kind: walk.as_ref().map_or_else(SyncKind::default, |w| w.kind),
        resumed,
        removed,
        rate_limit_waits: progress.rate_limit_waits,
        rate_limit_wait_seconds: daemon
            .sync_runtime
            .rate_limit_wait_seconds
            .swap(0, Ordering::Relaxed),
    };
    // A walk of the whole catalog is a bulk load, which leaves the index to compact.
    let bulk = walk.as_ref().is_some_and(WalkState::marks);
    record_outcome(daemon, &report, outcome.as_ref().err(), started, bulk);
    refresh_catalog_sync(daemon).await;
    if bulk {
        compact(daemon).await;
    }
    report
}

/// True when a walk of the whole catalog (of this process or, stopped early, of the last
/// one) left the index to compact.
async fn compaction_due(daemon: &Daemon) -> bool {
    let catalog = daemon.catalog.clone();
    match tokio::task::spawn_blocking(move || catalog.compaction_due()).await {
        Ok(Ok(due)) => due,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot tell whether the search index needs compacting");
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "the store task failed");
            false
        }
    }
}

/// Merges the segments a walk of the whole catalog left into one, after the sync has been
/// reported (with `compacting` set): every record is searchable already, and the merge takes
/// about 20 s per million records.
async fn compact(daemon: &Daemon) {
    let catalog = daemon.catalog.clone();
    let compacted = tokio::task::spawn_blocking(move || catalog.compact()).await;
    daemon.sync_state().compacting = false;
    // Clients refresh their status on events; this one ends the `compacting` they show.
    daemon.events.push(EventKind::IndexCompacted);
    match compacted {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "could not compact the search index"),
        Err(e) => tracing::warn!(error = %e, "the index compaction task failed"),
    }
}

/// Reads the saved state off the async threads.
async fn load(daemon: &Daemon) -> Result<(SyncMeta, Option<WalkState>), Failure> {
    let catalog = daemon.catalog.clone();
    tokio::task::spawn_blocking(move || state::load(&catalog))
        .await
        .map_err(|e| (format!("the store task failed: {e}"), false))?
        .map_err(|e| (format!("cannot read the sync state: {e}"), false))
}

/// What the next new walk is: a full walk until one has completed, then incremental walks,
/// with a sweep when one is due or was asked for. `take_request` consumes a pending request.
fn next_kind(daemon: &Daemon, meta: &SyncMeta, now: DateTime<Utc>, take_request: bool) -> SyncKind {
    let endpoint = daemon.hub.endpoint();
    if !meta.complete_for(endpoint) || meta.watermark.is_none() {
        return SyncKind::Full;
    }
    let flag = &daemon.sync_runtime.sweep_requested;
    let requested = if take_request {
        flag.swap(false, Ordering::SeqCst)
    } else {
        flag.load(Ordering::SeqCst)
    };
    let interval = TimeDelta::from_std(daemon.config.sweep_interval).unwrap_or(TimeDelta::MAX);
    let due = meta.last_sweep.is_none_or(|last| now - last >= interval);
    if requested || due {
        SyncKind::Sweep
    } else {
        SyncKind::Incremental
    }
}

fn new_walk(daemon: &Daemon, meta: &SyncMeta, now: DateTime<Utc>) -> WalkState {
    let kind = next_kind(daemon, meta, now, true);
    let sort = match kind {
        SyncKind::Incremental => SortKey::LastModified,
        SyncKind::Full | SyncKind::Sweep => SortKey::CreatedAt,
    };
    let params = ListParams {
        sort: Some(sort),
        limit: Some(daemon.config.page_size),
        expand: EXPAND.iter().map(|s| s.to_string()).collect(),
        ..ListParams::default()
    };
    let pager = daemon.hub.list_datasets(&params);
    let first_url = pager.next_url().unwrap_or_default().to_string();
    let mut walk = WalkState::new(kind, daemon.hub.endpoint(), first_url, now);
    match kind {
        SyncKind::Incremental => walk.stop_at = meta.watermark,
        // The local catalog is the Hub's size only once a walk of it completed: before,
        // it holds the embedded snapshot (49k of 1.5M) or what an earlier walk stored.
        SyncKind::Sweep => walk.expected = Some(daemon.catalog.len()),
        SyncKind::Full => {}
    }
    walk
}

/// Walks the remaining pages, then finishes the walk; returns the records removed.
async fn run_walk(
    daemon: &Arc<Daemon>,
    meta: &SyncMeta,
    walk: &mut WalkState,
    resumed: bool,
    started: Instant,
) -> Result<u64, Failure> {
    {
        let mut memory = daemon.sync_runtime.walk();
        if memory.as_ref().is_none_or(|m| m.walk != walk.id) {
            *memory = Some(WalkMemory {
                walk: walk.id.clone(),
                object_ids: Default::default(),
                marks: Default::default(),
                // Marks made before a restart are lost, so such a walk may not sweep.
                complete: walk.pages == 0,
            });
        }
    }
    daemon.sync_state().running = Some(walk.progress(resumed));
    daemon
        .sync_runtime
        .rate_limit_wait_seconds
        .store(walk.rate_limit_wait_seconds, Ordering::Relaxed);
    daemon.metrics.sync.walk_records.set(gauge(walk.records));
    let walked = walk_pages(daemon, walk, started).await;
    // A walk of the whole catalog defers index commits: make what it stored searchable,
    // whether it ended or stopped.
    commit(daemon).await?;
    walked?;
    finish(daemon, meta, walk).await
}

/// Commits the catalog's pending index changes and releases the index writer.
async fn commit(daemon: &Daemon) -> Result<(), Failure> {
    let catalog = daemon.catalog.clone();
    tokio::task::spawn_blocking(move || catalog.commit())
        .await
        .map_err(|e| (format!("the store task failed: {e}"), false))?
        .map_err(|e| (format!("cannot commit the search index: {e}"), false))
}

/// Fetches and stores pages until the walk is over, saving the cursor after each one. The
/// next page is fetched while the current one is stored, so the Hub's latency and the
/// catalog's writes overlap.
async fn walk_pages(
    daemon: &Arc<Daemon>,
    walk: &mut WalkState,
    started: Instant,
) -> Result<(), Failure> {
    let Some(url) = walk.next_url.clone() else {
        return Ok(());
    };
    let client = observed_client(daemon);
    let mut pager = CatalogPager::resume(&client, url);
    let mut pacer = Pacer::new(
        !daemon.hub.has_token(),
        daemon.config.sync_pacing,
        Instant::now(),
    );
    let session_records = walk.records;
    let mut session_from: Option<DateTime<Utc>> = None;
    let mut next = fetch(daemon, &mut pager, &mut pacer, None).await;
    loop {
        let page = match next? {
            Some(page) => page,
            None => {
                walk.next_url = None;
                break;
            }
        };
        if page.skipped > 0 {
            tracing::warn!(
                url = page.url,
                skipped = page.skipped,
                "records the Hub sent that hubdex cannot read were skipped"
            );
        }
        let limit = page.rate_limit;
        let (records, stop) = select(daemon, walk, page.records);
        if walk.kind == SyncKind::Incremental
            && let Some(first) = records.first().and_then(|d| d.last_modified)
        {
            walk.newest.get_or_insert(first);
            session_from.get_or_insert(first);
        }
        let position = records.last().and_then(|d| d.last_modified);
        walk.pages += 1;
        walk.records += records.len() as u64;
        walk.max_last_modified = walk
            .max_last_modified
            .max(records.iter().filter_map(|d| d.last_modified).max());
        walk.next_url = if stop {
            None
        } else {
            pager.next_url().map(str::to_string)
        };
        if let Some(progress) = &daemon.sync_state().running {
            walk.rate_limit_waits = progress.rate_limit_waits;
        }
        walk.rate_limit_wait_seconds = daemon
            .sync_runtime
            .rate_limit_wait_seconds
            .load(Ordering::Relaxed);
        let count = records.len();
        let store_started = Instant::now();
        let more = walk.next_url.is_some();
        if more {
            let (stored, fetched) = tokio::join!(
                store(daemon, records, walk),
                fetch(daemon, &mut pager, &mut pacer, limit.as_ref())
            );
            stored?;
            next = fetched;
        } else {
            store(daemon, records, walk).await?;
            next = Ok(None);
        }
        tracing::debug!(
            page = walk.pages,
            records = count,
            store_and_next_fetch_ms = store_started.elapsed().as_millis(),
            "catalog page stored"
        );

        let eta = match (walk.kind, walk.newest, walk.stop_at, session_from, position) {
            (SyncKind::Incremental, Some(newest), Some(stop_at), Some(from), Some(at)) => {
                pace::eta_incremental(newest, stop_at, from, at, started.elapsed())
            }
            (SyncKind::Incremental, ..) => None,
            _ => pace::eta_full(
                walk.expected,
                walk.records,
                session_records,
                started.elapsed(),
            ),
        };
        daemon.metrics.sync.pages.inc();
        daemon.metrics.sync.walk_records.set(gauge(walk.records));
        daemon.metrics.sync.eta_seconds.set(eta.map_or(-1, gauge));
        update_progress(daemon, |p| {
            p.pages = walk.pages;
            p.records = walk.records;
            p.expected = walk.expected;
            p.eta_seconds = eta;
        });
        if !more {
            break;
        }
    }
    Ok(())
}

/// Fetches the next page once the rate limit allows; `None` when the walk is over.
async fn fetch(
    daemon: &Daemon,
    pager: &mut CatalogPager,
    pacer: &mut Pacer,
    limit: Option<&RateLimit>,
) -> Result<Option<CatalogPage>, Failure> {
    if let Some(wait) = pacer.wait(limit, Instant::now()) {
        let message = format!(
            "waiting for the Hub's rate limit, {} s",
            whole_seconds(wait)
        );
        pause(daemon, WaitReason::RateLimit, wait, message);
        tokio::time::sleep(wait).await;
        set_waiting(daemon, None);
    }
    let page = pager.next_page().await.map_err(|e| failure(&e))?;
    set_waiting(daemon, None);
    Ok(page)
}

/// The page's records this walk keeps: `_id`s it has not stored yet, and for an incremental
/// walk only those modified after the watermark. Also says whether the walk has reached its
/// end. Nothing is remembered until the page is stored (see [`remember`]).
fn select(daemon: &Daemon, walk: &WalkState, records: Vec<Dataset>) -> (Vec<Dataset>, bool) {
    let mut stop = false;
    let mut kept = Vec::with_capacity(records.len());
    let mut on_page = std::collections::HashSet::new();
    let memory = daemon.sync_runtime.walk();
    for record in records {
        if walk.kind == SyncKind::Incremental {
            let newer = match (record.last_modified, walk.stop_at) {
                (Some(modified), Some(stop_at)) => modified > stop_at,
                _ => false,
            };
            if !newer {
                stop = true;
                break;
            }
        }
        let key = object_key(&record);
        let stored = memory.as_ref().is_some_and(|m| m.object_ids.contains(&key));
        if stored || !on_page.insert(key) {
            continue;
        }
        kept.push(record);
    }
    (kept, stop)
}

/// The key a walk de-duplicates by: the `_id`, or the id for records without one.
fn object_key(record: &Dataset) -> u64 {
    id_hash(record.object_id.as_deref().unwrap_or(record.id.as_str()))
}

/// Notes stored records in the walk's memory: their `_id`s, and for a walk of the whole
/// catalog their ids as marks for the sweep.
fn remember(daemon: &Daemon, walk: &WalkState, records: &[Dataset]) {
    if let Some(memory) = daemon.sync_runtime.walk().as_mut() {
        for record in records {
            memory.object_ids.insert(object_key(record));
            if walk.marks() {
                memory.marks.insert(id_hash(record.id.as_str()));
            }
        }
    }
}

/// Stores the page and then the walk's new state, off the async threads; then remembers
/// the page's records for the rest of the walk. A walk of the whole catalog is a bulk load,
/// whose index commits are deferred (see [`Catalog::upsert_bulk`]).
///
/// [`Catalog::upsert_bulk`]: hubdex_store::Catalog::upsert_bulk
async fn store(daemon: &Daemon, records: Vec<Dataset>, walk: &WalkState) -> Result<(), Failure> {
    let count = records.len() as u64;
    let catalog = daemon.catalog.clone();
    let saved = walk.clone();
    let bulk = walk.marks();
    let records = tokio::task::spawn_blocking(move || {
        if !records.is_empty() {
            let stored = match bulk {
                true => catalog.upsert_bulk(&records),
                false => catalog.upsert_batch(&records),
            };
            stored.map_err(|e| format!("cannot store the catalog page: {e}"))?;
        }
        state::save_walk(&catalog, &saved)
            .map_err(|e| format!("cannot save the sync state: {e}"))?;
        Ok::<_, String>(records)
    })
    .await
    .map_err(|e| (format!("the store task failed: {e}"), false))?
    .map_err(|e| (e, false))?;
    remember(daemon, walk, &records);
    daemon.metrics.sync_records.inc_by(count);
    daemon.refresh_record_gauge();
    Ok(())
}

/// Ends a walk whose pages are all stored: sweeps when the walk marked every page in this
/// process, moves the watermark, and forgets the walk. Returns the records removed.
async fn finish(daemon: &Arc<Daemon>, meta: &SyncMeta, walk: &WalkState) -> Result<u64, Failure> {
    let now = Utc::now();
    let marks = {
        let mut memory = daemon.sync_runtime.walk();
        memory
            .as_mut()
            .filter(|m| m.walk == walk.id && m.complete && walk.marks())
            .map(|m| std::mem::take(&mut m.marks))
    };
    let mut removed = 0;
    let swept = marks.is_some();
    if let Some(marks) = marks {
        let protect_after = walk.started_at - CLOCK_MARGIN;
        // Records only the embedded snapshot had are found from its ids alone; the catalog
        // is read in full only if unseen records remain after them.
        let from_snapshot = sweep::unseen_in_snapshot(&daemon.catalog, &marks)
            .await
            .map_err(|e| (e, false))?;
        removed += remove_unseen(daemon, from_snapshot).await?;
        let rest = sweep::unseen(&daemon.catalog, &marks, protect_after)
            .await
            .map_err(|e| (e, false))?;
        drop(marks);
        removed += remove_unseen(daemon, rest).await?;
    } else if walk.marks() {
        tracing::info!(
            "this walk was interrupted by a restart, so it removes nothing; the next sync sweeps"
        );
    }
    let mut next = meta.clone();
    next.endpoint = walk.endpoint.clone();
    match walk.kind {
        SyncKind::Full | SyncKind::Sweep => {
            let ceiling = walk.started_at - CLOCK_MARGIN;
            next.watermark = Some(walk.max_last_modified.map_or(ceiling, |m| m.min(ceiling)));
            next.complete = true;
            next.last_full = Some(now);
            if swept {
                next.last_sweep = Some(now);
            }
        }
        SyncKind::Incremental => {
            next.watermark = next.watermark.max(walk.max_last_modified);
        }
    }
    let catalog = daemon.catalog.clone();
    tokio::task::spawn_blocking(move || state::finish_walk(&catalog, &next))
        .await
        .map_err(|e| (format!("the store task failed: {e}"), false))?
        .map_err(|e| (format!("cannot save the sync state: {e}"), false))?;
    *daemon.sync_runtime.walk() = None;
    Ok(removed)
}

/// Removes records a sweep did not see, except those a webhook refreshed meanwhile.
async fn remove_unseen(
    daemon: &Daemon,
    mut unseen: Vec<hubdex_core::DatasetId>,
) -> Result<u64, Failure> {
    if let Some(memory) = daemon.sync_runtime.walk().as_ref() {
        unseen.retain(|id| !memory.marks.contains(&id_hash(id.as_str())));
    }
    if unseen.is_empty() {
        return Ok(0);
    }
    tracing::info!(
        records = unseen.len(),
        "removing records the Hub no longer lists"
    );
    let removed = sweep::remove(&daemon.catalog, unseen)
        .await
        .map_err(|e| (e, false))?;
    daemon.metrics.sync.removed.inc_by(removed);
    daemon.refresh_record_gauge();
    Ok(removed)
}

/// Records a finished sync in the state, metrics, log and events; `compacting` says the
/// search index is compacted next.
fn record_outcome(
    daemon: &Daemon,
    report: &SyncReport,
    failure: Option<&Failure>,
    started: Instant,
    compacting: bool,
) {
    daemon
        .metrics
        .sync_duration
        .observe(started.elapsed().as_secs_f64());
    daemon.metrics.syncing.set(0);
    daemon.metrics.sync.walk_records.set(0);
    daemon.metrics.sync.eta_seconds.set(-1);
    daemon
        .metrics
        .sync_runs
        .get_or_create(&SyncLabels {
            result: if failure.is_none() { "ok" } else { "error" },
        })
        .inc();
    daemon.refresh_record_gauge();
    let was_offline;
    {
        let mut state = daemon.sync_state();
        was_offline = state.offline.is_some();
        state.running = None;
        state.compacting = compacting;
        state.last = Some(report.clone());
        match failure {
            None => {
                state.last_success = Some(report.finished_at);
                state.offline = None;
            }
            Some((message, true)) => state.offline = Some(message.clone()),
            Some((_, false)) => state.offline = None,
        }
    }
    match failure {
        None => {
            tracing::info!(
                kind = ?report.kind,
                pages = report.pages,
                records = report.records,
                removed = report.removed,
                "sync finished"
            );
            daemon.metrics.offline.set(0);
            if was_offline {
                daemon.events.push(EventKind::Online);
            }
        }
        Some((message, offline)) => {
            tracing::warn!("sync failed: {message}");
            daemon.metrics.offline.set(i64::from(*offline));
            if *offline {
                daemon.events.push(EventKind::Offline {
                    reason: message.clone(),
                });
            }
        }
    }
    daemon.events.push(EventKind::SyncFinished(report.clone()));
}

/// Shows the catalog's sync state (complete, watermark, next kind, interrupted walk) in
/// `status`, read from what is saved.
pub(crate) async fn refresh_catalog_sync(daemon: &Daemon) {
    let (meta, walk) = match load(daemon).await {
        Ok(loaded) => loaded,
        Err((message, _)) => {
            tracing::warn!("{message}");
            return;
        }
    };
    let endpoint = daemon.hub.endpoint();
    let complete = meta.complete_for(endpoint);
    let walk = walk.filter(|w| w.endpoint == endpoint);
    let state = CatalogSync {
        complete,
        watermark: meta.watermark.filter(|_| complete),
        last_full: meta.last_full,
        last_sweep: meta.last_sweep,
        next_kind: walk
            .as_ref()
            .map_or_else(|| next_kind(daemon, &meta, Utc::now(), false), |w| w.kind),
        interrupted: walk.map(|w| Box::new(w.progress(true))),
        webhooks: 0,
        synced_endpoint: meta.completed_elsewhere(endpoint).map(str::to_string),
    };
    daemon
        .metrics
        .sync
        .catalog_complete
        .set(i64::from(complete));
    daemon.sync_runtime.set_catalog_sync(state);
}

/// A client like the daemon's whose retry waits show in the progress (a 429 waited out).
fn observed_client(daemon: &Arc<Daemon>) -> HubClient {
    let weak: Weak<Daemon> = Arc::downgrade(daemon);
    daemon.hub.with_retry_observer(move |wait: &RetryWait| {
        let Some(daemon) = weak.upgrade() else {
            return;
        };
        let seconds = whole_seconds(wait.wait);
        let (reason, message) = if wait.rate_limited {
            (
                WaitReason::RateLimit,
                format!("waiting for the Hub's rate limit, {seconds} s"),
            )
        } else {
            (
                WaitReason::Retry,
                format!("retrying in {seconds} s after: {}", wait.reason),
            )
        };
        pause(&daemon, reason, wait.wait, message);
    })
}

/// Shows a wait in the progress; a rate-limit wait is also counted.
fn pause(daemon: &Daemon, reason: WaitReason, wait: Duration, message: String) {
    let seconds = whole_seconds(wait);
    if reason == WaitReason::RateLimit {
        daemon.metrics.sync.rate_limit_waits.inc();
        daemon.metrics.sync.rate_limit_wait_seconds.inc_by(seconds);
        daemon
            .sync_runtime
            .rate_limit_wait_seconds
            .fetch_add(seconds, Ordering::Relaxed);
        tracing::info!("{message}");
    }
    let until = Utc::now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::zero());
    let waiting = SyncWait {
        reason,
        until,
        seconds,
        message,
    };
    update_progress(daemon, |p| {
        if reason == WaitReason::RateLimit {
            p.rate_limit_waits += 1;
        }
        p.waiting = Some(waiting);
    });
}

/// Clears (or sets) the wait shown in the progress, without an event for clearing.
fn set_waiting(daemon: &Daemon, waiting: Option<SyncWait>) {
    if let Some(progress) = daemon.sync_state().running.as_mut() {
        progress.waiting = waiting;
    }
}

/// Changes the running sync's progress and tells the clients.
fn update_progress(daemon: &Daemon, change: impl FnOnce(&mut SyncProgress)) {
    let progress = {
        let mut state = daemon.sync_state();
        let Some(progress) = state.running.as_mut() else {
            return;
        };
        change(progress);
        progress.clone()
    };
    daemon.events.push(EventKind::SyncProgress(progress));
}

fn failure(error: &HubError) -> Failure {
    (error.to_string(), error.is_offline())
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
