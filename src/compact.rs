//! `flowlake compact`: rewrite partitions made of many small files (typical of
//! hourly incremental runs) into target-sized files, as one
//! [`Transaction`](crate::table::Transaction) like a conversion: new files are staged,
//! a commit naming the files they replace is written, the new files are moved into
//! place (on local disk each partition's folder is swapped in one step, so listing
//! readers never see both), then the old ones are deleted (a crash in between is
//! finished by the next run).

use std::collections::BTreeMap;
use std::io::Read;

use arrow_array::{ArrayRef, RecordBatch, new_null_array};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::partition::Layout;
use crate::report;
use crate::schema::TableColumns;
use crate::sink::{ParquetOptions, PartitionedSink};
use crate::storage::{self, Location, StorageOptions};
use crate::table::log::{FileStats, Manifest, RunManifest};
use crate::table::paths;
use crate::table::{Staged, Transaction};

/// What to compact.
#[derive(Clone, Debug)]
pub struct CompactOptions {
    /// The table root.
    pub output: Location,
    /// How to reach S3.
    pub storage: StorageOptions,
    /// How to write the new files (target size, row groups, codec).
    pub parquet: ParquetOptions,
    /// Only partitions on or after this day (day number).
    pub from: Option<i64>,
    /// Only partitions on or before this day.
    pub to: Option<i64>,
    /// Compact a partition only when it has at least this many files. Default 2.
    pub min_files: usize,
    /// Fold the log into a checkpoint once this many commits are not covered by one (0: never).
    pub checkpoint_every: usize,
}

/// What a compaction did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CompactReport {
    /// The compaction's run id.
    pub run_id: String,
    /// Partitions rewritten.
    pub partitions: u64,
    /// Files before, in those partitions.
    pub files_before: u64,
    /// Files after.
    pub files_after: u64,
    /// Rows in them (the same before and after).
    pub rows: u64,
    /// Parquet files in partition folders that no commit names (copied in by hand, left by
    /// another tool): not the table's, so left as they are; `flowlake verify` lists them.
    #[serde(skip_serializing_if = "is_zero")]
    pub files_not_in_log: u64,
    /// The compaction's place in the table's log (none when there was nothing to compact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<u64>,
    /// Steps after the commit that failed: the new files are committed, and the next run
    /// into the table finishes these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub after_commit_errors: Vec<String>,
    /// Things that went wrong after the new files were committed and that the next run
    /// mends by itself (a manifest checkpoint that could not be written).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn day_of(layout: Layout, values: &[String]) -> Option<i64> {
    crate::partition::parse_day(&layout.day_text(values)?)
}

/// Compacts the partitions of the table at `opts.output` that have at least `min_files` files.
pub fn compact(opts: &CompactOptions) -> Result<CompactReport> {
    let st = storage::storage_for(&opts.output, &opts.storage)?;
    let root = &opts.output;
    let run_id = report::new_run_id();
    let tx = Transaction::begin(st.clone(), root, &run_id, report::now_unix() as i64)?;
    let info = crate::table::read_table_info(st.as_ref(), root)?;
    let (parts, not_in_log) = partitions_to_compact(st.as_ref(), root, tx.log(), &info, opts)?;
    let mut rep = CompactReport { run_id: run_id.clone(), files_not_in_log: not_in_log, ..CompactReport::default() };
    if parts.is_empty() {
        tx.abort(&[], false)?;
        return Ok(rep);
    }
    let table = TableColumns::from_columns(info.columns.iter().map(|(c, _)| crate::schema::column_id(c)));
    let schema = table.arrow_schema();
    let sink = PartitionedSink::new(st.clone(), tx.staging(), schema.clone(), opts.parquet.clone(), &run_id)?;
    let mut rows_before = 0u64;
    let mut replaced = Vec::new();
    for (dir, files) in &parts {
        for (loc, rel) in files {
            rows_before += rewrite(st.as_ref(), loc, &schema, |batch| sink.write(dir, batch))?;
            replaced.push(rel.clone());
        }
        rep.partitions += 1;
        rep.files_before += files.len() as u64;
    }
    let written = sink.finish()?;
    let rows_after: u64 = written.iter().map(|f| f.rows).sum();
    let staged = Staged { files: written.iter().map(|f| f.location.clone()).collect(), rejects: false };
    if rows_after != rows_before {
        tx.abort(&staged.files, false)?;
        return Err(Error::Failed(format!(
            "compaction read {rows_before} rows but wrote {rows_after}; nothing was changed, please report this"
        )));
    }
    let run = RunManifest {
        run_id: run_id.clone(),
        file_stats: written.iter().map(|f| FileStats { rows: f.rows, bytes: f.bytes }).collect(),
        replaces_files: replaced,
        // Files, staging folder, baseline and sequence: the transaction's to fill in.
        ..RunManifest::default()
    };
    let done = tx.commit(run, &staged, opts.checkpoint_every)?.map_err(|c| Error::Conflict(c.to_string()))?;
    rep.commit = Some(done.sequence);
    rep.after_commit_errors = done.after_commit_errors;
    rep.warnings = done.warnings;
    rep.files_after = staged.files.len() as u64;
    rep.rows = rows_after;
    Ok(rep)
}

