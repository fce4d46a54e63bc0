//! Shared by the benchmarks: generated flow-log text held in memory.

use std::io::Read;

use flowlake::generate::{self, GenerateOptions};

/// The decompressed text of `records` generated records of a format preset, one day,
/// one file (header line first).
pub fn sample(format: &str, records: u64) -> Vec<u8> {
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
                flate2::read::MultiGzDecoder::new(f).read_to_end(&mut text).expect("gunzip");
            }
        }
    }
    text
}
