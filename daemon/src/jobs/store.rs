//! Job records in their own sled database (`<data dir>/jobs`), apart from the catalog, so
//! jobs survive restarts and the catalog can be rebuilt without losing them.
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `jobs` | job id, 8 bytes big-endian | the [`Job`] as JSON |
//! | `selections` | `dataset` `\0` `revision` | the include/exclude globs of its last download |
//! | `meta` | `last_id` | the last job number handed out, 8 bytes big-endian |

use std::path::{Path, PathBuf};

use hubdex_core::DatasetId;
use hubdex_ipc::{Job, JobId};
use serde::{Deserialize, Serialize};

/// Why the job database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JobStoreError {
    /// The database could not be opened.
    #[error(
        "cannot open the job database {path}: {source}; if another hubdex daemon uses this home, stop it; if the files are damaged, move the folder away (the jobs it holds are then forgotten)"
    )]
    Open {
        /// The database folder.
        path: PathBuf,
        /// What failed.
        source: sled::Error,
    },
    /// A record could not be written.
    #[error("cannot write to the job database: {0}; check the free disk space")]
    Write(#[from] sled::Error),
    /// A record could not be encoded.
    #[error("cannot encode a job record: {0}; this is a bug in hubdex, please report it")]
    Encode(#[from] serde_json::Error),
}

/// The globs a dataset revision was downloaded with, so an update fetches the same files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Selection {
    /// Include globs.
    pub(crate) include: Vec<String>,
    /// Exclude globs.
    pub(crate) exclude: Vec<String>,
}

/// The job database.
pub struct JobStore {
    db: sled::Db,
    jobs: sled::Tree,
    selections: sled::Tree,
    meta: sled::Tree,
}

impl JobStore {
    /// Opens (or creates) the database in `dir`. Blocking: call it off the async threads.
    pub fn open(dir: &Path) -> Result<JobStore, JobStoreError> {
        let open_err = |source| JobStoreError::Open {
            path: dir.to_path_buf(),
            source,
        };
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(4 * 1024 * 1024)
            .open()
            .map_err(open_err)?;
        let jobs = db.open_tree("jobs").map_err(open_err)?;
        let selections = db.open_tree("selections").map_err(open_err)?;
        let meta = db.open_tree("meta").map_err(open_err)?;
        Ok(JobStore {
            db,
            jobs,
            selections,
            meta,
        })
    }

    /// A job number never handed out before in this database: 1, 2, 3, … (sled's own id
    /// generator jumps by millions after each restart, and people type these numbers).
    pub(crate) fn next_id(&self) -> Result<JobId, JobStoreError> {
        let newest = self
            .jobs
            .last()?
            .and_then(|(key, _)| key.as_ref().try_into().ok())
            .map_or(0, u64::from_be_bytes);
        let bumped = self.meta.update_and_fetch(LAST_ID, |old| {
            let last = old
                .and_then(|v| v.try_into().ok())
                .map_or(0, u64::from_be_bytes);
            Some(last.max(newest).saturating_add(1).to_be_bytes().to_vec())
        })?;
        Ok(bumped
            .and_then(|v| v.as_ref().try_into().ok())
            .map_or(newest + 1, u64::from_be_bytes))
    }

    /// Writes a job record (durable after the next [`JobStore::flush`]).
    pub(crate) fn put(&self, job: &Job) -> Result<(), JobStoreError> {
        self.jobs
            .insert(job.id.to_be_bytes(), serde_json::to_vec(job)?)?;
        Ok(())
    }

    /// Forgets a job record.
    pub(crate) fn remove(&self, id: JobId) -> Result<(), JobStoreError> {
        self.jobs.remove(id.to_be_bytes())?;
        Ok(())
    }

    /// Every readable job record, oldest first; unreadable ones are logged and skipped.
    pub(crate) fn load_all(&self) -> Vec<Job> {
        self.jobs
            .iter()
            .filter_map(|entry| match entry {
                Ok((_, value)) => match serde_json::from_slice::<Job>(&value) {
                    Ok(job) => Some(job),
                    Err(e) => {
                        tracing::warn!("skipping a job record hubdex cannot read: {e}");
                        None
                    }
                },
                Err(e) => {
                    tracing::warn!("cannot read the job database: {e}");
                    None
                }
            })
            .collect()
    }

    /// Remembers the globs `revision` of `dataset` was downloaded with.
    pub(crate) fn put_selection(
        &self,
        dataset: &DatasetId,
        revision: &str,
        selection: &Selection,
    ) -> Result<(), JobStoreError> {
        self.selections.insert(
            selection_key(dataset, revision),
            serde_json::to_vec(selection)?,
        )?;
        Ok(())
    }

    /// The globs `revision` of `dataset` was last downloaded with, if hubdex downloaded it.
    pub(crate) fn selection(&self, dataset: &DatasetId, revision: &str) -> Option<Selection> {
        let value = self
            .selections
            .get(selection_key(dataset, revision))
            .ok()??;
        serde_json::from_slice(&value).ok()
    }

    /// Makes every write so far durable.
    pub(crate) async fn flush(&self) -> Result<(), JobStoreError> {
        self.db.flush_async().await?;
        Ok(())
    }
}

/// The `meta` key of the last job number handed out.
const LAST_ID: &[u8] = b"last_id";

fn selection_key(dataset: &DatasetId, revision: &str) -> Vec<u8> {
    let mut key = dataset.as_str().as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(revision.as_bytes());
    key
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use hubdex_ipc::{DownloadParams, JobParams, JobState};

    use super::*;
    use crate::jobs::state;

    fn params() -> JobParams {
        JobParams::Download(DownloadParams {
            dataset: "acme/tiny".parse().unwrap(),
            revision: "main".into(),
            include: vec!["*.csv".into()],
            exclude: vec![],
            force: false,
        })
    }

    #[tokio::test]
    async fn records_and_ids_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let first_ids;
        {
            let store = JobStore::open(dir.path()).unwrap();
            let a = store.next_id().unwrap();
            let b = store.next_id().unwrap();
            assert_eq!((a, b), (1, 2));
            let mut job = state::new_job(a, params(), Utc::now());
            store.put(&job).unwrap();
            state::start(&mut job, Utc::now()).unwrap();
            store.put(&job).unwrap();
            store.put(&state::new_job(b, params(), Utc::now())).unwrap();
            store
                .put_selection(
                    &"acme/tiny".parse().unwrap(),
                    "main",
                    &Selection {
                        include: vec!["*.csv".into()],
                        exclude: vec![],
                    },
                )
                .unwrap();
            store.flush().await.unwrap();
            first_ids = (a, b);
        }
        let store = JobStore::open(dir.path()).unwrap();
        let jobs = store.load_all();
        assert_eq!(jobs.len(), 2);
        assert_eq!((jobs[0].id, jobs[1].id), first_ids, "oldest first");
        assert_eq!(jobs[0].state, JobState::Running);
        assert_eq!(jobs[0].params, params());
        assert_eq!(
            store.next_id().unwrap(),
            first_ids.1 + 1,
            "numbers go on from the last one"
        );
        let selection = store.selection(&"acme/tiny".parse().unwrap(), "main");
        assert_eq!(selection.unwrap().include, ["*.csv"]);
        assert!(
            store
                .selection(&"acme/tiny".parse().unwrap(), "v1")
                .is_none()
        );
        store.remove(first_ids.0).unwrap();
        assert_eq!(store.load_all().len(), 1);
    }
}
