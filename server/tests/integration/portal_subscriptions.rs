//! The subscription section of a destination's portal page and the portal's templates page, in
//! process, on SQLite and on PostgreSQL, driven the way a browser without JavaScript drives
//! them: url-encoded form POSTs to the server functions under `/api/`, following their
//! redirects to the pages. Checks that a saved form reaches storage through the same checks as
//! the REST API, that refused input comes back with the problem next to its field and changes
//! nothing, that no organization but the destination's own changes its subscription, that only
//! the manufacturer's admins change templates, and that stored text is shown as text.

use crate::common;

use actix_web::http::StatusCode;
use common::forms::{redirect_target, signed_in};
use common::{Harness, demo, harness};
use herald_storage::{
    Backend, accounts::OrgKind, accounts::Role, destinations::NewDestination,
    subscriptions::Subscription,
};

// ---------------------------------------------------------------------------------------------
// set-up

/// A hospital that is the manufacturer's customer (so it reads GREEN advisories).
fn hospital(h: &Harness, name: &str) -> String {
    let mut conn = h.test_db.conn().expect("conn");
    let id = herald_storage::accounts::ensure_organization(&mut conn, OrgKind::Hospital, name)
        .expect("hospital")
        .id;
    herald_storage::customers::add_customer(&mut conn, &h.maker_id, &id, None, "test")
        .expect("customer");
    id
}

fn destination(h: &Harness, org_id: &str, name: &str) -> String {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::destinations::create_destination(
        &mut conn,
        &NewDestination {
            org_id,
            plugin_id: "webhook",
            name,
            config: serde_json::json!({"url": "https://receiver.example/hook"}),
            grants: serde_json::json!({}),
            enabled: true,
            min_severity: None,
        },
        "test",
    )
    .expect("destination")
    .id
}

/// Publishes the GREEN demo advisory (hospitals may read it); returns its catalog product ids.
fn catalog(h: &Harness) -> Vec<String> {
    let mut conn = h.test_db.conn().expect("conn");
    let p = herald_server::publish::publish_document(
        &mut conn,
        &h.state.config,
        &demo("mms-sa-2026-003.json"),
        &h.maker_id,
        "test",
    )
    .expect("publish");
    let detail = herald_storage::advisories::get_advisory(&mut conn, &p.tracking_id)
        .expect("get")
        .expect("advisory");
    let ids =
        herald_storage::entitlement::advisory_product_ids(&mut conn, &detail.id).expect("products");
    assert!(!ids.is_empty(), "the demo advisory names products");
    ids
}

fn subscription(h: &Harness, destination_id: &str) -> Subscription {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::subscriptions::get_subscription(&mut conn, destination_id)
        .expect("subscription")
}

fn overrides(h: &Harness) -> Vec<herald_storage::templates::TemplateOverride> {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::templates::list_template_overrides(&mut conn).expect("overrides")
}

/// The part of a page from `marker` to the next `data-field=` (one field and its errors).
fn field_section<'a>(html: &'a str, marker: &str) -> &'a str {
    html.split(marker)
        .nth(1)
        .and_then(|rest| rest.split("data-field=").next())
        .unwrap_or_else(|| panic!("{marker} missing: {html}"))
}

// ---------------------------------------------------------------------------------------------
// subscriptions

