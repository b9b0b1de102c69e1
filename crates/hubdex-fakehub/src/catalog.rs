//! The in-memory catalog the fake serves: compact records, interned tags and authors, one
//! pre-sorted index array per sort order, and keyset paging over them.
//!
//! A page costs O(log n) to find where the cursor left off plus O(page) to collect items when
//! nothing filters the listing; `search`, `author`, `filter` and `gated` add a scan that stops
//! as soon as the page (and one more match, to know whether a next page exists) is found.
//!
//! A [`Catalog`] never changes once built; a mutation builds the next version with an
//! [`Editor`] and the server swaps it in. Versions share what did not change: records live in
//! append-only chunks held by `Arc`s (an update appends the new version of a record and
//! retires the old one), names are shared until a mutation adds one, and each sort order is
//! rebuilt in one merging pass, so a mutation batch costs O(n) copying of indexes rather than
//! a re-sort.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{DefaultHasher, Hasher};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use hubdex_core::{Dataset, DatasetId, Gated};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::synthetic;

/// `createdAt` the Hub reports for every repo created before it recorded creation dates.
pub(crate) const OLD_REPO_CREATED_AT_MS: i64 = 1_646_263_744_000; // 2022-03-02T23:29:04.000Z

/// Records per storage chunk. Full chunks are shared by every later catalog version; only the
/// last, partly filled one is copied when a mutation appends records.
const CHUNK: usize = 4096;

/// A record's description, kept small.
#[derive(Clone)]
pub(crate) enum Description {
    /// Text as loaded from a catalog.
    Text(Box<str>),
    /// Synthetic text as word tokens; see [`synthetic::render_description`].
    Words(Box<[u16]>),
}

/// A record's `cardData`.
#[derive(Clone)]
pub(crate) enum Card {
    /// The README's YAML as loaded from a catalog.
    Json(Box<serde_json::Value>),
    /// A synthetic card, derived from the record's tags when it is served.
    FromTags,
}

/// One dataset, with every field the Hub always has filled in.
#[derive(Clone)]
pub(crate) struct Record {
    pub object_id: [u8; 12],
    pub sha: [u8; 20],
    pub id: DatasetId,
    /// Index into [`Names::author_name`]; `None` for old canonical ids without an owner.
    pub author: Option<u32>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Milliseconds since the Unix epoch.
    pub last_modified: i64,
    pub downloads: u64,
    pub likes: u64,
    pub trending_score: f64,
    /// Indexes into [`Names::tag_name`], in the record's order.
    pub tags: Box<[u32]>,
    pub description: Option<Description>,
    pub card: Option<Card>,
    pub gated: Gated,
    pub private: bool,
    pub disabled: bool,
}

/// The orders `/api/datasets` can list in. Every order is descending, ties broken by `_id`
/// ascending; `Default` (no `sort` parameter) is by `_id` alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sort {
    Default,
    Downloads,
    Likes,
    LastModified,
    CreatedAt,
    TrendingScore,
}

impl Sort {
    /// Every order, in the slot order of [`Catalog`]'s index arrays.
    pub const ALL: [Sort; 6] = [
        Sort::Default,
        Sort::Downloads,
        Sort::Likes,
        Sort::LastModified,
        Sort::CreatedAt,
        Sort::TrendingScore,
    ];

    /// The values of the `sort` parameter, as the Hub spells them.
    pub const NAMES: &str = "createdAt, downloads, likes, lastModified, trendingScore";

    /// The Hub's name for this order.
    pub fn name(self) -> &'static str {
        match self {
            Sort::Default => "default",
            Sort::Downloads => "downloads",
            Sort::Likes => "likes",
            Sort::LastModified => "lastModified",
            Sort::CreatedAt => "createdAt",
            Sort::TrendingScore => "trendingScore",
        }
    }

    /// Parses a `sort` value (case-insensitively); `None` for names the Hub does not know.
    pub fn parse(value: &str) -> Option<Sort> {
        Sort::ALL
            .into_iter()
            .filter(|s| *s != Sort::Default)
            .find(|s| s.name().eq_ignore_ascii_case(value))
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// The value a record is sorted by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SortValue {
    None,
    Count(u64),
    Time(i64),
    Score(f64),
}

/// Where a page ended: the last item's sort value, `_id` and record index (the index only
/// matters if a catalog carries duplicate `_id`s).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Position {
    pub value: SortValue,
    pub object_id: [u8; 12],
    pub index: u32,
}

