//! The client against the fake Hub, in process: catalog walks, retries of the faults the real
//! Hub shows mid-walk, typed errors, offline detection and the token.

use std::collections::HashSet;
use std::time::Duration;

use hubdex_core::{DatasetId, SortKey};
use hubdex_fakehub::{FakeHub, FakeHubOptions, Fault, RunningFakeHub, synthetic_records};
use hubdex_hub::{
    CatalogPage, CatalogPager, HubClient, HubConfig, HubError, ListParams, RetryPolicy,
};

const SEED: u64 = 11;
const RECORDS: usize = 3_000;
const PAGE_SIZE: usize = 500;

async fn fake_hub() -> RunningFakeHub {
    FakeHub::synthetic(
        RECORDS,
        SEED,
        FakeHubOptions {
            page_size: PAGE_SIZE,
            ..FakeHubOptions::default()
        },
    )
    .spawn("127.0.0.1:0".parse().expect("a socket address"))
    .await
    .expect("the fake Hub starts")
}

fn retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(10),
    }
}

fn client(hub: &RunningFakeHub, token: Option<&str>) -> HubClient {
    HubClient::new(HubConfig {
        endpoint: hub.url(),
        token: token.map(str::to_string),
        retry: retries(3),
        timeout: Duration::from_secs(10),
    })
    .expect("a client for the fake Hub")
}

fn walk_params() -> ListParams {
    ListParams {
        sort: Some(SortKey::CreatedAt),
        limit: Some(PAGE_SIZE),
        ..ListParams::default()
    }
}

/// Pages until the pager says the walk is over (bounded well above the expected count).
async fn walk(pager: &mut CatalogPager) -> Vec<CatalogPage> {
    let mut pages = Vec::new();
    for _ in 0..100 {
        match pager.next_page().await.expect("a catalog page") {
            Some(page) => pages.push(page),
            None => return pages,
        }
    }
    panic!("the walk did not end after 100 pages");
}

/// The part of a URL the fake logs: path and query.
fn path_and_query(url: &str, hub: &RunningFakeHub) -> String {
    url.strip_prefix(&hub.url())
        .expect("a URL on the fake Hub")
        .to_string()
}

fn listing_requests(hub: &RunningFakeHub) -> Vec<String> {
    hub.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/datasets"))
        .map(|r| r.path)
        .collect()
}

#[tokio::test]
async fn a_full_walk_gets_every_record_exactly_once_and_stops_at_the_last_page() {
    let hub = fake_hub().await;
    let mut pager = client(&hub, None).list_datasets(&walk_params());
    let pages = walk(&mut pager).await;

    let ids: Vec<String> = pages
        .iter()
        .flat_map(|p| p.records.iter().map(|d| d.id.as_str().to_lowercase()))
        .collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), RECORDS, "every record once");
    assert_eq!(unique.len(), RECORDS, "no record twice");
    let expected: HashSet<String> = synthetic_records(RECORDS, SEED)
        .iter()
        .map(|d| d.id.as_str().to_lowercase())
        .collect();
    assert_eq!(unique, expected.iter().collect());
    assert!(pages.iter().all(|p| p.skipped == 0));
    assert!(pages.iter().all(|p| p.records.len() <= PAGE_SIZE));

    assert_eq!(pager.next_url(), None);
    assert!(pager.next_page().await.unwrap().is_none(), "still over");
    let logged = listing_requests(&hub);
    assert_eq!(
        logged.len(),
        pages.len(),
        "one request per page, none after the last"
    );
    let page_urls: Vec<String> = pages.iter().map(|p| path_and_query(&p.url, &hub)).collect();
    assert_eq!(logged, page_urls);
}

