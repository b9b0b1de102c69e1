//! The hubdex catalog: every dataset record in sled, searchable through a tantivy index.
//!
//! sled is the source of truth: records as JSON by id, a change log and a generation that
//! every changing batch bumps, written atomically. The tantivy index is derived from it and
//! can always be rebuilt. Each index commit records the store generation it reflects, so
//! [`Catalog::open`] replays whatever a crash between the two writes left out.
//!
//! ```no_run
//! use hubdex_core::{Query, SortKey};
//! use hubdex_store::{Catalog, CatalogOptions};
//!
//! # fn main() -> Result<(), hubdex_store::StoreError> {
//! let catalog = Catalog::open(std::path::Path::new("/tmp/hubdex-data"), CatalogOptions::default())?;
//! let query = Query::parse("squad author:rajpurkar");
//! let results = catalog.search(&query, SortKey::Relevance, 20, 0)?;
//! let facets = catalog.facets(&query, 10)?;
//! println!("{} matches, {} languages", results.total, facets.language.len());
//! # Ok(())
//! # }
//! ```

mod analysis;
mod best;
mod error;
mod facets;
mod index;
mod popular;
mod records;
mod results;
mod schema;
mod search;
mod segments;
mod sorted;
mod tophits;
mod word;

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use hubdex_core::{Dataset, DatasetId, Facets, Query, Sort};

pub use error::StoreError;
use index::{Opened, SearchIndex, Writer};
use records::Records;
use results::ResultCache;

/// A catch-up bigger than this (records the index missed) uses the bulk writer arena.
const BULK_CATCH_UP: usize = 10_000;

/// After bulk loads stored this many records, [`Catalog::commit`] reopens the record store to
/// drop what sled kept in memory while writing them: after a 1M-record sync, ~90 MiB.
const REOPEN_AFTER_BULK: u64 = 20_000;
/// Meta key set (`1`) while a bulk load's segments await [`Catalog::compact`], so a daemon
/// stopped before compacting compacts after its restart.
const COMPACTION_DUE: &str = "index.compaction-due";

/// How many records a rebuild or catch-up reads between two [`Opening`] reports.
const PROGRESS_EVERY: u64 = 10_000;

/// What [`Catalog::open_reporting`] is doing, when it is slow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// Indexing every stored record afresh (no index yet, or one from another version):
    /// `read` of the store's `of` records so far.
    Rebuilding {
        /// Records read from the store so far.
        read: u64,
        /// Records in the store.
        of: u64,
    },
    /// Indexing the records changed since the index's last commit (the daemon stopped in
    /// the middle of a sync): `read` of `of` so far.
    CatchingUp {
        /// Changed records read so far.
        read: u64,
        /// Changed records in all.
        of: u64,
    },
    /// Merging the index's segments into one (about 20 s per million records).
    Compacting,
}

/// How much memory the catalog may use; the daemon reads these from its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogOptions {
    /// sled's page cache. sled's own default is large, so the daemon's RSS would be sled's.
    pub cache_capacity_bytes: u64,
    /// The search index writer's arena during bulk loads ([`Catalog::upsert_bulk`], a
    /// rebuild); single batches use tantivy's smallest (15 MB). The writer, and so its
    /// arena, exists only while the catalog writes.
    pub writer_memory_bytes: usize,
}

impl Default for CatalogOptions {
    fn default() -> Self {
        Self {
            cache_capacity_bytes: 64 * 1024 * 1024,
            writer_memory_bytes: 64 * 1024 * 1024,
        }
    }
}

/// What an [`Catalog::upsert_batch`] did, for sync progress and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Records the catalog did not have.
    pub inserted: u64,
    /// Records that changed.
    pub updated: u64,
    /// Records identical to the stored ones (neither rewritten nor re-indexed).
    pub unchanged: u64,
}

/// One page of search results.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    /// How many records match in all.
    pub total: u64,
    /// The records of the requested page, best first.
    pub hits: Vec<Dataset>,
}

/// The datasets the user follows and has downloaded, by id as written: what `followed:` and
/// `downloaded:` filter by. The catalog keeps neither (the daemon does), so a search is told
/// them; `Marks::default()` means nothing is followed or downloaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    /// Ids of followed datasets.
    pub followed: HashSet<String>,
    /// Ids of datasets whose files are in the local cache.
    pub downloaded: HashSet<String>,
}

