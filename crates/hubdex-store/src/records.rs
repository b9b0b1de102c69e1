//! The sled half of the catalog: records by id, the change log, the generation, meta state.
//!
//! Everything lives in sled's default tree under one-byte prefixes, so a batch of records,
//! its change-log entries and the new generation and count land in one atomic `apply_batch`:
//!
//! | key | value |
//! | --- | --- |
//! | `r` + id | the record as JSON |
//! | `l` + generation (8 bytes, big-endian) | the ids the write changed, each ended by `\n` |
//! | `m` + name | meta value (the syncer's watermarks, cursors) |
//! | `s:generation`, `s:count` | u64, big-endian |
//!
//! Writers must be serialized by the caller (the catalog holds its index-writer lock).
//!
//! sled keeps much of what a bulk load wrote in memory long after it is durable (after a 1M-record
//! sync, about 90 MiB more than a fresh open of the same store needs), so
//! [`Records::reopen`] closes and opens the store again once such a load is over.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use hubdex_core::{Dataset, DatasetId};

use crate::{BatchStats, StoreError};

const RECORD: u8 = b'r';
const LOG: u8 = b'l';
const META: u8 = b'm';
const GENERATION_KEY: &[u8] = b"s:generation";
const COUNT_KEY: &[u8] = b"s:count";
/// Ends each id in a change-log entry; ids never contain it.
const LOG_ID_END: u8 = b'\n';
/// How long an open waits for sled's file lock before saying another process holds it.
/// sled releases the lock from a background thread after its `Db` is dropped, so a
/// restart in the same process (or right after the previous daemon exited) can find it
/// still held for a few milliseconds; a daemon that really runs holds it far longer.
const LOCK_WAIT: Duration = Duration::from_secs(1);
const LOCK_RETRY_EVERY: Duration = Duration::from_millis(20);
/// Change-log entries (one per write) removed per sled batch.
const PRUNE_BATCH: usize = 1_000;

/// sled, plus the generation and record count mirrored in memory so reading them is free.
pub(crate) struct Records {
    /// `None` only while [`Records::reopen`] is between closing and opening, or after an
    /// open there failed.
    db: RwLock<Option<sled::Db>>,
    dir: PathBuf,
    cache_capacity_bytes: u64,
    generation: AtomicU64,
    count: AtomicU64,
}

/// Records a write changed, which the index has yet to learn about.
pub(crate) struct Changed<'a> {
    /// The generation the write created.
    pub(crate) generation: u64,
    /// Records inserted or updated, each with whether the store had it before (only then
    /// can the index hold an older version to replace).
    pub(crate) upserted: Vec<(&'a Dataset, bool)>,
    /// Ids removed.
    pub(crate) removed: Vec<&'a DatasetId>,
}

impl Records {
    /// Opens (or creates) the store in `dir` with a page cache of `cache_capacity_bytes`.
    pub(crate) fn open(dir: &Path, cache_capacity_bytes: u64) -> Result<Records, StoreError> {
        let db = open_db(dir, cache_capacity_bytes)?;
        let records = Records {
            db: RwLock::new(Some(db)),
            dir: dir.to_path_buf(),
            cache_capacity_bytes,
            generation: AtomicU64::new(0),
            count: AtomicU64::new(0),
        };
        let generation = records.read_u64(GENERATION_KEY)?;
        let count = records.read_u64(COUNT_KEY)?;
        records.generation.store(generation, Ordering::SeqCst);
        records.count.store(count, Ordering::SeqCst);
        Ok(records)
    }

    /// Flushes, closes and opens the store again, which drops what sled built up in memory
    /// while writing. Reads wait meanwhile (under a second for a million records). The
    /// caller serializes it with the writers, and no [`Records::iter`] may be alive.
    pub(crate) fn reopen(&self) -> Result<(), StoreError> {
        let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
        // A store that cannot flush stays open as it is: only a clean close is reopened.
        if let Some(open) = db.as_ref() {
            open.flush().map_err(|e| self.err(e))?;
        }
        // The old handle must be gone, releasing sled's file lock, before the store opens again.
        *db = None;
        *db = Some(open_db(&self.dir, self.cache_capacity_bytes)?);
        Ok(())
    }

