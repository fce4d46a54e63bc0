//! What has been converted into a table, as an ordered log of commits.
//!
//! Every run that changes the table commits one record, `OUT/_flowlake/log/<sequence>.json`
//! (twenty digits): the inputs it converted (canonical location, size, version, records,
//! the partitions their rows went to), the files it wrote, where it staged them, and what
//! it replaces. A commit is created with put-if-absent ([`Storage::put_if_absent`]) at the
//! first free place after the last commit its run saw, so the table's commits form one
//! sequence however many runs overlap: a run that loses the race reads the commits that
//! beat it and either commits at the next place (nothing of theirs touches its inputs or
//! the files it replaces) or ends without writing ([`commit_in_order`]). The commit is the
//! commit point: before it a run's files are hidden in its staging folder, after it they
//! are part of the table whatever happens to the process, and any later run moves them
//! into place if the run that wrote them could not ([`roll_forward`]).
//!
//! Tables written by flowlake 0.1 have one manifest per run in `OUT/_flowlake/manifest/`
//! instead; they are read as the commits before the log's first, and the first commit to
//! the log leaves a file there that stops flowlake 0.1 from writing to the table again
//! (it would not see the log). Every so many commits the log is folded into one
//! checkpoint ([`checkpoint`]), so that opening a table with years of runs reads one file
//! plus the newer commits. Every path read from a commit or checkpoint is checked to lie
//! inside the table before anything is read, moved or deleted because of it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::partition::Layout;
use crate::source::InputFile;
use crate::storage::{Location, ObjectMeta, Storage};
use crate::table::paths::{self, relative};

pub mod checkpoint;

/// One converted input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputEntry {
    /// How it is known: its canonical location ([`Location::identity`]). flowlake 0.1
    /// recorded the path as the run was given it (perhaps relative).
    pub location: String,
    /// Its size when converted.
    pub size: u64,
    /// Its version when converted (ETag or modification time).
    pub version: String,
    /// Records read from it (data lines; 0 in manifests of flowlake versions that did not count them).
    #[serde(default)]
    pub rows: u64,
    /// The partitions its rows went to (relative folders such as `date=2023-08-01`).
    /// Empty in manifests of flowlake versions that did not record them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<String>,
    /// The location an earlier flowlake recorded this same input under, which this entry
    /// replaces (a relative path, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub was: Option<String>,
    /// The input kind its records were read as (`text`, `cloudwatch-export`, …): a rebuild
    /// reads it so again. Absent in commits of flowlake versions before input kinds, whose
    /// inputs a rebuild reads with the options of its own run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The fields its records were read with, as a header line, where the input does not
    /// name them itself (`--format` was given, or AWS's default format was assumed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// How a run read an input, where the run decided it rather than the input's content:
/// what a rebuild needs to read the input's records into the same rows again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReadAs {
    /// The input kind's name; `None` in records of flowlake versions before input kinds.
    pub kind: Option<String>,
    /// The fields the records were read with (a header line), where the input names none.
    pub format: Option<String>,
}

/// The distinct ways inputs were read, each stored once (a table has a few, and may have
/// millions of inputs); index 0 is "not recorded".
#[derive(Clone, Debug)]
pub struct ReadAsTable {
    all: Vec<ReadAs>,
    index: HashMap<ReadAs, u32>,
}

impl Default for ReadAsTable {
    fn default() -> ReadAsTable {
        ReadAsTable { all: vec![ReadAs::default()], index: HashMap::from([(ReadAs::default(), 0)]) }
    }
}

impl ReadAsTable {
    /// The index of `r`, added if new.
    pub fn intern(&mut self, r: ReadAs) -> u32 {
        if let Some(i) = self.index.get(&r) {
            return *i;
        }
        let i = self.all.len() as u32;
        self.all.push(r.clone());
        self.index.insert(r, i);
        i
    }

    /// The way at `i` (index 0, or one out of range: nothing recorded).
    pub fn get(&self, i: u32) -> &ReadAs {
        self.all.get(i as usize).unwrap_or(&self.all[0])
    }
}

/// Rows and bytes of one written file, as its run recorded them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStats {
    /// Rows in it.
    pub rows: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

/// One commit: a run's record of what it converted and wrote. (`Default` is the empty
/// commit: name what a run sets, `..RunManifest::default()` for the rest.)
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunManifest {
    /// The run.
    pub run_id: String,
    /// `INDEX/COUNT` for a shard.
    pub shard: Option<String>,
    /// Inputs converted (read to the end, or up to damage that the run reported).
    pub inputs: Vec<InputEntry>,
    /// Parquet files written, relative to the table root.
    pub files: Vec<String>,
    /// Rows and bytes of each of `files`, in the same order (empty in flowlake 0.1's manifests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_stats: Vec<FileStats>,
    /// Where the run wrote them first (relative to the table root), before moving them into place.
    #[serde(default)]
    pub staging: Option<String>,
    /// The run's rejects file, relative to the table root (`_flowlake/rejects/<run>.tsv`),
    /// staged as [`STAGED_REJECTS`] in its staging folder and published with its files.
    /// (None when nothing was rejected, and in commits of flowlake 0.2.0 and older, which
    /// wrote it in place at once.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejects: Option<String>,
    /// Runs whose files and input records this run replaces (`--full-refresh`).
    #[serde(default)]
    pub replaces: Vec<String>,
    /// Files (relative to the table root) this run replaces and deletes once its own
    /// are in place (`compact`, rebuilt partitions, repairs).
    #[serde(default)]
    pub replaces_files: Vec<String>,
    /// The commit's place in the table's log. (flowlake 0.1: one more than the highest
    /// sequence its run saw; when two runs record the same input, the higher sequence,
    /// then the later run id, is the current record.)
    #[serde(default)]
    pub sequence: u64,
    /// In the first commit to a table that flowlake 0.1 wrote: the table's files at that
    /// moment. flowlake 0.1 did not keep a record of the files its compactions deleted, so
    /// from here on the files a table should hold are known from this list and the commits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Vec<String>>,
    /// The lookup tables the run's enrichment columns came from (none without `--enrich`,
    /// and in commits written before enrichment existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enrichment: Vec<crate::report::EnrichmentUsed>,
}

/// Whether an input was converted before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Never converted.
    New,
    /// Converted, unchanged since.
    Done,
    /// Converted by this run, but it has changed since (size or version differ).
    Changed(String),
}

/// The current record of one input.
#[derive(Clone, Debug)]
struct Recorded {
    size: u64,
    version: String,
    rows: u64,
    partitions: Vec<String>,
    /// Index into [`Manifest::runs`] of the run that recorded it.
    run: usize,
    /// Index into [`Manifest::read_as`] of how it was read.
    read_as: u32,
}

/// Every input converted into a table so far: the newest checkpoint (if any)
/// and every commit it does not cover.
#[derive(Clone, Debug, Default)]
pub struct Manifest {
    /// Location → its record from the newest run that converted it.
    inputs: HashMap<String, Recorded>,
    /// Locations recorded by flowlake 0.1 that are not canonical (relative paths, say), by file name.
    legacy_by_name: HashMap<String, Vec<String>>,
    /// Every committed run that no later run replaced: its commit's location and record.
    /// The first `covered` come from the checkpoint (their `inputs` are in `Manifest::inputs` only).
    runs: Vec<(Location, RunManifest)>,
    covered: usize,
    /// Runs that later runs replaced: their files are left to delete.
    replaced: Vec<RunManifest>,
    /// Every checkpoint listed, oldest first; the last one was read.
    checkpoints: Vec<Location>,
    /// Every flowlake 0.1 manifest read or covered (a checkpoint names them all).
    legacy_names: Vec<String>,
    /// The file that keeps flowlake 0.1 away is in the manifest folder.
    has_marker: bool,
    max_sequence: u64,
    /// How the inputs were read, each way once.
    read_as: ReadAsTable,
}

/// The folder of flowlake 0.1's run manifests of the table at `root`.
pub fn dir(root: &Location) -> Location {
    root.join(paths::LEGACY_MANIFESTS)
}

/// The folder of the table's commit log.
pub fn log_dir(root: &Location) -> Location {
    root.join(paths::LOG)
}

/// Where the commit at `sequence` is.
pub fn log_entry(root: &Location, sequence: u64) -> Location {
    log_dir(root).join(&format!("{sequence:020}.json"))
}

/// The sequence in a log entry's file name.
fn log_sequence(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok()).flatten()
}

/// The file left in flowlake 0.1's manifest folder: 0.1 stops at it (it is no manifest).
pub const MARKER: &str = "00000000000000000000-this-table-is-written-by-flowlake-0.2.json";
const MARKER_TEXT: &str = "{\"note\": \"This table's commits are in _flowlake/log/, which flowlake 0.1 does not read: \
     upgrade flowlake to 0.2 or later to write to it.\"}\n";

fn not_found(e: &Error) -> bool {
    e.is_not_found()
}

