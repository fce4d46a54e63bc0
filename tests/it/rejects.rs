//! Every reject reason, damaged and empty inputs: exact reason texts, and
//! `rows_in = rows_written + rows_rejected` every time.

use std::fs;
use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use flowlake::convert::{ConvertOptions, NoProgress, convert};
use flowlake::report::{RunReport, RunStatus};
use flowlake::storage::Location;

use crate::common::*;

const HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
const GOOD: &str = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK";

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn run(input: &Path, out: &Path) -> RunReport {
    let r =
        convert(&ConvertOptions::new(vec![Location::Local(input.into())], Location::Local(out.into())), &NoProgress)
            .unwrap();
    assert_eq!(r.rows_in, r.rows_written + r.rows_rejected, "accounting: {r:?}");
    r
}

#[test]
fn every_reason_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(&input).unwrap();
    let long = format!("2 {}", "9".repeat(70_000));
    let mut body: Vec<u8> = Vec::new();
    let lines: Vec<Vec<u8>> = vec![
        HEADER.into(),                                                                                         // 1
        GOOD.into(),                                                                                           // 2
        "2 123456789010 eni-1 1.2.3.4".into(),                                                                 // 3
        GOOD.replace(" 4249 ", " 42x9 ").into(),                                                               // 4
        GOOD.replace(" 20641 ", " 4294967296 ").into(),                                                        // 5
        b"2 123456789010 eni-\xff\xfe 1.2.3.4 5.6.7.8 1 2 6 20 4249 1418530010 1418530070 ACCEPT OK".to_vec(), // 6
        long.into(),                                                                                           // 7
        Vec::new(),                                                                                            // 8
        GOOD.replace("172.31.16.139 ", " ").into(),                                                            // 9
        GOOD.replace("1418530010", "1418530010000").into(),                                                    // 10
        format!("{GOOD}\r").into(),             // 11 (CRLF is fine)
        GOOD.replace(" 6 20 ", " 6 - ").into(), // 12 (`-` is null)
    ];
    for l in &lines {
        body.extend_from_slice(l);
        body.push(b'\n');
    }
    fs::write(input.join("x.log.gz"), gz(&body)).unwrap();
    let out = dir.path().join("lake");
    let r = run(&input, &out);
    assert_eq!(r.status, RunStatus::Ok);
    assert_eq!(r.rows_in, 11);
    assert_eq!(r.rows_written, 3);
    assert_eq!(r.rows_rejected, 8);
    let rej = rejects(r.rejects_path.as_deref().unwrap());
    let got: Vec<(u64, &str)> = rej.iter().map(|(_, n, why, _)| (*n, why.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (3, "wrong field count: expected 14 fields, found 4"),
            (4, "invalid number in field `bytes`: `42x9`"),
            (5, "number out of range for int32 field `srcport`: `4294967296`"),
            (6, "invalid UTF-8"),
            (7, "line longer than 65536 bytes"),
            (8, "empty line"),
            (9, "empty value in field `srcaddr` (two spaces in a row?)"),
            (10, "start `1418530010000` is not a Unix time in seconds between 1970 and 9999"),
        ]
    );
    assert!(rej.iter().all(|(src, ..)| src.ends_with("x.log.gz")));
    assert_eq!(rej[2].3, lines[4].iter().map(|&b| b as char).collect::<String>(), "raw line is kept");
    assert_eq!(rej[3].3, "2 123456789010 eni-\\xff\\xfe 1.2.3.4 5.6.7.8 1 2 6 20 4249 1418530010 1418530070 ACCEPT OK");
    assert_eq!(rej[4].3.len(), 65_536, "an over-long line keeps its first 64 KiB");
    let kinds: Vec<&str> = r.rejects_by_reason.keys().map(String::as_str).collect();
    assert_eq!(
        kinds,
        [
            "bad_start",
            "empty_line",
            "empty_value",
            "field_count",
            "invalid_number",
            "invalid_utf8",
            "line_too_long",
            "out_of_range"
        ]
    );
}

