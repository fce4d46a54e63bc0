//! Generated data in several formats, converted and read back with the parquet
//! crate, compared with what the generator says it wrote and with the raw text.

use std::collections::BTreeMap;
use std::path::Path;

use flowlake::convert::{ConvertOptions, NoProgress, convert};
use flowlake::generate::{self, GenerateOptions, GenerateSummary};
use flowlake::partition::format_day;
use flowlake::report::RunStatus;
use flowlake::sink::ParquetOptions;
use flowlake::storage::Location;

use crate::common::*;

const REORDERED_V5: &str = "version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id vpc-id \
     subnet-id instance-id interface-id region az-id sublocation-type sublocation-id action tcp-flags pkt-srcaddr \
     pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service traffic-path flow-direction log-status";

/// Generates one sample per (format, account) under `root/sample`, converts
/// it all in one run with small files and row groups (so that rolling and
/// several row groups are exercised), and checks everything.
fn roundtrip(samples: &[(&str, &str)], records: u64) {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("sample");
    let lake = dir.path().join("lake");
    let mut truths: Vec<(flowlake::format::Format, GenerateSummary)> = Vec::new();
    for (i, (format, account)) in samples.iter().enumerate() {
        let mut o = GenerateOptions::new(&sample, records, 3);
        o.format = generate::format_preset(format).unwrap();
        o.account = account.to_string();
        o.seed = 7 + i as u64;
        o.files_per_day = 12;
        truths.push((o.format.clone(), generate::generate(&o).unwrap()));
    }

    let parquet = ParquetOptions { target_file_size: 256 * 1024, row_group_size: 20_000, ..ParquetOptions::default() };
    let opts = ConvertOptions::new(vec![Location::Local(sample.clone())], Location::Local(lake.clone()))
        .with_threads(2)
        .with_batch_rows(5_000)
        .with_parquet(parquet);
    let report = convert(&opts, &NoProgress).unwrap();

    let total: u64 = truths.iter().map(|(_, s)| s.records).sum();
    assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    assert_eq!(report.rows_in, total);
    assert_eq!(report.rows_written, total);
    assert_eq!(report.rows_rejected, 0);
    assert_eq!(report.rows_in, report.rows_written + report.rows_rejected);
    assert_eq!(report.files_in, truths.iter().map(|(_, s)| s.files).sum::<u64>());
    assert_eq!(report.header_lines, report.files_in);
    assert!(report.rejects_path.is_none());

    let table = read_table(&lake);
    let files = parquet_files(&lake);
    assert_eq!(report.files_written as usize, files.len());
    assert!(files.len() > 4, "small target size must roll files: {}", files.len());

    // Per-partition rows and sums against the generator's truth.
    let mut want_rows: BTreeMap<String, u64> = BTreeMap::new();
    let mut want_bytes: BTreeMap<String, u64> = BTreeMap::new();
    let mut want_packets: BTreeMap<String, u64> = BTreeMap::new();
    for (_, s) in &truths {
        for (day, t) in &s.days {
            let p = format!("date={day}");
            *want_rows.entry(p.clone()).or_default() += t.rows;
            *want_bytes.entry(p.clone()).or_default() += t.bytes;
            *want_packets.entry(p).or_default() += t.packets;
        }
    }
    assert_eq!(rows_by_partition(&table), want_rows);
    assert_eq!(sums_by_partition(&table, "bytes"), want_bytes);
    assert_eq!(sums_by_partition(&table, "packets"), want_packets);
    let report_rows: BTreeMap<String, u64> = report.partitions.iter().map(|(k, v)| (k.clone(), v.rows)).collect();
    assert_eq!(report_rows, want_rows);

    // Null counts: the generator's `-` counts, plus every row of a format that lacks the column.
    let columns = columns_of(&table);
    let mut want_nulls: BTreeMap<String, u64> = BTreeMap::new();
    for (fmt, s) in &truths {
        let own: Vec<String> = fmt.fields().iter().map(|c| c.column_name()).collect();
        for c in &columns {
            let n = if own.contains(c) { s.nulls.get(c).copied().unwrap_or(0) } else { s.records };
            if n > 0 {
                *want_nulls.entry(c.clone()).or_default() += n;
            }
        }
    }
    assert_eq!(nulls(&table), want_nulls);

    // Every partition holds only records whose start falls on its day.
    for (part, b) in &table {
        for r in 0..b.num_rows() {
            let start: i64 = cell(b, "start", r).unwrap().parse().unwrap();
            assert_eq!(*part, format!("date={}", format_day(start.div_euclid(86_400))));
        }
    }

    // Every value of every record, against the raw text read by a plain split.
    let raw = raw_rows(&log_files(&sample), &columns);
    assert_eq!(raw.len() as u64, total);
    let got = table_rows(&table, &columns);
    assert!(got == raw, "table content differs from the raw records");

    // Types follow AWS's Parquet delivery.
    let schema = table[0].1.schema();
    for (col, ty) in
        [("version", "Int32"), ("srcport", "Int32"), ("bytes", "Int64"), ("start", "Int64"), ("srcaddr", "Utf8")]
    {
        if let Ok(f) = schema.field_with_name(col) {
            assert_eq!(format!("{:?}", f.data_type()), ty, "{col}");
            assert!(f.is_nullable());
        }
    }
    assert!(schema.field_with_name("date").is_err(), "the partition column lives in the path only");
    let report_file = Path::new(&report.report_path);
    assert!(report_file.is_file());
}

