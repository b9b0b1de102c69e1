//! The tantivy half of the catalog: a search index derived from the records.
//!
//! It holds no whole records (sled has them): a hit is a document address, which the `id`
//! fast field turns into the id to fetch from sled. Each commit carries the store generation
//! it reflects as its payload, so opening the catalog knows what the index missed.
//!
//! The writer exists only while the catalog writes: a batch opens it with tantivy's smallest
//! arena, commits and closes it; a bulk load (a walk of the whole catalog, a rebuild) opens
//! it with the larger bulk arena, commits every [`BULK_COMMIT_DOCS`] documents or
//! [`BULK_COMMIT_INTERVAL`], and closes it at the end, so an idle daemon holds neither the
//! arena nor the writer's threads. A bulk load leaves many segments; [`SearchIndex::compact`]
//! merges them into one afterwards, once everything is already searchable.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use hubdex_core::{Dataset, Facets, Query, Sort};
use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::columnar::StrColumn;
use tantivy::directory::error::LockError;
use tantivy::indexer::{LogMergePolicy, NoMergePolicy};
use tantivy::query::{BooleanQuery, Occur};
use tantivy::schema::Schema;
use tantivy::{
    DocAddress, Index, IndexReader, IndexSettings, IndexSortByField, IndexWriter, ReloadPolicy,
    Searcher, TantivyError, Term,
};

use crate::analysis::{ANALYZER, INITIALS, InitialsTokenizer, index_analyzer};
use crate::schema::{Fields, build_schema, document, names};
use crate::search::{Planner, raw_term};
use crate::segments::SegmentCache;
use crate::{Marks, StoreError};

/// Bumped whenever the schema or the analyzer changes, so an old index is rebuilt on open.
/// 2: ranking fields, CJK bigrams, stemming, keyword and size fields. 3: language names,
/// descriptions without the card template. 4: documents sorted by popularity, `initials`.
/// 5: `id_lower` only for ids with capitals. 6: fast-field dictionaries not compressed.
/// 7: `id` no longer stored (hits read it from its fast field).
const FORMAT: u32 = 7;
/// Most hits one search returns.
const MAX_LIMIT: usize = 1000;
/// Indexing threads of a bulk load, at most.
const MAX_BULK_THREADS: usize = 4;
/// Segments of a level that start a merge (tantivy's default is 8): fewer segments, less
/// per-segment work in every search.
const MERGE_AT_SEGMENTS: usize = 3;
/// tantivy's smallest per-thread writer arena.
const MIN_WRITER_BYTES: usize = 15_000_000;
/// Keep the arena well inside tantivy's u32 limit.
const MAX_WRITER_BYTES: usize = 3_000_000_000;
/// A bulk load commits once this many documents are pending...
pub(crate) const BULK_COMMIT_DOCS: usize = 250_000;
/// ... or when its last commit is this old, so searches during a long sync see its progress.
pub(crate) const BULK_COMMIT_INTERVAL: Duration = Duration::from_secs(15);

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
    index: Index,
    reader: IndexReader,
    writer: Mutex<Writer>,
    fields: Fields,
    indexed_generation: AtomicU64,
    bulk_memory_bytes: usize,
    /// What searches work out per segment and reuse.
    segments: SegmentCache,
}

/// The single writer's state. Holding its lock serializes every catalog write.
pub(crate) struct Writer {
    /// tantivy's writer, only while writing.
    open: Option<IndexWriter>,
    /// The open writer has the bulk arena.
    bulk: bool,
    /// The store generation of everything given to the index, committed or not.
    written: u64,
    /// Documents added or deleted since the last commit.
    pending: usize,
    /// When the index was last committed.
    last_commit: Instant,
    /// A bulk load ended since the last [`SearchIndex::compact`].
    compaction_due: bool,
}

impl Writer {
    /// The store generation of everything given to the index, committed or not: where a
    /// catch-up starts.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// True while tantivy's writer (its arena and threads) exists.
    #[cfg(test)]
    pub(crate) fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// True when a bulk load ended and left segments for [`SearchIndex::compact`] to merge.
    pub(crate) fn compaction_due(&self) -> bool {
        self.compaction_due
    }

    /// Makes a compaction due, for one a previous process did not get to.
    pub(crate) fn mark_compaction_due(&mut self) {
        self.compaction_due = true;
    }

    /// True when a bulk load has added enough since the last commit to commit now.
    pub(crate) fn commit_due(&self) -> bool {
        self.pending >= BULK_COMMIT_DOCS
            || (self.pending > 0 && self.last_commit.elapsed() >= BULK_COMMIT_INTERVAL)
    }
}