    /// The open store: a handle of its own, so no lock is held while it is used.
    fn db(&self) -> Result<sled::Db, StoreError> {
        let db = self.db.read().unwrap_or_else(PoisonError::into_inner);
        db.clone().ok_or_else(|| StoreError::Closed {
            dir: self.dir.clone(),
        })
    }

    /// The generation of the last write that changed something.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// How many records the store holds.
    pub(crate) fn len(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// The record stored under exactly this id.
    pub(crate) fn get(&self, id: &str) -> Result<Option<Dataset>, StoreError> {
        match self.db()?.get(record_key(id)).map_err(|e| self.err(e))? {
            Some(json) => decode(id, &json).map(Some),
            None => Ok(None),
        }
    }

    /// Stores the records that differ from what is stored (the last one wins for repeated
    /// ids), logs them under a new generation and bumps the generation, in one atomic batch.
    /// Durable at the next [`Records::flush`] (sled flushes on its own within half a second).
    pub(crate) fn write_upserts<'a>(
        &self,
        records: &'a [Dataset],
    ) -> Result<(BatchStats, Option<Changed<'a>>), StoreError> {
        let last: HashMap<&str, usize> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        let db = self.db()?;
        let generation = self.generation() + 1;
        let mut stats = BatchStats::default();
        let mut batch = sled::Batch::default();
        let mut upserted = Vec::new();
        let mut logged = Vec::new();
        for (i, record) in records.iter().enumerate() {
            let id = record.id.as_str();
            if last.get(id) != Some(&i) {
                continue;
            }
            let json = serde_json::to_vec(record).map_err(|cause| StoreError::Encode {
                id: id.to_string(),
                cause,
            })?;
            let key = record_key(id);
            let existed = match db.get(&key).map_err(|e| self.err(e))? {
                None => {
                    stats.inserted += 1;
                    false
                }
                Some(old) if *old == *json => {
                    stats.unchanged += 1;
                    continue;
                }
                Some(_) => {
                    stats.updated += 1;
                    true
                }
            };
            batch.insert(key, json);
            log_id(&mut logged, id);
            upserted.push((record, existed));
        }
        if upserted.is_empty() {
            return Ok((stats, None));
        }
        batch.insert(log_key(generation), logged);
        let count = self.len() + stats.inserted;
        self.apply(batch, generation, count)?;
        let changed = Changed {
            generation,
            upserted,
            removed: Vec::new(),
        };
        Ok((stats, Some(changed)))
    }

