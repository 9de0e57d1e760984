//! Email channel: one multipart/alternative (text + HTML) mail per notification, sent by the
//! host through the destination's SMTP relay (`smtp` capability; this plugin never sees the
//! relay password).
//!
//! - `Message-ID: <delivery-id@herald>`: the same on every retry, so a retried mail that did
//!   arrive the first time is recognisable as the same message.
//! - Revisions thread under the previous mail: `In-Reply-To` and `References` carry the
//!   message id of the previous successful delivery (`previous_receipt.remote_id`).
//! - `Auto-Submitted: auto-generated` (RFC 3834) keeps auto-responders quiet.
//! - Routine notices carry `List-Unsubscribe` (RFC 2369) and `List-Unsubscribe-Post:
//!   List-Unsubscribe=One-Click` (RFC 8058); mandatory ones (critical/high severity, or a
//!   destination of designated security contacts) cannot be opted out of and carry neither.
//! - Subject, text and HTML are Herald's rendered templates (`notification.rendered`: the
//!   manufacturer's overrides or the compiled-in defaults, HTML-escaped by the template engine),
//!   sent as they are; only the unsubscribe footer of routine notices is appended here, because
//!   the unsubscribe URL is the destination's. A notification without rendered templates (an
//!   event kind without templates) is composed here the same way.
//! - TLP:GREEN, AMBER and RED content never goes into mail: Herald renders such a notice from a
//!   summary (tracking id, version, severity) and the portal link only, and the fallback here
//!   does the same.

use herald_plugin_sdk::config::{field, field_error};
use herald_plugin_sdk::{
    Channel, ConfigError, ConfigFieldKind, DeliveryError, Notification, PluginInfo, Problems,
    Receipt, RenderedMessage, log, now_millis, smtp,
};
use serde::Deserialize;
use std::fmt::Write as _;

const ID: &str = "email";
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Recipients (the hospital's security contacts).
    to: Vec<String>,
    /// Relay settings, read and enforced by the host; checked here so the portal can show
    /// problems early.
    smtp: RelaySettings,
    /// HTTPS URL that unsubscribes on a POST with no landing page (RFC 8058). Optional: Herald
    /// gives every notification its own signed one-click URL (`unsubscribe-url`), used when
    /// this is not set (a hospital that runs its own list manager sets this instead).
    #[serde(default)]
    unsubscribe_url: Option<String>,
    /// Optional `mailto:` alternative for List-Unsubscribe.
    #[serde(default)]
    unsubscribe_mailto: Option<String>,
    /// The recipients are designated security contacts: every notice is mandatory.
    #[serde(default)]
    mandatory: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read by the host; parsed here only to check it
struct RelaySettings {
    host: String,
    #[serde(default)]
    port: Option<u16>,
    tls: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password_secret: Option<String>,
    from: String,
}

fn plausible_address(a: &str) -> bool {
    let a = a.trim();
    let addr = match (a.rfind('<'), a.ends_with('>')) {
        (Some(i), true) => &a[i + 1..a.len() - 1],
        _ => a,
    };
    match addr.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !addr.contains([' ', '\r', '\n', ',', ';'])
        }
        None => false,
    }
}

impl Problems for Config {
    fn problems(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let mut err = |field: &str, message: String| errors.push(field_error(field, message));
        if self.to.is_empty() {
            err("to", "at least one recipient is required".into());
        }
        for a in &self.to {
            if !plausible_address(a) {
                err("to", format!("{a:?} is not an email address"));
            }
        }
        if self.smtp.host.trim().is_empty() {
            err("smtp", "smtp.host is empty".into());
        }
        if !matches!(self.smtp.tls.as_str(), "starttls" | "tls") {
            err(
                "smtp",
                format!(
                    "smtp.tls {:?} must be \"starttls\" or \"tls\" (there is no plain-text mode)",
                    self.smtp.tls
                ),
            );
        }
        if self.smtp.username.is_some() != self.smtp.password_secret.is_some() {
            err(
                "smtp",
                "smtp.username and smtp.password_secret go together".into(),
            );
        }
        if !plausible_address(&self.smtp.from) {
            err(
                "smtp",
                format!("smtp.from {:?} is not an email address", self.smtp.from),
            );
        }
        if let Some(url) = &self.unsubscribe_url
            && (!url.starts_with("https://") || url.contains(['<', '>', ' ', ',']))
        {
            err(
                "unsubscribe_url",
                format!("{url:?} must be an https:// URL (RFC 8058 one-click)"),
            );
        }
        if let Some(m) = &self.unsubscribe_mailto
            && (!m.starts_with("mailto:") || m.contains(['<', '>', ' ', ',']))
        {
            err("unsubscribe_mailto", format!("{m:?} must be a mailto: URI"));
        }
        errors
    }
}