/// What a listing keeps, resolved against the catalog's interned names.
pub(crate) struct Filter {
    /// Lower-cased `search` values; every one must be a substring of the id.
    needles: Vec<String>,
    /// For each `author` value, the interned authors it names (case variants).
    authors: Vec<Vec<u32>>,
    /// Interned `filter` tags; every one must be present.
    tags: Vec<u32>,
    gated: Option<bool>,
    /// A `filter` tag or `author` nobody has: nothing can match.
    impossible: bool,
}

impl Filter {
    /// True when only the always-applied rules (no private records) are left.
    fn is_trivial(&self) -> bool {
        self.needles.is_empty()
            && self.authors.is_empty()
            && self.tags.is_empty()
            && self.gated.is_none()
    }
}

/// How many records a filtered page walks in sort order before it finds the matches with one
/// pass in memory order instead.
const WALK_BUDGET: usize = 20_000;

/// Strings stored once and referred to by number.
#[derive(Default, Clone)]
struct Interner {
    names: Vec<Box<str>>,
    ids: HashMap<Box<str>, u32>,
}

impl Interner {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }
}

/// Author and tag names, interned. Catalog versions share one until a mutation adds a name.
#[derive(Default, Clone)]
pub(crate) struct Names {
    authors: Interner,
    /// Lower-cased author name → the authors spelled that way ignoring case.
    authors_by_lower: HashMap<String, Vec<u32>>,
    tags: Interner,
}

impl Names {
    /// The number for an author name.
    pub fn author(&mut self, name: &str) -> u32 {
        let known = self.authors.names.len();
        let author = self.authors.intern(name);
        if author as usize == known {
            self.authors_by_lower
                .entry(name.to_lowercase())
                .or_default()
                .push(author);
        }
        author
    }

    /// The number for a tag.
    pub fn tag(&mut self, tag: &str) -> u32 {
        self.tags.intern(tag)
    }

    pub fn author_name(&self, author: u32) -> &str {
        &self.authors.names[author as usize]
    }

    pub fn tag_name(&self, tag: u32) -> &str {
        &self.tags.names[tag as usize]
    }

    /// A record as a Hub-format [`Dataset`], with every filled-in field.
    pub fn to_dataset(&self, r: &Record) -> Dataset {
        let mut d = Dataset::new(r.id.clone());
        d.object_id = Some(hex(&r.object_id));
        d.author = r.author.map(|a| self.author_name(a).to_string());
        d.sha = Some(hex(&r.sha));
        d.last_modified = DateTime::from_timestamp_millis(r.last_modified);
        d.created_at = DateTime::from_timestamp_millis(r.created_at);
        d.private = r.private;
        d.gated = r.gated;
        d.disabled = r.disabled;
        d.downloads = r.downloads;
        d.likes = r.likes;
        d.trending_score = r.trending_score;
        d.tags = r
            .tags
            .iter()
            .map(|&t| self.tag_name(t).to_string())
            .collect();
        d.description = description(r);
        d.card_data = self.card_data(r);
        d
    }

    /// The `cardData` as served.
    pub fn card_data(&self, r: &Record) -> Option<serde_json::Value> {
        r.card.as_ref().map(|c| match c {
            Card::Json(value) => (**value).clone(),
            Card::FromTags => {
                synthetic::card_from_tags(r.id.name(), r.tags.iter().map(|&t| self.tag_name(t)))
            }
        })
    }
}

/// The description as served.
fn description(r: &Record) -> Option<String> {
    r.description.as_ref().map(|d| match d {
        Description::Text(text) => text.to_string(),
        Description::Words(words) => synthetic::render_description(words, r.id.as_str()),
    })
}

/// Collects records, then sorts and indexes them once in [`Builder::finish`].
#[derive(Default)]
pub(crate) struct Builder {
    records: Vec<Record>,
    names: Names,
}

impl Builder {
    pub fn with_capacity(records: usize) -> Builder {
        Builder {
            records: Vec::with_capacity(records),
            ..Builder::default()
        }
    }

    /// A builder that adds names to `names`, for records made outside a full build.
    pub fn with_names(names: Names) -> Builder {
        Builder {
            records: Vec::new(),
            names,
        }
    }

