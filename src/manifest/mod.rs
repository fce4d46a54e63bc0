//! What has been converted into a table: one manifest file per completed run
//! under `OUT/_flowlake/manifest/<run>.json`, listing the inputs it converted
//! (location, size, version: S3 ETag or file modification time) and the files
//! it wrote. A run writes its manifest only after all its Parquet files are
//! committed, so the manifest is the commit point; every run writes its own
//! file, so concurrent runs and shards never race on one object. Every so many
//! runs the manifests are folded into one checkpoint ([`checkpoint`]), so that
//! opening a table with years of runs reads one file plus the newer manifests.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::source::InputFile;
use crate::storage::{Location, Storage};

pub mod checkpoint;

/// One converted input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputEntry {
    /// Where it is (path or `s3://` URL).
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
}

/// The manifest of one completed run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunManifest {
    /// The run.
    pub run_id: String,
    /// `INDEX/COUNT` for a shard.
    pub shard: Option<String>,
    /// Inputs converted (read to the end, or up to damage that the run reported).
    pub inputs: Vec<InputEntry>,
    /// Parquet files written, relative to the table root.
    pub files: Vec<String>,
    /// Where the run wrote them first (relative to the table root), before moving them into place.
    #[serde(default)]
    pub staging: Option<String>,
    /// Runs whose files and manifests this run replaces (`--full-refresh`).
    #[serde(default)]
    pub replaces: Vec<String>,
    /// Files (relative to the table root) this run replaces and deletes once its own
    /// are in place (`compact`, rebuilt partitions); emptied when they are gone.
    #[serde(default)]
    pub replaces_files: Vec<String>,
    /// One more than the highest sequence of the manifests the run saw when it started:
    /// when two runs record the same input, the higher sequence (then the later run id)
    /// is the current record. Run ids alone have one-second resolution.
    #[serde(default)]
    pub sequence: u64,
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
}

/// Every input converted into a table so far: the newest checkpoint (if any)
/// and every run manifest it does not cover.
#[derive(Clone, Debug, Default)]
pub struct Manifest {
    /// Location → its record from the newest run that converted it.
    inputs: HashMap<String, Recorded>,
    /// Staging folders of committed runs.
    committed_staging: Vec<String>,
    /// Every committed run: its manifest and what it wrote and replaces. The first
    /// `covered` come from the checkpoint (their `inputs` are in `Manifest::inputs` only).
    runs: Vec<(Location, RunManifest)>,
    covered: usize,
    /// Every checkpoint listed, oldest first; the last one was read.
    checkpoints: Vec<Location>,
    max_sequence: u64,
}

/// The folder of the manifests of the table at `root`.
pub fn dir(root: &Location) -> Location {
    root.join("_flowlake/manifest")
}

fn not_found(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
}

