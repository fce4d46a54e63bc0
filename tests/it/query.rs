//! Queries over a converted sample, every answer compared with an independent
//! computation: a plain scan of the raw text with address arithmetic written
//! here (not flowlake's), including IPv6 and NODATA records.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_schema::DataType;
use flowlake::convert::{ConvertOptions, NoProgress, convert};
use flowlake::generate::{self, GenerateOptions};
use flowlake::ip::Cidr;
use flowlake::partition::{format_day, parse_day};
use flowlake::query::{
    Direction, Filter, FindQuery, Lake, Metric, PrivateCidrsQuery, QueryOptions, Question, SourcesQuery, TopGroup,
    TopQuery, ip_target,
};
use flowlake::sink::ParquetOptions;
use flowlake::storage::Location;

use crate::common::*;

/// One raw record, parsed by hand.
#[derive(Clone, Debug)]
struct Rec {
    src: Option<String>,
    dst: Option<String>,
    srcport: Option<i64>,
    dstport: Option<i64>,
    protocol: Option<i64>,
    packets: Option<i64>,
    bytes: Option<i64>,
    start: i64,
    action: Option<String>,
}

impl Rec {
    fn key(&self) -> String {
        format!(
            "{} {} {} {} {} {} {}",
            self.start,
            self.src.as_deref().unwrap_or("-"),
            self.srcport.map(|v| v.to_string()).unwrap_or("-".into()),
            self.dst.as_deref().unwrap_or("-"),
            self.dstport.map(|v| v.to_string()).unwrap_or("-".into()),
            self.bytes.map(|v| v.to_string()).unwrap_or("-".into()),
            self.action.as_deref().unwrap_or("-"),
        )
    }
    fn day(&self) -> String {
        format_day(self.start.div_euclid(86_400))
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    lake: PathBuf,
    recs: Vec<Rec>,
}

/// The sample (generated and converted once for all tests of this module).
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let sample = dir.path().join("sample");
        let lake = dir.path().join("lake");
        let mut o = GenerateOptions::new(&sample, 60_000, 3);
        o.files_per_day = 8;
        o.seed = 11;
        generate::generate(&o).unwrap();
        let parquet = ParquetOptions { row_group_size: 4_000, ..ParquetOptions::default() };
        let opts = ConvertOptions::new(vec![Location::Local(sample.clone())], Location::Local(lake.clone()))
            .with_threads(2)
            .with_parquet(parquet);
        let report = convert(&opts, &NoProgress).unwrap();
        assert_eq!(report.rows_written, 60_000);
        let recs = scan(&log_files(&sample));
        assert_eq!(recs.len(), 60_000);
        Fixture { _dir: dir, lake, recs }
    })
}

fn scan(files: &[PathBuf]) -> Vec<Rec> {
    let mut out = Vec::new();
    for f in files {
        let text = raw_text(f);
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(' ').collect();
        let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (s, d, sp, dp, pr, pk, by, st, ac) = (
            at("srcaddr"),
            at("dstaddr"),
            at("srcport"),
            at("dstport"),
            at("protocol"),
            at("packets"),
            at("bytes"),
            at("start"),
            at("action"),
        );
        for line in lines {
            let t: Vec<&str> = line.split(' ').collect();
            let text = |i: usize| (t[i] != "-").then(|| t[i].to_string());
            let num = |i: usize| (t[i] != "-").then(|| t[i].parse::<i64>().unwrap());
            out.push(Rec {
                src: text(s),
                dst: text(d),
                srcport: num(sp),
                dstport: num(dp),
                protocol: num(pr),
                packets: num(pk),
                bytes: num(by),
                start: t[st].parse().unwrap(),
                action: text(ac),
            });
        }
    }
    out
}

