//! The conversion run: find inputs, read their headers, then let a pool of
//! workers decompress, parse and write them in parallel, with bounded memory,
//! and account for every line in the run report.
//!
//! Each worker takes the next input file (in path order, so a day's files are
//! processed together), parses it into per-partition Arrow batches, and hands
//! full batches to the shared [`PartitionedSink`], which encodes them into the
//! partition's open Parquet file. Memory is bounded by
//! `threads × open batches × batch rows` plus one row group per open file.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow_array::RecordBatch;
use serde::Serialize;

use crate::ddl::{self, DdlOptions};
use crate::error::{Error, Result};
use crate::format::{Format, HeaderProblem};
use crate::gzip::BadMember;
use crate::manifest::{self, FileStats, Manifest, RunManifest, Seen};
use crate::parse::{BatchBuilder, ColumnPlan, Line, LineSplitter, Reason, RecordParser};
use crate::partition::{Layout, Origin};
use crate::reject::RejectKind;
use crate::report::{self, DamagedFile, FormatSeen, PartitionStats, Reject, RejectWriter, RunReport, RunStatus};
use crate::schema::TableColumns;
use crate::sink::{ParquetOptions, PartitionedSink, WrittenFile};
use crate::source::{self, Decoded, FileSelector, InputFile, InputFilter, Prefetcher, Shard};
use crate::storage::{self, Location, Storage, StorageOptions};
use crate::table::{Staged, Transaction};

/// Everything a conversion needs to know. Build with [`ConvertOptions::new`]
/// and the `with_*` setters.
#[derive(Clone, Debug)]
pub struct ConvertOptions {
    inputs: Vec<Location>,
    output: Location,
    format: Option<Format>,
    globs: Vec<String>,
    threads: usize,
    layout: Layout,
    parquet: ParquetOptions,
    max_rejects: Option<u64>,
    batch_rows: usize,
    ddl: Option<DdlOptions>,
    storage: StorageOptions,
    filter: InputFilter,
    s3_concurrency: usize,
    shard: Option<Shard>,
    full_refresh: bool,
    checkpoint_every: usize,
    read_whole_max: u64,
    rebuild: Vec<String>,
}

impl ConvertOptions {
    /// Converts the files at or under `inputs` into a Parquet table at `output`.
    pub fn new(inputs: Vec<Location>, output: Location) -> ConvertOptions {
        ConvertOptions {
            inputs,
            output,
            format: None,
            globs: Vec::new(),
            threads: 0,
            layout: Layout::default(),
            parquet: ParquetOptions::default(),
            max_rejects: None,
            batch_rows: 64 * 1024,
            ddl: None,
            storage: StorageOptions::default(),
            filter: InputFilter::default(),
            s3_concurrency: 16,
            shard: None,
            full_refresh: false,
            checkpoint_every: manifest::checkpoint::DEFAULT_EVERY,
            read_whole_max: source::WHOLE_FILE_MAX,
            rebuild: Vec::new(),
        }
    }

    /// The format of headerless input files. Files that start with a header
    /// line always use their header. Default: none (headerless files are rejected).
    pub fn with_format(mut self, format: Option<Format>) -> Self {
        self.format = format;
        self
    }

    /// File-name patterns for walking folders. Default: [`source::DEFAULT_GLOBS`].
    pub fn with_globs(mut self, globs: Vec<String>) -> Self {
        self.globs = globs;
        self
    }

    /// Worker threads; 0 (the default) means one per core.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Partition layout. Default: [`Layout::Date`].
    pub fn with_layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Parquet settings. Default: [`ParquetOptions::default`].
    pub fn with_parquet(mut self, parquet: ParquetOptions) -> Self {
        self.parquet = parquet;
        self
    }

    /// Fail the run (writing no rows) when more than this many records are
    /// rejected. Default: no limit.
    pub fn with_max_rejects(mut self, max: Option<u64>) -> Self {
        self.max_rejects = max;
        self
    }

    /// Rows a worker buffers per partition before handing them to the writer. Default 65,536.
    pub fn with_batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows.max(1);
        self
    }

    /// Names for the DDL written to `OUT/_flowlake/ddl/` after the run. Default:
    /// database `default`, table `flow_logs`, the output itself as location
    /// (see [`default_ddl_options`]).
    pub fn with_ddl(mut self, ddl: Option<DdlOptions>) -> Self {
        self.ddl = ddl;
        self
    }

    /// How to reach S3 (endpoint, profile, encryption, …). Default: the standard AWS chain.
    pub fn with_storage(mut self, storage: StorageOptions) -> Self {
        self.storage = storage;
        self
    }

    /// Which inputs to take by delivery date, account and region; only the
    /// matching parts of the tree are listed. Default: everything.
    pub fn with_filter(mut self, filter: InputFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Convert only this shard's inputs (see [`Shard`]). Default: all inputs.
    pub fn with_shard(mut self, shard: Option<Shard>) -> Self {
        self.shard = shard;
        self
    }

    /// Start over: convert every input, then replace the files of all earlier
    /// runs (they are deleted once this run's files are in place). Default: off
    /// (inputs recorded in the table's manifest are skipped).
    pub fn with_full_refresh(mut self, on: bool) -> Self {
        self.full_refresh = on;
        self
    }

    /// Fold the table's run manifests into one checkpoint after a run once this
    /// many are not covered by one (0: never). Default
    /// [`manifest::checkpoint::DEFAULT_EVERY`].
    pub fn with_checkpoint_every(mut self, runs: usize) -> Self {
        self.checkpoint_every = runs;
        self
    }

    /// Inputs of up to this many stored bytes are read whole and decompressed in one call
    /// (every damaged gzip member is then known before any of their lines is parsed);
    /// larger ones are streamed, decompressed on a thread of their own. Default
    /// [`source::WHOLE_FILE_MAX`].
    pub fn with_read_whole_max(mut self, bytes: u64) -> Self {
        self.read_whole_max = bytes;
        self
    }

    /// Rebuild these partitions (folders such as `date=2023-08-01`) from every input the
    /// table records as having written to them, whether or not they changed; their files
    /// are replaced (`flowlake verify --repair` uses this for partitions with missing files).
    /// Every such input must be among the run's inputs. Default: none.
    pub fn with_rebuild(mut self, partitions: Vec<String>) -> Self {
        self.rebuild = partitions;
        self
    }

    /// Remote objects fetched at once (and read ahead of the workers). Default 16.
    pub fn with_s3_concurrency(mut self, n: usize) -> Self {
        self.s3_concurrency = n.max(1);
        self
    }

    /// The effective number of worker threads.
    pub fn threads(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            self.threads
        }
    }
}

/// Most worker threads a run takes (each holds buffers of its own; more would only wait).
pub const MAX_THREADS: usize = 256;

