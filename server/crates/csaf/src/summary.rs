//! The advisory summary: the facts Herald reads out of a valid CSAF document once, at import, so
//! that storage, pages, feeds and notifications never parse CSAF JSON again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Traffic Light Protocol label of a document (CSAF 2.0 knows WHITE, GREEN, AMBER, RED).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "UPPERCASE")]
pub enum Tlp {
    White,
    Green,
    Amber,
    Red,
}

impl Tlp {
    /// The label as CSAF writes it: `WHITE`, `GREEN`, `AMBER`, `RED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::White => "WHITE",
            Tlp::Green => "GREEN",
            Tlp::Amber => "AMBER",
            Tlp::Red => "RED",
        }
    }

    /// Reads a label as CSAF writes it (upper case); `None` for anything else.
    pub fn parse(label: &str) -> Option<Tlp> {
        match label {
            "WHITE" => Some(Tlp::White),
            "GREEN" => Some(Tlp::Green),
            "AMBER" => Some(Tlp::Amber),
            "RED" => Some(Tlp::Red),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AdvisorySummary {
    pub tracking_id: String,
    /// `/document/tracking/version` as written.
    pub version: String,
    /// `draft`, `interim`, `final`.
    pub status: String,
    /// `/document/category`, e.g. `csaf_security_advisory`.
    pub category: String,
    pub title: String,
    pub publisher: Publisher,
    /// None when the document has no TLP label (treated as WHITE for distribution, per CSAF 7.1.4).
    pub tlp: Option<Tlp>,
    pub initial_release_date: DateTime<Utc>,
    pub current_release_date: DateTime<Utc>,
    pub revision_history: Vec<Revision>,
    /// Text of the document notes of category `summary` (joined), else `description`/`general`.
    pub summary: Option<String>,
    pub products: Vec<Product>,
    pub vulnerabilities: Vec<Vulnerability>,
    pub acknowledgments: Vec<String>,
    pub references: Vec<Reference>,
    /// Highest CVSS base score over all vulnerabilities and its severity in lower case.
    pub max_cvss: Option<f64>,
    pub severity: Option<String>,
    /// `/document/lang`, if given.
    pub lang: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Publisher {
    pub name: String,
    pub namespace: String,
    pub category: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Revision {
    pub number: String,
    pub date: DateTime<Utc>,
    pub summary: String,
}

/// A leaf of the product tree (a full product name) with the branch path that led to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Product {
    pub product_id: String,
    /// The full product name as the document gives it.
    pub name: String,
    pub vendor: Option<String>,
    pub family: Option<String>,
    pub product_name: Option<String>,
    pub version: Option<String>,
    /// UDI-DI from `product_identification_helper` (e.g. `model_numbers`/`skus` are not UDI; see the
    /// extraction code for where CSAF 2.0 lets a publisher put it). Herald's convention (module
    /// [`crate::extract`]): a GS1 Digital Link `https://id.gs1.org/01/<GTIN-14>` in
    /// `x_generic_uris` with a GS1 namespace; the value is the 14-digit GTIN.
    pub udi_di: Option<String>,
    pub cpe: Option<String>,
    pub purl: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Vulnerability {
    pub cve: Option<String>,
    pub title: Option<String>,
    pub cwe_id: Option<String>,
    pub cwe_name: Option<String>,
    /// Vulnerability notes of category `description` (joined), else `summary`/`details`.
    pub description: Option<String>,
    pub scores: Vec<Score>,
    /// (status group, product ids), e.g. ("known_affected", [...]) in document order.
    pub product_status: Vec<(String, Vec<String>)>,
    pub remediations: Vec<Remediation>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Score {
    /// `3.1`, `3.0` or `2.0`.
    pub cvss_version: String,
    pub vector: String,
    pub base_score: f64,
    /// Lower case (`critical`, `high`, `medium`, `low`, `none`); CVSS 2 severities are derived.
    pub severity: String,
    pub product_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Remediation {
    pub category: String,
    pub details: String,
    pub url: Option<String>,
    pub date: Option<DateTime<Utc>>,
    pub product_ids: Vec<String>,
    pub group_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Reference {
    pub category: Option<String>,
    pub summary: String,
    pub url: String,
}

impl AdvisorySummary {
    /// Every CVE the document names, in document order, without repeats.
    pub fn cves(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for cve in self.vulnerabilities.iter().filter_map(|v| v.cve.clone()) {
            if !out.contains(&cve) {
                out.push(cve);
            }
        }
        out
    }

    /// Year of the initial release: the CSAF year folder (section 7.1.11); it never changes.
    pub fn year(&self) -> i32 {
        use chrono::Datelike;
        self.initial_release_date.year()
    }

    /// The label used for distribution: documents without a label are treated as WHITE.
    pub fn distribution_tlp(&self) -> Tlp {
        self.tlp.unwrap_or(Tlp::White)
    }
}
