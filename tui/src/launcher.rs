//! Finds the running daemon, or starts one in the background (atuin's pattern): probe the
//! socket; under an exclusive start-up lock probe again, replace a daemon that speaks another
//! protocol, wait for one that holds the pid file but is still starting, or else spawn
//! `hubdex daemon` detached from the terminal, and poll until it answers.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use hubdex_ipc::{
    Hello, HubdexClient, IpcError, PROTOCOL, Paths, StartupProgress, StartupStep,
    context_with_timeout,
};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// How long a connect to the socket may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the daemon may take to answer `hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a new daemon may take to answer (it may import the embedded catalog first), or
/// to move on to its next start-up step while it reports them (see [`StartupProgress`]).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// What the spinner says until the daemon reports a step.
const STARTING: &str = "starting the hubdex daemon…";
/// How often a starting daemon is probed.
const POLL_EVERY: Duration = Duration::from_millis(50);
/// How long to wait for another client that is starting the daemon.
const LOCK_TIMEOUT: Duration = Duration::from_secs(130);
/// How long an outdated daemon may take to stop after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Lines of the daemon's log shown when it dies during start-up.
const LOG_TAIL_LINES: usize = 20;

/// Why no daemon could be reached or started.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The state directories could not be created.
    #[error(transparent)]
    Dirs(#[from] IpcError),
    /// The start-up lock file could not be opened or locked.
    #[error("cannot lock {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// Another client held the start-up lock for too long.
    #[error(
        "another hubdex has been starting the daemon for over {secs} s (it holds {path}); \
         wait for it, or stop that hubdex and try again"
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long this client waited.
        secs: u64,
    },
    /// The daemon's log file could not be opened.
    #[error("cannot open the daemon log {path}: {source}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The daemon process could not be started.
    #[error("cannot start `{exe} daemon`: {source}")]
    Spawn {
        /// The program started.
        exe: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The daemon exited before it answered.
    #[error(
        "the hubdex daemon exited during start-up ({status}); the end of its log {log}:\n{tail}"
    )]
    Exited {
        /// How it exited.
        status: ExitStatus,
        /// Its log file.
        log: PathBuf,
        /// The last lines it wrote.
        tail: String,
    },
    /// The daemon did not answer in time.
    #[error(
        "the hubdex daemon did not answer on {socket} within {secs} s, nor report any progress \
         for the last {patience} s; its log {log} may say why"
    )]
    Timeout {
        /// The socket polled.
        socket: PathBuf,
        /// How long this client waited.
        secs: u64,
        /// How long the daemon may go without answering or reporting progress.
        patience: u64,
        /// The daemon's log file.
        log: PathBuf,
    },
    /// A daemon speaking another protocol answers and could not be replaced.
    #[error(
        "the running hubdex daemon (pid {pid}, version {version}) speaks protocol {protocol}, \
         but this hubdex {ours} needs protocol {PROTOCOL}, and it did not stop{how}; \
         stop it yourself (`kill {pid}`, or `kill -9 {pid}`) and try again"
    )]
    Incompatible {
        /// The daemon's process id.
        pid: u32,
        /// The daemon's version.
        version: String,
        /// The daemon's protocol.
        protocol: u32,
        /// This client's version.
        ours: &'static str,
        /// What was tried, if anything.
        how: String,
    },
}

impl LaunchError {
    fn incompatible(hello: &Hello, how: impl Into<String>) -> LaunchError {
        LaunchError::Incompatible {
            pid: hello.pid,
            version: hello.version.clone(),
            protocol: hello.protocol,
            ours: env!("CARGO_PKG_VERSION"),
            how: how.into(),
        }
    }
}

/// What a connect attempt found on the socket.
pub enum Probe {
    /// A daemon that speaks this client's protocol.
    Ready(HubdexClient),
    /// A daemon that speaks another protocol.
    Incompatible(Hello),
    /// Nothing answered; the reason says what failed.
    Unreachable(String),
}