/// The partition folders to compact, each with its files (location, and path relative to
/// the table root), and how many Parquet files no commit names (left alone: only the files
/// the log names are the table's).
#[allow(clippy::type_complexity)]
fn partitions_to_compact(
    st: &dyn crate::storage::Storage,
    root: &Location,
    log: &Manifest,
    info: &crate::table::TableInfo,
    opts: &CompactOptions,
) -> Result<(BTreeMap<String, Vec<(Location, String)>>, u64)> {
    let live = log.live_files();
    let mut not_in_log = 0;
    let mut parts: BTreeMap<String, Vec<(Location, String)>> = BTreeMap::new();
    for obj in st.list(root)? {
        let Some(rel) = paths::relative(root, &obj.location).filter(|r| r.ends_with(".parquet")) else { continue };
        let Some((dir, _)) = rel.rsplit_once('/') else { continue };
        let Some(values) = info.layout.parse_path(dir) else { continue };
        if !live.contains_key(&rel) {
            not_in_log += 1;
            continue;
        }
        let day = day_of(info.layout, &values);
        if opts.from.is_some_and(|f| day.is_none_or(|d| d < f)) || opts.to.is_some_and(|t| day.is_none_or(|d| d > t)) {
            continue;
        }
        parts.entry(dir.to_string()).or_default().push((obj.location.clone(), rel));
    }
    parts.retain(|_, files| files.len() >= opts.min_files.max(2));
    Ok((parts, not_in_log))
}

/// Reads the Parquet file at `loc` and hands its rows to `write` in the table's columns
/// (files of earlier runs may lack columns that later runs added: those are null).
/// Returns the rows read.
fn rewrite(
    st: &dyn crate::storage::Storage,
    loc: &Location,
    schema: &arrow_schema::SchemaRef,
    mut write: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<u64> {
    let mut bytes = Vec::new();
    st.open(loc)?.read_to_end(&mut bytes).map_err(|e| Error::io("read", loc, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes))
        .and_then(|b| b.build())
        .map_err(|e| Error::Parquet { path: loc.to_string(), source: e })?;
    let mut rows = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| Error::Parquet { path: loc.to_string(), source: e.into() })?;
        rows += batch.num_rows() as u64;
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| match batch.column_by_name(f.name()) {
                None => Ok(new_null_array(f.data_type(), batch.num_rows())),
                Some(c) if c.data_type() == f.data_type() => Ok(c.clone()),
                // The same values in another Arrow type (enrichment columns flowlake wrote as
                // plain strings before it wrote them dictionary-encoded).
                Some(c) => arrow_cast::cast(c, f.data_type())
                    .map_err(|e| Error::Damaged(format!("{loc}: column `{}` does not fit the table's: {e}", f.name()))),
            })
            .collect::<Result<_>>()?;
        let aligned = RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| Error::Damaged(format!("{loc} does not fit the table's columns: {e}")))?;
        write(&aligned)?;
    }
    Ok(rows)
}
