//! Entitlement over every route, on SQLite and on PostgreSQL: a TLP:GREEN and a TLP:AMBER
//! advisory are unreachable without entitlement (portal page and list, API get, list and
//! search, the CSAF directory listings, index.txt, changes.csv, ROLIE feed, documents and their
//! sidecars), for API tokens and portal session cookies alike, and reachable with it (a
//! customer for GREEN; installed base or a grant for AMBER). Plus the REST resources that
//! manage customers, grants, installed base and subscriptions, with their refusals.

use crate::common;

use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::{App, test};
use common::{BASE, Harness, demo, harness};
use herald_storage::{
    Backend, accounts::NewUser, accounts::OrgKind, accounts::Role, accounts::Scope,
};
use serde_json::Value;

const WK: &str = "/.well-known/csaf";
const AMBER_ID: &str = "MMS-SA-2026-903";
const AMBER_TITLE: &str = "Meridian ClearScan Workstation: amber-only entitlement fixture";

macro_rules! app {
    ($h:expr) => {
        test::init_service(App::new().configure(herald_server::web::configure($h.state.clone())))
            .await
    };
}

struct Got {
    status: StatusCode,
    cache_control: Option<String>,
    body: Vec<u8>,
}

impl Got {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Clone, Copy)]
enum Cred<'a> {
    None,
    Bearer(&'a str),
    Cookie(&'a str),
    /// A cookie naming no session: no sign-in, so anonymous.
    StaleCookie(&'a str),
}

macro_rules! get {
    ($app:expr, $mk:expr, $uri:expr, $cred:expr) => {{
        let uri = &$uri;
        let mut req = test::TestRequest::get().uri(AsRef::<str>::as_ref(&uri));
        match $cred {
            Cred::None => {}
            Cred::Bearer(t) => req = req.insert_header(("Authorization", format!("Bearer {t}"))),
            Cred::Cookie(c) | Cred::StaleCookie(c) => {
                req = req.insert_header(("Cookie", format!("herald_session={c}")))
            }
        }
        let resp = test::call_service(&$app, $mk(req)).await;
        let status = resp.status();
        let cache_control = resp
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().expect("header").to_owned());
        let body = test::read_body(resp).await.to_vec();
        Got {
            status,
            cache_control,
            body,
        }
    }};
}

/// The GREEN demo advisory turned into an AMBER one with its own tracking id and title.
fn amber_document() -> Vec<u8> {
    let mut doc: Value = serde_json::from_slice(&demo("mms-sa-2026-003.json")).expect("json");
    doc["document"]["distribution"]["tlp"]["label"] = "AMBER".into();
    doc["document"]["tracking"]["id"] = AMBER_ID.into();
    doc["document"]["title"] = AMBER_TITLE.into();
    doc["document"]["references"][0]["url"] =
        "https://meridian-medical.example/.well-known/csaf/amber/2026/mms-sa-2026-903.json".into();
    serde_json::to_vec_pretty(&doc).expect("json")
}

struct Fixture {
    tracking_id: String,
    title: String,
    /// `/.well-known/csaf/<tlp>/2026/<file>.json`
    path: String,
    file: String,
    tlp: &'static str,
    advisory_id: String,
    bytes: Vec<u8>,
}

fn publish(h: &Harness, bytes: Vec<u8>, tlp: &'static str) -> Fixture {
    let mut conn = h.test_db.conn().expect("conn");
    let p = herald_server::publish::publish_document(
        &mut conn,
        &h.state.config,
        &bytes,
        &h.maker_id,
        "test",
    )
    .expect("publish");
    let detail = herald_storage::advisories::get_advisory(&mut conn, &p.tracking_id)
        .expect("get")
        .expect("advisory");
    let path = p.csaf_url.trim_start_matches(BASE).to_owned();
    assert!(path.starts_with(&format!("{WK}/{tlp}/")), "{path}");
    Fixture {
        file: path.rsplit('/').next().expect("file").to_owned(),
        tracking_id: p.tracking_id,
        title: detail.title,
        path,
        tlp,
        advisory_id: detail.id,
        bytes,
    }
}

/// A hospital with a read token and a signed-in portal user.
struct Hospital {
    id: String,
    read: String,
    session: String,
}

fn hospital(h: &Harness, name: &str) -> Hospital {
    let read = h.hospital_token(name, &[Scope::Read]);
    let mut conn = h.test_db.conn().expect("conn");
    let org = herald_storage::accounts::ensure_organization(&mut conn, OrgKind::Hospital, name)
        .expect("hospital");
    let user = herald_storage::accounts::create_user(
        &mut conn,
        &NewUser {
            org_id: &org.id,
            email: &format!("it@{}.example", org.slug),
            display_name: "Hospital IT",
            password: "correct horse battery",
            role: Role::Viewer,
        },
    )
    .expect("user");
    let session =
        herald_storage::sessions::create_session(&mut conn, &user.id, chrono::Duration::hours(1))
            .expect("session")
            .token;
    Hospital {
        id: org.id,
        read,
        session,
    }
}

/// Every route by which `f` could be reached, and whether `cred` reached it there. Checks on the
/// way that per-caller answers are private and that refusals are 401 (anonymous) or 404.
async fn routes<S, R, B>(
    app: &S,
    mk: &impl Fn(test::TestRequest) -> R,
    f: &Fixture,
    cred: Cred<'_>,
) -> Vec<(String, bool)>
where
    S: actix_web::dev::Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let mut out = Vec::new();
    let anonymous = matches!(cred, Cred::None | Cred::StaleCookie(_));
    // Portal pages (rendered HTML) and the JSON API: reached when the title shows.
    for uri in [
        format!("/advisories/{}", f.tracking_id),
        "/advisories".to_owned(),
        format!("/advisories?q={}", f.tracking_id),
    ] {
        let got = get!(app, mk, uri, cred);
        let reached = got.text().contains(&f.title);
        // The portal signs in with its session cookie; a bearer token there is no sign-in (the
        // page must then not show the advisory, and is not expected to).
        let suffix = if matches!(cred, Cred::Bearer(_)) {
            " (token)"
        } else {
            ""
        };
        out.push((format!("portal {uri}{suffix}"), reached));
    }
    let got = get!(
        app,
        mk,
        format!("/api/v1/advisories/{}", f.tracking_id),
        cred
    );
    let reached = got.status == StatusCode::OK;
    if reached {
        assert_eq!(got.cache_control.as_deref(), Some("private"), "API get");
    } else {
        assert_eq!(got.status, StatusCode::NOT_FOUND, "API get refusal");
    }
    out.push(("api get".to_owned(), reached));
    for uri in [
        "/api/v1/advisories?limit=200".to_owned(),
        format!("/api/v1/advisories?q={}", f.tracking_id),
    ] {
        let got = get!(app, mk, uri, cred);
        assert_eq!(got.status, StatusCode::OK, "{uri}");
        out.push((format!("api {uri}"), got.text().contains(&f.tracking_id)));
    }
    // The distribution tree: directory-level files list the document's file name.
    let dir = format!("{WK}/{}", f.tlp);
    for uri in [
        format!("{dir}/"),
        dir.clone(),
        format!("{dir}/2026/"),
        format!("{dir}/index.txt"),
        format!("{dir}/changes.csv"),
        format!("{dir}/feed-tlp-{}.json", f.tlp),
    ] {
        let got = get!(app, mk, uri, cred);
        // The label's directory lists year folders; the others name the file.
        let marker = if uri.ends_with(f.tlp) || uri.ends_with(&format!("{}/", f.tlp)) {
            "2026/"
        } else {
            f.file.as_str()
        };
        let reached = got.status == StatusCode::OK && got.text().contains(marker);
        if anonymous {
            assert_eq!(got.status, StatusCode::UNAUTHORIZED, "anonymous {uri}");
        } else if got.status == StatusCode::OK {
            assert_eq!(got.cache_control.as_deref(), Some("private"), "{uri}");
        } else {
            assert_eq!(got.status, StatusCode::NOT_FOUND, "{uri}");
        }
        out.push((format!("dist {uri}"), reached));
    }
    for uri in [
        f.path.clone(),
        format!("{}.sha256", f.path),
        format!("{}.sha512", f.path),
        format!("{}.asc", f.path),
    ] {
        let got = get!(app, mk, uri, cred);
        let reached = got.status == StatusCode::OK;
        if anonymous {
            assert_eq!(got.status, StatusCode::UNAUTHORIZED, "anonymous {uri}");
        } else if reached {
            assert_eq!(got.cache_control.as_deref(), Some("private"), "{uri}");
            if uri == f.path {
                assert_eq!(
                    got.body, f.bytes,
                    "the bytes served are the bytes published"
                );
            }
        } else {
            assert_eq!(got.status, StatusCode::NOT_FOUND, "{uri}");
        }
        out.push((format!("dist {uri}"), reached));
    }
    out
}

