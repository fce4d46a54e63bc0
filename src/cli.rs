//! The command line: flags (documented where they are defined), dispatch,
//! human and JSON output, the progress bar. The work is done by the library.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand};
use flowlake::convert::{self as conversion, ConvertOptions, Progress};
use flowlake::ddl::{self, DdlOptions, Dialect, QueryTarget};
use flowlake::format::Format;
use flowlake::generate::{self, GenerateOptions};
use flowlake::partition::parse_day;
use flowlake::report::{RunReport, RunStatus};
use flowlake::schema::{CATALOG, LogKind};
use flowlake::sink::{Compression, ParquetOptions};
use flowlake::source::InputFilter;
use flowlake::storage::{LocalStorage, Location, Storage, StorageOptions};
use flowlake::{Error, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub mod out;
#[cfg(feature = "query")]
mod query;

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
    Convert(ConvertArgs),
    /// Write realistic sample flow logs in the S3 delivery layout (AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/).
    Generate(GenerateArgs),
    /// Show the formats found in input files and the columns and types a conversion writes.
    Schema(SchemaArgs),
    /// Rewrite partitions made of many small files into target-sized files (same rows).
    Compact(CompactArgs),
    /// Check that a table holds exactly what its commits say (every file there, with its size
    /// and rows; nothing else), one line per problem, exit 1 if any; --repair mends them.
    Verify(VerifyArgs),
    /// Print the Athena, Glue or Spark DDL (and named queries) for a converted table, or for the raw text logs.
    Ddl(DdlArgs),
    /// Generate a sample, convert it, and show where the output is and what it holds.
    Demo(DemoArgs),
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
    /// Default: *.log.gz, *.log, *.gz, *.txt.
    #[arg(long = "glob", value_name = "PATTERN")]
    globs: Vec<String>,
    /// Format of headerless files: AWS's format string ('${version} ${account-id} …')
    /// or a space-separated list of field names. Files with a header line always use their header.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
}

impl InputArgs {
    fn locations(&self) -> Result<Vec<Location>> {
        self.inputs.iter().map(|s| Location::parse(s)).collect()
    }
    fn format(&self) -> Result<Option<Format>> {
        self.format.as_deref().map(Format::from_spec).transpose()
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
        let (lo, _) = ddl::parse_ipv4_cidr(&self.vpc_cidr)?;
        o.ip = self.ip.clone().unwrap_or_else(|| std::net::Ipv4Addr::from(lo + 5).to_string());
        o.validated()
    }
}

#[derive(Args, Debug)]
struct CompactArgs {
    /// The table `convert` wrote.
    #[arg(value_name = "TABLE")]
    table_root: String,
    /// Only partitions on or after this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Only partitions on or before this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// Compact a partition only when it has at least this many files.
    #[arg(long, default_value_t = 2, value_name = "N")]
    min_files: usize,
    /// Fold the table's commits into one checkpoint once this many are not covered by one
    /// (as `convert --checkpoint-every`); 0 never folds.
    #[arg(long, default_value_t = flowlake::table::log::checkpoint::DEFAULT_EVERY, value_name = "RUNS")]
    checkpoint_every: usize,
    /// Size of the new files.
    #[arg(long, default_value = "256MiB", value_name = "SIZE")]
    target_file_size: String,
    /// Parquet compression of the new files.
    #[arg(long, default_value_t = Compression::default().to_string(), value_name = "CODEC")]
    compression: String,
    /// Print what was done as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    s3: S3Args,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// The table `convert` wrote.
    #[arg(value_name = "TABLE")]
    table_root: String,
    /// Mend what is wrong: move committed files still staged into place, rebuild partitions
    /// with missing or changed files from their inputs (read again), remove stray files and
    /// the staging folders of killed runs.
    #[arg(long)]
    repair: bool,
    /// Print the findings as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    s3: S3Args,
}