#[test]
fn no_date_unless_the_path_has_one() {
    let dir = tempfile::tempdir().unwrap();
    let flat = dir.path().join("flat");
    let dated = dir.path().join("AWSLogs/1/vpcflowlogs/us-east-1/2023/08/05");
    fs::create_dir_all(&flat).unwrap();
    fs::create_dir_all(&dated).unwrap();
    let body = "version srcaddr dstaddr\n2 10.0.0.1 10.0.0.2\n";
    fs::write(flat.join("a.log"), body).unwrap();
    fs::write(dated.join("b.log"), body).unwrap();
    let r = run(&flat, &dir.path().join("lake1"));
    assert_eq!((r.rows_written, r.rows_rejected), (0, 1));
    let rej = rejects(r.rejects_path.as_deref().unwrap());
    assert_eq!(rej[0].2, "no date: the record has no start, and the file path has no YYYY/MM/DD to take the date from");
    let r = run(&dir.path().join("AWSLogs"), &dir.path().join("lake2"));
    assert_eq!((r.rows_written, r.rows_rejected), (1, 0));
    assert!(r.partitions.contains_key("date=2023-08-05"), "{:?}", r.partitions);
}

#[test]
fn truncated_gzip_keeps_rows_before_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    generate_sample(&sample, 20_000, 1, 1);
    let file = log_files(&sample).remove(0);
    let full = fs::read(&file).unwrap();
    fs::write(&file, &full[..full.len() / 2]).unwrap();
    let r = run(&sample, &dir.path().join("lake"));
    assert_eq!(r.status, RunStatus::CompletedWithErrors);
    assert_eq!(r.files_damaged.len(), 1);
    let d = &r.files_damaged[0];
    assert!(d.file.ends_with(".log.gz"));
    assert!(d.error.starts_with("gzip stream damaged at byte "), "{}", d.error);
    assert!(d.offset > 0 && d.offset <= full.len() as u64 / 2, "offset {}", d.offset);
    assert!(r.rows_written > 5_000 && r.rows_written < 20_000, "{}", r.rows_written);
    assert_eq!(d.rows_before_damage, r.rows_in);
    if r.rows_rejected > 0 {
        let rej = rejects(r.rejects_path.as_deref().unwrap());
        assert_eq!(rej.len(), 1);
        assert!(
            rej[0].2.starts_with(
                "truncated: the line was cut off where the input is damaged (gzip stream damaged at byte "
            )
        );
    }
}

#[test]
fn garbage_and_fake_gzip_and_empty_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(&input).unwrap();
    fs::write(input.join("empty.log.gz"), b"").unwrap();
    fs::write(input.join("empty-gzip.log.gz"), gz(b"")).unwrap();
    fs::write(input.join("header-only.log.gz"), gz(format!("{HEADER}\n").as_bytes())).unwrap();
    fs::write(input.join("plain-named-gz.log.gz"), format!("{HEADER}\n{GOOD}\n")).unwrap();
    let mut garbage = gz(format!("{HEADER}\n{GOOD}\n").as_bytes());
    let n = garbage.len();
    garbage[12..n - 8].iter_mut().for_each(|b| *b = 0x5a);
    fs::write(input.join("garbage.log.gz"), garbage).unwrap();
    fs::write(input.join("good.log"), format!("{HEADER}\n{GOOD}\n")).unwrap();
    let r = run(&input, &dir.path().join("lake"));
    assert_eq!(r.status, RunStatus::CompletedWithErrors);
    assert_eq!(r.files_in, 6);
    assert_eq!(r.files_empty, 3);
    assert_eq!(r.rows_written, 1);
    let damaged: Vec<(&str, &str)> = r
        .files_damaged
        .iter()
        .map(|d| (Path::new(&d.file).file_name().unwrap().to_str().unwrap(), d.error.as_str()))
        .collect();
    assert_eq!(damaged.len(), 2, "{damaged:?}");
    assert_eq!(damaged[0].0, "garbage.log.gz");
    assert_eq!(
        damaged[1],
        (
            "plain-named-gz.log.gz",
            "not a gzip file: the name ends in .gz but the data does not start with the gzip magic bytes 1f 8b at byte 0"
        )
    );
}

