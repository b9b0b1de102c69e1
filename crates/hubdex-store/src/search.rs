//! From a [`Query`] to ranked hits.
//!
//! # Matching
//!
//! The words typed side by side ([`Query::words_typed`]) are the query's free text. Each
//! must match the combined `text` field, after dropping English stop words (unless nothing
//! else is left) and stemming. The last word also matches every frequent completion of
//! itself (as you type); while it is one or two letters long it looks only at names. Phrases,
//! words inside groups, `OR`, exclusions and filters are matched as written. The index
//! expands what records say where it is cheap to do once: a `language:ko` tag is also the
//! word `korean` (see the schema), so no query pays for expansion.
//!
//! # Ranking
//!
//! BM25 on `text`, plus BM25 on `name` (ids, pretty names; [`NAME_WEIGHT`]) and on `tags`
//! ([`TAGS_WEIGHT`]), so a word in an id outranks the same word in a description; a record
//! whose id, name or pretty name *is* the free text gets [`EXACT_BOOST`], which puts it
//! first. The sum is multiplied by the record's popularity prior (log downloads and likes,
//! precomputed at index time). Segments keep their documents in descending prior order,
//! so the best hits are found without scoring every match ([`TopHits`]), and the first one
//! or two typed letters are a single lookup in the `initials` field.
//!
//! # When few records match
//!
//! With fewer than [`FEW`] strict matches, a relevance search runs once more, forgiving:
//! words of 5+ characters also match their spelling variants within one edit (two from 9
//! characters), and of several words, most (not all) must match, the more the better. If that
//! finds more, it is the answer. Other orders stay strict (a typo-tolerant list sorted by likes
//! would bury the real matches), except that a strict search that finds nothing also tries
//! spelling variants.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::ops::Bound;

use chrono::{DateTime, Utc};
use hubdex_core::{
    Condition, Counter, Expr, Facets, Flag, Order, Query, SizeFilter, Sort, SortKey, Text,
    TimeField,
};
use tantivy::collector::Count;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, EmptyQuery,
    FuzzyTermQuery, InvertedIndexRangeQuery, Occur, PhraseQuery, Query as TantivyQuery, RangeQuery,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, Score, Searcher, Term};

use crate::Marks;
use crate::analysis::{self, MAX_INITIALS, is_stop_word, plain_words};
use crate::popular::{Popularity, TopPopular};
use crate::schema::{Fields, names};
use crate::segments::SegmentCache;
use crate::sorted::TopSorted;
use crate::tophits::TopHits;
use crate::word::WordQuery;

/// Weight of a word's BM25 in ids and pretty names, added to its BM25 in the whole text.
pub(crate) const NAME_WEIGHT: Score = 2.0;
/// Weight of a word's BM25 in tag values, added to its BM25 in the whole text.
pub(crate) const TAGS_WEIGHT: Score = 0.5;
/// Added when the free text is a record's whole id, name or pretty name. Far above any
/// BM25 score, so such records come first, ordered among themselves by popularity.
pub(crate) const EXACT_BOOST: Score = 1000.0;
/// Fewer strict matches than this make a relevance search forgiving.
pub(crate) const FEW: usize = 10;
/// How many completions of the last typed word join the query, most frequent first.
const MAX_COMPLETIONS: usize = 32;
/// How many terms per segment are looked at when completing the last typed word.
const MAX_PREFIX_SCAN: usize = 5_000;
/// The score of a completion of the last word: below the BM25 of a whole-word match, and
/// the same for every completion, so while typing, popularity orders what a prefix finds
/// (a rare completion's high IDF would otherwise put obscure records first).
const COMPLETION_SCORE: Score = 0.5;
/// BM25's term-frequency saturation in tantivy: a term's score is below idf × (1 + k1).
const BM25_K1: Score = 1.2;
/// A word being typed that is a whole word in at most this many records is an outlier of
/// the score bound (see [`Plan::outliers`]).
const RARE_WORD_DOCS: u64 = 2_000;
/// Scales the score bound up a little: float sums differ in their last bits.
const BOUND_MARGIN: Score = 1.001;
/// Suffixes the English stemmer removes, or the start of them: a typed word that is a stem
/// plus the start of one of these is on its way to a word with that stem.
const SUFFIXES: &[&str] = &[
    "ability", "able", "al", "ance", "ation", "ed", "ence", "ent", "er", "es", "est", "ful",
    "ibility", "ible", "ic", "ies", "ing", "ion", "ism", "ist", "ity", "ive", "ize", "ly", "ment",
    "ness", "ous", "s", "y",
];
/// How many spelling variants of a word join a forgiving query, most frequent first.
const MAX_VARIANTS: usize = 8;
/// A spelling variant's score relative to the word itself.
const VARIANT_WEIGHT: Score = 0.6;

/// One token of the free text.
#[derive(Debug, Clone)]
struct Token {
    /// Lowercased and folded, as typed.
    plain: String,
    /// Stemmed: the form the ranking fields index.
    stem: String,
    /// The last token of the word being typed.
    prefix: bool,
    /// A stop word that is kept only because it is being typed: optional.
    optional: bool,
}

/// How forgiving a search is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Every word as typed.
    Strict,
    /// Spelling variants of long words.
    Typos,
    /// Spelling variants, and most words rather than all.
    Forgiving,
}

/// A query prepared for one searcher.
pub(crate) struct Planner<'a> {
    searcher: &'a Searcher,
    fields: &'a Fields,
    analyzer: TextAnalyzer,
    now: DateTime<Utc>,
    marks: &'a Marks,
    cache: &'a SegmentCache,
}

