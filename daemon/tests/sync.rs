//! The syncer and the webhook in process, against a fake Hub: resuming a walk, incremental
//! syncs, mark and sweep, rate limits, webhooks.

// Test code: a panic is how a helper reports a failed expectation.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use hubdex_core::{Dataset, DatasetId};
use hubdex_daemon::{Config, Service};
use hubdex_fakehub::{FakeHub, FakeHubOptions, Fault, Mutation, RateLimits, RunningFakeHub};
use hubdex_hub::{HubClient, HubConfig, RetryPolicy};
use hubdex_ipc::{EventKind, SyncKind, WaitReason};
use hubdex_store::{Catalog, CatalogOptions};
use serde_json::Value;
use tempfile::TempDir;

const PAGE: usize = 50;

/// A daemon over a fresh catalog in a temp dir, syncing from `hub`.
struct Setup {
    service: Service,
    catalog: Arc<Catalog>,
    dir: TempDir,
}

fn hub_client(hub: &RunningFakeHub, retries: u32) -> HubClient {
    HubClient::new(HubConfig {
        endpoint: hub.url(),
        token: None,
        retry: RetryPolicy {
            max_retries: retries,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        },
        timeout: Duration::from_secs(10),
    })
    .unwrap()
}

fn config() -> Config {
    Config {
        page_size: PAGE,
        ..Config::default()
    }
}

fn open_catalog(dir: &TempDir) -> Arc<Catalog> {
    let options = CatalogOptions {
        cache_capacity_bytes: 8 * 1024 * 1024,
        writer_memory_bytes: 20_000_000,
    };
    Arc::new(Catalog::open(&dir.path().join("catalog"), options).unwrap())
}

async fn setup(hub: &RunningFakeHub, config: Config, retries: u32) -> Setup {
    let dir = TempDir::new().unwrap();
    let catalog = open_catalog(&dir);
    let service = Service::open(
        dir.path(),
        catalog.clone(),
        hub_client(hub, retries),
        config,
    )
    .await
    .unwrap();
    Setup {
        service,
        catalog,
        dir,
    }
}

async fn fake(count: usize, seed: u64) -> FakeHub {
    tokio::task::spawn_blocking(move || {
        FakeHub::synthetic(
            count,
            seed,
            FakeHubOptions {
                page_size: PAGE,
                ..FakeHubOptions::default()
            },
        )
    })
    .await
    .unwrap()
}

