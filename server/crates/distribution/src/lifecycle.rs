//! A product's end of support as a machine-readable record following the OASIS OpenEoX Core
//! draft 1.0 (`end_of_life`, `end_of_security_support`, `end_of_sales`, `general_availability`,
//! `last_updated`; each date an RFC 3339 date-time or `"tba"`), served publicly at
//! `/lifecycle/{product_id}.json`. A day Herald stores is written as the end of that day in UTC
//! (the last moment of the announced day). A date not announced is `"tba"` where the core record
//! requires it (`end_of_life`, `end_of_security_support`) and left out where it is optional.

use chrono::{DateTime, NaiveTime, SecondsFormat, Utc};
use herald_csaf::lifecycle::{EoxDate, LifecycleDates};
use serde_json::{Map, Value, json};

/// The `$schema` of an OpenEoX Core record.
pub const OPENEOX_CORE_SCHEMA: &str = "https://docs.oasis-open.org/openeox/v1.0/schema/core.json";

fn timestamp(d: EoxDate) -> Value {
    match d {
        EoxDate::Tba => json!("tba"),
        EoxDate::Day(day) => {
            let end = day.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default());
            json!(end.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true))
        }
    }
}

/// The OpenEoX Core record of `dates`, last changed at `last_updated`.
pub fn openeox_core(dates: &LifecycleDates, last_updated: DateTime<Utc>) -> Value {
    let mut core = Map::new();
    core.insert("$schema".into(), json!(OPENEOX_CORE_SCHEMA));
    core.insert(
        "end_of_life".into(),
        timestamp(dates.end_of_standard_support.unwrap_or(EoxDate::Tba)),
    );
    core.insert(
        "end_of_security_support".into(),
        timestamp(dates.end_of_security_updates.unwrap_or(EoxDate::Tba)),
    );
    if let Some(d) = dates.end_of_sales {
        core.insert("end_of_sales".into(), timestamp(d));
    }
    if let Some(d) = dates.general_availability {
        core.insert("general_availability".into(), timestamp(d));
    }
    core.insert(
        "last_updated".into(),
        json!(last_updated.to_rfc3339_opts(SecondsFormat::Secs, true)),
    );
    Value::Object(core)
}
