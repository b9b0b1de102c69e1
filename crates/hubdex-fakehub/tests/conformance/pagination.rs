//! Keyset pagination through `Link` (hub-api.md §1.3, conformance cases 1–4).

use std::collections::HashSet;

use hubdex_fakehub::synthetic_records;

use crate::common::{get, get_with, id, next_link, synthetic_hub, walk};

#[tokio::test]
async fn a_walk_returns_every_record_exactly_once() {
    let hub = synthetic_hub(5_000, 42, 1000).await;
    for (query, pages) in [("", 5), ("limit=333", 16), ("sort=downloads&limit=1000", 5)] {
        let (items, walked) = walk(&format!("{}/api/datasets?{query}", hub.url())).await;
        assert_eq!(walked, pages, "{query}");
        let ids: HashSet<&str> = items.iter().map(id).collect();
        assert_eq!(items.len(), 5_000, "{query}");
        assert_eq!(ids.len(), 5_000, "{query}: no record twice");
    }
}

#[tokio::test]
async fn a_filtered_sorted_walk_returns_exactly_the_matching_records() {
    let (count, seed) = (4_000, 77);
    let expected: HashSet<String> = synthetic_records(count, seed)
        .into_iter()
        .filter(|d| d.id.as_str().to_lowercase().contains("an"))
        .filter(|d| d.tags.iter().any(|t| t == "region:us"))
        .map(|d| d.id.to_string())
        .collect();
    assert!(
        expected.len() > 100,
        "the query matches a fair share ({})",
        expected.len()
    );
    let hub = synthetic_hub(count, seed, 1000).await;
    let (items, pages) = walk(&format!(
        "{}/api/datasets?search=AN&filter=region:us&sort=likes&limit=97",
        hub.url()
    ))
    .await;
    let got: HashSet<String> = items.iter().map(|d| id(d).to_string()).collect();
    assert_eq!(got.len(), items.len(), "no record twice");
    assert_eq!(got, expected);
    assert_eq!(pages, expected.len().div_ceil(97));
}

#[tokio::test]
async fn the_last_page_has_no_link_even_when_it_is_full() {
    let hub = synthetic_hub(100, 5, 1000).await;
    let got = get(&format!("{}/api/datasets?limit=50", hub.url())).await;
    let next = next_link(&got.headers).expect("a second page");
    let last = get(&next).await;
    assert_eq!(last.json.as_array().unwrap().len(), 50);
    assert!(
        last.headers.get("link").is_none(),
        "exactly 100 records: nothing follows"
    );
}

#[tokio::test]
async fn link_is_absolute_on_the_servers_own_address_and_repeats_every_parameter() {
    let hub = synthetic_hub(300, 9, 1000).await;
    let query = "search=a&filter=region%3Aus&sort=downloads&limit=10&full=true&direction=-1";
    let got = get(&format!("{}/api/datasets?{query}", hub.url())).await;
    let next = next_link(&got.headers).unwrap();
    let prefix = format!(
        "http://127.0.0.1:{}/api/datasets?{query}&cursor=",
        hub.addr().port()
    );
    assert!(next.starts_with(&prefix), "{next}");
    assert!(next.len() > prefix.len(), "{next}");

    // The URL is fetched verbatim, as clients do, and the next page continues the first.
    let second = get(&next).await;
    assert_eq!(second.status, 200);
    let first_ids: HashSet<&str> = got.json.as_array().unwrap().iter().map(id).collect();
    let page = second.json.as_array().unwrap();
    assert_eq!(page.len(), 10);
    assert!(page.iter().all(|d| !first_ids.contains(id(d))));
    let last_of_first = got.json.as_array().unwrap().last().unwrap()["downloads"].as_u64();
    assert!(
        page[0]["downloads"].as_u64() <= last_of_first,
        "page 2 continues the order"
    );

    // The host comes from the request, e.g. when a client says `localhost`.
    let client = reqwest::Client::new();
    let host = format!("localhost:{}", hub.addr().port());
    let got = get_with(
        &client,
        &format!("{}/api/datasets?limit=5", hub.url()),
        &[("host", &host)],
    )
    .await;
    let next = next_link(&got.headers).unwrap();
    assert!(
        next.starts_with(&format!("http://{host}/api/datasets?limit=5&cursor=")),
        "{next}"
    );
}

#[tokio::test]
async fn a_cursor_is_opaque_and_bound_to_its_listing() {
    let hub = synthetic_hub(50, 4, 1000).await;
    let got = get(&format!("{}/api/datasets?sort=likes&limit=10", hub.url())).await;
    let next = next_link(&got.headers).unwrap();
    let cursor = next.split("cursor=").nth(1).unwrap();

    let other_sort = get(&format!(
        "{}/api/datasets?sort=downloads&cursor={cursor}",
        hub.url()
    ))
    .await;
    assert_eq!(other_sort.status, 400);
    assert!(
        other_sort.json["error"]
            .as_str()
            .unwrap()
            .contains("`likes`")
    );

    let garbled = get(&format!(
        "{}/api/datasets?sort=likes&cursor=xyz{cursor}",
        hub.url()
    ))
    .await;
    assert_eq!(garbled.status, 400);
    assert!(garbled.json["error"].as_str().unwrap().contains("Link"));
}
