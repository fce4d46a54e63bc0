//! DDL for the tables flowlake writes (Athena with partition projection,
//! Athena `ADD PARTITION`s, Glue `TableInput` JSON, Spark SQL), for the raw
//! text logs, and named queries for the classic flow-log questions.
//!
//! Everything here is text built from a [`TableInfo`] (what is really in the
//! table) and the partition [`Layout`], the same definition `convert` writes
//! paths with, so the two cannot disagree. Identifiers are always quoted:
//! backticks in DDL and Spark, double quotes in Athena (Trino) queries.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::format::Format;
use crate::partition::{Layout, Projection, SqlDialect, delivery_dir, join_path};
use crate::schema::FieldType;
use crate::storage::{Location, Storage};
use crate::table::{RawSpec, TableInfo};

/// Names and places for the DDL.
#[derive(Clone, Debug)]
pub struct DdlOptions {
    /// Database (validated: letters, digits, `_`).
    pub database: String,
    /// Table (validated like the database).
    pub table: String,
    /// Table location, ending in `/` (`s3://…/` or `file:///…/`).
    pub location: String,
    /// The VPC's CIDR, used by the named queries ("outside the VPC").
    pub vpc_cidr: String,
    /// The address used by the "traffic of one address" query.
    pub ip: String,
    /// The last year the `year` projection of the AWS layouts covers.
    pub until_year: i64,
}

/// Which DDL to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Athena `CREATE EXTERNAL TABLE` with partition projection.
    Athena,
    /// Glue `TableInput` JSON for `aws glue create-table --cli-input-json`.
    GlueJson,
    /// Spark SQL (`USING PARQUET`), with `MSCK REPAIR TABLE`.
    Spark,
}

impl std::str::FromStr for Dialect {
    type Err = Error;
    fn from_str(s: &str) -> Result<Dialect> {
        match s {
            "athena" => Ok(Dialect::Athena),
            "glue-json" | "glue" => Ok(Dialect::GlueJson),
            "spark" | "databricks" => Ok(Dialect::Spark),
            _ => Err(Error::Usage(format!("invalid dialect `{s}`: expected athena, glue-json or spark"))),
        }
    }
}

impl DdlOptions {
    /// DDL names for a table at `output`: database `default`, table `flow_logs`, the
    /// output as location, VPC CIDR 172.31.0.0/16 (AWS's default VPC) for the named queries.
    pub fn for_table(output: &Location) -> DdlOptions {
        let now_year = crate::partition::civil_from_days(crate::report::now_unix() as i64 / 86_400).0;
        DdlOptions {
            database: "default".into(),
            table: "flow_logs".into(),
            location: output.absolute().to_string(),
            vpc_cidr: "172.31.0.0/16".into(),
            ip: "172.31.0.5".into(),
            until_year: now_year + 1,
        }
    }

    /// Checks names, location and CIDR; returns a normalised copy.
    pub fn validated(&self) -> Result<DdlOptions> {
        let mut o = self.clone();
        o.database = ident(&self.database, "database")?;
        o.table = ident(&self.table, "table")?;
        o.location = normalise_location(&self.location)?;
        parse_ipv4_cidr(&self.vpc_cidr)?;
        if self.ip.parse::<std::net::IpAddr>().is_err() {
            return Err(Error::Usage(format!("invalid IP address `{}`", self.ip)));
        }
        Ok(o)
    }
}

/// Reads the whole table at `output` (every run's files) and writes its DDL and named
/// queries under `output/_flowlake/ddl/`; returns that folder.
pub fn write(storage: &dyn Storage, output: &Location, o: &DdlOptions) -> Result<Location> {
    let o = o.validated()?;
    let info = crate::table::read_table_info(storage, output)?;
    let dir = output.join(crate::table::paths::DDL);
    for (rel, text) in ddl_files(&info, &o)? {
        storage.put(&dir.join(&rel), text.as_bytes())?;
    }
    Ok(dir)
}

/// A database or table name: letters, digits and `_`, at most 255; lower-cased
/// (Athena and Glue store names in lower case). Anything else is refused, so
/// nothing can be injected through a name.
pub fn ident(name: &str, what: &str) -> Result<String> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !ok {
        return Err(Error::Usage(format!(
            "invalid {what} name `{name}`: use letters, digits and _ (not starting with a digit), at most 255"
        )));
    }
    Ok(name.to_ascii_lowercase())
}

