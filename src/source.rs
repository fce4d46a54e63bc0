//! Inputs: finding the flow-log files under the paths a user gave, and
//! opening each one as a decompressed byte stream.

use std::io::{self, BufRead, BufReader, Read};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::error::{Error, Result};
use crate::gzip::{BadMember, MemberReader};
use crate::partition::{Origin, PathTime, origin_from_path, time_from_path};
use crate::storage::{Location, ObjectMeta, Storage};

/// File-name patterns selected when walking a folder, unless `--glob` is given.
pub const DEFAULT_GLOBS: &[&str] = &["*.log.gz", "*.log", "*.gz", "*.txt", "*.log.parquet"];

/// One input file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    /// Where it is, its size and version.
    pub meta: ObjectMeta,
    /// How the table's metadata knows it: its canonical location, lossless ([`Location::identity`]).
    pub key: String,
    /// The delivery time in its path (`…/YYYY/MM/DD/…`), used for records without `start`.
    pub path_time: Option<PathTime>,
    /// The account, service and region in its path (`AWSLogs/<account>/vpcflowlogs/<region>/…`).
    pub origin: Option<Origin>,
}

impl InputFile {
    /// An input from a listed object.
    pub fn new(meta: ObjectMeta) -> InputFile {
        let key = meta.location.key_path();
        InputFile {
            path_time: time_from_path(&key),
            origin: origin_from_path(&key),
            key: meta.location.identity(),
            meta,
        }
    }

    /// Where the file is.
    pub fn location(&self) -> &Location {
        &self.meta.location
    }
}

/// Which files in a walked folder are inputs.
#[derive(Clone, Debug)]
pub struct FileSelector {
    set: GlobSet,
    patterns: Vec<String>,
}

impl FileSelector {
    /// Matches file names against `patterns` (glob syntax; `*` does not cross `/`).
    /// An empty list means [`DEFAULT_GLOBS`].
    pub fn new(patterns: &[String]) -> Result<FileSelector> {
        let patterns: Vec<String> =
            if patterns.is_empty() { DEFAULT_GLOBS.iter().map(|s| s.to_string()).collect() } else { patterns.to_vec() };
        let mut b = GlobSetBuilder::new();
        for p in &patterns {
            let glob = Glob::new(p).map_err(|e| Error::Usage(format!("invalid --glob `{p}`: {e}")))?;
            b.add(glob);
        }
        let set = b.build().map_err(|e| Error::Usage(format!("invalid --glob: {e}")))?;
        Ok(FileSelector { set, patterns })
    }

    /// True when a file name is selected.
    pub fn matches(&self, file_name: &str) -> bool {
        self.set.is_match(file_name)
    }

    /// The patterns, for messages.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

/// Which inputs to take, by the delivery path of their keys:
/// `AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/` (or the Hive-style variant).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputFilter {
    /// First delivery day (day number), inclusive.
    pub from: Option<i64>,
    /// Last delivery day (day number), inclusive.
    pub to: Option<i64>,
    /// Only these accounts (empty: all).
    pub accounts: Vec<String>,
    /// Only these regions (empty: all).
    pub regions: Vec<String>,
}

impl InputFilter {
    /// True when no filter is set.
    pub fn is_empty(&self) -> bool {
        self == &InputFilter::default()
    }

    /// Whether an input passes. With a date range, inputs whose path has no date do not.
    pub fn accepts(&self, f: &InputFile) -> bool {
        if self.from.is_some() || self.to.is_some() {
            let Some(t) = f.path_time else { return false };
            if self.from.is_some_and(|d| t.day < d) || self.to.is_some_and(|d| t.day > d) {
                return false;
            }
        }
        if !self.accounts.is_empty() || !self.regions.is_empty() {
            let Some(o) = &f.origin else { return false };
            if !self.accounts.is_empty() && !self.accounts.contains(&o.account) {
                return false;
            }
            if !self.regions.is_empty() && !self.regions.contains(&o.region) {
                return false;
            }
        }
        true
    }
}

/// One of `count` workers that split a job with no coordination beyond the
/// input listing (`--shard INDEX/COUNT`, INDEX from 0, as Kubernetes Indexed
/// Jobs and AWS Batch array jobs number their tasks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This worker's index, `0..count`.
    pub index: u32,
    /// How many workers there are.
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = Error;
    /// Parses `K/N`.
    fn from_str(s: &str) -> Result<Shard> {
        let bad =
            || Error::Usage(format!("invalid --shard `{s}`: expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/3"));
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether `input` belongs to this shard. Inputs are grouped by delivery
    /// folder (account, region and day, or the parent folder outside the AWS
    /// layout), so a day's files go to one shard and make few large files;
    /// the assignment depends only on the path, never on the listing's order.
    pub fn owns(&self, input: &InputFile) -> bool {
        let group = match (&input.origin, input.path_time) {
            (Some(o), Some(t)) => format!("{}/{}/{}/{}", o.account, o.service, o.region, t.day),
            _ => {
                let key = input.location().key_path();
                key.rsplit_once('/').map(|(dir, _)| dir.to_string()).unwrap_or_default()
            }
        };
        // FNV-1a: stable across builds and platforms, unlike the std hasher.
        let h = group.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        h % u64::from(self.count) == u64::from(self.index)
    }
}

