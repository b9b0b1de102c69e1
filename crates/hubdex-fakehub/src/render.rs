//! Records as the Hub's JSON items: which properties a response carries, and in what order.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::catalog::{Catalog, format_time, hex};

/// One property an item can carry besides `_id` and `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prop {
    Author,
    CardData,
    Citation,
    CreatedAt,
    Description,
    Disabled,
    Downloads,
    DownloadsAllTime,
    Gated,
    LastModified,
    Likes,
    MainSize,
    PaperswithcodeId,
    Private,
    ResourceGroup,
    Sha,
    Siblings,
    Tags,
    TrendingScore,
    UsedStorage,
    Key,
}

/// The valid `expand` values (huggingface_hub's `ExpandDatasetProperty_T`).
pub(crate) const EXPANDABLE: [(&str, Prop); 20] = [
    ("author", Prop::Author),
    ("cardData", Prop::CardData),
    ("citation", Prop::Citation),
    ("createdAt", Prop::CreatedAt),
    ("description", Prop::Description),
    ("disabled", Prop::Disabled),
    ("downloads", Prop::Downloads),
    ("downloadsAllTime", Prop::DownloadsAllTime),
    ("gated", Prop::Gated),
    ("lastModified", Prop::LastModified),
    ("likes", Prop::Likes),
    ("mainSize", Prop::MainSize),
    ("paperswithcode_id", Prop::PaperswithcodeId),
    ("private", Prop::Private),
    ("resourceGroup", Prop::ResourceGroup),
    ("sha", Prop::Sha),
    ("siblings", Prop::Siblings),
    ("tags", Prop::Tags),
    ("trendingScore", Prop::TrendingScore),
    ("usedStorage", Prop::UsedStorage),
];

/// The order properties are written in: that of captured Hub responses.
const WRITE_ORDER: [Prop; 21] = [
    Prop::Author,
    Prop::Disabled,
    Prop::Gated,
    Prop::LastModified,
    Prop::Likes,
    Prop::TrendingScore,
    Prop::Private,
    Prop::Sha,
    Prop::Downloads,
    Prop::Tags,
    Prop::Description,
    Prop::CreatedAt,
    Prop::Key,
    Prop::CardData,
    Prop::PaperswithcodeId,
    Prop::Citation,
    Prop::Siblings,
    Prop::UsedStorage,
    Prop::MainSize,
    Prop::DownloadsAllTime,
    Prop::ResourceGroup,
];

/// A set of [`Prop`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Props(u32);

impl Props {
    /// An empty set: with `expand`, items start from just `_id` and `id`.
    pub const NONE: Props = Props(0);

    /// A default `/api/datasets` item.
    pub const LIST: Props = Props::NONE
        .with(Prop::Author)
        .with(Prop::Sha)
        .with(Prop::LastModified)
        .with(Prop::CreatedAt)
        .with(Prop::Private)
        .with(Prop::Gated)
        .with(Prop::Disabled)
        .with(Prop::Likes)
        .with(Prop::Downloads)
        .with(Prop::TrendingScore)
        .with(Prop::Tags)
        .with(Prop::Description)
        .with(Prop::Key);

    /// A `full=true` item.
    pub const FULL: Props = Props::LIST.with(Prop::CardData);

    /// A dataset info body.
    pub const INFO: Props = Props::FULL.with(Prop::Siblings).with(Prop::UsedStorage);

    pub const fn with(self, prop: Prop) -> Props {
        Props(self.0 | 1 << prop as u32)
    }

    pub const fn has(self, prop: Prop) -> bool {
        self.0 & (1 << prop as u32) != 0
    }
}

/// The [`Prop`] an `expand` value names.
pub(crate) fn expandable(name: &str) -> Option<Prop> {
    EXPANDABLE.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}

/// The valid `expand` values, for error messages.
pub(crate) fn expandable_names() -> String {
    EXPANDABLE.map(|(n, _)| n).join(", ")
}

