//! The file API against the fake Hub, in process: revisions, trees, commits, the HEAD probe,
//! ranged downloads through the LFS redirect (without the token), and the Hub's errors.

// Test code: a panic is how a helper reports a failed expectation.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use hubdex_core::{DatasetId, GateMode, Gated};
use hubdex_fakehub::{FakeHub, FakeHubOptions, FileFault, RepoAccess, RepoCommit, RunningFakeHub};
use hubdex_hub::{Download, EntryKind, FileMetadata, HubClient, HubConfig, HubError, RetryPolicy};
use sha1::{Digest, Sha1};
use sha2::Sha256;

const TOKEN: &str = "hf_approved";
const CSV: &[u8] = b"id,text\n1,hello\n2,world\n";

fn parquet() -> Vec<u8> {
    (0..5000u32).flat_map(|i| i.to_le_bytes()).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn git_blob_id(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex(&h.finalize())
}

fn id(text: &str) -> DatasetId {
    DatasetId::new(text).unwrap()
}

/// A fake with `acme/data` (a README, a csv and an LFS parquet under `data/`, and a file
/// two folders down) and `acme/gated` (manual approval, [`TOKEN`] approved); tree and
/// commit pages hold 2 entries.
async fn fake_hub() -> RunningFakeHub {
    let mut hub = FakeHub::from_records(
        Vec::new(),
        FakeHubOptions {
            tree_page_size: 2,
            ..FakeHubOptions::default()
        },
    );
    hub.add_repo(
        "acme/data",
        vec![
            ("README.md".into(), b"# data\n".to_vec()),
            ("data/train.csv".into(), CSV.to_vec()),
            ("data/train.parquet".into(), parquet()),
            ("data/extra/notes.txt".into(), b"notes".to_vec()),
        ],
    )
    .unwrap();
    hub.add_repo("acme/gated", vec![("data.csv".into(), CSV.to_vec())])
        .unwrap();
    hub.set_repo_access(
        "acme/gated",
        RepoAccess {
            gated: Gated::Mode(GateMode::Manual),
            approved_tokens: vec![TOKEN.into()],
            ..RepoAccess::default()
        },
    )
    .unwrap();
    hub.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn client(hub: &RunningFakeHub, token: Option<&str>) -> HubClient {
    HubClient::new(HubConfig {
        endpoint: hub.url(),
        token: token.map(str::to_string),
        retry: RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(10),
        },
        timeout: Duration::from_secs(10),
    })
    .unwrap()
}

/// Reads a whole download: the bytes that arrived, and the error that ended it, if any.
async fn drain(download: Download) -> (Vec<u8>, Option<HubError>) {
    let mut body = download.body;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(e) => return (bytes, Some(e)),
        }
    }
    (bytes, None)
}

/// Reads a whole download that must succeed.
async fn read_all(download: Download) -> Vec<u8> {
    let (bytes, error) = drain(download).await;
    assert!(error.is_none(), "{error:?}");
    bytes
}

