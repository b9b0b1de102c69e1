//! The file API against canned answers, for what the fake Hub never does: answers missing
//! `X-Repo-Commit` or an ETag (case 23), relative and absolute redirects (case 25), a server
//! that ignores `Range` (case 31), and a body cut short (case 35).

// Test code: a panic is how a helper reports a failed expectation.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use hubdex_core::DatasetId;
use hubdex_hub::{FileMetadata, HubClient, HubConfig, HubError, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Answers connections with canned responses in order (the last repeats), one per
/// connection, and records each request's head.
struct Canned {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Canned {
    async fn start(responses: Vec<Vec<u8>>) -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&heads);
        tokio::spawn(async move {
            for served in 0..32usize {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                let response = &responses[served.min(responses.len() - 1)];
                let _ = socket.write_all(response).await;
                let _ = socket.shutdown().await;
            }
        });
        Canned { url, heads }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

/// A response with `Connection: close`; `length` overrides the `Content-Length` sent.
fn answer(status: &str, headers: &[String], body: &[u8], length: Option<usize>) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        length.unwrap_or(body.len())
    );
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn client(endpoint: &str) -> HubClient {
    HubClient::new(HubConfig {
        endpoint: endpoint.to_string(),
        token: Some("hf_secret".into()),
        retry: RetryPolicy {
            max_retries: 1,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(5),
        },
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

fn id() -> DatasetId {
    DatasetId::new("acme/data").unwrap()
}

#[tokio::test]
async fn an_answer_without_commit_or_etag_is_not_a_hub_file() {
    let cases = [
        (vec!["ETag: \"abc\"".to_string()], "X-Repo-Commit"),
        (vec![format!("X-Repo-Commit: {COMMIT}")], "ETag"),
    ];
    for (headers, missing) in cases {
        let server = Canned::start(vec![answer("200 OK", &headers, b"", Some(3))]).await;
        let err = client(&server.url)
            .file_metadata(&id(), "main", "a.csv")
            .await
            .unwrap_err();
        match &err {
            HubError::NotAHubFile { header, .. } => assert_eq!(*header, missing),
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("HF_ENDPOINT"), "{err}");
    }
}

#[tokio::test]
async fn the_probe_follows_relative_redirects_only_and_normalises_etags() {
    let server = Canned::start(vec![
        answer(
            "307 Temporary Redirect",
            &["Location: /datasets/acme/renamed/resolve/main/a.csv".into()],
            b"",
            None,
        ),
        answer(
            "302 Found",
            &[
                "Location: https://cdn.example/objects/abc?sig=1".into(),
                format!("X-Repo-Commit: {COMMIT}"),
                "X-Linked-Etag: W/\"abc\"".into(),
                "X-Linked-Size: 1234".into(),
            ],
            b"Found",
            None,
        ),
    ])
    .await;
    let meta = client(&server.url)
        .file_metadata(&id(), "main", "a.csv")
        .await
        .unwrap();
    assert_eq!(
        meta,
        FileMetadata {
            commit: COMMIT.into(),
            etag: "abc".into(),
            size: 1234,
            url: "https://cdn.example/objects/abc?sig=1".into(),
            is_lfs: true,
        }
    );
    let heads = server.heads();
    assert_eq!(heads.len(), 2, "the absolute redirect is not followed");
    assert!(heads[0].starts_with("HEAD /datasets/acme/data/resolve/main/a.csv "));
    assert!(heads[1].starts_with("HEAD /datasets/acme/renamed/resolve/main/a.csv "));
    assert!(
        heads[1]
            .to_ascii_lowercase()
            .contains("authorization: bearer hf_secret")
    );
}

#[tokio::test]
async fn a_server_that_ignores_the_range_restarts_from_zero() {
    let body = b"0123456789";
    let server = Canned::start(vec![answer("200 OK", &[], body, None)]).await;
    let meta = FileMetadata {
        commit: COMMIT.into(),
        etag: "e".into(),
        size: 10,
        url: format!("{}/datasets/acme/data/resolve/main/a.csv", server.url),
        is_lfs: false,
    };
    let download = client(&server.url).download(&meta, 6).await.unwrap();
    assert_eq!((download.start, download.total), (0, 10));
    let mut bytes = Vec::new();
    let mut stream = download.body;
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(bytes, body);
    assert!(
        server.heads()[0]
            .to_ascii_lowercase()
            .contains("range: bytes=6-")
    );
}

#[tokio::test]
async fn a_body_cut_short_fails_the_stream_and_a_cdn_never_sees_the_token() {
    let server = Canned::start(vec![answer("200 OK", &[], b"01234", Some(10))]).await;
    // The server's own address under another name is another origin than the endpoint.
    let cdn = server.url.replace("127.0.0.1", "localhost");
    let meta = FileMetadata {
        commit: COMMIT.into(),
        etag: "e".into(),
        size: 10,
        url: format!("{cdn}/objects/e"),
        is_lfs: true,
    };
    let download = client(&server.url).download(&meta, 0).await.unwrap();
    let mut stream = download.body;
    let mut received = 0;
    let mut failed = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => received += chunk.len(),
            Err(e) => {
                assert!(
                    matches!(e, HubError::Transport { .. } | HubError::BodySize { .. }),
                    "{e:?}"
                );
                failed = true;
            }
        }
    }
    assert!(failed && received <= 5);
    assert!(
        !server.heads()[0]
            .to_ascii_lowercase()
            .contains("authorization"),
        "{:?}",
        server.heads()
    );
}
