//! Where the Hub is, who we are to it, and how patiently we ask.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The public Hub, used when `HF_ENDPOINT` is not set.
const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Settings for a [`HubClient`](crate::HubClient).
///
/// Build it with [`HubConfig::from_env`] so a user's existing `huggingface_hub` setup
/// (`HF_ENDPOINT`, `HF_TOKEN`, the stored token file) just works; tests fill the fields in.
#[derive(Clone)]
pub struct HubConfig {
    /// Base URL of the Hub, without a trailing slash (e.g. `https://huggingface.co`).
    pub endpoint: String,
    /// Access token sent as `Authorization: Bearer …`; never logged or shown by `Debug`.
    pub token: Option<String>,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
    /// Per-request limit on connecting and on waiting for each read (headers or body).
    pub timeout: Duration,
}

impl Default for HubConfig {
    /// The public Hub, anonymously, with the default retries and a 30 s timeout.
    fn default() -> Self {
        Self {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            token: None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubConfig")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HubConfig {
    /// Reads the settings `huggingface_hub` users already have.
    ///
    /// * `HF_ENDPOINT` (default `https://huggingface.co`, trailing `/` stripped);
    /// * the token: `HF_TOKEN`, else the legacy `HUGGING_FACE_HUB_TOKEN`, else the token file
    ///   `$HF_TOKEN_PATH`, else `$HF_HOME/token` (`HF_HOME` defaults to
    ///   `$XDG_CACHE_HOME/huggingface`, then `~/.cache/huggingface`), trimmed; empty means
    ///   none. `HF_HUB_DISABLE_IMPLICIT_TOKEN=1` turns the token file off.
    pub fn from_env() -> HubConfig {
        Self::from_lookup(|key| std::env::var(key).ok(), std::env::home_dir())
    }

    /// [`HubConfig::from_env`] over any variable lookup and home directory, so tests can
    /// inject an environment instead of mutating the process's.
    fn from_lookup(get: impl Fn(&str) -> Option<String>, home: Option<PathBuf>) -> HubConfig {
        let get = |key: &str| get(key).filter(|v| !v.trim().is_empty());
        let endpoint = get("HF_ENDPOINT")
            .map(|e| e.trim().trim_end_matches('/').to_string())
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        let from_env = get("HF_TOKEN").or_else(|| get("HUGGING_FACE_HUB_TOKEN"));
        let token = match from_env {
            Some(token) => clean_token(&token),
            None if get("HF_HUB_DISABLE_IMPLICIT_TOKEN").is_some_and(|v| is_true(&v)) => None,
            None => token_file(&get, home.as_deref()).and_then(|path| {
                std::fs::read_to_string(path)
                    .ok()
                    .and_then(|t| clean_token(&t))
            }),
        };
        HubConfig {
            endpoint,
            token,
            ..HubConfig::default()
        }
    }
}

/// Where `huggingface_hub` keeps the token of `hf auth login`.
fn token_file(get: &impl Fn(&str) -> Option<String>, home: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = get("HF_TOKEN_PATH") {
        return expand_home(&path, home);
    }
    let hf_home = match get("HF_HOME") {
        Some(dir) => expand_home(&dir, home)?,
        None => match get("XDG_CACHE_HOME") {
            Some(cache) => expand_home(&cache, home)?.join("huggingface"),
            None => home?.join(".cache").join("huggingface"),
        },
    };
    Some(hf_home.join("token"))
}

/// Expands a leading `~` the way Python's `expanduser` does for the current user.
fn expand_home(path: &str, home: Option<&Path>) -> Option<PathBuf> {
    match path.strip_prefix('~') {
        Some("") => home.map(Path::to_path_buf),
        Some(rest) if rest.starts_with('/') => home.map(|h| h.join(rest.trim_start_matches('/'))),
        _ => Some(PathBuf::from(path)),
    }
}

/// A token as `huggingface_hub` cleans it: whitespace trimmed, empty meaning none.
fn clean_token(raw: &str) -> Option<String> {
    let token = raw.trim();
    (!token.is_empty()).then(|| token.to_string())
}

/// `huggingface_hub`'s truthy environment values.
fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_uppercase().as_str(),
        "1" | "ON" | "YES" | "TRUE"
    )
}