/// `s3://…/` or `file:///…/` with a trailing `/`; a local path becomes a `file://` URL.
pub fn normalise_location(loc: &str) -> Result<String> {
    if loc.contains(['\'', '\n', '\r', '\\', '`']) {
        return Err(Error::Usage(format!(
            "invalid location `{loc}`: quotes, backslashes and newlines cannot be written into the DDL (the location \
             defaults to the table's folder; name the table's location another way with --location, e.g. its s3:// URL)"
        )));
    }
    let url = if loc.starts_with("s3://") || loc.starts_with("file:/") {
        loc.to_string()
    } else if loc.contains("://") {
        return Err(Error::Usage(format!("invalid location `{loc}`: expected s3://… or a local path")));
    } else {
        let p = std::path::absolute(loc).map_err(|e| Error::io("resolve", loc, e))?;
        format!("file://{}", p.display())
    };
    Ok(if url.ends_with('/') { url } else { format!("{url}/") })
}

/// Parses an IPv4 CIDR into its first and last address.
pub fn parse_ipv4_cidr(cidr: &str) -> Result<(u32, u32)> {
    let bad = || Error::Usage(format!("invalid IPv4 CIDR `{cidr}`: expected e.g. 10.192.0.0/16"));
    let (addr, len) = cidr.split_once('/').ok_or_else(bad)?;
    let addr: std::net::Ipv4Addr = addr.parse().map_err(|_| bad())?;
    if len.is_empty() || len.len() > 2 || !len.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let len: u32 = len.parse().ok().filter(|l| *l <= 32).ok_or_else(bad)?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let lo = u32::from(addr) & mask;
    Ok((lo, lo | !mask))
}

fn q(s: &str) -> String {
    format!("`{s}`")
}

fn dq(s: &str) -> String {
    format!("\"{s}\"")
}

/// TBLPROPERTIES for partition projection over `partitions` of `layout`.
fn projection(layout: Layout, info: &TableInfo, o: &DdlOptions) -> Vec<(String, String)> {
    let mut p = vec![("projection.enabled".to_string(), "true".to_string())];
    let mut template = o.location.clone();
    for (i, c) in layout.columns().iter().enumerate() {
        let key = |k: &str| format!("projection.{}.{k}", c.name);
        let values = || {
            let mut v: Vec<&str> = info.partitions.iter().map(|p| p[i].as_str()).collect();
            v.sort();
            v.dedup();
            v
        };
        match c.projection {
            Projection::Date(fmt) => {
                let first = values().first().copied().unwrap_or("1970-01-01").to_string();
                p.push((key("type"), "date".into()));
                p.push((key("format"), fmt.into()));
                p.push((key("range"), format!("{first},NOW")));
                p.push((key("interval"), "1".into()));
                p.push((key("interval.unit"), "DAYS".into()));
            }
            Projection::Integer(lo, hi, digits) => {
                let (lo, hi) = if c.name == "year" {
                    let first: i64 = values().first().and_then(|v| v.parse().ok()).unwrap_or(1970);
                    (first, o.until_year.max(first))
                } else {
                    (i64::from(lo), i64::from(hi))
                };
                p.push((key("type"), "integer".into()));
                p.push((key("range"), format!("{lo},{hi}")));
                p.push((key("digits"), digits.to_string()));
            }
            Projection::Enum => {
                p.push((key("type"), "enum".into()));
                p.push((key("values"), values().join(",")));
            }
        }
        let _ = write!(template, "{}=${{{}}}/", c.name, c.name);
    }
    p.push(("storage.location.template".into(), template));
    p
}

fn props_block(props: &[(String, String)]) -> String {
    let lines: Vec<String> = props.iter().map(|(k, v)| format!("  '{k}' = '{v}'")).collect();
    format!("TBLPROPERTIES (\n{}\n)", lines.join(",\n"))
}

fn column_block(cols: &[(String, FieldType)], upper: bool) -> String {
    let lines: Vec<String> = cols
        .iter()
        .map(|(n, t)| format!("  {} {}", q(n), if upper { t.sql().to_ascii_uppercase() } else { t.sql().to_string() }))
        .collect();
    lines.join(",\n")
}