    /// The records built so far and the names, taken apart.
    pub fn into_parts(self) -> (Vec<Record>, Names) {
        (self.records, self.names)
    }

    /// The number for an author name.
    pub fn author(&mut self, name: &str) -> u32 {
        self.names.author(name)
    }

    /// The number for a tag.
    pub fn tag(&mut self, tag: &str) -> u32 {
        self.names.tag(tag)
    }

    pub fn push(&mut self, record: Record) {
        self.records.push(record);
    }

    /// Adds a Hub-format record, filling in what the Hub always has (see the README).
    pub fn push_dataset(&mut self, d: Dataset) {
        let author = d
            .author
            .as_deref()
            .or_else(|| d.id.namespace())
            .map(|a| self.author(a));
        let created_at = d
            .created_at
            .map_or(OLD_REPO_CREATED_AT_MS, |t| t.timestamp_millis());
        let last_modified = d.last_modified.map_or(created_at, |t| t.timestamp_millis());
        let object_id = d
            .object_id
            .as_deref()
            .and_then(parse_hex::<12>)
            .unwrap_or_else(|| derive_object_id(d.id.as_str(), created_at));
        let sha = d
            .sha
            .as_deref()
            .and_then(parse_hex::<20>)
            .unwrap_or_else(|| derive_sha(d.id.as_str(), last_modified));
        let tags = d.tags.iter().map(|t| self.tag(t)).collect();
        let trending_score = if d.trending_score.is_finite() {
            d.trending_score
        } else {
            0.0
        };
        self.records.push(Record {
            object_id,
            sha,
            id: d.id,
            author,
            created_at,
            last_modified,
            downloads: d.downloads,
            likes: d.likes,
            trending_score,
            tags,
            description: d.description.map(|s| Description::Text(s.into_boxed_str())),
            card: d.card_data.map(|v| Card::Json(Box::new(v))),
            gated: d.gated,
            private: d.private,
            disabled: d.disabled,
        });
    }

    /// The records as Hub-format [`Dataset`]s, in the order they were added (no sorting).
    pub fn into_datasets(self) -> Vec<Dataset> {
        self.records
            .iter()
            .map(|r| self.names.to_dataset(r))
            .collect()
    }

