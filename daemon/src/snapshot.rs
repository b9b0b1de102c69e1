//! The catalog snapshot compiled into the binary, so hubdex is useful before its first sync
//! and with no network at all. See `assets/README.md` for where it comes from.

use std::sync::Arc;

use hubdex_core::Dataset;
use hubdex_store::Catalog;

use crate::DaemonError;

/// Hub-format JSON lines, zstd-compressed.
const SNAPSHOT: &[u8] = include_bytes!("../../assets/catalog-snapshot.jsonl.zst");

/// Records stored per batch while importing.
const BATCH: usize = 5000;

/// Imports the embedded snapshot when the catalog is empty; returns the records imported.
pub async fn import_if_empty(catalog: &Arc<Catalog>) -> Result<u64, DaemonError> {
    if !catalog.is_empty() {
        return Ok(0);
    }
    let catalog = catalog.clone();
    tokio::task::spawn_blocking(move || import(&catalog, SNAPSHOT))
        .await
        .map_err(|e| DaemonError::Snapshot(format!("the import task failed: {e}")))?
}

/// The ids of the embedded snapshot's records, for the sweep that removes those the Hub no
/// longer lists (reading only ids is much cheaper than listing the catalog).
pub fn ids() -> Result<Vec<String>, String> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
    }
    let text = zstd::decode_all(SNAPSHOT).map_err(|e| format!("cannot decompress it: {e}"))?;
    Ok(String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|line| serde_json::from_str::<Id>(line).ok())
        .map(|r| r.id)
        .collect())
}

fn import(catalog: &Catalog, compressed: &[u8]) -> Result<u64, DaemonError> {
    let text = zstd::decode_all(compressed)
        .map_err(|e| DaemonError::Snapshot(format!("cannot decompress it: {e}")))?;
    let text = String::from_utf8_lossy(&text);
    let mut batch = Vec::with_capacity(BATCH);
    let mut imported = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Dataset>(line) {
            Ok(record) => batch.push(record),
            Err(e) => tracing::warn!("skipping a snapshot record hubdex cannot read: {e}"),
        }
        if batch.len() == BATCH {
            imported += store(catalog, &mut batch)?;
        }
    }
    imported += store(catalog, &mut batch)?;
    tracing::info!(records = imported, "imported the embedded catalog snapshot");
    Ok(imported)
}

fn store(catalog: &Catalog, batch: &mut Vec<Dataset>) -> Result<u64, DaemonError> {
    if batch.is_empty() {
        return Ok(0);
    }
    catalog.upsert_batch(batch)?;
    let n = batch.len() as u64;
    batch.clear();
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_snapshot_parses_completely() {
        let text = zstd::decode_all(SNAPSHOT).unwrap();
        let text = String::from_utf8(text).unwrap();
        let mut count = 0;
        for line in text.lines() {
            serde_json::from_str::<Dataset>(line).unwrap();
            count += 1;
        }
        assert!(count > 40_000, "only {count} records");
        assert_eq!(ids().unwrap().len(), count);
    }
}
