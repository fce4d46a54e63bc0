//! The read stage: one input → records in per-partition Arrow batches, and rejects.
//!
//! An input is opened as verified bytes ([`Decoded`]: whole, or streamed member by
//! member), split into lines without copying ([`LineSplitter`]) and each line handled
//! once: the header is counted, a header in the middle switches the format, a line in a
//! damaged gzip member, a line too long, a line that does not parse or has no date is
//! rejected with its reason, and a record is parsed straight into the batch of its
//! partition ([`RecordParser`], [`BatchBuilder`]). An input of typed rows (Parquet) is
//! read a batch at a time instead ([`RowBatches`]): runs of rows that pass every check
//! ([`TypedRows`]) are appended as they are, and any other rows are rendered as lines and
//! handled as lines are, numbered by their row. Every line or row read is counted as a
//! row or a reject, which the attempt checks at its end.

use std::collections::{BTreeSet, HashSet};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::error::{Error, Result};
use crate::format::Format;
use crate::gzip::BadMember;
use crate::input::{Fields, UnwrapLine};
use crate::parse::{BatchBuilder, ColumnPlan, Line, LineSplitter, Reason, RecordParser, StreamError, TypedRows};
use crate::partition::Layout;
use crate::reject::RejectKind;
use crate::report::{self, DamagedFile, Reject};
use crate::source::{self, Decoded, RowBatches};

use super::run::{Run, Tally};
use super::scan::{Job, Prep};

/// The partition a buffered row goes to: its time bucket and its input's origin.
pub(super) type Bucket = (i64, u32);

/// How many partitions one worker buffers at once before flushing the largest.
const MAX_BUFFERED_PARTITIONS: usize = 16;
/// Rejects a worker collects before writing them out.
const REJECT_FLUSH: usize = 1024;

/// What one worker keeps between the files it reads: its buffers, reused.
pub(super) struct Worker {
    splitter: LineSplitter,
    parser: RecordParser,
    /// Partially filled batches, with the number of the file that last added to each.
    buffers: Vec<(Bucket, BatchBuilder, u64)>,
    /// Files this worker has taken so far.
    pub files_seen: u64,
    rejects: Vec<Reject>,
    pub tally: Tally,
    /// Partitions the current file's rows went to.
    pub parts: BTreeSet<Bucket>,
    /// While rebuilding partitions: the last bucket tested, and whether its rows are written.
    last_keep: Option<(Bucket, bool)>,
}

impl Worker {
    pub(super) fn new() -> Worker {
        Worker {
            splitter: LineSplitter::new(),
            parser: RecordParser::new(),
            buffers: Vec::new(),
            files_seen: 0,
            rejects: Vec::new(),
            tally: Tally::default(),
            parts: BTreeSet::new(),
            last_keep: None,
        }
    }
}

/// One input being read: how its lines are read, and what reading found so far.
struct FileRead<'r> {
    job: &'r Job,
    /// The plan of the format the lines are in now (a header in the middle switches it);
    /// none for an unusable file, whose lines are all rejected with `unusable`.
    plan: Option<Arc<ColumnPlan>>,
    unusable: Option<Reason>,
    /// The first line is a header (counted as one, not as a record).
    has_header: bool,
    /// The input's kind has header lines, so one in the middle switches the format.
    kind_has_headers: bool,
    /// How the input's kind turns a line into its record (CloudWatch Logs exports strip
    /// the event's timestamp); a line it cannot is rejected.
    unwrap: Option<UnwrapLine>,
    /// Damaged gzip members: their lines are rejected, not converted.
    bad: Vec<BadMember>,
    bad_reasons: Vec<Reason>,
    /// While rebuilding partitions, for an input read again only for them: those partitions.
    only: Option<&'r HashSet<String>>,
    rows_at_start: u64,
    rows_before_bad: Option<u64>,
    /// An error that ends the run (the rejects or the sink could not be written).
    fatal: Option<Error>,
}

impl FileRead<'_> {
    /// The damaged member the line starting at decompressed offset `at` lies in, if any.
    fn bad_member_of(&self, at: u64, line: &Line<'_>) -> Option<usize> {
        let (Line::Text(t) | Line::TooLong(t)) = line;
        let len = t.len() as u64 + 1;
        self.bad.iter().position(|m| m.decompressed.start < at + len && at < m.decompressed.end)
    }
}

