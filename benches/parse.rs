//! Throughput of the hot loop: splitting and validating lines and building
//! Arrow arrays, on generated records held in memory (no I/O, no compression).
//!
//! Run with `cargo bench --bench parse`. The comparison with other tools is
//! `scripts/bench.sh`; this isolates the parser.

use std::hint::black_box;
use std::time::Instant;

use flowlake::format::Format;
use flowlake::generate::{self, GenerateOptions};
use flowlake::parse::{BatchBuilder, ColumnPlan, Line, LineSplitter, RecordParser};
use flowlake::schema::TableColumns;

fn sample(format: &str, records: u64) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut o = GenerateOptions::new(dir.path(), records, 1);
    o.format = generate::format_preset(format).expect("preset");
    o.files_per_day = 1;
    generate::generate(&o).expect("generate");
    let mut text = Vec::new();
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".log.gz") {
                let f = std::fs::File::open(&p).expect("open");
                std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(f), &mut text).expect("gunzip");
            }
        }
    }
    text
}

fn bench(name: &str, format: &str) {
    let text = sample(format, 500_000);
    let header_end = text.iter().position(|&b| b == b'\n').expect("header");
    let fmt = Format::from_header(&text[..header_end]).expect("header parses");
    let table = TableColumns::from_columns(fmt.fields().iter().cloned());
    let plan = ColumnPlan::new(&fmt, &table);
    let schema = table.arrow_schema();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let mut parser = RecordParser::new();
        let mut builder = BatchBuilder::new(&table, schema.clone(), 65_536);
        let mut rows = 0u64;
        let mut reader = &text[header_end + 1..];
        LineSplitter::new()
            .split(&mut reader, |_, line| {
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
        assert_eq!(rows, 500_000);
    }
    let mb = text.len() as f64 / 1e6;
    println!(
        "{name:<12} 500000 records, {mb:.1} MB text: best {:.1} ms = {:.1} M records/s, {:.0} MB/s",
        best * 1e3,
        0.5 / best,
        mb / best
    );
}

fn main() {
    bench("default-v2", "default");
    bench("all-v8", "all");
}
