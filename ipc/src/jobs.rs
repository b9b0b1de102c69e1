//! Download, update and delete jobs as they cross the socket and the HTTP port. Every type
//! here is part of the protocol: change one and bump [`crate::PROTOCOL`].

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use hubdex_core::DatasetId;
use serde::{Deserialize, Serialize};

/// A job's number, unique in one hubdex home and never reused.
pub type JobId = u64;

/// The revision a job works on when none is given.
pub const DEFAULT_REVISION: &str = "main";

fn default_revision() -> String {
    DEFAULT_REVISION.to_string()
}

/// What a job is asked to do: the body of `POST /v1/jobs`, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobParams {
    /// Fetch a revision's files into the Hugging Face cache.
    Download(DownloadParams),
    /// Move a downloaded branch to its newest commit, fetching only what changed.
    Update(UpdateParams),
    /// Remove a downloaded revision, or everything of a dataset, from the cache.
    Delete(DeleteParams),
}

/// Parameters of a download job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadParams {
    /// The dataset, `namespace/name`.
    pub dataset: DatasetId,
    /// A branch, tag or 40-hex commit.
    #[serde(default = "default_revision")]
    pub revision: String,
    /// Only files matching one of these globs (`*` crosses `/`, as in `huggingface_hub`).
    #[serde(default)]
    pub include: Vec<String>,
    /// No file matching one of these globs.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Fetch every file again even when the cache already has it.
    #[serde(default)]
    pub force: bool,
}

/// Parameters of an update job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateParams {
    /// The dataset, `namespace/name`.
    pub dataset: DatasetId,
    /// The branch or tag to move (a commit never changes, so it cannot be updated).
    #[serde(default = "default_revision")]
    pub revision: String,
}

/// Parameters of a delete job: exactly one of `revision` and `all`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteParams {
    /// The dataset, `namespace/name`.
    pub dataset: DatasetId,
    /// The branch, tag or commit whose snapshot is removed.
    #[serde(default)]
    pub revision: Option<String>,
    /// Remove the dataset's whole cache folder.
    #[serde(default)]
    pub all: bool,
}

impl JobParams {
    /// The kind of job these parameters ask for.
    pub fn kind(&self) -> JobKind {
        match self {
            JobParams::Download(_) => JobKind::Download,
            JobParams::Update(_) => JobKind::Update,
            JobParams::Delete(_) => JobKind::Delete,
        }
    }

    /// The dataset the job works on.
    pub fn dataset(&self) -> &DatasetId {
        match self {
            JobParams::Download(p) => &p.dataset,
            JobParams::Update(p) => &p.dataset,
            JobParams::Delete(p) => &p.dataset,
        }
    }
}

/// The kinds of job, for labels and listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// See [`DownloadParams`].
    Download,
    /// See [`UpdateParams`].
    Update,
    /// See [`DeleteParams`].
    Delete,
}

impl JobKind {
    /// The kind as written in JSON and in metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Download => "download",
            JobKind::Update => "update",
            JobKind::Delete => "delete",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a job is in its life: `queued → running → succeeded | failed | cancelled`; a
/// queued job may be cancelled before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a free slot in its queue.
    Queued,
    /// Running now.
    Running,
    /// Finished and did everything asked.
    Succeeded,
    /// Finished with an error; `error` says what went wrong and what to do.
    Failed,
    /// Stopped on request.
    Cancelled,
}

impl JobState {
    /// Every state, for listings and metrics.
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// True once the job will never change again.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }

    /// The state as written in JSON and in metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far a job has got.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobProgress {
    /// Files the job handles in all.
    pub files_total: u64,
    /// Files finished, the ones found in the cache included.
    pub files_done: u64,
    /// Of those, files the cache already had (nothing fetched).
    pub files_cached: u64,
    /// Bytes of all the job's files.
    pub bytes_total: u64,
    /// Bytes in place: cached, resumed from partial files, or fetched.
    pub bytes_done: u64,
    /// Bytes received from the network by this job.
    pub bytes_fetched: u64,
    /// Recent transfer rate in bytes per second.
    pub rate: f64,
    /// Seconds left at the recent rate, when there is one.
    pub eta_secs: Option<u64>,
    /// Retries made so far (network errors, stalls, failed verifications).
    pub retries: u64,
    /// Files being transferred now.
    pub active: Vec<FileProgress>,
}

