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

/// A CVSS 3.1 base score computed from a vector.
#[derive(Debug, Clone, PartialEq)]
pub struct CvssV3Score {
    /// The vector in canonical form (`CVSS:3.1/AV:..`, metrics in specification order).
    pub vector: String,
    pub base_score: f64,
    /// `NONE`, `LOW`, `MEDIUM`, `HIGH` or `CRITICAL`.
    pub base_severity: &'static str,
}

/// Parses a CVSS 3.1 base vector (the `CVSS:3.1/` prefix may be left out) and computes its base
/// score and severity. Temporal and environmental metrics are refused: the form asks for a base
/// vector, and a CSAF score carrying them would need their scores too.
pub fn cvss_v31(vector: &str) -> Result<CvssV3Score, String> {
    let vector = vector.trim();
    if vector.is_empty() {
        return Err("the vector is empty".into());
    }
    let full = if vector.starts_with("CVSS:") {
        vector.to_string()
    } else {
        format!("CVSS:3.1/{vector}")
    };
    if !full.starts_with("CVSS:3.1/") {
        return Err(format!(
            "{vector:?} is not a CVSS 3.1 vector (it must start with CVSS:3.1/)"
        ));
    }
    let parsed: cvss_rs::v3::CvssV3 = full
        .parse()
        .map_err(|e| format!("{vector:?} is not a valid CVSS 3.1 vector: {e}"))?;
    let has_extra = parsed.exploit_code_maturity.is_some()
        || parsed.remediation_level.is_some()
        || parsed.report_confidence.is_some()
        || parsed.confidentiality_requirement.is_some()
        || parsed.integrity_requirement.is_some()
        || parsed.availability_requirement.is_some()
        || parsed.modified_attack_vector.is_some()
        || parsed.modified_attack_complexity.is_some()
        || parsed.modified_privileges_required.is_some()
        || parsed.modified_user_interaction.is_some()
        || parsed.modified_scope.is_some()
        || parsed.modified_confidentiality_impact.is_some()
        || parsed.modified_integrity_impact.is_some()
        || parsed.modified_availability_impact.is_some();
    if has_extra {
        return Err(format!(
            "{vector:?} has temporal or environmental metrics; give the base vector only (AV, AC, PR, UI, S, C, I, A)"
        ));
    }
    let base_score = parsed.calculated_base_score().ok_or_else(|| {
        format!("{vector:?} lacks a base metric (AV, AC, PR, UI, S, C, I and A are all required)")
    })?;
    Ok(CvssV3Score {
        vector: parsed.to_string(),
        base_score,
        base_severity: severity_of(base_score),
    })
}

/// The CVSS 3.x qualitative severity of a base score (specification section 5).
fn severity_of(score: f64) -> &'static str {
    if score <= 0.0 {
        "NONE"
    } else if score < 4.0 {
        "LOW"
    } else if score < 7.0 {
        "MEDIUM"
    } else if score < 9.0 {
        "HIGH"
    } else {
        "CRITICAL"
    }
}

fn nonblank(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn tlp_label(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::White => "WHITE",
        Tlp::Green => "GREEN",
        Tlp::Amber => "AMBER",
        Tlp::Red => "RED",
    }
}

