//! Facet counts for a query, read from the keyword fast fields, capped in cost.
//!
//! Counting every match of a query that matches most of a million records would cost tens
//! of milliseconds per keystroke, so the collector keeps a uniform sample of at most about
//! [`SAMPLE`] matching documents and reads the facet columns for those alone. The sample is
//! chosen by a hash of the document, halving the rate whenever it overflows, so it is the
//! same for the same query and the same index; each segment's counts are scaled back up by
//! its rate. Up to [`SAMPLE`] matches, every match is read and the counts are exact. The
//! sample's values are read from the segment's [`FacetTable`], kept decoded in the
//! [`SegmentCache`]: through tantivy's columns, each value cost a few virtual calls, a block
//! decode and a cache miss per facet, which made reading the sample most of a query's time.

use std::collections::HashMap;
use std::sync::Arc;

use hubdex_core::{FacetCount, Facets};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::query::{Query, Weight};
use tantivy::{DocId, Score, Searcher, SegmentOrdinal, SegmentReader};

use crate::schema::names;
use crate::segments::SegmentCache;

/// About how many matching documents one query's facets read, over all segments.
const SAMPLE: u64 = 4_096;
/// A segment keeps at least this many, however small its share of the index.
const MIN_SEGMENT_SAMPLE: usize = 512;

/// The facets, by the fast field each counts.
pub(crate) const FACETS: [&str; 5] = [
    names::TASK,
    names::LANGUAGE,
    names::LICENSE,
    names::MODALITY,
    names::SIZE_BUCKET,
];

/// How many documents match `query`, and the counts of the `limit` most frequent values of
/// each facet among them.
pub(crate) fn count(
    searcher: &Searcher,
    cache: &SegmentCache,
    query: &dyn Query,
    limit: usize,
) -> tantivy::Result<(u64, Facets)> {
    let collector = FacetCollector {
        index_docs: searcher.num_docs().max(1),
        cache,
    };
    let counted = searcher.search(query, &collector)?;
    let mut facets = counted.values.into_iter();
    let mut take = || {
        let mut counts: Vec<FacetCount> = facets
            .next()
            .unwrap_or_default()
            .into_iter()
            .map(|(value, count)| FacetCount { value, count })
            .collect();
        counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        counts.truncate(limit);
        counts
    };
    let facets = Facets {
        task: take(),
        language: take(),
        license: take(),
        modality: take(),
        size: take(),
        counted: counted.read,
    };
    Ok((counted.matched, facets))
}

/// Samples each segment's matches in proportion to its size, then counts the sample.
struct FacetCollector<'a> {
    index_docs: u64,
    cache: &'a SegmentCache,
}

/// What a segment, or the whole index, counted: per facet, value → estimated matches.
#[derive(Default)]
struct Counted {
    values: Vec<HashMap<String, u64>>,
    /// Documents whose facet values were read.
    read: u64,
    /// Documents that match.
    matched: u64,
}

