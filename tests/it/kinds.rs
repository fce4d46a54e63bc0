//! Input kinds besides AWS's S3 text: CloudWatch Logs exports and subscription payloads,
//! and Firehose deliveries. Each is built here in the shape AWS documents (and from the
//! shared fixtures), and converts to the same rows as the same records given as text.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use flowlake::convert::{ConvertOptions, NoProgress, convert};
use flowlake::format::Format;
use flowlake::input::InputKind;
use flowlake::report::RunReport;
use flowlake::schema::{CATALOG, FieldType};
use flowlake::storage::Location;

use crate::common::*;

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn opts(input: &Path, lake: &Path) -> ConvertOptions {
    ConvertOptions::new(vec![Location::Local(input.into())], Location::Local(lake.into()))
}

fn run(o: &ConvertOptions) -> RunReport {
    let r = convert(o, &NoProgress).unwrap();
    assert_eq!(r.rows_in, r.rows_written + r.rows_rejected, "accounting: {r:?}");
    r
}

/// The rows of a table over the columns of the text table (sorted).
fn rows(lake: &Path) -> (Vec<String>, Vec<String>) {
    let t = read_table(lake);
    let cols = columns_of(&t);
    (table_rows(&t, &cols), cols)
}

/// A generated sample as text files, and its records (header lines left out), file by file.
fn sample(dir: &Path, records: u64) -> (PathBuf, Vec<Vec<String>>) {
    let text = dir.join("text");
    generate_sample(&text, records, 2, 3);
    let files = log_files(&text);
    let per_file = files.iter().map(|f| raw_text(f).lines().skip(1).map(str::to_string).collect::<Vec<_>>()).collect();
    (text, per_file)
}

/// A CloudWatch Logs export object: each line the event's timestamp, a space, the record.
fn export_object(records: &[String]) -> Vec<u8> {
    let mut s = String::new();
    for (i, r) in records.iter().enumerate() {
        s.push_str(&format!("2023-08-01T00:{:02}:{:02}.{:03}Z {r}\n", i / 60 % 60, i % 60, i % 1000));
    }
    gz(s.as_bytes())
}

/// A subscription payload as Firehose writes it: a control message, then DATA_MESSAGE
/// envelopes of up to 40 events each, concatenated.
fn subscription_object(records: &[String]) -> Vec<u8> {
    let mut s = String::from(
        r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1690848000000,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#,
    );
    for (n, chunk) in records.chunks(40).enumerate() {
        let events: Vec<serde_json::Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, m)| serde_json::json!({"id": format!("{n}{i:04}"), "timestamp": 1690848000000u64, "message": m}))
            .collect();
        let envelope = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "123456789012",
            "logGroup": "/aws/vpc/flowlogs", "logStream": "eni-0123456789abcdef0",
            "subscriptionFilters": ["to-firehose"], "logEvents": events});
        s.push_str(&envelope.to_string());
    }
    gz(s.as_bytes())
}

/// A Firehose delivery: one `{"message": …}` object per record, concatenated without
/// delimiters (Firehose's default) or one per line.
fn firehose_object(records: &[String], newline: bool) -> Vec<u8> {
    let mut s = String::new();
    for r in records {
        s.push_str(&serde_json::json!({ "message": r }).to_string());
        if newline {
            s.push('\n');
        }
    }
    s.into_bytes()
}

/// AWS's Parquet schema: each field's column and physical type.
fn aws_types() -> String {
    let m: serde_json::Map<String, serde_json::Value> =
        CATALOG.iter().map(|f| (f.column.to_string(), f.ty.parquet().into())).collect();
    serde_json::Value::Object(m).to_string()
}

/// A Parquet delivery written with arrow-rs in AWS's schema (columns named and typed as
/// AWS's Parquet deliveries have them, nullable, `-` as null; `\u{1}` in a record is a
/// space inside a string value).
fn parquet_object(header: &str, records: &[String]) -> Vec<u8> {
    let names: Vec<&str> = header.split(' ').collect();
    let records: Vec<String> = records.to_vec();
    let rows: Vec<Vec<String>> =
        records.iter().map(|r| r.split(' ').map(|v| v.replace('\u{1}', " ")).collect()).collect();
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let f = CATALOG.iter().find(|f| f.name == *name).expect("a catalog field");
        let values = rows.iter().map(|r| (r[i] != "-").then_some(r[i].as_str()));
        let (ty, a): (DataType, ArrayRef) = match f.ty {
            FieldType::Int32 => {
                (DataType::Int32, Arc::new(values.map(|v| v.map(|v| v.parse().unwrap())).collect::<Int32Array>()))
            }
            FieldType::Int64 => {
                (DataType::Int64, Arc::new(values.map(|v| v.map(|v| v.parse().unwrap())).collect::<Int64Array>()))
            }
            FieldType::String => (DataType::Utf8, Arc::new(values.collect::<StringArray>())),
        };
        fields.push(Field::new(f.column, ty, true));
        arrays.push(a);
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    let mut out = Vec::new();
    // Gzip pages, as AWS writes them.
    let gzip = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::GZIP(Default::default()))
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), Some(gzip)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

