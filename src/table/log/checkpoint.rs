//! Checkpoints: the whole log folded into one object, so that a table with a
//! year of hourly runs and a million inputs opens by reading one compressed
//! file plus the few commits written since, not thousands of small JSON files.
//!
//! A checkpoint is a Parquet file `_flowlake/checkpoint/<sequence>-<id>.parquet`:
//! one row per input (location, size, version, rows, partitions, run, and how it was
//! read: kind and format, columns that checkpoints before input kinds lack) and, in its
//! footer metadata, the runs it covers (ids, sequences, the files of theirs still in
//! the table), every flowlake 0.1 manifest it covers by name, and the last commit of
//! the log it covers (`log_through`). It is written with one atomic put, so it is
//! either there whole or not at all. Readers take the newest checkpoint and read
//! every commit after it. Commits are never deleted, so a reader that picks any
//! checkpoint, even one written concurrently with another, sees every run.
//!
//! Only a table whose runs are all settled is folded: no replaced files left to
//! delete, no files still staged. A later run folds what is left. Checkpoints of
//! flowlake 0.1 (format 1, which named the manifests they cover) are read too.

use std::io::Read;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};

use std::collections::HashSet;

use super::{FileStats, Manifest, ReadAs, ReadAsTable, RunManifest, list_or_empty, log_sequence};
use crate::error::{Error, Result};
use crate::storage::{Location, Storage};

/// Fold the manifests into a checkpoint once this many run manifests are not covered by one.
pub const DEFAULT_EVERY: usize = 32;

/// The footer key that holds the covered runs.
const META_KEY: &str = "flowlake.checkpoint";

/// The format this flowlake writes (1: flowlake 0.1's, which named the manifests it covers).
const FORMAT: u32 = 2;

/// The folder of the checkpoints of the table at `root`.
pub fn dir(root: &Location) -> Location {
    root.join(crate::table::paths::CHECKPOINTS)
}

/// True for the file name of a checkpoint.
pub fn is_checkpoint(name: &str) -> bool {
    name.ends_with(".parquet") && name.len() > 21 && name.as_bytes()[..20].iter().all(u8::is_ascii_digit)
}

/// A run as a checkpoint records it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CoveredRun {
    /// Its commit: the file name of a flowlake 0.1 manifest in `_flowlake/manifest/`, or
    /// `log/<sequence>.json`.
    pub manifest: String,
    /// The run.
    pub run_id: String,
    /// `INDEX/COUNT` for a shard.
    pub shard: Option<String>,
    /// Its sequence.
    pub sequence: u64,
    /// The files it wrote that are still in the table, relative to the table root.
    pub files: Vec<String>,
    /// Their rows and bytes, in the same order (where the run recorded them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_stats: Vec<FileStats>,
    /// Runs it replaced (their files deleted when it was covered).
    #[serde(default)]
    pub replaces: Vec<String>,
    /// The lookup tables its enrichment columns came from (none in checkpoints written
    /// before enrichment existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enrichment: Vec<crate::report::EnrichmentUsed>,
}