/// Lists a folder; a folder that does not exist is empty.
fn list_or_empty(storage: &dyn Storage, dir: &Location) -> Result<Vec<ObjectMeta>> {
    match storage.list(dir) {
        Ok(l) => Ok(l),
        Err(e) if not_found(&e) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// One level of `dir` (its objects and subfolders); a folder that is not there is empty.
fn list_dir_or_empty(storage: &dyn Storage, dir: &Location) -> Result<(Vec<ObjectMeta>, Vec<Location>)> {
    match storage.list_dir(dir) {
        Ok(l) => Ok(l),
        Err(e) if not_found(&e) => Ok((Vec::new(), Vec::new())),
        Err(e) => Err(e),
    }
}

/// What a path read from a commit or checkpoint names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    /// A Parquet file of the table (`date=…/part-….parquet`).
    DataFile,
    /// A run's staging folder (`_flowlake/staging/<run>`).
    Staging,
    /// A run's rejects file (`_flowlake/rejects/<run>.tsv`).
    Rejects,
}

/// The name of a run's rejects file in its staging folder until it is published.
pub const STAGED_REJECTS: &str = "rejects.tsv";

/// Checks a path read from the table's metadata: relative, normalised, inside the table and
/// of the kind expected. Anything else means the commit or checkpoint is damaged (or was
/// edited): nothing is read, moved or deleted because of it.
pub fn check_path(rel: &str, kind: PathKind) -> std::result::Result<(), String> {
    let segs: Vec<&str> = rel.split('/').collect();
    let plain =
        !rel.is_empty() && !rel.contains(['\\', '\0']) && segs.iter().all(|s| !s.is_empty() && *s != "." && *s != "..");
    let ok = plain
        && match kind {
            PathKind::DataFile => rel.ends_with(".parquet") && segs.iter().all(|s| !s.starts_with(['_', '.'])),
            // One name below the folder: `_flowlake/staging/<run>`, `_flowlake/rejects/<run>.tsv`.
            PathKind::Staging => {
                segs.len() == 3 && rel.starts_with(&format!("{}/", paths::STAGING)) && !segs[2].starts_with('.')
            }
            PathKind::Rejects => {
                segs.len() == 3
                    && rel.starts_with(&format!("{}/", paths::REJECTS))
                    && !segs[2].starts_with('.')
                    && segs[2].ends_with(".tsv")
            }
        };
    if ok {
        Ok(())
    } else {
        let what = match kind {
            PathKind::DataFile => "a Parquet file inside the table",
            PathKind::Staging => "a staging folder (_flowlake/staging/<run>)",
            PathKind::Rejects => "a rejects file (_flowlake/rejects/<run>.tsv)",
        };
        Err(format!("`{rel}` is not {what}"))
    }
}

/// Checks every path of a commit (see [`check_path`]).
fn check_run(run: &RunManifest, at: &Location) -> Result<()> {
    let damaged = |why: String| {
        Error::Damaged(format!(
            "{at} is damaged: {why}. Nothing was read, moved or deleted because of it; restore it from a backup, \
             or move it away and run `flowlake verify` on the table"
        ))
    };
    for f in run.files.iter().chain(&run.replaces_files) {
        check_path(f, PathKind::DataFile).map_err(damaged)?;
    }
    if let Some(s) = &run.staging {
        check_path(s, PathKind::Staging).map_err(damaged)?;
    }
    if let Some(r) = &run.rejects {
        check_path(r, PathKind::Rejects).map_err(damaged)?;
        if run.staging.is_none() {
            return Err(damaged("it names a rejects file but no staging folder".into()));
        }
    }
    for i in &run.inputs {
        for p in &i.partitions {
            if p.is_empty() || p.split('/').any(|s| s.is_empty() || s == "." || s == ".." || s.starts_with(['_', '.']))
            {
                return Err(damaged(format!("`{p}` is not a partition folder")));
            }
        }
    }
    if !run.file_stats.is_empty() && run.file_stats.len() != run.files.len() {
        return Err(damaged(format!("it has {} file sizes for {} files", run.file_stats.len(), run.files.len())));
    }
    Ok(())
}

fn read_run(storage: &dyn Storage, loc: &Location) -> Result<RunManifest> {
    let mut text = Vec::new();
    storage.open(loc)?.read_to_end(&mut text).map_err(|e| Error::io("read", loc, e))?;
    let run: RunManifest = serde_json::from_slice(&text).map_err(|e| {
        Error::Damaged(format!("{loc} is not a flowlake commit ({e}); restore it from a backup, or move it away"))
    })?;
    check_run(&run, loc)?;
    Ok(run)
}

/// A local path recorded by flowlake 0.1 that is not its canonical form (relative, or with
/// `.` or `..` in it): such records are matched by path suffix, size and version.
fn is_legacy_alias(location: &str) -> bool {
    !location.starts_with("s3://")
        && (!location.starts_with('/') || location.split('/').any(|s| s == "." || s == "..") || location.contains("//"))
}

/// `path` without `.` segments, with `..` applied to what precedes it.
fn lexically_normal(path: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for s in path.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    out
}

impl Manifest {
    /// Reads the table's newest checkpoint and every commit (and flowlake 0.1 manifest) it
    /// does not cover; none yet is fine.
    pub fn load(storage: &dyn Storage, root: &Location) -> Result<Manifest> {
        // A checkpoint listed but gone when read was replaced meanwhile by a newer one: list again.
        let mut attempt = 0;
        loop {
            match Manifest::load_once(storage, root) {
                Err(e) if not_found(&e) && attempt < 3 => attempt += 1,
                r => return r,
            }
        }
    }

    fn load_once(storage: &dyn Storage, root: &Location) -> Result<Manifest> {
        let mut m = Manifest::default();
        let mut checkpoints: Vec<Location> = list_or_empty(storage, &checkpoint::dir(root))?
            .into_iter()
            .map(|o| o.location)
            .filter(|l| checkpoint::is_checkpoint(&l.file_name()))
            .collect();
        checkpoints.sort_by_key(|l| l.file_name());
        let (covered_legacy, log_through) = match checkpoints.last() {
            Some(newest) => m.apply_checkpoint(storage, root, newest)?,
            None => (HashSet::new(), 0),
        };
        m.checkpoints = checkpoints;
        let mut runs = m.legacy_manifests(storage, root, &covered_legacy)?;
        runs.extend(log_entries(storage, root, log_through)?);
        // Commits in order: flowlake 0.1's by sequence, then run id (which starts with the start
        // time); the log's sequences come after every one of them.
        runs.sort_by(|(_, a, _), (_, b, _)| (a.sequence, &a.run_id).cmp(&(b.sequence, &b.run_id)));
        for (loc, run, legacy) in runs {
            m.apply(loc, run, legacy);
        }
        Ok(m)
    }

    /// Takes in the newest checkpoint: the runs and inputs it folds. Returns the flowlake
    /// 0.1 manifests it covers and the last commit it covers.
    fn apply_checkpoint(
        &mut self,
        storage: &dyn Storage,
        root: &Location,
        newest: &Location,
    ) -> Result<(HashSet<String>, u64)> {
        let m = self;
        let cp = checkpoint::read(storage, newest)?;
        let mut covered_legacy: HashSet<String> = cp.legacy.iter().cloned().collect();
        m.max_sequence = cp.log_through;
        for run in cp.runs {
            if run.manifest.ends_with(".json") && !run.manifest.contains('/') {
                covered_legacy.insert(run.manifest.clone());
            }
            m.max_sequence = m.max_sequence.max(run.sequence);
            let at = match log_sequence(run.manifest.trim_start_matches("log/")) {
                Some(seq) => log_entry(root, seq),
                None => dir(root).join(&run.manifest),
            };
            let run = run.into_run();
            check_run(&run, newest)?;
            m.runs.push((at, run));
        }
        m.covered = m.runs.len();
        for i in cp.inputs {
            let run = i.run as usize;
            if run >= m.covered {
                return Err(Error::Damaged(format!(
                    "checkpoint {newest} is damaged (an input names run {run} of {}); delete it to rebuild it \
                     from the commits",
                    m.covered
                )));
            }
            m.index_legacy(&i.location, cp.format == 1);
            let read_as = m.read_as.intern(cp.read_as.get(i.read_as).clone());
            m.inputs.insert(
                i.location,
                Recorded { size: i.size, version: i.version, rows: i.rows, partitions: i.partitions, run, read_as },
            );
        }
        m.legacy_names.extend(covered_legacy.iter().cloned());
        Ok((covered_legacy, cp.log_through))
    }

    /// flowlake 0.1's manifests (`_flowlake/manifest/*.json`) no checkpoint covers; notes
    /// the marker that a later flowlake has committed to the table.
    fn legacy_manifests(
        &mut self,
        storage: &dyn Storage,
        root: &Location,
        covered: &HashSet<String>,
    ) -> Result<Vec<(Location, RunManifest, bool)>> {
        let mut runs = Vec::new();
        for obj in list_or_empty(storage, &dir(root))? {
            let name = obj.location.file_name();
            if name == MARKER {
                self.has_marker = true;
                continue;
            }
            if !name.ends_with(".json") || covered.contains(&name) {
                continue;
            }
            self.legacy_names.push(name);
            let run = read_run(storage, &obj.location)?;
            runs.push((obj.location, run, true));
        }
        Ok(runs)
    }

    /// Indexes a location by file name when it may not be an input's canonical one: every
    /// location flowlake 0.1 recorded (`legacy`), and any relative or unnormalised one.
    fn index_legacy(&mut self, location: &str, legacy: bool) {
        if (legacy && !location.starts_with("s3://")) || is_legacy_alias(location) {
            let name = location.rsplit('/').next().unwrap_or(location).to_string();
            self.legacy_by_name.entry(name).or_default().push(location.to_string());
        }
    }

    /// Adds one commit, after every one before it.
    fn apply(&mut self, loc: Location, run: RunManifest, legacy: bool) {
        self.max_sequence = self.max_sequence.max(run.sequence);
        if !run.replaces.is_empty() {
            // A full refresh: the runs it replaces are no longer part of the table.
            let gone: HashSet<&str> = run.replaces.iter().map(String::as_str).collect();
            let keep: Vec<bool> = self.runs.iter().map(|(_, r)| !gone.contains(r.run_id.as_str())).collect();
            if keep.iter().any(|k| !k) {
                let mut new_index = Vec::with_capacity(keep.len());
                let mut runs = Vec::with_capacity(self.runs.len());
                let mut covered = 0;
                for (i, (l, r)) in std::mem::take(&mut self.runs).into_iter().enumerate() {
                    if keep[i] {
                        new_index.push(Some(runs.len()));
                        covered += usize::from(i < self.covered);
                        runs.push((l, r));
                    } else {
                        new_index.push(None);
                        self.replaced.push(r);
                    }
                }
                self.runs = runs;
                self.covered = covered;
                self.inputs.retain(|_, rec| match new_index[rec.run] {
                    Some(i) => {
                        rec.run = i;
                        true
                    }
                    None => false,
                });
            }
        }
        let idx = self.runs.len();
        for i in &run.inputs {
            if let Some(was) = &i.was {
                self.inputs.remove(was);
            }
            let newer = match self.inputs.get(&i.location) {
                None => true,
                Some(old) => {
                    let o = &self.runs[old.run].1;
                    (run.sequence, &run.run_id) >= (o.sequence, &o.run_id)
                }
            };
            if newer {
                self.index_legacy(&i.location, legacy);
                let read_as = self.read_as.intern(ReadAs { kind: i.kind.clone(), format: i.format.clone() });
                self.inputs.insert(
                    i.location.clone(),
                    Recorded {
                        size: i.size,
                        version: i.version.clone(),
                        rows: i.rows,
                        partitions: i.partitions.clone(),
                        run: idx,
                        read_as,
                    },
                );
            }
        }
        self.runs.push((loc, run));
    }

    /// Number of inputs recorded.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// True when nothing was converted yet.
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// Number of commits that had to be read because no checkpoint covers them.
    pub fn uncovered_runs(&self) -> usize {
        self.runs.len() - self.covered
    }

    /// The sequence of the last commit read: a run that starts from this manifest commits after it.
    pub fn last_sequence(&self) -> u64 {
        self.max_sequence
    }

    /// The ids of every committed run that no later run replaced.
    pub fn run_ids(&self) -> Vec<String> {
        self.runs.iter().map(|(_, r)| r.run_id.clone()).collect()
    }

    /// The commits read, oldest first (those a checkpoint covers without their inputs).
    pub fn runs(&self) -> impl Iterator<Item = &RunManifest> {
        self.runs.iter().map(|(_, r)| r)
    }

    /// The lookup tables (`--enrich` kinds) whose columns the table's rows hold, each with
    /// the files the newest run that used it read (the commits are read oldest first).
    pub fn enrichment(&self) -> BTreeMap<String, Vec<String>> {
        let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for run in self.runs() {
            let mut this: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for e in &run.enrichment {
                this.entry(&e.table).or_default().push(e.file.clone());
            }
            for (table, files) in this {
                used.insert(table.to_string(), files);
            }
        }
        used
    }

    /// Under which location the table records `input`, if it does: its canonical
    /// location, or one flowlake 0.1 recorded it under (a relative path, or a path through
    /// a symbolic link), recognised by its path and, for a relative one, its size and
    /// version as well (a relative path says nothing of where it was relative to).
    ///
    /// A relative record whose path ends like `input`'s but whose size or version differ
    /// could be this input, changed (its rows must be replaced), or another file of the
    /// same name (its rows must stay): nothing tells which, so that is an
    /// [`Error::Refused`] rather than a guess that would convert rows twice or lose them.
    pub fn record_of(&self, storage: &dyn Storage, input: &InputFile) -> Result<Option<String>> {
        if self.inputs.contains_key(&input.key) {
            return Ok(Some(input.key.clone()));
        }
        let shown = input.location().to_string();
        let tail: Vec<&str> = shown.split('/').collect();
        let Some(names) = self.legacy_by_name.get(&input.location().file_name()) else { return Ok(None) };
        let mut ambiguous = None;
        for legacy in names {
            let Some(r) = self.inputs.get(legacy) else { continue };
            if legacy.starts_with('/') {
                if storage.canonical(&Location::Local(legacy.into())).is_ok_and(|c| &c == input.location()) {
                    return Ok(Some(legacy.clone()));
                }
                continue;
            }
            let want = lexically_normal(legacy);
            if want.len() <= tail.len() && tail[tail.len() - want.len()..] == want[..] {
                if r.size == input.meta.size && r.version == input.meta.version {
                    return Ok(Some(legacy.clone()));
                }
                ambiguous.get_or_insert((legacy, r));
            }
        }
        match ambiguous {
            None => Ok(None),
            Some((legacy, r)) => Err(Error::Refused(format!(
                "{shown} may be the input flowlake 0.1 recorded as {legacy} (a relative path), changed \
                 since ({} bytes then, {} now), or another file of the same name: nothing tells which, \
                 so nothing was converted. If it is the same file, run with --full-refresh to convert \
                 every input again; if it is another one, convert it into another table",
                r.size, input.meta.size
            ))),
        }
    }

    /// Whether the input recorded under `record` (from [`Manifest::record_of`]) was
    /// converted before, and is unchanged.
    pub fn seen(&self, record: Option<&str>, input: &InputFile) -> Seen {
        match record.and_then(|k| self.inputs.get(k)) {
            None => Seen::New,
            Some(r) if r.size == input.meta.size && r.version == input.meta.version => Seen::Done,
            Some(r) => Seen::Changed(self.runs[r.run].1.run_id.clone()),
        }
    }

    /// The partitions an input's rows went to when it was converted (`None` if it was
    /// not, or by a flowlake version that did not record them).
    pub fn partitions_of(&self, location: &str) -> Option<&[String]> {
        self.inputs.get(location).map(|r| r.partitions.as_slice()).filter(|p| !p.is_empty())
    }

    /// How an input was read when it was converted, where its run recorded it (`None`:
    /// not converted, or by a flowlake version before input kinds).
    pub fn read_as(&self, location: &str) -> Option<&ReadAs> {
        self.inputs.get(location).map(|r| self.read_as.get(r.read_as)).filter(|r| r.kind.is_some())
    }

    /// The partition layout of the table's files (that of the first file its log names
    /// whose folder is one; `None` for a table without files).
    pub fn layout(&self) -> Option<Layout> {
        layout_of(self.live_files().keys().map(|f| f.as_str()))
    }

    /// Every recorded input that wrote rows to any of `partitions`.
    pub fn inputs_writing_to(&self, partitions: &std::collections::BTreeSet<String>) -> Vec<String> {
        let mut v: Vec<String> = self
            .inputs
            .iter()
            .filter(|(_, r)| r.partitions.iter().any(|x| partitions.contains(x)))
            .map(|(k, _)| k.clone())
            .collect();
        v.sort();
        v
    }

    /// Every recorded input, as the newest run that converted it recorded it, by location.
    pub fn entries(&self) -> Vec<(InputEntry, &RunManifest)> {
        let mut v: Vec<(InputEntry, &RunManifest)> = self
            .inputs
            .iter()
            .map(|(loc, r)| {
                let read_as = self.read_as.get(r.read_as);
                let e = InputEntry {
                    location: loc.clone(),
                    size: r.size,
                    version: r.version.clone(),
                    rows: r.rows,
                    partitions: r.partitions.clone(),
                    was: None,
                    kind: read_as.kind.clone(),
                    format: read_as.format.clone(),
                };
                (e, &self.runs[r.run].1)
            })
            .collect();
        v.sort_by(|a, b| a.0.location.cmp(&b.0.location));
        v
    }

    /// The table's files as its commits describe them: every file a run wrote that no later
    /// run replaced (relative path, and rows and bytes where the run recorded them).
    pub fn live_files(&self) -> BTreeMap<String, Option<FileStats>> {
        let mut live = BTreeMap::new();
        for (_, r) in &self.runs {
            if let Some(b) = &r.baseline {
                live.retain(|f, _| b.contains(f));
            }
            for f in &r.replaces_files {
                live.remove(f);
            }
            for (i, f) in r.files.iter().enumerate() {
                live.insert(f.clone(), r.file_stats.get(i).copied());
            }
        }
        live
    }

    /// True when the log knows every file the table should hold: no flowlake 0.1 manifest is
    /// read, or a commit has recorded the table's files since ([`RunManifest::baseline`]).
    pub fn knows_every_file(&self) -> bool {
        self.legacy_names.is_empty() || self.runs.iter().any(|(_, r)| r.baseline.is_some())
    }

    /// Staging folders of committed runs that still hold files (relative to the table
    /// root), with how many: moves a crash (or a run still publishing) left undone.
    pub fn unpublished(&self, storage: &dyn Storage, root: &Location) -> Result<Vec<(String, usize)>> {
        let mut out = Vec::new();
        for dir in self.committed_staging() {
            let n = list_or_empty(storage, &root.join(dir))?.len();
            if n > 0 {
                out.push((dir.to_string(), n));
            }
        }
        Ok(out)
    }

    /// The files committed runs left staged, by the path each takes below the table root
    /// (they are in the table, only not yet moved into place).
    pub fn staged_files(&self, storage: &dyn Storage, root: &Location) -> Result<HashSet<String>> {
        let mut out = HashSet::new();
        for dir in self.committed_staging() {
            let staging = root.join(dir);
            out.extend(list_or_empty(storage, &staging)?.iter().map(|o| paths::staged_rel(&staging, &o.location)));
        }
        Ok(out)
    }

    /// Staging folders of committed runs.
    fn committed_staging(&self) -> impl Iterator<Item = &str> {
        self.runs.iter().filter_map(|(_, r)| r.staging.as_deref())
    }

    /// Files a commit removes from the table: those it replaces, and the files of the runs
    /// it replaces (as far as this manifest knows them).
    fn removed_by(&self, run: &RunManifest) -> HashSet<String> {
        let mut out: HashSet<String> = run.replaces_files.iter().cloned().collect();
        for r in self.runs.iter().map(|(_, r)| r).chain(&self.replaced) {
            if run.replaces.contains(&r.run_id) {
                out.extend(r.files.iter().cloned());
            }
        }
        out
    }

    /// Why `ours` cannot commit after `theirs`, a commit that beat it (see
    /// [`commit_in_order`]): it converted one of our inputs, or removes a file we remove,
    /// or it wrote its files in another partition layout than ours, or (with
    /// `keep_enrichment`) it enriched its rows with lookup tables ours lacks, so
    /// ours would add rows with those columns empty to a table that now holds them.
    pub fn conflict(&self, ours: &RunManifest, theirs: &RunManifest, keep_enrichment: bool) -> Option<String> {
        let their_inputs: HashSet<&str> =
            theirs.inputs.iter().flat_map(|i| std::iter::once(i.location.as_str()).chain(i.was.as_deref())).collect();
        if let Some(i) = ours.inputs.iter().find(|i| {
            their_inputs.contains(i.location.as_str()) || i.was.as_deref().is_some_and(|w| their_inputs.contains(w))
        }) {
            return Some(format!("converted {} as well", i.location));
        }
        if !ours.replaces.is_empty() && !theirs.replaces.is_empty() {
            return Some("replaced the table's files as well (--full-refresh)".to_string());
        }
        let theirs_removed = self.removed_by(theirs);
        if let Some(f) = self.removed_by(ours).iter().find(|f| theirs_removed.contains(*f)) {
            return Some(format!("replaced {f} as well"));
        }
        if let (Some(ours_layout), Some(theirs_layout)) = (files_layout(ours), files_layout(theirs))
            && ours_layout != theirs_layout
        {
            return Some(format!(
                "wrote its rows partitioned by {theirs_layout}, while this run wrote them by {ours_layout} \
                 (a table holds one layout)"
            ));
        }
        if keep_enrichment {
            let ours_used: HashSet<&str> = ours.enrichment.iter().map(|e| e.table.as_str()).collect();
            let lacking: BTreeSet<&str> =
                theirs.enrichment.iter().map(|e| e.table.as_str()).filter(|t| !ours_used.contains(t)).collect();
            if !lacking.is_empty() {
                let flags: Vec<String> = lacking.iter().map(|t| format!("--enrich {t}")).collect();
                return Some(format!(
                    "enriched its rows with {}, which this run was not given (pass it, or --allow-unenriched)",
                    flags.join(" and ")
                ));
            }
        }
        None
    }
}

/// The partition layout of files named relative to the table root: that of the first
/// whose folder is one (`None` without such a file).
fn layout_of<'a>(files: impl IntoIterator<Item = &'a str>) -> Option<Layout> {
    files.into_iter().find_map(|f| f.rsplit_once('/').and_then(|(d, _)| Layout::detect(d)))
}

