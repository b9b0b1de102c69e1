//! The file side of the fake Hub (hub-api.md §2.1–2.5 and §3): dataset info with siblings,
//! tree, paths-info, commits, refs, resolve with ETags, ranges and LFS redirects to the
//! fake's own CDN route, the Hub's access errors, and the control routes and faults tests
//! use to change repos and break downloads.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::body::{Faults, FileFault, Serve, if_none_match};
use crate::catalog::{derive_object_id, format_time, hex, parse_hex};
use crate::query::{self, boolean, percent_decode};
use crate::render::{Prop, Props};
use crate::repos::{Denial, FileEntry, Repo, RepoAccess, RepoCommit, Repos, split_parent};
use crate::server::{
    bad_request, hub_error, hub_error_with_header, json_response, request_host, response,
};
use crate::{FakeHubError, RunningFakeHub};

const X_REPO_COMMIT: HeaderName = HeaderName::from_static("x-repo-commit");
const X_LINKED_ETAG: HeaderName = HeaderName::from_static("x-linked-etag");
const X_LINKED_SIZE: HeaderName = HeaderName::from_static("x-linked-size");
const X_TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");

/// How long a CDN URL stays valid, like the Hub's signed URLs.
const CDN_URL_SECONDS: u64 = 3600;
/// The most paths one paths-info request may ask for.
const MAX_PATHS: usize = 2000;
/// Tree pages with `expand=true` hold at most this many entries (the Hub's spec says 100).
const EXPANDED_PAGE: usize = 100;
/// Commits per page when the request sets no `limit`.
const DEFAULT_COMMITS_PAGE: usize = 50;

/// A catalog lookup: the record with this id rendered with these properties, if the catalog
/// has it. The server passes it in, so this module never depends on how the catalog is kept.
pub(crate) type RecordFn<'a> = dyn Fn(&str, Props) -> Option<Value> + Send + Sync + 'a;

/// The file side's state: repos, pending faults, and what URLs need.
pub(crate) struct Files {
    repos: RwLock<Repos>,
    faults: Mutex<Faults>,
    /// Most entries on a tree or commits page.
    page_size: usize,
    /// Answer LFS resolves with a 302 to the CDN route (else serve them directly).
    lfs_redirects: bool,
    local_addr: SocketAddr,
    /// Signs CDN URLs.
    secret: String,
    /// Set to `true` when the server stops, so stalled bodies end.
    closing: watch::Sender<bool>,
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Files {
    pub(crate) fn new(
        repos: Repos,
        page_size: usize,
        lfs_redirects: bool,
        local_addr: SocketAddr,
    ) -> Files {
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Files {
            repos: RwLock::new(repos),
            faults: Mutex::new(Faults::default()),
            page_size: page_size.max(1),
            lfs_redirects,
            local_addr,
            secret: hex(&Sha256::digest(format!("{local_addr}@{started}"))),
            closing: watch::Sender::new(false),
        }
    }

    /// Ends stalled bodies: called when the server stops.
    pub(crate) fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Reads the repo's folders again when it comes from a `--repos` directory (off the
    /// async runtime), so changes on disk become new commits before the request is answered.
    async fn refresh(&self, id: &str) {
        let plan = {
            let repos = read(&self.repos);
            if !repos.reads_disk(id) {
                return;
            }
            repos.disk_plan(id)
        };
        let Some(plan) = plan else { return };
        match tokio::task::spawn_blocking(move || plan.scan()).await {
            Ok(Ok(scanned)) => write(&self.repos).apply(scanned),
            Ok(Err(e)) => tracing::warn!(id, "cannot read the repo's folder again: {e}"),
            Err(e) => tracing::warn!(id, "reading the repo's folder failed: {e}"),
        }
    }

    /// Runs `f` on a repo (or `None` when there is none), after reading it again from its
    /// `--repos` folder: how the dataset-viewer routes (viewer.rs) see the repos.
    pub(crate) async fn with_repo<T>(&self, id: &str, f: impl FnOnce(Option<&Repo>) -> T) -> T {
        self.refresh(id).await;
        f(read(&self.repos).get(id))
    }

    fn take_body_fault(&self, method: &Method) -> Option<FileFault> {
        (method != Method::HEAD)
            .then(|| lock(&self.faults).take_body())
            .flatten()
    }

    /// A signed URL of the fake's CDN route for a blob, on another host name than the one
    /// the client used (`localhost` ↔ the IP address), as the Hub's CDN is on another host.
    fn cdn_url(&self, host: &str, sha256: &str) -> String {
        let expires = unix_seconds() + CDN_URL_SECONDS;
        let signature = self.sign(sha256, expires);
        format!(
            "http://{}/lfs-cdn/{sha256}?Expires={expires}&Signature={signature}",
            cdn_host(host, self.local_addr)
        )
    }

    fn sign(&self, sha256: &str, expires: u64) -> String {
        let digest = Sha256::digest(format!("{}:{sha256}:{expires}", self.secret));
        hex(&digest[..16])
    }
}

/// The other name of the host a client used: `localhost` for an address, the listening
/// address for `localhost`; the port stays.
fn cdn_host(host: &str, local: SocketAddr) -> String {
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, tail)) => (ip, tail.strip_prefix(':')),
            None => (rest, None),
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        },
    };
    let port = port
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(local.port());
    if name.eq_ignore_ascii_case("localhost") {
        SocketAddr::new(local.ip(), port).to_string()
    } else {
        format!("localhost:{port}")
    }
}

