//! The Hugging Face Hub HTTP client hubdex uses to keep its local catalog in sync.
//!
//! [`HubClient`] talks to the Hub at `HF_ENDPOINT` with the user's `HF_TOKEN`, the way
//! `huggingface_hub` does: the same retried statuses and backoff, the `RateLimit` header
//! honoured on 429, errors typed from `X-Error-Code`. [`CatalogPager`] walks
//! `GET /api/datasets` page by page by following the `Link: rel="next"` URL verbatim, so a
//! walk can be saved and resumed, and one record the client cannot read never fails a sync.
//!
//! Decisions worth knowing:
//! * the token is sent only to the endpoint's own origin (scheme, host, port): a `Link` or a
//!   resumed URL pointing elsewhere is fetched anonymously, and reqwest drops it on
//!   cross-host redirects;
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
mod link;
mod pager;
mod retry;

pub use client::HubClient;
pub use config::{HubConfig, RetryPolicy};
pub use error::HubError;
pub use pager::{CatalogPage, CatalogPager, ListParams};
