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
mod error;
mod facets;
mod index;
mod records;
mod schema;
mod search;

use std::path::Path;

use hubdex_core::{Dataset, DatasetId, Facets, Query, Sort};
use tantivy::IndexWriter;

pub use error::StoreError;
use index::{Opened, SearchIndex};
use records::Records;

/// How much memory the catalog may use; the daemon reads these from its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogOptions {
    /// sled's page cache. sled's own default is large, so the daemon's RSS would be sled's.
    pub cache_capacity_bytes: u64,
    /// The tantivy writer's indexing arena (at least 15 MB are used).
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

/// The dataset catalog: records in sled, searchable through tantivy.
///
/// `Send + Sync`; every method takes `&self`, so the daemon shares one in an `Arc` and calls
/// it from blocking tasks. Writes are serialized inside; searches run concurrently.
pub struct Catalog {
    records: Records,
    index: SearchIndex,
}

impl Catalog {
    /// Opens the catalog in `dir`, creating `dir/records` (sled) and `dir/index` (tantivy) as
    /// needed. An index behind the store catches up from the change log; a missing, unreadable
    /// or outdated index is rebuilt from the records.
    pub fn open(dir: &Path, options: CatalogOptions) -> Result<Catalog, StoreError> {
        std::fs::create_dir_all(dir).map_err(|cause| StoreError::Io {
            path: dir.to_path_buf(),
            cause,
        })?;
        let records = Records::open(&dir.join("records"), options.cache_capacity_bytes)?;
        let (index, opened) = SearchIndex::open(&dir.join("index"), options.writer_memory_bytes)?;
        let catalog = Catalog { records, index };
        {
            let mut writer = catalog.index.lock()?;
            let stored = catalog.records.generation();
            match opened {
                Opened::Empty => {
                    catalog.rebuild(&mut writer)?;
                }
                Opened::At(indexed) if indexed > stored => {
                    tracing::warn!(
                        indexed,
                        stored,
                        "the search index is ahead of the record store; rebuilding it"
                    );
                    catalog.rebuild(&mut writer)?;
                }
                Opened::At(indexed) if indexed < stored => catalog.catch_up(&mut writer)?,
                Opened::At(indexed) => catalog.records.prune_log(indexed)?,
            }
        }
        Ok(catalog)
    }

    /// Stores the records (the last one wins for a repeated id), then indexes and commits the
    /// ones that changed. Send pages of about a thousand: each batch is one commit.
    pub fn upsert_batch(&self, records: &[Dataset]) -> Result<BatchStats, StoreError> {
        let mut writer = self.index.lock()?;
        self.catch_up(&mut writer)?;
        let (stats, changed) = self.records.write_upserts(records)?;
        if let Some(changed) = changed {
            self.index
                .apply(&mut writer, changed.upserted, [], changed.generation)?;
            self.records.prune_log(changed.generation)?;
        }
        Ok(stats)
    }

    /// Removes these records; returns how many existed.
    pub fn remove_batch(&self, ids: &[DatasetId]) -> Result<u64, StoreError> {
        let mut writer = self.index.lock()?;
        self.catch_up(&mut writer)?;
        let Some(changed) = self.records.write_removals(ids)? else {
            return Ok(0);
        };
        let removed = changed.removed.len() as u64;
        let ids = changed.removed.iter().map(|id| id.as_str());
        self.index.apply(&mut writer, [], ids, changed.generation)?;
        self.records.prune_log(changed.generation)?;
        Ok(removed)
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
    pub fn search(
        &self,
        query: &Query,
        sort: impl Into<Sort>,
        limit: usize,
        offset: usize,
    ) -> Result<SearchResults, StoreError> {
        let sort = query.sort.unwrap_or_else(|| sort.into());
        let (total, ids) = self.index.search(query, sort, limit, offset)?;
        let mut hits = Vec::with_capacity(ids.len());
        for id in ids {
            match self.records.get(&id)? {
                Some(record) => hits.push(record),
                None => tracing::debug!(%id, "indexed record missing from the store; skipped"),
            }
        }
        Ok(SearchResults { total, hits })
    }

    /// How the records matching `query` (strictly, as typed) spread over tasks, languages,
    /// licences, modalities and size buckets: the `limit_per_facet` most frequent values of
    /// each, with exact counts. A separate call from [`Catalog::search`] so a UI can ask for
    /// it only when it shows it; it reads fast fields only and costs about one counting pass
    /// over the matches.
    pub fn facets(&self, query: &Query, limit_per_facet: usize) -> Result<Facets, StoreError> {
        self.index.facets(query, limit_per_facet)
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
        let mut writer = self.index.lock()?;
        self.rebuild(&mut writer)
    }

    /// Makes every write so far durable (batches already are; this covers meta values).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.records.flush()
    }

    /// Indexes what the change log holds beyond the indexed generation.
    fn catch_up(&self, writer: &mut IndexWriter) -> Result<(), StoreError> {
        let indexed = self.index.indexed_generation();
        let stored = self.records.generation();
        if indexed >= stored {
            return Ok(());
        }
        let ids = self.records.changed_since(indexed)?;
        let mut upserts = Vec::new();
        let mut removals = Vec::new();
        for id in ids {
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
        let removals = removals.iter().map(String::as_str);
        self.index.apply(writer, &upserts, removals, stored)?;
        self.records.prune_log(stored)
    }

    /// Replaces the whole index with the records in the store.
    fn rebuild(&self, writer: &mut IndexWriter) -> Result<u64, StoreError> {
        let generation = self.records.generation();
        let records = self.records.iter().filter(|record| match record {
            Err(StoreError::CorruptRecord { id, cause }) => {
                tracing::warn!(%id, %cause, "unreadable record left out of the search index");
                false
            }
            _ => true,
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
}
