//! One change to a table, all or nothing.
//!
//! A transaction begins from the table's log as it is, after finishing what interrupted
//! changes committed (staged files moved into place, replaced files deleted) and removing
//! what killed ones left (stale staging folders and temporaries). Its new files, and its
//! rejects file, are written under its own hidden staging folder. [`Transaction::commit`]
//! takes the first free place in the log with put-if-absent; it loses to an earlier
//! commit that did part of the same work ([`Conflict`]), and then nothing of it is kept.
//! Once committed, the files move into place and what the change replaces is deleted;
//! a failure there leaves the rows committed (the next transaction finishes the moves),
//! so it is reported in [`Committed::after_commit_errors`], not returned.

use std::sync::Arc;

use crate::error::Result;
use crate::storage::{Location, Storage};
use crate::table::log::{self, Conflict, Manifest, RunManifest, checkpoint};
use crate::table::paths;

/// A change to the table at one root, begun and not yet committed or given up. A
/// transaction dropped without either leaves its staging folder, which the first
/// transaction to begin after it is stale removes.
#[must_use = "a transaction is committed or aborted"]
pub struct Transaction {
    storage: Arc<dyn Storage>,
    root: Location,
    log: Manifest,
    staging_rel: String,
    keep_enrichment: bool,
}

/// What a transaction staged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Staged {
    /// The new files, each below [`Transaction::staging`] at the path it takes below the
    /// table root.
    pub files: Vec<Location>,
    /// Whether a rejects file was written at [`Transaction::staged_rejects`].
    pub rejects: bool,
}

/// What a committed transaction did after its commit point.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Committed {
    /// The commit's place in the log.
    pub sequence: u64,
    /// Where its rejects file is published, if it has one.
    pub rejects: Option<Location>,
    /// Steps after the commit that failed (the rows are committed; the next change to the
    /// table finishes them).
    pub after_commit_errors: Vec<String>,
    /// Shortcuts that were not taken (a checkpoint not written); nothing is missing.
    pub warnings: Vec<String>,
}

impl Transaction {
    /// Begins a change to the table at `root`, staged under `_flowlake/staging/<name>`
    /// (`name` is unique to the change: its run id, with the shard). `now`: Unix seconds,
    /// to tell killed changes' staging folders from those of changes still going.
    pub fn begin(storage: Arc<dyn Storage>, root: &Location, name: &str, now: i64) -> Result<Transaction> {
        let log = Transaction::tidy(storage.as_ref(), root, now)?;
        Ok(Transaction {
            storage,
            root: root.clone(),
            log,
            staging_rel: paths::staging_rel(name),
            keep_enrichment: false,
        })
    }

    /// Makes the commit lose to one that beat it and enriched its rows with lookup tables
    /// (`--enrich` kinds) this change's commit does not name: a run checked against the
    /// log it began from would otherwise add rows with those columns empty to a table that
    /// holds them by now.
    pub fn keep_enrichment(&mut self) {
        self.keep_enrichment = true;
    }

    /// What every transaction does first, alone (`verify --repair`): finishes what
    /// interrupted changes committed (staged files moved into place, replaced files
    /// deleted) and removes what killed ones left (staging folders of changes that never
    /// committed, older than [`log::STALE_STAGING_SECS`] at `now`, and stale temporaries).
    /// Returns the log as it was read.
    pub fn tidy(storage: &dyn Storage, root: &Location, now: i64) -> Result<Manifest> {
        let log = Manifest::load(storage, root)?;
        log::roll_forward(storage, root, &log)?;
        log::remove_stale_staging(storage, root, &log, now)?;
        log::remove_stale_temporaries(storage, root)?;
        log::finish_replacements(storage, root, &log)?;
        Ok(log)
    }

    /// The table's log as it was when the transaction began.
    pub fn log(&self) -> &Manifest {
        &self.log
    }

    /// The staging folder: new files go below it, at the path they take below the table root.
    pub fn staging(&self) -> Location {
        self.root.join(&self.staging_rel)
    }

    /// Where the change's rejects file is written until it is published.
    pub fn staged_rejects(&self) -> Location {
        self.staging().join(log::STAGED_REJECTS)
    }

    /// The path below the table root that a file staged at `staged` takes.
    pub fn target_of(&self, staged: &Location) -> String {
        paths::staged_rel(&self.staging(), staged)
    }

