//! Real-world samples written by other projects (`../shared/fixtures/`):
//! they convert without loss, and where the project ships its expected
//! parse, our values agree (or differ on purpose, as noted).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use flowlake::convert::{ConvertOptions, NoProgress, convert};
use flowlake::format::Format;
use flowlake::report::{RunReport, RunStatus, rfc3339};
use flowlake::storage::Location;
use serde_json::Value;

use crate::common::*;

/// A dated folder, so that records of formats without `start` take the file's date.
const DATED: &str = "AWSLogs/123456789010/vpcflowlogs/us-east-1/2021/03/26";

type Row = BTreeMap<String, Option<String>>;

/// Converts files (copied into a dated folder) with one thread; returns the report and the rows.
fn convert_files(files: &[(&str, Vec<u8>)], format: Option<&str>) -> (RunReport, Vec<Row>) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in").join(DATED);
    fs::create_dir_all(&input).unwrap();
    for (name, body) in files {
        fs::write(input.join(name), body).unwrap();
    }
    let lake = dir.path().join("lake");
    let opts = ConvertOptions::new(vec![Location::Local(dir.path().join("in"))], Location::Local(lake.clone()))
        .with_threads(1)
        .with_format(format.map(|f| Format::from_spec(f).unwrap()));
    let r = convert(&opts, &NoProgress).unwrap();
    assert_eq!(r.rows_in, r.rows_written + r.rows_rejected);
    let mut rows = Vec::new();
    if lake.exists() {
        for (_, b) in read_table(&lake) {
            for i in 0..b.num_rows() {
                rows.push(b.schema().fields().iter().map(|f| (f.name().clone(), cell(&b, f.name(), i))).collect());
            }
        }
    }
    (r, rows)
}

fn fixture(rel: &str) -> PathBuf {
    fixtures().join(rel)
}

/// Records of a file with a header (its first line), read with a plain split.
fn record_count(path: &Path) -> u64 {
    raw_text(path).lines().skip(1).count() as u64
}

#[test]
fn every_sample_with_a_header_converts_without_loss() {
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in ["elastic", "lambda-promtail", "vrl", "flowlogs-reader", "otel-awslogs"] {
        for e in fs::read_dir(fixture(dir)).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let with_header = name.contains("with-header")
                || name == "vpcflowlog.log.gz"
                || name.starts_with("V3_FILE")
                || name.starts_with("V4_FILE")
                || (dir == "otel-awslogs" && name.starts_with("valid_") && name.ends_with(".log"));
            if with_header {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 16, "{files:?}");
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        let (r, _) = convert_files(&[(name, fs::read(f).unwrap())], None);
        let n = record_count(f);
        assert_eq!((r.status, r.rows_in, r.rows_written, r.rows_rejected), (RunStatus::Ok, n, n, 0), "{name}");
        // Every value, compared with a plain split of the raw text.
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join(DATED);
        fs::create_dir_all(&input).unwrap();
        fs::copy(f, input.join(name)).unwrap();
        let lake = dir.path().join("lake");
        convert(
            &ConvertOptions::new(vec![Location::Local(dir.path().join("AWSLogs"))], Location::Local(lake.clone())),
            &NoProgress,
        )
        .unwrap();
        let table = read_table(&lake);
        let cols = columns_of(&table);
        assert!(
            table_rows(&table, &cols) == raw_rows(&[input.join(name)], &cols),
            "{name}: values differ from the raw text"
        );
    }
}

#[test]
fn headerless_samples_convert_with_format() {
    // NAME.log is NAME.with-header.log(.gz) without its header line.
    let pairs = [
        ("elastic/extra-samples.log", "elastic/extra-samples.with-header.log.gz"),
        ("elastic/v5-all-fields.log", "elastic/v5-all-fields.with-header.log.gz"),
        ("elastic/v8-samples.log", "elastic/v8-samples.with-header.log.gz"),
        ("elastic/tgw-samples.log", "elastic/tgw-samples.with-header.log.gz"),
        ("vrl/default-v2.log", "vrl/default-v2.with-header.log"),
        ("vrl/ecs-v7.log", "vrl/ecs-v7.with-header.log"),
        ("vrl/nat-gateway-custom.log", "vrl/nat-gateway-custom.with-header.log"),
        ("vrl/tcp-flag-sequence-v3.log", "vrl/tcp-flag-sequence-v3.with-header.log"),
        ("vrl/traffic-path-v5.log", "vrl/traffic-path-v5.with-header.log"),
        ("vrl/transit-gateway-custom-v3.log", "vrl/transit-gateway-custom-v3.with-header.log"),
    ];
    for (bare, with) in pairs {
        let with_text = raw_text(&fixture(with));
        let header = with_text.lines().next().unwrap();
        let (a, rows_a) = convert_files(&[("x.log", fs::read(fixture(bare)).unwrap())], Some(header));
        let (b, rows_b) = convert_files(&[("x.log", with_text.clone().into_bytes())], None);
        assert_eq!((a.rows_written, a.rows_rejected), (b.rows_written, 0), "{bare}");
        assert_eq!(rows_a, rows_b, "{bare}");
    }
}

