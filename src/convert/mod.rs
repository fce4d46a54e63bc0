//! A conversion: flow-log files into the partitioned Parquet table, as one transaction.
//!
//! The stages, each in its own file:
//!
//! - [`plan`](self::plan): find the inputs (each once), keep a shard's share, and decide
//!   from the table's log what is new, unchanged or changed (partitions to rebuild);
//! - [`scan`](self::scan): find each input's kind, read its header (or first record) into a
//!   format, and plan the table's columns;
//! - [`run`](self::run): one attempt, a pool of workers that each take the next input,
//!   [`read`](self::read) it into per-partition batches and rejects, and hand full
//!   batches over to be [`write`](self::write)n into Parquet files by the sink;
//! - [`finish`](self::finish): the report, the commit, the DDL.
//!
//! [`convert`] wires them; every line read ends up in the report as a row or a reject.

use std::sync::Arc;
use std::time::Instant;

use crate::ddl::DdlOptions;
use crate::enrich::{EnrichSpec, Enricher, Tables};
use crate::error::{Error, Result};
use crate::format::Format;
use crate::input::InputKind;
use crate::partition::Layout;
use crate::report::{self, RunReport};
use crate::sink::ParquetOptions;
use crate::source::{self, InputFilter, Shard};
use crate::storage::{self, Location, Storage, StorageOptions};
use crate::table::log;
use crate::table::{Transaction, paths};

mod finish;
mod plan;
mod read;
mod run;
mod scan;
mod write;

pub use scan::{ColumnInfo, Reading, SchemaReport, inspect};

/// Everything a conversion needs to know. Build with [`ConvertOptions::new`]
/// and the `with_*` setters.
#[derive(Clone, Debug)]
pub struct ConvertOptions {
    inputs: Vec<Location>,
    output: Location,
    format: Option<Format>,
    input_kind: InputKind,
    globs: Vec<String>,
    threads: usize,
    layout: Option<Layout>,
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
    enrich: Vec<EnrichSpec>,
    allow_unenriched: bool,
}

impl ConvertOptions {
    /// Converts the files at or under `inputs` into a Parquet table at `output`.
    pub fn new(inputs: Vec<Location>, output: Location) -> ConvertOptions {
        ConvertOptions {
            inputs,
            output,
            format: None,
            input_kind: InputKind::Auto,
            globs: Vec::new(),
            threads: 0,
            layout: None,
            parquet: ParquetOptions::default(),
            max_rejects: None,
            batch_rows: 64 * 1024,
            ddl: None,
            storage: StorageOptions::default(),
            filter: InputFilter::default(),
            s3_concurrency: 16,
            shard: None,
            full_refresh: false,
            checkpoint_every: log::checkpoint::DEFAULT_EVERY,
            read_whole_max: source::WHOLE_FILE_MAX,
            rebuild: Vec::new(),
            enrich: Vec::new(),
            allow_unenriched: false,
        }
    }

    /// The format of headerless input files. Files that start with a header
    /// line always use their header. Default: none (headerless files are rejected).
    pub fn with_format(mut self, format: Option<Format>) -> Self {
        self.format = format;
        self
    }

