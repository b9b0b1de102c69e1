//! Rate limits the way the Hub applies them (hub-api.md §0): `api` requests counted per
//! client over fixed windows aligned to the clock, reported on every response with the IETF
//! draft `RateLimit` and `RateLimit-Policy` headers, and, when enforced, refused with 429 and
//! `Retry-After` once the window's quota is spent.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The Hub's window, in seconds.
const HUB_WINDOW_SECONDS: u64 = 300;
/// The Hub's `api` quotas per window: anonymous (per client) and with a token (a free user).
const QUOTA_ANONYMOUS: u64 = 500;
const QUOTA_TOKEN: u64 = 1000;

/// How the fake limits request rates; set at start (`--rate-limit`) or at any time with
/// `POST /_fakehub/rate-limit` and [`crate::RunningFakeHub::set_rate_limits`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum RateLimits {
    /// Report the Hub's quotas (500 `api` requests per 5 minutes anonymously, 1,000 per
    /// token) and count requests, but never refuse one. A client that honours the headers
    /// still waits when they say the quota is spent.
    #[default]
    Reported,
    /// Count requests per client and refuse those beyond `quota` per window with 429,
    /// `RateLimit: "api";r=0;t=T` and `Retry-After: T`.
    Enforced {
        /// `api` requests allowed per window and client (anonymous or per token alike).
        quota: u64,
        /// The window's length in seconds (the Hub's is 300).
        #[serde(default = "hub_window")]
        window_secs: u64,
    },
    /// No limit and no rate-limit headers: a Hub without limits, for benchmarks.
    Off,
}

fn hub_window() -> u64 {
    HUB_WINDOW_SECONDS
}

/// The two header values a response carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Headers {
    /// `RateLimit`, e.g. `"api";r=499;t=55`.
    pub ratelimit: String,
    /// `RateLimit-Policy`, e.g. `"fixed window";"api";q=500;w=300`.
    pub policy: String,
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Serve it, with these headers (none when limits are off).
    Serve(Option<Headers>),
    /// Refuse it with 429; the client may retry after `retry_after` seconds.
    Refuse {
        /// The headers of the refusal.
        headers: Headers,
        /// Seconds until the window resets.
        retry_after: u64,
    },
}

struct Window {
    number: u64,
    used: u64,
}

/// The counting state: one window per client (a hash of its token; `None` when anonymous).
#[derive(Default)]
pub(crate) struct Limiter {
    limits: RateLimits,
    windows: HashMap<Option<u64>, Window>,
    /// A window (its length and number) spent for every client at once.
    exhausted: Option<(u64, u64)>,
}

impl Limiter {
    pub fn new(limits: RateLimits) -> Limiter {
        Limiter {
            limits,
            ..Limiter::default()
        }
    }

    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// Changes the limits and forgets every count.
    pub fn set(&mut self, limits: RateLimits) {
        *self = Limiter::new(limits);
    }

    /// Spends the current window for every client, as if another client on the same address
    /// had used the quota up: until it resets, requests are refused (or, when limits are only
    /// reported, reported as having none left).
    pub fn exhaust(&mut self, now_secs: u64) {
        let window = self.window();
        self.exhausted = Some((window, now_secs / window));
    }

    fn window(&self) -> u64 {
        match self.limits {
            RateLimits::Enforced { window_secs, .. } => window_secs.max(1),
            RateLimits::Reported | RateLimits::Off => HUB_WINDOW_SECONDS,
        }
    }

