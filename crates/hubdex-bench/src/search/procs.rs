//! The processes a benchmark runs: the fake Hub, the daemon and Redis, each on 127.0.0.1,
//! each with its log in the run's temp dir; and what `/proc` and the disk say about them.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// How often start-up is polled.
const POLL: Duration = Duration::from_millis(50);

/// A child process that is stopped (SIGTERM, then SIGKILL) when the benchmark ends.
pub struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Starts `command` with stdout and stderr appended to `log`.
    fn spawn(name: &'static str, mut command: Command, log: &Path) -> anyhow::Result<Proc> {
        let out = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone()?;
        command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(Proc {
            name,
            child,
            log: log.to_path_buf(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> anyhow::Result<u32> {
        self.child
            .id()
            .with_context(|| format!("{} has exited", self.name))
    }

    /// An error if the process has exited, with the end of its log.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited ({status}); the end of its log ({}):\n{}",
                self.name,
                self.log.display(),
                log_tail(&self.log)
            );
        }
        Ok(())
    }

    /// Asks the process to stop with SIGTERM and waits up to `grace` before killing it.
    pub async fn stop(mut self, grace: Duration) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
            if tokio::time::timeout(grace, self.child.wait()).await.is_ok() {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}

/// The last lines of a log file, for error messages.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// `hubdex` and `hubdex-fakehub` in `bin_dir`, by default next to this executable (where
/// cargo puts the workspace's other binaries).
pub fn hubdex_binaries(bin_dir: Option<&Path>) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = match bin_dir {
        Some(dir) => dir.to_path_buf(),
        None => own_dir()?,
    };
    Ok((binary(&dir, "hubdex")?, binary(&dir, "hubdex-fakehub")?))
}

/// `name`, found in `dir`, or an error saying how to build it.
fn binary(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    if !path.is_file() {
        bail!(
            "{} is missing; build it next to hubdex-bench with `cargo build --release -p hubdex -p hubdex-fakehub` (or give --bin-dir)",
            path.display()
        );
    }
    Ok(path)
}

/// The folder of this executable.
fn own_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find hubdex-bench's own path")?;
    exe.parent()
        .map(Path::to_path_buf)
        .context("hubdex-bench's path has no folder")
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Starts the fake Hub with `records` synthetic records, no rate limits, and waits (up to
/// `timeout`) until it listens. Returns it and its address.
pub async fn start_fakehub(
    bin: &Path,
    dir: &Path,
    records: usize,
    seed: u64,
    timeout: Duration,
) -> anyhow::Result<(Proc, SocketAddr)> {
    start_fakehub_on(bin, dir, records, seed, 0, timeout).await
}

/// [`start_fakehub`] on 127.0.0.1:`port` (0: any free port). A daemon syncs in full from an
/// endpoint it has not synced from, so reusing a synced home needs the same port again.
pub async fn start_fakehub_on(
    bin: &Path,
    dir: &Path,
    records: usize,
    seed: u64,
    port: u16,
    timeout: Duration,
) -> anyhow::Result<(Proc, SocketAddr)> {
    let port_file = dir.join("fakehub.port");
    let mut command = Command::new(bin);
    command
        .arg("--synthetic")
        .arg(records.to_string())
        .arg("--seed")
        .arg(seed.to_string())
        .args(["--rate-limit", "off", "--addr"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--port-file")
        .arg(&port_file)
        .env("RUST_LOG", "warn");
    let mut proc = Proc::spawn("hubdex-fakehub", command, &dir.join("fakehub.log"))?;
    let started = Instant::now();
    loop {
        proc.check_alive()?;
        if let Ok(text) = std::fs::read_to_string(&port_file)
            && let Ok(port) = text.trim().parse::<u16>()
        {
            return Ok((proc, SocketAddr::from(([127, 0, 0, 1], port))));
        }
        if started.elapsed() > timeout {
            bail!("the fake Hub did not start within {} s", timeout.as_secs());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Starts `hubdex daemon` on `home` against the fake Hub at `hub`, serving HTTP on `http`,
/// logging at `HUBDEX_LOG` (default `info`).
pub fn start_daemon(
    bin: &Path,
    dir: &Path,
    home: &Path,
    hub: SocketAddr,
    http: SocketAddr,
) -> anyhow::Result<Proc> {
    let mut command = Command::new(bin);
    command
        .args(["daemon", "--http"])
        .arg(http.to_string())
        .env("HUBDEX_HOME", home)
        .env("HF_ENDPOINT", format!("http://{hub}"))
        .env("HF_HOME", dir.join("hf"))
        .env(
            "HUBDEX_LOG",
            std::env::var("HUBDEX_LOG").unwrap_or_else(|_| "info".to_string()),
        )
        .env_remove("HF_TOKEN")
        .env_remove("HF_HUB_CACHE")
        .env_remove("HUBDEX_HTTP");
    Proc::spawn("hubdex daemon", command, &dir.join("daemon.log"))
}

/// Starts `redis-server` on `port` with its files in `dir`, without persistence.
pub fn start_redis(bin: &Path, dir: &Path, port: u16) -> anyhow::Result<Proc> {
    let data = dir.join("redis");
    std::fs::create_dir_all(&data)?;
    let mut command = Command::new(bin);
    command
        .args(["--bind", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .arg("--dir")
        .arg(&data)
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ]);
    Proc::spawn("redis-server", command, &dir.join("redis.log"))
}

/// `name` on the `PATH`, if it is there.
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    })
}

/// Resident memory of a process, in bytes: now (`VmRSS`) and at its peak (`VmHWM`), and
/// what is resident now split by kind, because the two kinds cost differently: anonymous
/// memory (`RssAnon`: the heap, stacks) is the process's own, while file-backed pages
/// (`RssFile`: mapped index files, the binary) are the page cache's, which the kernel drops
/// and re-reads under memory pressure.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// Resident now.
    pub rss: u64,
    /// The high-water mark since the process started.
    pub peak: u64,
    /// Resident anonymous memory now.
    pub anon: u64,
    /// Resident file-backed pages now.
    pub file: u64,
}

/// Reads `/proc/PID/status`.
pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0)
            * 1024
    };
    Ok(Memory {
        rss: kib("VmRSS:"),
        peak: kib("VmHWM:"),
        anon: kib("RssAnon:"),
        file: kib("RssFile:"),
    })
}

