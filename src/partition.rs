//! The output layout, defined once: which Hive partition a record goes to,
//! the partition's path under the output root, and (for the DDL) the
//! partition columns. `convert` and `ddl` both use this module, so the paths
//! written and the table declared cannot disagree.

use serde::Serialize;

/// Seconds in a day.
const DAY: i64 = 86_400;
/// Seconds in an hour.
const HOUR: i64 = 3_600;

/// How output files are partitioned. Every layout partitions by the UTC time of
/// the record's `start`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// `date=YYYY-MM-DD/`.
    #[default]
    Date,
    /// `date=YYYY-MM-DD/hour=HH/`.
    Hour,
    /// AWS's Hive-compatible prefixes:
    /// `aws-account-id=…/aws-service=vpcflowlogs/aws-region=…/year=YYYY/month=MM/day=DD/`.
    Aws,
    /// As [`Layout::Aws`], plus `hour=HH/`.
    AwsHour,
}

/// The account, service and region of an input, from its AWS delivery path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// Account id.
    pub account: String,
    /// `vpcflowlogs` or `transitgatewayflowlogs`.
    pub service: String,
    /// Region.
    pub region: String,
}

/// The delivery time in an input's path: its day, and hour when the path has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathTime {
    /// Day number (days since 1970-01-01).
    pub day: i64,
    /// Hour of the day, for hourly delivery paths (`…/DD/HH/` or `…/day=DD/hour=HH/`).
    pub hour: Option<u32>,
}

/// One partition column as declared in DDL (all are strings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionColumn {
    /// Column name (`date`, `aws-account-id`, …).
    pub name: &'static str,
    /// How Athena projects it.
    pub projection: Projection,
}

/// The kind of Athena partition projection of a partition column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Projection {
    /// A `date` projection with this Java date format.
    Date(&'static str),
    /// An `integer` projection with this range and number of digits.
    Integer(u32, u32, u32),
    /// An `enum` projection over the values found.
    Enum,
}

impl std::str::FromStr for Layout {
    type Err = crate::error::Error;
    /// Parses `date`, `hour`, `aws` or `aws-hour`.
    fn from_str(s: &str) -> crate::error::Result<Layout> {
        match s {
            "date" => Ok(Layout::Date),
            "hour" => Ok(Layout::Hour),
            "aws" => Ok(Layout::Aws),
            "aws-hour" => Ok(Layout::AwsHour),
            _ => Err(crate::error::Error::Usage(format!(
                "invalid partition layout `{s}`: expected date, hour, aws or aws-hour"
            ))),
        }
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layout::Date => "date",
            Layout::Hour => "hour",
            Layout::Aws => "aws",
            Layout::AwsHour => "aws-hour",
        })
    }
}

const DATE_COLS: &[PartitionColumn] = &[PartitionColumn { name: "date", projection: Projection::Date("yyyy-MM-dd") }];
const HOUR_COLS: &[PartitionColumn] = &[
    PartitionColumn { name: "date", projection: Projection::Date("yyyy-MM-dd") },
    PartitionColumn { name: "hour", projection: Projection::Integer(0, 23, 2) },
];
const AWS_COLS: &[PartitionColumn] = &[
    PartitionColumn { name: "aws-account-id", projection: Projection::Enum },
    PartitionColumn { name: "aws-service", projection: Projection::Enum },
    PartitionColumn { name: "aws-region", projection: Projection::Enum },
    PartitionColumn { name: "year", projection: Projection::Integer(1970, 9999, 4) },
    PartitionColumn { name: "month", projection: Projection::Integer(1, 12, 2) },
    PartitionColumn { name: "day", projection: Projection::Integer(1, 31, 2) },
    PartitionColumn { name: "hour", projection: Projection::Integer(0, 23, 2) },
];

/// The partition column names of every layout.
pub const ALL_PARTITION_COLUMNS: &[&str] =
    &["date", "hour", "aws-account-id", "aws-service", "aws-region", "year", "month", "day"];

/// The SQL dialects a partition's day is written in ([`Layout::day_sql`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlDialect {
    /// Athena (Trino): double-quoted names, `||`.
    Athena,
    /// Spark SQL: backquoted names, `concat`.
    Spark,
    /// DataFusion (flowlake's own queries): double-quoted names, `concat`.
    DataFusion,
}

impl Layout {
    /// A partition's day as `YYYY-MM-DD` text, from its folder's values (as
    /// [`Layout::parse_path`] gives them); `None` if they are too few.
    pub fn day_text(self, values: &[String]) -> Option<String> {
        match self {
            Layout::Date | Layout::Hour => values.first().cloned(),
            Layout::Aws | Layout::AwsHour => Some(format!("{}-{}-{}", values.get(3)?, values.get(4)?, values.get(5)?)),
        }
    }

