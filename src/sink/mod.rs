//! Parquet output: one rolling file per partition, files sized by
//! `--target-file-size`, each made visible only when complete. Every thread
//! encodes its own row groups (with `--clusters N`, one per range of the sort
//! column, shared by lanes of N threads) and appends them whole to the partition's file.
//!
//! The pieces, each in its own file: [`options`](self::options) (codec, sizes, writer
//! properties), [`order`](self::order) (each batch sorted by the sort columns),
//! [`clusters`](self::clusters) (a partition's ranges of the first sort column),
//! [`budget`](self::budget) (memory of the row groups in progress, writing threads and
//! their lanes), [`files`](self::files) (the open file per partition: rolling, least
//! recently used closing, commit and abort), [`dict_column`](self::dict_column) (column
//! chunks we encode ourselves, beside arrow-rs's encoders); this module keeps the row
//! groups in progress.
//!
//! # Lock order
//!
//! A thread holds at most one row-group lock, and never while it takes a file's lock:
//! a row group is taken out of its slot, the slot's lock released, and only then appended
//! to the file. A file's lock may be held while the list of written files is locked. The
//! maps (row groups, file slots, cluster bounds, writers) are locked only to find, add or
//! look over entries; under them other locks are only tried (`try_lock`), never waited
//! for. So no two threads can wait for each other.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_writer::{ArrowRowGroupWriterFactory, compute_leaves};
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnDescPtr;

use crate::error::{Error, Result};
use crate::storage::{Location, Storage};

mod budget;
mod clusters;
mod dict_column;
mod files;
mod options;
mod order;

pub use crate::report::WrittenFile;
use budget::Budget;
use clusters::Clusters;
use dict_column::ColumnEncoder;
use files::{FileSlot, FileSpec, Files};
pub use options::{Compression, DEFAULT_GZIP_LEVEL, DEFAULT_ZSTD_LEVEL, ParquetOptions};

/// A row group no thread has added to in this many writes per thread is written out.
const IDLE_WRITES: u64 = 4;

