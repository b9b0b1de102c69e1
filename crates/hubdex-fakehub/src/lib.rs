//! A faithful fake of the Hugging Face Hub's dataset catalog API, for hubdex's tests,
//! benchmarks and demos (the real Hub is never reachable from them).
//!
//! It serves `GET /api/datasets` (search, author, filter, gated, sort, limit, full, expand and
//! keyset pagination through an absolute `Link` header) and `GET /api/datasets/{id}` (also at
//! `/revision/{rev}`) the way `shared/reference/hub-api.md` says the real Hub does, with the
//! Hub's error codes and rate-limit headers. Dataset repos with files (added in process, read
//! from a `--repos` folder, or generated for benchmarks) get the file side: tree,
//! paths-info, commits, refs and resolve with ranges, ETags and LFS redirects to the fake's
//! own CDN route. Tests can inject faults (also into file bodies) and read the request log.
//! The catalog can change while serving ([`RunningFakeHub::mutate`], or on a schedule), each
//! change sent as a Hub webhook to registered targets, and rate limits can be enforced with
//! 429s ([`RateLimits`]). The crate's README lists every way it differs from the real Hub.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hubdex_fakehub::FakeHubError> {
//! use hubdex_fakehub::{FakeHub, FakeHubOptions};
//!
//! let hub = FakeHub::synthetic(5_000, 42, FakeHubOptions::default())
//!     .spawn("127.0.0.1:0".parse().expect("a socket address"))
//!     .await?;
//! let first_page = format!("{}/api/datasets?sort=downloads", hub.url());
//! # let _ = first_page;
//! # Ok(()) }
//! ```

mod body;
mod catalog;
mod cursor;
mod files;
mod load;
mod mutate;
mod query;
mod ratelimit;
mod render;
mod repos;
mod server;
mod synthetic;
mod viewer;
mod webhooks;
mod words;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hubdex_core::Dataset;
use serde::{Deserialize, Serialize};

use crate::catalog::{Builder, Catalog};

pub use crate::body::FileFault;
pub use crate::mutate::{Moved, Mutation, MutationReport};
pub use crate::ratelimit::RateLimits;
pub use crate::repos::{BENCH_LARGE_FILE_REPO, BENCH_MANY_FILES_REPO, RepoAccess, RepoCommit};
pub use crate::server::RunningFakeHub;
pub use crate::webhooks::{WebhookDelivery, WebhookTarget};

/// A catalog and the options to serve it with, not yet listening.
///
/// Cloning is cheap (the records are shared), so one loaded catalog can back many servers.
#[derive(Clone)]
pub struct FakeHub {
    catalog: Arc<Catalog>,
    options: FakeHubOptions,
    dynamics: server::Dynamics,
    /// Repos with files (none unless added).
    repos: repos::Repos,
}

/// How a [`FakeHub`] serves its catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeHubOptions {
    /// Most items on one listing page; `limit` is capped to it (0 counts as 1). The Hub's is
    /// undocumented; 1,000 is the common assumption.
    pub page_size: usize,
    /// Log every request through `tracing` at info level.
    pub log_requests: bool,
    /// Most entries on one page of a tree listing (at most 100 with `expand=true`) and of a
    /// commit listing. The Hub's is 1,000; tests make it small to exercise pagination.
    pub tree_page_size: usize,
    /// Answer resolves of LFS files with a 302 to the fake's CDN route, as the Hub does;
    /// when false they are served directly (with the same `X-Linked-*` headers).
    pub lfs_redirects: bool,
}

impl Default for FakeHubOptions {
    fn default() -> Self {
        Self {
            page_size: 1000,
            log_requests: false,
            tree_page_size: 1000,
            lfs_redirects: true,
        }
    }
}

