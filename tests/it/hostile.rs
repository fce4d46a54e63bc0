//! The exactly-once issue's cases, as an operator and an attacker would try them: every
//! input line once as a row or once as a reject, nothing outside the table touched,
//! one clear sentence and a trustworthy exit code for everything else.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use flate2::Compression;
use flate2::write::GzEncoder;
use flowlake::convert::{ConvertOptions, NoProgress, convert};
use flowlake::report::{RunReport, RunStatus};
use flowlake::storage::Location;

use crate::common::*;

const HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A valid record of the default format, distinct per `i`.
fn record(i: u32) -> String {
    format!(
        "2 123456789010 eni-1235b8ca123456789 10.192.{}.{} 172.31.16.21 {} 22 6 20 {} {} {} ACCEPT OK",
        i / 250 % 250,
        i % 250 + 1,
        1024 + i % 60_000,
        4000 + i,
        1_690_848_000 + i,
        1_690_848_060 + i
    )
}

fn convert_dir(input: &Path, out: &Path) -> RunReport {
    let r =
        convert(&ConvertOptions::new(vec![Location::Local(input.into())], Location::Local(out.into())), &NoProgress)
            .unwrap();
    assert_eq!(r.rows_in, r.rows_written + r.rows_rejected, "accounting: {r:?}");
    r
}

fn all_columns(lake: &Path) -> (Vec<String>, Vec<String>) {
    let t = read_table(lake);
    let cols = columns_of(&t);
    (table_rows(&t, &cols), cols)
}

/// Case 4: one byte flipped in the middle of a gzip member. No row of that member
/// reaches the table; its lines are in the rejects file, with a reason that says so.
#[test]
fn a_member_failing_its_crc_check_has_its_lines_rejected_not_converted() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(&input).unwrap();
    let lines: Vec<String> = (0..2500).map(record).collect();
    let text = format!("{HEADER}\n{}\n", lines.join("\n"));
    // Two files: one damaged in the middle of its only member, one with a damaged second member.
    let mut one = gz(text.as_bytes());
    let mid = one.len() / 2;
    one[mid] ^= 0x04;
    fs::write(input.join("a.log.gz"), &one).unwrap();
    // The flip changes what inflates, maybe its line count too: count what an independent decoder gives.
    let mut inflated = Vec::new();
    let _ = std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&one[..]), &mut inflated);
    let a_lines = inflated.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64;
    assert!((2400..2600).contains(&a_lines), "{a_lines}");
    let (first, second) =
        (format!("{HEADER}\n{}\n", lines[..1000].join("\n")), format!("{}\n", lines[1000..].join("\n")));
    let mut two = gz(first.as_bytes());
    let good_len = two.len();
    let mut bad = gz(second.as_bytes());
    let n = bad.len();
    bad[n - 6] ^= 0x01; // the second member's CRC
    two.extend(bad);
    fs::write(input.join("b.log.gz"), &two).unwrap();

    // Read whole, the damage is known before any line is parsed; streamed (and inflated on a
    // thread of its own), it shows at the member's end and the run starts over knowing it.
    for (label, threads, whole_max) in [("one thread", 1, u64::MAX), ("two threads", 2, u64::MAX), ("streamed", 2, 0)] {
        let lake = dir.path().join(format!("lake-{label}"));
        let opts = ConvertOptions::new(vec![Location::Local(input.clone())], Location::Local(lake.clone()))
            .with_threads(threads)
            .with_read_whole_max(whole_max);
        let r = convert(&opts, &NoProgress).unwrap();
        assert_eq!(r.rows_in, r.rows_written + r.rows_rejected, "{label}");
        assert_eq!(r.status, RunStatus::CompletedWithErrors, "{label}");
        assert_eq!(r.attempts, if whole_max == 0 { 2 } else { 1 }, "{label}");
        // a.log.gz: header + 2,500 lines rejected; b.log.gz: 1,000 rows, 1,500 lines rejected.
        assert_eq!(r.rows_written, 1000, "{label}");
        assert_eq!(
            r.rejects_by_reason.get("damaged_gzip"),
            Some(&(a_lines + 1500)),
            "{label}: {:?}",
            r.rejects_by_reason
        );
        let (rows, cols) = all_columns(&lake);
        let expected = raw_rows_of(&format!("{HEADER}\n{}\n", lines[..1000].join("\n")), &cols);
        assert_eq!(rows, expected, "{label}: exactly the verified member's rows");
        let rej = rejects(r.rejects_path.as_deref().unwrap());
        let from_b: Vec<&(String, u64, String, String)> = rej.iter().filter(|r| r.0.ends_with("b.log.gz")).collect();
        assert_eq!(from_b.len(), 1500);
        assert_eq!(from_b[0].1, 1002, "line numbers go on across members");
        assert_eq!(from_b[0].3, lines[1000], "the raw line is kept, recoverable");
        assert_eq!(
            from_b[0].2,
            format!(
                "the line is in gzip member 2 (bytes {good_len}–{} of the file) failed its CRC check, so its bytes \
                 cannot be trusted: rejected, not converted",
                two.len()
            )
        );
        let damaged: Vec<&str> = r.files_damaged.iter().map(|d| d.file.as_str()).collect();
        assert_eq!(damaged.len(), 2, "{label}: {damaged:?}");
    }
}

/// Many streamed inputs whose damage shows only at a member's end: the first attempt that
/// finds one looks at every other input for damage too, so the second attempt knows them
/// all and converts every good member, whatever the number of damaged files or threads.
#[test]
fn many_damaged_streamed_inputs_need_one_attempt_more() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(&input).unwrap();
    let lines: Vec<String> = (0..600).map(record).collect();
    for f in 0..9 {
        let mut data = gz(format!("{HEADER}\n{}\n", lines[..200].join("\n")).as_bytes());
        let mut second = gz(format!("{}\n", lines[200..].join("\n")).as_bytes());
        if f % 3 != 2 {
            let n = second.len();
            second[n - 6] ^= 0x01; // the second member's CRC
        }
        data.extend(second);
        fs::write(input.join(format!("f{f}.log.gz")), &data).unwrap();
    }
    for threads in [1, 2] {
        let lake = dir.path().join(format!("lake-{threads}"));
        let opts = ConvertOptions::new(vec![Location::Local(input.clone())], Location::Local(lake.clone()))
            .with_threads(threads)
            .with_read_whole_max(0);
        let r = convert(&opts, &NoProgress).unwrap();
        assert_eq!((r.attempts, r.status), (2, RunStatus::CompletedWithErrors), "{threads} threads");
        assert_eq!(r.files_damaged.len(), 6);
        // Six files keep their first member (200 rows), three keep all 600.
        assert_eq!(r.rows_written, 6 * 200 + 3 * 600);
        assert_eq!(r.rejects_by_reason.get("damaged_gzip"), Some(&(6 * 400)));
        assert_eq!(r.rows_in, r.rows_written + r.rows_rejected);
    }
}