#[test]
fn parquet_deliveries_written_by_pyarrow_convert_to_the_rows_of_the_same_text() {
    let dir = tempfile::tempdir().unwrap();
    let (text, files) = sample(dir.path(), 3000);
    let pq = dir.path().join("parquet");
    let written = py(&[&py_script("aws_parquet.py"), text.to_str().unwrap(), pq.to_str().unwrap(), &aws_types()]);
    assert_eq!(written.trim(), "3000");
    let (lake_text, lake_pq) = (dir.path().join("a"), dir.path().join("b"));
    run(&opts(&text, &lake_text));
    // Found by the default globs (`*.log.parquet`) and by their content.
    let r = run(&opts(&pq, &lake_pq));
    assert_eq!(r.input_kinds, [("parquet".to_string(), files.len() as u64)].into(), "{r:?}");
    assert_eq!((r.rows_rejected, r.header_lines, r.files_damaged.len()), (0, 0, 0));
    assert!(r.notes.is_empty(), "Parquet names its fields: {r:?}");
    assert_eq!(rows(&lake_pq), rows(&lake_text));
    let again = run(&opts(&pq, &lake_pq));
    assert_eq!((again.files_skipped, again.rows_in), (files.len() as u64, 0));
}

#[test]
fn hostile_parquet_inputs_are_named_and_their_rows_counted() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in/2023/08/01");
    let good =
        |port: u32| format!("2 123456789012 eni-1 10.0.0.1 10.0.0.2 {port} 443 6 1 40 1690848000 1690848060 ACCEPT OK");
    let header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
    // A row whose value cannot be one field of a record, and one out of its field's range.
    let records = vec![good(1), good(2).replace("eni-1", "eni\u{1}1"), good(3).replace(" 443 ", " 70000 "), good(4)];
    write(&input.join("a.log.parquet"), &parquet_object(header, &records));
    // Cut short, and not Parquet past its magic bytes.
    let whole = parquet_object(header, &records);
    write(&input.join("b-cut.log.parquet"), &whole[..whole.len() / 2]);
    write(
        &input.join("c-fake.log.parquet"),
        b"PAR1 this is not a Parquet file
",
    );
    // A column of a type no flow-log field has.
    let schema = Arc::new(Schema::new(vec![Field::new("ratio", DataType::Float64, true)]));
    let batch =
        RecordBatch::try_new(schema, vec![Arc::new(arrow_array::Float64Array::from(vec![0.5])) as ArrayRef]).unwrap();
    let mut float = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut float, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    write(&input.join("d-float.log.parquet"), &float);
    // A flipped byte in the deflate data of its first gzip page.
    let mut flipped = whole.clone();
    let page = flipped.windows(3).position(|w| w == [0x1f, 0x8b, 0x08]).expect("a gzip page");
    flipped[page + 10] ^= 0x5a;
    write(&input.join("e-flipped.log.parquet"), &flipped);
    let r = run(&opts(&dir.path().join("in"), &dir.path().join("lake")));
    assert_eq!((r.rows_written, r.rows_rejected), (2, 2), "{r:?}");
    assert_eq!(
        r.rejects_by_reason,
        [("control_character".to_string(), 1), ("invalid_value".to_string(), 1)].into(),
        "{r:?}"
    );
    let rej = rejects(r.rejects_path.as_deref().unwrap());
    let mut positions: Vec<u64> = rej.iter().map(|r| r.1).collect();
    positions.sort();
    assert_eq!(positions, [2, 3], "rows counted from 1: {rej:?}");
    let damaged =
        |name: &str| r.files_damaged.iter().find(|d| d.file.ends_with(name)).unwrap_or_else(|| panic!("{r:?}"));
    assert!(damaged("b-cut.log.parquet").error.contains("Parquet"));
    assert!(damaged("c-fake.log.parquet").error.contains("not a readable Parquet file"));
    assert!(damaged("d-float.log.parquet").error.contains("`ratio` is of type Float64"));
    let e = &damaged("e-flipped.log.parquet").error;
    assert!(e.starts_with("records unreadable from row 1: "), "a row, not a byte, of a Parquet file: {e}");
    assert!(e.contains("a GZIP page is damaged") && e.contains("fetch the file again"), "{e}");
    assert!(!e.contains("Parquet argument error"), "the crate's chain of error kinds is left out: {e}");
}

