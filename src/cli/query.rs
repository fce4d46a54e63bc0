//! `query`, `find`, `sources`, `private-cidrs`, `top`: questions over a converted output.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use flowlake::ip::{self, Cidr, PrivateRanges};
use flowlake::partition::parse_day;
use flowlake::query::output::{self, OutputFormat};
use flowlake::query::{
    Direction, Filter, FindQuery, Lake, Metric, PrivateCidrsQuery, QueryOptions, Question, ResultSink, SourcesQuery,
    TopGroup, TopQuery, WhoKey, ip_target,
};
use flowlake::storage::{LocalStorage, Location, ObjectWriter, Storage};
use flowlake::{Error, Result};

use super::S3Args;
use super::out::errln;

/// Where the answer comes from and where it goes.
#[derive(Args, Debug)]
pub(super) struct LakeArgs {
    /// The converted output: a folder or s3://bucket/prefix (what `convert --out` wrote).
    #[arg(value_name = "LAKE")]
    lake: String,
    /// Output format: an aligned table, CSV with a header, JSON (one object per line) or Parquet.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Write the answer to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Threads for scanning and aggregating (default: one per core).
    #[arg(long, short = 'j', value_parser = super::thread_count())]
    threads: Option<usize>,
    /// Print the SQL a question runs (on standard error) before running it.
    #[arg(long)]
    show_sql: bool,
    /// No row count and time on standard error.
    #[arg(long, short = 'q')]
    quiet: bool,
    // Lookup tables joined at query time, for a table converted without them: the
    // enrichment columns they add that the table lacks are computed as rows are read.
    #[command(flatten)]
    enrich: super::EnrichArgs,
    #[command(flatten)]
    s3: S3Args,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
    Parquet,
}

/// Filters shared by the questions.
#[derive(Args, Debug)]
pub(super) struct FilterArgs {
    /// First day (YYYY-MM-DD, UTC day of `start`); only partitions from this day on are read.
    #[arg(long, value_name = "DAY")]
    from: Option<String>,
    /// Last day (YYYY-MM-DD), inclusive.
    #[arg(long, value_name = "DAY")]
    to: Option<String>,
    /// Only flows with this action.
    #[arg(long, value_enum)]
    action: Option<Action>,
    /// Only flows with this port on either side.
    #[arg(long)]
    port: Option<u16>,
    /// Only flows of this IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    #[arg(long)]
    protocol: Option<u8>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Action {
    #[value(name = "ACCEPT", alias = "accept")]
    Accept,
    #[value(name = "REJECT", alias = "reject")]
    Reject,
}

impl FilterArgs {
    fn filter(&self) -> Result<Filter> {
        let day = |d: &Option<String>, flag: &str| {
            d.as_deref()
                .map(|d| parse_day(d).ok_or_else(|| Error::Usage(format!("invalid {flag} `{d}`: expected YYYY-MM-DD"))))
                .transpose()
        };
        let (from, to) = (day(&self.from, "--from")?, day(&self.to, "--to")?);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(Error::Usage("--from is after --to".into()));
        }
        Ok(Filter {
            from,
            to,
            action: self.action.map(|a| match a {
                Action::Accept => "ACCEPT".to_string(),
                Action::Reject => "REJECT".to_string(),
            }),
            port: self.port,
            protocol: self.protocol,
        })
    }
}

/// Run any SQL over the table `flows`.
#[derive(Args, Debug)]
pub(super) struct QueryArgs {
    #[command(flatten)]
    lake: LakeArgs,
    /// The SQL. The table is `flows`; its partition columns (`date`, …) prune folders in WHERE.
    /// Address functions: cidr_contains(cidr, addr), is_private(addr), cidr_of(addr, prefix[, prefix6]).
    #[arg(value_name = "SQL")]
    sql: String,
}

