//! Lines → Arrow arrays, in two layers (as in arrow-csv):
//!
//! - [`LineSplitter`] turns a byte stream into numbered lines without copying
//!   them, and enforces the line-length limit.
//! - [`RecordParser`] splits one line into fields at single spaces and
//!   validates every value against a [`ColumnPlan`] (the file's format bound to
//!   the output table) without allocating; [`BatchBuilder`] then appends the
//!   validated values to typed Arrow builders. A line is checked completely
//!   before anything is appended, so a rejected line leaves no trace in a batch.

use std::io::{self, Read};
use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, Int32Builder, Int64Builder};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::SchemaRef;

use crate::format::{Format, trim_line_end};
use crate::schema::{Check, ColumnId, FieldType, TableColumns};

/// The longest line accepted; longer lines are rejected (no flow-log record comes near it).
pub const MAX_LINE: usize = 64 * 1024;

/// Largest accepted `start`/`end`: 9999-12-31T23:59:59Z.
const MAX_UNIX_SECONDS: i64 = 253_402_300_799;

/// How one file's fields map onto the output table.
#[derive(Clone, Debug)]
pub struct ColumnPlan {
    slots: Vec<Slot>,
    /// Table columns this format does not have: null in its rows.
    missing: Vec<usize>,
}

#[derive(Clone, Debug)]
struct Slot {
    column: usize,
    ty: FieldType,
    check: Check,
    is_start: bool,
    is_end: bool,
    name: Arc<str>,
}

impl ColumnPlan {
    /// Binds a format to a table. Every field of `format` must be a column of `table`.
    pub fn new(format: &Format, table: &TableColumns) -> ColumnPlan {
        let known = |name| ColumnId::Known(crate::schema::lookup(name).expect("start and end are in the catalog"));
        let (start, end) = (known("start"), known("end"));
        let slots: Vec<Slot> = format
            .fields()
            .iter()
            .map(|id| Slot {
                column: table.position(id).expect("table is a superset of every format"),
                ty: id.ty(),
                check: id.check(),
                is_start: *id == start,
                is_end: *id == end,
                name: Arc::from(id.header_name()),
            })
            .collect();
        let present: Vec<usize> = slots.iter().map(|s| s.column).collect();
        let missing = (0..table.len()).filter(|c| !present.contains(c)).collect();
        ColumnPlan { slots, missing }
    }
}

/// Why a line was rejected: a stable kind (for counting) and the full text
/// written to the rejects file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    /// Short stable name, e.g. `field_count`, counted per kind in the run report.
    pub kind: &'static str,
    /// The sentence written to the rejects file.
    pub text: String,
    /// For a value outside a field's documented set ([`Check::Known`]): the field's header
    /// name and the value, which the run report lists (AWS may have added the value).
    pub unknown: Option<(String, String)>,
}

impl Reason {
    /// A reason of `kind` with `text`.
    pub fn new(kind: &'static str, text: impl Into<String>) -> Reason {
        Reason { kind, text: text.into(), unknown: None }
    }
}

/// Whether `tok` is an IPv4 address in dotted-quad form without leading zeros
/// (the only way AWS writes one, and the text `find --ip` matches).
#[inline]
fn is_ipv4(tok: &[u8]) -> bool {
    let (mut dots, mut val, mut digits) = (0u32, 0u32, 0u32);
    for &b in tok {
        if b == b'.' {
            if digits == 0 || dots == 3 {
                return false;
            }
            dots += 1;
            (val, digits) = (0, 0);
        } else {
            let d = b.wrapping_sub(b'0');
            if d > 9 || (digits > 0 && val == 0) {
                return false;
            }
            val = val * 10 + u32::from(d);
            digits += 1;
            if val > 255 {
                return false;
            }
        }
    }
    dots == 3 && digits > 0
}

