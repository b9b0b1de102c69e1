//! The harness behind hubdex's end-to-end tests: real `hubdex-fakehub` and `hubdex daemon`
//! processes in a temporary `HUBDEX_HOME`, driven through the real CLI and HTTP.
//!
//! Binaries are built once per test run with the same cargo, profile and target dir as the
//! tests themselves, so `cargo test --workspace` is the only command needed.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any wait in the harness may take before the test fails with a diagnosis.
pub const PATIENCE: Duration = Duration::from_secs(180);

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The real catalog the fake Hub serves in tests (the same file hubdex embeds).
pub fn catalog_fixture() -> PathBuf {
    repo_root().join("assets/catalog-snapshot.jsonl.zst")
}

/// Path of a workspace binary, building `hubdex` and `hubdex-fakehub` on first use.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT.get_or_init(build_bins);
    match dir {
        Ok(dir) => dir.join(name),
        Err(e) => panic!("cannot build the binaries under test: {e}"),
    }
}

fn build_bins() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/deps/e2e-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("unexpected test binary location")?
        .to_path_buf();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    // The same targets as `cargo test --workspace`, so cargo resolves the same features and
    // reuses every dependency the test build compiled: only the binaries themselves are
    // new. Building just `-p hubdex -p hubdex-fakehub` resolved other features and compiled
    // much of the dependency tree a second time: 9 minutes of a CI run from nothing, 18 on
    // a busy machine, all inside the first end-to-end test binary to run.
    cmd.current_dir(repo_root())
        .args(["build", "--quiet", "--workspace", "--bins", "--tests"]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build failed: {status}"));
    }
    Ok(profile_dir)
}

/// Polls `probe` every 100 ms until it yields a value, failing after [`PATIENCE`] with `what`.
pub fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `hubdex-fakehub` process.
pub struct FakeHubProcess {
    _child: Killed,
    /// Its base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl FakeHubProcess {
    /// Starts a fake Hub serving the real catalog fixture with `args` added.
    pub fn start(args: &[&str]) -> FakeHubProcess {
        let catalog = catalog_fixture();
        let source = [OsStr::new("--catalog"), catalog.as_os_str()];
        FakeHubProcess::spawn(&source, args)
    }

    /// Starts a fake Hub serving the dataset repos under `repos` (`repos/ns/name/…` is the
    /// `main` branch of `ns/name`) and a small generated catalog, with `args` added.
    pub fn start_with_repos(repos: &Path, args: &[&str]) -> FakeHubProcess {
        let source = [
            OsStr::new("--synthetic"),
            OsStr::new("20"),
            OsStr::new("--seed"),
            OsStr::new("1"),
            OsStr::new("--repos"),
            repos.as_os_str(),
        ];
        FakeHubProcess::spawn(&source, args)
    }

    /// Starts a fake Hub serving `count` generated records (the same for the same `seed`)
    /// with `args` added.
    pub fn start_synthetic(count: usize, seed: u64, args: &[&str]) -> FakeHubProcess {
        let (count, seed) = (count.to_string(), seed.to_string());
        let source = [
            OsStr::new("--synthetic"),
            OsStr::new(&count),
            OsStr::new("--seed"),
            OsStr::new(&seed),
        ];
        FakeHubProcess::spawn(&source, args)
    }

