//! The access matrix for the routes outside the OpenAPI document (which `access_matrix`
//! enumerates): the browser upload, the one-click unsubscribe links, the CSAF provider tree and
//! the health check, against the same eight principals, on both backends. People come with their
//! session cookie (and the page's CSRF token where they post, as their browser would), the
//! token without scope as a bearer header.
//!
//! These routes are listed here by hand: actix does not expose its route table, so a new route
//! outside `/api/v1` must be added to [`ROUTES`] when it is written (the one place that says so).

use crate::common;

use actix_web::http::StatusCode;
use actix_web::test;
use common::forms::signed_in;
use common::{BASE, harness};
use herald_storage::Backend;
use herald_storage::accounts::{NewApiToken, OrgKind, Role, Scope};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Past the authorization gate (2xx, 3xx, or an answer about the request itself).
    A,
    /// 401 or a redirect to the sign-in page is not distinguished from A here: see [`classify`].
    U,
    F,
    N,
}
use Class::{A, F, N, U};

fn classify(status: StatusCode, location: Option<&str>) -> Class {
    match status.as_u16() {
        // Pages send anonymous visitors to the sign-in page: that is "who are you?".
        300..=399 if location.is_some_and(|l| l.starts_with("/login")) => U,
        200..=399 | 400 | 409 | 413 | 422 => A,
        401 => U,
        403 => F,
        404 => N,
        other => panic!("unexpected status {other}"),
    }
}

/// `METHOD path` -> class per principal: anonymous, token without scope, member, hospital
/// admin, other hospital's admin, publisher, approver, manufacturer admin.
const ROUTES: &[(&str, [Class; 8])] = &[
    ("GET /healthz", [A, A, A, A, A, A, A, A]),
    (
        "GET /.well-known/csaf/provider-metadata.json",
        [A, A, A, A, A, A, A, A],
    ),
    ("GET {document}", [A, A, A, A, A, A, A, A]),
    ("GET /upload", [U, U, F, F, F, A, F, A]),
    ("POST /upload", [U, U, F, F, F, A, F, A]),
    // A capability link: whoever holds a valid one may use it; a forged one is nobody's.
    (
        "GET /unsubscribe/{destination}/{token}",
        [N, N, N, N, N, N, N, N],
    ),
    (
        "POST /unsubscribe/{destination}/{token}",
        [N, N, N, N, N, N, N, N],
    ),
];

fn multipart(csrf: &str, document: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----matrix-routes";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.json\"\r\n\
         Content-Type: application/json\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(document);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn access_routes(backend: Backend) {
    let h = harness(backend);
    let app = crate::app!(h.state);
    let (hospital_a, hospital_b) = {
        let mut conn = h.test_db.conn().expect("conn");
        let a = herald_storage::accounts::ensure_organization(
            &mut conn,
            OrgKind::Hospital,
            "Hospital A",
        )
        .expect("org")
        .id;
        let b = herald_storage::accounts::ensure_organization(
            &mut conn,
            OrgKind::Hospital,
            "Hospital B",
        )
        .expect("org")
        .id;
        (a, b)
    };
    let people: [(&str, Role); 6] = [
        (hospital_a.as_str(), Role::Viewer),
        (hospital_a.as_str(), Role::Admin),
        (hospital_b.as_str(), Role::Admin),
        (h.maker_id.as_str(), Role::Publisher),
        (h.maker_id.as_str(), Role::Approver),
        (h.maker_id.as_str(), Role::Admin),
    ];
    let cookies: Vec<String> = people
        .iter()
        .enumerate()
        .map(|(i, (org, role))| signed_in(&h, org, *role, &format!("p{i}@routes.example")))
        .collect();
    let no_scope = {
        let mut conn = h.test_db.conn().expect("conn");
        let maker_admin = herald_storage::accounts::create_user(
            &mut conn,
            &herald_storage::accounts::NewUser {
                org_id: &h.maker_id,
                email: "noscope@routes.example",
                display_name: "No scope",
                password: "correct horse battery staple",
                role: Role::Admin,
            },
        )
        .expect("user");
        herald_storage::accounts::create_api_token(
            &mut conn,
            &NewApiToken {
                org_id: &h.maker_id,
                user_id: Some(&maker_admin.id),
                name: "routes",
                scopes: &[Scope::Read],
                expires_at: None,
            },
            "test",
        )
        .expect("token")
        .token
    };
    // A published TLP:WHITE document for the provider tree.
    let document = {
        let mut conn = h.test_db.conn().expect("conn");
        let published = herald_server::publish::publish_document(
            &mut conn,
            &h.state.config,
            &common::demo("mms-sa-2026-001.json"),
            &h.maker_id,
            "test",
        )
        .expect("publish");
        // The path of the CSAF URL: /.well-known/csaf/white/<year>/<file>.
        let url = url::Url::parse(&published.csaf_url).expect("csaf url");
        assert!(url.path().starts_with("/.well-known/csaf/white/"), "{url}");
        url.path().to_owned()
    };

    let mut failures = Vec::new();
    let mut observed = Vec::new();
    for (route, want) in ROUTES {
        let (method, template) = route.split_once(' ').expect("method path");
        let mut row = Vec::new();
        for (i, expected) in want.iter().enumerate() {
            // 0 anonymous, 1 token without scope, 2.. the people.
            let cookie = i.checked_sub(2).map(|k| cookies[k].clone());
            // A browser first loads a page: its CSRF cookie and token.
            let (cookie, csrf) = crate::csrf!(&app, cookie).await;
            let uri = template
                .replace("{document}", &document)
                .replace("{destination}", "d-unknown")
                .replace("{token}", "forged");
            let mut req = match method {
                "GET" => test::TestRequest::get(),
                _ => test::TestRequest::post(),
            }
            .uri(&uri)
            .insert_header(("Cookie", cookie))
            .insert_header(("Origin", BASE));
            if i == 1 {
                req = req.insert_header(("Authorization", format!("Bearer {no_scope}")));
            }
            if template == "/upload" && method == "POST" {
                let (content_type, body) = multipart(&csrf, &common::demo("mms-sa-2026-002.json"));
                req = req
                    .insert_header(("Content-Type", content_type))
                    .set_payload(body);
            } else if method == "POST" {
                req = req
                    .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                    .set_payload(format!("csrf_token={csrf}"));
            }
            let resp = test::call_service(&app, req.to_request()).await;
            let status = resp.status();
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let got = classify(status, location.as_deref());
            row.push(format!("{got:?}"));
            if got != *expected {
                failures.push(format!(
                    "{route} as principal {i}: expected {expected:?}, got {status} {location:?}"
                ));
            }
        }
        observed.push(format!("    (\"{route}\", [{}]),", row.join(", ")));
    }
    assert!(
        failures.is_empty(),
        "{} failure(s) on {backend:?}:\n{}\n\nobserved:\n{}",
        failures.len(),
        failures.join("\n"),
        observed.join("\n")
    );
}

crate::on_both_backends!(access_routes);
