//! Runs that overlap on one table, as a scheduled job overrunning into the next, or a
//! Kubernetes Indexed Job or AWS Batch array retrying a task whose first attempt still
//! runs, make them: every row exactly once every time, on disk and on S3 (moto).

use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::common::*;

const REPEATS: usize = 20;

/// Starts a conversion of `sample` into `lake` (a path or s3:// URL).
fn start(sample: &Path, lake: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_flowlake"))
        .args(["convert", sample.to_str().unwrap(), "--out", lake, "--json", "-q"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Starts every run at once, then waits for all: (exit code, report).
fn together(sample: &Path, lake: &str, runs: &[Vec<&str>]) -> Vec<(i32, Value)> {
    let children: Vec<Child> = runs.iter().map(|extra| start(sample, lake, extra)).collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let report: Value = serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("no report ({e}): {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
            (out.status.code().unwrap(), report)
        })
        .collect()
}

/// Four runs over the same inputs: one converts everything; each other one either lost the
/// race (exit 3, naming the winner, nothing written) or started after the winner's commit
/// (nothing left to convert). Returns how many lost a race.
fn check_same_inputs(results: &[(i32, Value)], files: u64, records: u64) -> usize {
    let winners: Vec<&Value> =
        results.iter().map(|(_, r)| r).filter(|r| r["rows_written"].as_u64() > Some(0)).collect();
    assert_eq!(winners.len(), 1, "exactly one run converts: {results:#?}");
    assert_eq!((winners[0]["files_in"].as_u64(), winners[0]["rows_written"].as_u64()), (Some(files), Some(records)));
    let winner = winners[0]["run_id"].as_str().unwrap();
    let mut lost = 0;
    for (code, r) in results {
        if r["run_id"] == winner {
            assert_eq!(*code, 0);
            continue;
        }
        match r["status"].as_str().unwrap() {
            "conflict" => {
                assert_eq!(*code, 3);
                let e = r["error"].as_str().unwrap();
                assert!(
                    e.starts_with(&format!("another run ({winner}, commit "))
                        && e.contains(") committed first and converted "),
                    "{e}"
                );
                assert!(e.ends_with("as well: this run wrote nothing; run it again to convert what is left"), "{e}");
                assert_eq!((r["rows_written"].as_u64(), r["files_written"].as_u64()), (Some(0), Some(0)));
                assert!(r["commit"].is_null() && r["rejects_path"].is_null());
                lost += 1;
            }
            "ok" => {
                assert_eq!(*code, 0);
                assert_eq!((r["files_in"].as_u64(), r["files_skipped"].as_u64()), (Some(0), Some(files)), "{r}");
            }
            other => panic!("run ended {other}: {r}"),
        }
    }
    lost
}

/// Three disjoint shards: all commit, and together they convert every input once.
fn check_shards(results: &[(i32, Value)], files: u64, records: u64) {
    for (code, r) in results {
        assert_eq!((*code, r["status"].as_str()), (0, Some("ok")), "{r}");
    }
    let sum = |k: &str| results.iter().map(|(_, r)| r[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!((sum("files_in"), sum("rows_written")), (files, records));
}

fn same_table_rows(lake: &Path, sample: &Path) {
    let t = read_table(lake);
    let cols = columns_of(&t);
    assert!(table_rows(&t, &cols) == raw_rows(&log_files(sample), &cols), "every record exactly once");
    let staged = files_under(&lake.join("_flowlake/staging"));
    assert!(staged.is_empty(), "nothing left staged: {staged:?}");
}

fn sample(dir: &Path) -> (std::path::PathBuf, u64, u64) {
    let s = dir.join("sample");
    let g = generate_sample(&s, 4_000, 9, 2);
    (s, g.files, g.records)
}

#[test]
fn four_runs_over_the_same_inputs_and_three_shards_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (sample, files, records) = sample(dir.path());
    let mut lost = 0;
    for rep in 0..REPEATS {
        let lake = dir.path().join(format!("same-{rep}"));
        let results = together(&sample, lake.to_str().unwrap(), &[vec![], vec![], vec![], vec![]]);
        lost += check_same_inputs(&results, files, records);
        same_table_rows(&lake, &sample);
        let lake = dir.path().join(format!("shards-{rep}"));
        let shards: Vec<Vec<&str>> = vec![vec!["--shard", "0/3"], vec!["--shard", "1/3"], vec!["--shard", "2/3"]];
        check_shards(&together(&sample, lake.to_str().unwrap(), &shards), files, records);
        same_table_rows(&lake, &sample);
    }
    // The runs did overlap: some lost the race at the commit (the rest found the work done).
    assert!(lost > 0, "no run lost a race in {REPEATS} repetitions: the test did not test the race");
    eprintln!("{lost} of {} runs lost the race", REPEATS * 3);
}

/// The same shard twice at once (a retried task whose first attempt still runs), with the
/// other two shards: every row once.
#[test]
fn a_shard_retried_while_its_first_attempt_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (sample, files, records) = sample(dir.path());
    for rep in 0..REPEATS / 2 {
        let lake = dir.path().join(format!("lake-{rep}"));
        let runs: Vec<Vec<&str>> =
            vec![vec!["--shard", "0/3"], vec!["--shard", "1/3"], vec!["--shard", "1/3"], vec!["--shard", "2/3"]];
        let results = together(&sample, lake.to_str().unwrap(), &runs);
        let rows: u64 = results.iter().map(|(_, r)| r["rows_written"].as_u64().unwrap()).sum();
        assert_eq!(rows, records, "{results:#?}");
        let conflicts = results.iter().filter(|(c, _)| *c == 3).count();
        assert!(conflicts <= 1);
        let _ = files;
        same_table_rows(&lake, &sample);
    }
}

/// Two shards at once into a new table, one enriched with AWS's ranges and one not (an
/// operator who forgot the flag on one task): the unenriched one must not commit after the
/// enriched one, or its rows would sit without the columns in a table that has them. It
/// either commits first, or loses at the commit (exit 3), or starts after the enriched
/// commit and is refused (exit 2); never both rows and a later commit.
#[test]
fn an_unenriched_shard_never_commits_after_an_enriched_one() {
    let dir = tempfile::tempdir().unwrap();
    let (sample, _, records) = sample(dir.path());
    let ranges = dir.path().join("ip-ranges.json");
    let entry = serde_json::json!({"ip_prefix": "10.0.0.0/8", "region": "us-east-1", "service": "AMAZON",
        "network_border_group": "us-east-1"});
    let doc = serde_json::json!({"syncToken": "1", "createDate": "2024-06-01-12-30-05", "prefixes": [entry],
        "ipv6_prefixes": []});
    std::fs::write(&ranges, doc.to_string()).unwrap();
    let enrich = format!("aws-ip-ranges={}", ranges.display());
    let mut refused = 0;
    for rep in 0..REPEATS / 2 {
        let lake = dir.path().join(format!("lake-{rep}"));
        let l = lake.to_str().unwrap();
        let enriched = start(&sample, l, &["--shard", "0/2", "--enrich", &enrich]);
        let plain = start(&sample, l, &["--shard", "1/2"]);
        let (enriched, plain) = (enriched.wait_with_output().unwrap(), plain.wait_with_output().unwrap());
        let report = |o: &std::process::Output| serde_json::from_slice::<Value>(&o.stdout).ok();
        let first = report(&enriched).unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&enriched.stderr)));
        assert_eq!((enriched.status.code(), first["status"].as_str()), (Some(0), Some("ok")), "{first}");
        let second = report(&plain);
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&plain.stderr),
            second.as_ref().map_or(String::new(), |r| r.to_string())
        );
        match plain.status.code() {
            Some(0) => {
                let second = second.unwrap();
                assert!(second["commit"].as_u64() < first["commit"].as_u64(), "{first}\n{second}");
            }
            Some(2 | 3) => {
                assert!(said.contains("--enrich aws-ip-ranges") && said.contains("--allow-unenriched"), "{said}");
                assert!(second.is_none_or(|r| r["rows_written"].as_u64() == Some(0)), "{said}");
                refused += 1;
                flowlake_code(
                    &["convert", sample.to_str().unwrap(), "-o", l, "-q", "--shard", "1/2", "--enrich", &enrich],
                    0,
                );
            }
            other => panic!("exit {other:?}: {said}"),
        }
        let rows: usize = read_table(&lake).iter().map(|(_, b)| b.num_rows()).sum();
        assert_eq!(rows as u64, records, "every record once");
    }
    eprintln!("{refused} of {} unenriched shards refused", REPEATS / 2);
}