#[tokio::test]
async fn revision_info_resolves_branches_and_lists_files() {
    let hub = fake_hub().await;
    let hf = client(&hub, None);
    let info = hf.revision_info(&id("acme/data"), "main").await.unwrap();
    assert_eq!(info.sha.len(), 40);
    assert_eq!(
        info.siblings,
        [
            "README.md",
            "data/extra/notes.txt",
            "data/train.csv",
            "data/train.parquet"
        ]
    );
    assert!(!info.gated.is_gated() && !info.private);
    let by_commit = hf.revision_info(&id("acme/data"), &info.sha).await.unwrap();
    assert_eq!(by_commit, info);
    let by_ref = hf
        .revision_info(&id("acme/data"), "refs/heads/main")
        .await
        .unwrap();
    assert_eq!(by_ref.sha, info.sha);

    let gated = hf.revision_info(&id("acme/gated"), "main").await.unwrap();
    assert!(
        gated.gated.is_gated(),
        "info of a gated repo stays readable"
    );

    let err = hf.revision_info(&id("acme/data"), "v9").await.unwrap_err();
    assert!(matches!(err, HubError::RevisionNotFound { .. }), "{err:?}");
    let err = hf
        .revision_info(&id("acme/none"), "main")
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::RepoNotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn list_files_follows_tree_pages_and_names_a_missing_folder() {
    let hub = fake_hub().await;
    let hf = client(&hub, None);
    let all = hf
        .list_files(&id("acme/data"), "main", None, true)
        .await
        .unwrap();
    let paths: Vec<&str> = all.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "README.md",
            "data",
            "data/extra",
            "data/extra/notes.txt",
            "data/train.csv",
            "data/train.parquet"
        ]
    );
    let tree_requests = hub
        .requests()
        .iter()
        .filter(|r| r.path.contains("/tree/"))
        .count();
    assert_eq!(tree_requests, 3, "pages of 2, followed through Link");

    let csv = &all[4];
    assert_eq!(csv.kind, EntryKind::File);
    assert_eq!(csv.oid, git_blob_id(CSV));
    assert_eq!(csv.etag(), git_blob_id(CSV));
    assert!(csv.lfs.is_none());
    let lfs = all[5].lfs.as_ref().unwrap();
    assert_eq!(lfs.sha256, hex(&Sha256::digest(parquet())));
    assert_eq!(lfs.size, 20_000);
    assert_eq!(all[5].etag(), lfs.sha256);
    assert_eq!(all[1].kind, EntryKind::Directory);

    let folder = hf
        .list_files(&id("acme/data"), "main", Some("data"), false)
        .await
        .unwrap();
    let names: Vec<&str> = folder.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        names,
        ["data/extra", "data/train.csv", "data/train.parquet"]
    );

    let err = hf
        .list_files(&id("acme/data"), "main", Some("nope"), true)
        .await
        .unwrap_err();
    match &err {
        HubError::EntryNotFound { path, commit, .. } => {
            assert_eq!(path.as_deref(), Some("nope"));
            assert_eq!(commit.as_deref().map(str::len), Some(40));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("`nope`"), "{err}");
}