/// `<id@herald>` with any character a msg-id may not hold replaced.
fn message_id(delivery_id: &str) -> String {
    let local: String = delivery_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("<{local}@herald>")
}

/// Escape text for HTML element content and attribute values.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One line of header text: line breaks become spaces.
fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Everything but no label, WHITE and CLEAR keeps the details out of mail (as Herald's
/// template context does).
fn restricted(tlp: &str) -> bool {
    let tlp = tlp.trim().to_ascii_uppercase();
    let tlp = tlp.strip_prefix("TLP:").unwrap_or(&tlp);
    !(tlp.is_empty() || tlp == "WHITE" || tlp == "CLEAR")
}

/// Herald's rendered templates with the unsubscribe footer of a routine notice appended (to the
/// text, and inside the HTML body).
fn from_rendered(r: &RenderedMessage, unsubscribe: Option<&str>) -> Composed {
    let mut text = r.text.clone();
    let mut html = r.html.clone();
    if let Some(url) = unsubscribe {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let _ = writeln!(text, "Unsubscribe from routine notices: {url}");
        let footer = format!(
            "<p style=\"font-size: 12px;\"><a href=\"{}\">Unsubscribe from routine notices</a></p>\n",
            html_escape(url)
        );
        match html.rfind("</body>") {
            Some(i) => html.insert_str(i, &footer),
            None => html.push_str(&footer),
        }
    }
    Composed {
        subject: one_line(&r.subject),
        text,
        html,
    }
}

fn mandatory(config: &Config, n: &Notification) -> bool {
    config.mandatory
        || matches!(
            n.severity
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("critical" | "high")
        )
}

fn event_word(n: &Notification) -> &'static str {
    if n.event_kind.ends_with(".updated") || n.previous_receipt.is_some() {
        "updated"
    } else {
        "published"
    }
}

/// Subject, text body and HTML body of a notification.
struct Composed {
    subject: String,
    text: String,
    html: String,
}

fn compose(n: &Notification, unsubscribe: Option<&str>) -> Composed {
    let word = event_word(n);
    let mut text = String::new();
    let mut html =
        String::from("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n");
    let e = html_escape;
    let subject;
    if restricted(&n.tlp) {
        let tlp = n.tlp.to_ascii_uppercase();
        subject = one_line(&format!(
            "[TLP:{tlp}] Security advisory {} {word} (version {})",
            n.tracking_id, n.version
        ));
        let _ = write!(
            text,
            "A security advisory labelled TLP:{tlp} was {word} for products you use.\n\
             Its content is not sent by email. Read it in the portal (sign-in required):\n\n\
             {}\n\nAdvisory: {}, version {}\n",
            n.portal_url, n.tracking_id, n.version
        );
        let _ = write!(
            html,
            "<p>A security advisory labelled <strong>TLP:{}</strong> was {word} for products \
             you use.</p>\n<p>Its content is not sent by email. Read it in the portal \
             (sign-in required):<br>\n<a href=\"{}\">{}</a></p>\n<p>Advisory: {}, version {}</p>\n",
            e(&tlp),
            e(&n.portal_url),
            e(&n.portal_url),
            e(&n.tracking_id),
            e(&n.version)
        );
    } else {
        let severity = n
            .severity
            .as_deref()
            .map(str::to_ascii_uppercase)
            .unwrap_or_else(|| "UNRATED".into());
        let prefix = if word == "updated" { "Updated: " } else { "" };
        subject = one_line(&format!(
            "{prefix}[{severity}] {} v{}: {}",
            n.tracking_id, n.version, n.title
        ));
        let cvss = n
            .cvss_score
            .map(|s| format!(" (CVSS {s:.1})"))
            .unwrap_or_default();
        let _ = write!(
            text,
            "{}\n\nAdvisory: {}, version {} ({word})\nSeverity: {severity}{cvss}\n",
            n.title, n.tracking_id, n.version
        );
        let _ = write!(
            html,
            "<h1>{}</h1>\n<table>\n<tr><th align=\"left\">Advisory</th><td>{}, version {} ({word})</td></tr>\n\
             <tr><th align=\"left\">Severity</th><td>{}{}</td></tr>\n",
            e(&n.title),
            e(&n.tracking_id),
            e(&n.version),
            e(&severity),
            e(&cvss)
        );
        if !n.cves.is_empty() {
            let cves = n.cves.join(", ");
            let _ = writeln!(text, "CVEs: {cves}");
            let _ = writeln!(
                html,
                "<tr><th align=\"left\">CVEs</th><td>{}</td></tr>",
                e(&cves)
            );
        }
        let _ = write!(
            text,
            "First published: {}\nThis version: {}\n",
            n.initial_release_date, n.current_release_date
        );
        let _ = write!(
            html,
            "<tr><th align=\"left\">First published</th><td>{}</td></tr>\n\
             <tr><th align=\"left\">This version</th><td>{}</td></tr>\n</table>\n",
            e(&n.initial_release_date),
            e(&n.current_release_date)
        );
        if !n.products.is_empty() {
            text.push_str("\nAffected products:\n");
            html.push_str("<h2>Affected products</h2>\n<ul>\n");
            for p in &n.products {
                let mut line = p.name.clone();
                if let Some(v) = &p.version {
                    let _ = write!(line, " {v}");
                }
                if let Some(udi) = &p.udi_di {
                    let _ = write!(line, " (UDI-DI {udi})");
                }
                let _ = writeln!(text, "  - {line}");
                let _ = writeln!(html, "<li>{}</li>", e(&line));
            }
            html.push_str("</ul>\n");
        }
        if !n.summary.is_empty() {
            let _ = write!(text, "\nSummary:\n{}\n", n.summary);
            let _ = write!(
                html,
                "<h2>Summary</h2>\n<p>{}</p>\n",
                e(&n.summary).replace('\n', "<br>\n")
            );
        }
        let _ = write!(
            text,
            "\nDetails: {}\nCSAF document: {}\n",
            n.portal_url, n.csaf_url
        );
        let _ = write!(
            html,
            "<p>Details: <a href=\"{}\">{}</a><br>\nCSAF document: <a href=\"{}\">{}</a></p>\n",
            e(&n.portal_url),
            e(&n.portal_url),
            e(&n.csaf_url),
            e(&n.csaf_url)
        );
    }
    text.push_str("\n-- \nThis message was sent automatically by Herald; replies are not read.\n");
    html.push_str(
        "<hr>\n<p><small>This message was sent automatically by Herald; replies are not read.",
    );
    if let Some(url) = unsubscribe {
        let _ = writeln!(text, "Unsubscribe from routine notices: {url}");
        let _ = write!(
            html,
            "<br>\n<a href=\"{}\">Unsubscribe from routine notices</a>",
            e(url)
        );
    }
    html.push_str("</small></p>\n</body></html>\n");
    Composed {
        subject,
        text,
        html,
    }
}