/// A failure the fake can answer with, to test clients against flaky Hub behaviour.
///
/// Injected with [`RunningFakeHub::inject_faults`] or `POST /_fakehub/faults` with this
/// struct as JSON; the next `count` requests under `/api/` get `status` and `body` instead of
/// their real answer. The body is sent as `text/html` when it starts with `<`, as JSON when it
/// parses as JSON or the status is a success (a garbled page), and as plain text otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// How many requests fail.
    pub count: usize,
    /// The HTTP status to answer with (outside 200–599 it becomes 500).
    pub status: u16,
    /// The body to answer with, e.g. `<html>Bad Gateway</html>` or `not json`.
    #[serde(default)]
    pub body: String,
}

/// One request the fake saw, for tests that check what a client sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// Path and query as sent, e.g. `/api/datasets?limit=10&cursor=…`.
    pub path: String,
    /// Whether an `Authorization` header was sent (its value is never kept).
    pub authorization: bool,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// The status answered, once the answer is ready.
    pub status: Option<u16>,
}

/// Why the fake could not load a catalog or start serving.
///
/// Each message names the cause and what to do, so it is complete on its own; the I/O error
/// is in the variant's `cause` field rather than in `source()`, so it is not printed twice.
#[derive(Debug, thiserror::Error)]
pub enum FakeHubError {
    /// The catalog file could not be opened.
    #[error(
        "cannot open the catalog {}: {cause}; check the path, or serve a generated catalog with --synthetic N",
        path.display()
    )]
    CatalogOpen {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        cause: std::io::Error,
    },
    /// The catalog file could not be read to its end.
    #[error(
        "cannot read the catalog {} (at line {line}): {cause}; the file is truncated or not zstd-compressed JSON lines: re-create it or use another file",
        path.display()
    )]
    CatalogRead {
        /// The file.
        path: PathBuf,
        /// The line being read when it failed.
        line: usize,
        /// What went wrong.
        cause: std::io::Error,
    },
    /// Not one line of the catalog file was a record.
    #[error(
        "no record in the catalog {} could be read ({skipped} lines skipped; {first_problem}); each line must be one Hub-format JSON object such as {{\"id\":\"acme/reviews\",\"downloads\":3}}",
        path.display()
    )]
    EmptyCatalog {
        /// The file.
        path: PathBuf,
        /// Lines that were not records.
        skipped: usize,
        /// The first bad line and what was wrong with it.
        first_problem: String,
    },
    /// The `--repos` directory (or a file in it) could not be read.
    #[error(
        "cannot read the repos folder {}: {cause}; it must hold one folder per repo, as DIR/namespace/name/…",
        path.display()
    )]
    ReposDir {
        /// The folder.
        path: PathBuf,
        /// What went wrong.
        cause: std::io::Error,
    },
    /// A repo with files could not be added or changed as asked.
    #[error("cannot change the repo `{id}`: {reason}")]
    InvalidRepo {
        /// The repo id given.
        id: String,
        /// What was wrong, and what to do instead.
        reason: String,
    },
    /// The address could not be bound.
    #[error(
        "cannot listen on {addr}: {cause}; choose another address, or port 0 for any free port"
    )]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        cause: std::io::Error,
    },
}

impl FakeHub {
    /// Serves these records. Ids that differ only in case are one repo on the Hub: the last
    /// record wins. Missing fields are filled in as the README describes.
    pub fn from_records(records: Vec<Dataset>, options: FakeHubOptions) -> FakeHub {
        let (records, duplicates) = catalog::dedupe(records);
        if duplicates > 0 {
            tracing::warn!(
                duplicates,
                "records with an id seen before replaced the earlier ones"
            );
        }
        let mut builder = Builder::with_capacity(records.len());
        for record in records {
            builder.push_dataset(record);
        }
        FakeHub::new(builder, options)
    }