/// The rows the simple reader of the tests sees in raw text, over `columns`.
fn raw_rows_of(text: &str, columns: &[String]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.log");
    fs::write(&p, text).unwrap();
    raw_rows(&[p], columns)
}

/// A truncated file keeps every complete line a decoder can recover before the cut.
#[test]
fn a_truncated_file_keeps_every_complete_line_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(&input).unwrap();
    let lines: Vec<String> = (0..20_000).map(record).collect();
    let text = format!("{HEADER}\n{}\n", lines.join("\n"));
    let full = gz(text.as_bytes());
    let cut = &full[..full.len() * 3 / 4];
    fs::write(input.join("t.log.gz"), cut).unwrap();
    // What an independent decoder recovers from the same bytes.
    let mut recovered = Vec::new();
    let _ = std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(cut), &mut recovered);
    let complete = recovered.iter().filter(|b| **b == b'\n').count() as u64 - 1; // less the header
    let r = convert_dir(&input, &dir.path().join("lake"));
    assert_eq!(r.status, RunStatus::CompletedWithErrors);
    assert!(
        r.rows_written >= complete,
        "{} rows kept; an independent decoder recovers {complete} lines",
        r.rows_written
    );
    assert!(r.rows_written > 14_000, "{}", r.rows_written);
    assert!(r.rows_rejected <= 1, "only the line cut in half: {:?}", r.rejects_by_reason);
    let (rows, cols) = all_columns(&dir.path().join("lake"));
    let kept = format!("{HEADER}\n{}\n", lines[..r.rows_written as usize].join("\n"));
    assert_eq!(rows, raw_rows_of(&kept, &cols), "the first lines, exactly");
}

/// Case 5: values with a fixed syntax are checked, each with its own reason naming the field.
#[test]
fn values_outside_their_syntax_are_rejected_naming_the_field_and_unknown_values_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(&input).unwrap();
    let header = "version srcaddr dstaddr srcport dstport protocol start end action log-status type flow-direction";
    let body = [
        "5 10.0.0.1 10.0.0.2 443 1024 6 1690848000 1690848060 ACCEPT OK IPv4 ingress",
        "5 -0.192.40.13 10.0.0.2 443 1024 6 1690848000 1690848060 ACCEPT OK IPv4 ingress",
        "5 10.0.0.1 10.0.0.2 99999 1024 6 1690848000 1690848060 ACCEPT OK IPv4 ingress",
        "5 10.0.0.1 10.0.0.2 443 1024 300 1690848000 1690848060 ACCEPT OK IPv4 ingress",
        "5 10.0.0.1 10.0.0.2 443 1024 6 1690848000 1690848060 446CCEPT OK IPv4 ingress",
        "5 10.0.0.1 10.0.0.2 443 1024 6 1690848000 1690848060 ACCEPT OK\r IPv4 ingress",
        "5 10.0.0.1 10.0.0.2 443 1024 6 1690848000 1690848060 ACCEPT OK IPv9 ingress",
        "5 10.0.0.1 10.0.0.2 443 1024 6 1690848000 1690848060 ACCEPT OK IPv9 sideways",
        "5 2001:db8::1 fd00::2 443 1024 6 1690848000 1690848060 REJECT NODATA EFA egress",
    ];
    fs::write(input.join("v.log"), format!("{header}\n{}\n", body.join("\n"))).unwrap();
    let r = convert_dir(&input, &dir.path().join("lake"));
    assert_eq!((r.rows_written, r.rows_rejected), (2, 7));
    let reasons: Vec<String> = rejects(r.rejects_path.as_deref().unwrap()).into_iter().map(|r| r.2).collect();
    assert_eq!(
        reasons[..5],
        [
            "invalid value in field `srcaddr`: `-0.192.40.13` is not an IPv4 or IPv6 address",
            "invalid value in field `srcport`: `99999` is not between 0 and 65535",
            "invalid value in field `protocol`: `300` is not between 0 and 255",
            "invalid value in field `action`: `446CCEPT` is not ACCEPT or REJECT",
            "control character 0x0d at byte 63 of the line",
        ]
    );
    assert!(
        reasons[5].starts_with("unknown value in field `type`: `IPv9` (AWS documents IPv4, IPv6, EFA;"),
        "{}",
        reasons[5]
    );
    assert_eq!(r.unknown_values["type"]["IPv9"], 2);
    assert_eq!(r.rejects_by_reason["unknown_value"], 2);
    assert_eq!(r.rejects_by_reason["invalid_value"], 4);
    assert_eq!(r.rejects_by_reason["control_character"], 1);
    // The CLI's summary names the unknown value plainly.
    let (_, err) =
        flowlake_code(&["convert", input.to_str().unwrap(), "--out", dir.path().join("lake2").to_str().unwrap()], 0);
    assert!(
        err.contains(
            "values of `type` that AWS did not document when this flowlake was built (rejected): `IPv9` (2 records)"
        ),
        "{err}"
    );
}

/// Case 9: batches are bounded by bytes as well as rows: 34,000 lines of 65,536 bytes
/// (2.2 GB of text, more than Arrow's 2 GiB offsets allow in one batch) convert.
#[test]
fn lines_of_the_longest_allowed_length_do_not_overflow_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(&input).unwrap();
    // A custom format whose last field is a free string, padded so each line is 65,536 bytes.
    let header = "version srcaddr start reject-reason";
    let mut text = format!("{header}\n").into_bytes();
    let n = 34_000u32;
    for i in 0..n {
        let head = format!("8 10.0.{}.{} {} ", i / 250 % 250, i % 250 + 1, 1_690_848_000 + i);
        text.extend_from_slice(head.as_bytes());
        text.extend(std::iter::repeat_n(b'x', flowlake::parse::MAX_LINE - head.len()));
        text.push(b'\n');
    }
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(&text).unwrap();
    drop(text);
    fs::write(input.join("long.log.gz"), e.finish().unwrap()).unwrap();
    let lake = dir.path().join("lake");
    let opts = ConvertOptions::new(vec![Location::Local(input)], Location::Local(lake.clone())).with_threads(1);
    let r = convert(&opts, &NoProgress).unwrap();
    assert_eq!((r.status, r.rows_in, r.rows_written, r.rows_rejected), (RunStatus::Ok, u64::from(n), u64::from(n), 0));
    let t = read_table(&lake);
    let total: usize = t.iter().map(|(_, b)| b.num_rows()).sum();
    assert_eq!(total, n as usize);
    let longest = t
        .iter()
        .flat_map(|(_, b)| {
            let a = b.column_by_name("reject_reason").unwrap();
            let s = arrow_array::cast::AsArray::as_string::<i32>(a);
            (0..arrow_array::Array::len(s)).map(|i| s.value(i).len()).collect::<Vec<_>>()
        })
        .max();
    assert!(longest.unwrap() > 65_000);
}

