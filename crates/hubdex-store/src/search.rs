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
//! precomputed at index time).
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
    Condition, Counter, Expr, Flag, Order, Query, SizeFilter, Sort, SortKey, Text, TimeField,
};
use tantivy::collector::sort_key::{SortByStaticFastValue, SortByString};
use tantivy::collector::{Count, SortKeyComputer, TopDocs};
use tantivy::fastfield::FastValue;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, EmptyQuery,
    FuzzyTermQuery, InvertedIndexRangeQuery, Occur, PhraseQuery, Query as TantivyQuery, RangeQuery,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentReader, Term};

use crate::Marks;
use crate::analysis::{self, is_stop_word, plain_words};
use crate::schema::{Fields, names};

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
/// A word this short, while typed, matches names with a word starting so (the first
/// keystrokes), most popular first.
const SHORT_PREFIX: usize = 3;
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
}

/// The tantivy query for a mode, and whether it ranks by text.
struct Plan {
    query: Box<dyn TantivyQuery>,
    scored: bool,
}

impl<'a> Planner<'a> {
    pub(crate) fn new(
        searcher: &'a Searcher,
        fields: &'a Fields,
        now: DateTime<Utc>,
        marks: &'a Marks,
    ) -> Self {
        Self {
            searcher,
            fields,
            analyzer: analysis::query_analyzer(),
            now,
            marks,
        }
    }

    /// The query's total and the addresses of the hits in `offset..offset + limit`.
    pub(crate) fn search(
        &mut self,
        query: &Query,
        sort: Sort,
        limit: usize,
        offset: usize,
    ) -> tantivy::Result<(u64, Vec<DocAddress>)> {
        let strict = self.plan(query, Mode::Strict)?;
        let relevance = sort.key == SortKey::Relevance && strict.scored;
        let first = self.run(&strict, sort, relevance, limit, offset)?;
        let retry = match (relevance, first.0) {
            (true, total) if total < FEW as u64 => Mode::Forgiving,
            (false, 0) => Mode::Typos,
            _ => return Ok(first),
        };
        let forgiving = self.plan(query, retry)?;
        let second = self.run(&forgiving, sort, relevance, limit, offset)?;
        Ok(if second.0 > first.0 { second } else { first })
    }

    /// The tantivy query matching what `query` matches, for counting and facets.
    pub(crate) fn matching(&mut self, query: &Query) -> tantivy::Result<Box<dyn TantivyQuery>> {
        Ok(self.plan(query, Mode::Strict)?.query)
    }

    fn run(
        &self,
        plan: &Plan,
        sort: Sort,
        relevance: bool,
        limit: usize,
        offset: usize,
    ) -> tantivy::Result<(u64, Vec<DocAddress>)> {
        let query = &*plan.query;
        // No page past the last document can hold a hit; this also bounds the collector.
        if limit == 0 || offset >= self.searcher.num_docs() as usize {
            let total = self.searcher.search(query, &Count)?;
            return Ok((total as u64, Vec::new()));
        }
        let top = TopDocs::with_limit(limit).and_offset(offset);
        let order = match sort.order {
            Order::Descending => tantivy::Order::Desc,
            Order::Ascending => tantivy::Order::Asc,
        };
        let (total, addresses) = if relevance {
            let (total, hits) = self
                .searcher
                .search(query, &(Count, top.tweak_score(popularity)))?;
            (total, hits.into_iter().map(|(_, a)| a).collect())
        } else {
            let searcher = self.searcher;
            match sort.key {
                SortKey::Relevance | SortKey::Downloads => {
                    sorted(searcher, query, top, by::<u64>(names::DOWNLOADS, order))?
                }
                SortKey::Likes => sorted(searcher, query, top, by::<u64>(names::LIKES, order))?,
                SortKey::LastModified => {
                    sorted(searcher, query, top, by::<i64>(names::LAST_MODIFIED, order))?
                }
                SortKey::CreatedAt => {
                    sorted(searcher, query, top, by::<i64>(names::CREATED_AT, order))?
                }
                SortKey::TrendingScore => {
                    sorted(searcher, query, top, by::<f64>(names::TRENDING, order))?
                }
            }
        };
        Ok((total as u64, addresses))
    }