/// Builds the CSAF 2.0 security advisory for `draft`. See the module docs for what is refused
/// here and what is left to [`crate::validate`].
pub fn build_document(
    draft: &Draft,
    publisher: &PublisherInfo,
    tracking: &TrackingInput,
) -> Result<Value, DraftError> {
    let mut problems = Vec::new();
    let mut problem =
        |field: String, message: String| problems.push(FieldProblem { field, message });

    // product tree: vendor -> product_family -> product_name -> product_version
    let mut known_ids = BTreeSet::new();
    let mut seen_products = BTreeSet::new();
    // vendor -> family ("" = none) -> name -> [(version, product object)]
    type Versions = Vec<(String, Value)>;
    let mut tree: BTreeMap<String, BTreeMap<String, BTreeMap<String, Versions>>> = BTreeMap::new();
    for (i, p) in draft.products.iter().enumerate() {
        let field = |f: &str| format!("products[{i}].{f}");
        let id = p.product_id.trim();
        let vendor = p.vendor.trim();
        let name = p.name.trim();
        let version = p.version.trim();
        let family = nonblank(&p.family).unwrap_or("");
        let mut ok = true;
        // A product without versions is a `product_name` leaf.
        for (f, v) in [("product_id", id), ("vendor", vendor), ("name", name)] {
            if v.is_empty() {
                problem(field(f), "is required".into());
                ok = false;
            }
        }
        if !id.is_empty() && !known_ids.insert(id.to_string()) {
            problem(
                field("product_id"),
                format!("{id:?} is used by another product"),
            );
            ok = false;
        }
        if ok
            && !seen_products.insert((
                vendor.to_string(),
                family.to_string(),
                name.to_string(),
                version.to_string(),
            ))
        {
            problem(
                field("version"),
                format!("{vendor} {name} {version} is listed twice"),
            );
            ok = false;
        }
        let mut helper = Map::new();
        if let Some(cpe) = nonblank(&p.cpe) {
            helper.insert("cpe".into(), json!(cpe));
        }
        if let Some(purl) = nonblank(&p.purl) {
            helper.insert("purl".into(), json!(purl));
        }
        if let Some(udi) = nonblank(&p.udi_di) {
            let uri = format!("https://id.gs1.org/01/{udi}");
            match crate::extract::gtin_from_digital_link(&uri) {
                Some(gtin) => {
                    helper.insert(
                        "x_generic_uris".into(),
                        json!([{
                            "namespace": GS1_GTIN_NAMESPACE,
                            "uri": format!("https://id.gs1.org/01/{gtin}"),
                        }]),
                    );
                }
                None => {
                    problem(
                        field("udi_di"),
                        format!("{udi:?} is not a GTIN with a valid check digit (UDI-DI)"),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            continue;
        }
        let mut product = Map::new();
        let full_name = format!("{vendor} {name} {version}");
        product.insert("name".into(), json!(full_name.trim_end()));
        product.insert("product_id".into(), json!(id));
        if !helper.is_empty() {
            product.insert(
                "product_identification_helper".into(),
                Value::Object(helper),
            );
        }
        tree.entry(vendor.to_string())
            .or_default()
            .entry(family.to_string())
            .or_default()
            .entry(name.to_string())
            .or_default()
            .push((version.to_string(), Value::Object(product)));
    }
    for (vendor, families) in &tree {
        for names in families.values() {
            for (name, versions) in names {
                if versions.len() > 1 && versions.iter().any(|(v, _)| v.is_empty()) {
                    problem(
                        "products".into(),
                        format!("{vendor} {name} is listed both with and without a version"),
                    );
                }
            }
        }
    }
    let branches: Vec<Value> = tree
        .into_iter()
        .map(|(vendor, families)| {
            let mut vendor_branches = Vec::new();
            for (family, names) in families {
                let name_branches: Vec<Value> = names
                    .into_iter()
                    .map(|(name, mut versions)| {
                        if versions.len() == 1 && versions[0].0.is_empty() {
                            let (_, product) = versions.remove(0);
                            return json!({"category": "product_name", "name": name, "product": product});
                        }
                        let version_branches: Vec<Value> = versions
                            .into_iter()
                            .map(|(version, product)| {
                                json!({"category": version_branch_category(&version), "name": version, "product": product})
                            })
                            .collect();
                        json!({"category": "product_name", "name": name, "branches": version_branches})
                    })
                    .collect();
                if family.is_empty() {
                    vendor_branches.extend(name_branches);
                } else {
                    vendor_branches.push(
                        json!({"category": "product_family", "name": family, "branches": name_branches}),
                    );
                }
            }
            json!({"category": "vendor", "name": vendor, "branches": vendor_branches})
        })
        .collect();

    // vulnerabilities
    let mut vulnerabilities = Vec::new();
    for (i, v) in draft.vulnerabilities.iter().enumerate() {
        let field = |f: &str| format!("vulnerabilities[{i}].{f}");
        let mut out = Map::new();
        let check_ids = |f: &str, ids: &[String], problem: &mut dyn FnMut(String, String)| {
            let mut clean = Vec::new();
            for id in ids.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
                if !known_ids.contains(id) {
                    problem(
                        field(f),
                        format!("product id {id:?} is not one of the draft's products"),
                    );
                } else if !clean.contains(&id.to_string()) {
                    clean.push(id.to_string());
                }
            }
            clean
        };
        let affected = check_ids("known_affected", &v.known_affected, &mut problem);
        let fixed = check_ids("fixed", &v.fixed, &mut problem);
        let not_affected = check_ids("known_not_affected", &v.known_not_affected, &mut problem);
        if let Some(cve) = nonblank(&v.cve) {
            out.insert("cve".into(), json!(cve));
        }
        match (nonblank(&v.cwe_id), nonblank(&v.cwe_name)) {
            (Some(id), Some(name)) => {
                out.insert("cwe".into(), json!({"id": id, "name": name}));
            }
            (None, None) => {}
            (Some(_), None) => problem(field("cwe_name"), "is required with a CWE id".into()),
            (None, Some(_)) => problem(field("cwe_id"), "is required with a CWE name".into()),
        }
        if let Some(title) = nonblank(&v.title) {
            out.insert("title".into(), json!(title));
        }
        if !v.description.trim().is_empty() {
            out.insert(
                "notes".into(),
                json!([{"category": "description", "title": "Description", "text": v.description.trim()}]),
            );
        }
        let mut status = Map::new();
        for (key, ids) in [
            ("fixed", &fixed),
            ("known_affected", &affected),
            ("known_not_affected", &not_affected),
        ] {
            if !ids.is_empty() {
                status.insert(key.into(), json!(ids));
            }
        }
        if !status.is_empty() {
            out.insert("product_status".into(), Value::Object(status));
        }
        if let Some(vector) = nonblank(&v.cvss_v3_vector) {
            match cvss_v31(vector) {
                Ok(score) => {
                    // The score belongs to the affected products (on a fixed product it draws
                    // warning 6.2.19); an update that fixed them all keeps it on the fixed ones
                    // rather than lose the advisory's severity.
                    let scored: Vec<String> = if affected.is_empty() {
                        fixed.clone()
                    } else {
                        affected.clone()
                    };
                    if scored.is_empty() {
                        problem(
                            field("cvss_v3_vector"),
                            "a score needs known_affected or fixed products to apply to".into(),
                        );
                    } else {
                        out.insert(
                            "scores".into(),
                            json!([{
                                "cvss_v3": {
                                    "version": "3.1",
                                    "vectorString": score.vector,
                                    "baseScore": score.base_score,
                                    "baseSeverity": score.base_severity,
                                },
                                "products": scored,
                            }]),
                        );
                    }
                }
                Err(message) => problem(field("cvss_v3_vector"), message),
            }
        }
        if !not_affected.is_empty() {
            match nonblank(&v.not_affected_justification) {
                Some(label) if NOT_AFFECTED_JUSTIFICATIONS.contains(&label) => {
                    out.insert(
                        "flags".into(),
                        json!([{"label": label, "product_ids": not_affected}]),
                    );
                }
                Some(label) => problem(
                    field("not_affected_justification"),
                    format!(
                        "{label:?} is not one of {}",
                        NOT_AFFECTED_JUSTIFICATIONS.join(", ")
                    ),
                ),
                None => problem(
                    field("not_affected_justification"),
                    "is required when products are known_not_affected".into(),
                ),
            }
        }
        let mut remediations = Vec::new();
        for (r_i, r) in v.remediations.iter().enumerate() {
            let r_field = |f: &str| format!("vulnerabilities[{i}].remediations[{r_i}].{f}");
            let ids = check_ids(
                &format!("remediations[{r_i}].product_ids"),
                &r.product_ids,
                &mut problem,
            );
            if r.details.trim().is_empty() {
                problem(r_field("details"), "is required".into());
            }
            if ids.is_empty() {
                problem(r_field("product_ids"), "name at least one product".into());
            }
            let mut rem = Map::new();
            rem.insert("category".into(), json!(r.category.as_str()));
            rem.insert("details".into(), json!(r.details.trim()));
            rem.insert("product_ids".into(), json!(ids));
            if let Some(url) = nonblank(&r.url) {
                rem.insert("url".into(), json!(url));
            }
            remediations.push(Value::Object(rem));
        }
        if !remediations.is_empty() {
            out.insert("remediations".into(), json!(remediations));
        }
        vulnerabilities.push(Value::Object(out));
    }

    // document
    let mut notes = Vec::new();
    if !draft.summary.trim().is_empty() {
        notes
            .push(json!({"category": "summary", "title": "Summary", "text": draft.summary.trim()}));
    }
    for (i, n) in draft.notes.iter().enumerate() {
        if n.text.trim().is_empty() {
            if !n.title.trim().is_empty() {
                problem(format!("notes[{i}].text"), "is required".into());
            }
            continue;
        }
        let category = n.category.trim();
        if !NOTE_CATEGORIES.contains(&category) {
            problem(
                format!("notes[{i}].category"),
                format!("{category:?} is not one of {}", NOTE_CATEGORIES.join(", ")),
            );
            continue;
        }
        let mut note = Map::new();
        note.insert("category".into(), json!(category));
        if !n.title.trim().is_empty() {
            note.insert("title".into(), json!(n.title.trim()));
        }
        note.insert("text".into(), json!(n.text.trim()));
        notes.push(Value::Object(note));
    }
    let mut references = Vec::new();
    if let Some(url) = nonblank(&tracking.canonical_url) {
        references.push(json!({
            "category": "self",
            "summary": format!("Canonical URL of {}", tracking.id),
            "url": url,
        }));
    }
    for (i, r) in draft.references.iter().enumerate() {
        let (url, summary) = (r.url.trim(), r.summary.trim());
        if url.is_empty() && summary.is_empty() {
            continue;
        }
        if url.is_empty() {
            problem(format!("references[{i}].url"), "is required".into());
            continue;
        }
        references.push(json!({
            "category": "external",
            "summary": if summary.is_empty() { url } else { summary },
            "url": url,
        }));
    }
    let mut acknowledgments = Vec::new();
    for a in &draft.acknowledgments {
        let names: Vec<&str> = a
            .names
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .collect();
        let mut ack = Map::new();
        if !names.is_empty() {
            ack.insert("names".into(), json!(names));
        }
        if let Some(org) = nonblank(&a.organization) {
            ack.insert("organization".into(), json!(org));
        }
        if !ack.is_empty() {
            acknowledgments.push(Value::Object(ack));
        }
    }
    if tracking.revision_history.is_empty() {
        problem("tracking".into(), "has no revision".into());
    }
    if !problems.is_empty() {
        return Err(DraftError { problems });
    }

    let mut publisher_obj = Map::new();
    publisher_obj.insert("category".into(), json!("vendor"));
    if let Some(contact) = nonblank(&publisher.contact_details) {
        publisher_obj.insert("contact_details".into(), json!(contact));
    }
    publisher_obj.insert("name".into(), json!(publisher.name));
    publisher_obj.insert("namespace".into(), json!(publisher.namespace));
    let revision_history: Vec<Value> = tracking
        .revision_history
        .iter()
        .map(|r| json!({"date": date_text(r.date), "number": r.number, "summary": r.summary}))
        .collect();
    let mut document = Map::new();
    if !acknowledgments.is_empty() {
        document.insert("acknowledgments".into(), json!(acknowledgments));
    }
    document.insert("category".into(), json!("csaf_security_advisory"));
    document.insert("csaf_version".into(), json!("2.0"));
    document.insert(
        "distribution".into(),
        json!({"tlp": {"label": tlp_label(draft.tlp), "url": "https://www.first.org/tlp/"}}),
    );
    document.insert("lang".into(), json!("en"));
    if !notes.is_empty() {
        document.insert("notes".into(), json!(notes));
    }
    document.insert("publisher".into(), Value::Object(publisher_obj));
    if !references.is_empty() {
        document.insert("references".into(), json!(references));
    }
    document.insert("title".into(), json!(draft.title.trim()));
    document.insert(
        "tracking".into(),
        json!({
            "current_release_date": date_text(tracking.current_release_date),
            "generator": {"engine": {"name": "Herald", "version": env!("CARGO_PKG_VERSION")}},
            "id": tracking.id,
            "initial_release_date": date_text(tracking.initial_release_date),
            "revision_history": revision_history,
            "status": tracking.status.as_str(),
            "version": tracking.version,
        }),
    );
    let mut root = Map::new();
    root.insert("document".into(), Value::Object(document));
    // Keys in alphabetical order (optional test 6.2.13); serde_json keeps insertion order here.
    if !branches.is_empty() {
        root.insert("product_tree".into(), json!({"branches": branches}));
    }
    if !vulnerabilities.is_empty() {
        root.insert("vulnerabilities".into(), json!(vulnerabilities));
    }
    Ok(sorted_keys(Value::Object(root)))
}

/// `value` with every object's keys in alphabetical order.
fn sorted_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_keys).collect()),
        other => other,
    }
}

