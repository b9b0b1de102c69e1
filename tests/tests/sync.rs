//! End-to-end sync at Hub scale, over real processes: a daemon killed in the middle of a
//! walk resumes from its saved cursor (and its sweep then removes what only the embedded
//! snapshot had), incremental syncs and sweeps follow a changing fake Hub, a spent rate limit
//! is waited out, and webhooks keep datasets fresh between syncs.

// Test code through and through: a panic with its location is the failure report.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use hubdex_e2e::{FakeHubProcess, Home, wait_for};
use serde_json::Value;

/// Fast retries, so a test never waits on the default backoff.
const QUICK: &str = "hub_retry_delay = \"200ms\"\noffline_retry_min = \"200ms\"\n";

async fn get_json(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post_json(url: &str, body: Option<&str>, secret: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    if let Some(secret) = secret {
        request = request.header("X-Webhook-Secret", secret);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The listing requests the fake Hub answered, in order: path and status.
async fn listings(hub: &FakeHubProcess) -> Vec<(String, u64)> {
    let (_, log) = get_json(&format!("{}/_fakehub/requests", hub.url)).await;
    log.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap().starts_with("/api/datasets?"))
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_string(),
                r["status"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Every id a Hub-style listing at `url` pages through, following `Link`.
async fn listed_ids(url: &str) -> Vec<String> {
    let mut next = Some(url.to_string());
    let mut ids = Vec::new();
    for _ in 0..1000 {
        let Some(url) = next.take() else {
            return ids;
        };
        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        next = response
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.split_once(">;"))
            .map(|(target, _)| target.trim_start_matches('<').to_string());
        let page: Value = response.json().await.unwrap();
        ids.extend(
            page.as_array()
                .unwrap()
                .iter()
                .map(|d| d["id"].as_str().unwrap().to_string()),
        );
    }
    panic!("the listing at {url} never ended");
}

/// Runs `hubdex sync --wait` and returns the finished sync's report from the status.
fn sync(home: &Home) -> Value {
    let out = home.run(&["sync", "--wait"]);
    assert!(
        out.status.success(),
        "hubdex sync --wait failed: {}\n--- daemon log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        home.daemon_log()
    );
    home.json(&["status"])["last_sync"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_killed_mid_walk_resumes_from_the_saved_cursor() {
    const RECORDS: usize = 2000;
    let hub =
        FakeHubProcess::start_synthetic(RECORDS, 5, &["--page-size", "50", "--latency-ms", "60"]);
    let home = Home::new(&hub.url);
    home.write_config(&format!("page_size = 50\n{QUICK}"));
    let started = home.json(&["status"]);
    assert!(
        started["records"].as_u64().unwrap() > 40_000,
        "the snapshot: {started}"
    );
    wait_for("eight pages of the first walk", || {
        let log = futures_block(listings(&hub));
        (log.len() >= 8).then_some(())
    });
    home.kill_daemon_hard();
    let before_kill = listings(&hub).await;
    assert!(
        before_kill.len() < RECORDS / 50,
        "killed mid-walk: {before_kill:?}"
    );

    let status = home.wait_for_sync();
    let report = &status["last_sync"];
    assert!(report["error"].is_null(), "{status}\n{}", home.daemon_log());
    assert_eq!(report["kind"], "full");
    assert_eq!(report["resumed"], true);
    assert_eq!(
        report["records"].as_u64(),
        Some(RECORDS as u64),
        "every record counted once across the kill"
    );
    let after = listings(&hub).await;
    let first_after_restart = &after[before_kill.len()].0;
    assert!(
        first_after_restart.contains("cursor="),
        "{first_after_restart}"
    );
    assert!(
        before_kill
            .iter()
            .any(|(path, _)| path == first_after_restart),
        "the restarted walk asked for a page the killed one had reached: {first_after_restart}"
    );
    assert!(
        after[before_kill.len()..]
            .iter()
            .all(|(path, _)| !before_kill[..before_kill.len() - 2]
                .iter()
                .any(|(p, _)| p == path)),
        "no page stored before the kill was fetched again"
    );
    assert_eq!(status["catalog_sync"]["next_kind"], "sweep");

    // The resumed walk lost its marks, so the next sync sweeps: the snapshot's records go.
    let swept = sync(&home);
    assert_eq!(swept["kind"], "sweep", "{swept}");
    assert!(swept["removed"].as_u64().unwrap() > 40_000, "{swept}");
    let status = home.json(&["status"]);
    assert_eq!(status["records"].as_u64(), Some(RECORDS as u64));
    let local = listed_ids(&format!("{}/api/datasets?sort=createdAt", home.http_url())).await;
    let remote = listed_ids(&format!("{}/api/datasets?sort=createdAt", hub.url)).await;
    assert_eq!(local.len(), RECORDS);
    let local: HashSet<String> = local.into_iter().collect();
    let remote: HashSet<String> = remote.into_iter().collect();
    assert_eq!(local, remote, "exactly the Hub's datasets");
}

/// Runs a future to completion from synchronous code inside the test's runtime.
fn futures_block<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_syncs_sweeps_and_rate_limits_follow_a_changing_hub() {
    let hub = FakeHubProcess::start_synthetic(
        300,
        6,
        &[
            "--page-size",
            "100",
            "--rate-limit",
            "100000",
            "--rate-limit-window",
            "2",
        ],
    );
    let home = Home::new(&hub.url);
    home.write_config(&format!("import_snapshot = false\n{QUICK}"));
    let status = home.wait_for_sync();
    assert_eq!(status["last_sync"]["kind"], "full", "{status}");
    assert_eq!(status["records"].as_u64(), Some(300));
    assert_eq!(status["catalog_sync"]["complete"], true);
    assert_eq!(status["catalog_sync"]["next_kind"], "incremental");

    let (code, report) = post_json(
        &format!("{}/_fakehub/mutate?created=3&updated=3&deleted=3", hub.url),
        None,
        None,
    )
    .await;
    assert_eq!(code, 200, "{report}");
    let ids = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let requests_before = listings(&hub).await.len();
    let incremental = sync(&home);
    assert_eq!(incremental["kind"], "incremental", "{incremental}");
    assert_eq!(incremental["records"].as_u64(), Some(6));
    let walked = &listings(&hub).await[requests_before..];
    assert_eq!(walked.len(), 1, "{walked:?}");
    assert!(walked[0].0.contains("sort=lastModified"));
    for id in ids("created").iter().chain(&ids("updated")) {
        let (_, hub_record) = get_json(&format!("{}/api/datasets/{id}", hub.url)).await;
        let local = home.json(&["show", id]);
        assert_eq!(local["sha"], hub_record["sha"], "{id}");
    }
    for id in ids("deleted") {
        assert!(
            home.run(&["show", &id]).status.success(),
            "not yet swept: {id}"
        );
    }

    let (code, body) = post_json(
        &format!("{}/v1/sync?kind=sweep", home.http_url()),
        None,
        None,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let swept = wait_for("the sweep", || {
        let status = home.json(&["status"]);
        (status["syncing"].is_null() && status["last_sync"]["kind"] == "sweep")
            .then(|| status["last_sync"].clone())
    });
    assert!(swept["error"].is_null(), "{swept}");
    assert_eq!(swept["removed"].as_u64(), Some(3));
    for id in ids("deleted") {
        let out = home.run(&["show", &id]);
        assert!(!out.status.success(), "{id} was removed");
    }
    assert_eq!(home.json(&["status"])["records"].as_u64(), Some(300));

    // Another client on the same address spends the rate-limit quota: the next sync gets a
    // 429 with Retry-After, waits it out and succeeds.
    let (code, _) = post_json(
        &format!("{}/_fakehub/rate-limit/exhaust", hub.url),
        None,
        None,
    )
    .await;
    assert_eq!(code, 200);
    let before = listings(&hub).await.len();
    let report = sync(&home);
    assert!(report["error"].is_null(), "{report}\n{}", home.daemon_log());
    assert!(
        report["rate_limit_waits"].as_u64().unwrap() >= 1,
        "{report}"
    );
    let statuses: Vec<u64> = listings(&hub).await[before..]
        .iter()
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(statuses.first(), Some(&429), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&200), "{statuses:?}");
    let metrics = reqwest::get(format!("{}/metrics", home.http_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hubdex_sync_removed_records_total 3"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("hubdex_sync_rate_limit_waits_total 0"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_keep_datasets_fresh_between_syncs() {
    let hub = FakeHubProcess::start_synthetic(200, 8, &[]);
    let home = Home::new(&hub.url);
    home.write_config(&format!(
        "webhook_secret = \"s3cret\"\nimport_snapshot = false\n{QUICK}"
    ));
    home.wait_for_sync();
    let http = home.http_url();
    let target = format!(r#"{{"url":"{http}/webhook","secret":"s3cret"}}"#);
    let (code, _) = post_json(
        &format!("{}/_fakehub/webhook-target", hub.url),
        Some(&target),
        None,
    )
    .await;
    assert_eq!(code, 200);

    let (_, report) = post_json(
        &format!(
            "{}/_fakehub/mutate?created=1&updated=1&deleted=1&moved=1",
            hub.url
        ),
        None,
        None,
    )
    .await;
    let id = |key: &str| report[key][0].as_str().unwrap().to_string();
    let (created, updated, deleted) = (id("created"), id("updated"), id("deleted"));
    let from = report["moved"][0]["from"].as_str().unwrap().to_string();
    let to = report["moved"][0]["to"].as_str().unwrap().to_string();
    let (_, hub_updated) = get_json(&format!("{}/api/datasets/{updated}", hub.url)).await;
    let local = |id: &str| {
        let url = format!("{http}/v1/datasets/{id}");
        futures_block(get_json(&url))
    };
    wait_for("the webhooks to reach the catalog", || {
        let fresh = local(&created).0 == 200
            && local(&updated).1["sha"] == hub_updated["sha"]
            && local(&deleted).0 == 404
            && local(&from).0 == 404
            && local(&to).0 == 200;
        fresh.then_some(())
    });
    let status = home.json(&["status"]);
    assert_eq!(status["catalog_sync"]["webhooks"].as_u64(), Some(4));
    assert_eq!(
        status["last_sync"]["kind"], "full",
        "no sync ran: the webhooks did it"
    );
    let (_, deliveries) = get_json(&format!("{}/_fakehub/webhooks", hub.url)).await;
    assert!(
        deliveries
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == 202),
        "{deliveries}"
    );

    let delete = format!(
        r#"{{"event":{{"action":"delete","scope":"repo"}},"repo":{{"type":"dataset","name":"{created}"}}}}"#
    );
    let (code, body) = post_json(&format!("{http}/webhook"), Some(&delete), None).await;
    assert_eq!(code, 401, "{body}");
    let (code, _) = post_json(&format!("{http}/webhook"), Some(&delete), Some("nope")).await;
    assert_eq!(code, 401);
    assert_eq!(local(&created).0, 200, "a refused delivery changes nothing");
    let (code, _) = post_json(&format!("{http}/webhook"), Some(&delete), Some("s3cret")).await;
    assert_eq!(code, 202);
    wait_for("the removal", || (local(&created).0 == 404).then_some(()));
}
