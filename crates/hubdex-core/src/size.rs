//! How big a dataset is: the Hub's row-count buckets and a byte estimate.
//!
//! The Hub tags datasets with a `size_categories:` bucket of **rows** (`1K<n<10K`); some
//! cards also declare bytes (`dataset_info.download_size`, `dataset_size`) and rows per split
//! (`dataset_info.splits[].num_examples`). hubdex derives from these:
//!
//! * [`Dataset::size_bucket`]: the record's bucket, from its tag (spelling normalised) or,
//!   without one, from the rows its card declares;
//! * [`Dataset::row_range`]: the rows it has, exact from the card or the bucket's bounds;
//! * [`Dataset::estimated_bytes`]: the card's `download_size` (what a download fetches), else
//!   its `dataset_size`, else rows × [`BYTES_PER_ROW`], taking a bucket's geometric middle as
//!   its rows. A record with neither bytes, rows nor a bucket has no size and never matches a
//!   `size:` comparison.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::Dataset;

/// Bytes per row used to estimate a size from a row count: the median among the 875 records
/// of hubdex's catalog snapshot whose cards declare both `dataset_size` and row counts
/// (deciles run from 113 to 61,684 bytes, so an estimate is an order of magnitude at best).
pub const BYTES_PER_ROW: u64 = 650;

/// One of the Hub's `size_categories` buckets (row counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SizeBucket {
    /// `n<1K`
    Under1K,
    /// `1K<n<10K`
    From1K,
    /// `10K<n<100K`
    From10K,
    /// `100K<n<1M`
    From100K,
    /// `1M<n<10M`
    From1M,
    /// `10M<n<100M`
    From10M,
    /// `100M<n<1B`
    From100M,
    /// `1B<n<10B`
    From1B,
    /// `10B<n<100B`
    From10B,
    /// `100B<n<1T`
    From100B,
    /// `n>1T`
    Over1T,
}

impl SizeBucket {
    /// Every bucket, smallest first.
    pub const ALL: [SizeBucket; 11] = [
        SizeBucket::Under1K,
        SizeBucket::From1K,
        SizeBucket::From10K,
        SizeBucket::From100K,
        SizeBucket::From1M,
        SizeBucket::From10M,
        SizeBucket::From100M,
        SizeBucket::From1B,
        SizeBucket::From10B,
        SizeBucket::From100B,
        SizeBucket::Over1T,
    ];

    /// The Hub's spelling, as in the tag `size_categories:1K<n<10K`.
    pub fn as_str(self) -> &'static str {
        match self {
            SizeBucket::Under1K => "n<1K",
            SizeBucket::From1K => "1K<n<10K",
            SizeBucket::From10K => "10K<n<100K",
            SizeBucket::From100K => "100K<n<1M",
            SizeBucket::From1M => "1M<n<10M",
            SizeBucket::From10M => "10M<n<100M",
            SizeBucket::From100M => "100M<n<1B",
            SizeBucket::From1B => "1B<n<10B",
            SizeBucket::From10B => "10B<n<100B",
            SizeBucket::From100B => "100B<n<1T",
            SizeBucket::Over1T => "n>1T",
        }
    }

    /// The rows a dataset in this bucket has, as an inclusive range.
    pub fn rows(self) -> (u64, u64) {
        let index = self as u32;
        let low = if index == 0 { 0 } else { 10u64.pow(index + 2) };
        let high = if self == SizeBucket::Over1T {
            u64::MAX
        } else {
            10u64.pow(index + 3) - 1
        };
        (low, high)
    }

    /// The bucket holding `rows` rows.
    pub fn of_rows(rows: u64) -> SizeBucket {
        let digits = rows.checked_ilog10().unwrap_or(0) as usize;
        Self::ALL[digits.saturating_sub(2).min(Self::ALL.len() - 1)]
    }

    /// A typical row count for the bucket: the geometric middle of its bounds.
    fn typical_rows(self) -> u64 {
        let index = self as i32;
        10f64.powf(f64::from(index) + 2.5) as u64
    }
}

impl fmt::Display for SizeBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the Hub's size buckets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a size bucket; use one of n<1K, 1K<n<10K, … 100B<n<1T, n>1T")]
pub struct UnknownBucket(pub String);

impl FromStr for SizeBucket {
    type Err = UnknownBucket;
    /// Reads a bucket in the Hub's spelling, ignoring case (`10K<n<100k` occurs in cards).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|bucket| bucket.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownBucket(s.to_string()))
    }
}

impl Dataset {
    /// The record's row-count bucket: its `size_categories` tag, else the bucket of the rows
    /// its card declares.
    pub fn size_bucket(&self) -> Option<SizeBucket> {
        self.tag_values("size_categories")
            .find_map(|value| value.parse().ok())
            .or_else(|| self.declared_rows().map(SizeBucket::of_rows))
    }

