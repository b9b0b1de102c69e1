//! What can go wrong talking to the Hub, typed the way `huggingface_hub` types it.

use std::time::Duration;

use hubdex_core::DatasetId;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// The Hub's message for a token it does not accept.
const INVALID_CREDENTIALS: &str = "Invalid credentials in Authorization header";
/// The Hub's message for a repository it has disabled.
const DISABLED: &str = "Access to this resource is disabled.";

/// Why a request to the Hub failed. Every message says what went wrong and what to do, and
/// includes the Hub's `X-Request-Id` when it sent one. No message ever contains the token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The dataset does not exist, or is private and the token cannot read it.
    #[error(
        "dataset `{id}` was not found on the Hub{}; check the id (`namespace/name`, as in the dataset's page URL), and if it is private set HF_TOKEN to a token that can read it",
        request_suffix(.request_id)
    )]
    RepoNotFound {
        /// The dataset asked for.
        id: DatasetId,
        /// The Hub's `X-Request-Id`, for reports to Hugging Face.
        request_id: Option<String>,
    },
    /// The dataset is gated and this token has not been granted access.
    #[error(
        "dataset `{id}` is gated{}: request access at {url} and set HF_TOKEN to a token of the account that was granted access",
        request_suffix(.request_id)
    )]
    GatedRepo {
        /// The dataset asked for.
        id: DatasetId,
        /// The dataset's page, where access is requested.
        url: String,
        /// The Hub's `X-Request-Id`.
        request_id: Option<String>,
    },
    /// The branch, tag or commit does not exist in the dataset.
    #[error("{message}{}; check the branch, tag or commit name", request_suffix(.request_id))]
    RevisionNotFound {
        /// The Hub's explanation.
        message: String,
        /// The Hub's `X-Request-Id`.
        request_id: Option<String>,
    },
    /// The file or folder does not exist at that revision.
    #[error(
        "{}{message}{}; check the path and the revision",
        path_prefix(.path),
        request_suffix(.request_id)
    )]
    EntryNotFound {
        /// The Hub's explanation.
        message: String,
        /// The file or folder asked for, when the request named one.
        path: Option<String>,
        /// The commit the revision resolved to (`X-Repo-Commit`), when the Hub sent it: a
        /// cache can record the file as absent at that commit.
        commit: Option<String>,
        /// The Hub's `X-Request-Id`.
        request_id: Option<String>,
    },
    /// Hugging Face has disabled the dataset; nothing in it can be read.
    #[error(
        "dataset `{id}` has been disabled by Hugging Face{}; its page {url} may say why, and nothing hubdex can do will make it readable",
        request_suffix(.request_id)
    )]
    Disabled {
        /// The dataset asked for.
        id: DatasetId,
        /// The dataset's page.
        url: String,
        /// The Hub's `X-Request-Id`.
        request_id: Option<String>,
    },
    /// The Hub rejected the token (or it cannot be sent at all).
    #[error(
        "the Hugging Face token was rejected{}: {reason}; check HF_TOKEN (or the token file, ~/.cache/huggingface/token by default), or unset it to browse anonymously",
        request_suffix(.request_id)
    )]
    InvalidToken {
        /// What was wrong with it.
        reason: String,
        /// The Hub's `X-Request-Id`.
        request_id: Option<String>,
    },
    /// The Hub kept answering 429 Too Many Requests, even after waiting and retrying.
    #[error(
        "the Hub is rate-limiting requests (429 for {url}){}{}; wait a few minutes, or set HF_TOKEN: signed-in users get a larger quota",
        retry_after_suffix(.retry_after),
        request_suffix(.request_id)
    )]
    RateLimited {
        /// The URL that was refused.
        url: String,
        /// How long the Hub said to wait, when it said.
        retry_after: Option<Duration>,
        /// The Hub's `X-Request-Id`.
        request_id: Option<String>,
    },
    /// The Hub refused the request's parameters (400).
    #[error(
        "the Hub rejected the request as invalid: {message}{}; check the search, filter, sort and expand values",
        request_suffix(.request_id)
    )]
    BadRequest {
        /// The Hub's explanation.
        message: String,
        /// The Hub's `X-Request-Id`.
        request_id: Option<String>,
    },
    /// Any other error status.
    #[error(
        "the Hub answered HTTP {status} for {url}: {message}{}; {}",
        request_suffix(.request_id),
        status_advice(*.status)
    )]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The Hub's explanation, or the status's reason phrase.
        message: String,
        /// The URL that failed.
        url: String,
        /// The Hub's `X-Request-Id`.
        request_id: Option<String>,
    },
    /// The Hub could not be reached: connection refused, DNS, TLS or a timeout, after retries.
    #[error(
        "cannot reach the Hub at {endpoint}: {}; hubdex works offline from the local catalog and retries; set HF_ENDPOINT if you use a mirror",
        root_cause(.source)
    )]
    Unreachable {
        /// The Hub endpoint in use.
        endpoint: String,
        /// The network error.
        source: reqwest::Error,
    },
    /// The connection broke after it was made (reset, closed mid-body), after retries.
    #[error(
        "the connection to the Hub broke while fetching {url}: {}; this is usually passing, so try again later",
        root_cause(.source)
    )]
    Transport {
        /// The URL being fetched.
        url: String,
        /// The network error.
        source: reqwest::Error,
    },
    /// A successful response whose body is not what the endpoint returns.
    #[error(
        "the Hub answered {url} with a body that is not {expected}: {reason}; this is usually a passing fault of the Hub, so try again later; if it persists, check that HF_ENDPOINT points at a Hub"
    )]
    InvalidBody {
        /// The URL fetched.
        url: String,
        /// What the body should have been.
        expected: &'static str,
        /// What was wrong, with the start of the body.
        reason: String,
    },
    /// A file probe whose answer lacks what every Hub file answer carries (`X-Repo-Commit`,
    /// an ETag, the size), so the file cannot be cached or verified.
    #[error(
        "the answer for {url} has no {header} header, so the file cannot be downloaded and verified; check that HF_ENDPOINT points at a Hugging Face Hub (a proxy in between may strip headers)"
    )]
    NotAHubFile {
        /// The URL probed.
        url: String,
        /// The header that was missing.
        header: &'static str,
    },
    /// A download asked to start at or past the end of the file (416).
    #[error(
        "cannot download {url} from byte {start}: the file {}; if the partial file is that long, it is complete: verify it, else start again from 0",
        size.map_or_else(|| "is shorter".to_string(), |s| format!("has {s} bytes"))
    )]
    RangeNotSatisfiable {
        /// The URL fetched.
        url: String,
        /// The byte asked to start from.
        start: u64,
        /// The file's size, from `Content-Range: bytes */size`.
        size: Option<u64>,
    },
    /// A file body ended before, or ran past, the length the server announced.
    #[error(
        "the body of {url} had {received} bytes where {expected} were announced (consistency check failed); resume from what arrived, or download it again"
    )]
    BodySize {
        /// The URL fetched.
        url: String,
        /// The length announced.
        expected: u64,
        /// The bytes that arrived (when too many, counted up to the first chunk past the end).
        received: u64,
    },
    /// The endpoint or a saved page URL is not a valid URL.
    #[error(
        "`{url}` is not a valid Hub URL: {reason}; set HF_ENDPOINT to a URL such as https://huggingface.co, or start the catalog walk again"
    )]
    InvalidUrl {
        /// The offending URL.
        url: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The HTTP client could not be set up (TLS initialisation).
    #[error("cannot set up the HTTP client: {}; this is a bug in hubdex, please report it", root_cause(.source))]
    Client {
        /// The builder's error.
        source: reqwest::Error,
    },
}

