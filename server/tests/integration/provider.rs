//! Herald as a CSAF 2.0 trusted provider. In process on SQLite and PostgreSQL: index.txt,
//! changes.csv, the ROLIE feed, listings and provider metadata after publishing demo documents; a
//! revision replacing document and signature together; signatures checked with the real `gpg`
//! against the served key; the signing key created once under concurrency and imported; GREEN
//! fenced off from anonymous and unentitled callers, RED absent. Out of process: the real
//! `herald` binary with the CISA and OASIS corpus, checked by `csaf-tool check-provider` and
//! `csaf-tool validate` (skipped when `../shared` is missing).

use crate::common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{App, test};
use common::{BASE, Harness, demo, demo_json, harness};
use herald_storage::{Backend, accounts::OrgKind, accounts::Scope};
use serde_json::Value;
use sha2::Digest;

const WK: &str = "/.well-known/csaf";

macro_rules! app {
    ($state:expr) => {
        test::init_service(App::new().configure(herald_server::web::configure($state.clone())))
            .await
    };
}

struct Got {
    status: StatusCode,
    headers: actix_web::http::header::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf8 body")
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("header").to_owned())
    }
}

/// GET `uri` with the given headers; the whole response.
macro_rules! get {
    ($app:expr, $uri:expr) => {
        get!($app, $uri, )
    };
    ($app:expr, $uri:expr, $($h:expr),*) => {{
        #[allow(unused_mut)]
        let mut req = test::TestRequest::get().uri(&$uri);
        $(
            let (k, v): (&str, String) = $h;
            req = req.insert_header((k, v));
        )*
        let resp = test::call_service(&$app, req.to_request()).await;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = test::read_body(resp).await.to_vec();
        Got { status, headers, body }
    }};
}

fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

fn publish(h: &Harness, bytes: &[u8]) -> herald_server::publish::Published {
    let mut conn = h.test_db.conn().expect("conn");
    herald_server::publish::publish_document(&mut conn, &h.state.config, bytes, &h.maker_id, "test")
        .expect("publish")
}

/// `<year of initial release>/<lower-case tracking id>.json`, read from the document itself.
fn expected_rel_path(doc: &Value) -> String {
    let t = &doc["document"]["tracking"];
    let year = &t["initial_release_date"].as_str().expect("date")[..4];
    format!(
        "{year}/{}.json",
        t["id"].as_str().expect("id").to_lowercase()
    )
}

fn current_release(doc: &Value) -> chrono::DateTime<chrono::Utc> {
    doc["document"]["tracking"]["current_release_date"]
        .as_str()
        .expect("date")
        .parse()
        .expect("rfc3339")
}

/// A temporary GNUPGHOME with the key served at `key_url` imported.
struct Gpg {
    home: tempfile::TempDir,
}

