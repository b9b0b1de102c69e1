//! A deterministic generator of Hub-shaped catalogs of any size.
//!
//! Record `i` is a pure function of the seed, `i` and the ids of records before it (ids are
//! made unique in order), so it never depends on how many records are asked for. Each record
//! draws from its own ChaCha stream. Shapes follow the real Hub: `org/name` ids from a few
//! thousand organisations plus a long tail of users, long-tailed downloads with correlated
//! likes, tags with the Hub's prefixes, descriptions made of real words (30 % none), creation
//! dates skewed towards recent years (old repos share the Hub's `2022-03-02T23:29:04.000Z`).
//!
//! Descriptions are stored as word tokens and rendered when served, which keeps 1.5 M records
//! in a few hundred megabytes.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::OnceLock;

use hubdex_core::{DatasetId, GateMode, Gated};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use crate::catalog::{
    Builder, Card, Description, OLD_REPO_CREATED_AT_MS, Record, derive_object_id, derive_sha,
    id_key,
};
use crate::words::{
    ADJECTIVES, AGENTS, DOMAINS, Domain, FAMILY_NAMES, FILLER, GIVEN_NAMES, LANGUAGES, LICENSES,
    NAME_MODIFIERS, NAME_SUFFIXES, ORG_WORDS, PARTICIPLES, SIZE_CATEGORIES, SOURCES, UNITS,
    USE_VERBS,
};

/// How many organisations publish; users come on top of these.
const ORGANISATIONS: usize = 3_000;
/// How many distinct users can publish.
const USERS: usize = 1_000_000;
/// Earliest creation date: 2020-01-01T00:00:00Z.
const START_MS: i64 = 1_577_836_800_000;
/// Latest date anything happens: 2026-07-01T00:00:00Z.
const END_MS: i64 = 1_782_864_000_000;
const DAY_MS: i64 = 86_400_000;
/// Descriptions longer than this are cut the way the Hub cuts them.
const DESCRIPTION_MAX: usize = 300;
/// Token flag: a sentence ends after this word.
const SENTENCE_END: u16 = 0x8000;

/// Adds `count` synthetic records to a new builder.
pub(crate) fn generate(count: usize, seed: u64) -> Builder {
    let orgs = organisations(seed);
    let mut builder = Builder::with_capacity(count);
    let mut taken: HashSet<u64> = HashSet::with_capacity(count);
    let mut claim = |key| taken.insert(key);
    let mut scratch = String::new();
    for i in 0..count {
        let record = generate_one(
            i as u64,
            seed,
            &orgs,
            &mut claim,
            &mut builder,
            &mut scratch,
        );
        builder.push(record);
    }
    builder
}

/// Records `first..first + count` of the synthetic catalog for `seed`, for datasets created
/// after start-up. Ids are made unique with `claim` (true when an id's [`id_key`] was free
/// and is now taken) instead of against the records before them; names and tags go into
/// `builder`'s names. The records keep their generated dates: the caller sets them.
pub(crate) fn generate_more(
    first: u64,
    count: usize,
    seed: u64,
    builder: &mut Builder,
    mut claim: impl FnMut(u64) -> bool,
) -> Vec<Record> {
    let orgs = organisations(seed);
    let mut scratch = String::new();
    (first..first + count as u64)
        .map(|i| generate_one(i, seed, &orgs, &mut claim, builder, &mut scratch))
        .collect()
}

/// An organisation and the subject it mostly publishes in.
struct Org {
    name: String,
    home: usize,
}

