//! S3 input and output against a real S3 protocol server on loopback (moto,
//! started by scripts/test.sh), each test with its own buckets.

use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use flowlake::convert::{ConvertOptions, NoProgress, convert};
use flowlake::generate::{self, GenerateOptions};
use flowlake::report::{RunReport, RunStatus};
use flowlake::source::InputFilter;
use flowlake::storage::{Location, StorageOptions};
use tokio::runtime::Runtime;

use crate::common::*;
use crate::faultproxy::{Fault, FaultProxy};

pub(crate) fn endpoint(var: &str) -> String {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run the suite with scripts/test.sh, which starts moto_server"))
}

pub(crate) struct S3 {
    rt: Runtime,
    client: Client,
}

impl S3 {
    pub(crate) fn new() -> S3 {
        use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
        let http =
            aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(http)
            .endpoint_url(endpoint("FLOWLAKE_S3_ENDPOINT"))
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("flowlake-test", "flowlake-test", None, None, "test"))
            .force_path_style(true)
            .build();
        S3 { rt: Runtime::new().unwrap(), client: Client::from_conf(conf) }
    }

    /// Creates a bucket with a unique name.
    pub(crate) fn bucket(&self, what: &str) -> String {
        let n = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let name = format!("t-{what}-{n}");
        self.rt.block_on(self.client.create_bucket().bucket(&name).send()).unwrap();
        name
    }

    /// Uploads every file under `dir` to `bucket` with its relative path as key.
    pub(crate) fn upload_dir(&self, dir: &Path, bucket: &str) -> usize {
        let files: Vec<_> = files_under(dir)
            .into_iter()
            .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('_'))
            .collect();
        self.rt.block_on(async {
            for chunk in files.chunks(64) {
                let mut set = tokio::task::JoinSet::new();
                for p in chunk {
                    let key = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                    let req =
                        self.client.put_object().bucket(bucket).key(key).body(ByteStream::from(fs::read(p).unwrap()));
                    set.spawn(async move { req.send().await.unwrap() });
                }
                while let Some(r) = set.join_next().await {
                    r.unwrap();
                }
            }
        });
        files.len()
    }

    pub(crate) fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        self.rt.block_on(async {
            let mut out = Vec::new();
            let mut pages = self.client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
            while let Some(p) = pages.next().await {
                out.extend(p.unwrap().contents().iter().filter_map(|o| o.key().map(str::to_string)));
            }
            out
        })
    }

    /// Downloads every object under `prefix` into `to`, keeping the key below the prefix as path.
    pub(crate) fn download(&self, bucket: &str, prefix: &str, to: &Path) {
        for key in self.keys(bucket, prefix) {
            let obj = self.rt.block_on(self.client.get_object().bucket(bucket).key(&key).send()).unwrap();
            let data = self.rt.block_on(obj.body.collect()).unwrap().into_bytes();
            let p = to.join(key.strip_prefix(prefix).unwrap());
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, data).unwrap();
        }
    }

    fn pending_uploads(&self, bucket: &str) -> usize {
        let r = self.rt.block_on(self.client.list_multipart_uploads().bucket(bucket).send()).unwrap();
        r.uploads().len()
    }
}

fn s3_opts(endpoint: &str) -> StorageOptions {
    StorageOptions { endpoint_url: Some(endpoint.to_string()), ..StorageOptions::default() }
}

fn s3loc(bucket: &str, key: &str) -> Location {
    Location::S3 { bucket: bucket.into(), key: key.into() }
}

fn sample(
    dir: &Path,
    records: u64,
    days: u32,
    files_per_day: u32,
    format: &str,
    account: &str,
) -> generate::GenerateSummary {
    let mut o = GenerateOptions::new(dir, records, days);
    o.files_per_day = files_per_day;
    o.format = generate::format_preset(format).unwrap();
    o.account = account.into();
    generate::generate(&o).unwrap()
}

fn ok(r: &RunReport) {
    assert_eq!(r.status, RunStatus::Ok, "{:?} {:?}", r.error, r.files_damaged);
    assert_eq!(r.rows_in, r.rows_written + r.rows_rejected);
}

