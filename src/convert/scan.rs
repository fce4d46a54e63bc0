//! The header scan: each input's first line read into a [`Format`] (or the user's
//! `--format`), inputs that cannot be read with one set aside with why, and the table's
//! columns as the union of the formats, in catalog order. `flowlake schema` is this stage
//! alone ([`inspect`]).

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::format::{Format, HeaderProblem};
use crate::input::{Source, TEXT};
use crate::parse::{ColumnPlan, Reason};
use crate::partition::{Layout, Origin};
use crate::reject::RejectKind;
use crate::report::FormatSeen;
use crate::schema::TableColumns;
use crate::source::{self, InputFile, InputFilter};
use crate::storage::{Location, Storage, StorageOptions};

use super::plan::{Input, discover_all};

/// What the header scan found out about one input.
#[derive(Clone, Debug)]
pub(super) enum Prep {
    /// The file starts with this header.
    Header(Format),
    /// No header; the user's `--format` applies.
    Headerless(Format),
    /// Empty file.
    Empty,
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
    /// Index into [`Scanned::origins`] (for layouts that name the account and region).
    pub origin: u32,
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

/// Reads every input's header on `pool` (on as many threads as fetches when inputs are
/// remote: reading the headers of objects is waiting, not computing), and plans the table.
pub(super) fn scan_inputs(
    inputs: Vec<Input>,
    user_format: Option<&Format>,
    layout: Layout,
    pool: &rayon::ThreadPool,
    s3_concurrency: usize,
) -> Result<Scanned> {
    let remote = inputs.iter().any(|(s, _)| s.is_remote());
    let scan = || scan_all(inputs, user_format);
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
    refuse_colliding_columns(&mut jobs);
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

/// Reads every input's first line to learn its format.
fn scan(storage: &dyn Storage, input: &InputFile, user_format: Option<&Format>) -> Prep {
    match TEXT.first_line(storage, input) {
        // Its lines are read all the same: those of the damaged member are rejected as
        // such; the others have no trustworthy header to be read with.
        Err(p) if p.0.starts_with(source::DAMAGED_FIRST_LINE) => Prep::Unusable(
            Reason::new(
                RejectKind::BadHeader,
                format!("no usable header line: {}", &p.0[source::DAMAGED_FIRST_LINE.len()..]),
            ),
            true,
        ),
        Err(p) => Prep::Damaged(p.0),
        Ok(None) => Prep::Empty,
        Ok(Some(line)) => match Format::from_header(&line) {
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
        },
    }
}

/// Reads every input's header, in parallel on the current rayon pool.
fn scan_all(inputs: Vec<Input>, user_format: Option<&Format>) -> Vec<Job> {
    use rayon::prelude::*;
    inputs
        .into_par_iter()
        .map(|(storage, input)| {
            let prep = scan(storage.as_ref(), &input, user_format);
            Job { input, storage, source: &TEXT, prep, origin: 0 }
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
fn refuse_colliding_columns(jobs: &mut [Job]) {
    let mut first: HashMap<String, (crate::schema::ColumnId, String)> = HashMap::new();
    for j in jobs.iter_mut() {
        let Some(f) = j.prep.format() else { continue };
        let mut clash = None;
        for id in f.fields() {
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
        let version = match id {
            crate::schema::ColumnId::Known(i) => crate::schema::CATALOG[*i].version,
            crate::schema::ColumnId::Unknown(_) => 0,
        };
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
}

/// Reads the headers of `inputs` and tells which formats they hold and what
/// table a conversion would write, without converting anything.
pub fn inspect(
    inputs: &[Location],
    globs: &[String],
    format: Option<&Format>,
    storage: &StorageOptions,
) -> Result<SchemaReport> {
    let found = discover_all(inputs, globs, storage, &InputFilter::default())?;
    let mut jobs = scan_all(found.files, format);
    refuse_colliding_columns(&mut jobs);
    let (formats, table) = formats_and_table(&jobs);
    let mut report = SchemaReport {
        files: jobs.len() as u64,
        formats: formats_seen(&formats),
        files_empty: 0,
        files_unusable: Vec::new(),
        files_damaged: Vec::new(),
        unknown_fields: unknown_fields(&formats),
        columns: table.columns().iter().map(ColumnInfo::of).collect(),
    };
    for j in &jobs {
        let name = j.input.location().to_string();
        match &j.prep {
            Prep::Empty => report.files_empty += 1,
            Prep::Unusable(r, _) => report.files_unusable.push((name, r.text.clone())),
            Prep::Damaged(m) => report.files_damaged.push((name, m.clone())),
            Prep::Header(_) | Prep::Headerless(_) => {}
        }
    }
    Ok(report)
}
