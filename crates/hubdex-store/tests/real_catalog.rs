//! The catalog over the real snapshot embedded in hubdex (48,997 Hub records).

#![allow(
    clippy::unwrap_used,
    reason = "helpers of tests: a failure there is the test failing"
)]

use std::io::{BufRead, BufReader};
use std::time::Instant;

use hubdex_core::{Dataset, Query, SortKey};
use hubdex_store::{Catalog, CatalogOptions};
use tempfile::TempDir;

fn snapshot() -> Vec<Dataset> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../assets/catalog-snapshot.jsonl.zst"
    );
    let file = std::fs::File::open(path).unwrap();
    let reader = BufReader::new(zstd::Decoder::new(file).unwrap());
    reader
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
        .collect()
}

fn top(catalog: &Catalog, query: &str, limit: usize) -> Vec<Dataset> {
    catalog
        .search(&Query::parse(query), SortKey::Relevance, limit, 0)
        .unwrap()
        .hits
}

#[test]
fn the_real_catalog_answers_known_queries() {
    let started = Instant::now();
    let records = snapshot();
    let parsed = started.elapsed();
    let dir = TempDir::new().unwrap();
    let catalog = Catalog::open(dir.path(), CatalogOptions::default()).unwrap();
    for page in records.chunks(1000) {
        catalog.upsert_batch(page).unwrap();
    }
    eprintln!(
        "parsed {} records in {parsed:?}, loaded them in {:?}",
        records.len(),
        started.elapsed() - parsed
    );
    assert_eq!(catalog.len(), records.len() as u64);
    assert_eq!(catalog.indexed_generation(), catalog.generation());

    let squad = top(&catalog, "squad", 3);
    assert!(
        squad.iter().any(|d| d.id.name() == "squad"),
        "top 3 for `squad`: {:?}",
        squad.iter().map(|d| d.id.as_str()).collect::<Vec<_>>()
    );
    let gsm8k = top(&catalog, "gsm8k", 3);
    assert!(gsm8k.iter().any(|d| d.id.name() == "gsm8k"));

    let owned_by_openai = records
        .iter()
        .filter(|d| d.owner().is_some_and(|o| o.eq_ignore_ascii_case("openai")))
        .count();
    let openai = catalog
        .search(&Query::parse("author:openai"), SortKey::Relevance, 1000, 0)
        .unwrap();
    assert!(owned_by_openai > 0);
    assert_eq!(openai.total, owned_by_openai as u64);
    assert_eq!(openai.hits.len(), owned_by_openai);
    assert!(openai.hits.iter().all(|d| d.owner() == Some("openai")));
    // Relevance without words is by downloads.
    assert!(
        openai
            .hits
            .windows(2)
            .all(|pair| pair[0].downloads >= pair[1].downloads)
    );

    // "벤치마크" (benchmark) is a word of this record's Korean description.
    let korean = top(&catalog, "벤치마크", 20);
    assert!(
        korean
            .iter()
            .any(|d| d.id.as_str() == "4n3mone/Ko-AgentBench")
    );

    // Typing `squ` already shows squad datasets.
    assert!(
        top(&catalog, "squ", 10)
            .iter()
            .any(|d| d.id.name().contains("squad"))
    );

    let started = Instant::now();
    assert_eq!(catalog.reindex().unwrap(), records.len() as u64);
    eprintln!("reindexed in {:?}", started.elapsed());
    assert!(
        top(&catalog, "squad", 3)
            .iter()
            .any(|d| d.id.name() == "squad")
    );
}
