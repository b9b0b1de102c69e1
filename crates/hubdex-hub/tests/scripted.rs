//! The client against a tiny scripted HTTP server, for what the fake Hub does not simulate:
//! rate-limit headers, stalled servers, closed ports, and links to another origin.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hubdex_hub::{HubClient, HubConfig, HubError, ListParams, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves canned responses in order (the last one repeats) and records each request's head.
struct Scripted {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    async fn start(responses: Vec<String>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("the bound address")
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        tokio::spawn(async move {
            for served in 0..64usize {
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
                    .expect("the request log")
                    .push(String::from_utf8_lossy(&head).into_owned());
                let response = &responses[served.min(responses.len() - 1)];
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        Scripted { url, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("the request log").clone()
    }
}

fn response(status: &str, headers: &[String], body: &str) -> String {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(body);
    out
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    }
}

fn client(endpoint: &str, token: Option<&str>) -> HubClient {
    HubClient::new(HubConfig {
        endpoint: endpoint.to_string(),
        token: token.map(str::to_string),
        retry: fast_retries(),
        timeout: Duration::from_secs(5),
    })
    .expect("a client for the scripted server")
}

#[tokio::test]
async fn a_429_is_retried_after_the_wait_the_hub_asks_for() {
    let hub = Scripted::start(vec![
        response(
            "429 Too Many Requests",
            &["Retry-After: 0".into()],
            r#"{"error":"slow down"}"#,
        ),
        response("200 OK", &[], r#"[{"id":"acme/one"}]"#),
    ])
    .await;
    let mut pager = client(&hub.url, None).list_datasets(&ListParams::default());
    let page = pager.next_page().await.unwrap().unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(hub.requests().len(), 2);
    assert!(pager.next_page().await.unwrap().is_none());
}

#[tokio::test]
async fn a_429_that_never_ends_is_rate_limited_with_advice() {
    let hub = Scripted::start(vec![response(
        "429 Too Many Requests",
        &["Retry-After: 0".into(), "X-Request-Id: Root=1-rl".into()],
        "",
    )])
    .await;
    let mut pager = client(&hub.url, None).list_datasets(&ListParams::default());
    let err = pager.next_page().await.unwrap_err();
    assert!(matches!(err, HubError::RateLimited { .. }), "{err:?}");
    assert!(!err.is_offline());
    let msg = err.to_string();
    assert!(
        msg.contains("HF_TOKEN") && msg.contains("Root=1-rl"),
        "{msg}"
    );
    assert_eq!(hub.requests().len(), 4, "the first try and 3 retries");
    assert!(
        pager.next_url().is_some(),
        "a failed page can be retried later"
    );
}

#[tokio::test]
async fn requests_identify_hubdex_and_carry_the_token_only_to_the_hub() {
    let elsewhere = Scripted::start(vec![response("200 OK", &[], "[]")]).await;
    let link = format!(
        "Link: <{}/api/datasets?cursor=abc>; rel=\"next\"",
        elsewhere.url
    );
    let hub = Scripted::start(vec![response("200 OK", &[link], "[]")]).await;
    let mut pager = client(&hub.url, Some("hf_SeCrEt")).list_datasets(&ListParams::default());
    for _ in 0..3 {
        if pager.next_page().await.unwrap().is_none() {
            break;
        }
    }
    assert_eq!(
        pager.next_url(),
        None,
        "the walk ends after the linked page"
    );

    let first = hub.requests()[0].to_ascii_lowercase();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        first.contains(&format!("user-agent: hubdex/{version}\r\n")),
        "{first}"
    );
    assert!(first.contains("accept: application/json\r\n"), "{first}");
    assert!(
        first.contains("authorization: bearer hf_secret\r\n"),
        "{first}"
    );
    let second = elsewhere.requests()[0].to_ascii_lowercase();
    assert!(
        second.starts_with("get /api/datasets?cursor=abc "),
        "{second}"
    );
    assert!(
        !second.contains("authorization"),
        "token leaked to another origin: {second}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_offline() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        for _ in 0..16 {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            keep.lock().unwrap().push(socket);
        }
    });
    let hub = HubClient::new(HubConfig {
        endpoint: endpoint.clone(),
        token: Some("hf_SeCrEt".into()),
        retry: RetryPolicy {
            max_retries: 1,
            ..fast_retries()
        },
        timeout: Duration::from_millis(200),
    })
    .unwrap();
    let err = hub
        .list_datasets(&ListParams::default())
        .next_page()
        .await
        .unwrap_err();
    assert!(err.is_offline(), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&endpoint) && msg.contains("HF_ENDPOINT"),
        "{msg}"
    );
    assert!(!msg.contains("hf_SeCrEt") && !format!("{err:?}").contains("hf_SeCrEt"));
    assert_eq!(held.lock().unwrap().len(), 2, "the first try and 1 retry");
}

