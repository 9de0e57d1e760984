//! Authored advisories: a rich draft and its second revision build into documents that pass
//! Herald's validation (and the BSI validator `csaf-tool`, when `../shared` is there), hostile
//! text stays plain text, bad input names the draft field, and a published document reads back
//! into a draft.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, ensure};
use chrono::{DateTime, Utc};
use herald_csaf::Tlp;
use herald_csaf::authoring::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("date")
        .with_timezone(&Utc)
}

fn publisher() -> PublisherInfo {
    PublisherInfo {
        name: "Larkspur Medical".into(),
        namespace: "https://larkspur-medical.example".into(),
        contact_details: Some("mailto:psirt@larkspur-medical.example".into()),
    }
}

fn product(id: &str, family: Option<&str>, name: &str, version: &str) -> DraftProduct {
    DraftProduct {
        product_id: id.into(),
        catalog_id: None,
        vendor: "Larkspur Medical".into(),
        family: family.map(str::to_string),
        name: name.into(),
        version: version.into(),
        udi_di: None,
        cpe: None,
        purl: None,
    }
}

pub fn rich_draft() -> Draft {
    let mut pump = product(
        "CSAFPID-0001",
        Some("Nimbus"),
        "Nimbus Infusion Pump",
        "4.2",
    );
    pump.udi_di = Some("00812345000016".into());
    pump.cpe = Some("cpe:2.3:h:larkspur:nimbus_infusion_pump:4.2:*:*:*:*:*:*:*".into());
    let mut pump43 = product(
        "CSAFPID-0002",
        Some("Nimbus"),
        "Nimbus Infusion Pump",
        "4.3",
    );
    pump43.purl = Some("pkg:generic/larkspur/nimbus-firmware@4.3".into());
    let gateway = product("CSAFPID-0003", None, "Stratus Gateway", "2.0.1");
    Draft {
        title: "Larkspur Nimbus infusion pump: hard-coded credentials <script>alert(1)</script>"
            .into(),
        tlp: Tlp::White,
        summary: "Nimbus pumps before 4.3 accept a hard-coded service password. \"Quotes\" & <b>tags</b> stay text."
            .into(),
        notes: vec![DraftNote {
            category: "general".into(),
            title: "Clinical impact".into(),
            text: "An attacker on the hospital network could change infusion parameters.".into(),
        }],
        references: vec![DraftReference {
            url: "https://larkspur-medical.example/psirt/nimbus".into(),
            summary: "Larkspur PSIRT page".into(),
        }],
        acknowledgments: vec![DraftAcknowledgment {
            names: vec!["Ada Example".into()],
            organization: Some("Example Research".into()),
        }],
        products: vec![pump, pump43, gateway],
        vulnerabilities: vec![
            DraftVulnerability {
                cve: Some("CVE-2026-10001".into()),
                cwe_id: Some("CWE-798".into()),
                cwe_name: Some("Use of Hard-coded Credentials".into()),
                title: Some("Hard-coded service password".into()),
                description: "The service port accepts a fixed password.".into(),
                cvss_v3_vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
                known_affected: vec!["CSAFPID-0001".into()],
                fixed: vec!["CSAFPID-0002".into()],
                known_not_affected: vec!["CSAFPID-0003".into()],
                not_affected_justification: Some("component_not_present".into()),
                remediations: vec![
                    DraftRemediation {
                        category: RemediationCategory::VendorFix,
                        details: "Update to firmware 4.3.".into(),
                        url: Some("https://larkspur-medical.example/downloads/nimbus-4.3".into()),
                        product_ids: vec!["CSAFPID-0001".into()],
                    },
                    DraftRemediation {
                        category: RemediationCategory::Mitigation,
                        details: "Block TCP port 2222 at the network segment.".into(),
                        url: None,
                        product_ids: vec!["CSAFPID-0001".into()],
                    },
                ],
            },
            DraftVulnerability {
                cve: Some("CVE-2026-10002".into()),
                cwe_id: Some("CWE-79".into()),
                cwe_name: Some(
                    "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')"
                        .into(),
                ),
                title: None,
                description: "The gateway's status page reflects <script>alert(2)</script>.".into(),
                cvss_v3_vector: Some("AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N".into()),
                known_affected: vec!["CSAFPID-0003".into()],
                fixed: vec![],
                known_not_affected: vec![],
                not_affected_justification: None,
                remediations: vec![DraftRemediation {
                    category: RemediationCategory::NoFixPlanned,
                    details: "The gateway is end of life; replace it.".into(),
                    url: None,
                    product_ids: vec!["CSAFPID-0003".into()],
                }],
            },
        ],
        revision_summary: String::new(),
    }
}

/// The rich draft's second revision: the pump fix is out for everyone.
pub fn second_draft() -> Draft {
    let mut d = rich_draft();
    let v = &mut d.vulnerabilities[0];
    v.known_affected.clear();
    v.fixed = vec!["CSAFPID-0001".into(), "CSAFPID-0002".into()];
    v.remediations = vec![DraftRemediation {
        category: RemediationCategory::VendorFix,
        details: "Firmware 4.3 is installed by the field service.".into(),
        url: Some("https://larkspur-medical.example/downloads/nimbus-4.3".into()),
        product_ids: vec!["CSAFPID-0001".into()],
    }];
    d.revision_summary = "Fix rolled out".into();
    d
}

