//! The command line: flags (documented where they are defined), dispatch,
//! human and JSON output, the progress bar. The work is done by the library.
//!
//! One file per command under `cli/` (its flags and how it prints); here the command
//! list, the flags several commands share (inputs, S3, DDL names), the helpers they use
//! (sizes, column lists, JSON), and the imports they share (each file starts with
//! `use super::*`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand};
use flowlake::convert::{self as conversion, ConvertOptions, Progress};
use flowlake::ddl::{DdlOptions, Dialect, QueryTarget};
use flowlake::format::Format;
use flowlake::generate::GenerateOptions;
use flowlake::input::InputKind;
use flowlake::partition::parse_day;
use flowlake::report::{RunReport, RunStatus};
use flowlake::schema::{CATALOG, LogKind};
use flowlake::sink::{Compression, ParquetOptions};
use flowlake::source::InputFilter;
use flowlake::storage::{LocalStorage, Location, Storage, StorageOptions};
use flowlake::{Error, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

mod compact;
mod convert;
mod ddl;
mod demo;
mod generate;
pub mod out;
#[cfg(feature = "query")]
mod query;
mod schema;
mod verify;

use out::{errln, outln};

fn stdout_error(e: std::io::Error) -> Error {
    Error::io("write", "standard output", e)
}

/// Turn AWS VPC Flow Logs into date-partitioned Parquet for Athena, Glue and Spark.
///
/// Exit codes: 0 the run completed (rejected lines included); 1 it failed, or some
/// input files were damaged (what could be read was written; see the report), or a
/// step after the commit failed (the rows are in the table); 2 the command line was
/// wrong; 3 another run committed the same inputs first (nothing was written; run again).
#[derive(Parser, Debug)]
#[command(name = "flowlake", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once
enum Command {
    /// Convert flow-log files into a Hive-partitioned Parquet table (OUT/date=YYYY-MM-DD/part-….parquet).
    Convert(convert::ConvertArgs),
    /// Write realistic sample flow logs in the S3 delivery layout (AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/).
    Generate(generate::GenerateArgs),
    /// Show the formats found in input files and the columns and types a conversion writes.
    Schema(schema::SchemaArgs),
    /// Rewrite partitions made of many small files into target-sized files (same rows).
    Compact(compact::CompactArgs),
    /// Check that a table holds exactly what its commits say (every file there, with its size
    /// and rows; nothing else), one line per problem, exit 1 if any; --repair mends them.
    Verify(verify::VerifyArgs),
    /// Print the Athena, Glue or Spark DDL (and named queries) for a converted table, or for the raw text logs.
    Ddl(ddl::DdlArgs),
    /// Generate a sample, convert it, and show where the output is and what it holds.
    Demo(demo::DemoArgs),
    /// Run SQL over a converted output (the table `flows`, with address functions).
    #[cfg(feature = "query")]
    Query(query::QueryArgs),
    /// Print the flow records to or from an address (--ip) or a block (--cidr).
    #[cfg(feature = "query")]
    Find(query::FindArgs),
    /// Distinct source addresses, optionally --outside the VPC's blocks, with flows and bytes.
    #[cfg(feature = "query")]
    Sources(query::SourcesArgs),
    /// The private address ranges seen (RFC 1918, RFC 4193, …), grouped into CIDR blocks, with counts.
    #[cfg(feature = "query")]
    PrivateCidrs(query::PrivateCidrsArgs),
    /// The biggest sources, destinations, pairs or ports by bytes, packets or flows.
    #[cfg(feature = "query")]
    Top(query::TopArgs),
}

#[derive(Args, Debug)]
struct InputArgs {
    /// Input files or folders (folders are walked recursively; folders and files whose names
    /// start with `_` or `.` are skipped, as Athena and Spark skip them).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// File-name pattern to select when walking folders; repeat for several.
    /// Default: *.log.gz, *.log, *.gz, *.txt, *.log.parquet.
    #[arg(long = "glob", value_name = "PATTERN")]
    globs: Vec<String>,
    /// Format of headerless files: AWS's format string ('${version} ${account-id} …')
    /// or a space-separated list of field names. Files with a header line always use their header.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// What the inputs are: auto (each input's kind found from its content), text (as AWS
    /// delivers flow logs to S3), parquet (AWS's Parquet deliveries), cloudwatch-export (CloudWatch Logs export tasks),
    /// cloudwatch-subscription (subscription payloads Firehose wrote to S3), firehose (flow
    /// logs published to Amazon Data Firehose).
    #[arg(long, value_name = "KIND", default_value = InputKind::Auto.name(), value_parser = input_kinds())]
    input_kind: String,
}

/// The names `--input-kind` takes.
fn input_kinds() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(InputKind::ALL.map(InputKind::name))
}

