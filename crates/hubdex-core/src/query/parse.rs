//! The parser: a recursive descent over the characters, one pass, no backtracking beyond a
//! look at the next word. It records mistakes and reads the offending text literally, so
//! [`super::Query::parse`] and [`super::Query::parse_strict`] share it.
//!
//! ```text
//! sequence := (or | ")")*            a stray ")" is skipped
//! or       := unary ("OR" unary)*    "OR" must have an operand on both sides
//! unary    := "-" primary | primary  "-" must touch what it excludes
//! primary  := "(" sequence ")"? | "\"" phrase "\"" | word | field ":" value
//! ```

use super::error::{QueryError, QueryErrorKind};
use super::value::{parse_count, parse_flag, parse_size, parse_time};
use super::{Condition, Counter, Expr, Filter, Flag, Keyword, Query, Span, Text, TimeField};
use crate::Sort;

/// The fields, by every name they answer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Keyword(Keyword),
    Size,
    Count(Counter),
    Time(TimeField),
    Flag(Flag),
    Sort,
}

/// Field names and aliases; the first name of each field is its canonical one.
const FIELDS: &[(&str, Field)] = &[
    ("author", Field::Keyword(Keyword::Author)),
    ("owner", Field::Keyword(Keyword::Author)),
    ("task", Field::Keyword(Keyword::Task)),
    ("tasks", Field::Keyword(Keyword::Task)),
    ("task_categories", Field::Keyword(Keyword::Task)),
    ("task_ids", Field::Keyword(Keyword::Task)),
    ("lang", Field::Keyword(Keyword::Language)),
    ("language", Field::Keyword(Keyword::Language)),
    ("languages", Field::Keyword(Keyword::Language)),
    ("license", Field::Keyword(Keyword::License)),
    ("licence", Field::Keyword(Keyword::License)),
    ("modality", Field::Keyword(Keyword::Modality)),
    ("modalities", Field::Keyword(Keyword::Modality)),
    ("format", Field::Keyword(Keyword::Format)),
    ("formats", Field::Keyword(Keyword::Format)),
    ("library", Field::Keyword(Keyword::Library)),
    ("libraries", Field::Keyword(Keyword::Library)),
    ("tag", Field::Keyword(Keyword::Tag)),
    ("tags", Field::Keyword(Keyword::Tag)),
    ("size", Field::Size),
    ("size_categories", Field::Size),
    ("downloads", Field::Count(Counter::Downloads)),
    ("likes", Field::Count(Counter::Likes)),
    ("updated", Field::Time(TimeField::Updated)),
    ("modified", Field::Time(TimeField::Updated)),
    ("lastmodified", Field::Time(TimeField::Updated)),
    ("created", Field::Time(TimeField::Created)),
    ("createdat", Field::Time(TimeField::Created)),
    ("gated", Field::Flag(Flag::Gated)),
    ("followed", Field::Flag(Flag::Followed)),
    ("downloaded", Field::Flag(Flag::Downloaded)),
    ("sort", Field::Sort),
];

impl Field {
    fn lookup(name: &str) -> Option<Field> {
        FIELDS
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, field)| *field)
    }

    fn canonical(self) -> &'static str {
        FIELDS
            .iter()
            .find(|(_, field)| *field == self)
            .map_or("field", |(name, _)| name)
    }
}

/// Language names people type, and the codes the Hub's `language:` tags use.
const LANGUAGE_NAMES: &[(&str, &str)] = &[
    ("arabic", "ar"),
    ("bengali", "bn"),
    ("bangla", "bn"),
    ("catalan", "ca"),
    ("chinese", "zh"),
    ("czech", "cs"),
    ("danish", "da"),
    ("dutch", "nl"),
    ("english", "en"),
    ("finnish", "fi"),
    ("french", "fr"),
    ("german", "de"),
    ("greek", "el"),
    ("hebrew", "he"),
    ("hindi", "hi"),
    ("hungarian", "hu"),
    ("indonesian", "id"),
    ("italian", "it"),
    ("japanese", "ja"),
    ("korean", "ko"),
    ("malay", "ms"),
    ("norwegian", "no"),
    ("persian", "fa"),
    ("farsi", "fa"),
    ("polish", "pl"),
    ("portuguese", "pt"),
    ("romanian", "ro"),
    ("russian", "ru"),
    ("spanish", "es"),
    ("swahili", "sw"),
    ("swedish", "sv"),
    ("tamil", "ta"),
    ("thai", "th"),
    ("turkish", "tr"),
    ("ukrainian", "uk"),
    ("urdu", "ur"),
    ("vietnamese", "vi"),
];

