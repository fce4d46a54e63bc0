//! `flowlake verify`: check a table against its commits, and mend it with `--repair`.

use super::*;
use crate::cli::out::counted;

#[derive(Args, Debug)]
pub(super) struct VerifyArgs {
    /// The table `convert` wrote.
    #[arg(value_name = "TABLE")]
    table_root: String,
    /// Mend what is wrong: move committed files still staged into place, rebuild partitions
    /// with missing or changed files from their inputs (read again), remove stray files and
    /// the staging folders of killed runs.
    #[arg(long)]
    repair: bool,
    /// Print the findings as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// With --repair, rebuild partitions without the lookup tables the table's runs used
    /// (give them with --enrich; without either, a repair of an enriched table is refused).
    #[arg(long)]
    allow_unenriched: bool,
    #[command(flatten)]
    enrich: EnrichArgs,
    #[command(flatten)]
    s3: S3Args,
}

pub(super) fn verify_cmd(a: VerifyArgs) -> Result<u8> {
    let opts = flowlake::verify::VerifyOptions {
        root: Location::parse(&a.table_root)?,
        storage: a.s3.options(),
        repair: a.repair,
        enrich: a.enrich.specs()?,
        allow_unenriched: a.allow_unenriched,
    };
    let r = flowlake::verify::verify(&opts)?;
    if a.json {
        print_json(&r)?;
    } else {
        for p in &r.problems {
            outln!("{p}")?;
        }
        for n in &r.notes {
            errln!("flowlake: note: {n}");
        }
        let rows = if r.rows_expected > 0 { format!(" ({})", counted(r.rows_expected, "row")) } else { String::new() };
        errln!(
            "flowlake: {} expected{rows}; {}{}",
            counted(r.files_expected, "file"),
            counted(r.problems.len() as u64, "problem"),
            if a.repair { format!(", {} mended", r.repaired) } else { String::new() }
        );
        if let Some(run) = &r.repair_run {
            errln!(
                "flowlake: the repair run {} rebuilt {}: {}",
                run.run_id,
                counted(run.partitions.len() as u64, "partition"),
                counted(run.rows_written, "row")
            );
        }
    }
    let unmended = r.problems.len() as u64 - r.repaired;
    Ok(if unmended == 0 && (a.repair || r.problems.is_empty()) { 0 } else { 1 })
}
