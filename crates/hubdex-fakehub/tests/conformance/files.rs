//! The file side (hub-api.md §2.1–2.5, §3 and cases 14–36): info with siblings, tree,
//! paths-info, commits, refs, resolve with ETags, ranges and LFS redirects to the fake's
//! CDN, access errors, repos read from a folder, and the faults download tests inject.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use hubdex_core::{GateMode, Gated};
use hubdex_fakehub::{FakeHub, FakeHubOptions, FileFault, RepoAccess, RepoCommit, RunningFakeHub};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::common::{localhost, next_link};

const TOKEN: &str = "hf_approved";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repos")
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(path)).unwrap()
}

fn git_blob_id(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex(&h.finalize())
}

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn files(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    pairs
        .iter()
        .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
        .collect()
}

/// A fake serving the fixture repos from a folder, plus repos added in process: one with
/// seven files in folders, a gated, a private and a disabled one.
async fn files_hub(tree_page_size: usize, dir: Option<&Path>) -> RunningFakeHub {
    let dir = dir.map_or_else(fixtures, Path::to_path_buf);
    let hub = tokio::task::spawn_blocking(move || {
        let mut hub = FakeHub::from_records(
            Vec::new(),
            FakeHubOptions {
                tree_page_size,
                ..FakeHubOptions::default()
            },
        );
        hub.add_repos_dir(&dir).unwrap();
        hub.add_repo(
            "acme/many",
            files(&[
                ("README.md", "# many\n"),
                ("a/1.txt", "1"),
                ("a/2.txt", "2"),
                ("a/b/3.txt", "3"),
                ("c.csv", "x,y\n"),
                ("d/4.parquet", "PAR1"),
                ("e.json", "{}"),
            ]),
        )
        .unwrap();
        for id in ["acme/gated", "acme/private", "acme/disabled"] {
            hub.add_repo(id, files(&[("data.csv", "a\n1\n")])).unwrap();
        }
        let approved = vec![TOKEN.to_string()];
        hub.set_repo_access(
            "acme/gated",
            RepoAccess {
                gated: Gated::Mode(GateMode::Manual),
                approved_tokens: approved.clone(),
                ..RepoAccess::default()
            },
        )
        .unwrap();
        hub.set_repo_access(
            "acme/private",
            RepoAccess {
                private: true,
                approved_tokens: approved,
                ..RepoAccess::default()
            },
        )
        .unwrap();
        hub.set_repo_access(
            "acme/disabled",
            RepoAccess {
                disabled: true,
                ..RepoAccess::default()
            },
        )
        .unwrap();
        hub
    })
    .await
    .unwrap();
    hub.spawn(localhost()).await.unwrap()
}

