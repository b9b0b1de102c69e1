//! The catalog snapshot compiled into the binary, so hubdex is useful before its first sync
//! and with no network at all. See `assets/README.md` for where it comes from.

use std::io::BufRead;
use std::sync::Arc;

use hubdex_core::Dataset;
use hubdex_store::Catalog;

use crate::DaemonError;

/// Hub-format JSON lines, zstd-compressed.
const SNAPSHOT: &[u8] = include_bytes!("../../assets/catalog-snapshot.jsonl.zst");

/// Records stored per batch while importing (the sync's page size).
const BATCH: usize = 1000;

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
    let mut ids = Vec::new();
    for_each_line(SNAPSHOT, |line| {
        if let Ok(r) = serde_json::from_slice::<Id>(line) {
            ids.push(r.id);
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(ids)
}

/// Calls `each` with every non-blank line of the compressed JSON lines, decompressing as it
/// goes: the whole text (30 MB) is never in memory at once.
fn for_each_line(
    compressed: &[u8],
    mut each: impl FnMut(&[u8]) -> Result<(), DaemonError>,
) -> Result<(), DaemonError> {
    let unreadable =
        |e: std::io::Error| DaemonError::Snapshot(format!("cannot decompress it: {e}"));
    let mut reader = std::io::BufReader::new(zstd::Decoder::new(compressed).map_err(unreadable)?);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(unreadable)? == 0 {
            return Ok(());
        }
        if !line.trim_ascii().is_empty() {
            each(&line)?;
        }
    }
}

/// Stores the records through the catalog's bulk path (the index commits once at the end,
/// not once per batch), then commits, also when storing failed part-way.
fn import(catalog: &Catalog, compressed: &[u8]) -> Result<u64, DaemonError> {
    let mut batch = Vec::with_capacity(BATCH);
    let mut imported = 0;
    let streamed = for_each_line(compressed, |line| {
        match serde_json::from_slice::<Dataset>(line) {
            Ok(record) => batch.push(record),
            Err(e) => tracing::warn!("skipping a snapshot record hubdex cannot read: {e}"),
        }
        if batch.len() == BATCH {
            imported += store(catalog, &mut batch)?;
        }
        Ok(())
    });
    let stored = streamed.and_then(|()| store(catalog, &mut batch).map(|n| imported += n));
    let committed = catalog
        .commit()
        .and_then(|()| catalog.compact())
        .map_err(DaemonError::from);
    stored.and(committed)?;
    tracing::info!(records = imported, "imported the embedded catalog snapshot");
    Ok(imported)
}

fn store(catalog: &Catalog, batch: &mut Vec<Dataset>) -> Result<u64, DaemonError> {
    if batch.is_empty() {
        return Ok(0);
    }
    catalog.upsert_bulk(batch)?;
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

    #[test]
    fn an_import_stores_every_readable_record_and_makes_it_searchable() {
        let text = zstd::decode_all(SNAPSHOT).unwrap();
        let text = String::from_utf8(text).unwrap();
        let records: Vec<&str> = text.lines().take(2 * BATCH + 3).collect();
        let mut lines = records.join("\n");
        lines.push_str("\n\n{\"not\": \"a dataset\"}\n");
        let compressed = zstd::encode_all(lines.as_bytes(), 3).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let options = hubdex_store::CatalogOptions {
            cache_capacity_bytes: 4 * 1024 * 1024,
            ..Default::default()
        };
        let catalog = Catalog::open(dir.path(), options).unwrap();

        assert_eq!(import(&catalog, &compressed).unwrap(), records.len() as u64);
        assert_eq!(catalog.len(), records.len() as u64);
        // The last batch was committed to the index: its record is found by its id.
        let last: Dataset = serde_json::from_str(records[records.len() - 1]).unwrap();
        let query = hubdex_core::Query::parse(last.id.as_str());
        let found = catalog
            .search(&query, hubdex_core::SortKey::Relevance, 5, 0)
            .unwrap();
        assert!(
            found.hits.iter().any(|d| d.id == last.id),
            "{} not found after the import",
            last.id
        );
    }
}
