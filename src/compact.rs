//! `flowlake compact`: rewrite partitions made of many small files (typical of
//! hourly incremental runs) into target-sized files, with the same commit
//! protocol as a conversion: new files are staged, a manifest naming the files
//! they replace is committed, the new files are moved into place (on local disk
//! each partition's folder is swapped in one step, so listing readers never see
//! both), then the old ones are deleted (a crash in between is finished by the next run).

use std::collections::BTreeMap;
use std::io::Read;

use arrow_array::{ArrayRef, RecordBatch, new_null_array};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::manifest::{self, FileStats, Manifest, RunManifest};
use crate::partition::Layout;
use crate::report;
use crate::schema::TableColumns;
use crate::sink::{ParquetOptions, PartitionedSink};
use crate::storage::{self, Location, StorageOptions};

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
    /// Things that went wrong after the new files were committed and that the next run
    /// mends by itself (a manifest checkpoint that could not be written).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn day_of(layout: Layout, values: &[String]) -> Option<i64> {
    let d = match layout {
        Layout::Date | Layout::Hour => values.first()?.clone(),
        Layout::Aws | Layout::AwsHour => format!("{}-{}-{}", values.get(3)?, values.get(4)?, values.get(5)?),
    };
    crate::partition::parse_day(&d)
}

/// Compacts the partitions of the table at `opts.output` that have at least `min_files` files.
pub fn compact(opts: &CompactOptions) -> Result<CompactReport> {
    let st = storage::storage_for(&opts.output, &opts.storage)?;
    let root = &opts.output;
    let m = Manifest::load(st.as_ref(), root)?;
    manifest::roll_forward(st.as_ref(), root, &m)?;
    manifest::finish_replacements(st.as_ref(), root, &m)?;
    manifest::remove_stale_temporaries(st.as_ref(), root)?;
    let info = crate::table::read_table_info(st.as_ref(), root)?;
    let table = TableColumns::from_columns(info.columns.iter().map(|(c, _)| match crate::schema::lookup_loose(c) {
        Some(i) => crate::schema::ColumnId::Known(i),
        None => crate::schema::ColumnId::Unknown(c.clone()),
    }));
    let schema = table.arrow_schema();

    // Files per partition folder.
    let root_key = root.key_path();
    let root_key = root_key.trim_end_matches('/').to_string();
    // Only the files the log names are the table's: anything else is left alone.
    let live = m.live_files();
    let mut not_in_log = 0;
    let mut parts: BTreeMap<String, Vec<(Location, String)>> = BTreeMap::new();
    for obj in st.list(root)? {
        let key = obj.location.key_path();
        if !key.ends_with(".parquet") {
            continue;
        }
        let rel = key.strip_prefix(&root_key).unwrap_or(&key).trim_start_matches('/').to_string();
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

    let run_id = report::new_run_id();
    let mut rep = CompactReport { run_id: run_id.clone(), files_not_in_log: not_in_log, ..CompactReport::default() };
    if parts.is_empty() {
        return Ok(rep);
    }
    let staging_rel = format!("_flowlake/staging/{run_id}");
    let staging_root = root.join(&staging_rel);
    let sink = PartitionedSink::new(st.clone(), staging_root.clone(), schema.clone(), opts.parquet.clone(), &run_id)?;
    let mut rows_before = 0u64;
    let mut replaced = Vec::new();
    for (dir, files) in &parts {
        for (loc, rel) in files {
            let mut bytes = Vec::new();
            st.open(loc)?.read_to_end(&mut bytes).map_err(|e| Error::io("read", loc, e))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes))
                .and_then(|b| b.build())
                .map_err(|e| Error::Parquet { path: loc.to_string(), source: e })?;
            for batch in reader {
                let batch = batch.map_err(|e| Error::Failed(format!("cannot read {loc}: {e}")))?;
                rows_before += batch.num_rows() as u64;
                // Files of earlier runs may lack columns that later runs added: fill them with nulls.
                let columns: Vec<ArrayRef> = schema
                    .fields()
                    .iter()
                    .map(|f| {
                        batch
                            .column_by_name(f.name())
                            .cloned()
                            .unwrap_or_else(|| new_null_array(f.data_type(), batch.num_rows()))
                    })
                    .collect();
                let aligned = RecordBatch::try_new(schema.clone(), columns)
                    .map_err(|e| Error::Failed(format!("{loc} does not fit the table's columns: {e}")))?;
                sink.write(dir, &aligned)?;
            }
            replaced.push(rel.clone());
        }
        rep.partitions += 1;
        rep.files_before += files.len() as u64;
    }
    let written = sink.finish()?;
    let rows_after: u64 = written.iter().map(|f| f.rows).sum();
    let moves: Vec<(Location, String)> =
        written.iter().map(|f| (f.location.clone(), manifest::staged_rel(&staging_root, &f.location))).collect();
    if rows_after != rows_before {
        for (staged, _) in &moves {
            st.delete(staged)?;
        }
        return Err(Error::Failed(format!(
            "compaction read {rows_before} rows but wrote {rows_after}; nothing was changed, please report this"
        )));
    }
    let mut run = RunManifest {
        run_id: run_id.clone(),
        shard: None,
        inputs: Vec::new(),
        files: moves.iter().map(|(_, rel)| rel.clone()).collect(),
        file_stats: written.iter().map(|f| FileStats { rows: f.rows, bytes: f.bytes }).collect(),
        staging: Some(staging_rel),
        rejects: None,
        replaces: Vec::new(),
        replaces_files: replaced.clone(),
        sequence: 0,
        baseline: manifest::baseline_if_first(st.as_ref(), root, &m)?,
    };
    if let Err(conflict) = manifest::commit_in_order(st.as_ref(), root, &m, &mut run)? {
        for (staged, _) in &moves {
            st.delete(staged)?;
        }
        st.remove_empty_dirs(&staging_root)?;
        return Err(Error::Conflict(conflict.to_string()));
    }
    manifest::publish(st.as_ref(), root, &run, &moves)?;
    manifest::replace(st.as_ref(), root, &m, &run)?;
    // Only a shortcut for opening the manifest: a failure is a warning; the next run folds.
    let every = manifest::checkpoint::DEFAULT_EVERY;
    if m.uncovered_runs() + 1 >= every
        && let Err(e) = manifest::checkpoint::fold_if_due(st.as_ref(), root, every)
    {
        rep.warnings.push(format!("the manifest checkpoint was not written ({e}); the next run tries again"));
    }
    rep.files_after = moves.len() as u64;
    rep.rows = rows_after;
    Ok(rep)
}
