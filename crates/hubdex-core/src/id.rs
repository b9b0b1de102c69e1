//! Dataset ids as the Hub spells them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not a dataset id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string was empty.
    #[error("a dataset id cannot be empty; write it as `namespace/name`, e.g. `rajpurkar/squad`")]
    Empty,
    /// More than one `/`, an empty part, or a character the Hub does not allow.
    #[error(
        "`{0}` is not a dataset id; write it as `namespace/name` using letters, digits, `-`, `_` and `.`"
    )]
    Malformed(String),
}

/// A Hub dataset id: `namespace/name`, or a bare `name` for the old canonical datasets.
///
/// The Hub moved canonical datasets under owners in 2024 (`squad` → `rajpurkar/squad`), but
/// catalog snapshots from before that still carry one-segment ids, so both forms are valid.
/// Case is kept: the Hub treats ids case-insensitively for lookups but reports them as created.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DatasetId(String);

impl DatasetId {
    /// Parses and validates an id.
    pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
        let s = s.into();
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        let parts: Vec<&str> = s.split('/').collect();
        let allowed = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | '.');
        let valid = parts.len() <= 2
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(allowed) && *p != "." && *p != "..");
        if valid {
            Ok(Self(s))
        } else {
            Err(IdError::Malformed(s))
        }
    }

    /// The id as written, e.g. `rajpurkar/squad`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The owner (user or organisation), if the id has one.
    pub fn namespace(&self) -> Option<&str> {
        self.0.split_once('/').map(|(ns, _)| ns)
    }

    /// The name without its namespace.
    pub fn name(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(_, name)| name)
    }

    /// The dataset's page on the Hub at `endpoint` (e.g. `https://huggingface.co`).
    pub fn web_url(&self, endpoint: &str) -> String {
        format!("{}/datasets/{}", endpoint.trim_end_matches('/'), self.0)
    }
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DatasetId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for DatasetId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for DatasetId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DatasetId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_namespaced_and_canonical_ids() {
        let id: DatasetId = "rajpurkar/squad".parse().unwrap();
        assert_eq!(id.namespace(), Some("rajpurkar"));
        assert_eq!(id.name(), "squad");
        let canonical: DatasetId = "glue".parse().unwrap();
        assert_eq!(canonical.namespace(), None);
        assert_eq!(canonical.name(), "glue");
        assert!(DatasetId::new("0-hero/Matter-0.1").is_ok());
    }

    #[test]
    fn rejects_what_cannot_be_a_path_on_the_hub() {
        for bad in ["", "a/b/c", "/x", "x/", "a b/c", "../etc", "a/.."] {
            assert!(DatasetId::new(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn builds_the_web_url() {
        let id: DatasetId = "openai/gsm8k".parse().unwrap();
        assert_eq!(
            id.web_url("https://huggingface.co/"),
            "https://huggingface.co/datasets/openai/gsm8k"
        );
    }
}