/// One record as a JSON object.
pub(crate) struct Item<'a> {
    pub catalog: &'a Catalog,
    pub index: u32,
    pub props: Props,
}

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let c = self.catalog;
        let r = c.record(self.index);
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("_id", &hex(&r.object_id))?;
        map.serialize_entry("id", r.id.as_str())?;
        for prop in WRITE_ORDER.into_iter().filter(|p| self.props.has(*p)) {
            match prop {
                Prop::Author => {
                    if let Some(author) = r.author {
                        map.serialize_entry("author", c.author_name(author))?;
                    }
                }
                Prop::Disabled => map.serialize_entry("disabled", &r.disabled)?,
                Prop::Gated => map.serialize_entry("gated", &r.gated)?,
                Prop::LastModified => {
                    map.serialize_entry("lastModified", &format_time(r.last_modified))?;
                }
                Prop::Likes => map.serialize_entry("likes", &r.likes)?,
                Prop::TrendingScore => {
                    map.serialize_entry("trendingScore", &Score(r.trending_score))?;
                }
                Prop::Private => map.serialize_entry("private", &r.private)?,
                Prop::Sha => map.serialize_entry("sha", &hex(&r.sha))?,
                Prop::Downloads => map.serialize_entry("downloads", &r.downloads)?,
                Prop::Tags => map.serialize_entry(
                    "tags",
                    &Tags {
                        catalog: c,
                        tags: &r.tags,
                    },
                )?,
                Prop::Description => {
                    if let Some(text) = c.description(r) {
                        map.serialize_entry("description", &text)?;
                    }
                }
                Prop::CreatedAt => map.serialize_entry("createdAt", &format_time(r.created_at))?,
                Prop::Key => map.serialize_entry("key", "")?,
                Prop::CardData => {
                    if let Some(card) = c.card_data(r) {
                        map.serialize_entry("cardData", &card)?;
                    }
                }
                Prop::PaperswithcodeId => {
                    let id = c
                        .card_data(r)
                        .and_then(|card| card.get("paperswithcode_id").cloned())
                        .filter(|v| !v.is_null());
                    if let Some(id) = id {
                        map.serialize_entry("paperswithcode_id", &id)?;
                    }
                }
                Prop::Siblings => map.serialize_entry("siblings", &[(); 0])?,
                Prop::UsedStorage => map.serialize_entry("usedStorage", &0)?,
                Prop::MainSize => map.serialize_entry("mainSize", &0)?,
                Prop::DownloadsAllTime => map.serialize_entry("downloadsAllTime", &r.downloads)?,
                Prop::Citation | Prop::ResourceGroup => {}
            }
        }
        map.end()
    }
}

/// A page of items as a JSON array.
pub(crate) struct Items<'a> {
    pub catalog: &'a Catalog,
    pub indexes: &'a [u32],
    pub props: Props,
}

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.indexes.len()))?;
        for &index in self.indexes {
            seq.serialize_element(&Item {
                catalog: self.catalog,
                index,
                props: self.props,
            })?;
        }
        seq.end()
    }
}

struct Tags<'a> {
    catalog: &'a Catalog,
    tags: &'a [u32],
}

impl Serialize for Tags<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.tags.iter().map(|&t| self.catalog.tag_name(t)))
    }
}

/// The trending score as the Hub writes it: an integer when it is whole.
struct Score(f64);

impl Serialize for Score {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
        if self.0.fract() == 0.0 && self.0.abs() < EXACT {
            serializer.serialize_i64(self.0 as i64)
        } else {
            serializer.serialize_f64(self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_sets_nest() {
        assert!(Props::LIST.has(Prop::Key) && !Props::LIST.has(Prop::CardData));
        assert!(Props::FULL.has(Prop::CardData) && !Props::FULL.has(Prop::Siblings));
        assert!(Props::INFO.has(Prop::Siblings) && Props::INFO.has(Prop::UsedStorage));
        assert!(!Props::NONE.with(Prop::Author).has(Prop::Likes));
    }

    #[test]
    fn every_expand_value_is_written() {
        for (_, prop) in EXPANDABLE {
            assert!(WRITE_ORDER.contains(&prop));
        }
    }

    #[test]
    fn whole_scores_are_integers() {
        assert_eq!(serde_json::to_string(&Score(0.0)).unwrap(), "0");
        assert_eq!(serde_json::to_string(&Score(12.0)).unwrap(), "12");
        assert_eq!(serde_json::to_string(&Score(1.5)).unwrap(), "1.5");
    }
}