/// Case 12: a header field that would be the partition column, or two fields that would be
/// one column, refuse the file (its lines rejected, the report naming it and the fields).
#[test]
fn header_fields_that_collide_refuse_their_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(&input).unwrap();
    fs::write(input.join("a-date.log"), "version srcaddr start date\n2 10.0.0.1 1690848000 x\n").unwrap();
    fs::write(input.join("b-same.log"), "version srcaddr start x-y x_y\n2 10.0.0.1 1690848000 p q\n").unwrap();
    fs::write(input.join("c-xy.log"), "version srcaddr start x-y\n2 10.0.0.1 1690848000 p\n").unwrap();
    fs::write(input.join("d-x_y.log"), "version srcaddr start x_y\n2 10.0.0.2 1690848000 q\n").unwrap();
    let lake = dir.path().join("lake");
    let r = convert_dir(&input, &lake);
    assert_eq!((r.rows_in, r.rows_written, r.rows_rejected, r.header_lines), (4, 1, 3, 4));
    let unusable: Vec<(String, String)> = r
        .files_unusable
        .iter()
        .map(|u| (Path::new(&u.file).file_name().unwrap().to_string_lossy().into_owned(), u.reason.clone()))
        .collect();
    assert_eq!(
        unusable,
        [
            (
                "a-date.log".into(),
                "bad header line: the header's field `date` would be a column named like the partition column `date`, \
             which lives in the folder names"
                    .into()
            ),
            (
                "b-same.log".into(),
                "bad header line: the header's fields `x-y` and `x_y` would both be the column `x_y`".into()
            ),
            (
                "d-x_y.log".into(),
                format!(
                    "bad header line: the header's field `x_y` would be the column `x_y`, which is field `x-y` of {}",
                    input.join("c-xy.log").display()
                )
            ),
        ]
    );
    // The table reads in pyarrow-style readers: one column each, no `date` column in the files.
    let (_, cols) = all_columns(&lake);
    assert_eq!(cols, ["version", "srcaddr", "start", "x_y"]);
}

/// Case 8: a folder name that reaches the DDL is checked: the crafted account folder is not
/// an AWS delivery path, so its lines cannot be placed in the `aws` layout, and nothing of
/// it reaches `athena.sql`.
#[test]
fn crafted_folder_names_never_reach_the_ddl() {
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("in/AWSLogs/123456789012/x' ) ; DROP TABLE y; --flowlogs/us-east-1/2023/08/01");
    let good = dir.path().join("in/AWSLogs/123456789012/vpcflowlogs/us-east-1/2023/08/01");
    fs::create_dir_all(&evil).unwrap();
    fs::create_dir_all(&good).unwrap();
    fs::write(evil.join("e.log"), format!("{HEADER}\n{}\n", record(1))).unwrap();
    fs::write(good.join("g.log"), format!("{HEADER}\n{}\n", record(2))).unwrap();
    let lake = dir.path().join("lake");
    let opts = ConvertOptions::new(vec![Location::Local(dir.path().join("in"))], Location::Local(lake.clone()))
        .with_layout("aws".parse().unwrap());
    let r = convert(&opts, &NoProgress).unwrap();
    assert_eq!((r.rows_written, r.rows_rejected), (1, 1));
    assert_eq!(r.rejects_by_reason["no_origin"], 1);
    for f in files_under(&lake.join("_flowlake/ddl")) {
        let text = fs::read_to_string(&f).unwrap();
        assert!(!text.contains("DROP"), "{}: {text}", f.display());
    }
    // A partition folder made by hand with a quote in it is no partition: the DDL refuses the table.
    let fake = lake.join("aws-account-id=1'2/aws-service=vpcflowlogs/aws-region=us-east-1/year=2023/month=08/day=01");
    fs::create_dir_all(&fake).unwrap();
    let real = parquet_files(&lake)[0].1.clone();
    fs::copy(real, fake.join("x.parquet")).unwrap();
    let (out, err) = flowlake_code(&["ddl", lake.to_str().unwrap()], 1);
    assert!(out.is_empty());
    assert!(
        err.contains("folder `aws-account-id=1'2/aws-service=vpcflowlogs/")
            && err.contains("does not follow the table's aws layout"),
        "{err}"
    );
}

/// Case 6: queries only read.
#[cfg(feature = "query")]
#[test]
fn queries_only_read() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    generate_sample(&sample, 2_000, 1, 2);
    let lake = dir.path().join("lake");
    convert_dir(&sample, &lake);
    let before = files_under(&lake);
    let victim = dir.path().join("victim.csv");
    let l = lake.to_str().unwrap();
    for sql in [
        format!("COPY (SELECT * FROM flows) TO '{}' STORED AS CSV", victim.display()),
        "INSERT INTO flows SELECT * FROM flows".to_string(),
        format!("CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '{}'", dir.path().display()),
        "CREATE TABLE t AS SELECT 1".to_string(),
        "DROP TABLE flows".to_string(),
        "SET datafusion.execution.batch_size = 1".to_string(),
        "EXPLAIN COPY (SELECT 1) TO '/tmp/x.csv' STORED AS CSV".to_string(),
        "SELECT 1; SELECT 2".to_string(),
    ] {
        let (_, err) = flowlake_code(&["query", l, &sql], 2);
        assert!(err.starts_with("flowlake: query: "), "{sql}: {err}");
        assert_eq!(err.lines().count(), 1, "one sentence: {err}");
    }
    let (_, err) = flowlake_code(&["query", l, "COPY (SELECT 1) TO '/tmp/x.csv'"], 2);
    assert_eq!(
        err,
        "flowlake: query: `COPY` is refused: flowlake only reads the table (SELECT, WITH, EXPLAIN, SHOW, DESCRIBE); \
         nothing is written, created or changed\n"
    );
    // Reading files outside the table by name is not possible either.
    let (_, err) = flowlake_code(&["query", l, "SELECT * FROM '/etc/passwd'"], 2);
    assert!(err.starts_with("flowlake: query: "), "{err}");
    assert!(!victim.exists());
    assert_eq!(files_under(&lake), before, "nothing in the table changed");
    let (out, _) = flowlake_code(&["query", l, "SELECT count(*) AS n FROM flows", "--format", "csv"], 0);
    assert_eq!(out, "n\n2000\n");
}

