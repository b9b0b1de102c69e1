//! The fake changing over time: mutation batches, enforced rate limits and webhooks.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use hubdex_fakehub::{
    FakeHub, FakeHubOptions, Mutation, MutationReport, RateLimits, RunningFakeHub, WebhookTarget,
};
use serde_json::Value;

use crate::common::{get, get_with, id, localhost, next_link, synthetic_hub, walk};

async fn post(url: &str, body: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn mutate(hub: &RunningFakeHub, query: &str) -> MutationReport {
    let (status, body) = post(&format!("{}/_fakehub/mutate?{query}", hub.url()), None).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

#[tokio::test]
async fn mutations_change_what_the_listing_and_info_serve() {
    let hub = synthetic_hub(300, 5, 100).await;
    let before_sha = |got: &Value| got["sha"].as_str().unwrap().to_string();
    let (all_before, _) = walk(&format!("{}/api/datasets?sort=createdAt", hub.url())).await;
    assert_eq!(all_before.len(), 300);
    // A walk started before the change and finished after it.
    let first = get(&format!(
        "{}/api/datasets?sort=createdAt&limit=50",
        hub.url()
    ))
    .await;
    let mut walked: Vec<String> = first
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|i| id(i).to_string())
        .collect();
    let rest = next_link(&first.headers).unwrap();

    let report = mutate(&hub, "created=3&updated=4&deleted=2&moved=1").await;
    assert_eq!(report.batch, 1);
    assert_eq!(
        (
            report.created.len(),
            report.updated.len(),
            report.deleted.len(),
            report.moved.len()
        ),
        (3, 4, 2, 1)
    );
    assert_eq!(report.records, 301);
    assert_eq!(hub.len(), 301);

    for gone in report.deleted.iter().chain([&report.moved[0].from]) {
        let info = get(&format!("{}/api/datasets/{gone}", hub.url())).await;
        assert_eq!(info.status, 401, "{gone} is gone");
        assert_eq!(info.headers["x-error-code"], "RepoNotFound");
    }
    let old = all_before
        .iter()
        .find(|i| id(i) == report.moved[0].from)
        .unwrap();
    let moved = get(&format!(
        "{}/api/datasets/{}",
        hub.url(),
        report.moved[0].to
    ))
    .await;
    assert_eq!(moved.status, 200);
    assert_eq!(
        moved.json["_id"], old["_id"],
        "a rename keeps the repo's _id"
    );
    for updated in &report.updated {
        let now = get(&format!("{}/api/datasets/{updated}", hub.url())).await;
        let then = all_before.iter().find(|i| id(i) == updated).unwrap();
        assert_ne!(
            before_sha(&now.json),
            before_sha(then),
            "{updated} has a new commit"
        );
        assert!(now.json["lastModified"].as_str().unwrap() >= report.at.as_str());
    }

    let newest = get(&format!(
        "{}/api/datasets?sort=lastModified&limit=7",
        hub.url()
    ))
    .await;
    let fresh: HashSet<&str> = report
        .created
        .iter()
        .chain(&report.updated)
        .map(String::as_str)
        .collect();
    let listed: HashSet<&str> = newest.json.as_array().unwrap().iter().map(id).collect();
    assert_eq!(listed, fresh, "changes list first by lastModified");

    let (after, _) = walk(&format!("{}/api/datasets?sort=createdAt", hub.url())).await;
    assert_eq!(after.len(), 301);
    let after_ids: Vec<&str> = after.iter().map(id).collect();
    let unique: HashSet<&str> = after_ids.iter().copied().collect();
    assert_eq!(unique.len(), after_ids.len(), "every record once");
    let mut created = report.created.clone();
    created.reverse();
    assert_eq!(
        after_ids[..3],
        created.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );

    // The walk begun before the batch finishes with every surviving record exactly once.
    let (tail, _) = walk(&rest).await;
    walked.extend(tail.iter().map(|i| id(i).to_string()));
    let walked_set: HashSet<&str> = walked.iter().map(String::as_str).collect();
    assert_eq!(walked_set.len(), walked.len(), "no record twice");
    for before in all_before.iter().map(id) {
        let survived =
            !report.deleted.iter().any(|d| d == before) && before != report.moved[0].from;
        assert!(
            !survived || walked_set.contains(before),
            "{before} was skipped"
        );
    }
    assert!(
        report
            .created
            .iter()
            .all(|c| !walked_set.contains(c.as_str()))
    );
}

#[tokio::test]
async fn the_same_seed_and_batches_give_the_same_changes() {
    let mut reports = Vec::new();
    for _ in 0..2 {
        let hub = synthetic_hub(200, 11, 1000).await;
        let mut report = hub
            .mutate(Mutation::parse("created=2,updated=2,deleted=2,moved=1").unwrap())
            .await;
        report.at.clear();
        reports.push(report);
    }
    assert_eq!(reports[0], reports[1]);
    let hub = synthetic_hub(200, 11, 1000).await;
    let (status, body) = post(&format!("{}/_fakehub/mutate?renamed=1", hub.url()), None).await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("renamed"),
        "{body}"
    );
}