impl CoveredRun {
    /// The run's commit without its inputs (a checkpoint keeps those in its rows).
    pub fn into_run(self) -> RunManifest {
        RunManifest {
            run_id: self.run_id,
            shard: self.shard,
            inputs: Vec::new(),
            files: self.files,
            file_stats: self.file_stats,
            staging: None,
            rejects: None,
            replaces: self.replaces,
            replaces_files: Vec::new(),
            sequence: self.sequence,
            baseline: None,
            enrichment: self.enrichment,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Footer {
    format: u32,
    runs: Vec<CoveredRun>,
    /// Every flowlake 0.1 manifest covered, by file name (format 2).
    #[serde(default)]
    legacy: Vec<String>,
    /// The last commit of the log covered (format 2).
    #[serde(default)]
    log_through: u64,
}

/// One input as a checkpoint records it.
#[derive(Clone, Debug)]
pub struct CoveredInput {
    /// Where it is.
    pub location: String,
    /// Size when converted.
    pub size: u64,
    /// Version when converted.
    pub version: String,
    /// Records read from it.
    pub rows: u64,
    /// The partitions its rows went to.
    pub partitions: Vec<String>,
    /// Index into [`Checkpoint::runs`] of the run that converted it.
    pub run: u32,
    /// Index into [`Checkpoint::read_as`] of how it was read.
    pub read_as: u32,
}

/// What a checkpoint holds.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// Its format (1 for flowlake 0.1's).
    pub format: u32,
    /// The runs it covers that are still part of the table.
    pub runs: Vec<CoveredRun>,
    /// Every flowlake 0.1 manifest it covers, by file name.
    pub legacy: Vec<String>,
    /// The last commit of the log it covers (every one up to it).
    pub log_through: u64,
    /// The current record of every input those runs converted.
    pub inputs: Vec<CoveredInput>,
    /// How they were read, each way once.
    pub read_as: ReadAsTable,
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("location", DataType::Utf8, false),
        Field::new("size", DataType::UInt64, false),
        Field::new("version", DataType::Utf8, false),
        Field::new("rows", DataType::UInt64, false),
        // Partition folders joined by newlines (a folder name never holds one).
        Field::new("partitions", DataType::Utf8, false),
        Field::new("run", DataType::UInt32, false),
        // How the input was read (null where nothing was recorded); few distinct values,
        // so the columns' dictionaries hold them once.
        Field::new("kind", DataType::Utf8, true),
        Field::new("format", DataType::Utf8, true),
    ]))
}

fn damaged(loc: &Location, what: impl std::fmt::Display) -> Error {
    Error::Damaged(format!(
        "checkpoint {loc} cannot be read ({what}); delete it and the next run rebuilds it from the run manifests"
    ))
}

/// Reads a checkpoint.
pub fn read(storage: &dyn Storage, loc: &Location) -> Result<Checkpoint> {
    let mut bytes = Vec::new();
    storage.open(loc)?.read_to_end(&mut bytes).map_err(|e| Error::io("read", loc, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes)).map_err(|e| damaged(loc, e))?;
    let footer = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == META_KEY))
        .and_then(|k| k.value.clone())
        .ok_or_else(|| damaged(loc, "no list of runs in its footer"))?;
    let footer: Footer = serde_json::from_str(&footer).map_err(|e| damaged(loc, e))?;
    if footer.format > FORMAT {
        return Err(Error::Failed(format!(
            "checkpoint {loc} has format {}, newer than this flowlake reads; upgrade flowlake",
            footer.format
        )));
    }
    let mut inputs = Vec::new();
    let mut read_as = ReadAsTable::default();
    for batch in builder.build().map_err(|e| damaged(loc, e))? {
        let batch = batch.map_err(|e| damaged(loc, e))?;
        read_inputs(&batch, loc, &mut inputs, &mut read_as)?;
    }
    Ok(Checkpoint {
        format: footer.format,
        runs: footer.runs,
        legacy: footer.legacy,
        log_through: footer.log_through,
        inputs,
        read_as,
    })
}

