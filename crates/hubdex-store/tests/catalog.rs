//! The catalog as the daemon uses it: write batches, search, get, reopen.

#![allow(
    clippy::unwrap_used,
    reason = "helpers of tests: a failure there is the test failing"
)]

use std::collections::HashSet;

use chrono::{TimeZone, Utc};
use hubdex_core::{Dataset, DatasetId, Query, SortKey};
use hubdex_store::{BatchStats, Catalog, CatalogOptions, Marks, StoreError};
use tempfile::TempDir;

fn options() -> CatalogOptions {
    CatalogOptions {
        cache_capacity_bytes: 8 * 1024 * 1024,
        writer_memory_bytes: 20_000_000,
    }
}

fn open(dir: &TempDir) -> Catalog {
    Catalog::open(dir.path(), options()).unwrap()
}

fn id(s: &str) -> DatasetId {
    s.parse().unwrap()
}

fn dataset(id_str: &str, description: &str, downloads: u64) -> Dataset {
    let mut d = Dataset::new(id(id_str));
    d.author = d.id.namespace().map(str::to_string);
    d.description = Some(description.to_string());
    d.downloads = downloads;
    d
}

fn ids(catalog: &Catalog, query: &str, sort: SortKey, limit: usize, offset: usize) -> Vec<String> {
    catalog
        .search(&Query::parse(query), sort, limit, offset)
        .unwrap()
        .hits
        .into_iter()
        .map(|d| d.id.to_string())
        .collect()
}

fn find(catalog: &Catalog, query: &str) -> Vec<String> {
    ids(catalog, query, SortKey::Relevance, 20, 0)
}

fn sample() -> Vec<Dataset> {
    vec![
        dataset(
            "rajpurkar/squad",
            "Stanford Question Answering Dataset, a reading comprehension benchmark.",
            140_000,
        ),
        dataset("openai/gsm8k", "Grade school math word problems.", 500_000),
        dataset(
            "acme/tiny-reviews",
            "Short product reviews with star ratings.",
            41,
        ),
    ]
}

#[test]
fn upserted_records_are_found_by_description_id_part_and_author() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    assert!(catalog.is_empty());
    let stats = catalog.upsert_batch(&sample()).unwrap();
    assert_eq!(
        stats,
        BatchStats {
            inserted: 3,
            updated: 0,
            unchanged: 0
        }
    );
    assert_eq!(catalog.len(), 3);
    assert_eq!(catalog.generation(), catalog.indexed_generation());

    assert_eq!(find(&catalog, "comprehension"), ["rajpurkar/squad"]);
    assert_eq!(find(&catalog, "Reading Comprehension"), ["rajpurkar/squad"]);
    assert_eq!(find(&catalog, "tiny"), ["acme/tiny-reviews"]);
    assert_eq!(find(&catalog, "gsm8k"), ["openai/gsm8k"]);
    assert_eq!(find(&catalog, "author:openai"), ["openai/gsm8k"]);
    assert_eq!(find(&catalog, "author:OpenAI math"), ["openai/gsm8k"]);
    assert!(find(&catalog, "author:openai reviews").is_empty());
    assert!(find(&catalog, "zebra").is_empty());

    let got = catalog.get(&id("openai/gsm8k")).unwrap().unwrap();
    assert_eq!(got, sample()[1]);
    assert_eq!(catalog.get(&id("openai/nope")).unwrap(), None);
}

