//! Herald's URL layout below `/.well-known/csaf/`: the one place that builds (and parses back)
//! every URL the provider serves, so provider-metadata.json, the feeds, the listings and the
//! server's routes cannot disagree.
//!
//! See the crate documentation for the table of paths.

use herald_csaf::{Publisher, Tlp, tlp_dir};

use crate::DistributionError;

/// Path prefix of everything CSAF (CSAF 7.1.9).
pub const WELL_KNOWN_CSAF: &str = "/.well-known/csaf";
/// Path of security.txt (RFC 9116, CSAF 7.1.8).
pub const SECURITY_TXT_PATH: &str = "/.well-known/security.txt";
/// File names inside a TLP directory (CSAF 7.1.12, 7.1.13).
pub const INDEX_TXT: &str = "index.txt";
pub const CHANGES_CSV: &str = "changes.csv";
/// The service document, below [`WELL_KNOWN_CSAF`] (CSAF 7.1.16).
pub const SERVICE_DOCUMENT: &str = "service.json";
pub const PROVIDER_METADATA: &str = "provider-metadata.json";
/// Directory of public keys below [`WELL_KNOWN_CSAF`] (CSAF 7.1.20).
pub const OPENPGP_DIR: &str = "openpgp";

/// The TLP labels Herald distributes, in this order. TLP:RED documents are never distributed:
/// they go to named recipients through notification channels only.
pub const DISTRIBUTED_TLPS: [Tlp; 3] = [Tlp::White, Tlp::Green, Tlp::Amber];

/// Whether documents of `tlp` are served at all.
pub fn is_distributed(tlp: Tlp) -> bool {
    tlp != Tlp::Red
}

/// Whether documents of `tlp` are served without authentication. Only WHITE is: GREEN is limited
/// to the community (Herald's customers), AMBER to named organisations (CSAF 7.1.4, 7.1.5).
pub fn is_public(tlp: Tlp) -> bool {
    tlp == Tlp::White
}

pub(crate) fn require_distributed(tlp: Tlp) -> Result<(), DistributionError> {
    if is_distributed(tlp) {
        Ok(())
    } else {
        Err(DistributionError::NotDistributed(tlp))
    }
}

/// The provider's identity: the origin it serves from and the CSAF publisher it speaks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    /// Origin (plus an optional path prefix for a reverse proxy), without a trailing `/`.
    base: String,
    publisher: Publisher,
}

/// CSAF 2.0 `/document/publisher/category` values.
const PUBLISHER_CATEGORIES: [&str; 6] = [
    "coordinator",
    "discoverer",
    "other",
    "translator",
    "user",
    "vendor",
];

