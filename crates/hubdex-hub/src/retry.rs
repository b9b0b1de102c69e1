//! When to retry, and how long to wait: retried statuses, the Hub's rate-limit headers, jitter.

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// The longest wait a server may ask for before a retry; beyond this we wait this long.
pub(crate) const MAX_SERVER_WAIT: Duration = Duration::from_secs(300);

/// Statuses `huggingface_hub` retries: timeouts, rate limits and passing server faults.
pub(crate) fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// The wait a failed response asks for, if any, capped at [`MAX_SERVER_WAIT`].
///
/// On 429 this is `t + 1` seconds from a `RateLimit` header whose quota is spent (`r=0`),
/// else an integer `Retry-After`; a 503 may carry `Retry-After` too.
pub(crate) fn server_wait(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",")
    };
    let wait = match status {
        StatusCode::TOO_MANY_REQUESTS => rate_limit_reset(&header("ratelimit"))
            .map(|t| t + 1)
            .or_else(|| retry_after(&header("retry-after"))),
        StatusCode::SERVICE_UNAVAILABLE => retry_after(&header("retry-after")),
        _ => None,
    }?;
    Some(Duration::from_secs(wait).min(MAX_SERVER_WAIT))
}

/// Seconds until the quota resets, from an IETF draft `RateLimit` header such as
/// `"api";r=0;t=55`, when some listed quota has no requests left.
pub(crate) fn rate_limit_reset(value: &str) -> Option<u64> {
    value
        .split(',')
        .filter_map(|item| {
            let mut remaining = None;
            let mut reset = None;
            for param in item.split(';').skip(1) {
                let Some((key, val)) = param.split_once('=') else {
                    continue;
                };
                let val = val.trim().trim_matches('"');
                match key.trim().to_ascii_lowercase().as_str() {
                    "r" => remaining = val.parse::<u64>().ok(),
                    "t" => reset = val.parse::<u64>().ok(),
                    _ => {}
                }
            }
            (remaining == Some(0)).then_some(reset).flatten()
        })
        .max()
}

/// Seconds from a `Retry-After` header given as an integer (HTTP dates are ignored).
pub(crate) fn retry_after(value: &str) -> Option<u64> {
    value.trim().parse().ok()
}

/// `delay` plus up to 10 % at random, so many clients do not retry in lock-step.
pub(crate) fn with_jitter(delay: Duration) -> Duration {
    let random = RandomState::new().hash_one(Instant::now());
    let per_mille = u32::try_from(random % 101).unwrap_or(0);
    delay + delay * per_mille / 1000
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn ratelimit_header_with_no_requests_left_gives_the_reset_time() {
        assert_eq!(rate_limit_reset(r#""api";r=0;t=55"#), Some(55));
        assert_eq!(rate_limit_reset(r#""api"; t=12 ; r=0"#), Some(12));
        assert_eq!(
            rate_limit_reset(r#""pages";r=94;t=53, "api";r=0;t=7"#),
            Some(7)
        );
    }

    #[test]
    fn ratelimit_header_with_quota_left_or_garbage_gives_nothing() {
        assert_eq!(rate_limit_reset(r#""api";r=3;t=55"#), None);
        assert_eq!(rate_limit_reset(r#""api";r=0"#), None);
        assert_eq!(rate_limit_reset("nonsense"), None);
        assert_eq!(rate_limit_reset(""), None);
        assert_eq!(rate_limit_reset(r#""api";r=0;t=soon"#), None);
    }

    #[test]
    fn retry_after_accepts_only_whole_seconds() {
        assert_eq!(retry_after("120"), Some(120));
        assert_eq!(retry_after(" 3 "), Some(3));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(retry_after("-1"), None);
    }

    #[test]
    fn a_429_waits_for_the_rate_limit_window_plus_one_second() {
        let h = headers(&[("ratelimit", r#""api";r=0;t=55"#), ("retry-after", "9")]);
        assert_eq!(
            server_wait(StatusCode::TOO_MANY_REQUESTS, &h),
            Some(Duration::from_secs(56))
        );
    }

    #[test]
    fn a_429_without_ratelimit_honours_retry_after() {
        let h = headers(&[("ratelimit", r#""api";r=5;t=55"#), ("retry-after", "9")]);
        assert_eq!(
            server_wait(StatusCode::TOO_MANY_REQUESTS, &h),
            Some(Duration::from_secs(9))
        );
        assert_eq!(
            server_wait(StatusCode::TOO_MANY_REQUESTS, &headers(&[])),
            None
        );
    }

    #[test]
    fn server_waits_are_capped_and_only_read_on_429_and_503() {
        let h = headers(&[("retry-after", "86400")]);
        assert_eq!(
            server_wait(StatusCode::TOO_MANY_REQUESTS, &h),
            Some(MAX_SERVER_WAIT)
        );
        assert_eq!(
            server_wait(
                StatusCode::SERVICE_UNAVAILABLE,
                &headers(&[("retry-after", "4")])
            ),
            Some(Duration::from_secs(4))
        );
        assert_eq!(server_wait(StatusCode::BAD_GATEWAY, &h), None);
    }

    #[test]
    fn retries_the_statuses_huggingface_hub_retries() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [200, 400, 401, 403, 404, 409, 501] {
            assert!(!is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }

    #[test]
    fn jitter_adds_at_most_ten_percent() {
        let base = Duration::from_secs(8);
        for _ in 0..100 {
            let d = with_jitter(base);
            assert!(d >= base && d <= base + base / 10, "{d:?}");
        }
    }
}