/// Runs the binary with its standard output (and error, when `both`) closed before it
/// writes anything: the reader went away, as `| head -0` does.
fn with_closed_pipe(args: &[&str], both: bool) -> (Option<i32>, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flowlake"));
    c.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    if both {
        drop(child.stderr.take());
    } else {
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    }
    (child.wait().unwrap().code(), err)
}

/// Case 10: a closed pipe ends any command quietly with exit 0, as `rg` does.
#[test]
fn a_closed_pipe_ends_quietly_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    generate_sample(&sample, 3_000, 1, 2);
    let lake = dir.path().join("lake");
    let (s, l) = (sample.to_str().unwrap(), lake.to_str().unwrap());
    assert_eq!(with_closed_pipe(&["schema", "--fields"], false), (Some(0), String::new()));
    assert_eq!(with_closed_pipe(&["schema", "--fields", "--json"], false), (Some(0), String::new()));
    assert_eq!(with_closed_pipe(&["schema", s], false), (Some(0), String::new()));
    // Both closed: the conversion still commits.
    assert_eq!(with_closed_pipe(&["convert", s, "--out", l], true).0, Some(0));
    assert_eq!(read_table(&lake).iter().map(|(_, b)| b.num_rows()).sum::<usize>(), 3000);
    assert_eq!(with_closed_pipe(&["convert", s, "--out", l, "--json"], false), (Some(0), String::new()));
    assert_eq!(with_closed_pipe(&["ddl", l], false), (Some(0), String::new()));
    #[cfg(feature = "query")]
    for format in ["table", "csv", "json"] {
        let got = with_closed_pipe(&["query", l, "SELECT * FROM flows", "--format", format, "-q"], false);
        assert_eq!(got, (Some(0), String::new()), "{format}");
        let got = with_closed_pipe(&["find", l, "--cidr", "0.0.0.0/0", "--format", format, "-q"], false);
        assert_eq!(got, (Some(0), String::new()), "{format}");
    }
}

/// Case 11: absurd numbers are usage errors (exit 2), not hangs or huge allocations.
#[test]
fn absurd_numbers_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = dir.path().join("g");
    let g = out.to_str().unwrap();
    for (args, needle) in [
        (vec!["convert", d, "--out", d, "--threads", "4000"], "--threads"),
        (vec!["convert", d, "--out", d, "--row-group-size", "0"], "--row-group-size"),
        (vec!["convert", d, "--out", d, "--page-rows", "0"], "--page-rows"),
        (vec!["convert", d, "--out", d, "--clusters", "0"], "--clusters"),
        (
            vec!["convert", d, "--out", d, "--write-buffer", "0"],
            "invalid --write-buffer `0`: must be more than 0 bytes",
        ),
        (vec!["convert", d, "--out", d, "--target-file-size", "0KB"], "invalid --target-file-size `0KB`"),
        (vec!["convert", d, "--out", d, "--vpc-cidr", "10.0.0.0/+8"], "invalid IPv4 CIDR `10.0.0.0/+8`"),
        (vec!["convert", d, "--out", ""], "an empty path: give a folder, or an s3:// URL"),
        (vec!["generate", g, "--days", "4294967295"], "a sample spans 1 to 3660 days, not 4294967295"),
        (vec!["generate", g, "--start-date", "1969-12-31"], "does not fit between 1970-01-02 and 9999-12-30"),
        (vec!["generate", g, "--files-per-day", "0"], "a sample has 1 to 1440 files a day, not 0"),
        (vec!["generate", g, "--records", "18446744073709551615"], "a sample holds at most"),
    ] {
        let (_, err) = flowlake_code(&args, 2);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert!(!out.exists(), "nothing generated");
    #[cfg(feature = "query")]
    {
        let (_, err) = flowlake_code(&["query", d, "SELECT 1", "-j", "100000"], 2);
        assert!(err.contains("--threads"), "{err}");
    }
}

/// Runs the binary from `cwd`; returns the exit code, stdout and stderr.
fn flowlake_in(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_flowlake")).current_dir(cwd).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_report(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not a report ({e}): {stdout}"))
}

/// Every row of the table, and the rows of the raw inputs, over the table's columns.
fn rows_and_raw(lake: &Path, sample: &Path) -> (Vec<String>, Vec<String>) {
    let t = read_table(lake);
    let cols = columns_of(&t);
    (table_rows(&t, &cols), raw_rows(&log_files(sample), &cols))
}

/// Case 1: the same files named two ways (relative, absolute, through `..`, overlapping
/// roots, twice on one command line) are converted once.
#[test]
fn the_same_inputs_named_in_other_ways_are_converted_once() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    generate_sample(&base.join("in"), 3_000, 2, 3);
    let abs = base.join("in");
    let one = log_files(&abs).remove(0);
    let sub = base.join("sub");
    fs::create_dir_all(&sub).unwrap();
    let (a, s) = (abs.to_str().unwrap(), one.to_str().unwrap());
    let runs: Vec<(&Path, Vec<&str>)> = vec![
        (base, vec!["in", "in"]),
        (base, vec![a]),
        (&sub, vec!["../in"]),
        (base, vec!["./sub/../in/", s]),
        (base, vec![a, s, "in"]),
    ];
    for (i, (cwd, inputs)) in runs.iter().enumerate() {
        let mut args = vec!["convert"];
        args.extend(inputs.iter().copied());
        let lake = base.join("lake");
        args.extend(["--out", lake.to_str().unwrap(), "--json"]);
        let (code, out, err) = flowlake_in(cwd, &args);
        assert_eq!(code, 0, "{args:?}: {err}");
        let r = json_report(&out);
        let (files_in, skipped) = (r["files_in"].as_u64().unwrap(), r["files_skipped"].as_u64().unwrap());
        if i == 0 {
            assert_eq!((files_in, skipped), (6, 0), "{args:?}");
            assert!(r["notes"][0].as_str().unwrap().contains("named more than once"), "{r}");
        } else {
            assert_eq!((files_in, skipped), (0, 6), "run {i} {args:?} converted again");
        }
        let (rows, raw) = rows_and_raw(&lake, &abs);
        assert!(rows == raw, "run {i}: every record exactly once");
    }
    // The table's commits still open, compact and convert (a repeated input once made them panic).
    let l = base.join("lake");
    flowlake_code(&["compact", l.to_str().unwrap()], 0);
    let (rows, raw) = rows_and_raw(&l, &abs);
    assert!(rows == raw);
}

