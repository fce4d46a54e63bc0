//! `flowlake verify`: does the table hold what its commits say, and nothing else?
//!
//! Every file the log names as part of the table must be there, with the size and row
//! count its run recorded (read from its footer); no other Parquet file may sit in the
//! partitions; no committed run may have files still staged; no run that can no longer
//! commit may have left a staging folder behind. Each problem is one line. `--repair`
//! mends them under the same commit protocol as a conversion: committed files still
//! staged are moved into place, partitions with missing or changed files are rebuilt
//! from the inputs that wrote to them (read again; the partition's files replaced), and
//! stray files and leftover staging folders are removed.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;

use crate::convert::{ConvertOptions, NoProgress, convert};
use crate::error::{Error, Result};
use crate::report::RunReport;
use crate::storage::{self, Location, Storage, StorageOptions};
use crate::table::log::{self, Manifest};
use crate::table::{Transaction, paths};

/// What to verify.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// The table root.
    pub root: Location,
    /// How to reach S3 (the table's and its inputs').
    pub storage: StorageOptions,
    /// Mend what can be mended.
    pub repair: bool,
    /// The lookup tables a repair's rebuilt partitions are enriched with (`--enrich`): a
    /// table whose runs used some needs them again (see [`ConvertOptions::with_enrich`]).
    pub enrich: Vec<crate::enrich::EnrichSpec>,
    /// Rebuild without lookup tables the table's runs used (their columns stay empty in
    /// the rebuilt rows).
    pub allow_unenriched: bool,
}

impl VerifyOptions {
    /// Checks the table at `root`, reaching S3 by the default chain, without repairing.
    pub fn new(root: Location) -> VerifyOptions {
        VerifyOptions {
            root,
            storage: StorageOptions::default(),
            repair: false,
            enrich: Vec::new(),
            allow_unenriched: false,
        }
    }
}

/// One thing wrong with the table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `missing`, `changed`, `unreadable`, `stray`, `link`, `unpublished`, `leftover`.
    pub kind: &'static str,
    /// The file or folder, relative to the table root.
    pub path: String,
    /// One sentence: what is wrong and what mends it.
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.kind, self.path, self.detail)
    }
}

/// What `verify` found (and, with `repair`, did).
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    /// Files the commits name as part of the table.
    pub files_expected: u64,
    /// Rows in them, as their runs recorded (where they did).
    pub rows_expected: u64,
    /// Everything wrong, one per file or folder.
    pub problems: Vec<Problem>,
    /// Things worth knowing that are not problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// With `repair`: the run that rebuilt partitions, if one was needed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repair_run: Option<RunReport>,
    /// With `repair`: problems mended.
    pub repaired: u64,
}

/// Checks the table at `opts.root` against its commits; with `opts.repair`, mends it.
pub fn verify(opts: &VerifyOptions) -> Result<VerifyReport> {
    let st = storage::storage_for(&opts.root, &opts.storage)?;
    let root = &opts.root;
    // Listed before the log is read: a file a run moved into place after its commit is then
    // always known to the log read here (a commit precedes its files' moves).
    let listed = match st.list(root) {
        Ok(l) => l,
        Err(e) if e.is_not_found() => {
            return Err(Error::NotFound(format!("{root} does not exist")));
        }
        Err(e) => return Err(e),
    };
    let m = Manifest::load(st.as_ref(), root)?;
    let mut rep = VerifyReport::default();
    let live = m.live_files();
    rep.files_expected = live.len() as u64;
    rep.rows_expected = live.values().flatten().map(|s| s.rows).sum();
    let present: BTreeMap<String, u64> = listed
        .iter()
        .filter(|o| o.location.key_path().ends_with(".parquet"))
        .filter_map(|o| Some((paths::relative(root, &o.location)?, o.size)))
        .collect();
    if !m.knows_every_file() {
        rep.notes.push(
            "the table was written by flowlake 0.1, which kept no record of the files its compactions deleted: \
             missing files are looked for once a run of this version has committed to it"
                .to_string(),
        );
    }
    // A file still in its committed run's staging folder is not missing: it is unpublished.
    let staged = m.staged_files(st.as_ref(), root)?;
    let rebuild = check_logged_files(st.as_ref(), root, &live, (&present, &staged), m.knows_every_file(), &mut rep);
    let left = check_leftovers(st.as_ref(), root, &m, &live, &present, &mut rep)?;
    if !opts.repair || rep.problems.is_empty() {
        return Ok(rep);
    }
    if !left.links.is_empty() {
        // A rebuild would write through a linked folder, outside the table.
        return Err(Error::Refused(format!(
            "the table holds symbolic links ({}): nothing was repaired; replace each with what it points to, \
             or remove it, then run verify --repair again",
            left.links.join(", ")
        )));
    }
    repair(opts, &m, &mut rep, &left.strays, rebuild)?;
    Ok(rep)
}

/// What lies in the table besides the files its log names that a repair deals with
/// itself: strays, and links (which stop a repair). Files of committed runs not yet moved
/// into place and staging folders of killed runs are problems in the report too; a repair
/// tidies them as every transaction does.
struct Leftovers {
    strays: Vec<String>,
    links: Vec<String>,
}