/// The files as every reader the tests have reads them: the parquet crate, pyarrow,
/// DuckDB and polars (`read_table.py`), and DataFusion (flowlake's questions), each to the
/// raw text's values. The sample has every field of versions 2 to 8 (IPv6 among its
/// addresses); a file of its own adds a field this build does not know, with non-ASCII
/// values, values past the statistics' truncation length, and nulls. The string columns
/// are written by our chunk writer, the integers by arrow-rs's.
#[test]
fn every_reader_reads_the_values_the_raw_text_holds() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("sample");
    let mut o = GenerateOptions::new(&sample, 20_000, 2);
    o.format = generate::format_preset("all").unwrap();
    o.files_per_day = 4;
    generate::generate(&o).unwrap();
    let long = format!("{}☃", "é".repeat(80));
    let values = ["Zürich☃", "-", long.as_str(), "x", "東京", "-"];
    let mut text = String::from(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status brand-new-field\n",
    );
    for (i, v) in values.iter().enumerate() {
        let (src, dst) = if i % 2 == 0 { ("2600:1f18:4a2:7e00::1", "fd12:3456:789a:1::2") } else { ("10.0.0.1", "-") };
        text += &format!(
            "2 123456789010 eni-0{i} {src} {dst} 443 {} 6 3 120 1690848000 1690848060 ACCEPT OK {v}\n",
            49152 + i
        );
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    std::fs::create_dir_all(sample.join("extra")).unwrap();
    std::fs::write(sample.join("extra/unknown-field.log.gz"), gz.finish().unwrap()).unwrap();

    let lake = dir.path().join("lake");
    let l = lake.to_str().unwrap();
    flowlake_code(&["convert", sample.to_str().unwrap(), "-o", l, "-q"], 0);
    let table = read_table(&lake);
    let columns = columns_of(&table);
    assert!(columns.contains(&"brand_new_field".to_string()) && columns.contains(&"pkt_srcaddr".to_string()));
    let raw = raw_rows(&log_files(&sample), &columns);
    assert_eq!(raw.len(), 20_000 + values.len());
    assert!(raw.iter().any(|r| r.contains(&long)) && raw.iter().any(|r| r.contains("2600:1f18:4a2:7e00::1")));
    assert!(table_rows(&table, &columns) == raw, "the parquet crate reads other values than the raw text's");
    let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
    assert!(independent_rows(&lake, &cols) == raw, "DuckDB, pyarrow and polars read other values than the raw text's");

    let quoted: Vec<String> = cols.iter().map(|c| format!("\"{c}\"")).collect();
    let sql = format!("SELECT {} FROM flows", quoted.join(", "));
    let (out, _) = flowlake_code(&["query", l, &sql, "--format", "json", "-q"], 0);
    let mut datafusion: Vec<String> = out
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let cells: Vec<String> = cols
                .iter()
                .map(|c| match &v[*c] {
                    serde_json::Value::Null => "-".to_string(),
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            cells.join(" ")
        })
        .collect();
    datafusion.sort();
    assert!(datafusion == raw, "DataFusion reads other values than the raw text's");
}

