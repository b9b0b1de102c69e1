//! `hubdex-bench tui`: what a user of the TUI waits for, at the Hub's scale, against a real
//! daemon (issue 6's targets: a keystroke answered within a 16 ms frame at p99; the first
//! frame within 150 ms with a running daemon and within 1 s when the TUI starts it).
//!
//! It starts `hubdex-fakehub --synthetic N` and `hubdex daemon` (as `hubdex-bench search`
//! does) on a temp `HUBDEX_HOME`, or on `--home` when that one is already synced, then:
//!
//! * drives the real TUI ([`hubdex::ui::Harness`]: the App, its update, the render function
//!   and the client task) on ratatui's `TestBackend` at 80x24 and 160x48, typing realistic
//!   queries character by character and moving through the results. Per key it times the
//!   key's frame (update + render) and, for keys that change the query, the wait until that
//!   query's results are on screen (the daemon's search and the IPC round trip included);
//! * spawns the real `hubdex` binary in a pseudo-terminal and times the start until its first
//!   complete frame (the query box and the footer drawn) and until the first results, with
//!   the daemon running, then with none (the TUI starts it).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::bail;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use hubdex::ui::Harness;
use hubdex_ipc::{HubdexClient, Paths};
use portable_pty::{CommandBuilder, PtySize};
use serde_json::json;

use crate::search::procs::{self, Proc};
use crate::search::{Stats, connect, wait_for_sync};

/// The queries typed, character by character.
const QUERIES: [&str; 4] = [
    "squad",
    "korean sentiment",
    "lang:en sort:downloads",
    "question answering",
];
/// The terminal sizes the keys are timed at.
const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];
/// Longest wait for a search to be answered on screen.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// After a navigation key, answers (previews) are applied until none comes for this long,
/// as they would between two key presses.
const QUIET: Duration = Duration::from_millis(30);
/// At most this many answers are applied after one navigation key.
const MAX_ANSWERS: usize = 100;
/// Longest wait for the TUI's first frame (and its first results) in the pty.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for a process to stop once asked.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// The file in the home that remembers the fake Hub's port: the daemon syncs in full from
/// an endpoint it has not synced from, so a reused home gets the same port again.
const PORT_FILE: &str = "bench-fakehub.port";
/// Text of the query box of the first frame, without its spaces (see [`visible_text`]).
const QUERY_BOX: &str = "typetosearch";
/// Text of the footer (the last row) of the first frame, without its spaces.
const FOOTER: &str = "Ctrl-Uclear";

/// Arguments of `hubdex-bench tui`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Synthetic records the fake Hub serves (and the daemon syncs unless `--home` is given).
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// Seed of the synthetic catalog (the same as the one `--home` was synced with).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Use this HUBDEX_HOME and keep it: the first run syncs it, later runs with the same
    /// `--records` and `--seed` reuse the catalog (a 1M sync takes minutes).
    #[arg(long, value_name = "DIR")]
    home: Option<PathBuf>,
    /// Times the queries and the navigation are gone through at each size.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Start-ups timed in each case (the median is reported).
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=100))]
    starts: u32,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    json: bool,
    /// Where `hubdex` and `hubdex-fakehub` are; by default next to this executable.
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Longest wait for the sync, in seconds.
    #[arg(long, default_value_t = 1800)]
    sync_timeout: u64,
}

/// What a timed key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// A key that changes the query (a character, Ctrl-U): its frame.
    Type,
    /// The same keys until the results of their query are on screen.
    Results,
    /// Moving through results and preview tabs (j/k, PgDn/PgUp, g/G, Tab, Enter, Esc, /).
    Navigate,
}

impl Class {
    const ALL: [Class; 3] = [Class::Type, Class::Results, Class::Navigate];

    fn label(self) -> &'static str {
        match self {
            Class::Type => "typing: key → frame",
            Class::Results => "typing: key → its results on screen",
            Class::Navigate => "navigation: key → frame",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Class::Type => "type_frame",
            Class::Results => "type_results",
            Class::Navigate => "navigate_frame",
        }
    }
}