/// Where a folder sits in the AWS delivery tree, while walking it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    /// Above `AWSLogs/` (or not in the AWS layout at all).
    Top,
    /// Below `AWSLogs/`: 0 account, 1 service, 2 region, 3 dates.
    Aws(u8),
    /// Inside a year folder.
    Year(i64),
    /// Inside a month folder.
    Month(i64, u32),
    /// Inside a day folder the filter selected: everything below is taken.
    Taken,
}

fn seg_value<'a>(name: &'a str, key: &str) -> &'a str {
    name.strip_prefix(key).unwrap_or(name)
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// What a walk of the input roots found.
#[derive(Default)]
struct Walk {
    files: Vec<ObjectMeta>,
    /// Folders listed so far (canonical), so that none is read twice.
    visited: std::collections::HashSet<Location>,
    broken: Vec<(Location, String)>,
    notes: Vec<String>,
}

/// Lists only the folders a filter can match: accounts, regions and
/// year/month/day folders outside it are never listed. Below the last level a
/// filter names, an object store's folder is listed in one go; local folders are
/// walked one by one, each once (a folder reached again through a symbolic link, or
/// a link loop, is noted and not read again).
fn walk(storage: &dyn Storage, dir: &Location, level: Level, filter: &InputFilter, out: &mut Walk) -> Result<()> {
    if !out.visited.insert(dir.clone()) {
        out.notes.push(format!("{dir} was reached a second time (through a symbolic link): read once"));
        return Ok(());
    }
    let dates = filter.from.is_some() || filter.to.is_some();
    // Nothing left to prune below here: one flat listing (object stores have no links).
    let done = match level {
        Level::Top => false,
        Level::Aws(n) => n >= 3 && !dates,
        Level::Year(_) | Level::Month(..) => false,
        Level::Taken => true,
    };
    if done && storage.is_remote() {
        out.files.extend(storage.list(dir)?);
        return Ok(());
    }
    let listing = storage.list_dir_inputs(dir)?;
    out.files.extend(listing.files.into_iter().filter(|f| !f.location.file_name().starts_with(['_', '.'])));
    out.broken.extend(listing.broken);
    for d in listing.dirs {
        let name = d.file_name();
        if name.starts_with(['_', '.']) {
            continue;
        }
        let Some(next) = level.below(&name, filter) else { continue };
        if matches!(level, Level::Month(..)) && next == Level::Taken && storage.is_remote() {
            out.files.extend(storage.list(&d)?);
            continue;
        }
        walk(storage, &d, next, filter, out)?;
    }
    Ok(())
}

impl Level {
    /// The level of the folder `name` below one at this level; `None` if the filter
    /// leaves it out (another account or region, years, months or days outside the dates).
    fn below(self, name: &str, filter: &InputFilter) -> Option<Level> {
        use crate::partition::{civil_from_days, days_from_civil};
        let (lo, hi) = (filter.from.unwrap_or(i64::MIN), filter.to.unwrap_or(i64::MAX));
        let in_range = |first: i64, last: i64| first <= hi && last >= lo;
        let next = match self {
            Level::Top if name == "AWSLogs" => Level::Aws(0),
            Level::Top => Level::Top,
            Level::Aws(0) => {
                let acct = seg_value(name, "aws-account-id=");
                if !filter.accounts.is_empty() && !filter.accounts.iter().any(|a| a == acct) {
                    return None;
                }
                Level::Aws(1)
            }
            Level::Aws(1) => Level::Aws(2),
            Level::Aws(2) => {
                let region = seg_value(name, "aws-region=");
                if !filter.regions.is_empty() && !filter.regions.iter().any(|r| r == region) {
                    return None;
                }
                Level::Aws(3)
            }
            Level::Aws(_) => match digits(seg_value(name, "year="), 4) {
                Some(y) => {
                    let y = i64::from(y);
                    in_range(days_from_civil(y, 1, 1), days_from_civil(y, 12, 31)).then_some(Level::Year(y))?
                }
                None => Level::Aws(3),
            },
            Level::Year(y) => match digits(seg_value(name, "month="), 2).filter(|m| (1..=12).contains(m)) {
                Some(m) => {
                    let first = days_from_civil(y, m, 1);
                    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                    in_range(first, days_from_civil(ny, nm, 1) - 1).then_some(Level::Month(y, m))?
                }
                None => Level::Year(y),
            },
            Level::Month(y, m) => match digits(seg_value(name, "day="), 2) {
                Some(dd) => {
                    let day = days_from_civil(y, m, dd);
                    (civil_from_days(day) == (y, m, dd) && in_range(day, day)).then_some(Level::Taken)?
                }
                None => Level::Month(y, m),
            },
            Level::Taken => Level::Taken,
        };
        Some(next)
    }
}

/// The inputs under some roots, and what was noticed finding them.
#[derive(Clone, Debug, Default)]
pub struct Discovered {
    /// The input files, sorted by path (in the AWS layout, that is delivery order), each once.
    pub files: Vec<InputFile>,
    /// Entries that could not be taken as inputs (a symbolic link that leads nowhere, a
    /// FIFO), with why: problems with those inputs, not with the run.
    pub unreadable: Vec<(String, String)>,
    /// Things worth saying that changed nothing (a file named twice, read once).
    pub notes: Vec<String>,
}