#[derive(Args, Debug)]
struct DdlArgs {
    /// The Parquet table `convert` wrote (its output folder).
    #[arg(value_name = "TABLE", required_unless_present = "raw")]
    table_root: Option<String>,
    /// Describe the raw gzip text logs under this location (…/AWSLogs/) instead of a Parquet table.
    #[arg(long, value_name = "LOCATION", conflicts_with = "table_root")]
    raw: Option<String>,
    /// With --raw: a flow-log file whose header names the columns (default: the first file found).
    #[arg(long, value_name = "FILE", requires = "raw")]
    from_header: Option<String>,
    /// athena (CREATE EXTERNAL TABLE with partition projection), glue-json (TableInput for
    /// `aws glue create-table --cli-input-json`) or spark (Spark SQL / Databricks).
    #[arg(long, default_value = "athena")]
    dialect: String,
    /// Print ALTER TABLE … ADD PARTITION for every partition present, instead of CREATE TABLE.
    #[arg(long)]
    partitions: bool,
    /// Print the named queries (for the chosen dialect) instead of the DDL.
    #[arg(long)]
    queries: bool,
    /// Write every DDL file and named query into this folder instead of printing.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    #[command(flatten)]
    names: DdlNames,
    #[command(flatten)]
    s3: S3Args,
}

#[derive(Args, Debug)]
struct ConvertArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Output folder for the Parquet table; created if missing. Each run adds files with unique names.
    #[arg(long, short, value_name = "OUT")]
    out: String,
    /// Partition layout: date (date=YYYY-MM-DD), hour (date=…/hour=HH), aws (AWS's Hive-compatible
    /// aws-account-id=…/aws-service=…/aws-region=…/year=…/month=…/day=…) or aws-hour (… /hour=HH).
    #[arg(long, default_value = "date", value_name = "LAYOUT")]
    partition: String,
    /// Parquet compression: zstd[:LEVEL], snappy, gzip[:LEVEL] or none.
    #[arg(long, default_value_t = Compression::default().to_string(), value_name = "CODEC")]
    compression: String,
    /// Start a new file in a partition once the current one reaches this size (e.g. 256MiB, 1GB).
    #[arg(long, default_value = "256MiB", value_name = "SIZE")]
    target_file_size: String,
    /// Rows per Parquet row group.
    #[arg(long, default_value_t = 256 * 1024, value_name = "ROWS", value_parser = at_least_one())]
    row_group_size: usize,
    /// Most rows per Parquet data page: smaller pages let readers that use the page index
    /// (DataFusion, Spark, Trino/Athena) skip more of a lookup on the sorted column. The
    /// Parquet writer checks it between the runs of rows it encodes (1,024 rows, or this many
    /// for a column without nulls), so a page that a write starts part-filled can exceed it.
    #[arg(long, default_value_t = 8192, value_name = "ROWS", value_parser = at_least_one())]
    page_rows: usize,
    /// Most memory the row groups being built may hold, per worker thread (each encodes its
    /// own); beyond it the least recently used row groups are written early (smaller row
    /// groups, flat memory).
    #[arg(long, default_value = "16MiB", value_name = "SIZE")]
    write_buffer: String,
    /// Columns that get a Parquet bloom filter (comma-separated), so engines skip row groups
    /// without a looked-up value; `none` for no filters.
    #[arg(long, default_value = "srcaddr,dstaddr", value_name = "COLS")]
    bloom_filter: String,
    /// Sort each written batch of rows by these columns (comma-separated), narrowing Parquet
    /// page statistics for lookups on them (and compressing better); `none` keeps delivery order.
    #[arg(long, default_value = "srcaddr", value_name = "COLS")]
    sort: String,
    /// Split each partition's rows into N ranges of the first --sort column, one range per
    /// row group, so engines that read only row-group statistics (DuckDB, Athena) skip most
    /// row groups of a lookup on it; 1 (default) turns it off. Costs about 10% more conversion
    /// CPU; give it a larger --write-buffer (e.g. 4 ranges with 32MiB).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = RangedU64ValueParser::<usize>::new().range(1..=256))]
    clusters: usize,
    /// Columns written without Parquet dictionary encoding (comma-separated): those where
    /// nearly every value differs; `none` to give every column a dictionary.
    #[arg(long, default_value = "packets,bytes", value_name = "COLS")]
    no_dictionary: String,
    /// Fail the run, writing no rows, if more than N records are rejected.
    #[arg(long, value_name = "N")]
    max_rejects: Option<u64>,
    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', default_value_t = 0, value_name = "N", value_parser = thread_count())]
    threads: usize,
    /// Print the run report as JSON on stdout (the human summary on stderr is then left out).
    #[arg(long)]
    json: bool,
    /// No progress bar and no summary on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Only inputs delivered on or after this day (YYYY-MM-DD, from the key's YYYY/MM/DD); only those folders are listed.
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Only inputs delivered on or before this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// Only inputs of this account (AWSLogs/<account>/…); repeatable.
    #[arg(long, value_name = "ID")]
    account: Vec<String>,
    /// Only inputs of this region (…/vpcflowlogs/<region>/…); repeatable.
    #[arg(long, value_name = "REGION")]
    region: Vec<String>,
    /// S3 objects fetched at once.
    #[arg(long, default_value_t = 16, value_name = "N", value_parser = RangedU64ValueParser::<usize>::new().range(1..=256))]
    s3_concurrency: usize,
    /// Start over: convert every input again and replace the files of all earlier runs
    /// (deleted once the new files are in place). Without it, inputs already converted are skipped.
    /// Not with --shard: a refresh of the whole table is one run.
    #[arg(long, conflicts_with = "shard")]
    full_refresh: bool,
    /// Fold the table's run manifests (one small JSON per run under OUT/_flowlake/manifest/)
    /// into one checkpoint once this many are not covered by one, so that opening a table
    /// with years of runs reads one file; 0 never folds.
    #[arg(long, default_value_t = flowlake::table::log::checkpoint::DEFAULT_EVERY, value_name = "RUNS")]
    checkpoint_every: usize,
    /// Convert only shard INDEX of COUNT (INDEX from 0): N workers split one job with no
    /// coordination; each input goes to exactly one shard, a day's files to the same one.
    #[arg(long, value_name = "INDEX/COUNT")]
    shard: Option<String>,
    /// Names in the DDL written to OUT/_flowlake/ddl/ after the run.
    #[command(flatten)]
    names: DdlNames,
    #[command(flatten)]
    s3: S3Args,
}