/// Membership written independently of flowlake: both sides as 128-bit numbers.
fn in_block(block: &str, addr: &str) -> bool {
    let (net, bits) = block.split_once('/').unwrap();
    let bits: u32 = bits.parse().unwrap();
    let (Ok(net), Ok(a)) = (net.parse::<IpAddr>(), addr.parse::<IpAddr>()) else { return false };
    let (n, a, width) = match (net, a) {
        (IpAddr::V4(n), IpAddr::V4(a)) => (u128::from(u32::from(n)), u128::from(u32::from(a)), 32),
        (IpAddr::V6(n), IpAddr::V6(a)) => (u128::from(n), u128::from(a), 128),
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    (n >> (width - bits)) == (a >> (width - bits))
}

fn block_of(addr: &str, bits4: u32, bits6: u32) -> String {
    match addr.parse::<IpAddr>().unwrap() {
        IpAddr::V4(a) => {
            let v = u32::from(a) & (u32::MAX << (32 - bits4));
            format!("{}/{bits4}", std::net::Ipv4Addr::from(v))
        }
        IpAddr::V6(a) => {
            let v = u128::from(a) & (u128::MAX << (128 - bits6));
            format!("{}/{bits6}", std::net::Ipv6Addr::from(v))
        }
    }
}

fn lake() -> Lake {
    Lake::open(&Location::Local(fixture().lake.clone()), &QueryOptions { threads: 2, ..Default::default() }).unwrap()
}

fn ask(lake: &Lake, q: &Question) -> Vec<RecordBatch> {
    let sql = lake.sql_for(q).unwrap();
    lake.collect(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A cell as text (`-` for null), whatever the Arrow type.
fn text(b: &RecordBatch, col: &str, row: usize) -> String {
    let a = b.column_by_name(col).unwrap_or_else(|| panic!("no column {col}"));
    if a.is_null(row) {
        return "-".into();
    }
    match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().value(row).to_string(),
        DataType::Utf8View => a.as_string_view().value(row).to_string(),
        DataType::Int64 => a.as_primitive::<arrow_array::types::Int64Type>().value(row).to_string(),
        DataType::Int32 => a.as_primitive::<arrow_array::types::Int32Type>().value(row).to_string(),
        DataType::UInt64 => a.as_primitive::<arrow_array::types::UInt64Type>().value(row).to_string(),
        DataType::Boolean => a.as_boolean().value(row).to_string(),
        t => panic!("unexpected type {t} of {col}"),
    }
}

fn rows(batches: &[RecordBatch], cols: &[&str]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            out.push(cols.iter().map(|c| text(b, c, r)).collect());
        }
    }
    out
}

fn find_keys(batches: &[RecordBatch]) -> Vec<String> {
    let mut keys: Vec<String> =
        rows(batches, &["start", "srcaddr", "srcport", "dstaddr", "dstport", "bytes", "action"])
            .into_iter()
            .map(|r| r.join(" "))
            .collect();
    keys.sort();
    keys
}

fn expect_keys<'a>(recs: impl Iterator<Item = &'a Rec>) -> Vec<String> {
    let mut keys: Vec<String> = recs.map(Rec::key).collect();
    keys.sort();
    keys
}

fn find(target: &str, direction: Direction, filter: Filter) -> Question {
    let target: Cidr = target.parse().unwrap();
    Question::Find(FindQuery { target, direction, filter, columns: vec![], limit: None })
}

fn matches(r: &Rec, block: &str, direction: Direction) -> bool {
    let m = |a: &Option<String>| a.as_deref().is_some_and(|a| in_block(block, a));
    match direction {
        Direction::Any => m(&r.src) || m(&r.dst),
        Direction::Src => m(&r.src),
        Direction::Dst => m(&r.dst),
    }
}

#[test]
fn find_an_address_in_either_direction_ipv4_and_ipv6() {
    let f = fixture();
    let lake = lake();
    // The busiest addresses of each family, so the answers are large.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &f.recs {
        for a in [&r.src, &r.dst].into_iter().flatten() {
            *counts.entry(a.as_str()).or_default() += 1;
        }
    }
    let busiest = |v6: bool| {
        counts.iter().filter(|(a, _)| a.contains(':') == v6).max_by_key(|(a, n)| (**n, *a)).map(|(a, _)| *a).unwrap()
    };
    for addr in [busiest(false), busiest(true)] {
        let target = ip_target(addr.parse().unwrap());
        let q = Question::Find(FindQuery {
            target,
            direction: Direction::Any,
            filter: Filter::default(),
            columns: vec![],
            limit: None,
        });
        let got = find_keys(&ask(&lake, &q));
        let want = expect_keys(f.recs.iter().filter(|r| matches(r, &target.to_string(), Direction::Any)));
        assert!(want.len() > 20, "{addr}: {}", want.len());
        assert!(got == want, "find --ip {addr}: {} rows, expected {}", got.len(), want.len());
    }
}

