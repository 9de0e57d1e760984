//! Notification templates: the compiled-in handlebars defaults per event kind, channel and part
//! (subject, text, html), the manufacturer's stored overrides, the template context built from a
//! [`Notification`], and rendering in strict mode.
//!
//! What a template can see is decided here, not by the template: for a TLP-labelled advisory
//! other than TLP:WHITE/CLEAR (GREEN, AMBER, RED) the context carries only a summary of the
//! notice (tracking id, version, severity, dates, TLP label) and the portal link; the title,
//! CVEs, products, summary text and CSAF URL are not in it at all (`details` is null), so no
//! template, default or override, can leak them into mail or any other channel. Overrides are
//! test-rendered against a restricted and an unrestricted sample before they are saved
//! ([`validate_override`]), so one that touches `details` without checking `restricted` is
//! refused rather than failing at delivery time.
//!
//! Channels: `email` has its own defaults; every other plugin gets the `default` set unless the
//! manufacturer saved templates under its plugin id. Resolution per part: override for the
//! channel, default for the channel, override for `default`, default for `default`. A template
//! that fails to render at delivery time (an override that rendered fine against the samples)
//! is logged and the next candidate is used.

use std::collections::{BTreeMap, HashSet};

use handlebars::Handlebars;
use herald_storage::templates::TemplateOverride;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Notification, NotifiedProduct, RenderedMessage};

/// Event kinds that have templates.
pub const KINDS: [&str; 4] = [
    herald_storage::advisories::EVENT_ADVISORY_PUBLISHED,
    herald_storage::advisories::EVENT_ADVISORY_UPDATED,
    herald_storage::advisories::EVENT_PATCH_AVAILABLE,
    herald_storage::reminders::EVENT_END_OF_SUPPORT,
];

/// The channel whose templates any plugin without its own falls back to.
pub const DEFAULT_CHANNEL: &str = "default";

/// The parts of a rendered notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// One line; line breaks are folded into spaces after rendering.
    Subject,
    /// Plain text; nothing is escaped.
    Text,
    /// HTML; every `{{value}}` is HTML-escaped.
    Html,
}

impl Part {
    pub const ALL: [Part; 3] = [Part::Subject, Part::Text, Part::Html];

    pub fn as_str(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Text => "text",
            Part::Html => "html",
        }
    }

    pub fn parse(s: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// The compiled-in defaults: (kind, channel, part, source).
fn defaults() -> Vec<(&'static str, &'static str, Part, &'static str)> {
    const SUBJECT_PUBLISHED: &str = include_str!("../templates/subject.advisory.published.hbs");
    const SUBJECT_UPDATED: &str = include_str!("../templates/subject.advisory.updated.hbs");
    const SUBJECT_PATCH: &str = include_str!("../templates/subject.patch.available.hbs");
    const SUBJECT_END: &str = include_str!("../templates/subject.end_of_support.hbs");
    const EMAIL_TEXT: &str = include_str!("../templates/email.text.hbs");
    const EMAIL_HTML: &str = include_str!("../templates/email.html.hbs");
    const DEFAULT_TEXT: &str = include_str!("../templates/default.text.hbs");
    const DEFAULT_HTML: &str = include_str!("../templates/default.html.hbs");
    let mut out = Vec::new();
    for kind in KINDS {
        let subject = match kind {
            herald_storage::advisories::EVENT_ADVISORY_UPDATED => SUBJECT_UPDATED,
            herald_storage::advisories::EVENT_PATCH_AVAILABLE => SUBJECT_PATCH,
            herald_storage::reminders::EVENT_END_OF_SUPPORT => SUBJECT_END,
            _ => SUBJECT_PUBLISHED,
        };
        for (channel, text, html) in [
            ("email", EMAIL_TEXT, EMAIL_HTML),
            (DEFAULT_CHANNEL, DEFAULT_TEXT, DEFAULT_HTML),
        ] {
            out.push((kind, channel, Part::Subject, subject));
            out.push((kind, channel, Part::Text, text));
            out.push((kind, channel, Part::Html, html));
        }
    }
    out
}

/// One template as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateSource {
    pub kind: String,
    pub channel: String,
    pub part: Part,
    pub body: String,
}

