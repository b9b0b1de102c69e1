//! Where the binary's own log goes: a file while the TUI owns the terminal, stderr otherwise.
//! The level comes from `HUBDEX_LOG` (an `EnvFilter` directive such as `debug` or
//! `hubdex=trace`).

use std::fs::OpenOptions;
use std::io::{self, IsTerminal};
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// The variable that sets the log level.
const LOG_ENV: &str = "HUBDEX_LOG";

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new(default))
}

/// Logs to `path` (appending), at `default` level unless `HUBDEX_LOG` says otherwise.
pub fn to_file(path: &Path, default: &str) -> io::Result<()> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    tracing_subscriber::fmt()
        .with_env_filter(filter(default))
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .try_init()
        .map_err(io::Error::other)
}

/// Logs to stderr (coloured on a terminal), at `default` level unless `HUBDEX_LOG` says
/// otherwise.
pub fn to_stderr(default: &str) -> io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(filter(default))
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .try_init()
        .map_err(io::Error::other)
}
