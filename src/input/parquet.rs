//! AWS's native Parquet deliveries of flow logs (`*.log.parquet`): one column per field of
//! the flow log's format, named as AWS's Parquet schema names them (`account_id`,
//! `log_status`, …), INT32, INT64 or STRING, nullable.
//!
//! The file's columns name its fields (read from the footer alone, one ranged read on S3);
//! its rows are handed to the read stage a batch at a time ([`RowBatches`]), strings as
//! dictionaries (AWS's columns are dictionary-encoded, so each value is checked and hashed
//! once per batch). The read stage appends the rows that pass every check as they are
//! (`parse::TypedRows`) and has any other row rendered as the space-separated record it
//! was delivered as in text (a null as `-`), so that every check, reject and partition
//! rule of text decides it, with a record's position being its row, counted from 1. A
//! string value that cannot be written as one field of a record (it holds a space, a line
//! break or nothing) is written with a NUL in it, so that its row is rejected as a control
//! character or an empty value rather than read as other fields.
//!
//! The parquet crate decodes the pages; GZIP pages (AWS's) are inflated by libdeflate
//! before it sees them ([`pages`]).

use std::io;
use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, RowGroups};
use parquet::arrow::{ProjectionMask, parquet_to_arrow_field_levels};
use parquet::basic::{ConvertedType, LogicalType};
use parquet::file::metadata::{FooterTail, ParquetMetaDataReader};

use super::{Fields, FirstLine, Source};
use crate::source::{Decoded, InputFile, OpenProblem, RowBatches};
use crate::storage::Storage;

mod pages;

/// AWS's Parquet deliveries (see the module's documentation).
pub struct AwsParquet;

/// The Parquet kind.
pub static PARQUET: AwsParquet = AwsParquet;

/// The Arrow type string columns are read as.
fn dictionary() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// Rows decoded and rendered at a time.
const BATCH_ROWS: usize = 8192;
/// Most columns a file may have (AWS's formats have about fifty fields).
const MAX_COLUMNS: usize = 512;

/// Why a column cannot be read as a flow-log field, if it cannot.
fn unreadable_type(name: &str, ty: &DataType) -> Option<String> {
    match ty {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View => None,
        other => Some(format!(
            "column `{name}` is of type {other}, where AWS's Parquet deliveries have INT32, INT64 and STRING columns"
        )),
    }
}

/// The column names of a Parquet file's footer (its fields), space-separated, after
/// checking that each can be read as a field.
fn field_names(schema: &arrow_schema::Schema) -> Result<Vec<u8>, OpenProblem> {
    if schema.fields().len() > MAX_COLUMNS {
        return Err(OpenProblem(format!(
            "{} columns, more than the {MAX_COLUMNS} a flow-log delivery could have",
            schema.fields().len()
        )));
    }
    let mut names = Vec::new();
    for f in schema.fields() {
        if let Some(why) = unreadable_type(f.name(), f.data_type()) {
            return Err(OpenProblem(why));
        }
        if f.name().is_empty() || f.name().len() > 128 || f.name().bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(OpenProblem(format!(
                "column {:?} is no flow-log field name (empty, too long, or with spaces or control characters)",
                f.name()
            )));
        }
        if !names.is_empty() {
            names.push(b' ');
        }
        names.extend_from_slice(f.name().as_bytes());
    }
    Ok(names)
}

/// Refuses a column annotated JSON: no AWS delivery has one, and the Arrow reader would
/// take its bytes for UTF-8 text without checking them (other annotations it reads as
/// bytes, which `field_names` refuses).
fn refuse_json(descr: &parquet::schema::types::SchemaDescriptor) -> Result<(), OpenProblem> {
    match descr
        .columns()
        .iter()
        .find(|c| matches!(c.logical_type_ref(), Some(LogicalType::Json)) || c.converted_type() == ConvertedType::JSON)
    {
        Some(c) => Err(OpenProblem(format!(
            "column `{}` is annotated JSON, where AWS's Parquet deliveries have INT32, INT64 and STRING columns",
            c.name()
        ))),
        None => Ok(()),
    }
}