impl HubError {
    /// True when the Hub cannot be reached at all (connect, DNS, TLS or timeout failures after
    /// the retries): the caller should work offline and try again later.
    pub fn is_offline(&self) -> bool {
        matches!(self, HubError::Unreachable { .. })
    }
}

/// What the failing request was about, for errors that name a dataset.
pub(crate) struct ErrorContext<'a> {
    /// The dataset the URL is about, if it is about one.
    pub(crate) id: Option<&'a DatasetId>,
    /// The Hub's base URL, for page links.
    pub(crate) endpoint: &'a str,
    /// The URL that failed.
    pub(crate) url: &'a str,
}

/// Types an error response the way `huggingface_hub`'s `hf_raise_for_status` does, from
/// `X-Error-Code`, `X-Error-Message` (preferred) or the body's `error`.
pub(crate) fn from_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    ctx: &ErrorContext<'_>,
) -> HubError {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let request_id = header("x-request-id");
    let code = header("x-error-code");
    let message = header("x-error-message")
        .or_else(|| body_message(body))
        .unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string()
        });
    let page = |id: &DatasetId| id.web_url(ctx.endpoint);

    if status == StatusCode::UNAUTHORIZED && message.contains(INVALID_CREDENTIALS) {
        return HubError::InvalidToken {
            reason: format!("the Hub answered 401 \"{INVALID_CREDENTIALS}\""),
            request_id,
        };
    }
    match (code.as_deref(), ctx.id) {
        (Some("RevisionNotFound"), _) => {
            return HubError::RevisionNotFound {
                message,
                request_id,
            };
        }
        (Some("EntryNotFound"), _) => {
            return HubError::EntryNotFound {
                message,
                path: None,
                commit: header("x-repo-commit"),
                request_id,
            };
        }
        (Some("GatedRepo"), Some(id)) => {
            return HubError::GatedRepo {
                id: id.clone(),
                url: page(id),
                request_id,
            };
        }
        (_, Some(id)) if message == DISABLED => {
            return HubError::Disabled {
                id: id.clone(),
                url: page(id),
                request_id,
            };
        }
        (Some("RepoNotFound"), Some(id)) => {
            return HubError::RepoNotFound {
                id: id.clone(),
                request_id,
            };
        }
        (_, Some(id)) if status == StatusCode::UNAUTHORIZED => {
            return HubError::RepoNotFound {
                id: id.clone(),
                request_id,
            };
        }
        _ => {}
    }
    match status {
        StatusCode::BAD_REQUEST => HubError::BadRequest {
            message,
            request_id,
        },
        StatusCode::TOO_MANY_REQUESTS => HubError::RateLimited {
            url: ctx.url.to_string(),
            retry_after: crate::retry::server_wait(status, headers),
            request_id,
        },
        _ => HubError::Status {
            status: status.as_u16(),
            message,
            url: ctx.url.to_string(),
            request_id,
        },
    }
}