/// The dataset catalog: records in sled, searchable through tantivy.
///
/// `Send + Sync`; every method takes `&self`, so the daemon shares one in an `Arc` and calls
/// it from blocking tasks. Writes are serialized inside; searches run concurrently.
pub struct Catalog {
    records: Records,
    index: SearchIndex,
    answers: ResultCache,
    /// Records stored by bulk loads since the record store was (re)opened.
    bulk_stored: AtomicU64,
}

impl Catalog {
    /// Opens the catalog in `dir`, creating `dir/records` (sled) and `dir/index` (tantivy) as
    /// needed. An index behind the store catches up from the change log; a missing, unreadable
    /// or outdated index is rebuilt from the records.
    pub fn open(dir: &Path, options: CatalogOptions) -> Result<Catalog, StoreError> {
        Catalog::open_reporting(dir, options, &mut |_| {})
    }

    /// [`Catalog::open`], telling `progress` what it does when that is slow: a rebuild or a
    /// long catch-up of the index takes about a minute per million records, and a client
    /// waiting for the daemon wants to know why.
    pub fn open_reporting(
        dir: &Path,
        options: CatalogOptions,
        progress: &mut dyn FnMut(Opening),
    ) -> Result<Catalog, StoreError> {
        std::fs::create_dir_all(dir).map_err(|cause| StoreError::Io {
            path: dir.to_path_buf(),
            cause,
        })?;
        let records = Records::open(&dir.join("records"), options.cache_capacity_bytes)?;
        let (index, opened) = SearchIndex::open(&dir.join("index"), options.writer_memory_bytes)?;
        let catalog = Catalog {
            records,
            index,
            answers: ResultCache::default(),
            bulk_stored: AtomicU64::new(0),
        };
        {
            let mut writer = catalog.index.lock()?;
            let stored = catalog.records.generation();
            match opened {
                Opened::Empty => {
                    catalog.rebuild(&mut writer, progress)?;
                }
                Opened::At(indexed) if indexed > stored => {
                    tracing::warn!(
                        indexed,
                        stored,
                        "the search index is ahead of the record store; rebuilding it"
                    );
                    catalog.rebuild(&mut writer, progress)?;
                }
                Opened::At(indexed) if indexed < stored => {
                    catalog.catch_up(&mut writer, progress)?;
                    catalog.commit_locked(&mut writer, true)?;
                }
                Opened::At(indexed) => catalog.records.prune_log(indexed)?,
            }
            if writer.compaction_due() {
                // After a rebuild or a long catch-up: the caller gets a compact index.
                progress(Opening::Compacting);
                catalog.index.compact(&mut writer);
                catalog.records.set_meta(COMPACTION_DUE, b"0")?;
            } else if catalog.records.meta(COMPACTION_DUE)?.as_deref() == Some(b"1") {
                // Left by a process that stopped before compacting: for Catalog::compact,
                // off the start-up path.
                writer.mark_compaction_due();
            }
        }
        Ok(catalog)
    }

    /// Stores the records (the last one wins for a repeated id), then indexes and commits the
    /// ones that changed: durable and searchable on return. Send pages of about a thousand:
    /// each batch is one commit. For a walk of the whole catalog use
    /// [`Catalog::upsert_bulk`].
    pub fn upsert_batch(&self, records: &[Dataset]) -> Result<BatchStats, StoreError> {
        self.upsert(records, false)
    }

    /// Like [`Catalog::upsert_batch`] for bulk loads (a walk of the whole catalog): the
    /// records are stored at once, but the search index commits only every 250,000 records
    /// or 15 seconds, which makes a bulk load many times faster. Call [`Catalog::commit`]
    /// when the load ends (or stops). Until then the latest records may be unsearchable; a
    /// crash loses nothing (the index catches up from the store on open), and sled makes
    /// the records durable within half a second.
    pub fn upsert_bulk(&self, records: &[Dataset]) -> Result<BatchStats, StoreError> {
        self.upsert(records, true)
    }

    /// Commits what [`Catalog::upsert_bulk`] left pending, making it durable and searchable,
    /// waits for the index merges under way, and releases the index writer's memory; after
    /// big bulk loads also what the record store kept of them (reads wait while it reopens,
    /// under a second for a million records). Call [`Catalog::compact`] next.
    pub fn commit(&self) -> Result<(), StoreError> {
        let mut writer = self.index.lock()?;
        self.commit_locked(&mut writer, true)?;
        if writer.compaction_due() {
            self.records.set_meta(COMPACTION_DUE, b"1")?;
        }
        if self.bulk_stored.load(Ordering::Relaxed) >= REOPEN_AFTER_BULK {
            let started = std::time::Instant::now();
            self.records.reopen()?;
            self.bulk_stored.store(0, Ordering::Relaxed);
            tracing::info!(
                took_ms = started.elapsed().as_millis(),
                "reopened the record store to release what the bulk load left in memory"
            );
        }
        Ok(())
    }

