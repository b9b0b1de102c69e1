//! The synthetic catalog: deterministic, and shaped like the Hub's.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use hubdex_fakehub::{FakeHub, FakeHubOptions, synthetic_records};

use crate::common::{localhost, walk};

#[test]
fn the_generator_is_deterministic_and_record_i_ignores_the_count() {
    let a = synthetic_records(1_500, 9);
    assert_eq!(a, synthetic_records(1_500, 9));
    assert_eq!(synthetic_records(400, 9), a[..400]);
    let other_seed = synthetic_records(400, 10);
    assert_ne!(other_seed, a[..400]);
}

fn time(t: Option<DateTime<Utc>>) -> i64 {
    t.unwrap().timestamp_millis()
}

#[test]
fn synthetic_records_look_like_the_hubs() {
    let records = synthetic_records(20_000, 1);
    let n = records.len() as f64;

    // Ids: `owner/name`, unique ignoring case, names of words with `-`, `_`, digits.
    let ids: HashSet<String> = records
        .iter()
        .map(|d| d.id.as_str().to_lowercase())
        .collect();
    assert_eq!(ids.len(), records.len());
    assert!(
        records
            .iter()
            .all(|d| d.id.namespace() == d.author.as_deref())
    );
    let names = |p: fn(&str) -> bool| records.iter().filter(|d| p(d.id.name())).count();
    assert!(names(|s| s.contains('_')) > 500 && names(|s| s.contains('-')) > 5_000);
    assert!(names(|s| s.bytes().any(|b| b.is_ascii_digit())) > 1_000);
    assert!(names(|s| s.bytes().any(|b| b.is_ascii_uppercase())) > 1_000);

    // Owners: a long tail, with no single owner dominating.
    let mut per_owner: HashMap<&str, usize> = HashMap::new();
    for d in &records {
        *per_owner.entry(d.author.as_deref().unwrap()).or_default() += 1;
    }
    let biggest = per_owner.values().max().copied().unwrap();
    let singles = per_owner.values().filter(|&&c| c == 1).count();
    assert!(per_owner.len() > 2_000, "{} owners", per_owner.len());
    assert!(
        biggest > 50 && (biggest as f64) < n * 0.03,
        "largest owner has {biggest}"
    );
    assert!(singles > 1_000, "{singles} owners with one dataset");

    // Downloads: most near zero, a few very large; likes follow downloads.
    let mut downloads: Vec<u64> = records.iter().map(|d| d.downloads).collect();
    downloads.sort_unstable();
    let zero = downloads.iter().filter(|&&d| d == 0).count() as f64;
    assert!((0.4..0.8).contains(&(zero / n)), "{zero} with no downloads");
    assert!(
        downloads[downloads.len() / 2] < 20,
        "median {}",
        downloads[downloads.len() / 2]
    );
    assert!(
        downloads[downloads.len() - 1] > 100_000,
        "max {}",
        downloads[downloads.len() - 1]
    );
    let mean_likes = |keep: &dyn Fn(u64) -> bool| {
        let chosen: Vec<f64> = records
            .iter()
            .filter(|d| keep(d.downloads))
            .map(|d| d.likes as f64)
            .collect();
        chosen.iter().sum::<f64>() / chosen.len() as f64
    };
    assert!(mean_likes(&|d| d >= 1_000) > 10.0 * mean_likes(&|d| d < 10));

    // Tags: the Hub's prefixes, each on a good share of records.
    for prefix in [
        "task_categories:",
        "task_ids:",
        "language:",
        "license:",
        "size_categories:",
        "modality:",
        "format:",
        "library:",
        "arxiv:",
    ] {
        let with = records
            .iter()
            .filter(|d| d.tags.iter().any(|t| t.starts_with(prefix)))
            .count();
        assert!(with as f64 > n * 0.02, "{prefix} on {with} records");
    }
    assert!(
        records
            .iter()
            .filter(|d| d.tags.iter().any(|t| t == "region:us"))
            .count() as f64
            > n * 0.5
    );
    assert!(
        records
            .iter()
            .any(|d| d.tags.iter().any(|t| t == "size_categories:1K<n<10K"))
    );
    assert!(
        records
            .iter()
            .any(|d| d.tags.iter().any(|t| !t.contains(':'))),
        "free tags"
    );

    // Descriptions: about 30 % none; the rest real words in sentences.
    let none = records.iter().filter(|d| d.description.is_none()).count() as f64;
    assert!(
        (0.25..0.35).contains(&(none / n)),
        "{none} without description"
    );
    for d in records
        .iter()
        .filter_map(|d| d.description.as_deref())
        .take(500)
    {
        assert!(d.ends_with('.'), "{d}");
        assert!(d.split_whitespace().count() >= 4, "{d}");
        assert!(d.chars().next().is_some_and(char::is_uppercase), "{d}");
    }
    let cards = records.iter().filter(|d| d.card_data.is_some()).count() as f64;
    assert!((0.3..0.55).contains(&(cards / n)), "{cards} cards");

    // Dates: 2020 to mid-2026, modified after created, old repos share the Hub's date.
    let start = time("2020-01-01T00:00:00Z".parse().ok());
    let end = time("2026-07-01T00:00:00Z".parse().ok());
    let old = time("2022-03-02T23:29:04Z".parse().ok());
    for d in &records {
        let (created, modified) = (time(d.created_at), time(d.last_modified));
        assert!(start <= created && created <= end && created <= modified && modified <= end);
    }
    let at_old = records.iter().filter(|d| time(d.created_at) == old).count() as f64;
    assert!(
        (0.03..0.2).contains(&(at_old / n)),
        "{at_old} created before the Hub kept dates"
    );

    // A few gated, and every filled-in field set.
    let gated = records.iter().filter(|d| d.gated.is_gated()).count() as f64;
    assert!((0.01..0.06).contains(&(gated / n)), "{gated} gated");
    assert!(
        records
            .iter()
            .all(|d| d.object_id.as_deref().map(str::len) == Some(24))
    );
    assert!(
        records
            .iter()
            .all(|d| d.sha.as_deref().map(str::len) == Some(40))
    );
    assert!(records.iter().any(|d| d.trending_score > 0.0));
}

#[tokio::test]
async fn a_synthetic_fake_serves_exactly_its_records() {
    let (count, seed) = (300, 5);
    let generated = tokio::task::spawn_blocking(move || {
        FakeHub::synthetic(count, seed, FakeHubOptions::default())
    })
    .await
    .unwrap();
    let from_records =
        FakeHub::from_records(synthetic_records(count, seed), FakeHubOptions::default());
    let a = generated.spawn(localhost()).await.unwrap();
    let b = from_records.spawn(localhost()).await.unwrap();
    for query in [
        "full=true",
        "sort=createdAt&expand=description&expand=cardData",
    ] {
        let (from_a, _) = walk(&format!("{}/api/datasets?{query}", a.url())).await;
        let (from_b, _) = walk(&format!("{}/api/datasets?{query}", b.url())).await;
        assert_eq!(from_a.len(), count);
        assert_eq!(from_a, from_b, "{query}");
    }
}
