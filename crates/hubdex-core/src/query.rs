//! The search query language and sort orders.
//!
//! This first version understands free text and `author:NAME`; a `word:` that is not a known
//! field is kept as plain text, because people paste titles such as `SGD-X v3: dialogue`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The order of search results. Every order is descending (most first), as on the Hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SortKey {
    /// Best match first; with no free text this falls back to downloads.
    #[default]
    Relevance,
    /// Most downloaded (last 30 days) first.
    Downloads,
    /// Most liked first.
    Likes,
    /// Most recently modified first.
    LastModified,
    /// Most recently created first.
    CreatedAt,
    /// Highest trending score first.
    TrendingScore,
}

impl SortKey {
    /// Every sort key, in the order a UI cycles through them.
    pub const ALL: [SortKey; 6] = [
        SortKey::Relevance,
        SortKey::Downloads,
        SortKey::Likes,
        SortKey::LastModified,
        SortKey::CreatedAt,
        SortKey::TrendingScore,
    ];

    /// The Hub's name for this order (`sort=` on `/api/datasets`).
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Relevance => "relevance",
            SortKey::Downloads => "downloads",
            SortKey::Likes => "likes",
            SortKey::LastModified => "lastModified",
            SortKey::CreatedAt => "createdAt",
            SortKey::TrendingScore => "trendingScore",
        }
    }

    /// A short label for narrow screens.
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Relevance => "relevance",
            SortKey::Downloads => "downloads",
            SortKey::Likes => "likes",
            SortKey::LastModified => "updated",
            SortKey::CreatedAt => "created",
            SortKey::TrendingScore => "trending",
        }
    }

    /// The next order in [`SortKey::ALL`], wrapping around.
    pub fn next(self) -> SortKey {
        let i = Self::ALL.iter().position(|k| *k == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }
}

impl fmt::Display for SortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sort name nobody knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown sort `{0}`; use one of relevance, downloads, likes, lastModified (updated), createdAt (created), trendingScore (trending)"
)]
pub struct UnknownSort(pub String);

impl FromStr for SortKey {
    type Err = UnknownSort;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = match s.to_ascii_lowercase().as_str() {
            "relevance" | "score" => SortKey::Relevance,
            "downloads" => SortKey::Downloads,
            "likes" => SortKey::Likes,
            "lastmodified" | "updated" | "modified" => SortKey::LastModified,
            "createdat" | "created" => SortKey::CreatedAt,
            "trendingscore" | "trending" => SortKey::TrendingScore,
            _ => return Err(UnknownSort(s.to_string())),
        };
        Ok(key)
    }
}

/// A parsed search query.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Query {
    /// Free-text words, in the order typed.
    pub words: Vec<String>,
    /// `author:NAME` filters; a record matches if its owner is any of them.
    pub authors: Vec<String>,
}

impl Query {
    /// Parses a query. It never fails: anything that is not a known `field:value` is text.
    pub fn parse(input: &str) -> Query {
        let mut query = Query::default();
        for token in input.split_whitespace() {
            match token.split_once(':') {
                Some((field, value))
                    if field.eq_ignore_ascii_case("author") && !value.is_empty() =>
                {
                    query.authors.push(value.to_string());
                }
                _ => query.words.push(token.to_string()),
            }
        }
        query
    }

    /// The free text joined by spaces.
    pub fn text(&self) -> String {
        self.words.join(" ")
    }

    /// True when the query has neither text nor filters (it matches everything).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.authors.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_author_filter_from_text() {
        let q = Query::parse("  math  author:openai word ");
        assert_eq!(q.words, ["math", "word"]);
        assert_eq!(q.authors, ["openai"]);
        assert_eq!(q.text(), "math word");
    }

    #[test]
    fn pasted_titles_stay_text() {
        let q = Query::parse("BAAD16: Bangla Authorship Attribution author:");
        assert!(q.authors.is_empty());
        assert_eq!(q.words[0], "BAAD16:");
        assert_eq!(q.words.last().map(String::as_str), Some("author:"));
    }

    #[test]
    fn empty_query_matches_everything() {
        assert!(Query::parse("   ").is_empty());
    }

    #[test]
    fn sort_names_round_trip_and_aliases_parse() {
        for key in SortKey::ALL {
            assert_eq!(key.as_str().parse::<SortKey>(), Ok(key));
        }
        assert_eq!("updated".parse::<SortKey>(), Ok(SortKey::LastModified));
        assert!("stars".parse::<SortKey>().is_err());
        assert_eq!(SortKey::TrendingScore.next(), SortKey::Relevance);
    }
}
