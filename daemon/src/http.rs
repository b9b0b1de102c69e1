//! The HTTP door for scripts: JSON endpoints, a Hub-compatible listing and `/metrics`.
//! Every handler delegates to [`Daemon`]; nothing here has logic of its own beyond parsing.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hubdex_core::{Query, SortKey};
use hubdex_ipc::{ApiError, ErrorKind, SearchRequest};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::HttpLabels;
use crate::service::{Daemon, MAX_LIMIT};

/// The default number of hits for `/v1/search`.
const DEFAULT_LIMIT: usize = 20;

/// Serves HTTP on `listener` until `shutdown` fires.
pub async fn serve(
    listener: TcpListener,
    daemon: Arc<Daemon>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(daemon))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// All routes, with request counting.
pub fn router(daemon: Arc<Daemon>) -> Router {
    Router::new()
        .route(
            "/healthcheck",
            get(|| async { Json(json!({"status": "ok"})) }),
        )
        .route("/v1/status", get(status))
        .route("/v1/search", get(search))
        .route("/v1/sync", post(sync_now))
        .route("/v1/events", get(events))
        .route("/v1/datasets/{name}", get(dataset_canonical))
        .route("/v1/datasets/{ns}/{name}", get(dataset))
        .route("/api/datasets", get(hub_listing))
        .route("/api/datasets/{name}", get(dataset_canonical))
        .route("/api/datasets/{ns}/{name}", get(dataset))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(
            daemon.clone(),
            count_requests,
        ))
        .fallback(not_found)
        .with_state(daemon)
}

/// An [`ApiError`] as an HTTP response: a status code and `{"error": "…"}`.
struct HttpError(ApiError);

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = match self.0.kind {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(json!({"error": self.0.message}))).into_response()
    }
}

type HttpResult<T> = Result<T, HttpError>;

/// The query string as ordered pairs (repeated keys kept), percent-decoded.
fn pairs(raw: Option<String>) -> HttpResult<Vec<(String, String)>> {
    let raw = raw.unwrap_or_default();
    serde_urlencoded_pairs(&raw)
        .map_err(|e| ApiError::bad_request(format!("cannot read the query string: {e}")).into())
}

fn serde_urlencoded_pairs(raw: &str) -> Result<Vec<(String, String)>, String> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{raw}")
            .parse()
            .map_err(|e: axum::http::uri::InvalidUri| e.to_string())?,
    )
    .map(|q| q.0)
    .map_err(|e| e.body_text())
}

fn parse_number(name: &str, value: &str) -> HttpResult<usize> {
    value.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "`{name}={value}` is not a whole number; give e.g. `{name}=20`"
        ))
        .into()
    })
}

fn parse_sort(value: &str) -> HttpResult<SortKey> {
    value
        .parse()
        .map_err(|e: hubdex_core::UnknownSort| ApiError::bad_request(e.to_string()).into())
}

async fn status(State(daemon): State<Arc<Daemon>>) -> impl IntoResponse {
    Json(daemon.status())
}

async fn search(
    State(daemon): State<Arc<Daemon>>,
    RawQuery(raw): RawQuery,
) -> HttpResult<impl IntoResponse> {
    let mut request = SearchRequest {
        query: String::new(),
        sort: None,
        limit: DEFAULT_LIMIT,
        offset: 0,
    };
    for (key, value) in pairs(raw)? {
        match key.as_str() {
            "q" | "query" => request.query = value,
            "sort" => request.sort = Some(parse_sort(&value)?),
            "limit" => request.limit = parse_number("limit", &value)?,
            "offset" => request.offset = parse_number("offset", &value)?,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter `{other}`; /v1/search takes q, sort, limit and offset"
                ))
                .into());
            }
        }
    }
    Ok(Json(daemon.search(request).await?))
}

async fn sync_now(State(daemon): State<Arc<Daemon>>) -> impl IntoResponse {
    Json(json!({"started": daemon.sync_now()}))
}

async fn events(
    State(daemon): State<Arc<Daemon>>,
    RawQuery(raw): RawQuery,
) -> HttpResult<impl IntoResponse> {
    let (mut since, mut wait_ms) = (0, 0);
    for (key, value) in pairs(raw)? {
        match key.as_str() {
            "since" => since = parse_number("since", &value)?,
            "wait_ms" => wait_ms = parse_number("wait_ms", &value)?,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter `{other}`; /v1/events takes since and wait_ms"
                ))
                .into());
            }
        }
    }
    let batch = daemon
        .events(since as u64, Duration::from_millis(wait_ms as u64))
        .await;
    Ok(Json(batch))
}