/// Reads a Parquet file's footer with two ranged reads (its last 8 bytes, then the metadata).
fn footer_schema(storage: &dyn Storage, input: &InputFile) -> Result<arrow_schema::Schema, OpenProblem> {
    let size = input.meta.size;
    let damaged = |e: &dyn std::fmt::Display| OpenProblem(format!("not a readable Parquet file: {e}"));
    if size < 12 {
        return Err(damaged(&format!("{size} bytes, fewer than a Parquet file has")));
    }
    let tail = storage.read_range(input.location(), size - 8, 8).map_err(|e| OpenProblem(e.to_string()))?;
    let tail: [u8; 8] = tail.as_slice().try_into().map_err(|_| damaged(&"the file ended while reading its footer"))?;
    let len = FooterTail::try_new(&tail).map_err(|e| damaged(&e))?.metadata_length() as u64;
    if len + 12 > size {
        return Err(damaged(&format!("its footer says {len} bytes of metadata, more than the file holds")));
    }
    let meta = storage.read_range(input.location(), size - 8 - len, len).map_err(|e| OpenProblem(e.to_string()))?;
    let meta = ParquetMetaDataReader::decode_metadata(&meta).map_err(|e| damaged(&e))?;
    refuse_json(meta.file_metadata().schema_descr())?;
    // Without the Arrow schema a writer may have stored: strings are strings, however encoded.
    parquet::arrow::parquet_to_arrow_schema(meta.file_metadata().schema_descr(), None).map_err(|e| damaged(&e))
}

/// A Parquet file's rows, a batch at a time.
struct Rows {
    reader: ParquetRecordBatchReader,
}

impl RowBatches for Rows {
    fn next_batch(&mut self) -> Option<io::Result<RecordBatch>> {
        let unreadable = |e: &dyn std::fmt::Display| io::Error::other(format!("Parquet data unreadable: {e}"));
        // The parquet crate's message, without the chain of error kinds around it.
        let reader = |e: arrow_schema::ArrowError| match e {
            arrow_schema::ArrowError::ParquetError(m) => unreadable(&m.trim_start_matches("Parquet error: ")),
            e => unreadable(&e),
        };
        Some(self.reader.next()?.map_err(reader).and_then(|batch| {
            // The reader checks a dictionary's keys unless the dictionary is empty: a
            // damaged file's keys must not reach past its values.
            match batch.columns().iter().position(|c| !keys_in_bounds(c.as_ref())) {
                Some(i) => Err(unreadable(&format_args!(
                    "column `{}` has rows whose dictionary keys lie past its {} values",
                    batch.schema().field(i).name(),
                    dictionary_len(batch.column(i).as_ref())
                ))),
                None => Ok(batch),
            }
        }))
    }

    fn render(&self, batch: &RecordBatch, rows: Range<usize>, out: &mut Vec<u8>) {
        render(batch, rows, out);
    }
}

/// Whether every row with a value of a dictionary column (any other column: true) has a
/// key within its dictionary's values.
fn keys_in_bounds(a: &dyn Array) -> bool {
    let Some(d) = a.as_dictionary_opt::<Int32Type>() else { return true };
    keys_within(d.keys().values(), d.keys().nulls(), d.values().len())
}

/// Whether every key of a row with a value (`nulls`) is below `n`.
fn keys_within(keys: &[i32], nulls: Option<&arrow_buffer::NullBuffer>, n: usize) -> bool {
    let ok = |k: i32| usize::try_from(k).is_ok_and(|k| k < n);
    match nulls {
        None => keys.iter().all(|&k| ok(k)),
        Some(nulls) => keys.iter().zip(nulls.iter()).all(|(&k, valid)| !valid || ok(k)),
    }
}

/// The number of values of a dictionary column.
fn dictionary_len(a: &dyn Array) -> usize {
    a.as_dictionary_opt::<Int32Type>().map_or(0, |d| d.values().len())
}