#[tokio::test]
async fn list_commits_is_newest_first_across_pages_up_to_the_limit() {
    let hub = fake_hub().await;
    let hf = client(&hub, None);
    let first = hf
        .revision_info(&id("acme/data"), "main")
        .await
        .unwrap()
        .sha;
    let mut made = vec![first];
    for i in 0..3 {
        made.push(
            hub.commit(
                "acme/data",
                RepoCommit {
                    files: vec![("data/train.csv".into(), format!("id\n{i}\n").into_bytes())],
                    title: format!("Update {i}"),
                    ..RepoCommit::default()
                },
            )
            .unwrap(),
        );
    }
    made.reverse();
    let commits = hf
        .list_commits(&id("acme/data"), "main", 100)
        .await
        .unwrap();
    let ids: Vec<&str> = commits.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, made);
    assert_eq!(commits[0].title, "Update 2");
    assert_eq!(commits[0].authors, ["acme"]);
    assert!(commits[0].date >= commits[1].date);
    let two = hf.list_commits(&id("acme/data"), "main", 2).await.unwrap();
    assert_eq!(two, commits[..2]);
    assert!(
        hf.list_commits(&id("acme/data"), "main", 0)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_probe_of_a_git_file_gives_its_git_etag_and_the_resolve_url() {
    let hub = fake_hub().await;
    let hf = client(&hub, Some("hf_any"));
    let sha = hf
        .revision_info(&id("acme/data"), "main")
        .await
        .unwrap()
        .sha;
    let meta = hf
        .file_metadata(&id("acme/data"), "main", "data/train.csv")
        .await
        .unwrap();
    assert_eq!(
        meta,
        FileMetadata {
            commit: sha,
            etag: git_blob_id(CSV),
            size: CSV.len() as u64,
            url: format!(
                "{}/datasets/acme/data/resolve/main/data/train.csv",
                hub.url()
            ),
            is_lfs: false,
        }
    );
    let probe = hub.requests().pop().unwrap();
    assert_eq!(probe.method, "HEAD");
    assert!(probe.authorization, "the token goes to the Hub itself");

    let download = hf.download(&meta, 0).await.unwrap();
    assert_eq!((download.start, download.total), (0, CSV.len() as u64));
    assert_eq!(read_all(download).await, CSV);
    let resumed = hf.download(&meta, 8).await.unwrap();
    assert_eq!(resumed.start, 8);
    assert_eq!(drain(resumed).await.0, CSV[8..]);
    assert_eq!(
        hub.requests().pop().unwrap().range.as_deref(),
        Some("bytes=8-")
    );
}

#[tokio::test]
async fn lfs_files_download_from_the_cdn_without_the_token() {
    let hub = fake_hub().await;
    let hf = client(&hub, Some("hf_any"));
    let meta = hf
        .file_metadata(&id("acme/data"), "main", "data/train.parquet")
        .await
        .unwrap();
    let bytes = parquet();
    assert!(meta.is_lfs);
    assert_eq!(meta.etag, hex(&Sha256::digest(&bytes)));
    assert_eq!(meta.size, bytes.len() as u64, "from X-Linked-Size");
    assert!(
        meta.url
            .starts_with(&format!("http://localhost:{}/lfs-cdn/", hub.addr().port())),
        "{}",
        meta.url
    );
    let download = hf.download(&meta, 0).await.unwrap();
    assert_eq!(download.total, bytes.len() as u64);
    assert_eq!(read_all(download).await, bytes);
    let resumed = hf.download(&meta, 12_345).await.unwrap();
    assert_eq!((resumed.start, resumed.total), (12_345, bytes.len() as u64));
    assert_eq!(drain(resumed).await.0, bytes[12_345..]);

    let log = hub.requests();
    let cdn: Vec<_> = log
        .iter()
        .filter(|r| r.path.starts_with("/lfs-cdn/"))
        .collect();
    assert_eq!(cdn.len(), 2);
    assert!(
        cdn.iter()
            .all(|r| !r.authorization && matches!(r.status, Some(200 | 206))),
        "the CDN answers 400 to a token: {cdn:?}"
    );
    assert_eq!(cdn[1].range.as_deref(), Some("bytes=12345-"));
}

#[tokio::test]
async fn a_file_known_from_the_tree_downloads_by_ranges_without_a_probe() {
    let hub = fake_hub().await;
    let hf = client(&hub, Some("hf_any"));
    let bytes = parquet();
    let info = hf.revision_info(&id("acme/data"), "main").await.unwrap();
    let meta = hf.file_at_commit(
        &id("acme/data"),
        &info.sha,
        "data/train.parquet",
        &hex(&Sha256::digest(&bytes)),
        bytes.len() as u64,
        true,
    );
    let part = hf.download_range(&meta, 100, Some(4196)).await.unwrap();
    assert_eq!((part.start, part.end), (100, 4196));
    assert_eq!(read_all(part).await, bytes[100..4196]);
    // An end past the file means "to the end".
    let tail = hf
        .download_range(&meta, 19_000, Some(1 << 40))
        .await
        .unwrap();
    assert_eq!((tail.start, tail.end), (19_000, bytes.len() as u64));
    assert_eq!(read_all(tail).await, bytes[19_000..]);
    assert!(matches!(
        hf.download_range(&meta, 50, Some(50)).await,
        Err(HubError::RangeNotSatisfiable { .. })
    ));

    let log = hub.requests();
    assert!(
        !log.iter().any(|r| r.method == "HEAD"),
        "no probe was sent: {log:?}"
    );
    let cdn: Vec<_> = log
        .iter()
        .filter(|r| r.path.starts_with("/lfs-cdn/"))
        .collect();
    assert_eq!(cdn.len(), 2, "the resolve GET was redirected to the CDN");
    assert!(cdn.iter().all(|r| !r.authorization));
    assert_eq!(cdn[0].range.as_deref(), Some("bytes=100-4195"));
    assert_eq!(cdn[1].range.as_deref(), Some("bytes=19000-"));
}

#[tokio::test]
async fn a_start_at_the_end_is_range_not_satisfiable() {
    let hub = fake_hub().await;
    let hf = client(&hub, None);
    for path in ["data/train.csv", "data/train.parquet"] {
        let meta = hf
            .file_metadata(&id("acme/data"), "main", path)
            .await
            .unwrap();
        let err = hf.download(&meta, meta.size).await.unwrap_err();
        match &err {
            HubError::RangeNotSatisfiable { start, size, .. } => {
                assert_eq!((*start, *size), (meta.size, Some(meta.size)));
            }
            other => panic!("{path}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn missing_files_and_gated_repos_are_typed_errors() {
    let hub = fake_hub().await;
    let anonymous = client(&hub, None);
    let err = anonymous
        .file_metadata(&id("acme/data"), "main", "data/nope.csv")
        .await
        .unwrap_err();
    let sha = anonymous
        .revision_info(&id("acme/data"), "main")
        .await
        .unwrap()
        .sha;
    match &err {
        HubError::EntryNotFound { path, commit, .. } => {
            assert_eq!(path.as_deref(), Some("data/nope.csv"));
            assert_eq!(commit.as_deref(), Some(sha.as_str()));
        }
        other => panic!("{other:?}"),
    }
    let err = anonymous
        .file_metadata(&id("acme/data"), "v2", "README.md")
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::RevisionNotFound { .. }), "{err:?}");
    let err = anonymous
        .file_metadata(&id("acme/none"), "main", "README.md")
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::RepoNotFound { .. }), "{err:?}");

    for token in [None, Some("hf_other")] {
        let err = client(&hub, token)
            .file_metadata(&id("acme/gated"), "main", "data.csv")
            .await
            .unwrap_err();
        assert!(matches!(err, HubError::GatedRepo { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("{}/datasets/acme/gated", hub.url()))
                && text.contains("HF_TOKEN"),
            "{text}"
        );
        let err = client(&hub, token)
            .list_files(&id("acme/gated"), "main", None, true)
            .await
            .unwrap_err();
        assert!(matches!(err, HubError::GatedRepo { .. }), "{err:?}");
    }
    let approved = client(&hub, Some(TOKEN));
    let meta = approved
        .file_metadata(&id("acme/gated"), "main", "data.csv")
        .await
        .unwrap();
    assert_eq!(
        drain(approved.download(&meta, 0).await.unwrap()).await.0,
        CSV
    );
}

#[tokio::test]
async fn throttled_and_failing_resolves_are_retried_with_the_wait_asked_for() {
    let hub = fake_hub().await;
    let waits = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&waits);
    let hf = client(&hub, None).with_retry_observer(move |wait| {
        seen.lock().unwrap().push((wait.wait, wait.rate_limited));
    });
    hub.inject_file_fault(FileFault::Status {
        count: 1,
        status: 429,
        retry_after: Some(1),
    });
    hub.inject_file_fault(FileFault::Status {
        count: 1,
        status: 500,
        retry_after: None,
    });
    let meta = hf
        .file_metadata(&id("acme/data"), "main", "README.md")
        .await
        .unwrap();
    assert_eq!(meta.etag, git_blob_id(b"# data\n"));
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(
        waits[0].1 && waits[0].0 >= Duration::from_secs(1),
        "Retry-After: 1 honoured: {waits:?}"
    );
    assert!(
        !waits[1].1 && waits[1].0 < Duration::from_secs(1),
        "{waits:?}"
    );

    hub.inject_file_fault(FileFault::Status {
        count: 2,
        status: 503,
        retry_after: None,
    });
    let download = hf.download(&meta, 0).await.unwrap();
    assert_eq!(drain(download).await.0, b"# data\n");
}

