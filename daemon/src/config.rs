//! `config.toml`: the daemon's settings, every one optional.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::DaemonError;
use crate::jobs::JobsConfig;

/// The HTTP address used when neither `--http`, `HUBDEX_HTTP` nor the config names one.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8719";

/// Settings read from `config.toml`. Unknown keys are refused so a typo does not pass silently.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// How often the catalog is synced from the Hub (e.g. `"1h"`, `"30m"`).
    #[serde(with = "humantime_serde")]
    pub sync_interval: Duration,
    /// Whether to sync as soon as the daemon starts.
    pub sync_on_start: bool,
    /// The HTTP address; `"off"` disables the HTTP server.
    pub http: String,
    /// Records per catalog page asked of the Hub.
    pub page_size: usize,
    /// sled's page cache, in MiB.
    pub cache_mib: u64,
    /// The longest wait between retries while the Hub is unreachable.
    #[serde(with = "humantime_serde")]
    pub offline_retry_max: Duration,
    /// The first wait after a failed sync; it doubles up to `offline_retry_max`.
    #[serde(with = "humantime_serde")]
    pub offline_retry_min: Duration,
    /// How often a sync walks the whole catalog to remove the datasets the Hub deleted
    /// (mark and sweep); the syncs in between fetch only what changed.
    #[serde(with = "humantime_serde")]
    pub sweep_interval: Duration,
    /// Whether an anonymous sync leaves a fifth of the Hub's rate-limit quota for the user's
    /// other tools (a spent quota is always waited out, paced or not).
    pub sync_pacing: bool,
    /// Retries of a failed Hub request during a sync (429, 5xx, network errors) before the
    /// sync gives up; it then continues from its last stored page at the next attempt.
    pub hub_retries: u32,
    /// The longest wait between two tries of a Hub request during a sync; waits start at an
    /// eighth of it and double. A `Retry-After` or rate-limit reset from the Hub wins.
    #[serde(with = "humantime_serde")]
    pub hub_retry_delay: Duration,
    /// The secret the Hub's webhook sends as `X-Webhook-Secret`; when set, `POST /webhook`
    /// refuses deliveries without it.
    pub webhook_secret: Option<String>,
    /// Whether an empty catalog starts from the embedded snapshot of the public Hub; turn it
    /// off for a private Hub or a mirror whose catalog the snapshot does not describe.
    pub import_snapshot: bool,
    /// Download, update and delete jobs (the `[jobs]` table).
    pub jobs: JobsConfig,
    /// The dataset-viewer API the rows preview asks (`HUBDEX_VIEWER_ENDPOINT` wins). Unset,
    /// it is `https://datasets-server.huggingface.co` when the Hub is huggingface.co, and no
    /// viewer is asked for another Hub.
    pub viewer_endpoint: Option<String>,
    /// The TUI's palette, `dark` or `light`; read by the `hubdex` client, not the daemon.
    pub theme: Option<String>,
    /// The TUI's key bindings (the `[keys]` table); read by the `hubdex` client.
    pub keys: toml::Table,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            sync_interval: Duration::from_secs(3600),
            sync_on_start: true,
            http: DEFAULT_HTTP.to_string(),
            page_size: 1000,
            cache_mib: 64,
            offline_retry_max: Duration::from_secs(600),
            offline_retry_min: Duration::from_secs(15),
            sweep_interval: Duration::from_secs(24 * 3600),
            sync_pacing: true,
            hub_retries: 5,
            hub_retry_delay: Duration::from_secs(8),
            webhook_secret: None,
            import_snapshot: true,
            jobs: JobsConfig::default(),
            viewer_endpoint: None,
            theme: None,
            keys: toml::Table::new(),
        }
    }
}

