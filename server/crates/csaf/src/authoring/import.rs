//! A published document back into a [`Draft`] ([`draft_from_document`]), so an update starts
//! from what was published, and what the form has no place for ([`form_would_drop`]).

use super::*;

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