/// The English names of a `language:` tag's code that [`LANGUAGE_NAMES`] knows (`ko` →
/// `korean`), so a search index can let the name find records tagged with the code.
pub fn language_names(code: &str) -> impl Iterator<Item = &'static str> + '_ {
    LANGUAGE_NAMES
        .iter()
        .filter(move |(_, known)| known.eq_ignore_ascii_case(code))
        .map(|(name, _)| *name)
}

/// How far (in edits) a name may be from a field's name to be taken for a typo of it.
fn typo_distance(name: &str) -> usize {
    if name.len() <= 5 { 1 } else { 2 }
}

/// The field `name` most likely meant, when it is a near miss of one.
fn suggest(name: &str) -> Option<&'static str> {
    let plausible = name.len() >= 3 && name.chars().all(|c| c.is_ascii_alphabetic() || c == '_');
    if !plausible {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    FIELDS
        .iter()
        .map(|(known, field)| (edit_distance(&lower, known), field.canonical()))
        .filter(|(distance, _)| *distance <= typo_distance(&lower))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, canonical)| canonical)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// A sequence of conditions as one: nothing for none, the one for one, else their AND,
/// with one keyword field repeated in the sequence read as alternatives.
pub(super) fn all_of(parts: Vec<Expr>) -> Option<Expr> {
    let mut merged: Vec<Expr> = Vec::with_capacity(parts.len());
    for part in parts {
        let field = match &part {
            Expr::Filter(Filter {
                condition: Condition::Keyword { field, .. },
                ..
            }) => Some(*field),
            _ => None,
        };
        let earlier = field.and_then(|field| {
            merged.iter().position(|e| match e {
                Expr::Or(alternatives) => alternatives.iter().all(|a| is_keyword(a, field)),
                e => is_keyword(e, field),
            })
        });
        match earlier {
            Some(at) => match &mut merged[at] {
                Expr::Or(alternatives) => alternatives.push(part),
                single => {
                    let first = std::mem::replace(single, Expr::Or(Vec::new()));
                    *single = Expr::Or(vec![first, part]);
                }
            },
            None => merged.push(part),
        }
    }
    match merged.len() {
        0 => None,
        1 => merged.pop(),
        _ => Some(Expr::And(merged)),
    }
}

fn is_keyword(e: &Expr, wanted: Keyword) -> bool {
    matches!(e, Expr::Filter(Filter { condition: Condition::Keyword { field, .. }, .. }) if *field == wanted)
}

/// Parses `input`, returning the query and the mistakes read as text.
pub(super) fn parse(input: &str) -> (Query, Vec<QueryError>) {
    let mut parser = Parser {
        input,
        pos: 0,
        end: input.trim_end().len(),
        sort: None,
        errors: Vec::new(),
    };
    let parts = parser.sequence(0);
    let mut expr = all_of(parts);
    if let Some(expr) = &mut expr {
        mark_prefix(expr, parser.end);
    }
    let query = Query {
        expr,
        sort: parser.sort,
    };
    (query, parser.errors)
}

/// Marks the word that ends the query as a prefix, unless it is excluded or in a phrase.
fn mark_prefix(expr: &mut Expr, end: usize) {
    match expr {
        Expr::Text(text) if !text.phrase && text.span.end == end => text.prefix = true,
        Expr::And(parts) | Expr::Or(parts) => {
            if let Some(last) = parts.last_mut() {
                mark_prefix(last, end);
            }
        }
        _ => {}
    }
}

/// What a `name:value` word turned out to be.
enum Outcome {
    /// A condition.
    Expr(Expr),
    /// Nothing to match on (a sort, or a field still being typed).
    Nothing,
    /// Plain text after all.
    Text,
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
    /// Where the input ends, trailing whitespace excluded.
    end: usize,
    sort: Option<Sort>,
    errors: Vec<QueryError>,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn error(&mut self, kind: QueryErrorKind, start: usize, end: usize) {
        let error = QueryError::new(kind, Span { start, end }, self.input);
        self.errors.push(error);
    }

