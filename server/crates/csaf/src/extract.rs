//! Reading an [`AdvisorySummary`] out of a (validated) CSAF 2.0 document.
//!
//! Works on the JSON value rather than csaf-rs's generated types, because the summary needs the
//! document order of objects (product status groups) and the raw strings as written.
//!
//! # UDI-DI convention
//!
//! CSAF 2.0 has no field for the FDA/EU UDI device identifier. `model_numbers` and `skus` are the
//! manufacturer's own numbers, not UDI, so Herald never reads a UDI-DI from them. Herald takes it
//! from `product_identification_helper.x_generic_uris` (CSAF 2.0 section 3.1.3.3.6), which pairs a
//! `namespace` with a `uri`: an entry whose `namespace` is on a GS1 host (`gs1.org` or a subdomain,
//! e.g. `https://www.gs1.org/standards/id-keys/gtin`) and whose `uri` is a GS1 Digital Link
//! (`https://id.gs1.org/01/<GTIN-14>`) carries the UDI-DI = that GTIN-14 (GS1 is an FDA-accredited
//! UDI issuing agency and its DI is the GTIN). The GTIN check digit must be right; a GS1 entry that
//! does not carry a valid GTIN-14 gives the warning `herald.udi-di` and no UDI-DI.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::summary::{
    AdvisorySummary, Product, Publisher, Reference, Remediation, Revision, Score, Tlp,
    Vulnerability,
};
use crate::validate::{Finding, Severity};

/// A document that lacks something the summary needs (only possible for documents that did not
/// pass [`crate::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot summarise CSAF document at {path}: {message}")]
pub struct SummaryError {
    /// JSON pointer of the missing or malformed value.
    pub path: String,
    pub message: String,
}

fn missing(path: &str, what: &str) -> SummaryError {
    SummaryError {
        path: path.to_string(),
        message: format!("{what} is missing or not of the expected type"),
    }
}

fn req_str<'a>(doc: &'a Value, pointer: &str) -> Result<&'a str, SummaryError> {
    doc.pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| missing(pointer, "a required string"))
}

fn opt_str(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// The array at `key`, empty when it is absent or not an array.
pub(crate) fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    arr(v, key)
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// Parses a CSAF date-time (RFC 3339, as the schema's `date-time` format requires).
pub fn parse_date(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc))
}

fn req_date(doc: &Value, pointer: &str) -> Result<DateTime<Utc>, SummaryError> {
    let raw = req_str(doc, pointer)?;
    parse_date(raw).map_err(|e| SummaryError {
        path: pointer.to_string(),
        message: format!("'{raw}' is not an RFC 3339 date-time: {e}"),
    })
}

/// Joins the `text` of the notes of the first category in `preference` that has any.
fn notes_text(notes: &[Value], preference: &[&str]) -> Option<String> {
    preference.iter().find_map(|category| {
        let texts: Vec<&str> = notes
            .iter()
            .filter(|n| n.get("category").and_then(Value::as_str) == Some(category))
            .filter_map(|n| n.get("text").and_then(Value::as_str))
            .collect();
        (!texts.is_empty()).then(|| texts.join("\n\n"))
    })
}