#[test]
fn s3_to_s3_matches_a_local_conversion_with_mixed_formats() {
    let s3 = S3::new();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let a = sample(&src, 12_000, 2, 8, "default", "111111111111");
    let b = sample(&src, 8_000, 2, 8, "v5", "222222222222");
    let (inb, outb) = (s3.bucket("in"), s3.bucket("out"));
    s3.upload_dir(&src, &inb);
    let ep = endpoint("FLOWLAKE_S3_ENDPOINT");

    let r = convert(
        &ConvertOptions::new(vec![s3loc(&inb, "AWSLogs/")], s3loc(&outb, "flowlogs/")).with_storage(s3_opts(&ep)),
        &NoProgress,
    )
    .unwrap();
    ok(&r);
    assert_eq!(r.rows_written, a.records + b.records);
    assert_eq!(r.formats.len(), 2);
    let local = convert(
        &ConvertOptions::new(vec![Location::Local(src.clone())], Location::Local(dir.path().join("local"))),
        &NoProgress,
    )
    .unwrap();

    // Metadata lands in S3 too.
    let keys = s3.keys(&outb, "flowlogs/");
    assert!(keys.iter().any(|k| k.starts_with("flowlogs/_flowlake/runs/") && k.ends_with(".json")), "{keys:?}");
    assert!(keys.contains(&"flowlogs/_flowlake/ddl/athena.sql".to_string()));
    let down = dir.path().join("down");
    s3.download(&outb, "flowlogs/", &down);
    let athena = fs::read_to_string(down.join("_flowlake/ddl/athena.sql")).unwrap();
    assert!(athena.contains(&format!("LOCATION 's3://{outb}/flowlogs/'")), "{athena}");

    let remote = read_table(&down);
    let here = read_table(&dir.path().join("local"));
    let cols = columns_of(&here);
    assert_eq!(columns_of(&remote), cols);
    assert!(table_rows(&remote, &cols) == table_rows(&here, &cols), "S3 rows differ from local rows");
    assert_eq!(sums_by_partition(&remote, "bytes"), sums_by_partition(&here, "bytes"));
    assert_eq!(r.partitions.keys().collect::<Vec<_>>(), local.partitions.keys().collect::<Vec<_>>());
}

#[test]
fn pagination_and_date_pruning_list_and_fetch_only_what_is_needed() {
    let s3 = S3::new();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    // 4 days x 300 files: more than one page (1000 keys) of listing.
    let g = sample(&src, 2_400, 4, 300, "default", "123456789010");
    let bucket = s3.bucket("many");
    assert_eq!(s3.upload_dir(&src, &bucket), 1200);
    let ep = endpoint("FLOWLAKE_S3_ENDPOINT");
    let all = convert(
        &ConvertOptions::new(vec![s3loc(&bucket, "AWSLogs/")], Location::Local(dir.path().join("all")))
            .with_storage(s3_opts(&ep)),
        &NoProgress,
    )
    .unwrap();
    ok(&all);
    assert_eq!((all.files_in, all.rows_written), (1200, g.records));

    // One day, through a logging proxy: list and fetch only that day's folder.
    let proxy = FaultProxy::start(&ep, |_, _, _| Fault::Pass);
    let day = convert(
        &ConvertOptions::new(vec![s3loc(&bucket, "AWSLogs/")], Location::Local(dir.path().join("day")))
            .with_storage(s3_opts(&proxy.url))
            .with_filter(InputFilter {
                from: flowlake::partition::parse_day("2023-08-02"),
                to: flowlake::partition::parse_day("2023-08-02"),
                ..InputFilter::default()
            }),
        &NoProgress,
    )
    .unwrap();
    ok(&day);
    assert_eq!(day.files_in, 300);
    let seen = proxy.seen();
    let gets: Vec<&str> =
        seen.iter().filter(|s| s.method == "GET" && !s.path.contains("list-type")).map(|s| s.path.as_str()).collect();
    assert!(!gets.is_empty());
    assert!(
        gets.iter().all(|p| p.contains("/2023/08/02/")),
        "fetched outside the day: {:?}",
        gets.iter().find(|p| !p.contains("/2023/08/02/"))
    );
    let lists: Vec<&str> = seen.iter().filter(|s| s.path.contains("list-type=2")).map(|s| s.path.as_str()).collect();
    for other in ["2023%2F08%2F01%2F", "2023%2F08%2F03%2F", "2023%2F08%2F04%2F"] {
        assert!(!lists.iter().any(|p| p.contains(other)), "listed {other}: {lists:?}");
    }
    assert!(lists.len() < 12, "a pruned walk lists a few folders, not the bucket: {lists:?}");
}

