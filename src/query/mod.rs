//! Questions about traffic, answered on the Parquet `convert` wrote, with
//! Apache DataFusion as the engine.
//!
//! [`Lake::open`] registers the whole Hive-partitioned output as the table
//! `flows` (partition columns included, so `WHERE date >= …` prunes folders),
//! with Parquet predicate pushdown, statistics, page indexes and bloom filters
//! on, and the address functions of [`udf`] registered. [`Question`] turns the
//! classic flow-log questions (`find`, `sources`, `private-cidrs`, `top`) into
//! SQL over that table; [`Lake::run`] streams any SQL's answer to a
//! [`ResultSink`] ([`output`] has table, CSV, JSON and Parquet ones).

mod enriched;
mod objstore;
pub mod output;
mod questions;
pub mod udf;

use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTableUrl};
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;

pub use questions::{
    Direction, Filter, FindQuery, Metric, PrivateCidrsQuery, Question, SourcesQuery, TopGroup, TopQuery, WhoKey,
    ip_target,
};

use crate::error::{Error, Result};
use crate::partition::Layout;
use crate::storage::{Location, StorageOptions, storage_for};

/// The table name queries use.
pub const TABLE: &str = "flows";

/// Where a query's rows go, batch by batch.
pub trait ResultSink {
    /// Called once, before any batch, with the answer's columns.
    fn begin(&mut self, schema: &SchemaRef) -> Result<()>;
    /// Called for every batch of rows.
    fn batch(&mut self, batch: &RecordBatch) -> Result<()>;
    /// Called once after the last batch.
    fn finish(&mut self) -> Result<()>;
}

/// How to open a lake.
#[derive(Clone, Debug, Default)]
pub struct QueryOptions {
    /// Threads for scanning and aggregating (0: one per core).
    pub threads: usize,
    /// How to reach S3 for `s3://` lakes.
    pub storage: StorageOptions,
    /// Lookup tables (`--enrich`): `flows` gets the enrichment columns they add that the
    /// table's files lack, computed as rows are read.
    pub enrich: Option<Arc<crate::enrich::Tables>>,
}

/// What a finished query did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryStats {
    /// Rows in the answer.
    pub rows: u64,
    /// Wall time from planning to the last row.
    pub elapsed: Duration,
}

/// With `--enrich`: the table's files, under `flows`' view of them.
const FILES: &str = "_flowlake_files";

/// `flows` as a view over the files with the enrichment columns `tables` add that the
/// files lack ([`enriched`]).
async fn enriched_view(ctx: &SessionContext, tables: &Arc<crate::enrich::Tables>) -> Result<()> {
    let files = ctx.table(FILES).await.map_err(|e| df_error("flows", e))?;
    let names: Vec<String> = files.schema().fields().iter().map(|f| f.name().clone()).collect();
    let mut extra = String::new();
    for (name, sql, udf) in enriched::columns(tables, &names) {
        ctx.register_udf(udf);
        extra.push_str(&format!(", {sql} AS \"{name}\""));
    }
    ctx.sql(&format!("CREATE VIEW {TABLE} AS SELECT *{extra} FROM {FILES}")).await.map_err(|e| df_error("flows", e))?;
    Ok(())
}

/// The columns of the table's files, as flowlake reads them: the union over every file
/// (`table::read_table_info`), each in the Arrow type flowlake writes it in, so that files
/// of one column in two Arrow types (enrichment columns written as plain strings before
/// they were dictionary-encoded) are read as one column.
fn file_schema(storage: &dyn crate::storage::Storage, root: &Location) -> Result<SchemaRef> {
    let info = crate::table::read_table_info(storage, root)?;
    let fields: Vec<Field> = info
        .columns
        .iter()
        .map(|(name, ty)| Field::new(name, crate::schema::column_id(name).arrow_type(*ty), true))
        .collect();
    Ok(Arc::new(Schema::new(fields)))
}

/// A converted output opened for queries: the table `flows` over every partition.
pub struct Lake {
    ctx: SessionContext,
    rt: tokio::runtime::Runtime,
    layout: Layout,
    columns: Vec<String>,
}

