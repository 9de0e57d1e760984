//! Herald's tracking data of a published document: the version, the revision history and
//! strictly increasing release dates of a first publication ([`first_revision`]) and of every
//! later revision ([`next_revision`]), whether the revision comes from the authoring form or
//! from a release that fixes the advisory ([`crate::remediation`]). Pure: the caller passes the
//! time.

use chrono::{DateTime, Duration, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::authoring::DraftError;

/// `/document/tracking/status` of a published document.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TrackingStatus {
    Interim,
    #[default]
    Final,
}

impl TrackingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Interim => "interim",
            Self::Final => "final",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RevisionEntry {
    pub number: String,
    pub date: DateTime<Utc>,
    pub summary: String,
}

/// `/document/tracking` of the document to build; Herald computes it ([`first_revision`],
/// [`next_revision`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrackingInput {
    pub id: String,
    pub version: String,
    /// Oldest first; the last entry's number is `version`.
    pub revision_history: Vec<RevisionEntry>,
    pub initial_release_date: DateTime<Utc>,
    pub current_release_date: DateTime<Utc>,
    pub status: TrackingStatus,
    /// Where the document will be served: written as the `self` reference (test 6.2.11).
    pub canonical_url: Option<String>,
}

/// RFC 3339 in UTC with whole seconds, as every date Herald writes into a document.
pub(crate) fn date_text(d: DateTime<Utc>) -> String {
    d.trunc_subsecs(0)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The tracking of a new advisory's first publication: version `1`, one revision.
pub fn first_revision(id: &str, now: DateTime<Utc>, summary: &str) -> TrackingInput {
    let now = now.trunc_subsecs(0);
    let summary = match summary.trim() {
        "" => "Initial release",
        s => s,
    };
    TrackingInput {
        id: id.to_string(),
        version: "1".into(),
        revision_history: vec![RevisionEntry {
            number: "1".into(),
            date: now,
            summary: summary.to_string(),
        }],
        initial_release_date: now,
        current_release_date: now,
        status: TrackingStatus::Final,
        canonical_url: None,
    }
}

/// The tracking of the next revision after `previous` (a published document's tracking): the
/// version bumped in the style the document already uses (integer `n` → `n+1`, semver
/// `x.y.z` → `x.(y+1).0`), a revision-history entry appended, and a release date strictly after
/// every earlier one (`now`, or one second after the previous current release when the clock
/// is not past it). Errors when the previous version is neither style.
pub fn next_revision(
    previous: &TrackingInput,
    now: DateTime<Utc>,
    summary: &str,
) -> Result<TrackingInput, DraftError> {
    let version = bump_version(&previous.version).ok_or_else(|| {
        DraftError::one(
            "tracking.version",
            format!(
                "{:?} is neither an integer nor a semantic version; Herald cannot number the next revision",
                previous.version
            ),
        )
    })?;
    let latest = previous
        .revision_history
        .iter()
        .map(|r| r.date)
        .chain([previous.current_release_date, previous.initial_release_date])
        .max()
        .unwrap_or(previous.current_release_date)
        .trunc_subsecs(0);
    let now = now.trunc_subsecs(0);
    let date = if now > latest {
        now
    } else {
        latest + Duration::seconds(1)
    };
    let summary = match summary.trim() {
        "" => format!("Revision {version}"),
        s => s.to_string(),
    };
    let mut revision_history = previous.revision_history.clone();
    revision_history.push(RevisionEntry {
        number: version.clone(),
        date,
        summary,
    });
    Ok(TrackingInput {
        id: previous.id.clone(),
        version,
        revision_history,
        initial_release_date: previous.initial_release_date,
        current_release_date: date,
        status: TrackingStatus::Final,
        canonical_url: previous.canonical_url.clone(),
    })
}

pub(crate) fn bump_version(v: &str) -> Option<String> {
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse::<u64>().ok()?.checked_add(1).map(|n| n.to_string());
    }
    let core = v.split(['+', '-']).next()?;
    let parts: Vec<u64> = core
        .split('.')
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [major, minor, _patch] => Some(format!("{major}.{}.0", minor.checked_add(1)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("date")
            .with_timezone(&Utc)
    }

    #[test]
    fn versions_bump_in_their_own_style() {
        assert_eq!(bump_version("1").as_deref(), Some("2"));
        assert_eq!(bump_version("41").as_deref(), Some("42"));
        assert_eq!(bump_version("1.0.0").as_deref(), Some("1.1.0"));
        assert_eq!(bump_version("2.3.4+build.7").as_deref(), Some("2.4.0"));
        assert_eq!(bump_version("v1"), None);
        assert_eq!(bump_version("1.2"), None);
    }

    #[test]
    fn next_revision_keeps_dates_strictly_increasing() {
        let first = first_revision("X-1", at("2026-11-28T10:00:00.700Z"), "");
        assert_eq!(first.current_release_date, at("2026-11-28T10:00:00Z"));
        // The clock is behind the previous release: one second after it.
        let second = next_revision(&first, at("2026-11-28T09:00:00Z"), "Fix").expect("next");
        assert_eq!(second.version, "2");
        assert_eq!(second.current_release_date, at("2026-11-28T10:00:01Z"));
        assert_eq!(second.revision_history.len(), 2);
        assert_eq!(second.revision_history[1].summary, "Fix");
        assert_eq!(second.initial_release_date, first.initial_release_date);
        // Same second as the previous release: still strictly later.
        let third = next_revision(&second, at("2026-11-28T10:00:01.500Z"), "").expect("next");
        assert_eq!(third.current_release_date, at("2026-11-28T10:00:02Z"));
        assert_eq!(third.revision_history[2].summary, "Revision 3");
        let later = next_revision(&third, at("2026-12-01T08:00:00Z"), "x").expect("next");
        assert_eq!(later.current_release_date, at("2026-12-01T08:00:00Z"));
    }
}
