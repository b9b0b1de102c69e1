//! The job commands: `download`, `update` and `delete` (with `--wait`, progress bars per
//! file and in total, driven by the daemon's job events), `jobs` and `cancel`.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hubdex_ipc::{EventKind, HubdexClient, Job, JobId, JobParams, JobState, context_with_timeout};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::commands::Output;
use crate::format;

/// Deadline of an ordinary call (cancelling waits up to 10 s for the job to stop).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `events` may hold a call open while following a job.
const POLL_WAIT: Duration = Duration::from_secs(20);
/// `--wait` gives up after this long (the daemon's job timeout is 10 h by default).
const FOLLOW_LIMIT: Duration = Duration::from_secs(11 * 3600);
/// What a failed call says first.
const NO_ANSWER: &str = "the hubdex daemon did not answer";

fn ctx() -> tarpc::context::Context {
    context_with_timeout(CALL_TIMEOUT)
}

/// `hubdex download|update|delete`: queues the job; with `wait`, follows it to its end (bars
/// on stderr when it is a terminal) and fails when the job fails. With `json`, prints the job
/// record (the final one with `wait`).
pub async fn submit<W: Write>(
    out: &mut Output<W>,
    client: &HubdexClient,
    params: JobParams,
    wait: bool,
    json: bool,
) -> anyhow::Result<()> {
    let since = if wait {
        client.events(ctx(), 0, 0).await.context(NO_ANSWER)?.next
    } else {
        0
    };
    let job = client
        .submit_job(ctx(), params)
        .await
        .context(NO_ANSWER)??;
    if !wait {
        if json {
            return out.emit_json(&job);
        }
        return Ok(out.emit(&format!(
            "queued job {}: {}; `hubdex jobs` shows its progress, `hubdex cancel {}` stops it\n",
            job.id,
            describe(&job),
            job.id
        ))?);
    }
    let mut bars = Bars::new(ProgressDrawTarget::stderr());
    if !json && out.live() {
        bars.note(&format!(
            "job {}: {} (Ctrl-C stops watching; `hubdex cancel {}` stops the job)",
            job.id,
            describe(&job),
            job.id
        ));
    }
    let job = follow(client, job, since, &mut bars).await?;
    if json {
        out.emit_json(&job)?;
    }
    match job.state {
        JobState::Succeeded => {
            if !json {
                let summary = job.summary.as_deref().unwrap_or("done");
                out.emit(&format!("job {}: {summary}\n", job.id))?;
            }
            Ok(())
        }
        JobState::Cancelled => bail!("job {} was cancelled", job.id),
        _ => bail!(
            "job {} failed: {}",
            job.id,
            job.error.as_deref().unwrap_or("no reason given")
        ),
    }
}

/// Follows `job` through the event log from `since` until it finishes, drawing `bars`.
async fn follow(
    client: &HubdexClient,
    mut job: Job,
    mut since: u64,
    bars: &mut Bars,
) -> anyhow::Result<Job> {
    let started = Instant::now();
    while !job.state.is_finished() {
        if started.elapsed() > FOLLOW_LIMIT {
            bars.clear();
            bail!(
                "job {} is still {} after {} h; `hubdex jobs` shows it",
                job.id,
                job.state,
                FOLLOW_LIMIT.as_secs() / 3600
            );
        }
        let batch = client
            .events(
                context_with_timeout(POLL_WAIT + Duration::from_secs(5)),
                since,
                u64::try_from(POLL_WAIT.as_millis()).unwrap_or(u64::MAX),
            )
            .await
            .context(NO_ANSWER)?;
        since = batch.next;
        let mut heard = false;
        for event in batch.events {
            if let EventKind::Job(update) = event.kind
                && update.id == job.id
            {
                job.state = update.state;
                job.progress = update.progress;
                job.error = update.error;
                heard = true;
            }
        }
        if !heard || batch.missed || job.state.is_finished() {
            // Silence, a gap, or the end: the record itself is the truth (and has the summary).
            job = client.job(ctx(), job.id).await.context(NO_ANSWER)??;
        }
        bars.show(&job);
    }
    bars.clear();
    Ok(job)
}

/// Progress bars: the whole job (bytes, files, rate, ETA) and one per file in flight.
struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    files: BTreeMap<String, ProgressBar>,
}

impl Bars {
    fn new(target: ProgressDrawTarget) -> Bars {
        let multi = MultiProgress::with_draw_target(target);
        let total = multi.add(ProgressBar::new(0));
        total.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        total.enable_steady_tick(Duration::from_millis(120));
        Bars {
            multi,
            total,
            files: BTreeMap::new(),
        }
    }

