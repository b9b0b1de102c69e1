//! Reading a catalog file: Hub-format JSON lines, zstd-compressed or plain.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use hubdex_core::Dataset;

use crate::FakeHubError;

/// The first bytes of every zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// What reading a catalog file found.
pub(crate) struct Loaded {
    pub records: Vec<Dataset>,
    /// Lines that were not a Hub-format record.
    pub skipped: usize,
    /// The first skipped line's number and why it was skipped.
    pub first_problem: Option<String>,
}

/// Reads every record of a catalog. Blank lines are ignored; lines that are not a record are
/// skipped and counted; no record at all is an error, and so is a file that cannot be read
/// to the end (truncated or corrupt compression).
pub(crate) fn read_catalog(path: &Path) -> Result<Loaded, FakeHubError> {
    let file = File::open(path).map_err(|cause| FakeHubError::CatalogOpen {
        path: path.to_path_buf(),
        cause,
    })?;
    let read_error = |line: usize, cause| FakeHubError::CatalogRead {
        path: path.to_path_buf(),
        line,
        cause,
    };
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let compressed = reader
        .fill_buf()
        .map_err(|e| read_error(0, e))?
        .starts_with(&ZSTD_MAGIC);
    let mut reader: Box<dyn BufRead> = if compressed {
        let decoder = zstd::Decoder::with_buffer(reader).map_err(|e| read_error(0, e))?;
        Box::new(BufReader::with_capacity(1 << 16, decoder))
    } else {
        Box::new(reader)
    };

    let mut loaded = Loaded {
        records: Vec::new(),
        skipped: 0,
        first_problem: None,
    };
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        number += 1;
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| read_error(number, e))?;
        if read == 0 {
            break;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Dataset>(&line) {
            Ok(record) => loaded.records.push(record),
            Err(e) => {
                loaded.skipped += 1;
                loaded
                    .first_problem
                    .get_or_insert_with(|| format!("line {number}: {e}"));
            }
        }
    }
    if loaded.records.is_empty() {
        return Err(FakeHubError::EmptyCatalog {
            path: path.to_path_buf(),
            skipped: loaded.skipped,
            first_problem: loaded
                .first_problem
                .unwrap_or_else(|| "the file has no lines".into()),
        });
    }
    Ok(loaded)
}