/// The body's `error`: a string, a list of strings, or OAuth-style `error` plus
/// `error_description`. A body that is not JSON (an HTML error page) gives nothing.
fn body_message(body: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = match json.get("error")? {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        _ => return None,
    };
    let message = match json.get("error_description").and_then(|d| d.as_str()) {
        Some(description) if !description.is_empty() => format!("{error}: {description}"),
        _ => error,
    };
    (!message.trim().is_empty()).then_some(message)
}

/// ` (request id …)` when the Hub sent one.
fn request_suffix(request_id: &Option<String>) -> String {
    request_id
        .as_deref()
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

/// `` `path` was not found: `` when the request named a path.
fn path_prefix(path: &Option<String>) -> String {
    path.as_deref()
        .map(|p| format!("`{p}` was not found: "))
        .unwrap_or_default()
}

/// `, retry after N s` when the Hub said how long to wait.
fn retry_after_suffix(retry_after: &Option<Duration>) -> String {
    retry_after
        .map(|d| format!(", it asked to wait {} s", d.as_secs()))
        .unwrap_or_default()
}

/// What to do about a status no specific variant covers.
fn status_advice(status: u16) -> &'static str {
    match status {
        401 | 403 => "check that HF_TOKEN is set to a token with read access to this resource",
        500..=599 => "the Hub is having trouble; hubdex retries later on its own",
        _ => "if this persists, check HF_ENDPOINT and report it to hubdex",
    }
}

