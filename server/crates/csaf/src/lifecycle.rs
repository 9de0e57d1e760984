//! End of support of a catalog product: the dates a manufacturer announces ([`LifecycleDates`],
//! each a day or `tba`), and the CSAF 2.0 `csaf_informational_advisory` generated from them
//! ([`informational_advisory`]), whose notes say that the product is not thereby vulnerable
//! (CSAF 2.0 section 4.3: the product tree of an informational advisory names the products the
//! information is about). Pure: the caller gives the publisher, the tracking data (the
//! [`crate::revision`] rules) and the URL of the machine-readable lifecycle record.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::authoring::{PublisherInfo, TrackingInput, version_branch_category};
use crate::revision::date_text;

/// A lifecycle date: a day, or "to be announced".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum EoxDate {
    Day(NaiveDate),
    Tba,
}

impl EoxDate {
    /// `YYYY-MM-DD` or `tba` (any case, trimmed).
    pub fn parse(s: &str) -> Result<EoxDate, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("tba") {
            return Ok(EoxDate::Tba);
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(EoxDate::Day)
            .map_err(|_| format!("{s:?} is neither a date (YYYY-MM-DD) nor \"tba\""))
    }

    pub fn day(self) -> Option<NaiveDate> {
        match self {
            EoxDate::Day(d) => Some(d),
            EoxDate::Tba => None,
        }
    }

    /// As people read it in a notice.
    pub fn display(self) -> String {
        match self {
            EoxDate::Day(d) => d.format("%Y-%m-%d").to_string(),
            EoxDate::Tba => "to be announced".into(),
        }
    }
}

impl std::fmt::Display for EoxDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EoxDate::Day(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            EoxDate::Tba => f.write_str("tba"),
        }
    }
}

impl TryFrom<String> for EoxDate {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        EoxDate::parse(&s)
    }
}

impl From<EoxDate> for String {
    fn from(d: EoxDate) -> String {
        d.to_string()
    }
}

/// What a manufacturer announces about one catalog product (absent: not announced).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleDates {
    pub general_availability: Option<EoxDate>,
    pub end_of_sales: Option<EoxDate>,
    /// The last day the product is supported in any way (OpenEoX `end_of_life`).
    pub end_of_standard_support: Option<EoxDate>,
    /// The last day security updates are provided (OpenEoX `end_of_security_support`).
    pub end_of_security_updates: Option<EoxDate>,
    /// What the manufacturer recommends once updates stop.
    pub compensating_controls: String,
}

/// The product a notice is about, as the catalog names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecycleProduct {
    /// Absent: the product tree starts at the family or product name (so the catalog identity,
    /// vendor included, stays the product's own).
    pub vendor: Option<String>,
    pub family: Option<String>,
    pub name: String,
    pub version: Option<String>,
    /// Its product id in the generated document.
    pub product_id: String,
}

impl LifecycleProduct {
    /// `Name Version`, as titles and notes say it.
    pub fn full_name(&self) -> String {
        match self
            .version
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            Some(v) => format!("{} {v}", self.name),
            None => self.name.clone(),
        }
    }
}

/// The sentence every generated notice and reminder carries about the dates.
pub fn dates_sentence(dates: &LifecycleDates) -> String {
    let show = |d: Option<EoxDate>| d.map_or_else(|| "not announced".into(), EoxDate::display);
    format!(
        "End of sales: {}. End of standard support: {}. End of security updates: {}.",
        show(dates.end_of_sales),
        show(dates.end_of_standard_support),
        show(dates.end_of_security_updates),
    )
}

