//! What a written table holds: its layout, partitions and columns, read from
//! the files themselves (folder names and Parquet footers), so the DDL always
//! describes exactly what is there, whichever runs wrote it.

use parquet::arrow::parquet_to_arrow_schema;
use parquet::file::metadata::ParquetMetaDataReader;

use crate::error::{Error, Result};
use crate::format::Format;
use crate::partition::Layout;
use crate::schema::{self, ColumnId, FieldType, TableColumns};
use crate::storage::{Location, Storage};

/// A Parquet table as found under its root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableInfo {
    /// The partition layout of its folders.
    pub layout: Layout,
    /// Its columns (the union over all files, in catalog order) and their types.
    pub columns: Vec<(String, FieldType)>,
    /// The values of every partition present, sorted.
    pub partitions: Vec<Vec<String>>,
    /// Parquet files.
    pub files: u64,
    /// Rows in them (from the footers).
    pub rows: u64,
}

/// Reads the layout, partitions and columns of the table under `root`.
pub fn read_table_info(storage: &dyn Storage, root: &Location) -> Result<TableInfo> {
    let root_key = root.key_path();
    let root_key = root_key.trim_end_matches('/');
    let mut layout: Option<Layout> = None;
    let mut partitions = Vec::new();
    let mut columns = Vec::new();
    let (mut files, mut rows) = (0u64, 0u64);
    for obj in storage.list(root)? {
        let key = obj.location.key_path();
        if !key.ends_with(".parquet") {
            continue;
        }
        let rel = key.strip_prefix(root_key).unwrap_or(&key).trim_start_matches('/');
        let dir = rel.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let l = match layout {
            Some(l) => l,
            None => {
                let l = Layout::detect(dir).ok_or_else(|| {
                    Error::Damaged(format!(
                        "{}: `{dir}` is not a partition folder flowlake writes (date=…, date=…/hour=…, aws-account-id=…/…)",
                        obj.location
                    ))
                })?;
                layout = Some(l);
                l
            }
        };
        let values = l.parse_path(dir).ok_or_else(|| {
            Error::Damaged(format!("{}: folder `{dir}` does not follow the table's {l} layout", obj.location))
        })?;
        partitions.push(values);
        let (file_cols, n) = footer_columns(storage, &obj.location, obj.size)?;
        columns.extend(file_cols);
        rows += n;
        files += 1;
    }
    let Some(layout) = layout else {
        return Err(Error::NotFound(format!("no Parquet files found under {root}: convert something into it first")));
    };
    partitions.sort();
    partitions.dedup();
    let table = TableColumns::from_columns(columns.iter().map(|(c, _)| c.clone()));
    let mut typed = Vec::new();
    for c in table.columns() {
        let ty = columns.iter().find(|(id, _)| id == c).map(|(_, t)| *t).expect("column came from a file");
        if let Some((_, other)) = columns.iter().find(|(id, t)| id == c && *t != ty) {
            return Err(Error::Failed(format!(
                "column `{}` has type {} in some files and {} in others under {root}",
                c.column_name(),
                ty.sql(),
                other.sql()
            )));
        }
        typed.push((c.column_name(), ty));
    }
    Ok(TableInfo { layout, columns: typed, partitions, files, rows })
}

/// The rows in a Parquet file, from its footer (`size`: the file's size in bytes).
pub fn footer_rows(storage: &dyn Storage, loc: &Location, size: u64) -> Result<u64> {
    footer_columns(storage, loc, size).map(|(_, rows)| rows)
}

/// The columns and row count in a Parquet file's footer.
fn footer_columns(storage: &dyn Storage, loc: &Location, size: u64) -> Result<(Vec<(ColumnId, FieldType)>, u64)> {
    let bad = |why: String| Error::Damaged(format!("{loc} is not a readable Parquet file: {why}"));
    if size < 12 {
        return Err(bad("too small".into()));
    }
    let tail = storage.read_range(loc, size - 8, 8)?;
    if &tail[4..] != b"PAR1" {
        return Err(bad("no PAR1 magic at the end".into()));
    }
    let len = u64::from(u32::from_le_bytes(tail[..4].try_into().expect("4 bytes")));
    if len + 8 > size {
        return Err(bad("footer length exceeds the file".into()));
    }
    let footer = storage.read_range(loc, size - 8 - len, len)?;
    let meta = ParquetMetaDataReader::decode_metadata(&footer).map_err(|e| bad(e.to_string()))?;
    let fm = meta.file_metadata();
    let arrow = parquet_to_arrow_schema(fm.schema_descr(), fm.key_value_metadata()).map_err(|e| bad(e.to_string()))?;
    let mut cols = Vec::new();
    for f in arrow.fields() {
        let ty = match f.data_type() {
            arrow_schema::DataType::Int32 => FieldType::Int32,
            arrow_schema::DataType::Int64 => FieldType::Int64,
            arrow_schema::DataType::Utf8 | arrow_schema::DataType::LargeUtf8 | arrow_schema::DataType::Utf8View => {
                FieldType::String
            }
            arrow_schema::DataType::Dictionary(_, v) if matches!(v.as_ref(), arrow_schema::DataType::Utf8) => {
                FieldType::String
            }
            t => return Err(bad(format!("column `{}` has type {t}, which flow-log tables do not use", f.name()))),
        };
        cols.push((schema::column_id(f.name()), ty));
    }
    Ok((cols, fm.num_rows() as u64))
}

