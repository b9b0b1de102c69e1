//! `hubdex-bench relevance`: how well, and how fast, hubdex's search finds what people want
//! in the real catalog, next to a baseline that imitates the Hub's own search.
//!
//! * **Known-item** queries: a record's card `pretty_name` is searched for. Per record, only
//!   the record itself is a hit (so titles shared by many records, such as `BEIR Benchmark`,
//!   cannot all be found); per distinct title, any record with that title is. Three sets:
//!   every title (the definition, where the Hub's search finds about a quarter),
//!   titles that differ from the id and its name (ignoring case), and the harder titles that
//!   are more than the id respelled (`GoEmotions` for `go_emotions` is left out).
//! * **Topical** queries (`queries/topical.tsv`): needs written in words, each with the ids
//!   that satisfy it.
//! * The **baseline** is the Hub's `search=`: a case-insensitive substring of the id, most
//!   downloaded first.
//! * **Latency** of `Catalog::search` (top 10, records fetched) and `Catalog::facets`, in
//!   process, per query class: titles, topical needs, every prefix of titles as typed,
//!   fielded queries.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hubdex_core::{Dataset, Query, SortKey};
use hubdex_store::{Catalog, CatalogOptions};

/// Hits looked at per query.
const DEPTH: usize = 10;
/// Titles whose every prefix is searched, as if typed, for the as-you-type latency.
const TYPED_TITLES: usize = 300;
/// Fielded queries timed (and their facets).
const FIELDED: &[&str] = &[
    "",
    "author:openai",
    "license:mit size:<1GB sort:likes",
    "lang:ko task:text-classification",
    "task:question-answering lang:en sort:downloads",
    "modality:image downloads:>1000",
    "updated:<365d sort:updated",
    "created:>2024-01-01 likes:>=10",
    "-lang:en task:translation",
    "squad OR quac",
    "\"question answering\" -squad",
    "size:1K<n<10K license:apache-2.0",
    "gated:no format:parquet sort:downloads-asc",
    "library:datasets modality:audio",
    "size:>1M lang:zh",
];

/// Arguments of `hubdex-bench relevance`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The catalog to index: Hub-format JSON lines, zstd-compressed or plain.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/catalog-snapshot.jsonl.zst"))]
    catalog: PathBuf,
    /// Topical queries: one per line, the query, a TAB, the acceptable ids separated by
    /// spaces; `#` starts a comment line.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/queries/topical.tsv"))]
    topical: PathBuf,
    /// Synthetic records (hubdex-fakehub's generator) added as distractors, to see relevance
    /// and latency in a catalog the Hub's size.
    #[arg(long, default_value_t = 0)]
    pad: usize,
    /// Print up to this many misses (not in the top 3) of each query set.
    #[arg(long, default_value_t = 0)]
    misses: usize,
}

/// One query and what answers it.
struct Case {
    query: String,
    /// Ids that count as a hit.
    wanted: HashSet<String>,
}

/// Hit rates of one query set.
#[derive(Default)]
struct Score {
    queries: usize,
    hit1: usize,
    hit3: usize,
    hit10: usize,
    reciprocal_ranks: f64,
}

impl Score {
    fn add(&mut self, rank: Option<usize>) {
        self.queries += 1;
        if let Some(rank) = rank {
            self.hit1 += usize::from(rank == 0);
            self.hit3 += usize::from(rank < 3);
            self.hit10 += usize::from(rank < DEPTH);
            self.reciprocal_ranks += 1.0 / (rank as f64 + 1.0);
        }
    }

    fn cells(&self) -> String {
        let pct = |n: usize| 100.0 * n as f64 / self.queries.max(1) as f64;
        format!(
            "{:>6.1}% {:>6.1}% {:>6.1}% {:>6.3}",
            pct(self.hit1),
            pct(self.hit3),
            pct(self.hit10),
            self.reciprocal_ranks / self.queries.max(1) as f64
        )
    }
}

/// Timings of one query class.
#[derive(Default)]
struct Timings(Vec<Duration>);

impl Timings {
    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = f();
        self.0.push(started.elapsed());
        out
    }

    fn cells(&mut self) -> String {
        self.0.sort();
        let at = |q: f64| {
            let i = ((self.0.len() as f64 - 1.0) * q).round() as usize;
            self.0.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        format!(
            "{:>7} {:>9.3} {:>9.3} {:>9.3}",
            self.0.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        )
    }
}

/// The Hub's `search=`: ids containing the query (ignoring case), most downloaded first.
struct Baseline {
    ids: Vec<(String, String, u64)>,
}

impl Baseline {
    fn new(records: &[Dataset]) -> Self {
        let ids = records
            .iter()
            .map(|d| (d.id.as_str().to_lowercase(), d.id.to_string(), d.downloads))
            .collect();
        Self { ids }
    }

