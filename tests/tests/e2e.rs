//! End-to-end: a real fake Hub process, a real daemon auto-started by the real CLI, queried
//! through the CLI and HTTP as users and scripts do.

use hubdex_e2e::{FakeHubProcess, Home, alive, wait_for};
use serde_json::Value;

fn ids(hits: &Value) -> Vec<String> {
    hits.as_array()
        .expect("an array of records")
        .iter()
        .map(|h| {
            h["id"]
                .as_str()
                .expect("every record has an id")
                .to_string()
        })
        .collect()
}

async fn get(url: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = reqwest::get(url).await.expect("HTTP request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    let (url, rel) = link.split_once(';')?;
    rel.contains("rel=\"next\"").then(|| {
        url.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn synced_catalog_is_searchable_from_cli_and_http() {
    let hub = FakeHubProcess::start(&[]);
    let home = Home::new(&hub.url);
    let status = home.wait_for_sync();
    assert!(
        status["last_sync"]["error"].is_null(),
        "sync failed: {status}\n{}",
        home.daemon_log()
    );
    assert!(status["records"].as_u64().unwrap() > 40_000, "{status}");
    assert!(status["offline"].is_null());
    assert!(status["last_sync"]["pages"].as_u64().unwrap() >= 40);

    // The CLI finds a known dataset, and its record came from the Hub (the fake fills in
    // `sha`, which the embedded snapshot does not carry).
    let found = home.json(&["search", "squad", "--limit", "10"]);
    let found_ids = ids(&found["hits"]);
    assert!(
        found_ids.iter().take(3).any(|id| id.ends_with("squad")),
        "squad not in the top 3: {found_ids:?}"
    );
    let shown = home.json(&["show", &found_ids[0]]);
    assert_eq!(shown["id"], found["hits"][0]["id"]);
    assert!(
        shown["sha"].as_str().is_some_and(|s| s.len() == 40),
        "{shown}"
    );

    let http = home.http_url();
    let (code, _, body) = get(&format!("{http}/v1/search?q=squad&limit=5")).await;
    assert_eq!(code, 200);
    assert!(ids(&body["hits"]).iter().any(|id| id.ends_with("squad")));
    assert!(body["total"].as_u64().unwrap() >= 1);
    assert!(body["took_ms"].is_number());

    let (code, _, body) = get(&format!("{http}/v1/datasets/{}", found_ids[0])).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["id"].as_str(), Some(found_ids[0].as_str()));

    let (code, _, body) = get(&format!("{http}/v1/search?q=author:openai&limit=50")).await;
    assert_eq!(code, 200);
    let openai = ids(&body["hits"]);
    assert!(!openai.is_empty());
    assert!(
        openai
            .iter()
            .all(|id| id.to_lowercase().starts_with("openai/")),
        "{openai:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hub_compatible_listing_pages_like_the_hub_and_bad_input_gets_400() {
    let hub = FakeHubProcess::start(&[]);
    let home = Home::new(&hub.url);
    home.wait_for_sync();
    let http = home.http_url();

    // Walk `/api/datasets?search=glue` page by page through absolute Link headers.
    let mut url = Some(format!("{http}/api/datasets?search=glue&limit=7"));
    let mut seen = Vec::new();
    let mut pages = 0;
    while let Some(next) = url.take() {
        pages += 1;
        assert!(pages < 100, "pagination does not end");
        let (code, headers, body) = get(&next).await;
        assert_eq!(code, 200, "{body}");
        let page = ids(&body);
        assert!(page.len() <= 7);
        seen.extend(page);
        url = next_link(&headers);
        if let Some(u) = &url {
            assert!(
                u.starts_with(&http),
                "Link must be absolute on our host: {u}"
            );
            assert!(
                u.contains("search=glue"),
                "Link keeps the original params: {u}"
            );
        }
    }
    assert!(pages > 1, "expected several pages, got {pages}");
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a record came twice");
    assert!(seen.iter().any(|id| id.contains("glue")));

    for (path, needle) in [
        ("/v1/search?q=x&limit=abc", "limit"),
        ("/v1/search?q=x&sort=stars", "sort"),
        ("/v1/search?q=x&limit=100000", "limit"),
        ("/v1/search?q=x&colour=red", "colour"),
        ("/api/datasets?sort=stars", "sort"),
    ] {
        let (code, _, body) = get(&format!("{http}{path}")).await;
        assert_eq!(code, 400, "{path} → {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(needle),
            "{path}: error should mention {needle}: {error}"
        );
    }
    let (code, _, body) = get(&format!("{http}/v1/datasets/nobody/nothing-here")).await;
    assert_eq!(code, 404);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("nobody/nothing-here")
    );
    let (code, _, _) = get(&format!("{http}/no/such/route")).await;
    assert_eq!(code, 404);

    let (code, _, body) = get(&format!("{http}/healthcheck")).await;
    assert_eq!((code, body["status"].as_str()), (200, Some("ok")));
    let metrics = reqwest::get(format!("{http}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("hubdex_catalog_records "), "{metrics}");
    assert!(
        metrics.contains("hubdex_sync_runs_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hubdex_http_requests_total{route=\"/v1/search\",status=\"400\"} 4"),
        "{metrics}"
    );
}

#[test]
fn offline_daemon_serves_the_embedded_snapshot_and_says_why() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = Home::new(&format!("http://127.0.0.1:{port}"));
    let status = home.wait_for_sync();
    let offline = status["offline"].as_str().unwrap_or_default();
    assert!(offline.contains("cannot reach"), "status: {status}");
    assert!(status["records"].as_u64().unwrap() > 40_000);
    assert!(status["last_sync"]["error"].is_string());

    let found = home.json(&["search", "gsm8k"]);
    assert!(
        ids(&found["hits"]).iter().any(|id| id.contains("gsm8k")),
        "{found}"
    );

    let human = home.run(&["status"]);
    assert!(human.status.success());
    assert!(String::from_utf8_lossy(&human.stdout).contains("offline"));
}

#[test]
fn one_daemon_per_home_and_the_cli_auto_starts_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = Home::new(&format!("http://127.0.0.1:{port}"));
    assert!(home.daemon_pid().is_none());
    home.json(&["status"]);
    let pid = wait_for("the daemon's pid file", || home.daemon_pid());
    assert!(alive(pid));
    // The daemon hands freed memory back to the system on its own (see "Memory" in the
    // README): jemalloc's background thread runs in it.
    let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .collect::<Vec<_>>();
    assert!(
        threads.iter().any(|name| name.trim() == "jemalloc_bg_thd"),
        "{threads:?}"
    );

    let second = home.run(&["daemon"]);
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("already"), "{err}");
    assert!(err.contains(&pid.to_string()), "{err}");

    let missing = home.run(&["show", "nobody/nothing-here"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nobody/nothing-here"));
}