/// The inputs one batch of a checkpoint holds, appended to `inputs` (how each was read
/// interned in `read_as`).
fn read_inputs(
    batch: &RecordBatch,
    loc: &Location,
    inputs: &mut Vec<CoveredInput>,
    read_as: &mut ReadAsTable,
) -> Result<()> {
    let col = |name: &str| batch.column_by_name(name).ok_or_else(|| damaged(loc, format!("no column {name}")));
    let strings = |name: &str| -> Result<StringArray> {
        col(name)?.as_any().downcast_ref::<StringArray>().cloned().ok_or_else(|| damaged(loc, name.to_string()))
    };
    let u64s = |name: &str| -> Result<UInt64Array> {
        col(name)?.as_any().downcast_ref::<UInt64Array>().cloned().ok_or_else(|| damaged(loc, name.to_string()))
    };
    let (location, version, partitions) = (strings("location")?, strings("version")?, strings("partitions")?);
    let (size, rows) = (u64s("size")?, u64s("rows")?);
    let run =
        col("run")?.as_any().downcast_ref::<UInt32Array>().cloned().ok_or_else(|| damaged(loc, "run".to_string()))?;
    // Checkpoints written before input kinds lack these columns.
    let optional = |name: &str| -> Result<Option<StringArray>> {
        match batch.column_by_name(name) {
            None => Ok(None),
            Some(c) => c.as_any().downcast_ref::<StringArray>().cloned().map(Some).ok_or_else(|| damaged(loc, name)),
        }
    };
    let (kind, format) = (optional("kind")?, optional("format")?);
    fn text(a: &Option<StringArray>, i: usize) -> Option<&str> {
        a.as_ref().filter(|a| a.is_valid(i)).map(|a| a.value(i))
    }
    // Neighbouring inputs were mostly read alike: only a change of value is looked up.
    let mut last: Option<(Option<&str>, Option<&str>, u32)> = None;
    for i in 0..batch.num_rows() {
        let (k, f) = (text(&kind, i), text(&format, i));
        let read_as = match last {
            Some((lk, lf, index)) if (lk, lf) == (k, f) => index,
            _ => {
                let index = read_as.intern(ReadAs { kind: k.map(str::to_string), format: f.map(str::to_string) });
                last = Some((k, f, index));
                index
            }
        };
        let p = partitions.value(i);
        inputs.push(CoveredInput {
            location: location.value(i).to_string(),
            size: size.value(i),
            version: version.value(i).to_string(),
            rows: rows.value(i),
            partitions: if p.is_empty() { Vec::new() } else { p.split('\n').map(str::to_string).collect() },
            run: run.value(i),
            read_as,
        });
    }
    Ok(())
}

/// Encodes a checkpoint as Parquet.
pub fn encode(cp: &Checkpoint) -> Result<Vec<u8>> {
    let footer = serde_json::to_string(&Footer {
        format: FORMAT,
        runs: cp.runs.clone(),
        legacy: cp.legacy.clone(),
        log_through: cp.log_through,
    })
    .expect("checkpoint serializes");
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("zstd level")))
        .set_key_value_metadata(Some(vec![KeyValue::new(META_KEY.to_string(), footer)]))
        .build();
    let schema = schema();
    let mut out = Vec::new();
    let fail = |e: parquet::errors::ParquetError| Error::Failed(format!("cannot encode a checkpoint: {e}"));
    let mut w = ArrowWriter::try_new(&mut out, schema.clone(), Some(props)).map_err(fail)?;
    for chunk in cp.inputs.chunks(256 * 1024) {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(chunk.iter().map(|i| i.location.as_str()))),
            Arc::new(UInt64Array::from_iter_values(chunk.iter().map(|i| i.size))),
            Arc::new(StringArray::from_iter_values(chunk.iter().map(|i| i.version.as_str()))),
            Arc::new(UInt64Array::from_iter_values(chunk.iter().map(|i| i.rows))),
            Arc::new(StringArray::from_iter_values(chunk.iter().map(|i| i.partitions.join("\n")))),
            Arc::new(UInt32Array::from_iter_values(chunk.iter().map(|i| i.run))),
            Arc::new(StringArray::from_iter(chunk.iter().map(|i| cp.read_as.get(i.read_as).kind.as_deref()))),
            Arc::new(StringArray::from_iter(chunk.iter().map(|i| cp.read_as.get(i.read_as).format.as_deref()))),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).expect("checkpoint columns match");
        w.write(&batch).map_err(fail)?;
    }
    w.close().map_err(fail)?;
    Ok(out)
}