/// How a failed request is retried: exponential backoff from `base_delay`, doubling up to
/// `max_delay`, for at most `max_retries` retries after the first try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 disables retrying.
    pub max_retries: u32,
    /// The wait before the first retry.
    pub base_delay: Duration,
    /// The longest wait between two tries (before jitter).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// `huggingface_hub`'s schedule: 5 retries after 1, 2, 4, 8 and 8 seconds.
    fn default() -> Self {
        Self {
            max_retries: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based), without jitter.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)], home: Option<&Path>) -> HubConfig {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HubConfig::from_lookup(|k| env.get(k).cloned(), home.map(Path::to_path_buf))
    }

    #[test]
    fn defaults_to_the_public_hub_anonymously() {
        let home = tempfile::tempdir().unwrap();
        let c = config(&[], Some(home.path()));
        assert_eq!(c.endpoint, "https://huggingface.co");
        assert_eq!(c.token, None);
        assert_eq!(c.timeout, Duration::from_secs(30));
    }

    #[test]
    fn endpoint_loses_its_trailing_slash() {
        let c = config(&[("HF_ENDPOINT", "http://127.0.0.1:9000/")], None);
        assert_eq!(c.endpoint, "http://127.0.0.1:9000");
        let blank = config(&[("HF_ENDPOINT", "  ")], None);
        assert_eq!(blank.endpoint, "https://huggingface.co");
    }

    #[test]
    fn hf_token_wins_over_the_legacy_variable_and_the_file() {
        let home = tempfile::tempdir().unwrap();
        let hf_home = home.path().join(".cache/huggingface");
        std::fs::create_dir_all(&hf_home).unwrap();
        std::fs::write(hf_home.join("token"), "hf_file\n").unwrap();
        let c = config(
            &[
                ("HF_TOKEN", " hf_env "),
                ("HUGGING_FACE_HUB_TOKEN", "hf_legacy"),
            ],
            Some(home.path()),
        );
        assert_eq!(c.token.as_deref(), Some("hf_env"));
        let legacy = config(
            &[("HUGGING_FACE_HUB_TOKEN", "hf_legacy")],
            Some(home.path()),
        );
        assert_eq!(legacy.token.as_deref(), Some("hf_legacy"));
    }

    #[test]
    fn reads_the_token_file_under_the_default_hf_home() {
        let home = tempfile::tempdir().unwrap();
        let hf_home = home.path().join(".cache/huggingface");
        std::fs::create_dir_all(&hf_home).unwrap();
        std::fs::write(hf_home.join("token"), "  hf_from_login\n").unwrap();
        let c = config(&[], Some(home.path()));
        assert_eq!(c.token.as_deref(), Some("hf_from_login"));
    }

    #[test]
    fn token_file_follows_hf_home_xdg_cache_and_hf_token_path() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str, token: &str| {
            let d = dir.path().join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("token"), token).unwrap();
            d.to_string_lossy().into_owned()
        };
        let hf_home = at("hf-home", "hf_home_token");
        let xdg = at("xdg", "unused");
        at("xdg/huggingface", "hf_xdg_token");
        let explicit = at("explicit", "hf_path_token");
        let explicit_file = format!("{explicit}/token");

        let c = config(&[("HF_HOME", &hf_home), ("XDG_CACHE_HOME", &xdg)], None);
        assert_eq!(c.token.as_deref(), Some("hf_home_token"));
        let c = config(&[("XDG_CACHE_HOME", &xdg)], None);
        assert_eq!(c.token.as_deref(), Some("hf_xdg_token"));
        let c = config(
            &[("HF_TOKEN_PATH", &explicit_file), ("HF_HOME", &hf_home)],
            None,
        );
        assert_eq!(c.token.as_deref(), Some("hf_path_token"));
    }

    #[test]
    fn tilde_in_hf_home_means_the_home_directory() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join("hf")).unwrap();
        std::fs::write(home.path().join("hf/token"), "hf_tilde").unwrap();
        let c = config(&[("HF_HOME", "~/hf")], Some(home.path()));
        assert_eq!(c.token.as_deref(), Some("hf_tilde"));
    }

    #[test]
    fn empty_token_file_means_no_token_and_implicit_token_can_be_disabled() {
        let home = tempfile::tempdir().unwrap();
        let file = home.path().join("token");
        std::fs::write(&file, " \n").unwrap();
        let path = file.to_string_lossy().into_owned();
        assert_eq!(config(&[("HF_TOKEN_PATH", &path)], None).token, None);

        std::fs::write(&file, "hf_stored").unwrap();
        assert_eq!(
            config(&[("HF_TOKEN_PATH", &path)], None).token.as_deref(),
            Some("hf_stored")
        );
        let disabled = config(
            &[
                ("HF_TOKEN_PATH", &path),
                ("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1"),
            ],
            None,
        );
        assert_eq!(disabled.token, None);
        let explicit = config(
            &[
                ("HF_TOKEN", "hf_env"),
                ("HF_HUB_DISABLE_IMPLICIT_TOKEN", "true"),
            ],
            None,
        );
        assert_eq!(explicit.token.as_deref(), Some("hf_env"));
    }

    #[test]
    fn missing_token_file_means_no_token() {
        let home = tempfile::tempdir().unwrap();
        assert_eq!(config(&[], Some(home.path())).token, None);
        assert_eq!(config(&[], None).token, None);
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let c = HubConfig {
            token: Some("hf_SeCrEt123".into()),
            ..HubConfig::default()
        };
        let shown = format!("{c:?} {c:#?}");
        assert!(!shown.contains("hf_SeCrEt123"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert!(format!("{:?}", HubConfig::default()).contains("token: None"));
    }

    #[test]
    fn default_backoff_is_one_two_four_eight_eight_seconds() {
        let p = RetryPolicy::default();
        let waits: Vec<u64> = (0..p.max_retries).map(|r| p.backoff(r).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 8]);
        assert_eq!(p.backoff(40), Duration::from_secs(8));
    }
}
