//! Pure domain logic for hubdex, shared by the daemon, the client and the fake Hub.
//!
//! Nothing here does I/O: dataset ids and records in the Hub's JSON shape, sizes, the query
//! language, sort orders and facet counts.

pub mod cache;
mod dataset;
mod facets;
mod id;
mod query;
mod size;
mod sort;

pub use dataset::{Dataset, GateMode, Gated};
pub use facets::{FacetCount, Facets};
pub use id::{DatasetId, IdError};
pub use query::{
    Condition, Counter, Expr, Filter, Flag, Keyword, Query, QueryError, QueryErrorKind, SizeFilter,
    Span, Text, TimeField, TimeFilter, TimePoint, language_names,
};
pub use size::{BYTES_PER_ROW, SizeBucket, UnknownBucket};
pub use sort::{Order, Sort, SortKey, UnknownSort};