#[test]
fn a_changed_description_changes_what_finds_the_record() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    catalog.upsert_batch(&sample()).unwrap();
    let generation = catalog.generation();

    let mut batch = sample();
    batch[2].description = Some("Short film critiques in French.".to_string());
    let stats = catalog.upsert_batch(&batch).unwrap();
    assert_eq!(
        stats,
        BatchStats {
            inserted: 0,
            updated: 1,
            unchanged: 2
        }
    );
    assert!(catalog.generation() > generation);
    assert_eq!(catalog.indexed_generation(), catalog.generation());
    assert!(find(&catalog, "ratings").is_empty());
    assert_eq!(find(&catalog, "critiques"), ["acme/tiny-reviews"]);
    // Replaced, not duplicated.
    assert_eq!(
        catalog
            .search(&Query::parse("tiny"), SortKey::Relevance, 10, 0)
            .unwrap()
            .total,
        1
    );
    assert_eq!(catalog.len(), 3);

    // Nothing changed: nothing is rewritten and the generation stays.
    let generation = catalog.generation();
    let stats = catalog.upsert_batch(&batch).unwrap();
    assert_eq!(stats.unchanged, 3);
    assert_eq!(catalog.generation(), generation);
}

/// Answers are reused while nothing changes (a backspace while typing asks again); a write
/// in between must show at once.
#[test]
fn a_repeated_search_sees_every_write_in_between() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    catalog.upsert_batch(&sample()).unwrap();
    let with_facets = |query: &str| {
        let (results, facets) = catalog
            .search_with_facets(
                &Query::parse(query),
                SortKey::Relevance,
                (10, 0),
                &Marks::default(),
                5,
            )
            .unwrap();
        let ids: Vec<String> = results.hits.iter().map(|d| d.id.to_string()).collect();
        (results.total, ids, facets)
    };
    assert!(find(&catalog, "critiques").is_empty());
    let before = with_facets("reviews");
    assert_eq!(with_facets("reviews"), before);

    catalog
        .upsert_batch(&[dataset("film/critiques", "Movie reviews and critiques.", 5)])
        .unwrap();
    assert_eq!(find(&catalog, "critiques"), ["film/critiques"]);
    let after = with_facets("reviews");
    assert_eq!(after.0, before.0 + 1);
    assert!(after.1.contains(&"film/critiques".to_string()));

    catalog.remove_batch(&[id("film/critiques")]).unwrap();
    assert!(find(&catalog, "critiques").is_empty());
    assert_eq!(with_facets("reviews"), before);
}

#[test]
fn the_last_copy_of_a_repeated_id_in_a_batch_wins() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    let first = dataset("acme/dup", "first version", 1);
    let second = dataset("acme/dup", "second version", 2);
    let stats = catalog.upsert_batch(&[first, second.clone()]).unwrap();
    assert_eq!(stats.inserted, 1);
    assert_eq!(catalog.len(), 1);
    assert_eq!(catalog.get(&id("acme/dup")).unwrap(), Some(second));
    assert!(find(&catalog, "first").is_empty());
}

#[test]
fn removed_records_are_gone() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    catalog.upsert_batch(&sample()).unwrap();
    let removed = catalog
        .remove_batch(&[id("rajpurkar/squad"), id("nobody/never-existed")])
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(catalog.len(), 2);
    assert_eq!(catalog.get(&id("rajpurkar/squad")).unwrap(), None);
    assert!(find(&catalog, "comprehension").is_empty());
    assert_eq!(catalog.indexed_generation(), catalog.generation());
    assert_eq!(catalog.remove_batch(&[id("rajpurkar/squad")]).unwrap(), 0);
}

