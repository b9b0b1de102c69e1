//! The HTTP side: routes, the layer every request passes (log, faults, rate-limit headers),
//! and the handle that keeps a server running.

use std::collections::VecDeque;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
use crate::mutate::{Mutation, MutationReport, Mutator};
use crate::query::{self, ListRequest};
use crate::ratelimit::{Limiter, RateLimits, Verdict};
use crate::render::{Item, Items};
use crate::webhooks::{self, WebhookDelivery, WebhookTarget, Webhooks};
use crate::{FakeHubError, FakeHubOptions, Fault, LoggedRequest, cursor};

/// The most requests the log keeps; older ones are dropped first.
const LOG_CAPACITY: usize = 100_000;

pub(crate) const JSON: &str = "application/json; charset=utf-8";
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

    /// The file side: repos and their faults.
    pub(crate) fn files(&self) -> &crate::files::Files {
        &self.shared.files
    }

    /// How many datasets the catalog holds now.
    pub fn len(&self) -> usize {
        self.shared.catalog().len()
    }

    /// True when the catalog holds no dataset.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes the catalog as `batch` says (as `POST /_fakehub/mutate` does) and sends the
    /// webhooks for the changes; returns what changed.
    pub async fn mutate(&self, batch: Mutation) -> MutationReport {
        mutate(&self.shared, batch).await
    }

    /// Changes how request rates are limited, forgetting every count so far.
    pub fn set_rate_limits(&self, limits: RateLimits) {
        lock(&self.shared.limiter).set(limits);
    }

    /// Spends the current rate-limit window for every client (see `POST
    /// /_fakehub/rate-limit/exhaust`).
    pub fn exhaust_rate_limit(&self) {
        lock(&self.shared.limiter).exhaust(unix_seconds());
    }

    /// Registers a URL that gets a webhook for every later change of the catalog.
    pub fn add_webhook_target(&self, target: WebhookTarget) {
        self.shared.webhooks.add_target(target);
    }

    /// Every webhook sent so far, oldest first, with the answer each got.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.shared.webhooks.deliveries()
    }

    /// Stops accepting connections and waits for requests in flight to finish.
    pub async fn shutdown(mut self) {
        self.shared.files.close();
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
            .field("records", &self.shared.catalog().len())
            .finish()
    }
}