/// Read the summary out of a CSAF 2.0 document that passed [`crate::validate`].
pub fn summarize(doc: &Value) -> Result<AdvisorySummary, SummaryError> {
    let document = doc
        .get("document")
        .ok_or_else(|| missing("/document", "/document"))?;
    let tlp = match document
        .pointer("/distribution/tlp/label")
        .and_then(Value::as_str)
    {
        None => None,
        Some("WHITE") => Some(Tlp::White),
        Some("GREEN") => Some(Tlp::Green),
        Some("AMBER") => Some(Tlp::Amber),
        Some("RED") => Some(Tlp::Red),
        Some(other) => {
            return Err(SummaryError {
                path: "/document/distribution/tlp/label".into(),
                message: format!("unknown CSAF 2.0 TLP label '{other}'"),
            });
        }
    };
    let mut revision_history = Vec::new();
    for (i, r) in arr(&document["tracking"], "revision_history")
        .iter()
        .enumerate()
    {
        let base = format!("/document/tracking/revision_history/{i}");
        revision_history.push(Revision {
            number: req_str(r, "/number")
                .map_err(|_| missing(&format!("{base}/number"), "revision number"))?
                .to_string(),
            date: req_date(r, "/date").map_err(|e| SummaryError {
                path: format!("{base}/date"),
                message: e.message,
            })?,
            summary: opt_str(r, "summary").unwrap_or_default(),
        });
    }
    let vulnerabilities: Vec<Vulnerability> = arr(doc, "vulnerabilities")
        .iter()
        .map(vulnerability)
        .collect();
    let (max_cvss, severity) = vulnerabilities
        .iter()
        .flat_map(|v| &v.scores)
        .max_by(|a, b| a.base_score.total_cmp(&b.base_score))
        .map(|s| (Some(s.base_score), Some(s.severity.clone())))
        .unwrap_or((None, None));

    Ok(AdvisorySummary {
        tracking_id: req_str(doc, "/document/tracking/id")?.to_string(),
        version: req_str(doc, "/document/tracking/version")?.to_string(),
        status: req_str(doc, "/document/tracking/status")?.to_string(),
        category: req_str(doc, "/document/category")?.to_string(),
        title: req_str(doc, "/document/title")?.to_string(),
        publisher: Publisher {
            name: req_str(doc, "/document/publisher/name")?.to_string(),
            namespace: req_str(doc, "/document/publisher/namespace")?.to_string(),
            category: req_str(doc, "/document/publisher/category")?.to_string(),
        },
        tlp,
        initial_release_date: req_date(doc, "/document/tracking/initial_release_date")?,
        current_release_date: req_date(doc, "/document/tracking/current_release_date")?,
        revision_history,
        summary: notes_text(
            arr(document, "notes"),
            &["summary", "description", "general"],
        ),
        products: products(doc),
        vulnerabilities,
        acknowledgments: arr(document, "acknowledgments")
            .iter()
            .filter_map(acknowledgment)
            .collect(),
        references: arr(document, "references")
            .iter()
            .filter_map(|r| {
                Some(Reference {
                    category: opt_str(r, "category"),
                    summary: opt_str(r, "summary").unwrap_or_default(),
                    url: opt_str(r, "url")?,
                })
            })
            .collect(),
        max_cvss,
        severity,
        lang: opt_str(document, "lang"),
    })
}

/// "Jane Doe, John Roe (Example Org)", or the organisation, or the summary.
fn acknowledgment(a: &Value) -> Option<String> {
    let names = strings(a, "names").join(", ");
    let org = opt_str(a, "organization");
    let text = match (names.is_empty(), org) {
        (false, Some(org)) => format!("{names} ({org})"),
        (false, None) => names,
        (true, Some(org)) => org,
        (true, None) => opt_str(a, "summary")?,
    };
    Some(text)
}

/// Branch path collected on the way down the product tree.
#[derive(Clone, Default)]
struct BranchPath {
    vendor: Option<String>,
    family: Option<String>,
    product_name: Option<String>,
    version: Option<String>,
}

fn products(doc: &Value) -> Vec<Product> {
    let Some(tree) = doc.get("product_tree") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk_branches(arr(tree, "branches"), &BranchPath::default(), &mut out);
    for fpn in arr(tree, "full_product_names") {
        out.extend(product(fpn, &BranchPath::default()));
    }
    // A relationship's product takes vendor, family and name from the product it is a part of
    // (`relates_to_product_reference`): "Firmware 2.1 installed on Pump X" is sold as Pump X.
    let known: HashMap<String, BranchPath> = out
        .iter()
        .map(|p| {
            (
                p.product_id.clone(),
                BranchPath {
                    vendor: p.vendor.clone(),
                    family: p.family.clone(),
                    product_name: p.product_name.clone(),
                    version: p.version.clone(),
                },
            )
        })
        .collect();
    for rel in arr(tree, "relationships") {
        let Some(fpn) = rel.get("full_product_name") else {
            continue;
        };
        let path = rel
            .get("relates_to_product_reference")
            .and_then(Value::as_str)
            .and_then(|id| known.get(id))
            .cloned()
            .unwrap_or_default();
        out.extend(product(fpn, &path));
    }
    out
}

