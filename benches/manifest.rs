//! How long opening a table's log takes with a million inputs: one checkpoint
//! (a year of hourly runs folded) plus the 31 commits that a checkpoint every
//! 32 runs leaves uncovered at worst.
//!
//! `cargo bench --bench manifest` (prints the checkpoint's size first).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use flowlake::storage::{LocalStorage, Location, Storage};
use flowlake::table::log::checkpoint::{self, Checkpoint, CoveredInput, CoveredRun};
use flowlake::table::log::{self, InputEntry, Manifest, ReadAs, ReadAsTable, RunManifest};

const INPUTS: u64 = 1_000_000;
const RUNS: u64 = 24 * 365;

/// An object key like AWS's delivery of input `i`.
fn key(i: u64) -> String {
    let day = i * 365 / INPUTS;
    format!(
        "s3://logs/AWSLogs/123456789012/vpcflowlogs/us-east-1/2023/{:02}/{:02}/\
         123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_2023T{:04}Z_{:08x}.log.gz",
        1 + day / 31,
        1 + day % 31,
        i % 2400,
        (i.wrapping_mul(2_654_435_761)) as u32
    )
}

fn table() -> (tempfile::TempDir, Location) {
    let dir = tempfile::tempdir().unwrap();
    let root = Location::Local(dir.path().to_path_buf());
    let runs: Vec<CoveredRun> = (0..RUNS)
        .map(|r| CoveredRun {
            manifest: format!("run{r:05}.json"),
            run_id: format!("run{r:05}"),
            shard: None,
            sequence: r + 1,
            files: vec![format!("date=2023-01-01/part-run{r:05}-00000.parquet")],
            file_stats: Vec::new(),
            replaces: Vec::new(),
            enrichment: Vec::new(),
        })
        .collect();
    // Every input recorded as read as text, as flowlake records them.
    let mut read_as = ReadAsTable::default();
    let text = read_as.intern(ReadAs { kind: Some("text".into()), format: None });
    let inputs: Vec<CoveredInput> = (0..INPUTS)
        .map(|i| CoveredInput {
            location: key(i),
            size: 100_000 + i % 50_000,
            version: format!("\"{:032x}\"", u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)),
            rows: 20_000,
            partitions: vec![format!(
                "date=2023-{:02}-{:02}",
                1 + (i * 365 / INPUTS) / 31,
                1 + (i * 365 / INPUTS) % 31
            )],
            run: (i * RUNS / INPUTS) as u32,
            read_as: text,
        })
        .collect();
    let cp = Checkpoint { format: 2, runs, legacy: Vec::new(), log_through: RUNS, inputs, read_as };
    let bytes = checkpoint::encode(&cp).unwrap();
    eprintln!("checkpoint of {INPUTS} inputs over {RUNS} runs: {} bytes", bytes.len());
    LocalStorage.put(&checkpoint::dir(&root).join(&format!("{RUNS:020}-cp.parquet")), &bytes).unwrap();
    // Commits since the checkpoint: 31 of 12 inputs each (an hour of 12 ENIs).
    for r in 0..31u64 {
        let inputs = (0..12)
            .map(|j| InputEntry {
                location: key(INPUTS + r * 12 + j),
                size: 1,
                version: "x".into(),
                rows: 20_000,
                partitions: vec!["date=2024-01-01".into()],
                kind: Some("text".into()),
                ..Default::default()
            })
            .collect();
        let run = RunManifest {
            run_id: format!("new{r:02}"),
            shard: None,
            inputs,
            files: vec![format!("date=2024-01-01/part-new{r:02}.parquet")],
            file_stats: Vec::new(),
            staging: None,
            rejects: None,
            replaces: Vec::new(),
            replaces_files: Vec::new(),
            sequence: RUNS + 1 + r,
            ..RunManifest::default()
        };
        assert!(log::commit_at(&LocalStorage, &root, &run).unwrap());
    }
    (dir, root)
}

fn load(c: &mut Criterion) {
    let (_dir, root) = table();
    let m = Manifest::load(&LocalStorage, &root).unwrap();
    assert_eq!(m.len() as u64, INPUTS + 31 * 12);
    let mut g = c.benchmark_group("manifest");
    g.sample_size(10);
    g.bench_function("load 1M inputs (checkpoint + 31 manifests)", |b| {
        b.iter(|| black_box(Manifest::load(&LocalStorage, &root).unwrap().len()))
    });
    g.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
