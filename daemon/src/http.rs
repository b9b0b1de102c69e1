//! The HTTP door for scripts: JSON endpoints, a Hub-compatible listing and `/metrics`.
//! Every handler delegates to [`Daemon`]; nothing here has logic of its own beyond parsing.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use hubdex_core::{Condition, Keyword, Query, SortKey, UnknownSort};
use hubdex_ipc::{ApiError, Downloaded, ErrorKind, JobId, JobParams, JobRef, SearchRequest};
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
        .route("/webhook", post(webhook))
        .route("/v1/events", get(events))
        .route("/v1/datasets/{name}", get(dataset_canonical))
        .route("/v1/datasets/{ns}/{name}", get(dataset))
        .route("/api/datasets", get(hub_listing))
        .route("/api/datasets/{name}", get(dataset_canonical))
        .route("/api/datasets/{ns}/{name}", get(dataset))
        .route("/metrics", get(metrics))
        .route("/v1/jobs", get(list_jobs).post(submit_job))
        .route("/v1/jobs/schema", get(job_schema))
        .route("/v1/jobs/{id}", get(get_job).delete(cancel_job))
        .route("/v1/downloaded/{name}", get(downloaded_canonical))
        .route("/v1/downloaded/{ns}/{name}", get(downloaded))
        .route("/v1/downloads", get(downloads))
        .route("/v1/datasets/{ns}/{name}/card", get(card))
        .route("/v1/datasets/{ns}/{name}/files", get(files))
        .route("/v1/datasets/{ns}/{name}/commits", get(commits))
        .route("/v1/datasets/{ns}/{name}/rows", get(rows))
        .route("/v1/follows", get(follows))
        .route(
            "/v1/follows/{name}",
            put(follow_canonical).delete(unfollow_canonical),
        )
        .route("/v1/follows/{ns}/{name}", put(follow).delete(unfollow))
        .route("/v1/follows/{ns}/{name}/seen", post(mark_seen))
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
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
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

/// A sort key (`downloads`) or, where a direction is allowed, a sort (`downloads-asc`).
fn parse_sort<T: std::str::FromStr<Err = UnknownSort>>(value: &str) -> HttpResult<T> {
    value
        .parse()
        .map_err(|e: UnknownSort| ApiError::bad_request(e.to_string()).into())
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
        facets: false,
    };
    for (key, value) in pairs(raw)? {
        match key.as_str() {
            "q" | "query" => request.query = value,
            "sort" => request.sort = Some(parse_sort(&value)?),
            "limit" => request.limit = parse_number("limit", &value)?,
            "offset" => request.offset = parse_number("offset", &value)?,
            "facets" => {
                request.facets = match value.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "`facets={value}` is not a boolean; give facets=true or facets=false"
                        ))
                        .into());
                    }
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter `{other}`; /v1/search takes q, sort, limit, offset and facets"
                ))
                .into());
            }
        }
    }
    Ok(Json(daemon.search(request).await?))
}

/// `POST /v1/sync[?kind=sweep]`: starts a sync now; `kind=sweep` makes it (or, when one is
/// running, the next one) a walk of the whole catalog that removes what the Hub deleted.
async fn sync_now(
    State(daemon): State<Arc<Daemon>>,
    RawQuery(raw): RawQuery,
) -> HttpResult<impl IntoResponse> {
    let mut sweep = false;
    for (key, value) in pairs(raw)? {
        match (key.as_str(), value.as_str()) {
            ("kind", "sweep") => sweep = true,
            ("kind", "auto") => sweep = false,
            ("kind", other) => {
                return Err(ApiError::bad_request(format!(
                    "unknown sync kind `{other}`; use kind=sweep to remove what the Hub deleted, or leave kind out"
                ))
                .into());
            }
            (other, _) => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter `{other}`; /v1/sync takes kind=sweep"
                ))
                .into());
            }
        }
    }
    let started = if sweep {
        daemon.sweep_now()
    } else {
        daemon.sync_now()
    };
    Ok(Json(json!({"started": started, "sweep": sweep})))
}

