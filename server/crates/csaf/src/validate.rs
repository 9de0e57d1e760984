//! Validation of incoming CSAF 2.0 documents: the gate every document passes before Herald stores,
//! publishes or announces it.
//!
//! # Who checks what
//!
//! The order is: size cap, UTF-8, JSON parse, then the checks below. A document is accepted only
//! when no finding has [`Severity::Error`].
//!
//! From **csaf-rs 0.6.1** (`validate_by_tests` on a `RawDocument`):
//! - `schema`: the official, non-strict CSAF 2.0 JSON schema with the FIRST CVSS 2.0/3.0/3.1
//!   schemas (csaf-rs embeds the OASIS files; they are byte-identical to
//!   `/work/shared/csaf/schemas/csaf-2.0-csaf_json_schema.json`). Additional properties are
//!   allowed, as the standard says; only 6.2.20 warns about them.
//! - every mandatory test 6.1.1 - 6.1.33 (including 6.1.15 and 6.1.27.1 - 6.1.27.11) **except
//!   6.1.11**, as errors;
//! - the optional tests 6.2.1 - 6.2.18 and 6.2.20, as warnings (6.2.19 is not implemented by
//!   csaf-rs 0.6.1 and therefore not run).
//!
//! **Herald's own** (all errors unless said otherwise):
//! - `herald.size`: more than [`MAX_DOCUMENT_BYTES`].
//! - `herald.utf8`: bytes that are not UTF-8 (CSAF documents are UTF-8 JSON).
//! - `json`: the bytes are not JSON (message names line and column).
//! - `6.1.11` (replaces csaf-rs's): csaf-rs compares the CWE name with the one CWE catalogue
//!   version that was current at the document's release date, and so refuses real advisories
//!   whose publisher later updated the name (CISA ICSMA-17-009-01A, ICSMA-18-058-02,
//!   ICSMA-19-022-01, ICSMA-21-187-01, all valid for the OASIS/BSI validator). Herald's test
//!   requires that the id exists and that the name equals that id's name in at least one CWE
//!   catalogue version (the catalogue is the one csaf-rs bundles, 1.0 - 4.20).
//! - `herald.typed-parse`: the document passed the schema but csaf-rs could not read it into its
//!   typed model, so its mandatory tests could not run; Herald refuses rather than accept a
//!   document it only half checked.
//! - `herald.release-dates`: `current_release_date` equals the newest revision date and is not
//!   before `initial_release_date` (the standard only warns, in 6.2.5/6.2.6; Herald's feed and
//!   `changes.csv` rely on it).
//! - `herald.summary`: the [`AdvisorySummary`] could not be read out of the document.
//! - `herald.udi-di` (warning): a GS1 generic URI that does not carry a valid GTIN-14 UDI-DI.

use std::fmt;

use csaf_rs::csaf::raw::{HasParsed, RawDocument};
use csaf_rs::schema::csaf2_0::schema::CommonSecurityAdvisoryFramework;
use csaf_rs::validation::{TestResultStatus, Validatable, ValidationError, validate_by_tests};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::extract::{self, parse_date};
use crate::summary::AdvisorySummary;

/// Largest document Herald accepts. Real advisories are well below 1 MiB; the cap keeps a
/// malicious upload from tying up the validator.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// Test id of the finding for a document over [`MAX_DOCUMENT_BYTES`] (callers map it to 413).
pub const SIZE_TEST_ID: &str = "herald.size";
/// Test id for bytes that are not UTF-8.
pub const UTF8_TEST_ID: &str = "herald.utf8";
/// Test id for bytes that are not JSON.
pub const JSON_TEST_ID: &str = "json";
/// Test id of the CSAF 2.0 JSON schema check.
pub const SCHEMA_TEST_ID: &str = "schema";
/// Test id of Herald's release-date rule.
pub const RELEASE_DATES_TEST_ID: &str = "herald.release-dates";

/// How much a finding counts.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The document is refused.
    Error,
    /// Reported to the publisher, the document is still accepted.
    Warning,
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// One problem found in a document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Finding {
    /// `schema`, `json`, a CSAF test number (`6.1.1`, `6.1.27.11`, `6.2.20`) or `herald.<rule>`.
    pub test_id: String,
    /// JSON pointer into the document (empty for the whole document), e.g.
    /// `/vulnerabilities/0/product_status/fixed/1`.
    pub path: String,
    pub message: String,
    pub severity: Severity,
}

