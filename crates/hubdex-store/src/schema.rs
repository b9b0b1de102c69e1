//! The index's fields and how a record becomes a document.
//!
//! Free text is matched on one combined field (`text`), because one posting list per word is
//! what keeps a search fast; two small fields (`name`, `tags`) are consulted only to score,
//! so a word in an id or a tag outweighs the same word in a description. Exact names go to a
//! raw `keys` field, filters to raw keyword fields, numbers to fast fields.

use hubdex_core::{Dataset, Keyword, language_names};
use serde_json::Value;
use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::analysis::{ANALYZER, INITIALS, key};

/// How much downloads and likes lift a record's score: the score is multiplied by
/// `1 + DOWNLOADS_WEIGHT · ln(1 + downloads) + LIKES_WEIGHT · ln(1 + likes)`.
pub(crate) const DOWNLOADS_WEIGHT: f64 = 0.25;
/// See [`DOWNLOADS_WEIGHT`].
pub(crate) const LIKES_WEIGHT: f64 = 0.25;

/// Where the card template's table of contents starts in a description.
const TEMPLATE_START: &str = "Table of Contents";
/// Card keys whose string values are searchable text.
const CARD_TEXT_KEYS: &[&str] = &["paperswithcode_id", "source_datasets"];
/// Card keys read as tags when a record has no tags (old snapshots kept only the card).
const CARD_TAG_KEYS: &[(&str, &str)] = &[
    ("task_categories", "task_categories"),
    ("task_ids", "task_ids"),
    ("language", "language"),
    ("license", "license"),
    ("tags", ""),
];

/// The fields of the index.
pub(crate) struct Fields {
    /// The id as written: exact lookup, delete, and mapping hits back to records.
    pub(crate) id: Field,
    /// The id lowercased, for case-insensitive lookup; only for ids with capitals (a
    /// lookup also tries `id`).
    pub(crate) id_lower: Field,
    /// Exact-match keys ([`crate::analysis::key`]) of the id, the name and the pretty name.
    pub(crate) keys: Field,
    /// The owner lowercased, for `author:`.
    pub(crate) author: Field,
    /// Everything free text matches: id and its parts, pretty name, author, description,
    /// tag values, some card fields. Positions are kept for phrases.
    pub(crate) text: Field,
    /// Id and pretty name, scored on top of `text`.
    pub(crate) name: Field,
    /// The first one and two characters of each word of `name`: what the first keystrokes
    /// of a word match.
    pub(crate) initials: Field,
    /// Tag values, scored on top of `text`.
    pub(crate) tags: Field,
    /// Task, language, licence, modality, format and library tag values (lowercased), for
    /// filters and facets.
    pub(crate) task: Field,
    pub(crate) language: Field,
    pub(crate) license: Field,
    pub(crate) modality: Field,
    pub(crate) format: Field,
    pub(crate) library: Field,
    /// Whole tags lowercased, for `tag:`.
    pub(crate) tag: Field,
    /// The size bucket's name, for `size:1K<n<10K` and the size facet.
    pub(crate) size_bucket: Field,
    /// Estimated bytes, rows (bounds), only for records that say.
    pub(crate) bytes: Field,
    pub(crate) rows_min: Field,
    pub(crate) rows_max: Field,
    pub(crate) gated: Field,
    pub(crate) downloads: Field,
    pub(crate) likes: Field,
    pub(crate) last_modified: Field,
    pub(crate) created_at: Field,
    pub(crate) trending: Field,
    /// The popularity prior that multiplies relevance (see [`DOWNLOADS_WEIGHT`]).
    pub(crate) prior: Field,
}

/// Fast-field names that searches read by name.
pub(crate) mod names {
    pub(crate) const ID: &str = "id";
    pub(crate) const DOWNLOADS: &str = "downloads";
    pub(crate) const LIKES: &str = "likes";
    pub(crate) const LAST_MODIFIED: &str = "last_modified";
    pub(crate) const CREATED_AT: &str = "created_at";
    pub(crate) const TRENDING: &str = "trending";
    pub(crate) const PRIOR: &str = "prior";
    pub(crate) const TASK: &str = "task";
    pub(crate) const LANGUAGE: &str = "language";
    pub(crate) const LICENSE: &str = "license";
    pub(crate) const MODALITY: &str = "modality";
    pub(crate) const SIZE_BUCKET: &str = "size_bucket";
}

