//! The header scan: each input's kind found from its content (or the user's
//! `--input-kind`), its first line read into a [`Format`] (a header; or the user's
//! `--format`, or AWS's default format, for kinds without headers), inputs that cannot be
//! read with one set aside with why, and the table's columns as the union of the formats,
//! in catalog order. `flowlake schema` is this stage alone ([`inspect`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::format::{Format, HeaderProblem};
use crate::input::{self, Fields, InputKind, Source, TEXT};
use crate::parse::{ColumnPlan, Reason};
use crate::partition::{Layout, Origin};
use crate::reject::RejectKind;
use crate::report::FormatSeen;
use crate::schema::TableColumns;
use crate::source::{self, InputFile, InputFilter};
use crate::storage::{Location, Storage, StorageOptions};
use crate::table::log::ReadAs;

use super::plan::{Input, discover_all};

/// What the header scan found out about one input.
#[derive(Clone, Debug)]
pub(super) enum Prep {
    /// The file starts with this header.
    Header(Format),
    /// No header; the user's `--format` applies.
    Headerless(Format),
    /// No lines; the parts it skipped by design (CloudWatch Logs control messages).
    Empty(u64),
    /// Every line is rejected for this reason; `header`: the first line is a header
    /// (counted as one, not as a record), usable or not.
    Unusable(Reason, bool),
    /// The file cannot be opened or decoded at all.
    Damaged(String),
}

impl Prep {
    pub(super) fn format(&self) -> Option<&Format> {
        match self {
            Prep::Header(f) | Prep::Headerless(f) => Some(f),
            _ => None,
        }
    }
}

pub(super) struct Job {
    pub input: InputFile,
    pub storage: Arc<dyn Storage>,
    /// The input's kind, which opens it.
    pub source: &'static dyn Source,
    pub prep: Prep,
    /// The input names no fields, no `--format` was given, and its first record has the
    /// fields of AWS's default format: it is read in that format (the report says so).
    pub assumed_format: bool,
    /// Index into [`Scanned::origins`] (for layouts that name the account and region).
    pub origin: u32,
}

impl Job {
    /// How the run read this input, for its record: its kind, and the fields its records
    /// were read with where the input does not name them (a rebuild reads it so again).
    pub fn read_as(&self) -> ReadAs {
        let named_by_input = matches!(self.source.fields(), Fields::Schema);
        let format = match &self.prep {
            Prep::Headerless(f) if !named_by_input => Some(f.header_line()),
            _ => None,
        };
        ReadAs { kind: Some(self.source.name().to_string()), format }
    }
}

/// How a rebuild reads an input the table records unchanged: as the run that converted
/// it did, whatever the options of the rebuilding run.
#[derive(Clone, Debug)]
pub(super) struct AsRecorded {
    kind: InputKind,
    format: Option<Format>,
}

impl AsRecorded {
    /// From the table's record of `input` (shown as `name`).
    pub(super) fn of(name: &str, r: &ReadAs) -> Result<AsRecorded> {
        let kind = r.kind.as_deref().unwrap_or("text");
        let kind = InputKind::from_name(kind).filter(|k| *k != InputKind::Auto).ok_or_else(|| {
            Error::Refused(format!(
                "{name} was converted by a newer flowlake, which read it as input kind `{kind}`; this flowlake \
                 does not know that kind, so it cannot read it again to rebuild its partitions: upgrade flowlake"
            ))
        })?;
        let format = match &r.format {
            None => None,
            Some(line) => Some(Format::from_header(line.as_bytes()).map_err(|p| {
                Error::Damaged(format!(
                    "the table's log records that {name} was read with the fields `{line}`, which are not a \
                     flow-log format ({p}); the log was edited or damaged: restore it from a backup"
                ))
            })?),
        };
        Ok(AsRecorded { kind, format })
    }

    fn reading(&self) -> Reading<'_> {
        Reading { format: self.format.as_ref(), kind: self.kind }
    }
}

