//! The command line as a user meets it: exit codes, --json, one-sentence errors.

use std::fs;

use serde_json::Value;

use crate::common::*;

#[test]
fn generate_convert_json_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("sample");
    let lake = dir.path().join("lake");
    let (s, _) = flowlake_code(
        &["generate", sample.to_str().unwrap(), "--records", "5000", "--days", "2", "--files-per-day", "4", "--json"],
        0,
    );
    let g: Value = serde_json::from_str(&s).unwrap();
    assert_eq!(g["records"], 5000);
    let (out, err) =
        flowlake_code(&["convert", sample.to_str().unwrap(), "--out", lake.to_str().unwrap(), "--json"], 0);
    let r: Value = serde_json::from_str(&out).expect("stdout is one JSON document");
    assert_eq!(r["status"], "ok");
    assert_eq!(r["rows_in"], 5000);
    assert_eq!(r["rows_written"], 5000);
    assert_eq!(r["rows_rejected"], 0);
    for key in ["files_in", "bytes_in", "files_written", "partitions", "rejects_path", "elapsed_seconds"] {
        assert!(r.get(key).is_some(), "report lacks {key}");
    }
    assert!(err.is_empty(), "--json keeps stderr quiet when not a terminal: {err}");
    let stored: Value = serde_json::from_str(&fs::read_to_string(r["report_path"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(stored, r);

    let (_, human) =
        flowlake_code(&["convert", sample.to_str().unwrap(), "--out", dir.path().join("lake2").to_str().unwrap()], 0);
    assert!(human.starts_with("flowlake: converted 8 files"), "{human}");
    // Into the same table again: nothing new to convert.
    let (_, again) = flowlake_code(&["convert", sample.to_str().unwrap(), "--out", lake.to_str().unwrap()], 0);
    assert!(again.starts_with("flowlake: converted 0 files"), "{again}");
    assert!(again.contains("skipped 8 input files already in the table's manifest (unchanged)"), "{again}");

    let (schema, _) = flowlake_code(&["schema", sample.to_str().unwrap()], 0);
    assert!(schema.contains("8 input files, 1 formats"), "{schema}");
    assert!(schema.contains("bytes                        INT64    bigint"), "{schema}");
    let (fields, _) = flowlake_code(&["schema", "--fields"], 0);
    assert!(fields.contains("reject-reason"));
}

#[test]
fn usage_errors_exit_2_with_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (_, err) = flowlake_code(&["convert", d, "--out", d, "--compression", "lz5"], 2);
    assert_eq!(err, "flowlake: invalid compression `lz5`: expected zstd[:1-22], snappy, gzip[:0-9] or none\n");
    let (_, err) = flowlake_code(&["convert", d, "--out", d, "--format", "${version} ${srcadr}"], 2);
    assert!(err.contains("unknown field `srcadr` in format; did you mean `srcaddr`?"), "{err}");
    let (_, err) = flowlake_code(&["convert", d], 2);
    assert!(err.contains("--out"), "{err}");
    flowlake_code(&["frobnicate"], 2);
    flowlake_code(&["--help"], 0);
}

#[test]
fn run_errors_exit_1_without_panics() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let (_, err) =
        flowlake_code(&["convert", missing.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()], 1);
    assert_eq!(err, format!("flowlake: input {} does not exist\n", missing.display()));

    let empty = dir.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let (_, err) =
        flowlake_code(&["convert", empty.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()], 1);
    assert!(err.starts_with("flowlake: no input files found in "), "{err}");

    // An output below a regular file cannot be created.
    let file = dir.path().join("a-file");
    fs::write(&file, "x").unwrap();
    fs::write(empty.join("x.log"), "version srcaddr start\n2 1.2.3.4 1418530010\n").unwrap();
    let bad_out = file.join("sub");
    let (_, err) = flowlake_code(&["convert", empty.to_str().unwrap(), "--out", bad_out.to_str().unwrap()], 1);
    assert!(err.starts_with("flowlake: cannot create folder "), "{err}");
    assert!(!err.contains("panicked"));
    let (_, err) = flowlake_code(&["convert", empty.to_str().unwrap(), "--out", file.to_str().unwrap()], 2);
    assert!(err.contains("is a file"), "{err}");
}

#[test]
fn damaged_input_exits_1_and_keeps_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(&input).unwrap();
    fs::write(input.join("ok.log"), "version srcaddr start\n2 1.2.3.4 1418530010\n").unwrap();
    fs::write(input.join("bad.log.gz"), "not gzip at all\n").unwrap();
    let lake = dir.path().join("lake");
    let (out, _) = flowlake_code(&["convert", input.to_str().unwrap(), "--out", lake.to_str().unwrap(), "--json"], 1);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["status"], "completed_with_errors");
    assert_eq!(r["rows_written"], 1);
    assert_eq!(r["files_damaged"].as_array().unwrap().len(), 1);
}

#[test]
fn max_rejects_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.log");
    fs::write(&input, "version srcaddr start\nbad\nbad\n2 1.2.3.4 1418530010\n").unwrap();
    let lake = dir.path().join("lake");
    let (_, err) =
        flowlake_code(&["convert", input.to_str().unwrap(), "--out", lake.to_str().unwrap(), "--max-rejects", "1"], 1);
    assert!(err.contains("more than 1 records rejected (--max-rejects 1)"), "{err}");
    flowlake_code(&["convert", input.to_str().unwrap(), "--out", lake.to_str().unwrap(), "--max-rejects", "2"], 0);
}