/// The partition layout of the files a commit names.
fn files_layout(run: &RunManifest) -> Option<Layout> {
    layout_of(run.files.iter().map(String::as_str))
}

/// Another run committed first, and something of its commit rules ours out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// That run.
    pub run_id: String,
    /// Its shard, if it was one.
    pub shard: Option<String>,
    /// Its commit's place in the log.
    pub sequence: u64,
    /// What it did that rules ours out.
    pub why: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shard = self.shard.as_ref().map(|s| format!(", shard {s}")).unwrap_or_default();
        write!(
            f,
            "another run ({}{shard}, commit {}) committed first and {}: this run wrote nothing; \
             run it again to convert what is left",
            self.run_id, self.sequence, self.why
        )
    }
}

/// Commits `run` at the first free place in the table's log after the commits `m` holds.
/// Each place is taken with put-if-absent; when one is taken already, the commit there is
/// read: if it rules this one out ([`Manifest::conflict`]), the conflict is returned and
/// nothing is written; otherwise the next place is tried. Sets `run.sequence` to the place
/// taken. The first commit to a table also leaves [`MARKER`] for flowlake 0.1.
/// `keep_enrichment`: see [`Manifest::conflict`].
pub fn commit_in_order(
    storage: &dyn Storage,
    root: &Location,
    m: &Manifest,
    run: &mut RunManifest,
    keep_enrichment: bool,
) -> Result<std::result::Result<u64, Conflict>> {
    if !m.has_marker {
        storage.put_if_absent(&dir(root).join(MARKER), MARKER_TEXT.as_bytes())?;
    }
    let next = |seq: u64| {
        seq.checked_add(1).ok_or_else(|| {
            Error::Damaged(format!(
                "the table's log at {} says it holds commit {seq}, the last one there can be: a commit or \
                 checkpoint was edited; restore the log from a backup",
                log_dir(root)
            ))
        })
    };
    let mut seq = next(m.max_sequence)?;
    loop {
        run.sequence = seq;
        let at = log_entry(root, seq);
        if storage.put_if_absent(&at, &serde_json::to_vec_pretty(run).expect("a commit serializes"))? {
            return Ok(Ok(seq));
        }
        let theirs = read_run(storage, &at)?;
        if let Some(why) = m.conflict(run, &theirs, keep_enrichment) {
            return Ok(Err(Conflict { run_id: theirs.run_id, shard: theirs.shard, sequence: seq, why }));
        }
        seq = next(seq)?;
    }
}