impl Fields {
    /// The raw field a keyword filter looks in.
    pub(crate) fn keyword(&self, keyword: Keyword) -> Field {
        match keyword {
            Keyword::Author => self.author,
            Keyword::Task => self.task,
            Keyword::Language => self.language,
            Keyword::License => self.license,
            Keyword::Modality => self.modality,
            Keyword::Format => self.format,
            Keyword::Library => self.library,
            Keyword::Tag => self.tag,
        }
    }
}

pub(crate) fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let analyzed = |record: IndexRecordOption| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(record),
        )
    };
    let keyword = STRING | FAST;
    let fields = Fields {
        id: builder.add_text_field(names::ID, STRING | FAST),
        id_lower: builder.add_text_field("id_lower", STRING),
        keys: builder.add_text_field("keys", STRING),
        author: builder.add_text_field("author", keyword.clone()),
        text: builder.add_text_field("text", analyzed(IndexRecordOption::WithFreqsAndPositions)),
        name: builder.add_text_field("name", analyzed(IndexRecordOption::WithFreqs)),
        initials: builder.add_text_field(
            "initials",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(INITIALS)
                    .set_index_option(IndexRecordOption::Basic)
                    .set_fieldnorms(false),
            ),
        ),
        tags: builder.add_text_field("tags", analyzed(IndexRecordOption::WithFreqs)),
        task: builder.add_text_field(names::TASK, keyword.clone()),
        language: builder.add_text_field(names::LANGUAGE, keyword.clone()),
        license: builder.add_text_field(names::LICENSE, keyword.clone()),
        modality: builder.add_text_field(names::MODALITY, keyword.clone()),
        format: builder.add_text_field("format", STRING),
        library: builder.add_text_field("library", STRING),
        tag: builder.add_text_field("tag", STRING),
        size_bucket: builder.add_text_field(names::SIZE_BUCKET, keyword),
        bytes: builder.add_u64_field("bytes", FAST),
        rows_min: builder.add_u64_field("rows_min", FAST),
        rows_max: builder.add_u64_field("rows_max", FAST),
        gated: builder.add_bool_field("gated", INDEXED),
        downloads: builder.add_u64_field(names::DOWNLOADS, FAST),
        likes: builder.add_u64_field(names::LIKES, FAST),
        last_modified: builder.add_i64_field(names::LAST_MODIFIED, FAST),
        created_at: builder.add_i64_field(names::CREATED_AT, FAST),
        trending: builder.add_f64_field(names::TRENDING, FAST),
        prior: builder.add_f64_field(names::PRIOR, FAST),
    };
    (builder.build(), fields)
}

/// The popularity prior of a record.
pub(crate) fn prior(downloads: u64, likes: u64) -> f64 {
    1.0 + DOWNLOADS_WEIGHT * (downloads as f64).ln_1p() + LIKES_WEIGHT * (likes as f64).ln_1p()
}

/// A record's tags, or when it has none, the tags its card declares.
fn tags(record: &Dataset) -> Vec<String> {
    if !record.tags.is_empty() {
        return record.tags.clone();
    }
    let Some(card) = record.card_data.as_ref() else {
        return Vec::new();
    };
    let mut tags = Vec::new();
    for (key, prefix) in CARD_TAG_KEYS {
        for value in strings(card.get(*key)) {
            if prefix.is_empty() {
                tags.push(value.to_string());
            } else {
                tags.push(format!("{prefix}:{value}"));
            }
        }
    }
    tags
}