/// What the header scan found, for the run.
pub(super) struct Scanned {
    /// One job per input, in path order.
    pub jobs: Vec<Job>,
    /// The distinct origins of the inputs (for layouts that partition by them).
    pub origins: Vec<Origin>,
    /// The distinct formats, with file counts, in order of first appearance.
    pub formats: Vec<(Format, u64)>,
    /// The table's columns: the union of the formats'.
    pub table: TableColumns,
    /// How each format's fields map to the table's columns.
    pub plans: HashMap<Format, Arc<ColumnPlan>>,
}

/// How the user asked for inputs to be read: their format (`--format`, for inputs
/// without a header) and their kind (`--input-kind`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Reading<'a> {
    /// The format of inputs that name no fields.
    pub format: Option<&'a Format>,
    /// The inputs' kind; [`InputKind::Auto`]: each input's found from its content.
    pub kind: InputKind,
}

/// Reads every input's header on `pool` (on as many threads as fetches when inputs are
/// remote: reading the headers of objects is waiting, not computing), and plans the table.
/// Inputs in `recorded` (by key) are read as recorded, the others as `reading` says.
pub(super) fn scan_inputs(
    inputs: Vec<Input>,
    reading: Reading<'_>,
    reserved: &[&str],
    recorded: &HashMap<String, AsRecorded>,
    layout: Layout,
    pool: &rayon::ThreadPool,
    s3_concurrency: usize,
) -> Result<Scanned> {
    let remote = inputs.iter().any(|(s, _)| s.is_remote());
    let scan = || scan_all(inputs, reading, recorded);
    let mut jobs = if remote {
        rayon::ThreadPoolBuilder::new()
            .num_threads(s3_concurrency.max(pool.current_num_threads()))
            .build()
            .map_err(|e| Error::Failed(format!("cannot start threads: {e}")))?
            .install(scan)
    } else {
        pool.install(scan)
    };
    let origins = assign_origins(&mut jobs, layout);
    refuse_colliding_columns(&mut jobs, reserved);
    let (formats, table) = formats_and_table(&jobs);
    let plans = formats.iter().map(|(f, _)| (f.clone(), Arc::new(ColumnPlan::new(f, &table)))).collect();
    Ok(Scanned { jobs, origins, formats, table, plans })
}

/// Header fields of `formats` this build does not know (kept as string columns), sorted, once each.
pub(super) fn unknown_fields(formats: &[(Format, u64)]) -> Vec<String> {
    let mut unknown: Vec<String> =
        formats.iter().flat_map(|(f, _)| f.unknown_fields().map(str::to_string).collect::<Vec<_>>()).collect();
    unknown.sort();
    unknown.dedup();
    unknown
}

/// The formats as the reports list them.
pub(super) fn formats_seen(formats: &[(Format, u64)]) -> Vec<FormatSeen> {
    formats.iter().map(|(f, n)| FormatSeen { version: f.version(), fields: f.header_line(), files: *n }).collect()
}

/// How many inputs of each kind the jobs hold, by kind name.
pub(super) fn kinds_read(jobs: &[Job]) -> BTreeMap<String, u64> {
    let mut kinds = BTreeMap::new();
    for j in jobs {
        *kinds.entry(j.source.name().to_string()).or_default() += 1;
    }
    kinds
}

/// The report's note on inputs read in AWS's default format because they name no fields
/// and no `--format` was given; `None` when there are none.
pub(super) fn assumed_formats(jobs: &[Job]) -> Option<String> {
    let assumed: Vec<&Job> = jobs.iter().filter(|j| j.assumed_format).collect();
    let first = assumed.first()?;
    let kinds: std::collections::BTreeSet<&str> = assumed.iter().map(|j| j.source.name()).collect();
    Some(format!(
        "{} input(s) ({}, the first {}) name no fields and no --format was given: read in AWS's default format \
         (`{}`), as their first record looks like one of it; pass --format if the flow log's format differs",
        assumed.len(),
        kinds.into_iter().collect::<Vec<_>>().join(", "),
        first.input.location(),
        Format::aws_default().header_line()
    ))
}

