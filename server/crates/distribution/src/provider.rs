//! The provider-wide documents: `provider-metadata.json` (CSAF 7.1.7) and `security.txt`
//! (RFC 9116, CSAF 7.1.8).

use chrono::{DateTime, SecondsFormat, Utc};
use herald_csaf::Tlp;

use serde_json::{Value, json};

use crate::DistributionError;
use crate::layout::{Provider, require_distributed, tlp_title};

/// What provider-metadata.json says beyond the provider's identity.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataInput<'a> {
    /// TLPs that get a `directory_url` distribution (index.txt, changes.csv, listings). Herald
    /// passes every distributed TLP; restricted directories answer 401/403 without credentials.
    pub directories: &'a [Tlp],
    /// TLPs that get a ROLIE feed (and a category document). At least one of WHITE or GREEN must
    /// be among them (CSAF 7.1.15).
    pub feeds: &'a [Tlp],
    /// Fingerprints of the keys that sign documents (upper- or lower-case hex, >= 40 digits).
    pub public_key_fingerprints: &'a [String],
    /// When anything distributed last changed (newest publish).
    pub last_updated: DateTime<Utc>,
    pub list_on_csaf_aggregators: bool,
    pub mirror_on_csaf_aggregators: bool,
}

/// `provider-metadata.json` for a `csaf_trusted_provider` (CSAF 7.1.7 and 7.2), deterministic for
/// equal inputs (TLPs are listed WHITE, GREEN, AMBER whatever the input order).
pub fn provider_metadata(
    provider: &Provider,
    input: &MetadataInput<'_>,
) -> Result<Value, DistributionError> {
    let directories = sorted_tlps(input.directories)?;
    let feeds = sorted_tlps(input.feeds)?;
    if directories.is_empty() && feeds.is_empty() {
        return Err(DistributionError::InvalidMetadata(
            "neither a directory nor a ROLIE feed to list".into(),
        ));
    }
    if !feeds.is_empty() && !feeds.iter().any(|t| matches!(t, Tlp::White | Tlp::Green)) {
        return Err(DistributionError::InvalidMetadata(
            "ROLIE needs a TLP:WHITE or TLP:GREEN feed (CSAF 7.1.15)".into(),
        ));
    }
    if input.public_key_fingerprints.is_empty() {
        return Err(DistributionError::InvalidMetadata(
            "a trusted provider needs at least one public OpenPGP key (CSAF 7.1.20)".into(),
        ));
    }
    let mut keys = Vec::new();
    for fpr in input.public_key_fingerprints {
        if fpr.len() < 40 || !fpr.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DistributionError::InvalidMetadata(format!(
                "OpenPGP fingerprint {fpr:?} is not at least 40 hex digits"
            )));
        }
        let fpr = fpr.to_ascii_uppercase();
        keys.push(json!({ "fingerprint": fpr, "url": provider.public_key_url(&fpr) }));
    }

    let mut distributions = Vec::new();
    for tlp in &directories {
        distributions.push(json!({ "directory_url": provider.directory_url(*tlp)? }));
    }
    if !feeds.is_empty() {
        let mut rolie_feeds = Vec::new();
        let mut categories = Vec::new();
        for tlp in &feeds {
            rolie_feeds.push(json!({
                "summary": format!("All {} advisories of {}.", tlp_title(*tlp), provider.publisher().name),
                "tlp_label": tlp.as_str(),
                "url": provider.feed_url(*tlp)?,
            }));
            categories.push(Value::String(provider.category_document_url(*tlp)?));
        }
        distributions.push(json!({
            "rolie": {
                "categories": categories,
                "feeds": rolie_feeds,
                "services": [provider.service_document_url()],
            }
        }));
    }

    let publisher = provider.publisher();
    Ok(json!({
        "canonical_url": provider.provider_metadata_url(),
        "distributions": distributions,
        "last_updated": rfc3339(input.last_updated),
        "list_on_CSAF_aggregators": input.list_on_csaf_aggregators,
        "metadata_version": "2.0",
        "mirror_on_CSAF_aggregators": input.mirror_on_csaf_aggregators,
        "public_openpgp_keys": keys,
        "publisher": {
            "category": publisher.category,
            "name": publisher.name,
            "namespace": publisher.namespace,
        },
        "role": "csaf_trusted_provider",
    }))
}

