//! A compatible subset of the dataset-viewer API (hub-api.md §5), computed from the fake's
//! repos and served under `/viewer` on the same listener: point hubdex's viewer endpoint at
//! `http://<fake>/viewer`.
//!
//! * `GET /viewer/splits?dataset=` lists config/split pairs inferred from the repo's data
//!   files (its `refs/convert/parquet` branch when it has one, as the viewer reads the
//!   parquet export, else `main`);
//! * `GET /viewer/first-rows?dataset=&config=&split=` reads the split's first file (up to 100
//!   rows) with `hubdex-preview`, answering `features` in the `datasets` JSON form;
//! * errors as the viewer words them: 401/404 for missing, private or gated datasets, 404
//!   `ResponseNotFound` for unknown splits, 422 for missing parameters, 500 for datasets
//!   without data files or with files that do not read.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::files::Files;
use crate::query::percent_decode;
use crate::repos::Repo;
use crate::server::{hub_error, json_response};

/// Rows `/first-rows` answers at most, as the real viewer.
const FIRST_ROWS: usize = 100;

/// The viewer's wording for a dataset it may not show.
const NOT_ACCESSIBLE: &str = "The dataset does not exist, or is not accessible without authentication (private or gated). Please check the spelling of the dataset name or retry with authentication.";

/// The viewer routes, to merge into the fake's router.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(files: Arc<Files>) -> Router<S> {
    Router::new()
        .route("/viewer/splits", get(splits))
        .route("/viewer/first-rows", get(first_rows))
        .with_state(files)
}

/// A dataset's data files (of its parquet export when it has one, else of `main`) and
/// their bytes.
struct Listing {
    /// The data files with their config and split, the one to read first first.
    files: Vec<hubdex_preview::DataFile>,
    /// The blobs of those files, by path.
    blobs: Vec<(String, Arc<crate::repos::Blob>)>,
}

/// The repo's data files, or `None` when it is missing, private or gated for this caller.
fn listing(repo: Option<&Repo>, token: Option<&str>) -> Option<Listing> {
    let repo = repo?;
    if repo
        .access
        .clone()
        .unwrap_or_default()
        .check(token, true)
        .is_err()
    {
        return None;
    }
    let head = repo
        .refs
        .get("refs/convert/parquet")
        .or_else(|| repo.refs.get("refs/heads/main"))
        .copied()?;
    let tree = &repo.commits[head].tree;
    let files = hubdex_preview::data_files(tree.files.keys().map(String::as_str));
    let blobs = files
        .iter()
        .filter_map(|f| {
            tree.files
                .get(&f.path)
                .map(|e| (f.path.clone(), Arc::clone(&e.blob)))
        })
        .collect();
    Some(Listing { files, blobs })
}

fn bearer(headers: &HeaderMap) -> Option<String> {
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

/// The value of a parameter, if given and not empty.
fn param(raw: Option<&str>, key: &str) -> Option<String> {
    raw.unwrap_or("")
        .split('&')
        .filter_map(|piece| piece.split_once('='))
        .find(|(k, _)| percent_decode(k) == key)
        .map(|(_, v)| percent_decode(&v.replace('+', " ")))
        .filter(|v| !v.is_empty())
}

/// The viewer's 422 for a missing parameter.
fn missing(key: &str) -> Response {
    hub_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("MissingRequiredParameter"),
        &format!("Parameter '{key}' is required"),
    )
}

fn not_accessible(token: bool) -> Response {
    if token {
        hub_error(
            StatusCode::NOT_FOUND,
            Some("ExternalAuthenticatedError"),
            NOT_ACCESSIBLE,
        )
    } else {
        hub_error(
            StatusCode::UNAUTHORIZED,
            Some("ExternalUnauthenticatedError"),
            NOT_ACCESSIBLE,
        )
    }
}

async fn read_listing(files: &Files, token: Option<&str>, dataset: &str) -> Option<Listing> {
    files.with_repo(dataset, |repo| listing(repo, token)).await
}

fn empty_dataset(dataset: &str) -> Response {
    let mut r = hub_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        Some("EmptyDatasetError"),
        "The dataset is empty.",
    );
    *r.body_mut() = json!({
        "error": "The dataset is empty.",
        "cause_exception": "EmptyDatasetError",
        "cause_message": format!("The directory at hf://datasets/{dataset} doesn't contain any data files"),
    })
    .to_string()
    .into();
    r
}