/// One answer, redirects not followed.
struct Got {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn send(method: Method, url: &str, headers: &[(&str, &str)]) -> Got {
    let mut request = client().request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    Got {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

async fn get(url: &str) -> Got {
    send(Method::GET, url, &[]).await
}

async fn post_form(url: &str, body: &str) -> Got {
    let response = client()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    Got {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

async fn post_json(url: &str, body: &Value) -> Got {
    let response = client().post(url).json(body).send().await.unwrap();
    Got {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

fn paths(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect()
}

async fn main_sha(hub: &RunningFakeHub, id: &str) -> String {
    let got = get(&format!("{}/api/datasets/{id}/revision/main", hub.url())).await;
    assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
    got.json()["sha"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn info_lists_siblings_at_the_resolved_commit_and_blobs_adds_hashes() {
    let hub = files_hub(1000, None).await;
    let base = format!("{}/api/datasets/fka/awesome-chatgpt-prompts", hub.url());
    let main = get(&format!("{base}/revision/main")).await;
    assert_eq!(main.status, 200);
    let sha = main.json()["sha"].as_str().unwrap().to_string();
    assert_eq!(sha.len(), 40);
    assert_eq!(main.json()["id"], "fka/awesome-chatgpt-prompts");
    assert_eq!(main.json()["author"], "fka");
    assert_eq!(
        main.json()["siblings"],
        json!([{"rfilename": "README.md"}, {"rfilename": "prompts.csv"}])
    );
    assert_eq!(get(&base).await.json()["sha"], sha.as_str());
    assert_eq!(
        get(&format!("{base}/revision/{sha}")).await.json()["sha"],
        sha.as_str()
    );

    let parquet = get(&format!(
        "{base}/revision/refs%2Fconvert%2Fparquet?blobs=true"
    ))
    .await;
    assert_eq!(parquet.status, 200);
    assert_ne!(parquet.json()["sha"], sha.as_str());
    let bytes =
        fixture("fka/awesome-chatgpt-prompts@refs%2Fconvert%2Fparquet/default/train/0000.parquet");
    let sibling = &parquet.json()["siblings"][0];
    assert_eq!(sibling["rfilename"], "default/train/0000.parquet");
    assert_eq!(sibling["size"], bytes.len());
    assert_eq!(sibling["lfs"]["sha256"], sha256(&bytes));
    assert_eq!(sibling["lfs"]["size"], bytes.len());

    let csv = get(&format!("{base}?blobs=true")).await.json()["siblings"][1].clone();
    let csv_bytes = fixture("fka/awesome-chatgpt-prompts/prompts.csv");
    assert_eq!(csv["blobId"], git_blob_id(&csv_bytes));
    assert!(csv.get("lfs").is_none(), "a csv is a plain git file");

    let missing = get(&format!("{base}/revision/v9")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("x-error-code"), Some("RevisionNotFound"));
    let expand = get(&format!("{base}?expand=sha&expand=siblings"))
        .await
        .json();
    let mut keys: Vec<&String> = expand.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["_id", "id", "sha", "siblings"]);
}

#[tokio::test]
async fn tree_lists_direct_children_or_everything_below() {
    // Cases 14 and 17.
    let hub = files_hub(1000, None).await;
    let base = format!("{}/api/datasets/openai/gsm8k/tree/main", hub.url());
    let top = get(&base).await.json();
    assert_eq!(paths(&top), ["README.md", "dataset_infos.json", "main"]);
    let folder = &top[2];
    assert_eq!(folder["type"], "directory");
    assert_eq!(folder["size"], 0);
    assert_eq!(folder["oid"].as_str().unwrap().len(), 40);

    let all = get(&format!("{base}?recursive=true")).await.json();
    assert_eq!(
        paths(&all),
        [
            "README.md",
            "dataset_infos.json",
            "main",
            "main/test-00000-of-00001.parquet",
            "main/test.jsonl"
        ]
    );
    let inside = get(&format!("{base}/main")).await.json();
    assert_eq!(
        paths(&inside),
        ["main/test-00000-of-00001.parquet", "main/test.jsonl"]
    );
    let encoded = get(&format!(
        "{}/api/datasets/fka/awesome-chatgpt-prompts/tree/refs%2Fconvert%2Fparquet/default%2Ftrain",
        hub.url()
    ))
    .await;
    assert_eq!(paths(&encoded.json()), ["default/train/0000.parquet"]);

    let missing = get(&format!("{base}/nope")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("x-error-code"), Some("EntryNotFound"));
    assert_eq!(
        missing.header("x-repo-commit"),
        Some(main_sha(&hub, "openai/gsm8k").await.as_str())
    );
}

#[tokio::test]
async fn lfs_entries_name_the_pointer_and_carry_the_sha256() {
    // Case 15.
    let hub = files_hub(1000, None).await;
    let all = get(&format!(
        "{}/api/datasets/openai/gsm8k/tree/main?recursive=1",
        hub.url()
    ))
    .await
    .json();
    let parquet = fixture("openai/gsm8k/main/test-00000-of-00001.parquet");
    let entry = &all[3];
    let pointer = format!(
        "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize {}\n",
        sha256(&parquet),
        parquet.len()
    );
    assert_eq!(entry["type"], "file");
    assert_eq!(entry["size"], parquet.len());
    assert_eq!(entry["oid"], git_blob_id(pointer.as_bytes()));
    assert_eq!(entry["lfs"]["oid"], sha256(&parquet));
    assert_eq!(entry["lfs"]["size"], parquet.len());
    assert_eq!(entry["lfs"]["pointerSize"], pointer.len());

    let jsonl = fixture("openai/gsm8k/main/test.jsonl");
    assert_eq!(all[4]["oid"], git_blob_id(&jsonl));
    assert!(all[4].get("lfs").is_none());
}

#[tokio::test]
async fn tree_pages_continue_through_link_and_expand_adds_last_commits() {
    // Case 16.
    let hub = files_hub(3, None).await;
    let mut next = Some(format!(
        "{}/api/datasets/acme/many/tree/main?recursive=true",
        hub.url()
    ));
    let mut seen = Vec::new();
    let mut pages = 0;
    while let Some(url) = next {
        pages += 1;
        assert!(pages < 20, "the walk ends");
        let got = get(&url).await;
        assert_eq!(got.status, 200);
        let page = paths(&got.json());
        assert!(page.len() <= 3);
        seen.extend(page);
        next = next_link(&got.headers);
        if let Some(link) = &next {
            assert!(link.starts_with(&hub.url()), "{link}");
            assert!(link.contains("recursive=true"), "{link}");
        }
    }
    assert_eq!(pages, 4, "10 entries in pages of 3");
    assert_eq!(
        seen,
        [
            "README.md",
            "a",
            "a/1.txt",
            "a/2.txt",
            "a/b",
            "a/b/3.txt",
            "c.csv",
            "d",
            "d/4.parquet",
            "e.json"
        ]
    );

    let first = hub.commit("acme/many", RepoCommit::default()).unwrap();
    let second = hub
        .commit(
            "acme/many",
            RepoCommit {
                files: files(&[("a/b/3.txt", "three")]),
                title: "Change three".into(),
                ..RepoCommit::default()
            },
        )
        .unwrap();
    assert_ne!(first, second);
    let first_page = get(&format!(
        "{}/api/datasets/acme/many/tree/main/a?expand=true&recursive=true&limit=10",
        hub.url()
    ))
    .await;
    assert_eq!(
        first_page.json().as_array().unwrap().len(),
        3,
        "`limit` is capped to the page size"
    );
    let second_page = get(&next_link(&first_page.headers).unwrap()).await;
    assert!(next_link(&second_page.headers).is_none());
    let expanded: Vec<Value> = [first_page.json(), second_page.json()]
        .iter()
        .flat_map(|page| page.as_array().unwrap().clone())
        .collect();
    let by_path = |p: &str| expanded.iter().find(|e| e["path"] == p).unwrap().clone();
    assert_eq!(by_path("a/b/3.txt")["lastCommit"]["id"], second.as_str());
    assert_eq!(by_path("a/b/3.txt")["lastCommit"]["title"], "Change three");
    assert_eq!(by_path("a/b")["lastCommit"]["id"], second.as_str());
    assert_eq!(by_path("a/1.txt")["lastCommit"]["id"], first.as_str());
    assert_eq!(by_path("a/1.txt")["securityFileStatus"]["status"], "safe");
    assert_eq!(expanded.len(), 4);
}

#[tokio::test]
async fn paths_info_takes_form_or_json_and_omits_missing_paths() {
    // Case 18.
    let hub = files_hub(1000, None).await;
    let url = format!("{}/api/datasets/openai/gsm8k/paths-info/main", hub.url());
    let got = post_form(
        &url,
        "paths=main%2Ftest.jsonl&paths=main&paths=nope.txt&expand=false",
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(paths(&got.json()), ["main/test.jsonl", "main"]);
    assert_eq!(got.json()[1]["type"], "directory");

    let got = post_json(&url, &json!({"paths": ["README.md"], "expand": true})).await;
    assert_eq!(paths(&got.json()), ["README.md"]);
    assert!(got.json()[0]["lastCommit"]["id"].is_string());
    let got = post_json(&url, &json!({"paths": "README.md"})).await;
    assert_eq!(paths(&got.json()), ["README.md"]);

    let many: String = (0..2001)
        .map(|i| format!("paths=f{i}"))
        .collect::<Vec<_>>()
        .join("&");
    assert_eq!(post_form(&url, &many).await.status, 400);
    let wrong = get(&url).await;
    assert_eq!(wrong.status, 405);
}

#[tokio::test]
async fn commits_are_newest_first_counted_and_paginated() {
    // Case 19.
    let hub = files_hub(1000, None).await;
    let mut made = vec![main_sha(&hub, "acme/many").await];
    for i in 0..4 {
        made.push(
            hub.commit(
                "acme/many",
                RepoCommit {
                    files: files(&[("c.csv", &format!("x,y\n{i},{i}\n"))]),
                    title: format!("Commit {i}"),
                    ..RepoCommit::default()
                },
            )
            .unwrap(),
        );
    }
    made.reverse();
    let mut next = Some(format!(
        "{}/api/datasets/acme/many/commits/main?limit=2",
        hub.url()
    ));
    let mut ids = Vec::new();
    let mut pages = 0;
    while let Some(url) = next {
        pages += 1;
        assert!(pages < 10);
        let got = get(&url).await;
        assert_eq!(got.status, 200);
        assert_eq!(got.header("x-total-count"), Some("5"));
        for c in got.json().as_array().unwrap() {
            ids.push(c["id"].as_str().unwrap().to_string());
            assert!(c["date"].as_str().unwrap().ends_with('Z'));
            assert_eq!(c["authors"][0]["user"], "acme");
        }
        next = next_link(&got.headers);
    }
    assert_eq!(pages, 3);
    assert_eq!(ids, made);
    let formatted = get(&format!(
        "{}/api/datasets/acme/many/commits/main?expand[]=formatted",
        hub.url()
    ))
    .await
    .json();
    assert_eq!(formatted[0]["title"], "Commit 3");
    assert_eq!(formatted[0]["formatted"]["title"], "<p>Commit 3</p>");
    let older = get(&format!(
        "{}/api/datasets/acme/many/commits/{}",
        hub.url(),
        made[2]
    ))
    .await;
    assert_eq!(older.header("x-total-count"), Some("3"));
}

#[tokio::test]
async fn refs_list_branches_converts_and_tags() {
    // Case 20.
    let hub = files_hub(1000, None).await;
    let url = format!(
        "{}/api/datasets/fka/awesome-chatgpt-prompts/refs",
        hub.url()
    );
    let refs = get(&url).await.json();
    assert_eq!(refs["branches"][0]["name"], "main");
    assert_eq!(refs["branches"][0]["ref"], "refs/heads/main");
    assert_eq!(
        refs["branches"][0]["targetCommit"],
        main_sha(&hub, "fka/awesome-chatgpt-prompts").await.as_str()
    );
    assert_eq!(refs["converts"][0]["name"], "parquet");
    assert_eq!(refs["converts"][0]["ref"], "refs/convert/parquet");
    assert_eq!(refs["tags"], json!([]));
    assert!(refs.get("pullRequests").is_none());
    let with_prs = get(&format!("{url}?include_prs=1")).await.json();
    assert_eq!(with_prs["pullRequests"], json!([]));
}

#[tokio::test]
async fn resolving_a_git_file_answers_it_with_its_git_etag() {
    // Cases 21 and 36.
    let hub = files_hub(1000, None).await;
    let url = format!(
        "{}/datasets/fka/awesome-chatgpt-prompts/resolve/main/prompts.csv",
        hub.url()
    );
    let bytes = fixture("fka/awesome-chatgpt-prompts/prompts.csv");
    let sha = main_sha(&hub, "fka/awesome-chatgpt-prompts").await;
    for method in [Method::HEAD, Method::GET] {
        let got = send(method.clone(), &url, &[]).await;
        assert_eq!(got.status, 200, "{method}");
        let etag = format!("\"{}\"", git_blob_id(&bytes));
        assert_eq!(got.header("etag"), Some(etag.as_str()));
        let length = bytes.len().to_string();
        assert_eq!(got.header("content-length"), Some(length.as_str()));
        assert_eq!(got.header("x-repo-commit"), Some(sha.as_str()));
        assert_eq!(got.header("accept-ranges"), Some("bytes"));
        assert!(got.header("x-linked-etag").is_none());
        assert!(got.header("x-xet-hash").is_none());
        if method == Method::GET {
            assert_eq!(got.body, bytes);
        } else {
            assert!(got.body.is_empty());
        }
    }
    let by_commit = get(&url.replace("/main/", &format!("/{sha}/"))).await;
    assert_eq!(by_commit.body, bytes);
}

#[tokio::test]
async fn resolving_an_lfs_file_redirects_to_a_cdn_that_refuses_tokens() {
    // Cases 22, 24 and 36.
    let hub = files_hub(1000, None).await;
    let bytes = fixture("openai/gsm8k/main/test-00000-of-00001.parquet");
    let url = format!(
        "{}/datasets/openai/gsm8k/resolve/main/main/test-00000-of-00001.parquet",
        hub.url()
    );
    let head = send(Method::HEAD, &url, &[("authorization", "Bearer hf_x")]).await;
    assert_eq!(head.status, 302);
    let linked = format!("\"{}\"", sha256(&bytes));
    assert_eq!(head.header("x-linked-etag"), Some(linked.as_str()));
    let size = bytes.len().to_string();
    assert_eq!(head.header("x-linked-size"), Some(size.as_str()));
    assert_eq!(
        head.header("x-repo-commit"),
        Some(main_sha(&hub, "openai/gsm8k").await.as_str())
    );
    assert_ne!(head.header("content-length"), Some(size.as_str()));
    assert!(head.header("x-xet-hash").is_none());
    let location = head.header("location").unwrap().to_string();
    let port = hub.addr().port();
    assert!(
        location.starts_with(&format!(
            "http://localhost:{port}/lfs-cdn/{}?",
            sha256(&bytes)
        )),
        "another host name than the client used: {location}"
    );
    // A client that came in through `localhost` is sent to the address instead.
    let other = send(Method::HEAD, &url.replace("127.0.0.1", "localhost"), &[]).await;
    assert!(
        other
            .header("location")
            .unwrap()
            .starts_with(&format!("http://127.0.0.1:{port}/lfs-cdn/"))
    );

    let cdn = get(&location).await;
    assert_eq!(cdn.status, 200);
    assert_eq!(cdn.body, bytes);
    assert_ne!(
        cdn.header("etag"),
        Some(linked.as_str()),
        "the CDN has its own ETag"
    );
    let with_token = send(Method::GET, &location, &[("authorization", "Bearer hf_x")]).await;
    assert_eq!(with_token.status, 400);
    let tampered = get(&location.replace("Signature=", "Signature=0")).await;
    assert_eq!(tampered.status, 403);
    let log = hub.requests();
    let cdn_requests: Vec<_> = log
        .iter()
        .filter(|r| r.path.starts_with("/lfs-cdn/"))
        .collect();
    assert_eq!(cdn_requests.len(), 3);
    assert!(cdn_requests[1].authorization && cdn_requests[1].status == Some(400));
}

#[tokio::test]
async fn lfs_files_are_served_directly_when_redirects_are_off() {
    let hub = FakeHub::from_records(
        Vec::new(),
        FakeHubOptions {
            lfs_redirects: false,
            ..FakeHubOptions::default()
        },
    );
    let mut hub = hub;
    hub.add_repo("acme/x", vec![("x.parquet".into(), b"PAR1 data".to_vec())])
        .unwrap();
    let hub = hub.spawn(localhost()).await.unwrap();
    let got = get(&format!(
        "{}/datasets/acme/x/resolve/main/x.parquet",
        hub.url()
    ))
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, b"PAR1 data");
    let linked = format!("\"{}\"", sha256(b"PAR1 data"));
    assert_eq!(got.header("x-linked-etag"), Some(linked.as_str()));
    assert_eq!(got.header("etag"), Some(linked.as_str()));
    assert_eq!(got.header("x-linked-size"), Some("9"));
}

#[tokio::test]
async fn ranges_are_clamped_and_a_start_past_the_end_is_416() {
    // Cases 31, 32 and 33, on resolve and on the CDN.
    let hub = files_hub(1000, None).await;
    let csv = fixture("fka/awesome-chatgpt-prompts/prompts.csv");
    let parquet = fixture("openai/gsm8k/main/test-00000-of-00001.parquet");
    let resolve = format!(
        "{}/datasets/fka/awesome-chatgpt-prompts/resolve/main/prompts.csv",
        hub.url()
    );
    let lfs = send(
        Method::HEAD,
        &format!(
            "{}/datasets/openai/gsm8k/resolve/main/main/test-00000-of-00001.parquet",
            hub.url()
        ),
        &[],
    )
    .await;
    let cdn = lfs.header("location").unwrap().to_string();
    for (url, bytes) in [(resolve, csv), (cdn, parquet)] {
        let n = bytes.len();
        let got = send(Method::GET, &url, &[("range", "bytes=5-")]).await;
        assert_eq!(got.status, 206);
        let whole = format!("bytes 5-{}/{n}", n - 1);
        assert_eq!(got.header("content-range"), Some(whole.as_str()));
        assert_eq!(got.body, bytes[5..]);
        let probe = send(Method::GET, &url, &[("range", "bytes=0-0")]).await;
        assert_eq!(probe.status, 206);
        let first = format!("bytes 0-0/{n}");
        assert_eq!(probe.header("content-range"), Some(first.as_str()));
        assert_eq!(probe.body, bytes[..1]);
        let past = format!("bytes={}-{}", n - 3, n + 100);
        let clamped = send(Method::GET, &url, &[("range", &past)]).await;
        assert_eq!(clamped.status, 206);
        assert_eq!(clamped.body, bytes[n - 3..]);
        let start = format!("bytes={n}-");
        let beyond = send(Method::GET, &url, &[("range", &start)]).await;
        assert_eq!(beyond.status, 416);
        let star = format!("bytes */{n}");
        assert_eq!(beyond.header("content-range"), Some(star.as_str()));
    }
}

#[tokio::test]
async fn if_none_match_with_the_current_etag_is_304() {
    // Case 34.
    let hub = files_hub(1000, None).await;
    let url = format!(
        "{}/datasets/fka/awesome-chatgpt-prompts/resolve/main/README.md",
        hub.url()
    );
    let etag = get(&url).await.header("etag").unwrap().to_string();
    let same = send(Method::GET, &url, &[("if-none-match", &etag)]).await;
    assert_eq!(same.status, 304);
    assert!(same.body.is_empty());
    let other = send(Method::GET, &url, &[("if-none-match", "\"0000\"")]).await;
    assert_eq!(other.status, 200);
}

#[tokio::test]
async fn missing_files_revisions_and_repos_get_the_hubs_errors() {
    // Cases 26, 27 and 28.
    let hub = files_hub(1000, None).await;
    let base = format!("{}/datasets/openai/gsm8k/resolve", hub.url());
    let missing = send(Method::HEAD, &format!("{base}/main/nope.csv"), &[]).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("x-error-code"), Some("EntryNotFound"));
    assert_eq!(
        missing.header("x-repo-commit"),
        Some(main_sha(&hub, "openai/gsm8k").await.as_str())
    );
    let revision = get(&format!("{base}/v9/README.md")).await;
    assert_eq!(revision.status, 404);
    assert_eq!(revision.header("x-error-code"), Some("RevisionNotFound"));
    let repo = format!("{}/datasets/nobody/nothing/resolve/main/x.csv", hub.url());
    let anonymous = get(&repo).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.header("x-error-code"), Some("RepoNotFound"));
    let with_token = send(Method::GET, &repo, &[("authorization", "Bearer hf_x")]).await;
    assert_eq!(with_token.status, 404);
    assert_eq!(with_token.header("x-error-code"), Some("RepoNotFound"));
}

#[tokio::test]
async fn gated_private_and_disabled_repos_guard_their_files() {
    // Cases 28, 29 and 30.
    let hub = files_hub(1000, None).await;
    let url = |id: &str, route: &str| format!("{}{}", hub.url(), route.replace("ID", id));
    let approved = format!("Bearer {TOKEN}");
    let approved = Some(approved.as_str());
    let status = |url: String, token: Option<&str>| {
        let header = token.map(|t| ("authorization", t.to_string()));
        async move {
            let headers: Vec<(&str, &str)> = header.iter().map(|(k, v)| (*k, v.as_str())).collect();
            send(Method::GET, &url, &headers).await
        }
    };

    // Gated: info stays readable; files, tree and paths-info need an approved token.
    let info = status(url("acme/gated", "/api/datasets/ID"), None).await;
    assert_eq!(info.status, 200);
    assert_eq!(info.json()["gated"], "manual");
    for route in [
        "/datasets/ID/resolve/main/data.csv",
        "/api/datasets/ID/tree/main",
    ] {
        let anonymous = status(url("acme/gated", route), None).await;
        assert_eq!(anonymous.status, 401, "{route}");
        assert_eq!(anonymous.header("x-error-code"), Some("GatedRepo"));
        let other = status(url("acme/gated", route), Some("Bearer hf_other")).await;
        assert_eq!(other.status, 403, "{route}");
        assert_eq!(other.header("x-error-code"), Some("GatedRepo"));
        assert!(
            other
                .header("x-error-message")
                .unwrap()
                .contains("/datasets/acme/gated")
        );
        assert_eq!(status(url("acme/gated", route), approved).await.status, 200);
    }
    let paths = post_form(
        &url("acme/gated", "/api/datasets/ID/paths-info/main"),
        "paths=data.csv",
    )
    .await;
    assert_eq!(paths.status, 401);

    // Private: missing to everyone else, with and without a token.
    for route in ["/api/datasets/ID", "/datasets/ID/resolve/main/data.csv"] {
        assert_eq!(status(url("acme/private", route), None).await.status, 401);
        assert_eq!(
            status(url("acme/private", route), Some("Bearer hf_other"))
                .await
                .status,
            404
        );
        assert_eq!(
            status(url("acme/private", route), approved).await.status,
            200
        );
    }

    // Disabled: files answer 403 with the Hub's message.
    let disabled = status(
        url("acme/disabled", "/datasets/ID/resolve/main/data.csv"),
        None,
    )
    .await;
    assert_eq!(disabled.status, 403);
    assert_eq!(
        disabled.header("x-error-message"),
        Some("Access to this resource is disabled.")
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[tokio::test]
async fn changes_on_disk_become_a_new_commit_and_the_old_one_stays() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("fka"), &dir.path().join("fka"));
    let hub = files_hub(1000, Some(dir.path())).await;
    let id = "fka/awesome-chatgpt-prompts";
    let before = main_sha(&hub, id).await;
    let readme = dir.path().join("fka/awesome-chatgpt-prompts/README.md");
    let old = std::fs::read(&readme).unwrap();
    std::fs::write(&readme, b"# changed\n").unwrap();
    std::fs::write(
        dir.path().join("fka/awesome-chatgpt-prompts/new.txt"),
        b"new",
    )
    .unwrap();

    let after = main_sha(&hub, id).await;
    assert_ne!(after, before);
    assert_eq!(main_sha(&hub, id).await, after, "no change, no commit");
    let resolve =
        |rev: &str, path: &str| format!("{}/datasets/{id}/resolve/{rev}/{path}", hub.url());
    assert_eq!(
        get(&resolve("main", "README.md")).await.body,
        b"# changed\n"
    );
    assert_eq!(get(&resolve(&before, "README.md")).await.body, old);
    assert_eq!(get(&resolve(&before, "new.txt")).await.status, 404);
    let commits = get(&format!("{}/api/datasets/{id}/commits/main", hub.url())).await;
    let ids: Vec<String> = commits
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, [after.clone(), before.clone()]);

    // A repo added to the folder later is found too.
    copy_dir(
        &fixtures().join("allisonhorst"),
        &dir.path().join("allisonhorst"),
    );
    let penguins = get(&format!(
        "{}/datasets/allisonhorst/palmerpenguins/resolve/main/penguins.csv",
        hub.url()
    ))
    .await;
    assert_eq!(
        penguins.body,
        fixture("allisonhorst/palmerpenguins/penguins.csv")
    );
}

#[tokio::test]
async fn the_control_route_commits_files_and_sets_access() {
    let hub = files_hub(1000, None).await;
    let control = format!("{}/_fakehub/repos/acme/new", hub.url());
    let got = post_json(
        &control,
        &json!({"files": [{"path": "a.csv", "text": "a\n1\n"}, {"path": "b.parquet", "base64": "UEFSMQ=="}]}),
    )
    .await;
    assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
    assert_eq!(got.json()["created"], true);
    let commit = got.json()["commit"].as_str().unwrap().to_string();
    assert_eq!(main_sha(&hub, "acme/new").await, commit);
    let resolve = format!("{}/datasets/acme/new/resolve/main/a.csv", hub.url());
    assert_eq!(get(&resolve).await.body, b"a\n1\n");

    let got = post_json(&control, &json!({"access": {"gated": "auto"}})).await;
    assert_eq!(got.json(), json!({"commit": commit, "created": false}));
    assert_eq!(get(&resolve).await.status, 401);
    let bad = post_json(&control, &json!({"files": [{"path": "../x", "text": ""}]})).await;
    assert_eq!(bad.status, 400);
    assert!(String::from_utf8_lossy(&bad.body).contains("not a file path"));
}

#[tokio::test]
async fn body_faults_corrupt_cut_and_stall_file_bodies() {
    let hub = files_hub(1000, None).await;
    let url = format!(
        "{}/datasets/fka/awesome-chatgpt-prompts/resolve/main/prompts.csv",
        hub.url()
    );
    let bytes = fixture("fka/awesome-chatgpt-prompts/prompts.csv");

    hub.inject_file_fault(FileFault::Corrupt { count: 1 });
    send(Method::HEAD, &url, &[]).await;
    let corrupt = get(&url).await;
    assert_eq!(corrupt.body.len(), bytes.len());
    let differ = corrupt
        .body
        .iter()
        .zip(&bytes)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differ, 1, "a HEAD does not use up a body fault");
    assert_eq!(get(&url).await.body, bytes, "only the next body");

    hub.inject_file_fault(FileFault::Drop {
        count: 1,
        after_bytes: 1000,
    });
    let response = client().get(&url).send().await.unwrap();
    let mut stream = response.bytes_stream();
    let mut received = 0;
    let mut failed = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => received += chunk.len(),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the connection drops");
    assert_eq!(received, 1000);

    // A stall without end: the client's timeout fires after the first bytes, and the fake
    // still shuts down promptly.
    let got = reqwest::Client::new()
        .post(format!("{}/_fakehub/file-faults", hub.url()))
        .json(&json!({"kind": "stall", "count": 1, "after_bytes": 500}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.json::<Value>().await.unwrap(),
        json!({"pending_bodies": 1, "pending_resolves": 0})
    );
    let impatient = reqwest::Client::builder()
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let response = impatient.get(&url).send().await.unwrap();
    let mut stream = response.bytes_stream();
    let mut received = 0;
    let mut timed_out = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => received += chunk.len(),
            Err(e) => {
                timed_out = e.is_timeout();
                break;
            }
        }
    }
    assert!(timed_out);
    assert_eq!(received, 500);

    hub.inject_file_fault(FileFault::Stall {
        count: 1,
        after_bytes: 10,
        duration_ms: None,
    });
    let stalled = tokio::spawn(reqwest::get(url.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::time::timeout(Duration::from_secs(10), hub.shutdown())
        .await
        .expect("a stalled body does not hold the shutdown");
    let _ = stalled.await;
}

#[tokio::test]
async fn status_faults_answer_resolves_with_429_or_500() {
    let hub = files_hub(1000, None).await;
    let url = format!(
        "{}/datasets/fka/awesome-chatgpt-prompts/resolve/main/README.md",
        hub.url()
    );
    hub.inject_file_fault(FileFault::Status {
        count: 1,
        status: 429,
        retry_after: Some(7),
    });
    hub.inject_file_fault(FileFault::Status {
        count: 1,
        status: 500,
        retry_after: None,
    });
    let limited = send(Method::HEAD, &url, &[]).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("7"));
    assert_eq!(get(&url).await.status, 500);
    assert_eq!(get(&url).await.status, 200);
    let log = hub.requests();
    let statuses: Vec<Option<u16>> = log
        .iter()
        .filter(|r| r.path.contains("/resolve/"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [Some(429), Some(500), Some(200)]);
}

#[tokio::test]
async fn the_request_log_shows_ranges_and_tokens() {
    let hub = files_hub(1000, None).await;
    let url = format!(
        "{}/datasets/fka/awesome-chatgpt-prompts/resolve/main/prompts.csv",
        hub.url()
    );
    send(
        Method::GET,
        &url,
        &[("range", "bytes=100-"), ("authorization", "Bearer hf_x")],
    )
    .await;
    let entry = hub.requests().pop().unwrap();
    assert_eq!(entry.method, "GET");
    assert_eq!(
        entry.path,
        "/datasets/fka/awesome-chatgpt-prompts/resolve/main/prompts.csv"
    );
    assert!(entry.authorization);
    assert_eq!(entry.range.as_deref(), Some("bytes=100-"));
    assert_eq!(entry.status, Some(206));
}

#[tokio::test]
async fn generated_repos_are_deterministic_and_their_hashes_match_the_bytes() {
    let make = || async {
        let mut hub = FakeHub::from_records(Vec::new(), FakeHubOptions::default());
        tokio::task::spawn_blocking(move || {
            hub.add_generated_repo("bench/gen", 3, 300_000, 9).unwrap();
            hub
        })
        .await
        .unwrap()
        .spawn(localhost())
        .await
        .unwrap()
    };
    let (one, two) = (make().await, make().await);
    let tree = |hub: &RunningFakeHub| {
        let url = format!("{}/api/datasets/bench/gen/tree/main/data", hub.url());
        async move { get(&url).await.json() }
    };
    let listed = tree(&one).await;
    assert_eq!(
        listed,
        tree(&two).await,
        "the same seed gives the same files"
    );
    assert_eq!(listed.as_array().unwrap().len(), 3);
    let entry = &listed[1];
    assert_eq!(entry["path"], "data/part-00001-of-00003.bin");
    assert_eq!(entry["size"], 300_000);
    let head = send(
        Method::HEAD,
        &format!(
            "{}/datasets/bench/gen/resolve/main/data/part-00001-of-00003.bin",
            one.url()
        ),
        &[],
    )
    .await;
    let body = get(head.header("location").unwrap()).await.body;
    assert_eq!(body.len(), 300_000);
    assert_eq!(entry["lfs"]["oid"], sha256(&body));
    let part = send(
        Method::GET,
        head.header("location").unwrap(),
        &[("range", "bytes=123457-")],
    )
    .await;
    assert_eq!(part.body, body[123_457..]);
    assert_ne!(listed[0]["lfs"]["oid"], listed[1]["lfs"]["oid"]);
}
