//! Realistic sample flow logs, deterministic per seed, in the S3 delivery
//! layout (`AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/…log.gz`, each
//! file starting with its header line).
//!
//! The traffic: one VPC (10.192.0.0/16) with many network interfaces, a long
//! tail of public peers, other private ranges (172.16/12, 192.168/16, other
//! 10/8 and 100.64/10), an IPv6 share (with some RFC 4193 peers), NODATA and SKIPDATA records, ACCEPT
//! and REJECT, common service ports. The generator also returns what it wrote
//! (rows, sums and null counts per day and column), so tests compare a
//! conversion with the truth rather than with a fixed number.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::net::Ipv6Addr;
use std::path::PathBuf;

use flate2::Compression;
use flate2::write::GzEncoder;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::format::Format;
use crate::partition::{civil_from_days, delivery_dir, format_day, parse_day};
use crate::schema::{CATALOG, ColumnId, LogKind};
use crate::storage::{Counted, LocalStorage, Location, Storage};

pub mod lookup;

/// Where `--lookup-tables` puts the tables, under the sample's folder (`_`: conversion skips it).
pub const LOOKUP_DIR: &str = "_lookup";

/// The VPC CIDR of generated traffic.
pub const VPC_CIDR: &str = "10.192.0.0/16";

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Output folder (the `AWSLogs/…` tree goes under it).
    pub out: PathBuf,
    /// Total records.
    pub records: u64,
    /// Days of delivery folders.
    pub days: u32,
    /// First day, `YYYY-MM-DD`. Default 2023-08-01.
    pub start_date: String,
    /// The record format.
    pub format: Format,
    /// Seed; the same seed gives the same files.
    pub seed: u64,
    /// Files per day (a flow log delivers one every 5 minutes or more). Default 96.
    pub files_per_day: u32,
    /// Account id. Default 123456789010.
    pub account: String,
    /// Region. Default us-east-1.
    pub region: String,
    /// Also write lookup tables that match the traffic, for `--enrich`, under
    /// `OUT/_lookup/` ([`lookup`]). Default off.
    pub lookup_tables: bool,
}

impl GenerateOptions {
    /// Defaults: 2023-08-01, AWS's default format, seed 1, 96 files a day.
    pub fn new(out: impl Into<PathBuf>, records: u64, days: u32) -> GenerateOptions {
        GenerateOptions {
            out: out.into(),
            records,
            days,
            start_date: "2023-08-01".into(),
            format: Format::aws_default(),
            seed: 1,
            files_per_day: 96,
            account: "123456789010".into(),
            region: "us-east-1".into(),
            lookup_tables: false,
        }
    }
}

/// A named format preset: `default` (version 2), `v3`, `v4`, `v5`, `all` (every
/// VPC field of versions 2 to 8), or anything [`Format::from_spec`] accepts.
pub fn format_preset(name: &str) -> Result<Format> {
    let upto = |v: u8| -> Format {
        let names: Vec<&str> =
            CATALOG.iter().filter(|f| f.kind == LogKind::Vpc && f.version <= v).map(|f| f.name).collect();
        Format::from_spec(&names.join(" ")).expect("catalog names")
    };
    Ok(match name {
        "default" | "v2" => Format::aws_default(),
        "v3" => upto(3),
        "v4" => upto(4),
        "v5" => upto(5),
        "all" | "v8" => upto(8),
        spec => Format::from_spec(spec)?,
    })
}

/// Per-day truth: rows whose `start` falls on the day and their sums.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct DayTruth {
    /// Records.
    pub rows: u64,
    /// Sum of `bytes` (nulls skipped).
    pub bytes: u64,
    /// Sum of `packets` (nulls skipped).
    pub packets: u64,
}

/// What was generated.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GenerateSummary {
    /// The output folder.
    pub out: String,
    /// Files written.
    pub files: u64,
    /// Records written.
    pub records: u64,
    /// Compressed bytes written.
    pub bytes: u64,
    /// The header line.
    pub format: String,
    /// By UTC day of `start` (`YYYY-MM-DD`); records of a format without `start`
    /// are counted under their delivery folder's day.
    pub days: BTreeMap<String, DayTruth>,
    /// `-` values per column name.
    pub nulls: BTreeMap<String, u64>,
    /// Records by `log-status`.
    pub log_status: BTreeMap<String, u64>,
}

