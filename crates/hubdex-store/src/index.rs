//! The tantivy half of the catalog: a search index derived from the records.
//!
//! It holds no whole records (sled has them): a hit is a document address, which the `id`
//! fast field turns into the id to fetch from sled. Each commit carries the store generation
//! it reflects as its payload, so opening the catalog knows what the index missed.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use chrono::Utc;
use hubdex_core::{Dataset, Facets, Query, Sort};
use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::columnar::StrColumn;
use tantivy::directory::error::LockError;
use tantivy::schema::Schema;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyError, Term,
};

use crate::StoreError;
use crate::analysis::{ANALYZER, index_analyzer};
use crate::schema::{Fields, build_schema, document};
use crate::search::{Planner, raw_term};

/// Bumped whenever the schema or the analyzer changes, so an old index is rebuilt on open.
/// 2: ranking fields, CJK bigrams, stemming, keyword and size fields.
const FORMAT: u32 = 2;
/// Most hits one search returns.
const MAX_LIMIT: usize = 1000;
/// tantivy's smallest per-thread writer arena.
const MIN_WRITER_BYTES: usize = 15_000_000;
/// Keep the arena well inside tantivy's u32 limit.
const MAX_WRITER_BYTES: usize = 3_000_000_000;

/// The commit payload: which store generation an index commit reflects.
#[derive(Serialize, Deserialize)]
struct Payload {
    format: u32,
    generation: u64,
}

/// What opening found.
pub(crate) enum Opened {
    /// An index of the current format, reflecting this store generation.
    At(u64),
    /// A new, empty index that must be filled from the records.
    Empty,
}

/// The index, its reader and its single writer.
pub(crate) struct SearchIndex {
    dir: PathBuf,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    indexed_generation: AtomicU64,
}

impl SearchIndex {
    /// Opens the index in `dir`, or creates an empty one when it is missing, unreadable or
    /// of another format (the caller then fills it from the records).
    pub(crate) fn open(
        dir: &Path,
        writer_memory_bytes: usize,
    ) -> Result<(SearchIndex, Opened), StoreError> {
        let (schema, fields) = build_schema();
        let budget = writer_memory_bytes.clamp(MIN_WRITER_BYTES, MAX_WRITER_BYTES);
        let existing = match open_existing(dir, &schema) {
            Ok(Some((index, generation))) => match start(&index, budget) {
                Ok(started) => Ok(Some((started, generation))),
                Err(TantivyError::LockFailure(LockError::LockBusy, _)) => {
                    return Err(locked(dir));
                }
                Err(e) => Err(e.to_string()),
            },
            Ok(None) => Ok(None),
            Err(reason) => Err(reason),
        };
        let ((writer, reader), opened) = match existing {
            Ok(Some((started, generation))) => (started, Opened::At(generation)),
            Ok(None) => {
                tracing::info!(
                    dir = %dir.display(),
                    "no search index yet; building it from the record store"
                );
                (create(dir, schema, budget)?, Opened::Empty)
            }
            Err(reason) => {
                tracing::warn!(
                    dir = %dir.display(),
                    %reason,
                    "search index unusable; rebuilding it from the record store"
                );
                (create(dir, schema, budget)?, Opened::Empty)
            }
        };
        let generation = match opened {
            Opened::At(generation) => generation,
            Opened::Empty => 0,
        };
        let search_index = SearchIndex {
            dir: dir.to_path_buf(),
            reader,
            writer: Mutex::new(writer),
            fields,
            indexed_generation: AtomicU64::new(generation),
        };
        Ok((search_index, opened))
    }

    /// The store generation the last commit reflects.
    pub(crate) fn indexed_generation(&self) -> u64 {
        self.indexed_generation.load(Ordering::SeqCst)
    }

    /// The single writer; holding it serializes every catalog write.
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, IndexWriter>, StoreError> {
        self.writer.lock().map_err(|_| StoreError::Poisoned)
    }

