//! The scriptable subcommands: `search`, `show`, `status`, `sync`. Each prints a table or a
//! report for people, or one JSON document with `--json`. Everything goes through one
//! [`Output`], so a closed pipe surfaces as an `io::Error` the caller can recognise.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::Utc;
use hubdex_core::{DatasetId, SortKey};
use hubdex_ipc::{
    ChangeKind, EventKind, FileList, Follow, HubdexClient, SearchRequest, SyncReport,
    context_with_timeout,
};

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
                EventKind::SyncStarted | EventKind::Online | EventKind::IndexCompacted => {}
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

/// `hubdex follow`: follows a dataset, so `hubdex follows` reports what changes in it.
pub async fn follow<W: Write>(
    out: &mut Output<W>,
    client: &HubdexClient,
    id: &DatasetId,
) -> anyhow::Result<()> {
    let follow = client
        .follow(ctx(), id.to_string())
        .await
        .context(NO_ANSWER)??;
    Ok(out.emit(&format!(
        "following {}; `hubdex follows` shows what changes in it\n",
        follow.dataset
    ))?)
}

/// `hubdex unfollow`: stops following a dataset (not following it is no error).
pub async fn unfollow<W: Write>(
    out: &mut Output<W>,
    client: &HubdexClient,
    id: &DatasetId,
) -> anyhow::Result<()> {
    let removed = client
        .unfollow(ctx(), id.to_string())
        .await
        .context(NO_ANSWER)??;
    Ok(out.emit(&if removed {
        format!("stopped following {id}\n")
    } else {
        format!("{id} was not followed\n")
    })?)
}

/// `hubdex follows`: followed datasets and what changed since last seen, changed ones first;
/// with `mark_seen`, the changes shown are then marked seen.
pub async fn follows<W: Write>(
    out: &mut Output<W>,
    client: &HubdexClient,
    mark_seen: bool,
    json: bool,
) -> anyhow::Result<()> {
    let follows = client.follows(ctx()).await.context(NO_ANSWER)??;
    if json {
        out.emit_json(&follows)?;
    } else if follows.is_empty() {
        let _ = writeln!(
            io::stderr(),
            "no followed dataset; follow one with `hubdex follow ID`"
        );
    } else {
        out.emit(&follows_report(&follows, Utc::now()))?;
    }
    if mark_seen {
        for follow in follows.iter().filter(|f| !f.changes.is_empty()) {
            client
                .mark_seen(ctx(), follow.dataset.clone())
                .await
                .context(NO_ANSWER)??;
        }
    }
    Ok(())
}

/// Each follow on a line, with its changes indented below it.
fn follows_report(follows: &[Follow], now: chrono::DateTime<Utc>) -> String {
    let mut text = String::new();
    for follow in follows {
        let seen = format::relative(follow.seen_at, now);
        if follow.changes.is_empty() {
            text.push_str(&format!(
                "{}  no change since seen {seen}\n",
                follow.dataset
            ));
            continue;
        }
        text.push_str(&format!(
            "{}  {} since seen {seen}\n",
            follow.dataset,
            format::count(follow.changes.len() as u64, "change")
        ));
        for change in &follow.changes {
            let what = match change.what {
                ChangeKind::Commit => "commit",
                ChangeKind::Modified => "modified",
                ChangeKind::Downloads => "downloads",
                ChangeKind::Likes => "likes",
                ChangeKind::License => "licence",
                ChangeKind::Gated => "gated",
                ChangeKind::Removed => "listing",
            };
            let before = change.before.as_deref().unwrap_or("none");
            let after = change.after.as_deref().unwrap_or("none");
            text.push_str(&format!("  {what:<10} {before} → {after}\n"));
        }
    }
    text
}

/// `hubdex card`: the dataset's README as markdown (YAML front matter removed).
pub async fn card<W: Write>(
    out: &mut Output<W>,
    client: &HubdexClient,
    id: &DatasetId,
) -> anyhow::Result<()> {
    let card = client
        .card(ctx(), id.to_string())
        .await
        .context(NO_ANSWER)??;
    if let Some(why) = &card.stale {
        let _ = writeln!(
            io::stderr(),
            "showing the copy fetched {}: {why}",
            card.fetched_at.format("%Y-%m-%d %H:%M UTC")
        );
    }
    if card.markdown.trim().is_empty() {
        let _ = writeln!(io::stderr(), "{id} has no README on the Hub");
        return Ok(());
    }
    let mut text = card.markdown;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(out.emit(&text)?)
}

/// `hubdex files`: a revision's files with sizes, LFS and downloaded marks, or the list as
/// JSON.
pub async fn files<W: Write>(
    out: &mut Output<W>,
    client: &HubdexClient,
    id: &DatasetId,
    revision: &str,
    json: bool,
) -> anyhow::Result<()> {
    let list = client
        .files(ctx(), id.to_string(), Some(revision.to_string()))
        .await
        .context(NO_ANSWER)??;
    if json {
        return out.emit_json(&list);
    }
    if let Some(why) = &list.stale {
        let _ = writeln!(io::stderr(), "showing an older list: {why}");
    }
    let mut text = files_table(&list);
    if out.live() {
        text.push_str(&format!(
            "{} at {} ({}), {} downloaded\n",
            format::count(list.files.len() as u64, "file"),
            list.revision,
            short_commit(&list.commit),
            indicatif::DecimalBytes(list.downloaded_size)
        ));
    }
    Ok(out.emit(&text)?)
}

