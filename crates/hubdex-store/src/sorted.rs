//! Pages sorted by a date, the trending score, or a count in ascending order.
//!
//! Every match is read, as with tantivy's sorted collector, but that collector works out
//! two keys for each match (the value, then the id that breaks ties between equal values);
//! here a match's id is looked up only when its value is at least as good as the worst of
//! the page kept so far, which after the first few hundred matches is almost never. The
//! order is tantivy's: by value (a document without one last, whatever the direction),
//! then by id, then by address.
//!
//! A sort over most of the catalog (`sort:likes-asc`, `sort:updated` with no text) would
//! still read a million values, and in an ascending count sort most of them tie (no likes)
//! and need their id. So each segment keeps, per run of [`BOUND_BLOCK`] documents, the
//! greatest and least value and the least id ([`SortBounds`]); a block of matches whose
//! best possible key cannot beat the page's worst is passed over unread.

use std::cmp::Reverse;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Cardinality, Column, ColumnValues, StrColumn};
use tantivy::query::Weight;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::best::Best;
use crate::schema::names;
use crate::segments::SegmentCache;

/// Collects the `keep` matches with the best value of a fast field, ties by id.
pub(crate) struct TopSorted<'a> {
    /// The fast field (u64, i64 or f64) sorted by.
    pub(crate) field: &'static str,
    /// Greatest first; else smallest first.
    pub(crate) descending: bool,
    /// How many hits are wanted (the page's offset plus its length).
    pub(crate) keep: usize,
    /// Where the segments' [`SortBounds`] are kept.
    pub(crate) cache: &'a SegmentCache,
}

/// The fields a sorted scan reads, so the ones [`SortBounds`] covers.
const SORTED_FIELDS: [&str; 5] = [
    names::DOWNLOADS,
    names::LIKES,
    names::LAST_MODIFIED,
    names::CREATED_AT,
    names::TRENDING,
];

/// Documents per block of [`SortBounds`]: a quarter of a byte per document and sorted
/// field, and an eighth for the ids.
const BOUND_BLOCK: usize = 64;
/// The most blocks a run of matches may span and still be judged by its bounds: a sparse
/// filter's matches spread over many blocks, and reading their values is then cheaper.
const MAX_SPAN: usize = 16;

/// A segment's bounds per block of [`BOUND_BLOCK`] documents: for each of
/// [`SORTED_FIELDS`] the greatest and least value (in order-preserving `u64` form), and the
/// least id rank.
pub(crate) struct SortBounds {
    /// In [`SORTED_FIELDS`] order; `None` for a field some document lacks.
    fields: Vec<Option<ValueBounds>>,
    /// Absent when some document has no id rank (the bounds then judge by value only).
    least_ids: Option<Box<[u64]>>,
}

/// One field's greatest and least value per block.
struct ValueBounds {
    highs: Box<[u64]>,
    lows: Box<[u64]>,
}

impl SortBounds {
    /// The segment's bounds.
    pub(crate) fn read(reader: &SegmentReader) -> tantivy::Result<Self> {
        let fast = reader.fast_fields();
        let docs = reader.max_doc() as usize;
        let least_ids = fast
            .str(names::ID)?
            .and_then(|ids| full_ords(&ids))
            .map(|ids| ValueBounds::read(&*ids, docs).lows);
        let mut fields = Vec::with_capacity(SORTED_FIELDS.len());
        for field in SORTED_FIELDS {
            let column = fast
                .u64_lenient(field)?
                .map(|(column, _)| column)
                .filter(|column| column.get_cardinality() == Cardinality::Full);
            fields.push(column.map(|column| ValueBounds::read(&*column.values, docs)));
        }
        Ok(SortBounds { fields, least_ids })
    }

    /// Where `field`'s bounds are, if it is one of [`SORTED_FIELDS`].
    fn slot(field: &str) -> Option<usize> {
        SORTED_FIELDS.iter().position(|sorted| *sorted == field)
    }

    /// The best key and id rank any document from `first` to `last` can have in the field
    /// at `slot` (each may come from a different document, so together they bound every
    /// document's); `None` when the run spans too many blocks to be worth judging, or the
    /// field has no bounds.
    fn best(&self, slot: usize, first: DocId, last: DocId, descending: bool) -> Option<(u64, u64)> {
        let (from, to) = (first as usize / BOUND_BLOCK, last as usize / BOUND_BLOCK);
        if to < from || to - from >= MAX_SPAN {
            return None;
        }
        let values = self.fields.get(slot)?.as_ref()?;
        let key = if descending {
            values.highs.get(from..=to)?.iter().copied().max()?
        } else {
            !values.lows.get(from..=to)?.iter().copied().min()?
        };
        let id_rank = match &self.least_ids {
            Some(least) => least.get(from..=to)?.iter().copied().min()?,
            None => 0,
        };
        Some((key, id_rank))
    }
}