/// The bytes Herald publishes for a built document (pretty JSON with a final newline).
pub fn document_bytes(doc: &Value) -> Vec<u8> {
    // Serialising a `Value` cannot fail (its map keys are strings).
    let mut bytes = serde_json::to_vec_pretty(doc).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// The branch category for a catalog version. A catalog filled from imported advisories holds
/// ranges too (`<=1.9.4`, `all versions before 3.2`), which CSAF forbids in a `product_version`
/// branch (mandatory test 6.1.31, checked case-insensitively for these substrings): such a
/// version goes in a `product_version_range` branch, as the advisory it came from had it.
pub fn version_branch_category(version: &str) -> &'static str {
    const RANGE_MARKERS: [&str; 9] = [
        "<", ">", "after", "all", "before", "earlier", "later", "prior", "versions",
    ];
    let lower = version.to_ascii_lowercase();
    if lower.starts_with("vers:") || RANGE_MARKERS.iter().any(|m| lower.contains(m)) {
        "product_version_range"
    } else {
        "product_version"
    }
}

/// The JSON paths of what a published document holds that [`draft_from_document`] has no place
/// for, so that an update through the form would silently drop it. Empty for Herald's own
/// documents. An update of a document with such content belongs in a revised CSAF upload.
pub fn form_would_drop(doc: &Value) -> Vec<String> {
    let mut dropped = Vec::new();
    let present = |v: &Value, key: &str| v.get(key).is_some_and(|x| !x.is_null());
    if let Some(tree) = doc.get("product_tree") {
        for key in ["product_groups", "relationships"] {
            if present(tree, key) {
                dropped.push(format!("/product_tree/{key}"));
            }
        }
    }
    if let Some(document) = doc.get("document") {
        for key in ["aggregate_severity", "source_lang"] {
            if present(document, key) {
                dropped.push(format!("/document/{key}"));
            }
        }
        if document.pointer("/distribution/text").is_some() {
            dropped.push("/document/distribution/text".into());
        }
        for (i, a) in crate::extract::arr(document, "acknowledgments")
            .iter()
            .enumerate()
        {
            for key in ["urls", "summary"] {
                if present(a, key) {
                    dropped.push(format!("/document/acknowledgments/{i}/{key}"));
                }
            }
        }
    }
    for (i, v) in crate::extract::arr(doc, "vulnerabilities")
        .iter()
        .enumerate()
    {
        let at = |rest: &str| format!("/vulnerabilities/{i}/{rest}");
        for key in [
            "threats",
            "involvements",
            "ids",
            "references",
            "acknowledgments",
            "discovery_date",
            "release_date",
        ] {
            if present(v, key) {
                dropped.push(at(key));
            }
        }
        for (j, score) in crate::extract::arr(v, "scores").iter().enumerate() {
            for key in ["cvss_v2", "cvss_v4"] {
                if present(score, key) {
                    dropped.push(at(&format!("scores/{j}/{key}")));
                }
            }
        }
        for group in ["under_investigation", "recommended"] {
            if v.pointer(&format!("/product_status/{group}")).is_some() {
                dropped.push(at(&format!("product_status/{group}")));
            }
        }
        for (j, note) in crate::extract::arr(v, "notes").iter().enumerate() {
            let category = note.get("category").and_then(Value::as_str).unwrap_or("");
            if !["description", "summary", "details"].contains(&category) {
                dropped.push(at(&format!("notes/{j}")));
            }
        }
        // The form keeps one justification for the not-affected products.
        if crate::extract::arr(v, "flags").len() > 1 {
            dropped.push(at("flags/1"));
        }
    }
    dropped
}