impl SearchIndex {
    /// Opens the index in `dir`, or creates an empty one when it is missing, unreadable or
    /// of another format (the caller then fills it from the records). No writer is opened
    /// until the first write; `bulk_memory_bytes` is the arena of bulk loads.
    pub(crate) fn open(
        dir: &Path,
        bulk_memory_bytes: usize,
    ) -> Result<(SearchIndex, Opened), StoreError> {
        let (schema, fields) = build_schema();
        let existing = match open_existing(dir, &schema) {
            Ok(Some((index, generation))) => match start(&index) {
                Ok(reader) => Ok(Some((index, reader, generation))),
                Err(e) => Err(e.to_string()),
            },
            Ok(None) => Ok(None),
            Err(reason) => Err(reason),
        };
        let (index, reader, opened) = match existing {
            Ok(Some((index, reader, generation))) => (index, reader, Opened::At(generation)),
            Ok(None) => {
                tracing::info!(
                    dir = %dir.display(),
                    "no search index yet; building it from the record store"
                );
                let (index, reader) = create(dir, schema)?;
                (index, reader, Opened::Empty)
            }
            Err(reason) => {
                tracing::warn!(
                    dir = %dir.display(),
                    %reason,
                    "search index unusable; rebuilding it from the record store"
                );
                let (index, reader) = create(dir, schema)?;
                (index, reader, Opened::Empty)
            }
        };
        let generation = match opened {
            Opened::At(generation) => generation,
            Opened::Empty => 0,
        };
        let writer = Writer {
            open: None,
            bulk: false,
            written: generation,
            pending: 0,
            last_commit: Instant::now(),
            compaction_due: false,
        };
        let search_index = SearchIndex {
            dir: dir.to_path_buf(),
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            indexed_generation: AtomicU64::new(generation),
            bulk_memory_bytes: bulk_memory_bytes.clamp(MIN_WRITER_BYTES, MAX_WRITER_BYTES),
            segments: SegmentCache::default(),
        };
        search_index.segments.warm(&search_index.reader.searcher());
        Ok((search_index, opened))
    }