impl Drop for RunningFakeHub {
    fn drop(&mut self) {
        self.shared.files.close();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// How a served catalog changes and how requests are limited and slowed: the settings of
/// [`crate::FakeHub`]'s `with_…` methods.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dynamics {
    /// Seeds the mutations (the synthetic catalog's seed, else 0).
    pub seed: u64,
    pub rate_limits: RateLimits,
    /// Added before answering every `/api/` request.
    pub latency: Duration,
    /// A mutation batch applied every so often.
    pub schedule: Option<(Duration, Mutation)>,
}

/// Binds `addr` and serves the catalog until the returned handle is dropped or shut down.
pub(crate) async fn spawn(
    catalog: Arc<Catalog>,
    options: FakeHubOptions,
    dynamics: Dynamics,
    repos: crate::repos::Repos,
    addr: SocketAddr,
) -> Result<RunningFakeHub, FakeHubError> {
    let bind_error = |cause| FakeHubError::Bind { addr, cause };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    let (webhooks, deliveries) = Webhooks::new();
    let webhooks = Arc::new(webhooks);
    tokio::spawn(webhooks::deliver(Arc::downgrade(&webhooks), deliveries));
    let shared = Arc::new(Shared {
        mutator: tokio::sync::Mutex::new(Mutator::new(dynamics.seed, catalog.len())),
        catalog: RwLock::new(catalog),
        page_size: options.page_size.max(1),
        log_requests: options.log_requests,
        local_addr,
        started: unix_seconds(),
        next_request: AtomicU64::new(0),
        log: Mutex::new(RequestLog::default()),
        faults: Mutex::new(VecDeque::new()),
        limiter: Mutex::new(Limiter::new(dynamics.rate_limits)),
        latency: dynamics.latency,
        webhooks,
        files: Arc::new(crate::files::Files::new(
            repos,
            options.tree_page_size,
            options.lfs_redirects,
            local_addr,
        )),
    });
    if let Some((every, batch)) = dynamics.schedule {
        tokio::spawn(mutate_on_schedule(Arc::downgrade(&shared), every, batch));
    }
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
        .route("/api/datasets/{*rest}", get(dataset_info).post(paths_info))
        .merge(crate::files::routes(Arc::clone(&shared.files)))
        .merge(crate::viewer::routes(Arc::clone(&shared.files)))
        .route("/_fakehub/faults", post(add_faults))
        .route("/_fakehub/requests", get(list_requests))
        .route("/_fakehub/mutate", post(mutate_route))
        .route("/_fakehub/rate-limit", post(set_rate_limits))
        .route("/_fakehub/rate-limit/exhaust", post(exhaust_rate_limit))
        .route("/_fakehub/webhook-target", post(add_webhook_target))
        .route("/_fakehub/webhooks", get(list_webhook_deliveries))
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
    /// The catalog now; a mutation swaps in the next version.
    catalog: RwLock<Arc<Catalog>>,
    /// Serializes mutations and makes them deterministic.
    mutator: tokio::sync::Mutex<Mutator>,
    page_size: usize,
    log_requests: bool,
    local_addr: SocketAddr,
    /// Start time, for request ids.
    started: u64,
    next_request: AtomicU64,
    log: Mutex<RequestLog>,
    faults: Mutex<VecDeque<Fault>>,
    /// Rate-limit windows by client (a hash of its token; `None` for anonymous).
    limiter: Mutex<Limiter>,
    latency: Duration,
    webhooks: Arc<Webhooks>,
    /// Repos with files, and the file side's faults.
    files: Arc<crate::files::Files>,
}

#[derive(Default)]
struct RequestLog {
    /// Sequence number of `entries[0]`.
    first: u64,
    entries: VecDeque<LoggedRequest>,
}

/// Locks a mutex; a panic elsewhere while holding it leaves data that is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// The catalog as it is now.
    fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog.read().unwrap_or_else(PoisonError::into_inner))
    }

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
    let verdict = lock(&shared.limiter).check(client, api, unix_seconds());
    let number = shared.next_request.fetch_add(1, Ordering::Relaxed);

    let (mut response, limits) = match verdict {
        Verdict::Refuse {
            headers,
            retry_after,
        } => (too_many_requests(retry_after), Some(headers)),
        Verdict::Serve(limits) => {
            let fault = if api { shared.take_fault() } else { None };
            if api && !shared.latency.is_zero() {
                tokio::time::sleep(shared.latency).await;
            }
            let response = match fault {
                Some(fault) => fault_response(&fault),
                None => next.run(request).await,
            };
            (response, limits)
        }
    };

    let headers = response.headers_mut();
    let request_id = format!("Root=1-{:08x}-{number:024x}", shared.started as u32);
    let limits = limits.map(|l| [(RATELIMIT, l.ratelimit), (RATELIMIT_POLICY, l.policy)]);
    for (name, value) in limits
        .into_iter()
        .flatten()
        .chain([(X_REQUEST_ID, request_id)])
    {
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

/// The Hub's refusal of a request beyond the rate limit.
fn too_many_requests(retry_after: u64) -> Response {
    let message = format!(
        "You have been rate-limited; you can retry this action in about {retry_after} seconds."
    );
    let mut response = hub_error(StatusCode::TOO_MANY_REQUESTS, None, &message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
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

pub(crate) fn response(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub(crate) fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response {
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
pub(crate) fn hub_error(status: StatusCode, code: Option<&'static str>, message: &str) -> Response {
    hub_error_with_header(status, code, message, message)
}

pub(crate) fn hub_error_with_header(
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

pub(crate) fn bad_request(message: &str) -> Response {
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
    let catalog = shared.catalog();
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
pub(crate) fn request_host(headers: &HeaderMap, local: SocketAddr) -> String {
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
    let catalog = shared.catalog();
    let record = |id: &str, props: crate::render::Props| {
        let index = catalog.find(id)?;
        serde_json::to_value(Item {
            catalog: &catalog,
            index,
            props,
        })
        .ok()
    };
    if let Some(answer) = crate::files::api_get(&shared.files, &headers, &uri, &record).await {
        return answer;
    }
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
    let Some(index) = catalog.find(&id) else {
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
        let sha = hex(&catalog.record(index).sha);
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
            catalog: &catalog,
            index,
            props,
        },
    )
}

/// `POST /api/datasets/{ns}/{name}/paths-info/{rev}`.
async fn paths_info(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    crate::files::paths_info(&shared.files, &headers, &uri, &body).await
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

/// Applies one mutation batch off the async threads, swaps the new catalog in, then queues
/// the webhooks. Batches run one at a time.
async fn mutate(shared: &Arc<Shared>, batch: Mutation) -> MutationReport {
    let mut mutator = shared.mutator.lock().await;
    let base = shared.catalog();
    let mut working = mutator.clone();
    let now_ms = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
    )
    .unwrap_or(i64::MAX);
    let applied = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let (next, report, changes) = working.apply(&base, batch, now_ms);
        (next, report, changes, working, started.elapsed())
    })
    .await;
    let (next, report, changes, working, took) = match applied {
        Ok(applied) => applied,
        Err(e) => {
            tracing::error!("a mutation batch failed: {e}");
            return MutationReport::default();
        }
    };
    *mutator = working;
    *shared
        .catalog
        .write()
        .unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
    drop(mutator);
    tracing::info!(
        batch = report.batch,
        created = report.created.len(),
        updated = report.updated.len(),
        deleted = report.deleted.len(),
        moved = report.moved.len(),
        records = report.records,
        took_ms = took.as_millis(),
        "catalog mutated"
    );
    shared
        .webhooks
        .send(&format!("http://{}", shared.local_addr), &changes);
    report
}

/// Applies `batch` every `every` until the server is gone.
async fn mutate_on_schedule(shared: Weak<Shared>, every: Duration, batch: Mutation) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        mutate(&shared, batch).await;
    }
}

/// `POST /_fakehub/mutate?created=&updated=&deleted=&moved=`: one mutation batch; answers
/// the [`MutationReport`].
async fn mutate_route(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let query = raw.unwrap_or_default();
    let batch = match Mutation::parse(&query.replace('&', ",")) {
        Ok(batch) => batch,
        Err(e) => {
            return bad_request(&format!(
                "{e}; ask e.g. POST /_fakehub/mutate?created=5&updated=10&deleted=2&moved=1"
            ));
        }
    };
    json_response(StatusCode::OK, &mutate(&shared, batch).await)
}

/// `POST /_fakehub/rate-limit`: a [`RateLimits`] as JSON; answers the limits now in force.
async fn set_rate_limits(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let limits: RateLimits = match serde_json::from_slice(&body) {
        Ok(limits) => limits,
        Err(e) => {
            return bad_request(&format!(
                "expected rate limits such as {{\"mode\":\"enforced\",\"quota\":100,\"window_secs\":10}}, {{\"mode\":\"reported\"}} or {{\"mode\":\"off\"}}: {e}"
            ));
        }
    };
    lock(&shared.limiter).set(limits);
    json_response(StatusCode::OK, &limits)
}

/// `POST /_fakehub/rate-limit/exhaust`: spends the current window for every client.
async fn exhaust_rate_limit(State(shared): State<Arc<Shared>>) -> Response {
    let mut limiter = lock(&shared.limiter);
    limiter.exhaust(unix_seconds());
    json_response(StatusCode::OK, &limiter.limits())
}

/// `POST /_fakehub/webhook-target`: a [`WebhookTarget`] as JSON; answers every target.
async fn add_webhook_target(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let target: WebhookTarget = match serde_json::from_slice(&body) {
        Ok(target) => target,
        Err(e) => {
            return bad_request(&format!(
                "expected a target such as {{\"url\":\"http://127.0.0.1:8719/webhook\",\"secret\":\"s3cret\"}}: {e}"
            ));
        }
    };
    if !(target.url.starts_with("http://") || target.url.starts_with("https://")) {
        return bad_request(&format!(
            "`{}` is not an http:// or https:// URL",
            target.url
        ));
    }
    json_response(StatusCode::OK, &shared.webhooks.add_target(target))
}

/// `GET /_fakehub/webhooks`: every webhook sent, with the answer it got.
async fn list_webhook_deliveries(State(shared): State<Arc<Shared>>) -> Response {
    json_response(StatusCode::OK, &shared.webhooks.deliveries())
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
