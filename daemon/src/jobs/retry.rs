//! Waits between tries of a file: exponential growth up to `jobs.retry_delay`, with jitter,
//! and a server's `Retry-After` honoured instead.

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

/// The longest wait a server may ask for; beyond it we wait this long.
const MAX_SERVER_WAIT: Duration = Duration::from_secs(300);

/// How many halvings below the longest wait the first wait is (30 s → 1.9 s first).
const STEPS: u32 = 4;

/// The wait before retry number `retry` (0-based): `max_delay / 2^(4 - retry)`, doubling up
/// to `max_delay`, then jittered to between half and all of that so parallel files do not
/// retry in lock-step. `server` (a `Retry-After`) wins when given.
pub(crate) fn delay(retry: u32, max_delay: Duration, server: Option<Duration>) -> Duration {
    if let Some(wait) = server {
        return wait.min(MAX_SERVER_WAIT);
    }
    let nominal = max_delay / 2u32.pow(STEPS - retry.min(STEPS));
    nominal / 2 + nominal.mul_f64(random_fraction() / 2.0)
}

/// A number in `[0, 1)`, different on each call; good enough for jitter.
fn random_fraction() -> f64 {
    let bits = RandomState::new().hash_one(Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_configured_delay_with_jitter() {
        let max = Duration::from_secs(30);
        for retry in 0..10 {
            let nominal = max / 2u32.pow(STEPS - retry.min(STEPS));
            let d = delay(retry, max, None);
            assert!(d >= nominal / 2 && d <= nominal, "retry {retry}: {d:?}");
        }
        assert!(delay(9, max, None) >= Duration::from_secs(15));
        assert!(delay(0, max, None) <= Duration::from_millis(1875));
    }

    #[test]
    fn retry_after_is_honoured_within_reason() {
        let max = Duration::from_millis(10);
        assert_eq!(
            delay(0, max, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            delay(0, max, Some(Duration::from_secs(3600))),
            MAX_SERVER_WAIT
        );
    }
}
