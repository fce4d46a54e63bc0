//! The pages of a Parquet file held in memory, with GZIP pages inflated by libdeflate (as
//! the text path inflates gzip files) rather than by the parquet crate's zlib codec.
//!
//! AWS's deliveries are gzip-compressed, and inflating their pages was about a fifth of
//! the CPU of converting them (BENCHMARKS.md). The parquet crate takes its pages from any
//! [`RowGroups`]: [`Chunks`] hands it, for each GZIP column chunk, the crate's own page
//! reader told that the chunk is uncompressed, wrapped in [`Gunzipped`], which inflates the
//! compressed part of each page (all of a dictionary page or a v1 data page, the values of
//! a v2 data page, whose levels are stored as they are). Every other chunk is read by the
//! crate as it would read it. A page that does not inflate (bad deflate data, a CRC-32 or
//! length that does not match, more output than deflate can make of it) is an error of
//! the reader, so the file is named as damaged.

use std::sync::Arc;

use bytes::Bytes;
use parquet::arrow::arrow_reader::RowGroups;
use parquet::basic::Compression;
use parquet::column::page::{Page, PageIterator, PageMetadata, PageReader};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ParquetMetaData, RowGroupMetaData};
use parquet::file::serialized_reader::SerializedPageReader;

use crate::gzip::Inflater;

/// Deflate makes at most about 1,032 bytes of one (its longest match per its shortest code).
const MAX_RATIO: usize = 1032;

/// The column chunks of a file held in memory (see the module's documentation).
pub(super) struct Chunks {
    pub bytes: Bytes,
    pub meta: Arc<ParquetMetaData>,
}

impl RowGroups for Chunks {
    fn num_rows(&self) -> usize {
        self.meta.row_groups().iter().map(|rg| usize::try_from(rg.num_rows()).unwrap_or(0)).sum()
    }

    fn column_chunks(&self, column: usize) -> Result<Box<dyn PageIterator>> {
        Ok(Box::new(ColumnPages { bytes: self.bytes.clone(), meta: self.meta.clone(), column, next: 0 }))
    }

    fn row_groups(&self) -> Box<dyn Iterator<Item = &RowGroupMetaData> + '_> {
        Box::new(self.meta.row_groups().iter())
    }

    fn metadata(&self) -> &ParquetMetaData {
        &self.meta
    }
}

/// One column's chunks, row group after row group.
struct ColumnPages {
    bytes: Bytes,
    meta: Arc<ParquetMetaData>,
    column: usize,
    next: usize,
}

impl ColumnPages {
    fn pages(&self, rg: &RowGroupMetaData) -> Result<Box<dyn PageReader>> {
        let chunk = rg.columns().get(self.column).ok_or_else(|| {
            ParquetError::General(format!("a row group has no column {} of the schema", self.column + 1))
        })?;
        let rows = usize::try_from(rg.num_rows())
            .map_err(|_| ParquetError::General("a row group has a negative row count".into()))?;
        let data = Arc::new(self.bytes.clone());
        Ok(match chunk.compression() {
            Compression::GZIP(_) => {
                let stored = chunk.clone().into_builder().set_compression(Compression::UNCOMPRESSED).build()?;
                Box::new(Gunzipped { pages: SerializedPageReader::new(data, &stored, rows, None)?, inflater: None })
            }
            _ => Box::new(SerializedPageReader::new(data, chunk, rows, None)?),
        })
    }
}

impl Iterator for ColumnPages {
    type Item = Result<Box<dyn PageReader>>;

    fn next(&mut self) -> Option<Self::Item> {
        let rg = self.meta.row_groups().get(self.next)?;
        self.next += 1;
        Some(self.pages(rg))
    }
}

impl PageIterator for ColumnPages {}

/// A GZIP chunk's pages, as stored, inflated one by one.
struct Gunzipped {
    pages: SerializedPageReader<Bytes>,
    inflater: Option<Inflater>,
}

impl Gunzipped {
    /// `stored` (`levels` bytes as they are, then gzip data) with its gzip data inflated;
    /// `values`, how many values the page says it holds.
    fn inflate(&mut self, stored: Bytes, levels: usize, values: u32) -> Result<Bytes> {
        let damaged = |what: &str| ParquetError::General(format!("a GZIP page {what}"));
        if levels > stored.len() {
            return Err(damaged("has levels longer than the page"));
        }
        if stored.len() == levels && (levels > 0 || values == 0) {
            // Nothing compressed: a v2 page of nulls, or a page of no values.
            return Ok(stored);
        }
        let inflater = match &mut self.inflater {
            Some(i) => i,
            None => self.inflater.insert(Inflater::new().ok_or_else(|| damaged("cannot be inflated: out of memory"))?),
        };
        let compressed = &stored[levels..];
        let limit = compressed.len().saturating_mul(MAX_RATIO).saturating_add(levels).min(i32::MAX as usize);
        let mut out = Vec::new();
        out.extend_from_slice(&stored[..levels]);
        if !inflater.gunzip(compressed, &mut out, limit) {
            return Err(damaged(
                "is damaged: its gzip data does not inflate, or fails its CRC-32 or length; fetch the file \
                 again from where it was delivered and run again",
            ));
        }
        Ok(Bytes::from(out))
    }
}

impl PageReader for Gunzipped {
    fn get_next_page(&mut self) -> Result<Option<Page>> {
        let Some(mut page) = self.pages.get_next_page()? else {
            return Ok(None);
        };
        // The compressed part of each kind of page (a v2 page keeps its levels as they are).
        match &mut page {
            Page::DataPage { buf, num_values, .. } | Page::DictionaryPage { buf, num_values, .. } => {
                *buf = self.inflate(std::mem::take(buf), 0, *num_values)?;
            }
            Page::DataPageV2 { buf, num_values, def_levels_byte_len, rep_levels_byte_len, is_compressed, .. }
                if *is_compressed =>
            {
                let levels = *def_levels_byte_len as usize + *rep_levels_byte_len as usize;
                *buf = self.inflate(std::mem::take(buf), levels, *num_values)?;
                *is_compressed = false;
            }
            Page::DataPageV2 { .. } => {}
        }
        Ok(Some(page))
    }

