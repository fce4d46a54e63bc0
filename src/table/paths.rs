//! Where a table keeps what is not its data, in one place: every `_flowlake/…` name
//! (hidden from Athena, Glue and Spark by its `_`), and the path of a file relative to
//! the table root.

use crate::storage::Location;

/// The table's metadata folder.
pub const META: &str = "_flowlake";
/// The commit log: `<sequence>.json`, twenty digits.
pub const LOG: &str = "_flowlake/log";
/// flowlake 0.1's manifests, one per run (read as the first commits).
pub const LEGACY_MANIFESTS: &str = "_flowlake/manifest";
/// Checkpoints folding the log.
pub const CHECKPOINTS: &str = "_flowlake/checkpoint";
/// Staging folders of changes in progress, one per change.
pub const STAGING: &str = "_flowlake/staging";
/// Rejects files of committed runs, one per run.
pub const REJECTS: &str = "_flowlake/rejects";
/// Run reports, one per run.
pub const RUNS: &str = "_flowlake/runs";
/// The DDL and named queries written after each conversion.
pub const DDL: &str = "_flowlake/ddl";

/// The staging folder of a change named `name` (its run id, with the shard), relative to the root.
pub fn staging_rel(name: &str) -> String {
    format!("{STAGING}/{name}")
}

/// A committed run's rejects file, relative to the root.
pub fn rejects_rel(run_id: &str) -> String {
    format!("{REJECTS}/{run_id}.tsv")
}

/// Where a run's report is stored.
pub fn report(root: &Location, run_id: &str) -> Location {
    root.join(&format!("{RUNS}/{run_id}.json"))
}

/// The path of `location` below `root` (`date=…/part-….parquet`), if it is below it.
pub fn relative(root: &Location, location: &Location) -> Option<String> {
    let (base, key) = (root.key_path(), location.key_path());
    let base = base.trim_end_matches('/');
    let rest = key.strip_prefix(base)?;
    (base.is_empty() || rest.starts_with('/') || rest.is_empty()).then(|| rest.trim_start_matches('/').to_string())
}

/// The path below `staging_root` of a staged file (the same path it takes below the table root).
pub fn staged_rel(staging_root: &Location, staged: &Location) -> String {
    relative(staging_root, staged).unwrap_or_else(|| staged.key_path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_stay_below_the_root() {
        let root = Location::parse("s3://b/lake").unwrap();
        let f = Location::parse("s3://b/lake/date=2023-08-01/part-1.parquet").unwrap();
        assert_eq!(relative(&root, &f).as_deref(), Some("date=2023-08-01/part-1.parquet"));
        assert_eq!(relative(&root, &Location::parse("s3://b/lakehouse/x.parquet").unwrap()), None);
        assert_eq!(relative(&root, &root).as_deref(), Some(""));
        let staging = root.join(&staging_rel("R"));
        assert_eq!(staged_rel(&staging, &staging.join("date=2023-08-01/a.parquet")), "date=2023-08-01/a.parquet");
        assert_eq!(report(&root, "R").to_string(), "s3://b/lake/_flowlake/runs/R.json");
        assert_eq!(rejects_rel("R"), "_flowlake/rejects/R.tsv");
    }
}