/// Receives progress while a run works (the CLI draws a progress bar with it).
pub trait Progress: Sync {
    /// The run is about to process `files` files of `bytes` stored bytes.
    fn start(&self, _files: u64, _bytes: u64) {}
    /// A file of `bytes` stored bytes and `rows` records was processed.
    fn file_done(&self, _bytes: u64, _rows: u64) {}
    /// The run is writing its last files.
    fn finishing(&self) {}
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;
impl Progress for NoProgress {}

/// What the header scan found out about one input.
#[derive(Clone, Debug)]
enum Prep {
    /// The file starts with this header.
    Header(Format),
    /// No header; the user's `--format` applies.
    Headerless(Format),
    /// Empty file.
    Empty,
    /// Every line is rejected for this reason; `header`: the first line is a header
    /// (counted as one, not as a record), usable or not.
    Unusable(Reason, bool),
    /// The file cannot be opened or decoded at all.
    Damaged(String),
}

impl Prep {
    fn format(&self) -> Option<&Format> {
        match self {
            Prep::Header(f) | Prep::Headerless(f) => Some(f),
            _ => None,
        }
    }
}

struct Job {
    input: InputFile,
    storage: Arc<dyn Storage>,
    prep: Prep,
    /// Index into [`Run::origins`] (for layouts that name the account and region).
    origin: u32,
}

/// The partition a buffered row goes to: its time bucket and its input's origin.
type Bucket = (i64, u32);

/// Reads every input's first line to learn its format.
fn scan(storage: &dyn Storage, input: &InputFile, user_format: Option<&Format>) -> Prep {
    match source::first_line(storage, input) {
        // Its lines are read all the same: those of the damaged member are rejected as
        // such; the others have no trustworthy header to be read with.
        Err(p) if p.0.starts_with(source::DAMAGED_FIRST_LINE) => Prep::Unusable(
            Reason::new(
                RejectKind::BadHeader,
                format!("no usable header line: {}", &p.0[source::DAMAGED_FIRST_LINE.len()..]),
            ),
            true,
        ),
        Err(p) => Prep::Damaged(p.0),
        Ok(None) => Prep::Empty,
        Ok(Some(line)) => match Format::from_header(&line) {
            Ok(f) => Prep::Header(f),
            Err(p @ (HeaderProblem::NotAHeader | HeaderProblem::Empty)) => match user_format {
                Some(f) => Prep::Headerless(f.clone()),
                None if p == HeaderProblem::Empty => Prep::Unusable(
                    Reason::new(
                        RejectKind::NoHeader,
                        "no header line: the file's first line is empty, where a flow-log file starts with a header \
                         naming its fields (pass --format for headerless files)",
                    ),
                    false,
                ),
                None => Prep::Unusable(
                    Reason::new(
                        RejectKind::NoHeader,
                        "no header line: the file's first line does not name flow-log fields; pass --format for headerless files",
                    ),
                    false,
                ),
            },
            Err(p) => Prep::Unusable(Reason::new(RejectKind::BadHeader, format!("bad header line: {p}")), true),
        },
    }
}

/// The inputs under every root, each once, with the storage that reads it.
struct Inputs {
    files: Vec<(Arc<dyn Storage>, InputFile)>,
    /// Entries that could not be taken as inputs, with why.
    unreadable: Vec<(String, String)>,
    /// What discovery noticed and mended (inputs named twice).
    notes: Vec<String>,
}

fn discover_all(roots: &[Location], globs: &[String], opts: &StorageOptions, filter: &InputFilter) -> Result<Inputs> {
    let selector = FileSelector::new(globs)?;
    let mut out = Inputs { files: Vec::new(), unreadable: Vec::new(), notes: Vec::new() };
    // Roots of one store are discovered together, so that overlapping ones give each input once.
    let (local, remote): (Vec<Location>, Vec<Location>) = roots.iter().cloned().partition(|r| !r.is_remote());
    for group in [local, remote].into_iter().filter(|g| !g.is_empty()) {
        let st = storage::storage_for(&group[0], opts)?;
        let found = source::discover_filtered(st.as_ref(), &group, &selector, filter)?;
        out.files.extend(found.files.into_iter().map(|f| (st.clone(), f)));
        out.unreadable.extend(found.unreadable);
        out.notes.extend(found.notes);
    }
    Ok(out)
}

/// Reads every input's header, in parallel on the current rayon pool.
fn scan_all(inputs: Vec<(Arc<dyn Storage>, InputFile)>, user_format: Option<&Format>) -> Vec<Job> {
    use rayon::prelude::*;
    inputs
        .into_par_iter()
        .map(|(storage, input)| {
            let prep = scan(storage.as_ref(), &input, user_format);
            Job { input, storage, prep, origin: 0 }
        })
        .collect()
}

/// DDL names for a table at `output`: database `default`, table `flow_logs`,
/// the output as location, VPC CIDR 172.31.0.0/16 (AWS's default VPC) for the named queries.
pub fn default_ddl_options(output: &Location) -> DdlOptions {
    let location = output.absolute().to_string();
    let now_year = crate::partition::civil_from_days(report::now_unix() as i64 / 86_400).0;
    DdlOptions {
        database: "default".into(),
        table: "flow_logs".into(),
        location,
        vpc_cidr: "172.31.0.0/16".into(),
        ip: "172.31.0.5".into(),
        until_year: now_year + 1,
    }
}

/// Reads the whole table at `output` (every run's files) and writes its DDL
/// and named queries under `output/_flowlake/ddl/`; returns that folder.
pub fn write_ddl(storage: &dyn Storage, output: &Location, o: &DdlOptions) -> Result<Location> {
    let o = o.validated()?;
    let info = crate::table::read_table_info(storage, output)?;
    let dir = output.join("_flowlake/ddl");
    for (rel, text) in ddl::ddl_files(&info, &o)? {
        storage.put(&dir.join(&rel), text.as_bytes())?;
    }
    Ok(dir)
}

/// Numbers the distinct origins (account, service, region) of the inputs for
/// layouts that partition by them; an input without one cannot be placed, so
/// its lines are rejected with that reason.
fn assign_origins(jobs: &mut [Job], layout: Layout) -> Vec<Origin> {
    let mut origins: Vec<Origin> = Vec::new();
    if !layout.needs_origin() {
        return origins;
    }
    for j in jobs.iter_mut() {
        match &j.input.origin {
            Some(o) => {
                j.origin = match origins.iter().position(|x| x == o) {
                    Some(i) => i as u32,
                    None => {
                        origins.push(o.clone());
                        (origins.len() - 1) as u32
                    }
                };
            }
            None if j.prep.format().is_some() => {
                let reason = Reason::new(
                    RejectKind::NoOrigin,
                    format!(
                        "no account and region: --partition {layout} needs inputs in the AWS delivery layout \
                         (AWSLogs/<account>/vpcflowlogs/<region>/...)"
                    ),
                );
                j.prep = Prep::Unusable(reason, matches!(j.prep, Prep::Header(_)));
            }
            None => {}
        }
    }
    origins
}

/// Files whose header names a field that becomes the same column as a different field of
/// an earlier file (`x-y` here, `x_y` there) are refused: a Parquet file cannot hold both,
/// and readers could not tell them apart. The first file (in path order) keeps the column.
fn refuse_colliding_columns(jobs: &mut [Job]) {
    let mut first: HashMap<String, (crate::schema::ColumnId, String)> = HashMap::new();
    for j in jobs.iter_mut() {
        let Some(f) = j.prep.format() else { continue };
        let mut clash = None;
        for id in f.fields() {
            match first.get(&id.column_name()) {
                Some((other, file)) if other != id => {
                    clash = Some(format!(
                        "bad header line: the header's field `{}` would be the column `{}`, which is field `{}` of {file}",
                        id.header_name(),
                        id.column_name(),
                        other.header_name()
                    ));
                    break;
                }
                _ => {}
            }
        }
        match clash {
            Some(text) => {
                j.prep = Prep::Unusable(Reason::new(RejectKind::BadHeader, text), matches!(j.prep, Prep::Header(_)))
            }
            None => {
                let file = j.input.location().to_string();
                for id in j.prep.format().expect("checked above").fields() {
                    first.entry(id.column_name()).or_insert_with(|| (id.clone(), file.clone()));
                }
            }
        }
    }
}

/// The distinct formats (with file counts, in order of first appearance) and their union table.
fn formats_and_table(jobs: &[Job]) -> (Vec<(Format, u64)>, TableColumns) {
    let mut formats: Vec<(Format, u64)> = Vec::new();
    for j in jobs {
        if let Some(f) = j.prep.format() {
            match formats.iter_mut().find(|(g, _)| g == f) {
                Some((_, n)) => *n += 1,
                None => formats.push((f.clone(), 1)),
            }
        }
    }
    let table = TableColumns::from_columns(formats.iter().flat_map(|(f, _)| f.fields().iter().cloned()));
    (formats, table)
}

/// One column of the output table, as `flowlake schema` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ColumnInfo {
    /// Parquet/SQL column name.
    pub column: String,
    /// Header field name.
    pub field: String,
    /// Parquet type (`INT32`, `INT64`, `STRING`).
    pub parquet_type: &'static str,
    /// SQL type (`int`, `bigint`, `string`).
    pub sql_type: &'static str,
    /// Flow-log version of the field (0 for fields this build does not know).
    pub version: u8,
}