impl Finding {
    pub fn new(
        test_id: impl Into<String>,
        path: impl Into<String>,
        message: impl Into<String>,
        severity: Severity,
    ) -> Self {
        Self {
            test_id: test_id.into(),
            path: path.into(),
            message: message.into(),
            severity,
        }
    }

    fn error(test_id: &str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(test_id, path, message, Severity::Error)
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(
            f,
            "{} [{}] at {}: {}",
            self.severity, self.test_id, path, self.message
        )
    }
}

/// An accepted document: its summary and the warnings to show the publisher.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    pub summary: AdvisorySummary,
    /// Findings of severity [`Severity::Warning`] or [`Severity::Info`].
    pub warnings: Vec<Finding>,
}

/// A refused document. `findings` holds every error (and the warnings found on the way).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Rejection {
    pub findings: Vec<Finding>,
}

impl Rejection {
    fn one(finding: Finding) -> Self {
        Self {
            findings: vec![finding],
        }
    }

    /// Only the findings that caused the refusal.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.errors().count();
        write!(f, "CSAF document refused with {errors} error(s):")?;
        for finding in &self.findings {
            write!(f, "\n  {finding}")?;
        }
        Ok(())
    }
}

/// Validate a CSAF 2.0 document as received (exact bytes) and read its summary.
///
/// See the module documentation for the checks and where each comes from.
pub fn validate(bytes: &[u8]) -> Result<Validated, Rejection> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(Rejection::one(Finding::error(
            SIZE_TEST_ID,
            "",
            format!(
                "document is {} bytes; Herald accepts at most {MAX_DOCUMENT_BYTES} bytes (10 MiB)",
                bytes.len()
            ),
        )));
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(Rejection::one(Finding::error(
            UTF8_TEST_ID,
            "",
            format!(
                "document is not UTF-8: invalid byte sequence at byte offset {}",
                e.valid_up_to()
            ),
        )));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        Rejection::one(Finding::error(
            JSON_TEST_ID,
            "",
            format!(
                "not valid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        ))
    })?;

    let doc = RawDocument::<CommonSecurityAdvisoryFramework>::new(value);
    let mut findings = run_csaf_rs(&doc);
    let schema_ok = !findings.iter().any(|f| f.test_id == SCHEMA_TEST_ID);
    if schema_ok && let Err(e) = doc.get_parsed() {
        findings.push(Finding::error(
            "herald.typed-parse",
            "",
            format!("csaf-rs could not read the document, so its mandatory tests did not run: {e}"),
        ));
    }
    let json = doc.get_json();
    findings.extend(test_6_1_11_cwe(json));
    if schema_ok {
        findings.extend(release_dates(json));
        findings.extend(extract::udi_di_findings(json));
    }

    if findings.iter().any(|f| f.severity == Severity::Error) {
        return Err(Rejection { findings });
    }
    match extract::summarize(json) {
        Ok(summary) => Ok(Validated {
            summary,
            warnings: findings,
        }),
        Err(e) => {
            findings.push(Finding::error("herald.summary", e.path.clone(), e.message));
            Err(Rejection { findings })
        }
    }
}

/// The csaf-rs tests Herald runs: schema, every mandatory test but 6.1.11, the optional ones.
fn csaf_rs_tests() -> Vec<&'static str> {
    // "extended" = schema + mandatory + optional. Should csaf-rs ever fail to list it, fall back to
    // the tests one by one, so that a missing preset cannot turn into "no tests ran".
    let tests = CommonSecurityAdvisoryFramework::tests_in_preset("extended").unwrap_or_else(|_| {
        CommonSecurityAdvisoryFramework::get_tests()
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| !id.starts_with("6.3"))
            .collect()
    });
    tests.into_iter().filter(|id| *id != "6.1.11").collect()
}