/// Reads a published CSAF document (Herald's own or an imported one) into a draft for an update,
/// with its tracking. What the draft model has no place for ([`form_would_drop`] lists it) is
/// left out; CVSS 3.0 vectors are carried over as 3.1 (same base metrics).
pub fn draft_from_document(bytes: &[u8]) -> Result<(Draft, TrackingInput), DraftError> {
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| DraftError::one("document", format!("not JSON: {e}")))?;
    draft_from_value(&doc)
}

/// [`draft_from_document`] for a document already parsed.
pub fn draft_from_value(doc: &Value) -> Result<(Draft, TrackingInput), DraftError> {
    let s =
        crate::extract::summarize(doc).map_err(|e| DraftError::one("document", e.to_string()))?;
    let mut draft = Draft {
        title: s.title.clone(),
        tlp: s.tlp.unwrap_or(Tlp::White),
        ..Draft::default()
    };
    let mut summaries = Vec::new();
    for n in doc
        .pointer("/document/notes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = n
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let category = n.get("category").and_then(Value::as_str).unwrap_or("");
        if category == "summary" {
            summaries.push(text);
        } else {
            draft.notes.push(DraftNote {
                category: category.to_string(),
                title: n
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                text,
            });
        }
    }
    draft.summary = summaries.join("\n\n");
    for r in doc
        .pointer("/document/references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // The `self` reference is Herald's to write (it follows the served path).
        if r.get("category").and_then(Value::as_str) == Some("self") {
            continue;
        }
        draft.references.push(DraftReference {
            url: r
                .get("url")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            summary: r
                .get("summary")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        });
    }
    for a in doc
        .pointer("/document/acknowledgments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ack = DraftAcknowledgment {
            names: a
                .get("names")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            organization: a
                .get("organization")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        if !ack.names.is_empty() || ack.organization.is_some() {
            draft.acknowledgments.push(ack);
        }
    }
    let mut known = BTreeSet::new();
    for p in &s.products {
        known.insert(p.product_id.clone());
        draft.products.push(DraftProduct {
            product_id: p.product_id.clone(),
            catalog_id: None,
            vendor: p.vendor.clone().unwrap_or_default(),
            family: p.family.clone(),
            name: p.product_name.clone().unwrap_or_else(|| p.name.clone()),
            version: p.version.clone().unwrap_or_default(),
            udi_di: p.udi_di.clone(),
            cpe: p.cpe.clone(),
            purl: p.purl.clone(),
        });
    }
    let raw_vulns = doc
        .get("vulnerabilities")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, v) in s.vulnerabilities.iter().enumerate() {
        let only_known = |ids: &[String]| -> Vec<String> {
            ids.iter()
                .filter(|id| known.contains(*id))
                .cloned()
                .collect()
        };
        let group = |names: &[&str]| -> Vec<String> {
            let mut out: Vec<String> = Vec::new();
            for (g, ids) in &v.product_status {
                if names.contains(&g.as_str()) {
                    for id in only_known(ids) {
                        if !out.contains(&id) {
                            out.push(id);
                        }
                    }
                }
            }
            out
        };
        let vector = v
            .scores
            .iter()
            .find(|s| s.cvss_version.starts_with('3'))
            .map(|s| s.vector.replacen("CVSS:3.0/", "CVSS:3.1/", 1));
        let justification = raw_vulns
            .get(i)
            .and_then(|rv| rv.get("flags"))
            .and_then(Value::as_array)
            .and_then(|flags| flags.first())
            .and_then(|f| f.get("label"))
            .and_then(Value::as_str)
            .map(str::to_string);
        draft.vulnerabilities.push(DraftVulnerability {
            cve: v.cve.clone(),
            cwe_id: v.cwe_id.clone(),
            cwe_name: v.cwe_name.clone(),
            title: v.title.clone(),
            description: v.description.clone().unwrap_or_default(),
            cvss_v3_vector: vector,
            known_affected: group(&["known_affected", "first_affected", "last_affected"]),
            fixed: group(&["fixed", "first_fixed"]),
            known_not_affected: group(&["known_not_affected"]),
            not_affected_justification: justification,
            remediations: v
                .remediations
                .iter()
                .filter_map(|r| {
                    let category = RemediationCategory::parse(&r.category)?;
                    Some(DraftRemediation {
                        category,
                        details: r.details.clone(),
                        url: r.url.clone(),
                        product_ids: only_known(&r.product_ids),
                    })
                })
                .collect(),
        });
    }
    let status = match s.status.as_str() {
        "interim" => TrackingStatus::Interim,
        _ => TrackingStatus::Final,
    };
    let tracking = TrackingInput {
        id: s.tracking_id.clone(),
        version: s.version.clone(),
        revision_history: s
            .revision_history
            .iter()
            .map(|r| RevisionEntry {
                number: r.number.clone(),
                date: r.date,
                summary: r.summary.clone(),
            })
            .collect(),
        initial_release_date: s.initial_release_date,
        current_release_date: s.current_release_date,
        status,
        canonical_url: doc
            .pointer("/document/references")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|r| r.get("category").and_then(Value::as_str) == Some("self"))
            .and_then(|r| r.get("url"))
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    Ok((draft, tracking))
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