    /// How many segments the last commit left.
    #[cfg(test)]
    pub(crate) fn segment_count(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// The store generation the last commit reflects.
    pub(crate) fn indexed_generation(&self) -> u64 {
        self.indexed_generation.load(Ordering::SeqCst)
    }

    /// The single writer; holding it serializes every catalog write.
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, Writer>, StoreError> {
        self.writer.lock().map_err(|_| StoreError::Poisoned)
    }

    /// Gives the index the changes of store generation `generation`: `upserts` (each with
    /// whether an older version may be indexed) replace or add documents, `removals` are
    /// deleted. Nothing is committed; see [`SearchIndex::commit`]. A `bulk` write opens the
    /// writer with the bulk arena. On failure everything uncommitted is rolled back.
    pub(crate) fn add<'a>(
        &self,
        writer: &mut Writer,
        upserts: impl IntoIterator<Item = (&'a Dataset, bool)>,
        removals: impl IntoIterator<Item = &'a str>,
        generation: u64,
        bulk: bool,
    ) -> Result<(), StoreError> {
        let mut pending = 0;
        let result = (|| {
            let tantivy = self.open_writer(writer, bulk)?;
            for id in removals {
                tantivy.delete_term(Term::from_field_text(self.fields.id, id));
                pending += 1;
            }
            for (record, existed) in upserts {
                if existed {
                    tantivy.delete_term(Term::from_field_text(self.fields.id, record.id.as_str()));
                }
                tantivy.add_document(document(&self.fields, record))?;
                pending += 1;
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                writer.written = generation;
                writer.pending += pending;
                Ok(())
            }
            Err(cause) => {
                self.close(writer, false);
                Err(self.error(cause))
            }
        }
    }

    /// Commits what was given to the index (if anything) as the generation written, so
    /// searches see it; with `close`, then waits for the merges under way and closes the
    /// writer, releasing its memory and threads. On failure everything uncommitted is
    /// rolled back and the writer closed.
    pub(crate) fn commit(&self, writer: &mut Writer, close: bool) -> Result<(), StoreError> {
        if writer.written != self.indexed_generation() || writer.pending > 0 {
            let generation = writer.written;
            let result = match writer.open.as_mut() {
                Some(tantivy) => self.commit_writer(tantivy, generation),
                None => Ok(()),
            };
            if let Err(cause) = result {
                self.close(writer, false);
                return Err(self.error(cause));
            }
            writer.pending = 0;
            writer.last_commit = Instant::now();
        }
        if close {
            self.close(writer, true);
        }
        Ok(())
    }

    /// Drops every document and indexes `records` instead, committing as `generation` and
    /// closing the writer. Returns how many records were indexed.
    pub(crate) fn rebuild(
        &self,
        writer: &mut Writer,
        records: impl Iterator<Item = Result<Dataset, StoreError>>,
        generation: u64,
    ) -> Result<u64, StoreError> {
        let result = (|| {
            let tantivy = self.open_writer(writer, true).map_err(|e| self.error(e))?;
            tantivy.delete_all_documents().map_err(|e| self.error(e))?;
            let mut indexed = 0;
            for record in records {
                tantivy
                    .add_document(document(&self.fields, &record?))
                    .map_err(|e| self.error(e))?;
                indexed += 1;
            }
            self.commit_writer(tantivy, generation)
                .map_err(|e| self.error(e))?;
            Ok(indexed)
        })();
        match result {
            Ok(indexed) => {
                writer.written = generation;
                writer.pending = 0;
                writer.last_commit = Instant::now();
                self.close(writer, true);
                Ok(indexed)
            }
            Err(e) => {
                self.close(writer, false);
                Err(e)
            }
        }
    }

    /// tantivy's writer, opened if needed: with the bulk arena for a bulk write, else with
    /// the smallest. A writer opened for small batches has nothing pending (each batch
    /// commits and closes it), so it is replaced when a bulk write comes.
    fn open_writer<'w>(
        &self,
        writer: &'w mut Writer,
        bulk: bool,
    ) -> tantivy::Result<&'w mut IndexWriter> {
        if bulk && !writer.bulk && writer.open.is_some() && writer.pending == 0 {
            self.close(writer, true);
        }
        if writer.open.is_none() {
            let budget = if bulk {
                self.bulk_memory_bytes
            } else {
                MIN_WRITER_BYTES
            };
            // A bulk load indexes on every core (the daemon has little else to do while it
            // walks the catalog); small batches on one thread.
            let threads = if bulk {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                cores
                    .min(MAX_BULK_THREADS)
                    .min(budget / MIN_WRITER_BYTES)
                    .max(1)
            } else {
                1
            };
            let tantivy = self.index.writer_with_num_threads(threads, budget)?;
            // A bulk load merges once, into one segment, after it closes (`compact`):
            // merging as it goes rewrote every document a few times over (a third of the
            // CPU of a full sync, profiled), and the sort by popularity makes each merge dear.
            if bulk {
                tantivy.set_merge_policy(Box::new(NoMergePolicy));
            } else {
                let mut policy = LogMergePolicy::default();
                policy.set_min_num_segments(MERGE_AT_SEGMENTS);
                tantivy.set_merge_policy(Box::new(policy));
            }
            writer.bulk = bulk;
            writer.last_commit = Instant::now();
            writer.open = Some(tantivy);
        }
        writer
            .open
            .as_mut()
            .ok_or_else(|| TantivyError::InternalError("the index writer did not open".into()))
    }

    /// Closes tantivy's writer: after waiting for its merges (`finish`, which after a bulk
    /// load makes a compaction due), or at once after rolling back what it has not committed.
    fn close(&self, writer: &mut Writer, finish: bool) {
        let Some(mut tantivy) = writer.open.take() else {
            return;
        };
        let bulk = std::mem::take(&mut writer.bulk);
        if finish {
            if let Err(e) = tantivy.wait_merging_threads() {
                tracing::warn!(error = %e, "a merge of the search index failed; it is retried at the next commit");
            }
            writer.compaction_due |= bulk;
        } else {
            if let Err(e) = tantivy.rollback() {
                tracing::warn!(error = %e, "could not roll back the search index writer");
            }
            writer.written = self.indexed_generation();
            writer.pending = 0;
        }
    }

