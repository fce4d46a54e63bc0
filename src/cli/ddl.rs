//! `flowlake ddl`: the DDL of a converted table or of the raw text logs, printed or written to a folder.

use super::*;
use flowlake::ddl;

#[derive(Args, Debug)]
pub(super) struct DdlArgs {
    /// The Parquet table `convert` wrote (its output folder).
    #[arg(value_name = "TABLE", required_unless_present = "raw")]
    table_root: Option<String>,
    /// Describe the raw gzip text logs under this location (…/AWSLogs/) instead of a Parquet table.
    #[arg(long, value_name = "LOCATION", conflicts_with = "table_root")]
    raw: Option<String>,
    /// With --raw: a flow-log file whose header names the columns (default: the first file found).
    #[arg(long, value_name = "FILE", requires = "raw")]
    from_header: Option<String>,
    /// athena (CREATE EXTERNAL TABLE with partition projection), glue-json (TableInput for
    /// `aws glue create-table --cli-input-json`) or spark (Spark SQL / Databricks).
    #[arg(long, default_value = "athena")]
    dialect: String,
    /// Print ALTER TABLE … ADD PARTITION for every partition present, instead of CREATE TABLE.
    #[arg(long)]
    partitions: bool,
    /// Print the named queries (for the chosen dialect) instead of the DDL.
    #[arg(long)]
    queries: bool,
    /// Write every DDL file and named query into this folder instead of printing.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    #[command(flatten)]
    names: DdlNames,
    #[command(flatten)]
    s3: S3Args,
}

pub(super) fn ddl_cmd(a: DdlArgs) -> Result<u8> {
    let dialect: Dialect = a.dialect.parse()?;
    let mut files: Vec<(String, String)> = Vec::new();
    if let Some(raw) = &a.raw {
        let root = Location::parse(raw)?;
        let s3 = a.s3.options();
        let storage = flowlake::storage::storage_for(&root, &s3)?;
        let header = a.from_header.as_deref().map(Location::parse).transpose()?;
        let spec = flowlake::table::read_raw_spec(storage.as_ref(), &root, header.as_ref(), &s3)?;
        let o = a.names.options(&root, "flow_logs_raw")?;
        let (from, to) = (
            spec.first_day.replace('/', "-"),
            spec.days.iter().map(|d| d.2.replace('/', "-")).max().unwrap_or_default(),
        );
        files.push(("athena-raw.sql".into(), ddl::raw_athena_create(&spec, &o)));
        files.push(("athena-raw-partitions.sql".into(), ddl::raw_add_partitions(&spec, &o)));
        files.push(("spark-raw.sql".into(), ddl::raw_spark_create(&spec, &o)));
        for nq in ddl::named_queries(QueryTarget::AthenaRaw, &o, &from, &to)? {
            files.push((format!("queries/athena-raw/{}", nq.name), nq.sql));
        }
        let pick = match (dialect, a.partitions, a.queries) {
            (_, _, true) => None,
            (Dialect::Athena, false, _) => Some("athena-raw.sql"),
            (Dialect::Athena | Dialect::Spark, true, _) => Some("athena-raw-partitions.sql"),
            (Dialect::Spark, false, _) => Some("spark-raw.sql"),
            (Dialect::GlueJson, ..) => {
                return Err(Error::Usage(
                    "--dialect glue-json is for Parquet tables; use athena or spark with --raw".into(),
                ));
            }
        };
        return emit(&files, pick, "queries/athena-raw/", a.out_dir.as_deref());
    }
    let root = Location::parse(a.table_root.as_deref().expect("clap requires TABLE or --raw"))?;
    let storage = flowlake::storage::storage_for(&root, &a.s3.options())?;
    let o = a.names.options(&root, "flow_logs")?;
    let info = flowlake::table::read_table_info(storage.as_ref(), &root)?;
    files = ddl::ddl_files(&info, &o)?;
    let (pick, queries) = match (dialect, a.partitions, a.queries) {
        (Dialect::Spark, _, true) => (None, "queries/spark/"),
        (_, _, true) => (None, "queries/athena/"),
        (Dialect::Athena, false, _) => (Some("athena.sql"), ""),
        (Dialect::Athena, true, _) => (Some("athena-partitions.sql"), ""),
        (Dialect::GlueJson, _, _) => (Some("glue-table.json"), ""),
        (Dialect::Spark, _, _) => (Some("spark.sql"), ""),
    };
    emit(&files, pick, queries, a.out_dir.as_deref())
}

/// Prints one DDL file (or every query under a prefix), or writes them all into a folder.
pub(super) fn emit(
    files: &[(String, String)],
    pick: Option<&str>,
    queries: &str,
    out_dir: Option<&std::path::Path>,
) -> Result<u8> {
    if let Some(dir) = out_dir {
        for (rel, text) in files {
            LocalStorage.put(&Location::Local(dir.join(rel)), text.as_bytes())?;
        }
        errln!("flowlake: wrote {} files to {}", files.len(), dir.display());
        return Ok(0);
    }
    let mut out = std::io::BufWriter::new(out::Stdout);
    for (rel, text) in files {
        let chosen = match pick {
            Some(p) => rel == p,
            None => rel.starts_with(queries),
        };
        if chosen {
            if pick.is_none() {
                writeln!(out, "-- {}", rel.trim_start_matches(queries)).map_err(stdout_error)?;
            }
            out.write_all(text.as_bytes()).map_err(stdout_error)?;
            if pick.is_none() {
                writeln!(out).map_err(stdout_error)?;
            }
        }
    }
    out.flush().map_err(stdout_error)?;
    Ok(0)
}