#[tokio::test]
async fn enforced_rate_limits_answer_429_with_retry_after() {
    let hub = FakeHub::synthetic(20, 1, FakeHubOptions::default())
        .with_rate_limits(RateLimits::Enforced {
            quota: 2,
            window_secs: 3600,
        })
        .spawn(localhost())
        .await
        .unwrap();
    let url = format!("{}/api/datasets?limit=1", hub.url());
    for left in ["1", "0"] {
        let got = get(&url).await;
        assert_eq!(got.status, 200);
        let header = got.headers["ratelimit"].to_str().unwrap();
        assert!(
            header.starts_with(&format!("\"api\";r={left};t=")),
            "{header}"
        );
        assert_eq!(
            got.headers["ratelimit-policy"],
            "\"fixed window\";\"api\";q=2;w=3600"
        );
    }
    let refused = get(&url).await;
    assert_eq!(refused.status, 429);
    assert!(refused.json["error"].is_string());
    let retry_after: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after));
    let header = refused.headers["ratelimit"].to_str().unwrap();
    assert_eq!(header, format!("\"api\";r=0;t={retry_after}"));
    let with_token = get_with(
        &reqwest::Client::new(),
        &url,
        &[("authorization", "Bearer x")],
    )
    .await;
    assert_eq!(with_token.status, 200, "each token has its own window");

    let (status, _) = post(
        &format!("{}/_fakehub/rate-limit", hub.url()),
        Some(r#"{"mode":"off"}"#),
    )
    .await;
    assert_eq!(status, 200);
    let free = get(&url).await;
    assert_eq!(free.status, 200);
    assert!(
        free.headers.get("ratelimit").is_none(),
        "off sends no headers"
    );

    let limits = r#"{"mode":"enforced","quota":100,"window_secs":60}"#;
    post(&format!("{}/_fakehub/rate-limit", hub.url()), Some(limits)).await;
    assert_eq!(get(&url).await.status, 200);
    let (status, _) = post(&format!("{}/_fakehub/rate-limit/exhaust", hub.url()), None).await;
    assert_eq!(status, 200);
    let spent = get(&url).await;
    assert_eq!(spent.status, 429, "an exhausted window refuses at once");
    assert!(spent.headers.contains_key("retry-after"));
    let (status, body) = post(&format!("{}/_fakehub/rate-limit", hub.url()), Some("{}")).await;
    assert_eq!(status, 400, "{body}");
}

/// A webhook receiver: every delivery's headers and body.
type Received = Arc<Mutex<Vec<(HeaderMap, Value)>>>;

async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let log = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                log.lock().unwrap().push((headers, json));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(localhost()).await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

async fn wait_for(received: &Received, count: usize) -> Vec<(HeaderMap, Value)> {
    for _ in 0..200 {
        let got = received.lock().unwrap().clone();
        if got.len() >= count {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} webhooks arrived");
}

#[tokio::test]
async fn every_change_sends_a_version_3_webhook_with_the_secret() {
    let hub = synthetic_hub(100, 2, 1000).await;
    let (url, received) = receiver().await;
    let target = format!(r#"{{"url":"{url}","secret":"s3cret"}}"#);
    let (status, targets) = post(
        &format!("{}/_fakehub/webhook-target", hub.url()),
        Some(&target),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(targets.as_array().unwrap().len(), 1);

    let report = mutate(&hub, "created=1&updated=1&deleted=1&moved=1").await;
    let got = wait_for(&received, 4).await;
    assert_eq!(got.len(), 4);
    let events: Vec<(String, String, String)> = got
        .iter()
        .map(|(headers, body)| {
            assert_eq!(headers["x-webhook-secret"], "s3cret");
            assert_eq!(body["webhook"]["version"], 3);
            assert_eq!(body["repo"]["type"], "dataset");
            assert_eq!(body["repo"]["id"].as_str().map(str::len), Some(24));
            (
                body["event"]["scope"].as_str().unwrap().to_string(),
                body["event"]["action"].as_str().unwrap().to_string(),
                body["repo"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = |scope: &str, action: &str, name: &str| {
        (scope.to_string(), action.to_string(), name.to_string())
    };
    assert_eq!(
        events,
        [
            expect("repo", "delete", &report.deleted[0]),
            expect("repo.content", "update", &report.updated[0]),
            expect("repo", "move", &report.moved[0].from),
            expect("repo", "create", &report.created[0]),
        ]
    );
    let update = &got[1].1;
    let info = get(&format!("{}/api/datasets/{}", hub.url(), report.updated[0])).await;
    assert_eq!(info.status, 200, "{}", info.text);
    assert_eq!(update["repo"]["headSha"], info.json["sha"]);
    assert_eq!(update["updatedRefs"][0]["newSha"], info.json["sha"]);
    assert_ne!(update["updatedRefs"][0]["oldSha"], info.json["sha"]);
    assert_eq!(got[2].1["movedTo"]["name"], report.moved[0].to.as_str());

    let deliveries = hub.webhook_deliveries();
    assert_eq!(deliveries.len(), 4);
    assert!(
        deliveries
            .iter()
            .all(|d| d.status == Some(200) && d.url == url)
    );
    hub.add_webhook_target(WebhookTarget {
        url: "http://127.0.0.1:9/nowhere".into(),
        secret: None,
    });
    let (status, body) = post(
        &format!("{}/_fakehub/webhook-target", hub.url()),
        Some(r#"{"url":"ftp://x"}"#),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn a_schedule_keeps_changing_the_catalog() {
    let hub = FakeHub::synthetic(50, 3, FakeHubOptions::default())
        .with_mutations_every(
            Duration::from_millis(50),
            Mutation::parse("created=1").unwrap(),
        )
        .spawn(localhost())
        .await
        .unwrap();
    for _ in 0..200 {
        if hub.len() >= 53 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the schedule created {} records, not 3", hub.len() - 50);
}
