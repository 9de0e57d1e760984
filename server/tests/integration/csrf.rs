//! CSRF protection of the portal (issue 15): login CSRF refused, a form without the session's
//! token refused, the pre-session token replaced at sign-in, the hydrated app's header accepted,
//! another session's token refused; bearer-token REST calls need neither. Every server function
//! from another site is refused in the access matrix (`cross_site_refused`).

use crate::common;

use actix_web::http::StatusCode;
use actix_web::test;
use common::forms::{form_encode, signed_in};
use common::{BASE, Harness, harness};
use herald_storage::{Backend, accounts::NewUser, accounts::Role, accounts::Scope};

const PASSWORD: &str = "a long enough passphrase";

fn user(h: &Harness, email: &str) {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::accounts::create_user(
        &mut conn,
        &NewUser {
            org_id: &h.maker_id,
            email,
            display_name: email,
            password: PASSWORD,
            role: Role::Admin,
        },
    )
    .expect("user");
}

fn sessions(h: &Harness) -> i64 {
    herald_storage::testing::row_counts(&mut h.test_db.conn().expect("conn")).expect("counts")["sessions"]
}

/// A form post to a server function: `(cookie header, origin, fields)`; status, the
/// `Set-Cookie` headers and the body.
macro_rules! post {
    ($app:expr, $endpoint:expr, $cookie:expr, $origin:expr, $pairs:expr) => {{
        let mut req = test::TestRequest::post()
            .uri(&format!("/api/{}", $endpoint))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            // A browser's form post (no JavaScript): server functions answer with redirects.
            .insert_header(("Accept", "text/html"))
            .set_payload(form_encode($pairs));
        if let Some(c) = $cookie {
            req = req.insert_header(("Cookie", c));
        }
        if let Some(o) = $origin {
            req = req.insert_header(("Origin", o));
        }
        let resp = test::call_service($app, req.to_request()).await;
        let status = resp.status();
        let cookies: Vec<String> = resp
            .headers()
            .get_all("set-cookie")
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let body = String::from_utf8_lossy(&test::read_body(resp).await).into_owned();
        (status, cookies, body)
    }};
}