impl InputArgs {
    fn locations(&self) -> Result<Vec<Location>> {
        self.inputs.iter().map(|s| Location::parse(s)).collect()
    }
    fn format(&self) -> Result<Option<Format>> {
        self.format.as_deref().map(Format::from_spec).transpose()
    }
    fn kind(&self) -> InputKind {
        InputKind::from_name(&self.input_kind).expect("clap checks the kind's name")
    }
}

/// Lookup tables whose answers become columns.
#[derive(Args, Debug, Default)]
struct EnrichArgs {
    /// Add columns from a lookup table (repeat for several; FILE may be an s3:// URL):
    /// aws-ip-ranges=FILE (AWS's ip-ranges.json: service, region and network border group
    /// of each address), interfaces=FILE|DIR (`aws ec2 describe-network-interfaces`
    /// output: what owns each address and interface), geoip=FILE.mmdb (a MaxMind DB:
    /// country, ASN and organisation of public addresses). `flowlake schema` lists the columns.
    #[arg(long = "enrich", value_name = "KIND=FILE")]
    enrich: Vec<String>,
}

impl EnrichArgs {
    fn specs(&self) -> Result<Vec<flowlake::enrich::EnrichSpec>> {
        self.enrich.iter().map(|s| s.parse()).collect()
    }
}

/// Reaching S3 (and S3-compatible stores). Credentials and region come from the standard
/// AWS chain: environment, ~/.aws/config and credentials, SSO, web identity, instance metadata.
#[derive(Args, Debug, Default)]
struct S3Args {
    /// An S3-compatible endpoint, e.g. http://127.0.0.1:9000 (path-style addressing). AWS_ENDPOINT_URL works too.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// A named profile from ~/.aws/config.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// The region of the buckets (default: from AWS_REGION or the profile).
    #[arg(long, value_name = "REGION")]
    s3_region: Option<String>,
    /// Server-side encryption of written objects: AES256 or aws:kms.
    #[arg(long, value_name = "MODE")]
    sse: Option<String>,
    /// KMS key for --sse aws:kms.
    #[arg(long, value_name = "KEY", requires = "sse")]
    sse_kms_key_id: Option<String>,
    /// Fail unless every bucket used belongs to this account.
    #[arg(long, value_name = "ACCOUNT")]
    expected_bucket_owner: Option<String>,
}

impl S3Args {
    fn options(&self) -> StorageOptions {
        StorageOptions {
            endpoint_url: self.endpoint_url.clone(),
            profile: self.profile.clone(),
            region: self.s3_region.clone(),
            sse: self.sse.clone(),
            sse_kms_key_id: self.sse_kms_key_id.clone(),
            expected_bucket_owner: self.expected_bucket_owner.clone(),
            ..StorageOptions::default()
        }
    }
}

