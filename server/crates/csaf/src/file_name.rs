//! CSAF 2.0 section 5.1 file names and the distribution path below `/.well-known/csaf/`.
//!
//! This module is the one place in Herald that turns a tracking id into a file name: the provider
//! checker (requirement 2) compares byte for byte, so two slightly different copies of the rule
//! would publish documents under names a consumer cannot find.

use crate::summary::Tlp;

/// The section 5.1 file name of a document: lower case, every run of characters outside
/// `[+\-a-z0-9]` replaced by a single `_`, then `.json`.
///
/// Lower-casing happens first (the spec orders it so), which is why `A+B` becomes `a+b.json`
/// and non-ASCII letters end up as `_` even when they have a lower-case form.
pub fn file_name(tracking_id: &str) -> String {
    let mut out = String::with_capacity(tracking_id.len() + 5);
    let mut in_run = false;
    for c in tracking_id.to_lowercase().chars() {
        if matches!(c, '+' | '-' | 'a'..='z' | '0'..='9') {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out.push_str(".json");
    out
}

/// The directory name for a TLP label in Herald's distribution layout.
pub fn tlp_dir(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::White => "white",
        Tlp::Green => "green",
        Tlp::Amber => "amber",
        Tlp::Red => "red",
    }
}

/// Path of a document relative to `/.well-known/csaf/`, e.g. `white/2024/icsma-24-151-01.json`.
///
/// `year` is the year of the initial release date (section 7.1.11): a document never moves when it
/// is updated.
pub fn document_path(tlp: Tlp, year: i32, tracking_id: &str) -> String {
    format!("{}/{year}/{}", tlp_dir(tlp), file_name(tracking_id))
}