/// Every compiled-in default.
pub fn default_templates() -> Vec<TemplateSource> {
    defaults()
        .into_iter()
        .map(|(kind, channel, part, body)| TemplateSource {
            kind: kind.into(),
            channel: channel.into(),
            part,
            body: body.into(),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown event kind {0:?} (known: {known})", known = KINDS.join(", "))]
    UnknownKind(String),
    #[error("unknown template part {0:?} (subject, text or html)")]
    UnknownPart(String),
    #[error(
        "channel {0:?} must be 1-64 lower-case letters, digits, '.', '_' or '-' (a plugin id or \"default\")"
    )]
    InvalidChannel(String),
    #[error("template {name} does not compile: {message}")]
    Compile { name: String, message: String },
    #[error("template {name} does not render against the {sample}: {message}")]
    Render {
        name: String,
        sample: &'static str,
        message: String,
    },
}

fn valid_channel(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

fn registry(part: Part) -> Handlebars<'static> {
    let mut h = Handlebars::new();
    h.set_strict_mode(true);
    if part != Part::Html {
        h.register_escape_fn(handlebars::no_escape);
    }
    h
}

fn name(origin: &str, kind: &str, channel: &str, part: Part) -> String {
    format!("{origin}:{kind}/{channel}/{}", part.as_str())
}

/// Whether a TLP label keeps the advisory's details out of notifications: everything except
/// no label, WHITE and CLEAR.
pub fn restricted_tlp(tlp: &str) -> bool {
    let t = tlp.trim().to_ascii_uppercase();
    let t = t.strip_prefix("TLP:").unwrap_or(&t);
    !(t.is_empty() || t == "WHITE" || t == "CLEAR")
}

/// The data a template sees. See the module documentation for what `details` holds and when.
pub fn context(n: &Notification) -> Value {
    let restricted = restricted_tlp(&n.tlp);
    let tlp = n.tlp.trim().to_ascii_uppercase();
    let tlp = tlp.strip_prefix("TLP:").unwrap_or(&tlp).to_string();
    // A patch revises the advisory (the vendor fix is in the new version); an end-of-support
    // reminder announces the informational advisory again.
    let (updated, word) = match n.event_kind.as_str() {
        herald_storage::advisories::EVENT_ADVISORY_UPDATED => (true, "updated"),
        herald_storage::advisories::EVENT_PATCH_AVAILABLE => {
            (true, "updated with a vendor fix (patch available)")
        }
        herald_storage::reminders::EVENT_END_OF_SUPPORT => {
            (false, "announced again as an end-of-support reminder")
        }
        _ => (false, "published"),
    };
    let details = (!restricted).then(|| {
        json!({
            "title": n.title,
            "summary": n.summary,
            "cves": n.cves,
            "products": n.products.iter().map(product).collect::<Vec<_>>(),
            "csaf_url": n.csaf_url,
        })
    });
    json!({
        "event": {
            "kind": n.event_kind,
            "updated": updated,
            "word": word,
        },
        "delivery_id": n.delivery_id,
        "tracking_id": n.tracking_id,
        "version": n.version,
        "severity": n.severity.as_deref().map(str::to_ascii_uppercase).unwrap_or_else(|| "UNRATED".into()),
        "cvss": n.cvss_score.map(|s| format!("{s:.1}")),
        "tlp": tlp,
        "tlp_label": if tlp.is_empty() { String::new() } else { format!("TLP:{tlp}") },
        "restricted": restricted,
        "initial_release_date": n.initial_release_date,
        "current_release_date": n.current_release_date,
        "portal_url": n.portal_url,
        "details": details,
    })
}

fn product(p: &NotifiedProduct) -> Value {
    json!({
        "product_id": p.product_id,
        "name": p.name,
        "version": p.version,
        "udi_di": p.udi_di,
        "cpe": p.cpe,
        "purl": p.purl,
    })
}