#[test]
fn default_v2_format() {
    roundtrip(&[("default", "123456789010")], 60_000);
}

#[test]
fn all_fields_v2_to_v8() {
    roundtrip(&[("all", "123456789010")], 30_000);
}

#[test]
fn reordered_custom_v5_format() {
    roundtrip(&[(REORDERED_V5, "123456789010")], 30_000);
}

#[test]
fn two_formats_in_one_run() {
    roundtrip(&[("default", "111111111111"), (REORDERED_V5, "222222222222")], 25_000);
}

#[test]
fn columns_are_the_union_in_catalog_order() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    for (fmt, acct) in
        [("${version} ${srcaddr} ${start} ${tcp-flags}", "1"), ("${log-status} ${start} ${account-id}", "2")]
    {
        let mut o = GenerateOptions::new(&sample, 100, 1);
        o.format = generate::format_preset(fmt).unwrap();
        o.account = acct.into();
        o.files_per_day = 2;
        generate::generate(&o).unwrap();
    }
    let lake = dir.path().join("lake");
    let report =
        convert(&ConvertOptions::new(vec![Location::Local(sample)], Location::Local(lake.clone())), &NoProgress)
            .unwrap();
    assert_eq!(report.columns, ["version", "account_id", "srcaddr", "start", "log_status", "tcp_flags"]);
    assert_eq!(report.formats.len(), 2);
    assert_eq!(columns_of(&read_table(&lake)), report.columns);
}

#[test]
fn reruns_convert_only_new_inputs_and_never_overwrite() {
    incremental_runs(0);
}

/// The same runs with the manifests folded into a checkpoint after every run.
#[test]
fn reruns_read_the_same_manifest_through_checkpoints() {
    incremental_runs(1);
}

