//! Facet counts for a query, read from the keyword fast fields, capped in cost.
//!
//! Counting every match of a query that matches most of a million records would cost tens
//! of milliseconds per keystroke, so the collector keeps a uniform sample of at most about
//! [`SAMPLE`] matching documents and reads the facet columns for those alone. The sample is
//! chosen by a hash of the document, halving the rate whenever it overflows, so it is the
//! same for the same query and the same index; each segment's counts are scaled back up by
//! its rate. Up to [`SAMPLE`] matches, every match is read and the counts are exact.

use std::collections::HashMap;

use hubdex_core::{FacetCount, Facets};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::query::Query;
use tantivy::{DocId, Score, Searcher, SegmentOrdinal, SegmentReader};

use crate::schema::names;

/// About how many matching documents one query's facets read, over all segments.
const SAMPLE: u64 = 4_096;
/// A segment keeps at least this many, however small its share of the index.
const MIN_SEGMENT_SAMPLE: usize = 512;

/// The facets, by the fast field each counts.
const FACETS: [&str; 5] = [
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
    query: &dyn Query,
    limit: usize,
) -> tantivy::Result<(u64, Facets)> {
    let collector = FacetCollector {
        index_docs: searcher.num_docs().max(1),
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
struct FacetCollector {
    index_docs: u64,
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

impl Collector for FacetCollector {
    type Fruit = Counted;
    type Child = SegmentSample;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentSample> {
        let columns = FACETS
            .iter()
            .map(|field| segment.fast_fields().str(field))
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
    columns: Vec<Option<StrColumn>>,
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
}

impl SegmentCollector for SegmentSample {
    type Fruit = Counted;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.matched += 1;
        if !Self::kept(doc, self.level) {
            return;
        }
        self.docs.push(doc);
        while self.docs.len() > self.capacity && self.level < 32 {
            self.level += 1;
            let level = self.level;
            self.docs.retain(|doc| Self::kept(*doc, level));
        }
    }

    fn harvest(self) -> Counted {
        let scale = 1u64 << self.level.min(31);
        let mut values = Vec::with_capacity(self.columns.len());
        for column in &self.columns {
            let mut counts: HashMap<String, u64> = HashMap::new();
            if let Some(column) = column {
                let mut per_ord = vec![0u64; column.num_terms()];
                for doc in &self.docs {
                    for ord in column.term_ords(*doc) {
                        if let Some(count) = usize::try_from(ord)
                            .ok()
                            .and_then(|ord| per_ord.get_mut(ord))
                        {
                            *count += 1;
                        }
                    }
                }
                let mut value = String::new();
                for (ord, count) in per_ord.into_iter().enumerate() {
                    if count > 0 && column.ord_to_str(ord as u64, &mut value).unwrap_or(false) {
                        counts.insert(value.clone(), count * scale);
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