impl GenerateSummary {
    fn merge(&mut self, o: GenerateSummary) {
        self.files += o.files;
        self.records += o.records;
        self.bytes += o.bytes;
        for (k, v) in o.days {
            let d = self.days.entry(k).or_default();
            d.rows += v.rows;
            d.bytes += v.bytes;
            d.packets += v.packets;
        }
        for (k, v) in o.nulls {
            *self.nulls.entry(k).or_default() += v;
        }
        for (k, v) in o.log_status {
            *self.log_status.entry(k).or_default() += v;
        }
    }
}

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    /// Skewed towards 0: a long tail.
    fn skewed(&mut self, n: u64) -> u64 {
        let u = self.below(1 << 20) as f64 / f64::from(1 << 20);
        ((u * u * u) * n as f64) as u64
    }
}

/// 17 hex digits, as in AWS resource ids.
fn id17(h: u64) -> String {
    format!("{:017x}", (u128::from(h) << 4 | u128::from(h >> 60)) & 0xf_ffff_ffff_ffff_ffff)
}

fn mix(a: u64, b: u64) -> u64 {
    Rng(a ^ b.wrapping_mul(0xD6E8_FEB8_6659_FD93)).next()
}

const ENIS: u64 = 400;
const PUBLIC_PEERS: u64 = 60_000;
const SERVICES: &[(u32, u8)] = &[
    (443, 6),
    (443, 6),
    (443, 6),
    (80, 6),
    (22, 6),
    (53, 17),
    (3389, 6),
    (5432, 6),
    (3306, 6),
    (6379, 6),
    (8080, 6),
    (123, 17),
];
const AWS_SERVICES: &[&str] = &["AMAZON", "S3", "EC2", "CLOUDFRONT", "DYNAMODB", "ROUTE53"];

/// A network interface in the VPC.
#[derive(Clone)]
struct Eni {
    id: String,
    ip: String,
    ip6: String,
    subnet: String,
    instance: Option<String>,
    az: &'static str,
    ecs: Option<u64>,
}

fn enis(seed: u64) -> Vec<Eni> {
    (0..ENIS)
        .map(|i| {
            let h = mix(seed, i + 1);
            let sub = i % 8;
            Eni {
                id: format!("eni-{}", id17(h)),
                ip: format!("10.192.{}.{}", sub * 16 + (i / 250) % 16, 4 + i % 250),
                ip6: Ipv6Addr::new(0x2600, 0x1f18, 0x1234, (sub << 8) as u16, 0, 0, 0, (i + 16) as u16).to_string(),
                subnet: format!("subnet-{}", id17(mix(seed, 1000 + sub))),
                instance: (i % 10 != 0).then(|| format!("i-{}", id17(mix(seed, 2000 + i)))),
                az: ["use1-az1", "use1-az2", "use1-az4", "use1-az6"][(sub % 4) as usize],
                ecs: (i % 5 == 0).then_some(i),
            }
        })
        .collect()
}

fn public_ip(rank: u64) -> String {
    let h = mix(0x5EED, rank);
    // Avoid private, loopback, multicast and CGNAT ranges.
    let a = [3u64, 13, 18, 34, 35, 44, 52, 54, 63, 81, 91, 104, 142, 151, 185, 203][(h % 16) as usize];
    format!("{a}.{}.{}.{}", (h >> 8) % 256, (h >> 16) % 256, 1 + (h >> 24) % 254)
}

fn public_ip6(rank: u64) -> String {
    let h = mix(0x6EED, rank);
    let g = |shift: u64, mask: u64| ((h >> shift) & mask) as u16;
    Ipv6Addr::new(0x2a02, g(16, 0xffff), g(32, 0xffff), 0, 0, 0, 0, g(0, 0xfff)).to_string()
}

fn other_private(r: &mut Rng) -> String {
    match r.below(4) {
        0 => format!("172.{}.{}.{}", 16 + r.below(16), r.below(256), 1 + r.below(254)),
        1 => format!("192.168.{}.{}", r.below(256), 1 + r.below(254)),
        2 => format!("10.{}.{}.{}", [10, 20, 50, 100, 200][r.below(5) as usize], r.below(256), 1 + r.below(254)),
        _ => format!("100.64.{}.{}", r.below(64), 1 + r.below(254)),
    }
}

