//! Parquet output: one rolling file per partition, files sized by
//! `--target-file-size`, each made visible only when complete. Every thread
//! encodes its own row groups (with `--clusters N`, one per range of the sort
//! column, shared by lanes of N threads) and appends them whole to the partition's file.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array};
use arrow_ord::ord::make_comparator;
use arrow_ord::sort::{SortColumn, lexsort_to_indices};
use arrow_schema::SchemaRef;
use arrow_schema::SortOptions;
use arrow_select::take::{take, take_record_batch};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression as PqCompression, GzipLevel, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::storage::{Location, ObjectWriter, Storage};

/// Parquet compression codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// zstd at a level (1–22).
    Zstd(i32),
    /// Snappy.
    Snappy,
    /// gzip at a level (0–9).
    Gzip(u32),
    /// No compression.
    None,
}

/// The zstd level of the default codec and of `zstd` without a level: on flow logs level 1
/// writes files within 1% of level 3's size, about 10% faster (measured by
/// scripts/bench.sh; see BENCHMARKS.md).
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// The gzip level of `gzip` without a level (zlib's own default).
pub const DEFAULT_GZIP_LEVEL: u32 = 6;

impl Default for Compression {
    /// zstd at [`DEFAULT_ZSTD_LEVEL`].
    fn default() -> Self {
        Compression::Zstd(DEFAULT_ZSTD_LEVEL)
    }
}

impl std::str::FromStr for Compression {
    type Err = Error;
    /// Parses `zstd[:LEVEL]`, `snappy`, `gzip[:LEVEL]` or `none`; a codec without a level
    /// takes [`DEFAULT_ZSTD_LEVEL`] or [`DEFAULT_GZIP_LEVEL`].
    fn from_str(s: &str) -> Result<Compression> {
        let (name, level) = match s.split_once(':') {
            Some((n, l)) => (n, Some(l)),
            None => (s, None),
        };
        let bad =
            || Error::Usage(format!("invalid compression `{s}`: expected zstd[:1-22], snappy, gzip[:0-9] or none"));
        let lvl = |max: i64| -> Result<Option<i64>> {
            match level {
                None => Ok(None),
                Some(l) => l.parse::<i64>().ok().filter(|v| (0..=max).contains(v)).map(Some).ok_or_else(bad),
            }
        };
        match name.to_ascii_lowercase().as_str() {
            "zstd" => Ok(lvl(22)?.map_or(Compression::default(), |l| Compression::Zstd(l.max(1) as i32))),
            "gzip" => Ok(Compression::Gzip(lvl(9)?.map_or(DEFAULT_GZIP_LEVEL, |l| l as u32))),
            "snappy" if level.is_none() => Ok(Compression::Snappy),
            "none" | "uncompressed" if level.is_none() => Ok(Compression::None),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Compression::Zstd(l) => write!(f, "zstd:{l}"),
            Compression::Snappy => f.write_str("snappy"),
            Compression::Gzip(l) => write!(f, "gzip:{l}"),
            Compression::None => f.write_str("none"),
        }
    }
}

impl Compression {
    fn to_parquet(self) -> PqCompression {
        match self {
            Compression::Zstd(l) => PqCompression::ZSTD(ZstdLevel::try_new(l).unwrap_or_default()),
            Compression::Snappy => PqCompression::SNAPPY,
            Compression::Gzip(l) => PqCompression::GZIP(GzipLevel::try_new(l).unwrap_or_default()),
            Compression::None => PqCompression::UNCOMPRESSED,
        }
    }
}