#[test]
fn get_ignores_case_when_no_id_matches_exactly() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    catalog.upsert_batch(&sample()).unwrap();
    let got = catalog.get(&id("RajPurkar/SQuAD")).unwrap().unwrap();
    assert_eq!(got.id.as_str(), "rajpurkar/squad");
    // An id with capitals, next to one that differs only in punctuation (the same key).
    catalog
        .upsert_batch(&[
            dataset("HuggingFaceH4/UltraChat_200k", "chats", 10),
            dataset("huggingfaceh4/ultrachat-200k", "a look-alike", 1_000),
        ])
        .unwrap();
    let got = catalog
        .get(&id("huggingfaceh4/ultrachat_200k"))
        .unwrap()
        .unwrap();
    assert_eq!(got.id.as_str(), "HuggingFaceH4/UltraChat_200k");
    let got = catalog
        .get(&id("HUGGINGFACEH4/ULTRACHAT-200K"))
        .unwrap()
        .unwrap();
    assert_eq!(got.id.as_str(), "huggingfaceh4/ultrachat-200k");
    assert!(
        catalog
            .get(&id("huggingfaceh4/ultrachat.200k"))
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_prefix_of_the_last_word_finds_as_you_type() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    catalog.upsert_batch(&sample()).unwrap();
    assert_eq!(find(&catalog, "squ"), ["rajpurkar/squad"]);
    // Among completions, popularity decides, not how rare the completed word is.
    catalog
        .upsert_batch(&[dataset("lab/cells", "squamous epithelium images", 2)])
        .unwrap();
    assert_eq!(find(&catalog, "squ"), ["rajpurkar/squad", "lab/cells"]);
    assert!(find(&catalog, "s").contains(&"rajpurkar/squad".to_string()));
    assert_eq!(find(&catalog, "reading compre"), ["rajpurkar/squad"]);
    // Only the last word is a prefix: earlier words must match whole. (With so few
    // matches, a record with most of the words is shown too, here squad for `reading`.)
    catalog
        .upsert_batch(&[dataset("lab/drills", "comprehension drills", 2)])
        .unwrap();
    assert_eq!(find(&catalog, "compre reading"), ["rajpurkar/squad"]);
    // Words that yield no tokens are ignored.
    assert_eq!(find(&catalog, "-- gsm"), ["openai/gsm8k"]);
}

#[test]
fn a_record_named_like_the_query_outranks_more_popular_mentions() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    catalog
        .upsert_batch(&[
            dataset(
                "big/qa-mix",
                "A mixture of squad, squad questions and squad answers.",
                9_000_000,
            ),
            dataset("someone/squad", "A copy.", 3),
            dataset("rajpurkar/squad", "Reading comprehension.", 140_000),
            dataset("small/squad_v2", "Version two.", 10),
        ])
        .unwrap();
    let hits = find(&catalog, "squad");
    assert_eq!(hits.len(), 4);
    // Both records named `squad` come first, the popular one on top.
    assert_eq!(hits[..2], ["rajpurkar/squad", "someone/squad"]);
    // The whole id beats a same-named record.
    assert_eq!(find(&catalog, "SOMEONE/squad")[0], "someone/squad");
    // Joined name parts are searchable too.
    assert_eq!(find(&catalog, "squadv2"), ["small/squad_v2"]);
}

#[test]
fn non_relevance_sorts_are_descending_with_ties_by_id() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    let mut batch = Vec::new();
    for (i, (downloads, likes)) in [(5, 30), (50, 10), (5, 20), (500, 0)]
        .into_iter()
        .enumerate()
    {
        let mut d = dataset(&format!("org/data-{i}"), "common words", downloads);
        d.likes = likes;
        d.trending_score = i as f64 * 1.5;
        d.last_modified = Some(
            Utc.timestamp_opt(1_700_000_000 + i as i64 * 86_400, 0)
                .unwrap(),
        );
        d.created_at = (i != 2).then(|| Utc.timestamp_opt(1_600_000_000 - i as i64, 0).unwrap());
        batch.push(d);
    }
    // Indexed in reverse, so document order disagrees with id order on ties.
    batch.reverse();
    catalog.upsert_batch(&batch).unwrap();
    let sorted = |sort| ids(&catalog, "common", sort, 10, 0);
    assert_eq!(
        sorted(SortKey::Downloads),
        ["org/data-3", "org/data-1", "org/data-0", "org/data-2"]
    );
    assert_eq!(
        sorted(SortKey::Likes),
        ["org/data-0", "org/data-2", "org/data-1", "org/data-3"]
    );
    assert_eq!(
        sorted(SortKey::LastModified),
        ["org/data-3", "org/data-2", "org/data-1", "org/data-0"]
    );
    assert_eq!(
        sorted(SortKey::TrendingScore),
        ["org/data-3", "org/data-2", "org/data-1", "org/data-0"]
    );
    // A record without a creation date comes last.
    assert_eq!(
        sorted(SortKey::CreatedAt),
        ["org/data-0", "org/data-1", "org/data-3", "org/data-2"]
    );
    // With no words, relevance means downloads.
    assert_eq!(
        ids(&catalog, "", SortKey::Relevance, 10, 0),
        sorted(SortKey::Downloads)
    );
}