/// The prep of an input whose first line could not be read.
fn prep_of_problem(p: source::OpenProblem) -> Prep {
    match p.0.strip_prefix(source::DAMAGED_FIRST_LINE) {
        // Its lines are read all the same: those of the damaged member are rejected as
        // such; the others have no trustworthy header to be read with.
        Some(rest) => {
            Prep::Unusable(Reason::new(RejectKind::BadHeader, format!("no usable header line: {rest}")), true)
        }
        None => Prep::Damaged(p.0),
    }
}

/// The prep of an input of a kind with headers, whose first line is `line`.
fn prep_of_header(line: &[u8], user_format: Option<&Format>) -> Prep {
    match Format::from_header(line) {
        Ok(f) => Prep::Header(f),
        Err(p @ (HeaderProblem::NotAHeader | HeaderProblem::Empty)) => match user_format {
            Some(f) => Prep::Headerless(f.clone()),
            None if p == HeaderProblem::Empty => Prep::Unusable(
                Reason::new(
                    RejectKind::NoHeader,
                    "no header line: the file's first line is empty, where a flow-log file starts with a header \
                     naming its fields (pass --format for headerless files)",
                ),
                false,
            ),
            None => Prep::Unusable(
                Reason::new(
                    RejectKind::NoHeader,
                    "no header line: the file's first line does not name flow-log fields; pass --format for headerless files",
                ),
                false,
            ),
        },
        Err(p) => Prep::Unusable(Reason::new(RejectKind::BadHeader, format!("bad header line: {p}")), true),
    }
}

/// The prep of an input of a kind without headers, whose first record is `line`, and
/// whether AWS's default format is assumed for it.
fn prep_of_record(source: &dyn Source, line: &[u8], user_format: Option<&Format>) -> (Prep, bool) {
    if let Some(f) = user_format {
        return (Prep::Headerless(f.clone()), false);
    }
    let tokens: Vec<&[u8]> = line.split(|b| *b == b' ').collect();
    // The default format's 14 fields, starting as its records do: version 2, an account,
    // an interface (a custom format of 14 fields rarely starts so).
    let looks_default =
        tokens.len() == crate::schema::DEFAULT_FORMAT.len() && tokens[0] == b"2" && tokens[2].starts_with(b"eni-");
    if looks_default {
        return (Prep::Headerless(Format::aws_default()), true);
    }
    let why = format!(
        "no format: {} inputs name no fields, and the first record ({} fields) is not in AWS's default format \
         (14 fields: `2 <account> eni-… …`); pass --format with the flow log's format (its LogFormat, as \
         `aws ec2 describe-flow-logs` prints it)",
        source.name(),
        tokens.len()
    );
    (Prep::Unusable(Reason::new(RejectKind::NoHeader, why), false), false)
}

/// Finds an input's kind (from its content unless `reading` forces one) and reads its
/// first line into how its lines are read: the source, the prep, whether the default
/// format is assumed.
fn scan(storage: &dyn Storage, input: &InputFile, reading: Reading<'_>) -> (&'static dyn Source, Prep, bool) {
    let (source, raw) = match reading.kind.source() {
        Some(s) => (s, None),
        None => match source::first_line(storage, input) {
            // A JSON object on one line may end before its first line does: its kind reads it whole.
            Err(p) => match input::detect(&source::head(storage, input, 4096)) {
                Ok(s) if s.own_first_line() => (s, None),
                _ => return (&TEXT, prep_of_problem(p), false),
            },
            Ok(None) => return (&TEXT, Prep::Empty(0), false),
            Ok(Some(raw)) => match input::detect(&raw) {
                Ok(s) => (s, Some(raw)),
                Err(why) => return (&TEXT, Prep::Damaged(why), false),
            },
        },
    };
    let first = match source.first_line(storage, input, raw) {
        Ok(f) => f,
        Err(p) => return (source, prep_of_problem(p), false),
    };
    let Some(line) = first.line else { return (source, Prep::Empty(first.skipped), false) };
    match source.fields() {
        Fields::HeaderLine => (source, prep_of_header(&line, reading.format), false),
        Fields::Schema => match Format::from_header(&line) {
            Ok(f) => (source, Prep::Headerless(f), false),
            Err(p) => {
                let names = String::from_utf8_lossy(&line).replace(' ', ", ");
                let why = format!("bad columns: the file's columns ({names}) are not flow-log fields as read: {p}");
                (source, Prep::Unusable(Reason::new(RejectKind::BadHeader, why), false), false)
            }
        },
        Fields::Nowhere => {
            let (prep, assumed) = prep_of_record(source, &line, reading.format);
            (source, prep, assumed)
        }
    }
}

