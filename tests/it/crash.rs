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
    // Fold the manifests often, so that kills land in checkpoints too.
    c.args(["--checkpoint-every", "2"]);
    c
}

#[test]
fn killed_at_twenty_points_then_rerun_equals_a_clean_run() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("sample");
    let lake = dir.path().join("lake");
    // Four deliveries of a day each; five kills per delivery, at points spread over a run of it
    // (listing, header scan, parsing and writing, committing the manifest, moving files into place,
    // folding a checkpoint). From the second delivery on, an input converted earlier changes twice
    // per delivery (it loses every third record), so kills also land in partition rebuilds.
    let day = |n: u32| {
        let mut o = GenerateOptions::new(&sample, 60_000, 1);
        o.files_per_day = 48;
        o.seed = u64::from(n) + 1;
        o.start_date = format!("2023-08-{:02}", n + 1);
        generate::generate(&o).unwrap();
    };
    let mut per_run = std::time::Duration::ZERO;
    for i in 0u32..20 {
        if i % 5 == 0 {
            day(i / 5);
            // How long a run over the deliveries so far takes, measured on a scratch table.
            let scratch = dir.path().join(format!("scratch{i}"));
            let t = Instant::now();
            assert!(convert_cmd(&sample, &scratch).status().unwrap().success());
            per_run = t.elapsed();
        }
        if i >= 5 && (i % 5 == 1 || i % 5 == 3) {
            let files = log_files(&sample);
            let changed = &files[(i as usize * 7) % 48];
            let text = raw_text(changed);
            let kept: Vec<&str> =
                text.lines().enumerate().filter(|(n, _)| *n == 0 || n % 3 != 0).map(|(_, l)| l).collect();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, (kept.join("\n") + "\n").as_bytes()).unwrap();
            std::fs::write(changed, gz.finish().unwrap()).unwrap();
        }
        let delay = per_run.mul_f64(f64::from(i % 5) / 4.0 + 0.05);
        let mut child = convert_cmd(&sample, &lake).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }
    let manifests = files_under(&lake.join("_flowlake/log")).len();
    eprintln!("{manifests} runs committed before the final one");
    // The same command, to the end.
    let out = convert_cmd(&sample, &lake).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let clean = dir.path().join("clean");
    assert!(convert_cmd(&sample, &clean).status().unwrap().success());
    let (a, b) = (read_table(&clean), read_table(&lake));
    let columns = columns_of(&a);
    let (rows_a, rows_b) = (table_rows(&a, &columns), table_rows(&b, &columns));
    assert!(rows_a.len() < 240_000 && rows_a.len() > 200_000, "{} rows", rows_a.len());
    assert_eq!(rows_b.len(), rows_a.len(), "row count after kills and rerun");
    assert!(rows_b == rows_a, "the rows differ from a clean run");
    assert_eq!(sums_by_partition(&b, "bytes"), sums_by_partition(&a, "bytes"));
    assert_eq!(rows_by_partition(&b), rows_by_partition(&a));
    // Temporary files of killed runs are gone (staging folders of runs without a manifest
    // are kept for two days: such a run may still be going elsewhere).
    let mut leftovers = Vec::new();
    let mut stack = vec![lake.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                if !p.ends_with("_flowlake/staging") {
                    stack.push(p);
                }
            } else if p.to_string_lossy().ends_with(".tmp") {
                leftovers.push(p);
            }
        }
    }
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