impl Config {
    /// Reads `path`; a missing file means all defaults.
    pub fn load(path: &Path) -> Result<Config, DaemonError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text).map_err(|message| DaemonError::Config {
                path: path.to_path_buf(),
                message,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(DaemonError::Config {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        }
    }

    fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        if config.sync_interval < Duration::from_secs(60) {
            return Err("sync_interval must be at least 1m".into());
        }
        if !(1..=1000).contains(&config.page_size) {
            return Err("page_size must be between 1 and 1000".into());
        }
        if config.sweep_interval < Duration::from_secs(60) {
            return Err("sweep_interval must be at least 1m".into());
        }
        if config.offline_retry_min.is_zero() || config.offline_retry_min > config.offline_retry_max
        {
            return Err(
                "offline_retry_min must be more than 0s and at most offline_retry_max".into(),
            );
        }
        if config.hub_retries > 100 {
            return Err("hub_retries must be at most 100".into());
        }
        if config.hub_retry_delay.is_zero() {
            return Err("hub_retry_delay must be more than 0s".into());
        }
        if config
            .webhook_secret
            .as_deref()
            .is_some_and(|s| s.is_empty() || !s.is_ascii())
        {
            return Err(
                "webhook_secret must be non-empty ASCII (the Hub sends it in a header); remove the key to accept webhooks without a secret"
                    .into(),
            );
        }
        if config
            .viewer_endpoint
            .as_deref()
            .is_some_and(|e| !(e.starts_with("http://") || e.starts_with("https://")))
        {
            return Err(
                "viewer_endpoint must be an http:// or https:// URL, e.g. \"https://datasets-server.huggingface.co\"".into(),
            );
        }
        config.jobs.validate()?;
        Ok(config)
    }

    /// How the syncer's Hub requests are retried.
    pub fn hub_retry_policy(&self) -> hubdex_hub::RetryPolicy {
        hubdex_hub::RetryPolicy {
            max_retries: self.hub_retries,
            base_delay: self.hub_retry_delay / 8,
            max_delay: self.hub_retry_delay,
        }
    }

    /// The HTTP address to listen on: `--http`, else `HUBDEX_HTTP`, else the config.
    /// `None` when HTTP is turned off with `off`.
    pub fn http_addr(
        &self,
        flag: Option<SocketAddr>,
        env: Option<String>,
    ) -> Result<Option<SocketAddr>, DaemonError> {
        if let Some(addr) = flag {
            return Ok(Some(addr));
        }
        let text = env
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| self.http.clone());
        if text.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        text.parse()
            .map(Some)
            .map_err(|_| DaemonError::BadHttpAddress(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn reads_durations_and_refuses_typos() {
        let c = Config::parse("sync_interval = \"30m\"\nhttp = \"off\"").unwrap();
        assert_eq!(c.sync_interval, Duration::from_secs(1800));
        assert_eq!(c.http_addr(None, None).unwrap(), None);
        let c = Config::parse(
            "sweep_interval = \"12h\"\nhub_retry_delay = \"80ms\"\nwebhook_secret = \"s3cret\"",
        )
        .unwrap();
        assert_eq!(c.sweep_interval, Duration::from_secs(12 * 3600));
        assert_eq!(c.hub_retry_policy().base_delay, Duration::from_millis(10));
        assert_eq!(c.webhook_secret.as_deref(), Some("s3cret"));
        for bad in [
            "sweep_interval = \"5s\"",
            "webhook_secret = \"\"",
            "offline_retry_min = \"20m\"",
            "hub_retry_delay = \"0s\"",
        ] {
            let err = Config::parse(bad).unwrap_err();
            let key = bad.split(' ').next().unwrap();
            assert!(err.contains(key), "{bad}: {err}");
        }
        let err = Config::parse("sync_intervall = \"30m\"").unwrap_err();
        assert!(err.contains("sync_intervall"), "{err}");
        assert!(Config::parse("sync_interval = \"5s\"").is_err());
    }

    #[test]
    fn flag_beats_env_beats_config() {
        let c = Config::default();
        let flag: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(
            c.http_addr(Some(flag), Some("127.0.0.1:2".into())).unwrap(),
            Some(flag)
        );
        assert_eq!(
            c.http_addr(None, Some("127.0.0.1:2".into())).unwrap(),
            Some("127.0.0.1:2".parse().unwrap())
        );
        assert_eq!(
            c.http_addr(None, None).unwrap(),
            Some(DEFAULT_HTTP.parse().unwrap())
        );
        assert!(c.http_addr(None, Some("nowhere".into())).is_err());
    }
}