#[tokio::test]
async fn a_dropped_body_fails_the_stream_and_resumes_from_what_arrived() {
    let hub = fake_hub().await;
    let hf = client(&hub, None);
    let meta = hf
        .file_metadata(&id("acme/data"), "main", "data/train.parquet")
        .await
        .unwrap();
    hub.inject_file_fault(FileFault::Drop {
        count: 1,
        after_bytes: 7_000,
    });
    let (first, error) = drain(hf.download(&meta, 0).await.unwrap()).await;
    assert_eq!(first.len(), 7_000);
    assert!(
        matches!(
            error,
            Some(HubError::Transport { .. } | HubError::BodySize { .. })
        ),
        "{error:?}"
    );
    let rest = hf.download(&meta, first.len() as u64).await.unwrap();
    assert_eq!(rest.start, 7_000);
    let (tail, error) = drain(rest).await;
    assert!(error.is_none());
    assert_eq!([first, tail].concat(), parquet());

    hub.inject_file_fault(FileFault::Corrupt { count: 1 });
    let (corrupt, error) = drain(hf.download(&meta, 0).await.unwrap()).await;
    assert!(
        error.is_none(),
        "the client streams; verifying is the caller's job"
    );
    assert_ne!(hex(&Sha256::digest(&corrupt)), meta.etag);
}