#[test]
fn total_counts_every_match_and_pages_do_not_overlap() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    let mut batch: Vec<Dataset> = (0..25)
        .map(|i| dataset(&format!("org/page-{i:02}"), "paged corpus", i % 4))
        .collect();
    batch.push(dataset("org/other", "unrelated", 7));
    catalog.upsert_batch(&batch).unwrap();

    for sort in [SortKey::Relevance, SortKey::Downloads] {
        let mut seen = Vec::new();
        for offset in [0, 10, 20] {
            let page = catalog
                .search(&Query::parse("paged"), sort, 10, offset)
                .unwrap();
            assert_eq!(page.total, 25);
            seen.extend(page.hits.into_iter().map(|d| d.id.to_string()));
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(seen.len(), 25, "{sort}");
        assert_eq!(unique.len(), 25, "{sort}: pages overlap");
    }

    let beyond = catalog
        .search(&Query::parse("paged"), SortKey::Downloads, 10, 500)
        .unwrap();
    assert_eq!((beyond.total, beyond.hits.len()), (25, 0));
    let counted = catalog
        .search(&Query::parse("paged"), SortKey::Relevance, 0, 0)
        .unwrap();
    assert_eq!((counted.total, counted.hits.len()), (25, 0));
    let all = catalog
        .search(&Query::default(), SortKey::Relevance, 100, 0)
        .unwrap();
    assert_eq!(all.total, 26);
}

#[test]
fn a_page_holds_at_most_a_thousand_hits() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    let batch: Vec<Dataset> = (0..1005)
        .map(|i| dataset(&format!("bulk/item-{i}"), "bulk", i))
        .collect();
    catalog.upsert_batch(&batch).unwrap();
    let page = catalog
        .search(&Query::parse("bulk"), SortKey::Downloads, 5000, 0)
        .unwrap();
    assert_eq!(page.total, 1005);
    assert_eq!(page.hits.len(), 1000);
}

#[test]
fn followed_and_downloaded_filter_by_the_marks_given() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    catalog.upsert_batch(&sample()).unwrap();
    let marks = Marks {
        followed: HashSet::from(["rajpurkar/squad".to_string(), "gone/away".to_string()]),
        downloaded: HashSet::from(["openai/gsm8k".to_string()]),
    };
    let marked = |query: &str, marks: &Marks| -> Vec<String> {
        let results = catalog
            .search_marked(&Query::parse(query), SortKey::Downloads, 10, 0, marks)
            .unwrap();
        results.hits.into_iter().map(|d| d.id.to_string()).collect()
    };
    assert_eq!(marked("followed:yes", &marks), ["rajpurkar/squad"]);
    assert_eq!(
        marked("followed:no", &marks),
        ["openai/gsm8k", "acme/tiny-reviews"]
    );
    assert_eq!(marked("downloaded:yes", &marks), ["openai/gsm8k"]);
    assert_eq!(marked("downloaded:no reading", &marks), ["rajpurkar/squad"]);
    assert!(marked("followed:yes downloaded:yes", &marks).is_empty());
    assert_eq!(
        marked("followed:yes OR downloaded:yes", &marks),
        ["openai/gsm8k", "rajpurkar/squad"]
    );
    assert!(marked("-followed:no -downloaded:no", &marks).is_empty());
    // Without marks nothing is followed or downloaded.
    assert!(marked("followed:yes", &Marks::default()).is_empty());
    assert_eq!(marked("downloaded:no", &Marks::default()).len(), 3);
    assert!(find(&catalog, "followed:yes").is_empty());
    // Facets count the marked records only.
    let facets = catalog
        .facets_marked(&Query::parse("followed:yes"), 10, &marks)
        .unwrap();
    assert_eq!(facets.counted, 1);
}