#[tokio::test]
async fn a_bad_item_is_skipped_but_the_page_is_kept() {
    let hub = Scripted::start(vec![response(
        "200 OK",
        &[],
        r#"[{"id":"acme/one"},{"id":"bad id with spaces"},{"id":"acme/two","gated":"auto"}]"#,
    )])
    .await;
    let page = client(&hub.url, None)
        .list_datasets(&ListParams::default())
        .next_page()
        .await
        .unwrap()
        .unwrap();
    let ids: Vec<&str> = page.records.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["acme/one", "acme/two"]);
    assert_eq!(page.skipped, 1);
}

#[tokio::test]
async fn an_invalid_token_is_not_retried_and_says_to_check_hf_token() {
    let hub = Scripted::start(vec![response(
        "401 Unauthorized",
        &["X-Error-Message: Invalid credentials in Authorization header".into()],
        r#"{"error":"Invalid credentials in Authorization header"}"#,
    )])
    .await;
    let id = "acme/one".parse().unwrap();
    let err = client(&hub.url, Some("hf_wrong"))
        .dataset_info(&id)
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::InvalidToken { .. }), "{err:?}");
    assert!(err.to_string().contains("HF_TOKEN"));
    assert!(!err.to_string().contains("hf_wrong"));
    assert_eq!(hub.requests().len(), 1);
}

#[tokio::test]
async fn endpoint_with_a_path_prefix_is_kept() {
    let hub = Scripted::start(vec![response(
        "200 OK",
        &[],
        r#"{"id":"acme/one","likes":4}"#,
    )])
    .await;
    let mirror = format!("{}/hf-mirror", hub.url);
    let id = "acme/one".parse().unwrap();
    let d = client(&mirror, None).dataset_info(&id).await.unwrap();
    assert_eq!(d.likes, 4);
    assert!(hub.requests()[0].starts_with("GET /hf-mirror/api/datasets/acme/one "));
}

#[test]
fn a_malformed_endpoint_is_refused_with_advice() {
    for bad in ["huggingface.co", "ftp://example.org", ""] {
        let err = HubClient::new(HubConfig {
            endpoint: bad.into(),
            ..HubConfig::default()
        })
        .unwrap_err();
        assert!(matches!(err, HubError::InvalidUrl { .. }), "{bad}: {err:?}");
        assert!(err.to_string().contains("HF_ENDPOINT"));
    }
}

#[tokio::test]
async fn pages_expose_the_rate_limit_and_observers_see_each_wait() {
    let hub = Scripted::start(vec![
        response(
            "429 Too Many Requests",
            &[
                "RateLimit: \"api\";r=0;t=0".into(),
                "RateLimit-Policy: \"fixed window\";\"api\";q=500;w=300".into(),
                "Retry-After: 0".into(),
            ],
            r#"{"error":"slow down"}"#,
        ),
        response(
            "200 OK",
            &[
                "RateLimit: \"api\";r=499;t=250".into(),
                "RateLimit-Policy: \"fixed window\";\"api\";q=500;w=300".into(),
            ],
            r#"[{"id":"acme/one"}]"#,
        ),
    ])
    .await;
    let waits = Arc::new(Mutex::new(Vec::new()));
    let seen = waits.clone();
    let observed = client(&hub.url, None).with_retry_observer(move |wait| {
        seen.lock().expect("the wait log").push(wait.clone());
    });
    assert!(!observed.has_token());
    let page = observed
        .list_datasets(&ListParams::default())
        .next_page()
        .await
        .unwrap()
        .unwrap();
    let limit = page.rate_limit.expect("the page's rate limit");
    assert_eq!(limit.remaining, 499);
    assert_eq!(limit.reset, Duration::from_secs(250));
    assert_eq!(limit.quota, Some(500));
    assert_eq!(limit.window, Some(Duration::from_secs(300)));
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(waits[0].rate_limited);
    assert_eq!((waits[0].retry, waits[0].max_retries), (1, 3));
    assert!(
        waits[0].wait >= Duration::from_secs(1),
        "r=0;t=0 waits t + 1 s"
    );
    assert!(waits[0].url.contains("/api/datasets"));
    assert!(client(&hub.url, Some("hf_x")).has_token());
}
