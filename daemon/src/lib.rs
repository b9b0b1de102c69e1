//! The hubdex daemon: keeps the catalog in sync with the Hub and serves it.
//!
//! [`run`] opens the catalog (importing the embedded snapshot into an empty one), starts the
//! syncer, and serves the same handlers over tarpc on a Unix socket and over HTTP, until
//! SIGINT or SIGTERM. The `hubdex daemon` command calls it; logging is the caller's to set up.
//!
//! [`Service`] is the same daemon without sockets, signals or lock file, for integration
//! tests and benchmarks that drive the syncer and the HTTP handlers in process.

mod config;
mod events;
mod follows;
mod http;
mod jobs;
mod metrics;
mod preview;
mod rows;
mod rpc;
mod service;
mod snapshot;
mod startup;
mod sync;
mod webhook;

use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hubdex_hub::{HubClient, HubConfig};
use hubdex_ipc::Paths;
use hubdex_store::{Catalog, CatalogOptions};
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use jobs::JobStoreError;
pub use preview::LocalStoreError;

/// How the daemon was asked to start.
#[derive(Debug, Clone, Default)]
pub struct DaemonOptions {
    /// The HTTP address (`--http`); `None` defers to `HUBDEX_HTTP`, then the config.
    pub http: Option<SocketAddr>,
    /// Rebuild the search index from the store before serving (`--reindex`).
    pub reindex: bool,
}