    /// Serves the records of a catalog file: one Hub-format JSON object per line, zstd
    /// compressed (detected from its content) or plain. Lines that are not records are
    /// skipped with a warning; a file with no record is an error.
    ///
    /// This reads the whole file synchronously: from async code, call it in
    /// `tokio::task::spawn_blocking`.
    pub fn from_catalog_file(
        path: &Path,
        options: FakeHubOptions,
    ) -> Result<FakeHub, FakeHubError> {
        let loaded = load::read_catalog(path)?;
        if loaded.skipped > 0 {
            tracing::warn!(
                path = %path.display(),
                skipped = loaded.skipped,
                first = loaded.first_problem.as_deref().unwrap_or(""),
                "skipped catalog lines that are not Hub-format records"
            );
        }
        Ok(FakeHub::from_records(loaded.records, options))
    }

    /// Serves `count` generated records; the same `count` and `seed` always give the same
    /// catalog, and record `i` does not depend on `count`. See [`synthetic_records`].
    pub fn synthetic(count: usize, seed: u64, options: FakeHubOptions) -> FakeHub {
        let mut hub = FakeHub::new(synthetic::generate(count, seed), options);
        hub.dynamics.seed = seed;
        hub
    }

    fn new(builder: Builder, options: FakeHubOptions) -> FakeHub {
        FakeHub {
            catalog: Arc::new(builder.finish()),
            options,
            dynamics: server::Dynamics::default(),
            repos: repos::Repos::default(),
        }
    }

    /// Limits request rates this way (by default the Hub's quotas are reported, not
    /// enforced); change it while serving with [`RunningFakeHub::set_rate_limits`].
    pub fn with_rate_limits(mut self, limits: RateLimits) -> FakeHub {
        self.dynamics.rate_limits = limits;
        self
    }

    /// Waits this long before answering each `/api/` request, like a distant Hub.
    pub fn with_latency(mut self, latency: std::time::Duration) -> FakeHub {
        self.dynamics.latency = latency;
        self
    }

    /// Applies `batch` to the catalog every `every` while serving (the first one `every`
    /// after start), sending webhooks to registered targets. Batches are deterministic given
    /// the synthetic seed (0 for catalogs read from records or files).
    pub fn with_mutations_every(mut self, every: std::time::Duration, batch: Mutation) -> FakeHub {
        if !every.is_zero() && !batch.is_empty() {
            self.dynamics.schedule = Some((every, batch));
        }
        self
    }

    /// How many records it serves.
    pub fn len(&self) -> usize {
        self.catalog.len()
    }

    /// True when it serves no record.
    pub fn is_empty(&self) -> bool {
        self.catalog.len() == 0
    }

    /// Starts serving on `addr` (`127.0.0.1:0` picks a free port) on the current tokio
    /// runtime, and returns once it is listening.
    pub async fn spawn(self, addr: SocketAddr) -> Result<RunningFakeHub, FakeHubError> {
        let mut repos = self.repos;
        let catalog = &self.catalog;
        repos.default_access(|id| {
            let record = catalog.record(catalog.find(id)?);
            Some(RepoAccess {
                gated: record.gated,
                private: record.private,
                disabled: record.disabled,
                approved_tokens: Vec::new(),
            })
        });
        server::spawn(self.catalog, self.options, self.dynamics, repos, addr).await
    }
}

impl fmt::Debug for FakeHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeHub")
            .field("records", &self.catalog.len())
            .field("options", &self.options)
            .field("dynamics", &self.dynamics)
            .finish()
    }
}

/// The synthetic catalog [`FakeHub::synthetic`] serves, as Hub-format records with every
/// field filled in: deterministic for a given `count` and `seed`, and record `i` is the same
/// whatever `count` is. `org/name` ids from a few thousand organisations and a long tail of
/// users, long-tailed downloads with correlated likes, tags with the Hub's prefixes,
/// descriptions made of real words (about 30 % none), creation dates from 2020 to mid-2026.
pub fn synthetic_records(count: usize, seed: u64) -> Vec<Dataset> {
    synthetic::generate(count, seed).into_datasets()
}