fn cookie_value(set: &[String], name: &str) -> Option<String> {
    set.iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

async fn login_csrf_is_refused(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    user(&h, "psirt@maker.test");
    let login = |token: &str| {
        vec![
            ("email".to_owned(), "psirt@maker.test".to_owned()),
            ("password".to_owned(), PASSWORD.to_owned()),
            (app::csrf::CSRF_FIELD.to_owned(), token.to_owned()),
        ]
    };

    // The victim's browser loaded the login page: its pre-session cookie and token.
    let (victim_cookie, victim_token) = crate::csrf!(&app, None).await;
    // The attacker loaded it too, in their own browser.
    let (_, attacker_token) = crate::csrf!(&app, None).await;
    assert_ne!(
        victim_token, attacker_token,
        "every browser gets its own token"
    );

    let fields = login(&victim_token);
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // Posted from another site (the attacker's page, the victim's cookies): refused.
    let (status, cookies, _) = post!(
        &app,
        "login",
        Some(victim_cookie.clone()),
        Some("https://evil.example"),
        &refs
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(cookie_value(&cookies, app::SESSION_COOKIE).is_none());
    // Same origin but the attacker's token, not the one of the victim's cookie: refused.
    let fields = login(&attacker_token);
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, _, _) = post!(
        &app,
        "login",
        Some(victim_cookie.clone()),
        Some(BASE),
        &refs
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    // No cookie at all (a token minted for nobody): refused.
    let (status, _, _) = post!(&app, "login", None::<String>, Some(BASE), &refs);
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Without the token: refused.
    let (status, _, _) = post!(
        &app,
        "login",
        Some(victim_cookie.clone()),
        Some(BASE),
        &refs[..2]
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(sessions(&h), 0, "no refused sign-in opened a session");

    // The victim's own form from the portal page: signed in, and the token changes with it.
    let fields = login(&victim_token);
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, cookies, body) = post!(
        &app,
        "login",
        Some(victim_cookie.clone()),
        Some(BASE),
        &refs
    );
    assert!(status.is_redirection(), "{status} {body}");
    let session = cookie_value(&cookies, app::SESSION_COOKIE).expect("session cookie");
    let session_token = cookie_value(&cookies, app::csrf::CSRF_COOKIE).expect("new csrf cookie");
    assert_ne!(session_token, victim_token);
    assert_eq!(sessions(&h), 1);

    // The pre-session token no longer works once signed in; the session's does.
    let signed_in_cookie = format!(
        "{}={session}; {}={session_token}",
        app::SESSION_COOKIE,
        app::csrf::CSRF_COOKIE
    );
    let (status, _, _) = post!(
        &app,
        "authoring_four_eyes",
        Some(signed_in_cookie.clone()),
        Some(BASE),
        &[
            ("enabled", "true"),
            (app::csrf::CSRF_FIELD, victim_token.as_str())
        ]
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, body) = post!(
        &app,
        "authoring_four_eyes",
        Some(signed_in_cookie.clone()),
        Some(BASE),
        &[
            ("enabled", "true"),
            (app::csrf::CSRF_FIELD, session_token.as_str())
        ]
    );
    assert!(
        status.is_success() || status.is_redirection(),
        "{status} {body}"
    );
}

async fn forms_need_the_session_token(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let admin = signed_in(&h, &h.maker_id, Role::Admin, "admin@maker.test");
    let other = signed_in(&h, &h.maker_id, Role::Admin, "other@maker.test");
    let (admin_cookie, admin_token) = crate::csrf!(&app, Some(admin.clone())).await;
    let (_, other_token) = crate::csrf!(&app, Some(other.clone())).await;
    assert_ne!(admin_token, other_token, "a token is bound to its session");
    let four_eyes = || {
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::drafts::four_eyes(&mut conn, &h.maker_id).expect("setting")
    };

    // A plain form without the token, from a portal page: refused, nothing changed.
    let (status, _, body) = post!(
        &app,
        "authoring_four_eyes",
        Some(admin_cookie.clone()),
        Some(BASE),
        &[("enabled", "true")]
    );
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("form token"), "{body}");
    // Another session's token, a forged one, a token in the wrong field: refused.
    for token in [other_token.as_str(), "00112233445566778899aabbccddeeff", ""] {
        let (status, _, _) = post!(
            &app,
            "authoring_four_eyes",
            Some(admin_cookie.clone()),
            Some(BASE),
            &[("enabled", "true"), (app::csrf::CSRF_FIELD, token)]
        );
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // `Sec-Fetch-Site: cross-site` without an Origin: refused even with the token.
    let req = test::TestRequest::post()
        .uri("/api/authoring_four_eyes")
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .insert_header(("Cookie", admin_cookie.clone()))
        .insert_header(("Sec-Fetch-Site", "cross-site"))
        .set_payload(form_encode(&[
            ("enabled", "true"),
            (app::csrf::CSRF_FIELD, admin_token.as_str()),
        ]));
    let resp = test::call_service(&app, req.to_request()).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(!four_eyes(), "no refused request changed the setting");

    // The hydrated app: the token in the header, `Sec-Fetch-Site: same-origin`: accepted.
    let req = test::TestRequest::post()
        .uri("/api/authoring_four_eyes")
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .insert_header(("Accept", "application/json"))
        .insert_header(("Cookie", admin_cookie.clone()))
        .insert_header(("Sec-Fetch-Site", "same-origin"))
        .insert_header((app::csrf::CSRF_HEADER, admin_token.clone()))
        .set_payload(form_encode(&[("enabled", "true")]));
    let resp = test::call_service(&app, req.to_request()).await;
    assert!(resp.status().is_success(), "{}", resp.status());
    assert!(four_eyes());

    // A bearer-token REST call is outside the browser's reach: no Origin, no token needed.
    let token = h.token(&[Scope::Publish]);
    let req = test::TestRequest::post()
        .uri("/api/v1/advisories")
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", "application/json"))
        .set_payload(common::demo("mms-sa-2026-001.json"));
    let resp = test::call_service(&app, req.to_request()).await;
    assert!(resp.status().is_success(), "{}", resp.status());
}

async fn upload_needs_the_form_token(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let publisher = signed_in(&h, &h.maker_id, Role::Publisher, "pub@maker.test");
    let (cookie, token) = crate::csrf!(&app, Some(publisher.clone())).await;
    // The page's form carries the token.
    let (status, html) = page!(&app, "/upload", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!("name=\"csrf_token\" value=\"{token}\"")),
        "{html}"
    );
    // A multipart post without the field: refused, nothing published.
    let boundary = "----csrf-test";
    let doc = common::demo("mms-sa-2026-001.json");
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.json\"\r\nContent-Type: application/json\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&doc);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = test::TestRequest::post()
        .uri("/upload")
        .insert_header((
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        ))
        .insert_header(("Origin", BASE))
        .insert_header(("Cookie", cookie))
        .set_payload(body);
    let resp = test::call_service(&app, req.to_request()).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let counts =
        herald_storage::testing::row_counts(&mut h.test_db.conn().expect("conn")).expect("rows");
    assert_eq!(counts["advisories"], 0);
    assert_eq!(counts["drafts"], 0);
}

on_both_backends!(
    login_csrf_is_refused,
    forms_need_the_session_token,
    upload_needs_the_form_token
);
