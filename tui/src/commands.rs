//! The scriptable subcommands: `search`, `show`, `status`, `sync`. Each prints a table or a
//! report for people, or one JSON document with `--json`. Everything goes through one
//! [`Output`], so a closed pipe surfaces as an `io::Error` the caller can recognise.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::Utc;
use hubdex_core::{DatasetId, SortKey};
use hubdex_ipc::{EventKind, HubdexClient, SearchRequest, SyncReport, context_with_timeout};

use crate::format;

/// Deadline of an ordinary call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `events` may hold a call open while following a sync.
const POLL_WAIT: Duration = Duration::from_secs(25);
/// `sync --wait` gives up after this long without any news of the sync.
const SYNC_SILENCE: Duration = Duration::from_secs(15 * 60);
/// What a failed call says first.
const NO_ANSWER: &str = "the hubdex daemon did not answer";

fn ctx() -> tarpc::context::Context {
    context_with_timeout(CALL_TIMEOUT)
}

/// Where a command prints, and how wide the terminal is when a person is watching.
pub struct Output<W> {
    pub(crate) writer: W,
    pub(crate) width: Option<usize>,
}

impl Output<io::Stdout> {
    /// Stdout, with the terminal's width when it is one.
    pub fn stdout() -> Output<io::Stdout> {
        let stdout = io::stdout();
        let width = stdout
            .is_terminal()
            .then(|| crossterm::terminal::size().ok())
            .flatten()
            .map(|(columns, _)| usize::from(columns));
        Output {
            writer: stdout,
            width,
        }
    }
}

impl<W: Write> Output<W> {
    pub(crate) fn emit(&mut self, text: &str) -> io::Result<()> {
        self.writer.write_all(text.as_bytes())?;
        self.writer.flush()
    }

    pub(crate) fn emit_json<T: serde::Serialize>(&mut self, value: &T) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(value).context("cannot write JSON")?;
        text.push('\n');
        Ok(self.emit(&text)?)
    }

    /// True when a person watches (progress may be redrawn in place).
    pub(crate) fn live(&self) -> bool {
        self.width.is_some()
    }
}

/// `hubdex search`: hits as a table, or the whole response as JSON.
pub async fn search<W: Write>(
    out: &mut Output<W>,
    client: &HubdexClient,
    request: SearchRequest,
    json: bool,
) -> anyhow::Result<()> {
    let response = client
        .search(ctx(), request.clone())
        .await
        .context(NO_ANSWER)??;
    if json {
        return out.emit_json(&response);
    }
    if response.hits.is_empty() {
        let _ = writeln!(io::stderr(), "no dataset matches “{}”", request.query);
        return Ok(());
    }
    let mut text = format::search_table(&response.hits, out.width);
    if out.live() {
        text.push_str(&format::search_summary(&response));
        text.push('\n');
    }
    Ok(out.emit(&text)?)
}

/// The request `hubdex search QUERY... --sort KEY --limit N` makes.
pub fn search_request(words: &[String], sort: Option<SortKey>, limit: usize) -> SearchRequest {
    SearchRequest {
        query: words.join(" "),
        sort: sort.map(Into::into),
        limit,
        offset: 0,
        facets: false,
    }
}

/// `hubdex show`: one dataset's card, or its record as JSON.
pub async fn show<W: Write>(
    out: &mut Output<W>,
    client: &HubdexClient,
    id: &DatasetId,
    json: bool,
) -> anyhow::Result<()> {
    let dataset = client
        .dataset(ctx(), id.to_string())
        .await
        .context(NO_ANSWER)??;
    if json {
        return out.emit_json(&dataset);
    }
    let status = client.status(ctx()).await.context(NO_ANSWER)?;
    Ok(out.emit(&format::dataset_card(&dataset, &status.endpoint))?)
}

/// `hubdex status`: the catalog and sync state.
pub async fn status<W: Write>(
    out: &mut Output<W>,
    client: &HubdexClient,
    json: bool,
) -> anyhow::Result<()> {
    let status = client.status(ctx()).await.context(NO_ANSWER)?;
    if json {
        return out.emit_json(&status);
    }
    Ok(out.emit(&format::status_report(&status, Utc::now()))?)
}

