//! The run report (what a run read, wrote and rejected) and the rejects file.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

use crate::error::{Error, Result};
use crate::partition::civil_from_days;
use crate::storage::{Location, ObjectWriter, Storage};

/// Serializes anything by its `Display` form (used for locations).
pub fn ser_display<T: std::fmt::Display, S: Serializer>(v: &T, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// A Parquet file that was written and committed.
#[derive(Clone, Debug, Serialize)]
pub struct WrittenFile {
    /// The partition folder, e.g. `date=2023-08-01`.
    pub partition: String,
    /// Where the file is.
    #[serde(serialize_with = "ser_display")]
    pub location: Location,
    /// Rows in it.
    pub rows: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every input was read to its end; all rows were written or rejected.
    Ok,
    /// The run completed, but some input files were damaged or unreadable:
    /// what could be read was written, the rest is listed in `files_damaged`.
    CompletedWithErrors,
    /// The run stopped (see `error`); it wrote no rows.
    Failed,
    /// Another run committed first and converted some of the same inputs (or replaced the
    /// same files): this run wrote nothing (see `error`, which names that run).
    Conflict,
}

/// An input file that could not be read to its end.
#[derive(Clone, Debug, Serialize)]
pub struct DamagedFile {
    /// The file.
    pub file: String,
    /// What was wrong.
    pub error: String,
    /// Byte offset in the stored (compressed) file where reading stopped.
    pub offset: u64,
    /// Records read from the file before the damage (written or rejected as usual).
    pub rows_before_damage: u64,
}

/// An input file whose every line was rejected for one reason (no header, a header that
/// cannot be used, a path the layout cannot place).
#[derive(Clone, Debug, Serialize)]
pub struct UnusableFile {
    /// The file.
    pub file: String,
    /// Why (the reason its lines carry in the rejects file).
    pub reason: String,
}

/// A lookup table a run's enrichment read (`--enrich`): since the mapping changes over
/// time and rows keep the answer as of their conversion, each run records which
/// version of each table it used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct EnrichmentUsed {
    /// `aws-ip-ranges`, `interfaces` or `geoip`.
    pub table: String,
    /// The file (one row per file of an `interfaces` folder).
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The SHA-256 of its bytes, in hex.
    pub sha256: String,
    /// The version the table states of itself: `syncToken` and `createDate` of
    /// `ip-ranges.json`, the type and build date of a MaxMind DB (none for interfaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// What it holds: ranges, interfaces or networks.
    pub entries: u64,
}

/// Rows and files of one partition.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PartitionStats {
    /// Rows written to the partition.
    pub rows: u64,
    /// Files written to it.
    pub files: u64,
    /// Bytes written to it.
    pub bytes: u64,
}

/// One input format seen in the run.
#[derive(Clone, Debug, Serialize)]
pub struct FormatSeen {
    /// The flow-log version of the format (highest field version).
    pub version: u8,
    /// The header line.
    pub fields: String,
    /// How many input files have it.
    pub files: u64,
}