#[test]
fn parquet_larger_than_a_multipart_part() {
    let s3 = S3::new();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let g = sample(&src, 200_000, 1, 4, "all", "123456789010");
    let bucket = s3.bucket("big");
    s3.upload_dir(&src, &bucket);
    let ep = endpoint("FLOWLAKE_S3_ENDPOINT");
    // Through the command line, as a user would, with server-side encryption.
    let (out, _) = flowlake_code(
        &[
            "convert",
            &format!("s3://{bucket}/AWSLogs/"),
            "--out",
            &format!("s3://{bucket}/lake/"),
            "--compression",
            "none",
            "--sse",
            "AES256",
            "--endpoint-url",
            &ep,
            "--json",
        ],
        0,
    );
    let r = report_from_json(&serde_json::from_str(&out).unwrap());
    let biggest = r.files.iter().map(|f| f.1).max().unwrap();
    assert!(biggest > flowlake::storage::PART_SIZE as u64, "largest file {biggest} bytes");
    assert_eq!(s3.pending_uploads(&bucket), 0, "no multipart upload left open");
    for (key, bytes) in &r.files {
        let head = s3.rt.block_on(s3.client.head_object().bucket(&bucket).key(key).send()).unwrap();
        assert_eq!(head.server_side_encryption().map(|e| e.as_str()), Some("AES256"), "--sse on {key} ({bytes} bytes)");
    }
    let down = dir.path().join("down");
    s3.download(&bucket, "lake/", &down);
    let t = read_table(&down);
    assert_eq!(t.iter().map(|(_, b)| b.num_rows() as u64).sum::<u64>(), g.records);
    assert_eq!(r.rows, g.records);
}

/// The parts of a JSON run report this test needs: written files (key, bytes) and rows.
struct JsonReport {
    files: Vec<(String, u64)>,
    rows: u64,
}

fn report_from_json(v: &serde_json::Value) -> JsonReport {
    let files = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let url = f["location"].as_str().unwrap();
            let key = url.splitn(4, '/').nth(3).unwrap().to_string();
            (key, f["bytes"].as_u64().unwrap())
        })
        .collect();
    JsonReport { files, rows: v["rows_written"].as_u64().unwrap() }
}

#[test]
fn missing_bucket_and_bad_credentials_are_one_sentence() {
    let ep = endpoint("FLOWLAKE_S3_ENDPOINT");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let (_, err) = flowlake_code(
        &["convert", "s3://no-such-bucket-here/AWSLogs/", "--out", out.to_str().unwrap(), "--endpoint-url", &ep],
        1,
    );
    assert_eq!(
        err,
        "flowlake: bucket `no-such-bucket-here` does not exist (s3://no-such-bucket-here/AWSLogs/): check the name\n"
    );

    let s3 = S3::new();
    let bucket = s3.bucket("creds");
    let auth = endpoint("FLOWLAKE_S3_AUTH_ENDPOINT");
    let url = format!("s3://{bucket}/AWSLogs/");
    let (_, err) = flowlake_code(&["convert", &url, "--out", out.to_str().unwrap(), "--endpoint-url", &auth], 1);
    assert_eq!(
        err,
        format!(
            "flowlake: the AWS credentials were rejected when trying to list {url} (InvalidAccessKeyId): check AWS_PROFILE, the access key and secret, or renew the session\n"
        )
    );
    assert!(!err.contains("flowlake-test"), "no credential is ever printed");

    // An output bucket that does not exist fails before any work.
    let src = dir.path().join("src.log");
    fs::write(&src, "version srcaddr start\n2 1.2.3.4 1418530010\n").unwrap();
    let (_, err) = flowlake_code(
        &["convert", src.to_str().unwrap(), "--out", "s3://no-such-out-bucket/x/", "--endpoint-url", &ep],
        1,
    );
    assert_eq!(
        err,
        "flowlake: bucket `no-such-out-bucket` does not exist (s3://no-such-out-bucket/x/): check the name\n"
    );
}