/// A subject is one line: line breaks and runs of white space become single spaces.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Compiled defaults and overrides, ready to render.
pub struct Renderer {
    registries: BTreeMap<Part, Handlebars<'static>>,
    /// `(kind, channel, part)` with a compiled override / default.
    overrides: HashSet<(String, String, Part)>,
    defaults: HashSet<(String, String, Part)>,
    fingerprint: String,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("overrides", &self.overrides)
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

/// A digest of a set of overrides: equal digests, equal templates (so a cached [`Renderer`]
/// can be kept).
pub fn fingerprint(overrides: &[TemplateOverride]) -> String {
    let mut h = Sha256::new();
    for o in overrides {
        for s in [&o.kind, &o.channel, &o.part, &o.body] {
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
    }
    hex::encode(h.finalize())
}

impl Renderer {
    /// Compiles the defaults and `overrides`. An override that does not compile (saved before
    /// an upgrade of the template engine, say) is logged and left out: its default applies.
    pub fn new(overrides: &[TemplateOverride]) -> Renderer {
        let mut registries: BTreeMap<Part, Handlebars<'static>> =
            Part::ALL.into_iter().map(|p| (p, registry(p))).collect();
        let mut defaults_set = HashSet::new();
        for (kind, channel, part, source) in defaults() {
            if let Some(r) = registries.get_mut(&part) {
                match r.register_template_string(&name("default", kind, channel, part), source) {
                    Ok(()) => {
                        defaults_set.insert((kind.to_string(), channel.to_string(), part));
                    }
                    // Unreachable with the shipped files (a test compiles them all).
                    Err(e) => tracing::error!("built-in template does not compile: {e}"),
                }
            }
        }
        let mut compiled = HashSet::new();
        for o in overrides {
            let Some(part) = Part::parse(&o.part) else {
                tracing::warn!(kind = %o.kind, channel = %o.channel, part = %o.part, "stored template override has an unknown part; ignored");
                continue;
            };
            if let Some(r) = registries.get_mut(&part) {
                match r
                    .register_template_string(&name("override", &o.kind, &o.channel, part), &o.body)
                {
                    Ok(()) => {
                        compiled.insert((o.kind.clone(), o.channel.clone(), part));
                    }
                    Err(e) => tracing::warn!(
                        kind = %o.kind, channel = %o.channel, part = %o.part,
                        "stored template override does not compile, using the default: {e}"
                    ),
                }
            }
        }
        Renderer {
            registries,
            overrides: compiled,
            defaults: defaults_set,
            fingerprint: fingerprint(overrides),
        }
    }

    /// The digest of the overrides this renderer was built from.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Renders `n` for a destination of plugin `channel`. `None` for an event kind without
    /// templates (or if even the defaults failed, which is logged).
    pub fn render(&self, n: &Notification, channel: &str) -> Option<RenderedMessage> {
        if !KINDS.contains(&n.event_kind.as_str()) {
            return None;
        }
        let ctx = context(n);
        let mut parts = BTreeMap::new();
        for part in Part::ALL {
            let registry = self.registries.get(&part)?;
            let mut candidates = Vec::with_capacity(4);
            for ch in [channel, DEFAULT_CHANNEL] {
                let key = (n.event_kind.clone(), ch.to_string(), part);
                if self.overrides.contains(&key) {
                    candidates.push(name("override", &n.event_kind, ch, part));
                }
                if self.defaults.contains(&key) {
                    candidates.push(name("default", &n.event_kind, ch, part));
                }
            }
            let mut rendered = None;
            for candidate in candidates {
                match registry.render(&candidate, &ctx) {
                    Ok(s) => {
                        rendered = Some(s);
                        break;
                    }
                    Err(e) => tracing::warn!(
                        delivery = %n.delivery_id, template = %candidate,
                        "template failed to render, falling back: {e}"
                    ),
                }
            }
            let Some(s) = rendered else {
                tracing::error!(delivery = %n.delivery_id, part = part.as_str(), "no template rendered");
                return None;
            };
            parts.insert(part, s);
        }
        let mut take = |p: Part| parts.remove(&p).unwrap_or_default();
        Some(RenderedMessage {
            subject: one_line(&take(Part::Subject)),
            text: take(Part::Text),
            html: take(Part::Html),
        })
    }
}

/// A notification with every field filled, as samples for [`validate_override`] and previews.
pub fn sample_notification(kind: &str, tlp: &str) -> Notification {
    Notification {
        delivery_id: "0192f5c4-7e1a-7cc2-9b1e-3f2a9d8e4b10".into(),
        event_kind: kind.into(),
        tracking_id: "EXMED-SA-2026-0042".into(),
        version: "2".into(),
        title: "Authentication bypass in InfuCare infusion pump web interface".into(),
        severity: Some("high".into()),
        cvss_score: Some(8.1),
        cves: vec!["CVE-2026-10001".into(), "CVE-2026-10002".into()],
        products: vec![NotifiedProduct {
            product_id: "CSAFPID-0001".into(),
            name: "InfuCare 5000".into(),
            version: Some("4.2.1".into()),
            udi_di: Some("04012345678901".into()),
            cpe: Some("cpe:2.3:h:exmed:infucare_5000:4.2.1:*:*:*:*:*:*:*".into()),
            purl: None,
        }],
        initial_release_date: "2026-11-01T09:00:00Z".into(),
        current_release_date: "2026-11-20T09:00:00Z".into(),
        tlp: tlp.into(),
        summary: "An unauthenticated attacker on the clinical network can change pump settings. \
                  Update to 4.2.2."
            .into(),
        portal_url: "https://herald.example.com/advisories/EXMED-SA-2026-0042".into(),
        csaf_url: "https://herald.example.com/.well-known/csaf/white/2026/exmed-sa-2026-0042.json"
            .into(),
        previous_receipt: None,
        attempt: 1,
        rendered: None,
        unsubscribe_url: None,
    }
}

/// Checks a manufacturer's override before it is saved: known kind and part, a plausible
/// channel, compiles in strict mode, and renders against samples that exercise both context
/// shapes (TLP:WHITE with every field, TLP:AMBER with no details, and one with no severity,
/// CVSS, CVEs or products). The error names the template and what failed.
pub fn validate_override(
    kind: &str,
    channel: &str,
    part: &str,
    body: &str,
) -> Result<(), TemplateError> {
    if !KINDS.contains(&kind) {
        return Err(TemplateError::UnknownKind(kind.into()));
    }
    if !valid_channel(channel) {
        return Err(TemplateError::InvalidChannel(channel.into()));
    }
    let part_v = Part::parse(part).ok_or_else(|| TemplateError::UnknownPart(part.into()))?;
    let template_name = format!("{kind}/{channel}/{part}");
    let mut r = registry(part_v);
    r.register_template_string(&template_name, body)
        .map_err(|e| TemplateError::Compile {
            name: template_name.clone(),
            message: e.to_string(),
        })?;
    let mut sparse = sample_notification(kind, "");
    sparse.severity = None;
    sparse.cvss_score = None;
    sparse.cves.clear();
    sparse.products.clear();
    sparse.summary.clear();
    for (sample, n) in [
        ("TLP:WHITE sample", sample_notification(kind, "WHITE")),
        (
            "TLP:AMBER sample (no details)",
            sample_notification(kind, "AMBER"),
        ),
        ("sample without severity, CVEs or products", sparse),
    ] {
        let out = r
            .render(&template_name, &context(&n))
            .map_err(|e| TemplateError::Render {
                name: template_name.clone(),
                sample,
                message: e.to_string(),
            })?;
        if part_v == Part::Subject && one_line(&out).is_empty() {
            return Err(TemplateError::Render {
                name: template_name,
                sample,
                message: "the subject renders empty".into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn white(kind: &str) -> Notification {
        let mut n = sample_notification(kind, "WHITE");
        n.title = "Pump <script>alert(1)</script> & \"co\"\r\nBcc: evil@example.org".into();
        n
    }

    fn override_row(kind: &str, channel: &str, part: &str, body: &str) -> TemplateOverride {
        TemplateOverride {
            kind: kind.into(),
            channel: channel.into(),
            part: part.into(),
            body: body.into(),
            updated_at: 0,
            updated_by: "test".into(),
        }
    }

    #[test]
    fn every_default_renders_every_sample() {
        for t in default_templates() {
            validate_override(&t.kind, &t.channel, t.part.as_str(), &t.body)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn email_defaults_carry_the_advisory_and_escape_html() {
        let r = Renderer::new(&[]);
        let m = r
            .render(&white("advisory.published"), "email")
            .expect("rendered");
        assert!(!m.subject.contains(['\r', '\n']), "{:?}", m.subject);
        assert!(
            m.subject.starts_with("[HIGH] EXMED-SA-2026-0042 v2: Pump"),
            "{}",
            m.subject
        );
        assert!(
            m.html
                .contains("Pump &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;co&quot;"),
            "{}",
            m.html
        );
        assert!(!m.html.contains("<script>"));
        assert!(m.text.contains("Pump <script>alert(1)</script>"));
        for part in [&m.text, &m.html] {
            for needle in [
                "EXMED-SA-2026-0042",
                "version 2",
                "8.1",
                "CVE-2026-10001",
                "CVE-2026-10002",
                "InfuCare 5000",
                "4.2.1",
                "04012345678901",
                "Update to 4.2.2.",
                "https://herald.example.com/advisories/EXMED-SA-2026-0042",
                "exmed-sa-2026-0042.json",
            ] {
                assert!(part.contains(needle), "{needle} missing in {part}");
            }
        }
        assert!(
            m.text
                .contains("CVEs:             CVE-2026-10001, CVE-2026-10002\n"),
            "{}",
            m.text
        );
        let upd = r
            .render(&white("advisory.updated"), "email")
            .expect("rendered");
        assert!(
            upd.subject.starts_with("Updated: [HIGH]"),
            "{}",
            upd.subject
        );
        assert!(upd.text.contains("updated to version 2"), "{}", upd.text);
    }

    #[test]
    fn restricted_tlp_carries_only_a_summary_and_the_link() {
        let r = Renderer::new(&[]);
        for tlp in ["AMBER", "GREEN", "AMBER+STRICT", "RED", "tlp:amber"] {
            let n = sample_notification("advisory.published", tlp);
            for channel in ["email", "hl7-mllp", "default"] {
                let m = r.render(&n, channel).expect("rendered");
                for part in [&m.subject, &m.text, &m.html] {
                    for secret in [
                        "Authentication bypass",
                        "CVE-2026-10001",
                        "InfuCare",
                        "04012345678901",
                        "unauthenticated attacker",
                        ".json",
                    ] {
                        assert!(
                            !part.contains(secret),
                            "{tlp}/{channel}: {secret} in {part}"
                        );
                    }
                }
                assert!(m.text.contains(&n.portal_url), "{}", m.text);
                assert!(m.html.contains(&n.portal_url));
                assert!(m.subject.contains("EXMED-SA-2026-0042"), "{}", m.subject);
                assert!(m.text.contains("HIGH"));
            }
        }
        for tlp in ["", "WHITE", "CLEAR", "TLP:CLEAR"] {
            assert!(!restricted_tlp(tlp), "{tlp}");
        }
    }

    #[test]
    fn overrides_win_and_channels_fall_back_to_default() {
        let r = Renderer::new(&[
            override_row(
                "advisory.published",
                "email",
                "subject",
                "Custom {{tracking_id}}",
            ),
            override_row(
                "advisory.published",
                "default",
                "text",
                "Generic {{version}}",
            ),
        ]);
        let n = sample_notification("advisory.published", "WHITE");
        let email = r.render(&n, "email").expect("rendered");
        assert_eq!(email.subject, "Custom EXMED-SA-2026-0042");
        assert!(
            email.text.contains("A new security advisory"),
            "{}",
            email.text
        );
        let hl7 = r.render(&n, "hl7-mllp").expect("rendered");
        assert_eq!(hl7.text, "Generic 2");
        assert!(hl7.subject.starts_with("[HIGH]"));
        let mut unknown = n.clone();
        unknown.event_kind = "product.end_of_support".into();
        assert!(r.render(&unknown, "email").is_none());
    }

    #[test]
    fn a_failing_override_falls_back_to_the_default() {
        // Compiles, but fails in strict mode for a restricted notice: as if saved unchecked.
        let r = Renderer::new(&[
            override_row(
                "advisory.published",
                "email",
                "subject",
                "{{details.title}}",
            ),
            override_row("advisory.published", "email", "text", "{{#if}"),
        ]);
        let m = r
            .render(&sample_notification("advisory.published", "AMBER"), "email")
            .expect("rendered");
        assert!(
            m.subject.starts_with("[TLP:AMBER] Security advisory"),
            "{}",
            m.subject
        );
        assert!(m.text.contains("not\nsent by email"), "{}", m.text);
    }

    #[test]
    fn overrides_are_validated() {
        let ok = validate_override(
            "advisory.updated",
            "email",
            "subject",
            "{{tracking_id}} {{#unless restricted}}{{details.title}}{{/unless}}",
        );
        assert_eq!(ok, Ok(()));
        let leak = validate_override(
            "advisory.published",
            "email",
            "html",
            "<b>{{details.title}}</b>",
        )
        .expect_err("details without a restricted guard");
        let msg = leak.to_string();
        assert!(msg.contains("advisory.published/email/html"), "{msg}");
        assert!(msg.contains("TLP:AMBER"), "{msg}");
        let syntax =
            validate_override("advisory.published", "email", "text", "{{#if restricted}}x")
                .expect_err("unclosed block");
        assert!(
            matches!(syntax, TemplateError::Compile { .. }),
            "{syntax:?}"
        );
        assert!(syntax.to_string().contains("advisory.published/email/text"));
        let typo = validate_override("advisory.published", "email", "text", "{{trackingid}}")
            .expect_err("unknown variable in strict mode");
        assert!(typo.to_string().contains("trackingid"), "{typo}");
        let first = validate_override(
            "advisory.published",
            "email",
            "text",
            "{{#unless restricted}}{{details.products.[0].name}}{{/unless}}",
        )
        .expect_err("no products in the sparse sample");
        assert!(first.to_string().contains("without severity"), "{first}");
        assert!(matches!(
            validate_override("advisory.retracted", "email", "text", "x"),
            Err(TemplateError::UnknownKind(_))
        ));
        assert!(matches!(
            validate_override("advisory.published", "email", "body", "x"),
            Err(TemplateError::UnknownPart(_))
        ));
        assert!(matches!(
            validate_override("advisory.published", "../x", "text", "x"),
            Err(TemplateError::InvalidChannel(_))
        ));
        assert!(matches!(
            validate_override(
                "advisory.published",
                "email",
                "subject",
                "{{! only a comment }}\n"
            ),
            Err(TemplateError::Render { .. })
        ));
    }

    /// Shows the defaults as a recipient sees them:
    /// `cargo test -p herald-delivery print_default_samples -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn print_default_samples() {
        let r = Renderer::new(&[]);
        for tlp in ["WHITE", "AMBER"] {
            for channel in ["email", "default"] {
                let m = r
                    .render(&sample_notification("advisory.updated", tlp), channel)
                    .expect("rendered");
                println!(
                    "==== {tlp} {channel}\nSubject: {}\n---- text\n{}---- html\n{}",
                    m.subject, m.text, m.html
                );
            }
        }
    }

    #[test]
    fn fingerprint_changes_with_content() {
        let a = [override_row("advisory.published", "email", "subject", "a")];
        let b = [override_row("advisory.published", "email", "subject", "b")];
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint(&a), Renderer::new(&a).fingerprint());
        assert_ne!(fingerprint(&[]), fingerprint(&a));
    }
}