/// Values of one record, before rendering in a format.
struct Rec<'a> {
    eni: &'a Eni,
    status: &'static str,
    src: String,
    dst: String,
    srcport: u32,
    dstport: u32,
    protocol: u8,
    packets: u64,
    bytes: u64,
    start: u64,
    end: u64,
    action: &'static str,
    tcp_flags: u8,
    v6: bool,
    egress: bool,
    peer_service: Option<&'static str>,
    traffic_path: u8,
    reject_reason: bool,
    encryption: u8,
}

fn record<'a>(r: &mut Rng, enis: &'a [Eni], window_start: u64, period: u64) -> Rec<'a> {
    let eni = &enis[r.skewed(ENIS) as usize];
    // Records in a delivered file reach back before the file's window (capture and delivery lag).
    let start = window_start.saturating_sub(300) + r.below(period + 300);
    let end = start + r.range(5, 60);
    let status = if r.chance(10) {
        "NODATA"
    } else if r.chance(3) {
        "SKIPDATA"
    } else {
        "OK"
    };
    let egress = r.chance(500);
    let v6 = r.chance(50);
    let kind = r.below(100);
    let (peer, peer_service) = if v6 {
        if kind < 70 {
            (public_ip6(r.skewed(PUBLIC_PEERS)), None)
        } else if kind < 90 {
            (enis[r.below(ENIS) as usize].ip6.clone(), None)
        } else {
            // Unique local addresses (RFC 4193) of a network reached over VPN or Transit Gateway.
            let site = Ipv6Addr::new(0xfd12, 0x3456, 0x789a, r.below(4) as u16, 0, 0, 0, 1 + r.below(200) as u16);
            (site.to_string(), None)
        }
    } else if kind < 55 {
        let svc = r.chance(150).then(|| AWS_SERVICES[r.below(AWS_SERVICES.len() as u64) as usize]);
        (public_ip(r.skewed(PUBLIC_PEERS)), svc)
    } else if kind < 85 {
        (enis[r.below(ENIS) as usize].ip.clone(), None)
    } else {
        (other_private(r), None)
    };
    let own = if v6 { eni.ip6.clone() } else { eni.ip.clone() };
    let (mut port, mut protocol) = SERVICES[r.below(SERVICES.len() as u64) as usize];
    if r.chance(20) {
        port = 0;
        protocol = if v6 { 58 } else { 1 };
    }
    let ephemeral = if port == 0 { 0 } else { r.range(32768, 65535) as u32 };
    let (src, dst, srcport, dstport) = if egress { (own, peer, ephemeral, port) } else { (peer, own, ephemeral, port) };
    let packets = 1 + r.skewed(2000);
    let mut bytes = packets * r.range(40, 1500);
    if r.chance(1) {
        bytes += 1 << 32; // counters exceed 2^31 on busy interfaces
    }
    let risky = !egress && (port == 22 || port == 3389);
    let action = if r.chance(if risky { 400 } else { 60 }) { "REJECT" } else { "ACCEPT" };
    let tcp_flags = if protocol == 6 { [2u8, 18, 3, 19, 1, 4, 0][r.below(7) as usize] } else { 0 };
    let traffic_path = if !egress {
        0
    } else if kind < 55 {
        [2u8, 8][r.below(2) as usize]
    } else {
        1
    };
    Rec {
        eni,
        status,
        src,
        dst,
        srcport,
        dstport,
        protocol,
        packets,
        bytes,
        start,
        end,
        action,
        tcp_flags,
        v6,
        egress,
        peer_service,
        traffic_path,
        reject_reason: action == "REJECT" && r.chance(100),
        encryption: r.below(4) as u8,
    }
}