    /// Sorts every order and indexes ids.
    pub fn finish(self) -> Catalog {
        let stored = self.records.len();
        let max_last_modified = self
            .records
            .iter()
            .map(|r| r.last_modified)
            .max()
            .unwrap_or(i64::MIN);
        let ids = IdIndex::build(self.records.iter().enumerate().map(|(i, r)| (i as u32, r)));
        let mut orders = Vec::with_capacity(Sort::ALL.len());
        for sort in Sort::ALL {
            // Sorting small keys in a flat array is far faster than comparing records in
            // place, which would visit them in random memory order.
            let mut keyed: Vec<(u64, [u8; 12], u32)> = self
                .records
                .iter()
                .enumerate()
                .map(|(i, r)| (ascending_key(sort_value(sort, r)), r.object_id, i as u32))
                .collect();
            keyed.sort_unstable();
            orders.push(keyed.into_iter().map(|(_, _, i)| i).collect());
        }
        let mut alive = vec![u64::MAX; stored.div_ceil(64)];
        if !stored.is_multiple_of(64)
            && let Some(last) = alive.last_mut()
        {
            *last = (1u64 << (stored % 64)) - 1;
        }
        let mut chunks = Vec::with_capacity(stored.div_ceil(CHUNK));
        let mut records = self.records.into_iter();
        loop {
            let chunk: Vec<Record> = records.by_ref().take(CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            chunks.push(Arc::new(chunk));
        }
        Catalog {
            chunks,
            stored,
            alive,
            live: stored,
            names: Arc::new(self.names),
            orders,
            ids,
            max_last_modified,
        }
    }
}

/// Keeps the last of several records whose ids differ only in case, at the first one's place
/// (ids are case-insensitively unique on the Hub). Returns how many were dropped.
pub(crate) fn dedupe(records: Vec<Dataset>) -> (Vec<Dataset>, usize) {
    let mut out: Vec<Dataset> = Vec::with_capacity(records.len());
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(records.len());
    let mut dropped = 0;
    for d in records {
        match seen.entry(d.id.as_str().to_lowercase()) {
            Entry::Occupied(slot) => {
                out[*slot.get()] = d;
                dropped += 1;
            }
            Entry::Vacant(slot) => {
                slot.insert(out.len());
                out.push(d);
            }
        }
    }
    (out, dropped)
}

/// Case-insensitive id lookup without a second copy of every id: a hash of the lower-cased id
/// points at the record; the rare hash collision goes to a short list scanned in full. Only
/// live records are in it.
#[derive(Clone)]
struct IdIndex {
    first: HashMap<u64, u32>,
    overflow: Vec<u32>,
}

impl IdIndex {
    fn build<'a>(records: impl ExactSizeIterator<Item = (u32, &'a Record)>) -> IdIndex {
        let mut index = IdIndex {
            first: HashMap::with_capacity(records.len()),
            overflow: Vec::new(),
        };
        for (i, r) in records {
            index.insert(id_key(r.id.as_str()), i);
        }
        index
    }

    fn insert(&mut self, key: u64, index: u32) {
        match self.first.entry(key) {
            Entry::Vacant(slot) => {
                slot.insert(index);
            }
            Entry::Occupied(_) => self.overflow.push(index),
        }
    }

    /// Forgets record `index` (whose id hashes to `key`); `key_of` gives other records' keys,
    /// to move a colliding record up from the overflow list.
    fn remove(&mut self, key: u64, index: u32, key_of: impl Fn(u32) -> u64) {
        if self.first.get(&key) == Some(&index) {
            self.first.remove(&key);
            if let Some(pos) = self.overflow.iter().position(|&i| key_of(i) == key) {
                let promoted = self.overflow.swap_remove(pos);
                self.first.insert(key, promoted);
            }
        } else {
            self.overflow.retain(|&i| i != index);
        }
    }

    /// True when some record's id hashes to `key` (an id that differs only in case, or a
    /// rare collision).
    fn taken(&self, key: u64, key_of: impl Fn(u32) -> u64) -> bool {
        self.first.contains_key(&key) || self.overflow.iter().any(|&i| key_of(i) == key)
    }

    fn find<'a>(&self, id: &str, id_of: impl Fn(u32) -> &'a str) -> Option<u32> {
        let same = |i: &u32| same_id(id_of(*i), id);
        self.first
            .get(&id_key(id))
            .filter(|i| same(i))
            .copied()
            .or_else(|| self.overflow.iter().find(|i| same(i)).copied())
    }
}

/// A hash of the lower-cased id; equal for ids that differ only in case.
pub(crate) fn id_key(id: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    for c in id.chars().flat_map(char::to_lowercase) {
        hasher.write_u32(c as u32);
    }
    hasher.finish()
}

