//! The end of a run: its report from what the attempt did, its commit (or, for a failed
//! run, giving the transaction up), the table's DDL, and the report stored beside the table.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use crate::ddl::{self, DdlOptions};
use crate::enrich::{Enricher, Tables};
use crate::error::Result;
use crate::report::{DamagedFile, PartitionStats, RunReport, RunStatus};
use crate::sink::WrittenFile;
use crate::storage::{Location, Storage};
use crate::table::log::{self, FileStats, RunManifest};
use crate::table::{Staged, Transaction};

use super::ConvertOptions;
use super::plan::Planned;
use super::run::Attempt;
use super::scan::{self, Scanned};

/// What the run knew before its attempt, for the report.
pub(super) struct RunFacts<'a> {
    pub run_id: String,
    /// Unix seconds.
    pub started: f64,
    pub t0: Instant,
    pub threads: usize,
    pub attempts: u32,
    pub files_listed: u64,
    /// Entries under the inputs that could not be taken as inputs, with why.
    pub unreadable: Vec<(String, String)>,
    /// What discovery noticed and mended (inputs named twice).
    pub notes: Vec<String>,
    pub report_location: Location,
    pub enrichment: Enrichment<'a>,
}

/// The run's lookup tables, and the columns they added.
pub(super) struct Enrichment<'a> {
    pub tables: &'a Tables,
    pub enricher: Option<&'a Enricher>,
}

impl Enrichment<'_> {
    /// The names of the columns the run wrote: the inputs', then the enrichment's.
    fn columns(&self, inputs: &crate::schema::TableColumns) -> Vec<String> {
        self.enricher.map_or(inputs, |e| e.table()).columns().iter().map(|c| c.column_name()).collect()
    }
}

/// The run's report from its attempt, and what the attempt staged (nothing staged is
/// kept for a failed attempt: its files are to be removed).
pub(super) fn report_of(
    opts: &ConvertOptions,
    facts: RunFacts<'_>,
    planned: &Planned,
    scanned: &Scanned,
    tx: &Transaction,
    attempt: &mut Attempt,
) -> (RunReport, Staged) {
    let (staged, written) = staged_files(opts, tx, &mut attempt.written, attempt.rejects_path.is_some());
    let written = if attempt.failure.is_some() { Vec::new() } else { written };
    let tally = std::mem::take(&mut attempt.tally);
    let rows_written: u64 = written.iter().map(|f| f.rows).sum();
    let rows_rejected = attempt.rows_rejected;
    let damaged = damaged_files(tally.damaged, facts.unreadable);
    let mut unusable = tally.unusable;
    unusable.sort_by(|a, b| a.file.cmp(&b.file));
    let status = match (&attempt.failure, damaged.is_empty()) {
        (Some(_), _) => RunStatus::Failed,
        (None, false) => RunStatus::CompletedWithErrors,
        (None, true) => RunStatus::Ok,
    };
    let jobs = &scanned.jobs;
    let report = RunReport {
        run_id: facts.run_id,
        status,
        error: attempt.failure.take().map(|e| e.to_string()),
        flowlake_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: crate::report::rfc3339(facts.started as i64),
        elapsed_seconds: facts.t0.elapsed().as_secs_f64(),
        inputs: opts.inputs.iter().map(|l| l.to_string()).collect(),
        output: opts.output.to_string(),
        threads: facts.threads,
        compression: opts.parquet.compression.to_string(),
        shard: opts.shard.map(|s| s.to_string()),
        attempts: facts.attempts,
        files_listed: facts.files_listed,
        files_skipped: planned.files_skipped,
        input_kinds: scan::kinds_read(jobs),
        objects_skipped: tally.objects_skipped,
        files_in: jobs.len() as u64,
        bytes_in: jobs.iter().map(|j| j.input.meta.size).sum(),
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
        rejects_path: attempt.rejects_path.take(),
        files_written: written.len() as u64,
        bytes_written: written.iter().map(|f| f.bytes).sum(),
        partitions: partition_stats(&written),
        formats: scan::formats_seen(&scanned.formats),
        unknown_fields: scan::unknown_fields(&scanned.formats),
        columns: facts.enrichment.columns(&scanned.table),
        enrichment: facts.enrichment.tables.used.clone(),
        report_path: facts.report_location.to_string(),
        ddl_path: None,
        files: written,
        warnings: Vec::new(),
        commit: None,
        after_commit_errors: Vec::new(),
        notes: facts
            .notes
            .into_iter()
            .chain(scan::assumed_formats(jobs))
            .chain(no_enrichment(&facts.enrichment))
            .collect(),
    };
    (report, staged)
}