impl ColumnInfo {
    fn of(id: &crate::schema::ColumnId) -> ColumnInfo {
        let version = match id {
            crate::schema::ColumnId::Known(i) => crate::schema::CATALOG[*i].version,
            crate::schema::ColumnId::Unknown(_) => 0,
        };
        ColumnInfo {
            column: id.column_name(),
            field: id.header_name().to_string(),
            parquet_type: id.ty().parquet(),
            sql_type: id.ty().sql(),
            version,
        }
    }
}

/// What `flowlake schema` finds in a set of inputs.
#[derive(Clone, Debug, Serialize)]
pub struct SchemaReport {
    /// Input files looked at.
    pub files: u64,
    /// Formats found, with how many files have each.
    pub formats: Vec<FormatSeen>,
    /// Empty files.
    pub files_empty: u64,
    /// Files whose lines would all be rejected (no header and no --format, bad header), with why.
    pub files_unusable: Vec<(String, String)>,
    /// Files that cannot be read.
    pub files_damaged: Vec<(String, String)>,
    /// Header fields this build does not know (kept as string columns).
    pub unknown_fields: Vec<String>,
    /// The columns a conversion of these inputs writes, in order.
    pub columns: Vec<ColumnInfo>,
}

/// Reads the headers of `inputs` and tells which formats they hold and what
/// table a conversion would write, without converting anything.
pub fn inspect(
    inputs: &[Location],
    globs: &[String],
    format: Option<&Format>,
    storage: &StorageOptions,
) -> Result<SchemaReport> {
    let found = discover_all(inputs, globs, storage, &InputFilter::default())?;
    let files = found.files;
    let mut jobs = scan_all(files, format);
    refuse_colliding_columns(&mut jobs);
    let (formats, table) = formats_and_table(&jobs);
    let mut unknown: Vec<String> =
        formats.iter().flat_map(|(f, _)| f.unknown_fields().map(str::to_string).collect::<Vec<_>>()).collect();
    unknown.sort();
    unknown.dedup();
    let mut report = SchemaReport {
        files: jobs.len() as u64,
        formats: formats
            .iter()
            .map(|(f, n)| FormatSeen { version: f.version(), fields: f.header_line(), files: *n })
            .collect(),
        files_empty: 0,
        files_unusable: Vec::new(),
        files_damaged: Vec::new(),
        unknown_fields: unknown,
        columns: table.columns().iter().map(ColumnInfo::of).collect(),
    };
    for j in &jobs {
        let name = j.input.location().to_string();
        match &j.prep {
            Prep::Empty => report.files_empty += 1,
            Prep::Unusable(r, _) => report.files_unusable.push((name, r.text.clone())),
            Prep::Damaged(m) => report.files_damaged.push((name, m.clone())),
            Prep::Header(_) | Prep::Headerless(_) => {}
        }
    }
    Ok(report)
}

/// Cheap test, run on data lines, for a header in the middle of a file: does
/// the line start with a catalog field name? (Values never are field names.)
fn starts_with_field_name(line: &[u8]) -> bool {
    if !line.first().is_some_and(u8::is_ascii_lowercase) {
        return false;
    }
    let end = memchr::memchr(b' ', line).unwrap_or(line.len());
    std::str::from_utf8(&line[..end]).is_ok_and(|t| crate::schema::lookup_loose(t).is_some())
}

/// Counters one worker keeps and the run adds up.
#[derive(Default)]
struct Tally {
    rows_in: u64,
    rows_appended: u64,
    /// Rows of re-read inputs left out because their partition is not being rebuilt.
    rows_unchanged: u64,
    header_lines: u64,
    files_empty: u64,
    rejects_by_reason: BTreeMap<String, u64>,
    unknown_values: BTreeMap<String, BTreeMap<String, u64>>,
    damaged: Vec<DamagedFile>,
    unusable: Vec<report::UnusableFile>,
}

impl Tally {
    fn add(&mut self, o: Tally) {
        self.rows_in += o.rows_in;
        self.rows_appended += o.rows_appended;
        self.rows_unchanged += o.rows_unchanged;
        self.header_lines += o.header_lines;
        self.files_empty += o.files_empty;
        for (k, v) in o.rejects_by_reason {
            *self.rejects_by_reason.entry(k).or_default() += v;
        }
        for (field, values) in o.unknown_values {
            for (value, n) in values {
                report::count_unknown_value(&mut self.unknown_values, &field, &value, n);
            }
        }
        self.damaged.extend(o.damaged);
        self.unusable.extend(o.unusable);
    }
}

/// Shared state of one run.
struct Run<'a> {
    opts: &'a ConvertOptions,
    jobs: &'a [Job],
    table: TableColumns,
    schema: arrow_schema::SchemaRef,
    origins: Vec<Origin>,
    plans: HashMap<Format, Arc<ColumnPlan>>,
    sink: PartitionedSink,
    rejects: RejectWriter<'a>,
    rejects_location: Location,
    next: AtomicUsize,
    stop: AtomicBool,
    rejected: AtomicU64,
    failure: Mutex<Option<Error>>,
    tally: Mutex<Tally>,
    progress: &'a dyn Progress,
    prefetch: Option<Prefetcher<'a>>,
    /// Full batches waiting to be encoded by a worker that has no file left to parse.
    queue: Mutex<std::collections::VecDeque<(String, RecordBatch)>>,
    queue_ready: std::sync::Condvar,
    /// Workers in the pool (at most two batches per worker wait in the queue).
    workers: usize,
    /// Workers still parsing files.
    producers: AtomicUsize,
    /// Rebuilding partitions for changed inputs: inputs read again only for them write only
    /// rows of these partitions (changed and new inputs write all their rows).
    rebuild: Option<&'a Rebuild>,
    /// Per job: records read from its input, and the partitions they went to.
    job_partitions: Mutex<Vec<(u64, BTreeSet<Bucket>)>>,
    /// Damaged gzip members of streamed inputs that earlier attempts found, by job.
    known_damage: &'a HashMap<usize, Vec<BadMember>>,
    /// Damaged members this attempt found in streamed inputs that it did not know of.
    new_damage: Mutex<HashMap<usize, Vec<BadMember>>>,
}