/// Athena `CREATE EXTERNAL TABLE` (one statement) with partition projection:
/// no partition ever has to be added by hand.
pub fn athena_create(info: &TableInfo, o: &DdlOptions) -> String {
    let parts: Vec<String> = info.layout.columns().iter().map(|c| format!("  {} string", q(c.name))).collect();
    format!(
        "CREATE EXTERNAL TABLE IF NOT EXISTS {}.{} (\n{}\n)\nPARTITIONED BY (\n{}\n)\nSTORED AS PARQUET\nLOCATION '{}'\n{};\n",
        q(&o.database),
        q(&o.table),
        column_block(&info.columns, false),
        parts.join(",\n"),
        o.location,
        props_block(&projection(info.layout, info, o))
    )
}

/// Athena's alternative to projection: `ALTER TABLE … ADD IF NOT EXISTS
/// PARTITION … LOCATION …` for every partition present, 100 per statement.
pub fn athena_add_partitions(info: &TableInfo, o: &DdlOptions) -> String {
    let cols = info.layout.columns();
    let mut out = String::new();
    for chunk in info.partitions.chunks(100) {
        let _ = writeln!(out, "ALTER TABLE {}.{} ADD IF NOT EXISTS", q(&o.database), q(&o.table));
        for values in chunk {
            let spec: Vec<String> = cols.iter().zip(values).map(|(c, v)| format!("{} = '{v}'", q(c.name))).collect();
            let _ = writeln!(
                out,
                "  PARTITION ({}) LOCATION '{}{}/'",
                spec.join(", "),
                o.location,
                join_path(cols, values)
            );
        }
        out.pop();
        out.push_str(";\n");
    }
    out
}

/// A Glue `TableInput` document for `aws glue create-table --cli-input-json file://…`.
pub fn glue_table_input(info: &TableInfo, o: &DdlOptions) -> Value {
    let mut params = serde_json::Map::new();
    params.insert("EXTERNAL".into(), "TRUE".into());
    params.insert("classification".into(), "parquet".into());
    for (k, v) in projection(info.layout, info, o) {
        params.insert(k, v.into());
    }
    json!({
        "DatabaseName": o.database,
        "TableInput": {
            "Name": o.table,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": params,
            "PartitionKeys": info.layout.columns().iter().map(|c| json!({"Name": c.name, "Type": "string"})).collect::<Vec<_>>(),
            "StorageDescriptor": {
                "Columns": info.columns.iter().map(|(n, t)| json!({"Name": n, "Type": t.sql()})).collect::<Vec<_>>(),
                "Location": o.location,
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                    "Parameters": {"serialization.format": "1"}
                }
            }
        }
    })
}

/// Spark SQL (Hive support, or Databricks): the database, the table `USING
/// PARQUET … PARTITIONED BY`, and `MSCK REPAIR TABLE` to register the partitions.
pub fn spark_create(info: &TableInfo, o: &DdlOptions) -> String {
    let mut cols = info.columns.clone();
    cols.extend(info.layout.columns().iter().map(|c| (c.name.to_string(), FieldType::String)));
    let parts: Vec<String> = info.layout.columns().iter().map(|c| q(c.name)).collect();
    let name = format!("{}.{}", q(&o.database), q(&o.table));
    format!(
        "CREATE DATABASE IF NOT EXISTS {};\n\nCREATE TABLE IF NOT EXISTS {name} (\n{}\n)\nUSING PARQUET\nPARTITIONED BY ({})\nLOCATION '{}';\n\nMSCK REPAIR TABLE {name};\n",
        q(&o.database),
        column_block(&cols, true),
        parts.join(", "),
        o.location,
    )
}

const RAW_PARTS: [&str; 3] = ["aws_account_id", "aws_region", "day"];

fn raw_columns(f: &Format) -> Vec<(String, FieldType)> {
    f.fields().iter().map(|c| (c.column_name(), c.ty())).collect()
}

/// The location of the raw logs, ending in `AWSLogs/`.
fn awslogs_root(location: &str) -> String {
    if location.trim_end_matches('/').ends_with("AWSLogs") {
        location.to_string()
    } else {
        format!("{location}AWSLogs/")
    }
}