/// Case 1: two file names that differ only in bytes that are not UTF-8 are two inputs.
#[test]
fn names_that_differ_only_in_invalid_utf8_are_two_inputs() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in/2023/08/01");
    fs::create_dir_all(&input).unwrap();
    let names = [b"a-\xff.log".as_slice(), b"a-\xfe.log".as_slice()];
    for (i, n) in names.iter().enumerate() {
        let p = input.join(std::ffi::OsStr::from_bytes(n));
        fs::write(&p, format!("{HEADER}\n{}\n", record(i as u32))).unwrap();
    }
    let lake = dir.path().join("lake");
    let opts = ConvertOptions::new(vec![Location::Local(dir.path().join("in"))], Location::Local(lake.clone()));
    let r = convert(&opts, &NoProgress).unwrap();
    assert_eq!((r.files_in, r.rows_written), (2, 2));
    let again = convert(&opts, &NoProgress).unwrap();
    assert_eq!((again.files_in, again.files_skipped), (0, 2));
    assert_eq!(read_table(&lake).iter().map(|(_, b)| b.num_rows()).sum::<usize>(), 2);
}

/// Case 2: a folder reached twice through a symbolic link is read once; a link loop and a
/// link that leads nowhere are reported as input problems; a FIFO named directly does not hang.
#[test]
fn symbolic_links_loops_dangling_links_and_fifos() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    generate_sample(&input, 2_000, 1, 2);
    // (Listed before the links are made: the tests' own walk follows links, loops included.)
    let originals = log_files(&input);
    let day = originals[0].parent().unwrap().to_path_buf();
    std::os::unix::fs::symlink(&day, input.join("again")).unwrap();
    std::os::unix::fs::symlink(&input, day.join("up")).unwrap();
    std::os::unix::fs::symlink(input.join("nowhere.log.gz"), input.join("dangling.log.gz")).unwrap();
    std::os::unix::fs::symlink(input.join("b"), input.join("a")).unwrap();
    std::os::unix::fs::symlink(input.join("a"), input.join("b")).unwrap();
    let fifo = dir.path().join("pipe.log");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let lake = dir.path().join("lake");
    let (code, out, _) = flowlake_in(
        dir.path(),
        &["convert", input.to_str().unwrap(), fifo.to_str().unwrap(), "--out", lake.to_str().unwrap(), "--json"],
    );
    assert_eq!(code, 1, "input problems make exit 1: {out}");
    let r = json_report(&out);
    assert_eq!(r["status"], "completed_with_errors");
    assert_eq!(r["files_in"], 2);
    let t = read_table(&lake);
    let cols = columns_of(&t);
    assert!(table_rows(&t, &cols) == raw_rows(&originals, &cols), "every record exactly once");
    let notes: Vec<&str> = r["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert!(
        notes.iter().any(|n| n.contains("was reached a second time (through a symbolic link): read once")),
        "{notes:?}"
    );
    let damaged: Vec<(String, String)> = r["files_damaged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["file"].as_str().unwrap().to_string(), d["error"].as_str().unwrap().to_string()))
        .collect();
    let find = |name: &str| damaged.iter().find(|(f, _)| f.ends_with(name)).map(|(_, e)| e.as_str());
    assert!(
        find("dangling.log.gz").is_some_and(|e| e.starts_with("a symbolic link that leads nowhere")),
        "{damaged:?}"
    );
    assert!(find("/a").or(find("/b")).is_some_and(|e| e.contains("loop")), "{damaged:?}");
    assert!(find("pipe.log").is_some_and(|e| e.contains("not a regular file")), "{damaged:?}");
}

/// Case 7: a commit edited to name a file outside the table stops the run with one
/// sentence; nothing outside the table is deleted, with or without --full-refresh.
#[test]
fn a_commit_naming_a_path_outside_the_table_is_damaged_and_nothing_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    generate_sample(&sample, 1_000, 1, 2);
    let lake = dir.path().join("lake");
    let victim = dir.path().join("victim.txt");
    fs::write(&victim, "keep me").unwrap();
    let (s, l) = (sample.to_str().unwrap(), lake.to_str().unwrap());
    flowlake_code(&["convert", s, "--out", l, "-q"], 0);
    let commit = files_under(&lake.join("_flowlake/log")).remove(0);
    let mut c: serde_json::Value = serde_json::from_str(&fs::read_to_string(&commit).unwrap()).unwrap();
    c["replaces_files"] = serde_json::json!(["../victim.txt"]);
    fs::write(&commit, serde_json::to_vec(&c).unwrap()).unwrap();
    let before = files_under(&lake);
    for extra in [&[][..], &["--full-refresh"][..]] {
        let mut args = vec!["convert", s, "--out", l];
        args.extend_from_slice(extra);
        let (_, err) = flowlake_code(&args, 1);
        assert!(
            err.starts_with(&format!(
                "flowlake: {} is damaged: `../victim.txt` is not a Parquet file inside the table",
                commit.display()
            )),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
        assert_eq!(files_under(&lake), before, "nothing in the table changed either");
    }
    flowlake_code(&["compact", l], 1);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
}