/// Why the daemon could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The state directories or the socket could not be set up.
    #[error(transparent)]
    Ipc(#[from] hubdex_ipc::IpcError),
    /// Another daemon holds the lock for this home.
    #[error(
        "another hubdex daemon (pid {pid}) already runs for this home ({lock}); stop it with `kill {pid}`, or set HUBDEX_HOME to run a separate one"
    )]
    AlreadyRunning {
        /// Its process id, as written in the lock file.
        pid: String,
        /// The lock file.
        lock: PathBuf,
    },
    /// The lock file could not be used.
    #[error("cannot use the lock file {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// `config.toml` is unreadable or invalid.
    #[error("invalid config {path}: {message}; fix or remove the file")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The HTTP address is not an address.
    #[error("`{0}` is not an address to listen on; give e.g. 127.0.0.1:8719, or `off`")]
    BadHttpAddress(String),
    /// The HTTP port could not be bound.
    #[error(
        "cannot listen for HTTP on {addr}: {source}; pick another address with --http, HUBDEX_HTTP or `http` in config.toml (or `off`)"
    )]
    HttpBind {
        /// The address.
        addr: SocketAddr,
        /// The bind error.
        source: std::io::Error,
    },
    /// The catalog could not be opened or written.
    #[error(transparent)]
    Store(#[from] hubdex_store::StoreError),
    /// The Hub client could not be built.
    #[error(transparent)]
    Hub(#[from] hubdex_hub::HubError),
    /// The job database could not be opened.
    #[error(transparent)]
    Jobs(#[from] JobStoreError),
    /// The preview or follow database could not be opened.
    #[error(transparent)]
    Local(#[from] LocalStoreError),
    /// The embedded snapshot could not be imported.
    #[error("cannot import the embedded catalog snapshot: {0}")]
    Snapshot(String),
    /// A server stopped with an I/O error.
    #[error("the {server} server stopped: {source}")]
    Serve {
        /// `RPC` or `HTTP`.
        server: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// A blocking task panicked or was cancelled.
    #[error("a background task failed: {0}")]
    Task(String),
}

/// Runs the daemon in the foreground until SIGINT or SIGTERM.
pub async fn run(options: DaemonOptions) -> Result<(), DaemonError> {
    let paths = Paths::from_env()?;
    paths.create_dirs()?;
    let _lock = lock_pid_file(&paths)?;
    let config = Config::load(&paths.config_file)?;
    let http_addr = config.http_addr(options.http, std::env::var("HUBDEX_HTTP").ok())?;

    let catalog_dir = paths.data_dir.join("catalog");
    let catalog_options = CatalogOptions {
        cache_capacity_bytes: config.cache_mib * 1024 * 1024,
        ..CatalogOptions::default()
    };
    let startup = startup::StartupReport::start(paths.startup_progress.clone()).await;
    let mut progress = startup.reporter();
    let catalog = tokio::task::spawn_blocking(move || {
        Catalog::open_reporting(&catalog_dir, catalog_options, &mut progress)
    })
    .await
    .map_err(|e| DaemonError::Task(e.to_string()))??;
    let catalog = Arc::new(catalog);
    if options.reindex {
        let c = catalog.clone();
        let mut progress = startup.reporter();
        let n = tokio::task::spawn_blocking(move || c.reindex_reporting(&mut progress))
            .await
            .map_err(|e| DaemonError::Task(e.to_string()))??;
        tracing::info!(records = n, "rebuilt the search index");
    }
    if config.import_snapshot && catalog.is_empty() {
        startup.step(hubdex_ipc::StartupStep::ImportingSnapshot);
        snapshot::import_if_empty(&catalog).await?;
    }

    let hub = HubClient::new(HubConfig {
        retry: config.hub_retry_policy(),
        ..HubConfig::from_env()
    })?;
    let jobs = jobs::JobsSetup::open(&paths.data_dir, &config.jobs).await?;
    let local = preview::LocalSetup::open(&paths.data_dir).await?;
    let daemon = Arc::new(service::Daemon::new(
        catalog.clone(),
        hub,
        config,
        jobs,
        local,
    ));
    webhook::spawn_worker(&daemon);
    let shutdown = CancellationToken::new();

    let http_listener = match http_addr {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| DaemonError::HttpBind { addr, source })?;
            let bound = listener
                .local_addr()
                .map_err(|source| DaemonError::HttpBind { addr, source })?;
            let _ = daemon.http_addr.set(bound.to_string());
            tracing::info!("HTTP on http://{bound}");
            Some(listener)
        }
        None => None,
    };
    let rpc_listener = hubdex_ipc::bind(&paths.socket).await?;
    startup.finish().await;
    tracing::info!(socket = %paths.socket.display(), records = catalog.len(), "daemon ready");

    let mut tasks = tokio::task::JoinSet::new();
    {
        let (daemon, shutdown) = (daemon.clone(), shutdown.clone());
        tasks.spawn(async move {
            sync::run(daemon, shutdown).await;
            Ok(())
        });
    }
    {
        let (daemon, shutdown) = (daemon.clone(), shutdown.clone());
        tasks.spawn(async move {
            daemon.jobs.run(shutdown).await;
            Ok(())
        });
    }
    {
        let daemon = daemon.clone();
        tasks.spawn(async move {
            rpc::serve(rpc_listener, daemon)
                .await
                .map_err(|source| DaemonError::Serve {
                    server: "RPC",
                    source,
                })
        });
    }
    if let Some(listener) = http_listener {
        let (daemon, shutdown) = (daemon.clone(), shutdown.clone());
        tasks.spawn(async move {
            http::serve(listener, daemon, shutdown)
                .await
                .map_err(|source| DaemonError::Serve {
                    server: "HTTP",
                    source,
                })
        });
    }

    let outcome = tokio::select! {
        signal = shutdown_signal() => {
            tracing::info!("{signal}: shutting down");
            Ok(())
        }
        Some(ended) = tasks.join_next() => match ended {
            Ok(result) => result,
            Err(e) => Err(DaemonError::Task(e.to_string())),
        },
    };
    shutdown.cancel();
    tasks.abort_all();
    let _ = std::fs::remove_file(&paths.socket);
    let c = catalog.clone();
    tokio::task::spawn_blocking(move || c.flush())
        .await
        .map_err(|e| DaemonError::Task(e.to_string()))??;
    outcome
}

/// The daemon's services without its sockets, signals or lock file: the syncer, the status
/// and the HTTP handlers (webhook included) over a catalog and a Hub client the caller
/// provides. For integration tests and benchmarks; users run [`run`].
pub struct Service {
    daemon: Arc<service::Daemon>,
}

impl Service {
    /// Sets the daemon up over `catalog` and `hub` with `config`; job state goes under
    /// `data_dir`. Starts the webhook worker, so it must be called within a tokio runtime.
    /// Nothing syncs until [`Service::sync_once`].
    pub async fn open(
        data_dir: &Path,
        catalog: Arc<Catalog>,
        hub: HubClient,
        config: Config,
    ) -> Result<Service, DaemonError> {
        let jobs = jobs::JobsSetup::open(data_dir, &config.jobs).await?;
        let local = preview::LocalSetup::open(data_dir).await?;
        let daemon = Arc::new(service::Daemon::new(catalog, hub, config, jobs, local));
        webhook::spawn_worker(&daemon);
        sync::refresh_catalog_sync(&daemon).await;
        Ok(Service { daemon })
    }

    /// Runs one sync as the daemon's schedule would (continuing a saved walk first) and
    /// returns its report; a failure is in the report's `error`.
    pub async fn sync_once(&self) -> hubdex_ipc::SyncReport {
        sync::sync_once(&self.daemon).await
    }

    /// Makes the next [`Service::sync_once`] that starts a new walk a sweep.
    pub fn request_sweep(&self) {
        self.daemon
            .sync_runtime
            .sweep_requested
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The status `GET /v1/status` answers.
    pub fn status(&self) -> hubdex_ipc::Status {
        self.daemon.status()
    }

    /// Events since `since`, as `GET /v1/events` answers them (without waiting).
    pub async fn events(&self, since: u64) -> hubdex_ipc::EventBatch {
        self.daemon.events(since, std::time::Duration::ZERO).await
    }

    /// The HTTP routes the daemon serves, `POST /webhook` and `/metrics` included.
    pub fn router(&self) -> axum::Router {
        http::router(self.daemon.clone())
    }
}

/// Takes the single-instance lock for this home and writes our pid into it. The lock is
/// released by the OS when the process dies, so a crash never leaves a false "running".
fn lock_pid_file(paths: &Paths) -> Result<File, DaemonError> {
    let path = paths.pid_file.clone();
    let lock_err = |source| DaemonError::Lock {
        path: path.clone(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(lock_err)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            let pid = pid
                .split_whitespace()
                .next()
                .unwrap_or("unknown")
                .to_string();
            return Err(DaemonError::AlreadyRunning { pid, lock: path });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(lock_err(e)),
    }
    file.set_len(0).map_err(lock_err)?;
    writeln!(file, "{} {}", std::process::id(), env!("CARGO_PKG_VERSION")).map_err(lock_err)?;
    Ok(file)
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    match (term, interrupt) {
        (Ok(mut term), Ok(mut interrupt)) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        },
        _ => {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