#[test]
fn cloudwatch_exports_convert_to_the_rows_of_the_same_text() {
    let dir = tempfile::tempdir().unwrap();
    let (text, files) = sample(dir.path(), 3000);
    let export = dir.path().join("export");
    for (i, records) in files.iter().enumerate() {
        write(&export.join(format!("0f1e2d3c-task/eni-{i:017x}/000000.gz")), &export_object(records));
    }
    write(&export.join("0f1e2d3c-task/aws-logs-write-test"), b"Permission Check Successful");
    let (lake_text, lake_export) = (dir.path().join("a"), dir.path().join("b"));
    run(&opts(&text, &lake_text));
    let r = run(&opts(&export, &lake_export));
    assert_eq!(r.input_kinds, [("cloudwatch-export".to_string(), files.len() as u64)].into());
    assert_eq!((r.rows_rejected, r.header_lines), (0, 0));
    assert!(r.notes.iter().any(|n| n.contains("AWS's default format") && n.contains("cloudwatch-export")), "{r:?}");
    assert_eq!(rows(&lake_export), rows(&lake_text));
    // Incremental like text: nothing new the second time.
    let again = run(&opts(&export, &lake_export));
    assert_eq!((again.files_skipped, again.rows_in), (files.len() as u64, 0));
}

#[test]
fn an_export_of_a_custom_format_takes_format_and_rejects_lines_without_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("exportedlogs/2024/12/05/task/eni-1/000000.gz");
    let lines = "2024-12-05T20:20:00.000Z 2 eni-1235b8ca123456789 172.31.16.139 172.31.16.21\n\
                 2 eni-1235b8ca123456789 172.31.9.69 172.31.9.12\n\
                 2024-12-05T20:20:01Z 2 eni-1235b8ca123456789 172.31.9.69 172.31.9.12\n";
    write(&input, &gz(lines.as_bytes()));
    let lake = dir.path().join("lake");
    let format = Format::from_spec("${version} ${interface-id} ${srcaddr} ${dstaddr}").unwrap();
    let r = run(&opts(&dir.path().join("exportedlogs"), &lake).with_format(Some(format)));
    assert_eq!((r.rows_written, r.rows_rejected), (2, 1));
    assert_eq!(r.rejects_by_reason, [("no_timestamp".to_string(), 1)].into());
    assert!(r.notes.is_empty(), "--format was given: nothing assumed");
    let rej = rejects(r.rejects_path.as_deref().unwrap());
    assert_eq!((rej[0].0.as_str(), rej[0].1), (input.to_str().unwrap(), 2));
    assert!(rej[0].2.starts_with("no timestamp"), "{rej:?}");
    let (got, cols) = rows(&lake);
    assert_eq!(cols, ["version", "interface_id", "srcaddr", "dstaddr"]);
    assert_eq!(got[0], "2 eni-1235b8ca123456789 172.31.16.139 172.31.16.21");
    // Without --format, records that do not have the default format's 14 fields cannot be read.
    let r = run(&opts(&dir.path().join("exportedlogs"), &dir.path().join("lake2")));
    assert_eq!((r.rows_written, r.rows_rejected), (0, 3));
    assert!(r.files_unusable[0].reason.contains("pass --format"), "{r:?}");
}

#[test]
fn subscription_payloads_convert_to_the_rows_of_the_same_text() {
    let dir = tempfile::tempdir().unwrap();
    let (text, files) = sample(dir.path(), 3000);
    let subs = dir.path().join("subs");
    for (i, records) in files.iter().enumerate() {
        let name = format!("2023/08/01/00/to-s3-1-2023-08-01-00-{i:02}-00-0b1c2d3e.gz");
        write(&subs.join(name), &subscription_object(records));
    }
    let (lake_text, lake_subs) = (dir.path().join("a"), dir.path().join("b"));
    run(&opts(&text, &lake_text));
    let r = run(&opts(&subs, &lake_subs));
    assert_eq!(r.input_kinds, [("cloudwatch-subscription".to_string(), files.len() as u64)].into());
    assert_eq!((r.rows_rejected, r.objects_skipped), (0, files.len() as u64));
    assert_eq!(rows(&lake_subs), rows(&lake_text));
}

#[test]
fn firehose_deliveries_convert_to_the_rows_of_the_same_text() {
    let dir = tempfile::tempdir().unwrap();
    let (text, files) = sample(dir.path(), 3000);
    let fh = dir.path().join("firehose");
    for (i, records) in files.iter().enumerate() {
        let name = format!("2023/08/01/00/flowlogs-1-2023-08-01-00-{i:02}-00-0b1c2d3e");
        // Plain and concatenated (Firehose's defaults), gzip, and one record per line.
        match i % 3 {
            0 => write(&fh.join(name), &firehose_object(records, false)),
            1 => write(&fh.join(format!("{name}.gz")), &gz(&firehose_object(records, false))),
            _ => write(&fh.join(name), &firehose_object(records, true)),
        }
    }
    let (lake_text, lake_fh) = (dir.path().join("a"), dir.path().join("b"));
    run(&opts(&text, &lake_text));
    let r = run(&opts(&fh, &lake_fh).with_globs(vec!["*".into()]));
    assert_eq!(r.input_kinds, [("firehose".to_string(), files.len() as u64)].into());
    assert_eq!(r.rows_rejected, 0);
    assert_eq!(rows(&lake_fh), rows(&lake_text));
}