#[test]
fn vrl_v8_to_v11_fields() {
    // VRL's v9-v11 field names are not verified AWS spellings; this is the field order of its test vector.
    let format = "version srcaddr dstaddr srcport dstport protocol start end action log-status reject-reason resource-id \
                  encryption-status instance-tag instance-tag-2 interface-tag interface-tag-2 asg-tag asg-tag-2 interface-type \
                  next-hop-interface-id next-hop-subnet-id next-hop-az-id next-hop-vpc-id next-hop-interface-type";
    let (r, rows) = convert_files(&[("x.log", fs::read(fixture("vrl/v8-to-v11.log")).unwrap())], Some(format));
    assert_eq!((r.rows_written, r.rows_rejected), (2, 0));
    let first = rows.iter().find(|r| r["action"].as_deref() == Some("REJECT")).unwrap();
    assert_eq!(first["version"].as_deref(), Some("11"));
    assert_eq!(first["resource_id"].as_deref(), Some("nat-0c50d5961bcb2d47b"));
    assert_eq!(first["next_hop_interface_type"].as_deref(), Some("network_load_balancer"));
    let second = rows.iter().find(|r| r["action"].as_deref() == Some("ACCEPT")).unwrap();
    assert_eq!(second["reject_reason"], None);
}

/// Compares a project's expected parse (a JSON object keyed by column) with our row.
fn assert_matches(want: &serde_json::Map<String, Value>, got: &Row, ctx: &str) {
    for (k, v) in want {
        let ours = got.get(k).unwrap_or_else(|| panic!("{ctx}: no column {k} in {got:?}")).clone();
        let expected = match v {
            Value::Null => None,
            Value::Number(n) => Some(n.to_string()),
            // flowlogs-reader gives start/end as datetimes; we keep AWS's Unix seconds.
            Value::String(s) if (k == "start" || k == "end") && s.ends_with('Z') => {
                let secs: i64 = ours.as_deref().unwrap().parse().unwrap();
                assert_eq!(&rfc3339(secs), s, "{ctx}: {k}");
                continue;
            }
            Value::String(s) => Some(s.clone()),
            other => panic!("{ctx}: unexpected {other}"),
        };
        // VRL types encryption_status as a number; its Parquet type is not confirmed, so we keep a string
        // with the same digits. The comparison above is on the text, so both read "1".
        assert_eq!(ours, expected, "{ctx}: column {k}");
    }
}

fn one_record(value: &str, format: Option<&str>) -> Row {
    let (r, mut rows) = convert_files(
        &[("x.log", format!("{value}\n").into_bytes())],
        Some(format.unwrap_or(&flowlake::schema::DEFAULT_FORMAT.join(" "))),
    );
    assert_eq!((r.rows_written, r.rows_rejected), (1, 0), "{value}");
    rows.remove(0)
}

#[test]
fn agrees_with_vrl_expected_parses() {
    let cases: Value =
        serde_json::from_str(&fs::read_to_string(fixture("vrl/test_function-expected.json")).unwrap()).unwrap();
    for c in cases.as_array().unwrap() {
        let row = one_record(c["value"].as_str().unwrap(), c["format"].as_str());
        assert_matches(c["want"].as_object().unwrap(), &row, c["name"].as_str().unwrap());
    }
    let doc: Value =
        serde_json::from_str(&fs::read_to_string(fixture("vrl/parse_aws_vpc_flow_log.json")).unwrap()).unwrap();
    let examples = doc["examples"].as_array().unwrap();
    assert!(examples.len() >= 4);
    for e in examples {
        let src = e["source"].as_str().unwrap();
        let quoted: Vec<&str> = src.split('"').skip(1).step_by(2).collect();
        let row = one_record(quoted[0], quoted.get(1).copied());
        assert_matches(e["return"].as_object().unwrap(), &row, e["title"].as_str().unwrap());
    }
}