/// Lists the input files under `roots`. A root that is a file is taken whatever its
/// name; files found by walking a folder are taken when `selector` matches their name
/// (files and folders whose names start with `_` or `.` are skipped). Every input is
/// known by its canonical location, so a file named twice, under overlapping roots, by
/// a relative and an absolute path, or reached through a symbolic link, is listed once.
pub fn discover(storage: &dyn Storage, roots: &[Location], selector: &FileSelector) -> Result<Discovered> {
    discover_filtered(storage, roots, selector, &InputFilter::default())
}

/// [`discover`] with an [`InputFilter`], listing only what the filter can match
/// (files named directly are filtered too; a note says so).
pub fn discover_filtered(
    storage: &dyn Storage,
    roots: &[Location],
    selector: &FileSelector,
    filter: &InputFilter,
) -> Result<Discovered> {
    let mut found = Walk::default();
    let mut named: Vec<ObjectMeta> = Vec::new();
    for given in roots {
        discover_root(storage, given, filter, &mut found, &mut named)?;
    }
    let mut files = Vec::new();
    for meta in named {
        let f = InputFile::new(meta);
        if filter.accepts(&f) {
            files.push(f);
        } else {
            found.notes.push(format!(
                "{} was named, but its delivery date, account or region is outside the input filter: skipped",
                f.location()
            ));
        }
    }
    for meta in std::mem::take(&mut found.files) {
        let f = InputFile::new(meta);
        if selector.matches(&f.location().file_name()) && filter.accepts(&f) {
            files.push(f);
        }
    }
    files.sort_by(|a, b| a.meta.location.cmp(&b.meta.location));
    let before = files.len();
    files.dedup_by(|a, b| a.meta.location == b.meta.location);
    if files.len() < before {
        found.notes.push(format!(
            "{} inputs were named more than once (by overlapping folders, or the same path twice): each was read once",
            before - files.len()
        ));
    }
    let unreadable: Vec<(String, String)> = found.broken.iter().map(|(l, why)| (l.to_string(), why.clone())).collect();
    if files.is_empty() && unreadable.is_empty() {
        let roots: Vec<String> = roots.iter().map(|r| r.to_string()).collect();
        return Err(Error::NotFound(format!(
            "no input files found in {}: looked for {} (use --glob to choose other names)",
            roots.join(", "),
            selector.patterns().join(", ")
        )));
    }
    Ok(Discovered { files, unreadable, notes: found.notes })
}

/// Lists one root of the inputs into `found` (folders, walked) or `named` (a file named
/// itself); a root that is the same as one before (by its canonical name) is noted, not
/// read again.
fn discover_root(
    storage: &dyn Storage,
    given: &Location,
    filter: &InputFilter,
    found: &mut Walk,
    named: &mut Vec<ObjectMeta>,
) -> Result<()> {
    let not_found = |e: Error| {
        if e.is_not_found() { Error::NotFound(format!("input {given} does not exist")) } else { e }
    };
    let root = storage.canonical(given).map_err(not_found)?;
    if found.visited.contains(&root) || named.iter().any(|m| m.location == root) {
        found.notes.push(format!("{given} was named more than once (or by two paths): read once"));
        return Ok(());
    }
    // Start below AWSLogs/ when the root is already inside the delivery tree.
    let key = root.key_path();
    let segs: Vec<&str> = key.trim_end_matches('/').split('/').collect();
    let level = match segs.iter().rposition(|s| *s == "AWSLogs") {
        Some(i) => Level::Aws((segs.len() - 1 - i).min(3) as u8),
        None => Level::Top,
    };
    if storage.is_remote() {
        if filter.is_empty() {
            let listed = storage.list(&root).map_err(not_found)?;
            if listed.len() == 1 && listed[0].location == root {
                named.extend(listed);
            } else {
                found.files.extend(listed);
            }
        } else {
            walk(storage, &root, level, filter, found).map_err(not_found)?;
        }
        return Ok(());
    }
    match storage.list_dir_inputs(&root) {
        Ok(_) => walk(storage, &root, level, filter, found).map_err(not_found)?,
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotADirectory => match storage.list(&root) {
            Ok(listed) => named.extend(listed),
            Err(e) => found.broken.push((given.clone(), e.to_string())),
        },
        Err(e) => return Err(not_found(e)),
    }
    Ok(())
}

/// Counts the bytes read through it, to locate damage in compressed input.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

type Raw = BufReader<Counting<Box<dyn Read + Send>>>;

// One per open input: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
enum Inner {
    Plain(Raw),
    Gzip(MemberReader<Raw>),
    /// Decompressed in one go (a whole file in memory): every damaged member is known
    /// before the first byte is read.
    Memory {
        data: io::Cursor<Vec<u8>>,
        stored: u64,
        bad: Vec<BadMember>,
        /// The input ended inside a member: returned as an error after the last byte.
        truncated: Option<String>,
        /// The stored bytes were gzip.
        gzip: bool,
        /// The lines were built from records an input kind unwrapped (JSON events), not
        /// read from the stored bytes as they are.
        built: bool,
    },
    /// Decompressed by a thread of its own, overlapping with parsing (large files).
    Threaded(Threaded),
    /// Typed rows an input kind reads a batch at a time (Parquet), rendered as lines when
    /// read as bytes ([`RowBatches::render`]).
    Rendered(Rendered),
}

