//! What every response carries, fault injection, the request log and unknown routes
//! (hub-api.md §0, conformance case 13).

use hubdex_fakehub::{Fault, LoggedRequest};

use crate::common::{get, get_with, synthetic_hub};

fn rate_limit(got: &crate::common::Got) -> (u64, u64) {
    let value = got.headers["ratelimit"].to_str().unwrap();
    let rest = value
        .strip_prefix("\"api\";r=")
        .unwrap_or_else(|| panic!("{value}"));
    let (r, t) = rest.split_once(";t=").unwrap_or_else(|| panic!("{value}"));
    (r.parse().unwrap(), t.parse().unwrap())
}

#[tokio::test]
async fn every_response_carries_rate_limit_and_request_id_headers() {
    let hub = synthetic_hub(20, 1, 1000).await;
    let url = hub.url();
    let responses = [
        get(&format!("{url}/api/datasets")).await,
        get(&format!("{url}/api/datasets/nobody/nothing")).await,
        get(&format!("{url}/api/datasets?limit=0")).await,
        get(&format!("{url}/no/such/route")).await,
    ];
    for got in &responses {
        let (remaining, reset) = rate_limit(got);
        assert!(remaining <= 500 && (1..=300).contains(&reset));
        assert_eq!(
            got.headers["ratelimit-policy"],
            "\"fixed window\";\"api\";q=500;w=300"
        );
        assert!(
            got.headers["x-request-id"]
                .to_str()
                .unwrap()
                .starts_with("Root=1-")
        );
        assert_eq!(
            got.headers["content-type"],
            "application/json; charset=utf-8"
        );
    }
    // Each `/api/` request uses the quota (unless a new window just began).
    let (first, first_reset) = rate_limit(&responses[0]);
    let (third, third_reset) = rate_limit(&responses[2]);
    assert!(
        third == first - 2 || third_reset > first_reset,
        "{first} then {third}"
    );

    // A token is a different client with a free user's quota.
    let client = reqwest::Client::new();
    let with_token = get_with(
        &client,
        &format!("{url}/api/datasets"),
        &[("authorization", "Bearer hf_x")],
    )
    .await;
    assert_eq!(
        with_token.headers["ratelimit-policy"],
        "\"fixed window\";\"api\";q=1000;w=300"
    );
}

#[tokio::test]
async fn injected_faults_fail_exactly_that_many_api_requests() {
    let hub = synthetic_hub(20, 1, 1000).await;
    let list = format!("{}/api/datasets", hub.url());
    hub.inject_faults(Fault {
        count: 2,
        status: 502,
        body: "<html>Bad Gateway</html>".into(),
    });
    // Routes outside /api/ do not use up faults.
    assert_eq!(get(&format!("{}/favicon.ico", hub.url())).await.status, 404);
    for _ in 0..2 {
        let got = get(&list).await;
        assert_eq!(got.status, 502);
        assert_eq!(got.text, "<html>Bad Gateway</html>");
        assert_eq!(got.headers["content-type"], "text/html; charset=utf-8");
    }
    assert_eq!(get(&list).await.status, 200);

    // The same over HTTP, for the binary: a transient page that is not JSON.
    let client = reqwest::Client::new();
    let answer = client
        .post(format!("{}/_fakehub/faults", hub.url()))
        .body(r#"{"count":1,"status":200,"body":"not json"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let pending: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(pending["pending"], 1);
    let garbled = get(&list).await;
    assert_eq!((garbled.status, garbled.text.as_str()), (200, "not json"));
    let recovered = get(&list).await;
    assert_eq!(recovered.json.as_array().map(Vec::len), Some(20));

    let bad = client
        .post(format!("{}/_fakehub/faults", hub.url()))
        .body(r#"{"status":502}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400, "count is required");
    for status in [101, 700] {
        let bad = client
            .post(format!("{}/_fakehub/faults", hub.url()))
            .body(format!(r#"{{"count":1,"status":{status}}}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400, "{status} is not a final status");
    }
    assert_eq!(
        get(&list).await.status,
        200,
        "refused faults are not queued"
    );
}

#[tokio::test]
async fn the_request_log_says_what_clients_sent() {
    let hub = synthetic_hub(20, 1, 1000).await;
    let client = reqwest::Client::new();
    get(&format!("{}/api/datasets?limit=3", hub.url())).await;
    get_with(
        &client,
        &format!("{}/api/datasets/a/b", hub.url()),
        &[("authorization", "Bearer secret"), ("range", "bytes=0-99")],
    )
    .await;
    let log = hub.requests();
    assert_eq!(
        log,
        [
            LoggedRequest {
                method: "GET".into(),
                path: "/api/datasets?limit=3".into(),
                authorization: false,
                range: None,
                status: Some(200),
            },
            LoggedRequest {
                method: "GET".into(),
                path: "/api/datasets/a/b".into(),
                authorization: true,
                range: Some("bytes=0-99".into()),
                status: Some(404),
            },
        ]
    );
    let over_http = get(&format!("{}/_fakehub/requests", hub.url())).await;
    let over_http: Vec<LoggedRequest> = serde_json::from_value(over_http.json).unwrap();
    assert_eq!(
        over_http, log,
        "the control routes are not logged themselves"
    );
    assert!(
        !serde_json::to_string(&log).unwrap().contains("secret"),
        "tokens are never kept"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let hub = synthetic_hub(5, 1, 1000).await;
    for path in [
        "/api/models",
        "/api/datasets/a/b/discussions",
        "/",
        "/api/datasets/a/b/",
    ] {
        let got = get(&format!("{}{path}", hub.url())).await;
        assert_eq!(got.status, 404, "{path}");
        assert!(got.json["error"].is_string(), "{path}: {}", got.text);
    }
    let client = reqwest::Client::new();
    let delete = client
        .delete(format!("{}/api/datasets", hub.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 405);
    let body: serde_json::Value = delete.json().await.unwrap();
    assert!(body["error"].is_string());
}
