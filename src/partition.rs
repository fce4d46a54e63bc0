//! The output layout, defined once: which Hive partition a record goes to,
//! the partition's path under the output root, and (for the DDL) the
//! partition columns. `convert` and `ddl` both use this module, so the paths
//! written and the table declared cannot disagree.

use serde::Serialize;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// How output files are partitioned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `date=YYYY-MM-DD/`, the UTC day of the record's `start`.
    #[default]
    Date,
}

/// The partition a record belongs to. For [`Layout::Date`] it is the UTC day
/// number (days since 1970-01-01).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey(pub i64);

/// One partition column as declared in DDL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionColumn {
    /// Column name (`date`).
    pub name: &'static str,
    /// SQL type (`string`).
    pub sql_type: &'static str,
}

impl Layout {
    /// The partition of a record: from its `start` (Unix seconds) when it has
    /// one, else from the day in its file's key path; `None` when neither exists.
    #[inline]
    pub fn key(self, start: Option<i64>, path_day: Option<i64>) -> Option<PartitionKey> {
        match self {
            Layout::Date => start.map(|s| s.div_euclid(DAY)).or(path_day).map(PartitionKey),
        }
    }

    /// The partition's folder under the output root, e.g. `date=2023-08-01`.
    pub fn path(self, key: PartitionKey) -> String {
        match self {
            Layout::Date => format!("date={}", format_day(key.0)),
        }
    }

    /// The partition columns, outermost first.
    pub fn columns(self) -> &'static [PartitionColumn] {
        match self {
            Layout::Date => &[PartitionColumn { name: "date", sql_type: "string" }],
        }
    }

    /// Reads a partition folder (`date=2023-08-01`) back into its key.
    pub fn parse_path(self, path: &str) -> Option<PartitionKey> {
        match self {
            Layout::Date => path.trim_end_matches('/').strip_prefix("date=").and_then(parse_day).map(PartitionKey),
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day number.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD` for a day number.
pub fn format_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `YYYY-MM-DD` into a day number; `None` unless it is a real date.
pub fn parse_day(s: &str) -> Option<i64> {
    let mut it = s.splitn(3, '-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    valid_ymd(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

fn valid_ymd(y: i64, m: u32, d: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let day = days_from_civil(y, m, d);
    (civil_from_days(day) == (y, m, d)).then_some(day)
}

/// The delivery day encoded in an S3 key or a local path, if any: the last
/// `YYYY/MM/DD` run of path segments (AWS's default layout) or
/// `year=YYYY/month=MM/day=DD` (its Hive-compatible layout).
pub fn day_from_path(path: &str) -> Option<i64> {
    let segs: Vec<&str> = path.split(['/', '\\']).collect();
    let strip = |s: &'static str, seg: &str| -> Option<String> { seg.strip_prefix(s).map(str::to_string) };
    for i in (0..segs.len().saturating_sub(2)).rev() {
        let (a, b, c) = (segs[i], segs[i + 1], segs[i + 2]);
        let ymd = match (strip("year=", a), strip("month=", b), strip("day=", c)) {
            (Some(y), Some(m), Some(d)) => (y, m, d),
            _ => (a.to_string(), b.to_string(), c.to_string()),
        };
        let (y, m, d) = ymd;
        if y.len() == 4
            && m.len() == 2
            && d.len() == 2
            && [&y, &m, &d].iter().all(|s| s.bytes().all(|b| b.is_ascii_digit()))
        {
            if let Some(day) = valid_ymd(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?) {
                return Some(day);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip() {
        for day in -800_000..800_000 {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(format_day(19_570), "2023-08-01");
        assert_eq!(parse_day("2024-02-29"), Some(19_782));
        assert_eq!(parse_day("2023-02-29"), None);
        assert_eq!(parse_day("2023-8-01"), None);
    }

    #[test]
    fn date_layout() {
        let l = Layout::Date;
        // 1418530010 = 2014-12-14T04:06:50Z
        assert_eq!(l.path(l.key(Some(1_418_530_010), None).unwrap()), "date=2014-12-14");
        assert_eq!(l.key(None, Some(5)), Some(PartitionKey(5)));
        assert_eq!(l.key(Some(-1), Some(5)), Some(PartitionKey(-1)));
        assert_eq!(l.key(None, None), None);
        assert_eq!(l.parse_path("date=2023-08-01/"), Some(PartitionKey(19_570)));
    }

    #[test]
    fn delivery_day_from_key_paths() {
        let aws = "AWSLogs/123456789010/vpcflowlogs/us-east-1/2023/08/01/123456789010_vpcflowlogs_us-east-1_fl-1_20230801T0005Z_ab.log.gz";
        assert_eq!(day_from_path(aws), Some(19_570));
        let hive = "p/AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=us-east-1/year=2023/month=08/day=01/hour=05/x.log.gz";
        assert_eq!(day_from_path(hive), Some(19_570));
        assert_eq!(day_from_path("2023/08/01/05/x.log.gz"), Some(19_570));
        assert_eq!(day_from_path("logs/x.log.gz"), None);
        assert_eq!(day_from_path("2023/13/01/x.log.gz"), None);
    }
}
