//! Test harness (cargo feature `testing`): a fresh, migrated database per test on either backend.
//! SQLite: a file in a temporary directory. PostgreSQL: a uniquely named database created on the
//! server at `HERALD_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/`) and
//! dropped when the [`TestDb`] is dropped. Use [`both_backends!`](crate::both_backends) to run one
//! test body on both.

use diesel::prelude::*;

use crate::{Backend, Db, DbConnection, PooledConnection, StorageError};

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/";

/// A migrated database that exists for the life of this value.
pub struct TestDb {
    pub db: Db,
    /// The database's URL, for a process under test (`herald serve`) to open the same database.
    url: String,
    postgres: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("backend", &self.db.backend())
            .finish()
    }
}

/// `scheme://authority` of a server URL, without path or query.
fn server_base(url: &str) -> Result<String, StorageError> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        StorageError::Invalid(format!("HERALD_TEST_POSTGRES_URL {url:?} has no scheme"))
    })?;
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    Ok(format!("{scheme}://{authority}"))
}

impl TestDb {
    pub fn new(backend: Backend) -> Result<TestDb, StorageError> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().map_err(|e| {
                    StorageError::Invalid(format!("cannot create a temporary directory: {e}"))
                })?;
                let path = dir.path().join("herald.db");
                let url = format!("sqlite://{}", path.display());
                let db = Db::connect_with(&url, 4)?;
                db.migrate()?;
                Ok(TestDb {
                    db,
                    url,
                    postgres: None,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let url = std::env::var("HERALD_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string());
                let base = server_base(&url)?;
                let admin_url = format!("{base}/postgres");
                let name = format!("herald_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::establish(&admin_url)?;
                diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)?;
                let url = format!("{base}/{name}");
                let db = match Db::connect_with(&url, 4) {
                    Ok(db) => db,
                    Err(e) => {
                        let _ = diesel::sql_query(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        ))
                        .execute(&mut admin);
                        return Err(e);
                    }
                };
                let test = TestDb {
                    db,
                    url,
                    postgres: Some((admin_url, name)),
                    _dir: None,
                };
                test.db.migrate()?;
                Ok(test)
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// `sqlite://FILE` or `postgres://.../NAME`: what `HERALD_DATABASE_URL` would be.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn conn(&self) -> Result<PooledConnection, StorageError> {
        self.db.get()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.postgres {
            // FORCE ends the pool's own connections, which are only dropped after this.
            let dropped = PgConnection::establish(admin_url)
                .map_err(StorageError::from)
                .and_then(|mut admin| {
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .map_err(StorageError::from)
                });
            if let Err(e) = dropped {
                eprintln!("could not drop test database {name}: {e}");
            }
        }
    }
}

/// Runs `test` on a fresh database of `backend`; panics (failing the test) with the error.
pub fn run<E, F>(backend: Backend, test: F)
where
    E: std::fmt::Debug,
    F: FnOnce(&TestDb) -> Result<(), E>,
{
    let db = match TestDb::new(backend) {
        Ok(db) => db,
        Err(e) => panic!("cannot set up a {backend} test database: {e}"),
    };
    if let Err(e) = test(&db) {
        panic!("test failed on {backend}: {e:?}");
    }
}

/// `both_backends!(name, ...)` turns each `fn name(db: &TestDb) -> Result<(), E>` into two tests,
/// `name::sqlite` and `name::postgres`, each on its own fresh database.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    $crate::testing::run($crate::Backend::Sqlite, super::$name);
                }
                #[test]
                fn postgres() {
                    $crate::testing::run($crate::Backend::Postgres, super::$name);
                }
            }
        )+
    };
}

/// A summary of a fictional Larkspur Medical advisory. `revisions` are `(number, RFC 3339 date)`,
/// oldest first (at least one); the last one is the current version.
pub fn sample_summary(
    tracking_id: &str,
    revisions: &[(&str, &str)],
    severity: Option<(&str, f64)>,
    cves: &[&str],
) -> herald_csaf::AdvisorySummary {
    use herald_csaf::*;
    let date = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&chrono::Utc))
            .unwrap_or_else(|e| panic!("bad fixture date {s:?}: {e}"))
    };
    let revision_history: Vec<Revision> = revisions
        .iter()
        .map(|(n, d)| Revision {
            number: n.to_string(),
            date: date(d),
            summary: format!("Revision {n}"),
        })
        .collect();
    let (first, last) = match (revision_history.first(), revision_history.last()) {
        (Some(f), Some(l)) => (f.clone(), l.clone()),
        _ => panic!("sample_summary needs at least one revision"),
    };
    AdvisorySummary {
        tracking_id: tracking_id.to_string(),
        version: last.number.clone(),
        status: "final".into(),
        category: "csaf_security_advisory".into(),
        title: format!("Larkspur Nimbus infusion pump: {tracking_id}"),
        publisher: Publisher {
            name: "Larkspur Medical".into(),
            namespace: "https://larkspur-medical.example".into(),
            category: "vendor".into(),
        },
        tlp: Some(Tlp::White),
        initial_release_date: first.date,
        current_release_date: last.date,
        revision_history,
        summary: Some("Update the pump firmware.".into()),
        products: vec![Product {
            product_id: "CSAFPID-0001".into(),
            name: "Larkspur Nimbus Infusion Pump 4.2".into(),
            vendor: Some("Larkspur Medical".into()),
            family: Some("Nimbus".into()),
            product_name: Some("Nimbus Infusion Pump".into()),
            version: Some("4.2".into()),
            udi_di: Some("00812345000017".into()),
            cpe: None,
            purl: None,
        }],
        vulnerabilities: cves
            .iter()
            .map(|c| Vulnerability {
                cve: Some(c.to_string()),
                scores: severity
                    .map(|(sev, score)| Score {
                        cvss_version: "3.1".into(),
                        vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into(),
                        base_score: score,
                        severity: sev.into(),
                        product_ids: vec!["CSAFPID-0001".into()],
                    })
                    .into_iter()
                    .collect(),
                product_status: vec![("known_affected".into(), vec!["CSAFPID-0001".into()])],
                ..Default::default()
            })
            .collect(),
        acknowledgments: vec![],
        references: vec![],
        max_cvss: severity.map(|(_, s)| s),
        severity: severity.map(|(s, _)| s.to_string()),
        lang: Some("en".into()),
    }
}

