//! The Hugging Face Hub HTTP client hubdex uses to keep its local catalog in sync.
//!
//! [`HubClient`] talks to the Hub at `HF_ENDPOINT` with the user's `HF_TOKEN`, the way
//! `huggingface_hub` does: the same retried statuses and backoff, the `RateLimit` header
//! honoured on 429, errors typed from `X-Error-Code`. Each catalog page carries the Hub's
//! rate-limit state ([`RateLimit`]) so a long walk can pace itself, and
//! [`HubClient::with_retry_observer`] reports every wait before a retry. [`CatalogPager`] walks
//! `GET /api/datasets` page by page by following the `Link: rel="next"` URL verbatim, so a
//! walk can be saved and resumed, and one record the client cannot read never fails a sync.
//! For a dataset's files it resolves revisions ([`HubClient::revision_info`]), lists trees and
//! commits following their `Link` pages, probes a file with `HEAD` as `huggingface_hub` does
//! ([`HubClient::file_metadata`]) and streams ranged downloads ([`HubClient::download`]).
//!
//! Decisions worth knowing:
//! * the token is sent only to the endpoint's own origin (scheme, host, port): a `Link` or a
//!   resumed URL pointing elsewhere is fetched anonymously, and reqwest drops it on
//!   cross-host redirects;
//! * file probes and downloads follow no redirect blindly: the probe follows only relative
//!   ones (renamed repos) and reports an absolute one (the LFS CDN) as the download URL; a
//!   download follows redirects itself, sending the token to none but the endpoint's origin;
//! * [`HubConfig::timeout`] bounds connecting and each wait for data (headers or the next
//!   body chunk), not the whole transfer, so a large page that keeps arriving is never cut;
//! * a `200` whose body is not the expected JSON is retried like a `502`, because the real
//!   Hub sends such pages mid-walk; a record that does not parse is skipped and counted.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hubdex_hub::HubError> {
//! use hubdex_hub::{HubClient, HubConfig, ListParams};
//! let hub = HubClient::new(HubConfig::from_env())?;
//! let mut pager = hub.list_datasets(&ListParams { search: Some("squad".into()), ..Default::default() });
//! while let Some(page) = pager.next_page().await? {
//!     for dataset in &page.records {
//!         println!("{}", dataset.id);
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod client;
mod config;
mod error;
mod files;
mod link;
mod pager;
mod ratelimit;
mod retry;

/// The chunk type of [`ByteStream`], re-exported so callers need not depend on `bytes`.
pub use bytes::Bytes;
pub use client::HubClient;
pub use config::{HubConfig, RetryPolicy};
pub use error::HubError;
pub use files::{
    ByteStream, Commit, Download, EntryKind, FileMetadata, LfsInfo, RevisionInfo, TreeEntry,
};
pub use pager::{CatalogPage, CatalogPager, ListParams};
pub use ratelimit::{RateLimit, RetryWait};