/// Everything a run did. For a run that did not fail, `rows_in = rows_written + rows_rejected`.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// Unique id of the run; part of every file name it wrote.
    pub run_id: String,
    /// How it ended.
    pub status: RunStatus,
    /// For a failed run, why.
    pub error: Option<String>,
    /// flowlake's version.
    pub flowlake_version: String,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// Wall-clock duration.
    pub elapsed_seconds: f64,
    /// The inputs as given.
    pub inputs: Vec<String>,
    /// The output root.
    pub output: String,
    /// Worker threads used.
    pub threads: usize,
    /// Parquet codec.
    pub compression: String,
    /// With `--shard`: which shard this run was (`INDEX/COUNT`).
    pub shard: Option<String>,
    /// Input files listed (before `--shard` took this shard's share).
    pub files_listed: u64,
    /// Times the conversion started (more than 1 when a streamed gzip member failed its check
    /// at its end, after some of its rows were written: the run then starts over, knowing it).
    pub attempts: u32,
    /// Input files skipped because the table's manifest records them as converted, unchanged.
    pub files_skipped: u64,
    /// Inputs read, by kind (`text`, `cloudwatch-export`, `cloudwatch-subscription`, `firehose`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub input_kinds: BTreeMap<String, u64>,
    /// Parts of inputs that hold no records by design and were skipped (CloudWatch Logs
    /// `CONTROL_MESSAGE` envelopes).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub objects_skipped: u64,
    /// Input files read.
    pub files_in: u64,
    /// Bytes of input as stored (compressed).
    pub bytes_in: u64,
    /// Input files with no records (empty, or a header only).
    pub files_empty: u64,
    /// Input files that could not be read to the end.
    pub files_damaged: Vec<DamagedFile>,
    /// Input files whose every line was rejected for one reason, with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files_unusable: Vec<UnusableFile>,
    /// Header lines read (one per file, more in concatenated files); not records.
    pub header_lines: u64,
    /// Records read (every line that is not a header).
    pub rows_in: u64,
    /// Records written to Parquet.
    pub rows_written: u64,
    /// Records written to the rejects file instead.
    pub rows_rejected: u64,
    /// Records read but not written because the run failed (0 unless `status` is `failed`):
    /// `rows_in = rows_written + rows_rejected + rows_discarded + rows_unchanged`.
    pub rows_discarded: u64,
    /// Records of inputs read again to rebuild partitions a changed input wrote to, that
    /// belong to other partitions and are already there unchanged (0 unless inputs changed).
    #[serde(default)]
    pub rows_unchanged: u64,
    /// Rejected records per reason kind.
    pub rejects_by_reason: BTreeMap<String, u64>,
    /// Values outside the set AWS documents for a field (`type`, `flow-direction`, …), by
    /// field, with the records rejected for each: AWS may have added them since this
    /// flowlake was built (see `unknown_value` in `rejects_by_reason`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown_values: BTreeMap<String, BTreeMap<String, u64>>,
    /// The rejects file, when there were rejects.
    pub rejects_path: Option<String>,
    /// Parquet files written.
    pub files_written: u64,
    /// Bytes of Parquet written.
    pub bytes_written: u64,
    /// Per partition (`date=2023-08-01`): rows, files, bytes.
    pub partitions: BTreeMap<String, PartitionStats>,
    /// Formats found in the input.
    pub formats: Vec<FormatSeen>,
    /// Header fields this build does not know; kept as string columns.
    pub unknown_fields: Vec<String>,
    /// The output table's columns, in order.
    pub columns: Vec<String>,
    /// The lookup tables the enrichment columns came from (`--enrich`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enrichment: Vec<EnrichmentUsed>,
    /// Where this report is stored.
    pub report_path: String,
    /// Where the table's DDL and named queries were written (`OUT/_flowlake/ddl/`).
    pub ddl_path: Option<String>,
    /// Every Parquet file written.
    pub files: Vec<WrittenFile>,
    /// The run's place in the table's commit log, once its rows are committed (part of the table).
    pub commit: Option<u64>,
    /// Steps after the commit that failed (moving files into place, deleting what it
    /// replaces, the DDL, storing this report). The rows are committed all the same; the
    /// next run into the table finishes the moves and deletions. Exit code 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_commit_errors: Vec<String>,
    /// What the run noticed and mended without changing anything (an input named twice, read once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Things that went wrong after the run's rows were committed and that the next
    /// run mends by itself (for example a manifest checkpoint that could not be written).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Distinct unknown values a report lists per field; the rest are counted under [`OTHER_VALUES`].
pub const MAX_UNKNOWN_VALUES: usize = 100;
/// The key under which values beyond [`MAX_UNKNOWN_VALUES`] are counted.
pub const OTHER_VALUES: &str = "(other values)";

/// Adds `n` records with the unknown `value` of `field` to `into`.
pub fn count_unknown_value(into: &mut BTreeMap<String, BTreeMap<String, u64>>, field: &str, value: &str, n: u64) {
    let values = into.entry(field.to_string()).or_default();
    let key = if values.contains_key(value) || values.len() < MAX_UNKNOWN_VALUES { value } else { OTHER_VALUES };
    *values.entry(key.to_string()).or_default() += n;
}