    /// The inputs' kind. Default: [`InputKind::Auto`], each input's kind found from its
    /// content (text, CloudWatch Logs exports and subscription payloads, Firehose deliveries).
    pub fn with_input_kind(mut self, kind: InputKind) -> Self {
        self.input_kind = kind;
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

    /// Partition layout. Default: the table's (that of the files its log names), or
    /// [`Layout::Date`] for a new table. A layout other than the table's is refused,
    /// unless the run is a full refresh (which rewrites the whole table in it).
    pub fn with_layout(mut self, layout: Layout) -> Self {
        self.layout = Some(layout);
        self
    }

    /// The layout the run writes (once resolved against the table by [`convert`]).
    fn layout(&self) -> Layout {
        self.layout.unwrap_or_default()
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
    /// [`log::checkpoint::DEFAULT_EVERY`].
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

    /// Lookup tables whose answers the run adds as columns (`--enrich`): see
    /// [`crate::enrich`] and [`crate::schema::ENRICHED`].
    pub fn with_enrich(mut self, specs: Vec<EnrichSpec>) -> Self {
        self.enrich = specs;
        self
    }

    /// Converts into a table whose earlier runs used `--enrich` tables this run is not
    /// given, leaving those columns empty in this run's rows (`--allow-unenriched`).
    /// Default: such a run is refused, since its rows would quietly lack the answers.
    pub fn with_allow_unenriched(mut self, allow: bool) -> Self {
        self.allow_unenriched = allow;
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

impl ConvertOptions {
    /// Refuses options no run can start with.
    fn check(&self) -> Result<()> {
        if self.inputs.is_empty() {
            return Err(Error::Usage("no inputs given".into()));
        }
        if self.full_refresh && self.shard.is_some() {
            // Each shard would replace every earlier run, the other shards' refreshes included.
            return Err(Error::Usage(
                "a full refresh replaces every earlier run of the table, so it cannot be split into shards \
                 (each shard would replace the others' rows): run it once without a shard, or convert with \
                 shards into a new table and switch readers to it"
                    .into(),
            ));
        }
        let threads = self.threads();
        if threads > MAX_THREADS {
            return Err(Error::Usage(format!("{threads} worker threads is more than the {MAX_THREADS} a run takes")));
        }
        Ok(())
    }
}

/// The options with the layout the run writes: the one asked for, else the table's (a
/// new table's: date). A table holds one layout: a run asking for another is refused
/// before it reads anything (its rows would land in folders the table's readers do not
/// look in, and a rebuild of a partition would drop them). A full refresh replaces every
/// file, so it may change the layout.
fn with_table_layout(opts: &ConvertOptions, table_log: &log::Manifest) -> Result<ConvertOptions> {
    let table = table_log.layout();
    match (opts.layout, table) {
        (Some(asked), Some(table)) if asked != table && !opts.full_refresh => Err(Error::Usage(format!(
            "the table at {} is partitioned by {table}, and this run asks for {asked}: leave out --partition \
             (or pass --partition {table}), or pass --full-refresh to rewrite the whole table by {asked}",
            opts.output
        ))),
        (asked, table) => Ok(opts.clone().with_layout(asked.or(table).unwrap_or_default())),
    }
}

/// Refuses a run that would leave out lookup tables the table's earlier runs enriched
/// its rows with: their columns would be empty in this run's rows, with nothing to tell.
/// (A full refresh rewrites every row with this run's tables, and may drop them.)
/// Returns whether the commit must keep to this as well ([`Transaction::keep_enrichment`]),
/// against runs that commit enriched rows while this one goes.
fn check_enrichment(opts: &ConvertOptions, table_log: &log::Manifest) -> Result<bool> {
    if opts.allow_unenriched || opts.full_refresh {
        return Ok(false);
    }
    let missing: Vec<String> = table_log
        .enrichment()
        .into_iter()
        .filter(|(table, _)| !opts.enrich.iter().any(|s| s.table.name() == table))
        .map(|(table, files)| {
            let more = match files.len() {
                0 | 1 => String::new(),
                n => format!(" and {} more", n - 1),
            };
            format!("--enrich {table}={}{more}", files.first().map_or("FILE", String::as_str))
        })
        .collect();
    if missing.is_empty() {
        return Ok(true);
    }
    Err(Error::Usage(format!(
        "the table at {} holds enrichment columns this run is not given the tables for, so its rows \
         would have them empty: pass {} (the newest run's; a newer copy is fine), or \
         --allow-unenriched to convert without them",
        opts.output,
        missing.join(" and ")
    )))
}

/// The table's storage and where the run's report goes, checked before any work: the
/// output is not a file, and is writable (its bucket exists), so that a run fails now,
/// not after an hour of work.
fn open_output(opts: &ConvertOptions, run_id: &str) -> Result<(Arc<dyn Storage>, Location)> {
    let out = storage::storage_for(&opts.output, &opts.storage)?;
    let report_location = paths::report(&opts.output, run_id);
    if out.is_file(&opts.output)? {
        return Err(Error::Usage(format!(
            "output {} is a file; give a folder (it is created if missing)",
            opts.output
        )));
    }
    drop(out.create(&report_location)?);
    if out.is_remote() {
        out.list_dir(&opts.output)?;
    }
    Ok((out, report_location))
}

/// Converts flow-log files into a partitioned Parquet table.
///
/// Returns `Err` when the run cannot start (bad options, missing input,
/// output not writable). Once started, a run always returns a report, also
/// written to `OUT/_flowlake/runs/<run>.json`; a run that stopped (too many
/// rejects, a write error) has status [`report::RunStatus::Failed`] and leaves no rows behind.
pub fn convert(opts: &ConvertOptions, progress: &dyn Progress) -> Result<RunReport> {
    let (t0, started, run_id) = (Instant::now(), report::now_unix(), report::new_run_id());
    opts.check()?;
    let threads = opts.threads();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("flowlake-{i}"))
        .build()
        .map_err(|e| Error::Failed(format!("cannot start {threads} worker threads: {e}")))?;
    // The lookup tables first: a table that cannot be read stops the run before any work.
    let tables = Arc::new(Tables::load(&opts.enrich, &opts.storage)?);
    let found = plan::discover_all(&opts.inputs, &opts.globs, &opts.storage, &opts.filter)?;
    let mut inputs = found.files;
    let files_listed = plan::keep_shard(&mut inputs, opts.shard);
    // Shards write into one table at once: their file names must never collide.
    let name = match opts.shard {
        Some(s) => format!("{run_id}-s{}of{}", s.index, s.count),
        None => run_id.clone(),
    };
    let (out, report_location) = open_output(opts, &run_id)?;
    // The run is one transaction on the table: begun from its log (after finishing what
    // interrupted runs committed), its files and rejects staged under a hidden folder,
    // committed in order or not at all, and only then moved into place.
    let mut tx = Transaction::begin(out.clone(), &opts.output, &name, started as i64)?;
    let opts = &with_table_layout(opts, tx.log())?;
    if check_enrichment(opts, tx.log())? {
        tx.keep_enrichment();
    }
    let mut planned = plan::plan_inputs(opts, tx.log(), inputs)?;
    let inputs = std::mem::take(&mut planned.inputs);
    let fetches = if inputs.iter().any(|(s, _)| s.is_remote()) { inputs.clone() } else { Vec::new() };
    let reading = Reading { format: opts.format.as_ref(), kind: opts.input_kind };
    let reserved = tables.reserved_columns();
    let scanned =
        scan::scan_inputs(inputs, reading, &reserved, &planned.as_recorded, opts.layout(), &pool, opts.s3_concurrency)?;
    let enricher = Enricher::new(tables.clone(), &scanned.table);
    progress.start(scanned.jobs.len() as u64, scanned.jobs.iter().map(|j| j.input.meta.size).sum());
    let setup = run::Setup {
        opts,
        scanned: &scanned,
        storage: &out,
        staging_root: tx.staging(),
        file_prefix: &name,
        rejects_location: tx.staged_rejects(),
        progress,
        fetches: &fetches,
        threads,
        rebuild: planned.rebuild.as_ref(),
        enricher: enricher.as_ref(),
    };
    let (mut attempt, attempts) = run::attempt_until_known(&setup, &pool)?;
    let (unreadable, notes) = (found.unreadable, found.notes);
    let tables = &tables;
    let facts = finish::RunFacts {
        run_id,
        started,
        t0,
        threads,
        attempts,
        files_listed,
        unreadable,
        notes,
        report_location,
        enrichment: finish::Enrichment { tables, enricher: enricher.as_ref() },
    };
    let report_location = facts.report_location.clone();
    let (mut report, staged) = finish::report_of(opts, facts, &planned, &scanned, &tx, &mut attempt);
    let job_parts = std::mem::take(&mut attempt.job_parts);
    finish::commit(opts, tx, &mut report, &staged, &scanned, job_parts, planned)?;
    finish::store(opts, out.as_ref(), &mut report, &report_location)?;
    Ok(report)
}