/// The tantivy query for a mode, and whether it ranks by text.
struct Plan {
    query: Box<dyn TantivyQuery>,
    scored: bool,
    /// An upper bound of the text score of any record holding none of the `outliers`,
    /// when the query's shape gives one: what lets a relevance search stop early
    /// ([`TopHits`]).
    bound: Option<Score>,
    /// Terms of few records that may score above `bound`: the exact-name term, and rare
    /// whole words being typed (their completions score far less).
    outliers: Vec<Term>,
    /// An upper bound of the text score of any record, outliers included.
    outlier_bound: Option<Score>,
}

/// The most a part of a query can add to the text score: in records holding none of the
/// plan's outlier terms, and in any record.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    without_outliers: Score,
    any: Score,
}

impl Bounds {
    fn same(most: Score) -> Self {
        Self {
            without_outliers: most,
            any: most,
        }
    }

    fn max(self, most: Score) -> Self {
        Self {
            without_outliers: self.without_outliers.max(most),
            any: self.any.max(most),
        }
    }

    fn plus(self, other: Bounds) -> Self {
        Self {
            without_outliers: self.without_outliers + other.without_outliers,
            any: self.any + other.any,
        }
    }
}

/// What a search found: the total, the page, and the facets when asked for.
pub(crate) struct Found {
    pub(crate) total: u64,
    pub(crate) addresses: Vec<DocAddress>,
    pub(crate) facets: Option<Facets>,
}

impl<'a> Planner<'a> {
    pub(crate) fn new(
        searcher: &'a Searcher,
        fields: &'a Fields,
        now: DateTime<Utc>,
        marks: &'a Marks,
        cache: &'a SegmentCache,
    ) -> Self {
        cache.keep_only(searcher);
        Self {
            searcher,
            fields,
            analyzer: analysis::query_analyzer(),
            now,
            marks,
            cache,
        }
    }

    /// The query's total, the addresses of the hits in `offset..offset + limit`, and with
    /// `facets`, the counts of that many values per facet among the matches.
    pub(crate) fn search(
        &mut self,
        query: &Query,
        sort: Sort,
        limit: usize,
        offset: usize,
        facets: Option<usize>,
    ) -> tantivy::Result<Found> {
        let strict = self.plan(query, Mode::Strict)?;
        let relevance = sort.key == SortKey::Relevance && strict.scored;
        let (total, counts) = self.count(&strict, facets)?;
        let retry = match (relevance, total) {
            (true, total) if total < FEW as u64 => Some(Mode::Forgiving),
            (false, 0) => Some(Mode::Typos),
            _ => None,
        };
        let mut chosen = (strict, total, counts);
        if let Some(mode) = retry {
            let forgiving = self.plan(query, mode)?;
            let (total, counts) = self.count(&forgiving, facets)?;
            if total > chosen.1 {
                chosen = (forgiving, total, counts);
            }
        }
        let (plan, total, facets) = chosen;
        let addresses = self.page(&plan, sort, relevance, total, limit, offset)?;
        Ok(Found {
            total,
            addresses,
            facets,
        })
    }

    /// How many records the plan matches, and with `facets`, the facet counts.
    fn count(&self, plan: &Plan, facets: Option<usize>) -> tantivy::Result<(u64, Option<Facets>)> {
        Ok(match facets {
            Some(limit) => {
                let (total, counts) =
                    crate::facets::count(self.searcher, self.cache, &*plan.query, limit)?;
                (total, Some(counts))
            }
            None => (self.searcher.search(&*plan.query, &Count)? as u64, None),
        })
    }

    /// The addresses of the hits in `offset..offset + limit`, best first.
    fn page(
        &self,
        plan: &Plan,
        sort: Sort,
        relevance: bool,
        total: u64,
        limit: usize,
        offset: usize,
    ) -> tantivy::Result<Vec<DocAddress>> {
        let query = &*plan.query;
        if limit == 0 || offset as u64 >= total {
            return Ok(Vec::new());
        }
        if relevance {
            let collector = TopHits {
                keep: offset.saturating_add(limit),
                bound: plan.bound,
                outliers: plan.outliers.clone(),
                outlier_bound: plan.outlier_bound,
                cache: self.cache,
            };
            let hits = self.searcher.search(query, &collector)?;
            return Ok(hits.into_iter().skip(offset).map(|(_, a)| a).collect());
        }
        let popular = match (sort.key, sort.order) {
            (SortKey::Relevance | SortKey::Downloads, Order::Descending) => {
                Some(Popularity::Downloads)
            }
            (SortKey::Likes, Order::Descending) => Some(Popularity::Likes),
            _ => None,
        };
        if let Some(by) = popular {
            let collector = TopPopular {
                by,
                keep: offset.saturating_add(limit),
                cache: self.cache,
            };
            let hits = self.searcher.search(query, &collector)?;
            return Ok(hits
                .into_iter()
                .skip(offset)
                .map(|hit| hit.address)
                .collect());
        }
        let field = match sort.key {
            SortKey::Relevance | SortKey::Downloads => names::DOWNLOADS,
            SortKey::Likes => names::LIKES,
            SortKey::LastModified => names::LAST_MODIFIED,
            SortKey::CreatedAt => names::CREATED_AT,
            SortKey::TrendingScore => names::TRENDING,
        };
        let collector = TopSorted {
            field,
            descending: sort.order == Order::Descending,
            keep: offset.saturating_add(limit),
            cache: self.cache,
        };
        let hits = self.searcher.search(query, &collector)?;
        Ok(hits
            .into_iter()
            .skip(offset)
            .map(|hit| hit.address)
            .collect())
    }