    fn spawn(source: &[&OsStr], args: &[&str]) -> FakeHubProcess {
        let dir = tempfile::tempdir().expect("temp dir");
        let port_file = dir.path().join("port");
        let log = std::fs::File::create(dir.path().join("fakehub.log")).expect("log file");
        let child = Command::new(bin("hubdex-fakehub"))
            .args(source)
            .args(["--addr", "127.0.0.1:0", "--port-file"])
            .arg(&port_file)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start hubdex-fakehub");
        let child = Killed(child);
        let port = wait_for("the fake Hub's port file", || {
            std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.trim().parse::<u16>().ok())
        });
        FakeHubProcess {
            _child: child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

/// A temporary `HUBDEX_HOME` with the environment a test daemon and CLI run in. The daemon
/// is started the way users start it, by the CLI's auto-start, and stopped when dropped.
pub struct Home {
    dir: tempfile::TempDir,
    endpoint: String,
}

impl Home {
    /// A fresh home whose daemon syncs from `endpoint`.
    pub fn new(endpoint: &str) -> Home {
        Home {
            dir: tempfile::tempdir().expect("temp dir"),
            endpoint: endpoint.to_string(),
        }
    }

    /// The home folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A `hubdex` command with this home's environment (no token, no user config).
    pub fn hubdex(&self) -> Command {
        let mut cmd = Command::new(bin("hubdex"));
        cmd.env("HUBDEX_HOME", self.path())
            .env("HF_ENDPOINT", &self.endpoint)
            .env("HF_HOME", self.path().join("hf"))
            .env("HUBDEX_HTTP", "127.0.0.1:0")
            .env("HUBDEX_LOG", "info")
            .env_remove("HF_TOKEN")
            .env_remove("HUGGING_FACE_HUB_TOKEN")
            .env_remove("HF_HUB_CACHE")
            .env_remove("XDG_RUNTIME_DIR")
            .stdin(Stdio::null());
        cmd
    }

    /// The Hugging Face cache the daemon downloads into (`HF_HOME` is `<home>/hf`).
    pub fn hf_cache(&self) -> PathBuf {
        self.path().join("hf").join("hub")
    }

    /// Writes the daemon's `config.toml` (before the daemon starts).
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.path().join("config.toml"), text).expect("write config.toml");
    }

    /// Kills the daemon with SIGKILL, as a crash would, and waits until it is gone.
    pub fn kill_daemon_hard(&self) {
        let pid = wait_for("the daemon's pid file", || self.daemon_pid());
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        wait_for("the killed daemon to be gone", || {
            (!alive(pid)).then_some(())
        });
    }

    /// The daemon's log (written by the auto-started daemon), for failure messages.
    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.path().join("data/daemon.log")).unwrap_or_default()
    }

    /// The pid the running daemon wrote into its lock file.
    pub fn daemon_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.path().join("daemon.pid"))
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// Runs `hubdex ARGS` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.hubdex().args(args).output().expect("run hubdex")
    }

    /// Runs `hubdex ARGS --json` and parses stdout, failing with stderr on a non-zero exit.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self
            .hubdex()
            .args(args)
            .arg("--json")
            .output()
            .expect("run hubdex");
        assert!(
            out.status.success(),
            "hubdex {args:?} failed: {}\n--- daemon log ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.daemon_log()
        );
        serde_json::from_slice(&out.stdout).expect("hubdex printed JSON")
    }

    /// Waits until the last sync has finished (well or not) and returns the status then.
    pub fn wait_for_sync(&self) -> Value {
        wait_for("a finished sync", || {
            Some(self.json(&["status"]))
                .filter(|s| s["last_sync"].is_object() && s["syncing"].is_null())
        })
    }

    /// The daemon's HTTP base URL, from its status.
    pub fn http_url(&self) -> String {
        let status = self.json(&["status"]);
        let addr = status["http"]
            .as_str()
            .expect("the daemon listens for HTTP");
        format!("http://{addr}")
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let Some(pid) = self.daemon_pid() else { return };
        let _ = Command::new("kill").arg(pid.to_string()).status();
        let start = Instant::now();
        while alive(pid) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
}

/// The Python that runs the `huggingface_hub` interoperability checks: `HUBDEX_PYTHON`
/// (which `.ci/run` points at a venv with a pinned `huggingface_hub`), else `python3`, if it
/// can import `huggingface_hub`. Otherwise `None`, after printing that `test` is skipped and
/// how to run it: such tests are never skipped silently.
pub fn python_with_huggingface_hub(test: &str) -> Option<PathBuf> {
    let python = std::env::var_os("HUBDEX_PYTHON")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    let check = Command::new(&python)
        .args([
            "-c",
            "import huggingface_hub; print(huggingface_hub.__version__)",
        ])
        .stdin(Stdio::null())
        .output();
    match check {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout);
            eprintln!(
                "{test}: using huggingface_hub {} from {}",
                version.trim(),
                python.display()
            );
            Some(python)
        }
        _ => {
            eprintln!(
                "SKIPPED {test}: {} cannot import huggingface_hub; run .ci/run (it installs a pinned copy), or `pip install huggingface_hub` and set HUBDEX_PYTHON to that python",
                python.display()
            );
            None
        }
    }
}

/// True while `pid` runs (a zombie waiting to be reaped counts as gone).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
            !matches!(state, Some(Some('Z')))
        })
        .unwrap_or(false)
}