/// `GET /viewer/splits?dataset=`.
async fn splits(
    State(files): State<Arc<Files>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(dataset) = param(raw.as_deref(), "dataset") else {
        return missing("dataset");
    };
    let token = bearer(&headers);
    let Some(listing) = read_listing(&files, token.as_deref(), &dataset).await else {
        return not_accessible(token.is_some());
    };
    if listing.files.is_empty() {
        return empty_dataset(&dataset);
    }
    let splits: Vec<Value> = hubdex_preview::splits(&listing.files)
        .into_iter()
        .map(|(config, split)| json!({"dataset": dataset, "config": config, "split": split}))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"splits": splits, "pending": [], "failed": []}),
    )
}

/// `GET /viewer/first-rows?dataset=&config=&split=`.
async fn first_rows(
    State(files): State<Arc<Files>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let mut params = Vec::with_capacity(3);
    for key in ["dataset", "config", "split"] {
        match param(raw.as_deref(), key) {
            Some(value) => params.push(value),
            None => return missing(key),
        }
    }
    let [dataset, config, split] = [params.remove(0), params.remove(0), params.remove(0)];
    let token = bearer(&headers);
    let Some(listing) = read_listing(&files, token.as_deref(), &dataset).await else {
        return not_accessible(token.is_some());
    };
    let Some(file) = listing
        .files
        .iter()
        .find(|f| f.config == config && f.split == split)
    else {
        return hub_error(
            StatusCode::NOT_FOUND,
            Some("ResponseNotFound"),
            "Not found.",
        );
    };
    let Some((path, blob)) = listing.blobs.iter().find(|(p, _)| *p == file.path).cloned() else {
        return hub_error(
            StatusCode::NOT_FOUND,
            Some("ResponseNotFound"),
            "Not found.",
        );
    };
    let read = tokio::task::spawn_blocking(move || {
        let bytes: Bytes = blob.chunk(0, usize::try_from(blob.size).unwrap_or(usize::MAX));
        hubdex_preview::read_bytes(&path, bytes, FIRST_ROWS)
    })
    .await;
    let table = match read {
        Ok(Ok(table)) => table,
        Ok(Err(e)) => {
            let body = json!({
                "error": "Cannot load the dataset split (in streaming mode) to extract the first rows.",
                "cause_exception": "PreviewError",
                "cause_message": e.to_string(),
            });
            return json_response(StatusCode::INTERNAL_SERVER_ERROR, &body);
        }
        Err(e) => {
            return hub_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some("UnexpectedApiError"),
                &format!("reading the split failed: {e}"),
            );
        }
    };
    let features: Vec<Value> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"feature_idx": i, "name": c.name, "type": feature(&c.dtype)}))
        .collect();
    let rows: Vec<Value> = table
        .rows
        .into_iter()
        .enumerate()
        .map(|(i, values)| {
            let row: Map<String, Value> = table
                .columns
                .iter()
                .map(|c| c.name.clone())
                .zip(values)
                .collect();
            json!({"row_idx": i, "row": row, "truncated_cells": []})
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "dataset": dataset,
            "config": config,
            "split": split,
            "features": features,
            "rows": rows,
            "truncated": table.truncated,
        }),
    )
}

/// A column type in words (`string`, `list<float32>`, `struct<a: int64>`) as a `datasets`
/// feature, the form the viewer answers in.
fn feature(dtype: &str) -> Value {
    if let Some(inner) = dtype
        .strip_prefix("list<")
        .and_then(|s| s.strip_suffix('>'))
    {
        return json!({"feature": feature(inner), "_type": "List"});
    }
    if let Some(inner) = dtype
        .strip_prefix("struct<")
        .and_then(|s| s.strip_suffix('>'))
    {
        let mut map = Map::new();
        for field in split_top(inner) {
            if let Some((name, kind)) = field.split_once(": ") {
                map.insert(name.to_string(), feature(kind));
            }
        }
        return Value::Object(map);
    }
    match dtype {
        "image" => json!({"_type": "Image"}),
        "audio" => json!({"_type": "Audio"}),
        "class_label" => json!({"names": [], "_type": "ClassLabel"}),
        "json" | "null" => json!({"dtype": "string", "_type": "Value"}),
        other => json!({"dtype": other, "_type": "Value"}),
    }
}

/// Splits `a: x, b: list<y>` at the commas outside `<…>`.
fn split_top(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtypes_become_features_that_read_back_the_same() {
        for dtype in [
            "string",
            "int64",
            "list<float32>",
            "list<list<int64>>",
            "struct<a: string, b: list<struct<c: bool>>>",
            "image",
        ] {
            assert_eq!(hubdex_preview::feature_dtype(&feature(dtype)), dtype);
        }
    }
}