#[test]
fn the_shared_subscription_fixtures_convert() {
    let dir = tempfile::tempdir().unwrap();
    let fx = fixtures().join("otel-awslogs");
    let input = dir.path().join("in");
    write(&input.join("default.json.gz"), &gz(&fs::read(fx.join("valid_vpc_flow_cw.json")).unwrap()));
    let lake = dir.path().join("lake");
    let r = run(&opts(&input, &lake));
    assert_eq!((r.rows_written, r.rows_rejected, r.files_damaged.len()), (2, 0, 0));
    let (got, cols) = rows(&lake);
    assert_eq!(cols.len(), 14);
    assert_eq!(
        got,
        [
            "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
            "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",
        ]
    );
    // The custom-format example (four fields, no start: the date comes from the path), as
    // plain JSON picked with --glob.
    let custom = dir.path().join("custom/2024/12/05/x.json");
    write(&custom, &fs::read(fx.join("valid_vpc_flow_cw_custom.json")).unwrap());
    let lake = dir.path().join("lake2");
    let format = Format::from_spec("version interface-id srcaddr dstaddr").unwrap();
    let o = opts(&dir.path().join("custom"), &lake).with_globs(vec!["*.json".into()]).with_format(Some(format));
    let r = run(&o);
    assert_eq!((r.rows_written, r.rows_rejected), (2, 0));
    assert_eq!(r.partitions.keys().collect::<Vec<_>>(), ["date=2024-12-05"]);
    assert_eq!(
        rows(&lake).0,
        ["2 eni-1235b8ca123456789 172.31.16.139 172.31.16.21", "2 eni-1235b8ca123456789 172.31.9.69 172.31.9.12"]
    );
}

/// Hostile payloads: every event ends as a row or a reject, damage is named, nothing panics.
#[test]
fn hostile_json_payloads_are_named_never_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let rec =
        |port: u32| format!("2 123456789012 eni-1 10.0.0.1 10.0.0.2 {port} 443 6 1 40 1690848000 1690848060 ACCEPT OK");
    let records: Vec<String> = (1..=3).map(rec).collect();
    // A message with a line break in it: one event, rejected as one.
    let broken = vec![rec(1), format!("{}\n{}", rec(2), rec(3)), rec(4)];
    write(&input.join("a-linebreak.gz"), &subscription_object(&broken));
    // An object cut short: the events of its whole envelopes are kept, the rest is damage.
    let many: Vec<String> = (10..90).map(rec).collect();
    let whole = subscription_object(&many);
    write(&input.join("b-cut.gz"), &whole[..whole.len() - 30]);
    // JSON of another kind, and an envelope of an unknown message type.
    write(&input.join("c-other.json.gz"), &gz(br#"{"Records":[{"eventVersion":"1.08"}]}"#));
    let mut unknown = String::from_utf8(flate2_decode(&subscription_object(&records))).unwrap();
    unknown.push_str(r#"{"messageType":"NEW_MESSAGE","logEvents":[]}"#);
    write(&input.join("d-unknown.gz"), &gz(unknown.as_bytes()));
    let lake = dir.path().join("lake");
    let r = run(&opts(&input, &lake).with_globs(vec!["*.gz".into()]));
    let damaged =
        |name: &str| r.files_damaged.iter().find(|d| d.file.ends_with(name)).unwrap_or_else(|| panic!("{r:?}"));
    assert_eq!(r.rejects_by_reason, [("control_character".to_string(), 1)].into(), "{r:?}");
    let rej = rejects(r.rejects_path.as_deref().unwrap());
    assert_eq!((rej.len(), rej[0].1), (1, 2), "the second event: {rej:?}");
    let cut = damaged("b-cut.gz");
    assert!(cut.error.starts_with("records unreadable"), "{cut:?}");
    assert_eq!(cut.rows_before_damage % 40, 0, "whole envelopes only: {cut:?}");
    assert!(damaged("c-other.json.gz").error.contains("matches no input kind"));
    assert!(damaged("d-unknown.gz").error.contains("`NEW_MESSAGE`"));
    // Rows: the line-break file's two good events, the cut file's whole envelopes, the unknown file's three.
    assert_eq!(r.rows_written, 2 + cut.rows_before_damage + 3);
    // Text forced to be read as a subscription payload is damage, named.
    let text = dir.path().join("text.log");
    write(&text, format!("version srcaddr\n{}\n", "2 10.0.0.1").as_bytes());
    let o = opts(&text, &dir.path().join("lake2")).with_input_kind(InputKind::CloudwatchSubscription);
    let r = run(&o);
    assert_eq!((r.rows_written, r.files_damaged.len()), (0, 1));
    assert!(r.files_damaged[0].error.contains("JSON"), "{r:?}");
}

fn flate2_decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(bytes), &mut out).unwrap();
    out
}

