//! Where answers go: an aligned table for a terminal, CSV, JSON lines or
//! Parquet for scripts, or memory.

use std::io::Write;

use datafusion::arrow::csv;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::json;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::ResultSink;
use crate::error::{Error, Result};

/// The output formats of query commands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// An aligned text table (the default).
    #[default]
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON object per row, one per line.
    Json,
    /// A Parquet file (zstd).
    Parquet,
}

impl std::str::FromStr for OutputFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<OutputFormat> {
        match s {
            "table" => Ok(OutputFormat::Table),
            "csv" => Ok(OutputFormat::Csv),
            "json" => Ok(OutputFormat::Json),
            "parquet" => Ok(OutputFormat::Parquet),
            _ => Err(Error::Usage(format!("invalid --format `{s}`: expected table, csv, json or parquet"))),
        }
    }
}

fn write_err(e: impl std::fmt::Display) -> Error {
    Error::Failed(format!("cannot write the answer: {e}"))
}

/// A sink writing `format` to `out`.
pub fn sink<W: Write + Send + 'static>(format: OutputFormat, out: W) -> Box<dyn ResultSink> {
    match format {
        OutputFormat::Table => Box::new(Table { out, batches: Vec::new(), schema: None }),
        OutputFormat::Csv => Box::new(Csv { out: Some(out), writer: None }),
        OutputFormat::Json => Box::new(Json { writer: json::LineDelimitedWriter::new(out) }),
        OutputFormat::Parquet => Box::new(Parquet { out: Some(out), writer: None }),
    }
}

/// Keeps every batch (tests, small answers).
#[derive(Default)]
pub struct Collect {
    /// The answer's batches.
    pub batches: Vec<RecordBatch>,
}

impl ResultSink for Collect {
    fn begin(&mut self, _: &SchemaRef) -> Result<()> {
        Ok(())
    }
    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.batches.push(batch.clone());
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

struct Table<W: Write> {
    out: W,
    batches: Vec<RecordBatch>,
    schema: Option<SchemaRef>,
}

impl<W: Write> ResultSink for Table<W> {
    fn begin(&mut self, schema: &SchemaRef) -> Result<()> {
        self.schema = Some(schema.clone());
        Ok(())
    }
    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() > 0 {
            self.batches.push(batch.clone());
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        if self.batches.is_empty()
            && let Some(s) = &self.schema
        {
            // Headers even when nothing matched.
            self.batches.push(RecordBatch::new_empty(s.clone()));
        }
        let text = pretty_format_batches(&self.batches).map_err(write_err)?;
        writeln!(self.out, "{text}").map_err(write_err)?;
        self.out.flush().map_err(write_err)
    }
}

struct Csv<W: Write> {
    out: Option<W>,
    writer: Option<csv::Writer<W>>,
}

impl<W: Write> ResultSink for Csv<W> {
    fn begin(&mut self, schema: &SchemaRef) -> Result<()> {
        let out = self.out.take().expect("begin once");
        let mut w = csv::WriterBuilder::new().with_header(true).build(out);
        // Headers even when nothing matched.
        w.write(&RecordBatch::new_empty(schema.clone())).map_err(write_err)?;
        self.writer = Some(w);
        Ok(())
    }
    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.as_mut().expect("begun").write(batch).map_err(write_err)
    }
    fn finish(&mut self) -> Result<()> {
        let w = self.writer.take().expect("begun");
        let mut out = w.into_inner();
        out.flush().map_err(write_err)
    }
}

struct Json<W: Write> {
    writer: json::LineDelimitedWriter<W>,
}

impl<W: Write> ResultSink for Json<W> {
    fn begin(&mut self, _: &SchemaRef) -> Result<()> {
        Ok(())
    }
    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.write(batch).map_err(write_err)
    }
    fn finish(&mut self) -> Result<()> {
        self.writer.finish().map_err(write_err)
    }
}

struct Parquet<W: Write + Send> {
    out: Option<W>,
    writer: Option<ArrowWriter<W>>,
}

impl<W: Write + Send> ResultSink for Parquet<W> {
    fn begin(&mut self, schema: &SchemaRef) -> Result<()> {
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level")))
            .build();
        let w = ArrowWriter::try_new(self.out.take().expect("begin once"), schema.clone(), Some(props))
            .map_err(write_err)?;
        self.writer = Some(w);
        Ok(())
    }
    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.as_mut().expect("begun").write(batch).map_err(write_err)
    }
    fn finish(&mut self) -> Result<()> {
        let mut out = self.writer.take().expect("begun").into_inner().map_err(write_err)?;
        out.flush().map_err(write_err)
    }
}
