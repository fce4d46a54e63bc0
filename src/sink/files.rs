//! The Parquet files of a sink: one open file per partition, to which finished row
//! groups are appended whole; a file is closed (committed, visible) when it reaches the
//! target size, when its partition has been idle long, when more than `max_open_files`
//! are open (least recently used first), and at the end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::dict_column::Chunk;
use crate::error::{Error, Result};
use crate::report::WrittenFile;
use crate::storage::{Counted, Location, ObjectWriter, Storage};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

/// A file being written: row groups are appended whole, so it is locked only for that.
struct OpenFile {
    writer: SerializedFileWriter<Counted<Box<dyn ObjectWriter>>>,
    location: Location,
    rows: u64,
    last_used: u64,
}

/// A partition's file, and when the partition was last written to (its rows may sit in
/// row groups in progress long before they reach the file).
#[derive(Default)]
pub(super) struct FileSlot {
    file: Mutex<Option<OpenFile>>,
    /// The sink's tick of the last write to the partition.
    pub last_write: AtomicU64,
    /// Bytes in the open file (0 when none is open).
    pub bytes: AtomicU64,
}

impl FileSlot {
    /// Takes the open file out (to close it), leaving the slot empty.
    fn take(&self, file: &mut Option<OpenFile>) -> Option<OpenFile> {
        self.bytes.store(0, Ordering::Relaxed);
        file.take()
    }
}

/// Where and how a sink's files are written.
pub(super) struct FileSpec {
    pub storage: Arc<dyn Storage>,
    pub root: Location,
    pub schema: SchemaRef,
    pub props: WriterProperties,
    /// Files are named `part-<prefix>-<n>.parquet`.
    pub prefix: String,
    pub target_file_size: u64,
    pub max_open_files: usize,
}

/// The files of a sink, by partition.
///
/// Locks: the map of slots is held only to find, add or look over slots (over them only
/// with `try_lock`, which never waits); a slot's file lock may be held while the list of
/// written files is locked (closing a file), never the other way round.
pub(super) struct Files {
    spec: FileSpec,
    seq: AtomicU64,
    slots: Mutex<HashMap<String, Arc<FileSlot>>>,
    written: Mutex<Vec<WrittenFile>>,
}

impl Files {
    pub(super) fn new(spec: FileSpec) -> Files {
        Files { spec, seq: AtomicU64::new(0), slots: Mutex::new(HashMap::new()), written: Mutex::new(Vec::new()) }
    }

    /// The slot of a partition's file (made on first use).
    pub(super) fn slot(&self, partition: &str) -> Arc<FileSlot> {
        let mut slots = self.slots.lock().expect("files lock");
        match slots.get(partition) {
            Some(s) => s.clone(),
            None => slots.entry(partition.to_string()).or_default().clone(),
        }
    }

    /// Appends a finished row group of `rows` rows (its column chunks) to the partition's
    /// file, opening one if needed and closing it once it reaches the target size; a row
    /// group that would take a file past that size starts the next file. `now`: the sink's
    /// tick, for least-recently-used closing.
    pub(super) fn append(&self, partition: &str, chunks: Vec<Chunk>, rows: usize, now: u64) -> Result<()> {
        let size: u64 = chunks.iter().map(Chunk::compressed_size).sum();
        let slot = self.slot(partition);
        let mut guard = slot.file.lock().expect("partition lock");
        // Row groups from several threads can be in progress for one partition.
        if let Some(file) = guard.as_ref()
            && file.rows > 0
            && file.writer.bytes_written() as u64 + size > self.spec.target_file_size
        {
            let done = slot.take(&mut guard).expect("open");
            self.close(partition, done)?;
        }
        let opened_new = guard.is_none();
        if opened_new {
            *guard = Some(self.open(partition)?);
        }
        let file = guard.as_mut().expect("just opened");
        file.last_used = now;
        let fail = |e| Error::Parquet { path: file.location.to_string(), source: e };
        let mut row_group = file.writer.next_row_group().map_err(fail)?;
        for chunk in chunks {
            chunk.append_to(&mut row_group).map_err(fail)?;
        }
        row_group.close().map_err(fail)?;
        file.rows += rows as u64;
        slot.bytes.store(file.writer.bytes_written() as u64, Ordering::Relaxed);
        if file.writer.bytes_written() as u64 >= self.spec.target_file_size {
            let done = slot.take(&mut guard).expect("open");
            drop(guard);
            self.close(partition, done)?;
        } else {
            drop(guard);
        }
        if opened_new {
            self.close_beyond_limit(partition)?;
        }
        Ok(())
    }