/// The log's commits after `log_through` (those no checkpoint covers), each checked to
/// be at the place it says it is.
fn log_entries(storage: &dyn Storage, root: &Location, log_through: u64) -> Result<Vec<(Location, RunManifest, bool)>> {
    let mut runs = Vec::new();
    for obj in list_or_empty(storage, &log_dir(root))? {
        let Some(seq) = log_sequence(&obj.location.file_name()) else { continue };
        if seq == 0 {
            // Commits start at 1: a 0 was placed by hand.
            return Err(Error::Damaged(format!(
                "{} is not a commit flowlake writes (commits start at 1); move it away",
                obj.location
            )));
        }
        if seq <= log_through {
            continue;
        }
        let run = read_run(storage, &obj.location)?;
        if run.sequence != seq {
            return Err(Error::Damaged(format!(
                "{} is damaged: it says it is commit {}; restore it from a backup, or move it away",
                obj.location, run.sequence
            )));
        }
        runs.push((obj.location, run, false));
    }
    Ok(runs)
}

/// Finishes publishing committed runs that were interrupted while moving their
/// files into place (a crash between the commit and the last move). Staging
/// folders of runs without a commit are left alone: they are hidden, and may
/// belong to a run (or shard) still going.
///
/// The run that committed may still be publishing (this run began between its commit
/// and its last move), and other runs may roll it forward at the same moment: so files
/// move here one by one, each move done once whoever makes it, and partition folders
/// are never swapped here (only the committing run swaps; two swaps of one folder at
/// once could undo each other). Returns the number of files moved.
pub fn roll_forward(storage: &dyn Storage, root: &Location, manifest: &Manifest) -> Result<u64> {
    if manifest.committed_staging().next().is_none() {
        return Ok(0);
    }
    let listed = list_or_empty(storage, &root.join(paths::STAGING))?;
    // Staged objects of each committed run, by partition folder (relative to the table root).
    let mut by_run: BTreeMap<usize, BTreeMap<String, Vec<Location>>> = BTreeMap::new();
    let mut moved = 0;
    for obj in listed {
        let Some(rel) = relative(root, &obj.location) else { continue };
        let found = manifest.runs.iter().enumerate().find_map(|(i, (_, r))| {
            let dir = r.staging.as_deref()?;
            rel.strip_prefix(dir)?.strip_prefix('/').map(|target| (i, target.to_string()))
        });
        if let Some((i, target)) = &found
            && target == STAGED_REJECTS
        {
            if let Some(to) = &manifest.runs[*i].1.rejects {
                storage.rename(&obj.location, &root.join(to))?;
                moved += 1;
            }
            continue;
        }
        if let Some((i, target)) = found {
            let part = target.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
            by_run.entry(i).or_default().entry(part).or_default().push(obj.location);
        }
    }
    for (i, parts) in by_run {
        let run = &manifest.runs[i].1;
        let staging = root.join(run.staging.as_deref().expect("grouped by staging folder"));
        for (part, objects) in parts {
            moved += place_partition(storage, root, run, (&staging, &part), &objects, false)?;
        }
    }
    Ok(moved)
}