fn generate_one(
    i: u64,
    seed: u64,
    orgs: &[Org],
    claim: &mut impl FnMut(u64) -> bool,
    builder: &mut Builder,
    scratch: &mut String,
) -> Record {
    let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, i));

    let (owner, domain) = if rng.random_bool(0.55) {
        let org = &orgs[long_tail_index(&mut rng, orgs.len(), 10.0)];
        let domain = if rng.random_bool(0.7) {
            org.home
        } else {
            pick_domain(&mut rng)
        };
        (org.name.clone(), domain)
    } else {
        let user = long_tail_index(&mut rng, USERS, 200.0);
        (user_name(seed, user as u64), pick_domain(&mut rng))
    };
    let d = &DOMAINS[domain];

    let name = dataset_name(&mut rng, d);
    let id = unique_id(&owner, &name, i, claim);
    let id = DatasetId::new(id).expect("generated ids use only letters, digits, `-`, `_` and `.`");

    let true_created = START_MS + ((END_MS - START_MS) as f64 * unit(&mut rng).powf(0.45)) as i64;
    let created_at = true_created.max(OLD_REPO_CREATED_AT_MS);
    let gap = if rng.random_bool(0.35) {
        rng.random_range(0..600_000)
    } else {
        (-(1.0 - unit(&mut rng)).ln() * 120.0 * DAY_MS as f64) as i64
    };
    let last_modified = (true_created + gap).clamp(created_at, END_MS.max(created_at));

    let downloads = if rng.random_bool(0.4) {
        0
    } else {
        let u = unit(&mut rng).max(1e-12);
        (u.powf(-1.0 / 0.6) - 1.0).min(30_000_000.0) as u64
    };
    let noise = (normal(&mut rng) * 0.9).exp();
    let mut likes = ((downloads as f64).powf(0.55) * 0.2 * noise) as u64;
    if downloads == 0 && rng.random_bool(0.04) {
        likes = rng.random_range(1..4);
    }
    let recent = last_modified > END_MS - 120 * DAY_MS;
    let trending_score = if likes > 0 && recent && rng.random_bool(0.5) {
        ((likes as f64).powf(0.6) * rng.random_range(0.2..3.0)).round()
    } else {
        0.0
    };
    let gated = if rng.random_bool(0.03) {
        Gated::Mode(if rng.random_bool(0.7) {
            GateMode::Auto
        } else {
            GateMode::Manual
        })
    } else {
        Gated::Flag(false)
    };
    let disabled = rng.random_bool(0.0005);

    let (tags, language) = tags(&mut rng, d, builder, scratch);
    let description = if rng.random_bool(0.3) {
        None
    } else {
        Some(Description::Words(description_tokens(
            &mut rng, d, language,
        )))
    };
    let card = (description.is_some() && rng.random_bool(0.6)).then_some(Card::FromTags);

    Record {
        object_id: derive_object_id(id.as_str(), created_at),
        sha: derive_sha(id.as_str(), last_modified),
        author: Some(builder.author(&owner)),
        id,
        created_at,
        last_modified,
        downloads,
        likes,
        trending_score,
        tags,
        description,
        card,
        gated,
        private: false,
        disabled,
    }
}

/// The tags of one record, in the Hub's order: declared ones (task, language, licence, size,
/// free tags), then computed ones (format, modality, library, arxiv, doi, region). Also
/// returns the first declared language, which the description mentions.
fn tags(
    rng: &mut ChaCha8Rng,
    d: &Domain,
    builder: &mut Builder,
    scratch: &mut String,
) -> (Box<[u32]>, Option<usize>) {
    let mut out: Vec<u32> = Vec::with_capacity(14);
    let mut add = |builder: &mut Builder, out: &mut Vec<u32>, prefix: &str, value: &str| {
        scratch.clear();
        if !prefix.is_empty() {
            scratch.push_str(prefix);
            scratch.push(':');
        }
        scratch.push_str(value);
        let tag = builder.tag(scratch);
        if !out.contains(&tag) {
            out.push(tag);
        }
    };

    if rng.random_bool(0.55) {
        let first = rng.random_range(0..d.tasks.len());
        add(builder, &mut out, "task_categories", d.tasks[first].0);
        if rng.random_bool(0.2) {
            let second = rng.random_range(0..d.tasks.len());
            add(builder, &mut out, "task_categories", d.tasks[second].0);
        }
        let ids = d.tasks[first].1;
        if !ids.is_empty() && rng.random_bool(0.35) {
            add(
                builder,
                &mut out,
                "task_ids",
                ids[rng.random_range(0..ids.len())],
            );
        }
    }
    let mut language = None;
    if d.has_language && rng.random_bool(0.6) {
        let count = if rng.random_bool(0.85) {
            1
        } else {
            rng.random_range(2..6)
        };
        for _ in 0..count {
            let lang = long_tail_index(rng, LANGUAGES.len(), 1.5);
            language.get_or_insert(lang);
            add(builder, &mut out, "language", LANGUAGES[lang].0);
        }
    }
    if rng.random_bool(0.62) {
        add(builder, &mut out, "license", weighted(rng, LICENSES));
    }
    if rng.random_bool(0.55) {
        add(
            builder,
            &mut out,
            "size_categories",
            weighted(rng, SIZE_CATEGORIES),
        );
    }
    if rng.random_bool(0.28) {
        for _ in 0..rng.random_range(1..4) {
            let free = d.free_tags[rng.random_range(0..d.free_tags.len())];
            add(builder, &mut out, "", free);
        }
    }
    let has_files = rng.random_bool(0.6);
    if has_files {
        let format = if rng.random_bool(0.7) {
            d.formats[0]
        } else {
            d.formats[rng.random_range(0..d.formats.len())]
        };
        add(builder, &mut out, "format", format);
        add(builder, &mut out, "modality", d.modalities[0]);
        if d.modalities.len() > 1 && rng.random_bool(0.4) {
            let other = d.modalities[rng.random_range(1..d.modalities.len())];
            add(builder, &mut out, "modality", other);
        }
        if rng.random_bool(0.9) {
            add(builder, &mut out, "library", "datasets");
        }
        if matches!(format, "parquet" | "csv" | "json") {
            if rng.random_bool(0.8) {
                add(builder, &mut out, "library", "pandas");
            }
            if rng.random_bool(0.6) {
                add(builder, &mut out, "library", "polars");
            }
            if rng.random_bool(0.2) {
                add(builder, &mut out, "library", "dask");
            }
        }
        if format == "webdataset" {
            add(builder, &mut out, "library", "webdataset");
        }
        if rng.random_bool(0.8) {
            add(builder, &mut out, "library", "mlcroissant");
        }
    }
    if rng.random_bool(0.06) {
        let paper = format!(
            "{:02}{:02}.{:05}",
            rng.random_range(18..27),
            rng.random_range(1..13),
            rng.random_range(0..30_000)
        );
        add(builder, &mut out, "arxiv", &paper);
    }
    if rng.random_bool(0.005) {
        let doi = format!("10.57967/hf/{}", rng.random_range(1..6_000));
        add(builder, &mut out, "doi", &doi);
    }
    if rng.random_bool(0.0005) {
        add(builder, &mut out, "benchmark", "official");
    }
    if has_files || rng.random_bool(0.6) {
        add(builder, &mut out, "region", "us");
    }
    (out.into_boxed_slice(), language)
}