/// The kernel's unit of the process times in `/proc/PID/stat` (`USER_HZ`): 100 in every
/// Linux ABI, whatever the kernel's own tick rate.
const USER_HZ: f64 = 100.0;

/// CPU time a process has used since it started, user and system, of all its threads (also
/// those that ended), in seconds. What a phase cost the machine: on shared cores its wall
/// time also counts whatever else ran.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces or parentheses; the
    // fields after its last `)` hold no spaces, from the state (field 3) on.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |field: usize| -> anyhow::Result<u64> {
        fields
            .get(field - 3)
            .and_then(|value| value.parse().ok())
            .with_context(|| format!("/proc/{pid}/stat has no field {field}: {stat:?}"))
    };
    let (user, system) = (ticks(14)?, ticks(15)?);
    Ok((user + system) as f64 / USER_HZ)
}

/// The disk space the files under `dir` take (allocated blocks, as `du` counts).
pub fn disk_usage(dir: &Path) -> anyhow::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
        {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                total += meta.blocks() * 512;
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_memory_is_read_from_proc() {
        let memory = memory(std::process::id()).unwrap();
        assert!(memory.rss > 0);
        assert!(memory.peak >= memory.rss);
        // The binary itself is a file-backed mapping, the heap anonymous.
        assert!(memory.anon > 0 && memory.file > 0);
        assert!(memory.anon + memory.file <= memory.rss + 4096);
    }

    #[test]
    fn cpu_time_grows_with_work_done() {
        let before = cpu_seconds(std::process::id()).unwrap();
        let mut sum = 0u64;
        // Work until the kernel has counted at least three ticks more, for at most 2^32 steps.
        for step in 0..(1u64 << 32) {
            sum = sum.wrapping_add(std::hint::black_box(step).wrapping_mul(step));
            if step % (1 << 20) == 0 && cpu_seconds(std::process::id()).unwrap() >= before + 0.03 {
                break;
            }
        }
        std::hint::black_box(sum);
        assert!(cpu_seconds(std::process::id()).unwrap() >= before + 0.03);
    }

    #[test]
    fn disk_usage_counts_files_in_subfolders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a"), vec![1u8; 10_000]).unwrap();
        assert!(disk_usage(dir.path()).unwrap() >= 10_000);
    }

    #[test]
    fn a_missing_binary_says_how_to_build_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = binary(dir.path(), "hubdex").unwrap_err().to_string();
        assert!(
            err.contains("cargo build --release -p hubdex -p hubdex-fakehub"),
            "{err}"
        );
    }
}
