//! One stemmed word of a query: it must be in the text of a record, and scores more where
//! it is also in the name or the tags.
//!
//! tantivy would answer this with a boolean query whose optional part (name or tags) is a
//! buffered union: each time the required part moves past the union's 4,096-document window,
//! the union clears its whole window and rescores every name and tag posting in the next one.
//! Relevance search visits a few thousand scattered matches, so that cost dominated it. Here
//! each optional term is a plain posting list that is only moved forward to the document
//! being scored.

use tantivy::query::{EnableScoring, Explanation, Query, Scorer, TermQuery, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, TantivyError, Term};

/// A required term, plus optional terms that add their weighted scores where present.
#[derive(Clone, Debug)]
pub(crate) struct WordQuery {
    required: TermQuery,
    optional: Vec<(TermQuery, Score)>,
}

impl WordQuery {
    /// `required` must match; each of `optional` adds its score times its weight.
    pub(crate) fn new(required: Term, optional: Vec<(Term, Score)>) -> Self {
        let scored = |term: Term| TermQuery::new(term, IndexRecordOption::WithFreqs);
        Self {
            required: scored(required),
            optional: optional
                .into_iter()
                .map(|(term, weight)| (scored(term), weight))
                .collect(),
        }
    }
}

impl Query for WordQuery {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let required = self.required.weight(scoring)?;
        // Without scores the optional terms change nothing: count the required term alone.
        if !scoring.is_scoring_enabled() {
            return Ok(required);
        }
        let optional = self
            .optional
            .iter()
            .map(|(query, weight)| Ok((query.weight(scoring)?, *weight)))
            .collect::<tantivy::Result<_>>()?;
        Ok(Box::new(WordWeight { required, optional }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.required.query_terms(visitor);
        for (query, _) in &self.optional {
            query.query_terms(visitor);
        }
    }
}

struct WordWeight {
    required: Box<dyn Weight>,
    optional: Vec<(Box<dyn Weight>, Score)>,
}

impl Weight for WordWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let required = self.required.scorer(reader, boost)?;
        let optional = self
            .optional
            .iter()
            .map(|(weight, times)| weight.scorer(reader, boost * times))
            .collect::<tantivy::Result<_>>()?;
        Ok(Box::new(WordScorer { required, optional }))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) != doc {
            return Err(TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )));
        }
        Ok(Explanation::new(
            "word in text, name and tags",
            scorer.score(),
        ))
    }

    fn count(&self, reader: &SegmentReader) -> tantivy::Result<u32> {
        self.required.count(reader)
    }
}

struct WordScorer {
    required: Box<dyn Scorer>,
    optional: Vec<Box<dyn Scorer>>,
}

impl DocSet for WordScorer {
    fn advance(&mut self) -> DocId {
        self.required.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.required.seek(target)
    }

    fn doc(&self) -> DocId {
        self.required.doc()
    }

    fn size_hint(&self) -> u32 {
        self.required.size_hint()
    }
}

impl Scorer for WordScorer {
    fn score(&mut self) -> Score {
        let doc = self.required.doc();
        let mut score = self.required.score();
        for optional in &mut self.optional {
            if optional.doc() < doc {
                optional.seek(doc);
            }
            if optional.doc() == doc {
                score += optional.score();
            }
        }
        score
    }
}
