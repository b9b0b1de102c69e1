//! Webhooks the fake sends when its catalog changes: Hub webhook payloads of version 3
//! (hub-api.md §6) POSTed in order to every registered target, with `X-Webhook-Secret` when
//! the target has a secret.

use std::collections::VecDeque;
use std::sync::{Mutex, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::catalog::hex;
use crate::mutate::{Change, ChangeKind};

/// How long one delivery may take before it counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// The most deliveries the log keeps; older ones are dropped first.
const LOG_CAPACITY: usize = 10_000;

/// Where the fake sends a webhook for each change of its catalog (registered with
/// `POST /_fakehub/webhook-target` or [`crate::RunningFakeHub::add_webhook_target`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookTarget {
    /// The URL the payloads are POSTed to.
    pub url: String,
    /// Sent as `X-Webhook-Secret` with every payload, as the Hub does when a secret is set.
    #[serde(default)]
    pub secret: Option<String>,
}

/// One webhook the fake sent, for tests to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// The target's URL.
    pub url: String,
    /// `scope/action`, e.g. `repo/delete` or `repo.content/update`.
    pub event: String,
    /// The dataset the payload is about (its old id for a rename).
    pub dataset: String,
    /// The status the target answered, when it answered.
    pub status: Option<u16>,
    /// Why the delivery failed, when it did not get an answer.
    pub error: Option<String>,
}

/// One queued delivery: where to, the payload, and its log entry to fill in.
type Delivery = (WebhookTarget, Value, WebhookDelivery);

/// The receiving end of the delivery queue, for [`deliver`].
pub(crate) type Deliveries = mpsc::UnboundedReceiver<Vec<Delivery>>;

/// The registered targets, the delivery queue and the delivery log.
pub(crate) struct Webhooks {
    targets: Mutex<Vec<WebhookTarget>>,
    log: Mutex<VecDeque<WebhookDelivery>>,
    queue: mpsc::UnboundedSender<Vec<Delivery>>,
}

impl Webhooks {
    /// The webhook state and the receiving end of its queue, for [`deliver`].
    pub fn new() -> (Webhooks, Deliveries) {
        let (queue, receiver) = mpsc::unbounded_channel();
        let webhooks = Webhooks {
            targets: Mutex::new(Vec::new()),
            log: Mutex::new(VecDeque::new()),
            queue,
        };
        (webhooks, receiver)
    }

    /// Adds a target; a target with the same URL is replaced (a new secret).
    pub fn add_target(&self, target: WebhookTarget) -> Vec<WebhookTarget> {
        let mut targets = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        targets.retain(|t| t.url != target.url);
        targets.push(target);
        targets.clone()
    }

    /// Every delivery made so far (the last 10,000), oldest first.
    pub fn deliveries(&self) -> Vec<WebhookDelivery> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.iter().cloned().collect()
    }

    fn record(&self, delivery: WebhookDelivery) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() == LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(delivery);
    }

    /// Queues one payload per change for every target; `hub_url` is the fake's own base URL.
    pub fn send(&self, hub_url: &str, changes: &[Change]) {
        let targets = self
            .targets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if targets.is_empty() || changes.is_empty() {
            return;
        }
        let mut batch = Vec::with_capacity(targets.len() * changes.len());
        for change in changes {
            for target in &targets {
                let (payload, event) = payload(hub_url, &target.url, change);
                let delivery = WebhookDelivery {
                    url: target.url.clone(),
                    event,
                    dataset: change.name.clone(),
                    status: None,
                    error: None,
                };
                batch.push((target.clone(), payload, delivery));
            }
        }
        // The receiver lives as long as the server; when it is gone nobody is listening.
        let _ = self.queue.send(batch);
    }
}