    fn peek_next_page(&mut self) -> Result<Option<PageMetadata>> {
        self.pages.peek_next_page()
    }

    fn skip_next_page(&mut self) -> Result<()> {
        self.pages.skip_next_page()
    }

    fn at_record_boundary(&mut self) -> Result<bool> {
        self.pages.at_record_boundary()
    }
}

impl Iterator for Gunzipped {
    type Item = Result<Page>;

    fn next(&mut self) -> Option<Self::Item> {
        self.get_next_page().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::{
        ArrowReaderMetadata, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
    };
    use parquet::arrow::{ProjectionMask, parquet_to_arrow_field_levels};
    use parquet::basic::GzipLevel;
    use parquet::file::properties::{WriterProperties, WriterVersion};
    use parquet::schema::types::ColumnPath;

    /// 3,000 rows in row groups of 1,000 and pages of about 250: integers with nulls,
    /// strings with nulls, empty and non-ASCII values and IPv6 addresses, a column all
    /// null, and one whose dictionary outgrows its limit (plain pages after it).
    fn batch() -> RecordBatch {
        let n = 3000;
        let port = Int32Array::from_iter((0..n).map(|i| (i % 7 != 0).then_some(i % 50)));
        let bytes = Int64Array::from_iter_values((0..n).map(|i| i64::from(i) * 1_000_003));
        let addr = StringArray::from_iter((0..n).map(|i| match i % 5 {
            0 => None,
            1 => Some(String::new()),
            2 => Some(format!("2001:db8::{i:x}")),
            3 => Some(format!("Zürich-{}", i % 3)),
            _ => Some(format!("10.0.{}.{}", i / 256, i % 256)),
        }));
        let none = StringArray::from(vec![None::<&str>; n as usize]);
        let unique = StringArray::from_iter_values((0..n).map(|i| format!("value number {i} of a long column")));
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("port", Arc::new(port)),
            ("bytes", Arc::new(bytes)),
            ("addr", Arc::new(addr)),
            ("none", Arc::new(none)),
            ("unique", Arc::new(unique)),
        ];
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn file(version: WriterVersion, compression: Compression) -> Bytes {
        let props = WriterProperties::builder()
            .set_writer_version(version)
            .set_compression(compression)
            .set_max_row_group_row_count(Some(1000))
            .set_data_page_row_count_limit(250)
            .set_write_batch_size(50)
            .set_dictionary_page_size_limit(4096)
            .set_column_dictionary_enabled(ColumnPath::from("bytes"), false)
            .build();
        let b = batch();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, b.schema(), Some(props)).unwrap();
        w.write(&b).unwrap();
        w.close().unwrap();
        Bytes::from(out)
    }

    fn ours(bytes: Bytes) -> Result<Vec<RecordBatch>, arrow_schema::ArrowError> {
        let meta = ArrowReaderMetadata::load(&bytes, Default::default()).unwrap();
        let descr = meta.metadata().file_metadata().schema_descr();
        let levels = parquet_to_arrow_field_levels(descr, ProjectionMask::all(), Some(meta.schema().fields())).unwrap();
        let chunks = Chunks { bytes, meta: meta.metadata().clone() };
        ParquetRecordBatchReader::try_new_with_row_groups(&levels, &chunks, 700, None).unwrap().collect()
    }

    fn theirs(bytes: Bytes) -> Vec<RecordBatch> {
        ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .with_batch_size(700)
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect()
    }

    fn whole(batches: &[RecordBatch]) -> RecordBatch {
        arrow_select::concat::concat_batches(&batches[0].schema(), batches).unwrap()
    }

    #[test]
    fn pages_read_as_the_crate_reads_them_for_every_codec_and_page_version() {
        for version in [WriterVersion::PARQUET_1_0, WriterVersion::PARQUET_2_0] {
            for compression in [Compression::GZIP(GzipLevel::default()), Compression::SNAPPY, Compression::UNCOMPRESSED]
            {
                let bytes = file(version, compression);
                let read = whole(&ours(bytes.clone()).unwrap());
                assert_eq!(read, whole(&theirs(bytes)), "{version:?} {compression:?}");
                assert_eq!(read, batch(), "{version:?} {compression:?}");
            }
        }
    }

    #[test]
    fn a_damaged_gzip_page_is_an_error_of_the_file_not_a_panic() {
        for version in [WriterVersion::PARQUET_1_0, WriterVersion::PARQUET_2_0] {
            let good = file(version, Compression::GZIP(GzipLevel::default()));
            let starts: Vec<usize> =
                good.windows(3).enumerate().filter(|(_, w)| *w == crate::gzip::MAGIC).map(|(i, _)| i).collect();
            assert!(starts.len() > 20, "{version:?}: {} gzip members found", starts.len());
            // The first bytes of deflate data, after the member's fixed header (which carries
            // no checked data).
            for (k, at) in starts.iter().enumerate().step_by(7) {
                for offset in [10, 11] {
                    let mut bad = good.to_vec();
                    bad[at + offset] ^= 0x5a;
                    let got = ours(Bytes::from(bad));
                    let err = got.expect_err(&format!("{version:?}: member {k} changed at +{offset}"));
                    assert!(err.to_string().contains("a GZIP page is damaged"), "{version:?}: {err}");
                    assert!(err.to_string().contains("fetch the file again"), "{err}");
                }
            }
        }
    }
}