/// The extra headers of a notification mail.
/// The one-click unsubscribe URL of a routine notice: the destination's own, else Herald's.
fn unsubscribe_url<'a>(config: &'a Config, n: &'a Notification) -> Option<&'a str> {
    config
        .unsubscribe_url
        .as_deref()
        .or(n.unsubscribe_url.as_deref())
        .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
        .filter(|url| !url.contains(['<', '>', ' ', ',', '\r', '\n']))
}

fn headers(config: &Config, n: &Notification, routine: bool) -> Vec<(String, String)> {
    let mut h = vec![("Auto-Submitted".to_string(), "auto-generated".to_string())];
    if let Some(previous) = n
        .previous_receipt
        .as_ref()
        .and_then(|r| r.remote_id.as_deref())
        .filter(|id| id.starts_with('<') && id.ends_with('>') && !id.contains(['\r', '\n']))
    {
        h.push(("In-Reply-To".into(), previous.to_string()));
        h.push(("References".into(), previous.to_string()));
    }
    if routine && let Some(url) = unsubscribe_url(config, n) {
        let mut value = format!("<{url}>");
        if let Some(mailto) = &config.unsubscribe_mailto {
            let _ = write!(value, ", <{mailto}>");
        }
        h.push(("List-Unsubscribe".into(), value));
        h.push((
            "List-Unsubscribe-Post".into(),
            "List-Unsubscribe=One-Click".into(),
        ));
    }
    h
}

fn send(message: smtp::Message) -> Result<Receipt, DeliveryError> {
    let id = message.message_id.clone();
    let reply = smtp::send(&message)?;
    log::debug(&format!("relay accepted the mail: {reply}"));
    Ok(Receipt {
        remote_id: id,
        detail: format!("SMTP {reply}"),
    })
}

struct Email;

