//! Storage tests. Every test body runs on SQLite and on PostgreSQL, each on a fresh database
//! (`both_backends!`); PostgreSQL must be reachable (see herald_storage::testing).

use std::collections::{BTreeMap, HashSet};

use anyhow::{Context, Result, bail, ensure};
use chrono::Duration;
use diesel::prelude::*;
use herald_csaf::Tlp;
use herald_storage::testing::{TestDb, manufacturer, publish_sample, sample_summary};
use herald_storage::*;
#[allow(unused_imports)] // the whole crate, as a test sees it
use herald_storage::{
    accounts::*, advisories::*, audit::*, breaker::*, catalog::*, customers::*, delivery_log::*,
    destinations::*, drafts::*, entitlement::*, exposure::*, import_staging::*, installed_base::*,
    keys::*, lifecycle::*, metrics::*, outages::*, queue::*, releases::*, remediation::*,
    reminders::*, secrets::*, sessions::*, sites::*, subscriptions::*, system_mail::*,
    templates::*, throttle::*,
};

const D1: &str = "2026-03-01T10:00:00Z";
const D2: &str = "2026-03-15T10:00:00Z";
const D3: &str = "2026-04-02T10:00:00Z";

fn expect_conflict<T: std::fmt::Debug>(r: Result<T, StorageError>, what: &str) -> Result<()> {
    match r {
        Err(StorageError::Conflict(_)) => Ok(()),
        other => bail!("{what}: expected Conflict, got {other:?}"),
    }
}

