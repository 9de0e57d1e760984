//! CSAF 2.0 for Herald: validation of incoming documents (csaf-rs plus Herald's own rules, see
//! [`validate`](mod@validate)), the section 5.1 file name and distribution path
//! ([`file_name`](mod@file_name)), and the [`AdvisorySummary`] that the rest of Herald reads
//! instead of the raw JSON ([`summarize`]); advisory authoring from a form-shaped draft
//! ([`authoring`], its tracking data in [`revision`]); a release's fix written into a published
//! advisory ([`remediation`]).

pub mod authoring;
pub mod extract;
pub mod file_name;
pub mod lifecycle;
pub mod listing;
pub mod remediation;
pub mod revision;
pub mod summary;
pub mod urls;
pub mod validate;
pub mod version;

pub use extract::{SummaryError, parse_date, summarize};
pub use file_name::{document_path, file_name, tlp_dir};
pub use listing::DocumentEntry;
pub use summary::*;
pub use validate::{
    Finding, JSON_TEST_ID, MAX_DOCUMENT_BYTES, RELEASE_DATES_TEST_ID, Rejection, SCHEMA_TEST_ID,
    SIZE_TEST_ID, Severity, UTF8_TEST_ID, Validated, validate,
};
pub use version::{VersionError, compare_versions};
