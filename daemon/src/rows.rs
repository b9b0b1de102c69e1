//! The first rows of a dataset (`rows` over RPC, `GET /v1/datasets/{id}/rows` over HTTP),
//! from the best source at hand, in this order:
//!
//! 1. its files in the Hugging Face cache, when a download put them there;
//! 2. the dataset viewer's `/first-rows` (endpoint from `viewer_endpoint` in config.toml or
//!    `HUBDEX_VIEWER_ENDPOINT`; the public viewer is only asked about the public Hub);
//! 3. a parquet file on the Hub (its `refs/convert/parquet` export, else one in `main`), read
//!    with range requests: the footer and the first row group, within a byte budget.
//!
//! A source that has nothing, or fails, hands over to the next; when all fail the error says
//! what each one said.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hubdex_core::DatasetId;
use hubdex_hub::{EntryKind, HubClient, HubConfig, HubError, RetryPolicy};
use hubdex_ipc::{ApiError, Column, Rows, RowsRequest, RowsSource, SplitRef};
use hubdex_preview::{
    DataFile, Format, HubFile, PreviewError, Table, Viewer, choose, data_files, detect, splits,
};

use crate::config::Config;
use crate::service::Daemon;

/// Rows returned when the request does not say.
pub const DEFAULT_ROWS: usize = 20;
/// The most rows one request may ask for (the viewer's `/first-rows` holds 100).
pub const MAX_ROWS: usize = 100;

/// The revision the Hub's parquet converter writes to.
const PARQUET_REVISION: &str = "refs/convert/parquet";
/// The public Hub, whose datasets the public viewer knows.
const PUBLIC_HUB: &str = "https://huggingface.co";
/// How long a preview waits on a silent viewer or Hub.
const PREVIEW_TIMEOUT: Duration = Duration::from_secs(8);
/// Files looked at in one cached snapshot at most.
const MAX_SNAPSHOT_FILES: usize = 100_000;

/// What the rows handler needs beyond the daemon's own parts: the viewer client and a Hub
/// client that retries little (a preview is interactive; the syncer's client waits long).
pub(crate) struct Previewer {
    viewer: Result<Viewer, String>,
    hub: Result<HubClient, String>,
}

impl Previewer {
    /// Sets the clients up for the Hub at `hub_endpoint`. Failures are kept and reported
    /// when a preview needs the client.
    pub(crate) fn new(config: &Config, hub_endpoint: &str) -> Previewer {
        let from_env = HubConfig::from_env();
        let token = from_env.token.clone();
        let configured = std::env::var("HUBDEX_VIEWER_ENDPOINT")
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| config.viewer_endpoint.clone());
        let viewer = match configured {
            Some(endpoint) => {
                Viewer::new(&endpoint, token.as_deref(), PREVIEW_TIMEOUT).map_err(|e| e.to_string())
            }
            None if hub_endpoint.trim_end_matches('/') == PUBLIC_HUB => Viewer::new(
                hubdex_preview::DEFAULT_ENDPOINT,
                token.as_deref(),
                PREVIEW_TIMEOUT,
            )
            .map_err(|e| e.to_string()),
            None => Err(format!(
                "not asked: the Hub is {hub_endpoint}, which the public viewer does not serve; set HUBDEX_VIEWER_ENDPOINT or `viewer_endpoint` in config.toml to use a viewer for it"
            )),
        };
        let hub = HubClient::new(HubConfig {
            endpoint: hub_endpoint.to_string(),
            retry: RetryPolicy {
                max_retries: 1,
                base_delay: Duration::from_millis(250),
                max_delay: Duration::from_secs(1),
            },
            timeout: PREVIEW_TIMEOUT,
            ..from_env
        })
        .map_err(|e| e.to_string());
        Previewer { viewer, hub }
    }
}

/// What one source said when it could not preview.
struct Tried {
    source: &'static str,
    error: PreviewError,
}

