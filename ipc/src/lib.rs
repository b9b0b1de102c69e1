//! The contract between the hubdex daemon and its clients.
//!
//! A [`tarpc`] service over a Unix socket, JSON-framed (the records carry free-form card
//! data, which a self-describing format handles and bincode does not). The daemon serves
//! [`Hubdex`]; the TUI and the CLI call it through [`HubdexClient`] from [`connect`].

mod frames;
mod jobs;
mod paths;
mod preview;
mod startup;
mod wire;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hubdex_core::Dataset;
use tarpc::tokio_util::codec::length_delimited::LengthDelimitedCodec;
use tarpc::{ClientMessage, Response};
use tokio::net::{UnixListener, UnixStream};

pub use frames::JsonFrames;
pub use jobs::{
    DEFAULT_REVISION, DeleteParams, DownloadParams, Downloaded, DownloadedRevision, FileProgress,
    Job, JobEvent, JobId, JobKind, JobParams, JobProgress, JobRef, JobState, UpdateParams,
    job_params_schema,
};
pub use paths::Paths;
pub use preview::{
    Card, Change, ChangeKind, Column, CommitEntry, CommitList, FileEntry, FileList, Follow, Rows,
    RowsRequest, RowsSource, SplitRef,
};
pub use startup::{STARTUP_REWRITE_EVERY, StartupProgress, StartupStep};
pub use wire::{
    ApiError, CatalogSync, ErrorKind, Event, EventBatch, EventKind, Hello, SearchRequest,
    SearchResponse, Status, SyncKind, SyncProgress, SyncReport, SyncWait, WaitReason,
};

/// The protocol number; a client that sees another one restarts the daemon.
/// 4: search sorts with a direction and returns facets on request.
/// 5: previews (card, files, commits, rows), follows and the list of downloads.
/// 6: errors of kind `forbidden` (gated and disabled datasets).
pub const PROTOCOL: u32 = 6;

/// The largest frame either side accepts (a page of search hits is far smaller).
const MAX_FRAME: usize = 64 * 1024 * 1024;

/// The daemon's RPC service.
#[tarpc::service]
pub trait Hubdex {
    /// Version and protocol of the daemon, asked first by every client.
    async fn hello() -> Hello;
    /// Searches the local catalog.
    async fn search(request: SearchRequest) -> Result<SearchResponse, ApiError>;
    /// One dataset's full record, card data included.
    async fn dataset(id: String) -> Result<Dataset, ApiError>;
    /// The catalog and sync state.
    async fn status() -> Status;
    /// Starts a sync now; `false` when one is already running.
    async fn sync_now() -> bool;
    /// Events with `seq >= since`, waiting up to `wait_ms` for the first one (a long-poll).
    async fn events(since: u64, wait_ms: u64) -> EventBatch;
    /// Queues a download, update or delete job and returns it.
    async fn submit_job(params: JobParams) -> Result<Job, ApiError>;
    /// Every job the daemon remembers, oldest first.
    async fn jobs() -> Vec<Job>;
    /// One job.
    async fn job(id: JobId) -> Result<Job, ApiError>;
    /// Cancels a queued or running job and returns it as it is then.
    async fn cancel_job(id: JobId) -> Result<Job, ApiError>;
    /// The JSON schema of [`JobParams`].
    async fn job_schema() -> serde_json::Value;
    /// What of a dataset is in the Hugging Face cache; `None` when nothing is.
    async fn downloaded(id: String) -> Result<Option<Downloaded>, ApiError>;
    /// Every dataset with something in the Hugging Face cache.
    async fn downloads() -> Result<Vec<Downloaded>, ApiError>;
    /// A dataset's README, fetched from the Hub on demand and cached.
    async fn card(id: String) -> Result<Card, ApiError>;
    /// A revision's files (`None`: `main`), fetched on demand and cached, with what is
    /// downloaded marked.
    async fn files(id: String, revision: Option<String>) -> Result<FileList, ApiError>;
    /// A revision's commit history (`None`: `main`), fetched on demand and cached.
    async fn commits(id: String, revision: Option<String>) -> Result<CommitList, ApiError>;
    /// The first rows of a split, from the best source available, without downloading it.
    async fn rows(request: RowsRequest) -> Result<Rows, ApiError>;
    /// Follows a dataset (marking it seen now); following twice changes nothing.
    async fn follow(id: String) -> Result<Follow, ApiError>;
    /// Stops following a dataset; `false` when it was not followed.
    async fn unfollow(id: String) -> Result<bool, ApiError>;
    /// Every followed dataset with what changed since last seen, changed ones first.
    async fn follows() -> Result<Vec<Follow>, ApiError>;
    /// Marks a followed dataset seen now, so its changes start over.
    async fn mark_seen(id: String) -> Result<Follow, ApiError>;
}