fn expect_invalid<T: std::fmt::Debug>(r: Result<T, StorageError>, what: &str) -> Result<()> {
    match r {
        Err(StorageError::Invalid(_)) => Ok(()),
        other => bail!("{what}: expected Invalid, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// schema

type Columns = BTreeMap<String, BTreeMap<String, (String, bool)>>;

#[derive(QueryableByName)]
struct SqliteCol {
    #[diesel(sql_type = diesel::sql_types::Text)]
    tbl: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    ty: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    not_null: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pk: i32,
}

#[derive(QueryableByName)]
struct PgCol {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    data_type: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    is_nullable: String,
}

fn canonical_type(t: &str) -> String {
    match t.to_ascii_lowercase().as_str() {
        "blob" | "bytea" => "binary".into(),
        "double" | "double precision" => "double".into(),
        other => other.into(),
    }
}

fn columns(db: &TestDb) -> Result<Columns> {
    let mut conn = db.conn()?;
    let mut out: Columns = BTreeMap::new();
    match &mut *conn {
        DbConnection::Sqlite(c) => {
            let rows: Vec<SqliteCol> = diesel::sql_query(
                "SELECT m.name AS tbl, p.name AS name, p.type AS ty, p.\"notnull\" AS not_null, p.pk AS pk \
                 FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'",
            )
            .load(c)?;
            for r in rows {
                // SQLite lets a PRIMARY KEY column be NULL unless declared NOT NULL; ours all are.
                let not_null = r.not_null == 1 || r.pk > 0;
                out.entry(r.tbl)
                    .or_default()
                    .insert(r.name, (canonical_type(&r.ty), not_null));
            }
        }
        DbConnection::Postgres(c) => {
            let rows: Vec<PgCol> = diesel::sql_query(
                "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                        data_type::text AS data_type, is_nullable::text AS is_nullable \
                 FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
            )
            .load(c)?;
            for r in rows {
                out.entry(r.table_name).or_default().insert(
                    r.column_name,
                    (canonical_type(&r.data_type), r.is_nullable == "NO"),
                );
            }
        }
    }
    Ok(out)
}

#[test]
fn schema_parity() -> Result<()> {
    let sqlite = TestDb::new(Backend::Sqlite)?;
    let postgres = TestDb::new(Backend::Postgres)?;
    let a = columns(&sqlite)?;
    let b = columns(&postgres)?;
    ensure!(
        a.len() >= 14,
        "expected at least 14 tables, SQLite has {}",
        a.len()
    );
    for table in a.keys().chain(b.keys()) {
        let (ca, cb) = (a.get(table), b.get(table));
        ensure!(
            ca == cb,
            "table {table} differs:\n sqlite:   {ca:?}\n postgres: {cb:?}"
        );
    }
    Ok(())
}

fn migrate_twice(db: &TestDb) -> Result<()> {
    let again = db.db.migrate()?;
    ensure!(again.is_empty(), "second migrate applied {again:?}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// accounts

fn users_and_sessions(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    expect_conflict(
        create_organization(conn, OrgKind::Hospital, "Other", "larkspur"),
        "duplicate slug",
    )?;
    expect_invalid(
        create_organization(conn, OrgKind::Hospital, "Bad", "Bad Slug"),
        "bad slug",
    )?;
    let user = create_user(
        conn,
        &NewUser {
            org_id: &org.id,
            email: "Ada@Larkspur.example",
            display_name: "Ada",
            password: "correct horse battery",
            role: Role::Publisher,
        },
    )?;
    ensure!(user.email == "ada@larkspur.example");
    expect_conflict(
        create_user(
            conn,
            &NewUser {
                org_id: &org.id,
                email: "ada@larkspur.example",
                display_name: "A",
                password: "12345678",
                role: Role::Viewer,
            },
        ),
        "duplicate e-mail",
    )?;
    expect_invalid(
        create_user(
            conn,
            &NewUser {
                org_id: &org.id,
                email: "b@x",
                display_name: "B",
                password: "short",
                role: Role::Viewer,
            },
        ),
        "short password",
    )?;
    ensure!(verify_password(conn, "ada@larkspur.example", "correct horse battery")?.is_some());
    ensure!(verify_password(conn, "ADA@larkspur.example", "wrong horse battery")?.is_none());
    ensure!(verify_password(conn, "nobody@larkspur.example", "correct horse battery")?.is_none());

    let s = create_session(conn, &user.id, Duration::hours(1))?;
    let (session, who) = lookup_session(conn, &s.token)?.context("session not found")?;
    ensure!(session.id == s.session.id && who.id == user.id);
    ensure!(lookup_session(conn, "not-a-token")?.is_none());
    set_user_disabled(conn, &user.id, true)?;
    ensure!(
        lookup_session(conn, &s.token)?.is_none(),
        "disabled user keeps a session"
    );
    ensure!(verify_password(conn, "ada@larkspur.example", "correct horse battery")?.is_none());
    set_user_disabled(conn, &user.id, false)?;
    ensure!(delete_session(conn, &s.token)?);
    ensure!(lookup_session(conn, &s.token)?.is_none());

    // An expired session is not found and is cleaned up.
    let old = create_session(conn, &user.id, Duration::hours(1))?;
    diesel::update(schema::sessions::table.find(&old.session.id))
        .set(schema::sessions::expires_at.eq(to_micros(now() - Duration::seconds(1))))
        .execute(conn)?;
    ensure!(lookup_session(conn, &old.token)?.is_none());
    ensure!(delete_expired_sessions(conn)? == 1);
    Ok(())
}

fn api_tokens(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    let other = create_organization(conn, OrgKind::Hospital, "St. Elsewhere", "st-elsewhere")?;
    let created = create_api_token(
        conn,
        &NewApiToken {
            org_id: &org.id,
            user_id: None,
            name: "CI",
            scopes: &[Scope::Publish, Scope::Read],
            expires_at: None,
        },
        "test",
    )?;
    ensure!(created.token.starts_with("hrld_") && created.token.len() == 5 + 64);
    ensure!(created.token.starts_with(&created.info.token_prefix));
    let auth = authenticate_api_token(conn, &created.token)?.context("token rejected")?;
    ensure!(
        auth.id == created.info.id
            && auth.has_scope(Scope::Publish)
            && !auth.has_scope(Scope::Admin)
    );
    ensure!(auth.last_used_at.is_some());
    ensure!(authenticate_api_token(conn, "hrld_0000")?.is_none());
    ensure!(authenticate_api_token(conn, &created.token.replace("hrld_", "xxxx_"))?.is_none());
    // The plaintext is not stored anywhere.
    let hashes: Vec<String> = schema::api_tokens::table
        .select(schema::api_tokens::token_hash)
        .load(conn)?;
    ensure!(hashes.len() == 1 && hashes[0] != created.token && hashes[0].len() == 64);

    expect_invalid(
        create_api_token(
            conn,
            &NewApiToken {
                org_id: &org.id,
                user_id: None,
                name: "x",
                scopes: &[],
                expires_at: None,
            },
            "t",
        ),
        "no scopes",
    )?;
    expect_invalid(
        create_api_token(
            conn,
            &NewApiToken {
                org_id: &org.id,
                user_id: None,
                name: "x",
                scopes: &[Scope::Read],
                expires_at: Some(now() - Duration::seconds(5)),
            },
            "t",
        ),
        "past expiry",
    )?;

    // Expired tokens stop working.
    let expiring = create_api_token(
        conn,
        &NewApiToken {
            org_id: &org.id,
            user_id: None,
            name: "short",
            scopes: &[Scope::Read],
            expires_at: Some(now() + Duration::hours(1)),
        },
        "test",
    )?;
    ensure!(authenticate_api_token(conn, &expiring.token)?.is_some());
    diesel::update(schema::api_tokens::table.find(&expiring.info.id))
        .set(schema::api_tokens::expires_at.eq(Some(to_micros(now() - Duration::seconds(1)))))
        .execute(conn)?;
    ensure!(
        authenticate_api_token(conn, &expiring.token)?.is_none(),
        "expired token accepted"
    );

    // Revoked tokens stop working; another organization cannot revoke them.
    match revoke_api_token(conn, &other.id, &created.info.id, "test") {
        Err(StorageError::NotFound) => {}
        r => bail!("revoke by another org: {r:?}"),
    }
    ensure!(authenticate_api_token(conn, &created.token)?.is_some());
    revoke_api_token(conn, &org.id, &created.info.id, "test")?;
    ensure!(
        authenticate_api_token(conn, &created.token)?.is_none(),
        "revoked token accepted"
    );

    let list = list_api_tokens(conn, &org.id)?;
    ensure!(list.len() == 2, "list: {list:?}");
    ensure!(
        list.iter()
            .any(|t| t.id == created.info.id && t.revoked_at.is_some())
    );
    ensure!(list_api_tokens(conn, &other.id)?.is_empty());
    let audit = list_audit(conn, Some(&format!("api_token:{}", created.info.id)), 10)?;
    ensure!(
        audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>()
            == ["api_token.revoke", "api_token.create"]
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// advisories

fn count(conn: &mut DbConnection, table: &str) -> Result<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let r: N = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result(conn)?;
    Ok(r.n)
}

fn table_counts(conn: &mut DbConnection) -> Result<Vec<i64>> {
    [
        "advisories",
        "advisory_revisions",
        "advisory_cves",
        "advisory_products",
        "products",
        "outbox_events",
        "audit_log",
    ]
    .iter()
    .map(|t| count(conn, t))
    .collect()
}

fn publish_and_update(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    let v1 = sample_summary(
        "LARK-2026-001",
        &[("1", D1)],
        Some(("high", 8.1)),
        &["CVE-2026-1001"],
    );
    let p1 = publish_sample(conn, &org.id, &v1)?;
    ensure!(
        p1.event_kind == EVENT_ADVISORY_PUBLISHED && p1.path == "white/2026/lark-2026-001.json"
    );

    let v2 = sample_summary(
        "LARK-2026-001",
        &[("1", D1), ("2", D2)],
        Some(("critical", 9.8)),
        &["CVE-2026-1001", "CVE-2026-1002"],
    );
    let p2 = publish_sample(conn, &org.id, &v2)?;
    ensure!(p2.event_kind == EVENT_ADVISORY_UPDATED && p2.advisory_id == p1.advisory_id);

    let a = get_advisory(conn, "LARK-2026-001")?.context("advisory missing")?;
    ensure!(a.current.version == "2" && a.current.id == p2.revision_id);
    ensure!(a.severity.as_deref() == Some("critical") && a.max_cvss == Some(9.8));
    ensure!(a.cves == ["CVE-2026-1001", "CVE-2026-1002"]);
    ensure!(
        a.summary == v2,
        "stored summary differs from the published one"
    );
    ensure!(
        a.initial_release_date == v1.initial_release_date
            && a.current_release_date == v2.current_release_date
    );
    ensure!(
        a.year == 2026
            && a.file_name == "lark-2026-001.json"
            && a.publisher_name == "Larkspur Medical"
    );

    let revs = list_revisions(conn, "LARK-2026-001")?;
    ensure!(revs.iter().map(|r| r.version.as_str()).collect::<Vec<_>>() == ["1", "2"]);

    let doc = get_document(conn, &p2.path)?.context("document missing")?;
    ensure!(doc.bytes == herald_storage::testing::sample_document(&v2) && doc.version == "2");
    let old = get_revision_document(conn, "LARK-2026-001", "1")?.context("old revision missing")?;
    ensure!(old.bytes == herald_storage::testing::sample_document(&v1));
    ensure!(get_document(conn, "white/2026/none.json")?.is_none());

    let events = list_events(conn, Some(&p1.advisory_id))?;
    ensure!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>()
            == [EVENT_ADVISORY_PUBLISHED, EVENT_ADVISORY_UPDATED]
    );
    ensure!(events[1].revision_id.as_deref() == Some(p2.revision_id.as_str()));
    let audit = list_audit(conn, Some("advisory:LARK-2026-001"), 10)?;
    ensure!(audit.len() == 2 && audit[0].action == "advisory.update");
    // The product went into the catalog once and is linked.
    ensure!(count(conn, "products")? == 1 && count(conn, "advisory_products")? == 1);

    let docs = list_current_documents(conn, Tlp::White)?;
    ensure!(docs.len() == 1 && docs[0].version == "2" && docs[0].sha256 == doc.sha256);
    ensure!(list_current_documents(conn, Tlp::Red)?.is_empty());
    Ok(())
}

fn publish_conflicts(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    let v2 = sample_summary(
        "LARK-2026-002",
        &[("1", D1), ("2", D2)],
        None,
        &["CVE-2026-2001"],
    );
    publish_sample(conn, &org.id, &v2)?;
    let before = table_counts(conn)?;

    // Same version again, a lower version, and a version that drops or rewrites history.
    expect_conflict(publish_sample(conn, &org.id, &v2), "same version")?;
    let v1 = sample_summary("LARK-2026-002", &[("1", D1)], None, &[]);
    expect_conflict(publish_sample(conn, &org.id, &v1), "older version")?;
    let dropped = sample_summary("LARK-2026-002", &[("2", D2), ("3", D3)], None, &[]);
    expect_conflict(
        publish_sample(conn, &org.id, &dropped),
        "history without revision 1",
    )?;
    let redated = sample_summary(
        "LARK-2026-002",
        &[("1", D1), ("2", D3), ("3", D3)],
        None,
        &[],
    );
    expect_conflict(
        publish_sample(conn, &org.id, &redated),
        "history with revision 2 re-dated",
    )?;
    let mixed = sample_summary(
        "LARK-2026-002",
        &[("1", D1), ("2", D2), ("3.0.0", D3)],
        None,
        &[],
    );
    expect_conflict(publish_sample(conn, &org.id, &mixed), "integer then semver")?;
    // Another manufacturer cannot take over the tracking id.
    let rival = create_organization(conn, OrgKind::Manufacturer, "Rival", "rival")?;
    let v3 = sample_summary(
        "LARK-2026-002",
        &[("1", D1), ("2", D2), ("3", D3)],
        None,
        &[],
    );
    expect_conflict(publish_sample(conn, &rival.id, &v3), "other publisher")?;
    // Hospitals do not publish.
    let hospital = create_organization(conn, OrgKind::Hospital, "St. Elsewhere", "st-elsewhere")?;
    let other = sample_summary("LARK-2026-099", &[("1", D1)], None, &[]);
    expect_invalid(
        publish_sample(conn, &hospital.id, &other),
        "hospital publisher",
    )?;
    // Wrong digests and paths are refused before anything is written.
    let doc = herald_storage::testing::sample_document(&v3);
    let bad = PublishRequest {
        summary: &v3,
        document: &doc,
        sha256: &"0".repeat(64),
        sha512: &"0".repeat(128),
        signature: None,
        path: "white/2026/lark-2026-002.json",
        publisher_org_id: &org.id,
        actor: "test",
    };
    expect_invalid(publish(conn, &bad), "wrong sha256")?;
    let ok256 = sha256_of(&doc);
    let ok512 = sha512_of(&doc);
    expect_invalid(
        publish(
            conn,
            &PublishRequest {
                sha256: &ok256,
                sha512: &ok512,
                path: "../x.json",
                ..bad.clone()
            },
        ),
        "path",
    )?;

    let after = table_counts(conn)?;
    ensure!(
        before == after,
        "a refused publish wrote rows: {before:?} -> {after:?}"
    );
    let a = get_advisory(conn, "LARK-2026-002")?.context("advisory gone")?;
    ensure!(a.current.version == "2");

    // A proper next revision is still accepted afterwards.
    publish_sample(conn, &org.id, &v3)?;
    Ok(())
}

fn sha256_of(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

fn sha512_of(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha512::digest(b))
}

fn semver_revisions(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    publish_sample(
        conn,
        &org.id,
        &sample_summary("LARK-2026-003", &[("1.0.0-rc.1", D1)], None, &[]),
    )?;
    publish_sample(
        conn,
        &org.id,
        &sample_summary(
            "LARK-2026-003",
            &[("1.0.0-rc.1", D1), ("1.0.0", D2)],
            None,
            &[],
        ),
    )?;
    // 1.0.0+build differs only in build metadata: same precedence, not newer.
    let same = sample_summary(
        "LARK-2026-003",
        &[("1.0.0-rc.1", D1), ("1.0.0", D2), ("1.0.0+b1", D3)],
        None,
        &[],
    );
    expect_conflict(publish_sample(conn, &org.id, &same), "build metadata only")?;
    publish_sample(
        conn,
        &org.id,
        &sample_summary(
            "LARK-2026-003",
            &[("1.0.0-rc.1", D1), ("1.0.0", D2), ("1.10.0", D3)],
            None,
            &[],
        ),
    )?;
    ensure!(
        get_advisory(conn, "LARK-2026-003")?
            .context("missing")?
            .current
            .version
            == "1.10.0"
    );
    Ok(())
}

#[test]
fn version_ordering() -> Result<()> {
    use std::cmp::Ordering::*;
    ensure!(compare_versions("10", "9")? == Greater);
    ensure!(compare_versions("010", "10")? == Equal);
    ensure!(compare_versions("99999999999999999999999", "1")? == Greater);
    ensure!(compare_versions("1.10.0", "1.9.0")? == Greater);
    ensure!(compare_versions("1.0.0", "1.0.0-alpha")? == Greater);
    ensure!(compare_versions("1.0.0+x", "1.0.0")? == Equal);
    ensure!(compare_versions("1", "1.0.0").is_err());
    ensure!(compare_versions("v1", "v2").is_err());
    Ok(())
}

fn listing(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    publish_sample(
        conn,
        &org.id,
        &sample_summary("LARK-2026-010", &[("1", D1)], None, &["CVE-2026-0010"]),
    )?;
    publish_sample(
        conn,
        &org.id,
        &sample_summary("LARK-2026-011", &[("1", D2)], None, &["CVE-2026-0011"]),
    )?;
    let mut amber = sample_summary("LARK_2026-012", &[("1", D3)], None, &["CVE-2026-0012"]);
    amber.tlp = Some(Tlp::Amber);
    let doc = herald_storage::testing::sample_document(&amber);
    publish(
        conn,
        &PublishRequest {
            summary: &amber,
            document: &doc,
            sha256: &sha256_of(&doc),
            sha512: &sha512_of(&doc),
            signature: Some("-----BEGIN PGP SIGNATURE-----".into()),
            path: "amber/2026/lark_2026-012.json",
            publisher_org_id: &org.id,
            actor: "test",
        },
    )?;

    // WHITE: an anonymous reader; WHITE and AMBER: the publishing manufacturer.
    let maker = Reader::Manufacturer {
        org_id: org.id.clone(),
    };
    let all = |text: Option<&str>, tlps: Vec<Tlp>| AdvisoryFilter {
        text: text.map(str::to_string),
        reader: if tlps.contains(&Tlp::Amber) {
            maker.clone()
        } else {
            Reader::Anonymous
        },
        limit: 50,
        offset: 0,
        ..Default::default()
    };
    let ids = |p: &AdvisoryPage| {
        p.items
            .iter()
            .map(|i| i.tracking_id.clone())
            .collect::<Vec<_>>()
    };

    let white = list_advisories(conn, &all(None, vec![Tlp::White]))?;
    ensure!(
        ids(&white) == ["LARK-2026-011", "LARK-2026-010"] && white.total == 2,
        "newest first: {:?}",
        ids(&white)
    );
    let both = list_advisories(conn, &all(None, vec![Tlp::White, Tlp::Amber]))?;
    ensure!(ids(&both) == ["LARK_2026-012", "LARK-2026-011", "LARK-2026-010"]);
    ensure!(
        list_advisories(
            conn,
            &AdvisoryFilter {
                reader: maker.clone(),
                tlp: Some(Tlp::Green),
                ..Default::default()
            }
        )?
        .total
            == 0,
        "a label filter narrows"
    );

    ensure!(
        ids(&list_advisories(
            conn,
            &all(Some("cve-2026-0010"), vec![Tlp::White, Tlp::Amber])
        )?) == ["LARK-2026-010"]
    );
    ensure!(list_advisories(conn, &all(Some("NIMBUS infusion"), vec![Tlp::White]))?.total == 2);
    ensure!(
        list_advisories(conn, &all(Some("CVE-2026-0012"), vec![Tlp::White]))?.total == 0,
        "TLP filter ignored by search"
    );
    // `_` and `%` are literal, not wildcards.
    ensure!(
        ids(&list_advisories(
            conn,
            &all(Some("lark_"), vec![Tlp::White, Tlp::Amber])
        )?) == ["LARK_2026-012"]
    );
    ensure!(list_advisories(conn, &all(Some("%"), vec![Tlp::White, Tlp::Amber]))?.total == 0);

    let page2 = list_advisories(
        conn,
        &AdvisoryFilter {
            text: None,
            reader: maker.clone(),
            limit: 2,
            offset: 2,
            ..Default::default()
        },
    )?;
    ensure!(ids(&page2) == ["LARK-2026-010"] && page2.total == 3);
    expect_invalid(
        list_advisories(
            conn,
            &AdvisoryFilter {
                limit: 0,
                ..Default::default()
            },
        ),
        "limit 0",
    )?;

    let amber_docs = list_current_documents(conn, Tlp::Amber)?;
    ensure!(
        amber_docs.len() == 1
            && amber_docs[0].signed
            && amber_docs[0].path == "amber/2026/lark_2026-012.json"
    );
    let d = get_document(conn, "amber/2026/lark_2026-012.json")?.context("amber doc")?;
    ensure!(d.signature.is_some() && d.tlp == Tlp::Amber);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// delivery queue

fn destination(
    conn: &mut DbConnection,
    org: &str,
    name: &str,
    min: Option<&str>,
    enabled: bool,
) -> Result<Destination> {
    Ok(create_destination(
        conn,
        &NewDestination {
            org_id: org,
            plugin_id: "webhook",
            name,
            config: serde_json::json!({ "url": "http://127.0.0.1:9/hook" }),
            grants: serde_json::json!({ "http_hosts": ["127.0.0.1"] }),
            enabled,
            min_severity: min,
        },
        "test",
    )?)
}

fn destinations_crud(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    let d = destination(conn, &org.id, "SOC webhook", Some("HIGH"), true)?;
    ensure!(d.min_severity.as_deref() == Some("high"));
    ensure!(get_destination(conn, &d.id)?.as_ref() == Some(&d));
    ensure!(list_destinations(conn, Some(&org.id))? == vec![d.clone()]);
    ensure!(list_destinations(conn, Some("nope"))?.is_empty());
    expect_invalid(
        create_destination(
            conn,
            &NewDestination {
                org_id: &org.id,
                plugin_id: "webhook",
                name: "x",
                config: serde_json::json!([1]),
                grants: serde_json::json!({}),
                enabled: true,
                min_severity: None,
            },
            "t",
        ),
        "config not an object",
    )?;
    expect_invalid(
        create_destination(
            conn,
            &NewDestination {
                org_id: &org.id,
                plugin_id: "webhook",
                name: "x",
                config: serde_json::json!({}),
                grants: serde_json::json!({}),
                enabled: true,
                min_severity: Some("severe"),
            },
            "t",
        ),
        "bad severity",
    )?;
    set_destination_enabled(conn, &d.id, false, "test")?;
    ensure!(!get_destination(conn, &d.id)?.context("gone")?.enabled);
    Ok(())
}

fn fan_out_idempotent(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    let all = destination(conn, &org.id, "everything", None, true)?;
    let high = destination(conn, &org.id, "high and up", Some("high"), true)?;
    let _off = destination(conn, &org.id, "disabled", None, false)?;

    let p1 = publish_sample(
        conn,
        &org.id,
        &sample_summary(
            "LARK-2026-020",
            &[("1", D1)],
            Some(("medium", 5.0)),
            &["CVE-2026-2020"],
        ),
    )?;
    let r = fan_out_pending(conn, 100)?;
    ensure!(
        r == FanOutReport {
            events: 1,
            deliveries: 1
        },
        "{r:?}"
    );
    ensure!(
        fan_out_pending(conn, 100)? == FanOutReport::default(),
        "second fan-out did something"
    );

    let p2 = publish_sample(
        conn,
        &org.id,
        &sample_summary("LARK-2026-021", &[("1", D2)], Some(("critical", 9.9)), &[]),
    )?;
    // No severity: never filtered out.
    let p3 = publish_sample(
        conn,
        &org.id,
        &sample_summary("LARK-2026-022", &[("1", D3)], None, &[]),
    )?;
    let r = fan_out_pending(conn, 1)?;
    ensure!(
        r == FanOutReport {
            events: 1,
            deliveries: 2
        },
        "limit 1: {r:?}"
    );
    let r = fan_out_pending(conn, 100)?;
    ensure!(
        r == FanOutReport {
            events: 1,
            deliveries: 2
        },
        "{r:?}"
    );

    let by_dest = |conn: &mut DbConnection, d: &str| -> Result<Vec<String>> {
        Ok(list_deliveries(
            conn,
            &DeliveryFilter {
                destination_id: Some(d.to_string()),
                ..Default::default()
            },
        )?
        .into_iter()
        .map(|x| x.event_id)
        .collect())
    };
    ensure!(
        by_dest(conn, &all.id)?
            == [
                p1.event_id.clone(),
                p2.event_id.clone(),
                p3.event_id.clone()
            ]
    );
    ensure!(by_dest(conn, &high.id)? == [p2.event_id.clone(), p3.event_id.clone()]);

    // Even if an event is un-marked (a crash between insert and mark cannot happen, but a
    // replayed outbox could), the unique constraint keeps one delivery per pair.
    diesel::update(schema::outbox_events::table)
        .set(schema::outbox_events::fanned_out_at.eq(None::<i64>))
        .execute(conn)?;
    let r = fan_out_pending(conn, 100)?;
    ensure!(
        r == FanOutReport {
            events: 3,
            deliveries: 0
        },
        "re-fan-out: {r:?}"
    );
    ensure!(count(conn, "deliveries")? == 5);
    let dup = diesel::insert_into(schema::deliveries::table)
        .values((
            schema::deliveries::id.eq(new_id()),
            schema::deliveries::event_id.eq(&p1.event_id),
            schema::deliveries::destination_id.eq(&all.id),
            schema::deliveries::event_at.eq(0i64),
            schema::deliveries::status.eq("queued"),
            schema::deliveries::attempts.eq(0),
            schema::deliveries::replay_base.eq(0),
            schema::deliveries::next_attempt_at.eq(0i64),
            schema::deliveries::created_at.eq(0i64),
            schema::deliveries::updated_at.eq(0i64),
        ))
        .execute(conn);
    ensure!(dup.is_err(), "unique (event, destination) not enforced");
    Ok(())
}

/// A fan-out larger than one insert statement carries (the rows go in chunks) creates every
/// delivery once, in event order per destination, and a re-fan-out of an event that lost some of
/// its deliveries adds back exactly those.
fn fan_out_in_chunks(db: &TestDb) -> Result<()> {
    const DESTINATIONS: usize = 1201;
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    // One transaction: a commit per destination would make this test slow on SQLite.
    let dests: Vec<Destination> = write_transaction_as(conn, |c| {
        (0..DESTINATIONS)
            .map(|i| destination(c, &org.id, &format!("hospital {i:04}"), None, true))
            .collect::<Result<_>>()
    })?;
    let p1 = publish_sample(
        conn,
        &org.id,
        &sample_summary("LARK-2026-030", &[("1", D1)], Some(("high", 8.0)), &[]),
    )?;
    let p2 = publish_sample(
        conn,
        &org.id,
        &sample_summary("LARK-2026-031", &[("1", D2)], Some(("low", 2.0)), &[]),
    )?;
    let r = fan_out_pending(conn, 100)?;
    ensure!(
        r == FanOutReport {
            events: 2,
            deliveries: 2 * DESTINATIONS
        },
        "{r:?}"
    );
    let pairs: HashSet<(String, String)> = schema::deliveries::table
        .select((
            schema::deliveries::event_id,
            schema::deliveries::destination_id,
        ))
        .load(conn)?
        .into_iter()
        .collect();
    ensure!(
        pairs.len() == 2 * DESTINATIONS,
        "{} distinct pairs",
        pairs.len()
    );
    for d in [&dests[0], &dests[600], &dests[DESTINATIONS - 1]] {
        let events: Vec<String> = list_deliveries(
            conn,
            &DeliveryFilter {
                destination_id: Some(d.id.clone()),
                ..Default::default()
            },
        )?
        .into_iter()
        .map(|x| x.event_id)
        .collect();
        ensure!(
            events == [p1.event_id.clone(), p2.event_id.clone()],
            "{events:?}"
        );
    }

    // p1 loses the deliveries of 700 destinations (more than one chunk) and is un-marked.
    let lost: Vec<String> = dests.iter().take(700).map(|d| d.id.clone()).collect();
    diesel::delete(
        schema::deliveries::table
            .filter(schema::deliveries::event_id.eq(&p1.event_id))
            .filter(schema::deliveries::destination_id.eq_any(&lost)),
    )
    .execute(conn)?;
    diesel::update(schema::outbox_events::table.find(&p1.event_id))
        .set(schema::outbox_events::fanned_out_at.eq(None::<i64>))
        .execute(conn)?;
    let r = fan_out_pending(conn, 100)?;
    ensure!(
        r == FanOutReport {
            events: 1,
            deliveries: 700
        },
        "re-fan-out: {r:?}"
    );
    ensure!(count(conn, "deliveries")? == i64::try_from(2 * DESTINATIONS)?);
    Ok(())
}

fn delivered(receipt: &str) -> NextStep {
    NextStep::Delivered {
        receipt: serde_json::json!({ "remote_id": receipt, "detail": "ok" }),
    }
}

fn report<'a>(
    c: &'a ClaimedDelivery,
    worker: &'a str,
    outcome: AttemptOutcome,
    next: NextStep,
) -> AttemptReport<'a> {
    AttemptReport {
        delivery_id: &c.delivery.id,
        worker,
        number: c.delivery.attempts,
        started_at: now(),
        duration_ms: 3,
        outcome,
        error: if outcome == AttemptOutcome::Delivered {
            None
        } else {
            Some(format!("{outcome}"))
        },
        next,
    }
}

fn claim_order_retry_and_replay(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    let dest = destination(conn, &org.id, "hook", None, true)?;
    let v1 = sample_summary("LARK-2026-030", &[("1", D1)], Some(("high", 7.5)), &[]);
    let v2 = sample_summary(
        "LARK-2026-030",
        &[("1", D1), ("2", D2)],
        Some(("high", 7.5)),
        &[],
    );
    publish_sample(conn, &org.id, &v1)?;
    publish_sample(conn, &org.id, &v2)?;
    fan_out_pending(conn, 10)?;
    let lease = Duration::minutes(5);

    // Only the oldest delivery of the destination is claimable.
    let c = claim_due(conn, "w1", 10, lease)?;
    ensure!(
        c.len() == 1 && c[0].event.kind == EVENT_ADVISORY_PUBLISHED,
        "claimed {}",
        c.len()
    );
    ensure!(c[0].delivery.attempts == 1 && c[0].delivery.status == DeliveryStatus::InFlight);
    ensure!(
        c[0].tracking_id.as_deref() == Some("LARK-2026-030") && c[0].summary.as_ref() == Some(&v1)
    );
    ensure!(c[0].previous_receipt.is_none());
    ensure!(
        claim_due(conn, "w2", 10, lease)?.is_empty(),
        "second delivery overtook the first"
    );

    // A retry in the future holds the destination back; one in the past makes it due again.
    record_attempt(
        conn,
        &report(
            &c[0],
            "w1",
            AttemptOutcome::Retryable,
            NextStep::RetryAt(now() + Duration::hours(1)),
        ),
    )?;
    ensure!(claim_due(conn, "w1", 10, lease)?.is_empty());
    diesel::update(schema::deliveries::table.find(&c[0].delivery.id))
        .set(schema::deliveries::next_attempt_at.eq(to_micros(now() - Duration::seconds(1))))
        .execute(conn)?;
    let c = claim_due(conn, "w1", 10, lease)?;
    ensure!(c.len() == 1 && c[0].delivery.attempts == 2);
    // Recording for the wrong attempt number or worker is refused.
    let mut wrong = report(&c[0], "w2", AttemptOutcome::Delivered, delivered("r1"));
    expect_conflict(record_attempt(conn, &wrong), "other worker")?;
    wrong.worker = "w1";
    wrong.number = 1;
    expect_conflict(record_attempt(conn, &wrong), "stale attempt number")?;
    expect_invalid(
        record_attempt(
            conn,
            &report(&c[0], "w1", AttemptOutcome::Permanent, delivered("r1")),
        ),
        "outcome/next mismatch",
    )?;
    let d = record_attempt(
        conn,
        &report(&c[0], "w1", AttemptOutcome::Delivered, delivered("r1")),
    )?;
    ensure!(
        d.status == DeliveryStatus::Delivered
            && d.delivered_at.is_some()
            && d.lease_owner.is_none()
    );
    let attempts = list_attempts(conn, &d.id)?;
    ensure!(
        attempts
            .iter()
            .map(|a| (a.number, a.outcome))
            .collect::<Vec<_>>()
            == [
                (1, AttemptOutcome::Retryable),
                (2, AttemptOutcome::Delivered)
            ]
    );

    // Now the update is due, and carries the first delivery's receipt.
    let c = claim_due(conn, "w1", 10, lease)?;
    ensure!(c.len() == 1 && c[0].event.kind == EVENT_ADVISORY_UPDATED);
    ensure!(
        c[0].previous_receipt == Some(serde_json::json!({ "remote_id": "r1", "detail": "ok" }))
    );
    let d = record_attempt(
        conn,
        &report(&c[0], "w1", AttemptOutcome::Permanent, NextStep::Failed),
    )?;
    ensure!(d.status == DeliveryStatus::Failed && d.last_error.as_deref() == Some("permanent"));
    ensure!(claim_due(conn, "w1", 10, lease)?.is_empty());

    // Replay: only dead letters, budget restarts.
    let delivered_id = list_deliveries(
        conn,
        &DeliveryFilter {
            status: Some(DeliveryStatus::Delivered),
            ..Default::default()
        },
    )?;
    expect_conflict(
        replay_delivery(conn, &delivered_id[0].id, "test"),
        "replay delivered",
    )?;
    let r = replay_delivery(conn, &d.id, "ops")?;
    ensure!(r.status == DeliveryStatus::Queued && r.replay_base == 1 && r.attempts == 1);
    let c = claim_due(conn, "w1", 10, lease)?;
    ensure!(c.len() == 1 && c[0].delivery.id == d.id && c[0].delivery.attempts == 2);
    record_attempt(
        conn,
        &report(&c[0], "w1", AttemptOutcome::Retryable, NextStep::Dead),
    )?;
    ensure!(replay_dead_letters(conn, &dest.id, "ops")? == 1);
    ensure!(list_audit(conn, Some(&format!("delivery:{}", d.id)), 10)?.len() == 2);
    Ok(())
}

/// A destination whose oldest delivery waits on a retry holds back only its own backlog; the
/// others keep flowing, each in event order. Paging the deliveries (the REST list) happens in
/// the database, limited to one organization's destinations when asked.
fn claim_passes_blocked_backlogs(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    let hospital = create_organization(conn, OrgKind::Hospital, "St. Elsewhere", "st-elsewhere")?;
    let blocked = destination(conn, &org.id, "down", None, true)?;
    let flowing = destination(conn, &hospital.id, "up", None, true)?;
    for i in 0..5 {
        let tracking = format!("LARK-2026-07{i}");
        publish_sample(
            conn,
            &org.id,
            &sample_summary(&tracking, &[("1", D1)], None, &[]),
        )?;
    }
    ensure!(fan_out_pending(conn, 10)?.deliveries == 10);
    let lease = Duration::minutes(5);
    let heads = claim_due(conn, "w1", 10, lease)?;
    ensure!(heads.len() == 2, "claimed {} heads", heads.len());
    for c in &heads {
        let next = if c.destination.id == blocked.id {
            NextStep::RetryAt(now() + Duration::hours(1))
        } else {
            delivered("r0")
        };
        let outcome = match next {
            NextStep::Delivered { .. } => AttemptOutcome::Delivered,
            _ => AttemptOutcome::Retryable,
        };
        record_attempt(conn, &report(c, "w1", outcome, next))?;
    }
    for n in 1..5 {
        let c = claim_due(conn, "w1", 10, lease)?;
        ensure!(
            c.len() == 1 && c[0].destination.id == flowing.id,
            "round {n}: claimed {:?}",
            c.iter().map(|c| &c.destination.name).collect::<Vec<_>>()
        );
        ensure!(c[0].tracking_id.as_deref() == Some(format!("LARK-2026-07{n}").as_str()));
        record_attempt(
            conn,
            &report(&c[0], "w1", AttemptOutcome::Delivered, delivered("r")),
        )?;
    }
    ensure!(claim_due(conn, "w1", 10, lease)?.is_empty());

    let all = list_deliveries(conn, &DeliveryFilter::default())?;
    ensure!(all.len() == 10);
    let first = list_deliveries_page(conn, &DeliveryFilter::default(), None, 3, 0)?;
    ensure!(
        first
            .iter()
            .map(|d| &d.id)
            .eq(all.iter().take(3).map(|d| &d.id))
    );
    let theirs = list_deliveries_page(conn, &DeliveryFilter::default(), Some(&hospital.id), 2, 0)?;
    ensure!(theirs.len() == 2 && theirs.iter().all(|d| d.destination_id == flowing.id));
    ensure!(theirs[0].event_id != theirs[1].event_id);
    let last = list_deliveries_page(conn, &DeliveryFilter::default(), Some(&hospital.id), 2, 4)?;
    ensure!(last.len() == 1 && last[0].status == DeliveryStatus::Delivered);
    Ok(())
}

fn lease_expiry(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    destination(conn, &org.id, "hook", None, true)?;
    publish_sample(
        conn,
        &org.id,
        &sample_summary("LARK-2026-040", &[("1", D1)], None, &[]),
    )?;
    fan_out_pending(conn, 10)?;
    let first = claim_due(conn, "crashy", 10, Duration::milliseconds(200))?;
    ensure!(first.len() == 1);
    ensure!(
        claim_due(conn, "rescuer", 10, Duration::minutes(5))?.is_empty(),
        "claimed while the lease holds"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let second = claim_due(conn, "rescuer", 10, Duration::minutes(5))?;
    ensure!(second.len() == 1 && second[0].delivery.id == first[0].delivery.id);
    ensure!(
        second[0].delivery.attempts == 2
            && second[0].delivery.lease_owner.as_deref() == Some("rescuer")
    );
    // The crashed worker comes back: its result is refused, the rescuer's counts.
    expect_conflict(
        record_attempt(
            conn,
            &report(
                &first[0],
                "crashy",
                AttemptOutcome::Delivered,
                delivered("late"),
            ),
        ),
        "late worker",
    )?;
    record_attempt(
        conn,
        &report(
            &second[0],
            "rescuer",
            AttemptOutcome::Delivered,
            delivered("r"),
        ),
    )?;
    let attempts = list_attempts(conn, &first[0].delivery.id)?;
    ensure!(
        attempts
            .iter()
            .map(|a| (a.number, a.outcome, a.worker.as_str()))
            .collect::<Vec<_>>()
            == [
                (1, AttemptOutcome::Abandoned, "crashy"),
                (2, AttemptOutcome::Delivered, "rescuer")
            ],
        "{attempts:?}"
    );
    Ok(())
}

/// Two workers claim at the same time, each on its own connection, until nothing is left: every
/// delivery is claimed exactly once.
fn concurrent_claimers(db: &TestDb) -> Result<()> {
    const DESTINATIONS: usize = 12;
    {
        let mut conn = db.conn()?;
        let conn = &mut *conn;
        let org = manufacturer(conn)?;
        for i in 0..DESTINATIONS {
            destination(conn, &org.id, &format!("hook {i}"), None, true)?;
        }
        publish_sample(
            conn,
            &org.id,
            &sample_summary("LARK-2026-050", &[("1", D1)], None, &[]),
        )?;
        ensure!(fan_out_pending(conn, 10)?.deliveries == DESTINATIONS);
    }
    let barrier = std::sync::Barrier::new(2);
    let results: Vec<Result<Vec<String>>> = std::thread::scope(|s| {
        let handles: Vec<_> = ["alpha", "beta"]
            .into_iter()
            .map(|worker| {
                let barrier = &barrier;
                let db = &db.db;
                s.spawn(move || -> Result<Vec<String>> {
                    let mut conn = db.get()?;
                    let mut mine = Vec::new();
                    barrier.wait();
                    loop {
                        let got = claim_due(&mut conn, worker, 2, Duration::minutes(5))?;
                        if got.is_empty() {
                            break;
                        }
                        mine.extend(got.into_iter().map(|c| c.delivery.id));
                    }
                    Ok(mine)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("claimer panicked")))
            })
            .collect()
    });
    let mut seen = HashSet::new();
    let mut per_worker = Vec::new();
    for r in results {
        let ids = r?;
        per_worker.push(ids.len());
        for id in ids {
            ensure!(seen.insert(id.clone()), "delivery {id} claimed twice");
        }
    }
    ensure!(
        seen.len() == DESTINATIONS,
        "claimed {} of {DESTINATIONS} ({per_worker:?})",
        seen.len()
    );
    Ok(())
}

/// Db::connect creates the SQLite parent directory and rejects URLs it cannot use.
fn connect_urls(_db: &TestDb) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("nested/deeper/herald.db");
    let db = Db::connect(&format!("sqlite://{}", path.display()))?;
    ensure!(db.backend() == Backend::Sqlite && path.exists());
    db.migrate()?;
    ensure!(matches!(DbTarget::parse(""), Err(StorageError::Invalid(_))));
    ensure!(matches!(
        DbTarget::parse("mysql://x"),
        Err(StorageError::Invalid(_))
    ));
    ensure!(matches!(
        DbTarget::parse("sqlite::memory:"),
        Err(StorageError::Invalid(_))
    ));
    ensure!(DbTarget::parse("postgresql://u@h/db")?.backend() == Backend::Postgres);
    ensure!(
        DbTarget::parse("/var/lib/herald/herald.db")?
            == DbTarget::Sqlite("/var/lib/herald/herald.db".into())
    );
    ensure!(matches!(
        Db::connect("postgres://postgres@127.0.0.1:1/none"),
        Err(StorageError::Connection(_))
    ));
    Ok(())
}

/// An error inside write_transaction undoes the writes already made, also when nested.
fn transaction_rollback(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let r: Result<(), StorageError> = write_transaction(conn, |c| {
        append_audit(c, "test", "outer", "x", &serde_json::json!({}))?;
        let inner: Result<(), StorageError> = write_transaction(c, |c| {
            append_audit(c, "test", "inner", "x", &serde_json::json!({}))?;
            Err(StorageError::Invalid("inner fails".into()))
        });
        ensure_err(inner)?;
        // The savepoint rolled back only the inner write.
        ensure_audit(c, &["outer"])?;
        Err(StorageError::Invalid("outer fails".into()))
    });
    ensure!(matches!(r, Err(StorageError::Invalid(_))), "{r:?}");
    ensure!(
        list_audit(conn, Some("x"), 10)?.is_empty(),
        "rolled-back rows are visible"
    );
    // The connection is usable afterwards.
    write_transaction(conn, |c| {
        append_audit(c, "test", "after", "x", &serde_json::json!({}))
    })?;
    ensure!(list_audit(conn, Some("x"), 10)?.len() == 1);
    Ok(())
}

fn ensure_err(r: Result<(), StorageError>) -> Result<(), StorageError> {
    match r {
        Err(_) => Ok(()),
        Ok(()) => Err(StorageError::Invalid(
            "expected the inner transaction to fail".into(),
        )),
    }
}

fn ensure_audit(c: &mut DbConnection, actions: &[&str]) -> Result<(), StorageError> {
    let got: Vec<String> = list_audit(c, Some("x"), 10)?
        .into_iter()
        .map(|a| a.action)
        .collect();
    if got == actions {
        Ok(())
    } else {
        Err(StorageError::Invalid(format!(
            "audit is {got:?}, expected {actions:?}"
        )))
    }
}

/// Writers on separate connections publishing at the same time all succeed (SQLite: immediate
/// transactions queue on busy_timeout instead of failing with SQLITE_BUSY).
fn concurrent_publishers(db: &TestDb) -> Result<()> {
    let org = manufacturer(&mut *db.conn()?)?;
    let barrier = std::sync::Barrier::new(3);
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = (0..3)
            .map(|t| {
                let (barrier, db, org) = (&barrier, &db.db, &org.id);
                s.spawn(move || -> Result<()> {
                    let mut conn = db.get()?;
                    barrier.wait();
                    for i in 0..8 {
                        let id = format!("LARK-2026-{t}{i:02}");
                        publish_sample(
                            &mut conn,
                            org,
                            &sample_summary(&id, &[("1", D1)], None, &[]),
                        )?;
                        fan_out_pending(&mut conn, 5)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("publisher panicked"))??;
        }
        Ok(())
    })?;
    let mut conn = db.conn()?;
    ensure!(count(&mut conn, "advisories")? == 24 && count(&mut conn, "outbox_events")? == 24);
    Ok(())
}

herald_storage::both_backends!(
    transaction_rollback,
    concurrent_publishers,
    migrate_twice,
    users_and_sessions,
    api_tokens,
    publish_and_update,
    publish_conflicts,
    semver_revisions,
    listing,
    destinations_crud,
    fan_out_idempotent,
    fan_out_in_chunks,
    claim_order_retry_and_replay,
    claim_passes_blocked_backlogs,
    lease_expiry,
    concurrent_claimers,
    connect_urls,
);