fn incremental_runs(checkpoint_every: usize) {
    let checkpoints = |lake: &Path| walk_all(lake).iter().filter(|p| p.contains("_flowlake/checkpoint/")).count();
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    let mut o = GenerateOptions::new(&sample, 2_000, 2);
    o.files_per_day = 4;
    let first = generate::generate(&o).unwrap();
    let lake = dir.path().join("lake");
    let opts = ConvertOptions::new(vec![Location::Local(sample.clone())], Location::Local(lake.clone()))
        .with_checkpoint_every(checkpoint_every);
    let a = convert(&opts, &NoProgress).unwrap();
    assert_eq!((a.files_in, a.files_skipped, a.rows_written), (8, 0, first.records));
    assert_eq!(checkpoints(&lake), checkpoint_every.min(1), "a checkpoint after every run, or none");
    let m =
        flowlake::table::log::Manifest::load(&flowlake::storage::LocalStorage, &Location::Local(lake.clone())).unwrap();
    let recorded = m.entries();
    assert_eq!(recorded.len(), 8);
    assert_eq!(recorded.iter().map(|(e, _)| e.rows).sum::<u64>(), first.records, "each input's records are recorded");
    // The same command again: everything is in the manifest, nothing is converted twice.
    let b = convert(&opts, &NoProgress).unwrap();
    assert_eq!((b.files_in, b.files_skipped, b.rows_written, b.files_written), (0, 8, 0, 0));
    // A new day arrives: only its files are converted.
    o.start_date = "2023-08-03".into();
    o.days = 1;
    o.seed = 9;
    let second = generate::generate(&o).unwrap();
    let c = convert(&opts, &NoProgress).unwrap();
    assert_eq!((c.files_in, c.files_skipped, c.rows_written), (4, 8, second.records));
    assert_ne!(a.run_id, c.run_id);
    let files = parquet_files(&lake);
    assert_eq!(files.len() as u64, a.files_written + c.files_written);
    let table = read_table(&lake);
    let columns = columns_of(&table);
    assert!(table_rows(&table, &columns) == raw_rows(&log_files(&sample), &columns), "every record exactly once");
    // No temporary files are left behind; one commit per run that converted something.
    let all = walk_all(&lake);
    assert!(all.iter().all(|p| !p.ends_with(".tmp")), "{all:?}");
    assert_eq!(all.iter().filter(|p| p.contains("_flowlake/log/")).count(), 2);
    assert_eq!(checkpoints(&lake), checkpoint_every.min(1), "older checkpoints are removed");
    // A converted input that changes afterwards replaces its earlier rows: here it loses every
    // third record. The partitions it wrote to are rebuilt from every input that wrote to them.
    let changed = log_files(&sample).remove(0);
    let text = raw_text(&changed);
    let kept: Vec<&str> = text.lines().enumerate().filter(|(i, _)| *i == 0 || i % 3 != 0).map(|(_, l)| l).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, (kept.join("\n") + "\n").as_bytes()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&changed, gz.finish().unwrap()).unwrap();
    // A new day arrives in the same run: all its rows are written, whatever is rebuilt.
    o.start_date = "2023-08-04".into();
    o.seed = 10;
    let third = generate::generate(&o).unwrap();
    let r = convert(&opts, &NoProgress).unwrap();
    assert_eq!(r.status, RunStatus::Ok, "{:?}", r.error);
    assert_eq!(r.rows_in, r.rows_written + r.rows_rejected + r.rows_unchanged);
    assert!(r.files_in > 5 && r.files_in < 16, "only the inputs of the rebuilt partitions are read: {}", r.files_in);
    assert!(r.rows_written > third.records);
    assert!(r.rows_unchanged > 0, "rows of re-read inputs in other partitions are left in place");
    let table = read_table(&lake);
    assert!(
        table_rows(&table, &columns) == raw_rows(&log_files(&sample), &columns),
        "the changed input's rows are replaced, every other record is there exactly once"
    );
    assert!(walk_all(&lake).iter().all(|p| !p.contains("_flowlake/staging/")), "nothing left staged");
    assert_eq!(convert(&opts, &NoProgress).unwrap().files_skipped, 16, "and then it is all done");
    // --full-refresh starts over: the table then holds exactly the current inputs, once.
    let d = convert(&opts.clone().with_full_refresh(true), &NoProgress).unwrap();
    assert_eq!((d.status, d.files_in, d.files_skipped), (RunStatus::Ok, 16, 0));
    let table = read_table(&lake);
    assert_eq!(
        table_rows(&table, &columns),
        raw_rows(&log_files(&sample), &columns),
        "every current record exactly once"
    );
    let all = walk_all(&lake);
    let m =
        flowlake::table::log::Manifest::load(&flowlake::storage::LocalStorage, &Location::Local(lake.clone())).unwrap();
    assert_eq!(
        m.run_ids(),
        std::slice::from_ref(&d.run_id),
        "earlier runs are replaced (their commits stay in the log)"
    );
    assert!(all.iter().all(|p| !p.ends_with(".tmp")), "{all:?}");
    assert_eq!(checkpoints(&lake), checkpoint_every.min(1), "and so are the checkpoints that covered them");
    assert_eq!(parquet_files(&lake).len() as u64, d.files_written);
    // And the next run skips everything again.
    assert_eq!(convert(&opts, &NoProgress).unwrap().files_skipped, 16);
}

fn walk_all(root: &Path) -> Vec<String> {
    files_under(root).iter().map(|p| p.to_string_lossy().into_owned()).collect()
}