    /// Merges every segment into one if a bulk load ended since the last call: each search
    /// pays per segment (dictionary lookups, scorer set-up), and a bulk load leaves dozens.
    /// Takes about 20 s for a million records, on one thread; it runs with a tantivy writer
    /// of its own, so other writes wait on `writer` meanwhile, but searches go on (on the
    /// segments as they were until the merge lands). A failed merge leaves the index correct
    /// and is not retried until the next bulk load. While a writer is open (a bulk load
    /// under way) it does nothing, and the compaction stays due.
    pub(crate) fn compact(&self, writer: &mut Writer) {
        if writer.open.is_some() || !std::mem::take(&mut writer.compaction_due) {
            return;
        }
        let merged = (|| {
            let segments = self.index.searchable_segment_ids()?;
            if segments.len() < 2 {
                return Ok(());
            }
            let started = Instant::now();
            let mut tantivy: IndexWriter =
                self.index.writer_with_num_threads(1, MIN_WRITER_BYTES)?;
            tantivy.set_merge_policy(Box::new(NoMergePolicy));
            tantivy.merge(&segments).wait()?;
            tantivy.wait_merging_threads()?;
            tracing::info!(
                segments = segments.len(),
                took_ms = started.elapsed().as_millis(),
                "merged the search index into one segment"
            );
            Ok::<(), TantivyError>(())
        })();
        match merged {
            Ok(()) => match self.reader.reload() {
                Ok(()) => self.segments.warm(&self.reader.searcher()),
                Err(e) => {
                    tracing::warn!(error = %e, "could not reload the search index after merging it")
                }
            },
            Err(e) => tracing::warn!(
                error = %e,
                "merging the search index into one segment failed; searches stay correct, a little slower"
            ),
        }
    }

    /// The total of `query`, the ids of its hits in `offset..offset + limit`, and with
    /// `facets`, that many values per facet among its matches.
    pub(crate) fn search(
        &self,
        query: &Query,
        sort: Sort,
        page: (usize, usize),
        marks: &Marks,
        facets: Option<usize>,
    ) -> Result<(u64, Vec<String>, Option<Facets>), StoreError> {
        let (limit, offset) = page;
        let searcher = self.reader.searcher();
        let found = (|| {
            let mut planner =
                Planner::new(&searcher, &self.fields, Utc::now(), marks, &self.segments);
            let found = planner.search(query, sort, limit.min(MAX_LIMIT), offset, facets)?;
            let ids = ids_of(&searcher, &found.addresses)?;
            Ok((found.total, ids, found.facets))
        })();
        found.map_err(|e| self.error(e))
    }

    /// A searcher on the last commit and the fields, for tests that plan queries by hand.
    #[cfg(test)]
    pub(crate) fn searcher_and_fields(&self) -> (Searcher, &Fields) {
        (self.reader.searcher(), &self.fields)
    }

    /// The id of the record whose id equals `id` ignoring case.
    pub(crate) fn find_id_ignoring_case(&self, id: &str) -> Result<Option<String>, StoreError> {
        let searcher = self.reader.searcher();
        let lower = id.to_lowercase();
        let query = BooleanQuery::new(vec![
            (Occur::Should, raw_term(self.fields.id_lower, &lower)),
            (Occur::Should, raw_term(self.fields.id, &lower)),
        ]);
        let found = (|| {
            let hits = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
            let addresses: Vec<DocAddress> = hits.into_iter().map(|(_, a)| a).collect();
            ids_of(&searcher, &addresses)
        })();
        let ids = found.map_err(|e| self.error(e))?;
        Ok(ids.into_iter().next())
    }

    fn commit_writer(&self, writer: &mut IndexWriter, generation: u64) -> tantivy::Result<()> {
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
        self.segments.warm(&self.reader.searcher());
        self.indexed_generation.store(generation, Ordering::SeqCst);
        Ok(())
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

/// The analyzer registered and a reader that reloads only when told to (after each
/// commit, so a batch is searchable as soon as it is committed).
fn start(index: &Index) -> tantivy::Result<IndexReader> {
    index.tokenizers().register(ANALYZER, index_analyzer());
    index
        .tokenizers()
        .register(INITIALS, InitialsTokenizer::new());
    index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
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
    if index.settings().sort_by_field != Some(popularity_order()) {
        return Err("its documents are not in popularity order".to_string());
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

/// A fresh, empty index in `dir`, replacing whatever was there, with its reader.
fn create(dir: &Path, schema: Schema) -> Result<(Index, IndexReader), StoreError> {
    let io = |cause| StoreError::Io {
        path: dir.to_path_buf(),
        cause,
    };
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(io)?;
    }
    fs::create_dir_all(dir).map_err(io)?;
    let settings = IndexSettings {
        sort_by_field: Some(popularity_order()),
        ..IndexSettings::default()
    };
    Index::builder()
        .schema(schema)
        .settings(settings)
        .create_in_dir(dir)
        .and_then(|index| start(&index).map(|reader| (index, reader)))
        .map_err(|cause| index_error(dir, cause))
}

/// Every segment keeps its documents most popular first, so a search ranked by popularity
/// can stop early (see `search::TopHits`).
fn popularity_order() -> IndexSortByField {
    IndexSortByField {
        field: names::PRIOR.to_string(),
        order: tantivy::Order::Desc,
    }
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
