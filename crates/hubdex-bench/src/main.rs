//! `hubdex-bench`: benchmarks of hubdex that print one comparison table each.
//!
//! Run them in release mode, on demand; they are measurements, never tests:
//!
//! ```sh
//! cargo run --release -p hubdex-bench -- relevance
//! cargo build --release -p hubdex -p hubdex-fakehub && cargo run --release -p hubdex-bench -- search --records 1000000
//! cargo build --release -p hubdex -p hubdex-fakehub && cargo run --release -p hubdex-bench -- tui
//! ```

mod download;
mod relevance;
mod search;
mod tui;

use clap::{Parser, Subcommand};

/// hubdex's benchmarks.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// One benchmark per subcommand.
#[derive(Debug, Subcommand)]
enum Command {
    /// Search quality on the real catalog: known-item and topical queries, against a
    /// baseline that imitates the Hub's id-substring search; and search latency.
    Relevance(relevance::Args),
    /// Download speed, memory and CPU: hubdex, `curl -o` and huggingface_hub fetching a
    /// 1 GiB file and a 200-file repo from a local fake Hub.
    Download(download::Args),
    /// hubdex at the Hub's scale: full and incremental sync, search latency over IPC and
    /// HTTP, HTTP throughput, memory and disk; `--peer redis` times the HSCAN design.
    Search(search::Args),
    /// The TUI against a real daemon at the Hub's scale: keystroke-to-frame latency at 80x24
    /// and 160x48, and start-up time to the first frame with and without a running daemon.
    Tui(tui::Args),
}

/// Runs a benchmark on a two-worker runtime (the machine's two cores) and prints its
/// report: as a table, or with `json` as one JSON document.
fn run_and_print<R>(
    bench: impl std::future::Future<Output = anyhow::Result<R>>,
    json: bool,
    report_json: fn(&R) -> serde_json::Value,
    table: fn(&R) -> String,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(bench)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report_json(&report))?);
    } else {
        print!("{}", table(&report));
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Relevance(args) => relevance::run(&args),
        Command::Download(args) => download::run(&args),
        Command::Search(args) => search::run(&args),
        Command::Tui(args) => tui::run(&args),
    }
}
