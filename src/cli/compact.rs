//! `flowlake compact`: rewrite partitions of small files into target-sized ones.

use super::*;

#[derive(Args, Debug)]
pub(super) struct CompactArgs {
    /// The table `convert` wrote.
    #[arg(value_name = "TABLE")]
    table_root: String,
    /// Only partitions on or after this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Only partitions on or before this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// Compact a partition only when it has at least this many files.
    #[arg(long, default_value_t = 2, value_name = "N")]
    min_files: usize,
    /// Fold the table's commits into one checkpoint once this many are not covered by one
    /// (as `convert --checkpoint-every`); 0 never folds.
    #[arg(long, default_value_t = flowlake::table::log::checkpoint::DEFAULT_EVERY, value_name = "RUNS")]
    checkpoint_every: usize,
    /// Size of the new files.
    #[arg(long, default_value = "256MiB", value_name = "SIZE")]
    target_file_size: String,
    /// Parquet compression of the new files.
    #[arg(long, default_value_t = Compression::default().to_string(), value_name = "CODEC")]
    compression: String,
    /// Print what was done as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    s3: S3Args,
}

pub(super) fn compact_cmd(a: CompactArgs) -> Result<u8> {
    let day = |s: &Option<String>, flag: &str| -> Result<Option<i64>> {
        s.as_deref()
            .map(|d| parse_day(d).ok_or_else(|| Error::Usage(format!("invalid {flag} `{d}`: expected YYYY-MM-DD"))))
            .transpose()
    };
    let opts = flowlake::compact::CompactOptions {
        output: Location::parse(&a.table_root)?,
        storage: a.s3.options(),
        parquet: ParquetOptions {
            compression: a.compression.parse::<Compression>()?,
            target_file_size: nonzero_size(&a.target_file_size, "--target-file-size")?,
            ..ParquetOptions::default()
        },
        from: day(&a.from, "--from")?,
        to: day(&a.to, "--to")?,
        min_files: a.min_files,
        checkpoint_every: a.checkpoint_every,
    };
    let r = flowlake::compact::compact(&opts)?;
    if a.json {
        print_json(&r)?;
    } else {
        errln!(
            "flowlake: compacted {} partitions: {} files into {}, {} rows",
            r.partitions,
            r.files_before,
            r.files_after,
            r.rows
        );
        for e in &r.after_commit_errors {
            errln!("  error after the commit: {e}");
        }
        if r.files_not_in_log > 0 {
            errln!(
                "  {} Parquet files no commit names were left alone (flowlake verify lists them)",
                r.files_not_in_log
            );
        }
        for w in &r.warnings {
            errln!("  warning: {w}");
        }
    }
    // As for convert: a step after the commit that failed is exit 1 (the rows are committed).
    Ok(u8::from(!r.after_commit_errors.is_empty()))
}
