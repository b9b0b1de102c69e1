//! End-to-end downloads: a real fake Hub serving repos from a folder, a real daemon started
//! by the real CLI, a kill -9 in the middle of a download, the HTTP job endpoints, and
//! `huggingface_hub` itself reading what hubdex wrote (and the other way round).

// Test code through and through: a panic with its location is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use hubdex_e2e::{FakeHubProcess, Home, python_with_huggingface_hub, wait_for};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Deterministic bytes that do not compress or repeat in any simple way.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn write_repo(root: &Path, id: &str, files: &[(&str, &[u8])]) {
    for (path, bytes) in files {
        let file = root.join(id).join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A small dataset: a card, a CSV in a folder, and a parquet file (an LFS file).
fn tiny_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("README.md", b"---\nlicense: mit\n---\n# tiny\n".to_vec()),
        ("data/train.csv", b"text,label\nhello,1\nworld,0\n".to_vec()),
        ("data/train-00000-of-00001.parquet", noise(300_000, 7)),
    ]
}

fn tiny_repo() -> tempfile::TempDir {
    let repos = tempfile::tempdir().unwrap();
    let files = tiny_files();
    let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (*p, b.as_slice())).collect();
    write_repo(repos.path(), "acme/tiny", &borrowed);
    repos
}

/// A home whose daemon does not sync the catalog and retries downloads quickly.
fn quiet_home(hub: &FakeHubProcess) -> Home {
    let home = Home::new(&hub.url);
    home.write_config(
        "sync_on_start = false\n[jobs]\nretry_delay = \"100ms\"\nstall_timeout = \"30s\"\n",
    );
    home
}