/// Two shards start on an empty table, asking for different layouts: whichever commits
/// second is refused (a usage error if it began after the first commit, a conflict if it
/// raced it), so the table never holds two layouts; the refused shard, run again without
/// `--partition`, takes the table's.
#[test]
fn shards_asking_for_different_layouts_never_mix_them() {
    let dir = tempfile::tempdir().unwrap();
    let (sample, _, records) = sample(dir.path());
    let mut raced = 0;
    for rep in 0..REPEATS / 2 {
        let lake = dir.path().join(format!("lake-{rep}"));
        let l = lake.to_str().unwrap();
        let runs = [("0/2", "date"), ("1/2", "hour")];
        let children: Vec<Child> =
            runs.iter().map(|(shard, layout)| start(&sample, l, &["--shard", shard, "--partition", layout])).collect();
        let outs: Vec<std::process::Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
        let ok: Vec<usize> = (0..2).filter(|i| outs[*i].status.code() == Some(0)).collect();
        assert_eq!(ok.len(), 1, "exactly one layout wins: {outs:#?}");
        let loser = 1 - ok[0];
        let said =
            format!("{}{}", String::from_utf8_lossy(&outs[loser].stderr), String::from_utf8_lossy(&outs[loser].stdout));
        match outs[loser].status.code() {
            Some(3) => {
                assert!(said.contains("a table holds one layout"), "{said}");
                raced += 1;
            }
            Some(2) => assert!(said.contains("leave out --partition"), "{said}"),
            other => panic!("exit {other:?}: {said}"),
        }
        let hourly = |lake: &Path| -> std::collections::BTreeSet<bool> {
            parquet_files(lake).iter().map(|(part, _)| part.contains("hour=")).collect()
        };
        let layouts = hourly(&lake);
        assert_eq!(layouts.len(), 1, "one layout in {}: {layouts:?}", lake.display());
        assert_eq!(layouts.contains(&true), runs[ok[0]].1 == "hour");
        flowlake_code(&["convert", sample.to_str().unwrap(), "-o", l, "-q", "--shard", runs[loser].0], 0);
        let rows: usize = read_table(&lake).iter().map(|(_, b)| b.num_rows()).sum();
        assert_eq!(rows as u64, records, "every record once");
        assert_eq!(hourly(&lake), layouts, "the rerun keeps the table's layout");
    }
    assert!(
        raced > 0,
        "no second layout raced the first in {} repetitions: the test did not test the race",
        REPEATS / 2
    );
    eprintln!("{raced} of {} second layouts lost a race rather than being refused at the start", REPEATS / 2);
}

