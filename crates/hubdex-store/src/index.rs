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

use hubdex_core::{Dataset, Query, SortKey};
use serde::{Deserialize, Serialize};
use tantivy::collector::sort_key::{SortByStaticFastValue, SortByString};
use tantivy::collector::{Count, SortKeyComputer, TopDocs};
use tantivy::columnar::{ColumnValues, StrColumn};
use tantivy::directory::error::LockError;
use tantivy::fastfield::FastValue;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, DisjunctionMaxQuery, Occur, Query as TantivyQuery,
    TermQuery,
};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Score, Searcher,
    SegmentReader, TantivyDocument, TantivyError, Term,
};

use crate::StoreError;

/// Bumped whenever the schema or the analyzer changes, so an old index is rebuilt on open.
const FORMAT: u32 = 1;
/// The analyzer of the `text` field, registered on every open (tantivy does not persist it).
const TOKENIZER: &str = "hubdex";
/// Most hits one search returns.
const MAX_LIMIT: usize = 1000;
/// How many completions of the last typed token join the query, most frequent first.
const MAX_EXPANSIONS: usize = 32;
/// How many terms per segment are looked at when completing the last typed token.
const MAX_PREFIX_SCAN: usize = 20_000;
/// The score of a completion of the last token: below the BM25 of a whole-token match, and
/// the same for every completion, so while typing, popularity orders what a prefix finds
/// (a rare completion's high IDF would otherwise put obscure records first).
const COMPLETION_SCORE: Score = 0.5;
/// Added when the query is a record's whole id (`rajpurkar/squad`) or name (`squad`). Far
/// above any BM25 score, so such records come first, ordered among themselves by popularity.
const EXACT_BOOST: Score = 1000.0;
/// tantivy's smallest per-thread writer arena.
const MIN_WRITER_BYTES: usize = 15_000_000;
/// Keep the arena well inside tantivy's u32 limit.
const MAX_WRITER_BYTES: usize = 3_000_000_000;

/// The fields of the index.
struct Fields {
    /// The id as written: exact lookup, delete, and mapping hits back to records.
    id: Field,
    /// The id lowercased, for case-insensitive lookup and the exact-match boost.
    id_lower: Field,
    /// The name part of a namespaced id lowercased, for the exact-match boost. Absent for a
    /// canonical id (its name is its id), so no record gets the boost twice.
    name_lower: Field,
    /// The owner lowercased, for `author:`.
    author: Field,
    /// Everything free text searches: id parts, pretty name, author, description, tags.
    text: Field,
    downloads: Field,
    likes: Field,
    last_modified: Field,
    created_at: Field,
    trending: Field,
}

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
    analyzer: TextAnalyzer,
    indexed_generation: AtomicU64,
}

fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text_options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED | FAST),
        id_lower: builder.add_text_field("id_lower", STRING),
        name_lower: builder.add_text_field("name_lower", STRING),
        author: builder.add_text_field("author", STRING | FAST),
        text: builder.add_text_field("text", text_options),
        downloads: builder.add_u64_field("downloads", FAST),
        likes: builder.add_u64_field("likes", FAST),
        last_modified: builder.add_i64_field("last_modified", FAST),
        created_at: builder.add_i64_field("created_at", FAST),
        trending: builder.add_f64_field("trending", FAST),
    };
    (builder.build(), fields)
}