/// Flow records to or from an address or block.
#[derive(Args, Debug)]
pub(super) struct FindArgs {
    #[command(flatten)]
    lake: LakeArgs,
    /// An address (IPv4 or IPv6).
    #[arg(long, value_name = "ADDR", required_unless_present = "cidr", conflicts_with = "cidr")]
    ip: Option<String>,
    /// A block, e.g. 10.192.0.0/16 or fd00::/8.
    #[arg(long, value_name = "CIDR")]
    cidr: Option<String>,
    /// Which address must match (default: either).
    #[arg(long, value_enum, default_value = "any")]
    direction: DirectionArg,
    #[command(flatten)]
    filter: FilterArgs,
    /// Columns to print, comma-separated, or `*` for all (default: start, end, interface_id,
    /// srcaddr, srcport, dstaddr, dstport, protocol, packets, bytes, action, log_status).
    #[arg(long, value_delimiter = ',', value_name = "COLS")]
    columns: Vec<String>,
    /// At most this many records.
    #[arg(long)]
    limit: Option<u64>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DirectionArg {
    Any,
    Src,
    Dst,
}

/// Distinct source addresses (outside some blocks), with flows, packets and bytes.
#[derive(Args, Debug)]
pub(super) struct SourcesArgs {
    #[command(flatten)]
    lake: LakeArgs,
    /// Leave out sources inside this block (repeat for several, e.g. every CIDR of the VPC).
    #[arg(long, value_name = "CIDR")]
    outside: Vec<String>,
    #[command(flatten)]
    filter: FilterArgs,
    /// At most this many addresses (largest by bytes first).
    #[arg(long)]
    limit: Option<u64>,
    /// Group the sources by who is behind them (the table's enrichment columns, from
    /// `convert --enrich`): the AWS service, the interface's owner, the country or the ASN.
    #[arg(long, value_enum, value_name = "KEY")]
    group_by: Option<Who>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Who {
    Service,
    Owner,
    Country,
    Asn,
}

impl Who {
    fn key(self) -> WhoKey {
        match self {
            Who::Service => WhoKey::Service,
            Who::Owner => WhoKey::Owner,
            Who::Country => WhoKey::Country,
            Who::Asn => WhoKey::Asn,
        }
    }
}

/// Private address ranges seen (as source or destination), grouped into blocks, with counts.
#[derive(Args, Debug)]
pub(super) struct PrivateCidrsArgs {
    #[command(flatten)]
    lake: LakeArgs,
    /// Block size for IPv4 addresses.
    #[arg(long, default_value_t = 16, value_name = "BITS")]
    prefix: u8,
    /// Block size for IPv6 addresses (48: an RFC 4193 site).
    #[arg(long, default_value_t = 48, value_name = "BITS")]
    prefix6: u8,
    /// Which ranges count as private, comma-separated: rfc1918, rfc4193, rfc6598 (100.64.0.0/10),
    /// link-local (169.254.0.0/16, fe80::/10).
    #[arg(long, value_delimiter = ',', default_value = "rfc1918,rfc4193", value_name = "LIST")]
    ranges: Vec<String>,
    #[command(flatten)]
    filter: FilterArgs,
}

/// The biggest talkers, pairs or ports.
#[derive(Args, Debug)]
pub(super) struct TopArgs {
    #[command(flatten)]
    lake: LakeArgs,
    /// Rank by.
    #[arg(long, value_enum, default_value = "bytes")]
    by: By,
    /// Group by: source, destination, the pair, or destination port and protocol.
    #[arg(long, value_enum, default_value = "srcaddr")]
    group: Group,
    /// Rows to show.
    #[arg(long, default_value_t = 20)]
    limit: u64,
    /// Group the addresses --group names by who is behind them (the table's enrichment
    /// columns, from `convert --enrich`): the AWS service, the owner, the country or the ASN.
    #[arg(long, value_enum, value_name = "KEY")]
    group_by: Option<Who>,
    #[command(flatten)]
    filter: FilterArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum By {
    Bytes,
    Packets,
    Flows,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Group {
    Srcaddr,
    Dstaddr,
    Pair,
    Port,
}

fn usage(e: ip::InvalidCidr) -> Error {
    Error::Usage(e.0)
}

pub(super) fn query_cmd(a: QueryArgs) -> Result<u8> {
    run(&a.lake, None, &a.sql)
}

pub(super) fn find_cmd(a: FindArgs) -> Result<u8> {
    let target: Cidr = match (&a.ip, &a.cidr) {
        (Some(i), _) => ip_target(ip::parse_ip(i).map_err(usage)?),
        (None, Some(c)) => c.parse().map_err(usage)?,
        (None, None) => return Err(Error::Usage("find needs --ip ADDR or --cidr CIDR".into())),
    };
    let q = Question::Find(FindQuery {
        target,
        direction: match a.direction {
            DirectionArg::Any => Direction::Any,
            DirectionArg::Src => Direction::Src,
            DirectionArg::Dst => Direction::Dst,
        },
        filter: a.filter.filter()?,
        columns: a.columns.iter().map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect(),
        limit: a.limit,
    });
    ask(&a.lake, q)
}

pub(super) fn sources_cmd(a: SourcesArgs) -> Result<u8> {
    let outside = a.outside.iter().map(|c| c.parse::<Cidr>().map_err(usage)).collect::<Result<Vec<_>>>()?;
    let group_by = a.group_by.map(Who::key);
    ask(&a.lake, Question::Sources(SourcesQuery { outside, filter: a.filter.filter()?, limit: a.limit, group_by }))
}

pub(super) fn private_cidrs_cmd(a: PrivateCidrsArgs) -> Result<u8> {
    let ranges =
        a.ranges.iter().map(|r| r.trim().parse::<PrivateRanges>().map_err(usage)).collect::<Result<Vec<_>>>()?;
    ask(
        &a.lake,
        Question::PrivateCidrs(PrivateCidrsQuery {
            prefix_v4: a.prefix,
            prefix_v6: a.prefix6,
            ranges,
            filter: a.filter.filter()?,
        }),
    )
}

pub(super) fn top_cmd(a: TopArgs) -> Result<u8> {
    ask(
        &a.lake,
        Question::Top(TopQuery {
            by: match a.by {
                By::Bytes => Metric::Bytes,
                By::Packets => Metric::Packets,
                By::Flows => Metric::Flows,
            },
            group: match a.group {
                Group::Srcaddr => TopGroup::Srcaddr,
                Group::Dstaddr => TopGroup::Dstaddr,
                Group::Pair => TopGroup::Pair,
                Group::Port => TopGroup::Port,
            },
            limit: a.limit,
            filter: a.filter.filter()?,
            group_by: a.group_by.map(Who::key),
        }),
    )
}

fn ask(l: &LakeArgs, q: Question) -> Result<u8> {
    run(l, Some(q), "")
}

fn run(l: &LakeArgs, q: Option<Question>, sql: &str) -> Result<u8> {
    let format = match l.format {
        Format::Table => OutputFormat::Table,
        Format::Csv => OutputFormat::Csv,
        Format::Json => OutputFormat::Json,
        Format::Parquet => OutputFormat::Parquet,
    };
    if format == OutputFormat::Parquet && l.output.is_none() && std::io::stdout().is_terminal() {
        return Err(Error::Usage(
            "--format parquet writes binary: give --output FILE or redirect standard output".into(),
        ));
    }
    let started = std::time::Instant::now();
    let root = Location::parse(&l.lake)?;
    let specs = l.enrich.specs()?;
    let storage = l.s3.options();
    let enrich = if specs.is_empty() {
        None
    } else {
        Some(std::sync::Arc::new(flowlake::enrich::Tables::load(&specs, &storage)?))
    };
    let opts = QueryOptions { threads: l.threads.unwrap_or(0), storage, enrich };
    let lake = Lake::open(&root, &opts)?;
    let sql = match &q {
        Some(q) => lake.sql_for(q)?,
        None => sql.to_string(),
    };
    if let Some(q) = &q {
        lake.set_filter_pushdown(q.selective())?;
    }
    if l.show_sql {
        errln!("{sql}");
    }
    let mut file_out: Option<OutputFile> = None;
    let mut sink: Box<dyn ResultSink> = match &l.output {
        Some(path) if path.as_os_str().is_empty() => {
            return Err(Error::Usage("--output needs a file name (it was empty)".into()));
        }
        Some(path) => {
            let file = OutputFile::create(path)?;
            file_out = Some(file.clone());
            output::sink(format, std::io::BufWriter::new(file))
        }
        None => output::sink(format, std::io::BufWriter::new(super::out::Stdout)),
    };
    let stats = lake.run(&sql, sink.as_mut())?;
    drop(sink);
    if let Some(f) = file_out {
        f.commit()?;
    }
    if !l.quiet {
        errln!(
            "{} row{} in {:.3} s",
            stats.rows,
            if stats.rows == 1 { "" } else { "s" },
            started.elapsed().as_secs_f64()
        );
    }
    Ok(0)
}

/// `--output FILE`: written through storage, so the file appears under its name only once
/// the whole answer is in it (a query that fails leaves no partial file). Shared between
/// the result sink, which writes it, and the command, which commits it at the end.
#[derive(Clone)]
struct OutputFile(std::sync::Arc<std::sync::Mutex<Option<Box<dyn ObjectWriter>>>>);

impl OutputFile {
    fn create(path: &std::path::Path) -> Result<OutputFile> {
        let w = LocalStorage.create(&Location::Local(path.to_path_buf()))?;
        Ok(OutputFile(std::sync::Arc::new(std::sync::Mutex::new(Some(w)))))
    }

    fn commit(self) -> Result<()> {
        match self.0.lock().expect("output lock").take() {
            Some(w) => w.commit(),
            None => Ok(()),
        }
    }
}

impl std::io::Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock().expect("output lock").as_mut() {
            Some(w) => w.write(buf),
            None => Err(std::io::Error::other("the output file was already committed")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.lock().expect("output lock").as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}