/// Reads every input's header, in parallel on the current rayon pool.
fn scan_all(inputs: Vec<Input>, reading: Reading<'_>, recorded: &HashMap<String, AsRecorded>) -> Vec<Job> {
    use rayon::prelude::*;
    inputs
        .into_par_iter()
        .map(|(storage, input)| {
            let reading = recorded.get(&input.key).map_or(reading, AsRecorded::reading);
            let (source, prep, assumed_format) = scan(storage.as_ref(), &input, reading);
            Job { input, storage, source, prep, assumed_format, origin: 0 }
        })
        .collect()
}

/// Numbers the distinct origins (account, service, region) of the inputs for
/// layouts that partition by them; an input without one cannot be placed, so
/// its lines are rejected with that reason.
fn assign_origins(jobs: &mut [Job], layout: Layout) -> Vec<Origin> {
    let mut origins: Vec<Origin> = Vec::new();
    if !layout.needs_origin() {
        return origins;
    }
    for j in jobs.iter_mut() {
        match &j.input.origin {
            Some(o) => {
                j.origin = match origins.iter().position(|x| x == o) {
                    Some(i) => i as u32,
                    None => {
                        origins.push(o.clone());
                        (origins.len() - 1) as u32
                    }
                };
            }
            None if j.prep.format().is_some() => {
                let reason = Reason::new(
                    RejectKind::NoOrigin,
                    format!(
                        "no account and region: --partition {layout} needs inputs in the AWS delivery layout \
                         (AWSLogs/<account>/vpcflowlogs/<region>/...)"
                    ),
                );
                j.prep = Prep::Unusable(reason, matches!(j.prep, Prep::Header(_)));
            }
            None => {}
        }
    }
    origins
}

/// Files whose header names a field that becomes the same column as a different field of
/// an earlier file (`x-y` here, `x_y` there) are refused: a Parquet file cannot hold both,
/// and readers could not tell them apart. The first file (in path order) keeps the column.
/// So are files with a field that becomes one of the `reserved` columns, which the run's
/// enrichment adds.
fn refuse_colliding_columns(jobs: &mut [Job], reserved: &[&str]) {
    let mut first: HashMap<String, (crate::schema::ColumnId, String)> = HashMap::new();
    for j in jobs.iter_mut() {
        let Some(f) = j.prep.format() else { continue };
        let mut clash = None;
        for id in f.fields() {
            if reserved.contains(&id.column_name().as_str()) {
                clash = Some(format!(
                    "bad header line: the header's field `{}` would be the column `{}`, which --enrich adds to \
                     the table; convert this input without --enrich",
                    id.header_name(),
                    id.column_name()
                ));
                break;
            }
            match first.get(&id.column_name()) {
                Some((other, file)) if other != id => {
                    clash = Some(format!(
                        "bad header line: the header's field `{}` would be the column `{}`, which is field `{}` of {file}",
                        id.header_name(),
                        id.column_name(),
                        other.header_name()
                    ));
                    break;
                }
                _ => {}
            }
        }
        match clash {
            Some(text) => {
                j.prep = Prep::Unusable(Reason::new(RejectKind::BadHeader, text), matches!(j.prep, Prep::Header(_)))
            }
            None => {
                let file = j.input.location().to_string();
                for id in j.prep.format().expect("checked above").fields() {
                    first.entry(id.column_name()).or_insert_with(|| (id.clone(), file.clone()));
                }
            }
        }
    }
}

