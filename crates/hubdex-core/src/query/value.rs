//! Values of `field:value` conditions: counts, sizes, dates and ages, yes/no.
//!
//! Each reader returns the condition or a hint that says how to write the value; the parser
//! turns the hint into a [`super::QueryError`].

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};

use super::{SizeFilter, TimeFilter, TimePoint};
use crate::SizeBucket;

/// A comparison written before a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
}

/// Splits `>=10` into the comparison and the rest; no operator means equality.
fn split_op(s: &str) -> (Op, &str) {
    for (prefix, op) in [
        (">=", Op::Ge),
        ("<=", Op::Le),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
    ] {
        if let Some(rest) = s.strip_prefix(prefix) {
            return (op, rest);
        }
    }
    (Op::Eq, s)
}

/// An inclusive range from a comparison against `n`; `<0` is the empty range `1..=0`.
fn range_of(op: Op, n: u64) -> (u64, u64) {
    match op {
        Op::Gt => (
            n.saturating_add(1),
            if n == u64::MAX { 0 } else { u64::MAX },
        ),
        Op::Ge => (n, u64::MAX),
        Op::Lt => match n.checked_sub(1) {
            Some(max) => (0, max),
            None => (1, 0),
        },
        Op::Le => (0, n),
        Op::Eq => (n, n),
    }
}

/// A number with an optional fraction, times `scale`: `1.5` × 1000 is 1500. `None` when it
/// is not a plain decimal number or does not fit.
fn scaled(digits: &str, scale: u64) -> Option<u64> {
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    let (whole, fraction) = digits.split_once('.').unwrap_or((&digits, ""));
    let valid = |part: &str| part.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !valid(whole) || !valid(fraction) || (digits.ends_with('.')) {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let mut value = whole.checked_mul(scale)?;
    let mut unit = scale;
    for digit in fraction.chars().filter_map(|c| c.to_digit(10)) {
        unit /= 10;
        value = value.checked_add(u64::from(digit) * unit)?;
    }
    Some(value)
}

/// Splits `12.5GB` into `12.5` and `gb` (lowercased).
fn split_unit(s: &str) -> (&str, String) {
    let at = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    (&s[..at], s[at..].to_ascii_lowercase())
}

const COUNT_HINT: &str = "give a whole number, optionally with k, m or b (thousands, millions, billions) and a comparison: >1000, >=10k, <50, 100..1m";

/// A count with an optional `k`/`m`/`b` suffix.
fn count(s: &str) -> Option<u64> {
    let (digits, unit) = split_unit(s);
    let scale = match unit.as_str() {
        "" => 1,
        "k" => 1_000,
        "m" => 1_000_000,
        "b" => 1_000_000_000,
        _ => return None,
    };
    scaled(digits, scale)
}

/// `downloads:` and `likes:` values: `>1000`, `>=10k`, `<50`, `42`, `100..1m`.
pub(super) fn parse_count(s: &str) -> Result<(u64, u64), &'static str> {
    if let Some((low, high)) = s.split_once("..") {
        if low.is_empty() && high.is_empty() {
            return Err(COUNT_HINT);
        }
        let low = if low.is_empty() { Some(0) } else { count(low) };
        let high = if high.is_empty() {
            Some(u64::MAX)
        } else {
            count(high)
        };
        return low.zip(high).ok_or(COUNT_HINT);
    }
    let (op, rest) = split_op(s);
    count(rest).map(|n| range_of(op, n)).ok_or(COUNT_HINT)
}

const SIZE_HINT: &str = "give bytes (>1GB, <100MB; KB, MB, GB, TB or KiB, MiB, GiB, TiB), rows as the Hub counts them (>1M, <10K; K, M, B, T = thousand to trillion), or a bucket such as 1K<n<10K";

/// What a size quantity counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quantity {
    Rows(u64),
    Bytes(u64),
}

fn quantity(s: &str) -> Option<Quantity> {
    let (digits, unit) = split_unit(s);
    let (scale, bytes) = match unit.as_str() {
        "" => (1, false),
        "k" => (1_000, false),
        "m" => (1_000_000, false),
        "b" => (1_000_000_000, false),
        "t" => (1_000_000_000_000, false),
        "bytes" | "byte" => (1, true),
        "kb" => (1_000, true),
        "mb" => (1_000_000, true),
        "gb" => (1_000_000_000, true),
        "tb" => (1_000_000_000_000, true),
        "kib" => (1 << 10, true),
        "mib" => (1 << 20, true),
        "gib" => (1 << 30, true),
        "tib" => (1 << 40, true),
        _ => return None,
    };
    let n = scaled(digits, scale)?;
    Some(if bytes {
        Quantity::Bytes(n)
    } else {
        Quantity::Rows(n)
    })
}