/// Partitions rebuilt because inputs that wrote to them changed.
struct Rebuild {
    partitions: HashSet<String>,
    /// Unchanged inputs (by key) read again because they wrote to those partitions: they
    /// contribute only rows of those partitions (changed and new inputs contribute all their rows).
    reread: HashSet<String>,
}

/// Why the lines of a damaged gzip member are rejected.
fn damaged_member_reason(m: &BadMember) -> Reason {
    Reason::new(
        RejectKind::DamagedGzip,
        format!("the line is in {}, so its bytes cannot be trusted: rejected, not converted", m.describe()),
    )
}

/// How many partitions one worker buffers at once before flushing the largest.
const MAX_BUFFERED_PARTITIONS: usize = 16;
/// Rejects a worker collects before writing them out.
const REJECT_FLUSH: usize = 1024;

struct Worker {
    splitter: LineSplitter,
    parser: RecordParser,
    /// Partially filled batches, with the number of the file that last added to each.
    buffers: Vec<(Bucket, BatchBuilder, u64)>,
    /// Files this worker has taken so far.
    files_seen: u64,
    rejects: Vec<Reject>,
    tally: Tally,
    /// Partitions the current file's rows went to.
    parts: BTreeSet<Bucket>,
    /// While rebuilding partitions: the last bucket tested, and whether its rows are written.
    last_keep: Option<(Bucket, bool)>,
}

