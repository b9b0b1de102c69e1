//! Pages sorted by a date, the trending score, or a count in ascending order.
//!
//! Every match is read, as with tantivy's sorted collector, but that collector works out
//! two keys for each match (the value, then the id that breaks ties between equal values);
//! here a match's id is looked up only when its value is at least as good as the worst of
//! the page kept so far, which after the first few hundred matches is almost never. The
//! order is tantivy's: by value (a document without one last, whatever the direction),
//! then by id, then by address.

use std::cmp::Reverse;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Cardinality, Column, StrColumn};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::best::Best;
use crate::schema::names;

/// Collects the `keep` matches with the best value of a fast field, ties by id.
pub(crate) struct TopSorted {
    /// The fast field (u64, i64 or f64) sorted by.
    pub(crate) field: &'static str,
    /// Greatest first; else smallest first.
    pub(crate) descending: bool,
    /// How many hits are wanted (the page's offset plus its length).
    pub(crate) keep: usize,
}

/// A kept document. Greater is better: a value before none, a better value, then the
/// smaller id (its rank in the segment's id dictionary orders like the ids), then the
/// smaller document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Kept {
    has_value: bool,
    /// The value's order-preserving `u64` form, inverted for an ascending sort.
    key: u64,
    id_rank: Reverse<u64>,
    doc: Reverse<DocId>,
}

/// A hit of any segment, ordered across segments by value, then id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ranked {
    has_value: bool,
    key: u64,
    id: String,
    pub(crate) address: DocAddress,
}

impl Collector for TopSorted {
    type Fruit = Vec<Ranked>;
    type Child = SegmentSorted;

    fn for_segment(
        &self,
        segment_local_id: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentSorted> {
        let fast = reader.fast_fields();
        Ok(SegmentSorted {
            segment: segment_local_id,
            values: fast.u64_lenient(self.field)?.map(|(column, _)| column),
            ids: fast.str(names::ID)?,
            descending: self.descending,
            best: Best::new(self.keep),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<Vec<Ranked>>) -> tantivy::Result<Vec<Ranked>> {
        let mut hits: Vec<Ranked> = segments.into_iter().flatten().collect();
        hits.sort_by(|a, b| {
            (b.has_value, b.key)
                .cmp(&(a.has_value, a.key))
                .then_with(|| a.id.cmp(&b.id))
                .then_with(|| a.address.cmp(&b.address))
        });
        hits.truncate(self.keep);
        Ok(hits)
    }
}

/// Values read at once from a column every document has (tantivy hands out blocks of
/// at most 64 matches).
const BLOCK: usize = 64;

/// One segment's best matches.
pub(crate) struct SegmentSorted {
    segment: SegmentOrdinal,
    /// The sorted field in its order-preserving `u64` form; none when no document of the
    /// segment has it.
    values: Option<Column<u64>>,
    ids: Option<StrColumn>,
    descending: bool,
    best: Best<Kept>,
}

impl SegmentCollector for SegmentSorted {
    type Fruit = Vec<Ranked>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let value = self.values.as_ref().and_then(|column| column.first(doc));
        self.offer(doc, value);
    }

    /// Reads a block's values in one call when every document has one (a document's row is
    /// then its id).
    fn collect_block(&mut self, docs: &[DocId]) {
        let Some(column) = self
            .values
            .clone()
            .filter(|column| column.get_cardinality() == Cardinality::Full)
        else {
            for doc in docs {
                self.collect(*doc, 0.0);
            }
            return;
        };
        let mut values = [0u64; BLOCK];
        for chunk in docs.chunks(BLOCK) {
            let values = &mut values[..chunk.len()];
            column.values.get_vals(chunk, values);
            for (doc, value) in chunk.iter().zip(values.iter()) {
                self.offer(*doc, Some(*value));
            }
        }
    }

    /// The segment's best, with their ids for ordering across segments. An id that cannot
    /// be read stays empty: it only breaks ties between equal values.
    fn harvest(self) -> Vec<Ranked> {
        let (ids, segment) = (self.ids, self.segment);
        self.best
            .into_unordered()
            .map(|k| {
                let mut id = String::new();
                if let Some(ids) = &ids
                    && !matches!(ids.ord_to_str(k.id_rank.0, &mut id), Ok(true))
                {
                    id.clear();
                }
                Ranked {
                    has_value: k.has_value,
                    key: k.key,
                    id,
                    address: DocAddress::new(segment, k.doc.0),
                }
            })
            .collect()
    }
}

impl SegmentSorted {
    /// Keeps `doc` if its `value` (in order-preserving `u64` form) can make the page; its
    /// id is looked up only then.
    fn offer(&mut self, doc: DocId, value: Option<u64>) {
        let has_value = value.is_some();
        let key = match value {
            Some(raw) if self.descending => raw,
            Some(raw) => !raw,
            None => 0,
        };
        if self
            .best
            .worst()
            .is_some_and(|worst| (has_value, key) < (worst.has_value, worst.key))
        {
            return;
        }
        let id_rank = self
            .ids
            .as_ref()
            .and_then(|ids| ids.term_ords(doc).next())
            .unwrap_or(u64::MAX);
        self.best.offer(Kept {
            has_value,
            key,
            id_rank: Reverse(id_rank),
            doc: Reverse(doc),
        });
    }
}
