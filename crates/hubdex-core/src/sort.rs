//! Sort orders: what to order by ([`SortKey`]) and which way ([`Order`]), together a [`Sort`].
//!
//! [`SortKey`] is the Hub's own vocabulary (`sort=` on `/api/datasets`, always descending
//! there). hubdex also sorts ascending, so a search takes a [`Sort`]; a bare key converts into
//! its descending sort, and on the wire a sort is one string, `downloads` or `downloads-asc`,
//! so a descending sort reads and writes exactly as a [`SortKey`] always did.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What search results are ordered by.
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
    "unknown sort `{0}`; use one of relevance, downloads, likes, lastModified (updated), createdAt (created), trendingScore (trending), optionally followed by -asc or -desc"
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

/// Which way a [`Sort`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    /// Most first (the Hub's only order).
    #[default]
    Descending,
    /// Least first: `sort:downloads-asc` finds the forgotten datasets.
    Ascending,
}

/// An order of search results: a key and a direction.
///
/// Written `downloads` (descending) or `downloads-asc`; `-desc` is accepted too. Relevance
/// only runs one way (best first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Sort {
    /// What to order by.
    pub key: SortKey,
    /// Which way.
    pub order: Order,
}

impl Sort {
    /// The descending sort by `key`.
    pub const fn descending(key: SortKey) -> Sort {
        Sort {
            key,
            order: Order::Descending,
        }
    }

    /// The ascending sort by `key`.
    pub const fn ascending(key: SortKey) -> Sort {
        Sort {
            key,
            order: Order::Ascending,
        }
    }
}

impl From<SortKey> for Sort {
    fn from(key: SortKey) -> Sort {
        Sort::descending(key)
    }
}

impl fmt::Display for Sort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.order {
            Order::Descending => write!(f, "{}", self.key),
            Order::Ascending => write!(f, "{}-asc", self.key),
        }
    }
}

impl FromStr for Sort {
    type Err = UnknownSort;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let (name, order) = if let Some(name) = lower.strip_suffix("-asc") {
            (name, Order::Ascending)
        } else if let Some(name) = lower.strip_suffix("-desc") {
            (name, Order::Descending)
        } else {
            (lower.as_str(), Order::Descending)
        };
        let key: SortKey = name.parse().map_err(|_| UnknownSort(s.to_string()))?;
        if key == SortKey::Relevance && order == Order::Ascending {
            return Err(UnknownSort(s.to_string()));
        }
        Ok(Sort { key, order })
    }
}

impl Serialize for Sort {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sort {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_names_round_trip_and_aliases_parse() {
        for key in SortKey::ALL {
            assert_eq!(key.as_str().parse::<SortKey>(), Ok(key));
        }
        assert_eq!("updated".parse::<SortKey>(), Ok(SortKey::LastModified));
        assert!("stars".parse::<SortKey>().is_err());
        assert_eq!(SortKey::TrendingScore.next(), SortKey::Relevance);
    }

    #[test]
    fn a_sort_reads_a_direction_suffix() {
        assert_eq!(
            "downloads-asc".parse::<Sort>(),
            Ok(Sort::ascending(SortKey::Downloads))
        );
        assert_eq!(
            "Updated-DESC".parse::<Sort>(),
            Ok(Sort::descending(SortKey::LastModified))
        );
        assert_eq!("likes".parse::<Sort>(), Ok(SortKey::Likes.into()));
        assert!("relevance-asc".parse::<Sort>().is_err());
        assert!("likes-up".parse::<Sort>().is_err());
        for key in SortKey::ALL {
            for sort in [Sort::descending(key), Sort::ascending(key)] {
                if let Ok(parsed) = sort.to_string().parse::<Sort>() {
                    assert_eq!(parsed, sort);
                }
            }
        }
    }

    #[test]
    fn a_descending_sort_is_the_same_json_as_its_key() {
        for key in SortKey::ALL {
            let as_key = serde_json::to_string(&key).unwrap();
            let as_sort = serde_json::to_string(&Sort::from(key)).unwrap();
            assert_eq!(as_key, as_sort);
            assert_eq!(serde_json::from_str::<Sort>(&as_key).unwrap(), key.into());
        }
        let asc = serde_json::to_string(&Sort::ascending(SortKey::Likes)).unwrap();
        assert_eq!(asc, "\"likes-asc\"");
        assert!(serde_json::from_str::<Sort>("\"stars\"").is_err());
    }
}
