//! The advisory list's query parameters, one parser for the portal page (`/advisories?...`) and
//! the REST API (`GET /api/v1/advisories?...`), so both accept the same spellings and refuse bad
//! input with the same clear messages.
//!
//! Parameters (all optional; an empty value counts as absent, as a submitted GET form sends
//! every field): `q` free text, `cve` one CVE id, `product` a catalog product id, `severity`
//! (`critical`, `high`, `medium`, `low`, `none`), `from` and `to` (current release date,
//! `YYYY-MM-DD`, both inclusive, UTC), `sort` (`newest` default, `oldest`, `severity`, `title`,
//! `tracking_id`). Visibility is not a parameter: callers set it from who is asking.

use chrono::{NaiveDate, NaiveTime};
use herald_storage::{
    advisories::AdvisoryFilter, advisories::AdvisorySort, advisories::CvssSeverity,
};

/// Longest accepted free-text search.
pub const MAX_SEARCH_CHARS: usize = 200;

/// The raw parameter values, as received.
#[derive(Debug, Default, Clone, Copy)]
pub struct ListParams<'a> {
    pub q: Option<&'a str>,
    pub cve: Option<&'a str>,
    pub product: Option<&'a str>,
    pub severity: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub sort: Option<&'a str>,
}

/// A present, non-blank value, trimmed.
fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

fn date(name: &str, value: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        format!(
            "{name} must be a date written YYYY-MM-DD, not {:?}",
            shorten(value)
        )
    })
}

/// Quotes of user input in messages stay short.
fn shorten(s: &str) -> String {
    s.chars().take(40).collect()
}

/// `CVE-YYYY-NNNN...` in any case.
fn is_cve(s: &str) -> bool {
    let mut parts = s.splitn(3, '-');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(c), Some(y), Some(n))
            if c.eq_ignore_ascii_case("cve")
                && y.len() == 4
                && y.bytes().all(|b| b.is_ascii_digit())
                && n.len() >= 4
                && n.len() <= 19
                && n.bytes().all(|b| b.is_ascii_digit())
    )
}

/// Validates the parameters into a filter with default visibility and paging; the message of an
/// error names the parameter and what it accepts.
pub fn parse(p: &ListParams<'_>) -> Result<AdvisoryFilter, String> {
    let mut filter = AdvisoryFilter::default();
    if let Some(q) = given(p.q) {
        if q.chars().count() > MAX_SEARCH_CHARS {
            return Err(format!(
                "q (search text) may have at most {MAX_SEARCH_CHARS} characters"
            ));
        }
        // PostgreSQL cannot store or compare NUL, and no advisory text contains controls.
        if q.chars().any(char::is_control) {
            return Err("q (search text) must not contain control characters".into());
        }
        filter.text = Some(q.to_owned());
    }
    if let Some(cve) = given(p.cve) {
        if !is_cve(cve) {
            return Err(format!(
                "cve must be a CVE id like CVE-2026-12345, not {:?}",
                shorten(cve)
            ));
        }
        filter.cve = Some(cve.to_ascii_uppercase());
    }
    if let Some(product) = given(p.product) {
        // Catalog ids are UUIDs; anything else cannot name a product.
        if product.len() > 64
            || !product
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(format!(
                "product must be a product id from the catalog, not {:?}",
                shorten(product)
            ));
        }
        filter.product_id = Some(product.to_owned());
    }
    if let Some(s) = given(p.severity) {
        filter.severity = Some(CvssSeverity::parse(s).ok_or_else(|| {
            format!(
                "severity must be one of critical, high, medium, low, none; not {:?}",
                shorten(s)
            )
        })?);
    }
    let from = given(p.from).map(|v| date("from", v)).transpose()?;
    let to = given(p.to).map(|v| date("to", v)).transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(format!("from ({f}) is after to ({t})"));
    }
    filter.released_from = from.map(|d| d.and_time(NaiveTime::MIN).and_utc());
    // `to` is inclusive: everything before the next midnight.
    filter.released_before = to
        .map(|d| {
            d.succ_opt()
                .ok_or_else(|| format!("to ({d}) is out of range"))
        })
        .transpose()?
        .map(|d| d.and_time(NaiveTime::MIN).and_utc());
    if let Some(s) = given(p.sort) {
        filter.sort = AdvisorySort::parse(s).ok_or_else(|| {
            format!(
                "sort must be one of newest, oldest, severity, title, tracking_id; not {:?}",
                shorten(s)
            )
        })?;
    }
    Ok(filter)
}

/// A positive integer parameter (`page`, `per_page`, `limit`) within `1..=max`, or `default`.
pub fn bounded(name: &str, value: Option<&str>, default: i64, max: i64) -> Result<i64, String> {
    let Some(v) = given(value) else {
        return Ok(default);
    };
    match v.parse::<i64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{name} must be a whole number from 1 to {max}, not {:?}",
            shorten(v)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let f = parse(&ListParams {
            q: Some("  pump "),
            cve: Some("cve-2026-0001"),
            severity: Some("HIGH"),
            from: Some("2026-01-01"),
            to: Some("2026-01-31"),
            sort: Some("title"),
            product: Some(""),
        })
        .expect("valid");
        assert_eq!(f.text.as_deref(), Some("pump"));
        assert_eq!(f.cve.as_deref(), Some("CVE-2026-0001"));
        assert_eq!(f.severity, Some(CvssSeverity::High));
        assert_eq!(f.sort, AdvisorySort::Title);
        assert_eq!(f.product_id, None);
        assert_eq!(
            f.released_before.map(|d| d.to_rfc3339()).as_deref(),
            Some("2026-02-01T00:00:00+00:00")
        );
        for bad in [
            ListParams {
                severity: Some("severe"),
                ..Default::default()
            },
            ListParams {
                from: Some("2026-13-01"),
                ..Default::default()
            },
            ListParams {
                from: Some("2026-02-01"),
                to: Some("2026-01-01"),
                ..Default::default()
            },
            ListParams {
                cve: Some("CVE-26-1"),
                ..Default::default()
            },
            ListParams {
                cve: Some("%"),
                ..Default::default()
            },
            ListParams {
                product: Some("x' OR 1=1"),
                ..Default::default()
            },
            ListParams {
                sort: Some("random"),
                ..Default::default()
            },
            ListParams {
                q: Some("a\u{0}b"),
                ..Default::default()
            },
        ] {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(bounded("page", Some("3"), 1, 10), Ok(3));
        assert_eq!(bounded("page", None, 1, 10), Ok(1));
        assert!(bounded("page", Some("0"), 1, 10).is_err());
        assert!(bounded("page", Some("11"), 1, 10).is_err());
        assert!(bounded("page", Some("x"), 1, 10).is_err());
    }
}
