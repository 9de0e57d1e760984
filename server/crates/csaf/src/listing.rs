//! One published document as CSAF's distribution lists it (section 7: `index.txt`, `changes.csv`,
//! the ROLIE feed). Storage reads these from the database; the distribution crate writes the
//! listings from them; neither needs the other for it.

use chrono::{DateTime, Utc};

/// One current document, as listed in `index.txt`, `changes.csv` and the ROLIE feed.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentEntry {
    pub tracking_id: String,
    pub title: String,
    pub version: String,
    /// Relative to `/.well-known/csaf/`, e.g. `white/2024/acme-2024-0001.json`.
    pub path: String,
    pub initial_release_date: DateTime<Utc>,
    pub current_release_date: DateTime<Utc>,
    pub sha256: String,
    pub sha512: String,
    pub signed: bool,
    pub severity: Option<String>,
    pub summary: Option<String>,
}