impl Lake {
    /// Opens the output under `root` (a local folder or `s3://bucket/prefix`).
    pub fn open(root: &Location, opts: &QueryOptions) -> Result<Lake> {
        let storage = storage_for(root, &opts.storage)?;
        let layout = detect_layout(storage.as_ref(), root)?;
        let threads = if opts.threads == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            opts.threads
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .map_err(|e| Error::Failed(format!("cannot start the query runtime: {e}")))?;

        let mut config = SessionConfig::new().with_target_partitions(threads).with_information_schema(true);
        {
            let o = config.options_mut();
            // Late materialisation: evaluate filters while decoding, skip pages and rows that fail them.
            o.execution.parquet.pushdown_filters = true;
            o.execution.parquet.reorder_filters = true;
            o.execution.parquet.enable_page_index = true;
            o.execution.parquet.bloom_filter_on_read = true;
            o.execution.parquet.pruning = true;
        }
        let ctx = SessionContext::new_with_config(config);
        for f in udf::all() {
            ctx.register_udf(f);
        }

        // Every read goes through `storage`: the S3 client convert uses, and on disk a listing
        // that does not follow symbolic links out of the table.
        let root = storage.canonical(root)?;
        let store = objstore::StorageObjectStore::new(storage.clone(), root.clone());
        let base = url_parse(&root.store_url())?;
        ctx.register_object_store(&base, Arc::new(store));
        let key = root.store_key();
        let url = match key.trim_matches('/') {
            "" => format!("{}/", root.store_url()),
            key => format!("{}/{key}/", root.store_url()),
        };
        let table_url = ListingTableUrl::parse(&url).map_err(|e| Error::Failed(format!("{root}: {e}")))?;
        let partition_cols: Vec<(String, DataType)> =
            layout.columns().iter().map(|c| (c.name.to_string(), DataType::Utf8)).collect();
        let listing = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(partition_cols);
        let schema = file_schema(storage.as_ref(), &root)?;
        let columns = rt.block_on(async {
            let files = if opts.enrich.is_some() { FILES } else { TABLE };
            ctx.register_listing_table(files, table_url.as_str(), listing, Some(schema), None)
                .await
                .map_err(|e| df_error(&format!("cannot read the table under {root}"), e))?;
            if let Some(tables) = &opts.enrich {
                enriched_view(&ctx, tables).await?;
            }
            let t = ctx.table(TABLE).await.map_err(|e| df_error("flows", e))?;
            Ok::<_, Error>(t.schema().fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>())
        })?;
        Ok(Lake { ctx, rt, layout, columns })
    }

    /// The partition layout of the lake's folders.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Columns of `flows`: the files' columns, then the partition columns.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The SQL a question runs on this lake (errors name a column the question needs and the table lacks).
    pub fn sql_for(&self, q: &Question) -> Result<String> {
        q.sql(self.layout, &self.columns)
    }

    /// Evaluates filters while decoding Parquet (late materialisation) or after it. It pays for
    /// selective filters (one address) and costs for filters most rows pass (outside a block):
    /// the filter columns are then decoded twice. On by default.
    pub fn set_filter_pushdown(&self, on: bool) -> Result<()> {
        self.rt.block_on(async {
            self.ctx
                .sql(&format!("SET datafusion.execution.parquet.pushdown_filters = {on}"))
                .await
                .map_err(|e| df_error("settings", e))?;
            Ok(())
        })
    }

    /// Runs `sql` and streams its answer into `sink`. Only one statement that reads is
    /// taken (see [`read_only`]): a query never writes, changes settings or reads a file
    /// outside the table.
    pub fn run(&self, sql: &str, sink: &mut dyn ResultSink) -> Result<QueryStats> {
        let started = Instant::now();
        read_only(sql)?;
        // The engine refuses the same again, planned: no DDL, no DML or COPY, no SET.
        let options = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
        self.rt.block_on(async {
            let df = self.ctx.sql_with_options(sql, options).await.map_err(|e| df_error("query", e))?;
            let mut stream = df.execute_stream().await.map_err(|e| df_error("query", e))?;
            sink.begin(&stream.schema())?;
            let mut rows = 0u64;
            while let Some(batch) = stream.next().await {
                let batch = batch.map_err(|e| df_error("query", e))?;
                rows += batch.num_rows() as u64;
                sink.batch(&batch)?;
            }
            sink.finish()?;
            Ok(QueryStats { rows, elapsed: started.elapsed() })
        })
    }

    /// Runs `sql` and returns every row (for tests and small answers).
    pub fn collect(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let mut sink = output::Collect::default();
        self.run(sql, &mut sink)?;
        Ok(sink.batches)
    }
}