/// Writes `rec`'s value for catalog field `name`, or `-`.
fn render(out: &mut Vec<u8>, name: &str, rec: &Rec<'_>, version: u8, account: &str, region: &str, seed: u64) {
    let ok = rec.status == "OK";
    let w = |out: &mut Vec<u8>, s: &str| out.extend_from_slice(s.as_bytes());
    let dash = |out: &mut Vec<u8>| out.push(b'-');
    let num = |out: &mut Vec<u8>, v: u64| out.extend_from_slice(itoa_buf(v).as_bytes());
    let ecs = rec.eni.ecs;
    match name {
        "version" => num(out, u64::from(version)),
        "account-id" => w(out, account),
        "interface-id" => w(out, &rec.eni.id),
        "srcaddr" | "pkt-srcaddr" if ok => w(out, &rec.src),
        "dstaddr" | "pkt-dstaddr" if ok => w(out, &rec.dst),
        "srcport" if ok => num(out, u64::from(rec.srcport)),
        "dstport" if ok => num(out, u64::from(rec.dstport)),
        "protocol" if ok => num(out, u64::from(rec.protocol)),
        "packets" if ok => num(out, rec.packets),
        "bytes" if ok => num(out, rec.bytes),
        "start" => num(out, rec.start),
        "end" => num(out, rec.end),
        "action" if ok => w(out, rec.action),
        "log-status" => w(out, rec.status),
        "vpc-id" => w(out, &format!("vpc-{}", id17(mix(seed, 7)))),
        "subnet-id" => w(out, &rec.eni.subnet),
        "instance-id" => match &rec.eni.instance {
            Some(i) => w(out, i),
            None => dash(out),
        },
        "tcp-flags" if ok => num(out, u64::from(rec.tcp_flags)),
        "type" if ok => w(out, if rec.v6 { "IPv6" } else { "IPv4" }),
        "region" => w(out, region),
        "az-id" => w(out, rec.eni.az),
        "pkt-src-aws-service" if ok && !rec.egress => match rec.peer_service {
            Some(s) => w(out, s),
            None => dash(out),
        },
        "pkt-dst-aws-service" if ok && rec.egress => match rec.peer_service {
            Some(s) => w(out, s),
            None => dash(out),
        },
        "flow-direction" if ok => w(out, if rec.egress { "egress" } else { "ingress" }),
        "traffic-path" if ok && rec.traffic_path > 0 => num(out, u64::from(rec.traffic_path)),
        "ecs-cluster-arn" if ecs.is_some() => w(out, &format!("arn:aws:ecs:{region}:{account}:cluster/prod")),
        "ecs-cluster-name" if ecs.is_some() => w(out, "prod"),
        "ecs-container-instance-arn" if ecs.is_some() => w(
            out,
            &format!("arn:aws:ecs:{region}:{account}:container-instance/prod/{:032x}", mix(seed, ecs.unwrap_or(0))),
        ),
        "ecs-container-instance-id" if ecs.is_some() => w(out, &format!("{:032x}", mix(seed, ecs.unwrap_or(0)))),
        "ecs-container-id" if ecs.is_some() => w(out, &format!("{:016x}", mix(seed, 3 + ecs.unwrap_or(0)))),
        "ecs-service-name" if ecs.is_some() => w(out, ["web", "api", "worker"][(ecs.unwrap_or(0) % 3) as usize]),
        "ecs-task-definition-arn" if ecs.is_some() => {
            w(out, &format!("arn:aws:ecs:{region}:{account}:task-definition/web:12"))
        }
        "ecs-task-arn" if ecs.is_some() => {
            w(out, &format!("arn:aws:ecs:{region}:{account}:task/prod/{:032x}", mix(seed, 5 + ecs.unwrap_or(0))))
        }
        "ecs-task-id" if ecs.is_some() => w(out, &format!("{:032x}", mix(seed, 5 + ecs.unwrap_or(0)))),
        "reject-reason" if rec.reject_reason => w(out, "BPA"),
        "encryption-status" if ok => num(out, u64::from(rec.encryption)),
        _ => dash(out),
    }
}