    /// Removes the records that exist, logging each under a new generation.
    pub(crate) fn write_removals<'a>(
        &self,
        ids: &'a [DatasetId],
    ) -> Result<Option<Changed<'a>>, StoreError> {
        let db = self.db()?;
        let generation = self.generation() + 1;
        let mut batch = sled::Batch::default();
        let mut removed: Vec<&DatasetId> = Vec::new();
        let mut logged = Vec::new();
        let mut seen = HashSet::new();
        for id in ids {
            let key = record_key(id.as_str());
            if !seen.insert(id.as_str()) || !db.contains_key(&key).map_err(|e| self.err(e))? {
                continue;
            }
            batch.remove(key);
            log_id(&mut logged, id.as_str());
            removed.push(id);
        }
        if removed.is_empty() {
            return Ok(None);
        }
        batch.insert(log_key(generation), logged);
        let count = self.len().saturating_sub(removed.len() as u64);
        self.apply(batch, generation, count)?;
        Ok(Some(Changed {
            generation,
            upserted: Vec::new(),
            removed,
        }))
    }

    /// Ids logged after generation `after`, each once, in log order.
    pub(crate) fn changed_since(&self, after: u64) -> Result<Vec<String>, StoreError> {
        let start = log_key(after.saturating_add(1));
        let mut seen = HashSet::new();
        let mut ids = Vec::new();
        for entry in self.db()?.range(start..[LOG + 1].to_vec()) {
            let (key, value) = entry.map_err(|e| self.err(e))?;
            // Stores written before entries held a whole write had one entry per id, the
            // id after the generation.
            let logged = match key.get(9..) {
                Some(id) if !id.is_empty() => id,
                _ => &value,
            };
            for id in logged
                .split(|&b| b == LOG_ID_END)
                .filter(|id| !id.is_empty())
            {
                let id = String::from_utf8_lossy(id).into_owned();
                if seen.insert(id.clone()) {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }

    /// Forgets change-log entries up to and including `generation` (the index has them), in
    /// batches of [`PRUNE_BATCH`]: sled frees the node versions a batch replaces only once
    /// the batch is over, so one big batch grows the daemon (pruning a bulk commit's ~75,000
    /// entries at once, when entries were per record, took ~550 MiB). An entry left by a
    /// crash in between is harmless: catch-ups read only entries after the index's generation.
    pub(crate) fn prune_log(&self, generation: u64) -> Result<(), StoreError> {
        let end = log_key(generation.saturating_add(1));
        let db = self.db()?;
        loop {
            let mut batch = sled::Batch::default();
            let mut keys = 0;
            for key in db.range(vec![LOG]..end.clone()).keys().take(PRUNE_BATCH) {
                batch.remove(key.map_err(|e| self.err(e))?);
                keys += 1;
            }
            if keys == 0 {
                return Ok(());
            }
            db.apply_batch(batch).map_err(|e| self.err(e))?;
        }
    }

    /// Every stored record, in id order.
    pub(crate) fn iter(
        &self,
    ) -> Result<impl Iterator<Item = Result<Dataset, StoreError>> + '_, StoreError> {
        Ok(self.db()?.scan_prefix([RECORD]).map(|entry| {
            let (key, json) = entry.map_err(|e| self.err(e))?;
            decode(
                &String::from_utf8_lossy(key.get(1..).unwrap_or_default()),
                &json,
            )
        }))
    }

    /// A meta value.
    pub(crate) fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let value = self.db()?.get(meta_key(key)).map_err(|e| self.err(e))?;
        Ok(value.map(|v| v.to_vec()))
    }

    /// Sets a meta value.
    pub(crate) fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.db()?
            .insert(meta_key(key), value)
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// Makes everything written so far durable.
    pub(crate) fn flush(&self) -> Result<(), StoreError> {
        self.db()?.flush().map(drop).map_err(|e| self.err(e))
    }

    fn apply(&self, mut batch: sled::Batch, generation: u64, count: u64) -> Result<(), StoreError> {
        batch.insert(GENERATION_KEY, &generation.to_be_bytes());
        batch.insert(COUNT_KEY, &count.to_be_bytes());
        self.db()?.apply_batch(batch).map_err(|e| self.err(e))?;
        self.generation.store(generation, Ordering::SeqCst);
        self.count.store(count, Ordering::SeqCst);
        Ok(())
    }

    fn read_u64(&self, key: &[u8]) -> Result<u64, StoreError> {
        let value = self.db()?.get(key).map_err(|e| self.err(e))?;
        Ok(value
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(0, u64::from_be_bytes))
    }

    fn err(&self, cause: sled::Error) -> StoreError {
        StoreError::Records {
            dir: self.dir.clone(),
            cause,
        }
    }
}

fn decode(id: &str, json: &[u8]) -> Result<Dataset, StoreError> {
    serde_json::from_slice(json).map_err(|cause| StoreError::CorruptRecord {
        id: id.to_string(),
        cause,
    })
}

fn record_key(id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + id.len());
    key.push(RECORD);
    key.extend_from_slice(id.as_bytes());
    key
}