/// Athena DDL over the raw text: columns from the header (no trailing comma,
/// no misspelled names), space-delimited, header line skipped, and partition
/// projection over the delivery path.
pub fn raw_athena_create(raw: &RawSpec, o: &DdlOptions) -> String {
    let root = awslogs_root(&o.location);
    let props = vec![
        ("skip.header.line.count".to_string(), "1".to_string()),
        ("projection.enabled".into(), "true".into()),
        ("projection.aws_account_id.type".into(), "enum".into()),
        ("projection.aws_account_id.values".into(), raw.accounts.join(",")),
        ("projection.aws_region.type".into(), "enum".into()),
        ("projection.aws_region.values".into(), raw.regions.join(",")),
        ("projection.day.type".into(), "date".into()),
        ("projection.day.format".into(), "yyyy/MM/dd".into()),
        ("projection.day.range".into(), format!("{},NOW", raw.first_day)),
        ("projection.day.interval".into(), "1".into()),
        ("projection.day.interval.unit".into(), "DAYS".into()),
        (
            "storage.location.template".into(),
            format!("{root}{}", delivery_dir("${aws_account_id}", &raw.service, "${aws_region}", "${day}")),
        ),
    ];
    let parts: Vec<String> = RAW_PARTS.iter().map(|c| format!("  {} string", q(c))).collect();
    format!(
        "CREATE EXTERNAL TABLE IF NOT EXISTS {}.{} (\n{}\n)\nPARTITIONED BY (\n{}\n)\nROW FORMAT DELIMITED FIELDS TERMINATED BY ' '\nSTORED AS TEXTFILE\nLOCATION '{root}'\n{};\n",
        q(&o.database),
        q(&o.table),
        column_block(&raw_columns(&raw.format), false),
        parts.join(",\n"),
        props_block(&props)
    )
}

/// Spark SQL over the raw text. Spark ignores Hive's `skip.header.line.count`,
/// so this uses Spark's CSV source (space-separated, each file's header line
/// skipped, `-` read as null); Spark has no partition projection, so each
/// delivery day found is added as a partition.
pub fn raw_spark_create(raw: &RawSpec, o: &DdlOptions) -> String {
    let root = awslogs_root(&o.location);
    let name = format!("{}.{}", q(&o.database), q(&o.table));
    let mut cols = raw_columns(&raw.format);
    cols.extend(RAW_PARTS.iter().map(|c| (c.to_string(), FieldType::String)));
    let parts: Vec<String> = RAW_PARTS.iter().map(|c| q(c)).collect();
    let mut out = format!(
        "CREATE DATABASE IF NOT EXISTS {};\n\nCREATE TABLE IF NOT EXISTS {name} (\n{}\n)\nUSING CSV\nOPTIONS (sep ' ', header 'true', nullValue '-')\nPARTITIONED BY ({})\nLOCATION '{root}';\n",
        q(&o.database),
        column_block(&cols, true),
        parts.join(", "),
    );
    out.push('\n');
    out.push_str(&raw_add_partitions(raw, o));
    out
}

/// `ALTER TABLE … ADD IF NOT EXISTS PARTITION … LOCATION …` for every delivery
/// day found in the raw logs, 100 per statement (the same text in Athena and Spark).
pub fn raw_add_partitions(raw: &RawSpec, o: &DdlOptions) -> String {
    let root = awslogs_root(&o.location);
    let name = format!("{}.{}", q(&o.database), q(&o.table));
    let mut out = String::new();
    for chunk in raw.days.chunks(100) {
        let _ = write!(out, "ALTER TABLE {name} ADD IF NOT EXISTS");
        for (acct, region, day) in chunk {
            let _ = write!(
                out,
                "\n  PARTITION (`aws_account_id` = '{acct}', `aws_region` = '{region}', `day` = '{day}') LOCATION '{root}{}'",
                delivery_dir(acct, &raw.service, region, day)
            );
        }
        out.push_str(";\n");
    }
    out
}