    /// After a bulk load (also one a previous process ended without compacting), merges the
    /// segments it left into one, so searches pay for one segment instead of dozens;
    /// returns whether a compaction was due and ran (nothing was due otherwise, or a bulk
    /// load is under way). Slow, about 20 s on one core for a million records: writes wait
    /// meanwhile, searches do not. Everything is searchable before it starts, so callers
    /// run it after saying a load is done. A failed merge is logged and leaves the index
    /// correct.
    pub fn compact(&self) -> Result<bool, StoreError> {
        let mut writer = self.index.lock()?;
        let due = writer.compaction_due();
        self.index.compact(&mut writer);
        let ran = due && !writer.compaction_due();
        if ran {
            self.records.set_meta(COMPACTION_DUE, b"0")?;
        }
        Ok(ran)
    }

    /// True when [`Catalog::compact`] has work to do.
    pub fn compaction_due(&self) -> Result<bool, StoreError> {
        Ok(self.index.lock()?.compaction_due())
    }

    /// Removes these records; returns how many existed. Durable and searchable on return.
    pub fn remove_batch(&self, ids: &[DatasetId]) -> Result<u64, StoreError> {
        self.remove(ids, false)
    }

    /// Like [`Catalog::remove_batch`] for many batches in a row (a sweep): the index commits
    /// as in [`Catalog::upsert_bulk`], not once per batch, and [`Catalog::commit`] ends it.
    /// Removing the embedded snapshot's 48,997 records after a first sync took 6.1 s at
    /// one commit per 1,000.
    pub fn remove_bulk(&self, ids: &[DatasetId]) -> Result<u64, StoreError> {
        self.remove(ids, true)
    }

    fn remove(&self, ids: &[DatasetId], bulk: bool) -> Result<u64, StoreError> {
        let mut writer = self.index.lock()?;
        self.catch_up(&mut writer, &mut |_| {})?;
        let Some(changed) = self.records.write_removals(ids)? else {
            return Ok(0);
        };
        let removed = changed.removed.len() as u64;
        let ids = changed.removed.iter().map(|id| id.as_str());
        self.index
            .add(&mut writer, [], ids, changed.generation, bulk)?;
        if !bulk {
            self.commit_locked(&mut writer, true)?;
        } else if writer.commit_due() {
            self.commit_locked(&mut writer, false)?;
        }
        Ok(removed)
    }

    fn upsert(&self, records: &[Dataset], bulk: bool) -> Result<BatchStats, StoreError> {
        let mut writer = self.index.lock()?;
        self.catch_up(&mut writer, &mut |_| {})?;
        let (stats, changed) = self.records.write_upserts(records)?;
        if bulk {
            self.bulk_stored
                .fetch_add(stats.inserted + stats.updated, Ordering::Relaxed);
        }
        if let Some(changed) = changed {
            self.index
                .add(&mut writer, changed.upserted, [], changed.generation, bulk)?;
        }
        if !bulk {
            self.commit_locked(&mut writer, true)?;
        } else if writer.commit_due() {
            self.commit_locked(&mut writer, false)?;
        }
        Ok(stats)
    }

    /// Makes the records durable, then commits the index (it must never get ahead of
    /// durable records) and forgets the change log it now reflects; `close` also closes
    /// the index writer.
    fn commit_locked(&self, writer: &mut Writer, close: bool) -> Result<(), StoreError> {
        self.records.flush()?;
        self.index.commit(writer, close)?;
        self.records.prune_log(self.index.indexed_generation())
    }

    /// The record with this id; if none has exactly this id, the one whose id differs only
    /// in case (the Hub treats ids case-insensitively).
    pub fn get(&self, id: &DatasetId) -> Result<Option<Dataset>, StoreError> {
        if let Some(record) = self.records.get(id.as_str())? {
            return Ok(Some(record));
        }
        match self.index.find_id_ignoring_case(id.as_str())? {
            Some(actual) if actual != id.as_str() => self.records.get(&actual),
            _ => Ok(None),
        }
    }

