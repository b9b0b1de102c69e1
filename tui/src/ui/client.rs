//! The client task: the only part of the TUI that talks to the daemon. It performs
//! [`Effect`]s and sends the answers back as [`Action`]s, long-polls the daemon's events to
//! keep the status fresh, and reconnects when the daemon goes away. The render loop never
//! waits for any of it.

use std::path::PathBuf;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, OptionFuture};
use hubdex_ipc::{ApiError, EventKind, HubdexClient, StartupProgress, context_with_timeout};
use tarpc::client::RpcError;
use tokio::sync::{mpsc, watch};

use super::app::{Action, Effect, SearchJob};
use super::preview::{PreviewAnswer, PreviewLoad, PreviewMsg};
use crate::launcher;

/// Deadline of a search or a dataset lookup.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How much longer than the long-poll itself its deadline is.
const POLL_SLACK: Duration = Duration::from_secs(5);
/// What effects answer while no daemon answers.
const UNREACHABLE: &str = "the hubdex daemon does not answer; reconnecting";

/// Timings of the client task.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// How long the daemon may hold an `events` call open.
    pub poll_wait: Duration,
    /// The first wait before reconnecting to a lost daemon.
    pub retry_min: Duration,
    /// The longest wait between reconnection attempts.
    pub retry_max: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            poll_wait: Duration::from_secs(25),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(2),
        }
    }
}

/// Starts the client task on `client` (connected to `socket`) and returns the sender the
/// app's effects go to. The task ends when that sender is dropped or `actions` closes.
pub fn spawn(
    client: HubdexClient,
    socket: PathBuf,
    actions: mpsc::UnboundedSender<Action>,
    config: Config,
) -> mpsc::UnboundedSender<Effect> {
    let (effects_tx, effects_rx) = mpsc::unbounded_channel();
    let (connection_tx, connection_rx) = watch::channel(Some(client));
    tokio::spawn(perform(effects_rx, connection_rx, actions.clone()));
    tokio::spawn(async move {
        tokio::select! {
            () = supervise(socket, connection_tx, actions.clone(), config) => {}
            () = actions.closed() => {}
        }
    });
    effects_tx
}

fn rpc_message(error: &RpcError) -> String {
    match error {
        RpcError::DeadlineExceeded => "the hubdex daemon did not answer in time".to_string(),
        other => format!("lost the connection to the hubdex daemon ({other})"),
    }
}

/// Runs effects. Searches are coalesced (gitui's `AsyncSingleJob`): one runs at a time and
/// only the newest search asked for meanwhile runs next; the ones it replaced never run.
async fn perform(
    mut effects: mpsc::UnboundedReceiver<Effect>,
    connection: watch::Receiver<Option<HubdexClient>>,
    actions: mpsc::UnboundedSender<Action>,
) {
    let mut queued: Option<SearchJob> = None;
    let mut running: Option<BoxFuture<'static, Action>> = None;
    loop {
        if running.is_none()
            && let Some(job) = queued.take()
        {
            let client = connection.borrow().clone();
            running = Some(search(client, job).boxed());
        }
        tokio::select! {
            effect = effects.recv() => match effect {
                None | Some(Effect::Quit) => break,
                Some(Effect::Search(job)) => queued = Some(job),
                Some(other) => {
                    let client = connection.borrow().clone();
                    let actions = actions.clone();
                    tokio::spawn(async move {
                        if let Some(action) = call(client, other).await {
                            let _ = actions.send(action);
                        }
                    });
                }
            },
            Some(done) = OptionFuture::from(running.as_mut()), if running.is_some() => {
                running = None;
                if actions.send(done).is_err() {
                    break;
                }
            }
        }
    }
}

async fn search(client: Option<HubdexClient>, job: SearchJob) -> Action {
    let result = match client {
        None => Err(UNREACHABLE.to_string()),
        Some(client) => {
            match client
                .search(context_with_timeout(CALL_TIMEOUT), job.request.clone())
                .await
            {
                Ok(answer) => answer.map_err(|e| e.message),
                Err(e) => Err(rpc_message(&e)),
            }
        }
    };
    Action::SearchDone { job, result }
}