/// Latencies in milliseconds by class, at one size.
type Latencies = BTreeMap<Class, Vec<f64>>;
/// How many of the slowest frames are named in the report.
const SLOWEST: usize = 5;

/// What was timed at one size.
#[derive(Debug, Default)]
struct Keys {
    latencies: Latencies,
    /// The slowest key frames (milliseconds, which key), slowest first.
    slowest: Vec<(f64, String)>,
}

impl Keys {
    fn add(&mut self, class: Class, elapsed: Duration) {
        self.latencies.entry(class).or_default().push(ms(elapsed));
    }

    /// Times a key's frame and remembers it when it is among the slowest.
    fn frame(&mut self, class: Class, elapsed: Duration, what: impl FnOnce() -> String) {
        self.add(class, elapsed);
        let slowest_kept = self.slowest.last().map_or(0.0, |s| s.0);
        if self.slowest.len() < SLOWEST || ms(elapsed) > slowest_kept {
            self.slowest.push((ms(elapsed), what()));
            self.slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
            self.slowest.truncate(SLOWEST);
        }
    }
}

fn ms(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1000.0
}

/// Start-up times of the `hubdex` binary, in milliseconds, one per run.
#[derive(Debug, Default)]
struct Starts {
    first_frame: Vec<f64>,
    first_results: Vec<f64>,
}

/// Everything measured.
struct Report {
    records: u64,
    rounds: u32,
    keys: Vec<((u16, u16), Keys)>,
    running: Starts,
    autostart: Starts,
}

/// Runs the benchmark and prints its table.
pub fn run(args: &Args) -> anyhow::Result<()> {
    crate::run_and_print(bench(args), args.json, report_json, table)
}

async fn bench(args: &Args) -> anyhow::Result<Report> {
    let (hubdex, fakehub) = procs::hubdex_binaries(args.bin_dir.as_deref())?;
    let tmp = tempfile::Builder::new()
        .prefix("hubdex-bench-tui-")
        .tempdir()?;
    let dir = tmp.path().to_path_buf();
    let home = args.home.clone().unwrap_or_else(|| dir.join("home"));
    let port = prepare_home(&home)?;
    eprintln!("starting the fake Hub with {} records", args.records);
    let (fake, hub) = procs::start_fakehub_on(
        &fakehub,
        &dir,
        args.records,
        args.seed,
        port.unwrap_or(0),
        Duration::from_secs(900),
    )
    .await?;
    let env = Env {
        hubdex,
        home,
        hub,
        hf_home: dir.join("hf"),
    };
    let measured = measure(args, &env, &dir).await;
    fake.stop(Duration::from_secs(5)).await;
    measured
        .map_err(|e| e.context(format!("the logs are in {} (kept)", dir.display())))
        .inspect_err(|_| {
            let _ = tmp.keep();
        })
}

/// Creates `home` with a config for the fake Hub when it has none, and returns the fake
/// Hub's port it was synced from, if it was.
fn prepare_home(home: &Path) -> anyhow::Result<Option<u16>> {
    std::fs::create_dir_all(home)?;
    let config = home.join("config.toml");
    if !config.exists() {
        // The embedded snapshot is the real Hub's catalog, which the fake does not serve.
        std::fs::write(&config, "import_snapshot = false\nsync_pacing = false\n")?;
    }
    Ok(std::fs::read_to_string(home.join(PORT_FILE))
        .ok()
        .and_then(|text| text.trim().parse().ok()))
}

/// How the processes are started.
struct Env {
    hubdex: PathBuf,
    home: PathBuf,
    hub: SocketAddr,
    hf_home: PathBuf,
}

async fn measure(args: &Args, env: &Env, dir: &Path) -> anyhow::Result<Report> {
    let http = SocketAddr::from(([127, 0, 0, 1], procs::free_port()?));
    let mut daemon = procs::start_daemon(&env.hubdex, dir, &env.home, env.hub, http)?;
    let figures = with_daemon(args, env, &mut daemon).await;
    daemon.stop(STOP_TIMEOUT).await;
    let (records, keys, running) = figures?;
    eprintln!("timing start-ups without a daemon (the TUI starts it)");
    let mut autostart = Starts::default();
    for _ in 0..args.starts {
        let started = start_once(env).await;
        stop_started_daemon(&env.home).await?;
        let (frame, results) = started?;
        autostart.first_frame.push(ms(frame));
        autostart.first_results.push(ms(results));
    }
    Ok(Report {
        records,
        rounds: args.rounds,
        keys,
        running,
        autostart,
    })
}

