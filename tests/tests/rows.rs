//! End-to-end rows preview: a real fake Hub serving the real dataset files of
//! `crates/hubdex-fakehub/tests/fixtures/repos` (and its dataset-viewer routes), a real
//! daemon started by the real CLI, answering over HTTP and the CLI from each source: the
//! dataset viewer, a remote parquet file read by ranges, and the local cache after a
//! download.

// Test code through and through: a panic with its location is the failure report.
#![allow(clippy::unwrap_used)]

use hubdex_e2e::{FakeHubProcess, Home, repo_root};
use serde_json::{Value, json};

fn fixture_hub() -> FakeHubProcess {
    let repos = repo_root().join("crates/hubdex-fakehub/tests/fixtures/repos");
    FakeHubProcess::start_with_repos(&repos, &[])
}

/// A home whose daemon does not sync; with `viewer`, it asks the fake's viewer routes.
fn home(hub: &FakeHubProcess, viewer: bool) -> Home {
    let home = Home::new(&hub.url);
    let mut config = String::from("sync_on_start = false\nimport_snapshot = false\n");
    if viewer {
        config.push_str(&format!("viewer_endpoint = \"{}/viewer\"\n", hub.url));
    }
    config.push_str("[jobs]\nretry_delay = \"100ms\"\n");
    home.write_config(&config);
    home
}

fn column_names(rows: &Value) -> Vec<&str> {
    rows["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn rows_come_from_the_viewer_over_http_and_the_cli() {
    let hub = fixture_hub();
    let home = home(&hub, true);

    let rows = home.json(&["rows", "fka/awesome-chatgpt-prompts"]);
    assert_eq!(rows["source"]["kind"], "dataset_viewer", "{rows}");
    assert_eq!(rows["source"]["endpoint"], format!("{}/viewer", hub.url));
    assert_eq!(
        (rows["config"].as_str(), rows["split"].as_str()),
        (Some("default"), Some("train"))
    );
    assert_eq!(column_names(&rows), ["act", "prompt"]);
    assert_eq!(rows["columns"][0]["dtype"], "string");
    assert_eq!(rows["rows"].as_array().unwrap().len(), 20);
    assert_eq!(rows["rows"][0][0], "An Ethereum Developer");
    assert_eq!(rows["truncated"], true);

    let http = home.http_url();
    let client = reqwest::Client::new();
    let got = client
        .get(format!(
            "{http}/v1/datasets/openai/gsm8k/rows?config=main&split=test&limit=3"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    let rows: Value = got.json().await.unwrap();
    assert_eq!(rows["source"]["kind"], "dataset_viewer", "{rows}");
    assert_eq!(column_names(&rows), ["question", "answer"]);
    assert_eq!(rows["rows"].as_array().unwrap().len(), 3);
    assert!(rows["rows"][0][0].as_str().unwrap().starts_with("Janet"));
    assert_eq!(
        rows["splits"],
        json!([{"config": "main", "split": "test"}]),
        "{rows}"
    );

    let missing = client
        .get(format!("{http}/v1/datasets/acme/no-such-dataset/rows"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("acme/no-such-dataset"),
        "{body}"
    );
    let no_split = client
        .get(format!(
            "{http}/v1/datasets/openai/gsm8k/rows?split=validation"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(no_split.status(), 404);
    let too_many = client
        .get(format!("{http}/v1/datasets/openai/gsm8k/rows?limit=500"))
        .send()
        .await
        .unwrap();
    assert_eq!(too_many.status(), 400);

    // The table for people: names, types, rows, and long prompts cut with an ellipsis.
    let out = home.run(&["rows", "fka/awesome-chatgpt-prompts", "-n", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[0].starts_with("act"), "{table}");
    assert!(lines[2].starts_with("An Ethereum Developer"), "{table}");
    assert!(lines[2].ends_with('…'), "{table}");
}

#[tokio::test]
async fn without_a_viewer_rows_come_from_remote_parquet_then_from_the_cache() {
    let hub = fixture_hub();
    let home = home(&hub, false);

    let rows = home.json(&["rows", "fka/awesome-chatgpt-prompts", "--limit", "5"]);
    assert_eq!(rows["source"]["kind"], "remote_parquet", "{rows}");
    assert_eq!(rows["source"]["path"], "default/train/0000.parquet");
    let read = rows["source"]["bytes_read"].as_u64().unwrap();
    assert!(
        read > 0 && read <= 62_261,
        "read {read} bytes of a 62,261-byte file"
    );
    assert_eq!(rows["rows"][0][0], "An Ethereum Developer");
    assert_eq!(rows["rows"].as_array().unwrap().len(), 5);

    let remote = home.json(&["rows", "openai/openai_humaneval", "--limit", "2"]);
    assert_eq!(remote["source"]["kind"], "remote_parquet", "{remote}");
    assert_eq!(remote["rows"][0][0], "HumanEval/0");

    let done = home.run(&["download", "openai/openai_humaneval", "--wait"]);
    assert!(
        done.status.success(),
        "{}\n--- daemon log ---\n{}",
        String::from_utf8_lossy(&done.stderr),
        home.daemon_log()
    );
    let local = home.json(&[
        "rows",
        "openai/openai_humaneval",
        "--config",
        "openai_humaneval",
        "--split",
        "test",
        "--limit",
        "2",
    ]);
    assert_eq!(local["source"]["kind"], "local_cache", "{local}");
    let path = local["source"]["path"].as_str().unwrap();
    assert!(
        path.starts_with(home.hf_cache().to_str().unwrap()),
        "{path}"
    );
    assert!(
        path.ends_with("openai_humaneval/test-00000-of-00001.parquet"),
        "{path}"
    );
    assert_eq!(local["rows"], remote["rows"]);
    assert_eq!(local["columns"], remote["columns"]);

    // The default split of the cached files is the jsonl at the top (`default/train`).
    let jsonl = home.json(&["rows", "openai/openai_humaneval", "--limit", "1"]);
    assert_eq!(jsonl["source"]["kind"], "local_cache", "{jsonl}");
    assert_eq!(jsonl["rows"][0][0], "HumanEval/0");
}