/// Words split on anything that is not a letter or digit (so `squad_v2` is `squad`, `v2`),
/// lowercased and folded to ASCII where possible; tokens over 40 bytes are dropped.
fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
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
            analyzer: analyzer(),
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
                writer.add_document(self.document(record))?;
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
                    .add_document(self.document(&record?))
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
        sort: SortKey,
        limit: usize,
        offset: usize,
    ) -> Result<(u64, Vec<String>), StoreError> {
        let searcher = self.reader.searcher();
        self.search_in(&searcher, query, sort, limit.min(MAX_LIMIT), offset)
            .map_err(|e| self.error(e))
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

    fn search_in(
        &self,
        searcher: &Searcher,
        query: &Query,
        sort: SortKey,
        limit: usize,
        offset: usize,
    ) -> tantivy::Result<(u64, Vec<String>)> {
        let (tantivy_query, has_text) = self.build_query(searcher, query)?;
        let query = &*tantivy_query;
        // No page past the last document can hold a hit; this also bounds the collector.
        if limit == 0 || offset >= searcher.num_docs() as usize {
            let total = searcher.search(query, &Count)?;
            return Ok((total as u64, Vec::new()));
        }
        let top = TopDocs::with_limit(limit).and_offset(offset);
        let (total, addresses) = match sort {
            SortKey::Relevance if has_text => {
                let (total, hits) =
                    searcher.search(query, &(Count, top.tweak_score(popularity)))?;
                (total, hits.into_iter().map(|(_, a)| a).collect())
            }
            SortKey::Relevance | SortKey::Downloads => {
                sorted(searcher, query, top, by::<u64>("downloads"))?
            }
            SortKey::Likes => sorted(searcher, query, top, by::<u64>("likes"))?,
            SortKey::LastModified => sorted(searcher, query, top, by::<i64>("last_modified"))?,
            SortKey::CreatedAt => sorted(searcher, query, top, by::<i64>("created_at"))?,
            SortKey::TrendingScore => sorted(searcher, query, top, by::<f64>("trending"))?,
        };
        Ok((total as u64, ids_of(searcher, &addresses)?))
    }

    /// Free-text words ANDed on `text` (the last token also as a prefix), `author:` as a
    /// filter, and a boost for a record whose id or name is the whole query. Returns the query
    /// and whether it has free text (which decides what Relevance means).
    fn build_query(
        &self,
        searcher: &Searcher,
        query: &Query,
    ) -> tantivy::Result<(Box<dyn TantivyQuery>, bool)> {
        let fields = &self.fields;
        let mut analyzer = self.analyzer.clone();
        let mut tokens = Vec::new();
        for word in &query.words {
            analyzer
                .token_stream(word)
                .process(&mut |token| tokens.push(token.text.clone()));
        }
        let mut clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
        if let Some((last, rest)) = tokens.split_last() {
            for token in rest {
                clauses.push((Occur::Must, text_term(fields.text, token)));
            }
            clauses.push((Occur::Must, self.prefix_query(searcher, last)?));
            let typed = query.words.join(" ").to_lowercase();
            for field in [fields.id_lower, fields.name_lower] {
                let boosted = ConstScoreQuery::new(raw_term(field, &typed), EXACT_BOOST);
                clauses.push((Occur::Should, Box::new(boosted)));
            }
        }
        if !query.authors.is_empty() {
            let authors = query
                .authors
                .iter()
                .map(|author| raw_term(fields.author, &author.to_lowercase()))
                .collect();
            let filter = ConstScoreQuery::new(Box::new(BooleanQuery::union(authors)), 0.0);
            clauses.push((Occur::Must, Box::new(filter)));
        }
        if clauses.is_empty() {
            return Ok((Box::new(AllQuery), false));
        }
        Ok((Box::new(BooleanQuery::new(clauses)), !tokens.is_empty()))
    }

    /// The token as typed, or any of its most frequent completions in the term dictionary
    /// (so `squ` finds `squad` while the user is still typing). A document scores by its
    /// best alternative, so one holding many completions does not outrank one holding the
    /// most likely one.
    fn prefix_query(
        &self,
        searcher: &Searcher,
        token: &str,
    ) -> tantivy::Result<Box<dyn TantivyQuery>> {
        let prefix = token.as_bytes();
        let mut doc_freqs: HashMap<Vec<u8>, u64> = HashMap::new();
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(self.fields.text)?;
            let mut terms = inverted.terms().range().ge(prefix).into_stream()?;
            let mut scanned = 0;
            while scanned < MAX_PREFIX_SCAN && terms.advance() {
                let key = terms.key();
                if !key.starts_with(prefix) {
                    break;
                }
                if key != prefix {
                    *doc_freqs.entry(key.to_vec()).or_default() +=
                        u64::from(terms.value().doc_freq);
                }
                scanned += 1;
            }
        }
        let mut completions: Vec<(String, u64)> = doc_freqs
            .into_iter()
            .filter_map(|(key, freq)| String::from_utf8(key).ok().map(|term| (term, freq)))
            .collect();
        completions.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        completions.truncate(MAX_EXPANSIONS);
        let mut alternatives = vec![text_term(self.fields.text, token)];
        for (term, _) in completions {
            let completion =
                ConstScoreQuery::new(text_term(self.fields.text, &term), COMPLETION_SCORE);
            alternatives.push(Box::new(completion));
        }
        Ok(Box::new(DisjunctionMaxQuery::new(alternatives)))
    }

    fn document(&self, record: &Dataset) -> TantivyDocument {
        let fields = &self.fields;
        let mut doc = TantivyDocument::default();
        let id = record.id.as_str();
        let name = record.id.name();
        doc.add_text(fields.id, id);
        doc.add_text(fields.id_lower, id.to_lowercase());
        if record.id.namespace().is_some() {
            doc.add_text(fields.name_lower, name.to_lowercase());
        }
        if let Some(owner) = record.owner() {
            doc.add_text(fields.author, owner.to_lowercase());
        }
        doc.add_text(fields.text, id);
        // `squad_v2` is also findable as `squadv2`.
        let joined: String = name.chars().filter(|c| c.is_alphanumeric()).collect();
        if joined.len() != name.len() {
            doc.add_text(fields.text, joined);
        }
        if let Some(author) = record.author.as_deref()
            && record.id.namespace() != Some(author)
        {
            doc.add_text(fields.text, author);
        }
        if let Some(pretty_name) = record.pretty_name() {
            doc.add_text(fields.text, pretty_name);
        }
        if let Some(description) = record.description.as_deref() {
            doc.add_text(fields.text, description);
        }
        for tag in &record.tags {
            match tag.split_once(':') {
                // Every dataset is hosted in `region:us`; it says nothing.
                Some(("region", _)) => {}
                Some((_, value)) => doc.add_text(fields.text, value),
                None => doc.add_text(fields.text, tag),
            }
        }
        doc.add_u64(fields.downloads, record.downloads);
        doc.add_u64(fields.likes, record.likes);
        if let Some(time) = record.last_modified {
            doc.add_i64(fields.last_modified, time.timestamp());
        }
        if let Some(time) = record.created_at {
            doc.add_i64(fields.created_at, time.timestamp());
        }
        doc.add_f64(fields.trending, record.trending_score);
        doc
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
    index.tokenizers().register(TOKENIZER, analyzer());
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

fn text_term(field: Field, text: &str) -> Box<dyn TantivyQuery> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

fn raw_term(field: Field, text: &str) -> Box<dyn TantivyQuery> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::Basic,
    ))
}

