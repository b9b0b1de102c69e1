//! Helpers shared by the conformance tests: spawning fakes, fetching and walking pages.

use std::path::PathBuf;
use std::sync::OnceLock;

use hubdex_fakehub::{FakeHub, FakeHubOptions, RunningFakeHub};
use reqwest::header::{HeaderMap, LINK};
use serde_json::Value;

/// The catalog snapshot the repo ships in `assets/`.
pub fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets/catalog-snapshot.jsonl.zst")
}

/// A fake serving the repo's real catalog snapshot, with the default page size (1,000).
pub async fn real_hub() -> RunningFakeHub {
    static REAL: OnceLock<FakeHub> = OnceLock::new();
    let hub = tokio::task::spawn_blocking(|| {
        REAL.get_or_init(|| {
            FakeHub::from_catalog_file(&snapshot_path(), FakeHubOptions::default()).unwrap()
        })
        .clone()
    })
    .await
    .unwrap();
    hub.spawn(localhost()).await.unwrap()
}

/// A fake serving `count` synthetic records.
pub async fn synthetic_hub(count: usize, seed: u64, page_size: usize) -> RunningFakeHub {
    let options = FakeHubOptions {
        page_size,
        ..FakeHubOptions::default()
    };
    let hub = tokio::task::spawn_blocking(move || FakeHub::synthetic(count, seed, options))
        .await
        .unwrap();
    hub.spawn(localhost()).await.unwrap()
}

pub fn localhost() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// One response: status, headers and body as JSON (`Value::Null` if it is not JSON).
pub struct Got {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

pub async fn get(url: &str) -> Got {
    get_with(&reqwest::Client::new(), url, &[]).await
}

pub async fn get_with(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Got {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Got {
        status,
        headers,
        text,
        json,
    }
}

/// The `rel="next"` URL of a `Link` header, if any.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(LINK)?.to_str().unwrap();
    link.split(',').find_map(|entry| {
        let (url, params) = entry.trim().split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// Follows `Link` from `url` until the last page, as a Hub client does. Returns the items
/// and the number of pages.
pub async fn walk(url: &str) -> (Vec<Value>, usize) {
    let client = reqwest::Client::new();
    let mut next = Some(url.to_string());
    let mut items = Vec::new();
    let mut pages = 0;
    while let Some(url) = next {
        pages += 1;
        assert!(pages <= 10_000, "the walk ends");
        let got = get_with(&client, &url, &[]).await;
        assert_eq!(got.status, 200, "{url}: {}", got.text);
        next = next_link(&got.headers);
        let page = got.json.as_array().unwrap();
        assert!(
            !page.is_empty() || next.is_none(),
            "only a last page can be empty"
        );
        items.extend(page.iter().cloned());
    }
    (items, pages)
}

/// The `id` of an item.
pub fn id(item: &Value) -> &str {
    item["id"].as_str().unwrap()
}

/// The object keys of an item, sorted.
pub fn keys(item: &Value) -> Vec<String> {
    let mut keys: Vec<String> = item.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}