/// The message of a failed call: the daemon's own words, or why it could not be asked.
fn flatten<T>(answer: Result<Result<T, ApiError>, RpcError>) -> Result<T, String> {
    match answer {
        Ok(answer) => answer.map_err(|e| e.message),
        Err(e) => Err(rpc_message(&e)),
    }
}

/// Performs one effect other than a search (fetching more hits of one is such an effect).
async fn call(client: Option<HubdexClient>, effect: Effect) -> Option<Action> {
    let ctx = || context_with_timeout(CALL_TIMEOUT);
    let Some(client) = client else {
        return unreachable(effect);
    };
    let action = match effect {
        Effect::MoreHits(job) => {
            let result = flatten(client.search(ctx(), job.request.clone()).await);
            Action::MoreHitsDone { job, result }
        }
        Effect::LoadDataset(id) => {
            let result = flatten(client.dataset(ctx(), id.to_string()).await);
            Action::DatasetLoaded { id, result }
        }
        Effect::LoadStatus => match client.status(ctx()).await {
            Ok(status) => Action::StatusLoaded(status),
            Err(e) => {
                tracing::warn!("status: {}", rpc_message(&e));
                return None;
            }
        },
        Effect::SyncNow => {
            Action::SyncRequested(client.sync_now(ctx()).await.map_err(|e| rpc_message(&e)))
        }
        Effect::LoadFollows => Action::FollowsLoaded(flatten(client.follows(ctx()).await)),
        Effect::LoadDownloads => Action::DownloadsLoaded(flatten(client.downloads(ctx()).await)),
        Effect::LoadJobs => {
            Action::JobsLoaded(client.jobs(ctx()).await.map_err(|e| rpc_message(&e)))
        }
        Effect::Follow(id) => {
            let result = flatten(client.follow(ctx(), id.to_string()).await).map(|_| ());
            Action::FollowDone {
                id,
                follow: true,
                result,
            }
        }
        Effect::Unfollow(id) => {
            let result = flatten(client.unfollow(ctx(), id.to_string()).await).map(|_| ());
            Action::FollowDone {
                id,
                follow: false,
                result,
            }
        }
        Effect::MarkSeen(id) => {
            Action::MarkSeenDone(flatten(client.mark_seen(ctx(), id.to_string()).await))
        }
        Effect::Submit(params) => {
            Action::JobSubmitted(flatten(client.submit_job(ctx(), params).await))
        }
        Effect::Cancel(id) => Action::JobCancelled(flatten(client.cancel_job(ctx(), id).await)),
        Effect::Preview(request) => {
            let answer = match request.load {
                PreviewLoad::Card(id) => {
                    flatten(client.card(ctx(), id.to_string()).await).map(PreviewAnswer::Card)
                }
                PreviewLoad::Files(id, revision) => {
                    flatten(client.files(ctx(), id.to_string(), revision).await)
                        .map(PreviewAnswer::Files)
                }
                PreviewLoad::Commits(id, revision) => {
                    flatten(client.commits(ctx(), id.to_string(), revision).await)
                        .map(PreviewAnswer::Commits)
                }
                PreviewLoad::Rows(rows) => {
                    flatten(client.rows(ctx(), rows).await).map(PreviewAnswer::Rows)
                }
            };
            Action::Preview(PreviewMsg::Loaded {
                request: request.id,
                answer,
            })
        }
        Effect::Search(_) | Effect::Copy(_) | Effect::Quit => return None,
    };
    Some(action)
}