/// `POST /webhook`: a Hub webhook delivery (see `webhook.rs`); answers 202 with what will be
/// done, 200 when the event is ignored, 401 for a wrong secret, 400 for a bad payload.
async fn webhook(
    State(daemon): State<Arc<Daemon>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let secret = headers.get("x-webhook-secret").map(HeaderValue::as_bytes);
    match crate::webhook::receive(&daemon, secret, &body) {
        Ok(receipt) => {
            let status = if receipt.accepted {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            };
            (status, Json(receipt)).into_response()
        }
        Err(refusal) => {
            let status = match refusal {
                crate::webhook::Refusal::Secret => StatusCode::UNAUTHORIZED,
                crate::webhook::Refusal::Payload(_) => StatusCode::BAD_REQUEST,
                crate::webhook::Refusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
            };
            (status, Json(json!({"error": refusal.to_string()}))).into_response()
        }
    }
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
            "search" => query = query.and(Query::words(value)),
            "author" => {
                query = query.and(Query::filter(Condition::Keyword {
                    field: Keyword::Author,
                    values: vec![value.to_lowercase()],
                }))
            }
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

/// `POST /v1/jobs`: the body is a job's parameters tagged with its `kind`; answers 202 with
/// the queued job.
async fn submit_job(
    State(daemon): State<Arc<Daemon>>,
    body: axum::body::Bytes,
) -> HttpResult<impl IntoResponse> {
    let params: JobParams = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not a job: {e}; GET /v1/jobs/schema describes it, e.g. {{\"kind\": \"download\", \"dataset\": \"openai/gsm8k\"}}"
        ))
    })?;
    let job = daemon.submit_job(params).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

async fn list_jobs(State(daemon): State<Arc<Daemon>>) -> impl IntoResponse {
    Json(daemon.jobs())
}

async fn job_schema() -> impl IntoResponse {
    Json(hubdex_ipc::job_params_schema())
}

fn parse_job_id(text: &str) -> HttpResult<JobId> {
    text.parse::<JobRef>()
        .map(|r| r.0)
        .map_err(|e| ApiError::bad_request(e).into())
}

async fn get_job(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> HttpResult<impl IntoResponse> {
    Ok(Json(daemon.job(parse_job_id(&id)?)?))
}

/// `DELETE /v1/jobs/{id}` cancels the job and answers with it.
async fn cancel_job(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> HttpResult<impl IntoResponse> {
    Ok(Json(daemon.cancel_job(parse_job_id(&id)?).await?))
}

async fn downloaded(
    State(daemon): State<Arc<Daemon>>,
    Path((ns, name)): Path<(String, String)>,
) -> HttpResult<impl IntoResponse> {
    downloaded_answer(&daemon, &format!("{ns}/{name}")).await
}

/// `GET /v1/datasets/{ns}/{name}/rows?config=&split=&limit=`: the first rows of a split.
async fn rows(
    State(daemon): State<Arc<Daemon>>,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> HttpResult<impl IntoResponse> {
    let mut request = hubdex_ipc::RowsRequest {
        dataset: format!("{ns}/{name}"),
        config: None,
        split: None,
        limit: crate::rows::DEFAULT_ROWS,
    };
    for (key, value) in pairs(raw)? {
        match key.as_str() {
            "config" => request.config = Some(value).filter(|v| !v.is_empty()),
            "split" => request.split = Some(value).filter(|v| !v.is_empty()),
            "limit" => request.limit = parse_number("limit", &value)?,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter `{other}`; /v1/datasets/{{id}}/rows takes config, split and limit (1 to {})",
                    crate::rows::MAX_ROWS
                ))
                .into());
            }
        }
    }
    Ok(Json(daemon.rows(request).await?))
}

async fn downloaded_canonical(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
) -> HttpResult<impl IntoResponse> {
    downloaded_answer(&daemon, &name).await
}

