//! The catalog record of one dataset, in the Hub's own JSON shape.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::DatasetId;

/// Whether a dataset asks users to request access before downloading files.
///
/// On the wire the Hub writes `false`, `"auto"` or `"manual"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Gated {
    /// `false` or `true` as the Hub sent it (`true` is not documented, but accepted).
    Flag(bool),
    /// `"auto"` or `"manual"` approval.
    Mode(GateMode),
}

/// How access requests to a gated dataset are approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GateMode {
    /// Approved automatically once the user accepts the terms.
    Auto,
    /// Approved by the dataset's owners.
    Manual,
}

impl Default for Gated {
    fn default() -> Self {
        Self::Flag(false)
    }
}

impl Gated {
    /// True when files need an approved access request.
    pub fn is_gated(self) -> bool {
        !matches!(self, Self::Flag(false))
    }
}

/// One dataset as the Hub lists it (`GET /api/datasets`), with the Hub's field names.
///
/// This is what sled stores, what the daemon serves and what the fake Hub emits. Fields the
/// Hub may omit are optional or default to empty; unknown fields are ignored on input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// The Hub's internal object id (24 hex digits); absent in some catalog snapshots.
    #[serde(rename = "_id", default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// `namespace/name`.
    pub id: DatasetId,
    /// Owner (user or organisation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Head commit of `main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    /// Date of the last commit.
    #[serde(
        rename = "lastModified",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_modified: Option<DateTime<Utc>>,
    /// Creation date.
    #[serde(rename = "createdAt", default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// Private repos are only visible with a token that can read them.
    #[serde(default)]
    pub private: bool,
    /// Access gating.
    #[serde(default)]
    pub gated: Gated,
    /// Disabled by the Hub (files cannot be read).
    #[serde(default)]
    pub disabled: bool,
    /// Downloads over the last 30 days.
    #[serde(default)]
    pub downloads: u64,
    /// Likes.
    #[serde(default)]
    pub likes: u64,
    /// The Hub's trending score.
    #[serde(rename = "trendingScore", default)]
    pub trending_score: f64,
    /// Tags, e.g. `task_categories:text-classification`, `language:en`, `license:mit`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Plain-text extract of the README.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The README's YAML front matter as JSON (only with `full` or `expand=cardData`).
    #[serde(rename = "cardData", default, skip_serializing_if = "Option::is_none")]
    pub card_data: Option<serde_json::Value>,
}

impl Dataset {
    /// A record with just an id, for building records field by field.
    pub fn new(id: DatasetId) -> Self {
        Self {
            object_id: None,
            id,
            author: None,
            sha: None,
            last_modified: None,
            created_at: None,
            private: false,
            gated: Gated::default(),
            disabled: false,
            downloads: 0,
            likes: 0,
            trending_score: 0.0,
            tags: Vec::new(),
            description: None,
            card_data: None,
        }
    }

    /// Values of the tags with this prefix: `tag_values("license")` on
    /// `["license:mit", "language:en"]` yields `["mit"]`.
    pub fn tag_values<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.tags.iter().filter_map(move |t| {
            t.strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix(':'))
        })
    }

    /// The licence, from the `license:` tag.
    pub fn license(&self) -> Option<&str> {
        self.tag_values("license").next()
    }

    /// The card's `pretty_name`, when the README declares one.
    pub fn pretty_name(&self) -> Option<&str> {
        self.card_data
            .as_ref()
            .and_then(|c| c.get("pretty_name"))
            .and_then(|v| v.as_str())
    }

    /// The owner: `author` when the Hub sent it, else the id's namespace.
    pub fn owner(&self) -> Option<&str> {
        self.author.as_deref().or_else(|| self.id.namespace())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_hub_list_item() {
        let json = r#"{"_id":"66a1f0c2e4b0a1b2c3d4e5f6","id":"acme/tiny-reviews","author":"acme",
 "disabled":false,"gated":"manual","lastModified":"2025-11-03T09:12:44.000Z","likes":3,
 "trendingScore":0,"private":false,"sha":"3f2c9d1e0b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d",
 "downloads":41,"tags":["task_categories:text-classification","language:en","license:mit"],
 "description":"Short reviews.","createdAt":"2025-10-30T17:01:05.000Z","key":""}"#;
        let d: Dataset = serde_json::from_str(json).unwrap();
        assert_eq!(d.id.as_str(), "acme/tiny-reviews");
        assert_eq!(d.gated, Gated::Mode(GateMode::Manual));
        assert!(d.gated.is_gated());
        assert_eq!(d.license(), Some("mit"));
        assert_eq!(d.downloads, 41);
        assert_eq!(
            d.last_modified.unwrap().to_rfc3339(),
            "2025-11-03T09:12:44+00:00"
        );
    }

    #[test]
    fn reads_a_sparse_snapshot_record_and_round_trips() {
        let d: Dataset = serde_json::from_str(r#"{"id":"glue","gated":false}"#).unwrap();
        assert_eq!(d.owner(), None);
        assert!(!d.gated.is_gated());
        let again: Dataset = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(d, again);
    }
}
