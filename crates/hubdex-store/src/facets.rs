//! Facet counts for a query, from the keyword fast fields through tantivy's terms
//! aggregation: one pass over the matching documents reading column ordinals, no stored
//! fields.

use hubdex_core::{FacetCount, Facets};
use tantivy::Searcher;
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::agg_result::{AggregationResult, BucketResult};
use tantivy::aggregation::{AggContextParams, AggregationCollector, AggregationLimitsGuard, Key};
use tantivy::collector::Count;
use tantivy::query::Query;
use tantivy::tokenizer::TokenizerManager;

use crate::schema::names;

/// Values each segment reports per facet before they are merged. Far above the distinct
/// values of any facet in one segment today (the real catalog has ~1,500 languages), so the
/// counts returned are exact.
const SEGMENT_VALUES: u32 = 5_000;

/// The facets, by the fast field each counts.
const FACETS: [&str; 5] = [
    names::TASK,
    names::LANGUAGE,
    names::LICENSE,
    names::MODALITY,
    names::SIZE_BUCKET,
];

/// Counts of the `limit` most frequent values of each facet among the matches of `query`.
pub(crate) fn count(
    searcher: &Searcher,
    query: &dyn Query,
    limit: usize,
) -> tantivy::Result<Facets> {
    let size = u32::try_from(limit.max(1)).unwrap_or(u32::MAX);
    let mut request = serde_json::Map::new();
    for field in FACETS {
        request.insert(
            field.to_string(),
            serde_json::json!({"terms": {
                "field": field,
                "size": size,
                "segment_size": SEGMENT_VALUES.max(size),
                "order": {"_count": "desc"},
            }}),
        );
    }
    let aggregations: Aggregations = serde_json::from_value(request.into())
        .map_err(|e| tantivy::TantivyError::InvalidArgument(e.to_string()))?;
    let context = AggContextParams::new(
        AggregationLimitsGuard::default(),
        TokenizerManager::default(),
    );
    let collector = AggregationCollector::from_aggs(aggregations, context);
    let (counted, mut results) = searcher.search(query, &(Count, collector))?;
    let mut take = |field: &str| -> Vec<FacetCount> {
        let Some(AggregationResult::BucketResult(BucketResult::Terms { buckets, .. })) =
            results.0.remove(field)
        else {
            return Vec::new();
        };
        let mut counts: Vec<FacetCount> = buckets
            .into_iter()
            .filter_map(|bucket| match bucket.key {
                Key::Str(value) => Some(FacetCount {
                    value,
                    count: bucket.doc_count,
                }),
                _ => None,
            })
            .collect();
        counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        counts.truncate(limit);
        counts
    };
    Ok(Facets {
        task: take(names::TASK),
        language: take(names::LANGUAGE),
        license: take(names::LICENSE),
        modality: take(names::MODALITY),
        size: take(names::SIZE_BUCKET),
        counted: counted as u64,
    })
}