    fn plan(&mut self, query: &Query, mode: Mode) -> tantivy::Result<Plan> {
        let words = query.words_typed();
        let tokens = self.tokens(&words);
        let mut clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
        let mut scored = false;
        let mut bound: Option<Bounds> = Some(Bounds::same(0.0));
        let mut outliers = Vec::new();
        if !tokens.is_empty() {
            scored = true;
            let required: Vec<&Token> = tokens.iter().filter(|t| !t.optional).collect();
            let relax = mode == Mode::Forgiving && required.len() >= 2;
            let mut word_clauses = Vec::new();
            for token in &tokens {
                let occur = if token.optional || relax {
                    Occur::Should
                } else {
                    Occur::Must
                };
                let (query, most) = self.token_query(token, mode, &mut outliers)?;
                bound = bound.map(|sum| sum.plus(most));
                word_clauses.push((occur, query));
            }
            if relax {
                let n = required.len();
                let needed = n - (n / 3).max(1);
                let mut words = BooleanQuery::new(word_clauses);
                words.set_minimum_number_should_match(needed.max(1));
                clauses.push((Occur::Must, Box::new(words)));
            } else {
                clauses.extend(word_clauses);
            }
            let typed: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
            let key = analysis::key(&typed.join(" "));
            // One letter is a first keystroke, not the name of a dataset called `a`.
            if key.chars().count() > 1 {
                let term = Term::from_field_text(self.fields.keys, &key);
                let boost = ConstScoreQuery::new(raw_term(self.fields.keys, &key), EXACT_BOOST);
                clauses.push((Occur::Should, Box::new(boost)));
                outliers.push(term);
                bound = bound.map(|sum| Bounds {
                    any: sum.any + EXACT_BOOST,
                    ..sum
                });
            }
        }
        let top: &[Expr] = match &query.expr {
            Some(Expr::And(parts)) => parts,
            Some(one) => std::slice::from_ref(one),
            None => &[],
        };
        for part in top {
            if matches!(part, Expr::Text(text) if !text.phrase) {
                continue;
            }
            match part {
                Expr::Not(inner) => {
                    if let Some(excluded) = self.expr(inner, mode)? {
                        clauses.push((Occur::MustNot, excluded.0));
                    }
                }
                part => match self.expr(part, mode)? {
                    // Phrases and groups with words: no bound is worked out for their scores.
                    Some((query, true)) => {
                        scored = true;
                        bound = None;
                        clauses.push((Occur::Must, query));
                    }
                    // Filters only narrow: they add nothing to the score.
                    Some((query, false)) => {
                        clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(query, 0.0))));
                    }
                    None => {}
                },
            }
        }
        if !clauses.iter().any(|(occur, _)| *occur == Occur::Must) {
            clauses.push((
                Occur::Must,
                Box::new(ConstScoreQuery::new(Box::new(AllQuery), 0.0)),
            ));
        }
        Ok(Plan {
            query: Box::new(BooleanQuery::new(clauses)),
            scored,
            // A rounding margin: the bound is summed in another order than the scores.
            bound: bound.map(|sum| sum.without_outliers * BOUND_MARGIN),
            outlier_bound: bound.map(|sum| sum.any * BOUND_MARGIN),
            outliers,
        })
    }

    /// The free text's tokens, stop words dropped unless nothing else is left.
    fn tokens(&mut self, words: &[&Text]) -> Vec<Token> {
        let mut tokens = Vec::new();
        for word in words {
            let mut found = self.word_tokens(&word.text);
            if word.prefix
                && let Some(last) = found.last_mut()
            {
                last.prefix = true;
            }
            tokens.extend(found);
        }
        if tokens.iter().all(|t| is_stop_word(&t.plain)) {
            return tokens;
        }
        tokens
            .into_iter()
            .filter_map(|mut t| {
                if !is_stop_word(&t.plain) {
                    Some(t)
                } else if t.prefix {
                    t.optional = true;
                    Some(t)
                } else {
                    None
                }
            })
            .collect()
    }

    fn word_tokens(&mut self, text: &str) -> Vec<Token> {
        let plain = plain_words(text);
        let stems = analysis::terms(&mut self.analyzer, text);
        if plain.len() != stems.len() {
            // A stemmed token was dropped (too long after stemming?): fall back to stems.
            return stems
                .into_iter()
                .map(|stem| Token {
                    plain: stem.clone(),
                    stem,
                    prefix: false,
                    optional: false,
                })
                .collect();
        }
        plain
            .into_iter()
            .zip(stems)
            .map(|(plain, stem)| Token {
                plain,
                stem,
                prefix: false,
                optional: false,
            })
            .collect()
    }

    /// One free-text token: its BM25 in text, name and tags, and in forgiving modes its
    /// spelling variants; a prefix token also its completions. With the most it can score
    /// in a record holding none of the `outliers` it adds to, and in any record.
    fn token_query(
        &self,
        token: &Token,
        mode: Mode,
        outliers: &mut Vec<Term>,
    ) -> tantivy::Result<(Box<dyn TantivyQuery>, Bounds)> {
        if token.prefix && token.plain.chars().count() <= MAX_INITIALS {
            // The first keystrokes: every record with a word in its id or pretty name that
            // starts so scores the same, so the most popular ones show. One Chinese,
            // Japanese or Korean character is a word of its own: it looks in all the text.
            let starts: Box<dyn TantivyQuery> = if analysis::is_bigram_text(&token.plain) {
                let field = self.fields.text;
                let last = format!("{}{}", token.plain, char::MAX);
                Box::new(InvertedIndexRangeQuery::new(
                    Bound::Included(Term::from_field_text(field, &token.plain)),
                    Bound::Included(Term::from_field_text(field, &last)),
                ))
            } else {
                raw_term(self.fields.initials, &token.plain)
            };
            let query = ConstScoreQuery::new(starts, COMPLETION_SCORE);
            return Ok((Box::new(query), Bounds::same(COMPLETION_SCORE)));
        }
        let mut alternatives: Vec<Box<dyn TantivyQuery>> = vec![self.word_query(&token.stem)];
        let whole = Term::from_field_text(self.fields.text, &token.stem);
        // While a word is typed, most records match it through a completion; the few with
        // the typed letters as a whole word are looked at one by one instead of raising the
        // bound for all.
        let word = self.word_bound(&token.stem)?;
        let mut most = if token.prefix && self.searcher.doc_freq(&whole)? <= RARE_WORD_DOCS {
            outliers.push(whole);
            Bounds {
                without_outliers: 0.0,
                any: word,
            }
        } else {
            Bounds::same(word)
        };
        if mode != Mode::Strict {
            for variant in self.variants(token)? {
                most = most.max(VARIANT_WEIGHT * self.word_bound(&variant)?);
                let query = BoostQuery::new(self.word_query(&variant), VARIANT_WEIGHT);
                alternatives.push(Box::new(query));
            }
        }
        if token.prefix {
            let field = self.fields.text;
            for completion in self.completions(field, token)? {
                most = most.max(COMPLETION_SCORE);
                let query = ConstScoreQuery::new(raw_term(field, &completion), COMPLETION_SCORE);
                alternatives.push(Box::new(query));
            }
        }
        let query = match alternatives.len() {
            1 => alternatives.remove(0),
            _ => Box::new(DisjunctionMaxQuery::new(alternatives)),
        };
        Ok((query, most))
    }

    /// The most [`Planner::word_query`] can score for `stem`: BM25 never exceeds its term
    /// weight, idf × (1 + k1), whatever the term frequency and length.
    fn word_bound(&self, stem: &str) -> tantivy::Result<Score> {
        let docs: u64 = self
            .searcher
            .segment_readers()
            .iter()
            .map(|segment| u64::from(segment.max_doc()))
            .sum();
        let most = |field: Field| -> tantivy::Result<Score> {
            let with = self
                .searcher
                .doc_freq(&Term::from_field_text(field, stem))?;
            if with == 0 || docs < with {
                return Ok(0.0);
            }
            let idf = (1.0 + ((docs - with) as Score + 0.5) / (with as Score + 0.5)).ln();
            Ok(idf * (1.0 + BM25_K1))
        };
        let fields = self.fields;
        Ok(
            most(fields.text)?
                + NAME_WEIGHT * most(fields.name)?
                + TAGS_WEIGHT * most(fields.tags)?,
        )
    }

    /// A stemmed word: must be in `text`; scores there and in `name` and `tags`.
    fn word_query(&self, stem: &str) -> Box<dyn TantivyQuery> {
        let fields = self.fields;
        let term = |field: Field| Term::from_field_text(field, stem);
        Box::new(WordQuery::new(
            term(fields.text),
            vec![
                (term(fields.name), NAME_WEIGHT),
                (term(fields.tags), TAGS_WEIGHT),
            ],
        ))
    }

    /// Indexed terms that complete the token, most frequent first: terms that start with it,
    /// and a term it starts with that is one to three characters shorter when what it lacks
    /// begins an English suffix (the stem of the word being typed: `comprehensi` is on its
    /// way to `comprehension`, indexed as `comprehens`).
    fn completions(&self, field: Field, token: &Token) -> tantivy::Result<Vec<String>> {
        let prefix = token.plain.as_bytes();
        let chars: Vec<usize> = token.plain.char_indices().map(|(i, _)| i).collect();
        let shorter: Vec<&[u8]> = chars
            .iter()
            .skip(4.max(chars.len().saturating_sub(3)))
            .filter(|end| {
                let cut = &token.plain[**end..];
                SUFFIXES.iter().any(|suffix| suffix.starts_with(cut))
            })
            .map(|end| &prefix[..*end])
            .collect();
        let mut candidates = Candidates::new(MAX_COMPLETIONS);
        for segment in self.searcher.segment_readers() {
            let scan = || -> tantivy::Result<Vec<Vec<u8>>> {
                let inverted = segment.inverted_index(field)?;
                let dictionary = inverted.terms();
                let mut terms = dictionary.range().ge(prefix).into_stream()?;
                let mut top = SegmentTop::new(MAX_COMPLETIONS);
                let mut scanned = 0;
                while scanned < MAX_PREFIX_SCAN && terms.advance() {
                    let key = terms.key();
                    if !key.starts_with(prefix) {
                        break;
                    }
                    if key != token.stem.as_bytes() {
                        top.offer(terms.value().doc_freq, key);
                    }
                    scanned += 1;
                }
                for stem in &shorter {
                    if *stem != token.stem.as_bytes()
                        && let Some(info) = dictionary.get(stem)?
                    {
                        top.offer(info.doc_freq, stem);
                    }
                }
                Ok(top.into_terms())
            };
            candidates.add(&self.cache.completions(segment, field, &token.plain, scan)?);
        }
        candidates.most_frequent(self.searcher, field)
    }

    /// Indexed terms within one edit of the token (two from 9 characters) that start like it,
    /// most frequent first; none for tokens under 5 characters, nor for words common enough
    /// in the catalog to be meant as typed.
    fn variants(&self, token: &Token) -> tantivy::Result<Vec<String>> {
        let length = token.plain.chars().count();
        let distance = match length {
            0..5 => return Ok(Vec::new()),
            5..9 => 1,
            _ => 2,
        };
        let term = Term::from_field_text(self.fields.text, &token.stem);
        if self.searcher.doc_freq(&term)? >= FEW as u64 {
            return Ok(Vec::new());
        }
        // Whole terms only, also for the word being typed: a fuzzy *prefix* would take in
        // every completion of every near miss, thousands of terms. And the first character
        // (two for two edits) must be right, as in Lucene's `prefixLength`: misspellings
        // rarely start a word, and walking the whole dictionary (every pair of Chinese
        // characters is a term) would cost milliseconds per segment.
        let anchor: String = token.stem.chars().take(usize::from(distance)).collect();
        let mut end = anchor.clone().into_bytes();
        if let Some(last) = end.last_mut() {
            *last = last.saturating_add(1);
        }
        let automaton = FuzzyTermQuery::new(term, distance, true).automaton()?;
        let mut candidates = Candidates::new(MAX_VARIANTS);
        for segment in self.searcher.segment_readers() {
            let inverted = segment.inverted_index(self.fields.text)?;
            let mut terms = inverted
                .terms()
                .search(&automaton)
                .ge(anchor.as_bytes())
                .lt(&end)
                .into_stream()?;
            let mut top = SegmentTop::new(MAX_VARIANTS);
            let mut scanned = 0;
            while scanned < MAX_PREFIX_SCAN && terms.advance() {
                if terms.key() != token.stem.as_bytes() {
                    top.offer(terms.value().doc_freq, terms.key());
                }
                scanned += 1;
            }
            candidates.add(&top.into_terms());
        }
        candidates.most_frequent(self.searcher, self.fields.text)
    }

    /// A part of the query other than the free text. `None` when it matches everything
    /// (text without tokens); the flag says whether it scores by text.
    fn expr(
        &mut self,
        expr: &Expr,
        mode: Mode,
    ) -> tantivy::Result<Option<(Box<dyn TantivyQuery>, bool)>> {
        Ok(match expr {
            Expr::And(parts) => {
                let mut clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
                let mut scored = false;
                for part in parts {
                    match part {
                        Expr::Not(inner) => {
                            if let Some((query, _)) = self.expr(inner, mode)? {
                                clauses.push((Occur::MustNot, query));
                            }
                        }
                        part => {
                            if let Some((query, has_text)) = self.expr(part, mode)? {
                                scored |= has_text;
                                clauses.push((Occur::Must, query));
                            }
                        }
                    }
                }
                if clauses.is_empty() {
                    return Ok(None);
                }
                if !clauses.iter().any(|(occur, _)| *occur == Occur::Must) {
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                Some((Box::new(BooleanQuery::new(clauses)), scored))
            }
            Expr::Or(parts) => {
                let mut alternatives = Vec::new();
                let mut scored = false;
                for part in parts {
                    // An alternative that matches everything makes the OR match everything.
                    let Some((query, has_text)) = self.expr(part, mode)? else {
                        return Ok(None);
                    };
                    scored |= has_text;
                    alternatives.push(query);
                }
                Some((Box::new(BooleanQuery::union(alternatives)), scored))
            }
            Expr::Not(inner) => self.expr(inner, mode)?.map(|(excluded, _)| {
                let query: Box<dyn TantivyQuery> = Box::new(BooleanQuery::new(vec![
                    (Occur::Must, Box::new(AllQuery)),
                    (Occur::MustNot, excluded),
                ]));
                (query, false)
            }),
            Expr::Text(text) => self.text(text, mode)?.map(|query| (query, true)),
            Expr::Filter(filter) => Some((
                Box::new(ConstScoreQuery::new(self.condition(&filter.condition), 0.0)),
                false,
            )),
        })
    }

    /// A word or phrase outside the free text.
    fn text(&mut self, text: &Text, mode: Mode) -> tantivy::Result<Option<Box<dyn TantivyQuery>>> {
        let mut tokens = self.word_tokens(&text.text);
        if tokens.is_empty() {
            return Ok(None);
        }
        if text.phrase && tokens.len() > 1 {
            let terms = tokens
                .iter()
                .enumerate()
                .map(|(i, t)| (i, Term::from_field_text(self.fields.text, &t.stem)))
                .collect();
            return Ok(Some(Box::new(PhraseQuery::new_with_offset(terms))));
        }
        if text.prefix
            && let Some(last) = tokens.last_mut()
        {
            last.prefix = true;
        }
        let mut clauses = Vec::new();
        for token in &tokens {
            clauses.push((
                Occur::Must,
                self.token_query(token, mode, &mut Vec::new())?.0,
            ));
        }
        Ok(Some(Box::new(BooleanQuery::new(clauses))))
    }

    /// A filter's matching documents (unscored).
    fn condition(&self, condition: &Condition) -> Box<dyn TantivyQuery> {
        let fields = self.fields;
        match condition {
            Condition::Keyword { field, values } => {
                let field = fields.keyword(*field);
                let terms = values.iter().map(|v| raw_term(field, v)).collect();
                Box::new(BooleanQuery::union(terms))
            }
            Condition::Count { field, min, max } => {
                let field = match field {
                    Counter::Downloads => fields.downloads,
                    Counter::Likes => fields.likes,
                };
                u64_range(field, *min, *max)
            }
            Condition::Time { field, window } => {
                let field = match field {
                    TimeField::Updated => fields.last_modified,
                    TimeField::Created => fields.created_at,
                };
                let after = window.after.map(|p| p.resolve(self.now).timestamp());
                let before = window.before.map(|p| p.resolve(self.now).timestamp());
                let low = after.unwrap_or(i64::MIN);
                match before {
                    Some(before) if before <= low => Box::new(EmptyQuery),
                    Some(before) => i64_range(field, low, before - 1),
                    None => i64_range(field, low, i64::MAX),
                }
            }
            Condition::Size(SizeFilter::Bytes(min, max)) => u64_range(fields.bytes, *min, *max),
            Condition::Size(SizeFilter::Rows(min, max)) => {
                if min > max {
                    return Box::new(EmptyQuery);
                }
                Box::new(BooleanQuery::intersection(vec![
                    u64_range(fields.rows_min, *min, u64::MAX),
                    u64_range(fields.rows_max, 0, *max),
                ]))
            }
            Condition::Size(SizeFilter::Bucket(bucket)) => {
                raw_term(fields.size_bucket, bucket.as_str())
            }
            Condition::Flag { field, value } => match field {
                Flag::Gated => Box::new(TermQuery::new(
                    Term::from_field_bool(fields.gated, *value),
                    IndexRecordOption::Basic,
                )),
                Flag::Followed => self.marked(&self.marks.followed, *value),
                Flag::Downloaded => self.marked(&self.marks.downloaded, *value),
            },
        }
    }

    /// The records whose id is in `ids` (`yes`), or every other record.
    fn marked(&self, ids: &HashSet<String>, yes: bool) -> Box<dyn TantivyQuery> {
        let listed: Box<dyn TantivyQuery> = if ids.is_empty() {
            Box::new(EmptyQuery)
        } else {
            let terms = ids
                .iter()
                .map(|id| Term::from_field_text(self.fields.id, id));
            Box::new(TermSetQuery::new(terms))
        };
        if yes {
            listed
        } else {
            Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery)),
                (Occur::MustNot, listed),
            ]))
        }
    }
}