#[test]
fn find_a_block_by_direction_day_and_action() {
    let f = fixture();
    let lake = lake();
    let day = parse_day("2023-08-02").unwrap();
    for (block, dir) in [
        ("10.0.0.0/8", Direction::Src),
        ("10.0.0.0/8", Direction::Dst),
        ("172.16.0.0/12", Direction::Any),
        ("100.64.0.0/10", Direction::Any),
    ] {
        let filter = Filter { from: Some(day), to: Some(day), action: Some("REJECT".into()), ..Default::default() };
        let got = find_keys(&ask(&lake, &find(block, dir, filter)));
        let want =
            expect_keys(f.recs.iter().filter(|r| {
                matches(r, block, dir) && r.day() == "2023-08-02" && r.action.as_deref() == Some("REJECT")
            }));
        assert!(got == want, "find --cidr {block} {dir:?}: {} rows, expected {}", got.len(), want.len());
    }
    // A block that is not octet-aligned, with a port.
    let filter = Filter { port: Some(443), ..Default::default() };
    let got = find_keys(&ask(&lake, &find("10.192.128.0/17", Direction::Any, filter)));
    let want = expect_keys(f.recs.iter().filter(|r| {
        matches(r, "10.192.128.0/17", Direction::Any) && (r.srcport == Some(443) || r.dstport == Some(443))
    }));
    assert!(got == want, "/17 with port: {} rows, expected {}", got.len(), want.len());
}

#[test]
fn nodata_rows_never_match_and_every_address_is_in_one_family() {
    let f = fixture();
    let lake = lake();
    let v4 = ask(&lake, &find("0.0.0.0/0", Direction::Src, Filter::default()));
    let v6 = ask(&lake, &find("::/0", Direction::Src, Filter::default()));
    let n = |b: &[RecordBatch]| b.iter().map(|b| b.num_rows()).sum::<usize>();
    let nulls = f.recs.iter().filter(|r| r.src.is_none()).count();
    assert!(nulls > 0, "the sample has NODATA/SKIPDATA records");
    assert!(n(&v6) > 0, "the sample has IPv6 records");
    assert_eq!(n(&v4) + n(&v6) + nulls, f.recs.len());
    assert_eq!(n(&v6), f.recs.iter().filter(|r| r.src.as_deref().is_some_and(|a| a.contains(':'))).count());
}

#[test]
fn sources_outside_the_vpc() {
    let f = fixture();
    let lake = lake();
    let outside: Vec<Cidr> = vec!["10.192.0.0/16".parse().unwrap(), "fd00::/8".parse().unwrap()];
    let q = Question::Sources(SourcesQuery { outside, filter: Filter::default(), limit: None, group_by: None });
    let batches = ask(&lake, &q);
    let got: BTreeMap<String, (String, String)> = rows(&batches, &["srcaddr", "flows", "bytes"])
        .into_iter()
        .map(|r| (r[0].clone(), (r[1].clone(), r[2].clone())))
        .collect();
    let mut want: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    for r in &f.recs {
        let Some(s) = &r.src else { continue };
        if in_block("10.192.0.0/16", s) || in_block("fd00::/8", s) {
            continue;
        }
        let e = want.entry(s.clone()).or_default();
        e.0 += 1;
        e.1 += r.bytes.unwrap_or(0);
    }
    let want: BTreeMap<String, (String, String)> =
        want.into_iter().map(|(k, (n, b))| (k, (n.to_string(), b.to_string()))).collect();
    assert!(want.len() > 10);
    assert!(got == want, "sources: {} addresses, expected {}", got.len(), want.len());
    // Sorted by bytes, largest first.
    let bytes: Vec<i64> = rows(&batches, &["bytes"]).iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(bytes.windows(2).all(|w| w[0] >= w[1]));
}

