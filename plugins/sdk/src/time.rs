//! UTC calendar time from the `clock` capability's milliseconds, for the date formats channels
//! send (FHIR `dateTime`, HL7 DTM). No time-zone data: plugins only ever format UTC.

/// A UTC date and time of day, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcDateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl UtcDateTime {
    /// The UTC date and time `millis` milliseconds after the Unix epoch.
    pub fn from_millis(millis: u64) -> Self {
        let secs = millis / 1000;
        // Below 86 400, so it fits.
        let rem = u32::try_from(secs % 86_400).unwrap_or(0);
        // u64 seconds / 86 400 always fits an i64.
        let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
        // Civil date from days since 1970-01-01 (Howard Hinnant's civil_from_days).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        // The arithmetic above fixes day to 1..=31 and month to 1..=12.
        let small = |v: i64| u32::try_from(v).unwrap_or(0);
        UtcDateTime {
            year,
            month: small(month),
            day: small(day),
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::UtcDateTime;

    fn parts(t: UtcDateTime) -> (i64, u32, u32, u32, u32, u32) {
        (t.year, t.month, t.day, t.hour, t.minute, t.second)
    }

    #[test]
    fn civil_dates() {
        assert_eq!(parts(UtcDateTime::from_millis(0)), (1970, 1, 1, 0, 0, 0));
        // 2026-11-28T00:30:00Z
        assert_eq!(
            parts(UtcDateTime::from_millis(1_795_825_800_999)),
            (2026, 11, 28, 0, 30, 0)
        );
        // Leap day and the last second of a year.
        assert_eq!(
            parts(UtcDateTime::from_millis(951_782_400_000)),
            (2000, 2, 29, 0, 0, 0)
        );
        assert_eq!(
            parts(UtcDateTime::from_millis(1_798_761_599_000)),
            (2026, 12, 31, 23, 59, 59)
        );
    }
}
