//! File bodies as the Hub and its CDN send them: byte ranges, `If-None-Match`, streamed
//! chunks, and the faults download tests inject (a corrupted byte, a stall, a dropped
//! connection, a status instead of the file).

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::repos::Blob;

/// Bytes per streamed chunk: memory per download stays this small whatever the file size.
const CHUNK: u64 = 256 * 1024;
/// How long a dropped body waits before the connection is cut, for the bytes before to leave.
const FLUSH_PAUSE: Duration = Duration::from_millis(50);

/// A failure of the file side, for download tests: injected with
/// [`RunningFakeHub::inject_file_fault`](crate::RunningFakeHub::inject_file_fault) or
/// `POST /_fakehub/file-faults` with this enum as JSON, e.g.
/// `{"kind":"stall","count":1,"after_bytes":1000,"duration_ms":5000}`.
///
/// Body faults (`corrupt`, `stall`, `drop`) apply to the next file bodies sent by
/// `GET …/resolve/…` or the CDN route (not to `HEAD`); `status` applies to the next resolve
/// requests, `HEAD` or `GET`. Faults of one group queue up behind each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FileFault {
    /// The next `count` bodies have one byte changed: the middle byte of what is sent.
    Corrupt {
        /// How many bodies.
        count: usize,
    },
    /// The next `count` bodies pause after `after_bytes` bytes for `duration_ms`
    /// milliseconds (until the client gives up or the fake stops, when absent), then go on.
    Stall {
        /// How many bodies.
        count: usize,
        /// Bytes sent before the pause.
        after_bytes: u64,
        /// Length of the pause; absent means forever.
        #[serde(default)]
        duration_ms: Option<u64>,
    },
    /// The next `count` bodies are cut after `after_bytes` bytes: the connection is dropped.
    Drop {
        /// How many bodies.
        count: usize,
        /// Bytes sent before the connection is dropped.
        after_bytes: u64,
    },
    /// The next `count` resolve requests answer `status` (400–599; 500 otherwise), with
    /// `Retry-After: retry_after` when given, e.g. a 429 with a wait.
    Status {
        /// How many requests.
        count: usize,
        /// The HTTP status.
        status: u16,
        /// Seconds for a `Retry-After` header.
        #[serde(default)]
        retry_after: Option<u64>,
    },
}

impl FileFault {
    fn count_mut(&mut self) -> &mut usize {
        match self {
            FileFault::Corrupt { count }
            | FileFault::Stall { count, .. }
            | FileFault::Drop { count, .. }
            | FileFault::Status { count, .. } => count,
        }
    }
}

/// Faults waiting to happen, by the requests they apply to.
#[derive(Default)]
pub(crate) struct Faults {
    bodies: VecDeque<FileFault>,
    resolves: VecDeque<FileFault>,
}

impl Faults {
    /// Queues a fault; returns how many body and resolve failures are pending.
    pub(crate) fn add(&mut self, mut fault: FileFault) -> (usize, usize) {
        if *fault.count_mut() > 0 {
            match fault {
                FileFault::Status { .. } => self.resolves.push_back(fault),
                _ => self.bodies.push_back(fault),
            }
        }
        let total = |q: &mut VecDeque<FileFault>| q.iter_mut().map(|f| *f.count_mut()).sum();
        (total(&mut self.bodies), total(&mut self.resolves))
    }

    fn take(queue: &mut VecDeque<FileFault>) -> Option<FileFault> {
        let front = queue.front_mut()?;
        let count = front.count_mut();
        *count = count.saturating_sub(1);
        let done = *count == 0;
        let fault = front.clone();
        if done {
            queue.pop_front();
        }
        Some(fault)
    }

    /// The fault for the next file body, if any.
    pub(crate) fn take_body(&mut self) -> Option<FileFault> {
        Self::take(&mut self.bodies)
    }

    /// The status the next resolve must answer with, if any: status and `Retry-After`.
    pub(crate) fn take_resolve(&mut self) -> Option<(u16, Option<u64>)> {
        match Self::take(&mut self.resolves)? {
            FileFault::Status {
                status,
                retry_after,
                ..
            } => Some((status, retry_after)),
            _ => None,
        }
    }
}

/// What a `Range` header asks of a file of some size (RFC 9110 §14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ranged {
    /// No range, or one the server may ignore (malformed, several ranges): the whole file.
    Full,
    /// Bytes `start..=end`, the end clamped to the file.
    Part { start: u64, end: u64 },
    /// Starts at or after the end of the file: 416.
    Unsatisfiable,
}