    /// A line above the bars.
    fn note(&self, line: &str) {
        let _ = self.multi.println(line);
    }

    fn show(&mut self, job: &Job) {
        let p = &job.progress;
        self.total.set_length(p.bytes_total);
        self.total.set_position(p.bytes_done);
        self.total.set_message(format!(
            "{} {}/{} files",
            job.state, p.files_done, p.files_total
        ));
        let active: Vec<&str> = p.active.iter().map(|f| f.path.as_str()).collect();
        self.files.retain(|path, bar| {
            let keep = active.contains(&path.as_str());
            if !keep {
                bar.finish_and_clear();
            }
            keep
        });
        for file in &p.active {
            let bar = self.files.entry(file.path.clone()).or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new(file.bytes_total));
                bar.set_style(
                    ProgressStyle::with_template("  {msg:40!} [{bar:20}] {bytes}/{total_bytes}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                bar.set_message(file.path.clone());
                bar
            });
            bar.set_length(file.bytes_total);
            bar.set_position(file.bytes_done);
        }
    }

    fn clear(&mut self) {
        for bar in self.files.values() {
            bar.finish_and_clear();
        }
        self.files.clear();
        self.total.finish_and_clear();
    }
}

/// `hubdex jobs`: the jobs the daemon remembers, newest last.
pub async fn list<W: Write>(
    out: &mut Output<W>,
    client: &HubdexClient,
    json: bool,
) -> anyhow::Result<()> {
    let jobs = client.jobs(ctx()).await.context(NO_ANSWER)?;
    if json {
        return out.emit_json(&jobs);
    }
    if jobs.is_empty() {
        return Ok(out.emit("no jobs yet; start one with `hubdex download ID`\n")?);
    }
    Ok(out.emit(&jobs_table(&jobs, out.width))?)
}

/// `hubdex cancel JOB`.
pub async fn cancel<W: Write>(
    out: &mut Output<W>,
    client: &HubdexClient,
    id: JobId,
    json: bool,
) -> anyhow::Result<()> {
    let job = client.cancel_job(ctx(), id).await.context(NO_ANSWER)??;
    if json {
        return out.emit_json(&job);
    }
    let line = match job.state {
        JobState::Cancelled => format!("cancelled job {id}: {}", describe(&job)),
        JobState::Running => format!("job {id} is stopping: {}", describe(&job)),
        other => format!("job {id} {other} before it could be cancelled"),
    };
    Ok(out.emit(&format!("{line}\n"))?)
}

/// What a job does, in a few words: `download openai/gsm8k at main`.
pub fn describe(job: &Job) -> String {
    match &job.params {
        JobParams::Download(p) => {
            let mut text = format!("download {} at {}", p.dataset, p.revision);
            if !p.include.is_empty() {
                text.push_str(&format!(" (include {})", p.include.join(" ")));
            }
            if !p.exclude.is_empty() {
                text.push_str(&format!(" (exclude {})", p.exclude.join(" ")));
            }
            if p.force {
                text.push_str(" (forced)");
            }
            text
        }
        JobParams::Update(p) => format!("update {} at {}", p.dataset, p.revision),
        JobParams::Delete(p) => match &p.revision {
            Some(revision) => format!("delete {} at {revision}", p.dataset),
            None => format!("delete all of {}", p.dataset),
        },
    }
}