/// One file in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileProgress {
    /// The file's path in the repository.
    pub path: String,
    /// Bytes in place.
    pub bytes_done: u64,
    /// The file's size.
    pub bytes_total: u64,
}

/// A job and everything known about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Its number.
    pub id: JobId,
    /// What it was asked to do.
    pub params: JobParams,
    /// Where it is in its life.
    pub state: JobState,
    /// How far it has got.
    pub progress: JobProgress,
    /// Why it failed (what went wrong and what to do), when it did.
    pub error: Option<String>,
    /// What it did, in a few words, once it finished.
    pub summary: Option<String>,
    /// The commit the revision resolved to, once known.
    pub commit: Option<String>,
    /// When it was submitted.
    pub created_at: DateTime<Utc>,
    /// When it last started running.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
}

/// What a job event says: sent when a job is queued, starts, progresses and finishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    /// The job.
    pub id: JobId,
    /// Its kind.
    pub kind: JobKind,
    /// Its dataset.
    pub dataset: DatasetId,
    /// Its state now.
    pub state: JobState,
    /// Its progress now.
    pub progress: JobProgress,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

impl From<&Job> for JobEvent {
    fn from(job: &Job) -> JobEvent {
        JobEvent {
            id: job.id,
            kind: job.params.kind(),
            dataset: job.params.dataset().clone(),
            state: job.state,
            progress: job.progress.clone(),
            error: job.error.clone(),
        }
    }
}

/// What of a dataset is in the Hugging Face cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Downloaded {
    /// The dataset.
    pub dataset: DatasetId,
    /// Its folder in the cache.
    pub path: String,
    /// Bytes of its blobs on disk (each stored content counted once, partial files included).
    pub size_on_disk: u64,
    /// The snapshots in the cache, newest first.
    pub revisions: Vec<DownloadedRevision>,
}

/// One snapshot of a dataset in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadedRevision {
    /// The commit.
    pub commit: String,
    /// The branches and tags that point at it (`main`, `refs/convert/parquet`).
    pub refs: Vec<String>,
    /// Files in the snapshot whose blob is present.
    pub files: u64,
    /// Bytes of those files.
    pub size: u64,
    /// When the snapshot folder was last changed.
    pub modified_at: Option<DateTime<Utc>>,
}

/// A job id given on a command line or in a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobRef(pub JobId);

impl FromStr for JobRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .trim_start_matches('#')
            .parse()
            .map(JobRef)
            .map_err(|_| format!("`{s}` is not a job number; `hubdex jobs` lists them"))
    }
}