/// Finds what lies in the table besides its log's files, each a problem in `rep`.
fn check_leftovers(
    storage: &dyn Storage,
    root: &Location,
    m: &Manifest,
    live: &BTreeMap<String, Option<log::FileStats>>,
    present: &BTreeMap<String, u64>,
    rep: &mut VerifyReport,
) -> Result<Leftovers> {
    let strays: Vec<String> = present.keys().filter(|p| !live.contains_key(*p)).cloned().collect();
    for s in &strays {
        rep.problems.push(problem(
            "stray",
            s,
            "no commit names it (copied in by hand, or written outside flowlake): queries read its rows \
             as the table's; `flowlake verify --repair` removes it",
        ));
    }
    let links: Vec<String> =
        storage.links(root)?.iter().map(|l| paths::relative(root, l).unwrap_or_else(|| l.to_string())).collect();
    for l in &links {
        rep.problems.push(problem(
            "link",
            l,
            "a symbolic link inside the table: flowlake neither follows nor removes it (it could lead \
             anywhere), and queries do not read through it; replace it with what it points to, or remove it",
        ));
    }
    let unpublished = m.unpublished(storage, root)?;
    for (dir, n) in &unpublished {
        rep.problems.push(problem(
            "unpublished",
            dir,
            &format!(
                "a committed run left {n} files here, not yet moved into place: the next conversion moves them, as does \
                 `flowlake verify --repair`"
            ),
        ));
    }
    let stale = log::stale_staging(storage, root, m, crate::report::now_unix() as i64)?;
    for d in &stale {
        rep.problems.push(problem(
            "leftover",
            &paths::relative(root, d).unwrap_or_else(|| d.to_string()),
            &format!(
                "staged files of a run that never committed and started over {} hours ago (killed): \
                 `flowlake verify --repair` removes them",
                log::STALE_STAGING_SECS / 3600
            ),
        ));
    }
    Ok(Leftovers { strays, links })
}

fn problem(kind: &'static str, path: &str, detail: &str) -> Problem {
    Problem { kind, path: path.to_string(), detail: detail.to_string() }
}

/// Checks every file the log names against what is `present` (relative path → size): there
/// (when the log `knows` every file), or still `staged` by its committed run, of the size its run recorded, holding the rows its
/// run recorded (from its footer). Returns the partitions to rebuild.
fn check_logged_files(
    st: &dyn crate::storage::Storage,
    root: &Location,
    live: &BTreeMap<String, Option<log::FileStats>>,
    (present, staged): (&BTreeMap<String, u64>, &HashSet<String>),
    knows: bool,
    rep: &mut VerifyReport,
) -> BTreeSet<String> {
    const REBUILDS: &str = "`flowlake verify --repair` rebuilds its partition from the inputs";
    let mut rebuild = BTreeSet::new();
    for (rel, stats) in live {
        let part = rel.rsplit_once('/').map_or("", |(d, _)| d).to_string();
        let Some(&size) = present.get(rel) else {
            if knows && !staged.contains(rel) {
                rep.problems.push(problem(
                    "missing",
                    rel,
                    &format!("a commit names it but it is not there, so its rows are missing: {REBUILDS}"),
                ));
                rebuild.insert(part);
            }
            continue;
        };
        let Some(stats) = stats else { continue };
        let detail = if size != stats.bytes {
            Some(format!("it is {size} bytes, where its run wrote {}", stats.bytes))
        } else {
            match crate::table::footer_rows(st, &root.join(rel), size) {
                Ok(rows) if rows == stats.rows => None,
                Ok(rows) => Some(format!("it holds {rows} rows, where its run wrote {}", stats.rows)),
                Err(e) => {
                    rep.problems.push(problem("unreadable", rel, &format!("{e}: {REBUILDS}")));
                    rebuild.insert(part);
                    continue;
                }
            }
        };
        if let Some(d) = detail {
            rep.problems.push(problem("changed", rel, &format!("{d}: {REBUILDS}")));
            rebuild.insert(part);
        }
    }
    rebuild
}

/// Mends what [`verify`] found.
fn repair(
    opts: &VerifyOptions,
    m: &Manifest,
    rep: &mut VerifyReport,
    strays: &[String],
    rebuild: BTreeSet<String>,
) -> Result<()> {
    let st = storage::storage_for(&opts.root, &opts.storage)?;
    let root = &opts.root;
    // Unpublished files and leftovers of killed runs: what every transaction tidies first.
    Transaction::tidy(st.as_ref(), root, crate::report::now_unix() as i64)?;
    // A stray is removed only if the log, read again now, still does not name it.
    let now_live = Manifest::load(st.as_ref(), root)?.live_files();
    for s in strays.iter().filter(|s| !now_live.contains_key(*s)) {
        st.delete(&root.join(s))?;
    }
    let mut mended: HashSet<&str> = HashSet::new();
    mended.extend(["stray", "unpublished", "leftover"]);
    if !rebuild.is_empty() {
        let inputs: Vec<Location> =
            m.inputs_writing_to(&rebuild).iter().map(|k| Location::from_identity(k)).collect::<Result<_>>()?;
        if inputs.is_empty() {
            return Err(Error::Failed(format!(
                "partitions {} have missing files, but the table records no input that wrote to them: \
                 nothing can be converted again",
                rebuild.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        // The inputs are read again as their runs read them (the log records how), into
        // the table's own layout (a conversion's default).
        let run = convert(
            &ConvertOptions::new(inputs, root.clone())
                .with_storage(opts.storage.clone())
                .with_rebuild(rebuild.into_iter().collect())
                .with_enrich(opts.enrich.clone())
                .with_allow_unenriched(opts.allow_unenriched),
            &NoProgress,
        )?;
        if run.commit.is_some() {
            mended.extend(["missing", "changed", "unreadable"]);
        }
        rep.repair_run = Some(run);
    }
    rep.repaired = rep.problems.iter().filter(|p| mended.contains(p.kind)).count() as u64;
    Ok(())
}
