//! The catalog over the real snapshot embedded in hubdex (48,997 Hub records): the ranking a
//! user sees for the queries people type most.
//!
//! The catalog is built once per test run (in the target's temporary directory) and shared
//! by the tests, which only read it.

#![allow(
    clippy::unwrap_used,
    reason = "helpers of tests: a failure there is the test failing"
)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::OnceLock;

use hubdex_core::{Dataset, Query, SortKey};
use hubdex_store::{Catalog, CatalogOptions};

/// The snapshot's records, and the catalog holding them.
struct Real {
    records: Vec<Dataset>,
    catalog: Catalog,
}

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

fn real() -> &'static Real {
    static REAL: OnceLock<Real> = OnceLock::new();
    REAL.get_or_init(|| {
        let records = snapshot();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hubdex-store-real-catalog");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        let catalog = Catalog::open(&dir, CatalogOptions::default()).unwrap();
        for page in records.chunks(5000) {
            catalog.upsert_batch(page).unwrap();
        }
        Real { records, catalog }
    })
}

/// The ids of the first `limit` hits by relevance.
fn top(query: &str, limit: usize) -> Vec<String> {
    real()
        .catalog
        .search(&Query::parse(query), SortKey::Relevance, limit, 0)
        .unwrap()
        .hits
        .into_iter()
        .map(|d| d.id.to_string())
        .collect()
}

/// Asserts that each of `wanted` is among the first `limit` hits for `query`.
fn assert_top(query: &str, limit: usize, wanted: &[&str]) {
    let found = top(query, limit);
    for id in wanted {
        assert!(
            found.iter().any(|f| f == id),
            "`{id}` is not in the top {limit} for `{query}`: {found:?}"
        );
    }
}

/// Asserts that at least one of `acceptable` is among the first `limit` hits for `query`.
fn assert_any(query: &str, limit: usize, acceptable: &[&str]) {
    let found = top(query, limit);
    assert!(
        found.iter().any(|f| acceptable.contains(&f.as_str())),
        "none of {acceptable:?} is in the top {limit} for `{query}`: {found:?}"
    );
}

#[test]
fn every_record_is_indexed() {
    let real = real();
    assert_eq!(real.catalog.len(), real.records.len() as u64);
    assert_eq!(real.catalog.indexed_generation(), real.catalog.generation());
}

#[test]
fn a_dataset_name_finds_the_canonical_dataset_first() {
    // The canonical copies (`squad`, `imdb`) and their organisation's (`rajpurkar/squad`,
    // `stanfordnlp/imdb`) are the same data; both belong on top.
    assert_top("squad", 2, &["squad", "rajpurkar/squad"]);
    assert_top("imdb", 2, &["imdb", "stanfordnlp/imdb"]);
    assert_top("mmlu", 1, &["cais/mmlu"]);
    assert_top("gsm8k", 3, &["openai/gsm8k"]);
    assert_top("glue", 3, &["nyu-mll/glue"]);
}

#[test]
fn a_prefix_already_shows_what_it_starts() {
    assert_any("squ", 3, &["squad", "rajpurkar/squad"]);
}

#[test]
fn a_misspelt_name_still_finds_the_dataset() {
    assert_top("librispeeh", 3, &["openslr/librispeech_asr"]);
    assert_top("hellaswg", 3, &["Rowan/hellaswag"]);
}

#[test]
fn korean_words_find_korean_records() {
    // "벤치마크" (benchmark) is a word of this record's Korean description.
    assert_top("벤치마크", 10, &["4n3mone/Ko-AgentBench"]);
    // "질의응답" (question answering): the answers of `queries/topical.tsv` in hubdex-bench.
    assert_any(
        "질의응답",
        3,
        &[
            "squad_kor_v1",
            "KorQuAD/squad_kor_v1",
            "KorQuAD/squad_kor_v2",
            "shchoice/finance-legal-mrc",
            "taetae030/fin-term-instruct",
        ],
    );
}