#[derive(Args, Debug)]
struct GenerateArgs {
    /// Output folder.
    #[arg(value_name = "OUT")]
    out: PathBuf,
    /// Number of records.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Number of days.
    #[arg(long, default_value_t = 3)]
    days: u32,
    /// Record format: default, v3, v4, v5, all (every field of versions 2–8),
    /// or a format string ('${version} ${srcaddr} …').
    #[arg(long, default_value = "default")]
    format: String,
    /// Random seed; the same seed writes the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First day (YYYY-MM-DD).
    #[arg(long, default_value = "2023-08-01")]
    start_date: String,
    /// Files per day (AWS delivers one at least every 5 minutes per flow log).
    #[arg(long, default_value_t = 96)]
    files_per_day: u32,
    /// Print what was generated as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct SchemaArgs {
    /// Input files or folders; without any, `--fields` is implied.
    #[arg(value_name = "INPUT")]
    inputs: Vec<String>,
    /// File-name pattern to select when walking folders (as for `convert`).
    #[arg(long = "glob", value_name = "PATTERN")]
    globs: Vec<String>,
    /// Format of headerless files (as for `convert`).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    #[command(flatten)]
    s3: S3Args,
    /// List every field flowlake knows (no input needed).
    #[arg(long)]
    fields: bool,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// Folder for the sample (DIR/sample) and the table (DIR/lake).
    #[arg(long, default_value = "demo")]
    dir: PathBuf,
    /// Records to generate.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
}

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Convert(a) => convert(a),
        Command::Generate(a) => generate_cmd(a),
        Command::Schema(a) => schema(a),
        Command::Ddl(a) => ddl_cmd(a),
        Command::Compact(a) => compact_cmd(a),
        Command::Verify(a) => verify_cmd(a),
        Command::Demo(a) => demo(a),
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

