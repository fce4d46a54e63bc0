//! One attempt at converting every input: a pool of workers, each taking the next input
//! (in path order, so a day's files are processed together), reading it into
//! per-partition batches ([`super::read`]) and handing full batches to the sink
//! ([`super::write`]); then the accounting that every line read is a row or a reject.
//!
//! Memory is bounded by `threads × open batches × batch rows` plus one row group per
//! open file. A streamed gzip member that fails its check only at its end may have rows
//! in the attempt's files already: the attempt is then thrown away and the run starts
//! over knowing that member, whose lines it rejects ([`attempt_until_known`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;

use crate::enrich::Enricher;
use crate::error::{Error, Result};
use crate::gzip::BadMember;
use crate::report::{self, DamagedFile, RejectWriter};
use crate::sink::{PartitionedSink, WrittenFile};
use crate::source::Prefetcher;
use crate::storage::{Location, Storage};

use super::plan::{Input, Rebuild};
use super::read::{Bucket, Worker};
use super::scan::Scanned;
use super::write::Handoff;
use super::{ConvertOptions, Progress};

/// Attempts a run makes when streamed inputs turn out damaged (each attempt knows more).
const MAX_ATTEMPTS: usize = 4;

/// Counters one worker keeps and the run adds up.
#[derive(Default)]
pub(super) struct Tally {
    pub rows_in: u64,
    pub rows_appended: u64,
    /// Rows of re-read inputs left out because their partition is not being rebuilt.
    pub rows_unchanged: u64,
    pub header_lines: u64,
    pub files_empty: u64,
    /// Parts of inputs skipped by design (CloudWatch Logs control messages).
    pub objects_skipped: u64,
    pub rejects_by_reason: BTreeMap<String, u64>,
    pub unknown_values: BTreeMap<String, BTreeMap<String, u64>>,
    pub damaged: Vec<DamagedFile>,
    pub unusable: Vec<report::UnusableFile>,
}

impl Tally {
    fn add(&mut self, o: Tally) {
        self.rows_in += o.rows_in;
        self.rows_appended += o.rows_appended;
        self.rows_unchanged += o.rows_unchanged;
        self.header_lines += o.header_lines;
        self.files_empty += o.files_empty;
        self.objects_skipped += o.objects_skipped;
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

/// Everything an attempt at the conversion needs, planned once.
pub(super) struct Setup<'a> {
    pub opts: &'a ConvertOptions,
    pub scanned: &'a Scanned,
    /// Where the sink writes and the rejects go (the table's storage).
    pub storage: &'a Arc<dyn Storage>,
    pub staging_root: Location,
    pub file_prefix: &'a str,
    pub rejects_location: Location,
    pub progress: &'a dyn Progress,
    /// The inputs, when they are remote (read ahead by a prefetcher); empty otherwise.
    pub fetches: &'a [Input],
    pub threads: usize,
    pub rebuild: Option<&'a Rebuild>,
    /// Adds the enrichment columns to each batch (`--enrich`).
    pub enricher: Option<&'a Enricher>,
}

/// What one attempt at the conversion did.
pub(super) struct Attempt {
    /// The staged files (none if the attempt failed).
    pub written: Vec<WrittenFile>,
    pub failure: Option<Error>,
    pub tally: Tally,
    pub rows_rejected: u64,
    /// Per job: records read, and the partitions they went to.
    pub job_parts: Vec<(u64, Vec<String>)>,
    /// The staged rejects file, if any line was rejected.
    pub rejects_path: Option<String>,
}

enum Outcome {
    Done(Box<Attempt>),
    /// Streamed inputs (by job index) had damaged members that were not known when the
    /// attempt started; nothing it wrote is kept.
    Again(HashMap<usize, Vec<BadMember>>),
}

/// Shared state of one attempt.
pub(super) struct Run<'a> {
    pub opts: &'a ConvertOptions,
    pub scanned: &'a Scanned,
    pub schema: arrow_schema::SchemaRef,
    pub sink: PartitionedSink,
    pub handoff: Handoff,
    pub rejects: RejectWriter<'a>,
    pub rejects_location: Location,
    /// The next job to take.
    next: AtomicUsize,
    /// Set when the attempt fails: workers stop taking files.
    pub stop: AtomicBool,
    /// Set when a streamed input showed damage only at a member's end, after its lines were
    /// taken as rows (no earlier attempt knew of it): the attempt will start
    /// over, and reads the inputs left only to find the others' ([`Run::check_only`]), so
    /// that the next attempt knows them all.
    pub again: AtomicBool,
    pub rejected: AtomicU64,
    failure: Mutex<Option<Error>>,
    tally: Mutex<Tally>,
    progress: &'a dyn Progress,
    pub prefetch: Option<Prefetcher<'a>>,
    /// Rebuilding partitions for changed inputs: inputs read again only for them write only
    /// rows of these partitions (changed and new inputs write all their rows).
    pub rebuild: Option<&'a Rebuild>,
    pub enricher: Option<&'a Enricher>,
    /// Batches are sorted before the enricher adds its columns (every sort column is one
    /// of the inputs'), and written as they are.
    presort: bool,
    /// Per job: records read from its input, and the partitions they went to.
    job_partitions: Mutex<Vec<(u64, BTreeSet<Bucket>)>>,
    /// Damaged gzip members of streamed inputs that earlier attempts found, by job.
    pub known_damage: &'a HashMap<usize, Vec<BadMember>>,
    /// Damaged members this attempt found in streamed inputs that no earlier attempt knew
    /// of, by job: what the next attempt knows if this one starts over.
    pub new_damage: Mutex<HashMap<usize, Vec<BadMember>>>,
}

