//! The per-TLP listings of current documents: `index.txt` (CSAF 7.1.12), `changes.csv` (7.1.13),
//! the ROLIE feed (7.1.15, RFC 8322), and the ROLIE service (7.1.16) and category (7.1.17)
//! documents; plus the content of the `.sha256`/`.sha512` files (7.1.18).
//!
//! Every function takes the [`DocumentEntry`] list of *one* TLP as storage returns it
//! (`storage's `list_current_documents``) and checks that each path lies in that TLP's
//! directory, so a document can never leak into another label's listing.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use herald_csaf::DocumentEntry;
use herald_csaf::{AdvisorySummary, Tlp};
use serde_json::{Value, json};

use crate::DistributionError;
use crate::layout::{Provider, Sidecar, path_in_tlp_dir, require_distributed, tlp_title};
use crate::provider::{rfc3339, sorted_tlps};

/// ROLIE information-type category every CSAF feed carries (CSAF 7.1.15).
pub const ROLIE_INFORMATION_TYPE_SCHEME: &str = "urn:ietf:params:rolie:category:information-type";
pub const ROLIE_CSAF_TERM: &str = "csaf";
/// `format.schema` of every feed entry.
pub const CSAF_SCHEMA_URL: &str =
    "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json";
/// The sector every Herald document belongs to (category documents, CSAF 7.1.17).
pub const SECTOR: &str = "Healthcare";

/// `index.txt`: one path per line relative to the TLP directory (`2024/acme-2024-001.json`),
/// sorted, every line newline-terminated (as CSAF 2.1 requires). Empty for no documents.
pub fn index_txt(tlp: Tlp, entries: &[DocumentEntry]) -> Result<String, DistributionError> {
    require_distributed(tlp)?;
    let mut paths = entries
        .iter()
        .map(|e| path_in_tlp_dir(tlp, &e.path))
        .collect::<Result<Vec<_>, _>>()?;
    paths.sort_unstable();
    paths.dedup();
    Ok(paths.iter().map(|p| format!("{p}\n")).collect())
}

/// `changes.csv`: `"<path>","<current_release_date>"` per document, no header, newest first
/// (ties by path), RFC 4180 (both fields quoted, quotes doubled, CRLF line breaks). One row per
/// document: the 2.1 reading, which a 2.0 consumer accepts too.
pub fn changes_csv(tlp: Tlp, entries: &[DocumentEntry]) -> Result<String, DistributionError> {
    require_distributed(tlp)?;
    let mut rows = entries
        .iter()
        .map(|e| Ok((e.current_release_date, path_in_tlp_dir(tlp, &e.path)?)))
        .collect::<Result<Vec<_>, DistributionError>>()?;
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    Ok(rows
        .iter()
        .map(|(date, path)| format!("{},{}\r\n", csv_field(path), csv_field(&rfc3339(*date))))
        .collect())
}

fn csv_field(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The content of `<document>.sha256` / `.sha512`: the lower-case hex digest, two spaces and the
/// file name, as `sha256sum` writes it (and `sha256sum -c` reads it).
pub fn hash_file(hex_digest: &str, document_path: &str) -> String {
    let name = document_path.rsplit('/').next().unwrap_or(document_path);
    format!("{}  {name}\n", hex_digest.to_ascii_lowercase())
}

/// The ROLIE feed of one TLP (CSAF 7.1.15): all current documents of that label, newest first.
/// Each entry links the document (`self`), its `.sha256` and `.sha512` (`hash`), and its `.asc`
/// (`signature`) when it is signed; the server must serve exactly those files, since consumers
/// fail a feed that links a missing file or omits an existing one. `updated` is when the feed
/// last changed.
pub fn rolie_feed(
    provider: &Provider,
    tlp: Tlp,
    entries: &[DocumentEntry],
    updated: DateTime<Utc>,
) -> Result<Value, DistributionError> {
    let feed_url = provider.feed_url(tlp)?;
    let mut sorted: Vec<&DocumentEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| {
        b.current_release_date
            .cmp(&a.current_release_date)
            .then_with(|| a.path.cmp(&b.path))
    });
    let mut out = Vec::with_capacity(sorted.len());
    for e in sorted {
        path_in_tlp_dir(tlp, &e.path)?;
        let url = provider.document_url(&e.path);
        let mut links = vec![json!({ "rel": "self", "href": url })];
        for kind in Sidecar::ALL {
            let rel = match kind {
                Sidecar::Sha256 | Sidecar::Sha512 => "hash",
                Sidecar::Signature if e.signed => "signature",
                Sidecar::Signature => continue,
            };
            links.push(json!({ "rel": rel, "href": format!("{url}{}", kind.extension()) }));
        }
        let mut entry = json!({
            "id": e.tracking_id,
            "title": e.title,
            "link": links,
            "published": rfc3339(e.initial_release_date),
            "updated": rfc3339(e.current_release_date),
            "content": { "type": "application/json", "src": url },
            "format": { "schema": CSAF_SCHEMA_URL, "version": "2.0" },
        });
        if let Some(summary) = e.summary.as_deref().filter(|s| !s.trim().is_empty()) {
            entry["summary"] = json!({ "content": summary });
        }
        out.push(entry);
    }
    let publisher = &provider.publisher().name;
    Ok(json!({
        "feed": {
            "id": format!("{}-csaf-feed-tlp-{}", slug(&provider.publisher().namespace), tlp_str_lower(tlp)),
            "title": format!("{publisher} CSAF feed ({})", tlp_title(tlp)),
            "link": [{ "rel": "self", "href": feed_url }],
            "category": [{ "scheme": ROLIE_INFORMATION_TYPE_SCHEME, "term": ROLIE_CSAF_TERM }],
            "updated": rfc3339(updated),
            "entry": out,
        }
    }))
}