impl Provider {
    /// `base_url` is e.g. `https://psirt.acme.example` (a trailing `/` is dropped). It must be an
    /// absolute http(s) URL without query or fragment; plain http is accepted for loopback tests
    /// (CSAF 7.1.3 requires https in production, which is the deployment's job).
    pub fn new(base_url: &str, publisher: Publisher) -> Result<Provider, DistributionError> {
        let bad = |why: &str| DistributionError::InvalidBaseUrl {
            url: base_url.to_string(),
            why: why.to_string(),
        };
        let parsed = url::Url::parse(base_url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(bad("scheme must be https (or http for local testing)"));
        }
        if parsed.host().is_none() {
            return Err(bad("no host"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad("must not have a query or fragment"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad("must not carry credentials"));
        }
        let base = parsed.as_str().trim_end_matches('/').to_string();

        if publisher.name.trim().is_empty() {
            return Err(DistributionError::InvalidPublisher(
                "publisher name is empty".into(),
            ));
        }
        if url::Url::parse(&publisher.namespace).is_err() {
            return Err(DistributionError::InvalidPublisher(format!(
                "publisher namespace {:?} is not an absolute URL",
                publisher.namespace
            )));
        }
        if !PUBLISHER_CATEGORIES.contains(&publisher.category.as_str()) {
            return Err(DistributionError::InvalidPublisher(format!(
                "publisher category {:?} is not one of {}",
                publisher.category,
                PUBLISHER_CATEGORIES.join(", ")
            )));
        }
        Ok(Provider { base, publisher })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    fn csaf(&self, rest: &str) -> String {
        format!("{}{WELL_KNOWN_CSAF}/{rest}", self.base)
    }

    /// `<base>/.well-known/csaf/provider-metadata.json` (the canonical URL).
    pub fn provider_metadata_url(&self) -> String {
        self.csaf(PROVIDER_METADATA)
    }

    /// `<base>/.well-known/security.txt`.
    pub fn security_txt_url(&self) -> String {
        format!("{}{SECURITY_TXT_PATH}", self.base)
    }

    /// `<base>/.well-known/csaf/<tlp>/` (with the trailing slash: it is a directory).
    pub fn directory_url(&self, tlp: Tlp) -> Result<String, DistributionError> {
        require_distributed(tlp)?;
        Ok(self.csaf(&format!("{}/", tlp_dir(tlp))))
    }

    /// `<base>/.well-known/csaf/<tlp>/feed-tlp-<tlp>.json`.
    pub fn feed_url(&self, tlp: Tlp) -> Result<String, DistributionError> {
        require_distributed(tlp)?;
        Ok(self.csaf(&format!("{}/{}", tlp_dir(tlp), feed_file_name(tlp))))
    }

    /// `<base>/.well-known/csaf/<tlp>/category-tlp-<tlp>.json`. One category document per TLP
    /// so that product names from restricted advisories stay behind the same access control.
    pub fn category_document_url(&self, tlp: Tlp) -> Result<String, DistributionError> {
        require_distributed(tlp)?;
        Ok(self.csaf(&format!("{}/{}", tlp_dir(tlp), category_file_name(tlp))))
    }

    /// `<base>/.well-known/csaf/service.json`.
    pub fn service_document_url(&self) -> String {
        self.csaf(SERVICE_DOCUMENT)
    }

    /// `<base>/.well-known/csaf/openpgp/<FPR>.asc` (CSAF 7.1.20's suggested location).
    pub fn public_key_url(&self, fingerprint: &str) -> String {
        self.csaf(&format!(
            "{OPENPGP_DIR}/{}.asc",
            fingerprint.to_ascii_uppercase()
        ))
    }

    /// `<base>/.well-known/csaf/<path>` for a document path as stored
    /// (`white/2024/acme-2024-001.json`, see `herald_csaf::document_path`).
    pub fn document_url(&self, path: &str) -> String {
        self.csaf(path)
    }
}

/// `feed-tlp-white.json` etc.
pub fn feed_file_name(tlp: Tlp) -> String {
    format!("feed-tlp-{}.json", tlp_dir(tlp))
}

/// `category-tlp-white.json` etc.
pub fn category_file_name(tlp: Tlp) -> String {
    format!("category-tlp-{}.json", tlp_dir(tlp))
}

/// `TLP:WHITE` etc., for titles.
pub fn tlp_title(tlp: Tlp) -> String {
    format!("TLP:{}", tlp.as_str())
}

/// A document's path relative to its TLP directory: `white/2024/x.json` -> `2024/x.json`, as
/// index.txt and changes.csv list it. Fails when the path is not inside `tlp`'s directory.
pub fn path_in_tlp_dir(tlp: Tlp, path: &str) -> Result<&str, DistributionError> {
    path.strip_prefix(tlp_dir(tlp))
        .and_then(|p| p.strip_prefix('/'))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| DistributionError::PathOutsideTlp {
            path: path.to_string(),
            tlp,
        })
}

/// The kind of a file served beside a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sidecar {
    Sha256,
    Sha512,
    Signature,
}

impl Sidecar {
    pub const ALL: [Sidecar; 3] = [Sidecar::Sha256, Sidecar::Sha512, Sidecar::Signature];

