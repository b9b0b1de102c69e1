//! The `[jobs]` table of `config.toml`: queue sizes, retries and time limits.

use std::time::Duration;

use serde::Deserialize;

/// How jobs run. Every key is optional; the defaults suit a desktop on a home connection.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Download jobs running at once.
    pub download_jobs: usize,
    /// Files one download or update job transfers at once.
    pub files_per_job: usize,
    /// Update and delete jobs running at once.
    pub maintenance_jobs: usize,
    /// Retries of one file after its first try fails (network errors, stalls, 429/5xx,
    /// failed verification).
    pub retries: u32,
    /// The longest wait between two tries of a file; waits grow exponentially up to it, with
    /// jitter. A `Retry-After` from the Hub is honoured instead.
    #[serde(with = "humantime_serde")]
    pub retry_delay: Duration,
    /// A job running longer than this fails.
    #[serde(with = "humantime_serde")]
    pub job_timeout: Duration,
    /// A transfer that receives no byte for this long is aborted and resumed from where it
    /// stopped.
    #[serde(with = "humantime_serde")]
    pub stall_timeout: Duration,
    /// How long to wait for another program's lock on a blob being written.
    #[serde(with = "humantime_serde")]
    pub lock_timeout: Duration,
    /// Finished jobs remembered; older ones are forgotten at start.
    pub keep_finished: usize,
    /// Connections one large file is fetched over at once, as byte ranges; 1 fetches every
    /// file over a single connection.
    pub range_connections: usize,
    /// Files with at least this many bytes left to fetch use `range_connections`.
    pub range_min_size: u64,
    /// Such a file starts over one connection and widens to `range_connections` only when
    /// that connection brings less than this many MiB per second over its first second
    /// (a CDN capping each connection); 0 widens at once. On a fast link one connection is
    /// cheaper: parallel ranges must read the file back to checksum it in order.
    pub range_below_mib_per_sec: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            download_jobs: 2,
            files_per_job: 8,
            maintenance_jobs: 1,
            retries: 5,
            retry_delay: Duration::from_secs(30),
            job_timeout: Duration::from_secs(10 * 3600),
            stall_timeout: Duration::from_secs(60),
            lock_timeout: Duration::from_secs(60),
            keep_finished: 1000,
            range_connections: 4,
            range_min_size: 256 << 20,
            range_below_mib_per_sec: 100,
        }
    }
}

impl JobsConfig {
    /// Checks the values make sense together; the message names the key to fix.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=16).contains(&self.download_jobs) {
            return Err("jobs.download_jobs must be between 1 and 16".into());
        }
        if !(1..=64).contains(&self.files_per_job) {
            return Err("jobs.files_per_job must be between 1 and 64".into());
        }
        if !(1..=16).contains(&self.maintenance_jobs) {
            return Err("jobs.maintenance_jobs must be between 1 and 16".into());
        }
        if !(1..=16).contains(&self.range_connections) {
            return Err("jobs.range_connections must be between 1 and 16".into());
        }
        if self.retries > 100 {
            return Err("jobs.retries must be at most 100".into());
        }
        for (key, value) in [
            ("jobs.job_timeout", self.job_timeout),
            ("jobs.stall_timeout", self.stall_timeout),
            ("jobs.lock_timeout", self.lock_timeout),
        ] {
            if value.is_zero() {
                return Err(format!("{key} must be more than 0s"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = JobsConfig::default();
        assert_eq!((c.download_jobs, c.files_per_job, c.retries), (2, 8, 5));
        assert_eq!(c.retry_delay, Duration::from_secs(30));
        assert_eq!(c.job_timeout, Duration::from_secs(36_000));
        assert_eq!(c.stall_timeout, Duration::from_secs(60));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn bad_values_name_their_key() {
        let c = JobsConfig {
            files_per_job: 0,
            ..JobsConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("jobs.files_per_job"));
        let c = JobsConfig {
            stall_timeout: Duration::ZERO,
            ..JobsConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("jobs.stall_timeout"));
    }
}