#[test]
fn private_cidrs_in_both_directions_with_ipv6() {
    let f = fixture();
    let lake = lake();
    let q = Question::PrivateCidrs(PrivateCidrsQuery {
        prefix_v4: 24,
        prefix_v6: 48,
        ranges: vec![],
        filter: Filter::default(),
    });
    let batches = ask(&lake, &q);
    let cols = ["cidr", "private_range", "addresses", "src_flows", "dst_flows", "src_bytes", "dst_bytes"];
    let got: BTreeMap<String, Vec<String>> =
        rows(&batches, &cols).into_iter().map(|r| (r[0].clone(), r[1..].to_vec())).collect();

    let blocks = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];
    #[derive(Default)]
    struct Acc {
        range: String,
        addrs: BTreeSet<String>,
        sf: u64,
        df: u64,
        sb: i64,
        db: i64,
    }
    let mut want: BTreeMap<String, Acc> = BTreeMap::new();
    for r in &f.recs {
        for (a, is_src) in [(&r.src, true), (&r.dst, false)] {
            let Some(a) = a else { continue };
            let Some(range) = blocks.iter().find(|b| in_block(b, a)) else { continue };
            let e = want.entry(block_of(a, 24, 48)).or_default();
            e.range = range.to_string();
            e.addrs.insert(a.clone());
            if is_src {
                e.sf += 1;
                e.sb += r.bytes.unwrap_or(0);
            } else {
                e.df += 1;
                e.db += r.bytes.unwrap_or(0);
            }
        }
    }
    let want: BTreeMap<String, Vec<String>> = want
        .into_iter()
        .map(|(k, a)| {
            let v = vec![
                a.range,
                a.addrs.len().to_string(),
                a.sf.to_string(),
                a.df.to_string(),
                a.sb.to_string(),
                a.db.to_string(),
            ];
            (k, v)
        })
        .collect();
    assert!(want.keys().any(|k| k.contains(':')), "IPv6 ranges expected in the sample");
    assert!(want.keys().any(|k| k.starts_with("10.")));
    assert_eq!(got, want);
}

#[test]
fn top_pairs_and_ports() {
    let f = fixture();
    let lake = lake();
    let q = Question::Top(TopQuery {
        by: Metric::Bytes,
        group: TopGroup::Pair,
        limit: 10,
        filter: Filter::default(),
        group_by: None,
    });
    let got = rows(&ask(&lake, &q), &["srcaddr", "dstaddr", "flows", "bytes"]);
    let mut acc: BTreeMap<(String, String), (u64, i64)> = BTreeMap::new();
    for r in &f.recs {
        if let (Some(s), Some(d)) = (&r.src, &r.dst) {
            let e = acc.entry((s.clone(), d.clone())).or_default();
            e.0 += 1;
            e.1 += r.bytes.unwrap_or(0);
        }
    }
    let mut v: Vec<_> = acc.into_iter().collect();
    v.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(a.0.cmp(&b.0)));
    let want: Vec<Vec<String>> =
        v.iter().take(10).map(|((s, d), (n, b))| vec![s.clone(), d.clone(), n.to_string(), b.to_string()]).collect();
    assert_eq!(got, want);

    let q = Question::Top(TopQuery {
        by: Metric::Flows,
        group: TopGroup::Port,
        limit: 5,
        filter: Filter::default(),
        group_by: None,
    });
    let got = rows(&ask(&lake, &q), &["dstport", "protocol", "flows", "packets"]);
    let mut acc: BTreeMap<(i64, i64), (u64, i64)> = BTreeMap::new();
    for r in &f.recs {
        if let (Some(p), Some(pr)) = (r.dstport, r.protocol) {
            let e = acc.entry((p, pr)).or_default();
            e.0 += 1;
            e.1 += r.packets.unwrap_or(0);
        }
    }
    let mut v: Vec<_> = acc.into_iter().collect();
    v.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
    let want: Vec<Vec<String>> = v
        .iter()
        .take(5)
        .map(|((p, pr), (n, pk))| vec![p.to_string(), pr.to_string(), n.to_string(), pk.to_string()])
        .collect();
    assert_eq!(got, want);
}