/// How Parquet files are written.
#[derive(Clone, Debug)]
pub struct ParquetOptions {
    /// Codec; default zstd level 1.
    pub compression: Compression,
    /// Rows per row group; default 262,144 (DuckDB writes 122,880, polars 262,144).
    pub row_group_size: usize,
    /// Most rows per data page; default 8,192. Page statistics (the page index) let readers
    /// skip pages, so a lookup on the sorted column reads fewer rows with smaller pages
    /// (measured: one address's lookup in DataFusion matched 0.8 M rows of 6 M instead of
    /// 2.8 M with Parquet's usual 20,000, in files 0.4% smaller, no slower to write, with
    /// less memory).
    pub page_rows: usize,
    /// A file is closed and a new one started once it reaches this size; default 256 MiB.
    pub target_file_size: u64,
    /// Most files kept open at once; the least recently used is closed beyond it. Default 8.
    pub max_open_files: usize,
    /// Most memory the row groups being built may hold, per thread writing (each thread
    /// encodes its own row groups). Beyond it the least recently used row groups are written
    /// out early (smaller row groups, bounded memory). Default 16 MiB (measured: with 64 MiB,
    /// 4× the input over 13 days instead of 3 raised peak RSS by 23–38%, with 16 MiB by 5–11%,
    /// for 3% more output bytes).
    pub memory_budget: usize,
    /// Columns that get a Parquet bloom filter per row group (those the table has),
    /// so a point lookup skips row groups without the value. Default `srcaddr`, `dstaddr`.
    pub bloom_filter: Vec<String>,
    /// Columns each written batch is sorted by (runs of up to `batch_rows` rows), which
    /// narrows page statistics for lookups on them and compresses better. Default `srcaddr`
    /// (measured: files 9% smaller, questions 13–19% faster, no measurable conversion cost).
    pub sort: Vec<String>,
    /// Columns written without Parquet dictionary encoding (plain values, then the codec).
    /// Default `packets`, `bytes`: nearly every value differs, so a dictionary fills up and
    /// falls back part way through a row group (measured: without it files are 5.6% smaller
    /// and the conversion about 6% faster; other columns lose size without theirs).
    pub no_dictionary: Vec<String>,
    /// Ranges of the first sort column a partition's rows are split into (1: off). Each row
    /// group holds rows of one range, so its min/max statistics are narrow and an engine that
    /// reads only row-group statistics (DuckDB, Athena) skips most row groups of a lookup on
    /// that column, as if each file were sorted whole, in bounded memory. The ranges are cut
    /// at quantiles of the partition's first batch. Default 1 (measured on the benchmark's
    /// sample with 4 ranges and a 32 MiB write buffer: a one-address lookup in DuckDB reads
    /// 5% of the files' bytes instead of 11% and runs twice as fast, but the conversion takes
    /// about 10% more CPU, since every range has its own dictionaries; see BENCHMARKS.md).
    pub clusters: usize,
}

/// A row group no thread has added to in this many writes per thread is written out.
const IDLE_WRITES: u64 = 4;

/// A partition's ranges are cut once a batch has this many values per range.
const MIN_ROWS_PER_RANGE: usize = 1024;

/// Ascending, nulls last: the order batches are sorted in.
const NULLS_LAST: SortOptions = SortOptions { descending: false, nulls_first: false };

/// The false-positive rate of bloom filters: 1% (filters are folded to their smallest size).
const BLOOM_FPP: f64 = 0.01;

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            compression: Compression::default(),
            row_group_size: 256 * 1024,
            page_rows: 8192,
            target_file_size: 256 * 1024 * 1024,
            max_open_files: 8,
            memory_budget: 16 * 1024 * 1024,
            bloom_filter: vec!["srcaddr".into(), "dstaddr".into()],
            sort: vec!["srcaddr".into()],
            no_dictionary: vec!["packets".into(), "bytes".into()],
            clusters: 1,
        }
    }
}