/// The answer to `effect` while no daemon answers.
fn unreachable(effect: Effect) -> Option<Action> {
    fn err<T>() -> Result<T, String> {
        Err(UNREACHABLE.to_string())
    }
    Some(match effect {
        Effect::MoreHits(job) => Action::MoreHitsDone { job, result: err() },
        Effect::LoadDataset(id) => Action::DatasetLoaded { id, result: err() },
        Effect::SyncNow => Action::SyncRequested(err()),
        Effect::LoadFollows => Action::FollowsLoaded(err()),
        Effect::LoadJobs => Action::JobsLoaded(err()),
        Effect::Follow(id) => Action::FollowDone {
            id,
            follow: true,
            result: err(),
        },
        Effect::Unfollow(id) => Action::FollowDone {
            id,
            follow: false,
            result: err(),
        },
        Effect::MarkSeen(_) => Action::MarkSeenDone(err()),
        Effect::Submit(_) => Action::JobSubmitted(err()),
        Effect::Cancel(_) => Action::JobCancelled(err()),
        Effect::Preview(request) => Action::Preview(PreviewMsg::Loaded {
            request: request.id,
            answer: err(),
        }),
        Effect::LoadStatus
        | Effect::LoadDownloads
        | Effect::Search(_)
        | Effect::Copy(_)
        | Effect::Quit => return None,
    })
}