async fn spawn(hub: FakeHub) -> RunningFakeHub {
    hub.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn get(catalog: &Catalog, id: &str) -> Option<Dataset> {
    catalog.get(&DatasetId::new(id).unwrap()).unwrap()
}

/// The ids the fake lists now.
fn fake_ids(count: usize, seed: u64) -> HashSet<String> {
    hubdex_fakehub::synthetic_records(count, seed)
        .into_iter()
        .map(|d| d.id.to_string())
        .collect()
}

/// Listing requests the fake answered, in order.
fn listings(hub: &RunningFakeHub) -> Vec<(String, Option<u16>)> {
    hub.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/datasets?"))
        .map(|r| (r.path, r.status))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_walk_cut_short_resumes_from_its_saved_cursor_and_stores_every_record_once() {
    const RECORDS: usize = 600;
    let hub = spawn(
        fake(RECORDS, 21)
            .await
            .with_latency(Duration::from_millis(30)),
    )
    .await;
    let dir = TempDir::new().unwrap();
    let catalog = open_catalog(&dir);
    let first = Service::open(dir.path(), catalog.clone(), hub_client(&hub, 0), config())
        .await
        .unwrap();
    // One page fails after a few were stored; the client does not retry.
    let sync = tokio::spawn(async move { first.sync_once().await });
    for _ in 0..500 {
        if listings(&hub).len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    hub.inject_faults(Fault {
        count: 1,
        status: 503,
        body: "<html>down</html>".into(),
    });
    let failed = sync.await.unwrap();
    assert!(failed.error.is_some(), "{failed:?}");
    let stored_pages = failed.pages;
    assert!((4..12).contains(&stored_pages), "{failed:?}");
    assert_eq!(failed.records, stored_pages * PAGE as u64);
    assert_eq!(catalog.len(), failed.records);

    // A new daemon over the same catalog (a restart) continues where the walk stopped.
    let second = Service::open(dir.path(), catalog.clone(), hub_client(&hub, 0), config())
        .await
        .unwrap();
    let pending = second
        .status()
        .catalog_sync
        .interrupted
        .expect("a saved walk");
    assert_eq!(pending.pages, stored_pages);
    assert_eq!(
        pending.expected, None,
        "a first walk cannot know the Hub's size from the local catalog"
    );
    let before = listings(&hub).len();
    let (failed_url, failed_status) = listings(&hub).last().unwrap().clone();
    assert_eq!(failed_status, Some(503));
    let resumed = second.sync_once().await;
    assert_eq!(resumed.error, None);
    assert!(resumed.resumed);
    assert_eq!(resumed.kind, SyncKind::Full);
    assert_eq!(
        resumed.records, RECORDS as u64,
        "every record once, none twice"
    );
    let after: Vec<(String, Option<u16>)> = listings(&hub).split_off(before);
    assert_eq!(
        after[0].0, failed_url,
        "the walk went on from the page that failed"
    );
    assert_eq!(after.len() as u64, resumed.pages - stored_pages);
    assert!(failed_url.contains("cursor="));
    let stored: HashSet<String> = fake_ids(RECORDS, 21)
        .into_iter()
        .filter(|id| get(&catalog, id).is_some())
        .collect();
    assert_eq!(stored.len(), RECORDS);
    assert_eq!(catalog.len(), RECORDS as u64);
    assert_eq!(
        resumed.removed, 0,
        "a walk that lost its marks removes nothing"
    );
    let status = second.status();
    assert!(status.catalog_sync.complete);
    assert_eq!(status.catalog_sync.next_kind, SyncKind::Sweep);
    assert!(status.catalog_sync.interrupted.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_endpoint_is_shown_and_the_whole_catalog_is_walked_again() {
    let first_hub = spawn(fake(120, 5).await).await;
    let second_hub = spawn(fake(120, 5).await).await;
    let dir = TempDir::new().unwrap();
    let catalog = open_catalog(&dir);
    let first = Service::open(
        dir.path(),
        catalog.clone(),
        hub_client(&first_hub, 0),
        config(),
    )
    .await
    .unwrap();
    assert_eq!(first.sync_once().await.error, None);
    let status = first.status();
    assert!(status.catalog_sync.complete);
    assert_eq!(status.catalog_sync.synced_endpoint, None);
    let first_endpoint = status.endpoint;
    drop(first);

    // The same catalog, now synced from another Hub (`HF_ENDPOINT` changed).
    let second = Service::open(
        dir.path(),
        catalog.clone(),
        hub_client(&second_hub, 0),
        config(),
    )
    .await
    .unwrap();
    let status = second.status();
    assert_ne!(status.endpoint, first_endpoint);
    assert!(!status.catalog_sync.complete);
    assert_eq!(status.catalog_sync.synced_endpoint, Some(first_endpoint));
    assert_eq!(status.catalog_sync.next_kind, SyncKind::Full);
    let walked = second.sync_once().await;
    assert_eq!(walked.error, None);
    assert_eq!(walked.kind, SyncKind::Full);
    assert_eq!(walked.records, 120);
    let status = second.status();
    assert!(status.catalog_sync.complete);
    assert_eq!(status.catalog_sync.synced_endpoint, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_walk_is_reported_done_before_the_index_is_compacted() {
    let hub = spawn(fake(300, 4).await).await;
    let s = setup(&hub, config(), 2).await;
    let full = s.service.sync_once().await;
    assert_eq!(full.error, None);
    assert!(!s.service.status().compacting);
    assert!(!s.catalog.compaction_due().unwrap());
    let batch = s.service.events(0).await;
    let position =
        |wanted: fn(&EventKind) -> bool| batch.events.iter().position(|e| wanted(&e.kind)).unwrap();
    let finished = position(|k| matches!(k, EventKind::SyncFinished(_)));
    let compacted = position(|k| matches!(k, EventKind::IndexCompacted));
    assert!(
        finished < compacted,
        "the sync is reported before compacting"
    );

    hub.mutate(Mutation {
        created: 0,
        updated: 2,
        deleted: 0,
        moved: 0,
    })
    .await;
    let incremental = s.service.sync_once().await;
    assert_eq!(
        (incremental.error, incremental.kind),
        (None, SyncKind::Incremental)
    );
    let later = s.service.events(batch.next).await;
    assert!(
        !later
            .events
            .iter()
            .any(|e| matches!(e.kind, EventKind::IndexCompacted)),
        "an incremental sync leaves nothing to compact"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_syncs_pick_up_changes_and_sweeps_remove_what_the_hub_deleted() {
    let hub = spawn(fake(300, 4).await).await;
    let s = setup(&hub, config(), 2).await;
    // A record only the embedded snapshot had: the Hub is the truth once it has answered.
    let mut stale = Dataset::new(DatasetId::new("gone/from-the-hub").unwrap());
    stale.description = Some("deleted long ago".into());
    s.catalog.upsert_batch(&[stale]).unwrap();

    let full = s.service.sync_once().await;
    assert_eq!(full.error, None);
    assert_eq!(
        (full.kind, full.records, full.removed),
        (SyncKind::Full, 300, 1)
    );
    assert!(get(&s.catalog, "gone/from-the-hub").is_none());
    assert_eq!(s.catalog.len(), 300);
    let status = s.service.status();
    assert!(status.catalog_sync.complete);
    assert!(status.catalog_sync.last_sweep.is_some());
    assert_eq!(status.catalog_sync.next_kind, SyncKind::Incremental);
    let full_requests = listings(&hub).len();
    assert_eq!(full_requests, 300 / PAGE);
    assert!(
        listings(&hub)
            .iter()
            .all(|(p, _)| p.contains("sort=createdAt"))
    );

    let report = hub
        .mutate(Mutation {
            created: 2,
            updated: 3,
            deleted: 4,
            moved: 1,
        })
        .await;
    let incremental = s.service.sync_once().await;
    assert_eq!(incremental.error, None);
    assert_eq!(incremental.kind, SyncKind::Incremental);
    assert_eq!(incremental.records, 5, "only the changed records");
    let walked = &listings(&hub)[full_requests..];
    assert_eq!(
        walked.len(),
        1,
        "one page reaches the watermark: {walked:?}"
    );
    assert!(walked[0].0.contains("sort=lastModified"));
    for id in report.created.iter().chain(&report.updated) {
        let info = hub_client(&hub, 0)
            .dataset_info(&DatasetId::new(id).unwrap())
            .await
            .unwrap();
        assert_eq!(
            get(&s.catalog, id).unwrap().sha,
            info.sha,
            "{id} is current"
        );
    }
    for id in &report.deleted {
        assert!(
            get(&s.catalog, id).is_some(),
            "an incremental sync cannot see deletions"
        );
    }

    s.service.request_sweep();
    assert_eq!(
        s.service.status().catalog_sync.next_kind,
        SyncKind::Incremental
    );
    let sweep = s.service.sync_once().await;
    assert_eq!(sweep.error, None);
    assert_eq!(sweep.kind, SyncKind::Sweep);
    assert_eq!(sweep.records, 298);
    assert_eq!(
        sweep.removed, 5,
        "the deleted ones and the old name of the renamed one"
    );
    for id in report.deleted.iter().chain([&report.moved[0].from]) {
        assert!(get(&s.catalog, id).is_none(), "{id} is gone");
    }
    assert!(get(&s.catalog, &report.moved[0].to).is_some());
    assert_eq!(s.catalog.len(), 298);
    let metrics = metrics(&s).await;
    assert!(
        metrics.contains("hubdex_sync_removed_records_total 6"),
        "{metrics}"
    );
    assert!(metrics.contains("hubdex_sync_catalog_complete 1"));
    drop(s.dir);
}

/// `/metrics` through the daemon's own router.
async fn metrics(s: &Setup) -> String {
    let (url, _server) = serve(s).await;
    reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Serves the daemon's HTTP routes on a free port; the server stops with the handle.
async fn serve(s: &Setup) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = s.service.router();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, server)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_with_retry_after_is_waited_out_and_shown() {
    let hub = spawn(fake(120, 8).await.with_rate_limits(RateLimits::Enforced {
        quota: 10_000,
        window_secs: 2,
    }))
    .await;
    let s = setup(&hub, config(), 3).await;
    hub.exhaust_rate_limit();
    let report = s.service.sync_once().await;
    assert_eq!(report.error, None, "{report:?}");
    assert_eq!(report.records, 120);
    assert!(report.rate_limit_waits >= 1, "{report:?}");
    assert!(report.rate_limit_wait_seconds >= 1);
    let statuses: Vec<Option<u16>> = listings(&hub).into_iter().map(|(_, s)| s).collect();
    assert_eq!(statuses[0], Some(429));
    assert!(
        statuses[1..].iter().all(|s| *s == Some(200)),
        "{statuses:?}"
    );
    let events = s.service.events(0).await.events;
    let wait = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::SyncProgress(p) => p.waiting.clone(),
            _ => None,
        })
        .expect("a progress event shows the wait");
    assert_eq!(wait.reason, WaitReason::RateLimit);
    assert!(
        wait.message
            .starts_with("waiting for the Hub's rate limit, "),
        "{}",
        wait.message
    );
    // The reset (at most the 2 s window) plus a second, plus up to 10 % of jitter.
    assert!((2..=4).contains(&wait.seconds), "{wait:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_quota_in_the_headers_pauses_the_walk_before_any_429() {
    // Four pages against two requests per second: some window runs out whatever the clock.
    let hub = spawn(fake(200, 9).await.with_rate_limits(RateLimits::Enforced {
        quota: 2,
        window_secs: 1,
    }))
    .await;
    let s = setup(&hub, config(), 0).await;
    let report = s.service.sync_once().await;
    assert_eq!(
        report.error, None,
        "with no retries a 429 would fail the sync"
    );
    assert_eq!(report.records, 200);
    assert!(report.rate_limit_waits >= 1, "{report:?}");
    assert!(listings(&hub).iter().all(|(_, s)| *s == Some(200)));
}

async fn post_webhook(url: &str, secret: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{url}/webhook"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(secret) = secret {
        request = request.header("X-Webhook-Secret", secret);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits until `done` holds, failing after 10 s.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_from_the_hub_add_update_move_and_remove_datasets() {
    let hub = spawn(fake(150, 12).await).await;
    let s = setup(
        &hub,
        Config {
            webhook_secret: Some("s3cret".into()),
            ..config()
        },
        2,
    )
    .await;
    assert_eq!(s.service.sync_once().await.error, None);
    let (url, _server) = serve(&s).await;
    hub.add_webhook_target(hubdex_fakehub::WebhookTarget {
        url: format!("{url}/webhook"),
        secret: Some("s3cret".into()),
    });

    let report = hub
        .mutate(Mutation {
            created: 1,
            updated: 1,
            deleted: 1,
            moved: 1,
        })
        .await;
    let client = hub_client(&hub, 0);
    let updated = client
        .dataset_info(&DatasetId::new(&report.updated[0]).unwrap())
        .await
        .unwrap();
    let catalog = s.catalog.clone();
    eventually("the webhooks to be applied", || {
        get(&catalog, &report.created[0]).is_some()
            && get(&catalog, &report.updated[0]).is_some_and(|d| d.sha == updated.sha)
            && get(&catalog, &report.deleted[0]).is_none()
            && get(&catalog, &report.moved[0].from).is_none()
            && get(&catalog, &report.moved[0].to).is_some()
            && catalog.len() == 150
    })
    .await;
    assert!(
        hub.webhook_deliveries()
            .iter()
            .all(|d| d.status == Some(202))
    );
    assert_eq!(s.service.status().catalog_sync.webhooks, 4);

    let delete = format!(
        r#"{{"event":{{"action":"delete","scope":"repo"}},"repo":{{"type":"dataset","name":"{}"}},"webhook":{{"id":"x","version":3}}}}"#,
        report.created[0]
    );
    for secret in [None, Some("wrong"), Some("s3cre")] {
        let (status, body) = post_webhook(&url, secret, &delete).await;
        assert_eq!(status, 401, "{secret:?}");
        assert!(body["error"].as_str().unwrap().contains("X-Webhook-Secret"));
    }
    let (status, body) = post_webhook(&url, Some("s3cret"), "{\"event\": 1}").await;
    assert_eq!(status, 400, "{body}");
    let model =
        r#"{"event":{"action":"update","scope":"repo"},"repo":{"type":"model","name":"a/b"}}"#;
    let (status, body) = post_webhook(&url, Some("s3cret"), model).await;
    assert_eq!((status, body["accepted"].as_bool()), (200, Some(false)));
    let (status, body) = post_webhook(&url, Some("s3cret"), &delete).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["action"], "remove");
    let created = report.created[0].clone();
    eventually("the removal", || get(&catalog, &created).is_none()).await;

    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "hubdex_webhook_deliveries_total{outcome=\"accepted\"} 5",
        "hubdex_webhook_deliveries_total{outcome=\"unauthorized\"} 3",
        "hubdex_webhook_deliveries_total{outcome=\"invalid\"} 1",
        "hubdex_webhook_deliveries_total{outcome=\"ignored\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_secret_any_delivery_is_accepted() {
    let hub = spawn(fake(20, 13).await).await;
    let s = setup(&hub, config(), 0).await;
    let (url, _server) = serve(&s).await;
    let id = hubdex_fakehub::synthetic_records(20, 13)[0].id.to_string();
    let update = format!(
        r#"{{"event":{{"action":"update","scope":"repo.content"}},"repo":{{"type":"dataset","name":"{id}"}}}}"#
    );
    let (status, body) = post_webhook(&url, None, &update).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["dataset"], id.as_str());
    let catalog = s.catalog.clone();
    // One dataset fetched and stored, and no sync ran.
    eventually("the refresh", || {
        get(&catalog, &id).is_some() && catalog.len() == 1
    })
    .await;
}
