//! The RPC door: the tarpc service over the Unix socket, delegating to [`Daemon`].

use std::sync::Arc;
use std::time::Duration;

use futures::{Future, StreamExt};
use hubdex_core::Dataset;
use hubdex_ipc::{
    ApiError, Card, CommitList, Downloaded, EventBatch, FileList, Follow, Hello, Hubdex, Job,
    JobId, JobParams, PROTOCOL, Rows, RowsRequest, SearchRequest, SearchResponse, Status,
};
use tarpc::context::Context;
use tarpc::server::{BaseChannel, Channel};
use tokio::net::UnixListener;

use crate::service::Daemon;

/// The tarpc server: a cheap handle on the shared daemon.
#[derive(Clone)]
struct RpcServer(Arc<Daemon>);

impl Hubdex for RpcServer {
    async fn hello(self, _: Context) -> Hello {
        Hello {
            version: env!("CARGO_PKG_VERSION").to_string(),
            protocol: PROTOCOL,
            pid: std::process::id(),
        }
    }

    async fn search(self, _: Context, request: SearchRequest) -> Result<SearchResponse, ApiError> {
        self.0.search(request).await
    }

    async fn dataset(self, _: Context, id: String) -> Result<Dataset, ApiError> {
        self.0.dataset(&id).await
    }

    async fn status(self, _: Context) -> Status {
        self.0.status()
    }

    async fn sync_now(self, _: Context) -> bool {
        self.0.sync_now()
    }

    async fn events(self, _: Context, since: u64, wait_ms: u64) -> EventBatch {
        self.0.events(since, Duration::from_millis(wait_ms)).await
    }

    async fn submit_job(self, _: Context, params: JobParams) -> Result<Job, ApiError> {
        self.0.submit_job(params).await
    }

    async fn jobs(self, _: Context) -> Vec<Job> {
        self.0.jobs()
    }

    async fn job(self, _: Context, id: JobId) -> Result<Job, ApiError> {
        self.0.job(id)
    }

    async fn cancel_job(self, _: Context, id: JobId) -> Result<Job, ApiError> {
        self.0.cancel_job(id).await
    }

    async fn job_schema(self, _: Context) -> serde_json::Value {
        hubdex_ipc::job_params_schema()
    }

    async fn downloaded(self, _: Context, id: String) -> Result<Option<Downloaded>, ApiError> {
        self.0.downloaded(&id).await
    }

    async fn downloads(self, _: Context) -> Result<Vec<Downloaded>, ApiError> {
        self.0.downloads().await
    }

    async fn card(self, _: Context, id: String) -> Result<Card, ApiError> {
        self.0.card(&id).await
    }

    async fn files(
        self,
        _: Context,
        id: String,
        revision: Option<String>,
    ) -> Result<FileList, ApiError> {
        self.0.files(&id, revision).await
    }

    async fn commits(
        self,
        _: Context,
        id: String,
        revision: Option<String>,
    ) -> Result<CommitList, ApiError> {
        self.0.commits(&id, revision).await
    }

    async fn rows(self, _: Context, request: RowsRequest) -> Result<Rows, ApiError> {
        self.0.rows(request).await
    }

    async fn follow(self, _: Context, id: String) -> Result<Follow, ApiError> {
        self.0.follow(&id).await
    }

    async fn unfollow(self, _: Context, id: String) -> Result<bool, ApiError> {
        self.0.unfollow(&id).await
    }

    async fn follows(self, _: Context) -> Result<Vec<Follow>, ApiError> {
        self.0.follows().await
    }

    async fn mark_seen(self, _: Context, id: String) -> Result<Follow, ApiError> {
        self.0.mark_seen(&id).await
    }
}

/// Accepts connections on `listener` and serves each on its own task, until accept fails.
pub async fn serve(listener: UnixListener, daemon: Arc<Daemon>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let server = RpcServer(daemon.clone());
        let channel = BaseChannel::with_defaults(hubdex_ipc::server_transport(stream));
        tokio::spawn(channel.execute(server.serve()).for_each(spawn));
    }
}

async fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
    tokio::spawn(fut);
}