impl ValueBounds {
    /// The bounds of the first `docs` values of a column every document has.
    fn read(column: &dyn ColumnValues<u64>, docs: usize) -> Self {
        let blocks = docs.div_ceil(BOUND_BLOCK);
        let (mut highs, mut lows) = (Vec::with_capacity(blocks), Vec::with_capacity(blocks));
        let mut values = [0u64; BOUND_BLOCK];
        for start in (0..docs).step_by(BOUND_BLOCK) {
            let values = &mut values[..BOUND_BLOCK.min(docs - start)];
            column.get_range(start as u64, values);
            highs.push(values.iter().copied().max().unwrap_or(0));
            lows.push(values.iter().copied().min().unwrap_or(u64::MAX));
        }
        ValueBounds {
            highs: highs.into(),
            lows: lows.into(),
        }
    }
}

/// The id ranks of a column every document has one value of, read by document.
fn full_ords(ids: &StrColumn) -> Option<Arc<dyn ColumnValues<u64>>> {
    let ords = ids.ords();
    (ords.get_cardinality() == Cardinality::Full).then(|| Arc::clone(&ords.values))
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

impl Collector for TopSorted<'_> {
    type Fruit = Vec<Ranked>;
    type Child = SegmentSorted;

    fn for_segment(
        &self,
        segment_local_id: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentSorted> {
        let fast = reader.fast_fields();
        let ids = fast.str(names::ID)?;
        Ok(SegmentSorted {
            segment: segment_local_id,
            values: fast.u64_lenient(self.field)?.map(|(column, _)| column),
            id_ords: ids.as_ref().and_then(full_ords),
            ids,
            bounds: self.cache.sort_bounds(reader)?,
            slot: SortBounds::slot(self.field),
            descending: self.descending,
            best: Best::new(self.keep),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    /// Hands the matches over in blocks also when the segment has deletions (tantivy's own
    /// loop then offers them one by one, which forgoes the block reads and the bounds: after
    /// any update the catalog's big segment has deletions).
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Vec<Ranked>> {
        let mut segment = self.for_segment(segment_ord, reader)?;
        match reader.alive_bitset() {
            Some(alive) => {
                let mut kept = Vec::with_capacity(BLOCK);
                weight.for_each_no_score(reader, &mut |docs| {
                    kept.clear();
                    kept.extend(docs.iter().copied().filter(|doc| alive.is_alive(*doc)));
                    segment.collect_block(&kept);
                })?;
            }
            None => weight.for_each_no_score(reader, &mut |docs| segment.collect_block(docs))?,
        }
        Ok(segment.harvest())
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
    /// The id ranks by document, when every document has one: one read instead of a walk
    /// through the column's index (a sort in which most values tie reads many).
    id_ords: Option<Arc<dyn ColumnValues<u64>>>,
    bounds: Arc<SortBounds>,
    /// Where the sorted field's bounds are in `bounds`.
    slot: Option<usize>,
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
            if self.cannot_enter(chunk) {
                continue;
            }
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
    /// True when no match of `chunk` (in document order) can make the page, by the bounds
    /// of the blocks it spans.
    fn cannot_enter(&self, chunk: &[DocId]) -> bool {
        let (Some(slot), Some(worst)) = (self.slot, self.best.worst()) else {
            return false;
        };
        let (Some(&first), Some(&last)) = (chunk.first(), chunk.last()) else {
            return true;
        };
        self.bounds
            .best(slot, first, last, self.descending)
            .is_some_and(|(key, id_rank)| {
                (true, key, Reverse(id_rank)) < (worst.has_value, worst.key, worst.id_rank)
            })
    }

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
        let id_rank = match &self.id_ords {
            Some(ords) => ords.get_val(doc),
            None => self
                .ids
                .as_ref()
                .and_then(|ids| ids.term_ords(doc).next())
                .unwrap_or(u64::MAX),
        };
        self.best.offer(Kept {
            has_value,
            key,
            id_rank: Reverse(id_rank),
            doc: Reverse(doc),
        });
    }
}