#[test]
fn hour_and_aws_layouts() {
    use flowlake::partition::Layout;
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    let truth = generate_sample(&sample, 3_000, 1, 6);
    for (layout, first) in [
        (Layout::Hour, "date=2023-07-31/hour=23"),
        (
            Layout::Aws,
            "aws-account-id=123456789010/aws-service=vpcflowlogs/aws-region=us-east-1/year=2023/month=07/day=31",
        ),
        (
            Layout::AwsHour,
            "aws-account-id=123456789010/aws-service=vpcflowlogs/aws-region=us-east-1/year=2023/month=07/day=31/hour=23",
        ),
    ] {
        let lake = dir.path().join(layout.to_string());
        let r = convert(
            &ConvertOptions::new(vec![Location::Local(sample.clone())], Location::Local(lake.clone()))
                .with_layout(layout),
            &NoProgress,
        )
        .unwrap();
        assert_eq!((r.rows_written, r.rows_rejected), (truth.records, 0), "{layout}");
        assert_eq!(r.partitions.keys().next().unwrap(), first, "{layout}");
        let files = parquet_files(&lake);
        assert!(files.iter().all(|(p, _)| Layout::detect(p) == Some(layout)), "{layout}: {files:?}");
        // Every row sits in the partition of its start.
        for (part, b) in read_table(&lake) {
            let values = layout.parse_path(&part).unwrap();
            for row in 0..b.num_rows() {
                let start: i64 = cell(&b, "start", row).unwrap().parse().unwrap();
                let day = format_day(start.div_euclid(86_400));
                let hour = format!("{:02}", start.rem_euclid(86_400) / 3600);
                let want: Vec<String> = match layout {
                    Layout::Hour => vec![day, hour],
                    Layout::Aws => {
                        let d: Vec<&str> = day.split('-').collect();
                        ["123456789010", "vpcflowlogs", "us-east-1", d[0], d[1], d[2]].map(String::from).to_vec()
                    }
                    _ => {
                        let d: Vec<&str> = day.split('-').collect();
                        ["123456789010", "vpcflowlogs", "us-east-1", d[0], d[1], d[2], &hour].map(String::from).to_vec()
                    }
                };
                assert_eq!(values, want);
            }
        }
    }
    // Inputs outside the AWS delivery layout cannot be placed in aws partitions: their lines are rejected, not lost.
    let flat = dir.path().join("flat.log");
    std::fs::write(&flat, "version srcaddr start\n2 10.0.0.1 1418530010\n").unwrap();
    let r = convert(
        &ConvertOptions::new(vec![Location::Local(flat)], Location::Local(dir.path().join("x")))
            .with_layout(Layout::Aws),
        &NoProgress,
    )
    .unwrap();
    assert_eq!((r.header_lines, r.rows_in, r.rows_written, r.rows_rejected), (1, 1, 0, 1));
    assert_eq!(r.rejects_by_reason.keys().collect::<Vec<_>>(), ["no_origin"]);
}

#[test]
fn tight_memory_limits_keep_every_row() {
    // Few open files and almost no memory for row groups: files are closed and row groups written
    // early, and still every record arrives once.
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    let truth = generate_sample(&sample, 30_000, 6, 4);
    let lake = dir.path().join("lake");
    let parquet = ParquetOptions { max_open_files: 2, memory_budget: 1, ..ParquetOptions::default() };
    let r = convert(
        &ConvertOptions::new(vec![Location::Local(sample.clone())], Location::Local(lake.clone()))
            .with_parquet(parquet)
            .with_batch_rows(1_000),
        &NoProgress,
    )
    .unwrap();
    assert_eq!((r.status, r.rows_written), (RunStatus::Ok, truth.records));
    let table = read_table(&lake);
    let columns = columns_of(&table);
    assert!(table_rows(&table, &columns) == raw_rows(&log_files(&sample), &columns), "values differ from the raw text");
    let row_groups: usize = parquet_files(&lake)
        .iter()
        .map(|(_, p)| {
            let f = std::fs::File::open(p).unwrap();
            parquet::file::reader::FileReader::metadata(&parquet::file::reader::SerializedFileReader::new(f).unwrap())
                .num_row_groups()
        })
        .sum();
    let files = parquet_files(&lake).len();
    assert!(row_groups > files, "row groups were not written early: {row_groups} in {files} files");
}

