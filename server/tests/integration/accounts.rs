//! Accounts that hold up (issue 15), through the whole application on both backends: sign-in
//! throttling and lockout, the small sign-in body, the account page's sessions and "sign out
//! everywhere", the security headers and `Secure` cookies under an https base URL, `/metrics`
//! behind its scope.

use crate::common;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test;
use common::forms::{form_encode, redirect_target, signed_in};
use common::{BASE, Harness, harness};
use herald_server::state::AppState;
use herald_storage::{
    Backend, accounts::NewUser, accounts::OrgKind, accounts::Role, accounts::Scope,
};

const PASSWORD: &str = "a long enough passphrase";

fn user(h: &Harness, org_id: &str, email: &str, role: Role) -> String {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::accounts::create_user(
        &mut conn,
        &NewUser {
            org_id,
            email,
            display_name: email,
            password: PASSWORD,
            role,
        },
    )
    .expect("user")
    .id
}

/// The harness's state with its configuration changed by `f`.
fn configured(h: &Harness, f: impl FnOnce(&mut herald_server::config::Config)) -> AppState {
    let mut config = (*h.state.config).clone();
    f(&mut config);
    AppState {
        config: Arc::new(config),
        ..h.state.clone()
    }
}

fn audit(h: &Harness, action: &str) -> Vec<herald_storage::audit::AuditEntry> {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::audit::list_audit(&mut conn, None, 1000)
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == action)
        .collect()
}

