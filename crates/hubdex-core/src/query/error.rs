//! What [`super::Query::parse_strict`] reports: where in the query, what is wrong, how to fix.

use std::fmt;

use super::Span;

/// A mistake in a query, with its place and a way to fix it.
///
/// Displayed as `unknown field "lisense" at 1..8 — did you mean "license"?`: the columns
/// count characters from 1, end exclusive, so a UI can underline them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct QueryError {
    /// What is wrong.
    pub kind: QueryErrorKind,
    /// Where, as byte offsets into the query.
    pub span: Span,
    /// Where, as 1-based character columns, end exclusive (for messages).
    pub columns: (usize, usize),
}

/// The kinds of [`QueryError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryErrorKind {
    /// `name:value` where `name` is close to a field's name but is none.
    UnknownField {
        /// The name as typed.
        name: String,
        /// The field it most likely meant.
        suggestion: &'static str,
    },
    /// A known field with a value it cannot read.
    BadValue {
        /// The field, by its canonical name.
        field: &'static str,
        /// The value as typed.
        value: String,
        /// How to write a value this field takes.
        hint: &'static str,
    },
}

impl QueryError {
    /// An error at `span` of `input`.
    pub(super) fn new(kind: QueryErrorKind, span: Span, input: &str) -> QueryError {
        let column = |byte: usize| input.get(..byte).map_or(0, |s| s.chars().count()) + 1;
        QueryError {
            kind,
            columns: (column(span.start), column(span.end)),
            span,
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (start, end) = self.columns;
        match &self.kind {
            QueryErrorKind::UnknownField { name, suggestion } => write!(
                f,
                "unknown field \"{name}\" at {start}..{end} — did you mean \"{suggestion}\"?"
            ),
            QueryErrorKind::BadValue { field, value, hint } => write!(
                f,
                "cannot read \"{value}\" as {field}: at {start}..{end} — {hint}"
            ),
        }
    }
}