    fn search(&self, query: &str) -> Vec<String> {
        let needle = query.trim().to_lowercase();
        let mut found: Vec<&(String, String, u64)> = self
            .ids
            .iter()
            .filter(|(lower, _, _)| lower.contains(&needle))
            .collect();
        found.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
        found
            .into_iter()
            .take(DEPTH)
            .map(|(_, id, _)| id.clone())
            .collect()
    }
}

/// Letters and digits only, lowercased: how alike a title and an id are.
fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn read_records(path: &Path) -> anyhow::Result<Vec<Dataset>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let compressed = reader.fill_buf()?.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    let input: Box<dyn Read> = if compressed {
        Box::new(zstd::Decoder::with_buffer(reader)?)
    } else {
        Box::new(reader)
    };
    let mut records = Vec::new();
    for (n, line) in BufReader::new(input).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let record: Dataset = serde_json::from_str(&line)
            .with_context(|| format!("{} line {}: not a dataset record", path.display(), n + 1))?;
        records.push(record);
    }
    Ok(records)
}

/// Which titles make known-item cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Titles {
    /// Every non-empty title.
    All,
    /// Titles other than the id or its name, ignoring case.
    NotId,
    /// Titles that are not the id in other letters either (`GoEmotions` for `go_emotions`).
    NotRespelled,
}

/// Known-item cases, one per distinct title and one per record with a usable title.
fn known_items(records: &[Dataset], which: Titles) -> (Vec<Case>, Vec<Case>) {
    let mut by_title: HashMap<String, HashSet<String>> = HashMap::new();
    let mut titled = Vec::new();
    for record in records {
        let Some(title) = record.pretty_name().map(str::trim) else {
            continue;
        };
        let lower = title.to_lowercase();
        let same = match which {
            Titles::All => lower.is_empty(),
            Titles::NotId => {
                lower.is_empty()
                    || lower == record.id.name().to_lowercase()
                    || lower == record.id.as_str().to_lowercase()
            }
            Titles::NotRespelled => {
                let squashed = squash(title);
                squashed.is_empty()
                    || squashed == squash(record.id.name())
                    || squashed == squash(record.id.as_str())
            }
        };
        if same {
            continue;
        }
        by_title
            .entry(lower)
            .or_default()
            .insert(record.id.to_string());
        titled.push((title.to_string(), record.id.to_string()));
    }
    let mut distinct = Vec::new();
    let mut seen = HashSet::new();
    let mut every = Vec::new();
    for (title, id) in titled {
        let all = by_title
            .get(&title.to_lowercase())
            .cloned()
            .unwrap_or_default();
        if seen.insert(title.to_lowercase()) {
            distinct.push(Case {
                query: title.clone(),
                wanted: all.clone(),
            });
        }
        every.push(Case {
            query: title,
            wanted: HashSet::from([id]),
        });
    }
    (distinct, every)
}

fn topical(path: &Path, records: &[Dataset]) -> anyhow::Result<Vec<Case>> {
    let known: HashSet<&str> = records.iter().map(|d| d.id.as_str()).collect();
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut cases = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((query, ids)) = line.split_once('\t') else {
            bail!(
                "{} line {}: expected `query<TAB>ids`",
                path.display(),
                n + 1
            );
        };
        let wanted: HashSet<String> = ids.split_whitespace().map(str::to_string).collect();
        if let Some(unknown) = wanted.iter().find(|id| !known.contains(id.as_str())) {
            bail!(
                "{} line {}: `{unknown}` is not in the catalog",
                path.display(),
                n + 1
            );
        }
        cases.push(Case {
            query: query.to_string(),
            wanted,
        });
    }
    Ok(cases)
}

