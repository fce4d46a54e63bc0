//! The plan stage: find the inputs under every root (each once), keep a shard's share,
//! and decide from the table's log what to convert: new inputs, changed ones, and the
//! partitions rebuilt because of them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::source::{self, FileSelector, InputFile, InputFilter, Shard};
use crate::storage::{self, Location, Storage, StorageOptions};
use crate::table::log::{Manifest, Seen};

use super::ConvertOptions;
use super::scan::AsRecorded;

/// An input with the storage that reads it.
pub(super) type Input = (Arc<dyn Storage>, InputFile);

/// The inputs under every root, each once, with the storage that reads it.
pub(super) struct Inputs {
    pub files: Vec<Input>,
    /// Entries that could not be taken as inputs, with why.
    pub unreadable: Vec<(String, String)>,
    /// What discovery noticed and mended (inputs named twice).
    pub notes: Vec<String>,
}

pub(super) fn discover_all(
    roots: &[Location],
    globs: &[String],
    opts: &StorageOptions,
    filter: &InputFilter,
) -> Result<Inputs> {
    let selector = FileSelector::new(globs)?;
    let mut out = Inputs { files: Vec::new(), unreadable: Vec::new(), notes: Vec::new() };
    // Roots of one store are discovered together, so that overlapping ones give each input once.
    let (local, remote): (Vec<Location>, Vec<Location>) = roots.iter().cloned().partition(|r| !r.is_remote());
    for group in [local, remote].into_iter().filter(|g| !g.is_empty()) {
        let st = storage::storage_for(&group[0], opts)?;
        let found = source::discover_filtered(st.as_ref(), &group, &selector, filter)?;
        out.files.extend(found.files.into_iter().map(|f| (st.clone(), f)));
        out.unreadable.extend(found.unreadable);
        out.notes.extend(found.notes);
    }
    Ok(out)
}

/// Keeps the inputs `shard` owns (all without one); returns how many were listed.
pub(super) fn keep_shard(inputs: &mut Vec<Input>, shard: Option<Shard>) -> u64 {
    let listed = inputs.len() as u64;
    if let Some(shard) = shard {
        inputs.retain(|(_, f)| shard.owns(f));
    }
    listed
}

/// Partitions rebuilt because inputs that wrote to them changed.
pub(super) struct Rebuild {
    pub partitions: HashSet<String>,
    /// Unchanged inputs (by key) read again because they wrote to those partitions: they
    /// contribute only rows of those partitions (changed and new inputs contribute all their rows).
    pub reread: HashSet<String>,
}

/// What a run converts, decided from the inputs found and the table's log.
pub(super) struct Planned {
    /// The inputs to read: new ones, changed ones, and those read again to rebuild partitions.
    pub inputs: Vec<Input>,
    /// Input key → the location the table records it under, where it records it.
    pub records: HashMap<String, String>,
    pub files_skipped: u64,
    pub rebuild: Option<Rebuild>,
    /// Runs this one replaces (`--full-refresh`).
    pub replaces: Vec<String>,
    /// Files this one replaces (the rebuilt partitions' files).
    pub replaces_files: Vec<String>,
    /// Unchanged inputs read again for a rebuild, by key: how their runs read them (the
    /// options of this run apply to the inputs it reads for the first time or that changed).
    pub as_recorded: HashMap<String, AsRecorded>,
}