/// The token of an `Authorization` header, without `Bearer `.
fn token(headers: &HeaderMap) -> Option<String> {
    headers.get(header::AUTHORIZATION).map(|value| {
        let value = String::from_utf8_lossy(value.as_bytes());
        let value = value.trim();
        value
            .strip_prefix("Bearer ")
            .unwrap_or(value)
            .trim()
            .to_string()
    })
}

/// `key=value` pairs of a query string or form body, decoded.
fn pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

/// A boolean parameter; absent or empty is `false`.
fn flag(params: &[(String, String)], key: &str) -> Result<bool, String> {
    match params.iter().rev().find(|(k, v)| k == key && !v.is_empty()) {
        Some((_, v)) => boolean(key, v),
        None => Ok(false),
    }
}

/// A count parameter (at least 1), if present.
fn count(params: &[(String, String)], key: &str) -> Result<Option<usize>, String> {
    match params.iter().rev().find(|(k, v)| k == key && !v.is_empty()) {
        Some((_, v)) => match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(format!(
                "`{key}` must be a whole number of at least 1, got `{v}`"
            )),
        },
        None => Ok(None),
    }
}

// ---- errors, as hub-api.md §3.6 lists them ----

fn repo_not_found(token: bool) -> Response {
    if token {
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
    }
}

fn denied(denial: Denial, id: &str, token: bool, host: &str) -> Response {
    match denial {
        Denial::NotFound => repo_not_found(token),
        Denial::Disabled => hub_error(
            StatusCode::FORBIDDEN,
            None,
            "Access to this resource is disabled.",
        ),
        Denial::Gated if token => hub_error(
            StatusCode::FORBIDDEN,
            Some("GatedRepo"),
            &format!(
                "Access to dataset {id} is restricted and you are not in the authorized list. Visit http://{host}/datasets/{id} to ask for access."
            ),
        ),
        Denial::Gated => hub_error(
            StatusCode::UNAUTHORIZED,
            Some("GatedRepo"),
            &format!(
                "Access to dataset {id} is restricted. You must have access to it and be authenticated to access it. Please log in."
            ),
        ),
    }
}

fn revision_not_found(revision: &str) -> Response {
    hub_error(
        StatusCode::NOT_FOUND,
        Some("RevisionNotFound"),
        &format!("Invalid rev id: {revision}"),
    )
}

fn entry_not_found(commit: &str, message: &str) -> Response {
    let mut r = hub_error(StatusCode::NOT_FOUND, Some("EntryNotFound"), message);
    if let Ok(value) = HeaderValue::from_str(commit) {
        r.headers_mut().insert(X_REPO_COMMIT, value);
    }
    r
}

fn no_route(method: &Method, uri: &Uri) -> Response {
    hub_error(
        StatusCode::NOT_FOUND,
        None,
        &format!(
            "Sorry, we can't find the page you are looking for. (hubdex-fakehub does not serve {method} {}; its README lists what it serves)",
            uri.path()
        ),
    )
}

/// A repo a request may read at a revision: the checks every file route starts with.
struct Access<'a> {
    repo: &'a Repo,
    head: usize,
}

/// Finds the repo, checks the caller may read it (its files when `files`), and resolves
/// the revision; the error is the Hub's answer.
fn access<'a>(
    repos: &'a Repos,
    id: &str,
    revision: &str,
    token: Option<&str>,
    files: bool,
    host: &str,
) -> Result<Access<'a>, Box<Response>> {
    let Some(repo) = repos.get(id) else {
        return Err(Box::new(repo_not_found(token.is_some())));
    };
    if let Err(denial) = repo.access.clone().unwrap_or_default().check(token, files) {
        return Err(Box::new(denied(
            denial,
            repo.id.as_str(),
            token.is_some(),
            host,
        )));
    }
    let head = repo
        .resolve(revision)
        .ok_or_else(|| Box::new(revision_not_found(revision)))?;
    Ok(Access { repo, head })
}

// ---- /api/datasets/{ns}/{name}/… ----

/// What a `/api/datasets/…` path asks the file side for.
enum ApiTarget {
    Info {
        id: String,
        revision: Option<String>,
    },
    Tree {
        id: String,
        revision: String,
        path: String,
    },
    Commits {
        id: String,
        revision: String,
    },
    Refs {
        id: String,
    },
    PathsInfo {
        id: String,
        revision: String,
    },
}

impl ApiTarget {
    fn id(&self) -> &str {
        match self {
            ApiTarget::Info { id, .. }
            | ApiTarget::Tree { id, .. }
            | ApiTarget::Commits { id, .. }
            | ApiTarget::Refs { id }
            | ApiTarget::PathsInfo { id, .. } => id,
        }
    }
}

