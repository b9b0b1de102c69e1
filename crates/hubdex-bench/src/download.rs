//! `hubdex-bench download`: how fast hubdex fills the Hugging Face cache, next to `curl -o`
//! and (when a python with it is found) `huggingface_hub`, from the same local fake Hub.
//!
//! * The fake Hub is the release `hubdex-fakehub --generated-repos`: one 1 GiB LFS file
//!   (`hubdex-bench/one-gib`) and 200 LFS files of 200,000 bytes (`hubdex-bench/two-hundred-files`),
//!   their bytes computed on the fly, LFS files redirected to its CDN route as the Hub does.
//! * Every run starts from an empty cache. hubdex runs as users run it: a `hubdex daemon`
//!   (started fresh for each run, on a home whose catalog holds the embedded snapshot) and
//!   `hubdex download ID --wait`. Its wall time is the CLI command's; its CPU is the daemon's
//!   CPU during the command plus the CLI's; its peak RSS is the daemon's high-water mark
//!   (`VmHWM`) over its whole life, catalog (sled + tantivy) included; the idle RSS after
//!   start is shown next to it.
//! * curl and python are measured with GNU time (`/usr/bin/time`): whole process, wall,
//!   max RSS and user+system CPU. python's own time for the call alone (without starting
//!   the interpreter and importing the library) is shown next to it.
//! * Every result is checked afterwards (sha256 of every file against the Hub's `lfs.oid`);
//!   the check is not timed.

use std::fmt::Write as _;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The generated repo with one 1 GiB file.
const LARGE_REPO: &str = hubdex_fakehub::BENCH_LARGE_FILE_REPO;
/// The path of that file.
const LARGE_FILE: &str = "data/blob.bin";
/// The generated repo with 200 files.
const MANY_REPO: &str = hubdex_fakehub::BENCH_MANY_FILES_REPO;
/// curl's transfers at once for the many-files case (hubdex's `jobs.files_per_job` default).
const CURL_PARALLEL: usize = 8;
/// Longest wait for the fake Hub to generate and hash its repos, or a daemon to listen.
const START_TIMEOUT: Duration = Duration::from_secs(180);
/// Longest wait for one download.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// GNU time, which reports a child's max RSS and CPU.
const GNU_TIME: &str = "/usr/bin/time";

/// Targets from issue 5.
const TARGET_LARGE_VS_CURL: f64 = 1.2;
const TARGET_LARGE_RSS_MIB: f64 = 64.0;
const TARGET_MANY_SECS: f64 = 0.6;

/// Arguments of `hubdex-bench download`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runs of each case per tool; the table shows the median of each measure.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=20))]
    runs: u16,
    /// A python that can import huggingface_hub (default: HUBDEX_PYTHON, else `python3` if
    /// it can); `none` leaves huggingface_hub out.
    #[arg(long, env = "HUBDEX_PYTHON")]
    python: Option<PathBuf>,
    /// The folder holding release builds of `hubdex` and `hubdex-fakehub` (default: this
    /// program's own folder, i.e. target/release).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Where the caches are written (about 1.1 GiB at a time; default: the temp folder).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Which cases to run.
    #[arg(long, value_delimiter = ',', default_values = ["large", "many"])]
    cases: Vec<CaseKind>,
    /// Which tools to run.
    #[arg(
        long,
        value_delimiter = ',',
        default_values = ["hubdex", "hubdex-ranges", "curl", "python"]
    )]
    tools: Vec<Tool>,
}

/// A benchmark case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CaseKind {
    /// One 1 GiB file.
    Large,
    /// A 200-file repo of 40 MB.
    Many,
}

/// A downloader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Tool {
    /// `hubdex download --wait` through a daemon, as configured by default.
    Hubdex,
    /// The same with `jobs.range_below_mib_per_sec = 0`: a large file always comes as
    /// parallel ranges, however fast one connection is.
    HubdexRanges,
    /// `curl -o` (8 transfers at once for many files).
    Curl,
    /// `huggingface_hub`'s `hf_hub_download` / `snapshot_download`.
    Python,
}

/// One file to fetch and its checksum.
struct Wanted {
    path: String,
    sha256: String,
    size: u64,
}

/// One measured run.
#[derive(Debug, Clone, Default)]
struct Sample {
    wall: Duration,
    rss_kib: u64,
    cpu: Duration,
    /// hubdex: the daemon's RSS once started; python: the call alone.
    aside: Option<f64>,
}