impl Gpg {
    fn with_key(armored_key: &[u8]) -> Gpg {
        let home = tempfile::tempdir().expect("gnupg home");
        let key = home.path().join("key.asc");
        std::fs::write(&key, armored_key).expect("write key");
        let out = Command::new("gpg")
            .args(["--batch", "--quiet", "--homedir"])
            .arg(home.path())
            .arg("--import")
            .arg(&key)
            .output()
            .expect("run gpg (is gnupg installed?)");
        assert!(
            out.status.success(),
            "gpg --import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Gpg { home }
    }

    /// Whether gpg accepts `signature` over `data`.
    fn verifies(&self, data: &[u8], signature: &[u8]) -> bool {
        let dir = tempfile::tempdir_in(self.home.path()).expect("dir");
        let (d, s) = (dir.path().join("doc.json"), dir.path().join("doc.json.asc"));
        std::fs::write(&d, data).expect("write doc");
        std::fs::write(&s, signature).expect("write sig");
        Command::new("gpg")
            .args(["--batch", "--homedir"])
            .arg(self.home.path())
            .arg("--verify")
            .arg(&s)
            .arg(&d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run gpg")
            .success()
    }
}

// ------------------------------------------------------------------------------------------------
// in process, both backends

async fn listings_after_two_publications(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let names = ["mms-sa-2026-001.json", "mms-ia-2026-001.json"];
    let docs: Vec<Value> = names.iter().map(|n| demo_json(n)).collect();
    for n in names {
        publish(&h, &demo(n));
    }
    let mut rel: Vec<String> = docs.iter().map(expected_rel_path).collect();

    // index.txt: both, sorted, newline-terminated, relative to the directory.
    let index = get!(app, format!("{WK}/white/index.txt"));
    assert_eq!(index.status, StatusCode::OK);
    assert_eq!(
        index.header("access-control-allow-origin").as_deref(),
        Some("*")
    );
    rel.sort();
    assert_eq!(
        index.text(),
        rel.iter().map(|p| format!("{p}\n")).collect::<String>()
    );

    // changes.csv: newest current_release_date first, dates equal to the documents'.
    let changes = get!(app, format!("{WK}/white/changes.csv")).text();
    let mut by_date: Vec<(chrono::DateTime<chrono::Utc>, String)> = docs
        .iter()
        .map(|d| (current_release(d), expected_rel_path(d)))
        .collect();
    by_date.sort_by_key(|b| std::cmp::Reverse(b.0));
    let rows: Vec<(String, chrono::DateTime<chrono::Utc>)> = changes
        .lines()
        .map(|l| {
            let (p, d) = l.split_once(',').expect("two columns");
            (
                p.trim_matches('"').to_owned(),
                d.trim_matches('"').parse().expect("rfc3339 date"),
            )
        })
        .collect();
    assert_eq!(
        rows,
        by_date
            .iter()
            .map(|(d, p)| (p.clone(), *d))
            .collect::<Vec<_>>(),
        "{changes}"
    );

    // provider-metadata.json: trusted provider, only the public directory and feed, the key.
    let pmd = get!(app, format!("{WK}/provider-metadata.json"));
    assert_eq!(
        pmd.header("access-control-allow-origin").as_deref(),
        Some("*")
    );
    let pmd = pmd.json();
    assert_eq!(pmd["role"], "csaf_trusted_provider");
    assert_eq!(
        pmd["canonical_url"],
        format!("{BASE}{WK}/provider-metadata.json")
    );
    let dist = pmd["distributions"].to_string();
    assert!(dist.contains(&format!("{BASE}{WK}/white/")), "{dist}");
    assert!(
        !dist.contains("/green/") && !dist.contains("/amber/"),
        "{dist}"
    );
    let keys = pmd["public_openpgp_keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    let fpr = keys[0]["fingerprint"].as_str().expect("fpr").to_owned();
    let key_url = keys[0]["url"].as_str().expect("url");
    let key_path = key_url.strip_prefix(BASE).expect("key under base");
    let key = get!(app, key_path);
    assert_eq!(key.status, StatusCode::OK);
    let gpg = Gpg::with_key(&key.body);

    // The feed: every document with self, both hashes and the signature; each link is served.
    let feed = get!(app, format!("{WK}/white/feed-tlp-white.json")).json();
    let entries = feed["feed"]["entry"].as_array().expect("entries");
    assert_eq!(entries.len(), 2);
    assert_eq!(feed["feed"]["category"][0]["term"], "csaf");
    for e in entries {
        let links = e["link"].as_array().expect("links");
        let self_href = links
            .iter()
            .find(|l| l["rel"] == "self")
            .and_then(|l| l["href"].as_str())
            .expect("self link")
            .to_owned();
        let rels: HashSet<(String, String)> = links
            .iter()
            .map(|l| {
                (
                    l["rel"].as_str().expect("rel").to_owned(),
                    l["href"].as_str().expect("href").to_owned(),
                )
            })
            .collect();
        for (rel, sfx) in [
            ("hash", ".sha256"),
            ("hash", ".sha512"),
            ("signature", ".asc"),
        ] {
            assert!(
                rels.contains(&(rel.to_owned(), format!("{self_href}{sfx}"))),
                "{rel} {sfx} missing in {e}"
            );
        }
        let path = self_href.strip_prefix(BASE).expect("under base").to_owned();
        let doc = get!(app, path);
        assert_eq!(doc.status, StatusCode::OK);
        assert_eq!(
            doc.header("content-type").as_deref(),
            Some("application/json")
        );
        let name = path.rsplit('/').next().expect("name");
        let original = demo(name);
        assert_eq!(
            doc.body, original,
            "served bytes differ from the published bytes"
        );
        let sha256 = get!(app, format!("{path}.sha256")).text();
        assert_eq!(
            sha256,
            format!("{}  {name}\n", hex::encode(sha2::Sha256::digest(&original)))
        );
        let sha512 = get!(app, format!("{path}.sha512")).text();
        assert!(sha512.starts_with(&hex::encode(sha2::Sha512::digest(&original))));
        let asc = get!(app, format!("{path}.asc"));
        assert_eq!(asc.status, StatusCode::OK);
        assert!(asc.text().starts_with("-----BEGIN PGP SIGNATURE-----"));
        assert!(gpg.verifies(&original, &asc.body), "gpg rejects {path}.asc");
        let mut tampered = original.clone();
        tampered.push(b'\n');
        assert!(
            !gpg.verifies(&tampered, &asc.body),
            "gpg accepts a changed document"
        );
    }
    assert!(!fpr.is_empty());

    // Service and category documents.
    let service = get!(app, format!("{WK}/service.json")).json();
    assert_eq!(
        service["service"]["workspace"][0]["collection"][0]["href"],
        format!("{BASE}{WK}/white/feed-tlp-white.json")
    );
    let category = get!(app, format!("{WK}/white/category-tlp-white.json")).json();
    assert!(
        category["categories"]["category"]
            .as_array()
            .expect("categories")
            .iter()
            .any(|c| c["term"] == "Healthcare")
    );

    // Listings: with and without the trailing slash, never a redirect.
    for uri in [format!("{WK}/white/"), format!("{WK}/white")] {
        let l = get!(app, uri);
        assert_eq!(l.status, StatusCode::OK, "{uri}");
        assert!(
            l.text()
                .contains(&format!("href=\"{BASE}{WK}/white/2026/\"")),
            "{}",
            l.text()
        );
        assert!(l.text().contains("index.txt"));
    }
    for uri in [format!("{WK}/white/2026/"), format!("{WK}/white/2026")] {
        let l = get!(app, uri);
        assert_eq!(l.status, StatusCode::OK, "{uri}");
        for p in &rel {
            let name = p.rsplit('/').next().expect("name");
            for sfx in ["", ".sha256", ".sha512", ".asc"] {
                assert!(
                    l.text().contains(&format!("{name}{sfx}</a>")),
                    "{}",
                    l.text()
                );
            }
        }
    }
    assert_eq!(
        get!(app, format!("{WK}/white/2019/")).status,
        StatusCode::NOT_FOUND
    );

    // Conditional GET and HEAD.
    let first = get!(app, format!("{WK}/white/index.txt"));
    let etag = first.header("etag").expect("etag");
    let again = get!(
        app,
        format!("{WK}/white/index.txt"),
        ("If-None-Match", etag.clone())
    );
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    let head = test::call_service(
        &app,
        test::TestRequest::default()
            .method(actix_web::http::Method::HEAD)
            .uri(&format!("{WK}/white/feed-tlp-white.json"))
            .to_request(),
    )
    .await;
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.headers().contains_key("etag"));

    // security.txt needs an https base URL; on the plain-http test base it is absent.
    assert_eq!(
        get!(app, "/.well-known/security.txt").status,
        StatusCode::NOT_FOUND
    );
    let mut https = (*h.state.config).clone();
    https.base_url = "https://psirt.meridian.example".to_owned();
    let mut state = h.state.clone();
    state.config = Arc::new(https);
    let app2 = app!(state);
    let sec = get!(app2, "/.well-known/security.txt");
    assert_eq!(sec.status, StatusCode::OK);
    let lines: Vec<String> = sec.text().lines().map(str::to_owned).collect();
    assert_eq!(
        lines[0],
        "CSAF: https://psirt.meridian.example/.well-known/csaf/provider-metadata.json"
    );
    assert!(lines.contains(&format!("Contact: {}", h.state.config.security_contact)));
    assert!(lines.iter().any(|l| l.starts_with("Expires: ")));
    assert!(lines.contains(
        &"Canonical: https://psirt.meridian.example/.well-known/security.txt".to_owned()
    ));
}

async fn revision_replaces_document_and_signature(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let v1 = demo("mms-sa-2026-001.json");
    let mut doc: Value = serde_json::from_slice(&v1).expect("json");
    let path = format!("{WK}/white/{}", expected_rel_path(&doc));
    publish(&h, &v1);
    let sig1 = get!(app, format!("{path}.asc")).body;

    // Revision 2, one day later.
    let later = (current_release(&doc) + chrono::Duration::days(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let tracking = &mut doc["document"]["tracking"];
    tracking["version"] = "2".into();
    tracking["current_release_date"] = later.clone().into();
    tracking["revision_history"]
        .as_array_mut()
        .expect("history")
        .push(serde_json::json!({ "date": later, "number": "2", "summary": "Fixed versions corrected." }));
    let v2 = serde_json::to_vec_pretty(&doc).expect("serialise");
    publish(&h, &v2);

    let served = get!(app, path);
    assert_eq!(served.body, v2);
    let sig2 = get!(app, format!("{path}.asc")).body;
    assert_ne!(sig1, sig2);
    let pmd = get!(app, format!("{WK}/provider-metadata.json")).json();
    let key_path = pmd["public_openpgp_keys"][0]["url"]
        .as_str()
        .expect("url")
        .strip_prefix(BASE)
        .expect("under base")
        .to_owned();
    let gpg = Gpg::with_key(&get!(app, key_path).body);
    assert!(
        gpg.verifies(&v2, &sig2),
        "new signature must cover the new bytes"
    );
    assert!(
        !gpg.verifies(&v2, &sig1),
        "old signature must not match the new bytes"
    );
    assert!(gpg.verifies(&v1, &sig1));
    let sha = get!(app, format!("{path}.sha256")).text();
    assert!(sha.starts_with(&hex::encode(sha2::Sha256::digest(&v2))));
    let index = get!(app, format!("{WK}/white/index.txt")).text();
    assert_eq!(index.lines().count(), 1);
    let changes = get!(app, format!("{WK}/white/changes.csv")).text();
    let date: chrono::DateTime<chrono::Utc> = changes
        .trim()
        .split_once(',')
        .expect("row")
        .1
        .trim_matches('"')
        .parse()
        .expect("date");
    assert_eq!(date, current_release(&doc));
}

async fn restricted_labels_are_fenced(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let green_bytes = demo("mms-sa-2026-003.json");
    let green = serde_json::from_slice::<Value>(&green_bytes).expect("json");
    assert_eq!(green["document"]["distribution"]["tlp"]["label"], "GREEN");
    publish(&h, &green_bytes);
    publish(&h, &demo("mms-sa-2026-001.json"));
    let doc = format!("{WK}/green/{}", expected_rel_path(&green));
    let restricted = [
        format!("{WK}/green/"),
        format!("{WK}/green"),
        format!("{WK}/green/2026/"),
        format!("{WK}/green/index.txt"),
        format!("{WK}/green/changes.csv"),
        format!("{WK}/green/feed-tlp-green.json"),
        format!("{WK}/green/category-tlp-green.json"),
        doc.clone(),
        format!("{doc}.sha256"),
        format!("{doc}.sha512"),
        format!("{doc}.asc"),
        format!("{WK}/amber/index.txt"),
        format!("{WK}/green/2026/does-not-exist.json"),
    ];
    let reader = h.token(&[Scope::Read]);
    let publisher_only = h.token(&[Scope::Publish]);
    let hospital_token = {
        let mut conn = h.test_db.conn().expect("conn");
        let org =
            herald_storage::accounts::ensure_organization(&mut conn, OrgKind::Hospital, "St. Test")
                .expect("hospital");
        herald_storage::accounts::create_api_token(
            &mut conn,
            &herald_storage::accounts::NewApiToken {
                org_id: &org.id,
                user_id: None,
                name: "hospital",
                scopes: &[Scope::Read],
                expires_at: None,
            },
            "test",
        )
        .expect("token")
        .token
    };
    for uri in &restricted {
        assert_eq!(
            get!(app, uri).status,
            StatusCode::UNAUTHORIZED,
            "anonymous {uri}"
        );
        assert_eq!(
            get!(app, uri, bearer("hrld_forged")).status,
            StatusCode::UNAUTHORIZED,
            "forged token {uri}"
        );
        assert_eq!(
            get!(app, uri, bearer(&publisher_only)).status,
            StatusCode::NOT_FOUND,
            "token without read scope {uri}"
        );
        assert_eq!(
            get!(app, uri, bearer(&hospital_token)).status,
            StatusCode::NOT_FOUND,
            "hospital token {uri}"
        );
    }
    // The manufacturer's read token sees the GREEN tree.
    let served = get!(app, doc, bearer(&reader));
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body, green_bytes);
    assert_eq!(served.header("cache-control").as_deref(), Some("private"));
    let index = get!(app, format!("{WK}/green/index.txt"), bearer(&reader)).text();
    assert_eq!(index, format!("{}\n", expected_rel_path(&green)));
    assert_eq!(
        get!(app, format!("{doc}.asc"), bearer(&reader)).status,
        StatusCode::OK
    );
    // GREEN never shows up in the public tree; RED paths do not exist.
    let white_index = get!(app, format!("{WK}/white/index.txt")).text();
    assert!(!white_index.contains("mms-sa-2026-003"), "{white_index}");
    let white_feed = get!(app, format!("{WK}/white/feed-tlp-white.json")).text();
    assert!(!white_feed.contains("MMS-SA-2026-003"));
    let misplaced = format!("{WK}/white/{}", expected_rel_path(&green));
    assert_eq!(get!(app, misplaced).status, StatusCode::NOT_FOUND);
    for uri in [format!("{WK}/red/"), format!("{WK}/red/index.txt")] {
        assert_eq!(
            get!(app, uri, bearer(&reader)).status,
            StatusCode::NOT_FOUND
        );
    }
    // A public file ignores credentials entirely.
    let white = get!(app, format!("{WK}/white/index.txt"), bearer("hrld_forged"));
    assert_eq!(white.status, StatusCode::OK);
}

async fn signing_key_created_once_and_imported(backend: Backend) {
    let h = harness(backend);
    // Eight concurrent first users (separate connections): one key results.
    let fingerprints: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let mut conn = h.test_db.conn().expect("conn");
                    herald_server::publish::signing_key(&mut conn, &h.state.config)
                        .expect("signing key")
                        .fingerprint()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect()
    });
    assert!(
        fingerprints.iter().all(|f| f == &fingerprints[0]),
        "{fingerprints:?}"
    );
    let mut conn = h.test_db.conn().expect("conn");
    let keys = herald_storage::keys::list_signing_keys(&mut conn).expect("list");
    assert_eq!(keys.len(), 1);
    assert!(keys[0].active);

    let app = app!(h.state);
    let v1 = demo("mms-sa-2026-001.json");
    publish(&h, &v1);
    let old_path = format!(
        "{WK}/white/{}",
        expected_rel_path(&serde_json::from_slice(&v1).expect("json"))
    );
    let old_sig = get!(app, format!("{old_path}.asc")).body;

    // Import a new key: it signs from now on; the old one stays published.
    let new = herald_distribution::SigningKey::generate("Imported <psirt@meridian.example>")
        .expect("generate");
    let imported = herald_server::publish::import_signing_key(
        &mut conn,
        &h.state.config,
        &new.to_armored_secret().expect("armor"),
        None,
        "test",
    )
    .expect("import");
    assert_eq!(imported.fingerprint(), new.fingerprint());
    drop(conn);
    let v2 = demo("mms-ia-2026-001.json");
    publish(&h, &v2);
    let new_path = format!(
        "{WK}/white/{}",
        expected_rel_path(&serde_json::from_slice(&v2).expect("json"))
    );
    let new_sig = get!(app, format!("{new_path}.asc")).body;

    let pmd = get!(app, format!("{WK}/provider-metadata.json")).json();
    let listed: Vec<String> = pmd["public_openpgp_keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["fingerprint"].as_str().expect("fpr").to_owned())
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&new.fingerprint()) && listed.contains(&fingerprints[0]));
    let old_key = get!(app, format!("{WK}/openpgp/{}.asc", fingerprints[0])).body;
    let new_key = get!(app, format!("{WK}/openpgp/{}.asc", new.fingerprint())).body;
    let (g_old, g_new) = (Gpg::with_key(&old_key), Gpg::with_key(&new_key));
    assert!(g_old.verifies(&v1, &old_sig));
    assert!(g_new.verifies(&v2, &new_sig));
    assert!(
        !g_old.verifies(&v2, &new_sig),
        "the new document must be signed by the new key"
    );
    assert_eq!(
        get!(app, format!("{WK}/openpgp/{}.asc", "0".repeat(40))).status,
        StatusCode::NOT_FOUND
    );
}

