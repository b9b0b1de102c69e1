//! The search query language: a pure parser from what people type to a [`Query`] the store
//! executes.
//!
//! # The language
//!
//! * **Words** match ids (split on `/ - _ .`, camelCase and digits), pretty names, authors,
//!   descriptions, tags and card fields. Every word must match; the last word also matches as
//!   a prefix, so results follow typing. `"quoted phrases"` match words in that order.
//! * `-word`, `-"a phrase"`, `-field:value` and `-( … )` exclude.
//! * `a OR b` matches either; `OR` binds tighter than the implicit AND, so
//!   `squad OR quac lang:en` is `(squad OR quac) AND lang:en`. Parentheses group.
//! * **Fields** (name case-insensitive; aliases in brackets):
//!   * `author:` [`owner:`] the owner; `task:` a `task_categories` or `task_ids` tag; `lang:`
//!     [`language:`] a language code (`lang:korean` reads as `ko`); `license:` [`licence:`];
//!     `modality:`; `format:`; `library:`; `tag:` any raw tag (`tag:medical`,
//!     `tag:language:en`). A comma lists alternatives (`lang:ko,ja`), and so does repeating the
//!     field in one group (`lang:ko lang:ja`);
//!   * `size:` bytes (`>1GB`, `<100MB`; KB…TB or KiB…TiB), rows (`>1M`, `<10K`; K, M, B, T as
//!     in the Hub's buckets, B = billion) or a bucket (`1K<n<10K`);
//!     [`crate::Dataset::estimated_bytes`] says how sizes are known or estimated;
//!   * `downloads:` and `likes:`: `>N`, `>=N`, `<N`, `<=N`, `N`, `A..B`, with `k`/`m`/`b`;
//!   * `updated:` and `created:`: a date (`2024`, `2024-05`, `2024-05-31`, a period) or an age
//!     (`12h`, `30d`, `2w`, `6m`, `1y`): `updated:<30d` is newer than 30 days,
//!     `created:>2024-01-01` after that day, `created:2023-01..2023-06` within;
//!   * `gated:`, `followed:`, `downloaded:` take `yes` or `no`;
//!   * `sort:` orders the results (`sort:likes`, `sort:downloads-asc`) and wins over the
//!     caller's order.
//!
//!   Repeated comparisons all apply (`likes:>10 likes:<100` is a range).
//!
//! # Forgiving by design
//!
//! People paste titles, so `word:` with a space after it, or whose name is not close to any
//! field name (`BAAD16: Bangla…`, `FB15k-237`, `SGD-X v3`), is plain text; an unbalanced quote
//! or bracket is read as literally as possible; a known field left empty at the end of the
//! query (`author:`, still being typed) is ignored. Parsing never panics and never refuses.
//!
//! Two entry points share one parser:
//!
//! * [`Query::parse`] never fails: a value it cannot read (`downloads:lots`) or a near-miss
//!   field (`lisense:mit`) is taken as plain text. For callers that must answer anyway.
//! * [`Query::parse_strict`] returns the first such mistake as a [`QueryError`] with its
//!   place and a fix, `unknown field "lisense" at 1..8 — did you mean "license"?`, for the
//!   TUI and the HTTP API to show. When it succeeds it gives what `parse` gives.

mod error;
mod parse;
mod value;

use chrono::{DateTime, Duration, Utc};

pub use error::{QueryError, QueryErrorKind};
pub use parse::language_names;

use crate::{SizeBucket, Sort};

/// Byte offsets `start..end` into the query text, on character boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// A parsed search query: a condition on records and an optional order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// What a record must match; `None` matches every record.
    pub expr: Option<Expr>,
    /// `sort:` as typed; it wins over the order the caller asks for.
    pub sort: Option<Sort>,
}

/// A condition on records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Every part matches (words side by side).
    And(Vec<Expr>),
    /// At least one part matches (`a OR b`, or one field repeated in a group).
    Or(Vec<Expr>),
    /// The part does not match (`-word`).
    Not(Box<Expr>),
    /// Free text.
    Text(Text),
    /// A `field:value` condition.
    Filter(Filter),
}

/// Free text: one typed word, or a quoted phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// The text as typed (without the quotes of a phrase). The store splits it into tokens;
    /// a word such as `squad_v2` or `(c)` may yield several or none.
    pub text: String,
    /// A quoted phrase: its tokens must appear in this order.
    pub phrase: bool,
    /// The last word of the query, which the user may still be typing: it also matches as
    /// a prefix.
    pub prefix: bool,
    /// Where it is in the query.
    pub span: Span,
}

/// A `field:value` condition and where it was typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// What it asks of a record.
    pub condition: Condition,
    /// Where it is in the query.
    pub span: Span,
}

/// What a [`Filter`] asks of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The record has one of these values (lowercased) in `field`.
    Keyword {
        /// Which tag family or attribute.
        field: Keyword,
        /// Alternatives, lowercased; a language name is already its code.
        values: Vec<String>,
    },
    /// A count within `min..=max` (an empty range when `min > max`).
    Count {
        /// Which count.
        field: Counter,
        /// Least allowed.
        min: u64,
        /// Most allowed.
        max: u64,
    },
    /// A date within a window.
    Time {
        /// Which date.
        field: TimeField,
        /// The window.
        window: TimeFilter,
    },
    /// A size condition.
    Size(SizeFilter),
    /// A yes/no attribute.
    Flag {
        /// Which attribute.
        field: Flag,
        /// The value wanted.
        value: bool,
    },
}