/// The key of the change-log entry of a write: one per write, not per record, which
/// spares sled an insert and a removal per record of a bulk load.
fn log_key(generation: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(LOG);
    key.extend_from_slice(&generation.to_be_bytes());
    key
}

/// Adds an id to a change-log entry's value.
fn log_id(logged: &mut Vec<u8>, id: &str) {
    logged.extend_from_slice(id.as_bytes());
    logged.push(LOG_ID_END);
}

fn meta_key(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + name.len());
    key.push(META);
    key.extend_from_slice(name.as_bytes());
    key
}

/// Opens (or creates) the sled store in `dir`, saying so when another process holds it.
fn open_db(dir: &Path, cache_capacity_bytes: u64) -> Result<sled::Db, StoreError> {
    let config = sled::Config::new()
        .path(dir)
        .cache_capacity(cache_capacity_bytes);
    open_waiting_for_lock(&config).map_err(|cause| {
        if is_lock_busy(&cause) {
            StoreError::Locked {
                dir: dir.parent().unwrap_or(dir).to_path_buf(),
            }
        } else {
            StoreError::Records {
                dir: dir.to_path_buf(),
                cause,
            }
        }
    })
}

/// Opens sled, retrying for up to [`LOCK_WAIT`] while its file lock is busy.
fn open_waiting_for_lock(config: &sled::Config) -> sled::Result<sled::Db> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match config.open() {
            Err(cause) if is_lock_busy(&cause) && Instant::now() < deadline => {
                std::thread::sleep(LOCK_RETRY_EVERY);
            }
            opened => return opened,
        }
    }
}

/// sled reports a busy lock as an I/O error with this text (and `WouldBlock`).
fn is_lock_busy(cause: &sled::Error) -> bool {
    matches!(cause, sled::Error::Io(io)
        if io.kind() == std::io::ErrorKind::WouldBlock
            || io.to_string().contains("could not acquire lock"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    fn dataset(id: &str) -> Dataset {
        Dataset::new(DatasetId::new(id).unwrap())
    }

    #[test]
    fn the_change_log_lists_each_changed_id_once_in_order() {
        let dir = TempDir::new().unwrap();
        let records = Records::open(dir.path(), 1 << 20).unwrap();
        records
            .write_upserts(&[dataset("a/one"), dataset("a/two")])
            .unwrap();
        let after_first = records.generation();
        let mut changed = dataset("a/one");
        changed.description = Some("changed".to_string());
        records
            .write_upserts(&[dataset("a/three"), changed, dataset("a/two")])
            .unwrap();
        let removed = [DatasetId::new("a/two").unwrap()];
        records.write_removals(&removed).unwrap();
        assert_eq!(
            records.changed_since(0).unwrap(),
            ["a/one", "a/two", "a/three"]
        );
        assert_eq!(
            records.changed_since(after_first).unwrap(),
            ["a/three", "a/one", "a/two"]
        );
        records.prune_log(after_first).unwrap();
        assert_eq!(
            records.changed_since(0).unwrap(),
            ["a/three", "a/one", "a/two"]
        );
    }

    #[test]
    fn change_log_entries_of_an_older_store_one_per_id_are_still_read() {
        let dir = TempDir::new().unwrap();
        let records = Records::open(dir.path(), 1 << 20).unwrap();
        records.write_upserts(&[dataset("a/new")]).unwrap();
        let db = records.db().unwrap();
        for (generation, id) in [(7u64, "a/old"), (8, "b/older")] {
            let mut key = log_key(generation);
            key.extend_from_slice(id.as_bytes());
            db.insert(key, b"u").unwrap();
        }
        assert_eq!(
            records.changed_since(0).unwrap(),
            ["a/new", "a/old", "b/older"]
        );
        records.prune_log(8).unwrap();
        assert!(records.changed_since(0).unwrap().is_empty());
    }
}
