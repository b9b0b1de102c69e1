//! `GET /api/datasets/{id}` and `/revision/{rev}` (hub-api.md §2.1, §3.6, cases 5, 27, 28).

use crate::common::{get, get_with, keys, real_hub};

#[tokio::test]
async fn info_finds_canonical_and_namespaced_ids_ignoring_case() {
    let hub = real_hub().await;
    for path in ["glue", "GLUE", "Glue"] {
        let got = get(&format!("{}/api/datasets/{path}", hub.url())).await;
        assert_eq!(got.status, 200, "{path}");
        assert_eq!(
            got.json["id"], "glue",
            "the id as created, whatever the request's case"
        );
        assert!(got.json["cardData"].is_object());
        assert_eq!(got.json["siblings"], serde_json::json!([]));
        assert_eq!(got.json["usedStorage"], 0);
        assert!(
            got.json.get("author").is_none(),
            "canonical datasets have no owner"
        );
    }
    let got = get(&format!("{}/api/datasets/OpenAI/GSM8K", hub.url())).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json["id"], "openai/gsm8k");
    assert_eq!(got.json["author"], "openai");
    assert!(
        got.json.get("cardData").is_none(),
        "no card in the snapshot for this one"
    );
}

#[tokio::test]
async fn an_unknown_repo_is_401_without_a_token_and_404_with_one() {
    let hub = real_hub().await;
    let url = format!("{}/api/datasets/nobody/nothing-here", hub.url());
    let anonymous = get(&url).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.headers["x-error-code"], "RepoNotFound");
    assert_eq!(
        anonymous.headers["x-error-message"],
        "Invalid username or password."
    );
    assert_eq!(
        anonymous.json,
        serde_json::json!({"error": "Repository not found"})
    );

    let client = reqwest::Client::new();
    let with_token = get_with(&client, &url, &[("authorization", "Bearer hf_test")]).await;
    assert_eq!(with_token.status, 404);
    assert_eq!(with_token.headers["x-error-code"], "RepoNotFound");
    assert_eq!(with_token.json["error"], "Repository not found");

    let canonical = get(&format!("{}/api/datasets/no-such-canonical", hub.url())).await;
    assert_eq!(canonical.status, 401);
}

#[tokio::test]
async fn revisions_main_head_and_the_sha_resolve_others_are_revision_not_found() {
    let hub = real_hub().await;
    let info = get(&format!("{}/api/datasets/nyu-mll/glue", hub.url())).await;
    let sha = info.json["sha"].as_str().unwrap().to_string();
    for rev in ["main", "HEAD", "refs%2Fheads%2Fmain", sha.as_str()] {
        let got = get(&format!(
            "{}/api/datasets/nyu-mll/glue/revision/{rev}",
            hub.url()
        ))
        .await;
        assert_eq!(got.status, 200, "{rev}");
        assert_eq!(got.json, info.json, "{rev}");
    }
    let canonical = get(&format!("{}/api/datasets/glue/revision/main", hub.url())).await;
    assert_eq!(canonical.json["id"], "glue");

    let got = get(&format!(
        "{}/api/datasets/nyu-mll/glue/revision/v9.9",
        hub.url()
    ))
    .await;
    assert_eq!(got.status, 404);
    assert_eq!(got.headers["x-error-code"], "RevisionNotFound");
    assert!(got.json["error"].as_str().unwrap().contains("v9.9"));

    let missing = get(&format!(
        "{}/api/datasets/nobody/x/revision/main",
        hub.url()
    ))
    .await;
    assert_eq!(missing.headers["x-error-code"], "RepoNotFound");
}

#[tokio::test]
async fn info_expand_selects_properties_and_rejects_unknown_ones() {
    let hub = real_hub().await;
    let got = get(&format!(
        "{}/api/datasets/glue?expand=downloads&expand[]=tags",
        hub.url()
    ))
    .await;
    assert_eq!(keys(&got.json), ["_id", "downloads", "id", "tags"]);

    let got = get(&format!("{}/api/datasets/glue?expand=nonsense", hub.url())).await;
    assert_eq!(got.status, 400);
    assert!(got.json["error"].as_str().unwrap().contains("`nonsense`"));
}

#[tokio::test]
async fn info_of_a_sparse_record_has_what_the_hub_always_has() {
    let hub = real_hub().await;
    // In the snapshot this record has only id, author, tags and description.
    let got = get(&format!(
        "{}/api/datasets/0-hero/Matter-0.1-Slim-A",
        hub.url()
    ))
    .await;
    assert_eq!(got.status, 200);
    let d = &got.json;
    assert_eq!(d["createdAt"], "2022-03-02T23:29:04.000Z");
    assert_eq!(d["lastModified"], d["createdAt"]);
    assert_eq!(
        (d["downloads"].as_u64(), d["likes"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(
        (d["private"].as_bool(), d["disabled"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(d["gated"], false);
    assert_eq!(d["_id"].as_str().map(str::len), Some(24));
    assert_eq!(d["sha"].as_str().map(str::len), Some(40));

    // Filled values are derived from the record, so they are the same on every request.
    let again = get(&format!(
        "{}/api/datasets/0-hero/matter-0.1-slim-a",
        hub.url()
    ))
    .await;
    assert_eq!(again.json, got.json);
}