impl Manifest {
    /// The whole log as one checkpoint: every run still part of the table (with its files
    /// still in the table), every input's current record. `canonical` names a location
    /// flowlake 0.1 recorded in its canonical form, where it can (the file still exists).
    pub fn to_checkpoint(&self, canonical: &dyn Fn(&str) -> Option<String>) -> Checkpoint {
        let live = self.live_files();
        let runs = self
            .runs
            .iter()
            .map(|(loc, r)| {
                let (files, file_stats): (Vec<String>, Vec<FileStats>) = r
                    .files
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| live.contains_key(*f))
                    .map(|(i, f)| (f.clone(), r.file_stats.get(i).copied().unwrap_or_default()))
                    .unzip();
                let name = loc.file_name();
                let manifest = if log_sequence(&name).is_some() { format!("log/{name}") } else { name };
                CoveredRun {
                    manifest,
                    run_id: r.run_id.clone(),
                    shard: r.shard.clone(),
                    sequence: r.sequence,
                    file_stats: if r.file_stats.is_empty() { Vec::new() } else { file_stats },
                    files,
                    replaces: r.replaces.clone(),
                    enrichment: r.enrichment.clone(),
                }
            })
            .collect();
        let legacy: HashSet<&str> = self.legacy_by_name.values().flatten().map(String::as_str).collect();
        let mut inputs: Vec<CoveredInput> = self
            .inputs
            .iter()
            .map(|(loc, r)| CoveredInput {
                location: if legacy.contains(loc.as_str()) {
                    canonical(loc).unwrap_or_else(|| loc.clone())
                } else {
                    loc.clone()
                },
                size: r.size,
                version: r.version.clone(),
                rows: r.rows,
                partitions: r.partitions.clone(),
                run: r.run as u32,
                read_as: r.read_as,
            })
            .collect();
        // Sorted by location: neighbouring keys share long prefixes, which compresses well.
        inputs.sort_by(|a, b| a.location.cmp(&b.location));
        inputs.dedup_by(|a, b| a.location == b.location);
        let mut names = self.legacy_names.clone();
        names.sort();
        names.dedup();
        let read_as = self.read_as.clone();
        Checkpoint { format: FORMAT, runs, legacy: names, log_through: self.max_sequence, inputs, read_as }
    }

    /// True when every run is settled: nothing it replaces is left to delete, and
    /// none of its files is still staged (a crashed or still-running publish).
    fn settled(&self, storage: &dyn Storage, root: &Location) -> Result<bool> {
        let mut gone: Vec<String> = self.replaced.iter().flat_map(|r| r.files.iter().cloned()).collect();
        for (_, r) in &self.runs[self.covered..] {
            gone.extend(r.replaces_files.iter().cloned());
            if let Some(staging) = &r.staging
                && !list_or_empty(storage, &root.join(staging))?.is_empty()
            {
                return Ok(false);
            }
        }
        Ok(super::existing(storage, root, &gone)?.is_empty())
    }
}

/// Writes a checkpoint of the table at `root` when at least `every` commits are not
/// covered by one (never when `every` is 0) and every run is settled; then deletes the
/// older checkpoints. Returns where it was written.
pub fn fold_if_due(storage: &dyn Storage, root: &Location, every: usize) -> Result<Option<Location>> {
    let m = Manifest::load(storage, root)?;
    if every == 0 || m.uncovered_runs() < every || !m.settled(storage, root)? {
        return Ok(None);
    }
    fold(storage, root, &m).map(Some)
}