/// Records an input kind holds as typed rows (AWS's Parquet deliveries), read a batch at a
/// time. The read stage takes the batches as they are ([`Decoded::row_batches`]) and
/// renders a row as the line of text it stands for only when that row needs the text
/// path's checks to decide it; read as bytes, an input of rows is all its rows rendered.
pub trait RowBatches: Send {
    /// The next batch of rows; `None` after the last; `Err`: why the rest is unreadable
    /// (the rows before count).
    fn next_batch(&mut self) -> Option<io::Result<arrow_array::RecordBatch>>;
    /// Appends rows `rows` of `batch` to `out`, each as the record line it stands for
    /// (ending in `\n`).
    fn render(&self, batch: &arrow_array::RecordBatch, rows: std::ops::Range<usize>, out: &mut Vec<u8>);
}

/// An input of typed rows, read as lines of text: each batch rendered as it is reached.
struct Rendered {
    rows: Box<dyn RowBatches>,
    line: Vec<u8>,
    pos: usize,
    stored: u64,
    /// Read as bytes already (its batches are then no longer whole).
    started: bool,
}

impl Read for Rendered {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.started = true;
        while self.pos == self.line.len() {
            let batch = match self.rows.next_batch() {
                None => return Ok(0),
                Some(batch) => batch?,
            };
            self.line.clear();
            self.pos = 0;
            self.rows.render(&batch, 0..batch.num_rows(), &mut self.line);
        }
        let n = out.len().min(self.line.len() - self.pos);
        out[..n].copy_from_slice(&self.line[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Files up to this size are read whole and decompressed in one call; larger
/// ones are streamed through a decompression thread.
pub const WHOLE_FILE_MAX: u64 = 64 * 1024 * 1024;

/// An input's decompressed bytes. Gzip (including several concatenated gzip
/// members) is recognised by its magic bytes; anything else is read as text.
///
/// Every gzip member is verified ([`crate::gzip`]); a damaged one is listed by
/// [`Decoded::bad_members`], with the decompressed bytes it produced, which are
/// returned all the same (their lines are rejected, not converted). Inputs read
/// whole know every damaged member before their first byte is read
/// ([`Decoded::damage_known_upfront`]); streamed ones learn of it as they go.
pub struct Decoded {
    inner: Inner,
    /// Parts of the input that hold no records by design (CloudWatch Logs control
    /// messages), skipped and counted.
    skipped: u64,
}

/// Why an input could not be opened for reading.
#[derive(Debug)]
pub struct OpenProblem(pub String);

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl Decoded {
    /// Opens `input` and wraps it in the right decoder: a small file is read
    /// whole and decompressed in one call, a large one is streamed.
    pub fn open(storage: &dyn Storage, input: &InputFile) -> Result<Decoded, OpenProblem> {
        Decoded::open_with(storage, input, WHOLE_FILE_MAX)
    }

    /// [`Decoded::open`], reading inputs of up to `whole_max` stored bytes whole.
    pub fn open_with(storage: &dyn Storage, input: &InputFile, whole_max: u64) -> Result<Decoded, OpenProblem> {
        if input.meta.size <= whole_max {
            return Decoded::from_bytes(Decoded::read_stored(storage, input)?, input);
        }
        let raw = storage.open(input.location()).map_err(|e| OpenProblem(e.to_string()))?;
        Decoded::from_raw_streaming(raw, input, true)
    }

    /// Reads all of an input's stored bytes (for kinds that need the whole input at once).
    pub fn read_stored(storage: &dyn Storage, input: &InputFile) -> Result<Vec<u8>, OpenProblem> {
        let mut raw = storage.open(input.location()).map_err(|e| OpenProblem(e.to_string()))?;
        let mut bytes = Vec::with_capacity(input.meta.size.min(1 << 30) as usize);
        raw.read_to_end(&mut bytes).map_err(|e| OpenProblem(format!("cannot read: {e}")))?;
        Ok(bytes)
    }

    /// Decodes an input whose stored bytes are all in memory. A gzip file whose
    /// members all verify is inflated in one call per member; one with damage is
    /// inflated member by member to find which (streamed instead, if it expands
    /// beyond any plausible text ratio).
    pub fn from_bytes(bytes: Vec<u8>, input: &InputFile) -> Result<Decoded, OpenProblem> {
        let stored = bytes.len() as u64;
        let memory = |data, bad, truncated, gzip| Decoded {
            inner: Inner::Memory { data: io::Cursor::new(data), stored, bad, truncated, gzip, built: false },
            skipped: 0,
        };
        if bytes.starts_with(&GZIP_MAGIC) {
            if let Some(out) = gunzip_in_memory(&bytes) {
                return Ok(memory(out, Vec::new(), None, true));
            }
            if let Some((out, bad, truncated)) = gunzip_members(&bytes) {
                return Ok(memory(out, bad, truncated, true));
            }
        } else if !(bytes.is_empty() || input.location().file_name().ends_with(".gz")) {
            return Ok(memory(bytes, Vec::new(), None, false));
        }
        Decoded::from_raw(Box::new(io::Cursor::new(bytes)), input)
    }

    /// Wraps the stored bytes of `input`, already opened (or fetched), in the right decoder.
    pub fn from_raw(raw: Box<dyn Read + Send>, input: &InputFile) -> Result<Decoded, OpenProblem> {
        Decoded::from_raw_streaming(raw, input, input.meta.size > WHOLE_FILE_MAX)
    }

    /// [`Decoded::from_raw`], with gzip inflated on a thread of its own when `threaded`.
    fn from_raw_streaming(
        raw: Box<dyn Read + Send>,
        input: &InputFile,
        threaded: bool,
    ) -> Result<Decoded, OpenProblem> {
        let mut buf = BufReader::with_capacity(256 * 1024, Counting { inner: raw, count: 0 });
        let head = buf.fill_buf().map_err(|e| OpenProblem(format!("cannot read: {e}")))?;
        let gzip = head.starts_with(&GZIP_MAGIC);
        if !gzip && !head.is_empty() && input.location().file_name().ends_with(".gz") {
            return Err(OpenProblem(
                "not a gzip file: the name ends in .gz but the data does not start with the gzip magic bytes 1f 8b at byte 0"
                    .into(),
            ));
        }
        let inner = if !gzip {
            Inner::Plain(buf)
        } else if threaded {
            Inner::Threaded(Threaded::start(MemberReader::new(buf)))
        } else {
            Inner::Gzip(MemberReader::new(buf))
        };
        Ok(Decoded { inner, skipped: 0 })
    }

    /// Lines an input kind built from the records it unwrapped from `stored` bytes (one
    /// line per record); `damage`, why the records end early if they do (returned as an
    /// error after the last line); `skipped`, parts that hold no records by design.
    pub fn from_records(lines: Vec<u8>, stored: u64, gzip: bool, damage: Option<String>, skipped: u64) -> Decoded {
        let data = io::Cursor::new(lines);
        Decoded {
            inner: Inner::Memory { data, stored, bad: Vec::new(), truncated: damage, gzip, built: true },
            skipped,
        }
    }

    /// The typed rows an input kind reads from `stored` bytes a batch at a time; a read
    /// error ends them (the rows before it count).
    pub fn from_rows(rows: Box<dyn RowBatches>, stored: u64) -> Decoded {
        Decoded {
            inner: Inner::Rendered(Rendered { rows, line: Vec::new(), pos: 0, stored, started: false }),
            skipped: 0,
        }
    }

    /// The input's typed rows, for an input of rows ([`Decoded::from_rows`]) of which
    /// nothing was read as bytes yet; `None` for an input of lines.
    pub fn row_batches(&mut self) -> Option<&mut dyn RowBatches> {
        match &mut self.inner {
            Inner::Rendered(r) if !r.started => Some(r.rows.as_mut()),
            _ => None,
        }
    }

    /// Parts of the input skipped by design (see [`Decoded::from_records`]).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// What failed when reading ends in an error: the records an input kind unwrapped, the
    /// gzip stream, or the read.
    pub fn what_failed(&self) -> &'static str {
        match &self.inner {
            Inner::Memory { built: true, .. } | Inner::Rendered(_) => "records unreadable",
            _ if self.is_gzip() => "gzip stream damaged",
            _ => "read failed",
        }
    }

    /// Where a read that ended in an error stopped, for the report: the byte of the stored
    /// input, or, for an input of rows, the first row (from 1) not read (its batch's first:
    /// a stored byte of a Parquet file says nothing of its rows).
    pub fn failed_at(&self, row: u64) -> String {
        match &self.inner {
            Inner::Rendered(_) => format!("from row {row}"),
            _ => format!("at byte {}", self.compressed_offset()),
        }
    }

    /// True when the input is gzip.
    pub fn is_gzip(&self) -> bool {
        matches!(self.inner, Inner::Gzip(_) | Inner::Threaded(_) | Inner::Memory { gzip: true, .. })
    }

    /// True when [`Decoded::bad_members`] is complete before the first byte is read.
    pub fn damage_known_upfront(&self) -> bool {
        matches!(self.inner, Inner::Plain(_) | Inner::Memory { .. } | Inner::Rendered(_))
    }

    /// The damaged gzip members found so far (all of them once the input is read to its end).
    pub fn bad_members(&self) -> Vec<BadMember> {
        match &self.inner {
            Inner::Plain(_) | Inner::Rendered(_) => Vec::new(),
            Inner::Gzip(d) => d.bad_members().to_vec(),
            Inner::Memory { bad, .. } => bad.clone(),
            Inner::Threaded(t) => t.bad.lock().expect("bad members lock").clone(),
        }
    }

    /// Bytes of the stored (compressed) input consumed so far: after an error,
    /// roughly where the damage is.
    pub fn compressed_offset(&self) -> u64 {
        match &self.inner {
            Inner::Plain(r) => r.get_ref().count - r.buffer().len() as u64,
            Inner::Gzip(d) => d.stored_offset(),
            Inner::Memory { stored, .. } | Inner::Rendered(Rendered { stored, .. }) => *stored,
            Inner::Threaded(t) => t.offset.load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(r) => r.read(buf),
            Inner::Gzip(d) => d.read(buf),
            Inner::Memory { data, truncated, .. } => match data.read(buf)? {
                0 if !buf.is_empty() => match truncated.take() {
                    Some(msg) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, msg)),
                    None => Ok(0),
                },
                n => Ok(n),
            },
            Inner::Threaded(t) => t.read(buf),
            Inner::Rendered(r) => r.read(buf),
        }
    }
}

