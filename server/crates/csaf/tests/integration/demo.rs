//! The repository's own demo advisories (`server/demo/`, fictional "Meridian Medical Systems")
//! pass Herald's validator and summarise as the demo promises. Needs nothing outside the repo.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use herald_csaf::{AdvisorySummary, Tlp, document_path, file_name, validate};

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo")
}

fn load(name: &str) -> Result<AdvisorySummary> {
    let bytes = std::fs::read(demo_dir().join(name)).with_context(|| name.to_string())?;
    let validated = validate(&bytes).map_err(|r| anyhow!("{name}: {r}"))?;
    Ok(validated.summary)
}

#[test]
fn every_demo_document_is_valid_without_warnings_and_correctly_named() -> Result<()> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(demo_dir())? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let bytes = std::fs::read(&path)?;
        let validated = validate(&bytes).map_err(|r| anyhow!("{name}: {r}"))?;
        assert!(
            validated.warnings.is_empty(),
            "{name}: {:?}",
            validated.warnings
        );
        assert_eq!(file_name(&validated.summary.tracking_id), name);
        assert_eq!(
            validated.summary.publisher.namespace,
            "https://meridian-medical.example"
        );
        // The self reference is the URL the provider serves the document under.
        let s = &validated.summary;
        let self_ref = s
            .references
            .iter()
            .find(|r| r.category.as_deref() == Some("self"))
            .context("self reference")?;
        assert_eq!(
            self_ref.url,
            format!(
                "https://meridian-medical.example/.well-known/csaf/{}",
                document_path(s.distribution_tlp(), s.year(), &s.tracking_id)
            )
        );
        names.push(name);
    }
    names.sort();
    assert_eq!(
        names,
        [
            "mms-ia-2026-001.json",
            "mms-sa-2026-001.json",
            "mms-sa-2026-002.json",
            "mms-sa-2026-003.json"
        ]
    );
    Ok(())
}

#[test]
fn infusion_pump_advisory() -> Result<()> {
    let s = load("mms-sa-2026-001.json")?;
    assert_eq!(s.category, "csaf_security_advisory");
    assert_eq!(s.tlp, Some(Tlp::White));
    assert_eq!(
        (s.max_cvss, s.severity.as_deref()),
        (Some(8.8), Some("high"))
    );
    assert_eq!(s.cves(), ["CVE-2099-10001"]);
    let p = s
        .products
        .iter()
        .find(|p| p.product_id == "MMS-PUMP-420")
        .context("product MMS-PUMP-420")?;
    assert_eq!(p.vendor.as_deref(), Some("Meridian Medical Systems"));
    assert_eq!(p.family.as_deref(), Some("Infusion Systems"));
    assert_eq!(p.product_name.as_deref(), Some("Meridian FlowSure 300"));
    assert_eq!(p.version.as_deref(), Some("4.2.0"));
    assert_eq!(p.udi_di.as_deref(), Some("09506000134208"));
    assert!(
        p.cpe
            .as_deref()
            .is_some_and(|c| c.starts_with("cpe:2.3:h:meridian-medical"))
    );
    assert_eq!(
        p.purl.as_deref(),
        Some("pkg:generic/meridian-medical/flowsure-300-firmware@4.2.0")
    );
    let v = &s.vulnerabilities[0];
    assert_eq!(v.cwe_id.as_deref(), Some("CWE-798"));
    let categories: Vec<&str> = v.remediations.iter().map(|r| r.category.as_str()).collect();
    assert_eq!(categories, ["vendor_fix", "mitigation"]);
    assert_eq!(
        v.product_status,
        [
            ("fixed".to_string(), vec!["MMS-PUMP-431".to_string()]),
            (
                "known_affected".to_string(),
                vec!["MMS-PUMP-420".to_string(), "MMS-PUMP-421".to_string()]
            ),
        ]
    );
    assert_eq!(
        s.acknowledgments,
        ["Alex Example (Example Hospital Biomedical Engineering)"]
    );
    Ok(())
}

#[test]
fn patient_monitor_has_two_revisions_and_is_critical() -> Result<()> {
    let s = load("mms-sa-2026-002.json")?;
    assert_eq!(s.revision_history.len(), 2);
    assert_eq!(s.version, "2");
    assert_eq!(s.severity.as_deref(), Some("critical"));
    assert_eq!(s.current_release_date, s.revision_history[1].date);
    assert!(s.initial_release_date < s.current_release_date);
    assert_eq!(s.year(), 2026);
    Ok(())
}

#[test]
fn imaging_is_green_and_eol_is_informational() -> Result<()> {
    let img = load("mms-sa-2026-003.json")?;
    assert_eq!(img.tlp, Some(Tlp::Green));
    assert_eq!(img.severity.as_deref(), Some("medium"));
    let eol = load("mms-ia-2026-001.json")?;
    assert_eq!(eol.category, "csaf_informational_advisory");
    assert!(eol.vulnerabilities.is_empty());
    assert_eq!((eol.max_cvss, eol.severity), (None, None));
    assert!(
        eol.summary
            .as_deref()
            .is_some_and(|t| t.contains("2026-12-31"))
    );
    Ok(())
}