#[test]
fn faults_between_flowlake_and_s3_lose_no_row() {
    let s3 = S3::new();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let g = sample(&src, 20_000, 2, 40, "default", "123456789010");
    let bucket = s3.bucket("faults");
    s3.upload_dir(&src, &bucket);
    let ep = endpoint("FLOWLAKE_S3_ENDPOINT");
    // Every request's first attempt fails one way or another 40% of the time (by a hash of the request,
    // so the run is repeatable); retries go through.
    let proxy = FaultProxy::start(&ep, |method, path, attempt| {
        if attempt > 0 {
            return Fault::Pass;
        }
        let h = path.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        match h % 10 {
            0 => Fault::SlowDown,
            1 => Fault::Internal,
            2 => Fault::Drop,
            3 if method == "GET" && !path.contains("list-type") => Fault::Truncate,
            _ => Fault::Pass,
        }
    });
    let r = convert(
        &ConvertOptions::new(vec![s3loc(&bucket, "AWSLogs/")], s3loc(&bucket, "lake/"))
            .with_storage(s3_opts(&proxy.url)),
        &NoProgress,
    )
    .unwrap();
    ok(&r);
    assert_eq!(r.rows_written, g.records);
    let seen = proxy.seen();
    for f in [Fault::SlowDown, Fault::Internal, Fault::Drop, Fault::Truncate] {
        assert!(seen.iter().any(|s| s.fault == f), "no {f:?} injected");
    }
    // Every failed request was tried again.
    for failed in seen.iter().filter(|s| s.fault != Fault::Pass) {
        assert!(
            seen.iter().any(|s| s.attempt > 0 && s.method == failed.method && s.path == failed.path),
            "{} {} was not retried",
            failed.method,
            failed.path
        );
    }
    let down = dir.path().join("down");
    s3.download(&bucket, "lake/", &down);
    assert_eq!(table_rows(&read_table(&down), &columns_of(&read_table(&down))).len() as u64, g.records);
    assert_eq!(s3.pending_uploads(&bucket), 0);
}

