//! Advisory authoring without hand-written JSON: the [`Draft`] a publisher fills in (through the
//! portal form or the REST API), turned into a CSAF 2.0 `csaf_security_advisory` by
//! [`build_document`], and back from a published document by [`draft_from_document`] so an update
//! starts from what was published.
//!
//! Herald, not the author, owns the tracking data: [`first_revision`] and [`next_revision`] give
//! the version, the revision history and strictly increasing release dates. CVSS 3.1 base scores
//! and severities are computed from the vector by the `cvss-rs` crate (never typed in), so test
//! 6.1.9 cannot fail on an authored document.
//!
//! This module is pure (no database, no clock): the caller passes the time and the publisher.
//! Whether the built document is valid CSAF is [`crate::validate`]'s verdict; `build_document`
//! refuses only what it cannot represent (a bad CVSS vector, an unknown product id, a product
//! without vendor, name or version), naming the draft field at fault.

//!
//! The parts: the draft model (here), CVSS 3.1 scoring (`cvss`), the document builder (`build`)
//! and the import of a published document back into a draft (`import`); the tracking data is
//! [`crate::revision`]'s.

mod build;
mod cvss;
mod import;

pub use build::*;
pub use cvss::*;
pub use import::*;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::revision::date_text;
pub use crate::revision::{
    RevisionEntry, TrackingInput, TrackingStatus, first_revision, next_revision,
};
use crate::summary::Tlp;

/// The GS1 namespace Herald writes beside a UDI-DI (see the UDI-DI convention in [`crate::extract`]).
pub const GS1_GTIN_NAMESPACE: &str = "https://www.gs1.org/standards/id-keys/gtin";

/// The note categories CSAF 2.0 allows (`/document/notes[]/category`).
pub const NOTE_CATEGORIES: &[&str] = &[
    "description",
    "details",
    "faq",
    "general",
    "legal_disclaimer",
    "other",
    "summary",
];

/// VEX justification labels CSAF 2.0 allows for `known_not_affected` products (`flags[].label`).
pub const NOT_AFFECTED_JUSTIFICATIONS: &[&str] = &[
    "component_not_present",
    "inline_mitigations_already_exist",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_not_present",
];

/// What the author fills in. Every field has a default so a half-finished draft can be saved.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Draft {
    pub title: String,
    pub tlp: Tlp,
    /// Becomes the document note of category `summary`.
    pub summary: String,
    pub notes: Vec<DraftNote>,
    pub references: Vec<DraftReference>,
    pub acknowledgments: Vec<DraftAcknowledgment>,
    pub products: Vec<DraftProduct>,
    pub vulnerabilities: Vec<DraftVulnerability>,
    /// What this revision changes, for the revision history (`Initial release` when empty on the
    /// first revision).
    pub revision_summary: String,
}

impl Default for Draft {
    fn default() -> Self {
        Self {
            title: String::new(),
            tlp: Tlp::White,
            summary: String::new(),
            notes: Vec::new(),
            references: Vec::new(),
            acknowledgments: Vec::new(),
            products: Vec::new(),
            vulnerabilities: Vec::new(),
            revision_summary: String::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DraftNote {
    /// One of [`NOTE_CATEGORIES`].
    pub category: String,
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DraftReference {
    pub url: String,
    pub summary: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DraftAcknowledgment {
    pub names: Vec<String>,
    pub organization: Option<String>,
}

/// A product the advisory speaks about, resolved from the manufacturer's catalog.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DraftProduct {
    /// The CSAF product id in the document (`CSAFPID-0001`); vulnerabilities refer to it.
    pub product_id: String,
    /// `products.id` of the catalog entry, when known.
    pub catalog_id: Option<String>,
    pub vendor: String,
    pub family: Option<String>,
    pub name: String,
    pub version: String,
    /// GTIN-14 UDI-DI; written as a GS1 Digital Link in `x_generic_uris`.
    pub udi_di: Option<String>,
    pub cpe: Option<String>,
    pub purl: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DraftVulnerability {
    pub cve: Option<String>,
    pub cwe_id: Option<String>,
    pub cwe_name: Option<String>,
    pub title: Option<String>,
    /// Becomes the vulnerability note of category `description`.
    pub description: String,
    /// `CVSS:3.1/AV:N/...`; the `CVSS:3.1/` prefix may be left out.
    pub cvss_v3_vector: Option<String>,
    pub known_affected: Vec<String>,
    pub fixed: Vec<String>,
    pub known_not_affected: Vec<String>,
    /// One of [`NOT_AFFECTED_JUSTIFICATIONS`]; needed when `known_not_affected` is not empty
    /// (CSAF test 6.1.27.9 wants an impact statement for each such product).
    pub not_affected_justification: Option<String>,
    pub remediations: Vec<DraftRemediation>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum RemediationCategory {
    #[default]
    VendorFix,
    Mitigation,
    Workaround,
    NoneAvailable,
    NoFixPlanned,
}

impl RemediationCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VendorFix => "vendor_fix",
            Self::Mitigation => "mitigation",
            Self::Workaround => "workaround",
            Self::NoneAvailable => "none_available",
            Self::NoFixPlanned => "no_fix_planned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::VendorFix,
            Self::Mitigation,
            Self::Workaround,
            Self::NoneAvailable,
            Self::NoFixPlanned,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DraftRemediation {
    pub category: RemediationCategory,
    pub details: String,
    pub url: Option<String>,
    pub product_ids: Vec<String>,
}

/// The publisher as configured (`/document/publisher`).
#[derive(Debug, Clone, PartialEq)]
pub struct PublisherInfo {
    pub name: String,
    pub namespace: String,
    /// Security contact (`mailto:` or URL), written as `contact_details`.
    pub contact_details: Option<String>,
}

/// A draft field the document cannot be built from. `field` is a path into the draft, e.g.
/// `vulnerabilities[0].cvss_v3_vector`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DraftError {
    pub problems: Vec<FieldProblem>,
}

impl fmt::Display for DraftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect();
        write!(f, "the draft cannot be built: {}", parts.join("; "))
    }
}

impl DraftError {
    pub(crate) fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            problems: vec![FieldProblem {
                field: field.into(),
                message: message.into(),
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_scores_of_known_vectors() {
        let cases = [
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                9.8,
                "CRITICAL",
            ),
            ("AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, "CRITICAL"),
            (
                "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N",
                6.4,
                "MEDIUM",
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
                6.1,
                "MEDIUM",
            ),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8, "HIGH"),
            ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6, "LOW"),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, "NONE"),
            ("CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.8, "HIGH"),
        ];
        for (vector, score, severity) in cases {
            let s = cvss_v31(vector).unwrap_or_else(|e| panic!("{vector}: {e}"));
            assert_eq!(s.base_score, score, "{vector}");
            assert_eq!(s.base_severity, severity, "{vector}");
            assert!(s.vector.starts_with("CVSS:3.1/AV:"), "{}", s.vector);
        }
    }

    #[test]
    fn cvss_refuses_bad_vectors() {
        for bad in [
            "",
            "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
            "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:F",
            "nonsense",
        ] {
            assert!(cvss_v31(bad).is_err(), "{bad:?} accepted");
        }
    }
}