    /// Replaces the documents of `upserts`, deletes `removals`, and commits as `generation`.
    /// On failure the uncommitted changes are rolled back.
    pub(crate) fn apply<'a>(
        &self,
        writer: &mut IndexWriter,
        upserts: impl IntoIterator<Item = &'a Dataset>,
        removals: impl IntoIterator<Item = &'a str>,
        generation: u64,
    ) -> Result<(), StoreError> {
        let result = (|| {
            for id in removals {
                writer.delete_term(Term::from_field_text(self.fields.id, id));
            }
            for record in upserts {
                writer.delete_term(Term::from_field_text(self.fields.id, record.id.as_str()));
                writer.add_document(document(&self.fields, record))?;
            }
            self.commit(writer, generation)
        })();
        result.map_err(|cause| {
            self.roll_back(writer);
            self.error(cause)
        })
    }

    /// Drops every document and indexes `records` instead, committing as `generation`.
    /// Returns how many records were indexed.
    pub(crate) fn rebuild(
        &self,
        writer: &mut IndexWriter,
        records: impl Iterator<Item = Result<Dataset, StoreError>>,
        generation: u64,
    ) -> Result<u64, StoreError> {
        let result = (|| {
            writer.delete_all_documents().map_err(|e| self.error(e))?;
            let mut indexed = 0;
            for record in records {
                writer
                    .add_document(document(&self.fields, &record?))
                    .map_err(|e| self.error(e))?;
                indexed += 1;
            }
            self.commit(writer, generation).map_err(|e| self.error(e))?;
            Ok(indexed)
        })();
        if result.is_err() {
            self.roll_back(writer);
        }
        result
    }

    /// The total number of matches and the ids of the hits in `offset..offset + limit`.
    pub(crate) fn search(
        &self,
        query: &Query,
        sort: Sort,
        limit: usize,
        offset: usize,
    ) -> Result<(u64, Vec<String>), StoreError> {
        let searcher = self.reader.searcher();
        let found = (|| {
            let mut planner = Planner::new(&searcher, &self.fields, Utc::now());
            let (total, addresses) = planner.search(query, sort, limit.min(MAX_LIMIT), offset)?;
            Ok((total, ids_of(&searcher, &addresses)?))
        })();
        found.map_err(|e| self.error(e))
    }

    /// Facet counts among the matches of `query`.
    pub(crate) fn facets(&self, query: &Query, limit: usize) -> Result<Facets, StoreError> {
        let searcher = self.reader.searcher();
        let found = (|| {
            let matching = Planner::new(&searcher, &self.fields, Utc::now()).matching(query)?;
            crate::facets::count(&searcher, &*matching, limit)
        })();
        found.map_err(|e| self.error(e))
    }

    /// The id of the record whose id equals `id` ignoring case.
    pub(crate) fn find_id_ignoring_case(&self, id: &str) -> Result<Option<String>, StoreError> {
        let searcher = self.reader.searcher();
        let query = raw_term(self.fields.id_lower, &id.to_lowercase());
        let found = (|| {
            let hits = searcher.search(&*query, &TopDocs::with_limit(1).order_by_score())?;
            let addresses: Vec<DocAddress> = hits.into_iter().map(|(_, a)| a).collect();
            ids_of(&searcher, &addresses)
        })();
        let ids = found.map_err(|e| self.error(e))?;
        Ok(ids.into_iter().next())
    }

    fn commit(&self, writer: &mut IndexWriter, generation: u64) -> tantivy::Result<()> {
        let payload = Payload {
            format: FORMAT,
            generation,
        };
        let payload = serde_json::to_string(&payload)
            .map_err(|e| TantivyError::InternalError(e.to_string()))?;
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        self.reader.reload()?;
        self.indexed_generation.store(generation, Ordering::SeqCst);
        Ok(())
    }

    fn roll_back(&self, writer: &mut IndexWriter) {
        if let Err(e) = writer.rollback() {
            tracing::warn!(error = %e, "could not roll back the search index writer");
        }
    }

    fn error(&self, cause: TantivyError) -> StoreError {
        index_error(&self.dir, cause)
    }
}

fn index_error(dir: &Path, cause: TantivyError) -> StoreError {
    match cause {
        TantivyError::LockFailure(LockError::LockBusy, _) => locked(dir),
        cause => StoreError::Index {
            dir: dir.to_path_buf(),
            cause,
        },
    }
}

/// Another process writes this index: name the catalog directory it belongs to.
fn locked(dir: &Path) -> StoreError {
    StoreError::Locked {
        dir: dir.parent().unwrap_or(dir).to_path_buf(),
    }
}

/// The analyzer registered, the single writer and a reader that reloads only when told to
/// (after each commit, so a batch is searchable as soon as it is written).
fn start(index: &Index, writer_memory_bytes: usize) -> tantivy::Result<(IndexWriter, IndexReader)> {
    index.tokenizers().register(ANALYZER, index_analyzer());
    // One indexing thread: batches are small and the machine is shared with the daemon.
    let writer = index.writer_with_num_threads(1, writer_memory_bytes)?;
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?;
    Ok((writer, reader))
}

/// The index in `dir` and the generation it reflects; `None` if there is none; an error
/// saying why it cannot be used as it is.
fn open_existing(dir: &Path, schema: &Schema) -> Result<Option<(Index, u64)>, String> {
    if !dir.join("meta.json").exists() {
        return Ok(None);
    }
    let index = Index::open_in_dir(dir).map_err(|e| e.to_string())?;
    if index.schema() != *schema {
        return Err("it was built with another schema".to_string());
    }
    let metas = index.load_metas().map_err(|e| e.to_string())?;
    let payload = metas
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str::<Payload>(p).ok())
        .ok_or("its last commit does not say which records it reflects")?;
    if payload.format != FORMAT {
        return Err(format!(
            "it has format {}, this hubdex uses {FORMAT}",
            payload.format
        ));
    }
    Ok(Some((index, payload.generation)))
}

/// A fresh, empty index in `dir`, replacing whatever was there, with its writer and reader.
fn create(
    dir: &Path,
    schema: Schema,
    writer_memory_bytes: usize,
) -> Result<(IndexWriter, IndexReader), StoreError> {
    let io = |cause| StoreError::Io {
        path: dir.to_path_buf(),
        cause,
    };
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(io)?;
    }
    fs::create_dir_all(dir).map_err(io)?;
    Index::create_in_dir(dir, schema)
        .and_then(|index| start(&index, writer_memory_bytes))
        .map_err(|cause| index_error(dir, cause))
}

/// The ids of these documents, read from the `id` fast field.
fn ids_of(searcher: &Searcher, addresses: &[DocAddress]) -> tantivy::Result<Vec<String>> {
    let mut columns: HashMap<u32, Option<StrColumn>> = HashMap::new();
    let mut ids = Vec::with_capacity(addresses.len());
    for address in addresses {
        let column = match columns.entry(address.segment_ord) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let segment = searcher.segment_reader(address.segment_ord);
                entry.insert(segment.fast_fields().str("id")?)
            }
        };
        let mut id = String::new();
        if let Some(column) = column
            && let Some(ord) = column.term_ords(address.doc_id).next()
            && column.ord_to_str(ord, &mut id)?
        {
            ids.push(id);
        }
    }
    Ok(ids)
}
