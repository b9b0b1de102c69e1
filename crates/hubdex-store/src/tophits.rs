//! The best hits of a relevance search, found without scoring every match.
//!
//! A hit's score is its text score times its popularity prior, and every segment keeps its
//! documents in descending prior order (the index is sorted so). Given an upper bound on the
//! query's text score, once the worst of the best hits so far scores at least the bound
//! times the prior of the next document, no later document of the segment can do better,
//! and the scan stops: a word matching half the catalog costs the few thousand documents
//! it takes to fill the page, not half a million scores.
//!
//! Terms of few documents that would loosen the bound for all (the exact-name boost, a rare
//! whole word being typed) are left out of it; instead the documents holding them that
//! come after the stop are scored one by one, in prior order, until a second bound (with
//! those terms) says none of the rest can make the cut: a name as common as `images` has
//! hundreds of exact matches.

use std::cmp::Ordering;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::Weight;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, DocSet, Score, SegmentOrdinal, SegmentReader, TERMINATED, Term};

use crate::best::Best;
use crate::segments::{Priors, SegmentCache};

/// Collects the `keep` best documents by text score times prior.
pub(crate) struct TopHits<'a> {
    /// How many hits are wanted (the page's offset plus its length).
    pub(crate) keep: usize,
    /// An upper bound of the query's text score in documents holding none of the
    /// `outliers`; `None` scores every match.
    pub(crate) bound: Option<Score>,
    /// Terms whose documents are looked at even after the scan stops.
    pub(crate) outliers: Vec<Term>,
    /// An upper bound of the query's text score in any document: the documents of the
    /// outlier terms are looked at only while one of them can still make the cut.
    pub(crate) outlier_bound: Option<Score>,
    /// Where the segments' priors are read.
    pub(crate) cache: &'a SegmentCache,
}

/// A scored document, ordered best first: higher score, then the earlier document.
#[derive(Debug, Clone, Copy)]
struct Hit {
    score: Score,
    doc: DocId,
}

impl PartialEq for Hit {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Hit {}

impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Hit {
    /// Greater is better.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.doc.cmp(&self.doc))
    }
}

/// The addresses of a segment's kept hits, with their scores.
fn addresses(best: Best<Hit>, segment: SegmentOrdinal) -> Vec<(Score, DocAddress)> {
    best.into_unordered()
        .map(|hit| (hit.score, DocAddress::new(segment, hit.doc)))
        .collect()
}

impl Collector for TopHits<'_> {
    type Fruit = Vec<(Score, DocAddress)>;
    type Child = SegmentHits;

    fn for_segment(
        &self,
        segment_local_id: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentHits> {
        Ok(SegmentHits {
            segment: segment_local_id,
            priors: self.cache.priors(reader)?,
            best: Best::new(self.keep),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, segments: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut hits: Vec<(Score, DocAddress)> = segments.into_iter().flatten().collect();
        hits.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        hits.truncate(self.keep);
        Ok(hits)
    }

    /// Scans the segment's matches in document (popularity) order and stops as soon as no
    /// later match can make the cut.
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment_ord: u32,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Fruit> {
        if self.keep == 0 {
            return Ok(Vec::new());
        }
        let priors = self.cache.priors(reader)?;
        let alive = reader.alive_bitset();
        let is_alive = |doc: DocId| alive.is_none_or(|bits| bits.is_alive(doc));
        let mut scorer = weight.scorer(reader, 1.0)?;
        let mut best: Best<Hit> = Best::new(self.keep);
        let mut previous = f32::INFINITY;
        let mut doc = scorer.doc();
        while doc != TERMINATED {
            if is_alive(doc) {
                let prior = priors.of(doc);
                // Pruning is only sound while documents really come in prior order.
                let ordered = prior <= previous;
                previous = prior;
                if let (true, Some(bound), Some(worst)) = (ordered, self.bound, best.worst())
                    && bound * prior <= worst.score
                {
                    break;
                }
                let score = scorer.score() * prior;
                best.offer(Hit { score, doc });
            }
            doc = scorer.advance();
        }
        if doc != TERMINATED {
            let mut previous = f32::INFINITY;
            for outlier in self.outliers_from(reader, doc)? {
                let prior = priors.of(outlier);
                let ordered = prior <= previous;
                previous = prior;
                if let (true, Some(bound), Some(worst)) =
                    (ordered, self.outlier_bound, best.worst())
                    && bound * prior <= worst.score
                {
                    break;
                }
                // A seek never goes back: one that went past this outlier left it unmatched.
                let at = match scorer.doc() {
                    current if current < outlier => scorer.seek(outlier),
                    current => current,
                };
                if at == outlier && is_alive(outlier) {
                    let score = scorer.score() * prior;
                    best.offer(Hit {
                        score,
                        doc: outlier,
                    });
                }
            }
        }
        Ok(addresses(best, segment_ord))
    }
}

impl TopHits<'_> {
    /// The segment's documents from `from` on that hold an outlier term, in order.
    fn outliers_from(&self, reader: &SegmentReader, from: DocId) -> tantivy::Result<Vec<DocId>> {
        let mut docs = Vec::new();
        for term in &self.outliers {
            let inverted = reader.inverted_index(term.field())?;
            if let Some(mut postings) = inverted.read_postings(term, IndexRecordOption::Basic)? {
                let mut doc = match postings.doc() {
                    first if first < from => postings.seek(from),
                    first => first,
                };
                while doc != TERMINATED {
                    docs.push(doc);
                    doc = postings.advance();
                }
            }
        }
        docs.sort_unstable();
        docs.dedup();
        Ok(docs)
    }
}

/// One segment's hits when tantivy drives the collection (every match is offered).
pub(crate) struct SegmentHits {
    segment: SegmentOrdinal,
    priors: Priors,
    best: Best<Hit>,
}

impl SegmentCollector for SegmentHits {
    type Fruit = Vec<(Score, DocAddress)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        let score = score * self.priors.of(doc);
        self.best.offer(Hit { score, doc });
    }

    fn harvest(self) -> Self::Fruit {
        addresses(self.best, self.segment)
    }
}