/// Connects to `socket` and asks the daemon's `hello`.
pub async fn probe(socket: &Path) -> Probe {
    let client = match tokio::time::timeout(CONNECT_TIMEOUT, hubdex_ipc::connect(socket)).await {
        Err(_) => {
            return Probe::Unreachable(format!("connecting to {} timed out", socket.display()));
        }
        Ok(Err(e)) => return Probe::Unreachable(e.to_string()),
        Ok(Ok(client)) => client,
    };
    match client.hello(context_with_timeout(HELLO_TIMEOUT)).await {
        Ok(hello) if hello.protocol == PROTOCOL => Probe::Ready(client),
        Ok(hello) => Probe::Incompatible(hello),
        Err(e) => Probe::Unreachable(format!("the daemon did not say hello: {e}")),
    }
}

/// A daemon ready for this client, or why there is none (for reconnecting).
pub async fn probe_ready(socket: &Path) -> Result<HubdexClient, String> {
    match probe(socket).await {
        Probe::Ready(client) => Ok(client),
        Probe::Incompatible(hello) => Err(format!(
            "an incompatible hubdex daemon (pid {}, version {}) answers; restart hubdex to replace it",
            hello.pid, hello.version
        )),
        Probe::Unreachable(reason) => Err(reason),
    }
}

/// Whether to show a spinner while the daemon starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// A spinner line on stderr.
    Spinner,
    /// Nothing (scripts, pipes).
    Quiet,
}

impl Feedback {
    /// A spinner when stderr (and, with `needs_stdout`, stdout) is a terminal.
    pub fn detect(needs_stdout: bool) -> Feedback {
        let stdout_ok = !needs_stdout || io::stdout().is_terminal();
        if stdout_ok && io::stderr().is_terminal() {
            Feedback::Spinner
        } else {
            Feedback::Quiet
        }
    }
}

/// A client for a daemon speaking this client's protocol, started in the background if
/// none answers on `paths.socket`.
pub async fn ensure_daemon(paths: &Paths, feedback: Feedback) -> Result<HubdexClient, LaunchError> {
    let exe = std::env::current_exe().map_err(|source| LaunchError::Spawn {
        exe: PathBuf::from("hubdex"),
        source,
    })?;
    let wait = Wait::new(paths, START_TIMEOUT);
    ensure_daemon_with(paths, &exe, feedback, wait).await
}

/// [`ensure_daemon`] starting `exe daemon` (tests start something else) and waiting for it
/// as `wait` says.
async fn ensure_daemon_with(
    paths: &Paths,
    exe: &Path,
    feedback: Feedback,
    mut wait: Wait,
) -> Result<HubdexClient, LaunchError> {
    paths.create_dirs()?;
    if let Probe::Ready(client) = probe(&paths.socket).await {
        return Ok(client);
    }
    let _lock = lock(&paths.startup_lock).await?;
    let unreachable = match probe(&paths.socket).await {
        Probe::Ready(client) => return Ok(client),
        Probe::Incompatible(hello) => {
            replace(paths, &hello).await?;
            None
        }
        Probe::Unreachable(reason) => Some(reason),
    };
    let spinner = match feedback {
        Feedback::Spinner => Some(Spinner::start(wait.said.subscribe())),
        Feedback::Quiet => None,
    };
    let result = async {
        if let Some(reason) = unreachable
            && let Some(client) = wait_for_starting(paths, &reason, &mut wait).await?
        {
            return Ok(client);
        }
        start(paths, exe, &mut wait).await
    }
    .await;
    if let Some(spinner) = spinner {
        spinner.finish().await;
    }
    result
}