fn same_id(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// One version of the catalog, immutable once built (see the module docs).
pub(crate) struct Catalog {
    /// Every record ever stored, live or retired, by index, in chunks of [`CHUNK`].
    chunks: Vec<Arc<Vec<Record>>>,
    /// Records stored, live or retired.
    stored: usize,
    /// A bit per stored record: set while it is live.
    alive: Vec<u64>,
    /// Live records.
    live: usize,
    names: Arc<Names>,
    /// One array of live record indexes per [`Sort`], in that order.
    orders: Vec<Vec<u32>>,
    ids: IdIndex,
    /// The latest `lastModified` any record ever had, in milliseconds.
    max_last_modified: i64,
}

impl Catalog {
    /// Live records.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn record(&self, index: u32) -> &Record {
        let i = index as usize;
        &self.chunks[i / CHUNK][i % CHUNK]
    }

    /// True while record `index` is part of the catalog (not deleted, not replaced).
    pub fn is_alive(&self, index: u32) -> bool {
        bit(&self.alive, index)
    }

    pub fn author_name(&self, author: u32) -> &str {
        self.names.author_name(author)
    }

    pub fn tag_name(&self, tag: u32) -> &str {
        self.names.tag_name(tag)
    }

    /// The record with this id, ignoring case. Private records are never found.
    pub fn find(&self, id: &str) -> Option<u32> {
        self.ids
            .find(id, |i| self.record(i).id.as_str())
            .filter(|&i| !self.record(i).private)
    }

    /// Starts the next version of the catalog.
    pub fn edit(&self) -> Editor<'_> {
        Editor {
            base: self,
            chunks: self.chunks.clone(),
            stored: self.stored,
            alive: self.alive.clone(),
            live: self.live,
            names: Arc::clone(&self.names),
            ids: self.ids.clone(),
            added: Vec::new(),
            max_last_modified: self.max_last_modified,
        }
    }

    /// Resolves listing parameters against the catalog.
    pub fn filter(
        &self,
        search: &[String],
        authors: &[String],
        tags: &[String],
        gated: Option<bool>,
    ) -> Filter {
        let mut impossible = false;
        let authors = authors
            .iter()
            .map(|a| {
                let found = self
                    .names
                    .authors_by_lower
                    .get(&a.to_lowercase())
                    .cloned()
                    .unwrap_or_default();
                impossible |= found.is_empty();
                found
            })
            .collect();
        let tags = tags
            .iter()
            .filter_map(|t| {
                let found = self.names.tags.ids.get(t.as_str()).copied();
                impossible |= found.is_none();
                found
            })
            .collect();
        Filter {
            needles: search.iter().map(|s| s.to_lowercase()).collect(),
            authors,
            tags,
            gated,
            impossible,
        }
    }

    /// Up to `limit` matching records after `after` in `sort` order, and whether more follow.
    pub fn page(
        &self,
        sort: Sort,
        after: Option<&Position>,
        limit: usize,
        filter: &Filter,
    ) -> (Vec<u32>, bool) {
        let order = &self.orders[sort.slot()];
        let start = after.map_or(0, |p| {
            order.partition_point(|&r| self.compare_to(sort, r, p) != Ordering::Greater)
        });
        let rest = &order[start..];
        let mut items = Vec::with_capacity(limit.min(rest.len()));
        if filter.impossible {
            return (items, false);
        }
        // Checking records one by one in sort order visits them in random memory order.
        // That is cheap while matches are common; once a filter has made the walk long,
        // one pass over the records in memory order finds every match much faster.
        let mut matching: Option<Vec<u64>> = None;
        for (visited, &r) in rest.iter().enumerate() {
            if visited == WALK_BUDGET && !filter.is_trivial() {
                matching = Some(self.matching(filter));
            }
            let keep = match &matching {
                Some(bits) => bits[r as usize / 64] & (1 << (r % 64)) != 0,
                None => self.matches(r, filter),
            };
            if !keep {
                continue;
            }
            if items.len() == limit {
                return (items, true);
            }
            items.push(r);
        }
        (items, false)
    }

    /// A bit per stored record: set when the record is live and passes the filter.
    fn matching(&self, filter: &Filter) -> Vec<u64> {
        let mut bits = vec![0u64; self.stored.div_ceil(64)];
        let records = self.chunks.iter().flat_map(|chunk| chunk.iter());
        for (i, r) in records.enumerate() {
            if self.alive[i / 64] & (1 << (i % 64)) != 0 && self.record_matches(r, filter) {
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        bits
    }

    /// The cursor position of a record in `sort` order.
    pub fn position(&self, sort: Sort, index: u32) -> Position {
        let r = self.record(index);
        Position {
            value: sort_value(sort, r),
            object_id: r.object_id,
            index,
        }
    }

    fn matches(&self, index: u32, filter: &Filter) -> bool {
        self.record_matches(self.record(index), filter)
    }

    fn record_matches(&self, r: &Record, filter: &Filter) -> bool {
        !r.private
            && filter.gated.is_none_or(|g| r.gated.is_gated() == g)
            && filter.tags.iter().all(|t| r.tags.contains(t))
            && filter
                .authors
                .iter()
                .all(|set| r.author.is_some_and(|a| set.contains(&a)))
            && filter
                .needles
                .iter()
                .all(|n| contains_ignoring_case(r.id.as_str(), n))
    }

    /// Where record `index` lies relative to `p` in `sort` order.
    fn compare_to(&self, sort: Sort, index: u32, p: &Position) -> Ordering {
        let r = self.record(index);
        compare_desc(sort_value(sort, r), p.value)
            .then_with(|| r.object_id.cmp(&p.object_id))
            .then(index.cmp(&p.index))
    }

    /// The description as served.
    pub fn description(&self, r: &Record) -> Option<String> {
        description(r)
    }

    /// The `cardData` as served.
    pub fn card_data(&self, r: &Record) -> Option<serde_json::Value> {
        self.names.card_data(r)
    }
}

fn bit(bits: &[u64], index: u32) -> bool {
    bits.get(index as usize / 64)
        .is_some_and(|word| word & (1 << (index % 64)) != 0)
}

/// Builds the next version of a catalog: records are appended and retired, then
/// [`Editor::finish`] merges the changes into every sort order.
pub(crate) struct Editor<'a> {
    base: &'a Catalog,
    chunks: Vec<Arc<Vec<Record>>>,
    stored: usize,
    alive: Vec<u64>,
    live: usize,
    names: Arc<Names>,
    ids: IdIndex,
    /// Records appended by this edit.
    added: Vec<u32>,
    max_last_modified: i64,
}