/// The measurements that need the daemon running: the keys, then the start-ups.
async fn with_daemon(
    args: &Args,
    env: &Env,
    daemon: &mut Proc,
) -> anyhow::Result<(u64, Vec<((u16, u16), Keys)>, Starts)> {
    let pid = daemon.pid()?;
    let client = connect(daemon, &env.home).await?;
    eprintln!("waiting for the sync");
    let timeout = Duration::from_secs(args.sync_timeout);
    wait_for_sync(&client, daemon, pid, None, timeout).await?;
    std::fs::write(env.home.join(PORT_FILE), env.hub.port().to_string())?;
    let status = client
        .status(hubdex_ipc::context_with_timeout(ANSWER_TIMEOUT))
        .await?;
    if status.records == 0 {
        bail!("the daemon's catalog is empty");
    }
    let socket = Paths::under(&env.home).socket;
    let mut keys = Vec::new();
    for size in SIZES {
        eprintln!("timing keys at {}x{}", size.0, size.1);
        keys.push((size, keystrokes(&socket, &client, size, args.rounds).await?));
    }
    eprintln!("timing start-ups with the daemon running");
    let mut running = Starts::default();
    for _ in 0..args.starts {
        let (frame, results) = start_once(env).await?;
        running.first_frame.push(ms(frame));
        running.first_results.push(ms(results));
    }
    Ok((status.records, keys, running))
}

fn plain(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// The keys pressed after a query is typed: into the results, through them and the preview
/// tabs, and back to the query box.
fn navigation() -> Vec<KeyEvent> {
    let mut keys = vec![code(KeyCode::Down)];
    keys.extend(std::iter::repeat_n(plain('j'), 6));
    keys.extend(std::iter::repeat_n(plain('k'), 3));
    keys.extend([
        code(KeyCode::PageDown),
        code(KeyCode::PageDown),
        code(KeyCode::PageUp),
        plain('G'),
        plain('g'),
        code(KeyCode::Tab),
        code(KeyCode::Tab),
        code(KeyCode::Tab),
        code(KeyCode::Enter),
        plain('j'),
        code(KeyCode::Esc),
        plain('/'),
    ]);
    keys
}

/// Types the queries and navigates `rounds` times at `size`, timing each key.
async fn keystrokes(
    socket: &Path,
    client: &HubdexClient,
    size: (u16, u16),
    rounds: u32,
) -> anyhow::Result<Keys> {
    let mut harness = Harness::start(socket, client.clone(), size.0, size.1);
    settle(&mut harness).await?;
    let clear = KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL);
    let mut keys = Keys::default();
    for _ in 0..rounds {
        for query in QUERIES {
            let typed = std::iter::once(clear).chain(query.chars().map(plain));
            for (i, key) in typed.enumerate() {
                let pressed = Instant::now();
                harness.key(key);
                keys.frame(Class::Type, pressed.elapsed(), || {
                    if i == 0 {
                        "Ctrl-U (clear)".to_string()
                    } else {
                        let so_far: String = query.chars().take(i).collect();
                        format!("typing {so_far:?}")
                    }
                });
                settle(&mut harness).await?;
                keys.add(Class::Results, pressed.elapsed());
            }
            if !harness.screen().contains(query) {
                bail!(
                    "the typed query {query:?} is not on screen:\n{}",
                    harness.screen()
                );
            }
            for key in navigation() {
                let pressed = Instant::now();
                harness.key(key);
                keys.frame(Class::Navigate, pressed.elapsed(), || {
                    format!("{:?} in the results of {query:?}", key.code)
                });
                for _ in 0..MAX_ANSWERS {
                    if !harness.next_answer(QUIET).await {
                        break;
                    }
                }
            }
            if harness.quit() {
                bail!("the TUI quit during the benchmark");
            }
        }
    }
    Ok(keys)
}

