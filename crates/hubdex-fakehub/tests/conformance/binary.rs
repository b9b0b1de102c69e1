//! The `hubdex-fakehub` binary as test harnesses run it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{get, next_link};

const BINARY: &str = env!("CARGO_BIN_EXE_hubdex-fakehub");

/// Kills the child if a test fails before it exits.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_port(path: &Path, child: &mut Child) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text
                .parse()
                .unwrap_or_else(|_| panic!("port file holds a number: {text:?}"));
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the fake exited before listening"
        );
        assert!(Instant::now() < deadline, "no port file after 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn the_binary_writes_its_port_serves_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port_file = dir.path().join("port");
    let child = Command::new(BINARY)
        .args([
            "--synthetic",
            "120",
            "--seed",
            "3",
            "--page-size",
            "50",
            "--log",
        ])
        .arg("--port-file")
        .arg(&port_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let port = wait_for_port(&port_file, &mut running.0);
    let url = format!("http://127.0.0.1:{port}");

    let first = get(&format!("{url}/api/datasets")).await;
    assert_eq!(first.json.as_array().map(Vec::len), Some(50), "--page-size");
    assert!(
        next_link(&first.headers)
            .unwrap()
            .starts_with(&format!("{url}/api/datasets?cursor="))
    );
    let log = get(&format!("{url}/_fakehub/requests")).await;
    assert_eq!(log.json[0]["path"], "/api/datasets");

    let status = Command::new("kill")
        .args(["-TERM", &running.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = running.0.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "still running 20 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit}");
    assert!(!port_file.exists(), "the port file is removed on exit");
}

#[test]
fn the_binary_explains_a_missing_catalog() {
    let output = Command::new(BINARY)
        .args(["--catalog", "/nonexistent/catalog.jsonl.zst"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot open the catalog /nonexistent/catalog.jsonl.zst"),
        "{stderr}"
    );
    assert!(!stderr.contains("backtrace"), "{stderr}");
}

#[test]
fn the_binary_needs_a_catalog_or_a_synthetic_size() {
    let output = Command::new(BINARY).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--catalog") && stderr.contains("--synthetic"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_binary_serves_a_repos_folder_without_a_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let port_file = dir.path().join("port");
    let repos = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repos");
    let child = Command::new(BINARY)
        .arg("--repos")
        .arg(&repos)
        .args(["--tree-page-size", "2"])
        .arg("--port-file")
        .arg(&port_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let port = wait_for_port(&port_file, &mut running.0);
    let url = format!("http://127.0.0.1:{port}");

    let csv = get(&format!(
        "{url}/datasets/allisonhorst/palmerpenguins/resolve/main/penguins.csv"
    ))
    .await;
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv.text.as_bytes(),
        std::fs::read(repos.join("allisonhorst/palmerpenguins/penguins.csv")).unwrap()
    );
    let tree = get(&format!(
        "{url}/api/datasets/allisonhorst/palmerpenguins/tree/main"
    ))
    .await;
    assert_eq!(
        tree.json.as_array().map(Vec::len),
        Some(2),
        "--tree-page-size"
    );
    assert!(next_link(&tree.headers).is_some());
    let listing = get(&format!("{url}/api/datasets")).await;
    assert_eq!(listing.json, serde_json::json!([]), "an empty catalog");
}

#[tokio::test]
async fn the_binary_enforces_rate_limits_and_mutates_on_a_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let port_file = dir.path().join("port");
    let child = Command::new(BINARY)
        .args(["--synthetic", "30", "--seed", "4"])
        .args(["--rate-limit", "1", "--rate-limit-window", "3600"])
        .args(["--mutate-every", "0.05", "--mutate-batch", "created=2"])
        .arg("--port-file")
        .arg(&port_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let port = wait_for_port(&port_file, &mut running.0);
    let url = format!("http://127.0.0.1:{port}");

    assert_eq!(get(&format!("{url}/api/datasets")).await.status, 200);
    let refused = get(&format!("{url}/api/datasets")).await;
    assert_eq!(refused.status, 429);
    assert!(refused.headers.contains_key("retry-after"));

    let off = reqwest::Client::new()
        .post(format!("{url}/_fakehub/rate-limit"))
        .body(r#"{"mode":"off"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = get(&format!("{url}/api/datasets")).await;
        assert_eq!(page.status, 200);
        assert!(!page.headers.contains_key("ratelimit"), "`off` sends none");
        if page.json.as_array().unwrap().len() > 30 {
            break;
        }
        assert!(Instant::now() < deadline, "no scheduled change in 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn the_binary_refuses_a_bad_rate_limit_or_batch() {
    for args in [["--rate-limit", "none"], ["--mutate-batch", "renamed=1"]] {
        let output = Command::new(BINARY)
            .args(["--synthetic", "5", "--mutate-every", "1"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(args[1]), "{args:?}: {stderr}");
    }
}