struct Bar {
    pb: ProgressBar,
    files: AtomicU64,
    files_done: AtomicU64,
    rows: AtomicU64,
}

impl Bar {
    fn new(enabled: bool) -> Bar {
        let target = if enabled && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let pb = ProgressBar::with_draw_target(Some(0), target);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        Bar { pb, files: AtomicU64::new(0), files_done: AtomicU64::new(0), rows: AtomicU64::new(0) }
    }
}

impl Progress for Bar {
    fn start(&self, files: u64, bytes: u64) {
        self.files.store(files, Ordering::Relaxed);
        self.pb.set_length(bytes);
        self.pb.enable_steady_tick(Duration::from_millis(200));
    }
    fn file_done(&self, bytes: u64, rows: u64) {
        let done = self.files_done.fetch_add(1, Ordering::Relaxed) + 1;
        let rows = self.rows.fetch_add(rows, Ordering::Relaxed) + rows;
        self.pb.inc(bytes);
        self.pb.set_message(format!("{done}/{} files, {rows} rows", self.files.load(Ordering::Relaxed)));
    }
    fn finishing(&self) {
        self.pb.finish_and_clear();
    }
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

fn summary(r: &RunReport) -> String {
    let mut s = String::new();
    let verb = match r.status {
        RunStatus::Failed => "FAILED after reading",
        RunStatus::Conflict => "wrote nothing (another run committed first) after reading",
        _ => "converted",
    };
    s += &format!(
        "flowlake: {verb} {} files ({}): {} records in, {} written, {} rejected; {} Parquet files ({}) in {} partitions, {:.1} s\n",
        r.files_in,
        human_bytes(r.bytes_in),
        r.rows_in,
        r.rows_written,
        r.rows_rejected,
        r.files_written,
        human_bytes(r.bytes_written),
        r.partitions.len(),
        r.elapsed_seconds
    );
    if r.files_skipped > 0 {
        s += &format!("  skipped {} input files already in the table's manifest (unchanged)\n", r.files_skipped);
    }
    if r.rows_unchanged > 0 {
        s += &format!(
            "  inputs changed: their partitions were rebuilt; {} records of re-read inputs belong to other partitions and stayed in place\n",
            r.rows_unchanged
        );
    }
    if let Some(e) = &r.error {
        s += &format!("  error: {e}\n");
    }
    for w in &r.warnings {
        s += &format!("  warning: {w}\n");
    }
    for e in &r.after_commit_errors {
        s += &format!("  error after the commit (the rows are in the table): {e}\n");
    }
    for n in &r.notes {
        s += &format!("  note: {n}\n");
    }
    for u in &r.files_unusable {
        s += &format!("  every line of {} was rejected: {}\n", u.file, u.reason);
    }
    for d in &r.files_damaged {
        s += &format!(
            "  damaged input: {}: {} ({} records before the damage were kept)\n",
            d.file, d.error, d.rows_before_damage
        );
    }
    if !r.unknown_fields.is_empty() {
        s += &format!("  fields this version does not know, kept as string columns: {}\n", r.unknown_fields.join(", "));
    }
    if let Some(p) = &r.rejects_path {
        let kinds: Vec<String> = r.rejects_by_reason.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        s += &format!("  rejected lines ({}): {p}\n", kinds.join(", "));
    }
    for (field, values) in &r.unknown_values {
        let v: Vec<String> = values.iter().map(|(v, n)| format!("`{v}` ({n} records)")).collect();
        s += &format!(
            "  values of `{field}` that AWS did not document when this flowlake was built (rejected): {}\n",
            v.join(", ")
        );
    }
    s += &format!("  output: {}\n  report: {}\n", r.output, r.report_path);
    if let Some(d) = &r.ddl_path {
        s += &format!("  DDL and named queries: {d}\n");
    }
    s
}

fn exit_code(r: &RunReport) -> u8 {
    match r.status {
        RunStatus::Conflict => 3,
        RunStatus::Ok if r.after_commit_errors.is_empty() => 0,
        RunStatus::Ok | RunStatus::CompletedWithErrors | RunStatus::Failed => 1,
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

fn convert_options(a: &ConvertArgs) -> Result<ConvertOptions> {
    let parquet = ParquetOptions {
        compression: a.compression.parse::<Compression>()?,
        row_group_size: a.row_group_size,
        page_rows: a.page_rows,
        target_file_size: nonzero_size(&a.target_file_size, "--target-file-size")?,
        bloom_filter: column_list(&a.bloom_filter, "--bloom-filter")?,
        sort: column_list(&a.sort, "--sort")?,
        clusters: a.clusters,
        no_dictionary: column_list(&a.no_dictionary, "--no-dictionary")?,
        memory_budget: nonzero_size(&a.write_buffer, "--write-buffer")? as usize,
        ..ParquetOptions::default()
    };
    let out = Location::parse(&a.out)?;
    let names = a.names.options(&out, "flow_logs")?;
    let day = |s: &Option<String>, flag: &str| -> Result<Option<i64>> {
        s.as_deref()
            .map(|d| parse_day(d).ok_or_else(|| Error::Usage(format!("invalid {flag} `{d}`: expected YYYY-MM-DD"))))
            .transpose()
    };
    let filter = InputFilter {
        from: day(&a.from, "--from")?,
        to: day(&a.to, "--to")?,
        accounts: a.account.clone(),
        regions: a.region.clone(),
    };
    if let (Some(f), Some(t)) = (filter.from, filter.to)
        && f > t
    {
        return Err(Error::Usage("--from is after --to".into()));
    }
    Ok(ConvertOptions::new(a.input.locations()?, out)
        .with_ddl(Some(names))
        .with_storage(a.s3.options())
        .with_filter(filter)
        .with_s3_concurrency(a.s3_concurrency)
        .with_shard(a.shard.as_deref().map(str::parse).transpose()?)
        .with_full_refresh(a.full_refresh)
        .with_checkpoint_every(a.checkpoint_every)
        .with_format(a.input.format()?)
        .with_globs(a.input.globs.clone())
        .with_threads(a.threads)
        .with_layout(a.partition.parse()?)
        .with_parquet(parquet)
        .with_max_rejects(a.max_rejects))
}

fn convert(a: ConvertArgs) -> Result<u8> {
    let opts = convert_options(&a)?;
    let bar = Bar::new(!a.quiet);
    let report = conversion::convert(&opts, &bar)?;
    if a.json {
        print_json(&report)?;
    } else if !a.quiet {
        out::err(format_args!("{}", summary(&report)));
    }
    Ok(exit_code(&report))
}

fn ddl_cmd(a: DdlArgs) -> Result<u8> {
    let dialect: Dialect = a.dialect.parse()?;
    let mut files: Vec<(String, String)> = Vec::new();
    if let Some(raw) = &a.raw {
        let root = Location::parse(raw)?;
        let s3 = a.s3.options();
        let storage = flowlake::storage::storage_for(&root, &s3)?;
        let header = a.from_header.as_deref().map(Location::parse).transpose()?;
        let spec = flowlake::table::read_raw_spec(storage.as_ref(), &root, header.as_ref(), &s3)?;
        let o = a.names.options(&root, "flow_logs_raw")?;
        let (from, to) = (
            spec.first_day.replace('/', "-"),
            spec.days.iter().map(|d| d.2.replace('/', "-")).max().unwrap_or_default(),
        );
        files.push(("athena-raw.sql".into(), ddl::raw_athena_create(&spec, &o)));
        files.push(("athena-raw-partitions.sql".into(), ddl::raw_add_partitions(&spec, &o)));
        files.push(("spark-raw.sql".into(), ddl::raw_spark_create(&spec, &o)));
        for nq in ddl::named_queries(QueryTarget::AthenaRaw, &o, &from, &to)? {
            files.push((format!("queries/athena-raw/{}", nq.name), nq.sql));
        }
        let pick = match (dialect, a.partitions, a.queries) {
            (_, _, true) => None,
            (Dialect::Athena, false, _) => Some("athena-raw.sql"),
            (Dialect::Athena | Dialect::Spark, true, _) => Some("athena-raw-partitions.sql"),
            (Dialect::Spark, false, _) => Some("spark-raw.sql"),
            (Dialect::GlueJson, ..) => {
                return Err(Error::Usage(
                    "--dialect glue-json is for Parquet tables; use athena or spark with --raw".into(),
                ));
            }
        };
        return emit(&files, pick, "queries/athena-raw/", a.out_dir.as_deref());
    }
    let root = Location::parse(a.table_root.as_deref().expect("clap requires TABLE or --raw"))?;
    let storage = flowlake::storage::storage_for(&root, &a.s3.options())?;
    let o = a.names.options(&root, "flow_logs")?;
    let info = flowlake::table::read_table_info(storage.as_ref(), &root)?;
    files = ddl::ddl_files(&info, &o)?;
    let (pick, queries) = match (dialect, a.partitions, a.queries) {
        (Dialect::Spark, _, true) => (None, "queries/spark/"),
        (_, _, true) => (None, "queries/athena/"),
        (Dialect::Athena, false, _) => (Some("athena.sql"), ""),
        (Dialect::Athena, true, _) => (Some("athena-partitions.sql"), ""),
        (Dialect::GlueJson, _, _) => (Some("glue-table.json"), ""),
        (Dialect::Spark, _, _) => (Some("spark.sql"), ""),
    };
    emit(&files, pick, queries, a.out_dir.as_deref())
}

/// Prints one DDL file (or every query under a prefix), or writes them all into a folder.
fn emit(
    files: &[(String, String)],
    pick: Option<&str>,
    queries: &str,
    out_dir: Option<&std::path::Path>,
) -> Result<u8> {
    if let Some(dir) = out_dir {
        for (rel, text) in files {
            LocalStorage.put(&Location::Local(dir.join(rel)), text.as_bytes())?;
        }
        errln!("flowlake: wrote {} files to {}", files.len(), dir.display());
        return Ok(0);
    }
    let mut out = std::io::BufWriter::new(out::Stdout);
    for (rel, text) in files {
        let chosen = match pick {
            Some(p) => rel == p,
            None => rel.starts_with(queries),
        };
        if chosen {
            if pick.is_none() {
                writeln!(out, "-- {}", rel.trim_start_matches(queries)).map_err(stdout_error)?;
            }
            out.write_all(text.as_bytes()).map_err(stdout_error)?;
            if pick.is_none() {
                writeln!(out).map_err(stdout_error)?;
            }
        }
    }
    out.flush().map_err(stdout_error)?;
    Ok(0)
}

fn compact_cmd(a: CompactArgs) -> Result<u8> {
    let day = |s: &Option<String>, flag: &str| -> Result<Option<i64>> {
        s.as_deref()
            .map(|d| parse_day(d).ok_or_else(|| Error::Usage(format!("invalid {flag} `{d}`: expected YYYY-MM-DD"))))
            .transpose()
    };
    let opts = flowlake::compact::CompactOptions {
        output: Location::parse(&a.table_root)?,
        storage: a.s3.options(),
        parquet: ParquetOptions {
            compression: a.compression.parse::<Compression>()?,
            target_file_size: nonzero_size(&a.target_file_size, "--target-file-size")?,
            ..ParquetOptions::default()
        },
        from: day(&a.from, "--from")?,
        to: day(&a.to, "--to")?,
        min_files: a.min_files,
        checkpoint_every: a.checkpoint_every,
    };
    let r = flowlake::compact::compact(&opts)?;
    if a.json {
        print_json(&r)?;
    } else {
        errln!(
            "flowlake: compacted {} partitions: {} files into {}, {} rows",
            r.partitions,
            r.files_before,
            r.files_after,
            r.rows
        );
        for e in &r.after_commit_errors {
            errln!("  error after the commit: {e}");
        }
        if r.files_not_in_log > 0 {
            errln!(
                "  {} Parquet files no commit names were left alone (flowlake verify lists them)",
                r.files_not_in_log
            );
        }
        for w in &r.warnings {
            errln!("  warning: {w}");
        }
    }
    // As for convert: a step after the commit that failed is exit 1 (the rows are committed).
    Ok(u8::from(!r.after_commit_errors.is_empty()))
}

fn verify_cmd(a: VerifyArgs) -> Result<u8> {
    let opts = flowlake::verify::VerifyOptions {
        root: Location::parse(&a.table_root)?,
        storage: a.s3.options(),
        repair: a.repair,
    };
    let r = flowlake::verify::verify(&opts)?;
    if a.json {
        print_json(&r)?;
    } else {
        for p in &r.problems {
            outln!("{p}")?;
        }
        for n in &r.notes {
            errln!("flowlake: note: {n}");
        }
        let rows = if r.rows_expected > 0 { format!(" ({} rows)", r.rows_expected) } else { String::new() };
        errln!(
            "flowlake: {} files expected{rows}; {} problems{}",
            r.files_expected,
            r.problems.len(),
            if a.repair { format!(", {} mended", r.repaired) } else { String::new() }
        );
        if let Some(run) = &r.repair_run {
            errln!(
                "flowlake: the repair run {} rebuilt {} partitions: {} rows",
                run.run_id,
                run.partitions.len(),
                run.rows_written
            );
        }
    }
    let unmended = r.problems.len() as u64 - r.repaired;
    Ok(if unmended == 0 && (a.repair || r.problems.is_empty()) { 0 } else { 1 })
}

fn generate_cmd(a: GenerateArgs) -> Result<u8> {
    let mut o = GenerateOptions::new(&a.out, a.records, a.days);
    o.format = generate::format_preset(&a.format)?;
    o.seed = a.seed;
    o.start_date = a.start_date;
    o.files_per_day = a.files_per_day;
    let s = generate::generate(&o)?;
    if a.json {
        print_json(&s)?;
    } else {
        errln!(
            "flowlake: wrote {} records in {} files ({}) under {}, days {}",
            s.records,
            s.files,
            human_bytes(s.bytes),
            s.out,
            s.days.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(0)
}

fn schema(a: SchemaArgs) -> Result<u8> {
    if a.fields || a.inputs.is_empty() {
        if a.json {
            let rows: Vec<serde_json::Value> = CATALOG
                .iter()
                .map(|f| {
                    serde_json::json!({"field": f.name, "column": f.column, "parquet_type": f.ty.parquet(),
                        "sql_type": f.ty.sql(), "version": f.version, "kind": f.kind})
                })
                .collect();
            print_json(&rows)?;
        } else {
            outln!("{:<28} {:<28} {:<8} {:<7} {:>3}  kind", "field", "column", "parquet", "sql", "ver")?;
            for f in CATALOG {
                let kind = if f.kind == LogKind::Vpc { "vpc" } else { "transit-gateway" };
                outln!(
                    "{:<28} {:<28} {:<8} {:<7} {:>3}  {kind}",
                    f.name,
                    f.column,
                    f.ty.parquet(),
                    f.ty.sql(),
                    f.version
                )?;
            }
        }
        return Ok(0);
    }
    let input = InputArgs { inputs: a.inputs, globs: a.globs, format: a.format };
    let r = conversion::inspect(&input.locations()?, &input.globs, input.format()?.as_ref(), &a.s3.options())?;
    if a.json {
        print_json(&r)?;
        return Ok(0);
    }
    outln!("{} input files, {} formats:", r.files, r.formats.len())?;
    for f in &r.formats {
        outln!("  v{} ({} files): {}", f.version, f.files, f.fields)?;
    }
    if r.files_empty > 0 {
        outln!("  {} empty files", r.files_empty)?;
    }
    for (f, why) in &r.files_unusable {
        outln!("  unusable: {f}: {why}")?;
    }
    for (f, why) in &r.files_damaged {
        outln!("  unreadable: {f}: {why}")?;
    }
    if !r.unknown_fields.is_empty() {
        outln!("  fields this version does not know (kept as string columns): {}", r.unknown_fields.join(", "))?;
    }
    outln!("\ntable columns (partition column `date` lives in the path):")?;
    outln!("  {:<28} {:<8} {:<7} {:>3}", "column", "parquet", "sql", "ver")?;
    for c in &r.columns {
        outln!("  {:<28} {:<8} {:<7} {:>3}", c.column, c.parquet_type, c.sql_type, c.version)?;
    }
    Ok(0)
}

fn demo(a: DemoArgs) -> Result<u8> {
    let sample = a.dir.join("sample");
    let lake = a.dir.join("lake");
    // Only what an earlier demo made is deleted: a folder without its mark is someone's data.
    const MARK: &str = ".flowlake-demo";
    for p in [&sample, &lake] {
        if p.exists() && !p.join(MARK).exists() {
            return Err(Error::Usage(format!(
                "{} exists and was not made by `flowlake demo`: give another --dir (nothing was deleted)",
                p.display()
            )));
        }
    }
    for p in [&sample, &lake] {
        let at = Location::Local(p.clone());
        LocalStorage.remove_folder(&at)?;
        LocalStorage.put(&at.join(MARK), b"made by `flowlake demo`, which replaces this folder when run again\n")?;
    }
    errln!("flowlake demo: generating {} records over 3 days into {} …", a.records, sample.display());
    let mut o = GenerateOptions::new(&sample, a.records, 3);
    o.format = generate::format_preset("v5")?;
    let g = generate::generate(&o)?;
    errln!("  {} gzip files, {}", g.files, human_bytes(g.bytes));
    errln!("flowlake demo: converting into {} …", lake.display());
    let opts = ConvertOptions::new(vec![Location::Local(sample.clone())], Location::Local(lake.clone()));
    let bar = Bar::new(true);
    let r = conversion::convert(&opts, &bar)?;
    out::err(format_args!("{}", summary(&r)));
    outln!("\nThe Parquet table is in {}:", lake.display())?;
    for (p, s) in &r.partitions {
        outln!("  {p}/  {} rows in {} file(s), {}", s.rows, s.files, human_bytes(s.bytes))?;
    }
    outln!("\ncolumns: {}", r.columns.join(", "))?;
    outln!(
        "\nrows in = written + rejected: {} = {} + {}  (gzip text {} -> Parquet {})",
        r.rows_in,
        r.rows_written,
        r.rows_rejected,
        human_bytes(r.bytes_in),
        human_bytes(r.bytes_written)
    )?;
    outln!(
        "Next (the binary is target/release/flowlake): flowlake schema {}  |  flowlake ddl {}  |  flowlake ddl {} --queries",
        sample.display(),
        lake.display(),
        lake.display()
    )?;
    #[cfg(feature = "query")]
    outln!(
        "Ask it: flowlake top {0}  |  flowlake private-cidrs {0}  |  flowlake sources {0} --outside 10.192.0.0/16  |  \
         flowlake find {0} --ip 10.192.0.4 --limit 20",
        lake.display()
    )?;
    Ok(exit_code(&r))
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