impl Channel for Email {
    fn describe() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: VERSION.into(),
            display_name: "Email (SMTP, text + HTML)".into(),
            config_fields: vec![
                field(
                    "to",
                    ConfigFieldKind::EmailList,
                    true,
                    "Recipients: the hospital's security contacts.",
                ),
                field(
                    "smtp",
                    ConfigFieldKind::Text,
                    true,
                    "Relay: {host, port, tls: starttls|tls, username, password_secret, from}; \
                     the destination must also be granted smtp.",
                ),
                field(
                    "unsubscribe_url",
                    ConfigFieldKind::Url,
                    false,
                    "HTTPS one-click unsubscribe URL for routine notices; by default Herald's \
                     own signed URL for this destination.",
                ),
                field(
                    "unsubscribe_mailto",
                    ConfigFieldKind::Text,
                    false,
                    "Optional mailto: alternative for List-Unsubscribe.",
                ),
                field(
                    "mandatory",
                    ConfigFieldKind::Text,
                    false,
                    "true for designated security contacts: no notice can be opted out of.",
                ),
            ],
        }
    }

    fn validate_config(config: String) -> Result<(), Vec<ConfigError>> {
        Config::validate_config(&config)
    }

    fn deliver(config: String, n: Notification) -> Result<Receipt, DeliveryError> {
        let config = Config::checked(&config)?;
        let routine = !mandatory(&config, &n);
        let unsubscribe = if routine {
            unsubscribe_url(&config, &n)
        } else {
            None
        };
        let composed = match &n.rendered {
            Some(r) => from_rendered(r, unsubscribe),
            None => compose(&n, unsubscribe),
        };
        send(smtp::Message {
            to: config.to.clone(),
            subject: composed.subject,
            text_body: composed.text,
            html_body: Some(composed.html),
            message_id: Some(message_id(&n.delivery_id)),
            headers: headers(&config, &n, routine),
        })
    }

    fn test(config: String) -> Result<Receipt, DeliveryError> {
        let config = Config::checked(&config)?;
        let text = "Test message from Herald: this destination can receive security notices.\n";
        send(smtp::Message {
            to: config.to.clone(),
            subject: "Herald test message".into(),
            text_body: text.into(),
            html_body: Some(format!("<p>{}</p>", html_escape(text.trim()))),
            message_id: Some(message_id(&format!("herald-test-{}", now_millis()))),
            headers: vec![("Auto-Submitted".into(), "auto-generated".into())],
        })
    }
}

herald_plugin_sdk::export_channel!(Email);

#[cfg(test)]
mod tests {
    use super::*;
    use herald_plugin_sdk::NotifiedProduct;

    fn notification(tlp: &str) -> Notification {
        Notification {
            delivery_id: "dlv 1".into(),
            event_kind: "advisory.published".into(),
            tracking_id: "EXMED-SA-2026-0007".into(),
            version: "1".into(),
            title: "Pump <script>alert(1)</script> & co".into(),
            severity: Some("medium".into()),
            cvss_score: Some(5.0),
            cves: vec!["CVE-2026-1".into()],
            products: vec![NotifiedProduct {
                product_id: "P1".into(),
                name: "InfuCare".into(),
                version: Some("4.2".into()),
                udi_di: Some("0401".into()),
                cpe: None,
                purl: None,
            }],
            initial_release_date: "2026-11-01".into(),
            current_release_date: "2026-11-01".into(),
            tlp: tlp.into(),
            summary: "Secret detail".into(),
            portal_url: "https://portal.test/a".into(),
            csaf_url: "https://portal.test/a.json".into(),
            previous_receipt: None,
            attempt: 1,
            rendered: None,
            unsubscribe_url: None,
        }
    }

    #[test]
    fn escapes_html_and_keeps_amber_out() {
        let c = compose(&notification("WHITE"), Some("https://u.test/x"));
        assert!(
            c.html
                .contains("Pump &lt;script&gt;alert(1)&lt;/script&gt; &amp; co")
        );
        assert!(!c.html.contains("<script>"));
        assert!(c.text.contains("Pump <script>alert(1)</script> & co"));
        let amber = compose(&notification("AMBER"), None);
        for part in [&amber.subject, &amber.text, &amber.html] {
            assert!(
                !part.contains("Pump") && !part.contains("Secret detail"),
                "{part}"
            );
            assert!(
                !part.contains("CVE-2026-1") && !part.contains("InfuCare"),
                "{part}"
            );
        }
        assert!(amber.text.contains("https://portal.test/a"));
        let green = compose(&notification("GREEN"), None);
        assert!(!green.text.contains("Secret detail") && !green.subject.contains("Pump"));
        assert!(!restricted("") && !restricted("WHITE") && !restricted("TLP:CLEAR"));
        assert_eq!(message_id("dlv 1"), "<dlv_1@herald>");
    }

    #[test]
    fn rendered_templates_are_sent_with_the_unsubscribe_footer() {
        let r = RenderedMessage {
            subject: "Subject\r\nBcc: x@y.z".into(),
            text: "Body".into(),
            html: "<html><body><p>Body</p></body></html>".into(),
        };
        let c = from_rendered(&r, Some("https://u.test/x?a=1&b=2"));
        assert_eq!(c.subject, "Subject Bcc: x@y.z");
        assert_eq!(
            c.text,
            "Body\nUnsubscribe from routine notices: https://u.test/x?a=1&b=2\n"
        );
        assert!(
            c.html.ends_with("https://u.test/x?a=1&amp;b=2\">Unsubscribe from routine notices</a></p>\n</body></html>"),
            "{}",
            c.html
        );
        let mandatory = from_rendered(&r, None);
        assert_eq!(mandatory.text, "Body");
        assert_eq!(mandatory.html, r.html);
    }
}