/// Runs attempts until one knows every damaged member of the streamed inputs (at most
/// [`MAX_ATTEMPTS`]: an attempt that starts over has looked at every input, so the next
/// one knows all their damage unless inputs change while they are read); returns it and
/// the number of attempts made.
pub(super) fn attempt_until_known(setup: &Setup<'_>, pool: &rayon::ThreadPool) -> Result<(Box<Attempt>, u32)> {
    let mut damage: HashMap<usize, Vec<BadMember>> = HashMap::new();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        match execute(setup, &damage, pool)? {
            Outcome::Done(a) => return Ok((a, attempts)),
            Outcome::Again(found) if (attempts as usize) < MAX_ATTEMPTS => damage.extend(found),
            Outcome::Again(_) => {
                return Err(Error::Failed(format!(
                    "inputs kept changing while they were read ({MAX_ATTEMPTS} attempts found new damage each time); \
                     nothing was written: run again once they are complete"
                )));
            }
        }
    }
}

/// One attempt at converting every job: parse and write in parallel, then account.
fn execute(setup: &Setup<'_>, damage: &HashMap<usize, Vec<BadMember>>, pool: &rayon::ThreadPool) -> Result<Outcome> {
    let (opts, threads) = (setup.opts, setup.threads);
    // Batches are parsed in the inputs' columns; the sink writes them with the enrichment's after them.
    let schema = setup.scanned.table.arrow_schema();
    let sink = PartitionedSink::new(
        setup.storage.clone(),
        setup.staging_root.clone(),
        setup.enricher.map_or_else(|| schema.clone(), Enricher::schema),
        opts.parquet.clone(),
        setup.file_prefix,
    )?;
    let presort = setup.enricher.is_some() && sink.sorts_within(schema.fields().len());
    let run = Run {
        opts,
        scanned: setup.scanned,
        schema,
        sink,
        handoff: Handoff::new(threads),
        rejects: RejectWriter::new(setup.storage.as_ref(), setup.rejects_location.clone()),
        rejects_location: setup.rejects_location.clone(),
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        again: AtomicBool::new(false),
        rejected: AtomicU64::new(0),
        failure: Mutex::new(None),
        tally: Mutex::new(Tally::default()),
        progress: setup.progress,
        prefetch: (!setup.fetches.is_empty()).then(|| Prefetcher::new(setup.fetches, opts.s3_concurrency * 2)),
        rebuild: setup.rebuild,
        enricher: setup.enricher,
        presort,
        job_partitions: Mutex::new(vec![(0, BTreeSet::new()); setup.scanned.jobs.len()]),
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
    run.account()
}

/// Runs `f`, a worker's reading or encoding, with a panic in it (a bug, here or in a
/// library) ending the attempt as a failure: the other worker is then not left waiting
/// for this one's batches, and nothing is committed.
fn guarded(f: impl FnOnce() -> Result<()>) -> Result<()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_string());
        Err(Error::Failed(format!(
            "internal error while converting ({what}); no rows were written. This is a bug: please report it, with the input it was reading if you can"
        )))
    })
}