/// The first and last day (`YYYY-MM-DD`) of a table's partitions.
pub fn date_span(info: &TableInfo) -> Option<(String, String)> {
    let mut days: Vec<String> = info.partitions.iter().filter_map(|v| info.layout.day_text(v)).collect();
    days.sort();
    Some((days.first()?.clone(), days.last()?.clone()))
}

/// Every DDL file for a table, as (relative path, contents): what `convert`
/// writes to `OUT/_flowlake/ddl/` and `flowlake ddl --out-dir` writes.
pub fn ddl_files(info: &TableInfo, o: &DdlOptions) -> Result<Vec<(String, String)>> {
    let mut files = vec![
        ("athena.sql".to_string(), athena_create(info, o)),
        ("athena-partitions.sql".to_string(), athena_add_partitions(info, o)),
        ("glue-table.json".to_string(), serde_json::to_string_pretty(&glue_table_input(info, o)).expect("json") + "\n"),
        ("spark.sql".to_string(), spark_create(info, o)),
    ];
    if let Some((from, to)) = date_span(info) {
        for (dir, target) in
            [("athena", QueryTarget::AthenaParquet(info.layout)), ("spark", QueryTarget::SparkParquet(info.layout))]
        {
            for nq in named_queries(target, o, &from, &to)? {
                files.push((format!("queries/{dir}/{}", nq.name), nq.sql));
            }
        }
    }
    Ok(files)
}

/// Which table the named queries are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryTarget {
    /// The Parquet table flowlake wrote, in Athena (Trino) SQL.
    AthenaParquet(Layout),
    /// The raw text table, in Athena SQL (addresses are text there; `-` is not null).
    AthenaRaw,
    /// The Parquet table, in Spark SQL.
    SparkParquet(Layout),
}

/// One named query: a file name and its SQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedQuery {
    /// File name, e.g. `traffic-of-one-address.sql`.
    pub name: &'static str,
    /// The SQL.
    pub sql: String,
}

/// The SQL test that a row's partition is in `from..=to` (`YYYY-MM-DD`), for `target`.
fn date_range(target: QueryTarget, from: &str, to: &str) -> String {
    match target {
        QueryTarget::AthenaParquet(l) | QueryTarget::SparkParquet(l) => {
            let dialect =
                if matches!(target, QueryTarget::SparkParquet(_)) { SqlDialect::Spark } else { SqlDialect::Athena };
            format!("{} BETWEEN '{from}' AND '{to}'", l.day_sql(dialect))
        }
        QueryTarget::AthenaRaw => {
            format!("\"day\" BETWEEN '{}' AND '{}'", from.replace('-', "/"), to.replace('-', "/"))
        }
    }
}

