//! `GET /api/datasets`: search, author, filter, gated, sort, limit, full and expand
//! (hub-api.md §1, conformance cases 5–11).

use std::collections::HashSet;

use serde_json::Value;

use crate::common::{get, id, keys, real_hub, synthetic_hub, walk};

#[tokio::test]
async fn search_is_a_case_insensitive_substring_of_the_id() {
    let hub = real_hub().await;
    let (items, _) = walk(&format!("{}/api/datasets?search=GLUE", hub.url())).await;
    let ids: HashSet<&str> = items.iter().map(id).collect();
    assert!(
        ids.contains("glue") && ids.contains("super_glue"),
        "{ids:?}"
    );
    assert!(
        ids.iter().all(|i| i.to_lowercase().contains("glue")),
        "{ids:?}"
    );

    // The namespace is part of the id, and several `search` values must all match.
    let (items, _) = walk(&format!(
        "{}/api/datasets?search=nyu-mll/&search=GLU",
        hub.url()
    ))
    .await;
    let ids: Vec<&str> = items.iter().map(id).collect();
    assert!(ids.contains(&"nyu-mll/glue"), "{ids:?}");
    assert!(
        ids.iter()
            .all(|i| i.starts_with("nyu-mll/") && i.contains("glu")),
        "{ids:?}"
    );

    let (items, _) = walk(&format!(
        "{}/api/datasets?search=zzzz-no-such-id",
        hub.url()
    ))
    .await;
    assert!(items.is_empty());
}

#[tokio::test]
async fn author_is_the_exact_owner_ignoring_case() {
    let hub = real_hub().await;
    let (exact, _) = walk(&format!("{}/api/datasets?author=mteb", hub.url())).await;
    assert!(exact.len() > 10, "mteb publishes many datasets");
    assert!(
        exact
            .iter()
            .all(|d| d["author"] == "mteb" && id(d).starts_with("mteb/"))
    );
    let (upper, _) = walk(&format!("{}/api/datasets?author=MTEB", hub.url())).await;
    assert_eq!(upper.len(), exact.len());
    let (prefix, _) = walk(&format!("{}/api/datasets?author=mte", hub.url())).await;
    assert!(prefix.is_empty(), "author is not a substring match");
}

#[tokio::test]
async fn repeated_filters_must_all_match() {
    let hub = real_hub().await;
    let url = |q: &str| format!("{}/api/datasets?{q}", hub.url());
    let (en, _) = walk(&url("filter=language:en")).await;
    let (mit, _) = walk(&url("filter=license:mit")).await;
    let (both, _) = walk(&url("filter=language%3Aen&filter=license:mit")).await;
    assert!(!both.is_empty());
    assert!(both.len() < en.len() && both.len() < mit.len());
    for item in &both {
        let tags: Vec<&str> = item["tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            tags.contains(&"language:en") && tags.contains(&"license:mit"),
            "{tags:?}"
        );
    }
    let (none, _) = walk(&url("filter=license:mit&filter=no-such-tag")).await;
    assert!(none.is_empty());
}

#[tokio::test]
async fn gated_true_and_false_split_the_catalog() {
    let hub = synthetic_hub(3_000, 11, 1000).await;
    let (all, _) = walk(&format!("{}/api/datasets", hub.url())).await;
    let (gated, _) = walk(&format!("{}/api/datasets?gated=true", hub.url())).await;
    let (open, _) = walk(&format!("{}/api/datasets?gated=false", hub.url())).await;
    assert!(!gated.is_empty() && !open.is_empty());
    assert!(
        gated
            .iter()
            .all(|d| d["gated"] == "auto" || d["gated"] == "manual")
    );
    assert!(open.iter().all(|d| d["gated"] == false));
    assert_eq!(gated.len() + open.len(), all.len());
    // Booleans as older clients write them.
    for spelling in ["True", "1"] {
        let (again, _) = walk(&format!("{}/api/datasets?gated={spelling}", hub.url())).await;
        assert_eq!(again, gated, "gated={spelling}");
    }
    let bad = get(&format!("{}/api/datasets?gated=yes", hub.url())).await;
    assert_eq!(bad.status, 400);
    assert!(bad.json["error"].as_str().unwrap().contains("`gated`"));
}

/// The sort value of an item, comparable across items.
fn sort_key(item: &Value, sort: &str) -> f64 {
    match sort {
        "lastModified" | "createdAt" => {
            let text = item[sort].as_str().unwrap();
            chrono::DateTime::parse_from_rfc3339(text)
                .unwrap()
                .timestamp_millis() as f64
        }
        _ => item[sort].as_f64().unwrap(),
    }
}

#[tokio::test]
async fn every_sort_is_descending_with_id_ascending_on_ties() {
    let hub = synthetic_hub(2_500, 3, 1000).await;
    for sort in [
        "downloads",
        "likes",
        "lastModified",
        "createdAt",
        "trendingScore",
    ] {
        let (items, _) = walk(&format!("{}/api/datasets?sort={sort}", hub.url())).await;
        assert_eq!(items.len(), 2_500);
        let mut ties = 0;
        for pair in items.windows(2) {
            let (a, b) = (sort_key(&pair[0], sort), sort_key(&pair[1], sort));
            assert!(a >= b, "{sort}: {a} before {b}");
            if a == b {
                ties += 1;
                assert!(
                    pair[0]["_id"].as_str() < pair[1]["_id"].as_str(),
                    "{sort}: ties by _id"
                );
            }
        }
        assert!(ties > 0, "{sort}: the catalog has ties to break");
        let first = sort_key(&items[0], sort);
        let last = sort_key(&items[items.len() - 1], sort);
        assert!(first > last, "{sort} actually orders something");

        // `direction` is historical and ignored: still descending.
        let (ascending, _) = walk(&format!(
            "{}/api/datasets?sort={sort}&direction=1",
            hub.url()
        ))
        .await;
        assert_eq!(ascending, items, "{sort}: direction ignored");
    }
    let bad = get(&format!("{}/api/datasets?sort=stars", hub.url())).await;
    assert_eq!(bad.status, 400);
    let message = bad.json["error"].as_str().unwrap();
    assert!(
        message.contains("`stars`") && message.contains("trendingScore"),
        "{message}"
    );
}