/// Moves the staged files of one partition folder (`part`, relative to the table
/// root) into place; returns how many moved. Only files the run's commit names move:
/// anything else in its staging folder is left there.
///
/// A run that replaces files (a compaction, a rebuilt partition) on storage that can
/// swap folders (local disk on Linux) first links the partition's files that stay
/// into the staged folder, then swaps the two folders in one step: a reader listing
/// the partition sees the old files or the new ones, never both and never neither (while
/// no other run rolls the same commit forward: one that begins during the publish moves
/// files one by one, so for that moment a reader may see both or neither; the end state
/// is the same).
/// The old files, now in the staging folder, are then deleted (a file that arrived
/// in the partition after the links is moved back). On S3 files move one by one:
/// there is no atomic step over several objects without a table format. Only the run
/// that committed swaps (`swap`); another run finishing its publish moves the new files
/// one by one and then deletes the replaced ones (see [`roll_forward`]).
fn place_partition(
    storage: &dyn Storage,
    root: &Location,
    run: &RunManifest,
    (staging, part): (&Location, &str),
    objects: &[Location],
    swap: bool,
) -> Result<u64> {
    let rel = |name: &str| if part.is_empty() { name.to_string() } else { format!("{part}/{name}") };
    let new: HashSet<&str> = run.files.iter().map(String::as_str).collect();
    let replaced: HashSet<&str> = run.replaces_files.iter().map(String::as_str).collect();
    let holds_new = objects.iter().any(|o| new.contains(rel(&o.file_name()).as_str()));
    let replaces_here = replaced.iter().any(|r| r.rsplit_once('/').map(|(d, _)| d) == Some(part));
    let (staged_dir, target) = (staging.join(part), root.join(part));
    let names_in = |dir: &Location| -> Result<Vec<Location>> {
        Ok(list_dir_or_empty(storage, dir)?.0.into_iter().map(|o| o.location).collect())
    };
    let old = if holds_new
        && replaces_here
        && swap
        && !part.is_empty()
        && swap_in(storage, &staged_dir, &target, &replaced, &rel)?
    {
        // The staging folder now holds what the partition held before.
        names_in(&staged_dir)?
    } else if holds_new {
        let mut moved = 0;
        for o in objects.iter().filter(|o| new.contains(rel(&o.file_name()).as_str())) {
            storage.rename(o, &root.join(&rel(&o.file_name())))?;
            moved += 1;
        }
        if !swap && replaces_here {
            let here: Vec<String> = replaced
                .iter()
                .filter(|r| r.rsplit_once('/').map(|(d, _)| d) == Some(part))
                .map(|r| r.to_string())
                .collect();
            for r in existing(storage, root, &here)? {
                storage.delete(&root.join(&r))?;
            }
        }
        return Ok(moved);
    } else {
        // Swapped before a crash: the old files (and late arrivals) are what is left here.
        objects.to_vec()
    };
    let present: HashSet<String> = names_in(&target)?.iter().map(Location::file_name).collect();
    let mut moved = 0;
    for o in &old {
        let name = o.file_name();
        if replaced.contains(rel(&name).as_str()) || present.contains(&name) {
            storage.delete(o)?;
        } else {
            storage.rename(o, &target.join(&name))?;
            moved += 1;
        }
    }
    Ok(moved)
}

/// Links the partition's files that stay into `staged_dir`, then swaps it with
/// `target`. False (nothing swapped) where the store cannot do either.
fn swap_in(
    storage: &dyn Storage,
    staged_dir: &Location,
    target: &Location,
    replaced: &HashSet<&str>,
    rel: &dyn Fn(&str) -> String,
) -> Result<bool> {
    // A partition folder that is a symbolic link leads outside the table: its files are
    // neither linked nor swapped (nor deleted after).
    if storage.is_link(target)? {
        return Err(Error::Refused(format!(
            "{target} is a symbolic link: flowlake does not write through links inside a table; \
             replace it with what it points to"
        )));
    }
    for o in list_dir_or_empty(storage, target)?.0 {
        let name = o.location.file_name();
        // A writer's temporary (hidden) file is not linked: it is moved back after the swap.
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        if !replaced.contains(rel(&name).as_str()) && !storage.hard_link(&o.location, &staged_dir.join(&name))? {
            return Ok(false);
        }
    }
    storage.exchange(staged_dir, target)
}

/// Of `files` (relative to the table root), those that exist; each folder is listed once.
pub fn existing(storage: &dyn Storage, root: &Location, files: &[String]) -> Result<Vec<String>> {
    let mut by_dir: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for f in files {
        by_dir.entry(f.rsplit_once('/').map_or("", |(d, _)| d)).or_default().push(f);
    }
    let mut out = Vec::new();
    for (d, fs) in by_dir {
        let present: HashSet<String> =
            list_dir_or_empty(storage, &root.join(d))?.0.iter().map(|o| o.location.file_name()).collect();
        out.extend(fs.into_iter().filter(|f| present.contains(f.rsplit('/').next().unwrap_or(f))).cloned());
    }
    Ok(out)
}

/// Deletes whatever is left of the files that committed runs replace: the files a run
/// names in `replaces_files`, and the files of the runs it replaces. Commits are never
/// rewritten, so this is repeated (for the commits no checkpoint covers yet) until
/// nothing is left; only files that exist are deleted.
pub fn finish_replacements(storage: &dyn Storage, root: &Location, manifest: &Manifest) -> Result<()> {
    let mut gone: Vec<String> = Vec::new();
    for (_, run) in &manifest.runs[manifest.covered..] {
        gone.extend(run.replaces_files.iter().cloned());
    }
    for r in &manifest.replaced {
        gone.extend(r.files.iter().cloned());
    }
    // Files a later run wrote are never among them: file names carry their run's id.
    for rel in existing(storage, root, &gone)? {
        storage.delete(&root.join(&rel))?;
    }
    Ok(())
}

/// Deletes the files of one committed run's replacements (see [`finish_replacements`]).
pub fn replace(storage: &dyn Storage, root: &Location, manifest: &Manifest, run: &RunManifest) -> Result<()> {
    let gone: Vec<String> = manifest.removed_by(run).into_iter().collect();
    for rel in existing(storage, root, &gone)? {
        storage.delete(&root.join(&rel))?;
    }
    Ok(())
}

/// Staging folders of runs that never committed are removed once they are
/// older than this (by the start time in the run id): no run takes this long,
/// so such a run was killed. Younger ones may belong to a run still going.
pub const STALE_STAGING_SECS: i64 = 48 * 3600;

/// Removes the staging folders of runs that were killed before committing and
/// started more than [`STALE_STAGING_SECS`] ago. Returns the files removed.
pub fn remove_stale_staging(storage: &dyn Storage, root: &Location, manifest: &Manifest, now: i64) -> Result<u64> {
    let mut removed = 0;
    for d in stale_staging(storage, root, manifest, now)? {
        removed += remove_staging(storage, &d)?;
    }
    Ok(removed)
}

/// Staging folders of runs with no commit that started more than [`STALE_STAGING_SECS`] ago.
pub fn stale_staging(storage: &dyn Storage, root: &Location, manifest: &Manifest, now: i64) -> Result<Vec<Location>> {
    let committed: HashSet<&str> = manifest.committed_staging().collect();
    let mut out = Vec::new();
    for d in list_dir_or_empty(storage, &root.join(paths::STAGING))?.1 {
        let name = d.file_name();
        if committed.contains(paths::staging_rel(&name).as_str()) {
            continue;
        }
        match run_started(&name) {
            Some(started) if now - started >= STALE_STAGING_SECS => out.push(d),
            _ => {}
        }
    }
    Ok(out)
}