#[tokio::test]
async fn the_next_page_is_fetched_from_the_link_header_verbatim() {
    let hub = fake_hub().await;
    let params = ListParams {
        filter: vec![],
        expand: vec!["downloads".into(), "createdAt".into()],
        ..walk_params()
    };
    let mut pager = client(&hub, None).list_datasets(&params);
    let first_url = pager.next_url().unwrap().to_string();
    let first = pager.next_page().await.unwrap().unwrap();
    assert_eq!(first.url, first_url);

    let raw = reqwest::get(&first_url).await.unwrap();
    let link = raw.headers()["link"].to_str().unwrap().to_string();
    let next = pager.next_url().unwrap().to_string();
    assert_eq!(
        link,
        format!("<{next}>; rel=\"next\""),
        "the pager keeps the Link target as sent"
    );
    assert_ne!(next, first_url);

    let second = pager.next_page().await.unwrap().unwrap();
    assert_eq!(second.url, next);
    let logged = listing_requests(&hub);
    assert_eq!(
        logged.len(),
        3,
        "page 1 by the pager and by hand, then page 2"
    );
    assert_eq!(
        logged[2],
        path_and_query(&next, &hub),
        "page 2 requested exactly as linked"
    );
    let first_ids: HashSet<_> = first.records.iter().map(|d| &d.id).collect();
    assert!(second.records.iter().all(|d| !first_ids.contains(&d.id)));
}

#[tokio::test]
async fn bad_gateway_and_garbled_pages_mid_walk_are_retried_and_the_walk_completes() {
    let hub = fake_hub().await;
    let mut pager = client(&hub, None).list_datasets(&walk_params());
    let first = pager.next_page().await.unwrap().unwrap();
    let second_url = pager.next_url().unwrap().to_string();

    hub.inject_faults(Fault {
        count: 1,
        status: 502,
        body: "<html><body><h1>502 Bad Gateway</h1></body></html>".into(),
    });
    hub.inject_faults(Fault {
        count: 1,
        status: 200,
        body: "upstream connect error or disconnect/reset before headers".into(),
    });
    let mut pages = vec![first];
    pages.extend(walk(&mut pager).await);

    let ids: HashSet<_> = pages
        .iter()
        .flat_map(|p| p.records.iter().map(|d| &d.id))
        .collect();
    assert_eq!(ids.len(), RECORDS);
    let log = hub.requests();
    let tries: Vec<Option<u16>> = log
        .iter()
        .filter(|r| r.path == path_and_query(&second_url, &hub))
        .map(|r| r.status)
        .collect();
    assert_eq!(
        tries,
        [Some(502), Some(200), Some(200)],
        "the same URL, three times"
    );
}

#[tokio::test]
async fn after_the_retries_the_error_is_returned_and_the_pager_can_go_on_later() {
    let hub = fake_hub().await;
    let hub_client = HubClient::new(HubConfig {
        retry: retries(2),
        ..HubConfig {
            endpoint: hub.url(),
            ..HubConfig::default()
        }
    })
    .unwrap();
    let mut pager = hub_client.list_datasets(&walk_params());
    pager.next_page().await.unwrap().unwrap();
    let second_url = pager.next_url().unwrap().to_string();

    hub.inject_faults(Fault {
        count: 3,
        status: 503,
        body: r#"{"error":"Service Unavailable"}"#.into(),
    });
    let err = pager.next_page().await.unwrap_err();
    match &err {
        HubError::Status {
            status,
            message,
            request_id,
            ..
        } => {
            assert_eq!(*status, 503);
            assert_eq!(message, "Service Unavailable");
            assert!(request_id.is_some(), "the fake sends X-Request-Id");
        }
        other => panic!("expected a 503 Status error, got {other:?}"),
    }
    assert!(!err.is_offline());
    assert_eq!(
        pager.next_url(),
        Some(second_url.as_str()),
        "still on the failed page"
    );

    hub.inject_faults(Fault {
        count: 3,
        status: 200,
        body: "<!DOCTYPE html><html>Hugging Face is down</html>".into(),
    });
    let err = pager.next_page().await.unwrap_err();
    assert!(matches!(err, HubError::InvalidBody { .. }), "{err:?}");
    assert!(err.to_string().contains("<!DOCTYPE html>"), "{err}");

    let saved = pager.next_url().unwrap().to_string();
    drop(pager);
    let mut resumed = CatalogPager::resume(&hub_client, saved);
    let rest = walk(&mut resumed).await;
    let total: usize = rest.iter().map(|p| p.records.len()).sum();
    assert_eq!(
        total,
        RECORDS - PAGE_SIZE,
        "the resumed walk brings the rest"
    );
}

