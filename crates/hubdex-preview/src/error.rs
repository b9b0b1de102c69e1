//! What can go wrong while previewing, worded so the user knows what to do next.

use std::path::PathBuf;

/// Why a preview could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// A local file could not be opened or read.
    #[error("cannot read {path}: {source}; check the file exists and is readable")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file's name does not say a format hubdex can read.
    #[error(
        "`{name}` is not a format hubdex can preview; it reads parquet, csv, tsv, jsonl and json files (optionally .gz or .zst compressed)"
    )]
    UnknownFormat {
        /// The file name.
        name: String,
    },
    /// A file claimed a format but its content does not follow it.
    #[error("{what} is not valid {format}: {reason}; the file may be damaged or mislabelled")]
    Malformed {
        /// The file (path or repo path).
        what: String,
        /// The format it was read as.
        format: &'static str,
        /// What the reader said.
        reason: String,
    },
    /// Reading this much would go past the preview's byte budget.
    #[error(
        "previewing {what} needs {needed} bytes, more than the {budget} bytes a preview may read; download the dataset (`hubdex download`) to preview it from the local cache"
    )]
    TooBig {
        /// What was being read.
        what: String,
        /// Bytes it would take.
        needed: u64,
        /// The budget.
        budget: u64,
    },
    /// The asked-for config or split does not exist in this source.
    #[error("{dataset} has no split `{config}/{split}` here; it has: {available}")]
    SplitNotFound {
        /// The dataset.
        dataset: String,
        /// The config asked for.
        config: String,
        /// The split asked for.
        split: String,
        /// The config/split pairs that exist, comma-separated.
        available: String,
    },
    /// The source holds no file hubdex can preview.
    #[error("{dataset} has no parquet, csv or json data file {place}; nothing to preview there")]
    NoDataFiles {
        /// The dataset.
        dataset: String,
        /// Where it looked (`in the local cache`, `on the Hub`).
        place: String,
    },
    /// The dataset viewer does not know the dataset, or may not show it without access.
    #[error(
        "the dataset viewer at {endpoint} does not show {dataset}: {message} (it may not exist, be private, or be gated: accept its conditions on the Hub and set HF_TOKEN)"
    )]
    ViewerNotFound {
        /// The viewer endpoint.
        endpoint: String,
        /// The dataset.
        dataset: String,
        /// The viewer's own words.
        message: String,
    },
    /// The dataset viewer has not computed this yet.
    #[error(
        "the dataset viewer at {endpoint} has no answer for {dataset} yet: {message}; retry in a minute"
    )]
    ViewerNotReady {
        /// The viewer endpoint.
        endpoint: String,
        /// The dataset.
        dataset: String,
        /// The viewer's own words.
        message: String,
    },
    /// The dataset viewer answered with another error.
    #[error("the dataset viewer at {endpoint} failed for {dataset} with HTTP {status}: {message}")]
    ViewerFailed {
        /// The viewer endpoint.
        endpoint: String,
        /// The dataset.
        dataset: String,
        /// The HTTP status.
        status: u16,
        /// The viewer's own words.
        message: String,
    },
    /// The dataset viewer could not be reached, or answered something that is not its JSON.
    #[error(
        "cannot use the dataset viewer at {endpoint}: {reason}; check the network, or set HUBDEX_VIEWER_ENDPOINT / `viewer_endpoint` in config.toml"
    )]
    ViewerUnreachable {
        /// The viewer endpoint.
        endpoint: String,
        /// What failed.
        reason: String,
    },
    /// A request to the Hub for a remote file failed.
    #[error(transparent)]
    Hub(#[from] hubdex_hub::HubError),
    /// The Hub answered a range request with other bytes than asked for.
    #[error(
        "the server sent bytes from offset {got} when {wanted} was asked for {what}; it does not honour range requests, so the file cannot be previewed remotely"
    )]
    RangeIgnored {
        /// The remote file.
        what: String,
        /// The offset asked for.
        wanted: u64,
        /// The offset the server started at.
        got: u64,
    },
}