/// A Parquet file that was written and committed.
#[derive(Clone, Debug, Serialize)]
pub struct WrittenFile {
    /// The partition folder, e.g. `date=2023-08-01`.
    pub partition: String,
    /// Where the file is.
    #[serde(serialize_with = "crate::report::ser_display")]
    pub location: Location,
    /// Rows in it.
    pub rows: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Counts bytes on their way to the object.
struct Counted {
    inner: Box<dyn ObjectWriter>,
    bytes: u64,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A file being written: row groups are appended whole, so it is locked only for that.
struct OpenFile {
    writer: SerializedFileWriter<Counted>,
    location: Location,
    rows: u64,
    last_used: u64,
}

/// A row group being encoded by one thread for one partition, outside any file's lock.
struct RowGroup {
    columns: Vec<ArrowColumnWriter>,
    rows: usize,
    last_used: u64,
    /// Memory of the encoders, as last added to the sink's total.
    mem: usize,
}

/// A partition's file, and when the partition was last written to (its rows may sit in
/// row groups in progress long before they reach the file).
#[derive(Default)]
struct FileSlot {
    file: Mutex<Option<OpenFile>>,
    last_write: AtomicU64,
    /// Bytes in the open file (0 when none is open).
    bytes: AtomicU64,
}

impl FileSlot {
    /// Takes the open file out (to close it), leaving the slot empty.
    fn take(&self, file: &mut Option<OpenFile>) -> Option<OpenFile> {
        self.bytes.store(0, Ordering::Relaxed);
        file.take()
    }
}

type GroupSlot = Arc<Mutex<Option<RowGroup>>>;

/// A row group in progress: partition folder, lane of threads, range of the sort column.
type GroupKey = (String, usize, usize);

/// Writes batches into partition folders under an output root. Safe to share
/// between threads: each thread encodes its own row groups (one per partition it
/// writes; with clusters, one per partition and range, shared by a lane of threads
/// that take turns), so threads writing the same partition do not wait for each other;
/// a finished row group is appended to the partition's file under a short lock.
pub struct PartitionedSink {
    storage: Arc<dyn Storage>,
    root: Location,
    schema: SchemaRef,
    props: WriterProperties,
    /// Makes the column encoders of new row groups (the schema and properties every file shares).
    encoders: ArrowRowGroupWriterFactory,
    opts: ParquetOptions,
    file_prefix: String,
    seq: AtomicU64,
    tick: AtomicU64,
    files: Mutex<HashMap<String, Arc<FileSlot>>>,
    groups: Mutex<HashMap<GroupKey, GroupSlot>>,
    /// Per partition: where its ranges of the first sort column start (sorted; empty: one
    /// range), cut from its first batch big enough to show the spread of values. Kept for
    /// the whole run, as its row groups are known by range number: a file slot closed and
    /// opened again must not cut other ranges while row groups of the old ones are pending.
    bounds: Mutex<HashMap<String, Arc<OnceLock<ArrayRef>>>>,
    written: Mutex<Vec<WrittenFile>>,
    /// Memory held by row groups in progress, over all threads and partitions.
    mem: AtomicU64,
    /// Threads that have written, numbered in the order they first did (the memory budget
    /// is per writing thread).
    writers: Mutex<HashMap<ThreadId, usize>>,
    /// Indexes of the columns batches are sorted by.
    sort_columns: Vec<usize>,
}

impl PartitionedSink {
    /// A sink writing files named `part-<file_prefix>-<n>.parquet`.
    /// `file_prefix` must be unique per run so that runs never overwrite each other.
    pub fn new(
        storage: Arc<dyn Storage>,
        root: Location,
        schema: SchemaRef,
        opts: ParquetOptions,
        file_prefix: &str,
    ) -> Result<PartitionedSink> {
        let mut props = WriterProperties::builder();
        for c in &opts.bloom_filter {
            if schema.field_with_name(c).is_ok() {
                let path = ColumnPath::from(c.as_str());
                props = props
                    .set_column_bloom_filter_enabled(path.clone(), true)
                    .set_column_bloom_filter_fpp(path.clone(), BLOOM_FPP)
                    .set_column_bloom_filter_max_ndv(path, opts.row_group_size as u64);
            }
        }
        for c in &opts.no_dictionary {
            if schema.field_with_name(c).is_ok() {
                props = props.set_column_dictionary_enabled(ColumnPath::from(c.as_str()), false);
            }
        }
        let sort_columns = opts.sort.iter().filter_map(|c| schema.index_of(c).ok()).collect();
        let props = props
            .set_compression(opts.compression.to_parquet())
            .set_max_row_group_row_count(Some(opts.row_group_size))
            .set_dictionary_enabled(true)
            .set_data_page_row_count_limit(opts.page_rows.max(1))
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_created_by(format!("flowlake version {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(vec![KeyValue::new("flowlake.run".into(), file_prefix.to_string())]))
            .build();
        // Encoders are made the way `ArrowWriter` makes them for a file (with the Arrow schema in its metadata).
        let (_, encoders) = ArrowWriter::try_new(io::sink(), schema.clone(), Some(props.clone()))
            .and_then(|w| w.into_serialized_writer())
            .map_err(|e| Error::Failed(format!("cannot set up the Parquet writer: {e}")))?;
        Ok(PartitionedSink {
            storage,
            root,
            schema,
            props,
            encoders,
            opts,
            file_prefix: file_prefix.to_string(),
            seq: AtomicU64::new(0),
            tick: AtomicU64::new(0),
            files: Mutex::new(HashMap::new()),
            groups: Mutex::new(HashMap::new()),
            bounds: Mutex::new(HashMap::new()),
            written: Mutex::new(Vec::new()),
            mem: AtomicU64::new(0),
            writers: Mutex::new(HashMap::new()),
            sort_columns,
        })
    }

    /// The batch sorted by the sort columns (nulls last), or as it is when there are none.
    fn sorted(&self, batch: &RecordBatch) -> Result<Option<RecordBatch>> {
        if self.sort_columns.is_empty() || batch.num_rows() < 2 {
            return Ok(None);
        }
        let fail = |e: arrow_schema::ArrowError| Error::Failed(format!("cannot sort a batch: {e}"));
        if let [i] = self.sort_columns[..]
            && let Some(text) = batch.column(i).as_any().downcast_ref::<StringArray>()
        {
            return Ok(Some(take_record_batch(batch, &text_sort_indices(text)).map_err(fail)?));
        }
        let keys: Vec<SortColumn> = self
            .sort_columns
            .iter()
            .map(|&i| SortColumn { values: batch.column(i).clone(), options: Some(NULLS_LAST) })
            .collect();
        let idx = lexsort_to_indices(&keys, None).map_err(fail)?;
        Ok(Some(take_record_batch(batch, &idx).map_err(fail)?))
    }

    /// Brings the row group's memory figure up to date in the sink's total.
    fn account(&self, group: &mut RowGroup) {
        let now: usize = group.columns.iter().map(|c| c.memory_size()).sum();
        if now >= group.mem {
            self.mem.fetch_add((now - group.mem) as u64, Ordering::Relaxed);
        } else {
            self.mem.fetch_sub((group.mem - now) as u64, Ordering::Relaxed);
        }
        group.mem = now;
    }

    /// Over budget: the least recently used row groups are written out early.
    fn relieve_memory(&self) -> Result<()> {
        let budget = self.opts.memory_budget as u64 * self.writer_count();
        if self.mem.load(Ordering::Relaxed) <= budget {
            return Ok(());
        }
        let groups: Vec<(GroupKey, GroupSlot)> =
            self.groups.lock().expect("sink lock").iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut open: Vec<(u64, String, GroupSlot)> = groups
            .into_iter()
            .filter_map(|((partition, ..), s)| {
                let t = s.try_lock().ok()?.as_ref().map(|g| g.last_used)?;
                Some((t, partition, s))
            })
            .collect();
        open.sort_by_key(|(t, ..)| *t);
        for (_, partition, slot) in open {
            if self.mem.load(Ordering::Relaxed) <= budget / 2 {
                break;
            }
            let Ok(mut guard) = slot.try_lock() else { continue };
            if let Some(group) = guard.take() {
                drop(guard);
                self.append(&partition, group)?;
            }
        }
        Ok(())
    }

    /// Writes out row groups no thread has added to lately (a partition the input has
    /// moved past), so they do not sit in memory until the budget pushes them out.
    fn write_out_idle(&self) -> Result<()> {
        let now = self.tick.load(Ordering::Relaxed);
        // Every range of a batch is one write.
        let horizon = IDLE_WRITES * self.writer_count() * self.opts.clusters.max(1) as u64;
        let groups: Vec<(String, GroupSlot)> =
            self.groups.lock().expect("sink lock").iter().map(|((p, ..), s)| (p.clone(), s.clone())).collect();
        for (partition, slot) in groups {
            let Ok(mut guard) = slot.try_lock() else { continue };
            if guard.as_ref().is_some_and(|g| g.last_used + horizon < now) {
                let group = guard.take().expect("checked");
                drop(guard);
                self.append(&partition, group)?;
            }
        }
        // A file whose partition nobody has written to for four times as long is closed
        // (it holds a write buffer and its footer's metadata until then).
        let files: Vec<(String, Arc<FileSlot>)> =
            self.files.lock().expect("sink lock").iter().map(|(p, s)| (p.clone(), s.clone())).collect();
        for (partition, slot) in files {
            if slot.last_write.load(Ordering::Relaxed) + 4 * horizon >= now {
                continue;
            }
            let Ok(mut guard) = slot.file.try_lock() else { continue };
            if guard.as_ref().is_some_and(|f| f.last_used + 4 * horizon < now) {
                let file = slot.take(&mut guard).expect("checked");
                drop(guard);
                self.close(&partition, file)?;
            }
        }
        // Forget empty slots nobody holds (a year of hourly partitions would otherwise make
        // every pass over them longer). Clones are made under these locks, so a count of one
        // means no thread is about to use the slot.
        self.groups
            .lock()
            .expect("sink lock")
            .retain(|_, s| Arc::strong_count(s) > 1 || s.try_lock().map(|g| g.is_some()).unwrap_or(true));
        self.files
            .lock()
            .expect("sink lock")
            .retain(|_, s| Arc::strong_count(s) > 1 || s.file.try_lock().map(|g| g.is_some()).unwrap_or(true));
        Ok(())
    }

    /// Appends a batch to a partition, named by its folder (`date=2023-08-01`).
    pub fn write(&self, partition: &str, batch: &RecordBatch) -> Result<()> {
        let sorted = self.sorted(batch)?;
        let batch = sorted.as_ref().unwrap_or(batch);
        let file_slot = self.file_slot(partition);
        let lane = self.lane();
        let mut busy = Vec::new();
        for (range, part) in self.ranges(partition, batch)? {
            let slot = self.group_slot(partition, lane, range);
            if !self.write_range(partition, &file_slot, &slot, &part, false)? {
                busy.push((slot, part));
            }
        }
        // Ranges another thread of the lane was encoding are written once it is done.
        for (slot, part) in busy {
            self.write_range(partition, &file_slot, &slot, &part, true)?;
        }
        self.relieve_memory()
    }

    /// The lane of the calling thread: row groups are shared by `clusters` threads, so a
    /// partition has about as many row groups in progress as there are threads (or ranges),
    /// and without clustering each thread has its own (threads writing one partition never
    /// wait); with it the threads of a lane take turns per range, rarely waiting.
    fn lane(&self) -> usize {
        let mut writers = self.writers.lock().expect("sink lock");
        let n = writers.len();
        *writers.entry(std::thread::current().id()).or_insert(n) / self.opts.clusters.max(1)
    }

    fn group_slot(&self, partition: &str, lane: usize, range: usize) -> GroupSlot {
        let key = (partition.to_string(), lane, range);
        let mut groups = self.groups.lock().expect("sink lock");
        match groups.get(&key) {
            Some(s) => s.clone(),
            None => groups.entry(key).or_default().clone(),
        }
    }

    /// The sorted batch cut into the partition's ranges of its first sort column, as
    /// `(range, rows)` slices (no copies); the whole batch as range 0 when not clustering.
    fn ranges(&self, partition: &str, batch: &RecordBatch) -> Result<Vec<(usize, RecordBatch)>> {
        let whole = || Ok(vec![(0, batch.clone())]);
        let Some(&first) = self.sort_columns.first() else { return whole() };
        if self.opts.clusters < 2 {
            return whole();
        }
        let column = batch.column(first);
        let fail = |e: arrow_schema::ArrowError| {
            Error::Failed(format!(
                "cannot split the rows of {} into ranges of `{}`: {e}; convert with --clusters 1",
                self.root.join(partition),
                self.schema.field(first).name()
            ))
        };
        let cell = self.bounds.lock().expect("sink lock").entry(partition.to_string()).or_default().clone();
        let bounds = match cell.get() {
            Some(b) => b,
            None => match self.cut_bounds(column).map_err(fail)? {
                Some(b) => cell.get_or_init(|| b),
                None => return whole(),
            },
        };
        let cmp = make_comparator(column.as_ref(), bounds.as_ref(), NULLS_LAST).map_err(fail)?;
        let mut out = Vec::with_capacity(bounds.len() + 1);
        let mut start = 0;
        for b in 0..=bounds.len() {
            // Rows are sorted, nulls last: the range ends at the first row not below its bound.
            let end = if b == bounds.len() {
                batch.num_rows()
            } else {
                let (mut lo, mut hi) = (start, batch.num_rows());
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if cmp(mid, b).is_lt() { lo = mid + 1 } else { hi = mid }
                }
                lo
            };
            if end > start {
                out.push((b, batch.slice(start, end - start)));
            }
            start = end;
        }
        Ok(out)
    }

    /// Range starts at quantiles of a sorted column's values, equal ones merged; `None` while
    /// the batch is too small to tell the spread.
    fn cut_bounds(&self, column: &ArrayRef) -> std::result::Result<Option<ArrayRef>, arrow_schema::ArrowError> {
        let n = self.opts.clusters;
        let valid = column.len() - column.null_count();
        if valid < MIN_ROWS_PER_RANGE * n {
            return Ok(None);
        }
        let same = make_comparator(column.as_ref(), column.as_ref(), NULLS_LAST)?;
        let mut at: Vec<u32> = Vec::with_capacity(n - 1);
        for k in 1..n {
            let i = valid * k / n;
            if at.last().is_none_or(|&p| same(p as usize, i).is_ne()) && same(0, i).is_ne() {
                at.push(i as u32);
            }
        }
        Ok(Some(take(column.as_ref(), &UInt32Array::from(at), None)?))
    }

    /// Appends rows of one range to its row group in progress. Returns `false`, having
    /// written nothing, when another thread holds that row group and `wait` is not set.
    fn write_range(
        &self,
        partition: &str,
        file_slot: &FileSlot,
        slot: &GroupSlot,
        batch: &RecordBatch,
        wait: bool,
    ) -> Result<bool> {
        match slot.try_lock() {
            Ok(g) if g.is_none() => {
                drop(g);
                self.write_out_idle()?;
            }
            Ok(_) => {}
            Err(_) if !wait => return Ok(false),
            Err(_) => {}
        }
        let row_group_size = self.opts.row_group_size.max(1);
        let mut at = 0;
        while at < batch.num_rows() {
            let mut guard = slot.lock().expect("row group lock");
            if guard.is_none() {
                let columns = self.encoders.create_column_writers(0).map_err(|e| self.parquet_error(partition, e))?;
                *guard = Some(RowGroup { columns, rows: 0, last_used: 0, mem: 0 });
            }
            let group = guard.as_mut().expect("just made");
            let n = (batch.num_rows() - at).min(row_group_size - group.rows);
            let part = batch.slice(at, n);
            let mut columns = group.columns.iter_mut();
            for (field, array) in self.schema.fields().iter().zip(part.columns()) {
                for leaf in compute_leaves(field, array).map_err(|e| self.parquet_error(partition, e))? {
                    let column = columns.next().expect("one encoder per leaf column");
                    column.write(&leaf).map_err(|e| self.parquet_error(partition, e))?;
                }
            }
            group.rows += n;
            group.last_used = self.tick.fetch_add(1, Ordering::Relaxed);
            file_slot.last_write.store(group.last_used, Ordering::Relaxed);
            self.account(group);
            at += n;
            // A row group is written out when full, or when with it the file would reach its target size.
            let estimate: usize = group.columns.iter().map(|c| c.get_estimated_total_bytes()).sum();
            if group.rows >= row_group_size
                || file_slot.bytes.load(Ordering::Relaxed) + estimate as u64 >= self.opts.target_file_size
            {
                let full = guard.take().expect("in progress");
                drop(guard);
                self.append(partition, full)?;
            }
        }
        Ok(true)
    }

    fn parquet_error(&self, partition: &str, e: parquet::errors::ParquetError) -> Error {
        Error::Parquet { path: self.root.join(partition).to_string(), source: e }
    }

    /// Finishes a row group's column chunks and appends them to the partition's file
    /// (opening one if needed, closing it once it reaches the target size).
    fn append(&self, partition: &str, group: RowGroup) -> Result<()> {
        self.mem.fetch_sub(group.mem as u64, Ordering::Relaxed);
        if group.rows == 0 {
            return Ok(());
        }
        let chunks = group
            .columns
            .into_iter()
            .map(|c| c.close())
            .collect::<parquet::errors::Result<Vec<_>>>()
            .map_err(|e| self.parquet_error(partition, e))?;
        let size: u64 = chunks.iter().map(|c| c.close().metadata.compressed_size() as u64).sum();
        let slot = self.file_slot(partition);
        let mut guard = slot.file.lock().expect("partition lock");
        // A row group that would take the file past its target size starts the next file
        // (row groups from several threads can be in progress for one partition).
        if let Some(file) = guard.as_ref()
            && file.rows > 0
            && file.writer.bytes_written() as u64 + size > self.opts.target_file_size
        {
            let done = slot.take(&mut guard).expect("open");
            self.close(partition, done)?;
        }
        let opened_new = guard.is_none();
        if opened_new {
            *guard = Some(self.open(partition)?);
        }
        let file = guard.as_mut().expect("just opened");
        file.last_used = self.tick.fetch_add(1, Ordering::Relaxed);
        let fail = |e| Error::Parquet { path: file.location.to_string(), source: e };
        let mut row_group = file.writer.next_row_group().map_err(fail)?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut row_group).map_err(fail)?;
        }
        row_group.close().map_err(fail)?;
        file.rows += group.rows as u64;
        slot.bytes.store(file.writer.bytes_written() as u64, Ordering::Relaxed);
        if file.writer.bytes_written() as u64 >= self.opts.target_file_size {
            let done = slot.take(&mut guard).expect("open");
            drop(guard);
            self.close(partition, done)?;
        } else {
            drop(guard);
        }
        if opened_new {
            self.close_idle_beyond_limit(partition)?;
        }
        Ok(())
    }