/// Delivers queued payloads one at a time, in order, until the queue closes (when the
/// [`Webhooks`] are dropped); each delivery is logged in them.
pub(crate) async fn deliver(webhooks: Weak<Webhooks>, mut receiver: Deliveries) {
    let client = match reqwest::Client::builder().timeout(DELIVERY_TIMEOUT).build() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!("cannot build the webhook HTTP client; no webhook will be sent: {e}");
            return;
        }
    };
    while let Some(batch) = receiver.recv().await {
        for (target, payload, mut delivery) in batch {
            let mut request = client.post(&target.url).json(&payload);
            if let Some(secret) = &target.secret {
                request = request.header("X-Webhook-Secret", secret);
            }
            match request.send().await {
                Ok(response) => delivery.status = Some(response.status().as_u16()),
                Err(e) => {
                    tracing::warn!(url = %target.url, "webhook delivery failed: {e}");
                    delivery.error = Some(e.to_string());
                }
            }
            let Some(webhooks) = webhooks.upgrade() else {
                return;
            };
            webhooks.record(delivery);
        }
    }
}

/// A v3 payload for one change, and its `scope/action` label.
fn payload(hub_url: &str, target_url: &str, change: &Change) -> (Value, String) {
    let (scope, action) = match change.kind {
        ChangeKind::Create => ("repo", "create"),
        ChangeKind::Update => ("repo.content", "update"),
        ChangeKind::Delete => ("repo", "delete"),
        ChangeKind::Move => ("repo", "move"),
    };
    let owner_id = change
        .owner
        .as_deref()
        .map_or_else(|| "000000000000000000000000".to_string(), object_id_of);
    let mut payload = json!({
        "event": {"action": action, "scope": scope},
        "repo": {
            "type": "dataset",
            "name": change.name,
            "id": hex(&change.object_id),
            "private": false,
            "headSha": hex(&change.sha),
            "url": {
                "web": format!("{hub_url}/datasets/{}", change.name),
                "api": format!("{hub_url}/api/datasets/{}", change.name),
            },
            "owner": {"id": owner_id},
        },
        "webhook": {"id": object_id_of(target_url), "version": 3},
    });
    if let Some(old) = change.old_sha {
        payload["updatedRefs"] = json!([{
            "ref": "refs/heads/main",
            "oldSha": hex(&old),
            "newSha": hex(&change.sha),
        }]);
    }
    if let Some(to) = &change.moved_to {
        payload["movedTo"] = json!({"name": to, "owner": {"id": owner_id}});
    }
    (payload, format!("{scope}/{action}"))
}

/// A stable 24-hex id for a name (owners and webhooks have Mongo ids on the Hub).
fn object_id_of(name: &str) -> String {
    hex(&Sha256::digest(name.as_bytes())[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(kind: ChangeKind) -> Change {
        Change {
            kind,
            name: "acme/reviews".into(),
            object_id: [1; 12],
            sha: [2; 20],
            old_sha: (kind == ChangeKind::Update).then_some([3; 20]),
            owner: Some("acme".into()),
            moved_to: (kind == ChangeKind::Move).then(|| "acme/reviews-renamed".to_string()),
        }
    }

    #[test]
    fn payloads_follow_version_3() {
        let (update, event) = payload("http://h:1", "http://t/hook", &change(ChangeKind::Update));
        assert_eq!(event, "repo.content/update");
        assert_eq!(
            update["event"],
            json!({"action": "update", "scope": "repo.content"})
        );
        assert_eq!(update["repo"]["type"], "dataset");
        assert_eq!(update["repo"]["name"], "acme/reviews");
        assert_eq!(update["repo"]["id"], "010101010101010101010101");
        assert_eq!(update["repo"]["headSha"], hex(&[2; 20]));
        assert_eq!(
            update["repo"]["url"]["api"],
            "http://h:1/api/datasets/acme/reviews"
        );
        assert_eq!(update["updatedRefs"][0]["oldSha"], hex(&[3; 20]));
        assert_eq!(update["webhook"]["version"], 3);
        assert_eq!(
            update["repo"]["owner"]["id"].as_str().map(str::len),
            Some(24)
        );

        let (moved, event) = payload("http://h:1", "http://t/hook", &change(ChangeKind::Move));
        assert_eq!(event, "repo/move");
        assert_eq!(moved["movedTo"]["name"], "acme/reviews-renamed");
        assert!(moved.get("updatedRefs").is_none());
        let (deleted, event) = payload("http://h:1", "http://t/hook", &change(ChangeKind::Delete));
        assert_eq!(event, "repo/delete");
        assert_eq!(deleted["event"]["action"], "delete");
    }
}