    /// `.sha256`, `.sha512`, `.asc`.
    pub fn extension(self) -> &'static str {
        match self {
            Sidecar::Sha256 => ".sha256",
            Sidecar::Sha512 => ".sha512",
            Sidecar::Signature => ".asc",
        }
    }
}

/// What a request path below `/.well-known/csaf/` asks for. The server's routes parse the path
/// with [`Resource::parse`] and decide access with [`Resource::tlp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    ProviderMetadata,
    ServiceDocument,
    /// `openpgp/<FPR>.asc`; the fingerprint as written in the path (upper-cased).
    PublicKey {
        fingerprint: String,
    },
    /// `<tlp>/` (listing).
    TlpDirectory {
        tlp: Tlp,
    },
    /// `<tlp>/<year>/` (listing).
    YearDirectory {
        tlp: Tlp,
        year: i32,
    },
    IndexTxt {
        tlp: Tlp,
    },
    ChangesCsv {
        tlp: Tlp,
    },
    Feed {
        tlp: Tlp,
    },
    CategoryDocument {
        tlp: Tlp,
    },
    /// `<tlp>/<year>/<name>.json`; `path` is the whole path as storage keys it.
    Document {
        tlp: Tlp,
        path: String,
    },
    /// `<tlp>/<year>/<name>.json.sha256` etc.; `path` is the document's path.
    Sidecar {
        tlp: Tlp,
        path: String,
        kind: Sidecar,
    },
}

impl Resource {
    /// Parses a path relative to `/.well-known/csaf/` (no leading `/`; a directory keeps its
    /// trailing `/`). `None` for anything Herald does not serve, including every TLP:RED path and
    /// anything with `..`, empty or hidden segments.
    pub fn parse(path: &str) -> Option<Resource> {
        match path {
            PROVIDER_METADATA => return Some(Resource::ProviderMetadata),
            SERVICE_DOCUMENT => return Some(Resource::ServiceDocument),
            _ => {}
        }
        let (segments, is_dir) = match path.strip_suffix('/') {
            Some(p) => (p.split('/').collect::<Vec<_>>(), true),
            None => (path.split('/').collect::<Vec<_>>(), false),
        };
        if segments.iter().any(|s| s.is_empty() || s.starts_with('.')) {
            return None;
        }
        if let [OPENPGP_DIR, file] = segments.as_slice() {
            let fpr = file.strip_suffix(".asc")?;
            if is_dir || fpr.len() < 40 || !fpr.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            return Some(Resource::PublicKey {
                fingerprint: fpr.to_ascii_uppercase(),
            });
        }
        let tlp = DISTRIBUTED_TLPS
            .into_iter()
            .find(|t| segments.first() == Some(&tlp_dir(*t)))?;
        match (segments.as_slice(), is_dir) {
            ([_], true) => Some(Resource::TlpDirectory { tlp }),
            ([_, year], true) => Some(Resource::YearDirectory {
                tlp,
                year: parse_year(year)?,
            }),
            ([_, name], false) if *name == INDEX_TXT => Some(Resource::IndexTxt { tlp }),
            ([_, name], false) if *name == CHANGES_CSV => Some(Resource::ChangesCsv { tlp }),
            ([_, name], false) if *name == feed_file_name(tlp) => Some(Resource::Feed { tlp }),
            ([_, name], false) if *name == category_file_name(tlp) => {
                Some(Resource::CategoryDocument { tlp })
            }
            ([_, year, name], false) => {
                parse_year(year)?;
                if is_document_name(name) {
                    return Some(Resource::Document {
                        tlp,
                        path: path.to_string(),
                    });
                }
                Sidecar::ALL.into_iter().find_map(|kind| {
                    let doc = name.strip_suffix(kind.extension())?;
                    is_document_name(doc).then(|| Resource::Sidecar {
                        tlp,
                        path: path[..path.len() - kind.extension().len()].to_string(),
                        kind,
                    })
                })
            }
            _ => None,
        }
    }