fn walk_branches(branches: &[Value], path: &BranchPath, out: &mut Vec<Product>) {
    for branch in branches {
        let mut here = path.clone();
        let name = opt_str(branch, "name");
        match branch.get("category").and_then(Value::as_str) {
            Some("vendor") => here.vendor = name,
            Some("product_family") => here.family = name,
            Some("product_name") => here.product_name = name,
            Some("product_version") | Some("product_version_range") => here.version = name,
            _ => {}
        }
        if let Some(fpn) = branch.get("product") {
            out.extend(product(fpn, &here));
        }
        walk_branches(arr(branch, "branches"), &here, out);
    }
}

fn product(fpn: &Value, path: &BranchPath) -> Option<Product> {
    let helper = fpn.get("product_identification_helper");
    Some(Product {
        product_id: opt_str(fpn, "product_id")?,
        name: opt_str(fpn, "name").unwrap_or_default(),
        vendor: path.vendor.clone(),
        family: path.family.clone(),
        product_name: path.product_name.clone(),
        version: path.version.clone(),
        udi_di: helper.and_then(udi_di),
        cpe: helper.and_then(|h| opt_str(h, "cpe")),
        purl: helper.and_then(|h| opt_str(h, "purl")),
    })
}

/// The GS1 `x_generic_uris` entries of a helper: (index, uri).
fn gs1_uris(helper: &Value) -> impl Iterator<Item = (usize, &str)> {
    arr(helper, "x_generic_uris")
        .iter()
        .enumerate()
        .filter(|(_, u)| {
            u.get("namespace")
                .and_then(Value::as_str)
                .is_some_and(is_gs1_namespace)
        })
        .filter_map(|(i, u)| u.get("uri").and_then(Value::as_str).map(|s| (i, s)))
}

