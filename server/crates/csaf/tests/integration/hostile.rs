//! Hostile and malformed input: each is refused with a clear finding (or, for markup in text,
//! accepted with the text kept verbatim), and nothing panics or overflows the stack.
//! The base document is the repository's own demo advisory, changed in one place per test.

use anyhow::{Result, anyhow};
use herald_csaf::{MAX_DOCUMENT_BYTES, Rejection, Severity, validate};
use serde_json::{Value, json};

fn base() -> Result<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../demo/mms-sa-2026-001.json"
    );
    Ok(serde_json::from_slice(&std::fs::read(path)?)?)
}

fn refused(bytes: &[u8]) -> Result<Rejection> {
    match validate(bytes) {
        Ok(v) => Err(anyhow!("accepted: {:?}", v.summary.tracking_id)),
        Err(r) => Ok(r),
    }
}

fn has_error(r: &Rejection, test_id: &str, path: &str) -> bool {
    r.errors().any(|f| f.test_id == test_id && f.path == path)
}

#[test]
fn oversized_document_is_refused_before_parsing() -> Result<()> {
    let mut bytes = serde_json::to_vec(&base()?)?;
    bytes.resize(MAX_DOCUMENT_BYTES + 1, b' '); // trailing whitespace: still valid JSON
    let r = refused(&bytes)?;
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].test_id, "herald.size");
    assert!(r.to_string().contains("10485761 bytes"), "{r}");
    Ok(())
}

#[test]
fn deeply_nested_json_is_refused_without_stack_overflow() -> Result<()> {
    let depth = 100_000;
    let bytes = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let r = refused(bytes.as_bytes())?;
    assert_eq!(r.findings[0].test_id, "json");
    assert!(r.findings[0].message.contains("line 1, column"), "{r}");

    // Nesting inside an otherwise valid document, just under serde_json's limit.
    let mut doc = base()?;
    let mut deep = json!("bottom");
    for _ in 0..100 {
        deep = json!([deep]);
    }
    doc["document"]["x_deep"] = deep;
    let validated = validate(&serde_json::to_vec(&doc)?).map_err(|r| anyhow!("{r}"))?;
    assert!(validated.warnings.iter().any(|w| w.test_id == "6.2.20"));
    Ok(())
}

#[test]
fn invalid_utf8_is_refused_with_its_offset() -> Result<()> {
    let mut bytes = serde_json::to_vec(&base()?)?;
    let at = bytes
        .windows(8)
        .position(|w| w == b"FlowSure")
        .ok_or_else(|| anyhow!("marker"))?;
    bytes[at] = 0xff;
    let r = refused(&bytes)?;
    assert_eq!(r.findings[0].test_id, "herald.utf8");
    assert!(
        r.findings[0].message.contains(&format!("byte offset {at}")),
        "{r}"
    );
    Ok(())
}

#[test]
fn not_json_names_line_and_column() -> Result<()> {
    let r = refused(b"{\n  \"document\": {\n    \"title\": oops\n")?;
    assert_eq!(r.findings[0].test_id, "json");
    assert!(r.findings[0].message.contains("line 3, column"), "{r}");
    assert!(refused(b"")?.findings[0].test_id == "json");
    Ok(())
}

#[test]
fn markup_in_title_survives_as_plain_text() -> Result<()> {
    let title = "<script>alert('x')</script><img src=x onerror=alert(1)> & \"quotes\" \u{202e}";
    let mut doc = base()?;
    doc["document"]["title"] = json!(title);
    doc["vulnerabilities"][0]["notes"][0]["text"] = json!("<b>bold</b>");
    let s = validate(&serde_json::to_vec(&doc)?)
        .map_err(|r| anyhow!("{r}"))?
        .summary;
    assert_eq!(s.title, title);
    assert_eq!(
        s.vulnerabilities[0].description.as_deref(),
        Some("<b>bold</b>")
    );
    Ok(())
}

#[test]
fn schema_errors_are_findings_with_pointers() -> Result<()> {
    let mut doc = base()?;
    doc["vulnerabilities"][0]["product_status"]["fixed"][0] = json!(42);
    let r = refused(&serde_json::to_vec(&doc)?)?;
    assert!(
        has_error(&r, "schema", "/vulnerabilities/0/product_status/fixed/0"),
        "{r}"
    );
    let not_an_object = refused(b"[1, 2, 3]")?;
    assert!(not_an_object.errors().any(|f| f.test_id == "schema"));
    Ok(())
}