#[tokio::test]
async fn limit_is_the_page_size_capped_at_the_servers() {
    let hub = synthetic_hub(500, 1, 50).await;
    let page = |q: &str| get_len(format!("{}/api/datasets?{q}", hub.url()));
    assert_eq!(page("").await, 50, "no limit: the server's page size");
    assert_eq!(page("limit=7").await, 7);
    assert_eq!(page("limit=5000").await, 50, "capped");
    for bad in ["limit=0", "limit=abc", "limit=-3"] {
        let got = get(&format!("{}/api/datasets?{bad}", hub.url())).await;
        assert_eq!(got.status, 400, "{bad}");
        assert!(got.json["error"].as_str().unwrap().contains("`limit`"));
    }
}

async fn get_len(url: String) -> usize {
    let got = get(&url).await;
    assert_eq!(got.status, 200, "{url}");
    got.json.as_array().unwrap().len()
}

#[tokio::test]
async fn default_items_carry_the_hubs_fields() {
    let hub = synthetic_hub(200, 8, 1000).await;
    let got = get(&format!("{}/api/datasets", hub.url())).await;
    let items = got.json.as_array().unwrap();
    assert_eq!(items.len(), 200);
    let with_description = items
        .iter()
        .find(|d| d.get("description").is_some())
        .unwrap();
    assert_eq!(
        keys(with_description),
        [
            "_id",
            "author",
            "createdAt",
            "description",
            "disabled",
            "downloads",
            "gated",
            "id",
            "key",
            "lastModified",
            "likes",
            "private",
            "sha",
            "tags",
            "trendingScore"
        ]
    );
    for item in items {
        let object_id = item["_id"].as_str().unwrap();
        assert!(object_id.len() == 24 && object_id.bytes().all(|b| b.is_ascii_hexdigit()));
        let sha = item["sha"].as_str().unwrap();
        assert!(sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()));
        for field in ["createdAt", "lastModified"] {
            let time = item[field].as_str().unwrap();
            assert!(time.len() == 24 && time.ends_with('Z'), "{field}: {time}");
        }
        assert_eq!(item["key"], "");
        assert!(item.get("cardData").is_none(), "no cardData without full");
        assert!(
            item["trendingScore"].is_u64(),
            "integral, as the Hub writes it"
        );
    }
}

#[tokio::test]
async fn expand_returns_only_id_and_the_listed_properties() {
    let hub = synthetic_hub(100, 2, 1000).await;
    let got = get(&format!("{}/api/datasets?expand=author", hub.url())).await;
    for item in got.json.as_array().unwrap() {
        assert_eq!(keys(item), ["_id", "author", "id"]);
    }
    let got = get(&format!(
        "{}/api/datasets?expand[]=likes&expand=downloadsAllTime&expand=siblings",
        hub.url()
    ))
    .await;
    for item in got.json.as_array().unwrap() {
        assert_eq!(
            keys(item),
            ["_id", "downloadsAllTime", "id", "likes", "siblings"]
        );
    }
}

#[tokio::test]
async fn unknown_expand_is_a_400_naming_the_value_and_the_valid_ones() {
    let hub = synthetic_hub(10, 2, 1000).await;
    for query in ["expand=author&expand=bogus", "expand[]=bogus"] {
        let got = get(&format!("{}/api/datasets?{query}", hub.url())).await;
        assert_eq!(got.status, 400, "{query}");
        let message = got.json["error"].as_str().unwrap();
        assert!(message.contains("`bogus`"), "{message}");
        assert!(
            message.contains("cardData") && message.contains("usedStorage"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn full_adds_card_data_for_records_that_have_it() {
    let hub = real_hub().await;
    let glue = |items: &Value| {
        items
            .as_array()
            .unwrap()
            .iter()
            .find(|d| id(d) == "glue")
            .cloned()
            .unwrap()
    };
    let plain = get(&format!("{}/api/datasets?search=glue", hub.url())).await;
    assert!(glue(&plain.json).get("cardData").is_none());
    for full in ["true", "True", "1"] {
        let got = get(&format!(
            "{}/api/datasets?search=glue&full={full}",
            hub.url()
        ))
        .await;
        let card = &glue(&got.json)["cardData"];
        assert!(card["task_categories"].is_array(), "full={full}: {card}");
    }
    let got = get(&format!(
        "{}/api/datasets?search=glue&expand=cardData",
        hub.url()
    ))
    .await;
    assert_eq!(keys(&glue(&got.json)), ["_id", "cardData", "id"]);
    // Records without a card simply have no cardData, even with full=true.
    let got = get(&format!(
        "{}/api/datasets?search=Matter-0.1-Slim&full=true",
        hub.url()
    ))
    .await;
    let items = got.json.as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|d| d.get("cardData").is_none()));
}
