//! Cards, files, commits, follows and downloads against an in-process fake Hub, through the
//! daemon's handlers and its HTTP routes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hubdex_core::{Dataset, DatasetId, GateMode, Gated};
use hubdex_fakehub::{FakeHub, FakeHubOptions, Mutation, RepoAccess, RunningFakeHub};
use hubdex_hub::{HubClient, HubConfig, RetryPolicy};
use hubdex_ipc::{ChangeKind, DownloadParams, ErrorKind, Job, JobParams, JobState, SearchRequest};
use hubdex_store::{Catalog, CatalogOptions};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::LocalSetup;
use crate::config::Config;
use crate::jobs::{JobStore, JobsSetup};
use crate::service::Daemon;

const PROMPTS: &str = "fka/awesome-chatgpt-prompts";
const README: &[u8] =
    include_bytes!("../../tests/fixtures/repos/fka/awesome-chatgpt-prompts/README.md");
const CSV: &[u8] =
    include_bytes!("../../tests/fixtures/repos/fka/awesome-chatgpt-prompts/prompts.csv");
const BARE: &str = "acme/no-readme";
const LOCKED: &str = "acme/locked";

fn record(id: &str) -> Dataset {
    let mut d = Dataset::new(DatasetId::new(id).unwrap());
    d.downloads = 1000;
    d.likes = 7;
    d.tags = vec!["license:cc0-1.0".to_string()];
    d
}