/// The raw gzip text logs as AWS delivers them, described for a table over
/// `AWSLogs/<account>/<service>/<region>/YYYY/MM/DD/`.
#[derive(Clone, Debug)]
pub struct RawSpec {
    /// The fields, from a file's header.
    pub format: Format,
    /// Accounts seen (or given).
    pub accounts: Vec<String>,
    /// Regions seen (or given).
    pub regions: Vec<String>,
    /// The delivering service in the paths: `vpcflowlogs`, or `transitgatewayflowlogs`
    /// (one per table: the two kinds have different fields).
    pub service: String,
    /// `(account, region, YYYY/MM/DD)` delivery folders found, for explicit partitions.
    pub days: Vec<(String, String, String)>,
    /// The first delivery day, `YYYY/MM/DD`.
    pub first_day: String,
}

/// Describes the raw logs under `root` for [`crate::ddl::raw_athena_create`]:
/// the fields of `header_file`'s header (or of the first file found), and
/// the accounts, regions and delivery days in the files' paths.
pub fn read_raw_spec(
    storage: &dyn Storage,
    root: &Location,
    header_file: Option<&Location>,
    opts: &crate::storage::StorageOptions,
) -> Result<RawSpec> {
    use crate::source::{FileSelector, InputFile, discover, first_line};
    let files = discover(storage, std::slice::from_ref(root), &FileSelector::new(&[])?)?.files;
    let header_input = match header_file {
        Some(h) => {
            let st = crate::storage::storage_for(h, opts)?;
            let meta = st.list(h)?.into_iter().next().ok_or_else(|| Error::NotFound(format!("{h} does not exist")))?;
            (st, InputFile::new(meta))
        }
        None => (crate::storage::storage_for(root, opts)?, files[0].clone()),
    };
    let line = first_line(header_input.0.as_ref(), &header_input.1)
        .map_err(|p| Error::Failed(format!("{}: {}", header_input.1.location(), p.0)))?
        .ok_or_else(|| {
            Error::NotFound(format!("{} is empty: no header to take the columns from", header_input.1.location()))
        })?;
    let format = Format::from_header(&line).map_err(|_| {
        Error::Failed(format!(
            "{}: the first line is not a flow-log header; name a file that has one with --from-header",
            header_input.1.location()
        ))
    })?;
    let mut days = Vec::new();
    let mut services = std::collections::BTreeSet::new();
    for f in &files {
        if let (Some(o), Some(t)) = (&f.origin, f.path_time) {
            let (y, m, d) = crate::partition::civil_from_days(t.day);
            days.push((o.account.clone(), o.region.clone(), format!("{y:04}/{m:02}/{d:02}")));
            services.insert(o.service.clone());
        }
    }
    if services.len() > 1 {
        return Err(Error::Usage(format!(
            "the logs under {root} come from {} (VPC and Transit Gateway flow logs have different fields): \
             describe each in a table of its own, from the folder of one",
            services.into_iter().collect::<Vec<_>>().join(" and ")
        )));
    }
    days.sort();
    days.dedup();
    if days.is_empty() {
        return Err(Error::NotFound(format!(
            "no files under {root} are in the AWS delivery layout (AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/, \
             or transitgatewayflowlogs)"
        )));
    }
    let mut accounts: Vec<String> = days.iter().map(|d| d.0.clone()).collect();
    accounts.sort();
    accounts.dedup();
    let mut regions: Vec<String> = days.iter().map(|d| d.1.clone()).collect();
    regions.sort();
    regions.dedup();
    let first_day = days.iter().map(|d| d.2.clone()).min().expect("non-empty");
    let service = services.pop_first().expect("a day has a service");
    Ok(RawSpec { format, accounts, regions, service, days, first_day })
}
