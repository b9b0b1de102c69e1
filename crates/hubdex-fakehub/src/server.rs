//! The HTTP side: routes, the layer every request passes (log, faults, rate-limit headers),
//! and the handle that keeps a server running.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::catalog::{Catalog, hex};
use crate::query::{self, ListRequest};
use crate::render::{Item, Items};
use crate::{FakeHubError, FakeHubOptions, Fault, LoggedRequest, cursor};

/// The most requests the log keeps; older ones are dropped first.
const LOG_CAPACITY: usize = 100_000;
/// The Hub's rate-limit window, in seconds.
const WINDOW_SECONDS: u64 = 300;
/// `api` requests per window: anonymous (per client) and with a token (a free user).
const QUOTA_ANONYMOUS: u64 = 500;
const QUOTA_TOKEN: u64 = 1000;

const JSON: &str = "application/json; charset=utf-8";
const X_ERROR_CODE: HeaderName = HeaderName::from_static("x-error-code");
const X_ERROR_MESSAGE: HeaderName = HeaderName::from_static("x-error-message");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// A fake Hub serving on a local port. Dropping it stops the server (requests in flight
/// finish); [`RunningFakeHub::shutdown`] also waits until it has stopped.
pub struct RunningFakeHub {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningFakeHub {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, e.g. `http://127.0.0.1:41234` (no trailing slash): what `HF_ENDPOINT`
    /// should be set to.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request seen so far (up to the last 100,000), in arrival order. Requests to the
    /// fake's own `/_fakehub/` routes are not included.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.requests()
    }

    /// Makes the next `fault.count` requests under `/api/` fail as the fault describes.
    /// Faults injected while others are pending queue up behind them.
    pub fn inject_faults(&self, fault: Fault) {
        self.shared.add_fault(fault);
    }

    /// Stops accepting connections and waits for requests in flight to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl std::fmt::Debug for RunningFakeHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningFakeHub")
            .field("addr", &self.addr)
            .field("records", &self.shared.catalog.len())
            .finish()
    }
}

impl Drop for RunningFakeHub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `addr` and serves the catalog until the returned handle is dropped or shut down.
pub(crate) async fn spawn(
    catalog: Arc<Catalog>,
    options: FakeHubOptions,
    addr: SocketAddr,
) -> Result<RunningFakeHub, FakeHubError> {
    let bind_error = |cause| FakeHubError::Bind { addr, cause };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    let shared = Arc::new(Shared {
        catalog,
        page_size: options.page_size.max(1),
        log_requests: options.log_requests,
        local_addr,
        started: unix_seconds(),
        next_request: AtomicU64::new(0),
        log: Mutex::new(RequestLog::default()),
        faults: Mutex::new(VecDeque::new()),
        windows: Mutex::new(HashMap::new()),
    });
    let app = router(Arc::clone(&shared));
    let listener = listener.tap_io(|stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY on a connection: {e}");
        }
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!("the fake Hub stopped serving: {e}");
        }
    });
    Ok(RunningFakeHub {
        addr: local_addr,
        shared,
        stop: Some(stop),
        task: Some(task),
    })
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/datasets", get(list_datasets))
        .route("/api/datasets/{*rest}", get(dataset_info))
        .route("/_fakehub/faults", post(add_faults))
        .route("/_fakehub/requests", get(list_requests))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            hub_layer,
        ))
        .with_state(shared)
}

/// State shared by every request.
struct Shared {
    catalog: Arc<Catalog>,
    page_size: usize,
    log_requests: bool,
    local_addr: SocketAddr,
    /// Start time, for request ids.
    started: u64,
    next_request: AtomicU64,
    log: Mutex<RequestLog>,
    faults: Mutex<VecDeque<Fault>>,
    /// Rate-limit windows by client (a hash of its token; `None` for anonymous).
    windows: Mutex<HashMap<Option<u64>, Window>>,
}

#[derive(Default)]
struct RequestLog {
    /// Sequence number of `entries[0]`.
    first: u64,
    entries: VecDeque<LoggedRequest>,
}

struct Window {
    number: u64,
    used: u64,
}