/// Why talking to the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    /// No daemon listens on the socket.
    #[error("no hubdex daemon answers on {path}: {source}; start one with `hubdex daemon`")]
    NotRunning {
        /// The socket tried.
        path: PathBuf,
        /// The connect error.
        source: std::io::Error,
    },
    /// Another daemon already listens on the socket.
    #[error(
        "another hubdex daemon already listens on {0}; stop it first, or set HUBDEX_HOME to use another home"
    )]
    AlreadyRunning(PathBuf),
    /// The socket could not be created.
    #[error("cannot listen on {path}: {source}")]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// The bind error.
        source: std::io::Error,
    },
    /// A state directory could not be created.
    #[error("cannot use the directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// Neither `HUBDEX_HOME` nor a home directory is known.
    #[error("cannot find a home directory for hubdex's state; set HUBDEX_HOME to a folder")]
    NoHomeDirectory,
}

/// Connects to the daemon listening on `socket`.
pub async fn connect(socket: &Path) -> Result<HubdexClient, IpcError> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|source| IpcError::NotRunning {
            path: socket.to_path_buf(),
            source,
        })?;
    let framed = codec().new_framed(stream);
    let transport = tarpc::serde_transport::new(framed, JsonFrames::default());
    Ok(HubdexClient::new(tarpc::client::Config::default(), transport).spawn())
}

/// A request context whose deadline is `timeout` from now (tarpc's default is 10 s).
pub fn context_with_timeout(timeout: Duration) -> tarpc::context::Context {
    let mut ctx = tarpc::context::current();
    ctx.deadline = Instant::now() + timeout;
    ctx
}

/// Binds the daemon's socket with mode 0600.
///
/// A socket file left by a crashed daemon is removed, but only after a connect to it is
/// refused; if a daemon answers, this fails with [`IpcError::AlreadyRunning`].
pub async fn bind(socket: &Path) -> Result<UnixListener, IpcError> {
    use std::os::unix::fs::PermissionsExt;
    if socket.exists() {
        match UnixStream::connect(socket).await {
            Ok(_) => return Err(IpcError::AlreadyRunning(socket.to_path_buf())),
            Err(_) => {
                let _ = std::fs::remove_file(socket);
            }
        }
    }
    let bind_err = |source| IpcError::Bind {
        path: socket.to_path_buf(),
        source,
    };
    let listener = UnixListener::bind(socket).map_err(bind_err)?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600)).map_err(bind_err)?;
    Ok(listener)
}

/// The transport the daemon serves one accepted connection with.
pub type ServerTransport = tarpc::serde_transport::Transport<
    UnixStream,
    ClientMessage<HubdexRequest>,
    Response<HubdexResponse>,
    JsonFrames<ClientMessage<HubdexRequest>, Response<HubdexResponse>>,
>;

/// Wraps an accepted connection in the protocol's framing and encoding; the daemon then
/// runs `BaseChannel::with_defaults(transport).execute(server.serve())` on it.
pub fn server_transport(stream: UnixStream) -> ServerTransport {
    tarpc::serde_transport::new(codec().new_framed(stream), JsonFrames::default())
}

fn codec() -> tarpc::tokio_util::codec::length_delimited::Builder {
    let mut builder = LengthDelimitedCodec::builder();
    builder.max_frame_length(MAX_FRAME);
    builder
}