/// A fake Hub listing the three datasets, with files for each.
async fn fake() -> RunningFakeHub {
    let records = vec![record(PROMPTS), record(BARE), record(LOCKED)];
    let mut hub = FakeHub::from_records(records, FakeHubOptions::default());
    hub.add_repo(
        PROMPTS,
        vec![
            ("README.md".into(), README.to_vec()),
            ("prompts.csv".into(), CSV.to_vec()),
        ],
    )
    .unwrap();
    hub.add_repo(BARE, vec![("data.csv".into(), b"a,b\n1,2\n".to_vec())])
        .unwrap();
    hub.add_repo(LOCKED, vec![("README.md".into(), b"# locked\n".to_vec())])
        .unwrap();
    hub.set_repo_access(
        LOCKED,
        RepoAccess {
            gated: Gated::Mode(GateMode::Manual),
            ..RepoAccess::default()
        },
    )
    .unwrap();
    hub.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// A daemon over `dir`, talking to the Hub at `endpoint`, with its job scheduler running.
struct Harness {
    daemon: Arc<Daemon>,
    shutdown: CancellationToken,
    scheduler: JoinHandle<()>,
    cache: PathBuf,
    dir: TempDir,
}

/// Opens what a just-stopped daemon may take a moment to release.
fn retry_open<T, E: std::fmt::Debug>(mut open: impl FnMut() -> Result<T, E>) -> T {
    for _ in 0..100 {
        if let Ok(value) = open() {
            return value;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    open().unwrap()
}

impl Harness {
    async fn start(endpoint: &str) -> Harness {
        Harness::start_in(endpoint, TempDir::new().unwrap()).await
    }

    async fn start_in(endpoint: &str, dir: TempDir) -> Harness {
        let data = dir.path().join("data");
        let cache = dir.path().join("hf/hub");
        let hub = HubClient::new(HubConfig {
            endpoint: endpoint.to_string(),
            token: None,
            retry: RetryPolicy {
                max_retries: 0,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
            },
            timeout: Duration::from_secs(5),
        })
        .unwrap();
        let options = CatalogOptions {
            cache_capacity_bytes: 4 * 1024 * 1024,
            writer_memory_bytes: 20_000_000,
        };
        let catalog_dir = data.join("catalog");
        let catalog = retry_open(|| Catalog::open(&catalog_dir, options));
        let store = retry_open(|| JobStore::open(&data.join("jobs")));
        let jobs = JobsSetup {
            store,
            cache_root: Some(cache.clone()),
            hub: hub.clone(),
        };
        let mut local = None;
        for _ in 0..100 {
            match LocalSetup::open(&data).await {
                Ok(opened) => {
                    local = Some(opened);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        let mut local = local.unwrap();
        // Every copy counts as old: each request asks the Hub again.
        local.previews.max_age = Duration::ZERO;
        let config = Config {
            page_size: 50,
            ..Config::default()
        };
        let daemon = Arc::new(Daemon::new(Arc::new(catalog), hub, config, jobs, local));
        let shutdown = CancellationToken::new();
        let scheduler = {
            let (jobs, shutdown) = (daemon.jobs.clone(), shutdown.clone());
            tokio::spawn(async move { jobs.run(shutdown).await })
        };
        Harness {
            daemon,
            shutdown,
            scheduler,
            cache,
            dir,
        }
    }

    /// Stops the daemon as an exit would and hands back its folders.
    async fn stop(self) -> TempDir {
        self.shutdown.cancel();
        self.scheduler.await.unwrap();
        let Harness { daemon, dir, .. } = self;
        for _ in 0..200 {
            if Arc::strong_count(&daemon) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(daemon);
        dir
    }

    async fn sync(&self) {
        let report = crate::sync::sync_once(&self.daemon).await;
        assert!(report.error.is_none(), "{report:?}");
    }

    /// The ids a search matches, best first.
    async fn search(&self, query: &str) -> Vec<String> {
        let response = self
            .daemon
            .search(SearchRequest {
                query: query.to_string(),
                sort: None,
                limit: 100,
                offset: 0,
                facets: false,
            })
            .await
            .unwrap();
        let mut ids: Vec<String> = response
            .hits
            .into_iter()
            .map(|d| d.id.to_string())
            .collect();
        ids.sort();
        ids
    }

    /// Searches until the answer is `expected` (marks follow job events within moments).
    async fn search_until(&self, query: &str, expected: &[&str]) {
        let mut found = Vec::new();
        for _ in 0..200 {
            found = self.search(query).await;
            if found == expected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("`{query}` found {found:?}, not {expected:?}");
    }

    async fn run(&self, params: JobParams) -> Job {
        let job = self.daemon.submit_job(params).await.unwrap();
        for _ in 0..1000 {
            let now = self.daemon.job(job.id).unwrap();
            if now.state.is_finished() {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("job {} did not finish", job.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_comes_without_front_matter_and_is_served_stale_when_the_hub_is_gone() {
    let hub = fake().await;
    let h = Harness::start(&hub.url()).await;

    let card = h.daemon.card(PROMPTS).await.unwrap();
    assert!(
        card.markdown.starts_with("<p align=\"center\">"),
        "{card:?}"
    );
    assert!(card.markdown.contains("Awesome ChatGPT Prompts"));
    assert!(!card.markdown.contains("license: cc0-1.0"), "{card:?}");
    assert!(card.stale.is_none());
    let commit = card.commit.clone().unwrap();
    assert_eq!(commit.len(), 40);

    let bare = h.daemon.card(BARE).await.unwrap();
    assert_eq!(bare.markdown, "");
    assert!(bare.commit.is_some());

    let gated = h.daemon.card(LOCKED).await.unwrap_err();
    assert_eq!(gated.kind, ErrorKind::Forbidden, "{gated:?}");
    assert!(gated.message.contains("HF_TOKEN"), "{gated:?}");
    assert!(
        gated.message.contains(&format!("/datasets/{LOCKED}")),
        "{gated:?}"
    );

    let missing = h.daemon.card("acme/never-was").await.unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound, "{missing:?}");

    hub.shutdown().await;
    let stale = h.daemon.card(PROMPTS).await.unwrap();
    assert_eq!(stale.markdown, card.markdown);
    assert_eq!(stale.commit.as_deref(), Some(commit.as_str()));
    assert_eq!(stale.fetched_at, card.fetched_at);
    let why = stale.stale.unwrap();
    assert!(why.contains("cannot reach the Hub"), "{why}");
    // Nothing stored: the Hub being gone is the error.
    let never = h.daemon.files(PROMPTS, None).await.unwrap_err();
    assert_eq!(never.kind, ErrorKind::Unavailable, "{never:?}");
    assert!(never.message.contains("cannot reach the Hub"), "{never:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_marked_downloaded_once_a_job_put_them_in_the_cache() {
    let hub = fake().await;
    let h = Harness::start(&hub.url()).await;
    h.sync().await;
    assert!(h.search("downloaded:yes").await.is_empty());
    assert_eq!(h.search("downloaded:no").await.len(), 3);

    let before = h.daemon.files(PROMPTS, None).await.unwrap();
    let paths: Vec<&str> = before.files.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.contains(&"README.md") && paths.contains(&"prompts.csv"));
    assert!(paths.is_sorted(), "{paths:?}");
    assert_eq!(
        before.total_size,
        before.files.iter().map(|f| f.size).sum::<u64>()
    );
    assert!(before.files.iter().all(|f| !f.downloaded));
    assert_eq!(before.downloaded_size, 0);
    assert!(h.daemon.downloads().await.unwrap().is_empty());

    let job = h
        .run(JobParams::Download(DownloadParams {
            dataset: PROMPTS.parse().unwrap(),
            revision: "main".to_string(),
            include: vec!["*.csv".to_string()],
            exclude: Vec::new(),
            force: false,
        }))
        .await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    h.search_until("downloaded:yes", &[PROMPTS]).await;
    h.search_until("downloaded:no", &[LOCKED, BARE]).await;

    let after = h.daemon.files(PROMPTS, None).await.unwrap();
    assert_eq!(after.commit, before.commit);
    let csv = after
        .files
        .iter()
        .find(|f| f.path == "prompts.csv")
        .unwrap();
    assert!(csv.downloaded);
    assert_eq!(csv.size, CSV.len() as u64);
    let readme = after.files.iter().find(|f| f.path == "README.md").unwrap();
    assert!(!readme.downloaded);
    assert_eq!(after.downloaded_size, CSV.len() as u64);

    // The same revision asked by its commit gives the same marks.
    let pinned = h
        .daemon
        .files(PROMPTS, Some(after.commit.clone()))
        .await
        .unwrap();
    assert_eq!(pinned.downloaded_size, CSV.len() as u64);

    let downloads = h.daemon.downloads().await.unwrap();
    assert_eq!(downloads.len(), 1);
    assert_eq!(downloads[0].dataset.as_str(), PROMPTS);
    assert!(
        h.cache
            .join("datasets--fka--awesome-chatgpt-prompts")
            .is_dir()
    );

    let commits = h.daemon.commits(PROMPTS, None).await.unwrap();
    assert_eq!(commits.commits.len(), 1);
    assert_eq!(commits.commits[0].id, after.commit);
    assert_eq!(commits.commits[0].title, "Initial commit");

    let bad = h
        .daemon
        .files(PROMPTS, Some("../etc".to_string()))
        .await
        .unwrap_err();
    assert_eq!(bad.kind, ErrorKind::BadRequest, "{bad:?}");
    let missing = h
        .daemon
        .files(PROMPTS, Some("v9".to_string()))
        .await
        .unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound, "{missing:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_survive_a_restart_and_show_what_a_sync_changed() {
    let hub = fake().await;
    let h = Harness::start(&hub.url()).await;
    h.sync().await;

    let unknown = h.daemon.follow("acme/never-was").await.unwrap_err();
    assert_eq!(unknown.kind, ErrorKind::NotFound, "{unknown:?}");
    for id in [PROMPTS, BARE, LOCKED] {
        let follow = h.daemon.follow(id).await.unwrap();
        assert!(follow.changes.is_empty(), "{follow:?}");
        assert_eq!(follow.dataset, id);
    }
    let again = h.daemon.follow(PROMPTS).await.unwrap();
    assert_eq!(h.search("followed:yes").await, [LOCKED, BARE, PROMPTS]);
    assert_eq!(h.daemon.follows().await.unwrap().len(), 3);
    assert!(h.daemon.unfollow(LOCKED).await.unwrap());
    assert!(!h.daemon.unfollow(LOCKED).await.unwrap());

    assert_eq!(h.search("followed:yes").await, [BARE, PROMPTS]);
    assert_eq!(h.search("followed:no").await, [LOCKED]);

    let dir = h.stop().await;
    let h = Harness::start_in(&hub.url(), dir).await;
    assert_eq!(h.search("followed:yes").await, [BARE, PROMPTS]);
    let follows = h.daemon.follows().await.unwrap();
    let ids: Vec<&str> = follows.iter().map(|f| f.dataset.as_str()).collect();
    assert_eq!(ids, [BARE, PROMPTS]);
    let kept = follows.iter().find(|f| f.dataset == PROMPTS).unwrap();
    assert_eq!(kept.followed_at, again.followed_at);

    let report = hub
        .mutate(Mutation {
            updated: 3,
            ..Mutation::default()
        })
        .await;
    assert!(report.updated.iter().any(|id| id == PROMPTS), "{report:?}");
    h.sync().await;

    // Seeing one of them leaves the other as the only changed one, listed first.
    let seen_bare = h.daemon.mark_seen(BARE).await.unwrap();
    assert!(seen_bare.changes.is_empty(), "{seen_bare:?}");
    let follows = h.daemon.follows().await.unwrap();
    let ids: Vec<&str> = follows.iter().map(|f| f.dataset.as_str()).collect();
    assert_eq!(ids, [PROMPTS, BARE]);
    assert!(follows[1].changes.is_empty());
    let changed = &follows[0];
    let kinds: Vec<ChangeKind> = changed.changes.iter().map(|c| c.what).collect();
    assert!(kinds.contains(&ChangeKind::Commit), "{changed:?}");
    assert!(kinds.contains(&ChangeKind::Modified), "{changed:?}");
    let current = changed.current.as_ref().unwrap();
    assert_eq!(
        changed
            .changes
            .iter()
            .find(|c| c.what == ChangeKind::Commit)
            .unwrap()
            .after
            .as_deref(),
        current.sha.as_deref().map(|s| &s[..12])
    );

    let seen = h.daemon.mark_seen(&changed.dataset).await.unwrap();
    assert!(seen.changes.is_empty(), "{seen:?}");
    assert!(seen.seen_at > changed.seen_at);
    let not_followed = h.daemon.mark_seen(LOCKED).await.unwrap_err();
    assert_eq!(not_followed.kind, ErrorKind::NotFound);
    assert!(not_followed.message.contains("hubdex follow"));
    h.stop().await;
}

/// `GET`, `PUT`, `POST` or `DELETE` on the daemon's routes: status and JSON body.
async fn call(base: &str, method: reqwest::Method, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_routes_answer_like_the_rpc_ones() {
    use reqwest::Method;
    let hub = fake().await;
    let h = Harness::start(&hub.url()).await;
    h.sync().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = crate::http::router(h.daemon.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let (status, card) = call(&base, Method::GET, &format!("/v1/datasets/{PROMPTS}/card")).await;
    assert_eq!(status, 200, "{card}");
    assert!(
        card["markdown"]
            .as_str()
            .unwrap()
            .contains("Awesome ChatGPT")
    );
    let (status, record) = call(&base, Method::GET, &format!("/v1/datasets/{PROMPTS}")).await;
    assert_eq!((status, record["id"].as_str()), (200, Some(PROMPTS)));
    let (status, files) = call(
        &base,
        Method::GET,
        &format!("/v1/datasets/{PROMPTS}/files?revision=main"),
    )
    .await;
    assert_eq!(status, 200, "{files}");
    assert_eq!(files["revision"], "main");
    let (status, error) = call(
        &base,
        Method::GET,
        &format!("/v1/datasets/{PROMPTS}/files?rev=main"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(error["error"].as_str().unwrap().contains("revision"));
    let (status, commits) = call(
        &base,
        Method::GET,
        &format!("/v1/datasets/{PROMPTS}/commits"),
    )
    .await;
    assert_eq!(status, 200, "{commits}");
    assert_eq!(commits["commits"].as_array().unwrap().len(), 1);
    let (status, gated) = call(&base, Method::GET, &format!("/v1/datasets/{LOCKED}/card")).await;
    assert_eq!(status, 403, "{gated}");
    assert!(gated["error"].as_str().unwrap().contains("HF_TOKEN"));

    let (status, follow) = call(&base, Method::PUT, &format!("/v1/follows/{PROMPTS}")).await;
    assert_eq!(status, 200, "{follow}");
    assert_eq!(follow["dataset"], PROMPTS);
    let (status, _) = call(&base, Method::PUT, "/v1/follows/acme/never-was").await;
    assert_eq!(status, 404);
    let (status, list) = call(&base, Method::GET, "/v1/follows").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, seen) = call(&base, Method::POST, &format!("/v1/follows/{PROMPTS}/seen")).await;
    assert_eq!(status, 200, "{seen}");
    let (status, gone) = call(&base, Method::DELETE, &format!("/v1/follows/{PROMPTS}")).await;
    assert_eq!((status, gone["unfollowed"].as_bool()), (200, Some(true)));
    let (status, downloads) = call(&base, Method::GET, "/v1/downloads").await;
    assert_eq!((status, downloads.as_array().map(Vec::len)), (200, Some(0)));
    h.stop().await;
}

#[test]
fn front_matter_is_removed_and_only_when_it_is_closed() {
    assert_eq!(
        super::strip_front_matter("---\nlicense: mit\n---\n\n# Title\n"),
        "# Title\n"
    );
    assert_eq!(
        super::strip_front_matter("\u{feff}---\r\na: 1\r\n...\r\nbody"),
        "body"
    );
    assert_eq!(
        super::strip_front_matter("# No YAML\n---\n"),
        "# No YAML\n---\n"
    );
    assert_eq!(
        super::strip_front_matter("---\nnever closed"),
        "---\nnever closed"
    );
}

#[test]
fn a_card_over_the_limit_is_cut_on_a_character_and_says_so() {
    let mut bytes = vec![b'a'; super::CARD_LIMIT - 1];
    bytes.extend_from_slice("é".as_bytes());
    let cut = &bytes[..super::CARD_LIMIT];
    let markdown = super::card_markdown(cut, true, "https://hub.example/datasets/a/b");
    assert!(!markdown.contains('\u{fffd}'));
    assert!(markdown.contains("longer than 1 MiB"));
    assert!(markdown.contains("https://hub.example/datasets/a/b"));
}

#[test]
fn files_stay_unmarked_when_the_cache_lacks_the_commit() {
    let list = hubdex_ipc::FileList {
        dataset: "a/b".into(),
        revision: "main".into(),
        commit: "a".repeat(40),
        files: vec![hubdex_ipc::FileEntry {
            path: "x.csv".into(),
            size: 3,
            lfs: false,
            downloaded: true,
        }],
        total_size: 3,
        downloaded_size: 3,
        fetched_at: chrono::Utc::now(),
        stale: None,
    };
    let id = DatasetId::new("a/b").unwrap();
    let marked = super::mark_downloaded(list, &id, Some(Path::new("/nonexistent/hubdex")));
    assert!(!marked.files[0].downloaded);
    assert_eq!(marked.downloaded_size, 0);
}