fn is_gs1_namespace(ns: &str) -> bool {
    let Some(rest) = ns
        .strip_prefix("https://")
        .or_else(|| ns.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.to_ascii_lowercase();
    host == "gs1.org" || host.ends_with(".gs1.org")
}

/// GTIN-14 from a GS1 Digital Link URI (`https://id.gs1.org/01/09506000134352`), check digit
/// verified. GTIN-8/12/13 are accepted and left-padded to 14 digits, as GS1 prescribes.
pub(crate) fn gtin_from_digital_link(uri: &str) -> Option<String> {
    let after = uri.split("/01/").nth(1)?;
    let digits = after.split(['/', '?', '#']).next()?;
    if !matches!(digits.len(), 8 | 12 | 13 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let gtin = format!("{digits:0>14}");
    let d: Vec<u32> = gtin.bytes().map(|b| u32::from(b - b'0')).collect();
    let sum: u32 = d[..13]
        .iter()
        .enumerate()
        .map(|(i, x)| if i % 2 == 0 { x * 3 } else { *x })
        .sum();
    ((10 - sum % 10) % 10 == d[13]).then_some(gtin)
}

fn udi_di(helper: &Value) -> Option<String> {
    gs1_uris(helper).find_map(|(_, uri)| gtin_from_digital_link(uri))
}

/// Warnings for GS1 generic URIs that do not carry a valid GTIN-14 (see the module docs).
pub(crate) fn udi_di_findings(doc: &Value) -> Vec<Finding> {
    let mut helpers: Vec<(String, &Value)> = Vec::new();
    fn collect<'a>(v: &'a Value, pointer: String, out: &mut Vec<(String, &'a Value)>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let p = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                    if k == "product_identification_helper" {
                        out.push((p.clone(), child));
                    }
                    collect(child, p, out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    collect(child, format!("{pointer}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    if let Some(tree) = doc.get("product_tree") {
        collect(tree, "/product_tree".to_string(), &mut helpers);
    }
    helpers
        .into_iter()
        .flat_map(|(pointer, helper)| {
            gs1_uris(helper)
                .filter(|(_, uri)| gtin_from_digital_link(uri).is_none())
                .map(|(i, uri)| {
                    Finding::new(
                        "herald.udi-di",
                        format!("{pointer}/x_generic_uris/{i}/uri"),
                        format!(
                            "GS1 URI '{uri}' is not a GS1 Digital Link with a valid GTIN (https://id.gs1.org/01/<GTIN-14>); no UDI-DI taken from it"
                        ),
                        Severity::Warning,
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn vulnerability(v: &Value) -> Vulnerability {
    let mut scores = Vec::new();
    for s in arr(v, "scores") {
        let product_ids = strings(s, "products");
        if let Some(c) = s.get("cvss_v3") {
            scores.extend(score(c, product_ids.clone(), None));
        }
        if let Some(c) = s.get("cvss_v2") {
            scores.extend(score(c, product_ids, Some("2.0")));
        }
    }
    let product_status = v
        .get("product_status")
        .and_then(Value::as_object)
        .map(|groups| {
            groups
                .iter()
                .map(|(group, ids)| {
                    let ids = ids
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default();
                    (group.clone(), ids)
                })
                .collect()
        })
        .unwrap_or_default();
    Vulnerability {
        cve: opt_str(v, "cve"),
        title: opt_str(v, "title"),
        cwe_id: v.get("cwe").and_then(|c| opt_str(c, "id")),
        cwe_name: v.get("cwe").and_then(|c| opt_str(c, "name")),
        description: notes_text(arr(v, "notes"), &["description", "summary", "details"]),
        scores,
        product_status,
        remediations: arr(v, "remediations")
            .iter()
            .map(|r| Remediation {
                category: opt_str(r, "category").unwrap_or_default(),
                details: opt_str(r, "details").unwrap_or_default(),
                url: opt_str(r, "url"),
                date: r
                    .get("date")
                    .and_then(Value::as_str)
                    .and_then(|d| parse_date(d).ok()),
                product_ids: strings(r, "product_ids"),
                group_ids: strings(r, "group_ids"),
            })
            .collect(),
    }
}

/// One CVSS object. `fixed_version` is set for CVSS v2, whose objects carry `version: "2.0"` too
/// but whose severity is not in the object.
fn score(cvss: &Value, product_ids: Vec<String>, fixed_version: Option<&str>) -> Option<Score> {
    let base_score = cvss.get("baseScore").and_then(Value::as_f64)?;
    let cvss_version = fixed_version
        .map(str::to_string)
        .or_else(|| opt_str(cvss, "version"))?;
    let severity = match opt_str(cvss, "baseSeverity") {
        Some(s) if fixed_version.is_none() => s.to_lowercase(),
        _ => cvss2_severity(base_score).to_string(),
    };
    Some(Score {
        cvss_version,
        vector: opt_str(cvss, "vectorString").unwrap_or_default(),
        base_score,
        severity,
        product_ids,
    })
}

/// NVD's CVSS v2 bands (v2 has no severity of its own).
fn cvss2_severity(score: f64) -> &'static str {
    if score >= 7.0 {
        "high"
    } else if score >= 4.0 {
        "medium"
    } else {
        "low"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtin_check_digit() {
        assert_eq!(
            gtin_from_digital_link("https://id.gs1.org/01/09506000134352").as_deref(),
            Some("09506000134352")
        );
        assert_eq!(
            gtin_from_digital_link("https://id.gs1.org/01/09506000134353"),
            None
        );
        assert_eq!(
            gtin_from_digital_link("https://id.gs1.org/01/9506000134352/21/123").as_deref(),
            Some("09506000134352")
        );
        assert_eq!(gtin_from_digital_link("https://id.gs1.org/01/abc"), None);
    }

    #[test]
    fn gs1_namespace() {
        assert!(is_gs1_namespace(
            "https://www.gs1.org/standards/id-keys/gtin"
        ));
        assert!(is_gs1_namespace("https://gs1.org"));
        assert!(!is_gs1_namespace("https://gs1.org.evil.example/"));
        assert!(!is_gs1_namespace("https://notgs1.org/"));
    }
}