async fn dataset(
    State(daemon): State<Arc<Daemon>>,
    Path((ns, name)): Path<(String, String)>,
) -> HttpResult<impl IntoResponse> {
    Ok(Json(daemon.dataset(&format!("{ns}/{name}")).await?))
}

async fn dataset_canonical(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
) -> HttpResult<impl IntoResponse> {
    Ok(Json(daemon.dataset(&name).await?))
}

/// `GET /api/datasets`, shaped like the Hub's so `huggingface_hub` can list from the local
/// catalog: `search`, `author`, `sort`, `limit` and `Link` pagination with an opaque cursor.
async fn hub_listing(
    State(daemon): State<Arc<Daemon>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> HttpResult<Response> {
    let params = pairs(raw)?;
    let mut query = Query::default();
    let mut sort = SortKey::Relevance;
    let mut limit = MAX_LIMIT;
    let mut offset = 0;
    for (key, value) in &params {
        match key.as_str() {
            "search" => query
                .words
                .extend(value.split_whitespace().map(str::to_string)),
            "author" => query.authors.push(value.clone()),
            "sort" => sort = parse_sort(value)?,
            "limit" => limit = parse_number("limit", value)?.min(MAX_LIMIT),
            "cursor" => {
                offset = value.parse().map_err(|_| {
                    ApiError::bad_request(
                        "the cursor is not one this server made; follow the Link header verbatim",
                    )
                })?
            }
            "full" | "direction" | "cardData" | "config" | "expand" | "expand[]" => {}
            other => {
                return Err(ApiError::bad_request(format!(
                    "unsupported parameter `{other}`; this listing takes search, author, sort, limit and cursor"
                ))
                .into());
            }
        }
    }
    if limit == 0 {
        return Err(ApiError::bad_request("limit must be at least 1").into());
    }
    let (records, next) = daemon.hub_listing(query, sort, limit, offset).await?;
    let mut response = Json(records).into_response();
    if let Some(next) = next {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let mut url = url_with_params(host, params.iter().filter(|(k, _)| k != "cursor"));
        url.push_str(&format!(
            "{}cursor={next}",
            if url.contains('?') { "&" } else { "?" }
        ));
        if let Ok(value) = HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

fn url_with_params<'a>(host: &str, params: impl Iterator<Item = &'a (String, String)>) -> String {
    let encoded: Vec<String> = params
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let mut url = format!("http://{host}/api/datasets");
    if !encoded.is_empty() {
        url.push('?');
        url.push_str(&encoded.join("&"));
    }
    url
}

/// Percent-encodes a query component (RFC 3986 unreserved characters pass through).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn metrics(State(daemon): State<Arc<Daemon>>) -> impl IntoResponse {
    daemon.refresh_record_gauge();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        daemon.metrics.encode(),
    )
}

async fn not_found(State(daemon): State<Arc<Daemon>>, request: Request) -> HttpError {
    daemon
        .metrics
        .http_requests
        .get_or_create(&HttpLabels {
            route: "unmatched".to_string(),
            status: StatusCode::NOT_FOUND.as_u16(),
        })
        .inc();
    ApiError::not_found(format!(
        "no endpoint {} {}; see the README for the HTTP API",
        request.method(),
        request.uri().path()
    ))
    .into()
}

async fn count_requests(
    State(daemon): State<Arc<Daemon>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(String::new, |p| p.as_str().to_string());
    let response = next.run(request).await;
    daemon
        .metrics
        .http_requests
        .get_or_create(&HttpLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_keep_repeats_and_decode() {
        let p = serde_urlencoded_pairs("search=a%20b&filter=x&filter=y").unwrap();
        assert_eq!(p[0], ("search".into(), "a b".into()));
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn next_urls_are_absolute_and_encoded() {
        let params = [("search".to_string(), "a b".to_string())];
        assert_eq!(
            url_with_params("127.0.0.1:8719", params.iter()),
            "http://127.0.0.1:8719/api/datasets?search=a%20b"
        );
    }
}