/// The most frequent terms of one segment's dictionary among those offered: a bounded heap,
/// so scanning thousands of terms allocates only for the few that may make the cut.
struct SegmentTop {
    limit: usize,
    heap: BinaryHeap<Reverse<(u32, Vec<u8>)>>,
}

impl SegmentTop {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            heap: BinaryHeap::with_capacity(limit + 1),
        }
    }

    fn offer(&mut self, doc_freq: u32, term: &[u8]) {
        if self.heap.len() >= self.limit
            && self
                .heap
                .peek()
                .is_some_and(|Reverse((least, _))| *least >= doc_freq)
        {
            return;
        }
        self.heap.push(Reverse((doc_freq, term.to_vec())));
        if self.heap.len() > self.limit {
            self.heap.pop();
        }
    }

    fn into_terms(self) -> Vec<Vec<u8>> {
        self.heap
            .into_iter()
            .map(|Reverse((_, term))| term)
            .collect()
    }
}

/// Terms some segment ranks among its most frequent, ranked again by their frequency in
/// the whole index.
struct Candidates {
    limit: usize,
    terms: HashSet<Vec<u8>>,
}

impl Candidates {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            terms: HashSet::new(),
        }
    }

    fn add(&mut self, terms: &[Vec<u8>]) {
        self.terms.extend(terms.iter().cloned());
    }

    /// The `limit` most frequent candidates in `field`, ties by term.
    fn most_frequent(self, searcher: &Searcher, field: Field) -> tantivy::Result<Vec<String>> {
        let mut counted = Vec::with_capacity(self.terms.len());
        for term in self.terms {
            let Ok(text) = String::from_utf8(term) else {
                continue;
            };
            let doc_freq = searcher.doc_freq(&Term::from_field_text(field, &text))?;
            counted.push((text, doc_freq));
        }
        counted.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counted.truncate(self.limit);
        Ok(counted.into_iter().map(|(text, _)| text).collect())
    }
}

