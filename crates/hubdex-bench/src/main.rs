//! `hubdex-bench`: benchmarks of hubdex that print one comparison table each.
//!
//! Run them in release mode, on demand; they are measurements, never tests:
//!
//! ```sh
//! cargo run --release -p hubdex-bench -- relevance
//! ```

mod relevance;

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
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Relevance(args) => relevance::run(&args),
    }
}