/// The classic flow-log questions, each limited to the date range `from..=to`
/// (`YYYY-MM-DD`) so that only those partitions are read.
pub fn named_queries(target: QueryTarget, o: &DdlOptions, from: &str, to: &str) -> Result<Vec<NamedQuery>> {
    let (lo, hi) = parse_ipv4_cidr(&o.vpc_cidr)?;
    let spark = matches!(target, QueryTarget::SparkParquet(_));
    let id = |s: &str| if spark { q(s) } else { dq(s) };
    let table = format!("{}.{}", id(&o.database), id(&o.table));
    let range = date_range(target, from, to);
    let raw = target == QueryTarget::AthenaRaw;
    // In the raw text table a missing address is the text `-`; in Parquet it is null.
    let present = |c: &str| if raw { format!("{} <> '-'", id(c)) } else { format!("{} IS NOT NULL", id(c)) };
    let in_cidr = |c: &str, cidr: &str| -> String {
        if spark {
            let oct = |i: u32| format!("TRY_CAST(split({}, '\\\\.')[{i}] AS BIGINT)", id(c));
            let (a, b, c3, d) = (oct(0), oct(1), oct(2), oct(3));
            format!(
                "(instr({c}, ':') = 0 AND ({a} * 16777216 + {b} * 65536 + {c3} * 256 + {d}) BETWEEN {lo} AND {hi})",
                c = id(c)
            )
        } else {
            format!("contains('{cidr}', TRY_CAST({} AS IPADDRESS))", id(c))
        }
    };
    let bytes = if raw { format!("TRY_CAST({} AS BIGINT)", id("bytes")) } else { id("bytes") };
    let packets = if raw { format!("TRY_CAST({} AS BIGINT)", id("packets")) } else { id("packets") };
    let cidr = &o.vpc_cidr;
    let ip = &o.ip;
    let out = vec![
        NamedQuery {
            name: "traffic-of-one-address.sql",
            sql: format!(
                "-- Every flow to or from {ip}, {from} to {to}. Change the address and the dates.\nSELECT *\nFROM {table}\nWHERE {range}\n  AND ({src} = '{ip}' OR {dst} = '{ip}')\nLIMIT 1000;\n",
                src = id("srcaddr"),
                dst = id("dstaddr"),
            ),
        },
        NamedQuery {
            name: "traffic-inside-cidr.sql",
            sql: format!(
                "-- Flows with either address inside {cidr}, {from} to {to}.\nSELECT count(*) AS flows, sum({bytes}) AS bytes\nFROM {table}\nWHERE {range}\n  AND ({} OR {});\n",
                in_cidr("srcaddr", cidr),
                in_cidr("dstaddr", cidr)
            ),
        },
        NamedQuery {
            name: "sources-outside-vpc.sql",
            sql: format!(
                "-- Distinct source addresses outside the VPC ({cidr}), with flows and bytes, {from} to {to}.\nSELECT {src} AS srcaddr, count(*) AS flows, sum({bytes}) AS bytes\nFROM {table}\nWHERE {range}\n  AND {}\n  AND NOT coalesce({}, false)\nGROUP BY {src}\nORDER BY bytes DESC;\n",
                present("srcaddr"),
                in_cidr("srcaddr", cidr),
                src = id("srcaddr"),
            ),
        },
        NamedQuery {
            name: "top-talkers-by-bytes.sql",
            sql: format!(
                "-- The 20 address pairs that moved the most bytes, {from} to {to}.\nSELECT {src} AS srcaddr, {dst} AS dstaddr, sum({bytes}) AS bytes, sum({packets}) AS packets, count(*) AS flows\nFROM {table}\nWHERE {range}\n  AND {}\nGROUP BY {src}, {dst}\nORDER BY bytes DESC\nLIMIT 20;\n",
                present("srcaddr"),
                src = id("srcaddr"),
                dst = id("dstaddr"),
            ),
        },
        NamedQuery {
            name: "rejected-traffic-by-port.sql",
            sql: format!(
                "-- Rejected flows by destination port and protocol, {from} to {to}.\nSELECT {port} AS dstport, {proto} AS protocol, count(*) AS flows, sum({packets}) AS packets\nFROM {table}\nWHERE {range}\n  AND {action} = 'REJECT'\nGROUP BY {port}, {proto}\nORDER BY flows DESC\nLIMIT 50;\n",
                port = id("dstport"),
                proto = id("protocol"),
                action = id("action"),
            ),
        },
    ];
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert_eq!(ident("Flow_Logs", "table").unwrap(), "flow_logs");
        for bad in ["", "a-b", "a;drop table x", "a`b", "1abc", "x y"] {
            assert!(ident(bad, "table").is_err(), "{bad}");
        }
        assert!(normalise_location("s3://b/p'; DROP").is_err());
        assert_eq!(normalise_location("s3://b/p").unwrap(), "s3://b/p/");
        assert!(normalise_location("/tmp/lake").unwrap().starts_with("file:///tmp/lake/"));
    }

    #[test]
    fn cidrs() {
        assert_eq!(parse_ipv4_cidr("10.192.0.0/16").unwrap(), (0x0AC0_0000, 0x0AC0_FFFF));
        assert_eq!(parse_ipv4_cidr("10.192.7.9/16").unwrap(), (0x0AC0_0000, 0x0AC0_FFFF));
        assert_eq!(parse_ipv4_cidr("0.0.0.0/0").unwrap(), (0, u32::MAX));
        assert!(parse_ipv4_cidr("10.0.0.0/33").is_err());
        assert!(parse_ipv4_cidr("10.0.0/8").is_err());
        for bad in ["10.0.0.0/+8", "10.0.0.0/", "10.0.0.0/ 8", "10.0.0.0/008"] {
            assert!(parse_ipv4_cidr(bad).is_err(), "{bad}");
        }
    }
}