#[test]
fn three_shards_write_the_rows_of_one_run() {
    use flowlake::source::Shard;
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    let truth = generate_sample(&sample, 12_000, 6, 4);
    let whole = dir.path().join("whole");
    let one = convert(
        &ConvertOptions::new(vec![Location::Local(sample.clone())], Location::Local(whole.clone())),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(one.rows_written, truth.records);
    // Three shards, at the same time, into one table.
    let sharded = dir.path().join("sharded");
    let reports: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let (sample, sharded) = (sample.clone(), sharded.clone());
                s.spawn(move || {
                    convert(
                        &ConvertOptions::new(vec![Location::Local(sample)], Location::Local(sharded))
                            .with_shard(Some(Shard { index: i, count: 3 })),
                        &NoProgress,
                    )
                    .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(reports.iter().map(|r| r.files_in).sum::<u64>(), one.files_in, "each input in exactly one shard");
    assert!(reports.iter().all(|r| r.files_in > 0 && r.files_listed == one.files_in));
    assert_eq!(reports.iter().map(|r| r.rows_written).sum::<u64>(), truth.records);
    let (a, b) = (read_table(&whole), read_table(&sharded));
    let columns = columns_of(&a);
    assert!(table_rows(&b, &columns) == table_rows(&a, &columns), "sharded rows differ from one run");
    let names: Vec<String> =
        parquet_files(&sharded).iter().map(|(_, p)| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len());
    assert!(names.iter().all(|n| n.contains("-s0of3-") || n.contains("-s1of3-") || n.contains("-s2of3-")));
}

#[test]
fn compact_rewrites_small_files_into_few_with_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    let lake = dir.path().join("lake");
    // Hourly-style increments: three runs into one table, each adding small files to the same days.
    let small = ParquetOptions { target_file_size: 20 * 1024, ..ParquetOptions::default() };
    for i in 0..3u64 {
        let mut o = GenerateOptions::new(sample.join(format!("batch{i}")), 6_000, 2);
        o.files_per_day = 4;
        o.seed = 40 + i;
        o.account = format!("11111111111{i}");
        generate::generate(&o).unwrap();
        let r = convert(
            &ConvertOptions::new(vec![Location::Local(sample.clone())], Location::Local(lake.clone()))
                .with_parquet(small.clone()),
            &NoProgress,
        )
        .unwrap();
        assert_eq!(r.status, RunStatus::Ok);
    }
    let before = read_table(&lake);
    let columns = columns_of(&before);
    let rows_before = table_rows(&before, &columns);
    let files_before = parquet_files(&lake).len();
    let (out, _) = flowlake_code(&["compact", lake.to_str().unwrap(), "--json"], 0);
    let rep: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rep["files_before"].as_u64().unwrap() as usize, files_before);
    let after = read_table(&lake);
    assert!(table_rows(&after, &columns) == rows_before, "compaction changed the rows");
    // One file per partition now (each is far below the target size); there were several.
    let files_after = parquet_files(&lake);
    let mut parts: Vec<&String> = files_after.iter().map(|(p, _)| p).collect();
    parts.dedup();
    assert_eq!(parts.len(), files_after.len());
    assert!(files_before > files_after.len(), "{} files before, {} after", files_before, files_after.len());
    // The table still knows its inputs: a rerun converts nothing, and no staging is left.
    let again =
        convert(&ConvertOptions::new(vec![Location::Local(sample)], Location::Local(lake.clone())), &NoProgress)
            .unwrap();
    assert_eq!((again.files_in, again.files_skipped), (0, 24));
    assert!(!walk_all(&lake).iter().any(|p| p.contains("_flowlake/staging/")));
    assert!(walk_all(&lake).iter().filter(|p| p.contains("_flowlake/log/")).count() == 4);
}

/// Readers that list a partition's folder while it is compacted (Spark, DuckDB, Athena
/// over local copies) see its old files or its new ones, never both and never neither:
/// on local disk each partition's folder is swapped in one step.
#[test]
fn compaction_is_atomic_for_readers_listing_the_folders() {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    let lake = dir.path().join("lake");
    let small = ParquetOptions { target_file_size: 8 * 1024, row_group_size: 1024, ..ParquetOptions::default() };
    generate_sample(&sample, 30_000, 2, 6);
    let r = convert(
        &ConvertOptions::new(vec![Location::Local(sample)], Location::Local(lake.clone()))
            .with_parquet(small)
            .with_batch_rows(2_000),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(r.status, RunStatus::Ok);
    let parts: Vec<std::path::PathBuf> = std::fs::read_dir(&lake)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("date="))
        .collect();
    assert!(parts.len() >= 2, "{parts:?}");
    let listing = |p: &Path| -> BTreeSet<String> {
        std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".parquet") && !n.starts_with('.'))
            .collect()
    };
    let before: Vec<BTreeSet<String>> = parts.iter().map(|p| listing(p)).collect();
    assert!(before.iter().filter(|b| b.len() > 2).count() >= 2, "several small files per day: {before:?}");
    let done = AtomicBool::new(false);
    let seen = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut seen: Vec<Vec<BTreeSet<String>>> = Vec::new();
            while !done.load(Ordering::SeqCst) {
                seen.push(parts.iter().map(|p| listing(p)).collect());
            }
            seen
        });
        let rep = flowlake::compact::compact(&flowlake::compact::CompactOptions {
            output: Location::Local(lake.clone()),
            storage: Default::default(),
            parquet: ParquetOptions::default(),
            from: None,
            to: None,
            min_files: 2,
            checkpoint_every: flowlake::table::log::checkpoint::DEFAULT_EVERY,
        })
        .unwrap();
        assert_eq!(rep.partitions as usize, before.iter().filter(|b| b.len() >= 2).count());
        done.store(true, Ordering::SeqCst);
        watcher.join().unwrap()
    });
    let after: Vec<BTreeSet<String>> = parts.iter().map(|p| listing(p)).collect();
    assert!(after.iter().all(|a| a.len() == 1), "one file per partition after: {after:?}");
    assert!(!seen.is_empty());
    for observed in &seen {
        for (i, names) in observed.iter().enumerate() {
            assert!(
                *names == before[i] || *names == after[i],
                "a reader listed {names:?} in {}: neither the old files {:?} nor the new {:?}",
                parts[i].display(),
                before[i],
                after[i]
            );
        }
    }
    let rows: u64 = read_table(&lake).iter().map(|(_, b)| b.num_rows() as u64).sum();
    assert_eq!(rows, 30_000);
}

