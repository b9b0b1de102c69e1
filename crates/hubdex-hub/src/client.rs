//! The HTTP client: headers, timeouts, and the retry loop every request goes through.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hubdex_core::{Dataset, DatasetId};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, USER_AGENT};
use reqwest::{RequestBuilder, StatusCode, Url};

use crate::config::HubConfig;
use crate::error::{ErrorContext, HubError, from_response, root_cause, snippet};
use crate::pager::{CatalogPager, ListParams};
use crate::ratelimit::RetryWait;
use crate::retry::{is_retryable, server_wait, with_jitter};

/// What hubdex calls itself to the Hub.
const USER_AGENT_VALUE: &str = concat!("hubdex/", env!("CARGO_PKG_VERSION"));

/// A client for one Hub endpoint. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct HubClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// The same settings without following redirects: file probes and downloads decide
    /// themselves which redirects to follow and where the token may go.
    files_http: reqwest::Client,
    config: HubConfig,
    /// The endpoint parsed once, as the base of every API URL.
    base: Url,
    /// `Bearer <token>`, marked sensitive; sent only to the endpoint's own origin.
    auth: Option<HeaderValue>,
    /// Told about every wait before a retry (see [`HubClient::with_retry_observer`]).
    observer: Option<RetryObserver>,
}

/// A callback told about each wait before a retry.
type RetryObserver = Arc<dyn Fn(&RetryWait) + Send + Sync>;

impl fmt::Debug for HubClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// A successful, parsed response.
pub(crate) struct Fetched<T> {
    /// The response headers (for `Link`).
    pub(crate) headers: HeaderMap,
    /// The parsed body.
    pub(crate) value: T,
}

/// Why one attempt failed, and whether trying again can help.
pub(crate) enum Failure {
    /// Retrying the same URL may succeed; the server may have said how long to wait.
    Transient {
        error: HubError,
        wait: Option<Duration>,
    },
    /// Retrying cannot help.
    Fatal(HubError),
}

impl HubClient {
    /// Builds a client for `config.endpoint`, sending `config.token` when set.
    ///
    /// Fails when the endpoint is not a URL, the token cannot be sent in a header, or the TLS
    /// stack cannot be initialised. Nothing is sent until the first request.
    pub fn new(config: HubConfig) -> Result<HubClient, HubError> {
        let base = Url::parse(&config.endpoint).map_err(|e| HubError::InvalidUrl {
            url: config.endpoint.clone(),
            reason: e.to_string(),
        })?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(HubError::InvalidUrl {
                url: config.endpoint.clone(),
                reason: "it must be an http:// or https:// URL".to_string(),
            });
        }
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let auth = match &config.token {
            Some(token) => {
                let mut value =
                    HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                        HubError::InvalidToken {
                            reason: "it contains characters that cannot be sent in an HTTP header"
                                .to_string(),
                            request_id: None,
                        }
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let builder = || {
            reqwest::Client::builder()
                .default_headers(headers.clone())
                .connect_timeout(config.timeout)
                .read_timeout(config.timeout)
        };
        let http = builder()
            .build()
            .map_err(|source| HubError::Client { source })?;
        let files_http = builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|source| HubError::Client { source })?;
        Ok(HubClient {
            inner: Arc::new(Inner {
                http,
                files_http,
                config,
                base,
                auth,
                observer: None,
            }),
        })
    }

    /// A client sharing this one's connections and settings that also calls `observer`
    /// before each wait between retries (a 429 waited out, a 502 retried), so a long walk can
    /// show why it is not progressing. The observer runs on the request's task: keep it quick.
    pub fn with_retry_observer(
        &self,
        observer: impl Fn(&RetryWait) + Send + Sync + 'static,
    ) -> HubClient {
        HubClient {
            inner: Arc::new(Inner {
                http: self.inner.http.clone(),
                files_http: self.inner.files_http.clone(),
                config: self.inner.config.clone(),
                base: self.inner.base.clone(),
                auth: self.inner.auth.clone(),
                observer: Some(Arc::new(observer)),
            }),
        }
    }

    /// True when requests carry a token, which raises the Hub's rate limit above the
    /// anonymous quota.
    pub fn has_token(&self) -> bool {
        self.inner.auth.is_some()
    }

    /// The Hub's base URL, e.g. `https://huggingface.co`.
    pub fn endpoint(&self) -> &str {
        &self.inner.config.endpoint
    }

    /// Starts a walk over `GET /api/datasets` with these parameters; nothing is fetched until
    /// [`CatalogPager::next_page`].
    pub fn list_datasets(&self, params: &ListParams) -> CatalogPager {
        CatalogPager::resume(self, params.url(&self.api_url(&["datasets"])).to_string())
    }

    /// One dataset's record (`GET /api/datasets/{id}`).
    pub async fn dataset_info(&self, id: &DatasetId) -> Result<Dataset, HubError> {
        let mut segments = vec!["datasets"];
        segments.extend(id.as_str().split('/'));
        let url = self.api_url(&segments);
        let fetched = self
            .get(
                &url,
                Some(id),
                "a JSON object",
                |body| match serde_json::from_slice::<serde_json::Value>(body) {
                    Ok(value) if value.is_object() => {
                        Ok(serde_json::from_value::<Dataset>(value).map_err(|e| e.to_string()))
                    }
                    Ok(_) => Err("the JSON is not an object".to_string()),
                    Err(e) => Err(format!("{e} (body starts `{}`)", snippet(body))),
                },
            )
            .await?;
        fetched.value.map_err(|reason| HubError::InvalidBody {
            url: url.to_string(),
            expected: "a dataset record",
            reason,
        })
    }