/// A table written by flowlake 0.1 (tests/golden/legacy-0.1: inputs recorded by a relative
/// path, a compaction that deleted files its runs' manifests still name) is read as it is:
/// the same inputs named another way are not converted again, new ones are, and flowlake
/// 0.1 is then kept from writing to it.
#[test]
fn a_table_written_by_flowlake_0_1_is_read_and_extended() {
    let dir = tempfile::tempdir().unwrap();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/legacy-0.1");
    let base = dir.path().join("work");
    for f in files_under(&golden) {
        let rel = f.strip_prefix(&golden).unwrap();
        if rel.starts_with("sample") || rel.starts_with("lake") {
            fs::create_dir_all(base.join(rel).parent().unwrap()).unwrap();
            fs::copy(&f, base.join(rel)).unwrap();
        }
    }
    // The inputs as they were when 0.1 converted them: their modification times are their versions.
    for m in files_under(&base.join("lake/_flowlake/manifest")) {
        let run: serde_json::Value = serde_json::from_str(&fs::read_to_string(m).unwrap()).unwrap();
        for i in run["inputs"].as_array().unwrap() {
            let ns: u64 = i["version"].as_str().unwrap().parse().unwrap();
            let f = fs::File::options().write(true).open(base.join(i["location"].as_str().unwrap())).unwrap();
            f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns)).unwrap();
        }
    }
    let (sample, lake) = (base.join("sample"), base.join("lake"));
    let (rows0, raw) = rows_and_raw(&lake, &sample);
    assert!(rows0 == raw, "the golden table holds its inputs once");
    // From elsewhere, by an absolute path; then from the table's folder, by the relative one.
    for (cwd, input) in [(dir.path(), sample.to_str().unwrap()), (base.as_path(), "sample")] {
        let (code, out, err) = flowlake_in(cwd, &["convert", input, "--out", lake.to_str().unwrap(), "--json"]);
        assert_eq!(code, 0, "{err}");
        let r = json_report(&out);
        assert_eq!((r["files_in"].as_u64(), r["files_skipped"].as_u64()), (Some(0), Some(6)), "{r}");
    }
    // A new day converts, and only it.
    let mut o = flowlake::generate::GenerateOptions::new(&sample, 400, 1);
    (o.start_date, o.files_per_day, o.seed) = ("2023-08-03".into(), 2, 8);
    flowlake::generate::generate(&o).unwrap();
    let (code, out, err) =
        flowlake_in(dir.path(), &["convert", sample.to_str().unwrap(), "--out", lake.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let r = json_report(&out);
    assert_eq!(
        (r["files_in"].as_u64(), r["files_skipped"].as_u64(), r["rows_written"].as_u64()),
        (Some(2), Some(6), Some(400))
    );
    let (rows, raw) = rows_and_raw(&lake, &sample);
    assert!(rows == raw, "every record exactly once");
    // flowlake 0.1 would not see the log: the file it stops at is there.
    assert!(lake.join("_flowlake/manifest").join(flowlake::table::log::MARKER).exists());
    // The files the table should hold are known, though 0.1's compaction deleted two its manifests name.
    #[cfg(feature = "query")]
    flowlake_code(&["verify", lake.to_str().unwrap()], 0);
}

/// Case 14: a file removed from the table by hand is noticed; so are strays and changed
/// files. `verify --repair` rebuilds the partitions from their inputs and removes strays.
#[test]
fn verify_finds_missing_stray_and_changed_files_and_repair_mends_them() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    generate_sample(&sample, 6_000, 3, 3);
    let lake = dir.path().join("lake");
    let (s, l) = (sample.to_str().unwrap(), lake.to_str().unwrap());
    flowlake_code(&["convert", s, "--out", l, "-q"], 0);
    let (out, err) = flowlake_code(&["verify", l], 0);
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("0 problems"), "{err}");
    let files = parquet_files(&lake);
    let rel = |p: &Path| p.strip_prefix(&lake).unwrap().to_string_lossy().into_owned();
    let (missing, changed) = (files[1].1.clone(), files[2].1.clone());
    fs::remove_file(&missing).unwrap();
    let bytes = fs::read(&changed).unwrap();
    fs::write(&changed, &bytes[..bytes.len() - 100]).unwrap();
    let stray = files[0].1.with_file_name("part-copied-by-hand.parquet");
    fs::copy(&files[0].1, &stray).unwrap();
    let (out, _) = flowlake_code(&["verify", l], 1);
    let lines: BTreeSet<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(out.contains(&format!("missing: {}: a commit names it but it is not there", rel(&missing))), "{out}");
    assert!(
        out.contains(&format!(
            "changed: {}: it is {} bytes, where its run wrote {}",
            rel(&changed),
            bytes.len() - 100,
            bytes.len()
        )),
        "{out}"
    );
    assert!(out.contains(&format!("stray: {}: no commit names it", rel(&stray))), "{out}");
    let (_, err) = flowlake_code(&["verify", l, "--repair"], 0);
    assert!(err.contains("3 problems, 3 mended"), "{err}");
    let (rows, raw) = rows_and_raw(&lake, &sample);
    assert!(rows == raw, "after the repair every record is there exactly once");
    flowlake_code(&["verify", l], 0);
    // And the next conversion has nothing to do.
    let (out, _) = flowlake_code(&["convert", s, "--out", l, "--json"], 0);
    assert_eq!(json_report(&out)["files_in"], 0);
}

/// A table keeps one layout: `verify --repair` of an hourly table rebuilds the missing
/// hour in hours (a rebuild in days would write no row of that hour and still replace
/// its files); a later run without --partition writes in the table's layout; a run that
/// asks for another is refused before it reads anything, unless it is a full refresh,
/// which rewrites the whole table in it.
#[test]
fn a_table_keeps_its_layout_through_repairs_and_later_runs() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    generate_sample(&sample, 3_000, 1, 6);
    let lake = dir.path().join("lake");
    let (s, l) = (sample.to_str().unwrap(), lake.to_str().unwrap());
    flowlake_code(&["convert", s, "--out", l, "--partition", "hour", "-q"], 0);
    let hourly = |lake: &Path| parquet_files(lake).iter().all(|(p, _)| p.contains("/hour="));
    assert!(hourly(&lake));
    let files = parquet_files(&lake);
    fs::remove_file(&files[files.len() / 2].1).unwrap();
    let (_, err) = flowlake_code(&["verify", l, "--repair"], 0);
    assert!(err.contains("1 problem, 1 mended"), "{err}");
    let (rows, raw) = rows_and_raw(&lake, &sample);
    assert!(rows == raw, "after the repair every record is there exactly once");
    assert!(hourly(&lake));
    flowlake_code(&["verify", l], 0);
    // A run asking for days: refused, nothing read or written.
    let more = dir.path().join("s/more");
    generate_sample(&more, 500, 1, 1);
    let (_, err) = flowlake_code(&["convert", s, "--out", l, "--partition", "date", "-q"], 2);
    assert!(err.contains("is partitioned by hour, and this run asks for date: leave out --partition"), "{err}");
    let (now, _) = rows_and_raw(&lake, &sample);
    assert!(now.len() == rows.len(), "the refused run changed nothing");
    // Without --partition: the table's hours.
    flowlake_code(&["convert", s, "--out", l, "-q"], 0);
    let (rows, raw) = rows_and_raw(&lake, &sample);
    assert!(rows == raw && hourly(&lake), "the new inputs' rows in hours, once");
    // A full refresh may change it: the whole table, by day.
    flowlake_code(&["convert", s, "--out", l, "--full-refresh", "--partition", "date", "-q"], 0);
    let files = parquet_files(&lake);
    assert!(files.iter().all(|(p, _)| !p.contains("/hour=")), "{files:?}");
    let (rows, raw) = rows_and_raw(&lake, &sample);
    assert!(rows == raw, "every record once, in days");
}

