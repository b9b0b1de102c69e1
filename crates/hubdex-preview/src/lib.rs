//! First rows and schema of a dataset, from the best source at hand, without downloading it.
//!
//! * [`read_file`] / [`read_bytes`]: a local parquet, csv, tsv, jsonl or json file
//!   (optionally `.gz` or `.zst`), reading only what the first rows need: parquet through its
//!   footer and first pages, text formats as a stream that stops after the last row wanted.
//! * [`Viewer`]: the dataset-viewer API (`/splits`, `/first-rows`).
//! * [`read_remote_parquet`]: a parquet file on the Hub read with range requests (its footer,
//!   then its first row group), within a byte budget.
//!
//! [`data_files`], [`splits`] and [`choose`] say which config and split each file of a
//! repo belongs to and which to show. Values come out as JSON and column types in words
//! (`string`, `int64`, `list<float32>`, `struct<…>`, `image`); long cells are left whole for
//! the client to truncate.

mod dtype;
mod error;
mod format;
mod layout;
mod parquet_rows;
mod remote;
mod text;
mod values;
mod viewer;

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::Path;

use bytes::Bytes;

pub use dtype::{arrow_dtype, feature_dtype};
pub use error::PreviewError;
pub use format::{Compression, Format, detect};
pub use layout::{DataFile, choose, data_files, splits};
pub use remote::{
    DEFAULT_BUDGET, HubFile, RangeRead, RemoteTable, read_parquet as read_remote_parquet,
};
pub use viewer::{DEFAULT_ENDPOINT, Viewer};

/// The first rows of a split and its columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// The rows, each with one value per column.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// True when the source has more rows than returned.
    pub truncated: bool,
}

/// A column's name and type in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column name.
    pub name: String,
    /// Its type in words (`string`, `int64`, `list<float32>`, `struct<…>`, `image`).
    pub dtype: String,
}

/// The first `limit` rows of a local data file, its format taken from its name.
///
/// Blocking file I/O and decoding: call it from `spawn_blocking` in async code.
pub fn read_file(path: &Path, limit: usize) -> Result<Table, PreviewError> {
    let name = path.to_string_lossy();
    let (format, compression) = detect(&name).ok_or_else(|| PreviewError::UnknownFormat {
        name: name.to_string(),
    })?;
    let file = File::open(path).map_err(|source| PreviewError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    match format {
        Format::Parquet => parquet_rows::read(file, None, false, limit, &name),
        _ => read_text(format, compression, file, limit, &name),
    }
}

/// The first `limit` rows of a data file held in memory; `name` (its path) says the format.
pub fn read_bytes(name: &str, bytes: Bytes, limit: usize) -> Result<Table, PreviewError> {
    let (format, compression) = detect(name).ok_or_else(|| PreviewError::UnknownFormat {
        name: name.to_string(),
    })?;
    match format {
        Format::Parquet => parquet_rows::read(bytes, None, false, limit, name),
        _ => read_text(format, compression, Cursor::new(bytes), limit, name),
    }
}

fn read_text(
    format: Format,
    compression: Compression,
    input: impl Read,
    limit: usize,
    what: &str,
) -> Result<Table, PreviewError> {
    match compression {
        Compression::None => text::read(format, input, limit, what),
        Compression::Gzip => text::read(
            format,
            flate2::read::MultiGzDecoder::new(input),
            limit,
            what,
        ),
        Compression::Zstd => {
            let decoder =
                zstd::stream::read::Decoder::new(input).map_err(|e| PreviewError::Malformed {
                    what: what.to_string(),
                    format: "zstd",
                    reason: e.to_string(),
                })?;
            text::read(format, decoder, limit, what)
        }
    }
}