/// A dataset name: real words joined by `-` or `_` (or in CamelCase), often with a version,
/// year, size or language suffix.
fn dataset_name(rng: &mut ChaCha8Rng, d: &Domain) -> String {
    let word = |rng: &mut ChaCha8Rng| d.name_words[rng.random_range(0..d.name_words.len())];
    let modifier = |rng: &mut ChaCha8Rng| NAME_MODIFIERS[rng.random_range(0..NAME_MODIFIERS.len())];
    let p = unit(rng);
    let words: Vec<&str> = if p < 0.30 {
        vec![word(rng)]
    } else if p < 0.55 {
        vec![modifier(rng), word(rng)]
    } else if p < 0.80 {
        vec![word(rng), word(rng)]
    } else if p < 0.92 {
        vec![modifier(rng), word(rng), word(rng)]
    } else {
        vec![word(rng), word(rng), word(rng)]
    };
    let style = unit(rng);
    let mut name = if style < 0.12 {
        words
            .iter()
            .flat_map(|w| w.split('-'))
            .map(capitalise)
            .collect::<String>()
    } else {
        let separator = if style < 0.30 { "_" } else { "-" };
        let title = rng.random_bool(0.15);
        words
            .iter()
            .map(|w| {
                if title {
                    capitalise(w)
                } else {
                    (*w).to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(separator)
    };
    if rng.random_bool(0.35) {
        name.push(if (0.12..0.30).contains(&style) {
            '_'
        } else {
            '-'
        });
        name.push_str(NAME_SUFFIXES[rng.random_range(0..NAME_SUFFIXES.len())]);
    }
    name
}

/// `owner/name`, made unique (ignoring case) by a numeric suffix when taken. `claim` takes
/// an id's [`id_key`] and says whether it was free.
pub(crate) fn unique_id(
    owner: &str,
    name: &str,
    i: u64,
    claim: &mut impl FnMut(u64) -> bool,
) -> String {
    let base = format!("{owner}/{name}");
    if claim(id_key(&base)) {
        return base;
    }
    for k in 2..1000 {
        let candidate = format!("{base}-{k}");
        if claim(id_key(&candidate)) {
            return candidate;
        }
    }
    // No natural name ends in `-r` and digits, and `i` is unique, so this is free.
    let fallback = format!("{base}-r{i}");
    claim(id_key(&fallback));
    fallback
}

/// Organisation names, each with a home subject; the same for a given seed.
fn organisations(seed: u64) -> Vec<Org> {
    let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, u64::MAX));
    let mut taken = HashSet::with_capacity(ORGANISATIONS);
    let mut orgs = Vec::with_capacity(ORGANISATIONS);
    let word = |rng: &mut ChaCha8Rng| ORG_WORDS[rng.random_range(0..ORG_WORDS.len())];
    while orgs.len() < ORGANISATIONS {
        let (a, b) = (word(&mut rng), word(&mut rng));
        let mut name = match rng.random_range(0..8) {
            0 => format!("{a}-{b}"),
            1 => format!("{}{}", capitalise(a), capitalise(b)),
            2 => format!("{a}{b}"),
            3 => format!("{}AI", capitalise(a)),
            4 => format!("{a}-ai"),
            5 => format!("{a}-{b}-lab"),
            6 => format!("{}-{}", capitalise(a), b.to_uppercase()),
            _ => format!("{a}_{b}"),
        };
        if !taken.insert(name.to_lowercase()) {
            // Seen already: make it distinct with the organisation's number.
            let _ = write!(name, "{}", orgs.len());
            taken.insert(name.to_lowercase());
        }
        let home = pick_domain(&mut rng);
        orgs.push(Org { name, home });
    }
    orgs
}

/// The handle of user number `user`; the same for a given seed. Most handles carry a number,
/// as on the Hub, so distinct users rarely share one.
fn user_name(seed: u64, user: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(mix(seed ^ 0x5eed_05e2, user));
    let given = GIVEN_NAMES[rng.random_range(0..GIVEN_NAMES.len())];
    let family = FAMILY_NAMES[rng.random_range(0..FAMILY_NAMES.len())];
    let word = ORG_WORDS[rng.random_range(0..ORG_WORDS.len())];
    let n: u32 = rng.random_range(1..10_000);
    let small = n % 100;
    match rng.random_range(0..10) {
        0 => format!("{given}{family}"),
        1 => format!("{given}-{family}"),
        2 => format!("{}{}", capitalise(given), capitalise(family)),
        3 | 4 => format!("{given}{n}"),
        5 => format!("{given}_{word}{small}"),
        6 => format!("{word}{n}"),
        7 => format!("{}{family}{small}", &given[..1]),
        _ => format!("{given}{family}{n}"),
    }
}

fn pick_domain(rng: &mut ChaCha8Rng) -> usize {
    let total: u32 = DOMAINS.iter().map(|d| d.weight).sum();
    let mut x = rng.random_range(0..total);
    for (i, d) in DOMAINS.iter().enumerate() {
        if x < d.weight {
            return i;
        }
        x -= d.weight;
    }
    0
}

fn weighted(rng: &mut ChaCha8Rng, items: &[(&'static str, u32)]) -> &'static str {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total);
    for (item, w) in items {
        if x < *w {
            return item;
        }
        x -= w;
    }
    items[0].0
}

/// An index in `0..n` where low indexes are much more likely: P(k) ∝ 1 / (k + q).
fn long_tail_index(rng: &mut ChaCha8Rng, n: usize, q: f64) -> usize {
    let x = q * ((n as f64 + q) / q).powf(unit(rng)) - q;
    (x as usize).min(n - 1)
}

/// Uniform in `[0, 1)`.
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    rng.random::<f64>()
}

/// A standard normal sample (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = unit(rng).max(1e-12);
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// SplitMix64 of two values: independent-looking seeds for each record.
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    fn splitmix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    splitmix(a ^ splitmix(b))
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// One part of a description sentence.
#[derive(Clone, Copy)]
enum Slot {
    Lit(&'static str),
    Noun,
    Topic,
    Field,
    Model,
    Adjective,
    Source,
    Agent,
    Participle,
    Unit,
    UseVerb,
    Language,
    Filler,
}

use Slot::{
    Adjective, Agent, Field, Filler, Language, Lit, Model, Noun, Participle, Source, Topic, Unit,
    UseVerb,
};

/// First sentences.
const OPENERS: &[&[Slot]] = &[
    &[
        Lit("this dataset contains"),
        Adjective,
        Noun,
        Lit("for"),
        Topic,
    ],
    &[
        Lit("a"),
        Adjective,
        Lit("collection of"),
        Noun,
        Lit("from"),
        Source,
    ],
    &[
        Lit("this is a"),
        Adjective,
        Lit("version of the original"),
        Noun,
    ],
    &[Noun, Lit("for"), Topic, Lit("and"), Topic],
    &[Lit("a dataset of"), Noun, Participle, Lit("from"), Source],
];

/// Later sentences.
const SENTENCES: &[&[Slot]] = &[
    &[
        Lit("it was"),
        Participle,
        Lit("from"),
        Source,
        Lit("and"),
        Participle,
        Lit("by"),
        Agent,
    ],
    &[Lit("each"), Unit, Lit("has a"), Field, Lit("and a"), Field],
    &[Lit("the"), Noun, Lit("are written in"), Language],
    &[Lit("use it to"), UseVerb, Adjective, Model, Lit("models")],
    &[Lit("the data is split into train validation and test sets")],
    &[
        Lit("we provide"),
        Noun,
        Lit("with"),
        Adjective,
        Field,
        Lit("labels"),
    ],
    &[
        Noun,
        Lit("were filtered to remove duplicates and low quality"),
        Noun,
    ],
    &[
        Lit("the goal is to improve"),
        Topic,
        Lit("for"),
        Adjective,
        Model,
        Lit("models"),
    ],
    &[Lit("please cite the paper if you use this dataset")],
    &[Lit("every"), Unit, Lit("was"), Participle, Lit("by"), Agent],
    &[Filler, Filler, Filler, Filler, Filler, Filler],
    &[
        Filler, Filler, Filler, Filler, Filler, Filler, Filler, Filler, Filler,
    ],
];

/// Every word a description can use, numbered for [`description_tokens`].
struct Vocabulary {
    words: Vec<&'static str>,
    index: HashMap<&'static str, u16>,
}

impl Vocabulary {
    fn token(&self, word: &str) -> u16 {
        self.index.get(word).copied().unwrap_or(0)
    }
}

fn vocabulary() -> &'static Vocabulary {
    static VOCABULARY: OnceLock<Vocabulary> = OnceLock::new();
    VOCABULARY.get_or_init(|| {
        let mut v = Vocabulary {
            words: Vec::new(),
            index: HashMap::new(),
        };
        let mut add = |word: &'static str| {
            if !v.index.contains_key(word) {
                v.index.insert(word, v.words.len() as u16);
                v.words.push(word);
            }
        };
        for template in OPENERS.iter().chain(SENTENCES) {
            for slot in *template {
                if let Lit(text) = slot {
                    add(text);
                }
            }
        }
        for list in [
            ADJECTIVES,
            SOURCES,
            AGENTS,
            PARTICIPLES,
            UNITS,
            USE_VERBS,
            FILLER,
        ] {
            list.iter().for_each(|w| add(w));
        }
        LANGUAGES.iter().for_each(|(_, name)| add(name));
        add("multiple languages");
        for d in DOMAINS {
            for list in [d.nouns, d.topics, d.fields, d.models] {
                list.iter().for_each(|w| add(w));
            }
        }
        v
    })
}

/// A description: an opening sentence and a few more, as vocabulary tokens.
fn description_tokens(rng: &mut ChaCha8Rng, d: &Domain, language: Option<usize>) -> Box<[u16]> {
    let v = vocabulary();
    let mut sentences = 1;
    while sentences < 8 && rng.random_bool(0.55) {
        sentences += 1;
    }
    let mut tokens = Vec::with_capacity(sentences * 9);
    for s in 0..sentences {
        let template = if s == 0 {
            OPENERS[rng.random_range(0..OPENERS.len())]
        } else {
            SENTENCES[rng.random_range(0..SENTENCES.len())]
        };
        for slot in template {
            let pick =
                |rng: &mut ChaCha8Rng, list: &[&'static str]| list[rng.random_range(0..list.len())];
            let word = match *slot {
                Lit(text) => text,
                Noun => pick(rng, d.nouns),
                Topic => pick(rng, d.topics),
                Field => pick(rng, d.fields),
                Model => pick(rng, d.models),
                Adjective => pick(rng, ADJECTIVES),
                Source => pick(rng, SOURCES),
                Agent => pick(rng, AGENTS),
                Participle => pick(rng, PARTICIPLES),
                Unit => pick(rng, UNITS),
                UseVerb => pick(rng, USE_VERBS),
                Language => language.map_or("multiple languages", |l| LANGUAGES[l].1),
                Filler => {
                    if rng.random_bool(0.3) {
                        pick(rng, d.nouns)
                    } else {
                        pick(rng, FILLER)
                    }
                }
            };
            tokens.push(v.token(word));
        }
        if let Some(last) = tokens.last_mut() {
            *last |= SENTENCE_END;
        }
    }
    tokens.into_boxed_slice()
}

/// The text of a synthetic description, cut like the Hub cuts long ones.
pub(crate) fn render_description(tokens: &[u16], id: &str) -> String {
    let v = vocabulary();
    let mut out = String::with_capacity(tokens.len() * 8);
    let mut sentence_start = true;
    for &token in tokens {
        let word = v
            .words
            .get(usize::from(token & !SENTENCE_END))
            .copied()
            .unwrap_or("data");
        if !out.is_empty() {
            out.push(' ');
        }
        if sentence_start {
            out.push_str(&capitalise(word));
        } else {
            out.push_str(word);
        }
        sentence_start = token & SENTENCE_END != 0;
        if sentence_start {
            out.push('.');
        }
    }
    if out.len() > DESCRIPTION_MAX {
        let cut = out[..DESCRIPTION_MAX].rfind(' ').unwrap_or(DESCRIPTION_MAX);
        out.truncate(cut);
        let _ = write!(
            out,
            "… See the full description on the dataset page: https://huggingface.co/datasets/{id}."
        );
    }
    out
}

/// The README front matter a synthetic record's tags imply, as the Hub's `cardData`.
pub(crate) fn card_from_tags<'a>(name: &str, tags: impl Iterator<Item = &'a str>) -> Value {
    let mut card = Map::new();
    let mut free = Vec::new();
    for tag in tags {
        match tag.split_once(':') {
            Some(("license", value)) => {
                card.insert("license".into(), Value::from(value));
            }
            Some((
                key @ ("task_categories" | "task_ids" | "language" | "size_categories"),
                value,
            )) => {
                let list = card.entry(key).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = list {
                    items.push(Value::from(value));
                }
            }
            Some(_) => {}
            None => free.push(Value::from(tag)),
        }
    }
    if !free.is_empty() {
        card.insert("tags".into(), Value::Array(free));
    }
    let pretty: Vec<String> = name
        .split(['-', '_'])
        .filter(|w| !w.is_empty())
        .map(capitalise)
        .collect();
    card.insert("pretty_name".into(), Value::from(pretty.join(" ")));
    Value::Object(card)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_id_is_a_valid_unique_hub_id() {
        let catalog = generate(20_000, 7).finish();
        let mut seen = HashSet::new();
        for i in 0..catalog.len() as u32 {
            let id = catalog.record(i).id.as_str();
            assert!(id.contains('/'), "{id} has an owner");
            assert!(
                seen.insert(id.to_lowercase()),
                "{id} is unique ignoring case"
            );
        }
    }

    #[test]
    fn descriptions_render_as_sentences_and_long_ones_are_cut_like_the_hub() {
        let v = vocabulary();
        let short = [
            v.token("this dataset contains"),
            v.token("images") | SENTENCE_END,
        ];
        assert_eq!(
            render_description(&short, "a/b"),
            "This dataset contains images."
        );
        let long = vec![v.token("data"); 200];
        let text = render_description(&long, "a/b");
        assert!(text.starts_with("Data data"));
        assert!(text.ends_with(
            "… See the full description on the dataset page: https://huggingface.co/datasets/a/b."
        ));
        assert!(text.len() < DESCRIPTION_MAX + 100);
    }

    #[test]
    fn the_vocabulary_fits_in_a_token() {
        assert!(vocabulary().words.len() < usize::from(SENTENCE_END));
    }

    #[test]
    fn cards_mirror_the_declared_tags() {
        let tags = [
            "task_categories:translation",
            "language:en",
            "language:fr",
            "license:mit",
            "format:parquet",
            "synthetic",
        ];
        let card = card_from_tags("open-news_v2", tags.into_iter());
        assert_eq!(card["language"], serde_json::json!(["en", "fr"]));
        assert_eq!(card["license"], "mit");
        assert_eq!(card["task_categories"], serde_json::json!(["translation"]));
        assert_eq!(card["tags"], serde_json::json!(["synthetic"]));
        assert_eq!(card["pretty_name"], "Open News V2");
        assert!(
            card.get("format").is_none(),
            "computed tags are not in the card"
        );
    }
}