async fn requests(hub: &FakeHubProcess) -> Vec<Value> {
    reqwest::get(format!("{}/_fakehub/requests", hub.url))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A GET that sent file bytes (not a resolve GET redirected to the CDN).
fn is_file_get(request: &Value) -> bool {
    let path = request["path"].as_str().unwrap_or_default();
    let redirected = (300..400).contains(&request["status"].as_u64().unwrap_or(0));
    request["method"] == "GET"
        && (path.contains("/resolve/") || path.contains("/lfs-cdn/"))
        && !redirected
}

/// Waits for job `id` to finish and returns it.
fn finished_job(home: &Home, id: u64) -> Value {
    wait_for(&format!("job {id} to finish"), || {
        let jobs = home.json(&["jobs"]);
        let job = jobs
            .as_array()?
            .iter()
            .find(|j| j["id"].as_u64() == Some(id))?
            .clone();
        matches!(
            job["state"].as_str(),
            Some("succeeded" | "failed" | "cancelled")
        )
        .then_some(job)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_download_killed_with_sigkill_resumes_from_its_partial_bytes() {
    let repos = tempfile::tempdir().unwrap();
    let big = noise(8 << 20, 3);
    write_repo(repos.path(), "acme/big", &[("data/big.bin", &big)]);
    let hub = FakeHubProcess::start_with_repos(repos.path(), &[]);
    let home = quiet_home(&hub);
    // The first body stops after 3 MiB and never goes on.
    let stall = 3u64 << 20;
    let answer = reqwest::Client::new()
        .post(format!("{}/_fakehub/file-faults", hub.url))
        .json(&json!({"kind": "stall", "count": 1, "after_bytes": stall}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());

    let job = home.json(&["download", "acme/big"]);
    let id = job["id"].as_u64().unwrap();
    let sha = sha256_hex(&big);
    let blobs = home.hf_cache().join("datasets--acme--big/blobs");
    let partial = blobs.join(format!("{sha}.incomplete"));
    wait_for("3 MiB in the partial file", || {
        std::fs::metadata(&partial)
            .ok()
            .filter(|m| m.len() >= stall)
    });
    home.kill_daemon_hard();
    assert!(partial.exists(), "the partial file outlives the daemon");

    // The next command starts a new daemon, which finds the job and resumes it.
    let job = finished_job(&home, id);
    assert_eq!(job["state"], "succeeded", "{job}\n{}", home.daemon_log());
    let ranged: Vec<u64> = requests(&hub)
        .await
        .iter()
        .filter(|r| is_file_get(r))
        .filter_map(|r| r["range"].as_str().map(str::to_string))
        .map(|range| {
            range
                .trim_start_matches("bytes=")
                .trim_end_matches('-')
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(ranged.len(), 1, "one ranged request resumed it: {ranged:?}");
    assert!(ranged[0] >= stall, "it resumed from byte {}", ranged[0]);
    let blob = std::fs::read(blobs.join(&sha)).unwrap();
    assert_eq!(sha256_hex(&blob), sha, "the final file's sha256 matches");
    assert!(!partial.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_over_http_and_the_cli() {
    let repos = tiny_repo();
    let hub = FakeHubProcess::start_with_repos(repos.path(), &[]);
    let home = quiet_home(&hub);
    let http = home.http_url();
    let client = reqwest::Client::new();

    let schema: Value = client
        .get(format!("{http}/v1/jobs/schema"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = schema["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["properties"]["kind"]["const"].as_str())
        .collect();
    assert_eq!(kinds, ["download", "update", "delete"]);

    let bad = client
        .post(format!("{http}/v1/jobs"))
        .json(&json!({"kind": "download", "dataset": "acme/tiny", "revison": "main"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let error: Value = bad.json().await.unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("revison"),
        "{error}"
    );

    let queued = client
        .post(format!("{http}/v1/jobs"))
        .json(&json!({"kind": "download", "dataset": "acme/tiny", "include": ["data/*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status().as_u16(), 202);
    let queued: Value = queued.json().await.unwrap();
    let id = queued["id"].as_u64().unwrap();
    let job = finished_job(&home, id);
    assert_eq!(job["state"], "succeeded", "{job}");
    let one: Value = client
        .get(format!("{http}/v1/jobs/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["progress"]["files_total"], 2, "{one}");
    let cancel = client
        .delete(format!("{http}/v1/jobs/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        cancel.status().as_u16(),
        400,
        "a finished job cannot be cancelled"
    );
    let unknown = client
        .get(format!("{http}/v1/jobs/999"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);

    let downloaded: Value = client
        .get(format!("{http}/v1/downloaded/acme/tiny"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        downloaded["revisions"][0]["refs"],
        json!(["main"]),
        "{downloaded}"
    );
    assert_eq!(downloaded["revisions"][0]["files"], 2);
    assert!(downloaded["size_on_disk"].as_u64().unwrap() > 300_000);

    // The CLI: a failing download exits non-zero and says why.
    let missing = home.run(&[
        "download",
        "acme/tiny",
        "--revision",
        "no-such-branch",
        "--wait",
    ]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("no-such-branch"), "{stderr}");

    let deleted = home.run(&["delete", "acme/tiny", "--all", "--wait"]);
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    assert!(String::from_utf8_lossy(&deleted.stdout).contains("freeing"));
    assert!(!home.hf_cache().join("datasets--acme--tiny").exists());
    let gone = client
        .get(format!("{http}/v1/downloaded/acme/tiny"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 404);

    let table = home.run(&["jobs"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("delete all of acme/tiny"), "{table}");
    assert!(table.contains("failed"), "{table}");

    let metrics = client
        .get(format!("{http}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hubdex_jobs{kind=\"download\",state=\"succeeded\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hubdex_job_bytes_downloaded_total "),
        "{metrics}"
    );
    assert!(
        metrics.contains("hubdex_job_verification_failures_total 0"),
        "{metrics}"
    );
}

/// Runs a Python snippet with `huggingface_hub` and returns what it prints as JSON.
fn python(python: &Path, script: &str, env: &[(&str, &str)]) -> Value {
    let out = Command::new(python)
        .args(["-c", script])
        .env_remove("HF_TOKEN")
        .env_remove("HUGGING_FACE_HUB_TOKEN")
        .env_remove("HF_ENDPOINT")
        .env_remove("HF_HUB_OFFLINE")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        .envs(env.iter().copied())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "python printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

const READ_OFFLINE: &str = r#"
import hashlib, json, os
from huggingface_hub import hf_hub_download, snapshot_download, scan_cache_dir
repo = "acme/tiny"
one = hf_hub_download(repo, "data/train.csv", repo_type="dataset", local_files_only=True)
root = snapshot_download(repo, repo_type="dataset", local_files_only=True)
files = {}
for folder, _, names in os.walk(root):
    for name in names:
        path = os.path.join(folder, name)
        files[os.path.relpath(path, root)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
report = scan_cache_dir()
repos = [{"id": r.repo_id, "type": r.repo_type, "files": r.nb_files,
          "refs": sorted(r.refs), "size": r.size_on_disk} for r in report.repos]
print(json.dumps({"one": hashlib.sha256(open(one, "rb").read()).hexdigest(), "files": files,
                  "repos": repos, "warnings": [str(w) for w in report.warnings]}))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn huggingface_hub_reads_what_hubdex_downloaded_offline() {
    let Some(py) =
        python_with_huggingface_hub("huggingface_hub_reads_what_hubdex_downloaded_offline")
    else {
        return;
    };
    let repos = tiny_repo();
    let hub = FakeHubProcess::start_with_repos(repos.path(), &[]);
    let home = quiet_home(&hub);
    let done = home.run(&["download", "acme/tiny", "--wait"]);
    assert!(
        done.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&done.stderr),
        home.daemon_log()
    );

    let cache = home.hf_cache();
    let seen = python(
        &py,
        READ_OFFLINE,
        &[
            ("HF_HUB_OFFLINE", "1"),
            ("HF_HUB_CACHE", cache.to_str().unwrap()),
            ("HF_HOME", home.path().join("py-home").to_str().unwrap()),
        ],
    );
    let expected: serde_json::Map<String, Value> = tiny_files()
        .into_iter()
        .map(|(path, bytes)| (path.to_string(), Value::from(sha256_hex(&bytes))))
        .collect();
    assert_eq!(seen["files"], Value::Object(expected), "{seen}");
    assert_eq!(
        seen["one"],
        sha256_hex(b"text,label\nhello,1\nworld,0\n").as_str()
    );
    assert_eq!(
        seen["warnings"],
        json!([]),
        "scan_cache_dir found corruption: {seen}"
    );
    let repos = seen["repos"].as_array().unwrap();
    assert_eq!(repos.len(), 1, "{seen}");
    assert_eq!(repos[0]["id"], "acme/tiny");
    assert_eq!(repos[0]["type"], "dataset");
    assert_eq!(repos[0]["files"], 3);
    assert_eq!(repos[0]["refs"], json!(["main"]));
}

const FETCH_ONLINE: &str = r#"
import json
from huggingface_hub import snapshot_download
root = snapshot_download("acme/tiny", repo_type="dataset")
print(json.dumps({"root": root}))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn hubdex_does_not_fetch_again_what_huggingface_hub_downloaded() {
    let Some(py) =
        python_with_huggingface_hub("hubdex_does_not_fetch_again_what_huggingface_hub_downloaded")
    else {
        return;
    };
    let repos = tiny_repo();
    let hub = FakeHubProcess::start_with_repos(repos.path(), &[]);
    let home = quiet_home(&hub);
    let cache = home.hf_cache();
    python(
        &py,
        FETCH_ONLINE,
        &[
            ("HF_ENDPOINT", hub.url.as_str()),
            ("HF_HUB_CACHE", cache.to_str().unwrap()),
            ("HF_HOME", home.path().join("py-home").to_str().unwrap()),
        ],
    );
    let fetched_by_python = requests(&hub)
        .await
        .iter()
        .filter(|r| is_file_get(r))
        .count();
    assert!(fetched_by_python >= 3, "python fetched the three files");

    let done = home.run(&["download", "acme/tiny", "--wait", "--json"]);
    assert!(
        done.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&done.stderr),
        home.daemon_log()
    );
    let job: Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(job["progress"]["files_cached"], 3, "{job}");
    assert_eq!(job["progress"]["bytes_fetched"], 0, "{job}");
    let after = requests(&hub)
        .await
        .iter()
        .filter(|r| is_file_get(r))
        .count();
    assert_eq!(after, fetched_by_python, "hubdex sent no file GET");
}