    /// Conditions side by side, up to the end or the `)` that closes this group.
    fn sequence(&mut self, depth: usize) -> Vec<Expr> {
        let mut parts = Vec::new();
        loop {
            self.skip_whitespace();
            match self.peek() {
                None => break,
                Some(')') => {
                    self.bump();
                    if depth > 0 {
                        break;
                    }
                }
                Some(_) => {
                    let before = self.pos;
                    if let Some(expr) = self.or(depth) {
                        parts.push(expr);
                    }
                    if self.pos == before {
                        // Cannot happen with the rules above; never loop forever on it.
                        self.bump();
                    }
                }
            }
        }
        parts
    }

    /// `a OR b OR c`.
    fn or(&mut self, depth: usize) -> Option<Expr> {
        let mut alternatives: Vec<Expr> = self.unary(depth).into_iter().collect();
        loop {
            let saved = self.pos;
            self.skip_whitespace();
            let rest = self.rest();
            let operand = rest
                .strip_prefix("OR")
                .filter(|after| after.starts_with(char::is_whitespace))
                .map(str::trim_start)
                .filter(|after| !after.is_empty() && !after.starts_with(')'));
            if operand.is_none() {
                self.pos = saved;
                break;
            }
            self.pos += 2;
            self.skip_whitespace();
            alternatives.extend(self.unary(depth));
        }
        match alternatives.len() {
            0 => None,
            1 => alternatives.pop(),
            _ => Some(Expr::Or(alternatives)),
        }
    }

    /// `-x` or `x`.
    fn unary(&mut self, depth: usize) -> Option<Expr> {
        let mut chars = self.rest().chars();
        let excludes = chars.next() == Some('-')
            && chars
                .next()
                .is_some_and(|c| !c.is_whitespace() && c != '-' && c != ')');
        if excludes {
            self.bump();
            return self
                .primary(depth, true)
                .map(|expr| Expr::Not(Box::new(expr)));
        }
        self.primary(depth, false)
    }

    fn primary(&mut self, depth: usize, negated: bool) -> Option<Expr> {
        match self.peek()? {
            '(' => {
                self.bump();
                all_of(self.sequence(depth + 1))
            }
            '"' => {
                let start = self.pos;
                match self.input[start + 1..].find('"') {
                    Some(length) => {
                        let text = &self.input[start + 1..start + 1 + length];
                        self.pos = start + length + 2;
                        (!text.trim().is_empty()).then(|| {
                            Expr::Text(Text {
                                text: text.to_string(),
                                phrase: true,
                                prefix: false,
                                span: Span {
                                    start,
                                    end: self.pos,
                                },
                            })
                        })
                    }
                    None => {
                        // An unclosed quote is just a character: read on as a word.
                        self.bump();
                        match self.peek() {
                            Some(c) if !c.is_whitespace() => self.word(negated),
                            _ => None,
                        }
                    }
                }
            }
            _ => self.word(negated),
        }
    }

    /// Where the word starting here ends: at whitespace, or at a `)` that closes a group or
    /// is stray (brackets opened inside the word, as in `f(x)`, are part of it).
    fn word_end(&self) -> usize {
        let mut open = 0usize;
        for (i, c) in self.rest().char_indices() {
            match c {
                c if c.is_whitespace() => return self.pos + i,
                '(' => open += 1,
                ')' if open > 0 => open -= 1,
                ')' => return self.pos + i,
                _ => {}
            }
        }
        self.input.len()
    }

    fn word(&mut self, negated: bool) -> Option<Expr> {
        let start = self.pos;
        let mut end = self.word_end();
        if end == start {
            return None;
        }
        let word = &self.input[start..end];
        if let Some(colon) = word.find(':').filter(|at| *at > 0) {
            let value_start = start + colon + 1;
            let (value, value_end) = match self.input[value_start..].strip_prefix('"') {
                Some(quoted) => match quoted.find('"') {
                    Some(length) => (
                        &self.input[value_start + 1..value_start + 1 + length],
                        value_start + length + 2,
                    ),
                    None => (&self.input[value_start + 1..end], end),
                },
                None => (&self.input[value_start..end], end),
            };
            let span = Span {
                start,
                end: value_end,
            };
            let name = &word[..colon];
            match self.field(name, value, span, negated) {
                Outcome::Expr(expr) => {
                    self.pos = value_end;
                    return Some(expr);
                }
                Outcome::Nothing => {
                    self.pos = value_end;
                    return None;
                }
                Outcome::Text => end = value_end.max(end),
            }
        }
        self.pos = end;
        Some(Expr::Text(Text {
            text: self.input[start..end].to_string(),
            phrase: false,
            prefix: false,
            span: Span { start, end },
        }))
    }