/// Lists a folder; a folder that does not exist is empty.
fn list_or_empty(storage: &dyn Storage, dir: &Location) -> Result<Vec<crate::storage::ObjectMeta>> {
    match storage.list(dir) {
        Ok(l) => Ok(l),
        Err(e) if not_found(&e) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// One level of `dir` (its objects and subfolders); a folder that is not there is empty.
fn list_dir_or_empty(
    storage: &dyn Storage,
    dir: &Location,
) -> Result<(Vec<crate::storage::ObjectMeta>, Vec<Location>)> {
    match storage.list_dir(dir) {
        Ok(l) => Ok(l),
        Err(e) if not_found(&e) => Ok((Vec::new(), Vec::new())),
        Err(e) => Err(e),
    }
}

impl Manifest {
    /// Reads the table's newest checkpoint and every run manifest it does not
    /// cover (none yet is fine).
    pub fn load(storage: &dyn Storage, root: &Location) -> Result<Manifest> {
        // A checkpoint or manifest listed but gone when read was replaced meanwhile by
        // another run (a newer checkpoint, a full refresh): list again.
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
        let mut covered_names = std::collections::HashSet::new();
        if let Some(newest) = checkpoints.last() {
            let cp = checkpoint::read(storage, newest)?;
            for run in cp.runs {
                covered_names.insert(run.manifest.clone());
                m.max_sequence = m.max_sequence.max(run.sequence);
                m.runs.push((dir(root).join(&run.manifest), run.into_run()));
            }
            m.covered = m.runs.len();
            for i in cp.inputs {
                let run = i.run as usize;
                if run >= m.covered {
                    return Err(Error::Failed(format!(
                        "checkpoint {newest} is damaged (an input names run {run} of {}); delete it to rebuild it \
                         from the run manifests",
                        m.covered
                    )));
                }
                m.inputs.insert(
                    i.location,
                    Recorded { size: i.size, version: i.version, rows: i.rows, partitions: i.partitions, run },
                );
            }
        }
        m.checkpoints = checkpoints;

        let mut runs = Vec::new();
        for obj in list_or_empty(storage, &dir(root))? {
            let name = obj.location.file_name();
            if !name.ends_with(".json") || covered_names.contains(&name) {
                continue;
            }
            let mut text = Vec::new();
            storage.open(&obj.location)?.read_to_end(&mut text).map_err(|e| Error::io("read", &obj.location, e))?;
            let run: RunManifest = serde_json::from_slice(&text).map_err(|e| {
                Error::Failed(format!("{} is not a flowlake manifest ({e}); move it away or fix it", obj.location))
            })?;
            runs.push((obj.location, run));
        }
        // A later run's record of an input wins: by sequence, then by run id (which starts with the start time).
        runs.sort_by(|(_, a), (_, b)| (a.sequence, &a.run_id).cmp(&(b.sequence, &b.run_id)));
        for (loc, run) in runs {
            m.max_sequence = m.max_sequence.max(run.sequence);
            let idx = m.runs.len();
            for i in &run.inputs {
                let newer = match m.inputs.get(&i.location) {
                    None => true,
                    Some(old) => {
                        let o = &m.runs[old.run].1;
                        (run.sequence, &run.run_id) >= (o.sequence, &o.run_id)
                    }
                };
                if newer {
                    m.inputs.insert(
                        i.location.clone(),
                        Recorded {
                            size: i.size,
                            version: i.version.clone(),
                            rows: i.rows,
                            partitions: i.partitions.clone(),
                            run: idx,
                        },
                    );
                }
            }
            m.committed_staging.extend(run.staging.clone());
            m.runs.push((loc, run));
        }
        Ok(m)
    }

    /// Number of inputs recorded.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// True when nothing was converted yet.
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// Number of run manifests that had to be read because no checkpoint covers them.
    pub fn uncovered_runs(&self) -> usize {
        self.runs.len() - self.covered
    }

    /// The sequence number of a run starting now (see [`RunManifest::sequence`]).
    pub fn next_sequence(&self) -> u64 {
        self.max_sequence + 1
    }

    /// The ids of every committed run.
    pub fn run_ids(&self) -> Vec<String> {
        self.runs.iter().map(|(_, r)| r.run_id.clone()).collect()
    }

    /// Whether `input` was converted before, and unchanged.
    pub fn seen(&self, input: &InputFile) -> Seen {
        match self.inputs.get(&input.location().to_string()) {
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
                let e = InputEntry {
                    location: loc.clone(),
                    size: r.size,
                    version: r.version.clone(),
                    rows: r.rows,
                    partitions: r.partitions.clone(),
                };
                (e, &self.runs[r.run].1)
            })
            .collect();
        v.sort_by(|a, b| a.0.location.cmp(&b.0.location));
        v
    }
}

/// Finishes publishing committed runs that were interrupted while moving their
/// files into place (a crash between the manifest and the last move). Staging
/// folders of runs without a manifest are left alone: they are hidden, and may
/// belong to a run (or shard) still going. Returns the number of files moved.
pub fn roll_forward(storage: &dyn Storage, root: &Location, manifest: &Manifest) -> Result<u64> {
    if manifest.committed_staging.is_empty() {
        return Ok(0);
    }
    let listed = list_or_empty(storage, &root.join("_flowlake/staging"))?;
    let root_key = root.key_path();
    let root_key = root_key.trim_end_matches('/');
    // Staged objects of each committed run, by partition folder (relative to the table root).
    let mut by_run: BTreeMap<usize, BTreeMap<String, Vec<Location>>> = BTreeMap::new();
    for obj in listed {
        let key = obj.location.key_path();
        let rel = key.strip_prefix(root_key).unwrap_or(&key).trim_start_matches('/');
        let found = manifest.runs.iter().enumerate().find_map(|(i, (_, r))| {
            let dir = r.staging.as_deref()?;
            rel.strip_prefix(dir)?.strip_prefix('/').map(|target| (i, target.to_string()))
        });
        if let Some((i, target)) = found {
            let part = target.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
            by_run.entry(i).or_default().entry(part).or_default().push(obj.location);
        }
    }
    let mut moved = 0;
    for (i, parts) in by_run {
        let run = &manifest.runs[i].1;
        let staging = root.join(run.staging.as_deref().expect("grouped by staging folder"));
        for (part, objects) in parts {
            moved += place_partition(storage, root, run, &staging, &part, &objects)?;
        }
    }
    Ok(moved)
}

/// Moves the staged files of one partition folder (`part`, relative to the table
/// root) into place; returns how many moved.
///
/// A run that replaces files (a compaction, a rebuilt partition) on storage that can
/// swap folders (local disk on Linux) first links the partition's files that stay
/// into the staged folder, then swaps the two folders in one step: a reader listing
/// the partition sees the old files or the new ones, never both and never neither.
/// The old files, now in the staging folder, are then deleted (a file that arrived
/// in the partition after the links is moved back). On S3 files move one by one:
/// there is no atomic step over several objects without a table format.
fn place_partition(
    storage: &dyn Storage,
    root: &Location,
    run: &RunManifest,
    staging: &Location,
    part: &str,
    objects: &[Location],
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
    let old =
        if holds_new && replaces_here && !part.is_empty() && swap_in(storage, &staged_dir, &target, &replaced, &rel)? {
            // The staging folder now holds what the partition held before.
            names_in(&staged_dir)?
        } else if holds_new {
            for o in objects {
                storage.rename(o, &root.join(&rel(&o.file_name())))?;
            }
            return Ok(objects.len() as u64);
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

/// Deletes the files and manifests of the runs `ids` (after a run that
/// replaces them has committed and published its own files).
pub fn delete_runs(storage: &dyn Storage, root: &Location, manifest: &Manifest, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    // Checkpoints first: one left behind would bring back the runs deleted below.
    for c in &manifest.checkpoints {
        storage.delete(c)?;
    }
    for (loc, run) in manifest.runs.iter().filter(|(_, r)| ids.contains(&r.run_id)) {
        for f in &run.files {
            storage.delete(&root.join(f))?;
        }
        storage.delete(loc)?;
    }
    Ok(())
}

/// Finishes replacements that a crash interrupted: the runs a committed run
/// replaces are deleted, if any of them is still there.
pub fn finish_replacements(storage: &dyn Storage, root: &Location, manifest: &Manifest) -> Result<()> {
    for (_, run) in manifest.runs.iter().filter(|(_, r)| !r.replaces_files.is_empty()) {
        for f in &run.replaces_files {
            storage.delete(&root.join(f))?;
        }
        commit(storage, root, &RunManifest { replaces_files: Vec::new(), ..run.clone() })?;
    }
    let replaced: Vec<String> = manifest.runs.iter().flat_map(|(_, r)| r.replaces.iter().cloned()).collect();
    if replaced.iter().any(|id| manifest.runs.iter().any(|(_, r)| &r.run_id == id)) {
        delete_runs(storage, root, manifest, &replaced)?;
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
    let staging = root.join("_flowlake/staging");
    let dirs = list_dir_or_empty(storage, &staging)?.1;
    let mut removed = 0;
    for d in dirs {
        let name = d.file_name();
        let rel = format!("_flowlake/staging/{name}");
        if manifest.committed_staging.contains(&rel) {
            continue;
        }
        let Some(started) = run_started(&name) else { continue };
        if now - started < STALE_STAGING_SECS {
            continue;
        }
        for obj in storage.list(&d)? {
            storage.delete(&obj.location)?;
            removed += 1;
        }
        if let Some(p) = d.as_local() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
    Ok(removed)
}

/// Temporary files (`.<name>.<pid>-<n>.tmp`, written before an atomic rename) left
/// under `_flowlake/` on local disk by killed processes are removed once their
/// process is gone (checked on this host) or they are older than this.
pub const STALE_TEMP_SECS: u64 = 3600;

/// Removes the temporary files that killed runs left in the table's metadata
/// folders on local disk (S3 has none: an unfinished upload is never visible).
/// Staging folders are left to [`remove_stale_staging`]. Returns the files removed.
pub fn remove_stale_temporaries(root: &Location) -> u64 {
    fn walk(dir: &std::path::Path, removed: &mut u64) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let (path, name) = (e.path(), e.file_name().to_string_lossy().into_owned());
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                if name != "staging" {
                    walk(&path, removed);
                }
            } else if name.starts_with('.') && name.ends_with(".tmp") && stale_temp(&name, &md) {
                *removed += u64::from(std::fs::remove_file(&path).is_ok());
            }
        }
    }
    let mut removed = 0;
    if let Some(p) = root.as_local() {
        walk(&p.join("_flowlake"), &mut removed);
    }
    removed
}

fn stale_temp(name: &str, md: &std::fs::Metadata) -> bool {
    let age = md.modified().ok().and_then(|t| t.elapsed().ok()).map_or(0, |d| d.as_secs());
    if age > STALE_TEMP_SECS {
        return true;
    }
    // `.<name>.<pid>-<n>.tmp`: gone once no process of that id runs here.
    let pid = name.trim_end_matches(".tmp").rsplit('.').next().and_then(|s| s.split('-').next());
    match pid.and_then(|p| p.parse::<u32>().ok()) {
        Some(pid) if cfg!(target_os = "linux") => {
            pid != std::process::id() && !std::path::Path::new("/proc").join(pid.to_string()).exists()
        }
        _ => false,
    }
}

/// The start time (Unix seconds) in a run id `YYYYMMDDTHHMMSSZ-…`.
fn run_started(run: &str) -> Option<i64> {
    let t = run.get(..16)?;
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    if t.as_bytes()[8] != b'T' || t.as_bytes()[15] != b'Z' {
        return None;
    }
    let day = crate::partition::days_from_civil(num(0..4)?, num(4..6)? as u32, num(6..8)? as u32);
    Some(day * 86_400 + num(9..11)? * 3600 + num(11..13)? * 60 + num(13..15)?)
}

/// The path below `staging_root` of a staged file (the same path it takes below the table root).
pub fn staged_rel(staging_root: &Location, staged: &Location) -> String {
    let (base, key) = (staging_root.key_path(), staged.key_path());
    key.strip_prefix(base.trim_end_matches('/')).unwrap_or(&key).trim_start_matches('/').to_string()
}

/// Commits `run` (its manifest) and moves its staged files into place: after
/// the commit they are part of the table, whatever happens to this process.
pub fn publish(storage: &dyn Storage, root: &Location, run: &RunManifest, staged: &[(Location, String)]) -> Result<()> {
    commit(storage, root, run)?;
    let staging = run.staging.as_deref().map(|s| root.join(s));
    match &staging {
        Some(staging) if !run.replaces_files.is_empty() => {
            let mut parts: BTreeMap<String, Vec<Location>> = BTreeMap::new();
            for (from, rel) in staged {
                let part = rel.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
                parts.entry(part).or_default().push(from.clone());
            }
            for (part, objects) in parts {
                place_partition(storage, root, run, staging, &part, &objects)?;
            }
        }
        _ => {
            for (from, rel) in staged {
                storage.rename(from, &root.join(rel))?;
            }
        }
    }
    if let Some(dir) = staging.as_ref().and_then(|s| s.as_local().map(|p| p.to_path_buf())) {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

/// Writes a run's manifest (after its files are committed: this makes them part of the table).
pub fn commit(storage: &dyn Storage, root: &Location, run: &RunManifest) -> Result<Location> {
    let loc = dir(root).join(&format!("{}.json", run.run_id));
    storage.put(&loc, &serde_json::to_vec_pretty(run).expect("manifest serializes"))?;
    Ok(loc)
}

/// The entry for an input.
pub fn entry(input: &InputFile, rows: u64, partitions: Vec<String>) -> InputEntry {
    InputEntry {
        location: input.location().to_string(),
        size: input.meta.size,
        version: input.meta.version.clone(),
        rows,
        partitions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LocalStorage;

    /// A compaction's partition swap, finished by the next run wherever a crash cut it:
    /// before the swap, and after it with the old files (and a late arrival) in staging.
    #[test]
    fn a_compaction_swap_is_finished_after_a_crash() {
        let names = |d: &std::path::Path| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .map(|r| r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            v.sort();
            v
        };
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
            let run = RunManifest {
                run_id: "R".into(),
                shard: None,
                inputs: Vec::new(),
                files: vec!["date=2023-08-01/new.parquet".into()],
                staging: Some("_flowlake/staging/R".into()),
                replaces: Vec::new(),
                replaces_files: vec!["date=2023-08-01/old1.parquet".into(), "date=2023-08-01/old2.parquet".into()],
                sequence: 1,
            };
            commit(&s, &root, &run).unwrap();
            let m = Manifest::load(&s, &root).unwrap();
            roll_forward(&s, &root, &m).unwrap();
            assert_eq!(names(&part), ["late.parquet", "new.parquet"], "swapped before the crash: {swapped}");
            assert!(names(&staged).is_empty(), "swapped before the crash: {swapped}");
        }
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
        assert!(young.as_local().unwrap().exists(), "a younger run may still be going");
    }
}