/// Deduplicated, in WHITE, GREEN, AMBER order; RED is an error.
pub(crate) fn sorted_tlps(tlps: &[Tlp]) -> Result<Vec<Tlp>, DistributionError> {
    let mut out = Vec::with_capacity(tlps.len());
    for tlp in tlps {
        require_distributed(*tlp)?;
        if !out.contains(tlp) {
            out.push(*tlp);
        }
    }
    out.sort();
    Ok(out)
}

/// RFC 3339 in UTC with `Z`, fractional seconds only when there are any (so a date read from a
/// document compares equal to the document's own value).
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// What `/.well-known/security.txt` says besides the CSAF line.
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityTxtInput<'a> {
    /// `Contact:` URIs in order of preference, e.g. `mailto:psirt@acme.example`,
    /// `https://acme.example/psirt`. At least one (RFC 9116 2.5.3).
    pub contacts: &'a [String],
    /// `Expires:` (RFC 9116 2.5.5; should be less than a year ahead).
    pub expires: DateTime<Utc>,
    /// `Policy:` URL, if the maker publishes a disclosure policy.
    pub policy_url: Option<&'a str>,
    /// `Preferred-Languages:`, e.g. `["en", "de"]`.
    pub preferred_languages: &'a [String],
}

/// `security.txt` (RFC 9116) whose **first** field is the CSAF line pointing at the well-known
/// provider-metadata.json (CSAF 7.1.8 requires the well-known URL to be the first CSAF entry).
/// Also lists `Canonical:`. Fields are LF-terminated, which RFC 9116 allows.
pub fn security_txt(
    provider: &Provider,
    input: &SecurityTxtInput<'_>,
) -> Result<String, DistributionError> {
    if input.contacts.is_empty() {
        return Err(DistributionError::InvalidSecurityTxt(
            "at least one Contact is required (RFC 9116 2.5.3)".into(),
        ));
    }
    let mut out = String::new();
    let mut field = |name: &str, value: &str| -> Result<(), DistributionError> {
        // A line break in a value would let it inject fields of its own.
        if value.is_empty() || value.chars().any(char::is_control) {
            return Err(DistributionError::InvalidSecurityTxt(format!(
                "{name} value {value:?} is empty or contains control characters"
            )));
        }
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push('\n');
        Ok(())
    };
    field("CSAF", &provider.provider_metadata_url())?;
    for contact in input.contacts {
        let uri = url::Url::parse(contact).map_err(|_| {
            DistributionError::InvalidSecurityTxt(format!(
                "Contact {contact:?} is not a URI (write e.g. mailto:psirt@example.com)"
            ))
        })?;
        if !matches!(uri.scheme(), "mailto" | "https" | "tel") {
            return Err(DistributionError::InvalidSecurityTxt(format!(
                "Contact {contact:?} must be a mailto:, https: or tel: URI (RFC 9116 2.5.3)"
            )));
        }
        field("Contact", contact)?;
    }
    field(
        "Expires",
        &input.expires.to_rfc3339_opts(SecondsFormat::Secs, true),
    )?;
    if let Some(policy) = input.policy_url {
        if url::Url::parse(policy).is_err() {
            return Err(DistributionError::InvalidSecurityTxt(format!(
                "Policy {policy:?} is not a URL"
            )));
        }
        field("Policy", policy)?;
    }
    if !input.preferred_languages.is_empty() {
        field("Preferred-Languages", &input.preferred_languages.join(", "))?;
    }
    field("Canonical", &provider.security_txt_url())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::PathBuf;

    use chrono::TimeZone;
    use herald_csaf::Publisher;

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

    const FPR: &str = "0123456789abcdef0123456789abcdef01234567";

    fn metadata() -> Value {
        let keys = [FPR.to_string()];
        provider_metadata(
            &acme(),
            &MetadataInput {
                directories: &[Tlp::White],
                feeds: &[Tlp::Amber, Tlp::White, Tlp::Green, Tlp::White],
                public_key_fingerprints: &keys,
                last_updated: Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap(),
                list_on_csaf_aggregators: true,
                mirror_on_csaf_aggregators: false,
            },
        )
        .unwrap()
    }

    #[test]
    fn provider_metadata_lists_every_feed_and_the_key() {
        let base = "https://psirt.acme.example/.well-known/csaf";
        let want = json!({
            "canonical_url": format!("{base}/provider-metadata.json"),
            "distributions": [
                { "directory_url": format!("{base}/white/") },
                { "rolie": {
                    "categories": [
                        format!("{base}/white/category-tlp-white.json"),
                        format!("{base}/green/category-tlp-green.json"),
                        format!("{base}/amber/category-tlp-amber.json"),
                    ],
                    "feeds": [
                        { "summary": "All TLP:WHITE advisories of Acme Medical.", "tlp_label": "WHITE",
                          "url": format!("{base}/white/feed-tlp-white.json") },
                        { "summary": "All TLP:GREEN advisories of Acme Medical.", "tlp_label": "GREEN",
                          "url": format!("{base}/green/feed-tlp-green.json") },
                        { "summary": "All TLP:AMBER advisories of Acme Medical.", "tlp_label": "AMBER",
                          "url": format!("{base}/amber/feed-tlp-amber.json") },
                    ],
                    "services": [format!("{base}/service.json")],
                } },
            ],
            "last_updated": "2026-11-27T10:00:00Z",
            "list_on_CSAF_aggregators": true,
            "metadata_version": "2.0",
            "mirror_on_CSAF_aggregators": false,
            "public_openpgp_keys": [{
                "fingerprint": "0123456789ABCDEF0123456789ABCDEF01234567",
                "url": format!("{base}/openpgp/0123456789ABCDEF0123456789ABCDEF01234567.asc"),
            }],
            "publisher": { "category": "vendor", "name": "Acme Medical", "namespace": "https://acme.example" },
            "role": "csaf_trusted_provider",
        });
        assert_eq!(metadata(), want);
    }

    #[test]
    fn provider_metadata_rejects_bad_input() {
        let keys = [FPR.to_string()];
        let input = MetadataInput {
            directories: &[Tlp::White],
            feeds: &[Tlp::White],
            public_key_fingerprints: &keys,
            last_updated: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            list_on_csaf_aggregators: true,
            mirror_on_csaf_aggregators: true,
        };
        let p = acme();
        assert!(matches!(
            provider_metadata(
                &p,
                &MetadataInput {
                    feeds: &[Tlp::Red],
                    ..input.clone()
                }
            ),
            Err(DistributionError::NotDistributed(Tlp::Red))
        ));
        assert!(matches!(
            provider_metadata(
                &p,
                &MetadataInput {
                    directories: &[Tlp::Red],
                    ..input.clone()
                }
            ),
            Err(DistributionError::NotDistributed(Tlp::Red))
        ));
        let err = provider_metadata(
            &p,
            &MetadataInput {
                feeds: &[Tlp::Amber],
                ..input.clone()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("7.1.15"), "{err}");
        let err = provider_metadata(
            &p,
            &MetadataInput {
                public_key_fingerprints: &[],
                ..input.clone()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("OpenPGP"), "{err}");
        let short = ["ABCDEF".to_string()];
        let err = provider_metadata(
            &p,
            &MetadataInput {
                public_key_fingerprints: &short,
                ..input.clone()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("\"ABCDEF\""), "{err}");
        assert!(
            provider_metadata(
                &p,
                &MetadataInput {
                    directories: &[],
                    feeds: &[],
                    ..input.clone()
                }
            )
            .is_err()
        );
        // Directory-only (no ROLIE) is a valid provider too.
        let v = provider_metadata(
            &p,
            &MetadataInput {
                feeds: &[],
                ..input
            },
        )
        .unwrap();
        assert_eq!(v["distributions"].as_array().unwrap().len(), 1);
    }

    /// Validates against the official provider schema from ../shared (see the team brief).
    #[test]
    fn provider_metadata_is_valid_against_the_provider_schema() {
        let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared");
        let schemas = shared.join("csaf/schemas");
        if !schemas.is_dir() {
            println!(
                "SKIPPED: {} not found; provider schema not checked",
                schemas.display()
            );
            return;
        }
        let read = |name: &str| -> Value {
            let text = std::fs::read_to_string(schemas.join(name)).expect(name);
            serde_json::from_str(&text).expect(name)
        };
        let provider_schema = read("csaf-2.0-provider_json_schema.json");
        let csaf_schema = read("csaf-2.0-csaf_json_schema.json");
        // The provider schema takes `publisher` from the CSAF schema by its URL. Register the
        // local copy's publisher definition under that URL: the whole CSAF schema would pull in
        // the FIRST CVSS schemas from the network, and this test stays offline.
        let publisher = csaf_schema["properties"]["document"]["properties"]["publisher"].clone();
        assert!(
            publisher.is_object(),
            "CSAF schema has no publisher definition"
        );
        let registry = jsonschema::Registry::new()
            .add(
                "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json",
                json!({
                    "$schema": csaf_schema["$schema"],
                    "properties": { "document": { "properties": { "publisher": publisher } } }
                }),
            )
            .expect("CSAF schema registers")
            .prepare()
            .expect("registry prepares");
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .offline()
            .with_registry(&registry)
            .build(&provider_schema)
            .expect("provider schema compiles");
        let doc = metadata();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");

        // The schema check has teeth: a wrong role and a short fingerprint are caught.
        let mut bad = doc.clone();
        bad["role"] = json!("csaf_aggregator");
        bad["public_openpgp_keys"][0]["fingerprint"] = json!("ABCD");
        bad["publisher"]["category"] = json!("manufacturer");
        assert_eq!(
            validator.iter_errors(&bad).count(),
            4,
            "role, fingerprint length and pattern, publisher category"
        );
    }

    #[test]
    fn security_txt_puts_csaf_first() {
        let contacts = [
            "mailto:psirt@acme.example".to_string(),
            "https://acme.example/psirt".to_string(),
        ];
        let langs = ["en".to_string(), "de".to_string()];
        let text = security_txt(
            &acme(),
            &SecurityTxtInput {
                contacts: &contacts,
                expires: Utc.with_ymd_and_hms(2027, 6, 30, 23, 59, 59).unwrap(),
                policy_url: Some("https://acme.example/psirt/policy"),
                preferred_languages: &langs,
            },
        )
        .unwrap();
        assert_eq!(
            text,
            "CSAF: https://psirt.acme.example/.well-known/csaf/provider-metadata.json\n\
             Contact: mailto:psirt@acme.example\n\
             Contact: https://acme.example/psirt\n\
             Expires: 2027-06-30T23:59:59Z\n\
             Policy: https://acme.example/psirt/policy\n\
             Preferred-Languages: en, de\n\
             Canonical: https://psirt.acme.example/.well-known/security.txt\n"
        );
    }

    #[test]
    fn security_txt_rejects_bad_fields() {
        let expires = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let check = |contacts: &[String], policy: Option<&str>| {
            security_txt(
                &acme(),
                &SecurityTxtInput {
                    contacts,
                    expires,
                    policy_url: policy,
                    preferred_languages: &[],
                },
            )
        };
        assert!(
            check(&[], None)
                .unwrap_err()
                .to_string()
                .contains("Contact")
        );
        let bare = ["psirt@acme.example".to_string()];
        assert!(
            check(&bare, None)
                .unwrap_err()
                .to_string()
                .contains("psirt@acme.example")
        );
        let http = ["http://acme.example/psirt".to_string()];
        assert!(check(&http, None).is_err());
        let injected = [
            "mailto:a@acme.example\nCSAF: https://evil.example/provider-metadata.json".to_string(),
        ];
        assert!(matches!(
            check(&injected, None),
            Err(DistributionError::InvalidSecurityTxt(_))
        ));
        let ok = ["mailto:a@acme.example".to_string()];
        assert!(check(&ok, Some("not a url")).is_err());
        assert!(check(&ok, None).is_ok());
    }
}