fn run_csaf_rs(doc: &RawDocument<CommonSecurityAdvisoryFramework>) -> Vec<Finding> {
    let tests = csaf_rs_tests();
    let result = validate_by_tests(doc, "2.0", &tests);
    let mut findings = Vec::new();
    for test in result.test_results {
        let TestResultStatus::Failure {
            errors,
            warnings,
            infos,
        } = test.status
        else {
            continue;
        };
        // Only the schema and the mandatory tests can refuse a document; csaf-rs reports some
        // optional-test findings as errors, which for Herald are warnings.
        let mandatory = test.test_id == SCHEMA_TEST_ID || test.test_id.starts_with("6.1.");
        let convert = |e: ValidationError, severity: Severity| {
            Finding::new(test.test_id.clone(), e.instance_path, e.message, severity)
        };
        let error_severity = if mandatory {
            Severity::Error
        } else {
            Severity::Warning
        };
        findings.extend(errors.into_iter().map(|e| convert(e, error_severity)));
        findings.extend(warnings.into_iter().map(|e| convert(e, Severity::Warning)));
        findings.extend(infos.into_iter().map(|e| convert(e, Severity::Info)));
    }
    findings
}

/// Herald's 6.1.11: the CWE id exists and its name matches the name in some CWE version.
fn test_6_1_11_cwe(doc: &Value) -> Vec<Finding> {
    let catalogue = &*csaf_rs::helpers::CWE_ENTRIES;
    let mut findings = Vec::new();
    let Some(vulns) = doc.get("vulnerabilities").and_then(Value::as_array) else {
        return findings;
    };
    for (i, vuln) in vulns.iter().enumerate() {
        let Some(cwe) = vuln.get("cwe") else { continue };
        // Shapes the schema refuses are the schema's to report.
        let (Some(id), Some(name)) = (
            cwe.get("id").and_then(Value::as_str),
            cwe.get("name").and_then(Value::as_str),
        ) else {
            continue;
        };
        let mut known_names: Vec<(&str, &str)> = catalogue
            .iter()
            .filter_map(|(version, data)| {
                data.entries
                    .get(id)
                    .map(|e| (version.as_str(), e.name.as_str()))
            })
            .collect();
        let path = format!("/vulnerabilities/{i}/cwe");
        if known_names.is_empty() {
            findings.push(Finding::error(
                "6.1.11",
                format!("{path}/id"),
                format!("weakness '{id}' does not exist in any CWE version (1.0 to 4.20)"),
            ));
        } else if !known_names.iter().any(|(_, n)| *n == name) {
            known_names.sort_by(|a, b| compare_versions(a.0, b.0));
            let latest = known_names.last().map(|(v, n)| format!("'{n}' (CWE {v})"));
            findings.push(Finding::error(
                "6.1.11",
                format!("{path}/name"),
                format!(
                    "name '{name}' is not the name of {id} in any CWE version; the current name is {}",
                    latest.unwrap_or_default()
                ),
            ));
        }
    }
    findings
}

/// Orders CWE versions like `4.10` after `4.9`.
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| -> Vec<u32> { s.split('.').filter_map(|p| p.parse().ok()).collect() };
    parts(a).cmp(&parts(b))
}

/// `herald.release-dates`. Runs only after the schema passed, so the dates are date-times.
fn release_dates(doc: &Value) -> Vec<Finding> {
    const ID: &str = RELEASE_DATES_TEST_ID;
    let tracking = &doc["document"]["tracking"];
    let date = |pointer: &str| tracking.pointer(pointer).and_then(Value::as_str);
    let mut findings = Vec::new();
    let (Some(current_raw), Some(initial_raw)) =
        (date("/current_release_date"), date("/initial_release_date"))
    else {
        return findings;
    };
    let (Ok(current), Ok(initial)) = (parse_date(current_raw), parse_date(initial_raw)) else {
        findings.push(Finding::error(
            ID,
            "/document/tracking",
            "release dates are not RFC 3339 date-times",
        ));
        return findings;
    };
    if current < initial {
        findings.push(Finding::error(
            ID,
            "/document/tracking/current_release_date",
            format!(
                "current_release_date {current_raw} is before initial_release_date {initial_raw}"
            ),
        ));
    }
    let newest = tracking
        .get("revision_history")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, r)| {
            let raw = r.get("date").and_then(Value::as_str)?;
            parse_date(raw).ok().map(|d| (d, i, raw))
        })
        .max_by_key(|(d, _, _)| *d);
    if let Some((newest, i, raw)) = newest
        && newest != current
    {
        findings.push(Finding::error(
            ID,
            "/document/tracking/current_release_date",
            format!(
                "current_release_date {current_raw} is not the date of the newest revision ({raw} at /document/tracking/revision_history/{i})"
            ),
        ));
    }
    findings
}