/// Parses the part after `/api/datasets/`; `%2F` is decoded in the revision and the path.
fn api_target(rest: &str) -> Option<ApiTarget> {
    let segments: Vec<String> = rest.split('/').map(query::decode_path_segment).collect();
    let [ns, name, tail @ ..] = segments.as_slice() else {
        return None;
    };
    if ns.is_empty() || name.is_empty() {
        return None;
    }
    let id = format!("{ns}/{name}");
    let joined = |parts: &[String]| {
        parts
            .iter()
            .filter(|p| !p.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join("/")
    };
    match tail {
        [] => Some(ApiTarget::Info { id, revision: None }),
        [keyword, rev @ ..] if keyword == "revision" && !joined(rev).is_empty() => {
            Some(ApiTarget::Info {
                id,
                revision: Some(joined(rev)),
            })
        }
        [keyword, rev, path @ ..] if keyword == "tree" && !rev.is_empty() => {
            Some(ApiTarget::Tree {
                id,
                revision: rev.clone(),
                path: joined(path),
            })
        }
        [keyword, rev @ ..] if keyword == "commits" && !joined(rev).is_empty() => {
            Some(ApiTarget::Commits {
                id,
                revision: joined(rev),
            })
        }
        [keyword] if keyword == "refs" => Some(ApiTarget::Refs { id }),
        [keyword, rev @ ..] if keyword == "paths-info" && !joined(rev).is_empty() => {
            Some(ApiTarget::PathsInfo {
                id,
                revision: joined(rev),
            })
        }
        _ => None,
    }
}

/// Answers `GET /api/datasets/…` routes of the file side: tree, commits, refs, and info
/// for repos with files (`None` lets the catalog answer info for other datasets, and any
/// path that is not a file route).
pub(crate) async fn api_get(
    files: &Files,
    headers: &HeaderMap,
    uri: &Uri,
    record: &RecordFn<'_>,
) -> Option<Response> {
    let target = api_target(uri.path().strip_prefix("/api/datasets/")?)?;
    files.refresh(target.id()).await;
    let token = token(headers);
    let token = token.as_deref();
    let host = request_host(headers, files.local_addr);
    let params = pairs(uri.query().unwrap_or(""));
    let repos = read(&files.repos);
    Some(match target {
        ApiTarget::Info { id, revision } => {
            repos.get(&id)?;
            info(
                &repos,
                &id,
                revision.as_deref(),
                uri.query().unwrap_or(""),
                token,
                &host,
                record,
            )
        }
        ApiTarget::Tree { id, revision, path } => tree(
            files, &repos, &id, &revision, &path, &params, token, &host, uri,
        ),
        ApiTarget::Commits { id, revision } => {
            commits(files, &repos, &id, &revision, &params, token, &host, uri)
        }
        ApiTarget::Refs { id } => refs(&repos, &id, &params, token, &host),
        ApiTarget::PathsInfo { .. } => hub_error(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            &format!(
                "GET is not allowed on {}; paths-info takes a POST",
                uri.path()
            ),
        ),
    })
}

/// Dataset info for a repo with files: the catalog record (or a minimal one) with `sha`,
/// `lastModified`, `siblings` and sizes from the resolved commit.
fn info(
    repos: &Repos,
    id: &str,
    revision: Option<&str>,
    query: &str,
    token: Option<&str>,
    host: &str,
    record: &RecordFn<'_>,
) -> Response {
    let props = match query::info_props(query) {
        Ok(props) => props,
        Err(message) => return bad_request(&message),
    };
    let blobs = match flag(&pairs(query), "blobs") {
        Ok(blobs) => blobs,
        Err(message) => return bad_request(&message),
    };
    let a = match access(repos, id, revision.unwrap_or("main"), token, false, host) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let repo = a.repo;
    let commit = &repo.commits[a.head];
    let mut body = record(repo.id.as_str(), props)
        .and_then(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .unwrap_or_else(|| minimal_record(repo, props));
    let set = |body: &mut Map<String, Value>, prop: Prop, key: &str, value: Value| {
        if props.has(prop) {
            body.insert(key.to_string(), value);
        }
    };
    if let Some(rules) = &repo.access {
        set(&mut body, Prop::Gated, "gated", json!(rules.gated));
        set(&mut body, Prop::Private, "private", json!(rules.private));
        set(&mut body, Prop::Disabled, "disabled", json!(rules.disabled));
    }
    set(&mut body, Prop::Sha, "sha", json!(hex(&commit.id)));
    set(
        &mut body,
        Prop::LastModified,
        "lastModified",
        json!(format_time(commit.date_ms)),
    );
    let siblings: Vec<Value> = commit
        .tree
        .files
        .iter()
        .map(|(path, entry)| sibling(path, entry, blobs))
        .collect();
    set(
        &mut body,
        Prop::Siblings,
        "siblings",
        Value::Array(siblings),
    );
    set(
        &mut body,
        Prop::UsedStorage,
        "usedStorage",
        json!(repo.used_storage()),
    );
    let main_size = repo.main().map_or(0, |c| c.tree.size());
    set(&mut body, Prop::MainSize, "mainSize", json!(main_size));
    json_response(StatusCode::OK, &Value::Object(body))
}

/// The info fields of a repo that has no catalog record.
fn minimal_record(repo: &Repo, props: Props) -> Map<String, Value> {
    let created = repo.commits.first().map_or(0, |c| c.date_ms);
    let rules = repo.access.clone().unwrap_or_default();
    let mut body = Map::new();
    body.insert(
        "_id".into(),
        json!(hex(&derive_object_id(repo.id.as_str(), created))),
    );
    body.insert("id".into(), json!(repo.id.as_str()));
    let fields = [
        (Prop::Author, "author", json!(repo.id.namespace())),
        (Prop::Disabled, "disabled", json!(rules.disabled)),
        (Prop::Gated, "gated", json!(rules.gated)),
        (Prop::Likes, "likes", json!(0)),
        (Prop::TrendingScore, "trendingScore", json!(0)),
        (Prop::Private, "private", json!(rules.private)),
        (Prop::Downloads, "downloads", json!(0)),
        (Prop::Tags, "tags", json!([])),
        (Prop::CreatedAt, "createdAt", json!(format_time(created))),
        (Prop::Key, "key", json!("")),
        (Prop::DownloadsAllTime, "downloadsAllTime", json!(0)),
    ];
    for (prop, key, value) in fields {
        if props.has(prop) {
            body.insert(key.to_string(), value);
        }
    }
    body
}

/// One `siblings` item; with `blobs=true` it carries the id, size and LFS block.
fn sibling(path: &str, entry: &FileEntry, blobs: bool) -> Value {
    let mut item = json!({ "rfilename": path });
    if blobs {
        item["blobId"] = json!(hex(&entry.oid));
        item["size"] = json!(entry.blob.size);
        if entry.lfs {
            item["lfs"] = json!({
                "sha256": hex(&entry.blob.sha256),
                "size": entry.blob.size,
                "pointerSize": entry.pointer_size(),
            });
        }
    }
    item
}

/// One tree entry (also a paths-info item): a file (with its `lfs` block) or a folder;
/// with `expand`, the commit that last changed it and a security scan status.
fn tree_entry(repo: &Repo, head: usize, path: &str, expand: bool) -> Option<Value> {
    let tree = &repo.commits[head].tree;
    let (mut item, dir) = if let Some(file) = tree.files.get(path) {
        let mut item = json!({
            "type": "file",
            "oid": hex(&file.oid),
            "size": file.blob.size,
            "path": path,
        });
        if file.lfs {
            item["lfs"] = json!({
                "oid": hex(&file.blob.sha256),
                "size": file.blob.size,
                "pointerSize": file.pointer_size(),
            });
        }
        (item, false)
    } else {
        let oid = tree.dirs.get(path)?;
        let item = json!({ "type": "directory", "oid": hex(oid), "size": 0, "path": path });
        (item, true)
    };
    if expand {
        let last = &repo.commits[repo.last_change(head, path, dir)];
        item["lastCommit"] = json!({
            "id": hex(&last.id),
            "title": last.title,
            "date": format_time(last.date_ms),
        });
        if !dir {
            item["securityFileStatus"] = json!({ "status": "safe" });
        }
    }
    Some(item)
}

/// `GET /api/datasets/{ns}/{name}/tree/{rev}[/{path}]`.
#[allow(clippy::too_many_arguments)]
fn tree(
    files: &Files,
    repos: &Repos,
    id: &str,
    revision: &str,
    path: &str,
    params: &[(String, String)],
    token: Option<&str>,
    host: &str,
    uri: &Uri,
) -> Response {
    let (recursive, expand, limit) = match (
        flag(params, "recursive"),
        flag(params, "expand"),
        count(params, "limit"),
    ) {
        (Ok(r), Ok(e), Ok(l)) => (r, e, l),
        (Err(message), _, _) | (_, Err(message), _) | (_, _, Err(message)) => {
            return bad_request(&message);
        }
    };
    let cap = if expand {
        files.page_size.min(EXPANDED_PAGE)
    } else {
        files.page_size
    };
    let limit = limit.unwrap_or(cap).min(cap);
    let after = match params.iter().rev().find(|(k, _)| k == "cursor") {
        Some((_, cursor)) => match URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        {
            Some(after) => Some(after),
            None => {
                return bad_request(
                    "`cursor` is not a cursor this server made; use the URL of the `Link` header",
                );
            }
        },
        None => None,
    };
    let a = match access(repos, id, revision, token, true, host) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let commit = hex(&a.repo.commits[a.head].id);
    let snapshot = &a.repo.commits[a.head].tree;
    if !path.is_empty() && !snapshot.dirs.contains_key(path) {
        let message = if snapshot.files.contains_key(path) {
            format!("{path} is a file, not a folder")
        } else {
            format!("Entry not found: no folder {path} at revision {revision}")
        };
        return entry_not_found(&commit, &message);
    }
    let below = |p: &str| {
        let (parent, _) = split_parent(p);
        if recursive {
            path.is_empty() || p.strip_prefix(path).is_some_and(|r| r.starts_with('/'))
        } else {
            parent == path
        }
    };
    let mut paths: Vec<&str> = snapshot
        .dirs
        .keys()
        .chain(snapshot.files.keys())
        .map(String::as_str)
        .filter(|p| below(p))
        .filter(|p| after.as_deref().is_none_or(|after| *p > after))
        .collect();
    paths.sort_unstable();
    let more = paths.len() > limit;
    paths.truncate(limit);
    let items: Vec<Value> = paths
        .iter()
        .filter_map(|p| tree_entry(a.repo, a.head, p, expand))
        .collect();
    let mut r = json_response(StatusCode::OK, &items);
    if more && let Some(last) = paths.last() {
        let cursor = URL_SAFE_NO_PAD.encode(last.as_bytes());
        link(&mut r, host, uri, "cursor", &cursor);
    }
    r
}

/// Adds `Link: <…>; rel="next"`: the request's own URL with `key` set to `value`.
fn link(response: &mut Response, host: &str, uri: &Uri, key: &str, value: &str) {
    let mut query: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|piece| {
            !piece.is_empty()
                && percent_decode(piece.split_once('=').map_or(*piece, |p| p.0)) != key
        })
        .collect();
    let pair = format!("{key}={value}");
    query.push(&pair);
    let url = format!("http://{host}{}?{}", uri.path(), query.join("&"));
    if let Ok(value) = HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")) {
        response.headers_mut().insert(header::LINK, value);
    }
}