async fn expect_all<S, R, B>(
    app: &S,
    mk: &impl Fn(test::TestRequest) -> R,
    f: &Fixture,
    cred: Cred<'_>,
    reachable: bool,
    who: &str,
) where
    S: actix_web::dev::Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let wrong: Vec<String> = routes(app, mk, f, cred)
        .await
        .into_iter()
        // Portal pages with a bearer token: checked for leaks only (no sign-in there).
        .filter(|(route, _)| !(reachable && route.ends_with("(token)")))
        .filter(|(_, reached)| *reached != reachable)
        .map(|(route, _)| route)
        .collect();
    assert!(
        wrong.is_empty(),
        "{who}: {} {} on {wrong:?}",
        f.tracking_id,
        if reachable { "NOT reachable" } else { "LEAKED" }
    );
}

async fn green_and_amber_over_every_route(backend: Backend) {
    let h = harness(backend);
    let app = app!(h);
    let mk = |r: test::TestRequest| r.to_request();
    let green = publish(&h, demo("mms-sa-2026-003.json"), "green");
    let amber = publish(&h, amber_document(), "amber");
    let white = publish(&h, demo("mms-sa-2026-001.json"), "white");
    let stranger = hospital(&h, "Stranger Clinic");
    let customer = hospital(&h, "Customer General");
    let runs_it = hospital(&h, "Runs ClearScan Hospital");
    let granted = hospital(&h, "Granted Infirmary");
    {
        let mut conn = h.test_db.conn().expect("conn");
        let conn = &mut *conn;
        for o in [&customer.id, &runs_it.id] {
            herald_storage::customers::add_customer(conn, &h.maker_id, o, None, "test")
                .expect("customer");
        }
        let product = herald_storage::entitlement::advisory_product_ids(conn, &amber.advisory_id)
            .expect("p")[0]
            .clone();
        let entry = herald_storage::installed_base::add_installed_product(
            conn,
            &runs_it.id,
            &herald_storage::installed_base::NewInstalledProduct {
                product_id: &product,
                ..Default::default()
            },
            "test",
        )
        .expect("installed");
        herald_storage::installed_base::confirm_installed_product(
            conn,
            &h.maker_id,
            &runs_it.id,
            &entry.id,
            "test",
        )
        .expect("confirmed");
        herald_storage::customers::create_grant(
            conn,
            &h.maker_id,
            &granted.id,
            &herald_storage::customers::GrantTarget::Advisory(amber.advisory_id.clone()),
            None,
            "test",
        )
        .expect("grant");
    }
    let publish_only = h.token(&[Scope::Publish]);
    let maker_read = h.token(&[Scope::Read]);

    // Nobody without entitlement reaches GREEN or AMBER by any route.
    for (who, cred) in [
        ("anonymous", Cred::None),
        ("token without read scope", Cred::Bearer(&publish_only)),
        ("stranger token", Cred::Bearer(&stranger.read)),
        ("stranger session", Cred::Cookie(&stranger.session)),
        ("unknown session", Cred::StaleCookie("0123456789abcdef")),
    ] {
        expect_all(&app, &mk, &green, cred, false, who).await;
        expect_all(&app, &mk, &amber, cred, false, who).await;
    }
    // A customer reads GREEN, not AMBER (its directory opens but does not list it).
    for (who, cred) in [
        ("customer token", Cred::Bearer(&customer.read)),
        ("customer session", Cred::Cookie(&customer.session)),
    ] {
        expect_all(&app, &mk, &green, cred, true, who).await;
        expect_all(&app, &mk, &amber, cred, false, who).await;
    }
    // Installed base (as a customer) and a grant open AMBER; GREEN follows for both.
    for (who, cred) in [
        ("installed-base token", Cred::Bearer(&runs_it.read)),
        ("installed-base session", Cred::Cookie(&runs_it.session)),
        ("granted token", Cred::Bearer(&granted.read)),
        ("granted session", Cred::Cookie(&granted.session)),
    ] {
        expect_all(&app, &mk, &amber, cred, true, who).await;
    }
    expect_all(
        &app,
        &mk,
        &green,
        Cred::Bearer(&runs_it.read),
        true,
        "installed base",
    )
    .await;
    // The grant names one advisory: GREEN stays closed to a non-customer.
    expect_all(
        &app,
        &mk,
        &green,
        Cred::Bearer(&granted.read),
        false,
        "granted",
    )
    .await;
    // The manufacturer reads its own.
    expect_all(
        &app,
        &mk,
        &green,
        Cred::Bearer(&maker_read),
        true,
        "manufacturer",
    )
    .await;
    expect_all(
        &app,
        &mk,
        &amber,
        Cred::Bearer(&maker_read),
        true,
        "manufacturer",
    )
    .await;

    // WHITE stays public; provider-metadata announces only WHITE to anonymous callers, and
    // the restricted feeds to an entitled one, privately (catalog_upload.rs checks the rest).
    let got = get!(app, mk, white.path.clone(), Cred::None);
    assert_eq!(got.status, StatusCode::OK);
    let meta = get!(app, mk, format!("{WK}/provider-metadata.json"), Cred::None);
    let text = String::from_utf8_lossy(&meta.body).into_owned();
    assert!(
        !text.contains("/green/") && !text.contains("/amber/"),
        "{text}"
    );
    let meta = get!(
        app,
        mk,
        format!("{WK}/provider-metadata.json"),
        Cred::Bearer(&customer.read)
    );
    assert_eq!(meta.cache_control.as_deref(), Some("private"));
    let text = String::from_utf8_lossy(&meta.body).into_owned();
    assert!(
        text.contains("/green/feed-tlp-green.json") && text.contains("/amber/feed-tlp-amber.json"),
        "{text}"
    );
    // A forged token is refused, never downgraded to anonymous.
    assert_eq!(
        get!(app, mk, green.path.clone(), Cred::Bearer("hrld_forged")).status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get!(app, mk, "/api/v1/advisories", Cred::Bearer("hrld_forged")).status,
        StatusCode::UNAUTHORIZED
    );
}