impl Editor<'_> {
    pub fn record(&self, index: u32) -> &Record {
        let i = index as usize;
        &self.chunks[i / CHUNK][i % CHUNK]
    }

    pub fn is_alive(&self, index: u32) -> bool {
        bit(&self.alive, index)
    }

    /// Records stored so far, live or retired.
    pub fn stored(&self) -> usize {
        self.stored
    }

    /// The latest `lastModified` any record has had, including those added by this edit.
    pub fn max_last_modified(&self) -> i64 {
        self.max_last_modified
    }

    /// True when a live record's id equals `id` ignoring case (or hashes like it).
    pub fn id_taken(&self, id: &str) -> bool {
        self.key_taken(id_key(id))
    }

    /// True when a live record's id has this [`id_key`].
    pub fn key_taken(&self, key: u64) -> bool {
        self.ids.taken(key, |i| id_key(self.record(i).id.as_str()))
    }

    /// The names, to add new authors and tags to.
    pub fn names_mut(&mut self) -> &mut Names {
        Arc::make_mut(&mut self.names)
    }

    pub fn names(&self) -> &Names {
        &self.names
    }

    /// Adds a live record; returns its index.
    pub fn push(&mut self, record: Record) -> u32 {
        let index = self.stored as u32;
        self.max_last_modified = self.max_last_modified.max(record.last_modified);
        self.ids.insert(id_key(record.id.as_str()), index);
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => Arc::make_mut(last).push(record),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(record);
                self.chunks.push(Arc::new(chunk));
            }
        }
        self.stored += 1;
        if self.alive.len() < self.stored.div_ceil(64) {
            self.alive.push(0);
        }
        self.alive[index as usize / 64] |= 1 << (index % 64);
        self.live += 1;
        self.added.push(index);
        index
    }

    /// Retires a live record: it is no longer listed or found.
    pub fn retire(&mut self, index: u32) {
        if !self.is_alive(index) {
            return;
        }
        self.alive[index as usize / 64] &= !(1 << (index % 64));
        self.live -= 1;
        let key = id_key(self.record(index).id.as_str());
        let (chunks, ids) = (&self.chunks, &mut self.ids);
        let key_of = |i: u32| {
            let i = i as usize;
            id_key(chunks[i / CHUNK][i % CHUNK].id.as_str())
        };
        ids.remove(key, index, key_of);
    }

    /// The new version: every sort order keeps its live records and gains the added ones at
    /// their places, in one pass.
    pub fn finish(self) -> Catalog {
        let mut catalog = Catalog {
            chunks: self.chunks,
            stored: self.stored,
            alive: self.alive,
            live: self.live,
            names: self.names,
            orders: Vec::with_capacity(Sort::ALL.len()),
            ids: self.ids,
            max_last_modified: self.max_last_modified,
        };
        let added: Vec<u32> = self
            .added
            .into_iter()
            .filter(|&i| catalog.is_alive(i))
            .collect();
        let mut orders = Vec::with_capacity(Sort::ALL.len());
        for sort in Sort::ALL {
            let key = |i: u32| {
                let r = catalog.record(i);
                (ascending_key(sort_value(sort, r)), r.object_id, i)
            };
            let mut new: Vec<(u64, [u8; 12], u32)> = added.iter().map(|&i| key(i)).collect();
            new.sort_unstable();
            let base = &self.base.orders[sort.slot()];
            let mut order = Vec::with_capacity(catalog.live);
            let mut from = 0;
            for entry in new {
                let at = base.partition_point(|&r| key(r) < entry);
                order.extend(base[from..at].iter().filter(|&&r| catalog.is_alive(r)));
                order.push(entry.2);
                from = at;
            }
            order.extend(base[from..].iter().filter(|&&r| catalog.is_alive(r)));
            orders.push(order);
        }
        catalog.orders = orders;
        catalog
    }
}