/// The distinct formats (with file counts, in order of first appearance) and their union table.
fn formats_and_table(jobs: &[Job]) -> (Vec<(Format, u64)>, TableColumns) {
    let mut formats: Vec<(Format, u64)> = Vec::new();
    for j in jobs {
        if let Some(f) = j.prep.format() {
            match formats.iter_mut().find(|(g, _)| g == f) {
                Some((_, n)) => *n += 1,
                None => formats.push((f.clone(), 1)),
            }
        }
    }
    let table = TableColumns::from_columns(formats.iter().flat_map(|(f, _)| f.fields().iter().cloned()));
    (formats, table)
}

/// One column of the output table, as `flowlake schema` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ColumnInfo {
    /// Parquet/SQL column name.
    pub column: String,
    /// Header field name.
    pub field: String,
    /// Parquet type (`INT32`, `INT64`, `STRING`).
    pub parquet_type: &'static str,
    /// SQL type (`int`, `bigint`, `string`).
    pub sql_type: &'static str,
    /// Flow-log version of the field (0 for fields this build does not know).
    pub version: u8,
}

impl ColumnInfo {
    fn of(id: &crate::schema::ColumnId) -> ColumnInfo {
        let version = id.version();
        ColumnInfo {
            column: id.column_name(),
            field: id.header_name().to_string(),
            parquet_type: id.ty().parquet(),
            sql_type: id.ty().sql(),
            version,
        }
    }
}

/// What `flowlake schema` finds in a set of inputs.
#[derive(Clone, Debug, Serialize)]
pub struct SchemaReport {
    /// Input files looked at.
    pub files: u64,
    /// Formats found, with how many files have each.
    pub formats: Vec<FormatSeen>,
    /// Inputs of each kind (`text`, `cloudwatch-export`, …).
    pub input_kinds: BTreeMap<String, u64>,
    /// Empty files.
    pub files_empty: u64,
    /// Files whose lines would all be rejected (no header and no --format, bad header), with why.
    pub files_unusable: Vec<(String, String)>,
    /// Files that cannot be read.
    pub files_damaged: Vec<(String, String)>,
    /// Header fields this build does not know (kept as string columns).
    pub unknown_fields: Vec<String>,
    /// The columns a conversion of these inputs writes, in order.
    pub columns: Vec<ColumnInfo>,
    /// What the scan assumed (AWS's default format for inputs that name no fields).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Reads the headers of `inputs` and tells which formats they hold and what
/// table a conversion would write, without converting anything.
pub fn inspect(
    inputs: &[Location],
    globs: &[String],
    reading: Reading<'_>,
    storage: &StorageOptions,
) -> Result<SchemaReport> {
    let found = discover_all(inputs, globs, storage, &InputFilter::default())?;
    let mut jobs = scan_all(found.files, reading, &HashMap::new());
    refuse_colliding_columns(&mut jobs, &[]);
    let (formats, table) = formats_and_table(&jobs);
    let mut report = SchemaReport {
        files: jobs.len() as u64,
        formats: formats_seen(&formats),
        input_kinds: kinds_read(&jobs),
        files_empty: 0,
        files_unusable: Vec::new(),
        files_damaged: Vec::new(),
        unknown_fields: unknown_fields(&formats),
        columns: table.columns().iter().map(ColumnInfo::of).collect(),
        notes: assumed_formats(&jobs).into_iter().collect(),
    };
    for j in &jobs {
        let name = j.input.location().to_string();
        match &j.prep {
            Prep::Empty(_) => report.files_empty += 1,
            Prep::Unusable(r, _) => report.files_unusable.push((name, r.text.clone())),
            Prep::Damaged(m) => report.files_damaged.push((name, m.clone())),
            Prep::Header(_) | Prep::Headerless(_) => {}
        }
    }
    Ok(report)
}
