//! `config.toml`: the daemon's settings, every one optional.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::DaemonError;

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
        Ok(config)
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