/// One column of a batch, as the renderer reads it: a row's integer widened to 64 bits,
/// or a row's string as bytes (nothing is copied: a few rows may be rendered alone).
enum Column<'a> {
    Int(Box<dyn Fn(usize) -> i64 + 'a>),
    Str(Box<dyn Fn(usize) -> &'a [u8] + 'a>),
}

fn column(a: &dyn Array) -> Column<'_> {
    macro_rules! int {
        ($t:ty) => {{
            let v = a.as_primitive::<$t>().values();
            Column::Int(Box::new(move |row| i64::from(v[row])))
        }};
    }
    match a.data_type() {
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            Column::Str(Box::new(move |row| s.value(row).as_bytes()))
        }
        DataType::LargeUtf8 => {
            let s = a.as_string::<i64>();
            Column::Str(Box::new(move |row| s.value(row).as_bytes()))
        }
        DataType::Utf8View => {
            let s = a.as_string_view();
            Column::Str(Box::new(move |row| s.value(row).as_bytes()))
        }
        // (Keys are within their values: `next_batch` checked them.)
        DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
            let d = a.as_dictionary::<Int32Type>();
            let (keys, values) = (d.keys().values(), d.values().as_string::<i32>());
            Column::Str(Box::new(move |row| values.value(keys[row] as usize).as_bytes()))
        }
        // Strings of other annotations (JSON), which a reader hands as bytes.
        DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Binary => {
            let d = a.as_dictionary::<Int32Type>();
            let (keys, values) = (d.keys().values(), d.values().as_binary::<i32>());
            Column::Str(Box::new(move |row| values.value(keys[row] as usize)))
        }
        // `field_names` accepts no other type, and strings are read as dictionaries.
        other => unreachable!("a column of type {other} in a file whose footer was checked"),
    }
}

/// Appends rows `rows` of `batch` to `out`, one line each.
fn render(batch: &RecordBatch, rows: Range<usize>, out: &mut Vec<u8>) {
    let arrays = batch.columns();
    let columns: Vec<Column<'_>> = arrays.iter().map(|a| column(a.as_ref())).collect();
    let nulls: Vec<Option<arrow_buffer::NullBuffer>> = arrays.iter().map(|a| a.logical_nulls()).collect();
    for row in rows {
        for (i, (c, n)) in columns.iter().zip(&nulls).enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            if n.as_ref().is_some_and(|n| n.is_null(row)) {
                out.push(b'-');
                continue;
            }
            match c {
                Column::Int(v) => push_int(out, v(row)),
                Column::Str(v) => push_field(out, v(row)),
            }
        }
        out.push(b'\n');
    }
}

/// Appends a string value as one field: a space or line break in it, or no bytes at all,
/// becomes NUL (see the module's documentation).
fn push_field(out: &mut Vec<u8>, v: &[u8]) {
    if v.is_empty() {
        out.push(0);
        return;
    }
    let start = out.len();
    out.extend_from_slice(v);
    for b in &mut out[start..] {
        if matches!(*b, b' ' | b'\n' | b'\r') {
            *b = 0;
        }
    }
}