/// The innermost cause of a network error (e.g. `Connection refused (os error 111)`), which
/// says more than reqwest's outer "error sending request".
pub(crate) fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The first characters of a body, for error messages.
pub(crate) fn snippet(body: &[u8]) -> String {
    const MAX: usize = 80;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut out: String = text.chars().take(MAX).collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn classify(
        status: u16,
        headers: &[(&'static str, &'static str)],
        body: &str,
        id: Option<&str>,
    ) -> HubError {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_static(v));
        }
        let id = id.map(|s| DatasetId::new(s).unwrap());
        let ctx = ErrorContext {
            id: id.as_ref(),
            endpoint: "https://huggingface.co",
            url: "https://huggingface.co/api/datasets/acme/x",
        };
        from_response(
            StatusCode::from_u16(status).unwrap(),
            &map,
            body.as_bytes(),
            &ctx,
        )
    }

    #[test]
    fn repo_not_found_from_the_error_code_on_401_and_404() {
        for status in [401, 404] {
            let e = classify(
                status,
                &[
                    ("x-error-code", "RepoNotFound"),
                    ("x-request-id", "Root=1-abc"),
                ],
                r#"{"error":"Repository not found"}"#,
                Some("acme/missing"),
            );
            assert!(
                matches!(&e, HubError::RepoNotFound { id, .. } if id.as_str() == "acme/missing")
            );
            let msg = e.to_string();
            assert!(
                msg.contains("acme/missing") && msg.contains("HF_TOKEN"),
                "{msg}"
            );
            assert!(msg.contains("Root=1-abc"), "{msg}");
        }
    }

    #[test]
    fn a_bare_401_on_a_dataset_url_is_repo_not_found() {
        let e = classify(
            401,
            &[],
            r#"{"error":"Invalid username or password."}"#,
            Some("a/b"),
        );
        assert!(matches!(e, HubError::RepoNotFound { .. }), "{e:?}");
    }

    #[test]
    fn invalid_credentials_are_an_invalid_token_not_a_missing_repo() {
        let e = classify(
            401,
            &[(
                "x-error-message",
                "Invalid credentials in Authorization header",
            )],
            "",
            Some("a/b"),
        );
        assert!(matches!(e, HubError::InvalidToken { .. }), "{e:?}");
        assert!(e.to_string().contains("check HF_TOKEN"));
        let from_body = classify(
            401,
            &[],
            r#"{"error":"Invalid credentials in Authorization header"}"#,
            None,
        );
        assert!(
            matches!(from_body, HubError::InvalidToken { .. }),
            "{from_body:?}"
        );
    }

    #[test]
    fn gated_repo_points_at_the_dataset_page() {
        let e = classify(
            403,
            &[("x-error-code", "GatedRepo")],
            r#"{"error":"Access to dataset acme/locked is restricted"}"#,
            Some("acme/locked"),
        );
        let msg = e.to_string();
        assert!(matches!(e, HubError::GatedRepo { .. }), "{e:?}");
        assert!(
            msg.contains("https://huggingface.co/datasets/acme/locked"),
            "{msg}"
        );
        assert!(msg.contains("HF_TOKEN"), "{msg}");
    }

    #[test]
    fn revision_entry_and_disabled_are_typed() {
        let e = classify(
            404,
            &[
                ("x-error-code", "RevisionNotFound"),
                ("x-error-message", "Invalid rev id: v9"),
            ],
            "",
            Some("a/b"),
        );
        assert!(
            matches!(&e, HubError::RevisionNotFound { message, .. } if message == "Invalid rev id: v9")
        );
        let e = classify(
            404,
            &[("x-error-code", "EntryNotFound")],
            r#"{"error":"no file"}"#,
            Some("a/b"),
        );
        assert!(matches!(&e, HubError::EntryNotFound { message, .. } if message == "no file"));
        let e = classify(
            403,
            &[("x-error-message", "Access to this resource is disabled.")],
            "",
            Some("a/b"),
        );
        assert!(matches!(e, HubError::Disabled { .. }), "{e:?}");
    }

    #[test]
    fn header_message_is_preferred_and_body_forms_are_understood() {
        let e = classify(
            400,
            &[("x-error-message", "from header")],
            r#"{"error":"from body"}"#,
            None,
        );
        assert!(matches!(&e, HubError::BadRequest { message, .. } if message == "from header"));
        let e = classify(400, &[], r#"{"error":["bad expand","bad sort"]}"#, None);
        assert!(
            matches!(&e, HubError::BadRequest { message, .. } if message == "bad expand; bad sort")
        );
        let e = classify(
            400,
            &[],
            r#"{"error":"invalid_request","error_description":"limit must be a number"}"#,
            None,
        );
        assert!(
            matches!(&e, HubError::BadRequest { message, .. } if message == "invalid_request: limit must be a number")
        );
    }

    #[test]
    fn other_statuses_keep_status_message_and_request_id() {
        let e = classify(
            502,
            &[("x-request-id", "req-7")],
            "<html>Bad Gateway</html>",
            None,
        );
        match &e {
            HubError::Status {
                status,
                message,
                request_id,
                ..
            } => {
                assert_eq!(*status, 502);
                assert_eq!(message, "Bad Gateway");
                assert_eq!(request_id.as_deref(), Some("req-7"));
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("req-7"));
        assert!(!e.is_offline());
    }

    #[test]
    fn repo_codes_without_a_dataset_in_the_url_stay_generic() {
        let e = classify(404, &[("x-error-code", "RepoNotFound")], "", None);
        assert!(matches!(e, HubError::Status { status: 404, .. }), "{e:?}");
    }

    #[test]
    fn a_429_is_rate_limited_with_the_wait_it_asked_for() {
        let e = classify(429, &[("ratelimit", "\"api\";r=0;t=30")], "", None);
        assert!(
            matches!(&e, HubError::RateLimited { retry_after: Some(d), .. } if d.as_secs() == 31),
            "{e:?}"
        );
        assert!(e.to_string().contains("HF_TOKEN"));
    }

    #[test]
    fn snippets_are_short_and_on_one_line() {
        assert_eq!(
            snippet(b"  <html>\n<body>oops</body>  "),
            "<html> <body>oops</body>"
        );
        let long = "x".repeat(500);
        assert_eq!(snippet(long.as_bytes()).chars().count(), 81);
    }
}
