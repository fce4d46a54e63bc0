//! `flowlake generate`: sample flow logs in the S3 delivery layout.

use super::*;
use flowlake::generate;

#[derive(Args, Debug)]
pub(super) struct GenerateArgs {
    /// Output folder.
    #[arg(value_name = "OUT")]
    out: PathBuf,
    /// Number of records.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Number of days.
    #[arg(long, default_value_t = 3)]
    days: u32,
    /// Record format: default, v3, v4, v5, all (every field of versions 2–8),
    /// or a format string ('${version} ${srcaddr} …').
    #[arg(long, default_value = "default")]
    format: String,
    /// Random seed; the same seed writes the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First day (YYYY-MM-DD).
    #[arg(long, default_value = "2023-08-01")]
    start_date: String,
    /// Files per day (AWS delivers one at least every 5 minutes per flow log).
    #[arg(long, default_value_t = 96)]
    files_per_day: u32,
    /// Also write lookup tables that match the traffic, for `convert --enrich`:
    /// OUT/_lookup/ip-ranges.json (shaped and sized as AWS's) and
    /// OUT/_lookup/network-interfaces.json (as `aws ec2 describe-network-interfaces` prints it).
    #[arg(long)]
    lookup_tables: bool,
    /// Print what was generated as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub(super) fn generate_cmd(a: GenerateArgs) -> Result<u8> {
    let mut o = GenerateOptions::new(&a.out, a.records, a.days);
    o.format = generate::format_preset(&a.format)?;
    o.seed = a.seed;
    o.start_date = a.start_date;
    o.files_per_day = a.files_per_day;
    o.lookup_tables = a.lookup_tables;
    let s = generate::generate(&o)?;
    if a.json {
        print_json(&s)?;
    } else {
        errln!(
            "flowlake: wrote {} records in {} files ({}) under {}, days {}",
            s.records,
            s.files,
            human_bytes(s.bytes),
            s.out,
            s.days.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(0)
}