fn sort_value(sort: Sort, r: &Record) -> SortValue {
    match sort {
        Sort::Default => SortValue::None,
        Sort::Downloads => SortValue::Count(r.downloads),
        Sort::Likes => SortValue::Count(r.likes),
        Sort::LastModified => SortValue::Time(r.last_modified),
        Sort::CreatedAt => SortValue::Time(r.created_at),
        Sort::TrendingScore => SortValue::Score(r.trending_score),
    }
}

/// A number whose ascending order is the descending order of the value, as in
/// [`compare_desc`].
fn ascending_key(value: SortValue) -> u64 {
    const SIGN: u64 = 1 << 63;
    match value {
        SortValue::None => 0,
        SortValue::Count(n) => !n,
        SortValue::Time(t) => !(t as u64 ^ SIGN),
        SortValue::Score(s) => {
            // The bit trick behind `f64::total_cmp`, then as an unsigned number.
            let bits = s.to_bits() as i64;
            let ordered = bits ^ ((((bits >> 63) as u64) >> 1) as i64);
            !(ordered as u64 ^ SIGN)
        }
    }
}

/// `Less` when `a` comes first in a descending order.
fn compare_desc(a: SortValue, b: SortValue) -> Ordering {
    match (a, b) {
        (SortValue::Count(a), SortValue::Count(b)) => b.cmp(&a),
        (SortValue::Time(a), SortValue::Time(b)) => b.cmp(&a),
        (SortValue::Score(a), SortValue::Score(b)) => b.total_cmp(&a),
        _ => Ordering::Equal,
    }
}

/// Case-insensitive substring test; `needle` is already lower-case.
fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    if needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle.as_bytes());
        n.is_empty()
            || h.windows(n.len())
                .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
    } else {
        haystack.to_lowercase().contains(needle)
    }
}

/// A Mongo-style ObjectId: the creation time in seconds, then 8 bytes of a hash of the id.
/// Real ObjectIds start with their creation time too, so `_id` order follows creation.
pub(crate) fn derive_object_id(id: &str, created_at_ms: i64) -> [u8; 12] {
    let seconds = u32::try_from(created_at_ms.div_euclid(1000).max(0)).unwrap_or(u32::MAX);
    let hash = Sha256::digest(id.as_bytes());
    let mut out = [0u8; 12];
    out[..4].copy_from_slice(&seconds.to_be_bytes());
    out[4..].copy_from_slice(&hash[..8]);
    out
}

/// A stand-in head commit: sha1 of the id and the last-modified time.
pub(crate) fn derive_sha(id: &str, last_modified_ms: i64) -> [u8; 20] {
    let mut hasher = Sha1::new();
    hasher.update(id.as_bytes());
    hasher.update(b"@");
    hasher.update(format_time(last_modified_ms).as_bytes());
    let mut out = [0u8; 20];
    out.copy_from_slice(&hasher.finalize());
    out
}

