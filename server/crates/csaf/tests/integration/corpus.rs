//! The shared corpus (`../shared/csaf/corpus` beside the repository): every broken document is
//! refused with the rule its `EXPECTED.tsv` names, every edge, ICSMA and OASIS document is
//! accepted. Skipped, with a note, when the shared folder is not there.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use herald_csaf::{Severity, file_name, validate};

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/csaf/corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("SKIPPED: shared corpus not found at {}", dir.display());
        None
    }
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    Ok(files)
}

#[test]
fn broken_documents_are_refused_with_the_expected_rule() -> Result<()> {
    let Some(corpus) = corpus() else {
        return Ok(());
    };
    let expected = std::fs::read_to_string(corpus.join("broken/EXPECTED.tsv"))?;
    let mut checked = 0;
    let mut failures = Vec::new();
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        let mut cols = line.split('\t');
        let (Some(file), Some(rule)) = (cols.next(), cols.next()) else {
            bail!("malformed EXPECTED.tsv line: {line}");
        };
        // "6.1.17/6.1.19/6.1.20 status final ..." names several acceptable rules and
        // "schema: required ..." ends with a colon; the rule ends at the first space.
        let rules: Vec<&str> = rule
            .split(' ')
            .next()
            .unwrap_or_default()
            .trim_end_matches(':')
            .split('/')
            .collect();
        let bytes = std::fs::read(corpus.join(file)).with_context(|| file.to_string())?;
        match validate(&bytes) {
            Ok(_) => failures.push(format!("{file}: accepted, expected {rules:?}")),
            Err(rejection) => {
                let hit = rejection
                    .errors()
                    .any(|f| rules.iter().any(|r| f.test_id.starts_with(r)));
                if !hit {
                    failures.push(format!("{file}: expected {rules:?}, got {rejection}"));
                }
            }
        }
        checked += 1;
    }
    let on_disk = json_files(&corpus.join("broken"))?.len();
    assert_eq!(
        checked, on_disk,
        "EXPECTED.tsv must cover every broken document"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

#[test]
fn edge_icsma_and_oasis_documents_are_accepted() -> Result<()> {
    let Some(corpus) = corpus() else {
        return Ok(());
    };
    let mut failures = Vec::new();
    let mut count = 0;
    for folder in ["edge", "icsma", "oasis"] {
        for path in json_files(&corpus.join(folder))? {
            count += 1;
            let bytes = std::fs::read(&path)?;
            match validate(&bytes) {
                Ok(v) => {
                    assert!(v.warnings.iter().all(|w| w.severity != Severity::Error));
                    // CISA and OASIS name their files by the section 5.1 rule (the edge documents
                    // are named after what they test).
                    if folder != "edge" {
                        let name = path
                            .file_name()
                            .and_then(|n| n.to_str())
                            .unwrap_or_default();
                        assert_eq!(file_name(&v.summary.tracking_id), name);
                    }
                }
                Err(r) => failures.push(format!("{}: {r}", path.display())),
            }
        }
    }
    assert!(
        count >= 28,
        "expected the full corpus, found {count} documents"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

#[test]
fn additional_property_only_warns_6_2_20() -> Result<()> {
    let Some(corpus) = corpus() else {
        return Ok(());
    };
    let bytes = std::fs::read(corpus.join("edge/edge-6-2-20-additional-property.json"))?;
    let validated = validate(&bytes).map_err(|r| anyhow::anyhow!("{r}"))?;
    assert!(
        validated
            .warnings
            .iter()
            .any(|w| w.test_id == "6.2.20" && w.severity == Severity::Warning),
        "{:?}",
        validated.warnings
    );
    Ok(())
}

#[test]
fn icsma_summary_has_products_scores_and_dates() -> Result<()> {
    let Some(corpus) = corpus() else {
        return Ok(());
    };
    let bytes = std::fs::read(corpus.join("icsma/icsma-24-151-01.json"))?;
    let s = validate(&bytes)
        .map_err(|r| anyhow::anyhow!("{r}"))?
        .summary;
    let raw: serde_json::Value = serde_json::from_slice(&bytes)?;
    assert_eq!(
        s.tracking_id,
        raw["document"]["tracking"]["id"]
            .as_str()
            .unwrap_or_default()
    );
    assert_eq!(
        s.current_release_date
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)[..10],
        raw["document"]["tracking"]["current_release_date"]
            .as_str()
            .unwrap_or_default()[..10]
    );
    assert!(!s.products.is_empty());
    assert!(
        s.products.iter().all(|p| p.vendor.is_some()),
        "{:?}",
        s.products
    );
    assert!(!s.vulnerabilities.is_empty());
    // The highest score over all vulnerabilities, recomputed here from the raw JSON.
    let max = raw["vulnerabilities"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|v| v["scores"].as_array().cloned().unwrap_or_default())
        .filter_map(|sc| sc["cvss_v3"]["baseScore"].as_f64())
        .fold(f64::MIN, f64::max);
    assert_eq!(s.max_cvss, Some(max));
    Ok(())
}