impl<'a> Run<'a> {
    /// Ends the attempt with `e` (the first failure is the one reported).
    pub(super) fn fail(&self, e: Error) {
        let mut f = self.failure.lock().expect("failure lock");
        if f.is_none() {
            *f = Some(e);
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    /// One worker: reads files until none is left, then encodes what others hand over
    /// (with one large file, this is what keeps a second core busy).
    fn work(&self) {
        let mut w = Worker::new();
        if let Err(e) = guarded(|| self.read_files(&mut w)) {
            self.fail(e);
        }
        self.handoff.producer_done();
        if let Err(e) = guarded(|| self.handoff.encode_queued(&self.stop, &|p, b| self.encode(p, b))) {
            self.fail(e);
        }
        self.tally.lock().expect("tally lock").add(std::mem::take(&mut w.tally));
    }

    fn read_files(&self, w: &mut Worker) -> Result<()> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(job) = self.scanned.jobs.get(i) else { break };
            if self.again.load(Ordering::Relaxed) {
                self.check_only(i, job);
                continue;
            }
            let rows_before = w.tally.rows_in;
            w.files_seen += 1;
            self.file(w, i, job)?;
            self.job_partitions.lock().expect("partitions lock")[i] =
                (w.tally.rows_in - rows_before, std::mem::take(&mut w.parts));
            self.flush_rejects(w)?;
            self.flush_stale(w)?;
            self.progress.file_done(job.input.meta.size, w.tally.rows_in - rows_before);
        }
        self.flush_all(w)
    }

    /// Hands a full batch of a partition to be encoded (see [`Handoff::submit`]).
    /// An enriched run sorts a batch before it adds the enrichment columns (when it can:
    /// see `presort`), so that those are never gathered and the sort column's equal values
    /// are neighbours, looked up once.
    pub(super) fn submit(&self, partition: String, batch: RecordBatch) -> Result<()> {
        let batch = match self.enricher {
            Some(e) if self.presort => e.apply_to_write(&self.sink.sort(&batch)?),
            Some(e) => e.apply_to_write(&batch),
            None => batch,
        };
        self.handoff.submit(partition, batch, &|p, b| self.encode(p, b))
    }

    /// Writes a batch [`submit`](Self::submit) handed over.
    fn encode(&self, partition: &str, batch: &RecordBatch) -> Result<()> {
        match self.presort {
            true => self.sink.write_sorted(partition, batch),
            false => self.sink.write(partition, batch),
        }
    }

    /// The folder of a partition, e.g. `date=2023-08-01`.
    pub(super) fn partition_path(&self, (time, origin): Bucket) -> String {
        self.opts.layout().path(time, self.scanned.origins.get(origin as usize))
    }

    /// After the workers: the files written and the rejects, checked to account for every
    /// line read; or, if streamed inputs showed damage no attempt knew of, start over.
    fn account(self) -> Result<Outcome> {
        let job_parts: Vec<(u64, Vec<String>)> = {
            let buckets = self.job_partitions.lock().expect("partitions lock");
            buckets.iter().map(|(rows, b)| (*rows, b.iter().map(|k| self.partition_path(*k)).collect())).collect()
        };
        let Run { sink, rejects, failure, tally, rejected, new_damage, again, .. } = self;
        let new_damage = new_damage.into_inner().expect("damage lock");
        let tally = tally.into_inner().expect("tally lock");
        let mut failure = failure.into_inner().expect("failure lock");
        if failure.is_none() && again.into_inner() {
            sink.abort()?;
            drop(rejects);
            return Ok(Outcome::Again(new_damage));
        }
        let rows_rejected = rejected.load(Ordering::SeqCst);
        let written = if failure.is_none() {
            sink.finish().unwrap_or_else(|e| {
                failure = Some(e);
                Vec::new()
            })
        } else {
            sink.abort()?;
            Vec::new()
        };
        let rows_written: u64 = written.iter().map(|f| f.rows).sum();
        if failure.is_none()
            && (rows_written != tally.rows_appended
                || tally.rows_in != rows_written + rows_rejected + tally.rows_unchanged)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_a_worker_is_a_failure_of_the_run() {
        let e = guarded(|| panic!("boom at row {}", 7)).unwrap_err();
        assert!(
            matches!(&e, Error::Failed(m) if m.contains("boom at row 7") && m.contains("no rows were written")),
            "{e}"
        );
        let e = guarded(|| std::panic::panic_any(3u8)).unwrap_err();
        assert!(e.to_string().contains("a panic"), "{e}");
        assert!(guarded(|| Ok(())).is_ok());
        assert!(matches!(guarded(|| Err(Error::Usage("u".into()))), Err(Error::Usage(_))));
    }
}