/// Locks a mutex; a panic elsewhere while holding it leaves data that is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.log).entries.iter().cloned().collect()
    }

    /// Logs a request; returns its sequence number.
    fn log_start(&self, entry: LoggedRequest) -> u64 {
        let mut log = lock(&self.log);
        if log.entries.len() == LOG_CAPACITY {
            log.entries.pop_front();
            log.first += 1;
        }
        log.entries.push_back(entry);
        log.first + log.entries.len() as u64 - 1
    }

    fn log_status(&self, sequence: u64, status: StatusCode) {
        let mut log = lock(&self.log);
        let first = log.first;
        if let Some(entry) = sequence
            .checked_sub(first)
            .and_then(|i| log.entries.get_mut(i as usize))
        {
            entry.status = Some(status.as_u16());
        }
    }

    fn add_fault(&self, fault: Fault) -> usize {
        let mut faults = lock(&self.faults);
        if fault.count > 0 {
            faults.push_back(fault);
        }
        faults.iter().map(|f| f.count).sum()
    }

    fn take_fault(&self) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let front = faults.front_mut()?;
        front.count -= 1;
        let fault = front.clone();
        if front.count == 0 {
            faults.pop_front();
        }
        Some(fault)
    }

    /// Counts a request against its client's window (when `counts`) and returns the
    /// `RateLimit` and `RateLimit-Policy` header values.
    fn rate_limit(&self, client: Option<u64>, counts: bool) -> (String, String) {
        let now = unix_seconds();
        let number = now / WINDOW_SECONDS;
        let quota = if client.is_some() {
            QUOTA_TOKEN
        } else {
            QUOTA_ANONYMOUS
        };
        let mut windows = lock(&self.windows);
        let window = windows.entry(client).or_insert(Window { number, used: 0 });
        if window.number != number {
            *window = Window { number, used: 0 };
        }
        if counts {
            window.used += 1;
        }
        let remaining = quota.saturating_sub(window.used);
        let reset = WINDOW_SECONDS - now % WINDOW_SECONDS;
        (
            format!("\"api\";r={remaining};t={reset}"),
            format!("\"fixed window\";\"api\";q={quota};w={WINDOW_SECONDS}"),
        )
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What every request passes through: the request log, injected faults, and the headers the
/// Hub puts on every response.
async fn hub_layer(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.starts_with("/_fakehub/") {
        return next.run(request).await;
    }
    let api = path.starts_with("/api/");
    let started = Instant::now();
    let method = request.method().clone();
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| path.to_string(), |pq| pq.as_str().to_string());
    let headers = request.headers();
    let client = headers.get(header::AUTHORIZATION).map(|token| {
        let mut hasher = DefaultHasher::new();
        token.as_bytes().hash(&mut hasher);
        hasher.finish()
    });
    let sequence = shared.log_start(LoggedRequest {
        method: method.to_string(),
        path: target.clone(),
        authorization: client.is_some(),
        range: headers
            .get(header::RANGE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        status: None,
    });
    let (ratelimit, policy) = shared.rate_limit(client, api);
    let number = shared.next_request.fetch_add(1, Ordering::Relaxed);

    let fault = if api { shared.take_fault() } else { None };
    let mut response = match fault {
        Some(fault) => fault_response(&fault),
        None => next.run(request).await,
    };

    let headers = response.headers_mut();
    let request_id = format!("Root=1-{:08x}-{number:024x}", shared.started as u32);
    for (name, value) in [
        (RATELIMIT, ratelimit),
        (RATELIMIT_POLICY, policy),
        (X_REQUEST_ID, request_id),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    let status = response.status();
    shared.log_status(sequence, status);
    if shared.log_requests {
        tracing::info!(
            %method,
            %target,
            status = status.as_u16(),
            elapsed_us = started.elapsed().as_micros(),
            "request"
        );
    }
    response
}

/// The status a fault answers with: a final status (200–599), else 500.
fn fault_status(status: u16) -> Option<StatusCode> {
    StatusCode::from_u16(status)
        .ok()
        .filter(|s| (200..600).contains(&s.as_u16()))
}

fn fault_response(fault: &Fault) -> Response {
    let status = fault_status(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = if fault.body.trim_start().starts_with('<') {
        "text/html; charset=utf-8"
    } else if status.is_success()
        || serde_json::from_str::<serde::de::IgnoredAny>(&fault.body).is_ok()
    {
        JSON
    } else {
        "text/plain; charset=utf-8"
    };
    response(status, content_type, fault.body.clone().into())
}

fn response(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => response(status, JSON, body.into()),
        Err(e) => hub_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            &format!("cannot write the response: {e}"),
        ),
    }
}

/// A Hub error: `{"error": message}`, with `X-Error-Message` (and `X-Error-Code` when the
/// Hub sends one for this case).
fn hub_error(status: StatusCode, code: Option<&'static str>, message: &str) -> Response {
    hub_error_with_header(status, code, message, message)
}

fn hub_error_with_header(
    status: StatusCode,
    code: Option<&'static str>,
    header_message: &str,
    body_message: &str,
) -> Response {
    let body = serde_json::json!({ "error": body_message });
    let mut response = response(status, JSON, body.to_string().into());
    let headers = response.headers_mut();
    if let Some(code) = code {
        headers.insert(X_ERROR_CODE, HeaderValue::from_static(code));
    }
    if let Ok(value) = HeaderValue::from_str(header_message) {
        headers.insert(X_ERROR_MESSAGE, value);
    }
    response
}

fn bad_request(message: &str) -> Response {
    hub_error(StatusCode::BAD_REQUEST, None, message)
}

/// `GET /api/datasets`.
async fn list_datasets(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let request = match query::list_request(raw.as_deref().unwrap_or(""), shared.page_size) {
        Ok(request) => request,
        Err(message) => return bad_request(&message),
    };
    let host = request_host(&headers, shared.local_addr);
    let catalog = Arc::clone(&shared.catalog);
    let page = tokio::task::spawn_blocking(move || list_page(&catalog, &request, &host)).await;
    let (body, link) = match page {
        Ok(Ok(page)) => page,
        Ok(Err(message)) => return hub_error(StatusCode::INTERNAL_SERVER_ERROR, None, &message),
        Err(e) => {
            return hub_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                &format!("listing failed: {e}"),
            );
        }
    };
    let mut response = response(StatusCode::OK, JSON, body.into());
    if let Some(link) = link {
        match HeaderValue::from_str(&link) {
            Ok(value) => {
                response.headers_mut().insert(header::LINK, value);
            }
            Err(_) => {
                return hub_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    "cannot write the Link header for this query",
                );
            }
        }
    }
    response
}