    fn plan(&mut self, query: &Query, mode: Mode) -> tantivy::Result<Plan> {
        let words = query.words_typed();
        let tokens = self.tokens(&words);
        let mut clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
        let mut scored = false;
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
                word_clauses.push((occur, self.token_query(token, mode)?));
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
                let exact = ConstScoreQuery::new(raw_term(self.fields.keys, &key), EXACT_BOOST);
                clauses.push((Occur::Should, Box::new(exact)));
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
                part => {
                    if let Some((query, has_text)) = self.expr(part, mode)? {
                        scored |= has_text;
                        clauses.push((Occur::Must, query));
                    }
                }
            }
        }
        if !clauses.iter().any(|(occur, _)| *occur == Occur::Must) {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        Ok(Plan {
            query: Box::new(BooleanQuery::new(clauses)),
            scored,
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
    /// spelling variants; a prefix token also its completions.
    fn token_query(&self, token: &Token, mode: Mode) -> tantivy::Result<Box<dyn TantivyQuery>> {
        if token.prefix && token.plain.chars().count() < SHORT_PREFIX {
            // The first keystrokes: every record with a word in its id or pretty name that
            // starts so scores the same, so the most popular ones show. One Chinese,
            // Japanese or Korean character is a word of its own: it looks in all the text.
            let field = if analysis::is_bigram_text(&token.plain) {
                self.fields.text
            } else {
                self.fields.name
            };
            let last = format!("{}{}", token.plain, char::MAX);
            let starts = InvertedIndexRangeQuery::new(
                Bound::Included(Term::from_field_text(field, &token.plain)),
                Bound::Included(Term::from_field_text(field, &last)),
            );
            return Ok(Box::new(ConstScoreQuery::new(
                Box::new(starts),
                COMPLETION_SCORE,
            )));
        }
        let mut alternatives: Vec<Box<dyn TantivyQuery>> = vec![self.word_query(&token.stem)];
        if mode != Mode::Strict {
            for variant in self.variants(token)? {
                let query = BoostQuery::new(self.word_query(&variant), VARIANT_WEIGHT);
                alternatives.push(Box::new(query));
            }
        }
        if token.prefix {
            let field = self.fields.text;
            for completion in self.completions(field, token)? {
                let query = ConstScoreQuery::new(raw_term(field, &completion), COMPLETION_SCORE);
                alternatives.push(Box::new(query));
            }
        }
        Ok(match alternatives.len() {
            1 => alternatives.remove(0),
            _ => Box::new(DisjunctionMaxQuery::new(alternatives)),
        })
    }

    /// A stemmed word: must be in `text`; scores there and in `name` and `tags`.
    fn word_query(&self, stem: &str) -> Box<dyn TantivyQuery> {
        let fields = self.fields;
        Box::new(BooleanQuery::new(vec![
            (Occur::Must, scored_term(fields.text, stem)),
            (
                Occur::Should,
                Box::new(BoostQuery::new(scored_term(fields.name, stem), NAME_WEIGHT)),
            ),
            (
                Occur::Should,
                Box::new(BoostQuery::new(scored_term(fields.tags, stem), TAGS_WEIGHT)),
            ),
        ]))
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
            candidates.add(top);
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
            candidates.add(top);
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
            clauses.push((Occur::Must, self.token_query(token, mode)?));
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

    fn add(&mut self, top: SegmentTop) {
        self.terms
            .extend(top.heap.into_iter().map(|Reverse((_, term))| term));
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

fn scored_term(field: Field, text: &str) -> Box<dyn TantivyQuery> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
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

/// BM25 times the record's popularity prior.
fn popularity(segment: &SegmentReader) -> impl Fn(DocId, Score) -> Score + use<> {
    let prior = segment
        .fast_fields()
        .f64(names::PRIOR)
        .ok()
        .map(|column| column.first_or_default_col(1.0));
    move |doc, score| {
        let prior = prior.as_ref().map_or(1.0, |column| column.get_val(doc));
        score * prior as Score
    }
}

/// By a fast field in `order`, ties by id so pages are stable. Records without the value
/// come last either way.
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
) -> tantivy::Result<(usize, Vec<DocAddress>)>
where
    C: SortKeyComputer + Send + 'static,
    C::SortKey: 'static + Clone + Send + Sync + std::fmt::Debug,
{
    let (total, hits) = searcher.search(query, &(Count, top.order_by(sort_key)))?;
    Ok((total, hits.into_iter().map(|(_, a)| a).collect()))
}