pub(crate) fn raw_term(field: Field, text: &str) -> Box<dyn TantivyQuery> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::Basic,
    ))
}

fn u64_range(field: Field, min: u64, max: u64) -> Box<dyn TantivyQuery> {
    if min > max {
        return Box::new(EmptyQuery);
    }
    Box::new(RangeQuery::new(
        Bound::Included(Term::from_field_u64(field, min)),
        Bound::Included(Term::from_field_u64(field, max)),
    ))
}

fn i64_range(field: Field, min: i64, max: i64) -> Box<dyn TantivyQuery> {
    if min > max {
        return Box::new(EmptyQuery);
    }
    Box::new(RangeQuery::new(
        Bound::Included(Term::from_field_i64(field, min)),
        Bound::Included(Term::from_field_i64(field, max)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::collector::SortKeyComputer;
    use tantivy::collector::TopDocs;
    use tantivy::collector::sort_key::{SortByStaticFastValue, SortByString};
    use tantivy::fastfield::FastValue;

    /// tantivy's own sorted search, which the scans must agree with: by `field`, then id.
    fn by<T: FastValue>(
        field: &str,
        order: tantivy::Order,
    ) -> (
        (SortByStaticFastValue<T>, tantivy::Order),
        (SortByString, tantivy::Order),
    ) {
        (
            (SortByStaticFastValue::for_field(field), order),
            (SortByString::for_field(names::ID), tantivy::Order::Asc),
        )
    }

    fn sorted<C>(
        searcher: &Searcher,
        query: &dyn TantivyQuery,
        top: TopDocs,
        sort_key: C,
    ) -> tantivy::Result<Vec<DocAddress>>
    where
        C: SortKeyComputer + Send + 'static,
        C::SortKey: 'static + Clone + Send + Sync + std::fmt::Debug,
    {
        let hits = searcher.search(query, &top.order_by(sort_key))?;
        Ok(hits.into_iter().map(|(_, a)| a).collect())
    }
    use crate::{Catalog, CatalogOptions};
    use hubdex_core::Dataset;
    use tempfile::TempDir;

    const WORDS: [&str; 12] = [
        "speech",
        "sentiment",
        "reviews",
        "translation",
        "medical",
        "questions",
        "answers",
        "korean",
        "code",
        "math",
        "news",
        "speaker",
    ];

    /// Records with words, names and popularity spread so that rankings differ by query.
    fn records(batch: u64, count: u64) -> Vec<Dataset> {
        (0..count)
            .map(|i| {
                let n = batch * 1_000 + i;
                let word = |k: u64| WORDS[((n * k + k) % WORDS.len() as u64) as usize];
                let id = format!("org{}/{}-{}-{n}", n % 7, word(3), word(5));
                let mut d = Dataset::new(id.parse().unwrap());
                // `sent`: a rare whole word that also starts a common one.
                let rare = if n.is_multiple_of(50) { "sent" } else { "" };
                d.description = Some(format!(
                    "{} {} {} and {} {rare}",
                    word(7),
                    word(11),
                    word(13),
                    word(3)
                ));
                d.downloads = (n * 7_919) % 100_003;
                d.likes = (n * 31) % 97;
                d
            })
            .collect()
    }

    fn small_catalog(dir: &TempDir) -> Catalog {
        let options = CatalogOptions {
            cache_capacity_bytes: 8 << 20,
            writer_memory_bytes: 20_000_000,
        };
        Catalog::open(dir.path(), options).unwrap()
    }

    /// Several segments, and `changed` (updates make deleted documents in the older ones).
    fn segmented_catalog(dir: &TempDir, changed: &[Dataset]) -> Catalog {
        let catalog = small_catalog(dir);
        for batch in 0..3 {
            catalog.upsert_batch(&records(batch, 400)).unwrap();
        }
        catalog.upsert_batch(changed).unwrap();
        catalog
    }

    /// What stopping early must not change: the page scoring every match would give.
    #[test]
    fn pruned_relevance_pages_equal_scoring_every_match() {
        let dir = TempDir::new().unwrap();
        let mut changed = records(1, 100);
        for record in &mut changed {
            record.downloads += 50_000;
        }
        // Many records named exactly `speech` (exact-name outliers), popular and not.
        changed.extend((0..60u64).map(|k| {
            let mut named = Dataset::new(format!("team{k}/speech").parse().unwrap());
            named.description = Some(format!("{} recordings", WORDS[k as usize % 12]));
            named.downloads = if k < 5 { k * 20_011 } else { 0 };
            named
        }));
        let catalog = segmented_catalog(&dir, &changed);
        let (searcher, fields) = catalog.index.searcher_and_fields();
        assert!(searcher.segment_readers().len() > 1);
        let marks = Marks::default();
        let cache = SegmentCache::default();
        let mut planner = Planner::new(&searcher, fields, Utc::now(), &marks, &cache);
        let mut compared = 0;
        for text in [
            "speech",
            "speec",
            "sp",
            "s",
            "spe",
            "sent",
            "korean sen",
            "korean reviews",
            "code math",
            "medical questions",
            "speech-sentiment",
            "news downloads:>100",
            "speaker -code",
            "reviews author:org3",
        ] {
            let plan = planner.plan(&Query::parse(text), Mode::Strict).unwrap();
            assert!(plan.bound.is_some(), "{text}: the plan has a score bound");
            for keep in [1, 10, 40, 100] {
                let pruned = TopHits {
                    keep,
                    bound: plan.bound,
                    outliers: plan.outliers.clone(),
                    outlier_bound: plan.outlier_bound,
                    cache: &cache,
                };
                let every = TopHits {
                    keep,
                    bound: None,
                    outliers: Vec::new(),
                    outlier_bound: None,
                    cache: &cache,
                };
                let pruned = searcher.search(&*plan.query, &pruned).unwrap();
                let every = searcher.search(&*plan.query, &every).unwrap();
                assert_eq!(pruned, every, "{text}, best {keep}");
                compared += usize::from(!every.is_empty());
            }
        }
        assert!(compared >= 24, "only {compared} pages had hits to compare");
    }

    /// Stopping a downloads or likes sort early must not change the page either, ties
    /// (many records share a like count) included.
    #[test]
    fn pruned_popularity_pages_equal_sorting_every_match() {
        let dir = TempDir::new().unwrap();
        let mut changed = records(2, 100);
        for record in &mut changed {
            record.downloads += 70_000;
            record.likes += 50;
        }
        let catalog = segmented_catalog(&dir, &changed);
        let (searcher, fields) = catalog.index.searcher_and_fields();
        assert!(searcher.segment_readers().len() > 1);
        let marks = Marks::default();
        let cache = SegmentCache::default();
        let mut planner = Planner::new(&searcher, fields, Utc::now(), &marks, &cache);
        let mut compared = 0;
        for text in [
            "",
            "speech",
            "spe",
            "author:org3",
            "downloads:>50000",
            "-code",
        ] {
            let plan = planner.plan(&Query::parse(text), Mode::Strict).unwrap();
            for (popularity, field) in [
                (Popularity::Downloads, names::DOWNLOADS),
                (Popularity::Likes, names::LIKES),
            ] {
                for (limit, offset) in [(1, 0), (20, 0), (20, 40), (500, 0)] {
                    let keep = limit + offset;
                    let pruned: Vec<DocAddress> = searcher
                        .search(
                            &*plan.query,
                            &TopPopular {
                                by: popularity,
                                keep,
                                cache: &cache,
                            },
                        )
                        .unwrap()
                        .into_iter()
                        .skip(offset)
                        .map(|hit| hit.address)
                        .collect();
                    let top = TopDocs::with_limit(limit).and_offset(offset);
                    let every = sorted(
                        &searcher,
                        &*plan.query,
                        top,
                        by::<u64>(field, tantivy::Order::Desc),
                    )
                    .unwrap();
                    assert_eq!(pruned, every, "{text:?} by {field}, {limit} from {offset}");
                    compared += usize::from(!every.is_empty());
                }
            }
        }
        assert!(compared >= 40, "only {compared} pages had hits to compare");
    }

    /// The page of the sorted scan, addresses only.
    fn scan(searcher: &Searcher, query: &dyn TantivyQuery, sort: &TopSorted) -> Vec<DocAddress> {
        let hits = searcher.search(query, sort).unwrap();
        hits.into_iter().map(|hit| hit.address).collect()
    }

    /// tantivy's own page sorted by `field` (of its type), ties by id.
    fn by_tantivy(
        searcher: &Searcher,
        query: &dyn TantivyQuery,
        top: TopDocs,
        field: &str,
        order: tantivy::Order,
    ) -> Vec<DocAddress> {
        match field {
            names::LAST_MODIFIED | names::CREATED_AT => {
                sorted(searcher, query, top, by::<i64>(field, order))
            }
            names::TRENDING => sorted(searcher, query, top, by::<f64>(field, order)),
            _ => sorted(searcher, query, top, by::<u64>(field, order)),
        }
        .unwrap()
    }

    /// The sorted scan must give tantivy's page: by value with records lacking it last,
    /// ties (many here) by id, across segments with deletions.
    #[test]
    fn sorted_pages_equal_tantivys_sorting() {
        let dir = TempDir::new().unwrap();
        let day = |n: u64| {
            chrono::TimeZone::timestamp_opt(&Utc, 1_600_000_000 + (n % 40) as i64 * 86_400, 0)
                .single()
        };
        let dated = |mut records: Vec<Dataset>| {
            for (i, record) in records.iter_mut().enumerate() {
                let n = i as u64 * 13;
                // Some records have no dates: they must come last in both directions.
                record.last_modified = if n.is_multiple_of(9) { None } else { day(n) };
                record.created_at = if n.is_multiple_of(5) {
                    None
                } else {
                    day(n / 3)
                };
                record.trending_score = (n % 17) as f64 - 4.5;
            }
            records
        };
        let changed = dated(records(2, 150));
        let catalog = small_catalog(&dir);
        for batch in 0..3 {
            catalog.upsert_batch(&dated(records(batch, 400))).unwrap();
        }
        catalog.upsert_batch(&changed).unwrap();
        let (searcher, fields) = catalog.index.searcher_and_fields();
        assert!(searcher.segment_readers().len() > 1);
        let marks = Marks::default();
        let cache = SegmentCache::default();
        let mut planner = Planner::new(&searcher, fields, Utc::now(), &marks, &cache);
        let mut compared = 0;
        for text in ["", "speech", "spe", "author:org3", "-code"] {
            let plan = planner.plan(&Query::parse(text), Mode::Strict).unwrap();
            for (order, descending) in [(tantivy::Order::Desc, true), (tantivy::Order::Asc, false)]
            {
                for field in [
                    names::LAST_MODIFIED,
                    names::CREATED_AT,
                    names::TRENDING,
                    names::DOWNLOADS,
                    names::LIKES,
                ] {
                    for (limit, offset) in [(1, 0), (20, 0), (20, 40), (2_000, 0)] {
                        let sort = TopSorted {
                            field,
                            descending,
                            keep: limit + offset,
                            cache: &cache,
                        };
                        let mut scanned = scan(&searcher, &*plan.query, &sort);
                        scanned.drain(..offset.min(scanned.len()));
                        let top = TopDocs::with_limit(limit).and_offset(offset);
                        let every = by_tantivy(&searcher, &*plan.query, top, field, order);
                        assert_eq!(
                            scanned, every,
                            "{text:?} by {field} {order:?}, {limit} from {offset}"
                        );
                        compared += usize::from(!every.is_empty());
                    }
                }
            }
        }
        assert!(compared >= 150, "only {compared} pages had hits to compare");
    }

    /// A sort over a whole large segment where most values tie (no likes, as on the Hub)
    /// passes over blocks by their bounds: the page must still be tantivy's, ties by id.
    #[test]
    fn sorts_where_most_values_tie_skip_blocks_and_keep_the_order() {
        let dir = TempDir::new().unwrap();
        let catalog = small_catalog(&dir);
        let mut all = records(0, 3_000);
        for (i, record) in all.iter_mut().enumerate() {
            record.likes = if i % 40 == 7 { (i % 13) as u64 + 1 } else { 0 };
            record.trending_score = if i % 25 == 3 { i as f64 / 7.0 } else { 0.0 };
        }
        catalog.upsert_batch(&all).unwrap();
        let (searcher, fields) = catalog.index.searcher_and_fields();
        let marks = Marks::default();
        let cache = SegmentCache::default();
        let mut planner = Planner::new(&searcher, fields, Utc::now(), &marks, &cache);
        for text in ["", "speech", "-code"] {
            let plan = planner.plan(&Query::parse(text), Mode::Strict).unwrap();
            for (order, descending) in [(tantivy::Order::Desc, true), (tantivy::Order::Asc, false)]
            {
                for (field, keep) in [
                    (names::LIKES, 20),
                    (names::LIKES, 150),
                    (names::TRENDING, 20),
                    (names::TRENDING, 500),
                ] {
                    let sort = TopSorted {
                        field,
                        descending,
                        keep,
                        cache: &cache,
                    };
                    let scanned = scan(&searcher, &*plan.query, &sort);
                    let top = TopDocs::with_limit(keep);
                    let every = by_tantivy(&searcher, &*plan.query, top, field, order);
                    assert!(!every.is_empty(), "{text:?} matched nothing");
                    assert_eq!(scanned, every, "{text:?} by {field} {order:?}, {keep}");
                }
            }
        }
    }

    /// The exact-name boost is outside the bound: an exact match late in popularity order
    /// must still come first.
    #[test]
    fn an_exact_name_ranks_first_even_when_unpopular() {
        let dir = TempDir::new().unwrap();
        let catalog = small_catalog(&dir);
        let mut all = records(0, 500);
        let mut obscure = Dataset::new("someone/speech".parse().unwrap());
        obscure.description = Some("a few clips".to_string());
        all.push(obscure);
        catalog.upsert_batch(&all).unwrap();
        let results = catalog
            .search(&Query::parse("speech"), Sort::default(), 5, 0)
            .unwrap();
        assert_eq!(results.hits[0].id.as_str(), "someone/speech");
        assert!(results.total > 100);
    }
}