/// Inflates the members of a damaged gzip file held in memory, one by one, verifying
/// each: the bytes, the damaged members, and why the input ended early if it did.
/// `None` when it expands beyond any plausible text ratio (it is then streamed).
fn gunzip_members(data: &[u8]) -> Option<(Vec<u8>, Vec<BadMember>, Option<String>)> {
    let limit = expansion_limit(data.len());
    let mut r = MemberReader::new(data);
    let mut out = Vec::with_capacity(data.len() * 4);
    let mut chunk = vec![0u8; 256 * 1024];
    let truncated = loop {
        match r.read(&mut chunk) {
            Ok(0) => break None,
            Ok(n) => {
                if out.len() + n > limit {
                    return None;
                }
                out.extend_from_slice(&chunk[..n]);
            }
            Err(e) => break Some(e.to_string()),
        }
    };
    Some((out, r.bad_members().to_vec(), truncated))
}

/// Most bytes a stored input of `len` bytes is inflated to in memory.
fn expansion_limit(len: usize) -> usize {
    len.saturating_mul(64).max(1 << 20)
}

/// Decompresses every gzip member of `data` with libdeflate, in one call per
/// member, each verified by its CRC. `None` when any member is damaged (the
/// members are then read one by one to say which), or when the data expands
/// beyond any plausible text ratio.
fn gunzip_in_memory(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    crate::gzip::Inflater::new()?.gunzip(data, &mut out, expansion_limit(data.len())).then_some(out)
}