/// Long-polls the daemon's events and refreshes the status on each batch; when the daemon
/// stops answering, says so and reconnects with a short bounded backoff.
async fn supervise(
    socket: PathBuf,
    connection: watch::Sender<Option<HubdexClient>>,
    actions: mpsc::UnboundedSender<Action>,
    config: Config,
) {
    let poll_ms = u64::try_from(config.poll_wait.as_millis()).unwrap_or(u64::MAX);
    // `None` until the first batch: events from before this client started are not news.
    let mut since: Option<u64> = None;
    let mut delay = config.retry_min;
    let mut lost_reason: Option<String> = None;
    loop {
        let client = connection.borrow().clone();
        let Some(client) = client else {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(config.retry_max);
            match launcher::probe_ready(&socket).await {
                Ok(client) => {
                    tracing::info!("reconnected to the daemon on {}", socket.display());
                    since = None;
                    delay = config.retry_min;
                    lost_reason = None;
                    connection.send_replace(Some(client));
                    let _ = actions.send(Action::DaemonBack);
                }
                Err(reason) => {
                    // A daemon that is starting says what it does; shown instead of the reason.
                    let file = StartupProgress::file_beside(&socket);
                    let starting =
                        tokio::task::spawn_blocking(move || StartupProgress::read_fresh(&file))
                            .await
                            .ok()
                            .flatten();
                    if let Some(progress) = starting {
                        lost_reason = None;
                        let _ = actions.send(Action::DaemonStarting(progress));
                    } else if lost_reason.as_deref() != Some(reason.as_str()) {
                        tracing::warn!("daemon still unreachable: {reason}");
                        let _ = actions.send(Action::DaemonLost(reason.clone()));
                        lost_reason = Some(reason);
                    }
                }
            }
            continue;
        };
        let (from, wait) = match since {
            Some(since) => (since, poll_ms),
            None => (0, 0),
        };
        let ctx = context_with_timeout(config.poll_wait + POLL_SLACK);
        match client.events(ctx, from, wait).await {
            Ok(batch) => {
                let first = since.is_none();
                since = Some(batch.next);
                if (first || !batch.events.is_empty() || batch.missed)
                    && let Ok(status) = client.status(context_with_timeout(CALL_TIMEOUT)).await
                {
                    let _ = actions.send(Action::StatusLoaded(status));
                }
                if !first {
                    for event in batch.events {
                        match event.kind {
                            EventKind::SyncFinished(report) => {
                                let _ = actions.send(Action::SyncFinished(report));
                            }
                            EventKind::Job(job) => {
                                let _ = actions.send(Action::JobChanged(job));
                            }
                            _ => {}
                        }
                    }
                }
            }
            Err(RpcError::DeadlineExceeded) => {
                tracing::warn!("the daemon held an events call past its deadline");
            }
            Err(e) => {
                let reason = rpc_message(&e);
                tracing::warn!("{reason}");
                connection.send_replace(None);
                delay = config.retry_min;
                lost_reason = Some(reason.clone());
                let _ = actions.send(Action::DaemonLost(reason));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakedaemon::FakeDaemon;
    use crate::ui::app::Action;
    use hubdex_core::SortKey;
    use hubdex_ipc::SearchRequest;

    fn job(id: u64, query: &str) -> Effect {
        Effect::Search(SearchJob {
            id,
            request: SearchRequest {
                query: query.into(),
                sort: Some(SortKey::Relevance.into()),
                limit: 20,
                offset: 0,
                facets: true,
            },
        })
    }

    fn quick() -> Config {
        Config {
            poll_wait: Duration::from_millis(200),
            retry_min: Duration::from_millis(50),
            retry_max: Duration::from_millis(100),
        }
    }

    async fn next_matching(
        actions: &mut mpsc::UnboundedReceiver<Action>,
        want: impl Fn(&Action) -> bool,
    ) -> Action {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let action = actions.recv().await.expect("the client task stopped");
                if want(&action) {
                    return action;
                }
            }
        })
        .await
        .expect("no such action within 10 s")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_the_newest_queued_search_runs() {
        let dir = tempfile::tempdir().unwrap();
        let daemon = FakeDaemon::new().with_search_delay(Duration::from_millis(300));
        let server = daemon.clone().start(dir.path()).await;
        let client = hubdex_ipc::connect(&server.socket).await.unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let effects = spawn(client, server.socket.clone(), tx, quick());
        for (id, query) in [(1, "a"), (2, "ab"), (3, "abc"), (4, "abcd")] {
            effects.send(job(id, query)).unwrap();
        }
        let done = next_matching(
            &mut rx,
            |a| matches!(a, Action::SearchDone { job, .. } if job.id == 4),
        )
        .await;
        let Action::SearchDone { result, .. } = done else {
            unreachable!()
        };
        assert!(result.is_ok());
        let seen = daemon.searches();
        assert_eq!(seen.last().map(String::as_str), Some("abcd"));
        assert!(
            !seen.iter().any(|q| q == "ab" || q == "abc"),
            "replaced searches ran: {seen:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn effects_come_back_as_actions() {
        let dir = tempfile::tempdir().unwrap();
        let daemon = FakeDaemon::new();
        let server = daemon.clone().start(dir.path()).await;
        let client = hubdex_ipc::connect(&server.socket).await.unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let effects = spawn(client, server.socket.clone(), tx, quick());
        let id = crate::ui::testdata::hits()[0].id.clone();
        effects.send(Effect::LoadDataset(id.clone())).unwrap();
        let loaded = next_matching(&mut rx, |a| matches!(a, Action::DatasetLoaded { .. })).await;
        assert!(
            matches!(&loaded, Action::DatasetLoaded { id: got, result: Ok(d) } if *got == id && d.id == id),
            "{loaded:?}"
        );
        let missing = hubdex_core::DatasetId::new("nobody/nothing").unwrap();
        effects.send(Effect::LoadDataset(missing)).unwrap();
        let failed = next_matching(&mut rx, |a| matches!(a, Action::DatasetLoaded { .. })).await;
        assert!(
            matches!(&failed, Action::DatasetLoaded { result: Err(m), .. } if m.contains("nobody/nothing")),
            "{failed:?}"
        );
        effects.send(Effect::SyncNow).unwrap();
        let synced = next_matching(&mut rx, |a| matches!(a, Action::SyncRequested(_))).await;
        assert_eq!(synced, Action::SyncRequested(Ok(true)));
        let finished = next_matching(&mut rx, |a| matches!(a, Action::SyncFinished(_))).await;
        assert!(matches!(finished, Action::SyncFinished(r) if r.records == 3));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_daemon_is_reported_and_found_again() {
        let dir = tempfile::tempdir().unwrap();
        let server = FakeDaemon::new().start(dir.path()).await;
        let socket = server.socket.clone();
        let client = hubdex_ipc::connect(&socket).await.unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let effects = spawn(client, socket.clone(), tx, quick());
        next_matching(&mut rx, |a| matches!(a, Action::StatusLoaded(_))).await;
        server.stop().await;
        next_matching(&mut rx, |a| matches!(a, Action::DaemonLost(_))).await;
        effects.send(job(7, "glue")).unwrap();
        let failed = next_matching(&mut rx, |a| matches!(a, Action::SearchDone { .. })).await;
        assert!(matches!(failed, Action::SearchDone { result: Err(_), .. }));
        // Restarting, it says what it does before it answers.
        let progress = StartupProgress {
            step: hubdex_ipc::StartupStep::CompactingIndex,
            since: chrono::Utc::now(),
        };
        progress
            .write(&StartupProgress::file_beside(&socket))
            .unwrap();
        let starting = next_matching(&mut rx, |a| matches!(a, Action::DaemonStarting(_))).await;
        assert_eq!(starting, Action::DaemonStarting(progress));
        let _again = FakeDaemon::new().start(dir.path()).await;
        next_matching(&mut rx, |a| matches!(a, Action::DaemonBack)).await;
        effects.send(job(8, "glue")).unwrap();
        let done = next_matching(&mut rx, |a| matches!(a, Action::SearchDone { .. })).await;
        assert!(
            matches!(&done, Action::SearchDone { job, result: Ok(r) } if job.id == 8 && r.hits.len() == 1),
            "{done:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn follows_jobs_downloads_and_previews_round_trip() {
        use crate::ui::preview::PreviewRequest;
        let dir = tempfile::tempdir().unwrap();
        let server = FakeDaemon::new().start(dir.path()).await;
        let client = hubdex_ipc::connect(&server.socket).await.unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let effects = spawn(client, server.socket.clone(), tx, quick());
        let id = hubdex_core::DatasetId::new("openai/gsm8k").unwrap();
        effects.send(Effect::Follow(id.clone())).unwrap();
        let done = next_matching(&mut rx, |a| matches!(a, Action::FollowDone { .. })).await;
        assert!(
            matches!(
                &done,
                Action::FollowDone {
                    follow: true,
                    result: Ok(()),
                    ..
                }
            ),
            "{done:?}"
        );
        effects.send(Effect::LoadFollows).unwrap();
        let follows = next_matching(&mut rx, |a| matches!(a, Action::FollowsLoaded(_))).await;
        assert!(
            matches!(&follows, Action::FollowsLoaded(Ok(f)) if f.len() == 1 && f[0].dataset == "openai/gsm8k"),
            "{follows:?}"
        );
        effects
            .send(Effect::Submit(hubdex_ipc::JobParams::Download(
                hubdex_ipc::DownloadParams {
                    dataset: id.clone(),
                    revision: "main".into(),
                    include: Vec::new(),
                    exclude: Vec::new(),
                    force: false,
                },
            )))
            .unwrap();
        next_matching(&mut rx, |a| matches!(a, Action::JobSubmitted(Ok(_)))).await;
        let changed = next_matching(
            &mut rx,
            |a| matches!(a, Action::JobChanged(e) if e.state.is_finished()),
        )
        .await;
        assert!(matches!(changed, Action::JobChanged(e) if e.dataset == id));
        effects.send(Effect::LoadDownloads).unwrap();
        let downloads = next_matching(&mut rx, |a| matches!(a, Action::DownloadsLoaded(_))).await;
        assert!(
            matches!(&downloads, Action::DownloadsLoaded(Ok(d)) if d.len() == 1),
            "{downloads:?}"
        );
        effects
            .send(Effect::Preview(PreviewRequest {
                id: 41,
                load: PreviewLoad::Files(id.clone(), None),
            }))
            .unwrap();
        let files = next_matching(&mut rx, |a| matches!(a, Action::Preview(_))).await;
        assert!(
            matches!(
                &files,
                Action::Preview(PreviewMsg::Loaded { request: 41, answer: Ok(PreviewAnswer::Files(f)) })
                    if f.files.len() == 2
            ),
            "{files:?}"
        );
        let missing = hubdex_core::DatasetId::new("nobody/nothing").unwrap();
        effects
            .send(Effect::Preview(PreviewRequest {
                id: 42,
                load: PreviewLoad::Card(missing),
            }))
            .unwrap();
        let card = next_matching(&mut rx, |a| matches!(a, Action::Preview(_))).await;
        assert!(
            matches!(&card, Action::Preview(PreviewMsg::Loaded { request: 42, answer: Err(m) }) if m.contains("nobody/nothing")),
            "{card:?}"
        );
    }
}