    /// One page of the records matching `query`, best first or in `sort` order (ties by
    /// id); a `sort:` written in the query wins over `sort`. `limit` is capped at 1000;
    /// `total` counts every match. A [`hubdex_core::SortKey`] is accepted as its descending
    /// [`Sort`].
    ///
    /// Relevance ranks by BM25 over the text with ids and pretty names weighing most, tags
    /// next and descriptions least, times a popularity prior; a record whose id, name or
    /// pretty name is the whole free text comes first. With few matches, misspellings and
    /// partial matches are allowed; without free text, relevance means most downloaded.
    ///
    /// `followed:` and `downloaded:` see nothing followed or downloaded here; the daemon,
    /// which knows, calls [`Catalog::search_marked`].
    pub fn search(
        &self,
        query: &Query,
        sort: impl Into<Sort>,
        limit: usize,
        offset: usize,
    ) -> Result<SearchResults, StoreError> {
        self.search_marked(query, sort, limit, offset, &Marks::default())
    }

    /// [`Catalog::search`], with `followed:yes|no` and `downloaded:yes|no` answered from
    /// `marks`.
    pub fn search_marked(
        &self,
        query: &Query,
        sort: impl Into<Sort>,
        limit: usize,
        offset: usize,
        marks: &Marks,
    ) -> Result<SearchResults, StoreError> {
        let sort = query.sort.unwrap_or_else(|| sort.into());
        Ok(self.answer(query, sort, (limit, offset), marks, None)?.0)
    }

    /// [`Catalog::search_marked`] and [`Catalog::facets_marked`] in one pass over the
    /// matches, which also counts them: what a UI showing both asks for on each keystroke.
    pub fn search_with_facets(
        &self,
        query: &Query,
        sort: impl Into<Sort>,
        page: (usize, usize),
        marks: &Marks,
        limit_per_facet: usize,
    ) -> Result<(SearchResults, Facets), StoreError> {
        let sort = query.sort.unwrap_or_else(|| sort.into());
        let (results, facets) = self.answer(query, sort, page, marks, Some(limit_per_facet))?;
        Ok((results, facets.unwrap_or_default()))
    }

    /// A search's page and facets: from the kept answer while the index has not changed
    /// since, else worked out (and kept when it depends on the index alone).
    fn answer(
        &self,
        query: &Query,
        sort: Sort,
        page: (usize, usize),
        marks: &Marks,
        facets: Option<usize>,
    ) -> Result<(SearchResults, Option<Facets>), StoreError> {
        // The generation first: the searcher is then at least as new, never older.
        let generation = self.index.indexed_generation();
        let key = results::key(query, sort, page, facets);
        let kept = key
            .as_ref()
            .and_then(|key| self.answers.get(key, generation));
        let (total, ids, facets) = match kept {
            Some(answer) => answer,
            None => {
                let answer = self.index.search(query, sort, page, marks, facets)?;
                if let Some(key) = key {
                    self.answers.put(key, generation, answer.clone());
                }
                answer
            }
        };
        let results = SearchResults {
            total,
            hits: self.records_of(ids)?,
        };
        Ok((results, facets))
    }

    /// How the records matching `query` spread over tasks, languages, licences, modalities
    /// and size buckets: the `limit_per_facet` most frequent values of each. Exact up to
    /// about 4,000 matches, estimated from a uniform sample beyond ([`Facets::counted`]
    /// says which); it reads fast fields only.
    pub fn facets(&self, query: &Query, limit_per_facet: usize) -> Result<Facets, StoreError> {
        self.facets_marked(query, limit_per_facet, &Marks::default())
    }

    /// [`Catalog::facets`], with `followed:` and `downloaded:` answered from `marks`.
    pub fn facets_marked(
        &self,
        query: &Query,
        limit_per_facet: usize,
        marks: &Marks,
    ) -> Result<Facets, StoreError> {
        let sort = query.sort.unwrap_or_default();
        let (_, _, facets) =
            self.index
                .search(query, sort, (0, 0), marks, Some(limit_per_facet))?;
        Ok(facets.unwrap_or_default())
    }

    /// The stored records of these ids, in order; an id the store lacks is skipped.
    fn records_of(&self, ids: Vec<String>) -> Result<Vec<Dataset>, StoreError> {
        let mut hits = Vec::with_capacity(ids.len());
        for id in ids {
            match self.records.get(&id)? {
                Some(record) => hits.push(record),
                None => tracing::debug!(%id, "indexed record missing from the store; skipped"),
            }
        }
        Ok(hits)
    }

    /// How many records the catalog holds (cheap).
    pub fn len(&self) -> u64 {
        self.records.len()
    }