/// Decimal formatting without allocation.
struct Itoa([u8; 20], usize);
fn itoa_buf(mut v: u64) -> Itoa {
    let mut b = [0u8; 20];
    let mut i = 20;
    loop {
        i -= 1;
        b[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    Itoa(b, i)
}
impl Itoa {
    fn as_bytes(&self) -> &[u8] {
        &self.0[self.1..]
    }
}

fn stamp(secs: u64) -> String {
    let day = (secs / 86_400) as i64;
    let (y, m, d) = civil_from_days(day);
    let s = secs % 86_400;
    format!("{y:04}{m:02}{d:02}T{:02}{:02}Z", s / 3600, s / 60 % 60)
}

/// Most days a sample may span (ten years).
pub const MAX_DAYS: u32 = 3660;
/// Most files a day (one a minute).
pub const MAX_FILES_PER_DAY: u32 = 1440;
/// Most records a sample may hold (about a terabyte of gzip text).
pub const MAX_RECORDS: u64 = 10_000_000_000;

/// Checks the sizes and dates of a sample; returns its first day.
fn checked(opts: &GenerateOptions) -> Result<i64> {
    let first_day = parse_day(&opts.start_date)
        .ok_or_else(|| Error::Usage(format!("invalid start date `{}`: expected YYYY-MM-DD", opts.start_date)))?;
    if !(1..=MAX_DAYS).contains(&opts.days) {
        return Err(Error::Usage(format!("a sample spans 1 to {MAX_DAYS} days, not {}", opts.days)));
    }
    if !(1..=MAX_FILES_PER_DAY).contains(&opts.files_per_day) {
        return Err(Error::Usage(format!(
            "a sample has 1 to {MAX_FILES_PER_DAY} files a day, not {}",
            opts.files_per_day
        )));
    }
    if opts.records > MAX_RECORDS {
        return Err(Error::Usage(format!("a sample holds at most {MAX_RECORDS} records, not {}", opts.records)));
    }
    let last_day = first_day + i64::from(opts.days) - 1;
    // Records reach a few minutes into the day before and the day after their files' days.
    if first_day < 1 || last_day > crate::partition::days_from_civil(9999, 12, 30) {
        return Err(Error::Usage(format!(
            "a sample starting on {} for {} days does not fit between 1970-01-02 and 9999-12-30",
            opts.start_date, opts.days
        )));
    }
    Ok(first_day)
}

/// What the generator needs of the options, worked out once for every file.
struct Shape<'a> {
    opts: &'a GenerateOptions,
    enis: Vec<Eni>,
    version: u8,
    header: String,
    fields: Vec<String>,
    columns: Vec<String>,
    has_start: bool,
    has_bytes: bool,
    has_packets: bool,
    flow_log: String,
    /// Seconds each file of a day covers.
    period: u64,
    n_files: u64,
}

impl Shape<'_> {
    fn of(opts: &GenerateOptions) -> Shape<'_> {
        let fields: Vec<String> = opts.format.fields().iter().map(|c| c.header_name().to_string()).collect();
        let has = |name: &str| fields.iter().any(|f| f == name);
        let (has_start, has_bytes, has_packets) = (has("start"), has("bytes"), has("packets"));
        Shape {
            opts,
            enis: enis(opts.seed),
            version: opts.format.version().max(2),
            header: opts.format.header_line(),
            columns: opts.format.fields().iter().map(ColumnId::column_name).collect(),
            fields,
            has_start,
            has_bytes,
            has_packets,
            flow_log: format!("fl-{}", id17(mix(opts.seed, 99))),
            period: 86_400 / u64::from(opts.files_per_day),
            n_files: u64::from(opts.days) * u64::from(opts.files_per_day),
        }
    }
}

/// Writes the sample and returns what it holds.
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary> {
    let first_day = checked(opts)?;
    let shape = Shape::of(opts);
    let root = Location::Local(opts.out.clone());
    let parts: Vec<Result<GenerateSummary>> =
        (0..shape.n_files).into_par_iter().map(|fi| write_file(&shape, &root, first_day, fi)).collect();
    let mut total = GenerateSummary { out: opts.out.display().to_string(), format: shape.header, ..Default::default() };
    for p in parts {
        total.merge(p?);
    }
    if opts.lookup_tables {
        lookup::write_lookup_tables(opts, &root.join(LOOKUP_DIR))?;
    }
    // The summary is kept beside the sample, in a `_`-prefixed file that conversion skips.
    LocalStorage
        .put(&root.join("_flowlake-sample.json"), &serde_json::to_vec_pretty(&total).expect("summary serializes"))?;
    Ok(total)
}