/// BM25 times a popularity prior, so a popular dataset wins among similar matches.
fn popularity(segment: &SegmentReader) -> impl Fn(DocId, Score) -> Score + use<> {
    let downloads = segment
        .fast_fields()
        .u64("downloads")
        .ok()
        .map(|column| column.first_or_default_col(0));
    move |doc, score| {
        let downloads = downloads.as_ref().map_or(0, |column| column.get_val(doc));
        score * (1.0 + (downloads as Score).ln_1p())
    }
}

/// Descending by a fast field, ties by id so pages are stable.
fn by<T: FastValue>(field: &str) -> ((SortByStaticFastValue<T>, Order), (SortByString, Order)) {
    (
        (SortByStaticFastValue::for_field(field), Order::Desc),
        (SortByString::for_field("id"), Order::Asc),
    )
}

fn sorted<C>(
    searcher: &Searcher,
    query: &dyn TantivyQuery,
    top: TopDocs,
    sort_key: C,
) -> tantivy::Result<(usize, Vec<DocAddress>)>
where
    C: SortKeyComputer + Send + 'static,
    C::SortKey: 'static + Clone + Send + Sync + std::fmt::Debug,
{
    let (total, hits) = searcher.search(query, &(Count, top.order_by(sort_key)))?;
    Ok((total, hits.into_iter().map(|(_, a)| a).collect()))
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