/// Appends `v` in decimal.
fn push_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Opens a Parquet file held in memory for its rows; `listed`, its size when it was
/// listed and scanned (a file replaced since may have other columns).
fn rows_of(bytes: Vec<u8>, listed: Option<u64>) -> Result<Decoded, OpenProblem> {
    let stored = bytes.len() as u64;
    if let Some(listed) = listed.filter(|n| *n != stored) {
        return Err(OpenProblem(format!(
            "the file changed while it was read: {listed} bytes when listed, {stored} now; run again"
        )));
    }
    let unreadable = |e: parquet::errors::ParquetError| OpenProblem(format!("not a readable Parquet file: {e}"));
    let bytes = bytes::Bytes::from(bytes);
    let footer = ArrowReaderMetadata::load(&bytes, ArrowReaderOptions::new().with_skip_arrow_metadata(true))
        .map_err(unreadable)?;
    field_names(footer.schema())?;
    refuse_json(footer.metadata().file_metadata().schema_descr())?;
    // Strings as dictionaries: the values of a dictionary-encoded column (AWS's are) are
    // then checked and hashed once per batch, not once per row.
    let descr = footer.metadata().file_metadata().schema_descr();
    let flat = descr.num_columns() == footer.schema().fields().len();
    let utf8 = |i: usize| {
        let c = descr.column(i);
        matches!(c.logical_type_ref(), Some(LogicalType::String)) || c.converted_type() == ConvertedType::UTF8
    };
    let fields: Vec<Field> = footer
        .schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| match f.data_type() {
            DataType::Utf8 if flat && utf8(i) => f.as_ref().clone().with_data_type(dictionary()),
            _ => f.as_ref().clone(),
        })
        .collect();
    let schema = Schema::new(fields);
    let levels =
        parquet_to_arrow_field_levels(descr, ProjectionMask::all(), Some(schema.fields())).map_err(unreadable)?;
    // GZIP pages (AWS's) inflated by libdeflate (`pages`); the rows are read as the crate reads them.
    let chunks = pages::Chunks { bytes, meta: footer.metadata().clone() };
    let batch = BATCH_ROWS.min(chunks.num_rows()).max(1);
    let reader =
        ParquetRecordBatchReader::try_new_with_row_groups(&levels, &chunks, batch, None).map_err(unreadable)?;
    Ok(Decoded::from_rows(Box::new(Rows { reader }), stored))
}

