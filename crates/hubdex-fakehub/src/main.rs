//! `hubdex-fakehub`: serves a fake Hugging Face Hub on a local port, for hubdex's end-to-end
//! tests, benchmarks and demos. Point `HF_ENDPOINT` at the URL it logs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{ArgGroup, Parser};
use hubdex_fakehub::{FakeHub, FakeHubOptions, Mutation, RateLimits};
use tracing_subscriber::EnvFilter;

/// A faithful fake of the Hugging Face Hub's dataset catalog API.
#[derive(Debug, Parser)]
#[command(name = "hubdex-fakehub", version)]
#[command(group(
    ArgGroup::new("source")
        .required(true)
        .multiple(true)
        .args(["catalog", "synthetic", "repos", "generated_repos"])
))]
struct Args {
    /// Serve this catalog: Hub-format JSON lines, zstd-compressed or plain.
    #[arg(long, value_name = "FILE", conflicts_with = "synthetic")]
    catalog: Option<PathBuf>,
    /// Serve N generated records instead of a catalog file.
    #[arg(long, value_name = "N")]
    synthetic: Option<usize>,
    /// Seed of the generated records: the same N and seed give the same catalog.
    #[arg(long, value_name = "S", requires = "synthetic")]
    seed: Option<u64>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Once listening, write the port number to this file (atomically: temp file + rename).
    #[arg(long, value_name = "F")]
    port_file: Option<PathBuf>,
    /// Most items per listing page; larger `limit` values are capped to it.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = page_size)]
    page_size: usize,
    /// Log every request (method, path, status, time) to stderr.
    #[arg(long)]
    log: bool,
    /// Serve the files of the dataset repos in this folder: DIR/namespace/name/… is the
    /// `main` branch of namespace/name. Changes on disk become new commits.
    #[arg(long, value_name = "DIR")]
    repos: Option<PathBuf>,
    /// Also serve two generated benchmark repos (one 1 GiB file; 200 files of 200,000
    /// bytes); hashing them takes a few seconds at start.
    #[arg(long)]
    generated_repos: bool,
    /// Most entries per tree or commits page.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = page_size)]
    tree_page_size: usize,
    /// Serve LFS files straight from resolve instead of redirecting to the fake's CDN route.
    #[arg(long)]
    no_lfs_redirects: bool,
    /// Refuse `api` requests beyond N per window and client with 429 and Retry-After; `off`
    /// sends no rate-limit headers at all (for benchmarks). Without it the Hub's quotas are
    /// reported but never enforced.
    #[arg(long, value_name = "N|off", value_parser = rate_limit)]
    rate_limit: Option<RateLimitArg>,
    /// Length of the rate-limit window in seconds (the Hub's is 300).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 300,
        requires = "rate_limit"
    )]
    rate_limit_window: u64,
    /// Wait this many milliseconds before answering each `/api/` request.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
    /// Change the catalog every SECS seconds (see --mutate-batch), sending webhooks to
    /// targets registered with POST /_fakehub/webhook-target.
    #[arg(long, value_name = "SECS", value_parser = positive_seconds)]
    mutate_every: Option<f64>,
    /// What each scheduled change does.
    #[arg(
        long,
        value_name = "CHANGES",
        default_value = "created=10,updated=50,deleted=2,moved=0",
        value_parser = Mutation::parse,
        requires = "mutate_every"
    )]
    mutate_batch: Mutation,
}

/// The value of `--rate-limit`.
#[derive(Debug, Clone, Copy)]
enum RateLimitArg {
    Off,
    Quota(u64),
}

fn rate_limit(text: &str) -> Result<RateLimitArg, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(RateLimitArg::Off);
    }
    match text.parse::<u64>() {
        Ok(n) if n > 0 => Ok(RateLimitArg::Quota(n)),
        _ => Err(format!(
            "expected `off` or a whole number of at least 1, got `{text}`"
        )),
    }
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Ok(s),
        _ => Err(format!(
            "expected a number of seconds above 0, got `{text}`"
        )),
    }
}

fn page_size(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "expected a whole number of at least 1, got `{text}`"
        )),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("hubdex-fakehub: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole cause chain on one line, without a backtrace.
            eprintln!("hubdex-fakehub: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let options = FakeHubOptions {
        page_size: args.page_size,
        log_requests: args.log,
        tree_page_size: args.tree_page_size,
        lfs_redirects: !args.no_lfs_redirects,
    };
    let (catalog, synthetic, seed) = (args.catalog.clone(), args.synthetic, args.seed.unwrap_or(0));
    let started = std::time::Instant::now();
    let (repos_dir, generated) = (args.repos.clone(), args.generated_repos);
    let hub = tokio::task::spawn_blocking(move || -> Result<FakeHub> {
        let mut hub = match (catalog, synthetic) {
            (Some(path), _) => FakeHub::from_catalog_file(&path, options)?,
            (None, Some(count)) => FakeHub::synthetic(count, seed, options),
            (None, None) => FakeHub::from_records(Vec::new(), options),
        };
        if let Some(dir) = &repos_dir {
            hub.add_repos_dir(dir)?;
        }
        if generated {
            hub.add_benchmark_repos()?;
        }
        Ok(hub)
    })
    .await
    .context("loading the catalog panicked")??;
    let limits = match args.rate_limit {
        None => RateLimits::Reported,
        Some(RateLimitArg::Off) => RateLimits::Off,
        Some(RateLimitArg::Quota(quota)) => RateLimits::Enforced {
            quota,
            window_secs: args.rate_limit_window.max(1),
        },
    };
    let mut hub = hub
        .with_rate_limits(limits)
        .with_latency(Duration::from_millis(args.latency_ms));
    if let Some(every) = args.mutate_every {
        hub = hub.with_mutations_every(Duration::from_secs_f64(every), args.mutate_batch);
    }

    let records = hub.len();
    let repos = hub.repo_ids().len();
    // Freeing a large catalog record by record takes seconds; at exit the OS reclaims it at
    // once. This clone keeps the catalog alive past shutdown and is forgotten below.
    let catalog = hub.clone();
    let running = hub.spawn(args.addr).await?;
    tracing::info!(
        url = %running.url(),
        records,
        repos,
        ready_ms = started.elapsed().as_millis(),
        "serving a fake Hugging Face Hub; set HF_ENDPOINT to this URL"
    );
    if let Some(path) = &args.port_file {
        write_port_file(path, running.addr().port())
            .await
            .with_context(|| format!("cannot write the port file {}", path.display()))?;
    }

    shutdown_signal()
        .await
        .context("cannot listen for Ctrl-C / SIGTERM")?;
    tracing::info!("shutting down");
    if tokio::time::timeout(Duration::from_secs(5), running.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after 5 s; exiting anyway");
    }
    if let Some(path) = &args.port_file {
        let _ = tokio::fs::remove_file(path).await;
    }
    std::mem::forget(catalog);
    Ok(())
}

/// Writes the port next to its final place, then renames it there, so a reader never sees
/// a half-written file.
async fn write_port_file(path: &Path, port: u16) -> std::io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file")
    })?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    tokio::fs::write(&temp, port.to_string()).await?;
    tokio::fs::rename(&temp, path).await
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