/// Cheap test, run on data lines, for a header in the middle of a file: does
/// the line start with a catalog field name? (Values never are field names.)
fn starts_with_field_name(line: &[u8]) -> bool {
    if !line.first().is_some_and(u8::is_ascii_lowercase) {
        return false;
    }
    let end = memchr::memchr(b' ', line).unwrap_or(line.len());
    std::str::from_utf8(&line[..end]).is_ok_and(|t| crate::schema::lookup_loose(t).is_some())
}

/// Why the lines of a damaged gzip member are rejected.
fn damaged_member_reason(m: &BadMember) -> Reason {
    Reason::new(
        RejectKind::DamagedGzip,
        format!("the line is in {}, so its bytes cannot be trusted: rejected, not converted", m.describe()),
    )
}

/// Why a record without a start, in a file whose path has no date (or hour), is rejected.
fn no_date_reason(layout: Layout) -> Reason {
    if matches!(layout, Layout::Hour | Layout::AwsHour) {
        Reason::new(
            RejectKind::NoDate,
            "no hour: the record has no start, and the file path has no YYYY/MM/DD/HH to take the hour from",
        )
    } else {
        Reason::new(
            RejectKind::NoDate,
            "no date: the record has no start, and the file path has no YYYY/MM/DD to take the date from",
        )
    }
}

fn damaged(job: &Job, error: String, offset: u64, rows_before_damage: u64) -> DamagedFile {
    DamagedFile { file: job.input.location().to_string(), error, offset, rows_before_damage }
}

