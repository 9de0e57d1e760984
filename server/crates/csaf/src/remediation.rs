//! A release's fix written into a published advisory: the next revision of the document as it
//! is (Herald's own or an imported one such as CISA's ICSMA advisories), with
//! * the version the release produces added to the product tree beside the versions it fixes
//!   (a `product_version` branch under the same product name, reused when already there),
//! * that product listed as `fixed` in every vulnerability where a product the release applies
//!   to is `known_affected` (which stay `known_affected`: they are still affected until updated),
//! * a `vendor_fix` remediation naming those products with the release's URL and date,
//! * the version bumped and a revision-history entry added ([`crate::revision`]'s rules: the
//!   document's own numbering style, release dates strictly increasing).
//!
//! Everything else in the document is kept as it is, byte for byte in meaning. A document whose
//! shape does not allow this is refused with the JSON path at fault ([`ReviseError`]); whether
//! the result is valid CSAF is still [`crate::validate`]'s verdict. Pure: the caller passes the
//! time and maps catalog products to the document's product ids.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::{Map, Value, json};

use crate::revision::{bump_version, date_text};

/// What a release says about the advisory it fixes.
#[derive(Debug, Clone)]
pub struct ReleaseFix<'a> {
    /// Product ids of this document the release applies to (updates from these versions).
    pub applies_to: &'a BTreeSet<String>,
    /// The version the release produces, e.g. `1.9.4.2` (a single version, not a range).
    pub produced_version: &'a str,
    /// How the release is named in the revision history, e.g. `Firmware 4.3`.
    pub release_name: &'a str,
    /// The remediation's details: what to install and how.
    pub details: &'a str,
    /// Where to download or order it.
    pub url: Option<&'a str>,
    /// When it became available (the remediation's `date`).
    pub release_date: Option<DateTime<Utc>>,
}

/// The revised document and what changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Revised {
    pub document: Value,
    pub version: String,
    /// The product id of the produced version in the revised document.
    pub fixed_product_id: String,
    /// Indexes of the vulnerabilities that got the fix.
    pub vulnerabilities: Vec<usize>,
}

/// Why a document cannot take the fix: `path` is the JSON pointer of the part at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ReviseError {
    pub path: String,
    pub message: String,
}

fn refuse(path: impl Into<String>, message: impl Into<String>) -> ReviseError {
    ReviseError {
        path: path.into(),
        message: message.into(),
    }
}

/// Product status groups that say a product is affected.
const AFFECTED_GROUPS: [&str; 3] = ["known_affected", "first_affected", "last_affected"];

/// The next revision of `doc` with the release's fix (see the module docs).
pub fn apply_release(
    doc: &Value,
    fix: &ReleaseFix<'_>,
    now: DateTime<Utc>,
) -> Result<Revised, ReviseError> {
    let mut doc = doc.clone();
    if !doc.is_object() {
        return Err(refuse("", "the document is not a JSON object"));
    }
    let produced = fix.produced_version.trim();
    if produced.is_empty() {
        return Err(refuse("produced_version", "the release names no version"));
    }
    if crate::authoring::version_branch_category(produced) != "product_version" {
        return Err(refuse(
            "produced_version",
            format!("{produced:?} is a range; a release produces one version"),
        ));
    }
    if doc
        .get("vulnerabilities")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        return Err(refuse(
            "/vulnerabilities",
            "the document has no vulnerabilities a release could fix",
        ));
    }
    if fix.applies_to.is_empty() {
        return Err(refuse(
            "/product_tree",
            "the release applies to no product of this advisory",
        ));
    }
    let fixed_id = place_in_tree(&mut doc, fix.applies_to, produced)?;
    let touched = mark_fixed(&mut doc, fix, &fixed_id)?;
    let version = next_tracking(&mut doc, fix, produced, now)?;
    Ok(Revised {
        document: doc,
        version,
        fixed_product_id: fixed_id,
        vulnerabilities: touched,
    })
}