    /// Decides on one request from `client` at `now_secs`; `counts` is false for requests
    /// outside the `api` bucket, which are reported but neither counted nor refused.
    pub fn check(&mut self, client: Option<u64>, counts: bool, now_secs: u64) -> Verdict {
        let (quota, enforce) = match self.limits {
            RateLimits::Off => return Verdict::Serve(None),
            RateLimits::Reported if client.is_some() => (QUOTA_TOKEN, false),
            RateLimits::Reported => (QUOTA_ANONYMOUS, false),
            RateLimits::Enforced { quota, .. } => (quota, true),
        };
        let window = self.window();
        let number = now_secs / window;
        let reset = window - now_secs % window;
        let exhausted = self.exhausted == Some((window, number));
        let entry = self
            .windows
            .entry(client)
            .or_insert(Window { number, used: 0 });
        if entry.number != number {
            *entry = Window { number, used: 0 };
        }
        let headers = |remaining: u64| Headers {
            ratelimit: format!("\"api\";r={remaining};t={reset}"),
            policy: format!("\"fixed window\";\"api\";q={quota};w={window}"),
        };
        if enforce && counts && (exhausted || entry.used >= quota) {
            return Verdict::Refuse {
                headers: headers(0),
                retry_after: reset,
            };
        }
        if counts {
            entry.used += 1;
        }
        let remaining = if exhausted {
            0
        } else {
            quota.saturating_sub(entry.used)
        };
        Verdict::Serve(Some(headers(remaining)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remaining(v: &Verdict) -> Option<String> {
        match v {
            Verdict::Serve(Some(h)) => Some(h.ratelimit.clone()),
            _ => None,
        }
    }

    #[test]
    fn reported_limits_count_but_never_refuse() {
        let mut l = Limiter::new(RateLimits::Reported);
        for _ in 0..600 {
            assert!(matches!(
                l.check(None, true, 1_000),
                Verdict::Serve(Some(_))
            ));
        }
        assert_eq!(
            remaining(&l.check(None, true, 1_000)).as_deref(),
            Some("\"api\";r=0;t=200")
        );
        let token = l.check(Some(7), true, 1_000);
        assert_eq!(remaining(&token).as_deref(), Some("\"api\";r=999;t=200"));
        assert_eq!(
            remaining(&l.check(None, false, 1_199)).as_deref(),
            Some("\"api\";r=0;t=1"),
            "requests outside the api bucket are not counted"
        );
        assert_eq!(
            remaining(&l.check(None, true, 1_500)).as_deref(),
            Some("\"api\";r=499;t=300"),
            "a new window starts afresh"
        );
    }

    #[test]
    fn enforced_limits_refuse_with_the_time_to_reset() {
        let mut l = Limiter::new(RateLimits::Enforced {
            quota: 2,
            window_secs: 10,
        });
        assert_eq!(
            remaining(&l.check(None, true, 21)).as_deref(),
            Some("\"api\";r=1;t=9")
        );
        assert!(matches!(l.check(None, true, 22), Verdict::Serve(_)));
        match l.check(None, true, 23) {
            Verdict::Refuse {
                headers,
                retry_after,
            } => {
                assert_eq!(retry_after, 7);
                assert_eq!(headers.ratelimit, "\"api\";r=0;t=7");
                assert_eq!(headers.policy, "\"fixed window\";\"api\";q=2;w=10");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(
            matches!(l.check(Some(1), true, 23), Verdict::Serve(_)),
            "per client"
        );
        assert!(
            matches!(l.check(None, true, 30), Verdict::Serve(_)),
            "next window"
        );
    }

    #[test]
    fn an_exhausted_window_refuses_everyone_until_it_resets() {
        let mut l = Limiter::new(RateLimits::Enforced {
            quota: 100,
            window_secs: 5,
        });
        l.exhaust(11);
        assert!(matches!(
            l.check(None, true, 12),
            Verdict::Refuse { retry_after: 3, .. }
        ));
        assert!(matches!(l.check(Some(3), true, 14), Verdict::Refuse { .. }));
        assert!(matches!(l.check(None, true, 15), Verdict::Serve(_)));
    }

    #[test]
    fn off_sends_no_headers_and_settings_parse_from_json() {
        let mut l = Limiter::new(RateLimits::Off);
        assert_eq!(l.check(None, true, 1), Verdict::Serve(None));
        let parsed: RateLimits = serde_json::from_str(r#"{"mode":"enforced","quota":5}"#).unwrap();
        assert_eq!(
            parsed,
            RateLimits::Enforced {
                quota: 5,
                window_secs: 300
            }
        );
        let off: RateLimits = serde_json::from_str(r#"{"mode":"off"}"#).unwrap();
        assert_eq!(off, RateLimits::Off);
    }
}
