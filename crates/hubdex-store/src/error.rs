//! What can go wrong in the catalog, worded so the reader knows what to do next.

use std::path::PathBuf;

/// Why a catalog operation failed.
///
/// Each message names the failing part and the remedy, so the daemon can show it as is.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (normally another daemon) holds the store's lock.
    #[error(
        "another hubdex daemon uses {}; stop it (`hubdex status` shows it) or give this one another data directory",
        dir.display()
    )]
    Locked {
        /// The catalog directory that is in use.
        dir: PathBuf,
    },
    /// A directory could not be created or read.
    #[error(
        "cannot create or read {}: {cause}; check that the path is a writable directory",
        path.display()
    )]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The operating system's reason.
        cause: std::io::Error,
    },
    /// The sled record store failed.
    #[error(
        "the record store in {} failed: {cause}; check free disk space and permissions, and if this persists move that directory aside so hubdex resyncs from the Hub",
        dir.display()
    )]
    Records {
        /// The sled directory.
        dir: PathBuf,
        /// sled's reason.
        cause: sled::Error,
    },
    /// A record in the store is not valid JSON for a dataset.
    #[error(
        "the stored record `{id}` cannot be read ({cause}); run `hubdex sync` to fetch it again"
    )]
    CorruptRecord {
        /// The record's key.
        id: String,
        /// What the JSON decoder said.
        cause: serde_json::Error,
    },
    /// A record could not be encoded as JSON (only possible through a bug).
    #[error("the record `{id}` cannot be stored as JSON ({cause}); please report this hubdex bug")]
    Encode {
        /// The record's id.
        id: String,
        /// What the JSON encoder said.
        cause: serde_json::Error,
    },
    /// The tantivy search index failed.
    #[error(
        "the search index in {} failed: {cause}; run `hubdex daemon --reindex` to rebuild it from the record store",
        dir.display()
    )]
    Index {
        /// The index directory.
        dir: PathBuf,
        /// tantivy's reason.
        cause: tantivy::TantivyError,
    },
    /// The record store could not be opened again after a bulk load (see the error logged
    /// then); nothing more can be read or written until the daemon restarts.
    #[error(
        "the record store in {} is closed after a failed reopen; restart the hubdex daemon",
        dir.display()
    )]
    Closed {
        /// The sled directory.
        dir: PathBuf,
    },
    /// An earlier write panicked while it held the index writer.
    #[error("an earlier catalog write crashed inside the daemon; restart the hubdex daemon")]
    Poisoned,
}