/// The `csaf_informational_advisory` announcing `dates` for `product` (TLP:WHITE: end of
/// support is told to every customer). `lifecycle_url` is the public lifecycle record, written as
/// the `external` reference the informational profile requires.
pub fn informational_advisory(
    product: &LifecycleProduct,
    dates: &LifecycleDates,
    publisher: &PublisherInfo,
    tracking: &TrackingInput,
    lifecycle_url: &str,
) -> Value {
    let full = product.full_name();
    let mut notes = vec![
        json!({
            "category": "summary",
            "title": "End-of-support notice",
            "text": format!("{} announces the end of support of {full}. {}", publisher.name, dates_sentence(dates)),
        }),
        json!({
            "category": "general",
            "title": "Reading this notice",
            "text": "This is an informational advisory about the product's lifecycle. The product \
                     tree names the product this notice is about; per CSAF 2.0 section 4.3 it is \
                     not thereby affected by any vulnerability. After the end of security \
                     updates, vulnerabilities found in it will not be fixed.",
        }),
    ];
    let controls = dates.compensating_controls.trim();
    if !controls.is_empty() {
        notes.push(json!({
            "category": "details",
            "title": "Recommended compensating controls once security updates stop",
            "text": controls,
        }));
    }
    let mut references = Vec::new();
    if let Some(url) = &tracking.canonical_url {
        references.push(
            json!({"category": "self", "summary": "Canonical URL of this advisory", "url": url}),
        );
    }
    references.push(json!({
        "category": "external",
        "summary": "Machine-readable lifecycle record (OpenEoX)",
        "url": lifecycle_url,
    }));
    let vendor = product
        .vendor
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let leaf_name = match vendor {
        Some(v) => format!("{v} {full}"),
        None => full.clone(),
    };
    let leaf_product = json!({"name": leaf_name, "product_id": product.product_id});
    let mut node = match product
        .version
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        Some(v) => json!({"category": "product_name", "name": product.name, "branches": [
            {"category": version_branch_category(v), "name": v, "product": leaf_product}
        ]}),
        None => json!({"category": "product_name", "name": product.name, "product": leaf_product}),
    };
    if let Some(family) = product.family.as_deref().filter(|f| !f.trim().is_empty()) {
        node = json!({"category": "product_family", "name": family, "branches": [node]});
    }
    let tree = match vendor {
        Some(v) => json!({"branches": [{"category": "vendor", "name": v, "branches": [node]}]}),
        None => json!({"branches": [node]}),
    };
    let mut publisher_json = json!({
        "category": "vendor",
        "name": publisher.name,
        "namespace": publisher.namespace,
    });
    if let (Some(c), Some(map)) = (&publisher.contact_details, publisher_json.as_object_mut()) {
        map.insert("contact_details".into(), json!(c));
    }
    let history: Vec<Value> = tracking
        .revision_history
        .iter()
        .map(|r| json!({"date": date_text(r.date), "number": r.number, "summary": r.summary}))
        .collect();
    json!({
        "document": {
            "category": "csaf_informational_advisory",
            "csaf_version": "2.0",
            "distribution": {"tlp": {"label": "WHITE", "url": "https://www.first.org/tlp/"}},
            "lang": "en-US",
            "notes": notes,
            "publisher": publisher_json,
            "references": references,
            "title": format!("{full}: end of support"),
            "tracking": {
                "current_release_date": date_text(tracking.current_release_date),
                "generator": {"engine": {"name": "Herald", "version": env!("CARGO_PKG_VERSION")}},
                "id": tracking.id,
                "initial_release_date": date_text(tracking.initial_release_date),
                "revision_history": history,
                "status": tracking.status.as_str(),
                "version": tracking.version,
            },
        },
        "product_tree": tree,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_and_print() {
        assert_eq!(EoxDate::parse(" TBA "), Ok(EoxDate::Tba));
        let d = EoxDate::parse("2027-03-31").expect("date");
        assert_eq!(d.to_string(), "2027-03-31");
        assert!(EoxDate::parse("2027-02-30").is_err());
        assert!(EoxDate::parse("31.03.2027").is_err());
        assert!(EoxDate::parse("<script>").is_err());
        let json: EoxDate = serde_json::from_str("\"tba\"").expect("json");
        assert_eq!(json, EoxDate::Tba);
        assert!(serde_json::from_str::<EoxDate>("\"soon\"").is_err());
    }
}