async fn call<S, R, B>(
    app: &S,
    mk: &impl Fn(test::TestRequest) -> R,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value)
where
    S: actix_web::dev::Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let req = match method {
        "POST" => test::TestRequest::post(),
        "PUT" => test::TestRequest::put(),
        "DELETE" => test::TestRequest::delete(),
        _ => test::TestRequest::get(),
    }
    .uri(uri)
    .insert_header(("Authorization", format!("Bearer {token}")));
    let req = match body {
        Some(b) => req
            .insert_header(("Content-Type", "application/json"))
            .set_payload(serde_json::to_vec(&b).expect("json")),
        None => req,
    };
    let resp = test::call_service(app, mk(req)).await;
    let status = resp.status();
    let bytes = test::read_body(resp).await;
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, value)
}

async fn customer_resources(backend: Backend) {
    let h = harness(backend);
    let app = app!(h);
    let mk = |r: test::TestRequest| r.to_request();
    let amber = publish(&h, amber_document(), "amber");
    let maker_admin = h.token(&[Scope::Admin]);
    let maker_read = h.token(&[Scope::Read]);
    let product = {
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::entitlement::advisory_product_ids(&mut conn, &amber.advisory_id).expect("p")
            [0]
        .clone()
    };

    // The manufacturer makes a new hospital a customer.
    let (s, c) = call(
        &app,
        &mk,
        "POST",
        "/api/v1/customers",
        &maker_admin,
        Some(serde_json::json!({ "name": "Lakeside Hospital", "reference": "CRM-7" })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["slug"], "lakeside-hospital");
    let org_id = c["org_id"].as_str().expect("org").to_owned();
    let (s, list) = call(&app, &mk, "GET", "/api/v1/customers", &maker_read, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    for (body, field) in [
        (serde_json::json!({}), "org"),
        (serde_json::json!({ "org": "x", "name": "y" }), "org"),
        (
            serde_json::json!({ "name": "Meridian Medical Systems" }),
            "name",
        ),
    ] {
        let (s, e) = call(
            &app,
            &mk,
            "POST",
            "/api/v1/customers",
            &maker_admin,
            Some(body),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["fields"][0]["field"], field, "{e}");
    }
    // A body of another shape is malformed (400), like one that is not JSON.
    let (s, e) = call(
        &app,
        &mk,
        "POST",
        "/api/v1/customers",
        &maker_admin,
        Some(serde_json::json!({ "name": "Z", "extra": 1 })),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let hospital_admin = h.token_for(&org_id, &[Scope::Admin]);
    let hospital_read = h.token_for(&org_id, &[Scope::Read]);
    let (s, _) = call(&app, &mk, "GET", "/api/v1/customers", &hospital_admin, None).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "hospitals do not manage customers"
    );

    // Its installed base opens the AMBER advisory.
    let get_amber = format!("/api/v1/advisories/{AMBER_ID}");
    assert_eq!(
        call(&app, &mk, "GET", &get_amber, &hospital_read, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    for (body, field) in [
        (
            serde_json::json!({ "product_id": "no-such-product" }),
            "product_id",
        ),
        (
            serde_json::json!({ "product_id": product, "quantity": 0 }),
            "quantity",
        ),
        (serde_json::json!({ "product_id": "" }), "product_id"),
        (
            serde_json::json!({ "product_id": product, "notes": "a\u{0}b" }),
            "product_id",
        ),
    ] {
        let (s, e) = call(
            &app,
            &mk,
            "POST",
            "/api/v1/installed-base",
            &hospital_admin,
            Some(body),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["fields"][0]["field"], field, "{e}");
    }
    let add = serde_json::json!({ "product_id": product, "quantity": 3, "site": "Radiology" });
    let (s, entry) = call(
        &app,
        &mk,
        "POST",
        "/api/v1/installed-base",
        &hospital_admin,
        Some(add.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{entry}");
    assert_eq!(entry["quantity"], 3);
    let (s, _) = call(
        &app,
        &mk,
        "POST",
        "/api/v1/installed-base",
        &hospital_admin,
        Some(add),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = call(
        &app,
        &mk,
        "POST",
        "/api/v1/installed-base",
        &hospital_read,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "changes need the admin scope");
    let (s, _) = call(
        &app,
        &mk,
        "GET",
        "/api/v1/installed-base",
        &maker_read,
        None,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the manufacturer has no installed base"
    );
    let (s, list) = call(
        &app,
        &mk,
        "GET",
        "/api/v1/installed-base",
        &hospital_read,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list[0]["product_id"], product.as_str(), "{list}");
    assert!(list[0]["confirmed_at"].is_null(), "{list}");
    // A declaration alone opens nothing: anyone could name any product.
    assert_eq!(
        call(&app, &mk, "GET", &get_amber, &hospital_read, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // The manufacturer sees the declaration and confirms it; the hospital cannot.
    let customer_base = format!("/api/v1/customers/{org_id}/installed-base");
    let (s, theirs) = call(&app, &mk, "GET", &customer_base, &maker_read, None).await;
    assert_eq!(s, StatusCode::OK, "{theirs}");
    assert_eq!(theirs[0]["id"], entry["id"], "{theirs}");
    let confirm = format!(
        "{customer_base}/{}/confirm",
        entry["id"].as_str().expect("id")
    );
    for (who, token, status) in [
        ("hospital admin", &hospital_admin, StatusCode::FORBIDDEN),
        ("manufacturer reader", &maker_read, StatusCode::FORBIDDEN),
    ] {
        assert_eq!(
            call(&app, &mk, "POST", &confirm, token, None).await.0,
            status,
            "{who}"
        );
    }
    let bogus = format!("{customer_base}/not-an-entry/confirm");
    assert_eq!(
        call(&app, &mk, "POST", &bogus, &maker_admin, None).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, confirmed) = call(&app, &mk, "POST", &confirm, &maker_admin, None).await;
    assert_eq!(s, StatusCode::OK, "{confirmed}");
    assert!(confirmed["confirmed_at"].is_string(), "{confirmed}");
    assert_eq!(
        call(&app, &mk, "GET", &get_amber, &hospital_read, None)
            .await
            .0,
        StatusCode::OK
    );

    // Removing it closes AMBER again; a grant of the advisory reopens it.
    let entry_uri = format!(
        "/api/v1/installed-base/{}",
        entry["id"].as_str().expect("id")
    );
    let other = h.hospital_token("Other Hospital", &[Scope::Admin]);
    assert_eq!(
        call(&app, &mk, "DELETE", &entry_uri, &other, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, &mk, "DELETE", &entry_uri, &hospital_admin, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, &mk, "GET", &get_amber, &hospital_read, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let grants = "/api/v1/customers/lakeside-hospital/grants";
    for (body, field) in [
        (serde_json::json!({}), "product_id"),
        (
            serde_json::json!({ "product_id": product, "tracking_id": AMBER_ID }),
            "product_id",
        ),
        (
            serde_json::json!({ "tracking_id": "NOPE-1" }),
            "tracking_id",
        ),
        (serde_json::json!({ "product_id": "nope" }), "product_id"),
    ] {
        let (s, e) = call(&app, &mk, "POST", grants, &maker_admin, Some(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["fields"][0]["field"], field, "{e}");
    }
    let (s, g) = call(
        &app,
        &mk,
        "POST",
        grants,
        &maker_admin,
        Some(serde_json::json!({ "tracking_id": AMBER_ID, "note": "incident 42" })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    assert_eq!(g["tracking_id"], AMBER_ID);
    assert_eq!(
        call(&app, &mk, "GET", &get_amber, &hospital_read, None)
            .await
            .0,
        StatusCode::OK
    );
    let (s, list) = call(&app, &mk, "GET", grants, &maker_read, None).await;
    assert_eq!(
        (s, list.as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );
    assert_eq!(
        call(
            &app,
            &mk,
            "POST",
            grants,
            &hospital_admin,
            Some(serde_json::json!({}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let revoke = format!("{grants}/{}", g["id"].as_str().expect("id"));
    assert_eq!(
        call(&app, &mk, "DELETE", &revoke, &maker_admin, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, &mk, "GET", &get_amber, &hospital_read, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(
            &app,
            &mk,
            "GET",
            "/api/v1/customers/no-such-org/grants",
            &maker_read,
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    // Subscriptions of the hospital's destination.
    let dest = {
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::destinations::create_destination(
            &mut conn,
            &herald_storage::destinations::NewDestination {
                org_id: &org_id,
                plugin_id: "webhook",
                name: "SOC",
                config: serde_json::json!({}),
                grants: serde_json::json!({}),
                enabled: true,
                min_severity: Some("high"),
            },
            "test",
        )
        .expect("destination")
    };
    let sub_uri = format!("/api/v1/subscriptions/{}", dest.id);
    let (s, sub) = call(&app, &mk, "GET", &sub_uri, &hospital_read, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(sub["subscription"]["security_contact"], false);
    assert_eq!(sub["min_severity"], "high");
    for body in [
        serde_json::json!({ "event_kinds": ["advisory.deleted"] }),
        serde_json::json!({ "product_ids": ["nope"] }),
        serde_json::json!({ "families": [""] }),
    ] {
        let (s, e) = call(&app, &mk, "PUT", &sub_uri, &hospital_admin, Some(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    }
    // A mistyped field is a malformed body (400), like one that is not JSON.
    let (s, e) = call(
        &app,
        &mk,
        "PUT",
        &sub_uri,
        &hospital_admin,
        Some(serde_json::json!({ "security_contact": "yes" })),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, sub) = call(
        &app,
        &mk,
        "PUT",
        &sub_uri,
        &hospital_admin,
        Some(serde_json::json!({
            "product_ids": [product], "families": ["ClearScan"],
            "event_kinds": ["advisory.published"], "security_contact": true, "routine_opt_out": true
        })),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{sub}");
    assert_eq!(
        sub["subscription"]["families"],
        serde_json::json!(["clearscan"])
    );
    assert_eq!(
        call(&app, &mk, "GET", &sub_uri, &other, None).await.0,
        StatusCode::NOT_FOUND,
        "another hospital's destination does not exist for it"
    );
    let (s, all) = call(&app, &mk, "GET", "/api/v1/subscriptions", &maker_read, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(all.to_string().contains(&dest.id), "{all}");

    // Everything is in the OpenAPI document.
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/api/v1/openapi.json")
            .to_request(),
    )
    .await;
    let doc: Value = serde_json::from_slice(&test::read_body(resp).await).expect("openapi");
    for p in [
        "/api/v1/installed-base",
        "/api/v1/installed-base/{id}",
        "/api/v1/subscriptions/{destination_id}",
        "/api/v1/customers",
        "/api/v1/customers/{org}/grants/{id}",
    ] {
        assert!(
            doc["paths"][p].is_object(),
            "{p} missing from the OpenAPI document"
        );
    }
}

/// The demo hospital is a customer with an installed base: the GREEN demo advisory is its to
/// read, and its notifications are narrowed to the products it runs.
async fn demo_hospital_is_entitled(backend: Backend) {
    let h = harness(backend);
    let seeded = herald_server::demo::seed_if_empty(&h.state.db, &h.state.config).expect("seed");
    assert!(seeded.is_some());
    let mut conn = h.test_db.conn().expect("conn");
    let hospital = herald_storage::accounts::ensure_organization(
        &mut conn,
        OrgKind::Hospital,
        herald_server::demo::DEMO_HOSPITAL,
    )
    .expect("hospital");
    assert!(herald_storage::customers::is_customer(&mut conn, &hospital.id).expect("customer"));
    assert!(
        !herald_storage::installed_base::list_installed_base(&mut conn, &hospital.id)
            .expect("installed base")
            .is_empty()
    );
    let reader =
        herald_storage::entitlement::Reader::for_org(&mut conn, &hospital.id).expect("reader");
    let green = herald_storage::advisories::get_advisory(&mut conn, "MMS-SA-2026-003")
        .expect("get")
        .expect("green demo advisory");
    assert!(herald_storage::entitlement::may_read(&mut conn, &reader, &green.id).expect("rule"));
}

on_both_backends!(
    green_and_amber_over_every_route,
    customer_resources,
    demo_hospital_is_entitled
);