#[derive(Args, Debug)]
struct DdlNames {
    /// Table location in the DDL (default: the table's own folder, as an s3:// or file:// URL).
    #[arg(long, value_name = "URL")]
    location: Option<String>,
    /// Database name in the DDL.
    #[arg(long, default_value = "default")]
    database: String,
    /// Table name in the DDL (default: flow_logs, or flow_logs_raw with --raw).
    #[arg(long)]
    table: Option<String>,
    /// The VPC's CIDR, used by the named queries ("sources outside the VPC").
    #[arg(long, default_value = "172.31.0.0/16", value_name = "CIDR")]
    vpc_cidr: String,
    /// The address in the "traffic of one address" query (default: the 5th address of --vpc-cidr).
    #[arg(long, value_name = "ADDR")]
    ip: Option<String>,
}

impl DdlNames {
    fn options(&self, default_location: &Location, default_table: &str) -> Result<DdlOptions> {
        let mut o = DdlOptions::for_table(default_location);
        if let Some(l) = &self.location {
            o.location = l.clone();
        }
        o.database = self.database.clone();
        o.table = self.table.clone().unwrap_or_else(|| default_table.to_string());
        o.vpc_cidr = self.vpc_cidr.clone();
        let (lo, _) = flowlake::ddl::parse_ipv4_cidr(&self.vpc_cidr)?;
        o.ip = self.ip.clone().unwrap_or_else(|| std::net::Ipv4Addr::from(lo + 5).to_string());
        o.validated()
    }
}

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Convert(a) => convert::convert(a),
        Command::Generate(a) => generate::generate_cmd(a),
        Command::Schema(a) => schema::schema(a),
        Command::Ddl(a) => ddl::ddl_cmd(a),
        Command::Compact(a) => compact::compact_cmd(a),
        Command::Verify(a) => verify::verify_cmd(a),
        Command::Demo(a) => demo::demo(a),
        #[cfg(feature = "query")]
        Command::Query(a) => query::query_cmd(a),
        #[cfg(feature = "query")]
        Command::Find(a) => query::find_cmd(a),
        #[cfg(feature = "query")]
        Command::Sources(a) => query::sources_cmd(a),
        #[cfg(feature = "query")]
        Command::PrivateCidrs(a) => query::private_cidrs_cmd(a),
        #[cfg(feature = "query")]
        Command::Top(a) => query::top_cmd(a),
    }
}

/// A count of at least 1 (`--row-group-size 0` is a usage error, not silently 1).
fn at_least_one() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::<usize>::new().range(1..)
}

/// A thread count: 0 (one per core) up to [`conversion::MAX_THREADS`].
pub(crate) fn thread_count() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::<usize>::new().range(0..=conversion::MAX_THREADS as u64)
}

/// [`parse_size`] of a flag that must not be zero.
fn nonzero_size(s: &str, flag: &str) -> Result<u64> {
    match parse_size(s)? {
        0 => Err(Error::Usage(format!("invalid {flag} `{s}`: must be more than 0 bytes"))),
        n => Ok(n),
    }
}

/// Parses sizes such as `256MiB`, `1GB`, `64m`, `1000`.
fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| Error::Usage(format!("invalid size `{s}`: expected e.g. 256MiB or 1GB")))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(Error::Usage(format!("invalid size `{s}`: unknown unit `{unit}`"))),
    };
    Ok((n * mult) as u64)
}

fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{b} B")
    }
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(v).expect("serializable");
    outln!("{text}")
}

/// A comma-separated list of catalog column names, or `none`.
fn column_list(s: &str, flag: &str) -> Result<Vec<String>> {
    if s.trim().eq_ignore_ascii_case("none") || s.trim().is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|c| {
            let c = c.trim();
            if CATALOG.iter().any(|f| f.column == c) {
                Ok(c.to_string())
            } else {
                Err(Error::Usage(format!(
                    "invalid {flag} column `{c}`: expected Parquet column names such as srcaddr,dstaddr (see `flowlake schema`), or none"
                )))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256MiB").unwrap(), 256 << 20);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("12XB").is_err());
    }
}