/// Adds the produced version beside the first product the release applies to (or finds it
/// there) and returns its product id.
fn place_in_tree(
    doc: &mut Value,
    applies_to: &BTreeSet<String>,
    produced: &str,
) -> Result<String, ReviseError> {
    let mut used = BTreeSet::new();
    collect_product_ids(doc, &mut used);
    let Some(tree) = doc.get_mut("product_tree").filter(|t| t.is_object()) else {
        return Err(refuse(
            "/product_tree",
            "the document has no product tree to add the fixed version to",
        ));
    };
    let mut found = None;
    if let Some(branches) = tree.get("branches").and_then(Value::as_array) {
        for id in applies_to {
            if let Some(path) = find_leaf(branches, id, &mut Vec::new()) {
                found = Some(path);
                break;
            }
        }
    }
    let Some(path) = found else {
        let in_full_names = tree
            .get("full_product_names")
            .and_then(Value::as_array)
            .is_some_and(|names| {
                names.iter().any(|n| {
                    n.get("product_id")
                        .and_then(Value::as_str)
                        .is_some_and(|id| applies_to.contains(id))
                })
            });
        return Err(if in_full_names {
            refuse(
                "/product_tree/full_product_names",
                "the products the release applies to are listed without branches; Herald adds \
                 a fixed version only beside a product_version branch (/product_tree/branches)",
            )
        } else {
            refuse(
                "/product_tree/branches",
                format!(
                    "none of the product ids {} is a product of the tree",
                    applies_to.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            )
        });
    };
    // `path` holds the index of every branch from the root down to the leaf.
    let mut names = Vec::new();
    let mut siblings = tree
        .get_mut("branches")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| refuse("/product_tree/branches", "not an array"))?;
    let (&leaf, parents) = path
        .split_last()
        .ok_or_else(|| refuse("/product_tree/branches", "empty"))?;
    let mut pointer = String::from("/product_tree/branches");
    for &i in parents {
        let branch = siblings
            .get_mut(i)
            .ok_or_else(|| refuse(pointer.clone(), "changed while read"))?;
        if let Some(name) = branch.get("name").and_then(Value::as_str) {
            names.push(name.to_string());
        }
        pointer = format!("{pointer}/{i}/branches");
        siblings = branch
            .get_mut("branches")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| refuse(pointer.clone(), "not an array"))?;
    }
    // Already there (a second release producing the same version, or the document names it).
    for sibling in siblings.iter() {
        let category = sibling.get("category").and_then(Value::as_str);
        let name = sibling.get("name").and_then(Value::as_str).unwrap_or("");
        if category == Some("product_version")
            && name.trim().eq_ignore_ascii_case(produced)
            && let Some(id) = sibling
                .pointer("/product/product_id")
                .and_then(Value::as_str)
        {
            return Ok(id.to_string());
        }
    }
    let id = fresh_id(&used, produced);
    // Named like the version it fixes ("Pump 4.2.0" -> "Pump 4.3.1"); else vendor, family and
    // product name with the version.
    let like_leaf = siblings.get(leaf).and_then(|b| {
        let version = b.get("name").and_then(Value::as_str)?;
        let name = b.pointer("/product/name").and_then(Value::as_str)?;
        name.strip_suffix(version)
            .filter(|stem| !stem.trim().is_empty())
            .map(|stem| format!("{stem}{produced}"))
    });
    names.push(produced.to_string());
    let product_name = like_leaf.unwrap_or_else(|| names.join(" "));
    siblings.push(json!({
        "category": "product_version",
        "name": produced,
        "product": {"name": product_name, "product_id": id},
    }));
    Ok(id)
}

/// Indexes from `branches` down to the branch whose product is `id`.
fn find_leaf(branches: &[Value], id: &str, path: &mut Vec<usize>) -> Option<Vec<usize>> {
    for (i, b) in branches.iter().enumerate() {
        path.push(i);
        if b.pointer("/product/product_id").and_then(Value::as_str) == Some(id) {
            return Some(path.clone());
        }
        if let Some(children) = b.get("branches").and_then(Value::as_array)
            && let Some(found) = find_leaf(children, id, path)
        {
            return Some(found);
        }
        path.pop();
    }
    None
}