fn build_both() -> Result<(Vec<u8>, Vec<u8>)> {
    let first = first_revision("LARKSPUR-2026-0001", at("2026-11-28T10:00:00Z"), "");
    let doc1 = build_document(&rich_draft(), &publisher(), &first)?;
    // The clock of the second publication is behind the first one: dates still increase.
    let second = next_revision(&first, at("2026-11-28T09:59:00Z"), "Fix rolled out")?;
    let doc2 = build_document(&second_draft(), &publisher(), &second)?;
    Ok((document_bytes(&doc1), document_bytes(&doc2)))
}

#[test]
fn rich_draft_and_second_revision_are_valid_csaf() -> Result<()> {
    let (one, two) = build_both()?;
    for (name, bytes) in [("first", &one), ("second", &two)] {
        let validated = herald_csaf::validate(bytes)
            .map_err(|r| anyhow::anyhow!("{name} revision refused: {:#?}", r.findings))?;
        let s = validated.summary;
        ensure!(s.tracking_id == "LARKSPUR-2026-0001");
        ensure!(s.max_cvss == Some(9.8), "{name}: max cvss {:?}", s.max_cvss);
        ensure!(s.severity.as_deref() == Some("critical"));
        let pump = s
            .products
            .iter()
            .find(|p| p.product_id == "CSAFPID-0001")
            .expect("pump");
        ensure!(pump.udi_di.as_deref() == Some("00812345000016"), "{pump:?}");
        ensure!(pump.family.as_deref() == Some("Nimbus"), "{pump:?}");
        ensure!(pump.version.as_deref() == Some("4.2"), "{pump:?}");
    }
    let two = herald_csaf::validate(&two).expect("valid").summary;
    ensure!(two.version == "2");
    ensure!(two.revision_history.len() == 2);
    ensure!(two.revision_history[1].summary == "Fix rolled out");
    ensure!(two.current_release_date == at("2026-11-28T10:00:01Z"));
    ensure!(two.initial_release_date == at("2026-11-28T10:00:00Z"));
    Ok(())
}

#[test]
fn scope_changed_score_lands_in_the_document() -> Result<()> {
    let (one, _) = build_both()?;
    let doc: serde_json::Value = serde_json::from_slice(&one)?;
    let cvss = &doc["vulnerabilities"][1]["scores"][0]["cvss_v3"];
    ensure!(cvss["vectorString"] == "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N");
    ensure!(cvss["baseScore"] == 6.1, "{cvss}");
    ensure!(cvss["baseSeverity"] == "MEDIUM");
    ensure!(cvss["version"] == "3.1");
    Ok(())
}

#[test]
fn hostile_text_stays_plain_text() -> Result<()> {
    let (one, _) = build_both()?;
    let doc: serde_json::Value = serde_json::from_slice(&one)?;
    ensure!(
        doc["document"]["title"]
            == "Larkspur Nimbus infusion pump: hard-coded credentials <script>alert(1)</script>"
    );
    ensure!(
        doc["vulnerabilities"][1]["notes"][0]["text"]
            == "The gateway's status page reflects <script>alert(2)</script>."
    );
    let text = String::from_utf8(one)?;
    ensure!(text.contains("<script>alert(1)</script>"));
    ensure!(!text.contains("&lt;script"));
    Ok(())
}

#[test]
fn invalid_vector_names_the_vulnerability_and_field() {
    let mut d = rich_draft();
    d.vulnerabilities[1].cvss_v3_vector = Some("CVSS:3.1/AV:X/AC:L".into());
    let err = build_document(
        &d,
        &publisher(),
        &first_revision("X-1", at("2026-11-28T10:00:00Z"), ""),
    )
    .expect_err("bad vector accepted");
    assert_eq!(err.problems.len(), 1, "{err}");
    assert_eq!(err.problems[0].field, "vulnerabilities[1].cvss_v3_vector");
}

#[test]
fn unknown_product_ids_and_missing_fields_are_named() {
    let mut d = rich_draft();
    d.vulnerabilities[0]
        .known_affected
        .push("CSAFPID-9999".into());
    d.products[2].name = " ".into();
    d.vulnerabilities[0].not_affected_justification = None;
    let err = build_document(
        &d,
        &publisher(),
        &first_revision("X-1", at("2026-11-28T10:00:00Z"), ""),
    )
    .expect_err("accepted");
    let fields: Vec<&str> = err.problems.iter().map(|p| p.field.as_str()).collect();
    assert!(fields.contains(&"products[2].name"), "{fields:?}");
    assert!(
        fields.contains(&"vulnerabilities[0].known_affected"),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"vulnerabilities[0].not_affected_justification"),
        "{fields:?}"
    );
}