/// A folder with the same records, each file in one kind: text as delivered, or
/// unwrapped into another (every kind in turn); returns it and the text table's sample.
fn mixed_folder(dir: &Path, records: u64) -> (PathBuf, PathBuf) {
    let (text, files) = sample(dir, records);
    let mixed = dir.join("mixed");
    for (i, (path, records)) in log_files(&text).iter().zip(&files).enumerate() {
        let to = mixed.join(format!("{i:02}"));
        let header = raw_text(path).lines().next().unwrap().to_string();
        match i % 5 {
            0 => write(&to.join("text.log.gz"), &fs::read(path).unwrap()),
            1 => write(&to.join("000000.gz"), &export_object(records)),
            2 => write(&to.join("sub.gz"), &subscription_object(records)),
            3 => write(&to.join("fh.gz"), &gz(&firehose_object(records, true))),
            _ => write(&to.join("x.log.parquet"), &parquet_object(&header, records)),
        }
    }
    (text, mixed)
}

const EVERY_KIND: [&str; 5] = ["cloudwatch-export", "cloudwatch-subscription", "firehose", "parquet", "text"];

#[test]
fn one_folder_of_every_kind_converts_to_the_union_of_their_records() {
    let dir = tempfile::tempdir().unwrap();
    let (text, mixed) = mixed_folder(dir.path(), 5000);
    let (lake_text, lake_mixed) = (dir.path().join("a"), dir.path().join("b"));
    run(&opts(&text, &lake_text));
    let r = run(&opts(&mixed, &lake_mixed));
    assert_eq!(r.input_kinds.keys().map(String::as_str).collect::<Vec<_>>(), EVERY_KIND, "{r:?}");
    assert_eq!((r.rows_rejected, r.files_damaged.len()), (0, 0));
    let (got, cols) = rows(&lake_mixed);
    assert_eq!((&got, &cols), (&rows(&lake_text).0, &rows(&lake_text).1));
    // Independent readers see the same rows.
    let cols_ref: Vec<&str> = cols.iter().map(String::as_str).collect();
    assert_eq!(independent_rows(&lake_mixed, &cols_ref), got, "DuckDB, pyarrow and polars read the mixed table");
    // The DDL describes every column.
    let (ddl, _) = flowlake_code(&["ddl", lake_mixed.to_str().unwrap()], 0);
    for c in &cols {
        assert!(ddl.contains(&format!("`{c}`")), "{c} in {ddl}");
    }
}

#[cfg(feature = "s3")]
#[test]
fn one_prefix_of_every_kind_on_s3_converts_to_the_union_of_their_records() {
    let dir = tempfile::tempdir().unwrap();
    let (text, mixed) = mixed_folder(dir.path(), 5000);
    let s3 = crate::s3::S3::new();
    let (bucket, outb) = (s3.bucket("kinds-in"), s3.bucket("kinds-out"));
    s3.upload_dir(&mixed, &bucket);
    let storage = flowlake::storage::StorageOptions {
        endpoint_url: Some(crate::s3::endpoint("FLOWLAKE_S3_ENDPOINT")),
        ..Default::default()
    };
    let input = Location::S3 { bucket: bucket.clone(), key: String::new() };
    let out = Location::S3 { bucket: outb.clone(), key: "lake/".into() };
    let r = run(&ConvertOptions::new(vec![input.clone()], out.clone()).with_storage(storage.clone()));
    assert_eq!(r.input_kinds.keys().map(String::as_str).collect::<Vec<_>>(), EVERY_KIND, "{r:?}");
    assert_eq!((r.rows_rejected, r.files_damaged.len()), (0, 0));
    // The table downloaded equals the text table's rows.
    let (lake_text, lake_s3) = (dir.path().join("a"), dir.path().join("b"));
    run(&opts(&text, &lake_text));
    s3.download(&outb, "lake/", &lake_s3);
    assert_eq!(rows(&lake_s3), rows(&lake_text));
    let again = run(&ConvertOptions::new(vec![input], out).with_storage(storage));
    assert_eq!((again.files_skipped, again.rows_in), (r.files_in, 0));
}