fn rank(found: &[String], wanted: &HashSet<String>) -> Option<usize> {
    found.iter().position(|id| wanted.contains(id))
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The process's peak resident memory, from Linux's `/proc/self/status`.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Runs the benchmark and prints its table.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let mut records = read_records(&args.catalog)?;
    let real = records.len();
    let (all_titles, all_records) = known_items(&records, Titles::All);
    let (titles, _) = known_items(&records, Titles::NotId);
    let (known, every) = known_items(&records, Titles::NotRespelled);
    let topical = topical(&args.topical, &records)?;
    let baseline = Baseline::new(&records);
    if args.pad > 0 {
        let ids: HashSet<String> = records.iter().map(|d| d.id.to_string()).collect();
        let padding = hubdex_fakehub::synthetic_records(args.pad, 7);
        records.extend(padding.into_iter().filter(|d| !ids.contains(d.id.as_str())));
    }

    let dir = tempfile::tempdir()?;
    let options = CatalogOptions {
        cache_capacity_bytes: 64 * 1024 * 1024,
        writer_memory_bytes: 256 * 1024 * 1024,
    };
    let started = Instant::now();
    let catalog = Catalog::open(dir.path(), options)?;
    for page in records.chunks(5_000) {
        catalog.upsert_batch(page)?;
    }
    let built = started.elapsed();
    drop(records);

    let search = |query: &str| -> anyhow::Result<Vec<String>> {
        let results = catalog.search(&Query::parse(query), SortKey::Relevance, DEPTH, 0)?;
        Ok(results.hits.into_iter().map(|d| d.id.to_string()).collect())
    };

    let mut out = String::new();
    let mut misses = String::new();
    let mut latency: Vec<(&str, Timings)> = Vec::new();
    let mut table = Vec::new();
    let sets: [(&str, &Vec<Case>); 6] = [
        ("all titles", &all_titles),
        ("  per record", &all_records),
        ("titles ≠ id", &titles),
        ("titles ≠ id respelled", &known),
        ("  per record", &every),
        ("topical needs", &topical),
    ];
    for (name, cases) in sets {
        let (mut ours, mut hub) = (Score::default(), Score::default());
        let mut timings = Timings::default();
        let mut shown = 0;
        for case in cases {
            let found = timings.time(|| search(&case.query))?;
            let r = rank(&found, &case.wanted);
            ours.add(r);
            hub.add(rank(&baseline.search(&case.query), &case.wanted));
            let show = name.starts_with("titles ≠ id resp") || name.starts_with("topical");
            if show && r.is_none_or(|r| r >= 3) && shown < args.misses {
                shown += 1;
                let mut wanted: Vec<&String> = case.wanted.iter().collect();
                wanted.sort();
                let _ = writeln!(
                    misses,
                    "  [{name}] {:?}\n      wanted {:?}\n      got    {:?}",
                    case.query,
                    wanted.iter().take(4).collect::<Vec<_>>(),
                    found.iter().take(5).collect::<Vec<_>>()
                );
            }
        }
        table.push((name, cases.len(), ours, hub));
        if name != "  per record" && name != "all titles" {
            latency.push((name, timings));
        }
    }

    let mut typed = Timings::default();
    for case in known.iter().take(TYPED_TITLES) {
        let ends = case.query.char_indices().skip(1).map(|(i, _)| i);
        for end in ends.chain(std::iter::once(case.query.len())) {
            typed.time(|| search(&case.query[..end]))?;
        }
    }
    latency.push(("as-you-type prefixes", typed));

    let mut fielded = Timings::default();
    let mut facets = Timings::default();
    for query in FIELDED {
        let parsed = Query::parse_strict(query).map_err(|e| anyhow::anyhow!("{query}: {e}"))?;
        fielded.time(|| catalog.search(&parsed, SortKey::Relevance, DEPTH, 0))?;
    }
    for query in FIELDED
        .iter()
        .copied()
        .chain(topical.iter().map(|c| c.query.as_str()))
    {
        let parsed = Query::parse(query);
        facets.time(|| catalog.facets(&parsed, 10))?;
    }
    latency.push(("fielded and sorted", fielded));
    latency.push(("facets (5 × top 10)", facets));

    let _ = writeln!(
        out,
        "\nhubdex relevance: {real} records{}, indexed in {:.1} s, index + store {:.0} MiB on disk, peak RSS {:.0} MiB\n",
        if args.pad > 0 {
            format!(" + {} synthetic", catalog.len() as usize - real)
        } else {
            String::new()
        },
        built.as_secs_f64(),
        dir_size(dir.path()) as f64 / (1024.0 * 1024.0),
        peak_rss_mib().unwrap_or(0.0),
    );
    let _ = writeln!(
        out,
        "{:<24} {:>7} | {:^32} | {:^32}",
        "", "", "hubdex", "Hub-like id substring"
    );
    let _ = writeln!(
        out,
        "{:<24} {:>7} | {:>7} {:>7} {:>7} {:>6} | {:>7} {:>7} {:>7} {:>6}",
        "query set",
        "queries",
        "hit@1",
        "hit@3",
        "hit@10",
        "MRR",
        "hit@1",
        "hit@3",
        "hit@10",
        "MRR"
    );
    for (name, queries, ours, hub) in &table {
        let _ = writeln!(
            out,
            "{:<24} {:>7} | {} | {}",
            name,
            queries,
            ours.cells(),
            hub.cells()
        );
    }
    let _ = writeln!(
        out,
        "\n{:<24} {:>7} {:>9} {:>9} {:>9}   (ms, release, in process, one thread)",
        "latency", "runs", "p50", "p99", "max"
    );
    for (name, timings) in &mut latency {
        let _ = writeln!(out, "{:<24} {}", name, timings.cells());
    }
    if !misses.is_empty() {
        let _ = writeln!(out, "\nmisses (not in the top 3):\n{misses}");
    }
    print!("{out}");
    Ok(())
}