impl Source for AwsParquet {
    fn name(&self) -> &'static str {
        "parquet"
    }

    fn own_first_line(&self) -> bool {
        true
    }

    fn fields(&self) -> Fields {
        Fields::Schema
    }

    fn first_line(
        &self,
        storage: &dyn Storage,
        input: &InputFile,
        _raw: Option<Vec<u8>>,
    ) -> Result<FirstLine, OpenProblem> {
        Ok(FirstLine { line: Some(field_names(&footer_schema(storage, input)?)?), skipped: 0 })
    }

    fn open(&self, storage: &dyn Storage, input: &InputFile, _whole_max: u64) -> Result<Decoded, OpenProblem> {
        rows_of(Decoded::read_stored(storage, input)?, Some(input.meta.size))
    }

    fn open_fetched(&self, bytes: Vec<u8>, input: &InputFile) -> Result<Decoded, OpenProblem> {
        rows_of(bytes, Some(input.meta.size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int32Array, Int64Array, StringArray};
    use arrow_schema::{Field, Schema};

    fn parquet_bytes(batch: &RecordBatch) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
        out
    }

    #[test]
    fn rows_render_as_the_records_they_were() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("version", DataType::Int32, true),
            Field::new("srcaddr", DataType::Utf8, true),
            Field::new("bytes", DataType::Int64, true),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(vec![Some(2), Some(5), None, Some(2)])),
            Arc::new(StringArray::from(vec![Some("10.0.0.1"), None, Some("a b"), Some("")])),
            Arc::new(Int64Array::from(vec![Some(-1), Some(i64::MAX), Some(0), Some(7)])),
        ];
        let batch = RecordBatch::try_new(schema, cols).unwrap();
        let mut d = rows_of(parquet_bytes(&batch), None).unwrap();
        let mut text = Vec::new();
        d.read_to_end(&mut text).unwrap();
        assert_eq!(text, b"2 10.0.0.1 -1\n5 - 9223372036854775807\n- a\0b 0\n2 \0 7\n");
    }

    #[test]
    fn other_column_types_and_damaged_files_are_named() {
        let schema = Arc::new(Schema::new(vec![Field::new("ratio", DataType::Float64, true)]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(arrow_array::Float64Array::from(vec![0.5])) as ArrayRef])
                .unwrap();
        let err = rows_of(parquet_bytes(&batch), None).err().unwrap();
        assert!(err.0.contains("`ratio` is of type Float64"), "{}", err.0);
        assert!(rows_of(b"PAR1 not really".to_vec(), None).err().unwrap().0.starts_with("not a readable Parquet file"));
        let bytes = parquet_bytes(&batch);
        let n = bytes.len() as u64;
        assert!(rows_of(bytes, Some(n + 1)).err().unwrap().0.contains("changed while it was read"));
    }

    /// The test of typed rows against the text path: every row rendered and parsed as a
    /// line, against clean runs appended as they are and the others parsed as lines.
    #[test]
    fn clean_typed_rows_are_the_rows_their_lines_give() {
        use crate::format::Format;
        use crate::parse::{BatchBuilder, ColumnPlan, RecordParser, TypedRows};
        use crate::schema::TableColumns;

        let s = |v: &str| (v != "NULL").then(|| v.to_string());
        // (srcaddr, action, note, srcport as INT64, start, end); `NULL` is a null.
        type Row = (&'static str, &'static str, &'static str, Option<i64>, Option<i64>, Option<i64>, bool);
        let rows: &[Row] = &[
            ("10.0.0.1", "ACCEPT", "x", Some(443), Some(1_690_848_000), Some(1_690_848_060), true),
            ("2001:db8::1", "REJECT", "é ü", Some(0), Some(1_690_848_000), Some(1_690_848_000), false),
            ("2001:db8::1", "REJECT", "élan", Some(65535), Some(1_690_848_000), Some(1_690_848_000), true),
            ("NULL", "NULL", "NULL", None, None, None, true),
            ("-", "-", "-", Some(1), Some(1), Some(2), true),
            ("10.0.0.01", "ACCEPT", "x", Some(1), Some(1), Some(2), false),
            ("10.0.0.1", "MAYBE", "x", Some(1), Some(1), Some(2), false),
            ("10.0.0.1", "ACCEPT", "", Some(1), Some(1), Some(2), false),
            ("10.0.0.1", "ACCEPT", "tab\there", Some(1), Some(1), Some(2), false),
            ("10.0.0.1", "ACCEPT", "line\nend", Some(1), Some(1), Some(2), false),
            ("10.0.0.1", "ACCEPT", "x", Some(65536), Some(1), Some(2), false),
            ("10.0.0.1", "ACCEPT", "x", Some(-1), Some(1), Some(2), false),
            ("10.0.0.1", "ACCEPT", "x", Some(i64::from(i32::MAX) + 1), Some(1), Some(2), false),
            ("10.0.0.1", "ACCEPT", "x", Some(1), Some(-5), Some(2), false),
            ("10.0.0.1", "ACCEPT", "x", Some(1), Some(253_402_300_800), None, false),
            ("10.0.0.1", "ACCEPT", "x", Some(1), Some(10), Some(9), false),
            ("10.0.0.1", "ACCEPT", "x", Some(1), None, Some(9), true),
            ("10.0.0.1", "ACCEPT", "x\u{7f}", Some(1), Some(9), None, true),
            ("1.2.3.4 5.6.7.8", "ACCEPT", "x", Some(1), Some(9), Some(9), false),
            ("10.0.0.2", "ACCEPT", "y", Some(80), Some(1_690_848_001), Some(1_690_848_002), true),
        ];
        let schema = Arc::new(Schema::new(vec![
            Field::new("srcaddr", DataType::Utf8, true),
            Field::new("action", DataType::Utf8, true),
            Field::new("note", DataType::Utf8, true),
            Field::new("srcport", DataType::Int64, true),
            Field::new("start", DataType::Int64, true),
            Field::new("end", DataType::Int32, true),
        ]));
        let strings = |f: fn(&Row) -> &'static str| -> ArrayRef {
            Arc::new(StringArray::from(rows.iter().map(|r| s(f(r))).collect::<Vec<_>>()))
        };
        let cols: Vec<ArrayRef> = vec![
            strings(|r| r.0),
            strings(|r| r.1),
            strings(|r| r.2),
            Arc::new(Int64Array::from(rows.iter().map(|r| r.3).collect::<Vec<_>>())),
            Arc::new(Int64Array::from(rows.iter().map(|r| r.4).collect::<Vec<_>>())),
            Arc::new(Int32Array::from(rows.iter().map(|r| r.5.map(|v| v as i32)).collect::<Vec<_>>())),
        ];
        let batch = RecordBatch::try_new(schema, cols).unwrap();
        let format = Format::from_header(b"srcaddr action note srcport start end").unwrap();
        // The table has columns the input lacks (`bytes`): null in its rows.
        let bytes = crate::schema::ColumnId::Known(crate::schema::lookup("bytes").unwrap());
        let table = TableColumns::from_columns(format.fields().iter().cloned().chain([bytes]));
        let plan = ColumnPlan::new(&format, &table);
        // As a Parquet reader hands them: the strings as dictionaries (as this file reads
        // them), or plain.
        let dictionaries = recast(&batch, |t| match t {
            DataType::Utf8 => Some(dictionary()),
            _ => None,
        });
        for batch in [&batch, &dictionaries] {
            let typed = TypedRows::new(&plan, batch).expect("the columns have their fields' types");
            let (mut text, mut mixed) = (
                BatchBuilder::new(&table, table.arrow_schema(), 8),
                BatchBuilder::new(&table, table.arrow_schema(), 8),
            );
            let mut parser = RecordParser::new();
            let mut run = None::<usize>;
            for row in 0..=rows.len() {
                let clean = row < rows.len() && typed.is_clean(row);
                if let Some(first) = run.filter(|_| !clean) {
                    mixed.append_typed(&typed, first..row);
                    run = None;
                }
                if row == rows.len() {
                    break;
                }
                let mut line = Vec::new();
                render(batch, row..row + 1, &mut line);
                line.pop();
                let parsed = parser.parse(&plan, &line);
                let shown = String::from_utf8_lossy(&line);
                assert_eq!(clean, rows[row].6, "row {row}, line {shown:?}: clean {clean}, parsed {parsed:?}");
                if let Ok(p) = parsed {
                    text.append(&plan, &parser, &line);
                    assert_eq!(p.start, typed.start(row), "row {row}");
                }
                if clean {
                    run.get_or_insert(row);
                } else if parsed.is_ok() {
                    mixed.append(&plan, &parser, &line);
                }
            }
            let (text, mixed) = (text.finish(), mixed.finish());
            assert_eq!(text.num_rows(), rows.iter().filter(|r| r.6).count());
            // A batch begun by typed rows keeps their dictionaries for the addresses too.
            let srcaddr = mixed.schema().index_of("srcaddr").unwrap();
            assert_eq!(
                matches!(mixed.column(srcaddr).data_type(), DataType::Dictionary(..)),
                matches!(batch.column(0).data_type(), DataType::Dictionary(..))
            );
            assert_eq!(plain(&text), plain(&mixed), "{:?}", batch.schema());
        }
        // The next batch of the same builder, begun by a line, has plain addresses again.
        let typed = TypedRows::new(&plan, &dictionaries).unwrap();
        let mut b = BatchBuilder::new(&table, table.arrow_schema(), 8);
        b.append_typed(&typed, 0..1);
        assert!(matches!(b.finish().column(0).data_type(), DataType::Dictionary(..)));
        let mut parser = RecordParser::new();
        let line = b"10.0.0.9 ACCEPT x 1 1 2";
        parser.parse(&plan, line).unwrap();
        b.append(&plan, &parser, line);
        b.append_typed(&typed, 0..1);
        let next = b.finish();
        assert_eq!(next.column(0).data_type(), &DataType::Utf8);
        assert_eq!(next.column(0).as_string::<i32>().iter().collect::<Vec<_>>(), [Some("10.0.0.9"), Some("10.0.0.1")]);
    }

    /// A batch with every dictionary column cast to its values' type.
    fn plain(batch: &RecordBatch) -> RecordBatch {
        recast(batch, |t| match t {
            DataType::Dictionary(_, v) => Some(v.as_ref().clone()),
            _ => None,
        })
    }

    /// A batch with each column whose type `to` maps to another cast to that one.
    fn recast(batch: &RecordBatch, to: impl Fn(&DataType) -> Option<DataType>) -> RecordBatch {
        let columns: Vec<(String, ArrayRef)> = batch
            .schema()
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(f, c)| (f.name().clone(), to(c.data_type()).map_or(c.clone(), |t| arrow_cast::cast(c, &t).unwrap())))
            .collect();
        RecordBatch::try_from_iter(columns).unwrap()
    }

    /// A row without a value passes whatever its slot holds (a number out of range, a key
    /// of a value no field may hold), and a row with one is tested: in AWS's types (INT32
    /// ports, INT64 times) and with the rows' nulls at every place.
    #[test]
    fn rows_without_a_value_pass_whatever_their_slots_hold() {
        use crate::format::Format;
        use crate::parse::{ColumnPlan, TypedRows};
        use crate::schema::TableColumns;
        use arrow_array::DictionaryArray;
        use arrow_buffer::NullBuffer;

        let format = Format::from_header(b"srcaddr srcport start end").unwrap();
        let plan = ColumnPlan::new(&format, &TableColumns::from_columns(format.fields().iter().cloned()));
        let valid = |v: &[bool]| Some(NullBuffer::from(v.to_vec()));
        // Rows: 0 all null (slots out of range, a key past the values); 1 clean; 2 a port
        // out of range; 3 an end before its start; 4 the bad address; 5 an end before a
        // null start; 6 a start out of range, end null.
        let values = StringArray::from(vec!["1.2.3.4 5.6.7.8", "10.0.0.1"]);
        let keys =
            Int32Array::new(vec![9, 1, 1, 1, 0, 1, 1].into(), valid(&[false, true, true, true, true, true, true]));
        let srcaddr: ArrayRef = Arc::new(DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).unwrap());
        let ok = [false, true, true, true, true, true, true];
        let srcport: ArrayRef =
            Arc::new(Int32Array::new(vec![70_000, 443, 70_000, 443, 443, 443, 443].into(), valid(&ok)));
        let start: ArrayRef = Arc::new(Int64Array::new(
            vec![-5, 100, 100, 100, 100, 100, -5].into(),
            valid(&[false, true, true, true, true, false, true]),
        ));
        let end: ArrayRef = Arc::new(Int64Array::new(
            vec![-9, 160, 160, 99, 160, 99, 160].into(),
            valid(&[false, true, true, true, true, true, false]),
        ));
        let batch =
            RecordBatch::try_from_iter([("srcaddr", srcaddr), ("srcport", srcport), ("start", start), ("end", end)])
                .unwrap();
        let typed = TypedRows::new(&plan, &batch).expect("AWS's types");
        let clean: Vec<bool> = (0..batch.num_rows()).map(|r| typed.is_clean(r)).collect();
        assert_eq!(clean, [true, true, false, false, false, true, false]);
        // The clean rows appended: the null's key is never looked up.
        let table = TableColumns::from_columns(format.fields().iter().cloned());
        let mut b = crate::parse::BatchBuilder::new(&table, table.arrow_schema(), 4);
        b.append_typed(&typed, 0..2);
        b.append_typed(&typed, 5..6);
        let got = plain(&b.finish());
        let srcaddr = got.column(0).as_string::<i32>().iter().collect::<Vec<_>>();
        assert_eq!(srcaddr, [None, Some("10.0.0.1"), Some("10.0.0.1")]);
        assert_eq!(got.column(2).as_primitive::<Int64Type>().iter().collect::<Vec<_>>(), [None, Some(100), None]);
    }

    #[test]
    fn batches_of_other_types_or_long_rows_take_the_text_path() {
        use crate::format::Format;
        use crate::parse::{ColumnPlan, TypedRows};
        use crate::schema::TableColumns;

        let plan_of = |header: &[u8]| {
            let format = Format::from_header(header).unwrap();
            ColumnPlan::new(&format, &TableColumns::from_columns(format.fields().iter().cloned()))
        };
        let one = |name: &str, a: ArrayRef| {
            RecordBatch::try_new(Arc::new(Schema::new(vec![Field::new(name, a.data_type().clone(), true)])), vec![a])
                .unwrap()
        };
        // A number field delivered as strings, a string field as numbers.
        let port = one("srcport", Arc::new(StringArray::from(vec!["443"])));
        assert!(TypedRows::new(&plan_of(b"srcport"), &port).is_none());
        let account = one("account_id", Arc::new(Int64Array::from(vec![123_456_789_012])));
        assert!(TypedRows::new(&plan_of(b"account-id"), &account).is_none());
        // Columns that are not the format's fields.
        assert!(
            TypedRows::new(&plan_of(b"srcport dstport"), &one("srcport", Arc::new(Int32Array::from(vec![1]))))
                .is_none()
        );
        // A row whose line could pass the line limit.
        let two = |note: String| {
            let a: ArrayRef = Arc::new(StringArray::from(vec![note]));
            let b: ArrayRef = Arc::new(StringArray::from(vec!["10.0.0.1"]));
            RecordBatch::try_from_iter([("note", a), ("srcaddr", b)]).unwrap()
        };
        let plan = plan_of(b"note srcaddr");
        assert!(TypedRows::new(&plan, &two("x".repeat(crate::parse::MAX_LINE))).is_none());
        assert!(TypedRows::new(&plan, &two("x".repeat(100))).is_some());
    }

    #[test]
    fn dictionary_keys_past_their_values_are_found() {
        let values: ArrayRef = Arc::new(StringArray::from(vec!["a", "b"]));
        let keys = Int32Array::from(vec![Some(0), None, Some(1)]);
        let dict = arrow_array::DictionaryArray::<Int32Type>::try_new(keys, values).unwrap();
        assert!(keys_in_bounds(&dict));
        assert!(keys_in_bounds(&Int32Array::from(vec![7])), "not a dictionary");
        // What a damaged file with an empty dictionary could hand over (arrow-rs's reader
        // checks keys only against a dictionary with values).
        let nulls = arrow_buffer::NullBuffer::from(vec![true, false, true]);
        assert!(!keys_within(&[0, 5, 0], None, 2));
        assert!(keys_within(&[0, 5, 1], Some(&nulls), 2), "a null row's key is not read");
        assert!(!keys_within(&[0, 0, -1], Some(&nulls), 2));
        assert!(!keys_within(&[0], None, 0));
        assert!(keys_within(&[], None, 0));
    }

    /// A row whose line could pass the line limit is never clean, nulls (`-`) counted.
    #[test]
    fn no_clean_row_has_a_line_past_the_limit() {
        use crate::format::Format;
        use crate::parse::{ColumnPlan, MAX_LINE, TypedRows};
        use crate::schema::TableColumns;

        let format = Format::from_header(b"note vpc-id subnet-id srcport").unwrap();
        let plan = ColumnPlan::new(&format, &TableColumns::from_columns(format.fields().iter().cloned()));
        let mut clean = 0;
        for n in MAX_LINE - 40..=MAX_LINE {
            let note: ArrayRef = Arc::new(StringArray::from(vec!["x".repeat(n)]));
            let null: ArrayRef = Arc::new(StringArray::from(vec![None::<&str>]));
            let port: ArrayRef = Arc::new(Int32Array::from(vec![None]));
            let batch = RecordBatch::try_from_iter([
                ("note", note),
                ("vpc_id", null.clone()),
                ("subnet_id", null),
                ("srcport", port),
            ])
            .unwrap();
            if TypedRows::new(&plan, &batch).is_some_and(|t| t.is_clean(0)) {
                clean += 1;
                let mut line = Vec::new();
                render(&batch, 0..1, &mut line);
                assert!(line.len() - 1 <= MAX_LINE, "{n}: a line of {} bytes", line.len() - 1);
            }
        }
        assert!(clean > 0, "rows well under the limit are clean");
    }
}