/// The Hub's timestamp format: `2022-03-02T23:29:04.000Z`.
pub(crate) fn format_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Parses exactly `N` bytes of hex (either case).
pub(crate) fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(json: &str) -> Dataset {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn fills_what_the_hub_always_has() {
        let mut b = Builder::default();
        b.push_dataset(dataset(r#"{"id":"glue","downloads":5}"#));
        b.push_dataset(dataset(
            r#"{"id":"acme/x","createdAt":"2024-05-01T10:00:00.000Z","tags":["a"]}"#,
        ));
        let c = b.finish();
        let glue = c.names.to_dataset(c.record(c.find("GLUE").unwrap()));
        assert_eq!(glue.author, None, "canonical ids have no owner");
        assert_eq!(
            format_time(glue.created_at.unwrap().timestamp_millis()),
            "2022-03-02T23:29:04.000Z"
        );
        assert_eq!(glue.last_modified, glue.created_at);
        assert_eq!(glue.object_id.as_deref().map(str::len), Some(24));
        assert!(
            glue.object_id.unwrap().starts_with("621ffdc0"),
            "ObjectId carries createdAt"
        );
        assert_eq!(glue.sha.as_deref().map(str::len), Some(40));
        let x = c.names.to_dataset(c.record(c.find("acme/x").unwrap()));
        assert_eq!(
            x.author.as_deref(),
            Some("acme"),
            "author comes from the namespace"
        );
        assert_eq!(x.last_modified, x.created_at);
    }

    #[test]
    fn keeps_hub_ids_it_is_given() {
        let mut b = Builder::default();
        b.push_dataset(dataset(
            r#"{"id":"a/b","_id":"66A1F0C2E4B0A1B2C3D4E5F6","sha":"3f2c9d1e0b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d"}"#,
        ));
        let c = b.finish();
        let d = c.names.to_dataset(c.record(0));
        assert_eq!(d.object_id.as_deref(), Some("66a1f0c2e4b0a1b2c3d4e5f6"));
        assert_eq!(
            d.sha.as_deref(),
            Some("3f2c9d1e0b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d")
        );
    }

    #[test]
    fn dedupe_keeps_the_last_record_in_the_first_place() {
        let (out, dropped) = dedupe(vec![
            dataset(r#"{"id":"a/x","downloads":1}"#),
            dataset(r#"{"id":"b/y"}"#),
            dataset(r#"{"id":"A/X","downloads":2}"#),
        ]);
        assert_eq!(dropped, 1);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].id.as_str(), out[0].downloads), ("A/X", 2));
    }

    #[test]
    fn sort_keys_order_like_the_cursor_comparison() {
        let scores = [f64::NEG_INFINITY, -2.5, -0.0, 0.0, 1e-9, 3.0, f64::INFINITY];
        for pair in scores.windows(2) {
            let (a, b) = (SortValue::Score(pair[1]), SortValue::Score(pair[0]));
            assert!(ascending_key(a) < ascending_key(b), "{pair:?}");
            assert_eq!(compare_desc(a, b), Ordering::Less);
        }
        let times = [i64::MIN, -1, 0, 1_646_263_744_000, i64::MAX];
        for pair in times.windows(2) {
            let (a, b) = (SortValue::Time(pair[1]), SortValue::Time(pair[0]));
            assert!(ascending_key(a) < ascending_key(b), "{pair:?}");
        }
        assert!(ascending_key(SortValue::Count(u64::MAX)) < ascending_key(SortValue::Count(0)));
    }

    #[test]
    fn every_order_is_sorted_by_the_cursor_comparison() {
        let c = synthetic::generate(3_000, 4).finish();
        for sort in Sort::ALL {
            let order = &c.orders[sort.slot()];
            assert_eq!(order.len(), 3_000);
            for pair in order.windows(2) {
                let next = c.position(sort, pair[1]);
                assert_eq!(
                    c.compare_to(sort, pair[0], &next),
                    Ordering::Less,
                    "{sort:?}"
                );
            }
        }
    }

    #[test]
    fn long_filtered_walks_find_the_same_pages_as_record_by_record_checks() {
        let c = synthetic::generate(WALK_BUDGET + 15_000, 8).finish();
        let filter = c.filter(&["an".into()], &[], &["region:us".into()], Some(false));
        for sort in [Sort::Default, Sort::Likes] {
            let expected: Vec<u32> = c.orders[sort.slot()]
                .iter()
                .copied()
                .filter(|&r| c.matches(r, &filter))
                .collect();
            assert!(expected.len() > 100, "the filter keeps some records");
            let (mut got, mut after) = (Vec::new(), None);
            for _ in 0..expected.len() {
                let (page, more) = c.page(sort, after.as_ref(), 40, &filter);
                got.extend_from_slice(&page);
                after = page.last().map(|&last| c.position(sort, last));
                if !more {
                    break;
                }
            }
            assert_eq!(got, expected, "{sort:?}");
        }
        let rare = c.filter(&["no-such-id-anywhere".into()], &[], &[], None);
        assert_eq!(
            c.page(Sort::Downloads, None, 10, &rare),
            (Vec::new(), false)
        );
    }

    #[test]
    fn case_insensitive_substring() {
        assert!(contains_ignoring_case("Org/Some-Name", "some-n"));
        assert!(contains_ignoring_case("Org/Some-Name", ""));
        assert!(!contains_ignoring_case("Org/Some", "some-name"));
        assert!(contains_ignoring_case("Élan/ÜBER", "über"));
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex(&bytes), "0001abff");
        assert_eq!(parse_hex::<4>("0001ABff"), Some(bytes));
        assert_eq!(parse_hex::<4>("0001abf"), None);
        assert_eq!(parse_hex::<4>("0001abfg"), None);
    }
}