async fn sign_in_is_throttled(backend: Backend) {
    let h = harness(backend);
    // No backoff wait, so the test need not wait for it (the storage test moves the clock).
    let state = configured(&h, |c| {
        c.accounts.throttle.base_delay = chrono::Duration::zero();
    });
    let app = app!(state);
    let id = user(&h, &h.maker_id, "psirt@maker.test", Role::Publisher);
    let login = |password: &'static str| [("email", "psirt@maker.test"), ("password", password)];

    // Ten wrong passwords: each "not right"; the tenth locks the account.
    for i in 1..=10 {
        let a = post_form!(&app, "login", None::<&str>, &login("wrong password!")).await;
        let to = redirect_target(&a);
        assert!(to.contains("error=credentials"), "attempt {i}: {to}");
    }
    assert_eq!(audit(&h, "account.locked").len(), 1);
    // The eleventh: locked out. So is the right password, until an admin lifts it.
    let a = post_form!(&app, "login", None::<&str>, &login("wrong password!")).await;
    assert!(redirect_target(&a).contains("error=throttled"));
    let a = post_form!(&app, "login", None::<&str>, &login(PASSWORD)).await;
    assert!(redirect_target(&a).contains("error=throttled"));
    assert_eq!(
        herald_storage::testing::row_counts(&mut h.test_db.conn().expect("conn")).expect("rows")["sessions"],
        0
    );

    // An unknown account is answered exactly alike.
    for _ in 1..=10 {
        let a = post_form!(
            &app,
            "login",
            None::<&str>,
            &[
                ("email", "nobody@maker.test"),
                ("password", "wrong password!")
            ]
        )
        .await;
        assert!(redirect_target(&a).contains("error=credentials"));
    }
    let a = post_form!(
        &app,
        "login",
        None::<&str>,
        &[
            ("email", "nobody@maker.test"),
            ("password", "wrong password!")
        ]
    )
    .await;
    assert!(redirect_target(&a).contains("error=throttled"));

    // Another organization's admin cannot lift it (not found); the manufacturer's admin can.
    let hospital = {
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::accounts::ensure_organization(&mut conn, OrgKind::Hospital, "St. Elsewhere")
            .expect("hospital")
            .id
    };
    let unlock = |token: String| {
        test::TestRequest::post()
            .uri(&format!("/api/v1/users/{id}/unlock"))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .to_request()
    };
    let resp = test::call_service(&app, unlock(h.token_for(&hospital, &[Scope::Admin]))).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = test::call_service(&app, unlock(h.token(&[Scope::Read]))).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = test::call_service(&app, unlock(h.token(&[Scope::Admin]))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = test::read_body_json(resp).await;
    assert_eq!(body["was_locked"], true);
    assert_eq!(audit(&h, "account.unlocked").len(), 1);
    let a = post_form!(&app, "login", None::<&str>, &login(PASSWORD)).await;
    assert_eq!(redirect_target(&a), "/advisories");
    assert_eq!(audit(&h, "session.opened").len(), 1);

    // A refused e-mail address is kept short in the audit log.
    let long = format!("{}@maker.test", "x".repeat(1000));
    let a = post_form!(
        &app,
        "login",
        None::<&str>,
        &[("email", long.as_str()), ("password", "wrong password!")]
    )
    .await;
    assert!(redirect_target(&a).contains("error=credentials"));
    let refused = audit(&h, "session.refused");
    assert!(
        refused.iter().all(|e| e.subject.chars().count() <= 64),
        "{refused:?}"
    );

    // A sign-in body past a few KiB is refused before anything reads it.
    let huge = "x".repeat(8 * 1024);
    let a = post_form!(
        &app,
        "login",
        None::<&str>,
        &[("email", "psirt@maker.test"), ("password", huge.as_str())]
    )
    .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
}

async fn sessions_of_one_person(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    user(&h, &h.maker_id, "viewer@maker.test", Role::Viewer);
    let other = signed_in(&h, &h.maker_id, Role::Viewer, "other@maker.test");
    // Two browsers of the same person.
    let mut cookies = Vec::new();
    for agent in ["Browser One", "Browser Two <script>"] {
        let (cookie, token) = crate::csrf!(&app, None).await;
        let req = test::TestRequest::post()
            .uri("/api/login")
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .insert_header(("Accept", "text/html"))
            .insert_header(("Origin", BASE))
            .insert_header(("Cookie", cookie))
            .insert_header(("User-Agent", agent))
            .set_payload(form_encode(&[
                ("email", "viewer@maker.test"),
                ("password", PASSWORD),
                (app::csrf::CSRF_FIELD, token.as_str()),
            ]));
        let resp = test::call_service(&app, req.to_request()).await;
        assert!(resp.status().is_redirection(), "{}", resp.status());
        let session = resp
            .headers()
            .get_all("set-cookie")
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{}=", app::SESSION_COOKIE)))
            .map(|v| v.split(';').next().unwrap_or_default().to_owned())
            .expect("session cookie");
        cookies.push(format!("{}={session}", app::SESSION_COOKIE));
    }
    // The account page lists both, this browser marked, the agent as text.
    let (status, html) = page!(&app, "/account", &cookies[0]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        html.matches("data-testid=\"session-row\"").count(),
        2,
        "{html}"
    );
    assert!(html.contains("(this browser)"));
    assert!(html.contains("Browser Two &lt;script&gt;"), "{html}");
    // The other person's session id is not theirs to end.
    let (status, view) = call_fn!(&app, "account_sessions", &other, &[]).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let others: serde_json::Value = serde_json::from_str(&view).expect("json");
    let other_id = others["sessions"][0]["id"].as_str().expect("id").to_owned();
    let (status, text) = call_fn!(
        &app,
        "session_end",
        &cookies[0],
        &[("id", other_id.as_str())]
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    let (status, _) = call_fn!(&app, "account_sessions", &other, &[]).await;
    assert_eq!(status, StatusCode::OK);
    // Sign out everywhere: both browsers are signed out, the other person is not.
    let a = post_form!(&app, "logout_everywhere", &cookies[1], &[]).await;
    assert!(a.status.is_redirection(), "{} {}", a.status, a.body);
    for cookie in &cookies {
        let (_, viewer) = call_fn!(&app, "viewer", cookie, &[]).await;
        assert!(viewer.contains("\"user_id\":null"), "{viewer}");
    }
    let (_, viewer) = call_fn!(&app, "viewer", &other, &[]).await;
    assert!(!viewer.contains("\"user_id\":null"), "{viewer}");
    assert_eq!(audit(&h, "session.ended_everywhere").len(), 1);
}

async fn security_headers(backend: Backend) {
    let h = harness(backend);
    let state = configured(&h, |c| c.base_url = "https://herald.test".into());
    let app = app!(state);
    let req = test::TestRequest::get().uri("/advisories").to_request();
    let resp = test::call_service(&app, req).await;
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let csp = header("content-security-policy");
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval' 'nonce-"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "same-origin");
    assert!(header("strict-transport-security").starts_with("max-age="));
    let csrf_cookie = header("set-cookie");
    assert!(csrf_cookie.contains("Secure"), "{csrf_cookie}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("nonce")
        .to_owned();
    let html = String::from_utf8_lossy(&test::read_body(resp).await).into_owned();
    // Every inline script of the page carries this answer's nonce.
    let scripts = html.matches("<script").count();
    assert!(scripts > 0, "{html}");
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "{html}"
    );
    // A new answer, a new nonce.
    let req = test::TestRequest::get().uri("/advisories").to_request();
    let again = test::call_service(&app, req).await;
    let csp2 = again
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(!csp2.contains(&nonce));

    // The session cookie is Secure under an https base URL, whatever the request's scheme.
    user(&h, &h.maker_id, "psirt@maker.test", Role::Viewer);
    let (cookie, token) = crate::csrf!(&app, None).await;
    let req = test::TestRequest::post()
        .uri("/api/login")
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .insert_header(("Origin", "https://herald.test"))
        .insert_header(("Cookie", cookie))
        .set_payload(form_encode(&[
            ("email", "psirt@maker.test"),
            ("password", PASSWORD),
            (app::csrf::CSRF_FIELD, token.as_str()),
        ]));
    let resp = test::call_service(&app, req.to_request()).await;
    let session = resp
        .headers()
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(app::SESSION_COOKIE))
        .expect("session cookie")
        .to_owned();
    assert!(
        session.contains("Secure") && session.contains("HttpOnly"),
        "{session}"
    );
}

async fn metrics_need_their_scope(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let get = |token: Option<String>| {
        let mut req = test::TestRequest::get().uri("/metrics");
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        req.to_request()
    };
    assert_eq!(
        test::call_service(&app, get(None)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    for scopes in [&[Scope::Read][..], &[Scope::Admin, Scope::Publish]] {
        assert_eq!(
            test::call_service(&app, get(Some(h.token(scopes))))
                .await
                .status(),
            StatusCode::FORBIDDEN
        );
    }
    let resp = test::call_service(&app, get(Some(h.token(&[Scope::Metrics])))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let text = String::from_utf8_lossy(&test::read_body(resp).await).into_owned();
    assert!(text.contains("herald_deliveries"), "{text}");
}

on_both_backends!(
    sign_in_is_throttled,
    sessions_of_one_person,
    security_headers,
    metrics_need_their_scope
);
