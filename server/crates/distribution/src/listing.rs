//! Server-generated HTML directory listings of the TLP directories (CSAF 7.1.14): plain HTML with
//! one `<a>` per entry, no script, every name and href escaped.

use std::collections::BTreeSet;

use herald_csaf::DocumentEntry;
use herald_csaf::Tlp;

use crate::DistributionError;
use crate::layout::{
    CHANGES_CSV, INDEX_TXT, Sidecar, category_file_name, feed_file_name, path_in_tlp_dir,
    require_distributed,
};

/// One line of a listing: the name shown and the (relative) link target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingEntry {
    pub name: String,
    pub href: String,
}

impl ListingEntry {
    fn same(name: impl Into<String>) -> ListingEntry {
        let name = name.into();
        ListingEntry {
            href: name.clone(),
            name,
        }
    }
}

/// An HTML page titled `title` listing `entries` in the given order, with a link to the parent
/// directory first.
pub fn directory_listing_html(title: &str, entries: &[ListingEntry]) -> String {
    use html_escape::{encode_double_quoted_attribute, encode_text};
    let title = encode_text(title);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n<ul>\n<li><a href=\"../\">../</a></li>\n"
    );
    for e in entries {
        out.push_str(&format!(
            "<li><a href=\"{}\">{}</a></li>\n",
            encode_double_quoted_attribute(&e.href),
            encode_text(&e.name)
        ));
    }
    out.push_str("</ul>\n</body>\n</html>\n");
    out
}

/// What `/.well-known/csaf/<tlp>/` lists: index.txt, changes.csv, the feed, the category document
/// and one `YYYY/` folder per year that holds a document.
pub fn tlp_directory_entries(
    tlp: Tlp,
    entries: &[DocumentEntry],
) -> Result<Vec<ListingEntry>, DistributionError> {
    require_distributed(tlp)?;
    let mut years = BTreeSet::new();
    for e in entries {
        let rel = path_in_tlp_dir(tlp, &e.path)?;
        if let Some((year, _)) = rel.split_once('/') {
            years.insert(year.to_string());
        }
    }
    let mut out = vec![
        ListingEntry::same(CHANGES_CSV),
        ListingEntry::same(category_file_name(tlp)),
        ListingEntry::same(feed_file_name(tlp)),
        ListingEntry::same(INDEX_TXT),
    ];
    out.extend(
        years
            .into_iter()
            .map(|y| ListingEntry::same(format!("{y}/"))),
    );
    Ok(out)
}

/// What `/.well-known/csaf/<tlp>/<year>/` lists: each document of that year with its `.sha256`,
/// `.sha512` and (when signed) `.asc`, sorted by name. Empty when the year holds nothing (the
/// server answers 404 then).
pub fn year_directory_entries(
    tlp: Tlp,
    year: i32,
    entries: &[DocumentEntry],
) -> Result<Vec<ListingEntry>, DistributionError> {
    require_distributed(tlp)?;
    let prefix = format!("{year}/");
    let mut docs = Vec::new();
    for e in entries {
        if let Some(name) = path_in_tlp_dir(tlp, &e.path)?.strip_prefix(&prefix) {
            docs.push((name.to_string(), e.signed));
        }
    }
    docs.sort();
    let mut out = Vec::new();
    for (name, signed) in docs {
        out.push(ListingEntry::same(name.clone()));
        for kind in Sidecar::ALL {
            if kind != Sidecar::Signature || signed {
                out.push(ListingEntry::same(format!("{name}{}", kind.extension())));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};

    use super::*;

    fn entry(path: &str, signed: bool) -> DocumentEntry {
        let t = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        DocumentEntry {
            tracking_id: "X".into(),
            title: "t".into(),
            version: "1".into(),
            path: path.into(),
            initial_release_date: t,
            current_release_date: t,
            sha256: String::new(),
            sha512: String::new(),
            signed,
            severity: None,
            summary: None,
        }
    }

    #[test]
    fn listing_html_exact() {
        let html = directory_listing_html(
            "Index of /.well-known/csaf/white/",
            &[ListingEntry::same("index.txt"), ListingEntry::same("2024/")],
        );
        assert_eq!(
            html,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>Index of /.well-known/csaf/white/</title>\n</head>\n<body>\n\
             <h1>Index of /.well-known/csaf/white/</h1>\n<ul>\n\
             <li><a href=\"../\">../</a></li>\n\
             <li><a href=\"index.txt\">index.txt</a></li>\n\
             <li><a href=\"2024/\">2024/</a></li>\n\
             </ul>\n</body>\n</html>\n"
        );
    }

    #[test]
    fn listing_html_escapes_hostile_names() {
        let html = directory_listing_html(
            "<b>x</b>",
            &[ListingEntry {
                name: "<script>alert(1)</script>".into(),
                href: "\"><script>alert(2)</script>".into(),
            }],
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(
            html.contains("<title>&lt;b&gt;x&lt;/b&gt;</title>"),
            "{html}"
        );
        assert!(
            html.contains(
                "<li><a href=\"&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;\">&lt;script&gt;alert(1)&lt;/script&gt;</a></li>"
            ),
            "{html}"
        );
    }

    #[test]
    fn tlp_and_year_entries() {
        let entries = vec![
            entry("green/2025/b.json", false),
            entry("green/2024/z.json", true),
            entry("green/2024/a.json", true),
        ];
        let names = |v: Vec<ListingEntry>| v.into_iter().map(|e| e.name).collect::<Vec<_>>();
        assert_eq!(
            names(tlp_directory_entries(Tlp::Green, &entries).unwrap()),
            [
                "changes.csv",
                "category-tlp-green.json",
                "feed-tlp-green.json",
                "index.txt",
                "2024/",
                "2025/"
            ]
        );
        assert_eq!(
            names(year_directory_entries(Tlp::Green, 2024, &entries).unwrap()),
            [
                "a.json",
                "a.json.sha256",
                "a.json.sha512",
                "a.json.asc",
                "z.json",
                "z.json.sha256",
                "z.json.sha512",
                "z.json.asc"
            ]
        );
        assert_eq!(
            names(year_directory_entries(Tlp::Green, 2025, &entries).unwrap()),
            ["b.json", "b.json.sha256", "b.json.sha512"]
        );
        assert!(
            year_directory_entries(Tlp::Green, 2023, &entries)
                .unwrap()
                .is_empty()
        );
        assert!(tlp_directory_entries(Tlp::White, &entries).is_err());
        assert!(tlp_directory_entries(Tlp::Red, &[]).is_err());
    }
}