    /// Threads that have written so far (at least one).
    fn writer_count(&self) -> u64 {
        self.writers.lock().expect("sink lock").len().max(1) as u64
    }

    fn file_slot(&self, partition: &str) -> Arc<FileSlot> {
        let mut files = self.files.lock().expect("sink lock");
        match files.get(partition) {
            Some(s) => s.clone(),
            None => files.entry(partition.to_string()).or_default().clone(),
        }
    }

    fn open(&self, partition: &str) -> Result<OpenFile> {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let rel = format!("{partition}/part-{}-{n:05}.parquet", self.file_prefix);
        let location = self.root.join(&rel);
        let inner = self.storage.create(&location)?;
        let (writer, _) =
            ArrowWriter::try_new(Counted { inner, bytes: 0 }, self.schema.clone(), Some(self.props.clone()))
                .and_then(|w| w.into_serialized_writer())
                .map_err(|e| Error::Parquet { path: location.to_string(), source: e })?;
        Ok(OpenFile { writer, location, rows: 0, last_used: 0 })
    }

    fn close(&self, partition: &str, file: OpenFile) -> Result<()> {
        let path = file.location.to_string();
        let counted = file.writer.into_inner().map_err(|e| Error::Parquet { path: path.clone(), source: e })?;
        let bytes = counted.bytes;
        counted.inner.commit()?;
        self.written.lock().expect("written lock").push(WrittenFile {
            partition: partition.to_string(),
            location: file.location,
            rows: file.rows,
            bytes,
        });
        Ok(())
    }

