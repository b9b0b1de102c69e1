//! The dataset-viewer API (`/splits`, `/first-rows`), as served at
//! `https://datasets-server.huggingface.co` (hub-api.md §5) or by the fake Hub.

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue, USER_AGENT};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::dtype::feature_dtype;
use crate::{Column, PreviewError, Table};

/// The public dataset viewer.
pub const DEFAULT_ENDPOINT: &str = "https://datasets-server.huggingface.co";

/// A client for one dataset-viewer endpoint. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Viewer {
    http: reqwest::Client,
    endpoint: String,
    base: Url,
    auth: Option<HeaderValue>,
}

#[derive(Deserialize)]
struct SplitsBody {
    #[serde(default)]
    splits: Vec<SplitItem>,
}

#[derive(Deserialize)]
struct SplitItem {
    config: String,
    split: String,
}

#[derive(Deserialize)]
struct FirstRowsBody {
    #[serde(default)]
    features: Vec<Feature>,
    #[serde(default)]
    rows: Vec<RowItem>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct Feature {
    name: String,
    #[serde(rename = "type")]
    kind: Value,
}

#[derive(Deserialize)]
struct RowItem {
    row: Map<String, Value>,
}

impl Viewer {
    /// A client for `endpoint` (trailing `/` ignored) that sends `token` as a bearer token
    /// (gated and private datasets need it) and gives up on a silent server after `timeout`.
    pub fn new(
        endpoint: &str,
        token: Option<&str>,
        timeout: Duration,
    ) -> Result<Viewer, PreviewError> {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let unreachable = |reason: String| PreviewError::ViewerUnreachable {
            endpoint: endpoint.clone(),
            reason,
        };
        let base = Url::parse(&format!("{endpoint}/"))
            .map_err(|e| unreachable(format!("it is not a URL ({e})")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(unreachable("it must be an http:// or https:// URL".into()));
        }
        let auth = match token {
            Some(token) => {
                let mut value =
                    HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                        unreachable("the token has characters that cannot be sent".into())
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Viewer {
            http,
            endpoint,
            base,
            auth,
        })
    }

    /// The endpoint, without a trailing `/`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every config/split pair the viewer knows for `dataset` (`GET /splits`).
    pub async fn splits(&self, dataset: &str) -> Result<Vec<(String, String)>, PreviewError> {
        let body: SplitsBody = self.get(dataset, "splits", &[("dataset", dataset)]).await?;
        Ok(body
            .splits
            .into_iter()
            .map(|s| (s.config, s.split))
            .collect())
    }

    /// The first `limit` rows of a split (`GET /first-rows`, which holds up to 100), with
    /// column types from the viewer's features.
    pub async fn first_rows(
        &self,
        dataset: &str,
        config: &str,
        split: &str,
        limit: usize,
    ) -> Result<Table, PreviewError> {
        let body: FirstRowsBody = self
            .get(
                dataset,
                "first-rows",
                &[("dataset", dataset), ("config", config), ("split", split)],
            )
            .await?;
        let columns: Vec<Column> = body
            .features
            .iter()
            .map(|f| Column {
                name: f.name.clone(),
                dtype: feature_dtype(&f.kind),
            })
            .collect();
        let more = body.rows.len() > limit;
        let rows = body
            .rows
            .into_iter()
            .take(limit)
            .map(|mut item| {
                columns
                    .iter()
                    .map(|c| item.row.remove(&c.name).unwrap_or(Value::Null))
                    .collect()
            })
            .collect();
        Ok(Table {
            columns,
            rows,
            truncated: body.truncated || more,
        })
    }

    async fn get<T: for<'de> Deserialize<'de>>(
        &self,
        dataset: &str,
        route: &str,
        params: &[(&str, &str)],
    ) -> Result<T, PreviewError> {
        let unreachable = |reason: String| PreviewError::ViewerUnreachable {
            endpoint: self.endpoint.clone(),
            reason,
        };
        let mut url = self
            .base
            .join(route)
            .map_err(|e| unreachable(e.to_string()))?;
        url.query_pairs_mut().extend_pairs(params);
        let mut request = self
            .http
            .get(url.clone())
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, concat!("hubdex/", env!("CARGO_PKG_VERSION")));
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = response.status();
        let code = response
            .headers()
            .get("x-error-code")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                unreachable(format!(
                    "GET {url} answered something that is not its JSON: {e}"
                ))
            });
        }
        let message = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
        let dataset = dataset.to_string();
        let endpoint = self.endpoint.clone();
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND if code != "ResponseNotFound" => {
                PreviewError::ViewerNotFound {
                    endpoint,
                    dataset,
                    message,
                }
            }
            StatusCode::NOT_FOUND => PreviewError::SplitNotFound {
                config: param(params, "config"),
                split: param(params, "split"),
                available: "see `/splits`".to_string(),
                dataset,
            },
            StatusCode::INTERNAL_SERVER_ERROR if code == "ResponseNotReady" => {
                PreviewError::ViewerNotReady {
                    endpoint,
                    dataset,
                    message,
                }
            }
            _ => PreviewError::ViewerFailed {
                endpoint,
                dataset,
                status: status.as_u16(),
                message,
            },
        })
    }
}

fn param(params: &[(&str, &str)], key: &str) -> String {
    params
        .iter()
        .find(|(k, _)| *k == key)
        .map_or_else(String::new, |(_, v)| (*v).to_string())
}