    /// A SQL expression for a partition's day, as `YYYY-MM-DD` text comparable with a date
    /// literal: the one place this is written, for the DDL's named queries and `query`.
    pub fn day_sql(self, dialect: SqlDialect) -> String {
        let id = |c: &str| match dialect {
            SqlDialect::Spark => format!("`{c}`"),
            SqlDialect::Athena | SqlDialect::DataFusion => format!("\"{c}\""),
        };
        match self {
            Layout::Date | Layout::Hour => id("date"),
            Layout::Aws | Layout::AwsHour => match dialect {
                SqlDialect::Athena => format!("{} || '-' || {} || '-' || {}", id("year"), id("month"), id("day")),
                SqlDialect::Spark | SqlDialect::DataFusion => {
                    format!("concat({}, '-', {}, '-', {})", id("year"), id("month"), id("day"))
                }
            },
        }
    }

    /// True for layouts whose paths name the account and region.
    pub fn needs_origin(self) -> bool {
        matches!(self, Layout::Aws | Layout::AwsHour)
    }

    fn hourly(self) -> bool {
        matches!(self, Layout::Hour | Layout::AwsHour)
    }

    /// The record's time bucket (a day number, or an hour number for hourly
    /// layouts): from its `start` when it has one, else from its file's path;
    /// `None` when neither tells.
    #[inline]
    pub fn bucket(self, start: Option<i64>, path: Option<PathTime>) -> Option<i64> {
        if self.hourly() {
            match start {
                Some(s) => Some(s.div_euclid(HOUR)),
                None => path.and_then(|p| p.hour.map(|h| p.day * 24 + i64::from(h))),
            }
        } else {
            start.map(|s| s.div_euclid(DAY)).or(path.map(|p| p.day))
        }
    }

    /// The partition columns, outermost first.
    pub fn columns(self) -> &'static [PartitionColumn] {
        match self {
            Layout::Date => DATE_COLS,
            Layout::Hour => HOUR_COLS,
            Layout::Aws => &AWS_COLS[..6],
            Layout::AwsHour => AWS_COLS,
        }
    }

    /// The partition values of a bucket, in [`columns`](Layout::columns) order.
    /// `origin` is required by the AWS layouts.
    pub fn values(self, bucket: i64, origin: Option<&Origin>) -> Vec<String> {
        let (day, hour) =
            if self.hourly() { (bucket.div_euclid(24), Some(bucket.rem_euclid(24))) } else { (bucket, None) };
        let mut v = Vec::with_capacity(7);
        match self {
            Layout::Date | Layout::Hour => v.push(format_day(day)),
            Layout::Aws | Layout::AwsHour => {
                let o = origin.expect("the AWS layouts need an origin");
                let (y, m, d) = civil_from_days(day);
                v.extend([o.account.clone(), o.service.clone(), o.region.clone()]);
                v.extend([format!("{y:04}"), format!("{m:02}"), format!("{d:02}")]);
            }
        }
        if let Some(h) = hour {
            v.push(format!("{h:02}"));
        }
        v
    }

    /// The partition's folder under the output root, e.g. `date=2023-08-01`.
    pub fn path(self, bucket: i64, origin: Option<&Origin>) -> String {
        join_path(self.columns(), &self.values(bucket, origin))
    }

    /// Reads a partition folder (`date=2023-08-01`, …) back into its values;
    /// `None` when the folder does not follow this layout, or a value is not one flowlake
    /// writes (a real date, an hour 00–23, an account or region of letters, digits, `-`
    /// and `_`, a flow-log service): only such values reach DDL and SQL.
    pub fn parse_path(self, path: &str) -> Option<Vec<String>> {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let cols = self.columns();
        if segs.len() != cols.len() {
            return None;
        }
        segs.iter()
            .zip(cols)
            .map(|(seg, c)| {
                let v = seg.strip_prefix(c.name)?.strip_prefix('=')?;
                valid_value(c.name, v).then(|| v.to_string())
            })
            .collect()
    }

    /// The layout of a table from one of its partition folders.
    pub fn detect(path: &str) -> Option<Layout> {
        [Layout::Date, Layout::Hour, Layout::Aws, Layout::AwsHour].into_iter().find(|l| l.parse_path(path).is_some())
    }
}

/// The flow-log services of AWS's delivery paths (`AWSLogs/<account>/<service>/…`).
pub const SERVICES: &[&str] = &["vpcflowlogs", "transitgatewayflowlogs"];