#[cfg(feature = "s3")]
#[test]
fn four_runs_over_the_same_inputs_and_three_shards_on_s3() {
    use crate::s3::{S3, endpoint};
    let s3 = S3::new();
    let ep = endpoint("FLOWLAKE_S3_ENDPOINT");
    let dir = tempfile::tempdir().unwrap();
    let (sample, files, records) = sample(dir.path());
    let mut lost = 0;
    for rep in 0..REPEATS {
        let bucket = s3.bucket("race");
        let url = format!("s3://{bucket}/lake/");
        let results = together(&sample, &url, &vec![vec!["--endpoint-url", ep.as_str()]; 4]);
        lost += check_same_inputs(&results, files, records);
        let local = dir.path().join(format!("same-{rep}"));
        s3.download(&bucket, "lake/", &local);
        same_table_rows(&local, &sample);
        let url = format!("s3://{bucket}/shards/");
        let shards: Vec<Vec<&str>> =
            (0..3).map(|i| vec!["--shard", ["0/3", "1/3", "2/3"][i], "--endpoint-url", ep.as_str()]).collect();
        check_shards(&together(&sample, &url, &shards), files, records);
        let local = dir.path().join(format!("shards-{rep}"));
        s3.download(&bucket, "shards/", &local);
        same_table_rows(&local, &sample);
    }
    assert!(lost > 0, "no run lost a race in {REPEATS} repetitions: the test did not test the race");
    eprintln!("{lost} of {} runs lost the race", REPEATS * 3);
}