    /// Keeps at most `max_open_files` files open (each holds an object being
    /// written) by closing the least recently used idle ones.
    fn close_idle_beyond_limit(&self, keep: &str) -> Result<()> {
        loop {
            let victim = {
                let files = self.files.lock().expect("sink lock");
                let open: Vec<(&String, u64)> = files
                    .iter()
                    .filter(|(k, _)| k.as_str() != keep)
                    .filter_map(|(k, s)| s.file.try_lock().ok().and_then(|g| g.as_ref().map(|f| (k, f.last_used))))
                    .collect();
                let open_count =
                    files.values().filter(|s| s.file.try_lock().map(|g| g.is_some()).unwrap_or(true)).count();
                if open_count <= self.opts.max_open_files {
                    return Ok(());
                }
                match open.into_iter().min_by_key(|(_, t)| *t) {
                    Some((k, _)) => (k.clone(), files[k].clone()),
                    None => return Ok(()),
                }
            };
            let taken = victim.1.take(&mut victim.1.file.lock().expect("partition lock"));
            if let Some(file) = taken {
                self.close(&victim.0, file)?;
            }
        }
    }

    /// Writes out every row group in progress, closes every open file and returns
    /// all files this sink committed.
    pub fn finish(self) -> Result<Vec<WrittenFile>> {
        let groups: Vec<(GroupKey, GroupSlot)> = self.groups.lock().expect("sink lock").drain().collect();
        for ((partition, ..), slot) in groups {
            if let Some(group) = slot.lock().expect("row group lock").take() {
                self.append(&partition, group)?;
            }
        }
        let files: Vec<(String, Arc<FileSlot>)> = self.files.lock().expect("sink lock").drain().collect();
        for (partition, slot) in files {
            if let Some(file) = slot.file.lock().expect("partition lock").take() {
                self.close(&partition, file)?;
            }
        }
        let mut written = self.written.into_inner().expect("written lock");
        written.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(written)
    }