#[test]
fn release_dates_rule() -> Result<()> {
    // current_release_date after the newest revision.
    let mut doc = base()?;
    doc["document"]["tracking"]["current_release_date"] = json!("2026-03-11T09:00:00.000Z");
    let r = refused(&serde_json::to_vec(&doc)?)?;
    assert!(
        has_error(
            &r,
            "herald.release-dates",
            "/document/tracking/current_release_date"
        ),
        "{r}"
    );
    // Same instant written with another offset is fine.
    let mut doc = base()?;
    doc["document"]["tracking"]["current_release_date"] = json!("2026-03-10T10:00:00+01:00");
    validate(&serde_json::to_vec(&doc)?).map_err(|r| anyhow!("{r}"))?;
    // current before initial.
    let mut doc = base()?;
    doc["document"]["tracking"]["initial_release_date"] = json!("2026-04-01T00:00:00.000Z");
    let r = refused(&serde_json::to_vec(&doc)?)?;
    assert!(
        r.errors()
            .any(|f| f.test_id == "herald.release-dates" && f.message.contains("before")),
        "{r}"
    );
    Ok(())
}

#[test]
fn cwe_rule_accepts_any_catalogue_name_and_refuses_unknown() -> Result<()> {
    // CWE-200's name before CWE 4.0; valid under Herald's 6.1.11.
    let mut doc = base()?;
    doc["vulnerabilities"][0]["cwe"] = json!({"id": "CWE-200", "name": "Information Exposure"});
    validate(&serde_json::to_vec(&doc)?).map_err(|r| anyhow!("{r}"))?;

    doc["vulnerabilities"][0]["cwe"] = json!({"id": "CWE-200", "name": "Leaky pipes"});
    let r = refused(&serde_json::to_vec(&doc)?)?;
    assert!(
        has_error(&r, "6.1.11", "/vulnerabilities/0/cwe/name"),
        "{r}"
    );

    doc["vulnerabilities"][0]["cwe"] = json!({"id": "CWE-999999", "name": "Nothing"});
    let r = refused(&serde_json::to_vec(&doc)?)?;
    assert!(has_error(&r, "6.1.11", "/vulnerabilities/0/cwe/id"), "{r}");
    Ok(())
}

#[test]
fn bad_gs1_uri_warns_and_gives_no_udi() -> Result<()> {
    let mut doc = base()?;
    let helper = "/product_tree/branches/0/branches/0/branches/0/branches/0/product/product_identification_helper";
    let uri = doc
        .pointer_mut(&format!("{helper}/x_generic_uris/0/uri"))
        .ok_or_else(|| anyhow!("demo document layout changed"))?;
    *uri = json!("https://id.gs1.org/01/09506000134209"); // wrong check digit
    let v = validate(&serde_json::to_vec(&doc)?).map_err(|r| anyhow!("{r}"))?;
    let w = v
        .warnings
        .iter()
        .find(|w| w.test_id == "herald.udi-di")
        .ok_or_else(|| anyhow!("no herald.udi-di warning: {:?}", v.warnings))?;
    assert_eq!(w.severity, Severity::Warning);
    assert_eq!(w.path, format!("{helper}/x_generic_uris/0/uri"));
    assert_eq!(v.summary.products[0].udi_di, None);
    Ok(())
}

#[test]
fn rejection_display_lists_every_finding() -> Result<()> {
    let mut doc = base()?;
    doc["document"]["tracking"]["version"] = json!("7");
    doc["vulnerabilities"][0]["remediations"][1]
        .as_object_mut()
        .ok_or_else(|| anyhow!("remediation"))?
        .remove("product_ids");
    let r = refused(&serde_json::to_vec(&doc)?)?;
    let text = r.to_string();
    assert!(
        text.contains("[6.1.16]") && text.contains("[6.1.29]"),
        "{text}"
    );
    assert!(text.contains("/vulnerabilities/0/remediations/1"), "{text}");
    Ok(())
}