    /// How many rows the record has, as an inclusive range: exact when the card declares
    /// them, the bucket's bounds otherwise.
    pub fn row_range(&self) -> Option<(u64, u64)> {
        match self.declared_rows() {
            Some(rows) => Some((rows, rows)),
            None => self.size_bucket().map(SizeBucket::rows),
        }
    }

    /// The size the card declares, summed over its configs, and which one it is:
    /// `download_size`, else `dataset_size`. `None` when a size could only be estimated.
    pub fn declared_size(&self) -> Option<(u64, &'static str)> {
        ["download_size", "dataset_size"]
            .into_iter()
            .find_map(|key| self.declared_bytes(key).map(|bytes| (bytes, key)))
    }

    /// The record's size in bytes, declared or estimated (see the module docs).
    pub fn estimated_bytes(&self) -> Option<u64> {
        self.declared_size().map(|(bytes, _)| bytes).or_else(|| {
            let rows = self
                .declared_rows()
                .or_else(|| self.size_bucket().map(SizeBucket::typical_rows))?;
            Some(rows.saturating_mul(BYTES_PER_ROW))
        })
    }

    /// The card's `dataset_info` entries (one per config, or a single object).
    fn dataset_infos(&self) -> impl Iterator<Item = &serde_json::Map<String, Value>> {
        let info = self.card_data.as_ref().and_then(|c| c.get("dataset_info"));
        let entries: &[Value] = match info {
            Some(Value::Array(list)) => list,
            Some(one @ Value::Object(_)) => std::slice::from_ref(one),
            _ => &[],
        };
        entries.iter().filter_map(Value::as_object)
    }

    /// The sum of a byte count over the card's configs, if any config declares it.
    fn declared_bytes(&self, key: &str) -> Option<u64> {
        let sizes: Vec<u64> = self
            .dataset_infos()
            .filter_map(|info| info.get(key).and_then(Value::as_u64))
            .collect();
        (!sizes.is_empty()).then(|| sizes.iter().fold(0u64, |a, b| a.saturating_add(*b)))
    }

    /// The rows over every split of every config, if any split declares them.
    fn declared_rows(&self) -> Option<u64> {
        let rows: Vec<u64> = self
            .dataset_infos()
            .filter_map(|info| info.get("splits").and_then(Value::as_array))
            .flatten()
            .filter_map(|split| split.get("num_examples").and_then(Value::as_u64))
            .collect();
        let total = rows.iter().fold(0u64, |a, b| a.saturating_add(*b));
        (total > 0).then_some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> Dataset {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn buckets_round_trip_and_their_rows_tile_the_numbers() {
        for bucket in SizeBucket::ALL {
            assert_eq!(bucket.as_str().parse::<SizeBucket>(), Ok(bucket));
            let (low, high) = bucket.rows();
            assert_eq!(SizeBucket::of_rows(low), bucket);
            assert_eq!(SizeBucket::of_rows(high), bucket);
            let typical = bucket.typical_rows();
            assert!(low <= typical && typical <= high, "{bucket}");
        }
        assert_eq!(SizeBucket::From1K.rows(), (1_000, 9_999));
        assert_eq!(SizeBucket::of_rows(0), SizeBucket::Under1K);
        assert_eq!("10k<n<100K".parse(), Ok(SizeBucket::From10K));
        assert!("1k<10K".parse::<SizeBucket>().is_err());
    }

    #[test]
    fn declared_bytes_win_then_rows_then_the_bucket() {
        let tagged = record(r#"{"id":"a/b","tags":["size_categories:10K<n<100K"]}"#);
        assert_eq!(tagged.size_bucket(), Some(SizeBucket::From10K));
        assert_eq!(tagged.row_range(), Some((10_000, 99_999)));
        assert_eq!(tagged.estimated_bytes(), Some(31_622 * BYTES_PER_ROW));

        let carded = record(
            r#"{"id":"a/c","tags":["size_categories:10K<n<100K"],"cardData":{"dataset_info":[
              {"splits":[{"name":"train","num_examples":1200},{"name":"test","num_examples":300}],
               "download_size":5000,"dataset_size":9000},
              {"splits":[{"name":"train","num_examples":500}],"dataset_size":1000}]}}"#,
        );
        assert_eq!(carded.estimated_bytes(), Some(5_000));
        assert_eq!(carded.row_range(), Some((2_000, 2_000)));
        // The tag wins over the declared rows for the bucket.
        assert_eq!(carded.size_bucket(), Some(SizeBucket::From10K));

        let rows_only = record(
            r#"{"id":"a/d","cardData":{"dataset_info":{"splits":[{"num_examples":1322}]}}}"#,
        );
        assert_eq!(rows_only.size_bucket(), Some(SizeBucket::From1K));
        assert_eq!(rows_only.estimated_bytes(), Some(1322 * BYTES_PER_ROW));

        let unknown = record(r#"{"id":"a/e","tags":["size_categories:unknown"]}"#);
        assert_eq!(unknown.size_bucket(), None);
        assert_eq!(unknown.estimated_bytes(), None);
        assert_eq!(unknown.row_range(), None);
    }
}