#[test]
fn the_cli_takes_and_reports_input_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in/000000.gz");
    let record = "2 123456789012 eni-1 10.0.0.1 10.0.0.2 1 443 6 1 40 1690848000 1690848060 ACCEPT OK";
    write(&input, &gz(format!("2023-08-01T00:00:00.000Z {record}\n").as_bytes()));
    let lake = dir.path().join("lake");
    let (_, err) =
        flowlake_code(&["convert", input.to_str().unwrap(), "--out", lake.to_str().unwrap(), "--input-kind", "csv"], 2);
    assert!(err.contains("cloudwatch-export") && err.contains("firehose"), "{err}");
    let (out, _) = flowlake_code(&["convert", input.to_str().unwrap(), "--out", lake.to_str().unwrap(), "--json"], 0);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["input_kinds"], serde_json::json!({"cloudwatch-export": 1}));
    assert_eq!(report["rows_written"], 1);
    let (out, _) = flowlake_code(&["schema", input.to_str().unwrap()], 0);
    assert!(out.contains("input kinds: 1 cloudwatch-export") && out.contains("AWS's default format"), "{out}");
    // Forced to text, the export line is no header: unusable, with why.
    let (out, _) = flowlake_code(&["schema", input.to_str().unwrap(), "--input-kind", "text"], 0);
    assert!(out.contains("unusable") && out.contains("--format"), "{out}");
}

/// A repair (and any rebuild) reads an unchanged input again as its run read it, whatever
/// the rebuilding run is told: headerless text and a CloudWatch Logs export of a custom
/// format (given by --format once), a subscription payload read in AWS's default format
/// (assumed), and an export whose kind was forced. Without the record, a repair would read
/// them without --format and reject every line, and the partition's rows would be gone.
#[test]
fn a_repair_reads_inputs_again_as_their_runs_read_them() {
    use flowlake::verify::{VerifyOptions, verify};
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let custom = "2 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 1690848000";
    write(&input.join("headerless/a.log"), format!("{custom}\n").as_bytes());
    write(
        &input.join("export/task/eni-1/000000.gz"),
        &gz(format!("2023-08-01T00:00:01.000Z {}\n", custom.replace(".139", ".140")).as_bytes()),
    );
    let lake = dir.path().join("lake");
    let format = Format::from_spec("${version} ${interface-id} ${srcaddr} ${dstaddr} ${start}").unwrap();
    let r = run(&opts(&input, &lake).with_format(Some(format)));
    assert_eq!((r.rows_written, r.rows_rejected), (2, 0), "{r:?}");
    // A second run adds AWS-default-format subscription payloads to the same day, with no --format.
    let (_, files) = sample(dir.path(), 200);
    let on_the_day = |l: &String| l.split(' ').nth(10).is_some_and(|s| ("1690848000".."1690934400").contains(&s));
    let day: Vec<String> = files.concat().into_iter().filter(on_the_day).collect();
    assert!(!day.is_empty());
    write(&dir.path().join("sub/a.gz"), &subscription_object(&day));
    let r = run(&opts(&dir.path().join("sub"), &lake));
    assert_eq!((r.rows_written, r.rows_rejected), (day.len() as u64, 0), "{r:?}");
    // Over every column (the two runs' files have different ones).
    let cols: Vec<String> = Format::aws_default().fields().iter().map(|f| f.column_name()).collect();
    let all_rows = || table_rows(&read_table(&lake), &cols);
    let before = all_rows();
    assert_eq!(before.len(), day.len() + 2);
    // A file of the day goes missing; the repair rebuilds the day from all three inputs.
    let files = parquet_files(&lake);
    assert!(files.iter().all(|(p, _)| p == "date=2023-08-01"), "{files:?}");
    fs::remove_file(&files[0].1).unwrap();
    let v = verify(&VerifyOptions { repair: true, ..VerifyOptions::new(Location::Local(lake.clone())) }).unwrap();
    let run = v.repair_run.expect("a rebuild");
    assert_eq!((run.rows_rejected, v.repaired), (0, 1), "{run:?}");
    assert_eq!(all_rows(), before, "every record once, read as before");
    // The log records how each input was read.
    let log =
        flowlake::table::log::Manifest::load(&flowlake::storage::LocalStorage, &Location::Local(lake.clone())).unwrap();
    let read_as = |p: &Path| {
        let key = Location::Local(fs::canonicalize(p).unwrap()).identity();
        log.read_as(&key).cloned().unwrap()
    };
    let fields = Some("version interface-id srcaddr dstaddr start".to_string());
    let a = read_as(&input.join("headerless/a.log"));
    assert_eq!((a.kind.as_deref(), &a.format), (Some("text"), &fields));
    let e = read_as(&input.join("export/task/eni-1/000000.gz"));
    assert_eq!((e.kind.as_deref(), &e.format), (Some("cloudwatch-export"), &fields));
    let s = read_as(&dir.path().join("sub/a.gz"));
    assert_eq!(
        (s.kind.as_deref(), s.format),
        (Some("cloudwatch-subscription"), Some(Format::aws_default().header_line()))
    );
}