    /// Commits `run` with what was `staged`: the transaction fills in the commit's files,
    /// rejects file, staging folder, baseline and sequence (what the caller put there is
    /// replaced). Then publishes, deletes what it replaces and, when `checkpoint_every`
    /// commits are not covered by a checkpoint, folds the log. On a conflict the staged
    /// files and rejects are removed and nothing is written.
    pub fn commit(
        self,
        mut run: RunManifest,
        staged: &Staged,
        checkpoint_every: usize,
    ) -> Result<std::result::Result<Committed, Conflict>> {
        let st = self.storage.as_ref();
        run.files = staged.files.iter().map(|l| self.target_of(l)).collect();
        run.rejects = staged.rejects.then(|| paths::rejects_rel(&run.run_id));
        run.staging = Some(self.staging_rel.clone());
        run.baseline = log::baseline_if_first(st, &self.root, &self.log)?;
        let sequence = match log::commit_in_order(st, &self.root, &self.log, &mut run, self.keep_enrichment)? {
            Ok(sequence) => sequence,
            Err(conflict) => {
                self.discard(&staged.files, true)?;
                return Ok(Err(conflict));
            }
        };
        // The commit point: from here on the change is part of the table, whatever fails.
        let rejects = run.rejects.as_ref().map(|r| self.root.join(r));
        let mut done = Committed { sequence, rejects, ..Committed::default() };
        let moves: Vec<(Location, String)> = staged.files.iter().cloned().zip(run.files.iter().cloned()).collect();
        if let Err(e) = log::publish(st, &self.root, &run, &moves) {
            done.after_commit_errors.push(format!(
                "the files were committed but not all moved into place ({e}); the next run into the table moves them"
            ));
            return Ok(Ok(done));
        }
        if let Err(e) = log::replace(st, &self.root, &self.log, &run) {
            done.after_commit_errors.push(format!(
                "the files this run replaces were not all deleted ({e}); the next run into the table deletes them"
            ));
        }
        // Keeps opening the table cheap however many changes it has had; only a shortcut.
        // (Reloading the log is skipped unless this commit can make a fold due.)
        let due = checkpoint_every > 0 && self.log.uncovered_runs() + 1 >= checkpoint_every;
        if due && let Err(e) = checkpoint::fold_if_due(st, &self.root, checkpoint_every) {
            done.warnings.push(format!("the manifest checkpoint was not written ({e}); the next run tries again"));
        }
        Ok(Ok(done))
    }

    /// Gives the change up: its staged files are removed. With `keep_rejects` its staged
    /// rejects file stays, for the user to read (it is never published, and goes with the
    /// staging folder once that is stale).
    pub fn abort(self, staged: &[Location], keep_rejects: bool) -> Result<()> {
        self.discard(staged, !keep_rejects)
    }

    fn discard(&self, staged: &[Location], delete_rejects: bool) -> Result<()> {
        let st = self.storage.as_ref();
        for f in staged {
            st.delete(f)?;
        }
        if delete_rejects
            && let Err(e) = st.delete(&self.staged_rejects())
            && !e.is_not_found()
        {
            return Err(e);
        }
        st.remove_empty_dirs(&self.staging())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LocalStorage;
    use crate::table::log::FileStats;

    fn run(id: &str, files: &[&str], replaces_files: &[&str]) -> RunManifest {
        RunManifest {
            run_id: id.into(),
            files: files.iter().map(|f| f.to_string()).collect(),
            file_stats: files.iter().map(|_| FileStats { rows: 1, bytes: 3 }).collect(),
            replaces_files: replaces_files.iter().map(|f| f.to_string()).collect(),
            ..RunManifest::default()
        }
    }

    fn stage(tx: &Transaction, rel: &str, body: &[u8]) -> Location {
        let at = tx.staging().join(rel);
        LocalStorage.put(&at, body).unwrap();
        at
    }

    /// Begin, stage, commit: the files move into place, the replaced ones go, the staging
    /// folder is gone, and the log holds one commit per transaction, in order.
    #[test]
    fn a_committed_transaction_publishes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::Local(dir.path().to_path_buf());
        let st: Arc<dyn Storage> = Arc::new(LocalStorage);
        let tx = Transaction::begin(st.clone(), &root, "A", 0).unwrap();
        let a = stage(&tx, "date=2023-08-01/a.parquet", b"aaa");
        let target = tx.target_of(&a);
        assert_eq!(target, "date=2023-08-01/a.parquet");
        let done = tx.commit(run("A", &[], &[]), &Staged { files: vec![a], rejects: false }, 32).unwrap().unwrap();
        assert_eq!((done.sequence, done.after_commit_errors.len(), done.rejects), (1, 0, None));
        assert_eq!(std::fs::read(dir.path().join(&target)).unwrap(), b"aaa");

        let tx = Transaction::begin(st.clone(), &root, "B", 0).unwrap();
        let b = stage(&tx, "date=2023-08-01/b.parquet", b"bbb");
        std::fs::write(tx.staged_rejects().as_local().unwrap(), "rejects of B").unwrap();
        let r = run("B", &["date=2023-08-01/b.parquet"], &[&target]);
        let done = tx.commit(r, &Staged { files: vec![b], rejects: true }, 32).unwrap().unwrap();
        assert_eq!(done.sequence, 2);
        assert_eq!(done.rejects, Some(root.join("_flowlake/rejects/B.tsv")));
        assert!(!dir.path().join(&target).exists(), "replaced");
        assert!(dir.path().join("date=2023-08-01/b.parquet").is_file());
        assert_eq!(std::fs::read_to_string(dir.path().join("_flowlake/rejects/B.tsv")).unwrap(), "rejects of B");
        assert!(!dir.path().join("_flowlake/staging/B").exists());
        let log = Manifest::load(st.as_ref(), &root).unwrap();
        assert_eq!(log.live_files().into_keys().collect::<Vec<_>>(), ["date=2023-08-01/b.parquet"]);
    }