impl Daemon {
    /// The first rows of a split from the best source available, without downloading it.
    pub async fn rows(&self, request: RowsRequest) -> Result<Rows, ApiError> {
        let id =
            DatasetId::new(&request.dataset).map_err(|e| ApiError::bad_request(e.to_string()))?;
        if request.limit == 0 || request.limit > MAX_ROWS {
            return Err(ApiError::bad_request(format!(
                "limit {} is out of range; ask for 1 to {MAX_ROWS} rows",
                request.limit
            )));
        }
        let mut tried = Vec::new();
        match self.local_rows(&id, &request).await {
            Ok(Some(rows)) => return Ok(rows),
            Ok(None) => {}
            Err(error) => tried.push(Tried {
                source: "local cache",
                error,
            }),
        }
        match self.viewer_rows(&id, &request).await {
            Ok(rows) => return Ok(rows),
            Err(error) => tried.push(Tried {
                source: "dataset viewer",
                error,
            }),
        }
        match self.remote_rows(&id, &request).await {
            Ok(rows) => return Ok(rows),
            Err(error) => tried.push(Tried {
                source: "remote parquet",
                error,
            }),
        }
        Err(failure(&id, &tried))
    }

    /// Rows from the dataset's files in the cache; `None` when none of them holds the split.
    async fn local_rows(
        &self,
        id: &DatasetId,
        request: &RowsRequest,
    ) -> Result<Option<Rows>, PreviewError> {
        let Ok(Some(downloaded)) = self.jobs.downloaded(id).await else {
            return Ok(None);
        };
        let folder = PathBuf::from(&downloaded.path);
        let commits: Vec<String> = downloaded
            .revisions
            .iter()
            .map(|r| r.commit.clone())
            .collect();
        let (dataset, config, split, limit) = (
            id.to_string(),
            request.config.clone(),
            request.split.clone(),
            request.limit,
        );
        tokio::task::spawn_blocking(move || {
            for commit in commits {
                let snapshot = folder.join("snapshots").join(&commit);
                let files = data_files(snapshot_files(&snapshot).iter().map(String::as_str));
                let available = splits(&files);
                let Ok((config, split)) =
                    choose(&dataset, &available, config.as_deref(), split.as_deref())
                else {
                    continue;
                };
                let Some(file) = first_file(&files, &config, &split) else {
                    continue;
                };
                let path = snapshot.join(&file.path);
                let table = hubdex_preview::read_file(&path, limit)?;
                return Ok(Some(rows(
                    dataset,
                    config,
                    split,
                    RowsSource::LocalCache {
                        path: path.display().to_string(),
                    },
                    table,
                    &available,
                )));
            }
            Ok(None)
        })
        .await
        .unwrap_or_else(|e| {
            Err(PreviewError::Io {
                path: PathBuf::from(&downloaded.path),
                source: std::io::Error::other(e.to_string()),
            })
        })
    }

    /// Rows from the dataset viewer's `/first-rows`.
    async fn viewer_rows(
        &self,
        id: &DatasetId,
        request: &RowsRequest,
    ) -> Result<Rows, PreviewError> {
        let viewer =
            self.previewer
                .viewer
                .as_ref()
                .map_err(|reason| PreviewError::ViewerUnreachable {
                    endpoint: "(none)".to_string(),
                    reason: reason.clone(),
                })?;
        let dataset = id.to_string();
        let available = viewer.splits(&dataset).await?;
        let (config, split) = choose(
            &dataset,
            &available,
            request.config.as_deref(),
            request.split.as_deref(),
        )?;
        let table = viewer
            .first_rows(&dataset, &config, &split, request.limit)
            .await?;
        let source = RowsSource::DatasetViewer {
            endpoint: viewer.endpoint().to_string(),
        };
        Ok(rows(dataset, config, split, source, table, &available))
    }