/// `size:` values: a bucket, or a comparison or range of bytes or rows.
pub(super) fn parse_size(s: &str) -> Result<SizeFilter, &'static str> {
    if let Ok(bucket) = s.parse::<SizeBucket>() {
        return Ok(SizeFilter::Bucket(bucket));
    }
    if let Some((low, high)) = s.split_once("..") {
        let low = if low.is_empty() {
            None
        } else {
            Some(quantity(low).ok_or(SIZE_HINT)?)
        };
        let high = if high.is_empty() {
            None
        } else {
            Some(quantity(high).ok_or(SIZE_HINT)?)
        };
        return match (low, high) {
            (None, None) => Err(SIZE_HINT),
            (Some(Quantity::Bytes(a)), None) => Ok(SizeFilter::Bytes(a, u64::MAX)),
            (None, Some(Quantity::Bytes(b))) => Ok(SizeFilter::Bytes(0, b)),
            (Some(Quantity::Bytes(a)), Some(Quantity::Bytes(b))) => Ok(SizeFilter::Bytes(a, b)),
            (Some(Quantity::Rows(a)), None) => Ok(SizeFilter::Rows(a, u64::MAX)),
            (None, Some(Quantity::Rows(b))) => Ok(SizeFilter::Rows(0, b)),
            (Some(Quantity::Rows(a)), Some(Quantity::Rows(b))) => Ok(SizeFilter::Rows(a, b)),
            _ => Err(SIZE_HINT),
        };
    }
    let (op, rest) = split_op(s);
    match quantity(rest).ok_or(SIZE_HINT)? {
        Quantity::Bytes(n) => {
            let (low, high) = range_of(op, n);
            Ok(SizeFilter::Bytes(low, high))
        }
        Quantity::Rows(n) => {
            let (low, high) = range_of(op, n);
            Ok(SizeFilter::Rows(low, high))
        }
    }
}

const TIME_HINT: &str = "give a date (2024, 2024-05, 2024-05-31) or an age (12h, 30d, 2w, 6m, 1y) with a comparison: <30d (newer), >1y (older), >2024-01-01, 2023-01..2023-06";

/// A calendar period `[start, end)`: a year, a month or a day.
fn period(s: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let parts: Vec<&str> = s.split('-').collect();
    let number = |p: &str, len: usize| {
        (p.len() == len && p.chars().all(|c| c.is_ascii_digit()))
            .then(|| p.parse::<u32>().ok())
            .flatten()
    };
    let year = i32::try_from(number(parts.first()?, 4)?).ok()?;
    let (start, months, days) = match parts[1..] {
        [] => (NaiveDate::from_ymd_opt(year, 1, 1)?, 12, 0),
        [month] => (NaiveDate::from_ymd_opt(year, number(month, 2)?, 1)?, 1, 0),
        [month, day] => (
            NaiveDate::from_ymd_opt(year, number(month, 2)?, number(day, 2)?)?,
            0,
            1,
        ),
        _ => return None,
    };
    let end = start
        .checked_add_months(Months::new(months))?
        .checked_add_days(chrono::Days::new(days))?;
    let at = |d: NaiveDate| {
        Utc.with_ymd_and_hms(d.year(), d.month(), d.day(), 0, 0, 0)
            .single()
    };
    Some((at(start)?, at(end)?))
}

/// An age in seconds: `12h`, `30d`, `2w`, `6m` (30-day months), `1y` (365 days).
fn age(s: &str) -> Option<u64> {
    let (digits, unit) = split_unit(s);
    let scale = match unit.as_str() {
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "m" => 30 * 86_400,
        "y" => 365 * 86_400,
        _ => return None,
    };
    scaled(digits, scale)
}

/// `updated:` and `created:` values.
pub(super) fn parse_time(s: &str) -> Result<TimeFilter, &'static str> {
    if let Some((low, high)) = s.split_once("..") {
        let after = if low.is_empty() {
            None
        } else {
            Some(TimePoint::At(period(low).ok_or(TIME_HINT)?.0))
        };
        let before = if high.is_empty() {
            None
        } else {
            Some(TimePoint::At(period(high).ok_or(TIME_HINT)?.1))
        };
        if after.is_none() && before.is_none() {
            return Err(TIME_HINT);
        }
        return Ok(TimeFilter { after, before });
    }
    let (op, rest) = split_op(s);
    if let Some(seconds) = age(rest) {
        let point = Some(TimePoint::Ago(seconds));
        // An age compares how old: younger than 30 days means after 30 days ago.
        return Ok(match op {
            Op::Lt | Op::Le | Op::Eq => TimeFilter {
                after: point,
                before: None,
            },
            Op::Gt | Op::Ge => TimeFilter {
                after: None,
                before: point,
            },
        });
    }
    let (start, end) = period(rest).ok_or(TIME_HINT)?;
    let (start, end) = (Some(TimePoint::At(start)), Some(TimePoint::At(end)));
    Ok(match op {
        Op::Eq => TimeFilter {
            after: start,
            before: end,
        },
        Op::Gt => TimeFilter {
            after: end,
            before: None,
        },
        Op::Ge => TimeFilter {
            after: start,
            before: None,
        },
        Op::Lt => TimeFilter {
            after: None,
            before: start,
        },
        Op::Le => TimeFilter {
            after: None,
            before: end,
        },
    })
}

