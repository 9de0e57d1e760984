//! [`build_document`]: the CSAF 2.0 `csaf_security_advisory` a [`Draft`] describes, with the
//! tracking data Herald owns; and the canonical bytes it is published as.

use super::*;

pub(super) fn nonblank(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

pub(super) fn tlp_label(tlp: Tlp) -> &'static str {
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
pub(super) fn sorted_keys(value: Value) -> Value {
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