/// One line per job: number, what, state and how far it got (or how it ended).
pub fn jobs_table(jobs: &[Job], width: Option<usize>) -> String {
    let what: Vec<String> = jobs.iter().map(describe).collect();
    let what_width = what
        .iter()
        .map(|w| format::width(w))
        .max()
        .unwrap_or(0)
        .min(60);
    let id_width = jobs
        .iter()
        .map(|j| j.id.to_string().len())
        .max()
        .unwrap_or(1)
        .max(2);
    let mut text = format!(
        "{}  {}  {}  DETAIL\n",
        format::pad_left("ID", id_width),
        format::pad_right("JOB", what_width),
        format::pad_right("STATE", 9)
    );
    for (job, what) in jobs.iter().zip(what) {
        let mut line = format!(
            "{}  {}  {}  {}",
            format::pad_left(&job.id.to_string(), id_width),
            format::pad_right(&format::truncate(&what, what_width), what_width),
            format::pad_right(job.state.as_str(), 9),
            detail(job)
        );
        if let Some(width) = width {
            line = format::truncate(&line, width);
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// How far a job got, or how it ended.
fn detail(job: &Job) -> String {
    let p = &job.progress;
    match job.state {
        JobState::Queued => "waiting for a free slot".to_string(),
        JobState::Running if p.files_total == 0 => "starting".to_string(),
        JobState::Running => {
            let mut text = format!(
                "{}/{} files, {} of {}",
                p.files_done,
                p.files_total,
                format::bytes(p.bytes_done),
                format::bytes(p.bytes_total)
            );
            if p.rate >= 1.0 {
                text.push_str(&format!(", {}/s", format::bytes(p.rate as u64)));
            }
            if let Some(eta) = p.eta_secs {
                text.push_str(&format!(", {eta} s left"));
            }
            if p.retries > 0 {
                text.push_str(&format!(", {}", format::count(p.retries, "retry")));
            }
            text
        }
        JobState::Succeeded | JobState::Cancelled => job.summary.clone().unwrap_or_default(),
        JobState::Failed => job.error.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakedaemon::FakeDaemon;
    use hubdex_ipc::{DeleteParams, DownloadParams};

    fn captured() -> Output<Vec<u8>> {
        Output {
            writer: Vec::new(),
            width: None,
        }
    }

    fn text(out: Output<Vec<u8>>) -> String {
        String::from_utf8(out.writer).unwrap()
    }

    fn download(dataset: &str) -> JobParams {
        JobParams::Download(DownloadParams {
            dataset: dataset.parse().unwrap(),
            revision: "main".into(),
            include: vec!["*.csv".into()],
            exclude: vec![],
            force: false,
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn download_wait_follows_the_job_and_prints_its_summary() {
        let dir = tempfile::tempdir().unwrap();
        let server = FakeDaemon::new().start(dir.path()).await;
        let client = hubdex_ipc::connect(&server.socket).await.unwrap();
        let mut out = captured();
        submit(&mut out, &client, download("acme/tiny"), true, false)
            .await
            .unwrap();
        let log = text(out);
        assert_eq!(log, "job 1: 2 files of `acme/tiny` fetched\n");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_job_fails_the_command_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let daemon = FakeDaemon::new().with_job_error("dataset `acme/tiny` is gated");
        let server = daemon.start(dir.path()).await;
        let client = hubdex_ipc::connect(&server.socket).await.unwrap();
        let err = submit(&mut captured(), &client, download("acme/tiny"), true, false)
            .await
            .unwrap_err();
        let message = format!("{err:#}");
        assert!(message.contains("job 1 failed"), "{message}");
        assert!(message.contains("gated"), "{message}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_wait_the_job_is_queued_and_listed() {
        let dir = tempfile::tempdir().unwrap();
        let server = FakeDaemon::new().start(dir.path()).await;
        let client = hubdex_ipc::connect(&server.socket).await.unwrap();
        let mut out = captured();
        submit(&mut out, &client, download("acme/tiny"), false, false)
            .await
            .unwrap();
        let queued = text(out);
        assert!(
            queued.starts_with("queued job 1: download acme/tiny at main (include *.csv)"),
            "{queued}"
        );
        let mut out = captured();
        list(&mut out, &client, true).await.unwrap();
        let listed: Vec<Job> = serde_json::from_str(&text(out)).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, 1);
    }

    #[test]
    fn the_table_says_how_far_each_job_got() {
        let now = chrono::Utc::now();
        let mut running = Job {
            id: 7,
            params: download("openai/gsm8k"),
            state: JobState::Running,
            progress: Default::default(),
            error: None,
            summary: None,
            commit: None,
            created_at: now,
            started_at: Some(now),
            finished_at: None,
        };
        running.progress.files_total = 10;
        running.progress.files_done = 3;
        running.progress.bytes_total = 40_000_000;
        running.progress.bytes_done = 12_500_000;
        running.progress.rate = 5_100_000.0;
        running.progress.eta_secs = Some(6);
        let failed = Job {
            id: 12,
            params: JobParams::Delete(DeleteParams {
                dataset: "acme/tiny".parse().unwrap(),
                revision: None,
                all: true,
            }),
            state: JobState::Failed,
            error: Some("nothing of `acme/tiny` is in the cache".into()),
            ..running.clone()
        };
        let table = jobs_table(&[running, failed], None);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines[0].starts_with("ID  JOB"), "{table}");
        assert!(
            lines[1].ends_with("running    3/10 files, 12.5 MB of 40.0 MB, 5.1 MB/s, 6 s left"),
            "{table}"
        );
        assert!(
            lines[2].starts_with("12  delete all of acme/tiny"),
            "{table}"
        );
        assert!(lines[2].ends_with("failed     nothing of `acme/tiny` is in the cache"));
        let narrow = jobs_table(&[], Some(20));
        assert_eq!(narrow.lines().count(), 1);
    }
}
