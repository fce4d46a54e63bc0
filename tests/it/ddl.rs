//! The DDL: golden files pin the exact text; sqlglot parses every statement and
//! query; a real Spark runs the Spark DDL over converted and raw samples and
//! gets the converter's numbers.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use flowlake::convert::{ConvertOptions, NoProgress, convert};
use flowlake::ddl::{self, DdlOptions, QueryTarget};
use flowlake::format::Format;
use flowlake::generate::{self, GenerateOptions};
use flowlake::partition::Layout;
use flowlake::schema::FieldType;
use flowlake::storage::Location;
use flowlake::table::{RawSpec, TableInfo};
use serde_json::Value;

use crate::common::*;

fn opts(location: &str) -> DdlOptions {
    DdlOptions {
        database: "vpc".into(),
        table: "flow_logs".into(),
        location: location.into(),
        vpc_cidr: "10.192.0.0/16".into(),
        ip: "10.192.80.5".into(),
        until_year: 2026,
    }
}

fn golden(name: &str, text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("FLOWLAKE_UPDATE_GOLDEN").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
    }
    let want = fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {}; set FLOWLAKE_UPDATE_GOLDEN=1", path.display()));
    assert!(want == text, "{name} differs from its golden file {}:\n{text}", path.display());
}

fn info(layout: Layout) -> TableInfo {
    let partitions = match layout {
        Layout::Date => vec![vec!["2023-08-01".to_string()], vec!["2023-08-02".to_string()]],
        Layout::Hour => vec![vec!["2023-08-01".into(), "00".into()], vec!["2023-08-01".into(), "01".into()]],
        Layout::Aws | Layout::AwsHour => {
            let mut v: Vec<String> =
                ["123456789010", "vpcflowlogs", "us-east-1", "2023", "08", "01"].map(String::from).to_vec();
            if layout == Layout::AwsHour {
                v.push("05".into());
            }
            vec![v]
        }
    };
    TableInfo {
        layout,
        columns: vec![
            ("version".into(), FieldType::Int32),
            ("srcaddr".into(), FieldType::String),
            ("dstaddr".into(), FieldType::String),
            ("dstport".into(), FieldType::Int32),
            ("protocol".into(), FieldType::Int32),
            ("packets".into(), FieldType::Int64),
            ("bytes".into(), FieldType::Int64),
            ("start".into(), FieldType::Int64),
            ("end".into(), FieldType::Int64),
            ("action".into(), FieldType::String),
            ("type".into(), FieldType::String),
        ],
        partitions,
        files: 2,
        rows: 10,
    }
}

#[test]
fn golden_ddl_for_every_dialect_and_layout() {
    let o = opts("s3://my-bucket/flowlogs-parquet/").validated().unwrap();
    for layout in [Layout::Date, Layout::Hour, Layout::Aws, Layout::AwsHour] {
        for (rel, text) in ddl::ddl_files(&info(layout), &o).unwrap() {
            golden(&format!("{layout}/{rel}"), &text);
        }
    }
    let raw = RawSpec {
        format: Format::from_spec("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status").unwrap(),
        accounts: vec!["123456789010".into()],
        regions: vec!["us-east-1".into()],
        service: "vpcflowlogs".into(),
        days: vec![("123456789010".into(), "us-east-1".into(), "2023/08/01".into())],
        first_day: "2023/08/01".into(),
    };
    let ro = DdlOptions { table: "flow_logs_raw".into(), ..opts("s3://log-bucket/AWSLogs/") }.validated().unwrap();
    golden("raw/athena-raw.sql", &ddl::raw_athena_create(&raw, &ro));
    golden("raw/spark-raw.sql", &ddl::raw_spark_create(&raw, &ro));
    // Transit Gateway flow logs are delivered under their own service folder.
    let tgw = RawSpec { service: "transitgatewayflowlogs".into(), ..raw.clone() };
    for text in [ddl::raw_athena_create(&tgw, &ro), ddl::raw_spark_create(&tgw, &ro)] {
        assert!(text.contains("/transitgatewayflowlogs/") && !text.contains("/vpcflowlogs/"), "{text}");
    }
    for nq in ddl::named_queries(QueryTarget::AthenaRaw, &ro, "2023-08-01", "2023-08-03").unwrap() {
        golden(&format!("raw/queries/{}", nq.name), &nq.sql);
    }
}

#[test]
fn names_and_locations_cannot_inject() {
    for (db, table) in [("vpc", "x; DROP TABLE y"), ("a`b", "t"), ("vpc", "t'--")] {
        let o = DdlOptions { database: db.into(), table: table.into(), ..opts("s3://b/p/") };
        assert!(o.validated().is_err(), "{db}.{table}");
    }
    assert!(opts("s3://b/p' TBLPROPERTIES").validated().is_err());
    let (_, err) = flowlake_code(&["ddl", "/nonexistent", "--table", "bad-name"], 2);
    assert!(err.contains("invalid table name `bad-name`"), "{err}");
}

