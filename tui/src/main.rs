//! `hubdex`: a terminal explorer for the Hugging Face Hub's dataset catalog.
//!
//! With no arguments it opens the TUI, starting the daemon in the background if none
//! answers; subcommands give scripts the same data, and `hubdex daemon` runs the daemon in
//! the foreground. Exit codes: 0 on success (a closed stdout pipe included), 1 on errors,
//! 2 on usage errors.

mod commands;
#[cfg(test)]
mod fakedaemon;
mod format;
mod launcher;
mod logging;
mod ui;

use std::io::{self, IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use hubdex_core::{DatasetId, SortKey};
use hubdex_ipc::{HubdexClient, Paths};

use commands::Output;
use launcher::Feedback;

/// A terminal explorer for the Hugging Face Hub's dataset catalog.
///
/// Run without a command to open the interface. A background daemon keeps the catalog in a
/// local index, synced with the Hub, so search is instant and works offline; it is started
/// when needed. HUBDEX_HOME moves all of hubdex's state into one folder; HUBDEX_LOG sets the
/// log level (e.g. debug).
#[derive(Debug, Parser)]
#[command(name = "hubdex", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the daemon in the foreground (for systemd, containers and debugging).
    Daemon {
        /// Serve HTTP on this address (default 127.0.0.1:8719, or HUBDEX_HTTP).
        #[arg(long, value_name = "ADDR")]
        http: Option<SocketAddr>,
        /// Rebuild the search index from the stored catalog before serving.
        #[arg(long)]
        reindex: bool,
    },
    /// Search the local catalog (free text and author:NAME).
    Search {
        /// The query; several words are joined. Without one, the most downloaded datasets.
        #[arg(value_name = "QUERY")]
        query: Vec<String>,
        /// How many hits to print.
        #[arg(short = 'n', long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=1000))]
        limit: u16,
        /// Order: relevance, downloads, likes, updated, created or trending.
        #[arg(long, value_name = "KEY")]
        sort: Option<SortKey>,
        /// Print the whole response as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Show one dataset: author, licence, tags, counts, dates, description, Hub URL.
    Show {
        /// The dataset id, e.g. openai/gsm8k.
        id: DatasetId,
        /// Print the record as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Show the catalog and sync state of the daemon.
    Status {
        /// Print the status as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Sync the catalog with the Hub now.
    Sync {
        /// Follow the sync until it ends; exit with 1 if it fails.
        #[arg(long)]
        wait: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(io::stderr(), "hubdex: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// True when the error is a write to a closed pipe (`hubdex search x | head -1`), which
/// is not a failure.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(dispatch(cli));
    // A start-up lock still being waited for must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let Some(command) = cli.command else {
        return tui().await;
    };
    match command {
        Cmd::Daemon { http, reindex } => daemon(http, reindex).await,
        Cmd::Search {
            query,
            limit,
            sort,
            json,
        } => {
            let request = commands::search_request(&query, sort, usize::from(limit));
            let client = cli_client().await?;
            commands::search(&mut Output::stdout(), &client, request, json).await
        }
        Cmd::Show { id, json } => {
            let client = cli_client().await?;
            commands::show(&mut Output::stdout(), &client, &id, json).await
        }
        Cmd::Status { json } => {
            let client = cli_client().await?;
            commands::status(&mut Output::stdout(), &client, json).await
        }
        Cmd::Sync { wait } => {
            let client = cli_client().await?;
            commands::sync(&mut Output::stdout(), &client, wait).await
        }
    }
}

/// A client for a subcommand, starting the daemon if needed (with a spinner only when both
/// stdout and stderr are terminals).
async fn cli_client() -> anyhow::Result<HubdexClient> {
    let _ = logging::to_stderr("warn");
    let paths = Paths::from_env()?;
    Ok(launcher::ensure_daemon(&paths, Feedback::detect(true)).await?)
}

async fn tui() -> anyhow::Result<()> {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        anyhow::bail!(
            "the interface needs a terminal; in scripts use a command such as \
             `hubdex search QUERY` (see `hubdex --help`)"
        );
    }
    let paths = Paths::from_env()?;
    paths.create_dirs()?;
    let log = paths.data_dir.join("tui.log");
    logging::to_file(&log, "warn")
        .with_context(|| format!("cannot open the log file {}", log.display()))?;
    let client = launcher::ensure_daemon(&paths, Feedback::detect(false)).await?;
    ui::run(&paths.socket, client).await
}

async fn daemon(http: Option<SocketAddr>, reindex: bool) -> anyhow::Result<()> {
    let _ = logging::to_stderr("info");
    hubdex_daemon::run(hubdex_daemon::DaemonOptions { http, reindex }).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommands_parse() {
        let cli = Cli::try_parse_from([
            "hubdex", "search", "math", "word", "--limit", "5", "--sort", "likes", "--json",
        ])
        .unwrap();
        match cli.command {
            Some(Cmd::Search {
                query,
                limit,
                sort,
                json,
            }) => {
                assert_eq!(query, ["math", "word"]);
                assert_eq!(limit, 5);
                assert_eq!(sort, Some(SortKey::Likes));
                assert!(json);
            }
            other => panic!("{other:?}"),
        }
        let cli =
            Cli::try_parse_from(["hubdex", "daemon", "--http", "127.0.0.1:9000", "--reindex"])
                .unwrap();
        assert!(matches!(
            cli.command,
            Some(Cmd::Daemon {
                http: Some(_),
                reindex: true
            })
        ));
        assert!(Cli::try_parse_from(["hubdex"]).unwrap().command.is_none());
    }

    #[test]
    fn bad_input_is_a_usage_error_that_says_what_to_write() {
        let err = Cli::try_parse_from(["hubdex", "show", "a/b/c"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueValidation);
        assert!(err.to_string().contains("namespace/name"), "{err}");
        let err = Cli::try_parse_from(["hubdex", "search", "x", "--sort", "stars"]).unwrap_err();
        assert!(err.to_string().contains("relevance"), "{err}");
        let err = Cli::try_parse_from(["hubdex", "search", "x", "--limit", "0"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueValidation);
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn a_closed_pipe_is_not_an_error() {
        let pipe =
            anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("writing");
        assert!(is_broken_pipe(&pipe));
        let other = anyhow::Error::new(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(!is_broken_pipe(&other));
    }
}