/// `hubdex sync`: starts a sync; with `wait`, follows it to the end and fails if it failed.
pub async fn sync<W: Write>(
    out: &mut Output<W>,
    client: &HubdexClient,
    wait: bool,
) -> anyhow::Result<()> {
    if !wait {
        let started = client.sync_now(ctx()).await.context(NO_ANSWER)?;
        return Ok(out.emit(if started {
            "sync started; `hubdex status` shows its progress\n"
        } else {
            "a sync is already running; `hubdex status` shows its progress\n"
        })?);
    }
    // Where the event log stands now, so only this sync's events are followed.
    let mut since = client.events(ctx(), 0, 0).await.context(NO_ANSWER)?.next;
    let asked_at = Utc::now();
    let started = client.sync_now(ctx()).await.context(NO_ANSWER)?;
    out.emit(if started {
        "sync started\n"
    } else {
        "a sync is already running; following it\n"
    })?;
    let mut progress_shown = false;
    let mut last_news = Instant::now();
    while last_news.elapsed() < SYNC_SILENCE {
        let batch = client
            .events(
                context_with_timeout(POLL_WAIT + Duration::from_secs(5)),
                since,
                u64::try_from(POLL_WAIT.as_millis()).unwrap_or(u64::MAX),
            )
            .await
            .context(NO_ANSWER)?;
        since = batch.next;
        if !batch.events.is_empty() {
            last_news = Instant::now();
        }
        let mut finished: Option<SyncReport> = None;
        for event in batch.events {
            match event.kind {
                EventKind::SyncStarted | EventKind::Online => {}
                EventKind::SyncProgress(p) => {
                    let line = format!(
                        "{}, {}",
                        format::count(p.pages, "page"),
                        format::count(p.records, "record")
                    );
                    if out.live() {
                        out.emit(&format!("\r\x1b[2K{line}"))?;
                        progress_shown = true;
                    } else {
                        out.emit(&format!("{line}\n"))?;
                    }
                }
                EventKind::Offline { reason } => {
                    let cut = newline(&mut progress_shown);
                    out.emit(&format!(
                        "{cut}offline: {reason}; the daemon keeps retrying\n"
                    ))?;
                }
                EventKind::SyncFinished(report) => finished = Some(report),
                EventKind::Job(_) => {}
            }
        }
        if finished.is_none() && batch.missed {
            // Events were dropped while we were away: ask the status instead.
            let status = client.status(ctx()).await.context(NO_ANSWER)?;
            finished = status
                .last_sync
                .filter(|r| status.syncing.is_none() && r.finished_at >= asked_at);
        }
        if let Some(report) = finished {
            out.emit(newline(&mut progress_shown))?;
            return finish(out, &report);
        }
    }
    bail!(
        "no news of the sync for {} min; `hubdex status` shows what the daemon is doing",
        SYNC_SILENCE.as_secs() / 60
    )
}

/// A line break if a progress line is being redrawn in place, so the next line starts clean.
fn newline(progress_shown: &mut bool) -> &'static str {
    if std::mem::take(progress_shown) {
        "\n"
    } else {
        ""
    }
}

fn finish<W: Write>(out: &mut Output<W>, report: &SyncReport) -> anyhow::Result<()> {
    let took = (report.finished_at - report.started_at)
        .num_seconds()
        .max(0);
    match &report.error {
        None => Ok(out.emit(&format!(
            "sync finished in {took} s: {}, {}\n",
            format::count(report.pages, "page"),
            format::count(report.records, "record")
        ))?),
        Some(error) => bail!(
            "the sync failed after {}, {}: {error}",
            format::count(report.pages, "page"),
            format::count(report.records, "record")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakedaemon::FakeDaemon;

    fn captured() -> Output<Vec<u8>> {
        Output {
            writer: Vec::new(),
            width: None,
        }
    }

    fn text(out: Output<Vec<u8>>) -> String {
        String::from_utf8(out.writer).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn search_prints_a_table_or_one_json_document() {
        let dir = tempfile::tempdir().unwrap();
        let server = FakeDaemon::new().start(dir.path()).await;
        let client = hubdex_ipc::connect(&server.socket).await.unwrap();
        let request = search_request(&["shibing624".to_string()], None, 20);
        let mut out = captured();
        search(&mut out, &client, request.clone(), false)
            .await
            .unwrap();
        let table = text(out);
        assert_eq!(table.lines().count(), 2, "{table}");
        assert!(
            table
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("shibing624/medical")
        );
        let mut out = captured();
        search(&mut out, &client, request, true).await.unwrap();
        let json: serde_json::Value = serde_json::from_str(&text(out)).unwrap();
        assert_eq!(json["total"], 1);
        assert_eq!(json["hits"][0]["id"], "shibing624/medical");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn show_prints_the_card_and_fails_on_an_unknown_id() {
        let dir = tempfile::tempdir().unwrap();
        let server = FakeDaemon::new().start(dir.path()).await;
        let client = hubdex_ipc::connect(&server.socket).await.unwrap();
        let mut out = captured();
        let id = DatasetId::new("openai/gsm8k").unwrap();
        show(&mut out, &client, &id, false).await.unwrap();
        let card = text(out);
        assert!(card.contains("licence    mit"), "{card}");
        assert!(card.contains("https://huggingface.co/datasets/openai/gsm8k"));
        let missing = DatasetId::new("nobody/nothing").unwrap();
        let err = show(&mut captured(), &client, &missing, false)
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("nobody/nothing"), "{err:#}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sync_wait_follows_the_sync_to_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let server = FakeDaemon::new().start(dir.path()).await;
        let client = hubdex_ipc::connect(&server.socket).await.unwrap();
        let mut out = captured();
        sync(&mut out, &client, true).await.unwrap();
        let log = text(out);
        assert!(log.starts_with("sync started\n"), "{log}");
        assert!(log.contains("1 page, 3 records\n"), "{log}");
        assert!(
            log.ends_with("sync finished in 0 s: 1 page, 3 records\n"),
            "{log}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sync_wait_fails_when_the_sync_fails() {
        let dir = tempfile::tempdir().unwrap();
        let daemon = FakeDaemon::new().with_sync_error("the Hub answered 503");
        let server = daemon.start(dir.path()).await;
        let client = hubdex_ipc::connect(&server.socket).await.unwrap();
        let err = sync(&mut captured(), &client, true).await.unwrap_err();
        let message = format!("{err:#}");
        assert!(message.contains("the sync failed"), "{message}");
        assert!(message.contains("503"), "{message}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn status_json_is_the_daemon_status() {
        let dir = tempfile::tempdir().unwrap();
        let server = FakeDaemon::new().start(dir.path()).await;
        let client = hubdex_ipc::connect(&server.socket).await.unwrap();
        let mut out = captured();
        status(&mut out, &client, true).await.unwrap();
        let parsed: hubdex_ipc::Status = serde_json::from_str(&text(out)).unwrap();
        assert_eq!(parsed, crate::ui::testdata::status());
    }
}