    fn open(&self, partition: &str) -> Result<OpenFile> {
        let spec = &self.spec;
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let location = spec.root.join(&format!("{partition}/part-{}-{n:05}.parquet", spec.prefix));
        let inner = spec.storage.create(&location)?;
        let (writer, _) = ArrowWriter::try_new(Counted::new(inner), spec.schema.clone(), Some(spec.props.clone()))
            .and_then(|w| w.into_serialized_writer())
            .map_err(|e| Error::Parquet { path: location.to_string(), source: e })?;
        Ok(OpenFile { writer, location, rows: 0, last_used: 0 })
    }

    fn close(&self, partition: &str, file: OpenFile) -> Result<()> {
        let path = file.location.to_string();
        let counted = file.writer.into_inner().map_err(|e| Error::Parquet { path: path.clone(), source: e })?;
        let bytes = counted.bytes;
        counted.inner.commit()?;
        let done = WrittenFile { partition: partition.to_string(), location: file.location, rows: file.rows, bytes };
        self.written.lock().expect("written lock").push(done);
        Ok(())
    }

    /// Keeps at most `max_open_files` files open (each holds an object being written) by
    /// closing the least recently used idle ones other than `keep`'s.
    fn close_beyond_limit(&self, keep: &str) -> Result<()> {
        loop {
            let victim = {
                let slots = self.slots.lock().expect("files lock");
                let open: Vec<(&String, u64)> = slots
                    .iter()
                    .filter(|(k, _)| k.as_str() != keep)
                    .filter_map(|(k, s)| s.file.try_lock().ok().and_then(|g| g.as_ref().map(|f| (k, f.last_used))))
                    .collect();
                let open_count =
                    slots.values().filter(|s| s.file.try_lock().map(|g| g.is_some()).unwrap_or(true)).count();
                if open_count <= self.spec.max_open_files {
                    return Ok(());
                }
                match open.into_iter().min_by_key(|(_, t)| *t) {
                    Some((k, _)) => (k.clone(), slots[k].clone()),
                    None => return Ok(()),
                }
            };
            let taken = victim.1.take(&mut victim.1.file.lock().expect("partition lock"));
            if let Some(file) = taken {
                self.close(&victim.0, file)?;
            }
        }
    }

    /// Closes the files of partitions nobody has written to since before `now - idle`
    /// (each holds a write buffer and its footer's metadata until closed).
    pub(super) fn close_idle(&self, now: u64, idle: u64) -> Result<()> {
        let slots: Vec<(String, Arc<FileSlot>)> =
            self.slots.lock().expect("files lock").iter().map(|(p, s)| (p.clone(), s.clone())).collect();
        for (partition, slot) in slots {
            if slot.last_write.load(Ordering::Relaxed) + idle >= now {
                continue;
            }
            let Ok(mut guard) = slot.file.try_lock() else { continue };
            if guard.as_ref().is_some_and(|f| f.last_used + idle < now) {
                let file = slot.take(&mut guard).expect("checked");
                drop(guard);
                self.close(&partition, file)?;
            }
        }
        Ok(())
    }

    /// Forgets empty slots nobody holds (a year of hourly partitions would otherwise make
    /// every pass over them longer). Clones are made under the map's lock, so a count of
    /// one means no thread is about to use the slot.
    pub(super) fn forget_unused(&self) {
        self.slots
            .lock()
            .expect("files lock")
            .retain(|_, s| Arc::strong_count(s) > 1 || s.file.try_lock().map(|g| g.is_some()).unwrap_or(true));
    }

    /// Closes every open file; returns every file committed, in location order.
    pub(super) fn finish(self) -> Result<Vec<WrittenFile>> {
        let slots: Vec<(String, Arc<FileSlot>)> = self.slots.lock().expect("files lock").drain().collect();
        for (partition, slot) in slots {
            if let Some(file) = slot.file.lock().expect("partition lock").take() {
                self.close(&partition, file)?;
            }
        }
        let mut written = self.written.into_inner().expect("written lock");
        written.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(written)
    }