#[test]
fn published_document_reads_back_into_a_draft() -> Result<()> {
    let (one, _) = build_both()?;
    let (draft, tracking) = draft_from_document(&one)?;
    let mut expected = rich_draft();
    // Trimmed and normalised on the way through the document.
    expected.vulnerabilities[1].cvss_v3_vector =
        Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N".into());
    ensure!(draft.title == expected.title);
    ensure!(draft.summary == expected.summary);
    // The product tree groups products by vendor, family and name: compare by product id.
    let mut products = draft.products.clone();
    products.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    ensure!(products == expected.products, "{products:#?}");
    ensure!(
        draft.vulnerabilities == expected.vulnerabilities,
        "{:#?}",
        draft.vulnerabilities
    );
    ensure!(draft.notes == expected.notes);
    ensure!(draft.references == expected.references);
    ensure!(draft.acknowledgments == expected.acknowledgments);
    ensure!(tracking.version == "1" && tracking.revision_history.len() == 1);
    // An imported CISA advisory maps as far as the model goes and its update validates.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/csaf/corpus/icsma");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut checked = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                let bytes = std::fs::read(&path)?;
                let (draft, tracking) = draft_from_document(&bytes)?;
                ensure!(!draft.products.is_empty(), "{}", path.display());
                ensure!(!tracking.revision_history.is_empty());
                checked += 1;
            }
        }
        ensure!(checked > 0, "no ICSMA documents in {}", dir.display());
    } else {
        println!(
            "SKIPPED imported-document check: {} not found",
            dir.display()
        );
    }
    Ok(())
}

fn csaf_tool() -> Option<PathBuf> {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/csaf/csaf-tool");
    tool.exists().then_some(tool)
}

#[test]
fn bsi_validator_accepts_both_revisions() -> Result<()> {
    let Some(tool) = csaf_tool() else {
        println!("SKIPPED: ../shared/csaf/csaf-tool not found beside the repository");
        return Ok(());
    };
    let (one, two) = build_both()?;
    let dir = tempfile::tempdir()?;
    let a = dir.path().join("larkspur-2026-0001-v1.json");
    let b = dir.path().join("larkspur-2026-0001-v2.json");
    std::fs::write(&a, &one)?;
    std::fs::write(&b, &two)?;
    let out = Command::new(&tool)
        .arg("validate")
        .arg(&a)
        .arg(&b)
        .output()?;
    let report = String::from_utf8_lossy(&out.stdout);
    println!("csaf-tool validate:\n{report}");
    ensure!(
        out.status.success(),
        "csaf-tool validate failed ({}):\n{report}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// A catalog entry whose version is a range (as imported advisories bring) is written as a
/// `product_version_range` branch, so the document still passes mandatory test 6.1.31.
#[test]
fn range_versions_from_the_catalog_stay_valid() -> Result<()> {
    let mut draft = rich_draft();
    draft.products[2].version = "<=2.0.1".into();
    let first = first_revision("LARKSPUR-2026-0002", at("2026-11-28T10:00:00Z"), "");
    let bytes = document_bytes(&build_document(&draft, &publisher(), &first)?);
    herald_csaf::validate(&bytes).map_err(|r| anyhow::anyhow!("refused: {:#?}", r.findings))?;
    let text = String::from_utf8(bytes)?;
    ensure!(text.contains("\"product_version_range\""), "{text}");
    ensure!(version_branch_category("4.2.1") == "product_version");
    ensure!(version_branch_category("All versions prior to 3") == "product_version_range");
    ensure!(version_branch_category("vers:generic/>=1.0|<2.0") == "product_version_range");
    Ok(())
}

#[test]
fn what_the_form_would_drop_is_named() -> Result<()> {
    let (one, two) = build_both()?;
    for bytes in [&one, &two] {
        let doc: serde_json::Value = serde_json::from_slice(bytes)?;
        let dropped = form_would_drop(&doc);
        ensure!(dropped.is_empty(), "Herald's own document: {dropped:?}");
    }
    let mut doc: serde_json::Value = serde_json::from_slice(&one)?;
    doc["product_tree"]["relationships"] = serde_json::json!([{
        "category": "installed_on", "product_reference": "CSAFPID-0001",
        "relates_to_product_reference": "CSAFPID-0002",
        "full_product_name": {"name": "a on b", "product_id": "CSAFPID-9001"}
    }]);
    doc["vulnerabilities"][0]["threats"] =
        serde_json::json!([{"category": "impact", "details": "Patient harm"}]);
    doc["vulnerabilities"][0]["scores"][0]["cvss_v4"] = serde_json::json!({"version": "4.0", "vectorString": "CVSS:4.0/AV:N", "baseScore": 9.3, "baseSeverity": "CRITICAL"});
    doc["vulnerabilities"][1]["product_status"]["under_investigation"] =
        serde_json::json!(["CSAFPID-0002"]);
    let dropped = form_would_drop(&doc);
    ensure!(
        dropped
            == [
                "/product_tree/relationships",
                "/vulnerabilities/0/threats",
                "/vulnerabilities/0/scores/0/cvss_v4",
                "/vulnerabilities/1/product_status/under_investigation",
            ],
        "{dropped:?}"
    );
    Ok(())
}