    /// True when the catalog holds no records (the daemon then imports its snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The store generation: it increases with every batch that changes a record.
    pub fn generation(&self) -> u64 {
        self.records.generation()
    }

    /// The store generation the search index reflects; equal to [`Catalog::generation`]
    /// unless indexing failed.
    pub fn indexed_generation(&self) -> u64 {
        self.index.indexed_generation()
    }

    /// A small value the syncer keeps across restarts (watermarks, cursors).
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.records.meta(key)
    }

    /// Sets a value for [`Catalog::meta`]. sled makes it durable within half a second, at the
    /// next batch, on [`Catalog::flush`] or when the catalog is dropped.
    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.records.set_meta(key, value)
    }

    /// Drops the search index and rebuilds it from the records (`hubdex daemon --reindex`).
    /// Returns how many records were indexed.
    pub fn reindex(&self) -> Result<u64, StoreError> {
        self.reindex_reporting(&mut |_| {})
    }

    /// [`Catalog::reindex`], telling `progress` how far it is.
    pub fn reindex_reporting(&self, progress: &mut dyn FnMut(Opening)) -> Result<u64, StoreError> {
        let mut writer = self.index.lock()?;
        let indexed = self.rebuild(&mut writer, progress)?;
        progress(Opening::Compacting);
        self.index.compact(&mut writer);
        Ok(indexed)
    }

    /// Makes every write so far durable (batches already are; this covers meta values).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.records.flush()
    }

    /// Gives the index what the change log holds beyond what it was given, without
    /// committing.
    fn catch_up(
        &self,
        writer: &mut Writer,
        progress: &mut dyn FnMut(Opening),
    ) -> Result<(), StoreError> {
        let indexed = writer.written();
        let stored = self.records.generation();
        if indexed >= stored {
            return Ok(());
        }
        let ids = self.records.changed_since(indexed)?;
        let of = ids.len() as u64;
        let mut upserts = Vec::new();
        let mut removals = Vec::new();
        for (read, id) in (1..).zip(ids) {
            if read % PROGRESS_EVERY == 0 || read == of {
                progress(Opening::CatchingUp { read, of });
            }
            match self.records.get(&id) {
                Ok(Some(record)) => upserts.push(record),
                Ok(None) => removals.push(id),
                Err(StoreError::CorruptRecord { id, cause }) => {
                    tracing::warn!(%id, %cause, "unreadable record left out of the search index");
                    removals.push(id);
                }
                Err(e) => return Err(e),
            }
        }
        tracing::info!(
            indexed,
            stored,
            upserts = upserts.len(),
            removals = removals.len(),
            "search index catching up with the record store"
        );
        let bulk = upserts.len() + removals.len() > BULK_CATCH_UP;
        let removals = removals.iter().map(String::as_str);
        let upserts = upserts.iter().map(|record| (record, true));
        self.index.add(writer, upserts, removals, stored, bulk)
    }

    /// Replaces the whole index with the records in the store.
    fn rebuild(
        &self,
        writer: &mut Writer,
        progress: &mut dyn FnMut(Opening),
    ) -> Result<u64, StoreError> {
        // The index must never get ahead of durable records.
        self.records.flush()?;
        let generation = self.records.generation();
        let of = self.records.len();
        let mut read = 0;
        progress(Opening::Rebuilding { read, of });
        let records = self.records.iter()?.filter(|record| {
            read += 1;
            if read % PROGRESS_EVERY == 0 || read == of {
                progress(Opening::Rebuilding { read, of });
            }
            match record {
                Err(StoreError::CorruptRecord { id, cause }) => {
                    tracing::warn!(%id, %cause, "unreadable record left out of the search index");
                    false
                }
                _ => true,
            }
        });
        let indexed = self.index.rebuild(writer, records, generation)?;
        self.records.prune_log(generation)?;
        tracing::info!(records = indexed, generation, "search index rebuilt");
        Ok(indexed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hubdex_core::SortKey;
    use tempfile::TempDir;

    fn options() -> CatalogOptions {
        CatalogOptions {
            cache_capacity_bytes: 8 * 1024 * 1024,
            writer_memory_bytes: 20_000_000,
        }
    }

    fn dataset(id: &str, description: &str) -> Dataset {
        let mut d = Dataset::new(id.parse().unwrap());
        d.description = Some(description.to_string());
        d
    }

    fn found(catalog: &Catalog, query: &str) -> Vec<String> {
        let results = catalog
            .search(&Query::parse(query), SortKey::Relevance, 10, 0)
            .unwrap();
        results.hits.into_iter().map(|d| d.id.to_string()).collect()
    }

    #[test]
    fn reopening_replays_what_only_reached_the_store() {
        let dir = TempDir::new().unwrap();
        {
            let catalog = Catalog::open(dir.path(), options()).unwrap();
            catalog
                .upsert_batch(&[dataset("acme/old", "obsolete records")])
                .unwrap();
            // A crash after the store half of each write, before the index half.
            let batch = [dataset("acme/fresh", "brand new walrus sightings")];
            catalog.records.write_upserts(&batch).unwrap();
            let removed = ["acme/old".parse().unwrap()];
            catalog.records.write_removals(&removed).unwrap();
            assert!(catalog.indexed_generation() < catalog.generation());
            assert!(found(&catalog, "walrus").is_empty());
        }
        let catalog = Catalog::open(dir.path(), options()).unwrap();
        assert_eq!(catalog.indexed_generation(), catalog.generation());
        assert_eq!(found(&catalog, "walrus"), ["acme/fresh"]);
        assert!(found(&catalog, "obsolete").is_empty());
        assert_eq!(catalog.len(), 1);
        // The replayed entries are pruned from the change log.
        assert!(catalog.records.changed_since(0).unwrap().is_empty());
    }

    #[test]
    fn a_commit_prunes_a_change_log_longer_than_one_prune_batch() {
        let dir = TempDir::new().unwrap();
        let catalog = Catalog::open(dir.path(), options()).unwrap();
        // One change-log entry per write: 1,500 writes of one record.
        let records: Vec<Dataset> = (0..1_500)
            .map(|i| dataset(&format!("acme/item-{i}"), "bulk"))
            .collect();
        for page in records.chunks(1) {
            catalog.upsert_bulk(page).unwrap();
        }
        assert_eq!(catalog.records.changed_since(0).unwrap().len(), 1_500);
        catalog.commit().unwrap();
        assert!(catalog.records.changed_since(0).unwrap().is_empty());
        assert_eq!(catalog.len(), 1_500);
    }

    #[test]
    fn a_slow_open_says_how_far_it_is() {
        let dir = TempDir::new().unwrap();
        let records: Vec<Dataset> = (0..25_000)
            .map(|i| dataset(&format!("acme/item-{i}"), "a walrus"))
            .collect();
        {
            let catalog = Catalog::open(dir.path(), options()).unwrap();
            catalog.upsert_batch(&records).unwrap();
            // A crash after the store half of a write: the index misses these on reopen.
            let missed: Vec<Dataset> = (0..12_000)
                .map(|i| dataset(&format!("acme/missed-{i}"), "a narwhal"))
                .collect();
            catalog.records.write_upserts(&missed).unwrap();
        }
        let mut reports = Vec::new();
        let catalog =
            Catalog::open_reporting(dir.path(), options(), &mut |step| reports.push(step)).unwrap();
        let of = 12_000;
        assert_eq!(
            reports,
            [
                Opening::CatchingUp { read: 10_000, of },
                Opening::CatchingUp { read: of, of },
                Opening::Compacting,
            ]
        );
        drop(catalog);

        std::fs::remove_dir_all(dir.path().join("index")).unwrap();
        let mut reports = Vec::new();
        let catalog =
            Catalog::open_reporting(dir.path(), options(), &mut |step| reports.push(step)).unwrap();
        let of = 37_000;
        let read: Vec<u64> = reports
            .iter()
            .filter_map(|step| match step {
                Opening::Rebuilding { read, of: total } if *total == of => Some(*read),
                _ => None,
            })
            .collect();
        assert_eq!(read, [0, 10_000, 20_000, 30_000, of]);
        assert_eq!(reports.last(), Some(&Opening::Compacting));
        assert_eq!(catalog.len(), of);
        assert_eq!(found(&catalog, "narwhal").len(), 10);
    }

    #[test]
    fn a_current_index_is_reused_on_reopen_not_rebuilt() {
        let dir = TempDir::new().unwrap();
        let generation = {
            let catalog = Catalog::open(dir.path(), options()).unwrap();
            catalog
                .upsert_batch(&[dataset("acme/kept", "kept")])
                .unwrap();
            catalog.generation()
        };
        let (_index, opened) = SearchIndex::open(&dir.path().join("index"), 0).unwrap();
        assert!(matches!(opened, Opened::At(g) if g == generation));
    }

    #[test]
    fn the_catalog_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Catalog>();
    }

    #[test]
    fn the_next_batch_also_catches_the_index_up() {
        let dir = TempDir::new().unwrap();
        let catalog = Catalog::open(dir.path(), options()).unwrap();
        let missed = [dataset("acme/missed", "a lost narwhal")];
        catalog.records.write_upserts(&missed).unwrap();
        catalog
            .upsert_batch(&[dataset("acme/next", "another narwhal")])
            .unwrap();
        assert_eq!(catalog.indexed_generation(), catalog.generation());
        let mut hits = found(&catalog, "narwhal");
        hits.sort();
        assert_eq!(hits, ["acme/missed", "acme/next"]);
    }

    fn writer_open(catalog: &Catalog) -> bool {
        catalog.index.lock().unwrap().is_open()
    }

    #[test]
    fn a_batch_leaves_no_index_writer_behind() {
        let dir = TempDir::new().unwrap();
        let catalog = Catalog::open(dir.path(), options()).unwrap();
        assert!(!writer_open(&catalog));
        catalog
            .upsert_batch(&[dataset("acme/one", "a lone walrus")])
            .unwrap();
        assert_eq!(found(&catalog, "walrus"), ["acme/one"]);
        assert!(!writer_open(&catalog));
        catalog
            .remove_batch(&["acme/one".parse().unwrap()])
            .unwrap();
        assert!(found(&catalog, "walrus").is_empty());
        assert!(!writer_open(&catalog));
    }

    #[test]
    fn a_bulk_load_is_searchable_once_committed() {
        let dir = TempDir::new().unwrap();
        let catalog = Catalog::open(dir.path(), options()).unwrap();
        let stats = catalog
            .upsert_bulk(&[
                dataset("acme/a", "walrus one"),
                dataset("acme/b", "walrus two"),
            ])
            .unwrap();
        assert_eq!(stats.inserted, 2);
        assert_eq!(catalog.len(), 2);
        assert!(found(&catalog, "walrus").is_empty(), "not committed yet");
        assert!(writer_open(&catalog));
        catalog.commit().unwrap();
        let mut hits = found(&catalog, "walrus");
        hits.sort();
        assert_eq!(hits, ["acme/a", "acme/b"]);
        assert_eq!(catalog.indexed_generation(), catalog.generation());
        assert!(!writer_open(&catalog));
        assert!(catalog.records.changed_since(0).unwrap().is_empty());
    }

    #[test]
    fn a_bulk_update_replaces_the_indexed_version() {
        let dir = TempDir::new().unwrap();
        let catalog = Catalog::open(dir.path(), options()).unwrap();
        catalog
            .upsert_batch(&[dataset("acme/a", "an old walrus")])
            .unwrap();
        catalog
            .upsert_bulk(&[dataset("acme/a", "a new narwhal")])
            .unwrap();
        catalog.commit().unwrap();
        assert!(found(&catalog, "walrus").is_empty());
        assert_eq!(found(&catalog, "narwhal"), ["acme/a"]);
    }

    #[test]
    fn a_batch_after_a_bulk_load_commits_both() {
        let dir = TempDir::new().unwrap();
        let catalog = Catalog::open(dir.path(), options()).unwrap();
        catalog
            .upsert_bulk(&[dataset("acme/bulk", "walrus")])
            .unwrap();
        catalog
            .upsert_batch(&[dataset("acme/single", "walrus")])
            .unwrap();
        let mut hits = found(&catalog, "walrus");
        hits.sort();
        assert_eq!(hits, ["acme/bulk", "acme/single"]);
        assert!(!writer_open(&catalog));
    }

    #[test]
    fn an_uncommitted_bulk_load_is_indexed_when_the_catalog_reopens() {
        let dir = TempDir::new().unwrap();
        {
            let catalog = Catalog::open(dir.path(), options()).unwrap();
            catalog
                .upsert_bulk(&[dataset("acme/a", "walrus"), dataset("acme/b", "walrus")])
                .unwrap();
            // Dropped without commit, as when the daemon stops mid-walk.
        }
        let catalog = Catalog::open(dir.path(), options()).unwrap();
        assert_eq!(catalog.indexed_generation(), catalog.generation());
        assert_eq!(found(&catalog, "walrus").len(), 2);
        assert!(!writer_open(&catalog));
    }

    #[test]
    fn a_bulk_load_leaves_its_segments_until_compacted() {
        let dir = TempDir::new().unwrap();
        let catalog = Catalog::open(dir.path(), options()).unwrap();
        for (i, word) in ["walrus", "narwhal", "beluga", "orca"].iter().enumerate() {
            catalog
                .upsert_bulk(&[dataset(&format!("acme/{word}"), word)])
                .unwrap();
            // An intermediate commit, as a long walk makes every 15 s.
            let mut writer = catalog.index.lock().unwrap();
            catalog.commit_locked(&mut writer, false).unwrap();
            drop(writer);
            assert_eq!(catalog.index.segment_count(), i + 1, "no merge mid-load");
            assert_eq!(found(&catalog, word), [format!("acme/{word}")]);
        }
        catalog.commit().unwrap();
        assert_eq!(
            catalog.index.segment_count(),
            4,
            "searchable before compacting"
        );
        assert_eq!(found(&catalog, "orca"), ["acme/orca"]);
        assert!(catalog.compact().unwrap());
        assert_eq!(catalog.index.segment_count(), 1);
        assert_eq!(found(&catalog, "orca"), ["acme/orca"]);
        assert_eq!(found(&catalog, "walrus"), ["acme/walrus"]);
        assert!(!catalog.compact().unwrap(), "nothing left to compact");
    }

    #[test]
    fn bulk_removals_are_gone_once_committed_and_counted_once() {
        let dir = TempDir::new().unwrap();
        let catalog = Catalog::open(dir.path(), options()).unwrap();
        let records: Vec<Dataset> = ["walrus", "narwhal", "beluga"]
            .iter()
            .map(|word| dataset(&format!("acme/{word}"), word))
            .collect();
        catalog.upsert_batch(&records).unwrap();
        let ids = |words: &[&str]| -> Vec<DatasetId> {
            words
                .iter()
                .map(|w| format!("acme/{w}").parse().unwrap())
                .collect()
        };
        assert_eq!(catalog.remove_bulk(&ids(&["walrus"])).unwrap(), 1);
        assert_eq!(
            catalog
                .remove_bulk(&ids(&["walrus", "narwhal", "orca"]))
                .unwrap(),
            1,
            "only records that exist count"
        );
        catalog.commit().unwrap();
        assert!(found(&catalog, "walrus").is_empty());
        assert!(found(&catalog, "narwhal").is_empty());
        assert_eq!(found(&catalog, "beluga"), ["acme/beluga"]);
        assert_eq!(catalog.len(), 1);
        assert!(catalog.get(&ids(&["walrus"])[0]).unwrap().is_none());
        assert!(!writer_open(&catalog), "the commit closed the writer");
    }

    #[test]
    fn a_compaction_cut_short_by_a_restart_is_still_due_after_it() {
        let dir = TempDir::new().unwrap();
        {
            let catalog = Catalog::open(dir.path(), options()).unwrap();
            for word in ["walrus", "narwhal"] {
                catalog
                    .upsert_bulk(&[dataset(&format!("acme/{word}"), word)])
                    .unwrap();
                let mut writer = catalog.index.lock().unwrap();
                catalog.commit_locked(&mut writer, false).unwrap();
            }
            catalog.commit().unwrap();
            catalog.flush().unwrap();
            // Stopped before compacting.
        }
        let catalog = Catalog::open(dir.path(), options()).unwrap();
        assert_eq!(catalog.index.segment_count(), 2, "not compacted on open");
        assert!(catalog.compaction_due().unwrap());
        assert!(catalog.compact().unwrap());
        assert_eq!(catalog.index.segment_count(), 1);
        assert_eq!(found(&catalog, "narwhal"), ["acme/narwhal"]);
        catalog.flush().unwrap();
        drop(catalog);
        let catalog = Catalog::open(dir.path(), options()).unwrap();
        assert!(!catalog.compaction_due().unwrap());
    }

    #[test]
    fn get_finds_an_id_written_in_another_case() {
        let dir = TempDir::new().unwrap();
        let catalog = Catalog::open(dir.path(), options()).unwrap();
        catalog
            .upsert_batch(&[
                dataset("HuggingFaceH4/UltraChat", "chats"),
                dataset("openai/gsm8k", "maths"),
            ])
            .unwrap();
        let get = |id: &str| {
            let got = catalog.get(&id.parse().unwrap()).unwrap();
            got.map(|d| d.id.to_string())
        };
        let capitals = Some("HuggingFaceH4/UltraChat".to_string());
        assert_eq!(get("huggingfaceh4/ultrachat"), capitals);
        assert_eq!(get("HUGGINGFACEH4/ultrachat"), capitals);
        assert_eq!(get("OpenAI/GSM8K"), Some("openai/gsm8k".to_string()));
        assert_eq!(get("openai/gsm9k"), None);
    }
}