/// A description without the card template's table of contents (`Dataset Card for X Table
/// of Contents - Dataset Description - Dataset Summary - …`): its headings are in thousands
/// of cards and say nothing about any of them.
fn without_template(description: &str) -> &str {
    match description.find(TEMPLATE_START) {
        Some(at) => &description[..at],
        None => description,
    }
}

/// The strings of a card value that is a string or a list of strings.
fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The document indexing `record`.
pub(crate) fn document(fields: &Fields, record: &Dataset) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    let id = record.id.as_str();
    let name = record.id.name();
    doc.add_text(fields.id, id);
    // Only ids with capitals: a lower-case id is found by its `id` term (a million fewer
    // terms to build into the dictionary at the Hub's scale).
    let lower = id.to_lowercase();
    if lower != id {
        doc.add_text(fields.id_lower, lower);
    }
    if let Some(owner) = record.owner() {
        doc.add_text(fields.author, owner.to_lowercase());
    }

    // `squad_v2` is also findable as `squadv2`.
    let joined: String = name.chars().filter(|c| c.is_alphanumeric()).collect();
    let mut keys = vec![key(id), key(name), joined.to_lowercase()];
    for text_field in [fields.text, fields.name, fields.initials] {
        doc.add_text(text_field, id);
        if joined.len() != name.len() {
            doc.add_text(text_field, &joined);
        }
    }
    if let Some(pretty_name) = record.pretty_name() {
        doc.add_text(fields.text, pretty_name);
        doc.add_text(fields.name, pretty_name);
        doc.add_text(fields.initials, pretty_name);
        keys.push(key(pretty_name));
    }
    keys.sort();
    keys.dedup();
    for k in keys.iter().filter(|k| !k.is_empty()) {
        doc.add_text(fields.keys, k);
    }

    if let Some(author) = record.author.as_deref()
        && record.id.namespace() != Some(author)
    {
        doc.add_text(fields.text, author);
    }
    if let Some(description) = record.description.as_deref() {
        doc.add_text(fields.text, without_template(description));
    }
    if let Some(card) = record.card_data.as_ref() {
        for key in CARD_TEXT_KEYS {
            for value in strings(card.get(*key)) {
                doc.add_text(fields.text, value);
            }
        }
    }
    for tag in tags(record) {
        let lower = tag.to_lowercase();
        doc.add_text(fields.tag, &lower);
        let (family, value) = lower.split_once(':').unwrap_or(("", lower.as_str()));
        let keyword_field = match family {
            // Every dataset is hosted in `region:us`; it says nothing.
            "region" => continue,
            "task_categories" | "task_ids" => Some(fields.task),
            "language" => Some(fields.language),
            "license" => Some(fields.license),
            "modality" => Some(fields.modality),
            "format" => Some(fields.format),
            "library" => Some(fields.library),
            _ => None,
        };
        if let Some(field) = keyword_field {
            doc.add_text(field, value);
        }
        doc.add_text(fields.text, value);
        doc.add_text(fields.tags, value);
        // `language:ko` is also found as `korean`.
        if family == "language" {
            for name in language_names(value) {
                doc.add_text(fields.text, name);
                doc.add_text(fields.tags, name);
            }
        }
    }

    if let Some(bucket) = record.size_bucket() {
        doc.add_text(fields.size_bucket, bucket.as_str());
    }
    if let Some(bytes) = record.estimated_bytes() {
        doc.add_u64(fields.bytes, bytes);
    }
    if let Some((low, high)) = record.row_range() {
        doc.add_u64(fields.rows_min, low);
        doc.add_u64(fields.rows_max, high);
    }
    doc.add_bool(fields.gated, record.gated.is_gated());
    doc.add_u64(fields.downloads, record.downloads);
    doc.add_u64(fields.likes, record.likes);
    if let Some(time) = record.last_modified {
        doc.add_i64(fields.last_modified, time.timestamp());
    }
    if let Some(time) = record.created_at {
        doc.add_i64(fields.created_at, time.timestamp());
    }
    doc.add_f64(fields.trending, record.trending_score);
    doc.add_f64(fields.prior, prior(record.downloads, record.likes));
    doc
}