/// A committed run's file left in its staging folder (a crash before the move) and the
/// staging folder of a run killed two days ago: verify names both; --repair tidies them as
/// every transaction does first, and the table holds every record once.
#[test]
fn verify_repair_publishes_committed_files_and_removes_leftovers_of_killed_runs() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    generate_sample(&sample, 3_000, 2, 2);
    let lake = dir.path().join("lake");
    let (s, l) = (sample.to_str().unwrap(), lake.to_str().unwrap());
    let (out, _) = flowlake_code(&["convert", s, "--out", l, "--json"], 0);
    let run = json_report(&out)["run_id"].as_str().unwrap().to_string();
    let files = parquet_files(&lake);
    let moved = &files[0].1;
    let rel = moved.strip_prefix(&lake).unwrap().to_path_buf();
    let staged = lake.join("_flowlake/staging").join(&run).join(&rel);
    fs::create_dir_all(staged.parent().unwrap()).unwrap();
    fs::rename(moved, &staged).unwrap();
    let killed = lake.join("_flowlake/staging/20200101T000000Z-0badf00d/date=2023-08-01");
    fs::create_dir_all(&killed).unwrap();
    fs::write(killed.join("part-20200101T000000Z-0badf00d-00000.parquet"), b"half").unwrap();
    let (out, _) = flowlake_code(&["verify", l], 1);
    assert!(out.contains(&format!("unpublished: _flowlake/staging/{run}")), "{out}");
    assert!(out.contains("leftover: _flowlake/staging/20200101T000000Z-0badf00d"), "{out}");
    assert!(!out.contains("missing:"), "a staged file is not missing: {out}");
    let (out, _) = flowlake_code(&["verify", l, "--repair", "--json"], 0);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(r["repair_run"].is_null(), "nothing to convert again: {r}");
    assert!(moved.is_file(), "moved into place");
    assert!(
        !lake.join("_flowlake/staging").join(&run).exists() || files_under(&lake.join("_flowlake/staging")).is_empty()
    );
    assert!(!killed.exists(), "the killed run's files are gone");
    let (rows, raw) = rows_and_raw(&lake, &sample);
    assert!(rows == raw, "every record once");
    flowlake_code(&["verify", l], 0);
}

/// Case 13: a step after the commit that fails (here the DDL, whose folder is a file)
/// still prints the report, which says the rows are committed and what failed; exit 1.
#[test]
fn a_failure_after_the_commit_still_reports_the_committed_rows() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    let g = generate_sample(&sample, 1_000, 1, 2);
    let lake = dir.path().join("lake");
    fs::create_dir_all(lake.join("_flowlake")).unwrap();
    fs::write(lake.join("_flowlake/ddl"), "in the way").unwrap();
    let (code, out, _) =
        flowlake_in(dir.path(), &["convert", sample.to_str().unwrap(), "--out", lake.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1);
    let r = json_report(&out);
    assert_eq!(
        (r["status"].as_str(), r["commit"].as_u64(), r["rows_written"].as_u64()),
        (Some("ok"), Some(1), Some(g.records))
    );
    let errors = r["after_commit_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{r}");
    assert!(errors[0].as_str().unwrap().starts_with("the DDL was not written: "), "{r}");
    let (rows, raw) = rows_and_raw(&lake, &sample);
    assert!(rows == raw, "the rows are committed");
    // The human summary says so too, and a rerun has nothing left to convert.
    fs::remove_file(lake.join("_flowlake/ddl")).unwrap();
    let (out, _) = flowlake_code(&["convert", sample.to_str().unwrap(), "--out", lake.to_str().unwrap(), "--json"], 0);
    assert_eq!(json_report(&out)["files_in"], 0);
}

/// Smaller rough edges, each with the ending a user would expect.
#[test]
fn rough_edges_end_clearly() {
    let dir = tempfile::tempdir().unwrap();
    // `demo --dir X` deletes only what an earlier demo made.
    let mine = dir.path().join("mine");
    fs::create_dir_all(mine.join("lake")).unwrap();
    fs::write(mine.join("lake/precious.txt"), "keep").unwrap();
    let (_, err) = flowlake_code(&["demo", "--dir", mine.to_str().unwrap(), "--records", "1000"], 2);
    assert!(
        err.contains("exists and was not made by `flowlake demo`: give another --dir (nothing was deleted)"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(mine.join("lake/precious.txt")).unwrap(), "keep");
    let demo = dir.path().join("demo");
    for _ in 0..2 {
        flowlake_code(&["demo", "--dir", demo.to_str().unwrap(), "--records", "1000"], 0);
    }
    // An output folder with a quote in its path: the DDL needs another location.
    let quoted = dir.path().join("it's");
    let (_, err) =
        flowlake_code(&["convert", demo.join("sample").to_str().unwrap(), "--out", quoted.to_str().unwrap()], 2);
    assert!(err.contains("--location"), "{err}");
    #[cfg(feature = "query")]
    {
        let lake = demo.join("lake");
        let l = lake.to_str().unwrap();
        let (_, err) = flowlake_code(&["find", l, "--ip", "10.0.0.1", "--columns", "srcaddr,nope"], 2);
        assert!(err.contains("the table has no column `nope`; its columns are "), "{err}");
        let (_, err) = flowlake_code(&["query", l, "SELECT 1", "-o", ""], 2);
        assert!(err.contains("--output"), "{err}");
    }
}

/// From a review of the exactly-once work: a full refresh replaces every earlier run, so
/// shards of one would replace each other's rows. It is refused before anything is read.
#[test]
fn a_full_refresh_cannot_be_sharded() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    generate_sample(&sample, 500, 1, 2);
    let lake = dir.path().join("lake");
    let (s, l) = (sample.to_str().unwrap(), lake.to_str().unwrap());
    let (_, err) = flowlake_code(&["convert", s, "--out", l, "--full-refresh", "--shard", "0/2"], 2);
    assert!(err.contains("--full-refresh") && err.contains("--shard"), "{err}");
    let opts = ConvertOptions::new(vec![Location::Local(sample.clone())], Location::Local(lake.clone()))
        .with_full_refresh(true)
        .with_shard(Some("1/2".parse().unwrap()));
    let err = convert(&opts, &NoProgress).unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("cannot be split into shards"), "{err}");
    assert!(!lake.exists(), "nothing was written");
}