    /// Abandons the run: open files are discarded (never visible) and files
    /// already committed by this sink are deleted, so a failed run leaves no rows behind.
    pub fn abort(self) -> Result<()> {
        self.groups.lock().expect("sink lock").clear();
        self.files.lock().expect("sink lock").clear();
        for f in self.written.lock().expect("written lock").drain(..) {
            self.storage.delete(&f.location)?;
        }
        Ok(())
    }
}

/// The order that sorts a string column ascending, nulls last (what `lexsort_to_indices`
/// gives), without a string comparison per step: each value's first 16 bytes, zero-padded,
/// are a big-endian integer key that orders as the text does (an IPv4 address fits whole).
/// Only runs of equal keys that may hide different strings (longer than 16 bytes, or of
/// different lengths) are ordered by the full text.
fn text_sort_indices(a: &StringArray) -> UInt32Array {
    let key = |s: &str| {
        let mut b = [0u8; 16];
        let n = s.len().min(16);
        b[..n].copy_from_slice(&s.as_bytes()[..n]);
        u128::from_be_bytes(b)
    };
    let mut v: Vec<(u128, u32)> =
        (0..a.len()).filter(|&i| a.is_valid(i)).map(|i| (key(a.value(i)), i as u32)).collect();
    v.sort_unstable();
    let mut start = 0;
    while start < v.len() {
        let mut end = start + 1;
        while end < v.len() && v[end].0 == v[start].0 {
            end += 1;
        }
        let run = &mut v[start..end];
        let len0 = a.value(run[0].1 as usize).len();
        if run.len() > 1 && run.iter().any(|&(_, i)| a.value(i as usize).len() != len0 || len0 > 16) {
            run.sort_unstable_by(|x, y| a.value(x.1 as usize).cmp(a.value(y.1 as usize)).then(x.1.cmp(&y.1)));
        }
        start = end;
    }
    let nulls = (0..a.len()).filter(|&i| a.is_null(i)).map(|i| i as u32);
    UInt32Array::from_iter_values(v.into_iter().map(|(_, i)| i).chain(nulls))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `threads × batches` batches of `rows` rows from as many threads into one
    /// partition (`bytes` numbers the rows, `srcaddr` is `addr` of that number), checks
    /// that one file holds every row exactly once, and returns its metadata.
    fn write_concurrently(
        opts: ParquetOptions,
        threads: i64,
        batches: i64,
        rows: i64,
        addr: fn(i64) -> Option<String>,
    ) -> parquet::file::metadata::ParquetMetaData {
        use arrow_array::Int64Array;
        use arrow_schema::{DataType, Field, Schema};
        use parquet::file::reader::{FileReader, SerializedFileReader};

        let dir = tempfile::tempdir().unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("srcaddr", DataType::Utf8, true),
            Field::new("bytes", DataType::Int64, true),
        ]));
        let sink = PartitionedSink::new(
            Arc::new(crate::storage::LocalStorage),
            Location::Local(dir.path().into()),
            schema.clone(),
            opts,
            "t",
        )
        .unwrap();
        std::thread::scope(|s| {
            for t in 0..threads {
                let (sink, schema) = (&sink, schema.clone());
                s.spawn(move || {
                    for b in 0..batches {
                        let v: Vec<i64> = (0..rows).map(|i| (t * batches + b) * rows + i).collect();
                        let a = StringArray::from_iter(v.iter().map(|x| addr(*x)));
                        let batch =
                            RecordBatch::try_new(schema.clone(), vec![Arc::new(a), Arc::new(Int64Array::from(v))])
                                .unwrap();
                        sink.write("date=2023-08-01", &batch).unwrap();
                    }
                });
            }
        });
        let total = (threads * batches * rows) as usize;
        let written = sink.finish().unwrap();
        assert_eq!(written.len(), 1, "one file for the partition: {written:?}");
        assert_eq!(written[0].rows, total as u64);
        let path = written[0].location.as_local().unwrap().to_path_buf();
        let mut seen = vec![false; total];
        for b in
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(std::fs::File::open(&path).unwrap(), 4096)
                .unwrap()
        {
            let b = b.unwrap();
            let v = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
            for x in v.values() {
                assert!(!std::mem::replace(&mut seen[*x as usize], true), "{x} written twice");
            }
        }
        assert!(seen.iter().all(|s| *s), "every row written");
        SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap().metadata().clone()
    }

    #[test]
    fn threads_writing_one_partition_share_its_file() {
        // Four threads, each 30 batches of 170 rows: 20,400 rows.
        let opts = ParquetOptions { row_group_size: 1000, ..ParquetOptions::default() };
        let meta = write_concurrently(opts, 4, 30, 170, |x| Some(format!("10.0.{}.{}", x / 256, x % 256)));
        assert!(meta.num_row_groups() >= 21, "row groups of at most 1,000 rows");
        for rg in meta.row_groups() {
            assert!(rg.num_rows() <= 1000);
        }
    }

    #[test]
    fn clustered_row_groups_hold_disjoint_ranges_of_the_sort_column() {
        use parquet::file::statistics::Statistics;
        // Two threads, each 10 batches of 5,000 rows (every 50th address null): 100,000 rows.
        let opts = ParquetOptions { clusters: 4, memory_budget: 256 << 20, ..ParquetOptions::default() };
        let meta = write_concurrently(opts, 2, 10, 5000, |x| {
            let h = (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
            (x % 50 != 0).then(|| format!("{}.{}.{}.{}", h % 200, (h >> 8) % 256, x / 256 % 256, x % 256))
        });
        // Both threads share a lane, so each of the four ranges is one row group.
        assert_eq!(meta.num_row_groups(), 4);
        let mut ranges: Vec<(Vec<u8>, Vec<u8>)> = meta
            .row_groups()
            .iter()
            .map(|rg| match rg.column(0).statistics() {
                Some(Statistics::ByteArray(s)) => {
                    (s.min_opt().unwrap().data().to_vec(), s.max_opt().unwrap().data().to_vec())
                }
                other => panic!("no text statistics: {other:?}"),
            })
            .collect();
        ranges.sort();
        for w in ranges.windows(2) {
            assert!(w[0].1 < w[1].0, "row groups overlap: {w:?}");
        }
    }

    #[test]
    fn text_sort_orders_like_lexsort() {
        // Addresses of every length, IPv6 longer than the 16-byte key, shared prefixes,
        // a NUL byte, empty strings and nulls, with many repeats.
        let pool = [
            Some("10.192.0.4"),
            Some("10.192.0.40"),
            Some("10.192.100.200"),
            Some("10.192.20.1"),
            Some("2600:1f18:4a2:7e00::1"),
            Some("2600:1f18:4a2:7e00::10"),
            Some("2600:1f18:4a2:7e00:1::"),
            Some("fd12:3456:789a:1::2"),
            Some("a"),
            Some("a\0"),
            Some(""),
            Some("0123456789abcdef"),
            Some("0123456789abcdefg"),
            Some("0123456789abcdee"),
            None,
        ];
        let mut x = 7u64;
        let values: Vec<Option<&str>> = (0..5000)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                pool[(x >> 33) as usize % pool.len()]
            })
            .collect();
        let a = StringArray::from(values);
        let ours = text_sort_indices(&a);
        let theirs = lexsort_to_indices(
            &[SortColumn {
                values: Arc::new(a.clone()),
                options: Some(SortOptions { descending: false, nulls_first: false }),
            }],
            None,
        )
        .unwrap();
        let text = |idx: &UInt32Array| -> Vec<Option<String>> {
            idx.values().iter().map(|&i| a.is_valid(i as usize).then(|| a.value(i as usize).to_string())).collect()
        };
        let mut seen: Vec<u32> = ours.values().to_vec();
        seen.sort_unstable();
        assert!(seen.iter().copied().eq(0..a.len() as u32), "a permutation of the rows");
        assert_eq!(text(&ours), text(&theirs));
    }

    #[test]
    fn compression_parsing() {
        // `zstd` means the default codec, as no flag does.
        assert_eq!("zstd".parse::<Compression>().unwrap(), Compression::default());
        assert_eq!(Compression::default(), Compression::Zstd(DEFAULT_ZSTD_LEVEL));
        assert_eq!(Compression::default().to_string().parse::<Compression>().unwrap(), Compression::default());
        assert_eq!("zstd:9".parse::<Compression>().unwrap(), Compression::Zstd(9));
        assert_eq!("snappy".parse::<Compression>().unwrap(), Compression::Snappy);
        assert_eq!("gzip".parse::<Compression>().unwrap(), Compression::Gzip(6));
        assert_eq!("none".parse::<Compression>().unwrap(), Compression::None);
        let err = "zstd:99".parse::<Compression>().unwrap_err().to_string();
        assert_eq!(err, "invalid compression `zstd:99`: expected zstd[:1-22], snappy, gzip[:0-9] or none");
        assert!("lz4".parse::<Compression>().is_err());
    }
}
