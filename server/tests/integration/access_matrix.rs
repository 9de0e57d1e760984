//! The access matrix: every REST operation (enumerated from the OpenAPI document the app serves)
//! and every Leptos server function (enumerated from server_fn's registry, what the app answers
//! under `/api/{endpoint}`) against eight principals, on both backends, compared with a
//! hand-written table of expected status classes. A route without a row fails the test, a row
//! naming a route that is gone fails it, and so does every observed class that differs, so a new
//! route cannot ship without someone deciding who may call it.
//!
//! Path parameters name hospital A's objects, so the admin of hospital B proves the tenant
//! boundary (not found, or forbidden, never allowed). Objects a call consumes (a draft, a grant,
//! an installed product, a destination switched off) are made afresh for every principal.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test;
use common::forms::signed_in;
use common::{Harness, demo, harness};
use herald_server::state::AppState;
use herald_storage::{
    Backend, accounts::NewApiToken, accounts::NewUser, accounts::OrgKind, accounts::Role,
    accounts::Scope,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// principals and classes

/// Who calls, in the order of every row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// No credential at all.
    Anonymous,
    /// A token with the `read` scope alone (a token needs one), made for the manufacturer's
    /// admin: its scopes must bound even the strongest role on every write. Server functions get
    /// it as a bearer header (the portal does not take tokens).
    NoScope,
    /// Hospital A's viewer.
    Member,
    /// Hospital A's admin.
    HospitalAdmin,
    /// Hospital B's admin: every path parameter names hospital A's objects.
    OtherAdmin,
    Publisher,
    Approver,
    MakerAdmin,
}

const WHO: [Who; 8] = [
    Who::Anonymous,
    Who::NoScope,
    Who::Member,
    Who::HospitalAdmin,
    Who::OtherAdmin,
    Who::Publisher,
    Who::Approver,
    Who::MakerAdmin,
];

/// The coarse answer expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Past the authorization gate: 2xx or 3xx, or an answer about the request itself (400, 409,
    /// 422: the minimal body or the object's state), never 401/403/404.
    A,
    /// 401: who are you?
    U,
    /// 403: known, but not allowed.
    F,
    /// 404: not there, or not the caller's to see.
    N,
}
use Class::{A, F, N, U};