/// A gzip stream decompressed by a thread of its own, handed over in 1 MiB
/// chunks through a short queue, so that one large file keeps two cores busy.
pub struct Threaded {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: io::Cursor<Vec<u8>>,
    offset: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Damaged members the thread has found so far.
    bad: std::sync::Arc<std::sync::Mutex<Vec<BadMember>>>,
    failed: bool,
}

impl Threaded {
    fn start(mut d: MemberReader<Raw>) -> Threaded {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        let offset = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let bad = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (off, found) = (offset.clone(), bad.clone());
        std::thread::spawn(move || {
            loop {
                let mut chunk = vec![0u8; 1 << 20];
                let mut filled = 0;
                let res = loop {
                    match d.read(&mut chunk[filled..]) {
                        Ok(0) => break Ok(()),
                        Ok(n) => {
                            filled += n;
                            if filled == chunk.len() {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                off.store(d.stored_offset(), std::sync::atomic::Ordering::Relaxed);
                if !d.bad_members().is_empty() {
                    *found.lock().expect("bad members lock") = d.bad_members().to_vec();
                }
                chunk.truncate(filled);
                let end = filled == 0 || res.is_err();
                if filled > 0 && tx.send(Ok(chunk)).is_err() {
                    return;
                }
                if let Err(e) = res {
                    let _ = tx.send(Err(e));
                    return;
                }
                if end {
                    return;
                }
            }
        });
        Threaded { rx, chunk: io::Cursor::new(Vec::new()), offset, bad, failed: false }
    }
}

impl Read for Threaded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.chunk.read(buf)?;
            if n > 0 || buf.is_empty() || self.failed {
                return Ok(n);
            }
            match self.rx.recv() {
                Ok(Ok(c)) => self.chunk = io::Cursor::new(c),
                Ok(Err(e)) => {
                    self.failed = true;
                    return Err(e);
                }
                Err(_) => return Ok(0),
            }
        }
    }
}

/// Bytes read from the start of an input to find its header line.
const HEADER_PROBE: u64 = 256 * 1024;

/// How [`first_line`]'s problem starts when the input has lines but the first is in
/// damaged data: its other lines can still be read (and those of the damaged member rejected).
pub const DAMAGED_FIRST_LINE: &str = "the first line is in damaged data: ";

/// The first decompressed bytes of an input, at most `max`, as far as they can be read
/// (for telling its kind when its first line cannot be read: a JSON object on one long line,
/// cut off).
pub fn head(storage: &dyn Storage, input: &InputFile, max: usize) -> Vec<u8> {
    let Ok(stored) = storage.read_range(input.location(), 0, input.meta.size.min(HEADER_PROBE)) else {
        return Vec::new();
    };
    let Ok(mut decoded) = Decoded::from_raw_streaming(Box::new(io::Cursor::new(stored)), input, false) else {
        return Vec::new();
    };
    let mut out = vec![0u8; max];
    let mut n = 0;
    while n < max {
        match decoded.read(&mut out[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    out.truncate(n);
    out
}

/// Reads an input's first line (its header, in delivered files), at most
/// [`crate::parse::MAX_LINE`] bytes. `Ok(None)` for an empty file.
pub fn first_line(storage: &dyn Storage, input: &InputFile) -> Result<Option<Vec<u8>>, OpenProblem> {
    // Only the start is read and inflated (one ranged GET on S3, one small read on disk):
    // the workers decompress the whole input later, once.
    let head = storage
        .read_range(input.location(), 0, input.meta.size.min(HEADER_PROBE))
        .map_err(|e| OpenProblem(e.to_string()))?;
    let mut decoded = Decoded::from_raw_streaming(Box::new(io::Cursor::new(head)), input, false)?;
    let mut r = BufReader::new((&mut decoded).take(crate::parse::MAX_LINE as u64 + 1));
    let mut line = Vec::new();
    let read = r.read_until(b'\n', &mut line);
    drop(r);
    // A first line that damaged data produced is no header: the input cannot be read.
    // (A member's CRC is checked at its end, which this probe may not reach: such damage
    // shows when the whole input is read, and its lines are rejected then.)
    let first_end = line.len() as u64;
    if let Some(m) = decoded.bad_members().iter().find(|m| m.decompressed.start < first_end.max(1)) {
        if first_end == 0 {
            return Err(OpenProblem(m.describe()));
        }
        return Err(OpenProblem(format!("{DAMAGED_FIRST_LINE}{}", m.describe())));
    }
    match read {
        Ok(0) => Ok(None),
        Ok(_) => {
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            Ok(Some(line))
        }
        Err(e) => Err(OpenProblem(format!("cannot read the first line: {e}"))),
    }
}

/// Objects up to this size are fetched ahead whole; larger ones are streamed.
pub const PREFETCH_MAX_OBJECT: u64 = 8 * 1024 * 1024;
/// Most bytes held by fetched-ahead objects at once.
pub const PREFETCH_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Reads remote inputs ahead of the workers: `concurrency` fetches in flight,
/// at most `window` objects (each at most [`PREFETCH_MAX_OBJECT`]) and
/// [`PREFETCH_MAX_BYTES`] held ahead of the furthest input a worker has
/// taken, so memory stays bounded.
pub struct Prefetcher<'a> {
    inputs: &'a [(std::sync::Arc<dyn Storage>, InputFile)],
    window: usize,
    state: std::sync::Mutex<PrefetchState>,
    ready: std::sync::Condvar,
}

#[derive(Default)]
struct PrefetchState {
    /// Next input to fetch.
    next_fetch: usize,
    /// One past the furthest input a worker has taken.
    taken: usize,
    done: std::collections::HashMap<usize, Result<Vec<u8>, String>>,
    /// Bytes of objects being fetched or fetched and not yet taken.
    held: u64,
    stopped: bool,
}

impl<'a> Prefetcher<'a> {
    /// A prefetcher over `inputs` (fetched in order).
    pub fn new(inputs: &'a [(std::sync::Arc<dyn Storage>, InputFile)], window: usize) -> Prefetcher<'a> {
        Prefetcher {
            inputs,
            window: window.max(1),
            state: std::sync::Mutex::new(PrefetchState::default()),
            ready: std::sync::Condvar::new(),
        }
    }

    fn wanted(&self, i: usize) -> bool {
        let (st, f) = &self.inputs[i];
        st.is_remote() && f.meta.size <= PREFETCH_MAX_OBJECT
    }

    /// Runs one fetch loop; call it from `concurrency` threads. Returns when
    /// every input has been fetched or [`stop`](Prefetcher::stop) was called.
    pub fn run(&self) {
        loop {
            let i = {
                let mut s = self.state.lock().expect("prefetch lock");
                loop {
                    if s.stopped || s.next_fetch >= self.inputs.len() {
                        return;
                    }
                    let size = self.inputs[s.next_fetch].1.meta.size;
                    let fits = s.held == 0 || s.held + size <= PREFETCH_MAX_BYTES || !self.wanted(s.next_fetch);
                    if s.next_fetch < s.taken + self.window && fits {
                        break;
                    }
                    s = self.ready.wait(s).expect("prefetch lock");
                }
                let i = s.next_fetch;
                s.next_fetch += 1;
                if self.wanted(i) {
                    s.held += self.inputs[i].1.meta.size;
                }
                i
            };
            if !self.wanted(i) {
                continue;
            }
            let (st, f) = &self.inputs[i];
            let mut result = Err(String::new());
            for _ in 0..3 {
                result = st.open(f.location()).map_err(|e| e.to_string()).and_then(|mut r| {
                    let mut buf = Vec::with_capacity(f.meta.size as usize);
                    r.read_to_end(&mut buf).map(|_| buf).map_err(|e| format!("cannot read {}: {e}", f.location()))
                });
                if result.is_ok() {
                    break;
                }
            }
            self.state.lock().expect("prefetch lock").done.insert(i, result);
            self.ready.notify_all();
        }
    }

    /// The stored bytes of input `i` if it is fetched ahead (waiting for them),
    /// `None` if the caller should stream it.
    pub fn take(&self, i: usize) -> Option<Result<Vec<u8>, String>> {
        let mut s = self.state.lock().expect("prefetch lock");
        s.taken = s.taken.max(i + 1);
        self.ready.notify_all();
        if !self.wanted(i) {
            return None;
        }
        loop {
            if let Some(r) = s.done.remove(&i) {
                s.held -= self.inputs[i].1.meta.size;
                self.ready.notify_all();
                return Some(r);
            }
            if s.stopped {
                return Some(Err("the run stopped".into()));
            }
            s = self.ready.wait(s).expect("prefetch lock");
        }
    }

    /// Ends the fetch loops.
    pub fn stop(&self) {
        self.state.lock().expect("prefetch lock").stopped = true;
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LocalStorage;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn reads_multi_member_gzip_and_plain_text() {
        let dir = tempfile::tempdir().unwrap();
        let mut two = gz(b"a\nb\n");
        two.extend(gz(b"c\n"));
        std::fs::write(dir.path().join("x.log.gz"), &two).unwrap();
        std::fs::write(dir.path().join("y.txt"), b"plain\n").unwrap();
        std::fs::write(dir.path().join("notes.md"), b"skip").unwrap();
        let sel = FileSelector::new(&[]).unwrap();
        let files = discover(&LocalStorage, &[Location::Local(dir.path().into())], &sel).unwrap().files;
        assert_eq!(files.len(), 2);
        let mut out = String::new();
        let mut d = Decoded::open(&LocalStorage, &files[0]).unwrap();
        d.read_to_string(&mut out).unwrap();
        assert_eq!(out, "a\nb\nc\n");
        assert_eq!(d.compressed_offset(), two.len() as u64);
        assert_eq!(first_line(&LocalStorage, &files[1]).unwrap(), Some(b"plain".to_vec()));
    }

    #[test]
    fn large_files_decompress_on_their_own_thread() {
        let mut data = Vec::new();
        for i in 0..200_000 {
            data.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let mut two = gz(&data[..data.len() / 2]);
        two.extend(gz(&data[data.len() / 2..]));
        let input = |size| {
            InputFile::new(ObjectMeta { location: Location::Local("big.log.gz".into()), size, version: String::new() })
        };
        let big = input(WHOLE_FILE_MAX + 1);
        let mut d = Decoded::from_raw(Box::new(io::Cursor::new(two.clone())), &big).unwrap();
        assert!(matches!(d.inner, Inner::Threaded(_)));
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        // Damage: the rows before it arrive, then the error, with the offset reached.
        let cut = &two[..two.len() / 3];
        let mut d = Decoded::from_raw(Box::new(io::Cursor::new(cut.to_vec())), &big).unwrap();
        let mut out = Vec::new();
        assert!(d.read_to_end(&mut out).is_err());
        assert!(!out.is_empty() && data.starts_with(&out));
        assert!(d.compressed_offset() > 0 && d.compressed_offset() <= cut.len() as u64);
        // Small files take the one-call path; several members fall back to streaming.
        let one = gz(&data);
        let d = Decoded::from_bytes(one, &input(1000)).unwrap();
        assert!(matches!(d.inner, Inner::Memory { .. }));
        let mut d = Decoded::from_bytes(two, &input(1000)).unwrap();
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn shards_split_by_delivery_folder() {
        assert_eq!("1/3".parse::<Shard>().unwrap(), Shard { index: 1, count: 3 });
        for bad in ["3/3", "1", "a/3", "0/0", "-1/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let f = |key: &str| {
            InputFile::new(ObjectMeta { location: Location::Local(key.into()), size: 1, version: String::new() })
        };
        let shards: Vec<Shard> = (0..3).map(|i| Shard { index: i, count: 3 }).collect();
        let mut owners = std::collections::BTreeSet::new();
        for day in 1..=28 {
            let a = f(&format!("AWSLogs/1/vpcflowlogs/us-east-1/2023/08/{day:02}/a.log.gz"));
            let b = f(&format!("AWSLogs/1/vpcflowlogs/us-east-1/2023/08/{day:02}/b.log.gz"));
            let of_a: Vec<u32> = shards.iter().filter(|s| s.owns(&a)).map(|s| s.index).collect();
            let of_b: Vec<u32> = shards.iter().filter(|s| s.owns(&b)).map(|s| s.index).collect();
            assert_eq!(of_a.len(), 1, "each input has exactly one shard");
            assert_eq!(of_a, of_b, "a day's files share a shard");
            owners.insert(of_a[0]);
        }
        assert_eq!(owners.len(), 3, "days spread over every shard");
    }

    #[test]
    fn a_dot_gz_that_is_not_gzip_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.log.gz");
        std::fs::write(&p, b"version srcaddr\n").unwrap();
        let f = InputFile::new(LocalStorage.list(&Location::Local(p)).unwrap().remove(0));
        let err = Decoded::open(&LocalStorage, &f).err().unwrap();
        assert!(err.0.starts_with("not a gzip file"), "{}", err.0);
    }

    #[test]
    fn missing_input_and_no_matches_are_clear() {
        let dir = tempfile::tempdir().unwrap();
        let sel = FileSelector::new(&[]).unwrap();
        let missing = Location::Local(dir.path().join("nope"));
        let err = discover(&LocalStorage, std::slice::from_ref(&missing), &sel).unwrap_err().to_string();
        assert_eq!(err, format!("input {missing} does not exist"));
        let err = discover(&LocalStorage, &[Location::Local(dir.path().into())], &sel).unwrap_err().to_string();
        assert!(err.starts_with("no input files found in "), "{err}");
        assert!(
            err.ends_with("looked for *.log.gz, *.log, *.gz, *.txt, *.log.parquet (use --glob to choose other names)"),
            "{err}"
        );
    }
}