    /// Rows from a parquet file on the Hub, read by ranges.
    async fn remote_rows(
        &self,
        id: &DatasetId,
        request: &RowsRequest,
    ) -> Result<Rows, PreviewError> {
        let hub = self.previewer.hub.as_ref().map_err(|reason| {
            PreviewError::Hub(HubError::InvalidUrl {
                url: self.hub.endpoint().to_string(),
                reason: reason.clone(),
            })
        })?;
        let (revision, entries) = match hub.list_files(id, PARQUET_REVISION, None, true).await {
            Ok(entries) => (PARQUET_REVISION, entries),
            Err(HubError::RevisionNotFound { .. }) => {
                ("main", hub.list_files(id, "main", None, true).await?)
            }
            Err(e) => return Err(e.into()),
        };
        let parquet: Vec<&str> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .map(|e| e.path.as_str())
            .filter(|p| matches!(detect(p), Some((Format::Parquet, _))))
            .collect();
        let files = data_files(parquet);
        if files.is_empty() {
            return Err(PreviewError::NoDataFiles {
                dataset: id.to_string(),
                place: "as parquet on the Hub".to_string(),
            });
        }
        let dataset = id.to_string();
        let available = splits(&files);
        let (config, split) = choose(
            &dataset,
            &available,
            request.config.as_deref(),
            request.split.as_deref(),
        )?;
        let Some(file) = first_file(&files, &config, &split) else {
            return Err(PreviewError::NoDataFiles {
                dataset,
                place: format!("for {config}/{split} on the Hub"),
            });
        };
        let remote = HubFile::open(hub, id, revision, &file.path).await?;
        let read = hubdex_preview::read_remote_parquet(
            &remote,
            request.limit,
            hubdex_preview::DEFAULT_BUDGET,
        )
        .await?;
        let source = RowsSource::RemoteParquet {
            path: file.path.clone(),
            bytes_read: read.bytes_read,
        };
        Ok(rows(dataset, config, split, source, read.table, &available))
    }
}

fn first_file<'a>(files: &'a [DataFile], config: &str, split: &str) -> Option<&'a DataFile> {
    files
        .iter()
        .find(|f| f.config == config && f.split == split)
}

fn rows(
    dataset: String,
    config: String,
    split: String,
    source: RowsSource,
    table: Table,
    available: &[(String, String)],
) -> Rows {
    Rows {
        dataset,
        config,
        split,
        source,
        columns: table
            .columns
            .into_iter()
            .map(|c| Column {
                name: c.name,
                dtype: c.dtype,
            })
            .collect(),
        rows: table.rows,
        truncated: table.truncated,
        splits: available
            .iter()
            .map(|(config, split)| SplitRef {
                config: config.clone(),
                split: split.clone(),
            })
            .collect(),
    }
}

/// The files of a cached snapshot whose content is present (symlinks to missing blobs are
/// skipped), relative to it, `/`-separated.
fn snapshot_files(snapshot: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![snapshot.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if out.len() >= MAX_SNAPSHOT_FILES {
                return out;
            }
            let path = entry.path();
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => pending.push(path),
                Ok(m) if m.is_file() => {
                    if let Ok(relative) = path.strip_prefix(snapshot) {
                        let parts: Vec<String> = relative
                            .components()
                            .map(|c| c.as_os_str().to_string_lossy().into_owned())
                            .collect();
                        out.push(parts.join("/"));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The answer when no source could preview: the kind from the most telling failure (the
/// Hub's, as it knows best whether the dataset exists) and what each source said.
fn failure(id: &DatasetId, tried: &[Tried]) -> ApiError {
    let said: Vec<String> = tried
        .iter()
        .map(|t| format!("{}: {}", t.source, t.error))
        .collect();
    let message = format!("cannot preview {id}; {}", said.join("; "));
    let last = tried.last().map(|t| &t.error);
    match last {
        Some(PreviewError::Hub(HubError::RepoNotFound { .. }))
        | Some(PreviewError::SplitNotFound { .. })
        | Some(PreviewError::NoDataFiles { .. }) => ApiError::not_found(message),
        Some(PreviewError::Malformed { .. }) => ApiError::internal(message),
        _ => ApiError::unavailable(message),
    }
}