/// A row group being encoded by one thread for one partition, outside any file's lock.
struct RowGroup {
    columns: Vec<ColumnEncoder>,
    rows: usize,
    last_used: u64,
    /// Memory of the encoders, as last added to the budget.
    mem: usize,
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
    root: Location,
    schema: SchemaRef,
    /// Makes the column encoders of new row groups (the schema and properties every file shares).
    encoders: ArrowRowGroupWriterFactory,
    props: Arc<WriterProperties>,
    /// Each field's Parquet column, when every field is one (flat schemas, as flow logs'):
    /// their string dictionaries are written by [`dict_column`].
    leaves: Option<Vec<ColumnDescPtr>>,
    opts: ParquetOptions,
    /// Counts writes and appends: how recently a row group or file was used.
    tick: AtomicU64,
    groups: Mutex<HashMap<GroupKey, GroupSlot>>,
    files: Files,
    clusters: Clusters,
    budget: Budget,
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
        let props = opts.writer_properties(&schema, file_prefix);
        let sort_columns = opts.sort.iter().filter_map(|c| schema.index_of(c).ok()).collect();
        // Encoders are made the way `ArrowWriter` makes them for a file (with the Arrow schema in its metadata).
        let (_, encoders) = ArrowWriter::try_new(std::io::sink(), schema.clone(), Some(props.clone()))
            .and_then(|w| w.into_serialized_writer())
            .map_err(|e| Error::Failed(format!("cannot set up the Parquet writer: {e}")))?;
        let descr = ArrowSchemaConverter::new()
            .with_coerce_types(props.coerce_types())
            .convert(&schema)
            .map_err(|e| Error::Failed(format!("cannot set up the Parquet writer: {e}")))?;
        let leaves = (descr.num_columns() == schema.fields().len()).then(|| descr.columns().to_vec());
        let props = Arc::new(props);
        let files = Files::new(FileSpec {
            storage,
            root: root.clone(),
            schema: schema.clone(),
            props: (*props).clone(),
            prefix: file_prefix.to_string(),
            target_file_size: opts.target_file_size,
            max_open_files: opts.max_open_files,
        });
        Ok(PartitionedSink {
            root,
            schema,
            encoders,
            props,
            leaves,
            clusters: Clusters::new(opts.clusters),
            budget: Budget::new(opts.memory_budget),
            opts,
            tick: AtomicU64::new(0),
            groups: Mutex::new(HashMap::new()),
            files,
            sort_columns,
        })
    }

    /// Appends a batch to a partition, named by its folder (`date=2023-08-01`).
    pub fn write(&self, partition: &str, batch: &RecordBatch) -> Result<()> {
        let sorted = order::sorted(batch, &self.sort_columns)?;
        self.write_sorted(partition, sorted.as_ref().unwrap_or(batch))
    }

    /// Whether every sort column is among the sink's first `columns` columns: then a batch
    /// of only those can be put in order ([`sort`](Self::sort)) before columns are added to
    /// it, so the added ones are never gathered.
    pub(crate) fn sorts_within(&self, columns: usize) -> bool {
        self.sort_columns.iter().all(|&c| c < columns)
    }

    /// `batch` (of the sink's first columns, every sort column among them) in the order
    /// [`write`](Self::write) writes rows in.
    pub(crate) fn sort(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        Ok(order::sorted(batch, &self.sort_columns)?.unwrap_or_else(|| batch.clone()))
    }

    /// Appends a batch already in the sink's order ([`sort`](Self::sort)) to a partition.
    pub(crate) fn write_sorted(&self, partition: &str, batch: &RecordBatch) -> Result<()> {
        let file_slot = self.files.slot(partition);
        let lane = self.budget.lane(self.opts.clusters);
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

    /// The batch cut into the partition's ranges of its first sort column (see [`Clusters`]).
    fn ranges(&self, partition: &str, batch: &RecordBatch) -> Result<Vec<(usize, RecordBatch)>> {
        let Some(&first) = self.sort_columns.first() else { return Ok(vec![(0, batch.clone())]) };
        self.clusters.ranges(partition, batch, first).map_err(|e| {
            Error::Failed(format!(
                "cannot split the rows of {} into ranges of `{}`: {e}; convert with --clusters 1",
                self.root.join(partition),
                self.schema.field(first).name()
            ))
        })
    }

    fn group_slot(&self, partition: &str, lane: usize, range: usize) -> GroupSlot {
        let key = (partition.to_string(), lane, range);
        let mut groups = self.groups.lock().expect("sink lock");
        match groups.get(&key) {
            Some(s) => s.clone(),
            None => groups.entry(key).or_default().clone(),
        }
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
                let columns = self.column_encoders().map_err(|e| self.parquet_error(partition, e))?;
                *guard = Some(RowGroup { columns, rows: 0, last_used: 0, mem: 0 });
            }
            let group = guard.as_mut().expect("just made");
            let n = (batch.num_rows() - at).min(row_group_size - group.rows);
            self.encode(partition, group, &batch.slice(at, n))?;
            file_slot.last_write.store(group.last_used, Ordering::Relaxed);
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

    /// A new row group's encoders: arrow-rs's, or ours for a flat schema's string dictionaries.
    fn column_encoders(&self) -> parquet::errors::Result<Vec<ColumnEncoder>> {
        let writers = self.encoders.create_column_writers(0)?;
        Ok(match &self.leaves {
            Some(leaves) => writers
                .into_iter()
                .zip(self.schema.fields().iter().zip(leaves))
                .map(|(w, (field, descr))| ColumnEncoder::new(w, field, descr, &self.props))
                .collect(),
            None => writers.into_iter().map(ColumnEncoder::Arrow).collect(),
        })
    }

    /// Encodes rows into a row group's column encoders.
    fn encode(&self, partition: &str, group: &mut RowGroup, rows: &RecordBatch) -> Result<()> {
        let fail = |e| self.parquet_error(partition, e);
        let mut at = 0;
        for (field, array) in self.schema.fields().iter().zip(rows.columns()) {
            if let ColumnEncoder::Dict(d) = &mut group.columns[at] {
                d.write(array).map_err(fail)?;
                at += 1;
                continue;
            }
            let array = dict_column::for_arrow_rs(field, array).map_err(fail)?;
            for leaf in compute_leaves(field, &array).map_err(fail)? {
                let ColumnEncoder::Arrow(w) = &mut group.columns[at] else {
                    unreachable!("a dictionary column is a field of its own")
                };
                w.write(&leaf).map_err(fail)?;
                at += 1;
            }
        }
        group.rows += rows.num_rows();
        group.last_used = self.tick.fetch_add(1, Ordering::Relaxed);
        let now: usize = group.columns.iter().map(|c| c.memory_size()).sum();
        self.budget.account(&mut group.mem, now);
        Ok(())
    }

    fn parquet_error(&self, partition: &str, e: parquet::errors::ParquetError) -> Error {
        Error::Parquet { path: self.root.join(partition).to_string(), source: e }
    }

    /// Finishes a row group's column chunks and appends them to the partition's file.
    fn append(&self, partition: &str, group: RowGroup) -> Result<()> {
        self.budget.release(group.mem);
        if group.rows == 0 {
            return Ok(());
        }
        let chunks = group
            .columns
            .into_iter()
            .map(|c| c.close())
            .collect::<parquet::errors::Result<Vec<_>>>()
            .map_err(|e| self.parquet_error(partition, e))?;
        self.files.append(partition, chunks, group.rows, self.tick.fetch_add(1, Ordering::Relaxed))
    }

    /// Over budget: the least recently used row groups are written out early.
    fn relieve_memory(&self) -> Result<()> {
        if !self.budget.over() {
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
            if self.budget.relieved() {
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
    /// moved past), so they do not sit in memory until the budget pushes them out; closes
    /// the files of partitions idle four times as long.
    fn write_out_idle(&self) -> Result<()> {
        let now = self.tick.load(Ordering::Relaxed);
        // Every range of a batch is one write.
        let horizon = IDLE_WRITES * self.budget.writer_count() * self.opts.clusters.max(1) as u64;
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
        self.files.close_idle(now, 4 * horizon)?;
        // Forget empty slots nobody holds (a year of hourly partitions would otherwise make
        // every pass over them longer). Clones are made under these locks, so a count of one
        // means no thread is about to use the slot.
        self.groups
            .lock()
            .expect("sink lock")
            .retain(|_, s| Arc::strong_count(s) > 1 || s.try_lock().map(|g| g.is_some()).unwrap_or(true));
        self.files.forget_unused();
        Ok(())
    }

    /// Writes out every row group in progress, closes every open file and returns
    /// all files this sink committed.
    pub fn finish(self) -> Result<Vec<WrittenFile>> {
        let groups: Vec<(GroupKey, GroupSlot)> = self.groups.lock().expect("sink lock").drain().collect();
        for ((partition, ..), slot) in groups {
            let group = slot.lock().expect("row group lock").take();
            if let Some(group) = group {
                self.append(&partition, group)?;
            }
        }
        self.files.finish()
    }

    /// Abandons the run: open files are discarded (never visible) and files
    /// already committed by this sink are deleted, so a failed run leaves no rows behind.
    pub fn abort(self) -> Result<()> {
        self.groups.lock().expect("sink lock").clear();
        self.files.abort()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::StringArray;

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
}
