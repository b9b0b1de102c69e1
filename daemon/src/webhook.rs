//! `POST /webhook`: the Hub's webhooks (payload version 3, hub-api.md §6) keep single
//! datasets fresh between syncs. A delivery is checked and queued at once; a worker then
//! re-fetches the dataset from the Hub and stores it, or removes it, one delivery at a time
//! and in order (so an update followed by a deletion never leaves the update behind).

use std::sync::{Arc, Mutex, Weak};

use hubdex_core::DatasetId;
use hubdex_hub::HubError;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::metrics::WebhookLabels;
use crate::service::Daemon;

/// Deliveries waiting for the worker; beyond this the daemon answers 503.
const QUEUE: usize = 1024;

/// What a delivery asks the daemon to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Fetch the dataset again and store it (created, new commits, settings changed).
    Refresh(DatasetId),
    /// Remove it from the catalog.
    Remove(DatasetId),
    /// It was renamed: remove the old id, fetch the new one.
    Move {
        /// The old id.
        from: DatasetId,
        /// The new id.
        to: DatasetId,
    },
}

/// The answer to a delivery, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Receipt {
    /// True when the delivery was queued.
    pub accepted: bool,
    /// The dataset it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// `refresh`, `remove` or `move`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
    /// Why nothing is done (not a dataset, a discussion event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// The secret is missing or wrong (401).
    #[error(
        "the X-Webhook-Secret header is missing or wrong; set the same secret in the Hub's webhook settings and as webhook_secret in hubdex's config.toml"
    )]
    Secret,
    /// The body is not a Hub webhook payload (400).
    #[error("{0}")]
    Payload(String),
    /// The queue is full (503).
    #[error(
        "too many webhook deliveries are waiting; this one is dropped and the next sync picks the change up"
    )]
    Busy,
}

/// The delivery queue.
pub(crate) struct WebhookQueue {
    sender: mpsc::Sender<Action>,
    receiver: Mutex<Option<mpsc::Receiver<Action>>>,
}

impl WebhookQueue {
    pub fn new() -> WebhookQueue {
        let (sender, receiver) = mpsc::channel(QUEUE);
        WebhookQueue {
            sender,
            receiver: Mutex::new(Some(receiver)),
        }
    }
}

impl Default for WebhookQueue {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Deserialize)]
struct Payload {
    event: Event,
    repo: Repo,
    #[serde(rename = "movedTo")]
    moved_to: Option<MovedTo>,
}

#[derive(Deserialize)]
struct Event {
    action: String,
    scope: String,
}

#[derive(Deserialize)]
struct Repo {
    #[serde(rename = "type")]
    kind: String,
    name: String,
}

#[derive(Deserialize)]
struct MovedTo {
    name: String,
}

/// Checks a delivery's secret and payload and queues what it asks for.
pub(crate) fn receive(
    daemon: &Daemon,
    secret: Option<&[u8]>,
    body: &[u8],
) -> Result<Receipt, Refusal> {
    let count = |outcome| {
        daemon
            .metrics
            .sync
            .webhook_deliveries
            .get_or_create(&WebhookLabels { outcome })
            .inc();
    };
    if let Some(expected) = &daemon.config.webhook_secret
        && !secret.is_some_and(|given| constant_time_eq(given, expected.as_bytes()))
    {
        count("unauthorized");
        return Err(Refusal::Secret);
    }
    let action = match parse(body) {
        Ok(Ok(action)) => action,
        Ok(Err(ignored)) => {
            count("ignored");
            return Ok(Receipt {
                accepted: false,
                dataset: None,
                action: None,
                ignored: Some(ignored),
            });
        }
        Err(message) => {
            count("invalid");
            return Err(Refusal::Payload(message));
        }
    };
    let receipt = match &action {
        Action::Refresh(id) => (id, "refresh"),
        Action::Remove(id) => (id, "remove"),
        Action::Move { from, .. } => (from, "move"),
    };
    let receipt = Receipt {
        accepted: true,
        dataset: Some(receipt.0.to_string()),
        action: Some(receipt.1),
        ignored: None,
    };
    if daemon.webhooks.sender.try_send(action).is_err() {
        count("busy");
        return Err(Refusal::Busy);
    }
    count("accepted");
    daemon
        .sync_runtime
        .webhooks
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(receipt)
}

/// Reads a v3 payload: `Ok(Ok(action))` for a dataset event hubdex acts on, `Ok(Err(why))`
/// for one it ignores, `Err` for a body that is not a payload.
fn parse(body: &[u8]) -> Result<Result<Action, String>, String> {
    let payload: Payload = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the body is not a Hub webhook payload (version 3, with event.action, event.scope, repo.type and repo.name): {e}"
        )
    })?;
    if payload.repo.kind != "dataset" {
        return Ok(Err(format!(
            "repo.type is `{}`; hubdex follows datasets only",
            payload.repo.kind
        )));
    }
    let id =
        |name: &str| DatasetId::new(name).map_err(|e| format!("`{name}` is not a dataset id: {e}"));
    let name = id(&payload.repo.name)?;
    let scope = payload.event.scope.as_str();
    let action = payload.event.action.as_str();
    if !(scope == "repo" || scope.starts_with("repo.")) {
        return Ok(Err(format!("`{scope}` events do not change the catalog")));
    }
    Ok(Ok(match (scope, action) {
        ("repo", "delete") => Action::Remove(name),
        ("repo", "move") => {
            let to = payload.moved_to.ok_or_else(|| {
                "a `move` event must say where the dataset moved (movedTo.name)".to_string()
            })?;
            Action::Move {
                from: name,
                to: id(&to.name)?,
            }
        }
        // create, update, and anything new under repo.*: fetch the dataset again.
        _ => Action::Refresh(name),
    }))
}