    /// The TLP whose access rules apply, `None` for the provider-wide public files.
    pub fn tlp(&self) -> Option<Tlp> {
        match self {
            Resource::ProviderMetadata | Resource::ServiceDocument | Resource::PublicKey { .. } => {
                None
            }
            Resource::TlpDirectory { tlp }
            | Resource::YearDirectory { tlp, .. }
            | Resource::IndexTxt { tlp }
            | Resource::ChangesCsv { tlp }
            | Resource::Feed { tlp }
            | Resource::CategoryDocument { tlp }
            | Resource::Document { tlp, .. }
            | Resource::Sidecar { tlp, .. } => Some(*tlp),
        }
    }

    /// Whether anyone may fetch it without authentication.
    pub fn is_public(&self) -> bool {
        self.tlp().is_none_or(is_public)
    }
}

fn parse_year(s: &str) -> Option<i32> {
    if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// A section 5.1 file name: `[+\-a-z0-9_]+\.json`.
fn is_document_name(name: &str) -> bool {
    name.strip_suffix(".json").is_some_and(|stem| {
        !stem.is_empty()
            && stem
                .bytes()
                .all(|b| matches!(b, b'+' | b'-' | b'_' | b'a'..=b'z' | b'0'..=b'9'))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    pub(crate) fn acme() -> Provider {
        Provider::new(
            "https://psirt.acme.example/",
            Publisher {
                name: "Acme Medical".into(),
                namespace: "https://acme.example".into(),
                category: "vendor".into(),
            },
        )
        .unwrap()
    }

    #[test]
    fn urls() {
        let p = acme();
        assert_eq!(p.base_url(), "https://psirt.acme.example");
        assert_eq!(
            p.provider_metadata_url(),
            "https://psirt.acme.example/.well-known/csaf/provider-metadata.json"
        );
        assert_eq!(
            p.security_txt_url(),
            "https://psirt.acme.example/.well-known/security.txt"
        );
        assert_eq!(
            p.directory_url(Tlp::White).unwrap(),
            "https://psirt.acme.example/.well-known/csaf/white/"
        );
        assert_eq!(
            p.feed_url(Tlp::Amber).unwrap(),
            "https://psirt.acme.example/.well-known/csaf/amber/feed-tlp-amber.json"
        );
        assert_eq!(
            p.category_document_url(Tlp::Green).unwrap(),
            "https://psirt.acme.example/.well-known/csaf/green/category-tlp-green.json"
        );
        assert_eq!(
            p.service_document_url(),
            "https://psirt.acme.example/.well-known/csaf/service.json"
        );
        assert_eq!(
            p.public_key_url("abcdef0123456789abcdef0123456789abcdef01"),
            "https://psirt.acme.example/.well-known/csaf/openpgp/ABCDEF0123456789ABCDEF0123456789ABCDEF01.asc"
        );
        assert_eq!(
            p.document_url("white/2024/acme-2024-001.json"),
            "https://psirt.acme.example/.well-known/csaf/white/2024/acme-2024-001.json"
        );
        for f in [Provider::feed_url, Provider::directory_url] {
            assert!(matches!(
                f(&p, Tlp::Red),
                Err(DistributionError::NotDistributed(Tlp::Red))
            ));
        }
    }

    #[test]
    fn base_url_with_prefix_and_bad_inputs() {
        let p = Provider::new("http://127.0.0.1:8080/herald", acme().publisher.clone()).unwrap();
        assert_eq!(
            p.provider_metadata_url(),
            "http://127.0.0.1:8080/herald/.well-known/csaf/provider-metadata.json"
        );
        for bad in [
            "psirt.acme.example",
            "ftp://acme.example",
            "https://acme.example/?x=1",
            "https://acme.example/#top",
            "https://user:pw@acme.example",
        ] {
            let err = Provider::new(bad, acme().publisher.clone()).unwrap_err();
            assert!(
                matches!(&err, DistributionError::InvalidBaseUrl { url, .. } if url == bad),
                "{bad}: {err}"
            );
        }
        let mut publisher = acme().publisher.clone();
        publisher.category = "Vendor".into();
        let err = Provider::new("https://acme.example", publisher).unwrap_err();
        assert!(err.to_string().contains("\"Vendor\""), "{err}");
        let mut publisher = acme().publisher.clone();
        publisher.namespace = "acme".into();
        assert!(matches!(
            Provider::new("https://acme.example", publisher),
            Err(DistributionError::InvalidPublisher(_))
        ));
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            path_in_tlp_dir(Tlp::White, "white/2024/a.json").unwrap(),
            "2024/a.json"
        );
        for (tlp, path) in [
            (Tlp::White, "amber/2024/a.json"),
            (Tlp::White, "whitelist/2024/a.json"),
            (Tlp::White, "white/"),
        ] {
            assert!(matches!(
                path_in_tlp_dir(tlp, path),
                Err(DistributionError::PathOutsideTlp { .. })
            ));
        }
    }

    #[test]
    fn parses_request_paths() {
        let cases = [
            ("provider-metadata.json", Some(Resource::ProviderMetadata)),
            ("service.json", Some(Resource::ServiceDocument)),
            (
                "openpgp/abcdef0123456789abcdef0123456789abcdef01.asc",
                Some(Resource::PublicKey {
                    fingerprint: "ABCDEF0123456789ABCDEF0123456789ABCDEF01".into(),
                }),
            ),
            ("openpgp/xyz.asc", None),
            ("white/", Some(Resource::TlpDirectory { tlp: Tlp::White })),
            (
                "green/2024/",
                Some(Resource::YearDirectory {
                    tlp: Tlp::Green,
                    year: 2024,
                }),
            ),
            (
                "amber/index.txt",
                Some(Resource::IndexTxt { tlp: Tlp::Amber }),
            ),
            (
                "white/changes.csv",
                Some(Resource::ChangesCsv { tlp: Tlp::White }),
            ),
            (
                "white/feed-tlp-white.json",
                Some(Resource::Feed { tlp: Tlp::White }),
            ),
            // Another TLP's feed name inside this directory is not a feed.
            ("white/feed-tlp-amber.json", None),
            (
                "amber/category-tlp-amber.json",
                Some(Resource::CategoryDocument { tlp: Tlp::Amber }),
            ),
            (
                "white/2024/acme-2024-001.json",
                Some(Resource::Document {
                    tlp: Tlp::White,
                    path: "white/2024/acme-2024-001.json".into(),
                }),
            ),
            (
                "amber/2024/acme-2024-001.json.sha512",
                Some(Resource::Sidecar {
                    tlp: Tlp::Amber,
                    path: "amber/2024/acme-2024-001.json".into(),
                    kind: Sidecar::Sha512,
                }),
            ),
            (
                "white/2024/a+b.json.asc",
                Some(Resource::Sidecar {
                    tlp: Tlp::White,
                    path: "white/2024/a+b.json".into(),
                    kind: Sidecar::Signature,
                }),
            ),
            ("red/", None),
            ("red/2024/acme-2024-001.json", None),
            ("white/2024/../../secret.json", None),
            ("white//2024/a.json", None),
            ("white/24/a.json", None),
            ("white/2024/A.json", None),
            ("white/2024/a.json/", None),
            ("white/2024/.hidden.json", None),
            ("", None),
        ];
        for (path, want) in cases {
            assert_eq!(Resource::parse(path), want, "{path:?}");
        }
        assert!(Resource::parse("white/2024/a.json").unwrap().is_public());
        assert!(!Resource::parse("green/index.txt").unwrap().is_public());
        assert!(
            Resource::parse("provider-metadata.json")
                .unwrap()
                .is_public()
        );
    }
}