/// The JSON schema of [`JobParams`], as served on `GET /v1/jobs/schema`, so scripts can
/// build and check job bodies without reading the source.
pub fn job_params_schema() -> serde_json::Value {
    let dataset = serde_json::json!({
        "type": "string",
        "description": "The dataset id, `namespace/name`, e.g. `openai/gsm8k`.",
        "pattern": "^[^/]+(/[^/]+)?$"
    });
    let revision = serde_json::json!({
        "type": "string",
        "description": "A branch, tag or 40-hex commit.",
        "default": DEFAULT_REVISION
    });
    let globs = |what: &str| {
        serde_json::json!({
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": what
        })
    };
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "hubdex job parameters",
        "description": "The body of POST /v1/jobs: a `kind` and that kind's parameters.",
        "oneOf": [
            {
                "title": "download",
                "description": "Fetch a revision's files into the Hugging Face cache (HF_HUB_CACHE), verified, resumable.",
                "type": "object",
                "properties": {
                    "kind": {"const": "download"},
                    "dataset": dataset,
                    "revision": revision,
                    "include": globs("Only files matching one of these globs (`*` also matches `/`; a pattern ending in `/` means everything below)."),
                    "exclude": globs("No file matching one of these globs."),
                    "force": {"type": "boolean", "default": false, "description": "Fetch every file again even when the cache has it."}
                },
                "required": ["kind", "dataset"],
                "additionalProperties": false
            },
            {
                "title": "update",
                "description": "Move a downloaded branch or tag to its newest commit, fetching only the files that changed.",
                "type": "object",
                "properties": {
                    "kind": {"const": "update"},
                    "dataset": dataset,
                    "revision": revision
                },
                "required": ["kind", "dataset"],
                "additionalProperties": false
            },
            {
                "title": "delete",
                "description": "Remove one downloaded revision (blobs other revisions use are kept), or with `all` the dataset's whole cache folder.",
                "type": "object",
                "properties": {
                    "kind": {"const": "delete"},
                    "dataset": dataset,
                    "revision": {"type": "string", "description": "The branch, tag or commit to remove."},
                    "all": {"type": "boolean", "default": false, "description": "Remove every revision."}
                },
                "required": ["kind", "dataset"],
                "additionalProperties": false
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_parse_with_defaults_and_refuse_unknown_fields() {
        let p: JobParams =
            serde_json::from_str(r#"{"kind":"download","dataset":"openai/gsm8k"}"#).unwrap();
        match &p {
            JobParams::Download(d) => {
                assert_eq!(d.revision, "main");
                assert!(d.include.is_empty() && d.exclude.is_empty() && !d.force);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.kind(), JobKind::Download);
        let err = serde_json::from_str::<JobParams>(
            r#"{"kind":"download","dataset":"a/b","revison":"v1"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("revison"), "{err}");
        let err =
            serde_json::from_str::<JobParams>(r#"{"kind":"fetch","dataset":"a/b"}"#).unwrap_err();
        assert!(err.to_string().contains("fetch"), "{err}");
        let err = serde_json::from_str::<JobParams>(r#"{"kind":"delete","dataset":"a/b/c"}"#)
            .unwrap_err();
        assert!(err.to_string().contains("namespace/name"), "{err}");
    }

    #[test]
    fn every_property_in_the_schema_is_accepted_and_no_other() {
        let schema = job_params_schema();
        for variant in schema["oneOf"].as_array().unwrap() {
            let kind = variant["properties"]["kind"]["const"].as_str().unwrap();
            let mut body = serde_json::Map::new();
            for (name, prop) in variant["properties"].as_object().unwrap() {
                let value = match (name.as_str(), prop["type"].as_str()) {
                    ("kind", _) => serde_json::json!(kind),
                    ("dataset", _) => serde_json::json!("acme/tiny"),
                    (_, Some("array")) => serde_json::json!(["*.csv"]),
                    (_, Some("boolean")) => serde_json::json!(true),
                    (_, Some("string")) => serde_json::json!("v1"),
                    other => panic!("unexpected property {other:?}"),
                };
                body.insert(name.clone(), value);
            }
            let parsed: JobParams = serde_json::from_value(body.clone().into())
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(parsed.kind().as_str(), kind);
            // Serialising gives back exactly the schema's properties.
            let back = serde_json::to_value(&parsed).unwrap();
            let mut keys: Vec<_> = back.as_object().unwrap().keys().cloned().collect();
            let mut expected: Vec<_> = body.keys().cloned().collect();
            keys.sort();
            expected.sort();
            assert_eq!(keys, expected, "{kind}");
        }
    }

    #[test]
    fn job_numbers_parse_from_the_command_line() {
        assert_eq!("12".parse::<JobRef>().unwrap(), JobRef(12));
        assert_eq!("#7".parse::<JobRef>().unwrap(), JobRef(7));
        assert!(
            "seven"
                .parse::<JobRef>()
                .unwrap_err()
                .contains("hubdex jobs")
        );
    }
}
