//! Small building blocks shared by the pages: URL helpers (the one place that turns a tracking
//! id into a portal path, and that decides which URLs from an advisory may become links), the
//! severity badge and the error box.

use leptos::prelude::*;

/// Portal path of an advisory's page. Tracking ids are free text in CSAF, so everything outside
/// the URL-safe characters is percent-encoded.
pub fn advisory_path(tracking_id: &str) -> String {
    let mut path = String::from("/advisories/");
    for byte in tracking_id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            path.push(char::from(byte));
        } else {
            path.push_str(&format!("%{byte:02X}"));
        }
    }
    path
}

/// Path of the sign-in page with its optional `error`, support `reference` and `next` page.
#[cfg_attr(not(feature = "ssr"), allow(dead_code))]
pub fn login_path(error: Option<&str>, reference: Option<&str>, next: Option<&str>) -> String {
    let mut params = Vec::new();
    for (key, value) in [("error", error), ("ref", reference), ("next", next)] {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            params.push(format!("{key}={}", query_escape(value)));
        }
    }
    if params.is_empty() {
        "/login".to_string()
    } else {
        format!("/login?{}", params.join("&"))
    }
}

#[cfg_attr(not(feature = "ssr"), allow(dead_code))]
fn query_escape(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `path` if it stays on this site (starts with one `/`), so a crafted `next` parameter cannot
/// send a user who just signed in to someone else's site.
pub fn local_path(path: &str) -> Option<&str> {
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control);
    local.then_some(path)
}

/// `url` if it is safe to put in an `href`: only http(s) links and local paths. Anything else
/// in an advisory (say `javascript:`) is shown as text instead.
pub fn safe_href(url: &str) -> Option<String> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        Some(url.to_string())
    } else {
        local_path(url).map(str::to_string)
    }
}

/// A link when the URL is safe, the URL as plain text otherwise.
#[component]
pub fn ExternalLink(url: String, #[prop(optional, into)] label: Option<String>) -> impl IntoView {
    let text = label
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| url.clone());
    match safe_href(&url) {
        Some(href) => view! { <a href=href rel="noopener noreferrer">{text}</a> }.into_any(),
        None => {
            view! { <span class="unsafe-url">{text} " (" <code>{url}</code> ")"</span> }.into_any()
        }
    }
}

/// Known severity classes; anything else renders as "unknown" so the CSS class is never
/// taken from advisory text.
fn severity_key(severity: Option<&str>) -> &'static str {
    match severity.map(str::to_ascii_lowercase).as_deref() {
        Some("critical") => "critical",
        Some("high") => "high",
        Some("medium") => "medium",
        Some("low") => "low",
        Some("none") => "none",
        _ => "unknown",
    }
}

fn severity_label(key: &str) -> &'static str {
    match key {
        "critical" => "Critical",
        "high" => "High",
        "medium" => "Medium",
        "low" => "Low",
        "none" => "None",
        _ => "Not rated",
    }
}

/// Coloured badge that always carries its text label, so colour is never the only signal.
#[component]
pub fn SeverityBadge(severity: Option<String>) -> impl IntoView {
    let key = severity_key(severity.as_deref());
    view! {
        <span class=format!("severity severity-{key}") data-severity=key>
            {severity_label(key)}
        </span>
    }
}

/// CVSS base score with one decimal, or a dash.
pub fn score_text(score: Option<f64>) -> String {
    score.map_or_else(|| "–".to_string(), |s| format!("{s:.1}"))
}

/// The message a server function failed with, as the user may read it.
pub fn error_text(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message.clone(),
        _ => "The portal could not be reached. Check your connection and try again.".to_string(),
    }
}

#[component]
pub fn ErrorBox(error: ServerFnError) -> impl IntoView {
    view! {
        <div class="notice notice-error" role="alert">
            <p>{error_text(&error)}</p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advisory_path_encodes_what_is_not_url_safe() {
        assert_eq!(advisory_path("ACME-2026-001"), "/advisories/ACME-2026-001");
        assert_eq!(advisory_path("a b/c?d"), "/advisories/a%20b%2Fc%3Fd");
        assert_eq!(advisory_path("ü"), "/advisories/%C3%BC");
    }

    #[test]
    fn only_local_paths_are_redirect_targets() {
        assert_eq!(local_path("/advisories?q=x"), Some("/advisories?q=x"));
        assert_eq!(local_path("//evil.example/"), None);
        assert_eq!(local_path("https://evil.example/"), None);
        assert_eq!(local_path("/\\evil.example"), None);
    }

    #[test]
    fn script_urls_never_become_links() {
        assert_eq!(safe_href("javascript:alert(1)"), None);
        assert_eq!(safe_href(" JavaScript:alert(1)"), None);
        assert_eq!(safe_href("data:text/html,x"), None);
        assert_eq!(
            safe_href("https://example.com/a").as_deref(),
            Some("https://example.com/a")
        );
        assert_eq!(
            safe_href("/.well-known/csaf/x.json").as_deref(),
            Some("/.well-known/csaf/x.json")
        );
    }

    #[test]
    fn login_path_escapes_its_parameters() {
        assert_eq!(login_path(None, None, None), "/login");
        assert_eq!(
            login_path(Some("credentials"), None, Some("/advisories/A B")),
            "/login?error=credentials&next=/advisories/A%20B"
        );
    }

    #[test]
    fn unknown_severity_does_not_become_a_class() {
        assert_eq!(severity_key(Some("CRITICAL")), "critical");
        assert_eq!(severity_key(Some("x\" onclick=\"y")), "unknown");
        assert_eq!(severity_key(None), "unknown");
    }
}