#[test]
fn author_filter_matches_any_listed_owner() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    let mut batch = sample();
    // An explicit author wins over the namespace.
    let mut moved = dataset("legacy/glue-copy", "benchmark", 1);
    moved.author = Some("NYU-MLL".to_string());
    batch.push(moved);
    catalog.upsert_batch(&batch).unwrap();
    let mut hits = ids(
        &catalog,
        "author:acme author:OPENAI",
        SortKey::Downloads,
        10,
        0,
    );
    hits.sort();
    assert_eq!(hits, ["acme/tiny-reviews", "openai/gsm8k"]);
    assert_eq!(find(&catalog, "author:nyu-mll"), ["legacy/glue-copy"]);
    assert!(find(&catalog, "author:legacy").is_empty());
}

#[test]
fn everything_survives_a_reopen() {
    let dir = TempDir::new().unwrap();
    let generation = {
        let catalog = open(&dir);
        catalog.upsert_batch(&sample()).unwrap();
        catalog.set_meta("sync.cursor", b"page-7").unwrap();
        catalog.flush().unwrap();
        catalog.generation()
    };
    let catalog = open(&dir);
    assert_eq!(catalog.len(), 3);
    assert_eq!(catalog.generation(), generation);
    assert_eq!(catalog.indexed_generation(), generation);
    assert_eq!(find(&catalog, "comprehension"), ["rajpurkar/squad"]);
    assert_eq!(
        catalog.meta("sync.cursor").unwrap().as_deref(),
        Some(&b"page-7"[..])
    );
    assert_eq!(catalog.meta("missing").unwrap(), None);
    assert!(catalog.get(&id("acme/tiny-reviews")).unwrap().is_some());
}

#[test]
fn a_bulk_load_big_enough_to_reopen_the_store_keeps_it_readable_writable_and_locked() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    for page in 0..25 {
        let records: Vec<Dataset> = (0..1000)
            .map(|i| dataset(&format!("bulk/item-{page}-{i}"), "bulk", page * 1000 + i))
            .collect();
        catalog.upsert_bulk(&records).unwrap();
    }
    // 25,000 records stored in bulk: this commit also reopens the record store.
    catalog.commit().unwrap();
    assert_eq!(catalog.len(), 25_000);
    assert!(catalog.get(&id("bulk/item-0-0")).unwrap().is_some());
    assert_eq!(
        ids(&catalog, "bulk", SortKey::Downloads, 2, 0),
        ["bulk/item-24-999", "bulk/item-24-998"]
    );
    catalog.upsert_batch(&sample()).unwrap();
    catalog.remove_batch(&[id("bulk/item-24-999")]).unwrap();
    catalog.set_meta("sync.cursor", b"page-25").unwrap();
    assert_eq!(find(&catalog, "math"), ["openai/gsm8k"]);
    assert!(catalog.get(&id("bulk/item-24-999")).unwrap().is_none());
    assert!(matches!(
        Catalog::open(dir.path(), options()),
        Err(StoreError::Locked { .. })
    ));
    let generation = catalog.generation();
    drop(catalog);
    let catalog = open(&dir);
    assert_eq!(catalog.len(), 25_002);
    assert_eq!(catalog.generation(), generation);
    assert_eq!(
        catalog.meta("sync.cursor").unwrap().as_deref(),
        Some(&b"page-25"[..])
    );
}