/// Checks that `sql` is one statement that only reads: a query (`SELECT`, `WITH`, `VALUES`),
/// or `EXPLAIN`, `SHOW` or `DESCRIBE` of one. Anything that writes or changes something
/// (`COPY`, `INSERT`, `CREATE`, `DROP`, `SET`, …) is a usage error naming the statement.
pub fn read_only(sql: &str) -> Result<()> {
    use datafusion::sql::parser::{DFParser, Statement as DF};
    use datafusion::sql::sqlparser::ast::Statement as Sql;
    fn reads(s: &DF) -> std::result::Result<(), String> {
        let first_word = |t: String| t.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        match s {
            DF::Explain(e) => reads(&e.statement),
            DF::Statement(s) => match s.as_ref() {
                Sql::Query(_) | Sql::ShowTables { .. } | Sql::ShowColumns { .. } | Sql::ExplainTable { .. } => Ok(()),
                Sql::Explain { statement, .. } => reads(&DF::Statement(statement.clone())),
                other => Err(first_word(other.to_string())),
            },
            other => Err(first_word(other.to_string())),
        }
    }
    let statements = DFParser::parse_sql(sql).map_err(|e| df_error("query", e))?;
    match statements.len() {
        0 => return Err(Error::Usage("query: the SQL holds no statement".into())),
        1 => {}
        n => return Err(Error::Usage(format!("query: give one statement, not {n}"))),
    }
    reads(&statements[0]).map_err(|word| {
        Error::Usage(format!(
            "query: `{word}` is refused: flowlake only reads the table (SELECT, WITH, EXPLAIN, SHOW, DESCRIBE); \
             nothing is written, created or changed"
        ))
    })
}

#[cfg(feature = "s3")]
fn url_parse(s: &str) -> Result<url::Url> {
    url::Url::parse(s).map_err(|e| Error::Usage(format!("`{s}`: {e}")))
}

/// One readable sentence from a DataFusion error (its innermost message, without backtraces).
/// Mistakes in the SQL (syntax, unknown column or function) are usage errors.
fn df_error(what: &str, e: datafusion::error::DataFusionError) -> Error {
    use datafusion::error::DataFusionError as D;
    let root = e.find_root();
    let usage = matches!(root, D::SQL(..) | D::Plan(..) | D::SchemaError(..));
    let msg = root.to_string();
    let msg = msg
        .trim_start_matches("Error during planning: ")
        .trim_start_matches("Execution error: ")
        .trim_start_matches("SQL error: ")
        .to_string();
    if usage { Error::Usage(format!("{what}: {msg}")) } else { Error::Failed(format!("{what}: {msg}")) }
}

/// Finds the layout from the first partition folder that holds Parquet files.
fn detect_layout(storage: &dyn crate::storage::Storage, root: &Location) -> Result<Layout> {
    let root_key = root.key_path();
    let root_key = root_key.trim_end_matches('/');
    // Depth first through the partition folders, in name order, to the first that holds a
    // Parquet file: an empty partition folder (its files compacted away or deleted) is passed
    // by. Bounded, so a tree of empty folders costs a few listings, not one per folder.
    let mut stack = vec![(root.clone(), 0usize)];
    let mut listings = 0;
    while let Some((dir, depth)) = stack.pop() {
        listings += 1;
        if listings > DETECT_LISTINGS {
            break;
        }
        let (objects, dirs) = storage.list_dir(&dir)?;
        if objects.iter().any(|o| o.location.key_path().ends_with(".parquet")) && dir != *root {
            let key = dir.key_path();
            let rel = key.trim_end_matches('/').strip_prefix(root_key).unwrap_or(&key).trim_start_matches('/');
            return Layout::detect(rel).ok_or_else(|| {
                Error::Damaged(format!(
                    "{dir}: `{rel}` is not a partition folder flowlake writes (date=…, date=…/hour=…, aws-account-id=…/…)"
                ))
            });
        }
        if depth == 8 {
            continue;
        }
        let mut next: Vec<Location> = dirs
            .into_iter()
            .filter(|d| {
                let n = d.file_name();
                !n.starts_with('_') && !n.starts_with('.') && n.contains('=')
            })
            .collect();
        next.sort();
        stack.extend(next.into_iter().rev().map(|d| (d, depth + 1)));
    }
    Err(Error::NotFound(format!(
        "no converted Parquet files under {root}: run `flowlake convert … --out {root}` first"
    )))
}

/// At most this many folder listings to find the table's layout (see `detect_layout`).
const DETECT_LISTINGS: usize = 256;