/// One file a line: a ✓ when downloaded, the size, `LFS` for LFS files, the path.
fn files_table(list: &FileList) -> String {
    let mut text = String::new();
    for file in &list.files {
        let size = indicatif::DecimalBytes(file.size).to_string();
        text.push_str(&format!(
            "{} {size:>10} {} {}\n",
            if file.downloaded { "✓" } else { " " },
            if file.lfs { "LFS" } else { "   " },
            file.path
        ));
    }
    text.push_str(&format!(
        "  {:>10}     total\n",
        indicatif::DecimalBytes(list.total_size).to_string()
    ));
    text
}

/// `hubdex commits`: a revision's newest commits, or the list as JSON.
pub async fn commits<W: Write>(
    out: &mut Output<W>,
    client: &HubdexClient,
    id: &DatasetId,
    revision: &str,
    json: bool,
) -> anyhow::Result<()> {
    let list = client
        .commits(ctx(), id.to_string(), Some(revision.to_string()))
        .await
        .context(NO_ANSWER)??;
    if json {
        return out.emit_json(&list);
    }
    if let Some(why) = &list.stale {
        let _ = writeln!(io::stderr(), "showing an older list: {why}");
    }
    let mut text = String::new();
    for commit in &list.commits {
        text.push_str(&format!(
            "{}  {}  {}  {}\n",
            short_commit(&commit.id),
            commit.date.format("%Y-%m-%d"),
            if commit.authors.is_empty() {
                "-".to_string()
            } else {
                commit.authors.join(", ")
            },
            commit.title
        ));
    }
    Ok(out.emit(&text)?)
}

/// The first 12 digits of a commit, as the Hub's pages show them.
fn short_commit(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
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

#[cfg(test)]
mod preview_tests {
    use chrono::TimeZone;
    use hubdex_ipc::{Change, FileEntry};

    use super::*;

    #[test]
    fn files_are_listed_with_marks_sizes_and_a_total() {
        let entry = |path: &str, size, lfs, downloaded| FileEntry {
            path: path.to_string(),
            size,
            lfs,
            downloaded,
        };
        let list = FileList {
            dataset: "acme/x".into(),
            revision: "main".into(),
            commit: "3f2c9d1e0b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d".into(),
            files: vec![
                entry("README.md", 339, false, false),
                entry("data/train.parquet", 1_500_000, true, true),
            ],
            total_size: 1_500_339,
            downloaded_size: 1_500_000,
            fetched_at: Utc::now(),
            stale: None,
        };
        let table = files_table(&list);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines[0].starts_with("  ") && lines[0].ends_with("README.md"));
        assert!(lines[1].starts_with('✓') && lines[1].contains("1.50 MB"));
        assert!(lines[1].contains("LFS data/train.parquet"), "{table}");
        assert!(lines[2].contains("total"), "{table}");
    }

    #[test]
    fn follows_show_each_change_below_its_dataset() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let follow = |id: &str, changes| Follow {
            dataset: id.to_string(),
            followed_at: now,
            seen_at: now - chrono::Duration::days(2),
            current: None,
            changes,
        };
        let report = follows_report(
            &[
                follow(
                    "acme/x",
                    vec![Change {
                        what: ChangeKind::Downloads,
                        before: Some("1,000".into()),
                        after: Some("1,204".into()),
                    }],
                ),
                follow("acme/y", Vec::new()),
            ],
            now,
        );
        let lines: Vec<&str> = report.lines().collect();
        assert!(
            lines[0].starts_with("acme/x  1 change since seen"),
            "{report}"
        );
        assert_eq!(lines[1], "  downloads  1,000 → 1,204");
        assert!(lines[2].starts_with("acme/y  no change"), "{report}");
    }
}

/// Widest a rows-table column gets, in cells.
const ROWS_CELL: usize = 40;
/// Narrowest a rows-table column is squeezed to when the terminal is narrow.
const ROWS_MIN_CELL: usize = 6;

/// `hubdex rows`: the first rows of a split as a table, or everything as JSON.
pub async fn rows<W: Write>(
    out: &mut Output<W>,
    client: &HubdexClient,
    request: hubdex_ipc::RowsRequest,
    json: bool,
) -> anyhow::Result<()> {
    let rows = client.rows(ctx(), request).await.context(NO_ANSWER)??;
    if json {
        return out.emit_json(&rows);
    }
    let mut text = rows_table(&rows, out.width);
    if out.live() {
        text.push_str(&rows_summary(&rows));
    }
    Ok(out.emit(&text)?)
}