#[test]
fn sql_with_partitions_and_address_functions() {
    let f = fixture();
    let lake = lake();
    let one = |sql: &str| {
        let b = lake.collect(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let r = rows(&b, &[b[0].schema().field(0).name().as_str()]);
        assert_eq!(r.len(), 1, "{sql}");
        r[0][0].clone()
    };
    let by_day = f.recs.iter().filter(|r| r.day().as_str() >= "2023-08-02").count();
    assert_eq!(one("SELECT count(*) AS n FROM flows WHERE date >= '2023-08-02'"), by_day.to_string());
    let private = f
        .recs
        .iter()
        .filter(|r| {
            r.src.as_deref().is_some_and(|a| {
                ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"].iter().any(|b| in_block(b, a))
            })
        })
        .count();
    assert_eq!(one("SELECT count(*) AS n FROM flows WHERE is_private(srcaddr)"), private.to_string());
    let in16 = f.recs.iter().filter(|r| r.dst.as_deref().is_some_and(|a| in_block("10.192.0.0/16", a))).count();
    assert_eq!(one("SELECT count(*) AS n FROM flows WHERE cidr_contains('10.192.0.0/16', dstaddr)"), in16.to_string());
    let blocks: BTreeSet<String> = f
        .recs
        .iter()
        .filter_map(|r| r.src.as_deref())
        .filter(|a| !a.contains(':'))
        .map(|a| block_of(a, 16, 48))
        .collect();
    assert_eq!(
        one("SELECT count(DISTINCT cidr_of(srcaddr, 16)) AS n FROM flows WHERE srcaddr NOT LIKE '%:%'"),
        blocks.len().to_string()
    );
    let e = lake.collect("SELECT cidr_contains('10.0.0.0/33', srcaddr) FROM flows").unwrap_err().to_string();
    assert!(e.contains("invalid CIDR `10.0.0.0/33`"), "{e}");
    let e = lake.collect("SELECT nosuchcolumn FROM flows").unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
}

#[test]
fn cli_formats_and_errors() {
    let f = fixture();
    let lake = f.lake.to_str().unwrap();
    let want = f.recs.iter().filter(|r| matches(r, "10.192.0.0/16", Direction::Src)).count();

    let (csv, err) =
        flowlake_code(&["find", lake, "--cidr", "10.192.0.0/16", "--direction", "src", "--format", "csv"], 0);
    assert_eq!(csv.lines().count(), want + 1, "header and one line per flow");
    assert!(csv.starts_with("start,end,interface_id,srcaddr,"), "{}", &csv[..80]);
    assert!(err.contains(&format!("{want} rows in ")), "{err}");

    let (json, _) =
        flowlake_code(&["find", lake, "--cidr", "10.192.0.0/16", "--direction", "src", "--format", "json", "-q"], 0);
    assert_eq!(json.lines().count(), want);
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert!(first["srcaddr"].as_str().unwrap().starts_with("10.192."));

    let out = tempfile::tempdir().unwrap();
    let pq = out.path().join("a.parquet");
    flowlake_code(
        &[
            "find",
            lake,
            "--cidr",
            "10.192.0.0/16",
            "--direction",
            "src",
            "--format",
            "parquet",
            "-o",
            pq.to_str().unwrap(),
        ],
        0,
    );
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&pq).unwrap())
            .unwrap()
            .build()
            .unwrap();
    assert_eq!(reader.map(|b| b.unwrap().num_rows()).sum::<usize>(), want);

    let (table, _) = flowlake_code(&["top", lake, "--group", "port", "--by", "flows", "--limit", "3"], 0);
    assert!(table.contains("| dstport") && table.lines().count() == 3 + 4, "{table}");

    for (args, msg) in [
        (vec!["find", lake, "--ip", "10.0.0.300"], "invalid IP address `10.0.0.300`"),
        (vec!["find", lake, "--cidr", "10.0.0.0/40"], "invalid CIDR `10.0.0.0/40`"),
        (vec!["sources", lake, "--outside", "vpc"], "invalid CIDR `vpc`"),
        (vec!["query", lake, "SELEC 1"], "query:"),
        (vec!["private-cidrs", lake, "--ranges", "rfc9999"], "unknown range family `rfc9999`"),
        (vec!["find", lake, "--ip", "10.0.0.1", "--from", "2023-13-01"], "invalid --from `2023-13-01`"),
    ] {
        let (_, err) = flowlake_code(&args, 2);
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    let empty = tempfile::tempdir().unwrap();
    let (_, err) = flowlake_code(&["top", empty.path().to_str().unwrap()], 1);
    assert!(err.contains("no converted Parquet files under"), "{err}");
    let _ = Path::new(lake);
}

#[test]
fn a_date_range_reads_only_its_partitions() {
    // The scan's file list (EXPLAIN) of a question limited to two days names only those days' files.
    let f = fixture();
    let lake = f.lake.to_str().unwrap();
    let (_, sql) = flowlake_code(
        &["top", lake, "--from", "2023-08-01", "--to", "2023-08-02", "--show-sql", "--limit", "1", "-q"],
        0,
    );
    let plan = |sql: &str| flowlake_code(&["query", lake, &format!("EXPLAIN {sql}"), "--format", "csv", "-q"], 0).0;
    let limited = plan(sql.trim());
    assert!(limited.contains("date=2023-08-01/") && limited.contains("date=2023-08-02/"), "{limited}");
    for other in ["date=2023-07-31/", "date=2023-08-03/"] {
        assert!(!limited.contains(other), "{other} is scanned: {limited}");
    }
    let all = plan("SELECT srcaddr, count(*) FROM flows GROUP BY srcaddr");
    assert!(all.contains("date=2023-08-03/"), "{all}");
}