async fn unsigned_documents_are_signed_at_start(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    // A document stored without a signature, as Herald did before it signed.
    let bytes = demo("mms-sa-2026-001.json");
    let validated = herald_csaf::validate(&bytes).expect("valid");
    let s = &validated.summary;
    let path = herald_csaf::document_path(s.distribution_tlp(), s.year(), &s.tracking_id);
    {
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::advisories::publish(
            &mut conn,
            &herald_storage::advisories::PublishRequest {
                summary: s,
                document: &bytes,
                sha256: &hex::encode(sha2::Sha256::digest(&bytes)),
                sha512: &hex::encode(sha2::Sha512::digest(&bytes)),
                signature: None,
                path: &path,
                publisher_org_id: &h.maker_id,
                actor: "test",
            },
        )
        .expect("publish unsigned");
    }
    let url = format!("{WK}/{path}");
    assert_eq!(
        get!(app, format!("{url}.asc")).status,
        StatusCode::NOT_FOUND
    );
    let feed = get!(app, format!("{WK}/white/feed-tlp-white.json")).text();
    assert!(!feed.contains("\"signature\""), "{feed}");

    let mut conn = h.test_db.conn().expect("conn");
    let signed =
        herald_server::publish::sign_unsigned_revisions(&mut conn, &h.state.config).expect("sign");
    assert_eq!(signed, 1);
    let again = herald_server::publish::sign_unsigned_revisions(&mut conn, &h.state.config)
        .expect("sign again");
    assert_eq!(again, 0);
    let asc = get!(app, format!("{url}.asc"));
    assert_eq!(asc.status, StatusCode::OK);
    let pmd = get!(app, format!("{WK}/provider-metadata.json")).json();
    let key_path = pmd["public_openpgp_keys"][0]["url"]
        .as_str()
        .expect("url")
        .strip_prefix(BASE)
        .expect("under base")
        .to_owned();
    assert!(Gpg::with_key(&get!(app, key_path).body).verifies(&bytes, &asc.body));
    let feed = get!(app, format!("{WK}/white/feed-tlp-white.json")).text();
    assert!(feed.contains(&format!("{BASE}{url}.asc")), "{feed}");
}

