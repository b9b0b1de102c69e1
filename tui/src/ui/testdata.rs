//! Fixed inputs for the TUI's tests: ten real catalog records and a fixed clock.

use chrono::{DateTime, Utc};
use hubdex_core::{Dataset, FacetCount, Facets};
use hubdex_ipc::{Status, SyncReport};

const HITS: &str = include_str!("../../tests/fixtures/hits.jsonl");

/// The clock every test runs at.
pub fn now() -> DateTime<Utc> {
    "2026-04-30T12:00:00Z".parse().unwrap()
}

/// Ten real records (see `tests/fixtures/README.md`), most downloaded first.
pub fn hits() -> Vec<Dataset> {
    HITS.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A daemon that synced five minutes before [`now`].
pub fn status() -> Status {
    let finished = now() - chrono::Duration::minutes(5);
    Status {
        version: "0.1.0".into(),
        records: 48_997,
        endpoint: "https://huggingface.co".into(),
        syncing: None,
        last_sync: Some(SyncReport {
            started_at: finished - chrono::Duration::seconds(40),
            finished_at: finished,
            pages: 49,
            records: 48_997,
            error: None,
            ..SyncReport::default()
        }),
        last_success: Some(finished),
        offline: None,
        next_sync: Some(finished + chrono::Duration::hours(1)),
        http: Some("127.0.0.1:8719".into()),
        catalog_sync: Default::default(),
        compacting: false,
    }
}

/// Facet counts of `hits`, as the daemon counts them (most frequent first, ties by value).
pub fn facets(hits: &[Dataset]) -> Facets {
    fn count<'a>(values: impl Iterator<Item = &'a str>) -> Vec<FacetCount> {
        let mut counts = std::collections::BTreeMap::<&str, u64>::new();
        for value in values {
            *counts.entry(value).or_default() += 1;
        }
        let mut out: Vec<FacetCount> = counts
            .into_iter()
            .map(|(value, count)| FacetCount {
                value: value.to_string(),
                count,
            })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        out
    }
    Facets {
        task: count(hits.iter().flat_map(|d| d.tag_values("task_categories"))),
        language: count(hits.iter().flat_map(|d| d.tag_values("language"))),
        license: count(hits.iter().flat_map(|d| d.tag_values("license"))),
        modality: count(hits.iter().flat_map(|d| d.tag_values("modality"))),
        size: count(
            hits.iter()
                .filter_map(|d| d.size_bucket().map(|b| b.as_str())),
        ),
        counted: hits.len() as u64,
    }
}