/// Deletes a staging folder and everything in it; returns the files removed.
pub fn remove_staging(storage: &dyn Storage, dir: &Location) -> Result<u64> {
    let mut removed = 0;
    for obj in list_or_empty(storage, dir)? {
        storage.delete(&obj.location)?;
        removed += 1;
    }
    storage.remove_empty_dirs(dir)?;
    Ok(removed)
}

/// Temporary files (`.<name>.<pid>-<n>.tmp`, written before an atomic rename) left
/// under `_flowlake/` on local disk by killed processes are removed once their
/// process is gone (checked on this host) or they are older than this.
pub const STALE_TEMP_SECS: u64 = 3600;

/// Removes the temporary files that killed runs left in the table's metadata
/// folders (S3 has none: an unfinished upload is never visible). Staging folders
/// are left to [`remove_stale_staging`]. Returns the files removed.
pub fn remove_stale_temporaries(storage: &dyn Storage, root: &Location) -> Result<u64> {
    storage.remove_stale_temporaries(&root.join(paths::META), STALE_TEMP_SECS, &["staging"])
}

/// The start time (Unix seconds) in a run id `YYYYMMDDTHHMMSSZ-…`.
pub fn run_started(run: &str) -> Option<i64> {
    let t = run.get(..16)?;
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    if t.as_bytes()[8] != b'T' || t.as_bytes()[15] != b'Z' {
        return None;
    }
    let day = crate::partition::days_from_civil(num(0..4)?, num(4..6)? as u32, num(6..8)? as u32);
    Some(day * 86_400 + num(9..11)? * 3600 + num(11..13)? * 60 + num(13..15)?)
}

/// Moves a committed run's staged files into place: after its commit they are part of
/// the table, whatever happens to this process (a later run finishes the moves).
pub fn publish(storage: &dyn Storage, root: &Location, run: &RunManifest, staged: &[(Location, String)]) -> Result<()> {
    let staging = run.staging.as_deref().map(|s| root.join(s));
    match &staging {
        Some(staging) if !run.replaces_files.is_empty() => {
            let mut parts: BTreeMap<String, Vec<Location>> = BTreeMap::new();
            for (from, rel) in staged {
                let part = rel.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
                parts.entry(part).or_default().push(from.clone());
            }
            for (part, objects) in parts {
                place_partition(storage, root, run, (staging, &part), &objects, true)?;
            }
        }
        _ => {
            for (from, rel) in staged {
                storage.rename(from, &root.join(rel))?;
            }
        }
    }
    if let (Some(staging), Some(to)) = (&staging, &run.rejects) {
        storage.rename(&staging.join(STAGED_REJECTS), &root.join(to))?;
    }
    if let Some(dir) = &staging {
        storage.remove_empty_dirs(dir)?;
    }
    Ok(())
}

/// For the first commit to a table that flowlake 0.1 wrote (see [`RunManifest::baseline`]):
/// the files its manifests name that are there now. `None` for any other commit.
pub fn baseline_if_first(storage: &dyn Storage, root: &Location, m: &Manifest) -> Result<Option<Vec<String>>> {
    if m.has_marker || m.legacy_names.is_empty() {
        return Ok(None);
    }
    let named: Vec<String> = m.live_files().into_keys().collect();
    existing(storage, root, &named).map(Some)
}

/// Writes a commit at its sequence, if that place in the log is free (`Ok(false)` if not).
/// Runs commit with [`commit_in_order`]; this is for tools and tests that build a log.
pub fn commit_at(storage: &dyn Storage, root: &Location, run: &RunManifest) -> Result<bool> {
    storage.put_if_absent(&log_entry(root, run.sequence), &serde_json::to_vec_pretty(run).expect("a commit serializes"))
}