    /// Two transactions begun from the same log that replace the same file: the second to
    /// commit loses, and nothing of it stays (files, rejects, staging folder).
    #[test]
    fn the_loser_of_a_conflict_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::Local(dir.path().to_path_buf());
        let st: Arc<dyn Storage> = Arc::new(LocalStorage);
        let tx = Transaction::begin(st.clone(), &root, "A", 0).unwrap();
        let a = stage(&tx, "date=2023-08-01/a.parquet", b"aaa");
        tx.commit(run("A", &[], &[]), &Staged { files: vec![a], rejects: false }, 32).unwrap().unwrap();
        let (one, two) = (
            Transaction::begin(st.clone(), &root, "B", 0).unwrap(),
            Transaction::begin(st.clone(), &root, "C", 0).unwrap(),
        );
        let (b, c) = (stage(&one, "date=2023-08-01/b.parquet", b"b"), stage(&two, "date=2023-08-01/c.parquet", b"c"));
        std::fs::write(two.staged_rejects().as_local().unwrap(), "rejects of C").unwrap();
        let replacing_a = |id: &str| run(id, &[], &["date=2023-08-01/a.parquet"]);
        one.commit(replacing_a("B"), &Staged { files: vec![b], rejects: false }, 32).unwrap().unwrap();
        let lost = two.commit(replacing_a("C"), &Staged { files: vec![c], rejects: true }, 32).unwrap().unwrap_err();
        assert_eq!(lost.run_id, "B");
        assert!(!dir.path().join("_flowlake/staging/C").exists(), "nothing of the loser is left");
        assert!(!dir.path().join("date=2023-08-01/c.parquet").exists());
        assert!(!dir.path().join("_flowlake/rejects").exists());
    }

    /// An aborted transaction keeps only its rejects when asked to; the next transaction
    /// does not publish them (no commit names them).
    #[test]
    fn an_aborted_transaction_keeps_only_its_rejects_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::Local(dir.path().to_path_buf());
        let st: Arc<dyn Storage> = Arc::new(LocalStorage);
        let tx = Transaction::begin(st.clone(), &root, "A", 0).unwrap();
        let a = stage(&tx, "date=2023-08-01/a.parquet", b"aaa");
        let rejects = tx.staged_rejects();
        std::fs::write(rejects.as_local().unwrap(), "why").unwrap();
        tx.abort(std::slice::from_ref(&a), true).unwrap();
        assert!(!a.as_local().unwrap().exists() && rejects.as_local().unwrap().is_file());
        let tx = Transaction::begin(st.clone(), &root, "B", 0).unwrap();
        assert!(rejects.as_local().unwrap().is_file(), "not stale yet, not published");
        tx.abort(&[], false).unwrap();
        assert!(!dir.path().join("_flowlake/rejects").exists());
    }
}
