//! AWS's native Parquet deliveries of flow logs (`*.log.parquet`): one column per field of
//! the flow log's format, named as AWS's Parquet schema names them (`account_id`,
//! `log_status`, …), INT32, INT64 or STRING, nullable.
//!
//! The file's columns name its fields (read from the footer alone, one ranged read on S3);
//! its rows are rendered, batch by batch, as the space-separated records they were
//! delivered as in text (a null as `-`), so that every check, reject and partition rule of
//! text applies to them unchanged, with a record's position being its row, counted from 1.
//! A string value that cannot be written as one field of a record (it holds a space, a
//! line break or nothing) is written with a NUL in it, so that its row is rejected as a
//! control character or an empty value rather than read as other fields.

use std::io::{self, Read};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::file::metadata::{FooterTail, ParquetMetaDataReader};

use super::{Fields, FirstLine, Source};
use crate::source::{Decoded, InputFile, OpenProblem};
use crate::storage::Storage;

/// AWS's Parquet deliveries (see the module's documentation).
pub struct AwsParquet;

/// The Parquet kind.
pub static PARQUET: AwsParquet = AwsParquet;

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
    // Without the Arrow schema a writer may have stored: strings are strings, however encoded.
    parquet::arrow::parquet_to_arrow_schema(meta.file_metadata().schema_descr(), None).map_err(|e| damaged(&e))
}

/// A Parquet file's rows as lines of text, rendered a batch at a time as they are read.
struct Rows {
    reader: ParquetRecordBatchReader,
    line: Vec<u8>,
    pos: usize,
}

impl Read for Rows {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.line.len() {
            match self.reader.next() {
                None => return Ok(0),
                Some(Err(e)) => return Err(io::Error::other(format!("Parquet data unreadable: {e}"))),
                Some(Ok(batch)) => {
                    self.line.clear();
                    self.pos = 0;
                    render(&batch, &mut self.line)?;
                }
            }
        }
        let n = out.len().min(self.line.len() - self.pos);
        out[..n].copy_from_slice(&self.line[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// One column of a batch, as the renderer reads it: integers widened to 64 bits, strings
/// as their offsets and bytes.
enum Column<'a> {
    Int(Vec<i64>),
    Str { offsets: Vec<usize>, bytes: &'a [u8] },
    View(&'a arrow_array::StringViewArray),
}

fn column(a: &dyn Array) -> io::Result<Column<'_>> {
    macro_rules! int {
        ($t:ty) => {
            Column::Int(a.as_primitive::<$t>().values().iter().map(|v| i64::from(*v)).collect())
        };
    }
    Ok(match a.data_type() {
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => Column::Int(a.as_primitive::<Int64Type>().values().to_vec()),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            Column::Str { offsets: s.value_offsets().iter().map(|o| *o as usize).collect(), bytes: s.value_data() }
        }
        DataType::LargeUtf8 => {
            let s = a.as_string::<i64>();
            Column::Str { offsets: s.value_offsets().iter().map(|o| *o as usize).collect(), bytes: s.value_data() }
        }
        DataType::Utf8View => Column::View(a.as_string_view()),
        other => return Err(io::Error::other(format!("a column of type {other} in the data"))),
    })
}

/// Appends the rows of `batch` to `out`, one line each.
fn render(batch: &RecordBatch, out: &mut Vec<u8>) -> io::Result<()> {
    let arrays = batch.columns();
    let columns: Vec<Column<'_>> = arrays.iter().map(|a| column(a.as_ref())).collect::<io::Result<_>>()?;
    let nulls: Vec<Option<&arrow_buffer::NullBuffer>> = arrays.iter().map(|a| a.nulls()).collect();
    for row in 0..batch.num_rows() {
        for (i, (c, n)) in columns.iter().zip(&nulls).enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            if n.is_some_and(|n| n.is_null(row)) {
                out.push(b'-');
                continue;
            }
            match c {
                Column::Int(v) => push_int(out, v[row]),
                Column::Str { offsets, bytes } => push_field(out, &bytes[offsets[row]..offsets[row + 1]]),
                Column::View(v) => push_field(out, v.value(row).as_bytes()),
            }
        }
        out.push(b'\n');
    }
    Ok(())
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
    let options = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(bytes::Bytes::from(bytes), options)
        .map_err(|e| OpenProblem(format!("not a readable Parquet file: {e}")))?;
    field_names(builder.schema())?;
    let reader = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| OpenProblem(format!("not a readable Parquet file: {e}")))?;
    Ok(Decoded::from_reader(Box::new(Rows { reader, line: Vec::new(), pos: 0 }), stored))
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
}