on_both_backends!(
    unsigned_documents_are_signed_at_start,
    listings_after_two_publications,
    revision_replaces_document_and_signature,
    restricted_labels_are_fenced,
    signing_key_created_once_and_imported,
);

// ------------------------------------------------------------------------------------------------
// the real binary, checked by the CSAF oracle

fn shared_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    dir.join("csaf/csaf-tool").exists().then_some(dir)
}

/// A `herald serve` child process, killed when dropped (also when the test panics).
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn herald(data: &Path, base_url: &str, port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
    // A clean environment for Herald's settings: SQLite in the temp dir, no herald.toml.
    for (k, _) in std::env::vars() {
        if k.starts_with("HERALD_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(data)
        .env("HERALD_DATA_DIR", data)
        .env("HERALD_LISTEN", format!("127.0.0.1:{port}"))
        .env("HERALD_BASE_URL", base_url)
        .env("HERALD_SITE_ROOT", data.join("site"))
        .env("HERALD_PLUGIN_DIR", data.join("plugins"));
    cmd
}

async fn start(data: &Path, base_url: &str, port: u16) -> Server {
    let log = std::fs::File::create(data.join(format!("serve-{port}.log"))).expect("log");
    let child = herald(data, base_url, port)
        .arg("serve")
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start herald serve");
    let server = Server { child, port };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && r.status().is_success()
        {
            return server;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "herald did not answer on port {port}: {}",
        std::fs::read_to_string(data.join(format!("serve-{port}.log"))).unwrap_or_default()
    );
}

fn check_provider(tool: &Path, url: &str, extra: &[&str]) -> String {
    let out = Command::new(tool)
        .args(["check-provider", url, "--allow-http"])
        .args(extra)
        .output()
        .expect("run csaf-tool");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("csaf-tool check-provider {url} {extra:?}:\n{report}");
    assert!(
        out.status.success(),
        "check-provider failed ({}):\n{report}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!report.contains("FAIL"), "{report}");
    report
}

#[actix_web::test]
async fn real_binary_passes_check_provider() {
    let Some(shared) = shared_dir() else {
        println!("SKIPPED: ../shared (CSAF oracle and corpus) not found beside the repository");
        return;
    };
    let tool = shared.join("csaf/csaf-tool");
    let corpus = [
        shared.join("csaf/corpus/icsma"),
        shared.join("csaf/corpus/oasis"),
    ];
    let data = tempfile::tempdir().expect("data dir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");

    // The signing key comes from gpg (passphrase-protected), imported with `herald key import`.
    let gnupg = tempfile::tempdir().expect("gnupg home");
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .args([
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "pass phrase 1",
            ])
            .arg("--homedir")
            .arg(gnupg.path())
            .args(args)
            .output()
            .expect("run gpg");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    };
    gpg(&[
        "--quick-gen-key",
        "Meridian Test PSIRT <psirt@meridian.example>",
        "ed25519",
        "sign",
        "never",
    ]);
    let gpg_fpr = gpg(&["--with-colons", "--list-secret-keys"])
        .lines()
        .find_map(|l| {
            l.strip_prefix("fpr:")
                .map(|r| r.trim_matches(':').to_owned())
        })
        .expect("fingerprint");
    let key_file = data.path().join("secret.asc");
    std::fs::write(&key_file, gpg(&["--armor", "--export-secret-keys"])).expect("write key");
    let key_import = |passphrase: &str| {
        let mut child = herald(data.path(), &base, port)
            .args(["key", "import"])
            .arg(&key_file)
            .arg("--passphrase-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("herald key import");
        use std::io::Write;
        writeln!(child.stdin.take().expect("stdin"), "{passphrase}").expect("write passphrase");
        child.wait_with_output().expect("wait")
    };
    let wrong = key_import("not the pass phrase");
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong passphrase"));
    let right = key_import("pass phrase 1");
    assert!(
        right.status.success(),
        "{}",
        String::from_utf8_lossy(&right.stderr)
    );
    assert!(String::from_utf8_lossy(&right.stdout).contains(&gpg_fpr));

    let import = herald(data.path(), &base, port)
        .arg("import")
        .args(&corpus)
        .output()
        .expect("herald import");
    let imported = String::from_utf8_lossy(&import.stdout).into_owned();
    assert!(
        import.status.success(),
        "herald import: {imported}\n{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let corpus_files: Vec<PathBuf> = corpus
        .iter()
        .flat_map(|d| std::fs::read_dir(d).expect("corpus dir"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert!(
        imported.contains(&format!("{} published, 0 refused", corpus_files.len())),
        "{imported}"
    );
    let corpus_hashes: HashSet<String> = corpus_files
        .iter()
        .map(|p| hex::encode(sha2::Sha256::digest(std::fs::read(p).expect("read"))))
        .collect();

    // 1. The plain-http base the brief names: everything but security.txt (which needs https).
    let server = start(data.path(), &base, port).await;
    check_provider(&tool, &base, &[]);
    let pmd: Value = reqwest::get(format!("{base}{WK}/provider-metadata.json"))
        .await
        .expect("pmd")
        .json()
        .await
        .expect("pmd json");
    let keys = pmd["public_openpgp_keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["fingerprint"], gpg_fpr.as_str());

    // Download every served document and hand them to the validator; each must be a corpus file
    // byte for byte.
    let client = reqwest::Client::new();
    let index = client
        .get(format!("{base}{WK}/white/index.txt"))
        .send()
        .await
        .expect("index")
        .text()
        .await
        .expect("index text");
    let served_dir = data.path().join("served");
    std::fs::create_dir_all(&served_dir).expect("mkdir");
    let mut n = 0;
    for line in index.lines() {
        let bytes = client
            .get(format!("{base}{WK}/white/{line}"))
            .send()
            .await
            .expect("document")
            .bytes()
            .await
            .expect("bytes");
        assert!(
            corpus_hashes.contains(&hex::encode(sha2::Sha256::digest(&bytes))),
            "{line} is not served byte for byte"
        );
        std::fs::write(served_dir.join(line.replace('/', "_")), &bytes).expect("write");
        n += 1;
    }
    assert_eq!(n, corpus_files.len(), "every imported document is listed");
    let validate = Command::new(&tool)
        .args(["validate", "--quiet"])
        .arg(&served_dir)
        .output()
        .expect("csaf-tool validate");
    assert!(
        validate.status.success(),
        "csaf-tool validate: {}{}",
        String::from_utf8_lossy(&validate.stdout),
        String::from_utf8_lossy(&validate.stderr)
    );

    // 2. A second process on the same database with an https canonical URL, mapped to loopback:
    // security.txt (requirement 8) is served and checked too; the key is shared.
    let canonical = "https://psirt.meridian-medical.example";
    let second = start(data.path(), canonical, free_port()).await;
    let local = format!("http://127.0.0.1:{}", second.port);
    let report = check_provider(&tool, &local, &["--map", &format!("{canonical}={local}")]);
    assert!(report.contains("requirement  8: PASS"), "{report}");
    drop(second);
    drop(server);
}