#[test]
fn headerless_files_need_a_format() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(&input).unwrap();
    fs::write(input.join("noheader.log"), format!("{GOOD}\n{GOOD}\n")).unwrap();
    let r = run(&input, &dir.path().join("lake1"));
    assert_eq!((r.rows_in, r.rows_written, r.rows_rejected), (2, 0, 2));
    let rej = rejects(r.rejects_path.as_deref().unwrap());
    assert_eq!(
        rej[0].2,
        "no header line: the file's first line does not name flow-log fields; pass --format for headerless files"
    );
    assert_eq!((rej[0].1, rej[1].1), (1, 2));
    let fmt = flowlake::format::Format::from_spec(HEADER).unwrap();
    let r = convert(
        &ConvertOptions::new(vec![Location::Local(input)], Location::Local(dir.path().join("lake2")))
            .with_format(Some(fmt)),
        &NoProgress,
    )
    .unwrap();
    assert_eq!((r.rows_in, r.rows_written, r.rows_rejected, r.header_lines), (2, 2, 0, 0));
}

#[test]
fn concatenated_files_switch_format_at_each_header() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(&input).unwrap();
    let mut both = gz(format!("{HEADER}\n{GOOD}\n").as_bytes());
    both.extend(gz(b"version srcaddr start\n3 10.0.0.9 1418530010\n"));
    fs::write(input.join("cat.log.gz"), &both).unwrap();
    // The second format must also start a file for its columns to be in the table.
    fs::write(input.join("other.log"), "version srcaddr start\n3 10.0.0.8 1418530011\n").unwrap();
    let r = run(&input, &dir.path().join("lake"));
    assert_eq!((r.rows_in, r.rows_written, r.header_lines), (3, 3, 3));
}

#[test]
fn unknown_header_fields_are_kept_as_strings() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(&input).unwrap();
    fs::write(input.join("new.log"), "version srcaddr start shiny-new-field\n12 10.0.0.1 1418530010 xyz\n").unwrap();
    let lake = dir.path().join("lake");
    let r = run(&input, &lake);
    assert_eq!(r.unknown_fields, ["shiny-new-field"]);
    assert_eq!(r.columns, ["version", "srcaddr", "start", "shiny_new_field"]);
    let t = read_table(&lake);
    assert_eq!(cell(&t[0].1, "shiny_new_field", 0).as_deref(), Some("xyz"));
}

#[test]
fn max_rejects_fails_the_run_and_writes_no_rows() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(&input).unwrap();
    let mut body = format!("{HEADER}\n");
    for i in 0..50 {
        body += &format!("{GOOD}\n");
        if i % 10 == 0 {
            body += "garbage\n";
        }
    }
    fs::write(input.join("x.log"), body).unwrap();
    let lake = dir.path().join("lake");
    let r = convert(
        &ConvertOptions::new(vec![Location::Local(input.clone())], Location::Local(lake.clone()))
            .with_max_rejects(Some(2)),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(r.status, RunStatus::Failed);
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .starts_with("more than 2 records rejected (--max-rejects 2); no rows were written.")
    );
    assert_eq!(r.rows_written, 0);
    assert_eq!(r.rows_in, r.rows_written + r.rows_rejected + r.rows_discarded);
    assert!(parquet_files(&lake).is_empty());
    assert!(Path::new(r.rejects_path.as_deref().unwrap()).is_file(), "the rejects are kept for the user");
    // Under the limit, the same input succeeds.
    let ok = convert(
        &ConvertOptions::new(vec![Location::Local(input)], Location::Local(lake)).with_max_rejects(Some(5)),
        &NoProgress,
    )
    .unwrap();
    assert_eq!((ok.status, ok.rows_written, ok.rows_rejected), (RunStatus::Ok, 50, 5));
}