/// The entry for an input; `record`: the location the table recorded it under before, if
/// that is not its canonical one; `read_as`: how it was read.
pub fn entry(
    input: &InputFile,
    rows: u64,
    partitions: Vec<String>,
    record: Option<&str>,
    read_as: ReadAs,
) -> InputEntry {
    InputEntry {
        location: input.key.clone(),
        size: input.meta.size,
        version: input.meta.version.clone(),
        rows,
        partitions,
        was: record.filter(|r| *r != input.key).map(str::to_string),
        kind: read_as.kind,
        format: read_as.format,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::storage::LocalStorage;

    /// Writes `run` as flowlake 0.1 did: `_flowlake/manifest/<run>.json`, overwriting.
    /// The names in a folder, sorted (none if it does not exist).
    fn names(d: &std::path::Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .map(|r| r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    pub(crate) fn legacy(s: &dyn Storage, root: &Location, run: &RunManifest) {
        s.put(&dir(root).join(&format!("{}.json", run.run_id)), &serde_json::to_vec_pretty(run).unwrap()).unwrap();
    }

    fn commit(id: &str, inputs: &[&str], files: &[&str], replaces_files: &[&str]) -> RunManifest {
        RunManifest {
            run_id: id.into(),
            shard: None,
            inputs: inputs
                .iter()
                .map(|l| InputEntry {
                    location: l.to_string(),
                    size: 1,
                    version: "v".into(),
                    rows: 1,
                    partitions: vec!["date=2023-08-01".into()],
                    ..Default::default()
                })
                .collect(),
            files: files.iter().map(|f| f.to_string()).collect(),
            file_stats: Vec::new(),
            staging: None,
            rejects: None,
            replaces: Vec::new(),
            replaces_files: replaces_files.iter().map(|f| f.to_string()).collect(),
            sequence: 0,
            baseline: None,
            enrichment: Vec::new(),
        }
    }

    /// A compaction's partition swap, finished by the next run wherever a crash cut it:
    /// before the swap, and after it with the old files (and a late arrival) in staging.
    #[test]
    fn a_compaction_swap_is_finished_after_a_crash() {
        for swapped in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let root = Location::Local(dir.path().to_path_buf());
            let s = LocalStorage;
            let staged = dir.path().join("_flowlake/staging/R/date=2023-08-01");
            let part = dir.path().join("date=2023-08-01");
            std::fs::create_dir_all(&staged).unwrap();
            std::fs::create_dir_all(&part).unwrap();
            let (old_dir, new_dir) = if swapped { (&staged, &part) } else { (&part, &staged) };
            for f in ["old1.parquet", "old2.parquet"] {
                std::fs::write(old_dir.join(f), b"old").unwrap();
            }
            std::fs::write(new_dir.join("new.parquet"), b"new").unwrap();
            // A file a conversion added to the partition while the compaction ran.
            std::fs::write(old_dir.join("late.parquet"), b"late").unwrap();
            let mut run = commit(
                "R",
                &[],
                &["date=2023-08-01/new.parquet"],
                &["date=2023-08-01/old1.parquet", "date=2023-08-01/old2.parquet"],
            );
            run.staging = Some("_flowlake/staging/R".into());
            run.sequence = 1;
            assert!(commit_at(&s, &root, &run).unwrap());
            let m = Manifest::load(&s, &root).unwrap();
            roll_forward(&s, &root, &m).unwrap();
            assert_eq!(names(&part), ["late.parquet", "new.parquet"], "swapped before the crash: {swapped}");
            assert!(names(&staged).is_empty(), "swapped before the crash: {swapped}");
        }
    }

    /// A compaction publishing while another run, begun just after its commit, rolls it
    /// forward: whatever the interleaving, the partition ends with the files that stay and
    /// the new one, once each, and nothing is left staged (only the committing run swaps).
    #[test]
    fn a_compaction_publishing_while_another_run_rolls_it_forward() {
        for i in 0..200 {
            let dir = tempfile::tempdir().unwrap();
            let root = Location::Local(dir.path().to_path_buf());
            let s = LocalStorage;
            let (staged, part) =
                (dir.path().join("_flowlake/staging/R/date=2023-08-01"), dir.path().join("date=2023-08-01"));
            std::fs::create_dir_all(&staged).unwrap();
            std::fs::create_dir_all(&part).unwrap();
            for f in ["old1.parquet", "old2.parquet", "keep.parquet"] {
                std::fs::write(part.join(f), f).unwrap();
            }
            std::fs::write(staged.join("new.parquet"), b"new").unwrap();
            let replaced = ["date=2023-08-01/old1.parquet", "date=2023-08-01/old2.parquet"];
            let mut run = commit("R", &[], &["date=2023-08-01/new.parquet"], &replaced);
            (run.staging, run.sequence) = (Some("_flowlake/staging/R".into()), 1);
            assert!(commit_at(&s, &root, &run).unwrap());
            let m = Manifest::load(&s, &root).unwrap();
            let moves = [(root.join("_flowlake/staging/R/date=2023-08-01/new.parquet"), run.files[0].clone())];
            std::thread::scope(|t| {
                let own = t.spawn(|| {
                    publish(&s, &root, &run, &moves).unwrap();
                    replace(&s, &root, &m, &run).unwrap();
                });
                let other = t.spawn(|| {
                    if i % 2 == 0 {
                        std::thread::yield_now();
                    }
                    roll_forward(&s, &root, &m).unwrap();
                    finish_replacements(&s, &root, &m).unwrap();
                });
                own.join().unwrap();
                other.join().unwrap();
            });
            assert_eq!(names(&part), ["keep.parquet", "new.parquet"], "round {i}");
            assert_eq!(std::fs::read(part.join("keep.parquet")).unwrap(), b"keep.parquet");
            assert!(names(&staged).is_empty(), "round {i}: {:?}", names(&staged));
        }
    }

    /// A partition folder replaced by a symbolic link to a folder outside the table: a
    /// compaction's publish refuses to swap it, and nothing outside is linked or deleted.
    #[cfg(unix)]
    #[test]
    fn a_linked_partition_folder_is_never_swapped() {
        let dir = tempfile::tempdir().unwrap();
        let (lake, outside) = (dir.path().join("lake"), dir.path().join("outside"));
        let root = Location::Local(lake.clone());
        let s = LocalStorage;
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("old.parquet"), b"not the table's").unwrap();
        std::fs::create_dir_all(&lake).unwrap();
        std::os::unix::fs::symlink(&outside, lake.join("date=2023-08-01")).unwrap();
        let staged = lake.join("_flowlake/staging/R/date=2023-08-01");
        std::fs::create_dir_all(&staged).unwrap();
        std::fs::write(staged.join("new.parquet"), b"new").unwrap();
        let mut run = commit("R", &[], &["date=2023-08-01/new.parquet"], &["date=2023-08-01/old.parquet"]);
        (run.staging, run.sequence) = (Some("_flowlake/staging/R".into()), 1);
        let moves = [(root.join("_flowlake/staging/R/date=2023-08-01/new.parquet"), run.files[0].clone())];
        let err = publish(&s, &root, &run, &moves).unwrap_err();
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        assert_eq!(names(&outside), ["old.parquet"]);
        assert_eq!(std::fs::read(outside.join("old.parquet")).unwrap(), b"not the table's");
    }

    /// A run killed after its commit, before its files and rejects moved: the next run
    /// publishes both; a run that never committed has its staged rejects left unpublished.
    #[test]
    fn staged_rejects_are_published_with_their_committed_run_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::Local(dir.path().to_path_buf());
        let s = LocalStorage;
        for run in ["R", "U"] {
            let staged = dir.path().join(format!("_flowlake/staging/{run}"));
            std::fs::create_dir_all(staged.join("date=2023-08-01")).unwrap();
            std::fs::write(staged.join("date=2023-08-01/new.parquet"), b"new").unwrap();
            std::fs::write(staged.join(STAGED_REJECTS), format!("{run} rejects")).unwrap();
        }
        let mut run = commit("R", &[], &["date=2023-08-01/new.parquet"], &[]);
        run.staging = Some("_flowlake/staging/R".into());
        run.rejects = Some("_flowlake/rejects/R.tsv".into());
        run.sequence = 1;
        assert!(commit_at(&s, &root, &run).unwrap());
        let m = Manifest::load(&s, &root).unwrap();
        assert_eq!(roll_forward(&s, &root, &m).unwrap(), 2);
        assert_eq!(std::fs::read_to_string(dir.path().join("_flowlake/rejects/R.tsv")).unwrap(), "R rejects");
        assert_eq!(names(&dir.path().join("_flowlake/rejects")), ["R.tsv"]);
        assert!(dir.path().join("_flowlake/staging/U").join(STAGED_REJECTS).is_file());
        // A commit naming a rejects file anywhere else is damaged.
        let mut bad = run.clone();
        bad.rejects = Some("../x.tsv".into());
        bad.sequence = 2;
        assert!(commit_at(&s, &root, &bad).unwrap());
        let err = Manifest::load(&s, &root).unwrap_err().to_string();
        assert!(err.contains("is not a rejects file"), "{err}");
    }

    /// An edited commit cannot make the next commit's place overflow or wrap to 0.
    #[test]
    fn the_last_possible_sequence_and_sequence_zero_are_damage() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::Local(dir.path().to_path_buf());
        let s = LocalStorage;
        let mut run = commit("R", &[], &[], &[]);
        run.sequence = u64::MAX;
        assert!(commit_at(&s, &root, &run).unwrap());
        let m = Manifest::load(&s, &root).unwrap();
        let mut next = commit("S", &[], &[], &[]);
        let err = commit_in_order(&s, &root, &m, &mut next, false).unwrap_err();
        assert!(matches!(err, Error::Damaged(_)) && err.to_string().contains("the last one there can be"), "{err}");
        std::fs::remove_file(log_entry(&root, u64::MAX).as_local().unwrap()).unwrap();
        run.sequence = 0;
        assert!(commit_at(&s, &root, &run).unwrap());
        let err = Manifest::load(&s, &root).unwrap_err().to_string();
        assert!(err.contains("commits start at 1"), "{err}");
    }

    #[test]
    fn stale_staging_of_killed_runs_is_removed() {
        assert_eq!(run_started("20141214T040650Z-0123abcd-s1of3"), Some(1_418_530_010));
        assert_eq!(run_started("nonsense"), None);
        let dir = tempfile::tempdir().unwrap();
        let root = Location::Local(dir.path().to_path_buf());
        let s = LocalStorage;
        let old = root.join("_flowlake/staging/20141214T040650Z-0123abcd/date=2014-12-14/part-x.parquet");
        let young = root.join("_flowlake/staging/20141216T000000Z-89abcdef/date=2014-12-14/part-y.parquet");
        s.put(&old, b"x").unwrap();
        s.put(&young, b"y").unwrap();
        let now = 1_418_530_010 + STALE_STAGING_SECS + 10;
        assert_eq!(remove_stale_staging(&s, &root, &Manifest::default(), now).unwrap(), 1);
        assert!(!old.as_local().unwrap().exists());
        assert!(!dir.path().join("_flowlake/staging/20141214T040650Z-0123abcd").exists(), "its folders go too");
        assert!(young.as_local().unwrap().exists(), "a younger run may still be going");
    }

    /// Commits take the next free place; one that finds its place taken reads the commit
    /// there and goes on unless that commit converted one of its inputs or removes a file
    /// it removes.
    #[test]
    fn commits_take_places_in_order_and_overlapping_ones_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::Local(dir.path().to_path_buf());
        let s = LocalStorage;
        let base = Manifest::load(&s, &root).unwrap();
        let mut a = commit("A", &["/in/1", "/in/2"], &["date=2023-08-01/part-A.parquet"], &[]);
        assert_eq!(commit_in_order(&s, &root, &base, &mut a, false).unwrap(), Ok(1));
        assert!(dir.path().join("_flowlake/manifest").join(MARKER).exists(), "flowlake 0.1 is kept away");
        // B started from the same (empty) table, with other inputs: it commits after A.
        let mut b = commit("B", &["/in/3"], &["date=2023-08-01/part-B.parquet"], &[]);
        assert_eq!(commit_in_order(&s, &root, &base, &mut b, false).unwrap(), Ok(2));
        // C also converted /in/2: it finds A in its way.
        let mut c = commit("C", &["/in/4", "/in/2"], &["date=2023-08-01/part-C.parquet"], &[]);
        let conflict = commit_in_order(&s, &root, &base, &mut c, false).unwrap().unwrap_err();
        assert_eq!((conflict.run_id.as_str(), conflict.sequence), ("A", 1));
        assert_eq!(
            conflict.to_string(),
            "another run (A, commit 1) committed first and converted /in/2 as well: this run wrote nothing; \
             run it again to convert what is left"
        );
        // Two compactions of the same files: the second finds the first.
        let now = Manifest::load(&s, &root).unwrap();
        let mut d = commit("D", &[], &["date=2023-08-01/part-D.parquet"], &["date=2023-08-01/part-A.parquet"]);
        let mut e = commit("E", &[], &["date=2023-08-01/part-E.parquet"], &["date=2023-08-01/part-A.parquet"]);
        assert_eq!(commit_in_order(&s, &root, &now, &mut d, false).unwrap(), Ok(3));
        let conflict = commit_in_order(&s, &root, &now, &mut e, false).unwrap().unwrap_err();
        assert_eq!(conflict.why, "replaced date=2023-08-01/part-A.parquet as well");
        let m = Manifest::load(&s, &root).unwrap();
        assert_eq!(m.run_ids(), ["A", "B", "D"]);
        assert_eq!(
            m.live_files().into_keys().collect::<Vec<_>>(),
            ["date=2023-08-01/part-B.parquet", "date=2023-08-01/part-D.parquet"]
        );
    }

    /// Two runs began from the same log, one enriched with a lookup table and one not:
    /// whichever commits second while lacking a table the first used loses, when it keeps
    /// enrichment (a checked run); one allowed to go unenriched, or one with the table, goes on.
    #[test]
    fn a_run_lacking_a_lookup_table_loses_to_an_enriched_commit_that_beat_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::Local(dir.path().to_path_buf());
        let s = LocalStorage;
        let base = Manifest::load(&s, &root).unwrap();
        let used = |table: &str, file: &str| crate::report::EnrichmentUsed {
            table: table.into(),
            file: file.into(),
            ..Default::default()
        };
        let mut a = commit("A", &["/in/1"], &["date=2023-08-01/part-A.parquet"], &[]);
        a.enrichment =
            vec![used("interfaces", "/t/a.json"), used("interfaces", "/t/b.json"), used("geoip", "/t/c.mmdb")];
        assert_eq!(commit_in_order(&s, &root, &base, &mut a, true).unwrap(), Ok(1));
        let mut b = commit("B", &["/in/2"], &["date=2023-08-01/part-B.parquet"], &[]);
        b.enrichment = vec![used("geoip", "/t/other.mmdb")];
        let conflict = commit_in_order(&s, &root, &base, &mut b.clone(), true).unwrap().unwrap_err();
        assert_eq!(
            conflict.why,
            "enriched its rows with --enrich interfaces, which this run was not given (pass it, or --allow-unenriched)"
        );
        assert_eq!(commit_in_order(&s, &root, &base, &mut b, false).unwrap(), Ok(2), "--allow-unenriched");
        let mut c = commit("C", &["/in/3"], &["date=2023-08-01/part-C.parquet"], &[]);
        let why = commit_in_order(&s, &root, &base, &mut c, true).unwrap().unwrap_err().why;
        assert!(why.contains("--enrich geoip and --enrich interfaces"), "{why}");
        c.enrichment = a.enrichment.clone();
        assert_eq!(commit_in_order(&s, &root, &base, &mut c, true).unwrap(), Ok(3));
    }

    /// Two runs that began on an empty table with different layouts: the second to commit
    /// loses, whichever layouts (date, hour, AWS's); one of the same layout, or without
    /// files, commits after it.
    #[test]
    fn a_commit_in_another_layout_loses_to_the_one_that_beat_it() {
        let aws = "aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2023/month=08/day=01";
        let layouts = [
            "date=2023-08-01".to_string(),
            "date=2023-08-01/hour=05".to_string(),
            aws.to_string(),
            format!("{aws}/hour=05"),
        ];
        for (i, first) in layouts.iter().enumerate() {
            for (j, second) in layouts.iter().enumerate() {
                let dir = tempfile::tempdir().unwrap();
                let root = Location::Local(dir.path().to_path_buf());
                let s = LocalStorage;
                let base = Manifest::load(&s, &root).unwrap();
                let mut a = commit("A", &["/in/1"], &[&format!("{first}/part-A.parquet")], &[]);
                assert_eq!(commit_in_order(&s, &root, &base, &mut a, false).unwrap(), Ok(1));
                let mut b = commit("B", &["/in/2"], &[&format!("{second}/part-B.parquet")], &[]);
                match commit_in_order(&s, &root, &base, &mut b, false).unwrap() {
                    Ok(n) => assert_eq!((i, n), (j, 2), "{first} then {second}"),
                    Err(c) => {
                        assert_ne!(i, j, "{first} then {second}");
                        assert!(c.why.ends_with("(a table holds one layout)"), "{}", c.why);
                    }
                }
                let mut empty = commit("C", &["/in/3"], &[], &[]);
                assert_eq!(
                    commit_in_order(&s, &root, &base, &mut empty, false).unwrap(),
                    Ok(if i == j { 3 } else { 2 })
                );
            }
        }
    }

    /// Case 7 of the exactly-once issue: a commit naming a path outside the table is damaged;
    /// nothing is deleted or read because of it.
    #[test]
    fn paths_outside_the_table_make_a_commit_damaged() {
        for (rel, kind) in [
            ("../victim.txt", PathKind::DataFile),
            ("/etc/passwd", PathKind::DataFile),
            ("date=2023-08-01/../../x.parquet", PathKind::DataFile),
            ("_flowlake/log/00000000000000000001.json", PathKind::DataFile),
            ("date=2023-08-01//x.parquet", PathKind::DataFile),
            ("date=2023-08-01\\\\x.parquet", PathKind::DataFile),
            ("date=2023-08-01/x.json", PathKind::DataFile),
            ("_flowlake/staging/../../x", PathKind::Staging),
            ("elsewhere", PathKind::Staging),
        ] {
            assert!(check_path(rel, kind).is_err(), "{rel}");
        }
        assert!(check_path("date=2023-08-01/part-x.parquet", PathKind::DataFile).is_ok());
        assert!(check_path("_flowlake/staging/20230801T000000Z-01234567", PathKind::Staging).is_ok());

        let outer = tempfile::tempdir().unwrap();
        let victim = outer.path().join("victim.txt");
        std::fs::write(&victim, b"keep me").unwrap();
        let root = Location::Local(outer.path().join("lake"));
        let s = LocalStorage;
        for edited in ["replaces", "files", "legacy"] {
            let mut run = commit("R", &["/in/1"], &["date=2023-08-01/part-R.parquet"], &[]);
            match edited {
                "replaces" => run.replaces_files = vec!["../victim.txt".into()],
                "files" => run.files = vec!["../victim.txt".into()],
                _ => {}
            }
            let _ = std::fs::remove_dir_all(root.as_local().unwrap());
            if edited == "legacy" {
                run.replaces_files = vec!["../victim.txt".into()];
                legacy(&s, &root, &run);
            } else {
                run.sequence = 1;
                commit_at(&s, &root, &run).unwrap();
            }
            let err = Manifest::load(&s, &root).unwrap_err().to_string();
            assert!(err.contains("is damaged: `../victim.txt` is not a Parquet file inside the table"), "{err}");
            assert!(err.contains("Nothing was read, moved or deleted because of it"), "{err}");
            assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
        }
    }

    /// The table's layout is that of the files its log names (none for an empty table);
    /// files a later run replaced do not count.
    #[test]
    fn the_layout_is_that_of_the_files_the_log_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::Local(dir.path().to_path_buf());
        let s = LocalStorage;
        assert_eq!(Manifest::load(&s, &root).unwrap().layout(), None);
        let hourly = RunManifest {
            run_id: "r1".into(),
            sequence: 1,
            files: vec!["date=2023-08-01/hour=05/part-r1.parquet".into()],
            ..RunManifest::default()
        };
        assert!(commit_at(&s, &root, &hourly).unwrap());
        assert_eq!(Manifest::load(&s, &root).unwrap().layout(), Some(Layout::Hour));
        let daily = RunManifest {
            run_id: "r2".into(),
            sequence: 2,
            files: vec!["date=2023-08-01/part-r2.parquet".into()],
            replaces: vec!["r1".into()],
            ..RunManifest::default()
        };
        assert!(commit_at(&s, &root, &daily).unwrap());
        assert_eq!(Manifest::load(&s, &root).unwrap().layout(), Some(Layout::Date));
    }

    /// Inputs flowlake 0.1 recorded by a relative path are recognised wherever the table is
    /// used from: by the path's end, the size and the version.
    #[test]
    fn legacy_relative_paths_are_recognised_by_their_end_size_and_version() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::Local(dir.path().join("lake"));
        let s = LocalStorage;
        let data = dir.path().join("work/sample/AWSLogs/1/vpcflowlogs/us-east-1/2023/08/01");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("x.log.gz"), b"12345").unwrap();
        let input = crate::source::InputFile::new(
            s.list(&Location::Local(
                s.canonical(&Location::Local(data.join("x.log.gz"))).unwrap().as_local().unwrap().into(),
            ))
            .unwrap()
            .remove(0),
        );
        let mut run = commit("R", &[], &[], &[]);
        run.inputs = vec![InputEntry {
            location: "./sample/AWSLogs/1/vpcflowlogs/us-east-1/2023/08/01/x.log.gz".into(),
            size: 5,
            version: input.meta.version.clone(),
            rows: 1,
            partitions: vec!["date=2023-08-01".into()],
            ..Default::default()
        }];
        legacy(&s, &root, &run);
        let m = Manifest::load(&s, &root).unwrap();
        let rec = m.record_of(&s, &input).unwrap();
        assert_eq!(rec.as_deref(), Some("./sample/AWSLogs/1/vpcflowlogs/us-east-1/2023/08/01/x.log.gz"));
        assert_eq!(m.seen(rec.as_deref(), &input), Seen::Done);
        // The same name and path end, but another size: this input changed, or another
        // file; flowlake refuses to guess (either guess can lose rows or convert them twice).
        let mut other = input.clone();
        other.meta.size = 6;
        let err = m.record_of(&s, &other).unwrap_err().to_string();
        assert!(err.contains("5 bytes then, 6 now") && err.contains("--full-refresh"), "{err}");
        // Another path end: another input.
        let mut elsewhere = input.clone();
        elsewhere.meta.location = Location::Local(dir.path().join("other/x.log.gz"));
        assert_eq!(m.record_of(&s, &elsewhere).unwrap(), None);
        // Once a commit records it under its canonical location, the old record is gone.
        let mut next = commit("S", &[], &[], &[]);
        next.inputs = vec![entry(&input, 1, vec!["date=2023-08-01".into()], rec.as_deref(), ReadAs::default())];
        next.sequence = 1;
        commit_at(&s, &root, &next).unwrap();
        let m = Manifest::load(&s, &root).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m.record_of(&s, &input).unwrap(), Some(input.key.clone()));
    }
}