/// One page as JSON, and the `Link` header value when more items follow.
fn list_page(
    catalog: &Catalog,
    request: &ListRequest,
    host: &str,
) -> Result<(Vec<u8>, Option<String>), String> {
    let filter = catalog.filter(
        &request.search,
        &request.author,
        &request.filter,
        request.gated,
    );
    let (indexes, more) =
        catalog.page(request.sort, request.after.as_ref(), request.limit, &filter);
    let body = serde_json::to_vec(&Items {
        catalog,
        indexes: &indexes,
        props: request.props,
    })
    .map_err(|e| format!("cannot write the page: {e}"))?;
    let link = indexes.last().filter(|_| more).map(|&last| {
        let cursor = cursor::encode(request.sort, &catalog.position(request.sort, last));
        let separator = if request.link_query.is_empty() {
            ""
        } else {
            "&"
        };
        format!(
            "<http://{host}/api/datasets?{}{separator}cursor={cursor}>; rel=\"next\"",
            request.link_query
        )
    });
    Ok((body, link))
}

/// The host (and port) the client addressed, for absolute `Link` URLs; the server's own
/// address when the `Host` header is missing or odd.
fn request_host(headers: &HeaderMap, local: SocketAddr) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-_:[]".contains(&b))
        })
        .map_or_else(|| local.to_string(), str::to_string)
}

/// Which repo (and revision) a `/api/datasets/…` path names.
fn info_target(rest: &str) -> Option<(String, Option<String>)> {
    let segments: Vec<String> = rest.split('/').map(query::decode_path_segment).collect();
    if segments.iter().any(String::is_empty) {
        return None;
    }
    match segments.as_slice() {
        [name] => Some((name.clone(), None)),
        [ns, name] => Some((format!("{ns}/{name}"), None)),
        [ns, name, keyword, rev @ ..] if keyword == "revision" && !rev.is_empty() => {
            Some((format!("{ns}/{name}"), Some(rev.join("/"))))
        }
        [name, keyword, rev @ ..] if keyword == "revision" && !rev.is_empty() => {
            Some((name.clone(), Some(rev.join("/"))))
        }
        _ => None,
    }
}