fn classify(status: StatusCode) -> Option<Class> {
    match status.as_u16() {
        200..=399 | 400 | 409 | 422 => Some(A),
        401 => Some(U),
        403 => Some(F),
        404 => Some(N),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// the expected table

/// REST operations: `METHOD path-template` -> the class per principal, in [`WHO`]'s order
/// (anonymous, no scope, member, hospital admin, other hospital's admin, publisher, approver,
/// manufacturer admin).
const REST: &[(&str, [Class; 8])] = &[
    ("DELETE /api/v1/customers/{org}", [U, F, F, F, F, F, F, A]),
    (
        "DELETE /api/v1/customers/{org}/grants/{id}",
        [U, F, F, F, F, F, F, A],
    ),
    ("DELETE /api/v1/destinations/{id}", [U, F, F, A, N, F, F, A]),
    ("DELETE /api/v1/drafts/{id}", [U, F, F, F, F, A, F, A]),
    (
        "DELETE /api/v1/installed-base/{id}",
        [U, F, F, A, N, F, F, F],
    ),
    (
        "DELETE /api/v1/templates/{kind}/{channel}/{part}",
        [U, F, F, F, F, F, F, A],
    ),
    ("GET /api/v1/advisories", [A, A, A, A, A, A, A, A]),
    (
        "GET /api/v1/advisories/{tracking_id}",
        [A, A, A, A, A, A, A, A],
    ),
    ("GET /api/v1/authoring/settings", [U, F, F, F, F, A, A, A]),
    ("GET /api/v1/customers", [U, A, F, F, F, A, A, A]),
    (
        "GET /api/v1/customers/{org}/grants",
        [U, A, F, F, F, A, A, A],
    ),
    (
        "GET /api/v1/customers/{org}/installed-base",
        [U, A, F, F, F, A, A, A],
    ),
    ("GET /api/v1/deliveries", [U, A, A, A, A, A, A, A]),
    ("GET /api/v1/deliveries/{id}", [U, A, A, A, N, A, A, A]),
    ("GET /api/v1/destinations", [U, A, A, A, A, A, A, A]),
    ("GET /api/v1/destinations/{id}", [U, A, A, A, N, A, A, A]),
    ("GET /api/v1/drafts", [U, F, F, F, F, A, A, A]),
    ("GET /api/v1/drafts/{id}", [U, F, F, F, F, A, A, A]),
    ("GET /api/v1/drafts/{id}/preview", [U, F, F, F, F, A, A, A]),
    ("GET /api/v1/installed-base", [U, F, A, A, A, F, F, F]),
    ("GET /api/v1/products", [A, A, A, A, A, A, A, A]),
    (
        "GET /api/v1/products/{id}/lifecycle",
        [A, A, A, A, A, A, A, A],
    ),
    ("GET /api/v1/releases", [U, A, F, F, F, A, A, A]),
    ("GET /api/v1/releases/{id}", [U, A, F, F, F, A, A, A]),
    ("GET /api/v1/subscriptions", [U, A, A, A, A, A, A, A]),
    (
        "GET /api/v1/subscriptions/{destination_id}",
        [U, A, A, A, N, A, A, A],
    ),
    ("GET /api/v1/templates", [U, A, F, F, F, A, A, A]),
    ("GET /healthz", [A, A, A, A, A, A, A, A]),
    ("GET /lifecycle/{file}", [A, A, A, A, A, A, A, A]),
    ("GET /metrics", [U, F, F, F, F, F, F, F]),
    ("PATCH /api/v1/destinations/{id}", [U, F, F, A, N, F, F, F]),
    ("PATCH /api/v1/products/{id}", [U, F, F, F, F, A, F, A]),
    ("POST /api/v1/advisories", [U, F, F, F, F, A, F, A]),
    ("POST /api/v1/customers", [U, F, F, F, F, F, F, A]),
    (
        "POST /api/v1/customers/{org}/grants",
        [U, F, F, F, F, F, F, A],
    ),
    (
        "POST /api/v1/customers/{org}/installed-base/{id}/confirm",
        [U, F, F, F, F, F, F, A],
    ),
    (
        "POST /api/v1/deliveries/{id}/replay",
        [U, F, F, A, N, F, F, F],
    ),
    ("POST /api/v1/destinations", [U, F, F, A, A, F, F, A]),
    (
        "POST /api/v1/destinations/{id}/replay-dead-letters",
        [U, F, F, A, N, F, F, F],
    ),
    (
        "POST /api/v1/destinations/{id}/test",
        [U, F, F, A, N, F, F, F],
    ),
    ("POST /api/v1/drafts", [U, F, F, F, F, A, F, A]),
    ("POST /api/v1/drafts/{id}/publish", [U, F, F, F, F, A, A, A]),
    ("POST /api/v1/drafts/{id}/submit", [U, F, F, F, F, A, F, A]),
    ("POST /api/v1/installed-base", [U, F, F, A, A, F, F, F]),
    ("POST /api/v1/products", [U, F, F, F, F, A, F, A]),
    ("POST /api/v1/releases", [U, F, F, F, F, A, F, A]),
    (
        "POST /api/v1/releases/{id}/publish",
        [U, F, F, F, F, A, F, A],
    ),
    ("POST /api/v1/users/{id}/unlock", [U, F, F, A, N, F, F, N]),
    ("PUT /api/v1/authoring/settings", [U, F, F, F, F, F, F, A]),
    ("PUT /api/v1/drafts/{id}", [U, F, F, F, F, A, F, A]),
    (
        "PUT /api/v1/products/{id}/lifecycle",
        [U, F, F, F, F, A, F, A],
    ),
    (
        "PUT /api/v1/subscriptions/{destination_id}",
        [U, F, F, A, N, F, F, F],
    ),
    (
        "PUT /api/v1/templates/{kind}/{channel}/{part}",
        [U, F, F, F, F, F, F, A],
    ),
    // the hospital's workspace (issue 17)
    ("GET /api/v1/sites", [U, F, A, A, A, F, F, F]),
    ("POST /api/v1/sites", [U, F, F, A, A, F, F, F]),
    ("PUT /api/v1/sites/{id}", [U, F, F, A, N, F, F, F]),
    ("DELETE /api/v1/sites/{id}", [U, F, F, A, N, F, F, F]),
    ("PUT /api/v1/installed-base/{id}", [U, F, F, A, N, F, F, F]),
    (
        "POST /api/v1/installed-base/import",
        [U, F, F, A, A, F, F, F],
    ),
    (
        "GET /api/v1/installed-base/export",
        [U, F, A, A, A, F, F, F],
    ),
    (
        "GET /api/v1/advisories/{tracking_id}/uptake",
        [U, A, F, F, F, A, A, A],
    ),
    (
        "GET /api/v1/advisories/{tracking_id}/remediation",
        [U, F, A, A, A, F, F, F],
    ),
    (
        "PUT /api/v1/advisories/{tracking_id}/remediation/{site_id}",
        [U, F, F, A, N, F, F, F],
    ),
    (
        "GET /api/v1/advisories/{tracking_id}/remediation/{site_id}/history",
        [U, F, A, A, N, F, F, F],
    ),
];

/// Server functions: endpoint -> the class per principal, in [`WHO`]'s order.
const SERVER_FNS: &[(&str, [Class; 8])] = &[
    ("advisories", [A, A, A, A, A, A, A, A]),
    ("advisory", [A, A, A, A, A, A, A, A]),
    ("authoring_act", [F, F, F, F, F, A, F, A]),
    ("authoring_draft", [F, F, F, F, F, A, A, A]),
    ("authoring_drafts", [F, F, F, F, F, A, A, A]),
    ("authoring_four_eyes", [F, F, F, F, F, F, F, A]),
    ("authoring_new", [F, F, F, F, F, A, F, A]),
    ("authoring_preview", [F, F, F, F, F, A, A, A]),
    ("authoring_save", [F, F, F, F, F, A, F, A]),
    ("authoring_update", [F, F, F, F, F, A, F, A]),
    ("catalog", [A, A, A, A, A, A, A, A]),
    ("deliveries", [F, F, A, A, A, A, A, A]),
    ("delivery_replay", [F, F, F, A, N, F, F, F]),
    ("destination", [F, F, A, A, N, A, A, A]),
    ("destination_plugins", [F, F, A, A, A, A, A, A]),
    ("destination_save", [F, F, F, A, N, F, F, F]),
    ("destination_test", [F, F, F, A, N, F, F, F]),
    ("destinations", [F, F, A, A, A, A, A, A]),
    ("account_sessions", [F, F, A, A, A, A, A, A]),
    ("login", [A, A, A, A, A, A, A, A]),
    ("product_save", [F, F, F, F, F, A, F, A]),
    ("session_end", [F, F, N, N, N, N, N, N]),
    ("subscription_save", [F, F, F, A, N, F, F, F]),
    ("template_reset", [F, F, F, F, F, F, F, A]),
    ("template_save", [F, F, F, F, F, F, F, A]),
    ("templates", [F, F, F, F, F, A, A, A]),
    ("viewer", [A, A, A, A, A, A, A, A]),
    ("logout_everywhere", [F, F, A, A, A, A, A, A]),
    ("logout", [A, A, A, A, A, A, A, A]),
    // the hospital's workspace (issue 17)
    ("workspace_home", [A, A, A, A, A, A, A, A]),
    ("remediation_save", [F, F, F, A, N, F, F, F]),
    ("installed_base", [F, F, A, A, A, F, F, F]),
    ("site_save", [F, F, F, A, N, F, F, F]),
    ("entry_add", [F, F, F, A, A, F, F, F]),
    ("entry_remove", [F, F, F, A, N, F, F, F]),
    ("import_stage", [F, F, F, A, A, F, F, F]),
    ("import_preview", [F, F, F, N, N, F, F, F]),
    ("import_confirm", [F, F, F, N, N, F, F, F]),
    ("advisory_uptake", [F, F, F, F, F, A, A, A]),
];

// ---------------------------------------------------------------------------------------------
// set-up

fn with_plugins(h: &Harness) -> AppState {
    let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/plugins"));
    let host = herald_plugin_host::PluginHost::new(herald_plugin_host::HostConfig::default())
        .expect("plugin host");
    host.load_plugin(&dir.join("webhook.wasm"))
        .expect("webhook plugin loads (scripts/build-wasm plugins)");
    AppState {
        plugins: Some(Arc::new(host)),
        ..h.state.clone()
    }
}

const PASSWORD: &str = "correct horse battery staple";

/// A user of `org_id` with `role`, and a token made for them carrying `scopes`.
fn user_token(h: &Harness, org_id: &str, role: Role, email: &str, scopes: &[Scope]) -> String {
    let mut conn = h.test_db.conn().expect("conn");
    let user = herald_storage::accounts::create_user(
        &mut conn,
        &NewUser {
            org_id,
            email,
            display_name: email,
            password: PASSWORD,
            role,
        },
    )
    .expect("user");
    herald_storage::accounts::create_api_token(
        &mut conn,
        &NewApiToken {
            org_id,
            user_id: Some(&user.id),
            name: "matrix",
            scopes,
            expires_at: None,
        },
        "test",
    )
    .expect("token")
    .token
}

/// Each principal's credentials: a bearer token for REST, a session cookie for the portal.
struct Principals {
    tokens: BTreeMap<&'static str, String>,
    cookies: BTreeMap<&'static str, String>,
    no_scope: String,
}

impl Principals {
    fn new(h: &Harness, hospital_a: &str, hospital_b: &str) -> Self {
        let all = [Scope::Read, Scope::Publish, Scope::Admin];
        let people: [(&'static str, &str, Role); 6] = [
            ("member", hospital_a, Role::Viewer),
            ("hospital-admin", hospital_a, Role::Admin),
            ("other-admin", hospital_b, Role::Admin),
            ("publisher", &h.maker_id, Role::Publisher),
            ("approver", &h.maker_id, Role::Approver),
            ("maker-admin", &h.maker_id, Role::Admin),
        ];
        let mut tokens = BTreeMap::new();
        let mut cookies = BTreeMap::new();
        for (key, org, role) in people {
            tokens.insert(
                key,
                user_token(h, org, role, &format!("{key}@api.example"), &all),
            );
            cookies.insert(
                key,
                signed_in(h, org, role, &format!("{key}@portal.example")),
            );
        }
        let no_scope = user_token(
            h,
            &h.maker_id,
            Role::Admin,
            "noscope@api.example",
            &[Scope::Read],
        );
        Self {
            tokens,
            cookies,
            no_scope,
        }
    }

    fn key(who: Who) -> Option<&'static str> {
        match who {
            Who::Anonymous | Who::NoScope => None,
            Who::Member => Some("member"),
            Who::HospitalAdmin => Some("hospital-admin"),
            Who::OtherAdmin => Some("other-admin"),
            Who::Publisher => Some("publisher"),
            Who::Approver => Some("approver"),
            Who::MakerAdmin => Some("maker-admin"),
        }
    }

    fn token(&self, who: Who) -> Option<String> {
        match who {
            Who::NoScope => Some(self.no_scope.clone()),
            _ => Self::key(who).map(|k| self.tokens[k].clone()),
        }
    }

    fn cookie(&self, who: Who) -> Option<String> {
        Self::key(who).map(|k| self.cookies[k].clone())
    }
}

/// Sends one request; the status and the body (text).
async fn send<C, F>(
    app: &C,
    method: &str,
    uri: &str,
    bearer: Option<&str>,
    cookie: Option<&str>,
    body: Option<RequestBody>,
) -> (StatusCode, String)
where
    C: Fn(test::TestRequest) -> F,
    F: std::future::Future<Output = (StatusCode, String)>,
{
    let mut req = match method {
        "GET" => test::TestRequest::get(),
        "POST" => test::TestRequest::post(),
        "PATCH" => test::TestRequest::patch(),
        "PUT" => test::TestRequest::put(),
        "DELETE" => test::TestRequest::delete(),
        other => panic!("method {other}"),
    }
    .uri(uri);
    if let Some(t) = bearer {
        req = req.insert_header(("Authorization", format!("Bearer {t}")));
    }
    if let Some(c) = cookie {
        req = req.insert_header(("Cookie", c.to_owned()));
    }
    match body {
        Some(RequestBody::Json(v)) => req = req.set_json(v),
        Some(RequestBody::Form(pairs)) => {
            let pairs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            req = req
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                // A form a page of the portal posts (server functions only take forms).
                .insert_header(("Origin", common::BASE))
                .insert_header(("Accept", "application/json"))
                .set_payload(common::forms::form_encode(&pairs));
        }
        Some(RequestBody::Raw(bytes)) => {
            req = req
                .insert_header(("Content-Type", "application/json"))
                .set_payload(bytes)
        }
        None => {}
    }
    app(req).await
}

enum RequestBody {
    Json(Value),
    Form(Vec<(String, String)>),
    Raw(Vec<u8>),
}

/// Sends as `token` and expects success; the JSON answer.
async fn setup<C, F>(app: &C, method: &str, uri: &str, token: &str, body: Value) -> Value
where
    C: Fn(test::TestRequest) -> F,
    F: std::future::Future<Output = (StatusCode, String)>,
{
    let (s, text) = send(
        app,
        method,
        uri,
        Some(token),
        None,
        Some(RequestBody::Json(body)),
    )
    .await;
    assert!(s.is_success(), "set-up {method} {uri}: {s} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

fn destination_body(name: &str) -> Value {
    // A loopback target the operator's policy refuses: "Send test" is answered without any
    // network traffic.
    json!({
        "name": name, "plugin_id": "webhook",
        "config": { "url": "https://127.0.0.1:9/hook", "authorization_secret": "auth" },
        "grants": { "http_hosts": ["127.0.0.1:9"] },
        "secrets": { "auth": "hospital-secret" },
    })
}

/// The seeded world: ids of hospital A's objects (and the manufacturer's) by path parameter.
struct World {
    hospital_a: String,
    tracking_id: String,
    destination: String,
    delivery: String,
    product: String,
    /// A site of hospital A.
    site: String,
    /// A person of hospital A (who is no principal of the table).
    member_user: String,
}

// ---------------------------------------------------------------------------------------------
// the test

async fn access_matrix(backend: Backend) {
    let h = harness(backend);
    let state = with_plugins(&h);
    let service = app!(state);
    let app = |req: test::TestRequest| {
        let service = &service;
        async move {
            let resp = test::call_service(service, req.to_request()).await;
            let status = resp.status();
            let bytes = test::read_body(resp).await;
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    let (hospital_a, hospital_b) = {
        let mut conn = h.test_db.conn().expect("conn");
        let a = herald_storage::accounts::ensure_organization(
            &mut conn,
            OrgKind::Hospital,
            "Hospital A",
        )
        .expect("hospital")
        .id;
        let b = herald_storage::accounts::ensure_organization(
            &mut conn,
            OrgKind::Hospital,
            "Hospital B",
        )
        .expect("hospital")
        .id;
        (a, b)
    };
    let p = Principals::new(&h, &hospital_a, &hospital_b);
    let maker_admin = p.tokens["maker-admin"].clone();
    let a_admin = p.tokens["hospital-admin"].clone();

    // Seed: a destination of hospital A subscribed to publications, a customer relation, a
    // product, an advisory (its publication makes hospital A's delivery).
    let destination = id_of(
        &setup(
            &app,
            "POST",
            "/api/v1/destinations",
            &a_admin,
            destination_body("SOC"),
        )
        .await,
    );
    setup(
        &app,
        "PUT",
        &format!("/api/v1/subscriptions/{destination}"),
        &a_admin,
        json!({ "event_kinds": ["advisory.published"] }),
    )
    .await;
    setup(
        &app,
        "POST",
        "/api/v1/customers",
        &maker_admin,
        json!({ "org": hospital_a }),
    )
    .await;
    let product = id_of(
        &setup(
            &app,
            "POST",
            "/api/v1/products",
            &maker_admin,
            json!({ "name": "Matrix Pump" }),
        )
        .await,
    );
    let (s, text) = send(
        &app,
        "POST",
        "/api/v1/advisories",
        Some(&maker_admin),
        None,
        Some(RequestBody::Raw(demo("mms-sa-2026-001.json"))),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{text}");
    let tracking_id = serde_json::from_str::<Value>(&text).expect("json")["tracking_id"]
        .as_str()
        .expect("tracking_id")
        .to_owned();
    {
        // The publication's notice becomes hospital A's delivery (the engine's fan-out step).
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::queue::fan_out_pending(&mut conn, 100).expect("fan out");
    }
    let (_, text) = send(
        &app,
        "GET",
        "/api/v1/deliveries",
        Some(&a_admin),
        None,
        None,
    )
    .await;
    let delivery = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.as_array().and_then(|a| a.first()).map(id_of))
        .unwrap_or_else(|| panic!("the publication made no delivery for hospital A: {text}"));
    let site = id_of(
        &setup(
            &app,
            "POST",
            "/api/v1/sites",
            &a_admin,
            json!({ "name": "Matrix site" }),
        )
        .await,
    );
    let member_user = {
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::accounts::create_user(
            &mut conn,
            &NewUser {
                org_id: &hospital_a,
                email: "nurse@hospital-a.example",
                display_name: "Nurse",
                password: PASSWORD,
                role: Role::Viewer,
            },
        )
        .expect("user")
        .id
    };
    let world = World {
        member_user,
        hospital_a: hospital_a.clone(),
        tracking_id,
        destination,
        delivery,
        product,
        site,
    };

    let mut failures = Vec::new();
    let mut observed_rest = Vec::new();

    // ---- REST, enumerated from the OpenAPI document the app serves ----
    let (s, text) = send(&app, "GET", "/api/v1/openapi.json", None, None, None).await;
    assert_eq!(s, StatusCode::OK);
    let doc: Value = serde_json::from_str(&text).expect("openapi json");
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                operations.insert(format!("{} {path}", method.to_ascii_uppercase()));
            }
        }
    }
    let table: BTreeMap<&str, [Class; 8]> = REST.iter().copied().collect();
    assert_eq!(table.len(), REST.len(), "a REST row appears twice");
    for op in &operations {
        if !table.contains_key(op.as_str()) {
            failures.push(format!("{op}: a route without a row in the access matrix"));
        }
    }
    for op in table.keys() {
        if !operations.contains(*op) {
            failures.push(format!(
                "{op}: a row naming no route of the OpenAPI document"
            ));
        }
    }
    for op in &operations {
        let (method, template) = op.split_once(' ').expect("method path");
        let mut row = Vec::new();
        for (i, who) in WHO.iter().enumerate() {
            let (uri, body) =
                rest_call(&app, &world, &a_admin, &maker_admin, method, template).await;
            let token = p.token(*who);
            let (status, text) = send(&app, method, &uri, token.as_deref(), None, body).await;
            let got = classify(status);
            row.push(got.map_or_else(|| status.as_u16().to_string(), |c| format!("{c:?}")));
            if let Some(want) = table.get(op.as_str()).map(|r| r[i])
                && got != Some(want)
            {
                failures.push(format!(
                    "{op} as {who:?}: expected {want:?}, got {status} {}",
                    text.chars().take(160).collect::<String>()
                ));
            }
        }
        observed_rest.push(format!("    (\"{op}\", [{}]),", row.join(", ")));
    }

    // ---- server functions, enumerated from server_fn's registry ----
    let mut endpoints = BTreeSet::new();
    for (path, method) in leptos::server_fn::actix::server_fn_paths() {
        assert_eq!(method.as_str(), "POST", "{path}");
        endpoints.insert(
            path.strip_prefix("/api/")
                .unwrap_or_else(|| panic!("{path} outside /api/"))
                .to_owned(),
        );
    }
    let fn_table: BTreeMap<&str, [Class; 8]> = SERVER_FNS.iter().copied().collect();
    assert_eq!(
        fn_table.len(),
        SERVER_FNS.len(),
        "a server function row appears twice"
    );
    for e in &endpoints {
        if !fn_table.contains_key(e.as_str()) {
            failures.push(format!("/api/{e}: a server function without a row"));
        }
    }
    for e in fn_table.keys() {
        if !endpoints.contains(*e) {
            failures.push(format!(
                "/api/{e}: a row naming no registered server function"
            ));
        }
    }
    let mut observed_fns = Vec::new();
    // `logout` and `logout_everywhere` end the sessions they are called with: last, so they
    // end no other call's session.
    let ends = |e: &&String| matches!(e.as_str(), "logout" | "logout_everywhere");
    let mut ordered: Vec<&String> = endpoints.iter().filter(|e| !ends(e)).collect();
    ordered.extend(endpoints.iter().filter(|e| *e == "logout_everywhere"));
    ordered.extend(endpoints.iter().filter(|e| *e == "logout"));
    for endpoint in ordered {
        let mut row = Vec::new();
        for (i, who) in WHO.iter().enumerate() {
            let mut pairs = fn_call(&app, &world, &a_admin, &maker_admin, endpoint).await;
            let bearer = (*who == Who::NoScope).then(|| p.no_scope.clone());
            // A browser that loaded a portal page: its CSRF cookie, and the token in the form.
            let (cookie, token) = crate::csrf!(&service, p.cookie(*who)).await;
            pairs.push((app::csrf::CSRF_FIELD.to_owned(), token));
            let (status, text) = send(
                &app,
                "POST",
                &format!("/api/{endpoint}"),
                bearer.as_deref(),
                Some(&cookie),
                Some(RequestBody::Form(pairs)),
            )
            .await;
            let got = classify(status);
            row.push(got.map_or_else(|| status.as_u16().to_string(), |c| format!("{c:?}")));
            if let Some(want) = fn_table.get(endpoint.as_str()).map(|r| r[i])
                && got != Some(want)
            {
                failures.push(format!(
                    "/api/{endpoint} as {who:?}: expected {want:?}, got {status} {}",
                    text.chars().take(160).collect::<String>()
                ));
            }
        }
        observed_fns.push(format!("    (\"{endpoint}\", [{}]),", row.join(", ")));
        failures.extend(
            cross_site_refused(
                &h,
                &service,
                &app,
                &p,
                &world,
                &a_admin,
                &maker_admin,
                endpoint,
            )
            .await,
        );
    }

    assert!(
        failures.is_empty(),
        "{} access matrix failure(s) on {backend:?}:\n{}\n\nobserved REST:\n{}\n\nobserved server functions:\n{}",
        failures.len(),
        failures.join("\n"),
        observed_rest.join("\n"),
        observed_fns.join("\n"),
    );
}

/// CSRF: every server function called by the strongest principals and by nobody, from another
/// site (with a valid token) and from a portal page without the token, is refused (403) before
/// it runs: no table gains or loses a row. The failures, if any.
#[allow(clippy::too_many_arguments)]
async fn cross_site_refused<S, B, C, F>(
    h: &Harness,
    service: &S,
    app: &C,
    p: &Principals,
    w: &World,
    a_admin: &str,
    maker_admin: &str,
    endpoint: &str,
) -> Vec<String>
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
    C: Fn(test::TestRequest) -> F,
    F: std::future::Future<Output = (StatusCode, String)>,
{
    let mut failures = Vec::new();
    for who in [Who::Anonymous, Who::HospitalAdmin, Who::MakerAdmin] {
        let pairs = fn_call(app, w, a_admin, maker_admin, endpoint).await;
        let (cookie, token) = crate::csrf!(service, p.cookie(who)).await;
        let counts = || {
            herald_storage::testing::row_counts(&mut h.test_db.conn().expect("conn"))
                .expect("row counts")
        };
        let before = counts();
        let cases = [
            (
                "from another site",
                Some("https://evil.example"),
                Some(token.clone()),
            ),
            ("without the token", Some(common::BASE), None),
            (
                "with neither Origin nor Sec-Fetch-Site",
                None,
                Some(token.clone()),
            ),
        ];
        for (case, origin, token) in cases {
            let mut body = pairs.clone();
            if let Some(t) = &token {
                body.push((app::csrf::CSRF_FIELD.to_owned(), t.clone()));
            }
            let body: Vec<(&str, &str)> =
                body.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let mut req = test::TestRequest::post()
                .uri(&format!("/api/{endpoint}"))
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .insert_header(("Cookie", cookie.clone()))
                .set_payload(common::forms::form_encode(&body));
            if let Some(o) = origin {
                req = req.insert_header(("Origin", o));
            }
            let (status, text) = app(req).await;
            if status != StatusCode::FORBIDDEN {
                failures.push(format!(
                    "/api/{endpoint} as {who:?} {case}: expected 403, got {status} {}",
                    text.chars().take(160).collect::<String>()
                ));
            }
        }
        let after = counts();
        if before != after {
            failures.push(format!(
                "/api/{endpoint} as {who:?}: a refused cross-site call changed rows: {before:?} -> {after:?}"
            ));
        }
    }
    failures
}

/// The URI and body of one call of a REST operation: path parameters name hospital A's objects
/// (made afresh where the call consumes them), bodies are minimal but valid.
async fn rest_call<C, F>(
    app: &C,
    w: &World,
    a_admin: &str,
    maker_admin: &str,
    method: &str,
    template: &str,
) -> (String, Option<RequestBody>)
where
    C: Fn(test::TestRequest) -> F,
    F: std::future::Future<Output = (StatusCode, String)>,
{
    let mut uri = template.to_owned();
    let mut fill = |name: &str, value: &str| uri = uri.replace(&format!("{{{name}}}"), value);
    fill("tracking_id", &w.tracking_id);
    fill("org", &w.hospital_a);
    fill("destination_id", &w.destination);
    fill("kind", "advisory.published");
    fill("channel", "email");
    fill("part", "subject");
    fill("site_id", &w.site);
    if template.starts_with("/api/v1/drafts/{id}") {
        let draft = setup(app, "POST", "/api/v1/drafts", maker_admin, json!({})).await;
        fill("id", &id_of(&draft));
    } else if template.starts_with("/api/v1/destinations/{id}") {
        let id = if method == "DELETE" {
            id_of(
                &setup(
                    app,
                    "POST",
                    "/api/v1/destinations",
                    a_admin,
                    destination_body("Spare"),
                )
                .await,
            )
        } else {
            w.destination.clone()
        };
        fill("id", &id);
    } else if template.starts_with("/api/v1/sites/{id}") {
        let id = if method == "DELETE" {
            id_of(
                &setup(
                    app,
                    "POST",
                    "/api/v1/sites",
                    a_admin,
                    json!({ "name": format!("Spare site {}", uuid_like()) }),
                )
                .await,
            )
        } else {
            w.site.clone()
        };
        fill("id", &id);
    } else if template.starts_with("/api/v1/users/{id}") {
        fill("id", &w.member_user);
    } else if template.starts_with("/api/v1/deliveries/{id}") {
        fill("id", &w.delivery);
    } else if template.starts_with("/api/v1/products/{id}") {
        fill("id", &w.product);
    } else if template.starts_with("/api/v1/releases/{id}") {
        // A release per call: publishing one consumes it.
        let release = setup(
            app,
            "POST",
            "/api/v1/releases",
            maker_admin,
            release_body(w),
        )
        .await;
        fill("id", &id_of(&release));
    } else if template.contains("/grants/{id}") {
        // A grant per call, on a product of its own (a second grant of one product conflicts).
        let grant = setup(
            app,
            "POST",
            &format!("/api/v1/customers/{}/grants", w.hospital_a),
            maker_admin,
            json!({ "product_id": fresh_product(app, maker_admin).await }),
        )
        .await;
        fill("id", &id_of(&grant));
    } else if template.contains("installed-base/{id}") {
        let installed = setup(
            app,
            "POST",
            "/api/v1/installed-base",
            a_admin,
            json!({ "product_id": fresh_product(app, maker_admin).await }),
        )
        .await;
        fill("id", &id_of(&installed));
    }
    if template.starts_with("/api/v1/customers/{org}") {
        // Removing the customer (its own row) is undone before every call on the customer (a
        // repeated add may conflict).
        let _ = send(
            app,
            "POST",
            "/api/v1/customers",
            Some(maker_admin),
            None,
            Some(RequestBody::Json(json!({ "org": w.hospital_a }))),
        )
        .await;
    }
    if template == "/lifecycle/{file}" || template == "/api/v1/products/{id}/lifecycle" {
        // Lifecycle dates exist before they are read (setting them again is harmless).
        setup(
            app,
            "PUT",
            &format!("/api/v1/products/{}/lifecycle", w.product),
            maker_admin,
            lifecycle_body(),
        )
        .await;
        fill("file", &format!("{}.json", w.product));
    }
    if template.starts_with("/api/v1/templates/") && method == "DELETE" {
        setup(
            app,
            "PUT",
            &uri,
            maker_admin,
            json!({ "body": "Advisory notice" }),
        )
        .await;
    }
    let body = match (method, template) {
        ("GET" | "DELETE", _) => None,
        ("POST", "/api/v1/advisories") => {
            // A new revision's worth of bytes is not needed: the same document is a conflict
            // (409) for whoever may publish, refused before that for whoever may not.
            Some(RequestBody::Raw(demo("mms-sa-2026-001.json")))
        }
        ("POST", "/api/v1/destinations") => Some(RequestBody::Json(destination_body("New"))),
        ("PATCH", "/api/v1/destinations/{id}") => {
            Some(RequestBody::Json(json!({ "name": "Renamed" })))
        }
        ("PUT", "/api/v1/subscriptions/{destination_id}") => Some(RequestBody::Json(
            json!({ "event_kinds": ["advisory.published"] }),
        )),
        ("POST", "/api/v1/installed-base") => {
            Some(RequestBody::Json(json!({ "product_id": w.product })))
        }
        ("POST", "/api/v1/customers") => Some(RequestBody::Json(json!({ "org": w.hospital_a }))),
        ("POST", "/api/v1/customers/{org}/grants") => {
            Some(RequestBody::Json(json!({ "product_id": w.product })))
        }
        ("PUT", "/api/v1/templates/{kind}/{channel}/{part}") => {
            Some(RequestBody::Json(json!({ "body": "Advisory notice" })))
        }
        ("POST", "/api/v1/products") => Some(RequestBody::Json(json!({ "name": "Another Pump" }))),
        ("PATCH", "/api/v1/products/{id}") => {
            Some(RequestBody::Json(json!({ "name": "Renamed Pump" })))
        }
        ("POST", "/api/v1/drafts") => Some(RequestBody::Json(json!({}))),
        ("POST", "/api/v1/releases") => Some(RequestBody::Json(release_body(w))),
        ("PUT", "/api/v1/products/{id}/lifecycle") => Some(RequestBody::Json(lifecycle_body())),
        ("POST", "/api/v1/sites") | ("PUT", "/api/v1/sites/{id}") => {
            Some(RequestBody::Json(json!({ "name": "Matrix site" })))
        }
        ("POST", "/api/v1/installed-base/import") => Some(RequestBody::Raw(
            format!("product_id,quantity\n{},2\n", w.product).into_bytes(),
        )),
        ("PUT", "/api/v1/installed-base/{id}") => Some(RequestBody::Json(json!({ "quantity": 2 }))),
        ("PUT", "/api/v1/advisories/{tracking_id}/remediation/{site_id}") => {
            Some(RequestBody::Json(json!({ "status": "received" })))
        }
        ("PUT", "/api/v1/drafts/{id}") => Some(RequestBody::Json(json!({ "title": "Matrix" }))),
        // Four-eyes stays off: the rest of the matrix must not depend on the order of rows.
        ("PUT", "/api/v1/authoring/settings") => {
            Some(RequestBody::Json(json!({ "four_eyes": false })))
        }
        _ => None,
    };
    (uri, body)
}

/// A release of the world's product that fixes nothing (publishing it revises no advisory).
fn release_body(w: &World) -> Value {
    json!({
        "name": "Matrix release",
        "applies_to": [w.product],
        "produced_version": "99.0",
        "delivery": "download",
    })
}

fn lifecycle_body() -> Value {
    json!({ "end_of_sales": "2027-01-31", "end_of_security_updates": "tba" })
}

/// A distinct suffix per call (names that must be unique).
fn uuid_like() -> usize {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A new catalog product's id (a product is granted, or installed, once).
async fn fresh_product<C, F>(app: &C, maker_admin: &str) -> String
where
    C: Fn(test::TestRequest) -> F,
    F: std::future::Future<Output = (StatusCode, String)>,
{
    static PRODUCTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = PRODUCTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    id_of(
        &setup(
            app,
            "POST",
            "/api/v1/products",
            maker_admin,
            json!({ "name": format!("Fresh Pump {n}") }),
        )
        .await,
    )
}

/// The form of one server function call: ids of hospital A's objects, minimal but valid fields.
async fn fn_call<C, F>(
    app: &C,
    w: &World,
    a_admin: &str,
    maker_admin: &str,
    endpoint: &str,
) -> Vec<(String, String)>
where
    C: Fn(test::TestRequest) -> F,
    F: std::future::Future<Output = (StatusCode, String)>,
{
    let entry = if endpoint == "entry_remove" {
        id_of(
            &setup(
                app,
                "POST",
                "/api/v1/installed-base",
                a_admin,
                json!({ "product_id": fresh_product(app, maker_admin).await }),
            )
            .await,
        )
    } else {
        String::new()
    };
    let import_csv = format!("product_id\n{}\n", w.product);
    let draft = if endpoint.starts_with("authoring_")
        && matches!(
            endpoint,
            "authoring_draft" | "authoring_preview" | "authoring_act" | "authoring_save"
        ) {
        id_of(&setup(app, "POST", "/api/v1/drafts", maker_admin, json!({})).await)
    } else {
        String::new()
    };
    let pairs: Vec<(&str, &str)> = match endpoint {
        "template_save" => vec![
            ("kind", "advisory.published"),
            ("channel", "email"),
            ("part", "subject"),
            ("body", "Advisory notice"),
        ],
        "template_reset" => vec![
            ("kind", "advisory.published"),
            ("channel", "email"),
            ("part", "subject"),
        ],
        "destination" | "destination_test" => vec![("id", &w.destination)],
        "destination_save" => vec![
            ("id", &w.destination),
            ("plugin_id", "webhook"),
            ("name", "SOC"),
            ("enabled", "on"),
            ("config[url]", "https://127.0.0.1:9/hook"),
            ("config[authorization_secret]", "auth"),
            ("http_hosts", "127.0.0.1:9"),
        ],
        "subscription_save" => vec![("id", &w.destination), ("kind[advisory.published]", "on")],
        "delivery_replay" => vec![("id", &w.delivery)],
        "product_save" => vec![
            ("id", &w.product),
            ("vendor", ""),
            ("family", ""),
            ("name", "Matrix Pump"),
            ("version", ""),
            ("udi_di", ""),
            ("cpe", ""),
            ("purl", ""),
        ],
        "authoring_draft" | "authoring_preview" => vec![("id", &draft)],
        "authoring_act" => vec![("id", &draft), ("op", "submit")],
        "authoring_save" => vec![("draft_id", &draft), ("title", "Matrix")],
        "authoring_update" | "advisory" => vec![("tracking_id", &w.tracking_id)],
        "advisories" => vec![("query[q]", "")],
        "login" => vec![("email", "member@portal.example"), ("password", PASSWORD)],
        "remediation_save" => vec![
            ("tracking_id", &w.tracking_id),
            ("site_id", &w.site),
            ("status", "received"),
            ("reason", ""),
            ("note", ""),
            ("release", ""),
        ],
        "site_save" => vec![
            ("id", &w.site),
            ("name", "Matrix site"),
            ("code", ""),
            ("address", ""),
        ],
        "entry_add" => vec![
            ("site_id", &w.site),
            ("product_id", &w.product),
            ("quantity", "1"),
            ("serials", ""),
            ("notes", ""),
        ],
        "entry_remove" => vec![("id", &entry)],
        "import_stage" => vec![("csv", &import_csv)],
        "import_preview" | "import_confirm" => vec![("id", "no-such-import")],
        "advisory_uptake" => vec![("tracking_id", &w.tracking_id), ("sort", "")],
        "session_end" => vec![("id", "no-such-session")],
        _ => vec![],
    };
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

on_both_backends!(access_matrix);
