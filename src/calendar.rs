//! Calendar arithmetic in UTC, without a date crate: the JUnit reporter
//! stamps runs with it and the mbox seeder dates `From ` lines with it, two
//! layers that must not reach into each other for it.

/// (year, month 1-12, day 1-31) in UTC of a time in seconds since the epoch,
/// after Howard Hinnant's `civil_from_days`.
pub fn civil_date(epoch_secs: u64) -> (u64, u64, u64) {
    let z = epoch_secs / 86_400 + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::civil_date;

    #[test]
    fn leap_days_and_century_rules() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        // 2000 is a leap year (divisible by 400), 2100 is not (by 100 only).
        assert_eq!(civil_date(951_782_400), (2000, 2, 29));
        assert_eq!(civil_date(4_107_542_400), (2100, 3, 1));
        assert_eq!(civil_date(4_107_542_400 - 1), (2100, 2, 28));
        // The last second of a day still belongs to it.
        assert_eq!(civil_date(1_709_251_199), (2024, 2, 29));
    }
}