#[tokio::test]
async fn dataset_info_returns_the_record_and_an_unknown_id_is_repo_not_found() {
    let hub = fake_hub().await;
    let hub_client = client(&hub, None);
    let known = synthetic_records(RECORDS, SEED).swap_remove(42);
    let got = hub_client.dataset_info(&known.id).await.unwrap();
    assert_eq!(got.id, known.id);
    assert_eq!(got.downloads, known.downloads);

    let missing: DatasetId = "nobody-here/no-such-dataset".parse().unwrap();
    let err = hub_client.dataset_info(&missing).await.unwrap_err();
    assert!(
        matches!(&err, HubError::RepoNotFound { id, .. } if *id == missing),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("nobody-here/no-such-dataset") && msg.contains("HF_TOKEN"),
        "{msg}"
    );
    assert!(
        msg.contains("request id"),
        "the fake's X-Request-Id is quoted: {msg}"
    );
    let tries = hub
        .requests()
        .iter()
        .filter(|r| r.path.contains("no-such-dataset"))
        .count();
    assert_eq!(tries, 1, "a missing dataset is not retried");
}

#[tokio::test]
async fn an_unknown_expand_is_a_bad_request() {
    let hub = fake_hub().await;
    let params = ListParams {
        expand: vec!["favouriteColour".into()],
        ..ListParams::default()
    };
    let err = client(&hub, None)
        .list_datasets(&params)
        .next_page()
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::BadRequest { .. }), "{err:?}");
    assert!(err.to_string().contains("expand"), "{err}");
}

#[tokio::test]
async fn search_and_filters_reach_the_hub() {
    let hub = fake_hub().await;
    let sample = synthetic_records(RECORDS, SEED).swap_remove(7);
    let author = sample.id.namespace().unwrap().to_string();
    let params = ListParams {
        author: Some(author.clone()),
        sort: Some(SortKey::Downloads),
        ..ListParams::default()
    };
    let mut pager = client(&hub, None).list_datasets(&params);
    let pages = walk(&mut pager).await;
    let records: Vec<_> = pages.iter().flat_map(|p| &p.records).collect();
    assert!(records.iter().any(|d| d.id == sample.id));
    assert!(
        records
            .iter()
            .all(|d| d.id.namespace() == Some(author.as_str()))
    );
    let downloads: Vec<u64> = records.iter().map(|d| d.downloads).collect();
    assert!(
        downloads.windows(2).all(|w| w[0] >= w[1]),
        "sorted by downloads: {downloads:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_offline() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let hub_client = HubClient::new(HubConfig {
        endpoint: endpoint.clone(),
        retry: retries(2),
        ..HubConfig::default()
    })
    .unwrap();
    let err = hub_client
        .list_datasets(&ListParams::default())
        .next_page()
        .await
        .unwrap_err();
    assert!(err.is_offline(), "{err:?}");
    assert!(matches!(&err, HubError::Unreachable { endpoint: e, .. } if *e == endpoint));
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("cannot reach the Hub at {endpoint}: ")),
        "{msg}"
    );
    assert!(
        msg.contains("offline") && msg.contains("HF_ENDPOINT"),
        "{msg}"
    );

    let id: DatasetId = "acme/x".parse().unwrap();
    assert!(hub_client.dataset_info(&id).await.unwrap_err().is_offline());
}

#[tokio::test]
async fn the_token_is_sent_as_a_bearer_header_only_when_set() {
    let hub = fake_hub().await;
    let id = synthetic_records(1, SEED).swap_remove(0).id;
    client(&hub, Some("hf_test_token"))
        .dataset_info(&id)
        .await
        .unwrap();
    client(&hub, None).dataset_info(&id).await.unwrap();
    let auth: Vec<bool> = hub.requests().iter().map(|r| r.authorization).collect();
    assert_eq!(auth, [true, false]);
}
