//! First rows of a parquet file on the Hub without downloading it: the footer, then the first
//! row group's bytes, each with one range request, within a byte budget.

use std::future::Future;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;
use hubdex_core::DatasetId;
use hubdex_hub::{FileMetadata, HubClient};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::reader::{ChunkReader, Length};

use crate::{PreviewError, Table, parquet_rows};

/// The most bytes a remote preview reads unless told otherwise (footer and first row group).
pub const DEFAULT_BUDGET: u64 = 64 * 1024 * 1024;

/// The tail fetched first: the footer of most files fits in it, so one request usually does.
const FIRST_TAIL: u64 = 64 * 1024;

/// A remote file that can be read by byte ranges.
pub trait RangeRead: Send + Sync {
    /// The file's size in bytes.
    fn size(&self) -> u64;
    /// The file in messages (its repo path).
    fn describe(&self) -> String;
    /// Exactly the bytes `start..start + len`.
    fn read_range(
        &self,
        start: u64,
        len: u64,
    ) -> impl Future<Output = Result<Bytes, PreviewError>> + Send;
}

/// A file of a dataset repo on the Hub, read through [`HubClient`] (its token, retries and
/// LFS redirects).
pub struct HubFile {
    hub: HubClient,
    meta: FileMetadata,
    path: String,
}

impl HubFile {
    /// Probes `path` at `revision` (one `HEAD`): its size and where its bytes are.
    pub async fn open(
        hub: &HubClient,
        id: &DatasetId,
        revision: &str,
        path: &str,
    ) -> Result<HubFile, PreviewError> {
        let meta = hub.file_metadata(id, revision, path).await?;
        Ok(HubFile {
            hub: hub.clone(),
            meta,
            path: path.to_string(),
        })
    }

    /// The commit the revision resolved to.
    pub fn commit(&self) -> &str {
        &self.meta.commit
    }
}

impl RangeRead for HubFile {
    fn size(&self) -> u64 {
        self.meta.size
    }

    fn describe(&self) -> String {
        self.path.clone()
    }

    async fn read_range(&self, start: u64, len: u64) -> Result<Bytes, PreviewError> {
        let download = self.hub.download(&self.meta, start).await?;
        if download.start != start {
            return Err(PreviewError::RangeIgnored {
                what: self.path.clone(),
                wanted: start,
                got: download.start,
            });
        }
        let want = usize::try_from(len).unwrap_or(usize::MAX);
        let mut out = BytesMut::with_capacity(want.min(16 * 1024 * 1024));
        let mut body = download.body;
        while out.len() < want {
            match body.next().await {
                Some(chunk) => {
                    let chunk = chunk?;
                    let take = chunk.len().min(want - out.len());
                    out.extend_from_slice(&chunk[..take]);
                }
                None => break,
            }
        }
        Ok(out.freeze())
    }
}

/// Rows read from a remote parquet file, and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteTable {
    /// The first rows and schema.
    pub table: Table,
    /// Bytes fetched (footer and first row group).
    pub bytes_read: u64,
}

/// The first `limit` rows of a remote parquet file, reading its footer and then only its
/// first row group, and at most `budget` bytes in all ([`PreviewError::TooBig`] otherwise).
pub async fn read_parquet(
    file: &impl RangeRead,
    limit: usize,
    budget: u64,
) -> Result<RemoteTable, PreviewError> {
    let what = file.describe();
    let size = file.size();
    let not_parquet = |reason: String| PreviewError::Malformed {
        what: what.clone(),
        format: "parquet",
        reason,
    };
    if size < 12 {
        return Err(not_parquet(format!("it is only {size} bytes long")));
    }
    let mut bytes_read = 0;
    let tail_len = FIRST_TAIL.min(size).min(budget);
    let mut tail = file.read_range(size - tail_len, tail_len).await?;
    bytes_read += tail.len() as u64;
    let n = tail.len();
    if n < 8 || &tail[n - 4..] != b"PAR1" {
        return Err(not_parquet("it does not end with the PAR1 magic".into()));
    }
    let footer_len = u64::from(u32::from_le_bytes([
        tail[n - 8],
        tail[n - 7],
        tail[n - 6],
        tail[n - 5],
    ]));
    if footer_len + 8 > size {
        return Err(not_parquet(format!(
            "its footer claims {footer_len} bytes in a file of {size}"
        )));
    }
    if footer_len + 8 > n as u64 {
        let needed = bytes_read + footer_len + 8;
        if needed > budget {
            return Err(too_big(&what, needed, budget));
        }
        tail = file
            .read_range(size - footer_len - 8, footer_len + 8)
            .await?;
        bytes_read += tail.len() as u64;
    }
    let n = tail.len();
    let footer_start = n
        .checked_sub(usize::try_from(footer_len).unwrap_or(usize::MAX) + 8)
        .ok_or_else(|| not_parquet("the server sent fewer footer bytes than asked".into()))?;
    let metadata = ParquetMetaDataReader::decode_metadata(&tail[footer_start..n - 8])
        .map_err(|e| not_parquet(e.to_string()))?;
    let mut pieces = vec![(size - n as u64, tail)];
    // A row group inside the tail already fetched (small files) costs no second request.
    if let Some(group) = metadata.row_groups().first() {
        let (mut start, mut end) = (u64::MAX, 0u64);
        for column in group.columns() {
            let (s, len) = column.byte_range();
            start = start.min(s);
            end = end.max(s + len);
        }
        let tail_start = size - n as u64;
        if end > start && start < tail_start {
            let len = end - start;
            if bytes_read + len > budget {
                return Err(too_big(&what, bytes_read + len, budget));
            }
            if end > size {
                return Err(not_parquet(format!(
                    "its first row group ends at byte {end}, past the end of the file ({size})"
                )));
            }
            let group_bytes = file.read_range(start, len).await?;
            bytes_read += group_bytes.len() as u64;
            pieces.push((start, group_bytes));
        }
    }
    let sparse = Sparse { size, pieces };
    let metadata = ArrowReaderMetadata::try_new(Arc::new(metadata), ArrowReaderOptions::new())
        .map_err(|e| not_parquet(e.to_string()))?;
    let table = parquet_rows::read(sparse, Some(metadata), true, limit, &what)?;
    Ok(RemoteTable { table, bytes_read })
}

fn too_big(what: &str, needed: u64, budget: u64) -> PreviewError {
    PreviewError::TooBig {
        what: what.to_string(),
        needed,
        budget,
    }
}

/// The fetched parts of a remote file, for the parquet reader: asking for bytes outside
/// them is an error (the reader only needs the footer and the first row group).
struct Sparse {
    size: u64,
    pieces: Vec<(u64, Bytes)>,
}

impl Sparse {
    fn slice(&self, start: u64, len: Option<usize>) -> parquet::errors::Result<Bytes> {
        for (offset, bytes) in &self.pieces {
            let end = offset + bytes.len() as u64;
            if start >= *offset && start <= end {
                let from = usize::try_from(start - offset).unwrap_or(usize::MAX);
                let to = match len {
                    Some(len) => from.saturating_add(len),
                    None => bytes.len(),
                };
                if to <= bytes.len() {
                    return Ok(bytes.slice(from..to));
                }
            }
        }
        Err(parquet::errors::ParquetError::General(format!(
            "bytes from {start} were not fetched; only the footer and the first row group are"
        )))
    }
}

impl Length for Sparse {
    fn len(&self) -> u64 {
        self.size
    }
}

impl ChunkReader for Sparse {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(self.slice(start, None)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.slice(start, Some(length))
    }
}