    /// `{endpoint}/api/{segments…}`, keeping any path prefix of a mirror's endpoint.
    pub(crate) fn api_url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("api").extend(segments);
        }
        url
    }

    /// GETs `url`, retrying per the policy, and parses the body with `parse` off the async
    /// runtime. `parse` returning `Err` means the body is not what the endpoint returns (an
    /// HTML error page, a truncated body), which is treated as a passing fault and retried.
    pub(crate) async fn get<T, P>(
        &self,
        url: &Url,
        id: Option<&DatasetId>,
        expected: &'static str,
        parse: P,
    ) -> Result<Fetched<T>, HubError>
    where
        T: Send + 'static,
        P: Fn(&[u8]) -> Result<T, String> + Clone + Send + 'static,
    {
        self.retrying(url, || self.attempt(url, id, expected, parse.clone()))
            .await
    }

    /// Runs `attempt` until it succeeds, fails for good, or the policy's retries are spent,
    /// waiting between tries as the server asked or per the backoff.
    pub(crate) async fn retrying<T, F, Fut>(&self, url: &Url, mut attempt: F) -> Result<T, HubError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let policy = self.inner.config.retry;
        let mut retry = 0;
        loop {
            let (error, wait) = match attempt().await {
                Ok(value) => return Ok(value),
                Err(Failure::Fatal(error)) => return Err(error),
                Err(Failure::Transient { error, wait }) => (error, wait),
            };
            if retry >= policy.max_retries {
                return Err(error);
            }
            let delay = with_jitter(wait.unwrap_or_else(|| policy.backoff(retry)));
            retry += 1;
            if let Some(observer) = &self.inner.observer {
                observer(&RetryWait {
                    url: url.to_string(),
                    retry,
                    max_retries: policy.max_retries,
                    wait: delay,
                    rate_limited: matches!(error, HubError::RateLimited { .. }),
                    reason: error.to_string(),
                });
            }
            tracing::warn!(
                url = %url,
                retry,
                max_retries = policy.max_retries,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %error,
                "Hub request failed; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// One try at `url`.
    async fn attempt<T, P>(
        &self,
        url: &Url,
        id: Option<&DatasetId>,
        expected: &'static str,
        parse: P,
    ) -> Result<Fetched<T>, Failure>
    where
        T: Send + 'static,
        P: FnOnce(&[u8]) -> Result<T, String> + Send + 'static,
    {
        let response = self
            .authorize(self.inner.http.get(url.clone()), url)
            .send()
            .await
            .map_err(|e| self.network_failure(url, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        if !status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            let ctx = ErrorContext {
                id,
                endpoint: self.endpoint(),
                url: url.as_str(),
            };
            let error = from_response(status, &headers, &body, &ctx);
            return Err(if is_retryable(status) {
                Failure::Transient {
                    wait: server_wait(status, &headers),
                    error,
                }
            } else {
                Failure::Fatal(error)
            });
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| self.network_failure(url, e))?;
        let parsed = tokio::task::spawn_blocking(move || parse(&body))
            .await
            .unwrap_or_else(|e| Err(format!("the parser task failed: {e}")));
        match parsed {
            Ok(value) => Ok(Fetched { headers, value }),
            Err(reason) => Err(Failure::Transient {
                error: HubError::InvalidBody {
                    url: url.to_string(),
                    expected,
                    reason: format!("{reason} (HTTP {})", status_text(status)),
                },
                wait: None,
            }),
        }
    }

    /// Adds the token when `url` is on the endpoint's own origin (scheme, host and port);
    /// anywhere else, a CDN or a mirror's `Link`, requests go out anonymously.
    pub(crate) fn authorize(&self, request: RequestBuilder, url: &Url) -> RequestBuilder {
        match &self.inner.auth {
            Some(auth) if url.origin() == self.inner.base.origin() => {
                request.header(AUTHORIZATION, auth.clone())
            }
            _ => request,
        }
    }

    /// The client for file probes and downloads, which follows no redirect by itself.
    pub(crate) fn files_http(&self) -> &reqwest::Client {
        &self.inner.files_http
    }

    /// The endpoint as a URL.
    pub(crate) fn base(&self) -> &Url {
        &self.inner.base
    }

    /// Types a reqwest error: connect and timeout failures mean the Hub is unreachable, other
    /// I/O failures a broken connection; both are worth retrying.
    pub(crate) fn network_failure(&self, url: &Url, error: reqwest::Error) -> Failure {
        if error.is_builder() || error.is_redirect() {
            return Failure::Fatal(HubError::InvalidUrl {
                url: url.to_string(),
                reason: root_cause(&error),
            });
        }
        let error = if error.is_connect() || error.is_timeout() {
            HubError::Unreachable {
                endpoint: self.endpoint().to_string(),
                source: error,
            }
        } else {
            HubError::Transport {
                url: url.to_string(),
                source: error,
            }
        };
        Failure::Transient { error, wait: None }
    }
}

/// `200 OK` style text for messages.
fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}