impl<'a> Run<'a> {
    fn fail(&self, e: Error) {
        let mut f = self.failure.lock().expect("failure lock");
        if f.is_none() {
            *f = Some(e);
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    fn work(&self) {
        let mut w = Worker {
            splitter: LineSplitter::new(),
            parser: RecordParser::new(),
            buffers: Vec::new(),
            files_seen: 0,
            rejects: Vec::new(),
            tally: Tally::default(),
            parts: BTreeSet::new(),
            last_keep: None,
        };
        let result = (|| -> Result<()> {
            loop {
                if self.stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let i = self.next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = self.jobs.get(i) else { break };
                let rows_before = w.tally.rows_in;
                w.files_seen += 1;
                self.file(&mut w, i, job)?;
                self.job_partitions.lock().expect("partitions lock")[i] =
                    (w.tally.rows_in - rows_before, std::mem::take(&mut w.parts));
                self.flush_rejects(&mut w)?;
                self.flush_stale(&mut w)?;
                self.progress.file_done(job.input.meta.size, w.tally.rows_in - rows_before);
            }
            for (bucket, mut b, _) in std::mem::take(&mut w.buffers) {
                if !b.is_empty() {
                    self.submit(self.partition_path(bucket), b.finish())?;
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            self.fail(e);
        }
        // No file left to parse: encode what the others hand over (with one large file,
        // this is what keeps a second core busy).
        self.producers.fetch_sub(1, Ordering::SeqCst);
        self.queue_ready.notify_all();
        if let Err(e) = self.encode_queued() {
            self.fail(e);
        }
        self.tally.lock().expect("tally lock").add(std::mem::take(&mut w.tally));
    }

    /// Hands a full batch to be encoded: queued when a worker has run out of files and
    /// waits for batches to encode (at most two per thread wait), else encoded here and
    /// now. (Queued while every worker is parsing, a batch would wait until the end.)
    fn submit(&self, partition: String, batch: RecordBatch) -> Result<()> {
        if self.producers.load(Ordering::SeqCst) < self.workers {
            let mut q = self.queue.lock().expect("queue lock");
            if q.len() < 2 * self.workers {
                q.push_back((partition, batch));
                drop(q);
                self.queue_ready.notify_one();
                return Ok(());
            }
        }
        self.sink.write(&partition, &batch)
    }

    /// Encodes queued batches until no worker is parsing and the queue is empty.
    fn encode_queued(&self) -> Result<()> {
        loop {
            let next = {
                let mut q = self.queue.lock().expect("queue lock");
                loop {
                    if let Some(item) = q.pop_front() {
                        break Some(item);
                    }
                    if self.producers.load(Ordering::SeqCst) == 0 {
                        break None;
                    }
                    q = self.queue_ready.wait_timeout(q, std::time::Duration::from_millis(20)).expect("queue lock").0;
                }
            };
            let Some((partition, batch)) = next else { return Ok(()) };
            if !self.stop.load(Ordering::Relaxed) {
                self.sink.write(&partition, &batch)?;
            }
        }
    }

    fn reject(&self, w: &mut Worker, job: &Job, line: u64, reason: &Reason, raw: &[u8]) {
        *w.tally.rejects_by_reason.entry(reason.kind.name().to_string()).or_default() += 1;
        if let Some((field, value)) = &reason.unknown {
            report::count_unknown_value(&mut w.tally.unknown_values, field, value, 1);
        }
        w.rejects.push(Reject {
            source: job.input.location().to_string(),
            line,
            reason: reason.text.clone(),
            raw: raw.to_vec(),
        });
        let n = self.rejected.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(max) = self.opts.max_rejects
            && n > max
        {
            self.fail(Error::Failed(format!(
                    "more than {max} records rejected (--max-rejects {max}); no rows were written. See {} for the lines and reasons",
                    self.rejects_location
                )));
        }
    }

    fn flush_rejects(&self, w: &mut Worker) -> Result<()> {
        self.rejects.write(&w.rejects)?;
        w.rejects.clear();
        Ok(())
    }

    fn file(&self, w: &mut Worker, index: usize, job: &Job) -> Result<()> {
        let (mut plan, has_header, unusable) = match &job.prep {
            Prep::Damaged(msg) => {
                w.tally.damaged.push(DamagedFile {
                    file: job.input.location().to_string(),
                    error: msg.clone(),
                    offset: 0,
                    rows_before_damage: 0,
                });
                return Ok(());
            }
            Prep::Empty => {
                w.tally.files_empty += 1;
                return Ok(());
            }
            Prep::Header(f) => (Some(self.plans[f].clone()), true, None),
            Prep::Headerless(f) => (Some(self.plans[f].clone()), false, None),
            Prep::Unusable(r, header) => {
                w.tally
                    .unusable
                    .push(report::UnusableFile { file: job.input.location().to_string(), reason: r.text.clone() });
                (None, *header, Some(r.clone()))
            }
        };
        let opened = match self.prefetch.as_ref().and_then(|p| p.take(index)) {
            Some(Ok(bytes)) => Decoded::from_bytes(bytes, &job.input),
            Some(Err(msg)) => Err(source::OpenProblem(msg)),
            None => Decoded::open_with(job.storage.as_ref(), &job.input, self.opts.read_whole_max),
        };
        let mut decoded = match opened {
            Ok(d) => d,
            Err(p) => {
                w.tally.damaged.push(DamagedFile {
                    file: job.input.location().to_string(),
                    error: p.0,
                    offset: 0,
                    rows_before_damage: 0,
                });
                return Ok(());
            }
        };
        let path_time = job.input.path_time;
        // While rebuilding partitions, an unchanged input contributes only rows of those partitions.
        let only = self.rebuild.filter(|r| r.reread.contains(&job.input.key)).map(|r| &r.partitions);
        // Damaged gzip members known before reading: their lines are rejected, not converted.
        let mut bad = decoded.bad_members();
        for m in self.known_damage.get(&index).into_iter().flatten() {
            if !bad.iter().any(|b| b.same_as(m)) {
                bad.push(m.clone());
            }
        }
        let bad_reasons: Vec<Reason> = bad.iter().map(damaged_member_reason).collect();
        let rows_at_start = w.tally.rows_in;
        let mut rows_before_bad: Option<u64> = None;
        let mut fatal: Option<Error> = None;
        let mut splitter = std::mem::take(&mut w.splitter);
        let outcome = splitter.split(&mut decoded, |line_no, at, line| {
            if !bad.is_empty() {
                let len = match line {
                    Line::Text(t) => t.len() as u64 + 1,
                    Line::TooLong(t) => t.len() as u64 + 1,
                };
                if let Some(i) = bad.iter().position(|m| m.decompressed.start < at + len && at < m.decompressed.end) {
                    let (Line::Text(raw) | Line::TooLong(raw)) = line;
                    rows_before_bad.get_or_insert(w.tally.rows_in - rows_at_start);
                    w.tally.rows_in += 1;
                    self.reject(w, job, line_no, &bad_reasons[i], raw);
                    return !self.stop.load(Ordering::Relaxed);
                }
            }
            let text = match line {
                Line::TooLong(prefix) => {
                    w.tally.rows_in += 1;
                    let r = Reason::new(RejectKind::LineTooLong, format!("line longer than {} bytes", crate::parse::MAX_LINE));
                    self.reject(w, job, line_no, &r, prefix);
                    return !self.stop.load(Ordering::Relaxed);
                }
                Line::Text(t) => t,
            };
            // An unusable file (e.g. one that cannot be placed in a partition) may still start with a valid header.
            if line_no == 1 && has_header {
                w.tally.header_lines += 1;
                return true;
            }
            // A header in the middle: files concatenated into one (several gzip members).
            if plan.is_some() && starts_with_field_name(text)
                && let Ok(f) = Format::from_header(text) {
                    w.tally.header_lines += 1;
                    match self.plans.get(&f) {
                        Some(p) => plan = Some(p.clone()),
                        None => {
                            w.tally.header_lines -= 1;
                            w.tally.rows_in += 1;
                            let r = Reason::new(
                                RejectKind::BadHeader,
                                "header line in the middle of the file names a format that no file starts with",
                            );
                            self.reject(w, job, line_no, &r, text);
                        }
                    }
                    return true;
                }
            w.tally.rows_in += 1;
            let Some(p) = plan.as_deref() else {
                let r = unusable.as_ref().expect("a file without a plan is unusable");
                self.reject(w, job, line_no, r, text);
                return !self.stop.load(Ordering::Relaxed);
            };
            match w.parser.parse(p, text) {
                Ok(parsed) => match self.opts.layout.bucket(parsed.start, path_time) {
                    Some(time) => {
                        // Recorded even for rows left out below: the manifest says where all of an input's rows are.
                        w.parts.insert((time, job.origin));
                        if let Some(only) = only {
                            // Consecutive lines nearly always share a partition: test each bucket once in a row.
                            let key = (time, job.origin);
                            let keep = match w.last_keep {
                                Some((k, keep)) if k == key => keep,
                                _ => {
                                    let keep = only.contains(&self.partition_path(key));
                                    w.last_keep = Some((key, keep));
                                    keep
                                }
                            };
                            if !keep {
                                w.tally.rows_unchanged += 1;
                                return true;
                            }
                        }
                        if let Err(e) = self.append(w, p, (time, job.origin), text) {
                            fatal = Some(e);
                            return false;
                        }
                    }
                    None => {
                        let r = if matches!(self.opts.layout, Layout::Hour | Layout::AwsHour) {
                            Reason::new(
                                RejectKind::NoDate,
                                "no hour: the record has no start, and the file path has no YYYY/MM/DD/HH to take the hour from",
                            )
                        } else {
                            Reason::new(
                                RejectKind::NoDate,
                                "no date: the record has no start, and the file path has no YYYY/MM/DD to take the date from",
                            )
                        };
                        self.reject(w, job, line_no, &r, text);
                    }
                },
                Err(r) => self.reject(w, job, line_no, &r, text),
            }
            if w.rejects.len() >= REJECT_FLUSH
                && let Err(e) = self.flush_rejects(w) {
                    fatal = Some(e);
                    return false;
                }
            line_no % 4096 != 0 || !self.stop.load(Ordering::Relaxed)
        });
        w.splitter = splitter;
        if let Some(e) = fatal {
            return Err(e);
        }
        let found = decoded.bad_members();
        if found.iter().any(|m| !bad.iter().any(|b| b.same_as(m))) {
            // A streamed input whose damage showed only at a member's end: rows of that member
            // may be in this attempt's files already. The run starts over knowing it.
            self.new_damage.lock().expect("damage lock").insert(index, found);
            self.stop.store(true, Ordering::SeqCst);
            return Ok(());
        }
        if !bad.is_empty() {
            let what: Vec<String> = bad.iter().map(BadMember::describe).collect();
            w.tally.damaged.push(DamagedFile {
                file: job.input.location().to_string(),
                error: format!("{}: their lines were rejected, not converted", what.join("; ")),
                offset: bad[0].stored.start,
                rows_before_damage: rows_before_bad.unwrap_or(w.tally.rows_in - rows_at_start),
            });
        }
        if let Err(err) = outcome {
            let offset = decoded.compressed_offset();
            let what = if decoded.is_gzip() { "gzip stream damaged" } else { "read failed" };
            if !err.partial.is_empty() {
                w.tally.rows_in += 1;
                let r = Reason::new(
                    RejectKind::Truncated,
                    format!("truncated: the line was cut off where the input is damaged ({what} at byte {offset})"),
                );
                self.reject(w, job, err.line_no, &r, &err.partial);
            }
            w.tally.damaged.push(DamagedFile {
                file: job.input.location().to_string(),
                error: format!("{what} at byte {offset}: {}", err.error),
                offset,
                rows_before_damage: w.tally.rows_in - rows_at_start,
            });
        } else if w.tally.rows_in == rows_at_start && bad.is_empty() {
            w.tally.files_empty += 1;
        }
        Ok(())
    }

    /// Hands over batches of partitions that the last two files did not add to:
    /// inputs come in delivery order, so those partitions are most likely done,
    /// and holding their rows would make memory grow with the number of days.
    fn flush_stale(&self, w: &mut Worker) -> Result<()> {
        let now = w.files_seen;
        let mut i = 0;
        while i < w.buffers.len() {
            if w.buffers[i].2 + 2 <= now {
                let (k, mut b, _) = w.buffers.swap_remove(i);
                if !b.is_empty() {
                    self.submit(self.partition_path(k), b.finish())?;
                }
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// The folder of a partition, e.g. `date=2023-08-01`.
    fn partition_path(&self, (time, origin): Bucket) -> String {
        self.opts.layout.path(time, self.origins.get(origin as usize))
    }

    fn append(&self, w: &mut Worker, plan: &ColumnPlan, key: Bucket, line: &[u8]) -> Result<()> {
        // Consecutive lines nearly always share a partition: look at the last used buffer first.
        let idx = match w.buffers.iter().rposition(|(k, _, _)| *k == key) {
            Some(i) => i,
            None => {
                if w.buffers.len() >= MAX_BUFFERED_PARTITIONS {
                    let (i, _) = w.buffers.iter().enumerate().max_by_key(|(_, (_, b, _))| b.len()).expect("non-empty");
                    let (k, mut b, _) = w.buffers.swap_remove(i);
                    self.submit(self.partition_path(k), b.finish())?;
                }
                w.buffers.push((key, BatchBuilder::new(&self.table, self.schema.clone(), self.opts.batch_rows), 0));
                w.buffers.len() - 1
            }
        };
        w.buffers[idx].2 = w.files_seen;
        let b = &mut w.buffers[idx].1;
        b.append(plan, &w.parser, line);
        w.tally.rows_appended += 1;
        if b.is_full(self.opts.batch_rows) {
            let batch = b.finish();
            self.submit(self.partition_path(key), batch)?;
        }
        Ok(())
    }
}

/// Attempts a run makes when streamed inputs turn out damaged (each attempt knows more).
const MAX_ATTEMPTS: usize = 4;

/// Everything an attempt at the conversion needs, planned once.
struct Setup<'a> {
    opts: &'a ConvertOptions,
    jobs: &'a [Job],
    table: &'a TableColumns,
    schema: arrow_schema::SchemaRef,
    origins: &'a [Origin],
    plans: &'a HashMap<Format, Arc<ColumnPlan>>,
    storage: &'a Arc<dyn Storage>,
    staging_root: &'a Location,
    file_prefix: &'a str,
    rejects_location: &'a Location,
    progress: &'a dyn Progress,
    remote: bool,
    fetches: &'a [(Arc<dyn Storage>, InputFile)],
    threads: usize,
    rebuild: Option<&'a Rebuild>,
}

/// What one attempt at the conversion did.
struct Attempt {
    /// The staged files (none if the attempt failed).
    written: Vec<WrittenFile>,
    failure: Option<Error>,
    tally: Tally,
    rows_rejected: u64,
    /// Per job: records read, and the partitions they went to.
    job_parts: Vec<(u64, Vec<String>)>,
    rejects_path: Option<String>,
}

enum Outcome {
    Done(Box<Attempt>),
    /// Streamed inputs (by job index) had damaged members that were not known when the
    /// attempt started; nothing it wrote is kept.
    Again(HashMap<usize, Vec<BadMember>>),
}

/// One attempt at converting every job: parse and write in parallel, then account.
fn execute(setup: &Setup<'_>, damage: &HashMap<usize, Vec<BadMember>>, pool: &rayon::ThreadPool) -> Result<Outcome> {
    let Setup { opts, jobs, threads, .. } = *setup;
    let sink = PartitionedSink::new(
        setup.storage.clone(),
        setup.staging_root.clone(),
        setup.schema.clone(),
        opts.parquet.clone(),
        setup.file_prefix,
    )?;
    let run = Run {
        opts,
        jobs,
        table: setup.table.clone(),
        schema: setup.schema.clone(),
        origins: setup.origins.to_vec(),
        plans: setup.plans.clone(),
        sink,
        rejects: RejectWriter::new(setup.storage.as_ref(), setup.rejects_location.clone()),
        rejects_location: setup.rejects_location.clone(),
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        rejected: AtomicU64::new(0),
        failure: Mutex::new(None),
        tally: Mutex::new(Tally::default()),
        progress: setup.progress,
        prefetch: setup.remote.then(|| Prefetcher::new(setup.fetches, opts.s3_concurrency * 2)),
        queue: Mutex::new(std::collections::VecDeque::new()),
        queue_ready: std::sync::Condvar::new(),
        workers: threads,
        producers: AtomicUsize::new(threads),
        rebuild: setup.rebuild,
        job_partitions: Mutex::new(vec![(0, BTreeSet::new()); jobs.len()]),
        known_damage: damage,
        new_damage: Mutex::new(HashMap::new()),
    };
    std::thread::scope(|scope| {
        if let Some(p) = &run.prefetch {
            for _ in 0..opts.s3_concurrency {
                scope.spawn(|| p.run());
            }
        }
        pool.scope(|s| {
            for _ in 0..threads {
                s.spawn(|_| run.work());
            }
        });
        if let Some(p) = &run.prefetch {
            p.stop();
        }
    });
    setup.progress.finishing();

    let job_parts: Vec<(u64, Vec<String>)> = {
        let buckets = run.job_partitions.lock().expect("partitions lock");
        buckets.iter().map(|(rows, b)| (*rows, b.iter().map(|k| run.partition_path(*k)).collect())).collect()
    };
    let Run { sink, rejects, failure, tally, rejected, new_damage, .. } = run;
    let new_damage = new_damage.into_inner().expect("damage lock");
    let tally = tally.into_inner().expect("tally lock");
    let mut failure = failure.into_inner().expect("failure lock");
    if failure.is_none() && !new_damage.is_empty() {
        sink.abort()?;
        drop(rejects);
        return Ok(Outcome::Again(new_damage));
    }
    let rows_rejected = rejected.load(Ordering::SeqCst);
    let written = if failure.is_none() {
        match sink.finish() {
            Ok(w) => w,
            Err(e) => {
                failure = Some(e);
                Vec::new()
            }
        }
    } else {
        sink.abort()?;
        Vec::new()
    };
    let rows_written: u64 = written.iter().map(|f| f.rows).sum();
    if failure.is_none()
        && (rows_written != tally.rows_appended || tally.rows_in != rows_written + rows_rejected + tally.rows_unchanged)
    {
        // Never expected; checked so that a bug shows up as a failed run, not as lost rows.
        failure = Some(Error::Failed(format!(
            "internal accounting error: {} records read, {rows_written} written, {rows_rejected} rejected; please report this",
            tally.rows_in
        )));
    }
    let rejects_path = rejects.finish()?.map(|l| l.to_string());
    Ok(Outcome::Done(Box::new(Attempt { written, failure, tally, rows_rejected, job_parts, rejects_path })))
}

/// Converts flow-log files into a partitioned Parquet table.
///
/// Returns `Err` when the run cannot start (bad options, missing input,
/// output not writable). Once started, a run always returns a report, also
/// written to `OUT/_flowlake/runs/<run>.json`; a run that stopped (too many
/// rejects, a write error) has status [`RunStatus::Failed`] and leaves no rows behind.
pub fn convert(opts: &ConvertOptions, progress: &dyn Progress) -> Result<RunReport> {
    let t0 = Instant::now();
    let started = report::now_unix();
    let run_id = report::new_run_id();
    if opts.inputs.is_empty() {
        return Err(Error::Usage("no inputs given".into()));
    }
    if opts.full_refresh && opts.shard.is_some() {
        // Each shard would replace every earlier run, the other shards' refreshes included.
        return Err(Error::Usage(
            "a full refresh replaces every earlier run of the table, so it cannot be split into shards \
             (each shard would replace the others' rows): run it once without a shard, or convert with \
             shards into a new table and switch readers to it"
                .into(),
        ));
    }
    let threads = opts.threads();
    if threads > MAX_THREADS {
        return Err(Error::Usage(format!("{threads} worker threads is more than the {MAX_THREADS} a run takes")));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("flowlake-{i}"))
        .build()
        .map_err(|e| Error::Failed(format!("cannot start {threads} worker threads: {e}")))?;

    let found = discover_all(&opts.inputs, &opts.globs, &opts.storage, &opts.filter)?;
    let (mut inputs, unreadable, notes) = (found.files, found.unreadable, found.notes);
    let listed = inputs.len() as u64;
    if let Some(shard) = opts.shard {
        inputs.retain(|(_, f)| shard.owns(f));
    }
    // Shards write into one table at once: their file names must never collide.
    let file_prefix = match opts.shard {
        Some(s) => format!("{run_id}-s{}of{}", s.index, s.count),
        None => run_id.clone(),
    };

    let out_storage = storage::storage_for(&opts.output, &opts.storage)?;
    let meta = opts.output.join("_flowlake");
    let report_location = meta.join(&format!("runs/{run_id}.json"));
    if out_storage.is_file(&opts.output)? {
        return Err(Error::Usage(format!(
            "output {} is a file; give a folder (it is created if missing)",
            opts.output
        )));
    }
    // Fail now, not after an hour of work, if the output is not writable (or its bucket does not exist).
    drop(out_storage.create(&report_location)?);
    if out_storage.is_remote() {
        out_storage.list_dir(&opts.output)?;
    }

    // The run is one transaction on the table: begun from its log (after finishing what
    // interrupted runs committed), its files staged, committed in order or not at all.
    let tx = Transaction::begin(out_storage.clone(), &opts.output, &file_prefix, started as i64)?;
    // Incremental: inputs the table's log records, unchanged, were converted before.
    let manifest = tx.log();
    // Files are written under a hidden staging folder and moved into place only after the
    // run's commit: a run killed at any point leaves nothing visible half-done. Rejected
    // lines are staged and published with them: the table's rejects folder holds every
    // rejected line of committed runs once, none of failed ones.
    let staging_root = tx.staging();
    let rejects_location = tx.staged_rejects();
    let Planned { inputs, records, files_skipped, rebuild, replaces, replaces_files } =
        plan_inputs(opts, manifest, inputs)?;

    let remote = inputs.iter().any(|(s, _)| s.is_remote());
    let fetches: Vec<(Arc<dyn Storage>, InputFile)> = if remote { inputs.clone() } else { Vec::new() };
    let scan = || scan_all(inputs, opts.format.as_ref());
    let mut jobs = if remote {
        // Reading headers of remote objects is waiting, not computing: use as many threads as fetches.
        rayon::ThreadPoolBuilder::new()
            .num_threads(opts.s3_concurrency.max(threads))
            .build()
            .map_err(|e| Error::Failed(format!("cannot start threads: {e}")))?
            .install(scan)
    } else {
        pool.install(scan)
    };
    let origins = assign_origins(&mut jobs, opts.layout);
    refuse_colliding_columns(&mut jobs);
    let (formats, table) = formats_and_table(&jobs);
    let plans: HashMap<Format, Arc<ColumnPlan>> =
        formats.iter().map(|(f, _)| (f.clone(), Arc::new(ColumnPlan::new(f, &table)))).collect();
    let schema = table.arrow_schema();
    let files_in = jobs.len() as u64;
    let bytes_in: u64 = jobs.iter().map(|j| j.input.meta.size).sum();
    progress.start(files_in, bytes_in);
    let setup = Setup {
        opts,
        jobs: &jobs,
        table: &table,
        schema,
        origins: &origins,
        plans: &plans,
        storage: &out_storage,
        staging_root: &staging_root,
        file_prefix: &file_prefix,
        rejects_location: &rejects_location,
        progress,
        remote,
        fetches: &fetches,
        threads,
        rebuild: rebuild.as_ref(),
    };
    // Rows of a streamed gzip member that fails its check at its end may already be in the
    // run's files: the run then starts over, knowing that member, so its lines are rejected.
    let mut damage: HashMap<usize, Vec<BadMember>> = HashMap::new();
    let mut attempts = 0u32;
    let attempt = loop {
        attempts += 1;
        match execute(&setup, &damage, &pool)? {
            Outcome::Done(a) => break a,
            Outcome::Again(found) if damage.len() < MAX_ATTEMPTS => damage.extend(found),
            Outcome::Again(_) => {
                return Err(Error::Failed(format!(
                    "inputs kept changing while they were read ({MAX_ATTEMPTS} attempts found new damage each time); \
                     nothing was written: run again once they are complete"
                )));
            }
        }
    };
    let Attempt { written, failure, tally, rows_rejected, job_parts, rejects_path } = *attempt;
    let converted: Vec<(InputFile, (u64, Vec<String>))> = jobs.into_iter().map(|j| j.input).zip(job_parts).collect();
    let rows_written: u64 = written.iter().map(|f| f.rows).sum();
    // Where each staged file goes: the same path below the table root.
    let mut written = written;
    let mut moves = Vec::with_capacity(written.len());
    for f in &mut written {
        let rel = tx.target_of(&f.location);
        moves.push((std::mem::replace(&mut f.location, opts.output.join(&rel)), rel));
    }
    let staged = Staged { files: moves.iter().map(|(l, _)| l.clone()).collect(), rejects: rejects_path.is_some() };
    if failure.is_some() {
        written.clear();
        moves.clear();
    }

    let mut partitions: BTreeMap<String, PartitionStats> = BTreeMap::new();
    for f in &written {
        let p = partitions.entry(f.partition.clone()).or_default();
        p.rows += f.rows;
        p.files += 1;
        p.bytes += f.bytes;
    }
    let mut unknown: Vec<String> =
        formats.iter().flat_map(|(f, _)| f.unknown_fields().map(str::to_string).collect::<Vec<_>>()).collect();
    unknown.sort();
    unknown.dedup();
    let mut damaged = tally.damaged;
    damaged.extend(unreadable.into_iter().map(|(file, error)| DamagedFile {
        file,
        error,
        offset: 0,
        rows_before_damage: 0,
    }));
    damaged.sort_by(|a, b| a.file.cmp(&b.file));
    let mut unusable = tally.unusable;
    unusable.sort_by(|a, b| a.file.cmp(&b.file));
    let status = match (&failure, damaged.is_empty()) {
        (Some(_), _) => RunStatus::Failed,
        (None, false) => RunStatus::CompletedWithErrors,
        (None, true) => RunStatus::Ok,
    };
    let report = RunReport {
        run_id,
        status,
        error: failure.map(|e| e.to_string()),
        flowlake_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: report::rfc3339(started as i64),
        elapsed_seconds: t0.elapsed().as_secs_f64(),
        inputs: opts.inputs.iter().map(|l| l.to_string()).collect(),
        output: opts.output.to_string(),
        threads,
        compression: opts.parquet.compression.to_string(),
        shard: opts.shard.map(|s| s.to_string()),
        attempts,
        files_listed: listed,
        files_skipped,
        files_in,
        bytes_in,
        files_empty: tally.files_empty,
        files_damaged: damaged,
        files_unusable: unusable,
        header_lines: tally.header_lines,
        rows_in: tally.rows_in,
        rows_written,
        rows_rejected,
        rows_discarded: tally.rows_in.saturating_sub(rows_written + rows_rejected + tally.rows_unchanged),
        rows_unchanged: tally.rows_unchanged,
        rejects_by_reason: tally.rejects_by_reason,
        unknown_values: tally.unknown_values,
        rejects_path,
        files_written: written.len() as u64,
        bytes_written: written.iter().map(|f| f.bytes).sum(),
        partitions,
        formats: formats
            .iter()
            .map(|(f, n)| FormatSeen { version: f.version(), fields: f.header_line(), files: *n })
            .collect(),
        unknown_fields: unknown,
        columns: table.columns().iter().map(|c| c.column_name()).collect(),
        report_path: report_location.to_string(),
        ddl_path: None,
        files: written,
        warnings: Vec::new(),
        commit: None,
        after_commit_errors: Vec::new(),
        notes,
    };
    let mut report = report;
    if report.status == RunStatus::Failed {
        // The staged rejects stay, for the user to read (the report names them).
        tx.abort(&staged.files, true)?;
    } else if report.files_in > 0 {
        let run = RunManifest {
            run_id: report.run_id.clone(),
            shard: report.shard.clone(),
            inputs: converted
                .iter()
                .map(|(f, (rows, p))| manifest::entry(f, *rows, p.clone(), records.get(&f.key).map(String::as_str)))
                .collect(),
            file_stats: report.files.iter().map(|f| FileStats { rows: f.rows, bytes: f.bytes }).collect(),
            replaces,
            replaces_files,
            // Files, rejects, staging folder, baseline and sequence: the transaction's to fill in.
            ..RunManifest::default()
        };
        // The commit point: from here on the run's files are part of the table.
        match tx.commit(run, &staged, opts.checkpoint_every)? {
            Ok(done) => {
                report.commit = Some(done.sequence);
                report.rejects_path = done.rejects.map(|l| l.to_string());
                report.after_commit_errors.extend(done.after_commit_errors);
                report.warnings.extend(done.warnings);
            }
            Err(conflict) => {
                // Nothing of this run was kept: its staged files and rejects went (the other run has those lines).
                report.rejects_path = None;
                report.status = RunStatus::Conflict;
                report.error = Some(conflict.to_string());
                report.rows_discarded = report.rows_in;
                (report.rows_written, report.rows_rejected, report.rows_unchanged) = (0, 0, 0);
                report.rejects_by_reason.clear();
                report.unknown_values.clear();
                (report.files_written, report.bytes_written) = (0, 0);
                report.partitions.clear();
                report.files.clear();
            }
        }
    }
    if report.commit.is_some() && report.files_written > 0 {
        let o = match &opts.ddl {
            Some(o) => o.clone(),
            None => default_ddl_options(&opts.output),
        };
        match write_ddl(out_storage.as_ref(), &opts.output, &o) {
            Ok(dir) => report.ddl_path = Some(dir.to_string()),
            Err(e) => report.after_commit_errors.push(format!("the DDL was not written: {e}")),
        }
    }
    let json = serde_json::to_vec_pretty(&report).expect("report serializes");
    if let Err(e) = out_storage.put(&report_location, &json) {
        if report.commit.is_none() && report.status != RunStatus::Conflict {
            return Err(e);
        }
        report.after_commit_errors.push(format!("this report was not stored: {e}"));
    }
    Ok(report)
}

/// What a run converts, decided from the inputs found and the table's log.
struct Planned {
    /// The inputs to read: new ones, changed ones, and those read again to rebuild partitions.
    inputs: Vec<(Arc<dyn Storage>, InputFile)>,
    /// Input key → the location the table records it under, where it records it.
    records: HashMap<String, String>,
    files_skipped: u64,
    rebuild: Option<Rebuild>,
    /// Runs this one replaces (`--full-refresh`).
    replaces: Vec<String>,
    /// Files this one replaces (the rebuilt partitions' files).
    replaces_files: Vec<String>,
}

/// Decides what to convert: inputs the table records unchanged are skipped; a changed one
/// replaces its earlier rows, so the partitions it wrote to are rebuilt from every input
/// that wrote to them (their other rows are already in place and left alone), and the
/// files the table records in those partitions are replaced.
fn plan_inputs(
    opts: &ConvertOptions,
    manifest: &Manifest,
    inputs: Vec<(Arc<dyn Storage>, InputFile)>,
) -> Result<Planned> {
    let replaces = if opts.full_refresh { manifest.run_ids() } else { Vec::new() };
    let mut records: HashMap<String, String> = HashMap::new();
    let mut seen = Vec::with_capacity(inputs.len());
    for (st, f) in &inputs {
        let record = if opts.full_refresh { None } else { manifest.record_of(st.as_ref(), f)? };
        seen.push(manifest.seen(record.as_deref(), f));
        if let Some(r) = record {
            records.insert(f.key.clone(), r);
        }
    }
    let changed: Vec<(&InputFile, &String)> = inputs
        .iter()
        .zip(&seen)
        .filter_map(|((_, f), s)| match s {
            Seen::Changed(run) => Some((f, run)),
            _ => None,
        })
        .collect();
    let mut rebuild = None;
    let mut replaces_files: Vec<String> = Vec::new();
    let mut again: HashSet<String> = HashSet::new();
    if !changed.is_empty() || !opts.rebuild.is_empty() {
        let mut parts: BTreeSet<String> = opts.rebuild.iter().cloned().collect();
        for (f, run) in &changed {
            let p = manifest.partitions_of(&records[&f.key]).ok_or_else(|| {
                Error::Refused(format!(
                    "{} changed since run {run} converted it, and that run did not record where its rows went \
                     (an older flowlake): run again with --full-refresh",
                    f.location()
                ))
            })?;
            parts.extend(p.iter().cloned());
        }
        // Record → the input listed now that it is.
        let listed_now: HashMap<&str, &str> = records.iter().map(|(k, r)| (r.as_str(), k.as_str())).collect();
        for rec in manifest.inputs_writing_to(&parts) {
            let Some(key) = listed_now.get(rec.as_str()) else {
                let why = match changed.first() {
                    Some((f, _)) => format!("{} changed, so", f.location()),
                    None => "to repair them,".to_string(),
                };
                return Err(Error::Refused(format!(
                    "{why} partitions {} are rebuilt, but {rec}, which also wrote to them, is not among \
                     this run's inputs (moved, deleted or filtered out): include it, or run with --full-refresh",
                    parts.iter().cloned().collect::<Vec<_>>().join(", ")
                )));
            };
            again.insert(key.to_string());
        }
        // The files the table records there (a file the log does not know is no one's to delete).
        replaces_files = manifest
            .live_files()
            .into_keys()
            .filter(|f| f.rsplit_once('/').is_some_and(|(d, _)| parts.contains(d)))
            .collect();
        let changed: HashSet<&str> = changed.iter().map(|(f, _)| f.key.as_str()).collect();
        rebuild = Some(Rebuild {
            partitions: parts.into_iter().collect(),
            reread: again.iter().filter(|k| !changed.contains(k.as_str())).cloned().collect(),
        });
    }
    let mut files_skipped = 0u64;
    let mut seen = seen.into_iter();
    let mut inputs = inputs;
    inputs.retain(|(_, f)| match seen.next().expect("one per input") {
        Seen::New | Seen::Changed(_) => true,
        Seen::Done if again.contains(&f.key) => true,
        Seen::Done => {
            files_skipped += 1;
            false
        }
    });
    Ok(Planned { inputs, records, files_skipped, rebuild, replaces, replaces_files })
}