/// Waits for a daemon that holds the pid file but does not answer yet: one started by hand
/// or by systemd a moment ago, still opening its catalog (importing the embedded snapshot,
/// rebuilding the index). Starting a second one would only fail on the pid file. `None` when
/// no daemon holds it, or the one that did exited meanwhile: then start one.
async fn wait_for_starting(
    paths: &Paths,
    reason: &str,
    wait: &mut Wait,
) -> Result<Option<HubdexClient>, LaunchError> {
    if pid_file_released(&paths.pid_file) {
        tracing::info!("no daemon answers ({reason}); starting one");
        return Ok(None);
    }
    tracing::info!(
        "a daemon holds {} but does not answer yet; waiting for it",
        paths.pid_file.display()
    );
    wait.restart();
    while !wait.out_of_patience().await {
        match probe(&paths.socket).await {
            Probe::Ready(client) => return Ok(Some(client)),
            Probe::Incompatible(hello) => {
                replace(paths, &hello).await?;
                return Ok(None);
            }
            Probe::Unreachable(_) if pid_file_released(&paths.pid_file) => return Ok(None),
            Probe::Unreachable(_) => tokio::time::sleep(POLL_EVERY).await,
        }
    }
    Err(wait.timeout(paths))
}

/// How long to wait for a daemon that does not answer yet, and what to say meanwhile: it
/// may take [`START_TIMEOUT`] to answer, or that long from its last reported step.
struct Wait {
    patience: Duration,
    progress_file: PathBuf,
    began: Instant,
    deadline: Instant,
    last: Option<StartupStep>,
    /// What the spinner shows.
    said: watch::Sender<String>,
}

impl Wait {
    fn new(paths: &Paths, patience: Duration) -> Wait {
        let now = Instant::now();
        Wait {
            patience,
            progress_file: paths.startup_progress.clone(),
            began: now,
            deadline: now + patience,
            last: None,
            said: watch::Sender::new(STARTING.to_string()),
        }
    }

    /// Waits afresh (for a daemon this client has just started).
    fn restart(&mut self) {
        let now = Instant::now();
        self.began = now;
        self.deadline = now + self.patience;
        self.last = None;
    }

    /// Reads the daemon's progress: a new step (or count) buys it time, and shows.
    async fn out_of_patience(&mut self) -> bool {
        let file = self.progress_file.clone();
        let read = tokio::task::spawn_blocking(move || StartupProgress::read_fresh(&file)).await;
        if let Ok(Some(progress)) = read {
            if self.last != Some(progress.step) {
                self.last = Some(progress.step);
                self.deadline = Instant::now() + self.patience;
                tracing::info!(step = ?progress.step, "the daemon is starting");
            }
            self.said.send_replace(describe(&progress));
        }
        Instant::now() >= self.deadline
    }

    fn timeout(&self, paths: &Paths) -> LaunchError {
        LaunchError::Timeout {
            socket: paths.socket.clone(),
            secs: self.began.elapsed().as_secs(),
            patience: self.patience.as_secs(),
            log: paths.log_file.clone(),
        }
    }
}

/// A starting daemon's step, for the spinner: short enough for 80 columns.
fn describe(progress: &StartupProgress) -> String {
    format!(
        "starting the hubdex daemon: {}",
        crate::format::startup_step(progress, Utc::now())
    )
}

/// Takes the exclusive start-up lock, waiting for another client that holds it.
async fn lock(path: &Path) -> Result<File, LaunchError> {
    let err = |source| LaunchError::Lock {
        path: path.to_path_buf(),
        source,
    };
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(err)?;
    let locking = tokio::task::spawn_blocking(move || file.lock().map(|()| file));
    match tokio::time::timeout(LOCK_TIMEOUT, locking).await {
        Err(_) => Err(LaunchError::LockTimeout {
            path: path.to_path_buf(),
            secs: LOCK_TIMEOUT.as_secs(),
        }),
        Ok(Err(join)) => Err(err(io::Error::other(join))),
        Ok(Ok(locked)) => locked.map_err(err),
    }
}