#[test]
fn an_object_that_always_fails_is_reported_by_key() {
    let s3 = S3::new();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let g = sample(&src, 3_000, 1, 6, "default", "123456789010");
    let bucket = s3.bucket("broken");
    s3.upload_dir(&src, &bucket);
    let victim = s3.keys(&bucket, "AWSLogs/").into_iter().nth(2).unwrap();
    let victim_rows =
        raw_text(&log_files(&src).into_iter().find(|p| p.ends_with(&victim)).unwrap()).lines().count() as u64 - 1;
    let ep = endpoint("FLOWLAKE_S3_ENDPOINT");
    let v = victim.clone();
    let proxy = FaultProxy::start(&ep, move |method, path, _| {
        // Every GET of this one object fails, retries included.
        if method == "GET" && path.contains(&v) { Fault::Internal } else { Fault::Pass }
    });
    let r = convert(
        &ConvertOptions::new(vec![s3loc(&bucket, "AWSLogs/")], Location::Local(dir.path().join("lake")))
            .with_storage(s3_opts(&proxy.url)),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(r.status, RunStatus::CompletedWithErrors);
    assert_eq!(r.files_damaged.len(), 1);
    assert_eq!(r.files_damaged[0].file, format!("s3://{bucket}/{victim}"));
    assert_eq!(r.rows_written, g.records - victim_rows);
    assert_eq!(r.rows_in, r.rows_written + r.rows_rejected);
}

#[test]
fn three_shards_on_s3_write_the_rows_of_one_run() {
    use flowlake::source::Shard;
    let s3 = S3::new();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let g = sample(&src, 9_000, 6, 4, "default", "123456789010");
    let bucket = s3.bucket("shards");
    s3.upload_dir(&src, &bucket);
    let ep = endpoint("FLOWLAKE_S3_ENDPOINT");
    let reports: Vec<RunReport> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let (bucket, ep) = (bucket.clone(), ep.clone());
                s.spawn(move || {
                    convert(
                        &ConvertOptions::new(vec![s3loc(&bucket, "AWSLogs/")], s3loc(&bucket, "lake/"))
                            .with_storage(s3_opts(&ep))
                            .with_shard(Some(Shard { index: i, count: 3 }))
                            // Shards finishing together fold checkpoints concurrently.
                            .with_checkpoint_every(1),
                        &NoProgress,
                    )
                    .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(reports.iter().map(|r| r.files_in).sum::<u64>(), 24);
    let down = dir.path().join("down");
    s3.download(&bucket, "lake/", &down);
    let t = read_table(&down);
    let cols = columns_of(&t);
    assert!(table_rows(&t, &cols) == raw_rows(&log_files(&src), &cols), "values differ from the raw text");
    assert_eq!(t.iter().map(|(_, b)| b.num_rows() as u64).sum::<u64>(), g.records);
    // The manifest, read through whichever checkpoint is newest plus the manifests it does not
    // cover, knows every input: a rerun converts nothing.
    let keys = s3.keys(&bucket, "lake/_flowlake/checkpoint/");
    assert!(!keys.is_empty() && keys.len() <= 3, "{keys:?}");
    let again = convert(
        &ConvertOptions::new(vec![s3loc(&bucket, "AWSLogs/")], s3loc(&bucket, "lake/")).with_storage(s3_opts(&ep)),
        &NoProgress,
    )
    .unwrap();
    assert_eq!((again.files_skipped, again.files_in), (24, 0));
}

#[cfg(feature = "query")]
#[test]
fn queries_over_an_s3_lake_answer_like_a_local_one() {
    let s3 = S3::new();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    sample(&src, 20_000, 3, 6, "default", "111111111111");
    let outb = s3.bucket("lake");
    let ep = endpoint("FLOWLAKE_S3_ENDPOINT");
    let local = dir.path().join("local");
    for out in [s3loc(&outb, "flowlogs/"), Location::Local(local.clone())] {
        let r = convert(
            &ConvertOptions::new(vec![Location::Local(src.clone())], out).with_storage(s3_opts(&ep)),
            &NoProgress,
        )
        .unwrap();
        ok(&r);
    }
    let remote = format!("s3://{outb}/flowlogs");
    let local = local.to_str().unwrap();
    let questions: Vec<Vec<&str>> = vec![
        vec!["find", "--cidr", "10.192.0.0/20", "--from", "2023-08-02", "--to", "2023-08-02"],
        vec!["sources", "--outside", "10.192.0.0/16"],
        vec!["private-cidrs", "--prefix", "24"],
        vec!["top", "--group", "pair", "--by", "packets"],
        vec!["query", "SELECT date, count(*) AS n, sum(bytes) AS b FROM flows GROUP BY date ORDER BY date"],
    ];
    for q in questions {
        let run = |lake: &str| {
            let mut args = vec![q[0], lake];
            args.extend(&q[1..]);
            args.extend(["--format", "csv", "--endpoint-url", ep.as_str()]);
            flowlake_code(&args, 0).0
        };
        let (r, l) = (run(&remote), run(local));
        assert!(l.lines().count() > 2, "{q:?} answers something: {l}");
        assert!(r == l, "{q:?} over S3 differs from local:\n{r}\n---\n{l}");
    }
}

/// `verify` on S3: an object removed from the table by hand, and a stray one, are found;
/// `--repair` rebuilds the partition from the inputs (on S3 too) and removes the stray.
#[test]
fn verify_and_repair_a_table_on_s3() {
    let s3 = S3::new();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    sample(&src, 3_000, 2, 2, "default", "123456789010");
    let bucket = s3.bucket("verify");
    s3.upload_dir(&src, &bucket);
    let ep = endpoint("FLOWLAKE_S3_ENDPOINT");
    let (input, lake) = (format!("s3://{bucket}/AWSLogs/"), format!("s3://{bucket}/lake/"));
    flowlake_code(&["convert", &input, "--out", &lake, "--endpoint-url", &ep, "-q"], 0);
    flowlake_code(&["verify", &lake, "--endpoint-url", &ep], 0);
    let parquet: Vec<String> = s3
        .keys(&bucket, "lake/")
        .into_iter()
        .filter(|k| k.ends_with(".parquet") && !k.contains("/_flowlake/"))
        .collect();
    let gone = &parquet[0];
    s3.rt.block_on(s3.client.delete_object().bucket(&bucket).key(gone).send()).unwrap();
    let stray = parquet[1].replace("part-", "part-by-hand-");
    s3.rt
        .block_on(
            s3.client.copy_object().bucket(&bucket).key(&stray).copy_source(format!("{bucket}/{}", parquet[1])).send(),
        )
        .unwrap();
    let (out, _) = flowlake_code(&["verify", &lake, "--endpoint-url", &ep], 1);
    let rel = |k: &str| k.strip_prefix("lake/").unwrap().to_string();
    assert!(out.contains(&format!("missing: {}:", rel(gone))), "{out}");
    assert!(out.contains(&format!("stray: {}:", rel(&stray))), "{out}");
    flowlake_code(&["verify", &lake, "--repair", "--endpoint-url", &ep], 0);
    flowlake_code(&["verify", &lake, "--endpoint-url", &ep], 0);
    let down = dir.path().join("down");
    s3.download(&bucket, "lake/", &down);
    let t = read_table(&down);
    let cols = columns_of(&t);
    assert!(table_rows(&t, &cols) == raw_rows(&log_files(&src), &cols), "every record exactly once after the repair");
}

/// `--enrich` tables given as `s3://` URLs (an object, and a prefix of inventory files)
/// give the same columns as the same tables on disk.
#[test]
fn enrichment_tables_on_s3_equal_the_same_tables_on_disk() {
    let s3 = S3::new();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let mut o = GenerateOptions::new(&src, 6_000, 1);
    o.files_per_day = 4;
    o.lookup_tables = true;
    generate::generate(&o).unwrap();
    let lookup = src.join(generate::LOOKUP_DIR);
    let tables = s3.bucket("tables");
    s3.upload_dir(&lookup, &tables);
    // An inventory folder (prefix) of its own, as a user keeps one per account and region.
    let inv_dir = dir.path().join("inventory");
    fs::create_dir_all(&inv_dir).unwrap();
    fs::copy(lookup.join("network-interfaces.json"), inv_dir.join("eni-123456789010-us-east-1.json")).unwrap();
    let inv = s3.bucket("inventory");
    s3.upload_dir(&inv_dir, &inv);
    let ep = endpoint("FLOWLAKE_S3_ENDPOINT");
    let spec = |s: String| -> flowlake::enrich::EnrichSpec { s.parse().unwrap() };
    let remote = vec![
        spec(format!("aws-ip-ranges=s3://{tables}/ip-ranges.json")),
        // A prefix: every .json object under it.
        spec(format!("interfaces=s3://{inv}/")),
    ];
    let local = vec![
        spec(format!("aws-ip-ranges={}", lookup.join("ip-ranges.json").display())),
        spec(format!("interfaces={}", lookup.join("network-interfaces.json").display())),
    ];
    let run = |enrich: Vec<flowlake::enrich::EnrichSpec>, out: &str| {
        let r = convert(
            &ConvertOptions::new(vec![Location::Local(src.clone())], Location::Local(dir.path().join(out)))
                .with_storage(s3_opts(&ep))
                .with_enrich(enrich),
            &NoProgress,
        )
        .unwrap();
        ok(&r);
        r
    };
    let (a, b) = (run(remote, "from-s3"), run(local, "from-disk"));
    assert_eq!(a.columns, b.columns);
    assert!(a.columns.iter().any(|c| c == "src_owner"));
    let files: Vec<String> = a.enrichment.iter().map(|u| u.file.clone()).collect();
    assert_eq!(files, [format!("s3://{tables}/ip-ranges.json"), format!("s3://{inv}/eni-123456789010-us-east-1.json")]);
    for (x, y) in a.enrichment.iter().zip(&b.enrichment) {
        assert_eq!((x.sha256.as_str(), x.bytes), (y.sha256.as_str(), y.bytes));
    }
    let (ta, tb) = (read_table(&dir.path().join("from-s3")), read_table(&dir.path().join("from-disk")));
    let cols = columns_of(&tb);
    assert!(table_rows(&ta, &cols) == table_rows(&tb, &cols), "rows enriched from S3 differ");
}