/// Applies the client task's answers until the newest search's results are on screen.
async fn settle(harness: &mut Harness) -> anyhow::Result<()> {
    let started = Instant::now();
    while harness.searching() {
        let left = ANSWER_TIMEOUT.saturating_sub(started.elapsed());
        if left.is_zero() || !harness.next_answer(left).await {
            bail!(
                "a search was not answered within {} s",
                ANSWER_TIMEOUT.as_secs()
            );
        }
    }
    harness.drain();
    Ok(())
}

/// Starts `hubdex` in an 80x24 pseudo-terminal and returns how long it took until its first
/// complete frame and until its first results; then quits it with Ctrl-C.
async fn start_once(env: &Env) -> anyhow::Result<(Duration, Duration)> {
    let hubdex = env.hubdex.clone();
    let home = env.home.clone();
    let hub = env.hub;
    let hf_home = env.hf_home.clone();
    tokio::task::spawn_blocking(move || start_in_pty(&hubdex, &home, hub, &hf_home)).await?
}

fn start_in_pty(
    hubdex: &Path,
    home: &Path,
    hub: SocketAddr,
    hf_home: &Path,
) -> anyhow::Result<(Duration, Duration)> {
    let pty = portable_pty::native_pty_system()
        .openpty(PtySize {
            rows: 24,
            cols: 80,
            pixel_width: 0,
            pixel_height: 0,
        })
        .map_err(|e| anyhow::anyhow!("cannot open a pseudo-terminal: {e}"))?;
    let mut command = CommandBuilder::new(hubdex);
    command.env("HUBDEX_HOME", home);
    command.env("HF_ENDPOINT", format!("http://{hub}"));
    command.env("HF_HOME", hf_home);
    command.env("HUBDEX_HTTP", "127.0.0.1:0");
    command.env("TERM", "xterm-256color");
    for var in ["HF_TOKEN", "HF_HUB_CACHE", "NO_COLOR", "TMUX"] {
        command.env_remove(var);
    }
    let mut reader = pty
        .master
        .try_clone_reader()
        .map_err(|e| anyhow::anyhow!("cannot read the pseudo-terminal: {e}"))?;
    let mut writer = pty
        .master
        .take_writer()
        .map_err(|e| anyhow::anyhow!("cannot write to the pseudo-terminal: {e}"))?;
    let started = Instant::now();
    let mut child = pty
        .slave
        .spawn_command(command)
        .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", hubdex.display()))?;
    drop(pty.slave);
    let (chunks_tx, chunks) = mpsc::channel::<Vec<u8>>();
    let pump = std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || chunks_tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let seen = watch_screen(&chunks, started);
    let quit = writer.write_all(b"\x03").and_then(|()| writer.flush());
    let stopped = Instant::now();
    let mut exited = false;
    while stopped.elapsed() < STOP_TIMEOUT {
        if quit.is_err() {
            break;
        }
        if child.try_wait()?.is_some() {
            exited = true;
            break;
        }
        // The screen is still drained so the TUI never blocks on a full pty.
        let _ = chunks.recv_timeout(Duration::from_millis(20));
    }
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
    }
    drop(writer);
    drop(pty.master);
    drop(chunks);
    // Not joined: a process that kept the pty open (none should) must not hang the bench.
    drop(pump);
    seen
}