/// An IPv4 or IPv6 address.
#[inline]
fn is_address(tok: &[u8]) -> bool {
    if tok.contains(&b':') {
        std::str::from_utf8(tok).is_ok_and(|t| t.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        is_ipv4(tok)
    }
}

fn invalid_value(slot: &Slot, tok: &[u8], why: std::fmt::Arguments<'_>) -> Reason {
    Reason::new(
        "invalid_value",
        format!("invalid value in field `{}`: `{}` {why}", slot.name, String::from_utf8_lossy(tok)),
    )
}

fn unknown_value(slot: &Slot, tok: &[u8], documented: &str) -> Reason {
    let value = String::from_utf8_lossy(tok).into_owned();
    Reason {
        kind: "unknown_value",
        text: format!(
            "unknown value in field `{}`: `{value}` (AWS documents {documented}; if AWS has added it, \
             it belongs in flowlake's field catalog)",
            slot.name
        ),
        unknown: Some((slot.name.to_string(), value)),
    }
}

/// Checks a string field's value against its [`Check`].
#[inline]
fn check_text(slot: &Slot, tok: &[u8]) -> Result<(), Reason> {
    match slot.check {
        Check::Any | Check::Range(..) | Check::KnownRange(..) => Ok(()),
        Check::Address if is_address(tok) => Ok(()),
        Check::Address => Err(invalid_value(slot, tok, format_args!("is not an IPv4 or IPv6 address"))),
        Check::OneOf(set) if set.iter().any(|v| v.as_bytes() == tok) => Ok(()),
        Check::OneOf(set) => Err(invalid_value(slot, tok, format_args!("is not {}", set.join(" or ")))),
        Check::Known(set) if set.iter().any(|v| v.as_bytes() == tok) => Ok(()),
        Check::Known(set) => Err(unknown_value(slot, tok, &set.join(", "))),
    }
}

/// Checks a number field's value against its [`Check`].
#[inline]
fn check_number(slot: &Slot, v: i64, tok: &[u8]) -> Result<(), Reason> {
    match slot.check {
        Check::Range(lo, hi) if !(lo..=hi).contains(&v) => {
            Err(invalid_value(slot, tok, format_args!("is not between {lo} and {hi}")))
        }
        Check::KnownRange(lo, hi) if !(lo..=hi).contains(&v) => Err(unknown_value(slot, tok, &format!("{lo} to {hi}"))),
        _ => Ok(()),
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A validated line, ready to append: its `start` (if the format has one and it is not `-`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The record's `start`, Unix seconds.
    pub start: Option<i64>,
}

/// Splits and validates lines; holds reusable scratch space so the hot path
/// does not allocate.
#[derive(Debug, Default)]
pub struct RecordParser {
    /// Start offset of each field in the current line, plus one past the end.
    bounds: Vec<usize>,
    /// Parsed value of each numeric field (None for `-`).
    ints: Vec<Option<i64>>,
}

impl RecordParser {
    /// A parser with empty scratch space.
    pub fn new() -> RecordParser {
        RecordParser::default()
    }

    /// Checks one record line against `plan`. On success the line's fields
    /// are held in `self` for [`BatchBuilder::append`]; on failure the reason
    /// is returned, worded for the rejects file.
    pub fn parse(&mut self, plan: &ColumnPlan, line: &[u8]) -> Result<Parsed, Reason> {
        let line = trim_line_end(line);
        if line.is_empty() {
            return Err(Reason::new("empty_line", "empty line"));
        }
        if line.len() > MAX_LINE {
            return Err(Reason::new("line_too_long", format!("line longer than {MAX_LINE} bytes")));
        }
        self.bounds.clear();
        self.bounds.push(0);
        let (ascii, control) = split_fields(line, &mut self.bounds);
        if control {
            let (at, b) = line.iter().enumerate().find(|(_, b)| **b < 0x20).expect("split_fields saw one");
            return Err(Reason::new(
                "control_character",
                format!("control character 0x{b:02x} at byte {} of the line", at + 1),
            ));
        }
        if !ascii && std::str::from_utf8(line).is_err() {
            return Err(Reason::new("invalid_utf8", "invalid UTF-8"));
        }
        self.bounds.push(line.len() + 1);
        let found = self.bounds.len() - 1;
        if found != plan.slots.len() {
            return Err(Reason::new(
                "field_count",
                format!("wrong field count: expected {} fields, found {found}", plan.slots.len()),
            ));
        }
        self.ints.clear();
        let (mut start, mut end) = (None, None);
        for (i, slot) in plan.slots.iter().enumerate() {
            let tok = &line[self.bounds[i]..self.bounds[i + 1] - 1];
            if tok.is_empty() {
                return Err(Reason::new(
                    "empty_value",
                    format!("empty value in field `{}` (two spaces in a row?)", slot.name),
                ));
            }
            let is_null = is_dash(tok);
            match slot.ty {
                FieldType::String => {
                    if !is_null {
                        check_text(slot, tok)?;
                    }
                }
                FieldType::Int32 | FieldType::Int64 => {
                    let v = if is_null {
                        None
                    } else {
                        let v = parse_int(tok).ok_or_else(|| {
                            Reason::new(
                                "invalid_number",
                                format!("invalid number in field `{}`: `{}`", slot.name, String::from_utf8_lossy(tok)),
                            )
                        })?;
                        if slot.ty == FieldType::Int32 && i32::try_from(v).is_err() {
                            return Err(Reason::new(
                                "out_of_range",
                                format!(
                                    "number out of range for int32 field `{}`: `{}`",
                                    slot.name,
                                    String::from_utf8_lossy(tok)
                                ),
                            ));
                        }
                        Some(v)
                    };
                    if slot.is_start {
                        if let Some(s) = v
                            && !(0..=MAX_UNIX_SECONDS).contains(&s)
                        {
                            return Err(Reason::new(
                                "bad_start",
                                format!("start `{s}` is not a Unix time in seconds between 1970 and 9999"),
                            ));
                        }
                        start = v;
                    }
                    if let Some(v) = v {
                        check_number(slot, v, tok)?;
                    }
                    if slot.is_end {
                        end = v.map(|v| (v, tok));
                    }
                    self.ints.push(v);
                }
            }
        }
        if let (Some(s), Some((e, tok))) = (start, end)
            && e < s
        {
            // AWS: `start` is when the window's first packet was received, `end` its last.
            let slot = plan.slots.iter().find(|s| s.is_end).expect("end was parsed");
            return Err(invalid_value(slot, tok, format_args!("is before the record's start `{s}`")));
        }
        Ok(Parsed { start })
    }
}

/// Pushes the offset just past each space in `line` onto `bounds` and tells whether the
/// line is ASCII and whether it holds a control character (a byte below 0x20: NUL, tab,
/// a stray `\r`), in one pass of eight bytes at a time (fields are short and spaces
/// frequent, where a search for each space costs more than looking at every byte).
fn split_fields(line: &[u8], bounds: &mut Vec<usize>) -> (bool, bool) {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const SPACES: u64 = 0x2020_2020_2020_2020;
    const TOP3: u64 = 0xe0e0_e0e0_e0e0_e0e0;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let (mut high, mut control) = (0u64, 0u64);
    let chunks = line.chunks_exact(8);
    let tail = chunks.remainder();
    for (k, c) in chunks.enumerate() {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        high |= w;
        // A byte below 0x20 has its top three bits clear: any zero byte of `w & TOP3`.
        let t = w & TOP3;
        control |= t.wrapping_sub(ONES) & !t & HIGHS;
        let x = w ^ SPACES;
        // The top bit of each byte of `x` that is zero (a space in `w`), exactly: no carry
        // crosses a byte because (x & 0x7f) + 0x7f <= 0xfe.
        let mut m = !((x & LOW7).wrapping_add(LOW7) | x | LOW7);
        while m != 0 {
            bounds.push(k * 8 + (m.trailing_zeros() / 8) as usize + 1);
            m &= m - 1;
        }
    }
    let base = line.len() - tail.len();
    let mut tail_control = false;
    for (j, &b) in tail.iter().enumerate() {
        high |= u64::from(b);
        tail_control |= b < 0x20;
        if b == b' ' {
            bounds.push(base + j + 1);
        }
    }
    (high & !LOW7 == 0, control != 0 || tail_control)
}

/// Parses an optionally signed decimal integer; `None` if it is not one or
/// does not fit in an i64.
#[inline]
pub fn parse_int(tok: &[u8]) -> Option<i64> {
    let (neg, digits) = match tok.first() {
        Some(b'-') => (true, &tok[1..]),
        _ => (false, tok),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut acc: u64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        acc = acc * 10 + u64::from(d);
    }
    if neg {
        if acc > i64::MAX as u64 + 1 { None } else { Some((acc as i64).wrapping_neg()) }
    } else {
        i64::try_from(acc).ok()
    }
}

enum ColumnBuilder {
    I32(Int32Builder),
    I64(Int64Builder),
    /// String columns collect bytes; the whole column is checked as UTF-8 once,
    /// in `finish`, rather than token by token.
    Str(BinaryBuilder),
}

/// `-`: no value.
#[inline]
fn is_dash(tok: &[u8]) -> bool {
    tok.len() == 1 && tok[0] == b'-'
}

/// A batch is handed over once its lines hold this many bytes, whatever its row count:
/// no string column of a batch comes near Arrow's 2 GiB offset limit, however long the lines.
pub const MAX_BATCH_BYTES: usize = 64 << 20;

/// Typed Arrow builders for every column of the output table.
pub struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    rows: usize,
    /// Bytes of the lines appended since the last `finish`.
    bytes: usize,
}

impl BatchBuilder {
    /// Builders for `table`, sized for about `capacity` rows.
    pub fn new(table: &TableColumns, schema: SchemaRef, capacity: usize) -> BatchBuilder {
        let columns = table
            .columns()
            .iter()
            .map(|c| match c.ty() {
                FieldType::Int32 => ColumnBuilder::I32(Int32Builder::with_capacity(capacity)),
                FieldType::Int64 => ColumnBuilder::I64(Int64Builder::with_capacity(capacity)),
                FieldType::String => ColumnBuilder::Str(BinaryBuilder::with_capacity(capacity, capacity * 12)),
            })
            .collect();
        BatchBuilder { schema, columns, rows: 0, bytes: 0 }
    }

    /// Bytes of the lines appended since the last [`finish`](BatchBuilder::finish).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// True when the batch should be handed over: `rows` rows, or [`MAX_BATCH_BYTES`] of text.
    pub fn is_full(&self, rows: usize) -> bool {
        self.rows >= rows || self.bytes >= MAX_BATCH_BYTES
    }

    /// Rows appended since the last [`finish`](BatchBuilder::finish).
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no rows are buffered.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends the line that `parser` has just accepted.
    pub fn append(&mut self, plan: &ColumnPlan, parser: &RecordParser, line: &[u8]) {
        let line = trim_line_end(line);
        let mut ints = parser.ints.iter();
        for (i, slot) in plan.slots.iter().enumerate() {
            let builder = &mut self.columns[slot.column];
            match builder {
                ColumnBuilder::I32(b) => b.append_option(ints.next().copied().flatten().map(|v| v as i32)),
                ColumnBuilder::I64(b) => b.append_option(ints.next().copied().flatten()),
                ColumnBuilder::Str(b) => {
                    let tok = &line[parser.bounds[i]..parser.bounds[i + 1] - 1];
                    if is_dash(tok) {
                        b.append_null();
                    } else {
                        b.append_value(tok);
                    }
                }
            }
        }
        for &c in &plan.missing {
            match &mut self.columns[c] {
                ColumnBuilder::I32(b) => b.append_null(),
                ColumnBuilder::I64(b) => b.append_null(),
                ColumnBuilder::Str(b) => b.append_null(),
            }
        }
        self.rows += 1;
        self.bytes += line.len();
    }

    /// Takes the buffered rows as a batch (the builders start again empty).
    pub fn finish(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|c| -> ArrayRef {
                match c {
                    ColumnBuilder::I32(b) => Arc::new(b.finish()),
                    ColumnBuilder::I64(b) => Arc::new(b.finish()),
                    ColumnBuilder::Str(b) => {
                        let (offsets, values, nulls) = b.finish().into_parts();
                        // Lines are checked as UTF-8 before they are appended, and fields split at
                        // ASCII spaces, so this one pass over the column cannot fail.
                        Arc::new(StringArray::try_new(offsets, values, nulls).expect("fields are UTF-8"))
                    }
                }
            })
            .collect();
        self.rows = 0;
        self.bytes = 0;
        RecordBatch::try_new(self.schema.clone(), arrays).expect("builders match the schema")
    }
}

/// One line from a [`LineSplitter`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A complete line (without its `\n`).
    Text(&'a [u8]),
    /// A line over [`MAX_LINE`] bytes: its first `MAX_LINE` bytes. The rest is skipped.
    TooLong(&'a [u8]),
}

/// A read error in the middle of a stream, with the unterminated line that was cut off.
#[derive(Debug)]
pub struct StreamError {
    /// The error from the reader (for gzip input: the decompressor).
    pub error: io::Error,
    /// The line number the cut-off line would have had.
    pub line_no: u64,
    /// Its offset in the stream.
    pub offset: u64,
    /// The bytes of the cut-off line read before the error (may be empty).
    pub partial: Vec<u8>,
}

/// Splits a byte stream into numbered lines, reusing one buffer.
pub struct LineSplitter {
    buf: Vec<u8>,
}

impl Default for LineSplitter {
    fn default() -> Self {
        LineSplitter::new()
    }
}

const READ_CHUNK: usize = 256 * 1024;

/// A line's length without the `\r` of a CRLF ending (the limit is on content, whatever the ending).
fn content_len(line: &[u8]) -> usize {
    line.len() - usize::from(line.last() == Some(&b'\r'))
}

impl LineSplitter {
    /// A splitter with a fresh buffer.
    pub fn new() -> LineSplitter {
        LineSplitter { buf: Vec::with_capacity(READ_CHUNK + MAX_LINE) }
    }

    /// Calls `f(line_number, offset, line)` for every line of `reader` (numbers start
    /// at 1; the offset is that of the line's first byte in the stream). A final line without `\n` is still a line; a stream ending in
    /// `\n` has no empty last line. `f` returns `false` to stop early.
    /// Returns the number of lines seen.
    pub fn split<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        mut f: impl FnMut(u64, u64, Line<'_>) -> bool,
    ) -> Result<u64, StreamError> {
        let buf = &mut self.buf;
        buf.clear();
        buf.resize(READ_CHUNK + MAX_LINE, 0);
        let (mut pos, mut filled) = (0usize, 0usize);
        // Offset in the stream of `buf[0]`.
        let mut base = 0u64;
        let mut line_no: u64 = 1;
        let mut skipping = false;
        loop {
            while let Some(nl) = memchr::memchr(b'\n', &buf[pos..filled]) {
                if skipping {
                    skipping = false;
                } else {
                    let line = &buf[pos..pos + nl];
                    let ev =
                        if content_len(line) > MAX_LINE { Line::TooLong(&line[..MAX_LINE]) } else { Line::Text(line) };
                    if !f(line_no, base + pos as u64, ev) {
                        return Ok(line_no);
                    }
                    line_no += 1;
                }
                pos += nl + 1;
            }
            // (A line of MAX_LINE bytes may still be waiting for the `\n` after its `\r`.)
            if !skipping && filled - pos > MAX_LINE + 1 {
                if !f(line_no, base + pos as u64, Line::TooLong(&buf[pos..pos + MAX_LINE])) {
                    return Ok(line_no);
                }
                line_no += 1;
                skipping = true;
            }
            if skipping {
                pos = filled;
            }
            buf.copy_within(pos..filled, 0);
            filled -= pos;
            base += pos as u64;
            pos = 0;
            let n = loop {
                match reader.read(&mut buf[filled..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => {
                        let partial = if skipping { Vec::new() } else { buf[..filled].to_vec() };
                        return Err(StreamError { error, line_no, offset: base, partial });
                    }
                }
            };
            if n == 0 {
                if filled > 0 && !skipping {
                    let line = &buf[..filled];
                    let ev =
                        if content_len(line) > MAX_LINE { Line::TooLong(&line[..MAX_LINE]) } else { Line::Text(line) };
                    f(line_no, base, ev);
                    line_no += 1;
                }
                return Ok(line_no - 1);
            }
            filled += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, Int64Type};

    #[test]
    fn split_fields_finds_every_space_and_non_ascii_byte() {
        let mut x = 99u64;
        for len in 0..80 {
            for _ in 0..50 {
                let line: Vec<u8> = (0..len)
                    .map(|_| {
                        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                        [
                            b' ',
                            b'a',
                            b'0',
                            b'-',
                            0x20 ^ 0x80,
                            0xc3,
                            0x7f,
                            0x00,
                            0x0d,
                            0x1f,
                            0x21,
                            0x9f,
                            0xe0,
                            0x40,
                            0x60,
                            0x01,
                        ][(x >> 60) as usize]
                    })
                    .collect();
                let mut got = Vec::new();
                let (ascii, control) = split_fields(&line, &mut got);
                let want: Vec<usize> = memchr::memchr_iter(b' ', &line).map(|i| i + 1).collect();
                assert_eq!(got, want, "{line:?}");
                assert_eq!(ascii, line.is_ascii(), "{line:?}");
                assert_eq!(control, line.iter().any(|b| *b < 0x20), "{line:?}");
            }
        }
    }

    fn default_plan() -> (ColumnPlan, TableColumns) {
        let f = Format::aws_default();
        let t = TableColumns::from_columns(f.fields().iter().cloned());
        (ColumnPlan::new(&f, &t), t)
    }

    #[test]
    fn parse_int_edges() {
        assert_eq!(parse_int(b"0"), Some(0));
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int(b"9223372036854775808"), None);
        assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int(b"-"), None);
        assert_eq!(parse_int(b"12a"), None);
        assert_eq!(parse_int(b"+1"), None);
        assert_eq!(parse_int(b""), None);
    }

    #[test]
    fn rejects_with_exact_reasons() {
        let (plan, _) = default_plan();
        let mut p = RecordParser::new();
        let ok = "2 123456789010 eni-1 1.2.3.4 5.6.7.8 1 2 6 20 4249 1418530010 1418530070 ACCEPT OK";
        assert_eq!(p.parse(&plan, ok.as_bytes()), Ok(Parsed { start: Some(1_418_530_010) }));
        let cases = [
            ("", "empty line"),
            ("2 123 eni-1", "wrong field count: expected 14 fields, found 3"),
            (
                "2 123456789010 eni-1 1.2.3.4 5.6.7.8 1 2 6 20 42x9 1418530010 1418530070 ACCEPT OK",
                "invalid number in field `bytes`: `42x9`",
            ),
            (
                "2 123456789010 eni-1 1.2.3.4 5.6.7.8 4294967296 2 6 20 4249 1418530010 1418530070 ACCEPT OK",
                "number out of range for int32 field `srcport`: `4294967296`",
            ),
            (
                "2 123456789010 eni-1 1.2.3.4 5.6.7.8 1 2 6 20 4249 1418530010000 1418530070 ACCEPT OK",
                "start `1418530010000` is not a Unix time in seconds between 1970 and 9999",
            ),
            (
                "2 123456789010 eni-1  5.6.7.8 1 2 6 20 4249 1418530010 1418530070 ACCEPT OK",
                "empty value in field `srcaddr` (two spaces in a row?)",
            ),
        ];
        for (line, reason) in cases {
            assert_eq!(p.parse(&plan, line.as_bytes()).unwrap_err().text, reason, "{line}");
        }
        let bad_utf8 = b"2 123456789010 eni-\xff 1.2.3.4 5.6.7.8 1 2 6 20 4249 1418530010 1418530070 ACCEPT OK";
        assert_eq!(p.parse(&plan, bad_utf8).unwrap_err(), Reason::new("invalid_utf8", "invalid UTF-8"));
    }

    #[test]
    fn values_with_a_fixed_syntax_are_checked() {
        let (plan, _) = default_plan();
        let mut p = RecordParser::new();
        // version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
        let line = |src: &str, sport: &str, proto: &str, end: &str, action: &str, status: &str| {
            format!(
                "2 123456789010 eni-1 {src} 10.0.0.1 {sport} 443 {proto} 20 4249 1418530010 {end} {action} {status}"
            )
        };
        let ok = [
            line("172.31.16.139", "0", "6", "1418530070", "ACCEPT", "OK"),
            line("2001:db8::ff00:42:8329", "65535", "255", "1418530010", "REJECT", "OK"),
            line("255.255.255.255", "-", "0", "-", "-", "NODATA"),
            line("0.0.0.0", "1", "1", "1418530070", "ACCEPT", "SKIPDATA"),
        ];
        for l in &ok {
            assert!(p.parse(&plan, l.as_bytes()).is_ok(), "{l}: {:?}", p.parse(&plan, l.as_bytes()));
        }
        let bad = [
            (
                line("-0.192.40.13", "1", "6", "1418530070", "ACCEPT", "OK"),
                "invalid value in field `srcaddr`: `-0.192.40.13` is not an IPv4 or IPv6 address",
            ),
            (
                line("10.192.40.013", "1", "6", "1418530070", "ACCEPT", "OK"),
                "invalid value in field `srcaddr`: `10.192.40.013` is not an IPv4 or IPv6 address",
            ),
            (
                line("10.192.40", "1", "6", "1418530070", "ACCEPT", "OK"),
                "invalid value in field `srcaddr`: `10.192.40` is not an IPv4 or IPv6 address",
            ),
            (
                line("256.1.1.1", "1", "6", "1418530070", "ACCEPT", "OK"),
                "invalid value in field `srcaddr`: `256.1.1.1` is not an IPv4 or IPv6 address",
            ),
            (
                line("2001:db8:::1", "1", "6", "1418530070", "ACCEPT", "OK"),
                "invalid value in field `srcaddr`: `2001:db8:::1` is not an IPv4 or IPv6 address",
            ),
            (
                line("10.0.0.2", "99999", "6", "1418530070", "ACCEPT", "OK"),
                "invalid value in field `srcport`: `99999` is not between 0 and 65535",
            ),
            (
                line("10.0.0.2", "-1", "6", "1418530070", "ACCEPT", "OK"),
                "invalid value in field `srcport`: `-1` is not between 0 and 65535",
            ),
            (
                line("10.0.0.2", "1", "300", "1418530070", "ACCEPT", "OK"),
                "invalid value in field `protocol`: `300` is not between 0 and 255",
            ),
            (
                line("10.0.0.2", "1", "6", "1418530070", "446CCEPT", "OK"),
                "invalid value in field `action`: `446CCEPT` is not ACCEPT or REJECT",
            ),
            (
                line("10.0.0.2", "1", "6", "1418530070", "ACCEPT", "ok"),
                "invalid value in field `log-status`: `ok` is not OK or NODATA or SKIPDATA",
            ),
            (
                line("10.0.0.2", "1", "6", "1418530000", "ACCEPT", "OK"),
                "invalid value in field `end`: `1418530000` is before the record's start `1418530010`",
            ),
            (
                line("10.0.0.2", "1", "6", "-5", "ACCEPT", "OK"),
                "invalid value in field `end`: `-5` is not between 0 and 253402300799",
            ),
            (
                line("10.0.0.2", "1", "6", "1418530070", "ACCEPT", "OK\r\r"),
                "control character 0x0d at byte 87 of the line",
            ),
            (
                line("10.0.0.2", "1", "6", "1418530070", "ACC\0EPT", "OK"),
                "control character 0x00 at byte 81 of the line",
            ),
        ];
        for (l, why) in &bad {
            let r = p.parse(&plan, l.as_bytes()).unwrap_err();
            assert_eq!(r.text, *why, "{l}");
            assert_eq!(r.unknown, None);
        }
        // Closed sets that AWS has grown before: an unknown value is named, field and value.
        let f = Format::from_spec("version srcaddr type flow-direction traffic-path").unwrap();
        let t = TableColumns::from_columns(f.fields().iter().cloned());
        let plan = ColumnPlan::new(&f, &t);
        assert!(p.parse(&plan, b"5 10.0.0.1 EFA egress 8").is_ok());
        assert!(p.parse(&plan, b"5 10.0.0.1 IPv6 ingress -").is_ok());
        let r = p.parse(&plan, b"5 10.0.0.1 IPv7 egress 1").unwrap_err();
        assert_eq!(r.kind, "unknown_value");
        assert_eq!(r.unknown, Some(("type".to_string(), "IPv7".to_string())));
        assert!(
            r.text.starts_with("unknown value in field `type`: `IPv7` (AWS documents IPv4, IPv6, EFA;"),
            "{}",
            r.text
        );
        let r = p.parse(&plan, b"5 10.0.0.1 IPv4 egress 9").unwrap_err();
        assert_eq!(r.unknown, Some(("traffic-path".to_string(), "9".to_string())));
        assert!(r.text.starts_with("unknown value in field `traffic-path`: `9` (AWS documents 1 to 8;"), "{}", r.text);
    }

    #[test]
    fn builds_typed_columns_with_nulls() {
        let (plan, table) = default_plan();
        let mut p = RecordParser::new();
        let mut b = BatchBuilder::new(&table, table.arrow_schema(), 4);
        for line in [
            "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
            "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA\r",
        ] {
            p.parse(&plan, line.as_bytes()).unwrap();
            b.append(&plan, &p, line.as_bytes());
        }
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 2);
        let bytes = batch.column_by_name("bytes").unwrap().as_primitive::<Int64Type>();
        assert_eq!(bytes.value(0), 4249);
        assert!(bytes.is_null(1));
        let port = batch.column_by_name("dstport").unwrap().as_primitive::<Int32Type>();
        assert_eq!(port.value(0), 22);
        let status = batch.column_by_name("log_status").unwrap().as_string::<i32>();
        assert_eq!(status.value(1), "NODATA");
        assert!(batch.column_by_name("srcaddr").unwrap().is_null(1));
    }

    #[test]
    fn splitter_numbers_lines_and_limits_length() {
        let long = "x".repeat(MAX_LINE + 10);
        let input = format!("a\n\nb\n{long}\nc");
        for cap in [1usize, 3, 7, 100, 1 << 20] {
            let mut r = io::BufReader::with_capacity(cap, input.as_bytes());
            let mut seen = Vec::new();
            let n = LineSplitter::new()
                .split(&mut r, |no, at, l| {
                    seen.push(match l {
                        Line::Text(t) => (no, at, String::from_utf8_lossy(t).into_owned()),
                        Line::TooLong(t) => (no, at, format!("LONG{}", t.len())),
                    });
                    true
                })
                .unwrap();
            assert_eq!(n, 5);
            let want = [
                (1, 0, "a".to_string()),
                (2, 2, String::new()),
                (3, 3, "b".into()),
                (4, 5, format!("LONG{MAX_LINE}")),
                (5, 6 + long.len() as u64, "c".into()),
            ];
            assert_eq!(seen, want, "reader capacity {cap}");
        }
    }

    #[test]
    fn the_line_limit_is_on_content_whatever_the_line_ending() {
        let max = "x".repeat(MAX_LINE);
        for input in [format!("{max}\n{max}"), format!("{max}\r\n{max}\r"), format!("{max}\r\n{max}\r\n")] {
            for cap in [7usize, 1 << 20] {
                let mut r = io::BufReader::with_capacity(cap, input.as_bytes());
                let mut seen = Vec::new();
                LineSplitter::new()
                    .split(&mut r, |_, _, l| {
                        seen.push(matches!(l, Line::Text(t) if trim_line_end(t).len() == MAX_LINE));
                        true
                    })
                    .unwrap();
                assert_eq!(seen, [true, true], "{:?}", &input[MAX_LINE..MAX_LINE + 2]);
            }
        }
    }

    #[test]
    fn splitter_reports_partial_line_on_error() {
        struct Broken<'a>(&'a [u8]);
        impl Read for Broken<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut"));
                }
                let n = self.0.len().min(out.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut lines = 0;
        let err = LineSplitter::new().split(&mut Broken(b"one\ntwo\nthr"), |_, _, _| {
            lines += 1;
            true
        });
        let err = err.unwrap_err();
        assert_eq!(lines, 2);
        assert_eq!(err.line_no, 3);
        assert_eq!(err.partial, b"thr");
    }
}
