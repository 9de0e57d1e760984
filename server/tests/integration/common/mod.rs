//! Shared set-up for the server's integration tests: the real application on a fresh database of
//! either backend, a publishing token, and the demo documents.

#[macro_use]
pub mod forms;
pub mod receiver;

use std::sync::Arc;

use herald_server::config::Config;
use herald_server::state::AppState;
use herald_storage::testing::TestDb;
use herald_storage::{Backend, accounts::NewApiToken, accounts::OrgKind, accounts::Scope};

pub const BASE: &str = "http://herald.test";

pub struct Harness {
    pub test_db: TestDb,
    pub state: AppState,
    pub maker_id: String,
    _dir: tempfile::TempDir,
}

pub fn harness(backend: Backend) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = vec![
        (
            "HERALD_DATA_DIR".to_owned(),
            dir.path().display().to_string(),
        ),
        ("HERALD_BASE_URL".to_owned(), BASE.to_owned()),
        (
            "HERALD_SITE_ROOT".to_owned(),
            dir.path().join("site").display().to_string(),
        ),
        (
            "HERALD_PLUGIN_DIR".to_owned(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/../target/plugins").to_owned(),
        ),
    ];
    let config = Config::load_from(None, &env).expect("config");
    let test_db = TestDb::new(backend).expect("test database");
    let maker = {
        let mut conn = test_db.conn().expect("conn");
        herald_storage::accounts::ensure_organization(
            &mut conn,
            OrgKind::Manufacturer,
            &config.publisher_name,
        )
        .expect("manufacturer")
    };
    let state = AppState {
        config: Arc::new(config),
        db: test_db.db.clone(),
        plugins: None,
        serving: Default::default(),
    };
    Harness {
        test_db,
        state,
        maker_id: maker.id,
        _dir: dir,
    }
}

impl Harness {
    /// A token of the manufacturer organization.
    pub fn token(&self, scopes: &[Scope]) -> String {
        self.token_for(&self.maker_id, scopes)
    }

    /// A token of the hospital organization `name` (created when missing).
    pub fn hospital_token(&self, name: &str, scopes: &[Scope]) -> String {
        let org = {
            let mut conn = self.test_db.conn().expect("conn");
            herald_storage::accounts::ensure_organization(&mut conn, OrgKind::Hospital, name)
                .expect("hospital")
        };
        self.token_for(&org.id, scopes)
    }

    pub fn token_for(&self, org_id: &str, scopes: &[Scope]) -> String {
        let mut conn = self.test_db.conn().expect("conn");
        herald_storage::accounts::create_api_token(
            &mut conn,
            &NewApiToken {
                org_id,
                user_id: None,
                name: "test",
                scopes,
                expires_at: None,
            },
            "test",
        )
        .expect("token")
        .token
    }
}

pub fn demo(name: &str) -> Vec<u8> {
    let path = format!("{}/demo/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn demo_json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&demo(name)).expect("demo json")
}

/// How long one test of this suite may take before it fails as hung: far above any test's normal
/// time (seconds), far below CI's budget, so a request that never completes names its test.
pub const TEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(300);

/// Runs one test body, failing it (rather than hanging the run) once it passes `TEST_DEADLINE`.
pub async fn within_deadline(name: &str, test: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(TEST_DEADLINE, test).await.is_err() {
        panic!("{name} did not finish in {TEST_DEADLINE:?}: a request or task never completed");
    }
}

/// Turns `async fn name(backend: Backend)` into `name::sqlite` and `name::postgres` tests.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    $crate::common::within_deadline(
                        concat!(stringify!($name), "::sqlite"),
                        super::$name(herald_storage::Backend::Sqlite),
                    )
                    .await;
                }
                #[actix_web::test]
                async fn postgres() {
                    $crate::common::within_deadline(
                        concat!(stringify!($name), "::postgres"),
                        super::$name(herald_storage::Backend::Postgres),
                    )
                    .await;
                }
            }
        )+
    };
}

/// The catalog id of the manufacturer's product `name` at `version` (created by publishing).
pub fn catalog_id(h: &Harness, name: &str, version: &str) -> String {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::catalog::list_products(&mut conn, &h.maker_id)
        .expect("catalog")
        .into_iter()
        .find(|p| p.name == name && p.version.as_deref() == Some(version))
        .unwrap_or_else(|| panic!("{name} {version} not in the catalog"))
        .id
}

/// Runs `csaf-tool validate` (the BSI validator in ../shared) on one document, failing the test
/// when it is invalid; skipped with a message when ../shared is absent.
pub fn csaf_tool_validates(bytes: &[u8]) {
    let tool = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/csaf/csaf-tool");
    if !tool.exists() {
        println!("SKIPPED csaf-tool validate: {} not found", tool.display());
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("document.json");
    std::fs::write(&file, bytes).expect("write");
    let out = std::process::Command::new(&tool)
        .arg("validate")
        .arg(&file)
        .output()
        .expect("run csaf-tool");
    let report = String::from_utf8_lossy(&out.stdout);
    println!("csaf-tool validate:\n{report}");
    assert!(out.status.success(), "csaf-tool validate failed:\n{report}");
}
