//! Killing a conversion at any moment and running the same command again gives
//! exactly the rows of a clean run: no duplicates, no gaps.

use std::process::Command;
use std::time::Instant;

use flowlake::generate::{self, GenerateOptions};

use crate::common::*;

fn convert_cmd(sample: &std::path::Path, lake: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flowlake"));
    c.args(["convert", sample.to_str().unwrap(), "--out", lake.to_str().unwrap(), "--quiet"]);
    c.args(["--target-file-size", "200KB", "--row-group-size", "5000"]);
    c
}

#[test]
fn killed_at_twenty_points_then_rerun_equals_a_clean_run() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("sample");
    let lake = dir.path().join("lake");
    // Four deliveries of a day each; five kills per delivery, at points spread over a run of it
    // (listing, header scan, parsing and writing, committing the manifest, moving files into place).
    let day = |n: u32| {
        let mut o = GenerateOptions::new(&sample, 60_000, 1);
        o.files_per_day = 48;
        o.seed = u64::from(n) + 1;
        o.start_date = format!("2023-08-{:02}", n + 1);
        generate::generate(&o).unwrap();
    };
    let mut per_run = None;
    for i in 0..20u32 {
        if i % 5 == 0 {
            day(i / 5);
        }
        let per_run = *per_run.get_or_insert_with(|| {
            // How long one delivery takes to convert, measured on a scratch table.
            let t = Instant::now();
            assert!(convert_cmd(&sample, &dir.path().join("scratch")).status().unwrap().success());
            t.elapsed()
        });
        let delay = per_run.mul_f64(f64::from(i % 5) / 4.0 + 0.05);
        let mut child = convert_cmd(&sample, &lake).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }
    let manifests = files_under(&lake.join("_flowlake/manifest")).len();
    eprintln!("{manifests} runs committed before the final one");
    // The same command, to the end.
    let out = convert_cmd(&sample, &lake).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let clean = dir.path().join("clean");
    assert!(convert_cmd(&sample, &clean).status().unwrap().success());
    let (a, b) = (read_table(&clean), read_table(&lake));
    let columns = columns_of(&a);
    let (rows_a, rows_b) = (table_rows(&a, &columns), table_rows(&b, &columns));
    assert_eq!(rows_a.len(), 240_000);
    assert_eq!(rows_b.len(), rows_a.len(), "row count after kills and rerun");
    assert!(rows_b == rows_a, "the rows differ from a clean run");
    assert_eq!(sums_by_partition(&b, "bytes"), sums_by_partition(&a, "bytes"));
    assert_eq!(rows_by_partition(&b), rows_by_partition(&a));
}
