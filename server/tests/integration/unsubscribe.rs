//! One-click unsubscribe (RFC 8058): the signed URL the engine puts in every notification opts
//! the destination out of routine notices with a bare POST; a GET changes nothing; a forged or
//! foreign token, or an unknown destination, is 404. On SQLite and PostgreSQL.

use crate::common;

use actix_web::http::StatusCode;
use actix_web::{App, test};
use common::harness;
use herald_storage::Backend;

async fn one_click(backend: Backend) {
    let h = harness(backend);
    let app =
        test::init_service(App::new().configure(herald_server::web::configure(h.state.clone())))
            .await;
    let dest = {
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::destinations::create_destination(
            &mut conn,
            &herald_storage::destinations::NewDestination {
                org_id: &h.maker_id,
                plugin_id: "email",
                name: "Security mailbox",
                config: serde_json::json!({}),
                grants: serde_json::json!({}),
                enabled: true,
                min_severity: None,
            },
            "test",
        )
        .expect("destination")
    };
    let key = herald_server::secrets::secret_key(&h.state.config).expect("key");
    let token = key.unsubscribe_token(&dest.id);
    let url = herald_csaf::urls::unsubscribe_url("", &dest.id, &token);
    let opted_out = || {
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::subscriptions::get_subscription(&mut conn, &dest.id)
            .expect("subscription")
            .routine_opt_out
    };

    // A GET (a mail scanner following the link) shows a button and changes nothing.
    let resp = test::call_service(&app, test::TestRequest::get().uri(&url).to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = String::from_utf8(test::read_body(resp).await.to_vec()).expect("utf-8");
    assert!(
        page.contains("method=\"post\"") && page.contains(&url),
        "{page}"
    );
    assert!(!opted_out());

    // Forged, foreign and malformed tokens, and unknown destinations, are 404 and change nothing.
    let other = herald_storage::secrets::SecretKey::from_bytes([9; 32]).unsubscribe_token(&dest.id);
    for bad in [
        herald_csaf::urls::unsubscribe_url("", &dest.id, &other),
        herald_csaf::urls::unsubscribe_url("", &dest.id, "00"),
        herald_csaf::urls::unsubscribe_url("", &dest.id, "%3Cscript%3E"),
        herald_csaf::urls::unsubscribe_url("", "no-such-destination", &token),
        herald_csaf::urls::unsubscribe_url(
            "",
            "no-such-destination",
            &key.unsubscribe_token("no-such-destination"),
        ),
    ] {
        for post in [false, true] {
            let req = if post {
                test::TestRequest::post()
                    .uri(&bad)
                    .set_payload("List-Unsubscribe=One-Click")
            } else {
                test::TestRequest::get().uri(&bad)
            };
            let resp = test::call_service(&app, req.to_request()).await;
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{bad}");
        }
    }
    assert!(!opted_out());

    // The mail client's one-click POST: no page, no sign-in; twice is harmless.
    for _ in 0..2 {
        let resp = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&url)
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload("List-Unsubscribe=One-Click")
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    assert!(opted_out());
    let mut conn = h.test_db.conn().expect("conn");
    let audit = herald_storage::audit::list_audit(&mut conn, None, 50).expect("audit");
    assert!(
        audit.iter().any(|e| e.actor == "unsubscribe:one-click"),
        "{audit:?}"
    );
}

on_both_backends!(one_click);
