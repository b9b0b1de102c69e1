//! Loading catalogs: zstd or plain JSON lines, bad lines skipped, bad files refused.

use std::io::Write;

use hubdex_fakehub::{FakeHub, FakeHubError, FakeHubOptions};

use crate::common::{get, localhost, snapshot_path};

const GOOD: &str = r#"{"id":"acme/one","downloads":5,"tags":["license:mit"]}
{"id":"two","createdAt":"2021-05-01T00:00:00.000Z"}

not json at all
{"author":"acme","downloads":1}
{"id":"acme/three","_id":"66a1f0c2e4b0a1b2c3d4e5f6","gated":"manual"}
"#;

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

#[tokio::test]
async fn plain_and_zstd_catalogs_load_skipping_lines_that_are_not_records() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(&dir, "catalog.jsonl", GOOD.as_bytes());
    let compressed = write(
        &dir,
        "catalog.bin",
        &zstd::encode_all(GOOD.as_bytes(), 3).unwrap(),
    );
    for path in [plain, compressed] {
        let hub = FakeHub::from_catalog_file(&path, FakeHubOptions::default()).unwrap();
        assert_eq!(
            hub.len(),
            3,
            "{}: two bad lines skipped, the blank one ignored",
            path.display()
        );
        let hub = hub.spawn(localhost()).await.unwrap();
        let three = get(&format!("{}/api/datasets/acme/three", hub.url())).await;
        assert_eq!(
            three.json["_id"], "66a1f0c2e4b0a1b2c3d4e5f6",
            "a given _id is kept"
        );
        assert_eq!(three.json["gated"], "manual");
        let two = get(&format!("{}/api/datasets/two", hub.url())).await;
        assert_eq!(two.json["createdAt"], "2021-05-01T00:00:00.000Z");
    }
}

#[test]
fn missing_corrupt_and_empty_catalogs_are_errors_that_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.jsonl.zst");
    let error = FakeHub::from_catalog_file(&missing, FakeHubOptions::default()).unwrap_err();
    assert!(matches!(error, FakeHubError::CatalogOpen { .. }), "{error}");
    assert!(
        error.to_string().contains("nope.jsonl.zst") && error.to_string().contains("--synthetic")
    );

    let snapshot = std::fs::read(snapshot_path()).unwrap();
    let truncated = write(&dir, "truncated.zst", &snapshot[..snapshot.len() / 2]);
    let error = FakeHub::from_catalog_file(&truncated, FakeHubOptions::default()).unwrap_err();
    assert!(matches!(error, FakeHubError::CatalogRead { .. }), "{error}");
    assert!(error.to_string().contains("truncated"));

    let junk = write(&dir, "junk.jsonl", b"hello\n[1,2]\n");
    let error = FakeHub::from_catalog_file(&junk, FakeHubOptions::default()).unwrap_err();
    match &error {
        FakeHubError::EmptyCatalog { skipped, .. } => assert_eq!(*skipped, 2),
        other => panic!("expected EmptyCatalog, got {other}"),
    }
    assert!(error.to_string().contains("line 1"), "{error}");

    let empty = write(&dir, "empty.jsonl", b"");
    assert!(matches!(
        FakeHub::from_catalog_file(&empty, FakeHubOptions::default()),
        Err(FakeHubError::EmptyCatalog { skipped: 0, .. })
    ));
}

#[tokio::test]
async fn ids_differing_only_in_case_are_one_repo_and_the_last_record_wins() {
    let records = [
        r#"{"id":"Acme/Data","downloads":1}"#,
        r#"{"id":"other/x"}"#,
        r#"{"id":"acme/data","downloads":2}"#,
    ]
    .map(|json| serde_json::from_str(json).unwrap())
    .to_vec();
    let hub = FakeHub::from_records(records, FakeHubOptions::default());
    assert_eq!(hub.len(), 2);
    let hub = hub.spawn(localhost()).await.unwrap();
    let got = get(&format!("{}/api/datasets/ACME/DATA", hub.url())).await;
    assert_eq!(
        (got.json["id"].as_str(), got.json["downloads"].as_u64()),
        (Some("acme/data"), Some(2))
    );
}