fn collect_product_ids(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(id)) = map.get("product_id") {
                out.insert(id.clone());
            }
            map.values().for_each(|x| collect_product_ids(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| collect_product_ids(x, out)),
        _ => {}
    }
}

/// `HERALD-FIX-<version>` (characters other than letters, digits, `.` and `-` as `-`), with a
/// counter when the document already uses it.
fn fresh_id(used: &BTreeSet<String>, version: &str) -> String {
    let clean: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let base = format!("HERALD-FIX-{clean}");
    let mut id = base.clone();
    let mut n = 2;
    while used.contains(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

/// `fixed` and a `vendor_fix` in every vulnerability where a product of the release is affected.
fn mark_fixed(
    doc: &mut Value,
    fix: &ReleaseFix<'_>,
    fixed_id: &str,
) -> Result<Vec<usize>, ReviseError> {
    let vulnerabilities = doc
        .get_mut("vulnerabilities")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| refuse("/vulnerabilities", "not an array"))?;
    let mut touched = Vec::new();
    for (i, v) in vulnerabilities.iter_mut().enumerate() {
        let at = |rest: &str| format!("/vulnerabilities/{i}/{rest}");
        let Some(v) = v.as_object_mut() else {
            return Err(refuse(at(""), "not an object"));
        };
        let status = match v.get("product_status") {
            None => continue,
            Some(Value::Object(s)) => s,
            Some(_) => return Err(refuse(at("product_status"), "not an object")),
        };
        let mut affected = BTreeSet::new();
        for group in AFFECTED_GROUPS {
            for id in ids(status, group) {
                if id == fixed_id {
                    return Err(refuse(
                        at(&format!("product_status/{group}")),
                        format!(
                            "lists the version the release produces ({fixed_id}) as affected; \
                             a release cannot fix into an affected version"
                        ),
                    ));
                }
                if fix.applies_to.contains(&id) {
                    affected.insert(id);
                }
            }
        }
        if affected.is_empty() {
            continue;
        }
        touched.push(i);
        let Some(Value::Object(status)) = v.get_mut("product_status") else {
            continue;
        };
        let fixed = status
            .entry("fixed")
            .or_insert_with(|| Value::Array(Vec::new()));
        let Some(fixed) = fixed.as_array_mut() else {
            return Err(refuse(at("product_status/fixed"), "not an array"));
        };
        if !fixed.iter().any(|x| x.as_str() == Some(fixed_id)) {
            fixed.push(Value::String(fixed_id.to_string()));
        }
        let mut remediation = Map::new();
        remediation.insert("category".into(), json!("vendor_fix"));
        remediation.insert("details".into(), json!(fix.details.trim()));
        remediation.insert("product_ids".into(), json!(affected));
        if let Some(url) = fix.url.map(str::trim).filter(|u| !u.is_empty()) {
            remediation.insert("url".into(), json!(url));
        }
        if let Some(date) = fix.release_date {
            remediation.insert("date".into(), json!(date_text(date)));
        }
        let remediations = v
            .entry("remediations")
            .or_insert_with(|| Value::Array(Vec::new()));
        let Some(remediations) = remediations.as_array_mut() else {
            return Err(refuse(at("remediations"), "not an array"));
        };
        remediations.push(Value::Object(remediation));
    }
    if touched.is_empty() {
        return Err(refuse(
            "/vulnerabilities/*/product_status/known_affected",
            "no vulnerability lists a product the release applies to as affected",
        ));
    }
    Ok(touched)
}

fn ids(status: &Map<String, Value>, group: &str) -> Vec<String> {
    status
        .get(group)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Bumps the version and appends the revision-history entry; returns the new version.
fn next_tracking(
    doc: &mut Value,
    fix: &ReleaseFix<'_>,
    produced: &str,
    now: DateTime<Utc>,
) -> Result<String, ReviseError> {
    let Some(tracking) = doc
        .pointer_mut("/document/tracking")
        .and_then(Value::as_object_mut)
    else {
        return Err(refuse("/document/tracking", "missing"));
    };
    let previous = tracking
        .get("version")
        .and_then(Value::as_str)
        .ok_or_else(|| refuse("/document/tracking/version", "missing"))?;
    let version = bump_version(previous).ok_or_else(|| {
        refuse(
            "/document/tracking/version",
            format!(
                "{previous:?} is neither an integer nor a semantic version; Herald cannot number \
                 the next revision"
            ),
        )
    })?;
    let mut latest: Option<DateTime<Utc>> = None;
    let mut consider = |s: Option<&str>, path: String| -> Result<(), ReviseError> {
        if let Some(s) = s {
            let d = crate::parse_date(s)
                .map_err(|e| refuse(path, format!("{s:?} is not a date: {e}")))?;
            latest = Some(latest.map_or(d, |l| l.max(d)));
        }
        Ok(())
    };
    for key in ["current_release_date", "initial_release_date"] {
        consider(
            tracking.get(key).and_then(Value::as_str),
            format!("/document/tracking/{key}"),
        )?;
    }
    let history = tracking
        .get("revision_history")
        .and_then(Value::as_array)
        .ok_or_else(|| refuse("/document/tracking/revision_history", "missing"))?;
    for (i, r) in history.iter().enumerate() {
        consider(
            r.get("date").and_then(Value::as_str),
            format!("/document/tracking/revision_history/{i}/date"),
        )?;
    }
    let now = now.trunc_subsecs(0);
    let date = match latest {
        Some(l) if now <= l.trunc_subsecs(0) => l.trunc_subsecs(0) + Duration::seconds(1),
        _ => now,
    };
    let summary = format!(
        "{}: version {produced} fixes this advisory (vendor fix added)",
        match fix.release_name.trim() {
            "" => "Release",
            name => name,
        }
    );
    if let Some(Value::Array(history)) = tracking.get_mut("revision_history") {
        history.push(json!({"date": date_text(date), "number": version, "summary": summary}));
    }
    tracking.insert("version".into(), json!(version));
    tracking.insert("current_release_date".into(), json!(date_text(date)));
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        crate::parse_date(s).expect("date")
    }

    fn doc() -> Value {
        json!({
            "document": {"tracking": {
                "version": "1",
                "initial_release_date": "2024-05-30T06:00:00.000000Z",
                "current_release_date": "2024-05-30T06:00:00.000000Z",
                "revision_history": [{"date": "2024-05-30T06:00:00.000000Z", "number": "1", "summary": "Initial"}],
            }},
            "product_tree": {"branches": [{"category": "vendor", "name": "Baxter", "branches": [
                {"category": "product_name", "name": "Tool", "branches": [
                    {"category": "product_version_range", "name": "<=1.9.4.1",
                     "product": {"name": "Baxter Tool <=1.9.4.1", "product_id": "CSAFPID-0001"}}]}]}]},
            "vulnerabilities": [
                {"cve": "CVE-2024-5176", "product_status": {"known_affected": ["CSAFPID-0001"]},
                 "remediations": [{"category": "mitigation", "details": "x", "product_ids": ["CSAFPID-0001"]}]},
                {"cve": "CVE-2024-0000", "product_status": {"known_affected": ["CSAFPID-0009"]}}
            ]
        })
    }

    fn fix<'a>(applies: &'a BTreeSet<String>) -> ReleaseFix<'a> {
        ReleaseFix {
            applies_to: applies,
            produced_version: "1.9.4.2",
            release_name: "Tool 1.9.4.2",
            details: "Install <b>1.9.4.2</b> from the service portal.",
            url: Some("https://vendor.example/dl"),
            release_date: Some(at("2024-07-01T00:00:00Z")),
        }
    }

    #[test]
    fn adds_fixed_version_remediation_and_revision() {
        let applies = BTreeSet::from(["CSAFPID-0001".to_string()]);
        let r = apply_release(&doc(), &fix(&applies), at("2024-05-30T06:00:00.5Z")).expect("ok");
        assert_eq!(r.version, "2");
        assert_eq!(r.vulnerabilities, vec![0]);
        assert_eq!(r.fixed_product_id, "HERALD-FIX-1.9.4.2");
        let d = &r.document;
        let leaf = d
            .pointer("/product_tree/branches/0/branches/0/branches/1")
            .expect("leaf");
        assert_eq!(leaf["category"], "product_version");
        assert_eq!(leaf["product"]["name"], "Baxter Tool 1.9.4.2");
        let mut unlike = doc();
        unlike["product_tree"]["branches"][0]["branches"][0]["branches"][0]["product"]["name"] =
            json!("Tool, old versions");
        let r2 = apply_release(&unlike, &fix(&applies), at("2024-06-01T00:00:00Z")).expect("ok");
        assert_eq!(
            r2.document["product_tree"]["branches"][0]["branches"][0]["branches"][1]["product"]["name"],
            "Baxter Tool 1.9.4.2"
        );
        let status = &d["vulnerabilities"][0]["product_status"];
        assert_eq!(status["known_affected"], json!(["CSAFPID-0001"]));
        assert_eq!(status["fixed"], json!(["HERALD-FIX-1.9.4.2"]));
        let rem = &d["vulnerabilities"][0]["remediations"][1];
        assert_eq!(rem["category"], "vendor_fix");
        assert_eq!(rem["url"], "https://vendor.example/dl");
        assert_eq!(rem["product_ids"], json!(["CSAFPID-0001"]));
        // The untouched vulnerability stays as it was.
        assert_eq!(d["vulnerabilities"][1], doc()["vulnerabilities"][1]);
        // The clock is not past the last release: one second after it.
        let t = &d["document"]["tracking"];
        assert_eq!(t["current_release_date"], "2024-05-30T06:00:01Z");
        assert_eq!(t["revision_history"][1]["number"], "2");
        // A second release producing the same version reuses the product.
        let again = apply_release(d, &fix(&applies), at("2024-08-01T00:00:00Z")).expect("second");
        assert_eq!(again.fixed_product_id, r.fixed_product_id);
        assert_eq!(again.version, "3");
        assert_eq!(
            again.document["vulnerabilities"][0]["product_status"]["fixed"],
            json!(["HERALD-FIX-1.9.4.2"])
        );
    }

    #[test]
    fn refusals_name_the_path() {
        let applies = BTreeSet::from(["CSAFPID-0001".to_string()]);
        let mut no_tree = doc();
        no_tree.as_object_mut().map(|o| o.remove("product_tree"));
        let e = apply_release(&no_tree, &fix(&applies), Utc::now()).expect_err("no tree");
        assert_eq!(e.path, "/product_tree");

        let other = BTreeSet::from(["CSAFPID-0009".to_string()]);
        let e = apply_release(&doc(), &fix(&other), Utc::now()).expect_err("not in tree");
        assert_eq!(e.path, "/product_tree/branches");

        let mut no_vulns = doc();
        no_vulns["vulnerabilities"] = json!([]);
        let e = apply_release(&no_vulns, &fix(&applies), Utc::now()).expect_err("no vulns");
        assert_eq!(e.path, "/vulnerabilities");

        let mut odd_version = doc();
        odd_version["document"]["tracking"]["version"] = json!("v1");
        let e = apply_release(&odd_version, &fix(&applies), Utc::now()).expect_err("version");
        assert_eq!(e.path, "/document/tracking/version");

        let mut not_affected = doc();
        not_affected["vulnerabilities"][0]["product_status"] =
            json!({"known_not_affected": ["CSAFPID-0001"]});
        let e = apply_release(&not_affected, &fix(&applies), Utc::now()).expect_err("status");
        assert_eq!(e.path, "/vulnerabilities/*/product_status/known_affected");

        let mut range = fix(&applies);
        range.produced_version = "<=2.0";
        let e = apply_release(&doc(), &range, Utc::now()).expect_err("range");
        assert_eq!(e.path, "produced_version");

        let mut flat = doc();
        flat["product_tree"] =
            json!({"full_product_names": [{"name": "Tool", "product_id": "CSAFPID-0001"}]});
        let e = apply_release(&flat, &fix(&applies), Utc::now()).expect_err("flat");
        assert_eq!(e.path, "/product_tree/full_product_names");
    }
}