/// Decides what to convert: inputs the table records unchanged are skipped; a changed one
/// replaces its earlier rows, so the partitions it wrote to are rebuilt from every input
/// that wrote to them (their other rows are already in place and left alone), and the
/// files the table records in those partitions are replaced.
pub(super) fn plan_inputs(opts: &ConvertOptions, manifest: &Manifest, inputs: Vec<Input>) -> Result<Planned> {
    let replaces = if opts.full_refresh { manifest.run_ids() } else { Vec::new() };
    let mut records: HashMap<String, String> = HashMap::new();
    let mut seen = Vec::with_capacity(inputs.len());
    for (st, f) in &inputs {
        let record = if opts.full_refresh { None } else { manifest.record_of(st.as_ref(), f)? };
        seen.push(manifest.seen(record.as_deref(), f));
        if let Some(r) = record {
            records.insert(f.key.clone(), r);
        }
    }
    let changed: Vec<(&InputFile, &String)> = inputs
        .iter()
        .zip(&seen)
        .filter_map(|((_, f), s)| match s {
            Seen::Changed(run) => Some((f, run)),
            _ => None,
        })
        .collect();
    let (rebuild, replaces_files, again) = if changed.is_empty() && opts.rebuild.is_empty() {
        (None, Vec::new(), HashSet::new())
    } else {
        plan_rebuild(opts, manifest, &records, &changed)?
    };
    let mut files_skipped = 0u64;
    let mut seen = seen.into_iter();
    let mut inputs = inputs;
    inputs.retain(|(_, f)| match seen.next().expect("one per input") {
        Seen::New | Seen::Changed(_) => true,
        Seen::Done if again.contains(&f.key) => true,
        Seen::Done => {
            files_skipped += 1;
            false
        }
    });
    let mut as_recorded = HashMap::new();
    for key in rebuild.iter().flat_map(|r| &r.reread) {
        if let Some(read_as) = records.get(key).and_then(|r| manifest.read_as(r)) {
            as_recorded.insert(key.clone(), AsRecorded::of(&records[key], read_as)?);
        }
    }
    Ok(Planned { inputs, records, files_skipped, rebuild, replaces, replaces_files, as_recorded })
}

/// The partitions to rebuild (those changed inputs wrote to, and those asked for), the
/// files the table records there (replaced), and the keys of the inputs to read again
/// for them: every input the log says wrote to them must be among this run's.
fn plan_rebuild(
    opts: &ConvertOptions,
    manifest: &Manifest,
    records: &HashMap<String, String>,
    changed: &[(&InputFile, &String)],
) -> Result<(Option<Rebuild>, Vec<String>, HashSet<String>)> {
    let mut parts: BTreeSet<String> = opts.rebuild.iter().cloned().collect();
    for (f, run) in changed {
        let p = manifest.partitions_of(&records[&f.key]).ok_or_else(|| {
            Error::Refused(format!(
                "{} changed since run {run} converted it, and that run did not record where its rows went \
                 (an older flowlake): run again with --full-refresh",
                f.location()
            ))
        })?;
        parts.extend(p.iter().cloned());
    }
    // Record → the input listed now that it is.
    let listed_now: HashMap<&str, &str> = records.iter().map(|(k, r)| (r.as_str(), k.as_str())).collect();
    let mut again: HashSet<String> = HashSet::new();
    for rec in manifest.inputs_writing_to(&parts) {
        let Some(key) = listed_now.get(rec.as_str()) else {
            let why = match changed.first() {
                Some((f, _)) => format!("{} changed, so", f.location()),
                None => "to repair them,".to_string(),
            };
            return Err(Error::Refused(format!(
                "{why} partitions {} are rebuilt, but {rec}, which also wrote to them, is not among \
                 this run's inputs (moved, deleted or filtered out): include it, or run with --full-refresh",
                parts.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        };
        again.insert(key.to_string());
    }
    // The files the table records there (a file the log does not know is no one's to delete).
    let replaces_files = manifest
        .live_files()
        .into_keys()
        .filter(|f| f.rsplit_once('/').is_some_and(|(d, _)| parts.contains(d)))
        .collect();
    let changed: HashSet<&str> = changed.iter().map(|(f, _)| f.key.as_str()).collect();
    let rebuild = Rebuild {
        partitions: parts.into_iter().collect(),
        reread: again.iter().filter(|k| !changed.contains(k.as_str())).cloned().collect(),
    };
    Ok((Some(rebuild), replaces_files, again))
}