#[test]
fn bloom_filters_and_sorted_batches_keep_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    generate_sample(&sample, 20_000, 2, 4);
    let meta = |p: &Path| {
        let f = std::fs::File::open(p).unwrap();
        parquet::file::reader::FileReader::metadata(&parquet::file::reader::SerializedFileReader::new(f).unwrap())
            .clone()
    };
    for (args, bloom, sorted) in [
        (vec![], vec!["srcaddr", "dstaddr"], true),
        (vec!["--bloom-filter", "none", "--sort", "srcaddr,start"], vec![], true),
        (vec!["--bloom-filter", "interface_id", "--sort", "none"], vec!["interface_id"], false),
    ] {
        let lake = dir.path().join(format!("lake-{}", args.join("")));
        let mut cmd = vec!["convert", sample.to_str().unwrap(), "--out", lake.to_str().unwrap(), "-q"];
        cmd.extend(&args);
        flowlake_code(&cmd, 0);
        let table = read_table(&lake);
        let columns = columns_of(&table);
        assert!(table_rows(&table, &columns) == raw_rows(&log_files(&sample), &columns), "{args:?}: rows differ");
        for (_, p) in parquet_files(&lake) {
            let m = meta(&p);
            for rg in m.row_groups() {
                for c in rg.columns() {
                    let name = c.column_path().string();
                    let has = c.bloom_filter_offset().is_some();
                    assert_eq!(has, bloom.contains(&name.as_str()), "{args:?}: bloom filter on {name}");
                }
            }
        }
        // With --sort, every written batch (up to 65,536 rows) is sorted by srcaddr (nulls last), then start;
        // without, addresses are in delivery order.
        let first = &table.iter().find(|(_, b)| b.num_rows() >= 500).expect("a large batch").1;
        let keys: Vec<(bool, Option<String>)> = (0..first.num_rows())
            .map(|r| {
                let v = cell(first, "srcaddr", r);
                (v.is_none(), v)
            })
            .collect();
        // A read batch can straddle two written batches (a partition's rows flushed early): count descents.
        let descents = keys.windows(2).filter(|w| w[0] > w[1]).count();
        if sorted {
            assert!(descents <= 3, "{args:?}: {descents} descents in {} rows", keys.len());
        } else {
            assert!(descents > keys.len() / 10, "{args:?}: only {descents} descents in {} rows", keys.len());
        }
    }
    let (_, err) = flowlake_code(&["convert", sample.to_str().unwrap(), "--out", "x", "--sort", "srcadr"], 2);
    assert!(err.contains("invalid --sort column `srcadr`"), "{err}");
}