/// The damaged inputs, with the entries that could not be taken as inputs, by name.
fn damaged_files(mut damaged: Vec<DamagedFile>, unreadable: Vec<(String, String)>) -> Vec<DamagedFile> {
    damaged.extend(unreadable.into_iter().map(|(file, error)| DamagedFile {
        file,
        error,
        offset: 0,
        rows_before_damage: 0,
    }));
    damaged.sort_by(|a, b| a.file.cmp(&b.file));
    damaged
}

/// Tables given that add no column (the inputs have none of the fields they look up).
fn no_enrichment(e: &Enrichment<'_>) -> Option<String> {
    (e.enricher.is_none() && !e.tables.is_empty()).then(|| {
        "--enrich added no column: the inputs have none of the fields the tables look up \
         (srcaddr, dstaddr, pkt-srcaddr, pkt-dstaddr, interface-id)"
            .to_string()
    })
}

/// The staged files, and the written files as the report lists them: at the place each
/// takes below the table root (the same path it has below the staging folder).
fn staged_files(
    opts: &ConvertOptions,
    tx: &Transaction,
    written: &mut Vec<WrittenFile>,
    rejects: bool,
) -> (Staged, Vec<WrittenFile>) {
    let mut files = Vec::with_capacity(written.len());
    let mut placed = std::mem::take(written);
    for f in &mut placed {
        let rel = tx.target_of(&f.location);
        files.push(std::mem::replace(&mut f.location, opts.output.join(&rel)));
    }
    (Staged { files, rejects }, placed)
}

fn partition_stats(written: &[WrittenFile]) -> BTreeMap<String, PartitionStats> {
    let mut partitions: BTreeMap<String, PartitionStats> = BTreeMap::new();
    for f in written {
        let p = partitions.entry(f.partition.clone()).or_default();
        p.rows += f.rows;
        p.files += 1;
        p.bytes += f.bytes;
    }
    partitions
}

/// Commits the run (a failed one gives its transaction up, keeping its staged rejects for
/// the user to read; a run with no inputs commits nothing), and records the outcome in
/// the report.
pub(super) fn commit(
    opts: &ConvertOptions,
    tx: Transaction,
    report: &mut RunReport,
    staged: &Staged,
    scanned: &Scanned,
    job_parts: Vec<(u64, Vec<String>)>,
    planned: Planned,
) -> Result<()> {
    if report.status == RunStatus::Failed {
        // The staged rejects stay, for the user to read (the report names them).
        return tx.abort(&staged.files, true);
    }
    if report.files_in == 0 {
        return Ok(());
    }
    let records: &HashMap<String, String> = &planned.records;
    let run = RunManifest {
        run_id: report.run_id.clone(),
        shard: report.shard.clone(),
        inputs: scanned
            .jobs
            .iter()
            .zip(job_parts)
            .map(|(j, (rows, p))| {
                log::entry(&j.input, rows, p, records.get(&j.input.key).map(String::as_str), j.read_as())
            })
            .collect(),
        file_stats: report.files.iter().map(|f| FileStats { rows: f.rows, bytes: f.bytes }).collect(),
        replaces: planned.replaces,
        replaces_files: planned.replaces_files,
        enrichment: report.enrichment.clone(),
        // Files, rejects, staging folder, baseline and sequence: the transaction's to fill in.
        ..RunManifest::default()
    };
    // The commit point: from here on the run's files are part of the table.
    match tx.commit(run, staged, opts.checkpoint_every)? {
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
    Ok(())
}

/// Writes the table's DDL after a commit that wrote files (a failure is an after-commit
/// error: the rows are in), then stores the report beside the table. A report that cannot
/// be stored fails a run that committed nothing; after a commit it is only noted.
pub(super) fn store(
    opts: &ConvertOptions,
    storage: &dyn Storage,
    report: &mut RunReport,
    report_location: &Location,
) -> Result<()> {
    if report.commit.is_some() && report.files_written > 0 {
        let o = opts.ddl.clone().unwrap_or_else(|| DdlOptions::for_table(&opts.output));
        match ddl::write(storage, &opts.output, &o) {
            Ok(dir) => report.ddl_path = Some(dir.to_string()),
            Err(e) => report.after_commit_errors.push(format!("the DDL was not written: {e}")),
        }
    }
    let json = serde_json::to_vec_pretty(&*report).expect("report serializes");
    if let Err(e) = storage.put(report_location, &json) {
        if report.commit.is_none() && report.status != RunStatus::Conflict {
            return Err(e);
        }
        report.after_commit_errors.push(format!("this report was not stored: {e}"));
    }
    Ok(())
}