/// Converts a sample (VPC 10.192.0.0/16) with `layout`; returns (sample dir, lake dir, report).
fn converted(dir: &Path, layout: Layout, records: u64) -> (PathBuf, PathBuf, flowlake::report::RunReport) {
    let sample = dir.join("sample");
    if !sample.exists() {
        let mut o = GenerateOptions::new(&sample, records, 2);
        o.files_per_day = 6;
        o.format = generate::format_preset("v3").unwrap();
        o.lookup_tables = true;
        generate::generate(&o).unwrap();
    }
    let lake = dir.join(format!("lake-{layout}"));
    let mut d = opts(lake.to_str().unwrap());
    d.until_year = 2026;
    // Enriched, so that the DDL's enrichment columns are checked by every reader too.
    let lookup = sample.join(generate::LOOKUP_DIR);
    let enrich: Vec<flowlake::enrich::EnrichSpec> = [
        format!("aws-ip-ranges={}", lookup.join("ip-ranges.json").display()),
        format!("interfaces={}", lookup.join("network-interfaces.json").display()),
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let r = convert(
        &ConvertOptions::new(vec![Location::Local(sample.clone())], Location::Local(lake.clone()))
            .with_layout(layout)
            .with_ddl(Some(d))
            .with_enrich(enrich),
        &NoProgress,
    )
    .unwrap();
    assert!(r.columns.iter().any(|c| c == "src_aws_service") && r.columns.iter().any(|c| c == "eni_owner"));
    assert!(r.ddl_path.is_some());
    (sample, lake, r)
}

#[test]
fn sqlglot_parses_all_ddl_and_queries() {
    let dir = tempfile::tempdir().unwrap();
    for layout in [Layout::Date, Layout::Hour, Layout::Aws, Layout::AwsHour] {
        let (sample, lake, _) = converted(dir.path(), layout, 2_000);
        let ddl = lake.join("_flowlake/ddl");
        let f = |rel: &str| ddl.join(rel).to_string_lossy().into_owned();
        let mut athena = vec![format!("create:{}", f("athena.sql")), format!("any:{}", f("athena-partitions.sql"))];
        let mut spark = vec![format!("any:{}", f("spark.sql"))];
        for e in fs::read_dir(ddl.join("queries/athena")).unwrap() {
            athena.push(format!("select:{}", e.unwrap().path().display()));
        }
        for e in fs::read_dir(ddl.join("queries/spark")).unwrap() {
            spark.push(format!("select:{}", e.unwrap().path().display()));
        }
        assert_eq!(athena.len(), 7);
        let mut args = vec!["athena"];
        args.extend(athena.iter().map(String::as_str));
        py(&[&[py_script("sql_check.py").as_str()], &args[..]].concat());
        let mut args = vec!["spark"];
        args.extend(spark.iter().map(String::as_str));
        py(&[&[py_script("sql_check.py").as_str()], &args[..]].concat());
        // Glue's TableInput has the Parquet SerDe and the partition keys of the layout.
        let glue: Value = serde_json::from_str(&fs::read_to_string(ddl.join("glue-table.json")).unwrap()).unwrap();
        let keys: Vec<&str> = glue["TableInput"]["PartitionKeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["Name"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = layout.columns().iter().map(|c| c.name).collect();
        assert_eq!(keys, want);
        assert_eq!(
            glue["TableInput"]["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"],
            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
        );
        if layout == Layout::Date {
            let raw_dir = dir.path().join("raw-ddl");
            flowlake_code(
                &[
                    "ddl",
                    "--raw",
                    sample.to_str().unwrap(),
                    "--database",
                    "vpc",
                    "--vpc-cidr",
                    "10.192.0.0/16",
                    "--out-dir",
                    raw_dir.to_str().unwrap(),
                ],
                0,
            );
            let mut args = vec!["athena".to_string(), format!("create:{}", raw_dir.join("athena-raw.sql").display())];
            for e in fs::read_dir(raw_dir.join("queries/athena-raw")).unwrap() {
                args.push(format!("select:{}", e.unwrap().path().display()));
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            py(&[&[py_script("sql_check.py").as_str()], &refs[..]].concat());
        }
    }
}

fn ipv4(s: &str) -> Option<u32> {
    s.parse::<std::net::Ipv4Addr>().ok().map(u32::from)
}

#[test]
fn spark_runs_the_ddl_and_agrees_with_the_converter() {
    let dir = tempfile::tempdir().unwrap();
    let (sample, lake, report) = converted(dir.path(), Layout::Date, 20_000);
    let raw_sql = dir.path().join("spark-raw.sql");
    let (text, _) =
        flowlake_code(&["ddl", "--raw", sample.to_str().unwrap(), "--dialect", "spark", "--database", "vpc"], 0);
    fs::write(&raw_sql, text).unwrap();

    // An independent count over the raw text: flows with either address in 10.192.0.0/16.
    let (lo, hi) = (ipv4("10.192.0.0").unwrap(), ipv4("10.192.255.255").unwrap());
    let inside = |a: &str| ipv4(a).is_some_and(|v| (lo..=hi).contains(&v));
    let (mut cidr_flows, mut raw_rows) = (0u64, 0u64);
    for f in log_files(&sample) {
        for line in raw_text(&f).lines().skip(1) {
            let t: Vec<&str> = line.split(' ').collect();
            raw_rows += 1;
            // v3 preset: catalog order, so srcaddr and dstaddr are fields 4 and 5.
            if inside(t[3]) || inside(t[4]) {
                cidr_flows += 1;
            }
        }
    }
    assert_eq!(raw_rows, report.rows_written);

    let ddl = lake.join("_flowlake/ddl");
    // Every value of every row of AWS's columns, as Spark reads the Parquet files and the raw text.
    let aws: Vec<String> = report
        .columns
        .iter()
        .filter(|c| flowlake::schema::CATALOG.iter().any(|f| f.column == c.as_str()))
        .map(|c| format!("`{c}`"))
        .collect();
    let aws = aws.join(", ");
    let except = |a: &str, b: &str| {
        format!("SELECT count(*) FROM (SELECT {aws} FROM vpc.{a} EXCEPT ALL SELECT {aws} FROM vpc.{b}) AS d")
    };
    let spec = serde_json::json!({
        "ddl": [ddl.join("spark.sql"), raw_sql],
        "queries": {
            "parquet_not_raw": except("flow_logs", "flow_logs_raw"),
            "raw_not_parquet": except("flow_logs_raw", "flow_logs"),
            "count": "SELECT count(*) FROM vpc.flow_logs",
            "per_day": "SELECT `date`, count(*) FROM vpc.flow_logs GROUP BY `date` ORDER BY `date`",
            "cidr": format!("@{}", ddl.join("queries/spark/traffic-inside-cidr.sql").display()),
            "raw_count": "SELECT count(*) FROM vpc.flow_logs_raw",
            "enriched": "SELECT count(src_aws_service), count(dst_owner), count(eni_vpc_id) FROM vpc.flow_logs",
            "raw_per_day": "SELECT date_format(from_unixtime(`start`), 'yyyy-MM-dd') AS d, count(*) FROM vpc.flow_logs_raw GROUP BY d ORDER BY d",
            "raw_cidr": fs::read_to_string(ddl.join("queries/spark/traffic-inside-cidr.sql")).unwrap()
                .replace("`vpc`.`flow_logs`", "`vpc`.`flow_logs_raw`")
                .replace("`date` BETWEEN", "date_format(from_unixtime(`start`), 'yyyy-MM-dd') BETWEEN"),
        }
    });
    let spec_path = dir.path().join("spec.json");
    fs::write(&spec_path, spec.to_string()).unwrap();
    let work = dir.path().join("spark");
    fs::create_dir_all(&work).unwrap();
    let out = py(&[&py_script("spark_check.py"), work.to_str().unwrap(), spec_path.to_str().unwrap()]);
    let res: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();

    let n = report.rows_written;
    assert_eq!(res["count"][0][0], n);
    assert_eq!(
        (&res["parquet_not_raw"][0][0], &res["raw_not_parquet"][0][0]),
        (&serde_json::json!(0), &serde_json::json!(0)),
        "{res}"
    );
    // Spark reads the enrichment columns the DDL declares, as many values as the files hold.
    let nulls = nulls(&read_table(&lake));
    let filled = |c: &str| n - nulls.get(c).copied().unwrap_or(0);
    for (i, c) in ["src_aws_service", "dst_owner", "eni_vpc_id"].iter().enumerate() {
        assert!(filled(c) > 0, "{c} has values");
        assert_eq!(res["enriched"][0][i], filled(c), "{c}");
    }
    assert_eq!(res["raw_count"][0][0], n);
    let per_day: BTreeMap<String, u64> =
        report.partitions.iter().map(|(k, v)| (k.trim_start_matches("date=").to_string(), v.rows)).collect();
    let spark_days = |key: &str| -> BTreeMap<String, u64> {
        res[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(spark_days("per_day"), per_day);
    assert_eq!(spark_days("raw_per_day"), per_day);
    assert!(cidr_flows > 0 && cidr_flows < n);
    assert_eq!(res["cidr"][0][0], cidr_flows);
    assert_eq!(res["raw_cidr"][0][0], cidr_flows);
    assert_eq!(res["cidr"][0][1], res["raw_cidr"][0][1], "bytes agree between the Parquet and raw tables");
}

/// Raw logs of VPC and Transit Gateway flow logs under one root cannot be one raw table
/// (their fields differ, and the delivery folder names the service): a usage error.
#[test]
fn raw_ddl_over_two_services_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n";
    for service in ["vpcflowlogs", "transitgatewayflowlogs"] {
        let d = dir.path().join(format!("AWSLogs/123456789010/{service}/us-east-1/2023/08/01"));
        fs::create_dir_all(&d).unwrap();
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, header.as_bytes()).unwrap();
        fs::write(d.join(format!("{service}.log.gz")), e.finish().unwrap()).unwrap();
    }
    let (_, err) = flowlake_code(&["ddl", "--raw", dir.path().to_str().unwrap(), "--dialect", "spark"], 2);
    assert!(err.contains("come from transitgatewayflowlogs and vpcflowlogs"), "{err}");
}
