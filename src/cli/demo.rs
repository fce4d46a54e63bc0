//! `flowlake demo`: a sample, converted, and what the table holds.

use super::convert::{Bar, exit_code, summary};
use super::*;
use crate::cli::out::counted;
use flowlake::generate;

#[derive(Args, Debug)]
pub(super) struct DemoArgs {
    /// Folder for the sample (DIR/sample) and the table (DIR/lake).
    #[arg(long, default_value = "demo")]
    dir: PathBuf,
    /// Records to generate.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
}

pub(super) fn demo(a: DemoArgs) -> Result<u8> {
    let sample = a.dir.join("sample");
    let lake = a.dir.join("lake");
    // Only what an earlier demo made is deleted: a folder without its mark is someone's data.
    const MARK: &str = ".flowlake-demo";
    for p in [&sample, &lake] {
        if p.exists() && !p.join(MARK).exists() {
            return Err(Error::Usage(format!(
                "{} exists and was not made by `flowlake demo`: give another --dir (nothing was deleted)",
                p.display()
            )));
        }
    }
    for p in [&sample, &lake] {
        let at = Location::Local(p.clone());
        LocalStorage.remove_folder(&at)?;
        LocalStorage.put(&at.join(MARK), b"made by `flowlake demo`, which replaces this folder when run again\n")?;
    }
    errln!("flowlake demo: generating {} records over 3 days into {} …", a.records, sample.display());
    let mut o = GenerateOptions::new(&sample, a.records, 3);
    o.format = generate::format_preset("v5")?;
    let g = generate::generate(&o)?;
    errln!("  {} gzip files, {}", g.files, human_bytes(g.bytes));
    errln!("flowlake demo: converting into {} …", lake.display());
    let opts = ConvertOptions::new(vec![Location::Local(sample.clone())], Location::Local(lake.clone()));
    let bar = Bar::new(true);
    let r = conversion::convert(&opts, &bar)?;
    out::err(format_args!("{}", summary(&r)));
    outln!("\nThe Parquet table is in {}:", lake.display())?;
    for (p, s) in &r.partitions {
        outln!("  {p}/  {} in {}, {}", counted(s.rows, "row"), counted(s.files, "file"), human_bytes(s.bytes))?;
    }
    outln!("\ncolumns: {}", r.columns.join(", "))?;
    outln!(
        "\nrows in = written + rejected: {} = {} + {}  (gzip text {} -> Parquet {})",
        r.rows_in,
        r.rows_written,
        r.rows_rejected,
        human_bytes(r.bytes_in),
        human_bytes(r.bytes_written)
    )?;
    outln!(
        "Next (the binary is target/release/flowlake): flowlake schema {}  |  flowlake ddl {}  |  flowlake ddl {} --queries",
        sample.display(),
        lake.display(),
        lake.display()
    )?;
    #[cfg(feature = "query")]
    outln!(
        "Ask it: flowlake top {0}  |  flowlake private-cidrs {0}  |  flowlake sources {0} --outside 10.192.0.0/16  |  \
         flowlake find {0} --ip 10.192.0.4 --limit 20",
        lake.display()
    )?;
    Ok(exit_code(&r))
}