/// Writes file `fi` of the sample (its day and time window follow from its number) and
/// returns what it holds.
fn write_file(shape: &Shape<'_>, root: &Location, first_day: i64, fi: u64) -> Result<GenerateSummary> {
    let (opts, n_files, per_day) = (shape.opts, shape.n_files, u64::from(shape.opts.files_per_day));
    let records = opts.records / n_files + u64::from(fi < opts.records % n_files);
    let day = first_day + (fi / per_day) as i64;
    let window = day as u64 * 86_400 + (fi % per_day) * shape.period;
    let (y, m, d) = civil_from_days(day);
    let mut rng = Rng(mix(opts.seed, fi + 0x1000));
    let (acct, reg) = (&opts.account, &opts.region);
    let name =
        format!("{acct}_vpcflowlogs_{reg}_{}_{}_{:08x}.log.gz", shape.flow_log, stamp(window), rng.next() as u32);
    let day_dir = delivery_dir(acct, "vpcflowlogs", reg, &format!("{y:04}/{m:02}/{d:02}"));
    let at = root.join(&format!("AWSLogs/{day_dir}{name}"));
    let io = |e: std::io::Error| Error::io("write", &at, e);
    let out = Counted::new(LocalStorage.create(&at)?);
    let mut gz = GzEncoder::new(BufWriter::with_capacity(1 << 16, out), Compression::default());
    let mut sum = GenerateSummary { files: 1, records, ..Default::default() };
    let mut line = Vec::with_capacity(512);
    line.extend_from_slice(shape.header.as_bytes());
    line.push(b'\n');
    for _ in 0..records {
        let rec = record(&mut rng, &shape.enis, window, shape.period);
        render_record(shape, &rec, &mut line, &mut sum);
        let key = if shape.has_start { format_day((rec.start / 86_400) as i64) } else { format_day(day) };
        let t = sum.days.entry(key).or_default();
        t.rows += 1;
        if rec.status == "OK" {
            t.bytes += if shape.has_bytes { rec.bytes } else { 0 };
            t.packets += if shape.has_packets { rec.packets } else { 0 };
        }
        *sum.log_status.entry(rec.status.to_string()).or_default() += 1;
        if line.len() > 1 << 16 {
            gz.write_all(&line).map_err(io)?;
            line.clear();
        }
    }
    gz.write_all(&line).map_err(io)?;
    let out = gz.finish().map_err(io)?.into_inner().map_err(|e| io(e.into_error()))?;
    sum.bytes = out.bytes;
    out.inner.commit()?;
    Ok(sum)
}

/// Appends one record's line (with its `\n`) to `line`, counting its nulls per column.
fn render_record(shape: &Shape<'_>, rec: &Rec<'_>, line: &mut Vec<u8>, sum: &mut GenerateSummary) {
    let opts = shape.opts;
    for (i, f) in shape.fields.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        let at = line.len();
        render(line, f, rec, shape.version, &opts.account, &opts.region, opts.seed);
        if &line[at..] == b"-" {
            *sum.nulls.entry(shape.columns[i].clone()).or_default() += 1;
        }
    }
    line.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets() {
        assert_eq!(format_preset("default").unwrap().len(), 14);
        assert_eq!(format_preset("v5").unwrap().len(), 29);
        assert_eq!(format_preset("all").unwrap().len(), 40);
        assert_eq!(format_preset("all").unwrap().version(), 8);
        assert!(format_preset("${version} ${nope}").is_err());
    }

    #[test]
    fn deterministic_per_seed() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let mut o = GenerateOptions::new(a.path(), 500, 2);
        o.files_per_day = 3;
        let sa = generate(&o).unwrap();
        o.out = b.path().into();
        let sb = generate(&o).unwrap();
        assert_eq!(sa.records, 500);
        assert_eq!(sa.files, 6);
        assert_eq!(sa.days, sb.days);
        assert_eq!(sa.days.values().map(|d| d.rows).sum::<u64>(), 500);
        // The first file of day 1 reaches back into the day before.
        assert!(sa.days.contains_key("2023-07-31"), "{:?}", sa.days.keys());
    }

    #[test]
    fn absurd_sizes_and_dates_are_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let o = |f: &dyn Fn(&mut GenerateOptions)| {
            let mut o = GenerateOptions::new(dir.path(), 10, 1);
            f(&mut o);
            generate(&o).unwrap_err().to_string()
        };
        assert_eq!(o(&|o| o.days = u32::MAX), "a sample spans 1 to 3660 days, not 4294967295");
        assert_eq!(o(&|o| o.days = 0), "a sample spans 1 to 3660 days, not 0");
        assert_eq!(o(&|o| o.files_per_day = 0), "a sample has 1 to 1440 files a day, not 0");
        assert_eq!(
            o(&|o| o.records = u64::MAX),
            format!("a sample holds at most {MAX_RECORDS} records, not {}", u64::MAX)
        );
        assert_eq!(
            o(&|o| o.start_date = "1969-12-31".into()),
            "a sample starting on 1969-12-31 for 1 days does not fit between 1970-01-02 and 9999-12-30"
        );
        assert_eq!(o(&|o| o.start_date = "2023-02-30".into()), "invalid start date `2023-02-30`: expected YYYY-MM-DD");
        assert!(dir.path().read_dir().unwrap().next().is_none(), "nothing written");
    }

    #[test]
    fn itoa() {
        for v in [0u64, 7, 10, 4249, u64::MAX] {
            assert_eq!(itoa_buf(v).as_bytes(), v.to_string().as_bytes());
        }
    }
}
