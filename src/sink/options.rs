//! How Parquet files are written: the codec, row group and page sizes, bloom filters,
//! sort and dictionary choices, and the writer properties every file of a run shares.

use parquet::basic::{Compression as PqCompression, GzipLevel, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use arrow_schema::Schema;

use crate::error::{Error, Result};

/// Parquet compression codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// zstd at a level (1–22).
    Zstd(i32),
    /// Snappy.
    Snappy,
    /// gzip at a level (0–9).
    Gzip(u32),
    /// No compression.
    None,
}

/// The zstd level of the default codec and of `zstd` without a level: on flow logs level 1
/// writes files within 1% of level 3's size, about 10% faster (measured by
/// scripts/bench.sh; see BENCHMARKS.md).
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// The gzip level of `gzip` without a level (zlib's own default).
pub const DEFAULT_GZIP_LEVEL: u32 = 6;

impl Default for Compression {
    /// zstd at [`DEFAULT_ZSTD_LEVEL`].
    fn default() -> Self {
        Compression::Zstd(DEFAULT_ZSTD_LEVEL)
    }
}

impl std::str::FromStr for Compression {
    type Err = Error;
    /// Parses `zstd[:LEVEL]`, `snappy`, `gzip[:LEVEL]` or `none`; a codec without a level
    /// takes [`DEFAULT_ZSTD_LEVEL`] or [`DEFAULT_GZIP_LEVEL`].
    fn from_str(s: &str) -> Result<Compression> {
        let (name, level) = match s.split_once(':') {
            Some((n, l)) => (n, Some(l)),
            None => (s, None),
        };
        let bad =
            || Error::Usage(format!("invalid compression `{s}`: expected zstd[:1-22], snappy, gzip[:0-9] or none"));
        let lvl = |max: i64| -> Result<Option<i64>> {
            match level {
                None => Ok(None),
                Some(l) => l.parse::<i64>().ok().filter(|v| (0..=max).contains(v)).map(Some).ok_or_else(bad),
            }
        };
        match name.to_ascii_lowercase().as_str() {
            "zstd" => Ok(lvl(22)?.map_or(Compression::default(), |l| Compression::Zstd(l.max(1) as i32))),
            "gzip" => Ok(Compression::Gzip(lvl(9)?.map_or(DEFAULT_GZIP_LEVEL, |l| l as u32))),
            "snappy" if level.is_none() => Ok(Compression::Snappy),
            "none" | "uncompressed" if level.is_none() => Ok(Compression::None),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Compression::Zstd(l) => write!(f, "zstd:{l}"),
            Compression::Snappy => f.write_str("snappy"),
            Compression::Gzip(l) => write!(f, "gzip:{l}"),
            Compression::None => f.write_str("none"),
        }
    }
}

impl Compression {
    pub(super) fn to_parquet(self) -> PqCompression {
        match self {
            Compression::Zstd(l) => PqCompression::ZSTD(ZstdLevel::try_new(l).unwrap_or_default()),
            Compression::Snappy => PqCompression::SNAPPY,
            Compression::Gzip(l) => PqCompression::GZIP(GzipLevel::try_new(l).unwrap_or_default()),
            Compression::None => PqCompression::UNCOMPRESSED,
        }
    }
}

/// How Parquet files are written.
#[derive(Clone, Debug)]
pub struct ParquetOptions {
    /// Codec; default zstd level 1.
    pub compression: Compression,
    /// Rows per row group; default 262,144 (DuckDB writes 122,880, polars 262,144).
    pub row_group_size: usize,
    /// Most rows per data page; default 8,192. Page statistics (the page index) let readers
    /// skip pages, so a lookup on the sorted column reads fewer rows with smaller pages
    /// (measured: one address's lookup in DataFusion matched 0.8 M rows of 6 M instead of
    /// 2.8 M with Parquet's usual 20,000, in files 0.4% smaller, no slower to write, with
    /// less memory).
    pub page_rows: usize,
    /// A file is closed and a new one started once it reaches this size; default 256 MiB.
    pub target_file_size: u64,
    /// Most files kept open at once; the least recently used is closed beyond it. Default 8.
    pub max_open_files: usize,
    /// Most memory the row groups being built may hold, per thread writing (each thread
    /// encodes its own row groups). Beyond it the least recently used row groups are written
    /// out early (smaller row groups, bounded memory). Default 16 MiB (measured: with 64 MiB,
    /// 4× the input over 13 days instead of 3 raised peak RSS by 23–38%, with 16 MiB by 5–11%,
    /// for 3% more output bytes).
    pub memory_budget: usize,
    /// Columns that get a Parquet bloom filter per row group (those the table has),
    /// so a point lookup skips row groups without the value. Default `srcaddr`, `dstaddr`.
    pub bloom_filter: Vec<String>,
    /// Columns each written batch is sorted by (runs of up to `batch_rows` rows), which
    /// narrows page statistics for lookups on them and compresses better. Default `srcaddr`
    /// (measured: files 9% smaller, questions 13–19% faster, no measurable conversion cost).
    pub sort: Vec<String>,
    /// Columns written without Parquet dictionary encoding (plain values, then the codec).
    /// Default `packets`, `bytes`: nearly every value differs, so a dictionary fills up and
    /// falls back part way through a row group (measured: without it files are 5.6% smaller
    /// and the conversion about 6% faster; other columns lose size without theirs).
    pub no_dictionary: Vec<String>,
    /// Ranges of the first sort column a partition's rows are split into (1: off). Each row
    /// group holds rows of one range, so its min/max statistics are narrow and an engine that
    /// reads only row-group statistics (DuckDB, Athena) skips most row groups of a lookup on
    /// that column, as if each file were sorted whole, in bounded memory. The ranges are cut
    /// at quantiles of the partition's first batch. Default 1 (measured on the benchmark's
    /// sample with 4 ranges and a 32 MiB write buffer: a one-address lookup in DuckDB reads
    /// 5% of the files' bytes instead of 11% and runs twice as fast, but the conversion takes
    /// about 10% more CPU, since every range has its own dictionaries; see BENCHMARKS.md).
    pub clusters: usize,
}