/// `GET /api/datasets/{ns}/{name}`, `/api/datasets/{name}` and their `/revision/{rev}`.
async fn dataset_info(State(shared): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Response {
    let rest = uri
        .path()
        .strip_prefix("/api/datasets/")
        .unwrap_or_default();
    let Some((id, revision)) = info_target(rest) else {
        return not_found_route(&Method::GET, &uri);
    };
    let props = match query::info_props(uri.query().unwrap_or("")) {
        Ok(props) => props,
        Err(message) => return bad_request(&message),
    };
    let Some(index) = shared.catalog.find(&id) else {
        return if headers.contains_key(header::AUTHORIZATION) {
            hub_error(
                StatusCode::NOT_FOUND,
                Some("RepoNotFound"),
                "Repository not found",
            )
        } else {
            hub_error_with_header(
                StatusCode::UNAUTHORIZED,
                Some("RepoNotFound"),
                "Invalid username or password.",
                "Repository not found",
            )
        };
    };
    if let Some(revision) = revision {
        let sha = hex(&shared.catalog.record(index).sha);
        let known = matches!(revision.as_str(), "main" | "HEAD" | "refs/heads/main")
            || revision.eq_ignore_ascii_case(&sha);
        if !known {
            let message = format!("Invalid rev id: {revision}");
            return hub_error(StatusCode::NOT_FOUND, Some("RevisionNotFound"), &message);
        }
    }
    json_response(
        StatusCode::OK,
        &Item {
            catalog: &shared.catalog,
            index,
            props,
        },
    )
}

/// `POST /_fakehub/faults`: inject a [`Fault`]; answers how many failures are pending.
async fn add_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let fault: Fault = match serde_json::from_slice(&body) {
        Ok(fault) => fault,
        Err(e) => {
            return bad_request(&format!(
                "expected a JSON fault such as {{\"count\":2,\"status\":502,\"body\":\"<html>Bad Gateway</html>\"}}: {e}"
            ));
        }
    };
    if fault_status(fault.status).is_none() {
        return bad_request(&format!(
            "`status` must be a final HTTP status from 200 to 599, got {}",
            fault.status
        ));
    }
    let pending = shared.add_fault(fault);
    json_response(StatusCode::OK, &serde_json::json!({ "pending": pending }))
}

/// `GET /_fakehub/requests`: the request log.
async fn list_requests(State(shared): State<Arc<Shared>>) -> Response {
    json_response(StatusCode::OK, &shared.requests())
}

async fn not_found(method: Method, uri: Uri) -> Response {
    not_found_route(&method, &uri)
}

fn not_found_route(method: &Method, uri: &Uri) -> Response {
    let message = format!(
        "Sorry, we can't find the page you are looking for. (hubdex-fakehub does not serve {method} {}; its README lists what it serves)",
        uri.path()
    );
    let body = serde_json::json!({ "error": message });
    response(StatusCode::NOT_FOUND, JSON, body.to_string().into())
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let message = format!("{method} is not allowed on {}", uri.path());
    hub_error(StatusCode::METHOD_NOT_ALLOWED, None, &message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_paths_name_repos_and_revisions() {
        let t = |s: &str| info_target(s);
        assert_eq!(t("glue"), Some(("glue".into(), None)));
        assert_eq!(t("a/b"), Some(("a/b".into(), None)));
        assert_eq!(
            t("a/b/revision/main"),
            Some(("a/b".into(), Some("main".into())))
        );
        assert_eq!(
            t("a/b/revision/refs%2Fheads%2Fmain"),
            Some(("a/b".into(), Some("refs/heads/main".into())))
        );
        assert_eq!(
            t("glue/revision/v1"),
            Some(("glue".into(), Some("v1".into())))
        );
        assert_eq!(
            t("a/revision/revision/x"),
            Some(("a/revision".into(), Some("x".into())))
        );
        assert_eq!(t("a/b/tree/main"), None);
        assert_eq!(t("a/b/"), None);
        assert_eq!(t("a/b/revision"), None);
    }

    #[test]
    fn link_host_comes_from_the_request() {
        let local: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let mut headers = HeaderMap::new();
        assert_eq!(request_host(&headers, local), "127.0.0.1:9");
        headers.insert(header::HOST, HeaderValue::from_static("localhost:8719"));
        assert_eq!(request_host(&headers, local), "localhost:8719");
        headers.insert(header::HOST, HeaderValue::from_static("evil.com/x?"));
        assert_eq!(request_host(&headers, local), "127.0.0.1:9");
    }
}
