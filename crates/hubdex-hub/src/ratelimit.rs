//! The Hub's rate-limit headers as values a caller can pace itself by, and the notice a
//! caller gets when the client is about to wait before retrying.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// The bucket hubdex's requests count against: every `/api/…` request.
const API_BUCKET: &str = "api";

/// What the Hub said about its rate limit on one response (IETF draft `RateLimit` and
/// `RateLimit-Policy` headers, which the Hub sends on every response):
/// `RateLimit: "api";r=412;t=55` and `RateLimit-Policy: "fixed window";"api";q=500;w=300`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests left in the current window (`r`).
    pub remaining: u64,
    /// Time until the window resets (`t`).
    pub reset: Duration,
    /// Requests allowed per window (`q` of the policy), when the policy was sent.
    pub quota: Option<u64>,
    /// The window's length (`w` of the policy), when the policy was sent.
    pub window: Option<Duration>,
}

impl RateLimit {
    /// Reads the `api` bucket (or, when no item names it, the one with the fewest requests
    /// left) from a response's headers; `None` when there is no usable `RateLimit` header.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<RateLimit> {
        let joined = |name: &str| {
            headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join(",")
        };
        let (limit_header, policy_header) = (joined("ratelimit"), joined("ratelimit-policy"));
        let limits = items(&limit_header);
        let limit = pick(&limits, |item| {
            item.param("r")
                .zip(item.param("t"))
                .map(|(r, t)| (r, Duration::from_secs(t)))
        })?;
        let policies = items(&policy_header);
        let policy = pick(&policies, |item| {
            item.param("q")
                .zip(item.param("w"))
                .map(|(q, w)| (q, Duration::from_secs(w)))
        });
        Some(RateLimit {
            remaining: limit.0,
            reset: limit.1,
            quota: policy.map(|p| p.0),
            window: policy.map(|p| p.1),
        })
    }
}

/// One comma-separated item of a structured header: its quoted names and `key=value`s.
struct Item<'a> {
    names: Vec<&'a str>,
    params: Vec<(&'a str, &'a str)>,
}

impl Item<'_> {
    /// A whole-number parameter.
    fn param(&self, key: &str) -> Option<u64> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| v.parse().ok())
    }
}

fn items(value: &str) -> Vec<Item<'_>> {
    value
        .split(',')
        .map(|item| {
            let mut names = Vec::new();
            let mut params = Vec::new();
            for part in item.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                match part.split_once('=') {
                    Some((k, v)) => params.push((k.trim(), v.trim().trim_matches('"'))),
                    None => names.push(part.trim_matches('"')),
                }
            }
            Item { names, params }
        })
        .collect()
}

/// The value of the `api` item, else the smallest value of any item (the tightest limit).
fn pick<T: Ord + Copy>(items: &[Item<'_>], value: impl Fn(&Item<'_>) -> Option<T>) -> Option<T> {
    let api = items
        .iter()
        .filter(|i| i.names.iter().any(|n| n.eq_ignore_ascii_case(API_BUCKET)))
        .find_map(&value);
    api.or_else(|| items.iter().filter_map(&value).min())
}

/// A wait the client is about to make before retrying a request, for callers that show
/// progress (see [`crate::HubClient::with_retry_observer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryWait {
    /// The URL that failed and will be fetched again.
    pub url: String,
    /// Which retry this wait precedes (1 for the first).
    pub retry: u32,
    /// How many retries the policy allows.
    pub max_retries: u32,
    /// How long the client waits.
    pub wait: Duration,
    /// True when the Hub refused the request for its rate limit (429).
    pub rate_limited: bool,
    /// What went wrong, in words.
    pub reason: String,
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
    fn reads_the_hubs_headers() {
        let h = headers(&[
            ("ratelimit", r#""api";r=412;t=55"#),
            ("ratelimit-policy", r#""fixed window";"api";q=500;w=300"#),
        ]);
        assert_eq!(
            RateLimit::from_headers(&h),
            Some(RateLimit {
                remaining: 412,
                reset: Duration::from_secs(55),
                quota: Some(500),
                window: Some(Duration::from_secs(300)),
            })
        );
    }

    #[test]
    fn prefers_the_api_bucket_and_else_the_tightest() {
        let h = headers(&[
            ("ratelimit", r#""pages";r=3;t=9, "api";r=80;t=20"#),
            (
                "ratelimit-policy",
                r#""fixed window";"pages";q=100;w=300, "fixed window";"api";q=1000;w=300"#,
            ),
        ]);
        let rl = RateLimit::from_headers(&h).unwrap();
        assert_eq!((rl.remaining, rl.quota), (80, Some(1000)));
        let other = headers(&[("ratelimit", r#""x";r=7;t=9, "y";r=2;t=30"#)]);
        let rl = RateLimit::from_headers(&other).unwrap();
        assert_eq!(rl.remaining, 2);
        assert_eq!((rl.quota, rl.window), (None, None));
    }

    #[test]
    fn missing_or_garbled_headers_give_nothing() {
        assert_eq!(RateLimit::from_headers(&headers(&[])), None);
        let garbled = headers(&[("ratelimit", r#""api";r=lots;t=5"#)]);
        assert_eq!(RateLimit::from_headers(&garbled), None);
        let no_reset = headers(&[("ratelimit", r#""api";r=5"#)]);
        assert_eq!(RateLimit::from_headers(&no_reset), None);
    }
}