/// Reads `bytes=a-b`, `bytes=a-` and `bytes=-n`.
pub(crate) fn parse_range(value: &str, size: u64) -> Ranged {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ranged::Full;
    };
    if spec.contains(',') {
        return Ranged::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ranged::Full;
    };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), number(first), number(last)) {
        (true, _, Some(suffix)) => {
            if suffix == 0 || size == 0 {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part {
                    start: size.saturating_sub(suffix),
                    end: size - 1,
                }
            }
        }
        (false, Some(start), end) => {
            if end.is_some_and(|end| end < start) || (end.is_none() && !last.trim().is_empty()) {
                Ranged::Full
            } else if start >= size {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part {
                    start,
                    end: end.map_or(size - 1, |end| end.min(size - 1)),
                }
            }
        }
        _ => Ranged::Full,
    }
}

/// Whether `If-None-Match` names this (normalised) ETag, or is `*`.
pub(crate) fn if_none_match(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|tag| tag == "*" || tag == etag)
}

/// A body fault as it applies to one body.
#[derive(Debug, Clone, Copy)]
enum BodyFault {
    Stall {
        after: u64,
        duration: Option<Duration>,
    },
    Drop {
        after: u64,
    },
}

/// Answers a file request: 304 when `If-None-Match` matches, 416 for a range past the end,
/// 206 for a range, 200 otherwise; a `GET` streams the blob, a `HEAD` sends headers only.
/// `headers` already holds what the route adds (ETag, `X-Repo-Commit`, …).
pub(crate) struct Serve<'a> {
    pub method: &'a Method,
    pub request: &'a HeaderMap,
    pub blob: Arc<Blob>,
    pub headers: HeaderMap,
    /// The ETag `If-None-Match` is compared with, normalised.
    pub etag: &'a str,
    pub content_type: &'static str,
    /// The body fault to apply (taken from the queue only for `GET`).
    pub fault: Option<FileFault>,
    /// Turns `true` when the fake shuts down, to end stalls.
    pub closing: watch::Receiver<bool>,
}

impl Serve<'_> {
    pub(crate) fn respond(self) -> Response {
        let mut headers = self.headers;
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if if_none_match(self.request, self.etag) {
            return with_headers(StatusCode::NOT_MODIFIED, headers, Body::empty());
        }
        let size = self.blob.size;
        let range = self
            .request
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .map_or(Ranged::Full, |v| parse_range(v, size));
        let (status, start, end) = match range {
            Ranged::Full => (StatusCode::OK, 0, size),
            Ranged::Part { start, end } => {
                insert(
                    &mut headers,
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{end}/{size}"),
                );
                (StatusCode::PARTIAL_CONTENT, start, end + 1)
            }
            Ranged::Unsatisfiable => {
                insert(
                    &mut headers,
                    header::CONTENT_RANGE,
                    format!("bytes */{size}"),
                );
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
                return with_headers(StatusCode::RANGE_NOT_SATISFIABLE, headers, Body::empty());
            }
        };
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        let body = if self.method == Method::HEAD {
            Body::empty()
        } else {
            stream(self.blob, start, end, self.fault, self.closing)
        };
        with_headers(status, headers, body)
    }
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(name, value);
    }
}