impl Run<'_> {
    /// Reads one input (job `index`) into the worker's batches and rejects.
    pub(super) fn file(&self, w: &mut Worker, index: usize, job: &Job) -> Result<()> {
        let Some((plan, has_header, unusable)) = self.plan_of(w, job) else { return Ok(()) };
        let mut decoded = match self.open(index, job) {
            Ok(d) => d,
            Err(p) => {
                w.tally.damaged.push(damaged(job, p.0, 0, 0));
                return Ok(());
            }
        };
        w.tally.objects_skipped += decoded.skipped();
        // Damaged gzip members known before reading: found now in an input read whole, or by
        // an earlier attempt. (A streamed input's inflating thread may have found some by
        // now, or not: what it found counts only at the end, so that every run does the same.)
        let mut bad = if decoded.damage_known_upfront() { decoded.bad_members() } else { Vec::new() };
        for m in self.known_damage.get(&index).into_iter().flatten() {
            if !bad.iter().any(|b| b.same_as(m)) {
                bad.push(m.clone());
            }
        }
        let mut f = FileRead {
            job,
            plan,
            unusable,
            has_header,
            kind_has_headers: job.source.fields() == Fields::HeaderLine,
            unwrap: job.source.unwrap_line(),
            bad_reasons: bad.iter().map(damaged_member_reason).collect(),
            bad,
            only: self.rebuild.filter(|r| r.reread.contains(&job.input.key)).map(|r| &r.partitions),
            rows_at_start: w.tally.rows_in,
            rows_before_bad: None,
            fatal: None,
        };
        let mut splitter = std::mem::take(&mut w.splitter);
        let outcome = match decoded.row_batches() {
            Some(rows) if f.plan.is_some() => self.rows(w, &mut f, &mut splitter, rows),
            _ => splitter.split(&mut decoded, |line_no, at, line| self.line(w, &mut f, line_no, at, line)),
        };
        w.splitter = splitter;
        if let Some(e) = f.fatal.take() {
            return Err(e);
        }
        self.end_of_file(w, index, &f, &decoded, outcome);
        Ok(())
    }

    /// Once the attempt is to start over: reads an input (job `index`) only to find the
    /// damaged members that show at a streamed member's end, so that the next attempt
    /// knows every one of them (its rows are not needed: nothing of this attempt is kept).
    pub(super) fn check_only(&self, index: usize, job: &Job) {
        if matches!(job.prep, Prep::Damaged(_) | Prep::Empty(_)) {
            return;
        }
        let Ok(mut decoded) = self.open(index, job) else { return };
        // A read error ends the input here, as it does when its lines are read.
        let _ = std::io::copy(&mut decoded, &mut std::io::sink());
        self.remember_damage(index, decoded.bad_members());
    }

    /// Keeps the damaged members of job `index` that no earlier attempt knew of, for the
    /// next attempt if this one starts over. Compared with what earlier attempts knew, not
    /// with what this read knew when it began: a streamed input's inflating thread may have
    /// found the damage before its first line was read this time, and not the next.
    fn remember_damage(&self, index: usize, found: Vec<BadMember>) {
        let known = self.known_damage.get(&index).map_or(&[][..], Vec::as_slice);
        if found.iter().any(|m| !known.iter().any(|b| b.same_as(m))) {
            self.new_damage.lock().expect("damage lock").insert(index, found);
        }
    }

    /// How the input's lines are read (its plan, whether it has a header, or why all its
    /// lines are rejected); `None` for an input with no lines to read (empty, or damaged
    /// beyond opening), which is counted here.
    fn plan_of(&self, w: &mut Worker, job: &Job) -> Option<(Option<Arc<ColumnPlan>>, bool, Option<Reason>)> {
        let plans = &self.scanned.plans;
        match &job.prep {
            Prep::Damaged(msg) => {
                w.tally.damaged.push(damaged(job, msg.clone(), 0, 0));
                None
            }
            Prep::Empty(skipped) => {
                w.tally.files_empty += 1;
                w.tally.objects_skipped += skipped;
                None
            }
            Prep::Header(f) => Some((Some(plans[f].clone()), true, None)),
            Prep::Headerless(f) => Some((Some(plans[f].clone()), false, None)),
            Prep::Unusable(r, header) => {
                let file = job.input.location().to_string();
                w.tally.unusable.push(report::UnusableFile { file, reason: r.text.clone() });
                Some((None, *header, Some(r.clone())))
            }
        }
    }

    /// Opens an input: from the prefetcher's bytes when inputs are remote.
    fn open(&self, index: usize, job: &Job) -> std::result::Result<Decoded, source::OpenProblem> {
        match self.prefetch.as_ref().and_then(|p| p.take(index)) {
            Some(Ok(bytes)) => job.source.open_fetched(bytes, &job.input),
            Some(Err(msg)) => Err(source::OpenProblem(msg)),
            None => job.source.open(job.storage.as_ref(), &job.input, self.opts.read_whole_max),
        }
    }

    /// Handles one line; false stops reading the input (the run stops, or failed).
    #[inline]
    fn line(&self, w: &mut Worker, f: &mut FileRead<'_>, line_no: u64, at: u64, line: Line<'_>) -> bool {
        if !f.bad.is_empty()
            && let Some(i) = f.bad_member_of(at, &line)
        {
            let (Line::Text(raw) | Line::TooLong(raw)) = line;
            f.rows_before_bad.get_or_insert(w.tally.rows_in - f.rows_at_start);
            w.tally.rows_in += 1;
            self.reject(w, f.job, line_no, &f.bad_reasons[i], raw);
            return !self.stop.load(Ordering::Relaxed);
        }
        let text = match line {
            Line::TooLong(prefix) => {
                w.tally.rows_in += 1;
                let r =
                    Reason::new(RejectKind::LineTooLong, format!("line longer than {} bytes", crate::parse::MAX_LINE));
                self.reject(w, f.job, line_no, &r, prefix);
                return !self.stop.load(Ordering::Relaxed);
            }
            Line::Text(t) => t,
        };
        // An unusable file (e.g. one that cannot be placed in a partition) may still start with a valid header.
        if line_no == 1 && f.has_header {
            w.tally.header_lines += 1;
            return true;
        }
        // A header in the middle: files concatenated into one (several gzip members).
        if f.kind_has_headers
            && f.plan.is_some()
            && starts_with_field_name(text)
            && let Ok(format) = Format::from_header(text)
        {
            self.switch_format(w, f, line_no, text, &format);
            return true;
        }
        w.tally.rows_in += 1;
        let Some(plan) = f.plan.as_deref() else {
            let r = f.unusable.as_ref().expect("a file without a plan is unusable");
            self.reject(w, f.job, line_no, r, text);
            return !self.stop.load(Ordering::Relaxed);
        };
        let text = match f.unwrap {
            None => text,
            Some(unwrap) => match unwrap(text) {
                Ok(record) => record,
                Err(r) => {
                    self.reject(w, f.job, line_no, &r, text);
                    return !self.stop.load(Ordering::Relaxed);
                }
            },
        };
        if let Err(e) = self.record(w, f.job, f.only, plan, line_no, text) {
            f.fatal = Some(e);
            return false;
        }
        !line_no.is_multiple_of(4096) || !self.stop.load(Ordering::Relaxed)
    }

    /// Reads an input of typed rows (Parquet) a batch at a time (see
    /// [`TypedRows`]): each run of clean rows of one partition appended as it is, any other
    /// row rendered as its line and handled as a line is, numbered by its row (from 1).
    fn rows(
        &self,
        w: &mut Worker,
        f: &mut FileRead<'_>,
        splitter: &mut LineSplitter,
        rows: &mut dyn RowBatches,
    ) -> std::result::Result<u64, StreamError> {
        let plan = f.plan.clone().expect("an input of rows is read by its plan");
        let mut before = 0u64;
        let mut text = Vec::new();
        while let Some(batch) = rows.next_batch() {
            let batch =
                batch.map_err(|error| StreamError { error, line_no: before + 1, offset: 0, partial: Vec::new() })?;
            let mut as_lines = |w: &mut Worker, f: &mut FileRead<'_>, rows_of: Range<usize>| {
                text.clear();
                rows.render(&batch, rows_of.clone(), &mut text);
                self.lines(w, f, splitter, &text, before + rows_of.start as u64)
            };
            let go_on = match TypedRows::new(&plan, &batch) {
                Some(typed) => self.typed_rows(w, f, &typed, &mut as_lines),
                None => as_lines(w, f, 0..batch.num_rows()),
            };
            before += batch.num_rows() as u64;
            if !go_on || self.stop.load(Ordering::Relaxed) {
                break;
            }
        }
        Ok(before)
    }

    /// Rendered rows, handled as lines are (`text`: one line each, the first numbered
    /// `before + 1`); false stops reading the input.
    fn lines(
        &self,
        w: &mut Worker,
        f: &mut FileRead<'_>,
        splitter: &mut LineSplitter,
        text: &[u8],
        before: u64,
    ) -> bool {
        let mut go_on = true;
        let lines = splitter.split(&mut &text[..], |no, at, line| {
            go_on = self.line(w, f, before + no, at, line);
            go_on
        });
        lines.expect("lines in memory are read without error");
        go_on
    }

    /// The rows of one batch: runs of clean rows of one partition appended as they are, runs
    /// of any other rows handed to `as_lines` (rendered, and rejected there with their
    /// reasons, or read, should the test have been stricter than the text path). False
    /// stops reading the input.
    fn typed_rows(
        &self,
        w: &mut Worker,
        f: &mut FileRead<'_>,
        typed: &TypedRows<'_>,
        as_lines: &mut dyn FnMut(&mut Worker, &mut FileRead<'_>, Range<usize>) -> bool,
    ) -> bool {
        let (layout, path_time) = (self.opts.layout(), f.job.input.path_time);
        let bucket = |row: usize| layout.bucket(typed.start(row), path_time).filter(|_| typed.is_clean(row));
        let mut row = 0;
        while row < typed.len() {
            let Some(time) = bucket(row) else {
                let end = (row + 1..typed.len()).find(|&r| bucket(r).is_some()).unwrap_or(typed.len());
                if !as_lines(w, f, row..end) {
                    return false;
                }
                row = end;
                continue;
            };
            let end = (row + 1..typed.len()).find(|&r| bucket(r) != Some(time)).unwrap_or(typed.len());
            w.tally.rows_in += (end - row) as u64;
            let key = (time, f.job.origin);
            w.parts.insert(key);
            if let Some(only) = f.only
                && !self.keeps(w, only, key)
            {
                w.tally.rows_unchanged += (end - row) as u64;
            } else if let Err(e) = self.append_typed(w, key, typed, row..end) {
                f.fatal = Some(e);
                return false;
            }
            row = end;
        }
        true
    }

    /// A header line in the middle of the input: the lines after it are in its format,
    /// which must be one that some input starts with (the table's columns are planned from those).
    fn switch_format(&self, w: &mut Worker, f: &mut FileRead<'_>, line_no: u64, text: &[u8], format: &Format) {
        match self.scanned.plans.get(format) {
            Some(p) => {
                w.tally.header_lines += 1;
                f.plan = Some(p.clone());
            }
            None => {
                w.tally.rows_in += 1;
                let r = Reason::new(
                    RejectKind::BadHeader,
                    "header line in the middle of the file names a format that no file starts with",
                );
                self.reject(w, f.job, line_no, &r, text);
            }
        }
    }

    /// One record line: parsed into its partition's batch, or rejected with why.
    fn record(
        &self,
        w: &mut Worker,
        job: &Job,
        only: Option<&HashSet<String>>,
        plan: &ColumnPlan,
        line_no: u64,
        text: &[u8],
    ) -> Result<()> {
        match w.parser.parse(plan, text) {
            Ok(parsed) => match self.opts.layout().bucket(parsed.start, job.input.path_time) {
                Some(time) => {
                    let key = (time, job.origin);
                    // Recorded even for rows left out below: the log says where all of an input's rows are.
                    w.parts.insert(key);
                    if let Some(only) = only
                        && !self.keeps(w, only, key)
                    {
                        w.tally.rows_unchanged += 1;
                        return Ok(());
                    }
                    self.append(w, plan, key, text)?;
                }
                None => self.reject(w, job, line_no, &no_date_reason(self.opts.layout()), text),
            },
            Err(r) => self.reject(w, job, line_no, &r, text),
        }
        if w.rejects.len() >= REJECT_FLUSH {
            self.flush_rejects(w)?;
        }
        Ok(())
    }

    /// While rebuilding partitions: whether a re-read input's row of partition `key` is
    /// written. (Consecutive lines nearly always share a partition: each is tested once in a row.)
    fn keeps(&self, w: &mut Worker, only: &HashSet<String>, key: Bucket) -> bool {
        match w.last_keep {
            Some((k, keep)) if k == key => keep,
            _ => {
                let keep = only.contains(&self.partition_path(key));
                w.last_keep = Some((key, keep));
                keep
            }
        }
    }

    /// What the end of an input tells: damage found only at a streamed member's end (the
    /// attempt starts over), damaged members whose lines were rejected, a stream cut off.
    fn end_of_file(
        &self,
        w: &mut Worker,
        index: usize,
        f: &FileRead<'_>,
        decoded: &Decoded,
        outcome: std::result::Result<u64, StreamError>,
    ) {
        let found = decoded.bad_members();
        let late = found.iter().any(|m| !f.bad.iter().any(|b| b.same_as(m)));
        self.remember_damage(index, found);
        if late {
            // A streamed input whose damage showed only at a member's end: rows of that member
            // may be in this attempt's files already. The run starts over knowing it.
            self.again.store(true, Ordering::SeqCst);
            return;
        }
        let rows_read = w.tally.rows_in - f.rows_at_start;
        if !f.bad.is_empty() {
            let what: Vec<String> = f.bad.iter().map(BadMember::describe).collect();
            let error = format!("{}: their lines were rejected, not converted", what.join("; "));
            w.tally.damaged.push(damaged(f.job, error, f.bad[0].stored.start, f.rows_before_bad.unwrap_or(rows_read)));
        }
        match outcome {
            Err(err) => {
                let offset = decoded.compressed_offset();
                let (what, at) = (decoded.what_failed(), decoded.failed_at(err.line_no));
                if !err.partial.is_empty() {
                    w.tally.rows_in += 1;
                    let r = Reason::new(
                        RejectKind::Truncated,
                        format!("truncated: the line was cut off where the input is damaged ({what} {at})"),
                    );
                    self.reject(w, f.job, err.line_no, &r, &err.partial);
                }
                let rows = w.tally.rows_in - f.rows_at_start;
                w.tally.damaged.push(damaged(f.job, format!("{what} {at}: {}", err.error), offset, rows));
            }
            Ok(_) if rows_read == 0 && f.bad.is_empty() => w.tally.files_empty += 1,
            Ok(_) => {}
        }
    }

    /// Counts a rejected line and keeps it for the rejects file; past `max_rejects`, the run fails.
    fn reject(&self, w: &mut Worker, job: &Job, line: u64, reason: &Reason, raw: &[u8]) {
        *w.tally.rejects_by_reason.entry(reason.kind.name().to_string()).or_default() += 1;
        if let Some((field, value)) = &reason.unknown {
            report::count_unknown_value(&mut w.tally.unknown_values, field, value, 1);
        }
        w.rejects.push(Reject {
            source: job.input.location().to_string(),
            line,
            reason: reason.text.clone(),
            raw: raw.to_vec(),
        });
        let n = self.rejected.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(max) = self.opts.max_rejects
            && n > max
        {
            self.fail(Error::Failed(format!(
                "more than {max} records rejected (--max-rejects {max}); no rows were written. See {} for the lines and reasons",
                self.rejects_location
            )));
        }
    }

    /// Writes the worker's collected rejects out.
    pub(super) fn flush_rejects(&self, w: &mut Worker) -> Result<()> {
        self.rejects.write(&w.rejects)?;
        w.rejects.clear();
        Ok(())
    }

    /// Hands over batches of partitions that the last two files did not add to:
    /// inputs come in delivery order, so those partitions are most likely done,
    /// and holding their rows would make memory grow with the number of days.
    pub(super) fn flush_stale(&self, w: &mut Worker) -> Result<()> {
        let now = w.files_seen;
        let mut i = 0;
        while i < w.buffers.len() {
            if w.buffers[i].2 + 2 <= now {
                let (k, mut b, _) = w.buffers.swap_remove(i);
                if !b.is_empty() {
                    self.submit(self.partition_path(k), b.finish())?;
                }
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// Hands over every batch the worker holds (it has no file left to read).
    pub(super) fn flush_all(&self, w: &mut Worker) -> Result<()> {
        for (bucket, mut b, _) in std::mem::take(&mut w.buffers) {
            if !b.is_empty() {
                self.submit(self.partition_path(bucket), b.finish())?;
            }
        }
        Ok(())
    }

    /// The worker's batch for partition `key` (a new one, when it has none: the largest
    /// batch is handed over first if the worker holds too many), stamped as used by the
    /// current file.
    fn buffer_of(&self, w: &mut Worker, key: Bucket) -> Result<usize> {
        // Consecutive lines nearly always share a partition: look at the last used buffer first.
        let idx = match w.buffers.iter().rposition(|(k, _, _)| *k == key) {
            Some(i) => i,
            None => {
                if w.buffers.len() >= MAX_BUFFERED_PARTITIONS {
                    let (i, _) = w.buffers.iter().enumerate().max_by_key(|(_, (_, b, _))| b.len()).expect("non-empty");
                    let (k, mut b, _) = w.buffers.swap_remove(i);
                    self.submit(self.partition_path(k), b.finish())?;
                }
                let batch_rows = self.opts.batch_rows;
                w.buffers.push((key, BatchBuilder::new(&self.scanned.table, self.schema.clone(), batch_rows), 0));
                w.buffers.len() - 1
            }
        };
        w.buffers[idx].2 = w.files_seen;
        Ok(idx)
    }

    /// Appends a parsed record to its partition's batch, handing the batch over when full.
    fn append(&self, w: &mut Worker, plan: &ColumnPlan, key: Bucket, line: &[u8]) -> Result<()> {
        let idx = self.buffer_of(w, key)?;
        let b = &mut w.buffers[idx].1;
        b.append(plan, &w.parser, line);
        w.tally.rows_appended += 1;
        if b.is_full(self.opts.batch_rows) {
            let batch = b.finish();
            self.submit(self.partition_path(key), batch)?;
        }
        Ok(())
    }

    /// Appends clean typed rows of one partition to its batch, handing it over each time
    /// it fills.
    fn append_typed(&self, w: &mut Worker, key: Bucket, typed: &TypedRows<'_>, rows: Range<usize>) -> Result<()> {
        let mut at = rows.start;
        while at < rows.end {
            let idx = self.buffer_of(w, key)?;
            let b = &mut w.buffers[idx].1;
            // As many as the batch has room for, in rows and in bytes of their lines.
            let room = self.opts.batch_rows.saturating_sub(b.len()).min(b.bytes_room() / typed.line_len());
            let n = (rows.end - at).min(room.max(1));
            b.append_typed(typed, at..at + n);
            w.tally.rows_appended += n as u64;
            at += n;
            if b.is_full(self.opts.batch_rows) {
                let batch = b.finish();
                self.submit(self.partition_path(key), batch)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lines_starting_with_a_field_name_are_header_candidates() {
        assert!(starts_with_field_name(b"version account-id interface-id"));
        assert!(starts_with_field_name(b"srcaddr"));
        assert!(!starts_with_field_name(b"2 123456789012 eni-1"));
        assert!(!starts_with_field_name(b"Version x"));
        assert!(!starts_with_field_name(b""));
        assert!(!starts_with_field_name(b"nosuchfield x"));
    }
}