/// An account id or a region as a path may carry it: 1 to 64 letters, digits, `-`, `_`.
fn is_safe_name(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `v` is a value flowlake writes for the partition column `col`.
fn valid_value(col: &str, v: &str) -> bool {
    let digits = |n: usize, lo: u32, hi: u32| {
        v.len() == n && v.bytes().all(|b| b.is_ascii_digit()) && v.parse::<u32>().is_ok_and(|x| (lo..=hi).contains(&x))
    };
    match col {
        "date" => parse_day(v).is_some(),
        "hour" => digits(2, 0, 23),
        "year" => digits(4, 1970, 9999),
        "month" => digits(2, 1, 12),
        "day" => digits(2, 1, 31),
        "aws-service" => SERVICES.contains(&v),
        _ => is_safe_name(v),
    }
}

/// `name=value/…` for partition columns and values.
pub fn join_path(cols: &[PartitionColumn], values: &[String]) -> String {
    let parts: Vec<String> = cols.iter().zip(values).map(|(c, v)| format!("{}={v}", c.name)).collect();
    parts.join("/")
}

/// The folder of one delivery day in AWS's layout, below `AWSLogs/`:
/// `<account>/<service>/<region>/<day>/`, `day` being `YYYY/MM/DD` (or a placeholder, as
/// in Athena's `storage.location.template`). [`origin_from_path`] reads what this writes.
pub fn delivery_dir(account: &str, service: &str, region: &str, day: &str) -> String {
    format!("{account}/{service}/{region}/{day}/")
}

/// The account, service and region in an AWS delivery path:
/// `AWSLogs/<account>/<service>/<region>/…` or
/// `AWSLogs/aws-account-id=<account>/aws-service=<service>/aws-region=<region>/…`.
pub fn origin_from_path(path: &str) -> Option<Origin> {
    let segs: Vec<&str> = path.split(['/', '\\']).collect();
    let i = segs.iter().rposition(|s| *s == "AWSLogs")?;
    let rest = segs.get(i + 1..i + 4)?;
    let val = |seg: &str, key: &str| seg.strip_prefix(key).map(str::to_string).unwrap_or_else(|| seg.to_string());
    let o = Origin {
        account: val(rest[0], "aws-account-id="),
        service: val(rest[1], "aws-service="),
        region: val(rest[2], "aws-region="),
    };
    // Only values that are safe in a folder name and in SQL text: the layout writes them into both.
    (is_safe_name(&o.account) && SERVICES.contains(&o.service.as_str()) && is_safe_name(&o.region)).then_some(o)
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

/// The delivery time encoded in an S3 key or a local path, if any: the last
/// `YYYY/MM/DD[/HH]` run of path segments (AWS's default layout) or
/// `year=YYYY/month=MM/day=DD[/hour=HH]` (its Hive-compatible layout).
pub fn time_from_path(path: &str) -> Option<PathTime> {
    let segs: Vec<&str> = path.split(['/', '\\']).collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    for i in (0..segs.len().saturating_sub(2)).rev() {
        let key = |seg: &str, k: &str| seg.strip_prefix(k).map(str::to_string);
        let (y, m, d) = match (key(segs[i], "year="), key(segs[i + 1], "month="), key(segs[i + 2], "day=")) {
            (Some(y), Some(m), Some(d)) => (y, m, d),
            _ => (segs[i].to_string(), segs[i + 1].to_string(), segs[i + 2].to_string()),
        };
        if !(digits(&y, 4) && digits(&m, 2) && digits(&d, 2)) {
            continue;
        }
        if let Some(day) = valid_ymd(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?) {
            let next = segs.get(i + 3).copied().unwrap_or("");
            let h = next.strip_prefix("hour=").unwrap_or(next);
            // The segment after the day is an hour only when another segment follows it (it is a folder).
            let hour =
                (digits(h, 2) && i + 4 < segs.len()).then(|| h.parse::<u32>().ok()).flatten().filter(|h| *h < 24);
            return Some(PathTime { day, hour });
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
    fn layouts() {
        let o = Origin { account: "123456789010".into(), service: "vpcflowlogs".into(), region: "us-east-1".into() };
        // 1418530010 = 2014-12-14T04:06:50Z
        let s = Some(1_418_530_010);
        let cases = [
            (Layout::Date, "date=2014-12-14"),
            (Layout::Hour, "date=2014-12-14/hour=04"),
            (
                Layout::Aws,
                "aws-account-id=123456789010/aws-service=vpcflowlogs/aws-region=us-east-1/year=2014/month=12/day=14",
            ),
            (
                Layout::AwsHour,
                "aws-account-id=123456789010/aws-service=vpcflowlogs/aws-region=us-east-1/year=2014/month=12/day=14/hour=04",
            ),
        ];
        for (l, want) in cases {
            let path = l.path(l.bucket(s, None).unwrap(), Some(&o));
            assert_eq!(path, want);
            assert_eq!(Layout::detect(&path), Some(l));
            assert_eq!(l.parse_path(&path).unwrap(), l.values(l.bucket(s, None).unwrap(), Some(&o)));
            assert_eq!(l.to_string().parse::<Layout>().unwrap(), l);
        }
        let pt = Some(PathTime { day: 5, hour: None });
        assert_eq!(Layout::Date.bucket(None, pt), Some(5));
        assert_eq!(Layout::Hour.bucket(None, pt), None, "an hourly layout needs an hour");
        assert_eq!(Layout::Hour.bucket(None, Some(PathTime { day: 5, hour: Some(3) })), Some(123));
        assert_eq!(Layout::Date.bucket(None, None), None);
        assert_eq!(Layout::Date.parse_path("date=2023-08-01/"), Some(vec!["2023-08-01".to_string()]));
        assert_eq!(Layout::Date.parse_path("year=2023"), None);
        // Folder names that flowlake never writes are not partitions, whatever else is in them.
        for bad in ["date=2023-02-30", "date=2023-08-01' OR '1'='1", "date=", "date=2023-8-1"] {
            assert_eq!(Layout::Date.parse_path(bad), None, "{bad}");
        }
        assert_eq!(Layout::Hour.parse_path("date=2023-08-01/hour=24"), None);
        assert_eq!(
            Layout::Aws.parse_path("aws-account-id=1/aws-service=vpcflowlogs/aws-region=x'y/year=2023/month=08/day=01"),
            None
        );
        assert_eq!(
            Layout::Aws.parse_path("aws-account-id=1/aws-service=other/aws-region=us-east-1/year=2023/month=08/day=01"),
            None
        );
        for l in [Layout::Date, Layout::Hour, Layout::Aws, Layout::AwsHour] {
            for c in l.columns() {
                assert!(ALL_PARTITION_COLUMNS.contains(&c.name), "{}", c.name);
            }
        }
    }

    #[test]
    fn origins_from_delivery_paths() {
        let written =
            format!("x/AWSLogs/{}f.log.gz", delivery_dir("123456789010", "vpcflowlogs", "us-east-1", "2023/08/01"));
        assert_eq!(written, "x/AWSLogs/123456789010/vpcflowlogs/us-east-1/2023/08/01/f.log.gz");
        let o = origin_from_path("x/AWSLogs/123456789010/vpcflowlogs/us-east-1/2023/08/01/f.log.gz").unwrap();
        assert_eq!(
            (o.account.as_str(), o.service.as_str(), o.region.as_str()),
            ("123456789010", "vpcflowlogs", "us-east-1")
        );
        let h = origin_from_path("AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2023/x")
            .unwrap();
        assert_eq!((h.account.as_str(), h.region.as_str()), ("1", "eu-west-1"));
        assert_eq!(origin_from_path("logs/2023/08/01/f.log.gz"), None);
        // Nothing that could not be written safely into a folder name or SQL text.
        for bad in [
            "AWSLogs/123456789012/x' ) ; DROP TABLE y; --flowlogs/us-east-1/2023/08/01/f.log.gz",
            "AWSLogs/1'2/vpcflowlogs/us-east-1/2023/08/01/f.log.gz",
            "AWSLogs/1/vpcflowlogs/us east 1/2023/08/01/f.log.gz",
            "AWSLogs/1/elasticloadbalancing/us-east-1/2023/08/01/f.log.gz",
        ] {
            assert_eq!(origin_from_path(bad), None, "{bad}");
        }
        let tgw = origin_from_path("AWSLogs/1/transitgatewayflowlogs/eu-west-1/2023/08/01/f.log.gz").unwrap();
        assert_eq!(tgw.service, "transitgatewayflowlogs");
    }

    #[test]
    fn delivery_time_from_key_paths() {
        let day = |d| Some(PathTime { day: d, hour: None });
        let aws = "AWSLogs/123456789010/vpcflowlogs/us-east-1/2023/08/01/123456789010_vpcflowlogs_us-east-1_fl-1_20230801T0005Z_ab.log.gz";
        assert_eq!(time_from_path(aws), day(19_570));
        let hive = "p/AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=us-east-1/year=2023/month=08/day=01/hour=05/x.log.gz";
        assert_eq!(time_from_path(hive), Some(PathTime { day: 19_570, hour: Some(5) }));
        assert_eq!(time_from_path("2023/08/01/05/x.log.gz"), Some(PathTime { day: 19_570, hour: Some(5) }));
        assert_eq!(time_from_path("logs/x.log.gz"), None);
        assert_eq!(time_from_path("2023/13/01/x.log.gz"), None);
    }
}