fn with_headers(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Where a body stands while it is sent.
struct Sending {
    blob: Arc<Blob>,
    pos: u64,
    end: u64,
    sent: u64,
    fault: Option<BodyFault>,
    corrupt_at: Option<u64>,
    closing: watch::Receiver<bool>,
}

/// Streams bytes `start..end` of the blob in chunks, applying the fault.
fn stream(
    blob: Arc<Blob>,
    start: u64,
    end: u64,
    fault: Option<FileFault>,
    closing: watch::Receiver<bool>,
) -> Body {
    let (fault, corrupt_at) = match fault {
        Some(FileFault::Corrupt { .. }) if end > start => (None, Some(start + (end - start) / 2)),
        Some(FileFault::Stall {
            after_bytes,
            duration_ms,
            ..
        }) => (
            Some(BodyFault::Stall {
                after: after_bytes,
                duration: duration_ms.map(Duration::from_millis),
            }),
            None,
        ),
        Some(FileFault::Drop { after_bytes, .. }) => {
            (Some(BodyFault::Drop { after: after_bytes }), None)
        }
        _ => (None, None),
    };
    let state = Sending {
        blob,
        pos: start,
        end,
        sent: 0,
        fault,
        corrupt_at,
        closing,
    };
    Body::from_stream(futures::stream::unfold(state, next_chunk))
}

async fn next_chunk(mut s: Sending) -> Option<(io::Result<Bytes>, Sending)> {
    if s.pos >= s.end {
        return None;
    }
    match s.fault {
        Some(BodyFault::Stall { after, duration }) if s.sent >= after => {
            s.fault = None;
            if stall(duration, s.closing.clone()).await {
                return None;
            }
        }
        Some(BodyFault::Drop { after }) if s.sent >= after => {
            // Give the server a moment to flush what was sent, so the client receives exactly
            // `after` bytes before the connection drops.
            tokio::time::sleep(FLUSH_PAUSE).await;
            s.end = s.pos;
            let error = io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "hubdex-fakehub dropped the connection (an injected fault)",
            );
            return Some((Err(error), s));
        }
        _ => {}
    }
    let mut len = CHUNK.min(s.end - s.pos);
    if let Some(BodyFault::Stall { after, .. } | BodyFault::Drop { after }) = s.fault
        && s.sent < after
    {
        len = len.min(after - s.sent);
    }
    let mut chunk = s
        .blob
        .chunk(s.pos, usize::try_from(len).unwrap_or(usize::MAX));
    if let Some(at) = s.corrupt_at
        && (s.pos..s.pos + len).contains(&at)
    {
        let mut bytes = chunk.to_vec();
        if let Some(byte) = usize::try_from(at - s.pos)
            .ok()
            .and_then(|i| bytes.get_mut(i))
        {
            *byte ^= 0x55;
        }
        chunk = Bytes::from(bytes);
    }
    s.pos += len;
    s.sent += len;
    Some((Ok(chunk), s))
}

/// Waits out a stall; true when the fake is shutting down (the body then ends early).
async fn stall(duration: Option<Duration>, mut closing: watch::Receiver<bool>) -> bool {
    let closed = closing.wait_for(|closing| *closing);
    match duration {
        Some(duration) => tokio::select! {
            () = tokio::time::sleep(duration) => false,
            _ = closed => true,
        },
        None => {
            let _ = closed.await;
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_clamped_and_unsatisfiable_past_the_end() {
        let r = |v: &str| parse_range(v, 100);
        assert_eq!(r("bytes=0-0"), Ranged::Part { start: 0, end: 0 });
        assert_eq!(r("bytes=10-"), Ranged::Part { start: 10, end: 99 });
        assert_eq!(r("bytes=90-100"), Ranged::Part { start: 90, end: 99 });
        assert_eq!(r("bytes=90-5000"), Ranged::Part { start: 90, end: 99 });
        assert_eq!(r("bytes=-10"), Ranged::Part { start: 90, end: 99 });
        assert_eq!(r("bytes=-500"), Ranged::Part { start: 0, end: 99 });
        assert_eq!(r("bytes=100-"), Ranged::Unsatisfiable);
        assert_eq!(r("bytes=150-200"), Ranged::Unsatisfiable);
        assert_eq!(r("bytes=-0"), Ranged::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Ranged::Unsatisfiable);
        for ignored in [
            "bytes=5-2",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=a-",
            "bytes=1-x",
        ] {
            assert_eq!(r(ignored), Ranged::Full, "{ignored}");
        }
    }

    #[test]
    fn if_none_match_compares_normalised_tags() {
        let mut h = HeaderMap::new();
        assert!(!if_none_match(&h, "abc"));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("W/\"x\", \"abc\""),
        );
        assert!(if_none_match(&h, "abc"));
        assert!(!if_none_match(&h, "ab"));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(if_none_match(&h, "anything"));
    }

    #[test]
    fn faults_are_taken_in_order_and_counted_down() {
        let mut f = Faults::default();
        assert_eq!(f.add(FileFault::Corrupt { count: 2 }), (2, 0));
        assert_eq!(
            f.add(FileFault::Status {
                count: 1,
                status: 429,
                retry_after: Some(3)
            }),
            (2, 1)
        );
        assert_eq!(
            f.add(FileFault::Drop {
                count: 0,
                after_bytes: 1
            }),
            (2, 1)
        );
        assert!(matches!(f.take_body(), Some(FileFault::Corrupt { .. })));
        assert!(matches!(f.take_body(), Some(FileFault::Corrupt { .. })));
        assert_eq!(f.take_body(), None);
        assert_eq!(f.take_resolve(), Some((429, Some(3))));
        assert_eq!(f.take_resolve(), None);
    }
}