#[test]
fn clusters_give_row_groups_disjoint_address_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    generate_sample(&sample, 60_000, 1, 2);
    let lake = dir.path().join("lake");
    flowlake_code(&["convert", sample.to_str().unwrap(), "--out", lake.to_str().unwrap(), "-q", "--clusters", "4"], 0);
    let table = read_table(&lake);
    let columns = columns_of(&table);
    assert!(table_rows(&table, &columns) == raw_rows(&log_files(&sample), &columns), "rows differ");
    let mut most = 0;
    for (_, p) in parquet_files(&lake) {
        let f = std::fs::File::open(&p).unwrap();
        let reader = parquet::file::reader::SerializedFileReader::new(f).unwrap();
        let m = parquet::file::reader::FileReader::metadata(&reader);
        most = most.max(m.num_row_groups());
        let mut ranges: Vec<(Vec<u8>, Vec<u8>)> = m
            .row_groups()
            .iter()
            .map(|rg| {
                let c = rg.columns().iter().find(|c| c.column_path().string() == "srcaddr").unwrap();
                match c.statistics() {
                    Some(parquet::file::statistics::Statistics::ByteArray(s)) => {
                        (s.min_opt().unwrap().data().to_vec(), s.max_opt().unwrap().data().to_vec())
                    }
                    other => panic!("no srcaddr statistics: {other:?}"),
                }
            })
            .collect();
        // Two workers share one lane, so each range is one row group here.
        ranges.sort();
        for w in ranges.windows(2) {
            assert!(w[0].1 < w[1].0, "row groups overlap: {w:?}");
        }
    }
    assert!(most >= 3, "the day's file has {most} row groups: its rows were not split into ranges");
}

#[test]
fn data_pages_hold_at_most_page_rows() {
    use parquet::file::reader::FileReader;
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("s");
    generate_sample(&sample, 40_000, 1, 2);
    for (args, limit) in [(vec![], 8192i64), (vec!["--page-rows", "3000"], 3000)] {
        let lake = dir.path().join(format!("lake-{limit}"));
        let mut cmd = vec!["convert", sample.to_str().unwrap(), "--out", lake.to_str().unwrap(), "-q"];
        cmd.extend(&args);
        flowlake_code(&cmd, 0);
        let mut pages = 0;
        for (_, p) in parquet_files(&lake) {
            let opts = parquet::file::serialized_reader::ReadOptionsBuilder::new().with_page_index().build();
            let reader = parquet::file::serialized_reader::SerializedFileReader::new_with_options(
                std::fs::File::open(&p).unwrap(),
                opts,
            )
            .unwrap();
            let m = reader.metadata();
            let index = m.offset_index().expect("an offset index");
            for (rg, columns) in index.iter().enumerate() {
                let rows = m.row_group(rg).num_rows();
                for column in columns {
                    let starts: Vec<i64> = column.page_locations().iter().map(|l| l.first_row_index).collect();
                    for (i, s) in starts.iter().enumerate() {
                        let end = starts.get(i + 1).copied().unwrap_or(rows);
                        // arrow-rs closes a page between the runs of rows it encodes: 1,024 rows, or
                        // the limit itself where a write's levels are uniform (no nulls). A write that
                        // starts on a partly filled page (a partition's slice of a batch, after
                        // another) can take the page past the limit by up to one run less a row.
                        // 5,999 and 16,383 still tell each limit from the next (8,192, 20,000).
                        let most = limit - 1 + limit.max(1024);
                        assert!(end - s <= most, "{args:?}: a page of {} rows", end - s);
                    }
                    pages += starts.len();
                }
            }
        }
        assert!(pages > 0);
    }
}
