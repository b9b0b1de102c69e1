//! Pure domain logic for hubdex, shared by the daemon, the client and the fake Hub.
//!
//! Nothing here does I/O: dataset ids and records in the Hub's JSON shape, the query
//! language and sort orders.

mod dataset;
mod id;
mod query;

pub use dataset::{Dataset, GateMode, Gated};
pub use id::{DatasetId, IdError};
pub use query::{Query, SortKey, UnknownSort};
