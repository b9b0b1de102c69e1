//! The most downloaded or most liked matches, found without visiting every match.
//!
//! Every segment keeps its documents in descending popularity-prior order, and the prior
//! grows with both downloads and likes ([`crate::schema::prior`]). So the prior of a
//! document caps its downloads (and its likes): once the page is full and the next
//! document's cap is below the worst kept value, no later document of the segment can get
//! in. An empty query or a filter sorted by downloads then reads a few dozen documents
//! instead of the whole catalog.

use std::cmp::Reverse;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{ColumnValues, StrColumn};
use tantivy::query::Weight;
use tantivy::{DocAddress, DocId, DocSet, Score, SegmentOrdinal, SegmentReader, TERMINATED};

use crate::best::Best;
use crate::schema::{self, names};
use crate::segments::{Priors, SegmentCache};

/// Which popularity count a page is sorted by, most first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Popularity {
    Downloads,
    Likes,
}

impl Popularity {
    fn field(self) -> &'static str {
        match self {
            Popularity::Downloads => names::DOWNLOADS,
            Popularity::Likes => names::LIKES,
        }
    }

    /// The largest count a document with this prior can have, rounded up.
    fn most(self, prior: f32) -> f64 {
        let weight = match self {
            Popularity::Downloads => schema::DOWNLOADS_WEIGHT,
            Popularity::Likes => schema::LIKES_WEIGHT,
        };
        // The margin covers the prior's rounding to `f32` (a relative 6e-8 of at most ~10,
        // over a weight of 0.25: under 3e-6 in the exponent).
        ((f64::from(prior) - 1.0) / weight + 1e-5).exp()
    }
}

/// Collects the `keep` matches with the highest count, ties by id (as the sorted search
/// without pruning orders them).
pub(crate) struct TopPopular<'a> {
    pub(crate) by: Popularity,
    /// How many hits are wanted (the page's offset plus its length).
    pub(crate) keep: usize,
    /// Where the segments' priors are read.
    pub(crate) cache: &'a SegmentCache,
}

/// A kept document: its count, and its id's rank in the segment's id dictionary (ranks
/// order like the ids themselves). Greater is better: a higher count, then the smaller id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Kept {
    count: u64,
    id_rank: Reverse<u64>,
    doc: Reverse<DocId>,
}

/// A segment's columns that the scan reads.
struct Columns {
    counts: Arc<dyn ColumnValues<u64>>,
    priors: Priors,
    ids: Option<StrColumn>,
}

impl Columns {
    fn open(
        reader: &SegmentReader,
        by: Popularity,
        cache: &SegmentCache,
    ) -> tantivy::Result<Columns> {
        let fast = reader.fast_fields();
        Ok(Columns {
            counts: fast.u64(by.field())?.first_or_default_col(0),
            priors: cache.priors(reader)?,
            ids: fast.str(names::ID)?,
        })
    }

    fn kept(&self, doc: DocId) -> Kept {
        let id_rank = self
            .ids
            .as_ref()
            .and_then(|ids| ids.term_ords(doc).next())
            .unwrap_or(u64::MAX);
        Kept {
            count: self.counts.get_val(doc),
            id_rank: Reverse(id_rank),
            doc: Reverse(doc),
        }
    }

    /// The segment's best, with their ids for ordering across segments. An id that cannot
    /// be read stays empty: it only breaks ties between equal counts.
    fn harvest(&self, best: Best<Kept>, segment: SegmentOrdinal) -> Vec<Ranked> {
        best.into_unordered()
            .map(|k| {
                let mut id = String::new();
                if let Some(ids) = &self.ids
                    && !matches!(ids.ord_to_str(k.id_rank.0, &mut id), Ok(true))
                {
                    id.clear();
                }
                Ranked {
                    count: k.count,
                    id,
                    address: DocAddress::new(segment, k.doc.0),
                }
            })
            .collect()
    }
}

/// A hit of any segment, ordered across segments by count, then id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ranked {
    count: u64,
    id: String,
    pub(crate) address: DocAddress,
}

impl Collector for TopPopular<'_> {
    type Fruit = Vec<Ranked>;
    type Child = SegmentPopular;

    fn for_segment(
        &self,
        segment_local_id: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentPopular> {
        Ok(SegmentPopular {
            segment: segment_local_id,
            columns: Columns::open(reader, self.by, self.cache)?,
            best: Best::new(self.keep),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<Vec<Ranked>>) -> tantivy::Result<Vec<Ranked>> {
        let mut hits: Vec<Ranked> = segments.into_iter().flatten().collect();
        hits.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.id.cmp(&b.id))
                .then_with(|| a.address.cmp(&b.address))
        });
        hits.truncate(self.keep);
        Ok(hits)
    }

    /// Scans the segment's matches in prior order and stops once no later match can have
    /// a count above the worst kept.
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment_ord: u32,
        reader: &SegmentReader,
    ) -> tantivy::Result<Vec<Ranked>> {
        if self.keep == 0 {
            return Ok(Vec::new());
        }
        let columns = Columns::open(reader, self.by, self.cache)?;
        let alive = reader.alive_bitset();
        let mut matches = weight.scorer(reader, 1.0)?;
        let mut best: Best<Kept> = Best::new(self.keep);
        let mut previous = f32::INFINITY;
        let mut doc = matches.doc();
        while doc != TERMINATED {
            if alive.is_none_or(|bits| bits.is_alive(doc)) {
                let prior = columns.priors.of(doc);
                // Stopping is only sound while documents really come in prior order.
                let ordered = prior <= previous;
                previous = prior;
                if ordered
                    && best
                        .worst()
                        .is_some_and(|worst| self.by.most(prior) < worst.count as f64)
                {
                    break;
                }
                best.offer(columns.kept(doc));
            }
            doc = matches.advance();
        }
        Ok(columns.harvest(best, segment_ord))
    }
}

/// One segment's hits when tantivy drives the collection (every match is offered).
pub(crate) struct SegmentPopular {
    segment: SegmentOrdinal,
    columns: Columns,
    best: Best<Kept>,
}

impl SegmentCollector for SegmentPopular {
    type Fruit = Vec<Ranked>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.best.offer(self.columns.kept(doc));
    }

    fn harvest(self) -> Vec<Ranked> {
        self.columns.harvest(self.best, self.segment)
    }
}