/// A cell as one line of text: strings as they are, other values as compact JSON, line
/// breaks and tabs shown as spaces.
fn cell_text(value: &serde_json::Value) -> String {
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The rows as aligned columns under a header of names and a line of types; cells longer
/// than their column end in `…`. With a terminal width the columns are squeezed to fit.
fn rows_table(rows: &hubdex_ipc::Rows, max_width: Option<usize>) -> String {
    let header: Vec<&str> = rows.columns.iter().map(|c| c.name.as_str()).collect();
    let types: Vec<&str> = rows.columns.iter().map(|c| c.dtype.as_str()).collect();
    let body: Vec<Vec<String>> = rows
        .rows
        .iter()
        .map(|row| row.iter().map(cell_text).collect())
        .collect();
    let mut widths: Vec<usize> = (0..header.len())
        .map(|i| {
            let cells = body
                .iter()
                .filter_map(|r| r.get(i))
                .map(|c| format::width(c));
            cells
                .chain([format::width(header[i]), format::width(types[i])])
                .max()
                .unwrap_or(1)
                .min(ROWS_CELL)
        })
        .collect();
    if let Some(max) = max_width {
        let gaps = 2 * widths.len().saturating_sub(1);
        while widths.iter().sum::<usize>() + gaps > max {
            let Some(widest) = (0..widths.len()).max_by_key(|&i| widths[i]) else {
                break;
            };
            if widths[widest] <= ROWS_MIN_CELL {
                break;
            }
            widths[widest] -= 1;
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let parts: Vec<String> = cells
            .zip(&widths)
            .map(|(c, &w)| format::pad_right(&format::truncate(c, w), w))
            .collect();
        let mut text = parts.join("  ").trim_end().to_string();
        text.push('\n');
        text
    };
    let mut text = line(&mut header.iter().copied());
    text.push_str(&line(&mut types.iter().copied()));
    for row in &body {
        text.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    text
}

/// Where the rows came from, and what else there is.
fn rows_summary(rows: &hubdex_ipc::Rows) -> String {
    let source = match &rows.source {
        hubdex_ipc::RowsSource::LocalCache { path } => format!("the local cache ({path})"),
        hubdex_ipc::RowsSource::DatasetViewer { endpoint } => {
            format!("the dataset viewer ({endpoint})")
        }
        hubdex_ipc::RowsSource::RemoteParquet { path, bytes_read } => format!(
            "{path} on the Hub ({} read)",
            indicatif::DecimalBytes(*bytes_read)
        ),
    };
    let mut text = format!(
        "{} of {}/{}{} from {source}\n",
        format::count(rows.rows.len() as u64, "row"),
        rows.config,
        rows.split,
        if rows.truncated { " (more exist)" } else { "" },
    );
    let others: Vec<String> = rows
        .splits
        .iter()
        .filter(|s| !(s.config == rows.config && s.split == rows.split))
        .map(|s| format!("{}/{}", s.config, s.split))
        .collect();
    if !others.is_empty() {
        text.push_str(&format!(
            "other splits: {} (pick one with --config and --split)\n",
            others.join(", ")
        ));
    }
    text
}

#[cfg(test)]
mod rows_tests {
    use hubdex_ipc::{Column, Rows, RowsSource, SplitRef};
    use serde_json::json;

    use super::*;

    fn sample() -> Rows {
        Rows {
            dataset: "fka/awesome-chatgpt-prompts".into(),
            config: "default".into(),
            split: "train".into(),
            source: RowsSource::RemoteParquet {
                path: "default/train/0000.parquet".into(),
                bytes_read: 62_261,
            },
            columns: vec![
                Column {
                    name: "act".into(),
                    dtype: "string".into(),
                },
                Column {
                    name: "votes".into(),
                    dtype: "list<int64>".into(),
                },
            ],
            rows: vec![
                vec![json!("An Ethereum Developer"), json!([1, 2])],
                vec![
                    json!(
                        "Imagine you are an experienced Ethereum developer tasked with\ncreating a smart contract"
                    ),
                    json!(null),
                ],
            ],
            truncated: true,
            splits: vec![
                SplitRef {
                    config: "default".into(),
                    split: "train".into(),
                },
                SplitRef {
                    config: "default".into(),
                    split: "test".into(),
                },
            ],
        }
    }

    #[test]
    fn long_cells_are_cut_and_lines_fit_the_terminal() {
        let rows = sample();
        let table = rows_table(&rows, None);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("act"), "{table}");
        assert!(lines[1].contains("list<int64>"), "{table}");
        assert!(lines[2].contains("[1,2]"), "{table}");
        assert!(lines[3].contains('…'), "{table}");
        assert!(!lines[3].contains("smart contract"), "{table}");
        assert_eq!(lines.len(), 4);

        let narrow = rows_table(&rows, Some(30));
        for line in narrow.lines() {
            assert!(format::width(line) <= 30, "{line:?} in\n{narrow}");
        }
        assert!(narrow.lines().nth(2).unwrap().contains('…'), "{narrow}");
    }

    #[test]
    fn the_summary_names_the_source_and_the_other_splits() {
        let summary = rows_summary(&sample());
        assert!(summary.starts_with("2 rows of default/train (more exist) from default/train/0000.parquet on the Hub (62.26 kB read)"), "{summary}");
        assert!(summary.contains("other splits: default/test"), "{summary}");
    }
}