/// `compact` rewrites only the files the log names: a Parquet file copied into a
/// partition by hand is left as it is (and counted), never folded into the table's files.
#[test]
fn compact_leaves_files_no_commit_names_alone() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    generate_sample(&sample, 3_000, 1, 4);
    let lake = dir.path().join("lake");
    let (s, l) = (sample.to_str().unwrap(), lake.to_str().unwrap());
    // Two runs, half of the deliveries each: two files in the day's partition.
    let files = log_files(&sample);
    let later: Vec<(std::path::PathBuf, std::path::PathBuf)> =
        files[2..].iter().map(|f| (f.clone(), f.with_extension("later"))).collect();
    for (f, aside) in &later {
        fs::rename(f, aside).unwrap();
    }
    flowlake_code(&["convert", s, "--out", l, "-q"], 0);
    for (f, aside) in &later {
        fs::rename(aside, f).unwrap();
    }
    flowlake_code(&["convert", s, "--out", l, "-q"], 0);
    let before = parquet_files(&lake);
    // Files per partition folder: those with two or more are compacted into one each.
    let mut per_dir: std::collections::BTreeMap<std::path::PathBuf, u64> = Default::default();
    for (_, p) in &before {
        *per_dir.entry(p.parent().unwrap().to_path_buf()).or_default() += 1;
    }
    let (several, total) = per_dir.values().filter(|n| **n >= 2).fold((0u64, 0u64), |(d, t), n| (d + 1, t + n));
    assert!(several >= 1, "{per_dir:?}");
    let stray = before[0].1.with_file_name("part-copied-by-hand.parquet");
    fs::copy(&before[0].1, &stray).unwrap();
    let (out, _) = flowlake_code(&["compact", l, "--json"], 0);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((r["files_before"].as_u64(), r["files_after"].as_u64()), (Some(total), Some(several)), "{r}");
    assert_eq!(r["files_not_in_log"].as_u64(), Some(1), "{r}");
    assert!(stray.is_file(), "the stray is left where it was");
    fs::remove_file(&stray).unwrap();
    let (rows, raw) = rows_and_raw(&lake, &sample);
    assert!(rows == raw, "the table's own rows, each once");
    flowlake_code(&["verify", l], 0);
}

/// A symbolic link inside the table (a partition folder pointing elsewhere) is neither
/// read nor followed: verify names it, `--repair` refuses while it is there, and nothing
/// outside the table is deleted or written.
#[test]
fn a_symbolic_link_inside_the_table_is_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    generate_sample(&sample, 2_000, 1, 2);
    let lake = dir.path().join("lake");
    let (s, l) = (sample.to_str().unwrap(), lake.to_str().unwrap());
    flowlake_code(&["convert", s, "--out", l, "-q"], 0);
    let files = parquet_files(&lake);
    let outside = dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::copy(&files[0].1, outside.join("part-precious.parquet")).unwrap();
    fs::write(outside.join("notes.txt"), "keep").unwrap();
    let rows: usize = read_table(&lake).iter().map(|(_, b)| b.num_rows()).sum();
    std::os::unix::fs::symlink(&outside, lake.join("date=2099-01-01")).unwrap();
    let (out, _) = flowlake_code(&["verify", l], 1);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("link: date=2099-01-01: a symbolic link inside the table"), "{out}");
    let (_, err) = flowlake_code(&["verify", l, "--repair"], 1);
    assert!(err.contains("the table holds symbolic links (date=2099-01-01): nothing was repaired"), "{err}");
    assert!(outside.join("part-precious.parquet").is_file() && outside.join("notes.txt").is_file());
    // Queries do not read through it; compact neither folds nor deletes what is behind it.
    let (out, _) = flowlake_code(&["query", l, "SELECT count(*) AS n FROM flows", "--format", "csv"], 0);
    assert_eq!(out.lines().nth(1), Some(rows.to_string().as_str()), "{out}");
    flowlake_code(&["compact", l, "--json"], 0);
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 2);
    fs::remove_file(lake.join("date=2099-01-01")).unwrap();
    let after: usize = read_table(&lake).iter().map(|(_, b)| b.num_rows()).sum();
    assert_eq!(after, rows);
}

/// A table whose first partition folder (by name) is empty is still found by `query`.
#[test]
fn query_finds_the_layout_past_an_empty_partition_folder() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    generate_sample(&sample, 1_000, 1, 1);
    let lake = dir.path().join("lake");
    let l = lake.to_str().unwrap();
    flowlake_code(&["convert", sample.to_str().unwrap(), "--out", l, "-q"], 0);
    fs::create_dir_all(lake.join("date=1999-01-01")).unwrap();
    let (out, _) = flowlake_code(&["query", l, "SELECT count(*) AS n FROM flows", "--format", "csv"], 0);
    assert_eq!(out.lines().nth(1), Some("1000"), "{out}");
}

/// A run that fails leaves no rejects in the table's rejects folder (they stay in its
/// staging folder, which the report names): a retry that commits has each rejected line
/// there once.
#[test]
fn a_failed_run_leaves_no_rejects_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(&input).unwrap();
    let mut text = format!("{HEADER}\n");
    for i in 0..100 {
        text += &format!("{}\n", record(i));
        if i % 20 == 0 {
            text += "garbage\n";
        }
    }
    fs::write(input.join("x.log"), &text).unwrap();
    let lake = dir.path().join("lake");
    let opts = ConvertOptions::new(vec![Location::Local(input.clone())], Location::Local(lake.clone()));
    let failed = convert(&opts.clone().with_max_rejects(Some(2)), &NoProgress).unwrap();
    assert_eq!(failed.status, RunStatus::Failed);
    let staged = failed.rejects_path.clone().unwrap();
    assert!(staged.contains("/_flowlake/staging/") && Path::new(&staged).is_file(), "{staged}");
    assert!(!lake.join("_flowlake/rejects").exists(), "no rejects published by a failed run");
    let ok = convert_dir(&input, &lake);
    assert_eq!((ok.rows_written, ok.rows_rejected), (100, 5));
    let published: Vec<_> = fs::read_dir(lake.join("_flowlake/rejects")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(published.len(), 1);
    assert_eq!(ok.rejects_path.as_deref(), Some(published[0].to_str().unwrap()));
    assert_eq!(rejects(ok.rejects_path.as_deref().unwrap()).len(), 5);
}