const FLAG_HINT: &str = "give yes or no";

/// `gated:`, `followed:` and `downloaded:` values.
pub(super) fn parse_flag(s: &str) -> Result<bool, &'static str> {
    match s.to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" => Ok(true),
        "no" | "n" | "false" | "0" => Ok(false),
        _ => Err(FLAG_HINT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_comparisons_suffixes_and_ranges() {
        assert_eq!(parse_count(">1000"), Ok((1001, u64::MAX)));
        assert_eq!(parse_count(">=10k"), Ok((10_000, u64::MAX)));
        assert_eq!(parse_count("<50"), Ok((0, 49)));
        assert_eq!(parse_count("<=1.5m"), Ok((0, 1_500_000)));
        assert_eq!(parse_count("42"), Ok((42, 42)));
        assert_eq!(parse_count("=7"), Ok((7, 7)));
        assert_eq!(parse_count("100..1m"), Ok((100, 1_000_000)));
        assert_eq!(parse_count("..5"), Ok((0, 5)));
        assert_eq!(parse_count("10_000.."), Ok((10_000, u64::MAX)));
        // Nothing is below zero.
        let (low, high) = parse_count("<0").unwrap();
        assert!(low > high);
        for bad in [
            "",
            ">",
            "lots",
            "1.",
            ".5",
            "1x",
            "1.2.3",
            "99999999999999999999",
            "..",
            ">-1",
        ] {
            assert!(parse_count(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes_are_buckets_bytes_or_rows() {
        assert_eq!(
            parse_size("1k<n<10K"),
            Ok(SizeFilter::Bucket(SizeBucket::From1K))
        );
        assert_eq!(
            parse_size(">1GB"),
            Ok(SizeFilter::Bytes(1_000_000_001, u64::MAX))
        );
        assert_eq!(parse_size("<100MB"), Ok(SizeFilter::Bytes(0, 99_999_999)));
        assert_eq!(
            parse_size("<=2GiB"),
            Ok(SizeFilter::Bytes(0, 2 * 1024 * 1024 * 1024))
        );
        assert_eq!(parse_size(">1M"), Ok(SizeFilter::Rows(1_000_001, u64::MAX)));
        assert_eq!(
            parse_size("10K..1M"),
            Ok(SizeFilter::Rows(10_000, 1_000_000))
        );
        assert_eq!(
            parse_size("1.5B.."),
            Ok(SizeFilter::Rows(1_500_000_000, u64::MAX))
        );
        for bad in ["big", ">1GBB", "1MB..1M", "..", "n<2K", ">"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    fn at(s: &str) -> Option<TimePoint> {
        Some(TimePoint::At(
            DateTime::parse_from_rfc3339(s).unwrap().to_utc(),
        ))
    }

    #[test]
    fn dates_are_periods_and_ages_count_back_from_now() {
        let day = 86_400;
        assert_eq!(
            parse_time("<30d"),
            Ok(TimeFilter {
                after: Some(TimePoint::Ago(30 * day)),
                before: None
            })
        );
        assert_eq!(parse_time("30d"), parse_time("<30d"));
        assert_eq!(
            parse_time(">1y"),
            Ok(TimeFilter {
                after: None,
                before: Some(TimePoint::Ago(365 * day))
            })
        );
        assert_eq!(
            parse_time(">2024-01-01"),
            Ok(TimeFilter {
                after: at("2024-01-02T00:00:00Z"),
                before: None
            })
        );
        assert_eq!(
            parse_time(">=2024-01-01"),
            Ok(TimeFilter {
                after: at("2024-01-01T00:00:00Z"),
                before: None
            })
        );
        assert_eq!(
            parse_time("2024"),
            Ok(TimeFilter {
                after: at("2024-01-01T00:00:00Z"),
                before: at("2025-01-01T00:00:00Z")
            })
        );
        assert_eq!(
            parse_time("<=2023-12"),
            Ok(TimeFilter {
                after: None,
                before: at("2024-01-01T00:00:00Z")
            })
        );
        assert_eq!(
            parse_time("2023-01..2023-06"),
            Ok(TimeFilter {
                after: at("2023-01-01T00:00:00Z"),
                before: at("2023-07-01T00:00:00Z")
            })
        );
        for bad in [
            "soon",
            "2024-13",
            "2024-02-30",
            "24-01-01",
            "30x",
            "..",
            "2024-1-1",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn flags_are_yes_or_no() {
        assert_eq!(parse_flag("YES"), Ok(true));
        assert_eq!(parse_flag("false"), Ok(false));
        assert!(parse_flag("maybe").is_err());
    }
}