impl Collector for FacetCollector<'_> {
    type Fruit = Counted;
    type Child = SegmentSample;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentSample> {
        let share = SAMPLE * u64::from(segment.num_docs()) / self.index_docs;
        Ok(SegmentSample {
            table: self.cache.facet_table(segment)?,
            capacity: usize::try_from(share)
                .unwrap_or(usize::MAX)
                .max(MIN_SEGMENT_SAMPLE),
            level: 0,
            docs: Vec::new(),
            matched: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    /// Tantivy hands a segment with deleted documents to the collector one document at a
    /// time; this keeps blocks, and drops deleted documents inside the block loop.
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Counted> {
        let mut sample = self.for_segment(segment_ord, reader)?;
        match reader.alive_bitset() {
            Some(alive) => weight.for_each_no_score(reader, &mut |docs| {
                sample.add(docs, |doc| alive.is_alive(doc));
            })?,
            None => weight.for_each_no_score(reader, &mut |docs| sample.add(docs, |_| true))?,
        }
        Ok(sample.harvest())
    }

    fn merge_fruits(&self, segments: Vec<Counted>) -> tantivy::Result<Counted> {
        let mut merged = Counted {
            values: vec![HashMap::new(); FACETS.len()],
            read: 0,
            matched: 0,
        };
        for segment in segments {
            merged.read += segment.read;
            merged.matched += segment.matched;
            for (into, from) in merged.values.iter_mut().zip(segment.values) {
                for (value, count) in from {
                    *into.entry(value).or_default() += count;
                }
            }
        }
        Ok(merged)
    }
}

/// One segment's sample: the matching documents whose hash has `level` leading zero bits.
struct SegmentSample {
    table: Arc<FacetTable>,
    capacity: usize,
    level: u32,
    docs: Vec<DocId>,
    matched: u64,
}

impl SegmentSample {
    /// True when `doc` belongs to the sample at `level` (a fraction 2^-level of documents).
    fn kept(doc: DocId, level: u32) -> bool {
        level == 0 || doc.wrapping_mul(0x9E37_79B1).leading_zeros() >= level
    }

    /// Counts the matches of `docs` that are `alive`, and samples them.
    fn add(&mut self, docs: &[DocId], alive: impl Fn(DocId) -> bool) {
        // Every match is written and only the kept ones advance the end: no branch to
        // mispredict on a hash (this runs once per match of the query).
        let level = self.level;
        let start = self.docs.len();
        self.docs.resize(start + docs.len(), 0);
        let (mut end, mut matched) = (start, 0);
        for doc in docs {
            let alive = alive(*doc);
            matched += u64::from(alive);
            self.docs[end] = *doc;
            end += usize::from(alive & Self::kept(*doc, level));
        }
        self.docs.truncate(end);
        self.matched += matched;
        self.shrink();
    }

    /// Halves the sampling rate until the sample fits its capacity again.
    fn shrink(&mut self) {
        while self.docs.len() > self.capacity && self.level < 32 {
            self.level += 1;
            let level = self.level;
            self.docs.retain(|doc| Self::kept(*doc, level));
        }
    }
}

impl SegmentCollector for SegmentSample {
    type Fruit = Counted;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.add(&[doc], |_| true);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        self.add(docs, |_| true);
    }

    fn harvest(self) -> Counted {
        let scale = 1u64 << self.level.min(31);
        let table = &self.table;
        let mut per_ord = vec![0u64; table.ords_in_all];
        table.count_ords(&self.docs, &mut per_ord);
        let values = table
            .names
            .iter()
            .zip(&table.firsts)
            .map(|(names, first)| {
                let counts = per_ord.get(*first as usize..).unwrap_or_default();
                names
                    .iter()
                    .zip(counts)
                    .filter(|(_, count)| **count > 0)
                    .map(|(name, count)| (name.to_string(), count * scale))
                    .collect()
            })
            .collect();
        Counted {
            values,
            read: self.docs.len() as u64,
            matched: self.matched,
        }
    }
}

/// One segment's facet values, decoded once (when the segment is warmed after a commit, or
/// first searched) and shared by every query on it. Each document's ordinals of every facet
/// lie in one fixed-size row, so reading a sampled document costs one memory load (a sample
/// is spread over the whole segment, so nearly every such load misses the CPU's caches),
/// not a column decode per facet.
pub(crate) struct FacetTable {
    /// Per facet (in [`FACETS`] order), its values by ordinal.
    names: Vec<Box<[Box<str>]>>,
    /// Per facet, where its ordinals start in the numbering shared by all facets.
    firsts: Vec<u32>,
    /// How many values all facets have together.
    ords_in_all: usize,
    rows: Rows,
}

/// Ordinals a document keeps in its row; the few documents with more values (a dataset in
/// dozens of languages) keep the rest beside the rows.
const ROW_SLOTS: usize = 7;

/// The rows of shared ordinals, two bytes each while the facets have fewer than 65,536
/// values together (the Hub's catalog has a few thousand), else four.
enum Rows {
    Narrow(RowTable<u16>),
    Wide(RowTable<u32>),
}

/// Per document, how many values it has, then up to [`ROW_SLOTS`] of their ordinals.
struct RowTable<T> {
    rows: Box<[[T; ROW_SLOTS + 1]]>,
    /// The documents with more than [`ROW_SLOTS`] values, in order; the rest of the values
    /// of `more_docs[i]` are `more_ords[more_starts[i]..more_starts[i + 1]]`. Flat arrays, not
    /// an allocation per document.
    more_docs: Box<[DocId]>,
    more_starts: Box<[u32]>,
    more_ords: Box<[T]>,
}

impl<T: Copy + Default + Into<u32> + TryFrom<u32>> RowTable<T> {
    /// The rows of `docs` documents whose shared ordinals `ords_of` gives.
    fn build(docs: DocId, mut ords_of: impl FnMut(DocId, &mut Vec<u32>)) -> Self {
        let mut rows = Vec::with_capacity(docs as usize);
        let (mut more_docs, mut more_starts, mut more_ords) = (Vec::new(), vec![0u32], Vec::new());
        let mut ords = Vec::new();
        let narrow = |ord: u32| T::try_from(ord).unwrap_or_default();
        for doc in 0..docs {
            ords.clear();
            ords_of(doc, &mut ords);
            let mut row = [T::default(); ROW_SLOTS + 1];
            row[0] = narrow(u32::try_from(ords.len()).unwrap_or(u32::MAX));
            for (slot, ord) in row[1..].iter_mut().zip(&ords) {
                *slot = narrow(*ord);
            }
            if let Some(rest) = ords.get(ROW_SLOTS..).filter(|rest| !rest.is_empty()) {
                more_docs.push(doc);
                more_ords.extend(rest.iter().map(|ord| narrow(*ord)));
                more_starts.push(u32::try_from(more_ords.len()).unwrap_or(u32::MAX));
            }
            rows.push(row);
        }
        RowTable {
            rows: rows.into(),
            more_docs: more_docs.into(),
            more_starts: more_starts.into(),
            more_ords: more_ords.into(),
        }
    }

    /// The values of `doc` past its row's slots.
    fn more_of(&self, doc: DocId) -> &[T] {
        let Ok(i) = self.more_docs.binary_search(&doc) else {
            return &[];
        };
        let start = self.more_starts.get(i).copied().unwrap_or(0) as usize;
        let end = self.more_starts.get(i + 1).copied().unwrap_or(0) as usize;
        self.more_ords.get(start..end).unwrap_or_default()
    }

    /// Adds one to `counts[ord]` for each shared ordinal of each of `docs`. The rows of a
    /// batch are read before any is counted, so that their cache misses overlap instead of
    /// each waiting on the one before.
    fn count(&self, docs: &[DocId], counts: &mut [u64]) {
        const BATCH: usize = 16;
        let mut batch_rows = [[T::default(); ROW_SLOTS + 1]; BATCH];
        for batch in docs.chunks(BATCH) {
            for (row, doc) in batch_rows.iter_mut().zip(batch) {
                *row = self.rows.get(*doc as usize).copied().unwrap_or_default();
            }
            for (row, doc) in batch_rows.iter().zip(batch) {
                let values = row[0].into() as usize;
                let mut bump = |ord: &T| {
                    if let Some(count) = counts.get_mut((*ord).into() as usize) {
                        *count += 1;
                    }
                };
                row[1..=values.min(ROW_SLOTS)].iter().for_each(&mut bump);
                if values > ROW_SLOTS {
                    self.more_of(*doc).iter().for_each(&mut bump);
                }
            }
        }
    }
}

impl FacetTable {
    /// The facets of `reader`'s segment.
    pub(crate) fn read(reader: &SegmentReader) -> tantivy::Result<Self> {
        let columns = FACETS
            .iter()
            .map(|field| reader.fast_fields().str(field))
            .collect::<tantivy::Result<Vec<Option<StrColumn>>>>()?;
        let mut names = Vec::with_capacity(columns.len());
        let mut firsts = Vec::with_capacity(columns.len());
        let mut ords_in_all = 0u32;
        for column in &columns {
            let column_names = match column {
                Some(column) => names_of(column)?,
                None => Box::default(),
            };
            firsts.push(ords_in_all);
            ords_in_all = ords_in_all.saturating_add(column_names.len() as u32);
            names.push(column_names);
        }
        let ords_of = |doc: DocId, shared: &mut Vec<u32>| {
            for (column, first) in columns.iter().zip(&firsts) {
                if let Some(column) = column {
                    let ords = column.ords();
                    for row in ords.index.value_row_ids(doc) {
                        let ord = u32::try_from(ords.values.get_val(row)).unwrap_or(u32::MAX);
                        shared.push(first.saturating_add(ord));
                    }
                }
            }
        };
        let docs = reader.max_doc();
        let rows = if ords_in_all <= u32::from(u16::MAX) + 1 {
            Rows::Narrow(RowTable::build(docs, ords_of))
        } else {
            Rows::Wide(RowTable::build(docs, ords_of))
        };
        Ok(FacetTable {
            names,
            firsts,
            ords_in_all: ords_in_all as usize,
            rows,
        })
    }

    /// Adds one to `counts[ord]` for each shared ordinal of each of `docs`.
    fn count_ords(&self, docs: &[DocId], counts: &mut [u64]) {
        match &self.rows {
            Rows::Narrow(table) => table.count(docs, counts),
            Rows::Wide(table) => table.count(docs, counts),
        }
    }
}

/// The values of `column`, by ordinal.
fn names_of(column: &StrColumn) -> tantivy::Result<Box<[Box<str>]>> {
    let mut names = Vec::with_capacity(column.num_terms());
    let mut terms = column.dictionary().stream()?;
    while terms.advance() {
        names.push(String::from_utf8_lossy(terms.key()).into());
    }
    Ok(names.into())
}