/// Stops a daemon that speaks another protocol: SIGTERM, then wait until it is gone.
async fn replace(paths: &Paths, hello: &Hello) -> Result<(), LaunchError> {
    let mut stderr = io::stderr();
    let _ = writeln!(
        stderr,
        "hubdex: the running daemon (pid {}, version {}) speaks protocol {} but this hubdex {} \
         needs protocol {PROTOCOL}; stopping it (`kill {}`) and starting a new one",
        hello.pid,
        hello.version,
        hello.protocol,
        env!("CARGO_PKG_VERSION"),
        hello.pid
    );
    if hello.pid <= 1 || hello.pid == std::process::id() {
        return Err(LaunchError::incompatible(
            hello,
            " (it reported no usable pid)",
        ));
    }
    let killed = tokio::process::Command::new("kill")
        .arg(hello.pid.to_string())
        .stdin(Stdio::null())
        .status()
        .await;
    match killed {
        Ok(status) if status.success() => {}
        Ok(status) => {
            return Err(LaunchError::incompatible(
                hello,
                format!(" (`kill {}` failed: {status})", hello.pid),
            ));
        }
        Err(e) => {
            return Err(LaunchError::incompatible(
                hello,
                format!(" (cannot run `kill`: {e})"),
            ));
        }
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if matches!(probe(&paths.socket).await, Probe::Unreachable(_))
            && pid_file_released(&paths.pid_file)
        {
            return Ok(());
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    Err(LaunchError::incompatible(
        hello,
        format!(" within {} s of SIGTERM", STOP_TIMEOUT.as_secs()),
    ))
}

/// True when no daemon holds the pid file's lock (a crashed daemon holds none).
fn pid_file_released(path: &Path) -> bool {
    match File::open(path) {
        Err(_) => true,
        Ok(file) => !matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
    }
}

/// Spawns `exe daemon` in its own process group with its output appended to the log, then
/// polls the socket until it answers, it exits, or `wait` runs out of patience.
async fn start(paths: &Paths, exe: &Path, wait: &mut Wait) -> Result<HubdexClient, LaunchError> {
    let log_err = |source| LaunchError::Log {
        path: paths.log_file.clone(),
        source,
    };
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&paths.log_file)
        .map_err(log_err)?;
    let log_start = log.metadata().map_err(log_err)?.len();
    let log_clone = log.try_clone().map_err(log_err)?;
    let spawn_err = |source| LaunchError::Spawn {
        exe: exe.to_path_buf(),
        source,
    };
    let mut child = Command::new(exe)
        .arg("daemon")
        .stdin(Stdio::null())
        .stdout(log_clone)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(spawn_err)?;
    tracing::info!("started the daemon, pid {}", child.id());
    wait.restart();
    loop {
        if let Some(status) = child.try_wait().map_err(spawn_err)? {
            return Err(LaunchError::Exited {
                status,
                log: paths.log_file.clone(),
                tail: log_tail(&paths.log_file, log_start),
            });
        }
        match probe(&paths.socket).await {
            Probe::Ready(client) => return Ok(client),
            Probe::Incompatible(hello) => {
                return Err(LaunchError::incompatible(
                    &hello,
                    " (it started in our place)",
                ));
            }
            Probe::Unreachable(_) => {}
        }
        if wait.out_of_patience().await {
            return Err(wait.timeout(paths));
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// The last lines written to `path` after byte `from`, indented for an error message.
fn log_tail(path: &Path, from: u64) -> String {
    let mut text = String::new();
    let read = File::open(path).and_then(|mut f| {
        f.seek(SeekFrom::Start(from))?;
        f.take(1 << 20).read_to_string(&mut text)
    });
    if let Err(e) = read {
        return format!("  (cannot read it: {e})");
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return "  (it wrote nothing)".to_string();
    }
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..]
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A one-line spinner on stderr, erased when finished.
struct Spinner {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Spinner {
    /// Spins beside the latest of `message`, cut to the terminal's width.
    fn start(message: watch::Receiver<String>) -> Spinner {
        let (stop, mut stopped) = oneshot::channel();
        let width = crossterm::terminal::size().map_or(80, |(columns, _)| usize::from(columns));
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_millis(80));
            for frame in crate::format::SPINNER.iter().cycle() {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = interval.tick() => {
                        let line = format!("{frame} {}", *message.borrow());
                        let line = crate::format::truncate(&line, width.saturating_sub(1));
                        let _ = write!(io::stderr(), "\r{line}\x1b[K");
                    }
                }
            }
            let _ = write!(io::stderr(), "\r\x1b[2K");
        });
        Spinner { stop, task }
    }

    async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakedaemon::FakeDaemon;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn probe_tells_ready_incompatible_and_absent_apart() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("hubdex.sock");
        assert!(matches!(probe(&socket).await, Probe::Unreachable(_)));
        let server = FakeDaemon::new().start(dir.path()).await;
        assert!(matches!(probe(&server.socket).await, Probe::Ready(_)));
        server.stop().await;
        let old = FakeDaemon::new()
            .with_protocol(PROTOCOL + 1)
            .start(dir.path())
            .await;
        match probe(&old.socket).await {
            Probe::Incompatible(hello) => assert_eq!(hello.protocol, PROTOCOL + 1),
            _ => panic!("an old daemon was not recognised"),
        }
        let reason = probe_ready(&old.socket).await.err().unwrap();
        assert!(reason.contains("incompatible"), "{reason}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_running_daemon_is_used_as_is() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        let daemon = FakeDaemon::new();
        let _server = daemon.clone().start(&paths.runtime_dir).await;
        let missing = dir.path().join("no-such-program");
        let client = ensure_daemon_with(&paths, &missing, Feedback::Quiet, patient(&paths))
            .await
            .unwrap();
        let hello = client
            .hello(context_with_timeout(HELLO_TIMEOUT))
            .await
            .unwrap();
        assert_eq!(hello.protocol, PROTOCOL);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_daemon_that_dies_at_start_shows_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        let script = dir.path().join("broken-daemon");
        std::fs::write(
            &script,
            "#!/bin/sh\necho \"config.toml: unknown key sync_intervall\" >&2\nexit 3\n",
        )
        .unwrap();
        make_executable(&script);
        let err = ensure_daemon_with(&paths, &script, Feedback::Quiet, patient(&paths))
            .await
            .err()
            .unwrap();
        let message = err.to_string();
        assert!(matches!(err, LaunchError::Exited { .. }), "{message}");
        assert!(message.contains("exit status: 3"), "{message}");
        assert!(message.contains("unknown key sync_intervall"), "{message}");
        assert!(paths.log_file.exists());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_daemon_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        let script = dir.path().join("slow-daemon");
        // Stays alive while the test plays the daemon's part once it "has started".
        std::fs::write(&script, "#!/bin/sh\nsleep 5\n").unwrap();
        make_executable(&script);
        connects_to_a_daemon_answering_late(&paths, &script).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_daemon_still_starting_is_waited_for_not_started_twice() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        paths.create_dirs().unwrap();
        // A daemon started by hand holds its pid file while it opens the catalog.
        let pid_file = File::create(&paths.pid_file).unwrap();
        pid_file.lock().unwrap();
        // Starting a second daemon would fail; this program would fail at once.
        let second = dir.path().join("second-daemon");
        std::fs::write(&second, "#!/bin/sh\necho started twice >&2\nexit 1\n").unwrap();
        make_executable(&second);
        connects_to_a_daemon_answering_late(&paths, &second).await;
        let log = std::fs::read_to_string(&paths.log_file).unwrap_or_default();
        assert!(!log.contains("started twice"), "{log}");
    }

    /// Plays a daemon that answers 400 ms from now, and checks that [`ensure_daemon_with`]
    /// (starting `exe` if it starts anything) ends up connected to it.
    async fn connects_to_a_daemon_answering_late(paths: &Paths, exe: &Path) {
        let runtime_dir = paths.runtime_dir.clone();
        let late = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            FakeDaemon::new().start(&runtime_dir).await
        });
        let client = ensure_daemon_with(paths, exe, Feedback::Quiet, patient(paths))
            .await
            .unwrap();
        assert!(
            client
                .hello(context_with_timeout(HELLO_TIMEOUT))
                .await
                .is_ok()
        );
        drop(late.await.unwrap());
    }

    fn patient(paths: &Paths) -> Wait {
        Wait::new(paths, START_TIMEOUT)
    }

    /// A daemon that stays up without answering, as one opening its catalog does.
    fn silent_daemon(dir: &Path) -> PathBuf {
        let script = dir.join("busy-daemon");
        std::fs::write(&script, "#!/bin/sh\nsleep 5\n").unwrap();
        make_executable(&script);
        script
    }

    fn rebuilding(read: u64) -> StartupProgress {
        StartupProgress {
            step: StartupStep::RebuildingIndex {
                read,
                of: 1_500_000,
            },
            since: Utc::now(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_daemon_reporting_progress_is_waited_for_past_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        let script = silent_daemon(dir.path());
        let patience = Duration::from_millis(600);
        let (runtime_dir, progress_file) =
            (paths.runtime_dir.clone(), paths.startup_progress.clone());
        // Rebuilds its index for 2 s, a step every 150 ms, then answers.
        let daemon = tokio::spawn(async move {
            for step in 1..=13 {
                tokio::time::sleep(Duration::from_millis(150)).await;
                rebuilding(step * 100_000).write(&progress_file).unwrap();
            }
            FakeDaemon::new().start(&runtime_dir).await
        });
        let began = Instant::now();
        let wait = Wait::new(&paths, patience);
        let said = wait.said.subscribe();
        let client = ensure_daemon_with(&paths, &script, Feedback::Quiet, wait).await;
        assert!(client.is_ok(), "{:?}", client.err());
        assert!(began.elapsed() > 2 * patience);
        assert!(
            said.borrow().contains("rebuilding the index"),
            "{}",
            *said.borrow()
        );
        drop(daemon.await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_daemon_stuck_on_one_step_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        let script = silent_daemon(dir.path());
        paths.create_dirs().unwrap();
        // Fresh, but never moving on.
        rebuilding(200_000).write(&paths.startup_progress).unwrap();
        let patience = Duration::from_millis(400);
        let began = Instant::now();
        let err = ensure_daemon_with(
            &paths,
            &script,
            Feedback::Quiet,
            Wait::new(&paths, patience),
        )
        .await
        .err()
        .unwrap();
        assert!(matches!(err, LaunchError::Timeout { .. }), "{err}");
        assert!(
            began.elapsed() < Duration::from_secs(4),
            "it waited for the daemon to exit"
        );
        let message = err.to_string();
        assert!(message.contains("daemon.log"), "{message}");
    }

    #[test]
    fn a_starting_daemon_says_what_it_does_in_80_columns() {
        let said = describe(&rebuilding(1_500_000));
        assert_eq!(
            said,
            "starting the hubdex daemon: rebuilding the index, 100% of 1,500,000 records"
        );
        // The spinner and a space go before it.
        assert!(crate::format::width(&said) + 2 < 80);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_clients_never_hold_the_start_lock_together() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("startup.lock");
        let first = lock(&path).await.unwrap();
        let second = tokio::spawn({
            let path = path.clone();
            async move { lock(&path).await.map(|_| Instant::now()) }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!second.is_finished(), "the lock was taken twice");
        let released = Instant::now();
        drop(first);
        let taken = second.await.unwrap().unwrap();
        assert!(taken >= released);
    }

    #[test]
    fn the_log_tail_shows_only_the_last_new_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.log");
        std::fs::write(&path, "old run\n").unwrap();
        let from = std::fs::metadata(&path).unwrap().len();
        let mut text = String::new();
        for i in 0..30 {
            text.push_str(&format!("line {i}\n"));
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let tail = log_tail(&path, from);
        assert!(!tail.contains("old run"));
        assert!(!tail.contains("line 9\n"));
        assert!(tail.starts_with("  line 10"), "{tail}");
        assert!(tail.ends_with("  line 29"), "{tail}");
        let end = std::fs::metadata(&path).unwrap().len();
        assert_eq!(log_tail(&path, end), "  (it wrote nothing)");
    }

    fn make_executable(path: &Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}