/// Bytes standing in for the received document (storage keeps bytes, it does not parse them).
pub fn sample_document(summary: &herald_csaf::AdvisorySummary) -> Vec<u8> {
    format!(
        "{{\"document\":{{\"tracking\":{{\"id\":{:?},\"version\":{:?}}}}}}}\n",
        summary.tracking_id, summary.version
    )
    .into_bytes()
}

/// Where the document is distributed, by the one rule in herald-csaf.
pub fn sample_path(summary: &herald_csaf::AdvisorySummary) -> String {
    herald_csaf::document_path(
        summary.distribution_tlp(),
        summary.year(),
        &summary.tracking_id,
    )
}

/// Publishes `summary` with [`sample_document`] bytes at [`sample_path`].
pub fn publish_sample(
    conn: &mut DbConnection,
    publisher_org_id: &str,
    summary: &herald_csaf::AdvisorySummary,
) -> Result<crate::advisories::Published, StorageError> {
    use sha2::Digest;
    let document = sample_document(summary);
    let sha256 = hex::encode(sha2::Sha256::digest(&document));
    let sha512 = hex::encode(sha2::Sha512::digest(&document));
    let path = sample_path(summary);
    crate::advisories::publish(
        conn,
        &crate::advisories::PublishRequest {
            summary,
            document: &document,
            sha256: &sha256,
            sha512: &sha512,
            signature: None,
            path: &path,
            publisher_org_id,
            actor: "test",
        },
    )
}

/// A manufacturer organization `larkspur`.
pub fn manufacturer(
    conn: &mut DbConnection,
) -> Result<crate::accounts::Organization, StorageError> {
    crate::accounts::create_organization(
        conn,
        crate::accounts::OrgKind::Manufacturer,
        "Larkspur Medical",
        "larkspur",
    )
}

/// Creates an enabled `webhook` destination of `org_id` posting to `http://127.0.0.1:{port}/hook`,
/// granted that loopback address over plain http (the tests' and benchmarks' receivers).
pub fn loopback_webhook(
    conn: &mut DbConnection,
    org_id: &str,
    name: &str,
    port: u16,
) -> Result<crate::destinations::Destination, StorageError> {
    loopback_webhook_at(conn, org_id, name, port, "/hook")
}

/// [`loopback_webhook`] posting to `path` on the receiver.
pub fn loopback_webhook_at(
    conn: &mut DbConnection,
    org_id: &str,
    name: &str,
    port: u16,
    path: &str,
) -> Result<crate::destinations::Destination, StorageError> {
    crate::destinations::create_destination(
        conn,
        &crate::destinations::NewDestination {
            org_id,
            plugin_id: "webhook",
            name,
            config: serde_json::json!({ "url": format!("http://127.0.0.1:{port}{path}") }),
            grants: serde_json::json!({
                "http_hosts": [format!("127.0.0.1:{port}")],
                "allow_insecure_http": true,
                "allow_private_addresses": true,
            }),
            enabled: true,
            min_severity: None,
        },
        "test",
    )
}

#[derive(diesel::QueryableByName)]
struct TableName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

#[derive(diesel::QueryableByName)]
struct RowCount {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// How many rows every table of the database holds (migration bookkeeping aside): a test that
/// claims a refused request wrote nothing compares this before and after.
pub fn row_counts(
    conn: &mut DbConnection,
) -> Result<std::collections::BTreeMap<String, i64>, StorageError> {
    let tables_sql = match conn {
        DbConnection::Sqlite(_) => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        DbConnection::Postgres(_) => {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
        }
    };
    let tables: Vec<TableName> = diesel::sql_query(tables_sql).load(conn)?;
    let mut counts = std::collections::BTreeMap::new();
    for t in tables
        .into_iter()
        .filter(|t| !t.name.starts_with("__diesel"))
    {
        // Names come from the database's own catalog, quoted as identifiers.
        let row: RowCount = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM \"{}\"", t.name))
            .get_result(conn)?;
        counts.insert(t.name, row.n);
    }
    Ok(counts)
}
