//! The sweep at the end of a complete walk of the whole catalog: every stored record the walk
//! did not see (and no webhook refreshed meanwhile) is gone from the Hub, and is removed.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hubdex_core::{DatasetId, Query, SortKey};
use hubdex_store::Catalog;

use super::state::id_hash;

/// Records read per page while looking for unseen ones, and removed per batch.
const PAGE: usize = 1000;

/// The stored records whose ids are not in `marks`, found by paging through the whole
/// catalog (by creation date). Records created after `protect_after` are left out whatever
/// the marks say: a walk by creation date that started before them could not have seen them.
///
/// Reading stops early once as many unseen records were found as the counts say there are.
pub(crate) async fn unseen(
    catalog: &Arc<Catalog>,
    marks: &HashSet<u64>,
    protect_after: DateTime<Utc>,
) -> Result<Vec<DatasetId>, String> {
    let stored = catalog.len();
    let marked = marks.len() as u64;
    if marks.is_empty() || stored <= marked {
        return Ok(Vec::new());
    }
    let expected = stored - marked;
    let query = Query::parse("");
    let mut unseen: Vec<DatasetId> = Vec::new();
    // Each page is one blocking task, so searches keep running between them.
    for page in 0..=(stored as usize / PAGE + 1) {
        let (catalog, query) = (catalog.clone(), query.clone());
        let results = tokio::task::spawn_blocking(move || {
            catalog.search(&query, SortKey::CreatedAt, PAGE, page * PAGE)
        })
        .await
        .map_err(|e| format!("the sweep task failed: {e}"))?
        .map_err(|e| format!("cannot read the catalog to sweep it: {e}"))?;
        let done = results.hits.len() < PAGE;
        unseen.extend(
            results
                .hits
                .into_iter()
                .filter(|d| !marks.contains(&id_hash(d.id.as_str())))
                .filter(|d| d.created_at.is_none_or(|c| c < protect_after))
                .map(|d| d.id),
        );
        if done || unseen.len() as u64 >= expected {
            break;
        }
    }
    Ok(unseen)
}

/// The ids of the embedded snapshot that are not in `marks`, when the catalog holds unseen
/// records at all: read from the snapshot's ids, which is far cheaper than reading the
/// catalog.
pub(crate) async fn unseen_in_snapshot(
    catalog: &Arc<Catalog>,
    marks: &HashSet<u64>,
) -> Result<Vec<DatasetId>, String> {
    if marks.is_empty() || catalog.len() <= marks.len() as u64 {
        return Ok(Vec::new());
    }
    let ids = tokio::task::spawn_blocking(crate::snapshot::ids)
        .await
        .map_err(|e| format!("the sweep task failed: {e}"))?
        .map_err(|e| format!("cannot read the embedded snapshot: {e}"))?;
    // Ids no longer stored (removed by an earlier sweep) are skipped by the removal.
    Ok(ids
        .into_iter()
        .filter(|id| !marks.contains(&id_hash(id)))
        .filter_map(|id| DatasetId::new(id).ok())
        .collect())
}

/// Removes these records in batches, committing the index once at the end (also when a
/// batch failed); returns how many existed.
pub(crate) async fn remove(catalog: &Arc<Catalog>, ids: Vec<DatasetId>) -> Result<u64, String> {
    let mut removed = Ok(0);
    for batch in ids.chunks(PAGE) {
        let (catalog, batch) = (catalog.clone(), batch.to_vec());
        let result = tokio::task::spawn_blocking(move || catalog.remove_bulk(&batch))
            .await
            .map_err(|e| format!("the sweep task failed: {e}"))
            .and_then(|r| {
                r.map_err(|e| format!("cannot remove records the Hub no longer lists: {e}"))
            });
        match result {
            Ok(n) => removed = removed.map(|total| total + n),
            Err(e) => {
                removed = Err(e);
                break;
            }
        }
    }
    let catalog = catalog.clone();
    tokio::task::spawn_blocking(move || catalog.commit())
        .await
        .map_err(|e| format!("the sweep task failed: {e}"))?
        .map_err(|e| format!("cannot commit the search index after the sweep: {e}"))?;
    removed
}