/// An input whose kind was forced (an export read as text, its timestamps a field of a
/// custom format) is read so again by a rebuild that a changed neighbour causes, though
/// the rebuilding run forces nothing: read by content it would be an export without
/// --format, and its line rejected.
#[test]
fn a_rebuild_keeps_a_forced_input_kind() {
    let dir = tempfile::tempdir().unwrap();
    let (input, other) = (dir.path().join("in"), dir.path().join("other"));
    write(&input.join("forced.log"), b"2023-08-01T00:00:01.000Z 2 eni-1 10.0.0.1 10.0.0.9 1690848000\n");
    let lake = dir.path().join("lake");
    // No flow-log field holds the timestamp: a name the catalog does not know keeps it, as a string.
    let format = Format::from_header(b"event-time version interface-id srcaddr dstaddr start").unwrap();
    let r = run(&opts(&input, &lake).with_format(Some(format)).with_input_kind(InputKind::Text));
    assert_eq!((r.rows_written, r.rows_rejected), (1, 0), "{r:?}");
    // A headered text file of the same day arrives, then changes: the day is rebuilt.
    let header = "version interface-id srcaddr dstaddr start\n";
    write(&other.join("b.log"), format!("{header}2 eni-2 10.0.0.2 10.0.0.9 1690848000\n").as_bytes());
    let both = || {
        ConvertOptions::new(
            vec![Location::Local(input.clone()), Location::Local(other.clone())],
            Location::Local(lake.clone()),
        )
    };
    assert_eq!((run(&both()).rows_written, run(&both()).rows_in), (1, 0));
    write(&other.join("b.log"), format!("{header}2 eni-2 10.0.0.44 10.0.0.9 1690848000\n").as_bytes());
    let r = run(&both());
    assert_eq!((r.rows_written, r.rows_rejected), (2, 0), "the forced input read again as text: {r:?}");
    let (got, _) = rows(&lake);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().any(|r| r.contains("10.0.0.1 ")) && got.iter().any(|r| r.contains("10.0.0.44 ")), "{got:?}");
}

/// Subscription payloads as CloudWatch Logs sends them through Firehose: each payload
/// gzip-compressed by itself, the members concatenated. A damaged member loses its own
/// payload, named in the report; the payloads around it are converted.
#[test]
fn a_damaged_member_of_a_subscription_object_loses_only_its_payload() {
    let dir = tempfile::tempdir().unwrap();
    let (_, files) = sample(dir.path(), 300);
    let records = files.concat();
    let chunks: Vec<&[String]> = records.chunks(100).collect();
    assert_eq!(chunks.len(), 3);
    let members: Vec<Vec<u8>> = chunks.iter().map(|c| subscription_object(c)).collect();
    let mut object = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let mut m = m.clone();
        if i == 1 {
            let crc = m.len() - 8; // the trailer: CRC-32, then the length
            m[crc] ^= 0xff;
        }
        object.extend_from_slice(&m);
    }
    let input = dir.path().join("sub/a.gz");
    write(&input, &object);
    let r = run(&opts(&dir.path().join("sub"), &dir.path().join("lake")));
    // Each member holds a control message and its payloads.
    let lost = chunks[1].len() as u64;
    assert_eq!((r.rows_written, r.rows_rejected), (records.len() as u64 - lost, 0), "{r:?}");
    assert_eq!(r.files_damaged.len(), 1, "{r:?}");
    let d = &r.files_damaged[0];
    assert!(d.error.contains("gzip member 2") && d.error.contains("records are lost"), "{d:?}");
    // The table's rows are those of the first and third payloads' records as headered text.
    let text: String = chunks[0].iter().chain(chunks[2]).map(|r| format!("{r}\n")).collect();
    let header = Format::aws_default().header_line();
    write(&dir.path().join("kept/a.log"), format!("{header}\n{text}").as_bytes());
    run(&opts(&dir.path().join("kept"), &dir.path().join("lake-kept")));
    assert_eq!(rows(&dir.path().join("lake")), rows(&dir.path().join("lake-kept")));
}

