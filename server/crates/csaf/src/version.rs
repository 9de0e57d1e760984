//! The order of `/document/tracking/version` values. CSAF allows integer versioning (`1`, `2`,
//! ...) or semantic versioning, never both in one document's history (6.1.30); a revision must
//! have a higher version than the one it replaces. Storage checks revisions with this order and
//! authoring bumps versions by it, so the rule lives with the standard, not with either of them.

use std::cmp::Ordering;

/// Two versions that cannot be ordered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("version {version:?} is neither an integer nor semver: {reason}")]
    Unparsable { version: String, reason: String },
    #[error("versions {0:?} and {1:?} mix integer and semantic versioning")]
    MixedSchemes(String, String),
}

/// Compares two tracking versions the way CSAF orders them: both integer versioning or both
/// semantic versioning (precedence; build metadata ignored). Mixing the schemes is an error.
pub fn compare_versions(a: &str, b: &str) -> Result<Ordering, VersionError> {
    fn is_int(s: &str) -> bool {
        !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
    }
    fn semver(v: &str) -> Result<semver::Version, VersionError> {
        semver::Version::parse(v).map_err(|e| VersionError::Unparsable {
            version: v.to_owned(),
            reason: e.to_string(),
        })
    }
    match (is_int(a), is_int(b)) {
        (true, true) => {
            // Compare as digit strings without overflow: strip leading zeros, then length, then text.
            let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
            Ok(a.len().cmp(&b.len()).then_with(|| a.cmp(b)))
        }
        (false, false) => Ok(semver(a)?.cmp_precedence(&semver(b)?)),
        _ => Err(VersionError::MixedSchemes(a.to_owned(), b.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_compare_by_value_without_overflow() {
        assert_eq!(compare_versions("10", "9"), Ok(Ordering::Greater));
        assert_eq!(compare_versions("007", "7"), Ok(Ordering::Equal));
        let huge = "9".repeat(40);
        assert_eq!(compare_versions(&huge, "1"), Ok(Ordering::Greater));
    }

    #[test]
    fn semver_ignores_build_metadata_and_orders_prereleases_first() {
        assert_eq!(compare_versions("1.0.0+a", "1.0.0+b"), Ok(Ordering::Equal));
        assert_eq!(compare_versions("1.0.0-rc.1", "1.0.0"), Ok(Ordering::Less));
    }

    #[test]
    fn mixed_or_unparsable_versions_are_errors() {
        assert!(matches!(
            compare_versions("1", "1.0.0"),
            Err(VersionError::MixedSchemes(..))
        ));
        assert!(matches!(
            compare_versions("1.0", "1.0.0"),
            Err(VersionError::Unparsable { .. })
        ));
    }
}