/// Fields whose values are words: an owner, tag values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keyword {
    /// `author:` the owner (the record's `author`, else its id's namespace).
    Author,
    /// `task:` a `task_categories:` or `task_ids:` tag value.
    Task,
    /// `lang:` a `language:` tag value.
    Language,
    /// `license:` a `license:` tag value.
    License,
    /// `modality:` a `modality:` tag value.
    Modality,
    /// `format:` a `format:` tag value.
    Format,
    /// `library:` a `library:` tag value.
    Library,
    /// `tag:` a whole tag as the Hub lists it.
    Tag,
}

/// Fields that count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    /// Downloads over the last 30 days.
    Downloads,
    /// Likes.
    Likes,
}

/// Fields that are dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeField {
    /// `lastModified`.
    Updated,
    /// `createdAt`.
    Created,
}

/// Yes/no fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flag {
    /// Access needs an approved request.
    Gated,
    /// The user follows the dataset.
    Followed,
    /// The dataset's files are in the local cache.
    Downloaded,
}

/// A `size:` condition; ranges are inclusive (`min > max` is empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeFilter {
    /// Bytes as [`crate::Dataset::estimated_bytes`] says, within `min..=max`.
    Bytes(u64, u64),
    /// Rows certainly within `min..=max`: a bucket matches when all of it is inside.
    Rows(u64, u64),
    /// Exactly this bucket, as [`crate::Dataset::size_bucket`] says.
    Bucket(SizeBucket),
}

/// A time window, `after` inclusive and `before` exclusive; either may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeFilter {
    /// The earliest time allowed.
    pub after: Option<TimePoint>,
    /// The first time no longer allowed.
    pub before: Option<TimePoint>,
}

/// A point in time, absolute or relative to when the query runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePoint {
    /// A fixed instant.
    At(DateTime<Utc>),
    /// This many seconds before now.
    Ago(u64),
}

impl TimePoint {
    /// The instant, with `now` for relative points.
    pub fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            TimePoint::At(at) => at,
            TimePoint::Ago(seconds) => {
                let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
                Duration::try_seconds(seconds)
                    .and_then(|ago| now.checked_sub_signed(ago))
                    .unwrap_or(DateTime::<Utc>::MIN_UTC)
            }
        }
    }
}

impl Query {
    /// Parses a query and never fails: a field value it cannot read, or a near-miss field
    /// name, is plain text. See the module docs for the language.
    pub fn parse(input: &str) -> Query {
        parse::parse(input).0
    }

    /// Parses a query, or says where and how it is wrong (the first mistake).
    pub fn parse_strict(input: &str) -> Result<Query, QueryError> {
        let (query, mut errors) = parse::parse(input);
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(errors.swap_remove(0))
        }
    }

    /// Plain words with no syntax at all (`author:x` is two words), the last one a prefix:
    /// for inputs such as the Hub's `search=` parameter.
    pub fn words(text: &str) -> Query {
        let mut words: Vec<Expr> = Vec::new();
        let mut offset = 0;
        for word in text.split_whitespace() {
            let start = offset + text[offset..].find(word).unwrap_or(0);
            offset = start + word.len();
            words.push(Expr::Text(Text {
                text: word.to_string(),
                phrase: false,
                prefix: false,
                span: Span { start, end: offset },
            }));
        }
        if let Some(Expr::Text(last)) = words.last_mut() {
            last.prefix = true;
        }
        Query {
            expr: parse::all_of(words),
            sort: None,
        }
    }

    /// A query of one condition, for callers that build queries from parameters.
    pub fn filter(condition: Condition) -> Query {
        Query {
            expr: Some(Expr::Filter(Filter {
                condition,
                span: Span::default(),
            })),
            sort: None,
        }
    }

    /// Records matching both queries; `other`'s sort wins when both have one.
    pub fn and(self, other: Query) -> Query {
        let expr = match (self.expr, other.expr) {
            (Some(Expr::And(mut a)), Some(b)) => {
                a.push(b);
                Some(Expr::And(a))
            }
            (Some(a), Some(b)) => Some(Expr::And(vec![a, b])),
            (a, b) => a.or(b),
        };
        Query {
            expr,
            sort: other.sort.or(self.sort),
        }
    }

    /// True when the query matches every record (it may still carry a sort).
    pub fn is_empty(&self) -> bool {
        self.expr.is_none()
    }

    /// The words typed side by side at the top level, outside phrases, groups and
    /// exclusions: the text that ranking, prefix completion and exact-name matching use.
    pub fn words_typed(&self) -> Vec<&Text> {
        let top: &[Expr] = match &self.expr {
            Some(Expr::And(parts)) => parts,
            Some(one) => std::slice::from_ref(one),
            None => &[],
        };
        top.iter()
            .filter_map(|e| match e {
                Expr::Text(text) if !text.phrase => Some(text),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
