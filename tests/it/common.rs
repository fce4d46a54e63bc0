//! Helpers shared by the integration tests: run the binary, read a converted
//! table back with the parquet crate, and read raw flow-log files with a
//! deliberately simple parser of our own (independent of flowlake's).

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The shared fixtures folder (beside the project root).
pub fn fixtures() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    assert!(p.is_dir(), "the shared fixtures are expected at {}", p.display());
    p
}

/// Runs the flowlake binary.
pub fn flowlake(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowlake")).args(args).output().expect("run flowlake")
}

/// Runs the binary and returns its stdout, asserting the exit code.
pub fn flowlake_code(args: &[&str], code: i32) -> (String, String) {
    let out = flowlake(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "flowlake {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    (stdout, stderr)
}

/// The Python with the test tools (`scripts/test.sh` sets `FLOWLAKE_PYTHON` to its
/// virtual environment's).
pub fn python() -> String {
    std::env::var("FLOWLAKE_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// The path of a script of the test tools (`tests/py/NAME`).
pub fn py_script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py").join(name).display().to_string()
}

/// Runs the test tools' Python with `args` (a script and its arguments, or `-c CODE …`),
/// asserting success; its stdout.
pub fn py(args: &[&str]) -> String {
    let out = Command::new(python()).args(args).env("SPARK_LOCAL_IP", "127.0.0.1").output().expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python {args:?} failed (run the suite with scripts/test.sh, which installs tests/py/requirements.txt):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Every row of a table over `cols` as DuckDB, pyarrow and polars read it
/// (`tests/py/read_table.py`: values joined by spaces, null as `-`, sorted), asserting
/// that the three agree.
pub fn independent_rows(lake: &Path, cols: &[&str]) -> Vec<String> {
    let out = py(&[&py_script("read_table.py"), lake.to_str().unwrap(), &cols.join(",")]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = |reader: &str| -> Vec<String> { serde_json::from_value(v[reader].clone()).unwrap() };
    let duck = rows("duckdb");
    assert_eq!(duck, rows("pyarrow"), "DuckDB and pyarrow read the table alike");
    assert_eq!(duck, rows("polars"), "DuckDB and polars read the table alike");
    duck
}

/// Every Parquet file under a table root (skipping `_` and `.` entries), with its partition folder.
pub fn parquet_files(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(['_', '.']) {
                continue;
            }
            let p = e.path();
            if p.is_dir() {
                let r = if rel.is_empty() { name } else { format!("{rel}/{name}") };
                walk(&p, &r, out);
            } else if name.ends_with(".parquet") {
                out.push((rel.to_string(), p));
            }
        }
    }
    walk(root, "", &mut out);
    out
}

/// Reads a table back: (partition, batch) for every row group batch.
pub fn read_table(root: &Path) -> Vec<(String, RecordBatch)> {
    let mut out = Vec::new();
    for (part, path) in parquet_files(root) {
        let f = fs::File::open(&path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(f).unwrap().build().unwrap();
        for b in reader {
            out.push((part.clone(), b.unwrap()));
        }
    }
    out
}

/// A cell as text; `None` for null.
pub fn cell(b: &RecordBatch, col: &str, row: usize) -> Option<String> {
    let a = b.column_by_name(col)?;
    if a.is_null(row) {
        return None;
    }
    Some(match a.data_type() {
        DataType::Int32 => a.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::Utf8 => a.as_string::<i32>().value(row).to_string(),
        // Enrichment columns: ids over the lookup table's values.
        DataType::Dictionary(_, _) => {
            let d = a.as_dictionary::<arrow_array::types::Int32Type>();
            let k = d.keys().value(row) as usize;
            d.values().as_string::<i32>().value(k).to_string()
        }
        t => panic!("unexpected type {t}"),
    })
}

/// Every row of a table rendered over `columns` (`-` for null), sorted.
pub fn table_rows(table: &[(String, RecordBatch)], columns: &[String]) -> Vec<String> {
    let mut rows = Vec::new();
    for (_, b) in table {
        for r in 0..b.num_rows() {
            let cells: Vec<String> = columns.iter().map(|c| cell(b, c, r).unwrap_or_else(|| "-".into())).collect();
            rows.push(cells.join(" "));
        }
    }
    rows.sort();
    rows
}

/// The decompressed text of a raw file (gzip or plain).
pub fn raw_text(path: &Path) -> String {
    let bytes = fs::read(path).unwrap();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_string(&mut s).unwrap();
        s
    } else {
        String::from_utf8(bytes).unwrap()
    }
}

/// Every file under a folder (recursively, hidden and `_` folders included), sorted;
/// none if the folder does not exist.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(d) else { continue };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// All files under a folder whose names end in `.log.gz`.
pub fn log_files(root: &Path) -> Vec<PathBuf> {
    files_under(root).into_iter().filter(|p| p.to_string_lossy().ends_with(".log.gz")).collect()
}

/// Every record of raw files with headers, rendered over `columns` (column
/// names; header names are mapped by replacing `-` with `_`), sorted.
pub fn raw_rows(files: &[PathBuf], columns: &[String]) -> Vec<String> {
    let mut rows = Vec::new();
    for f in files {
        let text = raw_text(f);
        let mut lines = text.lines();
        let header: Vec<String> = lines.next().unwrap().split(' ').map(|h| h.replace('-', "_")).collect();
        let pos: Vec<Option<usize>> = columns.iter().map(|c| header.iter().position(|h| h == c)).collect();
        for line in lines {
            let toks: Vec<&str> = line.split(' ').collect();
            assert_eq!(toks.len(), header.len());
            let cells: Vec<&str> = pos.iter().map(|p| p.map(|i| toks[i]).unwrap_or("-")).collect();
            rows.push(cells.join(" "));
        }
    }
    rows.sort();
    rows
}

/// Column names of a table's first file.
pub fn columns_of(table: &[(String, RecordBatch)]) -> Vec<String> {
    table[0].1.schema().fields().iter().map(|f| f.name().clone()).collect()
}

/// Sums of an Int64 column per partition, nulls skipped.
pub fn sums_by_partition(table: &[(String, RecordBatch)], col: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for (p, b) in table {
        let a = b.column_by_name(col).unwrap().as_primitive::<Int64Type>();
        let s: i64 = a.iter().flatten().sum();
        *m.entry(p.clone()).or_default() += s as u64;
    }
    m
}

/// Rows per partition.
pub fn rows_by_partition(table: &[(String, RecordBatch)]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for (p, b) in table {
        *m.entry(p.clone()).or_default() += b.num_rows() as u64;
    }
    m
}

/// Nulls per column over the whole table.
pub fn nulls(table: &[(String, RecordBatch)]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for (_, b) in table {
        for (f, a) in b.schema().fields().iter().zip(b.columns()) {
            if a.null_count() > 0 {
                *m.entry(f.name().clone()).or_default() += a.null_count() as u64;
            }
        }
    }
    m
}

/// Reads the rejects TSV: (source, line, reason, raw) rows.
pub fn rejects(path: &str) -> Vec<(String, u64, String, String)> {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("source\tline\treason\traw"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, '\t').collect();
            (f[0].to_string(), f[1].parse().unwrap(), f[2].to_string(), f[3].to_string())
        })
        .collect()
}

/// Generates a sample of `records` records over `days` days, `files_per_day` gzip files a
/// day, into `dir` (the generator's default format, account and seed), and returns what it wrote.
pub fn generate_sample(dir: &Path, records: u64, days: u32, files_per_day: u32) -> flowlake::generate::GenerateSummary {
    let mut o = flowlake::generate::GenerateOptions::new(dir, records, days);
    o.files_per_day = files_per_day;
    flowlake::generate::generate(&o).unwrap()
}