    /// Discards open files (never visible) and deletes the files already committed.
    pub(super) fn abort(self) -> Result<()> {
        self.slots.lock().expect("files lock").clear();
        for f in self.written.lock().expect("written lock").drain(..) {
            self.spec.storage.delete(&f.location)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array, RecordBatch};
    use parquet::arrow::arrow_writer::{ArrowRowGroupWriterFactory, compute_leaves};

    use crate::storage::LocalStorage;

    fn files(
        dir: &std::path::Path,
        target_file_size: u64,
        max_open_files: usize,
    ) -> (Files, ArrowRowGroupWriterFactory) {
        let batch = one_batch(0);
        let schema = batch.schema();
        let props = WriterProperties::builder().build();
        let (_, encoders) = ArrowWriter::try_new(std::io::sink(), schema.clone(), Some(props.clone()))
            .and_then(|w| w.into_serialized_writer())
            .unwrap();
        let spec = FileSpec {
            storage: Arc::new(LocalStorage),
            root: Location::Local(dir.to_path_buf()),
            schema,
            props,
            prefix: "t".into(),
            target_file_size,
            max_open_files,
        };
        (Files::new(spec), encoders)
    }

    fn one_batch(start: i64) -> RecordBatch {
        let a: ArrayRef = Arc::new(Int64Array::from_iter_values(start..start + 1000));
        RecordBatch::try_from_iter([("x", a)]).unwrap()
    }

    /// A finished row group of 1,000 rows starting at `start`.
    fn row_group(encoders: &ArrowRowGroupWriterFactory, start: i64) -> Vec<Chunk> {
        let batch = one_batch(start);
        let mut columns = encoders.create_column_writers(0).unwrap();
        for leaf in compute_leaves(batch.schema().field(0), batch.column(0)).unwrap() {
            columns[0].write(&leaf).unwrap();
        }
        columns.into_iter().map(|c| Chunk::Arrow(c.close().unwrap())).collect()
    }

    /// Row groups past the target size start a new file; every row is in a committed file.
    #[test]
    fn files_roll_at_the_target_size() {
        let dir = tempfile::tempdir().unwrap();
        let (f, enc) = files(dir.path(), 6_000, 8);
        for i in 0..6 {
            f.append("date=2023-08-01", row_group(&enc, i * 1000), 1000, i as u64).unwrap();
        }
        let written = f.finish().unwrap();
        assert!(written.len() >= 2, "{written:?}");
        assert_eq!(written.iter().map(|w| w.rows).sum::<u64>(), 6000);
        for w in &written {
            let len = std::fs::metadata(w.location.as_local().unwrap()).unwrap().len();
            assert_eq!(len, w.bytes);
        }
    }

    /// With at most two files open, a third partition closes the least recently used one.
    #[test]
    fn at_most_max_open_files_are_open() {
        let dir = tempfile::tempdir().unwrap();
        let (f, enc) = files(dir.path(), 1 << 30, 2);
        f.append("p=a", row_group(&enc, 0), 1000, 1).unwrap();
        f.append("p=b", row_group(&enc, 0), 1000, 2).unwrap();
        assert!(f.written.lock().unwrap().is_empty());
        f.append("p=c", row_group(&enc, 0), 1000, 3).unwrap();
        let closed: Vec<String> = f.written.lock().unwrap().iter().map(|w| w.partition.clone()).collect();
        assert_eq!(closed, ["p=a"], "the least recently used");
        // Idle: the file of a partition not written since tick 2 is closed at tick 10.
        f.slot("p=c").last_write.store(9, Ordering::Relaxed);
        f.close_idle(10, 5).unwrap();
        let closed: Vec<String> = f.written.lock().unwrap().iter().map(|w| w.partition.clone()).collect();
        assert_eq!(closed, ["p=a", "p=b"]);
        let written = f.finish().unwrap();
        assert_eq!(written.len(), 3);
    }

    /// An aborted sink's committed files are deleted and its open ones never appear.
    #[test]
    fn abort_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let (f, enc) = files(dir.path(), 1 << 30, 1);
        f.append("p=a", row_group(&enc, 0), 1000, 1).unwrap();
        f.append("p=b", row_group(&enc, 0), 1000, 2).unwrap();
        f.abort().unwrap();
        let left = LocalStorage.list(&Location::Local(dir.path().to_path_buf())).unwrap();
        assert!(left.is_empty(), "{left:?}");
    }
}
