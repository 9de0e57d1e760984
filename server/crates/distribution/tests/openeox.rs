//! Herald's lifecycle record against the OpenEoX Core draft 1.0 schema shipped beside this test
//! (`tests/openeox/`, with format assertion on): every shape Herald writes validates, the TC's own
//! examples validate (the validator is set up right), and broken records do not (it has teeth).

use chrono::{NaiveDate, TimeZone, Utc};
use herald_csaf::lifecycle::{EoxDate, LifecycleDates};
use herald_distribution::lifecycle::openeox_core;
use serde_json::{Value, json};

fn read(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/openeox")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect(name)
}

fn validator() -> jsonschema::Validator {
    let meta = read("meta.json");
    let registry = jsonschema::Registry::new()
        .add(
            "https://docs.oasis-open.org/openeox/eox-core/v1.0/schema/meta.json",
            meta,
        )
        .expect("meta-schema registers")
        .prepare()
        .expect("registry prepares");
    jsonschema::options()
        .should_validate_formats(true)
        .offline()
        .with_registry(&registry)
        .build(&read("eox-core.json"))
        .expect("core schema compiles")
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn day(s: &str) -> Option<EoxDate> {
    Some(EoxDate::Day(
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day"),
    ))
}

#[test]
fn herald_records_validate_against_openeox_core() {
    let v = validator();
    for example in [
        "oasis_openeox_tc-core-1_0-2025-maximal.json",
        "oasis_openeox_tc-core-1_0-2025-minimal-eol-tba.json",
        "oasis_openeox_tc-core-1_0-2025-minimal-tba.json",
    ] {
        assert!(errors(&v, &read(example)).is_empty(), "{example}");
    }
    let at = Utc
        .with_ymd_and_hms(2026, 12, 8, 10, 30, 0)
        .single()
        .expect("time");
    let full = LifecycleDates {
        general_availability: day("2019-04-01"),
        end_of_sales: day("2026-06-30"),
        end_of_standard_support: day("2028-12-31"),
        end_of_security_updates: Some(EoxDate::Tba),
        compensating_controls: "Isolate the <b>pump</b> network.".into(),
    };
    let record = openeox_core(&full, at);
    assert!(errors(&v, &record).is_empty(), "{:?}", errors(&v, &record));
    assert_eq!(record["end_of_life"], "2028-12-31T23:59:59Z");
    assert_eq!(record["end_of_security_support"], "tba");
    assert_eq!(record["last_updated"], "2026-12-08T10:30:00Z");
    // Nothing announced: the required dates are tba, the optional ones absent.
    let empty = openeox_core(&LifecycleDates::default(), at);
    assert!(errors(&v, &empty).is_empty(), "{:?}", errors(&v, &empty));
    assert!(empty.get("end_of_sales").is_none());

    // The schema has teeth: a field of Herald's own, a bad date and a missing field are caught.
    let mut extra = record.clone();
    extra["compensating_controls"] = json!("x");
    assert!(!errors(&v, &extra).is_empty());
    let mut bad = record.clone();
    bad["end_of_life"] = json!("2028-12-31");
    assert!(!errors(&v, &bad).is_empty());
    let mut missing = record;
    missing.as_object_mut().map(|o| o.remove("last_updated"));
    assert!(!errors(&v, &missing).is_empty());
}
