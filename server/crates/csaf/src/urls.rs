//! Absolute URLs Herald publishes for an advisory: its portal page and its distributed CSAF
//! document. Notifications, API answers and feeds all build them here so they cannot disagree.
//! (The browser bundle keeps a twin of [`advisory_page_path`] in `app::advisory_path`, because
//! it cannot link this crate; a server test checks the two agree.)

/// `/advisories/<tracking id>`, the id percent-encoded as one path segment (RFC 3986 unreserved
/// characters kept).
pub fn advisory_page_path(tracking_id: &str) -> String {
    let mut path = String::from("/advisories/");
    for b in tracking_id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            path.push(char::from(b));
        } else {
            path.push_str(&format!("%{b:02X}"));
        }
    }
    path
}

/// The portal page of an advisory; `base_url` without a trailing slash.
pub fn advisory_page_url(base_url: &str, tracking_id: &str) -> String {
    format!("{base_url}{}", advisory_page_path(tracking_id))
}

/// A destination's one-click unsubscribe URL (RFC 8058); `token` is the destination's signed
/// token (hex), so both parts are URL-safe as they are. Served by the web layer's
/// `/unsubscribe/{destination}/{token}`.
pub fn unsubscribe_url(base_url: &str, destination_id: &str, token: &str) -> String {
    format!("{base_url}/unsubscribe/{destination_id}/{token}")
}

/// The distributed document at `path` (from [`crate::document_path`]).
pub fn csaf_document_url(base_url: &str, path: &str) -> String {
    format!("{base_url}/.well-known/csaf/{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_one_encoded_segment() {
        assert_eq!(
            advisory_page_path("LARK-2026-001"),
            "/advisories/LARK-2026-001"
        );
        assert_eq!(advisory_page_path("a/b c"), "/advisories/a%2Fb%20c");
        assert_eq!(
            advisory_page_path("RHSA-2021:5217"),
            "/advisories/RHSA-2021%3A5217"
        );
        assert_eq!(
            advisory_page_url("https://h.example", "x y"),
            "https://h.example/advisories/x%20y"
        );
        assert_eq!(
            csaf_document_url("https://h.example", "white/2024/a.json"),
            "https://h.example/.well-known/csaf/white/2024/a.json"
        );
    }
}