/// A rejected line.
#[derive(Clone, Debug)]
pub struct Reject {
    /// The input file (path or URL).
    pub source: String,
    /// 1-based line number in the decompressed file.
    pub line: u64,
    /// Why.
    pub reason: String,
    /// The line's bytes (at most the line limit).
    pub raw: Vec<u8>,
}

/// Appends rejects to `OUT/_flowlake/rejects/<run>.tsv` (columns: source,
/// line, reason, raw; tabs, newlines, backslashes and non-UTF-8 bytes
/// escaped). The file is created on the first reject.
pub struct RejectWriter<'a> {
    storage: &'a dyn Storage,
    location: Location,
    out: Mutex<Option<BufWriter<Box<dyn ObjectWriter>>>>,
}

impl<'a> RejectWriter<'a> {
    /// A writer that will create `location` when the first reject arrives.
    pub fn new(storage: &'a dyn Storage, location: Location) -> RejectWriter<'a> {
        RejectWriter { storage, location, out: Mutex::new(None) }
    }

    /// Writes a group of rejects.
    pub fn write(&self, rejects: &[Reject]) -> Result<()> {
        if rejects.is_empty() {
            return Ok(());
        }
        let mut guard = self.out.lock().expect("rejects lock");
        if guard.is_none() {
            let mut w = BufWriter::new(self.storage.create(&self.location)?);
            w.write_all(b"source\tline\treason\traw\n").map_err(|e| Error::io("write", &self.location, e))?;
            *guard = Some(w);
        }
        let w = guard.as_mut().expect("just created");
        let mut line = Vec::with_capacity(256);
        for r in rejects {
            line.clear();
            escape_into(&mut line, r.source.as_bytes());
            line.push(b'\t');
            line.extend_from_slice(r.line.to_string().as_bytes());
            line.push(b'\t');
            escape_into(&mut line, r.reason.as_bytes());
            line.push(b'\t');
            escape_into(&mut line, &r.raw);
            line.push(b'\n');
            w.write_all(&line).map_err(|e| Error::io("write", &self.location, e))?;
        }
        Ok(())
    }

    /// Commits the file; returns its location if any reject was written.
    pub fn finish(self) -> Result<Option<Location>> {
        match self.out.into_inner().expect("rejects lock") {
            None => Ok(None),
            Some(w) => {
                let w = w.into_inner().map_err(|e| Error::io("write", &self.location, e.into_error()))?;
                w.commit()?;
                Ok(Some(self.location))
            }
        }
    }
}

/// TSV-escapes `raw` into `out`: `\\`, `\t`, `\n`, `\r`, and `\xNN` for bytes
/// that are not valid UTF-8 or are control characters.
pub fn escape_into(out: &mut Vec<u8>, raw: &[u8]) {
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.extend_from_slice(b"\\\\"),
                '\t' => out.extend_from_slice(b"\\t"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                c if c.is_control() => out.extend_from_slice(format!("\\x{:02x}", c as u32).as_bytes()),
                c => {
                    let mut b = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                }
            }
        }
        for b in chunk.invalid() {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        }
    }
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds.
pub fn rfc3339(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// A new run id: `YYYYMMDDTHHMMSSZ-` and 8 hex digits that differ between
/// runs started in the same second.
pub fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(now.as_nanos());
    h.write_u32(std::process::id());
    let stamp: String = rfc3339(now.as_secs() as i64).chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("{stamp}-{:08x}", h.finish() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_escaping() {
        let mut out = Vec::new();
        escape_into(&mut out, b"a\tb\\c\nd\xff\x01");
        assert_eq!(String::from_utf8(out).unwrap(), "a\\tb\\\\c\\nd\\xff\\x01");
    }

    #[test]
    fn timestamps_and_run_ids() {
        assert_eq!(rfc3339(1_418_530_010), "2014-12-14T04:06:50Z");
        let a = new_run_id();
        let b = new_run_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), "20261128T091500Z-0123abcd".len(), "{a}");
    }
}