fn tlp_str_lower(tlp: Tlp) -> &'static str {
    herald_csaf::tlp_dir(tlp)
}

/// `https://acme.example/psirt` -> `acme.example-psirt`: a stable feed id prefix.
fn slug(namespace: &str) -> String {
    let rest = namespace
        .split_once("://")
        .map_or(namespace, |(_, rest)| rest)
        .trim_end_matches('/');
    rest.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The ROLIE service document (CSAF 7.1.16): one workspace listing a collection per feed.
pub fn rolie_service(provider: &Provider, feeds: &[Tlp]) -> Result<Value, DistributionError> {
    let publisher = &provider.publisher().name;
    let collections = sorted_tlps(feeds)?
        .into_iter()
        .map(|tlp| {
            Ok(json!({
                "title": format!("{publisher} CSAF advisories ({})", tlp_title(tlp)),
                "href": provider.feed_url(tlp)?,
                "categories": {
                    "category": [{ "scheme": ROLIE_INFORMATION_TYPE_SCHEME, "term": ROLIE_CSAF_TERM }]
                },
            }))
        })
        .collect::<Result<Vec<_>, DistributionError>>()?;
    Ok(json!({
        "service": {
            "workspace": [{
                "title": format!("{publisher} CSAF advisories"),
                "collection": collections,
            }]
        }
    }))
}

/// The ROLIE category document of one TLP (CSAF 7.1.17) from the summaries of that TLP's current
/// documents: the sector ("Healthcare"), then the document categories, product families and
/// product names in use, each sorted and listed once.
pub fn rolie_category(summaries: &[AdvisorySummary]) -> Value {
    let mut categories = BTreeSet::new();
    let mut families = BTreeSet::new();
    let mut products = BTreeSet::new();
    for s in summaries {
        categories.insert(s.category.as_str());
        for p in &s.products {
            if let Some(f) = p.family.as_deref() {
                families.insert(f);
            }
            if let Some(n) = p.product_name.as_deref() {
                products.insert(n);
            }
        }
    }
    let terms = std::iter::once(SECTOR)
        .chain(categories)
        .chain(families)
        .chain(products)
        .filter(|t| !t.trim().is_empty());
    let mut seen = BTreeSet::new();
    let category: Vec<Value> = terms
        .filter(|t| seen.insert(*t))
        .map(|t| json!({ "term": t }))
        .collect();
    json!({ "categories": { "category": category } })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;
    use herald_csaf::{Product, Publisher};

    use super::*;

    fn acme() -> Provider {
        Provider::new(
            "https://psirt.acme.example",
            Publisher {
                name: "Acme Medical".into(),
                namespace: "https://acme.example".into(),
                category: "vendor".into(),
            },
        )
        .unwrap()
    }

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn entry(
        id: &str,
        path: &str,
        initial: DateTime<Utc>,
        current: DateTime<Utc>,
    ) -> DocumentEntry {
        DocumentEntry {
            tracking_id: id.into(),
            title: format!("Title of {id}"),
            version: "1".into(),
            path: path.into(),
            initial_release_date: initial,
            current_release_date: current,
            sha256: "aa".into(),
            sha512: "bb".into(),
            signed: true,
            severity: None,
            summary: None,
        }
    }

    fn white() -> Vec<DocumentEntry> {
        // Deliberately not in any useful order.
        vec![
            entry(
                "ACME-2024-001",
                "white/2024/acme-2024-001.json",
                at(2024, 3, 1, 9),
                at(2024, 3, 1, 9),
            ),
            entry(
                "ACME-2025-002",
                "white/2025/acme-2025-002.json",
                at(2025, 1, 5, 9),
                at(2026, 2, 1, 8),
            ),
            entry(
                "ACME-2023-007",
                "white/2023/acme-2023-007.json",
                at(2023, 7, 1, 9),
                at(2025, 6, 1, 12),
            ),
        ]
    }

    #[test]
    fn index_txt_is_relative_sorted_and_newline_terminated() {
        assert_eq!(
            index_txt(Tlp::White, &white()).unwrap(),
            "2023/acme-2023-007.json\n2024/acme-2024-001.json\n2025/acme-2025-002.json\n"
        );
        assert_eq!(index_txt(Tlp::Green, &[]).unwrap(), "");
        let err = index_txt(Tlp::Green, &white()).unwrap_err();
        assert!(
            err.to_string().contains("white/2024/acme-2024-001.json"),
            "{err}"
        );
        assert!(matches!(
            index_txt(Tlp::Red, &[]),
            Err(DistributionError::NotDistributed(Tlp::Red))
        ));
    }

    #[test]
    fn changes_csv_is_newest_first_rfc4180() {
        let mut entries = white();
        let mut frac = entry(
            "ACME-2026-001",
            "white/2026/acme-2026-001.json",
            at(2026, 1, 1, 0),
            at(2026, 2, 1, 8),
        );
        // Same date as ACME-2025-002 plus 250 ms: keeps its precision and sorts first.
        frac.current_release_date += chrono::Duration::milliseconds(250);
        entries.push(frac);
        assert_eq!(
            changes_csv(Tlp::White, &entries).unwrap(),
            "\"2026/acme-2026-001.json\",\"2026-02-01T08:00:00.250Z\"\r\n\
             \"2025/acme-2025-002.json\",\"2026-02-01T08:00:00Z\"\r\n\
             \"2023/acme-2023-007.json\",\"2025-06-01T12:00:00Z\"\r\n\
             \"2024/acme-2024-001.json\",\"2024-03-01T09:00:00Z\"\r\n"
        );
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert!(changes_csv(Tlp::Amber, &white()).is_err());
    }

    #[test]
    fn hash_file_is_sha256sum_format() {
        assert_eq!(
            hash_file("ABCDEF", "white/2024/acme-2024-001.json"),
            "abcdef  acme-2024-001.json\n"
        );
    }

    #[test]
    fn rolie_feed_links_every_file() {
        let mut entries = white();
        entries[0].signed = false;
        entries[1].summary = Some("Update for the infusion pump firmware.".into());
        let feed = rolie_feed(&acme(), Tlp::White, &entries, at(2026, 2, 1, 9)).unwrap();
        let doc = "https://psirt.acme.example/.well-known/csaf/white";
        let want = json!({
            "feed": {
                "id": "acme.example-csaf-feed-tlp-white",
                "title": "Acme Medical CSAF feed (TLP:WHITE)",
                "link": [{ "rel": "self", "href": format!("{doc}/feed-tlp-white.json") }],
                "category": [{ "scheme": "urn:ietf:params:rolie:category:information-type", "term": "csaf" }],
                "updated": "2026-02-01T09:00:00Z",
                "entry": [
                    {
                        "id": "ACME-2025-002",
                        "title": "Title of ACME-2025-002",
                        "link": [
                            { "rel": "self", "href": format!("{doc}/2025/acme-2025-002.json") },
                            { "rel": "hash", "href": format!("{doc}/2025/acme-2025-002.json.sha256") },
                            { "rel": "hash", "href": format!("{doc}/2025/acme-2025-002.json.sha512") },
                            { "rel": "signature", "href": format!("{doc}/2025/acme-2025-002.json.asc") },
                        ],
                        "published": "2025-01-05T09:00:00Z",
                        "updated": "2026-02-01T08:00:00Z",
                        "summary": { "content": "Update for the infusion pump firmware." },
                        "content": { "type": "application/json", "src": format!("{doc}/2025/acme-2025-002.json") },
                        "format": { "schema": "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json", "version": "2.0" },
                    },
                    {
                        "id": "ACME-2023-007",
                        "title": "Title of ACME-2023-007",
                        "link": [
                            { "rel": "self", "href": format!("{doc}/2023/acme-2023-007.json") },
                            { "rel": "hash", "href": format!("{doc}/2023/acme-2023-007.json.sha256") },
                            { "rel": "hash", "href": format!("{doc}/2023/acme-2023-007.json.sha512") },
                            { "rel": "signature", "href": format!("{doc}/2023/acme-2023-007.json.asc") },
                        ],
                        "published": "2023-07-01T09:00:00Z",
                        "updated": "2025-06-01T12:00:00Z",
                        "content": { "type": "application/json", "src": format!("{doc}/2023/acme-2023-007.json") },
                        "format": { "schema": "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json", "version": "2.0" },
                    },
                    {
                        // Unsigned: no signature link.
                        "id": "ACME-2024-001",
                        "title": "Title of ACME-2024-001",
                        "link": [
                            { "rel": "self", "href": format!("{doc}/2024/acme-2024-001.json") },
                            { "rel": "hash", "href": format!("{doc}/2024/acme-2024-001.json.sha256") },
                            { "rel": "hash", "href": format!("{doc}/2024/acme-2024-001.json.sha512") },
                        ],
                        "published": "2024-03-01T09:00:00Z",
                        "updated": "2024-03-01T09:00:00Z",
                        "content": { "type": "application/json", "src": format!("{doc}/2024/acme-2024-001.json") },
                        "format": { "schema": "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json", "version": "2.0" },
                    },
                ],
            }
        });
        assert_eq!(feed, want);

        let empty = rolie_feed(&acme(), Tlp::Amber, &[], at(2026, 1, 1, 0)).unwrap();
        assert_eq!(empty["feed"]["entry"], json!([]));
        assert_eq!(empty["feed"]["title"], "Acme Medical CSAF feed (TLP:AMBER)");
        assert!(rolie_feed(&acme(), Tlp::Amber, &white(), at(2026, 1, 1, 0)).is_err());
        assert!(rolie_feed(&acme(), Tlp::Red, &[], at(2026, 1, 1, 0)).is_err());
    }

    #[test]
    fn rolie_service_lists_each_feed() {
        let doc = rolie_service(&acme(), &[Tlp::Amber, Tlp::White]).unwrap();
        let base = "https://psirt.acme.example/.well-known/csaf";
        let cat = json!({ "category": [{ "scheme": "urn:ietf:params:rolie:category:information-type", "term": "csaf" }] });
        assert_eq!(
            doc,
            json!({ "service": { "workspace": [{
                "title": "Acme Medical CSAF advisories",
                "collection": [
                    { "title": "Acme Medical CSAF advisories (TLP:WHITE)",
                      "href": format!("{base}/white/feed-tlp-white.json"), "categories": cat },
                    { "title": "Acme Medical CSAF advisories (TLP:AMBER)",
                      "href": format!("{base}/amber/feed-tlp-amber.json"), "categories": cat },
                ],
            }] } })
        );
        assert!(rolie_service(&acme(), &[Tlp::Red]).is_err());
    }

    #[test]
    fn rolie_category_collects_terms() {
        let summary = |category: &str, products: Vec<Product>| AdvisorySummary {
            tracking_id: "X".into(),
            version: "1".into(),
            status: "final".into(),
            category: category.into(),
            title: "t".into(),
            publisher: Publisher {
                name: "Acme Medical".into(),
                namespace: "https://acme.example".into(),
                category: "vendor".into(),
            },
            tlp: Some(Tlp::White),
            initial_release_date: at(2024, 1, 1, 0),
            current_release_date: at(2024, 1, 1, 0),
            revision_history: vec![],
            summary: None,
            products,
            vulnerabilities: vec![],
            acknowledgments: vec![],
            references: vec![],
            max_cvss: None,
            severity: None,
            lang: None,
        };
        let pump = |family: &str, name: &str| Product {
            family: Some(family.into()),
            product_name: Some(name.into()),
            ..Product::default()
        };
        let summaries = vec![
            summary(
                "csaf_security_advisory",
                vec![
                    pump("Infusion pumps", "FlowMax 3"),
                    pump("Infusion pumps", "FlowMax 2"),
                ],
            ),
            summary(
                "csaf_informational_advisory",
                vec![pump("Patient monitors", "VitalView")],
            ),
            summary("csaf_security_advisory", vec![Product::default()]),
        ];
        assert_eq!(
            rolie_category(&summaries),
            json!({ "categories": { "category": [
                { "term": "Healthcare" },
                { "term": "csaf_informational_advisory" },
                { "term": "csaf_security_advisory" },
                { "term": "Infusion pumps" },
                { "term": "Patient monitors" },
                { "term": "FlowMax 2" },
                { "term": "FlowMax 3" },
                { "term": "VitalView" },
            ] } })
        );
        assert_eq!(
            rolie_category(&[]),
            json!({ "categories": { "category": [{ "term": "Healthcare" }] } })
        );
    }
}
