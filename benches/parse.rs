//! Throughput of the hot loop: splitting and validating lines and building
//! Arrow arrays, on generated records held in memory (no I/O, no compression).
//!
//! Run with `cargo bench --bench parse`. The comparison with other tools is
//! `scripts/bench.sh`; this isolates the parser.

mod support;

use std::hint::black_box;
use std::time::Instant;

use flowlake::format::Format;
use flowlake::parse::{BatchBuilder, ColumnPlan, Line, LineSplitter, RecordParser};
use flowlake::schema::TableColumns;

/// `PARSE_BENCH_RECORDS` (default 500,000) and `PARSE_BENCH_ROUNDS` (default 5) make the
/// run smaller, for counting instructions with `valgrind --tool=callgrind
/// --toggle-collect='*RecordParser*parse*'`, which are repeatable where times are not.
fn knob(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn bench(name: &str, format: &str) {
    let records = knob("PARSE_BENCH_RECORDS", 500_000);
    let text = support::sample(format, records as u64);
    let header_end = text.iter().position(|&b| b == b'\n').expect("header");
    let fmt = Format::from_header(&text[..header_end]).expect("header parses");
    let table = TableColumns::from_columns(fmt.fields().iter().cloned());
    let plan = ColumnPlan::new(&fmt, &table);
    let schema = table.arrow_schema();
    let mut best = f64::MAX;
    for _ in 0..knob("PARSE_BENCH_ROUNDS", 5) {
        let t = Instant::now();
        let mut parser = RecordParser::new();
        let mut builder = BatchBuilder::new(&table, schema.clone(), 65_536);
        let mut rows = 0u64;
        let mut reader = &text[header_end + 1..];
        LineSplitter::new()
            .split(&mut reader, |_, _, line| {
                if let Line::Text(l) = line
                    && parser.parse(&plan, l).is_ok()
                {
                    builder.append(&plan, &parser, l);
                    rows += 1;
                    if builder.len() == 65_536 {
                        black_box(builder.finish());
                    }
                }
                true
            })
            .expect("in-memory read");
        black_box(builder.finish());
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(rows, records as u64);
    }
    let mb = text.len() as f64 / 1e6;
    println!(
        "{name:<12} {records} records, {mb:.1} MB text: best {:.1} ms = {:.1} M records/s, {:.0} MB/s",
        best * 1e3,
        records as f64 / 1e6 / best,
        mb / best
    );
}

fn main() {
    bench("default-v2", "default");
    bench("all-v8", "all");
}