/// Writes a checkpoint of `m` (loaded from the table at `root`, every run settled)
/// and deletes the checkpoints older than it.
pub fn fold(storage: &dyn Storage, root: &Location, m: &Manifest) -> Result<Location> {
    // Only absolute paths: a relative one says nothing of where it was relative to.
    let canonical = |loc: &str| -> Option<String> {
        let l = Location::Local(loc.strip_prefix('/').map(|_| loc)?.into());
        storage.canonical(&l).ok().map(|c| c.identity())
    };
    let bytes = encode(&m.to_checkpoint(&canonical))?;
    let name = format!("{:020}-{}.parquet", m.max_sequence, crate::report::new_run_id());
    let loc = dir(root).join(&name);
    storage.put(&loc, &bytes)?;
    // Older checkpoints cover fewer runs; a reader that listed one before it was deleted lists again.
    for old in m.checkpoints.iter().filter(|c| c.file_name() < name) {
        storage.delete(old)?;
    }
    Ok(loc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LocalStorage;
    use crate::table::log::{self, InputEntry, tests::legacy};

    fn run(id: &str, sequence: u64, inputs: &[(&str, u64, &str)]) -> RunManifest {
        RunManifest {
            run_id: id.to_string(),
            shard: None,
            inputs: inputs
                .iter()
                .map(|(loc, size, day)| InputEntry {
                    location: loc.to_string(),
                    size: *size,
                    version: format!("v{size}"),
                    rows: size * 10,
                    partitions: vec![format!("date={day}")],
                    ..Default::default()
                })
                .collect(),
            files: vec![format!("date=x/part-{id}.parquet")],
            file_stats: Vec::new(),
            staging: None,
            rejects: None,
            replaces: Vec::new(),
            replaces_files: Vec::new(),
            sequence,
            baseline: None,
            enrichment: Vec::new(),
        }
    }

    fn records(m: &Manifest) -> Vec<(InputEntry, String)> {
        m.entries().into_iter().map(|(e, r)| (e, r.run_id.clone())).collect()
    }

    #[test]
    fn a_checkpoint_plus_newer_commits_reads_as_the_commits_alone() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::Local(dir.path().to_path_buf());
        let s = LocalStorage;
        // flowlake 0.1's manifests, one of them (a shard that started earlier) with a lower sequence.
        let old = [
            run("r1", 1, &[("/a", 1, "2023-08-01"), ("/b", 2, "2023-08-01")]),
            run("r2", 2, &[("/b", 3, "2023-08-02"), ("/c", 4, "2023-08-02")]),
            run("r0", 1, &[("/c", 6, "2023-08-01"), ("/d", 7, "2023-08-01")]),
        ];
        for r in &old {
            legacy(&s, &root, r);
        }
        assert_eq!(fold_if_due(&s, &root, 4).unwrap(), None, "three runs are not yet due at 4");
        let first = fold_if_due(&s, &root, 3).unwrap().expect("due");
        // Commits to the log after the checkpoint.
        let m = Manifest::load(&s, &root).unwrap();
        assert_eq!((m.uncovered_runs(), m.last_sequence()), (0, 2));
        let new = [run("r3", 3, &[("/a", 5, "2023-08-03")]), run("r4", 4, &[("/e", 8, "2023-08-03")])];
        for r in &new {
            assert!(log::commit_at(&s, &root, r).unwrap());
        }
        let m = Manifest::load(&s, &root).unwrap();
        assert_eq!(m.uncovered_runs(), 2, "only the commits after the checkpoint are read");
        let want = [
            (("/a", 5), "r3"),
            (("/b", 3), "r2"),
            (("/c", 4), "r2"), // r0 has a lower sequence than r2: r2's record stays current
            (("/d", 7), "r0"),
            (("/e", 8), "r4"),
        ];
        let got: Vec<((String, u64), String)> =
            records(&m).into_iter().map(|(e, r)| ((e.location, e.size), r)).collect();
        assert_eq!(got, want.iter().map(|((l, s), r)| ((l.to_string(), *s), r.to_string())).collect::<Vec<_>>());
        assert_eq!(m.partitions_of("/b"), Some(&["date=2023-08-02".to_string()][..]));
        assert_eq!(m.last_sequence(), 4);

        // Without any checkpoint the same records come out.
        let no_cp = tempfile::tempdir().unwrap();
        let root2 = Location::Local(no_cp.path().to_path_buf());
        for r in &old {
            legacy(&s, &root2, r);
        }
        for r in &new {
            log::commit_at(&s, &root2, r).unwrap();
        }
        let plain = Manifest::load(&s, &root2).unwrap();
        assert_eq!(records(&plain), records(&m));

        // Folding again covers everything and removes the older checkpoint.
        let second = fold_if_due(&s, &root, 1).unwrap().expect("due");
        assert!(!first.as_local().unwrap().exists());
        assert!(second.as_local().unwrap().exists());
        let m2 = Manifest::load(&s, &root).unwrap();
        assert_eq!(m2.uncovered_runs(), 0);
        assert_eq!(records(&m2), records(&m));
        assert_eq!(m2.run_ids().len(), 5);
        assert_eq!(m2.live_files(), m.live_files());
    }

    #[test]
    fn unsettled_runs_are_not_folded_and_a_full_refresh_supersedes_covered_runs() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::Local(dir.path().to_path_buf());
        let s = LocalStorage;
        let put = |rel: &str| s.put(&root.join(rel), b"x").unwrap();
        put("date=x/part-r1.parquet");
        log::commit_at(&s, &root, &run("r1", 1, &[("/a", 1, "2023-08-01")])).unwrap();
        let cp = fold_if_due(&s, &root, 1).unwrap().expect("due");
        // A run whose replaced files are not deleted yet (a crash) blocks folding.
        let mut r2 = run("r2", 2, &[("/b", 2, "2023-08-01")]);
        r2.replaces_files = vec!["date=x/part-r1.parquet".into()];
        r2.staging = Some("_flowlake/staging/r2".into());
        log::commit_at(&s, &root, &r2).unwrap();
        put("_flowlake/staging/r2/date=x/part-r2.parquet");
        assert_eq!(fold_if_due(&s, &root, 1).unwrap(), None);
        let m = Manifest::load(&s, &root).unwrap();
        log::finish_replacements(&s, &root, &m).unwrap();
        assert!(!dir.path().join("date=x/part-r1.parquet").exists());
        // So does a run with files still staged.
        assert_eq!(fold_if_due(&s, &root, 1).unwrap(), None);
        log::roll_forward(&s, &root, &m).unwrap();
        assert!(dir.path().join("date=x/part-r2.parquet").exists());
        assert!(fold_if_due(&s, &root, 1).unwrap().is_some(), "settled once the files are moved");
        assert!(!cp.as_local().unwrap().exists());
        assert_eq!(
            Manifest::load(&s, &root).unwrap().live_files().into_keys().collect::<Vec<_>>(),
            ["date=x/part-r2.parquet"]
        );

        // A full refresh replaces every run, the covered ones included.
        let m = Manifest::load(&s, &root).unwrap();
        let mut r3 = run("r3", 3, &[("/a", 1, "2023-08-01")]);
        r3.replaces = m.run_ids();
        log::commit_at(&s, &root, &r3).unwrap();
        let after = Manifest::load(&s, &root).unwrap();
        assert_eq!(after.run_ids(), vec!["r3".to_string()]);
        assert_eq!(after.len(), 1);
        assert_eq!(after.live_files().into_keys().collect::<Vec<_>>(), ["date=x/part-r3.parquet"]);
        assert_eq!(fold_if_due(&s, &root, 1).unwrap(), None, "r2's file is still there to delete");
        log::finish_replacements(&s, &root, &after).unwrap();
        assert!(!dir.path().join("date=x/part-r2.parquet").exists());
        assert!(fold_if_due(&s, &root, 1).unwrap().is_some());
        let folded = Manifest::load(&s, &root).unwrap();
        assert_eq!((folded.run_ids(), folded.len()), (vec!["r3".to_string()], 1));
    }

    /// How each input was read survives a fold; a checkpoint written before input kinds
    /// (without the kind and format columns) still reads, with nothing recorded.
    #[test]
    fn how_inputs_were_read_survives_a_fold_and_older_checkpoints_lack_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::Local(dir.path().to_path_buf());
        let s = LocalStorage;
        let mut r = run("r1", 1, &[("/a", 1, "2023-08-01"), ("/b", 2, "2023-08-01"), ("/c", 3, "2023-08-01")]);
        r.inputs[0].kind = Some("text".into());
        r.inputs[1].kind = Some("cloudwatch-export".into());
        r.inputs[1].format = Some("version srcaddr start".into());
        assert!(log::commit_at(&s, &root, &r).unwrap());
        let before = Manifest::load(&s, &root).unwrap();
        let cp = fold(&s, &root, &before).unwrap();
        let after = Manifest::load(&s, &root).unwrap();
        assert_eq!(after.uncovered_runs(), 0, "the commit is covered: the records come from the checkpoint");
        let text = ReadAs { kind: Some("text".into()), format: None };
        let export = ReadAs { kind: Some("cloudwatch-export".into()), format: Some("version srcaddr start".into()) };
        for m in [&before, &after] {
            assert_eq!((m.read_as("/a"), m.read_as("/b"), m.read_as("/c")), (Some(&text), Some(&export), None));
        }
        // The same checkpoint as flowlake wrote it before input kinds: without the two columns.
        let bytes = std::fs::read(cp.as_local().unwrap()).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes)).unwrap();
        let kv = builder.metadata().file_metadata().key_value_metadata().cloned();
        let batches: Vec<RecordBatch> =
            builder.build().unwrap().map(|b| b.unwrap().project(&[0, 1, 2, 3, 4, 5]).unwrap()).collect();
        let mut old = Vec::new();
        let props = WriterProperties::builder().set_key_value_metadata(kv).build();
        let mut w = ArrowWriter::try_new(&mut old, batches[0].schema(), Some(props)).unwrap();
        for b in &batches {
            w.write(b).unwrap();
        }
        w.close().unwrap();
        std::fs::write(cp.as_local().unwrap(), old).unwrap();
        let m = Manifest::load(&s, &root).unwrap();
        assert_eq!((m.len(), m.read_as("/a"), m.read_as("/b")), (3, None, None));
        assert_eq!(m.partitions_of("/b"), Some(&["date=2023-08-01".to_string()][..]));
    }

    #[test]
    fn a_checkpoint_of_many_inputs_is_small() {
        // 200,000 inputs named like AWS's delivery, over 200 runs.
        let n = 200_000u64;
        let runs: Vec<CoveredRun> = (0..200)
            .map(|i| CoveredRun {
                manifest: format!("run{i}.json"),
                run_id: format!("run{i}"),
                shard: None,
                sequence: i,
                files: vec![format!("date=2023-08-01/part-run{i}-00000.parquet")],
                file_stats: Vec::new(),
                replaces: Vec::new(),
                enrichment: Vec::new(),
            })
            .collect();
        // Every input recorded as read as text, as this flowlake records them.
        let mut read_as = ReadAsTable::default();
        let text = read_as.intern(ReadAs { kind: Some("text".into()), format: None });
        let inputs: Vec<CoveredInput> = (0..n)
            .map(|i| {
                let day = 1 + i % 28;
                CoveredInput {
                    location: format!(
                        "s3://logs/AWSLogs/123456789012/vpcflowlogs/us-east-1/2023/08/{day:02}/\
                         123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_202308{day:02}T{:04}Z_{:08x}.log.gz",
                        i % 2400,
                        (i * 2_654_435_761) as u32
                    ),
                    size: 100_000 + i,
                    version: format!("\"{:032x}\"", (i as u128) * 0x9e37_79b9_7f4a_7c15),
                    rows: 20_000,
                    partitions: vec![format!("date=2023-08-{day:02}")],
                    run: (i % 200) as u32,
                    read_as: text,
                }
            })
            .collect();
        let cp = Checkpoint { format: FORMAT, runs, legacy: Vec::new(), log_through: 200, inputs, read_as };
        let bytes = encode(&cp).unwrap();
        eprintln!("{} bytes for {n} inputs", bytes.len());
        // ETags are random and incompressible (16 bytes each); the rest compresses well.
        assert!(bytes.len() < 40 * n as usize, "{} bytes for {n} inputs", bytes.len());
        let dir = tempfile::tempdir().unwrap();
        let loc = Location::Local(dir.path().join("c.parquet"));
        LocalStorage.put(&loc, &bytes).unwrap();
        let back = read(&LocalStorage, &loc).unwrap();
        assert_eq!(back.inputs.len(), n as usize);
        assert_eq!(back.runs.len(), 200);
        let (a, b) = (&cp.inputs[123_456], &back.inputs[123_456]);
        assert_eq!(
            (&a.location, a.size, &a.version, a.rows, &a.partitions, a.run),
            (&b.location, b.size, &b.version, b.rows, &b.partitions, b.run)
        );
    }
}