    /// Reads `name:value`.
    fn field(&mut self, name: &str, value: &str, span: Span, negated: bool) -> Outcome {
        let Some(field) = Field::lookup(name) else {
            if !value.is_empty()
                && let Some(suggestion) = suggest(name)
            {
                let kind = QueryErrorKind::UnknownField {
                    name: name.to_string(),
                    suggestion,
                };
                self.error(kind, span.start, span.start + name.len());
            }
            return Outcome::Text;
        };
        if value.trim().is_empty() {
            // Still being typed at the end of the query; elsewhere a title's `Name: …`.
            return if span.end >= self.end {
                Outcome::Nothing
            } else {
                Outcome::Text
            };
        }
        let condition = match field {
            Field::Sort => {
                match value.parse::<Sort>() {
                    Ok(sort) if !negated => {
                        self.sort = Some(sort);
                        return Outcome::Nothing;
                    }
                    Ok(_) => self.bad_value(
                        field,
                        value,
                        span,
                        "a sort cannot be excluded; write sort:KEY-asc for the other direction",
                    ),
                    Err(_) => self.bad_value(
                        field,
                        value,
                        span,
                        "give relevance, downloads, likes, updated, created or trending, optionally with -asc or -desc",
                    ),
                }
                return Outcome::Text;
            }
            Field::Keyword(keyword) => {
                let values = keyword_values(keyword, value);
                if values.is_empty() {
                    self.bad_value(
                        field,
                        value,
                        span,
                        "give a value, e.g. lang:en or lang:en,fr",
                    );
                    return Outcome::Text;
                }
                Ok(Condition::Keyword {
                    field: keyword,
                    values,
                })
            }
            Field::Count(counter) => parse_count(value).map(|(min, max)| Condition::Count {
                field: counter,
                min,
                max,
            }),
            Field::Time(time) => parse_time(value).map(|window| Condition::Time {
                field: time,
                window,
            }),
            Field::Size => parse_size(value).map(Condition::Size),
            Field::Flag(flag) => {
                parse_flag(value).map(|value| Condition::Flag { field: flag, value })
            }
        };
        match condition {
            Ok(condition) => Outcome::Expr(Expr::Filter(Filter { condition, span })),
            Err(hint) => {
                self.bad_value(field, value, span, hint);
                Outcome::Text
            }
        }
    }

    fn bad_value(&mut self, field: Field, value: &str, span: Span, hint: &'static str) {
        let kind = QueryErrorKind::BadValue {
            field: field.canonical(),
            value: value.to_string(),
            hint,
        };
        self.error(kind, span.start, span.end);
    }
}

/// The alternatives of a keyword value, lowercased; tasks use the Hub's hyphens, and a
/// language name becomes its code.
fn keyword_values(keyword: Keyword, value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|v| v.trim().to_lowercase())
        .filter(|v| !v.is_empty())
        .map(|v| match keyword {
            Keyword::Task => v.replace(['_', ' '], "-"),
            Keyword::Language => LANGUAGE_NAMES
                .iter()
                .find(|(name, _)| *name == v)
                .map_or(v, |(_, code)| (*code).to_string()),
            _ => v,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_codes_have_the_names_people_type() {
        assert_eq!(language_names("ko").collect::<Vec<_>>(), ["korean"]);
        assert_eq!(
            language_names("bn").collect::<Vec<_>>(),
            ["bengali", "bangla"]
        );
        assert_eq!(language_names("xx").count(), 0);
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("lisense", "license"), 1);
        assert_eq!(edit_distance("", "tag"), 3);
        assert_eq!(edit_distance("downlods", "downloads"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions_need_a_near_miss_of_letters() {
        assert_eq!(suggest("lisense"), Some("license"));
        assert_eq!(suggest("Licnse"), Some("license"));
        assert_eq!(suggest("langauge"), Some("lang"));
        assert_eq!(suggest("autor"), Some("author"));
        assert_eq!(suggest("BAAD"), None);
        assert_eq!(suggest("task1"), None);
        assert_eq!(suggest("v3"), None);
        assert_eq!(suggest("https"), None);
        assert_eq!(suggest("note"), None);
    }

    #[test]
    fn every_field_has_a_canonical_name_that_finds_it() {
        for (_, field) in FIELDS {
            assert_eq!(Field::lookup(field.canonical()), Some(*field));
        }
    }
}
