//! The portal's authoring pages, in process, on SQLite and on PostgreSQL, driven the way a
//! browser without JavaScript drives them: url-encoded form POSTs to the server functions under
//! `/api/` (every button of the draft form is a submit button with an `op`), following their
//! redirects to the pages. A publisher writes an advisory from nothing (rows added by buttons,
//! products from the catalog, a CVSS vector scored by Herald) and publishes it; with the
//! four-eyes rule on, the author cannot approve (no button, and a forged POST is refused) and an
//! approver publishes; a hospital's users are kept out; markup typed into the form stays text.

use crate::common;

use actix_web::http::StatusCode;
use common::forms::{redirect_target, signed_in};
use common::{Harness, demo, harness};
use herald_storage::{Backend, accounts::OrgKind, accounts::Role};

const VECTOR: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";

/// Publishes a demo advisory through the one publish path, which fills the product catalog the
/// form offers.
fn fill_catalog(h: &Harness) {
    let mut conn = h.test_db.conn().expect("conn");
    herald_server::publish::publish_document(
        &mut conn,
        &h.state.config,
        &demo("mms-sa-2026-001.json"),
        &h.maker_id,
        "test",
    )
    .expect("publish demo");
}

/// `/authoring/ID?...#...` → `ID`.
fn draft_id_of(location: &str) -> String {
    let rest = location
        .strip_prefix("/authoring/")
        .unwrap_or_else(|| panic!("not a draft page: {location}"));
    rest.split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Every `data-product="..."` of a page (the product checkboxes), first occurrence order.
fn offered_products(html: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in html.split("data-product=\"").skip(1) {
        let id = part.split('"').next().unwrap_or_default().to_string();
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// The fields of a complete, valid draft with one vulnerability (row 0) and one remediation.
fn complete_form(id: &str, title: &str, product: &str, op: &str) -> Vec<(String, String)> {
    let p = format!("p:{product}");
    [
        ("draft_id".to_string(), id),
        ("title".to_string(), title),
        ("tlp".to_string(), "WHITE"),
        (
            "summary".to_string(),
            "An attacker on the network can run code on the infusion pump.",
        ),
        (format!("product[{p}]"), "on"),
        ("vuln[r0][cve]".to_string(), "CVE-2026-31337"),
        ("vuln[r0][cwe_id]".to_string(), "CWE-787"),
        ("vuln[r0][cwe_name]".to_string(), "Out-of-bounds Write"),
        (
            "vuln[r0][title]".to_string(),
            "Overflow in the pump's update service",
        ),
        (
            "vuln[r0][description]".to_string(),
            "A crafted update package overflows a buffer.",
        ),
        ("vuln[r0][cvss_vector]".to_string(), VECTOR),
        (format!("vuln[r0][affected][{p}]"), "on"),
        ("rem[v0r0][category]".to_string(), "vendor_fix"),
        (
            "rem[v0r0][details]".to_string(),
            "Install firmware 4.2.1 or later.",
        ),
        (
            "rem[v0r0][url]".to_string(),
            "https://maker.example/firmware/4.2.1",
        ),
        (format!("rem[v0r0][products][{p}]"), "on"),
        ("acknowledgments".to_string(), "Ada Lovelace"),
        ("op".to_string(), op),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect()
}

fn pairs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Creates a draft with "New advisory", adds a vulnerability and a remediation row with the
/// buttons and fills everything in: returns the draft id and the catalog product used.
/// (A macro: the test service's type cannot be named.)
macro_rules! write_draft {
    ($app:expr, $cookie:expr, $title:expr) => {{
        let (app, cookie, title): (_, &str, &str) = ($app, $cookie, $title);
        let answer = post_form!(app, "authoring_new", cookie, &[]).await;
        let id = draft_id_of(&redirect_target(&answer));
        let (status, html) = page!(app, &format!("/authoring/{id}"), cookie).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        let products = offered_products(&html);
        let product = products
            .first()
            .unwrap_or_else(|| panic!("the form offers no catalog product: {html}"))
            .clone();
        // Products chosen and a vulnerability row added, with the draft saved on the way.
        let product_key = format!("product[p:{product}]");
        let answer = post_form!(
            app,
            "authoring_save",
            cookie,
            &[
                ("draft_id", id.as_str()),
                ("title", title),
                ("tlp", "WHITE"),
                ("summary", ""),
                (product_key.as_str(), "on"),
                ("op", "add_vuln"),
            ],
        )
        .await;
        let back = redirect_target(&answer);
        assert_eq!(draft_id_of(&back), id);
        assert!(back.ends_with("#vuln-0"), "{back}");
        let (_, html) = page!(app, &back, cookie).await;
        assert!(
            html.contains("name=\"vuln[r0][cve]\""),
            "no vulnerability row: {html}"
        );
        assert!(
            html.contains("name=\"vuln[r0][affected][p:"),
            "no product boxes in the row"
        );
        // The vector saved, a remediation row added.
        let mut fields = complete_form(&id, title, &product, "add_rem:0");
        fields.retain(|(k, _)| !k.starts_with("rem["));
        let answer = post_form!(app, "authoring_save", cookie, &pairs(&fields)).await;
        let back = redirect_target(&answer);
        assert!(back.ends_with("#rem-0-0"), "{back}");
        let (_, html) = page!(app, &back, cookie).await;
        assert!(
            html.contains("name=\"rem[v0r0][details]\""),
            "no remediation row"
        );
        assert!(
            html.contains("9.8 Critical"),
            "the computed score is not shown: {html}"
        );
        // Everything filled in.
        let fields = complete_form(&id, title, &product, "save");
        let answer = post_form!(app, "authoring_save", cookie, &pairs(&fields)).await;
        assert!(redirect_target(&answer).contains("saved=1"));
        (id, product)
    }};
}

// ---------------------------------------------------------------------------------------------
// tests

async fn publisher_writes_and_publishes(backend: Backend) {
    let h = harness(backend);
    fill_catalog(&h);
    let app = app!(h.state);
    let publisher = signed_in(&h, &h.maker_id, Role::Publisher, "author@maker.test");
    let (status, html) = page!(&app, "/advisories", &publisher).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("href=\"/authoring\""), "no Authoring link");

    let title = "Remote code execution in the Aurora infusion pump";
    let (id, _) = write_draft!(&app, &publisher, title);
    let (_, html) = page!(&app, &format!("/authoring/{id}"), &publisher).await;
    assert!(html.contains("value=\"CVE-2026-31337\""), "typed text lost");
    assert!(html.contains("Install firmware 4.2.1 or later."));

    // Removing a row comes back with one fewer.
    let mut fields = complete_form(&id, title, "unused", "remove_rem:0:0");
    let (_, html) = page!(&app, &format!("/authoring/{id}"), &publisher).await;
    let product = offered_products(&html)[0].clone();
    fields = fields
        .into_iter()
        .map(|(k, v)| (k.replace("p:unused", &format!("p:{product}")), v))
        .collect();
    let answer = post_form!(&app, "authoring_save", &publisher, &pairs(&fields)).await;
    let (_, html) = page!(&app, &redirect_target(&answer), &publisher).await;
    assert!(
        !html.contains("name=\"rem[v0r0][details]\""),
        "row not removed"
    );
    let fields = complete_form(&id, title, &product, "save");
    post_form!(&app, "authoring_save", &publisher, &pairs(&fields)).await;

    // Preview: the CSAF JSON as text, with the computed score in it.
    let fields = complete_form(&id, title, &product, "preview");
    let answer = post_form!(&app, "authoring_save", &publisher, &pairs(&fields)).await;
    let target = redirect_target(&answer);
    assert!(target.contains("preview=1"), "{target}");
    let (status, html) = page!(&app, &target, &publisher).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("data-testid=\"preview-json\""),
        "no preview: {html}"
    );
    assert!(html.contains("&quot;baseScore&quot;") || html.contains("\"baseScore\""));

    // Four-eyes off: the author publishes.
    assert!(
        html.contains("data-testid=\"publish\""),
        "no publish button"
    );
    let fields = complete_form(&id, title, &product, "publish");
    let answer = post_form!(&app, "authoring_save", &publisher, &pairs(&fields)).await;
    let target = redirect_target(&answer);
    assert!(target.starts_with("/advisories/"), "{target}");
    let (status, html) = page!(&app, &target, None::<&str>).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(title), "the advisory page lacks the title");
    assert!(html.contains("CVE-2026-31337"));
    assert!(html.contains("9.8"));
    assert!(html.contains("Install firmware 4.2.1 or later."));

    let (_, html) = page!(&app, "/authoring", &publisher).await;
    assert!(html.contains("data-state=\"published\""), "{html}");

    // "Update this advisory": publishers see it, others do not; it opens a draft of the next
    // revision, filled from the published one.
    let (_, html) = page!(&app, &target, None::<&str>).await;
    assert!(
        !html.contains("data-testid=\"update-advisory\""),
        "anonymous may update"
    );
    let (_, html) = page!(&app, &target, &publisher).await;
    assert!(
        html.contains("data-testid=\"update-advisory\""),
        "no update button"
    );
    let tracking_id = target
        .trim_start_matches("/advisories/")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    let answer = post_form!(
        &app,
        "authoring_update",
        &publisher,
        &[("tracking_id", tracking_id.as_str())]
    )
    .await;
    let update = draft_id_of(&redirect_target(&answer));
    assert_ne!(update, id);
    let (_, html) = page!(&app, &format!("/authoring/{update}"), &publisher).await;
    assert!(
        html.contains(&format!("value=\"{title}\"")),
        "not filled: {html}"
    );
    assert!(
        html.contains("name=\"revision_summary\""),
        "no revision note field"
    );
    let mut fields = fields_as_posted(&html);
    for (k, v) in fields.iter_mut() {
        if k == "revision_summary" {
            *v = "Firmware 4.2.1 fixes the overflow.".into();
        }
    }
    let answer = post_form!(&app, "authoring_save", &publisher, &pairs(&fields)).await;
    let target = redirect_target(&answer);
    assert!(target.starts_with("/advisories/"), "{target}");
    let (_, html) = page!(&app, &target, None::<&str>).await;
    assert!(
        html.contains("Firmware 4.2.1 fixes the overflow."),
        "no revision entry: {html}"
    );
}

async fn four_eyes_needs_another_approver(backend: Backend) {
    let h = harness(backend);
    fill_catalog(&h);
    let app = app!(h.state);
    let admin = signed_in(&h, &h.maker_id, Role::Admin, "admin@maker.test");
    let author = signed_in(&h, &h.maker_id, Role::Publisher, "author@maker.test");
    let approver = signed_in(&h, &h.maker_id, Role::Approver, "approver@maker.test");

    // Only an admin switches the rule.
    let answer = post_form!(&app, "authoring_four_eyes", &author, &[("enabled", "on")]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let answer = post_form!(&app, "authoring_four_eyes", &admin, &[("enabled", "on")]).await;
    redirect_target(&answer);
    let (_, html) = page!(&app, "/authoring", &author).await;
    assert!(html.contains("data-on=\"true\""), "rule not on: {html}");

    let title = "Hard-coded credentials in the Vega ventilator";
    let (id, product) = write_draft!(&app, &author, title);
    let (_, html) = page!(&app, &format!("/authoring/{id}"), &author).await;
    assert!(
        !html.contains("data-testid=\"publish\""),
        "the author sees approve"
    );

    // A forged approval by the author is refused, through either form.
    let fields = complete_form(&id, title, &product, "publish");
    let answer = post_form!(&app, "authoring_save", &author, &pairs(&fields)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    let answer = post_form!(
        &app,
        "authoring_act",
        &author,
        &[("id", id.as_str()), ("op", "publish")]
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    let (_, html) = page!(&app, "/authoring", &author).await;
    assert!(
        !html.contains("data-state=\"published\""),
        "published anyway"
    );

    // The author submits; the approver (who did not write it) publishes.
    let fields = complete_form(&id, title, &product, "submit");
    let answer = post_form!(&app, "authoring_save", &author, &pairs(&fields)).await;
    let target = redirect_target(&answer);
    assert!(target.contains("submitted=1"), "{target}");
    let (_, html) = page!(&app, "/authoring", &approver).await;
    assert!(html.contains("data-testid=\"awaiting-approval\""), "{html}");
    let (status, html) = page!(&app, &format!("/authoring/{id}"), &approver).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("data-testid=\"publish\""),
        "no approve button: {html}"
    );
    let answer = post_form!(
        &app,
        "authoring_act",
        &approver,
        &[("id", id.as_str()), ("op", "publish")]
    )
    .await;
    let target = redirect_target(&answer);
    assert!(target.starts_with("/advisories/"), "{target}");
    let (status, html) = page!(&app, &target, None::<&str>).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(title));

    // An admin may edit, so the admin's page is the whole form: approving from it re-posts the
    // unchanged form, which must not make the admin the draft's last editor.
    let title = "Weak TLS in the Lyra patient monitor";
    let (id, product) = write_draft!(&app, &author, title);
    let fields = complete_form(&id, title, &product, "submit");
    let answer = post_form!(&app, "authoring_save", &author, &pairs(&fields)).await;
    assert!(redirect_target(&answer).contains("submitted=1"));
    let (_, html) = page!(&app, &format!("/authoring/{id}"), &admin).await;
    assert!(html.contains("data-testid=\"draft-form\""), "{html}");
    assert!(
        html.contains("data-testid=\"publish\""),
        "no approve button: {html}"
    );
    let answer = post_form!(
        &app,
        "authoring_save",
        &admin,
        &pairs(&fields_as_posted(&html))
    )
    .await;
    let target = redirect_target(&answer);
    assert!(target.starts_with("/advisories/"), "{target}");
}

/// What a browser posts when "Approve and publish" is pressed on a draft page: every named
/// input, textarea and selected option of the form, checked boxes only, and the button.
fn fields_as_posted(html: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let attr = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(decode(&tag[at..at + tag[at..].find('"')?]))
    };
    let start = html.find("data-testid=\"draft-form\"").expect("form");
    let end = start + html[start..].find("</form>").expect("form end");
    let form = &html[start..end];
    let mut out = Vec::new();
    let mut rest = form;
    while let Some(at) = rest.find('<') {
        rest = &rest[at..];
        let tag_end = rest.find('>').expect("tag end");
        let tag = &rest[..tag_end];
        if tag.starts_with("<input") {
            let checkbox = tag.contains("type=\"checkbox\"");
            if let Some(name) = attr(tag, "name")
                && (!checkbox || tag.contains(" checked"))
            {
                out.push((name, attr(tag, "value").unwrap_or_default()));
            }
        } else if tag.starts_with("<textarea") {
            let name = attr(tag, "name").expect("textarea name");
            let text_end = rest.find("</textarea>").expect("textarea end");
            out.push((name, decode(rest[tag_end + 1..text_end].trim())));
        } else if tag.starts_with("<select") {
            let name = attr(tag, "name").expect("select name");
            let select_end = rest.find("</select>").expect("select end");
            let options = &rest[..select_end];
            let value = options
                .split("<option")
                .skip(1)
                .find(|o| o.contains(" selected"))
                .or_else(|| options.split("<option").nth(1))
                .and_then(|o| attr(o, "value"))
                .unwrap_or_default();
            out.push((name, value));
        }
        rest = &rest[1..];
    }
    out.push(("op".into(), "publish".into()));
    out
}

async fn hospital_users_are_kept_out(backend: Backend) {
    let h = harness(backend);
    fill_catalog(&h);
    let app = app!(h.state);
    let hospital = {
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::accounts::ensure_organization(&mut conn, OrgKind::Hospital, "St. Elsewhere")
            .expect("hospital")
            .id
    };
    let nurse = signed_in(&h, &hospital, Role::Admin, "admin@hospital.test");
    let publisher = signed_in(&h, &h.maker_id, Role::Publisher, "author@maker.test");
    let viewer = signed_in(&h, &h.maker_id, Role::Viewer, "reader@maker.test");
    let answer = post_form!(&app, "authoring_new", &publisher, &[]).await;
    let id = draft_id_of(&redirect_target(&answer));

    let (_, html) = page!(&app, "/advisories", &nurse).await;
    assert!(
        !html.contains("href=\"/authoring\""),
        "hospital sees Authoring"
    );
    for cookie in [Some(nurse.as_str()), Some(viewer.as_str()), None] {
        for uri in ["/authoring".to_string(), format!("/authoring/{id}")] {
            let (status, html) = page!(&app, &uri, cookie).await;
            assert!(
                matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                "{uri}: {status}"
            );
            assert!(
                !html.contains("data-testid=\"draft-form\""),
                "{uri} shows the form"
            );
        }
        let answer = post_form!(&app, "authoring_new", cookie, &[]).await;
        assert!(
            matches!(answer.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "authoring_new: {}",
            answer.status
        );
        let answer = post_form!(
            &app,
            "authoring_save",
            cookie,
            &[
                ("draft_id", id.as_str()),
                ("title", "hijacked"),
                ("op", "save")
            ],
        )
        .await;
        assert!(
            matches!(answer.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "authoring_save: {}",
            answer.status
        );
    }
    let (_, html) = page!(&app, &format!("/authoring/{id}"), &publisher).await;
    assert!(
        !html.contains("hijacked"),
        "a refused save changed the draft"
    );
}

async fn markup_typed_into_the_form_is_text(backend: Backend) {
    let h = harness(backend);
    fill_catalog(&h);
    let app = app!(h.state);
    let publisher = signed_in(&h, &h.maker_id, Role::Publisher, "author@maker.test");
    let answer = post_form!(&app, "authoring_new", &publisher, &[]).await;
    let id = draft_id_of(&redirect_target(&answer));
    let answer = post_form!(
        &app,
        "authoring_save",
        &publisher,
        &[
            ("draft_id", id.as_str()),
            ("title", "<script>alert('title')</script>"),
            ("tlp", "WHITE"),
            ("summary", "</textarea><script>alert('summary')</script>"),
            ("acknowledgments", "<img src=x onerror=alert(1)>"),
            ("op", "add_vuln"),
        ],
    )
    .await;
    redirect_target(&answer);
    let answer = post_form!(
        &app,
        "authoring_save",
        &publisher,
        &[
            ("draft_id", id.as_str()),
            ("title", "<script>alert('title')</script>"),
            ("tlp", "WHITE"),
            ("summary", "</textarea><script>alert('summary')</script>"),
            ("acknowledgments", "<img src=x onerror=alert(1)>"),
            (
                "vuln[r0][description]",
                "</textarea><script>alert('d')</script>"
            ),
            ("vuln[r0][cvss_vector]", "\"><script>alert('v')</script>"),
            ("op", "preview"),
        ],
    )
    .await;
    let preview = redirect_target(&answer);
    // The malformed vector is kept as typed, with its error next to the field.
    let (_, html) = page!(&app, &format!("/authoring/{id}"), &publisher).await;
    let at = html
        .find("id=\"err-vulnerabilities-0-cvss_vector\"")
        .unwrap_or_else(|| panic!("no error next to the vector: {html}"));
    assert!(
        at > html
            .find("name=\"vuln[r0][cvss_vector]\"")
            .expect("vector field")
    );
    assert!(html.contains("value=\"&quot;&gt;&lt;script&gt;alert('v')&lt;/script&gt;\""));
    for uri in [
        format!("/authoring/{id}"),
        preview,
        "/authoring".to_string(),
    ] {
        let (status, html) = page!(&app, &uri, &publisher).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        if let Some(at) = html.find("<script>alert") {
            let from = at.saturating_sub(80);
            panic!(
                "{uri} let markup through: ...{}...",
                &html[from..(at + 200).min(html.len())]
            );
        }
        assert!(!html.contains("<img src=x"), "{uri} let markup through");
        assert!(html.contains("&lt;script&gt;"), "{uri} lost the title");
    }
}

/// A product known not affected needs a VEX justification; with one, the published document
/// states it (`product_status.known_not_affected` and a flag with the label).
async fn not_affected_products_carry_a_justification(backend: Backend) {
    let h = harness(backend);
    fill_catalog(&h);
    let app = app!(h.state);
    let publisher = signed_in(&h, &h.maker_id, Role::Publisher, "author@maker.test");
    let title = "Overflow in the Aurora pump, not in the Vega pump";
    let (id, _) = write_draft!(&app, &publisher, title);
    let (_, html) = page!(&app, &format!("/authoring/{id}"), &publisher).await;
    assert!(
        html.contains("name=\"vuln[r0][not_affected_justification]\""),
        "no justification select"
    );
    let offered = offered_products(&html);
    assert!(offered.len() >= 2, "the demo catalog offers {offered:?}");
    let (affected, spared) = (&offered[0], &offered[1]);
    let mut fields = complete_form(&id, title, affected, "publish");
    fields.push((format!("product[p:{spared}]"), "on".into()));
    fields.push((format!("vuln[r0][not_affected][p:{spared}]"), "on".into()));

    // Without a justification: refused, the error on that field, nothing published.
    let answer = post_form!(&app, "authoring_save", &publisher, &pairs(&fields)).await;
    let target = redirect_target(&answer);
    assert!(
        target.starts_with("/authoring/"),
        "published anyway: {target}"
    );
    let (_, html) = page!(&app, &target, &publisher).await;
    assert!(
        html.contains("data-field=\"vulnerabilities.0.not_affected_justification\""),
        "no error on the justification: {html}"
    );
    assert!(html.contains("data-testid=\"field-error\""), "{html}");

    // With one: the preview states it, and it publishes.
    fields.push((
        "vuln[r0][not_affected_justification]".into(),
        "component_not_present".into(),
    ));
    for (k, v) in fields.iter_mut() {
        if k == "op" {
            *v = "preview".into();
        }
    }
    let answer = post_form!(&app, "authoring_save", &publisher, &pairs(&fields)).await;
    let (_, html) = page!(&app, &redirect_target(&answer), &publisher).await;
    let preview = html.replace("&quot;", "\"");
    assert!(preview.contains("\"known_not_affected\""), "{html}");
    assert!(preview.contains("\"component_not_present\""), "{html}");
    assert!(
        html.contains("name=\"vuln[r0][not_affected][p:"),
        "the choice was not kept"
    );
    for (k, v) in fields.iter_mut() {
        if k == "op" {
            *v = "publish".into();
        }
    }
    let answer = post_form!(&app, "authoring_save", &publisher, &pairs(&fields)).await;
    let target = redirect_target(&answer);
    assert!(
        target.starts_with("/advisories/"),
        "not published: {target}"
    );
}

on_both_backends!(
    publisher_writes_and_publishes,
    four_eyes_needs_another_approver,
    hospital_users_are_kept_out,
    markup_typed_into_the_form_is_text,
    not_affected_products_carry_a_justification,
);