async fn subscription_saved_from_the_page(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let products = catalog(&h);
    let org = hospital(&h, "St. Example General");
    let admin = signed_in(&h, &org, Role::Admin, "admin@st-example.test");
    let dest = destination(&h, &org, "Integration engine");
    let page_uri = format!("/destinations/{dest}");

    // The page offers the catalog products the hospital may read and the notice kinds.
    let (status, html) = page!(&app, &page_uri, &admin).await;
    assert_eq!(status, StatusCode::OK);
    for wanted in [
        r#"action="/api/subscription_save""#.to_string(),
        format!(r#"name="product[p:{}]""#, products[0]),
        r#"name="kind[p:advisory.updated]""#.to_string(),
        r#"name="security_contact""#.to_string(),
        r#"name="routine_opt_out""#.to_string(),
    ] {
        assert!(html.contains(&wanted), "{wanted} missing from the page");
    }

    let product_key = format!("product[p:{}]", products[0]);
    let answer = post_form!(
        &app,
        "subscription_save",
        &admin,
        &[
            ("id", dest.as_str()),
            (product_key.as_str(), "on"),
            ("families", "Infusion Pumps, Imaging"),
            ("kind[p:advisory.updated]", "on"),
            ("security_contact", "on"),
            ("routine_opt_out", "on"),
        ],
    )
    .await;
    let target = redirect_target(&answer);
    assert_eq!(
        target,
        format!("/destinations/{dest}?subscribed=1#subscription")
    );
    let stored = subscription(&h, &dest);
    assert_eq!(
        stored,
        Subscription {
            product_ids: vec![products[0].clone()],
            families: vec!["imaging".into(), "infusion pumps".into()],
            event_kinds: vec!["advisory.updated".into()],
            security_contact: true,
            routine_opt_out: true,
        }
    );
    let (status, html) = page!(&app, &target, &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"data-testid="subscription-saved""#));
    assert!(html.contains("imaging, infusion pumps"), "{html}");
    let at = html
        .find(&format!(r#"name="{product_key}""#))
        .expect("product box");
    let input = html[at..].split('>').next().expect("input");
    assert!(
        input.contains("checked"),
        "chosen product not checked: {input}"
    );

    // Unchecking everything clears the filter again.
    let answer = post_form!(&app, "subscription_save", &admin, &[("id", dest.as_str())]).await;
    redirect_target(&answer);
    assert_eq!(subscription(&h, &dest), Subscription::default());
}

/// Deliveries queued for a destination.
fn queued_for(h: &Harness, destination_id: &str) -> i64 {
    let mut conn = h.test_db.conn().expect("conn");
    let filter = herald_storage::delivery_log::DeliveryLogFilter {
        destination_id: Some(destination_id.to_string()),
        ..Default::default()
    };
    herald_storage::delivery_log::delivery_log_page(&mut conn, &filter, 10, 0)
        .expect("deliveries")
        .total
}

async fn fan_out_follows_the_saved_subscription(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let org = hospital(&h, "St. Example General");
    let admin = signed_in(&h, &org, Role::Admin, "admin@st-example.test");
    let updates_only = destination(&h, &org, "Updates only");
    let new_ones = destination(&h, &org, "New advisories");
    for (dest, kind) in [
        (&updates_only, "kind[p:advisory.updated]"),
        (&new_ones, "kind[p:advisory.published]"),
    ] {
        let answer = post_form!(
            &app,
            "subscription_save",
            &admin,
            &[("id", dest.as_str()), (kind, "on")],
        )
        .await;
        redirect_target(&answer);
    }
    // A newly published GREEN advisory (`advisory.published`) reaches only the destination
    // whose subscription, as saved from the page, asks for new advisories.
    catalog(&h);
    {
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::queue::fan_out_pending(&mut conn, 100).expect("fan out");
    }
    assert_eq!(queued_for(&h, &new_ones), 1);
    assert_eq!(queued_for(&h, &updates_only), 0);
}

async fn invalid_subscriptions_are_refused(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let products = catalog(&h);
    let org = hospital(&h, "St. Example General");
    let admin = signed_in(&h, &org, Role::Admin, "admin@st-example.test");
    let dest = destination(&h, &org, "Integration engine");
    let good = format!("product[p:{}]", products[0]);
    let answer = post_form!(
        &app,
        "subscription_save",
        &admin,
        &[("id", dest.as_str()), (good.as_str(), "on")],
    )
    .await;
    redirect_target(&answer);
    let before = subscription(&h, &dest);

    // A product that is not in the catalog: refused by the same check as the REST API, shown
    // next to the products, nothing stored.
    let answer = post_form!(
        &app,
        "subscription_save",
        &admin,
        &[
            ("id", dest.as_str()),
            ("product[p:no-such-product]", "on"),
            ("families", "Imaging"),
        ],
    )
    .await;
    let back = redirect_target(&answer);
    assert!(
        back.starts_with(&format!("/destinations/{dest}?sub_draft=")),
        "{back}"
    );
    assert_eq!(subscription(&h, &dest), before);
    let (status, html) = page!(&app, &back, &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"data-testid="subscription-rejected""#),
        "{html}"
    );
    let section = field_section(&html, r#"data-field="product_ids""#);
    assert!(
        section.contains(r#"data-testid="field-error""#) && section.contains("no-such-product"),
        "no error next to the products: {section}"
    );
    // What was typed comes back.
    assert!(html.contains(r#"value="Imaging""#), "typed families lost");

    // A notice kind that does not exist (a crafted form): named next to the kinds.
    let answer = post_form!(
        &app,
        "subscription_save",
        &admin,
        &[("id", dest.as_str()), ("kind[p:advisory.deleted]", "on")],
    )
    .await;
    let back = redirect_target(&answer);
    assert_eq!(subscription(&h, &dest), before);
    let (_, html) = page!(&app, &back, &admin).await;
    let section = field_section(&html, r#"data-field="event_kinds""#);
    assert!(
        section.contains(r#"data-testid="field-error""#) && section.contains("advisory.deleted"),
        "no error next to the kinds: {section}"
    );

    // A family name with control characters: storage refuses it, shown next to the families.
    let answer = post_form!(
        &app,
        "subscription_save",
        &admin,
        &[("id", dest.as_str()), ("families", "ok, bad\u{7}name")],
    )
    .await;
    let back = redirect_target(&answer);
    assert_eq!(subscription(&h, &dest), before);
    let (_, html) = page!(&app, &back, &admin).await;
    let section = field_section(&html, r#"data-field="families""#);
    assert!(
        section.contains(r#"data-testid="field-error""#),
        "no error next to the families: {section}"
    );
}

async fn other_organizations_cannot_change_a_subscription(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    catalog(&h);
    let a = hospital(&h, "Hospital A");
    let b = hospital(&h, "Hospital B");
    let a_viewer = signed_in(&h, &a, Role::Viewer, "viewer@a.test");
    let b_admin = signed_in(&h, &b, Role::Admin, "admin@b.test");
    let maker_admin = signed_in(&h, &h.maker_id, Role::Admin, "psirt@maker.test");
    let a_dest = destination(&h, &a, "A hook");
    let hijack = [
        ("id", a_dest.as_str()),
        ("routine_opt_out", "on"),
        ("families", "nothing"),
    ];

    // Hospital B: not found, by crafted call or plain form.
    let (status, _) = call_fn!(&app, "subscription_save", &b_admin, &hijack).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let answer = post_form!(&app, "subscription_save", &b_admin, &hijack).await;
    assert!(
        !answer
            .location
            .as_deref()
            .unwrap_or("")
            .contains("subscribed=1"),
        "B's form was accepted"
    );
    // A's own read-only user and the manufacturer (who sees A's destination) may not change it,
    // and their pages offer no form.
    for cookie in [&a_viewer, &maker_admin] {
        let (status, _) = call_fn!(&app, "subscription_save", cookie, &hijack).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, html) = page!(&app, &format!("/destinations/{a_dest}"), cookie).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(r#"data-testid="subscription""#));
        assert!(!html.contains(r#"action="/api/subscription_save""#));
    }
    assert_eq!(subscription(&h, &a_dest), Subscription::default());
}

// ---------------------------------------------------------------------------------------------
// templates

const SLOT: (&str, &str, &str) = ("advisory.published", "email", "subject");

fn template_form(body: &str) -> Vec<(&str, &str)> {
    vec![
        ("kind", SLOT.0),
        ("channel", SLOT.1),
        ("part", SLOT.2),
        ("body", body),
    ]
}

/// The page's section of the slot this test edits.
fn slot_section(html: &str) -> &str {
    let marker = format!(r#"data-template="{}/{}/{}""#, SLOT.0, SLOT.1, SLOT.2);
    html.split(marker.as_str())
        .nth(1)
        .and_then(|rest| rest.split("data-template=").next())
        .unwrap_or_else(|| panic!("{marker} missing from the page"))
}

async fn templates_saved_refused_and_reset(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let admin = signed_in(&h, &h.maker_id, Role::Admin, "psirt@maker.test");
    let (status, html) = page!(&app, "/templates", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"action="/api/template_save""#));
    let section = slot_section(&html);
    assert!(section.contains(r#"data-origin="default""#), "{section}");

    // A working override with markup in it: stored, shown as text.
    // A textarea ends at the first `</textarea>`: the text must not get out of it.
    let body = "</textarea><b onmouseover=alert(1)>Urgent</b> {{tracking_id}}";
    let answer = post_form!(&app, "template_save", &admin, &template_form(body)).await;
    let target = redirect_target(&answer);
    assert!(target.starts_with("/templates?saved="), "{target}");
    let stored = overrides(&h);
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (
            stored[0].kind.as_str(),
            stored[0].channel.as_str(),
            stored[0].part.as_str()
        ),
        SLOT
    );
    assert_eq!(stored[0].body, body);
    let (status, html) = page!(&app, &target, &admin).await;
    assert_eq!(status, StatusCode::OK);
    if let Some(at) = html.find("<b onmouseover") {
        panic!(
            "markup let through: {}",
            &html[at.saturating_sub(300)..at + 100]
        );
    }
    let section = slot_section(&html);
    assert!(section.contains(r#"data-origin="override""#));
    assert!(
        section.contains("&lt;/textarea&gt;&lt;b onmouseover=alert(1)&gt;Urgent&lt;/b&gt;"),
        "override not shown as text: {section}"
    );
    assert!(section.contains(r#"action="/api/template_reset""#));

    // A broken override: refused with the check's message next to the field, nothing changed.
    let answer = post_form!(
        &app,
        "template_save",
        &admin,
        &template_form("{{no_such_field}}"),
    )
    .await;
    let back = redirect_target(&answer);
    assert!(back.starts_with("/templates?draft="), "{back}");
    assert_eq!(overrides(&h)[0].body, body);
    let (status, html) = page!(&app, &back, &admin).await;
    assert_eq!(status, StatusCode::OK);
    let section = slot_section(&html);
    let errors = section
        .split(r#"data-testid="field-error""#)
        .nth(1)
        .unwrap_or_else(|| panic!("no error next to the field: {section}"));
    assert!(errors.contains("no_such_field"), "{errors}");
    assert!(section.contains("{{no_such_field}}"), "typed text lost");
    let unclosed = post_form!(&app, "template_save", &admin, &template_form("{{#if x}}")).await;
    redirect_target(&unclosed);
    assert_eq!(overrides(&h)[0].body, body);

    // Reset: the default applies again; a second reset finds nothing.
    let answer = post_form!(
        &app,
        "template_reset",
        &admin,
        &[("kind", SLOT.0), ("channel", SLOT.1), ("part", SLOT.2)],
    )
    .await;
    let target = redirect_target(&answer);
    assert!(overrides(&h).is_empty());
    let (_, html) = page!(&app, &target, &admin).await;
    assert!(slot_section(&html).contains(r#"data-origin="default""#));
    let (status, _) = call_fn!(
        &app,
        "template_reset",
        &admin,
        &[("kind", SLOT.0), ("channel", SLOT.1), ("part", SLOT.2)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn templates_are_the_manufacturers(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let org = hospital(&h, "St. Example General");
    let hospital_admin = signed_in(&h, &org, Role::Admin, "admin@st-example.test");
    let maker_viewer = signed_in(&h, &h.maker_id, Role::Viewer, "viewer@maker.test");
    let maker_admin = signed_in(&h, &h.maker_id, Role::Admin, "psirt@maker.test");
    let answer = post_form!(
        &app,
        "template_save",
        &maker_admin,
        &template_form("Notice: {{tracking_id}}"),
    )
    .await;
    redirect_target(&answer);

    // A hospital sees no templates and changes none.
    let (_, html) = page!(&app, "/templates", &hospital_admin).await;
    assert!(!html.contains("data-template="), "hospital saw templates");
    assert!(!html.contains("Notice: {{tracking_id}}"));
    assert!(
        !html.contains(r#"href="/templates""#),
        "the header offers a hospital the templates"
    );
    let (status, _) = call_fn!(&app, "templates", &hospital_admin, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (endpoint, pairs) in [
        ("template_save", template_form("Hijacked {{tracking_id}}")),
        (
            "template_reset",
            vec![("kind", SLOT.0), ("channel", SLOT.1), ("part", SLOT.2)],
        ),
    ] {
        let (status, _) = call_fn!(&app, endpoint, &hospital_admin, &pairs).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint}");
        // The manufacturer's read-only users read but do not change.
        let (status, _) = call_fn!(&app, endpoint, &maker_viewer, &pairs).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint}");
    }
    assert_eq!(overrides(&h)[0].body, "Notice: {{tracking_id}}");
    let (status, html) = page!(&app, "/templates", &maker_viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(slot_section(&html).contains("Notice: {{tracking_id}}"));
    assert!(!html.contains(r#"action="/api/template_save""#));
    assert!(html.contains(r#"href="/templates""#), "no header link");
}

on_both_backends!(
    subscription_saved_from_the_page,
    fan_out_follows_the_saved_subscription,
    invalid_subscriptions_are_refused,
    other_organizations_cannot_change_a_subscription,
    templates_saved_refused_and_reset,
    templates_are_the_manufacturers,
);