/// The false-positive rate of bloom filters: 1% (filters are folded to their smallest size).
const BLOOM_FPP: f64 = 0.01;

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            compression: Compression::default(),
            row_group_size: 256 * 1024,
            page_rows: 8192,
            target_file_size: 256 * 1024 * 1024,
            max_open_files: 8,
            memory_budget: 16 * 1024 * 1024,
            bloom_filter: vec!["srcaddr".into(), "dstaddr".into()],
            sort: vec!["srcaddr".into()],
            no_dictionary: vec!["packets".into(), "bytes".into()],
            clusters: 1,
        }
    }
}

impl ParquetOptions {
    /// The writer properties of every file of a sink writing `schema` (options naming
    /// columns the schema lacks are left out), with the run's `file_prefix` in each file's
    /// key-value metadata (`flowlake.run`).
    pub(super) fn writer_properties(&self, schema: &Schema, file_prefix: &str) -> WriterProperties {
        let mut props = WriterProperties::builder();
        for c in &self.bloom_filter {
            if schema.field_with_name(c).is_ok() {
                let path = ColumnPath::from(c.as_str());
                props = props
                    .set_column_bloom_filter_enabled(path.clone(), true)
                    .set_column_bloom_filter_fpp(path.clone(), BLOOM_FPP)
                    .set_column_bloom_filter_max_ndv(path, self.row_group_size as u64);
            }
        }
        for c in &self.no_dictionary {
            if schema.field_with_name(c).is_ok() {
                props = props.set_column_dictionary_enabled(ColumnPath::from(c.as_str()), false);
            }
        }
        props
            .set_compression(self.compression.to_parquet())
            .set_max_row_group_row_count(Some(self.row_group_size))
            .set_dictionary_enabled(true)
            .set_data_page_row_count_limit(self.page_rows.max(1))
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_created_by(format!("flowlake version {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(vec![KeyValue::new("flowlake.run".into(), file_prefix.to_string())]))
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{DataType, Field};

    #[test]
    fn compression_parsing() {
        // `zstd` means the default codec, as no flag does.
        assert_eq!("zstd".parse::<Compression>().unwrap(), Compression::default());
        assert_eq!(Compression::default(), Compression::Zstd(DEFAULT_ZSTD_LEVEL));
        assert_eq!(Compression::default().to_string().parse::<Compression>().unwrap(), Compression::default());
        assert_eq!("zstd:9".parse::<Compression>().unwrap(), Compression::Zstd(9));
        assert_eq!("snappy".parse::<Compression>().unwrap(), Compression::Snappy);
        assert_eq!("gzip".parse::<Compression>().unwrap(), Compression::Gzip(6));
        assert_eq!("none".parse::<Compression>().unwrap(), Compression::None);
        let err = "zstd:99".parse::<Compression>().unwrap_err().to_string();
        assert_eq!(err, "invalid compression `zstd:99`: expected zstd[:1-22], snappy, gzip[:0-9] or none");
        assert!("lz4".parse::<Compression>().is_err());
    }

    /// Bloom filters and plain encoding go to the columns named that the schema has; the
    /// run is named in every file.
    #[test]
    fn writer_properties_follow_the_options_and_the_schema() {
        let schema =
            Schema::new(vec![Field::new("srcaddr", DataType::Utf8, true), Field::new("bytes", DataType::Int64, true)]);
        let p = ParquetOptions::default().writer_properties(&schema, "run-1");
        let col = |c: &str| ColumnPath::from(c);
        assert!(p.bloom_filter_properties(&col("srcaddr")).is_some());
        assert!(p.bloom_filter_properties(&col("dstaddr")).is_none(), "not in the schema");
        assert!(!p.dictionary_enabled(&col("bytes")) && p.dictionary_enabled(&col("srcaddr")));
        assert_eq!(p.data_page_row_count_limit(), 8192);
        assert_eq!(p.compression(&col("srcaddr")), PqCompression::ZSTD(ZstdLevel::try_new(1).unwrap()));
        let kv = p.key_value_metadata().unwrap();
        assert_eq!((kv[0].key.as_str(), kv[0].value.as_deref()), ("flowlake.run", Some("run-1")));
    }
}