#[test]
fn author_lists_every_dataset_of_the_owner_most_downloaded_first() {
    let real = real();
    let owned: Vec<&Dataset> = real
        .records
        .iter()
        .filter(|d| d.owner().is_some_and(|o| o.eq_ignore_ascii_case("openai")))
        .collect();
    assert!(owned.len() > 3);
    let found = real
        .catalog
        .search(&Query::parse("author:openai"), SortKey::Relevance, 1000, 0)
        .unwrap();
    assert_eq!(found.total, owned.len() as u64);
    assert_eq!(found.hits.len(), owned.len());
    assert!(found.hits.iter().all(|d| d.owner() == Some("openai")));
    assert!(
        found
            .hits
            .windows(2)
            .all(|pair| pair[0].downloads >= pair[1].downloads)
    );
    assert_eq!(found.hits[0].id.as_str(), "openai/gsm8k");
}

/// True when the record has `license:mit`, in its tags or, without tags, in its card.
fn is_mit(record: &Dataset) -> bool {
    if !record.tags.is_empty() {
        return record
            .tags
            .iter()
            .any(|t| t.eq_ignore_ascii_case("license:mit"));
    }
    let license = record.card_data.as_ref().and_then(|c| c.get("license"));
    match license {
        Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("mit"),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("mit"))),
        _ => false,
    }
}

#[test]
fn fields_filter_and_sort_orders() {
    let real = real();
    let found = real
        .catalog
        .search(
            &Query::parse("license:mit size:<1GB sort:likes"),
            SortKey::Relevance,
            20,
            0,
        )
        .unwrap();
    let mut expected: Vec<&Dataset> = real
        .records
        .iter()
        .filter(|d| is_mit(d) && d.estimated_bytes().is_some_and(|b| b < 1_000_000_000))
        .collect();
    expected.sort_by(|a, b| b.likes.cmp(&a.likes).then_with(|| a.id.cmp(&b.id)));
    assert_eq!(found.total, expected.len() as u64);
    let found: Vec<&str> = found.hits.iter().map(|d| d.id.as_str()).collect();
    let expected: Vec<&str> = expected.iter().take(20).map(|d| d.id.as_str()).collect();
    assert_eq!(found, expected);
    // The most liked MIT datasets, without OpenOrca (tens of millions of rows).
    assert_eq!(
        found[..3],
        ["Anthropic/hh-rlhf", "openai/gsm8k", "cais/mmlu"]
    );
}

#[test]
fn a_need_in_words_finds_datasets_that_meet_it() {
    // Acceptable answers as `queries/topical.tsv` in hubdex-bench lists them.
    assert_any(
        "questions about paragraphs of text",
        3,
        &[
            "squad",
            "rajpurkar/squad",
            "squad_v2",
            "google/xquad",
            "ucinlp/drop",
        ],
    );
    assert_any(
        "grade school math word problems",
        3,
        &[
            "openai/gsm8k",
            "gsm8k",
            "microsoft/orca-math-word-problems-200k",
        ],
    );
    assert_any("handwritten digits images", 3, &["mnist", "ylecun/mnist"]);
}

#[test]
fn reindexing_gives_the_same_answers() {
    let dir = tempfile::TempDir::new().unwrap();
    let catalog = Catalog::open(dir.path(), CatalogOptions::default()).unwrap();
    let records: Vec<Dataset> = real().records.iter().take(2000).cloned().collect();
    catalog.upsert_batch(&records).unwrap();
    let query = Query::parse("question answering");
    let before = catalog.search(&query, SortKey::Relevance, 20, 0).unwrap();
    assert_eq!(catalog.reindex().unwrap(), records.len() as u64);
    let after = catalog.search(&query, SortKey::Relevance, 20, 0).unwrap();
    assert!(before.total > 0);
    assert_eq!(before, after);
}
