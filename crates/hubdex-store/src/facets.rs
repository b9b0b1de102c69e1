//! Facet counts for a query, read from the keyword fast fields, capped in cost.
//!
//! Counting every match of a query that matches most of a million records would cost tens
//! of milliseconds per keystroke, so the collector keeps a uniform sample of at most about
//! [`SAMPLE`] matching documents and reads the facet columns for those alone. The sample is
//! chosen by a hash of the document, halving the rate whenever it overflows, so it is the
//! same for the same query and the same index; each segment's counts are scaled back up by
//! its rate. Up to [`SAMPLE`] matches, every match is read and the counts are exact. The
//! sample's values are read in one batch per column, and named from the segment's value
//! list kept in the [`SegmentCache`] (a column's dictionary is compressed: naming a value
//! from it costs a block decode).

use std::collections::HashMap;

use hubdex_core::{FacetCount, Facets};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::query::Query;
use tantivy::{DocId, Score, Searcher, SegmentOrdinal, SegmentReader};

use crate::schema::names;
use crate::segments::{SegmentCache, Values};

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
    /// Documents whose facet columns were read.
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
        let columns = FACETS
            .iter()
            .map(|field| {
                let column = segment.fast_fields().str(field)?;
                let values = self.cache.facet_values(segment, field)?;
                Ok(column.map(|column| (column, values)))
            })
            .collect::<tantivy::Result<Vec<_>>>()?;
        let share = SAMPLE * u64::from(segment.num_docs()) / self.index_docs;
        Ok(SegmentSample {
            columns,
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
    /// Per facet, the column and its values by ordinal (none when no document has one).
    columns: Vec<Option<(StrColumn, Values)>>,
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
        self.matched += 1;
        if Self::kept(doc, self.level) {
            self.docs.push(doc);
            self.shrink();
        }
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        self.matched += docs.len() as u64;
        let level = self.level;
        self.docs
            .extend(docs.iter().copied().filter(|doc| Self::kept(*doc, level)));
        self.shrink();
    }

    fn harvest(self) -> Counted {
        let scale = 1u64 << self.level.min(31);
        let mut values = Vec::with_capacity(self.columns.len());
        let (mut docs, mut rows, mut ords) = (Vec::new(), Vec::new(), Vec::new());
        for column in &self.columns {
            let mut counts: HashMap<String, u64> = HashMap::new();
            if let Some((column, names)) = column {
                let column = column.ords();
                docs.clear();
                rows.clear();
                column.row_ids_for_docs(&self.docs, &mut docs, &mut rows);
                ords.clear();
                ords.resize(rows.len(), 0u64);
                column.values.get_vals(&rows, &mut ords);
                let mut per_ord = vec![0u64; names.len()];
                for ord in &ords {
                    if let Some(count) = usize::try_from(*ord)
                        .ok()
                        .and_then(|ord| per_ord.get_mut(ord))
                    {
                        *count += 1;
                    }
                }
                for (name, count) in names.iter().zip(per_ord) {
                    if count > 0 {
                        counts.insert(name.to_string(), count * scale);
                    }
                }
            }
            values.push(counts);
        }
        Counted {
            values,
            read: self.docs.len() as u64,
            matched: self.matched,
        }
    }
}
