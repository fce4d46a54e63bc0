//! criterion micro-benchmarks of the conversion's hot loops, on 65,536 generated
//! records held in memory: line splitting, field parsing, Arrow array building
//! (string fields as per-batch dictionaries), and one row group's Parquet encoding
//! by arrow-rs's `ArrowWriter` (zstd level 1, dictionaries, page statistics, bloom
//! filters on the addresses). `convert` writes its string columns with its own chunk
//! writer (`sink::dict_column`), which `scripts/bench.sh` measures whole.
//!
//! `cargo bench --bench hot`. Whole-tool comparisons live in `scripts/bench.sh`.

mod support;

use std::hint::black_box;

use arrow_array::RecordBatch;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flowlake::format::Format;
use flowlake::parse::{BatchBuilder, ColumnPlan, Line, LineSplitter, RecordParser};
use flowlake::schema::TableColumns;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

const ROWS: u64 = 65_536;

/// Splits, parses and builds every record of `body` into one batch.
fn build(body: &[u8], plan: &ColumnPlan, table: &TableColumns, schema: &arrow_schema::SchemaRef) -> RecordBatch {
    let mut parser = RecordParser::new();
    let mut builder = BatchBuilder::new(table, schema.clone(), ROWS as usize);
    let mut reader = body;
    LineSplitter::new()
        .split(&mut reader, |_, _, line| {
            if let Line::Text(l) = line
                && parser.parse(plan, l).is_ok()
            {
                builder.append(plan, &parser, l);
            }
            true
        })
        .expect("in memory");
    builder.finish()
}

fn hot_loops(c: &mut Criterion) {
    for preset in ["default", "all"] {
        let text = support::sample(preset, ROWS);
        let header_end = text.iter().position(|&b| b == b'\n').expect("header");
        let body = &text[header_end + 1..];
        let fmt = Format::from_header(&text[..header_end]).expect("header parses");
        let table = TableColumns::from_columns(fmt.fields().iter().cloned());
        let plan = ColumnPlan::new(&fmt, &table);
        let schema = table.arrow_schema();

        let mut g = c.benchmark_group(format!("{preset}-format"));
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.sample_size(20);

        g.bench_function("split lines", |b| {
            b.iter(|| {
                let mut n = 0u64;
                let mut reader = body;
                LineSplitter::new()
                    .split(&mut reader, |_, _, line| {
                        if let Line::Text(l) = line {
                            n += l.len() as u64;
                        }
                        true
                    })
                    .expect("in memory");
                black_box(n)
            })
        });

        g.bench_function("split and parse fields", |b| {
            let mut parser = RecordParser::new();
            b.iter(|| {
                let mut ok = 0u64;
                let mut reader = body;
                LineSplitter::new()
                    .split(&mut reader, |_, _, line| {
                        if let Line::Text(l) = line
                            && parser.parse(&plan, l).is_ok()
                        {
                            ok += 1;
                        }
                        true
                    })
                    .expect("in memory");
                assert_eq!(ok, ROWS);
            })
        });

        g.bench_function("split, parse and build arrays", |b| {
            b.iter(|| black_box(build(body, &plan, &table, &schema)))
        });

        // One row group: the batch built above, encoded and compressed as `convert` does.
        let batch = build(body, &plan, &table, &schema);
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level")))
            .set_dictionary_enabled(true)
            .set_statistics_enabled(EnabledStatistics::Page);
        for c in ["srcaddr", "dstaddr"] {
            props = props
                .set_column_bloom_filter_enabled(ColumnPath::from(c), true)
                .set_column_bloom_filter_fpp(ColumnPath::from(c), 0.01);
        }
        let props = props.build();
        g.bench_function("encode one row group", |b| {
            b.iter(|| {
                let mut w = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props.clone())).expect("writer");
                w.write(&batch).expect("write");
                black_box(w.into_inner().expect("close").len())
            })
        });
        g.finish();
    }
}

criterion_group!(benches, hot_loops);
criterion_main!(benches);