/// The medians of one tool's runs of one case.
struct Row {
    tool: String,
    median: Sample,
    note: String,
}

/// Processes and paths shared by every run.
struct Bench {
    hubdex: PathBuf,
    url: String,
    work: PathBuf,
    python: Option<(PathBuf, String)>,
    clock_ticks: f64,
    /// A hubdex home whose catalog holds the embedded snapshot; each run copies nothing from
    /// it but its data folder is reused, so the import happens once.
    home: PathBuf,
}

/// Runs the benchmark and prints its tables.
pub fn run(args: &Args) -> anyhow::Result<()> {
    ensure!(
        Path::new(GNU_TIME).is_file(),
        "{GNU_TIME} (GNU time) is needed to measure curl and python; install the `time` package"
    );
    let (hubdex, fakehub) = crate::search::procs::hubdex_binaries(args.bin_dir.as_deref())?;
    let work_parent = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&work_parent)
        .with_context(|| format!("cannot create {}", work_parent.display()))?;
    let work = tempfile::Builder::new()
        .prefix("hubdex-bench-download-")
        .tempdir_in(&work_parent)
        .with_context(|| format!("cannot create a folder in {}", work_parent.display()))?;
    let python = if args.tools.contains(&Tool::Python) {
        find_python(args.python.as_deref())
    } else {
        None
    };

    eprintln!("starting the fake Hub (it generates and hashes 1.04 GB first)…");
    let fake = FakeHub::start(&fakehub, work.path())?;
    let home = work.path().join("home");
    let bench = Bench {
        hubdex,
        url: fake.url.clone(),
        work: work.path().to_path_buf(),
        python,
        clock_ticks: clock_ticks(),
        home,
    };
    if args.tools.contains(&Tool::Hubdex) || args.tools.contains(&Tool::HubdexRanges) {
        eprintln!("preparing a hubdex home (importing the embedded catalog snapshot once)…");
        bench.prepare_home()?;
    }

    let mut report = String::new();
    let mut verdicts = Vec::new();
    for case in [CaseKind::Large, CaseKind::Many] {
        if !args.cases.contains(&case) {
            continue;
        }
        let (repo, wanted) = bench.wanted(case)?;
        let total: u64 = wanted.iter().map(|w| w.size).sum();
        let mut rows = Vec::new();
        for tool in [Tool::Hubdex, Tool::HubdexRanges, Tool::Curl, Tool::Python] {
            if !args.tools.contains(&tool) {
                continue;
            }
            if tool == Tool::Python && bench.python.is_none() {
                continue;
            }
            let mut samples = Vec::new();
            for run in 1..=args.runs {
                eprintln!("{case:?} / {tool:?}: run {run} of {}", args.runs);
                let dir = bench.work.join(format!("run-{case:?}-{tool:?}-{run}"));
                std::fs::create_dir_all(&dir)?;
                let sample = match tool {
                    Tool::Hubdex => bench.hubdex_run(&dir, case, repo, &wanted, None),
                    Tool::HubdexRanges => bench.hubdex_run(&dir, case, repo, &wanted, Some(0)),
                    Tool::Curl => bench.curl_run(&dir, repo, &wanted),
                    Tool::Python => bench.python_run(&dir, case, repo, &wanted),
                }
                .with_context(|| format!("{tool:?} on the {case:?} case, run {run}"))?;
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("cannot remove {}", dir.display()))?;
                samples.push(sample);
            }
            rows.push(bench.row(tool, case, &samples));
        }
        let title = match case {
            CaseKind::Large => format!("one 1 GiB file ({repo}, {LARGE_FILE})"),
            CaseKind::Many => format!(
                "{} files, {:.1} MB in all ({repo}, whole repo)",
                wanted.len(),
                total as f64 / 1e6
            ),
        };
        print_table(&mut report, &title, args.runs, &rows);
        verdicts.extend(verdict(case, &rows));
    }
    print!("{report}");
    if !verdicts.is_empty() {
        println!("targets (issue 5):");
        for line in verdicts {
            println!("  {line}");
        }
    }
    drop(fake);
    Ok(())
}

