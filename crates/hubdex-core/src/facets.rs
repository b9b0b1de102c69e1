//! Facet counts: how the records matching a query spread over tasks, languages, licences,
//! modalities and size buckets, so a UI can offer `task:…`, `lang:…` refinements with counts.

use serde::{Deserialize, Serialize};

/// One value of a facet and how many matching records have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetCount {
    /// The value as a query would name it: `question-answering`, `en`, `mit`, `1K<n<10K`.
    pub value: String,
    /// Matching records with this value.
    pub count: u64,
}

/// Facet counts for one query, most frequent values first (ties by value).
///
/// A record counts once under each of its values (a bilingual dataset under both
/// languages), so the counts say what adding `lang:fr` to the query would leave.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Facets {
    /// By `task_categories` and `task_ids` tag (`task:`).
    pub task: Vec<FacetCount>,
    /// By `language` tag (`lang:`).
    pub language: Vec<FacetCount>,
    /// By `license` tag (`license:`).
    pub license: Vec<FacetCount>,
    /// By `modality` tag (`modality:`).
    pub modality: Vec<FacetCount>,
    /// By size bucket (`size:`), as [`crate::Dataset::size_bucket`] decides it.
    pub size: Vec<FacetCount>,
    /// How many matching records the counts were read from. Equal to the query's total
    /// unless the query matched more than the store's cost cap; then the counts are
    /// estimates, scaled up from a uniform sample of `counted` matches.
    pub counted: u64,
}