#[test]
fn reindex_rebuilds_the_same_results() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    catalog.upsert_batch(&sample()).unwrap();
    catalog.remove_batch(&[id("acme/tiny-reviews")]).unwrap();
    let before = ids(&catalog, "", SortKey::Downloads, 10, 0);
    assert_eq!(catalog.reindex().unwrap(), 2);
    assert_eq!(ids(&catalog, "", SortKey::Downloads, 10, 0), before);
    assert_eq!(find(&catalog, "math"), ["openai/gsm8k"]);
    assert!(find(&catalog, "reviews").is_empty());
    assert_eq!(catalog.indexed_generation(), catalog.generation());
}

#[test]
fn a_missing_or_damaged_index_is_rebuilt_on_open() {
    let dir = TempDir::new().unwrap();
    drop({
        let catalog = open(&dir);
        catalog.upsert_batch(&sample()).unwrap();
        catalog
    });
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    drop({
        let catalog = open(&dir);
        assert_eq!(find(&catalog, "math"), ["openai/gsm8k"]);
        catalog
    });
    // A segment file lost.
    let mut lost = 0;
    for entry in std::fs::read_dir(dir.path().join("index")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "term") {
            std::fs::remove_file(path).unwrap();
            lost += 1;
        }
    }
    assert!(lost > 0);
    drop({
        let catalog = open(&dir);
        assert_eq!(find(&catalog, "math"), ["openai/gsm8k"]);
        catalog
    });
    std::fs::write(dir.path().join("index/meta.json"), "not json").unwrap();
    let catalog = open(&dir);
    assert_eq!(find(&catalog, "math"), ["openai/gsm8k"]);
    assert_eq!(catalog.indexed_generation(), catalog.generation());
}

#[test]
fn a_second_catalog_on_the_same_directory_is_refused() {
    let dir = TempDir::new().unwrap();
    let _first = open(&dir);
    match Catalog::open(dir.path(), options()) {
        Err(err @ StoreError::Locked { .. }) => {
            let message = err.to_string();
            assert!(message.contains("another hubdex daemon uses"), "{message}");
            assert!(
                message.contains(&dir.path().display().to_string()),
                "{message}"
            );
        }
        Err(other) => panic!("expected Locked, got {other}"),
        Ok(_) => panic!("a second catalog opened the same directory"),
    }
}

#[test]
fn facets_count_every_match_exactly_and_follow_updates() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    let tagged = |name: &str, tags: &[&str]| {
        let mut d = dataset(name, "A corpus of reviews.", 10);
        d.tags = tags.iter().map(|t| t.to_string()).collect();
        d
    };
    catalog
        .upsert_batch(&[
            tagged("a/one", &["language:en", "language:fr", "license:mit"]),
            tagged("a/two", &["language:en", "license:apache-2.0"]),
            tagged("a/three", &["language:de", "license:mit"]),
            tagged("a/four", &["language:en"]),
            tagged("b/other", &["language:ja", "license:mit"]),
        ])
        .unwrap();
    let counts = |catalog: &Catalog| {
        let facets = catalog.facets(&Query::parse("author:a"), 10).unwrap();
        let pairs = |list: &[hubdex_core::FacetCount]| {
            list.iter()
                .map(|c| format!("{}={}", c.value, c.count))
                .collect::<Vec<_>>()
        };
        (pairs(&facets.language), pairs(&facets.license))
    };
    assert_eq!(
        counts(&catalog),
        (
            vec!["en=3".to_string(), "de=1".into(), "fr=1".into()],
            vec!["mit=2".to_string(), "apache-2.0=1".into()]
        )
    );
    // The old version of an updated record stays in its segment, deleted: it must not count.
    catalog
        .upsert_batch(&[tagged("a/four", &["language:fr", "license:mit"])])
        .unwrap();
    assert_eq!(
        counts(&catalog),
        (
            vec!["en=2".to_string(), "fr=2".into(), "de=1".into()],
            vec!["mit=3".to_string(), "apache-2.0=1".into()]
        )
    );
}