/// The python to run huggingface_hub with, and its version; `None` (said on stderr) when
/// there is none.
fn find_python(asked: Option<&Path>) -> Option<(PathBuf, String)> {
    if asked.is_some_and(|p| p.as_os_str() == "none") {
        return None;
    }
    let python = asked.map_or_else(|| PathBuf::from("python3"), Path::to_path_buf);
    let out = Command::new(&python)
        .args([
            "-c",
            "import huggingface_hub; print(huggingface_hub.__version__)",
        ])
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
            Some((python, version))
        }
        _ => {
            eprintln!(
                "huggingface_hub left out: {} cannot import it (pass --python PATH or set HUBDEX_PYTHON)",
                python.display()
            );
            None
        }
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` times.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// The fake Hub process, stopped when dropped.
struct FakeHub {
    child: Child,
    url: String,
}

impl FakeHub {
    fn start(bin: &Path, work: &Path) -> anyhow::Result<FakeHub> {
        let port_file = work.join("fakehub.port");
        let log = std::fs::File::create(work.join("fakehub.log"))?;
        let child = Command::new(bin)
            .args(["--generated-repos", "--rate-limit", "off", "--port-file"])
            .arg(&port_file)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let mut fake = FakeHub {
            child,
            url: String::new(),
        };
        let port = wait_until("the fake Hub to listen", START_TIMEOUT, || {
            if let Ok(Some(status)) = fake.child.try_wait() {
                bail!(
                    "the fake Hub exited ({status}): {}",
                    std::fs::read_to_string(work.join("fakehub.log")).unwrap_or_default()
                );
            }
            Ok(std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|t| t.trim().parse::<u16>().ok()))
        })?;
        fake.url = format!("http://127.0.0.1:{port}");
        Ok(fake)
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Asks a child to stop (SIGTERM), then kills it if it is still there after a few seconds.
fn stop(child: &mut Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Polls `probe` every 20 ms until it gives a value, fails, or `timeout` passes.
fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    let started = Instant::now();
    loop {
        if let Some(value) = probe()? {
            return Ok(value);
        }
        if started.elapsed() > timeout {
            bail!("gave up waiting for {what} after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What GNU time reported about one command.
struct Timed {
    wall: Duration,
    rss_kib: u64,
    cpu: Duration,
    stdout: String,
}

/// Runs `command` under GNU time and checks it succeeded.
fn timed(command: Command, dir: &Path) -> anyhow::Result<Timed> {
    let report = dir.join("time.txt");
    let program = command.get_program().to_os_string();
    let mut wrapped = Command::new(GNU_TIME);
    wrapped
        .args(["-f", "%M %U %S", "-o"])
        .arg(&report)
        .arg(&program)
        .args(command.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(cwd) = command.get_current_dir() {
        wrapped.current_dir(cwd);
    }
    let started = Instant::now();
    let mut child = wrapped
        .spawn()
        .with_context(|| format!("cannot run {}", program.to_string_lossy()))?;
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout)?;
    }
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut stderr)?;
    }
    let status = wait_with_timeout(&mut child, RUN_TIMEOUT)?;
    let wall = started.elapsed();
    ensure!(
        status.success(),
        "{} failed ({status}):\n{stderr}",
        program.to_string_lossy()
    );
    let text = std::fs::read_to_string(&report)?;
    let fields: Vec<&str> = text
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let [rss, user, system] = fields[..] else {
        bail!("GNU time wrote `{text}`, not `maxrss user system`");
    };
    let seconds = |s: &str| -> anyhow::Result<Duration> {
        Ok(Duration::from_secs_f64(s.parse::<f64>().with_context(
            || format!("GNU time wrote `{s}` for a CPU time"),
        )?))
    };
    Ok(Timed {
        wall,
        rss_kib: rss.parse().context("GNU time's max RSS")?,
        cpu: seconds(user)? + seconds(system)?,
        stdout,
    })
}

fn wait_with_timeout(
    child: &mut Child,
    timeout: Duration,
) -> anyhow::Result<std::process::ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            bail!("still running after {timeout:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `VmHWM` and `VmRSS` of a process, in KiB.
fn memory_kib(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    match (field("VmHWM:"), field("VmRSS:")) {
        (Some(hwm), Some(rss)) => Ok((hwm, rss)),
        _ => bail!("/proc/{pid}/status has no VmHWM or VmRSS"),
    }
}

/// User + system CPU of a live process so far.
fn cpu_of(pid: u32, ticks: f64) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at the last `)`.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("an unreadable /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after `)`.
    let tick = |i: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(i)
            .context("a short /proc stat")?
            .parse::<f64>()?)
    };
    Ok(Duration::from_secs_f64((tick(11)? + tick(12)?) / ticks))
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Checks every wanted file is under `root` (following links) with the right bytes.
fn verify(root: &Path, wanted: &[Wanted]) -> anyhow::Result<()> {
    for w in wanted {
        let path = root.join(&w.path);
        let size = std::fs::metadata(&path)
            .with_context(|| format!("{} is missing", path.display()))?
            .len();
        ensure!(
            size == w.size,
            "{} has {size} bytes, not {}",
            path.display(),
            w.size
        );
        let sha = sha256_file(&path)?;
        ensure!(
            sha == w.sha256,
            "{} has sha256 {sha}, not {}",
            path.display(),
            w.sha256
        );
    }
    Ok(())
}

/// The one snapshot folder of `repo` in an HF cache.
fn snapshot_of(cache: &Path, repo: &str) -> anyhow::Result<PathBuf> {
    let dir = cache
        .join(format!("datasets--{}", repo.replace('/', "--")))
        .join("snapshots");
    let mut found = std::fs::read_dir(&dir)
        .with_context(|| format!("{} is missing", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path());
    let first = found
        .next()
        .with_context(|| format!("{} is empty", dir.display()))?;
    ensure!(
        found.next().is_none(),
        "{} holds several snapshots",
        dir.display()
    );
    Ok(first)
}

impl Bench {
    /// The files of a case, from the fake Hub's tree.
    fn wanted(&self, case: CaseKind) -> anyhow::Result<(&'static str, Vec<Wanted>)> {
        let repo = match case {
            CaseKind::Large => LARGE_REPO,
            CaseKind::Many => MANY_REPO,
        };
        let url = format!("{}/api/datasets/{repo}/tree/main?recursive=true", self.url);
        let out = Command::new("curl")
            .args(["-sS", "-f", &url])
            .stdin(Stdio::null())
            .output()
            .context("cannot run curl")?;
        ensure!(
            out.status.success(),
            "curl {url} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let entries: Vec<Value> = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("{url} did not answer a JSON array"))?;
        let mut wanted: Vec<Wanted> = entries
            .iter()
            .filter(|e| e["type"] == "file")
            .filter_map(|e| {
                Some(Wanted {
                    path: e["path"].as_str()?.to_string(),
                    sha256: e["lfs"]["oid"].as_str()?.to_string(),
                    size: e["size"].as_u64()?,
                })
            })
            .collect();
        if case == CaseKind::Large {
            wanted.retain(|w| w.path == LARGE_FILE);
        }
        ensure!(
            !wanted.is_empty(),
            "{repo} has no LFS files; is the fake Hub started with --generated-repos?"
        );
        Ok((repo, wanted))
    }

    /// A `hubdex` command on the bench's home with `cache` as the HF cache.
    fn hubdex_command(&self, cache: &Path) -> Command {
        let mut cmd = Command::new(&self.hubdex);
        cmd.env("HUBDEX_HOME", &self.home)
            .env("HF_ENDPOINT", &self.url)
            .env("HF_HUB_CACHE", cache)
            .env("HUBDEX_LOG", "warn")
            .env_remove("HF_TOKEN")
            .env_remove("HUGGING_FACE_HUB_TOKEN")
            .env_remove("HF_HOME")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("HUBDEX_HTTP")
            .stdin(Stdio::null());
        cmd
    }

    /// Starts `hubdex daemon` and waits until its socket answers.
    fn start_daemon(&self, cache: &Path, log: &Path) -> anyhow::Result<Child> {
        let mut cmd = self.hubdex_command(cache);
        cmd.args(["daemon", "--http", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log)?);
        let mut child = cmd.spawn().context("cannot start `hubdex daemon`")?;
        let socket = self.home.join("hubdex.sock");
        let ready = wait_until("the daemon's socket", START_TIMEOUT, || {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "`hubdex daemon` exited ({status}): {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            Ok(UnixStream::connect(&socket).is_ok().then_some(()))
        });
        if let Err(e) = ready {
            stop(&mut child);
            return Err(e);
        }
        Ok(child)
    }

    /// Writes the daemon's config: no catalog sync, any free HTTP port, and
    /// `jobs.range_below_mib_per_sec` when given.
    fn write_config(&self, range_below: Option<u16>) -> anyhow::Result<()> {
        let mut config = "sync_on_start = false\nhttp = \"127.0.0.1:0\"\n".to_string();
        if let Some(rate) = range_below {
            let _ = write!(config, "[jobs]\nrange_below_mib_per_sec = {rate}\n");
        }
        std::fs::write(self.home.join("config.toml"), config)?;
        Ok(())
    }

    /// Creates the home and lets a first daemon import the embedded catalog snapshot.
    fn prepare_home(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.home)?;
        self.write_config(None)?;
        let cache = self.work.join("warm-up-cache");
        let mut daemon = self.start_daemon(&cache, &self.work.join("daemon-warm-up.log"))?;
        let status = self
            .hubdex_command(&cache)
            .args(["status", "--json"])
            .output();
        stop(&mut daemon);
        let status = status.context("cannot run `hubdex status`")?;
        ensure!(
            status.status.success(),
            "`hubdex status` failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        Ok(())
    }

    fn hubdex_run(
        &self,
        dir: &Path,
        case: CaseKind,
        repo: &str,
        wanted: &[Wanted],
        range_below: Option<u16>,
    ) -> anyhow::Result<Sample> {
        let cache = dir.join("cache");
        self.write_config(range_below)?;
        let mut daemon = self.start_daemon(&cache, &dir.join("daemon.log"))?;
        let measured = (|| -> anyhow::Result<Sample> {
            let pid = daemon.id();
            let (_, idle_kib) = memory_kib(pid)?;
            let cpu_before = cpu_of(pid, self.clock_ticks)?;
            let mut cli = self.hubdex_command(&cache);
            cli.args(["download", repo, "--wait", "--json"]);
            if case == CaseKind::Large {
                cli.args(["--include", LARGE_FILE]);
            }
            let run = timed(cli, dir)?;
            let cpu_after = cpu_of(pid, self.clock_ticks)?;
            let (peak_kib, _) = memory_kib(pid)?;
            let job: Value = serde_json::from_str(&run.stdout)
                .context("`hubdex download --json` printed no JSON")?;
            ensure!(
                job["state"] == "succeeded",
                "the job did not succeed: {job}"
            );
            Ok(Sample {
                wall: run.wall,
                rss_kib: peak_kib,
                cpu: cpu_after.saturating_sub(cpu_before) + run.cpu,
                aside: Some(idle_kib as f64 / 1024.0),
            })
        })();
        stop(&mut daemon);
        let sample = measured?;
        verify(&snapshot_of(&cache, repo)?, wanted)?;
        Ok(sample)
    }

    fn curl_run(&self, dir: &Path, repo: &str, wanted: &[Wanted]) -> anyhow::Result<Sample> {
        let out = dir.join("files");
        let mut config = String::new();
        for w in wanted {
            let _ = writeln!(
                config,
                "url = \"{}/datasets/{repo}/resolve/main/{}\"\noutput = \"{}\"",
                self.url,
                w.path,
                out.join(&w.path).display()
            );
        }
        let config_file = dir.join("curl.cfg");
        std::fs::write(&config_file, config)?;
        let mut curl = Command::new("curl");
        curl.args(["-sS", "-f", "-L", "--create-dirs"]);
        if wanted.len() > 1 {
            curl.args(["-Z", "--parallel-max", &CURL_PARALLEL.to_string()]);
        }
        curl.arg("-K").arg(&config_file);
        let run = timed(curl, dir)?;
        verify(&out, wanted)?;
        Ok(Sample {
            wall: run.wall,
            rss_kib: run.rss_kib,
            cpu: run.cpu,
            aside: None,
        })
    }

    fn python_run(
        &self,
        dir: &Path,
        case: CaseKind,
        repo: &str,
        wanted: &[Wanted],
    ) -> anyhow::Result<Sample> {
        const SCRIPT: &str = r#"
import json, sys, time
started = time.perf_counter()
from huggingface_hub import hf_hub_download, snapshot_download
imported = time.perf_counter()
repo, path = sys.argv[1], sys.argv[2]
if path:
    hf_hub_download(repo, path, repo_type="dataset")
else:
    snapshot_download(repo, repo_type="dataset")
print(json.dumps({"call": time.perf_counter() - imported}))
"#;
        let Some((python, _)) = &self.python else {
            bail!("no python with huggingface_hub");
        };
        let cache = dir.join("cache");
        let path = match case {
            CaseKind::Large => LARGE_FILE,
            CaseKind::Many => "",
        };
        let mut cmd = Command::new(python);
        cmd.args(["-c", SCRIPT, repo, path])
            .env("HF_ENDPOINT", &self.url)
            .env("HF_HUB_CACHE", &cache)
            .env("HF_HOME", dir.join("hf-home"))
            .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            .env("HF_HUB_DISABLE_TELEMETRY", "1")
            .env_remove("HF_TOKEN")
            .env_remove("HUGGING_FACE_HUB_TOKEN")
            .env_remove("HF_HUB_OFFLINE");
        let run = timed(cmd, dir)?;
        let printed: Value =
            serde_json::from_str(run.stdout.trim()).context("the python script printed no JSON")?;
        verify(&snapshot_of(&cache, repo)?, wanted)?;
        Ok(Sample {
            wall: run.wall,
            rss_kib: run.rss_kib,
            cpu: run.cpu,
            aside: printed["call"].as_f64(),
        })
    }

    fn row(&self, tool: Tool, case: CaseKind, samples: &[Sample]) -> Row {
        let median = median(samples);
        let (name, note) = match tool {
            Tool::Hubdex | Tool::HubdexRanges => (
                if tool == Tool::Hubdex {
                    "hubdex download --wait".to_string()
                } else {
                    "hubdex, always ranges".to_string()
                },
                format!(
                    "daemon peak RSS (idle after start {:.1} MiB, catalog included); CPU = daemon + CLI; sha256 verified",
                    median.aside.unwrap_or_default()
                ),
            ),
            Tool::Curl => (
                match case {
                    CaseKind::Large => "curl -o".to_string(),
                    CaseKind::Many => format!("curl -o -Z ({CURL_PARALLEL} at once)"),
                },
                "no verification, no cache layout".to_string(),
            ),
            Tool::Python => {
                let version = self.python.as_ref().map_or("", |(_, v)| v.as_str());
                (
                    format!(
                        "huggingface_hub {version} {}",
                        match case {
                            CaseKind::Large => "hf_hub_download",
                            CaseKind::Many => "snapshot_download",
                        }
                    ),
                    format!(
                        "whole process; the call alone {:.2} s",
                        median.aside.unwrap_or_default()
                    ),
                )
            }
        };
        Row {
            tool: name,
            median,
            note,
        }
    }
}

/// The median of each measure on its own.
fn median(samples: &[Sample]) -> Sample {
    fn mid<T: Copy + PartialOrd>(mut values: Vec<T>) -> Option<T> {
        values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        values.get(values.len() / 2).copied()
    }
    Sample {
        wall: mid(samples.iter().map(|s| s.wall).collect()).unwrap_or_default(),
        rss_kib: mid(samples.iter().map(|s| s.rss_kib).collect()).unwrap_or_default(),
        cpu: mid(samples.iter().map(|s| s.cpu).collect()).unwrap_or_default(),
        aside: mid(samples.iter().filter_map(|s| s.aside).collect()),
    }
}

fn print_table(out: &mut String, title: &str, runs: u16, rows: &[Row]) {
    let _ = writeln!(out, "\n{title}: median of {runs}, each from an empty cache");
    let width = rows.iter().map(|r| r.tool.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        out,
        "  {:<width$}  {:>8}  {:>10}  {:>8}  notes",
        "tool", "wall", "peak RSS", "CPU"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "  {:<width$}  {:>6.2} s  {:>6.1} MiB  {:>6.2} s  {}",
            row.tool,
            row.median.wall.as_secs_f64(),
            row.median.rss_kib as f64 / 1024.0,
            row.median.cpu.as_secs_f64(),
            row.note
        );
    }
}

/// Met / missed lines for a case's targets.
fn verdict(case: CaseKind, rows: &[Row]) -> Vec<String> {
    let find = |prefix: &str| rows.iter().find(|r| r.tool.starts_with(prefix));
    let Some(hubdex) = find("hubdex") else {
        return Vec::new();
    };
    let mark = |ok: bool| if ok { "met" } else { "MISSED" };
    let wall = hubdex.median.wall.as_secs_f64();
    match case {
        CaseKind::Large => {
            let mut lines = Vec::new();
            if let Some(curl) = find("curl") {
                let ratio = wall / curl.median.wall.as_secs_f64().max(1e-9);
                lines.push(format!(
                    "1 GiB within {TARGET_LARGE_VS_CURL}x curl: {ratio:.2}x ({})",
                    mark(ratio <= TARGET_LARGE_VS_CURL)
                ));
            }
            let rss = hubdex.median.rss_kib as f64 / 1024.0;
            lines.push(format!(
                "1 GiB with the daemon's peak RSS <= {TARGET_LARGE_RSS_MIB} MiB: {rss:.1} MiB ({})",
                mark(rss <= TARGET_LARGE_RSS_MIB)
            ));
            lines
        }
        CaseKind::Many => vec![format!(
            "200 files in <= {TARGET_MANY_SECS} s: {wall:.2} s ({})",
            mark(wall <= TARGET_MANY_SECS)
        )],
    }
}
