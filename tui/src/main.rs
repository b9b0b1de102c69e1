//! `hubdex`: a terminal explorer for the Hugging Face Hub's dataset catalog.
//!
//! With no arguments it opens the TUI, starting the daemon in the background if none
//! answers; subcommands give scripts the same data, and `hubdex daemon` runs the daemon in
//! the foreground. Exit codes: 0 on success (a closed stdout pipe included), 1 on errors,
//! 2 on usage errors.

use std::io::{self, IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use hubdex::{commands, jobs, launcher, logging, ui};
use hubdex_core::{DatasetId, SortKey};
use hubdex_ipc::{
    DEFAULT_REVISION, DeleteParams, DownloadParams, HubdexClient, JobParams, JobRef, Paths,
    UpdateParams,
};

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
    /// Download a dataset's files into the Hugging Face cache (HF_HUB_CACHE), where
    /// `datasets` and `huggingface_hub` find them offline; verified, resumable, in the
    /// background.
    Download {
        /// The dataset id, e.g. openai/gsm8k.
        id: DatasetId,
        /// A branch, tag or commit.
        #[arg(short, long, default_value = DEFAULT_REVISION)]
        revision: String,
        /// Only files matching this glob (`*` also matches `/`); repeat for more.
        #[arg(long, value_name = "GLOB")]
        include: Vec<String>,
        /// No file matching this glob; repeat for more.
        #[arg(long, value_name = "GLOB")]
        exclude: Vec<String>,
        /// Fetch every file again, even those the cache has.
        #[arg(long)]
        force: bool,
        /// Show progress until the download ends; exit with 1 if it fails.
        #[arg(long)]
        wait: bool,
        /// Print the job as one JSON document (the finished job with --wait).
        #[arg(long)]
        json: bool,
    },
    /// Move a downloaded branch to its newest commit, fetching only the files that changed.
    Update {
        /// The dataset id.
        id: DatasetId,
        /// The branch or tag to update.
        #[arg(short, long, default_value = DEFAULT_REVISION)]
        revision: String,
        /// Show progress until the update ends; exit with 1 if it fails.
        #[arg(long)]
        wait: bool,
        /// Print the job as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Remove a downloaded revision of a dataset from the cache (blobs other revisions use
    /// are kept), or all of it.
    #[command(group = clap::ArgGroup::new("what").required(true).args(["revision", "all"]))]
    Delete {
        /// The dataset id.
        id: DatasetId,
        /// The branch, tag or commit to remove.
        #[arg(short, long)]
        revision: Option<String>,
        /// Remove every revision: the dataset's whole cache folder.
        #[arg(long)]
        all: bool,
        /// Wait until the removal is done; exit with 1 if it fails.
        #[arg(long)]
        wait: bool,
        /// Print the job as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// List the download, update and delete jobs.
    Jobs {
        /// Print the jobs as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a queued or running job (its partial files stay, to resume later).
    Cancel {
        /// The job number, as `hubdex jobs` shows it.
        job: JobRef,
        /// Print the job as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Follow a dataset: `hubdex follows` then reports what changes in it.
    Follow {
        /// The dataset id, e.g. openai/gsm8k.
        id: DatasetId,
    },
    /// Stop following a dataset.
    Unfollow {
        /// The dataset id.
        id: DatasetId,
    },
    /// List followed datasets and what changed in them since last seen, changed ones first.
    Follows {
        /// Then mark the changes shown as seen, so the next listing starts over.
        #[arg(long)]
        mark_seen: bool,
        /// Print the follows as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Print a dataset's card (its README, without the YAML front matter) as markdown;
    /// fetched from the Hub and kept, so it also works offline.
    Card {
        /// The dataset id.
        id: DatasetId,
    },
    /// List the files of a dataset revision: size, LFS, and a ✓ for those in the cache.
    Files {
        /// The dataset id.
        id: DatasetId,
        /// A branch, tag or commit.
        #[arg(short, long, default_value = DEFAULT_REVISION)]
        revision: String,
        /// Print the list as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Print the first rows of a dataset split as a table (long cells cut with …), from the
    /// cache when downloaded, else the dataset viewer, else a remote parquet file.
    Rows {
        /// The dataset id.
        id: DatasetId,
        /// The config (subset); the default one unless said.
        #[arg(short, long)]
        config: Option<String>,
        /// The split; `train` (else the first) unless said.
        #[arg(short, long)]
        split: Option<String>,
        /// How many rows, 1 to 100.
        #[arg(short = 'n', long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=100))]
        limit: u16,
        /// Print the rows, columns and source as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// List the newest commits of a dataset revision: commit, date, authors, title.
    Commits {
        /// The dataset id.
        id: DatasetId,
        /// A branch, tag or commit.
        #[arg(short, long, default_value = DEFAULT_REVISION)]
        revision: String,
        /// Print the list as one JSON document.
        #[arg(long)]
        json: bool,
    },
}

/// jemalloc serves the whole program, the daemon above all: it returns freed memory to the
/// system on its own (after a second, by a background thread) and allocates faster than
/// glibc on many threads. Its settings are in `.cargo/config.toml`.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    match run(Cli::parse()) {
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
        Cmd::Download {
            id,
            revision,
            include,
            exclude,
            force,
            wait,
            json,
        } => {
            let params = JobParams::Download(DownloadParams {
                dataset: id,
                revision,
                include,
                exclude,
                force,
            });
            let client = cli_client().await?;
            jobs::submit(&mut Output::stdout(), &client, params, wait, json).await
        }
        Cmd::Update {
            id,
            revision,
            wait,
            json,
        } => {
            let params = JobParams::Update(UpdateParams {
                dataset: id,
                revision,
            });
            let client = cli_client().await?;
            jobs::submit(&mut Output::stdout(), &client, params, wait, json).await
        }
        Cmd::Delete {
            id,
            revision,
            all,
            wait,
            json,
        } => {
            let params = JobParams::Delete(DeleteParams {
                dataset: id,
                revision,
                all,
            });
            let client = cli_client().await?;
            jobs::submit(&mut Output::stdout(), &client, params, wait, json).await
        }
        Cmd::Jobs { json } => {
            let client = cli_client().await?;
            jobs::list(&mut Output::stdout(), &client, json).await
        }
        Cmd::Cancel { job, json } => {
            let client = cli_client().await?;
            jobs::cancel(&mut Output::stdout(), &client, job.0, json).await
        }
        Cmd::Follow { id } => {
            let client = cli_client().await?;
            commands::follow(&mut Output::stdout(), &client, &id).await
        }
        Cmd::Unfollow { id } => {
            let client = cli_client().await?;
            commands::unfollow(&mut Output::stdout(), &client, &id).await
        }
        Cmd::Follows { mark_seen, json } => {
            let client = cli_client().await?;
            commands::follows(&mut Output::stdout(), &client, mark_seen, json).await
        }
        Cmd::Card { id } => {
            let client = cli_client().await?;
            commands::card(&mut Output::stdout(), &client, &id).await
        }
        Cmd::Files { id, revision, json } => {
            let client = cli_client().await?;
            commands::files(&mut Output::stdout(), &client, &id, &revision, json).await
        }
        Cmd::Rows {
            id,
            config,
            split,
            limit,
            json,
        } => {
            let request = hubdex_ipc::RowsRequest {
                dataset: id.to_string(),
                config,
                split,
                limit: usize::from(limit),
            };
            let client = cli_client().await?;
            commands::rows(&mut Output::stdout(), &client, request, json).await
        }
        Cmd::Commits { id, revision, json } => {
            let client = cli_client().await?;
            commands::commits(&mut Output::stdout(), &client, &id, &revision, json).await
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
    let settings = ui::load_settings(&paths.config_file)?;
    paths.create_dirs()?;
    let log = paths.data_dir.join("tui.log");
    logging::to_file(&log, "warn")
        .with_context(|| format!("cannot open the log file {}", log.display()))?;
    let client = launcher::ensure_daemon(&paths, Feedback::detect(false)).await?;
    ui::run(&paths.socket, client, settings).await
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
    fn job_commands_parse() {
        let cli = Cli::try_parse_from([
            "hubdex",
            "download",
            "openai/gsm8k",
            "--include",
            "*.parquet",
            "--include",
            "README.md",
            "--exclude",
            "test/*",
            "--wait",
        ])
        .unwrap();
        match cli.command {
            Some(Cmd::Download {
                id,
                revision,
                include,
                exclude,
                force,
                wait,
                json,
            }) => {
                assert_eq!(id.as_str(), "openai/gsm8k");
                assert_eq!(revision, "main");
                assert_eq!(include, ["*.parquet", "README.md"]);
                assert_eq!(exclude, ["test/*"]);
                assert!(wait && !force && !json);
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["hubdex", "cancel", "12"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Cmd::Cancel {
                job: JobRef(12),
                ..
            })
        ));
        let err = Cli::try_parse_from(["hubdex", "cancel", "twelve"]).unwrap_err();
        assert!(err.to_string().contains("hubdex jobs"), "{err}");
    }

    #[test]
    fn delete_needs_a_revision_or_all_but_not_both() {
        assert!(Cli::try_parse_from(["hubdex", "delete", "a/b", "--all"]).is_ok());
        assert!(Cli::try_parse_from(["hubdex", "delete", "a/b", "-r", "v1"]).is_ok());
        let neither = Cli::try_parse_from(["hubdex", "delete", "a/b"]).unwrap_err();
        assert_eq!(neither.kind(), ErrorKind::MissingRequiredArgument);
        let both =
            Cli::try_parse_from(["hubdex", "delete", "a/b", "-r", "v1", "--all"]).unwrap_err();
        assert_eq!(both.kind(), ErrorKind::ArgumentConflict);
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