#[test]
fn agrees_with_flowlogs_reader_expected_parses() {
    let exp: Value =
        serde_json::from_str(&fs::read_to_string(fixture("flowlogs-reader/expected.json")).unwrap()).unwrap();
    let v2 = fs::read_to_string(fixture("flowlogs-reader/V2_RECORDS.log")).unwrap();
    let row = one_record(v2.lines().next().unwrap(), None);
    assert_matches(exp["FlowRecordTestCase.test_parse"]["expected"].as_object().unwrap(), &row, "V2 line 1");
    for (key, file) in [
        ("S3FlowLogsReaderTestCase.test_serial", "V3_FILE.log"),
        ("S3FlowLogsReaderTestCase.test_serial_v4", "V4_FILE.log"),
    ] {
        let (r, rows) = convert_files(&[(file, fs::read(fixture(&format!("flowlogs-reader/{file}"))).unwrap())], None);
        assert_eq!((r.rows_written, r.rows_rejected), (2, 0));
        for want in exp[key]["expected"].as_array().unwrap() {
            let w = want.as_object().unwrap();
            let row = rows
                .iter()
                .find(|r| {
                    r["srcaddr"].as_deref() == w["srcaddr"].as_str()
                        && r["bytes"].as_deref() == Some(&w["bytes"].to_string())
                })
                .unwrap_or_else(|| panic!("{file}: no row for {want}"));
            assert_matches(w, row, file);
        }
    }
    // The all-headerless V2 file converts completely with the default format, NODATA and SKIPDATA included.
    let (r, rows) = convert_files(&[("v2.log", v2.into_bytes())], Some(&flowlake::schema::DEFAULT_FORMAT.join(" ")));
    assert_eq!((r.rows_written, r.rows_rejected), (5, 0));
    assert_eq!(rows.iter().filter(|r| r["srcaddr"].is_none()).count(), 2);
}

#[test]
fn agrees_with_otel_expected_parses() {
    // valid_vpc_flow_log_expected.yaml: an 11-digit account id stays exactly as written (no zero padding).
    let (r, rows) =
        convert_files(&[("a.log", fs::read(fixture("otel-awslogs/valid_vpc_flow_log.log")).unwrap())], None);
    assert_eq!((r.rows_written, r.rows_rejected), (1, 0));
    let row = &rows[0];
    assert_eq!(row["account_id"].as_deref(), Some("12345678910"));
    assert_eq!(row["version"].as_deref(), Some("2"));
    assert_eq!(row["interface_id"].as_deref(), Some("eni-0eb1e4178af74336c"));
    assert_eq!(row["start"].as_deref(), Some("1742570089"));
    assert_eq!(row["end"].as_deref(), Some("1742570142"));
    assert_eq!(row["log_status"].as_deref(), Some("NODATA"));
    assert_eq!(row["srcaddr"], None);

    // The multi-record file has no final newline: its last record still counts.
    let (r, _) =
        convert_files(&[("m.log", fs::read(fixture("otel-awslogs/valid_vpc_flow_log_multi.log")).unwrap())], None);
    assert_eq!((r.rows_written, r.rows_rejected), (2, 0));

    // Too few / too many fields: OTel's older tests expect an error (its newer expected file emits a
    // partial record, guessing which field is missing). We keep the line whole in the rejects file, with the reason.
    for (file, found) in [("vpc_flow_log_too_few_fields.log", 13), ("vpc_flow_log_too_many_fields.log", 15)] {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(file);
        fs::copy(fixture(&format!("otel-awslogs/{file}")), &p).unwrap();
        let lake = dir.path().join("lake");
        let r = convert(&ConvertOptions::new(vec![Location::Local(p)], Location::Local(lake)), &NoProgress).unwrap();
        assert_eq!((r.rows_in, r.rows_written, r.rows_rejected), (1, 0, 1), "{file}");
        let rej = rejects(r.rejects_path.as_deref().unwrap());
        assert_eq!(rej[0].1, 2);
        assert_eq!(rej[0].2, format!("wrong field count: expected 14 fields, found {found}"));
    }
}