#[test]
fn facets_count_every_value_of_a_record_in_many_languages() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    // Twelve languages, two tasks, a licence and a size: sixteen facet values in one record,
    // more than a row of the facet table holds (the rest is kept beside the rows).
    let languages = [
        "ar", "bn", "de", "en", "es", "fr", "hi", "id", "ja", "ko", "pt", "zh",
    ];
    let mut many = dataset("org/multilingual", "Parallel reviews.", 10);
    many.tags = languages.iter().map(|l| format!("language:{l}")).collect();
    many.tags.extend([
        "task_categories:translation".to_string(),
        "task_categories:text-classification".into(),
        "license:cc-by-4.0".into(),
        "size_categories:1K<n<10K".into(),
    ]);
    let mut few = dataset("org/english", "English reviews.", 5);
    few.tags = vec!["language:en".into(), "task_categories:translation".into()];
    catalog.upsert_batch(&[many, few]).unwrap();

    let facets = catalog.facets(&Query::parse("reviews"), 20).unwrap();
    let count = |list: &[hubdex_core::FacetCount], value: &str| {
        list.iter()
            .find(|c| c.value == value)
            .map_or(0, |c| c.count)
    };
    assert_eq!(facets.language.len(), languages.len());
    for language in languages {
        let expected = if language == "en" { 2 } else { 1 };
        assert_eq!(count(&facets.language, language), expected, "{language}");
    }
    assert_eq!(count(&facets.task, "translation"), 2);
    assert_eq!(count(&facets.task, "text-classification"), 1);
    assert_eq!(count(&facets.license, "cc-by-4.0"), 1);
    assert_eq!(facets.size.len(), 1);
}

#[test]
fn facets_of_many_matches_are_estimated_from_a_sample_close_to_the_truth() {
    let dir = TempDir::new().unwrap();
    let catalog = open(&dir);
    // Three writes, three segments; a record has no, one or two languages, and no or one
    // licence.
    let per_batch = 6_000;
    for batch in 0..3 {
        let records: Vec<Dataset> = (0..per_batch)
            .map(|i| {
                let n = batch * per_batch + i;
                let mut d = dataset(&format!("org/set-{n}"), "A corpus of reviews.", 10);
                if n % 3 != 0 {
                    d.tags.push("language:en".into());
                }
                if n % 4 == 0 {
                    d.tags.push("language:fr".into());
                }
                match n % 5 {
                    0 | 1 => d.tags.push("license:mit".into()),
                    2 | 3 => d.tags.push("license:apache-2.0".into()),
                    _ => {}
                }
                d
            })
            .collect();
        catalog.upsert_batch(&records).unwrap();
    }
    let facets = catalog.facets(&Query::parse("reviews"), 10).unwrap();
    let total = 3 * per_batch as u64;
    assert!(
        facets.counted < total / 2,
        "{} of {total} matches read: the sample should be a fraction",
        facets.counted
    );
    let count = |list: &[hubdex_core::FacetCount], value: &str| {
        list.iter()
            .find(|c| c.value == value)
            .map_or(0, |c| c.count)
    };
    for (facet, value, truth) in [
        (&facets.language, "en", total * 2 / 3),
        (&facets.language, "fr", total / 4),
        (&facets.license, "mit", total * 2 / 5),
        (&facets.license, "apache-2.0", total * 2 / 5),
    ] {
        let estimate = count(facet, value);
        let error = estimate.abs_diff(truth) as f64 / truth as f64;
        assert!(
            error < 0.15,
            "{value}: estimated {estimate}, truly {truth} ({:.0} % off)",
            error * 100.0
        );
    }
    assert_eq!(facets.language.len(), 2, "{:?}", facets.language);
    assert_eq!(facets.license.len(), 2, "{:?}", facets.license);
}