/// What of a dataset is in the cache, or 404 when nothing is.
async fn downloaded_answer(daemon: &Daemon, id: &str) -> HttpResult<Json<Downloaded>> {
    match daemon.downloaded(id).await? {
        Some(summary) => Ok(Json(summary)),
        None => Err(ApiError::not_found(format!(
            "nothing of `{id}` is in the Hugging Face cache; download it with `hubdex download {id}` or POST /v1/jobs"
        ))
        .into()),
    }
}

/// `GET /v1/downloads`: every dataset with something in the Hugging Face cache.
async fn downloads(State(daemon): State<Arc<Daemon>>) -> HttpResult<impl IntoResponse> {
    Ok(Json(daemon.downloads().await?))
}

/// `GET /v1/datasets/{ns}/{name}/card`: the README, front matter removed.
async fn card(
    State(daemon): State<Arc<Daemon>>,
    Path((ns, name)): Path<(String, String)>,
) -> HttpResult<impl IntoResponse> {
    Ok(Json(daemon.card(&format!("{ns}/{name}")).await?))
}

/// `GET /v1/datasets/{ns}/{name}/files[?revision=]`.
async fn files(
    State(daemon): State<Arc<Daemon>>,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> HttpResult<impl IntoResponse> {
    let revision = revision_param(raw, "files")?;
    Ok(Json(daemon.files(&format!("{ns}/{name}"), revision).await?))
}

/// `GET /v1/datasets/{ns}/{name}/commits[?revision=]`.
async fn commits(
    State(daemon): State<Arc<Daemon>>,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> HttpResult<impl IntoResponse> {
    let revision = revision_param(raw, "commits")?;
    Ok(Json(
        daemon.commits(&format!("{ns}/{name}"), revision).await?,
    ))
}

/// The only parameter of the files and commits routes.
fn revision_param(raw: Option<String>, route: &str) -> HttpResult<Option<String>> {
    let mut revision = None;
    for (key, value) in pairs(raw)? {
        match key.as_str() {
            "revision" => revision = Some(value),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter `{other}`; /v1/datasets/{{id}}/{route} takes revision"
                ))
                .into());
            }
        }
    }
    Ok(revision)
}

/// `GET /v1/follows`: followed datasets, changed ones first.
async fn follows(State(daemon): State<Arc<Daemon>>) -> HttpResult<impl IntoResponse> {
    Ok(Json(daemon.follows().await?))
}

/// `PUT /v1/follows/{ns}/{name}`: follows a dataset (again: nothing changes).
async fn follow(
    State(daemon): State<Arc<Daemon>>,
    Path((ns, name)): Path<(String, String)>,
) -> HttpResult<impl IntoResponse> {
    Ok(Json(daemon.follow(&format!("{ns}/{name}")).await?))
}

async fn follow_canonical(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
) -> HttpResult<impl IntoResponse> {
    Ok(Json(daemon.follow(&name).await?))
}

/// `DELETE /v1/follows/{ns}/{name}`: `{"unfollowed": false}` when it was not followed.
async fn unfollow(
    State(daemon): State<Arc<Daemon>>,
    Path((ns, name)): Path<(String, String)>,
) -> HttpResult<impl IntoResponse> {
    let removed = daemon.unfollow(&format!("{ns}/{name}")).await?;
    Ok(Json(json!({"unfollowed": removed})))
}

async fn unfollow_canonical(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
) -> HttpResult<impl IntoResponse> {
    let removed = daemon.unfollow(&name).await?;
    Ok(Json(json!({"unfollowed": removed})))
}

/// `POST /v1/follows/{ns}/{name}/seen`: marks a followed dataset seen now.
async fn mark_seen(
    State(daemon): State<Arc<Daemon>>,
    Path((ns, name)): Path<(String, String)>,
) -> HttpResult<impl IntoResponse> {
    Ok(Json(daemon.mark_seen(&format!("{ns}/{name}")).await?))
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