/// `GET /api/datasets/{ns}/{name}/commits/{rev}`: newest first, `p` and `limit` pages.
#[allow(clippy::too_many_arguments)]
fn commits(
    files: &Files,
    repos: &Repos,
    id: &str,
    revision: &str,
    params: &[(String, String)],
    token: Option<&str>,
    host: &str,
    uri: &Uri,
) -> Response {
    let limit = match count(params, "limit") {
        Ok(limit) => limit.unwrap_or(DEFAULT_COMMITS_PAGE).min(files.page_size),
        Err(message) => return bad_request(&message),
    };
    let page = match params.iter().rev().find(|(k, v)| k == "p" && !v.is_empty()) {
        Some((_, p)) => match p.parse::<usize>() {
            Ok(p) => p,
            Err(_) => return bad_request(&format!("`p` must be a page number from 0, got `{p}`")),
        },
        None => 0,
    };
    let formatted = params
        .iter()
        .any(|(k, v)| matches!(k.as_str(), "expand" | "expand[]") && v == "formatted");
    let a = match access(repos, id, revision, token, false, host) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let history = a.repo.history(a.head);
    let start = page.saturating_mul(limit).min(history.len());
    let end = start.saturating_add(limit).min(history.len());
    let items: Vec<Value> = history[start..end]
        .iter()
        .map(|&i| {
            let c = &a.repo.commits[i];
            let mut item = json!({
                "id": hex(&c.id),
                "title": c.title,
                "message": "",
                "date": format_time(c.date_ms),
                "authors": [{ "user": c.author, "avatar": format!("http://{host}/avatars/{}.svg", c.author) }],
            });
            if formatted {
                item["formatted"] = json!({ "title": format!("<p>{}</p>", html_escape(&c.title)), "message": "" });
            }
            item
        })
        .collect();
    let mut r = json_response(StatusCode::OK, &items);
    r.headers_mut()
        .insert(X_TOTAL_COUNT, HeaderValue::from(history.len()));
    if end < history.len() {
        link(&mut r, host, uri, "p", &(page + 1).to_string());
    }
    r
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /api/datasets/{ns}/{name}/refs[?include_prs=1]`.
fn refs(
    repos: &Repos,
    id: &str,
    params: &[(String, String)],
    token: Option<&str>,
    host: &str,
) -> Response {
    let include_prs = match flag(params, "include_prs") {
        Ok(include) => include,
        Err(message) => return bad_request(&message),
    };
    let Some(repo) = repos.get(id) else {
        return repo_not_found(token.is_some());
    };
    if let Err(denial) = repo.access.clone().unwrap_or_default().check(token, false) {
        return denied(denial, repo.id.as_str(), token.is_some(), host);
    }
    let mut groups: [(&str, &str, Vec<Value>); 3] = [
        ("branches", "refs/heads/", Vec::new()),
        ("converts", "refs/convert/", Vec::new()),
        ("tags", "refs/tags/", Vec::new()),
    ];
    for (reference, &commit) in &repo.refs {
        if let Some((_, prefix, items)) = groups
            .iter_mut()
            .find(|(_, prefix, _)| reference.starts_with(prefix))
        {
            items.push(json!({
                "name": &reference[prefix.len()..],
                "ref": reference,
                "targetCommit": hex(&repo.commits[commit].id),
            }));
        }
    }
    let mut body = Map::new();
    for (key, _, items) in groups {
        body.insert(key.to_string(), Value::Array(items));
    }
    if include_prs {
        body.insert("pullRequests".to_string(), json!([]));
    }
    json_response(StatusCode::OK, &Value::Object(body))
}

/// The body of a paths-info request: form-encoded (`paths=a&paths=b&expand=false`, as
/// huggingface_hub sends it) or JSON (`{"paths": […], "expand": false}`, as hf-hub does).
fn paths_info_body(headers: &HeaderMap, body: &[u8]) -> Result<(Vec<String>, bool), String> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    if json {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Paths {
            One(String),
            Many(Vec<String>),
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Flag {
            Bool(bool),
            Text(String),
        }
        #[derive(Deserialize)]
        struct Body {
            paths: Paths,
            #[serde(default)]
            expand: Option<Flag>,
        }
        let parsed: Body = serde_json::from_slice(body).map_err(|e| {
            format!("expected a JSON body such as {{\"paths\": [\"README.md\"], \"expand\": false}}: {e}")
        })?;
        let paths = match parsed.paths {
            Paths::One(p) => vec![p],
            Paths::Many(p) => p,
        };
        let expand = match parsed.expand {
            None => false,
            Some(Flag::Bool(b)) => b,
            Some(Flag::Text(t)) => boolean("expand", &t)?,
        };
        return Ok((paths, expand));
    }
    let text = String::from_utf8_lossy(body);
    let params = pairs(&text);
    let paths: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "paths" || k == "paths[]")
        .map(|(_, v)| v.clone())
        .collect();
    let expand = match params
        .iter()
        .rev()
        .find(|(k, v)| k == "expand" && !v.is_empty())
    {
        Some((_, v)) => boolean("expand", v)?,
        None => false,
    };
    Ok((paths, expand))
}

/// `POST /api/datasets/{ns}/{name}/paths-info/{rev}`: entries for the paths that exist,
/// in the order asked; missing paths are left out.
pub(crate) async fn paths_info(
    files: &Files,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Response {
    let target = uri
        .path()
        .strip_prefix("/api/datasets/")
        .and_then(api_target);
    let Some(ApiTarget::PathsInfo { id, revision }) = target else {
        return no_route(&Method::POST, uri);
    };
    let (paths, expand) = match paths_info_body(headers, body) {
        Ok(parsed) => parsed,
        Err(message) => return bad_request(&message),
    };
    if paths.len() > MAX_PATHS {
        return bad_request(&format!(
            "at most {MAX_PATHS} `paths` per request, got {}; split the request",
            paths.len()
        ));
    }
    files.refresh(&id).await;
    let token = token(headers);
    let host = request_host(headers, files.local_addr);
    let repos = read(&files.repos);
    let a = match access(&repos, &id, &revision, token.as_deref(), true, &host) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let mut seen = std::collections::HashSet::new();
    let items: Vec<Value> = paths
        .iter()
        .map(|p| p.trim_matches('/'))
        .filter(|p| seen.insert(p.to_string()))
        .filter_map(|p| tree_entry(a.repo, a.head, p, expand))
        .collect();
    json_response(StatusCode::OK, &items)
}

// ---- resolve, CDN and control routes ----

/// The routes of the file side outside `/api/datasets/`: resolve, the CDN, and the
/// `/_fakehub/` controls.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(files: Arc<Files>) -> Router<S> {
    Router::new()
        .route("/datasets/{*rest}", get(resolve))
        .route("/lfs-cdn/{sha256}", get(cdn))
        .route("/_fakehub/repos/{ns}/{name}", post(control_commit))
        .route("/_fakehub/file-faults", post(control_fault))
        .with_state(files)
}

/// `/datasets/{ns}/{name}/resolve/{rev}/{path}` → id, revision and path, decoded.
fn resolve_target(path: &str) -> Option<(String, String, String)> {
    let segments: Vec<&str> = path.strip_prefix("/datasets/")?.split('/').collect();
    let [ns, name, keyword, rev, file @ ..] = segments.as_slice() else {
        return None;
    };
    if *keyword != "resolve" || file.is_empty() || file.iter().any(|s| s.is_empty()) {
        return None;
    }
    let decode = query::decode_path_segment;
    let file: Vec<String> = file.iter().map(|s| decode(s)).collect();
    Some((
        format!("{}/{}", decode(ns), decode(name)),
        decode(rev),
        file.join("/"),
    ))
}

/// A guess of the content type from the extension, as the Hub sends for git files.
fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "json" => "application/json; charset=utf-8",
        "md" | "txt" | "csv" | "tsv" | "jsonl" | "py" | "yaml" | "yml" | "gitattributes" => {
            "text/plain; charset=utf-8"
        }
        _ => "application/octet-stream",
    }
}

fn quoted(value: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{value}\"")).unwrap_or(HeaderValue::from_static("\"\""))
}

/// `HEAD|GET /datasets/{ns}/{name}/resolve/{rev}/{path}` (hub-api.md §3).
async fn resolve(
    State(files): State<Arc<Files>>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Some((id, revision, path)) = resolve_target(uri.path()) else {
        return no_route(&method, &uri);
    };
    let fault = lock(&files.faults).take_resolve();
    if let Some((status, retry_after)) = fault {
        let status = StatusCode::from_u16(status)
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = hub_error(
            status,
            None,
            status.canonical_reason().unwrap_or("injected fault"),
        );
        if let Some(seconds) = retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        return r;
    }
    files.refresh(&id).await;
    let token = token(&headers);
    let host = request_host(&headers, files.local_addr);
    let (commit, entry) = {
        let repos = read(&files.repos);
        let a = match access(&repos, &id, &revision, token.as_deref(), true, &host) {
            Ok(a) => a,
            Err(response) => return *response,
        };
        let commit = &a.repo.commits[a.head];
        match commit.tree.files.get(&path) {
            Some(entry) => (hex(&commit.id), entry.clone()),
            None => {
                return entry_not_found(&hex(&commit.id), "Entry not found");
            }
        }
    };
    let mut out = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&commit) {
        out.insert(X_REPO_COMMIT, value);
    }
    let etag = entry.etag();
    if entry.lfs {
        out.insert(X_LINKED_ETAG, quoted(&etag));
        out.insert(X_LINKED_SIZE, HeaderValue::from(entry.blob.size));
        if files.lfs_redirects {
            if if_none_match(&headers, &etag) {
                out.insert(header::ETAG, quoted(&etag));
                let mut r = Response::new(Body::empty());
                *r.status_mut() = StatusCode::NOT_MODIFIED;
                *r.headers_mut() = out;
                return r;
            }
            let location = files.cdn_url(&host, &etag);
            let mut r = response(
                StatusCode::FOUND,
                "text/plain; charset=utf-8",
                format!("Found. Redirecting to {location}").into(),
            );
            if let Ok(value) = HeaderValue::from_str(&location) {
                out.insert(header::LOCATION, value);
            }
            r.headers_mut().extend(out);
            return r;
        }
    }
    out.insert(header::ETAG, quoted(&etag));
    let fault = files.take_body_fault(&method);
    Serve {
        method: &method,
        request: &headers,
        blob: entry.blob,
        headers: out,
        etag: &etag,
        content_type: if entry.lfs {
            "application/octet-stream"
        } else {
            content_type(&path)
        },
        fault,
        closing: files.closing.subscribe(),
    }
    .respond()
}

/// An error as the CDN (an S3-style store) words it.
fn cdn_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    response(status, "application/xml", body.into())
}

/// `HEAD|GET /lfs-cdn/{sha256}?Expires=…&Signature=…`: LFS file bytes, as the Hub's CDN
/// serves them. A request with an `Authorization` header is refused (400), as a CDN with
/// signed URLs refuses a second auth mechanism.
async fn cdn(
    State(files): State<Arc<Files>>,
    Path(sha256): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> Response {
    if headers.contains_key(header::AUTHORIZATION) {
        return cdn_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
        );
    }
    let params = pairs(query.as_deref().unwrap_or(""));
    let param = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let expires = param("Expires").and_then(|e| e.parse::<u64>().ok());
    let signed =
        expires.is_some_and(|e| param("Signature") == Some(files.sign(&sha256, e).as_str()));
    if !signed {
        return cdn_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Signature does not match; resolve the file again for a fresh URL",
        );
    }
    if expires.is_some_and(|e| e < unix_seconds()) {
        return cdn_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request has expired; resolve the file again for a fresh URL",
        );
    }
    let blob = parse_hex::<32>(&sha256).and_then(|key| read(&files.repos).blob(&key));
    let Some(blob) = blob else {
        return cdn_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        );
    };
    // The CDN's own ETag is not the sha256 (on the Hub it is an S3 or Xet hash): clients
    // must keep the `X-Linked-Etag` of the resolve answer.
    let cdn_etag = hex(&Sha256::digest(format!("cdn:{sha256}")));
    let mut out = HeaderMap::new();
    out.insert(header::ETAG, quoted(&cdn_etag));
    let fault = files.take_body_fault(&method);
    Serve {
        method: &method,
        request: &headers,
        blob,
        headers: out,
        etag: &cdn_etag,
        content_type: "application/octet-stream",
        fault,
        closing: files.closing.subscribe(),
    }
    .respond()
}

/// The body of `POST /_fakehub/repos/{ns}/{name}`.
#[derive(Deserialize)]
struct ControlCommit {
    #[serde(default)]
    files: Vec<ControlFile>,
    #[serde(default)]
    delete: Vec<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    branch: String,
    #[serde(default)]
    access: Option<RepoAccess>,
}

/// One file of a control commit: text, or bytes as standard base64.
#[derive(Deserialize)]
struct ControlFile {
    path: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    base64: Option<String>,
}

/// `POST /_fakehub/repos/{ns}/{name}`: commits files (creating the repo or branch when
/// needed) and/or sets access rules. Answers `{"commit": "<head>", "created": bool}`.
async fn control_commit(
    State(files): State<Arc<Files>>,
    Path((ns, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let example = r#"{"files":[{"path":"data.csv","text":"a,b\n1,2\n"},{"path":"x.parquet","base64":"UEFSMQ=="}],"delete":["old.csv"],"title":"Update","access":{"gated":"manual","approved_tokens":["hf_ok"]}}"#;
    let control: ControlCommit = match serde_json::from_slice(&body) {
        Ok(control) => control,
        Err(e) => return bad_request(&format!("expected a JSON body such as {example}: {e}")),
    };
    let id = format!("{ns}/{name}");
    let mut new_files = Vec::with_capacity(control.files.len());
    for file in control.files {
        let bytes = match (file.text, file.base64) {
            (Some(text), None) => text.into_bytes(),
            (None, Some(encoded)) => match STANDARD.decode(encoded.trim()) {
                Ok(bytes) => bytes,
                Err(e) => {
                    return bad_request(&format!(
                        "`{}`: `base64` is not standard base64: {e}",
                        file.path
                    ));
                }
            },
            _ => {
                return bad_request(&format!(
                    "`{}`: give exactly one of `text` and `base64`",
                    file.path
                ));
            }
        };
        new_files.push((file.path, bytes));
    }
    let changes = !new_files.is_empty() || !control.delete.is_empty();
    let mut repos = write(&files.repos);
    let mut result = json!({});
    if changes || repos.get(&id).is_none() {
        let change = RepoCommit {
            files: new_files,
            delete: control.delete,
            title: control.title,
            branch: control.branch,
        };
        match repos.commit(&id, change) {
            Ok((commit, created)) => result = json!({ "commit": commit, "created": created }),
            Err(e) => return bad_request(&e.to_string()),
        }
    }
    if let Some(access) = control.access
        && let Err(e) = repos.set_access(&id, access)
    {
        return bad_request(&e.to_string());
    }
    if result.get("commit").is_none()
        && let Some(head) = repos.get(&id).and_then(Repo::main)
    {
        result = json!({ "commit": hex(&head.id), "created": false });
    }
    json_response(StatusCode::OK, &result)
}

/// `POST /_fakehub/file-faults`: queues a [`FileFault`]; answers how many body and resolve
/// failures are pending.
async fn control_fault(State(files): State<Arc<Files>>, body: Bytes) -> Response {
    let fault: FileFault = match serde_json::from_slice(&body) {
        Ok(fault) => fault,
        Err(e) => {
            return bad_request(&format!(
                "expected a JSON fault such as {{\"kind\":\"corrupt\",\"count\":1}}, {{\"kind\":\"stall\",\"count\":1,\"after_bytes\":1000,\"duration_ms\":5000}}, {{\"kind\":\"drop\",\"count\":1,\"after_bytes\":1000}} or {{\"kind\":\"status\",\"count\":2,\"status\":429,\"retry_after\":1}}: {e}"
            ));
        }
    };
    let (bodies, resolves) = lock(&files.faults).add(fault);
    json_response(
        StatusCode::OK,
        &json!({ "pending_bodies": bodies, "pending_resolves": resolves }),
    )
}

impl RunningFakeHub {
    /// Commits a change to a repo's files as a new revision (the old one stays in the
    /// history); creates the repo or branch when needed. Returns the branch's head commit,
    /// which is the old one when nothing changed.
    pub fn commit(&self, id: &str, change: RepoCommit) -> Result<String, FakeHubError> {
        write(&self.files().repos)
            .commit(id, change)
            .map(|(commit, _)| commit)
    }

    /// Sets who may read a repo (gated, private, disabled, approved tokens).
    pub fn set_repo_access(&self, id: &str, access: RepoAccess) -> Result<(), FakeHubError> {
        write(&self.files().repos).set_access(id, access)
    }

    /// Queues a fault of the file side; see [`FileFault`].
    pub fn inject_file_fault(&self, fault: FileFault) {
        lock(&self.files().faults).add(fault);
    }

    /// The signed CDN URL the fake redirects to for an LFS file with this sha256, as a
    /// client that used `host` would get it (for tests of expired or tampered URLs).
    pub fn cdn_url(&self, host: &str, sha256: &str) -> String {
        self.files().cdn_url(host, sha256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_decode_revisions_and_paths() {
        let tree = api_target("a/b/tree/refs%2Fconvert%2Fparquet/default%2Ftrain");
        assert!(matches!(
            tree,
            Some(ApiTarget::Tree { id, revision, path })
                if id == "a/b" && revision == "refs/convert/parquet" && path == "default/train"
        ));
        assert!(matches!(
            api_target("a/b/tree/main"),
            Some(ApiTarget::Tree { path, .. }) if path.is_empty()
        ));
        assert!(matches!(
            api_target("a/b/tree/main/data/x/"),
            Some(ApiTarget::Tree { path, .. }) if path == "data/x"
        ));
        assert!(matches!(
            api_target("a/b/revision/refs%2Fheads%2Fmain"),
            Some(ApiTarget::Info { revision: Some(r), .. }) if r == "refs/heads/main"
        ));
        assert!(matches!(
            api_target("a/b"),
            Some(ApiTarget::Info { revision: None, .. })
        ));
        assert!(matches!(
            api_target("a/b/commits/main"),
            Some(ApiTarget::Commits { .. })
        ));
        assert!(matches!(
            api_target("a/b/refs"),
            Some(ApiTarget::Refs { .. })
        ));
        assert!(matches!(
            api_target("a/b/paths-info/main"),
            Some(ApiTarget::PathsInfo { .. })
        ));
        assert!(api_target("glue").is_none());
        assert!(api_target("a/b/tree").is_none());
        assert!(api_target("a/b/other/x").is_none());
    }

    #[test]
    fn resolve_paths_keep_folders_and_decode_the_revision() {
        assert_eq!(
            resolve_target(
                "/datasets/a/b/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet"
            ),
            Some((
                "a/b".into(),
                "refs/convert/parquet".into(),
                "default/train/0000.parquet".into()
            ))
        );
        assert_eq!(
            resolve_target("/datasets/a/b/resolve/main/with%20space.csv"),
            Some(("a/b".into(), "main".into(), "with space.csv".into()))
        );
        assert_eq!(resolve_target("/datasets/a/b/resolve/main"), None);
        assert_eq!(resolve_target("/datasets/a/b/blob/main/x"), None);
        assert_eq!(resolve_target("/datasets/a/b/resolve/main/x//y"), None);
    }

    #[test]
    fn the_cdn_is_on_the_other_name_of_the_host() {
        let local: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(cdn_host("127.0.0.1:4000", local), "localhost:4000");
        assert_eq!(cdn_host("localhost:4000", local), "127.0.0.1:4000");
        assert_eq!(cdn_host("LOCALHOST:9", local), "127.0.0.1:9");
        assert_eq!(cdn_host("hub.test", local), "localhost:4000");
        assert_eq!(cdn_host("[::1]:5", local), "localhost:5");
    }
}
