//! `flowlake convert`: its flags, the progress bar and the summary of a run.

use super::*;

#[derive(Args, Debug)]
pub(super) struct ConvertArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Output folder for the Parquet table; created if missing. Each run adds files with unique names.
    #[arg(long, short, value_name = "OUT")]
    out: String,
    /// Partition layout: date (date=YYYY-MM-DD), hour (date=…/hour=HH), aws (AWS's Hive-compatible
    /// aws-account-id=…/aws-service=…/aws-region=…/year=…/month=…/day=…) or aws-hour (… /hour=HH).
    /// Default: the table's own, or date for a new table; another than the table's is
    /// refused, except with --full-refresh.
    #[arg(long, value_name = "LAYOUT")]
    partition: Option<String>,
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
    /// Convert into a table enriched by earlier runs without giving their lookup tables
    /// again: this run's rows have those columns empty. Without it, such a run is refused
    /// (exit 2) and the message names the --enrich flags the table's runs used.
    #[arg(long)]
    allow_unenriched: bool,
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
    enrich: EnrichArgs,
    #[command(flatten)]
    s3: S3Args,
}

pub(super) fn convert_options(a: &ConvertArgs) -> Result<ConvertOptions> {
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
    let mut opts = ConvertOptions::new(a.input.locations()?, out);
    if let Some(p) = &a.partition {
        opts = opts.with_layout(p.parse()?);
    }
    Ok(opts
        .with_ddl(Some(names))
        .with_storage(a.s3.options())
        .with_filter(filter)
        .with_s3_concurrency(a.s3_concurrency)
        .with_shard(a.shard.as_deref().map(str::parse).transpose()?)
        .with_full_refresh(a.full_refresh)
        .with_checkpoint_every(a.checkpoint_every)
        .with_format(a.input.format()?)
        .with_input_kind(a.input.kind())
        .with_globs(a.input.globs.clone())
        .with_threads(a.threads)
        .with_parquet(parquet)
        .with_max_rejects(a.max_rejects)
        .with_enrich(a.enrich.specs()?)
        .with_allow_unenriched(a.allow_unenriched))
}

pub(super) fn convert(a: ConvertArgs) -> Result<u8> {
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

pub(super) struct Bar {
    pb: ProgressBar,
    files: AtomicU64,
    files_done: AtomicU64,
    rows: AtomicU64,
}

impl Bar {
    pub(super) fn new(enabled: bool) -> Bar {
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

pub(super) fn summary(r: &RunReport) -> String {
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

pub(super) fn exit_code(r: &RunReport) -> u8 {
    match r.status {
        RunStatus::Conflict => 3,
        RunStatus::Ok if r.after_commit_errors.is_empty() => 0,
        RunStatus::Ok | RunStatus::CompletedWithErrors | RunStatus::Failed => 1,
    }
}