/// Typed rows (Parquet) take the text path's checks row by row: many batches and several
/// days in one file, small batches in the sink, damaged rows of every kind scattered among
/// them, rows without `start` placed by the path; the same rows and the same rejects (each
/// at its row, for its reason) as the same records in text.
#[test]
fn parquet_rows_are_checked_as_their_records_are_in_text() {
    let dir = tempfile::tempdir().unwrap();
    let header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
    let damage: [fn(String) -> String; 10] = [
        |r: String| r.replace(" 10.1.", " 10.01."),
        |r: String| r.replace(" ACCEPT ", " MAYBE "),
        |r: String| r.replace(" 6 ", " 300 "),
        |r: String| r.replace(" 443 ", " 70000 "),
        |r: String| r.replace("eni-", "eni\u{2}"),
        |r: String| {
            let f: Vec<&str> = r.split(' ').collect();
            format!("{} {} {} {}", f[..10].join(" "), f[11], f[10], f[12..].join(" "))
        },
        |r: String| {
            let f: Vec<&str> = r.split(' ').collect();
            format!("{} - {} {}", f[..10].join(" "), f[11], f[12..].join(" "))
        },
        |r: String| r.replace(" 123456789012 ", " - "),
        |r: String| {
            let f: Vec<&str> = r.split(' ').collect();
            format!("{} - {}", f[..10].join(" "), f[11..].join(" "))
        },
        |r: String| {
            let f: Vec<&str> = r.split(' ').collect();
            format!("{} -5 {}", f[..10].join(" "), f[11..].join(" "))
        },
    ];
    let records: Vec<String> = (0..20_000u64)
        .map(|i| {
            let start = 1_690_848_000 + i * 13;
            let r = format!(
                "2 123456789012 eni-{:04} 10.1.{}.{} 10.2.0.{} {} 443 6 {} {} {start} {} {} OK",
                i % 7,
                i % 200,
                i % 250,
                i % 9,
                1024 + i % 5000,
                1 + i % 3,
                40 * (1 + i % 3),
                start + 1 + i % 60,
                if i % 5 == 0 { "REJECT" } else { "ACCEPT" }
            );
            if i % 97 == 3 { damage[(i / 97) as usize % damage.len()](r) } else { r }
        })
        .collect();
    let (text, pq) = (dir.path().join("text/2023/08/01"), dir.path().join("pq/2023/08/01"));
    write(&text.join("a.log"), format!("{header}\n{}\n", records.join("\n")).as_bytes());
    write(&pq.join("a.log.parquet"), &parquet_object(header, &records));
    let (lake_text, lake_pq) = (dir.path().join("a"), dir.path().join("b"));
    let small = |o: ConvertOptions| o.with_batch_rows(1000);
    let a = run(&small(opts(&dir.path().join("text"), &lake_text)));
    let b = run(&small(opts(&dir.path().join("pq"), &lake_pq)));
    assert_eq!(b.input_kinds, [("parquet".to_string(), 1)].into(), "{b:?}");
    assert_eq!((b.rows_in, b.rows_written, b.rows_rejected), (a.rows_in, a.rows_written, a.rows_rejected));
    assert!(a.rows_rejected >= 100 && a.rows_written > 19_000, "{a:?}");
    assert_eq!(b.rejects_by_reason, a.rejects_by_reason);
    let reasons: Vec<&str> = b.rejects_by_reason.keys().map(String::as_str).collect();
    assert_eq!(reasons, ["bad_start", "control_character", "invalid_value"]);
    assert_eq!(rows(&lake_pq), rows(&lake_text));
    // Each reject at its row (the text's line less its header), for the same reason.
    let at = |r: &RunReport, header: u64| {
        let mut v: Vec<(u64, String)> =
            rejects(r.rejects_path.as_deref().unwrap()).into_iter().map(|r| (r.1 - header, r.2)).collect();
        v.sort();
        v
    };
    assert_eq!(at(&b, 0), at(&a, 1));
}

/// A string column annotated JSON, which the Parquet reader would take for UTF-8 text
/// without checking its bytes (dictionary-encoded or plain): the file is named as damaged,
/// with why, never a crash or a row of bytes that are not text.
#[test]
fn parquet_columns_annotated_json_are_named_not_read() {
    use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;

    let file = |dictionary: bool| {
        let schema = "message m { optional int32 version; optional binary account_id (JSON); optional int64 start; }";
        let schema = Arc::new(parquet::schema::parser::parse_message_type(schema).unwrap());
        let props = Arc::new(WriterProperties::builder().set_dictionary_enabled(dictionary).build());
        let mut out = Vec::new();
        let mut w = SerializedFileWriter::new(&mut out, schema, props).unwrap();
        let mut group = w.next_row_group().unwrap();
        let defined = [1i16; 3];
        let mut c = group.next_column().unwrap().unwrap();
        c.typed::<Int32Type>().write_batch(&[2, 2, 2], Some(&defined), None).unwrap();
        c.close().unwrap();
        let mut c = group.next_column().unwrap().unwrap();
        let v: Vec<ByteArray> = vec![b"123456789012".to_vec().into(), vec![0xff, b'A'].into(), b"-".to_vec().into()];
        c.typed::<ByteArrayType>().write_batch(&v, Some(&defined), None).unwrap();
        c.close().unwrap();
        let mut c = group.next_column().unwrap().unwrap();
        c.typed::<Int64Type>()
            .write_batch(&[1_690_848_000, 1_690_848_001, 1_690_848_002], Some(&defined), None)
            .unwrap();
        c.close().unwrap();
        group.close().unwrap();
        w.close().unwrap();
        out
    };
    for dictionary in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("in/a.log.parquet"), &file(dictionary));
        let r = run(&opts(&dir.path().join("in"), &dir.path().join("lake")));
        assert_eq!((r.rows_in, r.rows_written), (0, 0), "dictionary {dictionary}: {r:?}");
        assert_eq!(r.files_damaged.len(), 1, "{r:?}");
        assert!(r.files_damaged[0].error.contains("column `account_id` is annotated JSON"), "{r:?}");
    }
}