/// Compares a given secret with the configured one in time that does not depend on where
/// they differ.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (i, e) in expected.iter().enumerate() {
        diff |= given.get(i).copied().unwrap_or(!e) ^ e;
    }
    diff == 0
}

/// Starts the worker that carries out queued deliveries; it stops with the daemon.
pub(crate) fn spawn_worker(daemon: &Arc<Daemon>) {
    let receiver = daemon
        .webhooks
        .receiver
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some(receiver) = receiver {
        tokio::spawn(worker(Arc::downgrade(daemon), receiver));
    }
}

async fn worker(daemon: Weak<Daemon>, mut receiver: mpsc::Receiver<Action>) {
    while let Some(action) = receiver.recv().await {
        let Some(daemon) = daemon.upgrade() else {
            return;
        };
        let outcome = match apply(&daemon, &action).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::warn!(
                    ?action,
                    "webhook not applied: {e}; the next sync catches up"
                );
                "failed"
            }
        };
        daemon
            .metrics
            .sync
            .webhook_updates
            .get_or_create(&WebhookLabels { outcome })
            .inc();
        daemon.refresh_record_gauge();
    }
}

/// Carries out one delivery; returns `refreshed` or `removed`.
async fn apply(daemon: &Daemon, action: &Action) -> Result<&'static str, String> {
    match action {
        Action::Refresh(id) => refresh(daemon, id).await,
        Action::Remove(id) => {
            remove(daemon, id).await?;
            Ok("removed")
        }
        Action::Move { from, to } => {
            remove(daemon, from).await?;
            refresh(daemon, to).await
        }
    }
}

/// Fetches the dataset and stores it; a dataset the Hub no longer shows is removed.
async fn refresh(daemon: &Daemon, id: &DatasetId) -> Result<&'static str, String> {
    match daemon.hub.dataset_info(id).await {
        Ok(record) => {
            daemon.sync_runtime.mark(record.id.as_str());
            let catalog = daemon.catalog.clone();
            tokio::task::spawn_blocking(move || catalog.upsert_batch(&[record]))
                .await
                .map_err(|e| format!("the store task failed: {e}"))?
                .map_err(|e| format!("cannot store the dataset: {e}"))?;
            tracing::info!(%id, "dataset refreshed for a webhook");
            Ok("refreshed")
        }
        Err(HubError::RepoNotFound { .. }) => {
            remove(daemon, id).await?;
            Ok("removed")
        }
        Err(e) => Err(e.to_string()),
    }
}

async fn remove(daemon: &Daemon, id: &DatasetId) -> Result<(), String> {
    daemon.sync_runtime.unmark(id.as_str());
    let catalog = daemon.catalog.clone();
    let ids = [id.clone()];
    tokio::task::spawn_blocking(move || catalog.remove_batch(&ids))
        .await
        .map_err(|e| format!("the store task failed: {e}"))?
        .map_err(|e| format!("cannot remove the dataset: {e}"))?;
    tracing::info!(%id, "dataset removed for a webhook");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(scope: &str, action: &str, extra: &str) -> Vec<u8> {
        format!(
            r#"{{"event":{{"action":"{action}","scope":"{scope}"}},
                "repo":{{"type":"dataset","name":"acme/reviews","id":"66a1f0c2e4b0a1b2c3d4e5f6",
                         "headSha":"3f2c9d1e0b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d"}}{extra},
                "webhook":{{"id":"6390e855e30d9209411de93b","version":3}}}}"#
        )
        .into_bytes()
    }

    fn id(s: &str) -> DatasetId {
        DatasetId::new(s).unwrap()
    }

    #[test]
    fn dataset_events_become_actions() {
        let refresh = Ok(Ok(Action::Refresh(id("acme/reviews"))));
        assert_eq!(parse(&payload("repo", "create", "")), refresh);
        assert_eq!(parse(&payload("repo.content", "update", "")), refresh);
        assert_eq!(parse(&payload("repo.config", "update", "")), refresh);
        assert_eq!(parse(&payload("repo.future-scope", "update", "")), refresh);
        assert_eq!(
            parse(&payload("repo", "delete", "")),
            Ok(Ok(Action::Remove(id("acme/reviews"))))
        );
        let moved = r#","movedTo":{"name":"acme/reviews-v2","owner":{"id":"x"}}"#;
        assert_eq!(
            parse(&payload("repo", "move", moved)),
            Ok(Ok(Action::Move {
                from: id("acme/reviews"),
                to: id("acme/reviews-v2")
            }))
        );
    }

    #[test]
    fn other_events_are_ignored_and_garbage_refused() {
        assert!(matches!(
            parse(&payload("discussion", "create", "")),
            Ok(Err(_))
        ));
        let model =
            br#"{"event":{"action":"update","scope":"repo"},"repo":{"type":"model","name":"a/b"}}"#;
        assert!(matches!(parse(model), Ok(Err(why)) if why.contains("model")));
        assert!(parse(b"not json").unwrap_err().contains("version 3"));
        let bad_id = br#"{"event":{"action":"update","scope":"repo"},"repo":{"type":"dataset","name":"a b/c"}}"#;
        assert!(parse(bad_id).is_err());
        assert!(
            parse(&payload("repo", "move", ""))
                .unwrap_err()
                .contains("movedTo")
        );
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cre", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret!", b"s3cret"));
        assert!(!constant_time_eq(b"S3cret", b"s3cret"));
        assert!(!constant_time_eq(b"", b"s3cret"));
    }
}
