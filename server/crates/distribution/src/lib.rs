//! Herald as a CSAF 2.0 *trusted provider* (CSAF 7.1 requirements 7-20): the OpenPGP signing key
//! ([`signing`]) and every file the provider serves besides the documents themselves, as pure
//! functions over what storage returns. No HTTP here: the server's routes call these functions,
//! enforce access control and write the responses.
//!
//! # URL layout
//!
//! Everything lives below `<base>/.well-known/csaf/` ([`layout::Provider`] builds the URLs,
//! [`layout::Resource::parse`] maps a request path back):
//!
//! | path | what | access |
//! | --- | --- | --- |
//! | `provider-metadata.json` | [`provider_metadata`] (canonical URL) | public |
//! | `service.json` | [`rolie_service`], one collection per feed | public |
//! | `openpgp/<FPR>.asc` | [`SigningKey::public_key_armored`] | public |
//! | `white/` | listing ([`tlp_directory_entries`], [`directory_listing_html`]) | public |
//! | `white/index.txt`, `white/changes.csv` | [`index_txt`], [`changes_csv`] | public |
//! | `white/feed-tlp-white.json` | [`rolie_feed`] | public |
//! | `white/category-tlp-white.json` | [`rolie_category`] | public |
//! | `white/<YYYY>/` | listing ([`year_directory_entries`]) | public |
//! | `white/<YYYY>/<name>.json` (+ `.sha256`, `.sha512`, `.asc`) | document, [`hash_file`], signature | public |
//! | `green/...`, `amber/...` | the same set of files for GREEN and AMBER | authenticated and entitled callers only (the server's job) |
//! | `red/...` | nothing: TLP:RED is never distributed, every function here refuses it | - |
//!
//! plus `<base>/.well-known/security.txt` ([`security_txt`], CSAF line first). Document paths are
//! `herald_csaf::document_path` (`<tlp>/<year of initial release>/<file name>`), stored as
//! `DocumentEntry::path`. Restricted directories and feeds are still listed in
//! provider-metadata.json (CSAF allows it; a consumer without credentials gets 401/403), which the
//! server controls through [`MetadataInput`].

pub mod feeds;
pub mod layout;
pub mod lifecycle;
pub mod listing;
pub mod provider;
pub mod signing;

use herald_csaf::Tlp;

pub use feeds::{changes_csv, hash_file, index_txt, rolie_category, rolie_feed, rolie_service};
pub use layout::{DISTRIBUTED_TLPS, Provider, Resource, Sidecar, is_distributed, is_public};
pub use listing::{
    ListingEntry, directory_listing_html, tlp_directory_entries, year_directory_entries,
};
pub use provider::{MetadataInput, SecurityTxtInput, provider_metadata, rfc3339, security_txt};
pub use signing::{KeyError, SigningKey};

/// Bad input to one of the document functions, naming what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum DistributionError {
    #[error("invalid provider base URL {url:?}: {why}")]
    InvalidBaseUrl { url: String, why: String },
    #[error("invalid publisher: {0}")]
    InvalidPublisher(String),
    #[error("TLP:{} documents are never distributed", .0.as_str())]
    NotDistributed(Tlp),
    #[error("document path {path:?} is not inside the {} directory", herald_csaf::tlp_dir(*tlp))]
    PathOutsideTlp { path: String, tlp: Tlp },
    #[error("invalid provider metadata: {0}")]
    InvalidMetadata(String),
    #[error("invalid security.txt: {0}")]
    InvalidSecurityTxt(String),
}
