//! How fast a walk may go: the Hub's rate-limit headers decide, and an anonymous walk keeps
//! part of the quota for the user's other tools. Also the walk's ETA.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hubdex_hub::RateLimit;

/// The Hub's anonymous quota of `api` requests per window (hub-api.md §0).
const ANONYMOUS_QUOTA: u64 = 500;
/// The Hub's rate-limit window.
const WINDOW: Duration = Duration::from_secs(300);
/// The share of an anonymous quota a paced walk leaves unused (one fifth), so downloads and
/// other tools on the same address keep working while hubdex syncs.
const RESERVE_DIVISOR: u64 = 5;

/// Decides how long to wait before the next listing request.
///
/// * A response saying the quota is spent (`r=0`) means waiting for the window to reset
///   (`t + 1` seconds), always.
/// * An anonymous walk with pacing on also stops at a reserve of a fifth of the quota
///   (`q` from `RateLimit-Policy`, else the Hub's 500), which keeps a full anonymous walk
///   under 400 requests per 5 minutes.
/// * When the Hub sends no rate-limit headers, an anonymous paced walk counts its own
///   requests against the anonymous quota the same way.
#[derive(Debug)]
pub(crate) struct Pacer {
    /// Keep the reserve: anonymous, with pacing on.
    reserve: bool,
    /// Our own count when the Hub sends no headers: when the window began, requests in it.
    window: (Instant, u64),
}

impl Pacer {
    pub fn new(anonymous: bool, pacing: bool, now: Instant) -> Pacer {
        Pacer {
            reserve: anonymous && pacing,
            window: (now, 0),
        }
    }

    /// The wait before the next request, given the last response's rate limit; `None` means
    /// go on at once.
    pub fn wait(&mut self, limit: Option<&RateLimit>, now: Instant) -> Option<Duration> {
        if now.duration_since(self.window.0) >= WINDOW {
            self.window = (now, 0);
        }
        self.window.1 += 1;
        match limit {
            Some(limit) => {
                let reserve = if self.reserve {
                    limit.quota.unwrap_or(ANONYMOUS_QUOTA) / RESERVE_DIVISOR
                } else {
                    0
                };
                (limit.remaining <= reserve).then(|| limit.reset + Duration::from_secs(1))
            }
            None if self.reserve => {
                let budget = ANONYMOUS_QUOTA - ANONYMOUS_QUOTA / RESERVE_DIVISOR;
                (self.window.1 >= budget).then(|| {
                    let end = self.window.0 + WINDOW;
                    self.window = (end, 0);
                    end.saturating_duration_since(now)
                })
            }
            None => None,
        }
    }
}

/// Seconds left in a walk of the whole catalog: `expected` records at the rate seen since
/// this session of the walk began (`records_now - records_then` in `elapsed`).
pub(crate) fn eta_full(
    expected: Option<u64>,
    records_now: u64,
    records_then: u64,
    elapsed: Duration,
) -> Option<u64> {
    let expected = expected?;
    let done = records_now.checked_sub(records_then).filter(|d| *d > 0)?;
    let left = expected.checked_sub(records_now).filter(|l| *l > 0)?;
    let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
    Some((left as f64 / rate).ceil() as u64)
}

/// Seconds left in an incremental walk, by how far its modification times have come from the
/// newest record towards the watermark, at the pace of this session (which began at
/// `session_start`, the walk then being at `then`).
pub(crate) fn eta_incremental(
    newest: DateTime<Utc>,
    stop_at: DateTime<Utc>,
    then: DateTime<Utc>,
    now_at: DateTime<Utc>,
    elapsed: Duration,
) -> Option<u64> {
    let span = (newest - stop_at).num_milliseconds();
    let covered = (then - now_at).num_milliseconds();
    let left = (now_at - stop_at).num_milliseconds();
    if span <= 0 || covered <= 0 || left <= 0 {
        return None;
    }
    let per_ms = elapsed.as_secs_f64() / covered as f64;
    Some((left as f64 * per_ms).ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(remaining: u64, reset: u64, quota: Option<u64>) -> RateLimit {
        RateLimit {
            remaining,
            reset: Duration::from_secs(reset),
            quota,
            window: quota.map(|_| WINDOW),
        }
    }

    #[test]
    fn a_spent_quota_always_waits_for_the_window() {
        let now = Instant::now();
        for (anonymous, pacing) in [(true, true), (false, true), (false, false), (true, false)] {
            let mut p = Pacer::new(anonymous, pacing, now);
            assert_eq!(
                p.wait(Some(&limit(0, 42, Some(1000))), now),
                Some(Duration::from_secs(43))
            );
        }
    }

    #[test]
    fn anonymous_walks_keep_a_fifth_of_the_quota() {
        let now = Instant::now();
        let mut p = Pacer::new(true, true, now);
        assert_eq!(p.wait(Some(&limit(101, 60, Some(500))), now), None);
        assert_eq!(
            p.wait(Some(&limit(100, 60, Some(500))), now),
            Some(Duration::from_secs(61))
        );
        assert_eq!(
            p.wait(Some(&limit(100, 60, None)), now),
            Some(Duration::from_secs(61)),
            "the Hub's anonymous quota when no policy is sent"
        );
        let mut token = Pacer::new(false, true, now);
        assert_eq!(token.wait(Some(&limit(1, 60, Some(1000))), now), None);
        let mut unpaced = Pacer::new(true, false, now);
        assert_eq!(unpaced.wait(Some(&limit(5, 60, Some(500))), now), None);
    }

    #[test]
    fn without_headers_an_anonymous_walk_counts_its_own_requests() {
        let start = Instant::now();
        let mut p = Pacer::new(true, true, start);
        for _ in 0..399 {
            assert_eq!(p.wait(None, start), None);
        }
        let later = start + Duration::from_secs(100);
        assert_eq!(p.wait(None, later), Some(Duration::from_secs(200)));
        assert_eq!(p.wait(None, start + WINDOW), None, "a new window");
        let mut token = Pacer::new(false, true, start);
        for _ in 0..1000 {
            assert_eq!(token.wait(None, start), None);
        }
    }

    #[test]
    fn etas_follow_the_rate_of_this_session() {
        assert_eq!(
            eta_full(Some(1000), 300, 100, Duration::from_secs(10)),
            Some(35)
        );
        assert_eq!(eta_full(None, 300, 100, Duration::from_secs(10)), None);
        assert_eq!(eta_full(Some(200), 300, 100, Duration::from_secs(10)), None);
        assert_eq!(eta_full(Some(900), 100, 100, Duration::from_secs(10)), None);
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            eta_incremental(
                t("2026-01-10T00:00:00Z"),
                t("2026-01-01T00:00:00Z"),
                t("2026-01-10T00:00:00Z"),
                t("2026-01-07T00:00:00Z"),
                Duration::from_secs(30),
            ),
            Some(60)
        );
    }
}