/// Reads the pty's output until the first complete frame and the first results are on it.
fn watch_screen(
    chunks: &mpsc::Receiver<Vec<u8>>,
    started: Instant,
) -> anyhow::Result<(Duration, Duration)> {
    let mut raw = Vec::new();
    let mut first_frame = None;
    while started.elapsed() < START_TIMEOUT {
        let Ok(chunk) = chunks.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        raw.extend_from_slice(&chunk);
        let text = visible_text(&raw);
        if first_frame.is_none() {
            if let (Some(query_box), Some(footer)) = (text.find(QUERY_BOX), text.rfind(FOOTER))
                && footer > query_box
            {
                first_frame = Some((started.elapsed(), footer));
            } else {
                continue;
            }
        }
        if let Some((frame, from)) = first_frame
            && text.get(from..).is_some_and(shows_results)
        {
            return Ok((frame, started.elapsed()));
        }
    }
    let text = visible_text(&raw);
    bail!(
        "hubdex showed no {} within {} s; the screen so far:\n{}",
        if first_frame.is_some() {
            "results"
        } else {
            "first frame"
        },
        START_TIMEOUT.as_secs(),
        text.chars()
            .rev()
            .take(2000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<String>()
    )
}

/// The printable text of terminal output without escape sequences (CSI, OSC, two-byte
/// escapes) and without spaces: a renderer may skip blank cells with a cursor move instead of
/// writing spaces, so only the other characters are sure to come in screen order.
fn visible_text(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            if !c.is_control() && !c.is_whitespace() {
                out.push(c);
            }
            continue;
        }
        match chars.next() {
            Some('[') => {
                for c in chars.by_ref() {
                    if ('\x40'..='\x7e').contains(&c) {
                        break;
                    }
                }
            }
            Some(']' | 'P' | '_') => {
                while let Some(c) = chars.next() {
                    if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// True when `text` (spaces removed) holds the results count of the status line:
/// `N of TOTAL · `.
fn shows_results(text: &str) -> bool {
    text.match_indices("of").any(|(at, sep)| {
        let before = text[..at].chars().next_back();
        let rest = &text[at + sep.len()..];
        let digits: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .collect();
        before.is_some_and(|c| c.is_ascii_digit())
            && !digits.is_empty()
            && rest[digits.len()..].starts_with('·')
    })
}

/// Stops the daemon a TUI started on `home` (SIGTERM, then SIGKILL) and waits until it has
/// let go of the home, so the next start finds none.
async fn stop_started_daemon(home: &Path) -> anyhow::Result<()> {
    let pid_file = Paths::under(home).pid_file;
    // The file holds the pid, then the daemon's version.
    let Some(pid) = std::fs::read_to_string(&pid_file).ok().and_then(|text| {
        text.split_whitespace()
            .next()
            .and_then(|pid| pid.parse::<u32>().ok())
    }) else {
        if held(&pid_file) {
            bail!(
                "a daemon holds {} but its pid cannot be read",
                pid_file.display()
            );
        }
        return Ok(());
    };
    let signal = |name: &'static str| {
        tokio::process::Command::new("kill")
            .args([name, &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status()
    };
    let _ = signal("-TERM").await;
    let asked = Instant::now();
    // The pid file is let go before the catalog is closed: wait for the process itself.
    while held(&pid_file) || alive(pid) {
        if asked.elapsed() > STOP_TIMEOUT {
            let _ = signal("-KILL").await;
        }
        if asked.elapsed() > STOP_TIMEOUT * 2 {
            bail!("the daemon the TUI started (pid {pid}) does not stop");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// True while process `pid` runs (a zombie has let go of everything, so it counts as gone).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the command name, which is in parentheses.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// True while a daemon holds the pid file's lock.
fn held(pid_file: &Path) -> bool {
    std::fs::File::open(pid_file)
        .is_ok_and(|file| matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)))
}

fn median(samples: &[f64]) -> Option<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied()
}

fn verdict(value: Option<f64>, target: f64) -> &'static str {
    match value {
        Some(v) if v <= target => "ok",
        Some(_) => "MISSED",
        None => "-",
    }
}

fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"))
}

fn table(r: &Report) -> String {
    let mut out = format!(
        "hubdex TUI with a real daemon: {} records, {} rounds of {} typed queries and navigation\n\n",
        r.records,
        r.rounds,
        QUERIES.len()
    );
    out.push_str(&format!(
        "{:<9} {:<38} {:>6} {:>9} {:>9} {:>9}  {}\n",
        "size", "keys (ms)", "count", "p50", "p99", "max", "target p99 ≤ 16 ms"
    ));
    for ((width, height), keys) in &r.keys {
        for class in Class::ALL {
            let Some(stats) = keys.latencies.get(&class).and_then(|s| Stats::of(s)) else {
                continue;
            };
            let target = if class == Class::Results {
                "(daemon + IPC)"
            } else {
                verdict(Some(stats.p99), 16.0)
            };
            out.push_str(&format!(
                "{:<9} {:<38} {:>6} {:>9.2} {:>9.2} {:>9.2}  {}\n",
                format!("{width}x{height}"),
                class.label(),
                stats.count,
                stats.p50,
                stats.p99,
                stats.max,
                target
            ));
        }
    }
    for ((width, height), keys) in &r.keys {
        let named: Vec<String> = keys
            .slowest
            .iter()
            .map(|(ms, key)| format!("{ms:.1} ms {key}"))
            .collect();
        out.push_str(&format!(
            "slowest frames at {width}x{height}: {}\n",
            named.join("; ")
        ));
    }
    out.push_str(&format!(
        "\n{:<40} {:>6} {:>13} {:>13}  {}\n",
        "start-up in a pty, 80x24 (ms)", "runs", "first frame", "first results", "target"
    ));
    for (label, starts, target) in [
        ("daemon running", &r.running, 150.0),
        ("no daemon (the TUI starts it)", &r.autostart, 1000.0),
    ] {
        let frame = median(&starts.first_frame);
        out.push_str(&format!(
            "{:<40} {:>6} {:>13} {:>13}  ≤ {target} ms: {}\n",
            label,
            starts.first_frame.len(),
            cell(frame),
            cell(median(&starts.first_results)),
            verdict(frame, target)
        ));
    }
    out.push_str("(start-ups: medians)\n");
    out
}

fn report_json(r: &Report) -> serde_json::Value {
    let keys: Vec<serde_json::Value> = r
        .keys
        .iter()
        .map(|((width, height), keys)| {
            let mut classes = serde_json::Map::new();
            for (class, samples) in &keys.latencies {
                if let Some(stats) = Stats::of(samples) {
                    classes.insert(class.key().to_string(), stats.json());
                }
            }
            let slowest: Vec<serde_json::Value> = keys
                .slowest
                .iter()
                .map(|(ms, key)| json!({"ms": (ms * 1000.0).round() / 1000.0, "key": key}))
                .collect();
            json!({"width": width, "height": height, "latencies": classes, "slowest_frames": slowest})
        })
        .collect();
    let starts = |s: &Starts| {
        json!({
            "runs": s.first_frame.len(),
            "first_frame_median_ms": median(&s.first_frame),
            "first_results_median_ms": median(&s.first_results),
            "first_frame_ms": s.first_frame,
            "first_results_ms": s.first_results,
        })
    };
    json!({
        "records": r.records,
        "rounds": r.rounds,
        "queries": QUERIES,
        "keys": keys,
        "start_daemon_running": starts(&r.running),
        "start_autostart": starts(&r.autostart),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_dropped_and_text_kept() {
        let raw = b"\x1b[?1049h\x1b[1;1H\x1b[38;5;7m hubdex\x1b[0m \x1b]52;c;YQ==\x07Search\x1b[2;1H/ type";
        assert_eq!(visible_text(raw), "hubdexSearch/type");
    }

    #[test]
    fn the_results_count_is_recognised_and_other_text_is_not() {
        assert!(shows_results("1,000,000records200of1,000,000·12ms"));
        assert!(shows_results("3of3·0.5ms"));
        assert!(!shows_results("oneofmany·"));
        assert!(!shows_results("connecting…typetosearch"));
        assert!(!shows_results("200of1,000,000"));
    }

    #[test]
    fn a_running_process_is_alive_and_a_reaped_one_is_not() {
        assert!(alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!alive(pid));
    }

    #[test]
    fn a_home_keeps_its_config_and_remembers_the_fake_hubs_port() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        assert_eq!(prepare_home(&home).unwrap(), None);
        let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
        assert!(config.contains("import_snapshot = false"), "{config}");
        std::fs::write(home.join("config.toml"), "sync_pacing = true\n").unwrap();
        std::fs::write(home.join(PORT_FILE), "40533\n").unwrap();
        assert_eq!(prepare_home(&home).unwrap(), Some(40533));
        let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
        assert_eq!(config, "sync_pacing = true\n");
    }
}
